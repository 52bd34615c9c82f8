package election

import (
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	// leader is a leader in term 5 with a claim and a fresh lease, 1 s into its term.
	leader := Inputs{
		Now: ms(1000), Role: Leader, Term: 5,
		LeaseUntil: ms(1100), LeaseTerm: 5,
		ClaimTerm:   5,
		LeaderSince: ms(0), ClaimDelay: 400 * time.Millisecond,
	}
	with := func(f func(*Inputs)) Inputs { in := leader; f(&in); return in }

	tests := []struct {
		name   string
		in     Inputs
		hold   bool
		reason Reason
		step   Step
		wakeAt time.Time
	}{
		{"leader with lease after delay holds", leader, true, ReasonHolding, StepNone, ms(1100)},
		{"follower never holds", with(func(in *Inputs) { in.Role = Follower }), false, ReasonNotLeader, StepNone, time.Time{}},
		{"candidate never holds", with(func(in *Inputs) { in.Role = Candidate }), false, ReasonNotLeader, StepNone, time.Time{}},
		{"shut down never holds", with(func(in *Inputs) { in.Role = Shutdown }), false, ReasonShuttingDown, StepNone, time.Time{}},
		{"releasing drops first", with(func(in *Inputs) { in.Releasing = true }), false, ReasonReleasing, StepNone, time.Time{}},
		{"foreign VRRP master blocks a holder", with(func(in *Inputs) { in.Blocked, in.BlockedUntil = "VRRP backup: ka1", ms(4000) }),
			false, Reason("VRRP backup: ka1"), StepNone, ms(4000)},
		{"foreign VRRP master blocks the claim too", with(func(in *Inputs) { in.Blocked, in.Term = "VRRP backup: ka1", 6 }),
			false, Reason("VRRP backup: ka1"), StepNone, time.Time{}},
		{"a follower is not blocked, just not leader", with(func(in *Inputs) { in.Blocked, in.Role = "VRRP backup: ka1", Follower }),
			false, ReasonNotLeader, StepNone, time.Time{}},
		{"releasing wins over blocked", with(func(in *Inputs) { in.Blocked, in.Releasing = "VRRP backup: ka1", true }),
			false, ReasonReleasing, StepNone, time.Time{}},
		{"new term needs a claim", with(func(in *Inputs) { in.Term = 6 }), false, ReasonClaiming, StepClaim, time.Time{}},
		{"claim from an old term does not count", with(func(in *Inputs) { in.ClaimTerm = 4 }), false, ReasonClaiming, StepClaim, time.Time{}},
		// §2 Lease: the VIP is dropped the moment now > leaseUntil.
		{"lease expired", with(func(in *Inputs) { in.Now = ms(1100) }), false, ReasonNoLease, StepNone, time.Time{}},
		{"lease from an old term", with(func(in *Inputs) { in.LeaseTerm = 4 }), false, ReasonNoLease, StepNone, time.Time{}},
		{"no lease yet", with(func(in *Inputs) { in.LeaseUntil, in.LeaseTerm = time.Time{}, 0 }), false, ReasonNoLease, StepNone, time.Time{}},
		// §2 Claim: wait D unless the previous record is a release.
		{"claim delay still running", with(func(in *Inputs) { in.Now, in.LeaseUntil = ms(300), ms(450) }), false, ReasonClaimDelay, StepNone, ms(400)},
		{"claim delay wakes at lease end if sooner", with(func(in *Inputs) { in.Now, in.LeaseUntil = ms(300), ms(350) }), false, ReasonClaimDelay, StepNone, ms(350)},
		{"claim delay just over", with(func(in *Inputs) { in.Now, in.LeaseUntil = ms(400), ms(450) }), true, ReasonHolding, StepNone, ms(450)},
		{"immediate claim skips the delay", with(func(in *Inputs) { in.Now, in.LeaseUntil, in.ClaimImmediate = ms(10), ms(50), true }), true, ReasonHolding, StepNone, ms(50)},
		// §3: an ineligible node never claims; a FAULT drops at once; a drained holder
		// keeps the VIP only while a planned move to another voter is pending.
		{"ineligible leader never claims", with(func(in *Inputs) { in.Term, in.Ineligible = 6, "drained" }), false, ReasonIneligible + "drained", StepNone, time.Time{}},
		{"FAULT drops a held VIP", with(func(in *Inputs) { in.Ineligible, in.Fault = "FAULT: check haproxy failing", true }), false, ReasonIneligible + "FAULT: check haproxy failing", StepNone, time.Time{}},
		{"FAULT drops even with a move pending", with(func(in *Inputs) { in.Ineligible, in.Fault, in.MovePending = "FAULT", true, true }), false, ReasonIneligible + "FAULT", StepNone, time.Time{}},
		{"drained with nobody to take over lets go", with(func(in *Inputs) { in.Ineligible = "drained" }), false, ReasonIneligible + "drained", StepNone, time.Time{}},
		{"drained holder keeps the VIP for the planned move", with(func(in *Inputs) { in.Ineligible, in.MovePending = "drained", true }), true, ReasonHolding, StepNone, ms(1100)},
		{"drained follower", with(func(in *Inputs) { in.Role, in.Ineligible = Follower, "drained" }), false, ReasonNotLeader, StepNone, time.Time{}},
		{"immediate claim still needs a lease", with(func(in *Inputs) { in.Now, in.LeaseUntil, in.ClaimImmediate = ms(10), ms(5), true }), false, ReasonNoLease, StepNone, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.in)
			if d.Hold != tt.hold || d.Reason != tt.reason || d.Step != tt.step || !d.WakeAt.Equal(tt.wakeAt) {
				t.Errorf("Decide = {hold %v, %q, step %d, wake %v}, want {hold %v, %q, step %d, wake %v}",
					d.Hold, d.Reason, d.Step, d.WakeAt, tt.hold, tt.reason, tt.step, tt.wakeAt)
			}
		})
	}
}

func TestClaimIsImmediate(t *testing.T) {
	tests := []struct {
		name string
		last Record
		ok   bool
		want bool
	}{
		{"no record: nobody ever held", Record{}, false, true},
		{"release by the old holder", Record{Kind: KindRelease, Node: "lb2", Term: 3}, true, true},
		{"release naming another target", Record{Kind: KindRelease, Node: "lb2", Handoff: "lb3"}, true, true},
		{"our own claim: nobody claimed since", Record{Kind: KindClaim, Node: "lb1", Term: 3}, true, true},
		{"another node's claim: it may still hold", Record{Kind: KindClaim, Node: "lb2", Term: 3}, true, false},
		{"unknown kind is not trusted", Record{Kind: "drain", Node: "lb2"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ClaimIsImmediate(tt.last, tt.ok, "lb1"); got != tt.want {
				t.Errorf("ClaimIsImmediate(%+v, %v) = %v, want %v", tt.last, tt.ok, got, tt.want)
			}
		})
	}
}
