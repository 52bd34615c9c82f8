package vrrpcompat_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/raftvip/raftvip/vrrpcompat"
)

// FuzzParse feeds Parse arbitrary messages and packet addresses (4 or 16 bytes, else
// unset). Parse must never panic, must fail only with a *DropError, and whatever it
// accepts must marshal again and parse back to the same advert, in the same bytes
// up to the v3 reserved bits and the checksum's representation.
func FuzzParse(f *testing.F) {
	for _, g := range goldenFiles(f) {
		f.Add(g.msg, g.src.AsSlice(), g.dst.AsSlice())
	}
	s4, p4, g4, s6, g6 := src4.AsSlice(), peer4.AsSlice(), grp4.AsSlice(), src6.AsSlice(), grp6.AsSlice()
	seeds := []struct {
		msg      string
		src, dst []byte
	}{
		{"", nil, nil},
		{"21", nil, nil},
		{"2133640300010000", nil, nil}, // 8-byte header claiming 3 addresses
		{"2133640201019a0d", nil, nil},
		{"213364020001eddac6120064c61200650000000000000000", s6, g6}, // v2 in IPv6
		{"31336402006436d1c6120064c6120065", nil, nil},               // v3 without addresses
		{"31336402006436d1c6120064c6120065", s6, g6},                 // v3 IPv4 body in IPv6
		{"31336402006436d1c6120064c6120065", s4, p4},                 // wrong pseudo-header
		{"3133640000640000", s4, g4},
		{"31336400f0640000", s4, g4}, // reserved bits
		{"3133640100640000000000000000000000000000000000000000", s6, g6},
		{"21336402000100000000000000000000000000000000000000", s4, g4},
		{"313364ff0064", s6, g6},
	}
	for _, s := range seeds {
		f.Add(hexBytes(f, s.msg), s.src, s.dst)
	}
	f.Add(sealed(hexBytes(f, "31336402 0064 0000 c6120064 c6120065"), src4, grp4, false), s4, g4)
	f.Add(sealed(hexBytes(f, "31336402 0064 0000 c6120064 c6120065"), src4, grp4, true), s4, p4)
	f.Add(sealed(hexBytes(f, "21330002 0001 0000 c6120064 c6120065 7365637265740000"), netip.Addr{}, netip.Addr{}, false), []byte(nil), []byte(nil))

	f.Fuzz(func(t *testing.T, msg, srcb, dstb []byte) {
		src, _ := netip.AddrFromSlice(srcb)
		dst, _ := netip.AddrFromSlice(dstb)
		checkParse(t, msg, src, dst)
		// Random bytes seldom carry a right checksum: try again with one, so the
		// checks after the checksum see as much of the input space.
		if len(msg) >= 8 {
			pseudo := msg[0]>>4 == 3 && src.IsValid() && dst.IsValid()
			checkParse(t, sealed(msg, src.Unmap(), dst.Unmap(), pseudo), src, dst)
		}
	})
}

func checkParse(t *testing.T, msg []byte, src, dst netip.Addr) {
	{
		a, err := vrrpcompat.Parse(msg, src, dst)
		if err != nil {
			var de *vrrpcompat.DropError
			if !errors.As(err, &de) || de.Reason == "" || de.Detail == "" {
				t.Fatalf("Parse error %#v is not a *DropError with a reason", err)
			}
			return
		}
		if a.Checksum != binary.BigEndian.Uint16(msg[6:8]) {
			t.Fatalf("Checksum %#04x, message says %x", a.Checksum, msg[6:8])
		}
		for _, mode := range []vrrpcompat.ChecksumMode{vrrpcompat.ChecksumPseudoHeader, vrrpcompat.ChecksumNoPseudoHeader} {
			b, err := a.Marshal(src, dst, mode)
			if err != nil {
				t.Fatalf("Parse accepted %x as %+v but Marshal(%v) fails: %v", msg, a, mode, err)
			}
			again, err := vrrpcompat.Parse(b, src, dst)
			if err != nil {
				t.Fatalf("Parse(Marshal(%+v)) = %v", a, err)
			}
			again.Checksum = a.Checksum
			if !reflect.DeepEqual(again, a) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", again, a)
			}
			// Same bytes, but for the checksum field and the v3 reserved bits.
			want := bytes.Clone(msg)
			want[6], want[7] = b[6], b[7]
			if a.Version == 3 {
				want[4] &= 0x0f
			}
			if !bytes.Equal(b, want) {
				t.Fatalf("Marshal = %x, want %x", b, want)
			}
		}
	}
}
