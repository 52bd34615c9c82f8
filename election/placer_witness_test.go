package election

import (
	"testing"
	"time"
)

// A leader with no groups of its own (a witness) places the groups the other nodes
// report, by their copies of the group's policy.

// hearCopy delivers node's renewal with priority prio for g and its copy of g's
// policy with the given digest; a witness reports no copy.
func (r *plRig) hearCopy(node string, prio int, digest string, witness bool) {
	st := Standing{Lease: 2 * time.Second, Delta: 200 * time.Millisecond, Witness: witness}
	if !witness {
		p := r.policy
		p.Digest = digest
		st.Priority = map[string]int{"g": prio}
		st.Digest = map[string]string{"g": digest}
		st.Policy = map[string]GroupPolicy{"g": p}
	} else {
		st.Ineligible = "witness"
	}
	r.p.Heard(Renewal{Version: ProtocolVersion, Node: node, Incarnation: node + "#1", Standing: st})
}

func TestPlacerWithoutGroupsPlacesByTheReportedCopies(t *testing.T) {
	r := newPlacerRig(t, GroupPolicy{Lifetime: 3 * time.Second, Strict: true}, 0, "A", "B", "W")
	r.p.cfg.Groups = nil // this leader is a witness
	r.hearCopy("W", 0, "", true)
	r.hearCopy("A", 100, "d1", false)
	r.hearCopy("B", 150, "d1", false)
	r.at(time.Second)
	got := r.pass()
	if len(got) != 1 || got[0].g != "g" || got[0].a.Node != "B" {
		t.Fatalf("assignments %+v, want g to B", got)
	}
	if a := got[0].a; a.Lifetime != 3*time.Second || !a.Strict || a.Lease != 2*time.Second {
		t.Errorf("assignment %+v does not carry the group's settings from the reported copy", a)
	}
	if ps := r.p.Policies(); len(ps) != 1 || ps[0].Name != "g" || ps[0].Digest != "d1" {
		t.Errorf("Policies = %+v, want g with digest d1", ps)
	}
}

func TestChoosePolicy(t *testing.T) {
	copyOf := func(node, digest string, holds bool) reportedPolicy {
		return reportedPolicy{node: node, policy: GroupPolicy{Name: "g", Digest: digest}, holds: holds}
	}
	for _, tc := range []struct {
		name   string
		copies []reportedPolicy
		want   string
	}{
		{"one copy", []reportedPolicy{copyOf("A", "d1", false)}, "d1"},
		{"the holder's copy wins", []reportedPolicy{copyOf("A", "d1", true), copyOf("B", "d2", false), copyOf("C", "d2", false)}, "d1"},
		{"unheld: most nodes' copy", []reportedPolicy{copyOf("A", "d1", false), copyOf("B", "d2", false), copyOf("C", "d2", false)}, "d2"},
		{"a tie: the first node's by name", []reportedPolicy{copyOf("B", "d2", false), copyOf("A", "d1", false)}, "d1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := choosePolicy(tc.copies); got.Digest != tc.want {
				t.Errorf("chose %s, want %s", got.Digest, tc.want)
			}
		})
	}
}

// A leader that is stopping does not place a group on itself, although its last
// renewal still says it may hold it.
func TestPlacerLeaderDoesNotPlaceOnItselfWhileStopping(t *testing.T) {
	r := newPlacerRig(t, GroupPolicy{}, 0, "A", "B")
	stopping := "stopping"
	r.p.cfg.SelfIneligible = func() string { return stopping }
	r.hear("A", 200)
	r.hear("B", 100)
	r.at(time.Second)
	if got := r.pass(); len(got) != 1 || got[0].a.Node != "B" {
		t.Fatalf("assignments %+v, want g to B: A (this node) is stopping", got)
	}
}
