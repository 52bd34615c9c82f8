// Package cluster is one raftvip node: its configuration, its Raft instance (boltdb
// log, a TCP transport that shares its port with the cluster RPC, secured by mutual
// TLS 1.3 with the cluster's own CA: tls.go, pki.go), membership (static
// peers, formation by gossip with bootstrap_expect, join, leave, transfer and
// force-leave, with the leader reconciling gossip into the Raft configuration),
// memberlist gossip of every node's health and priority, the check probes and notify
// hooks, the VRRP speaker that makes the cluster one router next to keepalived, the
// admin API on a unix socket, and the wiring that connects Raft, gossip and VRRP to
// the election loop and the election loop to the VIP.
//
// Start also launches the agent's VIP guard: the same binary re-executed as
// `raftvip vip-guard` (RunGuard), which removes the VIPs the moment the agent exits,
// however it exits, so a killed holder never overlaps with the next one.
//
// cluster makes no hold or release decision itself: it gathers inputs and hands them to
// package election, and it performs on the kernel what election decides through package
// vip.
package cluster
