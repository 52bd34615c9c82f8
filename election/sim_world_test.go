package election

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// The deterministic simulation of the ownership protocol (DESIGN §8, §9.5): several
// nodes, each running a small Raft (sim_raft_test.go) and the quorum-lease protocol on
// top of it (sim_node_test.go) with the real pure parts (store.Ownership, Vouch,
// Leases, DecideGroup); a virtual clock, with each node's own clock running at its own
// rate; a network that delays, drops, duplicates and cuts messages; and a nemesis that
// crashes and restarts nodes, partitions them, adds and removes servers and moves
// groups. Everything comes from one seed, so a failing seed replays exactly.
//
// The invariant, checked whenever a node starts to hold a group: no other node holds
// that group at that virtual instant. A node holds from the moment it decides to until
// its removal of the addresses takes effect, which may lag the decision by up to half
// its δ.

// simTime is virtual time since the start of a run.
type simTime = time.Duration

// simEvent is one thing that happens at a virtual time.
type simEvent struct {
	at  simTime
	seq uint64
	fn  func()
}

type simQueue []*simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(*simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// simOptions shape one run.
type simOptions struct {
	Seed     uint64
	Duration simTime
	Nodes    int // initial voters
	Groups   int
	Drift    float64 // the largest clock-rate error, e.g. 0.05 for ±5 %
	// MixedLeases gives nodes different lease lengths (120, 200 or 500 ms).
	MixedLeases bool
	// Nemesis turns on random faults and operator moves.
	Nemesis bool
	// MaxDelay is the longest one-way delay of a message.
	MaxDelay simTime
	Mut      mutations
	// Script makes a run a fixed scenario: every message takes 1 ms unless delay says
	// otherwise and none is lost; only Leader campaigns, at the start; the leader
	// assigns and moves nothing by itself.
	Script bool
	Leader string
	delay  func(from, to string, msg any) (simTime, bool)
}

// mutations are deliberate breaks of the protocol's rules; with any of them the
// simulation must find an overlap.
type mutations struct {
	NoWait            bool // an assignee holds as soon as it knows its assignment committed
	AckCommittedOnly  bool // voters vouch from their committed entries only
	CountNonVoters    bool // the holder counts acknowledgements of non-voters towards a majority
	IgnoreConfig      bool // the holder counts every acknowledgement against its own configuration
	HonourUnheld      bool // a release with held:false saves the next assignee's wait
	OldIncarnation    bool // a restarted node holds the assignment of its earlier incarnation
	ZeroDelta         bool // δ = 0 (the drift and the removal delay are not covered)
	LastLeaseOnlyWait bool // W(g) is the previous assignee's owed wait only, not the chain's largest
}

func (m mutations) String() string {
	var out []string
	for _, f := range []struct {
		on   bool
		name string
	}{{m.NoWait, "no-wait"}, {m.AckCommittedOnly, "ack-committed-only"}, {m.CountNonVoters, "count-non-voters"},
		{m.IgnoreConfig, "ignore-config"}, {m.HonourUnheld, "honour-unheld-release"}, {m.OldIncarnation, "old-incarnation"},
		{m.ZeroDelta, "zero-delta"}, {m.LastLeaseOnlyWait, "last-lease-only-wait"}} {
		if f.on {
			out = append(out, f.name)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}

// simStats counts what a run did, so a bulk run can show it was not idle.
type simStats struct {
	holds, assigns, releases, crashes, elections, configChanges int
}

func (s *simStats) add(o simStats) {
	s.holds += o.holds
	s.assigns += o.assigns
	s.releases += o.releases
	s.crashes += o.crashes
	s.elections += o.elections
	s.configChanges += o.configChanges
}

// simWorld is one run.
type simWorld struct {
	o    simOptions
	rng  *rand.Rand
	now  simTime
	q    simQueue
	seq  uint64
	next int // for names of nodes that join

	nodes  map[string]*simNode
	names  []string // every node ever, in creation order
	groups []string
	cut    map[[2]string]bool // directed links that drop everything

	holders    map[string]map[string]simTime // group → node → holding since
	onRound    func(n *simNode)              // a script's hook: n just sent a renewal round
	stats      simStats
	violations []string
	trace      []string // the last events, for a failing seed's report
}

func newSimWorld(o simOptions) *simWorld {
	if o.Duration == 0 {
		o.Duration = 4 * time.Second
	}
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Groups == 0 {
		o.Groups = 2
	}
	if o.MaxDelay == 0 {
		o.MaxDelay = 30 * time.Millisecond
	}
	w := &simWorld{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		nodes: map[string]*simNode{}, cut: map[[2]string]bool{}, holders: map[string]map[string]simTime{}}
	for i := range o.Groups {
		g := fmt.Sprintf("g%d", i+1)
		w.groups = append(w.groups, g)
		w.holders[g] = map[string]simTime{}
	}
	var voters []string
	for range o.Nodes {
		voters = append(voters, w.newName())
	}
	for _, name := range voters {
		w.addNode(name, voters)
	}
	return w
}

func (w *simWorld) newName() string {
	w.next++
	return fmt.Sprintf("n%d", w.next)
}

// at schedules fn at virtual time t (never in the past).
func (w *simWorld) at(t simTime, fn func()) {
	if t < w.now {
		t = w.now
	}
	w.seq++
	heap.Push(&w.q, &simEvent{at: t, seq: w.seq, fn: fn})
}

// after schedules fn d from now.
func (w *simWorld) after(d simTime, fn func()) { w.at(w.now+d, fn) }

// uniform returns a duration in [lo, hi).
func (w *simWorld) uniform(lo, hi simTime) simTime {
	if hi <= lo {
		return lo
	}
	return lo + simTime(w.rng.Int64N(int64(hi-lo)))
}

func (w *simWorld) chance(p float64) bool { return w.rng.Float64() < p }

// logf keeps the last lines of what happened.
func (w *simWorld) logf(format string, args ...any) {
	line := fmt.Sprintf("%8.3fs ", w.now.Seconds()) + fmt.Sprintf(format, args...)
	w.trace = append(w.trace, line)
	if len(w.trace) > 400 {
		w.trace = slices.Delete(w.trace, 0, 100)
	}
}

// run runs until the duration is over or an overlap was found.
func (w *simWorld) run() {
	for _, name := range slices.Clone(w.names) {
		w.nodes[name].start()
	}
	if w.o.Script && w.o.Leader != "" {
		l := w.nodes[w.o.Leader]
		w.after(time.Millisecond, l.campaign)
	}
	if w.o.Nemesis {
		w.after(w.uniform(200*time.Millisecond, 600*time.Millisecond), w.nemesis)
	}
	for len(w.q) > 0 && len(w.violations) == 0 {
		e := heap.Pop(&w.q).(*simEvent)
		if e.at > w.o.Duration {
			break
		}
		w.now = e.at
		e.fn()
	}
}

// send delivers msg from one node to another after a random delay, unless the link is
// cut (when it is sent or when it arrives) or the network loses it; sometimes twice.
func (w *simWorld) send(from, to string, msg any) {
	if from == to {
		w.after(0, func() { w.deliver(from, to, msg) })
		return
	}
	if w.o.Script {
		d := time.Millisecond
		if w.o.delay != nil {
			if dd, ok := w.o.delay(from, to, msg); ok {
				d = dd
			}
		}
		if !w.cut[[2]string{from, to}] {
			w.after(d, func() {
				if !w.cut[[2]string{from, to}] {
					w.deliver(from, to, msg)
				}
			})
		}
		return
	}
	if w.cut[[2]string{from, to}] || w.chance(0.03) {
		return
	}
	copies := 1
	if w.chance(0.02) {
		copies = 2
	}
	for range copies {
		d := w.uniform(time.Millisecond, w.o.MaxDelay)
		if w.chance(0.02) {
			d += w.uniform(0, 8*w.o.MaxDelay) // a straggler
		}
		w.after(d, func() {
			if !w.cut[[2]string{from, to}] {
				w.deliver(from, to, msg)
			}
		})
	}
}

func (w *simWorld) deliver(from, to string, msg any) {
	n, ok := w.nodes[to]
	if !ok || !n.up {
		return
	}
	n.receive(from, msg)
}

// hold records that node starts or stops holding group g, and checks the invariant.
func (w *simWorld) hold(g, node string, on bool) {
	hs := w.holders[g]
	if !on {
		delete(hs, node)
		w.logf("%s drops %s", node, g)
		return
	}
	if _, already := hs[node]; already {
		return
	}
	for other, since := range hs {
		w.violations = append(w.violations, fmt.Sprintf("%s: %s holds %s at %v while %s holds it since %v",
			w.o.Mut, node, g, w.now, other, since))
	}
	hs[node] = w.now
	w.stats.holds++
	w.logf("%s holds %s", node, g)
}

// isolate cuts node off from every other node, both ways.
func (w *simWorld) isolate(node string) {
	for _, other := range w.names {
		if other != node {
			w.cut[[2]string{node, other}], w.cut[[2]string{other, node}] = true, true
		}
	}
}

// link cuts or restores the link between a and b, both ways.
func (w *simWorld) link(a, b string, up bool) {
	if up {
		delete(w.cut, [2]string{a, b})
		delete(w.cut, [2]string{b, a})
		return
	}
	w.cut[[2]string{a, b}], w.cut[[2]string{b, a}] = true, true
}

func (w *simWorld) healAll() { clear(w.cut) }

// leader returns a node that leads in the highest term known, if any is up.
func (w *simWorld) leader() *simNode {
	var best *simNode
	for _, name := range w.names {
		n := w.nodes[name]
		if n.up && n.r.role == roleLeader && (best == nil || n.r.term > best.r.term) {
			best = n
		}
	}
	return best
}

// upNodes returns the nodes that run, in creation order.
func (w *simWorld) upNodes() []*simNode {
	var out []*simNode
	for _, name := range w.names {
		if n := w.nodes[name]; n.up {
			out = append(out, n)
		}
	}
	return out
}

// nemesis injects one random fault or operator action, then schedules itself again.
func (w *simWorld) nemesis() {
	defer w.after(w.uniform(100*time.Millisecond, 500*time.Millisecond), w.nemesis)
	alive := w.upNodes()
	pick := func(ns []*simNode) *simNode { return ns[w.rng.IntN(len(ns))] }
	switch x := w.rng.IntN(100); {
	case x < 14: // crash a node, and restart it a little later
		if len(alive) <= 1 {
			return
		}
		n := pick(alive)
		n.crash()
		w.after(w.uniform(50*time.Millisecond, 1500*time.Millisecond), n.restart)
	case x < 28: // cut one node off for a while
		n := pick(alive)
		w.logf("nemesis: isolate %s", n.name)
		w.isolate(n.name)
		w.after(w.uniform(100*time.Millisecond, 1500*time.Millisecond), func() {
			for _, other := range w.names {
				w.link(n.name, other, true)
			}
		})
	case x < 36: // cut one link
		a, b := pick(alive), pick(alive)
		if a != b {
			w.logf("nemesis: cut %s-%s", a.name, b.name)
			w.link(a.name, b.name, false)
			w.after(w.uniform(100*time.Millisecond, 1500*time.Millisecond), func() { w.link(a.name, b.name, true) })
		}
	case x < 40:
		w.logf("nemesis: heal")
		w.healAll()
	case x < 60: // an operator moves a group
		if l := w.leader(); l != nil {
			l.moveRandom(w.groups[w.rng.IntN(len(w.groups))], "operator")
		}
	case x < 72: // a node goes FAULT for a while and gives its groups up
		n := pick(alive)
		n.setFault(true)
		w.after(w.uniform(100*time.Millisecond, 1*time.Second), func() { n.setFault(false) })
	case x < 82: // a node joins as a non-voter; the leader promotes it once it caught up
		if l := w.leader(); l != nil && len(w.names) < 7 {
			l.addServer(w.newNode())
		}
	case x < 90: // a server is removed
		if l := w.leader(); l != nil {
			l.removeRandomServer()
		}
	default: // a leader change: the leader crashes and comes back
		if l := w.leader(); l != nil && len(alive) > 1 {
			l.crash()
			w.after(w.uniform(50*time.Millisecond, 800*time.Millisecond), l.restart)
		}
	}
}

// newNode creates a node with an empty log that is not in any configuration yet.
func (w *simWorld) newNode() string {
	name := w.newName()
	n := w.addNode(name, nil)
	n.start()
	return name
}
