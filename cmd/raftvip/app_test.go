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
	f := false
	st := &cluster.Status{
		Node: "lb1", State: "leader", Leader: "lb1", Term: 7, Holding: true, Holder: "lb1", Reason: "holding",
		HeldSince: &since, LeaseRemainingMS: 120,
		Priority: 150, BasePriority: 150, Eligible: true,
		Checks: []cluster.Check{{Name: "haproxy", Type: "haproxy", Weight: 0, State: "passing", Output: "HAProxy 2.6.12 up", Since: &since}},
		Policy: cluster.Policy{Preferred: "lb1", Preempt: true, Pending: "lb2 has priority 200 > 150; moving at 12:00:31.000 unless that changes"},
		VIP:    cluster.VIPStatus{Interface: "eth0", Addresses: []string{"198.18.0.10/24"}, Lifetime: "2s", Fencing: "standard"},
		Timing: cluster.TimingInfo{Profile: "lan", HeartbeatMS: 300, VIPLeaseMS: 150, ClaimDelayMS: 400},
		Members: []cluster.Member{
			{Name: "lb1", Address: "198.18.0.11:7300", Voter: true, Leader: true, Holder: true, Gossip: "alive", Priority: 150, BasePriority: 150, Eligible: true,
				Checks: []cluster.MemberCheck{{Name: "haproxy", State: "passing"}}},
			{Name: "lb2", Address: "198.18.0.12:7300", Voter: true, Gossip: "alive", Priority: 70, BasePriority: 120, Ineligible: "FAULT: check haproxy failing", Fault: true,
				Checks: []cluster.MemberCheck{{Name: "haproxy", State: "failing", Output: "connection refused"}}},
			{Name: "lb3", Address: "198.18.0.13:7300", Voter: true, Gossip: "alive", Priority: 100, Ineligible: "drained", Drained: true},
		},
		Events: []cluster.Event{
			{Kind: "drain", Node: "lb3", At: since, Drained: &f, Reason: "operator, via lb1"},
			{Kind: "release", Node: "lb2", Term: 6, At: since, Handoff: "lb1", Reason: "lb2 is FAULT: check haproxy failing; moving to lb1 (priority 150)"},
			{Kind: "claim", Node: "lb1", Term: 7, At: since},
		},
	}
	var b bytes.Buffer
	printStatus(&b, st, now)
	out := squeeze(b.String())
	for _, want := range []string{
		"lb1 (leader, term 7)", "HELD here for 30s", "priority 150 (base 150), eligible",
		"check haproxy", "PASSING for 30s, weight 0: HAProxy 2.6.12 up",
		"policy:  prefers lb1", "pending:  lb2 has priority 200",
		"lb1 *", "no: FAULT: check haproxy failing", "70 (base 120)", "haproxy failing (connection refused)", "no: drained",
		"undrained lb3: operator, via lb1", "release lb2 (term 6) → lb1: lb2 is FAULT", "claim lb1 (term 7)", "claim delay 400ms",
	} {
		if !strings.Contains(out, squeeze(want)) {
			t.Errorf("status output lacks %q:\n%s", want, b.String())
		}
	}

	st.Holding, st.Reason, st.State = false, "not the raft leader", "follower"
	st.Eligible, st.Ineligible, st.Holder = false, "FAULT: check haproxy failing", ""
	st.Policy = cluster.Policy{NoneEligible: "no eligible node: lb1: FAULT: check haproxy failing; lb2: drained"}
	b.Reset()
	printStatus(&b, st, now)
	for _, want := range []string{"not held here (not the raft leader)", "NOT eligible: FAULT: check haproxy failing", "policy:  no eligible node: lb1: FAULT"} {
		if !strings.Contains(squeeze(b.String()), squeeze(want)) {
			t.Errorf("status of an ineligible follower lacks %q:\n%s", want, b.String())
		}
	}
}

func TestDrainArguments(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	_, _, err := run(t, "drain", "--socket", sock, "lb1", "lb2")
	if err == nil || !strings.Contains(err.Error(), "at most one node") {
		t.Errorf("drain of two nodes: %v", err)
	}
	_, _, err = run(t, "drain", "--socket", sock, "lb1")
	if err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("drain without an agent: %v", err)
	}
	_, _, err = run(t, "drain", "lb1", "--off")
	if err == nil || !strings.Contains(err.Error(), "put flags before the node name") {
		t.Errorf("drain with a flag after the node: %v", err)
	}
}

// squeeze collapses runs of white space, so tests do not depend on tabwriter's padding.
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }
