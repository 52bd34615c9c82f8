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
)

// historyLimit bounds the ownership history kept in the FSM and shown by status.
const historyLimit = 64

// Node is one running raftvip agent.
type Node struct {
	cfg *config.Config
	log *slog.Logger

	edges     edges
	groups    []*groupRT          // the VIP groups, in config order
	byName    map[string]*groupRT // the same, by name
	inc       string              // this start's incarnation: its assignments name it
	guard     *guard
	sd        *sdNotifier     // nil unless started by systemd with Type=notify
	runCtx    context.Context // ends when the node stops
	liveMu    sync.Mutex      // guards checker and stopChecker, which a reload replaces
	stopCheck context.CancelFunc
	reloadMu  sync.Mutex                    // one reload at a time
	live      atomic.Pointer[config.Config] // the configuration in force: cfg plus what reloads applied
	stores    *store.Stores
	fsm       *store.FSM
	net       *network
	mux       *transport.Mux // nil unless on the host's network
	raft      *raft.Raft
	rpc       *http.Server
	checker   *election.Checker
	gossip    memberList
	notifier  *notify.Notifier
	holder    *election.Holder
	placer    *election.Placer
	lease     *leaseNet
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
	vrrpCh      chan struct{}         // a VRRP speaker heard something new
	leaderSince atomic.Int64          // unix nanoseconds this node became leader; 0: it does not lead

	mem        *memberState
	leaving    atomic.Bool   // raftvip leave is under way or done
	leaveOnce  atomic.Bool   // a leave request is being served
	stopping   atomic.Bool   // Stop is moving this node's groups away
	ready      atomic.Bool   // Start has wired everything up: the cluster RPC may use it
	startState bool          // the data dir had Raft state at start
	left       chan struct{} // closed once this node has left the cluster

	mu          sync.Mutex
	unreachable map[string]bool // peers whose heartbeats from this leader fail

	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
	runErr   error
	fatal    atomic.Pointer[error]  // why the node stopped on its own, if it did
	olderWhy atomic.Pointer[string] // a member speaks an older ownership protocol: what to do
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
		mem: newMemberState(), left: make(chan struct{}), reconcileCh: make(chan struct{}, 1), vrrpCh: make(chan struct{}, 1),
		byName: map[string]*groupRT{}}
	defer func() {
		if err != nil {
			n.closeAll()
		}
	}()
	warnInsecure(cfg, logger)
	if n.inc, err = newIncarnation(); err != nil {
		return nil, err
	}
	n.live.Store(cfg)

	// Before anything else: VIPs left behind by a crashed agent must not linger.
	for _, gc := range cfg.Groups {
		g := &groupRT{cfg: gc, policy: policyOf(gc)}
		name := gc.Name
		g.vip, err = e.vip(gc, logger.With("component", "vip", "group", name), func() bool { return n.holder != nil && n.holder.Entitled(name) })
		if err != nil {
			return nil, fmt.Errorf("cluster: start group %s: %w", name, err)
		}
		n.groups = append(n.groups, g)
		n.byName[name] = g
		removed, err := g.vip.Cleanup()
		if err != nil {
			return nil, fmt.Errorf("cluster: remove stale VIPs of group %s: %w", name, err)
		}
		if len(removed) > 0 {
			logger.Warn("removed VIP addresses left on the interface at start-up", "group", name, "interface", gc.Interface, "addresses", fmt.Sprint(removed))
		}
	}
	// From here on, however this process ends, the guard removes the VIPs at once. A
	// witness has none to remove.
	if !cfg.Witness() {
		n.guard, err = e.guard(cfg, logger.With("component", "vip-guard"))
		if err != nil {
			return nil, err
		}
	}

	n.stores, err = store.Open(cfg.Node.DataDir, cfg.Node.Name, logging.HCLog(logger, "raft-snapshot"))
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	n.healthCh = make(chan struct{}, 1)
	n.metaCh = make(chan struct{}, 1)
	n.metrics = n.newMetrics()
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
	n.startOwnership()

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
	go n.lease.serve(n.net.lease)
	go n.placer.Run(ctx, cfg.Cluster.Timing.RenewInterval())
	go n.preferLeader(ctx)
	n.ready.Store(true)
	go n.guardProtocol(ctx, time.Now())
	go func() {
		n.runErr = n.holder.Run(ctx)
		if f := n.fatal.Load(); f != nil {
			n.runErr = *f
		}
		close(n.done)
	}()
	n.sd = newSDNotifier(os.Getenv)
	go n.superviseSystemd(ctx, n.sd, watchdogInterval(os.Getenv, os.Getpid()))
	t := cfg.Cluster.Timing
	logger.Info("agent started", "node", cfg.Node.Name, "incarnation", n.inc, "raft", cfg.RaftAddr().String(),
		"groups", len(n.groups), "timing", t.Profile, "lease", t.VIPLease, "delta", t.ClaimMargin)
	return n, nil
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
	n.stores.Log.OnChange(func() {
		if h := n.holder; h != nil {
			h.Wake()
		}
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
			if leader {
				n.leaderSince.Store(time.Now().UnixNano())
			} else {
				n.leaderSince.Store(0)
			}
			n.raftChanged.signal()
			n.holder.Wake()
			n.placer.Wake()
		case <-n.healthCh:
			signal(n.metaCh)
			n.holder.Wake()
			n.placer.Wake()
			n.refreshNotify()
			n.vrrpPriorities()
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
				n.log.Info("peer reachable again; re-announcing the VIPs held", "peer", string(r.PeerID))
				for _, g := range n.groups {
					g.vip.Announce()
				}
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
			n.holder.Wake()
		case <-n.appliedCh:
			n.holder.Wake()
			n.placer.Wake()
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
		n.placer.Wake()
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

// Stop shuts the node down: the groups it holds move to other nodes by planned moves,
// its VIPs are removed, Raft stops and the data dir is closed. Stop is safe to call
// twice.
func (n *Node) Stop(ctx context.Context) error {
	var err error
	n.stopOnce.Do(func() {
		systemdStopping(n.sd)
		n.moveAway(ctx, "shutdown")
		n.handOffLeadership(ctx)
		n.cancel()
		<-n.done
		err = n.runErr
		for _, g := range n.groups {
			n.notifier.Transition(notify.Stop, notifyInstance(n.live.Load(), g.cfg.Name), n.groupPriority(g.cfg.Name))
		}
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

// Fatal is why the node stopped on its own (Done closed without Stop), if it says.
func (n *Node) Fatal() error {
	if f := n.fatal.Load(); f != nil {
		return *f
	}
	return nil
}

// stopWith stops the node on its own for err.
func (n *Node) stopWith(err error) {
	n.fatal.CompareAndSwap(nil, &err)
	n.cancel()
}

func (n *Node) closeAll() {
	if n.admin != nil {
		n.admin.Close()
	}
	n.metrics.close()
	for _, g := range n.groups {
		if g.vrrp != nil {
			if err := g.vrrp.sp.Close(); err != nil {
				n.log.Debug("close vrrp socket", "group", g.cfg.Name, "err", err)
			}
		}
	}
	if n.lease != nil {
		n.lease.close()
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
	for _, g := range n.groups {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := g.vip.Set(ctx, false); err != nil {
			n.log.Error("remove VIP", "group", g.cfg.Name, "err", err)
		}
		cancel()
		g.vip.Close()
	}
	if n.guard != nil {
		if err := n.guard.Close(2 * time.Second); err != nil {
			n.log.Warn("stop vip guard", "err", err)
		}
	}
}
