package test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

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
