package gossip

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/memberlist"
)

func TestEncodeMetaFitsAndRoundTrips(t *testing.T) {
	m := Meta{Format: MetaFormat, Priority: 100, Base: 150, Fault: true, Quorum: true, Raft: "198.18.0.11:7300", Version: "v1.2.3"}
	b, err := EncodeMeta(m, memberlist.MetaMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMeta(b)
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
			m.Checks = append(m.Checks, MetaCheck{Name: strings.Repeat("c", 10) + string(rune('a'+i%26)), State: CheckFailing, Output: strings.Repeat("é", 150)})
		}
		b, err := EncodeMeta(m, memberlist.MetaMaxSize)
		if err != nil {
			t.Fatalf("%d checks: %v", n, err)
		}
		if len(b) > memberlist.MetaMaxSize {
			t.Fatalf("%d checks: %d bytes > %d", n, len(b), memberlist.MetaMaxSize)
		}
		got, err := DecodeMeta(b)
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
		t.Errorf("EncodeMeta changed the caller's checks (output now %d bytes)", n)
	}
}

func TestDecodeMetaRejectsGarbage(t *testing.T) {
	for _, in := range []string{"", "{", "[]", `{"v":0,"p":100}`, "\x00\x01"} {
		if _, err := DecodeMeta([]byte(in)); err == nil {
			t.Errorf("DecodeMeta(%q) succeeded", in)
		}
	}
	// A newer format is read for the fields this version knows.
	m, err := DecodeMeta([]byte(`{"v":2,"p":120,"b":120,"r":"x:1","ver":"v9","new":true}`))
	if err != nil || m.Priority != 120 {
		t.Errorf("newer format: %+v, %v", m, err)
	}
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add([]byte(`{"v":1,"p":100,"b":100,"q":true,"r":"198.18.0.11:7300","ver":"dev","c":[{"n":"haproxy","s":"passing"}]}`))
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		if _, err := EncodeMeta(m, 1<<20); err != nil {
			t.Errorf("decoded metadata does not encode: %v", err)
		}
	})
}

func TestGossipCarriesMetadataAndNeedsTheKey(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	other := bytes.Repeat([]byte{9}, 32)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := func(name string, key []byte, prio int) *Gossip {
		t.Helper()
		meta, err := EncodeMeta(Meta{Format: MetaFormat, Priority: prio, Base: prio, Quorum: true, Raft: "127.0.0.1:1", Version: "test"}, memberlist.MetaMaxSize)
		if err != nil {
			t.Fatal(err)
		}
		g, err := Start(Config{Name: name, Bind: netip.MustParseAddrPort("127.0.0.1:0"), Key: key, Interval: 20 * time.Millisecond, Meta: meta, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Leave(100 * time.Millisecond) })
		return g
	}
	addr := func(g *Gossip) string {
		n := g.ml.LocalNode()
		return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
	}

	a, b := start("a", key, 150), start("b", key, 120)
	if n, err := b.ml.Join([]string{addr(a)}); n != 1 || err != nil {
		t.Fatalf("join with the same key: %d, %v", n, err)
	}
	waitUntil(t, "a to see b's metadata", func() bool {
		m, ok := a.Member("b")
		return ok && m.MetaErr == nil && m.Meta.Priority == 120 && m.State == Alive
	})

	// A changed priority reaches the other node.
	meta, _ := EncodeMeta(Meta{Format: MetaFormat, Priority: 70, Base: 120, Fault: true, Raft: "127.0.0.1:1", Version: "test"}, memberlist.MetaMaxSize)
	b.SetMeta(meta)
	waitUntil(t, "a to see b's new priority", func() bool {
		m, _ := a.Member("b")
		return m.Meta.Priority == 70 && m.Meta.Fault
	})

	// A node with another key, or none, cannot join.
	for name, k := range map[string][]byte{"wrongkey": other, "nokey": nil} {
		c := start(name, k, 100)
		if n, err := c.ml.Join([]string{addr(a)}); n != 0 || err == nil {
			t.Errorf("%s joined a cluster encrypted with another key (%d contacted, err %v)", name, n, err)
		}
		if _, ok := a.Member(name); ok {
			t.Errorf("a lists %s, which has the wrong key", name)
		}
	}
}

func waitUntil(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
