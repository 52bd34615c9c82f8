package gossip

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/raftvip/raftvip/cluster/logging"
)

// MetaFormat is the version of the gossiped node metadata.
const MetaFormat = 1

// Meta is what every node gossips about itself in memberlist node metadata
// (at most memberlist.MetaMaxSize, 512 bytes). Keys are short to leave room for the
// checks' outputs.
type Meta struct {
	Format   int    `json:"v"`
	Priority int    `json:"p"`           // effective priority
	Base     int    `json:"b"`           // configured priority
	Fault    bool   `json:"f,omitempty"` // a weight-0 check fails
	Quorum   bool   `json:"q,omitempty"` // sees a Raft leader
	Raft     string `json:"r"`           // Raft address
	Version  string `json:"ver"`
	// Protocol is the ownership protocol the agent speaks (election.ProtocolVersion);
	// 0, from agents that do not send it, is the protocol in which the leader holds
	// the VIP.
	Protocol int `json:"pv,omitempty"`
	// Timing is the node's cluster.timing, every knob (config.Timing.Summary).
	Timing  string      `json:"t,omitempty"`
	ID      string      `json:"id,omitempty"` // instance id of the data dir; a wiped node gets a new one
	Expect  int         `json:"e,omitempty"`  // cluster.bootstrap_expect
	State   bool        `json:"s,omitempty"`  // has Raft state: belongs to a cluster, or did
	Leaving bool        `json:"l,omitempty"`  // raftvip leave is under way
	Role    string      `json:"ro,omitempty"` // node.role; "" is a load balancer
	Checks  []MetaCheck `json:"c,omitempty"`
}

// MetaCheck is one check's state in the metadata.
type MetaCheck struct {
	Name   string `json:"n"`
	State  string `json:"s"` // passing | failing | unknown
	Output string `json:"o,omitempty"`
}

// EncodeMeta encodes m in at most limit bytes. When it does not fit, the checks'
// outputs are shortened, then dropped, then the checks themselves are dropped.
func EncodeMeta(m Meta, limit int) ([]byte, error) {
	try := func(m Meta) ([]byte, bool) {
		b, err := json.Marshal(m)
		return b, err == nil && len(b) <= limit
	}
	if b, ok := try(m); ok {
		return b, nil
	}
	checks := append([]MetaCheck(nil), m.Checks...)
	m.Checks = checks
	for _, max := range []int{60, 24, 0} {
		for i := range checks {
			checks[i].Output = truncate(checks[i].Output, max)
		}
		if b, ok := try(m); ok {
			return b, nil
		}
	}
	m.Checks = nil
	if b, ok := try(m); ok {
		return b, nil
	}
	return nil, fmt.Errorf("gossip: node metadata does not fit in %d bytes", limit)
}

// DecodeMeta parses another node's metadata. A node of a newer format is still read
// for the fields this version knows.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, fmt.Errorf("gossip: no node metadata")
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("gossip: node metadata: %w", err)
	}
	if m.Format < 1 {
		return m, fmt.Errorf("gossip: node metadata: format %d", m.Format)
	}
	return m, nil
}

// truncate shortens s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 3 {
		return ""
	}
	cut := n - 3
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// State is a member's state as gossip sees it.
type State string

// The gossip states of a member.
const (
	Alive   State = "alive"
	Suspect State = "suspect"
	Dead    State = "dead"
	Left    State = "left"
)

// Member is what this node knows about another node from gossip.
type Member struct {
	Name    string
	Addr    netip.AddrPort
	State   State
	Meta    Meta
	MetaErr error // the metadata could not be read
}

// Gossip runs memberlist: it carries every node's health and priority to the others.
// It decides nothing; the Raft leader reads it.
type Gossip struct {
	ml       *memberlist.Memberlist
	log      *slog.Logger
	self     string
	onChange func()

	mu      sync.Mutex
	meta    []byte // our encoded metadata
	members map[string]Member
	rejects map[string]uint64 // messages turned away by encryption, by reason
}

// Config is what Start needs.
type Config struct {
	Name     string
	Bind     netip.AddrPort
	Key      []byte // nil: no encryption
	Interval time.Duration
	Meta     []byte
	Logger   *slog.Logger
	OnChange func() // called after every membership or metadata change; must not block
}

func Start(gc Config) (*Gossip, error) {
	g := &Gossip{log: gc.Logger, self: gc.Name, onChange: gc.OnChange, meta: gc.Meta, members: map[string]Member{}, rejects: map[string]uint64{}}
	mc := memberlist.DefaultLANConfig()
	mc.Name = gc.Name
	mc.BindAddr = gc.Bind.Addr().String()
	mc.BindPort = int(gc.Bind.Port())
	mc.AdvertiseAddr = mc.BindAddr
	mc.AdvertisePort = mc.BindPort
	if gc.Interval > 0 {
		mc.GossipInterval = gc.Interval
	}
	mc.SecretKey = gc.Key
	mc.Delegate = g
	mc.Events = g
	mc.DNSConfigPath = ""
	mc.Logger = logging.HCLogObserved(gc.Logger, "memberlist", g.observe).StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("gossip: start gossip on %s (node.bind, node.gossip_port): %w", gc.Bind, err)
	}
	g.ml = ml
	return g, nil
}

// join contacts the given gossip addresses until one answers, backing off up to 10 s,
// or until ctx ends. Once in, memberlist keeps the membership by itself. report hears
// every failure, and nil once joined.
func (g *Gossip) Join(ctx context.Context, addrs []string, report func(error)) {
	if len(addrs) == 0 {
		return
	}
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		n, err := g.ml.Join(addrs)
		if n > 0 {
			g.log.Info("joined gossip", "contacted", n, "members", g.ml.NumMembers())
			report(nil)
			return
		}
		if err == nil {
			err = fmt.Errorf("no address answered")
		}
		report(err)
		if attempt == 1 || attempt%10 == 0 {
			g.log.Warn("cannot join gossip yet; retrying", "addresses", fmt.Sprint(addrs), "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// setMeta publishes new metadata when it differs from what was gossiped.
func (g *Gossip) SetMeta(b []byte) {
	g.mu.Lock()
	same := bytes.Equal(b, g.meta)
	g.meta = b
	g.mu.Unlock()
	if same {
		return
	}
	if err := g.ml.UpdateNode(time.Second); err != nil {
		g.log.Debug("gossip metadata update", "err", err)
	}
}

// member returns what gossip knows about the named node.
func (g *Gossip) Member(name string) (Member, bool) {
	// memberlist reports suspicion only through its member list. Ask it before taking
	// g.mu: memberlist holds its own lock while it calls the event delegate.
	suspect := false
	for _, n := range g.ml.Members() {
		if n.Name == name && n.State == memberlist.StateSuspect {
			suspect = true
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	m, ok := g.members[name]
	if ok && m.State == Alive && suspect {
		m.State = Suspect
	}
	return m, ok
}

// all returns every member gossip knows of, this node included, by name.
func (g *Gossip) All() []Member {
	suspect := map[string]bool{}
	for _, n := range g.ml.Members() {
		if n.State == memberlist.StateSuspect {
			suspect[n.Name] = true
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Member, 0, len(g.members))
	for _, m := range g.members {
		if m.State == Alive && suspect[m.Name] {
			m.State = Suspect
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// override replaces a known member's metadata with fresher metadata obtained
// directly from it. Later gossip from that member replaces it in turn.
func (g *Gossip) Override(name string, meta Meta) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m, ok := g.members[name]; ok {
		m.Meta, m.MetaErr = meta, nil
		g.members[name] = m
	}
}

// leave tells the others this node is leaving for good, then stops gossip.
func (g *Gossip) Leave(timeout time.Duration) {
	if err := g.ml.Leave(timeout); err != nil {
		g.log.Debug("gossip leave", "err", err)
	}
	g.Shutdown()
}

// shutdown stops gossip without a word to the others. It is safe to call twice.
func (g *Gossip) Shutdown() {
	if err := g.ml.Shutdown(); err != nil {
		g.log.Debug("gossip shutdown", "err", err)
	}
}

// NodeMeta is memberlist's Delegate: our metadata.
func (g *Gossip) NodeMeta(limit int) []byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.meta) > limit {
		return nil
	}
	return bytes.Clone(g.meta)
}

// NotifyMsg, GetBroadcasts, LocalState and MergeRemoteState complete the Delegate:
// raftvip sends no user messages and keeps no gossiped state beyond the metadata.
func (g *Gossip) NotifyMsg([]byte)                           {}
func (g *Gossip) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (g *Gossip) LocalState(join bool) []byte                { return nil }
func (g *Gossip) MergeRemoteState(buf []byte, join bool)     {}

// NotifyJoin, NotifyLeave and NotifyUpdate are memberlist's EventDelegate. memberlist
// calls them one at a time.
func (g *Gossip) NotifyJoin(n *memberlist.Node) {
	g.record(n, Alive)
	g.log.Info("gossip: member joined", "member", n.Name, "address", n.Address())
}

func (g *Gossip) NotifyLeave(n *memberlist.Node) {
	state := Dead
	if n.State == memberlist.StateLeft {
		state = Left
	}
	g.record(n, state)
	g.log.Info("gossip: member "+string(state), "member", n.Name)
}

func (g *Gossip) NotifyUpdate(n *memberlist.Node) { g.record(n, Alive) }

func (g *Gossip) record(n *memberlist.Node, state State) {
	m := Member{Name: n.Name, State: state}
	if a, ok := netip.AddrFromSlice(n.Addr); ok {
		m.Addr = netip.AddrPortFrom(a.Unmap(), n.Port)
	}
	m.Meta, m.MetaErr = DecodeMeta(n.Meta)
	g.mu.Lock()
	g.members[n.Name] = m
	g.mu.Unlock()
	if g.onChange != nil {
		g.onChange()
	}
}

// The check states as MetaCheck.State (and status) spell them.
const (
	CheckPassing = "passing"
	CheckFailing = "failing"
	CheckUnknown = "unknown"
)

// NumMembers is how many members gossip counts alive, this node included.
func (g *Gossip) NumMembers() int { return g.ml.NumMembers() }

// Contact tries once to reach the given gossip addresses and returns how many
// answered (Join keeps trying in the background instead).
func (g *Gossip) Contact(addrs []string) (int, error) { return g.ml.Join(addrs) }

// Addr is the address other nodes reach this node's gossip at.
func (g *Gossip) Addr() netip.AddrPort {
	n := g.ml.LocalNode()
	a, _ := netip.AddrFromSlice(n.Addr)
	return netip.AddrPortFrom(a.Unmap(), n.Port)
}
