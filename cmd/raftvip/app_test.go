package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster"
)

// run runs the app as `raftvip args...` and returns stdout, stderr and the error.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := newApp(&out, &errOut).Run(append([]string{"raftvip"}, args...))
	return out.String(), errOut.String(), err
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(cluster.ExampleConfig()), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("node:\n  name: lb1\n  bind: 198.18.0.11\nvip:\n  interface: eth0\n  addresses: [198.18.0.10/24]\n  lifetim: 2s\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	out, _, err := run(t, "config", "check", good)
	if err != nil || !strings.Contains(out, "ok") {
		t.Errorf("check of the example: out %q, err %v; want ok", out, err)
	}
	_, _, err = run(t, "config", "check", bad)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:7") || !strings.Contains(err.Error(), "vip.lifetim") {
		t.Errorf("check of a typo: err %v; want the file, line 7 and the field", err)
	}
	_, _, err = run(t, "config", "check")
	if err == nil || !strings.Contains(err.Error(), "exactly one argument") {
		t.Errorf("check without a file: err %v", err)
	}
	_, _, err = run(t, "config", "check", filepath.Join(dir, "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("check of a missing file: err %v; want the path", err)
	}
}

func TestStatusAgentNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	_, _, err := run(t, "status", "--socket", sock)
	if err == nil {
		t.Fatal("status without an agent succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "not running") || !strings.Contains(msg, sock) || strings.Contains(msg, "\n") {
		t.Errorf("status without an agent: %q; want one line naming the socket", msg)
	}
	t.Setenv("RAFTVIP_SOCKET", sock)
	if _, _, err := run(t, "status", "--json"); err == nil || !strings.Contains(err.Error(), sock) {
		t.Errorf("RAFTVIP_SOCKET not honoured: %v", err)
	}
}

func TestAgentRejectsArguments(t *testing.T) {
	if _, _, err := run(t, "agent", "extra"); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("agent with a stray argument: %v", err)
	}
	_, _, err := run(t, "agent", "--config", filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("agent with a missing config: %v", err)
	}
}

func TestPrintStatus(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 30, 0, time.UTC)
	since := now.Add(-30 * time.Second)
	st := &cluster.Status{
		Node: "lb1", State: "leader", Leader: "lb1", Term: 7, Holding: true, Reason: "holding",
		HeldSince: &since, LeaseRemainingMS: 120,
		VIP:    cluster.VIPStatus{Interface: "eth0", Addresses: []string{"198.18.0.10/24"}, Lifetime: "2s", Fencing: "standard"},
		Timing: cluster.TimingInfo{Profile: "lan", HeartbeatMS: 300, VIPLeaseMS: 150, ClaimDelayMS: 400},
		Members: []cluster.Member{
			{Name: "lb1", Address: "198.18.0.11:7300", Voter: true, Leader: true},
			{Name: "lb2", Address: "198.18.0.12:7300", Voter: true},
		},
		Events: []cluster.Event{{Kind: "claim", Node: "lb1", Term: 7, At: since}},
	}
	var b bytes.Buffer
	printStatus(&b, st, now)
	out := b.String()
	for _, want := range []string{"lb1 (leader, term 7)", "HELD here for 30s", "lb2", "voter, leader", "claim lb1 (term 7)", "claim delay 400ms"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	st.Holding, st.Reason = false, "not the raft leader"
	b.Reset()
	printStatus(&b, st, now)
	if !strings.Contains(b.String(), "not held here (not the raft leader)") {
		t.Errorf("status of a follower does not say why:\n%s", b.String())
	}
}
