package election

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// healthy is an eligible voter of priority p whose state has been steady since long ago.
func healthy(name string, p int) Member {
	return Member{Name: name, Voter: true, Known: true, Alive: true, Quorum: true, Priority: p, Since: t0.Add(-time.Hour)}
}

func with(m Member, f func(*Member)) Member { f(&m); return m }

var testPolicy = PolicyConfig{Preempt: true, Hysteresis: time.Second, MinMoveInterval: 10 * time.Second}

func TestEvaluate(t *testing.T) {
	fault := func(m *Member) { m.Fault, m.Failing = true, []string{"haproxy"} }
	drained := func(m *Member) { m.Drained = true }
	justNow := func(m *Member) { m.Since = t0.Add(-100 * time.Millisecond) }

	tests := []struct {
		name     string
		cfg      PolicyConfig
		leader   bool
		members  []Member
		lastMove time.Time
		pinned   string

		move       string
		kind       MoveKind
		preferred  string
		ineligible string
		none       string // substring of NoneEligible
		pending    string // substring of Pending
		wakeAt     time.Time
	}{
		{
			name:    "steady state: the best node leads",
			leader:  true,
			members: []Member{healthy("lb1", 150), healthy("lb2", 120), healthy("lb3", 100)},
			move:    "", preferred: "lb1",
		},
		{
			name:    "leader in FAULT moves to the best eligible voter at once",
			leader:  true,
			members: []Member{with(healthy("lb1", 150), fault), healthy("lb2", 120), healthy("lb3", 100)},
			move:    "lb2", kind: MoveHealth, preferred: "lb2", ineligible: "FAULT: check haproxy failing",
		},
		{
			name:     "a FAULT move ignores the rate limit",
			leader:   true,
			members:  []Member{with(healthy("lb1", 150), fault), healthy("lb2", 120)},
			lastMove: t0.Add(-time.Second),
			move:     "lb2", kind: MoveHealth, preferred: "lb2", ineligible: "FAULT",
		},
		{
			name:    "a FAULT move prefers a steady voter over a better flapping one",
			leader:  true,
			members: []Member{with(healthy("lb1", 150), fault), with(healthy("lb2", 140), justNow), healthy("lb3", 100)},
			move:    "lb3", kind: MoveHealth, preferred: "lb2", ineligible: "FAULT",
		},
		{
			name:    "drained leader moves",
			leader:  true,
			members: []Member{with(healthy("lb1", 150), drained), healthy("lb2", 120)},
			move:    "lb2", kind: MoveHealth, preferred: "lb2", ineligible: "drained",
		},
		{
			name:    "nobody eligible: no move, and why",
			leader:  true,
			members: []Member{with(healthy("lb1", 150), fault), with(healthy("lb2", 120), drained), with(healthy("lb3", 100), func(m *Member) { m.Quorum = false })},
			none:    "lb1: FAULT: check haproxy failing; lb2: drained; lb3: no quorum", ineligible: "FAULT",
		},
		{
			name:    "unknown and unreachable voters are not targets",
			leader:  true,
			members: []Member{with(healthy("lb1", 150), fault), with(healthy("lb2", 200), func(m *Member) { m.Known = false }), with(healthy("lb3", 200), func(m *Member) { m.Alive = false })},
			none:    "lb2: health unknown", ineligible: "FAULT",
		},
		{
			name:    "a voter the leader cannot reach by raft is not a target",
			leader:  true,
			members: []Member{with(healthy("lb1", 150), fault), with(healthy("lb2", 140), func(m *Member) { m.Unreachable = true }), healthy("lb3", 100)},
			move:    "lb3", kind: MoveHealth, preferred: "lb3", ineligible: "FAULT",
		},
		{
			name:      "a non-voter is never a target",
			leader:    true,
			members:   []Member{healthy("lb1", 100), with(healthy("lb4", 200), func(m *Member) { m.Voter = false })},
			preferred: "lb1",
		},
		{
			name:    "a better steady voter preempts",
			leader:  true,
			members: []Member{healthy("lb1", 100), healthy("lb2", 150)},
			move:    "lb2", kind: MovePriority, preferred: "lb2",
		},
		{
			name:      "equal priority never moves",
			leader:    true,
			members:   []Member{healthy("lb1", 150), healthy("lb2", 150)},
			preferred: "lb1",
		},
		{
			name:      "equal priority: this leader is not the preferred name but stays",
			leader:    true,
			members:   []Member{healthy("lb2", 150), healthy("lb1", 150)},
			preferred: "lb1",
		},
		{
			name:      "preempt off: a better voter waits",
			cfg:       PolicyConfig{Preempt: false, Hysteresis: time.Second},
			leader:    true,
			members:   []Member{healthy("lb1", 100), healthy("lb2", 150)},
			preferred: "lb2", pending: "preempt is off",
		},
		{
			name:      "a voter that just became better waits out the hysteresis",
			leader:    true,
			members:   []Member{healthy("lb1", 100), with(healthy("lb2", 150), justNow)},
			preferred: "lb2", pending: "lb2 has priority 150 > 100", wakeAt: t0.Add(900 * time.Millisecond),
		},
		{
			name:    "the leader's own drop moves at once when the target is steady",
			leader:  true,
			members: []Member{with(healthy("lb1", 100), justNow), healthy("lb2", 150)},
			move:    "lb2", kind: MovePriority,
			preferred: "lb2",
		},
		{
			name:      "preempt_delay counts from when the voter became better",
			cfg:       PolicyConfig{Preempt: true, PreemptDelay: 5 * time.Second, Hysteresis: time.Second},
			leader:    true,
			members:   []Member{with(healthy("lb1", 100), func(m *Member) { m.Since = t0.Add(-2 * time.Second) }), healthy("lb2", 150)},
			preferred: "lb2", pending: "moving at", wakeAt: t0.Add(3 * time.Second),
		},
		{
			name:      "priority moves are rate-limited",
			leader:    true,
			members:   []Member{healthy("lb1", 100), healthy("lb2", 150)},
			lastMove:  t0.Add(-4 * time.Second),
			preferred: "lb2", pending: "moving at", wakeAt: t0.Add(6 * time.Second),
		},
		{
			name:     "after the window, the move happens",
			leader:   true,
			members:  []Member{healthy("lb1", 100), healthy("lb2", 150)},
			lastMove: t0.Add(-10 * time.Second),
			move:     "lb2", kind: MovePriority, preferred: "lb2",
		},
		{
			name:      "pinned by an operator transfer: a better voter does not preempt",
			leader:    true,
			members:   []Member{healthy("lb1", 100), healthy("lb2", 150)},
			lastMove:  t0.Add(-time.Hour),
			pinned:    "lb1",
			preferred: "lb2",
			pending:   "lb2 has priority 150 > 100, but an operator transfer put the VIP on lb1; run `raftvip transfer` to move it to the preferred node",
		},
		{
			name:      "pinned: a voter that just became better does not schedule a move",
			leader:    true,
			members:   []Member{healthy("lb1", 100), with(healthy("lb2", 150), justNow)},
			pinned:    "lb1",
			preferred: "lb2", pending: "operator transfer",
		},
		{
			name:    "pinned, but in FAULT: the health move happens",
			leader:  true,
			members: []Member{with(healthy("lb1", 150), fault), healthy("lb2", 120)},
			pinned:  "lb1",
			move:    "lb2", kind: MoveHealth, preferred: "lb2", ineligible: "FAULT",
		},
		{
			name:    "pinned, but drained: the health move happens",
			leader:  true,
			members: []Member{with(healthy("lb1", 100), drained), healthy("lb2", 150)},
			pinned:  "lb1",
			move:    "lb2", kind: MoveHealth, preferred: "lb2", ineligible: "drained",
		},
		{
			name:    "pinned to another node: this leader preempts as before",
			leader:  true,
			members: []Member{healthy("lb1", 100), healthy("lb2", 150)},
			pinned:  "lb3",
			move:    "lb2", kind: MovePriority, preferred: "lb2",
		},
		{
			name:      "pinned on the best node: nothing pending",
			leader:    true,
			members:   []Member{healthy("lb1", 150), healthy("lb2", 100)},
			pinned:    "lb1",
			preferred: "lb1",
		},
		{
			name:      "pinned with preempt off: preempt is the reason",
			cfg:       PolicyConfig{Preempt: false, Hysteresis: time.Second},
			leader:    true,
			members:   []Member{healthy("lb1", 100), healthy("lb2", 150)},
			pinned:    "lb1",
			preferred: "lb2", pending: "preempt is off",
		},
		{
			name:      "a follower never moves, but knows whom the policy prefers",
			leader:    false,
			members:   []Member{with(healthy("lb1", 150), fault), healthy("lb2", 120)},
			preferred: "lb2", ineligible: "FAULT",
		},
		{
			name:      "not in the configuration at all",
			leader:    true,
			members:   []Member{healthy("lb2", 120)},
			preferred: "lb2", ineligible: "not a voter",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg == (PolicyConfig{}) {
				cfg = testPolicy
			}
			p := Evaluate(cfg, PolicyInputs{Now: t0, Self: "lb1", Leader: tt.leader, Members: tt.members, LastMove: tt.lastMove, Pinned: tt.pinned})
			if p.Move != tt.move || p.Kind != tt.kind {
				t.Errorf("move = %q (kind %d), want %q (kind %d); plan %+v", p.Move, p.Kind, tt.move, tt.kind, p)
			}
			if p.Move != "" && p.Reason == "" {
				t.Errorf("a move without a reason: %+v", p)
			}
			if p.Preferred != tt.preferred && tt.none == "" {
				t.Errorf("preferred = %q, want %q", p.Preferred, tt.preferred)
			}
			if !strings.Contains(p.Ineligible, tt.ineligible) || (tt.ineligible == "" && p.Ineligible != "") {
				t.Errorf("ineligible = %q, want %q", p.Ineligible, tt.ineligible)
			}
			if tt.none != "" && !strings.Contains(p.NoneEligible, tt.none) {
				t.Errorf("none eligible = %q, want it to contain %q", p.NoneEligible, tt.none)
			}
			if tt.none == "" && p.NoneEligible != "" {
				t.Errorf("none eligible = %q, want empty", p.NoneEligible)
			}
			if !strings.Contains(p.Pending, tt.pending) || (tt.pending == "" && p.Pending != "") {
				t.Errorf("pending = %q, want %q", p.Pending, tt.pending)
			}
			if !p.WakeAt.Equal(tt.wakeAt) {
				t.Errorf("wake at %s, want %s", p.WakeAt, tt.wakeAt)
			}
		})
	}
}

func TestRank(t *testing.T) {
	in := []Member{
		healthy("lb3", 100),
		with(healthy("lb0", 254), func(m *Member) { m.Drained = true }),
		healthy("lb2", 150),
		healthy("lb1", 150),
	}
	var got []string
	for _, m := range Rank(in) {
		got = append(got, m.Name)
	}
	if want := "lb1 lb2 lb3 lb0"; strings.Join(got, " ") != want {
		t.Errorf("rank = %v, want %s", got, want)
	}
	if in[0].Name != "lb3" {
		t.Error("Rank sorted its input in place")
	}
}

func TestBestTarget(t *testing.T) {
	fault := func(m *Member) { m.Fault = true }
	tests := []struct {
		name    string
		members []Member
		exclude string
		want    string // "" for none
	}{
		{"none known", nil, "lb1", ""},
		{"the best other than the excluded", []Member{healthy("lb1", 200), healthy("lb2", 120), healthy("lb3", 150)}, "lb1", "lb3"},
		{"the excluded is not the best", []Member{healthy("lb1", 100), healthy("lb2", 120), healthy("lb3", 150)}, "lb1", "lb3"},
		{"nothing excluded: the best", []Member{healthy("lb1", 200), healthy("lb2", 120)}, "", "lb1"},
		{"ties broken by name", []Member{healthy("lb3", 150), healthy("lb2", 150), healthy("lb1", 200)}, "lb1", "lb2"},
		{"ineligible voters are skipped", []Member{healthy("lb1", 100), with(healthy("lb2", 200), fault),
			with(healthy("lb3", 180), func(m *Member) { m.Drained = true }), healthy("lb4", 50)}, "lb1", "lb4"},
		{"non-voters are skipped", []Member{healthy("lb1", 100), with(healthy("lb2", 200), func(m *Member) { m.Voter = false })}, "lb1", ""},
		{"only the excluded is eligible", []Member{healthy("lb1", 100), with(healthy("lb2", 200), fault)}, "lb1", ""},
		{"an unknown name excludes nothing", []Member{healthy("lb1", 100), healthy("lb2", 200)}, "lb9", "lb2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := BestTarget(tt.members, tt.exclude)
			if ok != (tt.want != "") || m.Name != tt.want {
				t.Errorf("BestTarget(exclude %q) = %q, %v; want %q", tt.exclude, m.Name, ok, tt.want)
			}
			if ok && !m.Eligible() {
				t.Errorf("BestTarget returned ineligible %+v", m)
			}
		})
	}
}

func TestStamperKeepsSinceWhileSteady(t *testing.T) {
	var s stamper
	a := []Member{healthy("lb1", 100), healthy("lb2", 100)}
	got := s.stamp(t0, a)
	if !got[0].Since.Equal(t0) {
		t.Fatalf("first sight: since %s, want %s", got[0].Since, t0)
	}
	got = s.stamp(t0.Add(time.Second), a)
	if !got[0].Since.Equal(t0) || !got[1].Since.Equal(t0) {
		t.Errorf("unchanged members restamped: %s %s", got[0].Since, got[1].Since)
	}
	a[1].Priority = 50
	got = s.stamp(t0.Add(2*time.Second), a)
	if !got[0].Since.Equal(t0) || !got[1].Since.Equal(t0.Add(2*time.Second)) {
		t.Errorf("after lb2's change: %s %s", got[0].Since, got[1].Since)
	}
	a[0].Fault = true
	got = s.stamp(t0.Add(3*time.Second), a)
	if !got[0].Since.Equal(t0.Add(3 * time.Second)) {
		t.Errorf("a change of eligibility does not restamp: %s", got[0].Since)
	}
	got = s.stamp(t0.Add(4*time.Second), a[:1])
	got = s.stamp(t0.Add(5*time.Second), a)
	if !got[1].Since.Equal(t0.Add(5 * time.Second)) {
		t.Errorf("a member that went away and came back keeps its old stamp: %s", got[1].Since)
	}
}
