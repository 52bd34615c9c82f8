package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/raftvip/raftvip/cluster/gossip"
	"github.com/raftvip/raftvip/cluster/transport"
)

// tlsRefusal asks a gossip member that is about to be added over the cluster RPC,
// and says why it must not be added if its Raft port fails mutual TLS with this node
// ("" otherwise: a member that merely does not answer is added as before, and
// catches up once it does).
func (n *Node) tlsRefusal(ctx context.Context, m gossip.Member) string {
	if n.mux == nil || !n.mux.Secure() {
		return ""
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var info rpcInfoResponse
	var te *transport.TLSError
	if err := n.rpcCall(cctx, m.Meta.Raft, "/v1/rpc/info", struct{}{}, &info); !errors.As(err, &te) {
		return ""
	}
	return fmt.Sprintf("its raft port %s fails mutual TLS (%s): %s; give it a certificate of this cluster's CA (raftvip tls cert %s) and the cluster's ca.pem",
		m.Meta.Raft, te.Reason, transport.Hint(te.Reason), m.Name)
}

// checkPeersTLS is the end of raftvip join with cluster.tls: it asks a few of the
// members gossip now knows over the cluster RPC, and fails if every one that answered
// failed mutual TLS, so that the operator learns at once why the leader will not add
// this node.
func (n *Node) checkPeersTLS(ctx context.Context) error {
	if n.mux == nil || !n.mux.Secure() {
		return nil
	}
	var first *transport.TLSError
	var failed []string
	asked := 0
	for _, m := range n.gossip.All() {
		if m.Name == n.cfg.Node.Name || m.State != gossip.Alive || m.MetaErr != nil || m.Meta.Raft == "" {
			continue
		}
		if asked++; asked > 3 || ctx.Err() != nil {
			break
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		var info rpcInfoResponse
		err := n.rpcCall(cctx, m.Meta.Raft, "/v1/rpc/info", struct{}{}, &info)
		cancel()
		var te *transport.TLSError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &te):
			if first == nil {
				first = te
			}
			failed = append(failed, fmt.Sprintf("%s (%s): %s", m.Name, m.Meta.Raft, te.Reason))
		}
	}
	if first == nil {
		return nil
	}
	return fmt.Errorf("joined gossip, but this node and the cluster fail mutual TLS on the raft port, so the leader will not add this node: %s (%v); %s; use the cluster's ca.pem and a certificate signed by its CA (raftvip tls cert %s)",
		strings.Join(failed, "; "), first.Err, transport.Hint(first.Reason), n.cfg.Node.Name)
}
