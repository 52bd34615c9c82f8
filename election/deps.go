package election

import (
	"context"
	"time"
)

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
