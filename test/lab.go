package test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Lab addresses (DESIGN §8: only the benchmarking ranges).
var (
	// VIP4 is the IPv4 VIP every lab configures.
	VIP4 = netip.MustParsePrefix("198.18.0.10/24")
	// VIP6 is the IPv6 VIP a lab configures with Options.IPv6.
	VIP6 = netip.MustParsePrefix("2001:2::10/64")
	// ClientAddr4 and ClientAddr6 are the client's addresses.
	ClientAddr4 = netip.MustParsePrefix("198.18.0.100/24")
	ClientAddr6 = netip.MustParsePrefix("2001:2::100/64")
)

// Options shape a lab. The zero value is a three-node lab with the defaults of the
// agent contract (static cluster.peers, timing lan, fencing standard, lifetime 2s,
// GARP 5×1s, IPv4 VIP only).
type Options struct {
	Nodes        int            // number of load balancers, default 3 (at most 60)
	Timing       string         // timing profile: lan (default), fast, wan
	Fencing      string         // standard (default) or strict
	Lifetime     time.Duration  // VIP address lifetime, default 2s
	IPv6         bool           // also configure the IPv6 VIP 2001:2::10/64
	GARPRepeat   int            // default 5
	GARPInterval time.Duration  // default 1s
	Priorities   map[string]int // base priority per node name; unset → agent default
	LogLevel     string         // agent log level, default $RAFTVIP_LOG_LEVEL or info

	// Formation is how the cluster forms: FormationPeers (default: every node of the
	// cluster lists all of them in cluster.peers) or FormationGossip
	// (cluster.bootstrap_expect: Initial and cluster.join: the other nodes of the
	// cluster, ip:7301).
	Formation string
	// Initial is how many nodes, lb1 onwards, make up the cluster (default Nodes). The
	// nodes after them are configured with neither peers, bootstrap_expect nor join:
	// started, they wait for `raftvip join`.
	Initial int
	// Encrypt is cluster.encrypt (base64 gossip key) on every node; empty: none.
	Encrypt string
	// TLS secures the cluster as production does: the lab makes a CA and a certificate
	// per node with `raftvip tls` in TLSDir, a gossip key with `raftvip keygen` unless
	// Encrypt is set, and gives every agent cluster.tls and cluster.encrypt. Without
	// it every agent runs with cluster.insecure: true.
	TLS bool

	// Configure, if set, may change each node's agent configuration before it is
	// written (Extra takes keys the lab does not model).
	Configure func(n *Node, c *AgentConfig)
	// HAProxyExtra is appended to every node's HAProxy configuration.
	HAProxyExtra string

	// Keepalived adds this many nodes, ka1, ka2, ..., that run stock keepalived
	// (KeepalivedBinary) instead of the agent, in the VRRP group of Options.VRRP
	// (defaults if nil): each has its own namespace on the bridge, the address after
	// the load balancers' (198.18.0.14 after three of them) and HAProxy like theirs.
	// Their priority is Priorities[name], default 100. StartKeepalived starts one.
	Keepalived int
	// VRRP, if set, gives every agent a vrrp: section for this group and configures
	// the keepalived nodes for it. Nil: the agents do not speak VRRP.
	VRRP *VRRPOptions
	// ConfigureKeepalived, if set, may change each keepalived node's configuration
	// before it is written.
	ConfigureKeepalived func(n *Node, c *KeepalivedConfig)
	// KeepalivedOnly makes a lab of keepalived load balancers alone: no node runs the
	// agent (Nodes and Initial are ignored), and ka1, ka2, ... take the load
	// balancers' addresses, 198.18.0.11 onwards.
	KeepalivedOnly bool
	// KeepalivedCheck, if set, makes every keepalived node track its own HAProxy with
	// a vrrp_script (see ScriptCheck).
	KeepalivedCheck *ScriptCheck

	// Groups, if set, configures these VIP groups (DESIGN §9) instead of the one VIP:
	// the first group's VIP is the lab's VIP4 (Holder, Get and the like follow it),
	// and Options.IPv6 is not allowed with them. With VRRP, the keepalived nodes get
	// VIP4 and the agents a top-level vrrp: section; move them with Configure and
	// ConfigureKeepalived.
	Groups []LabGroup

	// ExtraVIPs are more addresses the sampler watches: VIPs that a test configures
	// itself with Configure.
	ExtraVIPs []netip.Addr

	// Witness makes the last of the Nodes a witness (node.role: witness): a voter with
	// no VIP, no checks, no VRRP and no HAProxy. Nodes: 3 is the pair with its witness.
	Witness bool

	StartAgents bool // start the agent on every node once the lab is up
	Keep        bool // keep the work directory after Close (also with env RAFTVIP_KEEP=1; kept anyway when a test failed)

	// Logf receives progress lines (NewLab defaults it to tb.Logf).
	Logf func(format string, args ...any)
}

// Formations for Options.Formation.
const (
	FormationPeers  = "peers"
	FormationGossip = "gossip"
)

func (o *Options) defaults() {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Initial == 0 {
		o.Initial = o.Nodes
	}
	if o.Formation == "" {
		o.Formation = FormationPeers
	}
	if o.Timing == "" {
		o.Timing = "lan"
	}
	if o.Fencing == "" {
		o.Fencing = "standard"
	}
	if o.Lifetime == 0 {
		o.Lifetime = 2 * time.Second
	}
	if o.GARPRepeat == 0 {
		o.GARPRepeat = 5
	}
	if o.GARPInterval == 0 {
		o.GARPInterval = time.Second
	}
	if o.LogLevel == "" {
		o.LogLevel = os.Getenv("RAFTVIP_LOG_LEVEL") // debugging a flaky scenario
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.KeepalivedOnly {
		o.Nodes, o.Initial = 0, 0
	}
}

// Node is one load balancer of the lab: a namespace with eth0 plugged into the bridge,
// HAProxy and (when started) the raftvip agent — or, with KA set, keepalived.
type Node struct {
	Name  string       // lb1, lb2, ... (ka1, ka2, ... for keepalived nodes)
	NS    string       // namespace, <prefix>-lb1
	Port  string       // its bridge port in the bridge namespace: lb1
	Addr4 netip.Prefix // 198.18.0.11/24, ...
	Addr6 netip.Prefix // 2001:2::11/64, ...

	Dir            string // work directory
	DataDir        string // agent data directory
	Config         string // agent configuration file
	Socket         string // agent admin socket
	HAProxyConfig  string
	HAProxySocket  string // HAProxy stats socket (level admin)
	HAProxyPIDFile string // written by the lab at every start of HAProxy

	KA *Keepalived // set on a keepalived node (Options.Keepalived); such a node runs no agent
	// Witness: the node is a witness (Options.Witness): its agent holds no VIP and it
	// runs no HAProxy.
	Witness bool
	// AgentArgs are more arguments for its agent, e.g. a second --config for a witness
	// that serves two clusters.
	AgentArgs []string

	agent       *proc
	agentRuns   int
	haproxy     *proc
	haproxyRuns int
}

func (n *Node) String() string { return n.Name }

// Lab is a running network-namespace lab (DESIGN §8). Create it with NewLab (tests) or
// New (programs); tear it down with Close.
type Lab struct {
	Prefix   string  // rv + 4 hex digits; every namespace is <prefix>-<role>
	Dir      string  // StateRoot/<prefix>
	BridgeNS string  // <prefix>-br, holds br0 and the ports lb1.., ka1.. and cl
	ClientNS string  // <prefix>-cl
	Nodes    []*Node // the load balancers that run the agent
	KANodes  []*Node // the keepalived nodes (Options.Keepalived)
	VIP4     netip.Prefix
	VIP6     netip.Prefix // invalid unless Options.IPv6

	opts    Options
	logf    func(string, ...any)
	spawn   *spawner
	lock    *os.File
	mu      sync.Mutex
	state   labState
	blocked map[[2]string]bool // bridge ports cut from each other, a < b
	closers []func()
	closed  bool
	keep    bool
}

var sweepOnce sync.Once

// NewLab builds a lab for a test or benchmark and registers its teardown with
// tb.Cleanup. It skips (or, with RAFTVIP_E2E=require, fails) when not root. Once per
// process it first sweeps what earlier, dead runs left behind. When the test failed,
// the tail of every agent log is printed and the work directory is kept.
func NewLab(tb testing.TB, opts Options) *Lab {
	tb.Helper()
	RequireRoot(tb)
	if opts.Logf == nil {
		opts.Logf = tb.Logf
	}
	sweepOnce.Do(func() {
		if err := Sweep(opts.Logf); err != nil {
			tb.Logf("sweep: %v", err)
		}
	})
	l, err := New(opts)
	if err != nil {
		tb.Fatalf("lab: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			l.Keep()
			l.stopClosers()
			l.stopProcesses()
			tb.Logf("lab %s failed; work directory kept: %s\n%s", l.Prefix, l.Dir, l.LogTails(40))
		}
		if err := l.Close(); err != nil {
			tb.Errorf("lab teardown: %v", err)
		}
	})
	return l
}

// New builds a lab (namespaces, bridge, addresses, HAProxy on every node and, with
// Options.StartAgents, the agents). On error everything built so far is torn down.
// Programs should call Sweep first.
func New(opts Options) (*Lab, error) {
	opts.defaults()
	switch {
	case opts.KeepalivedOnly:
		if opts.Keepalived < 1 {
			return nil, errors.New("lab: KeepalivedOnly without keepalived nodes")
		}
	case opts.Nodes < 1 || opts.Nodes > 60:
		return nil, fmt.Errorf("lab: %d nodes: want 1..60", opts.Nodes)
	case opts.Initial < 1 || opts.Initial > opts.Nodes:
		return nil, fmt.Errorf("lab: %d initial nodes: want 1..%d", opts.Initial, opts.Nodes)
	}
	if opts.Formation != FormationPeers && opts.Formation != FormationGossip {
		return nil, fmt.Errorf("lab: formation %q: want %q or %q", opts.Formation, FormationPeers, FormationGossip)
	}
	if err := opts.checkVRRP(); err != nil {
		return nil, err
	}
	if len(opts.Groups) > 0 && (opts.IPv6 || opts.KeepalivedOnly) {
		return nil, errors.New("lab: Groups with IPv6 or KeepalivedOnly: not modelled; configure them with Configure")
	}
	for i, g := range opts.Groups {
		if g.MinMoveInterval == 0 {
			opts.Groups[i].MinMoveInterval = time.Second
		}
	}
	keep := opts.Keep || os.Getenv("RAFTVIP_KEEP") == "1"
	l := &Lab{opts: opts, logf: opts.Logf, VIP4: VIP4, blocked: map[[2]string]bool{}, keep: keep}
	if opts.IPv6 {
		l.VIP6 = VIP6
	}
	if len(opts.Groups) > 0 {
		l.VIP4 = opts.Groups[0].VIP
	}
	if err := l.reserve(); err != nil {
		return nil, err
	}
	l.spawn = newSpawner()
	if err := l.build(); err != nil {
		if cerr := l.Close(); cerr != nil {
			err = fmt.Errorf("%w (teardown: %v)", err, cerr)
		}
		return nil, err
	}
	return l, nil
}

// reserve picks an unused prefix, creates its directory and takes its lock.
func (l *Lab) reserve() error {
	if err := os.MkdirAll(StateRoot, 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	for range 50 {
		var b [2]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("lab: prefix: %w", err)
		}
		prefix := "rv" + hex.EncodeToString(b[:])
		dir := filepath.Join(StateRoot, prefix)
		if len(labNamespaces(prefix)) > 0 {
			continue
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			if errors.Is(err, os.ErrExist) {
				continue
			}
			return fmt.Errorf("lab: %w", err)
		}
		lk, err := lockDir(dir)
		if err != nil {
			os.RemoveAll(dir)
			return fmt.Errorf("lab: lock %s: %w", dir, err)
		}
		l.Prefix, l.Dir, l.lock = prefix, dir, lk
		l.BridgeNS, l.ClientNS = prefix+"-br", prefix+"-cl"
		l.state = labState{Prefix: prefix, Dir: dir, Owner: selfRecord()}
		return l.saveState()
	}
	return errors.New("lab: no free prefix after 50 tries")
}

// saveState writes the state file; l.mu must not be held.
func (l *Lab) saveState() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.saveStateLocked()
}

func (l *Lab) saveStateLocked() error {
	if err := writeState(l.Dir, &l.state); err != nil {
		return fmt.Errorf("lab: state file: %w", err)
	}
	return nil
}

func (l *Lab) build() error {
	t0 := time.Now()
	for i := range l.opts.Nodes {
		name := fmt.Sprintf("lb%d", i+1)
		dir := filepath.Join(l.Dir, name)
		n := &Node{
			Name:           name,
			NS:             l.Prefix + "-" + name,
			Port:           name,
			Addr4:          netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(11 + i)}), 24),
			Addr6:          netip.MustParsePrefix(fmt.Sprintf("2001:2::%d/64", 11+i)),
			Dir:            dir,
			DataDir:        filepath.Join(dir, "data"),
			Config:         filepath.Join(dir, "raftvip.yaml"),
			Socket:         filepath.Join(dir, "raftvip.sock"),
			HAProxyConfig:  filepath.Join(dir, "haproxy.cfg"),
			HAProxySocket:  filepath.Join(dir, "haproxy.sock"),
			HAProxyPIDFile: filepath.Join(dir, "haproxy.pid"),
			Witness:        l.opts.Witness && i == l.opts.Nodes-1,
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
		l.Nodes = append(l.Nodes, n)
	}
	for j := range l.opts.Keepalived {
		n, err := l.newKANode(j)
		if err != nil {
			return err
		}
		l.KANodes = append(l.KANodes, n)
	}

	// Namespaces first, recorded before they exist so a sweep always finds them.
	nss := []string{l.BridgeNS, l.ClientNS}
	for _, n := range l.AllNodes() {
		nss = append(nss, n.NS)
	}
	l.mu.Lock()
	l.state.Namespaces = nss
	l.mu.Unlock()
	if err := l.saveState(); err != nil {
		return err
	}
	for _, ns := range nss {
		if err := l.ip("netns", "add", ns); err != nil {
			return err
		}
	}
	// The switch: a bridge without STP or multicast snooping, and no IPv6 of its own.
	if err := l.sysctl(l.BridgeNS, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"); err != nil {
		return err
	}
	if err := l.ip("-n", l.BridgeNS, "link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0"); err != nil {
		return err
	}
	// Hosts: no duplicate address detection, so addresses are usable at once.
	hosts := []struct{ ns, port string }{{l.ClientNS, "cl"}}
	for _, n := range l.AllNodes() {
		hosts = append(hosts, struct{ ns, port string }{n.NS, n.Port})
	}
	for _, h := range hosts {
		if err := l.sysctl(h.ns, "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"); err != nil {
			return err
		}
		// The veth pair is created directly in the two lab namespaces.
		if err := l.ip("link", "add", "eth0", "netns", h.ns, "type", "veth", "peer", "name", h.port, "netns", l.BridgeNS); err != nil {
			return err
		}
		if err := l.ip("-n", l.BridgeNS, "link", "set", "dev", h.port, "master", "br0", "up"); err != nil {
			return err
		}
		if err := l.ip("-n", h.ns, "link", "set", "dev", "lo", "up"); err != nil {
			return err
		}
	}
	addr := func(ns string, a4, a6 netip.Prefix) error {
		if err := l.ip("-n", ns, "addr", "add", a4.String(), "dev", "eth0"); err != nil {
			return err
		}
		if err := l.ip("-n", ns, "addr", "add", a6.String(), "dev", "eth0", "nodad"); err != nil {
			return err
		}
		return l.ip("-n", ns, "link", "set", "dev", "eth0", "up")
	}
	if err := addr(l.ClientNS, ClientAddr4, ClientAddr6); err != nil {
		return err
	}
	for _, n := range l.AllNodes() {
		if err := addr(n.NS, n.Addr4, n.Addr6); err != nil {
			return err
		}
	}
	if err := l.ip("-n", l.BridgeNS, "link", "set", "dev", "br0", "up"); err != nil {
		return err
	}

	if l.opts.TLS {
		if err := l.makeTLS(); err != nil {
			return err
		}
	}
	for _, n := range l.Nodes {
		if err := l.WriteConfig(n, l.agentConfig(n)); err != nil {
			return err
		}
		if err := os.WriteFile(n.HAProxyConfig, []byte(l.haproxyConfig(n)), 0o644); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
		if err := os.MkdirAll(n.DataDir, 0o700); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	for _, n := range l.KANodes {
		if l.opts.KeepalivedCheck != nil {
			if err := l.writeCheckScript(n); err != nil {
				return err
			}
		}
		if err := l.writeKeepalivedConfig(n); err != nil {
			return err
		}
		if err := os.WriteFile(n.HAProxyConfig, []byte(l.haproxyConfig(n)), 0o644); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	for _, n := range l.AllNodes() {
		if n.Witness {
			continue
		}
		if err := l.StartHAProxy(n); err != nil {
			return err
		}
	}
	l.logf("lab %s up in %v: %d nodes (%d formed by %s)%s, VIP %s%s, timing %s, fencing %s, lifetime %v, dir %s",
		l.Prefix, time.Since(t0).Round(time.Millisecond), len(l.Nodes), l.opts.Initial, l.opts.Formation, l.kaSuffix(), l.VIP4, l.vip6Suffix(),
		l.opts.Timing, l.opts.Fencing, l.opts.Lifetime, l.Dir)
	if l.opts.StartAgents {
		if err := l.StartAgents(); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) vip6Suffix() string {
	if l.VIP6.IsValid() {
		return " + " + l.VIP6.String()
	}
	return ""
}

// LabGroup is one VIP group of Options.Groups.
type LabGroup struct {
	Name       string
	VIP        netip.Prefix   // one IPv4 VIP in 198.18.0.0/24
	Priorities map[string]int // this group's priority per node; unset: the agent's default
	// MinMoveInterval is the group's min_move_interval; 0: the lab's 1s (the agent's
	// default of 10 s would hold preemption back for most of a test).
	MinMoveInterval time.Duration
}

// GroupVIP returns the VIP of group name, or the invalid address.
func (l *Lab) GroupVIP(name string) netip.Addr {
	for _, g := range l.opts.Groups {
		if g.Name == name {
			return g.VIP.Addr()
		}
	}
	return netip.Addr{}
}

// Options returns the options the lab was built with (defaults filled in).
func (l *Lab) Options() Options { return l.opts }

// VIPs returns the configured VIP addresses (IPv4 first).
func (l *Lab) VIPs() []netip.Addr {
	if len(l.opts.Groups) > 0 {
		var v []netip.Addr
		for _, g := range l.opts.Groups {
			v = append(v, g.VIP.Addr())
		}
		return v
	}
	v := []netip.Addr{l.VIP4.Addr()}
	if l.VIP6.IsValid() {
		v = append(v, l.VIP6.Addr())
	}
	return v
}

// Node returns the node called name (lb1, ..., ka1, ...), or nil.
func (l *Lab) Node(name string) *Node {
	for _, n := range l.AllNodes() {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// AllNodes returns the load balancers, then the keepalived nodes.
func (l *Lab) AllNodes() []*Node {
	return append(slices.Clone(l.Nodes), l.KANodes...)
}

// Peers returns the other nodes of n's kind: the other load balancers that run the
// agent, or the other keepalived nodes.
func (l *Lab) Peers(n *Node) []*Node {
	kind := l.Nodes
	if n.KA != nil {
		kind = l.KANodes
	}
	return slices.DeleteFunc(slices.Clone(kind), func(m *Node) bool { return m == n })
}

// Others returns every load balancer but the given ones.
func (l *Lab) Others(except ...*Node) []*Node {
	var out []*Node
	for _, n := range l.Nodes {
		skip := false
		for _, e := range except {
			skip = skip || e == n
		}
		if !skip {
			out = append(out, n)
		}
	}
	return out
}

// WriteConfig writes c as n's agent configuration; it takes effect at the next
// StartAgent.
func (l *Lab) WriteConfig(n *Node, c AgentConfig) error {
	b, err := marshalConfig(c)
	if err != nil {
		return err
	}
	if err := os.WriteFile(n.Config, b, 0o644); err != nil {
		return fmt.Errorf("lab: write %s: %w", n.Config, err)
	}
	return nil
}

// ip runs `ip args...` in the root namespace (every call names a lab namespace).
func (l *Lab) ip(args ...string) error {
	_, err := run(10*time.Second, "ip", args...)
	return err
}

// sysctl sets kernel parameters inside namespace ns.
func (l *Lab) sysctl(ns string, kv ...string) error {
	_, err := l.Exec(ns, append([]string{"sysctl", "-qw"}, kv...)...)
	return err
}

// Exec runs argv inside namespace ns (`ip netns exec`) and returns its combined
// output; at most 10 s.
func (l *Lab) Exec(ns string, argv ...string) (string, error) {
	return run(10*time.Second, "ip", append([]string{"netns", "exec", ns}, argv...)...)
}

// run runs a short command and returns its combined output.
func run(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("lab: %s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// addCloser registers f to run at Close before processes are stopped (probes,
// samplers).
func (l *Lab) addCloser(f func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closers = append(l.closers, f)
}

func (l *Lab) stopClosers() {
	l.mu.Lock()
	cs := l.closers
	l.closers = nil
	l.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

// stopProcesses SIGKILLs every agent, keepalived and HAProxy, and waits for them.
func (l *Lab) stopProcesses() {
	for _, n := range l.KANodes {
		l.killKeepalived(n)
	}
	l.mu.Lock()
	var agents, proxies []*proc
	for _, n := range l.AllNodes() {
		if n.agent != nil {
			agents = append(agents, n.agent)
		}
		if n.haproxy != nil {
			proxies = append(proxies, n.haproxy)
		}
	}
	l.mu.Unlock()
	for _, p := range agents {
		p.signal(os.Kill)
	}
	for _, p := range proxies {
		p.signal(os.Kill)
	}
	for _, p := range append(agents, proxies...) {
		if !p.wait(5 * time.Second) {
			l.logf("lab %s: %s pid %d did not exit after SIGKILL", l.Prefix, p.role, p.rec.PID)
		}
	}
}

// Close tears the lab down: stops probes and samplers, kills every process the lab
// started, deletes the namespaces (and with them veths, bridge and nftables rules) and
// removes the work directory unless it is kept. Safe to call more than once.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()

	l.stopClosers()
	l.stopProcesses()
	if l.spawn != nil {
		l.spawn.stop()
	}
	var errs []error
	for _, ns := range labNamespaces(l.Prefix) {
		if err := l.ip("netns", "delete", ns); err != nil {
			errs = append(errs, err)
		}
	}
	if left := labNamespaces(l.Prefix); len(left) > 0 {
		errs = append(errs, fmt.Errorf("lab: namespaces left after teardown: %v", left))
	}
	l.mu.Lock()
	keep := l.keep
	l.mu.Unlock()
	if keep {
		l.mu.Lock()
		l.state.Kept = true
		l.state.Procs = nil
		errs = append(errs, l.saveStateLocked())
		l.mu.Unlock()
	} else if err := os.RemoveAll(l.Dir); err != nil {
		errs = append(errs, fmt.Errorf("lab: %w", err))
	}
	if l.lock != nil {
		l.lock.Close()
	}
	l.logf("lab %s torn down", l.Prefix)
	return errors.Join(errs...)
}

// Keep marks the work directory to be kept at Close.
func (l *Lab) Keep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keep = true
}
