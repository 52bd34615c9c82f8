package test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// startProc starts argv inside n's namespace with stdout and stderr appended to
// logPath, records it in the state file and reaps it in the background.
func (l *Lab) startProc(role string, n *Node, logPath string, argv ...string) (*proc, error) {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return nil, errors.New("lab: closed")
	}
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	defer f.Close()
	fmt.Fprintf(f, "=== lab: %s %s started %s: %s\n", n.Name, role, time.Now().Format(time.RFC3339Nano), strings.Join(argv, " "))
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.NS}, argv...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = n.Dir
	if err := l.spawn.start(cmd); err != nil {
		return nil, fmt.Errorf("lab: start %s on %s: %w", role, n.Name, err)
	}
	start, _ := procStart(cmd.Process.Pid)
	p := &proc{
		role: n.Name + "/" + role,
		cmd:  cmd,
		log:  logPath,
		done: make(chan struct{}),
		rec:  procRecord{Role: n.Name + "/" + role, PID: cmd.Process.Pid, Start: start, Cmdline: strings.Join(cmd.Args, " ")},
	}
	l.mu.Lock()
	l.state.Procs = append(l.state.Procs, p.rec)
	err = l.saveStateLocked()
	l.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.state.Procs = slices.DeleteFunc(l.state.Procs, func(r procRecord) bool { return r.PID == p.rec.PID && r.Start == p.rec.Start })
		if !l.closed || l.keep {
			_ = l.saveStateLocked()
		}
	}()
	return p, err
}

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
	argv := []string{bin, "agent", "--config", n.Config}
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

// AgentLogPath is the log file of n's agent run (1 = first start).
func (l *Lab) AgentLogPath(n *Node, run int) string {
	return filepath.Join(n.Dir, fmt.Sprintf("agent.%d.log", run))
}

// AgentRuns is how many times n's agent was started.
func (l *Lab) AgentRuns(n *Node) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return n.agentRuns
}

// AgentLog returns the log of n's agent run (1-based; 0 or less = the latest run).
func (l *Lab) AgentLog(n *Node, run int) (string, error) {
	if run <= 0 {
		run = l.AgentRuns(n)
	}
	b, err := os.ReadFile(l.AgentLogPath(n, run))
	return string(b), err
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

func (l *Lab) agentProc(n *Node) (*proc, error) {
	l.mu.Lock()
	p := n.agent
	l.mu.Unlock()
	if p == nil || p.exited() {
		return nil, fmt.Errorf("lab: %s: agent not running", n.Name)
	}
	return p, nil
}

// Kill SIGKILLs n's agent and waits until it is gone.
func (l *Lab) Kill(n *Node) error {
	p, err := l.agentProc(n)
	if err != nil {
		return err
	}
	if err := p.signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("lab: kill agent on %s: %w", n.Name, err)
	}
	if !p.wait(10 * time.Second) {
		return fmt.Errorf("lab: kill agent on %s: pid %d still there after 10s", n.Name, p.rec.PID)
	}
	l.logf("%s: agent killed (SIGKILL)", n.Name)
	return nil
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

// KillWithGuard SIGKILLs n's VIP guard and then its agent: a crash the guard cannot
// clean up after, so the killed node's kernel keeps the VIP until its lifetime runs
// out.
func (l *Lab) KillWithGuard(n *Node) error {
	g := l.GuardPID(n)
	if g == 0 {
		return fmt.Errorf("lab: %s: no vip guard found under the agent", n.Name)
	}
	if err := syscall.Kill(g, syscall.SIGKILL); err != nil {
		return fmt.Errorf("lab: kill vip guard on %s: %w", n.Name, err)
	}
	l.logf("%s: vip guard %d killed (SIGKILL)", n.Name, g)
	return l.Kill(n)
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

// Stop freezes n's agent (SIGSTOP).
func (l *Lab) Stop(n *Node) error {
	p, err := l.agentProc(n)
	if err != nil {
		return err
	}
	if err := p.signal(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("lab: stop agent on %s: %w", n.Name, err)
	}
	l.logf("%s: agent frozen (SIGSTOP)", n.Name)
	return nil
}

// Cont resumes n's agent (SIGCONT).
func (l *Lab) Cont(n *Node) error {
	p, err := l.agentProc(n)
	if err != nil {
		return err
	}
	if err := p.signal(syscall.SIGCONT); err != nil {
		return fmt.Errorf("lab: continue agent on %s: %w", n.Name, err)
	}
	l.logf("%s: agent resumed (SIGCONT)", n.Name)
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

// StartHAProxy starts `haproxy -f <cfg> -db` on n and waits for its stats socket.
func (l *Lab) StartHAProxy(n *Node) error {
	l.mu.Lock()
	running := n.haproxy != nil && !n.haproxy.exited()
	l.mu.Unlock()
	if running {
		return fmt.Errorf("lab: start haproxy on %s: already running", n.Name)
	}
	os.Remove(n.HAProxySocket)
	p, err := l.startProc("haproxy", n, filepath.Join(n.Dir, "haproxy.log"), "haproxy", "-f", n.HAProxyConfig, "-db")
	if p == nil {
		return err
	}
	l.mu.Lock()
	n.haproxy = p
	n.haproxyRuns++
	l.mu.Unlock()
	if err != nil {
		return err
	}
	// `ip netns exec` execs HAProxy, which runs in the foreground (-db): same PID.
	if err := os.WriteFile(n.HAProxyPIDFile, []byte(strconv.Itoa(p.rec.PID)+"\n"), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(n.HAProxySocket); err == nil {
			return nil
		}
		if p.exited() {
			b, _ := os.ReadFile(p.log)
			return fmt.Errorf("lab: haproxy on %s exited at start: %s", n.Name, tail(string(b), 10))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: haproxy on %s: no stats socket after 10s", n.Name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// KillHAProxy SIGKILLs HAProxy on n and waits until it is gone.
func (l *Lab) KillHAProxy(n *Node) error {
	l.mu.Lock()
	p := n.haproxy
	l.mu.Unlock()
	if p == nil || p.exited() {
		return fmt.Errorf("lab: kill haproxy on %s: not running", n.Name)
	}
	if err := p.signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("lab: kill haproxy on %s: %w", n.Name, err)
	}
	if !p.wait(10 * time.Second) {
		return fmt.Errorf("lab: kill haproxy on %s: still there after 10s", n.Name)
	}
	// No stale PID for a check to find alive should the kernel reuse it.
	if err := os.Remove(n.HAProxyPIDFile); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("lab: %w", err)
	}
	l.logf("%s: haproxy killed", n.Name)
	return nil
}

// Unplug takes n's bridge port down: n's eth0 loses carrier, n's processes keep running.
func (l *Lab) Unplug(n *Node) error {
	if err := l.ip("-n", l.BridgeNS, "link", "set", "dev", n.Port, "down"); err != nil {
		return err
	}
	l.logf("%s: unplugged", n.Name)
	return nil
}

// Replug brings n's bridge port up again.
func (l *Lab) Replug(n *Node) error {
	if err := l.ip("-n", l.BridgeNS, "link", "set", "dev", n.Port, "up"); err != nil {
		return err
	}
	l.logf("%s: replugged", n.Name)
	return nil
}

// Partition cuts n off from every other node of its kind (Peers: the other load
// balancers, or the other keepalived nodes), in both directions, with nftables rules
// on the bridge (table bridge rvpart). Links stay up and the client still reaches
// every node.
func (l *Lab) Partition(n *Node) error {
	return l.Block(n, l.Peers(n)...)
}

// Block drops all frames between n and each of others (both directions).
func (l *Lab) Block(n *Node, others ...*Node) error {
	l.mu.Lock()
	for _, o := range others {
		if o != n {
			l.blocked[portPair(n.Port, o.Port)] = true
		}
	}
	l.mu.Unlock()
	if err := l.applyBlocks(); err != nil {
		return err
	}
	names := make([]string, 0, len(others))
	for _, o := range others {
		names = append(names, o.Name)
	}
	l.logf("%s: partitioned from %s", n.Name, strings.Join(names, ", "))
	return nil
}

// Heal removes every partition rule.
func (l *Lab) Heal() error {
	l.mu.Lock()
	clear(l.blocked)
	l.mu.Unlock()
	if err := l.applyBlocks(); err != nil {
		return err
	}
	l.logf("partitions healed")
	return nil
}

func portPair(a, b string) [2]string {
	if b < a {
		a, b = b, a
	}
	return [2]string{a, b}
}

// applyBlocks replaces table bridge rvpart in the bridge namespace with rules for the
// current set of blocked pairs, in one nft transaction.
func (l *Lab) applyBlocks() error {
	l.mu.Lock()
	pairs := make([][2]string, 0, len(l.blocked))
	for p := range l.blocked {
		pairs = append(pairs, p)
	}
	l.mu.Unlock()
	slices.SortFunc(pairs, func(a, b [2]string) int { return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1]) })
	var b strings.Builder
	b.WriteString("add table bridge rvpart\ndelete table bridge rvpart\n")
	if len(pairs) > 0 {
		b.WriteString("table bridge rvpart {\n\tchain forward {\n\t\ttype filter hook forward priority 0; policy accept;\n")
		for _, p := range pairs {
			fmt.Fprintf(&b, "\t\tiifname %q oifname %q drop\n", p[0], p[1])
			fmt.Fprintf(&b, "\t\tiifname %q oifname %q drop\n", p[1], p[0])
		}
		b.WriteString("\t}\n}\n")
	}
	file := filepath.Join(l.Dir, "rvpart.nft")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if _, err := l.Exec(l.BridgeNS, "nft", "-f", file); err != nil {
		return err
	}
	return nil
}

// Rules returns the bridge namespace's nftables ruleset (for failure output).
func (l *Lab) Rules() string {
	out, err := l.Exec(l.BridgeNS, "nft", "list", "ruleset")
	if err != nil {
		return err.Error()
	}
	return out
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
