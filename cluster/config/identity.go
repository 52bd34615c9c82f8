package config

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// IdentityField is one key of a group that every node must have alike (DESIGN §6):
// the leader places a group only on nodes whose copy matches.
type IdentityField struct {
	Key   string // under the group: "addresses", "vrrp.vrid"
	Value string // canonical: equal values are equal strings; auth_pass is a hash
}

// Identity is the keys of g that must be the same on every node, in a fixed order:
// name, addresses (sorted: their order in the file does not matter), preempt,
// preempt_delay, min_move_interval, together, lifetime, fencing, garp, drain and the
// VRRP identity. The VRRP identity is vrrp.enabled and, when enabled, vrrp.vrid,
// vrrp.version, vrrp.advert_interval and vrrp.auth_pass, the last as a hash of the
// password. A node's own keys (priority, track, interface, vrrp.interface,
// vrrp.unicast_src, vrrp.unicast_peers) are not in it.
func (g GroupConfig) Identity() []IdentityField {
	addrs := slices.Clone(g.Addresses)
	slices.SortFunc(addrs, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	id := []IdentityField{
		{"name", g.Name},
		{"addresses", strings.Join(s, ",")},
		{"preempt", strconv.FormatBool(g.Preempt)},
		{"preempt_delay", g.PreemptDelay.String()},
		{"min_move_interval", g.MinMoveInterval.String()},
		{"together", g.Together},
		{"lifetime", g.Lifetime.String()},
		{"fencing", g.Fencing},
		{"garp", "repeat=" + strconv.Itoa(g.GARP.Repeat) + ",interval=" + g.GARP.Interval.String() + ",refresh=" + g.GARP.Refresh.String()},
		{"drain", g.Drain.String()},
		{"vrrp.enabled", strconv.FormatBool(g.VRRP.Enabled)},
	}
	if !g.VRRP.Enabled {
		return id
	}
	pass := ""
	if g.VRRP.AuthPass != "" {
		sum := sha256.Sum256([]byte("raftvip vrrp auth_pass\x00" + g.VRRP.AuthPass))
		pass = "sha256:" + hex.EncodeToString(sum[:8])
	}
	return append(id,
		IdentityField{"vrrp.vrid", strconv.Itoa(g.VRRP.VRID)},
		IdentityField{"vrrp.version", strconv.Itoa(g.VRRP.Version)},
		IdentityField{"vrrp.advert_interval", g.VRRP.Interval.String()},
		IdentityField{"vrrp.auth_pass", pass},
	)
}

// IdentityDigest is a short hash of g's Identity, 16 hex digits, for gossip
// metadata: nodes whose digests for a group differ disagree on it, and IdentityDiff
// of their configs names the keys.
func IdentityDigest(g GroupConfig) string {
	h := sha256.New()
	h.Write([]byte("raftvip group identity 1\n"))
	for _, f := range g.Identity() {
		h.Write([]byte(strconv.Quote(f.Key) + "=" + strconv.Quote(f.Value) + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// IdentityDiff names the keys of a's Identity that b has otherwise, as config paths
// under a's name ("groups[web].addresses"), in Identity's order; nil if none. VRRP on
// in one and off in the other is vrrp.enabled alone. It never says what the values
// are, so a password stays out of logs and status.
func IdentityDiff(a, b GroupConfig) []string {
	ib := b.Identity()
	var diff []string
	for _, f := range a.Identity() {
		i := slices.IndexFunc(ib, func(o IdentityField) bool { return o.Key == f.Key })
		if i >= 0 && ib[i].Value != f.Value {
			diff = append(diff, "groups["+a.Name+"]."+f.Key)
		}
	}
	return diff
}
