package test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestSoak60s is the nemesis soak for one minute: random faults on random
// nodes, never two holders outside the freeze bound, never a stuck state. SEED=<n>
// replays a seed; `make soak` runs it longer and writes docs/soak.md.
func TestSoak60s(t *testing.T) {
	var seed uint64
	if v := os.Getenv("SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SEED=%q: %v", v, err)
		}
		seed = s
	}
	opts := SoakLabOptions()
	opts.Logf = func(string, ...any) {} // the fault lines go to soak.log in the lab dir
	l := NewLab(t, opts)
	r, err := l.Soak(context.Background(), SoakOptions{
		Duration: 60 * time.Second,
		Seed:     seed,
		Progress: func(line string) { t.Log(line) },
	})
	if r != nil {
		t.Logf("seed %d (replay: SEED=%d go test -run TestSoak60s ./test/)\n%s", r.Seed, r.Seed, r.Table())
		t.Logf("faults:\n%s", r.FaultSequence())
		for _, v := range r.Violations() {
			t.Errorf("%s", v)
		}
		if !r.Pass() {
			t.Logf("evidence:\n%s", r.Evidence)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

// The checker's classification of a sample: two holders are inside the freeze bound
// only when every holder but one is exempt (frozen or killed within the bound).
func TestSoakClassify(t *testing.T) {
	for _, tc := range []struct {
		held, exempt uint64
		want         int
	}{
		{0b000, 0, overlapNone},
		{0b001, 0, overlapNone},
		{0b001, 0b001, overlapNone},
		{0b011, 0, overlapOutside},
		{0b011, 0b001, overlapInside},
		{0b011, 0b100, overlapOutside},
		{0b111, 0b001, overlapOutside},
		{0b111, 0b011, overlapInside},
	} {
		if got := classify(tc.held, tc.exempt); got != tc.want {
			t.Errorf("classify(%03b, exempt %03b) = %d, want %d", tc.held, tc.exempt, got, tc.want)
		}
	}
}

func TestSoakOverlapCounter(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var c overlapCounter
	// 0–20 ms one holder; 20–50 two, one exempt (frozen); 50–70 two, none exempt;
	// 70– one.
	samples := []struct {
		ms           int
		held, exempt uint64
	}{
		{0, 0b001, 0}, {10, 0b001, 0}, {20, 0b011, 0b001}, {30, 0b011, 0b001}, {40, 0b011, 0b001},
		{50, 0b011, 0}, {60, 0b011, 0}, {70, 0b010, 0}, {80, 0b010, 0},
	}
	for _, s := range samples {
		c.add(at(s.ms), s.held, s.exempt)
	}
	c.finish()
	if c.inside != 30*time.Millisecond || c.outside != 20*time.Millisecond {
		t.Errorf("inside %v outside %v, want 30ms and 20ms", c.inside, c.outside)
	}
	if len(c.insideIvs) != 1 || len(c.outsideIvs) != 1 {
		t.Fatalf("intervals inside %v outside %v, want one each", c.insideIvs, c.outsideIvs)
	}
	if iv := c.outsideIvs[0]; !iv.Start.Equal(at(50)) || !iv.End.Equal(at(70)) {
		t.Errorf("outside interval %v–%v, want +50ms–+70ms", iv.Start.Sub(t0), iv.End.Sub(t0))
	}
	if c.maxHolders != 2 {
		t.Errorf("max holders %d, want 2", c.maxHolders)
	}
}

// An outage is a stretch without a success longer than OutageGap or with failed
// requests in it; each is charged to the latest event before it, and the event's
// recovery runs to the first success after it.
func TestSoakOutages(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	req := func(start, end int, ok bool) Result { return Result{Start: at(start), End: at(end), OK: ok} }
	rs := []Result{
		req(0, 1, true), req(10, 11, true),
		req(20, 3020, false), req(30, 31, false), req(40, 41, false), // outage 1: failures
		req(50, 52, true), req(60, 61, true), req(70, 71, true),
		req(80, 400, true), req(90, 401, true), // outage 2: slow, no failure (a SYN retransmitted)
		req(410, 411, true), req(420, 460, true), // 40 ms: no outage
	}
	for ms := 470; ms < 2000; ms += 10 {
		rs = append(rs, req(ms, ms+1, true))
	}
	rs = append(rs, req(2000, 2001, false)) // outage 3, never over
	outs := Outages(rs, t0, at(5000))
	if len(outs) != 3 {
		t.Fatalf("outages %+v, want 3", outs)
	}
	if o := outs[0]; o.Failures != 3 || !o.LastOK.Equal(at(11)) || !o.ServedAgain.Equal(at(52)) {
		t.Errorf("outage 1 = %+v", o)
	}
	if o := outs[1]; o.Failures != 0 || !o.LastOK.Equal(at(71)) || !o.ServedAgain.Equal(at(400)) {
		t.Errorf("outage 2 = %+v", o)
	}
	if o := outs[2]; o.Failures != 1 || !o.LastOK.Equal(at(1991)) || !o.ServedAgain.IsZero() {
		t.Errorf("outage 3 = %+v", o)
	}
	inject := &soakEvent{f: &SoakFault{Kind: FaultUnplug}, at: at(25)} // after the last success: it caused outage 1
	slow := &soakEvent{f: &SoakFault{Kind: FaultFreeze}, at: at(100)}  // 29 ms after the last success of outage 2
	heal := &soakEvent{f: &SoakFault{Kind: FaultUnplug}, heal: true, at: at(1000)}
	before := chargeOutages([]*soakEvent{heal, slow, inject}, outs, at(5000))
	if len(before) != 0 {
		t.Errorf("outages before the first event: %+v", before)
	}
	if !inject.outage || inject.recovery != 27*time.Millisecond || inject.open {
		t.Errorf("inject: outage %v recovery %v open %v, want 27ms", inject.outage, inject.recovery, inject.open)
	}
	if !slow.outage || slow.recovery != 300*time.Millisecond || slow.gap != 300*time.Millisecond {
		t.Errorf("freeze: outage %v recovery %v gap %v, want 300ms", slow.outage, slow.recovery, slow.gap)
	}
	// Outage 3 began 991 ms after the heal: recovery from the heal, gap from the last success.
	if !heal.outage || !heal.open || heal.recovery != 4*time.Second || heal.gap != 3009*time.Millisecond {
		t.Errorf("heal: outage %v recovery %v gap %v open %v, want open, recovery 4s, gap 3.009s", heal.outage, heal.recovery, heal.gap, heal.open)
	}
}
