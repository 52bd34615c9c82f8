package vrrpcompat

import (
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"
)

// forgetAfter is how long a silent foreign router stays in the tracker (for status)
// after it stopped advertising.
const forgetAfter = 10 * time.Minute

// downTimerAdverts is how many advert intervals a backup waits for (RFC 3768 §6.1,
// RFC 9568 §6.1; keepalived's VRRP_DOWN_TIMER_ADVERTS).
const downTimerAdverts = 3

// Router is a foreign VRRP router heard on the link.
type Router struct {
	Addr     netip.Addr
	Priority int           // of its latest advert; 0 = it resigned
	Interval time.Duration // of its latest advert
	Version  int
	LastSeen time.Time
	Adverts  uint64
}

// Self is this cluster as a VRRP router.
type Self struct {
	Priority int           // effective priority of the holder-to-be (the leader)
	Addr     netip.Addr    // the address VRRP compares on equal priority (unicast_src / node.bind)
	Preempt  bool          // preempt a lower-priority foreign master
	Interval time.Duration // our advert interval
	Version  int
}

// Verdict is what the foreign routers mean for the cluster.
type Verdict struct {
	Blocked bool      // a foreign master outranks us (or preempt is off, or it resigned and its skew runs): do not hold
	Master  *Router   // the foreign router considered master, if any (a copy)
	Reason  string    // e.g. "VRRP backup: 198.18.0.14 is master with priority 200 > 150"
	Until   time.Time // when the master-down timer fires unless another advert comes
	Preempt bool      // a lower-priority foreign master is active: advertise + GARP now
}

// Tracker follows the foreign VRRP routers heard on the link and decides, as a VRRP
// backup would, whether one of them is master. It holds no clock: every call takes
// now. It is safe for concurrent use.
type Tracker struct {
	mu      sync.Mutex
	routers map[netip.Addr]*Router
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	return &Tracker{routers: make(map[netip.Addr]*Router)}
}

// Observe records an accepted advert from src (the IP source of its packet).
func (t *Tracker) Observe(src netip.Addr, a Advert, now time.Time) {
	src = src.Unmap().WithZone("")
	if !src.IsValid() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.routers[src]
	if r == nil {
		r = &Router{Addr: src}
		t.routers[src] = r
	}
	r.Priority = int(a.Priority)
	r.Interval = a.Interval
	r.Version = a.Version
	r.LastSeen = now
	r.Adverts++
	t.forget(now)
}

// Verdict says whether a foreign router is VRRP master at now and what that means
// for the cluster described by self. The rules are the RFC's and keepalived's:
//
//   - Skew: v2 (256-p)/256 s; v3 (256-p)×interval/256, with p our priority and
//     interval the foreign router's (a v3 backup adopts the master's interval).
//   - A foreign router is master until LastSeen + 3×its interval + skew (the
//     master-down timer); after a priority-0 advert only until LastSeen + skew.
//   - Among the active foreign routers the master is the one with the highest
//     (priority, address).
//   - Blocked when it has a higher priority than ours, or the same priority and a
//     higher address (numeric compare), or preempt is off, or it resigned: the
//     skew after a priority-0 advert lets higher-priority backups take over first.
//   - Preempt when it is active, lower than us, and self.Preempt.
func (t *Tracker) Verdict(self Self, now time.Time) Verdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forget(now)

	var master *Router
	var until time.Time
	for _, r := range t.routers {
		end := masterDown(r, self.Priority)
		if !now.Before(end) {
			continue
		}
		if master == nil || r.Priority > master.Priority ||
			(r.Priority == master.Priority && r.Addr.Compare(master.Addr) > 0) {
			master, until = r, end
		}
	}
	if master == nil {
		return Verdict{}
	}
	m := *master
	v := Verdict{Master: &m, Until: until}
	switch {
	case m.Priority == 0:
		v.Blocked = true
		v.Reason = fmt.Sprintf("VRRP backup: %s resigned (priority 0); waiting out the %v skew for a higher-priority backup",
			m.Addr, until.Sub(m.LastSeen))
	case m.Priority > self.Priority:
		v.Blocked = true
		v.Reason = fmt.Sprintf("VRRP backup: %s is master with priority %d > %d", m.Addr, m.Priority, self.Priority)
	case m.Priority == self.Priority && m.Addr.Compare(self.Addr.Unmap()) > 0:
		v.Blocked = true
		v.Reason = fmt.Sprintf("VRRP backup: %s is master with priority %d = %d and a higher address than %s",
			m.Addr, m.Priority, self.Priority, self.Addr)
	case !self.Preempt:
		v.Blocked = true
		v.Reason = fmt.Sprintf("VRRP backup: %s is master with priority %d (ours %d) and preempt is off",
			m.Addr, m.Priority, self.Priority)
	default:
		v.Preempt = true
		v.Reason = fmt.Sprintf("VRRP master: preempting %s, master with priority %d < %d",
			m.Addr, m.Priority, self.Priority)
		if m.Priority == self.Priority {
			v.Reason = fmt.Sprintf("VRRP master: preempting %s, master with priority %d = %d and a lower address than %s",
				m.Addr, m.Priority, self.Priority, self.Addr)
		}
	}
	return v
}

// Routers returns the foreign routers heard in the last 10 minutes, sorted by
// address, for status.
func (t *Tracker) Routers(now time.Time) []Router {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forget(now)
	out := make([]Router, 0, len(t.routers))
	for _, r := range t.routers {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr.Less(out[j].Addr) })
	return out
}

// forget drops the routers silent for forgetAfter. t.mu must be held.
func (t *Tracker) forget(now time.Time) {
	for addr, r := range t.routers {
		if now.Sub(r.LastSeen) >= forgetAfter {
			delete(t.routers, addr)
		}
	}
}

// masterDown returns when r stops being master for a backup of priority p: the
// master-down timer, or only the skew after a priority-0 advert.
func masterDown(r *Router, p int) time.Time {
	skew := skewTime(r.Version, p, r.Interval)
	if r.Priority == 0 {
		return r.LastSeen.Add(skew)
	}
	return r.LastSeen.Add(downTimerAdverts*r.Interval + skew)
}

// skewTime is the Skew_Time of a backup with priority p: v2 (256-p)/256 s
// (RFC 3768 §6.1, independent of the interval); v3 (256-p)×interval/256
// (RFC 9568 §6.1, interval being the master's).
func skewTime(version, p int, interval time.Duration) time.Duration {
	p = min(max(p, 0), 255)
	if version == 2 {
		return time.Duration(256-p) * time.Second / 256
	}
	return time.Duration(256-p) * interval / 256
}
