package election

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// ErrNotHolder is returned by Handoff when this node does not hold the VIP (today: it
// is not the Raft leader, the only node that may hold it): there is nothing here to
// hand off.
var ErrNotHolder = errors.New("election: this node does not hold the VIP")

// Config wires an Elector to its collaborators and sets its timing.
type Config struct {
	Node   string // this node's Raft server ID
	Raft   Raft
	Ledger Ledger
	VIP    VIP
	Clock  Clock        // nil: SystemClock
	Logger *slog.Logger // nil: discard

	Lease        time.Duration // L: how long a successful VerifyLeader lets us hold
	Renew        time.Duration // watchdog period; L/4
	ClaimDelay   time.Duration // D = L + T_rpc + δ, plus the lifetime under strict fencing
	ApplyTimeout time.Duration // bound on record commits
	Tick         time.Duration // safety-net wake-up of the reconcile loop

	// Cluster reports every voter's health for the leadership policy. nil: every node
	// is eligible and the VIP never moves for priority.
	Cluster Cluster
	Policy  PolicyConfig
	// OnChange, if set, is called with the VIP's state after every pass in which
	// holding or eligibility changed, in order. It is called with the elector's lock
	// held: it must not block or call back into the Elector.
	OnChange func(holding bool)
	// Gate, if set, is asked on every pass whether something outside the cluster
	// forbids holding the VIP (reason non-empty) and until when at most. It must not
	// call back into the elector.
	Gate func(now time.Time) (reason string, until time.Time)
	// OnDrop, if set, is called (with e.mu held) when this node stops holding: why,
	// and whether a planned move hands the VIP to another node.
	OnDrop func(reason Reason, planned bool)
	// OnMove, if set, is called (with e.mu held) whenever this node starts or stops
	// holding the VIP; see MoveEvent. It must not block. Metrics count moves with it.
	OnMove func(MoveEvent)
	// OnRenew, if set, is told how long each lease renewal (VerifyLeader, confirmed
	// by a quorum) took and whether it renewed the lease. It runs in the watchdog and
	// must not block.
	OnRenew func(took time.Duration, ok bool)
}

// Cluster is the leadership policy's view of the cluster.
type Cluster interface {
	// Candidates returns every voter, this node included, with its latest health.
	Candidates() []Member
}

// Confirmer is implemented by a Cluster that can ask a voter for its health directly.
// Gossip lags by a round or two; before the elector hands the VIP to a node it asks
// that node, so the next Candidates reflects what the target says about itself, and
// the policy runs again on that. An error means the target cannot be reached.
type Confirmer interface {
	Confirm(ctx context.Context, node string) error
}

// confirmFresh is how long a target's own word is good for a move.
const confirmFresh = 500 * time.Millisecond

// Status is a snapshot of the elector for the admin API.
type Status struct {
	Role           Role
	Term           uint64
	Holding        bool // the kernel has the VIP because of us
	HeldSince      time.Time
	Reason         Reason
	LeaseRemaining time.Duration
	Releasing      bool

	// Plan is the leadership policy's latest evaluation, Candidates its inputs.
	Plan       Plan
	Candidates []Member
	Fault      bool // a weight-0 check fails here
	LastMove   time.Time
	// LastPass is when the reconcile loop last ran: a supervisor's sign of life.
	LastPass time.Time
}

// Elector runs the lease watchdog and the reconcile loop of one node.
type Elector struct {
	cfg   Config
	clock Clock
	log   *slog.Logger
	wake  chan struct{}

	// changed is closed, and replaced, by every Wake: Handoff waits on it for Raft
	// to show a leadership change.
	changedMu sync.Mutex
	changed   chan struct{}

	mu             sync.Mutex
	leaseUntil     time.Time
	leaseTerm      uint64
	claimTerm      uint64
	claimImmediate bool
	claimPrev      Record    // the record this node's claim followed in claimTerm
	claimPrevOK    bool      // there was one
	leaderContact  time.Time // when this node, as a follower, last heard from a leader
	lastPass       time.Time // when the reconcile loop last ran
	leaderTerm     uint64
	leaderSince    time.Time
	releasing      int       // planned moves in progress
	retired        bool      // shutting down: never hold again
	busy           bool      // a claim or release commit is running
	claimWarnAt    time.Time // when a failed claim was last logged
	holding        bool
	heldSince      time.Time
	heldTerm       uint64 // the term in which this node last held the VIP
	reason         Reason
	dropped        chan struct{} // closed when the VIP is off while releasing
	moveReason     string        // the reason of the latest planned move (Handoff)

	stamper     stamper
	plan        Plan
	candidates  []Member
	fault       bool
	moving      bool      // a policy move is running
	lastMove    time.Time // last planned move made, or when this node last became leader
	retryMove   time.Time // a failed policy move is not retried before this
	confirmed   string    // the move target that last confirmed its health itself
	confirmedAt time.Time
	notified    string // holding/eligibility as last reported to OnChange
}

// New returns an Elector. Call Run to start it.
func New(cfg Config) *Elector {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Renew <= 0 {
		cfg.Renew = cfg.Lease / 4
	}
	if cfg.Tick <= 0 {
		cfg.Tick = cfg.Renew
	}
	if cfg.ApplyTimeout <= 0 {
		cfg.ApplyTimeout = time.Second
	}
	return &Elector{
		cfg:     cfg,
		clock:   cfg.Clock,
		log:     cfg.Logger,
		wake:    make(chan struct{}, 1),
		changed: make(chan struct{}),
		dropped: make(chan struct{}),
	}
}

// Wake asks the reconcile loop for a pass. It never blocks; Raft notifications,
// observations and FSM applies call it.
func (e *Elector) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
	e.changedMu.Lock()
	close(e.changed)
	e.changed = make(chan struct{})
	e.changedMu.Unlock()
}

// changes returns a channel that the next Wake closes.
func (e *Elector) changes() <-chan struct{} {
	e.changedMu.Lock()
	defer e.changedMu.Unlock()
	return e.changed
}

// awaitRaft returns true once done reports true, or false when ctx ends or limit
// fires first (a nil limit never fires). It asks done again on every Wake, which
// Raft's state notifications and leader observations call, and at least every Tick
// in case a wake-up was missed, as the reconcile loop does.
func (e *Elector) awaitRaft(ctx context.Context, limit <-chan time.Time, done func() bool) bool {
	for {
		changed := e.changes()
		if done() {
			return true
		}
		select {
		case <-changed:
		case <-e.clock.After(e.cfg.Tick):
		case <-limit:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// Run runs the watchdog and the reconcile loop until ctx ends, then removes the VIP.
func (e *Elector) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.watchdog(ctx)
	}()
	defer wg.Wait()

	for {
		d := e.pass(ctx)
		wait := e.cfg.Tick
		if !d.WakeAt.IsZero() {
			if w := d.WakeAt.Sub(e.clock.Now()) + time.Millisecond; w < wait {
				wait = max(w, 0)
			}
		}
		select {
		case <-ctx.Done():
			return e.stop()
		case <-e.wake:
		case <-e.clock.After(wait):
		}
	}
}

// stop removes the VIP on the way out, whatever the state.
func (e *Elector) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := e.cfg.VIP.Set(ctx, false)
	e.mu.Lock()
	was := e.holding
	if err == nil {
		e.holding = false
	}
	e.reason = ReasonShuttingDown
	e.mu.Unlock()
	if err != nil {
		return fmt.Errorf("election: remove VIP on shutdown: %w", err)
	}
	if was {
		e.log.Info("released VIP", "reason", "shutdown")
	}
	return nil
}

// inputs gathers the decision's inputs; e.mu must be held.
func (e *Elector) inputs(now time.Time) *Inputs {
	role := roleOf(e.cfg.Raft.State())
	term := e.cfg.Raft.CurrentTerm()
	if e.retired {
		role = Shutdown
	}
	if role == Follower {
		if lc := e.cfg.Raft.LastContact(); !lc.IsZero() {
			e.leaderContact = lc
		}
	}
	if role == Leader && term != e.leaderTerm {
		e.leaderTerm, e.leaderSince = term, now
		// A new leader counts as a move for the rate limit. Its view of the others'
		// health is up to a gossip round old, and the node it took over from may
		// have handed over because it failed: moving straight back on that stale
		// view would ping-pong the VIP.
		e.lastMove = now
	}
	return &Inputs{
		Now:            now,
		Role:           role,
		Term:           term,
		LeaseUntil:     e.leaseUntil,
		LeaseTerm:      e.leaseTerm,
		ClaimTerm:      e.claimTerm,
		ClaimImmediate: e.claimImmediate,
		LeaderSince:    e.leaderSince,
		ClaimDelay:     e.cfg.ClaimDelay,
		Releasing:      e.releasing > 0,
	}
}

// pass runs one reconcile: decide, make the kernel match, start any Raft step.
func (e *Elector) pass(ctx context.Context) Decision {
	var cands []Member
	var pinned string
	if e.cfg.Cluster != nil {
		cands = e.cfg.Cluster.Candidates()
		pinned = e.cfg.Ledger.Pinned()
	}
	now := e.clock.Now()
	var blocked string
	var blockedUntil time.Time
	if e.cfg.Gate != nil {
		blocked, blockedUntil = e.cfg.Gate(now)
	}
	e.mu.Lock()
	e.lastPass = now
	in := e.inputs(now)
	in.Blocked, in.BlockedUntil = blocked, blockedUntil
	plan := e.evaluate(now, in, cands, pinned)
	e.mu.Unlock()
	d := Decide(*in)
	if !plan.WakeAt.IsZero() && (d.WakeAt.IsZero() || plan.WakeAt.Before(d.WakeAt)) {
		d.WakeAt = plan.WakeAt
	}

	e.mu.Lock()
	was := e.holding
	if d.Hold {
		// Set starts the first gratuitous ARP round at once, and the announce gate
		// (Entitled) must already see the hold, or that round is skipped and clients
		// keep the old MAC for a second.
		e.holding = true
	}
	e.mu.Unlock()
	err := e.cfg.VIP.Set(ctx, d.Hold)

	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case err != nil && d.Hold:
		// Some addresses may be on: treat as holding so the next drop removes them.
		e.holding = true
		e.log.Error("cannot add VIP", "err", err)
	case err != nil:
		e.log.Error("cannot remove VIP; retrying", "err", err)
	default:
		e.holding = d.Hold
	}
	if e.holding && !was {
		e.heldSince, e.heldTerm = now, in.Term
		m := DescribeMove(e.cfg.Node, e.claimPrev, e.claimPrevOK && e.claimTerm == in.Term, e.leaderContact, now)
		e.log.Info("VIP moved", "from", m.From, "to", e.cfg.Node, "reason", m.Reason, "gap", m.Gap,
			"term", in.Term, "since_leader", now.Sub(in.LeaderSince).Round(time.Millisecond), "immediate", in.ClaimImmediate)
		if e.cfg.OnMove != nil {
			e.cfg.OnMove(MoveEvent{Held: true, Reason: m.Reason, SinceLeader: now.Sub(in.LeaderSince)})
		}
	}
	if was && !e.holding {
		e.log.Info("released VIP", "reason", string(d.Reason), "term", in.Term)
		if e.cfg.OnDrop != nil {
			e.cfg.OnDrop(d.Reason, in.Releasing)
		}
		if e.cfg.OnMove != nil {
			ev := MoveEvent{Reason: string(d.Reason), Planned: in.Releasing}
			if in.Releasing {
				ev.Reason = e.moveReason
			}
			e.cfg.OnMove(ev)
		}
		if in.Role == Leader && e.heldTerm == in.Term && !in.Releasing && !in.MovePending {
			// Still leader (lease loss, FAULT with nobody to hand over to): record the
			// release so a later claim, ours or another node's, need not wait the
			// claim delay. A pending planned move commits its own release, naming
			// its target.
			e.claimTerm = 0
			e.startStep(ctx, func() { e.commitRelease(in.Term, "", string(d.Reason), false) })
		}
	}
	if d.Reason != e.reason {
		level := slog.LevelInfo
		if d.Reason == ReasonNotLeader || d.Reason == ReasonClaiming {
			level = slog.LevelDebug
		}
		e.log.Log(ctx, level, "election state", "reason", string(d.Reason), "term", in.Term, "role", in.Role.String())
		e.reason = d.Reason
	}
	if in.Releasing && !e.holding {
		select {
		case <-e.dropped:
		default:
			close(e.dropped)
		}
	}
	if d.Step == StepClaim {
		e.startStep(ctx, func() { e.claim(ctx, in.Term) })
	}
	if plan.Move != "" && in.Role == Leader && !in.Releasing && !e.moving && !now.Before(e.retryMove) && ctx.Err() == nil {
		if c, ok := e.cfg.Cluster.(Confirmer); ok && (e.confirmed != plan.Move || now.Sub(e.confirmedAt) > confirmFresh) {
			e.startConfirm(ctx, c, plan.Move)
		} else {
			e.startMove(ctx, plan)
		}
	}
	if e.cfg.OnChange != nil {
		if key := fmt.Sprintf("%t|%s", e.holding, plan.Ineligible); key != e.notified {
			e.notified = key
			e.cfg.OnChange(e.holding)
		}
	}
	return d
}

// evaluate runs the leadership policy and folds its answer into in; pinned is what
// the ledger says an operator transfer pinned the VIP to. e.mu must be held.
func (e *Elector) evaluate(now time.Time, in *Inputs, cands []Member, pinned string) Plan {
	if e.cfg.Cluster == nil {
		return Plan{}
	}
	cands = e.stamper.stamp(now, cands)
	plan := Evaluate(e.cfg.Policy, PolicyInputs{
		Now:      now,
		Self:     e.cfg.Node,
		Leader:   in.Role == Leader,
		Members:  cands,
		LastMove: e.lastMove,
		Pinned:   pinned,
	})
	e.fault = false
	for _, c := range cands {
		if c.Name == e.cfg.Node {
			e.fault = c.Fault && c.Known
		}
	}
	in.Ineligible = plan.Ineligible
	in.Fault = e.fault
	in.MovePending = plan.Move != "" || e.moving
	e.plan, e.candidates = plan, cands
	return plan
}

// startMove hands the VIP to the policy's choice in the background; e.mu must be held.
func (e *Elector) startMove(ctx context.Context, plan Plan) {
	e.moving = true
	go func() {
		mctx, cancel := context.WithTimeout(ctx, 10*e.cfg.ApplyTimeout)
		defer cancel()
		e.log.Info("moving the VIP", "to", plan.Move, "reason", plan.Reason)
		// The policy's own moves never pin: a health or priority move ends a pin.
		err := e.Handoff(mctx, Move{Target: plan.Move, Reason: plan.Reason})
		e.mu.Lock()
		e.moving = false
		e.lastMove = e.clock.Now()
		if err != nil {
			e.retryMove = e.lastMove.Add(time.Second)
		}
		e.mu.Unlock()
		if err != nil && !errors.Is(err, ErrNotHolder) {
			e.log.Warn("planned move failed; will retry", "to", plan.Move, "err", err)
		}
		e.Wake()
	}()
}

// startConfirm asks a move target for its health in the background; the pass after
// it re-plans on the answer. e.mu must be held.
func (e *Elector) startConfirm(ctx context.Context, c Confirmer, target string) {
	e.moving = true
	go func() {
		cctx, cancel := context.WithTimeout(ctx, e.cfg.ApplyTimeout)
		err := c.Confirm(cctx, target)
		cancel()
		e.mu.Lock()
		e.moving = false
		if err == nil {
			e.confirmed, e.confirmedAt = target, e.clock.Now()
		}
		e.mu.Unlock()
		if err != nil {
			e.log.Warn("move target does not answer; choosing again", "target", target, "err", err)
		}
		e.Wake()
	}()
}

// startStep runs one Raft commit in the background unless one is already running;
// e.mu must be held.
func (e *Elector) startStep(ctx context.Context, f func()) {
	if e.busy || ctx.Err() != nil {
		return
	}
	e.busy = true
	go func() {
		f()
		e.mu.Lock()
		e.busy = false
		e.mu.Unlock()
		e.Wake()
	}()
}

// claimRetry paces the retries of a claim Raft refused.
const claimRetry = 50 * time.Millisecond

// claim commits {node, term}. The record it follows in the log decides whether the
// claim delay applies; reading it from the claim's own apply, not from the FSM before
// committing, means no record committed by an earlier leader can be missed.
func (e *Elector) claim(ctx context.Context, term uint64) {
	last, ok, err := e.cfg.Ledger.Claim(e.cfg.Node, term, e.cfg.ApplyTimeout)
	if err != nil {
		// Raft refuses at once while, for example, a leadership transfer is under
		// way: pace the retries (the next pass starts one, once this step is no
		// longer busy) and the warnings.
		now := e.clock.Now()
		e.mu.Lock()
		warn := now.Sub(e.claimWarnAt) >= time.Second
		if warn {
			e.claimWarnAt = now
		}
		e.mu.Unlock()
		if warn {
			e.log.Warn("cannot commit claim; retrying", "term", term, "err", err)
		}
		select {
		case <-ctx.Done():
		case <-e.clock.After(claimRetry):
		}
		return
	}
	immediate := ClaimIsImmediate(last, ok, e.cfg.Node)
	if e.cfg.Raft.CurrentTerm() != term {
		return
	}
	e.mu.Lock()
	e.claimTerm, e.claimImmediate = term, immediate
	e.claimPrev, e.claimPrevOK = last, ok
	e.mu.Unlock()
	if !immediate {
		e.log.Info("claim committed; waiting out the claim delay", "term", term,
			"previous", last.Node, "delay", e.cfg.ClaimDelay)
	}
}

func (e *Elector) commitRelease(term uint64, handoff, reason string, pin bool) {
	if e.cfg.Raft.State() != raft.Leader {
		return
	}
	if err := e.cfg.Ledger.Release(e.cfg.Node, term, handoff, reason, pin, e.cfg.ApplyTimeout); err != nil {
		if leadershipGone(err) {
			// The usual case: the release followed a lost lease or a lost election.
			// The VIP is already gone here; the next leader waits the claim delay.
			e.log.Info("release record not committed: no longer leader; the next leader waits the claim delay", "term", term, "err", err)
			return
		}
		e.log.Warn("cannot commit release record", "term", term, "err", err)
	}
}

// leadershipGone reports whether err says this node stopped being leader, or is
// handing leadership over, while a record was being committed.
func leadershipGone(err error) bool {
	return errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) ||
		errors.Is(err, raft.ErrLeadershipTransferInProgress)
}

// watchdog renews the lease: t0 := now; if VerifyLeader succeeds, lease = t0 + L.
// It runs on its own timer, apart from Raft's loop and the reconcile loop.
func (e *Elector) watchdog(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.clock.After(e.cfg.Renew):
		}
		if e.cfg.Raft.State() != raft.Leader {
			continue
		}
		term := e.cfg.Raft.CurrentTerm()
		t0 := e.clock.Now()
		err := e.cfg.Raft.VerifyLeader().Error()
		if e.cfg.OnRenew != nil {
			e.cfg.OnRenew(e.clock.Now().Sub(t0), err == nil)
		}
		if err != nil {
			e.log.Debug("lease renewal failed", "term", term, "err", err)
			e.Wake()
			continue
		}
		if e.cfg.Raft.CurrentTerm() != term {
			e.Wake()
			continue
		}
		e.mu.Lock()
		fresh := e.leaseTerm != term || !e.clock.Now().Before(e.leaseUntil)
		e.leaseUntil, e.leaseTerm = t0.Add(e.cfg.Lease), term
		e.mu.Unlock()
		if fresh {
			e.Wake()
		}
	}
}

// Entitled reports whether this node may act as the VIP holder at this instant: it
// holds, is leader, and has a claim and an unexpired lease in the current term. The
// announcer asks before every round, so a process that wakes from a freeze does not
// announce a VIP its lease no longer covers.
func (e *Elector) Entitled() bool {
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.holding || e.retired || e.releasing > 0 || e.cfg.Raft.State() != raft.Leader {
		return false
	}
	term := e.cfg.Raft.CurrentTerm()
	return e.leaseTerm == term && e.claimTerm == term && now.Before(e.leaseUntil)
}

// Status returns the elector's view for status output.
func (e *Elector) Status() Status {
	now := e.clock.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Status{
		Role:      roleOf(e.cfg.Raft.State()),
		Term:      e.cfg.Raft.CurrentTerm(),
		Holding:   e.holding,
		Reason:    e.reason,
		Releasing: e.releasing > 0 || e.retired,
	}
	if e.holding {
		s.HeldSince = e.heldSince
	}
	s.Plan, s.Candidates, s.Fault, s.LastMove, s.LastPass = e.plan, slices.Clone(e.candidates), e.fault, e.lastMove, e.lastPass
	if e.leaseTerm == s.Term && now.Before(e.leaseUntil) {
		s.LeaseRemaining = e.leaseUntil.Sub(now)
	}
	return s
}

// Move is a planned move of the VIP, as Handoff makes it.
type Move struct {
	// Target is the voter to hand the VIP to; empty: the most up-to-date other voter.
	Target string
	// Reason is recorded in the release record and logged.
	Reason string
	// Retire means this node never holds again (shutdown); otherwise it may hold again
	// once the move is over.
	Retire bool
	// Pin marks an operator transfer: the release record pins the VIP on Target, so
	// priority preemption does not pull it back while Target stays eligible (see
	// Evaluate). Any later release, or a claim by another node, ends the pin. Pin
	// needs a Target.
	Pin bool
}

// Handoff makes a planned move (DESIGN §2): if the VIP can drain, new connections are
// held off for the drain time first; then the VIP comes off this node, a release
// record naming m.Target (and carrying m.Pin) is committed, and leadership is
// transferred to m.Target (or, when it is empty, to the most up-to-date other voter).
// The new leader sees the release and claims without the claim delay. A leader that
// has not held the VIP in its term commits no release, and so pins nothing.
//
// Handoff returns ErrNotHolder when this node is not the leader.
func (e *Elector) Handoff(ctx context.Context, m Move) error {
	target, reason := m.Target, m.Reason
	if m.Pin && target == "" {
		return errors.New("election: hand-off: a pinned move needs a target")
	}
	if target != "" {
		// Check the target before anything changes: a bad name must not cost a drain.
		if _, err := e.voterAddress(target); err != nil {
			return fmt.Errorf("election: hand-off to %q: %w", target, err)
		}
	}
	if d, ok := e.cfg.VIP.(Drainer); ok && e.Entitled() {
		if err := d.Drain(ctx); err != nil {
			e.log.Warn("drain before hand-off cut short", "err", err)
		}
	}
	e.mu.Lock()
	e.releasing++
	e.moveReason = reason
	if m.Retire {
		e.retired = true
	}
	dropped := e.dropped
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.releasing--
		if e.releasing == 0 {
			e.dropped = make(chan struct{})
		}
		e.mu.Unlock()
		e.Wake()
	}()
	e.Wake()

	select {
	case <-dropped:
	case <-ctx.Done():
		return fmt.Errorf("election: hand-off: waiting for the VIP to come off: %w", ctx.Err())
	}
	if e.cfg.Raft.State() != raft.Leader {
		return ErrNotHolder
	}
	term := e.cfg.Raft.CurrentTerm()
	e.mu.Lock()
	e.claimTerm = 0
	// A release tells the next leader nobody holds the VIP, so it may claim at once.
	// That is true only if this node held the VIP in this term: then its claim
	// committed and its claim delay passed. A leader that never held here must not
	// vouch for a holder of an earlier term; the next leader waits the claim delay.
	safe := e.heldTerm == term
	e.mu.Unlock()
	if safe {
		e.commitRelease(term, target, reason, m.Pin)
	}

	var fut raft.Future
	if target == "" {
		fut = e.cfg.Raft.LeadershipTransfer()
	} else {
		addr, err := e.voterAddress(target)
		if err != nil {
			return fmt.Errorf("election: hand-off to %q: %w", target, err)
		}
		fut = e.cfg.Raft.LeadershipTransferToServer(raft.ServerID(target), addr)
	}
	if err := fut.Error(); err != nil {
		return fmt.Errorf("election: hand-off to %q: leadership transfer: %w", target, err)
	}
	if !e.awaitRaft(ctx, nil, func() bool { return e.cfg.Raft.State() != raft.Leader }) {
		return fmt.Errorf("election: hand-off: still leader: %w", ctx.Err())
	}
	// Name the new leader in the log; it is known within a heartbeat or two, and
	// callers read it from Raft once Handoff returns.
	var leader raft.ServerID
	e.awaitRaft(ctx, e.clock.After(newLeaderWait), func() bool {
		_, leader = e.cfg.Raft.LeaderWithID()
		return leader != "" && string(leader) != e.cfg.Node
	})
	e.log.Info("handed off leadership", "to", string(leader), "reason", reason)
	return nil
}

// newLeaderWait bounds how long Handoff waits, after stepping down, to learn the new
// leader's name.
const newLeaderWait = 500 * time.Millisecond

// voterAddress finds target among the voters of the current configuration. Its
// errors are left for the caller to prefix.
func (e *Elector) voterAddress(target string) (raft.ServerAddress, error) {
	f := e.cfg.Raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return "", fmt.Errorf("read raft configuration: %w", err)
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) != target {
			continue
		}
		if s.Suffrage != raft.Voter {
			return "", errors.New("not a voter")
		}
		return s.Address, nil
	}
	return "", errors.New("not a member of the cluster")
}
