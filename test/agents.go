package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The agents' lifecycle: starting a raftvip agent in its node's namespace (each run
// logs to its own file), asking it to reload or to stop, finding its PID and its VIP
// guard's, and reading its logs. The faults that hit agents are in faults.go.

// StartAgents starts the agent on every node that does not run one.
func (l *Lab) StartAgents() error {
	for _, n := range l.Nodes {
		if l.AgentRunning(n) {
			continue
		}
		if err := l.StartAgent(n); err != nil {
			return err
		}
	}
	return nil
}

// StartAgent starts `raftvip agent --config <n.Config>` in n's namespace, on the same
// data directory as any earlier run. Each run logs to its own file, agent.<run>.log.
func (l *Lab) StartAgent(n *Node) error { return l.StartAgentEnv(n) }

// StartAgentEnv is StartAgent with extra environment variables (VAR=value) for the
// agent, e.g. systemd's NOTIFY_SOCKET.
func (l *Lab) StartAgentEnv(n *Node, env ...string) error {
	if l.AgentRunning(n) {
		return fmt.Errorf("lab: start agent on %s: already running (pid %d)", n.Name, n.agent.rec.PID)
	}
	bin, err := Binary()
	if err != nil {
		return err
	}
	run := n.agentRuns + 1
	argv := append([]string{bin, "agent", "--config", n.Config}, n.AgentArgs...)
	if len(env) > 0 {
		// env(1) execs the agent: the PID stays the agent's.
		argv = append(append([]string{"env"}, env...), argv...)
	}
	p, err := l.startProc("agent", n, l.AgentLogPath(n, run), argv...)
	if p == nil {
		return err
	}
	l.mu.Lock()
	n.agent, n.agentRuns = p, run
	l.mu.Unlock()
	l.logf("%s: agent run %d started, pid %d", n.Name, run, p.rec.PID)
	return err
}

// Reload sends SIGHUP to n's agent: it re-reads its config file.
func (l *Lab) Reload(n *Node) error {
	p, err := l.agentProc(n)
	if err != nil {
		return err
	}
	if err := p.signal(syscall.SIGHUP); err != nil {
		return fmt.Errorf("lab: SIGHUP agent on %s: %w", n.Name, err)
	}
	l.logf("%s: agent sent SIGHUP", n.Name)
	return nil
}

// Term sends SIGTERM to n's agent and waits up to timeout for it to exit. It returns
// the exit code (-1 if a signal ended it); an agent still running after timeout is an
// error and is left running.
func (l *Lab) Term(n *Node, timeout time.Duration) (int, error) {
	p, err := l.agentProc(n)
	if err != nil {
		return -1, err
	}
	t0 := time.Now()
	if err := p.signal(syscall.SIGTERM); err != nil {
		return -1, fmt.Errorf("lab: terminate agent on %s: %w", n.Name, err)
	}
	if !p.wait(timeout) {
		// A Go program dumps its goroutines to its log on SIGQUIT: that shows where it hangs.
		p.signal(syscall.SIGQUIT)
		p.wait(2 * time.Second)
		return -1, fmt.Errorf("lab: terminate agent on %s: still running %v after SIGTERM (goroutine dump in its log)", n.Name, timeout)
	}
	code := p.exitCode()
	l.logf("%s: agent exited %d, %v after SIGTERM", n.Name, code, time.Since(t0).Round(time.Millisecond))
	return code, nil
}

func (l *Lab) agentProc(n *Node) (*proc, error) {
	l.mu.Lock()
	p := n.agent
	l.mu.Unlock()
	if p == nil || p.exited() {
		return nil, fmt.Errorf("lab: %s: agent not running", n.Name)
	}
	return p, nil
}

// AgentRunning reports whether n's agent process exists (a stopped one counts).
func (l *Lab) AgentRunning(n *Node) bool {
	l.mu.Lock()
	p := n.agent
	l.mu.Unlock()
	return p != nil && !p.exited()
}

// AgentPID is the PID of n's agent, 0 if none runs.
func (l *Lab) AgentPID(n *Node) int {
	if !l.AgentRunning(n) {
		return 0
	}
	return n.agent.rec.PID
}

// GuardPID returns the PID of the VIP guard n's agent started, or 0 if there is
// none (no agent, or the guard is not up yet).
func (l *Lab) GuardPID(n *Node) int {
	pid := l.AgentPID(n)
	if pid == 0 {
		return 0
	}
	for _, c := range childPIDs(pid) {
		if cmd, err := procCmdline(c); err == nil && strings.Contains(cmd, " vip-guard ") {
			return c
		}
	}
	return 0
}

// childPIDs returns the children of pid, from every thread's children list.
func childPIDs(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// AgentRuns is how many times n's agent was started.
func (l *Lab) AgentRuns(n *Node) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return n.agentRuns
}

// AgentLogPath is the log file of n's agent run (1 = first start).
func (l *Lab) AgentLogPath(n *Node, run int) string {
	return filepath.Join(n.Dir, fmt.Sprintf("agent.%d.log", run))
}

// AgentLog returns the log of n's agent run (1-based; 0 or less = the latest run).
func (l *Lab) AgentLog(n *Node, run int) (string, error) {
	if run <= 0 {
		run = l.AgentRuns(n)
	}
	b, err := os.ReadFile(l.AgentLogPath(n, run))
	return string(b), err
}

// LogTails returns the last n lines of every agent log of every run (and of every
// keepalived log, with its state transitions), for failure output.
func (l *Lab) LogTails(lines int) string {
	var b strings.Builder
	for _, n := range l.Nodes {
		for run := 1; run <= l.AgentRuns(n); run++ {
			path := l.AgentLogPath(n, run)
			data, err := os.ReadFile(path)
			if err != nil {
				fmt.Fprintf(&b, "--- %s: %v\n", path, err)
				continue
			}
			fmt.Fprintf(&b, "--- %s agent run %d, last %d lines of %s\n%s", n.Name, run, lines, path, tail(string(data), lines))
		}
	}
	b.WriteString(l.KeepalivedLogTails(lines))
	return b.String()
}

// tail returns the last n lines of s, each ending in a newline.
func tail(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}
