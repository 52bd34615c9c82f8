package vrrpcompat

// Conn against the real kernel, in a throwaway pair of network namespaces
// rvs-<pid>-<n>-a and -b joined by a veth (rvs0 in a, rvs1 in b). Never touches the
// host's interfaces: the veth is created inside namespace a. Needs root: as non-root
// these tests skip, unless RAFTVIP_E2E=require, which makes them fail instead.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftvip/raftvip/test/netnstest"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

const nsPrefix = "rvs-"

var nsSeq atomic.Int64

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
		skipOrFail(t, "vrrpcompat kernel test needs root (it creates network namespaces and raw sockets)")
	}
}

// newNS creates an empty named namespace, deleted in t.Cleanup, with lo up.
func newNS(t *testing.T, name string) netns.NsHandle {
	t.Helper()
	ns, err := netnstest.NewNamed(name)
	if err != nil {
		_ = netns.DeleteNamed(name)
		t.Fatalf("create network namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete network namespace %s: %v", name, err)
		}
	})
	h := nlHandle(t, ns)
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("set lo up in %s: %v", name, err)
	}
	return ns
}

func nlHandle(t *testing.T, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("netlink handle: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

// lab is two namespaces joined by a veth: a's rvs0 (198.18.0.1/24, 2001:2::1/64)
// and b's rvs1 (198.18.0.2/24, 2001:2::2/64).
type lab struct{ a, b netns.NsHandle }

func newLab(t *testing.T) *lab {
	t.Helper()
	requireRoot(t)
	netnstest.Sweep(nsPrefix, t.Logf)
	base := fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), nsSeq.Add(1))
	l := &lab{a: newNS(t, base+"-a"), b: newNS(t, base+"-b")}
	ha, hb := nlHandle(t, l.a), nlHandle(t, l.b)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("add veth rvs0/rvs1 in a", ha.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "rvs0"}, PeerName: "rvs1"}))
	rvs1, err := ha.LinkByName("rvs1")
	must("find rvs1", err)
	must("move rvs1 to b", ha.LinkSetNsFd(rvs1, int(l.b)))
	rvs0, err := ha.LinkByName("rvs0")
	must("find rvs0", err)
	rvs1, err = hb.LinkByName("rvs1")
	must("find rvs1 in b", err)
	for _, a := range []struct {
		h    *netlink.Handle
		link netlink.Link
		addr string
	}{{ha, rvs0, "198.18.0.1/24"}, {ha, rvs0, "2001:2::1/64"}, {hb, rvs1, "198.18.0.2/24"}, {hb, rvs1, "2001:2::2/64"}} {
		addr, err := netlink.ParseAddr(a.addr)
		must("parse "+a.addr, err)
		if addr.IP.To4() == nil {
			addr.Flags = unix.IFA_F_NODAD
		}
		must("add "+a.addr, a.h.AddrAdd(a.link, addr))
	}
	must("set rvs0 up", ha.LinkSetUp(rvs0))
	must("set rvs1 up", hb.LinkSetUp(rvs1))
	// Wait for the link-local addresses (the IPv6 sources) to leave DAD.
	for _, x := range []struct {
		h    *netlink.Handle
		link netlink.Link
	}{{ha, rvs0}, {hb, rvs1}} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			addrs, err := x.h.AddrList(x.link, netlink.FAMILY_V6)
			must("list addresses", err)
			ready := false
			for _, a := range addrs {
				if a.IP.IsLinkLocalUnicast() && a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 {
					ready = true
				}
			}
			if ready {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s has no usable IPv6 link-local address after 10s: %v", x.link.Attrs().Name, addrs)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return l
}

func (l *lab) listen(t *testing.T, ns netns.NsHandle, cfg ConnConfig) *Conn {
	t.Helper()
	var c *Conn
	if err := netnstest.Run(ns, func() (err error) {
		c, err = Listen(cfg)
		return err
	}); err != nil {
		t.Fatalf("Listen(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readWithin reads one packet or fails after d.
func readWithin(t *testing.T, c *Conn, d time.Duration) Packet {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		t.Fatal(err)
	}
	p, err := c.ReadPacket()
	if err != nil {
		t.Fatalf("ReadPacket: %v", err)
	}
	return p
}

// expectSilence checks nothing arrives on c within d.
func expectSilence(t *testing.T, c *Conn, d time.Duration, why string) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		t.Fatal(err)
	}
	p, err := c.ReadPacket()
	if err == nil {
		t.Errorf("%s: got a packet %s -> %s ttl %d", why, p.Src, p.Dst, p.TTL)
	} else if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("%s: ReadPacket: %v, want a timeout", why, err)
	}
}

func TestConnKernel(t *testing.T) {
	l := newLab(t)
	v4a, v4b := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")

	t.Run("multicast IPv4", func(t *testing.T) {
		tx := l.listen(t, l.a, ConnConfig{Interface: "rvs0", Family: 4})
		rx := l.listen(t, l.b, ConnConfig{Interface: "rvs1", Family: 4})
		if tx.Src() != v4a {
			t.Errorf("sender chose source %s, want the interface's address %s", tx.Src(), v4a)
		}
		adv := Advert{Version: 2, VRID: 51, Priority: 150, AuthType: 1, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.10")}}
		copy(adv.AuthData[:], "secret")
		payload, err := adv.Marshal(tx.Src(), groupIPv4, ChecksumPseudoHeader)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Send(payload); err != nil {
			t.Fatal(err)
		}
		p := readWithin(t, rx, 5*time.Second)
		checkPacket(t, p, v4a, groupIPv4, 255, payload)
		expectSilence(t, tx, 300*time.Millisecond, "multicast loop is off: the sender hears nothing")
	})

	t.Run("unicast IPv4", func(t *testing.T) {
		tx := l.listen(t, l.a, ConnConfig{Interface: "rvs0", Family: 4, Src: v4a, Peers: []netip.Addr{v4b}})
		rx := l.listen(t, l.b, ConnConfig{Interface: "rvs1", Family: 4, Src: v4b, Peers: []netip.Addr{v4a}})
		adv := Advert{Version: 3, VRID: 51, Priority: 200, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.10")}}
		payload, err := adv.Marshal(v4a, v4b, ChecksumPseudoHeader)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Send(payload); err != nil {
			t.Fatal(err)
		}
		p := readWithin(t, rx, 5*time.Second)
		checkPacket(t, p, v4a, v4b, 255, payload)

		// The TTL comes from the packet, not a constant: a TTL-64 sender is seen as such.
		if err := tx.p4.SetTTL(64); err != nil {
			t.Fatal(err)
		}
		if err := tx.SendTo(payload, v4b); err != nil {
			t.Fatal(err)
		}
		if p := readWithin(t, rx, 5*time.Second); p.TTL != 64 {
			t.Errorf("TTL %d after the sender set 64", p.TTL)
		}
	})

	t.Run("multicast IPv6", func(t *testing.T) {
		tx := l.listen(t, l.a, ConnConfig{Interface: "rvs0", Family: 6})
		rx := l.listen(t, l.b, ConnConfig{Interface: "rvs1", Family: 6})
		if !tx.Src().IsLinkLocalUnicast() {
			t.Errorf("sender chose source %s, want the interface's link-local address", tx.Src())
		}
		adv := Advert{Version: 3, VRID: 51, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{netip.MustParseAddr("2001:2::10")}}
		payload, err := adv.Marshal(tx.Src(), groupIPv6, ChecksumPseudoHeader)
		if err != nil {
			t.Fatal(err)
		}
		// IPV6_CHECKSUM: the kernel fills in the checksum; send it zeroed.
		zeroed := bytes.Clone(payload)
		zeroed[6], zeroed[7] = 0, 0
		if err := tx.Send(zeroed); err != nil {
			t.Fatal(err)
		}
		p := readWithin(t, rx, 5*time.Second)
		checkPacket(t, p, tx.Src(), groupIPv6, 255, payload)
		expectSilence(t, tx, 300*time.Millisecond, "multicast loop is off: the sender hears nothing")

		// A bad checksum from a socket without IPV6_CHECKSUM: the receiving kernel
		// drops it, so it never reaches ReadPacket (nor the "checksum" counter).
		bad := bytes.Clone(payload)
		bad[6] ^= 0xff
		if err := netnstest.Run(l.a, func() error {
			c, err := net.ListenPacket("ip6:112", "::")
			if err != nil {
				return err
			}
			defer c.Close()
			p := ipv6.NewPacketConn(c)
			if err := p.SetMulticastHopLimit(255); err != nil {
				return err
			}
			_, err = p.WriteTo(bad, &ipv6.ControlMessage{IfIndex: tx.ifi.Index}, &net.IPAddr{IP: groupIPv6.AsSlice(), Zone: "rvs0"})
			return err
		}); err != nil {
			t.Fatalf("send a bad checksum: %v", err)
		}
		expectSilence(t, rx, 300*time.Millisecond, "IPV6_CHECKSUM: the kernel drops a bad checksum")
	})
}

// Two speakers over real sockets: a master in a, a listener in b that hears it
// appear and resign.
func TestSpeakerKernel(t *testing.T) {
	l := newLab(t)
	v4a := netip.MustParseAddr("198.18.0.1")
	cfg := func(ifname string, changes chan struct{}) Config {
		return Config{
			Instance: Instance{Version: 2, VRID: 51, AuthPass: "secret", Interval: time.Second},
			Conn:     ConnConfig{Interface: ifname, Family: 4},
			Addrs:    []netip.Addr{netip.MustParseAddr("198.18.0.10")},
			Checksum: ChecksumPseudoHeader,
			OnChange: func() {
				select {
				case changes <- struct{}{}:
				default:
				}
			},
		}
	}
	open := func(ns netns.NsHandle, c Config) *Speaker {
		t.Helper()
		var s *Speaker
		if err := netnstest.Run(ns, func() (err error) {
			s, err = NewSpeaker(c)
			return err
		}); err != nil {
			t.Fatalf("NewSpeaker on %s: %v", c.Conn.Interface, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run on %s: %v", c.Conn.Interface, err)
			}
			_ = s.Close()
		})
		return s
	}
	changesB := make(chan struct{}, 8)
	a := open(l.a, cfg("rvs0", make(chan struct{}, 8)))
	b := open(l.b, cfg("rvs1", changesB))
	waitChange := func(what string) {
		t.Helper()
		select {
		case <-changesB:
		case <-time.After(5 * time.Second):
			t.Fatalf("b saw no change: %s", what)
		}
	}

	a.SetMaster(true, 200)
	waitChange("a became master")
	st := b.Stats()
	if len(st.Routers) != 1 || st.Routers[0].Addr != v4a || st.Routers[0].Priority != 200 || st.Routers[0].Version != 2 {
		t.Fatalf("b's routers %+v, want %s at priority 200", st.Routers, v4a)
	}
	if st.Accepted == 0 || len(st.Dropped) != 0 {
		t.Errorf("b's stats %+v", st)
	}
	v := b.Verdict(Self{Priority: 100, Preempt: true, Interval: time.Second, Version: 2}, time.Now())
	if !v.Blocked || v.Master == nil || v.Master.Addr != v4a {
		t.Errorf("b's verdict %+v, want blocked by %s", v, v4a)
	}

	a.Resign()
	waitChange("a resigned")
	if st := b.Stats(); len(st.Routers) != 1 || st.Routers[0].Priority != 0 {
		t.Errorf("b's routers after a resigned: %+v", st.Routers)
	}
	if st := a.Stats(); st.Sent < 2 || st.Received != 0 {
		t.Errorf("a's stats %+v: want at least 2 sent and nothing heard (multicast loop off)", st)
	}
}

func checkPacket(t *testing.T, p Packet, src, dst netip.Addr, ttl int, payload []byte) {
	t.Helper()
	if p.Src != src || p.Dst != dst || p.TTL != ttl {
		t.Errorf("got %s -> %s ttl %d, want %s -> %s ttl %d", p.Src, p.Dst, p.TTL, src, dst, ttl)
	}
	if !bytes.Equal(p.Payload, payload) {
		t.Errorf("payload\n got %x\nwant %x", p.Payload, payload)
	}
	if _, err := Parse(p.Payload, p.Src, p.Dst); err != nil {
		t.Errorf("Parse of the received advert: %v", err)
	}
}

func TestListenNoInterface(t *testing.T) {
	_, err := Listen(ConnConfig{Interface: "rvs-missing0", Family: 4})
	t.Logf("%v", err)
	if err == nil || !strings.Contains(err.Error(), "rvs-missing0") || !strings.Contains(err.Error(), "no such network interface") {
		t.Errorf("Listen on a missing interface: %v", err)
	}
}

func TestListenNeedsCapNetRaw(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root has CAP_NET_RAW")
	}
	_, err := Listen(ConnConfig{Interface: "lo", Family: 4, Src: netip.MustParseAddr("127.0.0.1")})
	t.Logf("%v", err)
	if err == nil || !strings.Contains(err.Error(), "CAP_NET_RAW") || !errors.Is(err, os.ErrPermission) {
		t.Errorf("Listen without CAP_NET_RAW: %v", err)
	}
}
