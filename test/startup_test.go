package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Bounds of the start-up scenarios; generous, the agent should need far less.
const (
	refuseTimeout  = 15 * time.Second // an agent that refuses its data dir or config exits
	rejoinTimeout  = 10 * time.Second // a wiped node follows the leader
	historyTimeout = 30 * time.Second // ... and has received the leader's log
	// downtime is how long the victim stays down before it is started on a wiped data
	// dir: long enough for the leader's replication to it to back off to its maximum
	// (hashicorp/raft: 10 ms doubling per failed AppendEntries, up to 10.24 s).
	downtime = 15 * time.Second
)

// waitAgentExit waits until n's current agent run has exited, at most timeout, and
// returns its exit code (-1 if a signal ended it).
func waitAgentExit(l *Lab, n *Node, timeout time.Duration) (int, error) {
	l.mu.Lock()
	p := n.agent
	l.mu.Unlock()
	if p == nil {
		return -1, fmt.Errorf("%s: no agent was started", n.Name)
	}
	if !p.wait(timeout) {
		return -1, fmt.Errorf("%s: agent (pid %d) still running %v after start", n.Name, p.rec.PID, timeout)
	}
	return p.exitCode(), nil
}

// logLines returns the lines of s that contain every one of words.
func logLines(s string, words ...string) []string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(line, w)
		}
		if ok && line != "" {
			out = append(out, line)
		}
	}
	return out
}

// refusedStart starts n's agent on its current data dir, expects it to exit non-zero
// within refuseTimeout and returns its log. words must all appear on one line of it.
func refusedStart(t *testing.T, l *Lab, n *Node, words ...string) string {
	t.Helper()
	t0 := time.Now()
	if err := l.StartAgent(n); err != nil {
		t.Fatal(err)
	}
	code, err := waitAgentExit(l, n, refuseTimeout)
	if err != nil {
		t.Fatal(err)
	}
	log, err := l.AgentLog(n, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: agent run %d exited %d after %v:\n%s", n.Name, l.AgentRuns(n), code,
		time.Since(t0).Round(time.Millisecond), strings.TrimRight(log, "\n"))
	if code == 0 || code == -1 {
		t.Errorf("%s: agent exited %d, want a non-zero exit status of its own", n.Name, code)
	}
	if lines := logLines(log, words...); len(lines) == 0 {
		t.Errorf("%s: no line of the agent's output contains all of %q", n.Name, words)
	}
	for _, bad := range []string{"panic:", "goroutine "} {
		if strings.Contains(log, bad) {
			t.Errorf("%s: agent output contains %q", n.Name, bad)
		}
	}
	return log
}

// The data-directory guard. A non-holder is SIGKILLed, then started again on (a) a
// raft.db that is garbage, (b) a data dir whose marker names another node — both must
// be refused with one line naming the directory and the fix, without touching the
// files — and (c) after a while down, a wiped data dir, from which the agent
// bootstraps with the static peers: that must not form a second cluster, the node must
// follow the existing leader (same term) and receive the ownership history. The other
// two nodes keep one holder and serve throughout. The history can take up to the
// leader's replication backoff (≈10 s) to arrive, hence historyTimeout.
func TestDataDirGuard(t *testing.T) {
	l, h := startCluster(t, Options{})
	before, err := l.Status(h)
	if err != nil {
		t.Fatal(err)
	}
	// The victim neither holds nor leads (the leader prefers a node that holds
	// nothing, so it may be the other one).
	others := l.Others(h)
	victim, other := others[len(others)-1], others[0]
	if victim.Name == before.Leader {
		victim, other = other, victim
	}
	t.Logf("holder %s, leader %s (term %d, %d events); victim %s", h.Name, before.Leader, before.Term, len(before.Events), victim.Name)

	m := startMonitor(t, l, false)
	baseline(t, m.p, h.Name)

	if err := l.Kill(victim); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	dbPath := filepath.Join(victim.DataDir, "raft.db")
	markerPath := filepath.Join(victim.DataDir, "node.json")
	db, err := os.ReadFile(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	marker, err := os.ReadFile(markerPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: raft.db %d bytes, node.json %s", victim.Name, len(db), bytes.TrimSpace(marker))

	t.Run("corrupt", func(t *testing.T) {
		garbage := bytes.Repeat([]byte("this is not a bolt database\n"), 4096)
		if err := os.WriteFile(dbPath, garbage, 0o600); err != nil {
			t.Fatal(err)
		}
		refusedStart(t, l, victim, victim.DataDir, "corrupt", "wipe")
		if got, err := os.ReadFile(dbPath); err != nil || !bytes.Equal(got, garbage) {
			t.Errorf("the refused agent changed raft.db (%d bytes, was %d of garbage; %v)", len(got), len(garbage), err)
		}
		if got, err := os.ReadFile(markerPath); err != nil || !bytes.Equal(got, marker) {
			t.Errorf("the refused agent changed node.json: %q (%v), was %q", got, err, marker)
		}
	})

	t.Run("foreign", func(t *testing.T) {
		if err := os.WriteFile(dbPath, db, 0o600); err != nil {
			t.Fatal(err)
		}
		foreign := fmt.Appendf(nil, "{\"format\":1,\"node\":%q}\n", other.Name)
		if err := os.WriteFile(markerPath, foreign, 0o600); err != nil {
			t.Fatal(err)
		}
		refusedStart(t, l, victim, victim.DataDir, "belongs to another node", other.Name)
		if got, err := os.ReadFile(markerPath); err != nil || !bytes.Equal(got, foreign) {
			t.Errorf("the refused agent changed node.json: %q (%v), was %q", got, err, foreign)
		}
		if got, err := os.ReadFile(dbPath); err != nil || !bytes.Equal(got, db) {
			t.Errorf("the refused agent changed raft.db (%d bytes, was %d; %v)", len(got), len(db), err)
		}
	})

	t.Run("wiped", func(t *testing.T) {
		time.Sleep(time.Until(killed.Add(downtime)))
		if err := os.RemoveAll(victim.DataDir); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := l.StartAgent(victim); err != nil {
			t.Fatal(err)
		}
		// The node must follow the leader it finds and receive every ownership record
		// the cluster made before it was wiped.
		st, err := l.WaitStatus(victim, rejoinTimeout, func(st Status) bool {
			return st.State == "follower" && st.Leader != "" && st.Leader != victim.Name
		})
		if err != nil {
			t.Fatalf("wiped %s did not follow a leader within %v: %v", victim.Name, rejoinTimeout, err)
		}
		t.Logf("wiped %s: follower of %s after %v, term %d, %d events", victim.Name, st.Leader, time.Since(start).Round(time.Millisecond), st.Term, len(st.Events))
		hasHistory := func(st Status) bool {
			for _, e := range before.Events {
				if !slices.ContainsFunc(st.Events, func(a Event) bool {
					return a.Kind == e.Kind && a.Node == e.Node && a.Term == e.Term && a.Index == e.Index
				}) {
					return false
				}
			}
			return true
		}
		st, err = l.WaitStatus(victim, historyTimeout, func(st Status) bool {
			return st.State == "follower" && st.Leader != "" && st.Leader != victim.Name && hasHistory(st)
		})
		took := time.Since(start)
		if err != nil {
			t.Errorf("wiped %s has not received the ownership history %v after start: %v", victim.Name, historyTimeout, err)
		} else {
			t.Logf("wiped %s: ownership history (%d events) %v after start", victim.Name, len(st.Events), took.Round(time.Millisecond))
		}
		if !l.AgentRunning(victim) {
			t.Fatalf("agent on wiped %s exited", victim.Name)
		}
		log, err := l.AgentLog(victim, 0)
		if err != nil {
			t.Fatal(err)
		}
		boot := logLines(log, `msg="bootstrapping new cluster"`)
		t.Logf("wiped %s start-up, bootstrap lines: %q", victim.Name, boot)
		if got, err := os.ReadFile(markerPath); err != nil || !bytes.Contains(got, []byte(`"node":"`+victim.Name+`"`)) {
			t.Errorf("wiped %s: node.json is %q (%v), want it to name %s", victim.Name, got, err, victim.Name)
		}

		// Still one cluster: the same leader and holder, one term, three voters.
		time.Sleep(settle)
		nh, err := l.WaitForHolder(10 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if nh != h {
			t.Errorf("holder moved from %s to %s when the wiped %s started", h.Name, nh.Name, victim.Name)
		}
		sts, errs := l.Statuses(context.Background())
		for n, err := range errs {
			t.Errorf("status of %s: %v", n.Name, err)
		}
		leader := sts[h].Leader
		for _, n := range l.Nodes {
			st, ok := sts[n]
			if !ok {
				continue
			}
			voters := 0
			for _, mb := range st.Members {
				if mb.Voter {
					voters++
				}
			}
			t.Logf("%s: %s, leader %s, term %d, holding %v, %d voters, %d events", n.Name, st.State, st.Leader, st.Term, st.Holding, voters, len(st.Events))
			if st.Leader == "" || st.Leader != leader || voters != 3 {
				t.Errorf("%s: leader %q with %d voters; want leader %s of the one three-voter cluster", n.Name, st.Leader, voters, leader)
			}
			if st.Term != before.Term {
				t.Errorf("%s: term %d, was %d before the wiped %s started: an election happened", n.Name, st.Term, before.Term, victim.Name)
			}
		}
	})

	time.Sleep(time.Second)
	m.stop()
	vip := l.VIP4.Addr()
	sum := m.s.Summary(vip, Filter{})
	ps := m.p.Summary(time.Time{}, time.Time{})
	t.Logf("%v\n%v", ps, sum)
	if sum.MaxHolders > 1 {
		t.Errorf("two holders while %s was restarted: %v", victim.Name, sum)
	}
	if hs := m.s.Holders(vip); !slices.Equal(hs, []string{h.Name}) {
		t.Errorf("kernel holders %v, want only %s", hs, h.Name)
	}
	if ps.Failures > 0 || ps.Successes == 0 {
		t.Errorf("client not served throughout: %v", ps)
	}
	checkAnnouncements(t, l, m.s, m.w, m.t0)
}

// brokenConfig is one configuration mistake: edit turns the lab's valid config of a
// node into the broken one; want is the field the error must name, on the line that
// contains mark (after the edit).
type brokenConfig struct {
	name  string
	edit  func(string) string
	mark  string
	field string
	words []string // more words the message must contain
}

// TestConfigErrors: the agent refuses a broken config before it touches anything — it
// exits 1 at once with one line naming file, line and field, and leaves the
// interface alone (a stray VIP on it would otherwise be removed at start-up), and
// `raftvip config check` prints the same line.
func TestConfigErrors(t *testing.T) {
	l := NewLab(t, Options{})
	n := l.Node("lb1")
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	// A VIP left on lb1's eth0, as a crashed agent would leave it: an agent that got as
	// far as its start-up cleanup would remove it.
	if err := l.ip("-n", n.NS, "addr", "add", l.VIP4.String(), "dev", "eth0"); err != nil {
		t.Fatal(err)
	}
	addrs := func() string {
		out, err := run(10*time.Second, "ip", "-n", n.NS, "-o", "addr")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	addrsBefore := addrs()
	if !strings.Contains(addrsBefore, " "+l.VIP4.String()+" ") {
		t.Fatalf("%s: stray VIP %s not on eth0:\n%s", n.Name, l.VIP4, addrsBefore)
	}

	dir := t.TempDir()
	base := l.agentConfig(n)
	base.Node.DataDir = filepath.Join(dir, "data")
	base.Admin.Socket = filepath.Join(dir, "raftvip.sock")
	b, err := marshalConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	valid := string(b)

	// config check runs on the host: it reads the file and starts nothing.
	check := func(path string) (code int, stdout, stderr string) {
		ctx, cancel := context.WithTimeout(context.Background(), refuseTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "config", "check", path)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0, o.String(), e.String()
		case errors.As(err, &ee) && ctx.Err() == nil:
			return ee.ExitCode(), o.String(), e.String()
		default:
			t.Fatalf("%s config check %s: %v", bin, path, err)
			return -1, "", ""
		}
	}
	goodPath := filepath.Join(dir, "valid", "raftvip.yaml")
	if err := os.MkdirAll(filepath.Dir(goodPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goodPath, []byte(valid), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := check(goodPath); code != 0 {
		t.Fatalf("the unbroken config is refused (exit %d): %s%s", code, out, errOut)
	}

	cases := []brokenConfig{
		{
			name:  "unknown key",
			edit:  func(s string) string { return strings.Replace(s, "lifetime: ", "lifetim: ", 1) },
			mark:  "lifetim: ",
			field: "vip.lifetim",
			words: []string{"unknown key", `"lifetime"`},
		},
		{
			name:  "VIP not a CIDR",
			edit:  func(s string) string { return strings.Replace(s, "- "+l.VIP4.String(), "- "+l.VIP4.Addr().String(), 1) },
			mark:  "- " + l.VIP4.Addr().String(),
			field: "vip.addresses[0]",
			words: []string{"prefix length"},
		},
		{
			name: "leader lease above heartbeat",
			edit: func(s string) string {
				return strings.Replace(s, "timing: lan", "timing: {profile: lan, leader_lease: 400ms}", 1)
			},
			mark:  "leader_lease: 400ms",
			field: "cluster.timing.leader_lease",
			words: []string{"heartbeat_timeout", "300ms"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := c.edit(valid)
			if text == valid {
				t.Fatalf("edit changed nothing in:\n%s", valid)
			}
			line := 0
			for i, s := range strings.Split(text, "\n") {
				if strings.Contains(s, c.mark) {
					line = i + 1
					break
				}
			}
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"), "raftvip.yaml")
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("raftvip: %s:%d: %s: ", path, line, c.field)

			// The agent, in lb1's namespace (where no agent runs).
			ctx, cancel := context.WithTimeout(context.Background(), refuseTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, "ip", "netns", "exec", n.NS, bin, "agent", "--config", path)
			cmd.WaitDelay = time.Second
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			t0 := time.Now()
			err := cmd.Run()
			took := time.Since(t0)
			if cmd.ProcessState == nil {
				t.Fatalf("start agent: %v", err)
			}
			code := cmd.ProcessState.ExitCode()
			t.Logf("agent exited %d after %v; stderr:\n%s", code, took.Round(time.Millisecond), strings.TrimRight(stderr.String(), "\n"))
			if ctx.Err() != nil {
				t.Fatalf("agent still running %v after start with a broken config: %v", refuseTimeout, err)
			}
			if code != 1 {
				t.Errorf("agent exit status %d, want 1", code)
			}
			checkMessage(t, "agent", stderr.String(), want, c.words)
			if stdout.Len() > 0 {
				t.Errorf("agent wrote to stdout: %q", stdout.String())
			}
			if after := addrs(); after != addrsBefore {
				t.Errorf("%s's addresses changed:\nbefore:\n%s\nafter:\n%s", n.Name, addrsBefore, after)
			}
			for _, p := range []string{base.Node.DataDir, base.Admin.Socket} {
				if _, err := os.Stat(p); err == nil {
					t.Errorf("the refused agent created %s", p)
				}
			}

			// config check prints the same line.
			ccode, cout, cerr := check(path)
			if ccode != 1 {
				t.Errorf("config check exit status %d, want 1 (stdout %q)", ccode, cout)
			}
			checkMessage(t, "config check", cerr, want, c.words)
			if cerr != stderr.String() {
				t.Errorf("config check says\n%s\nthe agent says\n%s", cerr, stderr.String())
			}
		})
	}
	if after := addrs(); !strings.Contains(after, " "+l.VIP4.String()+" ") {
		t.Errorf("stray VIP %s gone from %s:\n%s", l.VIP4, n.Name, after)
	}
}

// checkMessage asserts that out is one line starting with want and containing words.
func checkMessage(t *testing.T, who, out, want string, words []string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], want) {
		t.Errorf("%s: stderr %q, want one line starting with %q", who, out, want)
		return
	}
	for _, w := range words {
		if !strings.Contains(lines[0], w) {
			t.Errorf("%s: message %q does not mention %q", who, lines[0], w)
		}
	}
}
