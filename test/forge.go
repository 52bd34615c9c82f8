package test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/raftvip/raftvip/test/netnstest"
	"golang.org/x/sys/unix"
)

// The forger sends hand-made VRRP packets into the lab, to check what the agents drop
// and why. Its codec is written here, apart from the product's vrrpcompat, so that the
// suite checks the product against a second reading of RFC 3768 / RFC 9568.

// ipProtoVRRP is VRRP's IP protocol number.
const ipProtoVRRP = 112

// VRRPGroup4 is the IPv4 VRRP multicast group.
var VRRPGroup4 = netip.MustParseAddr("224.0.0.18")

// ForgedAdvert is a VRRP advertisement as the forger builds it. Marshal computes a
// correct checksum; a test corrupts the bytes afterwards for a bad one.
type ForgedAdvert struct {
	Version  int // 2 or 3
	VRID     uint8
	Priority uint8
	AuthType uint8  // v2: 0 none, 1 PASS
	AuthPass string // v2 PASS, zero padded to 8 bytes, cut after 8
	Interval time.Duration
	Addrs    []netip.Addr // IPv4
}

// Marshal returns the VRRP message (no IP header). v2 (RFC 3768 §5.1):
//
//	 0                   1                   2                   3
//	|Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//	|   Auth Type   |   Adver Int   |          Checksum             |
//	|                         IP Address (1..n)                     |
//	|                     Authentication Data (1)                   |
//	|                     Authentication Data (2)                   |
//
// v3 (RFC 9568 §5.1): bytes 4-5 are 4 reserved bits and the 12-bit Max Adver Int in
// centiseconds, no authentication data, and the checksum covers the IPv4
// pseudo-header {src, dst, 0, 112, length} as keepalived computes it by default.
func (a ForgedAdvert) Marshal(src, dst netip.Addr) []byte {
	n := 8 + 4*len(a.Addrs)
	if a.Version == 2 {
		n += 8
	}
	b := make([]byte, n)
	b[0] = byte(a.Version)<<4 | 1
	b[1] = a.VRID
	b[2] = a.Priority
	b[3] = byte(len(a.Addrs))
	if a.Version == 2 {
		b[4] = a.AuthType
		b[5] = byte(a.Interval / time.Second)
	} else {
		binary.BigEndian.PutUint16(b[4:6], uint16(a.Interval/(10*time.Millisecond))&0x0fff)
	}
	for i, v := range a.Addrs {
		v4 := v.As4()
		copy(b[8+4*i:], v4[:])
	}
	if a.Version == 2 {
		copy(b[8+4*len(a.Addrs):], a.AuthPass)
		binary.BigEndian.PutUint16(b[6:8], inetChecksum(b, nil))
		return b
	}
	s4, d4 := src.As4(), dst.As4()
	ph := make([]byte, 0, 12)
	ph = append(ph, s4[:]...)
	ph = append(ph, d4[:]...)
	ph = append(ph, 0, ipProtoVRRP)
	ph = binary.BigEndian.AppendUint16(ph, uint16(n))
	binary.BigEndian.PutUint16(b[6:8], inetChecksum(b, ph))
	return b
}

// inetChecksum is the Internet checksum (RFC 1071) over pre and b.
func inetChecksum(b, pre []byte) uint16 {
	var sum uint32
	add := func(p []byte) {
		for i := 0; i+1 < len(p); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(p[i:]))
		}
		if len(p)%2 == 1 {
			sum += uint32(p[len(p)-1]) << 8
		}
	}
	add(pre)
	add(b)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// Forger sends raw VRRP packets (IP protocol 112) from eth0 of one lab namespace; the
// kernel writes the IPv4 header with the TTL the caller asks for.
type Forger struct {
	NS  string
	Src netip.Addr // eth0's IPv4 address in NS
	fd  int
}

// NewForger opens a raw VRRP socket on eth0 of namespace ns, whose IPv4 address is
// src. Close it when done.
func (l *Lab) NewForger(ns string, src netip.Addr) (*Forger, error) {
	fd, err := netnstest.DoNamed(ns, func() (int, error) {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return -1, err
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, ipProtoVRRP)
		if err != nil {
			return -1, err
		}
		err = errors.Join(
			unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, "eth0"),
			unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifi.Index)}),
			unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0),
			unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TOS, 0xc0),
		)
		if err != nil {
			unix.Close(fd)
			return -1, err
		}
		return fd, nil
	})
	if err != nil {
		return nil, fmt.Errorf("lab: forger in %s: %w", ns, err)
	}
	f := &Forger{NS: ns, Src: src, fd: fd}
	l.addCloser(f.Close)
	return f, nil
}

// Send sends payload as one IPv4 packet of protocol 112 to dst (VRRPGroup4 or a
// unicast address) with the given TTL.
func (f *Forger) Send(payload []byte, dst netip.Addr, ttl int) error {
	if err := unix.SetsockoptInt(f.fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, ttl); err != nil {
		return fmt.Errorf("lab: forger: multicast ttl: %w", err)
	}
	if err := unix.SetsockoptInt(f.fd, unix.IPPROTO_IP, unix.IP_TTL, ttl); err != nil {
		return fmt.Errorf("lab: forger: ttl: %w", err)
	}
	if err := unix.Sendto(f.fd, payload, 0, &unix.SockaddrInet4{Addr: dst.As4()}); err != nil {
		return fmt.Errorf("lab: forger: send to %s: %w", dst, err)
	}
	return nil
}

// Close closes the socket (idempotent).
func (f *Forger) Close() {
	if f.fd >= 0 {
		unix.Close(f.fd)
		f.fd = -1
	}
}
