package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// HAProxy on a lab node: every load balancer runs one, and the probe's requests
// through the VIP end there. KillHAProxy (faults.go) is its fault.

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
