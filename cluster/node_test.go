package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/gossip"
	"github.com/raftvip/raftvip/store"
)

// The node core in process: three Nodes over raft.InmemTransport with fake VIPs and
// fake gossip (lab_test.go). Every test also checks, at every change of the fake VIPs,
// that no two nodes held a group at once.

// strictFencing makes the wait W long and easy to tell apart: under strict fencing an
// assignee owes its address lifetime (1 s) plus the kernel's expiry slack.
func strictFencing(c *config.Config) {
	for i := range c.Groups {
		c.Groups[i].Fencing = "strict"
		c.Groups[i].Lifetime = time.Second
	}
}

// owed is the wait a new assignee owes after an assignment of group g by node n.
func owed(n *Node, g string) time.Duration {
	t := n.cfg.Cluster.Timing
	gc := n.byName[g].cfg
	return store.Assignment{Lease: t.VIPLease, Delta: t.ClaimMargin, Lifetime: gc.Lifetime, Strict: gc.Fencing == "strict"}.Owes()
}

func TestNodeHolderEmerges(t *testing.T) {
	l := newLab(t, 3, nil)
	l.startAll()
	h := l.holder("vip", 15*time.Second)
	st := l.node(h).Status()
	if !st.Holding || st.Holder != h || st.Reason != "holding" {
		t.Errorf("status of the holder: holding %v, holder %q, reason %q", st.Holding, st.Holder, st.Reason)
	}
	for _, name := range []string{"lb1", "lb2", "lb3"} {
		if name == h {
			continue
		}
		waitUntil(t, name+" reports "+h+" as the holder", func() bool { return l.node(name).Status().Holder == h })
		if st := l.node(name).Status(); st.Holding {
			t.Errorf("status of %s: holding, reason %q; want %s alone holding", name, st.Reason, h)
		}
	}
	// Leadership goes where it holds nothing, so the holder's death never waits for
	// an election.
	waitUntil(t, "a leader that holds nothing", func() bool { return l.leader(5*time.Second) != h })
	if got := l.vips.holders("vip"); !slices.Equal(got, []string{h}) {
		t.Errorf("holders after the leadership moved: %v, want [%s]", got, h)
	}
	if got := l.history(h, "vip"); !slices.Equal(got, []string{"assign " + h}) {
		t.Errorf("ownership history %q, want one assignment to %s", got, h)
	}
}

// A holder that dies without a release leaves the next assignee to wait out W: the
// dead holder's lease, and with strict fencing its address lifetime, must have run out
// before anyone else holds.
func TestNodeCrashedHolderIsReplacedAfterItsWait(t *testing.T) {
	l := newLab(t, 3, strictFencing)
	l.startAll()
	h := l.holder("vip", 15*time.Second)
	wait := owed(l.node(h), "vip")
	crashed := time.Now()
	l.crash(h)
	next := l.holder("vip", 20*time.Second, h)
	since, _ := l.vips.heldSince("vip", next)
	if waited := since.Sub(crashed); waited < wait {
		t.Errorf("%s held the group %s after %s crashed, before its wait (%s) was out", next, waited.Round(time.Millisecond), h, wait)
	}
	// No release by the dead holder: the new assignment follows its own. (What comes
	// after is the new holder's business: under a loaded race detector it may lose
	// its lease and be assigned again.)
	got := l.history(next, "vip")
	if len(got) < 2 || got[0] != "assign "+h || got[1] != "assign "+next ||
		slices.ContainsFunc(got, func(e string) bool { return strings.HasPrefix(e, "release "+h) }) {
		t.Errorf("ownership history %q, want assign %s, assign %s and no release by %s", got, h, next, h)
	}
}

// A holder cut off from the others cannot renew its lease: it lets the group go, and
// another node holds it once its wait is out. Put back, the cut-off node follows the
// log.
func TestNodeIsolatedHolderLetsGo(t *testing.T) {
	l := newLab(t, 3, nil)
	l.startAll()
	h := l.holder("vip", 15*time.Second)
	addr := l.node(h).cfg.RaftAddr().String()
	l.net.isolate(addr)
	next := l.holder("vip", 20*time.Second, h)
	if st := l.node(h).Status(); st.Holding {
		t.Errorf("cut-off %s still says it holds (reason %q)", h, st.Reason)
	}
	l.net.rejoin(addr)
	waitUntil(t, h+" follows the log", func() bool {
		hist := l.history(h, "vip")
		return slices.Contains(hist, "assign "+next)
	})
	if got := l.vips.holders("vip"); !slices.Equal(got, []string{next}) {
		t.Errorf("holders once %s is back: %v, want [%s]", h, got, next)
	}
}

// raftvip transfer, asked of a node that does not lead, reaches the leader over the
// cluster RPC; the holder lets go and releases, held, and the target holds without
// waiting out W.
func TestNodeTransfer(t *testing.T) {
	l := newLab(t, 3, strictFencing)
	l.startAll()
	h := l.holder("vip", 15*time.Second)
	leader := l.leader(5 * time.Second)
	var target, asker string
	for _, name := range []string{"lb1", "lb2", "lb3"} {
		switch {
		case name == h:
		case target == "":
			target = name
		}
	}
	for _, name := range []string{"lb1", "lb2", "lb3"} {
		if name != leader {
			asker = name
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := l.node(asker).Transfer(ctx, "", target)
	if err != nil {
		t.Fatalf("transfer to %s, asked of %s: %v", target, asker, err)
	}
	if resp.From != h || resp.To != target {
		t.Errorf("transfer answered %+v, want from %s to %s", resp, h, target)
	}
	if got := l.holder("vip", 10*time.Second, h); got != target {
		t.Fatalf("%s holds after the transfer, want %s", got, target)
	}
	waitUntil(t, "the held release committed", func() bool {
		return slices.Contains(l.history(target, "vip"), "release "+h+" held")
	})
	// The held release, told directly, lets the target hold at once: nowhere near W.
	dropped := l.vips.lastDrop("vip", h)
	since, _ := l.vips.heldSince("vip", target)
	if gap, wait := since.Sub(dropped), owed(l.node(target), "vip"); gap >= wait {
		t.Errorf("the group was off for %s in a planned move; its wait (%s) was waited out", gap.Round(time.Millisecond), wait)
	}
}

// raftvip transfer to the leader, which holds nothing: it takes the group, then hands
// leadership on, not to the old holder that is still letting go but to the voter that
// holds nothing; and the new leader, which has not heard from the new holder since it
// was elected, leaves the group where it is. Both went wrong in a bench run: the old
// holder took leadership and gave the group back to itself, "not heard from".
func TestNodeTransferToTheLeader(t *testing.T) {
	l := newLab(t, 3, strictFencing)
	l.startAll()
	h := l.holder("vip", 15*time.Second)
	var leader string
	waitUntil(t, "a leader that holds nothing", func() bool {
		leader = l.leader(5 * time.Second)
		return leader != h
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := l.node(h).Transfer(ctx, "", leader); err != nil {
		t.Fatalf("transfer to the leader %s: %v", leader, err)
	}
	if got := l.holder("vip", 10*time.Second, h); got != leader {
		t.Fatalf("%s holds after the transfer, want %s", got, leader)
	}
	var next string
	waitUntil(t, "leadership handed on", func() bool {
		next = l.leader(5 * time.Second)
		return next != leader
	})
	if next == h {
		t.Errorf("leadership went to %s, which was letting the group go; want the third voter", h)
	}
	time.Sleep(time.Second)
	if got := l.vips.holders("vip"); !slices.Equal(got, []string{leader}) {
		t.Errorf("holders a second after the leadership moved: %v, want [%s]", got, leader)
	}
	if hist := l.history(next, "vip"); hist[len(hist)-1] != "release "+h+" held" {
		t.Errorf("the group was assigned again after the transfer: history %v", hist)
	}
}

// The holder leaves: its group moves by a planned move, it hands leadership on if it
// has it, takes itself out of the Raft configuration, and the two that remain carry
// on.
func TestNodeLeave(t *testing.T) {
	l := newLab(t, 3, nil)
	l.startAll()
	h := l.holder("vip", 15*time.Second)
	n := l.node(h)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := n.Leave(ctx, true) // two voters remain: --force
	if err != nil {
		t.Fatalf("leave of %s: %v", h, err)
	}
	if resp.Voters != 2 || resp.HandedTo == "" || resp.HandedTo == h {
		t.Errorf("leave answered %+v, want 2 voters left and a hand-off", resp)
	}
	select {
	case <-n.Left():
	case <-time.After(10 * time.Second):
		t.Fatal("the node never said it left")
	}
	l.stop(h)
	next := l.holder("vip", 10*time.Second, h)
	if next != resp.HandedTo {
		t.Errorf("%s holds; the leave handed the group to %s", next, resp.HandedTo)
	}
	if got := l.voters(next); len(got) != 2 || slices.Contains(got, h) {
		t.Errorf("voters after the leave: %v", got)
	}
}

// A node stopped and started again on its data dir is the same member: it does not
// bootstrap, it keeps what it had (a drain flag, the ownership history) and catches up
// on what it missed. A holder that stops moves its group by a planned move first.
func TestNodeRestartOnItsData(t *testing.T) {
	l := newLab(t, 3, nil)
	l.startAll()
	h := l.holder("vip", 15*time.Second)
	other := "lb1"
	if other == h {
		other = "lb2"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := l.node(other).SetDrain(ctx, other, true); err != nil {
		t.Fatalf("drain %s: %v", other, err)
	}

	idx := int(h[len(h)-1] - '0')
	l.stop(h)
	next := l.holder("vip", 10*time.Second, h)
	restarted := l.start(idx)
	if !restarted.startState {
		t.Errorf("%s found no raft state on its data dir", h)
	}
	waitUntil(t, h+" catches up", func() bool { return slices.Contains(l.history(h, "vip"), "assign "+next) })
	if !restarted.fsm.Drained(other) {
		t.Errorf("%s lost the drain flag of %s over its restart", h, other)
	}
	if got := l.voters(h); len(got) != 3 {
		t.Errorf("voters after the restart: %v", got)
	}
	waitUntil(t, h+" sees a leader", func() bool {
		_, id := restarted.raft.LeaderWithID()
		return id != "" && restarted.raft.State() != raft.Candidate
	})
	if got := l.vips.holders("vip"); !slices.Equal(got, []string{next}) {
		t.Errorf("holders after %s came back: %v, want [%s]", h, got, next)
	}
}

// threeGroups gives every node three groups, web, api and db, each topped by another
// node: lb1 prefers web, lb2 api, lb3 db.
func threeGroups(c *config.Config) {
	base := c.Groups[0]
	var groups []config.GroupConfig
	for i, name := range []string{"web", "api", "db"} {
		g := base
		g.Name = name
		g.Addresses = []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("198.18.1.%d/24", 10+i))}
		g.Priority = 100
		if c.Node.Name == fmt.Sprintf("lb%d", i+1) {
			g.Priority = 150
		}
		groups = append(groups, g)
	}
	c.Groups, c.GroupsSection = groups, true
}

// Groups spread over the nodes by priority, and a crash moves only the crashed node's
// group.
func TestNodeGroupsSpread(t *testing.T) {
	l := newLab(t, 3, threeGroups)
	l.startAll()
	want := map[string]string{"web": "lb1", "api": "lb2", "db": "lb3"}
	for g, n := range want {
		waitUntil(t, n+" holds "+g, func() bool { return slices.Equal(l.vips.holders(g), []string{n}) })
	}
	stay := map[string]string{"web": "lb1", "db": "lb3"}
	assigns := func(g, n string) []string {
		return slices.DeleteFunc(l.history(n, g), func(e string) bool { return !strings.HasPrefix(e, "assign ") })
	}
	before := map[string][]string{}
	for g, n := range stay {
		waitUntil(t, n+" has applied its assignment of "+g, func() bool {
			a := assigns(g, n)
			return len(a) > 0 && a[len(a)-1] == "assign "+n
		})
		before[g] = assigns(g, n)
	}
	l.crash("lb2")
	next := l.holder("api", 20*time.Second, "lb2")
	for g, n := range stay {
		if got := l.vips.holders(g); !slices.Equal(got, []string{n}) {
			t.Errorf("%s: holders %v after lb2 crashed, want [%s]", g, got, n)
		}
		if hist := assigns(g, n); !slices.Equal(hist, before[g]) {
			t.Errorf("%s moved when lb2 crashed: assignments %q, were %q", g, hist, before[g])
		}
	}
	t.Logf("api moved to %s", next)
}

// A member that gossips an older ownership protocol (0: the leader holds the VIP)
// appears: an agent that started moments ago and holds nothing stops and says what to
// do; the holder lets its group go and names the member in its status; nothing is
// held twice.
func TestNodeOlderProtocolPeer(t *testing.T) {
	l := newLab(t, 3, nil)
	l.startAll()
	h := l.holder("vip", 15*time.Second)
	old, err := gossip.EncodeMeta(gossip.Meta{Format: gossip.MetaFormat, Raft: "198.18.0.19:7300", Version: "0.9.0", State: true}, 512)
	if err != nil {
		t.Fatal(err)
	}
	l.gossip.update("lb9", func(m *fakeMember) {
		m.addr, m.state, m.meta = netip.MustParseAddrPort("198.18.0.19:7301"), gossip.Alive, old
	})
	for _, name := range []string{"lb1", "lb2", "lb3"} {
		n := l.node(name)
		if name == h {
			waitUntil(t, h+" lets the group go", func() bool { return len(l.vips.holders("vip")) == 0 })
			st := n.Status()
			if st.Holding || !strings.Contains(st.Ineligible, "lb9 runs raftvip 0.9.0") || !strings.Contains(st.Ineligible, "docs/operations.md") {
				t.Errorf("%s: holding %v, ineligible %q; want it to name lb9 and the upgrade procedure", h, st.Holding, st.Ineligible)
			}
			continue
		}
		select {
		case <-n.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("%s still runs beside lb9", name)
		}
		if err := n.Fatal(); err == nil || !strings.Contains(err.Error(), "lb9 runs raftvip 0.9.0") ||
			!strings.Contains(err.Error(), "the Raft leader holds the VIP") || !strings.Contains(err.Error(), "Stop the agent on every node") {
			t.Errorf("%s stopped with %v", name, err)
		}
		l.forget(name)
	}
}

// A node with other timing settings (wan among lan nodes) holds under its own lease,
// which its assignment records: when it crashes, the next holder waits out the wan
// lease plus margin, not its own. Status names the member whose timing differs.
func TestNodeMixedTimingWaitsTheHoldersOwn(t *testing.T) {
	wan, _ := config.Profile("wan")
	l := newLab(t, 3, func(c *config.Config) {
		if c.Node.Name == "lb3" {
			c.Cluster.Timing = wan
			c.Groups[0].Priority = 200
		}
	})
	l.startAll()
	waitUntil(t, "lb3 holds", func() bool { return slices.Equal(l.vips.holders("vip"), []string{"lb3"}) })
	diffs := l.node("lb1").Status().Timing.Differs
	if len(diffs) != 1 || !strings.HasPrefix(diffs[0], "lb3: wan (") {
		t.Errorf("lb1's status names %q as timing that differs; want lb3's wan", diffs)
	}
	wait := owed(l.node("lb3"), "vip")
	if own := owed(l.node("lb1"), "vip"); own >= wait {
		t.Fatalf("the test needs lb3's wait (%s) longer than lb1's (%s)", wait, own)
	}
	crashed := time.Now()
	l.crash("lb3")
	next := l.holder("vip", 20*time.Second, "lb3")
	since, _ := l.vips.heldSince("vip", next)
	if waited := since.Sub(crashed); waited < wait {
		t.Errorf("%s held %s after lb3 crashed, before lb3's own wait (%s) was out", next, waited.Round(time.Millisecond), wait)
	}
}
