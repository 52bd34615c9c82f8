package election

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/raftvip/raftvip/store"
)

// ProtocolVersion is the version of the ownership protocol this agent speaks in its
// renewals (DESIGN §9.6): an agent refuses to run beside a voter of an older one.
const ProtocolVersion = 1

// Renewal is one round of a node's renewals (DESIGN §9.3): the assignments it renews,
// the groups it holds now, and its standing, which the leader places by. A node sends
// one to every voter every L/4 while it has groups assigned; a node with none sends
// its standing to the leader alone.
type Renewal struct {
	Version     int      `json:"v"`
	Round       uint64   `json:"round"`
	Node        string   `json:"node"`
	Incarnation string   `json:"inc"`
	Claims      []Claim  `json:"claims,omitempty"`
	Holding     []string `json:"holding,omitempty"` // groups it holds now
	Standing    Standing `json:"standing"`
}

// Standing is what the leader places a node by: its eligibility, its priority for
// each group, the digest of its copy of each group's shared settings, the groups a
// foreign VRRP master keeps it from, and the settings its assignments record.
type Standing struct {
	// Ineligible, when not empty, says why the leader must place no group here
	// (drained, leaving, stopping, FAULT, …). A holder keeps what it holds until the
	// leader moved it, unless Fault says otherwise.
	Ineligible string `json:"ineligible,omitempty"`
	// Fault, when not empty, says why this node must hold nothing at all, now.
	Fault    string            `json:"fault,omitempty"`
	Priority map[string]int    `json:"prio,omitempty"`    // group → effective priority; 0: may not hold it
	Why      map[string]string `json:"why,omitempty"`     // group → why it may not hold it (priority 0)
	Digest   map[string]string `json:"digest,omitempty"`  // group → identity digest of its copy
	Blocked  map[string]string `json:"blocked,omitempty"` // group → why a foreign VRRP master blocks it
	Lease    time.Duration     `json:"lease"`             // L, which its assignments record
	Delta    time.Duration     `json:"delta"`             // δ, likewise
	// Policy is this node's copy of each group's policy: a leader without the group
	// in its own file (a witness) places it by these.
	Policy map[string]GroupPolicy `json:"policy,omitempty"`
	// Witness: the node holds no group, ever; leadership prefers it (DESIGN §9.2).
	Witness bool `json:"witness,omitempty"`
}

// GroupChange is a change of a group's holding on this node.
type GroupChange struct {
	Group   string
	Holding bool
	Reason  string // why it let go
	Moved   bool   // it let go because the group moved to another node (a planned move)
	// Waited is, when it starts holding, how long it took from learning that the
	// assignment committed: W(g) after a failover, about nothing after a planned move.
	Waited time.Duration
}

// Answer is a voter's acknowledgement of a renewal (DESIGN §9.3): it vouches for the
// claims whose assignment is its own latest one, and reports its latest configuration.
// cur returns a group's latest state in the voter's log, committed or not.
func Answer(self string, cfg Configuration, cur func(g string) store.GroupState, r Renewal) Ack {
	a := Ack{Round: r.Round, Voter: self, Config: cfg}
	for _, c := range r.Claims {
		s := cur(c.Group)
		v := Vouched{Index: s.Current.Index, Node: s.Current.Node, Incarnation: s.Current.Incarnation, Ended: s.Ended}
		if Vouch(self, cfg, v, r.Node, c) {
			a.Groups = append(a.Groups, leaseKey(c.Group, c.Index))
		}
	}
	return a
}

// toldOf reports whether rel, a holder's word that it let go held, is about p: the
// same assignment, by the node and the incarnation it names (DESIGN §9.4, step 3).
func toldOf(rel store.Release, p store.Assignment) bool {
	return rel.Held && rel.AssignIndex == p.Index && rel.Node == p.Node && rel.Incarnation == p.Incarnation
}

// leaseKey names one assignment of a group in Leases and in acknowledgements.
func leaseKey(g string, index uint64) string { return fmt.Sprintf("%s@%d", g, index) }

// splitLeaseKey is leaseKey's inverse.
func splitLeaseKey(k string) (g string, index uint64, ok bool) {
	i := strings.LastIndexByte(k, '@')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.ParseUint(k[i+1:], 10, 64)
	return k[:i], n, err == nil
}

// OwnLog is what the holder reads of this node's Raft log.
type OwnLog interface {
	// Group is the group's latest state in the log, committed or not.
	Group(g string) store.GroupState
	// Configuration is the latest configuration in the log.
	Configuration() Configuration
	// CommitIndex is the highest index this node knows committed.
	CommitIndex() uint64
}

// HolderConfig wires a Holder.
type HolderConfig struct {
	Node        string
	Incarnation string // new at every start of the agent
	Groups      []string
	Log         OwnLog
	// VIP returns the VIP of a group.
	VIP func(g string) VIP
	// Standing returns this node's standing now.
	Standing func() Standing
	// Gate, if set, says per group whether an authority outside the cluster forbids
	// holding it now (reason), until when at most.
	Gate func(g string, now time.Time) (reason string, until time.Time)
	// Leader returns the node that leads, "" if none known.
	Leader func() string
	// Send sends a renewal to one node; it must not block. Acks come back through Ack.
	Send func(to string, r Renewal)
	// Release commits a release through the leader; it may block up to ctx's deadline.
	Release func(ctx context.Context, g string, rel store.Release, reason string) error
	// Tell tells a group's next assignee that this node let the group go, held, so it
	// owes no wait. It must not block.
	Tell func(to, g string, rel store.Release)
	// OnChange, if set, hears every change of a group's holding, in order. It must
	// not block.
	OnChange func(c GroupChange)
	// OnRenewed, if set, hears how long each renewal round that extended a lease took
	// to reach its majority. It must not block.
	OnRenewed func(took time.Duration)
	Clock     Clock
	Logger    *slog.Logger
}

// Holder holds the groups assigned to this node under quorum leases (DESIGN §9.3):
// it renews them every L/4 with every voter, holds a group once it knows its
// assignment committed, has waited W(g) and has a lease from a majority of one
// configuration, and lets go the moment any of that ends, then releases it.
type Holder struct {
	cfg  HolderConfig
	wake chan struct{}

	mu       sync.Mutex
	round    uint64
	leases   Leases
	groups   map[string]*heldGroup
	released map[string]bool // lease keys of assignments released
	lastSent time.Time
	lastPass time.Time
}

// heldGroup is the holder's state of one group.
type heldGroup struct {
	committed  uint64        // the assignment known committed
	committedA time.Time     // since when
	noticed    uint64        // a committed assignment the leader named before it reached this log
	noticedA   time.Time     // when the leader said so
	toldHeld   store.Release // a holder's word that it let its assignment go, held
	holding    uint64        // the assignment held now; 0: not holding
	heldSince  time.Time     // since when
	everHeld   uint64        // the latest assignment held
	decision   GroupDecision
	index      uint64 // the assignment decided on
}

// GroupStatus is a group as this node's holder sees it.
type GroupStatus struct {
	Group          string
	Assigned       bool   // to this node, in this incarnation
	Index          uint64 // the assignment decided on
	Holding        bool
	Since          time.Time // when it started holding, while it holds
	Reason         Reason
	LeaseRemaining time.Duration
	WaitUntil      time.Time // while it waits out W(g)
}

// NewHolder returns a Holder; Run runs it.
func NewHolder(cfg HolderConfig) *Holder {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := &Holder{cfg: cfg, wake: make(chan struct{}, 1), groups: map[string]*heldGroup{}, released: map[string]bool{}}
	for _, g := range cfg.Groups {
		h.groups[g] = &heldGroup{}
	}
	return h
}

// Wake makes the holder decide again now: the log, the commit index or the standing
// changed.
func (h *Holder) Wake() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Run renews, decides and sets the VIPs until ctx ends; then it lets every group go.
func (h *Holder) Run(ctx context.Context) error {
	renewEvery := max(h.cfg.Standing().Lease/4, time.Millisecond)
	renew := h.cfg.Clock.After(0)
	var wakeAt <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			h.letAllGo()
			return nil
		case <-renew:
			h.renew()
			renew = h.cfg.Clock.After(renewEvery)
		case <-h.wake:
		case <-wakeAt:
		}
		if next := h.pass(ctx); !next.IsZero() {
			wakeAt = h.cfg.Clock.After(max(next.Sub(h.cfg.Clock.Now()), time.Millisecond))
		} else {
			wakeAt = nil
		}
	}
}

// mine returns a group's latest assignment in this node's log, and whether it is this
// node's, in this incarnation, not ended and not released here.
func (h *Holder) mine(g string) (store.GroupState, bool) {
	s := h.cfg.Log.Group(g)
	a := s.Current
	return s, s.Active() && a.Node == h.cfg.Node && a.Incarnation == h.cfg.Incarnation &&
		!h.released[leaseKey(g, a.Index)]
}

// renew sends one round: the claims of the groups this node knows committed to it,
// to every voter; or its standing alone to the leader when it has none.
func (h *Holder) renew() {
	h.mu.Lock()
	r := Renewal{Version: ProtocolVersion, Node: h.cfg.Node, Incarnation: h.cfg.Incarnation, Standing: h.cfg.Standing()}
	leases := map[string]time.Duration{}
	for _, g := range h.cfg.Groups {
		s, ok := h.mine(g)
		if !ok || h.groups[g].committed != s.Current.Index {
			continue
		}
		r.Claims = append(r.Claims, Claim{Group: g, Index: s.Current.Index, Incarnation: s.Current.Incarnation})
		leases[leaseKey(g, s.Current.Index)] = s.Current.Lease
		if h.groups[g].holding != 0 {
			r.Holding = append(r.Holding, g)
		}
	}
	h.round++
	r.Round = h.round
	sent := h.cfg.Clock.Now() // read before the round's first send
	if len(r.Claims) > 0 {
		h.leases.Start(r.Round, sent, leases)
	}
	h.leases.Forget(sent.Add(-4 * r.Standing.Lease))
	h.lastSent = sent
	h.mu.Unlock()

	if len(r.Claims) == 0 && r.Standing.Fault == "" && (r.Standing.Ineligible == "" || r.Standing.Witness) {
		// Nothing to vouch for and no news: the leader alone places by it. A witness
		// is ineligible for good, and a leader that has not heard it does not place
		// on it anyway.
		if l := h.cfg.Leader(); l != "" {
			h.cfg.Send(l, r)
		}
		return
	}
	// Claims, or news every voter should have should it lead next: this node may not
	// hold anything (it stops, leaves, is drained or in FAULT).
	for _, v := range h.cfg.Log.Configuration().Voters {
		h.cfg.Send(v, r)
	}
}

// Renew sends a renewal round now, besides the regular ones: the standing changed
// and the leader should hear of it at once.
func (h *Holder) Renew() { h.renew() }

// LastPass is when the holder last decided: a supervisor's sign of life.
func (h *Holder) LastPass() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastPass
}

// Ack takes a voter's acknowledgement.
func (h *Holder) Ack(a Ack) {
	h.mu.Lock()
	extended := h.leases.Receive(a)
	sent, _ := h.leases.Sent(a.Round)
	now := h.cfg.Clock.Now()
	h.mu.Unlock()
	if len(extended) > 0 {
		if h.cfg.OnRenewed != nil {
			h.cfg.OnRenewed(now.Sub(sent))
		}
		h.Wake()
	}
}

// Notice is the leader's word that the assignment of g at index committed.
func (h *Holder) Notice(g string, index uint64) {
	h.mu.Lock()
	s, ok := h.mine(g)
	if hg := h.groups[g]; hg != nil {
		switch {
		case ok && s.Current.Index == index && hg.committed != index:
			hg.committed, hg.committedA = index, h.cfg.Clock.Now()
		case index > s.Current.Index:
			// The entry has not reached this node's log yet (it is catching up): keep
			// the word for when it does. The commit was before now either way.
			hg.noticed, hg.noticedA = index, h.cfg.Clock.Now()
		}
	}
	h.mu.Unlock()
	h.Wake()
}

// Told is the previous holder's word that it let g go, held: the assignment it names,
// if it is the one before this node's, owes nothing more.
func (h *Holder) Told(g string, rel store.Release) {
	if !rel.Held {
		return
	}
	h.mu.Lock()
	if hg := h.groups[g]; hg != nil {
		hg.toldHeld = rel
	}
	h.mu.Unlock()
	h.Wake()
}

// pass decides every group and acts; it returns when to decide again at the latest.
func (h *Holder) pass(ctx context.Context) time.Time {
	h.mu.Lock()
	h.lastPass = h.cfg.Clock.Now()
	h.mu.Unlock()
	var next time.Time
	for _, g := range h.cfg.Groups {
		if at := h.decide(ctx, g); !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next
}

// decide decides one group and makes the VIP follow.
func (h *Holder) decide(ctx context.Context, g string) time.Time {
	now := h.cfg.Clock.Now()
	st := h.cfg.Standing()
	h.mu.Lock()
	hg := h.groups[g]
	s, mine := h.mine(g)
	idx := s.Current.Index
	in := GroupInputs{Now: now, Mine: mine, Ineligible: st.Fault}
	if in.Ineligible == "" && st.Priority[g] <= 0 {
		in.Ineligible = st.Why[g]
		if in.Ineligible == "" {
			in.Ineligible = "not eligible for this group"
		}
	}
	if mine {
		switch {
		case hg.committed == idx:
		case hg.noticed == idx:
			hg.committed, hg.committedA = idx, hg.noticedA // the leader's notice came first
		case h.cfg.Log.CommitIndex() >= idx:
			hg.committed, hg.committedA = idx, now
		}
		if hg.committed == idx {
			in.CommittedAt = hg.committedA
		}
		in.Wait = s.Wait
		if p := s.Previous; p.Index != 0 && toldOf(hg.toldHeld, p) {
			in.Wait = 0 // its holder told us it let go, held
		}
		in.LeaseUntil = h.leases.Until(leaseKey(g, idx))
		if h.cfg.Gate != nil {
			in.Blocked, in.BlockedUntil = h.cfg.Gate(g, now)
		}
	}
	d := DecideGroup(in)
	hg.decision, hg.index = d, idx
	prev := hg.holding
	h.mu.Unlock()

	switch {
	case d.Hold:
		if err := h.cfg.VIP(g).Set(ctx, true); err != nil {
			h.cfg.Logger.Error("cannot put the group's VIP up", "group", g, "err", err)
			return now.Add(100 * time.Millisecond)
		}
		h.mu.Lock()
		if hg.holding != idx {
			hg.heldSince = now
		}
		hg.holding, hg.everHeld = idx, idx
		h.mu.Unlock()
		if prev != idx {
			h.cfg.Logger.Info("holding the group", "group", g, "assignment", idx)
			if h.cfg.OnChange != nil {
				h.cfg.OnChange(GroupChange{Group: g, Holding: true, Waited: now.Sub(in.CommittedAt)})
			}
		}
	case prev != 0:
		h.letGo(ctx, g, prev, string(d.Reason), !mine)
	}
	if mine && !d.Hold && in.Ineligible != "" {
		h.release(g, idx, "ineligible: "+in.Ineligible) // give it back for another node
	}
	if !mine {
		h.release(g, h.cfg.Log.Group(g).Previous.Index, "moved")
		h.release(g, idx, "moved")
	}
	return d.WakeAt
}

// letGo takes the group's VIP down (after a drain when the group moves away in a
// planned move) and releases the assignment.
func (h *Holder) letGo(ctx context.Context, g string, idx uint64, why string, moved bool) {
	vip := h.cfg.VIP(g)
	if d, ok := vip.(Drainer); ok && moved {
		// The drain keeps the addresses up, so it never outlasts the lease: the next
		// assignee's wait W counts on the addresses being gone by its end (plus δ).
		h.mu.Lock()
		left := h.leases.Until(leaseKey(g, idx)).Sub(h.cfg.Clock.Now())
		h.mu.Unlock()
		if left > 0 {
			dctx, cancel := context.WithTimeout(ctx, left)
			err := d.Drain(dctx)
			cancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				h.cfg.Logger.Warn("drain before letting the group go", "group", g, "err", err)
			}
		}
	}
	if err := vip.Set(ctx, false); err != nil {
		// Still held, as far as anyone may know: no release, no word to the next
		// assignee (a held release would let it hold at once). The next pass tries
		// again; meanwhile the addresses' lifetime runs out.
		h.cfg.Logger.Error("cannot take the group's VIP down; trying again", "group", g, "err", err)
		return
	}
	h.mu.Lock()
	h.groups[g].holding = 0
	h.leases.Drop(leaseKey(g, idx))
	h.mu.Unlock()
	h.cfg.Logger.Info("let the group go", "group", g, "assignment", idx, "why", why)
	if h.cfg.OnChange != nil {
		h.cfg.OnChange(GroupChange{Group: g, Reason: why, Moved: moved})
	}
	h.release(g, idx, why)
}

// release sends, once, the release of this incarnation's assignment of g at idx, if
// it does not hold it: to the leader to commit it, and, when it held it, to the next
// assignee directly.
func (h *Holder) release(g string, idx uint64, why string) {
	if idx == 0 {
		return
	}
	s := h.cfg.Log.Group(g)
	var a store.Assignment
	switch idx {
	case s.Current.Index:
		a = s.Current
	case s.Previous.Index:
		a = s.Previous
	default:
		return
	}
	k := leaseKey(g, idx)
	h.mu.Lock()
	hg := h.groups[g]
	if a.Node != h.cfg.Node || a.Incarnation != h.cfg.Incarnation || h.released[k] || hg.holding == idx ||
		(idx == s.Current.Index && s.Ended) || (idx == s.Previous.Index && s.PreviousEnded) {
		h.mu.Unlock()
		return
	}
	h.released[k] = true
	rel := store.Release{Node: h.cfg.Node, Incarnation: h.cfg.Incarnation, AssignIndex: idx, Held: hg.everHeld == idx}
	h.mu.Unlock()
	if rel.Held && idx == s.Previous.Index && s.Current.Node != "" && s.Current.Node != h.cfg.Node {
		h.cfg.Tell(s.Current.Node, g, rel)
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := h.cfg.Release(ctx, g, rel, why); err != nil {
			h.cfg.Logger.Warn("cannot commit the release; the leader moves the group when it stops hearing of it",
				"group", g, "assignment", idx, "err", err)
		}
	}()
}

// letAllGo takes every VIP down when the agent stops.
func (h *Holder) letAllGo() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, g := range h.cfg.Groups {
		h.mu.Lock()
		idx := h.groups[g].holding
		h.mu.Unlock()
		if idx != 0 {
			h.letGo(ctx, g, idx, "agent stops", false)
		}
	}
}

// Entitled reports whether this node may present group g to the network right now:
// it holds it and its lease still runs. A process that was frozen wakes with its
// timers due and its lease long gone; it must not announce before its next decision
// takes the addresses down.
func (h *Holder) Entitled(g string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	hg := h.groups[g]
	if hg == nil || hg.holding == 0 {
		return false
	}
	return h.cfg.Clock.Now().Before(h.leases.Until(leaseKey(g, hg.holding)))
}

// Status returns every group as the holder sees it.
func (h *Holder) Status() []GroupStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.cfg.Clock.Now()
	var out []GroupStatus
	for _, g := range h.cfg.Groups {
		hg := h.groups[g]
		s, mine := h.mine(g)
		gs := GroupStatus{Group: g, Assigned: mine, Index: hg.index, Holding: hg.holding != 0, Reason: hg.decision.Reason}
		if gs.Holding {
			gs.Since = hg.heldSince
		}
		if until := h.leases.Until(leaseKey(g, s.Current.Index)); mine && until.After(now) {
			gs.LeaseRemaining = until.Sub(now)
		}
		if hg.decision.Reason == ReasonOwedWait {
			gs.WaitUntil = hg.decision.WakeAt
		}
		out = append(out, gs)
	}
	slices.SortFunc(out, func(a, b GroupStatus) int { return compareStrings(a.Group, b.Group) })
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
