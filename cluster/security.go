package cluster

import (
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"strings"
	"time"
)

// What this node knows about the security of its cluster traffic: the status of TLS
// and gossip encryption, the counts of what they turned away, and the warnings of an
// insecure start.

// SecurityStatus is how this node's cluster traffic is secured, and what it turned
// away (status: "security").
type SecurityStatus struct {
	TLS             bool `json:"tls"`              // mutual TLS on the Raft port (cluster.tls)
	GossipEncrypted bool `json:"gossip_encrypted"` // cluster.encrypt is set
	Insecure        bool `json:"insecure"`         // cluster.insecure: true
	// TLSRejectsIn counts connections to this node's Raft port whose handshake failed,
	// by reason (TLSReject* constants); TLSRejectsOut counts this node's own
	// connections to peers that failed.
	TLSRejectsIn  map[string]uint64 `json:"tls_rejects_in,omitempty"`
	TLSRejectsOut map[string]uint64 `json:"tls_rejects_out,omitempty"`
	// GossipRejects counts gossip messages this node could not decrypt, by reason
	// (GossipReject* constants).
	GossipRejects map[string]uint64 `json:"gossip_rejects,omitempty"`
	// RecentTLSRejects are the last few failed handshakes, newest last.
	RecentTLSRejects []TLSReject `json:"recent_tls_rejects,omitempty"`
}

// Security reports how this node's cluster traffic is secured and what it rejected.
func (n *Node) Security() SecurityStatus {
	st := SecurityStatus{Insecure: n.cfg.Cluster.Insecure, GossipEncrypted: n.cfg.Cluster.Encrypt != nil}
	if n.mux != nil && n.mux.tls != nil {
		st.TLS = true
		in, out := n.mux.tls.stats.counts()
		if len(in) > 0 {
			st.TLSRejectsIn = in
		}
		if len(out) > 0 {
			st.TLSRejectsOut = out
		}
		st.RecentTLSRejects = n.mux.tls.stats.latest(time.Time{})
	}
	if g := n.GossipRejects(); len(g) > 0 {
		st.GossipRejects = g
	}
	return st
}

// Why gossip turned a message away: the reasons gossip rejections are counted by.
const (
	GossipRejectWrongKey     = "wrong_key"      // encrypted with a key this node does not have
	GossipRejectNotEncrypted = "not_encrypted"  // a peer without cluster.encrypt sent plaintext
	GossipRejectNoKey        = "no_key"         // a peer encrypts, and this node has no key
	GossipRejectDecrypt      = "decrypt_failed" // any other message that does not decrypt
)

// gossipRejectReason tells from a memberlist log line whether it reports a message
// that encryption turned away, and why. memberlist has no hook for it; its lines are
// "failed to receive: no installed keys could decrypt the message from=...",
// "Decrypt packet failed: ..." and the two about a missing key.
func gossipRejectReason(msg string) (string, bool) {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "no installed keys could decrypt"):
		return GossipRejectWrongKey, true
	case strings.Contains(m, "encryption is configured but remote state is not encrypted"):
		return GossipRejectNotEncrypted, true
	case strings.Contains(m, "remote state is encrypted and encryption is not configured"):
		return GossipRejectNoKey, true
	case strings.Contains(m, "decrypt packet failed"):
		return GossipRejectDecrypt, true
	}
	return "", false
}

// observe counts memberlist's lines about messages encryption turned away.
func (g *gossip) observe(msg string) {
	reason, ok := gossipRejectReason(msg)
	if !ok {
		return
	}
	g.mu.Lock()
	g.rejects[reason]++
	g.mu.Unlock()
}

// GossipRejects counts the gossip messages this node turned away because they did
// not decrypt with cluster.encrypt (or were not encrypted), by reason (GossipReject*
// constants).
func (n *Node) GossipRejects() map[string]uint64 {
	if n.gossip == nil {
		return map[string]uint64{}
	}
	n.gossip.mu.Lock()
	defer n.gossip.mu.Unlock()
	return maps.Clone(n.gossip.rejects)
}

// warnInsecure logs, at every start, what this node runs without.
func warnInsecure(cfg *Config, logger *slog.Logger) {
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
