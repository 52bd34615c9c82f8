package election

import "time"

// Role is this node's Raft role as the decision sees it.
type Role int

// The roles, in the order hashicorp/raft numbers them.
const (
	Follower Role = iota
	Candidate
	Leader
	Shutdown
)

func (r Role) String() string {
	switch r {
	case Follower:
		return "follower"
	case Candidate:
		return "candidate"
	case Leader:
		return "leader"
	case Shutdown:
		return "shutdown"
	}
	return "unknown"
}

// Step is the one piece of Raft work a decision may ask for.
type Step int

// The steps. Each runs in the background and wakes the loop when it completes.
const (
	StepNone  Step = iota
	StepClaim      // commit a claim record {node, term}
)

// Reason says why the VIP is, or is not, held. The strings appear in status and logs.
type Reason string

// The reasons a decision can give.
const (
	ReasonHolding      Reason = "holding"
	ReasonReleasing    Reason = "releasing: planned move or shutdown in progress"
	ReasonNotLeader    Reason = "not the raft leader"
	ReasonClaiming     Reason = "new leader: committing the claim record"
	ReasonNoLease      Reason = "no lease: leadership not confirmed by a quorum"
	ReasonClaimDelay   Reason = "new leader: waiting out the claim delay"
	ReasonShuttingDown Reason = "shut down"
	// ReasonIneligible prefixes why this node may not hold: FAULT, drained.
	ReasonIneligible Reason = "not eligible: "
)

// Inputs is everything the decision looks at. The loop gathers it afresh on every pass.
type Inputs struct {
	Now  time.Time
	Role Role
	Term uint64 // Raft's current term

	// LeaseUntil is when the lease confirmed in LeaseTerm runs out.
	LeaseUntil time.Time
	LeaseTerm  uint64

	ClaimTerm uint64 // term in which our claim record last committed (0: none standing)

	// ClaimImmediate is true when the record our claim followed in the log proves nobody
	// else can still hold the VIP: a release, our own claim, or no record at all.
	ClaimImmediate bool
	// LeaderSince is when this node first saw itself leader in Term.
	LeaderSince time.Time
	// ClaimDelay is D, plus the address lifetime under strict fencing.
	ClaimDelay time.Duration

	Releasing bool // a planned move or shutdown wants the VIP off this node

	// Blocked, when set, says why an authority outside the cluster forbids holding
	// the VIP (a foreign VRRP master of higher priority); BlockedUntil is when that
	// may end by itself (its master-down timer), zero if not known.
	Blocked      string
	BlockedUntil time.Time

	// Ineligible, when not empty, says why this node may not take the VIP (FAULT,
	// drained). An ineligible leader never claims.
	Ineligible string
	// Fault means a weight-0 check fails: the VIP comes off at once.
	Fault bool
	// MovePending means the policy has found another voter to hand the VIP to. An
	// ineligible holder that is not in FAULT (drained, say) keeps the VIP until the
	// planned move takes it, so requests in flight are not cut off; with nobody to hand
	// it to, it lets go at once.
	MovePending bool
}

// Decision is what the loop must make true.
type Decision struct {
	Hold   bool
	Reason Reason
	Step   Step
	// WakeAt is when the decision could change without any event; zero means no deadline.
	WakeAt time.Time
}

// Decide computes the desired VIP state from scratch. It is pure: the same inputs give
// the same decision.
//
// The VIP is held only by an eligible leader that has committed a claim in its current term, whose
// lease (confirmed by a quorum in that term) has not run out, and whose claim delay has
// passed. Every other combination means "not held". A committed entry of the current
// term commits every entry before it, so the claim is also the new leader's barrier: it
// cannot hold on a stale view of the ownership log.
func Decide(in Inputs) Decision {
	switch {
	case in.Role == Shutdown:
		return Decision{Reason: ReasonShuttingDown}
	case in.Releasing:
		return Decision{Reason: ReasonReleasing}
	case in.Role != Leader:
		return Decision{Reason: ReasonNotLeader}
	case in.Blocked != "":
		return Decision{Reason: Reason(in.Blocked), WakeAt: in.BlockedUntil}
	case in.Ineligible != "" && (in.Fault || !in.MovePending || in.ClaimTerm != in.Term):
		return Decision{Reason: ReasonIneligible + Reason(in.Ineligible)}
	case in.ClaimTerm != in.Term:
		return Decision{Reason: ReasonClaiming, Step: StepClaim}
	}
	if in.LeaseTerm != in.Term || !in.Now.Before(in.LeaseUntil) {
		return Decision{Reason: ReasonNoLease}
	}
	if !in.ClaimImmediate {
		if holdAt := in.LeaderSince.Add(in.ClaimDelay); in.Now.Before(holdAt) {
			return Decision{Reason: ReasonClaimDelay, WakeAt: earliest(holdAt, in.LeaseUntil)}
		}
	}
	return Decision{Hold: true, Reason: ReasonHolding, WakeAt: in.LeaseUntil}
}

// ClaimIsImmediate reports whether a claim that follows last may hold at once: the last
// record is a release (its holder removed the addresses before committing it), our own
// claim (nobody claimed since), or there is no record at all.
func ClaimIsImmediate(last Record, ok bool, self string) bool {
	if !ok {
		return true
	}
	switch last.Kind {
	case KindRelease:
		return true
	case KindClaim:
		return last.Node == self
	}
	return false
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
