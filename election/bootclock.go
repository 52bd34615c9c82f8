package election

import (
	"time"

	"golang.org/x/sys/unix"
)

// BootClock is the clock a holder measures its leases on (DESIGN §9.3, assumptions):
// CLOCK_BOOTTIME, which keeps counting while the machine is suspended, where Go's
// monotonic clock (CLOCK_MONOTONIC) stops. A holder whose host was suspended past its
// lease then finds the lease over at its first decision after the resume, not up to
// a lease later. Its times read as the wall time at its creation plus the boot time
// elapsed since, so they can be shown as times of day.
type BootClock struct {
	base  time.Time     // wall time at creation, without a monotonic reading
	boot0 time.Duration // CLOCK_BOOTTIME at creation
}

// NewBootClock returns a BootClock that reads the wall time now.
func NewBootClock() *BootClock {
	return &BootClock{base: time.Now().Round(0), boot0: bootTime()}
}

// Now is the creation's wall time plus the boot time elapsed since.
func (c *BootClock) Now() time.Time { return c.base.Add(bootTime() - c.boot0) }

// After returns time.After(d). Its timer stops during a suspend, so it fires late
// after a resume; every decision reads Now, which does not.
func (c *BootClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// bootTime reads CLOCK_BOOTTIME. It cannot fail on Linux with a valid clock id; should
// it, the monotonic clock since the process started stands in.
func bootTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return time.Since(processStart)
	}
	return time.Duration(ts.Nano())
}

var processStart = time.Now()
