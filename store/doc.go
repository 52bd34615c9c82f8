// Package store is raftvip's replicated state: the Raft FSM that records who claimed and
// released the VIP, whether an operator transfer pinned it, and which nodes an operator
// drained, its snapshots, and the on-disk log, stable and snapshot stores that
// hashicorp/raft runs on.
//
// Apply must not do I/O: it is deterministic and fast, and every record carries the
// time its proposer stamped on it.
//
// A data directory is tied to one node name and carries a random instance id, so a
// wiped directory is told apart from the old one: opening another node's directory,
// or a corrupt one, is an error, never a silent fresh start.
package store
