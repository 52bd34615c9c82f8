package config

import (
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// identityGroup is a group with every key set, VRRP on.
func identityGroup() GroupConfig {
	return GroupConfig{
		Name: "web", Interface: "eth0",
		Addresses: []netip.Prefix{netip.MustParsePrefix("198.18.0.10/24"), netip.MustParsePrefix("198.18.0.11/24")},
		Priority:  150, Track: []string{"haproxy"},
		Preempt: true, PreemptDelay: 5 * time.Second, MinMoveInterval: 10 * time.Second, Together: "front",
		Lifetime: 2 * time.Second, Fencing: "standard", GARP: GARPConfig{Repeat: 5, Interval: time.Second}, Drain: 25 * time.Millisecond,
		VRRP: VRRPConfig{Enabled: true, Version: 2, VRID: 51, Interval: time.Second, AuthPass: "s3cret",
			UnicastPeers: []netip.Addr{netip.MustParseAddr("198.18.0.31")}, UnicastSrc: netip.MustParseAddr("198.18.0.21"), Interface: "eth0"},
	}
}

func TestIdentityKeys(t *testing.T) {
	var keys []string
	for _, f := range identityGroup().Identity() {
		keys = append(keys, f.Key)
		if strings.Contains(f.Value, "s3cret") {
			t.Errorf("%s = %q: the password is in the identity", f.Key, f.Value)
		}
	}
	want := []string{"name", "addresses", "preempt", "preempt_delay", "min_move_interval", "together", "lifetime", "fencing", "garp", "drain",
		"vrrp.enabled", "vrrp.vrid", "vrrp.version", "vrrp.advert_interval", "vrrp.auth_pass"}
	if !slices.Equal(keys, want) {
		t.Errorf("Identity keys = %q, want %q", keys, want)
	}
	off := identityGroup()
	off.VRRP.Enabled = false
	if n := len(off.Identity()); n != 11 {
		t.Errorf("with VRRP off, Identity has %d keys, want 11 (VRRP's identity is vrrp.enabled alone)", n)
	}
}

// TestIdentityDigestStable pins the digest of one group: nodes of different versions
// compare digests, so a change of Identity's canonical form must be deliberate.
func TestIdentityDigestStable(t *testing.T) {
	got := IdentityDigest(identityGroup())
	if _, err := hex.DecodeString(got); err != nil || len(got) != 16 {
		t.Fatalf("digest %q is not 16 hex digits", got)
	}
	const want = "b84860175889ef22"
	if got != want {
		t.Errorf("IdentityDigest = %s, want %s", got, want)
	}
}

func TestIdentityDiff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(g *GroupConfig)
		want   []string // nil: the same identity
	}{
		{"same", func(g *GroupConfig) {}, nil},
		// The keys every node must have alike.
		{"name", func(g *GroupConfig) { g.Name = "api" }, []string{"groups[web].name"}},
		{"an address more", func(g *GroupConfig) { g.Addresses = append(g.Addresses, netip.MustParsePrefix("198.18.0.12/24")) }, []string{"groups[web].addresses"}},
		{"a prefix length", func(g *GroupConfig) { g.Addresses[1] = netip.MustParsePrefix("198.18.0.11/25") }, []string{"groups[web].addresses"}},
		{"preempt", func(g *GroupConfig) { g.Preempt = false }, []string{"groups[web].preempt"}},
		{"preempt_delay", func(g *GroupConfig) { g.PreemptDelay = 0 }, []string{"groups[web].preempt_delay"}},
		{"min_move_interval", func(g *GroupConfig) { g.MinMoveInterval = time.Minute }, []string{"groups[web].min_move_interval"}},
		{"together", func(g *GroupConfig) { g.Together = "" }, []string{"groups[web].together"}},
		{"lifetime", func(g *GroupConfig) { g.Lifetime = 3 * time.Second }, []string{"groups[web].lifetime"}},
		{"fencing", func(g *GroupConfig) { g.Fencing = "strict" }, []string{"groups[web].fencing"}},
		{"garp repeat", func(g *GroupConfig) { g.GARP.Repeat = 3 }, []string{"groups[web].garp"}},
		{"garp refresh", func(g *GroupConfig) { g.GARP.Refresh = 30 * time.Second }, []string{"groups[web].garp"}},
		{"drain", func(g *GroupConfig) { g.Drain = 0 }, []string{"groups[web].drain"}},
		{"vrrp off", func(g *GroupConfig) { g.VRRP.Enabled = false }, []string{"groups[web].vrrp.enabled"}},
		{"vrid", func(g *GroupConfig) { g.VRRP.VRID = 52 }, []string{"groups[web].vrrp.vrid"}},
		{"vrrp version", func(g *GroupConfig) { g.VRRP.Version, g.VRRP.AuthPass = 3, "" },
			[]string{"groups[web].vrrp.version", "groups[web].vrrp.auth_pass"}},
		{"advert_interval", func(g *GroupConfig) { g.VRRP.Interval = 2 * time.Second }, []string{"groups[web].vrrp.advert_interval"}},
		{"auth_pass", func(g *GroupConfig) { g.VRRP.AuthPass = "other" }, []string{"groups[web].vrrp.auth_pass"}},
		{"several", func(g *GroupConfig) { g.Drain, g.Preempt = 0, false }, []string{"groups[web].preempt", "groups[web].drain"}},
		// The same set of addresses, in another order.
		{"addresses reordered", func(g *GroupConfig) { g.Addresses[0], g.Addresses[1] = g.Addresses[1], g.Addresses[0] }, nil},
		// A node's own keys.
		{"priority", func(g *GroupConfig) { g.Priority = 100 }, nil},
		{"track", func(g *GroupConfig) { g.Track = nil }, nil},
		{"interface", func(g *GroupConfig) { g.Interface = "bond0" }, nil},
		{"vrrp interface", func(g *GroupConfig) { g.VRRP.Interface = "bond0" }, nil},
		{"unicast_src", func(g *GroupConfig) { g.VRRP.UnicastSrc = netip.MustParseAddr("198.18.0.22") }, nil},
		{"unicast_peers", func(g *GroupConfig) { g.VRRP.UnicastPeers = nil }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := identityGroup(), identityGroup()
			tc.change(&b)
			if got := IdentityDiff(a, b); !slices.Equal(got, tc.want) {
				t.Errorf("IdentityDiff = %q, want %q", got, tc.want)
			}
			if same := IdentityDigest(a) == IdentityDigest(b); same != (tc.want == nil) {
				t.Errorf("digests equal = %v, but IdentityDiff wants %q", same, tc.want)
			}
		})
	}

	// With VRRP off in both, its other keys are not used, so they do not differ.
	a, b := identityGroup(), identityGroup()
	a.VRRP.Enabled, b.VRRP.Enabled = false, false
	b.VRRP.VRID, b.VRRP.AuthPass = 52, "other"
	if got := IdentityDiff(a, b); got != nil || IdentityDigest(a) != IdentityDigest(b) {
		t.Errorf("VRRP off: IdentityDiff = %q", got)
	}
	// VRRP on in one of them is vrrp.enabled alone, both ways round.
	if got := IdentityDiff(b, identityGroup()); !slices.Equal(got, []string{"groups[web].vrrp.enabled"}) {
		t.Errorf("VRRP on in b only: IdentityDiff = %q", got)
	}
}
