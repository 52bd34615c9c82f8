package test

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The agent speaks systemd's notify protocol as Type=notify expects: READY=1 only
// once the node has joined (here: after its peers start), STATUS= lines saying what
// it waits for and then what it does, WATCHDOG=1 at least every WatchdogSec/2 while
// it runs, and STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	l := NewLab(t, Options{})
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 256)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()

	first := l.Nodes[0]
	if err := l.StartAgentEnv(first, "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=2000000"); err != nil {
		t.Fatal(err)
	}
	// Alone, it cannot have joined: no READY, a STATUS saying why.
	var got []string
	deadline := time.After(3 * time.Second)
alone:
	for {
		select {
		case m := <-msgs:
			got = append(got, m)
		case <-deadline:
			break alone
		}
	}
	all := strings.Join(got, "\n")
	if strings.Contains(all, "READY=1") {
		t.Fatalf("READY=1 before the peers started: %q", got)
	}
	if !strings.Contains(all, "STATUS=waiting") {
		t.Errorf("no STATUS saying what it waits for: %q", got)
	}
	if !strings.Contains(all, "WATCHDOG=1") {
		t.Errorf("no WATCHDOG=1 within 3 s with WatchdogSec=2s: %q", got)
	}

	start := time.Now()
	for _, n := range l.Nodes[1:] {
		if err := l.StartAgent(n); err != nil {
			t.Fatal(err)
		}
	}
	ready := false
	watchdogs := 0
	timeout := time.After(30 * time.Second)
	for !ready {
		select {
		case m := <-msgs:
			if strings.Contains(m, "READY=1") {
				ready = true
				t.Logf("READY=1 %v after the peers started: %q", time.Since(start).Round(time.Millisecond), m)
			}
		case <-timeout:
			t.Fatal("no READY=1 within 30 s of the peers starting")
		}
	}
	if _, err := l.WaitForHolder(formTimeout); err != nil {
		t.Fatal(err)
	}
	// Fed steadily while it runs.
	window := time.After(3 * time.Second)
feed:
	for {
		select {
		case m := <-msgs:
			if strings.Contains(m, "WATCHDOG=1") {
				watchdogs++
			}
		case <-window:
			break feed
		}
	}
	if watchdogs < 2 {
		t.Errorf("%d WATCHDOG=1 in 3 s with WatchdogSec=2s; want at least 2", watchdogs)
	}

	if _, err := l.TermAgents(10*time.Second, first); err != nil {
		t.Fatal(err)
	}
	stopping := false
	timeout = time.After(5 * time.Second)
	for !stopping {
		select {
		case m, ok := <-msgs:
			if !ok {
				t.Fatal("notify socket closed")
			}
			stopping = strings.Contains(m, "STOPPING=1")
		case <-timeout:
			t.Fatal("no STOPPING=1 within 5 s of SIGTERM")
		}
	}
}
