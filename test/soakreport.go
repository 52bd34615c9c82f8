package test

import (
	"bufio"
	"fmt"
	"maps"
	"math/bits"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// overlapCounter splits the time a VIP had two or more holders into time inside the
// freeze bound (every holder but one was an agent frozen less than the bound ago) and time outside it, sample by sample: a sample counts until the next one.
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

func (r *SoakReport) rel(t time.Time) string {
	return "+" + t.Sub(r.Start).Round(time.Millisecond).String()
}

func (r *SoakReport) stuckString(st StuckState) string {
	d := "until the end"
	if !st.Until.IsZero() {
		d = "for " + st.Until.Sub(st.Since).Round(time.Millisecond).String()
	}
	return fmt.Sprintf("%s%s from %s %s: %s", st.Kind, nodeSuffix(st.Node), r.rel(st.Since), d, st.Detail)
}

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
	r.GapMedian, r.GapMax = median(gaps), slices.Max(append(gaps, 0))
	r.RecMedian, r.RecMax = median(recs), slices.Max(append(recs, 0))
	return r
}

// cells renders outages, gap median and max, recovery median and max, joined by sep.
func (r Recovery) cells(sep string) string {
	n := fmt.Sprint(r.Outages)
	if r.Open > 0 {
		n += fmt.Sprintf(" (%d not over)", r.Open)
	}
	return strings.Join([]string{n, ms(r.GapMedian), ms(r.GapMax), ms(r.RecMedian), ms(r.RecMax)}, sep)
}

// short renders outages, gap median/max and recovery median/max, joined by sep.
func (r Recovery) short(sep string) string {
	n := fmt.Sprint(r.Outages)
	if r.Open > 0 {
		n += fmt.Sprintf(" (%d not over)", r.Open)
	}
	pair := func(a, b time.Duration) string {
		if b == 0 {
			return "–"
		}
		return fmt.Sprintf("%d/%d ms", a.Milliseconds(), b.Milliseconds())
	}
	return strings.Join([]string{n, pair(r.GapMedian, r.GapMax), pair(r.RecMedian, r.RecMax)}, sep)
}

// median of ds (0 if empty).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	if d < 10*time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return d.Round(100 * time.Millisecond).String()
}

// Pass reports whether the soak kept every promise it checks.
func (r *SoakReport) Pass() bool { return len(r.Violations()) == 0 }

// Table renders the summary for a terminal.
func (r *SoakReport) Table() string {
	var b strings.Builder
	verdict := "PASS"
	if !r.Pass() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "soak %s: %v of faults (seed %d), %d faults, lab %s\n", verdict, r.Duration, r.Seed, len(r.Faults), r.LabDir)
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "fault\tinjected\ton holder\toutages after injection\tgap med/max\trecovery med/max\toutages after heal\tgap med/max\trecovery med/max\t")
	for _, k := range r.Kinds {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t\n", k.Kind, k.Injected, k.OnHolder, k.Inject.short("\t"), k.Heal.short("\t"))
	}
	tw.Flush()
	fmt.Fprintf(&b, "client: %d requests, %.3f%% served, longest gap %v at %s\n", r.Requests, r.Availability(), r.LongestGap.Round(time.Millisecond), r.rel(r.GapAt))
	fmt.Fprintf(&b, "two holders: %v inside the freeze bound (%d intervals, bound %v, SIGSTOPped agents only), %v outside (%d intervals)\n",
		r.TwoInside.Round(time.Millisecond), len(r.InsideIntervals), r.FreezeBound,
		r.TwoOutside.Round(time.Millisecond), len(r.OutsideIntervals))
	fmt.Fprintf(&b, "stuck states: %d; transfers: %s; final holder: %s\n", len(r.Stuck), r.transferString(), orNone(r.FinalHolder))
	for _, why := range slices.Sorted(maps.Keys(r.TransferWhy)) {
		fmt.Fprintf(&b, "transfer not moved (%d×): %s\n", r.TransferWhy[why], why)
	}
	if r.OutagesBefore > 0 {
		fmt.Fprintf(&b, "outages before the first fault: %d\n", r.OutagesBefore)
	}
	for _, w := range r.warningsByCount() {
		fmt.Fprintf(&b, "agent warning %d×: %s\n", r.Warnings[w], w)
	}
	for _, v := range r.Violations() {
		fmt.Fprintf(&b, "VIOLATION %s\n", v)
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (r *SoakReport) transferString() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r.Transfers)) {
		parts = append(parts, fmt.Sprintf("%d %s", r.Transfers[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// FaultSequence lists the faults, one a line, times relative to the start.
func (r *SoakReport) FaultSequence() string {
	var b strings.Builder
	for _, f := range r.Faults {
		b.WriteString(r.faultLine(f) + "\n")
	}
	return b.String()
}

func (r *SoakReport) faultLine(f *SoakFault) string {
	holder := ""
	if f.OnHolder {
		holder = " (holder)"
	}
	outage := func(gap, rec time.Duration, failed int) string {
		if rec == 0 {
			return ""
		}
		return fmt.Sprintf(" [outage %v, served again %v after it, %d failed]", gap.Round(time.Millisecond), rec.Round(time.Millisecond), failed)
	}
	switch {
	case f.Kind == FaultTransfer:
		return fmt.Sprintf("%9s #%d transfer to %s via %s%s: %s", r.rel(f.At), f.N, f.Node, f.Via, outage(f.Gap, f.Recovery, f.Failed), orNone(f.Outcome))
	case f.Healed.IsZero():
		return fmt.Sprintf("%9s #%d %s %s%s%s, not healed", r.rel(f.At), f.N, f.Kind, f.Node, holder, outage(f.Gap, f.Recovery, f.Failed))
	default:
		return fmt.Sprintf("%9s #%d %s %s%s%s, healed %s%s", r.rel(f.At), f.N, f.Kind, f.Node, holder, outage(f.Gap, f.Recovery, f.Failed),
			r.rel(f.Healed), outage(f.HealGap, f.HealRecovery, f.HealFailed))
	}
}

// Markdown renders docs/soak.md. cmd is the command line that produced it.
func (r *SoakReport) Markdown(cmd string) string {
	var b strings.Builder
	osrel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	verdict := "**PASS**: no two holders outside the freeze bound, no stuck state."
	if !r.Pass() {
		verdict = "**FAIL**: see *Violations* below."
	}
	b.WriteString("# Soak: raftvip under a random nemesis\n\n")
	fmt.Fprintf(&b, "Generated by `%s` on %s, %d CPUs, Linux %s, %s.\n\n", cmd, r.Start.UTC().Format("2006-01-02 15:04 MST"),
		runtime.NumCPU(), strings.TrimSpace(string(osrel)), runtime.Version())
	fmt.Fprintf(&b, "A three-node lab (timing `%s`, fencing `%s`, VIP lifetime %v; every node runs HAProxy and the `haproxy`\n"+
		"check every %v, fall %d, rise 2, weight 0; priorities lb1 150, lb2 120, lb3 100; `min_move_interval` %v)\n"+
		"runs for the duration below while a nemesis injects, every %v–%v, a random fault on a random node\n"+
		"(the holder half of the time) and heals it a few seconds later:\n\n",
		r.Lab.Timing, r.Lab.Fencing, r.Lab.Lifetime, SoakCheckInterval, SoakCheckFall, SoakMoveWindow, r.Options.MinEvery, r.Options.MaxEvery)
	b.WriteString("| fault | what | healed after |\n|---|---|---|\n")
	for _, k := range FaultKinds {
		h := faultHold[k]
		after := fmt.Sprintf("%v–%v", h[0], h[1])
		var what string
		switch k {
		case FaultUnplug:
			what = "the node's bridge port down (its links lose carrier)"
		case FaultPartition:
			what = "the node cut off from the other load balancers by nftables on the bridge; links up, the client still reaches it"
		case FaultKill:
			what = "the agent SIGKILLed; healed by starting it again on its data directory"
		case FaultFreeze:
			what = "the agent SIGSTOPped; healed by SIGCONT"
		case FaultHAProxy:
			what = "HAProxy SIGKILLed; healed by starting it again"
		case FaultTransfer:
			what, after = "`raftvip transfer NODE` to a node other than the holder that has no fault, run on a node that is in the cluster", "instantaneous"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", k, what, after)
	}
	fmt.Fprintf(&b, "\nAt most %d lasting faults are in force at once, each on its own node, and after every injection a\n"+
		"majority of the nodes is still in the Raft group (unplug, partition, SIGKILL and SIGSTOP take a node\n"+
		"out; a HAProxy kill does not) and one node has no fault at all. With three nodes that means at most\n"+
		"one node is out at a time: a quorum of running, connected agents, one of them with HAProxy up, exists\n"+
		"at every instant, so the cluster should always hold the VIP on a healthy node — which is what makes a\n"+
		"long stretch without one a *stuck* state rather than bad luck. Quorum loss is covered by the\n"+
		"scenario tests, not here.\n\n", r.Options.MaxActive)
	b.WriteString("The client probes the VIP over HTTP every 10 ms (a new connection each time) and the sampler\n" +
		"reads every node's addresses every 10 ms, both for the whole run.\n\n")

	fmt.Fprintf(&b, "## Result\n\n%s\n\n", verdict)
	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| duration | %v of faults, then %v to heal, converge and settle |\n", r.Duration, r.End.Sub(r.InjectEnd).Round(100*time.Millisecond))
	fmt.Fprintf(&b, "| seed | %d (replay: `SEED=%d SOAK=%v make soak`) |\n", r.Seed, r.Seed, r.Duration)
	fmt.Fprintf(&b, "| faults | %d: %s |\n", len(r.Faults), r.kindCounts())
	fmt.Fprintf(&b, "| client requests | %d, %.3f%% served |\n", r.Requests, r.Availability())
	fmt.Fprintf(&b, "| longest client gap | %v at %s |\n", r.LongestGap.Round(time.Millisecond), r.rel(r.GapAt))
	fmt.Fprintf(&b, "| two holders inside the freeze bound (a SIGSTOPped agent's kernel) | %v in %d intervals (longest %v) |\n",
		r.TwoInside.Round(time.Millisecond), len(r.InsideIntervals), longest(r.InsideIntervals).Round(time.Millisecond))
	fmt.Fprintf(&b, "| two holders outside the freeze bound | %v in %d intervals |\n", r.TwoOutside.Round(time.Millisecond), len(r.OutsideIntervals))
	fmt.Fprintf(&b, "| stuck states | %d |\n", len(r.Stuck))
	fmt.Fprintf(&b, "| transfers | %s |\n", r.transferString())
	fmt.Fprintf(&b, "| after the final heal | %s |\n", r.finalString())
	for _, why := range slices.Sorted(maps.Keys(r.TransferWhy)) {
		fmt.Fprintf(&b, "| transfer not moved (%d×) | %s |\n", r.TransferWhy[why], strings.ReplaceAll(why, "|", "\\|"))
	}
	if r.SamplerErrs > 0 {
		fmt.Fprintf(&b, "| sampler read errors | %d rounds (last: %v) |\n", r.SamplerErrs, r.SamplerErr)
	}

	b.WriteString("\n## Recovery per fault kind\n\n")
	b.WriteString("| fault | injected | on the holder | outages after injection | gap median | gap max | recovery median | recovery max | outages after heal | gap median | gap max | recovery median | recovery max |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, k := range r.Kinds {
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %s |\n", k.Kind, k.Injected, k.OnHolder, k.Inject.cells(" | "), k.Heal.cells(" | "))
	}

	if len(r.Warnings) > 0 {
		b.WriteString("\n## The agents' own warnings\n\nWARN and ERROR lines of the agent logs, Raft's and memberlist's left out, by message:\n\n| count | message |\n|---|---|\n")
		for _, w := range r.warningsByCount() {
			fmt.Fprintf(&b, "| %d | %s |\n", r.Warnings[w], strings.ReplaceAll(w, "|", "\\|"))
		}
	}

	b.WriteString("\n## Violations\n\n")
	if v := r.Violations(); len(v) == 0 {
		b.WriteString("None.\n")
	} else {
		for _, line := range v {
			fmt.Fprintf(&b, "- %s\n", strings.TrimSpace(line))
		}
		if r.Evidence != "" {
			b.WriteString("\n<details><summary>Evidence: faults and agent log lines around each violation</summary>\n\n```\n" + r.Evidence + "```\n</details>\n")
		}
	}

	b.WriteString("\n## How to read this\n\n")
	fmt.Fprintf(&b, "- **Two holders** is the time the sampler saw the VIP on two or more nodes' interfaces (each sample\n"+
		"  counts until the next one). It is *inside the freeze bound* when every holder but one is a node whose\n"+
		"  agent was frozen (SIGSTOP) at most %v earlier: the address lifetime %v that the agent refreshes,\n"+
		"  plus half a second for the kernel's late expiry (README promise 2, docs/safety.md \"The kernel\n"+
		"  backstop\"), plus two sampler periods. A SIGKILLed agent gets no such allowance: its VIP guard\n"+
		"  removes the VIP as it dies. Anything else is *outside*: a violation.\n", r.FreezeBound, r.Lab.Lifetime)
	b.WriteString("- **Outage**: a stretch of more than 100 ms without a successful response, or one with failed\n" +
		"  requests in it (a request to an unplugged holder hangs until the SYN is retransmitted to the new\n" +
		"  holder: a gap without a failure). It is charged to the latest injection or heal at or before the\n" +
		"  last success before it (plus 50 ms: the fault usually comes a few ms after that success);\n" +
		"  its **gap** is how long the client went unserved (from the later of the event and that last\n" +
		"  success); its **recovery** is the time from the event to the first successful response after it.\n" +
		"  The two differ when the outage starts well after the event: a partitioned holder serves until its\n" +
		"  lease runs out; a healed node with a higher priority takes the VIP back by preemption a second or\n" +
		"  two after its heal.\n" +
		"  Events without an outage are not in the medians: a fault on a node that does not hold the VIP\n" +
		"  normally costs nothing, and a frozen holder's HAProxy keeps answering on its kernel's address.\n")
	fmt.Fprintf(&b, "- **Stuck states** (each lasting over %v): no node without a fault holds the VIP, or no request\n"+
		"  succeeds, while a quorum of healthy nodes exists (which the nemesis guarantees); a running, unfrozen\n"+
		"  agent does not answer `raftvip status` (polled every 2 s); a node in the cluster sees no leader\n"+
		"  (counted from its last heal); and, after the final heal, no single holder serving the client within %v.\n",
		r.Options.StuckAfter, r.Options.Converge)
	b.WriteString("- A **transfer** is a planned move: promise 4 wants no failed request and a gap under 100 ms, so\n" +
		"  an outage after one is a finding (it is not counted as a violation: another fault may be in force).\n")
	b.WriteString("- The seed fixes every random draw (kinds, delays, durations, coin flips); the node a fault hits\n" +
		"  when it aims at the holder depends on the run's timing, so a replay may differ there.\n")

	b.WriteString("\n<details><summary>Fault sequence</summary>\n\n```\n" + r.FaultSequence() + "```\n</details>\n")
	return b.String()
}

func longest(ivs []Interval) time.Duration {
	var d time.Duration
	for _, iv := range ivs {
		d = max(d, iv.Duration())
	}
	return d
}

func (r *SoakReport) kindCounts() string {
	var parts []string
	for _, k := range r.Kinds {
		parts = append(parts, fmt.Sprintf("%d %s", k.Injected, k.Kind))
	}
	return strings.Join(parts, ", ")
}

func (r *SoakReport) finalString() string {
	if r.FinalHolder == "" {
		return "no single holder serving the client"
	}
	return r.FinalHolder + " holds the VIP and serves the client"
}

// evidence gathers, for each violation, the faults around it and the agent log lines
// of every node from 3 s before to 1 s after.
func (r *SoakReport) evidence(l *Lab) string {
	type window struct {
		what     string
		from, to time.Time
	}
	var ws []window
	for _, iv := range r.OutsideIntervals {
		ws = append(ws, window{fmt.Sprintf("two holders %v at %s for %v", iv.Nodes, r.rel(iv.Start), iv.Duration().Round(time.Millisecond)), iv.Start, iv.End})
	}
	for _, st := range r.Stuck {
		to := st.Until
		if to.IsZero() {
			to = r.End
		}
		if to.Sub(st.Since) > 20*time.Second {
			to = st.Since.Add(20 * time.Second)
		}
		ws = append(ws, window{"stuck: " + r.stuckString(st), st.Since, to})
	}
	var b strings.Builder
	for i, w := range ws {
		if i == 10 {
			fmt.Fprintf(&b, "... %d more violations; the agent logs are in %s\n", len(ws)-i, r.LabDir)
			break
		}
		from, to := w.from.Add(-3*time.Second), w.to.Add(time.Second)
		fmt.Fprintf(&b, "=== %s (%s–%s UTC)\n", w.what, w.from.UTC().Format("15:04:05.000"), w.to.UTC().Format("15:04:05.000"))
		b.WriteString("faults from 15 s before:\n")
		for _, f := range r.Faults {
			end := f.Healed
			if end.IsZero() {
				end = f.At
			}
			if !end.Before(w.from.Add(-15*time.Second)) && !f.At.After(w.to) {
				b.WriteString("  " + r.faultLine(f) + "\n")
			}
		}
		for _, n := range l.Nodes {
			lines := logLinesBetween(l, n, from, to, 40)
			if len(lines) > 0 {
				fmt.Fprintf(&b, "%s agent log %s–%s:\n", n.Name, from.UTC().Format("15:04:05.000"), to.UTC().Format("15:04:05.000"))
				for _, line := range lines {
					b.WriteString("  " + line + "\n")
				}
			}
		}
	}
	return b.String()
}

// logLinesBetween returns at most max lines of n's agent logs (every run) whose time=
// field lies in [from, to].
func logLinesBetween(l *Lab, n *Node, from, to time.Time, limit int) []string {
	var out []string
	eachAgentLogLine(l, n, func(run int, line string) {
		ts, ok := strings.CutPrefix(line, "time=")
		if !ok {
			return
		}
		ts, _, _ = strings.Cut(ts, " ")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || t.Before(from) || t.After(to) {
			return
		}
		out = append(out, fmt.Sprintf("[run %d] %s", run, line))
	})
	if len(out) > limit {
		out = append(out[:limit/2], append([]string{fmt.Sprintf("... %d lines left out ...", len(out)-limit)}, out[len(out)-limit/2:]...)...)
	}
	return out
}

// eachAgentLogLine calls fn with every line of n's agent logs, run by run.
func eachAgentLogLine(l *Lab, n *Node, fn func(run int, line string)) {
	for run := 1; run <= l.AgentRuns(n); run++ {
		f, err := os.Open(l.AgentLogPath(n, run))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			fn(run, sc.Text())
		}
		f.Close()
	}
}

func (r *SoakReport) warningsByCount() []string {
	ws := slices.Collect(maps.Keys(r.Warnings))
	slices.SortFunc(ws, func(a, b string) int {
		if c := r.Warnings[b] - r.Warnings[a]; c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return ws
}

// agentWarnings counts the WARN and ERROR lines of every agent log by level and
// message, leaving out Raft's (component=raft) and memberlist's: those report the
// faults themselves.
func agentWarnings(l *Lab) map[string]int {
	out := map[string]int{}
	for _, n := range l.Nodes {
		eachAgentLogLine(l, n, func(_ int, line string) {
			var level string
			switch {
			case strings.Contains(line, " level=WARN "):
				level = "WARN"
			case strings.Contains(line, " level=ERROR "):
				level = "ERROR"
			default:
				return
			}
			if strings.Contains(line, " component=raft") || strings.Contains(line, `msg="memberlist:`) {
				return
			}
			_, msg, ok := strings.Cut(line, " msg=")
			if !ok {
				return
			}
			if strings.HasPrefix(msg, `"`) {
				if i := strings.Index(msg[1:], `"`); i >= 0 {
					msg = msg[1 : i+1]
				}
			} else {
				msg, _, _ = strings.Cut(msg, " ")
			}
			if len(msg) > 120 {
				msg = msg[:120] + "…"
			}
			out[level+" "+msg]++
		})
	}
	return out
}

// writeProbe writes every request of the probe to path, one a line: start and end
// relative to t0, ok or the error, and who answered.
func writeProbe(path string, rs []Result, t0 time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "# start_ms\tend_ms\tresult\tnode_or_error (times relative to the soak's start)")
	for _, r := range rs {
		res, what := "ok", r.Node
		if !r.OK {
			res, what = "fail", r.Err
		}
		fmt.Fprintf(w, "%.1f\t%.1f\t%s\t%s\n", float64(r.Start.Sub(t0).Microseconds())/1000, float64(r.End.Sub(t0).Microseconds())/1000, res, what)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
