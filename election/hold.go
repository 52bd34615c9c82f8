package election

import "time"

// Reason says why a group is, or is not, held here. The strings appear in status and
// logs.
type Reason string

// The reasons a group is, or is not, held by its assignee.
const (
	ReasonHolding Reason = "holding"
	// ReasonIneligible prefixes why this node may not hold: FAULT, drained.
	ReasonIneligible   Reason = "not eligible: "
	ReasonNotAssigned  Reason = "not assigned here"
	ReasonUncommitted  Reason = "assigned: waiting to learn that the assignment committed"
	ReasonOwedWait     Reason = "assigned: waiting out the previous holders' leases"
	ReasonNoGroupLease Reason = "assigned: no lease: a majority of voters has not vouched for this assignment in time"
)

// GroupInputs is what a node knows, at Now, of one group.
type GroupInputs struct {
	Now time.Time
	// Mine: the latest assignment of the group in this node's log, committed or not,
	// names this node in this incarnation and no release has ended it.
	Mine bool
	// CommittedAt is when this node learned that the assignment committed (from its
	// own commit index, or from the leader's notice); zero while it does not know.
	CommittedAt time.Time
	// Wait is W(g): what the assignee owes before it may hold. 0 when the assignment
	// before it ended with a held release.
	Wait time.Duration
	// LeaseUntil is when the group's quorum lease runs out.
	LeaseUntil time.Time
	// Ineligible, when not empty, says why this node must not hold (FAULT, drained,
	// a stop under way).
	Ineligible string
	// Blocked, when not empty, says why an authority outside the cluster forbids
	// holding (a foreign VRRP master of higher priority), until BlockedUntil if known.
	Blocked      string
	BlockedUntil time.Time
}

// GroupDecision is whether to hold the group now, why, and when that could change
// without any event (zero: only an event changes it).
type GroupDecision struct {
	Hold   bool
	Reason Reason
	WakeAt time.Time
}

// DecideGroup decides whether a node holds a group (DESIGN §9.3): only an eligible
// assignee, in the incarnation the assignment names, that knows the assignment
// committed, has waited W(g) since it learned that, and whose quorum lease has not run
// out. It is pure: the same inputs give the same decision.
func DecideGroup(in GroupInputs) GroupDecision {
	switch {
	case !in.Mine:
		return GroupDecision{Reason: ReasonNotAssigned}
	case in.Ineligible != "":
		return GroupDecision{Reason: ReasonIneligible + Reason(in.Ineligible)}
	case in.Blocked != "":
		return GroupDecision{Reason: Reason(in.Blocked), WakeAt: in.BlockedUntil}
	case in.CommittedAt.IsZero():
		return GroupDecision{Reason: ReasonUncommitted}
	}
	if holdAt := in.CommittedAt.Add(in.Wait); in.Now.Before(holdAt) {
		return GroupDecision{Reason: ReasonOwedWait, WakeAt: holdAt}
	}
	if !in.Now.Before(in.LeaseUntil) {
		return GroupDecision{Reason: ReasonNoGroupLease}
	}
	return GroupDecision{Hold: true, Reason: ReasonHolding, WakeAt: in.LeaseUntil}
}
