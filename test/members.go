package test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Membership helpers: `raftvip members --json`, the client verbs with their
// exit code and stderr, wiping a data dir, waiting for an agent that leaves by itself,
// and cutting the Raft port of one node.

// MembersJSON is the output of `raftvip members --json` (cluster.MembersResponse).
type MembersJSON struct {
	Node    string       `json:"node"`
	Leader  string       `json:"leader"`
	Holder  string       `json:"holder"`
	Members []MemberJSON `json:"members"`
}

// MemberJSON is one entry of MembersJSON.Members (cluster.MemberInfo).
type MemberJSON struct {
	Name          string `json:"name"`
	Address       string `json:"address"`        // raft address, "" if not in raft
	GossipAddress string `json:"gossip_address"` // "" if unknown to gossip
	Role          string `json:"role"`           // leader | voter | non-voter | none
	Gossip        string `json:"gossip"`         // alive | suspect | dead | left | unknown
	Priority      int    `json:"priority"`
	Eligible      bool   `json:"eligible"`
	Ineligible    string `json:"ineligible"`
	Holder        bool   `json:"holder"`
	Drained       bool   `json:"drained"`
	Version       string `json:"version"`
}

// Voter reports whether the member counts toward the quorum (a voter or the leader).
func (m MemberJSON) Voter() bool { return m.Role == "voter" || m.Role == "leader" }

// Get returns the member called name.
func (ms MembersJSON) Get(name string) (MemberJSON, bool) {
	i := slices.IndexFunc(ms.Members, func(m MemberJSON) bool { return m.Name == name })
	if i < 0 {
		return MemberJSON{}, false
	}
	return ms.Members[i], true
}

// Names returns the names of every member listed, sorted.
func (ms MembersJSON) Names() []string {
	var out []string
	for _, m := range ms.Members {
		out = append(out, m.Name)
	}
	slices.Sort(out)
	return out
}

// Voters returns the names of the voters (the leader included), sorted.
func (ms MembersJSON) Voters() []string {
	var out []string
	for _, m := range ms.Members {
		if m.Voter() {
			out = append(out, m.Name)
		}
	}
	slices.Sort(out)
	return out
}

// Holders returns the names of the members marked as holding the VIP.
func (ms MembersJSON) Holders() []string {
	var out []string
	for _, m := range ms.Members {
		if m.Holder {
			out = append(out, m.Name)
		}
	}
	return out
}

// String renders the view on one line for test logs:
// "lb1 sees leader lb2, holder lb2: lb1 voter/alive, lb2 leader/alive*, ...".
func (ms MembersJSON) String() string {
	var parts []string
	for _, m := range ms.Members {
		p := fmt.Sprintf("%s %s/%s", m.Name, m.Role, m.Gossip)
		if m.Holder {
			p += "*"
		}
		parts = append(parts, p)
	}
	return fmt.Sprintf("%s sees leader %q, holder %q: %s", ms.Node, ms.Leader, ms.Holder, strings.Join(parts, ", "))
}

// HasVoters returns a condition for WaitMembers: the view has a leader and lists
// exactly names, each a voter that gossip reports alive.
func HasVoters(names ...string) func(MembersJSON) bool {
	want := slices.Sorted(slices.Values(names))
	return func(ms MembersJSON) bool {
		if ms.Leader == "" || !slices.Equal(ms.Names(), want) || !slices.Equal(ms.Voters(), want) {
			return false
		}
		for _, m := range ms.Members {
			if m.Gossip != "alive" {
				return false
			}
		}
		return true
	}
}

// Members runs `raftvip members --json` against n's admin socket and decodes it.
func (l *Lab) Members(n *Node) (MembersJSON, error) {
	r := l.runCLI(n, false, "members", "--json")
	if r.Err != nil {
		return MembersJSON{}, r.Err
	}
	var ms MembersJSON
	if err := json.Unmarshal([]byte(r.Stdout), &ms); err != nil {
		return MembersJSON{}, fmt.Errorf("members of %s: decode %q: %w", n.Name, tail(r.Stdout, 5), err)
	}
	return ms, nil
}

// WaitMembers polls n's members until cond holds, at most timeout; it returns the last
// view seen.
func (l *Lab) WaitMembers(n *Node, timeout time.Duration, cond func(MembersJSON) bool) (MembersJSON, error) {
	deadline := time.Now().Add(timeout)
	for {
		ms, err := l.Members(n)
		if err == nil && cond(ms) {
			return ms, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("condition not met: %v", ms)
			}
			return ms, fmt.Errorf("lab: wait for members of %s (%v): %w", n.Name, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// CLIResult is one run of a raftvip client verb.
type CLIResult struct {
	Args   []string // verb and arguments, without --socket
	Stdout string
	Stderr string
	Code   int   // exit code; -1 if it did not run or was killed
	Err    error // nil iff Code == 0
}

// OneLineError says what is wrong with r as the failure of a client verb ("" if
// nothing): the contract is exit code 1 and exactly one line on stderr, nothing on
// stdout.
func (r CLIResult) OneLineError() string {
	var probs []string
	if r.Code != 1 {
		probs = append(probs, fmt.Sprintf("exit code %d, want 1", r.Code))
	}
	if s := strings.TrimRight(r.Stderr, "\n"); s == "" || strings.Contains(s, "\n") {
		probs = append(probs, fmt.Sprintf("stderr is not one line: %q", r.Stderr))
	}
	if strings.TrimSpace(r.Stdout) != "" {
		probs = append(probs, fmt.Sprintf("stdout not empty: %q", r.Stdout))
	}
	return strings.Join(probs, "; ")
}

func (r CLIResult) String() string {
	return fmt.Sprintf("raftvip %s: exit %d, stdout %q, stderr %q", strings.Join(r.Args, " "), r.Code, strings.TrimSpace(r.Stdout), strings.TrimSpace(r.Stderr))
}

// CLITimeout bounds one client verb (leave waits up to 30 s for its agent to exit).
const CLITimeout = 60 * time.Second

// RunCLI runs `raftvip VERB --socket <n's socket> ARGS...` in n's namespace and returns
// stdout, stderr and the exit code apart (CLI merges them).
func (l *Lab) RunCLI(n *Node, verb string, args ...string) CLIResult {
	return l.runCLI(n, true, verb, args...)
}

func (l *Lab) runCLI(n *Node, logIt bool, verb string, args ...string) CLIResult {
	r := CLIResult{Args: append([]string{verb}, args...), Code: -1}
	bin, err := Binary()
	if err != nil {
		r.Err = err
		return r
	}
	ctx, cancel := context.WithTimeout(context.Background(), CLITimeout)
	defer cancel()
	argv := append([]string{"netns", "exec", n.NS, bin, verb, "--socket", n.Socket}, args...)
	cmd := exec.CommandContext(ctx, "ip", argv...)
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	err = cmd.Run()
	r.Stdout, r.Stderr = stdout.String(), stderr.String()
	if cmd.ProcessState != nil {
		r.Code = cmd.ProcessState.ExitCode()
	}
	if err != nil {
		r.Err = fmt.Errorf("raftvip %s on %s: %w: %s", strings.Join(r.Args, " "), n.Name, err, strings.TrimSpace(r.Stderr))
	}
	if logIt {
		out := strings.TrimSpace(r.Stdout + "\n" + r.Stderr)
		l.logf("%s: raftvip %s (exit %d, %v): %s", n.Name, strings.Join(r.Args, " "), r.Code, time.Since(t0).Round(time.Millisecond), out)
	}
	return r
}

// Keygen runs `raftvip keygen` (no agent, no namespace needed) and checks that it
// printed a base64 key of 32 bytes.
func Keygen() (string, error) {
	bin, err := Binary()
	if err != nil {
		return "", err
	}
	out, err := run(10*time.Second, bin, "keygen")
	if err != nil {
		return "", err
	}
	key := strings.TrimSpace(out)
	b, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(b) != 32 {
		return "", fmt.Errorf("lab: raftvip keygen printed %q: want 32 bytes in standard base64 (%v)", out, err)
	}
	return key, nil
}

// StartAgentWait starts n's agent and waits until its admin socket answers, at most
// timeout (a client verb sent before that finds nothing listening).
func (l *Lab) StartAgentWait(n *Node, timeout time.Duration) error {
	if err := l.StartAgent(n); err != nil {
		return err
	}
	_, err := l.WaitStatus(n, timeout, func(Status) bool { return true })
	return err
}

// WipeData deletes n's data directory and creates it empty, as an operator who
// reinstalls a node does. The agent must not be running.
func (l *Lab) WipeData(n *Node) error {
	if l.AgentRunning(n) {
		return fmt.Errorf("lab: wipe data of %s: agent running (pid %d)", n.Name, l.AgentPID(n))
	}
	if err := os.RemoveAll(n.DataDir); err != nil {
		return fmt.Errorf("lab: wipe data of %s: %w", n.Name, err)
	}
	if err := os.MkdirAll(n.DataDir, 0o700); err != nil {
		return fmt.Errorf("lab: wipe data of %s: %w", n.Name, err)
	}
	l.logf("%s: data dir %s wiped", n.Name, n.DataDir)
	return nil
}

// WaitAgentExit waits up to timeout for n's agent to exit by itself (after `raftvip
// leave`) and returns its exit code (-1 if a signal ended it). It sends no signal.
func (l *Lab) WaitAgentExit(n *Node, timeout time.Duration) (int, error) {
	l.mu.Lock()
	p := n.agent
	l.mu.Unlock()
	if p == nil {
		return -1, fmt.Errorf("lab: %s: agent never started", n.Name)
	}
	if !p.wait(timeout) {
		return -1, fmt.Errorf("lab: %s: agent (pid %d) still running after %v", n.Name, p.rec.PID, timeout)
	}
	code := p.exitCode()
	l.logf("%s: agent exited %d", n.Name, code)
	return code, nil
}

// BlockRaft drops every IPv4 TCP segment to or from the Raft port (which also carries
// the cluster RPC) of the given nodes, on the bridge (table bridge rvraft); gossip,
// HAProxy and the VIP are untouched. A node that joins while blocked is added as a
// non-voter but never catches up, so it stays one. No nodes: remove the rules.
func (l *Lab) BlockRaft(nodes ...*Node) error {
	var b strings.Builder
	b.WriteString("add table bridge rvraft\ndelete table bridge rvraft\n")
	if len(nodes) > 0 {
		b.WriteString("table bridge rvraft {\n\tchain forward {\n\t\ttype filter hook forward priority 0; policy accept;\n")
		for _, n := range nodes {
			for _, dir := range []string{"iifname", "oifname"} {
				for _, port := range []string{"sport", "dport"} {
					fmt.Fprintf(&b, "\t\t%s %q ip protocol tcp tcp %s %d drop\n", dir, n.Port, port, RaftPort)
				}
			}
		}
		b.WriteString("\t}\n}\n")
	}
	file := filepath.Join(l.Dir, "rvraft.nft")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if _, err := l.Exec(l.BridgeNS, "nft", "-f", file); err != nil {
		return err
	}
	if len(nodes) == 0 {
		l.logf("raft port unblocked")
	} else {
		l.logf("raft port blocked for %v", nodes)
	}
	return nil
}

// MeasureTransfer is the figures' transfer scenario: with the probe and the sampler
// running, `raftvip transfer <target>` on the holder moves the VIP by a planned move.
func (l *Lab) MeasureTransfer(ctx context.Context, holder, target *Node, serveTimeout, settle time.Duration) (Failover, error) {
	return l.MeasureFault(ctx, holder, func() error {
		return l.RunCLI(holder, "transfer", target.Name).Err
	}, serveTimeout, settle)
}

// MeasureLeave is the figures' leave scenario: `raftvip leave` on the holder hands the
// VIP over, takes the node out of the cluster and ends its agent, which must exit 0.
// The cluster must keep at least three voters (no --force).
func (l *Lab) MeasureLeave(ctx context.Context, holder *Node, serveTimeout, settle time.Duration) (Failover, error) {
	return l.MeasureFault(ctx, holder, func() error {
		if r := l.RunCLI(holder, "leave"); r.Err != nil {
			return r.Err
		}
		code, err := l.WaitAgentExit(holder, 10*time.Second)
		if err == nil && code != 0 {
			err = fmt.Errorf("agent on %s exited %d after leave, want 0", holder.Name, code)
		}
		return err
	}, serveTimeout, settle)
}

// errorMentions reports whether the stderr of r mentions any of words
// (case-insensitive).
func errorMentions(r CLIResult, words ...string) bool {
	s := strings.ToLower(r.Stderr)
	return slices.ContainsFunc(words, func(w string) bool { return strings.Contains(s, strings.ToLower(w)) })
}
