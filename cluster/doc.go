// Package cluster is one running raftvip node: it wires Raft (its boltdb log from
// package store, its port from cluster/transport), gossip (cluster/gossip), the health
// checks (package election with cluster/probe), the notify hooks (cluster/notify),
// the VRRP speaker (package vrrpcompat) and the VIP (package vip) to the election
// loop, and serves the admin API (wire types in cluster/api).
//
// By file: node.go starts and stops a node and pumps Raft's events into the election
// loop; membership.go forms a cluster by gossip and reconciles gossip into the Raft
// configuration; operator.go and drain.go are join, leave, transfer, force-leave and
// drain; rpc.go is the cluster RPC between nodes; health.go is the election's view of
// the members; vrrp.go makes the cluster one VRRP router next to keepalived;
// reload.go applies a SIGHUP; admin.go, admin_tcp.go, metrics.go and systemd.go are
// what operators see; security.go reports TLS and gossip encryption; guard.go is the
// VIP guard, the same binary re-executed as `raftvip vip-guard` (RunGuard), which
// removes the VIPs the moment the agent exits, however it exits.
//
// cluster makes no hold or release decision itself: it gathers inputs and hands them
// to package election, and performs on the kernel what election decides through
// package vip. It does not parse configuration, convert keepalived files or build
// TLS; its sub-packages do, and none of them imports cluster.
package cluster
