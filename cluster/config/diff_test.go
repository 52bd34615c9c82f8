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
