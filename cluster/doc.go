// Package cluster is one raftvip node: its configuration, its Raft instance (boltdb
// log, a TCP transport that shares its port with the cluster RPC, static bootstrap),
// memberlist gossip of every node's health and priority, the check probes and notify
// hooks, the admin API on a unix socket, and the wiring that connects Raft and gossip
// to the election loop and the election loop to the VIP.
//
// cluster makes no hold or release decision itself: it gathers inputs and hands them to
// package election, and it performs on the kernel what election decides through package
// vip.
package cluster
