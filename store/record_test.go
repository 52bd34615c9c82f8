package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)

func TestRecordRoundTrip(t *testing.T) {
	plus2 := time.FixedZone("", 2*3600)
	now := time.Now() // carries a monotonic reading, which JSON drops
	tests := []struct {
		name string
		b    []byte
		want Record
	}{
		{"claim", EncodeClaim("lb1", 3, t0),
			Record{Kind: KindClaim, Node: "lb1", Term: 3, At: t0}},
		{"claim stored in UTC", EncodeClaim("lb1", 3, t0.In(plus2)),
			Record{Kind: KindClaim, Node: "lb1", Term: 3, At: t0}},
		{"claim stamped with time.Now", EncodeClaim("lb2", 1, now),
			Record{Kind: KindClaim, Node: "lb2", Term: 1, At: now}},
		{"release with handoff", EncodeRelease("lb1", 7, "lb2", "transfer", false, t0),
			Record{Kind: KindRelease, Node: "lb1", Term: 7, Handoff: "lb2", Reason: "transfer", At: t0}},
		{"release to nobody", EncodeRelease("lb3", 9, "", "lease lost", false, t0),
			Record{Kind: KindRelease, Node: "lb3", Term: 9, Reason: "lease lost", At: t0}},
		{"pinned release", EncodeRelease("lb1", 7, "lb3", "operator transfer", true, t0),
			Record{Kind: KindRelease, Node: "lb1", Term: 7, Handoff: "lb3", Reason: "operator transfer", Pin: true, At: t0}},
		{"pin without handoff kept as written", EncodeRelease("lb1", 7, "", "", true, t0),
			Record{Kind: KindRelease, Node: "lb1", Term: 7, Pin: true, At: t0}},
		{"zero time", EncodeClaim("lb1", 1, time.Time{}),
			Record{Kind: KindClaim, Node: "lb1", Term: 1}},
		{"unrepresentable time stored as zero", EncodeClaim("lb1", 1, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)),
			Record{Kind: KindClaim, Node: "lb1", Term: 1}},
		{"unicode node", EncodeRelease("lb-ä", 1, "lb-ö", "\"quoted\"\n", false, t0),
			Record{Kind: KindRelease, Node: "lb-ä", Term: 1, Handoff: "lb-ö", Reason: "\"quoted\"\n", At: t0}},
		{"drain", EncodeDrain("lb1", true, "operator", t0),
			Record{Kind: KindDrain, Node: "lb1", Drained: true, Reason: "operator", At: t0}},
		{"drain without reason", EncodeDrain("lb2", true, "", t0.In(plus2)),
			Record{Kind: KindDrain, Node: "lb2", Drained: true, At: t0}},
		{"undrain", EncodeDrain("lb1", false, "maintenance done", t0),
			Record{Kind: KindDrain, Node: "lb1", Reason: "maintenance done", At: t0}},
		{"undrain stamped with time.Now", EncodeDrain("lb3", false, "", now),
			Record{Kind: KindDrain, Node: "lb3", At: now}},
		{"drain with unrepresentable time", EncodeDrain("lb1", true, "", time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)),
			Record{Kind: KindDrain, Node: "lb1", Drained: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.b)
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.b, err)
			}
			if !sameRecord(got, tt.want) {
				t.Errorf("Decode(%q) = %+v, want %+v", tt.b, got, tt.want)
			}
			if got.At.Location() != time.UTC {
				t.Errorf("At location = %v, want UTC", got.At.Location())
			}
		})
	}
}

func TestEncodeLayout(t *testing.T) {
	b := EncodeRelease("lb1", 3, "lb2", "transfer", false, t0)
	want := "\x02" + `{"kind":"release","node":"lb1","term":3,"handoff":"lb2","reason":"transfer","at":"2025-03-04T05:06:07.123456789Z"}`
	if string(b) != want {
		t.Errorf("EncodeRelease = %q, want %q", b, want)
	}
	b = EncodeRelease("lb1", 3, "lb3", "operator transfer", true, t0)
	want = "\x02" + `{"kind":"release","node":"lb1","term":3,"handoff":"lb3","reason":"operator transfer","pin":true,"at":"2025-03-04T05:06:07.123456789Z"}`
	if string(b) != want {
		t.Errorf("EncodeRelease(pin) = %q, want %q", b, want)
	}
	b = EncodeClaim("lb1", 3, t0)
	want = "\x01" + `{"kind":"claim","node":"lb1","term":3,"at":"2025-03-04T05:06:07.123456789Z"}`
	if string(b) != want {
		t.Errorf("EncodeClaim = %q, want %q", b, want)
	}
	b = EncodeDrain("lb1", true, "operator", t0)
	want = "\x03" + `{"kind":"drain","node":"lb1","drained":true,"reason":"operator","at":"2025-03-04T05:06:07.123456789Z"}`
	if string(b) != want {
		t.Errorf("EncodeDrain(drain) = %q, want %q", b, want)
	}
	b = EncodeDrain("lb1", false, "", t0)
	want = "\x03" + `{"kind":"drain","node":"lb1","drained":false,"at":"2025-03-04T05:06:07.123456789Z"}`
	if string(b) != want {
		t.Errorf("EncodeDrain(undrain) = %q, want %q", b, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	at := `"at":"2025-03-04T05:06:07Z"`
	tests := []struct {
		name    string
		b       string
		want    error
		mention string
	}{
		{"nil", "", ErrBadEntry, "empty"},
		{"type 0", "\x00{}", ErrUnknownEntry, "type 0"},
		{"type 6", "\x06" + `{"kind":"weight","node":"lb1"}`, ErrUnknownEntry, "newer raftvip"},
		{"assign of the wrong kind", "\x04" + `{"kind":"weight","node":"lb1"}`, ErrBadEntry, "does not match type byte 4"},
		{"type 255", "\xff", ErrUnknownEntry, "type 255"},
		{"type byte only", "\x01", ErrBadEntry, "claim"},
		{"bad json", "\x01{", ErrBadEntry, "claim"},
		{"trailing data", "\x01" + `{"kind":"claim","node":"lb1",` + at + `}x`, ErrBadEntry, "claim"},
		{"json null", "\x01null", ErrBadEntry, "kind"},
		{"json array", "\x01[]", ErrBadEntry, "claim"},
		{"wrong field type", "\x01" + `{"kind":"claim","node":"lb1","term":"3"}`, ErrBadEntry, "term"},
		{"negative term", "\x01" + `{"kind":"claim","node":"lb1","term":-1}`, ErrBadEntry, "term"},
		{"bad time", "\x01" + `{"kind":"claim","node":"lb1","at":"yesterday"}`, ErrBadEntry, "claim"},
		{"time out of range in UTC", "\x01" + `{"kind":"claim","node":"lb1","at":"0000-01-01T00:00:00+01:00"}`, ErrBadEntry, "range"},
		{"missing node", "\x01" + `{"kind":"claim","term":3,` + at + `}`, ErrBadEntry, "no node"},
		{"empty node", "\x02" + `{"kind":"release","node":"","term":3,` + at + `}`, ErrBadEntry, "no node"},
		{"missing kind", "\x01" + `{"node":"lb1","term":3,` + at + `}`, ErrBadEntry, "kind"},
		{"claim kind in release entry", "\x02" + `{"kind":"claim","node":"lb1",` + at + `}`, ErrBadEntry, "type byte 2"},
		{"release kind in claim entry", "\x01" + `{"kind":"release","node":"lb1",` + at + `}`, ErrBadEntry, "type byte 1"},
		{"claim with handoff", "\x01" + `{"kind":"claim","node":"lb1","handoff":"lb2",` + at + `}`, ErrBadEntry, "handoff"},
		{"claim with reason", "\x01" + `{"kind":"claim","node":"lb1","reason":"x",` + at + `}`, ErrBadEntry, "reason"},
		{"claim with drained", "\x01" + `{"kind":"claim","node":"lb1","term":3,"drained":true,` + at + `}`, ErrBadEntry, "drained"},
		{"claim with drained false", "\x01" + `{"kind":"claim","node":"lb1","term":3,"drained":false,` + at + `}`, ErrBadEntry, "drained"},
		{"release with drained", "\x02" + `{"kind":"release","node":"lb1","term":3,"drained":true,` + at + `}`, ErrBadEntry, "drained"},
		{"release pin not a bool", "\x02" + `{"kind":"release","node":"lb1","term":3,"handoff":"lb2","pin":1,` + at + `}`, ErrBadEntry, "release"},
		{"claim with pin", "\x01" + `{"kind":"claim","node":"lb1","term":3,"pin":true,` + at + `}`, ErrBadEntry, "pin belongs to a release"},
		{"claim with pin false", "\x01" + `{"kind":"claim","node":"lb1","term":3,"pin":false,` + at + `}`, ErrBadEntry, "pin belongs to a release"},
		{"drain with pin", "\x03" + `{"kind":"drain","node":"lb1","drained":true,"pin":true,` + at + `}`, ErrBadEntry, "pin belongs to a release"},
		{"drain type byte only", "\x03", ErrBadEntry, "drain"},
		{"drain without flag", "\x03" + `{"kind":"drain","node":"lb1",` + at + `}`, ErrBadEntry, "no drained flag"},
		{"drain with null flag", "\x03" + `{"kind":"drain","node":"lb1","drained":null,` + at + `}`, ErrBadEntry, "no drained flag"},
		{"drain flag not a bool", "\x03" + `{"kind":"drain","node":"lb1","drained":"yes",` + at + `}`, ErrBadEntry, "drain"},
		{"drain without node", "\x03" + `{"kind":"drain","drained":true,` + at + `}`, ErrBadEntry, "no node"},
		{"drain with handoff", "\x03" + `{"kind":"drain","node":"lb1","drained":true,"handoff":"lb2",` + at + `}`, ErrBadEntry, "handoff"},
		{"drain with term", "\x03" + `{"kind":"drain","node":"lb1","drained":true,"term":3,` + at + `}`, ErrBadEntry, "term 3"},
		{"drain kind in claim entry", "\x01" + `{"kind":"drain","node":"lb1","drained":true,` + at + `}`, ErrBadEntry, "type byte 1"},
		{"claim kind in drain entry", "\x03" + `{"kind":"claim","node":"lb1","term":3,` + at + `}`, ErrBadEntry, "type byte 3"},
		{"drain time out of range", "\x03" + `{"kind":"drain","node":"lb1","drained":true,"at":"9999-12-31T23:59:59-01:00"}`, ErrBadEntry, "range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decode([]byte(tt.b))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode(%q) = %+v, %v; want error %v", tt.b, r, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
			if !strings.HasPrefix(err.Error(), "store: decode: ") {
				t.Errorf("error %q lacks the operation prefix", err)
			}
		})
	}
}

func TestDecodeDrainAcceptsExplicitZeroTerm(t *testing.T) {
	b := "\x03" + `{"kind":"drain","node":"lb1","term":0,"drained":true,"at":"2025-03-04T05:06:07Z"}`
	r, err := Decode([]byte(b))
	if err != nil {
		t.Fatal(err)
	}
	want := Record{Kind: KindDrain, Node: "lb1", Drained: true, At: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
	if !sameRecord(r, want) {
		t.Errorf("Decode(%q) = %+v, want %+v", b, r, want)
	}
}

// A release written before pins existed has no "pin"; one may say "pin":false. Neither
// pins.
func TestDecodeReleaseWithoutPin(t *testing.T) {
	for _, b := range []string{
		"\x02" + `{"kind":"release","node":"lb1","term":3,"handoff":"lb2","reason":"transfer","at":"2025-03-04T05:06:07Z"}`,
		"\x02" + `{"kind":"release","node":"lb1","term":3,"handoff":"lb2","reason":"transfer","pin":false,"at":"2025-03-04T05:06:07Z"}`,
	} {
		r, err := Decode([]byte(b))
		if err != nil {
			t.Fatalf("Decode(%q): %v", b, err)
		}
		want := Record{Kind: KindRelease, Node: "lb1", Term: 3, Handoff: "lb2", Reason: "transfer", At: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}
		if !sameRecord(r, want) {
			t.Errorf("Decode(%q) = %+v, want %+v", b, r, want)
		}
	}
}

func TestDecodeIgnoresIndexAndUnknownFields(t *testing.T) {
	b := "\x01" + `{"kind":"claim","node":"lb1","term":2,"at":"2025-03-04T05:06:07Z","index":99,"extra":true}`
	r, err := Decode([]byte(b))
	if err != nil {
		t.Fatal(err)
	}
	if r.Index != 0 {
		t.Errorf("Index = %d, want 0: Raft assigns it, not the payload", r.Index)
	}
}

// sameRecord compares records, times by instant.
func sameRecord(a, b Record) bool {
	at, bt := a.At, b.At
	a.At, b.At = time.Time{}, time.Time{}
	return a == b && at.Equal(bt)
}

func FuzzDecode(f *testing.F) {
	f.Add(EncodeClaim("lb1", 3, t0))
	f.Add(EncodeRelease("lb1", 7, "lb2", "transfer", false, t0))
	f.Add(EncodeRelease("lb3", 1, "", "", false, time.Time{}))
	f.Add(EncodeRelease("lb1", 7, "lb3", "operator transfer", true, t0))
	f.Add([]byte("\x02" + `{"kind":"release","node":"lb1","pin":false}`))
	f.Add([]byte("\x01" + `{"kind":"claim","node":"lb1","PIN":true}`))
	f.Add([]byte("\x03" + `{"kind":"drain","node":"lb1","drained":true,"pin":null}`))
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{3, '{', '}'})
	f.Add([]byte("\x01null"))
	f.Add([]byte("\x01" + `{"kind":"claim","node":"lb1","at":"0000-01-01T00:00:00+01:00"}`))
	f.Add([]byte("\x01" + `{"kind":"claim","node":"lb1","at":"9999-12-31T23:59:59-01:00"}`))
	f.Add([]byte("\x02" + `{"kind":"release","node":"\xff","handoff":"\ud800","at":"2025-03-04T05:06:07.5+14:00"}`))
	f.Add(EncodeDrain("lb1", true, "operator", t0))
	f.Add(EncodeDrain("lb2", false, "", time.Time{}))
	f.Add([]byte("\x03" + `{"kind":"drain","node":"lb1"}`))
	f.Add([]byte("\x03" + `{"kind":"drain","node":"lb1","drained":null,"term":0}`))
	f.Add([]byte("\x03" + `{"kind":"drain","node":"lb1","drained":true,"term":1,"handoff":"lb2"}`))
	f.Add([]byte("\x01" + `{"kind":"claim","node":"lb1","drained":false}`))
	f.Add([]byte("\x03" + `{"kind":"drain","node":"lb1","drained":true,"DRAINED":false,"Reason":"x"}`))
	f.Add(EncodeAssign("web", Assignment{Node: "lb1", Incarnation: "b1", Lease: 120 * time.Millisecond, Delta: 80 * time.Millisecond, Lifetime: 2 * time.Second}, "", t0))
	f.Add(EncodeLetGo("web", Release{Node: "lb1", Incarnation: "b1", AssignIndex: 9, Held: true}, "transfer", t0))
	f.Add([]byte("\x04" + `{"kind":"assign","group":"g","node":"n","incarnation":"i","lease_ms":-1,"delta_ms":0,"lifetime_ms":1,"strict":false,"at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte("\x05" + `{"kind":"release","group":"g","node":"n","incarnation":"i","assign_index":0,"held":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrBadEntry) && !errors.Is(err, ErrUnknownEntry) {
				t.Fatalf("Decode(%q): error %v wraps neither ErrBadEntry nor ErrUnknownEntry", b, err)
			}
			return
		}
		var again []byte
		switch r.Kind {
		case KindClaim:
			again = EncodeClaim(r.Node, r.Term, r.At)
		case KindAssign:
			again = EncodeAssign(r.Group, r.Assignment(), r.Reason, r.At)
		case KindRelease:
			if r.Group != "" {
				again = EncodeLetGo(r.Group, r.Release(), r.Reason, r.At)
				break
			}
			again = EncodeRelease(r.Node, r.Term, r.Handoff, r.Reason, r.Pin, r.At)
		case KindDrain:
			if r.Term != 0 || r.Handoff != "" {
				t.Fatalf("Decode(%q) = drain %+v with a term or handoff", b, r)
			}
			again = EncodeDrain(r.Node, r.Drained, r.Reason, r.At)
		default:
			t.Fatalf("Decode(%q) = kind %q", b, r.Kind)
		}
		if r.Kind != KindDrain && r.Drained {
			t.Fatalf("Decode(%q) = %s %+v with drained set", b, r.Kind, r)
		}
		if r.Kind != KindRelease && r.Pin {
			t.Fatalf("Decode(%q) = %s %+v with pin set", b, r.Kind, r)
		}
		r2, err := Decode(again)
		if err != nil {
			t.Fatalf("Decode(%q) = %+v, re-encoded as %q which fails: %v", b, r, again, err)
		}
		if r2 != r {
			t.Fatalf("Decode(%q) = %+v, re-encoded as %q decodes to %+v", b, r, again, r2)
		}
	})
}

func TestAssignAndLetGoRoundTrip(t *testing.T) {
	a := Assignment{Node: "lb1", Incarnation: "5f0c", Lease: 120 * time.Millisecond, Delta: 80 * time.Millisecond,
		Lifetime: 2 * time.Second, Strict: true}
	r, err := Decode(EncodeAssign("web", a, "", t0))
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != KindAssign || r.Group != "web" || r.Assignment() != a || !r.At.Equal(t0) {
		t.Errorf("assign decoded as %+v", r)
	}
	rel := Release{Node: "lb1", Incarnation: "5f0c", AssignIndex: 42, Held: true}
	r, err = Decode(EncodeLetGo("web", rel, "transfer", t0))
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != KindRelease || r.Group != "web" || r.Release() != rel || r.Reason != "transfer" {
		t.Errorf("release decoded as %+v", r)
	}
	for _, bad := range []string{
		`{"kind":"assign","group":"","node":"n","incarnation":"i","lease_ms":1,"delta_ms":0,"lifetime_ms":1,"strict":false,"at":"2026-01-01T00:00:00Z"}`,
		`{"kind":"assign","group":"g","node":"n","incarnation":"i","lease_ms":0,"delta_ms":0,"lifetime_ms":1,"strict":false,"at":"2026-01-01T00:00:00Z"}`,
		`{"kind":"assign","group":"g","node":"n","incarnation":"i","lease_ms":1,"delta_ms":0,"lifetime_ms":1,"strict":false,"extra":1,"at":"2026-01-01T00:00:00Z"}`,
	} {
		if _, err := Decode(append([]byte{TypeAssign}, bad...)); !errors.Is(err, ErrBadEntry) {
			t.Errorf("%s: %v, want ErrBadEntry", bad, err)
		}
	}
}

// A group record of a newer version is unknown, not bad, even when it carries fields
// this version does not know: the FSM then reports it (FSM.Unknown) and the agent
// holds nothing until it is upgraded.
func TestNewerGroupRecordIsUnknown(t *testing.T) {
	for _, tc := range []struct {
		typ  byte
		body string
	}{
		{TypeAssign, `{"v":2,"kind":"assign","group":"g","node":"n","incarnation":"i","lease_ms":1,"delta_ms":0,"lifetime_ms":1,"strict":false,"weight":3,"at":"2026-01-01T00:00:00Z"}`},
		{TypeLetGo, `{"v":2,"kind":"release","group":"g","node":"n","incarnation":"i","assign_index":4,"held":true,"quorum":[1],"at":"2026-01-01T00:00:00Z"}`},
	} {
		_, err := Decode(append([]byte{tc.typ}, tc.body...))
		if !errors.Is(err, ErrUnknownEntry) || !strings.Contains(err.Error(), "version 2") {
			t.Errorf("%s: %v, want ErrUnknownEntry naming version 2", tc.body, err)
		}
	}
	f := NewFSM(0, nil)
	f.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: append([]byte{TypeAssign}, `{"v":2,"kind":"assign"}`...)})
	if f.Unknown() == nil {
		t.Error("the FSM took a newer record without reporting it")
	}
	if r, err := Decode(EncodeAssign("g", Assignment{Node: "n", Incarnation: "i", Lease: time.Second, Lifetime: time.Second}, "", t0)); err != nil || r.Group != "g" {
		t.Errorf("this version's own record: %+v, %v", r, err)
	}
}
