package cluster

import (
	"strings"

	"github.com/hashicorp/memberlist"

	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/gossip"
	"github.com/raftvip/raftvip/election"
)

// memberHealth is one server of the configuration as this node's status shows it:
// what gossip (or, for this node, its own checks) says about its health, and what the
// replicated log says about its drain flag. The leader places by the renewals it
// hears instead (election.Standing); this view is for people.
type memberHealth struct {
	Name     string
	Known    bool // its health is known: this node, or gossip metadata has arrived
	Alive    bool // gossip reaches it
	Priority int  // effective priority, 1..254
	Fault    bool // a weight-0 check fails
	Failing  []string
	Drained  bool // an operator drained it (replicated through Raft)
	Leaving  bool // raftvip leave is under way on it
	Witness  bool // node.role: witness: never holds a group
}

// nodeRole is m's node.role, "" while its gossip has not arrived.
func (m memberHealth) nodeRole() string {
	switch {
	case !m.Known:
		return ""
	case m.Witness:
		return config.RoleWitness
	}
	return config.RoleLB
}

// Ineligible says why m may not hold a group, or "" if it may.
func (m memberHealth) Ineligible() string {
	switch {
	case !m.Known:
		return "health unknown (no gossip from it yet)"
	case m.Witness:
		return IneligibleWitness
	case !m.Alive:
		return "unreachable by gossip"
	case m.Leaving:
		return "leaving the cluster"
	case m.Drained:
		return "drained"
	case m.Fault:
		if len(m.Failing) > 0 {
			return "FAULT: check " + strings.Join(m.Failing, ", ") + " failing"
		}
		return "FAULT"
	}
	return ""
}

// local is this node's effective priority and FAULT state from its own checks.
func (n *Node) local() (election.Health, []election.CheckState) {
	if n.cfg.Witness() {
		return election.Health{}, nil // no priority: it never holds
	}
	states := n.checks().States()
	return election.ComputeHealth(n.basePriority(), states), states
}

// memberHealth returns every server of the Raft configuration with its latest health.
func (n *Node) memberHealth() []memberHealth {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return nil
	}
	servers := f.Configuration().Servers
	out := make([]memberHealth, 0, len(servers))
	for _, s := range servers {
		name := string(s.ID)
		m := memberHealth{Name: name, Drained: n.fsm.Drained(name)}
		if name == n.cfg.Node.Name {
			lh, _ := n.local()
			m.Known, m.Alive = true, true
			m.Priority, m.Fault, m.Failing = lh.Priority, lh.Fault, lh.Failing
			m.Leaving, m.Witness = n.leaving.Load(), n.cfg.Witness()
		} else if gm, ok := n.gossip.Member(name); ok && gm.MetaErr == nil {
			m.Known = true
			m.Alive = gm.State == gossip.Alive
			m.Priority, m.Fault, m.Leaving = gm.Meta.Priority, gm.Meta.Fault, gm.Meta.Leaving
			m.Witness = gm.Meta.Role == config.RoleWitness
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
		Protocol: election.ProtocolVersion,
		Timing:   n.cfg.Cluster.Timing.Summary(),
		ID:       n.stores.ID,
		Expect:   n.cfg.Cluster.BootstrapExpect,
		State:    n.hasState(),
		Leaving:  n.leaving.Load(),
	}
	if n.cfg.Witness() {
		m.Role = config.RoleWitness
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
