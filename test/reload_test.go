package test

import (
	"os"
	"strings"
	"testing"
	"time"
)

// SIGHUP with a changed priority: the effective priority changes without a restart
// (same PID), the cluster sees it, and preemption moves the VIP to the node that is
// now preferred. A change that needs a restart is reported, not applied.
func TestReloadPriority(t *testing.T) {
	l, h := startCluster(t, Options{})
	var low *Node
	for _, n := range l.Nodes {
		if n != h {
			low = n
			break
		}
	}
	before, err := l.Status(low)
	if err != nil {
		t.Fatal(err)
	}
	pid := l.AgentPID(low)

	c := l.agentConfig(low)
	c.Priority = 250
	c.Log.Format = "json" // needs a restart: reported, not applied
	if err := l.WriteConfig(low, c); err != nil {
		t.Fatal(err)
	}
	hup := time.Now()
	if err := l.Reload(low); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	var st Status
	for time.Now().Before(deadline) {
		if st, err = l.Status(low); err == nil && st.BasePriority == 250 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st.BasePriority != 250 || st.Priority != 250 {
		t.Fatalf("%s after SIGHUP: base %d, effective %d; want 250 (before: base %d)", low.Name, st.BasePriority, st.Priority, before.BasePriority)
	}
	t.Logf("%s: priority %d → %d %v after SIGHUP", low.Name, before.Priority, st.Priority, time.Since(hup).Round(time.Millisecond))
	if got := l.AgentPID(low); got != pid {
		t.Fatalf("%s's agent was restarted: pid %d → %d", low.Name, pid, got)
	}

	// The new priority reaches the leader, and preemption moves the VIP to it.
	if err := l.WaitSoleHolder(t.Context(), low, time.Second, 30*time.Second); err != nil {
		t.Fatalf("the VIP did not move to %s (now priority 250): %v", low.Name, err)
	}

	b, err := os.ReadFile(l.AgentLogPath(low, l.AgentRuns(low)))
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	for _, want := range []string{`msg="SIGHUP: config reloaded"`, "applied: priority", "log.format"} {
		if !strings.Contains(log, want) {
			t.Errorf("%s's log lacks %q", low.Name, want)
		}
	}
	if strings.Contains(log, `{"time"`) {
		t.Errorf("log.format changed without a restart")
	}
}
