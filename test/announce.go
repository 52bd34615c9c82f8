package test

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/raftvip/raftvip/test/netnstest"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Announcement is one frame seen by the client that tells it where a VIP lives: an ARP
// request or reply whose sender address is the VIP (gratuitous ARP, or an answer to
// the client's own request), or an IPv6 neighbour advertisement for it.
type Announcement struct {
	At       time.Time
	Node     string // owner of the source MAC, or the MAC if it is not a lab node
	MAC      net.HardwareAddr
	Addr     netip.Addr
	Kind     string // arp-request, arp-reply, na
	Override bool   // NA override flag
}

func (a Announcement) String() string {
	return fmt.Sprintf("%s %s %s from %s", a.At.Format("15:04:05.000"), a.Kind, a.Addr, a.Node)
}

// AnnounceWatch captures, on the client's eth0, every announcement of a VIP, and the
// TCP resets sent from a VIP (with the node whose MAC sent them).
type AnnounceWatch struct {
	vips []netip.Addr
	macs map[string]string // MAC → node name
	fd   int

	mu     sync.Mutex
	seen   []Announcement
	resets []Announcement // Kind "tcp-rst"
	err    error

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// StartAnnounceWatch opens a packet socket in the client namespace and records every
// announcement of the lab's VIPs until Close (or Stop).
func (l *Lab) StartAnnounceWatch() (*AnnounceWatch, error) {
	w := &AnnounceWatch{vips: l.VIPs(), macs: map[string]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	for _, n := range l.AllNodes() {
		mac, err := l.MAC(n)
		if err != nil {
			return nil, err
		}
		w.macs[mac.String()] = n.Name
	}
	fd, err := netnstest.DoNamed(l.ClientNS, func() (int, error) {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return -1, err
		}
		proto := int(htons(unix.ETH_P_ALL))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return -1, err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return -1, err
		}
		tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return -1, err
		}
		return fd, nil
	})
	if err != nil {
		return nil, fmt.Errorf("lab: announce watch in %s: %w", l.ClientNS, err)
	}
	w.fd = fd
	go w.loop()
	l.addCloser(w.Stop)
	return w, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (w *AnnounceWatch) loop() {
	defer close(w.done)
	defer unix.Close(w.fd)
	buf := make([]byte, 2048)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(w.fd, buf, 0)
		if err != nil {
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		if a, ok := w.parse(buf[:n]); ok {
			a.At = time.Now()
			w.mu.Lock()
			if a.Kind == "tcp-rst" {
				w.resets = append(w.resets, a)
			} else {
				w.seen = append(w.seen, a)
			}
			w.mu.Unlock()
		}
	}
}

// parse recognises an announcement of one of the VIPs in an Ethernet frame.
func (w *AnnounceWatch) parse(f []byte) (Announcement, bool) {
	if len(f) < 14 {
		return Announcement{}, false
	}
	src := net.HardwareAddr(slices.Clone(f[6:12]))
	a := Announcement{MAC: src, Node: src.String()}
	if name, ok := w.macs[src.String()]; ok {
		a.Node = name
	}
	p := f[14:]
	switch binary.BigEndian.Uint16(f[12:14]) {
	case unix.ETH_P_IP:
		// A TCP reset from a VIP: IPv4 header (IHL words), protocol at 9, source at
		// 12..16; TCP flags at 13 of the TCP header, RST = 0x04.
		if len(p) < 20 || p[9] != unix.IPPROTO_TCP {
			return a, false
		}
		ihl := int(p[0]&0x0f) * 4
		if ihl < 20 || len(p) < ihl+14 || p[ihl+13]&0x04 == 0 {
			return a, false
		}
		a.Kind = "tcp-rst"
		a.Addr = netip.AddrFrom4([4]byte(p[12:16]))
	case unix.ETH_P_ARP:
		// htype(2) ptype(2) hlen(1) plen(1) op(2) sha(6) spa(4) tha(6) tpa(4)
		if len(p) < 28 || binary.BigEndian.Uint16(p[2:4]) != unix.ETH_P_IP || p[4] != 6 || p[5] != 4 {
			return a, false
		}
		a.Addr = netip.AddrFrom4([4]byte(p[14:18]))
		switch binary.BigEndian.Uint16(p[6:8]) {
		case 1:
			a.Kind = "arp-request"
		case 2:
			a.Kind = "arp-reply"
		default:
			return a, false
		}
	case unix.ETH_P_IPV6:
		// IPv6 header (40 bytes, next header at 6), ICMPv6 type 136 at 40, flags at
		// 44 (R S O), target at 48..64. Extension headers are not expected here.
		if len(p) < 64 || p[6] != unix.IPPROTO_ICMPV6 || p[40] != 136 {
			return a, false
		}
		a.Kind = "na"
		a.Override = p[44]&0x20 != 0
		a.Addr = netip.AddrFrom16([16]byte(p[48:64]))
	default:
		return a, false
	}
	return a, slices.Contains(w.vips, a.Addr)
}

// Stop stops capturing (idempotent).
func (w *AnnounceWatch) Stop() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

// Announcements returns what was seen for vip (all VIPs if vip is invalid).
func (w *AnnounceWatch) Announcements(vip netip.Addr) []Announcement {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Announcement
	for _, a := range w.seen {
		if !vip.IsValid() || a.Addr == vip {
			out = append(out, a)
		}
	}
	return out
}

// Resets returns the TCP resets the client received from a VIP.
func (w *AnnounceWatch) Resets() []Announcement {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.resets)
}

// Err returns the error that ended the capture, if any.
func (w *AnnounceWatch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Summary renders the announcements (and resets) relative to t0.
func (w *AnnounceWatch) Summary(t0 time.Time) string {
	var b strings.Builder
	for _, a := range w.Announcements(netip.Addr{}) {
		fmt.Fprintf(&b, " +%v %s %s %s;", a.At.Sub(t0).Round(time.Millisecond), a.Node, a.Kind, a.Addr)
	}
	if rs := w.Resets(); len(rs) > 0 {
		b.WriteString("\nTCP resets from a VIP:")
		for _, a := range rs {
			fmt.Fprintf(&b, " +%v from %s (%s);", a.At.Sub(t0).Round(time.Millisecond), a.Node, a.Addr)
		}
	}
	return "announcements:" + b.String()
}

// MAC returns the hardware address of n's eth0.
func (l *Lab) MAC(n *Node) (net.HardwareAddr, error) {
	a, err := openNSAddrs(n.NS)
	if err != nil {
		return nil, err
	}
	defer a.close()
	return a.link.Attrs().HardwareAddr, nil
}

// ClientNeighbor returns the node (or MAC) the client's neighbour table maps addr to,
// and the entry's state (REACHABLE, STALE, ...); "" if there is no entry.
func (l *Lab) ClientNeighbor(addr netip.Addr) (node, state string, err error) {
	a, err := openNSAddrs(l.ClientNS)
	if err != nil {
		return "", "", err
	}
	defer a.close()
	family := netlink.FAMILY_V4
	if addr.Is6() {
		family = netlink.FAMILY_V6
	}
	neighs, err := a.h.NeighList(a.link.Attrs().Index, family)
	if err != nil {
		return "", "", fmt.Errorf("lab: client neighbours: %w", err)
	}
	for _, nb := range neighs {
		ip, _ := netip.AddrFromSlice(nb.IP)
		if ip.Unmap() != addr {
			continue
		}
		node = nb.HardwareAddr.String()
		for _, n := range l.AllNodes() {
			if mac, err := l.MAC(n); err == nil && mac.String() == node {
				node = n.Name
			}
		}
		return node, neighState(nb.State), nil
	}
	return "", "", nil
}

func neighState(s int) string {
	names := []struct {
		bit  int
		name string
	}{
		{netlink.NUD_INCOMPLETE, "INCOMPLETE"}, {netlink.NUD_REACHABLE, "REACHABLE"},
		{netlink.NUD_STALE, "STALE"}, {netlink.NUD_DELAY, "DELAY"}, {netlink.NUD_PROBE, "PROBE"},
		{netlink.NUD_FAILED, "FAILED"}, {netlink.NUD_NOARP, "NOARP"}, {netlink.NUD_PERMANENT, "PERMANENT"},
	}
	var out []string
	for _, n := range names {
		if s&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return "NONE"
	}
	return strings.Join(out, "|")
}

// StaleAnnouncements returns the announcements w saw from a node whose kernel, by
// sampler s, did not hold the announced VIP within slack of the moment: such a frame
// points the client's neighbour cache at a node that drops the traffic.
func (l *Lab) StaleAnnouncements(s *Sampler, w *AnnounceWatch, slack time.Duration) []Announcement {
	var out []Announcement
	for _, a := range w.Announcements(netip.Addr{}) {
		n := l.Node(a.Node)
		if n == nil || !s.HeldNear(a.Addr, n, a.At, slack) {
			out = append(out, a)
		}
	}
	return out
}
