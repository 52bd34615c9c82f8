package election

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// world is the shared "network" the fake VIPs live in: it fails the test the instant
// two nodes hold the VIP together (DESIGN §1 promise 1).
type world struct {
	t       *testing.T
	mu      sync.Mutex
	holders map[string]time.Time
	drops   map[string]time.Time // last time each node dropped the VIP
	claims  map[string]time.Time // last time each node added the VIP
	moves   int                  // claims so far
}

func newWorld(t *testing.T) *world {
	return &world{t: t, holders: map[string]time.Time{}, drops: map[string]time.Time{}, claims: map[string]time.Time{}}
}

func (w *world) set(node string, hold bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, held := w.holders[node]
	switch {
	case hold && !held:
		for other := range w.holders {
			w.t.Errorf("two holders: %s claimed the VIP while %s holds it", node, other)
		}
		w.holders[node] = time.Now()
		w.claims[node] = time.Now()
		w.moves++
	case !hold && held:
		delete(w.holders, node)
		w.drops[node] = time.Now()
	}
}

func (w *world) holder() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	for n := range w.holders {
		return n
	}
	return ""
}

type fakeVIP struct {
	node string
	w    *world
}

func (v fakeVIP) Set(_ context.Context, hold bool) error { v.w.set(v.node, hold); return nil }

// ledgerFSM is a minimal FSM of ownership records: "claim|node|term" and
// "release|node|term|handoff|pin" (pin "true" or "false").
type ledgerFSM struct {
	mu     sync.Mutex
	last   Record
	ok     bool
	pinned string // as store.FSM.Pinned derives it
	wake   func()
}

func (f *ledgerFSM) Apply(l *raft.Log) any {
	p := strings.Split(string(l.Data), "|")
	var term uint64
	fmt.Sscan(p[2], &term)
	f.mu.Lock()
	prev := applied{f.last, f.ok}
	f.last, f.ok = Record{Kind: p[0], Node: p[1], Term: term}, true
	if len(p) > 3 {
		f.last.Handoff = p[3]
	}
	switch {
	case f.last.Kind == KindRelease && len(p) > 4 && p[4] == "true":
		f.pinned = f.last.Handoff
	case f.last.Kind == KindRelease || f.last.Node != f.pinned:
		f.pinned = ""
	}
	wake := f.wake
	f.mu.Unlock()
	if wake != nil {
		wake()
	}
	return prev
}

type applied struct {
	rec Record
	ok  bool
}

func (f *ledgerFSM) Snapshot() (raft.FSMSnapshot, error) { return nopSnapshot{}, nil }
func (f *ledgerFSM) Restore(io.ReadCloser) error         { return nil }

type nopSnapshot struct{}

func (nopSnapshot) Persist(s raft.SnapshotSink) error { return s.Close() }
func (nopSnapshot) Release()                          {}

type testLedger struct {
	r   *raft.Raft
	fsm *ledgerFSM
}

func (l testLedger) Last() (Record, bool) {
	l.fsm.mu.Lock()
	defer l.fsm.mu.Unlock()
	return l.fsm.last, l.fsm.ok
}
func (l testLedger) Claim(node string, term uint64, timeout time.Duration) (Record, bool, error) {
	f := l.r.Apply([]byte(fmt.Sprintf("claim|%s|%d", node, term)), timeout)
	if err := f.Error(); err != nil {
		return Record{}, false, err
	}
	prev := f.Response().(applied)
	return prev.rec, prev.ok, nil
}
func (l testLedger) Release(node string, term uint64, handoff, _ string, pin bool, timeout time.Duration) error {
	return l.r.Apply([]byte(fmt.Sprintf("release|%s|%d|%s|%t", node, term, handoff, pin)), timeout).Error()
}
func (l testLedger) Pinned() string {
	l.fsm.mu.Lock()
	defer l.fsm.mu.Unlock()
	return l.fsm.pinned
}

type testNode struct {
	id        string
	raft      *raft.Raft
	transport *raft.InmemTransport
	elector   *Elector
	fsm       *ledgerFSM
	cancel    context.CancelFunc
	done      chan struct{}
}

const (
	testLease      = 40 * time.Millisecond
	testRPCTimeout = 50 * time.Millisecond
	testClaimDelay = testLease + testRPCTimeout + 30*time.Millisecond
)

// newTestCluster starts n in-memory Raft nodes, each with an elector and a fake VIP.
func newTestCluster(t *testing.T, n int, w *world) []*testNode {
	t.Helper()
	return newTestClusterWith(t, n, w, nil)
}

// newTestClusterWith is newTestCluster with a hook to adjust each elector's Config.
func newTestClusterWith(t *testing.T, n int, w *world, adjust func(*Config)) []*testNode {
	t.Helper()
	nodes := make([]*testNode, n)
	var servers []raft.Server
	for i := range nodes {
		id := fmt.Sprintf("n%d", i+1)
		addr, tr := raft.NewInmemTransportWithTimeout(raft.ServerAddress(id), testRPCTimeout)
		nodes[i] = &testNode{id: id, transport: tr, fsm: &ledgerFSM{}}
		servers = append(servers, raft.Server{ID: raft.ServerID(id), Address: addr})
	}
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				a.transport.Connect(raft.ServerAddress(b.id), b.transport)
			}
		}
	}
	for _, tn := range nodes {
		rc := raft.DefaultConfig()
		rc.LocalID = raft.ServerID(tn.id)
		rc.HeartbeatTimeout = 100 * time.Millisecond
		rc.ElectionTimeout = 100 * time.Millisecond
		rc.LeaderLeaseTimeout = 50 * time.Millisecond
		rc.CommitTimeout = 5 * time.Millisecond
		rc.Logger = nil
		rc.LogOutput = io.Discard
		store := raft.NewInmemStore()
		r, err := raft.NewRaft(rc, tn.fsm, store, store, raft.NewInmemSnapshotStore(), tn.transport)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
			t.Fatal(err)
		}
		tn.raft = r
		cfg := Config{
			Node:         tn.id,
			Raft:         r,
			Ledger:       testLedger{r: r, fsm: tn.fsm},
			VIP:          fakeVIP{node: tn.id, w: w},
			Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
			Lease:        testLease,
			ClaimDelay:   testClaimDelay,
			ApplyTimeout: 500 * time.Millisecond,
			Tick:         20 * time.Millisecond,
		}
		if adjust != nil {
			adjust(&cfg)
		}
		tn.elector = New(cfg)
		tn.fsm.mu.Lock()
		tn.fsm.wake = tn.elector.Wake
		tn.fsm.mu.Unlock()
		ctx, cancel := context.WithCancel(context.Background())
		tn.cancel, tn.done = cancel, make(chan struct{})
		go func(tn *testNode) {
			tn.elector.Run(ctx)
			close(tn.done)
		}(tn)
	}
	t.Cleanup(func() {
		for _, tn := range nodes {
			tn.stop()
		}
	})
	return nodes
}

func (tn *testNode) stop() {
	if tn.cancel == nil {
		return
	}
	tn.cancel()
	<-tn.done
	tn.raft.Shutdown().Error()
	tn.cancel = nil
}

// isolate cuts tn off from every other node in both directions.
func isolate(nodes []*testNode, tn *testNode) {
	tn.transport.DisconnectAll()
	for _, o := range nodes {
		if o != tn {
			o.transport.Disconnect(raft.ServerAddress(tn.id))
		}
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func byID(nodes []*testNode, id string) *testNode {
	for _, n := range nodes {
		if n.id == id {
			return n
		}
	}
	return nil
}

func TestOneHolderAfterFormation(t *testing.T) {
	w := newWorld(t)
	nodes := newTestCluster(t, 3, w)
	waitFor(t, "a holder", 5*time.Second, func() bool { return w.holder() != "" })
	h := byID(nodes, w.holder())
	if h.raft.State() != raft.Leader {
		t.Fatalf("holder %s is %s, not leader", h.id, h.raft.State())
	}
	if st := h.elector.Status(); !st.Holding || st.Reason != ReasonHolding || st.LeaseRemaining <= 0 {
		t.Errorf("holder status = %+v, want holding with a lease", st)
	}
	time.Sleep(300 * time.Millisecond) // steady state: the holder keeps it
	if got := w.holder(); got != h.id {
		t.Errorf("holder changed from %s to %q in steady state", h.id, got)
	}
}

// A partitioned holder must drop the VIP before the majority's new leader claims it
// (DESIGN §2: lease plus claim delay). The world fails the test on any overlap.
func TestPartitionedHolderDropsBeforeNewClaim(t *testing.T) {
	for trial := 0; trial < 5; trial++ {
		w := newWorld(t)
		nodes := newTestCluster(t, 3, w)
		waitFor(t, "a holder", 5*time.Second, func() bool { return w.holder() != "" })
		old := byID(nodes, w.holder())
		isolate(nodes, old)
		waitFor(t, "a new holder", 5*time.Second, func() bool { h := w.holder(); return h != "" && h != old.id })
		nh := w.holder()
		w.mu.Lock()
		dropped, claimed := w.drops[old.id], w.claims[nh]
		w.mu.Unlock()
		if !dropped.Before(claimed) {
			t.Fatalf("trial %d: old holder dropped at %v, new claim at %v", trial, dropped, claimed)
		}
		t.Logf("trial %d: gap between drop and claim %v", trial, claimed.Sub(dropped))
		for _, n := range nodes {
			n.stop()
		}
	}
}

// A crashed leader's successor waits the claim delay before it holds.
func TestCrashedHolderSuccessorWaitsClaimDelay(t *testing.T) {
	w := newWorld(t)
	nodes := newTestCluster(t, 3, w)
	waitFor(t, "a holder", 5*time.Second, func() bool { return w.holder() != "" })
	old := byID(nodes, w.holder())
	old.stop()
	waitFor(t, "a new holder", 5*time.Second, func() bool { h := w.holder(); return h != "" && h != old.id })
	nh := byID(nodes, w.holder())
	w.mu.Lock()
	dropped, claimed := w.drops[old.id], w.claims[nh.id]
	w.mu.Unlock()
	if gap := claimed.Sub(dropped); gap < testClaimDelay {
		t.Errorf("new holder claimed %v after the crash; the claim delay is %v", gap, testClaimDelay)
	}
}

// A planned move releases first and the target claims without the claim delay.
func TestHandoffIsImmediate(t *testing.T) {
	w := newWorld(t)
	nodes := newTestCluster(t, 3, w)
	waitFor(t, "a holder", 5*time.Second, func() bool { return w.holder() != "" })
	old := byID(nodes, w.holder())
	var target string
	for _, n := range nodes {
		if n != old {
			target = n.id
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := old.elector.Handoff(ctx, Move{Target: target, Reason: "test"}); err != nil {
		t.Fatalf("Handoff: %v", err)
	}
	waitFor(t, "the target to hold", 5*time.Second, func() bool { return w.holder() == target })
	w.mu.Lock()
	gap := w.claims[target].Sub(w.drops[old.id])
	w.mu.Unlock()
	if gap >= testClaimDelay {
		t.Errorf("planned move gap %v; want under the claim delay %v (release makes the claim immediate)", gap, testClaimDelay)
	}
	t.Logf("planned move gap %v", gap)
	// The old holder may hold again later (not retired), but not while the target does.
	time.Sleep(200 * time.Millisecond)
	if h := w.holder(); h != target {
		t.Errorf("after the move the holder is %q, want %s", h, target)
	}
}

func TestHandoffRejectsNonMember(t *testing.T) {
	w := newWorld(t)
	nodes := newTestCluster(t, 3, w)
	waitFor(t, "a holder", 5*time.Second, func() bool { return w.holder() != "" })
	old := byID(nodes, w.holder())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := old.elector.Handoff(ctx, Move{Target: "nope", Reason: "test"})
	if err == nil || !strings.Contains(err.Error(), "not a member") {
		t.Fatalf("Handoff to an unknown node: err = %v, want 'not a member'", err)
	}
	// The failed move must not leave the cluster without a holder.
	waitFor(t, "the old holder to hold again", 5*time.Second, func() bool { return w.holder() == old.id })
}

func TestFollowerHandoffIsNotHolder(t *testing.T) {
	w := newWorld(t)
	nodes := newTestCluster(t, 3, w)
	waitFor(t, "a holder", 5*time.Second, func() bool { return w.holder() != "" })
	for _, n := range nodes {
		if n.id == w.holder() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := n.elector.Handoff(ctx, Move{Reason: "test"})
		cancel()
		if err != ErrNotHolder {
			t.Errorf("%s: Handoff on a follower = %v, want ErrNotHolder", n.id, err)
		}
	}
}

func TestEntitledOnlyWhileHoldingUnderLease(t *testing.T) {
	w := newWorld(t)
	nodes := newTestCluster(t, 3, w)
	waitFor(t, "a holder", 5*time.Second, func() bool { return w.holder() != "" })
	h := byID(nodes, w.holder())
	if !h.elector.Entitled() {
		t.Fatal("the holder is not entitled")
	}
	for _, n := range nodes {
		if n != h && n.elector.Entitled() {
			t.Errorf("follower %s is entitled", n.id)
		}
	}
	isolate(nodes, h)
	// Within one lease the cut-off holder stops being entitled, before anyone claims.
	waitFor(t, "the isolated holder to lose entitlement", testLease+testRPCTimeout+100*time.Millisecond,
		func() bool { return !h.elector.Entitled() })
}

// A gate (a foreign VRRP master) takes the VIP off the holder while it is shut and
// gives it back, without the claim delay, once it opens; the drop is reported as
// unplanned, with the gate's reason.
func TestGateBlocksAndReleases(t *testing.T) {
	w := newWorld(t)
	var mu sync.Mutex
	blocked := ""
	var drops []string
	nodes := newTestClusterWith(t, 3, w, func(c *Config) {
		c.ClaimDelay = time.Hour // a claim that waited the delay would never hold
		c.Gate = func(time.Time) (string, time.Time) {
			mu.Lock()
			defer mu.Unlock()
			return blocked, time.Time{}
		}
		c.OnDrop = func(r Reason, planned bool) {
			mu.Lock()
			defer mu.Unlock()
			drops = append(drops, fmt.Sprintf("%s/%t", r, planned))
		}
	})
	waitFor(t, "a holder", 5*time.Second, func() bool { return w.holder() != "" })
	h := byID(nodes, w.holder())

	mu.Lock()
	blocked = "VRRP backup: 198.18.0.14 is master"
	mu.Unlock()
	for _, n := range nodes {
		n.elector.Wake()
	}
	waitFor(t, "the VIP dropped", 2*time.Second, func() bool { return w.holder() == "" })
	if st := h.elector.Status(); st.Reason != "VRRP backup: 198.18.0.14 is master" {
		t.Errorf("blocked leader's reason = %q", st.Reason)
	}

	mu.Lock()
	blocked = ""
	mu.Unlock()
	h.elector.Wake()
	waitFor(t, "the VIP back on the leader", 2*time.Second, func() bool { return w.holder() == h.id })
	mu.Lock()
	defer mu.Unlock()
	if len(drops) != 1 || drops[0] != "VRRP backup: 198.18.0.14 is master/false" {
		t.Errorf("drops = %v, want one unplanned drop with the gate's reason", drops)
	}
}
