package election

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftvip/raftvip/store"
	"github.com/raftvip/raftvip/test/clocktest"
)

// The Placer's tests call Heard and pass themselves on a clocktest.Manual clock; pass commits its
// moves in goroutines, and plRig.pass waits for them to finish before it returns, so
// each test sees every pass complete. Group g; nodes A, B and C, in incarnations A#1,
// B#1 and C#1; this node leads since t0.

type plAssign struct {
	g      string
	a      store.Assignment
	reason string
}

type plNotice struct {
	node, g string
	index   uint64
}

// plRig is a leading Placer wired to fakes. Assign applies the assignment to the
// committed ownership at the next index.
type plRig struct {
	t      *testing.T
	t0     time.Time
	clock  *clocktest.Manual
	p      *Placer
	policy GroupPolicy

	mu        sync.Mutex
	own       store.Ownership
	next      uint64 // the last index given out
	members   []string
	assigns   []plAssign
	notices   []plNotice
	assignErr error
}

func newPlacerRig(t *testing.T, policy GroupPolicy, hysteresis time.Duration, members ...string) *plRig {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	policy.Name = "g"
	r := &plRig{t: t, t0: t0, clock: clocktest.New(t0), policy: policy, next: 10, members: members}
	r.p = NewPlacer(PlacerConfig{
		Node:    "A",
		Groups:  []GroupPolicy{policy},
		Leading: func() (bool, time.Time) { return true, t0 },
		Committed: func() *store.Ownership {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.own.Clone()
		},
		Members: func() []string {
			r.mu.Lock()
			defer r.mu.Unlock()
			return slices.Clone(r.members)
		},
		Assign: func(_ context.Context, g string, a store.Assignment, reason string) (uint64, error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.assigns = append(r.assigns, plAssign{g, a, reason})
			if r.assignErr != nil {
				return 0, r.assignErr
			}
			r.next++
			a.Index, a.Reason = r.next, reason
			if err := r.own.Assign(g, a); err != nil {
				return 0, err
			}
			return r.next, nil
		},
		Notice: func(node, g string, index uint64) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.notices = append(r.notices, plNotice{node, g, index})
		},
		Hysteresis: hysteresis,
		Clock:      r.clock,
	})
	return r
}

func (r *plRig) at(d time.Duration) { r.clock.Set(r.t0.Add(d)) }

// commit puts a committed assignment of g in the ownership, as a former leader made it.
func (r *plRig) commit(a store.Assignment) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.own.Assign("g", a); err != nil {
		r.t.Fatal(err)
	}
}

// end puts a committed release of g in the ownership.
func (r *plRig) end(rel store.Release) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.own.End("g", rel); err != nil {
		r.t.Fatal(err)
	}
}

// hear delivers node's renewal with priority prio for g, claiming and saying it holds
// each assignment of holding.
func (r *plRig) hear(node string, prio int, holding ...uint64) {
	rn := Renewal{Version: ProtocolVersion, Node: node, Incarnation: node + "#1",
		Standing: Standing{Lease: 2 * time.Second, Delta: 200 * time.Millisecond, Priority: map[string]int{"g": prio}}}
	for _, idx := range holding {
		rn.Claims = append(rn.Claims, Claim{Group: "g", Index: idx, Incarnation: node + "#1"})
		rn.Holding = []string{"g"}
	}
	r.p.Heard(rn)
}

// pass places once and waits until every commit it started has finished; it returns
// the assignments those commits made.
func (r *plRig) pass() []plAssign {
	r.t.Helper()
	r.mu.Lock()
	n := len(r.assigns)
	r.mu.Unlock()
	r.p.pass(context.Background(), r.t0)
	// A commit clears its group from moving, then wakes the placer: once moving is
	// empty, every commit this pass started has called Assign and Notice.
	for {
		r.p.mu.Lock()
		busy := len(r.p.moving) > 0
		r.p.mu.Unlock()
		if !busy {
			break
		}
		select {
		case <-r.p.wake:
		case <-time.After(5 * time.Second):
			r.t.Fatal("a commit did not finish")
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.assigns[n:])
}

func (r *plRig) noticesSeen() []plNotice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.notices)
}

// plAssignment is the assignment of g to node as its renewal (hear) and the group's
// policy describe it.
func plAssignment(node string, policy GroupPolicy) store.Assignment {
	return store.Assignment{Node: node, Incarnation: node + "#1", Lease: 2 * time.Second, Delta: 200 * time.Millisecond,
		Lifetime: policy.Lifetime, Strict: policy.Strict}
}

// DESIGN §9.3, detection: a new leader that has not heard from an assignee gives it
// detect(a) = L/2 + 2δ from its election before it moves the group away.
func TestPlacerNewLeaderGivesAnUnheardAssigneeTheDetectionTime(t *testing.T) {
	b := store.Assignment{Index: 5, Node: "B", Incarnation: "B#1", Lease: 2 * time.Second, Delta: 200 * time.Millisecond}
	const detection = 1400 * time.Millisecond // 2s/2 + 2×200ms
	if got := detect(b); got != detection {
		t.Fatalf("detect = %v, want %v", got, detection)
	}
	for _, tc := range []struct {
		name   string
		before []store.Assignment // committed before b
		reason string
		stale  bool // B was heard, but only long before this node led
	}{
		{"it owes no wait: no holding report", nil, "no holding report from B", false},
		// B led until a moment ago and sent its renewals to itself: what this node
		// heard of it is from before, and counts as nothing heard.
		{"heard only before this node led", nil, "no holding report from B", true},
		// D#1 never released assignment 3: B owes 2.2s, so the lack of a report does
		// not count yet, but B, never heard, may not hold it.
		{"it owes a wait: not heard from", []store.Assignment{{Index: 3, Node: "D", Incarnation: "D#1", Lease: 2 * time.Second, Delta: 200 * time.Millisecond}},
			"B may not hold it: not heard from", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newPlacerRig(t, GroupPolicy{Lifetime: 3 * time.Second}, 0, "A", "B", "C")
			if tc.stale {
				r.at(-10 * time.Second)
				r.hear("B", 200)
			}
			for _, a := range tc.before {
				r.commit(a)
			}
			r.commit(b)
			for _, at := range []time.Duration{0, time.Second, detection} {
				r.at(at)
				r.hear("A", 100)
				r.hear("C", 150)
				if got := r.pass(); len(got) != 0 {
					t.Fatalf("at t0+%v, within the detection time: moved %+v", at, got)
				}
			}
			// Every active assignment is noticed to its assignee, once.
			if got, want := r.noticesSeen(), []plNotice{{"B", "g", 5}}; !slices.Equal(got, want) {
				t.Errorf("notices %+v, want %+v", got, want)
			}

			r.at(detection + time.Millisecond)
			r.hear("A", 100)
			r.hear("C", 150)
			want := []plAssign{{"g", plAssignment("C", r.policy), tc.reason}}
			if got := r.pass(); !slices.Equal(got, want) {
				t.Errorf("after the detection time: moved %+v, want %+v", got, want)
			}
			if got, want := r.noticesSeen(), []plNotice{{"B", "g", 5}, {"C", "g", 11}}; !slices.Equal(got, want) {
				t.Errorf("notices %+v, want %+v", got, want)
			}
		})
	}
}

// DESIGN §9.3, detection: a report of holding counts for the assignment it names.
// A node that still holds an older assignment of g does not keep the current
// assignee's group in place; the current assignee's own reports do.
func TestPlacerCountsHoldingReportsOfTheCurrentAssignmentOnly(t *testing.T) {
	for _, tc := range []struct {
		name    string
		bHolds  []uint64      // what B reports holding
		movedAt time.Duration // 0: never
	}{
		{"B never reports holding", nil, 1500 * time.Millisecond},
		{"B reports holding assignment 5", []uint64{5}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newPlacerRig(t, GroupPolicy{}, 0, "A", "B", "C")
			// A held g under assignment 3 and let it go, held, so B owes no wait.
			r.commit(store.Assignment{Index: 3, Node: "A", Incarnation: "A#1", Lease: 2 * time.Second})
			r.end(store.Release{Node: "A", Incarnation: "A#1", AssignIndex: 3, Held: true})
			r.commit(store.Assignment{Index: 5, Node: "B", Incarnation: "B#1", Lease: 2 * time.Second, Delta: 200 * time.Millisecond})
			var movedAt time.Duration
			for at := time.Duration(0); at <= 5*time.Second && movedAt == 0; at += 100 * time.Millisecond {
				r.at(at)
				r.hear("A", 150, 3) // holding g under assignment 3, it says
				r.hear("B", 120, tc.bHolds...)
				r.hear("C", 100)
				if got := r.pass(); len(got) > 0 {
					movedAt = at
					if !strings.HasPrefix(got[0].reason, "no holding report from B") {
						t.Errorf("moved for %q, want for no holding report from B", got[0].reason)
					}
				}
				if !r.p.Holding("g", 3).IsZero() {
					t.Fatal("a report of assignment 3 is still kept once 5 is current")
				}
			}
			if movedAt != tc.movedAt {
				t.Errorf("moved at t0+%v, want t0+%v (0: never)", movedAt, tc.movedAt)
			}
			if len(tc.bHolds) > 0 {
				if got := r.p.Holding("g", 5); !got.Equal(r.t0.Add(5 * time.Second)) {
					t.Errorf("B last reported holding at %v, want its latest renewal", got)
				}
			}
		})
	}
}

// A new leader gives every member formGrace to be heard before it places a group
// nobody holds; once all are heard, it places it at once on the best of them.
func TestPlacerWaitsToHearEveryMemberBeforePlacing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		heard map[string]int // node → priority, heard at t0
		at    time.Duration
		to    string // "": no move
	}{
		{"C not heard yet", map[string]int{"A": 100, "B": 120}, 100 * time.Millisecond, ""},
		{"C not heard, just before formGrace", map[string]int{"A": 100, "B": 120}, formGrace - time.Millisecond, ""},
		{"C not heard at formGrace", map[string]int{"A": 100, "B": 120}, formGrace, "B"},
		{"every member heard", map[string]int{"A": 100, "B": 120, "C": 150}, 0, "C"},
		{"every member heard, C not eligible for g", map[string]int{"A": 100, "B": 120, "C": 0}, 0, "B"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newPlacerRig(t, GroupPolicy{}, 0, "A", "B", "C")
			for node, prio := range tc.heard {
				r.hear(node, prio)
			}
			r.at(tc.at)
			var want []plAssign
			if tc.to != "" {
				want = []plAssign{{"g", plAssignment(tc.to, r.policy), "unassigned"}}
			}
			if got := r.pass(); !slices.Equal(got, want) {
				t.Errorf("moved %+v, want %+v", got, want)
			}
		})
	}
}

// DESIGN §9.2: a better node preempts only once its standing has been steady for
// preempt_delay plus the hysteresis, and no sooner than min_move_interval after the
// group's last automatic move; Explain says the same in words.
func TestPlacerPreemptsOnceSteadyAndNotTooSoon(t *testing.T) {
	const t1 = time.Second // when A's priority rises
	for _, tc := range []struct {
		name       string
		policy     GroupPolicy
		hysteresis time.Duration
		flap       bool          // A's priority changes again at t1+1s
		movedAt    time.Duration // 0: never (until t0+10s)
		reason     string
		pending    string // Explain, just before the pass at t1
	}{
		{"steady for the delay plus the hysteresis", GroupPolicy{Preempt: true, PreemptDelay: time.Second}, 500 * time.Millisecond,
			false, 2500 * time.Millisecond, "A has priority 200 > 150 on B",
			"A has priority 200 > 150 on B; moving at 12:00:02.500 (once that has been steady for preempt_delay plus hysteresis) unless that changes"},
		{"a change of standing starts the wait again", GroupPolicy{Preempt: true, PreemptDelay: time.Second}, 500 * time.Millisecond,
			true, 3500 * time.Millisecond, "A has priority 190 > 150 on B",
			"A has priority 200 > 150 on B; moving at 12:00:02.500 (once that has been steady for preempt_delay plus hysteresis) unless that changes"},
		{"min_move_interval after the last move", GroupPolicy{Preempt: true, PreemptDelay: time.Second, MinMoveInterval: 5 * time.Second}, 500 * time.Millisecond,
			false, 5 * time.Second, "A has priority 200 > 150 on B",
			"A has priority 200 > 150 on B; moving at 12:00:05.000 (min_move_interval after its last move) unless that changes"},
		{"no delay at all", GroupPolicy{Preempt: true}, 0,
			false, t1, "A has priority 200 > 150 on B",
			"A has priority 200 > 150 on B; moving now"},
		{"preempt off", GroupPolicy{PreemptDelay: time.Second}, 500 * time.Millisecond,
			false, 0, "",
			"preempt is off: A has priority 200 > 150 on B; it stays"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newPlacerRig(t, tc.policy, tc.hysteresis, "A", "B")
			// At t0 B is the best node; the group, unassigned, goes to it: the group's
			// last automatic move.
			r.hear("A", 100)
			r.hear("B", 150)
			if got := r.pass(); len(got) != 1 || got[0].a.Node != "B" {
				t.Fatalf("first placement %+v, want g on B", got)
			}
			var movedAt time.Duration
			for at := t1; at <= 10*time.Second && movedAt == 0; at += 100 * time.Millisecond {
				r.at(at)
				prio := 200
				if tc.flap && at >= t1+time.Second {
					prio = 190
				}
				r.hear("A", prio)
				r.hear("B", 150, 11)
				if at == t1 {
					out, ok := r.p.Explain()
					want := []Outlook{{Group: "g", Preferred: "A", Pending: tc.pending}}
					if !ok || !slices.Equal(out, want) {
						t.Errorf("Explain = %+v, %v\nwant      %+v", out, ok, want)
					}
				}
				if got := r.pass(); len(got) > 0 {
					movedAt = at
					want := []plAssign{{"g", plAssignment("A", r.policy), tc.reason}}
					if !slices.Equal(got, want) {
						t.Errorf("at t0+%v: moved %+v, want %+v", at, got, want)
					}
				}
			}
			if movedAt != tc.movedAt {
				t.Errorf("moved at t0+%v, want t0+%v (0: never)", movedAt, tc.movedAt)
			}
		})
	}
}

// MoveNow is an operator's move: it ignores the preempt rules and the rate limit,
// commits the assignment with the operator's reason and notices the new assignee.
func TestPlacerMoveNow(t *testing.T) {
	policy := GroupPolicy{Preempt: true, PreemptDelay: time.Hour, MinMoveInterval: time.Hour, Lifetime: 3 * time.Second, Strict: true}
	r := newPlacerRig(t, policy, time.Second, "A", "B")
	r.hear("A", 200)
	r.hear("B", 100)
	if got := r.pass(); len(got) != 1 || got[0].a.Node != "A" {
		t.Fatalf("first placement %+v, want g on A, its best node", got)
	}

	r.at(time.Second)
	idx, err := r.p.MoveNow(context.Background(), "g", "B", "transfer by operator")
	if err != nil || idx != 12 {
		t.Fatalf("MoveNow = %d, %v; want index 12", idx, err)
	}
	r.mu.Lock()
	got := slices.Clone(r.assigns[1:])
	r.mu.Unlock()
	if want := []plAssign{{"g", plAssignment("B", policy), "transfer by operator"}}; !slices.Equal(got, want) {
		t.Errorf("assigned %+v, want %+v", got, want)
	}
	// Noticed once: by MoveNow, not again by the next pass.
	r.hear("A", 200)
	r.hear("B", 100, 12)
	r.pass()
	if got, want := r.noticesSeen(), []plNotice{{"A", "g", 11}, {"B", "g", 12}}; !slices.Equal(got, want) {
		t.Errorf("notices %+v, want %+v", got, want)
	}

	// A node the leader never heard from cannot be given a group; a failed commit
	// is an error and no notice.
	if _, err := r.p.MoveNow(context.Background(), "g", "Z", "transfer by operator"); err == nil {
		t.Error("MoveNow to a node never heard from: no error")
	}
	r.mu.Lock()
	r.assignErr = errors.New("leadership lost")
	r.mu.Unlock()
	if _, err := r.p.MoveNow(context.Background(), "g", "A", "transfer by operator"); err == nil {
		t.Error("MoveNow whose commit failed: no error")
	}
	r.mu.Lock()
	assigns := len(r.assigns)
	r.mu.Unlock()
	if assigns != 3 || len(r.noticesSeen()) != 2 {
		t.Errorf("%d assigns, %d notices; want no assign to Z and no notice of the failed one", assigns, len(r.noticesSeen()))
	}
}

// PlaceNode.Groups: StableSince is since when a node's priority and its eligibility
// have been what they are. A node that was ineligible for a while (not heard from:
// crashed, restarted or cut off; or in FAULT) and comes back has been steady only
// since it came back.
func TestPlacerReturningNodeWaitsOutTheHysteresis(t *testing.T) {
	for _, tc := range []struct {
		name string
		away func(r *plRig) // what the leader hears of A while it is away
	}{
		{"not heard from", func(*plRig) {}},
		{"in FAULT", func(r *plRig) {
			r.p.Heard(Renewal{Version: ProtocolVersion, Node: "A", Incarnation: "A#1", Standing: Standing{
				Fault: "the log holds a record this version does not know", Lease: 2 * time.Second,
				Delta: 200 * time.Millisecond, Priority: map[string]int{"g": 200}}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newPlacerRig(t, GroupPolicy{Preempt: true, PreemptDelay: 5 * time.Second}, 500*time.Millisecond, "A", "B")
			r.commit(store.Assignment{Index: 5, Node: "B", Incarnation: "B#1", Lease: 2 * time.Second, Delta: 200 * time.Millisecond})
			// A, better, is heard for half a second, then is away until t0+10s.
			for at := time.Duration(0); at <= 10*time.Second; at += 100 * time.Millisecond {
				r.at(at)
				if at <= 500*time.Millisecond {
					r.hear("A", 200)
				} else {
					tc.away(r)
				}
				r.hear("B", 150, 5)
				if got := r.pass(); len(got) != 0 {
					t.Fatalf("at t0+%v: moved %+v before A was steady", at, got)
				}
			}
			// A is back as it was: steady since t0+10.1s, it may preempt at t0+15.6s.
			var movedAt time.Duration
			for at := 10100 * time.Millisecond; at <= 17*time.Second && movedAt == 0; at += 100 * time.Millisecond {
				r.at(at)
				r.hear("A", 200)
				r.hear("B", 150, 5)
				if got := r.pass(); len(got) > 0 {
					movedAt = at
				}
			}
			if want := 15600 * time.Millisecond; movedAt != want {
				t.Errorf("A preempted at t0+%v, want t0+%v: steady for preempt_delay plus hysteresis after it came back", movedAt, want)
			}
		})
	}
}

// An assignment this leader made (here by MoveNow) is given twice the detection time
// before its assignee's first holding report: a node that is catching up receives the
// entry late. One it inherited is not (TestPlacerNewLeaderGivesAnUnheardAssigneeTheDetectionTime).
func TestPlacerGivesItsOwnNewAssigneeTime(t *testing.T) {
	r := newPlacerRig(t, GroupPolicy{}, 0, "A", "B", "C")
	r.at(0)
	r.hear("A", 100)
	r.hear("B", 150)
	r.hear("C", 120)
	if _, err := r.p.MoveNow(context.Background(), "g", "B", "operator transfer"); err != nil {
		t.Fatal(err)
	}
	const detection = 1400 * time.Millisecond // 2s/2 + 2×200ms, B's lease and δ
	for at := time.Duration(0); at <= 2*detection; at += 100 * time.Millisecond {
		r.at(at)
		r.hear("A", 100)
		r.hear("B", 150) // renews, but reports no holding
		r.hear("C", 120)
		if got := r.pass(); len(got) > 0 {
			t.Fatalf("at t0+%v, within twice the detection time: moved %+v", at, got)
		}
	}
	r.at(2*detection + 100*time.Millisecond)
	r.hear("A", 100)
	r.hear("C", 120)
	if got := r.pass(); len(got) != 1 || !strings.HasPrefix(got[0].reason, "no holding report from B") {
		t.Errorf("after twice the detection time: moved %+v, want away from B", got)
	}
}
