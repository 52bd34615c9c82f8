package vrrpcompat_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/vrrpcompat"
)

// refChecksum is an independent RFC 1071 sum over msg, with the pseudo-header of
// src and dst (IPv4 RFC 5798 §5.2.8 / IPv6 RFC 8200 §8.1) when pseudo. Over a
// message with a right checksum it is 0.
func refChecksum(msg []byte, src, dst netip.Addr, pseudo bool) uint16 {
	var buf []byte
	if pseudo {
		buf = append(buf, src.AsSlice()...)
		buf = append(buf, dst.AsSlice()...)
		if src.Is4() {
			buf = append(buf, 0, 112)
			buf = binary.BigEndian.AppendUint16(buf, uint16(len(msg)))
		} else {
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(msg)))
			buf = append(buf, 0, 0, 0, 112)
		}
	}
	buf = append(buf, msg...)
	if len(buf)%2 == 1 {
		buf = append(buf, 0)
	}
	var sum uint32
	for i := 0; i < len(buf); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(buf[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// sealed returns msg with its checksum field set, the pseudo-header included when
// pseudo.
func sealed(msg []byte, src, dst netip.Addr, pseudo bool) []byte {
	b := bytes.Clone(msg)
	b[6], b[7] = 0, 0
	binary.BigEndian.PutUint16(b[6:], refChecksum(b, src, dst, pseudo))
	return b
}

var (
	src4  = netip.MustParseAddr("198.18.0.1")
	peer4 = netip.MustParseAddr("198.18.0.2")
	grp4  = netip.MustParseAddr("224.0.0.18")
	src6  = netip.MustParseAddr("fe80::5eff:fe12:1")
	grp6  = netip.MustParseAddr("ff02::12")
)

func hexBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func manyAddrs(n int, v6 bool) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		if v6 {
			out[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0, 2, 14: byte(i >> 8), 15: byte(i)})
		} else {
			out[i] = netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		}
	}
	return out
}

func TestParseDrops(t *testing.T) {
	v2 := "21336402 0001 0000 c6120064 c6120065 0000000000000000" // checksum sealed below
	v3 := "31336402 0064 0000 c6120064 c6120065"
	cases := []struct {
		name     string
		msg      []byte
		seal     bool // set a v2-style (no pseudo-header) checksum
		src, dst netip.Addr
		want     vrrpcompat.Reason
	}{
		{name: "empty", msg: nil, want: vrrpcompat.ReasonTruncated},
		{name: "7 bytes", msg: hexBytes(t, "21336402000100"), want: vrrpcompat.ReasonTruncated},
		// gopacket's decoder panics on this one: an 8-byte header claiming 3 addresses.
		{name: "header claims 3 addresses", msg: hexBytes(t, "2133640300010000"), want: vrrpcompat.ReasonTruncated},
		{name: "v2 without auth data", msg: hexBytes(t, "21336402 0001 0000 c6120064 c6120065"), want: vrrpcompat.ReasonTruncated},
		{name: "v2 trailing byte", msg: append(hexBytes(t, v2), 0), seal: true, want: vrrpcompat.ReasonLength},
		{name: "v2 with a keepalived auth_hmac trailer", msg: append(hexBytes(t, v2), make([]byte, 28)...), seal: true, want: vrrpcompat.ReasonLength},
		{name: "v3 one address missing", msg: hexBytes(t, "31336402 0064 0000 c6120064"), src: src4, dst: grp4, want: vrrpcompat.ReasonTruncated},
		{name: "v3 IPv4 addresses in an IPv6 packet", msg: hexBytes(t, v3), src: src6, dst: grp6, want: vrrpcompat.ReasonTruncated},
		{name: "v3 IPv4 one address too many in an IPv6 packet", msg: hexBytes(t, "31336401 000a 0000 c6120064 c6120065 c6120066 c6120067 c6120068"), src: src6, dst: grp6, want: vrrpcompat.ReasonLength},
		{name: "version 1", msg: hexBytes(t, "1133640200010000"), want: vrrpcompat.ReasonVersion},
		{name: "version 4", msg: hexBytes(t, "41336402 0064 0000 c6120064 c6120065"), want: vrrpcompat.ReasonVersion},
		{name: "version 0", msg: make([]byte, 24), want: vrrpcompat.ReasonVersion},
		{name: "type 0", msg: hexBytes(t, "20336402 0001 0000 c6120064 c6120065 0000000000000000"), want: vrrpcompat.ReasonType},
		{name: "type 2", msg: hexBytes(t, "22336402 0001 0000 c6120064 c6120065 0000000000000000"), want: vrrpcompat.ReasonType},
		{name: "v2 bad checksum", msg: hexBytes(t, "21336402 0001 1234 c6120064 c6120065 0000000000000000"), want: vrrpcompat.ReasonChecksum},
		{name: "v2 checksum with a pseudo-header", msg: sealed(hexBytes(t, v2), src4, grp4, true), src: src4, dst: grp4, want: vrrpcompat.ReasonChecksum},
		{name: "v3 IPv6 without pseudo-header", msg: sealed(hexBytes(t, "31336401 000a 0000 20010002000000000000000000000100"), src6, grp6, false), src: src6, dst: grp6, want: vrrpcompat.ReasonChecksum},
		{name: "v2 in an IPv6 packet", msg: hexBytes(t, v2), seal: true, src: src6, dst: grp6, want: vrrpcompat.ReasonFamily},
		{name: "v3 without packet addresses", msg: hexBytes(t, v3), want: vrrpcompat.ReasonFamily},
		{name: "v3 source and destination families differ", msg: hexBytes(t, v3), src: src4, dst: grp6, want: vrrpcompat.ReasonFamily},
		{name: "vrid 0", msg: hexBytes(t, "21006402 0001 0000 c6120064 c6120065 0000000000000000"), seal: true, want: vrrpcompat.ReasonVRID},
		{name: "auth type 3", msg: hexBytes(t, "21336402 0301 0000 c6120064 c6120065 0000000000000000"), seal: true, want: vrrpcompat.ReasonAuth},
		{name: "v2 interval 0", msg: hexBytes(t, "21336402 0000 0000 c6120064 c6120065 0000000000000000"), seal: true, want: vrrpcompat.ReasonInterval},
		{name: "v3 interval 0 (reserved bits set)", msg: hexBytes(t, "31336402 f000 0000 c6120064 c6120065"), seal: true, src: src4, dst: grp4, want: vrrpcompat.ReasonInterval},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := tc.msg
			if tc.seal {
				msg = sealed(msg, netip.Addr{}, netip.Addr{}, false)
			}
			a, err := vrrpcompat.Parse(msg, tc.src, tc.dst)
			var de *vrrpcompat.DropError
			if !errors.As(err, &de) {
				t.Fatalf("Parse = %+v, %v; want a *DropError", a, err)
			}
			if de.Reason != tc.want {
				t.Errorf("Parse: %v; want reason %q", err, tc.want)
			}
			if de.Detail == "" || err.Error() != string(de.Reason)+": "+de.Detail {
				t.Errorf("Error() = %q, Detail %q", err.Error(), de.Detail)
			}
			if !reflect.DeepEqual(a, vrrpcompat.Advert{}) {
				t.Errorf("Parse returned %+v with an error", a)
			}
		})
	}
}

// TestParseChecksumForms: v3 over IPv4 is accepted with the pseudo-header (keepalived),
// without it (RFC 9568, v3_checksum_as_v2) and with the group in the pseudo-header of a
// unicast advert (keepalived ≤ 1.3.6); IPv4-mapped packet addresses work too.
func TestParseChecksumForms(t *testing.T) {
	msg := hexBytes(t, "31336402 0064 0000 c6120064 c6120065")
	cases := []struct {
		name           string
		msg            []byte
		src, dst       netip.Addr
		wantChecksumOK bool
	}{
		{"pseudo-header, multicast", sealed(msg, src4, grp4, true), src4, grp4, true},
		{"pseudo-header, unicast", sealed(msg, src4, peer4, true), src4, peer4, true},
		{"no pseudo-header, multicast", sealed(msg, src4, grp4, false), src4, grp4, true},
		{"no pseudo-header, unicast", sealed(msg, src4, peer4, false), src4, peer4, true},
		{"keepalived 1.3.6 unicast (group in the pseudo-header)", sealed(msg, src4, grp4, true), src4, peer4, true},
		{"pseudo-header of another peer", sealed(msg, src4, peer4, true), src4, netip.MustParseAddr("198.18.0.3"), false},
		{"IPv4-mapped packet addresses", sealed(msg, src4, peer4, true),
			netip.AddrFrom16(src4.As16()), netip.AddrFrom16(peer4.As16()), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := vrrpcompat.Parse(tc.msg, tc.src, tc.dst)
			if !tc.wantChecksumOK {
				var de *vrrpcompat.DropError
				if !errors.As(err, &de) || de.Reason != vrrpcompat.ReasonChecksum {
					t.Fatalf("Parse: %v, want a checksum drop", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if a.Checksum != binary.BigEndian.Uint16(tc.msg[6:]) || a.Interval != time.Second || len(a.Addrs) != 2 {
				t.Errorf("Parse = %+v", a)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	ok2 := vrrpcompat.Advert{Version: 2, VRID: 51, Priority: 100, Interval: time.Second, Addrs: vips4}
	ok3 := vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 100, Interval: time.Second, Addrs: vips4}
	with := func(a vrrpcompat.Advert, f func(*vrrpcompat.Advert)) vrrpcompat.Advert {
		f(&a)
		return a
	}
	cases := []struct {
		name     string
		a        vrrpcompat.Advert
		src, dst netip.Addr
		mode     vrrpcompat.ChecksumMode
		want     string // in the error
	}{
		{"version 0", with(ok2, func(a *vrrpcompat.Advert) { a.Version = 0 }), src4, grp4, 0, "version 0"},
		{"version 4", with(ok2, func(a *vrrpcompat.Advert) { a.Version = 4 }), src4, grp4, 0, "version 4"},
		{"vrid 0", with(ok2, func(a *vrrpcompat.Advert) { a.VRID = 0 }), src4, grp4, 0, "vrid 0"},
		{"256 addresses", with(ok2, func(a *vrrpcompat.Advert) { a.Addrs = manyAddrs(256, false) }), src4, grp4, 0, "256 addresses"},
		{"mixed families", with(ok3, func(a *vrrpcompat.Advert) { a.Addrs = []netip.Addr{vips4[0], vips6[0]} }), src4, grp4, 0, "mixed address families"},
		{"unset address", with(ok2, func(a *vrrpcompat.Advert) { a.Addrs = []netip.Addr{vips4[0], {}} }), src4, grp4, 0, "not set"},
		{"v2 with an IPv4-mapped IPv6 address", with(ok2, func(a *vrrpcompat.Advert) { a.Addrs = []netip.Addr{netip.AddrFrom16(vips4[0].As16())} }), src4, grp4, 0, "IPv6 needs version 3"},
		{"v2 with IPv6", with(ok2, func(a *vrrpcompat.Advert) { a.Addrs = vips6 }), src6, grp6, 0, "IPv6 needs version 3"},
		{"v2 interval 0", with(ok2, func(a *vrrpcompat.Advert) { a.Interval = 0 }), src4, grp4, 0, "whole seconds"},
		{"v2 interval 1.5s", with(ok2, func(a *vrrpcompat.Advert) { a.Interval = 1500 * time.Millisecond }), src4, grp4, 0, "whole seconds"},
		{"v2 interval 256s", with(ok2, func(a *vrrpcompat.Advert) { a.Interval = 256 * time.Second }), src4, grp4, 0, "whole seconds"},
		{"v2 interval negative", with(ok2, func(a *vrrpcompat.Advert) { a.Interval = -time.Second }), src4, grp4, 0, "whole seconds"},
		{"v2 auth type 3", with(ok2, func(a *vrrpcompat.Advert) { a.AuthType = 3 }), src4, grp4, 0, "auth type 3"},
		{"v3 interval 5ms", with(ok3, func(a *vrrpcompat.Advert) { a.Interval = 5 * time.Millisecond }), src4, grp4, 0, "centiseconds"},
		{"v3 interval 15ms", with(ok3, func(a *vrrpcompat.Advert) { a.Interval = 15 * time.Millisecond }), src4, grp4, 0, "centiseconds"},
		{"v3 interval 40.96s", with(ok3, func(a *vrrpcompat.Advert) { a.Interval = 40960 * time.Millisecond }), src4, grp4, 0, "centiseconds"},
		{"v3 with PASS", with(ok3, func(a *vrrpcompat.Advert) { a.AuthType = 1; a.AuthData = passData("secret") }), src4, grp4, 0, "VRRPv2 only"},
		{"v3 with auth data", with(ok3, func(a *vrrpcompat.Advert) { a.AuthData = passData("x") }), src4, grp4, 0, "VRRPv2 only"},
		{"v3 without packet addresses", ok3, netip.Addr{}, netip.Addr{}, 0, "source and destination"},
		{"v3 without destination", ok3, src4, netip.Addr{}, 0, "source and destination"},
		{"v3 packet families differ", ok3, src4, grp6, 0, "differ in family"},
		{"v3 IPv6 addresses in an IPv4 packet", with(ok3, func(a *vrrpcompat.Advert) { a.Addrs = vips6 }), src4, grp4, 0, "IPv6 addresses in an IPv4 packet"},
		{"v3 IPv4 addresses in an IPv6 packet", ok3, src6, grp6, 0, "IPv4 addresses in an IPv6 packet"},
		{"unknown checksum mode", ok3, src4, grp4, 7, "checksum mode 7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.a.Marshal(tc.src, tc.dst, tc.mode)
			if err == nil {
				t.Fatalf("Marshal = %x, want an error", b)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "vrrpcompat: marshal: ") {
				t.Errorf("Marshal error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestRoundTrip marshals adverts at the edges of every field and parses them back.
func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name     string
		a        vrrpcompat.Advert
		src, dst netip.Addr
		mode     vrrpcompat.ChecksumMode
		wantLen  int
	}{
		{"v2 no addresses", vrrpcompat.Advert{Version: 2, VRID: 1, Priority: 1, Interval: time.Second}, src4, grp4, 0, 16},
		{"v2 owner 255s", vrrpcompat.Advert{Version: 2, VRID: 255, Priority: 255, Interval: 255 * time.Second, Addrs: vips4}, src4, grp4, 0, 24},
		{"v2 PASS 8 bytes", vrrpcompat.Advert{Version: 2, VRID: 7, Priority: 200, AuthType: 1, AuthData: passData("12345678"), Interval: 3 * time.Second, Addrs: vips4[:1]}, src4, grp4, 0, 20},
		{"v2 AH type (parsed, never accepted)", vrrpcompat.Advert{Version: 2, VRID: 7, Priority: 200, AuthType: 2, Interval: time.Second, Addrs: vips4}, src4, grp4, 0, 24},
		{"v2 resign", vrrpcompat.Advert{Version: 2, VRID: 51, Priority: 0, Interval: time.Second, Addrs: vips4}, src4, grp4, 0, 24},
		{"v2 255 addresses", vrrpcompat.Advert{Version: 2, VRID: 51, Priority: 100, Interval: time.Second, Addrs: manyAddrs(255, false)}, src4, grp4, 0, 16 + 4*255},
		{"v2 without packet addresses", vrrpcompat.Advert{Version: 2, VRID: 51, Priority: 100, Interval: time.Second, Addrs: vips4}, netip.Addr{}, netip.Addr{}, 0, 24},
		{"v3 10ms", vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 100, Interval: 10 * time.Millisecond, Addrs: vips4}, src4, grp4, 0, 16},
		{"v3 40.95s", vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 100, Interval: 40950 * time.Millisecond, Addrs: vips4}, src4, grp4, 0, 16},
		{"v3 no pseudo-header", vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 100, Interval: time.Second, Addrs: vips4}, src4, peer4, vrrpcompat.ChecksumNoPseudoHeader, 16},
		{"v3 unicast", vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 150, Interval: time.Second, Addrs: vips4}, src4, peer4, 0, 16},
		{"v3 no addresses", vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 150, Interval: time.Second}, src4, peer4, 0, 8},
		{"v3 IPv6 no addresses", vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 150, Interval: time.Second}, src6, grp6, 0, 8},
		{"v3 IPv6", vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 100, Interval: 100 * time.Millisecond, Addrs: vips6}, src6, grp6, 0, 40},
		{"v3 IPv6 mode ignored", vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 100, Interval: 100 * time.Millisecond, Addrs: vips6}, src6, grp6, vrrpcompat.ChecksumNoPseudoHeader, 40},
		{"v3 IPv6 with an IPv4-mapped VIP", vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 100, Interval: time.Second, Addrs: []netip.Addr{netip.AddrFrom16(vips4[0].As16())}}, src6, grp6, 0, 24},
		{"v3 IPv6 255 addresses", vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 100, Interval: time.Second, Addrs: manyAddrs(255, true)}, src6, grp6, 0, 8 + 16*255},
		{"v3 IPv4-mapped packet addresses", vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 100, Interval: time.Second, Addrs: vips4}, netip.AddrFrom16(src4.As16()), netip.AddrFrom16(grp4.As16()), 0, 16},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.a.Checksum = 0xdead // ignored by Marshal
			b, err := tc.a.Marshal(tc.src, tc.dst, tc.mode)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if len(b) != tc.wantLen {
				t.Errorf("len = %d, want %d", len(b), tc.wantLen)
			}
			pseudo := tc.a.Version == 3 && (tc.src.Unmap().Is6() || tc.mode == vrrpcompat.ChecksumPseudoHeader)
			if refChecksum(b, tc.src.Unmap(), tc.dst.Unmap(), pseudo) != 0 {
				t.Errorf("checksum of %x does not verify (pseudo-header %v)", b, pseudo)
			}
			got, err := vrrpcompat.Parse(b, tc.src, tc.dst)
			if err != nil {
				t.Fatalf("Parse(%x): %v", b, err)
			}
			want := tc.a
			want.Checksum = binary.BigEndian.Uint16(b[6:])
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestMarshalLayout pins the bytes of each field against the RFC diagrams.
func TestMarshalLayout(t *testing.T) {
	a := vrrpcompat.Advert{Version: 3, VRID: 0xab, Priority: 0xcd, Interval: 4095 * 10 * time.Millisecond, Addrs: vips6[:1]}
	b, err := a.Marshal(src6, grp6, vrrpcompat.ChecksumPseudoHeader)
	if err != nil {
		t.Fatal(err)
	}
	want := hexBytes(t, "31abcd01 0fff")
	if !bytes.Equal(b[:6], want) || !bytes.Equal(b[8:], vips6[0].AsSlice()) {
		t.Errorf("v3 = %x", b)
	}
	a = vrrpcompat.Advert{Version: 2, VRID: 0xab, Priority: 0xcd, AuthType: 1, AuthData: passData("pw"), Interval: 200 * time.Second, Addrs: vips4[:1]}
	b, err = a.Marshal(netip.Addr{}, netip.Addr{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b, sealed(hexBytes(t, "21abcd01 01c8 0000 c6120064 7077000000000000"), netip.Addr{}, netip.Addr{}, false); !bytes.Equal(got, want) {
		t.Errorf("v2 = %x, want %x", got, want)
	}
}

func TestCheck(t *testing.T) {
	v2 := vrrpcompat.Instance{Version: 2, VRID: 51, Interval: time.Second}
	v2pass := vrrpcompat.Instance{Version: 2, VRID: 51, AuthPass: "secret", Interval: time.Second}
	v3 := vrrpcompat.Instance{Version: 3, VRID: 51, AuthPass: "ignored", Interval: time.Second}
	adv2 := vrrpcompat.Advert{Version: 2, VRID: 51, Priority: 100, Interval: time.Second, Addrs: vips4}
	pass := adv2
	pass.AuthType, pass.AuthData = 1, passData("secret")
	adv3 := vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 100, Interval: time.Second, Addrs: vips4}
	with := func(a vrrpcompat.Advert, f func(*vrrpcompat.Advert)) vrrpcompat.Advert {
		a.Addrs = append([]netip.Addr(nil), a.Addrs...)
		f(&a)
		return a
	}
	cases := []struct {
		name string
		in   vrrpcompat.Instance
		a    vrrpcompat.Advert
		ttl  int
		want vrrpcompat.Reason // "" = accept
	}{
		{"v2 accept", v2, adv2, 255, ""},
		{"v2 PASS accept", v2pass, pass, 255, ""},
		{"v3 accept", v3, adv3, 255, ""},
		{"v2 priority 0 accept", v2, with(adv2, func(a *vrrpcompat.Advert) { a.Priority = 0 }), 255, ""},
		{"other VIPs accepted (keepalived ≥ 2.3.3 only logs)", v2, with(adv2, func(a *vrrpcompat.Advert) { a.Addrs = vips4[:1] }), 255, ""},
		{"ttl 64", v2, adv2, 64, vrrpcompat.ReasonTTL},
		{"ttl 254 (one hop routed)", v3, adv3, 254, vrrpcompat.ReasonTTL},
		{"ttl unknown", v3, adv3, -1, vrrpcompat.ReasonTTL},
		{"ttl before everything", v2, with(adv2, func(a *vrrpcompat.Advert) { a.Version = 3; a.VRID = 9 }), 1, vrrpcompat.ReasonTTL},
		{"v3 advert to a v2 instance", v2, adv3, 255, vrrpcompat.ReasonVersion},
		{"v2 advert to a v3 instance", v3, adv2, 255, vrrpcompat.ReasonVersion},
		{"version before vrid", v2, with(adv3, func(a *vrrpcompat.Advert) { a.VRID = 9 }), 255, vrrpcompat.ReasonVersion},
		{"other vrid", v2, with(adv2, func(a *vrrpcompat.Advert) { a.VRID = 52 }), 255, vrrpcompat.ReasonVRID},
		{"vrid before auth", v2pass, with(adv2, func(a *vrrpcompat.Advert) { a.VRID = 52 }), 255, vrrpcompat.ReasonVRID},
		{"no auth to a PASS instance", v2pass, adv2, 255, vrrpcompat.ReasonAuth},
		{"PASS to a no-auth instance", v2, pass, 255, vrrpcompat.ReasonAuth},
		{"wrong password", v2pass, with(pass, func(a *vrrpcompat.Advert) { a.AuthData = passData("secreT") }), 255, vrrpcompat.ReasonAuth},
		{"password with trailing garbage", v2pass, with(pass, func(a *vrrpcompat.Advert) { a.AuthData = passData("secret\x00x") }), 255, vrrpcompat.ReasonAuth},
		{"AH", v2, with(adv2, func(a *vrrpcompat.Advert) { a.AuthType = 2 }), 255, vrrpcompat.ReasonAuth},
		{"auth_pass longer than 8 bytes", vrrpcompat.Instance{Version: 2, VRID: 51, AuthPass: "123456789", Interval: time.Second},
			with(pass, func(a *vrrpcompat.Advert) { a.AuthData = passData("12345678") }), 255, vrrpcompat.ReasonAuth},
		{"8-byte password", vrrpcompat.Instance{Version: 2, VRID: 51, AuthPass: "12345678", Interval: time.Second},
			with(pass, func(a *vrrpcompat.Advert) { a.AuthData = passData("12345678") }), 255, ""},
		{"auth before interval", v2pass, with(adv2, func(a *vrrpcompat.Advert) { a.Interval = 2 * time.Second }), 255, vrrpcompat.ReasonAuth},
		{"v2 interval differs", v2, with(adv2, func(a *vrrpcompat.Advert) { a.Interval = 2 * time.Second }), 255, vrrpcompat.ReasonInterval},
		{"v3 interval differs (adopted, not dropped)", v3, with(adv3, func(a *vrrpcompat.Advert) { a.Interval = 100 * time.Millisecond }), 255, ""},
		{"v3 ignores auth", v3, with(adv3, func(a *vrrpcompat.Advert) { a.AuthType = 1 }), 255, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			de := tc.in.Check(tc.a, tc.ttl)
			if tc.want == "" {
				if de != nil {
					t.Fatalf("Check: %v, want accept", de)
				}
				return
			}
			if de == nil {
				t.Fatalf("Check accepted, want %q", tc.want)
			}
			if de.Reason != tc.want || de.Detail == "" {
				t.Errorf("Check: %v, want reason %q", de, tc.want)
			}
		})
	}
}
