package config

import (
	"reflect"
	"slices"
	"strings"
)

// Changes is what differs between the running configuration and a reloaded one, and
// what a reload (SIGHUP) therefore does.
type Changes struct {
	// Applied names what changed and applies now: priority (groups[NAME].priority with
	// groups:), checks, notify, log.level.
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

// oneGroupFields are the one-group form's fields, which hold the first group: Diff
// compares them in the vip: form and Groups otherwise.
var oneGroupFields = []string{"VIP", "Priority", "Preempt", "PreemptDelay", "MinMoveInterval", "VRRP"}

// Diff compares the running configuration cur with next: what a reload applies at
// once, and what differs but takes a restart.
//
// The VIP groups: between two files in the vip: form, the keys of the one group are
// named as that form spells them (vip, priority, preempt, vrrp...), as ever. Between
// two files with groups:, a change of a group's priority alone applies and is named
// groups[NAME].priority; any other change under groups (a group added, removed or
// moved in the list, any other key, track included) needs a restart and is named
// groups. A file that moves from one form to the other changes vip and groups unless
// its groups are the same.
func Diff(cur, next *Config) Changes {
	var r Changes
	oneGroup := !cur.GroupsSection && !next.GroupsSection
	if oneGroup && cur.Priority != next.Priority {
		r.Applied = append(r.Applied, "priority")
	}
	groupsRestart := false
	if !oneGroup {
		var applied []string
		applied, groupsRestart = diffGroups(cur, next)
		r.Applied = append(r.Applied, applied...)
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
		switch {
		case slices.Contains(reloadable, f.Name), f.Name == "GroupsSection":
			continue
		case f.Name == "Groups":
			if groupsRestart && cur.GroupsSection != next.GroupsSection {
				r.NeedRestart = append(r.NeedRestart, "vip", "groups")
			} else if groupsRestart {
				r.NeedRestart = append(r.NeedRestart, "groups")
			}
			continue
		case slices.Contains(oneGroupFields, f.Name) && !oneGroup:
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

// diffGroups compares the groups of cur and next when either has groups:: the
// priorities a reload applies (groups[NAME].priority), and whether anything else
// differs. A priority applies only while the groups are the same ones in the same
// order.
func diffGroups(cur, next *Config) (applied []string, restart bool) {
	if len(cur.Groups) != len(next.Groups) {
		return nil, true
	}
	for i := range cur.Groups {
		c, n := cur.Groups[i], next.Groups[i]
		if c.Name != n.Name {
			return nil, true
		}
		if c.Priority != n.Priority {
			applied = append(applied, "groups["+c.Name+"].priority")
		}
		c.Priority = n.Priority
		if !reflect.DeepEqual(c, n) {
			restart = true
		}
	}
	return applied, restart
}
