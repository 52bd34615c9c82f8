package cluster

import (
	"slices"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster/config"
)

// witnessLB3 makes lb3 of a lab a witness: a voter with no VIP, no checks, no VRRP.
func witnessLB3(c *config.Config) {
	if c.Node.Name != "lb3" {
		return
	}
	c.Node.Role = config.RoleWitness
	c.Groups, c.VIP, c.Checks = nil, config.VIPConfig{}, nil
}

// stays checks for d that the holders of g stay exactly want.
func (l *lab) stays(g string, want []string, d time.Duration) {
	l.t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if got := l.vips.holders(g); !slices.Equal(got, want) {
			l.t.Fatalf("holders of %s: %v, want %v", g, got, want)
		}
	}
}

// Two load balancers and a witness: the witness leads and places the group by the
// load balancers' copies of it, and the pair survives a cut link between the load
// balancers and the loss of the witness without a move.
func TestNodeWitnessPair(t *testing.T) {
	l := newLab(t, 3, witnessLB3)
	l.startAll()
	h := l.holder("vip", 15*time.Second)
	if h == "lb3" {
		t.Fatal("the witness holds the group")
	}
	standby := map[string]string{"lb1": "lb2", "lb2": "lb1"}[h]
	waitUntil(t, "the witness leads", func() bool { return l.leader(5*time.Second) == "lb3" })

	st := l.node("lb3").Status()
	if st.NodeRole != config.RoleWitness || st.Eligible || st.Ineligible != IneligibleWitness {
		t.Errorf("witness status: role %q, eligible %v (%q)", st.NodeRole, st.Eligible, st.Ineligible)
	}
	if len(st.Groups) != 1 || st.Groups[0].Name != "vip" || st.Groups[0].Holder != h || st.Groups[0].Holding {
		t.Errorf("witness status of the groups: %+v, want vip held by %s", st.Groups, h)
	}
	waitUntil(t, "the holder sees the roles", func() bool {
		roles := map[string]string{}
		for _, m := range l.node(h).Status().Members {
			roles[m.Name] = m.NodeRole
		}
		return roles["lb1"] == "lb" && roles["lb2"] == "lb" && roles["lb3"] == "witness"
	})
	if g := l.node(h).Status().Groups[0]; !g.Holding || len(g.Differs) > 0 {
		t.Errorf("the holder's group under a witness leader: holding %v, differs %v", g.Holding, g.Differs)
	}

	// A cut link between the load balancers: the witness still hears both, so the
	// holder keeps its lease (the witness vouches for it) and nothing moves.
	l.net.block(labAddr(1), labAddr(2))
	l.stays("vip", []string{h}, 2*time.Second)
	l.net.heal()
	// The load balancers' lease connections to each other come back within a
	// renewal period or two; losing the witness before that would be a double fault.
	l.stays("vip", []string{h}, 500*time.Millisecond)
	if got := l.history(h, "vip"); !slices.Equal(got, []string{"assign " + h}) {
		t.Errorf("ownership history %q after the cut link, want one assignment to %s", got, h)
	}

	// The witness dies: the holder keeps serving, and the standby load balancer leads.
	l.crash("lb3")
	l.stays("vip", []string{h}, time.Second)
	waitUntil(t, "the standby load balancer leads", func() bool { return l.leader(5*time.Second) == standby })
	l.stays("vip", []string{h}, time.Second)
}

// The witness leads; the holder dies: the other load balancer holds once its wait is
// out, placed by the witness.
func TestNodeWitnessPlacesAfterACrash(t *testing.T) {
	l := newLab(t, 3, witnessLB3)
	l.startAll()
	h := l.holder("vip", 15*time.Second)
	waitUntil(t, "the witness leads", func() bool { return l.leader(5*time.Second) == "lb3" })
	l.crash(h)
	next := l.holder("vip", 10*time.Second, h)
	if next == "lb3" {
		t.Fatal("the witness holds the group")
	}
	if got := l.history(next, "vip"); len(got) != 2 || got[1] != "assign "+next {
		t.Errorf("ownership history %q, want the witness to assign %s", got, next)
	}
	// A transfer asked of the witness: it names no group and moves the only one.
	if _, err := l.node("lb3").Transfer(t.Context(), "", h); err == nil {
		t.Errorf("transfer to the dead %s succeeded", h)
	}
}
