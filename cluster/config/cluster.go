package config

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"unicode"

	"github.com/raftvip/raftvip/cluster/pki"
	"go.yaml.in/yaml/v3"
)

func (d *decoder) cluster(path string, n *yaml.Node, cc *ClusterConfig) {
	d.mapping(path, n, []keyField{
		{"peers", func(p string, v *yaml.Node) { d.peers(p, v, cc) }},
		{"bootstrap_expect", func(p string, v *yaml.Node) {
			d.integer(p, v, 1, 99, "the number of servers that form the cluster, 3 or 5 as a rule", &cc.BootstrapExpect)
		}},
		{"join", func(p string, v *yaml.Node) { d.joinAddrs(p, v, cc) }},
		{"timing", func(p string, v *yaml.Node) { d.timing(p, v, &cc.Timing) }},
		{"encrypt", func(p string, v *yaml.Node) { d.encrypt(p, v, &cc.Encrypt) }},
		{"insecure", func(p string, v *yaml.Node) { d.boolean(p, v, &cc.Insecure) }},
		{"tls", func(p string, v *yaml.Node) {
			d.mapping(p, v, []keyField{
				{"ca_file", func(p string, v *yaml.Node) { d.filePath(p, v, pki.DefaultTLSDir+"/"+pki.CACertFile, &cc.TLS.CAFile) }},
				{"cert_file", func(p string, v *yaml.Node) { d.filePath(p, v, pki.DefaultTLSDir+"/lb1.pem", &cc.TLS.CertFile) }},
				{"key_file", func(p string, v *yaml.Node) { d.filePath(p, v, pki.DefaultTLSDir+"/lb1-key.pem", &cc.TLS.KeyFile) }},
			})
		}},
	})
}

// makeKeyHint is how to make a key for cluster.encrypt.
const makeKeyHint = "make one with raftvip keygen (or head -c 32 /dev/urandom | base64), and use the same key on every node"

// GenerateKey returns a new random 32-byte gossip key in standard base64, for
// cluster.encrypt.
func GenerateKey() (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("config: generate key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(key), nil
}

// encrypt decodes the shared key: standard base64 of 16, 24 or 32 bytes.
func (d *decoder) encrypt(path string, n *yaml.Node, dst *[]byte) {
	s, ok := d.scalar(path, n, "a base64 key; "+makeKeyHint)
	if !ok {
		return
	}
	s = strings.TrimSpace(s)
	if s == "" {
		d.add(n.Line, path, "is empty; set a base64 key of 16, 24 or 32 bytes, or remove the line to turn encryption off; %s", makeKeyHint)
		return
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		switch {
		case strings.ContainsAny(s, "-_"):
			d.add(n.Line, path, "is URL-safe base64 (it has '-' or '_'); use standard base64 (with '+' and '/'): %s", makeKeyHint)
		case len(s)%4 != 0 && !strings.ContainsFunc(s, func(r rune) bool {
			return !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || r == '+' || r == '/')
		}):
			d.add(n.Line, path, "is not standard base64: its '=' padding is missing (%d characters, not a multiple of 4); %s", len(s), makeKeyHint)
		default:
			d.add(n.Line, path, "is not standard base64; %s", makeKeyHint)
		}
		return
	}
	switch len(key) {
	case 16, 24, 32:
		*dst = key
	default:
		d.add(n.Line, path, "decodes to %d bytes; a key is 16, 24 or 32 bytes (AES-128, -192 or -256): %s", len(key), makeKeyHint)
	}
}

func (d *decoder) peers(path string, n *yaml.Node, cc *ClusterConfig) {
	const example = "[lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, lb3=198.18.0.13:7300]"
	cc.Peers, d.peerPaths, _ = scalarList(d, path, n, example, "name=ip:port, e.g. lb1=198.18.0.11:7300", ParsePeer,
		unique[Peer]{func(p Peer) any { return p.Name }, func(p Peer, _, first string, line int) string {
			return fmt.Sprintf("%s is listed twice (also %s on line %d); every peer needs its own name", p.Name, first, line)
		}},
		unique[Peer]{func(p Peer) any { return p.Addr }, func(p Peer, _, first string, line int) string {
			return fmt.Sprintf("%s is at %s, like %s on line %d; every peer needs its own ip:port", p.Name, p.Addr, first, line)
		}})
}

// joinAddrs decodes cluster.join: gossip addresses as ip or ip:port. The ports are
// filled in with node.gossip_port once the node section is known (see finish).
func (d *decoder) joinAddrs(path string, n *yaml.Node, cc *ClusterConfig) {
	cc.Join, _, _ = scalarList(d, path, n, "[198.18.0.12:7301, 198.18.0.13:7301]",
		"ip or ip:port of another node's gossip, e.g. 198.18.0.12:7301",
		func(s string) (netip.AddrPort, string) { return ParseJoinAddr(s, 0) },
		unique[netip.AddrPort]{func(ap netip.AddrPort) any { return ap }, func(_ netip.AddrPort, s, first string, line int) string {
			return fmt.Sprintf("%s is listed twice (also %s on line %d); list each address once", s, first, line)
		}})
}

// ParseJoinAddr parses a gossip address to join: an IP address with or without a
// port (IPv6 with a port in brackets). A missing port is port (0 leaves it unset for
// the caller to fill in). The message says what is wrong and what would be right.
func ParseJoinAddr(s string, port uint16) (netip.AddrPort, string) {
	const form = "write ip or ip:port, e.g. 198.18.0.12:7301 or [2001:2::12]:7301"
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.AddrPort{}, "is empty; " + form
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		a, aerr := netip.ParseAddr(strings.Trim(s, "[]"))
		if aerr != nil {
			if host, _, ok := strings.Cut(s, ":"); ok && strings.Count(s, ":") == 1 {
				if _, herr := netip.ParseAddr(host); herr != nil {
					return netip.AddrPort{}, fmt.Sprintf("%q: the host must be an IP address, not a name (raftvip does not resolve names); %s", s, form)
				}
				return netip.AddrPort{}, fmt.Sprintf("%q: the port is not a number from 1 to 65535; %s", s, form)
			}
			return netip.AddrPort{}, fmt.Sprintf("%q is not an IP address (raftvip does not resolve names); %s", s, form)
		}
		ap = netip.AddrPortFrom(a.Unmap(), port)
	} else if ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Sprintf("%q: port 0 is not a port; use the node's node.gossip_port (default %d)", s, DefaultGossipPort)
	}
	if a := ap.Addr(); a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return netip.AddrPort{}, fmt.Sprintf("%q: %s is not a unicast address; use the node.bind address of a node of the cluster", s, a)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ""
}

// ParsePeer parses "name=ip:port".
func ParsePeer(s string) (Peer, string) {
	const form = "write each peer as name=ip:port, e.g. lb2=198.18.0.12:7300"
	name, addr, ok := strings.Cut(s, "=")
	if !ok {
		return Peer{}, fmt.Sprintf("%q has no '='; %s", s, form)
	}
	name, addr = strings.TrimSpace(name), strings.TrimSpace(addr)
	if msg := pki.NodeNameProblem(name); msg != "" {
		return Peer{}, fmt.Sprintf("peer name %q %s", name, msg)
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		if a, err := netip.ParseAddr(addr); err == nil {
			return Peer{}, fmt.Sprintf("%q has no port; write %s=%s (the peer's node.raft_port)", s, name, netip.AddrPortFrom(a, DefaultRaftPort))
		}
		host, _, _ := strings.Cut(addr, ":")
		if host != "" && !strings.HasPrefix(addr, "[") {
			if _, err := netip.ParseAddr(host); err != nil && !strings.Contains(addr, "::") {
				return Peer{}, fmt.Sprintf("%q: the host must be an IP address, not a name (raftvip does not resolve names when it loads its config); %s", s, form)
			}
		}
		return Peer{}, fmt.Sprintf("%q: %q is not ip:port; %s (IPv6 in brackets: lb2=[2001:2::12]:7300)", s, addr, form)
	}
	switch a := ap.Addr(); {
	case ap.Port() == 0:
		return Peer{}, fmt.Sprintf("%q: port 0 is not a port; use the peer's node.raft_port (default %d)", s, DefaultRaftPort)
	case a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return Peer{}, fmt.Sprintf("%q: %s is not a unicast address; use the address the peer has in its node.bind", s, a)
	}
	return Peer{Name: name, Addr: ap}, ""
}

func (d *decoder) timing(path string, n *yaml.Node, t *Timing) {
	v := resolve(n)
	if v != nil && v.Kind == yaml.ScalarNode && !isNull(v) {
		d.profile(path, n, t)
		return
	}
	profile := DefaultProfile
	profileOK := true
	var overrides Timing
	fields := []keyField{{"profile", func(p string, v *yaml.Node) {
		var pt Timing
		profileOK = d.profile(p, v, &pt)
		profile = pt.Profile
	}}}
	for _, k := range timingKnobs() {
		fields = append(fields, keyField{k.key, func(p string, v *yaml.Node) {
			if d.duration(p, v, k.ptr(&overrides)) {
				d.timingSet[k.key] = true
			}
		}})
	}
	if !d.mapping(path, n, fields) || !profileOK {
		return
	}
	*t, _ = Profile(profile)
	for _, k := range timingKnobs() {
		if d.timingSet[k.key] {
			*k.ptr(t) = *k.ptr(&overrides)
		}
	}
}

// profile decodes a profile name into t.
func (d *decoder) profile(path string, n *yaml.Node, t *Timing) bool {
	names := timingProfileNames()
	s, ok := d.scalar(path, n, "a timing profile: "+orList(names))
	if !ok {
		return false
	}
	p, ok := Profile(s)
	if !ok {
		if c, close := closest(s, names); close {
			d.add(n.Line, path, "unknown timing profile %q; did you mean %q? (profiles: %s)", s, c, orList(names))
		} else {
			d.add(n.Line, path, "unknown timing profile %q; use %s", s, orList(names))
		}
		return false
	}
	*t = p
	return true
}
