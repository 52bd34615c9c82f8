package test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Faults the lab injects and their heals: an agent killed (with or without its VIP
// guard) or frozen, HAProxy killed, a node unplugged from the bridge or partitioned
// from its peers by nftables.

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
