package test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The pair and its witness (DESIGN §9.2): two load balancers with HAProxy and the
// haproxy check (lb1 priority 150, lb2 120) and a witness, lb3, without HAProxy. The
// witness is the third voter: it leads, and it vouches for the holder's lease, so
// the pair survives the loss of any one node, and a cut link between the load
// balancers (where keepalived makes both MASTER) leaves the VIP where it is.

// startPair starts the pair and its witness and waits until lb1 holds and the
// witness leads. The timing profile is lan, or $RAFTVIP_WITNESS_TIMING.
func startPair(t *testing.T) (*Lab, *monitor) {
	t.Helper()
	opts := healthOptions(nil)
	opts.Witness = true
	opts.Timing = os.Getenv("RAFTVIP_WITNESS_TIMING")
	l := startHealthCluster(t, opts)
	waitLeader(t, l, l.Node("lb3"), 10*time.Second)
	m := startMonitor(t, l, false)
	baseline(t, m.p, "lb1")
	return l, m
}

// untouchedSince checks that no request failed or stalled past a second since t0, and
// that lb1 answered all of them.
func untouchedSince(t *testing.T, m *monitor, what string, t0 time.Time) {
	t.Helper()
	ps := m.p.Summary(t0, time.Time{})
	t.Logf("%s: %v", what, ps)
	if ps.Failures > 0 || ps.Gap > time.Second || ps.Answered["lb1"] != ps.Requests {
		t.Errorf("%s: the client saw %d failed requests, a gap of %v, answers %v; want lb1 alone, untouched", what, ps.Failures, ps.Gap, ps.Answered)
	}
}

// untouchedBy applies fault, waits settle, and checks that lb1 served the client
// alone throughout, with no failed request.
func untouchedBy(t *testing.T, m *monitor, what string, settle time.Duration, fault func() error) {
	t.Helper()
	t0 := time.Now()
	if err := fault(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(settle)
	untouchedSince(t, m, what, t0)
}

// pairUnplugHolder is scenario 1 on a started pair: lb1 unplugged, lb2 serves; plugged
// back, lb1 takes the VIP back (priority 150) with no failed request. figure names
// the log line of the failover.
func pairUnplugHolder(t *testing.T, l *Lab, m *monitor, figure string) {
	t.Helper()
	lb1, lb2 := l.Node("lb1"), l.Node("lb2")
	cut := time.Now()
	if err := l.Unplug(lb1); err != nil {
		t.Fatal(err)
	}
	if r := servedBy(t, m.p, cut, lb1, serveTimeout); r.Node != "lb2" {
		t.Errorf("served by %s, want lb2", r.Node)
	}
	t.Logf("figure %s: %v", figure, m.p.Summary(cut, time.Now()))
	waitHolder(t, l, lb2, 5*time.Second)
	back := time.Now()
	if err := l.Replug(lb1); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, l, lb1, 20*time.Second)
	time.Sleep(time.Second)
	ps := m.p.Summary(back, time.Time{})
	t.Logf("%s: lb1 back, preempts: %v", figure, ps)
	if ps.Failures > 0 {
		t.Errorf("%s: %d failed requests when lb1 took the VIP back", figure, ps.Failures)
	}
}

// pairCut is scenario 3 on a started pair: lb1 and lb2 cut from each other for hold,
// both still reaching the witness: lb2 never holds, and lb1's client is untouched.
func pairCut(t *testing.T, l *Lab, m *monitor, what string, hold time.Duration) {
	t.Helper()
	lb1, lb2 := l.Node("lb1"), l.Node("lb2")
	untouchedBy(t, m, what, hold, func() error { return l.Block(lb1, lb2) })
	st, err := l.Status(lb2)
	if err != nil {
		t.Fatal(err)
	}
	if st.Holding {
		t.Errorf("%s: lb2 holds the VIP while cut from lb1 only", what)
	}
	if err := l.Heal(); err != nil {
		t.Fatal(err)
	}
}

func TestWitnessStatus(t *testing.T) {
	l, m := startPair(t)
	defer m.stop()
	w := l.Node("lb3")
	st, err := l.Status(w)
	if err != nil {
		t.Fatal(err)
	}
	if st.NodeRole != "witness" || st.Eligible || st.Holding || len(st.Groups) != 1 || st.Groups[0].Holder != "lb1" {
		t.Errorf("witness status: role %q, eligible %v, holding %v, groups %+v", st.NodeRole, st.Eligible, st.Holding, st.Groups)
	}
	roles := map[string]string{}
	for _, mb := range st.Members {
		roles[mb.Name] = mb.NodeRole
	}
	if roles["lb1"] != "lb" || roles["lb2"] != "lb" || roles["lb3"] != "witness" {
		t.Errorf("member roles %v", roles)
	}
	out, err := l.CLI(w, "status")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("raftvip status on the witness:\n%s", out)
	noTwoHolders(t, l, m)
}

// Scenario 1: lb1 unplugged → lb2 holds; plugged back, lb1 preempts (priority 150).
func TestWitnessUnplugHolder(t *testing.T) {
	l, m := startPair(t)
	pairUnplugHolder(t, l, m, "pair-unplug")
	m.stop()
	noTwoHolders(t, l, m)
}

// Scenario 2: the witness killed with SIGKILL, then started again and unplugged: no
// request fails, lb1 keeps the VIP, and lb2 leads while the witness is gone.
func TestWitnessLossInterruptsNothing(t *testing.T) {
	l, m := startPair(t)
	w := l.Node("lb3")
	t0 := time.Now()
	if err := l.Kill(w); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, l, l.Node("lb2"), 10*time.Second)
	time.Sleep(2 * time.Second)
	untouchedSince(t, m, "witness killed", t0)

	if err := l.StartAgent(w); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, l, l.Node("lb3"), 15*time.Second)
	untouchedBy(t, m, "witness unplugged", 3*time.Second, func() error { return l.Unplug(w) })
	m.stop()
	noTwoHolders(t, l, m)
}

// Scenario 3: lb1 and lb2 cut from each other, both still reaching the witness,
// which leads: lb1 keeps the VIP (the witness vouches for its lease), no request
// fails, and lb2 never holds. keepalived makes both MASTER here.
func TestWitnessCutBetweenTheLoadBalancers(t *testing.T) {
	l, m := startPair(t)
	t0 := time.Now()
	pairCut(t, l, m, "lb1–lb2 cut", 5*time.Second)
	time.Sleep(2 * time.Second)
	untouchedSince(t, m, "lb1–lb2 cut and healed", t0)
	m.stop()
	noTwoHolders(t, l, m)
}

// Scenario 4: lb1 cut from both others: it drops the VIP within its lease, lb2 holds,
// and the two never hold at once.
func TestWitnessIsolatedHolder(t *testing.T) {
	l, m := startPair(t)
	lb1 := l.Node("lb1")
	cut := time.Now()
	if err := l.Partition(lb1); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitStatus(lb1, 5*time.Second, func(st Status) bool { return !st.Holding }); err != nil {
		t.Errorf("cut-off lb1 still holds: %v", err)
	}
	t.Logf("lb1 let go %v after the cut", time.Since(cut).Round(time.Millisecond))
	r := servedBy(t, m.p, cut, lb1, serveTimeout)
	if r.Node != "lb2" {
		t.Errorf("served by %s, want lb2", r.Node)
	}
	t.Logf("figure pair-partition: %v", m.p.Summary(cut, time.Now()))
	if err := l.Heal(); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, l, lb1, 20*time.Second)
	time.Sleep(time.Second)
	m.stop()
	noTwoHolders(t, l, m)
}

// Scenario 5: HAProxy killed on lb1 → lb2 holds.
func TestWitnessHAProxyKilled(t *testing.T) {
	l, m := startPair(t)
	lb1 := l.Node("lb1")
	kill := time.Now()
	if err := l.KillHAProxy(lb1); err != nil {
		t.Fatal(err)
	}
	r := servedBy(t, m.p, kill, lb1, serveTimeout)
	if r.Node != "lb2" {
		t.Errorf("served by %s, want lb2", r.Node)
	}
	t.Logf("figure pair-haproxy: %v", m.p.Summary(kill, time.Now()))
	waitHolder(t, l, l.Node("lb2"), 5*time.Second)
	m.stop()
	noTwoHolders(t, l, m)
}

// Scenario 7: one witness process serves two pairs, each its own cluster: lb1 and lb2
// with VIP 198.18.0.10 on ports 7300/7301, lb3 and lb4 with VIP 198.18.0.30 on
// 7310/7311; lb5 is the witness of both. Killing it interrupts neither pair.
func TestWitnessServesTwoPairs(t *testing.T) {
	pairB := map[string]bool{"lb3": true, "lb4": true}
	peersA := []string{"lb1=198.18.0.11:7300", "lb2=198.18.0.12:7300", "lb5=198.18.0.15:7300"}
	peersB := []string{"lb3=198.18.0.13:7310", "lb4=198.18.0.14:7310", "lb5=198.18.0.15:7310"}
	vipB := netip.MustParsePrefix("198.18.0.30/24")
	l := NewLab(t, Options{Nodes: 5, Witness: true, ExtraVIPs: []netip.Addr{vipB.Addr()},
		Priorities: map[string]int{"lb1": 150, "lb2": 120, "lb3": 150, "lb4": 120},
		Configure: func(n *Node, c *AgentConfig) {
			c.Cluster.Peers = peersA
			if pairB[n.Name] {
				c.Node.RaftPort, c.Node.GossipPort = 7310, 7311
				c.Cluster.Peers = peersB
				c.VIP.Addresses = []string{vipB.String()}
			}
		}})
	w := l.Node("lb5")
	// The witness's file for pair B: its own ports, data directory and socket.
	cb := l.agentConfig(w)
	cb.Node.RaftPort, cb.Node.GossipPort = 7310, 7311
	cb.Node.DataDir = filepath.Join(w.Dir, "pairB", "data")
	cb.Admin.Socket = filepath.Join(w.Dir, "pairB.sock")
	cb.Cluster.Peers = peersB
	b, err := marshalConfig(cb)
	if err != nil {
		t.Fatal(err)
	}
	fileB := filepath.Join(w.Dir, "pairB.yaml")
	if err := os.MkdirAll(cb.Node.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fileB, b, 0o600); err != nil {
		t.Fatal(err)
	}
	w.AgentArgs = []string{"--config", fileB}
	if err := l.StartAgents(); err != nil {
		t.Fatal(err)
	}
	wB := *w
	wB.Socket = cb.Admin.Socket
	for _, c := range []struct {
		holder, witness *Node
		vip             netip.Addr
	}{{l.Node("lb1"), w, l.VIP4.Addr()}, {l.Node("lb3"), &wB, vipB.Addr()}} {
		if _, err := l.WaitStatus(c.holder, formTimeout, func(st Status) bool { return st.Holding }); err != nil {
			t.Fatalf("%s does not hold %s: %v", c.holder.Name, c.vip, err)
		}
		st, err := l.WaitStatus(c.witness, 10*time.Second, func(st Status) bool { return st.State == "leader" })
		if err != nil {
			t.Errorf("the witness does not lead the cluster of %s: %v", c.holder.Name, err)
		}
		if st.NodeRole != "witness" || len(st.Members) != 3 || len(st.Groups) != 1 || st.Groups[0].Holder != c.holder.Name {
			t.Errorf("witness status on %s: role %q, %d members, groups %+v; want its own cluster of 3 with %s holding",
				c.witness.Socket, st.NodeRole, len(st.Members), st.Groups, c.holder.Name)
		}
	}
	s, err := l.StartSampler()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	pa, err := l.StartProbe(l.VIP4.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer pa.Stop()
	pb, err := l.StartProbe(vipB.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer pb.Stop()
	baseline(t, pa, "lb1")
	baseline(t, pb, "lb3")

	kill := time.Now()
	if err := l.Kill(w); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	for _, c := range []struct {
		p      *Probe
		holder string
	}{{pa, "lb1"}, {pb, "lb3"}} {
		ps := c.p.Summary(kill, time.Time{})
		t.Logf("witness of both pairs killed: %v", ps)
		if ps.Failures > 0 || ps.Gap > time.Second || ps.Answered[c.holder] != ps.Requests {
			t.Errorf("%s: the client saw %d failed requests, a gap of %v, answers %v; want %s alone", c.p.Target, ps.Failures, ps.Gap, ps.Answered, c.holder)
		}
	}
	for _, vip := range []netip.Addr{l.VIP4.Addr(), vipB.Addr()} {
		if sum := s.Summary(vip, Filter{}); sum.MaxHolders > 1 {
			t.Errorf("%s: two holders: %v", vip, sum)
		}
	}
}

// Scenario 6: the witness far away, 20 ms more each way on every packet it sends or
// receives (40 ms more round trip), on the lan profile: a cut between the load
// balancers, the holder unplugged and back, and the witness killed behave as they do
// with the witness close by. $RAFTVIP_WITNESS_DELAY (one way) and
// $RAFTVIP_WITNESS_TIMING try other latencies and profiles (docs/witness.md).
func TestWitnessFarAway(t *testing.T) {
	delay := 20 * time.Millisecond
	if s := os.Getenv("RAFTVIP_WITNESS_DELAY"); s != "" {
		var err error
		if delay, err = time.ParseDuration(s); err != nil {
			t.Fatalf("RAFTVIP_WITNESS_DELAY: %v", err)
		}
	}
	l, m := startPair(t)
	w := l.Node("lb3")
	undo, err := l.Delay(w, delay)
	if err != nil {
		t.Fatal(err)
	}
	defer undo()
	untouchedBy(t, m, "witness delayed", 2*time.Second, func() error { return nil })
	if st, err := l.Status(l.Node("lb1")); err != nil || st.Leader != "lb3" {
		t.Errorf("lb1 says the leader is %q (%v), want the witness still", st.Leader, err)
	}

	// Scenario 3: the load balancers cut from each other.
	t1 := time.Now()
	pairCut(t, l, m, "far witness, lb1–lb2 cut", 3*time.Second)
	time.Sleep(time.Second)
	untouchedSince(t, m, "far witness, lb1–lb2 cut and healed", t1)

	// Scenario 1: the holder unplugged, then back.
	pairUnplugHolder(t, l, m, fmt.Sprintf("pair-far-unplug (%v each way)", delay))

	// Scenario 2: the witness killed.
	untouchedBy(t, m, "far witness killed", 2*time.Second, func() error { return l.Kill(w) })
	m.stop()
	noTwoHolders(t, l, m)
}

// The witness's footprint at rest, in a pair on lan with mutual TLS and the gossip key
// (the goal: at most 20 MiB resident and 0.5 % of a core per cluster it
// serves). A figure, not a bound: the test fails only when the witness is not at rest.
func TestWitnessFootprint(t *testing.T) {
	opts := healthOptions(nil)
	opts.Witness, opts.TLS = true, true
	l := startHealthCluster(t, opts)
	w := l.Node("lb3")
	waitLeader(t, l, l.Node("lb3"), 10*time.Second)
	time.Sleep(2 * time.Second)
	window := 10 * time.Second
	u := l.StartUsage(func() []int { return []int{l.AgentPID(w)} })
	lbs := l.StartUsage(func() []int { return []int{l.AgentPID(l.Node("lb1")), l.AgentPID(l.Node("lb2"))} })
	start := time.Now()
	time.Sleep(window)
	end := time.Now()
	u.Stop()
	lbs.Stop()
	wu, lu := u.Window(start, end), lbs.Window(start, end)
	if wu.Span == 0 || wu.MeanRSS == 0 {
		t.Fatalf("no usage measured for the witness (pid %d)", l.AgentPID(w))
	}
	t.Logf("figure witness-footprint (lan, mutual TLS, %v at rest): the witness's agent %.1f %% of a core, %.1f MiB resident (peak %.1f MiB); the two load balancers' agents together %.1f %%, %.1f MiB",
		window, wu.CPUPercent(), float64(wu.MeanRSS)/(1<<20), float64(wu.MaxRSS)/(1<<20), lu.CPUPercent(), float64(lu.MeanRSS)/(1<<20))
	if st, err := l.Status(w); err != nil || st.Leader != "lb3" {
		t.Errorf("the witness stopped leading while at rest: %q (%v)", st.Leader, err)
	}
}
