// Package vip puts virtual IP addresses on an interface and takes them off again, over
// netlink, and announces them with gratuitous ARP (RFC 5227 §3) and unsolicited
// neighbour advertisements (RFC 4861 §7.2.6).
//
// The entry point is an idempotent Set(desired): adding, refreshing the kernel lifetime
// and removing are consequences of comparing desired with what the kernel has. It
// must not know about Raft: whether to hold is the caller's decision, passed to Set.
//
// # Kernel backstop
//
// Addresses are added with valid_lft = Config.Lifetime and preferred_lft 0, so they
// are never chosen as a source address and the kernel removes them by itself when a
// frozen or killed agent stops refreshing them. Set refreshes them at most every
// Lifetime/4, so a caller that keeps calling Set keeps them. Linux counts lifetimes
// in whole seconds, and its address-expiry work is scheduled with slack: an expired
// IPv4 address was seen up to about 400 ms after Lifetime (IPv6 is similar). Callers
// that wait the lifetime out (strict fencing) must add that.
//
// A frozen agent is what the lifetime is for. A killed one is better served by Guard,
// the body of a companion process that removes the addresses as soon as the agent's
// end of a pipe closes.
//
// IPv6 addresses get IFA_F_NODAD, so they are usable at once instead of after about
// one second of duplicate address detection.
//
// Only the configured address-and-prefix pairs are ever added, refreshed or
// removed; other addresses on the interface are left alone. One kernel behaviour to
// know: an IPv4 VIP that is the first address of its subnet on the interface is the
// subnet's primary address, and deleting a primary deletes its secondaries too
// unless net.ipv4.conf.<if>.promote_secondaries is 1. Give the interface its own
// address in the VIP's subnet (the normal set-up), or set promote_secondaries.
//
// # Announcing
//
// When the Manager starts holding, a goroutine it owns sends GARPConfig.Repeat
// rounds, GARPConfig.Interval apart: for every IPv4 VIP an ARP request and an ARP
// reply, both broadcast, sender and target address the VIP; for every IPv6 VIP an
// unsolicited neighbour advertisement with the Override flag and a target
// link-layer address option to ff02::1, hop limit 255. Linux neighbours ignore ARP
// updates within locktime (1 s by default) of the previous one, so ARP rounds
// closer than 1 s apart help little. Set(false) cancels the burst without waiting
// for it (Close cancels it and waits for the goroutine to end); one packet already
// being written may still leave after the address is gone, and the next holder's
// own burst overrides it.
//
// The senders, ARPSender and NDPSender, write to an injected net.PacketConn or
// NDPConn, so their bytes are tested without root.
//
// # Draining before a planned move
//
// When the addresses move on purpose, a client whose TCP handshake with the old
// holder completed just before the removal sends its request to an address the old
// holder no longer has; the segment is dropped, its retransmission reaches the new
// holder (whose announcements updated the client's neighbour cache), which answers
// with a reset: a failed request. Manager.Drain, called before Set(false), closes
// that window: for Config.Drain it keeps the addresses but drops, on input, every
// TCP segment to a VIP with SYN set and ACK clear (table inet raftvip, chain drain,
// hook input, priority filter, one rule per VIP, over nf_tables netlink), while
// segments of established connections are still accepted and answered. A client
// whose SYN was dropped retransmits it (Linux: 1 s, then 3 s, 7 s, ... after the
// first attempt), and one of the retransmissions reaches the new holder: new
// connections are delayed, not refused. Set(false) removes the addresses and then the table; Close removes the
// table too, and Cleanup removes one left by an agent that died while draining.
// Set(true) never installs rules, and refuses to hold while rules it could not
// remove are left over.
//
// The drain is best effort and never blocks a move: if the rules cannot be
// installed (a kernel without nf_tables, no CAP_NET_ADMIN) Drain logs a warning and
// returns at once. It covers requests in flight, not idle connections: a keep-alive
// connection that sends a new request after the removal still reaches the new
// holder and is reset, and a response that takes longer than Config.Drain is cut
// off as before. The drain only covers connections whose request is in flight when
// the move starts. It also delays every planned move by Config.Drain.
//
// # Network namespaces
//
// By default the Manager works in the network namespace of the process: it opens a
// netlink handle there, and its SocketAnnouncer opens raw sockets on the thread that
// runs the burst. To work in another namespace pass WithNetNS (or WithHandle for a
// netlink handle made with netlink.NewHandleAt, plus an announcer and a firewall:
// WithHandle alone leaves the drain rules in the current namespace). A socket belongs
// to the namespace of the thread that opened it, so opening one elsewhere takes
// runtime.LockOSThread, netns.Get to remember the current namespace, netns.Set to
// the target, open, netns.Set back, runtime.UnlockOSThread; SocketAnnouncer does
// exactly that when given a namespace.
package vip
