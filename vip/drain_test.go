package vip_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/raftvip/raftvip/vip"
)

func drainConfig() vip.Config {
	cfg := testConfig()
	cfg.Drain = 2 * time.Second
	return cfg
}

// startDrain runs Drain in a goroutine of the bubble; the channel gets its result.
func startDrain(ctx context.Context, m *vip.Manager) <-chan error {
	done := make(chan error, 1)
	go func() { done <- m.Drain(ctx) }()
	synctest.Wait()
	return done
}

// drainResult returns Drain's result if it has returned, and whether it has.
func drainResult(done <-chan error) (error, bool) {
	select {
	case err := <-done:
		return err, true
	default:
		return nil, false
	}
}

func TestDrainBlocksThenWaitsExactlyDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, drainConfig(), nil)
		r.set(t, true)
		r.os.takeChanges()

		done := startDrain(context.Background(), r.m)
		if got := r.fw.installed(); !slices.Equal(got, ips) {
			t.Errorf("drain rules for %v, want %v", got, ips)
		}
		if got := r.log.lines("vip: draining new connections"); len(got) != 1 || !strings.Contains(got[0], "duration=2s") {
			t.Errorf("log lines %q, want one info line with duration=2s", got)
		}
		r.clock.Advance(2*time.Second - time.Nanosecond)
		synctest.Wait()
		if err, ok := drainResult(done); ok {
			t.Fatalf("Drain returned %v before Drain had passed", err)
		}
		r.clock.Advance(time.Nanosecond)
		synctest.Wait()
		if err, ok := drainResult(done); !ok || err != nil {
			t.Fatalf("Drain after exactly Drain: returned %v, %v; want nil", ok, err)
		}
		// Drain removes nothing: the addresses and the rules stay for Set(false).
		wantLines(t, r.os.lines(ifname), bystander4, bystander6, lineV4, lineV6)
		if got, want := r.os.takeChanges(), []string{"block [198.18.0.10 2001:2::10]"}; !slices.Equal(got, want) {
			t.Errorf("changes %q, want %q", got, want)
		}
		if got := r.fw.installed(); !slices.Equal(got, ips) {
			t.Errorf("after Drain: rules for %v, want still %v", got, ips)
		}
	})
}

func TestDrainNoop(t *testing.T) {
	tests := []struct {
		name  string
		drain time.Duration
		hold  bool
	}{
		{name: "not held", drain: 2 * time.Second},
		{name: "drain off", hold: true},
		{name: "drain off, not held"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := testConfig()
				cfg.Drain = tt.drain
				r := newRig(t, cfg, nil)
				if tt.hold {
					r.set(t, true)
				}
				// Called directly: waiting on the fake clock would deadlock the bubble.
				if err := r.m.Drain(context.Background()); err != nil {
					t.Errorf("Drain = %v, want nil", err)
				}
				if blocks, unblocks := r.fw.counts(); blocks != 0 || unblocks != 0 {
					t.Errorf("firewall: %d blocks, %d unblocks; want none", blocks, unblocks)
				}
			})
		})
	}
}

func TestReleaseRemovesAddressesThenRules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, drainConfig(), nil)
		r.set(t, true)
		done := startDrain(context.Background(), r.m)
		r.clock.Advance(2 * time.Second)
		synctest.Wait()
		if err, ok := drainResult(done); !ok || err != nil {
			t.Fatalf("Drain: returned %v, %v; want nil", ok, err)
		}
		r.os.takeChanges()
		r.set(t, false)
		synctest.Wait() // the rules go in the background, after the addresses
		want := []string{"delete 198.18.0.10/24", "delete 2001:2::10/64", "unblock"}
		if got := r.os.takeChanges(); !slices.Equal(got, want) {
			t.Errorf("Set(false) changes %q, want %q", got, want)
		}
		if got := r.fw.installed(); got != nil {
			t.Errorf("rules for %v after Set(false), want none", got)
		}
		r.set(t, false)
		if got := r.os.takeChanges(); len(got) != 0 {
			t.Errorf("second Set(false) changed %q, want nothing", got)
		}
	})
}

// Set(false) while a drain waits ends the wait; the rules go after the addresses.
func TestReleaseDuringDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, drainConfig(), nil)
		r.set(t, true)
		done := startDrain(context.Background(), r.m)
		r.clock.Advance(time.Second)
		r.set(t, false)
		synctest.Wait()
		if err, ok := drainResult(done); !ok || err != nil {
			t.Fatalf("Drain after Set(false): returned %v, %v; want nil", ok, err)
		}
		if got := r.fw.installed(); got != nil {
			t.Errorf("rules for %v after Set(false), want none", got)
		}
	})
}

// If removing an address fails, the rules stay (the address may still be there)
// until a Set(false) succeeds.
func TestReleaseFailureKeepsRules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, drainConfig(), nil)
		r.set(t, true)
		done := startDrain(context.Background(), r.m)
		r.clock.Advance(2 * time.Second)
		synctest.Wait()
		<-done
		r.os.failList = errors.New("netlink: device or resource busy")
		if err := r.m.Set(context.Background(), false); err == nil {
			t.Fatal("Set(false) = nil, want the list error")
		}
		if got := r.fw.installed(); !slices.Equal(got, ips) {
			t.Errorf("rules for %v after a failed Set(false), want still %v", got, ips)
		}
		r.os.failList = nil
		r.os.takeChanges()
		r.set(t, false)
		synctest.Wait()
		if got, want := r.os.takeChanges(), []string{"unblock"}; !slices.Equal(got, want) {
			t.Errorf("retried Set(false) changes %q, want %q", got, want)
		}
	})
}

func TestCloseRemovesRules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, drainConfig(), nil)
		r.set(t, true)
		done := startDrain(context.Background(), r.m)
		r.m.Close() // while the drain waits
		synctest.Wait()
		if err, ok := drainResult(done); !ok || !errors.Is(err, vip.ErrClosed) {
			t.Fatalf("Drain during Close: returned %v, %v; want ErrClosed", ok, err)
		}
		if got := r.fw.installed(); got != nil {
			t.Errorf("rules for %v after Close, want none", got)
		}
		wantLines(t, r.os.lines(ifname), bystander4, bystander6, lineV4, lineV6) // Close keeps addresses
		if err := r.m.Drain(context.Background()); !errors.Is(err, vip.ErrClosed) {
			t.Errorf("Drain after Close = %v, want ErrClosed", err)
		}
		if err := r.m.Undrain(); !errors.Is(err, vip.ErrClosed) {
			t.Errorf("Undrain after Close = %v, want ErrClosed", err)
		}
	})
}

func TestCloseWithoutDrainLeavesFirewallAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, drainConfig(), nil)
		r.set(t, true)
		r.set(t, false)
		r.m.Close()
		if blocks, unblocks := r.fw.counts(); blocks != 0 || unblocks != 0 {
			t.Errorf("firewall: %d blocks, %d unblocks; want none", blocks, unblocks)
		}
	})
}

func TestCleanupRemovesLeftoverRules(t *testing.T) {
	tests := []struct {
		name        string
		leftover    bool
		failUnblock error
		wantErr     bool
		wantLog     string
	}{
		{name: "no leftover"},
		{name: "leftover from a crashed agent", leftover: true, wantLog: "vip: removed drain rules left by an earlier run"},
		{name: "no nf_tables", failUnblock: syscall.EOPNOTSUPP},
		{name: "no permission", failUnblock: syscall.EPERM},
		{name: "other failure", failUnblock: syscall.EBUSY, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, drainConfig(), nil)
				if tt.leftover {
					r.fw.rules = ips
				}
				r.fw.failUnblock = tt.failUnblock
				_, err := r.m.Cleanup()
				if gotErr := err != nil; gotErr != tt.wantErr {
					t.Fatalf("Cleanup = %v, want error %v", err, tt.wantErr)
				}
				if tt.wantErr && !strings.Contains(err.Error(), "vip: remove drain rules left by an earlier run") {
					t.Errorf("Cleanup error %q does not say what failed", err)
				}
				if tt.failUnblock == nil {
					if _, unblocks := r.fw.counts(); unblocks != 1 || r.fw.installed() != nil {
						t.Errorf("%d unblocks, rules %v; want 1 and none", unblocks, r.fw.installed())
					}
				}
				if tt.wantLog != "" && len(r.log.lines(tt.wantLog)) != 1 {
					t.Errorf("log has no line %q", tt.wantLog)
				}
			})
		})
	}
}

// Rules that Cleanup could not remove are removed before the next hold; as long as
// that fails, Set(true) does not take the addresses.
func TestHoldRemovesStaleRulesFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, drainConfig(), nil)
		r.fw.rules = ips
		r.fw.failUnblock = syscall.EBUSY
		if _, err := r.m.Cleanup(); err == nil {
			t.Fatal("Cleanup = nil, want the unblock error")
		}
		if err := r.m.Set(context.Background(), true); err == nil || !strings.Contains(err.Error(), "drain rules left in place") {
			t.Fatalf("Set(true) with stale rules = %v, want an error", err)
		}
		wantLines(t, r.os.lines(ifname), bystander4, bystander6)
		r.fw.mu.Lock()
		r.fw.failUnblock = nil
		r.fw.mu.Unlock()
		r.os.takeChanges()
		r.set(t, true)
		want := []string{"unblock", "replace " + lineV4, "replace " + lineV6}
		if got := r.os.takeChanges(); !slices.Equal(got, want) {
			t.Errorf("Set(true) changes %q, want %q", got, want)
		}
		r.set(t, true)
		if got := r.os.takeChanges(); len(got) != 0 {
			t.Errorf("second Set(true) changed %q, want nothing", got)
		}
	})
}

// A drain that cannot install its rules must not hold up the move.
func TestDrainBlockFailureDoesNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, drainConfig(), nil)
		r.set(t, true)
		r.fw.failBlock = syscall.EPERM
		// Called directly: waiting on the fake clock would deadlock the bubble.
		if err := r.m.Drain(context.Background()); err != nil {
			t.Errorf("Drain = %v, want nil", err)
		}
		if got := r.log.lines("vip: cannot drain"); len(got) != 1 || !strings.Contains(got[0], "level=WARN") {
			t.Errorf("log lines %q, want one warning", got)
		}
		r.os.takeChanges()
		r.set(t, false)
		if got, want := r.os.takeChanges(), []string{"delete 198.18.0.10/24", "delete 2001:2::10/64"}; !slices.Equal(got, want) {
			t.Errorf("Set(false) changes %q, want %q (no rules to remove)", got, want)
		}
	})
}

func TestDrainContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, drainConfig(), nil)
		r.set(t, true)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := r.m.Drain(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Drain(done ctx) = %v, want context.Canceled", err)
		}
		if blocks, _ := r.fw.counts(); blocks != 0 {
			t.Errorf("Drain(done ctx) installed rules %d times, want 0", blocks)
		}

		// Cancelled while waiting: the rules go, the addresses stay.
		ctx, cancel = context.WithCancel(context.Background())
		done := startDrain(ctx, r.m)
		r.clock.Advance(time.Second)
		cancel()
		synctest.Wait()
		err, ok := drainResult(done)
		if !ok || !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "vip: drain: ") {
			t.Fatalf("cancelled Drain: returned %v, %v; want a wrapped context.Canceled", ok, err)
		}
		if got := r.fw.installed(); got != nil {
			t.Errorf("rules for %v after a cancelled drain, want none", got)
		}
		wantLines(t, r.os.lines(ifname), bystander4, bystander6, lineV4, lineV6)
	})
}

func TestUndrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, drainConfig(), nil)
		r.set(t, true)
		done := startDrain(context.Background(), r.m)
		r.clock.Advance(2 * time.Second)
		synctest.Wait()
		<-done
		// The move is called off: keep holding, accept new connections again.
		if err := r.m.Undrain(); err != nil {
			t.Fatalf("Undrain: %v", err)
		}
		if got := r.fw.installed(); got != nil {
			t.Errorf("rules for %v after Undrain, want none", got)
		}
		wantLines(t, r.os.lines(ifname), bystander4, bystander6, lineV4, lineV6)
		if err := r.m.Undrain(); err != nil {
			t.Errorf("second Undrain: %v", err)
		}
		if _, unblocks := r.fw.counts(); unblocks != 1 {
			t.Errorf("%d unblocks, want 1", unblocks)
		}

		// Undrain during a drain ends its wait.
		done = startDrain(context.Background(), r.m)
		if err := r.m.Undrain(); err != nil {
			t.Fatalf("Undrain: %v", err)
		}
		synctest.Wait()
		if err, ok := drainResult(done); !ok || err != nil {
			t.Errorf("Drain after Undrain: returned %v, %v; want nil", ok, err)
		}
	})
}
