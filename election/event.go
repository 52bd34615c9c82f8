package election

import "time"

// MoveEvent is one change of this node's holding, as Config.OnMove reports it.
type MoveEvent struct {
	// Held is true when this node started holding the VIP, false when it stopped.
	Held bool
	// Reason is why. Taking the VIP: the move log line's reason (DescribeMove: a
	// release record's reason, "leader lost", "re-elected" or "first claim"). Giving
	// it up: the planned move's reason (Move.Reason) when Planned, else the
	// decision's Reason (no lease, not the leader, not eligible: ..., a VRRP gate).
	Reason string
	// Planned is set when this node gave the VIP up for a planned move (Handoff).
	Planned bool
	// SinceLeader is, when Held, how long after this node became leader in the term
	// it started holding: about the claim delay after a failover, a commit after a
	// planned move.
	SinceLeader time.Duration
}
