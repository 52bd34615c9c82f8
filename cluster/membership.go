package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/gossip"
	"github.com/raftvip/raftvip/election"
)

// Membership pairs gossip with Raft the way Consul and Nomad pair Serf with Raft:
// gossip finds nodes and carries their health; the Raft leader turns what gossip says
// into configuration changes. Gossip never decides who holds the VIP.
//
//   - Formation (cluster.bootstrap_expect: N): once N servers see each other by gossip
//     and none has Raft state, the one with the lowest name asks each of the others
//     over the cluster RPC whether they still have no state and see nobody lower, then
//     bootstraps a configuration of all of them as voters. The others never bootstrap;
//     they receive the configuration from the new leader.
//   - Join: the leader adds an alive gossip member that is not in the configuration as
//     a non-voter, and promotes it once it has caught up and stayed up for a while.
//     A node with Raft state that is not in the configuration is never added: it
//     belongs to another cluster, or it left this one and must be wiped to rejoin.
//   - Leave: the node hands off the VIP and leadership, asks the leader to remove it,
//     then leaves gossip. A member gossip reports as left is removed as well.
//   - Dead members stay until an operator runs force-leave.

// memberState is the membership bookkeeping of a node.
type memberState struct {
	mu sync.Mutex
	// form says why this node has not bootstrapped or joined a cluster yet.
	form string
	// joinErr is the last failure to join gossip, if every address failed.
	joinErr string
	// ids is the instance id the leader last saw for each server; a different id
	// means the node came back with an empty data dir.
	ids map[string]string
	// nonvoterSince is when the leader added each non-voter, or first saw it.
	nonvoterSince map[string]time.Time
	// skip holds servers the leader removed on request (leave, force-leave), so that
	// gossip that still calls them alive does not add them straight back.
	skip map[string]time.Time
	// refused logs a refused member once.
	refused map[string]string
}

func newMemberState() *memberState {
	return &memberState{
		ids:           map[string]string{},
		nonvoterSince: map[string]time.Time{},
		skip:          map[string]time.Time{},
		refused:       map[string]string{},
	}
}

func (m *memberState) setForm(s string) {
	m.mu.Lock()
	m.form = s
	m.mu.Unlock()
}

func (m *memberState) setJoinErr(s string) {
	m.mu.Lock()
	m.joinErr = s
	m.mu.Unlock()
}

// skipFor is how long a removed server is not re-added although gossip still calls it
// alive: long enough for its gossip leave, or memberlist's failure detection, to land.
const skipFor = time.Minute

// reconcileEvery is how often the leader reconciles gossip with the configuration,
// besides every gossip change.
const reconcileEvery = time.Second

// hasState reports whether this node has Raft state: a configuration or a log.
func (n *Node) hasState() bool {
	if n.raft.LastIndex() > 0 {
		return true
	}
	f := n.raft.GetConfiguration()
	return f.Error() == nil && len(f.Configuration().Servers) > 0
}

// configuration returns the latest Raft configuration.
func (n *Node) configuration() ([]raft.Server, error) {
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, fmt.Errorf("read raft configuration: %w", err)
	}
	return f.Configuration().Servers, nil
}

// inConfiguration reports whether this node is a server of the Raft configuration.
func (n *Node) inConfiguration() bool {
	servers, err := n.configuration()
	if err != nil {
		return false
	}
	return slices.ContainsFunc(servers, func(s raft.Server) bool { return string(s.ID) == n.cfg.Node.Name })
}

// membership says why this node is not a member of a cluster yet, or "" if it is.
func (n *Node) membership() string {
	if n.inConfiguration() {
		return ""
	}
	n.mem.mu.Lock()
	form, joinErr := n.mem.form, n.mem.joinErr
	n.mem.mu.Unlock()
	switch {
	case n.leaving.Load():
		return "left the cluster"
	case n.hasState():
		return "not in the cluster's raft configuration: this node left or was removed, and a node with raft state is not added back; stop the agent, empty node.data_dir and start it again to rejoin"
	case form != "":
		return form
	case joinErr != "":
		return "not in a cluster yet: cannot join gossip: " + joinErr
	case len(gossipPeers(n.cfg)) == 0 && n.gossip.NumMembers() <= 1:
		return "not in a cluster yet: no cluster.peers, bootstrap_expect or join; run raftvip join ADDR to join a cluster"
	}
	if n.mux != nil {
		if t := n.mux.Trouble(tlsTroubleWindow); t != "" {
			return "not in a cluster yet: " + t
		}
	}
	return "not in a cluster yet: waiting for the cluster's leader to add this node"
}

// form bootstraps a cluster from gossip (cluster.bootstrap_expect). It returns once
// this node has Raft state, however it got it.
func (n *Node) form(ctx context.Context) {
	expect := n.cfg.Cluster.BootstrapExpect
	if expect == 0 || n.hasState() {
		return
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		if n.hasState() {
			n.mem.setForm("")
			return
		}
		status, ready := n.formStep(ctx, expect)
		n.mem.setForm(status)
		if status != last {
			n.log.Info("forming a cluster", "status", status)
			last = status
		}
		if ready {
			n.mem.setForm("")
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// formStep makes one formation attempt. It returns what it is waiting for, or ready
// once this node bootstrapped.
func (n *Node) formStep(ctx context.Context, expect int) (string, bool) {
	self := n.cfg.Node.Name
	var servers []gossip.Member
	for _, m := range n.gossip.All() {
		if m.State != gossip.Alive || m.MetaErr != nil || m.Meta.Raft == "" {
			continue
		}
		if m.Name != self && m.Meta.State {
			return fmt.Sprintf("not in a cluster yet: %s already belongs to a cluster; waiting for its leader to add this node", m.Name), false
		}
		if m.Meta.Expect != expect {
			if m.Name != self {
				return fmt.Sprintf("not forming a cluster: %s has bootstrap_expect %d, this node %d; give every node the same cluster.bootstrap_expect",
					m.Name, m.Meta.Expect, expect), false
			}
		}
		servers = append(servers, m)
	}
	if !slices.ContainsFunc(servers, func(m gossip.Member) bool { return m.Name == self }) {
		return "not in a cluster yet: gossip has not started", false
	}
	if len(servers) < expect {
		names := make([]string, 0, len(servers))
		for _, m := range servers {
			names = append(names, m.Name)
		}
		return fmt.Sprintf("waiting for bootstrap_expect: %d of %d servers see each other (%s)", len(servers), expect, strings.Join(names, ", ")), false
	}
	lowest := servers[0].Name // gossip.all sorts by name
	if lowest != self {
		return fmt.Sprintf("waiting for %s to bootstrap the cluster (%d servers see each other)", lowest, len(servers)), false
	}
	// Make sure: every other server still has no state, expects the same number, and
	// sees nobody with a lower name than this node.
	for _, m := range servers {
		if m.Name == self {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var info rpcInfoResponse
		err := n.rpcCall(cctx, m.Meta.Raft, "/v1/rpc/info", struct{}{}, &info)
		cancel()
		switch {
		case err != nil:
			return fmt.Sprintf("waiting for bootstrap_expect: cannot ask %s before bootstrapping: %v", m.Name, err), false
		case info.HasState:
			return fmt.Sprintf("not in a cluster yet: %s already belongs to a cluster; waiting for its leader to add this node", m.Name), false
		case info.Expect != expect:
			return fmt.Sprintf("not forming a cluster: %s has bootstrap_expect %d, this node %d", m.Name, info.Expect, expect), false
		case len(info.Servers) > 0 && info.Servers[0] < self:
			return fmt.Sprintf("waiting for %s to bootstrap the cluster (%s sees it)", info.Servers[0], m.Name), false
		}
	}
	conf := raft.Configuration{}
	names := make([]string, 0, len(servers))
	for _, m := range servers {
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.Name), Address: raft.ServerAddress(m.Meta.Raft)})
		names = append(names, m.Name)
	}
	if err := n.raft.BootstrapCluster(conf).Error(); err != nil {
		if errors.Is(err, raft.ErrCantBootstrap) {
			return "", true
		}
		return fmt.Sprintf("bootstrap failed: %v", err), false
	}
	n.log.Info("bootstrapped a new cluster from gossip", "voters", strings.Join(names, ", "), "bootstrap_expect", expect)
	signal(n.metaCh)
	return "", true
}

// formingServers are the alive gossip members with no Raft state, by name: what
// /v1/rpc/info tells a node about to bootstrap.
func (n *Node) formingServers() []string {
	var out []string
	for _, m := range n.gossip.All() {
		if m.State == gossip.Alive && m.MetaErr == nil && m.Meta.Raft != "" && !m.Meta.State {
			out = append(out, m.Name)
		}
	}
	return out
}

// staticPeerHasState asks the static peers whether one of them already has Raft
// state; a node with none that finds one must not bootstrap (it was wiped, or came
// late): the existing cluster's leader brings it in.
func (n *Node) staticPeerHasState(ctx context.Context) string {
	type answer struct {
		name  string
		state bool
	}
	peers := 0
	ch := make(chan answer, len(n.cfg.Cluster.Peers))
	for _, p := range n.cfg.Cluster.Peers {
		if p.Name == n.cfg.Node.Name {
			continue
		}
		peers++
		go func() {
			var info rpcInfoResponse
			err := n.rpcCall(ctx, p.Addr.String(), "/v1/rpc/info", struct{}{}, &info)
			ch <- answer{p.Name, err == nil && info.HasState}
		}()
	}
	for range peers {
		if a := <-ch; a.state {
			return a.name
		}
	}
	return ""
}

// reconcile is the leader's loop that turns gossip into Raft configuration changes.
func (n *Node) reconcile(ctx context.Context) {
	tick := time.NewTicker(reconcileEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-n.reconcileCh:
		}
		if n.raft.State() != raft.Leader {
			continue
		}
		n.reconcileOnce(ctx)
	}
}

// reconcileOnce makes the configuration follow gossip, one change at a time.
func (n *Node) reconcileOnce(ctx context.Context) {
	servers, err := n.configuration()
	if err != nil {
		return
	}
	byID := map[string]raft.Server{}
	for _, s := range servers {
		byID[string(s.ID)] = s
	}
	self := n.cfg.Node.Name
	timeout := applyTimeout(n.cfg.Cluster.Timing)
	now := time.Now()
	for _, m := range n.gossip.All() {
		if m.Name == self || m.MetaErr != nil || m.Meta.Raft == "" {
			continue
		}
		s, in := byID[m.Name]
		switch m.State {
		case gossip.Left:
			if in {
				n.log.Info("member left gossip; removing it from the raft configuration", "member", m.Name)
				n.changeConfig("remove", m.Name, n.raft.RemoveServer(s.ID, 0, timeout))
				return
			}
			continue
		case gossip.Alive:
		default:
			continue // dead and suspect members wait for force-leave
		}
		if n.skipped(m.Name, now) || m.Meta.Leaving {
			continue
		}
		if !in {
			if m.Meta.Protocol < election.ProtocolVersion {
				n.refuse(m.Name, olderProtocolWhy(m.Name, m.Meta))
				continue
			}
			if m.Meta.State {
				n.refuse(m.Name, "it has raft state of another cluster, or from before it left this one; empty its node.data_dir and restart it to join")
				continue
			}
			if other, ok := serverAt(servers, m.Meta.Raft); ok {
				n.log.Warn("a new member has the raft address of a server; removing the old server", "member", m.Name, "old", other, "address", m.Meta.Raft)
				n.changeConfig("remove", other, n.raft.RemoveServer(raft.ServerID(other), 0, timeout))
				return
			}
			if why := n.tlsRefusal(ctx, m); why != "" {
				n.refuse(m.Name, why)
				continue
			}
			n.log.Info("adding member as a non-voter", "member", m.Name, "address", m.Meta.Raft)
			if n.changeConfig("add non-voter", m.Name, n.raft.AddNonvoter(raft.ServerID(m.Name), raft.ServerAddress(m.Meta.Raft), 0, timeout)) {
				n.mem.mu.Lock()
				n.mem.ids[m.Name], n.mem.nonvoterSince[m.Name] = m.Meta.ID, now
				delete(n.mem.refused, m.Name)
				n.mem.mu.Unlock()
			}
			return
		}
		n.mem.mu.Lock()
		known, seen := n.mem.ids[m.Name]
		n.mem.ids[m.Name] = m.Meta.ID
		since, ok := n.mem.nonvoterSince[m.Name]
		if !ok && s.Suffrage == raft.Nonvoter {
			n.mem.nonvoterSince[m.Name], since = now, now
		}
		n.mem.mu.Unlock()
		switch {
		case string(s.Address) != m.Meta.Raft:
			n.log.Warn("member moved to a new raft address; re-adding it as a non-voter", "member", m.Name, "old", s.Address, "new", m.Meta.Raft)
			if n.changeConfig("remove", m.Name, n.raft.RemoveServer(s.ID, 0, timeout)) {
				n.changeConfig("add non-voter", m.Name, n.raft.AddNonvoter(s.ID, raft.ServerAddress(m.Meta.Raft), 0, timeout))
				n.resetNonvoter(m.Name, now)
			}
			return
		case seen && known != "" && m.Meta.ID != "" && known != m.Meta.ID:
			// Its data dir was wiped: it forgot its votes. Take it out and bring it
			// back as a non-voter, so it cannot vote before it has caught up.
			n.log.Warn("member came back with an empty data dir; re-adding it as a non-voter", "member", m.Name)
			if n.changeConfig("remove", m.Name, n.raft.RemoveServer(s.ID, 0, timeout)) {
				n.changeConfig("add non-voter", m.Name, n.raft.AddNonvoter(s.ID, s.Address, 0, timeout))
				n.resetNonvoter(m.Name, now)
			}
			return
		case s.Suffrage == raft.Nonvoter && now.Sub(since) >= n.stabilize():
			if !n.caughtUp(ctx, m) {
				continue
			}
			n.log.Info("promoting caught-up non-voter to voter", "member", m.Name)
			if n.changeConfig("promote", m.Name, n.raft.AddVoter(s.ID, s.Address, 0, timeout)) {
				n.mem.mu.Lock()
				delete(n.mem.nonvoterSince, m.Name)
				n.mem.mu.Unlock()
			}
			return
		}
	}
}

// stabilize is how long a non-voter must be up before it is promoted.
func (n *Node) stabilize() time.Duration {
	return max(time.Second, 5*n.cfg.Cluster.Timing.ElectionTimeout)
}

func (n *Node) resetNonvoter(name string, now time.Time) {
	n.mem.mu.Lock()
	n.mem.nonvoterSince[name] = now
	n.mem.mu.Unlock()
}

// caughtUp asks a non-voter how far its log is: it must have everything the leader
// had committed.
func (n *Node) caughtUp(ctx context.Context, m gossip.Member) bool {
	want := n.raft.CommitIndex()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var info rpcInfoResponse
	if err := n.rpcCall(cctx, m.Meta.Raft, "/v1/rpc/info", struct{}{}, &info); err != nil {
		n.log.Debug("cannot ask non-voter for its log", "member", m.Name, "err", err)
		return false
	}
	return info.LastIndex >= want
}

// changeConfig waits for a configuration change and logs its failure.
func (n *Node) changeConfig(what, member string, f raft.IndexFuture) bool {
	if err := f.Error(); err != nil {
		n.log.Warn("raft configuration change failed", "change", what, "member", member, "err", err)
		return false
	}
	n.log.Info("raft configuration changed", "change", what, "member", member, "index", f.Index())
	signal(n.healthCh)
	return true
}

func (n *Node) refuse(name, why string) {
	n.mem.mu.Lock()
	logged := n.mem.refused[name] == why
	n.mem.refused[name] = why
	n.mem.mu.Unlock()
	if !logged {
		n.log.Warn("not adding gossip member to the cluster", "member", name, "reason", why)
	}
}

func (n *Node) skipped(name string, now time.Time) bool {
	n.mem.mu.Lock()
	defer n.mem.mu.Unlock()
	at, ok := n.mem.skip[name]
	if ok && now.Sub(at) > skipFor {
		delete(n.mem.skip, name)
		return false
	}
	return ok
}

func (n *Node) skip(name string) {
	n.mem.mu.Lock()
	n.mem.skip[name] = time.Now()
	n.mem.mu.Unlock()
}

func serverAt(servers []raft.Server, addr string) (string, bool) {
	for _, s := range servers {
		if string(s.Address) == addr {
			return string(s.ID), true
		}
	}
	return "", false
}

// gossipPeers is where to join gossip: cluster.join, then each static peer's address
// with this node's gossip port (raftvip runs gossip on the same port on every node
// unless cluster.join says otherwise).
func gossipPeers(cfg *config.Config) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	self := netip.AddrPortFrom(cfg.Node.Bind, uint16(cfg.Node.GossipPort))
	for _, a := range cfg.Cluster.Join {
		if a != self {
			add(a.String())
		}
	}
	for _, p := range cfg.Cluster.Peers {
		if p.Name == cfg.Node.Name {
			continue
		}
		add(net.JoinHostPort(p.Addr.Addr().String(), strconv.Itoa(cfg.Node.GossipPort)))
	}
	return out
}
