package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

func (d *decoder) vip(path string, n *yaml.Node, vc *VIPConfig) {
	d.mapping(path, n, d.vipFields(vc))
}

// vipFields are the keys of vip:, which a group of groups: has too. The section's
// interface is at interface under the same path.
func (d *decoder) vipFields(vc *VIPConfig) []keyField {
	return []keyField{
		{"interface", func(p string, v *yaml.Node) {
			d.validString(p, v, "an interface name such as eth0", InterfaceProblem, &vc.Interface)
		}},
		{"addresses", func(p string, v *yaml.Node) {
			section := p[:strings.LastIndex(p, ".")]
			d.itemPaths[p] = d.addresses(p, v, section+".interface", &vc.Addresses)
		}},
		{"lifetime", func(p string, v *yaml.Node) {
			var lt time.Duration
			if !d.duration(p, v, &lt) {
				return
			}
			const why = "Linux counts address lifetimes in whole seconds"
			raw := resolve(v).Value
			switch {
			case lt < time.Second:
				d.add(v.Line, p, "%q is below 1s; %s, use 1s or more (default 2s)", raw, why)
			case lt > time.Hour:
				d.add(v.Line, p, "%q is above 1h; the lifetime bounds how long the kernel of a frozen or killed agent keeps the VIP, keep it to seconds (default 2s)", raw)
			case lt%time.Second != 0:
				d.add(v.Line, p, "%q is not a whole number of seconds; %s, use %s or %s", raw, why, lt.Truncate(time.Second), lt.Truncate(time.Second)+time.Second)
			default:
				vc.Lifetime = lt
			}
		}},
		{"fencing", func(p string, v *yaml.Node) { d.enum(p, v, &vc.Fencing, "standard", "strict") }},
		{"drain", func(p string, v *yaml.Node) {
			var dr time.Duration
			if !d.duration(p, v, &dr) {
				return
			}
			if dr < 0 || dr > 10*time.Second {
				d.add(v.Line, p, "%s is out of range; a planned move waits this long with new connections held off, use 0 (no drain) to 10s (default 25ms)", dr)
				return
			}
			vc.Drain = dr
		}},
		{"garp", func(p string, v *yaml.Node) {
			d.mapping(p, v, []keyField{
				{"repeat", func(p string, v *yaml.Node) {
					d.integer(p, v, 0, 100, "repeat is 0 (do not announce) to 100", &vc.GARP.Repeat)
				}},
				{"interval", func(p string, v *yaml.Node) {
					var iv time.Duration
					if !d.duration(p, v, &iv) {
						return
					}
					if iv < 0 {
						d.add(v.Line, p, "%s is negative; use 0 or more (default 1s)", iv)
						return
					}
					vc.GARP.Interval = iv
				}},
				{"refresh", func(p string, v *yaml.Node) {
					var rf time.Duration
					if !d.duration(p, v, &rf) {
						return
					}
					if rf != 0 && rf < time.Second {
						d.add(v.Line, p, "%s is below 1s; Linux ignores ARP updates that come faster (locktime), use 0 (off) or 1s or more", rf)
						return
					}
					vc.GARP.Refresh = rf
				}},
			})
		}},
	}
}

// InterfaceProblem applies the kernel's rule for interface names (dev_valid_name).
func InterfaceProblem(s string) string {
	switch {
	case s == "":
		return "is empty; name the interface that carries the VIP, e.g. eth0"
	case len(s) > 15:
		return fmt.Sprintf("%q is %d bytes; Linux interface names are at most 15", s, len(s))
	case s == "." || s == "..":
		return fmt.Sprintf("%q is not an interface name; use e.g. eth0", s)
	case strings.Contains(s, ":"):
		base, _, _ := strings.Cut(s, ":")
		return fmt.Sprintf("%q is an address label, not an interface; use the interface itself (%s)", s, base)
	case strings.ContainsFunc(s, func(r rune) bool { return r == '/' || unicode.IsSpace(r) }):
		return fmt.Sprintf("%q contains '/' or white space, which Linux interface names cannot; use e.g. eth0", s)
	}
	return ""
}

// addresses decodes the VIPs at path into dst and returns the path of each; iface is
// the path of the interface that carries them, for the messages.
func (d *decoder) addresses(path string, n *yaml.Node, iface string, dst *[]netip.Prefix) []string {
	vals, paths, ok := scalarList(d, path, n, "[198.18.0.10/24]", "an address with its prefix length, e.g. 198.18.0.10/24",
		func(s string) (netip.Prefix, string) { return parseVIPOn(s, iface) },
		unique[netip.Prefix]{func(pf netip.Prefix) any { return pf.Addr() }, func(pf netip.Prefix, _, first string, line int) string {
			return fmt.Sprintf("%s is listed twice (also %s on line %d); remove one", pf.Addr(), first, line)
		}})
	*dst = vals
	if ok && len(resolve(n).Content) == 0 {
		d.add(d.lines[path], path, "is empty; list at least one address with its prefix length, e.g. [198.18.0.10/24]")
	}
	return paths
}

// ParseVIP parses a VIP with its prefix length, or says what is wrong.
func ParseVIP(s string) (netip.Prefix, string) { return parseVIPOn(s, "vip.interface") }

// parseVIPOn is ParseVIP for the VIPs of the interface at path iface.
func parseVIPOn(s, iface string) (netip.Prefix, string) {
	pf, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		if a, err := netip.ParseAddr(s); err == nil {
			bits := 24
			if a.Is6() {
				bits = 64
			}
			return netip.Prefix{}, fmt.Sprintf("%q has no prefix length; write it with the prefix length of the subnet on %s, e.g. %s/%d", s, iface, a, bits)
		}
		return netip.Prefix{}, fmt.Sprintf("%q is not an address with a prefix length; write e.g. 198.18.0.10/24 or 2001:2::10/64 (no host names)", s)
	}
	a := pf.Addr()
	switch {
	case a.Is4In6():
		return netip.Prefix{}, fmt.Sprintf("%s is an IPv4-mapped IPv6 address; write the IPv4 address as such, e.g. %s", s, a.Unmap())
	case a.IsUnspecified():
		return netip.Prefix{}, fmt.Sprintf("%s is the unspecified address; a VIP must be a host address, e.g. 198.18.0.10/24", pf)
	case a.IsLoopback():
		return netip.Prefix{}, fmt.Sprintf("%s is a loopback address; a VIP must be reachable from clients on %s", pf, iface)
	case a.IsMulticast():
		return netip.Prefix{}, fmt.Sprintf("%s is a multicast address; a VIP must be a unicast host address", pf)
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return netip.Prefix{}, fmt.Sprintf("%s is the broadcast address; a VIP must be a unicast host address", pf)
	}
	net := pf.Masked()
	hostBits := a.BitLen() - pf.Bits()
	if hostBits >= 2 && a == net.Addr() {
		return netip.Prefix{}, fmt.Sprintf("%s is the network address of %s; a VIP must be a host address in it, e.g. %s/%d", pf, net, net.Addr().Next(), pf.Bits())
	}
	if a.Is4() && hostBits >= 2 && a == lastAddr(net) {
		return netip.Prefix{}, fmt.Sprintf("%s is the broadcast address of %s; a VIP must be a host address in it, e.g. %s/%d", pf, net, a.Prev(), pf.Bits())
	}
	return pf, ""
}

// lastAddr is the highest address of an IPv4 prefix (its broadcast address).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	return netip.AddrFrom4(b)
}
