// Package election decides whether this node may hold the VIP: the lease watchdog,
// the claim and release protocol over the Raft log, and the pure decision function that
// turns Raft state, lease and ownership records into a desired VIP state.
//
// The safety argument is DESIGN §2: a holder drops the VIP the moment its lease runs out,
// its term changes or it stops being leader; a new leader waits the claim delay
// D = L + T_rpc + δ before it holds, unless the last committed record is a release.
// The package touches no sockets and no netlink; it drives the small interfaces it
// declares (a Raft view, a ledger of ownership records, a VIP setter and a clock).
package election
