package config

import (
	"fmt"
	"net/netip"
	"time"

	"go.yaml.in/yaml/v3"
)

func (d *decoder) vrrp(path string, n *yaml.Node, vc *VRRPConfig) {
	d.mapping(path, n, []keyField{
		{"enabled", func(p string, v *yaml.Node) { d.boolean(p, v, &vc.Enabled) }},
		{"version", func(p string, v *yaml.Node) {
			var ver int
			if d.integer(p, v, 2, 3, "VRRP version 2 (keepalived's default) or 3", &ver) {
				vc.Version = ver
			}
		}},
		{"vrid", func(p string, v *yaml.Node) {
			d.integer(p, v, 1, 255, "the virtual_router_id of the keepalived instance, 1 to 255", &vc.VRID)
		}},
		{"advert_interval", func(p string, v *yaml.Node) { d.duration(p, v, &vc.Interval) }},
		{"auth_pass", func(p string, v *yaml.Node) {
			s, ok := d.scalar(p, v, "the auth_pass of the keepalived instance")
			if !ok {
				return
			}
			switch {
			case s == "":
				d.add(v.Line, p, "is empty; set the keepalived instance's auth_pass, or remove the line for no authentication")
			case len(s) > 8:
				d.add(v.Line, p, "is %d bytes; VRRP PASS authentication carries 8 bytes and keepalived cuts longer passwords to their first 8 (%q): write those", len(s), s[:8])
			default:
				vc.AuthPass = s
			}
		}},
		{"unicast_peers", func(p string, v *yaml.Node) {
			vc.UnicastPeers, _, _ = scalarList(d, p, v, "[198.18.0.14, 198.18.0.15]", "an IP address, e.g. 198.18.0.14", UnicastAddr,
				unique[netip.Addr]{func(a netip.Addr) any { return a }, func(a netip.Addr, _, _ string, _ int) string {
					return fmt.Sprintf("%s is listed twice; list each peer once", a)
				}})
		}},
		{"unicast_src", func(p string, v *yaml.Node) {
			parsed(d, p, v, "this node's address, e.g. 198.18.0.11", UnicastAddr, &vc.UnicastSrc)
		}},
		{"interface", func(p string, v *yaml.Node) {
			d.validString(p, v, "an interface name such as eth0", InterfaceProblem, &vc.Interface)
		}},
	})
}

// checkVRRP checks the vrrp section of group g, at site, against itself and the
// group, and fills in its defaults.
func (d *decoder) checkVRRP(g *GroupConfig, site groupSite, bind netip.Addr) {
	vc := &g.VRRP
	at := func(key string) string { return site.vrrp + "." + key }
	if vc.Version == 0 {
		vc.Version = DefaultVRRPVersion
	}
	_, intervalSet := d.lines[at("advert_interval")]
	if !intervalSet {
		vc.Interval = DefaultVRRPInterval
	}
	if vc.Interface == "" {
		vc.Interface = g.Interface
	}
	if !vc.UnicastSrc.IsValid() {
		vc.UnicastSrc = bind
	}
	if _, set := d.lines[site.vrrp]; !set || !vc.Enabled || d.failedAt(site.vrrp) {
		return
	}
	if _, set := d.lines[at("vrid")]; !set {
		d.add(d.at(site.vrrp), at("vrid"), "missing; set the virtual_router_id of the keepalived instance to share, e.g. vrid: 51")
	}
	if intervalSet && !d.failed(at("advert_interval")) {
		iv := vc.Interval
		switch {
		case vc.Version == 2 && (iv < time.Second || iv > 255*time.Second || iv%time.Second != 0):
			d.add(d.at(at("advert_interval")), at("advert_interval"), "%s does not fit VRRPv2, which counts whole seconds from 1s to 255s; use the keepalived instance's advert_int (keepalived rounds fractions), or version: 3 for shorter intervals", iv)
		case vc.Version == 3 && (iv < 10*time.Millisecond || iv > 40950*time.Millisecond || iv%(10*time.Millisecond) != 0):
			d.add(d.at(at("advert_interval")), at("advert_interval"), "%s does not fit VRRPv3, which counts centiseconds from 10ms to 40.95s; use the keepalived instance's advert_int", iv)
		}
	}
	if vc.AuthPass != "" && vc.Version == 3 {
		d.add(d.at(at("auth_pass")), at("auth_pass"), "VRRPv3 has no authentication (keepalived ignores auth_pass with version 3); remove auth_pass or use version: 2")
	}
	v4, v6 := families(g.Addresses)
	addrs := site.key("addresses")
	switch {
	case v4 > 0 && v6 > 0:
		d.add(d.at(site.vrrp), site.vrrp, "%s mixes IPv4 and IPv6, but a VRRP instance advertises one family (keepalived: one virtual_ipaddress family per instance); give the %s one family, or turn vrrp off", addrs, site.what())
	case v6 > 0 && vc.Version == 2:
		d.add(d.at(site.vrrp), at("version"), "VRRPv2 carries IPv4 only, and %s are IPv6; set version: 3 (as keepalived does for IPv6 instances)", addrs)
	case len(g.Addresses) > 255:
		d.add(d.at(site.vrrp), site.vrrp, "an advert lists at most 255 addresses; %s has %d", addrs, len(g.Addresses))
	}
	if v6 > 0 && vc.UnicastSrc.Is4() && len(vc.UnicastPeers) > 0 {
		d.add(d.at(site.vrrp), at("unicast_src"), "%s is IPv4, but the VIPs are IPv6: set unicast_src to this node's IPv6 address", vc.UnicastSrc)
	}
	for i, pa := range vc.UnicastPeers {
		if pa.Is4() != (v4 > 0) {
			p := fmt.Sprintf("%s[%d]", at("unicast_peers"), i)
			d.add(d.at(p), p, "%s is not of the VIPs' address family; list the peers' addresses of that family", pa)
		}
	}
}

// families counts the IPv4 and the IPv6 addresses of addrs.
func families(addrs []netip.Prefix) (v4, v6 int) {
	for _, a := range addrs {
		if a.Addr().Is4() {
			v4++
		} else {
			v6++
		}
	}
	return v4, v6
}
