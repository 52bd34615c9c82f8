package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	gometrics "github.com/armon/go-metrics"
	gmprometheus "github.com/armon/go-metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/raftvip/raftvip/cluster/transport"
	"github.com/raftvip/raftvip/election"
	"github.com/raftvip/raftvip/store"
	"github.com/raftvip/raftvip/vrrpcompat"
)

// Prometheus metrics on metrics.listen (GET /metrics). What the node knows anyway
// (holding, Raft state and term, priority, checks, VRRP counters) is read at scrape
// time by a collector; what happens between scrapes (leader changes, moves, lease
// renewals, claims) is counted through the elector's OnMove and OnRenew and pump's
// leader observations. Raft and memberlist report through go-metrics, bridged into the
// same registry (raft_*, memberlist_*).

// metricsNamespace prefixes every raftvip series.
const metricsNamespace = "raftvip"

// metricsView is the node state the collector reads at every scrape.
type metricsView struct {
	Role           string // leader, follower, candidate, shutdown
	Term           uint64
	HasLeader      bool
	Holding        bool
	HeldSince      time.Time // zero unless holding
	LeaseRemaining time.Duration
	Priority       int // effective
	BasePriority   int
	Eligible       bool
	Drained        bool
	Fault          bool
	Voters         int // voters in the elector's last pass, this node included
	EligibleVoters int
	Checks         []election.CheckState
	VRRP           *vrrpcompat.Stats // the first group's; nil unless its vrrp.enabled
	Groups         []groupView
	// TLSIn and TLSOut count failed handshakes on the Raft port by reason, accepted
	// and dialled; both nil without cluster.tls.
	TLSIn, TLSOut map[string]uint64
}

// groupView is one group's state at a scrape.
type groupView struct {
	Name           string
	Holding        bool
	Assigned       bool
	LeaseRemaining time.Duration
	Wait           time.Duration // what its assignee owes before holding
	Priority       int
}

// metricsStatic is configuration the metrics report as gauges.
type metricsStatic struct {
	Node     string
	Delta    time.Duration // δ: cluster.timing.claim_margin
	Lease    time.Duration // cluster.timing.vip_lease
	Lifetime time.Duration // the first group's lifetime
}

// raftStates are the values of raftvip_raft_state's state label.
var raftStates = []string{"leader", "follower", "candidate", "shutdown"}

// vrrpDropReasons are reported at zero before their first drop, so rate() works.
var vrrpDropReasons = []vrrpcompat.Reason{
	vrrpcompat.ReasonTruncated, vrrpcompat.ReasonLength, vrrpcompat.ReasonVersion, vrrpcompat.ReasonType,
	vrrpcompat.ReasonChecksum, vrrpcompat.ReasonTTL, vrrpcompat.ReasonVRID, vrrpcompat.ReasonAuth,
	vrrpcompat.ReasonInterval, vrrpcompat.ReasonFamily, vrrpcompat.ReasonMember,
}

// tlsRejectReasons are reported at zero before their first rejection.
var tlsRejectReasons = []string{
	transport.RejectUnknownCA, transport.RejectBadCert, transport.RejectNoCert, transport.RejectPeerRejected,
	transport.RejectNotTLS, transport.RejectTimeout, transport.RejectVersion, transport.RejectHandshake,
}

// nodeMetrics is one node's registry, its event counters and its endpoint.
type nodeMetrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	leaderChanges prometheus.Counter
	moves         *prometheus.CounterVec
	renew         prometheus.Histogram
	holdWait      *prometheus.HistogramVec

	mu         sync.Mutex
	leader     string // the leader last counted, and its term
	leaderTerm uint64

	srv  *http.Server
	addr net.Addr // where srv listens
}

// newNodeMetrics registers the node's collector, reading view at every scrape, and
// the event counters, plus the Go runtime and process collectors.
func newNodeMetrics(view func() metricsView, static metricsStatic, logger *slog.Logger) *nodeMetrics {
	m := &nodeMetrics{
		reg: prometheus.NewRegistry(),
		log: logger,
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "leader_changes_total",
			Help: "Raft leaders this node has seen elected: a new leader, or the same one in a new term.",
		}),
		moves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "moves_total",
			Help: "Group moves this node took part in: direction in (it started holding the group) or out (it let it go), by group and reason.",
		}, []string{"group", "direction", "reason"}),
		renew: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "lease_renew_seconds",
			Help:    "How long this holder's renewal rounds took to reach a majority of voters, for rounds that extended a lease. Compare with raftvip_vip_lease_seconds.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		holdWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "hold_wait_seconds",
			Help:    "From learning that a group's assignment to this node committed to holding it: W(g) after a failover, about 0 after a planned move.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"group"}),
	}
	m.reg.MustRegister(m.leaderChanges, m.moves, m.renew, m.holdWait,
		newNodeCollector(view, static),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// leaderObserved counts a leader change: leader elected, as far as this node knows,
// in term. An empty leader (an election under way) is not counted.
func (m *nodeMetrics) leaderObserved(leader string, term uint64) {
	if leader == "" {
		return
	}
	m.mu.Lock()
	changed := leader != m.leader || term != m.leaderTerm
	m.leader, m.leaderTerm = leader, term
	m.mu.Unlock()
	if changed {
		m.leaderChanges.Inc()
	}
}

// groupMoved counts one change of a group's holding here. assigned is the reason of
// the group's latest assignment (the placer's words), "" if unknown: it says why a
// group came here, and why it left when it left because it moved.
func (m *nodeMetrics) groupMoved(c election.GroupChange, assigned string) {
	dir, reason := "in", assignReason(assigned)
	if !c.Holding {
		dir, reason = "out", letGoReason(c.Reason)
		if c.Moved {
			reason = moveMoved
			if assigned != "" {
				reason = assignReason(assigned)
			}
		}
	}
	m.moves.WithLabelValues(c.Group, dir, reason).Inc()
	if c.Holding {
		m.holdWait.WithLabelValues(c.Group).Observe(c.Waited.Seconds())
	}
}

// renewed is the holder's OnRenewed.
func (m *nodeMetrics) renewed(took time.Duration) { m.renew.Observe(took.Seconds()) }

// The values of raftvip_moves_total's reason label.
const (
	moveMoved      = "moved"       // out: moved away, for a reason this node had not applied yet
	moveUnassigned = "unassigned"  // the group had no holder (first placement, or its holder let go)
	moveLost       = "holder-lost" // its holder stopped reporting that it holds (died or cut off)
	moveRestarted  = "restarted"   // its holder's agent restarted: a new incarnation holds nothing
	moveTransfer   = "transfer"    // raftvip transfer
	moveShutdown   = "shutdown"    // the holder stopped
	moveLeave      = "leave"       // raftvip leave on the holder
	movePreemption = "preemption"  // a node of higher priority for the group took over
	moveDrain      = "drain"       // the holder was drained
	moveFault      = "fault"       // a weight-0 check failed on the holder
	moveIneligible = "ineligible"  // the holder became ineligible for another reason
	moveLeaseLost  = "lease-lost"  // out: the holder's quorum lease ran out
	moveVRRP       = "vrrp"        // a foreign VRRP master outranks the cluster
	moveOther      = "other"
)

// assignReason maps an assignment's reason, as election.Place and the operator verbs
// word it ("lb1 may not hold it: drained", "lb2 has priority 150 > 100 on lb1"), to
// one of a few label values.
func assignReason(r string) string {
	switch {
	case r == "unassigned":
		return moveUnassigned
	case strings.HasPrefix(r, "no holding report from "):
		return moveLost
	case strings.HasPrefix(r, store.OperatorTransfer):
		return moveTransfer
	case strings.Contains(r, " has priority "):
		return movePreemption
	case strings.Contains(r, " may not hold it: "):
		_, why, _ := strings.Cut(r, " may not hold it: ")
		switch {
		case why == "it restarted":
			return moveRestarted
		case why == "not heard from" || why == "gone":
			return moveLost
		}
		return ineligibleReason(why)
	}
	return moveOther
}

// letGoReason maps why a holder let a group go without a move (election.Holder's
// words) to a label value.
func letGoReason(r string) string {
	switch {
	case r == "agent stops":
		return moveShutdown
	case r == string(election.ReasonNoGroupLease):
		return moveLeaseLost
	case strings.HasPrefix(r, string(election.ReasonIneligible)):
		return ineligibleReason(strings.TrimPrefix(r, string(election.ReasonIneligible)))
	case strings.HasPrefix(r, vrrpBackupWord):
		return moveVRRP
	}
	return moveOther
}

// ineligibleReason maps why a node may not hold a group to a label value.
func ineligibleReason(why string) string {
	switch {
	case why == "drained":
		return moveDrain
	case strings.HasPrefix(why, "FAULT"):
		return moveFault
	case why == "leaving the cluster":
		return moveLeave
	case why == "stopping":
		return moveShutdown
	case strings.HasPrefix(why, vrrpBackupWord):
		return moveVRRP
	}
	return moveIneligible
}

// nodeCollector turns a metricsView, read at scrape time, into series.
type nodeCollector struct {
	view   func() metricsView
	static metricsStatic

	buildInfo, holding, heldSince, leaseRemaining, raftState, term, hasLeader *prometheus.Desc
	priority, basePriority, eligible, drained, fault, voters, eligibleVoters  *prometheus.Desc
	delta, lease, lifetime                                                    *prometheus.Desc
	groupHolding, groupAssigned, groupLease, groupWait, groupPriority         *prometheus.Desc
	checkUp, checkWeight, checkRuns                                           *prometheus.Desc
	vrrpSent, vrrpReceived, vrrpAccepted, vrrpDropped, vrrpForeign            *prometheus.Desc
	tlsRejected                                                               *prometheus.Desc
}

func newNodeCollector(view func() metricsView, static metricsStatic) *nodeCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "", name), help, labels, nil)
	}
	return &nodeCollector{
		view:   view,
		static: static,

		buildInfo:      d("build_info", "Always 1; the labels say which raftvip runs here.", "version", "goversion", "node"),
		holding:        d("holding", "1 while this node holds the first group (the VIP of a vip: block). sum() over the cluster should be at most 1."),
		heldSince:      d("held_since_timestamp_seconds", "When this node started holding the first group (only while it does)."),
		leaseRemaining: d("lease_remaining_seconds", "How long this node's quorum lease of the first group still runs; 0 unless it holds it."),
		raftState:      d("raft_state", "1 for this node's current Raft state.", "state"),
		term:           d("raft_term", "This node's current Raft term."),
		hasLeader:      d("raft_has_leader", "1 while this node knows a Raft leader (is in a quorum)."),
		priority:       d("effective_priority", "The effective priority: the base priority with check weights applied."),
		basePriority:   d("base_priority", "The configured priority."),
		eligible:       d("eligible", "1 while this node may hold the VIP (not FAULT, drained, leaving, without quorum...)."),
		drained:        d("drained", "1 while an operator has drained this node."),
		fault:          d("fault", "1 while a weight-0 check fails on this node."),
		voters:         d("voters", "Voters in the Raft configuration, this node included."),
		eligibleVoters: d("eligible_voters", "Voters that may hold the VIP, as this node sees them."),
		delta:          d("delta_seconds", "δ: the margin for clock-rate drift and a removal's delay that every assignment records (cluster.timing.claim_margin)."),
		lease:          d("vip_lease_seconds", "L: a holder's lease from one renewal round a majority of voters acknowledged (cluster.timing.vip_lease)."),
		groupHolding:   d("group_holding", "1 while this node holds the group. sum() over the cluster should be at most 1 per group.", "group"),
		groupAssigned:  d("group_assigned", "1 while the group is assigned to this node (held, or waiting to).", "group"),
		groupLease:     d("group_lease_remaining_seconds", "How long this node's quorum lease of the group still runs; 0 unless it holds it.", "group"),
		groupWait:      d("group_wait_seconds", "W(g): what the group's current assignee owes before it may hold.", "group"),
		groupPriority:  d("group_priority", "This node's effective priority for the group; 0 while it may not hold it.", "group"),
		lifetime:       d("vip_lifetime_seconds", "The lifetime of the VIP addresses on the interface (vip.lifetime)."),
		checkUp:        d("check_up", "1 while the check passes, 0 while it fails or has no result yet.", "check"),
		checkWeight:    d("check_weight", "The check's weight (0: FAULT while it fails).", "check"),
		checkRuns:      d("check_runs_total", "Check results by outcome (a probe that times out fails).", "check", "result"),
		vrrpSent:       d("vrrp_adverts_sent_total", "VRRP advertisements sent (one per peer in unicast mode)."),
		vrrpReceived:   d("vrrp_adverts_received_total", "VRRP packets received."),
		vrrpAccepted:   d("vrrp_adverts_accepted_total", "Foreign VRRP advertisements that passed every check."),
		vrrpDropped:    d("vrrp_adverts_dropped_total", "VRRP packets dropped, by reason (member: the cluster's own adverts).", "reason"),
		vrrpForeign:    d("vrrp_foreign_routers", "Foreign VRRP routers heard on the link."),
		tlsRejected:    d("tls_rejected_total", "Failed TLS handshakes on the Raft port, by direction (in: accepted, out: dialled) and reason.", "direction", "reason"),
	}
}

// Describe sends every descriptor.
func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.buildInfo, c.holding, c.heldSince, c.leaseRemaining, c.raftState, c.term, c.hasLeader,
		c.priority, c.basePriority, c.eligible, c.drained, c.fault, c.voters, c.eligibleVoters,
		c.delta, c.lease, c.lifetime, c.checkUp, c.checkWeight, c.checkRuns,
		c.groupHolding, c.groupAssigned, c.groupLease, c.groupWait, c.groupPriority,
		c.vrrpSent, c.vrrpReceived, c.vrrpAccepted, c.vrrpDropped, c.vrrpForeign, c.tlsRejected,
	} {
		ch <- d
	}
}

// Collect reads the view once and sends its series.
func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	v := c.view()
	gauge := func(d *prometheus.Desc, val float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, val, labels...)
	}
	counter := func(d *prometheus.Desc, val uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(val), labels...)
	}
	gauge(c.buildInfo, 1, Version, runtime.Version(), c.static.Node)
	gauge(c.holding, b2f(v.Holding))
	if v.Holding && !v.HeldSince.IsZero() {
		gauge(c.heldSince, float64(v.HeldSince.UnixNano())/1e9)
	}
	gauge(c.leaseRemaining, v.LeaseRemaining.Seconds())
	for _, s := range raftStates {
		gauge(c.raftState, b2f(s == v.Role), s)
	}
	gauge(c.term, float64(v.Term))
	gauge(c.hasLeader, b2f(v.HasLeader))
	gauge(c.priority, float64(v.Priority))
	gauge(c.basePriority, float64(v.BasePriority))
	gauge(c.eligible, b2f(v.Eligible))
	gauge(c.drained, b2f(v.Drained))
	gauge(c.fault, b2f(v.Fault))
	gauge(c.voters, float64(v.Voters))
	gauge(c.eligibleVoters, float64(v.EligibleVoters))
	gauge(c.delta, c.static.Delta.Seconds())
	for _, g := range v.Groups {
		gauge(c.groupHolding, b2f(g.Holding), g.Name)
		gauge(c.groupAssigned, b2f(g.Assigned), g.Name)
		gauge(c.groupLease, g.LeaseRemaining.Seconds(), g.Name)
		gauge(c.groupWait, g.Wait.Seconds(), g.Name)
		gauge(c.groupPriority, float64(g.Priority), g.Name)
	}
	gauge(c.lease, c.static.Lease.Seconds())
	gauge(c.lifetime, c.static.Lifetime.Seconds())
	for _, s := range v.Checks {
		gauge(c.checkUp, b2f(s.Known && s.Passing), s.Name)
		gauge(c.checkWeight, float64(s.Weight), s.Name)
		counter(c.checkRuns, s.Passes, s.Name, "pass")
		counter(c.checkRuns, s.Fails, s.Name, "fail")
	}
	if st := v.VRRP; st != nil {
		counter(c.vrrpSent, st.Sent)
		counter(c.vrrpReceived, st.Received)
		counter(c.vrrpAccepted, st.Accepted)
		for _, r := range vrrpDropReasons {
			if _, ok := st.Dropped[r]; !ok {
				counter(c.vrrpDropped, 0, string(r))
			}
		}
		for r, n := range st.Dropped {
			counter(c.vrrpDropped, n, string(r))
		}
		gauge(c.vrrpForeign, float64(len(st.Routers)))
	}
	for dir, counts := range map[string]map[string]uint64{"in": v.TLSIn, "out": v.TLSOut} {
		if counts == nil {
			continue
		}
		for _, r := range tlsRejectReasons {
			if _, ok := counts[r]; !ok {
				counter(c.tlsRejected, 0, dir, r)
			}
		}
		for r, n := range counts {
			counter(c.tlsRejected, n, dir, r)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// metricsView gathers what the collector reports, without Raft round trips: the
// holder's view of the groups, this node's checks, the FSM's drain flag, the VRRP
// counters.
func (n *Node) metricsView() metricsView {
	st := n.status(false)
	lh, states := n.local()
	v := metricsView{
		Role:           st.State,
		Term:           st.Term,
		HasLeader:      st.Leader != "",
		Holding:        st.Holding,
		LeaseRemaining: time.Duration(st.LeaseRemainingMS) * time.Millisecond,
		Priority:       lh.Priority,
		BasePriority:   n.basePriority(),
		Eligible:       st.Eligible,
		Drained:        st.Drained,
		Fault:          lh.Fault,
		Checks:         states,
	}
	if st.HeldSince != nil {
		v.HeldSince = *st.HeldSince
	}
	for _, m := range st.Members {
		if m.Voter {
			v.Voters++
			if m.Eligible {
				v.EligibleVoters++
			}
		}
	}
	for _, g := range st.Groups {
		v.Groups = append(v.Groups, groupView{Name: g.Name, Holding: g.Holding, Assigned: g.Assigned,
			LeaseRemaining: time.Duration(g.LeaseRemainingMS) * time.Millisecond, Wait: time.Duration(g.WaitMS) * time.Millisecond,
			Priority: g.Priority})
	}
	if len(n.groups) > 0 && n.groups[0].vrrp != nil {
		vs := n.groups[0].vrrp.sp.Stats()
		v.VRRP = &vs
	}
	if n.mux != nil {
		v.TLSIn, v.TLSOut = n.mux.Rejects()
	}
	return v
}

// newMetrics makes the node's metrics; they are served by serveMetrics.
func (n *Node) newMetrics() *nodeMetrics {
	static := metricsStatic{
		Node:  n.cfg.Node.Name,
		Delta: n.cfg.Cluster.Timing.ClaimMargin,
		Lease: n.cfg.Cluster.Timing.VIPLease,
	}
	if len(n.cfg.Groups) > 0 { // a witness has none
		static.Lifetime = n.cfg.Groups[0].Lifetime
	}
	return newNodeMetrics(n.metricsView, static, n.log.With("component", "metrics"))
}

// serve listens on addr (metrics.listen) and serves GET /metrics, with the Raft and
// memberlist metrics bridged in. An empty addr serves nothing.
func (m *nodeMetrics) serve(addr string) error {
	if addr == "" {
		return nil
	}
	sink, err := goMetricsBridge()
	if err != nil {
		return fmt.Errorf("cluster: metrics: bridge raft and memberlist metrics: %w", err)
	}
	if err := m.reg.Register(sink); err != nil {
		return fmt.Errorf("cluster: metrics: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cluster: listen for metrics on %s (metrics.listen): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            m.reg,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "raftvip: metrics are at GET /metrics", http.StatusNotFound)
	})
	m.srv, m.addr = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln.Addr()
	go func() {
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("metrics endpoint stopped", "err", err)
		}
	}()
	m.log.Info("serving metrics", "listen", ln.Addr().String(), "path", "/metrics")
	return nil
}

// close stops the endpoint; m may be nil.
func (m *nodeMetrics) close() {
	if m == nil || m.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m.srv.Shutdown(ctx)
}

// goMetricsExpiry is how long a Raft or memberlist series stays without an update.
// Raft's commit and apply timings are updated only when a record commits (a few an
// hour); a minute keeps them for a scrape or two after, without keeping the series of
// departed peers for ever.
const goMetricsExpiry = time.Minute

var (
	goMetricsOnce sync.Once
	goMetricsSink *gmprometheus.PrometheusSink
	goMetricsErr  error
)

// goMetricsBridge points go-metrics' global sink, the one Raft and memberlist report
// to, at a Prometheus collector, once per process: the libraries offer no other way.
// Raft and memberlist import github.com/hashicorp/go-metrics/compat, which forwards
// to github.com/armon/go-metrics unless the binary is built with the
// hashicorpmetrics tag. No hostname prefix, no runtime metrics of its own (the Go
// collector reports those).
func goMetricsBridge() (*gmprometheus.PrometheusSink, error) {
	goMetricsOnce.Do(func() {
		sink, err := gmprometheus.NewPrometheusSinkFrom(gmprometheus.PrometheusOpts{
			Expiration: goMetricsExpiry,
			Registerer: prometheus.NewRegistry(), // registered into each node's registry instead
			Name:       "raftvip_gometrics_bridge",
		})
		if err != nil {
			goMetricsErr = err
			return
		}
		cfg := gometrics.DefaultConfig("")
		cfg.EnableHostname = false
		cfg.EnableRuntimeMetrics = false
		if _, err := gometrics.NewGlobal(cfg, sink); err != nil {
			goMetricsErr = err
			return
		}
		goMetricsSink = sink
	})
	return goMetricsSink, goMetricsErr
}
