package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/store"
)

// SetDrain sets (drained true) or clears a node's drain flag. The flag is committed
// through the Raft leader, so it survives restarts and every node sees it; a drained
// node never holds the VIP, and a drained holder hands it over by a planned move. On a
// follower the request is forwarded to the leader. It returns the flag's Raft index.
func (n *Node) SetDrain(ctx context.Context, name string, drained bool) (uint64, error) {
	if err := n.checkMember(name); err != nil {
		return 0, err
	}
	var idx uint64
	err := n.onLeader(ctx, func() error {
		var err error
		idx, err = n.applyDrain(name, drained, n.cfg.Node.Name)
		return err
	}, func(addr string) error {
		var resp rpcDrainResponse
		err := n.rpcCall(ctx, addr, "/v1/rpc/drain", rpcDrainRequest{Node: name, Drained: drained, By: n.cfg.Node.Name}, &resp)
		idx = resp.Index
		return err
	})
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return 0, fmt.Errorf("set drain flag of %s: %w", name, err)
	}
	return idx, err
}

// applyDrain commits a drain flag; only the leader can.
func (n *Node) applyDrain(name string, drained bool, by string) (uint64, error) {
	if n.raft.State() != raft.Leader {
		return 0, errNotLeader
	}
	if err := n.checkMember(name); err != nil {
		return 0, err
	}
	reason := "operator, via " + by
	f := n.raft.Apply(store.EncodeDrain(name, drained, reason, time.Now()), applyTimeout(n.cfg.Cluster.Timing))
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			return 0, errNotLeader
		}
		return 0, fmt.Errorf("commit drain flag of %s: %w", name, err)
	}
	if err, ok := f.Response().(error); ok {
		return 0, fmt.Errorf("apply drain flag of %s: %w", name, err)
	}
	word := "drained"
	if !drained {
		word = "undrained"
	}
	n.log.Info("node "+word, "node", name, "by", by, "index", f.Index())
	return f.Index(), nil
}

// checkMember returns an errBadRequest error unless name is a server of the Raft
// configuration.
func (n *Node) checkMember(name string) error {
	if name == "" {
		return fmt.Errorf("%w: no node named; give the node's name (node.name in its config)", errBadRequest)
	}
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return fmt.Errorf("read raft configuration: %w", err)
	}
	var names []string
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == name {
			return nil
		}
		names = append(names, string(s.ID))
	}
	slices.Sort(names)
	return fmt.Errorf("%w: no member named %q; members are %s", errBadRequest, name, strings.Join(names, ", "))
}
