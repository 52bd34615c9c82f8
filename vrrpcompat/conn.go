package vrrpcompat

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// The socket side of VRRP (RFC 3768 §5.2, RFC 9568 §5.1): raw IP protocol 112 on
// one interface, TTL/hop limit 255 on send and checked on receive, TOS/traffic
// class 0xc0 (network control) as keepalived sends, multicast to 224.0.0.18 or
// ff02::12 unless unicast peers are configured, then one copy to each peer.

// The VRRP multicast groups (RFC 3768 §5.2.2, RFC 9568 §5.1.2.2); never written.
var (
	groupIPv4 = netip.MustParseAddr("224.0.0.18")
	groupIPv6 = netip.MustParseAddr("ff02::12")
)

const (
	vrrpTTL = 255  // RFC 3768 §5.2.3: sent with TTL 255, dropped otherwise
	vrrpTOS = 0xc0 // keepalived: IPTOS_PREC_INTERNETCONTROL
	// ipv6ChecksumOffset is where the checksum sits in the VRRP message: the kernel
	// computes it on send and verifies it on receive (keepalived does the same).
	ipv6ChecksumOffset = 6
	// readBufferSize holds any IP payload; a VRRP message is at most 4 KiB.
	readBufferSize = 1 << 16
)

// ConnConfig says where VRRP is spoken.
type ConnConfig struct {
	Interface string
	Family    int // 4 or 6
	// Src is the source address of our adverts (unicast_src or node.bind, or the
	// interface's link-local for IPv6). Unset: the interface's first IPv4 address,
	// or its IPv6 link-local address.
	Src netip.Addr
	// Peers are the unicast peers; empty: multicast to 224.0.0.18 / ff02::12.
	Peers []netip.Addr
}

// Packet is one received VRRP message with its IP facts.
type Packet struct {
	Src, Dst netip.Addr // from the IP header, without zone
	TTL      int        // TTL (IPv4) or hop limit (IPv6); -1 if the kernel did not say
	Payload  []byte     // the VRRP message (the IP header removed)
}

// Conn is a raw VRRP socket bound to one interface. ReadPacket may run in one
// goroutine while others Send.
type Conn struct {
	cfg   ConnConfig
	ifi   *net.Interface
	src   netip.Addr
	dsts  []netip.Addr
	raw   net.PacketConn // the *net.IPConn under p4 or p6
	p4    *ipv4.PacketConn
	p6    *ipv6.PacketConn
	buf   []byte // ReadPacket's; one reader at a time
	where string // "eth0" or "eth0 (224.0.0.18)" for errors
}

// Listen opens raw IP protocol 112 bound to cfg.Interface (SO_BINDTODEVICE), joins
// the VRRP group on it when multicast, asks for the TTL/hop limit and destination of
// every packet, and sets TTL/hop limit 255, TOS/traffic class 0xc0 and multicast loop
// off for sending. For IPv6 it sets IPV6_CHECKSUM at offset 6, so the kernel
// computes the checksum of what we send and drops what arrives with a bad one.
// It needs CAP_NET_RAW.
func Listen(cfg ConnConfig) (*Conn, error) {
	if cfg.Family != 4 && cfg.Family != 6 {
		return nil, fmt.Errorf("vrrpcompat: listen on %s: family %d, want 4 or 6", cfg.Interface, cfg.Family)
	}
	if cfg.Interface == "" {
		return nil, errors.New("vrrpcompat: listen: no interface given")
	}
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		// The net package has no sentinel for this; its message is "route ip+net: no
		// such network interface".
		if strings.Contains(err.Error(), "no such network interface") {
			return nil, fmt.Errorf("vrrpcompat: listen on %s: no such network interface (in this network namespace)", cfg.Interface)
		}
		return nil, fmt.Errorf("vrrpcompat: listen on %s: look up the interface: %w", cfg.Interface, err)
	}
	src := cfg.Src.WithZone("").Unmap()
	if !src.IsValid() {
		if src, err = interfaceSource(ifi, cfg.Family); err != nil {
			return nil, err
		}
	} else if familyOf(src) != cfg.Family {
		return nil, fmt.Errorf("vrrpcompat: listen on %s: source address %s is not IPv%d", cfg.Interface, src, cfg.Family)
	}
	for _, p := range cfg.Peers {
		if familyOf(p.Unmap()) != cfg.Family {
			return nil, fmt.Errorf("vrrpcompat: listen on %s: unicast peer %s is not IPv%d", cfg.Interface, p, cfg.Family)
		}
	}
	c := &Conn{cfg: cfg, ifi: ifi, src: src, dsts: destinations(cfg), buf: make([]byte, readBufferSize)}
	c.where = cfg.Interface
	if len(cfg.Peers) == 0 {
		c.where = fmt.Sprintf("%s (%s)", cfg.Interface, c.dsts[0])
	}

	network, laddr := "ip4:112", "0.0.0.0"
	if cfg.Family == 6 {
		network, laddr = "ip6:112", "::"
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		// As early as the net package allows (before bind). A raw socket hears
		// packets from its creation on, so ReadPacket checks the interface index too.
		var serr error
		if err := rc.Control(func(fd uintptr) {
			if err := unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifi.Name); err != nil {
				serr = fmt.Errorf("SO_BINDTODEVICE %s: %w", ifi.Name, err)
				return
			}
			if cfg.Family == 4 {
				// No DF bit, as keepalived sends (it writes the IPv4 header itself);
				// a raw socket would set DF by default (path MTU discovery).
				if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT); err != nil {
					serr = fmt.Errorf("IP_MTU_DISCOVER: %w", err)
				}
			}
		}); err != nil {
			return err
		}
		return serr
	}}
	raw, err := lc.ListenPacket(context.Background(), network, laddr)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("vrrpcompat: listen on %s: opening a raw IP protocol 112 socket needs CAP_NET_RAW (run as root or grant the capability): %w", c.where, err)
		}
		return nil, fmt.Errorf("vrrpcompat: listen on %s: open raw IP protocol 112 socket: %w", c.where, err)
	}
	c.raw = raw
	if cfg.Family == 4 {
		err = c.setup4()
	} else {
		err = c.setup6()
	}
	if err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("vrrpcompat: listen on %s: %w", c.where, err)
	}
	return c, nil
}

// step is one socket option Listen sets, named for the error.
type step struct {
	what string
	do   func() error
}

func runSteps(steps []step) error {
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return nil
}

func (c *Conn) setup4() error {
	p := ipv4.NewPacketConn(c.raw)
	c.p4 = p
	steps := []step{
		{"receive TTL, destination and interface", func() error {
			return p.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true)
		}},
		{"set TOS 0xc0", func() error { return p.SetTOS(vrrpTOS) }},
		{"set TTL 255", func() error { return p.SetTTL(vrrpTTL) }},
		{"set multicast TTL 255", func() error { return p.SetMulticastTTL(vrrpTTL) }},
		{"set multicast interface", func() error { return p.SetMulticastInterface(c.ifi) }},
		{"turn multicast loop off", func() error { return p.SetMulticastLoopback(false) }},
	}
	if len(c.cfg.Peers) == 0 {
		steps = append(steps, step{"join " + groupIPv4.String(), func() error {
			return p.JoinGroup(c.ifi, &net.IPAddr{IP: groupIPv4.AsSlice()})
		}})
	}
	return runSteps(steps)
}

func (c *Conn) setup6() error {
	p := ipv6.NewPacketConn(c.raw)
	c.p6 = p
	steps := []step{
		{"receive hop limit, destination and interface", func() error {
			return p.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true)
		}},
		{"set IPV6_CHECKSUM offset 6", func() error { return p.SetChecksum(true, ipv6ChecksumOffset) }},
		{"set traffic class 0xc0", func() error { return p.SetTrafficClass(vrrpTOS) }},
		{"set hop limit 255", func() error { return p.SetHopLimit(vrrpTTL) }},
		{"set multicast hop limit 255", func() error { return p.SetMulticastHopLimit(vrrpTTL) }},
		{"set multicast interface", func() error { return p.SetMulticastInterface(c.ifi) }},
		{"turn multicast loop off", func() error { return p.SetMulticastLoopback(false) }},
	}
	if len(c.cfg.Peers) == 0 {
		steps = append(steps, step{"join " + groupIPv6.String(), func() error {
			return p.JoinGroup(c.ifi, &net.IPAddr{IP: groupIPv6.AsSlice()})
		}})
	}
	return runSteps(steps)
}

// interfaceSource is the address adverts leave ifi from when none is configured:
// its first IPv4 address (the primary), or its IPv6 link-local address (RFC 9568
// §5.1.2.1 wants the link-local as source, as keepalived sends).
func interfaceSource(ifi *net.Interface, family int) (netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("vrrpcompat: list the addresses of %s: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		pfx, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(pfx.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		switch {
		case family == 4 && ip.Is4():
			return ip, nil
		case family == 6 && ip.Is6() && ip.IsLinkLocalUnicast():
			return ip, nil
		}
	}
	if family == 4 {
		return netip.Addr{}, fmt.Errorf("vrrpcompat: %s has no IPv4 address to send VRRP adverts from; give it one or set the source address (vrrp.unicast_src)", ifi.Name)
	}
	return netip.Addr{}, fmt.Errorf("vrrpcompat: %s has no IPv6 link-local address to send VRRP adverts from; is IPv6 enabled on it? or set the source address (vrrp.unicast_src)", ifi.Name)
}

// destinations are the addresses an advert goes to: every unicast peer, or the
// family's VRRP group.
func destinations(cfg ConnConfig) []netip.Addr {
	if len(cfg.Peers) > 0 {
		out := make([]netip.Addr, 0, len(cfg.Peers))
		for _, p := range cfg.Peers {
			out = append(out, p.Unmap())
		}
		return out
	}
	if cfg.Family == 6 {
		return []netip.Addr{groupIPv6}
	}
	return []netip.Addr{groupIPv4}
}

func familyOf(a netip.Addr) int {
	switch {
	case a.Is4():
		return 4
	case a.Is6():
		return 6
	}
	return 0
}

// Src is the source address of the adverts this Conn sends (ConnConfig.Src, or the
// one Listen chose from the interface).
func (c *Conn) Src() netip.Addr { return c.src }

// Destinations are the addresses Send sends to: the unicast peers, or the group.
func (c *Conn) Destinations() []netip.Addr { return append([]netip.Addr(nil), c.dsts...) }

// ReadPacket blocks until a VRRP packet arrives on the interface and returns it. The
// payload is a fresh slice. Packets the kernel reports from another interface (queued
// before SO_BINDTODEVICE took effect) are skipped.
func (c *Conn) ReadPacket() (Packet, error) {
	for {
		var (
			n       int
			src     net.Addr
			ttl     = -1
			dst     net.IP
			ifindex int
			err     error
		)
		if c.p4 != nil {
			var cm *ipv4.ControlMessage
			n, cm, src, err = c.p4.ReadFrom(c.buf)
			if cm != nil {
				ttl, dst, ifindex = cm.TTL, cm.Dst, cm.IfIndex
			}
		} else {
			var cm *ipv6.ControlMessage
			n, cm, src, err = c.p6.ReadFrom(c.buf)
			if cm != nil {
				ttl, dst, ifindex = cm.HopLimit, cm.Dst, cm.IfIndex
			}
		}
		if err != nil {
			return Packet{}, fmt.Errorf("vrrpcompat: read on %s: %w", c.where, err)
		}
		if ifindex != 0 && ifindex != c.ifi.Index {
			continue
		}
		p := Packet{TTL: ttl, Payload: append([]byte(nil), c.buf[:n]...)}
		if ia, ok := src.(*net.IPAddr); ok {
			p.Src = ipToAddr(ia.IP)
		}
		p.Dst = ipToAddr(dst)
		return p, nil
	}
}

func ipToAddr(ip net.IP) netip.Addr {
	if a, ok := netip.AddrFromSlice(ip); ok {
		return a.Unmap()
	}
	return netip.Addr{}
}

// Send sends payload to the group, or to every unicast peer (one copy each). A VRRPv3
// message's checksum covers a pseudo-header with the destination, so with unicast
// peers a v3 advert needs SendTo with one Marshal per peer. Sending goes on after a
// peer fails; the error joins every failure.
func (c *Conn) Send(payload []byte) error {
	var errs []error
	for _, dst := range c.dsts {
		if err := c.SendTo(payload, dst); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SendTo sends payload to dst (a peer or the group) from Src on the interface.
func (c *Conn) SendTo(payload []byte, dst netip.Addr) error {
	dst = dst.WithZone("").Unmap()
	to := &net.IPAddr{IP: dst.AsSlice()}
	if dst.Is6() && (dst.IsLinkLocalUnicast() || dst.IsLinkLocalMulticast() || dst.IsInterfaceLocalMulticast()) {
		to.Zone = c.ifi.Name
	}
	var err error
	if c.p4 != nil {
		_, err = c.p4.WriteTo(payload, &ipv4.ControlMessage{Src: c.src.AsSlice(), IfIndex: c.ifi.Index}, to)
	} else {
		_, err = c.p6.WriteTo(payload, &ipv6.ControlMessage{Src: c.src.AsSlice(), IfIndex: c.ifi.Index}, to)
	}
	if err != nil {
		if errors.Is(err, syscall.EPERM) {
			// A firewall (iptables/nft OUTPUT) refused it; keepalived sees this too.
			return fmt.Errorf("vrrpcompat: send from %s to %s on %s (a local firewall rule refusing IP protocol 112?): %w", c.src, dst, c.cfg.Interface, err)
		}
		return fmt.Errorf("vrrpcompat: send from %s to %s on %s: %w", c.src, dst, c.cfg.Interface, err)
	}
	return nil
}

// SetReadDeadline makes a blocked or later ReadPacket return a timeout error at t.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.p4 != nil {
		return c.p4.SetReadDeadline(t)
	}
	return c.p6.SetReadDeadline(t)
}

// Close closes the socket (which leaves the group).
func (c *Conn) Close() error {
	if err := c.raw.Close(); err != nil {
		return fmt.Errorf("vrrpcompat: close on %s: %w", c.where, err)
	}
	return nil
}
