package test

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// AgentConfig is the agent's YAML configuration as the lab writes it (DESIGN §6).
// Options.Configure may change it per node before it is written; Extra carries keys
// the lab does not know about (checks, vrrp, ...).
type AgentConfig struct {
	Node     NodeSection    `yaml:"node"`
	Cluster  ClusterSection `yaml:"cluster"`
	Admin    AdminSection   `yaml:"admin"`
	VIP      *VIPSection    `yaml:"vip,omitempty"`
	Groups   []GroupSection `yaml:"groups,omitempty"`
	Priority int            `yaml:"priority,omitempty"`
	VRRP     *VRRPSection   `yaml:"vrrp,omitempty"`
	Log      LogSection     `yaml:"log"`
	Extra    map[string]any `yaml:",inline"`
}

// NodeSection is `node:`.
type NodeSection struct {
	Name       string `yaml:"name"`
	DataDir    string `yaml:"data_dir"`
	Bind       string `yaml:"bind"`
	RaftPort   int    `yaml:"raft_port"`
	GossipPort int    `yaml:"gossip_port"`
	Role       string `yaml:"role,omitempty"`
}

// ClusterSection is `cluster:`. A lab writes either Peers (static membership) or
// BootstrapExpect and Join (formation by gossip); a node that gets neither joins later
// with `raftvip join`.
type ClusterSection struct {
	Peers           []string    `yaml:"peers,omitempty"`
	BootstrapExpect int         `yaml:"bootstrap_expect,omitempty"`
	Join            []string    `yaml:"join,omitempty"`
	Timing          string      `yaml:"timing,omitempty"`
	Encrypt         string      `yaml:"encrypt,omitempty"`
	TLS             *TLSSection `yaml:"tls,omitempty"`
	// Insecure lets the agent run without tls or encrypt; the lab sets it unless
	// Options.TLS asks for both.
	Insecure bool `yaml:"insecure,omitempty"`
}

// TLSSection is `cluster.tls:`.
type TLSSection struct {
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// AdminSection is `admin:`.
type AdminSection struct {
	Socket    string `yaml:"socket"`
	Listen    string `yaml:"listen,omitempty"`
	TokenFile string `yaml:"token_file,omitempty"`
}

// VIPSection is `vip:`.
type VIPSection struct {
	Interface string      `yaml:"interface"`
	Addresses []string    `yaml:"addresses"`
	Lifetime  string      `yaml:"lifetime,omitempty"`
	Fencing   string      `yaml:"fencing,omitempty"`
	GARP      GARPSection `yaml:"garp"`
}

// GroupSection is one entry of `groups:`. Extra takes keys the lab does not model
// (track, together, vrrp, ...).
type GroupSection struct {
	Name            string         `yaml:"name"`
	Interface       string         `yaml:"interface"`
	Addresses       []string       `yaml:"addresses"`
	Priority        int            `yaml:"priority,omitempty"`
	Lifetime        string         `yaml:"lifetime,omitempty"`
	Fencing         string         `yaml:"fencing,omitempty"`
	MinMoveInterval string         `yaml:"min_move_interval,omitempty"`
	GARP            GARPSection    `yaml:"garp"`
	Extra           map[string]any `yaml:",inline"`
}

// GARPSection is `vip.garp:`.
type GARPSection struct {
	Repeat   int    `yaml:"repeat"`
	Interval string `yaml:"interval"`
}

// VRRPSection is the config's `vrrp:` section: the cluster's VRRP identity towards
// keepalived (version, VRID, advert interval, authentication, unicast peers).
type VRRPSection struct {
	Enabled        bool     `yaml:"enabled"`
	Version        int      `yaml:"version,omitempty"`
	VRID           int      `yaml:"vrid"`
	AdvertInterval string   `yaml:"advert_interval,omitempty"`
	AuthPass       string   `yaml:"auth_pass,omitempty"`
	UnicastPeers   []string `yaml:"unicast_peers,omitempty"`
	UnicastSrc     string   `yaml:"unicast_src,omitempty"`
	Interface      string   `yaml:"interface,omitempty"`
}

// LogSection is `log:`.
type LogSection struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Ports every node uses (each node has its own namespace, so they can be equal).
const (
	RaftPort   = 7300
	GossipPort = 7301
)

// GossipAddr is n's gossip address, ip:port, as `cluster.join` and `raftvip join`
// take it.
func GossipAddr(n *Node) string {
	return fmt.Sprintf("%s:%d", n.Addr4.Addr(), GossipPort)
}

// clusterSection builds n's `cluster:` by Options.Formation: the first Options.Initial
// nodes are the cluster, listed in everyone's peers or found through join; the nodes
// after them get neither.
func (l *Lab) clusterSection(n *Node) ClusterSection {
	o := l.opts
	cs := ClusterSection{Timing: o.Timing, Encrypt: o.Encrypt, Insecure: !o.TLS}
	if o.TLS {
		cs.TLS = NodeTLS(l.TLSDir(), n.Name)
	}
	initial := l.Nodes[:o.Initial]
	if !slices.Contains(initial, n) {
		return cs
	}
	switch o.Formation {
	case FormationGossip:
		cs.BootstrapExpect = o.Initial
		for _, m := range initial {
			if m != n {
				cs.Join = append(cs.Join, GossipAddr(m))
			}
		}
	default:
		for _, m := range initial {
			cs.Peers = append(cs.Peers, fmt.Sprintf("%s=%s:%d", m.Name, m.Addr4.Addr(), RaftPort))
		}
	}
	return cs
}

// agentConfig builds the configuration of node n.
func (l *Lab) agentConfig(n *Node) AgentConfig {
	o := l.opts
	addrs := []string{l.VIP4.String()}
	if l.VIP6.IsValid() {
		addrs = append(addrs, l.VIP6.String())
	}
	c := AgentConfig{
		Node: NodeSection{
			Name:       n.Name,
			DataDir:    n.DataDir,
			Bind:       n.Addr4.Addr().String(),
			RaftPort:   RaftPort,
			GossipPort: GossipPort,
		},
		Cluster:  l.clusterSection(n),
		Admin:    AdminSection{Socket: n.Socket},
		Priority: o.Priorities[n.Name],
		VRRP:     l.vrrpSection(n),
		Log:      LogSection{Level: o.LogLevel, Format: "text"},
	}
	garp := GARPSection{Repeat: o.GARPRepeat, Interval: durationString(o.GARPInterval)}
	if len(o.Groups) == 0 {
		c.VIP = &VIPSection{Interface: "eth0", Addresses: addrs, Lifetime: durationString(o.Lifetime), Fencing: o.Fencing, GARP: garp}
	}
	for _, g := range o.Groups {
		c.Groups = append(c.Groups, GroupSection{Name: g.Name, Interface: "eth0", Addresses: []string{g.VIP.String()},
			Priority: g.Priorities[n.Name], Lifetime: durationString(o.Lifetime), Fencing: o.Fencing,
			MinMoveInterval: durationString(g.MinMoveInterval), GARP: garp})
	}
	if n.Witness {
		c.Node.Role = "witness"
		c.VIP, c.Groups, c.VRRP, c.Priority = nil, nil, nil, 0
	}
	if o.Configure != nil {
		o.Configure(n, &c)
	}
	return c
}

// durationString formats d the way a human writes it in YAML ("2s", "1.5s", "300ms").
func durationString(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	return s
}

func marshalConfig(c AgentConfig) ([]byte, error) {
	b, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("lab: marshal agent config: %w", err)
	}
	return append([]byte("# written by the raftvip e2e lab\n"), b...), nil
}

// haproxyConfig is the HAProxy configuration of node n: it answers every HTTP request
// with 200 and its own name, on IPv4 and IPv6, with transparent binds so that the
// sockets of connections accepted on the VIP keep working after the VIP moved away.
func (l *Lab) haproxyConfig(n *Node) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# written by the raftvip e2e lab
global
    stats socket %s mode 600 level admin
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend fe
    bind :80 transparent
    bind :::80 v6only transparent
    http-request return status 200 content-type text/plain string "%s\n"
`, n.HAProxySocket, n.Name)
	if l.opts.HAProxyExtra != "" {
		b.WriteString("\n" + l.opts.HAProxyExtra + "\n")
	}
	return b.String()
}
