package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/cluster/config"
)

// The node core in process: three Nodes over raft.InmemTransport with fake VIPs and
// fake gossip (lab_test.go). Every test also checks, at every change of the fake VIPs,
// that no two nodes held the VIP at once.

// strictFencing makes the claim delay long and easy to tell apart: the address
// lifetime (1 s) and the kernel's expiry slack come on top of D.
func strictFencing(c *config.Config) {
	c.VIP.Fencing = "strict"
	c.VIP.Lifetime = time.Second
}

func TestNodeHolderEmerges(t *testing.T) {
	l := newLab(t, 3, nil)
	l.startAll()
	h := l.holder(15 * time.Second)
	if leader := l.leader(5 * time.Second); leader != h {
		t.Fatalf("%s holds the VIP, but %s leads", h, leader)
	}
	st := l.node(h).Status()
	if !st.Holding || st.Holder != h || st.Reason != "holding" {
		t.Errorf("status of the holder: holding %v, holder %q, reason %q", st.Holding, st.Holder, st.Reason)
	}
	for _, name := range []string{"lb1", "lb2", "lb3"} {
		if name == h {
			continue
		}
		// A follower learns of the claim with the next entries or heartbeat.
		waitUntil(t, name+" reports "+h+" as the holder", func() bool { return l.node(name).Status().Holder == h })
		if st := l.node(name).Status(); st.Holding {
			t.Errorf("status of %s: holding, reason %q; want %s alone holding", name, st.Reason, h)
		}
	}
	// It stays put: the lease is renewed, nobody else claims.
	time.Sleep(500 * time.Millisecond)
	if got := l.vips.holders(); !slices.Equal(got, []string{h}) {
		t.Errorf("holders after a while: %v, want [%s]", got, h)
	}
	if got := l.history(h); !slices.Equal(got, []string{"claim " + h}) {
		t.Errorf("ownership history %q, want one claim by %s", got, h)
	}
}

// A holder that dies without a release record leaves the next leader to wait out the
// claim delay: the dead holder's lease, and with strict fencing its address lifetime,
// must have run out before anyone else holds.
func TestNodeCrashedHolderIsReplacedAfterClaimDelay(t *testing.T) {
	l := newLab(t, 3, strictFencing)
	l.startAll()
	h := l.holder(15 * time.Second)
	delay := effectiveClaimDelay(l.node(h).cfg)
	crashed := time.Now()
	l.crash(h)
	next := l.holder(20*time.Second, h)
	since, _ := l.vips.heldSince(next)
	if waited := since.Sub(crashed); waited < delay {
		t.Errorf("%s held the VIP %s after %s crashed, before the claim delay (%s) was out", next, waited.Round(time.Millisecond), h, delay)
	}
	// No release: the new claim follows the dead holder's claim.
	want := []string{"claim " + h, "claim " + next}
	if got := l.history(next); !slices.Equal(got, want) {
		t.Errorf("ownership history %q, want %q", got, want)
	}
}

// A holder cut off from the others cannot renew its lease: it lets the VIP go
// before the new leader, which waits out the claim delay, takes it. Put back, it
// follows the new leader.
func TestNodeIsolatedHolderLetsGo(t *testing.T) {
	l := newLab(t, 3, nil)
	l.startAll()
	h := l.holder(15 * time.Second)
	addr := l.node(h).cfg.RaftAddr().String()
	l.net.isolate(addr)
	next := l.holder(20*time.Second, h)
	if st := l.node(h).Status(); st.Holding {
		t.Errorf("cut-off %s still says it holds (reason %q)", h, st.Reason)
	}
	l.net.rejoin(addr)
	waitUntil(t, h+" follows "+next+"'s log", func() bool {
		hist := l.history(h)
		return len(hist) > 0 && hist[len(hist)-1] == "claim "+next
	})
	if got := l.vips.holders(); !slices.Equal(got, []string{next}) {
		t.Errorf("holders once %s is back: %v, want [%s]", h, got, next)
	}
}

// raftvip transfer, asked of a node that does not lead, reaches the leader over the
// cluster RPC; the holder releases to the target, which holds without waiting out the
// claim delay.
func TestNodeTransfer(t *testing.T) {
	l := newLab(t, 3, strictFencing)
	l.startAll()
	h := l.holder(15 * time.Second)
	var target, asker string
	for _, name := range []string{"lb1", "lb2", "lb3"} {
		switch {
		case name == h:
		case target == "":
			target = name
		default:
			asker = name
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := l.node(asker).Transfer(ctx, target)
	if err != nil {
		t.Fatalf("transfer to %s, asked of %s: %v", target, asker, err)
	}
	if resp.From != h || resp.To != target {
		t.Errorf("transfer answered %+v, want from %s to %s", resp, h, target)
	}
	if got := l.holder(10 * time.Second); got != target {
		t.Fatalf("%s holds after the transfer, want %s", got, target)
	}
	want := []string{"claim " + h, "release " + h + " -> " + target, "claim " + target}
	if got := l.history(target); !slices.Equal(got, want) {
		t.Errorf("ownership history %q, want %q", got, want)
	}
	// The release lets the target claim at once: its wait is nowhere near the claim
	// delay.
	dropped := l.vips.lastDrop(h)
	since, _ := l.vips.heldSince(target)
	if gap, delay := since.Sub(dropped), effectiveClaimDelay(l.node(target).cfg); gap >= delay {
		t.Errorf("the VIP was off for %s in a planned move; the claim delay (%s) was waited out", gap.Round(time.Millisecond), delay)
	}
}

// The holder leaves: it hands the VIP over, takes itself out of the Raft
// configuration, and the two that remain carry on.
func TestNodeLeave(t *testing.T) {
	l := newLab(t, 3, nil)
	l.startAll()
	h := l.holder(15 * time.Second)
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
	next := l.holder(10*time.Second, h)
	if next != resp.HandedTo {
		t.Errorf("%s holds; the leave handed the VIP to %s", next, resp.HandedTo)
	}
	if got := l.voters(next); len(got) != 2 || slices.Contains(got, h) {
		t.Errorf("voters after the leave: %v", got)
	}
}

// A node stopped and started again on its data dir is the same member: it does not
// bootstrap, it keeps what it had (a drain flag, the ownership history) and catches up
// on what it missed. A holder that restarts hands the VIP over first.
func TestNodeRestartOnItsData(t *testing.T) {
	l := newLab(t, 3, nil)
	l.startAll()
	h := l.holder(15 * time.Second)
	other := "lb1"
	if other == h {
		other = "lb2"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := l.node(other).SetDrain(ctx, other, true); err != nil {
		t.Fatalf("drain %s: %v", other, err)
	}

	// The holder restarts: a planned move, then it comes back as a follower.
	idx := int(h[len(h)-1] - '0')
	l.stop(h)
	next := l.holder(10*time.Second, h)
	restarted := l.start(idx)
	if !restarted.startState {
		t.Errorf("%s found no raft state on its data dir", h)
	}
	waitUntil(t, h+" catches up", func() bool {
		hist := l.history(h)
		return len(hist) > 0 && hist[len(hist)-1] == "claim "+next
	})
	if !restarted.fsm.Drained(other) {
		t.Errorf("%s lost the drain flag of %s over its restart", h, other)
	}
	if got := l.voters(h); len(got) != 3 {
		t.Errorf("voters after the restart: %v", got)
	}
	waitUntil(t, h+" sees a leader", func() bool {
		_, id := restarted.raft.LeaderWithID()
		return id != "" && restarted.raft.State() == raft.Follower
	})
	if got := l.vips.holders(); !slices.Equal(got, []string{next}) {
		t.Errorf("holders after %s came back: %v, want [%s]", h, got, next)
	}
}
