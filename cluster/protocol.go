package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/raftvip/raftvip/cluster/gossip"
	"github.com/raftvip/raftvip/election"
)

// Upgrading from the protocol in which the leader holds the VIP is not rolling
// (DESIGN §9.6): an older agent's FSM skips the new records, so a cluster that mixed
// the two could hold a group twice. Every agent gossips its ownership protocol; this
// one refuses to start beside a server that speaks an older one, and a running agent
// that meets one holds nothing until it is gone.

// protocolRefusal is how long after start an older peer stops the agent rather than
// only keeping it from holding: long enough for gossip to bring every member's
// metadata.
const protocolRefusal = 10 * time.Second

// olderPeer returns a member of the cluster (in the Raft configuration, or with Raft
// state of its own) that gossips an older ownership protocol than this agent's, with a
// sentence that says so and what to do; "" if there is none.
func (n *Node) olderPeer() (name, why string) {
	servers, _ := n.configuration()
	inConfig := map[string]bool{}
	for _, s := range servers {
		inConfig[string(s.ID)] = true
	}
	for _, m := range n.gossip.All() {
		if m.Name == n.cfg.Node.Name || m.MetaErr != nil || m.State != gossip.Alive {
			continue
		}
		if !inConfig[m.Name] && !m.Meta.State {
			continue
		}
		if m.Meta.Protocol < election.ProtocolVersion {
			return m.Name, olderProtocolWhy(m.Name, m.Meta)
		}
	}
	return "", ""
}

// olderProtocolWhy says that member, with meta, speaks an older protocol, and what to do.
func olderProtocolWhy(member string, meta gossip.Meta) string {
	what := fmt.Sprintf("ownership protocol %d", meta.Protocol)
	if meta.Protocol == 0 {
		what = "the protocol in which the Raft leader holds the VIP"
	}
	return fmt.Sprintf("%s runs raftvip %s, which speaks %s; this agent (raftvip %s) speaks ownership protocol %d (groups under quorum leases) and cannot share a cluster with it: the upgrade is not rolling. Stop the agent on every node, upgrade every node, then start them again (docs/operations.md, Upgrading)",
		member, meta.Version, what, Version, election.ProtocolVersion)
}

// guardProtocol watches gossip for a member that speaks an older protocol: in the
// first protocolRefusal after start it stops the agent; later it logs, and standing
// keeps the node from holding anything while the member is there. It also logs, once
// each, the members whose timing differs from this node's.
func (n *Node) guardProtocol(ctx context.Context, started time.Time) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	logged := ""
	timingLogged := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, d := range n.timingDiffers() {
			if !timingLogged[d] {
				timingLogged[d] = true
				n.log.Warn("a member runs other timing settings; each assignment records its holder's own, so no VIP is held twice, but a group's failover time depends on its holder's",
					"member", d, "here", n.cfg.Cluster.Timing.Summary())
			}
		}
		name, why := n.olderPeer()
		if name == "" {
			n.olderWhy.Store(nil)
		} else {
			n.olderWhy.Store(&why)
		}
		switch {
		case name == "":
			logged = ""
		case time.Since(started) < protocolRefusal && !n.holdsAny():
			n.log.Error("refusing to run beside an older raftvip", "member", name, "why", why)
			n.stopWith(fmt.Errorf("cluster: %s", why))
			return
		case logged != name:
			logged = name
			n.log.Error("a member speaks an older ownership protocol; holding nothing until it is gone", "member", name, "why", why)
			n.holder.Wake()
		}
	}
}

// timingDiffers names the members of the cluster whose gossiped cluster.timing
// differs from this node's, with theirs.
func (n *Node) timingDiffers() []string {
	if n.gossip == nil {
		return nil
	}
	mine := n.cfg.Cluster.Timing.Summary()
	var out []string
	for _, m := range n.gossip.All() {
		if m.Name == n.cfg.Node.Name || m.MetaErr != nil || m.Meta.Timing == "" || m.Meta.Timing == mine {
			continue
		}
		out = append(out, m.Name+": "+m.Meta.Timing)
	}
	return out
}
