package test

import (
	"fmt"
	"time"
)

// failoverTarget is the crash failover DESIGN promises per timing profile: the median
// client gap after the holder's host dies.
var failoverTarget = map[string]time.Duration{
	"lan":  time.Second,
	"fast": 350 * time.Millisecond,
}

// FailoverBound is the largest median gap of crash failovers (the holder unplugged)
// that the programs measuring them accept for a timing profile: three times the
// target, so a noisy machine passes and a broken failover does not. ok is false for
// a profile without a target.
func FailoverBound(profile string) (bound time.Duration, ok bool) {
	t, ok := failoverTarget[profile]
	return 3 * t, ok
}

// CheckFailoverMedian returns an error that names the broken promise when the median
// of gaps, the client gaps of crash failovers with profile, is above FailoverBound.
func CheckFailoverMedian(profile string, gaps []time.Duration) error {
	bound, ok := FailoverBound(profile)
	if !ok || len(gaps) == 0 {
		return nil
	}
	if m := Median(gaps); m > bound {
		return fmt.Errorf("crash failover with the %s profile: median gap %s over %d trials, above %s (three times the %s target)",
			profile, Millis(m), len(gaps), Millis(bound), Millis(failoverTarget[profile]))
	}
	return nil
}
