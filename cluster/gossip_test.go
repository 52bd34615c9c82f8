package cluster

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/memberlist"
)

func TestEncodeMetaFitsAndRoundTrips(t *testing.T) {
	m := nodeMeta{Format: metaFormat, Priority: 100, Base: 150, Fault: true, Quorum: true, Raft: "198.18.0.11:7300", Version: "v1.2.3"}
	b, err := encodeMeta(m, memberlist.MetaMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeMeta(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Priority != 100 || got.Base != 150 || !got.Fault || !got.Quorum || got.Raft != m.Raft || got.Version != m.Version {
		t.Errorf("round trip: %+v, want %+v", got, m)
	}

	// Many checks with long outputs: outputs are shortened, then dropped, then the
	// checks, but the metadata always fits and keeps the priority.
	for _, n := range []int{3, 8, 40} {
		m.Checks = nil
		for i := range n {
			m.Checks = append(m.Checks, metaCheck{Name: strings.Repeat("c", 10) + string(rune('a'+i%26)), State: checkFailing, Output: strings.Repeat("é", 150)})
		}
		b, err := encodeMeta(m, memberlist.MetaMaxSize)
		if err != nil {
			t.Fatalf("%d checks: %v", n, err)
		}
		if len(b) > memberlist.MetaMaxSize {
			t.Fatalf("%d checks: %d bytes > %d", n, len(b), memberlist.MetaMaxSize)
		}
		got, err := decodeMeta(b)
		if err != nil {
			t.Fatalf("%d checks: %v", n, err)
		}
		if got.Priority != 100 || !got.Fault {
			t.Errorf("%d checks: lost the priority: %+v", n, got)
		}
		for _, c := range got.Checks {
			if !utf8.ValidString(c.Output) {
				t.Errorf("%d checks: output cut inside a rune: %q", n, c.Output)
			}
		}
		t.Logf("%d checks: %d bytes, %d checks kept", n, len(b), len(got.Checks))
	}
	if n := len(m.Checks[0].Output); n != 300 {
		t.Errorf("encodeMeta changed the caller's checks (output now %d bytes)", n)
	}
}

func TestDecodeMetaRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "{", "[]", `{"v":0,"p":100}`, "\x00\x01"} {
		if _, err := decodeMeta([]byte(in)); err == nil {
			t.Errorf("decodeMeta(%q) succeeded", in)
		}
	}
	// A newer format is read for the fields this version knows.
	m, err := decodeMeta([]byte(`{"v":2,"p":120,"b":120,"r":"x:1","ver":"v9","new":true}`))
	if err != nil || m.Priority != 120 {
		t.Errorf("newer format: %+v, %v", m, err)
	}
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add([]byte(`{"v":1,"p":100,"b":100,"q":true,"r":"198.18.0.11:7300","ver":"dev","c":[{"n":"haproxy","s":"passing"}]}`))
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		if _, err := encodeMeta(m, 1<<20); err != nil {
			t.Errorf("decoded metadata does not encode: %v", err)
		}
	})
}
