package cluster

import (
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/election"
	"github.com/raftvip/raftvip/store"
)

// newSingleRaft starts a one-voter Raft over the real FSM and waits until it leads.
func newSingleRaft(t *testing.T) (*raft.Raft, *store.FSM) {
	t.Helper()
	fsm := store.NewFSM(0, nil)
	addr, tr := raft.NewInmemTransport("n1")
	rc := raft.DefaultConfig()
	rc.LocalID = "n1"
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
	rc.LogOutput = io.Discard
	s := raft.NewInmemStore()
	r, err := raft.NewRaft(rc, fsm, s, s, raft.NewInmemSnapshotStore(), tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown().Error() })
	if err := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: "n1", Address: addr}}}).Error(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.State() != raft.Leader {
		if time.Now().After(deadline) {
			t.Fatal("single node did not become leader")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return r, fsm
}

// The ledger turns store's apply results into what the election needs: a claim
// reports the record it followed, so the claim delay can be skipped after a release.
func TestLedgerClaimReportsPreviousRecord(t *testing.T) {
	r, fsm := newSingleRaft(t)
	l := ledger{raft: r, fsm: fsm}

	prev, ok, err := l.Claim("lb1", 2, time.Second)
	if err != nil || ok {
		t.Fatalf("first claim: previous %+v, %v, err %v; want none", prev, ok, err)
	}
	if err := l.Release("lb1", 2, "lb2", "shutdown", false, time.Second); err != nil {
		t.Fatalf("release: %v", err)
	}
	prev, ok, err = l.Claim("lb2", 3, time.Second)
	want := election.Record{Kind: election.KindRelease, Node: "lb1", Term: 2, Handoff: "lb2", Reason: "shutdown"}
	if prev.At.IsZero() || time.Since(prev.At) > time.Minute {
		t.Errorf("previous record stamped %v, want about now", prev.At)
	}
	prev.At = time.Time{}
	if err != nil || !ok || prev != want {
		t.Fatalf("claim after release: previous %+v, %v, err %v; want %+v", prev, ok, err, want)
	}
	if !election.ClaimIsImmediate(prev, ok, "lb2") {
		t.Error("a claim after a release must be immediate")
	}
	last, ok := l.Last()
	if !ok || last.Kind != election.KindClaim || last.Node != "lb2" || last.Term != 3 {
		t.Errorf("Last = %+v, %v; want lb2's claim in term 3", last, ok)
	}
	if h := fsm.History(); len(h) != 3 {
		t.Errorf("history has %d records, want 3", len(h))
	}
}

// An entry the FSM rejects comes back as an error, not as a silent success.
func TestLedgerRejectedEntryIsAnError(t *testing.T) {
	r, fsm := newSingleRaft(t)
	l := ledger{raft: r, fsm: fsm}
	if _, err := l.apply([]byte{0x7f, '{', '}'}, time.Second); err == nil {
		t.Fatal("apply of an unknown entry type succeeded")
	}
	if _, ok := l.Last(); ok {
		t.Error("a rejected entry changed the ownership state")
	}
}
