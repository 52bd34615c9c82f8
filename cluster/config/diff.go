package config

import (
	"reflect"
	"slices"
	"strings"
)

// Changes is what differs between the running configuration and a reloaded one, and
// what a reload (SIGHUP) therefore does.
type Changes struct {
	// Applied names what changed and applies now: priority, checks, notify, log.level.
	Applied []string
	// NeedRestart names, by config key, what changed but applies only after a restart.
	NeedRestart []string
}

// String is the result as one log-friendly line.
func (r Changes) String() string {
	var parts []string
	if len(r.Applied) > 0 {
		parts = append(parts, "applied: "+strings.Join(r.Applied, ", "))
	}
	if len(r.NeedRestart) > 0 {
		parts = append(parts, "changed but needs a restart: "+strings.Join(r.NeedRestart, ", "))
	}
	if len(parts) == 0 {
		return "nothing changed"
	}
	return strings.Join(parts, "; ")
}

// configKeys are the config keys of Config's fields, for NeedRestart. Fields missing
// here are named by their Go name in lower case.
var configKeys = map[string]string{
	"Node": "node", "Cluster": "cluster", "Admin": "admin", "VIP": "vip", "Priority": "priority",
	"Preempt": "preempt", "PreemptDelay": "preempt_delay", "MinMoveInterval": "min_move_interval",
	"Checks": "checks", "Notify": "notify", "VRRP": "vrrp", "Log": "log", "Metrics": "metrics",
}

// reloadable are the fields a reload applies; File is where the config came from.
var reloadable = []string{"Priority", "Checks", "Notify", "Log", "File"}

// Diff compares the running configuration cur with next: what a reload applies at
// once, and what differs but takes a restart.
func Diff(cur, next *Config) Changes {
	var r Changes
	if cur.Priority != next.Priority {
		r.Applied = append(r.Applied, "priority")
	}
	if !reflect.DeepEqual(cur.Checks, next.Checks) {
		r.Applied = append(r.Applied, "checks")
	}
	if !reflect.DeepEqual(cur.Notify, next.Notify) {
		r.Applied = append(r.Applied, "notify")
	}
	if !strings.EqualFold(cur.Log.Level, next.Log.Level) {
		r.Applied = append(r.Applied, "log.level")
	}
	if cur.Log.Format != next.Log.Format {
		r.NeedRestart = append(r.NeedRestart, "log.format")
	}
	cv, nv := reflect.ValueOf(cur).Elem(), reflect.ValueOf(next).Elem()
	for i := range cv.NumField() {
		f := cv.Type().Field(i)
		if slices.Contains(reloadable, f.Name) {
			continue
		}
		if !reflect.DeepEqual(cv.Field(i).Interface(), nv.Field(i).Interface()) {
			key, ok := configKeys[f.Name]
			if !ok {
				key = strings.ToLower(f.Name)
			}
			r.NeedRestart = append(r.NeedRestart, key)
		}
	}
	return r
}
