package test

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"time"
)

// The soak's accounting: what its checker counts from the sampler's samples, the
// probe's requests and the nemesis's faults, and the verdict. Two-holder time splits
// into time inside and outside the freeze bound; client outages are charged to the
// fault or heal that caused them; the SoakReport holds the sums. soakreport.go renders
// it.

// overlapCounter splits the time a VIP had two or more holders into time inside the
// freeze bound (every holder but one was an agent frozen less than the bound ago) and
// time outside it, sample by sample: a sample counts until the next one.
type overlapCounter struct {
	names func(mask uint64) []string

	inside, outside time.Duration
	insideIvs       []Interval // stretches of samples inside the bound
	outsideIvs      []Interval // stretches of samples outside it: violations
	maxHolders      int

	prevAt    time.Time
	prevClass int // 0: fewer than two holders, 1: inside, 2: outside
	cur       *Interval
	curMask   uint64
	last      time.Time
}

// Overlap classes of a sample.
const (
	overlapNone = iota
	overlapInside
	overlapOutside
)

// classify returns the class of a sample with holders held, of which exempt may still
// hold by the freeze bound.
func classify(held, exempt uint64) int {
	switch {
	case bits.OnesCount64(held) < 2:
		return overlapNone
	case bits.OnesCount64(held&^exempt) <= 1:
		return overlapInside
	default:
		return overlapOutside
	}
}

// add takes the next sample (in time order): held are the holders, exempt the nodes
// whose agent was frozen less than the bound ago.
func (c *overlapCounter) add(at time.Time, held, exempt uint64) {
	c.maxHolders = max(c.maxHolders, bits.OnesCount64(held))
	switch c.prevClass {
	case overlapInside:
		c.inside += at.Sub(c.prevAt)
	case overlapOutside:
		c.outside += at.Sub(c.prevAt)
	}
	class := classify(held, exempt)
	if c.cur != nil && class != c.prevClass {
		c.close(at)
	}
	if class != overlapNone {
		if c.cur == nil {
			c.cur = &Interval{Start: at}
			c.curMask = 0
		}
		c.curMask |= held
	}
	c.prevAt, c.prevClass, c.last = at, class, at
}

func (c *overlapCounter) close(end time.Time) {
	c.cur.End = end
	if c.names != nil {
		c.cur.Nodes = c.names(c.curMask)
	}
	if c.prevClass == overlapOutside {
		c.outsideIvs = append(c.outsideIvs, *c.cur)
	} else {
		c.insideIvs = append(c.insideIvs, *c.cur)
	}
	c.cur = nil
}

// finish closes an open stretch at the last sample.
func (c *overlapCounter) finish() {
	if c.cur != nil {
		c.close(c.last)
	}
}

// OutageGap is the longest wait between two successful responses that is not an
// outage: ten probe periods. A stretch without a success that is longer, or that has a
// failed request in it, is an outage.
const OutageGap = 100 * time.Millisecond

// Outage is a stretch in which the client was not served: between two successful
// completions more than OutageGap apart, or with failed requests started in between.
type Outage struct {
	LastOK      time.Time // the last successful completion before it (or the start of the window)
	ServedAgain time.Time // the first successful completion after it; zero if none before the end
	Failures    int       // failed requests started in it
}

// Outages finds the outages among the requests rs between from and end.
func Outages(rs []Result, from, end time.Time) []Outage {
	var oks, fails []time.Time
	for _, r := range rs {
		if r.OK {
			oks = append(oks, r.End)
		} else {
			fails = append(fails, r.Start)
		}
	}
	slices.SortFunc(oks, time.Time.Compare)
	slices.SortFunc(fails, time.Time.Compare)
	var out []Outage
	prev, fi := from, 0
	failsUpTo := func(t time.Time) int {
		n := 0
		for fi < len(fails) && !fails[fi].After(t) {
			fi++
			n++
		}
		return n
	}
	failsUpTo(from)
	for _, e := range oks {
		if e.Before(prev) {
			continue
		}
		if nf := failsUpTo(e); nf > 0 || e.Sub(prev) > OutageGap {
			out = append(out, Outage{LastOK: prev, ServedAgain: e, Failures: nf})
		}
		prev = e
	}
	if nf := len(fails) - fi; nf > 0 || end.Sub(prev) > OutageGap {
		out = append(out, Outage{LastOK: prev, Failures: nf})
	}
	return out
}

// attributionSlack lets an outage that began just before an event (the last success
// completed a few milliseconds before the fault) count for that event.
const attributionSlack = 50 * time.Millisecond

// soakEvent is an injection or a heal, with what the client saw after it.
type soakEvent struct {
	f        *SoakFault
	heal     bool
	at       time.Time
	outage   bool          // an outage is charged to it
	recovery time.Duration // from the event to the client served again after its last outage
	gap      time.Duration // the longest of its outages as the client saw it: from the later of the event and the last success
	open     bool          // that outage had not ended when the soak ended
	failures int           // failed requests in the outages charged to it
}

// chargeOutages charges each outage to the latest event at or before its last success
// (plus attributionSlack); the event's recovery is the time from the event to the end
// of the last outage charged to it. Outages before the first event are returned apart.
func chargeOutages(evs []*soakEvent, outs []Outage, end time.Time) (before []Outage) {
	slices.SortStableFunc(evs, func(a, b *soakEvent) int { return a.at.Compare(b.at) })
	for _, o := range outs {
		i := -1
		for k, e := range evs {
			if !e.at.After(o.LastOK.Add(attributionSlack)) {
				i = k
			}
		}
		if i < 0 {
			before = append(before, o)
			continue
		}
		e := evs[i]
		e.outage = true
		e.failures += o.Failures
		served := o.ServedAgain
		e.open = served.IsZero()
		if e.open {
			served = end
		}
		e.recovery = max(e.recovery, served.Sub(e.at))
		e.gap = max(e.gap, served.Sub(maxTime(e.at, o.LastOK)))
	}
	return before
}

// maxTime returns the later of a and b.
func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// KindStats are the numbers of one fault kind.
type KindStats struct {
	Kind               string
	Injected, OnHolder int
	Inject, Heal       Recovery // after the injections, after the heals
}

// Recovery sums up the outages charged to the injections (or the heals) of one kind.
// Its medians are Median's: the nearest rank.
type Recovery struct {
	Outages           int           // events after which the client was not served for a while
	GapMedian, GapMax time.Duration // the outage as the client saw it (from the later of the event and the last success)
	RecMedian, RecMax time.Duration // from the event to the client served again
	Open              int           // outages not over when the soak ended
}

// SoakReport is what a soak saw.
type SoakReport struct {
	Seed        uint64
	Duration    time.Duration // planned injection time
	Start       time.Time     // the nemesis's start (after the baseline)
	InjectEnd   time.Time     // the last fault healed
	End         time.Time     // monitors stopped
	Lab         Options
	LabDir      string
	FreezeBound time.Duration
	Options     SoakOptions

	Faults []*SoakFault
	Kinds  []KindStats

	Requests, Failures int
	LongestGap         time.Duration
	GapAt              time.Time
	OutagesBefore      int // outages before the first fault (should be none)

	MaxHolders       int
	TwoInside        time.Duration
	TwoOutside       time.Duration
	InsideIntervals  []Interval
	OutsideIntervals []Interval // violations

	Stuck       []StuckState
	FinalHolder string // the holder after convergence ("" if none)
	SamplerErrs int
	SamplerErr  error
	Transfers   map[string]int // outcome class (moved, not moved, ...) → count
	TransferWhy map[string]int // the reason of each transfer that did not move → count
	Evidence    string         // fault sequence and agent log lines around each violation
	Warnings    map[string]int // the agents' own WARN and ERROR messages (not Raft's or memberlist's) → count
}

// Availability is the share of requests that succeeded, in percent.
func (r *SoakReport) Availability() float64 {
	if r.Requests == 0 {
		return 0
	}
	return 100 * float64(r.Requests-r.Failures) / float64(r.Requests)
}

// Violations lists every broken promise: two holders outside the freeze bound and
// every stuck state. Empty: the soak passed.
func (r *SoakReport) Violations() []string {
	var v []string
	if r.TwoOutside > 0 || len(r.OutsideIntervals) > 0 {
		v = append(v, fmt.Sprintf("two holders outside the freeze bound for %v in %d intervals", r.TwoOutside.Round(time.Millisecond), len(r.OutsideIntervals)))
		for _, iv := range r.OutsideIntervals {
			v = append(v, fmt.Sprintf("  two holders at %s (%s UTC) for %v: %v", r.rel(iv.Start), iv.Start.UTC().Format("15:04:05.000"), iv.Duration().Round(time.Millisecond), iv.Nodes))
		}
	}
	for _, st := range r.Stuck {
		v = append(v, "stuck: "+r.stuckString(st))
	}
	return v
}

// Pass reports whether the soak kept every promise it checks.
func (r *SoakReport) Pass() bool { return len(r.Violations()) == 0 }

// report computes the SoakReport once the monitors have stopped.
func (s *soak) report(injectEnd, end time.Time, final string) *SoakReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &SoakReport{
		Seed: s.o.Seed, Duration: s.o.Duration, Start: s.start, InjectEnd: injectEnd, End: end,
		Lab: s.l.opts, LabDir: s.l.Dir, FreezeBound: s.bound, Options: s.o, FinalHolder: final,
		MaxHolders: s.ov.maxHolders, TwoInside: s.ov.inside, TwoOutside: s.ov.outside,
		InsideIntervals: s.ov.insideIvs, OutsideIntervals: s.ov.outsideIvs,
		Transfers: map[string]int{}, TransferWhy: map[string]int{},
	}
	for _, f := range s.faults {
		c := *f
		r.Faults = append(r.Faults, &c)
		if f.Kind == FaultTransfer {
			class, rest, _ := strings.Cut(f.Outcome, ":")
			if class == "" {
				class = "unanswered"
			}
			r.Transfers[class]++
			if class != "moved" {
				r.TransferWhy[strings.TrimSpace(rest)]++
			}
		}
	}
	for _, st := range s.stuck {
		r.Stuck = append(r.Stuck, *st)
	}
	r.SamplerErrs, r.SamplerErr = s.smp.Errors()

	var rs []Result
	for _, x := range s.pr.Results() {
		if !x.Start.Before(s.start) {
			rs = append(rs, x)
		}
	}
	ps := s.pr.Summary(s.start, time.Time{})
	r.Requests, r.Failures, r.LongestGap, r.GapAt = ps.Requests, ps.Failures, ps.Gap, ps.GapStart

	var evs []*soakEvent
	for _, f := range r.Faults {
		evs = append(evs, &soakEvent{f: f, at: f.At})
		if !f.Healed.IsZero() {
			evs = append(evs, &soakEvent{f: f, heal: true, at: f.Healed})
		}
	}
	r.OutagesBefore = len(chargeOutages(evs, Outages(rs, s.start, end), end))
	for _, e := range evs {
		if e.heal {
			e.f.HealGap, e.f.HealRecovery, e.f.HealFailed = e.gap, e.recovery, e.failures
		} else {
			e.f.Gap, e.f.Recovery, e.f.Failed = e.gap, e.recovery, e.failures
		}
	}
	r.Kinds = kindStats(evs)
	return r
}

// kindStats sums the events up per fault kind.
func kindStats(evs []*soakEvent) []KindStats {
	var out []KindStats
	for _, k := range FaultKinds {
		ks := KindStats{Kind: k}
		var inj, heal []*soakEvent
		for _, e := range evs {
			if e.f.Kind != k {
				continue
			}
			if !e.heal {
				ks.Injected++
				if e.f.OnHolder {
					ks.OnHolder++
				}
			}
			switch {
			case !e.outage:
			case e.heal:
				heal = append(heal, e)
			default:
				inj = append(inj, e)
			}
		}
		ks.Inject, ks.Heal = recoveryOf(inj), recoveryOf(heal)
		out = append(out, ks)
	}
	return out
}

func recoveryOf(evs []*soakEvent) Recovery {
	var gaps, recs []time.Duration
	r := Recovery{Outages: len(evs)}
	for _, e := range evs {
		gaps, recs = append(gaps, e.gap), append(recs, e.recovery)
		if e.open {
			r.Open++
		}
	}
	r.GapMedian, r.GapMax = Median(gaps), slices.Max(append(gaps, 0))
	r.RecMedian, r.RecMax = Median(recs), slices.Max(append(recs, 0))
	return r
}
