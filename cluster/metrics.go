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
	VRRP           *vrrpcompat.Stats // nil unless vrrp.enabled
	// TLSIn and TLSOut count failed handshakes on the Raft port by reason, accepted
	// and dialled; both nil without cluster.tls.
	TLSIn, TLSOut map[string]uint64
}

// metricsStatic is configuration the metrics report as gauges.
type metricsStatic struct {
	Node       string
	ClaimDelay time.Duration // the effective claim delay
	Lease      time.Duration // cluster.timing.vip_lease
	Lifetime   time.Duration // vip.lifetime
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
	renewFailures prometheus.Counter
	claimWait     prometheus.Histogram

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
			Help: "VIP moves this node took part in: direction in (it took the VIP) or out (it gave it up), by reason.",
		}, []string{"direction", "reason"}),
		renew: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "lease_renew_seconds",
			Help:    "How long the leader's lease renewals took: VerifyLeader, confirmed by a quorum. Compare with raftvip_vip_lease_seconds.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		renewFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace, Name: "lease_renew_failures_total",
			Help: "Lease renewals a quorum did not confirm.",
		}),
		claimWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Name: "claim_wait_seconds",
			Help:    "From becoming Raft leader to holding the VIP: a commit after a planned move, about the claim delay after a failover.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	m.reg.MustRegister(m.leaderChanges, m.moves, m.renew, m.renewFailures, m.claimWait,
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

// moved is the elector's OnMove.
func (m *nodeMetrics) moved(ev election.MoveEvent) {
	dir := "out"
	if ev.Held {
		dir = "in"
		m.claimWait.Observe(ev.SinceLeader.Seconds())
	}
	m.moves.WithLabelValues(dir, moveReason(ev.Reason)).Inc()
}

// renewed is the elector's OnRenew.
func (m *nodeMetrics) renewed(took time.Duration, ok bool) {
	if !ok {
		m.renewFailures.Inc()
		return
	}
	m.renew.Observe(took.Seconds())
}

// The values of raftvip_moves_total's reason label.
const (
	moveFirstClaim = "first-claim" // in: the first claim of the cluster's history
	moveReElected  = "re-elected"  // in: the holder was elected again in a new term
	moveLeaderLost = "leader-lost" // in: the holder died or was cut off (unplanned)
	moveReleased   = "released"    // in: after a release that gave no reason
	moveTransfer   = "transfer"    // raftvip transfer
	moveShutdown   = "shutdown"    // the holder stopped and handed off
	moveLeave      = "leave"       // raftvip leave on the holder, or it is leaving
	movePreemption = "preemption"  // a voter of higher priority took over
	moveDrain      = "drain"       // the holder was drained
	moveFault      = "fault"       // a weight-0 check failed on the holder
	moveIneligible = "ineligible"  // the holder became ineligible for another reason
	moveLeaseLost  = "lease-lost"  // the holder's lease ran out: no quorum confirmed it
	moveLeaderGone = "not-leader"  // the holder lost Raft leadership
	moveVRRP       = "vrrp"        // a foreign VRRP master outranks the cluster
	moveOther      = "other"
)

// moveReason maps a move's reason, free text naming nodes and priorities (a release
// record's reason, a planned Move's, DescribeMove's, a decision's), to one of a few
// label values.
func moveReason(r string) string {
	switch {
	case r == "first claim":
		return moveFirstClaim
	case r == "re-elected":
		return moveReElected
	case r == "leader lost":
		return moveLeaderLost
	case r == "released" || r == "":
		return moveReleased
	case r == "shutdown" || r == string(election.ReasonShuttingDown):
		return moveShutdown
	case r == "leave":
		return moveLeave
	case strings.HasPrefix(r, "operator transfer"):
		return moveTransfer
	case r == string(election.ReasonNoLease):
		return moveLeaseLost
	case r == string(election.ReasonNotLeader):
		return moveLeaderGone
	case strings.HasPrefix(r, vrrpBackupWord):
		return moveVRRP
	case strings.Contains(r, " has priority "):
		return movePreemption
	}
	// Health: the policy's "lb1 is FAULT: check haproxy failing; moving to lb2
	// (priority 100)", or the decision's "not eligible: drained".
	if strings.Contains(r, "; moving to ") || strings.HasPrefix(r, string(election.ReasonIneligible)) {
		switch {
		case strings.Contains(r, "drained"):
			return moveDrain
		case strings.Contains(r, "FAULT"):
			return moveFault
		case strings.Contains(r, "leaving the cluster"):
			return moveLeave
		}
		return moveIneligible
	}
	return moveOther
}

// nodeCollector turns a metricsView, read at scrape time, into series.
type nodeCollector struct {
	view   func() metricsView
	static metricsStatic

	buildInfo, holding, heldSince, leaseRemaining, raftState, term, hasLeader *prometheus.Desc
	priority, basePriority, eligible, drained, fault, voters, eligibleVoters  *prometheus.Desc
	claimDelay, lease, lifetime                                               *prometheus.Desc
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
		holding:        d("holding", "1 while this node holds the VIP. sum() over the cluster should be 1."),
		heldSince:      d("held_since_timestamp_seconds", "When this node started holding the VIP (only while it does)."),
		leaseRemaining: d("lease_remaining_seconds", "How long the holder's lease still covers the VIP; 0 unless leader with a lease."),
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
		claimDelay:     d("claim_delay_seconds", "The claim delay: how long a new leader waits before it holds after an unplanned change."),
		lease:          d("vip_lease_seconds", "The holder's lease after each confirmed renewal (cluster.timing.vip_lease)."),
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
		c.claimDelay, c.lease, c.lifetime, c.checkUp, c.checkWeight, c.checkRuns,
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
	gauge(c.claimDelay, c.static.ClaimDelay.Seconds())
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
// elector's snapshot, this node's checks, the FSM's drain flag, the VRRP counters.
func (n *Node) metricsView() metricsView {
	es := n.elector.Status()
	_, leader := n.raft.LeaderWithID()
	lh, states := n.local()
	v := metricsView{
		Role:           es.Role.String(),
		Term:           es.Term,
		HasLeader:      leader != "",
		Holding:        es.Holding,
		LeaseRemaining: es.LeaseRemaining,
		Priority:       lh.Priority,
		BasePriority:   n.basePriority(),
		Eligible:       es.Plan.Ineligible == "",
		Drained:        n.fsm.Drained(n.cfg.Node.Name),
		Fault:          lh.Fault,
		Checks:         states,
	}
	if es.Holding {
		v.HeldSince = es.HeldSince
	}
	for _, c := range es.Candidates {
		if c.Voter {
			v.Voters++
			if c.Eligible() {
				v.EligibleVoters++
			}
		}
	}
	if n.vrrp != nil {
		st := n.vrrp.Stats()
		v.VRRP = &st
	}
	if n.mux != nil {
		v.TLSIn, v.TLSOut = n.mux.Rejects()
	}
	return v
}

// newMetrics makes the node's metrics; they are served by serveMetrics.
func (n *Node) newMetrics() *nodeMetrics {
	return newNodeMetrics(n.metricsView, metricsStatic{
		Node:       n.cfg.Node.Name,
		ClaimDelay: effectiveClaimDelay(n.cfg),
		Lease:      n.cfg.Cluster.Timing.VIPLease,
		Lifetime:   n.cfg.VIP.Lifetime,
	}, n.log.With("component", "metrics"))
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
