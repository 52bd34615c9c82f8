// Package election decides who holds each VIP group (DESIGN §9): the leader's pure
// placement of groups on nodes (Place) and the loop that commits it (Placer); the
// holder's side of the quorum-lease protocol (Holder), with its pure decision per group
// (DecideGroup); a voter's answer to a renewal (Answer) and the lease a holder builds
// from the answers (Leases, over Configuration); and the health checks that set a
// node's effective priority (Checker, ComputeHealth).
//
// The safety argument is DESIGN §9.3 and docs/safety.md: a node holds a group only
// under an assignment that names its incarnation, that it knows committed, after the
// wait W(g) the group owes, and while a majority of one configuration's voters vouched
// for that assignment in a round sent less than its lease L ago. A voter vouches only
// for the assignment newest in its own log. Health only ever narrows that: an
// ineligible node holds nothing, and a move for health or priority is a new
// assignment, planned (the old holder drains and releases) when it can be.
//
// The simulation in sim_*_test.go (DESIGN §8) runs the pure cores the Holder uses
// (DecideGroup, Vouch, Leases) and the store's Ownership over a simulated Raft with
// message loss, partitions, crashes and clock drift, and checks that no two nodes ever
// hold one group; it replays the four overlap cases of the quorum-lease notes.
//
// It must not touch netlink or sockets: it drives the small interfaces it declares
// (the log, a VIP setter, message senders, check probers and a clock), and the caller
// wires them to the kernel and the network.
package election
