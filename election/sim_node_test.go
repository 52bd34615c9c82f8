package election

import (
	"fmt"
	"slices"
	"time"

	"github.com/raftvip/raftvip/store"
)

// simNode is one node of the simulation: its Raft (sim_raft_test.go), and the
// quorum-lease protocol as DESIGN §9.3 has it, built from the real pure parts.

// simEpoch is where every node's clock would read zero.
var simEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type simNode struct {
	w    *simWorld
	name string
	up   bool
	inc  int // incarnation: a new one at every start
	gen  int // bumped at every crash: timers of an earlier life do nothing

	// Its clock: local = offset + rate × virtual time.
	rate   float64
	offset simTime

	// Its settings, which its assignments record.
	lease, delta time.Duration
	removal      time.Duration // the longest delay from a decision to drop to the addresses gone

	r           simRaft
	electionGen int

	curCache *store.Ownership // Ownership over the whole log; nil when the log changed

	// The lease protocol's volatile state.
	fault       bool
	round       uint64
	leases      Leases
	committedAt map[string]simCommitted  // group → when this node learned its assignment committed
	toldHeld    map[string]store.Release // group → a holder's word that it released its assignment, held
	holding     map[string]uint64        // group → the assignment it holds (decided to hold)
	everHeld    map[string]uint64        // group → the latest assignment it held
	released    map[string]bool          // "g@index": release sent
	evalAt      map[string]simTime       // group → an evaluation already scheduled

	leaderState *simLeader
}

type simCommitted struct {
	index uint64
	at    time.Time
}

// Messages of the lease protocol.
type renewMsg struct {
	round       uint64
	incarnation string
	claims      []Claim
	holding     map[string]uint64 // group → assignment held now
	lease       time.Duration     // the sender's settings, for the leader's assignments
	delta       time.Duration
}

type ackMsg struct{ ack Ack }

type releaseMsg struct {
	group string
	rel   store.Release
}

type noticeMsg struct { // the leader tells an assignee its assignment committed
	group string
	index uint64
}

func (w *simWorld) addNode(name string, voters []string) *simNode {
	n := &simNode{w: w, name: name}
	n.rate = 1 + (w.rng.Float64()*2-1)*w.o.Drift
	n.offset = w.uniform(0, time.Hour)
	n.lease = 120 * time.Millisecond
	if w.o.MixedLeases {
		n.lease = []time.Duration{120 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond}[w.rng.IntN(3)]
	}
	n.delta = n.lease / 4
	n.removal = n.delta / 2
	if w.o.Mut.ZeroDelta {
		n.delta = 0
	}
	if voters != nil {
		n.r.term = 1
		n.r.log = []simEntry{{term: 1, kind: entConfig, cfg: simConfig{voters: slices.Clone(voters)}}}
		n.r.commit = 1
	}
	w.nodes[name] = n
	w.names = append(w.names, name)
	return n
}

func (n *simNode) incName() string { return fmt.Sprintf("%s#%d", n.name, n.inc) }

// localNow is the node's clock.
func (n *simNode) localNow() time.Time { return n.toLocal(n.w.now) }

func (n *simNode) toLocal(v simTime) time.Time {
	return simEpoch.Add(n.offset + time.Duration(float64(v)*n.rate))
}

// toVirtual is the first virtual time at which the node's clock reads t or later.
func (n *simNode) toVirtual(t time.Time) simTime {
	v := simTime(float64(t.Sub(simEpoch)-n.offset)/n.rate) + 1
	for n.toLocal(v).Before(t) {
		v++
	}
	return v
}

func (n *simNode) start() {
	n.up = true
	n.inc++
	n.gen++
	n.r.role, n.r.leader, n.r.commit = roleFollower, "", min(n.r.commit, n.r.lastIndex())
	n.fault = false
	n.leases = Leases{}
	if n.w.o.Mut.CountNonVoters {
		n.leases.quorum = func(cfg Configuration, ackers []string) bool { return 2*len(ackers) > len(cfg.Voters) }
	}
	n.committedAt = map[string]simCommitted{}
	n.toldHeld = map[string]store.Release{}
	n.holding = map[string]uint64{}
	n.everHeld = map[string]uint64{}
	n.released = map[string]bool{}
	n.evalAt = map[string]simTime{}
	n.leaderState = nil
	n.curCache = nil
	n.w.logf("%s starts as %s (lease %v, rate %.3f)", n.name, n.incName(), n.lease, n.rate)
	n.resetElectionTimer()
	n.renewLoop()
	n.evaluate()
}

// crash ends the node as SIGKILL would: its guard removes its addresses at once.
func (n *simNode) crash() {
	if !n.up {
		return
	}
	n.w.logf("%s crashes", n.name)
	n.w.stats.crashes++
	n.up = false
	n.gen++
	for _, g := range n.w.groups {
		if n.pendingDrop(g) {
			n.w.hold(g, n.name, false)
		}
	}
	// Volatile state goes; the term, the vote and the log stay.
	n.r.role, n.r.leader, n.r.commit = roleFollower, "", 0
	n.leaderState = nil
}

func (n *simNode) restart() {
	if n.up {
		return
	}
	n.start()
}

func (n *simNode) receive(from string, msg any) {
	switch m := msg.(type) {
	case voteReq:
		n.onVoteReq(from, m)
	case voteResp:
		n.onVoteResp(from, m)
	case appendReq:
		n.onAppendReq(from, m)
	case appendResp:
		n.onAppendResp(from, m)
	case renewMsg:
		n.onRenew(from, m)
	case ackMsg:
		n.onAck(m.ack)
	case releaseMsg:
		n.onRelease(from, m)
	case noticeMsg:
		n.onNotice(m)
	}
}

// cur is Ownership over the node's whole log, committed or not: what it vouches for.
func (n *simNode) cur() *store.Ownership {
	if n.curCache == nil {
		n.curCache = n.ownership(n.r.lastIndex())
	}
	return n.curCache
}

// ownership applies the log's entries up to upTo.
func (n *simNode) ownership(upTo uint64) *store.Ownership {
	o := &store.Ownership{}
	for i := uint64(1); i <= upTo && i <= n.r.lastIndex(); i++ {
		e := n.r.log[i-1]
		switch e.kind {
		case entAssign:
			a := e.assign
			a.Index = i
			_ = o.Assign(e.group, a)
		case entRelease:
			_ = o.End(e.group, e.release)
		}
	}
	return o
}

func (n *simNode) logChanged() {
	n.curCache = nil
	n.evaluate()
}

// committed is called when the commit index moves from old to now.
func (n *simNode) committed(old, now uint64) {
	if l := n.leaderState; l != nil {
		l.committed(old, now)
	}
	r := &n.r
	if r.role == roleLeader && !r.isVoter(n.name) {
		if _, idx, _ := r.config(); idx <= now {
			n.stepDown(r.term, "")
		}
	}
	n.evaluate()
}

// latestConfig is the node's latest configuration as it reports it in an ack.
func (n *simNode) latestConfig() Configuration {
	c, idx, term := n.r.config()
	return Configuration{Index: idx, Term: term, Voters: slices.Clone(c.voters)}
}

// --- the assignee ---

// key names one assignment of a group in Leases.
func key(g string, index uint64) string { return fmt.Sprintf("%s@%d", g, index) }

// mine returns the group's latest assignment in the node's log if it is to this node
// in this incarnation and not ended.
func (n *simNode) mine(g string) (store.GroupState, bool) {
	st := n.cur().Group(g)
	a := st.Current
	inc := a.Incarnation == n.incName() || n.w.o.Mut.OldIncarnation
	// An assignment this node released is never held again, even before the release
	// commits.
	return st, st.Active() && a.Node == n.name && inc && !n.released[key(g, a.Index)]
}

// renewLoop sends a renewal round for the groups assigned here every L/4.
func (n *simNode) renewLoop() {
	gen := n.gen
	n.w.after(n.localToVirtualDuration(n.lease/4), func() {
		if n.gen == gen {
			n.renew()
			n.renewLoop()
		}
	})
}

// localToVirtualDuration is how long, in virtual time, the node's clock takes to
// advance d.
func (n *simNode) localToVirtualDuration(d time.Duration) simTime {
	return simTime(float64(d)/n.rate) + 1
}

func (n *simNode) renew() {
	var claims []Claim
	leases := map[string]time.Duration{}
	for _, g := range n.w.groups {
		st, ok := n.mine(g)
		if !ok || n.committedAt[g].index != st.Current.Index {
			continue
		}
		claims = append(claims, Claim{Group: g, Index: st.Current.Index, Incarnation: st.Current.Incarnation})
		leases[key(g, st.Current.Index)] = st.Current.Lease
	}
	if len(claims) == 0 {
		return
	}
	n.round++
	sent := n.localNow() // read before the first send
	n.leases.Start(n.round, sent, leases)
	n.leases.Forget(sent.Add(-4 * n.lease))
	msg := renewMsg{round: n.round, incarnation: n.incName(), claims: claims, holding: map[string]uint64{},
		lease: n.lease, delta: n.delta}
	for g, idx := range n.holding {
		msg.holding[g] = idx
	}
	cfg, _, _ := n.r.config()
	to := cfg.voters
	if n.w.o.Mut.CountNonVoters {
		to = cfg.members() // as VerifyLeader asks the whole replication set
	}
	for _, v := range to {
		n.w.send(n.name, v, msg)
	}
	if l := n.leaderState; l != nil {
		l.heard(n.name, msg)
	}
	if n.w.onRound != nil {
		n.w.onRound(n)
	}
}

// onRenew is a voter's answer: it vouches for the claims its own log backs.
func (n *simNode) onRenew(from string, m renewMsg) {
	if l := n.leaderState; l != nil && from != n.name {
		l.heard(from, m)
	}
	cfg := n.latestConfig()
	own := n.cur()
	if n.w.o.Mut.AckCommittedOnly {
		own = n.ownership(n.r.commit)
	}
	self := n.name
	vouchAs := cfg
	if n.w.o.Mut.CountNonVoters && !cfg.HasVoter(self) {
		// A non-voter that answers like a voter, and a holder that counts it.
		vouchAs.Voters = append(slices.Clone(cfg.Voters), self)
	}
	var groups []string
	for _, c := range m.claims {
		st := own.Group(c.Group)
		v := Vouched{Index: st.Current.Index, Node: st.Current.Node, Incarnation: st.Current.Incarnation, Ended: st.Ended}
		if Vouch(self, vouchAs, v, from, c) {
			groups = append(groups, key(c.Group, c.Index))
		}
	}
	n.w.send(n.name, from, ackMsg{Ack{Round: m.round, Voter: self, Config: cfg, Groups: groups}})
}

func (n *simNode) onAck(a Ack) {
	if n.w.o.Mut.IgnoreConfig {
		a.Config = n.latestConfig() // every acknowledgement counted against the holder's own configuration
	}
	if len(n.leases.Receive(a)) > 0 {
		n.evaluate()
	}
}

// onNotice is the leader's word that an assignment committed.
func (n *simNode) onNotice(m noticeMsg) {
	if st, ok := n.mine(m.group); ok && st.Current.Index == m.index && n.committedAt[m.group].index != m.index {
		n.committedAt[m.group] = simCommitted{index: m.index, at: n.localNow()}
		n.evaluate()
	}
}

// onRelease: a leader commits the release; the next assignee, told directly of a
// held release, owes no wait.
func (n *simNode) onRelease(from string, m releaseMsg) {
	if n.r.role == roleLeader {
		n.appendEntry(simEntry{kind: entRelease, group: m.group, release: m.rel})
	}
	if m.rel.Held || n.w.o.Mut.HonourUnheld {
		n.toldHeld[m.group] = m.rel
		n.evaluate()
	}
}

func (n *simNode) setFault(on bool) {
	if !n.up {
		return
	}
	n.fault = on
	n.w.logf("%s fault %v", n.name, on)
	n.evaluate()
}

// evaluate decides, for every group, whether this node holds it.
func (n *simNode) evaluate() {
	if !n.up {
		return
	}
	now := n.localNow()
	for _, g := range n.w.groups {
		st, mine := n.mine(g)
		in := GroupInputs{Now: now, Mine: mine}
		idx := st.Current.Index
		if mine {
			if n.r.commit >= idx && n.committedAt[g].index != idx {
				n.committedAt[g] = simCommitted{index: idx, at: now}
			}
			if c := n.committedAt[g]; c.index == idx {
				in.CommittedAt = c.at
			}
			in.Wait = st.Wait
			switch {
			case n.w.o.Mut.NoWait:
				in.Wait = 0
			case n.w.o.Mut.HonourUnheld && st.PreviousEnded:
				in.Wait = 0
			case n.w.o.Mut.LastLeaseOnlyWait && st.Wait > 0:
				in.Wait = st.Previous.Owes()
			}
			if p := st.Previous; p.Index != 0 && toldOf(n.toldHeld[g], p) {
				in.Wait = 0 // its holder told us it let go, held
			}
			in.LeaseUntil = n.leases.Until(key(g, idx))
			if n.fault {
				in.Ineligible = "FAULT"
			}
		}
		d := DecideGroup(in)
		held, holding := n.holding[g]
		switch {
		case d.Hold && (!holding || held != idx):
			if holding {
				n.drop(g, held, false)
			}
			n.holding[g] = idx
			n.everHeld[g] = idx
			n.w.hold(g, n.name, true)
		case !d.Hold && holding:
			n.drop(g, held, true)
		}
		if !mine || n.fault {
			n.maybeRelease(g)
		}
		if !d.WakeAt.IsZero() {
			n.wakeAt(g, n.toVirtual(d.WakeAt))
		}
	}
}

// wakeAt schedules an evaluation at virtual time t.
func (n *simNode) wakeAt(g string, t simTime) {
	if at, ok := n.evalAt[g]; ok && at <= t && at >= n.w.now {
		return
	}
	n.evalAt[g] = t
	gen := n.gen
	n.w.at(t, func() {
		if n.gen == gen {
			delete(n.evalAt, g)
			n.evaluate()
		}
	})
}

// drop stops holding g: the addresses go after the removal delay, until when the node
// still holds it.
func (n *simNode) drop(g string, idx uint64, release bool) {
	delete(n.holding, g)
	gen := n.gen
	n.w.after(n.w.uniform(0, n.removal+1), func() {
		if n.gen != gen {
			return // crashed meanwhile: the guard removed them then
		}
		if _, again := n.holding[g]; !again {
			n.w.hold(g, n.name, false)
		}
		if release {
			n.maybeRelease(g)
		}
	})
}

// maybeRelease sends, once, the release of an assignment this incarnation had and no
// longer holds: to the leader, to commit it, and to the next assignee, which owes no
// wait when it was held.
func (n *simNode) maybeRelease(g string) {
	st := n.cur().Group(g)
	for _, a := range []store.Assignment{st.Current, st.Previous} {
		if a.Index == 0 || a.Node != n.name || a.Incarnation != n.incName() || n.released[key(g, a.Index)] {
			continue
		}
		if held, ok := n.holding[g]; ok && held == a.Index {
			continue // still holding it
		}
		if a == st.Current && !st.Ended && !n.fault {
			continue // still ours to hold
		}
		if n.pendingDrop(g) {
			continue // the addresses are not gone yet
		}
		n.released[key(g, a.Index)] = true
		rel := store.Release{Node: n.name, Incarnation: a.Incarnation, AssignIndex: a.Index, Held: n.everHeld[g] == a.Index}
		n.w.logf("%s releases %s@%d held=%v", n.name, g, a.Index, rel.Held)
		if n.r.leader != "" {
			n.w.send(n.name, n.r.leader, releaseMsg{group: g, rel: rel})
		}
		if a == st.Previous && st.Current.Node != "" && st.Current.Node != n.name {
			n.w.send(n.name, st.Current.Node, releaseMsg{group: g, rel: rel})
		}
	}
}

// pendingDrop reports whether the node's addresses of g are still up (it decided to
// drop but the removal has not taken effect).
func (n *simNode) pendingDrop(g string) bool {
	_, up := n.w.holders[g][n.name]
	return up
}

// --- the leader: placement and detection ---

type simLeader struct {
	n         *simNode
	since     time.Time                // local time it became leader
	known     map[string]simKnown      // node → its incarnation and settings, as last heard
	lastHold  map[string]simHeldReport // group → the last "holding" report
	pending   map[string]uint64        // group → an assign not yet committed
	seenAt    map[uint64]time.Time     // assign index → when it committed here
	cfgChange uint64                   // a configuration change not yet committed
}

// simKnown is what the leader last heard of a node: production learns it from gossip.
type simKnown struct {
	incarnation  string
	lease, delta time.Duration
}

type simHeldReport struct {
	index uint64
	at    time.Time
}

func newLeaderState(n *simNode) *simLeader {
	l := &simLeader{n: n, since: n.localNow(), known: map[string]simKnown{}, lastHold: map[string]simHeldReport{},
		pending: map[string]uint64{}, seenAt: map[uint64]time.Time{}}
	l.known[n.name] = simKnown{incarnation: n.incName(), lease: n.lease, delta: n.delta}
	gen, term := n.gen, n.r.term
	var tick func()
	tick = func() {
		if n.gen != gen || n.r.term != term || n.leaderState != l {
			return
		}
		if !n.w.o.Script {
			l.place()
		}
		n.w.after(40*time.Millisecond, tick)
	}
	n.w.after(40*time.Millisecond, tick)
	return l
}

// heard records a renewal: the sender lives, in this incarnation, with these settings,
// and holds these groups.
func (l *simLeader) heard(from string, m renewMsg) {
	l.known[from] = simKnown{incarnation: m.incarnation, lease: m.lease, delta: m.delta}
	for g, idx := range m.holding {
		l.lastHold[g] = simHeldReport{index: idx, at: l.n.localNow()}
	}
}

// committed notes assignments that committed and tells their assignees.
func (l *simLeader) committed(old, now uint64) {
	n := l.n
	for i := old + 1; i <= now && i <= n.r.lastIndex(); i++ {
		e := n.r.log[i-1]
		switch e.kind {
		case entAssign:
			l.seenAt[i] = n.localNow()
			n.w.send(n.name, e.assign.Node, noticeMsg{group: e.group, index: i})
		case entConfig:
			if l.cfgChange == i {
				l.cfgChange = 0
			}
		}
	}
	for g, idx := range l.pending {
		if idx <= now {
			delete(l.pending, g)
		}
	}
}

// detect is how long the leader waits without a "holding" report before it moves a
// group: about two renewal periods plus a round trip.
func (l *simLeader) detect(a store.Assignment) time.Duration {
	return a.Lease/2 + 4*l.n.w.o.MaxDelay + 20*time.Millisecond
}

// place assigns unassigned groups and moves those whose holder went quiet; it
// promotes caught-up non-voters.
func (l *simLeader) place() {
	n := l.n
	now := n.localNow()
	cur := n.cur()
	for _, g := range n.w.groups {
		if l.pending[g] != 0 {
			continue
		}
		st := cur.Group(g)
		if !st.Active() {
			l.assign(g, "")
			continue
		}
		a := st.Current
		committedAt, ok := l.seenAt[a.Index]
		if !ok {
			if n.r.commit < a.Index {
				continue
			}
			committedAt = l.since
		}
		start := committedAt.Add(st.Wait)
		if l.since.After(start) {
			start = l.since
		}
		rep := l.lastHold[g]
		if rep.index == a.Index && rep.at.After(start) {
			start = rep.at
		}
		if now.Sub(start) > l.detect(a) {
			n.w.logf("leader %s: no holding report for %s@%d; moving it", n.name, g, a.Index)
			l.assign(g, a.Node)
		}
	}
	l.promote()
}

// moveRandom is an operator's move of group g to another node.
func (n *simNode) moveRandom(g, why string) {
	if l := n.leaderState; l != nil && l.pending[g] == 0 {
		n.w.logf("leader %s: %s moves %s", n.name, why, g)
		l.assign(g, n.cur().Group(g).Current.Node)
	}
}

// assign commits assign{g, x} for a random member x it has heard from, not avoid.
func (l *simLeader) assign(g, avoid string) {
	n := l.n
	cfg, _, _ := n.r.config()
	var cands []string
	for _, m := range cfg.members() {
		if _, heard := l.known[m]; heard && m != avoid {
			cands = append(cands, m)
		}
	}
	if len(cands) == 0 {
		return
	}
	to := cands[n.w.rng.IntN(len(cands))]
	k := l.known[to]
	a := store.Assignment{Node: to, Incarnation: k.incarnation, Lease: k.lease, Delta: k.delta}
	idx := n.appendEntry(simEntry{kind: entAssign, group: g, assign: a})
	l.pending[g] = idx
	n.w.logf("leader %s: assign %s@%d to %s", n.name, g, idx, k.incarnation)
}

// addServer adds name as a non-voter, if no configuration change is in flight.
func (l *simLeader) addServer(name string) {
	n := l.n
	if l.cfgChange != 0 {
		return
	}
	cfg, _, _ := n.r.config()
	next := simConfig{voters: slices.Clone(cfg.voters), learners: append(slices.Clone(cfg.learners), name)}
	l.cfgChange = n.appendEntry(simEntry{kind: entConfig, cfg: next})
	n.w.logf("leader %s: add %s as a non-voter", n.name, name)
}

func (n *simNode) addServer(name string) {
	if l := n.leaderState; l != nil {
		l.addServer(name)
	}
}

// promote makes one caught-up non-voter a voter.
func (l *simLeader) promote() {
	n := l.n
	if l.cfgChange != 0 {
		return
	}
	cfg, _, _ := n.r.config()
	for _, m := range cfg.learners {
		if n.r.match[m] >= n.r.commit && n.r.commit > 0 {
			next := simConfig{voters: append(slices.Clone(cfg.voters), m), learners: slices.DeleteFunc(slices.Clone(cfg.learners), func(s string) bool { return s == m })}
			l.cfgChange = n.appendEntry(simEntry{kind: entConfig, cfg: next})
			n.w.logf("leader %s: promote %s", n.name, m)
			return
		}
	}
}

// removeRandomServer removes one server, keeping at least three voters.
func (n *simNode) removeRandomServer() {
	l := n.leaderState
	if l == nil || l.cfgChange != 0 {
		return
	}
	cfg, _, _ := n.r.config()
	members := cfg.members()
	victim := members[n.w.rng.IntN(len(members))]
	if slices.Contains(cfg.voters, victim) && len(cfg.voters) <= 3 {
		return
	}
	next := simConfig{
		voters:   slices.DeleteFunc(slices.Clone(cfg.voters), func(s string) bool { return s == victim }),
		learners: slices.DeleteFunc(slices.Clone(cfg.learners), func(s string) bool { return s == victim }),
	}
	l.cfgChange = n.appendEntry(simEntry{kind: entConfig, cfg: next})
	n.w.logf("leader %s: remove %s", n.name, victim)
}

// --- what a script asks of the leader ---

// assignTo commits assign{g, to} on the leader, with to's incarnation and settings.
func (n *simNode) assignTo(g, to string) {
	t := n.w.nodes[to]
	a := store.Assignment{Node: to, Incarnation: t.incName(), Lease: t.lease, Delta: t.delta}
	idx := n.appendEntry(simEntry{kind: entAssign, group: g, assign: a})
	n.w.logf("leader %s: assign %s@%d to %s", n.name, g, idx, a.Incarnation)
}

// addLearner adds name as a non-voter.
func (n *simNode) addLearner(name string) {
	cfg, _, _ := n.r.config()
	next := simConfig{voters: cfg.voters, learners: append(slices.Clone(cfg.learners), name)}
	n.appendEntry(simEntry{kind: entConfig, cfg: next})
	n.w.logf("leader %s: add non-voter %s", n.name, name)
}

// addVoter adds name straight as a voter (AddVoter).
func (n *simNode) addVoter(name string) {
	cfg, _, _ := n.r.config()
	next := simConfig{voters: append(slices.Clone(cfg.voters), name), learners: cfg.learners}
	n.appendEntry(simEntry{kind: entConfig, cfg: next})
	n.w.logf("leader %s: add voter %s", n.name, name)
}
