package test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestKeepalivedOnlyLab checks the lab the bench runs keepalived in: three
// keepalived load balancers and no agent, at raftvip's priorities, each tracking its
// own HAProxy with the chk_haproxy script; the best one becomes MASTER, a killed
// HAProxy puts it in FAULT and the next one takes the VIP, and a partition cuts a
// keepalived node off from the other keepalived nodes only.
func TestKeepalivedOnlyLab(t *testing.T) {
	g := VRRPOptions{Version: 3, AdvertInterval: 100 * time.Millisecond}
	opts := KeepalivedOnlyLab(g, &ScriptCheck{Interval: time.Second, Fall: 2, Rise: 2}, 150, 120, 100)
	l := NewLab(t, opts)
	if len(l.Nodes) != 0 || len(l.KANodes) != 3 {
		t.Fatalf("lab has %d load balancers and %d keepalived nodes, want 0 and 3", len(l.Nodes), len(l.KANodes))
	}
	ka1, ka2, ka3 := l.KANodes[0], l.KANodes[1], l.KANodes[2]
	if got := ka1.Addr4.Addr().String(); got != "198.18.0.11" {
		t.Errorf("ka1 at %s, want the first load balancer's address 198.18.0.11", got)
	}
	conf, err := os.ReadFile(ka1.KA.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"vrrp_script chk_haproxy {", "interval 1\n", "weight 0\n", "track_script {", "priority 150\n", "version 3\n"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("keepalived.conf of ka1 lacks %q:\n%s", want, conf)
		}
	}
	for _, n := range l.KANodes {
		mustStartKA(t, l, n)
	}
	waitKA(t, l, ka1, "MASTER", 10*time.Second)
	ctx := context.Background()
	if err := l.WaitSoleHolder(ctx, ka1, 500*time.Millisecond, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if pids := l.DaemonPIDs(); len(pids) != 6 {
		t.Errorf("DaemonPIDs = %v, want keepalived's parent and VRRP child on three nodes", pids)
	}

	if err := l.KillHAProxy(ka1); err != nil {
		t.Fatal(err)
	}
	waitKA(t, l, ka1, "FAULT", 5*time.Second)
	waitKA(t, l, ka2, "MASTER", 5*time.Second)
	if err := l.StartHAProxy(ka1); err != nil {
		t.Fatal(err)
	}
	waitKA(t, l, ka1, "MASTER", 10*time.Second)

	if peers := l.Peers(ka1); len(peers) != 2 || peers[0] != ka2 || peers[1] != ka3 {
		t.Errorf("Peers(ka1) = %v, want [ka2 ka3]", peers)
	}
	if err := l.Partition(ka1); err != nil {
		t.Fatal(err)
	}
	// Cut off, ka2 hears no adverts and becomes MASTER too: split brain.
	waitKA(t, l, ka2, "MASTER", 5*time.Second)
	if st, _ := l.KeepalivedState(ka1); st != "MASTER" {
		t.Errorf("ka1 is %s while partitioned, want MASTER", st)
	}
	if err := l.Heal(); err != nil {
		t.Fatal(err)
	}
	waitKA(t, l, ka2, "BACKUP", 5*time.Second)
	if err := l.WaitSoleHolder(ctx, ka1, 500*time.Millisecond, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}
