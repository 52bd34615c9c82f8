package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/raftvip/raftvip/cluster/api"
	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/gossip"
	"github.com/raftvip/raftvip/cluster/transport"
)

// What this node knows about the security of its cluster traffic: the status of TLS
// and gossip encryption, the counts of what they turned away, and the warnings of an
// insecure start.

// Security reports how this node's cluster traffic is secured and what it rejected.
func (n *Node) Security() api.SecurityStatus {
	st := api.SecurityStatus{Insecure: n.cfg.Cluster.Insecure, GossipEncrypted: n.cfg.Cluster.Encrypt != nil}
	if n.mux != nil && n.mux.Secure() {
		st.TLS = true
		in, out := n.mux.Rejects()
		if len(in) > 0 {
			st.TLSRejectsIn = in
		}
		if len(out) > 0 {
			st.TLSRejectsOut = out
		}
		for _, r := range n.mux.RecentRejects(time.Time{}) {
			st.RecentTLSRejects = append(st.RecentTLSRejects, api.TLSReject{At: r.At, Direction: r.Direction, Remote: r.Remote, Reason: r.Reason, Error: r.Error})
		}
	}
	if n.gossip != nil {
		if g := n.gossip.Rejects(); len(g) > 0 {
			st.GossipRejects = g
		}
	}
	return st
}

// warnInsecure logs, at every start, what this node runs without.
func warnInsecure(cfg *config.Config, logger *slog.Logger) {
	c := cfg.Cluster
	var missing []string
	if !c.TLS.Enabled() {
		missing = append(missing, fmt.Sprintf("no cluster.tls: Raft and the cluster RPC on port %d are plaintext and unauthenticated", cfg.Node.RaftPort))
	}
	if c.Encrypt == nil {
		missing = append(missing, fmt.Sprintf("no cluster.encrypt: gossip on port %d is plaintext and unauthenticated", cfg.Node.GossipPort))
	}
	switch {
	case len(missing) > 0:
		logger.Warn("running without transport security: cluster.insecure is true; anyone who reaches these ports can join or disturb the cluster and move the VIP; set cluster.tls (raftvip tls ca, raftvip tls cert) and cluster.encrypt (raftvip keygen)",
			"missing", strings.Join(missing, "; "))
	case c.Insecure:
		logger.Info("cluster.insecure is true but changes nothing: cluster.tls and cluster.encrypt are both set")
	}
	if a := cfg.Admin.Listen; a != "" {
		host := a[:strings.LastIndex(a, ":")]
		ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
		if host == "" || err != nil || !ip.IsLoopback() {
			logger.Warn("the TCP admin listener speaks plain HTTP: its bearer token crosses the network in the clear; keep admin.listen on 127.0.0.1 or a management network you trust",
				"listen", a)
		}
	}
}

// tlsTroubleWindow is how far back a node that is not in a cluster looks for failed
// handshakes to explain why.
const tlsTroubleWindow = time.Minute

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
