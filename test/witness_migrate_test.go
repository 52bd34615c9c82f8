package test

import (
	"strings"
	"testing"
	"time"
)

// Scenario 8, the runbook of docs/operations.md ("Migrate a keepalived pair"): a
// running keepalived pair, ka1 MASTER at 101 and ka2 BACKUP at 100 (VRID 51, VRRPv2,
// PASS), becomes a raftvip pair with a witness, one node at a time, with the probe
// running throughout. The raftvip nodes lb1 and lb2 stand in for the keepalived hosts
// (the lab gives each its own namespace; on real hosts they are the same machines), and
// lb3 is the witness.
//
//  1. The witness starts; alone it waits for a quorum.
//  2. keepalived stops on the backup (ka2) and raftvip starts in its place (lb2, at
//     keepalived's priority 100): with the witness it has a quorum, hears ka1 master
//     at 101 and stays VRRP backup.
//  3. lb2's priority goes to 200 (reload): the cluster preempts keepalived as a VRRP
//     router of higher priority does; ka1 goes BACKUP.
//  4. keepalived stops on ka1 and raftvip starts in its place (lb1, at 150): it joins
//     the cluster; the VIP stays on lb2 (200).
//
// At no moment may two nodes hold the VIP for longer than VRRP's own preemption takes.
func TestWitnessMigrationFromKeepalived(t *testing.T) {
	g := VRRPOptions{AuthPass: "1111"}
	l := NewLab(t, Options{Nodes: 3, Witness: true, VRRP: &g, Keepalived: 2,
		Priorities: map[string]int{"ka1": 101, "ka2": 100, "lb1": 150, "lb2": 100}})
	lb1, lb2, w, ka1, ka2 := l.Node("lb1"), l.Node("lb2"), l.Node("lb3"), l.Node("ka1"), l.Node("ka2")
	vip := l.VIP4.Addr()
	s := mustSampler(t, l)
	defer s.Stop()

	// The pair as it runs today.
	mustStartKA(t, l, ka1)
	waitKA(t, l, ka1, "MASTER", 10*time.Second)
	mustStartKA(t, l, ka2)
	waitKA(t, l, ka2, "BACKUP", 10*time.Second)
	p, err := l.StartProbe(vip)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	baseline(t, p, "ka1")
	t0 := time.Now()
	step := func(what string, from time.Time) {
		t.Helper()
		ps := p.Summary(from, time.Time{})
		t.Logf("figure migration, %s: %v", what, ps)
		if ps.Failures > 0 {
			t.Errorf("%s: %d failed requests", what, ps.Failures)
		}
	}

	// 1. The witness.
	if err := l.StartAgent(w); err != nil {
		t.Fatal(err)
	}

	// 2. raftvip in place of the backup.
	t2 := time.Now()
	if err := l.StopKeepalived(ka2, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgent(lb2); err != nil {
		t.Fatal(err)
	}
	st, err := l.WaitStatus(lb2, formTimeout, func(st Status) bool {
		return strings.HasPrefix(st.Reason, "VRRP backup") && strings.Contains(st.Reason, "master with priority 101") && st.Leader != ""
	})
	if err != nil {
		t.Fatalf("lb2 does not become the VRRP backup of ka1: %v", err)
	}
	t.Logf("step 2: lb2 with the witness, leader %s: %q", st.Leader, st.Reason)
	time.Sleep(2 * time.Second)
	step("keepalived backup replaced", t2)
	if got, err := l.Get(vip); err != nil || got != "ka1" {
		t.Errorf("after step 2 the VIP is answered by %q (%v), want ka1 still", got, err)
	}

	// 3. The cluster takes the VIP over: lb2's priority above ka1's, reloaded.
	t3 := time.Now()
	l.Options().Priorities["lb2"] = 200
	if err := l.WriteConfig(lb2, l.agentConfig(lb2)); err != nil {
		t.Fatal(err)
	}
	if err := l.Reload(lb2); err != nil {
		t.Fatal(err)
	}
	waitKA(t, l, ka1, "BACKUP", 10*time.Second)
	if _, err := l.WaitStatus(lb2, 10*time.Second, func(st Status) bool { return st.Holding }); err != nil {
		t.Fatalf("lb2 does not hold after its priority went above ka1's: %v", err)
	}
	time.Sleep(time.Second)
	step("the cluster preempts keepalived", t3)

	// 4. raftvip in place of the old master.
	t4 := time.Now()
	if err := l.StopKeepalived(ka1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.StartAgent(lb1); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitStatus(lb1, formTimeout, func(st Status) bool { return st.Holder == "lb2" && st.Leader != "" }); err != nil {
		t.Fatalf("lb1 does not join the cluster: %v", err)
	}
	time.Sleep(2 * time.Second)
	step("keepalived master replaced", t4)
	p.Stop()
	step("the whole migration", t0)
	sum := s.Summary(vip, Filter{})
	t.Logf("holders: %d samples, max %d, %d samples with two (%v)", sum.Samples, sum.MaxHolders, sum.MultiSamples, sum.MultiDuration)
	// keepalived lets go when it hears the higher priority's first advert, which the
	// new master sends as it adds the VIP: an overlap of a few milliseconds at most.
	if sum.MultiDuration > 100*time.Millisecond {
		t.Errorf("two holders for %v (%v)", sum.MultiDuration, sum.MultiIntervals)
	}
}
