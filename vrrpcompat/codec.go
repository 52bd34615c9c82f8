package vrrpcompat

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// The VRRP message, as carried in IP protocol 112 (the IP header is not part of it).
//
// Version 2 (RFC 3768 §5.1), IPv4 only:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Auth Type   |   Adver Int   |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         IP Address (1)                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                            .........                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         IP Address (n)                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                     Authentication Data (1)                   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                     Authentication Data (2)                   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Version 3 (RFC 9568 §5.1), IPv4 or IPv6 addresses, no authentication:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|(rsvd) |     Max Adver Int     |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                     IPvX Address(es) (4 or 16 bytes each)     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Checksums (the Internet checksum, RFC 1071):
//   - v2: over the message only.
//   - v3 over IPv4: keepalived (by default, every version to date) prepends the
//     pseudo-header {src, dst, 0, 112, length}, dst being the group or the unicast
//     peer; RFC 9568, Cisco, Juniper, FRR and keepalived's v3_checksum_as_v2 leave
//     it out. keepalived ≤ 1.3.6 put the group in the pseudo-header even when
//     unicasting (keepalived issue #642). Parse accepts all three.
//   - v3 over IPv6: the IPv6 pseudo-header {src, dst, length (32 bits), 0, 0, 0, 112}
//     (RFC 8200 §8.1); the kernel computes and verifies it (IPV6_CHECKSUM).

const (
	vrrpHeaderLen   = 8   // version/type .. checksum
	vrrpAuthDataLen = 8   // v2 authentication data
	vrrpProto       = 112 // IANA protocol number, in the pseudo-headers
	vrrpTypeAdvert  = 1
	// vrrpMaxAddrs is the most addresses the 8-bit count can announce.
	vrrpMaxAddrs = 255
	// v3MaxInterval is the 12-bit Max Adver Int in centiseconds: 4095 cs = 40.95 s.
	v3MaxInterval = 4095 * 10 * time.Millisecond
	v2MaxInterval = 255 * time.Second
)

// legacyGroupIPv4 is the group keepalived ≤ 1.3.6 put in the v3 pseudo-header of
// unicast adverts.
var legacyGroupIPv4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})

// Advert is one VRRP advertisement (the VRRP message, without the IP header).
type Advert struct {
	Version  int           // 2 or 3
	VRID     uint8         // 1..255
	Priority uint8         // 0 = the master resigns; 255 = address owner
	AuthType uint8         // v2 only: 0 none, 1 PASS (2 AH is parsed, never accepted)
	AuthData [8]byte       // v2 only: PASS password, zero padded
	Interval time.Duration // v2: whole seconds (1..255); v3: centiseconds (10ms..40.95s)
	Addrs    []netip.Addr  // the VIPs, one family: IPv4 (v2, v3) or IPv6 (v3)
	// Checksum is the checksum as received by Parse. Marshal ignores it and writes
	// the one it computes into bytes 6-7 of its result.
	Checksum uint16
}

// ChecksumMode says how a VRRPv3 advert over IPv4 is checksummed.
type ChecksumMode int

const (
	// ChecksumPseudoHeader includes the IPv4 pseudo-header, as keepalived sends by
	// default (and as every stock keepalived accepts).
	ChecksumPseudoHeader ChecksumMode = iota
	// ChecksumNoPseudoHeader covers the message only, as RFC 9568 and keepalived's
	// v3_checksum_as_v2 do.
	ChecksumNoPseudoHeader
)

// Reason is a drop reason, used as a counter label.
type Reason string

// The reasons an advert is dropped.
const (
	ReasonTruncated Reason = "truncated" // shorter than its header and addresses
	ReasonLength    Reason = "length"    // longer than the header says
	ReasonVersion   Reason = "version"   // not 2 or 3, or not the configured version
	ReasonType      Reason = "type"      // not an advertisement
	ReasonChecksum  Reason = "checksum"
	ReasonTTL       Reason = "ttl"      // TTL/hop limit not 255
	ReasonVRID      Reason = "vrid"     // another virtual router (or the invalid VRID 0)
	ReasonAuth      Reason = "auth"     // auth type or password differs (or an unknown auth type)
	ReasonInterval  Reason = "interval" // v2 advert interval differs (keepalived drops these too), or 0
	ReasonFamily    Reason = "family"   // address family differs from the packet's
)

// DropError says why an advert was dropped.
type DropError struct {
	Reason Reason
	Detail string
}

// Error returns the reason and the detail.
func (e *DropError) Error() string { return string(e.Reason) + ": " + e.Detail }

func drop(r Reason, format string, args ...any) *DropError {
	return &DropError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Marshal returns the VRRP message. src and dst are the IP addresses of the packet
// (the v3 pseudo-header; ignored for v2). v3 over IPv6 always uses the IPv6
// pseudo-header, and mode only matters for v3 over IPv4. It fails on an advert that
// cannot be sent as it stands: a version other than 2 or 3, VRID 0, more than 255
// addresses, invalid or mixed-family addresses, IPv6 with v2, an interval out of
// range or not a whole number of seconds (v2) or centiseconds (v3), authentication
// with v3 or an auth type other than 0, 1 or 2, or v3 packet addresses of another
// family than the VIPs.
func (a Advert) Marshal(src, dst netip.Addr, mode ChecksumMode) ([]byte, error) {
	b, err := a.marshal(src, dst, mode)
	if err != nil {
		return nil, fmt.Errorf("vrrpcompat: marshal: %w", err)
	}
	return b, nil
}

// marshal is Marshal with errors left for the caller to prefix.
func (a Advert) marshal(src, dst netip.Addr, mode ChecksumMode) ([]byte, error) {
	if a.Version != 2 && a.Version != 3 {
		return nil, fmt.Errorf("version %d, want 2 or 3", a.Version)
	}
	if a.VRID == 0 {
		return nil, fmt.Errorf("vrid 0, want 1..255")
	}
	if len(a.Addrs) > vrrpMaxAddrs {
		return nil, fmt.Errorf("%d addresses, at most %d fit in an advert", len(a.Addrs), vrrpMaxAddrs)
	}
	family, err := addrsFamily(a.Addrs)
	if err != nil {
		return nil, err
	}
	if mode != ChecksumPseudoHeader && mode != ChecksumNoPseudoHeader {
		return nil, fmt.Errorf("unknown checksum mode %d", int(mode))
	}

	var b []byte
	switch a.Version {
	case 2:
		if family == 6 {
			return nil, fmt.Errorf("VRRPv2 carries IPv4 addresses only (%s); IPv6 needs version 3", a.Addrs[0])
		}
		if a.AuthType > 2 {
			return nil, fmt.Errorf("auth type %d, want 0 (none), 1 (PASS) or 2 (AH)", a.AuthType)
		}
		if a.Interval < time.Second || a.Interval > v2MaxInterval || a.Interval%time.Second != 0 {
			return nil, fmt.Errorf("VRRPv2 interval %v, want whole seconds from 1s to 255s", a.Interval)
		}
		b = make([]byte, vrrpHeaderLen+4*len(a.Addrs)+vrrpAuthDataLen)
		b[4] = a.AuthType
		b[5] = uint8(a.Interval / time.Second)
		off := vrrpHeaderLen
		for _, ip := range a.Addrs {
			v4 := ip.As4()
			off += copy(b[off:], v4[:])
		}
		copy(b[off:], a.AuthData[:])
	case 3:
		if a.AuthType != 0 || a.AuthData != [8]byte{} {
			return nil, fmt.Errorf("authentication is VRRPv2 only")
		}
		if a.Interval < 10*time.Millisecond || a.Interval > v3MaxInterval || a.Interval%(10*time.Millisecond) != 0 {
			return nil, fmt.Errorf("VRRPv3 interval %v, want whole centiseconds from 10ms to 40.95s", a.Interval)
		}
		pf, err := packetFamily(src, dst)
		if err != nil {
			return nil, err
		}
		if family != 0 && family != pf {
			return nil, fmt.Errorf("IPv%d addresses in an IPv%d packet (%s > %s)", family, pf, src, dst)
		}
		family = pf
		alen := 4
		if family == 6 {
			alen = 16
		}
		b = make([]byte, vrrpHeaderLen+alen*len(a.Addrs))
		binary.BigEndian.PutUint16(b[4:6], uint16(a.Interval/(10*time.Millisecond)))
		off := vrrpHeaderLen
		for _, ip := range a.Addrs {
			if family == 4 {
				v4 := ip.As4()
				off += copy(b[off:], v4[:])
			} else {
				v6 := ip.As16()
				off += copy(b[off:], v6[:])
			}
		}
	}
	b[0] = uint8(a.Version)<<4 | vrrpTypeAdvert
	b[1] = a.VRID
	b[2] = a.Priority
	b[3] = uint8(len(a.Addrs))

	var sum uint16
	switch {
	case a.Version == 2, family == 4 && mode == ChecksumNoPseudoHeader:
		sum = internetChecksum(0, b)
	default:
		sum = internetChecksum(pseudoHeaderSum(src.Unmap(), dst.Unmap(), len(b)), b)
	}
	binary.BigEndian.PutUint16(b[6:8], sum)
	return b, nil
}

// Parse decodes and verifies one VRRP message received in an IP packet from src to
// dst: exact length, version 2 or 3, type 1 (advertisement), address count, and
// checksum (v2 over the message; v3 over IPv4 with or without the pseudo-header;
// v3 over IPv6 with the IPv6 pseudo-header). It also refuses what no router may
// send and Marshal would refuse: VRID 0, interval 0, and v2 auth types above 2.
// It does not compare the advert with the local instance; that is Instance.Check.
// Errors are *DropError.
func Parse(b []byte, src, dst netip.Addr) (Advert, error) {
	a, derr := parse(b, src.Unmap(), dst.Unmap())
	if derr != nil {
		return Advert{}, derr
	}
	return a, nil
}

func parse(b []byte, src, dst netip.Addr) (Advert, *DropError) {
	if len(b) < vrrpHeaderLen {
		return Advert{}, drop(ReasonTruncated, "%d bytes, shorter than the %d-byte header", len(b), vrrpHeaderLen)
	}
	a := Advert{
		Version:  int(b[0] >> 4),
		VRID:     b[1],
		Priority: b[2],
		Checksum: binary.BigEndian.Uint16(b[6:8]),
	}
	if a.Version != 2 && a.Version != 3 {
		return Advert{}, drop(ReasonVersion, "version %d, want 2 or 3", a.Version)
	}
	if t := b[0] & 0x0f; t != vrrpTypeAdvert {
		return Advert{}, drop(ReasonType, "type %d, want 1 (advertisement)", t)
	}
	count := int(b[3])

	family := 4
	if a.Version == 2 {
		if src.Is6() || dst.Is6() {
			return Advert{}, drop(ReasonFamily, "VRRPv2 in an IPv6 packet (%s > %s)", src, dst)
		}
	} else {
		pf, err := packetFamily(src, dst)
		if err != nil {
			return Advert{}, drop(ReasonFamily, "%v", err)
		}
		family = pf
	}
	alen := 4
	if family == 6 {
		alen = 16
	}
	want := vrrpHeaderLen + alen*count
	if a.Version == 2 {
		want += vrrpAuthDataLen
	}
	if len(b) < want {
		return Advert{}, drop(ReasonTruncated, "%d bytes, %d addresses need %d", len(b), count, want)
	}
	if len(b) > want {
		return Advert{}, drop(ReasonLength, "%d bytes, %d addresses need %d", len(b), count, want)
	}

	switch {
	case a.Version == 2:
		if internetChecksum(0, b) != 0 {
			return Advert{}, drop(ReasonChecksum, "VRRPv2 checksum %#04x does not match the message", a.Checksum)
		}
	case family == 6:
		if internetChecksum(pseudoHeaderSum(src, dst, len(b)), b) != 0 {
			return Advert{}, drop(ReasonChecksum, "VRRPv3 checksum %#04x does not match the message and IPv6 pseudo-header (%s > %s)", a.Checksum, src, dst)
		}
	default:
		ok := internetChecksum(pseudoHeaderSum(src, dst, len(b)), b) == 0 ||
			internetChecksum(0, b) == 0 ||
			(dst != legacyGroupIPv4 && internetChecksum(pseudoHeaderSum(src, legacyGroupIPv4, len(b)), b) == 0)
		if !ok {
			return Advert{}, drop(ReasonChecksum, "VRRPv3 checksum %#04x matches neither the message with the IPv4 pseudo-header (%s > %s) nor the message alone", a.Checksum, src, dst)
		}
	}

	if a.VRID == 0 {
		return Advert{}, drop(ReasonVRID, "vrid 0 is not a valid virtual router")
	}
	if a.Version == 2 {
		a.AuthType = b[4]
		if a.AuthType > 2 {
			return Advert{}, drop(ReasonAuth, "unknown auth type %d", a.AuthType)
		}
		a.Interval = time.Duration(b[5]) * time.Second
		copy(a.AuthData[:], b[want-vrrpAuthDataLen:])
	} else {
		a.Interval = time.Duration(binary.BigEndian.Uint16(b[4:6])&0x0fff) * 10 * time.Millisecond
	}
	if a.Interval == 0 {
		return Advert{}, drop(ReasonInterval, "advert interval 0")
	}
	if count > 0 {
		a.Addrs = make([]netip.Addr, count)
		for i := range a.Addrs {
			p := b[vrrpHeaderLen+i*alen : vrrpHeaderLen+(i+1)*alen]
			if alen == 4 {
				a.Addrs[i] = netip.AddrFrom4([4]byte(p))
			} else {
				a.Addrs[i] = netip.AddrFrom16([16]byte(p))
			}
		}
	}
	return a, nil
}

// Instance is the local VRRP instance the adverts are checked against.
type Instance struct {
	Version  int
	VRID     uint8
	AuthPass string // v2 PASS, at most 8 bytes; "" = no authentication
	Interval time.Duration
}

// Check validates a parsed advert received with ttl (TTL or hop limit) against the
// instance; nil means accept. The checks follow keepalived's vrrp_check_packet, in
// this order: ttl (must be 255, for unicast too), version, vrid, auth (v2: type, then
// the password, compared in constant time; AH is never accepted), interval (v2 only:
// keepalived drops a different v2 interval; a v3 backup adopts the master's).
func (in Instance) Check(a Advert, ttl int) *DropError {
	if ttl != 255 {
		return drop(ReasonTTL, "ttl %d, want 255", ttl)
	}
	if a.Version != in.Version {
		return drop(ReasonVersion, "VRRPv%d advert, this instance speaks VRRPv%d", a.Version, in.Version)
	}
	if a.VRID != in.VRID {
		return drop(ReasonVRID, "vrid %d, this instance is vrid %d", a.VRID, in.VRID)
	}
	if in.Version != 2 {
		return nil
	}
	want := uint8(0)
	if in.AuthPass != "" {
		want = 1
	}
	switch {
	case a.AuthType == 2:
		return drop(ReasonAuth, "IPsec AH authentication is not supported")
	case a.AuthType != want:
		return drop(ReasonAuth, "auth type %s, this instance uses %s", authName(a.AuthType), authName(want))
	case want == 1:
		if len(in.AuthPass) > vrrpAuthDataLen {
			return drop(ReasonAuth, "the configured auth_pass is longer than %d bytes", vrrpAuthDataLen)
		}
		var pass [vrrpAuthDataLen]byte
		copy(pass[:], in.AuthPass)
		if subtle.ConstantTimeCompare(pass[:], a.AuthData[:]) != 1 {
			return drop(ReasonAuth, "PASS password differs")
		}
	}
	if a.Interval != in.Interval {
		return drop(ReasonInterval, "VRRPv2 advert interval %v, this instance uses %v", a.Interval, in.Interval)
	}
	return nil
}

func authName(t uint8) string {
	switch t {
	case 0:
		return "none"
	case 1:
		return "PASS"
	case 2:
		return "AH"
	}
	return fmt.Sprintf("%d", t)
}

// addrsFamily returns 4 or 6 for a list of one family (0 for an empty list).
func addrsFamily(addrs []netip.Addr) (int, error) {
	family := 0
	for i, ip := range addrs {
		var f int
		switch {
		case !ip.IsValid():
			return 0, fmt.Errorf("address %d is not set", i)
		case ip.Is4(): // an IPv4-mapped IPv6 address is IPv6: 16 bytes on the wire
			f = 4
		default:
			f = 6
		}
		if family != 0 && f != family {
			return 0, fmt.Errorf("mixed address families (%s after %s): an advert carries one family", ip, addrs[0])
		}
		family = f
	}
	return family, nil
}

// packetFamily returns 4 or 6, the family of a packet's (unmapped) addresses.
func packetFamily(src, dst netip.Addr) (int, error) {
	src, dst = src.Unmap(), dst.Unmap()
	if !src.IsValid() || !dst.IsValid() {
		return 0, fmt.Errorf("VRRPv3 needs the packet's source and destination for its checksum (%s > %s)", src, dst)
	}
	if src.Is4() != dst.Is4() {
		return 0, fmt.Errorf("packet source %s and destination %s differ in family", src, dst)
	}
	if src.Is4() {
		return 4, nil
	}
	return 6, nil
}

// pseudoHeaderSum returns the one's-complement sum (not folded to 16 bits) of the
// pseudo-header of an n-byte VRRP message from src to dst: IPv4 {src, dst, 0, 112,
// n (16 bits)}, IPv6 {src, dst, n (32 bits), 0, 0, 0, 112}. Both give the same
// 16-bit words apart from the addresses.
func pseudoHeaderSum(src, dst netip.Addr, n int) uint32 {
	var sum uint32
	for _, ip := range [2]netip.Addr{src, dst} {
		var s []byte
		if ip.Is4() {
			v4 := ip.As4()
			s = v4[:]
		} else {
			v6 := ip.As16()
			s = v6[:]
		}
		for i := 0; i+1 < len(s); i += 2 {
			sum += uint32(s[i])<<8 | uint32(s[i+1])
		}
	}
	return sum + vrrpProto + uint32(n>>16) + uint32(n&0xffff)
}

// internetChecksum is the RFC 1071 checksum of b, starting from the partial sum
// initial. Over a message whose checksum field is set, it is 0 when the field is
// right.
func internetChecksum(initial uint32, b []byte) uint16 {
	sum := initial
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
