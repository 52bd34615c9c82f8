package store

import (
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func cfgLog(index, term uint64, voters ...string) *raft.Log {
	var c raft.Configuration
	for _, v := range voters {
		c.Servers = append(c.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(v), Address: raft.ServerAddress(v)})
	}
	c.Servers = append(c.Servers, raft.Server{Suffrage: raft.Nonvoter, ID: "learner", Address: "learner"})
	return &raft.Log{Index: index, Term: term, Type: raft.LogConfiguration, Data: raft.EncodeConfiguration(c)}
}

func assignLog(index, term uint64, group, node string) *raft.Log {
	a := Assignment{Node: node, Incarnation: node + "#1", Lease: 120 * time.Millisecond, Lifetime: 2 * time.Second}
	return &raft.Log{Index: index, Term: term, Type: raft.LogCommand, Data: EncodeAssign(group, a, "", time.Time{})}
}

func releaseLog(index, term uint64, group, node string, of uint64) *raft.Log {
	r := Release{Node: node, Incarnation: node + "#1", AssignIndex: of, Held: true}
	return &raft.Log{Index: index, Term: term, Type: raft.LogCommand, Data: EncodeLetGo(group, r, "", time.Time{})}
}

func TestVouchLogFollowsTheLog(t *testing.T) {
	v, err := NewVouchLog(raft.NewInmemStore(), raft.NewInmemSnapshotStore())
	if err != nil {
		t.Fatal(err)
	}
	if err := v.StoreLogs([]*raft.Log{cfgLog(1, 1, "A", "B", "C"), assignLog(2, 1, "web", "A")}); err != nil {
		t.Fatal(err)
	}
	if s := v.Group("web"); !s.Active() || s.Current.Node != "A" {
		t.Fatalf("web after the assign: %+v", s)
	}
	if c := v.Configuration(); c.Index != 1 || !slices.Equal(c.Voters, []string{"A", "B", "C"}) {
		t.Fatalf("configuration %+v", c)
	}
	// Uncommitted entries count at once; a release that ends the assignment counts.
	v.StoreLogs([]*raft.Log{cfgLog(3, 2, "A", "B", "C", "D"), assignLog(4, 2, "web", "B"), releaseLog(5, 2, "web", "B", 4)})
	if s := v.Group("web"); s.Active() || s.Current.Node != "B" {
		t.Fatalf("web after B's release: %+v", s)
	}
	// A truncated tail takes them back.
	if err := v.DeleteRange(4, 5); err != nil {
		t.Fatal(err)
	}
	if s := v.Group("web"); !s.Active() || s.Current.Node != "A" {
		t.Fatalf("web after truncating 4-5: %+v", s)
	}
	if err := v.DeleteRange(3, 3); err != nil {
		t.Fatal(err)
	}
	if c := v.Configuration(); c.Index != 1 {
		t.Fatalf("configuration after truncating 3: %+v", c)
	}
	// A compacted head is folded into the base.
	v.StoreLogs([]*raft.Log{assignLog(3, 3, "web", "C")})
	if err := v.DeleteRange(1, 2); err != nil {
		t.Fatal(err)
	}
	if s := v.Group("web"); s.Current.Node != "C" || s.Previous.Node != "A" {
		t.Fatalf("web after compaction: %+v", s)
	}
	if c := v.Configuration(); c.Index != 1 || len(c.Voters) != 3 {
		t.Fatalf("configuration after compaction: %+v", c)
	}
}

// At start, and after Raft installs a snapshot the log does not cover, the state
// comes from the snapshot and the log after it.
func TestVouchLogFromSnapshot(t *testing.T) {
	snaps := raft.NewInmemSnapshotStore()
	f := NewFSM(0, nil)
	f.Apply(assignLog(1, 1, "web", "A"))
	f.Apply(assignLog(2, 1, "web", "B"))
	writeSnapshot(t, snaps, f, 2, cfgLog(0, 1, "A", "B", "C"))

	logs := raft.NewInmemStore()
	logs.StoreLogs([]*raft.Log{assignLog(3, 1, "web", "C")})
	v, err := NewVouchLog(logs, snaps)
	if err != nil {
		t.Fatal(err)
	}
	if s := v.Group("web"); s.Current.Node != "C" || s.Previous.Node != "B" {
		t.Fatalf("web at start: %+v", s)
	}
	if c := v.Configuration(); len(c.Voters) != 3 {
		t.Fatalf("configuration from the snapshot: %+v", c)
	}

	// A snapshot up to 10 is installed; entries resume at 11.
	g := NewFSM(0, nil)
	g.Apply(assignLog(9, 2, "web", "A"))
	writeSnapshot(t, snaps, g, 10, cfgLog(0, 2, "A", "B", "C", "D"))
	if err := v.DeleteRange(1, 10); err != nil {
		t.Fatal(err)
	}
	if err := v.StoreLogs([]*raft.Log{releaseLog(11, 2, "web", "A", 9)}); err != nil {
		t.Fatal(err)
	}
	if s := v.Group("web"); s.Current.Index != 9 || s.Active() {
		t.Fatalf("web after the installed snapshot and A's release: %+v", s)
	}
	if c := v.Configuration(); len(c.Voters) != 4 {
		t.Fatalf("configuration after the installed snapshot: %+v", c)
	}
}

func writeSnapshot(t *testing.T, snaps raft.SnapshotStore, f *FSM, index uint64, cfg *raft.Log) {
	t.Helper()
	c := raft.DecodeConfiguration(cfg.Data)
	_, trans := raft.NewInmemTransport("")
	sink, err := snaps.Create(raft.SnapshotVersionMax, index, 1, c, 1, trans)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := f.Snapshot()
	if err := s.Persist(sink); err != nil {
		t.Fatal(err)
	}
}

// A log from before groups: the VouchLog reads its claims and releases as the FSM
// does, so a holder that reads its wait from its own log owes what the FSM says.
func TestVouchLogReadsLegacyRecordsAsTheFSMDoes(t *testing.T) {
	v, err := NewVouchLog(raft.NewInmemStore(), raft.NewInmemSnapshotStore())
	if err != nil {
		t.Fatal(err)
	}
	f := NewFSM(0, nil)
	logs := []*raft.Log{
		cfgLog(1, 1, "A", "B", "C"),
		{Index: 2, Term: 1, Type: raft.LogCommand, Data: EncodeClaim("A", 1, t0)},
		{Index: 3, Term: 2, Type: raft.LogCommand, Data: EncodeClaim("B", 2, t0)},
		assignLog(4, 3, LegacyGroup, "C"),
	}
	if err := v.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	for _, l := range logs {
		if l.Type == raft.LogCommand {
			f.Apply(l)
		}
	}
	got, want := v.Group(LegacyGroup), f.Group(LegacyGroup)
	if got.Wait != want.Wait || got.Current != want.Current || got.Previous != want.Previous {
		t.Errorf("VouchLog %+v, FSM %+v", got, want)
	}
	if got.Wait < legacy.Owes() {
		t.Errorf("C owes %v after the old claims, want at least %v", got.Wait, legacy.Owes())
	}
	if got.Previous.Incarnation != LegacyIncarnation || got.Previous.Node != "B" {
		t.Errorf("the assignment before C's: %+v, want B's old claim", got.Previous)
	}
}
