package test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// VIP groups held under quorum leases (DESIGN §9): groups spread over the load
// balancers, a holder need not lead, and a fault, a partition or an operator's move of
// one group leaves the others alone. Every group has its own probe and the sampler
// reads every group's VIP on every node.

// groupsLab is a lab whose agents hold groups, with a probe per group's VIP and the
// sampler on all of them.
type groupsLab struct {
	*Lab
	t      *testing.T
	s      *Sampler
	probes map[string]*Probe
	t0     time.Time
}

// rotated is three groups whose priorities are rotated so that each load balancer tops
// one: web on lb1, api on lb2, db on lb3; the second choice of each is the next node.
func rotated() []LabGroup {
	return []LabGroup{
		{Name: "web", VIP: netip.MustParsePrefix("198.18.0.21/24"), Priorities: map[string]int{"lb1": 150, "lb2": 120, "lb3": 100}},
		{Name: "api", VIP: netip.MustParsePrefix("198.18.0.22/24"), Priorities: map[string]int{"lb2": 150, "lb3": 120, "lb1": 100}},
		{Name: "db", VIP: netip.MustParsePrefix("198.18.0.23/24"), Priorities: map[string]int{"lb3": 150, "lb1": 120, "lb2": 100}},
	}
}

// startGroups starts a lab with groups, waits until each group is held where want
// says, and starts the probes and the sampler.
func startGroups(t *testing.T, opts Options, want map[string]string) *groupsLab {
	t.Helper()
	opts.StartAgents = true
	l := &groupsLab{Lab: NewLab(t, opts), t: t, probes: map[string]*Probe{}}
	for g, n := range want {
		h, err := l.WaitGroupHolder(g, formTimeout)
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != n {
			// Placement is by priority: the best node gets it, at formation or by
			// preemption soon after.
			if h, err = l.waitGroupOn(g, l.Node(n), 10*time.Second); err != nil {
				t.Fatalf("%s: %v", g, err)
			}
		}
	}
	var err error
	if l.s, err = l.StartSampler(); err != nil {
		t.Fatal(err)
	}
	for _, g := range opts.Groups {
		p, err := l.StartProbe(g.VIP.Addr())
		if err != nil {
			t.Fatal(err)
		}
		l.probes[g.Name] = p
	}
	l.t0 = time.Now()
	for g, n := range want {
		if _, err := l.probes[g].WaitFor(5*time.Second, func(r Result) bool { return r.OK && r.Node == n }); err != nil {
			t.Fatalf("the client of %s is not served by %s: %v", g, n, err)
		}
	}
	t.Logf("groups held: %s", l.describe())
	return l
}

// waitGroupOn waits until node n holds group g.
func (l *groupsLab) waitGroupOn(g string, n *Node, timeout time.Duration) (*Node, error) {
	deadline := time.Now().Add(timeout)
	for {
		h, err := l.GroupHolder(context.Background(), g)
		if err == nil && h == n {
			return h, nil
		}
		if time.Now().After(deadline) {
			got := "none"
			if h != nil {
				got = h.Name
			}
			return nil, fmt.Errorf("%s not on %s after %v (holder %s, %v)", g, n.Name, timeout, got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// describe lists each group's holder as the agents' statuses say.
func (l *groupsLab) describe() string {
	var parts []string
	for _, g := range l.Options().Groups {
		h, err := l.GroupHolder(context.Background(), g.Name)
		switch {
		case err != nil:
			parts = append(parts, fmt.Sprintf("%s: %v", g.Name, err))
		default:
			parts = append(parts, g.Name+" on "+h.Name)
		}
	}
	return strings.Join(parts, "; ")
}

// untouched checks that group g's client saw no failed request and that its VIP stayed
// on holder alone, from `from` on.
func (l *groupsLab) untouched(g, holder string, from time.Time) {
	l.t.Helper()
	vip := l.GroupVIP(g)
	ps := l.probes[g].Summary(from, time.Time{})
	hs := l.s.Summary(vip, Filter{From: from})
	l.t.Logf("%s (untouched): %v", g, ps)
	if ps.Failures > 0 || ps.Successes == 0 || len(ps.Answered) != 1 || ps.Answered[holder] == 0 {
		l.t.Errorf("%s: its client saw failures or another node: %v", g, ps)
	}
	if len(hs.Timeline) != 1 || !slices.Equal(hs.Timeline[0].Holders, []string{holder}) {
		l.t.Errorf("%s moved: %v", g, hs)
	}
}

// settles waits until g is on n, lets the move settle for settle, and fails the test
// if g's client saw a failed request since from; what names the move.
func (l *groupsLab) settles(what, g string, n *Node, from time.Time, within, settle time.Duration) {
	l.t.Helper()
	if _, err := l.waitGroupOn(g, n, within); err != nil {
		l.t.Fatal(err)
	}
	time.Sleep(settle)
	if ps := l.probes[g].Summary(from, time.Time{}); ps.Failures > 0 {
		l.t.Errorf("%s's client saw failed requests %s: %v", g, what, ps)
	}
}

// moved checks that group g went from old to a node other than old, that its client
// is served by the new holder, and returns it with the client's gap.
func (l *groupsLab) moved(g string, old *Node, from time.Time, timeout time.Duration) (*Node, ProbeSummary) {
	l.t.Helper()
	nh, err := l.WaitGroupHolder(g, timeout, old)
	if err != nil {
		l.t.Fatal(err)
	}
	if _, err := l.probes[g].WaitFor(timeout, func(r Result) bool { return r.OK && r.Start.After(from) && r.Node == nh.Name }); err != nil {
		l.t.Fatalf("%s: the client is not served by %s: %v", g, nh.Name, err)
	}
	return nh, l.probes[g].Summary(from.Add(-500*time.Millisecond), time.Now())
}

// stop stops the probes and the sampler and checks, for every group, that no two nodes
// held its VIP at once.
func (l *groupsLab) stop() {
	l.t.Helper()
	for _, p := range l.probes {
		p.Stop()
	}
	l.s.Stop()
	for _, g := range l.Options().Groups {
		if sum := l.s.Summary(g.VIP.Addr(), Filter{}); sum.MaxHolders > 1 {
			l.t.Errorf("%s: two holders: %v", g.Name, sum)
		}
	}
}

// Scenario 1: three load balancers, three groups with rotated priorities: each holds
// one, and status shows the spread. lb1 unplugged: only web moves; the clients of
// api and db see no failed request.
func TestGroupsSpread(t *testing.T) {
	l := startGroups(t, Options{Groups: rotated()}, map[string]string{"web": "lb1", "api": "lb2", "db": "lb3"})
	lb1 := l.Node("lb1")

	out, err := l.CLI(lb1, "status")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("raftvip status on lb1:\n%s", out)
	for _, want := range []string{"groups:", "web", "198.18.0.21/24", "api", "db", "HELD"} {
		if !strings.Contains(out, want) {
			t.Errorf("status of lb1 lacks %q:\n%s", want, out)
		}
	}
	st, err := l.Status(l.Node("lb2"))
	if err != nil {
		t.Fatal(err)
	}
	for g, want := range map[string]string{"web": "lb1", "api": "lb2", "db": "lb3"} {
		if sg, ok := st.Group(g); !ok || sg.Holder != want || sg.Holding != (want == "lb2") {
			t.Errorf("lb2's status of %s: %+v, want held by %s", g, sg, want)
		}
	}

	cut := time.Now()
	if err := l.Unplug(lb1); err != nil {
		t.Fatal(err)
	}
	nh, ps := l.moved("web", lb1, cut, serveTimeout)
	t.Logf("figure groups-unplug: web moved lb1 → %s, client gap %v: %v", nh.Name, ps.Gap.Round(time.Millisecond), ps)
	if nh.Name != "lb2" {
		t.Errorf("web moved to %s, want lb2 (priority 120)", nh.Name)
	}
	time.Sleep(time.Second)
	l.untouched("api", "lb2", cut)
	l.untouched("db", "lb3", cut)
	l.stop()
}

// twoGroups is scenarios 2 and 3: two groups topped by lb1 and lb2; lb3 (lowest for
// both) holds nothing.
func twoGroups() []LabGroup {
	return []LabGroup{
		{Name: "web", VIP: netip.MustParsePrefix("198.18.0.21/24"), Priorities: map[string]int{"lb1": 150, "lb2": 120, "lb3": 100}},
		{Name: "api", VIP: netip.MustParsePrefix("198.18.0.22/24"), Priorities: map[string]int{"lb2": 150, "lb1": 120, "lb3": 100}},
	}
}

// waitLeader waits until every running agent names n as the leader.
func waitLeader(t *testing.T, l *Lab, n *Node, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, n.Name+" leads", func() string {
		sts, errs := l.Statuses(context.Background())
		for m, err := range errs {
			return fmt.Sprintf("status of %s: %v", m.Name, err)
		}
		for m, st := range sts {
			if st.Leader != n.Name {
				return fmt.Sprintf("%s says the leader is %q", m.Name, st.Leader)
			}
		}
		return ""
	})
}

// Scenarios 2 and 3: lb3 holds nothing and leads. The holder of web (lb1, not the
// leader) is unplugged: only web moves, the client of api sees no failed request.
// Then the leader is killed with SIGKILL: no group's client sees a failed request.
func TestGroupsLeaderHoldsNothing(t *testing.T) {
	l := startGroups(t, Options{Groups: twoGroups()}, map[string]string{"web": "lb1", "api": "lb2"})
	lb1, lb2, lb3 := l.Node("lb1"), l.Node("lb2"), l.Node("lb3")
	waitLeader(t, l.Lab, lb3, 10*time.Second)

	cut := time.Now()
	if err := l.Unplug(lb1); err != nil {
		t.Fatal(err)
	}
	nh, ps := l.moved("web", lb1, cut, serveTimeout)
	t.Logf("figure groups-holder-not-leader: web moved lb1 → %s, client gap %v: %v", nh.Name, ps.Gap.Round(time.Millisecond), ps)
	if ps.Gap > 5*time.Second {
		t.Errorf("web's client waited %v, want a failover well under 5 s", ps.Gap)
	}
	time.Sleep(time.Second)
	l.untouched("api", "lb2", cut)
	if st, err := l.Status(lb3); err != nil || st.State != "leader" {
		t.Errorf("lb3 no longer leads after lb1 was unplugged: %s (%v)", st.State, err)
	}

	// lb1 back: web returns to it by preemption (a planned move).
	if err := l.Replug(lb1); err != nil {
		t.Fatal(err)
	}
	if _, err := l.waitGroupOn("web", lb1, 15*time.Second); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, l.Lab, lb3, 10*time.Second)
	time.Sleep(time.Second)

	// Scenario 3: the leader, which holds nothing, dies.
	kill := time.Now()
	if err := l.Kill(lb3); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a new leader", func() string {
		st, err := l.Status(lb1)
		if err != nil || st.Leader == "" || st.Leader == lb3.Name {
			return fmt.Sprintf("lb1 says leader %q (%v)", st.Leader, err)
		}
		return ""
	})
	time.Sleep(2 * time.Second)
	for g, h := range map[string]*Node{"web": lb1, "api": lb2} {
		ps := l.probes[g].Summary(kill, time.Time{})
		t.Logf("figure groups-leader-killed: %s: %v", g, ps)
		if ps.Failures > 0 {
			t.Errorf("%s's client saw %d failed requests when the leader died: %v", g, ps.Failures, ps)
		}
		l.untouched(g, h.Name, kill)
	}
	l.stop()
}

// Scenario 4: the holder of api (lb2) is cut off from the others: api moves to the
// majority side; never two holders of any group, during the partition or after it heals.
func TestGroupsPartition(t *testing.T) {
	l := startGroups(t, Options{Groups: rotated()}, map[string]string{"web": "lb1", "api": "lb2", "db": "lb3"})
	lb2 := l.Node("lb2")

	cut := time.Now()
	if err := l.Partition(lb2); err != nil {
		t.Fatal(err)
	}
	nh, ps := l.moved("api", lb2, cut, serveTimeout)
	t.Logf("api moved lb2 → %s in the partition, client gap %v: %v", nh.Name, ps.Gap.Round(time.Millisecond), ps)
	if nh.Name != "lb3" {
		t.Errorf("api moved to %s, want lb3 (priority 120)", nh.Name)
	}
	if st, err := l.WaitStatus(lb2, 5*time.Second, func(st Status) bool {
		g, _ := st.Group("api")
		return !g.Holding
	}); err != nil {
		t.Errorf("cut-off lb2 still says it holds api: %v", err)
	} else {
		t.Logf("cut-off lb2: %q", st.Reason)
	}
	time.Sleep(settle)
	l.untouched("web", "lb1", cut)
	l.untouched("db", "lb3", cut)

	heal := time.Now()
	if err := l.Heal(); err != nil {
		t.Fatal(err)
	}
	// Healed, lb2 tops api again and takes it back by a planned move.
	l.settles("after the heal", "api", lb2, heal, 15*time.Second, time.Second)
	l.stop()
}

// Scenario 5: `raftvip transfer --group`, `raftvip drain` and the preemption that
// follows an undrain each move only the groups they concern.
func TestGroupsMovesAreIsolated(t *testing.T) {
	l := startGroups(t, Options{Groups: rotated()}, map[string]string{"web": "lb1", "api": "lb2", "db": "lb3"})
	lb1, lb2, lb3 := l.Node("lb1"), l.Node("lb2"), l.Node("lb3")

	// transfer --group api lb3: api alone moves.
	t0 := time.Now()
	cliOK(t, l.RunCLI(lb1, "transfer", "--group", "api", "lb3"), "lb3")
	l.settles("in the transfer", "api", lb3, t0, 5*time.Second, time.Second)
	l.untouched("web", "lb1", t0)
	l.untouched("db", "lb3", t0)

	// drain lb1: its group, web, moves; api (pinned on lb3) and db stay.
	t1 := time.Now()
	if _, err := l.CLI(lb2, "drain", "lb1"); err != nil {
		t.Fatal(err)
	}
	l.settles("in the drain", "web", lb2, t1, 5*time.Second, 2*time.Second)
	l.untouched("api", "lb3", t1)
	l.untouched("db", "lb3", t1)

	// undrain: web goes back to lb1 by preemption; nothing else moves.
	t2 := time.Now()
	if _, err := l.CLI(lb2, "drain", "--off", "lb1"); err != nil {
		t.Fatal(err)
	}
	l.settles("in the preemption", "web", lb1, t2, 15*time.Second, time.Second)
	l.untouched("api", "lb3", t2)
	l.untouched("db", "lb3", t2)
	l.stop()
}

// activeActiveConf is a node's keepalived.conf of an active-active trio in the style
// of the HAProxy guides: two instances on eth0, each MASTER on its own node, PASS
// authentication, unicast, a vrrp_script on HAProxy tracked by both.
func activeActiveConf(n *Node, all []*Node, prio map[string][2]int) string {
	var peers strings.Builder
	for _, m := range all {
		if m != n {
			fmt.Fprintf(&peers, "        %s\n", m.Addr4.Addr())
		}
	}
	inst := func(name string, vrid, prio int, vip string) string {
		state := "BACKUP"
		if prio == 150 {
			state = "MASTER"
		}
		return fmt.Sprintf(`vrrp_instance %s {
    state %s
    interface eth0
    virtual_router_id %d
    priority %d
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass s3cret%d
    }
    unicast_src_ip %s
    unicast_peer {
%s    }
    virtual_ipaddress {
        %s dev eth0
    }
    track_script {
        chk_haproxy
    }
}
`, name, state, vrid, prio, vrid, n.Addr4.Addr(), peers.String(), vip)
	}
	return fmt.Sprintf(`global_defs {
    router_id %s
}

vrrp_script chk_haproxy {
    script "%s"
    interval 1
    fall 2
    rise 2
}

`, n.Name, haproxyKillCheck(n)) +
		inst("VI_WEB", 51, prio[n.Name][0], "198.18.0.21/24") + "\n" +
		inst("VI_API", 52, prio[n.Name][1], "198.18.0.22/24")
}

// Scenario 6: every node's keepalived.conf, with two instances, converted without
// --instance, runs and spreads: each instance's MASTER holds its group.
func TestGroupsConvertedKeepalived(t *testing.T) {
	groups := []LabGroup{
		{Name: "VI_WEB", VIP: netip.MustParsePrefix("198.18.0.21/24")},
		{Name: "VI_API", VIP: netip.MustParsePrefix("198.18.0.22/24")},
	}
	l := NewLab(t, Options{Groups: groups})
	prio := map[string][2]int{"lb1": {150, 100}, "lb2": {100, 150}, "lb3": {50, 50}}
	for _, n := range l.Nodes {
		kaConf := filepath.Join(n.Dir, "keepalived.conf")
		if err := os.WriteFile(kaConf, []byte(activeActiveConf(n, l.Nodes, prio)), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{kaConf, "--name", n.Name, "--insecure"}
		for _, m := range l.Nodes {
			if m != n {
				args = append(args, "--peer", fmt.Sprintf("%s=%s:%d", m.Name, m.Addr4.Addr(), RaftPort))
			}
		}
		conf, report := convertKeepalived(t, args...)
		if n.Name == "lb1" {
			t.Logf("lb1's keepalived.conf:\n%s\nconverted:\n%s\nreport:\n%s", activeActiveConf(n, l.Nodes, prio), conf, report)
		}
		for _, want := range []string{"groups:", "name: VI_WEB", "name: VI_API", "vrid: 51", "vrid: 52"} {
			if !strings.Contains(conf, want) {
				t.Errorf("%s: the converted config lacks %q", n.Name, want)
			}
		}
		// The lab's paths; nothing else is changed.
		conf = strings.Replace(conf, "\nnode:\n", "\nnode:\n  data_dir: "+n.DataDir+"\n", 1)
		conf += fmt.Sprintf("\nadmin:\n  socket: %s\nlog:\n  level: %s\n", n.Socket, l.Options().LogLevel)
		if err := os.WriteFile(n.Config, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.StartAgents(); err != nil {
		t.Fatal(err)
	}
	s, err := l.StartSampler()
	if err != nil {
		t.Fatal(err)
	}
	for g, want := range map[string]string{"VI_WEB": "lb1", "VI_API": "lb2"} {
		h, err := l.WaitGroupHolder(g, formTimeout)
		if err == nil && h.Name != want {
			h, err = (&groupsLab{Lab: l}).waitGroupOn(g, l.Node(want), 15*time.Second)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got, err := l.Get(l.GroupVIP(g)); err != nil || got != want {
			t.Errorf("GET %s = %q, %v; want %s", l.GroupVIP(g), got, err, want)
		}
	}
	time.Sleep(2 * time.Second)
	s.Stop()
	for _, g := range groups {
		if sum := s.Summary(g.VIP.Addr(), Filter{}); sum.MaxHolders > 1 {
			t.Errorf("%s: two holders: %v", g.Name, sum)
		}
	}
	st, err := l.Status(l.Node("lb3"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range st.Groups {
		if len(g.Differs) > 0 {
			t.Errorf("lb3's copy of %s differs from the leader's: %v", g.Name, g.Differs)
		}
	}
}
