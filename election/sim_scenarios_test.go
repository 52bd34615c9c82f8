package election

import (
	"strings"
	"testing"
	"time"
)

// The four overlaps a model check found in a first draft of DESIGN §9.3, replayed as
// fixed scenarios (times as there, shifted by scriptT0, when the first holder holds). Each
// passes with the protocol's rules, and finds two holders with the one rule that
// closes it broken.

// newScriptWorld makes a scripted run: nodes named as given, voters among them (the
// others start with empty logs, outside the configuration), leader campaigning first,
// one group g1, every lease 120 ms unless leases says otherwise.
func newScriptWorld(names, voters []string, leader string, leases map[string]time.Duration, mut mutations) *simWorld {
	w := &simWorld{o: simOptions{Duration: 3 * time.Second, Script: true, Leader: leader, Mut: mut, MaxDelay: time.Millisecond},
		nodes: map[string]*simNode{}, cut: map[[2]string]bool{}, holders: map[string]map[string]simTime{"g1": {}},
		groups: []string{"g1"}}
	w.rng = newSimWorld(simOptions{Seed: 1, Groups: 1}).rng
	for _, name := range names {
		var v []string
		for _, x := range voters {
			if x == name {
				v = voters
			}
		}
		n := w.addNode(name, v)
		n.rate, n.offset = 1, 0
		if l, ok := leases[name]; ok {
			n.lease = l
		}
		n.delta, n.removal = n.lease/4, n.lease/8
		if mut.ZeroDelta {
			n.delta = 0
		}
	}
	return w
}

// scriptT0 is when a scenario's first holder holds g1, assigned at 50 ms.
const scriptT0 = 300 * time.Millisecond

func (w *simWorld) script(at time.Duration, fn func()) { w.at(at, fn) }

// heldBy reports whether node held g1 at any time during the run.
func heldBy(w *simWorld, node string) bool {
	for _, line := range w.trace {
		if strings.HasSuffix(line, " "+node+" holds g1") {
			return true
		}
	}
	return false
}

// 1. A holder two configurations behind: A keeps a link to B only; D and E join
// without A knowing; g moves to D. A and B still vouch for A's assignment, but B
// reports a newer configuration: no majority of one configuration backs A.
func scenarioTwoConfigsBehind(mut mutations) *simWorld {
	w := newScriptWorld([]string{"A", "B", "C", "D", "E"}, []string{"A", "B", "C"}, "C", nil, mut)
	c := func() *simNode { return w.nodes["C"] }
	w.script(50*time.Millisecond, func() { c().assignTo("g1", "A") })
	w.script(scriptT0, func() {
		for _, x := range []string{"C", "D", "E"} {
			w.link("A", x, false)
		}
	})
	w.script(scriptT0+10*time.Millisecond, func() { c().addVoter("D") })
	w.script(scriptT0+50*time.Millisecond, func() {
		for _, x := range []string{"C", "D", "E"} {
			w.link("B", x, false)
		}
	})
	w.script(scriptT0+60*time.Millisecond, func() { c().addVoter("E") })
	w.script(scriptT0+100*time.Millisecond, func() { c().assignTo("g1", "D") })
	return w
}

// 2. A release by an assignee that never held: A is cut from the leader; g goes to B,
// which goes FAULT while it waits and releases (held: false); g goes to C. Only a held
// release saves the wait, so C still waits out A's lease.
func scenarioUnheldRelease(mut mutations) *simWorld {
	w := newScriptWorld([]string{"A", "B", "C"}, []string{"A", "B", "C"}, "C", nil, mut)
	c := func() *simNode { return w.nodes["C"] }
	w.script(50*time.Millisecond, func() { c().assignTo("g1", "A") })
	w.script(scriptT0, func() { w.link("A", "C", false) })
	w.script(scriptT0+50*time.Millisecond, func() { c().assignTo("g1", "B") })
	w.script(scriptT0+70*time.Millisecond, func() { w.nodes["B"].setFault(true) })
	w.script(scriptT0+85*time.Millisecond, func() { c().assignTo("g1", "C") })
	return w
}

// 3. Different lease lengths in a chain: D (L = 500 ms) holds and is cut off; g goes
// to E, which waits for D's lease and crashes; g goes to C. C owes the longest lease
// of the chain, D's, not only E's.
func scenarioLeaseChain(mut mutations) *simWorld {
	w := newScriptWorld([]string{"A", "B", "C", "D", "E"}, []string{"A", "B", "C", "D", "E"}, "C",
		map[string]time.Duration{"D": 500 * time.Millisecond}, mut)
	c := func() *simNode { return w.nodes["C"] }
	w.script(50*time.Millisecond, func() { c().assignTo("g1", "D") })
	w.script(scriptT0, func() { w.isolate("D") })
	w.script(scriptT0+50*time.Millisecond, func() { c().assignTo("g1", "E") })
	w.script(scriptT0+100*time.Millisecond, func() { w.nodes["E"].crash() })
	w.script(scriptT0+150*time.Millisecond, func() { c().assignTo("g1", "C") })
	return w
}

// 4. A restart after a release: D lets g go (held) and its release travels slowly; D
// crashes and restarts before the release commits, finds its own assignment in its
// log, and then hears no more from the leader. A restarted node holds nothing until it is assigned again: the assignment
// names its earlier incarnation.
func scenarioRestartAfterRelease(mut mutations) *simWorld {
	w := newScriptWorld([]string{"C", "D", "E"}, []string{"C", "D", "E"}, "C", nil, mut)
	c := func() *simNode { return w.nodes["C"] }
	w.o.delay = func(from, _ string, msg any) (simTime, bool) {
		if _, ok := msg.(releaseMsg); ok && from == "D" {
			return 70 * time.Millisecond, true
		}
		return 0, false
	}
	w.script(50*time.Millisecond, func() { c().assignTo("g1", "D") })
	w.script(scriptT0, func() { w.nodes["D"].setFault(true) })
	w.script(scriptT0+20*time.Millisecond, func() { w.nodes["D"].crash() })
	w.script(scriptT0+25*time.Millisecond, func() { w.nodes["D"].restart() })
	// Once D has learned the commit index again, the leader's appends stop reaching
	// it: D does not see the release in its own log.
	w.script(scriptT0+40*time.Millisecond, func() { w.cut[[2]string{"C", "D"}] = true })
	w.script(scriptT0+100*time.Millisecond, func() { c().assignTo("g1", "E") })
	return w
}

// 5. A non-voter does not count: A is cut off from the other voters but still reaches
// N, a non-voter that hears nothing else. The group moves to B; A and N are not a
// majority of anything.
func scenarioNonVoterCounts(mut mutations) *simWorld {
	w := newScriptWorld([]string{"A", "B", "C", "N"}, []string{"A", "B", "C"}, "C", nil, mut)
	c := func() *simNode { return w.nodes["C"] }
	w.script(20*time.Millisecond, func() { c().addLearner("N") })
	w.script(50*time.Millisecond, func() { c().assignTo("g1", "A") })
	w.script(scriptT0, func() {
		for _, x := range []string{"B", "C"} {
			w.link("A", x, false)
			w.link("N", x, false)
		}
	})
	w.script(scriptT0+50*time.Millisecond, func() { c().assignTo("g1", "B") })
	return w
}

// 6. δ covers clock-rate drift: A (L = 500 ms) runs 5 % slow, so its lease lasts 526 ms
// of real time; it is cut off right after a renewal round's acknowledgements, and the
// group moves to B.
// B must wait L + δ, not L alone.
func scenarioSlowClock(mut mutations) *simWorld {
	w := newScriptWorld([]string{"A", "B", "C"}, []string{"A", "B", "C"}, "C",
		map[string]time.Duration{"A": 500 * time.Millisecond}, mut)
	w.nodes["A"].rate = 0.95
	c := func() *simNode { return w.nodes["C"] }
	w.script(50*time.Millisecond, func() { c().assignTo("g1", "A") })
	w.script(scriptT0, func() {
		w.onRound = func(n *simNode) {
			if n.name != "A" {
				return
			}
			w.onRound = nil
			w.after(3*time.Millisecond, func() { w.isolate("A") }) // once this round's acks are in
			w.after(4*time.Millisecond, func() { c().assignTo("g1", "B") })
		}
	})
	return w
}

func TestSimulationScenarios(t *testing.T) {
	for _, tc := range []struct {
		name    string
		run     func(mutations) *simWorld
		first   string    // holds g1 at scriptT0
		next    string    // holds it in the end
		breakIt mutations // the rule that closes the case, broken
	}{
		{"two configurations behind", scenarioTwoConfigsBehind, "A", "D", mutations{IgnoreConfig: true}},
		{"release by an assignee that never held", scenarioUnheldRelease, "A", "C", mutations{HonourUnheld: true}},
		{"different lease lengths in a chain", scenarioLeaseChain, "D", "C", mutations{LastLeaseOnlyWait: true}},
		{"restart after a release", scenarioRestartAfterRelease, "D", "E", mutations{OldIncarnation: true}},
		{"a non-voter does not count", scenarioNonVoterCounts, "A", "B", mutations{CountNonVoters: true}},
		{"δ covers a slow clock", scenarioSlowClock, "A", "B", mutations{ZeroDelta: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.run(mutations{})
			w.run()
			if len(w.violations) > 0 {
				t.Fatalf("two holders with every rule in place: %s\n%s", w.violations[0], strings.Join(w.trace, "\n"))
			}
			if !heldBy(w, tc.first) || !heldBy(w, tc.next) {
				t.Fatalf("the scenario did not play out: %s held %v, %s held %v\n%s",
					tc.first, heldBy(w, tc.first), tc.next, heldBy(w, tc.next), strings.Join(w.trace, "\n"))
			}
			broken := tc.run(tc.breakIt)
			broken.run()
			if len(broken.violations) == 0 {
				t.Errorf("with %s: no two holders\n%s", tc.breakIt, strings.Join(broken.trace, "\n"))
			} else {
				t.Logf("with %s: %s", tc.breakIt, broken.violations[0])
			}
		})
	}
}
