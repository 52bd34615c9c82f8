package election

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// board is the health every node reports, shared by the test's electors the way gossip
// would share it.
type board struct {
	mu      sync.Mutex
	members map[string]Member
	private map[string]func(*Member) // a node's own state that gossip has not spread yet
}

// view is one node's view of the board.
type view struct {
	b    *board
	self string
}

func (v view) Candidates() []Member {
	out := v.b.Candidates()
	v.b.mu.Lock()
	defer v.b.mu.Unlock()
	for i := range out {
		if f := v.b.private[out[i].Name]; f != nil && out[i].Name == v.self {
			f(&out[i])
		}
	}
	return out
}

func newBoard(prio map[string]int) *board {
	b := &board{members: map[string]Member{}, private: map[string]func(*Member){}}
	for n, p := range prio {
		b.members[n] = Member{Name: n, Voter: true, Known: true, Alive: true, Quorum: true, Priority: p}
	}
	return b
}

func (b *board) Candidates() []Member {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Member, 0, len(b.members))
	for _, m := range b.members {
		out = append(out, m)
	}
	return out
}

func (b *board) update(name string, f func(*Member)) {
	b.mu.Lock()
	m := b.members[name]
	f(&m)
	b.members[name] = m
	b.mu.Unlock()
}

func policyCluster(t *testing.T, b *board, w *world, pc PolicyConfig) []*testNode {
	nodes := newTestClusterWith(t, 3, w, func(c *Config) {
		c.Cluster, c.Policy = view{b: b, self: c.Node}, pc
	})
	wakeAll(t, nodes)
	return nodes
}

func TestPolicyMovesTheVIPWithHealth(t *testing.T) {
	w := newWorld(t)
	b := newBoard(map[string]int{"n1": 150, "n2": 120, "n3": 100})
	pc := PolicyConfig{Preempt: true, Hysteresis: 100 * time.Millisecond, MinMoveInterval: 300 * time.Millisecond}
	nodes := policyCluster(t, b, w, pc)

	// Whoever wins the first election, the VIP ends on the best node by preemption.
	waitFor(t, "n1 to hold (preemption)", 5*time.Second, func() bool { return w.holder() == "n1" })

	// n1 goes FAULT: the VIP moves to n2 at once, with no overlap (world checks).
	b.update("n1", func(m *Member) { m.Fault, m.Failing = true, []string{"haproxy"} })
	waitFor(t, "n2 to hold after n1's FAULT", 3*time.Second, func() bool { return w.holder() == "n2" })
	if st := byID(nodes, "n1").elector.Status(); st.Holding || st.Plan.Ineligible == "" {
		t.Errorf("n1 status after FAULT: holding %v, ineligible %q", st.Holding, st.Plan.Ineligible)
	}

	// n1 recovers: it gets the VIP back by a planned move once steady and the rate
	// limit allows.
	b.update("n1", func(m *Member) { m.Fault, m.Failing = false, nil })
	waitFor(t, "n1 to hold again", 3*time.Second, func() bool { return w.holder() == "n1" })
}

func TestPolicyNobodyEligible(t *testing.T) {
	w := newWorld(t)
	b := newBoard(map[string]int{"n1": 150, "n2": 120, "n3": 100})
	nodes := policyCluster(t, b, w, PolicyConfig{Preempt: true, Hysteresis: 50 * time.Millisecond})
	waitFor(t, "n1 to hold", 5*time.Second, func() bool { return w.holder() == "n1" })

	for _, n := range []string{"n1", "n2", "n3"} {
		b.update(n, func(m *Member) { m.Fault = true })
	}
	waitFor(t, "nobody to hold", 3*time.Second, func() bool { return w.holder() == "" })
	time.Sleep(300 * time.Millisecond)
	if h := w.holder(); h != "" {
		t.Fatalf("%s holds while every node is in FAULT", h)
	}
	var leader *testNode
	waitFor(t, "a leader", 3*time.Second, func() bool {
		for _, n := range nodes {
			if n.elector.Status().Role == Leader {
				leader = n
				return true
			}
		}
		return false
	})
	if st := leader.elector.Status(); st.Plan.NoneEligible == "" {
		t.Errorf("leader %s does not say why nobody holds: %+v", leader.id, st.Plan)
	}

	b.update("n3", func(m *Member) { m.Fault = false })
	waitFor(t, "n3, the only healthy node, to hold", 3*time.Second, func() bool { return w.holder() == "n3" })
}

func TestPolicyDrainedHolderHandsOff(t *testing.T) {
	w := newWorld(t)
	b := newBoard(map[string]int{"n1": 150, "n2": 120, "n3": 100})
	policyCluster(t, b, w, PolicyConfig{Preempt: true, Hysteresis: 50 * time.Millisecond, MinMoveInterval: 200 * time.Millisecond})
	waitFor(t, "n1 to hold", 5*time.Second, func() bool { return w.holder() == "n1" })
	b.update("n1", func(m *Member) { m.Drained = true })
	waitFor(t, "n2 to hold after n1 is drained", 3*time.Second, func() bool { return w.holder() == "n2" })
	time.Sleep(500 * time.Millisecond)
	if h := w.holder(); h != "n2" {
		t.Fatalf("holder = %q while n1 is drained, want n2", h)
	}
	b.update("n1", func(m *Member) { m.Drained = false })
	waitFor(t, "n1 back after undrain", 3*time.Second, func() bool { return w.holder() == "n1" })
}

func TestPolicyFlappingCheckIsRateLimited(t *testing.T) {
	w := newWorld(t)
	b := newBoard(map[string]int{"n1": 150, "n2": 120, "n3": 100})
	const window = 700 * time.Millisecond
	policyCluster(t, b, w, PolicyConfig{Preempt: true, Hysteresis: 100 * time.Millisecond, MinMoveInterval: window})
	waitFor(t, "n1 to hold", 5*time.Second, func() bool { return w.holder() == "n1" })
	time.Sleep(window)

	start := time.Now()
	w.mu.Lock()
	w.moves = 0
	w.mu.Unlock()
	for i := 0; time.Since(start) < 3*time.Second; i++ {
		p := 150
		if i%2 == 0 {
			p = 50 // below n2
		}
		b.update("n1", func(m *Member) { m.Priority = p })
		time.Sleep(30 * time.Millisecond)
	}
	elapsed := time.Since(start)
	w.mu.Lock()
	moves := w.moves
	w.mu.Unlock()
	if limit := int(elapsed/window) + 1; moves > limit {
		t.Errorf("%d moves in %s with a %s rate limit (at most %d)", moves, elapsed.Round(time.Millisecond), window, limit)
	}
	if moves == 0 {
		t.Errorf("no move at all while the holder's priority flapped below n2's")
	}
}

// A node handed the VIP because its holder failed may still see the holder's last,
// healthy gossip. It must not hand the VIP straight back (the rate limit counts its
// election as a move).
func TestPolicyNoPingPongOnStaleGossip(t *testing.T) {
	w := newWorld(t)
	b := newBoard(map[string]int{"n1": 150, "n2": 120, "n3": 100})
	pc := PolicyConfig{Preempt: true, Hysteresis: 50 * time.Millisecond, MinMoveInterval: 2 * time.Second}
	policyCluster(t, b, w, pc)
	waitFor(t, "n1 to hold", 8*time.Second, func() bool { return w.holder() == "n1" })
	time.Sleep(pc.MinMoveInterval)

	// n1 sees its own FAULT; the others still see it healthy at 150.
	b.mu.Lock()
	b.private["n1"] = func(m *Member) { m.Fault, m.Failing = true, []string{"haproxy"} }
	b.mu.Unlock()
	waitFor(t, "the VIP to leave n1", 3*time.Second, func() bool { h := w.holder(); return h != "" && h != "n1" })
	w.mu.Lock()
	moves := w.moves
	w.mu.Unlock()
	time.Sleep(pc.MinMoveInterval / 2)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.moves != moves {
		t.Errorf("the VIP moved %d more times within the rate-limit window after leaving n1 (holder now %v)", w.moves-moves, w.holders)
	}
}

// An operator transfer pins the VIP on its target: priority preemption does not pull it
// back while the target stays eligible. A later move without a pin ends the pin.
func TestPolicyPinnedTransferStays(t *testing.T) {
	w := newWorld(t)
	b := newBoard(map[string]int{"n1": 150, "n2": 120, "n3": 100})
	pc := PolicyConfig{Preempt: true, Hysteresis: 50 * time.Millisecond, MinMoveInterval: 200 * time.Millisecond}
	nodes := policyCluster(t, b, w, pc)
	waitFor(t, "n1 to hold", 8*time.Second, func() bool { return w.holder() == "n1" })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := byID(nodes, "n1").elector.Handoff(ctx, Move{Target: "n3", Reason: "operator transfer", Pin: true}); err != nil {
		t.Fatalf("pinned Handoff to n3: %v", err)
	}
	waitFor(t, "n3 to hold", 3*time.Second, func() bool { return w.holder() == "n3" })
	time.Sleep(4 * pc.MinMoveInterval)
	if h := w.holder(); h != "n3" {
		t.Fatalf("holder = %q after a pinned transfer to n3, want n3 (no preemption)", h)
	}
	if st := byID(nodes, "n3").elector.Status(); !strings.Contains(st.Plan.Pending, "operator transfer put the VIP on n3") {
		t.Errorf("n3's plan does not say why it keeps the VIP: %+v", st.Plan)
	}

	// A move without a pin (here to n2) ends the pin: n1 preempts again.
	if err := byID(nodes, "n3").elector.Handoff(ctx, Move{Target: "n2", Reason: "test"}); err != nil {
		t.Fatalf("Handoff to n2: %v", err)
	}
	waitFor(t, "n1 to hold again (preemption)", 3*time.Second, func() bool { return w.holder() == "n1" })
}

func TestHandoffPinNeedsTarget(t *testing.T) {
	e := New(Config{Node: "n1"})
	err := e.Handoff(context.Background(), Move{Reason: "operator transfer", Pin: true})
	if err == nil || !strings.Contains(err.Error(), "needs a target") {
		t.Errorf("pinned Handoff without a target = %v, want an error", err)
	}
}

// confirmingView is a view that can ask a node directly (Confirmer): the answer is the
// node's private state, which gossip has not spread yet.
type confirmingView struct{ view }

func (v confirmingView) Confirm(_ context.Context, node string) error {
	v.b.mu.Lock()
	defer v.b.mu.Unlock()
	if f := v.b.private[node]; f != nil {
		m := v.b.members[node]
		f(&m)
		v.b.members[node] = m
	}
	return nil
}

// With a Confirmer, the leader asks the target before it moves: a target whose FAULT
// gossip has not spread yet is skipped, and the VIP never lands on it.
func TestPolicyConfirmsTheTargetFirst(t *testing.T) {
	w := newWorld(t)
	b := newBoard(map[string]int{"n1": 150, "n2": 120, "n3": 100})
	pc := PolicyConfig{Preempt: true, Hysteresis: 50 * time.Millisecond, MinMoveInterval: 200 * time.Millisecond}
	nodes := newTestClusterWith(t, 3, w, func(c *Config) {
		c.Cluster, c.Policy = confirmingView{view{b: b, self: c.Node}}, pc
	})
	wakeAll(t, nodes)
	waitFor(t, "n1 to hold", 8*time.Second, func() bool { return w.holder() == "n1" })

	fault := func(m *Member) { m.Fault, m.Failing = true, []string{"haproxy"} }
	faultAt := time.Now()
	b.mu.Lock()
	b.private["n2"] = fault // n2 is down, but only n2 knows
	b.private["n1"] = fault
	b.mu.Unlock()
	waitFor(t, "n3 to hold", 3*time.Second, func() bool { return w.holder() == "n3" })
	w.mu.Lock()
	n2claim := w.claims["n2"]
	w.mu.Unlock()
	if n2claim.After(faultAt) {
		t.Error("the VIP went to n2, whose own health said FAULT")
	}
}

// wakeAll wakes every elector every 10 ms until the test ends: health changes on the
// board reach the electors the way gossip updates would.
func wakeAll(t *testing.T, nodes []*testNode) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			for _, n := range nodes {
				n.elector.Wake()
			}
		}
	}()
}
