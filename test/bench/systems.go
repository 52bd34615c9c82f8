package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/raftvip/raftvip/test"
)

// The systems under test: three load balancers each, the same HAProxy, priorities
// 150/120/100, five gratuitous ARPs one second apart on a takeover. Four keep one VIP;
// active-active and keepalived-aa keep three groups (three vrrp_instances), whose
// priorities rotate so that each load balancer tops one.

// system is one way of keeping the VIPs on healthy nodes.
type system struct {
	Name string // raftvip-lan, raftvip-fast, active-active, keepalived-v2, keepalived-v3, keepalived-aa
	Desc string // one line for the report

	raftvip bool
	timing  string           // raftvip: the timing profile
	vrrp    test.VRRPOptions // keepalived: the VRRP group (of the first instance)
	aa      bool             // the three groups of aaGroups instead of one VIP
	// pair: two load balancers (priorities 150 and 120), for raftvip with a witness,
	// lb3, a voter without HAProxy or VIP (docs/witness.md)
	pair bool
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
	{Name: "active-active", raftvip: true, timing: "lan", aa: true},
	{Name: "keepalived-v2", vrrp: test.VRRPOptions{Version: 2, AdvertInterval: time.Second}},
	{Name: "keepalived-v3", vrrp: test.VRRPOptions{Version: 3, AdvertInterval: 100 * time.Millisecond}},
	{Name: "keepalived-aa", vrrp: test.VRRPOptions{Version: 2, AdvertInterval: time.Second}, aa: true},
	{Name: "pair-lan", raftvip: true, timing: "lan", pair: true},
	{Name: "pair-fast", raftvip: true, timing: "fast", pair: true},
	{Name: "keepalived-pair-v2", vrrp: test.VRRPOptions{Version: 2, AdvertInterval: time.Second}, pair: true},
	{Name: "keepalived-pair-v3", vrrp: test.VRRPOptions{Version: 3, AdvertInterval: 100 * time.Millisecond}, pair: true},
}

// scenarios, in the order they run and are reported.
var scenarios = []string{"unplug", "unplug-leader", "kill", "partition", "haproxy", "planned"}

// pairs are the comparisons of the report: each raftvip system against the keepalived
// system whose timers and VIPs are of the same order.
var pairs = [][2]string{{"raftvip-lan", "keepalived-v2"}, {"raftvip-fast", "keepalived-v3"}, {"active-active", "keepalived-aa"},
	{"pair-lan", "keepalived-pair-v2"}, {"pair-fast", "keepalived-pair-v3"}}

// aaGroups are the groups of the active-active systems: each is topped by node top
// (0 = lb1 or ka1), the next nodes follow, wrapping: web lb1 > lb2 > lb3, api lb2 >
// lb3 > lb1, db lb3 > lb1 > lb2, at the priorities 150, 120, 100. keepalived-aa names
// its vrrp_instances after them.
var aaGroups = []aaGroup{
	{"web", netip.MustParsePrefix("198.18.0.21/24"), 51, 0},
	{"api", netip.MustParsePrefix("198.18.0.22/24"), 52, 1},
	{"db", netip.MustParsePrefix("198.18.0.23/24"), 53, 2},
}

// aaGroup is one group of the active-active systems.
type aaGroup struct {
	name string
	vip  netip.Prefix
	vrid int // keepalived-aa's virtual_router_id
	top  int // the index of the node that tops it
}

// aaPriority is the priority of node i (0-based) for the group topped by node top.
func aaPriority(top, i int) int {
	return priorities[(i-top+len(priorities))%len(priorities)]
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

// supports reports whether s runs scenario: unplug-leader needs a Raft leader (in a
// pair, the witness: unplugged, nothing should move).
func (s system) supports(scenario string) bool {
	return scenario != "unplug-leader" || s.raftvip
}

// options is the lab of s; kaCheck is keepalived's vrrp_script interval.
func (s system) options(kaCheck time.Duration, logf func(string, ...any)) test.Options {
	var o test.Options
	if s.raftvip {
		o = test.HealthOptions(healthInterval, healthFall, moveWindow, nil)
		o.HAProxyExtra = "" // the same HAProxy as keepalived's nodes
		o.Timing, o.StartAgents = s.timing, true
		o.Witness = s.pair // lb3, which HealthOptions' priorities leave out
		if s.aa {
			// No track: every group tracks every check, the haproxy check included.
			for _, g := range aaGroups {
				pr := map[string]int{}
				for i := range priorities {
					pr[fmt.Sprintf("lb%d", i+1)] = aaPriority(g.top, i)
				}
				o.Groups = append(o.Groups, test.LabGroup{Name: g.name, VIP: g.vip, Priorities: pr, MinMoveInterval: moveWindow})
			}
		}
	} else {
		prio := priorities
		if s.pair {
			prio = priorities[:2]
		}
		o = test.KeepalivedOnlyLab(s.vrrp, &test.ScriptCheck{Interval: kaCheck, Fall: healthFall, Rise: healthRise, Weight: 0}, prio...)
		if s.aa {
			// One vrrp_instance per group, each tracking chk_haproxy like the first.
			o.ConfigureKeepalived = func(n *test.Node, c *test.KeepalivedConfig) {
				idx := kaIndex(n)
				first := aaGroups[0]
				c.Instance, c.VRID, c.Priority, c.VIPs = first.name, first.vrid, aaPriority(first.top, idx), []netip.Prefix{first.vip}
				for _, g := range aaGroups[1:] {
					c.More = append(c.More, test.KeepalivedInstance{Instance: g.name, VRID: g.vrid, Priority: aaPriority(g.top, idx), VIPs: []netip.Prefix{g.vip}})
				}
			}
		}
	}
	o.Logf = logf
	return o
}

// kaIndex is the 0-based index of a keepalived node, ka1 → 0.
func kaIndex(n *test.Node) int {
	var i int
	fmt.Sscanf(n.Name, "ka%d", &i)
	return i - 1
}

// nodes are the load balancers of s in l, best priority (of the first group) first:
// not the witness of a pair.
func (s system) nodes(l *test.Lab) []*test.Node {
	if s.raftvip {
		return slices.DeleteFunc(slices.Clone(l.Nodes), func(n *test.Node) bool { return n.Witness })
	}
	return l.KANodes
}

// vipGroup is one VIP group of a system as the bench sees it: the name raftvip or
// keepalived gives it, its VIP and its nodes, best first. A one-VIP system has one.
type vipGroup struct {
	Name  string // the raftvip group or the vrrp_instance
	VIP   netip.Prefix
	Order []*test.Node
}

// groups are s's groups in l, in the order of aaGroups.
func (s system) groups(l *test.Lab) []vipGroup {
	nodes := s.nodes(l)
	if !s.aa {
		name := "vip"
		if !s.raftvip {
			name = "VI_1"
		}
		return []vipGroup{{Name: name, VIP: l.VIP4, Order: nodes}}
	}
	var out []vipGroup
	for _, g := range aaGroups {
		var order []*test.Node
		for k := range nodes {
			order = append(order, nodes[(g.top+k)%len(nodes)])
		}
		out = append(out, vipGroup{Name: g.name, VIP: g.vip, Order: order})
	}
	return out
}

// aim is whom a trial's fault hits and which group it measures.
type aim struct {
	target *test.Node
	group  vipGroup   // measured: the group target holds
	others []vipGroup // probed too: they should not move
	leader string     // the Raft leader before the fault; "" for keepalived
	stay   bool       // target holds no group: the measured group should not move
}

// aim picks, in the steady state, the node scenario hits and the group it measures.
// unplug-leader hits the Raft leader; every other scenario a holder that does not lead
// (keepalived: the MASTER of the first instance). The measured group is the one the
// target holds; a target that holds none (a leader that holds nothing) is measured on
// the first group, which should not move.
func (s system) aim(ctx context.Context, l *test.Lab, scenario string) (aim, error) {
	groups := s.groups(l)
	a := aim{group: groups[0], target: groups[0].Order[0]}
	if s.raftvip {
		ld, err := leader(ctx, l)
		if err != nil {
			return a, err
		}
		a.leader = ld.Name
		i := -1
		if scenario == "unplug-leader" {
			a.target = ld
			i = slices.IndexFunc(groups, func(g vipGroup) bool { return g.Order[0] == ld })
			if i < 0 {
				i, a.stay = 0, true
			}
		} else {
			i = slices.IndexFunc(groups, func(g vipGroup) bool { return g.Order[0] != ld })
			if i < 0 {
				return a, fmt.Errorf("every holder leads (leader %s)", ld.Name)
			}
			a.target = groups[i].Order[0]
		}
		a.group = groups[i]
	}
	for _, g := range groups {
		if g.Name != a.group.Name {
			a.others = append(a.others, g)
		}
	}
	return a, nil
}

// caughtUp checks that every agent of l runs, names the same leader and sees the
// same assignment (holder and index) of every group.
func caughtUp(ctx context.Context, l *test.Lab) error {
	if _, err := leader(ctx, l); err != nil {
		return err
	}
	sts, _ := l.Statuses(ctx)
	if len(sts) != len(l.Nodes) {
		return fmt.Errorf("%d of %d agents answer", len(sts), len(l.Nodes))
	}
	seen := map[string]string{}
	for n, st := range sts {
		for _, g := range st.Groups {
			v := fmt.Sprintf("%s@%d", g.Holder, g.Index)
			if w, ok := seen[g.Name]; ok && w != v {
				return fmt.Errorf("agents disagree on %s: %s sees %s, another %s", g.Name, n.Name, v, w)
			}
			seen[g.Name] = v
		}
	}
	return nil
}

// leader returns the node every running agent of l names as the Raft leader.
func leader(ctx context.Context, l *test.Lab) (*test.Node, error) {
	sts, errs := l.Statuses(ctx)
	for n, err := range errs {
		return nil, fmt.Errorf("status of %s: %w", n.Name, err)
	}
	name := ""
	for n, st := range sts {
		if st.Leader == "" || (name != "" && st.Leader != name) {
			return nil, fmt.Errorf("no agreed leader: %s says %q, another %q", n.Name, st.Leader, name)
		}
		name = st.Leader
	}
	n := l.Node(name)
	if n == nil {
		return nil, fmt.Errorf("leader %q is not a node of the lab", name)
	}
	return n, nil
}

// fault applies scenario to h, which holds g (or, for unplug-leader, leads).
func (s system) fault(l *test.Lab, scenario string, h *test.Node, g vipGroup) error {
	switch scenario {
	case "unplug", "unplug-leader":
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
			return s.transfer(l, h, g, g.Order[1], 0)
		}
		return l.StopKeepalived(h, 10*time.Second) // SIGTERM: a priority-0 advert
	}
	return fmt.Errorf("unknown scenario %q", scenario)
}

// transfer runs, on n, the `raftvip transfer` that moves g to target: with --group
// where there are several groups, and with --wait when wait is not 0 (else the
// command's default, 10 s).
func (s system) transfer(l *test.Lab, n *test.Node, g vipGroup, target *test.Node, wait time.Duration) error {
	args := []string{"transfer"}
	if wait > 0 {
		args = append(args, "--wait", wait.String())
	}
	if s.aa {
		args = append(args, "--group", g.Name)
	}
	return l.RunCLI(n, args[0], append(args[1:], target.Name)...).Err
}

// steadyTransferWait is how long the steady state's `raftvip transfer` waits for the
// group to land. A node just back from a fault may still be catching up with the
// Raft log when the move commits; the leader, hearing no holding report from it,
// gives the group back to the node that had it, where it would stay until
// min_move_interval allows preemption (10 s). Trying again soon is quicker.
const steadyTransferWait = 2 * time.Second

// repair undoes scenario on h; steady then waits for every group to come back to its
// best node.
func (s system) repair(l *test.Lab, scenario string, h *test.Node) error {
	switch scenario {
	case "unplug", "unplug-leader":
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

// steadyHold is how long every group's best node must have held it alone before a
// trial.
const steadyHold = time.Second

// steady waits until every group's best node holds it alone, steadily, and the client
// reaches that node through the group's VIP. keepalived gets there by itself
// (preemption after its master-down interval). raftvip moves a group back for
// priority only after min_move_interval (10 s), so the bench moves it with `raftvip
// transfer` at once: a planned move, not measured. raftvip's steady state also has an
// agreed Raft leader, and one that holds nothing where a node holds nothing.
func (s system) steady(ctx context.Context, l *test.Lab, timeout time.Duration) error {
	groups := s.groups(l)
	want := map[netip.Addr]*test.Node{}
	for _, g := range groups {
		want[g.VIP.Addr()] = g.Order[0]
	}
	deadline := time.Now().Add(timeout)
	if !s.raftvip {
		for _, n := range s.nodes(l) {
			for _, g := range groups {
				st := "BACKUP"
				if g.Order[0] == n {
					st = "MASTER"
				}
				var err error
				if s.aa {
					_, err = l.WaitInstanceState(n, g.Name, st, time.Until(deadline))
				} else {
					_, err = l.WaitKeepalivedState(n, st, time.Until(deadline))
				}
				if err != nil {
					return err
				}
			}
		}
		if err := l.WaitSoleHolders(ctx, want, steadyHold, time.Until(deadline)); err != nil {
			return err
		}
		return clientsReach(ctx, l, groups)
	}
	var last error
	for time.Now().Before(deadline) {
		// A node back from a fault first catches up with the log; a move to it before
		// that is undone at once (see steadyTransferWait).
		if err := caughtUp(ctx, l); err != nil {
			last = err
			if err := test.SleepCtx(ctx, 100*time.Millisecond); err != nil {
				return err
			}
			continue
		}
		moved := true
		for _, g := range groups {
			best := g.Order[0]
			if err := l.WaitSoleHolders(ctx, map[netip.Addr]*test.Node{g.VIP.Addr(): best}, 100*time.Millisecond, 300*time.Millisecond); err != nil {
				if err := s.transfer(l, best, g, best, steadyTransferWait); err != nil {
					last, moved = err, false
				}
			}
		}
		if !moved {
			if err := test.SleepCtx(ctx, 250*time.Millisecond); err != nil {
				return err
			}
			continue
		}
		if err := l.WaitSoleHolders(ctx, want, steadyHold, 5*time.Second); err != nil {
			last = err
			continue
		}
		if err := s.agentsAgree(ctx, l, groups); err != nil {
			last = err
			if err := test.SleepCtx(ctx, 250*time.Millisecond); err != nil {
				return err
			}
			continue
		}
		return clientsReach(ctx, l, groups)
	}
	if last == nil {
		last = errors.New("no time left")
	}
	return fmt.Errorf("the groups are not steadily on their best nodes after %v: %w", timeout, last)
}

// agentsAgree checks the agents' view of the steady state: each group held by its
// best node by status, and an agreed leader that holds nothing if a node holds
// nothing (the leader moves there by itself).
func (s system) agentsAgree(ctx context.Context, l *test.Lab, groups []vipGroup) error {
	for _, g := range groups {
		var (
			h   *test.Node
			err error
		)
		if s.aa {
			h, err = l.GroupHolder(ctx, g.Name)
		} else {
			h, err = l.Holder()
		}
		if err != nil || h != g.Order[0] {
			return fmt.Errorf("status: holder of %s %v, want %s: %w", g.Name, h, g.Order[0].Name, err)
		}
	}
	ld, err := leader(ctx, l)
	if err != nil {
		return err
	}
	var idle []string
	for _, n := range l.Nodes { // a witness holds nothing
		if !slices.ContainsFunc(groups, func(g vipGroup) bool { return g.Order[0] == n }) {
			idle = append(idle, n.Name)
		}
	}
	if len(idle) > 0 && !slices.Contains(idle, ld.Name) {
		return fmt.Errorf("leader %s holds a group while %s hold nothing", ld.Name, strings.Join(idle, ", "))
	}
	if s.pair && !ld.Witness {
		return fmt.Errorf("leader %s is not the witness", ld.Name) // it moves there by itself
	}
	return nil
}

// clientsReach checks clientReaches for every group.
func clientsReach(ctx context.Context, l *test.Lab, groups []vipGroup) error {
	for _, g := range groups {
		if err := clientReaches(ctx, l, g.VIP.Addr(), g.Order[0]); err != nil {
			return err
		}
	}
	return nil
}

// clientTimeout is how long the client may take to reach the best node through the VIP
// once that node holds it alone.
const clientTimeout = 5 * time.Second

// clientReaches checks that a request from the client through vip is answered by
// best within clientTimeout. When it is not, the error shows the client's neighbour
// entry for the VIP and whose MAC it names: a client still sending to a node that gave
// the VIP up is black-holed until its ARP entry expires.
func clientReaches(ctx context.Context, l *test.Lab, vip netip.Addr, best *test.Node) error {
	deadline := time.Now().Add(clientTimeout)
	var last string
	for time.Now().Before(deadline) {
		node, err := l.Get(vip)
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
	neigh, _ := l.Exec(l.ClientNS, "ip", "neigh", "show", vip.String())
	neigh = strings.TrimSpace(neigh)
	for _, n := range l.AllNodes() {
		if mac, err := l.MAC(n); err == nil && strings.Contains(neigh, mac.String()) {
			neigh += " (" + n.Name + "'s MAC)"
		}
	}
	return fmt.Errorf("%s holds %s alone but the client got no answer from it within %v (last: %s); client's neighbour entry: %s", best.Name, vip, clientTimeout, last, neigh)
}

// aaVIPs lists the active-active VIPs for the report.
func aaVIPs() string {
	var parts []string
	for _, g := range aaGroups {
		parts = append(parts, fmt.Sprintf("%s (%s)", g.vip, g.name))
	}
	return strings.Join(parts, ", ")
}

// aaRotation lists each active-active group's nodes, best first, for the report.
func aaRotation() string {
	var parts []string
	for _, g := range aaGroups {
		var order []string
		for k := range priorities {
			order = append(order, fmt.Sprintf("lb%d", (g.top+k)%len(priorities)+1))
		}
		parts = append(parts, g.name+" "+strings.Join(order, " > "))
	}
	return strings.Join(parts, ", ") + " (ka1, ka2, ka3 alike)"
}
