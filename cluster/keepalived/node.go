package keepalived

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/pki"
)

// node fills in the node and the cluster from the options.
func (c *converter) node() {
	m := &c.m
	o := c.opts
	if o.Name != "" {
		if msg := pki.NodeNameProblem(o.Name); msg != "" {
			c.fail(0, "--name", "%q %s", o.Name, msg)
		} else {
			m.name = o.Name
		}
	}
	var src *group // the first group with a source address
	for _, g := range m.groups {
		if g.unicastSrc.IsValid() {
			src = g
			break
		}
	}
	switch {
	case o.Bind != "":
		a, msg := config.UnicastAddr(o.Bind)
		if msg != "" {
			c.fail(0, "--bind", "%s", msg)
			break
		}
		m.bind, m.bindFrom = a.String(), "--bind"
	case src != nil:
		m.bind, m.bindFrom, m.bindLine = src.unicastSrc.String(), src.unicastSrcFrom, src.lines["vrrp.unicast_src"]
	}
	for _, g := range m.groups {
		if !g.unicastSrc.IsValid() || m.bind == "" || g.unicastSrc.String() == m.bind {
			continue
		}
		from := "--bind " + m.bind
		if m.bindFrom != "--bind" {
			from = fmt.Sprintf("node.bind %s (%s of vrrp_instance %s)", m.bind, m.bindFrom, src.instance)
		}
		c.note(g.lines["vrrp.unicast_src"], g.unicastSrcFrom+" "+g.unicastSrc.String(), "differs from "+from+": Raft and gossip use "+m.bind+", the adverts go out from "+g.unicastSrc.String())
	}
	self := ""
	if m.name != "" {
		self = m.name
	}
	seen := map[string]bool{}
	all := slices.Clone(o.Peers)
	if o.Witness != "" {
		all = append(all, o.Witness)
	}
	for i, s := range all {
		flag := "--peer"
		if o.Witness != "" && i == len(all)-1 {
			flag = "--witness"
		}
		p, msg := parsePeer(s)
		if msg != "" {
			c.fail(0, flag, "%s", strings.ReplaceAll(msg, "a peer", "the witness"))
			continue
		}
		if seen[p.Name] {
			c.fail(0, flag, "%s is given twice", p.Name)
			continue
		}
		seen[p.Name] = true
		if p.Name == self && flag == "--witness" {
			c.fail(0, flag, "%s is this node (--name); the witness is a third machine, with no VIP and no HAProxy", s)
			continue
		}
		if flag == "--witness" {
			w := p
			m.witness = &w
		}
		if p.Name == self {
			want := netip.AddrPortFrom(netip.MustParseAddr(orDefault(m.bind, "0.0.0.0")), config.DefaultRaftPort)
			if m.bind != "" && p.Addr != want {
				c.fail(0, "--peer", "%s is this node (--name), listed at %s, but its address is %s (node.bind:7300)", s, p.Addr, want)
				continue
			}
			if m.bind == "" {
				m.bind, m.bindFrom = p.Addr.Addr().String(), "--peer "+s
			}
			continue
		}
		m.peers = append(m.peers, p)
	}
	m.clusterOfOne = len(m.peers) == 0
	if len(m.peers) == 1 && m.witness == nil {
		c.note(0, "", fmt.Sprintf("two voters, this node and %s: losing either loses the quorum, and the survivor never takes the VIP; add a witness on a third machine with --witness NAME=IP (docs/witness.md)", m.peers[0].Name))
	}
	if m.clusterOfOne {
		c.note(0, "", "no --peer: cluster.peers lists this node alone, a cluster of one that holds the VIP by itself while VRRP arbitrates with the keepalived nodes; for a cluster of three convert each node's file with the same --peer list (every other node)")
	}
}

// parsePeer parses --peer name=ip or name=ip:port.
func parsePeer(s string) (config.Peer, string) {
	name, addr, ok := strings.Cut(s, "=")
	if ok {
		if a, err := netip.ParseAddr(strings.Trim(addr, "[]")); err == nil {
			s = name + "=" + netip.AddrPortFrom(a, config.DefaultRaftPort).String()
		}
	}
	p, msg := config.ParsePeer(s)
	if msg != "" {
		return config.Peer{}, strings.ReplaceAll(msg, "name=ip:port", "name=ip or name=ip:port")
	}
	return p, ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
