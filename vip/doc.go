// Package vip puts virtual IP addresses on an interface and takes them off again, over
// netlink, and announces them with gratuitous ARP (RFC 5227 §3) and unsolicited
// neighbour advertisements (RFC 4861 §7.2.6).
//
// The entry point is an idempotent Set(desired): adding, refreshing the kernel lifetime
// and removing are consequences of comparing desired with what the kernel has. The
// package knows nothing about Raft.
//
// # Kernel backstop
//
// Addresses are added with valid_lft = Config.Lifetime and preferred_lft 0, so they
// are never chosen as a source address and the kernel removes them by itself when a
// frozen or killed agent stops refreshing them. Set refreshes them at most every
// Lifetime/4, so a caller that keeps calling Set keeps them. Linux counts lifetimes
// in whole seconds, and its address-expiry work is scheduled with slack: an expired
// IPv4 address can still be there up to about 250 ms after Lifetime (IPv6 is
// similar). Callers that wait the lifetime out (strict fencing) must add that.
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
// # Network namespaces
//
// By default the Manager works in the network namespace of the process: it opens a
// netlink handle there, and its SocketAnnouncer opens raw sockets on the thread that
// runs the burst. To work in another namespace pass WithNetNS (or WithHandle for a
// netlink handle made with netlink.NewHandleAt, plus an announcer). A socket belongs
// to the namespace of the thread that opened it, so opening one elsewhere takes
// runtime.LockOSThread, netns.Get to remember the current namespace, netns.Set to
// the target, open, netns.Set back, runtime.UnlockOSThread; SocketAnnouncer does
// exactly that when given a namespace.
package vip
