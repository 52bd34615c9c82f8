package test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// scrapes is one scrape of several nodes.
type scrapes map[*Node]Metrics

// scrapeAll scrapes every node in nodes.
func scrapeAll(l *Lab, nodes []*Node) (scrapes, error) {
	out := scrapes{}
	var errs []error
	for _, n := range nodes {
		m, err := l.Scrape(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[n] = m
	}
	return out, errors.Join(errs...)
}

// waitScrapes scrapes nodes until check, given a complete scrape, returns "" (met),
// and fails the test with check's last complaint after timeout.
func waitScrapes(t *testing.T, l *Lab, nodes []*Node, timeout time.Duration, what string, check func(scrapes) string) scrapes {
	t.Helper()
	var s scrapes
	waitFor(t, timeout, "metrics: "+what, func() string {
		var err error
		if s, err = scrapeAll(l, nodes); err != nil {
			return err.Error()
		}
		return check(s)
	})
	return s
}

// holderIs checks that h and only h of the scraped nodes reports holding, and every
// other one does not hold.
func holderIs(s scrapes, h *Node) string {
	var probs []string
	for n, m := range s {
		want := 0.0
		if n == h {
			want = 1
		}
		if got, ok := m.Get("raftvip_holding"); !ok || got != want {
			probs = append(probs, fmt.Sprintf("%s raftvip_holding %v (present %t), want %v", n.Name, got, ok, want))
		}
		if got := m.Value("raftvip_group_holding", "group", "vip"); got != want {
			probs = append(probs, fmt.Sprintf("%s raftvip_group_holding{group=vip} %v, want %v", n.Name, got, want))
		}
	}
	return strings.Join(probs, "; ")
}

// oneLeader checks that exactly one of the scraped nodes leads and every node is in
// its term; it returns the leader.
func oneLeader(s scrapes) (*Node, string) {
	var leader *Node
	for n, m := range s {
		if m.Value("raftvip_raft_state", "state", "leader") == 1 {
			if leader != nil {
				return nil, fmt.Sprintf("%s and %s both lead", leader.Name, n.Name)
			}
			leader = n
		}
	}
	if leader == nil {
		return nil, "no node leads"
	}
	term := s[leader].Value("raftvip_raft_term")
	for n, m := range s {
		if n != leader && (m.Value("raftvip_raft_state", "state", "follower") != 1 || m.Value("raftvip_raft_term") != term) {
			return nil, fmt.Sprintf("%s is not a follower in term %v", n.Name, term)
		}
	}
	return leader, ""
}

func moves(m Metrics, direction, reason string) float64 {
	return m.Value("raftvip_moves_total", "direction", direction, "group", "vip", "reason", reason)
}

// Scenario b: every node's /metrics, scraped from inside its namespace, follows a
// planned transfer and an unplugged holder: holding moves from the old holder to the
// new one, moves are counted by group, direction and reason, the new holder's wait
// is observed, one node leads and says so; Raft's and memberlist's own metrics are
// served alongside.
func TestMetricsAcrossFailover(t *testing.T) {
	l, h := startCluster(t, WithMetrics(Options{}))
	all := l.AllNodes()

	// Formation: one holder; one leader, the others follow it in its term.
	s0 := waitScrapes(t, l, all, 10*time.Second, "formation", func(s scrapes) string {
		if why := holderIs(s, h); why != "" {
			return why
		}
		if _, why := oneLeader(s); why != "" {
			return why
		}
		for n, m := range s {
			if m.Value("raftvip_leader_changes_total") < 1 {
				return n.Name + " counted no leader change"
			}
		}
		if s[h].Value("raftvip_lease_renew_seconds_count") < 1 {
			return "the holder renewed no lease"
		}
		return ""
	})
	hm := s0[h]
	if len(hm.Names("raftvip_build_info")) == 0 {
		t.Errorf("%s: no raftvip_build_info", h.Name)
	}
	raftNames, mlNames := hm.Names("raft_"), hm.Names("memberlist_")
	t.Logf("%s serves %d raft_* metrics: %s", h.Name, len(raftNames), strings.Join(raftNames, " "))
	t.Logf("%s serves %d memberlist_* metrics: %s", h.Name, len(mlNames), strings.Join(mlNames, " "))
	leader, _ := oneLeader(s0)
	for _, want := range []string{"raft_state_leader", "raft_commitTime_count"} {
		if _, ok := s0[leader][want]; !ok {
			t.Errorf("%s (the leader): no %s from Raft", leader.Name, want)
		}
	}
	// raft_apply is counted where an entry was proposed: on a leader, maybe an
	// earlier one.
	if !slices.ContainsFunc(all, func(n *Node) bool { _, ok := s0[n]["raft_apply"]; return ok }) {
		t.Error("no node serves raft_apply from Raft")
	}
	if len(mlNames) == 0 {
		t.Errorf("%s: no memberlist_* metrics", h.Name)
	}
	t.Logf("formation: %s holds; δ %vs, lease %vs, wait %vs, renewals %v (sum %.4fs)", h.Name,
		hm.Value("raftvip_delta_seconds"), hm.Value("raftvip_vip_lease_seconds"), hm.Value("raftvip_group_wait_seconds", "group", "vip"),
		hm.Value("raftvip_lease_renew_seconds_count"), hm.Value("raftvip_lease_renew_seconds_sum"))

	// A planned transfer: counted as a transfer on both ends; the new holder's wait is
	// observed (about nothing: the old holder let go, held).
	target := l.Others(h)[0]
	if r := l.RunCLI(h, "transfer", target.Name); r.Err != nil {
		t.Fatal(r)
	}
	s1 := waitScrapes(t, l, all, 10*time.Second, "transfer to "+target.Name, func(s scrapes) string {
		if why := holderIs(s, target); why != "" {
			return why
		}
		if got, want := moves(s[target], "in", "transfer"), moves(s0[target], "in", "transfer")+1; got != want {
			return fmt.Sprintf("%s moves_total{in,transfer} %v, want %v", target.Name, got, want)
		}
		if got, want := moves(s[h], "out", "transfer"), moves(s0[h], "out", "transfer")+1; got != want {
			return fmt.Sprintf("%s moves_total{out,transfer} %v, want %v", h.Name, got, want)
		}
		return ""
	})
	if w := s1[target].Value("raftvip_hold_wait_seconds_count", "group", "vip"); w < 1 {
		t.Errorf("%s: hold_wait_seconds_count %v after taking over", target.Name, w)
	}

	// Unplug the holder: a survivor holds; the unplugged node, scraped from its own
	// namespace, has let go because its lease ran out.
	old := target
	survivors := l.Others(old)
	if err := l.Unplug(old); err != nil {
		t.Fatal(err)
	}
	var newHolder *Node
	s2 := waitScrapes(t, l, all, 15*time.Second, "failover from unplugged "+old.Name, func(s scrapes) string {
		newHolder = nil
		for _, n := range survivors {
			if s[n].Value("raftvip_holding") == 1 {
				newHolder = n
			}
		}
		if newHolder == nil {
			return "no survivor holds"
		}
		if why := holderIs(scrapes{survivors[0]: s[survivors[0]], survivors[1]: s[survivors[1]]}, newHolder); why != "" {
			return why
		}
		if s[old].Value("raftvip_holding") != 0 || s[old].Value("raftvip_raft_state", "state", "leader") != 0 {
			return old.Name + " still holds or leads while unplugged"
		}
		if moves(s[newHolder], "in", "holder-lost") != moves(s1[newHolder], "in", "holder-lost")+1 {
			return newHolder.Name + " has not counted a move in for holder-lost"
		}
		return ""
	})
	t.Logf("failover: %s holds after %s was unplugged; it waited %.3fs (sum of its waits)", newHolder.Name, old.Name,
		s2[newHolder].Value("raftvip_hold_wait_seconds_sum", "group", "vip"))
	if out, before := moves(s2[old], "out", "lease-lost"), moves(s1[old], "out", "lease-lost"); out != before+1 {
		t.Errorf("%s: moves_total{out, lease-lost} %v, want %v", old.Name, out, before+1)
	}

	// Plugged back in, the old holder follows the log: one holder in all, one leader.
	if err := l.Replug(old); err != nil {
		t.Fatal(err)
	}
	waitScrapes(t, l, all, 15*time.Second, old.Name+" back", func(s scrapes) string {
		if why := holderIs(s, newHolder); why != "" {
			return why
		}
		_, why := oneLeader(s)
		return why
	})
}
