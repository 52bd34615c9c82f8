package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
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
	tests := []struct {
		name    string
		entries [][]byte
		last    *Record
		history []Record
	}{
		{"empty", nil, nil, []Record{}},
		{"one claim", [][]byte{EncodeClaim("lb1", 2, t0)}, &claim1, []Record{claim1}},
		{"planned move", [][]byte{
			EncodeClaim("lb1", 2, t0),
			EncodeRelease("lb1", 2, "lb2", "transfer", t0.Add(time.Second)),
			EncodeClaim("lb2", 3, t0.Add(2*time.Second)),
		}, &claim2, []Record{claim1, release1, claim2}},
		{"ends on release", [][]byte{
			EncodeClaim("lb1", 2, t0),
			EncodeRelease("lb1", 2, "lb2", "transfer", t0.Add(time.Second)),
		}, &release1, []Record{claim1, release1}},
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
			if notified != len(tt.entries) {
				t.Errorf("notify called %d times, want %d", notified, len(tt.entries))
			}
		})
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notified := 0
			f := NewFSM(4, func() { notified++ })
			applyAll(t, f, EncodeClaim("lb1", 2, t0))
			lastBefore, _ := f.Last()
			histBefore := f.History()

			resp := f.Apply(&raft.Log{Index: 2, Data: tt.data})
			err, ok := resp.(error)
			if !ok || !errors.Is(err, tt.want) {
				t.Fatalf("Apply = %#v, want an error wrapping %v", resp, tt.want)
			}
			if !strings.Contains(err.Error(), "entry 2") {
				t.Errorf("error %q does not name the log index", err)
			}
			if last, _ := f.Last(); last != lastBefore {
				t.Errorf("Last() changed to %+v", last)
			}
			if h := f.History(); !reflect.DeepEqual(h, histBefore) {
				t.Errorf("History() changed to %+v", h)
			}
			if notified != 1 {
				t.Errorf("notify called %d times, want 1 (for the good entry only)", notified)
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
			EncodeRelease("lb1", 2, "lb2", "transfer", t0.Add(time.Second)),
			EncodeClaim("lb2", 3, t0.Add(2*time.Second)),
			EncodeRelease("lb2", 3, "", "fault: haproxy down", t0.Add(3*time.Second)),
			EncodeClaim("lb3", 4, t0.Add(4*time.Second)),
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
			applyAll(t, dst, EncodeClaim("other", 9, t0), EncodeClaim("other", 10, t0))
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
		{"version 2", `{"version":2,"last":null,"history":[]}`, "version 2"},
		{"no version", `{"history":[]}`, "version 0"},
		{"not json", `garbage`, "restore snapshot"},
		{"empty", ``, "restore snapshot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notified := 0
			f := NewFSM(0, func() { notified++ })
			applyAll(t, f, EncodeClaim("lb1", 2, t0))
			before := persist(t, f)
			err := f.Restore(io.NopCloser(strings.NewReader(tt.data)))
			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("Restore(%q) = %v, want an error mentioning %q", tt.data, err, tt.mention)
			}
			if after := persist(t, f); !bytes.Equal(after, before) {
				t.Errorf("state changed by a failed Restore:\n%s\nwant\n%s", after, before)
			}
			if notified != 1 {
				t.Errorf("notify called %d times, want 1", notified)
			}
		})
	}
}

func TestFSMSnapshotFormat(t *testing.T) {
	f := NewFSM(0, nil)
	applyAll(t, f, EncodeClaim("lb1", 2, t0))
	want := `{"version":1,"last":{"kind":"claim","node":"lb1","term":2,"at":"2025-03-04T05:06:07.123456789Z","index":1},` +
		`"history":[{"kind":"claim","node":"lb1","term":2,"at":"2025-03-04T05:06:07.123456789Z","index":1}]}` + "\n"
	if got := string(persist(t, f)); got != want {
		t.Errorf("snapshot = %s\nwant       %s", got, want)
	}
	if got, want := string(persist(t, NewFSM(0, nil))), `{"version":1,"last":null,"history":[]}`+"\n"; got != want {
		t.Errorf("empty snapshot = %s\nwant             %s", got, want)
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
				}
			}
		}()
	}
	for i := 1; i <= 200; i++ {
		f.Apply(&raft.Log{Index: uint64(i), Data: EncodeClaim("lb1", 1, t0)})
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
	f.Apply(&raft.Log{Index: 2, Data: EncodeRelease("lb1", 2, "lb2", "shutdown", t0)})
	got, ok := f.Apply(&raft.Log{Index: 3, Data: EncodeClaim("lb2", 3, t0)}).(Applied)
	if !ok || !got.HadPrevious || got.Previous.Kind != KindRelease || got.Previous.Node != "lb1" || got.Previous.Index != 2 {
		t.Errorf("claim after a release: Apply = %#v, want the release at index 2 as previous", got)
	}
}
