package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	hcmetrics "github.com/hashicorp/go-metrics/compat"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/raftvip/raftvip/cluster/gossip"
	"github.com/raftvip/raftvip/cluster/logging"
	"github.com/raftvip/raftvip/cluster/transport"
	"github.com/raftvip/raftvip/election"
	"github.com/raftvip/raftvip/store"
	"github.com/raftvip/raftvip/vrrpcompat"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

var testStatic = metricsStatic{Node: "lb1", Delta: 80 * time.Millisecond, Lease: 120 * time.Millisecond, Lifetime: 2 * time.Second}

// A holder's view becomes the series an operator alerts on: holding, the Raft state
// with one state at 1, term, priorities, checks with their run counts, VRRP counters
// and TLS rejections with every reason present from the start.
func TestNodeCollectorHolder(t *testing.T) {
	held := time.Unix(1700000000, 500_000_000)
	view := metricsView{
		Role: "leader", Term: 7, HasLeader: true, Holding: true, HeldSince: held,
		LeaseRemaining: 90 * time.Millisecond, Priority: 110, BasePriority: 100, Eligible: true,
		Voters: 3, EligibleVoters: 2,
		Checks: []election.CheckState{
			{Name: "haproxy", Weight: 0, Known: true, Passing: true, Passes: 41, Fails: 1},
			{Name: "api", Weight: 10, Known: true, Passing: false, Fails: 3},
			{Name: "slow", Weight: -5},
		},
		VRRP: &vrrpcompat.Stats{Sent: 12, Received: 20, Accepted: 4,
			Dropped: map[vrrpcompat.Reason]uint64{vrrpcompat.ReasonMember: 15, vrrpcompat.ReasonAuth: 1}},
		TLSIn:  map[string]uint64{transport.RejectUnknownCA: 2},
		TLSOut: map[string]uint64{},
	}
	c := newNodeCollector(func() metricsView { return view }, testStatic)
	want := `
# HELP raftvip_holding 1 while this node holds the first group (the VIP of a vip: block). sum() over the cluster should be at most 1.
# TYPE raftvip_holding gauge
raftvip_holding 1
# HELP raftvip_held_since_timestamp_seconds When this node started holding the first group (only while it does).
# TYPE raftvip_held_since_timestamp_seconds gauge
raftvip_held_since_timestamp_seconds 1.7000000005e+09
# HELP raftvip_raft_state 1 for this node's current Raft state.
# TYPE raftvip_raft_state gauge
raftvip_raft_state{state="candidate"} 0
raftvip_raft_state{state="follower"} 0
raftvip_raft_state{state="leader"} 1
raftvip_raft_state{state="shutdown"} 0
# HELP raftvip_raft_term This node's current Raft term.
# TYPE raftvip_raft_term gauge
raftvip_raft_term 7
# HELP raftvip_effective_priority The effective priority: the base priority with check weights applied.
# TYPE raftvip_effective_priority gauge
raftvip_effective_priority 110
# HELP raftvip_eligible_voters Voters that may hold the VIP, as this node sees them.
# TYPE raftvip_eligible_voters gauge
raftvip_eligible_voters 2
# HELP raftvip_delta_seconds δ: the margin for clock-rate drift and a removal's delay that every assignment records (cluster.timing.claim_margin).
# TYPE raftvip_delta_seconds gauge
raftvip_delta_seconds 0.08
# HELP raftvip_check_up 1 while the check passes, 0 while it fails or has no result yet.
# TYPE raftvip_check_up gauge
raftvip_check_up{check="api"} 0
raftvip_check_up{check="haproxy"} 1
raftvip_check_up{check="slow"} 0
# HELP raftvip_check_runs_total Check results by outcome (a probe that times out fails).
# TYPE raftvip_check_runs_total counter
raftvip_check_runs_total{check="api",result="fail"} 3
raftvip_check_runs_total{check="api",result="pass"} 0
raftvip_check_runs_total{check="haproxy",result="fail"} 1
raftvip_check_runs_total{check="haproxy",result="pass"} 41
raftvip_check_runs_total{check="slow",result="fail"} 0
raftvip_check_runs_total{check="slow",result="pass"} 0
# HELP raftvip_vrrp_adverts_sent_total VRRP advertisements sent (one per peer in unicast mode).
# TYPE raftvip_vrrp_adverts_sent_total counter
raftvip_vrrp_adverts_sent_total 12
# HELP raftvip_vrrp_adverts_dropped_total VRRP packets dropped, by reason (member: the cluster's own adverts).
# TYPE raftvip_vrrp_adverts_dropped_total counter
raftvip_vrrp_adverts_dropped_total{reason="auth"} 1
raftvip_vrrp_adverts_dropped_total{reason="checksum"} 0
raftvip_vrrp_adverts_dropped_total{reason="family"} 0
raftvip_vrrp_adverts_dropped_total{reason="interval"} 0
raftvip_vrrp_adverts_dropped_total{reason="length"} 0
raftvip_vrrp_adverts_dropped_total{reason="member"} 15
raftvip_vrrp_adverts_dropped_total{reason="truncated"} 0
raftvip_vrrp_adverts_dropped_total{reason="ttl"} 0
raftvip_vrrp_adverts_dropped_total{reason="type"} 0
raftvip_vrrp_adverts_dropped_total{reason="version"} 0
raftvip_vrrp_adverts_dropped_total{reason="vrid"} 0
# HELP raftvip_tls_rejected_total Failed TLS handshakes on the Raft port, by direction (in: accepted, out: dialled) and reason.
# TYPE raftvip_tls_rejected_total counter
raftvip_tls_rejected_total{direction="in",reason="bad_cert"} 0
raftvip_tls_rejected_total{direction="in",reason="handshake"} 0
raftvip_tls_rejected_total{direction="in",reason="no_client_cert"} 0
raftvip_tls_rejected_total{direction="in",reason="not_tls"} 0
raftvip_tls_rejected_total{direction="in",reason="peer_rejected_cert"} 0
raftvip_tls_rejected_total{direction="in",reason="timeout"} 0
raftvip_tls_rejected_total{direction="in",reason="tls_version"} 0
raftvip_tls_rejected_total{direction="in",reason="unknown_ca"} 2
raftvip_tls_rejected_total{direction="out",reason="bad_cert"} 0
raftvip_tls_rejected_total{direction="out",reason="handshake"} 0
raftvip_tls_rejected_total{direction="out",reason="no_client_cert"} 0
raftvip_tls_rejected_total{direction="out",reason="not_tls"} 0
raftvip_tls_rejected_total{direction="out",reason="peer_rejected_cert"} 0
raftvip_tls_rejected_total{direction="out",reason="timeout"} 0
raftvip_tls_rejected_total{direction="out",reason="tls_version"} 0
raftvip_tls_rejected_total{direction="out",reason="unknown_ca"} 0
`
	names := []string{"raftvip_holding", "raftvip_held_since_timestamp_seconds", "raftvip_raft_state", "raftvip_raft_term",
		"raftvip_effective_priority", "raftvip_eligible_voters", "raftvip_delta_seconds", "raftvip_check_up",
		"raftvip_check_runs_total", "raftvip_vrrp_adverts_sent_total", "raftvip_vrrp_adverts_dropped_total",
		"raftvip_tls_rejected_total"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}

// A follower that does not hold reports holding 0 and no hold time; without a VRRP
// section or cluster.tls there are no VRRP or TLS series at all, rather than zeros
// that look like silence.
func TestNodeCollectorFollowerWithoutVRRP(t *testing.T) {
	view := metricsView{Role: "follower", Term: 8, HasLeader: true, Priority: 100, BasePriority: 100, Eligible: true}
	c := newNodeCollector(func() metricsView { return view }, testStatic)
	want := `
# HELP raftvip_holding 1 while this node holds the first group (the VIP of a vip: block). sum() over the cluster should be at most 1.
# TYPE raftvip_holding gauge
raftvip_holding 0
# HELP raftvip_raft_state 1 for this node's current Raft state.
# TYPE raftvip_raft_state gauge
raftvip_raft_state{state="candidate"} 0
raftvip_raft_state{state="follower"} 1
raftvip_raft_state{state="leader"} 0
raftvip_raft_state{state="shutdown"} 0
# HELP raftvip_lease_remaining_seconds How long this node's quorum lease of the first group still runs; 0 unless it holds it.
# TYPE raftvip_lease_remaining_seconds gauge
raftvip_lease_remaining_seconds 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "raftvip_holding", "raftvip_raft_state",
		"raftvip_lease_remaining_seconds", "raftvip_held_since_timestamp_seconds"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"raftvip_vrrp_adverts_sent_total", "raftvip_vrrp_adverts_received_total",
		"raftvip_vrrp_adverts_dropped_total", "raftvip_check_up", "raftvip_tls_rejected_total"} {
		if n := testutil.CollectAndCount(c, name); n != 0 {
			t.Errorf("%s: %d series without vrrp and checks, want none", name, n)
		}
	}
}

// Events between scrapes: leader changes (a new leader or a new term; an election under
// way is not one), and group moves by group, direction and reason.
func TestNodeMetricsEvents(t *testing.T) {
	m := newNodeMetrics(func() metricsView { return metricsView{Role: "follower"} }, testStatic, discardLogger())
	for _, o := range []struct {
		leader string
		term   uint64
	}{{"lb1", 2}, {"", 2}, {"lb1", 2}, {"lb2", 3}, {"", 4}, {"lb2", 4}, {"lb2", 4}} {
		m.leaderObserved(o.leader, o.term)
	}
	if got := testutil.ToFloat64(m.leaderChanges); got != 3 {
		t.Errorf("leader changes: %v, want 3 (lb1@2, lb2@3, lb2@4)", got)
	}

	m.groupMoved(election.GroupChange{Group: "web", Holding: true}, "unassigned")
	m.groupMoved(election.GroupChange{Group: "web", Reason: "not assigned here", Moved: true}, "")
	m.groupMoved(election.GroupChange{Group: "api", Holding: true}, "no holding report from lb2")
	m.groupMoved(election.GroupChange{Group: "api", Reason: string(election.ReasonNoGroupLease)}, "")
	want := `
# HELP raftvip_moves_total Group moves this node took part in: direction in (it started holding the group) or out (it let it go), by group and reason.
# TYPE raftvip_moves_total counter
raftvip_moves_total{direction="in",group="api",reason="holder-lost"} 1
raftvip_moves_total{direction="in",group="web",reason="unassigned"} 1
raftvip_moves_total{direction="out",group="api",reason="lease-lost"} 1
raftvip_moves_total{direction="out",group="web",reason="moved"} 1
`
	if err := testutil.CollectAndCompare(m.moves, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(m.reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// histogramText is the exposition of a histogram with the given observations.
func histogramText(name, help string, buckets []float64, obs ...float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	sum := 0.0
	for _, o := range obs {
		sum += o
	}
	for _, le := range buckets {
		n := 0
		for _, o := range obs {
			if o <= le {
				n++
			}
		}
		fmt.Fprintf(&b, "%s_bucket{le=\"%g\"} %d\n", name, le, n)
	}
	fmt.Fprintf(&b, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %g\n%s_count %d\n", name, len(obs), name, sum, name, len(obs))
	return b.String()
}

// Every reason the code gives for a move maps to a small label value; the placer's
// own strings are produced by election.Place, so a change of wording there shows up
// here.
func TestMoveReason(t *testing.T) {
	now := time.Unix(1000, 0)
	long := now.Add(-time.Hour)
	place := func(g election.PlaceGroup, lb1 election.PlaceNode) string {
		lb2 := election.PlaceNode{Name: "lb2", Incarnation: "b", Groups: map[string]election.NodeGroup{"web": {Priority: 150, StableSince: long}}}
		g.Name, g.Preempt = "web", true
		moves := election.Place([]election.PlaceGroup{g}, []election.PlaceNode{lb1, lb2}, now, election.PlacePolicy{})
		if len(moves) != 1 {
			t.Fatalf("moves %+v for %+v and %+v", moves, g, lb1)
		}
		return moves[0].Reason
	}
	onLB1 := election.PlaceGroup{Assignee: "lb1", Incarnation: "a"}
	lb1 := election.PlaceNode{Name: "lb1", Incarnation: "a", Groups: map[string]election.NodeGroup{"web": {Priority: 100, StableSince: long}}}
	with := func(f func(*election.PlaceNode)) election.PlaceNode {
		n := lb1
		f(&n)
		return n
	}
	lost := onLB1
	lost.Lost = true

	for _, tt := range []struct {
		reason, want string
		assigned     bool // an assignment's reason, not a holder's
	}{
		{place(election.PlaceGroup{}, lb1), "unassigned", true},
		{place(onLB1, lb1), "preemption", true},
		{place(lost, lb1), "holder-lost", true},
		{place(onLB1, with(func(n *election.PlaceNode) { n.Incarnation = "a2" })), "restarted", true},
		{place(onLB1, with(func(n *election.PlaceNode) { n.Ineligible = "drained" })), "drain", true},
		{place(onLB1, with(func(n *election.PlaceNode) { n.Ineligible = "FAULT: check haproxy failing" })), "fault", true},
		{place(onLB1, with(func(n *election.PlaceNode) { n.Ineligible = "leaving the cluster" })), "leave", true},
		{place(onLB1, with(func(n *election.PlaceNode) { n.Ineligible = "stopping" })), "shutdown", true},
		{place(onLB1, with(func(n *election.PlaceNode) { n.Ineligible = "not heard from" })), "holder-lost", true},
		{place(onLB1, with(func(n *election.PlaceNode) { n.Groups = nil })), "ineligible", true},
		{store.OperatorTransfer + " (raftvip transfer via lb3)", "transfer", true},
		{"something new", "other", true},
		{"agent stops", "shutdown", false},
		{string(election.ReasonNoGroupLease), "lease-lost", false},
		{string(election.ReasonIneligible) + "drained", "drain", false},
		{string(election.ReasonIneligible) + "FAULT: check haproxy failing", "fault", false},
		{string(election.ReasonIneligible) + "not eligible for this group", "ineligible", false},
		{vrrpBackupWord + " 198.18.0.14 is master with priority 200 > 100", "vrrp", false},
		{"something new", "other", false},
	} {
		got := letGoReason(tt.reason)
		if tt.assigned {
			got = assignReason(tt.reason)
		}
		if got != tt.want {
			t.Errorf("reason %q = %q, want %q", tt.reason, got, tt.want)
		}
	}
}

// The endpoint serves the registry on GET /metrics, with Raft's and memberlist's
// go-metrics (reported through the compat package they import) bridged in, and
// nothing else. An empty metrics.listen serves nothing.
func TestMetricsEndpoint(t *testing.T) {
	off := newNodeMetrics(func() metricsView { return metricsView{} }, testStatic, discardLogger())
	if err := off.serve(""); err != nil || off.srv != nil {
		t.Fatalf("empty listen: srv %v, err %v", off.srv, err)
	}
	off.close()

	m := newNodeMetrics(func() metricsView { return metricsView{Role: "leader", Holding: true, Term: 3} }, testStatic, discardLogger())
	if err := m.serve("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer m.close()
	hcmetrics.IncrCounter([]string{"raft", "test", "bridged"}, 2)
	hcmetrics.SetGauge([]string{"memberlist", "test", "bridged"}, 5)
	base := "http://" + m.addr.String()

	body, code := httpGet(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", code, body)
	}
	for _, want := range []string{
		"raftvip_holding 1\n", "raftvip_raft_term 3\n", `raftvip_raft_state{state="leader"} 1` + "\n",
		`raftvip_build_info{goversion="go`, "raftvip_delta_seconds 0.08\n", "raftvip_vip_lifetime_seconds 2\n",
		"raft_test_bridged 2\n", "memberlist_test_bridged 5\n", "go_goroutines ", "process_start_time_seconds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}
	if _, code := httpGet(t, base+"/"); code != http.StatusNotFound {
		t.Errorf("GET /: %d, want 404", code)
	}
	busy := newNodeMetrics(func() metricsView { return metricsView{} }, testStatic, discardLogger())
	if err := busy.serve(m.addr.String()); err == nil || !strings.Contains(err.Error(), "metrics.listen") {
		t.Errorf("second listener on the same address: %v, want an error naming metrics.listen", err)
	}
}

// A real Raft node and real gossip members report into the bridge: Raft's state
// counters and commit timing appear as raft_* series, memberlist's as memberlist_*.
func TestMetricsBridge(t *testing.T) {
	m := newNodeMetrics(func() metricsView { return metricsView{} }, testStatic, discardLogger())
	if err := m.serve("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer m.close()

	rc := raft.DefaultConfig()
	rc.LocalID = "m1"
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
	rc.CommitTimeout = 5 * time.Millisecond
	rc.Logger = logging.HCLog(discardLogger(), "raft")
	store := raft.NewInmemStore()
	addr, trans := raft.NewInmemTransport("")
	r, err := raft.NewRaft(rc, &raft.MockFSM{}, store, store, raft.NewInmemSnapshotStore(), trans)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown()
	if err := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: "m1", Address: addr}}}).Error(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.State() != raft.Leader {
		if time.Now().After(deadline) {
			t.Fatal("no leader after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := r.Apply([]byte("x"), time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	body, _ := httpGet(t, "http://"+m.addr.String()+"/metrics")
	for _, want := range []string{"raft_state_leader ", "raft_commitTime_count ", "raft_apply "} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}

	// Two gossip members report memberlist's metrics.
	start := func(name string) *gossip.Gossip {
		g, err := gossip.Start(gossip.Config{Name: name, Bind: netip.MustParseAddrPort("127.0.0.1:0"), Interval: 20 * time.Millisecond, Logger: discardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Shutdown)
		return g
	}
	a, b := start("a"), start("b")
	if _, err := b.Contact([]string{a.Addr().String()}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "memberlist metrics", func() bool {
		body, _ = httpGet(t, "http://"+m.addr.String()+"/metrics")
		return strings.Contains(body, "memberlist_gossip") && strings.Contains(body, "memberlist_udp_sent")
	})
}

func httpGet(t *testing.T, url string) (string, int) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), resp.StatusCode
}
