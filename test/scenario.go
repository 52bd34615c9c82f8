package test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Failover is what MeasureUnplug observed.
type Failover struct {
	Old, New      string        // holder before, node that answered first afterwards
	Gap           time.Duration // client-visible gap: longest interval between successful completions
	ServedAfter   time.Duration // from the unplug to the first success of a survivor
	ClaimedAfter  time.Duration // from the unplug to the first sample with a survivor holding the VIP
	Requests      int
	Failures      int
	MaxHolders    int // over all nodes, the unplugged one included
	MultiSamples  int // sampler rounds with two or more holders
	MultiDuration time.Duration
	Stale         []Announcement // announcements from a node that did not hold the VIP
	Probe         ProbeSummary
	Holders       HolderSummary
	Others        []VIPFigures // the other VIPs probed through the fault (Measurement.Others)

	Unplugged time.Time
	Sampler   *Sampler       // stopped; for further checks
	Prober    *Probe         // stopped
	Watch     *AnnounceWatch // stopped
}

func (f Failover) String() string {
	return fmt.Sprintf("%s → %s: gap %v, claimed %v and served %v after the fault, %d/%d requests failed, max holders %d, %d two-holder samples, %d stale announcements",
		f.Old, f.New, f.Gap.Round(time.Millisecond), f.ClaimedAfter.Round(time.Millisecond), f.ServedAfter.Round(time.Millisecond),
		f.Failures, f.Requests, f.MaxHolders, f.MultiSamples, len(f.Stale))
}

// OthersFailed sums the failed requests and the requests of the other VIPs' probes.
func (f Failover) OthersFailed() (failures, requests int) {
	for _, o := range f.Others {
		failures += o.Probe.Failures
		requests += o.Probe.Requests
	}
	return failures, requests
}

// OthersMaxHolders is the most nodes that had one of the other VIPs at once.
func (f Failover) OthersMaxHolders() int {
	n := 0
	for _, o := range f.Others {
		n = max(n, o.Holders.MaxHolders)
	}
	return n
}

// OthersMultiDuration is the time with two holders of one of the other VIPs, summed
// over them.
func (f Failover) OthersMultiDuration() time.Duration {
	var d time.Duration
	for _, o := range f.Others {
		d += o.Holders.MultiDuration
	}
	return d
}

// MeasureUnplug measures a crash failover (TestUnplugHolder, test/figures, test/demo):
// with the probe and the sampler running (1 s of baseline), it unplugs holder, waits
// for a survivor to answer through the IPv4 VIP (at most serveTimeout), keeps watching
// for settle, then stops both and measures. The unplugged node stays unplugged.
func (l *Lab) MeasureUnplug(ctx context.Context, holder *Node, serveTimeout, settle time.Duration) (Failover, error) {
	return l.MeasureFault(ctx, holder, func() error { return l.Unplug(holder) }, serveTimeout, settle)
}

// MeasureTerm measures a planned move by SIGTERM to the holder's agent, which must
// exit 0 (TestTermHolder checks the same move).
func (l *Lab) MeasureTerm(ctx context.Context, holder *Node, serveTimeout, settle time.Duration) (Failover, error) {
	return l.MeasureFault(ctx, holder, func() error {
		code, err := l.Term(holder, 15*time.Second)
		if err == nil && code != 0 {
			err = fmt.Errorf("agent on %s exited %d after SIGTERM, want 0", holder.Name, code)
		}
		return err
	}, serveTimeout, settle)
}

// MeasureFault runs fault against holder with the probe, the sampler and the
// announcement watch running, and measures the move to another node.
func (l *Lab) MeasureFault(ctx context.Context, holder *Node, fault func() error, serveTimeout, settle time.Duration) (Failover, error) {
	return l.MeasureFaultObserve(ctx, holder, fault, serveTimeout, settle, 0)
}

// MeasureFaultObserve is MeasureFault that keeps watching until at least observe after
// the fault, however soon another node answered: long enough for an overlap that ends
// by itself (the VIP of a killed agent, at the end of its lifetime) to be seen ending.
func (l *Lab) MeasureFaultObserve(ctx context.Context, holder *Node, fault func() error, serveTimeout, settle, observe time.Duration) (Failover, error) {
	return l.MeasureFaultWith(ctx, holder, fault, Measurement{ServeTimeout: serveTimeout, Settle: settle, Observe: observe})
}

// Measurement says what MeasureFaultWith measures and how long it watches.
type Measurement struct {
	// VIP is the VIP whose clients the figures follow; zero: the lab's VIP4.
	VIP netip.Addr
	// Others are more VIPs, each with a probe of its own: groups the fault should leave
	// alone. Their figures are in Failover.Others.
	Others []netip.Addr
	// Stay says the fault should not move VIP (it hits a node that does not hold it):
	// watch for Observe (at least Settle) after the fault without waiting for another
	// node to answer, and report the failures and the longest gap.
	Stay bool

	ServeTimeout time.Duration // give up when no other node answers within this
	Settle       time.Duration // keep watching this long after the first answer from another node
	Observe      time.Duration // and at least this long after the fault
}

// VIPFigures is what a VIP's probe and the sampler saw over a measurement.
type VIPFigures struct {
	VIP     netip.Addr
	Probe   ProbeSummary
	Holders HolderSummary
}

// MeasureFaultWith runs fault against target with the probes (one per VIP of m), the
// sampler and the announcement watch running, and measures, for m.VIP, the move to
// another node (or, with m.Stay, that the VIP stayed where it was). Old is target.
func (l *Lab) MeasureFaultWith(ctx context.Context, target *Node, fault func() error, m Measurement) (Failover, error) {
	f := Failover{Old: target.Name}
	vip := m.VIP
	if !vip.IsValid() {
		vip = l.VIP4.Addr()
	}
	w, err := l.StartAnnounceWatch()
	if err != nil {
		return f, err
	}
	defer w.Stop()
	smp, err := l.StartSampler()
	if err != nil {
		return f, err
	}
	defer smp.Stop()
	pr, err := l.StartProbe(vip)
	if err != nil {
		return f, err
	}
	defer pr.Stop()
	others := make([]*Probe, 0, len(m.Others))
	for _, v := range m.Others {
		p, err := l.StartProbe(v)
		if err != nil {
			return f, err
		}
		defer p.Stop()
		others = append(others, p)
	}

	t0 := time.Now()
	for _, p := range append([]*Probe{pr}, others...) {
		if _, err := p.WaitForContext(ctx, 5*time.Second, func(r Result) bool { return r.OK }); err != nil {
			return f, fmt.Errorf("baseline of %s: %w", p.Target, err)
		}
	}
	if err := SleepCtx(ctx, time.Second-time.Since(t0)); err != nil {
		return f, err
	}
	unplug := time.Now()
	if err := fault(); err != nil {
		return f, err
	}
	answeredElsewhere := func(r Result) bool { return r.OK && r.Start.After(unplug) && r.Node != target.Name }
	if m.Stay {
		if err := SleepCtx(ctx, max(m.Settle, m.Observe)-time.Since(unplug)); err != nil {
			return f, err
		}
	} else {
		if _, err := pr.WaitForContext(ctx, m.ServeTimeout, answeredElsewhere); err != nil {
			return f, fmt.Errorf("after the fault on %s: %w", target.Name, err)
		}
		if err := SleepCtx(ctx, max(m.Settle, m.Observe-time.Since(unplug))); err != nil {
			return f, err
		}
	}
	pr.Stop()
	for _, p := range others {
		p.Stop()
	}
	smp.Stop()
	w.Stop()
	f.Unplugged, f.Sampler, f.Prober, f.Watch = unplug, smp, pr, w
	f.Stale = l.StaleAnnouncements(smp, w, 100*time.Millisecond)

	from := unplug.Add(-500 * time.Millisecond)
	f.Probe = pr.Summary(from, time.Time{})
	f.Holders = smp.Summary(vip, Filter{})
	if first, ok := pr.FirstSuccessAfter(unplug, target.Name); ok {
		f.New = first.Node
		f.ServedAfter = first.End.Sub(unplug)
	}
	f.Gap = f.Probe.Gap
	f.Requests, f.Failures = f.Probe.Requests, f.Probe.Failures
	f.MaxHolders, f.MultiSamples, f.MultiDuration = f.Holders.MaxHolders, f.Holders.MultiSamples, f.Holders.MultiDuration
	for _, c := range f.Holders.Timeline {
		if c.At.After(unplug) && slices.ContainsFunc(c.Holders, func(n string) bool { return n != target.Name }) {
			f.ClaimedAfter = c.At.Sub(unplug)
			break
		}
	}
	for _, p := range others {
		f.Others = append(f.Others, VIPFigures{VIP: p.Target, Probe: p.Summary(from, time.Time{}), Holders: smp.Summary(p.Target, Filter{})})
	}
	return f, nil
}

// SleepCtx sleeps d unless ctx ends first, and returns ctx's error if it did.
func SleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
