package test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// VRRP scenarios: stock keepalived (Debian's) in the VRRP group of a raftvip
// cluster. The load balancers run at priority 150, keepalived at 100 unless a scenario
// says otherwise; the group is VRRPv2, VRID 51, advert_int 1 s, multicast, no
// authentication, unless a scenario says otherwise. The ownership sampler reads the
// keepalived nodes too, so "no two holders" includes them.

// kaDownV2 is the master-down interval of keepalived at 100 with 1 s adverts: 3.61 s.
const kaDownV2 = 3*time.Second + (256-100)*time.Second/256

// kaLogWarnings are what keepalived logs when it drops or doubts an advert (keepalived
// 2.2.7, vrrp.c): an advert from raftvip must cause none of them.
var kaLogWarnings = []string{
	"wrong version", "auth, expecting", "invalid passwd", "interval mismatch", "ip number count",
	"not present in MASTER advert", "VIPs but received", "invalid TTL", "vrrp packet too",
	"Invalid packet type", "tot_len mismatch", "checksum", "icast packet but received",
	"not a unicast peer",
}

// kaWarnings returns the lines of every keepalived log of n that contain a warning
// about a received advert.
func kaWarnings(t *testing.T, l *Lab, n *Node) []string {
	t.Helper()
	var out []string
	n.KA.mu.Lock()
	runs := n.KA.runs
	n.KA.mu.Unlock()
	for run := 1; run <= runs; run++ {
		b, err := os.ReadFile(l.KeepalivedLogPath(n, run))
		if err != nil {
			t.Errorf("keepalived log of %s: %v", n.Name, err)
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if slices.ContainsFunc(kaLogWarnings, func(w string) bool { return strings.Contains(line, w) }) {
				out = append(out, line)
			}
		}
	}
	return out
}

// noKAWarnings fails the test if a keepalived node logged a warning about an advert.
func noKAWarnings(t *testing.T, l *Lab) {
	t.Helper()
	for _, n := range l.KANodes {
		for _, line := range kaWarnings(t, l, n) {
			t.Errorf("keepalived on %s: %s", n.Name, line)
		}
	}
}

// mustStartKA starts keepalived on n.
func mustStartKA(t *testing.T, l *Lab, n *Node) {
	t.Helper()
	if err := l.StartKeepalived(n); err != nil {
		t.Fatal(err)
	}
}

// waitKA waits until keepalived on n reports state and returns the transition.
func waitKA(t *testing.T, l *Lab, n *Node, state string, timeout time.Duration) Transition {
	t.Helper()
	tr, err := l.WaitKeepalivedState(n, state, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// neverMaster fails the test if keepalived on n reported MASTER at or after since.
func neverMaster(t *testing.T, l *Lab, n *Node, since time.Time) {
	t.Helper()
	if trs := l.TransitionsTo(n, "MASTER", since); len(trs) > 0 {
		t.Errorf("keepalived on %s became MASTER: %v (all transitions %v)", n.Name, trs, l.Transitions(n))
	}
}

// The lab alone, no agent: keepalived nodes become MASTER and BACKUP among themselves,
// the notify FIFO records it, the sampler counts them, KillKeepalived is a crash (the
// survivor waits the whole master-down interval, the VIP stays on the dead node) and
// the forger's adverts are ones keepalived accepts.
func TestKeepalivedLab(t *testing.T) {
	l := NewLab(t, Options{Nodes: 1, Keepalived: 2, Priorities: map[string]int{"ka1": 100, "ka2": 120}})
	ka1, ka2 := l.Node("ka1"), l.Node("ka2")
	if ka1.Addr4.Addr() != netip.MustParseAddr("198.18.0.12") || ka2.Addr4.Addr() != netip.MustParseAddr("198.18.0.13") {
		t.Errorf("keepalived addresses %s %s, want the ones after lb1's", ka1.Addr4, ka2.Addr4)
	}
	s := mustSampler(t, l)
	vip := l.VIP4.Addr()

	t0 := time.Now()
	mustStartKA(t, l, ka1)
	mustStartKA(t, l, ka2)
	waitKA(t, l, ka1, "BACKUP", 2*time.Second)
	m2 := waitKA(t, l, ka2, "MASTER", 6*time.Second)
	t.Logf("ka2 (120) MASTER %v after start", m2.At.Sub(t0).Round(time.Millisecond))
	if _, err := s.WaitHolders(vip, time.Second, func(h []string) bool { return slices.Equal(h, []string{"ka2"}) }); err != nil {
		t.Fatal(err)
	}
	if got, err := l.Get(vip); err != nil || got != "ka2" {
		t.Errorf("GET VIP = %q, %v; want ka2", got, err)
	}
	time.Sleep(time.Second)
	neverMaster(t, l, ka1, t0)

	// A crash of the master: ka1 waits 3 × 1 s + (256-100)/256 s after ka2's last
	// advert, and ka2's kernel keeps the VIP, so the sampler sees two holders.
	kill := time.Now()
	if err := l.KillKeepalived(ka2); err != nil {
		t.Fatal(err)
	}
	m1 := waitKA(t, l, ka1, "MASTER", 5*time.Second)
	took := m1.At.Sub(kill)
	t.Logf("ka1 MASTER %v after ka2 was killed (master-down %v after its last advert)", took.Round(time.Millisecond), kaDownV2)
	if took < kaDownV2-time.Second-100*time.Millisecond {
		t.Errorf("ka1 took over %v after the kill: too soon for a crash (did ka2 send a priority-0 advert?)", took)
	}
	if _, err := s.WaitHolders(vip, time.Second, func(h []string) bool { return slices.Equal(h, []string{"ka1", "ka2"}) }); err != nil {
		t.Errorf("after the crash: %v", err)
	}
	if err := l.Unplug(ka2); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Exec(ka2.NS, "ip", "addr", "del", l.VIP4.String(), "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	if got, err := l.Get(vip); err != nil || got != "ka1" {
		t.Errorf("GET VIP = %q, %v; want ka1", got, err)
	}
	sum := s.Summary(vip, Filter{})
	t.Logf("%v", sum)
	if sum.MaxHolders != 2 || len(sum.MultiIntervals) != 1 || !slices.Equal(sum.MultiIntervals[0].Nodes, []string{"ka1", "ka2"}) {
		t.Errorf("the sampler should have seen ka1 and ka2 hold together after the crash: %v", sum)
	}

	// The forger's v2 advert at priority 254 from the client: ka1 goes BACKUP at once
	// and drops the VIP, and takes over again 3.61 s after the last one.
	f, err := l.NewForger(l.ClientNS, ClientAddr4.Addr())
	if err != nil {
		t.Fatal(err)
	}
	adv := ForgedAdvert{Version: 2, VRID: DefaultVRID, Priority: 254, Interval: time.Second, Addrs: l.VIPs()}
	forged := time.Now()
	for range 2 {
		if err := f.Send(adv.Marshal(f.Src, VRRPGroup4), VRRPGroup4, 255); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if trs := l.TransitionsTo(ka1, "BACKUP", forged); len(trs) == 0 {
		t.Errorf("ka1 did not go BACKUP on a forged priority-254 advert: %v", l.Transitions(ka1))
	} else {
		t.Logf("ka1 BACKUP %v after the forged advert", trs[0].At.Sub(forged).Round(time.Millisecond))
	}
	if _, err := s.WaitHolders(vip, time.Second, func(h []string) bool { return len(h) == 0 }); err != nil {
		t.Errorf("ka1 kept the VIP in BACKUP: %v", err)
	}
	if ws := kaWarnings(t, l, ka1); len(ws) > 0 {
		t.Errorf("keepalived doubted the forged advert: %v", ws)
	}

	// A clean stop: keepalived exits, the state file says so.
	if err := l.StopKeepalived(ka1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.KeepalivedState(ka1); st != "STOP" {
		t.Logf("ka1 state after SIGTERM: %q (transitions %v)", st, l.Transitions(ka1))
	}
	b, err := os.ReadFile(ka1.KA.StateLog)
	if err != nil || !strings.Contains(string(b), " MASTER 100") || !strings.Contains(string(b), " BACKUP 100") {
		t.Errorf("state log of ka1 (%v):\n%s", err, b)
	}
	if errs, err := s.Errors(); errs > 0 {
		t.Errorf("sampler: %d rounds with errors, last %v", errs, err)
	}
}

// masterDown is the master-down interval a backup at priority p computes for a
// master advertising every interval (keepalived, RFC 3768 / RFC 9568): 3 × interval
// + skew, the skew (256-p)/256 s for v2 and (256-p)/256 × interval for v3.
func masterDown(version, p int, interval time.Duration) time.Duration {
	skew := time.Duration(256-p) * time.Second / 256
	if version == 3 {
		skew = time.Duration(256-p) * interval / 256
	}
	return 3*interval + skew
}

// vrrpOf returns n's status vrrp part; it fails the test if the agent has none.
func vrrpOf(t *testing.T, l *Lab, n *Node) (Status, VRRP) {
	t.Helper()
	st, err := l.Status(n)
	if err != nil {
		t.Fatal(err)
	}
	if st.VRRP == nil {
		t.Fatalf("status of %s has no vrrp field", n.Name)
	}
	return st, *st.VRRP
}

// waitVRRP polls n's status until its vrrp part satisfies cond.
func waitVRRP(t *testing.T, l *Lab, n *Node, timeout time.Duration, what string, cond func(Status, VRRP) bool) (Status, VRRP) {
	t.Helper()
	st, err := l.WaitStatus(n, timeout, func(st Status) bool { return st.VRRP != nil && cond(st, *st.VRRP) })
	if err != nil {
		t.Fatalf("%s: want %s: %v (vrrp %+v)", n.Name, what, err, st.VRRP)
	}
	return st, *st.VRRP
}

// vrrpStatuses returns the vrrp part of every running agent's status.
func vrrpStatuses(t *testing.T, l *Lab) map[*Node]VRRP {
	t.Helper()
	sts, errs := l.Statuses(context.Background())
	for n, err := range errs {
		t.Errorf("status of %s: %v", n.Name, err)
	}
	out := map[*Node]VRRP{}
	for n, st := range sts {
		if st.VRRP == nil {
			t.Errorf("status of %s has no vrrp field", n.Name)
			continue
		}
		out[n] = *st.VRRP
	}
	return out
}

// noDrops fails the test if an agent dropped an advert for another reason than
// allowed (its cluster's own adverts are always "member").
func noDrops(t *testing.T, vs map[*Node]VRRP, allowed ...string) {
	t.Helper()
	allowed = append(allowed, "member")
	for n, v := range vs {
		for reason, c := range v.Dropped {
			if c > 0 && !slices.Contains(allowed, reason) {
				t.Errorf("%s dropped %d adverts for %q: %+v", n.Name, c, reason, v)
			}
		}
	}
}

// startWithKABackup starts the agents, waits for a holder that says it is VRRP master
// and has advertised, then starts keepalived on ka1 and waits for its BACKUP.
func startWithKABackup(t *testing.T, opts Options) (*Lab, *Node, *Node) {
	t.Helper()
	l, h := startCluster(t, opts)
	waitVRRP(t, l, h, 5*time.Second, "role master, adverts sent", func(_ Status, v VRRP) bool { return v.Role == "master" && v.Sent > 0 })
	ka := l.Node("ka1")
	mustStartKA(t, l, ka)
	waitKA(t, l, ka, "BACKUP", 3*time.Second)
	return l, h, ka
}

// Three agents at 150, keepalived at 100: keepalived stays BACKUP, one holder.
func TestVRRPKeepalivedBackup(t *testing.T) {
	const watch = 15 * time.Second // four master-down intervals of keepalived
	l, h, ka := startWithKABackup(t, KeepalivedLab(VRRPOptions{}, 100))
	m := startMonitor(t, l, false)
	before := vrrpStatuses(t, l)
	time.Sleep(watch)
	after := vrrpStatuses(t, l)
	m.stop()

	neverMaster(t, l, ka, time.Time{})
	vip := l.VIP4.Addr()
	sum := m.s.Summary(vip, Filter{})
	ps := m.p.Summary(m.t0, time.Time{})
	t.Logf("%v\n%v", sum, ps)
	if sum.MaxHolders != 1 || len(sum.Timeline) != 1 || !slices.Equal(sum.Timeline[0].Holders, []string{h.Name}) {
		t.Errorf("want %s the only holder throughout: %v", h.Name, sum)
	}
	if ps.Failures > 0 || ps.LastNode != h.Name || len(ps.Answered) != 1 {
		t.Errorf("want every request answered by %s: %v", h.Name, ps)
	}
	for n, v := range after {
		b := before[n]
		t.Logf("%s: role %s, sent %d (+%d), received %d (+%d), accepted %d, dropped %v, foreign %v", n.Name, v.Role,
			v.Sent, v.Sent-b.Sent, v.Received, v.Received-b.Received, v.Accepted, v.Dropped, v.Foreign)
		if want := map[bool]string{true: "master", false: "backup"}[n == h]; v.Role != want || !v.Enabled {
			t.Errorf("%s: vrrp role %q enabled %v, want %s", n.Name, v.Role, v.Enabled, want)
		}
		if n == h {
			if d := v.Sent - b.Sent; d < uint64(watch/time.Second)-2 || d > uint64(watch/time.Second)+2 {
				t.Errorf("%s sent %d adverts in %v, want one a second", n.Name, d, watch)
			}
		} else if v.Received-b.Received == 0 {
			t.Errorf("%s received none of %s's adverts", n.Name, h.Name)
		}
	}
	noDrops(t, after)
	noKAWarnings(t, l)
	checkAnnouncements(t, l, m.s, m.w, m.t0)
}

// termAgents sends SIGTERM to the agents of nodes, all at once, and returns when the
// last one exited.
func termAgents(t *testing.T, l *Lab, nodes ...*Node) time.Time {
	t.Helper()
	last, err := l.TermAgents(15*time.Second, nodes...)
	if err != nil {
		t.Error(err)
	}
	return last
}

// vrrpTermAll stops every agent with SIGTERM (all at once, or the holder last);
// keepalived, the backup at 100, must be MASTER well within its master-down interval
// of the VIP leaving the cluster: the last holder resigns with a priority-0 advert, so
// keepalived waits only its skew, (256-100)/256 s = 0.61 s.
func vrrpTermAll(t *testing.T, holderLast bool) (fromLeft, fromExit time.Duration) {
	// Without the priority-0 advert keepalived would wait out the master-down interval
	// after the last advert, at least 3.61 - 1 = 2.61 s after the VIP left: the bound
	// lies between the two.
	const bound = 2 * time.Second
	l, h, ka := startWithKABackup(t, KeepalivedLab(VRRPOptions{}, 100))
	m := startMonitor(t, l, false)
	baseline(t, m.p, h.Name)

	start := time.Now()
	var lastExit time.Time
	if holderLast {
		termAgents(t, l, l.Others(h)...)
		lastExit = termAgents(t, l, h)
	} else {
		lastExit = termAgents(t, l, l.Nodes...)
	}
	master := waitKA(t, l, ka, "MASTER", 10*time.Second)
	if _, err := m.p.WaitFor(5*time.Second, func(r Result) bool { return r.OK && r.Start.After(master.At) && r.Node == ka.Name }); err != nil {
		t.Errorf("keepalived MASTER but the client is not served by %s: %v", ka.Name, err)
	}
	time.Sleep(time.Second)
	m.stop()

	vip := l.VIP4.Addr()
	sum := m.s.Summary(vip, Filter{})
	t.Logf("%v\n%v", sum, m.p.Summary(start.Add(-500*time.Millisecond), time.Time{}))
	kaAt, ok := m.s.FirstHeldAfter(vip, ka, start)
	if !ok {
		t.Fatalf("the sampler never saw %s hold the VIP", ka.Name)
	}
	left, ok := m.s.LastHeldBefore(vip, kaAt, l.Nodes...)
	if !ok {
		t.Fatalf("the sampler never saw an agent hold the VIP before %s", ka.Name)
	}
	fromLeft, fromExit = kaAt.Sub(left), kaAt.Sub(lastExit)
	order := map[bool]string{true: "holder last", false: "all at once"}[holderLast]
	t.Logf("figure vrrp-stop (%s): keepalived holds the VIP %v after it left the cluster (last agent sample +%v after the first SIGTERM), %v after the last agent exited (+%v); state MASTER reported %v after the VIP left",
		order, fromLeft.Round(time.Millisecond), left.Sub(start).Round(time.Millisecond), fromExit.Round(time.Millisecond),
		lastExit.Sub(start).Round(time.Millisecond), master.At.Sub(left).Round(time.Millisecond))
	if fromLeft > bound {
		t.Errorf("keepalived took the VIP %v after it left the cluster, want ≤ %v (0.61 s after a priority-0 advert)", fromLeft, bound)
	}
	if sum.MaxHolders > 1 {
		t.Errorf("two holders: %v", sum)
	}
	if trs := l.TransitionsTo(ka, "MASTER", time.Time{}); len(trs) != 1 || trs[0].At.Before(start) {
		t.Errorf("keepalived MASTER %d times: %v", len(trs), l.Transitions(ka))
	}
	noKAWarnings(t, l)
	checkAnnouncements(t, l, m.s, m.w, m.t0)
	return fromLeft, fromExit
}

// Every agent stopped at once with SIGTERM: keepalived takes over at once.
func TestVRRPTermAll(t *testing.T) { vrrpTermAll(t, false) }

// The agents stopped one after the other, the holder last.
func TestVRRPTermHolderLast(t *testing.T) { vrrpTermAll(t, true) }

// The holder's host unplugged: Raft fails over, and the new holder advertises,
// before keepalived's master-down timer (3.61 s) fires: keepalived stays BACKUP.
func TestVRRPUnplugHolder(t *testing.T) {
	l, h, ka := startWithKABackup(t, KeepalivedLab(VRRPOptions{}, 100))
	f, err := l.MeasureUnplug(context.Background(), h, serveTimeout, kaDownV2+time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v\n%v\n%v", f, f.Probe, f.Holders)
	t.Logf("figure vrrp-unplug: %s → %s claimed %v and served %v after the unplug, client gap %v; keepalived's master-down interval %v (margin %v)",
		f.Old, f.New, f.ClaimedAfter.Round(time.Millisecond), f.ServedAfter.Round(time.Millisecond), f.Gap.Round(time.Millisecond),
		kaDownV2, (kaDownV2 - f.ClaimedAfter).Round(time.Millisecond))
	neverMaster(t, l, ka, time.Time{})
	if f.New == ka.Name || f.New == h.Name {
		t.Errorf("served by %s after unplugging %s, want another agent", f.New, h.Name)
	}
	if f.ClaimedAfter >= kaDownV2 {
		t.Errorf("the VIP was claimed %v after the unplug, not before keepalived's master-down interval %v", f.ClaimedAfter, kaDownV2)
	}
	if f.MaxHolders > 1 {
		t.Errorf("two holders: %v", f.Holders)
	}
	checkAnnouncements(t, l, f.Sampler, f.Watch, f.Unplugged)
	nh := newHolder(t, l, h)
	_, v := vrrpOf(t, l, nh)
	if v.Role != "master" {
		t.Errorf("new holder %s: vrrp role %q, want master", nh.Name, v.Role)
	}
	noKAWarnings(t, l)
}

// The agents started again after keepalived became MASTER: the cluster (150)
// preempts keepalived (100), which goes BACKUP and drops the VIP.
func TestVRRPPreemptKeepalived(t *testing.T) {
	l, h, ka := startWithKABackup(t, KeepalivedLab(VRRPOptions{}, 100))
	m := startMonitor(t, l, false)
	baseline(t, m.p, h.Name)
	termAgents(t, l, l.Nodes...)
	master := waitKA(t, l, ka, "MASTER", 10*time.Second)
	if _, err := m.p.WaitFor(5*time.Second, func(r Result) bool { return r.OK && r.Start.After(master.At) && r.Node == ka.Name }); err != nil {
		t.Fatalf("keepalived MASTER but the client is not served by %s: %v", ka.Name, err)
	}

	restart := time.Now()
	if err := l.StartAgents(); err != nil {
		t.Fatal(err)
	}
	backup := waitKA(t, l, ka, "BACKUP", formTimeout)
	nh, err := l.WaitForHolder(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.p.WaitFor(5*time.Second, func(r Result) bool { return r.OK && r.Start.After(backup.At) && r.Node == nh.Name }); err != nil {
		t.Errorf("the client is not served by %s after keepalived went BACKUP: %v", nh.Name, err)
	}
	time.Sleep(2 * time.Second)
	m.stop()

	vip := l.VIP4.Addr()
	sum := m.s.Summary(vip, Filter{From: restart})
	claimed, _ := m.s.FirstHeldAfter(vip, nh, restart)
	dropped, _ := m.s.LastHeldBefore(vip, time.Now(), ka)
	t.Logf("%v\n%v", sum, m.p.Summary(restart, time.Time{}))
	t.Logf("agents restarted: %s claimed +%v, keepalived BACKUP +%v, its last sample with the VIP +%v; two holders for %v",
		nh.Name, claimed.Sub(restart).Round(time.Millisecond), backup.At.Sub(restart).Round(time.Millisecond),
		dropped.Sub(restart).Round(time.Millisecond), sum.MultiDuration)
	if hs := m.s.Holders(vip); !slices.Equal(hs, []string{nh.Name}) {
		t.Errorf("holders at the end %v, want %s alone", hs, nh.Name)
	}
	// Preemption is VRRP's: the new master adds the VIP and advertises, the old one
	// drops it when the advert arrives. Allow that, not more.
	if sum.MultiDuration > 100*time.Millisecond {
		t.Errorf("two holders for %v while the cluster preempted keepalived: %v", sum.MultiDuration, sum)
	}
	if trs := l.TransitionsTo(ka, "MASTER", backup.At); len(trs) > 0 {
		t.Errorf("keepalived MASTER again after the preemption: %v", l.Transitions(ka))
	}
	_, v := vrrpOf(t, l, nh)
	t.Logf("%s vrrp: %+v", nh.Name, v)
	noDrops(t, vrrpStatuses(t, l))
	noKAWarnings(t, l)
	checkAnnouncements(t, l, m.s, m.w, m.t0)
}

// foreignTakeover runs the takeover from a foreign master in VRRP group g: keepalived
// ka1 at 200 is MASTER before the agents start; the cluster (150) never holds while it
// advertises, and its leader says why; ka1 crashes (SIGKILL, unplugged, its kernel's
// VIP removed as on a powered-off host); the cluster claims after its master-down
// interval. With backup, keepalived ka2 at 100 then joins and stays BACKUP. It returns
// the time from the kill to the claim and from ka1's last advert to the claim.
func foreignTakeover(t *testing.T, g VRRPOptions, backup bool) (afterKill, afterLast time.Duration) {
	kas := []int{200}
	if backup {
		kas = append(kas, 100)
	}
	opts := KeepalivedLab(g, kas...)
	l := NewLab(t, opts)
	g = l.Options().vrrpGroup()
	ka1 := l.Node("ka1")
	vip := l.VIP4.Addr()
	s := mustSampler(t, l)
	down := masterDown(g.Version, ClusterVRRPPriority, g.AdvertInterval)

	mustStartKA(t, l, ka1)
	waitKA(t, l, ka1, "MASTER", masterDown(g.Version, 200, g.AdvertInterval)+3*time.Second)
	agents := time.Now()
	if err := l.StartAgents(); err != nil {
		t.Fatal(err)
	}
	// The cluster forms, and holds back with the reason.
	leader, _, err := l.WaitVRRPBackup(context.Background(), formTimeout)
	if err != nil {
		t.Fatal(err)
	}
	formed := time.Now()
	time.Sleep(max(2*time.Second, 2*down))
	st, v := vrrpOf(t, l, leader)
	t.Logf("%s leader %v after the agents started: reason %q; vrrp %+v", leader.Name, formed.Sub(agents).Round(time.Millisecond), st.Reason, v)
	if !strings.HasPrefix(st.Reason, "VRRP backup") || !strings.HasPrefix(v.Reason, "VRRP backup") || st.Holding {
		t.Errorf("leader %s: reason %q, vrrp.reason %q, holding %v; want VRRP backup to %s", leader.Name, st.Reason, v.Reason, st.Holding, ka1.Addr4.Addr())
	}
	// The cluster must not have claimed at all: like a VRRP router starting up, it
	// listens for a master-down interval before it may claim. A claim that lost the
	// VIP again within milliseconds is in the event history even when the sampler
	// missed it.
	for _, e := range st.Events {
		if e.Kind == "assign" {
			t.Errorf("%s was assigned the VIP at %s (+%v after the agents started, term %d) while keepalived at 200 was MASTER; %s has sent %d adverts",
				e.Node, e.At.Format("15:04:05.000"), e.At.Sub(agents).Round(time.Millisecond), e.Term, leader.Name, v.Sent)
		}
	}
	if r, ok := v.Router(ka1.Addr4.Addr().String()); !ok || r.Priority != 200 || !r.Master || r.Adverts == 0 {
		t.Errorf("leader %s does not list %s as the foreign master at 200: %+v", leader.Name, ka1.Addr4.Addr(), v.Foreign)
	}
	if at, ok := s.LastHeldBefore(vip, time.Now(), l.Nodes...); ok {
		t.Errorf("an agent held the VIP at %s while keepalived at 200 was MASTER: %v", at.Format("15:04:05.000"), s.Summary(vip, Filter{}))
	}
	noDrops(t, vrrpStatuses(t, l))

	kill := time.Now()
	if err := l.CrashKeepalived(ka1); err != nil {
		t.Fatal(err)
	}
	nh, err := l.WaitForHolder(down + 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Status can say "holding" before the sampler's next read (every 10 ms) of the
	// addresses: give it a few.
	var claimed time.Time
	ok := false
	for end := time.Now().Add(500 * time.Millisecond); !ok && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		claimed, ok = s.FirstHeldAfter(vip, nh, kill)
	}
	if !ok {
		t.Fatalf("the sampler never saw %s hold the VIP", nh.Name)
	}
	afterKill = claimed.Sub(kill)
	_, v = vrrpOf(t, l, nh)
	if r, ok := v.Router(ka1.Addr4.Addr().String()); ok && !r.LastSeen.IsZero() {
		afterLast = claimed.Sub(r.LastSeen)
	} else {
		t.Logf("%s no longer lists %s: %+v", nh.Name, ka1.Addr4.Addr(), v.Foreign)
	}
	t.Logf("figure vrrp-foreign (v%d, %v adverts, %s): %s claimed %v after keepalived was killed, %v after its last advert (master-down interval for 150: %v)",
		g.Version, g.AdvertInterval, map[bool]string{true: "unicast", false: "multicast"}[g.Unicast], nh.Name,
		afterKill.Round(time.Millisecond), afterLast.Round(time.Millisecond), down)
	// The timer runs from the last advert, which left up to one interval before the kill.
	if afterKill < down-g.AdvertInterval-50*time.Millisecond {
		t.Errorf("claimed %v after the kill: before the master-down interval %v could have passed", afterKill, down)
	}
	if afterKill > down+1500*time.Millisecond {
		t.Errorf("claimed %v after the kill, want ≤ master-down %v + 1.5 s", afterKill, down)
	}
	if afterLast != 0 && afterLast < down-50*time.Millisecond {
		t.Errorf("claimed %v after the last advert, before the master-down interval %v", afterLast, down)
	}
	if got, err := l.Get(vip); err != nil || got != nh.Name {
		t.Errorf("GET VIP = %q, %v; want %s", got, err, nh.Name)
	}

	if backup {
		ka2 := l.Node("ka2")
		mustStartKA(t, l, ka2)
		waitKA(t, l, ka2, "BACKUP", 3*time.Second)
		time.Sleep(max(3*time.Second, 2*masterDown(g.Version, 100, g.AdvertInterval)))
		neverMaster(t, l, ka2, time.Time{})
		if hs := s.Holders(vip); !slices.Equal(hs, []string{nh.Name}) {
			t.Errorf("holders %v after ka2 joined, want %s", hs, nh.Name)
		}
	}
	s.Stop()
	sum := s.Summary(vip, Filter{})
	t.Logf("%v", sum)
	if sum.MaxHolders > 1 {
		t.Errorf("two holders: %v", sum)
	}
	noDrops(t, vrrpStatuses(t, l))
	noKAWarnings(t, l)
	return afterKill, afterLast
}

// keepalived at 200 is MASTER: the cluster holds back; keepalived crashes: the
// cluster claims after 3 × 1 s + (256-150)/256 s = 3.41 s.
func TestVRRPForeignMaster(t *testing.T) { foreignTakeover(t, VRRPOptions{}, false) }

// The coexistence of TestVRRPForeignMaster with VRRPv3 at 100 ms adverts, with v2
// PASS authentication, and in unicast mode: keepalived at 200 holds the cluster back
// until it crashes, keepalived at 100 stays BACKUP under the cluster.
func TestVRRPModes(t *testing.T) {
	for _, c := range []struct {
		name string
		g    VRRPOptions
	}{
		{"v3-100ms", VRRPOptions{Version: 3, AdvertInterval: 100 * time.Millisecond}},
		{"v2-pass", VRRPOptions{AuthPass: "s3cret"}},
		{"unicast", VRRPOptions{Unicast: true}},
	} {
		t.Run(c.name, func(t *testing.T) { foreignTakeover(t, c.g, true) })
	}
}

// Forged adverts from the client's namespace, each claiming priority 254 or 255 but
// wrong in one way: every agent drops them for that reason (vrrp.dropped) and the
// holder stays. A correct advert at priority 50 is accepted, and the holder stays.
func TestVRRPForgedAdverts(t *testing.T) {
	const pass = "s3cret"
	l, h := startCluster(t, KeepalivedLab(VRRPOptions{AuthPass: pass}))
	waitVRRP(t, l, h, 5*time.Second, "role master", func(_ Status, v VRRP) bool { return v.Role == "master" && v.Sent > 0 })
	s := mustSampler(t, l)
	f, err := l.NewForger(l.ClientNS, ClientAddr4.Addr())
	if err != nil {
		t.Fatal(err)
	}
	vip := l.VIP4.Addr()
	good := ForgedAdvert{Version: 2, VRID: DefaultVRID, Priority: 254, AuthType: 1, AuthPass: pass, Interval: time.Second, Addrs: l.VIPs()}
	dst := VRRPGroup4
	const copies = 3
	for _, c := range []struct {
		name   string
		reason string
		ttl    int
		packet func() []byte
	}{
		{"TTL 254", "ttl", 254, func() []byte { return good.Marshal(f.Src, dst) }},
		{"bad checksum", "checksum", 255, func() []byte { b := good.Marshal(f.Src, dst); b[7] ^= 0x5a; return b }},
		{"wrong password", "auth", 255, func() []byte { a := good; a.AuthPass = "guess"; return a.Marshal(f.Src, dst) }},
		{"no authentication", "auth", 255, func() []byte { a := good; a.AuthType, a.AuthPass = 0, ""; return a.Marshal(f.Src, dst) }},
		{"wrong VRID", "vrid", 255, func() []byte { a := good; a.VRID = DefaultVRID + 1; return a.Marshal(f.Src, dst) }},
		{"truncated", "truncated", 255, func() []byte { return good.Marshal(f.Src, dst)[:12] }},
		{"priority 255, bad password", "auth", 255, func() []byte { a := good; a.Priority, a.AuthPass = 255, "owner"; return a.Marshal(f.Src, dst) }},
	} {
		before := vrrpStatuses(t, l)
		for range copies {
			if err := f.Send(c.packet(), dst, c.ttl); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range l.Nodes {
			b := before[n]
			_, v := waitVRRP(t, l, n, 3*time.Second, fmt.Sprintf("%d more %q drops (%s)", copies, c.reason, c.name), func(_ Status, v VRRP) bool {
				return v.Dropped[c.reason] >= b.Dropped[c.reason]+copies
			})
			for reason, cnt := range v.Dropped {
				if reason != c.reason && reason != "member" && cnt != b.Dropped[reason] {
					t.Errorf("%s: %s counted as %q too: dropped %v, before %v", n.Name, c.name, reason, v.Dropped, b.Dropped)
				}
			}
			if v.Accepted != b.Accepted {
				t.Errorf("%s accepted the forged advert (%s): accepted %d → %d", n.Name, c.name, b.Accepted, v.Accepted)
			}
		}
		t.Logf("%s: dropped as %q by every agent", c.name, c.reason)
	}
	// Control: the same forger's correct advert is accepted — at priority 50, below the
	// cluster, so the holder stays (and preempts it).
	before := vrrpStatuses(t, l)
	low := good
	low.Priority = 50
	if err := f.Send(low.Marshal(f.Src, dst), dst, 255); err != nil {
		t.Fatal(err)
	}
	for _, n := range l.Nodes {
		b := before[n]
		_, v := waitVRRP(t, l, n, 3*time.Second, "the correct advert accepted", func(_ Status, v VRRP) bool { return v.Accepted > b.Accepted })
		if r, ok := v.Router(f.Src.String()); !ok || r.Priority != 50 {
			t.Errorf("%s does not list the forger %s at priority 50: %+v", n.Name, f.Src, v.Foreign)
		}
	}
	time.Sleep(time.Second)
	s.Stop()
	sum := s.Summary(vip, Filter{})
	t.Logf("%v", sum)
	if sum.MaxHolders != 1 || len(sum.Timeline) != 1 || !slices.Equal(sum.Timeline[0].Holders, []string{h.Name}) {
		t.Errorf("want %s the only holder throughout: %v", h.Name, sum)
	}
	if nh, err := l.Holder(); err != nil || nh != h {
		t.Errorf("holder %v (%v), want %s", nh, err, h.Name)
	}
	st, v := vrrpOf(t, l, h)
	t.Logf("%s: reason %q, vrrp %+v", h.Name, st.Reason, v)
	if strings.HasPrefix(st.Reason, "VRRP backup") {
		t.Errorf("%s is VRRP backup after the forged adverts: %q", h.Name, st.Reason)
	}
}
