package cluster

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestSDNotifierSendsDatagrams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sd := newSDNotifier(func(k string) string {
		if k == "NOTIFY_SOCKET" {
			return path
		}
		return ""
	})
	if err := sd.notify("READY=1\nSTATUS=joined"); err != nil {
		t.Fatalf("notify: %v", err)
	}
	buf := make([]byte, 256)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	nr, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:nr]); got != "READY=1\nSTATUS=joined" {
		t.Errorf("datagram %q", got)
	}
}

func TestSDNotifierUnsetIsANoOp(t *testing.T) {
	sd := newSDNotifier(func(string) string { return "" })
	if sd != nil {
		t.Fatalf("notifier without NOTIFY_SOCKET: %+v", sd)
	}
	if err := sd.notify("READY=1"); err != nil {
		t.Errorf("nil notifier: %v", err)
	}
	if a := newSDNotifier(func(string) string { return "@abstract" }).addr.Name; a != "\x00abstract" {
		t.Errorf("abstract socket name %q", a)
	}
}

func TestWatchdogInterval(t *testing.T) {
	tests := []struct {
		usec, pid string
		want      time.Duration
	}{
		{"", "", 0},
		{"10000000", "", 10 * time.Second},
		{"10000000", "42", 10 * time.Second},
		{"10000000", "43", 0}, // meant for another process
		{"garbage", "", 0},
		{"-5", "", 0},
	}
	for _, tt := range tests {
		env := map[string]string{"WATCHDOG_USEC": tt.usec, "WATCHDOG_PID": tt.pid}
		if got := watchdogInterval(func(k string) string { return env[k] }, 42); got != tt.want {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v, want %v", tt.usec, tt.pid, got, tt.want)
		}
	}
}

func TestJoinedState(t *testing.T) {
	three := []raft.Server{{ID: "lb1"}, {ID: "lb2"}, {ID: "lb3"}}
	tests := []struct {
		name    string
		leader  raft.ServerID
		servers []raft.Server
		expect  int
		joined  bool
		why     string
	}{
		{name: "voter with a leader", leader: "lb2", servers: three, joined: true},
		{name: "the leader itself", leader: "lb1", servers: three, joined: true},
		{name: "no quorum yet", servers: three, why: "waiting for a Raft leader"},
		{name: "forming", expect: 3, why: "waiting for 3 servers"},
		{name: "new node not added yet", leader: "lb2", servers: three[1:], why: "waiting to be added"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			joined, why := joinedState("lb1", tt.leader, tt.servers, tt.expect)
			if joined != tt.joined || !strings.Contains(why, tt.why) {
				t.Errorf("joinedState = %v, %q; want %v, %q", joined, why, tt.joined, tt.why)
			}
		})
	}
}
