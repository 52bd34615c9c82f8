package election

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
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
	// Pinned: an operator's transfer put it on its assignee, and it does not move
	// back by preemption (Preempt is false too); for Explain's words.
	Pinned bool
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
	load := loadOf(groups) // as this pass leaves it
	var out []Placement
	for _, unit := range units(groups) {
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

// loadOf counts the groups assigned to each node.
func loadOf(groups []PlaceGroup) map[string]int {
	load := map[string]int{}
	for _, g := range groups {
		if g.Assignee != "" {
			load[g.Assignee]++
		}
	}
	return load
}

// standing is a node's fitness for a unit of groups.
type standing struct {
	node        PlaceNode
	priority    int       // the sum over the unit's groups
	stableSince time.Time // the latest over the unit's groups
}

// rank returns the nodes that may hold every group of unit, best first.
func rank(unit []PlaceGroup, nodes []PlaceNode, load map[string]int) []standing {
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
	slices.SortFunc(fit, func(a, b standing) int {
		return cmp.Or(cmp.Compare(b.priority, a.priority), cmp.Compare(load[a.node.Name], load[b.node.Name]),
			cmp.Compare(a.node.Name, b.node.Name))
	})
	return fit
}

// units splits groups into placement units: a group alone, or a together set, in the
// order of their first group.
func units(groups []PlaceGroup) [][]PlaceGroup {
	var out [][]PlaceGroup
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
		out = append(out, unit)
	}
	return out
}

// assigneeIn returns the unit's assignee among fit, if all its groups are on that node
// in that incarnation and it may still hold them, and whether the unit is together.
func assigneeIn(unit []PlaceGroup, fit []standing) (*standing, bool) {
	lead := unit[0]
	for _, g := range unit {
		if g.Assignee != lead.Assignee || g.Incarnation != lead.Incarnation {
			return nil, false
		}
	}
	for i := range fit {
		if lead.Assignee != "" && fit[i].node.Name == lead.Assignee && fit[i].node.Incarnation == lead.Incarnation {
			return &fit[i], true
		}
	}
	return nil, true
}

// placeUnit places one unit: a group, or a together set.
func placeUnit(unit []PlaceGroup, nodes []PlaceNode, load map[string]int, now time.Time, p PlacePolicy) []Placement {
	fit := rank(unit, nodes, load)
	if len(fit) == 0 {
		return nil // nobody may hold it; the assignee, if any, will not hold it either
	}
	best := fit[0]

	// Where the unit is now: one node in one incarnation for all its groups, or not.
	lead := unit[0]
	current, together := assigneeIn(unit, fit)
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
		case n.Ineligible != "":
			return n.Ineligible
		case n.Incarnation != lead.Incarnation:
			return "it restarted"
		}
		for _, g := range unit {
			if ng, ok := n.Groups[g.Name]; !ok || ng.Priority <= 0 {
				return "not eligible for " + g.Name
			}
		}
	}
	return "gone"
}

// Outlook is how placement stands for one group, for people: the node it prefers,
// why no node may hold it, or the move it is waiting to make.
type Outlook struct {
	Group        string `json:"group"`
	Preferred    string `json:"preferred,omitempty"`
	NoneEligible string `json:"none_eligible,omitempty"`
	Pending      string `json:"pending,omitempty"`
}

// Explain says, per group, what Place makes of the same inputs and why: the node it
// prefers, and the move it waits for (preempt off, an operator's pin, the preempt
// delay and hysteresis, min_move_interval). It is pure, like Place.
func Explain(groups []PlaceGroup, nodes []PlaceNode, now time.Time, p PlacePolicy) []Outlook {
	load := loadOf(groups)
	var out []Outlook
	for _, unit := range units(groups) {
		o := explainUnit(unit, nodes, load, now, p)
		for _, g := range unit {
			o.Group = g.Name
			out = append(out, o)
		}
	}
	return out
}

func explainUnit(unit []PlaceGroup, nodes []PlaceNode, load map[string]int, now time.Time, p PlacePolicy) Outlook {
	fit := rank(unit, nodes, load)
	if len(fit) == 0 {
		return Outlook{NoneEligible: noneEligible(unit, nodes)}
	}
	best := fit[0]
	lead := unit[0]
	cur, together := assigneeIn(unit, fit)
	o := Outlook{Preferred: best.node.Name}
	switch {
	case lead.Assignee == "" && together:
		o.Pending = "placing it on " + best.node.Name
	case !together:
		o.Pending = "placing its together set on one node: " + best.node.Name
	case cur == nil:
		o.Pending = fmt.Sprintf("moving it to %s: %s may not hold it: %s", best.node.Name, lead.Assignee, whyNot(lead, unit, nodes))
	case best.priority <= cur.priority:
		o.Preferred = cur.node.Name
	case lead.Pinned:
		o.Pending = fmt.Sprintf("%s has priority %d > %d on %s, but an operator's transfer put it there; it stays while %s may hold it",
			best.node.Name, best.priority, cur.priority, cur.node.Name, cur.node.Name)
	case !lead.Preempt:
		o.Pending = fmt.Sprintf("preempt is off: %s has priority %d > %d on %s; it stays", best.node.Name, best.priority,
			cur.priority, cur.node.Name)
	default:
		at := best.stableSince.Add(lead.PreemptDelay + p.Hysteresis)
		why := "once that has been steady for preempt_delay plus hysteresis"
		if lead.MinMoveInterval > 0 && !lead.LastMove.IsZero() {
			if next := lead.LastMove.Add(lead.MinMoveInterval); next.After(at) {
				at, why = next, "min_move_interval after its last move"
			}
		}
		o.Pending = fmt.Sprintf("%s has priority %d > %d on %s; moving at %s (%s) unless that changes", best.node.Name,
			best.priority, cur.priority, cur.node.Name, at.Format("15:04:05.000"), why)
		if !at.After(now) {
			o.Pending = fmt.Sprintf("%s has priority %d > %d on %s; moving now", best.node.Name, best.priority,
				cur.priority, cur.node.Name)
		}
	}
	return o
}

// noneEligible says why no node may hold the unit.
func noneEligible(unit []PlaceGroup, nodes []PlaceNode) string {
	if len(nodes) == 0 {
		return "no node is known"
	}
	var whys []string
	for _, n := range nodes {
		why := n.Ineligible
		if why == "" {
			for _, g := range unit {
				if ng, ok := n.Groups[g.Name]; !ok || ng.Priority <= 0 {
					why = "not eligible for " + g.Name
					break
				}
			}
		}
		whys = append(whys, n.Name+": "+why)
	}
	return "no node may hold it (" + strings.Join(whys, "; ") + ")"
}
