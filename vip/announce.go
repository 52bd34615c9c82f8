package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"

	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netns"
)

// Announcer tells the neighbours that addrs are now reachable at this host's MAC
// address. The Manager calls it once per round of a burst, from its own goroutine.
// Announce should give up early when ctx is cancelled: the addresses may already be
// gone.
type Announcer interface {
	Announce(ctx context.Context, addrs []netip.Addr) error
}

// SocketAnnouncer is the real Announcer: gratuitous ARP request and reply for IPv4
// (ARPSender over a raw AF_PACKET socket) and an unsolicited neighbour
// advertisement for IPv6 (NDPSender over a raw ICMPv6 socket), on one interface.
//
// It opens its sockets on every call and closes them before returning, so it holds
// nothing between rounds and follows the interface if it is re-created. It needs
// CAP_NET_RAW.
//
// Sockets belong to the network namespace of the thread that opens them. With ns
// set, Announce opens them inside ns with the usual pattern: lock the goroutine to
// its OS thread, remember the thread's namespace, netns.Set(ns), open (and here
// also send and close), netns.Set back, unlock. If switching back fails the thread
// stays locked, so the Go runtime discards it when the goroutine ends instead of
// reusing a thread in the wrong namespace. Without ns it works in the namespace of
// the calling thread, which for a process that never switches is the process's.
type SocketAnnouncer struct {
	ifname string
	ns     netns.NsHandle
	log    *slog.Logger
}

// NewSocketAnnouncer returns an announcer for the interface ifname in the network
// namespace ns; netns.None() means the current one. The caller keeps ns open for
// as long as the announcer is used. A nil logger discards.
func NewSocketAnnouncer(ifname string, ns netns.NsHandle, logger *slog.Logger) *SocketAnnouncer {
	if logger == nil {
		logger = discardLogger()
	}
	return &SocketAnnouncer{ifname: ifname, ns: ns, log: logger}
}

// Announce sends one round for addrs. Errors for single addresses do not stop the
// others; all of them are returned, joined.
func (a *SocketAnnouncer) Announce(ctx context.Context, addrs []netip.Addr) error {
	return inNetNS(a.ns, func() error { return a.announce(ctx, addrs) })
}

func (a *SocketAnnouncer) announce(ctx context.Context, addrs []netip.Addr) error {
	var v4, v6 []netip.Addr
	for _, ip := range addrs {
		if ip.Is4() {
			v4 = append(v4, ip)
		} else {
			v6 = append(v6, ip)
		}
	}
	ifi, err := net.InterfaceByName(a.ifname)
	if err != nil {
		return fmt.Errorf("vip: announce on %s: %w", a.ifname, err)
	}
	var errs []error
	if len(v4) > 0 {
		errs = append(errs, a.announceARP(ctx, ifi, v4))
	}
	if len(v6) > 0 {
		errs = append(errs, a.announceNA(ctx, ifi, v6))
	}
	return errors.Join(errs...)
}

func (a *SocketAnnouncer) announceARP(ctx context.Context, ifi *net.Interface, ips []netip.Addr) error {
	if len(ifi.HardwareAddr) != 6 {
		return fmt.Errorf("vip: gratuitous arp on %s: interface has no Ethernet address", ifi.Name)
	}
	conn, err := packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
	if err != nil {
		return fmt.Errorf("vip: gratuitous arp on %s: open socket: %w", ifi.Name, err)
	}
	defer conn.Close()
	s := NewARPSender(conn, ifi.HardwareAddr)
	var errs []error
	for _, ip := range ips {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := s.Send(ip); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (a *SocketAnnouncer) announceNA(ctx context.Context, ifi *net.Interface, ips []netip.Addr) error {
	conn, err := listenICMP6(ifi)
	if err != nil {
		return fmt.Errorf("vip: neighbour advertisement on %s: open socket: %w", ifi.Name, err)
	}
	defer conn.Close()
	s := NewNDPSender(conn, ifi.HardwareAddr, ifi.Index)
	var errs []error
	for _, ip := range ips {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := s.Send(ip); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// inNetNS runs fn on the current goroutine's OS thread switched into ns, then
// switches the thread back. With ns not open (netns.None()) it just runs fn. fn must
// not start goroutines that need ns: they run on other threads.
func inNetNS(ns netns.NsHandle, fn func() error) error {
	if !ns.IsOpen() {
		return fn()
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("vip: get current network namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("vip: enter network namespace %s: %w", ns, err)
	}
	defer func() {
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		// Otherwise the thread stays locked and dies with the goroutine.
	}()
	return fn()
}
