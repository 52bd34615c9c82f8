package vip

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// Guard waits until r reports end of file or an error, then removes every configured
// address of every manager from its interface, as Cleanup does, and returns what it
// removed.
//
// It is the body of a small companion process: the agent starts it with r the read
// end of a pipe whose write end only the agent holds. The kernel closes that end
// when the agent exits for any reason, SIGKILL and the OOM killer included, so a
// crashed holder's addresses go at once instead of when their lifetime runs out.
// The lifetime stays the backstop for what the guard cannot see: a frozen agent, or
// a guard that died too.
func Guard(r io.Reader, ms ...*Manager) ([]netip.Prefix, error) {
	_, err := io.Copy(io.Discard, r)
	var removed []netip.Prefix
	var cerrs []error
	for _, m := range ms {
		rm, cerr := m.Cleanup()
		removed = append(removed, rm...)
		if cerr != nil {
			cerrs = append(cerrs, cerr)
		}
	}
	if cerr := errors.Join(cerrs...); cerr != nil {
		return removed, fmt.Errorf("vip: guard: %w", cerr)
	}
	if err != nil {
		// The agent's end is unusable; it is gone either way.
		return removed, fmt.Errorf("vip: guard: read from the agent: %w", err)
	}
	return removed, nil
}
