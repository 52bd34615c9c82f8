package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// applyAll applies entries at indexes 1, 2, … and fails the test on an error.
func applyAll(t *testing.T, f *FSM, entries ...[]byte) {
	t.Helper()
	for i, e := range entries {
		if resp, ok := f.Apply(&raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: e}).(Applied); !ok {
			t.Fatalf("Apply(entry %d) = %v, want Applied", i+1, resp)
		}
	}
}

func TestFSMApply(t *testing.T) {
	claim1 := Record{Kind: KindClaim, Node: "lb1", Term: 2, At: t0, Index: 1}
	release1 := Record{Kind: KindRelease, Node: "lb1", Term: 2, Handoff: "lb2", Reason: "transfer", At: t0.Add(time.Second), Index: 2}
	claim2 := Record{Kind: KindClaim, Node: "lb2", Term: 3, At: t0.Add(2 * time.Second), Index: 3}
	drainAt := func(i uint64, node string, drained bool, reason string) Record {
		return Record{Kind: KindDrain, Node: node, Drained: drained, Reason: reason, At: t0, Index: i}
	}
	tests := []struct {
		name    string
		entries [][]byte
		last    *Record
		history []Record
		drained []string
	}{
		{"empty", nil, nil, []Record{}, []string{}},
		{"one claim", [][]byte{EncodeClaim("lb1", 2, t0)}, &claim1, []Record{claim1}, []string{}},
		{"planned move", [][]byte{
			EncodeClaim("lb1", 2, t0),
			EncodeRelease("lb1", 2, "lb2", "transfer", false, t0.Add(time.Second)),
			EncodeClaim("lb2", 3, t0.Add(2*time.Second)),
		}, &claim2, []Record{claim1, release1, claim2}, []string{}},
		{"ends on release", [][]byte{
			EncodeClaim("lb1", 2, t0),
			EncodeRelease("lb1", 2, "lb2", "transfer", false, t0.Add(time.Second)),
		}, &release1, []Record{claim1, release1}, []string{}},
		{"drain before any claim", [][]byte{
			EncodeDrain("lb1", true, "operator", t0),
		}, nil, []Record{drainAt(1, "lb1", true, "operator")}, []string{"lb1"}},
		{"drain after a claim keeps the claim last", [][]byte{
			EncodeClaim("lb1", 2, t0),
			EncodeDrain("lb1", true, "operator", t0),
		}, &claim1, []Record{claim1, drainAt(2, "lb1", true, "operator")}, []string{"lb1"}},
		{"drain, move, undrain", [][]byte{
			EncodeClaim("lb1", 2, t0),
			EncodeRelease("lb1", 2, "lb2", "transfer", false, t0.Add(time.Second)),
			EncodeDrain("lb1", true, "", t0),
			EncodeDrain("lb1", false, "", t0),
		}, &release1, []Record{claim1, release1, drainAt(3, "lb1", true, ""), drainAt(4, "lb1", false, "")}, []string{}},
		{"drained set sorted", [][]byte{
			EncodeDrain("lb3", true, "", t0),
			EncodeDrain("lb1", true, "", t0),
			EncodeDrain("lb2", true, "", t0),
			EncodeDrain("lb3", true, "again", t0),
			EncodeDrain("lb2", false, "", t0),
			EncodeDrain("lb9", false, "never drained", t0),
		}, nil, []Record{
			drainAt(1, "lb3", true, ""), drainAt(2, "lb1", true, ""), drainAt(3, "lb2", true, ""),
			drainAt(4, "lb3", true, "again"), drainAt(5, "lb2", false, ""), drainAt(6, "lb9", false, "never drained"),
		}, []string{"lb1", "lb3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notified := 0
			f := NewFSM(0, func() { notified++ })
			applyAll(t, f, tt.entries...)
			last, ok := f.Last()
			switch {
			case tt.last == nil && ok:
				t.Errorf("Last() = %+v, true; want none", last)
			case tt.last != nil && (!ok || last != *tt.last):
				t.Errorf("Last() = %+v, %v; want %+v", last, ok, *tt.last)
			}
			if got := f.History(); !reflect.DeepEqual(got, tt.history) {
				t.Errorf("History() = %+v\nwant %+v", got, tt.history)
			}
			if got := f.DrainedNodes(); !reflect.DeepEqual(got, tt.drained) {
				t.Errorf("DrainedNodes() = %#v, want %#v", got, tt.drained)
			}
			for _, n := range []string{"lb1", "lb2", "lb3", "lb9"} {
				if got, want := f.Drained(n), slices.Contains(tt.drained, n); got != want {
					t.Errorf("Drained(%q) = %v, want %v", n, got, want)
				}
			}
			if notified != len(tt.entries) {
				t.Errorf("notify called %d times, want %d", notified, len(tt.entries))
			}
		})
	}
}

func TestFSMPinned(t *testing.T) {
	claim := func(node string, term uint64) []byte { return EncodeClaim(node, term, t0) }
	release := func(node string, term uint64, handoff string, pin bool) []byte {
		return EncodeRelease(node, term, handoff, "test", pin, t0)
	}
	drain := func(node string, drained bool) []byte { return EncodeDrain(node, drained, "operator", t0) }
	tests := []struct {
		name    string
		entries [][]byte
		want    string
	}{
		{"empty", nil, ""},
		{"claims only", [][]byte{claim("lb1", 2), claim("lb2", 3)}, ""},
		{"pinned release, target not yet claimed", [][]byte{claim("lb1", 2), release("lb1", 2, "lb3", true)}, "lb3"},
		{"pin then claim by the target", [][]byte{claim("lb1", 2), release("lb1", 2, "lb3", true), claim("lb3", 3)}, "lb3"},
		{"target claims again in later terms", [][]byte{
			claim("lb1", 2), release("lb1", 2, "lb3", true), claim("lb3", 3), claim("lb3", 5), claim("lb3", 6),
		}, "lb3"},
		{"later claim by another node ends the pin", [][]byte{
			claim("lb1", 2), release("lb1", 2, "lb3", true), claim("lb3", 3), claim("lb1", 4),
		}, ""},
		{"another node claims instead of the target", [][]byte{
			claim("lb1", 2), release("lb1", 2, "lb3", true), claim("lb2", 3),
		}, ""},
		{"another node's claim ends it for good", [][]byte{
			claim("lb1", 2), release("lb1", 2, "lb3", true), claim("lb3", 3), claim("lb2", 4), claim("lb3", 5),
		}, ""},
		{"later release without pin ends the pin", [][]byte{
			claim("lb1", 2), release("lb1", 2, "lb3", true), claim("lb3", 3), release("lb3", 3, "lb1", false),
		}, ""},
		{"later release without pin, claimed by the old target", [][]byte{
			claim("lb1", 2), release("lb1", 2, "lb3", true), claim("lb3", 3), release("lb3", 3, "", false), claim("lb3", 4),
		}, ""},
		{"health release back to the same target is not a pin", [][]byte{
			claim("lb1", 2), release("lb1", 2, "lb3", true), claim("lb3", 3), release("lb3", 3, "lb3", false),
		}, ""},
		{"a second pin replaces the first", [][]byte{
			claim("lb1", 2), release("lb1", 2, "lb3", true), claim("lb3", 3), release("lb3", 3, "lb2", true), claim("lb2", 4),
		}, "lb2"},
		{"pin without a target pins nothing", [][]byte{claim("lb1", 2), release("lb1", 2, "", true), claim("lb2", 3)}, ""},
		{"drains in between do not matter", [][]byte{
			claim("lb1", 2), drain("lb2", true), release("lb1", 2, "lb3", true), drain("lb1", true),
			claim("lb3", 3), drain("lb1", false), drain("lb3", true),
		}, "lb3"},
		{"drains do not revive an ended pin", [][]byte{
			claim("lb1", 2), release("lb1", 2, "lb3", true), claim("lb3", 3), release("lb3", 3, "lb1", false),
			drain("lb3", true), claim("lb1", 4), drain("lb3", false),
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFSM(0, nil)
			applyAll(t, f, tt.entries...)
			if got := f.Pinned(); got != tt.want {
				t.Errorf("Pinned() = %q, want %q", got, tt.want)
			}
			// The pin survives a snapshot and restore.
			dst := NewFSM(0, nil)
			if err := dst.Restore(io.NopCloser(bytes.NewReader(persist(t, f)))); err != nil {
				t.Fatal(err)
			}
			if got := dst.Pinned(); got != tt.want {
				t.Errorf("after restore: Pinned() = %q, want %q", got, tt.want)
			}
		})
	}
}

// A pin whose release the bounded history has dropped is forgotten.
func TestFSMPinnedAgesOut(t *testing.T) {
	f := NewFSM(3, nil)
	applyAll(t, f, EncodeClaim("lb1", 2, t0), EncodeRelease("lb1", 2, "lb3", "transfer", true, t0), EncodeClaim("lb3", 3, t0))
	if got := f.Pinned(); got != "lb3" {
		t.Fatalf("Pinned() = %q, want lb3", got)
	}
	f.Apply(&raft.Log{Index: 4, Data: EncodeClaim("lb3", 4, t0)})
	if got := f.Pinned(); got != "lb3" {
		t.Fatalf("Pinned() = %q with the release still in history, want lb3", got)
	}
	f.Apply(&raft.Log{Index: 5, Data: EncodeClaim("lb3", 5, t0)})
	if got := f.Pinned(); got != "" {
		t.Errorf("Pinned() = %q after the release left the history, want \"\"", got)
	}
}

// Drains are not ownership records: the election reads Last and the Applied of its own
// claim, so a drain between a release and a claim must not hide the release.
func TestFSMDrainDoesNotChangeLast(t *testing.T) {
	f := NewFSM(0, nil)
	applyAll(t, f,
		EncodeClaim("lb1", 2, t0),
		EncodeRelease("lb1", 2, "lb2", "drain", false, t0.Add(time.Second)),
	)
	release, _ := f.Last()

	for i, e := range [][]byte{EncodeDrain("lb1", true, "operator", t0), EncodeDrain("lb2", false, "", t0)} {
		got, ok := f.Apply(&raft.Log{Index: uint64(3 + i), Data: e}).(Applied)
		if !ok || !got.HadPrevious || got.Previous != release {
			t.Errorf("drain entry %d: Apply = %#v, want the release at index 2 as previous", 3+i, got)
		}
		if last, ok := f.Last(); !ok || last != release {
			t.Errorf("after drain entry %d Last() = %+v, %v; want the release %+v", 3+i, last, ok, release)
		}
	}
	got, ok := f.Apply(&raft.Log{Index: 5, Data: EncodeClaim("lb2", 3, t0)}).(Applied)
	if !ok || !got.HadPrevious || got.Previous != release {
		t.Errorf("claim after drains: Apply = %#v, want the release at index 2 as previous", got)
	}
	if last, _ := f.Last(); last.Kind != KindClaim || last.Index != 5 {
		t.Errorf("Last() = %+v, want the claim at index 5", last)
	}

	// Before any claim or release, a drain has no previous record either.
	empty := NewFSM(0, nil)
	if got, ok := empty.Apply(&raft.Log{Index: 1, Data: EncodeDrain("lb1", true, "", t0)}).(Applied); !ok || got.HadPrevious {
		t.Errorf("drain on an empty FSM: Apply = %#v, want Applied without a previous record", got)
	}
	if last, ok := empty.Last(); ok {
		t.Errorf("Last() = %+v, true after a drain only; want none", last)
	}
}

func TestFSMDrainUndrainRoundTrip(t *testing.T) {
	f := NewFSM(0, nil)
	steps := []struct {
		entry   []byte
		drained []string
	}{
		{EncodeDrain("lb1", true, "operator", t0), []string{"lb1"}},
		{EncodeDrain("lb1", true, "operator", t0), []string{"lb1"}}, // idempotent
		{EncodeDrain("lb2", true, "", t0), []string{"lb1", "lb2"}},
		{EncodeDrain("lb1", false, "", t0), []string{"lb2"}},
		{EncodeDrain("lb1", false, "", t0), []string{"lb2"}}, // idempotent
		{EncodeDrain("lb2", false, "", t0), []string{}},
	}
	for i, st := range steps {
		if resp, ok := f.Apply(&raft.Log{Index: uint64(i + 1), Data: st.entry}).(Applied); !ok {
			t.Fatalf("step %d: Apply = %v, want Applied", i, resp)
		}
		if got := f.DrainedNodes(); !reflect.DeepEqual(got, st.drained) {
			t.Errorf("step %d: DrainedNodes() = %#v, want %#v", i, got, st.drained)
		}
		if got, want := f.Drained("lb1"), slices.Contains(st.drained, "lb1"); got != want {
			t.Errorf("step %d: Drained(lb1) = %v, want %v", i, got, want)
		}
	}
	if n := len(f.History()); n != len(steps) {
		t.Errorf("len(History()) = %d, want %d: every drain entry is recorded", n, len(steps))
	}
}

func TestFSMDrainedNodesIsACopy(t *testing.T) {
	f := NewFSM(0, nil)
	applyAll(t, f, EncodeDrain("lb1", true, "", t0))
	f.DrainedNodes()[0] = "changed"
	if got := f.DrainedNodes(); !reflect.DeepEqual(got, []string{"lb1"}) {
		t.Errorf("DrainedNodes() = %#v after the caller changed a returned slice", got)
	}
}

func TestFSMHistoryBounded(t *testing.T) {
	for _, limit := range []int{1, 3, 64} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			f := NewFSM(limit, nil)
			n := 2*limit + 1
			for i := 1; i <= n; i++ {
				if resp, ok := f.Apply(&raft.Log{Index: uint64(i), Data: EncodeClaim("lb1", uint64(i), t0)}).(Applied); !ok {
					t.Fatal(resp)
				}
				h := f.History()
				if want := min(i, limit); len(h) != want {
					t.Fatalf("after %d entries len(History()) = %d, want %d", i, len(h), want)
				}
				for j, r := range h { // oldest first, the newest is the one just applied
					if want := uint64(i - len(h) + 1 + j); r.Index != want {
						t.Fatalf("after %d entries History()[%d].Index = %d, want %d", i, j, r.Index, want)
					}
				}
			}
		})
	}
}

func TestFSMDefaultHistoryLimit(t *testing.T) {
	f := NewFSM(-1, nil)
	for i := 1; i <= DefaultHistoryLimit+10; i++ {
		f.Apply(&raft.Log{Index: uint64(i), Data: EncodeClaim("lb1", 1, t0)})
	}
	if got := len(f.History()); got != DefaultHistoryLimit {
		t.Errorf("len(History()) = %d, want %d", got, DefaultHistoryLimit)
	}
}

func TestFSMRejectsWithoutChange(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"unknown type", []byte("\x07" + `{"kind":"drain","node":"lb1"}`), ErrUnknownEntry},
		{"empty", nil, ErrBadEntry},
		{"bad json", []byte("\x01{"), ErrBadEntry},
		{"no node", []byte("\x02" + `{"kind":"release","term":4}`), ErrBadEntry},
		{"drain without flag", []byte("\x03" + `{"kind":"drain","node":"lb1"}`), ErrBadEntry},
		{"undrain with term", []byte("\x03" + `{"kind":"drain","node":"lb2","drained":false,"term":2}`), ErrBadEntry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notified := 0
			f := NewFSM(4, func() { notified++ })
			applyAll(t, f, EncodeClaim("lb1", 2, t0), EncodeDrain("lb2", true, "", t0))
			lastBefore, _ := f.Last()
			histBefore := f.History()

			resp := f.Apply(&raft.Log{Index: 3, Data: tt.data})
			err, ok := resp.(error)
			if !ok || !errors.Is(err, tt.want) {
				t.Fatalf("Apply = %#v, want an error wrapping %v", resp, tt.want)
			}
			if !strings.Contains(err.Error(), "entry 3") {
				t.Errorf("error %q does not name the log index", err)
			}
			if last, _ := f.Last(); last != lastBefore {
				t.Errorf("Last() changed to %+v", last)
			}
			if h := f.History(); !reflect.DeepEqual(h, histBefore) {
				t.Errorf("History() changed to %+v", h)
			}
			if d := f.DrainedNodes(); !reflect.DeepEqual(d, []string{"lb2"}) {
				t.Errorf("DrainedNodes() changed to %#v", d)
			}
			// An entry of an unknown type also tells the node: it must stop holding.
			if want := 2 + map[bool]int{true: 1}[errors.Is(err, ErrUnknownEntry)]; notified != want {
				t.Errorf("notify called %d times, want %d", notified, want)
			}
		})
	}
}

// fakeSink is a raft.SnapshotSink writing into memory.
type fakeSink struct {
	bytes.Buffer
	closed, cancelled bool
}

func (s *fakeSink) ID() string    { return "fake" }
func (s *fakeSink) Close() error  { s.closed = true; return nil }
func (s *fakeSink) Cancel() error { s.cancelled = true; return nil }

func persist(t *testing.T, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var sink fakeSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if !sink.closed || sink.cancelled {
		t.Fatalf("sink closed=%v cancelled=%v, want closed only", sink.closed, sink.cancelled)
	}
	return sink.Bytes()
}

func TestFSMSnapshotRestore(t *testing.T) {
	tests := []struct {
		name    string
		entries [][]byte
	}{
		{"empty", nil},
		{"claim", [][]byte{EncodeClaim("lb1", 2, t0)}},
		{"history wrapped", [][]byte{
			EncodeClaim("lb1", 2, t0),
			EncodeRelease("lb1", 2, "lb2", "transfer", false, t0.Add(time.Second)),
			EncodeClaim("lb2", 3, t0.Add(2*time.Second)),
			EncodeRelease("lb2", 3, "", "fault: haproxy down", false, t0.Add(3*time.Second)),
			EncodeClaim("lb3", 4, t0.Add(4*time.Second)),
		}},
		{"drained", [][]byte{
			EncodeClaim("lb1", 2, t0),
			EncodeDrain("lb2", true, "operator", t0),
			EncodeDrain("lb1", true, "", t0),
		}},
		{"pinned", [][]byte{
			EncodeClaim("lb1", 2, t0),
			EncodeRelease("lb1", 2, "lb3", "operator transfer", true, t0.Add(time.Second)),
			EncodeClaim("lb3", 3, t0.Add(2*time.Second)),
		}},
		{"drained, history wrapped past the drain entries", [][]byte{
			EncodeDrain("lb3", true, "operator", t0),
			EncodeDrain("lb1", true, "", t0),
			EncodeDrain("lb2", true, "", t0),
			EncodeDrain("lb1", false, "", t0),
			EncodeClaim("lb2", 2, t0),
			EncodeRelease("lb2", 2, "", "drain", false, t0),
			EncodeClaim("lb1", 3, t0),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := NewFSM(3, nil)
			applyAll(t, src, tt.entries...)
			data := persist(t, src)

			// The target has state of its own, which Restore must replace.
			notified := 0
			dst := NewFSM(3, func() { notified++ })
			applyAll(t, dst, EncodeClaim("other", 9, t0), EncodeDrain("other", true, "", t0))
			if err := dst.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
				t.Fatalf("Restore(%s): %v", data, err)
			}
			wantLast, wantOK := src.Last()
			if last, ok := dst.Last(); last != wantLast || ok != wantOK {
				t.Errorf("Last() = %+v, %v; want %+v, %v", last, ok, wantLast, wantOK)
			}
			if got, want := dst.History(), src.History(); !reflect.DeepEqual(got, want) {
				t.Errorf("History() = %+v\nwant %+v", got, want)
			}
			if got, want := dst.DrainedNodes(), src.DrainedNodes(); !reflect.DeepEqual(got, want) {
				t.Errorf("DrainedNodes() = %#v, want %#v", got, want)
			}
			if dst.Drained("other") {
				t.Errorf("Drained(other) = true: Restore kept the target's own drained set")
			}
			if got, want := dst.Pinned(), src.Pinned(); got != want {
				t.Errorf("Pinned() = %q, want %q", got, want)
			}
			if notified != 3 {
				t.Errorf("notify called %d times, want 3 (2 applies, 1 restore)", notified)
			}
			if again := persist(t, dst); !bytes.Equal(again, data) {
				t.Errorf("snapshot after restore differs:\n%s\nwant\n%s", again, data)
			}
		})
	}
}

func TestFSMSnapshotIsACopy(t *testing.T) {
	f := NewFSM(2, nil)
	applyAll(t, f, EncodeClaim("lb1", 2, t0), EncodeClaim("lb2", 3, t0))
	before := persist(t, f)
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	f.Apply(&raft.Log{Index: 3, Data: EncodeClaim("lb3", 4, t0)}) // overwrites a ring slot
	var sink fakeSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sink.Bytes(), before) {
		t.Errorf("snapshot changed by a later Apply:\n%s\nwant\n%s", sink.Bytes(), before)
	}
}

func TestFSMRestoreTrimsToLimit(t *testing.T) {
	src := NewFSM(10, nil)
	for i := 1; i <= 5; i++ {
		src.Apply(&raft.Log{Index: uint64(i), Data: EncodeClaim("lb1", uint64(i), t0)})
	}
	dst := NewFSM(2, nil)
	if err := dst.Restore(io.NopCloser(bytes.NewReader(persist(t, src)))); err != nil {
		t.Fatal(err)
	}
	h := dst.History()
	if len(h) != 2 || h[0].Index != 4 || h[1].Index != 5 {
		t.Errorf("History() = %+v, want the newest 2 (indexes 4, 5)", h)
	}
}

func TestFSMRestoreErrors(t *testing.T) {
	tests := []struct {
		name, data, mention string
	}{
		{"version 3", `{"version":3,"last":null,"history":[],"drained":[]}`, "version 3"},
		{"version 1 with drained", `{"version":1,"last":null,"history":[],"drained":["lb1"]}`, "version 1 with a drained list"},
		{"version 2 without drained", `{"version":2,"last":null,"history":[]}`, "version 2 without its drained nodes"},
		{"version 2 with null drained", `{"version":2,"last":null,"history":[],"drained":null}`, "version 2 without its drained nodes"},
		{"empty drained name", `{"version":2,"last":null,"history":[],"drained":["lb1",""]}`, "empty name"},
		{"drained not strings", `{"version":2,"last":null,"history":[],"drained":[1]}`, "restore snapshot"},
		{"last is a drain", `{"version":2,"last":{"kind":"drain","node":"lb1","term":0,"drained":true,"at":"0001-01-01T00:00:00Z"},"history":[],"drained":["lb1"]}`, "not a claim or release"},
		{"no version", `{"history":[]}`, "version 0"},
		{"not json", `garbage`, "restore snapshot"},
		{"empty", ``, "restore snapshot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notified := 0
			f := NewFSM(0, func() { notified++ })
			applyAll(t, f, EncodeClaim("lb1", 2, t0), EncodeDrain("lb2", true, "", t0))
			before := persist(t, f)
			err := f.Restore(io.NopCloser(strings.NewReader(tt.data)))
			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("Restore(%q) = %v, want an error mentioning %q", tt.data, err, tt.mention)
			}
			if after := persist(t, f); !bytes.Equal(after, before) {
				t.Errorf("state changed by a failed Restore:\n%s\nwant\n%s", after, before)
			}
			if notified != 2 {
				t.Errorf("notify called %d times, want 2", notified)
			}
		})
	}
}

func TestFSMSnapshotFormat(t *testing.T) {
	f := NewFSM(0, nil)
	applyAll(t, f, EncodeClaim("lb1", 2, t0), EncodeDrain("lb2", true, "operator", t0))
	want := `{"version":3,"last":{"kind":"claim","node":"lb1","term":2,"at":"2025-03-04T05:06:07.123456789Z","index":1},` +
		`"history":[{"kind":"claim","node":"lb1","term":2,"at":"2025-03-04T05:06:07.123456789Z","index":1},` +
		`{"kind":"drain","node":"lb2","term":0,"reason":"operator","drained":true,"at":"2025-03-04T05:06:07.123456789Z","index":2}],` +
		`"drained":["lb2"],` +
		// The old claim is read as an assignment of the group vip (DESIGN §9.6).
		`"groups":{"vip":{"current":{"index":1,"node":"lb1","incarnation":"leader-holds","lease":1000000000,"lifetime":2000000000,"strict":true},` +
		`"wait":0,"previous":{"index":0},"owed":0}}}` + "\n"
	if got := string(persist(t, f)); got != want {
		t.Errorf("snapshot = %s\nwant       %s", got, want)
	}
	if got, want := string(persist(t, NewFSM(0, nil))), `{"version":3,"last":null,"history":[],"drained":[],"groups":{}}`+"\n"; got != want {
		t.Errorf("empty snapshot = %s\nwant             %s", got, want)
	}
}

// A pinned release keeps its "pin" in the snapshot's records.
func TestFSMSnapshotFormatPin(t *testing.T) {
	f := NewFSM(0, nil)
	applyAll(t, f, EncodeRelease("lb1", 2, "lb3", "operator transfer", true, t0))
	rec := `{"kind":"release","node":"lb1","term":2,"handoff":"lb3","reason":"operator transfer","pin":true,` +
		`"at":"2025-03-04T05:06:07.123456789Z","index":1}`
	want := `{"version":3,"last":` + rec + `,"history":[` + rec + `],"drained":[],"groups":{}}` + "\n"
	if got := string(persist(t, f)); got != want {
		t.Errorf("snapshot = %s\nwant       %s", got, want)
	}
}

// A snapshot written before drain entries existed (format version 1, as raftvip
// wrote it) restores with no node drained, and is written back as version 3.
func TestFSMRestoresVersion1(t *testing.T) {
	v1 := `{"version":1,"last":{"kind":"release","node":"lb1","term":2,"handoff":"lb2","reason":"transfer","at":"2025-03-04T05:06:08.123456789Z","index":2},` +
		`"history":[{"kind":"claim","node":"lb1","term":2,"at":"2025-03-04T05:06:07.123456789Z","index":1},` +
		`{"kind":"release","node":"lb1","term":2,"handoff":"lb2","reason":"transfer","at":"2025-03-04T05:06:08.123456789Z","index":2}]}` + "\n"
	notified := 0
	f := NewFSM(0, func() { notified++ })
	applyAll(t, f, EncodeDrain("lb3", true, "", t0)) // replaced by the restore
	if err := f.Restore(io.NopCloser(strings.NewReader(v1))); err != nil {
		t.Fatalf("Restore(version 1): %v", err)
	}
	wantLast := Record{Kind: KindRelease, Node: "lb1", Term: 2, Handoff: "lb2", Reason: "transfer", At: t0.Add(time.Second), Index: 2}
	if last, ok := f.Last(); !ok || !sameRecord(last, wantLast) {
		t.Errorf("Last() = %+v, %v; want %+v", last, ok, wantLast)
	}
	if h := f.History(); len(h) != 2 || h[0].Kind != KindClaim || h[1].Kind != KindRelease {
		t.Errorf("History() = %+v, want the claim and the release", h)
	}
	if d := f.DrainedNodes(); len(d) != 0 || f.Drained("lb3") {
		t.Errorf("DrainedNodes() = %#v, want none", d)
	}
	if notified != 2 {
		t.Errorf("notify called %d times, want 2 (1 apply, 1 restore)", notified)
	}
	want := strings.Replace(v1, `"version":1`, `"version":3`, 1)
	want = strings.TrimSuffix(want, "}\n") + `,"drained":[],"groups":{}}` + "\n"
	if got := string(persist(t, f)); got != want {
		t.Errorf("snapshot after restoring version 1 = %s\nwant %s", got, want)
	}
}

// TestFSMConcurrentReaders is for the race detector: readers while Raft applies.
func TestFSMConcurrentReaders(t *testing.T) {
	f := NewFSM(8, nil)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					f.Last()
					f.History()
					f.Drained("lb2")
					f.DrainedNodes()
					f.Pinned()
				}
			}
		}()
	}
	for i := 1; i <= 200; i++ {
		data := EncodeClaim("lb1", 1, t0)
		if i%3 == 0 {
			data = EncodeDrain("lb2", i%2 == 0, "", t0)
		}
		f.Apply(&raft.Log{Index: uint64(i), Data: data})
		if i%50 == 0 {
			persist(t, f)
		}
	}
	close(stop)
	wg.Wait()
}

// A claim's Apply result names the record it follows, so a new leader learns from its
// own claim whether the previous holder released the VIP.
func TestApplyReturnsPreviousRecord(t *testing.T) {
	f := NewFSM(0, nil)
	first := f.Apply(&raft.Log{Index: 1, Data: EncodeClaim("lb1", 2, t0)})
	if got, ok := first.(Applied); !ok || got.HadPrevious {
		t.Fatalf("first Apply = %#v, want Applied without a previous record", first)
	}
	f.Apply(&raft.Log{Index: 2, Data: EncodeRelease("lb1", 2, "lb2", "shutdown", false, t0)})
	got, ok := f.Apply(&raft.Log{Index: 3, Data: EncodeClaim("lb2", 3, t0)}).(Applied)
	if !ok || !got.HadPrevious || got.Previous.Kind != KindRelease || got.Previous.Node != "lb1" || got.Previous.Index != 2 {
		t.Errorf("claim after a release: Apply = %#v, want the release at index 2 as previous", got)
	}
}

func TestFSMGroups(t *testing.T) {
	f := NewFSM(0, nil)
	a := Assignment{Node: "lb1", Incarnation: "i1", Lease: 120 * time.Millisecond, Delta: 80 * time.Millisecond, Lifetime: 2 * time.Second}
	b := Assignment{Node: "lb2", Incarnation: "i2", Lease: 500 * time.Millisecond, Delta: 200 * time.Millisecond, Lifetime: 2 * time.Second}
	applyAll(t, f, EncodeAssign("web", a, "", t0), EncodeAssign("web", b, "", t0))
	if s := f.Group("web"); s.Current.Index != 2 || s.Current.Node != "lb2" || s.Wait != 200*time.Millisecond {
		t.Fatalf("web after two assignments: %+v", s)
	}
	// A release of an assignment two back, or by another incarnation, is refused.
	resp := f.Apply(&raft.Log{Index: 3, Data: EncodeLetGo("web", Release{Node: "lb1", Incarnation: "other", AssignIndex: 1, Held: true}, "", t0)})
	if err, ok := resp.(error); !ok || !errors.Is(err, ErrRejected) {
		t.Fatalf("a release by another incarnation: %v", resp)
	}
	// lb1's held release of the replaced assignment frees lb2 of its wait.
	applyAll(t, f, EncodeLetGo("web", Release{Node: "lb1", Incarnation: "i1", AssignIndex: 1, Held: true}, "transfer", t0))
	if s := f.Group("web"); s.Wait != 0 || !s.PreviousEnded {
		t.Fatalf("web after lb1's held release: %+v", s)
	}
	// Snapshots carry the assignments.
	g := NewFSM(0, nil)
	if err := g.Restore(io.NopCloser(bytes.NewReader(persist(t, f)))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Ownership(), f.Ownership()) {
		t.Errorf("restored ownership %+v, want %+v", g.Ownership(), f.Ownership())
	}
}

// A version 2 snapshot, written before groups, restores its last claim as the
// assignment of the group vip.
func TestFSMRestoresVersion2AsGroupVIP(t *testing.T) {
	v2 := `{"version":2,"last":{"kind":"claim","node":"lb1","term":2,"at":"2025-03-04T05:06:07.123456789Z","index":1},` +
		`"history":[],"drained":[]}`
	f := NewFSM(0, nil)
	if err := f.Restore(io.NopCloser(strings.NewReader(v2))); err != nil {
		t.Fatal(err)
	}
	s := f.Group(LegacyGroup)
	if !s.Active() || s.Current.Node != "lb1" || s.Current.Incarnation != LegacyIncarnation {
		t.Errorf("group vip after a version 2 snapshot: %+v", s)
	}
	// The first new assignment waits out more than any old lease could run.
	if resp := f.Apply(&raft.Log{Index: 2, Data: EncodeAssign("vip", Assignment{Node: "lb2", Incarnation: "i", Lease: time.Second, Lifetime: 2 * time.Second}, "", t0)}); resp == nil {
		t.Fatal("no response")
	} else if err, ok := resp.(error); ok {
		t.Fatal(err)
	}
	if w := f.Group("vip").Wait; w < 2*time.Second {
		t.Errorf("the first assignment after the upgrade waits %v", w)
	}
}
