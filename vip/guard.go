package vip

import (
	"fmt"
	"io"
	"net/netip"
)

// Guard waits until r reports end of file or an error, then removes every configured
// address from the interface, as Cleanup does, and returns what it removed.
//
// It is the body of a small companion process: the agent starts it with r the read
// end of a pipe whose write end only the agent holds. The kernel closes that end
// when the agent exits for any reason, SIGKILL and the OOM killer included, so a
// crashed holder's addresses go at once instead of when their lifetime runs out.
// The lifetime stays the backstop for what the guard cannot see: a frozen agent, or
// a guard that died too.
func Guard(r io.Reader, m *Manager) ([]netip.Prefix, error) {
	_, err := io.Copy(io.Discard, r)
	removed, cerr := m.Cleanup()
	if cerr != nil {
		return removed, fmt.Errorf("vip: guard: %w", cerr)
	}
	if err != nil {
		// The agent's end is unusable; it is gone either way.
		return removed, fmt.Errorf("vip: guard: read from the agent: %w", err)
	}
	return removed, nil
}
