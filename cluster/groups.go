package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/notify"
	"github.com/raftvip/raftvip/election"
	"github.com/raftvip/raftvip/store"
)

// The node's side of the ownership protocol (DESIGN §9): every node holds the groups
// assigned to it under quorum leases (election.Holder), answers the renewals of
// others as a voter (election.Answer over its VouchLog), and, while it leads, places
// the groups (election.Placer). Its messages travel on the Raft port (leasenet.go).

// groupRT is one VIP group as this node runs it.
type groupRT struct {
	cfg      config.GroupConfig
	policy   election.GroupPolicy // cfg's, with its identity digest: a reload does not change them
	vip      vipManager
	vrrp     *groupVRRP   // nil unless the group's vrrp.enabled
	notified notify.State // what its notify hooks last heard
}

// newIncarnation is a new boot id: every start of the agent is a new incarnation, and
// holds nothing until the leader assigns it again (DESIGN §9.3).
func newIncarnation() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("cluster: incarnation: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// holds reports whether this node holds group g now.
func (n *Node) holds(g string) bool {
	h := n.holder
	if h == nil {
		return false
	}
	for _, s := range h.Status() {
		if s.Group == g {
			return s.Holding
		}
	}
	return false
}

// holdsAny reports whether this node holds any group.
func (n *Node) holdsAny() bool {
	if n.holder == nil {
		return false
	}
	return slices.ContainsFunc(n.holder.Status(), func(s election.GroupStatus) bool { return s.Holding })
}

// ownLog is what the holder reads of this node's log.
type ownLog struct{ n *Node }

func (l ownLog) Group(g string) store.GroupState { return l.n.stores.Log.Group(g) }
func (l ownLog) Configuration() election.Configuration {
	return configurationOf(l.n.stores.Log.Configuration())
}
func (l ownLog) CommitIndex() uint64 { return l.n.raft.CommitIndex() }

func configurationOf(c store.LogConfiguration) election.Configuration {
	return election.Configuration{Index: c.Index, Term: c.Term, Voters: c.Voters}
}

// startOwnership wires the holder, the placer and their messages.
func (n *Node) startOwnership() {
	cfg := n.cfg
	t := cfg.Cluster.Timing
	var names []string
	var policies []election.GroupPolicy
	for _, g := range n.groups {
		names = append(names, g.cfg.Name)
		policies = append(policies, g.policy)
	}
	n.lease = newLeaseNet(cfg.Node.Name, n.net.dialLease, t.RPCTimeout, n.onLease, n.log.With("component", "lease"))
	n.holder = election.NewHolder(election.HolderConfig{
		Node:        cfg.Node.Name,
		Incarnation: n.inc,
		Groups:      names,
		Log:         ownLog{n},
		VIP:         func(g string) election.VIP { return n.byName[g].vip },
		Standing:    n.standing,
		Gate:        n.vrrpGate,
		Leader: func() string {
			_, id := n.raft.LeaderWithID()
			return string(id)
		},
		Clock:    election.NewBootClock(),
		Send:     n.sendRenewal,
		Release:  n.commitRelease,
		Tell:     n.tell,
		OnChange: n.groupChanged,
		OnRenewed: func(took time.Duration) {
			n.metrics.renewed(took)
		},
		Logger: n.log.With("component", "holder"),
	})
	n.placer = election.NewPlacer(election.PlacerConfig{
		Node:   cfg.Node.Name,
		Groups: policies,
		Leading: func() (bool, time.Time) {
			ns := n.leaderSince.Load()
			if ns == 0 || n.raft.State() != raft.Leader {
				return false, time.Time{}
			}
			return true, time.Unix(0, ns)
		},
		Committed:  n.fsm.Ownership,
		Members:    n.placeable,
		Assign:     n.commitAssign,
		Notice:     n.notice,
		Hysteresis: policyHysteresis,
		Drained:    n.fsm.Drained,
		Pinned:     n.fsm.PinnedTo,
		SelfIneligible: func() string {
			switch {
			case n.stopping.Load():
				return "stopping"
			case n.leaving.Load():
				return "leaving the cluster"
			}
			return ""
		},
		Logger: n.log.With("component", "placer"),
	})
}

// policyOf is group gc's placement policy and shared settings.
func policyOf(gc config.GroupConfig) election.GroupPolicy {
	return election.GroupPolicy{Name: gc.Name, Together: gc.Together, Preempt: gc.Preempt,
		PreemptDelay: gc.PreemptDelay, MinMoveInterval: gc.MinMoveInterval, Digest: config.IdentityDigest(gc),
		Lifetime: gc.Lifetime, Strict: gc.Fencing == "strict"}
}

// placeable are the servers of the configuration the placer may give groups to: the
// voters. A non-voter is a node that joined and has not caught up with the log yet.
func (n *Node) placeable() []string {
	servers, err := n.configuration()
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			out = append(out, string(s.ID))
		}
	}
	return out
}

// standing is what the leader places this node by, now.
func (n *Node) standing() election.Standing {
	t := n.cfg.Cluster.Timing
	st := election.Standing{Lease: t.VIPLease, Delta: t.ClaimMargin, Priority: map[string]int{}, Why: map[string]string{},
		Digest: map[string]string{}, Blocked: map[string]string{}, Policy: map[string]election.GroupPolicy{},
		Witness: n.cfg.Witness()}
	_, states := n.local()
	switch {
	case st.Witness:
		st.Ineligible = IneligibleWitness
	case n.fsm.Unknown() != nil:
		st.Fault = "the log holds a record this version does not know: upgrade this node (" + n.fsm.Unknown().Error() + ")"
	case n.olderWhy.Load() != nil:
		st.Fault = *n.olderWhy.Load()
	case n.stopping.Load():
		st.Ineligible = "stopping"
	case n.leaving.Load():
		st.Ineligible = "leaving the cluster"
	case n.fsm.Drained(n.cfg.Node.Name):
		st.Ineligible = "drained"
	}
	now := time.Now()
	for _, g := range n.groups {
		name := g.cfg.Name
		h := n.groupHealth(name, states)
		st.Policy[name] = g.policy
		st.Digest[name] = g.policy.Digest
		if h.Fault {
			st.Why[name] = "FAULT: check " + firstOr(h.Failing, "?") + " failing"
		} else {
			st.Priority[name] = h.Priority
		}
		if reason, _ := n.vrrpGate(name, now); reason != "" {
			st.Blocked[name] = reason
		}
	}
	return st
}

func firstOr(ss []string, def string) string {
	if len(ss) > 0 {
		return ss[0]
	}
	return def
}

// groupHealth is this node's effective priority for group g from the checks it tracks.
func (n *Node) groupHealth(g string, states []election.CheckState) election.Health {
	live := n.live.Load()
	gc := n.byName[g].cfg
	base := gc.Priority
	for _, lg := range live.Groups {
		if lg.Name == g {
			base, gc = lg.Priority, lg
		}
	}
	var tracked []election.CheckState
	for _, s := range states {
		if gc.Tracks(s.Name) {
			tracked = append(tracked, s)
		}
	}
	return election.ComputeHealth(base, tracked)
}

// groupPriority is this node's effective priority for group g.
func (n *Node) groupPriority(g string) int {
	_, states := n.local()
	return n.groupHealth(g, states).Priority
}

// groupChanged is the holder's OnChange: notify hooks, VRRP and metrics follow.
func (n *Node) groupChanged(c election.GroupChange) {
	g := n.byName[c.Group]
	if g == nil {
		return
	}
	// The log, not the FSM: a node learns of the move away from its log first.
	n.metrics.groupMoved(c, n.stores.Log.Group(c.Group).Current.Reason)
	if g.vrrp != nil {
		if c.Holding {
			g.vrrp.sp.SetMaster(true, n.groupPriority(c.Group))
		} else {
			n.vrrpDropped(g, c)
		}
	}
	n.refreshNotify()
}

// refreshNotify tells the notify hooks about every group whose state changed: MASTER
// while holding it, FAULT while a weight-0 check it tracks fails, BACKUP otherwise.
// Transition only queues, so this never waits for a hook.
func (n *Node) refreshNotify() {
	if n.holder == nil {
		return
	}
	_, states := n.local()
	live := n.live.Load()
	for _, s := range n.holder.Status() {
		g := n.byName[s.Group]
		state := notify.Backup
		switch {
		case s.Holding:
			state = notify.Master
		case knownFault(states, g.cfg):
			// A check that has not answered yet keeps the node from holding, but, as
			// in keepalived, only a failure that was seen is a FAULT.
			state = notify.Fault
		}
		n.mu.Lock()
		changed := state != g.notified
		g.notified = state
		n.mu.Unlock()
		if changed {
			n.notifier.Transition(state, notifyInstance(live, s.Group), n.groupHealth(s.Group, states).Priority)
		}
	}
}

// notifyInstance is the INSTANCE the notify script is told for group g: the group's
// name, unless notify.instance is set; for the one group of a vip: block,
// notify.instance (default raftvip), as before groups.
func notifyInstance(cfg *config.Config, g string) string {
	if !cfg.GroupsSection || cfg.Notify.Instance != config.DefaultNotifyInstance {
		return cfg.Notify.Instance
	}
	return g
}

// knownFault reports whether a weight-0 check group g tracks has been seen failing.
func knownFault(states []election.CheckState, g config.GroupConfig) bool {
	for _, s := range states {
		if s.Weight == 0 && s.Known && !s.Passing && g.Tracks(s.Name) {
			return true
		}
	}
	return false
}

// addressOf is the Raft address of node, from the latest configuration.
func (n *Node) addressOf(node string) string {
	servers, err := n.configuration()
	if err != nil {
		return ""
	}
	for _, s := range servers {
		if string(s.ID) == node {
			return string(s.Address)
		}
	}
	return ""
}

// sendRenewal is the holder's Send: a renewal to one node; to itself, at once.
func (n *Node) sendRenewal(to string, r election.Renewal) {
	m := leaseMsg{Kind: leaseRenew, From: n.cfg.Node.Name, Renewal: &r}
	if to == n.cfg.Node.Name {
		if reply := n.onLease(m); reply != nil {
			n.onLease(*reply)
		}
		return
	}
	if addr := n.addressOf(to); addr != "" {
		n.lease.send(addr, m)
	}
}

// notice is the placer's Notice: tell node its assignment of g at index committed.
func (n *Node) notice(node, g string, index uint64) {
	m := leaseMsg{Kind: leaseNotice, From: n.cfg.Node.Name, Group: g, Index: index}
	if node == n.cfg.Node.Name {
		n.onLease(m)
		return
	}
	if addr := n.addressOf(node); addr != "" {
		n.lease.send(addr, m)
	}
}

// tell is the holder's Tell: the next assignee learns that this node let g go, held.
func (n *Node) tell(to, g string, rel store.Release) {
	m := leaseMsg{Kind: leaseTold, From: n.cfg.Node.Name, Group: g, Release: &rel}
	if to == n.cfg.Node.Name {
		n.onLease(m)
		return
	}
	if addr := n.addressOf(to); addr != "" {
		n.lease.send(addr, m)
	}
}

// onLease handles one message of the ownership protocol; a renewal is answered.
func (n *Node) onLease(m leaseMsg) *leaseMsg {
	switch m.Kind {
	case leaseRenew:
		r := m.Renewal
		if r == nil {
			return nil
		}
		if r.Version != election.ProtocolVersion {
			n.log.Warn("a renewal of another protocol version; not answering it", "from", r.Node, "version", r.Version)
			return nil
		}
		// Every node takes it in, not only the leader: a new leader already knows who
		// holds what (DESIGN §9.3, detection).
		n.placer.Heard(*r)
		ack := election.Answer(n.cfg.Node.Name, configurationOf(n.stores.Log.Configuration()), n.stores.Log.Group, *r)
		return &leaseMsg{Kind: leaseAck, Ack: &ack}
	case leaseAck:
		if m.Ack != nil {
			n.holder.Ack(*m.Ack)
		}
	case leaseNotice:
		n.holder.Notice(m.Group, m.Index)
	case leaseTold:
		if m.Release != nil {
			n.holder.Told(m.Group, *m.Release)
		}
	}
	return nil
}

// commitAssign is the placer's Assign: commit assign{g, a} and return its index.
func (n *Node) commitAssign(ctx context.Context, g string, a store.Assignment, reason string) (uint64, error) {
	timeout := applyTimeout(n.cfg.Cluster.Timing)
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	f := n.raft.Apply(store.EncodeAssign(g, a, reason, time.Now()), timeout)
	if err := f.Error(); err != nil {
		return 0, fmt.Errorf("cluster: commit the assignment of %s to %s: %w", g, a.Node, err)
	}
	if err, ok := f.Response().(error); ok {
		return 0, fmt.Errorf("cluster: assignment of %s to %s: %w", g, a.Node, err)
	}
	return f.Index(), nil
}

// commitRelease is the holder's Release: the leader commits it; another node forwards
// it to the leader.
func (n *Node) commitRelease(ctx context.Context, g string, rel store.Release, reason string) error {
	return n.onLeader(ctx, func() error {
		return n.applyRelease(g, rel, reason)
	}, func(addr string) error {
		return n.rpcCall(ctx, addr, "/v1/rpc/release", rpcReleaseRequest{Group: g, Release: rel, Reason: reason}, &struct{}{})
	})
}

// applyRelease commits a release on the leader.
func (n *Node) applyRelease(g string, rel store.Release, reason string) error {
	if n.raft.State() != raft.Leader {
		return errNotLeader
	}
	f := n.raft.Apply(store.EncodeLetGo(g, rel, reason, time.Now()), applyTimeout(n.cfg.Cluster.Timing))
	if err := f.Error(); err != nil {
		if isLeadershipErr(err) {
			return errNotLeader
		}
		return fmt.Errorf("commit the release of %s: %w", g, err)
	}
	if err, ok := f.Response().(error); ok && !errors.Is(err, store.ErrRejected) {
		return err // a rejected release is one already made, or out of date: nothing to do
	}
	n.placer.Wake()
	return nil
}

// moveAway asks the leader to move every group assigned to this node elsewhere, and
// waits until this node holds none (at most a few election timeouts): a stopping or
// leaving holder's planned move. The standing says why (stopping, leaving), so the
// placer moves them at its next pass.
func (n *Node) moveAway(ctx context.Context, why string) {
	if n.holder == nil {
		return
	}
	if why == "shutdown" {
		n.stopping.Store(true)
	}
	n.holder.Wake()
	n.holder.Renew() // every voter hears of the standing at once, even from a node that holds nothing
	n.placer.Wake()
	wait := time.NewTimer(n.noLeaderWait())
	defer wait.Stop()
	tick := time.NewTicker(n.cfg.Cluster.Timing.RenewInterval())
	defer tick.Stop()
	for n.assignedHere() {
		n.holder.Renew() // the leader hears of the standing at once
		select {
		case <-ctx.Done():
			return
		case <-wait.C:
			n.log.Warn("the groups did not move away in time; letting them go", "why", why)
			return
		case <-tick.C:
		}
	}
}

// assignedHere reports whether a group is assigned to this node (held or not).
func (n *Node) assignedHere() bool {
	for _, s := range n.holder.Status() {
		if s.Assigned || s.Holding {
			return true
		}
	}
	return false
}

// handOffLeadership moves Raft leadership to another voter before this node stops.
func (n *Node) handOffLeadership(ctx context.Context) {
	if n.raft == nil || n.raft.State() != raft.Leader {
		return
	}
	if err := n.raft.LeadershipTransfer().Error(); err != nil {
		n.log.Info("leadership transfer at shutdown", "err", err)
		return
	}
	n.handedOff(ctx)
}

// preferLeader keeps leadership where it holds nothing (DESIGN §9.2, who leads):
// a leader that holds a group transfers leadership to a voter that holds nothing and
// is up to date, so that a holder's death never waits for an election; a load
// balancer that holds nothing hands it to a witness, the one node of a pair that sees
// both load balancers.
func (n *Node) preferLeader(ctx context.Context) {
	// Looking is cheap (an atomic and the holder's state) until there is something to
	// do; a transfer that failed is not tried again for a while.
	const every, afterFailure = 250 * time.Millisecond, 2 * time.Second
	wait := every
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = every
		if n.raft.State() != raft.Leader || n.cfg.Witness() || n.moving() {
			continue
		}
		target, witness := n.idleVoter()
		if target == "" || !n.assignedHere() && !witness {
			continue
		}
		n.log.Info("handing leadership to a voter that holds nothing", "to", target, "witness", witness)
		if err := n.raft.LeadershipTransferToServer(raft.ServerID(target), raft.ServerAddress(n.addressOf(target))).Error(); err != nil {
			n.log.Info("leadership transfer failed; trying again later", "to", target, "err", err)
			wait = afterFailure
		}
	}
}

// moving reports whether a group's current assignee has not reported holding it yet:
// a move is under way, and the leader that placed it sees it through before it hands
// leadership on. A new leader would first have to hear from the new holder, and the
// old holder may still be letting go.
func (n *Node) moving() bool {
	for g, s := range n.fsm.Ownership().Groups() {
		if s.Active() && n.placer.Holding(g, s.Current.Index).IsZero() {
			return true
		}
	}
	return false
}

// idleVoter is a voter that holds no group, that the placer heard from lately and that
// replicates the log, a witness first; "" if none.
func (n *Node) idleVoter() (name string, witness bool) {
	servers, err := n.configuration()
	if err != nil {
		return "", false
	}
	busy, leaving := map[string]bool{}, map[string]bool{}
	for _, s := range n.fsm.Ownership().Groups() {
		if s.Active() {
			busy[s.Current.Node] = true
			// The previous assignee may still be draining and handing the group over:
			// leadership goes there only when no other voter will do.
			leaving[s.Previous.Node] = true
		}
	}
	standings := n.placer.Standings()
	// A voter just back from a partition may not hear the holders yet (their
	// connections to it recover at their own pace): leadership goes to a voter heard
	// steadily for a while.
	t := n.cfg.Cluster.Timing
	steady := time.Now().Add(-max(2*time.Second, 4*t.VIPLease))
	var cands []string
	for _, s := range servers {
		name := string(s.ID)
		if s.Suffrage != raft.Voter || name == n.cfg.Node.Name || busy[name] || n.isUnreachable(name) {
			continue
		}
		if back, ok := n.placer.Back(name); !ok || back.After(steady) {
			continue
		}
		if st, ok := standings[name]; !ok || st.Fault != "" || st.Ineligible == "stopping" || st.Ineligible == "leaving the cluster" {
			continue
		}
		cands = append(cands, name)
	}
	slices.SortFunc(cands, func(a, b string) int {
		// A witness first: in a pair it is the one node that sees both load
		// balancers, so it can tell a dead holder from a cut link between them.
		if wa, wb := standings[a].Witness, standings[b].Witness; wa != wb {
			if wa {
				return -1
			}
			return 1
		}
		if leaving[a] != leaving[b] {
			if leaving[a] {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	if len(cands) == 0 {
		return "", false
	}
	return cands[0], standings[cands[0]].Witness
}

// placementView is this node's side of placement: its copy of every group's shared
// settings, and, while it leads, its outlook per group.
func (n *Node) placementView() rpcPlacementResponse {
	resp := rpcPlacementResponse{Groups: map[string][]config.IdentityField{}}
	for _, g := range n.groups {
		resp.Groups[g.cfg.Name] = g.cfg.Identity()
	}
	resp.Outlook, _ = n.placer.Explain()
	resp.Digests = map[string]string{}
	for _, gp := range n.placer.Policies() {
		resp.Digests[gp.Name] = gp.Digest
	}
	return resp
}

// leaderPlacement returns, per group, the settings in which this node's copy
// differs from the leader's (the leader places the group elsewhere), and the leader's
// outlook. It asks the leader, briefly; nil, nil if it cannot.
func (n *Node) leaderPlacement() (map[string][]string, map[string]election.Outlook) {
	addr, id := n.raft.LeaderWithID()
	if id == "" {
		return nil, nil
	}
	var resp rpcPlacementResponse
	if string(id) == n.cfg.Node.Name {
		resp = n.placementView()
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if err := n.rpcCall(ctx, string(addr), "/v1/rpc/placement", struct{}{}, &resp); err != nil {
			return nil, nil
		}
	}
	outlook := map[string]election.Outlook{}
	for _, o := range resp.Outlook {
		outlook[o.Group] = o
	}
	diffs := map[string][]string{}
	for _, g := range n.groups {
		theirs, ok := resp.Groups[g.cfg.Name]
		if !ok {
			switch d, placed := resp.Digests[g.cfg.Name]; {
			case placed && d == config.IdentityDigest(g.cfg):
			case placed:
				// A witness leads: it places by its holder's copy, or most nodes'.
				diffs[g.cfg.Name] = []string{fmt.Sprintf("this node's copy of group %s differs from the one the leader (a witness) places by, its holder's or most nodes'; compare the files", g.cfg.Name)}
			default:
				diffs[g.cfg.Name] = []string{"the leader has no group " + g.cfg.Name}
			}
			continue
		}
		for i, f := range g.cfg.Identity() {
			if i >= len(theirs) || theirs[i] != f {
				diffs[g.cfg.Name] = append(diffs[g.cfg.Name], fmt.Sprintf("groups[%s].%s", g.cfg.Name, f.Key))
			}
		}
	}
	return diffs, outlook
}
