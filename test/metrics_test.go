package test

import (
	"errors"
	"fmt"
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
	deadline := time.Now().Add(timeout)
	for {
		s, err := scrapeAll(l, nodes)
		why := ""
		if err != nil {
			why = err.Error()
		} else if why = check(s); why == "" {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics: %s: not after %v: %s", what, timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// holderIs checks that h and only h of the scraped nodes reports holding, as leader,
// and every other one does not hold.
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
		if got := m.Value("raftvip_raft_state", "state", "leader"); got != want {
			probs = append(probs, fmt.Sprintf("%s raftvip_raft_state{state=leader} %v, want %v", n.Name, got, want))
		}
	}
	return strings.Join(probs, "; ")
}

func moves(m Metrics, direction, reason string) float64 {
	return m.Value("raftvip_moves_total", "direction", direction, "reason", reason)
}

// Scenario b: every node's /metrics, scraped from inside its namespace, follows a
// planned transfer and an unplugged holder: holding moves from the old holder to the
// new one, the new leader's term is higher, leader changes are counted, raft_state
// says who leads, moves are counted by direction and reason; Raft's and memberlist's
// own metrics are served alongside.
func TestMetricsAcrossFailover(t *testing.T) {
	l, h := startCluster(t, WithMetrics(Options{}))
	all := l.AllNodes()

	// Formation: one holder, the leader; the others follow it in its term.
	s0 := waitScrapes(t, l, all, 10*time.Second, "formation", func(s scrapes) string {
		if why := holderIs(s, h); why != "" {
			return why
		}
		term := s[h].Value("raftvip_raft_term")
		for n, m := range s {
			if n != h && (m.Value("raftvip_raft_state", "state", "follower") != 1 || m.Value("raftvip_raft_term") != term) {
				return fmt.Sprintf("%s is not a follower in term %v", n.Name, term)
			}
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
	for _, want := range []string{"raft_state_leader", "raft_commitTime_count", "raft_apply"} {
		if _, ok := hm[want]; !ok {
			t.Errorf("%s: no %s from Raft", h.Name, want)
		}
	}
	if len(mlNames) == 0 {
		t.Errorf("%s: no memberlist_* metrics", h.Name)
	}
	t.Logf("formation: %s holds in term %v; claim delay %vs, lease %vs, renewals %v (sum %.4fs)", h.Name,
		hm.Value("raftvip_raft_term"), hm.Value("raftvip_claim_delay_seconds"), hm.Value("raftvip_vip_lease_seconds"),
		hm.Value("raftvip_lease_renew_seconds_count"), hm.Value("raftvip_lease_renew_seconds_sum"))

	// A planned transfer: counted as a transfer on both ends, in a new term.
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
	if a, b := s1[target].Value("raftvip_raft_term"), s0[h].Value("raftvip_raft_term"); a <= b {
		t.Errorf("term after the transfer %v, not above %v", a, b)
	}
	for _, n := range all {
		if a, b := s1[n].Value("raftvip_leader_changes_total"), s0[n].Value("raftvip_leader_changes_total"); a <= b {
			t.Errorf("%s: leader_changes_total %v after the transfer, not above %v", n.Name, a, b)
		}
	}
	if w := s1[target].Value("raftvip_claim_wait_seconds_count"); w < 1 {
		t.Errorf("%s: claim_wait_seconds_count %v after taking over", target.Name, w)
	}

	// Unplug the holder: a survivor leads in a higher term and holds; the unplugged
	// node, scraped from its own namespace, has let go.
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
		if moves(s[newHolder], "in", "leader-lost") != moves(s1[newHolder], "in", "leader-lost")+1 {
			return newHolder.Name + " has not counted a move in for leader-lost"
		}
		return ""
	})
	t.Logf("failover: %s holds in term %v after %s was unplugged (term %v)", newHolder.Name,
		s2[newHolder].Value("raftvip_raft_term"), old.Name, s1[old].Value("raftvip_raft_term"))
	if a, b := s2[newHolder].Value("raftvip_raft_term"), s1[old].Value("raftvip_raft_term"); a <= b {
		t.Errorf("new leader's term %v, not above the old leader's %v", a, b)
	}
	for _, n := range survivors {
		if a, b := s2[n].Value("raftvip_leader_changes_total"), s1[n].Value("raftvip_leader_changes_total"); a <= b {
			t.Errorf("%s: leader_changes_total %v after the failover, not above %v", n.Name, a, b)
		}
	}
	outBefore := moves(s1[old], "out", "lease-lost") + moves(s1[old], "out", "not-leader")
	if out := moves(s2[old], "out", "lease-lost") + moves(s2[old], "out", "not-leader"); out != outBefore+1 {
		t.Errorf("%s: moves_total{out, lease-lost|not-leader} %v, want %v", old.Name, out, outBefore+1)
	}

	// Plugged back in, the old holder follows the new leader: one holder in all.
	if err := l.Replug(old); err != nil {
		t.Fatal(err)
	}
	waitScrapes(t, l, all, 15*time.Second, old.Name+" back as a follower", func(s scrapes) string {
		if why := holderIs(s, newHolder); why != "" {
			return why
		}
		total := 0.0
		for _, m := range s {
			total += m.Value("raftvip_holding")
		}
		if total != 1 {
			return fmt.Sprintf("sum(raftvip_holding) %v", total)
		}
		return ""
	})
}
