package election

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/raftvip/raftvip/store"
	"github.com/raftvip/raftvip/test/clocktest"
)

// The Holder's tests drive it synchronously: they call renew, Ack and pass themselves
// and move a clocktest.Manual clock by hand, so every instant they look at is exact and nothing
// sleeps. Node A, in incarnation A#1, is the holder; A, B and C are the voters.

// hdOwnLog is the holder's Raft log: an Ownership, the latest configuration and the
// commit index, each settable by the test.
type hdOwnLog struct {
	mu     sync.Mutex
	own    store.Ownership
	cfg    Configuration
	commit uint64
}

func (l *hdOwnLog) Group(g string) store.GroupState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.own.Group(g)
}

func (l *hdOwnLog) Configuration() Configuration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg
}

func (l *hdOwnLog) CommitIndex() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.commit
}

func (l *hdOwnLog) assign(t *testing.T, g string, a store.Assignment) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.own.Assign(g, a); err != nil {
		t.Fatal(err)
	}
}

func (l *hdOwnLog) setCommit(i uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.commit = i
}

// hdVIP records every Set; downErr is what Set(false) returns.
type hdVIP struct {
	mu      sync.Mutex
	sets    []bool
	downErr error
}

func (v *hdVIP) Set(_ context.Context, hold bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.sets = append(v.sets, hold)
	if !hold {
		return v.downErr
	}
	return nil
}

func (v *hdVIP) calls() []bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.sets)
}

type hdSent struct {
	to string
	r  Renewal
}

type hdRelease struct {
	g      string
	rel    store.Release
	reason string
}

type hdTell struct {
	to, g string
	rel   store.Release
}

// hdRig is a Holder on node A wired to fakes.
type hdRig struct {
	t        *testing.T
	t0       time.Time
	clock    *clocktest.Manual
	log      *hdOwnLog
	vip      *hdVIP
	h        *Holder
	releases chan hdRelease // Release runs in a goroutine of its own

	mu       sync.Mutex
	standing Standing
	sent     []hdSent
	tells    []hdTell
	changes  []GroupChange
}

var (
	hdCfg1 = Configuration{Index: 1, Term: 1, Voters: []string{"A", "B", "C"}}
	// hdMine is the assignment of g to A#1 at index 5.
	hdMine = store.Assignment{Index: 5, Node: "A", Incarnation: "A#1", Lease: time.Second, Delta: 100 * time.Millisecond}
)

// hdStanding is A's standing while it is healthy.
func hdStanding() Standing {
	return Standing{Lease: time.Second, Delta: 100 * time.Millisecond, Priority: map[string]int{"g": 100}}
}

func newHolderRig(t *testing.T) *hdRig {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	r := &hdRig{t: t, t0: t0, clock: clocktest.New(t0), log: &hdOwnLog{cfg: hdCfg1}, vip: &hdVIP{},
		releases: make(chan hdRelease, 16), standing: hdStanding()}
	r.h = NewHolder(HolderConfig{
		Node: "A", Incarnation: "A#1", Groups: []string{"g"}, Log: r.log,
		VIP: func(string) VIP { return r.vip },
		Standing: func() Standing {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.standing
		},
		Leader: func() string { return "B" },
		Send: func(to string, rn Renewal) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.sent = append(r.sent, hdSent{to, rn})
		},
		Release: func(_ context.Context, g string, rel store.Release, reason string) error {
			select {
			case r.releases <- hdRelease{g, rel, reason}:
			default:
			}
			return nil
		},
		Tell: func(to, g string, rel store.Release) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.tells = append(r.tells, hdTell{to, g, rel})
		},
		OnChange: func(c GroupChange) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.changes = append(r.changes, c)
		},
		Clock: r.clock,
	})
	return r
}

func (r *hdRig) at(d time.Duration) { r.clock.Set(r.t0.Add(d)) }

func (r *hdRig) pass() time.Time { return r.h.pass(context.Background()) }

// renew sends one round and returns it with the nodes it went to.
func (r *hdRig) renew() (Renewal, []string) {
	r.mu.Lock()
	n := len(r.sent)
	r.mu.Unlock()
	r.h.renew()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sent) == n {
		r.t.Fatal("renew sent nothing")
	}
	var to []string
	for _, s := range r.sent[n:] {
		to = append(to, s.to)
	}
	return r.sent[n].r, to
}

// round sends one round and has each of voters answer it from the holder's own log,
// each reporting the holder's configuration.
func (r *hdRig) round(voters ...string) Renewal {
	rn, _ := r.renew()
	for _, v := range voters {
		r.h.Ack(Answer(v, r.log.Configuration(), r.log.Group, rn))
	}
	return rn
}

func (r *hdRig) status() GroupStatus {
	st := r.h.Status()
	if len(st) != 1 {
		r.t.Fatalf("Status = %+v, want one group", st)
	}
	return st[0]
}

func (r *hdRig) changesSeen() []GroupChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.changes)
}

// release waits for the release the holder sends from a goroutine of its own.
func (r *hdRig) release() hdRelease {
	r.t.Helper()
	select {
	case rel := <-r.releases:
		return rel
	case <-time.After(5 * time.Second):
		r.t.Fatal("no release sent")
		return hdRelease{}
	}
}

func (r *hdRig) released() int {
	r.h.mu.Lock()
	defer r.h.mu.Unlock()
	return len(r.h.released)
}

// DESIGN §9.3: a node holds a group only under an assignment to it in this
// incarnation that it knows committed, with a lease from a majority of one
// configuration's voters.
func TestHolderHoldsWithAMajorityOfOneRound(t *testing.T) {
	for _, tc := range []struct {
		name   string
		commit uint64
		notice bool // the leader's notice that index 5 committed
		acks   []string
		hold   bool
		reason Reason
	}{
		{"committed, two voters of three", 5, false, []string{"B", "C"}, true, ReasonHolding},
		{"committed, itself and one more", 5, false, []string{"A", "B"}, true, ReasonHolding},
		{"committed, one voter of three", 5, false, []string{"B"}, false, ReasonNoGroupLease},
		{"committed, no answer", 5, false, nil, false, ReasonNoGroupLease},
		{"not known committed", 4, false, []string{"A", "B", "C"}, false, ReasonUncommitted},
		{"committed by the leader's notice", 4, true, []string{"B", "C"}, true, ReasonHolding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newHolderRig(t)
			r.log.assign(t, "g", hdMine)
			r.log.setCommit(tc.commit)
			if tc.notice {
				r.h.Notice("g", 5)
			}
			r.pass() // learns the commit, if it can
			rn, to := r.renew()
			for _, v := range tc.acks {
				r.h.Ack(Answer(v, hdCfg1, r.log.Group, rn))
			}
			r.pass()

			st := r.status()
			if st.Holding != tc.hold || st.Reason != tc.reason || !st.Assigned || st.Index != 5 {
				t.Errorf("status %+v, want holding %v, %q, assigned at 5", st, tc.hold, tc.reason)
			}
			if got := r.h.Entitled("g"); got != tc.hold {
				t.Errorf("Entitled = %v, want %v", got, tc.hold)
			}
			var wantSets []bool
			var wantChanges []GroupChange
			if tc.hold {
				wantSets = []bool{true}
				wantChanges = []GroupChange{{Group: "g", Holding: true}}
				if st.LeaseRemaining != time.Second {
					t.Errorf("lease remaining %v, want the round's start plus L: 1s", st.LeaseRemaining)
				}
			}
			if got := r.vip.calls(); !slices.Equal(got, wantSets) {
				t.Errorf("VIP.Set calls %v, want %v", got, wantSets)
			}
			if got := r.changesSeen(); !slices.Equal(got, wantChanges) {
				t.Errorf("changes %+v, want %+v", got, wantChanges)
			}
			// Only an assignment known committed is claimed, and only then do the
			// renewals go to every voter rather than to the leader alone.
			wantTo, wantClaims := []string{"A", "B", "C"}, []Claim{{Group: "g", Index: 5, Incarnation: "A#1"}}
			if tc.reason == ReasonUncommitted {
				wantTo, wantClaims = []string{"B"}, nil
			}
			if !slices.Equal(to, wantTo) || !slices.Equal(rn.Claims, wantClaims) {
				t.Errorf("renewal %+v sent to %v, want claims %+v to %v", rn, to, wantClaims, wantTo)
			}
		})
	}
}

// DESIGN §9.3: the assignee owes W(g) from when it learned that its assignment
// committed, whatever lease it has; a held release of the assignment before it, told
// by its holder, takes the wait away.
func TestHolderWaitsOutTheWaitBeforeHolding(t *testing.T) {
	// B#1 held g under assignment 3 (L 2s, δ 200ms) and never released it: A owes 2.2s.
	prev := store.Assignment{Index: 3, Node: "B", Incarnation: "B#1", Lease: 2 * time.Second, Delta: 200 * time.Millisecond}
	for _, tc := range []struct {
		name   string
		told   *store.Release
		holdAt time.Duration // the first instant it holds
	}{
		{"owes W(g)", nil, 2200 * time.Millisecond},
		{"told an unheld release: still owes W(g)", &store.Release{Node: "B", Incarnation: "B#1", AssignIndex: 3}, 2200 * time.Millisecond},
		{"told a held release: owes nothing", &store.Release{Node: "B", Incarnation: "B#1", AssignIndex: 3, Held: true}, 0},
		{"told by another incarnation: still owes W(g)", &store.Release{Node: "B", Incarnation: "B#2", AssignIndex: 3, Held: true}, 2200 * time.Millisecond},
		{"told by another node: still owes W(g)", &store.Release{Node: "C", Incarnation: "B#1", AssignIndex: 3, Held: true}, 2200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newHolderRig(t)
			r.log.assign(t, "g", prev)
			r.log.assign(t, "g", hdMine)
			r.log.setCommit(5)
			if w := r.log.Group("g").Wait; w != 2200*time.Millisecond {
				t.Fatalf("W(g) = %v, want 2.2s", w)
			}
			if tc.told != nil {
				r.h.Told("g", *tc.told)
			}
			r.pass() // learns at t0 that assignment 5 committed
			// A lease from a majority runs through each instant looked at below.
			for _, step := range []struct {
				at    time.Duration
				round bool
			}{
				{0, true}, {1500 * time.Millisecond, true}, {2200*time.Millisecond - time.Nanosecond, false},
				{2200 * time.Millisecond, false},
			} {
				r.at(step.at)
				if step.round {
					r.round("B", "C")
				}
				next := r.pass()
				st := r.status()
				if want := step.at >= tc.holdAt; st.Holding != want {
					t.Fatalf("at t0+%v: holding %v (%q), want %v", step.at, st.Holding, st.Reason, want)
				}
				if st.Holding {
					continue
				}
				holdAt := r.t0.Add(tc.holdAt)
				if st.Reason != ReasonOwedWait || !st.WaitUntil.Equal(holdAt) || !next.Equal(holdAt) {
					t.Errorf("at t0+%v: %q, wait until %v, next pass %v; want %q until %v", step.at, st.Reason,
						st.WaitUntil, next, ReasonOwedWait, holdAt)
				}
				if st.LeaseRemaining <= 0 {
					t.Errorf("at t0+%v: no lease; the test means to hold one", step.at)
				}
			}
			if got := r.changesSeen(); len(got) != 1 || !got[0].Holding || got[0].Waited != tc.holdAt {
				t.Errorf("changes %+v, want one start of holding after waiting %v", got, tc.holdAt)
			}
		})
	}
}

// An ineligible node holds nothing: a holder that goes into FAULT, or whose priority
// for the group drops to 0, lets go at once, lease or not, and gives the assignment back.
func TestHolderLetsGoWhenIneligible(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Standing)
		why    string
	}{
		{"FAULT", func(s *Standing) { s.Fault = "upgrade this node" }, "upgrade this node"},
		{"priority 0, with its reason", func(s *Standing) { s.Priority = nil; s.Why = map[string]string{"g": "FAULT: check web failing"} },
			"FAULT: check web failing"},
		{"priority 0", func(s *Standing) { s.Priority = map[string]int{"g": 0} }, "not eligible for this group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newHolderRig(t)
			r.holdG(t)
			r.mu.Lock()
			tc.change(&r.standing)
			r.mu.Unlock()
			r.pass()
			reason := ReasonIneligible + Reason(tc.why)
			if st := r.status(); st.Holding || st.Reason != reason || r.h.Entitled("g") {
				t.Errorf("status %+v, entitled %v; want not holding, %q", st, r.h.Entitled("g"), reason)
			}
			if got := r.vip.calls(); !slices.Equal(got, []bool{true, false}) {
				t.Errorf("VIP.Set calls %v, want put up, then taken down", got)
			}
			want := hdRelease{"g", store.Release{Node: "A", Incarnation: "A#1", AssignIndex: 5, Held: true}, string(reason)}
			if got := r.release(); got != want {
				t.Errorf("release %+v, want %+v", got, want)
			}
		})
	}
}

// DESIGN §9.3: a holder lets go the moment its lease runs out, and is not entitled to
// present the group even before the pass that takes the address down.
func TestHolderLetsGoWhenTheLeaseRunsOut(t *testing.T) {
	r := newHolderRig(t)
	r.log.assign(t, "g", hdMine)
	r.log.setCommit(5)
	r.pass()
	r.round("B", "C") // lease until t0+1s
	r.pass()
	r.at(250 * time.Millisecond)
	r.round("B", "C") // lease until t0+1.25s
	r.pass()
	r.at(500 * time.Millisecond)
	r.round("B") // one voter of three: no extension
	r.pass()
	if st := r.status(); !st.Holding || st.LeaseRemaining != 750*time.Millisecond {
		t.Fatalf("at t0+500ms: %+v, want holding with 750ms of lease left", st)
	}

	r.at(1250*time.Millisecond - time.Nanosecond)
	if !r.h.Entitled("g") {
		t.Error("not entitled while the lease runs")
	}
	r.at(1250 * time.Millisecond) // no pass yet
	if r.h.Entitled("g") {
		t.Error("entitled once the lease ran out, before the next pass")
	}
	if got := r.vip.calls(); !slices.Equal(got, []bool{true, true, true}) {
		t.Errorf("VIP.Set calls %v before the pass, want only puts", got)
	}

	r.pass()
	if got := r.vip.calls(); !slices.Equal(got, []bool{true, true, true, false}) {
		t.Errorf("VIP.Set calls %v, want it taken down by the pass", got)
	}
	if st := r.status(); st.Holding || st.Reason != ReasonNoGroupLease {
		t.Errorf("after the pass: %+v, want not holding, %q", st, ReasonNoGroupLease)
	}
	wantChanges := []GroupChange{{Group: "g", Holding: true}, {Group: "g", Reason: string(ReasonNoGroupLease)}}
	if got := r.changesSeen(); !slices.Equal(got, wantChanges) {
		t.Errorf("changes %+v, want %+v", got, wantChanges)
	}
	// It took the address down, then gives the assignment back, held.
	want := hdRelease{"g", store.Release{Node: "A", Incarnation: "A#1", AssignIndex: 5, Held: true}, string(ReasonNoGroupLease)}
	if got := r.release(); got != want {
		t.Errorf("release %+v, want %+v", got, want)
	}
	// Released, the assignment is no longer its own: no claim, no lease, no holding.
	rn := r.round("A", "B", "C")
	r.pass()
	if st := r.status(); st.Holding || st.Assigned || len(rn.Claims) != 0 {
		t.Errorf("after its release: %+v, claims %+v; want nothing claimed or held", st, rn.Claims)
	}
}

// DESIGN §9.3: an assignment names an incarnation; a restarted node, or another
// node, never holds under it, however many voters answer.
func TestHolderNeverHoldsAnotherIncarnationsAssignment(t *testing.T) {
	for _, tc := range []struct {
		name string
		a    store.Assignment
	}{
		{"its own earlier incarnation", store.Assignment{Index: 5, Node: "A", Incarnation: "A#0", Lease: time.Second}},
		{"another node", store.Assignment{Index: 5, Node: "B", Incarnation: "B#1", Lease: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newHolderRig(t)
			r.log.assign(t, "g", tc.a)
			r.log.setCommit(5)
			r.h.Notice("g", 5)
			r.pass()
			rn, to := r.renew()
			// Acks naming the assignment, as if voters vouched for it.
			for _, v := range hdCfg1.Voters {
				r.h.Ack(Ack{Round: rn.Round, Voter: v, Config: hdCfg1, Groups: []string{leaseKey("g", 5)}})
			}
			r.pass()
			if len(rn.Claims) != 0 || !slices.Equal(to, []string{"B"}) {
				t.Errorf("renewal %+v to %v, want no claims, to the leader alone", rn, to)
			}
			if st := r.status(); st.Holding || st.Assigned || st.Reason != ReasonNotAssigned {
				t.Errorf("status %+v, want not assigned, not holding", st)
			}
			if r.h.Entitled("g") || len(r.vip.calls()) != 0 {
				t.Errorf("entitled %v, VIP.Set calls %v; want neither", r.h.Entitled("g"), r.vip.calls())
			}
			if n := r.released(); n != 0 {
				t.Errorf("released %d assignments not its own", n)
			}
		})
	}
}

// quorum.go: a lease needs a majority of one configuration's voters, each reporting
// that configuration; a server counts only as a voter of the configuration it reports.
func TestHolderCountsAcksOfOneConfiguration(t *testing.T) {
	// cfg2 adds D; cfg3 removes C.
	cfg2 := Configuration{Index: 9, Term: 2, Voters: []string{"A", "B", "C", "D"}}
	cfg3 := Configuration{Index: 9, Term: 2, Voters: []string{"A", "B"}}
	reordered := Configuration{Index: 1, Term: 1, Voters: []string{"C", "A", "B"}}
	type ack struct {
		voter string
		cfg   Configuration
	}
	for _, tc := range []struct {
		name string
		acks []ack
		hold bool
	}{
		{"two voters of its configuration", []ack{{"B", hdCfg1}, {"C", hdCfg1}}, true},
		{"the same configuration, voters listed in another order", []ack{{"B", hdCfg1}, {"C", reordered}}, true},
		{"one voter each of two configurations", []ack{{"B", hdCfg1}, {"C", cfg2}}, false},
		{"a server not a voter of the configuration it reports", []ack{{"B", hdCfg1}, {"D", hdCfg1}}, false},
		{"a removed voter reporting the configuration without it", []ack{{"B", cfg3}, {"C", cfg3}}, false},
		{"two voters of the smaller configuration", []ack{{"B", cfg3}, {"C", cfg3}, {"A", cfg3}}, true},
		{"two of four voters of the newer configuration", []ack{{"B", cfg2}, {"D", cfg2}}, false},
		{"three of four voters of the newer configuration", []ack{{"B", cfg2}, {"C", cfg2}, {"D", cfg2}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newHolderRig(t)
			r.log.assign(t, "g", hdMine)
			r.log.setCommit(5)
			r.pass()
			rn, _ := r.renew()
			for _, a := range tc.acks {
				r.h.Ack(Ack{Round: rn.Round, Voter: a.voter, Config: a.cfg, Groups: []string{leaseKey("g", 5)}})
			}
			r.pass()
			if st := r.status(); st.Holding != tc.hold {
				t.Errorf("holding %v (%q), want %v", st.Holding, st.Reason, tc.hold)
			}
		})
	}
}

// store.Release: Held says the holder removed the addresses before it sent the
// release, which lets the next assignee hold at once. A holder whose VIP did not come
// down must not say so.
func TestHolderClaimsNoHeldReleaseWhenTheVIPStaysUp(t *testing.T) {
	r := newHolderRig(t)
	r.holdG(t)
	// The leader moves g to B; A's VIP will not come down.
	r.vip.mu.Lock()
	r.vip.downErr = errors.New("netlink: operation not permitted")
	r.vip.mu.Unlock()
	r.log.assign(t, "g", store.Assignment{Index: 7, Node: "B", Incarnation: "B#1", Lease: time.Second})
	r.pass()
	r.mu.Lock()
	tells := slices.Clone(r.tells)
	r.mu.Unlock()
	for _, tl := range tells {
		if tl.rel.Held {
			t.Errorf("told %s a held release %+v although the VIP did not come down", tl.to, tl.rel)
		}
	}
	if r.released() > 0 { // a release is on its way
		if rel := r.release(); rel.rel.Held {
			t.Errorf("released %+v as held although the VIP did not come down", rel.rel)
		}
	}
}

// holdG makes the rig's node hold g: assigned to it, committed, vouched for by B and C.
func (r *hdRig) holdG(t *testing.T) {
	t.Helper()
	r.log.assign(t, "g", hdMine)
	r.log.setCommit(5)
	r.pass()
	r.round("B", "C")
	r.pass()
	if !r.status().Holding {
		t.Fatal("not holding to begin with")
	}
}

// hdDrainVIP is an hdVIP that drains: it holds new connections off until its context
// ends (a drain far longer than any lease), and records how long it was given.
type hdDrainVIP struct {
	*hdVIP
	given time.Duration
}

func (d *hdDrainVIP) Drain(ctx context.Context) error {
	dl, ok := ctx.Deadline()
	if !ok {
		return errors.New("drain without a deadline: it would outlast the lease")
	}
	d.given = time.Until(dl)
	<-ctx.Done()
	return ctx.Err()
}

// A planned move's drain keeps the addresses up, so it ends with the lease: the next
// assignee's wait counts on that (DESIGN §9.3), however long vip.drain is.
func TestHolderDrainEndsWithTheLease(t *testing.T) {
	r := newHolderRig(t)
	r.holdG(t) // the lease runs until t0 + 1 s
	d := &hdDrainVIP{hdVIP: r.vip}
	r.h.cfg.VIP = func(string) VIP { return d }
	r.at(800 * time.Millisecond)
	r.log.assign(t, "g", store.Assignment{Index: 7, Node: "B", Incarnation: "B#1", Lease: time.Second})
	r.pass()
	if d.given <= 0 || d.given > 200*time.Millisecond {
		t.Errorf("the drain was given %v; want at most the 200 ms the lease had left", d.given)
	}
	if calls := r.vip.calls(); len(calls) == 0 || calls[len(calls)-1] {
		t.Errorf("VIP calls %v: the addresses did not come down after the drain", calls)
	}
	if r.status().Holding {
		t.Error("still holding after the move")
	}
}

// The leader's commit notice can reach a node that is catching up before the entry
// does: it is kept, and counts once the entry arrives, so the node need not wait for
// its own commit index.
func TestHolderKeepsANoticeThatComesFirst(t *testing.T) {
	r := newHolderRig(t)
	r.h.Notice("g", 5)
	r.log.assign(t, "g", hdMine) // commit index still 0
	r.pass()
	r.round("B", "C")
	r.pass()
	if st := r.status(); !st.Holding {
		t.Errorf("not holding with the notice that came before the entry: %q", st.Reason)
	}
}
