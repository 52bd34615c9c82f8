package election

import (
	"reflect"
	"testing"
	"time"
)

func TestPlace(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(time.Minute)
	pol := PlacePolicy{Hysteresis: time.Second}
	node := func(name string, prio map[string]int) PlaceNode {
		n := PlaceNode{Name: name, Incarnation: name + "#1", Groups: map[string]NodeGroup{}}
		for g, p := range prio {
			n.Groups[g] = NodeGroup{Priority: p, StableSince: t0}
		}
		return n
	}
	group := func(name, on string) PlaceGroup {
		g := PlaceGroup{Name: name, Preempt: true, MinMoveInterval: 10 * time.Second}
		if on != "" {
			g.Assignee, g.Incarnation = on, on+"#1"
		}
		return g
	}
	three := []PlaceNode{
		node("lb1", map[string]int{"web": 150, "api": 100, "db": 120}),
		node("lb2", map[string]int{"web": 120, "api": 150, "db": 100}),
		node("lb3", map[string]int{"web": 100, "api": 120, "db": 150}),
	}
	for _, tc := range []struct {
		name   string
		groups []PlaceGroup
		nodes  []PlaceNode
		now    time.Time
		want   []Placement
	}{
		{"each group to its best node", []PlaceGroup{group("web", ""), group("api", ""), group("db", "")}, three, now,
			[]Placement{{"web", "lb1", "lb1#1", "unassigned"}, {"api", "lb2", "lb2#1", "unassigned"}, {"db", "lb3", "lb3#1", "unassigned"}}},
		{"placed right: nothing moves", []PlaceGroup{group("web", "lb1"), group("api", "lb2"), group("db", "lb3")}, three, now, nil},
		{"ties go to the node holding fewer groups", []PlaceGroup{group("a", "lb1"), group("b", "")},
			[]PlaceNode{node("lb1", map[string]int{"a": 100, "b": 100}), node("lb2", map[string]int{"a": 100, "b": 100})}, now,
			[]Placement{{"b", "lb2", "lb2#1", "unassigned"}}},
		{"ties then go to the name", []PlaceGroup{group("a", "")},
			[]PlaceNode{node("lb2", map[string]int{"a": 100}), node("lb1", map[string]int{"a": 100})}, now,
			[]Placement{{"a", "lb1", "lb1#1", "unassigned"}}},
		{"sticky: a node as good takes nothing", []PlaceGroup{group("a", "lb2")},
			[]PlaceNode{node("lb1", map[string]int{"a": 100}), node("lb2", map[string]int{"a": 100})}, now, nil},
		{"a better node preempts once steady", []PlaceGroup{group("web", "lb2")}, three, now,
			[]Placement{{"web", "lb1", "lb1#1", "lb1 has priority 150 > 120 on lb2"}}},
		{"not before the hysteresis", []PlaceGroup{group("web", "lb2")}, three, t0.Add(500 * time.Millisecond), nil},
		{"no preempt: it stays", []PlaceGroup{func() PlaceGroup { g := group("web", "lb2"); g.Preempt = false; return g }()}, three, now, nil},
		{"moved too recently", []PlaceGroup{func() PlaceGroup { g := group("web", "lb2"); g.LastMove = now.Add(-time.Second); return g }()}, three, now, nil},
		{"an ineligible assignee loses it at once", []PlaceGroup{group("web", "lb1")},
			[]PlaceNode{func() PlaceNode { n := three[0]; n.Ineligible = "FAULT"; return n }(), three[1], three[2]}, now,
			[]Placement{{"web", "lb2", "lb2#1", "lb1 may not hold it: FAULT"}}},
		{"a lost group moves, never to the same incarnation", []PlaceGroup{func() PlaceGroup { g := group("web", "lb1"); g.Lost = true; return g }()}, three, now,
			[]Placement{{"web", "lb2", "lb2#1", "no holding report from lb1"}}},
		{"a restarted assignee is assigned again", []PlaceGroup{func() PlaceGroup { g := group("web", "lb1"); g.Incarnation = "lb1#0"; return g }()}, three, now,
			[]Placement{{"web", "lb1", "lb1#1", "lb1 may not hold it: it restarted"}}},
		{"a node whose copy differs is passed over", []PlaceGroup{group("web", "")},
			[]PlaceNode{node("lb1", map[string]int{}), three[1]}, now,
			[]Placement{{"web", "lb2", "lb2#1", "unassigned"}}},
		{"nobody eligible: no move", []PlaceGroup{group("web", "lb1")},
			[]PlaceNode{func() PlaceNode { n := three[0]; n.Ineligible = "drained"; return n }()}, now, nil},
		{"a together set moves as one, by the sum of its priorities", []PlaceGroup{
			func() PlaceGroup { g := group("web", ""); g.Together = "front"; return g }(),
			func() PlaceGroup { g := group("api", ""); g.Together = "front"; return g }(),
		}, three, now, []Placement{{"web", "lb2", "lb2#1", "unassigned"}, {"api", "lb2", "lb2#1", "unassigned"}}}, // 120+150 on lb2 beats 150+100 on lb1
		{"a split together set is put back together", []PlaceGroup{
			func() PlaceGroup { g := group("web", "lb1"); g.Together = "front"; return g }(),
			func() PlaceGroup { g := group("api", "lb2"); g.Together = "front"; return g }(),
		}, three, now, []Placement{{"web", "lb2", "lb2#1", "together set split"}, {"api", "lb2", "lb2#1", "together set split"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Place(tc.groups, tc.nodes, tc.now, pol)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Place = %+v\nwant    %+v", got, tc.want)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	now := t0.Add(500 * time.Millisecond)
	pol := PlacePolicy{Hysteresis: time.Second}
	node := func(name string, prio int, since time.Time) PlaceNode {
		return PlaceNode{Name: name, Incarnation: name + "#1", Groups: map[string]NodeGroup{"web": {Priority: prio, StableSince: since}}}
	}
	on := func(assignee string, f func(*PlaceGroup)) PlaceGroup {
		g := PlaceGroup{Name: "web", Preempt: true}
		if assignee != "" {
			g.Assignee, g.Incarnation = assignee, assignee+"#1"
		}
		if f != nil {
			f(&g)
		}
		return g
	}
	lb1, lb2 := node("lb1", 150, t0), node("lb2", 100, t0.Add(-time.Hour))
	drained := lb2
	drained.Ineligible = "drained"
	for _, tc := range []struct {
		name  string
		group PlaceGroup
		nodes []PlaceNode
		want  Outlook
	}{
		{"the best node holds it", on("lb1", nil), []PlaceNode{lb1, lb2}, Outlook{Preferred: "lb1"}},
		{"unassigned", on("", nil), []PlaceNode{lb1, lb2}, Outlook{Preferred: "lb1", Pending: "placing it on lb1"}},
		{"a better node, not steady yet", on("lb2", nil), []PlaceNode{lb1, lb2},
			Outlook{Preferred: "lb1", Pending: "lb1 has priority 150 > 100 on lb2; moving at 12:00:01.000 (once that has been steady for preempt_delay plus hysteresis) unless that changes"}},
		{"held back by min_move_interval", on("lb2", func(g *PlaceGroup) { g.MinMoveInterval, g.LastMove = 10*time.Second, t0 }), []PlaceNode{lb1, lb2},
			Outlook{Preferred: "lb1", Pending: "lb1 has priority 150 > 100 on lb2; moving at 12:00:10.000 (min_move_interval after its last move) unless that changes"}},
		{"steady: moving now", on("lb2", nil), []PlaceNode{node("lb1", 150, t0.Add(-time.Hour)), lb2},
			Outlook{Preferred: "lb1", Pending: "lb1 has priority 150 > 100 on lb2; moving now"}},
		{"preempt off", on("lb2", func(g *PlaceGroup) { g.Preempt = false }), []PlaceNode{lb1, lb2},
			Outlook{Preferred: "lb1", Pending: "preempt is off: lb1 has priority 150 > 100 on lb2; it stays"}},
		{"pinned by a transfer", on("lb2", func(g *PlaceGroup) { g.Preempt, g.Pinned = false, true }), []PlaceNode{lb1, lb2},
			Outlook{Preferred: "lb1", Pending: "lb1 has priority 150 > 100 on lb2, but an operator's transfer put it there; it stays while lb2 may hold it"}},
		{"its assignee may not hold it", on("lb2", nil), []PlaceNode{lb1, drained},
			Outlook{Preferred: "lb1", Pending: "moving it to lb1: lb2 may not hold it: drained"}},
		{"nobody may hold it", on("lb2", nil), []PlaceNode{drained},
			Outlook{NoneEligible: "no node may hold it (lb2: drained)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Explain([]PlaceGroup{tc.group}, tc.nodes, now, pol)
			tc.want.Group = "web"
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("Explain = %+v\nwant       %+v", got, tc.want)
			}
		})
	}
}
