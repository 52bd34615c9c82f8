package config

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/raftvip/raftvip/cluster/pki"
)

// crossCheck applies defaults that need other fields and the rules that span fields.
func (d *decoder) crossCheck(cfg *Config, hostname func() (string, error)) {
	if _, set := d.lines["node.name"]; !set && !d.failedAt("node") && !d.suggested["node.name"] {
		h, err := hostname()
		switch {
		case err != nil:
			d.add(d.at("node"), "node.name", "not set, and the hostname cannot be read (%v); set node.name", err)
		case pki.NodeNameProblem(h) != "":
			d.add(d.at("node"), "node.name", "not set, and the hostname %q cannot be a node name: it %s; set node.name", h, pki.NodeNameProblem(h))
		default:
			cfg.Node.Name = h
		}
	}
	if _, set := d.lines["node.bind"]; !set && !d.failedAt("node") && !d.suggested["node.bind"] {
		d.add(d.at("node"), "node.bind", "missing; set this node's IP address, the one it has in cluster.peers, e.g. bind: 198.18.0.11")
	}
	_, peersSet := d.lines["cluster.peers"]
	_, expectSet := d.lines["cluster.bootstrap_expect"]
	_, joinSet := d.lines["cluster.join"]
	switch {
	case peersSet && !d.failed("cluster.peers") && len(cfg.Cluster.Peers) == 0:
		d.add(d.at("cluster.peers"), "cluster.peers", "is empty; list every node as name=ip:port, this one included, e.g. [lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, lb3=198.18.0.13:7300], or remove it and form the cluster with bootstrap_expect and join")
	case peersSet && expectSet:
		d.add(d.at("cluster.bootstrap_expect"), "cluster.bootstrap_expect", "cannot be used with cluster.peers: peers bootstraps a static cluster, bootstrap_expect forms one by gossip; keep one of them")
	case expectSet && !d.failed("cluster.bootstrap_expect") && cfg.Cluster.BootstrapExpect > 1 && !joinSet:
		d.add(d.at("cluster.bootstrap_expect"), "cluster.join", "missing; with bootstrap_expect: %d the nodes find each other by gossip, so list at least one other node's gossip address, e.g. join: [198.18.0.12:%d]",
			cfg.Cluster.BootstrapExpect, DefaultGossipPort)
	}
	for i := range cfg.Cluster.Join {
		if cfg.Cluster.Join[i].Port() == 0 {
			cfg.Cluster.Join[i] = netip.AddrPortFrom(cfg.Cluster.Join[i].Addr(), uint16(cfg.Node.GossipPort))
		}
	}
	// Raft and gossip need their own ports; blame the one that was set.
	if cfg.Node.RaftPort == cfg.Node.GossipPort {
		field := "node.gossip_port"
		if _, set := d.lines[field]; !set {
			field = "node.raft_port"
		}
		d.add(d.at(field), field, "%d is both node.raft_port and node.gossip_port; Raft and gossip need a port each (defaults %d and %d)",
			cfg.Node.RaftPort, DefaultRaftPort, DefaultGossipPort)
	}

	// This node must be a peer, at node.bind:node.raft_port.
	if cfg.Node.Name != "" && !d.failed("cluster.peers") && len(cfg.Cluster.Peers) > 0 {
		d.checkSelf(cfg)
	}

	if !d.checkWitness(cfg) {
		d.checkGroups(cfg)
	}
	d.checkSecurity(cfg)
	d.checkListeners(cfg)

	if d.failedAt("cluster.timing") || d.failedAt("cluster.timing.profile") {
		return
	}
	t := cfg.Cluster.Timing
	issues := t.check(func(k string) bool { return d.timingSet[k] },
		func(k string) bool { return d.failedAt("cluster.timing." + k) })
	for _, is := range issues {
		p := "cluster.timing." + is.knob
		d.add(d.at(p), p, "%s", is.msg)
	}
	if len(issues) == 0 && !d.failed("cluster.timing") {
		d.checkLifetimes(cfg)
	}
}

// checkLifetimes checks that the kernel does not drop a group's VIPs between two
// lease renewals. A group that set its lifetime is blamed for it; otherwise a
// cluster.timing.vip_lease that was set is, once, for the shortest lifetime.
func (d *decoder) checkLifetimes(cfg *Config) {
	t := cfg.Cluster.Timing
	short := -1 // the group with the shortest lifetime at its default, if too short
	for i, g := range cfg.Groups {
		p := d.sites[i].key("lifetime")
		if d.failed(p) || g.Lifetime > t.RenewInterval() {
			continue
		}
		if _, set := d.lines[p]; set || !d.timingSet["vip_lease"] {
			d.add(d.at(p), p, "%s is not longer than the lease renew interval (cluster.timing.vip_lease/4 = %s); the kernel would drop the VIP between two renewals: raise %s above %s or lower cluster.timing.vip_lease",
				g.Lifetime, t.RenewInterval(), p, t.RenewInterval())
			continue
		}
		if short < 0 || g.Lifetime < cfg.Groups[short].Lifetime {
			short = i
		}
	}
	if short < 0 {
		return
	}
	g, p := cfg.Groups[short], d.sites[short].key("lifetime")
	d.add(d.at("cluster.timing.vip_lease"), "cluster.timing.vip_lease", "%s means a lease renewal every %s, but %s is %s; the kernel would drop the VIP between two renewals: lower vip_lease below %s or raise %s",
		t.VIPLease, t.RenewInterval(), p, g.Lifetime, 4*g.Lifetime, p)
}

// checkSelf checks that this node is one of the peers, at node.bind:node.raft_port.
func (d *decoder) checkSelf(cfg *Config) {
	name := cfg.Node.Name
	from := "node.name"
	if _, set := d.lines["node.name"]; !set {
		from = "the hostname (node.name is not set)"
	}
	addrOK := cfg.Node.Bind.IsValid() && !d.failed("node.raft_port")
	want := cfg.RaftAddr()
	for i, peer := range cfg.Cluster.Peers {
		if peer.Name != name {
			continue
		}
		if !addrOK || peer.Addr == want {
			return
		}
		var differ []string
		if peer.Addr.Addr() != want.Addr() {
			differ = append(differ, fmt.Sprintf("node.bind is %s", want.Addr()))
		}
		if peer.Addr.Port() != want.Port() {
			differ = append(differ, fmt.Sprintf("node.raft_port is %d", want.Port()))
		}
		p := d.peerPaths[i]
		d.add(d.at(p), p, "this node (%s) is listed at %s, but %s; its entry must be node.bind:node.raft_port (%s): fix the entry or the node section",
			name, peer.Addr, strings.Join(differ, " and "), want)
		return
	}
	names := make([]string, len(cfg.Cluster.Peers))
	hint := ""
	for i, peer := range cfg.Cluster.Peers {
		names[i] = peer.Name
		if addrOK && peer.Addr == want {
			hint = fmt.Sprintf("; %s is listed as %s: set node.name to %s or rename the entry", want, peer.Name, peer.Name)
		}
	}
	if hint == "" {
		hint = "; add this node"
		if addrOK {
			hint += fmt.Sprintf(" (%s=%s)", name, want)
		}
		hint += " or fix node.name"
	}
	d.add(d.at("cluster.peers"), "cluster.peers", "this node, %q from %s, is not in the list (%s)%s",
		name, from, strings.Join(names, ", "), hint)
}
