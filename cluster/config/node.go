package config

import (
	"fmt"
	"net/netip"

	"github.com/raftvip/raftvip/cluster/pki"
	"go.yaml.in/yaml/v3"
)

func (d *decoder) node(path string, n *yaml.Node, nc *NodeConfig) {
	d.mapping(path, n, []keyField{
		{"name", func(p string, v *yaml.Node) {
			s, ok := d.scalar(p, v, "this node's name, e.g. lb1")
			switch {
			case !ok:
			case s == "":
				d.add(v.Line, p, "is empty; set this node's name, e.g. lb1, or remove the line to use the hostname")
			case pki.NodeNameProblem(s) != "":
				d.add(v.Line, p, "%q %s", s, pki.NodeNameProblem(s))
			default:
				nc.Name = s
			}
		}},
		{"data_dir", func(p string, v *yaml.Node) {
			s, ok := d.scalar(p, v, "a directory such as "+DefaultDataDir)
			switch {
			case !ok:
			case s == "":
				d.add(v.Line, p, "is empty; set a directory such as %s, or remove the line to use that default", DefaultDataDir)
			default:
				nc.DataDir = s
			}
		}},
		{"bind", func(p string, v *yaml.Node) {
			parsed(d, p, v, "this node's IP address, e.g. 198.18.0.11", UnicastAddr, &nc.Bind)
		}},
		{"raft_port", func(p string, v *yaml.Node) { d.port(p, v, &nc.RaftPort) }},
		{"gossip_port", func(p string, v *yaml.Node) { d.port(p, v, &nc.GossipPort) }},
		{"role", func(p string, v *yaml.Node) { d.enum(p, v, &nc.Role, RoleLB, RoleWitness) }},
	})
}

// UnicastAddr parses an IP literal that can be a node's own address, or says
// what is wrong and what would be right.
func UnicastAddr(s string) (netip.Addr, string) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			return netip.Addr{}, fmt.Sprintf("%q has a port; give the address only (%s), the port goes in node.raft_port", s, ap.Addr())
		}
		if pf, err := netip.ParsePrefix(s); err == nil {
			return netip.Addr{}, fmt.Sprintf("%q has a prefix length; give the address only (%s)", s, pf.Addr())
		}
		return netip.Addr{}, fmt.Sprintf("%q is not an IP address; give an IPv4 or IPv6 literal such as 198.18.0.11 (raftvip does not resolve host names)", s)
	}
	switch {
	case a.IsUnspecified():
		return netip.Addr{}, fmt.Sprintf("%s listens everywhere but cannot be told to peers; use this node's own address, the one it has in cluster.peers", a)
	case a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return netip.Addr{}, fmt.Sprintf("%s is not a unicast address; use this node's own address, the one it has in cluster.peers", a)
	}
	return a, ""
}
