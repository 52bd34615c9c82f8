package test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Bounds of the scenarios. They are deliberately generous: the suite checks the
// promises (one holder, bounded overlap, service comes back), the figures program
// measures how fast.
const (
	formTimeout  = 30 * time.Second // three fresh agents elect a leader and claim
	serveTimeout = 5 * time.Second  // a survivor answers through the VIP after a fault
	settle       = 3 * time.Second  // keep watching after recovery

	// The longest client gap of one crash failover (the holder unplugged) with the lan
	// profile: three times DESIGN §1's target of a 1 s median (the lab measures
	// 0.6–1.2 s).
	maxUnplugGap = 3 * time.Second
	// The longest client gap of a planned move by SIGTERM. The target is under 100 ms
	// (the lab measures 50–90 ms); the bound lets through one SYN the old holder
	// dropped while it drained, which costs the client its 1 s retransmission (DESIGN
	// §9.4 lists it as a known defect of today's drain), and nothing slower.
	maxTermGap = 1500 * time.Millisecond
)

// startCluster builds a lab, starts the three agents and waits for a holder.
func startCluster(t *testing.T, opts Options) (*Lab, *Node) {
	t.Helper()
	opts.StartAgents = true
	l := NewLab(t, opts)
	h, err := l.WaitForHolder(formTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("holder: %s", h.Name)
	// Leadership follows placement (DESIGN §9.2): wait, briefly, for it to settle on a
	// node that holds nothing, so that tests start from the steady state.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := l.Status(h); err == nil && st.Leader != "" && st.Leader != h.Name {
			t.Logf("leader: %s", st.Leader)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return l, h
}

func mustSampler(t *testing.T, l *Lab) *Sampler {
	t.Helper()
	s, err := l.StartSampler()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustProbe(t *testing.T, l *Lab, v6 bool) *Probe {
	t.Helper()
	target := l.VIP4.Addr()
	if v6 {
		target = l.VIP6.Addr()
	}
	p, err := l.StartProbe(target)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// monitor runs the ownership sampler, the HTTP probe(s) and the announcement watch
// for one scenario.
type monitor struct {
	l      *Lab
	s      *Sampler
	p, p6  *Probe // IPv4 probe; IPv6 probe if the lab has an IPv6 VIP and it was asked for
	w      *AnnounceWatch
	t0     time.Time
	closed bool
}

func startMonitor(t *testing.T, l *Lab, v6 bool) *monitor {
	t.Helper()
	m := &monitor{l: l, t0: time.Now()}
	w, err := l.StartAnnounceWatch()
	if err != nil {
		t.Fatal(err)
	}
	m.w = w
	m.s = mustSampler(t, l)
	m.p = mustProbe(t, l, false)
	if v6 {
		m.p6 = mustProbe(t, l, true)
	}
	t.Cleanup(func() {
		if t.Failed() {
			m.stop()
			m.dump(t)
		}
	})
	return m
}

func (m *monitor) stop() {
	if m.closed {
		return
	}
	m.closed = true
	m.p.Stop()
	if m.p6 != nil {
		m.p6.Stop()
	}
	m.s.Stop()
	m.w.Stop()
}

// dump logs what the monitor saw, for a failed test.
func (m *monitor) dump(t *testing.T) {
	t.Logf("monitor, times relative to %s:", m.t0.Format("15:04:05.000"))
	for _, p := range []*Probe{m.p, m.p6} {
		if p != nil {
			t.Logf("%v", p.Summary(m.t0, time.Time{}))
		}
	}
	for _, v := range m.l.VIPs() {
		t.Logf("%v", m.s.Summary(v, Filter{}))
		node, state, err := m.l.ClientNeighbor(v)
		t.Logf("client neighbour entry for %s: %s %s %v", v, node, state, err)
	}
	t.Logf("%s", m.w.Summary(m.t0))
	for _, n := range m.l.Nodes {
		if !m.l.AgentRunning(n) {
			continue
		}
		text, err := m.l.StatusText(n)
		t.Logf("status of %s (err %v):\n%s", n.Name, err, text)
	}
}

// checkAnnouncements asserts that a node announced a VIP (gratuitous ARP, ARP reply,
// neighbour advertisement) only while its kernel held it: an announcement from a node
// without the VIP points the client's neighbour cache at a black hole.
func checkAnnouncements(t *testing.T, l *Lab, s *Sampler, w *AnnounceWatch, t0 time.Time) {
	t.Helper()
	for _, a := range l.StaleAnnouncements(s, w, 100*time.Millisecond) {
		t.Errorf("%s announced %s at +%v (%s) while its kernel did not hold it",
			a.Node, a.Addr, a.At.Sub(t0).Round(time.Millisecond), a.Kind)
	}
	if err := w.Err(); err != nil {
		t.Errorf("announce watch: %v", err)
	}
}

// baseline waits until p has a success (from want, if set) and a second has passed.
func baseline(t *testing.T, p *Probe, want string) {
	t.Helper()
	t0 := time.Now()
	r, err := p.WaitFor(5*time.Second, func(r Result) bool { return r.OK })
	if err != nil {
		t.Fatal(err)
	}
	if want != "" && r.Node != want {
		t.Errorf("VIP %s answered by %s, want the holder %s", p.Target, r.Node, want)
	}
	time.Sleep(time.Second - time.Since(t0))
}

// servedBy waits for a success through p from a node other than old, on a request
// started after t0.
func servedBy(t *testing.T, p *Probe, t0 time.Time, old *Node, timeout time.Duration) Result {
	t.Helper()
	r, err := p.WaitFor(timeout, func(r Result) bool { return r.OK && r.Start.After(t0) && r.Node != old.Name })
	if err != nil {
		t.Fatalf("no survivor served %s within %v: %v", p.Target, timeout, err)
	}
	t.Logf("%s served by %s %v after the fault", p.Target, r.Node, r.End.Sub(t0).Round(time.Millisecond))
	return r
}

// newHolder waits for a single holder and checks it is not old.
func newHolder(t *testing.T, l *Lab, old *Node) *Node {
	t.Helper()
	h, err := l.WaitForHolder(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if h == old {
		t.Errorf("holder is still %s", old.Name)
	}
	return h
}

// waitFor polls check until it returns "" and fails the test with its last word if
// that takes longer than timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		why := check()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %s", what, timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Three nodes form; exactly one holds; the client gets 200 through the VIP.
func TestFormAndServe(t *testing.T) {
	l, h := startCluster(t, Options{})
	s := mustSampler(t, l)
	got, err := l.Get(l.VIP4.Addr())
	if err != nil || got != h.Name {
		t.Errorf("GET VIP = %q, %v; want 200 from %s", got, err, h.Name)
	}
	time.Sleep(time.Second)
	s.Stop()
	sum := s.Summary(l.VIP4.Addr(), Filter{})
	t.Logf("%v", sum)
	if sum.MaxHolders != 1 || !slices.Equal(s.Holders(l.VIP4.Addr()), []string{h.Name}) {
		t.Errorf("kernel holders: want exactly %s: %v", h.Name, sum)
	}
	// Leadership follows placement (DESIGN §9.2): the leader moves to a voter that
	// holds nothing.
	var sts map[*Node]Status
	waitFor(t, 10*time.Second, "the leader to sit where nothing is held", func() string {
		var errs map[*Node]error
		sts, errs = l.Statuses(context.Background())
		for n, err := range errs {
			return fmt.Sprintf("status of %s: %v", n.Name, err)
		}
		if st := sts[h]; st.State == "leader" {
			return h.Name + " holds the VIP and leads"
		}
		return ""
	})
	leader := ""
	for _, st := range sts {
		if st.State == "leader" {
			leader = st.Node
		}
	}
	for n, st := range sts {
		if st.Holding != (n == h) || st.Holder != h.Name || st.Leader != leader || leader == "" {
			t.Errorf("status of %s: state %s holding %v holder %q leader %q; holder is %s, leader %q", n.Name, st.State, st.Holding, st.Holder, st.Leader, h.Name, leader)
		}
		voters := 0
		for _, m := range st.Members {
			if m.Voter {
				voters++
			}
		}
		if voters != 3 {
			t.Errorf("status of %s: %d voters in %+v", n.Name, voters, st.Members)
		}
	}
}

// The holder's host is unplugged: a survivor serves the VIP, and the sampler never
// sees two holders — the unplugged node's agent still runs, so it counts.
func TestUnplugHolder(t *testing.T) {
	l, h := startCluster(t, Options{})
	f, err := l.MeasureUnplug(context.Background(), h, serveTimeout, settle)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v\n%v\n%v", f, f.Probe, f.Holders)
	if f.New == h.Name {
		t.Errorf("unplugged %s still answered", h.Name)
	}
	if f.Gap > maxUnplugGap {
		t.Errorf("client gap %v after unplugging %s, want ≤ %v (lan: a 1 s median)", f.Gap.Round(time.Millisecond), h.Name, maxUnplugGap)
	}
	if f.MaxHolders > 1 {
		t.Errorf("two holders after unplugging %s: %v", h.Name, f.Holders)
	}
	checkAnnouncements(t, l, f.Sampler, f.Watch, f.Unplugged)
	nh := newHolder(t, l, h)
	if nh.Name != f.New {
		t.Errorf("status says %s holds, client was answered by %s", nh.Name, f.New)
	}
	if held, err := l.KernelHolds(h); err != nil || held {
		t.Errorf("unplugged %s still has the VIP (%v)", h.Name, err)
	}
	if t.Failed() {
		t.Logf("%s", f.Watch.Summary(f.Unplugged))
	}
}

// killHolder starts a cluster, kills the holder with kill, and watches until the
// lifetime plus 2 s have passed. It returns the holder, when it was killed, when the
// sampler last saw it hold the VIP, and the sampler's summary of the VIP.
func killHolder(t *testing.T, kill func(*Lab, *Node) error) (l *Lab, h *Node, killed, last time.Time, all HolderSummary) {
	t.Helper()
	l, h = startCluster(t, Options{})
	m := startMonitor(t, l, false)
	baseline(t, m.p, h.Name)
	if l.GuardPID(h) == 0 {
		t.Fatalf("%s's agent has no vip guard child", h.Name)
	}

	killed = time.Now()
	if err := kill(l, h); err != nil {
		t.Fatal(err)
	}
	servedBy(t, m.p, killed, h, serveTimeout)
	time.Sleep(time.Until(killed.Add(l.Options().Lifetime + 2*time.Second)))
	m.stop()

	vip := l.VIP4.Addr()
	all = m.s.Summary(vip, Filter{})
	t.Logf("%v\n%v", m.p.Summary(killed.Add(-500*time.Millisecond), time.Time{}), all)
	last, ok := m.s.LastHeld(vip, h)
	if !ok {
		t.Fatalf("sampler never saw %s hold the VIP", h.Name)
	}
	checkAnnouncements(t, l, m.s, m.w, m.t0)
	newHolder(t, l, h)
	return l, h, killed, last, all
}

// The holder's agent is SIGKILLed: its VIP guard removes the VIP at once, a
// survivor serves, and there are never two holders.
func TestKillHolder(t *testing.T) {
	_, h, killed, last, all := killHolder(t, (*Lab).Kill)
	t.Logf("%s lost the VIP %v after SIGKILL", h.Name, last.Sub(killed).Round(time.Millisecond))
	// The guard acts within milliseconds; a generous bound, well under the lifetime
	// the kernel would otherwise keep it for.
	if d := last.Sub(killed); d > time.Second {
		t.Errorf("killed %s kept the VIP %v after SIGKILL; its guard should remove it at once", h.Name, d)
	}
	if all.MaxHolders > 1 {
		t.Errorf("two holders after the holder's agent was killed: %v", all.MultiIntervals)
	}
}

// The holder's VIP guard and agent are both SIGKILLed: nothing removes the VIP but
// the kernel, within lifetime + 1 s; two holders only while that dead kernel has it.
func TestKillHolderAndGuard(t *testing.T) {
	l, h, killed, last, all := killHolder(t, (*Lab).KillWithGuard)
	lifetime := l.Options().Lifetime
	t.Logf("%s's kernel kept the VIP %v after SIGKILL (lifetime %v)", h.Name, last.Sub(killed).Round(time.Millisecond), lifetime)
	if d := last.Sub(killed); d > lifetime+time.Second {
		t.Errorf("killed %s's kernel kept the VIP %v after SIGKILL, want ≤ lifetime %v + 1s", h.Name, d, lifetime)
	}
	for _, iv := range all.MultiIntervals {
		if !slices.Contains(iv.Nodes, h.Name) {
			t.Errorf("two holders without the killed %s: %v", h.Name, iv)
		}
	}
}

// The holder is partitioned from the two others: never two holders, the majority
// side serves; after healing there is still exactly one holder and the client reaches it.
func TestPartitionHolder(t *testing.T) {
	l, h := startCluster(t, Options{})
	m := startMonitor(t, l, false)
	baseline(t, m.p, h.Name)

	cut := time.Now()
	if err := l.Partition(h); err != nil {
		t.Fatal(err)
	}
	servedBy(t, m.p, cut, h, serveTimeout)
	// Fail closed, loudly (promise 6): the cut-off node says why it does not hold.
	if st, err := l.WaitStatus(h, 5*time.Second, func(st Status) bool {
		return !st.Holding && strings.Contains(st.Reason, "quorum")
	}); err != nil {
		t.Errorf("partitioned %s does not report losing the quorum: %v", h.Name, err)
	} else {
		t.Logf("partitioned %s: state %s, reason %q", h.Name, st.State, st.Reason)
	}
	time.Sleep(settle)
	if held, err := l.KernelHolds(h); err != nil || held {
		t.Errorf("partitioned %s still has the VIP (%v)", h.Name, err)
	}

	heal := time.Now()
	if err := l.Heal(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(settle)
	nh := newHolder(t, l, h)
	if got, err := l.Get(l.VIP4.Addr()); err != nil || got != nh.Name {
		t.Errorf("GET VIP after heal = %q, %v; want %s", got, err, nh.Name)
	}
	time.Sleep(time.Second)
	m.stop()
	sum := m.s.Summary(l.VIP4.Addr(), Filter{})
	t.Logf("%v\n%v", m.p.Summary(cut.Add(-500*time.Millisecond), time.Time{}), sum)
	if sum.MaxHolders > 1 {
		t.Errorf("two holders during partition or heal: %v", sum)
	}
	if last, ok := m.p.LastAnswer(); !ok || last != nh.Name {
		t.Errorf("last answer from %q, holder is %s", last, nh.Name)
	}
	if after := m.p.Summary(heal.Add(time.Second), time.Time{}); after.Failures > 0 {
		t.Errorf("failed requests after heal: %v", after)
	}
	checkAnnouncements(t, l, m.s, m.w, m.t0)
}

// The holder's agent is frozen (SIGSTOP) for 5 s, then resumed. With fencing
// standard the overlap is at most the address lifetime (plus the kernel's 250 ms
// check granularity); with strict there is none. The old holder steps down cleanly and
// does not disturb the new holder.
func TestFreezeHolder(t *testing.T) {
	for _, fencing := range []string{"standard", "strict"} {
		t.Run(fencing, func(t *testing.T) {
			l, h := startCluster(t, Options{Fencing: fencing})
			m := startMonitor(t, l, false)
			baseline(t, m.p, h.Name)

			stop := time.Now()
			if err := l.Stop(h); err != nil {
				t.Fatal(err)
			}
			servedBy(t, m.p, stop, h, 5*time.Second)
			time.Sleep(time.Until(stop.Add(5 * time.Second)))
			cont := time.Now()
			if err := l.Cont(h); err != nil {
				t.Fatal(err)
			}
			st, err := l.WaitStatus(h, 10*time.Second, func(st Status) bool { return !st.Holding && st.State == "follower" })
			if err != nil {
				t.Errorf("resumed %s did not step down to follower: %v", h.Name, err)
			} else {
				t.Logf("resumed %s: state %s, leader %s, reason %q", h.Name, st.State, st.Leader, st.Reason)
			}
			time.Sleep(2 * time.Second)
			nh := newHolder(t, l, h)
			if got, err := l.Get(l.VIP4.Addr()); err != nil || got != nh.Name {
				t.Errorf("GET VIP = %q, %v; want %s", got, err, nh.Name)
			}
			m.stop()

			vip := l.VIP4.Addr()
			sum := m.s.Summary(vip, Filter{})
			t.Logf("%v\n%v", m.p.Summary(stop.Add(-500*time.Millisecond), time.Time{}), sum)
			lifetime := l.Options().Lifetime
			switch fencing {
			case "standard":
				if limit := FreezeBound(lifetime); sum.MultiDuration > limit {
					t.Errorf("overlap %v > lifetime %v + 250ms kernel slack: %v", sum.MultiDuration, lifetime, sum)
				}
			case "strict":
				if sum.MultiSamples > 0 {
					t.Errorf("fencing strict: %d samples with two holders: %v", sum.MultiSamples, sum)
				}
			}
			if after := m.s.Summary(vip, Filter{From: cont}); after.MaxHolders > 1 {
				t.Errorf("two holders after SIGCONT: %v", after)
			}
			if others := m.s.Summary(vip, Filter{Exclude: []*Node{h}}); others.MaxHolders > 1 {
				t.Errorf("two running agents held the VIP: %v", others)
			}
			// The new holder served before the old one woke up; waking it must not
			// cost a single request.
			if after := m.p.Summary(cont, time.Time{}); after.Failures > 0 {
				t.Errorf("%d requests failed after SIGCONT to the old holder: %v", after.Failures, after)
			}
			checkAnnouncements(t, l, m.s, m.w, m.t0)
		})
	}
}

// All three agents are SIGKILLed and restarted on their data dirs: the cluster
// re-forms from disk without bootstrapping again, one holder, no two-holder sample.
func TestRestartAll(t *testing.T) {
	l, h := startCluster(t, Options{})
	before, err := l.Status(h)
	if err != nil {
		t.Fatal(err)
	}
	s := mustSampler(t, l)
	for _, n := range l.Nodes {
		if err := l.Kill(n); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	if err := l.StartAgents(); err != nil {
		t.Fatal(err)
	}
	nh, err := l.WaitForHolder(formTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := l.Get(l.VIP4.Addr()); err != nil || got != nh.Name {
		t.Errorf("GET VIP after restart = %q, %v; want %s", got, err, nh.Name)
	}
	time.Sleep(time.Second)
	s.Stop()
	sum := s.Summary(l.VIP4.Addr(), Filter{})
	t.Logf("holder before %s, after %s\n%v", h.Name, nh.Name, sum)
	if sum.MultiSamples > 0 {
		t.Errorf("two holders around the restart: %v", sum)
	}
	for _, n := range l.Nodes {
		log, err := l.AgentLog(n, 2)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(log, `msg="bootstrapping new cluster"`) {
			t.Errorf("%s bootstrapped a new cluster on restart", n.Name)
		}
		if !strings.Contains(log, `msg="raft state found; not bootstrapping"`) {
			t.Errorf(`%s: no msg="raft state found; not bootstrapping" in the restart log`, n.Name)
		}
	}
	// Nothing lost: the claims made before the restart are still in the history.
	after, err := l.Status(nh)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range before.Events {
		if !slices.ContainsFunc(after.Events, func(a Event) bool {
			return a.Kind == e.Kind && a.Node == e.Node && a.Term == e.Term && a.Index == e.Index
		}) {
			t.Errorf("event %+v from before the restart is missing from the history after it", e)
		}
	}
	if after.Term <= before.Term {
		t.Errorf("term after restart %d, before %d", after.Term, before.Term)
	}
}

// SIGTERM to the holder: a planned move, the agent exits 0, no client request
// fails, another node holds.
func TestTermHolder(t *testing.T) {
	l, h := startCluster(t, Options{})
	m := startMonitor(t, l, false)
	baseline(t, m.p, h.Name)

	term := time.Now()
	code, err := l.Term(h, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Errorf("agent on %s exited %d after SIGTERM, want 0", h.Name, code)
	}
	servedBy(t, m.p, term, h, serveTimeout)
	time.Sleep(2 * time.Second)
	nh := newHolder(t, l, h)
	m.stop()
	ps := m.p.Summary(time.Time{}, time.Time{})
	sum := m.s.Summary(l.VIP4.Addr(), Filter{})
	t.Logf("planned move %s → %s: client gap %v (promise: < 100 ms)\n%v\n%v", h.Name, nh.Name, ps.Gap.Round(time.Millisecond), ps, sum)
	if ps.Failures > 0 {
		t.Errorf("%d failed requests during the planned move: %v", ps.Failures, ps)
	}
	if ps.Gap > maxTermGap {
		t.Errorf("client gap %v during the planned move, want ≤ %v (target < 100 ms)", ps.Gap.Round(time.Millisecond), maxTermGap)
	}
	if sum.MaxHolders > 1 {
		t.Errorf("two holders during the planned move: %v", sum)
	}
	checkAnnouncements(t, l, m.s, m.w, m.t0)
}

// An IPv6 VIP next to the IPv4 one: after a failover (unplug) the client reaches
// the IPv6 VIP.
func TestIPv6VIP(t *testing.T) {
	l, h := startCluster(t, Options{IPv6: true})
	m := startMonitor(t, l, true)
	baseline(t, m.p6, h.Name)

	unplug := time.Now()
	if err := l.Unplug(h); err != nil {
		t.Fatal(err)
	}
	r6 := servedBy(t, m.p6, unplug, h, serveTimeout)
	servedBy(t, m.p, unplug, h, serveTimeout)
	time.Sleep(2 * time.Second)
	m.stop()
	t.Logf("%v\n%v", m.p6.Summary(unplug.Add(-500*time.Millisecond), time.Time{}), m.p.Summary(unplug.Add(-500*time.Millisecond), time.Time{}))
	for _, vip := range l.VIPs() {
		sum := m.s.Summary(vip, Filter{})
		t.Logf("%v", sum)
		if sum.MaxHolders > 1 {
			t.Errorf("two holders of %s: %v", vip, sum)
		}
	}
	if got, err := l.Get(l.VIP6.Addr()); err != nil || got != r6.Node {
		t.Errorf("GET [%s] = %q, %v; want %s", l.VIP6.Addr(), got, err, r6.Node)
	}
	nh := newHolder(t, l, h)
	if nh.Name != r6.Node {
		t.Errorf("status says %s holds, IPv6 client was answered by %s", nh.Name, r6.Node)
	}
	if na := m.w.Announcements(l.VIP6.Addr()); !slices.ContainsFunc(na, func(a Announcement) bool { return a.Node == nh.Name && a.Kind == "na" }) {
		t.Errorf("no neighbour advertisement for %s from the new holder %s: %v", l.VIP6.Addr(), nh.Name, na)
	}
	checkAnnouncements(t, l, m.s, m.w, m.t0)
}
