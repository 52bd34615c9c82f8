package election

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Member is one voter as the leadership policy sees it: what gossip (or, for this
// node, its own checks) says about its health, and what the replicated log says about
// its drain flag.
type Member struct {
	Name     string
	Voter    bool
	Known    bool // its health is known: this node, or gossip metadata has arrived
	Alive    bool // gossip reaches it
	Quorum   bool // it sees a Raft leader
	Priority int  // effective priority, 1..254
	Fault    bool // a weight-0 check fails
	Failing  []string
	Drained  bool // an operator drained it (replicated through Raft)
	Leaving  bool // raftvip leave is under way on it
	// Unreachable means the leader's Raft heartbeats to it fail (known on the leader
	// only): gossip can take seconds to notice a dead node, Raft notices at once.
	Unreachable bool

	// Since is when this node last saw Priority or eligibility change. The elector
	// stamps it; callers leave it zero.
	Since time.Time
}

// Ineligible says why c may not hold the VIP, or "" if it may.
func (c Member) Ineligible() string {
	switch {
	case !c.Voter:
		return "not a voter"
	case !c.Known:
		return "health unknown (no gossip from it yet)"
	case !c.Alive:
		return "unreachable by gossip"
	case c.Unreachable:
		return "unreachable: the leader's raft heartbeats to it fail"
	case c.Leaving:
		return "leaving the cluster"
	case c.Drained:
		return "drained"
	case c.Fault:
		if len(c.Failing) > 0 {
			return "FAULT: check " + strings.Join(c.Failing, ", ") + " failing"
		}
		return "FAULT"
	case !c.Quorum:
		return "no quorum: it sees no raft leader"
	}
	return ""
}

// Eligible reports whether c may hold the VIP.
func (c Member) Eligible() bool { return c.Ineligible() == "" }

// Rank orders candidates the way every node does: eligible ones first, then by higher
// effective priority, then by name. It returns a sorted copy.
func Rank(cs []Member) []Member {
	out := slices.Clone(cs)
	slices.SortStableFunc(out, func(a, b Member) int {
		if ea, eb := a.Eligible(), b.Eligible(); ea != eb {
			if ea {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}

// BestTarget returns the voter the VIP should go to when it has to leave exclude: the
// first eligible member other than exclude in Rank order. ok is false when there is
// none. An operator transfer without a named node and a leaving node use it.
func BestTarget(members []Member, exclude string) (m Member, ok bool) {
	for _, c := range Rank(members) {
		if !c.Eligible() {
			break
		}
		if c.Name != exclude {
			return c, true
		}
	}
	return Member{}, false
}

// PolicyConfig is the leadership policy's tuning (DESIGN §3).
type PolicyConfig struct {
	// Preempt moves the VIP to a voter of strictly higher effective priority.
	Preempt bool
	// PreemptDelay is how long a better voter must have been better before it takes over.
	PreemptDelay time.Duration
	// Hysteresis is how long a target's gossiped priority and eligibility must have been
	// steady before the VIP moves to it because of its priority.
	Hysteresis time.Duration
	// MinMoveInterval rate-limits moves for priority: at most one per interval. A change
	// of leader counts as a move. Moves away from a node in FAULT or drained are never
	// delayed, but they count.
	MinMoveInterval time.Duration
}

// MoveKind says why the policy wants a planned move.
type MoveKind int

// The kinds of move.
const (
	MoveNone     MoveKind = iota
	MoveHealth            // this node is in FAULT or drained: move now
	MovePriority          // a steady voter has a strictly higher priority: preempt, rate-limited
)

// PolicyInputs is what the policy looks at. Members includes this node.
type PolicyInputs struct {
	Now      time.Time
	Self     string
	Leader   bool // only the leader acts on a plan
	Members  []Member
	LastMove time.Time // the last planned move this node made or received
	// Pinned is the node an operator transfer pinned the VIP to ("": none), from
	// Ledger.Pinned.
	Pinned string
}

// Plan is the policy's answer.
type Plan struct {
	// Ineligible is why this node may not hold the VIP ("" if it may).
	Ineligible string
	// Preferred is the node the policy wants holding the VIP, "" if nobody is eligible.
	Preferred string
	// NoneEligible, when not empty, says why nobody may hold the VIP.
	NoneEligible string
	// Move, when not empty, is the voter a leader should hand the VIP to now.
	Move   string
	Kind   MoveKind
	Reason string
	// Pending says what a priority move is waiting for ("" when none is pending).
	Pending string
	// WakeAt is when the plan could change without any new input; zero: no deadline.
	WakeAt time.Time
}

// Evaluate is the leadership policy (DESIGN §3). It is pure.
//
//   - This node in FAULT or drained: move to the best eligible voter at once, preferring
//     one whose state has been steady for the hysteresis window.
//   - A voter of strictly higher priority, steady for the hysteresis window, better for
//     PreemptDelay, and no move within MinMoveInterval: move to it, unless Preempt is off
//     or an operator transfer pinned the VIP on this node (in.Pinned == in.Self). The
//     pin holds only while this node is eligible: it never delays a move for health.
//   - Nobody eligible: no move; NoneEligible says why, node by node.
func Evaluate(cfg PolicyConfig, in PolicyInputs) Plan {
	ranked := Rank(in.Members)
	var p Plan
	self, haveSelf := Member{}, false
	for _, c := range ranked {
		if c.Name == in.Self {
			self, haveSelf = c, true
		}
	}
	if !haveSelf {
		p.Ineligible = "not a voter"
	} else {
		p.Ineligible = self.Ineligible()
	}
	if len(ranked) == 0 || !ranked[0].Eligible() {
		p.NoneEligible = noneEligible(ranked)
		return p
	}
	best := ranked[0]
	p.Preferred = best.Name
	if !in.Leader || !haveSelf {
		return p
	}

	if p.Ineligible != "" {
		target := best
		for _, c := range ranked {
			if !c.Eligible() {
				break
			}
			if c.steady(in.Now, cfg.Hysteresis) {
				target = c
				break
			}
		}
		p.Move, p.Kind = target.Name, MoveHealth
		p.Reason = fmt.Sprintf("%s is %s; moving to %s (priority %d)", self.Name, p.Ineligible, target.Name, target.Priority)
		return p
	}
	if best.Name == self.Name || best.Priority <= self.Priority {
		return p
	}
	if !cfg.Preempt {
		p.Pending = fmt.Sprintf("%s has priority %d > %d, but preempt is off", best.Name, best.Priority, self.Priority)
		return p
	}
	if in.Pinned == self.Name {
		p.Pending = fmt.Sprintf("%s has priority %d > %d, but an operator transfer put the VIP on %s;"+
			" run `raftvip transfer` to move it to the preferred node", best.Name, best.Priority, self.Priority, self.Name)
		return p
	}
	better := later(best.Since, self.Since)
	due := later(best.Since.Add(cfg.Hysteresis), better.Add(cfg.PreemptDelay))
	if !in.LastMove.IsZero() {
		due = later(due, in.LastMove.Add(cfg.MinMoveInterval))
	}
	if in.Now.Before(due) {
		p.Pending = fmt.Sprintf("%s has priority %d > %d; moving at %s unless that changes",
			best.Name, best.Priority, self.Priority, due.Format("15:04:05.000"))
		p.WakeAt = due
		return p
	}
	p.Move, p.Kind = best.Name, MovePriority
	p.Reason = fmt.Sprintf("%s has priority %d > %d on %s", best.Name, best.Priority, self.Priority, self.Name)
	return p
}

// steady reports whether c's state has not changed for at least d.
func (c Member) steady(now time.Time, d time.Duration) bool {
	return !now.Before(c.Since.Add(d))
}

func noneEligible(ranked []Member) string {
	if len(ranked) == 0 {
		return "no eligible node: no voters known"
	}
	parts := make([]string, 0, len(ranked))
	for _, c := range slices.SortedFunc(slices.Values(ranked), func(a, b Member) int { return cmp.Compare(a.Name, b.Name) }) {
		parts = append(parts, c.Name+": "+c.Ineligible())
	}
	return "no eligible node: " + strings.Join(parts, "; ")
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// stamper records when each candidate's priority or eligibility last changed, as this
// node observed it, so the policy can tell a steady voter from a flapping one.
type stamper struct {
	seen map[string]stamp
}

type stamp struct {
	priority   int
	ineligible string
	since      time.Time
}

// stamp fills in Since for every candidate and forgets nodes that are gone.
func (s *stamper) stamp(now time.Time, cs []Member) []Member {
	next := make(map[string]stamp, len(cs))
	out := slices.Clone(cs)
	for i, c := range out {
		cur := stamp{priority: c.Priority, ineligible: c.Ineligible(), since: now}
		if prev, ok := s.seen[c.Name]; ok && prev.priority == cur.priority && prev.ineligible == cur.ineligible {
			cur.since = prev.since
		}
		next[c.Name] = cur
		out[i].Since = cur.since
	}
	s.seen = next
	return out
}
