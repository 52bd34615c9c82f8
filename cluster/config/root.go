package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

func (d *decoder) root(n *yaml.Node, cfg *Config) {
	// Which form the file uses decides where a misplaced key is said to belong.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Value == "groups" {
			d.groupsForm = true
		}
	}
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
		{"groups", func(p string, v *yaml.Node) { d.groups(p, v, cfg) }},
		{"priority", func(p string, v *yaml.Node) {
			d.integer(p, v, 1, 254, priorityWhy, &cfg.Priority)
		}},
		{"preempt", func(p string, v *yaml.Node) { d.boolean(p, v, &cfg.Preempt) }},
		{"preempt_delay", func(p string, v *yaml.Node) { d.preemptDelay(p, v, &cfg.PreemptDelay) }},
		{"min_move_interval", func(p string, v *yaml.Node) { d.minMoveInterval(p, v, &cfg.MinMoveInterval) }},
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

// preemptDelay decodes a preempt_delay: 0s to 1000s, keepalived's range.
func (d *decoder) preemptDelay(path string, n *yaml.Node, dst *time.Duration) {
	var pd time.Duration
	if !d.duration(path, n, &pd) {
		return
	}
	if pd < 0 || pd > MaxPreemptDelay {
		d.add(n.Line, path, "%s is out of range; use 0s to %.0fs (keepalived's range), default 0s", pd, MaxPreemptDelay.Seconds())
		return
	}
	*dst = pd
}

// minMoveInterval decodes a min_move_interval: 0 (no limit) or more.
func (d *decoder) minMoveInterval(path string, n *yaml.Node, dst *time.Duration) {
	var mi time.Duration
	if !d.duration(path, n, &mi) {
		return
	}
	if mi < 0 {
		d.add(n.Line, path, "%s is negative; use 0 (no limit) or more (default %s)", mi, DefaultMinMoveInterval)
		return
	}
	*dst = mi
}

// priorityWhy is the range of a priority, for its messages.
const priorityWhy = "priority is 1 to 254 as in VRRP (0 and 255 have special meanings there); default 100"
