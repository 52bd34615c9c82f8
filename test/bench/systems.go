package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/raftvip/raftvip/test"
)

// The systems under test: three load balancers each, the same HAProxy, the same VIP,
// priorities 150/120/100, five gratuitous ARPs one second apart on a takeover.

// system is one way of keeping the VIP on a healthy node.
type system struct {
	Name string // raftvip-lan, raftvip-fast, keepalived-v2, keepalived-v3
	Desc string // one line for the report

	raftvip bool
	timing  string           // raftvip: the timing profile
	vrrp    test.VRRPOptions // keepalived: the VRRP group
}

// The health check every system runs on its node's HAProxy.
const (
	healthInterval = 200 * time.Millisecond // raftvip's haproxy check
	healthFall     = 2
	healthRise     = 2
	moveWindow     = 10 * time.Second // raftvip min_move_interval (the default)
)

// priorities of the three load balancers, best first, as raftvip's HealthOptions.
var priorities = []int{150, 120, 100}

var systems = []system{
	{Name: "raftvip-lan", raftvip: true, timing: "lan"},
	{Name: "raftvip-fast", raftvip: true, timing: "fast"},
	{Name: "keepalived-v2", vrrp: test.VRRPOptions{Version: 2, AdvertInterval: time.Second}},
	{Name: "keepalived-v3", vrrp: test.VRRPOptions{Version: 3, AdvertInterval: 100 * time.Millisecond}},
}

// scenarios, in the order they run and are reported.
var scenarios = []string{"unplug", "kill", "partition", "haproxy", "planned"}

// pairs are the comparisons of the report: each raftvip system against the keepalived
// system whose timers are of the same order.
var pairs = [][2]string{{"raftvip-lan", "keepalived-v2"}, {"raftvip-fast", "keepalived-v3"}}

// options is the lab of s; kaCheck is keepalived's vrrp_script interval.
func (s system) options(kaCheck time.Duration, logf func(string, ...any)) test.Options {
	var o test.Options
	if s.raftvip {
		o = test.HealthOptions(healthInterval, healthFall, moveWindow, nil)
		o.HAProxyExtra = "" // the same HAProxy as keepalived's nodes
		o.Timing, o.StartAgents = s.timing, true
	} else {
		o = test.KeepalivedOnlyLab(s.vrrp, &test.ScriptCheck{Interval: kaCheck, Fall: healthFall, Rise: healthRise, Weight: 0}, priorities...)
	}
	o.Logf = logf
	return o
}

// nodes are the load balancers of s in l, best priority first.
func (s system) nodes(l *test.Lab) []*test.Node {
	if s.raftvip {
		return l.Nodes
	}
	return l.KANodes
}

// start starts the daemons (the agents start with the lab).
func (s system) start(l *test.Lab) error {
	if s.raftvip {
		return nil
	}
	for _, n := range l.KANodes {
		if err := l.StartKeepalived(n); err != nil {
			return err
		}
	}
	return nil
}

// fault applies scenario to h, the holder.
func (s system) fault(l *test.Lab, scenario string, h *test.Node) error {
	switch scenario {
	case "unplug":
		return l.Unplug(h)
	case "kill":
		if s.raftvip {
			return l.Kill(h)
		}
		return l.KillKeepalived(h) // the VRRP child, then the parent: no priority-0 advert
	case "partition":
		return l.Partition(h)
	case "haproxy":
		return l.KillHAProxy(h)
	case "planned":
		if s.raftvip {
			return l.RunCLI(h, "transfer", s.nodes(l)[1].Name).Err
		}
		return l.StopKeepalived(h, 10*time.Second) // SIGTERM: a priority-0 advert
	}
	return fmt.Errorf("unknown scenario %q", scenario)
}

// repair undoes scenario on h; steady then waits for the VIP to come back to the best
// node.
func (s system) repair(l *test.Lab, scenario string, h *test.Node) error {
	switch scenario {
	case "unplug":
		return l.Replug(h)
	case "kill":
		if s.raftvip {
			return l.StartAgentWait(h, 10*time.Second)
		}
		// keepalived left the VIP on eth0 when it was killed; a rebooted host has none.
		if err := l.RemoveVIPs(h); err != nil {
			return err
		}
		return l.StartKeepalived(h)
	case "partition":
		return l.Heal()
	case "haproxy":
		return l.StartHAProxy(h)
	case "planned":
		if s.raftvip {
			return nil
		}
		return l.StartKeepalived(h)
	}
	return fmt.Errorf("unknown scenario %q", scenario)
}

// steadyHold is how long the best node must have held the VIP alone before a trial.
const steadyHold = time.Second

// steady waits until the best node holds the VIP alone, steadily. keepalived gets
// there by itself (preemption after its master-down interval). raftvip moves back
// for priority only after min_move_interval (10 s), so the bench moves it with
// `raftvip transfer` at once: a planned move, not measured.
func (s system) steady(ctx context.Context, l *test.Lab, timeout time.Duration) error {
	nodes := s.nodes(l)
	best := nodes[0]
	deadline := time.Now().Add(timeout)
	if !s.raftvip {
		for i, n := range nodes {
			want := "BACKUP"
			if i == 0 {
				want = "MASTER"
			}
			if _, err := l.WaitKeepalivedState(n, want, time.Until(deadline)); err != nil {
				return err
			}
		}
		if err := l.WaitSoleHolder(ctx, best, steadyHold, time.Until(deadline)); err != nil {
			return err
		}
		return clientReaches(ctx, l, best)
	}
	var last error
	for time.Now().Before(deadline) {
		if err := l.WaitSoleHolder(ctx, best, 100*time.Millisecond, 300*time.Millisecond); err != nil {
			if r := l.RunCLI(best, "transfer", best.Name); r.Err != nil {
				last = r.Err
				if err := test.SleepCtx(ctx, 250*time.Millisecond); err != nil {
					return err
				}
				continue
			}
		}
		if err := l.WaitSoleHolder(ctx, best, steadyHold, 5*time.Second); err != nil {
			last = err
			continue
		}
		h, err := l.Holder()
		if err == nil && h == best {
			return clientReaches(ctx, l, best)
		}
		last = fmt.Errorf("status: holder %v: %w", h, err)
	}
	if last == nil {
		last = errors.New("no time left")
	}
	return fmt.Errorf("%s not the steady holder after %v: %w", best.Name, timeout, last)
}

// clientTimeout is how long the client may take to reach the best node through the VIP
// once that node holds it alone.
const clientTimeout = 5 * time.Second

// clientReaches checks that a request from the client through the VIP is answered by
// best within clientTimeout. When it is not, the error shows the client's neighbour
// entry for the VIP and whose MAC it names: a client still sending to a node that gave
// the VIP up is black-holed until its ARP entry expires.
func clientReaches(ctx context.Context, l *test.Lab, best *test.Node) error {
	deadline := time.Now().Add(clientTimeout)
	var last string
	for time.Now().Before(deadline) {
		node, err := l.Get(l.VIP4.Addr())
		if err == nil && node == best.Name {
			return nil
		}
		last = node
		if err != nil {
			last = err.Error()
		}
		if err := test.SleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	neigh, _ := l.Exec(l.ClientNS, "ip", "neigh", "show", l.VIP4.Addr().String())
	neigh = strings.TrimSpace(neigh)
	for _, n := range l.AllNodes() {
		if mac, err := l.MAC(n); err == nil && strings.Contains(neigh, mac.String()) {
			neigh += " (" + n.Name + "'s MAC)"
		}
	}
	return fmt.Errorf("%s holds the VIP alone but the client got no answer from it within %v (last: %s); client's neighbour entry: %s", best.Name, clientTimeout, last, neigh)
}
