package test

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// Health scenarios: HAProxy's health decides who holds the VIP.
//
// Every node runs the check the README leads with: the haproxy check on the stats
// socket, every 200 ms, fall 2, rise 2, weight 0 (failing → FAULT). Priorities are
// lb1 150, lb2 120, lb3 100, so lb1 is preferred while healthy.

const (
	checkInterval = 200 * time.Millisecond
	checkFall     = 2
	moveWindow    = 2 * time.Second // min_move_interval in these labs
)

// healthOptions is the lab of the health scenarios; adjust may change each node's
// config further.
func healthOptions(adjust func(n *Node, c *AgentConfig)) Options {
	return HealthOptions(checkInterval, checkFall, moveWindow, adjust)
}

// startHealthCluster starts the lab and waits until lb1, the preferred node, holds.
func startHealthCluster(t *testing.T, opts Options) *Lab {
	t.Helper()
	l, _ := startCluster(t, opts)
	waitHolder(t, l, l.Node("lb1"), 20*time.Second)
	return l
}

// waitHolder waits until want is the one holder.
func waitHolder(t *testing.T, l *Lab, want *Node, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		h, err := l.Holder()
		if err == nil && h == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not hold the VIP after %v (holder %v, err %v)", want.Name, timeout, h, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitHolderNot waits until one node other than old holds, and returns it.
func waitHolderNot(t *testing.T, l *Lab, old *Node, timeout time.Duration) *Node {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		h, err := l.Holder()
		if err == nil && h != old {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("the VIP did not leave %s within %v (holder %v, err %v)", old.Name, timeout, h, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// noTwoHolders fails the test if the sampler ever saw two holders.
func noTwoHolders(t *testing.T, l *Lab, m *monitor) {
	t.Helper()
	if sum := m.s.Summary(l.VIP4.Addr(), Filter{}); sum.MaxHolders > 1 {
		t.Errorf("two holders: %v", sum)
	}
}

// HAProxy killed on the holder: the VIP moves to the next-best node. HAProxy
// back: the VIP returns to lb1 by a planned move with no failed request.
func TestHAProxyKilledOnHolder(t *testing.T) {
	l := startHealthCluster(t, healthOptions(nil))
	lb1, lb2 := l.Node("lb1"), l.Node("lb2")
	m := startMonitor(t, l, false)
	baseline(t, m.p, "lb1")

	kill := time.Now()
	if err := l.KillHAProxy(lb1); err != nil {
		t.Fatal(err)
	}
	r := servedBy(t, m.p, kill, lb1, serveTimeout)
	if r.Node != "lb2" {
		t.Errorf("served by %s after lb1's HAProxy died, want lb2 (next priority)", r.Node)
	}
	t.Logf("health failover: client served by %s %v after HAProxy was killed (bound interval×fall + 300ms = %v)",
		r.Node, r.End.Sub(kill).Round(time.Millisecond), checkInterval*checkFall+300*time.Millisecond)
	waitHolder(t, l, lb2, 5*time.Second)
	st, err := l.Status(lb1)
	if err != nil {
		t.Fatal(err)
	}
	if st.Eligible || !strings.Contains(st.Ineligible, "FAULT") {
		t.Errorf("lb1 status: eligible %v (%q), want FAULT", st.Eligible, st.Ineligible)
	}
	if len(st.Checks) != 1 || st.Checks[0].State != "failing" || st.Checks[0].Output == "" {
		t.Errorf("lb1 checks: %+v, want haproxy failing with its output", st.Checks)
	}

	// HAProxy back on lb1: it takes the VIP back by a planned move.
	back := time.Now()
	if err := l.StartHAProxy(lb1); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, l, lb1, 15*time.Second)
	time.Sleep(time.Second)
	m.stop()
	ps := m.p.Summary(back, time.Time{})
	t.Logf("preemption back to lb1: %v", ps)
	if ps.Failures > 0 {
		t.Errorf("%d failed requests during the preemption back to lb1: %v", ps.Failures, ps)
	}
	noTwoHolders(t, l, m)
	checkAnnouncements(t, l, m.s, m.w, m.t0)
}

// With preempt: false the VIP stays where it is, even when lb1, the node of
// highest priority, is healthy.
func TestNoPreemptStays(t *testing.T) {
	l, h := startCluster(t, healthOptions(func(n *Node, c *AgentConfig) {
		c.Extra["preempt"] = false
	}))
	lb1 := l.Node("lb1")
	m := startMonitor(t, l, false)
	baseline(t, m.p, h.Name)
	if h == lb1 {
		// Move it off lb1 the unplanned way, then bring lb1's HAProxy back.
		if err := l.KillHAProxy(lb1); err != nil {
			t.Fatal(err)
		}
		h = waitHolderNot(t, l, lb1, 10*time.Second)
		if err := l.StartHAProxy(lb1); err != nil {
			t.Fatal(err)
		}
	}
	// Wait well past rise, hysteresis and the rate limit.
	time.Sleep(2*moveWindow + 2*time.Second)
	if got, err := l.Holder(); err != nil || got != h {
		t.Errorf("holder = %v (%v) with preempt off, want %s to keep the VIP", got, err, h.Name)
	}
	st, err := l.Status(h)
	if err != nil {
		t.Fatal(err)
	}
	if st.Policy.Preferred != "lb1" || !strings.Contains(st.Policy.Pending, "preempt is off") {
		t.Errorf("%s policy = %+v, want lb1 preferred and the move held back by preempt off", h.Name, st.Policy)
	}
	m.stop()
	noTwoHolders(t, l, m)
}

// The haproxy check with backend and min_up: every server of the backend DOWN on
// the holder → the VIP moves.
func TestBackendDownMoves(t *testing.T) {
	l := startHealthCluster(t, healthOptions(func(n *Node, c *AgentConfig) {
		c.Extra["checks"] = []map[string]any{{
			"name": "web", "type": "haproxy", "socket": n.HAProxySocket, "backend": "web", "min_up": 1,
			"interval": durationString(checkInterval), "fall": checkFall, "rise": 2, "weight": 0,
		}}
	}))
	lb1, lb2 := l.Node("lb1"), l.Node("lb2")
	m := startMonitor(t, l, false)
	baseline(t, m.p, "lb1")
	if _, err := l.HAProxyCommand(lb1, "disable frontend app"); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, l, lb2, 10*time.Second)
	st, err := l.Status(lb1)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Checks) != 1 || !strings.Contains(st.Checks[0].Output, "0/2") {
		t.Errorf("lb1's web check = %+v, want its output to count 0/2 servers UP", st.Checks)
	}
	m.stop()
	noTwoHolders(t, l, m)
}

// A check flapping every 300 ms on the holder: at most one move per rate-limit
// window, never two holders.
func TestFlappingCheck(t *testing.T) {
	const window = 4 * time.Second
	l := startHealthCluster(t, healthOptions(func(n *Node, c *AgentConfig) {
		// A weight check that moves lb1 (150) below lb2 (120) while it fails.
		c.Extra["checks"] = []map[string]any{{
			"name": "flap", "type": "script", "command": []string{"/bin/sh", "-c", "test ! -e " + n.Dir + "/flap"},
			"interval": "100ms", "fall": 1, "rise": 1, "weight": -100,
		}}
		c.Extra["min_move_interval"] = durationString(window)
	}))
	lb1 := l.Node("lb1")
	m := startMonitor(t, l, false)
	baseline(t, m.p, "lb1")

	flap := lb1.Dir + "/flap"
	start := time.Now()
	for time.Since(start) < 3*window {
		if err := touch(flap); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if err := removeFile(flap); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	elapsed := time.Since(start)
	time.Sleep(time.Second)
	m.stop()
	sum := m.s.Summary(l.VIP4.Addr(), Filter{From: start})
	moves := 0
	for i := 1; i < len(sum.Timeline); i++ {
		if len(sum.Timeline[i].Holders) == 1 && !slices.Equal(sum.Timeline[i].Holders, sum.Timeline[i-1].Holders) {
			moves++
		}
	}
	t.Logf("%d moves in %v of flapping with a %v window: %v", moves, elapsed.Round(time.Millisecond), window, sum)
	if limit := int(elapsed/window) + 1; moves > limit {
		t.Errorf("%d moves in %v, more than one per %v window (limit %d)", moves, elapsed.Round(time.Millisecond), window, limit)
	}
	noTwoHolders(t, l, m)
}

// HAProxy down everywhere → nobody holds and status says why; one comes back → it
// holds.
func TestNoEligibleNode(t *testing.T) {
	l := startHealthCluster(t, healthOptions(nil))
	m := startMonitor(t, l, false)
	for _, n := range l.Nodes {
		if err := l.KillHAProxy(n); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		sts, _ := l.Statuses(t.Context())
		holding := 0
		var why string
		for _, st := range sts {
			if st.Holding {
				holding++
			}
			if st.State == "leader" {
				why = st.Reason
			}
		}
		if holding == 0 && strings.Contains(why, "no eligible node") && l.KernelHoldsNone() {
			t.Logf("nobody holds: %s", why)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with HAProxy down everywhere: %d holders, leader's reason %q", holding, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Every node's status says so, once gossip has carried the last FAULT to it.
	for _, n := range l.Nodes {
		var text string
		deadline := time.Now().Add(5 * time.Second)
		for {
			var err error
			if text, err = l.StatusText(n); err == nil && strings.Contains(text, "no eligible node") {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("status text of %s does not say nobody is eligible:\n%s", n.Name, text)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	lb3 := l.Node("lb3")
	if err := l.StartHAProxy(lb3); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, l, lb3, 10*time.Second)
	m.stop()
	noTwoHolders(t, l, m)
}

// Drain the holder → the VIP moves with no failed request; undrain → it returns.
func TestDrainHolder(t *testing.T) {
	l := startHealthCluster(t, healthOptions(nil))
	lb1, lb2, lb3 := l.Node("lb1"), l.Node("lb2"), l.Node("lb3")
	m := startMonitor(t, l, false)
	baseline(t, m.p, "lb1")

	drain := time.Now()
	out, err := l.CLI(lb3, "drain", "lb1") // asked on a follower: forwarded to the leader
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "the VIP is on lb2") {
		t.Errorf("drain output %q, want it to name lb2 as the new holder", out)
	}
	waitHolder(t, l, lb2, 5*time.Second)
	st, err := l.Status(lb2)
	if err != nil {
		t.Fatal(err)
	}
	for _, mb := range st.Members {
		if mb.Name == "lb1" && (!mb.Drained || mb.Eligible) {
			t.Errorf("lb2 sees lb1 as %+v, want drained and not eligible", mb)
		}
	}
	time.Sleep(moveWindow + time.Second) // drained for longer than a rate-limit window
	if h, err := l.Holder(); err != nil || h != lb2 {
		t.Errorf("holder %v (%v) while lb1 is drained, want lb2", h, err)
	}

	// The flag survives a restart of the drained node.
	if _, err := l.Term(lb1, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgent(lb1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if st, err := l.Status(lb1); err != nil || !st.Drained {
		t.Errorf("lb1 after restart: drained %v (%v), want still drained", st.Drained, err)
	}

	undrain := time.Now()
	if _, err := l.CLI(lb1, "drain", "--off", "lb1"); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, l, lb1, 15*time.Second)
	time.Sleep(time.Second)
	m.stop()
	for _, w := range [][2]time.Time{{drain, drain.Add(3 * time.Second)}, {undrain, time.Now()}} {
		ps := m.p.Summary(w[0], w[1])
		t.Logf("planned move: %v", ps)
		if ps.Failures > 0 {
			t.Errorf("%d failed requests during a drain move: %v", ps.Failures, ps)
		}
	}
	noTwoHolders(t, l, m)

	// Bad input: a one-line error and a non-zero exit.
	if out, err := l.CLI(lb1, "drain", "lb9"); err == nil || !strings.Contains(out, `no member named "lb9"`) {
		t.Errorf("drain of an unknown node: err %v, output %q", err, out)
	}
}

// Notify scripts get keepalived's arguments, in order, for every transition.
func TestNotifyHooks(t *testing.T) {
	opts := healthOptions(func(n *Node, c *AgentConfig) {
		c.Extra["notify"] = NotifyHooks(n)
	})
	opts.StartAgents = true
	l := NewLab(t, opts)
	lb1, lb2 := l.Node("lb1"), l.Node("lb2")
	waitHolder(t, l, lb1, formTimeout)

	if err := l.KillHAProxy(lb1); err != nil {
		t.Fatal(err)
	}
	waitHolder(t, l, lb2, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	if _, err := l.Term(lb1, 15*time.Second); err != nil {
		t.Fatal(err)
	}

	got := NotifyLines(lb1)
	// lb1 starts as BACKUP, may be MASTER and BACKUP again while the VIP settles on it,
	// ends MASTER, then FAULT when HAProxy dies, then STOP.
	want := []string{"fault", "INSTANCE raftvip FAULT 150", "stop", "INSTANCE raftvip STOP 150"}
	if len(got) < 6 || got[0] != "backup" || got[1] != "INSTANCE raftvip BACKUP 150" || !slices.Equal(got[len(got)-4:], want) {
		t.Errorf("lb1's notify calls:\n  %s\nwant backup first, then ... master, then %v", strings.Join(got, "\n  "), want)
	}
	if i := slices.Index(got, "master"); i < 0 || got[i+1] != "INSTANCE raftvip MASTER 150" {
		t.Errorf("lb1 never notified MASTER with keepalived's arguments: %v", got)
	}
	// Every specific hook is followed by the generic script for the same state.
	for i := 0; i+1 < len(got); i += 2 {
		if !strings.HasSuffix(strings.ToLower(strings.Fields(got[i+1] + " x x x")[2]), got[i]) {
			t.Errorf("call %d: %q then %q: the generic script does not follow its state's hook", i, got[i], got[i+1])
		}
	}
	got2 := NotifyLines(lb2)
	if len(got2) < 4 || got2[len(got2)-2] != "master" || got2[len(got2)-1] != "INSTANCE raftvip MASTER 120" {
		t.Errorf("lb2's notify calls: %v, want it to end with master", got2)
	}
}
