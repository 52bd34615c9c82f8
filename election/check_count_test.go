package election

import (
	"testing"
	"testing/synctest"
	"time"
)

// Every raw result counts, whatever debouncing makes of it: a timeout is a failure,
// and Carry keeps the counts across a reload so they stay monotonic.
func TestCheckerCountsResults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := &ckProber{results: []ckResult{ckPass("ok"), ckFail("down"), {ctx: true}, ckPass("ok")}}
		c, stop := ckRun(t, []Check{{Name: "web", Type: "tcp", Interval: time.Second, Timeout: 500 * time.Millisecond, Fall: 3, Probe: p}}, nil, nil)
		// Results at 0 (pass), 1s (fail), 2.5s (timeout: fail); stop before the next.
		ckAt(start, 2700*time.Millisecond)
		stop()
		s := c.States()[0]
		if s.Passes != 1 || s.Fails != 2 || !s.Passing {
			t.Fatalf("after pass, fail, timeout with fall 3: %+v, want 1 pass, 2 fails, still passing", s)
		}
		next := NewChecker([]Check{{Name: "web", Type: "tcp", Interval: time.Second, Probe: p}}, SystemClock{}, nil, nil)
		next.Carry(c.States())
		if n := next.States()[0]; n.Passes != 1 || n.Fails != 2 {
			t.Fatalf("carried: %+v, want the counts kept", n)
		}
	})
}
