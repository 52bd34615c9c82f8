package vrrpcompat_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/vrrpcompat"
)

// goldenPacket is one advert captured from real keepalived by testdata/capture.sh.
type goldenPacket struct {
	name     string
	comments []string // the tcpdump -v lines and the keepalived version
	src, dst netip.Addr
	msg      []byte // the VRRP message, without the IP header
	ttl      int    // from the tcpdump line: "ttl N" (IPv4) or "hlim N" (IPv6)
}

var goldenTTL = regexp.MustCompile(`\b(?:ttl|hlim) (\d+)\b`)

func readGolden(t testing.TB, path string) goldenPacket {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := goldenPacket{name: strings.TrimSuffix(filepath.Base(path), ".txt"), ttl: -1}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			g.comments = append(g.comments, line)
			if m := goldenTTL.FindStringSubmatch(line); m != nil && g.ttl < 0 {
				g.ttl, _ = strconv.Atoi(m[1])
			}
			continue
		}
		key, val, _ := strings.Cut(line, " ")
		switch key {
		case "src":
			g.src, err = netip.ParseAddr(val)
		case "dst":
			g.dst, err = netip.ParseAddr(val)
		case "hex":
			g.msg, err = hex.DecodeString(strings.ReplaceAll(val, " ", ""))
		default:
			t.Fatalf("%s: unknown line %q", path, line)
		}
		if err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if !g.src.IsValid() || !g.dst.IsValid() || g.msg == nil {
		t.Fatalf("%s: missing src, dst or hex", path)
	}
	return g
}

func goldenFiles(t testing.TB) map[string]goldenPacket {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "golden", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]goldenPacket)
	for _, p := range paths {
		g := readGolden(t, p)
		out[g.name] = g
	}
	return out
}

var (
	vips4 = []netip.Addr{netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.101")}
	vips6 = []netip.Addr{netip.MustParseAddr("2001:2::100"), netip.MustParseAddr("2001:2::101")}
)

func passData(s string) (d [8]byte) {
	copy(d[:], s)
	return d
}

// TestGolden parses every advert captured from keepalived, checks its fields and
// that the instance it was configured for accepts it, and marshals it back to the
// same bytes.
func TestGolden(t *testing.T) {
	files := goldenFiles(t)
	cases := []struct {
		name     string
		optional bool // keepalived 2.2.7 (Debian 12) has no v3_checksum_as_v2
		want     vrrpcompat.Advert
		mode     vrrpcompat.ChecksumMode
		inst     vrrpcompat.Instance
	}{
		{
			name: "v2-noauth",
			want: vrrpcompat.Advert{Version: 2, VRID: 51, Priority: 100, Interval: time.Second, Addrs: vips4},
			inst: vrrpcompat.Instance{Version: 2, VRID: 51, Interval: time.Second},
		},
		{
			name: "v2-pass",
			want: vrrpcompat.Advert{Version: 2, VRID: 51, Priority: 100, AuthType: 1, AuthData: passData("secret"),
				Interval: time.Second, Addrs: vips4},
			inst: vrrpcompat.Instance{Version: 2, VRID: 51, AuthPass: "secret", Interval: time.Second},
		},
		{
			name: "v2-resign",
			want: vrrpcompat.Advert{Version: 2, VRID: 51, Priority: 0, Interval: time.Second, Addrs: vips4},
			inst: vrrpcompat.Instance{Version: 2, VRID: 51, Interval: time.Second},
		},
		{
			name: "v3-ipv4-mcast",
			want: vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 100, Interval: time.Second, Addrs: vips4},
			inst: vrrpcompat.Instance{Version: 3, VRID: 51, Interval: time.Second},
		},
		{
			name:     "v3-ipv4-csum-as-v2",
			optional: true,
			want:     vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 100, Interval: time.Second, Addrs: vips4},
			mode:     vrrpcompat.ChecksumNoPseudoHeader,
			inst:     vrrpcompat.Instance{Version: 3, VRID: 51, Interval: time.Second},
		},
		{
			name: "v3-ipv4-unicast",
			want: vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 100, Interval: time.Second, Addrs: vips4},
			inst: vrrpcompat.Instance{Version: 3, VRID: 51, Interval: time.Second},
		},
		{
			name: "v3-ipv6",
			want: vrrpcompat.Advert{Version: 3, VRID: 51, Priority: 100, Interval: 100 * time.Millisecond, Addrs: vips6},
			inst: vrrpcompat.Instance{Version: 3, VRID: 51, Interval: 100 * time.Millisecond},
		},
	}
	seen := make(map[string]bool)
	for _, tc := range cases {
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			g, ok := files[tc.name]
			if !ok {
				if tc.optional {
					t.Skipf("no testdata/golden/%s.txt: the keepalived that captured them lacks this option", tc.name)
				}
				t.Fatalf("no testdata/golden/%s.txt; run testdata/capture.sh as root", tc.name)
			}
			a, err := vrrpcompat.Parse(g.msg, g.src, g.dst)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := tc.want
			want.Checksum = uint16(g.msg[6])<<8 | uint16(g.msg[7])
			if !reflect.DeepEqual(a, want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", a, want)
			}
			if g.ttl != 255 {
				t.Errorf("keepalived sent ttl/hlim %d, want 255 (%v)", g.ttl, g.comments)
			}
			if derr := tc.inst.Check(a, g.ttl); derr != nil {
				t.Errorf("Check: %v", derr)
			}
			b, err := a.Marshal(g.src, g.dst, tc.mode)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !bytes.Equal(b, g.msg) {
				t.Errorf("Marshal:\n got %x\nwant %x", b, g.msg)
			}
			// The checksum, computed independently of the package.
			if got, want := refChecksum(g.msg, g.src, g.dst, g.msg[0]>>4 == 3 && tc.mode == vrrpcompat.ChecksumPseudoHeader), uint16(0); got != want {
				t.Errorf("reference checksum over the golden packet = %#04x, want 0", got)
			}
		})
	}
	for name := range files {
		if !seen[name] {
			t.Errorf("testdata/golden/%s.txt has no test case", name)
		}
	}
}

// TestGoldenChecksumForms pins the keepalived facts the golden packets show: v3 over
// IPv4 is checksummed with the pseudo-header, whose destination is the real one (the
// unicast peer, not the group), and a wrong pseudo-header is a checksum drop.
func TestGoldenChecksumForms(t *testing.T) {
	files := goldenFiles(t)
	mcast, ok1 := files["v3-ipv4-mcast"]
	uni, ok2 := files["v3-ipv4-unicast"]
	v6, ok3 := files["v3-ipv6"]
	if !ok1 || !ok2 || !ok3 {
		t.Fatal("missing v3 golden packets")
	}
	if refChecksum(mcast.msg, mcast.src, mcast.dst, false) == 0 {
		t.Error("keepalived's multicast v3 advert verifies without the pseudo-header; expected the pseudo-header form")
	}
	if refChecksum(uni.msg, uni.src, uni.dst, true) != 0 {
		t.Error("keepalived's unicast v3 advert does not verify with the peer in the pseudo-header")
	}

	// The RFC 9568 form of the same advert: what v3_checksum_as_v2 sends.
	a, err := vrrpcompat.Parse(mcast.msg, mcast.src, mcast.dst)
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.Marshal(mcast.src, mcast.dst, vrrpcompat.ChecksumNoPseudoHeader)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[:6], mcast.msg[:6]) || !bytes.Equal(b[8:], mcast.msg[8:]) || refChecksum(b, mcast.src, mcast.dst, false) != 0 {
		t.Errorf("no-pseudo-header form %x of %x is wrong", b, mcast.msg)
	}
	if _, err := vrrpcompat.Parse(b, mcast.src, mcast.dst); err != nil {
		t.Errorf("Parse of the no-pseudo-header form: %v", err)
	}

	other := netip.MustParseAddr("198.18.0.3")
	wrongDst := []struct {
		name     string
		g        goldenPacket
		src, dst netip.Addr
	}{
		{"v3 IPv4 unicast, other peer", uni, uni.src, other},
		{"v3 IPv4 multicast, other source", mcast, other, mcast.dst},
		{"v3 IPv6, other destination", v6, v6.src, netip.MustParseAddr("ff02::1")},
		{"v3 IPv6, other source", v6, netip.MustParseAddr("fe80::1"), v6.dst},
	}
	for _, tc := range wrongDst {
		_, err := vrrpcompat.Parse(tc.g.msg, tc.src, tc.dst)
		var de *vrrpcompat.DropError
		if !errors.As(err, &de) || de.Reason != vrrpcompat.ReasonChecksum {
			t.Errorf("%s: Parse error %v, want a checksum drop", tc.name, err)
		}
	}
}
