package election

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Placement (DESIGN §9.2): the leader puts every group on the eligible node with the
// highest effective priority for that group; ties go to the node holding fewer
// groups, then to the name. It is sticky: a group stays where it is unless its
// assignee becomes ineligible, stops reporting that it holds, or a better node wins
// under the preempt rules. Groups marked together are placed as one unit. Placement
// never looks at who leads. Place is pure: the leader gathers the inputs and commits
// the moves.

// PlaceGroup is one group as the placer sees it.
type PlaceGroup struct {
	Name     string
	Together string // groups with the same Together are placed as one unit ("" alone)
	// The group's policy.
	Preempt         bool
	PreemptDelay    time.Duration
	MinMoveInterval time.Duration
	// Assignee is its current assignment's node and incarnation; empty: nobody.
	Assignee, Incarnation string
	// Lost: the assignee has not reported holding it for longer than detection allows
	// (DESIGN §9.3, detection). A lost group moves.
	Lost bool
	// LastMove is when the group last moved automatically; zero: never.
	LastMove time.Time
}

// PlaceNode is one node as the placer sees it.
type PlaceNode struct {
	Name        string
	Incarnation string
	// Ineligible, when not empty, says why the node may hold no group: FAULT, drained,
	// leaving, a witness, not heard of.
	Ineligible string
	// Groups is, per group it may hold, its effective priority for that group (1 to
	// 254) and since when that priority and its eligibility have been what they are.
	// A group missing here is one it may not hold (its copy of the group differs, or a
	// foreign VRRP master rules that VRID there).
	Groups map[string]NodeGroup
}

// NodeGroup is a node's standing for one group.
type NodeGroup struct {
	Priority    int
	StableSince time.Time
}

// Placement is one decision of Place: move Group to node To, in Incarnation, for
// Reason. Operator says it is not an automatic move (the rate limit does not apply).
type Placement struct {
	Group, To, Incarnation, Reason string
}

// PlacePolicy is what Place needs beyond the groups and nodes.
type PlacePolicy struct {
	// Hysteresis is added to a group's preempt delay: how long a better node's
	// standing must have been steady before a group moves to it.
	Hysteresis time.Duration
}

// Place returns the moves that make the placement right at now. The result is in
// the order of groups; groups of one together set move in the same pass.
func Place(groups []PlaceGroup, nodes []PlaceNode, now time.Time, p PlacePolicy) []Placement {
	load := map[string]int{} // node → groups assigned to it, as this pass leaves them
	for _, g := range groups {
		if g.Assignee != "" {
			load[g.Assignee]++
		}
	}
	var out []Placement
	done := map[string]bool{}
	for _, g := range groups {
		if done[g.Name] {
			continue
		}
		unit := []PlaceGroup{g}
		if g.Together != "" {
			unit = slices.DeleteFunc(slices.Clone(groups), func(o PlaceGroup) bool { return o.Together != g.Together })
		}
		for _, u := range unit {
			done[u.Name] = true
		}
		moves := placeUnit(unit, nodes, load, now, p)
		for _, m := range moves {
			for _, u := range unit {
				if u.Name == m.Group && u.Assignee != "" {
					load[u.Assignee]--
				}
			}
			load[m.To]++
		}
		out = append(out, moves...)
	}
	return out
}

// standing is a node's fitness for a unit of groups.
type standing struct {
	node        PlaceNode
	priority    int       // the sum over the unit's groups
	stableSince time.Time // the latest over the unit's groups
}

// placeUnit places one unit: a group, or a together set.
func placeUnit(unit []PlaceGroup, nodes []PlaceNode, load map[string]int, now time.Time, p PlacePolicy) []Placement {
	var fit []standing
	for _, n := range nodes {
		if n.Ineligible != "" {
			continue
		}
		s, ok := standing{node: n}, true
		for _, g := range unit {
			ng, may := n.Groups[g.Name]
			if !may || ng.Priority <= 0 {
				ok = false
				break
			}
			s.priority += ng.Priority
			if ng.StableSince.After(s.stableSince) {
				s.stableSince = ng.StableSince
			}
		}
		if ok {
			fit = append(fit, s)
		}
	}
	if len(fit) == 0 {
		return nil // nobody may hold it; the assignee, if any, will not hold it either
	}
	slices.SortFunc(fit, func(a, b standing) int {
		return cmp.Or(cmp.Compare(b.priority, a.priority), cmp.Compare(load[a.node.Name], load[b.node.Name]),
			cmp.Compare(a.node.Name, b.node.Name))
	})
	best := fit[0]

	// Where the unit is now: one node in one incarnation for all its groups, or not.
	lead := unit[0]
	together := true
	for _, g := range unit {
		if g.Assignee != lead.Assignee || g.Incarnation != lead.Incarnation {
			together = false
		}
	}
	var current *standing
	for i := range fit {
		if together && lead.Assignee != "" && fit[i].node.Name == lead.Assignee && fit[i].node.Incarnation == lead.Incarnation {
			current = &fit[i]
		}
	}
	reason := ""
	switch {
	case lead.Assignee == "" && together:
		reason = "unassigned"
	case !together:
		reason = "together set split"
	case slices.ContainsFunc(unit, func(g PlaceGroup) bool { return g.Lost }):
		reason = fmt.Sprintf("no holding report from %s", lead.Assignee)
	case current == nil:
		reason = fmt.Sprintf("%s may not hold it: %s", lead.Assignee, whyNot(lead, unit, nodes))
	case lead.Preempt && best.priority > current.priority && best.node.Name != current.node.Name:
		if now.Sub(best.stableSince) < lead.PreemptDelay+p.Hysteresis {
			return nil // not steady long enough yet
		}
		if lead.MinMoveInterval > 0 && !lead.LastMove.IsZero() && now.Sub(lead.LastMove) < lead.MinMoveInterval {
			return nil // moved too recently
		}
		reason = fmt.Sprintf("%s has priority %d > %d on %s", best.node.Name, best.priority, current.priority, current.node.Name)
	default:
		return nil // it stays
	}
	to := best
	if to.node.Name == lead.Assignee && to.node.Incarnation == lead.Incarnation && together {
		// Never re-assign to the current assignee: take the next best.
		if len(fit) < 2 {
			return nil
		}
		to = fit[1]
	}
	var out []Placement
	for _, g := range unit {
		out = append(out, Placement{Group: g.Name, To: to.node.Name, Incarnation: to.node.Incarnation, Reason: reason})
	}
	return out
}

// whyNot says why the unit's assignee may not hold it.
func whyNot(lead PlaceGroup, unit []PlaceGroup, nodes []PlaceNode) string {
	for _, n := range nodes {
		if n.Name != lead.Assignee {
			continue
		}
		switch {
		case n.Incarnation != lead.Incarnation:
			return "it restarted"
		case n.Ineligible != "":
			return n.Ineligible
		}
		for _, g := range unit {
			if ng, ok := n.Groups[g.Name]; !ok || ng.Priority <= 0 {
				return "not eligible for " + g.Name
			}
		}
	}
	return "gone"
}
