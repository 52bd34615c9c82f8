package test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// Membership scenarios: forming by gossip, growing with `raftvip join`,
// `transfer`, `leave`, a wiped node, `force-leave`, a wrong gossip key, and the
// operator's mistakes. Most labs use the fast timing profile; the scenarios that
// promise zero failed requests keep the default (lan).

const (
	memberTimeout = 30 * time.Second // a joined or wiped node is a voter again
	deadTimeout   = 45 * time.Second // memberlist declares a silent node dead (suspicion up to 6 × 4 s)
	// maxPlanGap bounds the client gap of a planned move in the tests (the figures
	// measure the < 100 ms target). A SYN that reaches the old holder after it let go
	// waits for the client's 1 s retransmission, so a move can stall a client for
	// just over a second (CI at 87af0de: 1.050 s on a leave) until the hand-over of
	// issue 16 keeps such SYNs alive.
	maxPlanGap = 1500 * time.Millisecond
)

// startFormed builds a lab, starts the agents of the nodes that form the cluster
// (Options.Initial) and waits for a holder.
func startFormed(t *testing.T, opts Options) (*Lab, *Node) {
	t.Helper()
	l := NewLab(t, opts)
	for _, n := range l.Nodes[:l.Options().Initial] {
		if err := l.StartAgent(n); err != nil {
			t.Fatal(err)
		}
	}
	h, err := l.WaitForHolder(formTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("holder: %s", h.Name)
	return l, h
}

// names returns the names of nodes.
func names(nodes ...*Node) []string {
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	return out
}

// waitVoters waits until every node of on sees exactly want as alive voters, and the
// same leader and holder; it returns that leader.
func waitVoters(t *testing.T, l *Lab, on []*Node, want []string, timeout time.Duration) string {
	t.Helper()
	var views []MembersJSON
	for _, n := range on {
		ms, err := l.WaitMembers(n, timeout, HasVoters(want...))
		if err != nil {
			t.Fatalf("want voters %v: %v", want, err)
		}
		views = append(views, ms)
	}
	// The views were taken one after the other; let them agree on a settled cluster.
	deadline := time.Now().Add(5 * time.Second)
	for {
		leaders, holders := map[string]bool{}, map[string]bool{}
		for _, ms := range views {
			leaders[ms.Leader] = true
			holders[strings.Join(ms.Holders(), ",")+"/"+ms.Holder] = true
		}
		if len(leaders) == 1 && len(holders) == 1 {
			break
		}
		if time.Now().After(deadline) {
			for _, ms := range views {
				t.Logf("%v", ms)
			}
			t.Fatalf("nodes disagree on the leader or the holder")
		}
		time.Sleep(200 * time.Millisecond)
		views = views[:0]
		for _, n := range on {
			ms, err := l.Members(n)
			if err != nil {
				t.Fatal(err)
			}
			views = append(views, ms)
		}
	}
	for _, ms := range views {
		t.Logf("%v", ms)
		if hs := ms.Holders(); len(hs) != 1 || hs[0] != ms.Holder {
			t.Errorf("%s: members marked holding %v, holder %q: want exactly one", ms.Node, hs, ms.Holder)
		}
	}
	return views[0].Leader
}

// inCluster checks that status of every node of on has an empty membership.
func inCluster(t *testing.T, l *Lab, on ...*Node) {
	t.Helper()
	for _, n := range on {
		if st, err := l.WaitStatus(n, 5*time.Second, func(st Status) bool { return st.Membership == "" }); err != nil {
			t.Errorf("%s is in the cluster but status says membership %q: %v", n.Name, st.Membership, err)
		}
	}
}

// cliRefused checks that r is a refusal: exit code 1, one line on stderr that
// mentions one of words.
func cliRefused(t *testing.T, r CLIResult, words ...string) {
	t.Helper()
	if p := r.OneLineError(); p != "" {
		t.Errorf("%v: %s", r, p)
	}
	if !errorMentions(r, words...) {
		t.Errorf("%v: the error should mention %s", r, strings.Join(words, " or "))
	}
}

// cliOK checks that r succeeded and printed something containing want.
func cliOK(t *testing.T, r CLIResult, want string) {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("%v", r)
	}
	if !strings.Contains(r.Stdout, want) {
		t.Errorf("%v: want %q in the output", r, want)
	}
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// raftServers returns the names in n's Raft configuration (status members).
func raftServers(t *testing.T, l *Lab, n *Node) []string {
	t.Helper()
	st, err := l.Status(n)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range st.Members {
		out = append(out, m.Name)
	}
	slices.Sort(out)
	return out
}

// Three nodes with bootstrap_expect: 3, started in random order with random
// delays, form one cluster: one leader seen by all, three voters, one holder, and the
// sampler never sees two holders. Five rounds, each on a fresh lab.
func TestBootstrapExpect(t *testing.T) {
	for round := 1; round <= 5; round++ {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			l := NewLab(t, Options{Formation: FormationGossip, Timing: "fast"})
			s := mustSampler(t, l)
			order := rand.Perm(len(l.Nodes))
			var started []string
			for i, k := range order {
				n := l.Nodes[k]
				if i > 0 {
					d := time.Duration(rand.IntN(1200)) * time.Millisecond
					time.Sleep(d)
					started = append(started, fmt.Sprintf("+%v", d))
				}
				if err := l.StartAgent(n); err != nil {
					t.Fatal(err)
				}
				started = append(started, n.Name)
				if i == 0 {
					// Alone, the first node says why it is not in a cluster.
					st, err := l.WaitStatus(n, 10*time.Second, func(st Status) bool { return st.Membership != "" })
					if err != nil {
						t.Errorf("%s alone: status membership empty: %v", n.Name, err)
					} else if st.Holding {
						t.Errorf("%s alone holds the VIP", n.Name)
					}
					t.Logf("%s alone: membership %q", n.Name, st.Membership)
				}
			}
			t.Logf("start order: %s", strings.Join(started, " "))
			h, err := l.WaitForHolder(formTimeout)
			if err != nil {
				t.Fatal(err)
			}
			leader := waitVoters(t, l, l.Nodes, names(l.Nodes...), 10*time.Second)
			t.Logf("leader %s, holder %s", leader, h.Name)
			inCluster(t, l, l.Nodes...)
			if got, err := l.Get(l.VIP4.Addr()); err != nil || got != h.Name {
				t.Errorf("GET VIP = %q, %v; want 200 from %s", got, err, h.Name)
			}
			s.Stop()
			if sum := s.Summary(l.VIP4.Addr(), Filter{}); sum.MaxHolders > 1 {
				t.Errorf("two holders while forming: %v", sum)
			}
			var boots []string
			for _, n := range l.Nodes {
				if log, err := l.AgentLog(n, 1); err == nil && strings.Contains(log, "bootstrapped a new cluster") {
					boots = append(boots, n.Name)
				}
			}
			if len(boots) > 1 {
				t.Errorf("several nodes bootstrapped a cluster: %v", boots)
			}
		})
	}
}

// A cluster of three formed by gossip grows to five: lb4 and lb5 have neither
// peers nor join; started, they say they are not in a cluster; `raftvip join
// 198.18.0.11` brings each in, and the leader makes them voters. The VIP does not
// move and no request fails.
func TestGrowByJoin(t *testing.T) {
	l, h := startFormed(t, Options{Nodes: 5, Initial: 3, Formation: FormationGossip, Timing: "fast"})
	lb1, lb4, lb5 := l.Node("lb1"), l.Node("lb4"), l.Node("lb5")
	m := startMonitor(t, l, false)
	baseline(t, m.p, h.Name)
	for _, n := range []*Node{lb4, lb5} {
		if err := l.StartAgent(n); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []*Node{lb4, lb5} {
		st, err := l.WaitStatus(n, 10*time.Second, func(st Status) bool { return st.Membership != "" })
		if err != nil {
			t.Errorf("%s before join: status membership empty: %v", n.Name, err)
		}
		t.Logf("%s before join: membership %q, holding %v", n.Name, st.Membership, st.Holding)
		if st.Holding {
			t.Errorf("%s holds the VIP before it joined", n.Name)
		}
	}
	if ms, err := l.Members(lb1); err != nil {
		t.Fatal(err)
	} else if slices.ContainsFunc(ms.Members, func(m MemberJSON) bool { return m.Name == "lb4" || m.Name == "lb5" }) {
		t.Errorf("lb4 or lb5 in lb1's members before they joined: %v", ms)
	}
	for _, n := range []*Node{lb4, lb5} {
		cliOK(t, l.RunCLI(n, "join", lb1.Addr4.Addr().String()), "joined")
	}
	t0 := time.Now()
	waitVoters(t, l, l.Nodes, names(l.Nodes...), memberTimeout)
	t.Logf("lb4 and lb5 are voters on every node %v after the joins", time.Since(t0).Round(time.Millisecond))
	inCluster(t, l, lb4, lb5)
	if nh, err := l.Holder(); err != nil || nh != h {
		t.Errorf("holder after growing = %v (%v), want %s still", nh, err, h.Name)
	}
	m.stop()
	ps := m.p.Summary(time.Time{}, time.Time{})
	t.Logf("%v", ps)
	if ps.Failures > 0 {
		t.Errorf("%d requests failed while the cluster grew: %v", ps.Failures, ps)
	}
	noTwoHolders(t, l, m)
}

// `raftvip transfer lb3` (run on lb2) moves the VIP from lb1, the node of highest
// priority, to lb3 by a planned move: no failed request, a short gap. lb3 keeps it
// although preemption would pull it back to lb1 (the transfer pins it); `raftvip
// transfer` with no node moves it to the best node, lb1, again.
func TestTransfer(t *testing.T) {
	l, _ := startFormed(t, Options{
		Priorities: map[string]int{"lb1": 150, "lb2": 120, "lb3": 100},
		Configure: func(n *Node, c *AgentConfig) {
			// Preemption would move the VIP back within a second or two.
			c.Extra = map[string]any{"min_move_interval": "1s"}
		},
	})
	lb1, lb2, lb3 := l.Node("lb1"), l.Node("lb2"), l.Node("lb3")
	waitHolder(t, l, lb1, 20*time.Second)
	m := startMonitor(t, l, false)
	baseline(t, m.p, "lb1")

	t0 := time.Now()
	cliOK(t, l.RunCLI(lb2, "transfer", "lb3"), "lb3")
	done := time.Now()
	if h, err := l.Holder(); err != nil || h != lb3 {
		t.Fatalf("after raftvip transfer lb3 returned: holder %v (%v), want lb3", h, err)
	}
	t.Logf("transfer returned after %v", done.Sub(t0).Round(time.Millisecond))
	servedBy(t, m.p, t0, lb1, serveTimeout)

	// Pinned: lb1 is eligible and preferred, but the VIP stays on lb3.
	time.Sleep(4 * time.Second)
	if h, err := l.Holder(); err != nil || h != lb3 {
		t.Errorf("4 s after the transfer: holder %v (%v), want lb3 to keep the VIP", h, err)
	}
	if sum := m.s.Summary(l.VIP4.Addr(), Filter{From: done}); len(sum.Timeline) != 1 || !slices.Equal(sum.Timeline[0].Holders, []string{"lb3"}) {
		t.Errorf("after the transfer the VIP did not stay on lb3: %v", sum)
	}
	if st, err := l.Status(lb3); err != nil {
		t.Error(err)
	} else {
		t.Logf("lb3 policy: preferred %q, pending %q", st.Policy.Preferred, st.Policy.Pending)
		if !strings.Contains(st.Policy.Pending, "transfer") {
			t.Errorf("lb3 status policy pending %q: want it to say an operator transfer keeps the VIP on lb3", st.Policy.Pending)
		}
	}
	pinned := m.p.Summary(t0.Add(-500*time.Millisecond), time.Now())
	t.Logf("transfer lb1 → lb3: client gap %v (target < 100 ms)\n%v", pinned.Gap.Round(time.Millisecond), pinned)
	if pinned.Failures > 0 {
		t.Errorf("%d failed requests during the transfer: %v", pinned.Failures, pinned)
	}
	if pinned.Gap > maxPlanGap {
		t.Errorf("client gap %v during the transfer, want < %v", pinned.Gap, maxPlanGap)
	}

	// No node: the best one by priority, lb1; this ends the pin.
	t1 := time.Now()
	cliOK(t, l.RunCLI(lb3, "transfer"), "lb1")
	waitHolder(t, l, lb1, 5*time.Second)
	// The holder itself: nothing to do.
	cliOK(t, l.RunCLI(lb2, "transfer", "lb1"), "already")
	time.Sleep(time.Second)
	m.stop()
	back := m.p.Summary(t1.Add(-500*time.Millisecond), time.Time{})
	t.Logf("transfer back to lb1: %v", back)
	if back.Failures > 0 {
		t.Errorf("%d failed requests during the transfer back: %v", back.Failures, back)
	}
	if back.Gap > maxPlanGap {
		t.Errorf("client gap %v during the transfer back, want < %v", back.Gap, maxPlanGap)
	}
	noTwoHolders(t, l, m)
	checkAnnouncements(t, l, m.s, m.w, m.t0)
}

// `raftvip leave` on the holder of a four-node cluster: the VIP moves with no failed
// request, the agent exits 0, and the node is gone from members and from the Raft
// configuration of the three others. Leaving the remaining three without --force is
// refused with one line that mentions --force; with --force it works.
func TestLeaveHolder(t *testing.T) {
	l, h := startFormed(t, Options{Nodes: 4, Formation: FormationGossip})
	m := startMonitor(t, l, false)
	baseline(t, m.p, h.Name)

	t0 := time.Now()
	cliOK(t, l.RunCLI(h, "leave"), "left the cluster")
	if code, err := l.WaitAgentExit(h, 10*time.Second); err != nil || code != 0 {
		t.Errorf("agent of %s after leave: exit %d, %v; want exit 0", h.Name, code, err)
	}
	servedBy(t, m.p, t0, h, serveTimeout)
	rest := l.Others(h)
	waitVoters(t, l, rest, names(rest...), 15*time.Second)
	for _, n := range rest {
		if got := raftServers(t, l, n); slices.Contains(got, h.Name) {
			t.Errorf("%s's raft configuration still has %s: %v", n.Name, h.Name, got)
		}
	}
	nh := newHolder(t, l, h)
	firstEnd := time.Now()
	first := m.p.Summary(t0.Add(-500*time.Millisecond), firstEnd)
	t.Logf("leave of %s → %s: client gap %v\n%v", h.Name, nh.Name, first.Gap.Round(time.Millisecond), first)
	if first.Failures > 0 {
		t.Errorf("%d failed requests when %s left: %v", first.Failures, h.Name, first)
	}
	if first.Gap > maxPlanGap {
		t.Errorf("client gap %v when %s left, want < %v", first.Gap, h.Name, maxPlanGap)
	}

	// Three voters: leaving would leave two, which a single failure stops.
	r := l.RunCLI(nh, "leave")
	cliRefused(t, r, "--force")
	if !l.AgentRunning(nh) {
		t.Fatalf("%s's agent exited after a refused leave", nh.Name)
	}
	waitVoters(t, l, rest, names(rest...), 5*time.Second)

	t1 := time.Now()
	cliOK(t, l.RunCLI(nh, "leave", "--force"), "left the cluster")
	if code, err := l.WaitAgentExit(nh, 10*time.Second); err != nil || code != 0 {
		t.Errorf("agent of %s after leave --force: exit %d, %v; want exit 0", nh.Name, code, err)
	}
	servedBy(t, m.p, t1, nh, serveTimeout)
	last := l.Others(h, nh)
	waitVoters(t, l, last, names(last...), 15*time.Second)
	nnh := newHolder(t, l, nh)
	time.Sleep(time.Second)
	m.stop()
	second := m.p.Summary(later(t1.Add(-500*time.Millisecond), firstEnd), time.Time{})
	t.Logf("leave --force of %s → %s: client gap %v\n%v", nh.Name, nnh.Name, second.Gap.Round(time.Millisecond), second)
	if whole := m.p.Summary(time.Time{}, time.Time{}); whole.Failures > 0 {
		t.Errorf("%d failed requests in the whole scenario: %v", whole.Failures, whole)
	}
	if second.Failures > 0 {
		t.Errorf("%d failed requests when %s left: %v", second.Failures, nh.Name, second)
	}
	if second.Gap > maxPlanGap {
		t.Errorf("client gap %v when %s left, want < %v", second.Gap, nh.Name, maxPlanGap)
	}
	noTwoHolders(t, l, m)
	checkAnnouncements(t, l, m.s, m.w, m.t0)
}

// A node is stopped, its data dir deleted, and started again under the same name:
// it comes back as a voter without forming a cluster of its own, and the VIP can be
// transferred to it.
func TestWipedNodeRejoins(t *testing.T) {
	l, h := startFormed(t, Options{Timing: "fast"})
	victim := l.Others(h)[0]
	m := startMonitor(t, l, false)
	baseline(t, m.p, h.Name)

	code, err := l.Term(victim, 15*time.Second)
	if err != nil || code != 0 {
		t.Fatalf("stop %s: exit %d, %v", victim.Name, code, err)
	}
	if err := l.WipeData(victim); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := l.StartAgent(victim); err != nil {
		t.Fatal(err)
	}
	waitVoters(t, l, l.Nodes, names(l.Nodes...), memberTimeout)
	t.Logf("wiped %s is a voter on every node %v after its restart", victim.Name, time.Since(t0).Round(time.Millisecond))
	inCluster(t, l, victim)
	if log, err := l.AgentLog(victim, 2); err != nil {
		t.Fatal(err)
	} else if strings.Contains(log, "bootstrapping new cluster") || strings.Contains(log, "bootstrapped a new cluster") {
		t.Errorf("wiped %s bootstrapped a cluster of its own", victim.Name)
	}
	nh, err := l.WaitForHolder(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// It works: it can take the VIP.
	cliOK(t, l.RunCLI(nh, "transfer", victim.Name), victim.Name)
	waitHolder(t, l, victim, 5*time.Second)
	time.Sleep(time.Second)
	m.stop()
	ps := m.p.Summary(time.Time{}, time.Time{})
	t.Logf("%v", ps)
	if ps.Failures > 0 {
		t.Errorf("%d failed requests: %v", ps.Failures, ps)
	}
	noTwoHolders(t, l, m)
}

// A node is destroyed for good (SIGKILL and unplugged). force-leave of a node that
// is still alive is refused; once members shows the destroyed one dead, `raftvip
// force-leave` removes it; two voters remain, one holder, and the cluster still
// commits (a transfer works).
func TestForceLeave(t *testing.T) {
	l, h := startFormed(t, Options{Timing: "fast"})
	others := l.Others(h)
	alive, victim := others[0], others[1]

	cliRefused(t, l.RunCLI(alive, "force-leave", victim.Name), "alive", "leave")
	waitVoters(t, l, l.Nodes, names(l.Nodes...), 5*time.Second)

	m := startMonitor(t, l, false)
	baseline(t, m.p, h.Name)
	if err := l.Kill(victim); err != nil {
		t.Fatal(err)
	}
	if err := l.Unplug(victim); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	for _, n := range []*Node{h, alive} {
		ms, err := l.WaitMembers(n, deadTimeout, func(ms MembersJSON) bool {
			m, ok := ms.Get(victim.Name)
			return ok && m.Gossip == "dead"
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%v (%v after the kill)", ms, time.Since(t0).Round(time.Millisecond))
		if m, _ := ms.Get(victim.Name); !m.Voter() {
			t.Errorf("dead %s is no longer a voter before force-leave: %v", victim.Name, ms)
		}
	}
	cliOK(t, l.RunCLI(alive, "force-leave", victim.Name), "2 voters")
	waitVoters(t, l, []*Node{h, alive}, names(h, alive), 10*time.Second)
	for _, n := range []*Node{h, alive} {
		if got := raftServers(t, l, n); slices.Contains(got, victim.Name) {
			t.Errorf("%s's raft configuration still has %s: %v", n.Name, victim.Name, got)
		}
	}
	if nh, err := l.Holder(); err != nil || nh != h {
		t.Errorf("holder after force-leave = %v (%v), want %s still", nh, err, h.Name)
	}
	// Two of two voters: the cluster still commits.
	cliOK(t, l.RunCLI(h, "transfer", alive.Name), alive.Name)
	waitHolder(t, l, alive, 5*time.Second)
	time.Sleep(time.Second) // requests whose SYN met the drain finish ~1 s later
	m.stop()
	ps := m.p.Summary(time.Time{}, time.Time{})
	t.Logf("%v", ps)
	if ps.Failures > 0 {
		t.Errorf("%d failed requests: %v", ps.Failures, ps)
	}
	noTwoHolders(t, l, m)
}

// The cluster encrypts its gossip (keys from `raftvip keygen`); lb4 has another
// key. It cannot join: `raftvip join` exits non-zero with an error about the key,
// status says it is not in a cluster, and the cluster never lists it.
func TestWrongKey(t *testing.T) {
	RequireRoot(t)
	key, err := Keygen()
	if err != nil {
		t.Fatal(err)
	}
	other, err := Keygen()
	if err != nil {
		t.Fatal(err)
	}
	if key == other {
		t.Fatalf("raftvip keygen printed the same key twice: %s", key)
	}
	lb1Gossip := fmt.Sprintf("198.18.0.11:%d", GossipPort)
	l, h := startFormed(t, Options{Nodes: 4, Initial: 3, Formation: FormationGossip, Timing: "fast", Encrypt: key,
		Configure: func(n *Node, c *AgentConfig) {
			if n.Name == "lb4" {
				c.Cluster.Encrypt = other
				c.Cluster.Join = []string{lb1Gossip} // it tries by itself, too
			}
		}})
	lb1, lb4 := l.Node("lb1"), l.Node("lb4")
	if GossipAddr(lb1) != lb1Gossip {
		t.Fatalf("lb1's gossip address is %s, not %s", GossipAddr(lb1), lb1Gossip)
	}
	waitVoters(t, l, l.Nodes[:3], names(l.Nodes[:3]...), 10*time.Second)
	if err := l.StartAgentWait(lb4, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	cliRefused(t, l.RunCLI(lb4, "join", lb1Gossip), "key", "encrypt")
	st, err := l.WaitStatus(lb4, 10*time.Second, func(st Status) bool { return st.Membership != "" })
	if err != nil {
		t.Errorf("lb4 with the wrong key: status membership empty: %v", err)
	}
	t.Logf("lb4: membership %q, reason %q", st.Membership, st.Reason)
	if st.Holding {
		t.Errorf("lb4 with the wrong key holds the VIP")
	}
	time.Sleep(2 * time.Second)
	for _, n := range l.Nodes[:3] {
		ms, err := l.Members(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ms.Get("lb4"); ok {
			t.Errorf("lb4 with the wrong key is in %s's members: %v", n.Name, ms)
		}
	}
	if held, err := l.KernelHolds(lb4); err != nil || held {
		t.Errorf("lb4 has the VIP (%v)", err)
	}
	if nh, err := l.Holder(); err != nil || nh != h {
		t.Errorf("holder = %v (%v), want %s still", nh, err, h.Name)
	}
	// The cluster counted the gossip it could not decrypt.
	var rejects uint64
	for _, n := range l.Nodes[:3] {
		st, err := l.Status(n)
		if err != nil {
			t.Fatal(err)
		}
		rejects += st.Security.GossipRejects["wrong_key"]
	}
	if rejects == 0 {
		t.Error("no node of the cluster counted lb4's gossip as wrong_key (status security.gossip_rejects)")
	}
}

// The operator's mistakes are refused with one line and exit code 1: a transfer
// to an unknown node or to a non-voter, force-leave of an unknown node, leave of one
// of three voters without --force, and malformed arguments. lb4 joins with its Raft
// port cut, so it stays a non-voter until the cut heals.
func TestMembershipCLIErrors(t *testing.T) {
	l, h := startFormed(t, Options{Nodes: 4, Initial: 3, Timing: "fast"})
	lb1, lb4 := l.Node("lb1"), l.Node("lb4")
	follower := l.Others(h, lb4)[0]

	cliRefused(t, l.RunCLI(follower, "transfer", "lb9"), "lb9")
	cliRefused(t, l.RunCLI(h, "transfer", "lb9"), "lb9")
	cliRefused(t, l.RunCLI(follower, "force-leave", "lb9"), "lb9")
	cliRefused(t, l.RunCLI(follower, "leave"), "--force")
	if !l.AgentRunning(follower) {
		t.Fatalf("%s's agent exited after a refused leave", follower.Name)
	}
	cliRefused(t, l.RunCLI(follower, "join"), "address", "addr")
	cliRefused(t, l.RunCLI(follower, "join", "lb2.example"), "lb2.example")
	cliRefused(t, l.RunCLI(follower, "transfer", follower.Name, "--wait", "1s"), "--wait")
	cliRefused(t, l.RunCLI(follower, "force-leave"), "node")
	waitVoters(t, l, l.Nodes[:3], names(l.Nodes[:3]...), 5*time.Second)

	if err := l.BlockRaft(lb4); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgentWait(lb4, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	cliOK(t, l.RunCLI(lb4, "join", lb1.Addr4.Addr().String()), "joined")
	ms, err := l.WaitMembers(h, 15*time.Second, func(ms MembersJSON) bool {
		m, ok := ms.Get("lb4")
		return ok && m.Role == "non-voter"
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v", ms)
	cliRefused(t, l.RunCLI(follower, "transfer", "lb4"), "non-voter", "voter")
	if nh, err := l.Holder(); err != nil || nh != h {
		t.Errorf("holder after the refused transfer = %v (%v), want %s", nh, err, h.Name)
	}
	// Cut off from the Raft port it cannot catch up, so it must stay a non-voter.
	time.Sleep(2 * time.Second)
	if ms, err := l.Members(h); err != nil {
		t.Fatal(err)
	} else if m, _ := ms.Get("lb4"); m.Role != "non-voter" {
		t.Errorf("lb4 cannot catch up (raft port blocked) but is %q: %v", m.Role, ms)
	}
	if err := l.BlockRaft(); err != nil {
		t.Fatal(err)
	}
	waitVoters(t, l, l.Nodes, names(l.Nodes...), memberTimeout)
}
