package test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// The soak: a three-node lab runs for minutes while a nemesis injects a random
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
