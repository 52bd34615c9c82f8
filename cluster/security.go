package cluster

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/raftvip/raftvip/cluster/api"
	"github.com/raftvip/raftvip/cluster/config"
)

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
