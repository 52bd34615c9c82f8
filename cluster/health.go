package cluster

import (
	"context"
	"fmt"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/cluster/gossip"
	"github.com/raftvip/raftvip/election"
)

// health is this node's view of every voter's fitness to hold the VIP: its own checks,
// the others' gossiped metadata and the drain flags in the replicated log. It is the
// election's Cluster.
type health struct{ n *Node }

var (
	_ election.Cluster   = health{}
	_ election.Confirmer = health{}
)

// Confirm asks node for its health over the cluster RPC and puts the answer in place
// of what gossip said, so the policy decides on what the node says now. A node that
// does not answer is marked unreachable until the next change of leader.
func (h health) Confirm(ctx context.Context, node string) error {
	n := h.n
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return err
	}
	var addr string
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == node {
			addr = string(s.Address)
		}
	}
	if addr == "" {
		return fmt.Errorf("%s is not in the raft configuration", node)
	}
	var raw []byte
	if err := n.rpcCall(ctx, addr, "/v1/rpc/health", struct{}{}, &raw); err != nil {
		n.setUnreachable(node, true)
		return err
	}
	meta, err := gossip.DecodeMeta(raw)
	if err != nil {
		return fmt.Errorf("health of %s: %w", node, err)
	}
	n.gossip.Override(node, meta)
	return nil
}

// local is this node's effective priority and FAULT state from its own checks.
func (n *Node) local() (election.Health, []election.CheckState) {
	states := n.checks().States()
	return election.ComputeHealth(n.basePriority(), states), states
}

// Candidates returns every server of the Raft configuration with its latest health.
func (h health) Candidates() []election.Member {
	n := h.n
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	_, leader := n.raft.LeaderWithID()
	servers := f.Configuration().Servers
	out := make([]election.Member, 0, len(servers))
	for _, s := range servers {
		name := string(s.ID)
		m := election.Member{Name: name, Voter: s.Suffrage == raft.Voter, Drained: n.fsm.Drained(name)}
		if name == n.cfg.Node.Name {
			lh, _ := n.local()
			m.Known, m.Alive, m.Quorum = true, true, leader != ""
			m.Priority, m.Fault, m.Failing = lh.Priority, lh.Fault, lh.Failing
			m.Leaving = n.leaving.Load()
		} else if gm, ok := n.gossip.Member(name); ok && gm.MetaErr == nil {
			m.Known = true
			m.Alive = gm.State == gossip.Alive
			// A member's own word on whether it sees a leader lags an election by a
			// gossip round or two. The leader need not ask: a voter it cannot reach
			// fails the leadership transfer, and the move is retried.
			m.Quorum = gm.Meta.Quorum || leader == raft.ServerID(n.cfg.Node.Name)
			m.Unreachable = leader == raft.ServerID(n.cfg.Node.Name) && n.isUnreachable(name)
			m.Priority, m.Fault, m.Leaving = gm.Meta.Priority, gm.Meta.Fault, gm.Meta.Leaving
			for _, c := range gm.Meta.Checks {
				if c.State != gossip.CheckPassing {
					m.Failing = append(m.Failing, c.Name)
				}
			}
		}
		out = append(out, m)
	}
	return out
}

func checkWord(s election.CheckState) string {
	switch {
	case !s.Known:
		return gossip.CheckUnknown
	case s.Passing:
		return gossip.CheckPassing
	}
	return gossip.CheckFailing
}

// localMeta is the metadata this node gossips.
func (n *Node) localMeta() []byte {
	lh, states := n.local()
	_, leader := n.raft.LeaderWithID()
	m := gossip.Meta{
		Format:   gossip.MetaFormat,
		Priority: lh.Priority,
		Base:     n.basePriority(),
		Fault:    lh.Fault,
		Quorum:   leader != "",
		Raft:     n.cfg.RaftAddr().String(),
		Version:  Version,
		ID:       n.stores.ID,
		Expect:   n.cfg.Cluster.BootstrapExpect,
		State:    n.hasState(),
		Leaving:  n.leaving.Load(),
	}
	for _, s := range states {
		m.Checks = append(m.Checks, gossip.MetaCheck{Name: s.Name, State: checkWord(s), Output: s.Output})
	}
	b, err := gossip.EncodeMeta(m, memberlist.MetaMaxSize)
	if err != nil {
		n.log.Error("cannot encode gossip metadata", "err", err)
	}
	return b
}
