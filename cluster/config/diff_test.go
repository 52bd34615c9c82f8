package config

import (
	"slices"
	"testing"
)

func TestDiff(t *testing.T) {
	check := "checks:\n  - name: haproxy\n    type: process\n    pidfile: /run/haproxy.pid\n    weight: -20"
	tests := []struct {
		name          string
		cur, next     string
		applied, want []string
	}{
		{name: "nothing changed", cur: after(""), next: after("")},
		{name: "priority", cur: after("priority: 100"), next: after("priority: 150"), applied: []string{"priority"}},
		{name: "a check added", cur: after(""), next: after(check), applied: []string{"checks"}},
		{name: "notify and log level", cur: after("log:\n  level: info"),
			next:    after("log:\n  level: debug\nnotify:\n  master: [/usr/local/bin/became-master]"),
			applied: []string{"notify", "log.level"}},
		{name: "log format needs a restart", cur: after("log:\n  format: text"), next: after("log:\n  format: json"),
			want: []string{"log.format"}},
		{name: "vip and preempt need a restart, priority applies", cur: after("priority: 100"),
			next:    edit(8, "  addresses: [198.18.0.20/24]") + "priority: 120\npreempt: false\n",
			applied: []string{"priority"}, want: []string{"vip", "preempt"}},
		{name: "vip and vrrp need a restart", cur: after(""), next: after("  lifetime: 3s\nvrrp: {enabled: true, vrid: 51}"),
			want: []string{"vip", "vrrp"}},

		// With groups:.
		{name: "groups: nothing changed", cur: groupsConfig, next: groupsConfig},
		{name: "groups: a group's priority applies", cur: groupsConfig, next: gAfter("    priority: 120"),
			applied: []string{"groups[api].priority"}},
		{name: "groups: the top-level priority is every group's default", cur: groupsConfig, next: withWeb("    priority: 100", "priority: 90"),
			applied: []string{"groups[api].priority"}},
		{name: "groups: priority applies, the rest needs a restart", cur: groupsConfig, next: gAfter("    priority: 120\n    lifetime: 3s"),
			applied: []string{"groups[api].priority"}, want: []string{"groups"}},
		{name: "groups: track needs a restart", cur: groupsConfig + checkHAProxy + "\n", next: gAfter("    track: []\n" + checkHAProxy),
			want: []string{"groups"}},
		{name: "groups: a group added", cur: groupsConfig, next: gAfter("  - {name: db, interface: eth0, addresses: [198.18.0.40/24]}"),
			want: []string{"groups"}},
		{name: "groups: reordered, priority not applied", cur: groupsConfig,
			next: groupsHead + "groups:\n  - {name: api, interface: eth0, addresses: [198.18.0.20/24], priority: 120}\n  - {name: web, interface: eth0, addresses: [198.18.0.10/24]}\n",
			want: []string{"groups"}},
		{name: "groups: checks still apply", cur: groupsConfig, next: gAfter(checkHAProxy), applied: []string{"checks"}},
		{name: "vip: to groups:", cur: baseConfig, next: groupsConfig, want: []string{"vip", "groups"}},
		{name: "vip: to the same group in groups:", cur: baseConfig,
			next: groupsHead + "groups:\n  - {name: vip, interface: eth0, addresses: [198.18.0.10/24]}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur, err := parseTest(t, tt.cur)
			if err != nil {
				t.Fatalf("current config: %v", err)
			}
			next, err := parseTest(t, tt.next)
			if err != nil {
				t.Fatalf("next config: %v", err)
			}
			r := Diff(cur, next)
			if !slices.Equal(r.Applied, tt.applied) || !slices.Equal(r.NeedRestart, tt.want) {
				t.Errorf("Diff = applied %q, restart %q; want %q, %q (%s)", r.Applied, r.NeedRestart, tt.applied, tt.want, r)
			}
		})
	}
}
