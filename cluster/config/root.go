package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

func (d *decoder) root(n *yaml.Node, cfg *Config) {
	d.mapping("", n, []keyField{
		{"node", func(p string, v *yaml.Node) { d.node(p, v, &cfg.Node) }},
		{"cluster", func(p string, v *yaml.Node) { d.cluster(p, v, &cfg.Cluster) }},
		{"admin", func(p string, v *yaml.Node) {
			d.mapping(p, v, []keyField{
				{"socket", func(p string, v *yaml.Node) { d.socket(p, v, &cfg.Admin.Socket) }},
				{"listen", func(p string, v *yaml.Node) { d.listenAddr(p, v, "127.0.0.1:7380", &cfg.Admin.Listen) }},
				{"token_file", func(p string, v *yaml.Node) { d.filePath(p, v, "/etc/raftvip/admin.token", &cfg.Admin.TokenFile) }},
			})
		}},
		{"metrics", func(p string, v *yaml.Node) {
			d.mapping(p, v, []keyField{
				{"listen", func(p string, v *yaml.Node) { d.listenAddr(p, v, "0.0.0.0:9469", &cfg.Metrics.Listen) }},
			})
		}},
		{"vip", func(p string, v *yaml.Node) { d.vip(p, v, &cfg.VIP) }},
		{"priority", func(p string, v *yaml.Node) {
			d.integer(p, v, 1, 254, "priority is 1 to 254 as in VRRP (0 and 255 have special meanings there); default 100", &cfg.Priority)
		}},
		{"preempt", func(p string, v *yaml.Node) { d.boolean(p, v, &cfg.Preempt) }},
		{"preempt_delay", func(p string, v *yaml.Node) {
			var pd time.Duration
			if !d.duration(p, v, &pd) {
				return
			}
			if pd < 0 || pd > MaxPreemptDelay {
				d.add(v.Line, p, "%s is out of range; use 0s to %.0fs (keepalived's range), default 0s", pd, MaxPreemptDelay.Seconds())
				return
			}
			cfg.PreemptDelay = pd
		}},
		{"min_move_interval", func(p string, v *yaml.Node) {
			var mi time.Duration
			if !d.duration(p, v, &mi) {
				return
			}
			if mi < 0 {
				d.add(v.Line, p, "%s is negative; use 0 (no limit) or more (default %s)", mi, DefaultMinMoveInterval)
				return
			}
			cfg.MinMoveInterval = mi
		}},
		{"checks", func(p string, v *yaml.Node) { d.checks(p, v, cfg) }},
		{"notify", func(p string, v *yaml.Node) { d.notify(p, v, &cfg.Notify) }},
		{"vrrp", func(p string, v *yaml.Node) { d.vrrp(p, v, &cfg.VRRP) }},
		{"log", func(p string, v *yaml.Node) {
			d.mapping(p, v, []keyField{
				{"level", func(p string, v *yaml.Node) { d.enum(p, v, &cfg.Log.Level, "debug", "info", "warn", "error") }},
				{"format", func(p string, v *yaml.Node) { d.enum(p, v, &cfg.Log.Format, "text", "json") }},
			})
		}},
	})
}
