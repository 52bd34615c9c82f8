package election

import (
	"testing"
	"time"
)

// The boot clock advances with real time, reads as the time of day, and never goes
// back.
func TestBootClock(t *testing.T) {
	c := NewBootClock()
	a := c.Now()
	if d := time.Since(a); d < -time.Second || d > time.Second {
		t.Errorf("BootClock.Now() = %v, %v from the wall clock", a, d)
	}
	time.Sleep(20 * time.Millisecond)
	b := c.Now()
	if el := b.Sub(a); el < 20*time.Millisecond || el > 2*time.Second {
		t.Errorf("20 ms later the boot clock advanced %v", el)
	}
	if c.Now().Before(b) {
		t.Error("the boot clock went back")
	}
}
