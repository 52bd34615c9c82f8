package election

import (
	"slices"
	"testing"
	"time"
)

func TestVouch(t *testing.T) {
	cfg := Configuration{Index: 4, Term: 2, Voters: []string{"A", "B", "C"}}
	cur := Vouched{Index: 9, Node: "A", Incarnation: "A#1"}
	claim := Claim{Group: "g", Index: 9, Incarnation: "A#1"}
	for _, tc := range []struct {
		name  string
		self  string
		cur   Vouched
		node  string
		claim Claim
		want  bool
	}{
		{"the very assignment", "B", cur, "A", claim, true},
		{"a non-voter never vouches", "D", cur, "A", claim, false},
		{"another assignment", "B", Vouched{Index: 11, Node: "A", Incarnation: "A#1"}, "A", claim, false},
		{"another incarnation", "B", cur, "A", Claim{Group: "g", Index: 9, Incarnation: "A#2"}, false},
		{"another node", "B", cur, "C", claim, false},
		{"an ended assignment", "B", Vouched{Index: 9, Node: "A", Incarnation: "A#1", Ended: true}, "A", claim, false},
		{"never assigned", "B", Vouched{}, "A", Claim{Group: "g"}, false},
	} {
		if got := Vouch(tc.self, cfg, tc.cur, tc.node, tc.claim); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLeasesNeedAMajorityOfOneConfiguration(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c1 := Configuration{Index: 1, Term: 1, Voters: []string{"A", "B", "C"}}
	c2 := Configuration{Index: 7, Term: 2, Voters: []string{"A", "B", "C", "D"}}
	var l Leases
	l.Start(1, t0, map[string]time.Duration{"g": 120 * time.Millisecond})
	// A reports c1, B reports c2: no majority of either.
	l.Receive(Ack{Round: 1, Voter: "A", Config: c1, Groups: []string{"g"}})
	if got := l.Receive(Ack{Round: 1, Voter: "B", Config: c2, Groups: []string{"g"}}); len(got) != 0 || !l.Until("g").IsZero() {
		t.Fatalf("a lease from two configurations: %v until %v", got, l.Until("g"))
	}
	// A non-voter of the configuration it reports counts for nothing.
	l.Receive(Ack{Round: 1, Voter: "E", Config: c1, Groups: []string{"g"}})
	if !l.Until("g").IsZero() {
		t.Fatal("a non-voter's acknowledgement counted")
	}
	// C reports c1 too: A and C are a majority of c1.
	if got := l.Receive(Ack{Round: 1, Voter: "C", Config: c1, Groups: []string{"g"}}); !slices.Equal(got, []string{"g"}) {
		t.Fatalf("A and C of c1: extended %v", got)
	}
	if want := t0.Add(120 * time.Millisecond); !l.Until("g").Equal(want) {
		t.Errorf("lease until %v, want the round's start plus L, %v", l.Until("g"), want)
	}
	// An older round never shortens it; a forgotten round counts for nothing.
	l.Forget(t0.Add(time.Millisecond))
	if got := l.Receive(Ack{Round: 1, Voter: "B", Config: c1, Groups: []string{"g"}}); len(got) != 0 {
		t.Errorf("a forgotten round extended %v", got)
	}
	l.Drop("g")
	if !l.Until("g").IsZero() {
		t.Error("Drop kept the lease")
	}
}

func TestDecideGroup(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	base := GroupInputs{Now: ms(500), Mine: true, CommittedAt: ms(100), Wait: 200 * time.Millisecond, LeaseUntil: ms(600)}
	for _, tc := range []struct {
		name   string
		change func(*GroupInputs)
		hold   bool
		reason Reason
		wake   time.Time
	}{
		{"held until the lease ends", func(*GroupInputs) {}, true, ReasonHolding, ms(600)},
		{"not assigned here", func(in *GroupInputs) { in.Mine = false }, false, ReasonNotAssigned, time.Time{}},
		{"not known committed", func(in *GroupInputs) { in.CommittedAt = time.Time{} }, false, ReasonUncommitted, time.Time{}},
		{"still owes its wait", func(in *GroupInputs) { in.Now = ms(250) }, false, ReasonOwedWait, ms(300)},
		{"no lease", func(in *GroupInputs) { in.LeaseUntil = ms(500) }, false, ReasonNoGroupLease, time.Time{}},
		{"FAULT", func(in *GroupInputs) { in.Ineligible = "FAULT" }, false, ReasonIneligible + "FAULT", time.Time{}},
		{"a foreign VRRP master", func(in *GroupInputs) { in.Blocked, in.BlockedUntil = "VRRP backup", ms(900) }, false, "VRRP backup", ms(900)},
	} {
		in := base
		tc.change(&in)
		d := DecideGroup(in)
		if d.Hold != tc.hold || d.Reason != tc.reason || !d.WakeAt.Equal(tc.wake) {
			t.Errorf("%s: %+v, want hold %v, %q, wake %v", tc.name, d, tc.hold, tc.reason, tc.wake)
		}
	}
}
