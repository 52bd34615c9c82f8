package election

import (
	"context"
	"time"

	"github.com/hashicorp/raft"
)

// Raft is the part of *raft.Raft the election needs.
type Raft interface {
	State() raft.RaftState
	CurrentTerm() uint64
	VerifyLeader() raft.Future
	LeaderWithID() (raft.ServerAddress, raft.ServerID)
	LeadershipTransfer() raft.Future
	LeadershipTransferToServer(id raft.ServerID, address raft.ServerAddress) raft.Future
	GetConfiguration() raft.ConfigurationFuture
	// LastContact is when a follower last heard from its leader.
	LastContact() time.Time
}

// Kinds of ownership record.
const (
	KindClaim   = "claim"
	KindRelease = "release"
)

// Record is one committed ownership record, as the ledger reports it.
type Record struct {
	Kind    string
	Node    string
	Term    uint64
	Handoff string
	Reason  string    // release only: why
	At      time.Time // when the proposer stamped it (its wall clock)
}

// Ledger is the replicated log of ownership records.
type Ledger interface {
	// Last returns the most recently applied record, if any.
	Last() (Record, bool)
	// Claim commits a claim by node in term and returns once it is applied, with the
	// record the claim followed in the log (ok false: there was none).
	Claim(node string, term uint64, timeout time.Duration) (previous Record, ok bool, err error)
	// Release commits a release by node in term, naming the hand-off target if any.
	// pin marks an operator transfer: it pins the VIP on handoff (see Pinned).
	Release(node string, term uint64, handoff, reason string, pin bool, timeout time.Duration) error
	// Pinned returns the node an operator transfer pinned the VIP to, or "": the
	// target of the latest release if that release was pinned and every claim since
	// is the target's.
	Pinned() string
}

// VIP puts the addresses on this node's interface or takes them off. Set must be
// idempotent: the loop calls it on every pass.
type VIP interface {
	Set(ctx context.Context, hold bool) error
}

// Drainer is implemented by a VIP that can hold off new connections for a while before
// a planned removal, so requests already in flight on established connections are
// answered by this node rather than reset by the next holder.
type Drainer interface {
	Drain(ctx context.Context) error
}

// Clock is the time source. Tests pass a fake; the agent passes SystemClock.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func roleOf(s raft.RaftState) Role {
	switch s {
	case raft.Leader:
		return Leader
	case raft.Candidate:
		return Candidate
	case raft.Shutdown:
		return Shutdown
	}
	return Follower
}
