package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/gossip"
	"github.com/raftvip/raftvip/cluster/logging"
	"github.com/raftvip/raftvip/cluster/notify"
	"github.com/raftvip/raftvip/cluster/transport"
	"github.com/raftvip/raftvip/election"
	"github.com/raftvip/raftvip/store"
	"github.com/raftvip/raftvip/vrrpcompat"
)

// historyLimit bounds the ownership history kept in the FSM and shown by status.
const historyLimit = 64

// Node is one running raftvip agent.
type Node struct {
	cfg *config.Config
	log *slog.Logger

	edges     edges
	vip       vipManager
	guard     *guard
	sd        *sdNotifier     // nil unless started by systemd with Type=notify
	prio      atomic.Int64    // base priority; a reload changes it
	runCtx    context.Context // ends when the node stops
	liveMu    sync.Mutex      // guards checker and stopChecker, which a reload replaces
	stopCheck context.CancelFunc
	reloadMu  sync.Mutex     // one reload at a time
	live      *config.Config // the configuration in force: cfg plus what reloads applied
	stores    *store.Stores
	fsm       *store.FSM
	net       *network
	mux       *transport.Mux // nil unless on the host's network
	raft      *raft.Raft
	rpc       *http.Server
	checker   *election.Checker
	gossip    memberList
	notifier  *notify.Notifier
	elector   *election.Elector
	entitled  atomic.Pointer[election.Elector] // the announce gate's view of elector
	admin     *adminServer
	metrics   *nodeMetrics

	notifyCh    chan bool             // raft's leadership notifications
	observeCh   chan raft.Observation // raft state and leader observations
	appliedCh   chan struct{}         // an ownership record was applied
	applied     broadcast             // the same, for any number of waiters
	raftChanged broadcast             // raft's state or leader changed
	healthCh    chan struct{}         // a check or a member's gossip changed
	metaCh      chan struct{}         // our gossip metadata may have changed
	reconcileCh chan struct{}         // gossip changed: the leader reconciles membership
	vrrpCh      chan struct{}         // the VRRP speaker heard something new
	vrrp        *vrrpcompat.Speaker   // nil unless vrrp.enabled
	// vrrpListenUntil: until then the leader listens for a VRRP master before holding.
	vrrpListenUntil time.Time
	vrrpHeardMember atomic.Bool // a cluster member's advert was heard since start

	mem        *memberState
	leaving    atomic.Bool   // raftvip leave is under way or done
	leaveOnce  atomic.Bool   // a leave request is being served
	ready      atomic.Bool   // Start has wired everything up: the cluster RPC may use it
	startState bool          // the data dir had Raft state at start
	left       chan struct{} // closed once this node has left the cluster

	mu          sync.Mutex
	unreachable map[string]bool // peers whose heartbeats from this leader fail
	holding     bool            // as the elector last reported it
	notified    notify.State    // the state the notify hooks last heard

	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
	runErr   error
}

// Start brings a node up: it removes stale VIPs left on the interface, opens the data
// dir, starts Raft (bootstrapping from cluster.peers only when there is no Raft state),
// the election loop and the admin API. Stop it with Stop.
func Start(cfg *config.Config, logger *slog.Logger) (*Node, error) {
	return start(cfg, logger, hostEdges{})
}

// start is Start with the node's I/O built by e.
func start(cfg *config.Config, logger *slog.Logger, e edges) (_ *Node, err error) {
	n := &Node{cfg: cfg, log: logger, edges: e, done: make(chan struct{}), unreachable: map[string]bool{},
		mem: newMemberState(), left: make(chan struct{}), reconcileCh: make(chan struct{}, 1), vrrpCh: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			n.closeAll()
		}
	}()
	warnInsecure(cfg, logger)
	if err := Runnable(cfg); err != nil {
		return nil, err
	}

	// Before anything else: a VIP left behind by a crashed agent must not linger.
	n.vip, err = e.vip(cfg, logger.With("component", "vip"), func() bool {
		e := n.entitled.Load()
		return e != nil && e.Entitled()
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: start: %w", err)
	}
	removed, err := n.vip.Cleanup()
	if err != nil {
		return nil, fmt.Errorf("cluster: remove stale VIPs: %w", err)
	}
	if len(removed) > 0 {
		logger.Warn("removed VIP addresses left on the interface at start-up", "interface", cfg.VIP.Interface, "addresses", fmt.Sprint(removed))
	}
	// From here on, however this process ends, the guard removes the VIP at once.
	n.guard, err = e.guard(cfg, logger.With("component", "vip-guard"))
	if err != nil {
		return nil, err
	}

	n.stores, err = store.Open(cfg.Node.DataDir, cfg.Node.Name, logging.HCLog(logger, "raft-snapshot"))
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	n.healthCh = make(chan struct{}, 1)
	n.metaCh = make(chan struct{}, 1)
	n.metrics = n.newMetrics()
	n.prio.Store(int64(cfg.Priority))
	n.live = cfg
	n.checker, err = n.newChecker(cfg.Checks)
	if err != nil {
		return nil, err
	}
	n.notifier = notify.New(cfg.Notify, logger.With("component", "notify"))
	if err := n.startVRRP(); err != nil {
		return nil, err
	}

	if err := n.startRaft(); err != nil {
		return nil, err
	}
	n.gossip, err = e.gossip(gossip.Config{
		Name:     cfg.Node.Name,
		Bind:     netip.AddrPortFrom(cfg.Node.Bind, uint16(cfg.Node.GossipPort)),
		Key:      cfg.Cluster.Encrypt,
		Interval: gossipInterval,
		Meta:     n.localMeta(),
		Logger:   logger.With("component", "gossip"),
		OnChange: func() {
			signal(n.healthCh)
			signal(n.reconcileCh)
		},
	})
	if err != nil {
		return nil, err
	}

	t := cfg.Cluster.Timing
	claimDelay := effectiveClaimDelay(cfg)
	n.elector = election.New(election.Config{
		Node:         cfg.Node.Name,
		Raft:         n.raft,
		Ledger:       ledger{raft: n.raft, fsm: n.fsm},
		VIP:          n.vip,
		Logger:       logger.With("component", "election"),
		Lease:        t.VIPLease,
		Renew:        t.RenewInterval(),
		ClaimDelay:   claimDelay,
		ApplyTimeout: applyTimeout(t),
		Cluster:      health{n},
		Policy: election.PolicyConfig{
			Preempt:         cfg.Preempt,
			PreemptDelay:    cfg.PreemptDelay,
			Hysteresis:      policyHysteresis,
			MinMoveInterval: cfg.MinMoveInterval,
		},
		OnChange: n.holdingChanged,
		Gate:     n.vrrpGate,
		OnDrop:   n.vrrpDropped,
		OnMove:   n.metrics.moved,
		OnRenew:  n.metrics.renewed,
	})

	n.entitled.Store(n.elector)
	if err := n.metrics.serve(cfg.Metrics.Listen); err != nil {
		return nil, err
	}

	n.admin, err = startAdmin(cfg.Admin.Socket, n, logger.With("component", "admin"))
	if err != nil {
		return nil, err
	}
	if err := n.admin.listenTCP(cfg.Admin, logger.With("component", "admin")); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go n.pump(ctx)
	go n.publish(ctx)
	n.runCtx = ctx
	n.startChecker(n.checker)
	go n.gossip.Join(ctx, gossipPeers(cfg), func(err error) {
		if err == nil {
			n.mem.setJoinErr("")
			return
		}
		n.mem.setJoinErr(explainJoinError(err, cfg.Cluster.Encrypt != nil))
	})
	go n.form(ctx)
	go n.reconcile(ctx)
	go n.runVRRP(ctx)
	n.ready.Store(true)
	go func() {
		n.runErr = n.elector.Run(ctx)
		close(n.done)
	}()
	n.sd = newSDNotifier(os.Getenv)
	go n.superviseSystemd(ctx, n.sd, watchdogInterval(os.Getenv, os.Getpid()))
	logger.Info("agent started", "node", cfg.Node.Name, "raft", cfg.RaftAddr().String(),
		"vip", fmt.Sprint(cfg.VIP.Addresses), "interface", cfg.VIP.Interface,
		"timing", t.Profile, "claim_delay", claimDelay, "fencing", cfg.VIP.Fencing)
	return n, nil
}

// Runnable says whether this version of the agent can run cfg: today one VIP group
// (the vip: block, or groups: with one group).
func Runnable(cfg *config.Config) error {
	if len(cfg.Groups) > 1 {
		return fmt.Errorf("cluster: groups: has %d groups, but this version of the agent holds one group of VIPs; keep one group (or the vip: block) until an agent with several groups is installed", len(cfg.Groups))
	}
	return nil
}

// policyHysteresis is how long a voter's gossiped priority and eligibility must hold
// steady before the VIP moves to it for its priority: a few gossip rounds, so a
// flapping check cannot pull the VIP around.
const policyHysteresis = time.Second

// gossipInterval is memberlist's gossip period: how fast a changed priority spreads.
const gossipInterval = 100 * time.Millisecond

// signal wakes whoever reads ch without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// broadcast wakes every waiter at each signal: wait returns a channel that the next
// signal closes. The zero value is ready to use.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

func (b *broadcast) signal() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}

// kernelExpirySlack covers the kernel's late firing of address expiry (IPv4 rounds the
// check up by up to a quarter second) plus scheduling.
const kernelExpirySlack = 500 * time.Millisecond

// effectiveClaimDelay is D, plus under strict fencing the address lifetime and the
// kernel's expiry slack, so a frozen holder's kernel has dropped the VIP too.
func effectiveClaimDelay(cfg *config.Config) time.Duration {
	d := cfg.Cluster.Timing.ClaimDelay()
	if cfg.VIP.Fencing == "strict" {
		d += cfg.VIP.Lifetime + kernelExpirySlack
	}
	return d
}

// applyTimeout bounds record commits: a few election timeouts.
func applyTimeout(t config.Timing) time.Duration { return 3 * t.ElectionTimeout }

func (n *Node) startRaft() error {
	cfg := n.cfg
	t := cfg.Cluster.Timing
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.Node.Name)
	rc.HeartbeatTimeout = t.HeartbeatTimeout
	rc.ElectionTimeout = t.ElectionTimeout
	rc.LeaderLeaseTimeout = t.LeaderLease
	rc.CommitTimeout = t.CommitTimeout
	rc.ShutdownOnRemove = false
	rc.SnapshotThreshold = 1024
	rc.TrailingLogs = 1024
	rc.Logger = logging.HCLog(n.log, "raft")
	// Raft sends on NotifyCh with a blocking send from its main loop; pump drains it
	// at once, and the buffer absorbs flapping.
	n.notifyCh = make(chan bool, 16)
	rc.NotifyCh = n.notifyCh
	if err := raft.ValidateConfig(rc); err != nil {
		return fmt.Errorf("cluster: raft configuration: %w", err)
	}

	n.appliedCh = make(chan struct{}, 1)
	n.fsm = store.NewFSM(historyLimit, func() {
		signal(n.appliedCh)
		n.applied.signal()
	})
	var err error
	if n.net, err = n.edges.network(cfg, n.log.With("component", "raft-port")); err != nil {
		return err
	}
	n.mux = n.net.mux
	hasState, err := n.stores.HasState()
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	n.startState = hasState
	n.rpc = serveRPC(n.net.rpc, n, n.log.With("component", "rpc"))

	n.raft, err = raft.NewRaft(rc, n.fsm, n.stores.Log, n.stores.Stable, n.stores.Snapshots, n.net.raft)
	if err != nil {
		return fmt.Errorf("cluster: start raft: %w", err)
	}
	n.observeCh = make(chan raft.Observation, 64)
	n.raft.RegisterObserver(raft.NewObserver(n.observeCh, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.RaftState, raft.LeaderObservation, raft.ResumedHeartbeatObservation, raft.FailedHeartbeatObservation:
			return true
		}
		return false
	}))

	if hasState {
		n.log.Info("raft state found; not bootstrapping", "data_dir", cfg.Node.DataDir)
		return nil
	}
	if len(cfg.Cluster.Peers) == 0 {
		if cfg.Cluster.BootstrapExpect > 0 {
			n.log.Info("no raft state; forming a cluster by gossip", "bootstrap_expect", cfg.Cluster.BootstrapExpect)
		} else {
			n.log.Info("no raft state; waiting to be added to a cluster", "join", fmt.Sprint(cfg.Cluster.Join))
		}
		return nil
	}
	// A static cluster that already runs must not see this node bootstrap again: it
	// was wiped, or started after the others formed the cluster. Their leader brings
	// it in; the configuration names it already.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	peer := n.staticPeerHasState(ctx)
	cancel()
	if peer != "" {
		n.log.Info("no raft state, but the cluster exists; not bootstrapping", "peer_with_state", peer)
		return nil
	}
	servers := make([]raft.Server, 0, len(cfg.Cluster.Peers))
	for _, p := range cfg.Cluster.Peers {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.Name), Address: raft.ServerAddress(p.Addr.String())})
	}
	n.log.Info("bootstrapping new cluster", "peers", len(servers))
	if err := n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("cluster: bootstrap from cluster.peers: %w", err)
	}
	return nil
}

// pump turns Raft's notifications and observations into wake-ups of the election loop.
func (n *Node) pump(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case leader := <-n.notifyCh:
			n.log.Debug("raft leadership changed", "leader", leader)
			n.raftChanged.signal()
			n.elector.Wake()
		case <-n.healthCh:
			signal(n.metaCh)
			n.elector.Wake()
			n.refreshNotify()
			if n.vrrp != nil {
				lh, _ := n.local()
				n.vrrp.SetPriority(lh.Priority)
			}
		case <-n.vrrpCh:
			n.vrrpChanged()
		case <-tick.C:
			// Quorum and leader changes show in the metadata too.
			signal(n.metaCh)
		case o := <-n.observeCh:
			if f, ok := o.Data.(raft.FailedHeartbeatObservation); ok {
				n.setUnreachable(string(f.PeerID), true)
				continue
			}
			if r, ok := o.Data.(raft.ResumedHeartbeatObservation); ok {
				n.setUnreachable(string(r.PeerID), false)
				// A peer cut off from the holder answers again: the network on its
				// side may have cached another MAC for the VIP. Announce does
				// nothing unless the VIP is held here.
				n.log.Info("peer reachable again; re-announcing the VIP if held", "peer", string(r.PeerID))
				n.vip.Announce()
				continue
			}
			n.raftChanged.signal()
			if lo, ok := o.Data.(raft.LeaderObservation); ok {
				n.metrics.leaderObserved(string(lo.LeaderID), n.raft.CurrentTerm())
				// Heartbeat failures are a leader's view; a new term starts afresh.
				n.mu.Lock()
				clear(n.unreachable)
				n.mu.Unlock()
				signal(n.metaCh)
			}
			n.elector.Wake()
		case <-n.appliedCh:
			n.elector.Wake()
		}
	}
}

// setUnreachable records whether this leader's heartbeats to peer fail, and wakes
// the election when that changes.
func (n *Node) setUnreachable(peer string, down bool) {
	n.mu.Lock()
	changed := n.unreachable[peer] != down
	if down {
		n.unreachable[peer] = true
	} else {
		delete(n.unreachable, peer)
	}
	n.mu.Unlock()
	if changed {
		n.elector.Wake()
	}
}

// isUnreachable reports whether this leader's heartbeats to peer fail.
func (n *Node) isUnreachable(peer string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.unreachable[peer]
}

// publish keeps our gossip metadata current. It runs apart from pump because
// memberlist's UpdateNode waits for the broadcast to go out.
func (n *Node) publish(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.metaCh:
			n.gossip.SetMeta(n.localMeta())
		}
	}
}

// holdingChanged is the elector's OnChange: it runs, in order, after every pass that
// changed holding or eligibility.
func (n *Node) holdingChanged(holding bool) {
	n.mu.Lock()
	n.holding = holding
	n.mu.Unlock()
	if holding && n.vrrp != nil {
		lh, _ := n.local()
		n.vrrp.SetMaster(true, lh.Priority)
	}
	n.refreshNotify()
}

// refreshNotify tells the notify hooks about a change of state: MASTER while holding
// the VIP, FAULT while a weight-0 check fails, BACKUP otherwise (drained included).
// Transition only queues, so this never waits for a hook.
func (n *Node) refreshNotify() {
	lh, states := n.local()
	n.mu.Lock()
	defer n.mu.Unlock()
	state := notify.Backup
	switch {
	case n.holding:
		state = notify.Master
	case knownFault(states):
		// A check that has not answered yet keeps the node from holding, but, as in
		// keepalived, only a failure that was seen is a FAULT.
		state = notify.Fault
	}
	if state == n.notified {
		return
	}
	n.notified = state
	n.notifier.Transition(state, lh.Priority)
}

// knownFault reports whether a weight-0 check has been seen failing.
func knownFault(states []election.CheckState) bool {
	for _, s := range states {
		if s.Weight == 0 && s.Known && !s.Passing {
			return true
		}
	}
	return false
}

// Stop shuts the node down: a holder hands the VIP to another voter by a planned move,
// the VIP is removed, Raft stops and the data dir is closed. Stop is safe to call twice.
func (n *Node) Stop(ctx context.Context) error {
	var err error
	n.stopOnce.Do(func() {
		systemdStopping(n.sd)
		heldAtStop := n.elector != nil && n.elector.Status().Holding
		handedOff := true
		if n.raft != nil && n.raft.State() == raft.Leader {
			// To the node the policy would pick; with none eligible, raft picks the
			// most up-to-date voter, which then waits for one.
			target := ""
			if best, ok := election.BestTarget(health{n}.Candidates(), n.cfg.Node.Name); ok {
				target = best.Name
			}
			n.log.Info("shutting down: handing off leadership and the VIP", "to", target)
			if herr := n.elector.Handoff(ctx, election.Move{Target: target, Reason: "shutdown", Retire: true}); herr != nil && !errors.Is(herr, election.ErrNotHolder) {
				n.log.Warn("planned hand-off failed; removing the VIP anyway", "err", herr)
				handedOff = false
			}
		}
		n.vrrpStopped(heldAtStop, handedOff)
		n.cancel()
		<-n.done
		err = n.runErr
		lh, _ := n.local()
		n.notifier.Transition(notify.Stop, lh.Priority)
		nctx, ncancel := context.WithTimeout(context.Background(), 2*time.Second)
		n.notifier.Close(nctx)
		ncancel()
		n.closeAll()
		n.log.Info("agent stopped")
	})
	return err
}

// Done is closed when the election loop has stopped.
func (n *Node) Done() <-chan struct{} { return n.done }

func (n *Node) closeAll() {
	if n.admin != nil {
		n.admin.Close()
	}
	n.metrics.close()
	if n.vrrp != nil {
		if err := n.vrrp.Close(); err != nil {
			n.log.Debug("close vrrp socket", "err", err)
		}
	}
	if n.gossip != nil {
		// No gossip leave: a member that left is removed from the Raft
		// configuration, and a restart must not do that. The others see this node
		// fail instead, as it does; raftvip leave is the way out of the cluster.
		n.gossip.Shutdown()
	}
	if n.rpc != nil {
		n.rpc.Close()
	}
	if n.raft != nil {
		if err := n.raft.Shutdown().Error(); err != nil {
			n.log.Warn("raft shutdown", "err", err)
		}
	}
	if n.net != nil {
		n.net.close()
	}
	if n.stores != nil {
		if err := n.stores.Close(); err != nil {
			n.log.Warn("close data dir", "err", err)
		}
	}
	if n.vip != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := n.vip.Set(ctx, false); err != nil {
			n.log.Error("remove VIP", "err", err)
		}
		cancel()
		n.vip.Close()
	}
	if n.guard != nil {
		if err := n.guard.Close(2 * time.Second); err != nil {
			n.log.Warn("stop vip guard", "err", err)
		}
	}
}

// ledger commits ownership records through Raft and reads them from the FSM.
type ledger struct {
	raft *raft.Raft
	fsm  *store.FSM
}

func (l ledger) Last() (election.Record, bool) {
	r, ok := l.fsm.Last()
	return election.Record{Kind: r.Kind, Node: r.Node, Term: r.Term, Handoff: r.Handoff, Reason: r.Reason, At: r.At}, ok
}

func (l ledger) Claim(node string, term uint64, timeout time.Duration) (election.Record, bool, error) {
	res, err := l.apply(store.EncodeClaim(node, term, time.Now()), timeout)
	if err != nil {
		return election.Record{}, false, err
	}
	p := res.Previous
	return election.Record{Kind: p.Kind, Node: p.Node, Term: p.Term, Handoff: p.Handoff, Reason: p.Reason, At: p.At}, res.HadPrevious, nil
}

func (l ledger) Release(node string, term uint64, handoff, reason string, pin bool, timeout time.Duration) error {
	_, err := l.apply(store.EncodeRelease(node, term, handoff, reason, pin, time.Now()), timeout)
	return err
}

func (l ledger) Pinned() string { return l.fsm.Pinned() }

func (l ledger) apply(entry []byte, timeout time.Duration) (store.Applied, error) {
	f := l.raft.Apply(entry, timeout)
	if err := f.Error(); err != nil {
		return store.Applied{}, fmt.Errorf("cluster: commit ownership record: %w", err)
	}
	switch resp := f.Response().(type) {
	case store.Applied:
		return resp, nil
	case error:
		return store.Applied{}, fmt.Errorf("cluster: apply ownership record: %w", resp)
	}
	return store.Applied{}, fmt.Errorf("cluster: apply ownership record: unexpected response %T", f.Response())
}
