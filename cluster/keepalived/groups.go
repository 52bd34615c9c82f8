package keepalived

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// What the groups: form adds: a group's name from its instance's, and together sets
// from vrrp_sync_groups.

// groupNames names the groups of the groups: form after their instances. A name
// raftvip does not take as a group name becomes a valid one, with a note.
func (c *converter) groupNames() {
	if !c.m.groupsForm {
		return
	}
	used := map[string]bool{}
	for _, g := range c.m.groups {
		g.name = validName(g.instance, "group", used)
		used[g.name] = true
		g.lines["name"] = g.line
		if g.name != g.instance {
			c.note(g.line, "vrrp_instance "+g.instance, fmt.Sprintf("is group %s: a group name uses letters, digits, - _ . and at most 32 of them; metrics show it, and the notify script is told it as INSTANCE where keepalived told %s", g.name, g.instance))
		}
	}
}

// syncGroups converts the vrrp_sync_groups. In the groups: form the instances of
// one become groups of one together set, placed as one unit. In the vip: form there
// is one group: a sync group is listed as not converted.
func (c *converter) syncGroups(sgs []*Statement) {
	if !c.m.groupsForm {
		c.syncGroupsOfOne(sgs)
		return
	}
	byInstance := map[string]*group{}
	for _, g := range c.m.groups {
		byInstance[g.instance] = g
	}
	first := map[string]int{}     // sync group name -> its line
	inSync := map[*group]string{} // group -> the sync group it is in
	used := map[string]bool{}     // together names
	for _, st := range sgs {
		if len(st.Args()) != 1 || st.BlockLine == 0 {
			c.skip(st, "not converted: write vrrp_sync_group NAME { group { INSTANCE ... } }; keepalived skips a sync group without a name")
			continue
		}
		name := st.Args()[0]
		if line, dup := first[name]; dup {
			c.skip(st, fmt.Sprintf("not converted: a second vrrp_sync_group %s (the first is on line %d); keepalived uses the first", name, line))
			continue
		}
		first[name] = st.Line
		members, lines := c.syncGroupMembers(st, byInstance, inSync)
		if len(members) < 2 {
			c.note(st.Line, optionText(st), "has fewer than two of the converted instances: there is nothing to place together")
			continue
		}
		together := validName(name, "together", used)
		used[together] = true
		if together != name {
			c.note(st.Line, "vrrp_sync_group "+name, fmt.Sprintf("is together set %s: a set's name uses letters, digits, - _ . and at most 32 of them", together))
		}
		for i, g := range members {
			g.together = together
			g.lines["together"] = lines[i]
			if f := members[0]; g.preempt != f.preempt || g.preemptDelay != f.preemptDelay {
				c.fail(lines[i], "vrrp_sync_group", "vrrp_instance %s has %s and vrrp_instance %s %s, but raftvip places the instances of a sync group as one unit, with one preempt policy: give them the same nopreempt and preempt_delay, or convert them one at a time with --instance",
					g.instance, preemptText(g), f.instance, preemptText(f))
			}
		}
	}
}

// preemptText is g's preempt policy as keepalived.conf says it.
func preemptText(g *group) string {
	if !g.preempt {
		return "nopreempt"
	}
	return "preempt_delay " + strconv.FormatFloat(g.preemptDelay.Seconds(), 'f', -1, 64)
}

// syncGroupMembers returns the groups of the instances the sync group st lists, and
// the line of each, and lists what else st has as not converted.
func (c *converter) syncGroupMembers(st *Statement, byInstance map[string]*group, inSync map[*group]string) ([]*group, []int) {
	var members []*group
	var lines []int
	listed := false
	for _, o := range st.Block {
		key := o.Keyword()
		if key != "group" {
			c.skip(o, syncGroupWhy(key))
			continue
		}
		if listed {
			c.skip(o, "not converted: a second group list; keepalived uses the first")
			continue
		}
		listed = true
		for _, e := range o.Block {
			for _, inst := range e.Words {
				g := byInstance[inst]
				switch {
				case g == nil:
					c.skip(e, "not converted: there is no vrrp_instance "+inst+" (keepalived ignores it too)")
				case slices.Contains(members, g):
					c.note(e.Line, inst, "listed twice in the sync group; converted once")
				case inSync[g] != "":
					c.skip(e, fmt.Sprintf("not converted: vrrp_instance %s is in vrrp_sync_group %s already; keepalived keeps an instance in its first sync group", inst, inSync[g]))
				default:
					inSync[g] = st.Args()[0]
					members = append(members, g)
					lines = append(lines, e.Line)
				}
			}
		}
	}
	return members, lines
}

// syncGroupsOfOne lists the vrrp_sync_groups as not converted when one instance is,
// and notes the one that instance is in.
func (c *converter) syncGroupsOfOne(sgs []*Statement) {
	inst := c.m.groups[0].instance
	for _, st := range sgs {
		why := topWhy("vrrp_sync_group")
		if c.opts.Instance != "" {
			why = notSupported + "with --instance one instance is converted, as the cluster's one group; convert without --instance to make the sync group's instances groups placed together"
		}
		c.skip(st, why)
		for _, grp := range st.Block {
			if grp.Keyword() != "group" {
				continue
			}
			for _, member := range grp.Block {
				if slices.Contains(member.Words, inst) {
					c.note(st.Line, optionText(st), fmt.Sprintf("%s is in this sync group: the VIPs of its other instances do not move with raftvip's; list every VIP in one instance first", inst))
				}
			}
		}
	}
}

// syncGroupWhy says why an option of a vrrp_sync_group other than group is not
// converted.
func syncGroupWhy(key string) string {
	switch {
	case strings.HasPrefix(key, "notify"):
		return notSupported + "raftvip runs notify hooks for each group, not for a set of groups placed together; put the hook in each instance of the sync group instead (notify.script is told each group's name as INSTANCE)"
	case key == "smtp_alert":
		return whyMail
	case key == "track_interface":
		return notSupported + "raftvip does not watch links; " + linkHint + ", tracked by each group of the set"
	case strings.HasPrefix(key, "track_"):
		return notSupported + "a together set has no checks of its own; track the script in each instance of the sync group (track_script), and each group tracks its check"
	case key == "global_tracking" || key == "sync_group_tracking_weight":
		return notNeeded + "each group weighs the checks it tracks into its own priority, and a together set is placed as one unit"
	}
	return notSupported + "raftvip keepalived convert does not know this option of a vrrp_sync_group"
}
