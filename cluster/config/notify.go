package config

import (
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

func (d *decoder) notify(path string, n *yaml.Node, nc *NotifyConfig) {
	hook := func(dst *[]string) func(string, *yaml.Node) {
		return func(p string, v *yaml.Node) { d.argv(p, v, "[/usr/local/bin/vip-up, --quiet]", dst) }
	}
	d.mapping(path, n, []keyField{
		{"master", hook(&nc.Master)},
		{"backup", hook(&nc.Backup)},
		{"fault", hook(&nc.Fault)},
		{"stop", hook(&nc.Stop)},
		{"script", hook(&nc.Script)},
		{"instance", func(p string, v *yaml.Node) {
			s, ok := d.scalar(p, v, "an instance name, e.g. "+DefaultNotifyInstance)
			if !ok {
				return
			}
			if s == "" {
				d.add(v.Line, p, "is empty; name the instance the notify script is told about, or remove the line (default %s)", DefaultNotifyInstance)
				return
			}
			for _, r := range s {
				if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.') {
					d.add(v.Line, p, "%q contains %q; an instance name may use only letters, digits, '-', '_' and '.' (e.g. VI_1)", s, r)
					return
				}
			}
			nc.Instance = s
		}},
		{"timeout", func(p string, v *yaml.Node) {
			var to time.Duration
			if !d.duration(p, v, &to) {
				return
			}
			switch {
			case to <= 0:
				d.add(v.Line, p, "%s must be greater than 0; a hook still running after this long is killed (default %s)", to, DefaultNotifyTimeout)
			case to > time.Hour:
				d.add(v.Line, p, "%s is above 1h; hooks run one at a time, so a hung hook holds up every later one until it is killed: keep it to seconds (default %s)", to, DefaultNotifyTimeout)
			default:
				nc.Timeout = to
			}
		}},
	})
}

// WithDefaults fills a zero Timeout and an empty Instance.
func (c NotifyConfig) WithDefaults() NotifyConfig {
	if c.Timeout <= 0 {
		c.Timeout = DefaultNotifyTimeout
	}
	if c.Instance == "" {
		c.Instance = DefaultNotifyInstance
	}
	return c
}
