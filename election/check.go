package election

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Prober runs one probe of a health check. A nil error is a pass. output is a short
// human-readable result, e.g. "HAProxy 2.6.12: backend web 2/3 servers UP (need 1)".
//
// Probe must honour ctx, whose deadline is the check's timeout, but the Checker does
// not rely on it: a probe that has not returned by its timeout counts as failed then,
// whatever it does afterwards.
type Prober interface {
	Probe(ctx context.Context) (output string, err error)
}

// Check is one configured health check, with keepalived's vrrp_script semantics.
type Check struct {
	Name string
	Type string // haproxy, http, tcp, script or process: reported, not interpreted

	Interval time.Duration // time between probe starts; ≤ 0 means 1s
	Timeout  time.Duration // a probe still running after this has failed; ≤ 0 means Interval
	Fall     int           // consecutive failures that turn a passing check failing; < 1 means 1
	Rise     int           // consecutive passes that turn a failing check passing; < 1 means 1
	Weight   int           // see ComputeHealth

	Probe Prober // nil: the check always fails
}

// CheckState is the state of one check, as Checker.States reports it.
type CheckState struct {
	Name   string
	Type   string
	Weight int

	Known   bool      // false until the first result
	Passing bool      // the debounced state (fall and rise applied); false while !Known
	Output  string    // the last probe's output, or its error text; one line, ≤ 200 bytes
	LastRun time.Time // when the last probe finished (or timed out); zero before the first
	Since   time.Time // when Passing or Known last changed (at first: when the Checker was made)
	Streak  int       // consecutive results agreeing with the last result
	Passes  uint64    // raw results so far that passed (Carry carries them over)
	Fails   uint64    // raw results so far that failed, timeouts included
}

// maxOutput bounds CheckState.Output, in bytes.
const maxOutput = 200

// Checker runs health checks, one goroutine per check, and keeps their debounced
// states. Make one with NewChecker, start it with Run, read it with States.
type Checker struct {
	checks   []Check
	clock    Clock
	log      *slog.Logger
	onChange func()

	mu     sync.Mutex
	states []checkState // same order as checks
}

// checkState is a CheckState and the raw result its Streak counts.
type checkState struct {
	CheckState
	last bool // the last raw result (pass or fail), before debouncing
}

// NewChecker returns a Checker for checks. clock nil means SystemClock; logger nil
// discards. onChange, if not nil, is called whenever a check's Known or Passing changes;
// it must not block (a non-blocking wake of whoever reads States). Output changes alone
// do not call it.
func NewChecker(checks []Check, clock Clock, logger *slog.Logger, onChange func()) *Checker {
	if clock == nil {
		clock = SystemClock{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Checker{
		checks:   make([]Check, len(checks)),
		clock:    clock,
		log:      logger,
		onChange: onChange,
		states:   make([]checkState, len(checks)),
	}
	now := clock.Now()
	for i, chk := range checks {
		if chk.Interval <= 0 {
			chk.Interval = time.Second
		}
		if chk.Timeout <= 0 {
			chk.Timeout = chk.Interval
		}
		chk.Fall = max(chk.Fall, 1)
		chk.Rise = max(chk.Rise, 1)
		c.checks[i] = chk
		c.states[i].CheckState = CheckState{Name: chk.Name, Type: chk.Type, Weight: chk.Weight, Since: now}
	}
	return c
}

// Carry takes over the states of checks of the same name and type from prev, an earlier
// Checker's States, so that replacing a Checker (a configuration reload) does not make
// every check unknown, and the node ineligible, until its first probe. A carried check
// keeps its state until its own probes change it, with fall and rise counted on from
// the carried streak. Call it before Run.
func (c *Checker) Carry(prev []CheckState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.states {
		s := &c.states[i]
		for _, p := range prev {
			if p.Name != s.Name || p.Type != s.Type || !p.Known {
				continue
			}
			s.Known, s.Passing, s.Output, s.LastRun, s.Since, s.Streak = true, p.Passing, p.Output, p.LastRun, p.Since, p.Streak
			s.Passes, s.Fails = p.Passes, p.Fails
			s.last = p.Passing
			break
		}
	}
}

// Run probes every check, the first time at once and then every Interval, until ctx
// ends; then it returns without waiting for probes still running (their contexts are
// cancelled). Call it once.
//
// A probe that has not returned by Timeout is a failure at that moment. No second probe
// of a check starts while one is running: an interval that comes while the previous
// probe is still within its timeout starts the next probe as soon as that one returns;
// each interval that comes after the running probe has already timed out is one more
// failure ("previous probe still running"). A probe that panics is a failure.
//
// Each probe gets a child of ctx with the check's Timeout as its deadline, cancelled
// as well when the runner's clock says the timeout is up.
func (c *Checker) Run(ctx context.Context) {
	if len(c.checks) == 0 {
		<-ctx.Done()
		return
	}
	var wg sync.WaitGroup
	for i := range c.checks {
		wg.Go(func() { c.loop(ctx, i) })
	}
	wg.Wait()
}

// States returns a copy of every check's state, in the order the checks were given.
func (c *Checker) States() []CheckState {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CheckState, len(c.states))
	for i := range c.states {
		out[i] = c.states[i].CheckState
	}
	return out
}

// outcome is what one probe returned.
type outcome struct {
	output string
	err    error
}

// loop runs check i until ctx ends. All scheduling is against c.clock: the next
// interval is due at next, the running probe's timeout at deadline.
func (c *Checker) loop(ctx context.Context, i int) {
	chk := c.checks[i]
	// Capacity 1: the probe goroutine never blocks on it, even after loop has returned,
	// and at most one probe of this check runs at a time.
	results := make(chan outcome, 1)
	var (
		running  bool // a probe goroutine has not delivered its result yet
		timedOut bool // ... and it has already been counted as timed out
		pending  bool // an interval came while it ran within its timeout: start at once after
		deadline time.Time
		cancel   context.CancelFunc = func() {}
	)
	defer func() { cancel() }()
	// fired is always ready: the wait for an event that is already due.
	fired := make(chan time.Time)
	close(fired)
	start := func(now time.Time) {
		var pctx context.Context
		pctx, cancel = context.WithTimeout(ctx, chk.Timeout)
		running, timedOut, pending = true, false, false
		deadline = now.Add(chk.Timeout)
		go probe(pctx, chk.Probe, results)
	}

	next := c.clock.Now()
	for {
		wake := next
		if running && !timedOut && deadline.Before(wake) {
			wake = deadline
		}
		var timer <-chan time.Time = fired
		if d := wake.Sub(c.clock.Now()); d > 0 {
			timer = c.clock.After(d)
		}
		select {
		case <-ctx.Done():
			return
		case r := <-results:
			cancel()
			running = false
			now := c.clock.Now()
			if timedOut {
				c.log.Debug("check result after its timeout dropped", "check", chk.Name, "output", resultText(r))
			} else {
				c.record(i, r.err == nil, resultText(r), now)
			}
			if pending {
				start(now)
			}
			continue
		case <-timer:
		}

		now := c.clock.Now()
		if running && !timedOut && !now.Before(deadline) {
			timedOut = true
			cancel()
			c.record(i, false, fmt.Sprintf("timed out after %v", chk.Timeout), now)
		}
		if now.Before(next) {
			continue
		}
		due := next
		next = next.Add(chk.Interval)
		if !next.After(now) {
			// Far behind (a suspended host, a stalled clock): skip the missed intervals
			// rather than count each of them.
			next = now.Add(chk.Interval)
		}
		switch {
		case !running:
			start(now)
		case timedOut && deadline.Before(due):
			// This interval is lost, and counted; the next probe waits for the next one.
			pending = false
			c.record(i, false, "previous probe still running", now)
		default:
			// Still within its timeout, or timed out at this very interval (the usual
			// case with Timeout == Interval: the probe is being killed right now).
			pending = true
		}
	}
}

// probe runs p and delivers its outcome on out, turning a panic into a failure.
func probe(ctx context.Context, p Prober, out chan<- outcome) {
	var o outcome
	defer func() {
		if r := recover(); r != nil {
			o = outcome{err: fmt.Errorf("election: probe: panicked: %v", r)}
		}
		out <- o
	}()
	if p == nil {
		o.err = errors.New("election: probe: no prober configured")
		return
	}
	o.output, o.err = p.Probe(ctx)
}

// resultText is what CheckState.Output shows for r: the error text for a failure,
// the output for a pass.
func resultText(r outcome) string {
	if r.err != nil {
		return r.err.Error()
	}
	return r.output
}

// record applies one raw result of check i at time at: the first result sets the state,
// later ones flip it after Fall failures or Rise passes in a row.
func (c *Checker) record(i int, pass bool, text string, at time.Time) {
	chk := c.checks[i]
	c.mu.Lock()
	s := &c.states[i]
	s.Output = oneLine(text, maxOutput)
	s.LastRun = at
	if pass {
		s.Passes++
	} else {
		s.Fails++
	}
	changed := false
	if !s.Known {
		s.Known, s.Passing, s.last, s.Streak = true, pass, pass, 1
		changed = true
	} else {
		if pass == s.last {
			s.Streak++
		} else {
			s.last, s.Streak = pass, 1
		}
		need := chk.Fall
		if pass {
			need = chk.Rise
		}
		if pass != s.Passing && s.Streak >= need {
			s.Passing = pass
			changed = true
		}
	}
	if changed {
		s.Since = at
	}
	st := s.CheckState
	c.mu.Unlock()

	if !changed {
		return
	}
	msg := "check passing"
	if !st.Passing {
		msg = "check failing"
	}
	c.log.Info(msg, "check", st.Name, "type", st.Type, "output", st.Output, "after", st.Streak)
	if c.onChange != nil {
		c.onChange()
	}
}

// oneLine turns s into a single trimmed line of at most n bytes of valid UTF-8.
func oneLine(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
	if len(s) <= n {
		return s
	}
	s = s[:n]
	// s was valid before the cut, so only its last rune can be broken.
	for len(s) > 0 {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}
