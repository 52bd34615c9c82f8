package keepalived

import (
	"fmt"
	"slices"
	"strings"

	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/pki"
)

// The notify hooks: each instance has its own in keepalived, a raftvip node has one
// set for all its groups.

// hookKinds are the notify hooks: raftvip's key under notify and keepalived's option.
var hookKinds = [...]struct{ key, from string }{
	{"master", "notify_master"}, {"backup", "notify_backup"}, {"fault", "notify_fault"},
	{"stop", "notify_stop"}, {"script", "notify"},
}

// hook is one converted notify hook and the statement it came from; st is nil for
// none.
type hook struct {
	argv []string
	st   *Statement
}

// hookSet is one hook of each kind, in hookKinds' order.
type hookSet [len(hookKinds)]hook

// empty reports whether hs has no hook.
func (hs *hookSet) empty() bool {
	return !slices.ContainsFunc(hs[:], func(h hook) bool { return h.st != nil })
}

// hookIndex is the index in hookKinds of keepalived's option from.
func hookIndex(from string) int {
	return slices.IndexFunc(hookKinds[:], func(k struct{ key, from string }) bool { return k.from == from })
}

// mergeHooks makes the node's notify hooks of its groups'. In the vip: form they are
// the instance's, and notify.instance is its name. In the groups: form each hook is
// the first instance's that has it, and runs for every group: an instance with
// another command for it is listed as not converted, one without it noted; the
// script is told each group's name as INSTANCE, notify.instance is not set.
func (c *converter) mergeHooks() {
	m := &c.m
	for i, kind := range hookKinds {
		var from *group
		var without []string
		for _, g := range m.groups {
			h := g.hooks[i]
			switch {
			case h.st == nil:
				without = append(without, g.instance)
			case from == nil:
				from, m.hooks[i] = g, h
				c.lines["notify."+kind.key] = h.st.Line
			case !slices.Equal(h.argv, m.hooks[i].argv):
				c.skip(h.st, fmt.Sprintf(notSupported+"raftvip has one notify.%s for all groups, and it is vrrp_instance %s's (line %d); %s",
					kind.key, from.instance, m.hooks[i].st.Line, hookAdvice(kind.key)))
			}
		}
		if from != nil && len(without) > 0 {
			c.note(m.hooks[i].st.Line, kind.from, fmt.Sprintf("runs for the groups of %s too: raftvip has one notify.%s for all groups; %s",
				strings.Join(without, ", "), kind.key, hookAdvice(kind.key)))
		}
	}
	h := m.hooks[hookIndex("notify")]
	if m.groupsForm || h.st == nil {
		return
	}
	inst := m.groups[0].instance
	if pki.NodeNameProblem(inst) == "" {
		m.notifyInstance = inst
	} else {
		c.note(h.st.Line, "notify", fmt.Sprintf("the instance name %q cannot be notify.instance (letters, digits, - _ . only); the script is told %q instead", inst, config.DefaultNotifyInstance))
	}
}

// hookAdvice says how to tell the groups apart in the hook notify.key.
func hookAdvice(key string) string {
	if key == "script" {
		return "it is told the group's name as INSTANCE, so it can tell them apart"
	}
	return "it is not told which group changed, the notify script is (INSTANCE <group> STATE priority): move group-specific commands there"
}
