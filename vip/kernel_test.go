package vip_test

// Tests against the real kernel. Each runs in a network namespace of its own,
// rvtest-vip-<pid>-<n>, with a veth pair rv0/rv1; the host's interfaces are never
// touched. They need root: as non-root they skip, unless RAFTVIP_E2E=require.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/raftvip/raftvip/test/netnstest"
	"github.com/raftvip/raftvip/vip"
)

const nsPrefix = "rvtest-vip-"

var nsSeq atomic.Int64

// testNS is a network namespace with a veth pair: rv0 (the VIP interface, with
// 198.18.0.1/24 and 2001:2::1/64) and rv1, its peer, for watching what rv0 sends.
type testNS struct {
	name string
	ns   netns.NsHandle
	h    *netlink.Handle
	rv0  netlink.Link
}

// skipOrFail skips t because the kernel test cannot run here, or fails it when
// RAFTVIP_E2E=require says every kernel test must run.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("RAFTVIP_E2E") == "require" {
		t.Fatalf("%s, and RAFTVIP_E2E=require is set", msg)
	}
	t.Skipf("%s; skipping", msg)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "vip kernel test needs root (it creates a network namespace)")
	}
}

func newTestNS(t *testing.T) *testNS {
	t.Helper()
	requireRoot(t)
	netnstest.Sweep(nsPrefix, t.Logf)
	tn := &testNS{name: fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), nsSeq.Add(1))}

	var err error
	tn.ns, err = netnstest.NewNamed(tn.name)
	if err != nil {
		_ = netns.DeleteNamed(tn.name)
		skipOrFail(t, "cannot create network namespace %s: %v", tn.name, err)
	}
	t.Cleanup(func() {
		tn.ns.Close()
		if err := netns.DeleteNamed(tn.name); err != nil {
			t.Errorf("delete network namespace %s: %v", tn.name, err)
		}
	})

	tn.h, err = netlink.NewHandleAt(tn.ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", tn.name, err)
	}
	t.Cleanup(tn.h.Close)

	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s in %s: %v", what, tn.name, err)
		}
	}
	lo, err := tn.h.LinkByName("lo")
	must("find lo", err)
	must("set lo up", tn.h.LinkSetUp(lo))
	must("add veth rv0/rv1", tn.h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "rv0"}, PeerName: "rv1"}))
	tn.rv0, err = tn.h.LinkByName("rv0")
	must("find rv0", err)
	rv1, err := tn.h.LinkByName("rv1")
	must("find rv1", err)
	must("set rv0 up", tn.h.LinkSetUp(tn.rv0))
	must("set rv1 up", tn.h.LinkSetUp(rv1))
	tn.addAddr(t, "198.18.0.1/24")
	tn.addAddr(t, "2001:2::1/64")
	return tn
}

// addAddr adds a permanent address to rv0, like `ip addr add P dev rv0 nodad`.
func (tn *testNS) addAddr(t *testing.T, p string) {
	t.Helper()
	a, err := netlink.ParseAddr(p)
	if err != nil {
		t.Fatal(err)
	}
	if a.IP.To4() == nil {
		a.Flags = unix.IFA_F_NODAD
	}
	if err := tn.h.AddrAdd(tn.rv0, a); err != nil {
		t.Fatalf("add %s to rv0: %v", p, err)
	}
}

// addrs returns rv0's global addresses (no link-local) by prefix.
func (tn *testNS) addrs(t *testing.T) map[netip.Prefix]netlink.Addr {
	t.Helper()
	list, err := tn.h.AddrList(tn.rv0, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatalf("list rv0 addresses: %v", err)
	}
	out := make(map[netip.Prefix]netlink.Addr)
	for _, a := range list {
		ip, _ := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		if ip = ip.Unmap(); !ip.IsLinkLocalUnicast() {
			out[netip.PrefixFrom(ip, ones)] = a
		}
	}
	return out
}

func (tn *testNS) prefixes(t *testing.T) []string {
	var out []string
	for p := range tn.addrs(t) {
		out = append(out, p.String())
	}
	slices.Sort(out)
	return out
}

func kernelConfig(lifetime time.Duration) vip.Config {
	return vip.Config{
		Interface: "rv0",
		Addresses: []netip.Prefix{vip4, vip6},
		Lifetime:  lifetime,
		GARP:      vip.GARPConfig{Repeat: 1},
	}
}

func TestKernelHoldAndRelease(t *testing.T) {
	tn := newTestNS(t)
	tn.addAddr(t, "198.18.0.99/24") // not a VIP, added after the interface's own
	m, err := vip.New(kernelConfig(2*time.Second), vip.WithNetNS(tn.ns), vip.WithAnnouncer(&fakeAnnouncer{}), vip.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()

	for range 2 { // the second call finds everything in place
		if err := m.Set(ctx, true); err != nil {
			t.Fatalf("Set(true): %v", err)
		}
	}
	got := tn.addrs(t)
	for _, p := range []netip.Prefix{vip4, vip6} {
		a, ok := got[p]
		if !ok {
			t.Errorf("%s not on rv0 after Set(true); rv0 has %v", p, tn.prefixes(t))
			continue
		}
		if a.ValidLft < 1 || a.ValidLft > 2 || a.PreferedLft != 0 {
			t.Errorf("%s: valid_lft %d preferred_lft %d, want 1..2 and 0", p, a.ValidLft, a.PreferedLft)
		}
		if p.Addr().Is6() && a.Flags&unix.IFA_F_NODAD == 0 {
			t.Errorf("%s: flags %#x, want IFA_F_NODAD", p, a.Flags)
		}
	}
	if held, err := m.Held(); !held || err != nil {
		t.Errorf("Held() = %v, %v; want true, nil", held, err)
	}

	if err := m.Set(ctx, false); err != nil {
		t.Fatalf("Set(false): %v", err)
	}
	want := []string{"198.18.0.1/24", "198.18.0.99/24", "2001:2::1/64"}
	if got := tn.prefixes(t); !slices.Equal(got, want) {
		t.Errorf("after Set(false) rv0 has %v, want %v", got, want)
	}
	if held, err := m.Held(); held || err != nil {
		t.Errorf("Held() = %v, %v; want false, nil", held, err)
	}
}

func TestKernelCleanup(t *testing.T) {
	tn := newTestNS(t)
	tn.addAddr(t, "2001:2::10/64")  // stale VIP from an earlier run, no lifetime
	tn.addAddr(t, "198.18.0.10/24") // stale VIP
	tn.addAddr(t, "198.18.0.10/32") // same IP, other prefix: not a VIP
	h, err := netlink.NewHandleAt(tn.ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	m, err := vip.New(kernelConfig(2*time.Second), vip.WithHandle(h), vip.WithNetNS(tn.ns), vip.WithAnnouncer(&fakeAnnouncer{}))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	removed, err := m.Cleanup()
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if want := []netip.Prefix{vip4, vip6}; !slices.Equal(removed, want) {
		t.Errorf("Cleanup removed %v, want %v", removed, want)
	}
	want := []string{"198.18.0.1/24", "198.18.0.10/32", "2001:2::1/64"}
	if got := tn.prefixes(t); !slices.Equal(got, want) {
		t.Errorf("after Cleanup rv0 has %v, want %v", got, want)
	}
	if removed, err := m.Cleanup(); len(removed) != 0 || err != nil {
		t.Errorf("second Cleanup = %v, %v; want nothing", removed, err)
	}

	cfg := kernelConfig(2 * time.Second)
	cfg.Interface = "nosuch0"
	m2, err := vip.New(cfg, vip.WithHandle(h), vip.WithNetNS(tn.ns), vip.WithAnnouncer(&fakeAnnouncer{}))
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if _, err := m2.Cleanup(); !errors.Is(err, vip.ErrInterfaceNotFound) {
		t.Errorf("Cleanup on a missing interface = %v, want ErrInterfaceNotFound", err)
	}
}

// frozenClock never moves: the Manager never sees a refresh as due.
type frozenClock struct{ t time.Time }

func (c frozenClock) Now() time.Time                       { return c.t }
func (c frozenClock) After(time.Duration) <-chan time.Time { return nil }

// TestKernelExpiry checks the backstop: with nobody refreshing, the kernel removes
// the addresses when their lifetime runs out.
func TestKernelExpiry(t *testing.T) {
	tn := newTestNS(t)
	m, err := vip.New(kernelConfig(time.Second), vip.WithNetNS(tn.ns), vip.WithAnnouncer(&fakeAnnouncer{}),
		vip.WithClock(frozenClock{time.Now()}))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	if err := m.Set(ctx, true); err != nil {
		t.Fatalf("Set(true): %v", err)
	}
	start := time.Now()
	gone := map[netip.Prefix]time.Duration{}
	for time.Since(start) < 3*time.Second && len(gone) < 2 {
		got := tn.addrs(t)
		for _, p := range []netip.Prefix{vip4, vip6} {
			if _, ok := got[p]; !ok {
				if _, seen := gone[p]; !seen {
					gone[p] = time.Since(start)
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range []netip.Prefix{vip4, vip6} {
		d, ok := gone[p]
		switch {
		case !ok:
			t.Errorf("%s still on rv0 3s after a 1s lifetime", p)
		case d < 900*time.Millisecond:
			t.Errorf("%s gone after %v, before its 1s lifetime", p, d)
		default:
			t.Logf("%s expired %v after Set(true)", p, d.Round(time.Millisecond))
		}
	}
	if held, err := m.Held(); held || err != nil {
		t.Errorf("Held() after expiry = %v, %v; want false, nil", held, err)
	}
	// Missing addresses come back at once, though no refresh is due by the clock.
	if err := m.Set(ctx, true); err != nil {
		t.Fatalf("Set(true) after expiry: %v", err)
	}
	if held, err := m.Held(); !held || err != nil {
		t.Errorf("Held() after re-adding = %v, %v; want true, nil", held, err)
	}
	if err := m.Set(ctx, false); err != nil {
		t.Fatalf("Set(false): %v", err)
	}
}

// TestKernelAnnounce runs the real announcer inside the namespace and watches rv1,
// the other end of the veth, for the gratuitous ARP request and reply and the
// unsolicited neighbour advertisement.
func TestKernelAnnounce(t *testing.T) {
	tn := newTestNS(t)

	// Capture sockets on rv1, opened inside the namespace.
	var arpCap, ip6Cap *packet.Conn
	err := netnstest.Run(tn.ns, func() error {
		rv1, err := net.InterfaceByName("rv1")
		if err != nil {
			return err
		}
		if arpCap, err = packet.Listen(rv1, packet.Raw, int(ethernet.EtherTypeARP), nil); err != nil {
			return err
		}
		ip6Cap, err = packet.Listen(rv1, packet.Raw, int(ethernet.EtherTypeIPv6), nil)
		return err
	})
	if err != nil {
		t.Fatalf("open capture sockets on rv1: %v", err)
	}
	defer arpCap.Close()
	defer ip6Cap.Close()
	rv0MAC := tn.rv0.Attrs().HardwareAddr

	m, err := vip.New(kernelConfig(2*time.Second), vip.WithNetNS(tn.ns), vip.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Set(context.Background(), true); err != nil {
		t.Fatalf("Set(true): %v", err)
	}
	expectAnnouncements(t, arpCap, ip6Cap, rv0MAC)

	// The announcer on its own, as Manager.Announce would run it: opening the
	// sockets in the namespace and sending must succeed.
	a := vip.NewSocketAnnouncer("rv0", tn.ns, testLogger(t))
	if err := a.Announce(context.Background(), ips); err != nil {
		t.Fatalf("Announce: %v", err)
	}
	expectAnnouncements(t, arpCap, ip6Cap, rv0MAC)

	if err := m.Set(context.Background(), false); err != nil {
		t.Fatalf("Set(false): %v", err)
	}
}

// expectAnnouncements reads rv1's captures until it has seen, from mac, an ARP
// request and an ARP reply announcing vip4 and a neighbour advertisement for vip6.
func expectAnnouncements(t *testing.T, arpCap, ip6Cap *packet.Conn, mac net.HardwareAddr) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var sawRequest, sawReply, sawNA bool
	buf := make([]byte, 2048)
	for !(sawRequest && sawReply) {
		_ = arpCap.SetReadDeadline(deadline)
		n, _, err := arpCap.ReadFrom(buf)
		if err != nil {
			t.Fatalf("waiting for gratuitous ARP (request %v, reply %v): %v", sawRequest, sawReply, err)
		}
		var f ethernet.Frame
		var p arp.Packet
		if f.UnmarshalBinary(buf[:n]) != nil || p.UnmarshalBinary(f.Payload) != nil {
			continue
		}
		if p.SenderIP != vip4.Addr() || p.TargetIP != vip4.Addr() || !bytes.Equal(p.SenderHardwareAddr, mac) ||
			!bytes.Equal(f.Destination, ethernet.Broadcast) {
			continue
		}
		switch p.Operation {
		case arp.OperationRequest:
			sawRequest = true
		case arp.OperationReply:
			sawReply = bytes.Equal(p.TargetHardwareAddr, ethernet.Broadcast)
		}
	}
	for !sawNA {
		_ = ip6Cap.SetReadDeadline(deadline)
		n, _, err := ip6Cap.ReadFrom(buf)
		if err != nil {
			t.Fatalf("waiting for the neighbour advertisement: %v", err)
		}
		var f ethernet.Frame
		if f.UnmarshalBinary(buf[:n]) != nil || len(f.Payload) < 40 || !bytes.Equal(f.Source, mac) {
			continue
		}
		ip6 := f.Payload
		const nextICMPv6 = 58
		if ip6[0]>>4 != 6 || ip6[6] != nextICMPv6 {
			continue
		}
		src, _ := netip.AddrFromSlice(ip6[8:24])
		dst, _ := netip.AddrFromSlice(ip6[24:40])
		end := min(40+int(binary.BigEndian.Uint16(ip6[4:6])), len(ip6))
		m, err := ndp.ParseMessage(ip6[40:end])
		if err != nil {
			continue
		}
		na, ok := m.(*ndp.NeighborAdvertisement)
		if !ok || na.TargetAddress != vip6.Addr() {
			continue
		}
		if hop := ip6[7]; hop != 255 || src != vip6.Addr() || dst != netip.MustParseAddr("ff02::1") || !na.Override {
			t.Errorf("NA from %s to %s hop limit %d override %v, want from %s to ff02::1, 255, true", src, dst, hop, na.Override, vip6.Addr())
		}
		sawNA = true
	}
}
