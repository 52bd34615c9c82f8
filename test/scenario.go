package test

import (
	"context"
	"fmt"
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
	f := Failover{Old: holder.Name}
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
	pr, err := l.StartProbe(l.VIP4.Addr())
	if err != nil {
		return f, err
	}
	defer pr.Stop()

	t0 := time.Now()
	if _, err := pr.WaitForContext(ctx, 5*time.Second, func(r Result) bool { return r.OK }); err != nil {
		return f, fmt.Errorf("baseline: %w", err)
	}
	if err := SleepCtx(ctx, time.Second-time.Since(t0)); err != nil {
		return f, err
	}
	unplug := time.Now()
	if err := fault(); err != nil {
		return f, err
	}
	first, err := pr.WaitForContext(ctx, serveTimeout, func(r Result) bool {
		return r.OK && r.Start.After(unplug) && r.Node != holder.Name
	})
	if err != nil {
		return f, fmt.Errorf("after the fault on %s: %w", holder.Name, err)
	}
	if err := SleepCtx(ctx, max(settle, observe-time.Since(unplug))); err != nil {
		return f, err
	}
	pr.Stop()
	smp.Stop()
	w.Stop()
	f.Unplugged, f.Sampler, f.Prober, f.Watch = unplug, smp, pr, w
	f.Stale = l.StaleAnnouncements(smp, w, 100*time.Millisecond)

	from := unplug.Add(-500 * time.Millisecond)
	f.Probe = pr.Summary(from, time.Time{})
	f.Holders = smp.Summary(l.VIP4.Addr(), Filter{})
	f.New = first.Node
	f.Gap = f.Probe.Gap
	f.ServedAfter = first.End.Sub(unplug)
	f.Requests, f.Failures = f.Probe.Requests, f.Probe.Failures
	f.MaxHolders, f.MultiSamples, f.MultiDuration = f.Holders.MaxHolders, f.Holders.MultiSamples, f.Holders.MultiDuration
	for _, c := range f.Holders.Timeline {
		if c.At.After(unplug) && slices.ContainsFunc(c.Holders, func(n string) bool { return n != holder.Name }) {
			f.ClaimedAfter = c.At.Sub(unplug)
			break
		}
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
