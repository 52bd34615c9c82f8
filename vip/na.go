package vip

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/ndp"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
)

// allNodes is ff02::1, the destination of unsolicited neighbour advertisements.
var allNodes = netip.MustParseAddr("ff02::1")

// NDPConn is what NDPSender writes to. *ndp.Conn implements it; so do the
// socket the SocketAnnouncer opens and fakes in tests.
type NDPConn interface {
	WriteTo(m ndp.Message, cm *ipv6.ControlMessage, dst netip.Addr) error
}

// NDPSender sends unsolicited neighbour advertisements (RFC 4861 §7.2.6) for IPv6
// addresses: Override set, Solicited and Router clear, a target link-layer address
// option with the interface's MAC, from the address itself to ff02::1, hop limit
// 255 (receivers drop neighbour discovery with any other hop limit).
type NDPSender struct {
	conn    NDPConn
	hw      net.HardwareAddr
	ifindex int
}

// NewNDPSender returns a sender that writes to conn for the interface with index
// ifindex and MAC hw. The caller keeps ownership of conn.
func NewNDPSender(conn NDPConn, hw net.HardwareAddr, ifindex int) *NDPSender {
	return &NDPSender{conn: conn, hw: hw, ifindex: ifindex}
}

// Send announces ip with one unsolicited neighbour advertisement.
func (s *NDPSender) Send(ip netip.Addr) error {
	if !ip.Is6() || ip.Is4In6() {
		return fmt.Errorf("vip: neighbour advertisement for %s: not an IPv6 address", ip)
	}
	na := &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: ip,
	}
	if len(s.hw) > 0 {
		na.Options = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: s.hw}}
	}
	cm := &ipv6.ControlMessage{HopLimit: ndp.HopLimit, Src: ip.AsSlice(), IfIndex: s.ifindex}
	if err := s.conn.WriteTo(na, cm, allNodes); err != nil {
		return fmt.Errorf("vip: neighbour advertisement for %s: %w", ip, err)
	}
	return nil
}

// icmp6Conn is a raw ICMPv6 socket for sending neighbour discovery, set up like
// ndp.Listen does (hop limits 255, kernel checksum) but addressed by interface
// index only. ndp.Conn names the interface in the destination's zone, which Go
// resolves through a process-wide cache of the interface names of whatever network
// namespace filled it; that goes wrong when the socket lives in another namespace.
type icmp6Conn struct {
	pc *ipv6.PacketConn
	c  *icmp.PacketConn
}

func listenICMP6(ifi *net.Interface) (*icmp6Conn, error) {
	c, err := icmp.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, err
	}
	pc := c.IPv6PacketConn()
	var block ipv6.ICMPFilter
	block.SetAll(true) // send only: do not queue what arrives
	for _, set := range []func() error{
		func() error { return pc.SetHopLimit(ndp.HopLimit) },
		func() error { return pc.SetMulticastHopLimit(ndp.HopLimit) },
		func() error { return pc.SetMulticastInterface(ifi) },
		func() error { return pc.SetMulticastLoopback(false) },
		func() error { return pc.SetChecksum(true, 2) }, // ICMPv6 checksum at offset 2
		func() error { return pc.SetICMPFilter(&block) },
	} {
		if err := set(); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	return &icmp6Conn{pc: pc, c: c}, nil
}

func (c *icmp6Conn) WriteTo(m ndp.Message, cm *ipv6.ControlMessage, dst netip.Addr) error {
	b, err := ndp.MarshalMessage(m)
	if err != nil {
		return err
	}
	_, err = c.pc.WriteTo(b, cm, &net.IPAddr{IP: dst.AsSlice()})
	return err
}

func (c *icmp6Conn) Close() error { return c.c.Close() }
