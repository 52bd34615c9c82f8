// Package election decides whether this node may hold the VIP: the lease watchdog,
// the claim and release protocol over the Raft log, the pure decision function that
// turns Raft state, lease and ownership records into a desired VIP state, the health
// checks that set this node's effective priority, and the pure leadership policy that
// moves the VIP to the best eligible voter (DESIGN §3).
//
// The safety argument is DESIGN §2: a holder drops the VIP the moment its lease runs out,
// its term changes or it stops being leader; a new leader waits the claim delay
// D = L + T_rpc + δ before it holds, unless the last committed record is a release.
// Health only ever narrows that: an ineligible leader never claims, and every move for
// health or priority is a planned move (release, then leadership transfer).
//
// It must not touch netlink or sockets directly: it drives the small interfaces it
// declares (a Raft view, a ledger of ownership records, a VIP setter, a cluster view of
// every voter's health, check probers and a clock), and the caller wires them to the
// kernel.
package election
