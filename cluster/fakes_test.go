package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/cluster/gossip"
)

// The fakes of a node's I/O edges for the in-process tests: a VIP that only records
// who holds it, gossip as one shared table, and a network of raft.InmemTransports
// with the cluster RPC over in-memory pipes.

// fakeVIPs is the VIPs as every node of a lab sees them: which nodes hold each
// group now, every change with its time, and every moment two held a group at once.
type fakeVIPs struct {
	mu         sync.Mutex
	holding    map[string]map[string]time.Time // group → node → since when
	dead       map[string]bool                 // crashed: its Set calls no longer reach a kernel
	changes    []vipChange
	violations []string
}

// vipChange is one node taking or letting go of a group.
type vipChange struct {
	At    time.Time
	Group string
	Node  string
	Hold  bool
	Why   string // "set", or "guard" for a crashed node's VIP removed by its guard
}

func newFakeVIPs() *fakeVIPs {
	return &fakeVIPs{holding: map[string]map[string]time.Time{}, dead: map[string]bool{}}
}

// set is node's Set of group g: it records the change and, on a hold, any other holder.
func (v *fakeVIPs) set(g, node string, hold bool, why string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.dead[node] && why == "set" {
		return
	}
	hs := v.holding[g]
	if hs == nil {
		hs = map[string]time.Time{}
		v.holding[g] = hs
	}
	_, held := hs[node]
	switch {
	case hold && !held:
		now := time.Now()
		for other := range hs {
			v.violations = append(v.violations, fmt.Sprintf("%s: %s took group %s while %s held it", now.Format("15:04:05.000"), node, g, other))
		}
		hs[node] = now
		v.changes = append(v.changes, vipChange{At: now, Group: g, Node: node, Hold: true, Why: why})
	case !hold && held:
		delete(hs, node)
		v.changes = append(v.changes, vipChange{At: time.Now(), Group: g, Node: node, Why: why})
	}
}

// crash cuts node's VIPs off from its agent and removes them at once, as the guard
// does when the agent dies.
func (v *fakeVIPs) crash(node string) {
	v.mu.Lock()
	var groups []string
	for g := range v.holding {
		groups = append(groups, g)
	}
	v.mu.Unlock()
	for _, g := range groups {
		v.set(g, node, false, "guard")
	}
	v.mu.Lock()
	v.dead[node] = true
	v.mu.Unlock()
}

// revive lets a node that crashed set its VIPs again, once it is started anew.
func (v *fakeVIPs) revive(node string) {
	v.mu.Lock()
	delete(v.dead, node)
	v.mu.Unlock()
}

// holders returns the nodes holding group g now, sorted.
func (v *fakeVIPs) holders(g string) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []string
	for n := range v.holding[g] {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// heldSince returns when node took group g, if it holds it.
func (v *fakeVIPs) heldSince(g, node string) (time.Time, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	at, ok := v.holding[g][node]
	return at, ok
}

// lastDrop returns when node last let go of group g.
func (v *fakeVIPs) lastDrop(g, node string) time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	var at time.Time
	for _, c := range v.changes {
		if c.Group == g && c.Node == node && !c.Hold {
			at = c.At
		}
	}
	return at
}

// problems returns every overlap seen.
func (v *fakeVIPs) problems() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.violations)
}

// history is the changes, one per line, for a failing test's log.
func (v *fakeVIPs) history() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var b strings.Builder
	for _, c := range v.changes {
		what := "drops"
		if c.Hold {
			what = "holds"
		}
		fmt.Fprintf(&b, "%s %s %s %s (%s)\n", c.At.Format("15:04:05.000"), c.Node, what, c.Group, c.Why)
	}
	return b.String()
}

// fakeVIP is one node's VIP manager of one group.
type fakeVIP struct {
	group, node string
	all         *fakeVIPs
}

func (f fakeVIP) Set(_ context.Context, hold bool) error {
	f.all.set(f.group, f.node, hold, "set")
	return nil
}
func (fakeVIP) Cleanup() ([]netip.Prefix, error) { return nil, nil }
func (fakeVIP) Announce()                        {}
func (fakeVIP) Close()                           {}

// fakeGossip is gossip as one table every node of a lab reads: a member's metadata
// reaches the others at once, and a member that stops is dead at once.
type fakeGossip struct {
	mu        sync.Mutex
	members   map[string]*fakeMember
	listeners map[string]func()          // by node: its OnChange
	views     map[string]*fakeGossipNode // by node: its view, for its overrides
}

type fakeMember struct {
	addr  netip.AddrPort
	state gossip.State
	meta  []byte
}

func newFakeGossip() *fakeGossip {
	return &fakeGossip{members: map[string]*fakeMember{}, listeners: map[string]func(){}, views: map[string]*fakeGossipNode{}}
}

// update changes name's entry under the lock and tells every node.
func (g *fakeGossip) update(name string, f func(m *fakeMember)) {
	g.mu.Lock()
	m, ok := g.members[name]
	if !ok {
		m = &fakeMember{}
		g.members[name] = m
	}
	f(m)
	// What a node was told directly gives way to the member's own newer word.
	for _, v := range g.views {
		v.mu.Lock()
		delete(v.overrides, name)
		v.mu.Unlock()
	}
	var tell []func()
	for _, l := range g.listeners {
		tell = append(tell, l)
	}
	g.mu.Unlock()
	for _, l := range tell {
		l()
	}
}

// join starts a node's gossip.
func (g *fakeGossip) join(gc gossip.Config) *fakeGossipNode {
	view := &fakeGossipNode{g: g, self: gc.Name, overrides: map[string]gossip.Meta{}}
	g.mu.Lock()
	g.listeners[gc.Name], g.views[gc.Name] = gc.OnChange, view
	g.mu.Unlock()
	g.update(gc.Name, func(m *fakeMember) { m.addr, m.state, m.meta = gc.Bind, gossip.Alive, gc.Meta })
	return view
}

// fakeGossipNode is one node's view of the table.
type fakeGossipNode struct {
	g    *fakeGossip
	self string

	mu        sync.Mutex
	overrides map[string]gossip.Meta // fresher metadata a node was told directly
}

func (n *fakeGossipNode) member(name string, m *fakeMember) gossip.Member {
	gm := gossip.Member{Name: name, Addr: m.addr, State: m.state}
	gm.Meta, gm.MetaErr = gossip.DecodeMeta(m.meta)
	n.mu.Lock()
	if o, ok := n.overrides[name]; ok {
		gm.Meta, gm.MetaErr = o, nil
	}
	n.mu.Unlock()
	return gm
}

func (n *fakeGossipNode) All() []gossip.Member {
	n.g.mu.Lock()
	defer n.g.mu.Unlock()
	var out []gossip.Member
	for name, m := range n.g.members {
		out = append(out, n.member(name, m))
	}
	slices.SortFunc(out, func(a, b gossip.Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (n *fakeGossipNode) Member(name string) (gossip.Member, bool) {
	n.g.mu.Lock()
	defer n.g.mu.Unlock()
	m, ok := n.g.members[name]
	if !ok {
		return gossip.Member{}, false
	}
	return n.member(name, m), true
}

func (n *fakeGossipNode) SetMeta(b []byte) {
	n.g.update(n.self, func(m *fakeMember) { m.meta = b })
}

func (n *fakeGossipNode) Join(_ context.Context, addrs []string, report func(error)) {
	if len(addrs) > 0 {
		report(nil)
	}
}

func (n *fakeGossipNode) Contact(addrs []string) (int, error) { return len(addrs), nil }

func (n *fakeGossipNode) NumMembers() int {
	n.g.mu.Lock()
	defer n.g.mu.Unlock()
	alive := 0
	for _, m := range n.g.members {
		if m.state == gossip.Alive {
			alive++
		}
	}
	return alive
}

func (n *fakeGossipNode) Override(name string, meta gossip.Meta) {
	n.mu.Lock()
	n.overrides[name] = meta
	n.mu.Unlock()
}

func (n *fakeGossipNode) stop(state gossip.State) {
	n.g.mu.Lock()
	delete(n.g.listeners, n.self)
	delete(n.g.views, n.self)
	n.g.mu.Unlock()
	n.g.update(n.self, func(m *fakeMember) { m.state = state })
}

func (n *fakeGossipNode) Leave(time.Duration)        { n.stop(gossip.Left) }
func (n *fakeGossipNode) Shutdown()                  { n.stop(gossip.Dead) }
func (n *fakeGossipNode) Rejects() map[string]uint64 { return map[string]uint64{} }

// memNet connects a lab's nodes: Raft over raft.InmemTransport, the cluster RPC over
// net.Pipe. A node can be cut off from all the others and put back.
type memNet struct {
	mu    sync.Mutex
	raft  map[string]*raft.InmemTransport // by raft address
	rpc   map[string]*memListener         // by raft address
	lease map[string]*memListener         // by raft address
	alone map[string]bool                 // raft addresses cut off from the rest
	cut   map[[2]string]bool              // pairs of raft addresses cut from each other
}

func newMemNet() *memNet {
	return &memNet{raft: map[string]*raft.InmemTransport{}, rpc: map[string]*memListener{}, lease: map[string]*memListener{},
		alone: map[string]bool{}, cut: map[[2]string]bool{}}
}

// apart reports whether a and b cannot reach each other. m.mu is held.
func (m *memNet) apart(a, b string) bool {
	return m.alone[a] || m.alone[b] || m.cut[[2]string{a, b}] || m.cut[[2]string{b, a}]
}

// block cuts a and b from each other, both ways, leaving each their other links;
// heal undoes every block.
func (m *memNet) block(a, b string) {
	m.mu.Lock()
	m.cut[[2]string{a, b}] = true
	m.mu.Unlock()
	m.wire()
}

func (m *memNet) heal() {
	m.mu.Lock()
	clear(m.cut)
	m.mu.Unlock()
	m.wire()
}

// attach gives the node at addr a fresh transport connected to every other, and an
// RPC listener.
func (m *memNet) attach(addr string, timeout time.Duration) *network {
	_, t := raft.NewInmemTransportWithTimeout(raft.ServerAddress(addr), timeout)
	ln := &memListener{addr: memAddr(addr), conns: make(chan net.Conn), done: make(chan struct{})}
	lease := &memListener{addr: memAddr(addr), conns: make(chan net.Conn), done: make(chan struct{})}
	m.mu.Lock()
	m.raft[addr], m.rpc[addr], m.lease[addr] = t, ln, lease
	delete(m.alone, addr)
	m.mu.Unlock()
	m.wire()
	return &network{
		raft: t,
		close: func() error {
			ln.Close()
			lease.Close()
			return t.Close()
		},
		rpc:       ln,
		lease:     lease,
		dial:      func(to string, timeout time.Duration) (net.Conn, error) { return m.dial(m.rpc, addr, to, timeout) },
		dialLease: func(to string, timeout time.Duration) (net.Conn, error) { return m.dial(m.lease, addr, to, timeout) },
	}
}

// wire connects every pair of transports that is not cut off, and disconnects the
// others.
func (m *memNet) wire() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for a, ta := range m.raft {
		for b, tb := range m.raft {
			if a == b {
				continue
			}
			if m.apart(a, b) {
				ta.Disconnect(raft.ServerAddress(b))
				continue
			}
			ta.Connect(raft.ServerAddress(b), tb)
		}
	}
}

// isolate cuts addr off from every other node, both ways; rejoin undoes it.
func (m *memNet) isolate(addr string) {
	m.mu.Lock()
	m.alone[addr] = true
	m.mu.Unlock()
	m.wire()
}

func (m *memNet) rejoin(addr string) {
	m.mu.Lock()
	delete(m.alone, addr)
	m.mu.Unlock()
	m.wire()
}

// dial opens a connection from one node to another's listener in lns.
func (m *memNet) dial(lns map[string]*memListener, from, to string, timeout time.Duration) (net.Conn, error) {
	m.mu.Lock()
	ln, ok := lns[to]
	cut := m.apart(from, to)
	m.mu.Unlock()
	if !ok || cut {
		return nil, &net.OpError{Op: "dial", Net: "mem", Err: errors.New("connection refused")}
	}
	c, s := net.Pipe()
	client, server := &memConn{Conn: c, m: m, from: from, to: to}, &memConn{Conn: s, m: m, from: to, to: from}
	select {
	case ln.conns <- server:
		return client, nil
	case <-ln.done:
	case <-time.After(timeout):
	}
	client.Close()
	server.Close()
	return nil, &net.OpError{Op: "dial", Net: "mem", Err: errors.New("connection refused")}
}

// memConn is one end of a connection on a memNet: a write fails while its node is cut
// off from the other, as a TCP connection's does once the network is gone.
type memConn struct {
	net.Conn
	m        *memNet
	from, to string
}

func (c *memConn) Write(b []byte) (int, error) {
	c.m.mu.Lock()
	cut := c.m.apart(c.from, c.to)
	c.m.mu.Unlock()
	if cut {
		c.Conn.Close()
		return 0, &net.OpError{Op: "write", Net: "mem", Err: errors.New("network unreachable")}
	}
	return c.Conn.Write(b)
}

// memListener is a node's cluster RPC listener on a memNet.
type memListener struct {
	addr  memAddr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *memListener) Addr() net.Addr { return l.addr }

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }
