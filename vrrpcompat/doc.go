// Package vrrpcompat lets a raftvip cluster take part in a VRRP group next to stock
// keepalived routers: VRRPv2 (RFC 3768) and VRRPv3 (RFC 9568, which obsoletes
// RFC 5798), over IPv4 and, for v3, IPv6.
//
// The cluster stays one VRRP router: its Raft leader advertises for it, and what the
// foreign routers say decides whether the leader may hold the VIP at all. The
// package must not decide cluster ownership: it reports a verdict (Speaker.Verdict)
// and advertises when told to (SetMaster, Resign); which node holds the VIP is the
// election package's decision. It has three layers:
//
//   - The codec (Advert, Marshal, Parse, Instance.Check) is pure and never panics:
//     Parse verifies length, version, type, address count and checksum and returns a
//     *DropError whose Reason is a counter label; Check compares an advert with the
//     local instance in keepalived's order (TTL, version, VRID, auth, v2 interval).
//   - The Tracker follows the foreign routers heard and, with the time passed in,
//     says as a VRRP backup would whether one of them is master (skew, master-down
//     timer, the priority-then-address election) and whether we must stand back or
//     preempt it.
//   - The Speaker and Conn are the runtime: a raw protocol-112 socket on one
//     interface (multicast 224.0.0.18 / ff02::12, or unicast peers) that reads,
//     parses, checks and tracks, and sends our adverts while this node is master.
//
// It matches what keepalived puts on the wire rather than only what the RFCs say
// (golden packets captured from Debian's keepalived are in testdata/golden):
//
//   - v3 over IPv4 is checksummed with the IPv4 pseudo-header by default, as
//     keepalived sends; ChecksumNoPseudoHeader gives the RFC 9568 form (keepalived's
//     v3_checksum_as_v2). Parse accepts both, and the ≤ 1.3.6 unicast form that put
//     the group address in the pseudo-header.
//   - v2 carries the interval in whole seconds and 8 bytes of auth data (PASS, zero
//     padded); keepalived drops a v2 advert whose interval differs from its own, so
//     Check does too. v3 carries centiseconds in 12 bits and no auth; a v3 backup
//     adopts the master's interval.
//   - The skew is (256-priority)/256 s for v2 whatever the interval, and
//     (256-priority)×interval/256 for v3.
//   - On equal priority the higher primary address wins (numeric compare), and a
//     priority-0 advert cuts the master-down timer to the skew.
//   - TTL/hop limit must be 255, for unicast too (keepalived sends 255 there).
//
// The package is a leaf: it imports only the standard library, golang.org/x/net and
// golang.org/x/sys.
package vrrpcompat
