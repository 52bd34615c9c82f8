package config

import "fmt"

// witnessSections are the top-level sections a witness's file must not have, each
// with why a witness has no use for it.
var witnessSections = []struct{ key, why string }{
	{"vip", "holds no VIP"},
	{"groups", "is never given a VIP group"},
	{"priority", "holds no VIP, so it has no priority"},
	{"preempt", "holds no VIP, so nothing preempts"},
	{"preempt_delay", "holds no VIP, so nothing preempts"},
	{"min_move_interval", "holds no VIP; the load balancers' files set how often a group may move"},
	{"checks", "runs no checks: it needs no HAProxy"},
	{"notify", "holds no VIP, so it has no state changes to notify"},
	{"vrrp", "speaks no VRRP: it has no interface on the VIPs' network"},
}

// checkWitness checks the file of a witness (node.role: witness): only node,
// cluster, admin, log and metrics. It reports whether the node is a witness.
func (d *decoder) checkWitness(cfg *Config) bool {
	if !cfg.Witness() {
		return false
	}
	role := d.at("node.role")
	for _, s := range witnessSections {
		if _, set := d.lines[s.key]; !set {
			continue
		}
		d.add(d.at(s.key), s.key, "is set, but this node is a witness (node.role: witness on line %d), which %s; a witness's file has only node, cluster, admin, log and metrics: delete %s: here, or remove node.role to make this node a load balancer",
			role, s.why, s.key)
	}
	if len(cfg.Cluster.Peers) > 0 && len(cfg.Cluster.Peers) < 3 {
		d.add(d.at("cluster.peers"), "cluster.peers", "lists %d servers; a witness is the third voter of a pair: list both load balancers and the witness, e.g. [lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, %s=%s]",
			len(cfg.Cluster.Peers), cfg.Node.Name, fmt.Sprint(cfg.RaftAddr()))
	}
	return true
}
