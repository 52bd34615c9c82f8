package vrrpcompat_test

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftvip/raftvip/vrrpcompat"
)

var (
	t0     = time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	kaAddr = netip.MustParseAddr("198.18.0.14")
	ourLow = netip.MustParseAddr("198.18.0.11") // lower than kaAddr
	ourHi  = netip.MustParseAddr("198.18.0.20") // higher than kaAddr
)

func advert(version int, prio uint8, interval time.Duration) vrrpcompat.Advert {
	return vrrpcompat.Advert{Version: version, VRID: 51, Priority: prio, Interval: interval, Addrs: vips4}
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// TestMasterDownTimer checks the skew and master-down arithmetic (RFC 3768 §6.1,
// RFC 9568 §6.1, keepalived VRRP_TIMER_SKEW) against the reference figures: a foreign
// master is master until LastSeen + 3×interval + skew, skew v2 = (256-p)/256 s and
// v3 = (256-p)×interval/256, p being our priority.
func TestMasterDownTimer(t *testing.T) {
	cases := []struct {
		name     string
		version  int
		interval time.Duration
		ourPrio  int
		want     time.Duration // Until - LastSeen
	}{
		{"v2 1s priority 100: 3.61s", 2, time.Second, 100, 3*time.Second + ms(609.375)},
		{"v2 1s priority 200: 3.22s", 2, time.Second, 200, 3*time.Second + ms(218.75)},
		{"v2 1s priority 50: 3.80s", 2, time.Second, 50, 3*time.Second + ms(804.6875)},
		{"v2 5s: the skew stays under 1s", 2, 5 * time.Second, 100, 15*time.Second + ms(609.375)},
		{"v2 priority 255", 2, time.Second, 255, 3*time.Second + ms(3.90625)},
		{"v3 1s priority 100", 3, time.Second, 100, 3*time.Second + ms(609.375)},
		{"v3 100ms priority 100: 0.36s", 3, 100 * time.Millisecond, 100, 300*time.Millisecond + ms(60.9375)},
		{"v3 10ms priority 100: about 36ms", 3, 10 * time.Millisecond, 100, 30*time.Millisecond + ms(6.09375)},
		{"v3 5s priority 200: the skew scales", 3, 5 * time.Second, 200, 15*time.Second + ms(1093.75)},
		{"our priority clamped to 255", 3, time.Second, 300, 3*time.Second + ms(3.90625)},
		{"our priority clamped to 0", 2, time.Second, -5, 4 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := vrrpcompat.NewTracker()
			tr.Observe(kaAddr, advert(tc.version, 255, tc.interval), t0)
			self := vrrpcompat.Self{Priority: tc.ourPrio, Addr: ourLow, Preempt: true, Interval: tc.interval, Version: tc.version}
			v := tr.Verdict(self, t0)
			if v.Master == nil || v.Master.Addr != kaAddr {
				t.Fatalf("Verdict = %+v, want master %s", v, kaAddr)
			}
			if got := v.Until.Sub(t0); got != tc.want {
				t.Errorf("Until = LastSeen + %v, want + %v", got, tc.want)
			}
			if v := tr.Verdict(self, t0.Add(tc.want-time.Nanosecond)); v.Master == nil {
				t.Errorf("master gone 1ns before the master-down timer")
			}
			if v := tr.Verdict(self, t0.Add(tc.want)); v.Master != nil || v.Blocked || v.Preempt || v.Reason != "" {
				t.Errorf("at the master-down timer: %+v, want no master", v)
			}
		})
	}
}

// TestVerdict runs the election rules: priority, then address on a tie; preempt;
// priority 0; expiry.
func TestVerdict(t *testing.T) {
	type obs struct {
		addr string
		prio uint8
		at   time.Duration // after t0
	}
	cases := []struct {
		name        string
		obs         []obs
		self        vrrpcompat.Self
		at          time.Duration
		wantMaster  string // "" = none
		wantBlocked bool
		wantPreempt bool
		wantReason  string // substring; "" = must be empty when there is no master
		wantUntil   time.Duration
	}{
		{
			name:        "higher foreign master blocks",
			obs:         []obs{{"198.18.0.14", 200, 0}},
			self:        vrrpcompat.Self{Priority: 150, Addr: ourHi, Preempt: true, Version: 2},
			wantMaster:  "198.18.0.14",
			wantBlocked: true,
			wantReason:  "VRRP backup: 198.18.0.14 is master with priority 200 > 150",
			wantUntil:   3*time.Second + ms(414.0625),
		},
		{
			name:        "lower foreign master is preempted",
			obs:         []obs{{"198.18.0.14", 100, 0}},
			self:        vrrpcompat.Self{Priority: 150, Addr: ourLow, Preempt: true, Version: 2},
			wantMaster:  "198.18.0.14",
			wantPreempt: true,
			wantReason:  "VRRP master: preempting 198.18.0.14, master with priority 100 < 150",
			wantUntil:   3*time.Second + ms(414.0625),
		},
		{
			name:        "preempt off: a lower foreign master still blocks",
			obs:         []obs{{"198.18.0.14", 100, 0}},
			self:        vrrpcompat.Self{Priority: 150, Addr: ourHi, Preempt: false, Version: 2},
			wantMaster:  "198.18.0.14",
			wantBlocked: true,
			wantReason:  "preempt is off",
			wantUntil:   3*time.Second + ms(414.0625),
		},
		{
			name:        "equal priority, higher foreign address blocks",
			obs:         []obs{{"198.18.0.14", 150, 0}},
			self:        vrrpcompat.Self{Priority: 150, Addr: ourLow, Preempt: true, Version: 2},
			wantMaster:  "198.18.0.14",
			wantBlocked: true,
			wantReason:  "priority 150 = 150 and a higher address than 198.18.0.11",
			wantUntil:   3*time.Second + ms(414.0625),
		},
		{
			name:        "equal priority, lower foreign address is preempted",
			obs:         []obs{{"198.18.0.14", 150, 0}},
			self:        vrrpcompat.Self{Priority: 150, Addr: ourHi, Preempt: true, Version: 2},
			wantMaster:  "198.18.0.14",
			wantPreempt: true,
			wantReason:  "a lower address than 198.18.0.20",
			wantUntil:   3*time.Second + ms(414.0625),
		},
		{
			name:        "equal priority compares numerically, not as text (.9 < .10)",
			obs:         []obs{{"198.18.0.9", 150, 0}},
			self:        vrrpcompat.Self{Priority: 150, Addr: netip.MustParseAddr("198.18.0.10"), Preempt: true, Version: 2},
			wantMaster:  "198.18.0.9",
			wantPreempt: true,
			wantUntil:   3*time.Second + ms(414.0625),
		},
		{
			name:        "equal priority and our address unset: blocked",
			obs:         []obs{{"198.18.0.14", 150, 0}},
			self:        vrrpcompat.Self{Priority: 150, Preempt: true, Version: 2},
			wantMaster:  "198.18.0.14",
			wantBlocked: true,
			wantUntil:   3*time.Second + ms(414.0625),
		},
		{
			name:        "equal priority, IPv4-mapped self address",
			obs:         []obs{{"198.18.0.14", 150, 0}},
			self:        vrrpcompat.Self{Priority: 150, Addr: netip.AddrFrom16(ourHi.As16()), Preempt: true, Version: 2},
			wantMaster:  "198.18.0.14",
			wantPreempt: true,
			wantUntil:   3*time.Second + ms(414.0625),
		},
		{
			name:        "owner 255 beats us at 254",
			obs:         []obs{{"198.18.0.14", 255, 0}},
			self:        vrrpcompat.Self{Priority: 254, Addr: ourHi, Preempt: true, Version: 2},
			wantMaster:  "198.18.0.14",
			wantBlocked: true,
			wantUntil:   3*time.Second + ms(7.8125),
		},
		{
			name:        "priority 0: master only for the skew, and it blocks meanwhile",
			obs:         []obs{{"198.18.0.14", 200, 0}, {"198.18.0.14", 0, time.Second}},
			self:        vrrpcompat.Self{Priority: 100, Addr: ourHi, Preempt: true, Version: 2},
			at:          time.Second,
			wantMaster:  "198.18.0.14",
			wantBlocked: true,
			wantReason:  "VRRP backup: 198.18.0.14 resigned (priority 0); waiting out the 609.375ms skew",
			wantUntil:   time.Second + ms(609.375),
		},
		{
			name:       "priority 0: gone after the skew",
			obs:        []obs{{"198.18.0.14", 200, 0}, {"198.18.0.14", 0, time.Second}},
			self:       vrrpcompat.Self{Priority: 100, Addr: ourHi, Preempt: true, Version: 2},
			at:         time.Second + ms(609.375),
			wantMaster: "",
		},
		{
			name:        "priority 0 while preempt is off: the skew still applies",
			obs:         []obs{{"198.18.0.14", 0, 0}},
			self:        vrrpcompat.Self{Priority: 200, Addr: ourHi, Preempt: false, Version: 2},
			wantMaster:  "198.18.0.14",
			wantBlocked: true,
			wantUntil:   ms(218.75),
		},
		{
			name:        "a new advert after priority 0 restores the full timer",
			obs:         []obs{{"198.18.0.14", 0, 0}, {"198.18.0.14", 200, ms(100)}},
			self:        vrrpcompat.Self{Priority: 100, Addr: ourHi, Preempt: true, Version: 2},
			at:          time.Second,
			wantMaster:  "198.18.0.14",
			wantBlocked: true,
			wantUntil:   ms(100) + 3*time.Second + ms(609.375),
		},
		{
			name:       "expired master",
			obs:        []obs{{"198.18.0.14", 200, 0}},
			self:       vrrpcompat.Self{Priority: 100, Addr: ourHi, Preempt: true, Version: 2},
			at:         10 * time.Second,
			wantMaster: "",
		},
		{
			name:        "two foreign routers: the higher priority is master",
			obs:         []obs{{"198.18.0.14", 200, 0}, {"198.18.0.15", 120, 0}, {"198.18.0.16", 180, ms(500)}},
			self:        vrrpcompat.Self{Priority: 150, Addr: ourHi, Preempt: true, Version: 2},
			at:          ms(500),
			wantMaster:  "198.18.0.14",
			wantBlocked: true,
			wantUntil:   3*time.Second + ms(414.0625),
		},
		{
			name:        "two foreign routers at equal priority: the higher address is master",
			obs:         []obs{{"198.18.0.15", 200, 0}, {"198.18.0.100", 200, 0}, {"198.18.0.14", 200, 0}},
			self:        vrrpcompat.Self{Priority: 150, Addr: ourHi, Preempt: true, Version: 2},
			wantMaster:  "198.18.0.100",
			wantBlocked: true,
			wantUntil:   3*time.Second + ms(414.0625),
		},
		{
			name:        "the higher one expired: the lower one is master and preempted",
			obs:         []obs{{"198.18.0.14", 200, 0}, {"198.18.0.15", 120, 3 * time.Second}},
			self:        vrrpcompat.Self{Priority: 150, Addr: ourHi, Preempt: true, Version: 2},
			at:          4 * time.Second,
			wantMaster:  "198.18.0.15",
			wantPreempt: true,
			wantUntil:   6*time.Second + ms(414.0625),
		},
		{
			name:        "a resigned router loses to an active one",
			obs:         []obs{{"198.18.0.20", 0, 0}, {"198.18.0.15", 120, 0}},
			self:        vrrpcompat.Self{Priority: 150, Addr: ourLow, Preempt: true, Version: 2},
			wantMaster:  "198.18.0.15",
			wantPreempt: true,
			wantUntil:   3*time.Second + ms(414.0625),
		},
		{
			name:        "v3: the skew uses the master's interval",
			obs:         []obs{{"2001:2::14", 200, 0}},
			self:        vrrpcompat.Self{Priority: 100, Addr: netip.MustParseAddr("2001:2::1"), Preempt: true, Interval: time.Second, Version: 3},
			wantMaster:  "2001:2::14",
			wantBlocked: true,
			wantUntil:   300*time.Millisecond + ms(60.9375),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := vrrpcompat.NewTracker()
			for _, o := range tc.obs {
				version, interval := tc.self.Version, time.Second
				if version == 3 {
					interval = 100 * time.Millisecond
				}
				tr.Observe(netip.MustParseAddr(o.addr), advert(version, o.prio, interval), t0.Add(o.at))
			}
			v := tr.Verdict(tc.self, t0.Add(tc.at))
			if tc.wantMaster == "" {
				if v.Master != nil || v.Blocked || v.Preempt || v.Reason != "" || !v.Until.IsZero() {
					t.Fatalf("Verdict = %+v, want none", v)
				}
				return
			}
			if v.Master == nil || v.Master.Addr != netip.MustParseAddr(tc.wantMaster) {
				t.Fatalf("Verdict master = %+v, want %s", v.Master, tc.wantMaster)
			}
			// The tracker keeps a map: the choice must not depend on its order.
			for range 20 {
				if again := tr.Verdict(tc.self, t0.Add(tc.at)); again.Master == nil || again.Master.Addr != v.Master.Addr {
					t.Fatalf("Verdict master changed to %+v on another call", again.Master)
				}
			}
			if v.Blocked != tc.wantBlocked || v.Preempt != tc.wantPreempt {
				t.Errorf("Blocked %v Preempt %v, want %v %v (%s)", v.Blocked, v.Preempt, tc.wantBlocked, tc.wantPreempt, v.Reason)
			}
			if v.Blocked == v.Preempt {
				t.Errorf("Blocked and Preempt both %v", v.Blocked)
			}
			if v.Reason == "" || !strings.Contains(v.Reason, tc.wantReason) {
				t.Errorf("Reason %q, want it to contain %q", v.Reason, tc.wantReason)
			}
			if got := v.Until.Sub(t0); got != tc.wantUntil {
				t.Errorf("Until = t0 + %v, want t0 + %v", got, tc.wantUntil)
			}
		})
	}
}

func TestRouters(t *testing.T) {
	tr := vrrpcompat.NewTracker()
	a, b, c := netip.MustParseAddr("198.18.0.9"), netip.MustParseAddr("198.18.0.10"), netip.MustParseAddr("198.18.0.200")
	tr.Observe(c, advert(2, 100, time.Second), t0)
	tr.Observe(a, advert(2, 50, time.Second), t0)
	tr.Observe(a, advert(2, 60, 2*time.Second), t0.Add(time.Second))
	tr.Observe(netip.AddrFrom16(b.As16()), advert(3, 70, 100*time.Millisecond), t0.Add(2*time.Second)) // IPv4-mapped: stored unmapped
	tr.Observe(netip.Addr{}, advert(2, 70, time.Second), t0)                                           // no source: ignored

	got := tr.Routers(t0.Add(3 * time.Second))
	want := []vrrpcompat.Router{
		{Addr: a, Priority: 60, Interval: 2 * time.Second, Version: 2, LastSeen: t0.Add(time.Second), Adverts: 2},
		{Addr: b, Priority: 70, Interval: 100 * time.Millisecond, Version: 3, LastSeen: t0.Add(2 * time.Second), Adverts: 1},
		{Addr: c, Priority: 100, Interval: time.Second, Version: 2, LastSeen: t0, Adverts: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("Routers = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Routers[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}

	// Silent routers stay listed (long expired as masters) for 10 minutes.
	if got := tr.Routers(t0.Add(10*time.Minute - time.Nanosecond)); len(got) != 3 {
		t.Errorf("after 10m-1ns: %d routers, want 3", len(got))
	}
	if got := tr.Routers(t0.Add(10 * time.Minute)); len(got) != 2 || got[0].Addr != a {
		t.Errorf("after 10m: %+v, want %s and %s", got, a, b)
	}
	// Verdict forgets too, and a forgotten router counts afresh.
	tr.Verdict(vrrpcompat.Self{Priority: 100}, t0.Add(20*time.Minute))
	if got := tr.Routers(t0.Add(20 * time.Minute)); len(got) != 0 {
		t.Errorf("after 20m: %+v, want none", got)
	}
	tr.Observe(a, advert(2, 50, time.Second), t0.Add(21*time.Minute))
	if got := tr.Routers(t0.Add(21 * time.Minute)); len(got) != 1 || got[0].Adverts != 1 {
		t.Errorf("after re-observe: %+v, want one router with 1 advert", got)
	}
}

// TestVerdictMasterIsACopy: the verdict's router cannot change the tracker.
func TestVerdictMasterIsACopy(t *testing.T) {
	tr := vrrpcompat.NewTracker()
	tr.Observe(kaAddr, advert(2, 200, time.Second), t0)
	self := vrrpcompat.Self{Priority: 100, Addr: ourLow, Preempt: true, Version: 2}
	v := tr.Verdict(self, t0)
	v.Master.Priority = 1
	if v := tr.Verdict(self, t0); v.Master.Priority != 200 || !v.Blocked {
		t.Errorf("tracker changed through Verdict.Master: %+v", v.Master)
	}
}

func TestTrackerConcurrent(t *testing.T) {
	tr := vrrpcompat.NewTracker()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)})
			for j := range 200 {
				now := t0.Add(time.Duration(j) * time.Millisecond)
				tr.Observe(src, advert(2, uint8(100+i), time.Second), now)
				tr.Verdict(vrrpcompat.Self{Priority: 100, Preempt: true, Version: 2}, now)
				tr.Routers(now)
			}
		}()
	}
	wg.Wait()
	rs := tr.Routers(t0.Add(time.Second))
	if len(rs) != 8 {
		t.Fatalf("%d routers, want 8", len(rs))
	}
	for _, r := range rs {
		if r.Adverts != 200 {
			t.Errorf("%s: %d adverts, want 200", r.Addr, r.Adverts)
		}
	}
}
