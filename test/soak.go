package test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// The soak (issue 6): a three-node lab runs for minutes while a nemesis injects a random
// fault on a random node every few seconds and heals it a few seconds later. The HTTP
// probe and the ownership sampler run the whole time; a checker turns what they see into
// the numbers of DESIGN §1: time with two holders (inside or outside the freeze bound),
// availability, recovery per fault kind and stuck states. `go run ./test/soak` and
// TestSoak60s run it.

// Fault kinds of the nemesis.
const (
	FaultUnplug    = "unplug"    // the node's bridge port down, then up
	FaultPartition = "partition" // the node cut off from the other load balancers (links up), then healed
	FaultKill      = "kill"      // the agent SIGKILLed, then started again on its data dir
	FaultFreeze    = "freeze"    // the agent SIGSTOPped, then SIGCONTed
	FaultHAProxy   = "haproxy"   // HAProxy SIGKILLed, then started again
	FaultTransfer  = "transfer"  // `raftvip transfer NODE` to a node other than the holder (instantaneous)
)

// FaultKinds lists the nemesis's faults in the order the RNG picks from.
var FaultKinds = []string{FaultUnplug, FaultPartition, FaultKill, FaultFreeze, FaultHAProxy, FaultTransfer}

// faultHold is how long each lasting fault stays before it is healed: uniform in [min, max).
var faultHold = map[string][2]time.Duration{
	FaultUnplug:    {time.Second, 8 * time.Second},
	FaultPartition: {time.Second, 8 * time.Second},
	FaultKill:      {500 * time.Millisecond, 5 * time.Second},
	FaultFreeze:    {time.Second, 5 * time.Second},
	FaultHAProxy:   {time.Second, 6 * time.Second},
}

// takesOut reports whether a fault of this kind takes its node out of the Raft group
// while it lasts (the node cannot vote or hold).
func takesOut(kind string) bool {
	switch kind {
	case FaultUnplug, FaultPartition, FaultKill, FaultFreeze:
		return true
	}
	return false
}

// Health check of the soak lab (the README's: haproxy on the stats socket every 200 ms,
// fall 2, rise 2, weight 0) and its rate limit of automatic moves.
const (
	SoakCheckInterval = 200 * time.Millisecond
	SoakCheckFall     = 2
	SoakMoveWindow    = 2 * time.Second
)

// SoakLabOptions is the lab a soak runs on: three nodes, lan timing, fencing standard,
// lifetime 2 s, the haproxy check on every node (priorities lb1 150, lb2 120, lb3 100),
// agents started.
func SoakLabOptions() Options {
	o := HealthOptions(SoakCheckInterval, SoakCheckFall, SoakMoveWindow, nil)
	o.Timing, o.StartAgents = "lan", true
	return o
}

// FreezeBound is how long after an agent was frozen (SIGSTOP), or killed (SIGKILL)
// together with its VIP guard, its kernel may still have the VIP (docs/safety.md, "The
// kernel backstop"; README promise 2): the address lifetime, plus half a second for the
// kernel's late expiry (measured up to 0.39 s past a 2 s lifetime; strict fencing uses
// the same slack), plus two sampler periods for the sampler's own granularity.
func FreezeBound(lifetime time.Duration) time.Duration {
	return lifetime + 500*time.Millisecond + 2*SamplePeriod
}

// SoakOptions shape a soak. The zero value is a 10-minute soak with a random seed.
type SoakOptions struct {
	Duration   time.Duration // how long the nemesis injects faults; default 10m
	Seed       uint64        // seeds the nemesis; 0 picks one at random (see SoakReport.Seed)
	MinEvery   time.Duration // shortest time between two injections, default 2s
	MaxEvery   time.Duration // longest, default 6s
	MaxActive  int           // lasting faults in force at once, default 2 (see Soak)
	StuckAfter time.Duration // a stuck state lasts longer than this, default 10s
	Converge   time.Duration // after the last heal, time for one holder serving the client, default 30s

	ProgressEvery time.Duration        // default 10s
	Progress      func(line string)    // receives a progress line every ProgressEvery; nil: none
	Logf          func(string, ...any) // the nemesis's event lines (also written to soak.log in the lab dir)
}

func (o *SoakOptions) defaults() {
	if o.Duration == 0 {
		o.Duration = 10 * time.Minute
	}
	for o.Seed == 0 {
		o.Seed = rand.Uint64()
	}
	if o.MinEvery == 0 {
		o.MinEvery = 2 * time.Second
	}
	if o.MaxEvery == 0 {
		o.MaxEvery = 6 * time.Second
	}
	if o.MaxActive == 0 {
		o.MaxActive = 2
	}
	if o.StuckAfter == 0 {
		o.StuckAfter = 10 * time.Second
	}
	if o.Converge == 0 {
		o.Converge = 30 * time.Second
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = 10 * time.Second
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// SoakFault is one fault the nemesis injected.
type SoakFault struct {
	N        int           // 1-based sequence number
	Kind     string        // FaultUnplug, ...
	Node     string        // the node it hit (transfer: the target)
	Via      string        // transfer: the node the command ran on
	OnHolder bool          // the node held the VIP (sole holder in the sampler) when it was injected
	At       time.Time     // injected (taken just before the action)
	Hold     time.Duration // planned time until the heal (0: instantaneous)
	Healed   time.Time     // healed (taken just before the action); zero for a transfer
	Outcome  string        // transfer: what the command said

	// Filled in by the report: the client's outages charged to the injection and to
	// the heal (see Outages).
	Gap, HealGap           time.Duration // the longest outage as the client saw it
	Recovery, HealRecovery time.Duration // from the event to the client served again; 0: no outage
	Failed, HealFailed     int           // failed requests in those outages
}

// StuckState is a state the cluster should not stay in: it lasted longer than
// SoakOptions.StuckAfter.
type StuckState struct {
	Kind   string    // see the Stuck* constants
	Node   string    // the node concerned, if any
	Since  time.Time // when the state began
	Until  time.Time // when it ended; zero if it still held when the soak ended
	Detail string
}

// Stuck states.
const (
	StuckNoHolder    = "no healthy holder"   // no node without a fault held the VIP, while a quorum of healthy nodes existed
	StuckUnserved    = "client not served"   // no request succeeded, while a quorum of healthy nodes existed
	StuckNoStatus    = "agent not answering" // a running, unfrozen agent did not answer `raftvip status`
	StuckNoLeader    = "no leader"           // a node in the cluster (no fault) saw no leader, while a quorum existed
	StuckNoConverged = "no convergence"      // after the final heal, no single holder serving the client within Converge
)

// soak is one run: the lab, the monitors, the nemesis's state and the checker's.
type soak struct {
	l     *Lab
	o     SoakOptions
	rng   *rand.Rand
	vip   netip.Addr
	bound time.Duration
	smp   *Sampler
	pr    *Probe
	logw  *os.File
	start time.Time
	twg   sync.WaitGroup // transfers in flight

	mu           sync.Mutex
	faults       []*SoakFault
	active       map[*Node]*SoakFault // lasting faults in force
	epoch        map[*Node]int        // bumped whenever a fault on the node starts or ends
	changed      map[*Node]time.Time  // when the node's fault state last changed
	stuck        []*StuckState
	ov           overlapCounter
	transferring bool
	holder       string // latest sample's holders, comma-separated
	lastOK       time.Time
	nSamples     int
	nHeld        int    // samples seen since the start
	lastMask     uint64 // holders in the last of them
	nResults     int
	requests     int
	failures     int
}

// Soak runs the nemesis soak on l, a lab built with SoakLabOptions (agents running):
// it waits for a holder, starts the probe and the sampler, injects faults for
// o.Duration, heals everything, waits for the cluster to converge and returns the
// report. Every few seconds (uniform in [MinEvery, MaxEvery)) it picks a fault kind at
// random among those that are allowed, and a node (the holder half of the time):
//
//   - at most MaxActive (2) lasting faults are in force at once, each on its own node;
//   - after any injection a majority of nodes is not taken out of the Raft group
//     (unplug, partition, SIGKILL, SIGSTOP take a node out; a HAProxy kill does not),
//     so with three nodes at most one of them is taken out at a time, and at least one
//     node has no fault at all.
//
// So a quorum of running agents that talk, one of them with HAProxy up, exists at
// every instant: the cluster is always expected to hold the VIP on a healthy node
// after a failover, which is what lets the checker call a long stretch without one
// "stuck". The seed fixes every random draw; which node is "the holder" depends on the
// run's timing, so a replay with the same seed draws the same kinds, delays and coin
// flips but may hit other nodes.
//
// An error means the harness could not go on (a fault could not be injected or healed);
// the report then covers the soak up to that point.
func (l *Lab) Soak(ctx context.Context, o SoakOptions) (*SoakReport, error) {
	o.defaults()
	if len(l.Nodes) < 3 {
		return nil, fmt.Errorf("soak: %d nodes, want at least 3", len(l.Nodes))
	}
	s := &soak{
		l:       l,
		o:       o,
		rng:     rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		vip:     l.VIP4.Addr(),
		bound:   FreezeBound(l.opts.Lifetime),
		active:  map[*Node]*SoakFault{},
		epoch:   map[*Node]int{},
		changed: map[*Node]time.Time{},
	}
	f, err := os.OpenFile(filepath.Join(l.Dir, "soak.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	defer f.Close()
	s.logw = f
	s.logf("soak: seed %d, duration %v, freeze bound %v", o.Seed, o.Duration, s.bound)

	if _, err := l.WaitForHolderContext(ctx, 30*time.Second); err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	if s.smp, err = l.StartSampler(); err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	defer s.smp.Stop()
	if s.pr, err = l.StartProbe(s.vip); err != nil {
		return nil, fmt.Errorf("soak: %w", err)
	}
	defer s.pr.Stop()
	if _, err := s.pr.WaitForContext(ctx, 10*time.Second, func(r Result) bool { return r.OK }); err != nil {
		return nil, fmt.Errorf("soak: baseline: %w", err)
	}
	s.ov.names = s.smp.names
	s.start = time.Now()
	s.lastOK = s.start
	for _, n := range l.Nodes {
		s.changed[n] = s.start
	}

	// The checker and the status pollers run until the monitors stop.
	cctx, stopCheck := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.checker(cctx) })
	for _, n := range l.Nodes {
		wg.Go(func() { s.poll(cctx, n) })
	}

	nemErr := s.nemesis(ctx, s.start.Add(o.Duration))
	healErr := s.healAll()
	injectEnd := time.Now()
	var final string
	if ctx.Err() == nil && nemErr == nil && healErr == nil {
		final = s.converge(ctx)
	}
	s.twg.Wait()
	stopCheck()
	wg.Wait()
	s.pr.Stop()
	s.smp.Stop()
	s.consume() // the samples and results after the checker's last pass
	end := time.Now()
	s.mu.Lock()
	s.ov.finish()
	s.mu.Unlock()

	r := s.report(injectEnd, end, final)
	r.Evidence = r.evidence(l)
	r.Warnings = agentWarnings(l)
	if err := writeProbe(filepath.Join(l.Dir, "probe.tsv"), s.pr.Results(), s.start); err != nil {
		s.logf("soak: %v", err)
	}
	fmt.Fprintf(s.logw, "\n%s\nfaults:\n%s%s", r.Table(), r.FaultSequence(), r.Evidence)
	return r, errors.Join(nemErr, healErr, ctx.Err())
}

// logf writes an event line to soak.log and to SoakOptions.Logf.
func (s *soak) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if s.logw != nil {
		fmt.Fprintf(s.logw, "%s %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), line)
	}
	s.o.Logf("%s", line)
}

// rel formats t relative to the start of the soak.
func (s *soak) rel(t time.Time) string {
	return "+" + t.Sub(s.start).Round(time.Millisecond).String()
}

// uniform draws a duration in [lo, hi).
func (s *soak) uniform(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(s.rng.Int64N(int64(hi-lo)))
}

// nemesis injects faults until `until` and heals each when it is due.
func (s *soak) nemesis(ctx context.Context, until time.Time) error {
	next := time.Now().Add(s.uniform(s.o.MinEvery, s.o.MaxEvery))
	for {
		wake := next
		s.mu.Lock()
		for _, f := range s.active {
			if due := f.At.Add(f.Hold); due.Before(wake) {
				wake = due
			}
		}
		s.mu.Unlock()
		if err := SleepCtx(ctx, time.Until(wake)); err != nil {
			return nil // interrupted: Soak reports ctx.Err()
		}
		if err := s.healDue(time.Now()); err != nil {
			return err
		}
		if now := time.Now(); !now.Before(next) {
			if !now.Before(until) {
				return nil
			}
			if err := s.inject(); err != nil {
				return err
			}
			next = time.Now().Add(s.uniform(s.o.MinEvery, s.o.MaxEvery))
		}
	}
}

// currentHolder is the sole holder of the latest sample, or nil.
func (s *soak) currentHolder() *Node {
	h := s.smp.Holders(s.vip)
	if len(h) != 1 {
		return nil
	}
	return s.l.Node(h[0])
}

// allowed reports whether the lasting faults in force plus one of kind on n keep what
// Soak promises: at most MaxActive faults, one per node, a majority not taken out and
// one node without any fault. s.mu must be held.
func (s *soak) allowed(kind string, n *Node) bool {
	if _, busy := s.active[n]; busy || len(s.active) >= s.o.MaxActive {
		return false
	}
	out, clean := 0, 0
	for _, m := range s.l.Nodes {
		f, ok := s.active[m]
		switch {
		case m == n:
			if takesOut(kind) {
				out++
			}
		case !ok:
			clean++
		case takesOut(f.Kind):
			out++
		}
	}
	return len(s.l.Nodes)-out > len(s.l.Nodes)/2 && clean >= 1
}

// candidates returns the nodes a fault of kind may hit now.
func (s *soak) candidates(kind string, holder *Node) []*Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Node
	for _, n := range s.l.Nodes {
		if kind == FaultTransfer {
			if _, busy := s.active[n]; holder != nil && n != holder && !busy && !s.transferring {
				out = append(out, n)
			}
			continue
		}
		if s.allowed(kind, n) {
			out = append(out, n)
		}
	}
	return out
}

// inject picks a fault and a node and applies it.
func (s *soak) inject() error {
	holder := s.currentHolder()
	var kinds []string
	cands := map[string][]*Node{}
	for _, k := range FaultKinds {
		if c := s.candidates(k, holder); len(c) > 0 {
			kinds = append(kinds, k)
			cands[k] = c
		}
	}
	// The same number of draws whatever is allowed, so that a replay stays in step.
	kindDraw, coin, nodeDraw, viaDraw := s.rng.IntN(1<<30), s.rng.IntN(2), s.rng.IntN(1<<30), s.rng.IntN(1<<30)
	holdDraw := s.rng.Int64N(1 << 62)
	var hold time.Duration
	if len(kinds) == 0 {
		s.logf("%s nothing allowed (active: %s)", s.rel(time.Now()), s.activeString())
		return nil
	}
	kind := kinds[kindDraw%len(kinds)]
	c := cands[kind]
	target := c[nodeDraw%len(c)]
	if kind != FaultTransfer && coin == 0 && slices.Contains(c, holder) {
		target = holder
	}
	if h, ok := faultHold[kind]; ok {
		hold = h[0] + time.Duration(holdDraw%int64(h[1]-h[0]))
	}

	s.mu.Lock()
	f := &SoakFault{N: len(s.faults) + 1, Kind: kind, Node: target.Name, OnHolder: target == holder, At: time.Now(), Hold: hold}
	s.faults = append(s.faults, f)
	if kind != FaultTransfer {
		s.active[target] = f
		s.epoch[target]++
		s.changed[target] = f.At
	}
	s.mu.Unlock()

	onHolder := ""
	if f.OnHolder {
		onHolder = " (holder)"
	}
	var err error
	switch kind {
	case FaultUnplug:
		err = s.l.Unplug(target)
	case FaultPartition:
		err = s.l.Partition(target)
	case FaultKill:
		err = s.l.Kill(target)
	case FaultFreeze:
		err = s.l.Stop(target)
	case FaultHAProxy:
		err = s.l.KillHAProxy(target)
	case FaultTransfer:
		var via []*Node
		s.mu.Lock()
		for _, n := range s.l.Nodes {
			if a, ok := s.active[n]; !ok || !takesOut(a.Kind) {
				via = append(via, n)
			}
		}
		s.transferring = true
		s.mu.Unlock()
		v := via[viaDraw%len(via)]
		f.Via = v.Name
		s.twg.Go(func() { s.transfer(f, v, target) })
	}
	if kind == FaultTransfer {
		s.logf("%s #%d transfer to %s via %s", s.rel(f.At), f.N, target.Name, f.Via)
	} else {
		s.logf("%s #%d %s %s%s for %v", s.rel(f.At), f.N, kind, target.Name, onHolder, hold.Round(time.Millisecond))
	}
	if err != nil {
		return fmt.Errorf("soak: fault #%d %s on %s: %w", f.N, kind, target.Name, err)
	}
	return nil
}

// transfer runs `raftvip transfer target` on via and records what it said.
func (s *soak) transfer(f *SoakFault, via, target *Node) {
	r := s.l.runCLI(via, false, "transfer", target.Name)
	out := strings.TrimSpace(r.Stdout + " " + r.Stderr)
	if len(out) > 200 {
		out = out[:200] + "…"
	}
	var outcome string
	switch {
	case r.Code == 0:
		outcome = "moved: " + out
	case r.Code == 1:
		outcome = "not moved: " + out
	default:
		outcome = fmt.Sprintf("failed (exit %d): %s", r.Code, out)
	}
	s.mu.Lock()
	f.Outcome = outcome
	s.transferring = false
	s.mu.Unlock()
	s.logf("%s #%d transfer to %s: %s (took %v)", s.rel(time.Now()), f.N, target.Name, outcome, time.Since(f.At).Round(time.Millisecond))
}

// healDue heals every fault whose time has come.
func (s *soak) healDue(now time.Time) error {
	s.mu.Lock()
	var due []*Node
	for n, f := range s.active {
		if !f.At.Add(f.Hold).After(now) {
			due = append(due, n)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(due, func(a, b *Node) int { return strings.Compare(a.Name, b.Name) })
	for _, n := range due {
		if err := s.heal(n); err != nil {
			return err
		}
	}
	return nil
}

// healAll heals every fault in force (the end of the soak).
func (s *soak) healAll() error {
	var errs []error
	for _, n := range s.l.Nodes {
		s.mu.Lock()
		_, ok := s.active[n]
		s.mu.Unlock()
		if ok {
			errs = append(errs, s.heal(n))
		}
	}
	return errors.Join(errs...)
}

// heal ends the fault in force on n. The node counts as faulty until the action is done.
func (s *soak) heal(n *Node) error {
	s.mu.Lock()
	f := s.active[n]
	f.Healed = time.Now()
	s.mu.Unlock()
	var err error
	switch f.Kind {
	case FaultUnplug:
		err = s.l.Replug(n)
	case FaultPartition:
		err = s.l.Heal()
	case FaultKill:
		err = s.l.StartAgent(n)
	case FaultFreeze:
		err = s.l.Cont(n)
	case FaultHAProxy:
		err = s.l.StartHAProxy(n)
	}
	s.mu.Lock()
	delete(s.active, n)
	s.epoch[n]++
	s.changed[n] = time.Now()
	s.mu.Unlock()
	s.logf("%s #%d healed: %s %s after %v", s.rel(f.Healed), f.N, f.Kind, n.Name, f.Healed.Sub(f.At).Round(time.Millisecond))
	if err != nil {
		return fmt.Errorf("soak: heal #%d %s on %s: %w", f.N, f.Kind, n.Name, err)
	}
	return nil
}

// activeString lists the faults in force. s.mu must not be held.
func (s *soak) activeString() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.activeLocked(time.Now())
}

func (s *soak) activeLocked(now time.Time) string {
	var parts []string
	for _, n := range s.l.Nodes {
		if f, ok := s.active[n]; ok {
			parts = append(parts, fmt.Sprintf("%s %s (%v left)", f.Kind, n.Name, f.At.Add(f.Hold).Sub(now).Round(100*time.Millisecond)))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// converge waits, after the final heal, until one node holds the VIP and the client is
// served by it. It returns that node's name, or "" after recording a stuck state.
func (s *soak) converge(ctx context.Context) string {
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.o.Converge)
	defer cancel()
	h, err := s.l.WaitForHolderContext(ctx, s.o.Converge)
	if err == nil {
		_, err = s.pr.WaitForContext(ctx, time.Until(t0.Add(s.o.Converge)), func(r Result) bool {
			return r.OK && r.Node == h.Name && r.Start.After(t0)
		})
	}
	if err != nil {
		s.mu.Lock()
		s.stuck = append(s.stuck, &StuckState{Kind: StuckNoConverged, Since: t0, Detail: err.Error()})
		s.mu.Unlock()
		s.logf("%s STUCK %s: %v", s.rel(time.Now()), StuckNoConverged, err)
		return ""
	}
	s.logf("%s converged: %s holds and serves, %v after the final heal", s.rel(time.Now()), h.Name, time.Since(t0).Round(time.Millisecond))
	SleepCtx(ctx, 2*time.Second) // watch the settled cluster a little longer
	return h.Name
}

// samplesFrom returns the samples from index i on.
func (smp *Sampler) samplesFrom(i int) []sample {
	smp.mu.Lock()
	defer smp.mu.Unlock()
	if i >= len(smp.samples) {
		return nil
	}
	return slices.Clone(smp.samples[i:])
}

// resultsFrom returns the finished requests from index i on (completion order).
func (p *Probe) resultsFrom(i int) []Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i >= len(p.results) {
		return nil
	}
	return slices.Clone(p.results[i:])
}

// exemptLocked returns the nodes whose kernel may still hold the VIP at t because their
// agent was frozen at most the freeze bound before. A SIGKILLed agent gets no
// exemption: its VIP guard removes the VIP as the agent dies. s.mu must be held.
func (s *soak) exemptLocked(t time.Time) (frozen uint64) {
	for _, f := range s.faults {
		if f.Kind == FaultFreeze && !t.Before(f.At) && !t.After(f.At.Add(s.bound)) {
			if i := slices.IndexFunc(s.smp.nodes, func(n *Node) bool { return n.Name == f.Node }); i >= 0 {
				frozen |= 1 << i
			}
		}
	}
	return frozen
}

// consume feeds the new samples to the overlap counter and counts the new results.
func (s *soak) consume() {
	smps := s.smp.samplesFrom(s.nSamples)
	rs := s.pr.resultsFrom(s.nResults)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nSamples += len(smps)
	s.nResults += len(rs)
	vi := s.smp.vipIndex(s.vip)
	for _, smp := range smps {
		if smp.at.Before(s.start) {
			continue
		}
		frozen := s.exemptLocked(smp.at)
		s.ov.add(smp.at, smp.held[vi], frozen)
		if m := smp.held[vi]; m != s.lastMask || s.nHeld == 0 {
			fmt.Fprintf(s.logw, "%s %s holders %v\n", smp.at.UTC().Format("2006-01-02T15:04:05.000Z"), s.rel(smp.at), s.smp.names(m))
			s.lastMask = m
		}
		s.nHeld++
	}
	if len(smps) > 0 {
		s.holder = strings.Join(s.smp.names(smps[len(smps)-1].held[vi]), ",")
	}
	for _, r := range rs {
		if r.Start.Before(s.start) {
			continue
		}
		s.requests++
		if !r.OK {
			s.failures++
		} else if r.End.After(s.lastOK) {
			s.lastOK = r.End
		}
	}
}

// stretch follows one possibly stuck state: since when it holds, and the StuckState
// once it has lasted too long.
type stretch struct {
	since time.Time
	rep   *StuckState
}

// track updates st with one observation at now: bad or not, and if bad since when.
// s.mu must be held.
func (s *soak) track(st *stretch, bad bool, since, now time.Time, kind, node, detail string) {
	if !bad {
		if st.rep != nil {
			st.rep.Until = now
			fmt.Fprintf(s.logw, "%s %s %s%s ended after %v\n", now.UTC().Format("2006-01-02T15:04:05.000Z"), s.rel(now), kind, nodeSuffix(node), now.Sub(st.rep.Since).Round(time.Millisecond))
		}
		*st = stretch{}
		return
	}
	if st.since.IsZero() {
		st.since = since
	}
	if st.rep == nil && now.Sub(st.since) > s.o.StuckAfter {
		st.rep = &StuckState{Kind: kind, Node: node, Since: st.since, Detail: detail}
		s.stuck = append(s.stuck, st.rep)
		line := fmt.Sprintf("%s STUCK %s%s since %s: %s (active: %s)", s.rel(now), kind, nodeSuffix(node), s.rel(st.since), detail, s.activeLocked(now))
		fmt.Fprintf(s.logw, "%s %s\n", now.UTC().Format("2006-01-02T15:04:05.000Z"), line)
		s.o.Logf("%s", line)
	}
}

func nodeSuffix(node string) string {
	if node == "" {
		return ""
	}
	return " on " + node
}

// quorumLocked reports whether a majority of nodes has no fault that takes it out and
// one of them has no fault at all: then the cluster should hold the VIP on a healthy
// node. s.mu must be held.
func (s *soak) quorumLocked() bool {
	in, clean := 0, 0
	for _, n := range s.l.Nodes {
		f, ok := s.active[n]
		if !ok || !takesOut(f.Kind) {
			in++
		}
		if !ok {
			clean++
		}
	}
	return in > len(s.l.Nodes)/2 && clean > 0
}

// checker watches the samples and the probe every 100 ms for two holders and for a
// cluster without a healthy holder or a client not served, and prints progress.
func (s *soak) checker(ctx context.Context) {
	tk := time.NewTicker(100 * time.Millisecond)
	defer tk.Stop()
	var noHolder, unserved stretch
	nextProgress := s.start.Add(s.o.ProgressEvery)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		s.consume()
		now := time.Now()
		s.mu.Lock()
		quorum := s.quorumLocked()
		healthy := false
		for _, name := range strings.Split(s.holder, ",") {
			if n := s.l.Node(name); n != nil && s.active[n] == nil {
				healthy = true
			}
		}
		// A stretch goes on across faults and heals: only a healthy holder (or a
		// success) or the loss of the quorum ends it.
		s.track(&noHolder, quorum && !healthy, now, now, StuckNoHolder, "",
			fmt.Sprintf("holders [%s]", s.holder))
		s.track(&unserved, quorum && now.Sub(s.lastOK) > time.Second, s.lastOK, now, StuckUnserved, "",
			fmt.Sprintf("last success %s, holders [%s]", s.rel(s.lastOK), s.holder))
		s.mu.Unlock()
		if !now.Before(nextProgress) {
			nextProgress = nextProgress.Add(s.o.ProgressEvery)
			s.o.Progress(s.progress(now))
		}
	}
}

// progress is the line printed every ProgressEvery.
func (s *soak) progress(now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	el := now.Sub(s.start)
	if el > s.o.Duration {
		el = s.o.Duration
	}
	avail := 100.0
	if s.requests > 0 {
		avail = 100 * float64(s.requests-s.failures) / float64(s.requests)
	}
	holder := s.holder
	if holder == "" {
		holder = "none"
	}
	return fmt.Sprintf("soak %v/%v: %d faults, active: %s; holder %s; %.2f%% served; two holders %v outside / %v inside the freeze bound; %d stuck",
		el.Round(time.Second), s.o.Duration, len(s.faults), s.activeLocked(now), holder, avail,
		s.ov.outside.Round(time.Millisecond), s.ov.inside.Round(time.Millisecond), len(s.stuck))
}

// poll asks n's agent for its status every 2 s while it runs unfrozen, and follows two
// stuck states: the agent does not answer, and (when n has no fault and a quorum
// exists) it sees no leader.
func (s *soak) poll(ctx context.Context, n *Node) {
	var noStatus, noLeader stretch
	lastEpoch := -1
	var answered, leaderSeen time.Time
	for ctx.Err() == nil {
		s.mu.Lock()
		ep, f := s.epoch[n], s.active[n]
		since := s.changed[n]
		s.mu.Unlock()
		pollable := s.l.AgentRunning(n) && (f == nil || (f.Kind != FaultFreeze && f.Kind != FaultKill))
		if ep != lastEpoch || !pollable {
			s.mu.Lock()
			s.track(&noStatus, false, time.Time{}, time.Now(), StuckNoStatus, n.Name, "")
			s.track(&noLeader, false, time.Time{}, time.Now(), StuckNoLeader, n.Name, "")
			s.mu.Unlock()
			lastEpoch, answered, leaderSeen = ep, since, since
		}
		if pollable {
			st, err := s.l.StatusContext(ctx, n)
			now := time.Now()
			s.mu.Lock()
			if s.epoch[n] == ep && ctx.Err() == nil {
				if err != nil {
					s.track(&noStatus, true, answered, now, StuckNoStatus, n.Name, err.Error())
				} else {
					answered = now
					s.track(&noStatus, false, time.Time{}, now, StuckNoStatus, n.Name, "")
					inCluster := f == nil || !takesOut(f.Kind)
					if st.Leader != "" || !inCluster || !s.quorumLocked() {
						leaderSeen = now
					}
					s.track(&noLeader, st.Leader == "" && inCluster && s.quorumLocked(), leaderSeen, now, StuckNoLeader, n.Name,
						fmt.Sprintf("state %s, term %d, reason %q", st.State, st.Term, st.Reason))
				}
			}
			s.mu.Unlock()
		}
		SleepCtx(ctx, 2*time.Second)
	}
}
