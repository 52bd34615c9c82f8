package test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

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
