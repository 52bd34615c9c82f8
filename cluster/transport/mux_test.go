package transport

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

func TestMuxSortsConnectionsByKind(t *testing.T) {
	m, err := New("127.0.0.1:0", nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	addr := m.ln.Addr().String()

	// A connection of an unknown kind is closed; the others are handed over.
	bad, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	bad.Write([]byte{0x7f})
	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := bad.Read(make([]byte, 1)); err == nil {
		t.Error("a connection of unknown kind was not closed")
	}
	bad.Close()

	for _, kind := range []byte{KindRaft, KindRPC} {
		c, err := DialPlain(addr, kind, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("hello"))
		var got net.Conn
		if kind == KindRaft {
			got, err = m.Accept()
		} else {
			got, err = m.rpc.Accept()
		}
		if err != nil {
			t.Fatalf("kind %d: accept: %v", kind, err)
		}
		buf := make([]byte, 5)
		got.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(got, buf); err != nil || string(buf) != "hello" {
			t.Errorf("kind %d: read %q, %v; want the bytes after the kind byte", kind, buf, err)
		}
		got.Close()
		c.Close()
	}

	// Closing the RPC listener unblocks its Accept (http.Server.Close waits for it).
	done := make(chan error)
	go func() { _, err := m.rpc.Accept(); done <- err }()
	m.rpc.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Accept after Close returned a connection")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still blocked after Close")
	}
	m.Close()
	if _, err := m.Accept(); err == nil {
		t.Error("raft Accept after the Mux closed returned a connection")
	}
}
