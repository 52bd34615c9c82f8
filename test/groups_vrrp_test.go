package test

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// VRRP per group (DESIGN §9.2): two groups, each its own VRRP router (VRID 51 and
// 52); a keepalived router at 200 is master of VRID 52 only. The cluster holds web and
// yields api, and every node's status says which router rules it. When keepalived
// resigns, api is placed on its best node; web's client sees nothing of it.
func TestGroupsVRRPPerGroup(t *testing.T) {
	web := LabGroup{Name: "web", VIP: netip.MustParsePrefix("198.18.0.21/24"), Priorities: map[string]int{"lb1": 150, "lb2": 120, "lb3": 100}}
	api := LabGroup{Name: "api", VIP: netip.MustParsePrefix("198.18.0.22/24"), Priorities: map[string]int{"lb2": 150, "lb1": 120, "lb3": 100}}
	g := VRRPOptions{VRID: 52}
	opts := Options{
		Groups:     []LabGroup{web, api},
		Keepalived: 1,
		VRRP:       &g,
		Priorities: map[string]int{"ka1": 200},
		Configure: func(n *Node, c *AgentConfig) {
			c.VRRP = nil
			for i := range c.Groups {
				vrid := map[string]int{"web": 51, "api": 52}[c.Groups[i].Name]
				c.Groups[i].Extra = map[string]any{"vrrp": map[string]any{"enabled": true, "version": 2, "vrid": vrid, "advert_interval": "1s"}}
			}
		},
		ConfigureKeepalived: func(n *Node, c *KeepalivedConfig) {
			c.VIPs = []netip.Prefix{api.VIP}
		},
	}
	l := NewLab(t, opts)
	ka1 := l.Node("ka1")
	mustStartKA(t, l, ka1)
	waitKA(t, l, ka1, "MASTER", masterDown(2, 200, time.Second)+3*time.Second)
	s := mustSampler(t, l)
	if err := l.StartAgents(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WaitGroupHolder("web", formTimeout); err != nil {
		t.Fatal(err)
	}
	gl := &groupsLab{Lab: l, t: t, s: s, probes: map[string]*Probe{}}
	lb1, lb2 := l.Node("lb1"), l.Node("lb2")
	if _, err := gl.waitGroupOn("web", lb1, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p, err := l.StartProbe(web.VIP.Addr())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "every node yields api to ka1", func() string {
		sts, _ := l.Statuses(context.Background())
		for _, n := range l.Nodes {
			ga, _ := sts[n].Group("api")
			if ga.Holding || !strings.HasPrefix(ga.Reason, "VRRP backup") {
				return n.Name + " api: " + ga.Reason
			}
			if gw, _ := sts[n].Group("web"); strings.HasPrefix(gw.Reason, "VRRP backup") {
				return n.Name + " web: " + gw.Reason
			}
		}
		return ""
	})
	time.Sleep(2 * time.Second)
	if hs := s.Holders(api.VIP.Addr()); !slices.Equal(hs, []string{"ka1"}) {
		t.Errorf("api held by %v while ka1 at 200 is master, want ka1 alone", hs)
	}

	stop := time.Now()
	if err := l.StopKeepalived(ka1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := gl.waitGroupOn("api", lb2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	took, _ := s.FirstHeldAfter(api.VIP.Addr(), lb2, stop)
	t.Logf("figure vrrp-per-group: keepalived resigned VRID 52; lb2 holds api %v later", took.Sub(stop).Round(time.Millisecond))
	time.Sleep(time.Second)
	p.Stop()
	s.Stop()
	if ps := p.Summary(time.Time{}, time.Time{}); ps.Failures > 0 || len(ps.Answered) != 1 || ps.Answered["lb1"] == 0 {
		t.Errorf("web's client: %v, want every request answered by lb1", ps)
	}
	for _, v := range []netip.Addr{web.VIP.Addr(), api.VIP.Addr()} {
		if sum := s.Summary(v, Filter{}); sum.MaxHolders > 1 {
			t.Errorf("%s: two holders: %v", v, sum)
		}
	}
}
