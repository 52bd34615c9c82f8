package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/cluster/api"
	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/gossip"
	"github.com/raftvip/raftvip/election"
	"github.com/raftvip/raftvip/store"
)

// The operator's membership commands: join, leave, transfer, force-leave and members.
// Commands that change the Raft configuration or move the VIP run on the leader; any
// node forwards them there over the cluster RPC.

// minSafeVoters is the smallest cluster that survives the loss of a voter.
const minSafeVoters = 3

// Join contacts the given gossip addresses (ip or ip:port; the port defaults to
// node.gossip_port). The cluster's leader then adds this node, or the node that was
// contacted, to the Raft configuration.
func (n *Node) Join(ctx context.Context, addrs []string) (api.JoinResponse, error) {
	if len(addrs) == 0 {
		return api.JoinResponse{}, fmt.Errorf("%w: no address given; give the gossip address (ip or ip:port) of a node of the cluster", errBadRequest)
	}
	var targets []string
	for _, a := range addrs {
		ap, msg := config.ParseJoinAddr(a, uint16(n.cfg.Node.GossipPort))
		if msg != "" {
			return api.JoinResponse{}, fmt.Errorf("%w: address %s", errBadRequest, msg)
		}
		if ap == netip.AddrPortFrom(n.cfg.Node.Bind, uint16(n.cfg.Node.GossipPort)) {
			return api.JoinResponse{}, fmt.Errorf("%w: %s is this node's own gossip address; give another node's", errBadRequest, ap)
		}
		targets = append(targets, ap.String())
	}
	contacted, err := n.gossip.Contact(targets)
	if contacted == 0 {
		return api.JoinResponse{}, fmt.Errorf("cannot join %s: %s", strings.Join(targets, ", "), explainJoinError(err, n.cfg.Cluster.Encrypt != nil))
	}
	n.mem.setJoinErr("")
	n.log.Info("joined gossip on operator request", "contacted", contacted, "members", n.gossip.NumMembers())
	if err := n.checkPeersTLS(ctx); err != nil {
		return api.JoinResponse{}, err
	}
	return api.JoinResponse{Contacted: contacted, Members: n.gossip.NumMembers()}, nil
}

// explainJoinError turns memberlist's join error into what the operator can do.
// memberlist cannot tell a wrong key from other failures: a node that cannot decrypt
// the join just closes the connection.
func explainJoinError(err error, haveKey bool) string {
	if err == nil {
		return "no address answered"
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "encryption is not configured"):
		return "the cluster encrypts its gossip and this node has no key: set cluster.encrypt to the cluster's key"
	case strings.Contains(msg, "No installed keys could decrypt") || strings.Contains(msg, "decrypt"):
		return "this node's cluster.encrypt key cannot decrypt the cluster's gossip: set the cluster's key"
	case strings.Contains(msg, "EOF") || strings.Contains(msg, "connection reset"):
		if haveKey {
			return "the node closed the connection during the gossip handshake, which is what a wrong cluster.encrypt key looks like: use the same key as the cluster (" + errorTail(msg) + ")"
		}
		return "the node closed the connection during the gossip handshake, which is what a missing or different cluster.encrypt key looks like: if the cluster encrypts its gossip, set its key in cluster.encrypt (" + errorTail(msg) + ")"
	case strings.Contains(msg, "connection refused"):
		return "connection refused: is raftvip running there, and is that its node.gossip_port? (" + errorTail(msg) + ")"
	case strings.Contains(msg, "i/o timeout") || strings.Contains(msg, "no route"):
		return "no answer: check the address and that the gossip port (TCP and UDP) is open (" + errorTail(msg) + ")"
	}
	return errorTail(msg)
}

// errorTail is the last line of a multi-line error (memberlist's multierror), trimmed.
func errorTail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(strings.TrimLeft(lines[len(lines)-1], "* \t"))
}

// Members lists the Raft configuration and the gossip members that are not in it yet.
func (n *Node) Members() api.MembersResponse {
	st := n.Status()
	resp := api.MembersResponse{Node: st.Node, Leader: st.Leader, Holder: st.Holder, Members: []api.MemberInfo{}}
	gossiped := map[string]gossip.Member{}
	for _, m := range n.gossip.All() {
		gossiped[m.Name] = m
	}
	inRaft := map[string]bool{}
	for _, m := range st.Members {
		inRaft[m.Name] = true
		role := "non-voter"
		switch {
		case m.Leader:
			role = "leader"
		case m.Voter:
			role = "voter"
		}
		mi := api.MemberInfo{
			Name: m.Name, NodeRole: m.NodeRole, Address: m.Address, Role: role, Gossip: m.Gossip, Priority: m.Priority,
			Eligible: m.Eligible, Ineligible: m.Ineligible, Holder: m.Holder, Drained: m.Drained, Version: m.Version,
		}
		if g, ok := gossiped[m.Name]; ok && g.Addr.IsValid() {
			mi.GossipAddress = g.Addr.String()
		}
		resp.Members = append(resp.Members, mi)
	}
	for _, g := range n.gossip.All() {
		if inRaft[g.Name] || g.State == gossip.Dead || g.State == gossip.Left {
			continue
		}
		mi := api.MemberInfo{Name: g.Name, GossipAddress: g.Addr.String(), Role: "none", Gossip: string(g.State), Ineligible: "not in the raft configuration"}
		if g.MetaErr == nil {
			mi.Priority, mi.Version = g.Meta.Priority, g.Meta.Version
			switch {
			case g.Meta.State:
				mi.Ineligible = "not in the raft configuration: it has raft state from another cluster or from before it left"
			case g.Meta.Leaving:
				mi.Ineligible = "leaving"
			default:
				mi.Ineligible = "not in the raft configuration yet: joining"
				n.mem.mu.Lock()
				why := n.mem.refused[g.Name]
				n.mem.mu.Unlock()
				if why != "" {
					mi.Ineligible = "not in the raft configuration: the leader refuses it: " + why
				}
			}
		}
		resp.Members = append(resp.Members, mi)
	}
	return resp
}

// Leave takes this node out of the cluster: a holder hands the VIP over by a planned
// move, a leader hands over leadership, the leader removes the node from the Raft
// configuration, and the node leaves gossip. Left() is closed once it is done; the
// agent then exits. Without force, a voter does not leave a cluster that would keep
// fewer than 3 voters.
func (n *Node) Leave(ctx context.Context, force bool) (api.LeaveResponse, error) {
	self := n.cfg.Node.Name
	resp := api.LeaveResponse{Node: self}
	if !n.leaveOnce.CompareAndSwap(false, true) {
		return resp, fmt.Errorf("%w: %s is already leaving", errBadRequest, self)
	}
	ok := false
	defer func() {
		if !ok {
			n.leaveOnce.Store(false)
		}
	}()
	servers, err := n.configuration()
	if err != nil {
		return resp, err
	}
	voters := voterNames(servers)
	member := slices.ContainsFunc(servers, func(s raft.Server) bool { return string(s.ID) == self })
	isVoter := slices.Contains(voters, self)
	if isVoter && len(voters)-1 < minSafeVoters && !force {
		rest := slices.DeleteFunc(slices.Clone(voters), func(s string) bool { return s == self })
		return resp, fmt.Errorf("%w: leaving would leave %d voters (%s); a cluster of fewer than %d voters loses the VIP when one more node fails: add a node first, or pass --force to leave anyway",
			errBadRequest, len(rest), strings.Join(rest, ", "), minSafeVoters)
	}
	if member {
		if _, leader := n.raft.LeaderWithID(); leader == "" {
			return resp, fmt.Errorf("cannot leave now: %w", ErrNoLeader)
		}
	}
	n.log.Info("leaving the cluster", "force", force)
	// Groups move first, by planned moves; then leadership; then the node is marked
	// leaving for gossip.
	n.leaving.Store(true)
	signal(n.metaCh)
	signal(n.healthCh)
	n.moveAway(ctx, "leave")
	if n.raft.State() == raft.Leader {
		if err := n.raft.LeadershipTransfer().Error(); err != nil || !n.handedOff(ctx) {
			n.leaving.Store(false)
			signal(n.metaCh)
			return resp, fmt.Errorf("leave: hand off leadership: %v", err)
		}
	}
	for _, g := range n.groups {
		// The log, not the FSM: the move may not be applied here yet.
		if h := n.stores.Log.Group(g.cfg.Name); h.Active() && h.Current.Node != self {
			resp.HandedTo = h.Current.Node
		}
	}
	if member {
		if err := n.forwardRemove(ctx, self, "leave"); err != nil {
			n.leaving.Store(false)
			signal(n.metaCh)
			return resp, fmt.Errorf("leave: %w", err)
		}
		resp.Voters = len(voters)
		if isVoter {
			resp.Voters--
		}
	}
	ok = true
	n.log.Info("left the cluster", "handed_to", resp.HandedTo, "voters_left", resp.Voters)
	go func() {
		n.gossip.Leave(2 * time.Second)
		close(n.left)
	}()
	return resp, nil
}

// handedOff reports whether leadership moves away within a few election timeouts.
// The policy sees a leaving leader as ineligible and may start the same move on its
// own, and then the leave's own hand-off finds a transfer under way.
func (n *Node) handedOff(ctx context.Context) bool {
	giveUp := time.NewTimer(n.noLeaderWait())
	defer giveUp.Stop()
	for {
		changed := n.raftChanged.wait()
		if n.raft.State() != raft.Leader {
			return true
		}
		select {
		case <-changed:
		case <-giveUp.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// Left is closed once this node has left the cluster (raftvip leave).
func (n *Node) Left() <-chan struct{} { return n.left }

func voterNames(servers []raft.Server) []string {
	var out []string
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			out = append(out, string(s.ID))
		}
	}
	slices.Sort(out)
	return out
}

// forwardRemove asks the leader to remove name from the configuration, retrying
// while leadership changes.
func (n *Node) forwardRemove(ctx context.Context, name, why string) error {
	return n.onLeader(ctx, func() error { return n.removeServer(name, why) },
		func(addr string) error {
			return n.rpcCall(ctx, addr, "/v1/rpc/remove", rpcRemoveRequest{Node: name, Why: why, By: n.cfg.Node.Name}, &struct{}{})
		})
}

// onLeader runs local on the leader, or remote with the leader's address, until one
// of them gives an answer other than "not the leader", ctx ends, or no leader has
// been known for noLeaderWait (ErrNoLeader).
func (n *Node) onLeader(ctx context.Context, local func() error, remote func(addr string) error) error {
	var leaderless time.Time
	for {
		changed := n.raftChanged.wait()
		err := local()
		if !errors.Is(err, errNotLeader) {
			return err
		}
		addr, id := n.raft.LeaderWithID()
		switch {
		case id != "":
			leaderless = time.Time{}
		case leaderless.IsZero():
			leaderless = time.Now()
		case time.Since(leaderless) > n.noLeaderWait():
			return ErrNoLeader
		}
		if id != "" && string(id) != n.cfg.Node.Name {
			err = remote(string(addr))
			if !errors.Is(err, errNotLeader) {
				if err != nil && !errors.Is(err, errBadRequest) {
					return fmt.Errorf("forward to the leader %s: %w", id, err)
				}
				return err
			}
		}
		retry := time.NewTimer(onLeaderRetry)
		select {
		case <-ctx.Done():
			retry.Stop()
			if id == "" {
				return ErrNoLeader
			}
			return ctx.Err()
		case <-changed:
			retry.Stop()
		case <-retry.C:
		}
	}
}

// onLeaderRetry is how soon onLeader tries again when raft reports no change: the
// leader it forwarded to may have stepped down without a new one known yet.
const onLeaderRetry = 100 * time.Millisecond

// noLeaderWait is how long a command waits for a leader to show up: an election
// takes a few election timeouts at most.
func (n *Node) noLeaderWait() time.Duration {
	return max(2*time.Second, 4*n.cfg.Cluster.Timing.ElectionTimeout)
}

// removeServer removes name from the configuration; only the leader can.
func (n *Node) removeServer(name, why string) error {
	if n.raft.State() != raft.Leader {
		return errNotLeader
	}
	servers, err := n.configuration()
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(servers, func(s raft.Server) bool { return string(s.ID) == name }) {
		return nil // already gone
	}
	if name == n.cfg.Node.Name {
		return errNotLeader // a leader hands off first; the next leader removes it
	}
	n.skip(name)
	f := n.raft.RemoveServer(raft.ServerID(name), 0, applyTimeout(n.cfg.Cluster.Timing))
	if err := f.Error(); err != nil {
		if isLeadershipErr(err) {
			return errNotLeader
		}
		return fmt.Errorf("remove %s from the raft configuration: %w", name, err)
	}
	n.log.Info("removed member from the raft configuration", "member", name, "why", why, "index", f.Index())
	signal(n.healthCh)
	return nil
}

func isLeadershipErr(err error) bool {
	return errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrLeadershipTransferInProgress)
}

// Transfer makes a planned move of group g to node: with g "" the only group, or
// every group this node holds; with node "" to the best other node for each group.
// The target keeps the group until something else moves it: priority preemption does
// not pull it back.
func (n *Node) Transfer(ctx context.Context, g, node string) (api.TransferResponse, error) {
	var resp api.TransferResponse
	if g == "" && len(n.groups) > 1 {
		for _, s := range n.holder.Status() {
			if s.Holding || s.Assigned {
				if g != "" {
					g += ","
				}
				g += s.Group
			}
		}
		if g == "" {
			return resp, fmt.Errorf("%w: this node holds no group; name the group to move with --group (groups: %s)", errBadRequest, strings.Join(n.groupNames(), ", "))
		}
	}
	err := n.onLeader(ctx, func() error {
		var err error
		resp, err = n.transfer(ctx, g, node, n.cfg.Node.Name)
		return err
	}, func(addr string) error {
		return n.rpcCall(ctx, addr, "/v1/rpc/transfer", rpcTransferRequest{Node: node, Group: g, By: n.cfg.Node.Name}, &resp)
	})
	return resp, err
}

// groupNames are the groups' names, in config order.
func (n *Node) groupNames() []string {
	var out []string
	for _, g := range n.groups {
		out = append(out, g.cfg.Name)
	}
	return out
}

// transfer runs a transfer on the leader: groups is one group, or several separated
// by commas, or "" for the only one.
// heldWithFirst is what transfer moves without --group: the first of the groups the
// leader places and every other group its holder holds (all groups of a one-group
// cluster: the VIP).
func (n *Node) heldWithFirst(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	first := n.fsm.Group(names[0])
	out := names[:1]
	if !first.Active() {
		return out
	}
	for _, g := range names[1:] {
		if s := n.fsm.Group(g); s.Active() && s.Current.Node == first.Current.Node {
			out = append(out, g)
		}
	}
	return out
}

func (n *Node) transfer(ctx context.Context, groups, node, by string) (api.TransferResponse, error) {
	resp := api.TransferResponse{}
	if n.raft.State() != raft.Leader {
		return resp, errNotLeader
	}
	digests := map[string]string{} // the groups this leader places, by name
	var placed []string
	for _, gp := range n.placer.Policies() {
		digests[gp.Name] = gp.Digest
		placed = append(placed, gp.Name)
	}
	names := strings.Split(groups, ",")
	if groups == "" {
		names = n.heldWithFirst(placed)
		if len(names) == 0 {
			return resp, fmt.Errorf("%w: the leader knows no group yet: no load balancer has reported one", errBadRequest)
		}
	}
	standings := n.placer.Standings()
	if _, heard := standings[node]; node != "" && !heard {
		// A leader that has just taken over hears every node within a renewal period
		// or two: give the target that long.
		deadline := time.Now().Add(max(time.Second, 8*n.cfg.Cluster.Timing.RenewInterval()))
		for !heard && time.Now().Before(deadline) {
			time.Sleep(n.cfg.Cluster.Timing.RenewInterval())
			standings = n.placer.Standings()
			_, heard = standings[node]
		}
	}
	servers, err := n.configuration()
	if err != nil {
		return resp, err
	}
	members := map[string]raft.ServerSuffrage{}
	var all []string
	for _, s := range servers {
		members[string(s.ID)] = s.Suffrage
		all = append(all, string(s.ID))
	}
	slices.Sort(all)
	if suffrage, ok := members[node]; node != "" && !ok {
		return resp, fmt.Errorf("%w: no member named %q; members are %s", errBadRequest, node, strings.Join(all, ", "))
	} else if node != "" && suffrage != raft.Voter {
		return resp, fmt.Errorf("%w: %s is a non-voter: a node joins as one and is promoted to voter once it has caught up with the log; try again when raftvip members lists it as a voter", errBadRequest, node)
	}
	type move struct{ group, to string }
	var moves []move
	for _, g := range names {
		digest, ok := digests[g]
		if !ok {
			return resp, fmt.Errorf("%w: no group named %q; groups are %s", errBadRequest, g, strings.Join(placed, ", "))
		}
		cur := n.fsm.Group(g)
		from := ""
		if cur.Active() {
			from = cur.Current.Node
		}
		if resp.From == "" {
			resp.From = from
		}
		to := node
		if to == "" {
			to = bestFor(g, digest, standings, from)
			if to == "" {
				return resp, fmt.Errorf("%w: no other node can hold %s: %s", errBadRequest, g, standingList(g, standings, from))
			}
		}
		st, heard := standings[to]
		// A move to a node that has gone silent would leave the group unheld.
		lately := n.heardLately(to)
		switch {
		case !heard:
			return resp, fmt.Errorf("%w: %s has not been heard from: is its agent running?", errBadRequest, to)
		case !lately:
			return resp, fmt.Errorf("%w: %s has not been heard from lately: is its agent running, and can it reach the leader?", errBadRequest, to)
		case st.Fault != "":
			return resp, fmt.Errorf("%w: %s cannot hold %s: %s", errBadRequest, to, g, st.Fault)
		case st.Ineligible != "":
			return resp, fmt.Errorf("%w: %s cannot hold %s: %s", errBadRequest, to, g, st.Ineligible)
		case st.Priority[g] <= 0:
			return resp, fmt.Errorf("%w: %s cannot hold %s: %s", errBadRequest, to, g, firstOr([]string{st.Why[g]}, "not eligible for it"))
		case st.Digest[g] != digest:
			return resp, fmt.Errorf("%w: %s's copy of group %s differs from the leader's; raftvip status on %s names the settings", errBadRequest, to, g, to)
		case st.Blocked[g] != "":
			return resp, fmt.Errorf("%w: %s cannot hold %s: %s", errBadRequest, to, g, st.Blocked[g])
		}
		resp.To = to
		if from == to {
			if at := n.placer.Holding(g, cur.Current.Index); time.Since(at) < time.Second {
				resp.AlreadyHeld = true
				continue
			}
		}
		moves = append(moves, move{g, to})
	}
	for _, m := range moves {
		n.log.Info("operator transfer", "group", m.group, "to", m.to, "by", by)
		idx, err := n.placer.MoveNow(ctx, m.group, m.to, store.OperatorTransfer+" (raftvip transfer via "+by+")")
		if err != nil {
			return resp, fmt.Errorf("transfer of %s to %s: %w", m.group, m.to, err)
		}
		n.waitHeld(ctx, m.group, idx)
	}
	return resp, nil
}

// waitHeld waits until the holder of group g's assignment at idx reports holding it,
// for a few lease lengths at most: a planned move's target holds at once.
func (n *Node) waitHeld(ctx context.Context, g string, idx uint64) {
	giveUp := time.NewTimer(max(2*time.Second, 8*n.cfg.Cluster.Timing.VIPLease))
	defer giveUp.Stop()
	tick := time.NewTicker(n.cfg.Cluster.Timing.RenewInterval())
	defer tick.Stop()
	for {
		if !n.placer.Holding(g, idx).IsZero() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-giveUp.C:
			return
		case <-tick.C:
		}
	}
}

// bestFor is the node with the highest priority for group g, other than not, whose
// copy of the group matches digest.
func bestFor(g, digest string, standings map[string]election.Standing, not string) string {
	best, prio := "", 0
	var names []string
	for name := range standings {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		st := standings[name]
		if name == not || st.Fault != "" || st.Ineligible != "" || st.Digest[g] != digest || st.Blocked[g] != "" {
			continue
		}
		if p := st.Priority[g]; p > prio {
			best, prio = name, p
		}
	}
	return best
}

// standingList says why each node but exclude cannot hold group g.
func standingList(g string, standings map[string]election.Standing, exclude string) string {
	var parts []string
	for name, st := range standings {
		if name == exclude {
			continue
		}
		why := firstOr([]string{st.Fault}, "")
		switch {
		case why != "":
		case st.Ineligible != "":
			why = st.Ineligible
		case st.Priority[g] <= 0:
			why = firstOr([]string{st.Why[g]}, "not eligible")
		case st.Blocked[g] != "":
			why = st.Blocked[g]
		default:
			why = "eligible"
		}
		parts = append(parts, name+": "+why)
	}
	if len(parts) == 0 {
		return "there is no other member"
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// ForceLeave removes a dead member from the Raft configuration without its help. It
// refuses a member gossip still reaches, the leader itself, and any removal after
// which the alive voters would not be a majority of the voters.
func (n *Node) ForceLeave(ctx context.Context, node string) (api.ForceLeaveResponse, error) {
	var resp api.ForceLeaveResponse
	err := n.onLeader(ctx, func() error {
		var err error
		resp, err = n.forceLeave(node, n.cfg.Node.Name)
		return err
	}, func(addr string) error {
		return n.rpcCall(ctx, addr, "/v1/rpc/force-leave", rpcRemoveRequest{Node: node, Why: "force-leave", By: n.cfg.Node.Name}, &resp)
	})
	return resp, err
}

func (n *Node) forceLeave(node, by string) (api.ForceLeaveResponse, error) {
	resp := api.ForceLeaveResponse{Node: node}
	if n.raft.State() != raft.Leader {
		return resp, errNotLeader
	}
	if node == "" {
		return resp, fmt.Errorf("%w: no node named; give the name of the dead member", errBadRequest)
	}
	servers, err := n.configuration()
	if err != nil {
		return resp, err
	}
	i := slices.IndexFunc(servers, func(s raft.Server) bool { return string(s.ID) == node })
	if i < 0 {
		var names []string
		for _, s := range servers {
			names = append(names, string(s.ID))
		}
		slices.Sort(names)
		return resp, fmt.Errorf("%w: no member named %q; members are %s", errBadRequest, node, strings.Join(names, ", "))
	}
	if node == n.cfg.Node.Name {
		return resp, fmt.Errorf("%w: %s is the leader and alive; run raftvip leave on it instead", errBadRequest, node)
	}
	gm, known := n.gossip.Member(node)
	if known && (gm.State == gossip.Alive || gm.State == gossip.Suspect) {
		return resp, fmt.Errorf("%w: %s is %s in gossip; run raftvip leave on it, or stop it and wait until raftvip members shows it dead", errBadRequest, node, gm.State)
	}
	voters := voterNames(servers)
	after := slices.DeleteFunc(slices.Clone(voters), func(s string) bool { return s == node })
	alive := 0
	for _, v := range after {
		if v == n.cfg.Node.Name {
			alive++
			continue
		}
		if m, ok := n.gossip.Member(v); ok && m.State == gossip.Alive && !n.isUnreachable(v) {
			alive++
		}
	}
	if len(after) == 0 || alive < len(after)/2+1 {
		return resp, fmt.Errorf("%w: removing %s would leave %d voters of which %d are alive, fewer than the %d a quorum needs; bring voters back first",
			errBadRequest, node, len(after), alive, len(after)/2+1)
	}
	n.skip(node)
	f := n.raft.RemoveServer(raft.ServerID(node), 0, applyTimeout(n.cfg.Cluster.Timing))
	if err := f.Error(); err != nil {
		if isLeadershipErr(err) {
			return resp, errNotLeader
		}
		return resp, fmt.Errorf("remove %s from the raft configuration: %w", node, err)
	}
	n.log.Warn("force-removed member from the raft configuration", "member", node, "by", by, "voters_left", len(after))
	signal(n.healthCh)
	resp.Voters = len(after)
	return resp, nil
}
