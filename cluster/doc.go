// Package cluster is one raftvip node: its configuration, its Raft instance (boltdb
// log, TCP transport, static bootstrap), the admin API on a unix socket, and the wiring
// that connects Raft to the election loop and the election loop to the VIP.
//
// cluster makes no hold or release decision itself: it gathers inputs and hands them to
// package election, and it performs on the kernel what election decides through package
// vip.
package cluster
