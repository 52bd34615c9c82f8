package vip_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/raftvip/raftvip/test/clocktest"
	"github.com/raftvip/raftvip/vip"
)

const ifname = "eth0"

// The lines `ip addr` would show, without scope and label.
const (
	lineV4      = "inet 198.18.0.10/24 valid_lft 2sec preferred_lft 0sec"
	lineV6      = "inet6 2001:2::10/64 nodad valid_lft 2sec preferred_lft 0sec"
	bystander4  = "inet 198.18.0.1/24 valid_lft forever preferred_lft forever"
	bystander6  = "inet6 2001:2::1/64 valid_lft forever preferred_lft forever"
	bystander32 = "inet 198.18.0.10/32 valid_lft forever preferred_lft forever" // same IP, not the VIP
)

var (
	vip4 = netip.MustParsePrefix("198.18.0.10/24")
	vip6 = netip.MustParsePrefix("2001:2::10/64")
	ips  = []netip.Addr{vip4.Addr(), vip6.Addr()}
)

func testConfig() vip.Config {
	return vip.Config{
		Interface: ifname,
		Addresses: []netip.Prefix{vip4, vip6},
		Lifetime:  2 * time.Second,
		GARP:      vip.GARPConfig{Repeat: 3, Interval: time.Second},
	}
}

type rig struct {
	m     *vip.Manager
	os    *fakeOS
	clock *clocktest.Manual
	ann   *fakeAnnouncer
	fw    *fakeFirewall
	log   *logRecorder
}

// newRig builds a Manager over a fake OS whose eth0 has a few addresses that are
// not VIPs, and a fake firewall that notes its changes in the OS's change log. Call
// it inside a synctest bubble; the Manager is closed at the end of the test.
func newRig(t *testing.T, cfg vip.Config, ann *fakeAnnouncer) *rig {
	t.Helper()
	r := &rig{
		os:    newFakeOS(ifname, "198.18.0.1/24", "2001:2::1/64"),
		clock: newFakeClock(),
		ann:   ann,
	}
	if r.ann == nil {
		r.ann = &fakeAnnouncer{}
	}
	r.fw = &fakeFirewall{note: r.os.note}
	r.log = newLogRecorder(t)
	m, err := vip.New(cfg, vip.WithAddrOps(r.os), vip.WithAnnouncer(r.ann), vip.WithClock(r.clock),
		vip.WithFirewall(r.fw), vip.WithLogger(r.log.logger))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r.m = m
	t.Cleanup(m.Close)
	return r
}

func (r *rig) set(t *testing.T, hold bool) {
	t.Helper()
	if err := r.m.Set(context.Background(), hold); err != nil {
		t.Fatalf("Set(%v): %v", hold, err)
	}
}

func wantLines(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("ip addr:\n got  %q\n want %q", got, want)
	}
}

func TestSetHoldAddsEveryAddressWithLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, testConfig(), nil)
		r.set(t, true)
		wantLines(t, r.os.lines(ifname), bystander4, bystander6, lineV4, lineV6)
		if held, err := r.m.Held(); !held || err != nil {
			t.Errorf("Held() = %v, %v; want true, nil", held, err)
		}
	})
}

// TestSetRefreshCadence walks one Manager through a sequence of Set calls and
// checks which changes each makes: lifetimes are refreshed at most every
// Lifetime/4 (500 ms here), missing addresses are re-added at once.
func TestSetRefreshCadence(t *testing.T) {
	replace4, replace6 := "replace "+lineV4, "replace "+lineV6
	steps := []struct {
		name    string
		advance time.Duration
		before  func(*fakeOS)
		hold    bool
		want    []string
	}{
		{name: "first hold adds all", hold: true, want: []string{replace4, replace6}},
		{name: "again at once: no-op", hold: true},
		{name: "just before lifetime/4: no-op", advance: 499 * time.Millisecond, hold: true},
		{name: "at lifetime/4: refresh all", advance: time.Millisecond, hold: true, want: []string{replace4, replace6}},
		{name: "deleted by hand: re-added at once", advance: 100 * time.Millisecond, hold: true,
			before: func(f *fakeOS) { f.remove(ifname, "198.18.0.10/24") }, want: []string{replace4}},
		{name: "expired: re-added at once", hold: true,
			before: func(f *fakeOS) { f.remove(ifname, "2001:2::10/64") }, want: []string{replace6}},
		{name: "re-added count from their re-add", advance: 400 * time.Millisecond, hold: true},
		{name: "then refresh", advance: 100 * time.Millisecond, hold: true, want: []string{replace4, replace6}},
		{name: "release removes the VIPs", advance: 10 * time.Millisecond, hold: false,
			want: []string{"delete 198.18.0.10/24", "delete 2001:2::10/64"}},
		{name: "release again: no-op", hold: false},
		{name: "hold after release adds at once", hold: true, want: []string{replace4, replace6}},
	}
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, testConfig(), nil)
		for _, s := range steps {
			r.clock.Advance(s.advance)
			if s.before != nil {
				s.before(r.os)
			}
			r.set(t, s.hold)
			if got := r.os.takeChanges(); !slices.Equal(got, s.want) {
				t.Errorf("%s: changes %q, want %q", s.name, got, s.want)
			}
		}
	})
}

func TestSetReleaseRemovesOnlyVIPs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, testConfig(), nil)
		// Same IP as the IPv4 VIP but another prefix length: not a configured VIP.
		if err := r.os.Replace(ifname, vip.Address{Prefix: netip.MustParsePrefix("198.18.0.10/32"), ValidLft: vip.Forever, PreferredLft: vip.Forever}); err != nil {
			t.Fatal(err)
		}
		r.set(t, true)
		wantLines(t, r.os.lines(ifname), bystander4, bystander6, bystander32, lineV4, lineV6)
		r.set(t, false)
		wantLines(t, r.os.lines(ifname), bystander4, bystander6, bystander32)
		if held, err := r.m.Held(); held || err != nil {
			t.Errorf("Held() = %v, %v; want false, nil", held, err)
		}
	})
}

func TestCleanupRemovesStaleVIPs(t *testing.T) {
	tests := []struct {
		name        string
		stale       []string
		wantRemoved []netip.Prefix
	}{
		{name: "nothing stale"},
		{name: "one stale", stale: []string{"2001:2::10/64"}, wantRemoved: []netip.Prefix{vip6}},
		{name: "all stale", stale: []string{"2001:2::10/64", "198.18.0.10/24"}, wantRemoved: []netip.Prefix{vip4, vip6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, testConfig(), nil)
				for _, p := range tt.stale {
					if err := r.os.Replace(ifname, vip.Address{Prefix: netip.MustParsePrefix(p), ValidLft: vip.Forever, PreferredLft: vip.Forever}); err != nil {
						t.Fatal(err)
					}
				}
				removed, err := r.m.Cleanup()
				if err != nil {
					t.Fatalf("Cleanup: %v", err)
				}
				if !slices.Equal(removed, tt.wantRemoved) {
					t.Errorf("Cleanup removed %v, want %v", removed, tt.wantRemoved)
				}
				wantLines(t, r.os.lines(ifname), bystander4, bystander6)
				if r.ann.count() != 0 {
					t.Errorf("Cleanup announced %d rounds", r.ann.count())
				}
			})
		})
	}
}

func TestMissingInterface(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.Interface = "nosuch0"
		r := newRig(t, cfg, nil)
		ctx := context.Background()
		if err := r.m.Set(ctx, true); !errors.Is(err, vip.ErrInterfaceNotFound) {
			t.Errorf("Set(true) = %v, want ErrInterfaceNotFound", err)
		}
		if err := r.m.Set(ctx, false); err != nil {
			t.Errorf("Set(false) = %v, want nil: nothing can be on a missing interface", err)
		}
		if _, err := r.m.Cleanup(); !errors.Is(err, vip.ErrInterfaceNotFound) {
			t.Errorf("Cleanup() = %v, want ErrInterfaceNotFound", err)
		}
		if held, err := r.m.Held(); held || !errors.Is(err, vip.ErrInterfaceNotFound) {
			t.Errorf("Held() = %v, %v; want false, ErrInterfaceNotFound", held, err)
		}
		if n := r.ann.count(); n != 0 {
			t.Errorf("announced %d rounds without holding", n)
		}
	})
}

func TestHeld(t *testing.T) {
	tests := []struct {
		name    string
		present []string
		want    bool
	}{
		{name: "none", want: false},
		{name: "only IPv4", present: []string{"198.18.0.10/24"}, want: false},
		{name: "IPv4 with other prefix length", present: []string{"198.18.0.10/32", "2001:2::10/64"}, want: false},
		{name: "all", present: []string{"2001:2::10/64", "198.18.0.10/24"}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOS(ifname, append([]string{"198.18.0.1/24"}, tt.present...)...)
			m, err := vip.New(testConfig(), vip.WithAddrOps(f), vip.WithAnnouncer(&fakeAnnouncer{}), vip.WithFirewall(&fakeFirewall{}))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if got, err := m.Held(); got != tt.want || err != nil {
				t.Errorf("Held() = %v, %v; want %v, nil", got, err, tt.want)
			}
		})
	}
}

// TestAnnounceBurst checks the burst: Repeat rounds Interval apart, started once per
// transition to held, stopped by Set(false).
func TestAnnounceBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, testConfig(), nil) // Repeat 3, Interval 1s
		step := func(d time.Duration) {
			r.clock.Advance(d)
			synctest.Wait()
		}
		r.set(t, true)
		synctest.Wait()
		if n := r.ann.count(); n != 1 {
			t.Fatalf("after Set(true): %d rounds, want 1 at once", n)
		}
		for range 3 {
			r.set(t, true) // repeated holds do not restart the burst
		}
		step(999 * time.Millisecond)
		if n := r.ann.count(); n != 1 {
			t.Errorf("before Interval: %d rounds, want 1", n)
		}
		step(time.Millisecond)
		if n := r.ann.count(); n != 2 {
			t.Errorf("after Interval: %d rounds, want 2", n)
		}
		step(time.Second)
		step(10 * time.Second)
		if n := r.ann.count(); n != 3 {
			t.Errorf("burst over: %d rounds, want Repeat = 3", n)
		}
		for i, round := range r.ann.allRounds() {
			if !slices.Equal(round, ips) {
				t.Errorf("round %d announced %v, want %v", i, round, ips)
			}
		}

		// A new transition starts a new burst; Set(false) stops it.
		r.set(t, false)
		r.set(t, true)
		synctest.Wait()
		step(time.Second)
		if n := r.ann.count(); n != 5 {
			t.Fatalf("second burst: %d rounds in all, want 5", n)
		}
		r.set(t, false)
		step(time.Minute)
		if n := r.ann.count(); n != 5 {
			t.Errorf("after Set(false): %d rounds in all, want still 5", n)
		}
	})
}

func TestAnnounceBurstDefaultsAndRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.GARP = vip.GARPConfig{Refresh: 30 * time.Second} // Repeat 5, Interval 1s by default
		r := newRig(t, cfg, nil)
		r.set(t, true)
		synctest.Wait()
		for range 4 {
			r.clock.Advance(time.Second)
			synctest.Wait()
		}
		if n := r.ann.count(); n != vip.DefaultGARPRepeat {
			t.Fatalf("burst: %d rounds, want %d", n, vip.DefaultGARPRepeat)
		}
		r.clock.Advance(30 * time.Second)
		synctest.Wait()
		r.clock.Advance(30 * time.Second)
		synctest.Wait()
		if n := r.ann.count(); n != vip.DefaultGARPRepeat+2 {
			t.Errorf("after two refresh periods: %d rounds, want %d", n, vip.DefaultGARPRepeat+2)
		}
		r.m.Close() // stops the refresh loop; synctest fails the test if it leaks
	})
}

// TestReleaseDoesNotWaitForAnnounce blocks the announcer inside a round and checks
// that Set(false) still removes the addresses at once and cancels the round.
func TestReleaseDoesNotWaitForAnnounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ann := &fakeAnnouncer{block: make(chan struct{})}
		r := newRig(t, testConfig(), ann)
		r.set(t, true)
		synctest.Wait() // the announcer is now blocked in round 1
		r.set(t, false)
		wantLines(t, r.os.lines(ifname), bystander4, bystander6)
		synctest.Wait()
		ann.mu.Lock()
		cancelled := ann.cancelled
		ann.mu.Unlock()
		if cancelled != 1 {
			t.Errorf("blocked round saw %d cancellations, want 1", cancelled)
		}
		close(ann.block)
	})
}

func TestReaddWhileHeldRestartsBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.GARP.Repeat = 1
		r := newRig(t, cfg, nil)
		r.set(t, true)
		synctest.Wait()
		r.set(t, true)
		synctest.Wait()
		if n := r.ann.count(); n != 1 {
			t.Fatalf("%d rounds, want 1", n)
		}
		r.os.remove(ifname, "198.18.0.10/24")
		r.set(t, true)
		synctest.Wait()
		if n := r.ann.count(); n != 2 {
			t.Errorf("after re-adding a missing address: %d rounds, want 2", n)
		}
	})
}

func TestAnnounceNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		cfg.GARP.Repeat = 2
		r := newRig(t, cfg, nil)
		r.m.Announce() // not held: nothing
		synctest.Wait()
		if n := r.ann.count(); n != 0 {
			t.Fatalf("Announce while not held: %d rounds, want 0", n)
		}
		r.set(t, true)
		synctest.Wait()
		r.m.Announce() // replaces the running burst with a fresh one
		synctest.Wait()
		r.clock.Advance(time.Second)
		synctest.Wait()
		r.clock.Advance(time.Second)
		synctest.Wait()
		if n := r.ann.count(); n != 3 {
			t.Errorf("%d rounds, want 1 (first burst, cut short) + 2 (fresh burst)", n)
		}
	})
}

func TestPartialFailureDoesNotStartBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, testConfig(), nil)
		r.os.failReplace[vip6] = errors.New("file exists")
		err := r.m.Set(context.Background(), true)
		if err == nil || !strings.Contains(err.Error(), "vip: add 2001:2::10/64 on eth0: file exists") {
			t.Fatalf("Set(true) = %v, want the failed address named", err)
		}
		wantLines(t, r.os.lines(ifname), bystander4, bystander6, lineV4)
		synctest.Wait()
		if n := r.ann.count(); n != 0 {
			t.Errorf("announced %d rounds while not all addresses are up", n)
		}
		delete(r.os.failReplace, vip6)
		r.os.takeChanges()
		r.set(t, true)
		synctest.Wait()
		if got := r.os.takeChanges(); !slices.Equal(got, []string{"replace " + lineV6}) {
			t.Errorf("retry changed %q, want only the failed address", got)
		}
		if n := r.ann.count(); n != 1 {
			t.Errorf("after the retry succeeded: %d rounds, want 1", n)
		}
	})
}

func TestReleaseWhenListFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, testConfig(), nil)
		r.set(t, true)
		r.os.takeChanges()
		r.os.failList = errors.New("netlink: device or resource busy")
		err := r.m.Set(context.Background(), false)
		if err == nil {
			t.Error("Set(false) = nil, want the list error reported")
		}
		// It still deleted every configured address, blind.
		if got, want := r.os.takeChanges(), []string{"delete 198.18.0.10/24", "delete 2001:2::10/64"}; !slices.Equal(got, want) {
			t.Errorf("changes %q, want %q", got, want)
		}
		r.os.failList = nil
		wantLines(t, r.os.lines(ifname), bystander4, bystander6)
	})
}

func TestContextAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, testConfig(), nil)
		r.set(t, true)
		r.os.takeChanges()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := r.m.Set(ctx, true); !errors.Is(err, context.Canceled) {
			t.Errorf("Set(cancelled, true) = %v, want context.Canceled", err)
		}
		if err := r.m.Set(ctx, false); err != nil {
			t.Errorf("Set(cancelled, false) = %v, want nil: removing ignores ctx", err)
		}
		wantLines(t, r.os.lines(ifname), bystander4, bystander6)
		r.m.Close()
		r.m.Close()
		if err := r.m.Set(context.Background(), true); !errors.Is(err, vip.ErrClosed) {
			t.Errorf("Set after Close = %v, want ErrClosed", err)
		}
		if _, err := r.m.Cleanup(); !errors.Is(err, vip.ErrClosed) {
			t.Errorf("Cleanup after Close = %v, want ErrClosed", err)
		}
		if _, err := r.m.Held(); !errors.Is(err, vip.ErrClosed) {
			t.Errorf("Held after Close = %v, want ErrClosed", err)
		}
		r.m.Announce() // no-op, no panic
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	mp := netip.MustParsePrefix
	tests := []struct {
		name   string
		change func(*vip.Config)
		want   string
	}{
		{"no interface", func(c *vip.Config) { c.Interface = "" }, "interface: missing"},
		{"no addresses", func(c *vip.Config) { c.Addresses = nil }, "addresses: empty"},
		{"invalid prefix", func(c *vip.Config) { c.Addresses = []netip.Prefix{{}} }, "not an address with a prefix length"},
		{"mapped", func(c *vip.Config) { c.Addresses = []netip.Prefix{mp("::ffff:198.18.0.10/120")} }, "write it as 198.18.0.10/24"},
		{"multicast", func(c *vip.Config) { c.Addresses = []netip.Prefix{mp("224.0.0.18/32")} }, "not a unicast address"},
		{"duplicate", func(c *vip.Config) { c.Addresses = []netip.Prefix{vip4, mp("198.18.0.10/32")} }, "listed twice"},
		{"zero lifetime", func(c *vip.Config) { c.Lifetime = 0 }, "lifetime: 0s is too short"},
		{"fractional lifetime", func(c *vip.Config) { c.Lifetime = 1500 * time.Millisecond }, "not a whole number of seconds"},
		{"huge lifetime", func(c *vip.Config) { c.Lifetime = 1000 * time.Hour }, "too long"},
		{"negative repeat", func(c *vip.Config) { c.GARP.Repeat = -1 }, "garp.repeat"},
		{"negative interval", func(c *vip.Config) { c.GARP.Interval = -time.Second }, "garp.interval"},
		{"negative refresh", func(c *vip.Config) { c.GARP.Refresh = -time.Second }, "garp.refresh"},
		{"negative drain", func(c *vip.Config) { c.Drain = -time.Second }, "drain: -1s is negative"},
		{"long drain", func(c *vip.Config) { c.Drain = vip.MaxDrain + time.Millisecond }, "drain: 10.001s is too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			tt.change(&cfg)
			_, err := vip.New(cfg, vip.WithAddrOps(newFakeOS(ifname)), vip.WithAnnouncer(&fakeAnnouncer{}), vip.WithFirewall(&fakeFirewall{}))
			if !errors.Is(err, vip.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want ErrInvalidConfig mentioning %q", err, tt.want)
			}
		})
	}
}

func TestAddressString(t *testing.T) {
	tests := []struct {
		a    vip.Address
		want string
	}{
		{vip.Address{Prefix: vip4, ValidLft: 2 * time.Second}, lineV4},
		{vip.Address{Prefix: vip6, ValidLft: 2 * time.Second, NoDAD: true}, lineV6},
		{vip.Address{Prefix: mustPrefix("198.18.0.1/24"), ValidLft: vip.Forever, PreferredLft: vip.Forever}, bystander4},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// A frozen holder wakes with its announce timers due but its lease gone: the gate
// stops every round until it is open again, and the addresses are left to the caller.
func TestAnnounceGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var entitled atomic.Bool
		entitled.Store(true)
		os := newFakeOS(ifname, "198.18.0.1/24")
		clock := newFakeClock()
		ann := &fakeAnnouncer{}
		m, err := vip.New(testConfig(), vip.WithAddrOps(os), vip.WithAnnouncer(ann), vip.WithClock(clock),
			vip.WithFirewall(&fakeFirewall{}), vip.WithLogger(testLogger(t)), vip.WithAnnounceGate(entitled.Load))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		if err := m.Set(context.Background(), true); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := ann.count(); n != 1 {
			t.Fatalf("first round: %d, want 1", n)
		}
		entitled.Store(false) // the lease ran out while the process was frozen
		clock.Advance(time.Second)
		synctest.Wait()
		m.Announce()
		synctest.Wait()
		if n := ann.count(); n != 1 {
			t.Errorf("rounds while not entitled: %d in all, want still 1", n)
		}
		entitled.Store(true)
		m.Announce()
		synctest.Wait()
		if n := ann.count(); n != 2 {
			t.Errorf("rounds after the gate opened: %d in all, want 2", n)
		}
	})
}
