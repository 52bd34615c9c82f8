package election

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The check runner's tests run in a synctest bubble: time is virtual, SystemClock
// reads it, and synctest.Wait returns once every goroutine of the bubble is blocked,
// so the tests observe each instant without sleeping for real. They look at states
// half-way between intervals so that no instant is ambiguous.

// ckResult is one scripted probe result.
type ckResult struct {
	out  string
	err  error
	wait time.Duration // how long the probe takes (virtual time)
	hang chan struct{} // if set: block until closed, ignoring ctx
	ctx  bool          // if set: block until ctx ends, then return its error
	boom bool          // panic
}

func ckPass(out string) ckResult { return ckResult{out: out} }
func ckFail(msg string) ckResult { return ckResult{err: errors.New(msg)} }

// ckProber plays results in order; after the last, it repeats the last one.
type ckProber struct {
	mu      sync.Mutex
	results []ckResult
	calls   int
	running int
	maxRun  int
	ctxs    []context.Context
}

func (p *ckProber) Probe(ctx context.Context) (string, error) {
	p.mu.Lock()
	r := p.results[min(p.calls, len(p.results)-1)]
	p.calls++
	p.running++
	p.maxRun = max(p.maxRun, p.running)
	p.ctxs = append(p.ctxs, ctx)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.running--
		p.mu.Unlock()
	}()
	if r.wait > 0 {
		time.Sleep(r.wait)
	}
	switch {
	case r.boom:
		panic("boom")
	case r.hang != nil:
		<-r.hang
	case r.ctx:
		<-ctx.Done()
		return "", ctx.Err()
	}
	return r.out, r.err
}

func (p *ckProber) stats() (calls, maxRun int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls, p.maxRun
}

// ckRun starts a Checker over checks in the bubble and returns it with a stop
// function that cancels Run and waits for it to return.
func ckRun(t *testing.T, checks []Check, logger *slog.Logger, onChange func()) (*Checker, func()) {
	t.Helper()
	c := NewChecker(checks, SystemClock{}, logger, onChange)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		c.Run(ctx)
		close(done)
	}()
	synctest.Wait()
	return c, func() {
		cancel()
		<-done
	}
}

// ckAt sleeps until virtual time since start is d, then lets the bubble settle.
func ckAt(start time.Time, d time.Duration) {
	time.Sleep(time.Until(start.Add(d)))
	synctest.Wait()
}

// ckWord is a check state as one word, for compact expectations.
func ckWord(s CheckState) string {
	switch {
	case !s.Known:
		return "unknown"
	case s.Passing:
		return "passing"
	}
	return "failing"
}

func TestCheckerDebounce(t *testing.T) {
	P, F := ckPass("ok"), ckFail("bad")
	tests := []struct {
		name       string
		fall, rise int
		results    []ckResult
		want       []string // state after each result
		streak     []int
	}{
		{
			name: "first pass sets passing", fall: 3, rise: 3,
			results: []ckResult{P, P},
			want:    []string{"passing", "passing"},
			streak:  []int{1, 2},
		},
		{
			name: "first failure sets failing", fall: 3, rise: 3,
			results: []ckResult{F, P, P, P},
			want:    []string{"failing", "failing", "failing", "passing"},
			streak:  []int{1, 1, 2, 3},
		},
		{
			name: "fall 2", fall: 2, rise: 1,
			results: []ckResult{P, F, P, F, F, F, P},
			want:    []string{"passing", "passing", "passing", "passing", "failing", "failing", "passing"},
			streak:  []int{1, 1, 1, 1, 2, 3, 1},
		},
		{
			name: "rise 2", fall: 1, rise: 2,
			results: []ckResult{P, F, P, F, P, P},
			want:    []string{"passing", "failing", "failing", "failing", "failing", "passing"},
			streak:  []int{1, 1, 1, 1, 1, 2},
		},
		{
			name: "fall 1 rise 1 follows every result", fall: 1, rise: 1,
			results: []ckResult{F, P, F, P},
			want:    []string{"failing", "passing", "failing", "passing"},
			streak:  []int{1, 1, 1, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				p := &ckProber{results: tt.results}
				var changes atomic.Int32
				c, stop := ckRun(t, []Check{{
					Name: "c", Type: "script", Interval: time.Second, Fall: tt.fall, Rise: tt.rise, Probe: p,
				}}, nil, func() { changes.Add(1) })
				defer stop()

				wantChanges := int32(0)
				prev := "unknown"
				for i := range tt.results {
					ckAt(start, time.Duration(i)*time.Second+time.Second/2)
					s := c.States()[0]
					if got := ckWord(s); got != tt.want[i] {
						t.Fatalf("after result %d: state %s, want %s", i+1, got, tt.want[i])
					}
					if s.Streak != tt.streak[i] {
						t.Errorf("after result %d: streak %d, want %d", i+1, s.Streak, tt.streak[i])
					}
					wantOut := "ok"
					if tt.results[i].err != nil {
						wantOut = "bad"
					}
					if s.Output != wantOut {
						t.Errorf("after result %d: output %q, want %q", i+1, s.Output, wantOut)
					}
					if want := start.Add(time.Duration(i) * time.Second); !s.LastRun.Equal(want) {
						t.Errorf("after result %d: LastRun %v, want %v", i+1, s.LastRun.Sub(start), want.Sub(start))
					}
					if tt.want[i] != prev {
						wantChanges++
						if want := start.Add(time.Duration(i) * time.Second); !s.Since.Equal(want) {
							t.Errorf("after result %d: Since %v, want %v", i+1, s.Since.Sub(start), want.Sub(start))
						}
						prev = tt.want[i]
					}
					if got := changes.Load(); got != wantChanges {
						t.Errorf("after result %d: onChange called %d times, want %d", i+1, got, wantChanges)
					}
				}
			})
		})
	}
}

func TestCheckerUnknownUntilFirstResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := &ckProber{results: []ckResult{{out: "ok", wait: 300 * time.Millisecond}}}
		c, stop := ckRun(t, []Check{{Name: "slow", Type: "tcp", Weight: -10, Probe: p}}, nil, nil)
		defer stop()

		s := c.States()[0]
		if s.Known || s.Passing || !s.LastRun.IsZero() || !s.Since.Equal(start) {
			t.Fatalf("before the first result: %+v", s)
		}
		if s.Name != "slow" || s.Type != "tcp" || s.Weight != -10 {
			t.Fatalf("identity: %+v", s)
		}
		ckAt(start, 400*time.Millisecond)
		if s := c.States()[0]; !s.Known || !s.Passing || !s.Since.Equal(start.Add(300*time.Millisecond)) {
			t.Fatalf("after the first result: %+v", s)
		}
	})
}

// A reload replaces the Checker: checks of the same name and type carry their state
// over, so a passing weight-0 check does not make the node ineligible until its first
// probe; fall is counted on from the carried streak; a new check starts unknown.
func TestCheckerCarry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		prev := []CheckState{
			{Name: "haproxy", Type: "haproxy", Known: true, Passing: true, Output: "up", Since: start.Add(-time.Hour), Streak: 7},
			{Name: "gone", Type: "tcp", Known: true, Passing: false},
			{Name: "api", Type: "tcp", Known: true, Passing: true}, // now an http check: not carried
		}
		p := &ckProber{results: []ckResult{{out: "slow", wait: 300 * time.Millisecond}, ckFail("down")}}
		c := NewChecker([]Check{
			{Name: "haproxy", Type: "haproxy", Interval: time.Second, Fall: 2, Probe: p},
			{Name: "api", Type: "http", Interval: time.Second, Probe: &ckProber{results: []ckResult{{out: "ok", wait: 300 * time.Millisecond}}}},
		}, SystemClock{}, nil, nil)
		c.Carry(prev)
		st := c.States()
		if s := st[0]; !s.Known || !s.Passing || s.Output != "up" || s.Streak != 7 || !s.Since.Equal(start.Add(-time.Hour)) {
			t.Fatalf("carried state: %+v", s)
		}
		if s := st[1]; s.Known {
			t.Fatalf("a check whose type changed was carried: %+v", s)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go c.Run(ctx)
		// First probe (a pass at +300ms), then failures at +1s and +2s: fall 2.
		ckAt(start, 1500*time.Millisecond)
		if s := c.States()[0]; !s.Passing {
			t.Fatalf("one failure flipped a carried passing check with fall 2: %+v", s)
		}
		ckAt(start, 2500*time.Millisecond)
		if s := c.States()[0]; s.Passing {
			t.Fatalf("two failures did not flip it: %+v", s)
		}
	})
}

// A probe that ignores ctx and never returns: a failure at its timeout, then one per
// interval, never a second probe alongside; Run still returns when asked.
func TestCheckerHungProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		hang := make(chan struct{})
		p := &ckProber{results: []ckResult{ckPass("ok"), {hang: hang}, ckPass("back")}}
		var changes atomic.Int32
		c, stop := ckRun(t, []Check{{
			Name: "h", Interval: time.Second, Timeout: time.Second, Fall: 3, Rise: 1, Probe: p,
		}}, nil, func() { changes.Add(1) })

		steps := []struct {
			at     time.Duration
			state  string
			output string
			streak int
		}{
			{500 * time.Millisecond, "passing", "ok", 1},
			// The probe started at 1s hangs.
			{1500 * time.Millisecond, "passing", "ok", 1},
			// 2s: its timeout. The interval due at the same instant waits for it.
			{2500 * time.Millisecond, "passing", "timed out after 1s", 1},
			{3500 * time.Millisecond, "passing", "previous probe still running", 2},
			{4500 * time.Millisecond, "failing", "previous probe still running", 3},
			{5500 * time.Millisecond, "failing", "previous probe still running", 4},
		}
		for _, st := range steps {
			ckAt(start, st.at)
			s := c.States()[0]
			if ckWord(s) != st.state || s.Output != st.output || s.Streak != st.streak {
				t.Fatalf("at %v: %s %q streak %d, want %s %q streak %d", st.at, ckWord(s), s.Output, s.Streak, st.state, st.output, st.streak)
			}
		}
		if calls, maxRun := p.stats(); calls != 2 || maxRun != 1 {
			t.Fatalf("probes started %d, at most %d at once; want 2 and 1", calls, maxRun)
		}
		if got := changes.Load(); got != 2 {
			t.Fatalf("onChange called %d times, want 2", got)
		}

		// The hung probe returns at 5.75s; its late result is dropped and the next
		// probe waits for the next interval (6s), which passes.
		ckAt(start, 5750*time.Millisecond)
		close(hang)
		synctest.Wait()
		if s := c.States()[0]; s.Output != "previous probe still running" {
			t.Fatalf("late result recorded: %+v", s)
		}
		ckAt(start, 6500*time.Millisecond)
		if s := c.States()[0]; ckWord(s) != "passing" || s.Output != "back" {
			t.Fatalf("after recovery: %s %q", ckWord(s), s.Output)
		}

		// Run returns while a probe hangs.
		hang2 := make(chan struct{})
		p.mu.Lock()
		p.results = []ckResult{{hang: hang2}}
		p.mu.Unlock()
		ckAt(start, 7500*time.Millisecond) // the 7s probe hangs
		returned := make(chan struct{})
		go func() {
			stop()
			close(returned)
		}()
		synctest.Wait()
		select {
		case <-returned:
		default:
			t.Fatal("Run did not return while a probe hangs")
		}
		close(hang2)
	})
}

// A probe that honours ctx returns when its timeout cancels it; the late error is not
// a second failure, and the next probe starts at the next interval.
func TestCheckerTimeoutCancelsProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := &ckProber{results: []ckResult{{ctx: true}, {ctx: true}, ckPass("ok")}}
		c, stop := ckRun(t, []Check{{
			Name: "t", Interval: time.Second, Timeout: 300 * time.Millisecond, Fall: 2, Probe: p,
		}}, nil, nil)
		defer stop()

		ckAt(start, 500*time.Millisecond)
		if s := c.States()[0]; ckWord(s) != "failing" || s.Output != "timed out after 300ms" || s.Streak != 1 ||
			!s.LastRun.Equal(start.Add(300*time.Millisecond)) {
			t.Fatalf("after first timeout: %+v", s)
		}
		p.mu.Lock()
		dl, ok := p.ctxs[0].Deadline()
		ctxErr := p.ctxs[0].Err()
		p.mu.Unlock()
		if !ok || !dl.Equal(start.Add(300*time.Millisecond)) || ctxErr == nil {
			t.Fatalf("probe ctx: deadline %v (set %v), err %v", dl.Sub(start), ok, ctxErr)
		}
		ckAt(start, 1500*time.Millisecond)
		if s := c.States()[0]; s.Output != "timed out after 300ms" || s.Streak != 2 {
			t.Fatalf("after second timeout: %+v", s)
		}
		ckAt(start, 2500*time.Millisecond)
		if s := c.States()[0]; ckWord(s) != "passing" || s.Output != "ok" || s.Streak != 1 {
			t.Fatalf("after a pass (rise 1): %+v", s)
		}
	})
}

// With a timeout longer than the interval, a slow probe that returns within its
// timeout is a plain result, and the interval it overran starts the next probe as soon
// as it returns.
func TestCheckerSlowProbeWithinTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := &ckProber{results: []ckResult{{out: "slow", wait: 1500 * time.Millisecond}, ckPass("fast")}}
		c, stop := ckRun(t, []Check{{
			Name: "s", Interval: time.Second, Timeout: 3 * time.Second, Probe: p,
		}}, nil, nil)
		defer stop()

		ckAt(start, 1200*time.Millisecond)
		if s := c.States()[0]; s.Known {
			t.Fatalf("at 1.2s: %+v", s)
		}
		ckAt(start, 1700*time.Millisecond)
		s := c.States()[0]
		if ckWord(s) != "passing" || s.Output != "fast" || s.Streak != 2 || !s.LastRun.Equal(start.Add(1500*time.Millisecond)) {
			t.Fatalf("at 1.7s: %+v (LastRun %v)", s, s.LastRun.Sub(start))
		}
		if calls, maxRun := p.stats(); calls != 2 || maxRun != 1 {
			t.Fatalf("probes started %d, at most %d at once; want 2 and 1", calls, maxRun)
		}
		ckAt(start, 2200*time.Millisecond)
		if calls, _ := p.stats(); calls != 3 {
			t.Fatalf("probes by 2.2s: %d, want 3 (0s, 1.5s, 2s)", calls)
		}
	})
}

func TestCheckerPanickingProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		p := &ckProber{results: []ckResult{{boom: true}, ckPass("ok")}}
		c, stop := ckRun(t, []Check{{Name: "p", Interval: time.Second, Probe: p}}, nil, nil)
		defer stop()
		ckAt(start, 500*time.Millisecond)
		if s := c.States()[0]; ckWord(s) != "failing" || s.Output != "election: probe: panicked: boom" {
			t.Fatalf("after the panic: %+v", s)
		}
		ckAt(start, 1500*time.Millisecond)
		if s := c.States()[0]; ckWord(s) != "passing" {
			t.Fatalf("after the next probe: %+v", s)
		}
	})
}

func TestCheckerNilProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, stop := ckRun(t, []Check{{Name: "n"}}, nil, nil)
		defer stop()
		if s := c.States()[0]; ckWord(s) != "failing" || s.Output != "election: probe: no prober configured" {
			t.Fatalf("%+v", s)
		}
	})
}

// Checks run independently: a hung one does not hold up another.
func TestCheckerChecksIndependent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		hang := make(chan struct{})
		defer close(hang)
		a := &ckProber{results: []ckResult{{hang: hang}}}
		b := &ckProber{results: []ckResult{ckPass("b")}}
		c, stop := ckRun(t, []Check{
			{Name: "a", Interval: time.Second, Probe: a},
			{Name: "b", Interval: 250 * time.Millisecond, Probe: b},
		}, nil, nil)
		defer stop()
		ckAt(start, 2100*time.Millisecond)
		st := c.States()
		if st[0].Name != "a" || st[1].Name != "b" {
			t.Fatalf("order: %s, %s", st[0].Name, st[1].Name)
		}
		if ckWord(st[0]) != "failing" || ckWord(st[1]) != "passing" {
			t.Fatalf("a %s, b %s", ckWord(st[0]), ckWord(st[1]))
		}
		if calls, _ := b.stats(); calls != 9 {
			t.Fatalf("b probed %d times by 2.1s, want 9", calls)
		}
	})
}

func TestCheckerOutputOneLineBounded(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes
	tests := []struct {
		name string
		r    ckResult
		want string
	}{
		{"trimmed one line", ckPass("  line one\nline two\t \n"), "line one line two"},
		{"cut at a rune boundary", ckPass(long), strings.Repeat("é", 100)},
		{"cut inside a rune", ckPass("x" + long), "x" + strings.Repeat("é", 99)},
		{"invalid UTF-8", ckPass("a\xffb"), "a\uFFFDb"},
		{"error text", ckResult{out: "ignored", err: errors.New("dial tcp: refused")}, "dial tcp: refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, stop := ckRun(t, []Check{{Name: "o", Probe: &ckProber{results: []ckResult{tt.r}}}}, nil, nil)
				defer stop()
				got := c.States()[0].Output
				if got != tt.want {
					t.Fatalf("output %q, want %q", got, tt.want)
				}
				if len(got) > maxOutput {
					t.Fatalf("output %d bytes", len(got))
				}
			})
		})
	}
}

// Output changes alone are visible in States without a wake-up.
func TestCheckerOutputChangeNoWake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var changes atomic.Int32
		p := &ckProber{results: []ckResult{ckPass("2/3 up"), ckPass("3/3 up")}}
		c, stop := ckRun(t, []Check{{Name: "o", Interval: time.Second, Probe: p}}, nil, func() { changes.Add(1) })
		defer stop()
		ckAt(start, 1500*time.Millisecond)
		if s := c.States()[0]; s.Output != "3/3 up" || changes.Load() != 1 {
			t.Fatalf("output %q, %d wake-ups", s.Output, changes.Load())
		}
	})
}

func TestCheckerStatesAreCopies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, stop := ckRun(t, []Check{{Name: "x", Probe: &ckProber{results: []ckResult{ckPass("ok")}}}}, nil, nil)
		defer stop()
		st := c.States()
		st[0].Name, st[0].Passing = "changed", false
		if s := c.States()[0]; s.Name != "x" || !s.Passing {
			t.Fatalf("States shares memory: %+v", s)
		}
	})
}

func TestCheckerLogsChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var buf ckLogBuffer
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			},
		}))
		p := &ckProber{results: []ckResult{ckPass("ok"), ckFail("refused"), ckFail("refused")}}
		_, stop := ckRun(t, []Check{{Name: "web", Type: "http", Interval: time.Second, Fall: 2, Probe: p}}, logger, nil)
		ckAt(start, 2500*time.Millisecond)
		stop()
		want := "level=INFO msg=\"check passing\" check=web type=http output=ok after=1\n" +
			"level=INFO msg=\"check failing\" check=web type=http output=refused after=2\n"
		if got := buf.String(); got != want {
			t.Fatalf("log:\n%s\nwant:\n%s", got, want)
		}
	})
}

// The runner reads time from the injected clock, not from the time package.
func TestCheckerUsesInjectedClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := ckOffsetClock{offset: 1000 * time.Hour}
		c := NewChecker([]Check{{Name: "c", Interval: time.Second, Probe: &ckProber{results: []ckResult{ckPass("ok")}}}}, clock, nil, nil)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go c.Run(ctx)
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		s := c.States()[0]
		if want := clock.Now().Add(-500 * time.Millisecond); !s.LastRun.Equal(want) {
			t.Fatalf("LastRun %v, want %v", s.LastRun, want)
		}
		if s.Streak != 2 {
			t.Fatalf("streak %d, want 2 (probes at 0s and 1s on the injected clock)", s.Streak)
		}
	})
}

func TestCheckerNoChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewChecker(nil, nil, nil, nil)
		if len(c.States()) != 0 {
			t.Fatal("states without checks")
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			c.Run(ctx)
			close(done)
		}()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("Run returned before ctx ended")
		default:
		}
		cancel()
		<-done
	})
}

// ckOffsetClock is SystemClock shifted by offset.
type ckOffsetClock struct{ offset time.Duration }

func (c ckOffsetClock) Now() time.Time                         { return time.Now().Add(c.offset) }
func (c ckOffsetClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// ckLogBuffer is a bytes.Buffer safe for concurrent use by a logger.
type ckLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *ckLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *ckLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
