package clocktest

import (
	"slices"
	"sync"
	"time"
)

// Manual is a clock that moves only by Set and Advance. A channel from After fires
// once the clock has been moved to or past its deadline; at once if d ≤ 0.
type Manual struct {
	mu     sync.Mutex
	now    time.Time
	timers []timer
}

type timer struct {
	at time.Time
	ch chan time.Time
}

// New returns a Manual clock that reads t.
func New(t time.Time) *Manual { return &Manual{now: t} }

// Now returns the clock's time.
func (c *Manual) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the clock's time once it reaches now + d.
func (c *Manual) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, timer{at: c.now.Add(d), ch: ch})
	return ch
}

// Set moves the clock to t and fires the timers due by then.
func (c *Manual) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	c.timers = slices.DeleteFunc(c.timers, func(tm timer) bool {
		if tm.at.After(t) {
			return false
		}
		tm.ch <- t
		return true
	})
}

// Advance moves the clock on by d and fires the timers due by then.
func (c *Manual) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }
