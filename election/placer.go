package election

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/raftvip/raftvip/store"
)

// The leader's side of the ownership protocol: it hears every node's renewals (as a
// voter), places the groups with Place, commits the assignments, and tells an assignee
// as soon as its assignment committed.

// GroupPolicy is a group's placement policy and shared settings.
//
// Every node reports its own copy with its standing, so that a leader without the
// group in its own file (a witness) places it by the copies of the nodes that have it.
type GroupPolicy struct {
	Name            string        `json:"name"`
	Together        string        `json:"together,omitempty"`
	Preempt         bool          `json:"preempt,omitempty"`
	PreemptDelay    time.Duration `json:"preempt_delay,omitempty"`
	MinMoveInterval time.Duration `json:"min_move,omitempty"`
	// Digest is the digest of the group's shared settings; a node whose copy differs
	// from the leader's is not given the group.
	Digest string `json:"digest"`
	// Lifetime and Strict are the group's address lifetime and fencing, which its
	// assignments record (the same on every node).
	Lifetime time.Duration `json:"lifetime,omitempty"`
	Strict   bool          `json:"strict,omitempty"`
}

// PlacerConfig wires a Placer.
type PlacerConfig struct {
	Node string
	// Groups are the groups of this node's own file. A leader with none (a witness)
	// places the groups the other nodes report (Policies).
	Groups []GroupPolicy
	// Leading reports whether this node leads, and since when (its own clock).
	Leading func() (bool, time.Time)
	// Committed returns the groups' ownership as committed.
	Committed func() *store.Ownership
	// Members returns the servers of the latest configuration (voters and non-voters).
	Members func() []string
	// Assign commits assign{g, a}; it returns the record's index once committed.
	Assign func(ctx context.Context, g string, a store.Assignment, reason string) (uint64, error)
	// Notice tells node that its assignment of g at index committed. It must not block.
	Notice func(node, g string, index uint64)
	// Hysteresis is added to a group's preempt delay.
	Hysteresis time.Duration
	// Drained reports whether an operator drained node.
	Drained func(node string) bool
	// Pinned returns the node an operator's transfer put g on, if it still holds: a
	// pinned group does not move back by preemption.
	Pinned func(g string) string
	// SelfIneligible, if set, says at once why this node may hold nothing now
	// (stopping, leaving), "" if it may: the leader does not wait for its own next
	// renewal to learn that it is going away.
	SelfIneligible func() string
	Clock          Clock
	Logger         *slog.Logger
}

// Placer is the leader's placement loop.
type Placer struct {
	cfg  PlacerConfig
	wake chan struct{}

	mu      sync.Mutex
	heard   map[string]heardNode                // node → its latest renewal
	holds   map[string]time.Time                // "g@index" → latest report that its assignee holds it
	stable  map[string]map[string]standingSince // node → group → since when its standing is what it is
	moved   map[string]time.Time                // group → last automatic move
	notices map[uint64]bool                     // assignment indexes already noticed
	seen    map[uint64]time.Time                // assignment index → when this leader saw it committed
	moving  map[string]bool                     // groups with an assign in flight
	lost    map[uint64]bool                     // assignment indexes already logged as lost
	made    map[uint64]bool                     // assignment indexes this node committed as leader
}

type heardNode struct {
	r    Renewal
	at   time.Time
	back time.Time // when it was heard again after a silence longer than staleAfter; zero if never silent
}

type standingSince struct {
	priority int
	at       time.Time
}

// NewPlacer returns a Placer; Run runs it.
func NewPlacer(cfg PlacerConfig) *Placer {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Placer{cfg: cfg, wake: make(chan struct{}, 1), heard: map[string]heardNode{}, holds: map[string]time.Time{},
		stable: map[string]map[string]standingSince{}, moved: map[string]time.Time{}, notices: map[uint64]bool{},
		seen: map[uint64]time.Time{}, moving: map[string]bool{}, lost: map[uint64]bool{}, made: map[uint64]bool{}}
}

// Heard takes a renewal this node received: the sender's standing, and the groups it
// says it holds.
func (p *Placer) Heard(r Renewal) {
	now := p.cfg.Clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	prev, known := p.heard[r.Node]
	// A node back after a silence is steady only from now: it may have been down,
	// or cut off, all that time.
	back := !known || now.Sub(prev.at) > staleAfter(prev.r.Standing)
	returned := prev.back
	if known && back {
		returned = now
	}
	p.heard[r.Node] = heardNode{r: r, at: now, back: returned}
	for _, c := range r.Claims {
		if slices.Contains(r.Holding, c.Group) {
			p.holds[leaseKey(c.Group, c.Index)] = now
		}
	}
	st := p.stable[r.Node]
	if st == nil {
		st = map[string]standingSince{}
		p.stable[r.Node] = st
	}
	for _, g := range p.policiesLocked(now) {
		prio := r.Standing.Priority[g.Name]
		if r.Standing.Fault != "" || r.Standing.Ineligible != "" || r.Standing.Digest[g.Name] != g.Digest || r.Standing.Blocked[g.Name] != "" {
			prio = 0
		}
		if s, ok := st[g.Name]; !ok || s.priority != prio || back {
			st[g.Name] = standingSince{priority: prio, at: now}
		}
	}
}

// Wake makes the placer look again now.
func (p *Placer) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run places while this node leads, until ctx ends.
func (p *Placer) Run(ctx context.Context, every time.Duration) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		case <-p.cfg.Clock.After(every):
		}
		if leading, from := p.cfg.Leading(); leading {
			p.pass(ctx, from)
		}
	}
}

// detect is how long a group may go without a holding report before it moves: two
// renewal periods of its assignee (L/2) plus twice its δ for the round trip and the
// scheduling on both ends. It is longer than the assignee's lease L whenever δ ≥ L/4:
// by then an assignee that cannot report has most likely lost its lease anyway.
// Detection only decides speed, never safety (DESIGN §9.3).
func detect(a store.Assignment) time.Duration { return a.Lease/2 + 2*a.Delta }

// staleAfter is how long a node's standing counts without a new renewal: two of its
// lease lengths (eight renewal periods), and never less than 500 ms. A node that died
// is not chosen for long after its last word.
func staleAfter(s Standing) time.Duration { return max(2*s.Lease, 500*time.Millisecond) }

// formGrace is how long a new leader waits to hear every server before it places a
// group that has no assignee.
const formGrace = 500 * time.Millisecond

// pass places once.
func (p *Placer) pass(ctx context.Context, leaderSince time.Time) {
	now := p.cfg.Clock.Now()
	own := p.cfg.Committed()
	members := p.cfg.Members()

	p.mu.Lock()
	var groups []PlaceGroup
	for _, gp := range p.policiesLocked(now) {
		s := own.Group(gp.Name)
		pg := p.placeGroupLocked(gp, s, leaderSince)
		if s.Active() {
			a := s.Current
			seen, ok := p.seen[a.Index]
			if !ok {
				seen = now
				p.seen[a.Index] = now
			}
			if !p.notices[a.Index] {
				p.notices[a.Index] = true
				p.cfg.Notice(a.Node, gp.Name, a.Index)
			}
			// A holder is given its wait, and a new leader the detection time, before
			// the lack of a holding report counts.
			start := seen.Add(s.Wait)
			if leaderSince.After(start) {
				start = leaderSince
			}
			rep := p.holds[leaseKey(gp.Name, a.Index)]
			limit := detect(a)
			if rep.IsZero() && p.made[a.Index] {
				// An assignee of this leader's has to receive the entry first, which a
				// node that is catching up takes a while to: twice the time before its
				// first report.
				limit *= 2
			}
			if rep.After(start) {
				start = rep
			}
			pg.Lost = now.Sub(start) > limit
			if pg.Lost && !p.lost[a.Index] {
				p.lost[a.Index] = true
				last := "never"
				if !rep.IsZero() {
					last = rep.Format(time.RFC3339Nano)
				}
				p.cfg.Logger.Info("no holding report", "group", gp.Name, "assignee", a.Node, "assignment", a.Index,
					"for", now.Sub(start).Round(time.Millisecond), "detect", detect(a), "last_report", last)
			}
			p.forgetHoldsLocked(gp.Name, a.Index)
			if h, heard := p.heard[a.Node]; (!heard || h.at.Before(leaderSince)) && now.Sub(leaderSince) <= detect(a) {
				// A new leader that has not heard from the assignee since it was elected
				// gives it the detection time before moving anything (DESIGN §9.3,
				// detection). What it heard before counts for nothing: an assignee sends
				// its renewals to the leader only, until it has a claim, so a node that
				// led until a moment ago has not been heard by anyone else since.
				continue
			}
		}
		if p.moving[gp.Name] {
			continue
		}
		groups = append(groups, pg)
	}
	// A new leader gives every server a moment to be heard before it places a group
	// nobody holds, so a cluster that forms does not first put everything on the
	// first node it hears.
	settling := now.Sub(leaderSince) < formGrace && slices.ContainsFunc(members, func(m string) bool {
		_, ok := p.heard[m]
		return !ok
	})
	if settling {
		groups = slices.DeleteFunc(groups, func(g PlaceGroup) bool { return g.Assignee == "" })
	}
	nodes := p.placeNodesLocked(members, now)
	p.pruneLocked(own, now)
	moves := Place(groups, nodes, now, PlacePolicy{Hysteresis: p.cfg.Hysteresis})
	assignments := make([]store.Assignment, len(moves))
	for i, m := range moves {
		p.moving[m.Group] = true
		assignments[i] = p.assignmentLocked(m.Group, m.To, p.heard[m.To].r)
	}
	p.mu.Unlock()

	for i, m := range moves {
		go p.commit(ctx, m, assignments[i])
	}
}

// pruneLocked forgets what it kept of assignments that are neither the current nor
// the previous one of any group. p.mu is held.
func (p *Placer) pruneLocked(own *store.Ownership, now time.Time) {
	live := map[uint64]bool{}
	for _, gp := range p.policiesLocked(now) {
		s := own.Group(gp.Name)
		live[s.Current.Index], live[s.Previous.Index] = true, true
	}
	for _, m := range []map[uint64]bool{p.notices, p.lost, p.made} {
		maps.DeleteFunc(m, func(i uint64, _ bool) bool { return !live[i] })
	}
	maps.DeleteFunc(p.seen, func(i uint64, _ time.Time) bool { return !live[i] })
}

// placeGroupLocked is group gp, in state s, as Place takes it from a leader that
// leads since leaderSince. p.mu is held.
func (p *Placer) placeGroupLocked(gp GroupPolicy, s store.GroupState, leaderSince time.Time) PlaceGroup {
	pg := PlaceGroup{Name: gp.Name, Together: gp.Together, Preempt: gp.Preempt, PreemptDelay: gp.PreemptDelay,
		MinMoveInterval: gp.MinMoveInterval, LastMove: p.moved[gp.Name]}
	// A change of leader counts as a move for min_move_interval: a new leader does not
	// preempt at once what the old one just placed.
	if leaderSince.After(pg.LastMove) {
		pg.LastMove = leaderSince
	}
	if p.cfg.Pinned != nil && p.cfg.Pinned(gp.Name) != "" {
		pg.Preempt, pg.Pinned = false, true
	}
	if s.Active() {
		pg.Assignee, pg.Incarnation = s.Current.Node, s.Current.Incarnation
	}
	return pg
}

// placeNodesLocked is every member as this leader last heard it. p.mu is held.
func (p *Placer) placeNodesLocked(members []string, now time.Time) []PlaceNode {
	var nodes []PlaceNode
	for _, m := range members {
		h, ok := p.heard[m]
		n := PlaceNode{Name: m, Groups: map[string]NodeGroup{}}
		switch {
		case !ok || now.Sub(h.at) > staleAfter(h.r.Standing):
			n.Ineligible = "not heard from"
		case h.r.Standing.Fault != "":
			n.Ineligible = h.r.Standing.Fault
		case h.r.Standing.Ineligible != "":
			n.Ineligible = h.r.Standing.Ineligible
		case p.cfg.Drained != nil && p.cfg.Drained(m):
			n.Ineligible = "drained"
		}
		if m == p.cfg.Node && n.Ineligible == "" && p.cfg.SelfIneligible != nil {
			n.Ineligible = p.cfg.SelfIneligible()
		}
		if ok {
			n.Incarnation = h.r.Incarnation
			for g, s := range p.stable[m] {
				if s.priority > 0 {
					n.Groups[g] = NodeGroup{Priority: s.priority, StableSince: s.at}
				}
			}
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// Explain returns, per group, what this leader's placement prefers and waits for
// (see Explain); ok is false unless this node leads.
func (p *Placer) Explain() (out []Outlook, ok bool) {
	leading, since := p.cfg.Leading()
	if !leading {
		return nil, false
	}
	now := p.cfg.Clock.Now()
	own := p.cfg.Committed()
	members := p.cfg.Members()
	p.mu.Lock()
	defer p.mu.Unlock()
	var groups []PlaceGroup
	for _, gp := range p.policiesLocked(now) {
		groups = append(groups, p.placeGroupLocked(gp, own.Group(gp.Name), since))
	}
	return Explain(groups, p.placeNodesLocked(members, now), now, PlacePolicy{Hysteresis: p.cfg.Hysteresis}), true
}

// commit commits one move and notices its assignee.
func (p *Placer) commit(ctx context.Context, m Placement, a store.Assignment) {
	defer func() {
		p.mu.Lock()
		delete(p.moving, m.Group)
		p.mu.Unlock()
		p.Wake()
	}()
	idx, err := p.cfg.Assign(ctx, m.Group, a, m.Reason)
	if err != nil {
		p.cfg.Logger.Warn("cannot assign the group", "group", m.Group, "to", m.To, "err", err)
		return
	}
	p.cfg.Logger.Info("assigned the group", "group", m.Group, "to", m.To, "incarnation", m.Incarnation, "reason", m.Reason, "index", idx)
	p.mu.Lock()
	p.moved[m.Group] = p.cfg.Clock.Now()
	p.seen[idx] = p.cfg.Clock.Now()
	p.notices[idx], p.made[idx] = true, true
	p.mu.Unlock()
	p.cfg.Notice(m.To, m.Group, idx)
}

// MoveNow assigns g to node at once, for an operator (raftvip transfer, drain): no
// preempt rules, no rate limit. It returns the committed index.
func (p *Placer) MoveNow(ctx context.Context, g, node, reason string) (uint64, error) {
	p.mu.Lock()
	h, ok := p.heard[node]
	a := p.assignmentLocked(g, node, h.r)
	p.mu.Unlock()
	if !ok {
		return 0, errNotHeard(node)
	}
	idx, err := p.cfg.Assign(ctx, g, a, reason)
	if err != nil {
		return 0, err
	}
	p.mu.Lock()
	p.seen[idx] = p.cfg.Clock.Now()
	p.notices[idx], p.made[idx] = true, true
	p.mu.Unlock()
	p.cfg.Notice(node, g, idx)
	return idx, nil
}

// assignmentLocked is the assignment of g to node as r, its latest renewal, describes
// it. p.mu is held.
func (p *Placer) assignmentLocked(g, node string, r Renewal) store.Assignment {
	a := store.Assignment{Node: node, Incarnation: r.Incarnation, Lease: r.Standing.Lease, Delta: r.Standing.Delta}
	for _, gp := range p.policiesLocked(p.cfg.Clock.Now()) {
		if gp.Name == g {
			a.Lifetime, a.Strict = gp.Lifetime, gp.Strict
		}
	}
	return a
}

type errNotHeard string

func (e errNotHeard) Error() string {
	return "election: " + string(e) + " has sent the leader no renewal yet: is its agent running and in the cluster?"
}

// forgetHoldsLocked drops the reports of g's assignments before index. p.mu is held.
func (p *Placer) forgetHoldsLocked(g string, index uint64) {
	for k := range p.holds {
		if kg, ki, ok := splitLeaseKey(k); ok && kg == g && ki < index {
			delete(p.holds, k)
		}
	}
}

// Holding returns when the assignee of g's assignment at index last reported holding
// it; the zero time if it never did.
func (p *Placer) Holding(g string, index uint64) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.holds[leaseKey(g, index)]
}

// LastHeard returns when this node last heard node; the zero time if never.
func (p *Placer) LastHeard(node string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.heard[node].at
}

// Back reports whether this node hears node lately (ok), and when node came back
// after the last silence it noticed (the zero time if it never went silent).
func (p *Placer) Back(node string) (back time.Time, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h, heard := p.heard[node]
	if !heard || p.cfg.Clock.Now().Sub(h.at) > staleAfter(h.r.Standing) {
		return time.Time{}, false
	}
	return h.back, true
}

// Standings returns every node's standing as this leader last heard it.
func (p *Placer) Standings() map[string]Standing {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]Standing{}
	for n, h := range p.heard {
		out[n] = h.r.Standing
	}
	return out
}

// Policies returns the groups this leader places: those of its own file, or, for a
// node with none (a witness), those the other nodes report.
func (p *Placer) Policies() []GroupPolicy {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.policiesLocked(p.cfg.Clock.Now())
}

// policiesLocked is Policies. p.mu is held.
func (p *Placer) policiesLocked(now time.Time) []GroupPolicy {
	if len(p.cfg.Groups) > 0 {
		return p.cfg.Groups
	}
	reports := map[string][]reportedPolicy{}
	for node, h := range p.heard {
		if now.Sub(h.at) > staleAfter(h.r.Standing) {
			continue
		}
		for _, gp := range h.r.Standing.Policy {
			reports[gp.Name] = append(reports[gp.Name], reportedPolicy{node: node, policy: gp, holds: slices.Contains(h.r.Holding, gp.Name)})
		}
	}
	var out []GroupPolicy
	for _, rs := range reports {
		out = append(out, choosePolicy(rs))
	}
	slices.SortFunc(out, func(a, b GroupPolicy) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// reportedPolicy is a node's copy of a group's policy, and whether that node said it
// holds the group.
type reportedPolicy struct {
	node   string
	policy GroupPolicy
	holds  bool
}

// choosePolicy picks, among the nodes' copies of a group, the one a leader without a
// copy of its own places by: the copy of the node that holds the group, so that a
// holder is not moved for a difference it did not make; else the copy most nodes
// report; ties to the copy of the first node by name.
func choosePolicy(rs []reportedPolicy) GroupPolicy {
	slices.SortFunc(rs, func(a, b reportedPolicy) int { return strings.Compare(a.node, b.node) })
	for _, r := range rs {
		if r.holds {
			return r.policy
		}
	}
	count := map[string]int{}
	for _, r := range rs {
		count[r.policy.Digest]++
	}
	best := rs[0]
	for _, r := range rs[1:] {
		if count[r.policy.Digest] > count[best.policy.Digest] {
			best = r
		}
	}
	return best.policy
}
