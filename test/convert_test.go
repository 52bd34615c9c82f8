package test

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Migration: the keepalived.conf of one node of an HAProxy pair, converted with
// `raftvip keepalived convert`, runs as a raftvip node next to the other node, which
// keeps its original keepalived.

// haproxyKillCheck is the pair's vrrp_script command on n: signal 0 to the HAProxy of
// n's pid file, through a shell, as keepalived.conf files for HAProxy often have it.
// The converter turns it into a check of type process on the same pid file.
func haproxyKillCheck(n *Node) string {
	return fmt.Sprintf("/bin/sh -c 'kill -0 $(cat %s)'", n.HAProxyPIDFile)
}

// convertKeepalived runs `raftvip keepalived convert args...` and returns stdout and
// stderr.
func convertKeepalived(t *testing.T, args ...string) (string, string) {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, append([]string{"keepalived", "convert"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("raftvip keepalived convert %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), errOut.String()
}

// A typical keepalived pair for HAProxy: VRRPv2, advert_int 1, PASS authentication,
// unicast, a vrrp_script on HAProxy with weight -60; ka1 is the MASTER at 150, lb1
// the BACKUP at 100. lb1's keepalived.conf is converted and lb1 runs raftvip (a
// cluster of one) with it; ka1 keeps its keepalived. Then: one holder (ka1) while
// both run, and the client is served by it; ka1's keepalived stops and lb1 takes
// over; ka1 comes back and, at 150, takes the VIP back from lb1 at 100.
func TestKeepalivedConvertPair(t *testing.T) {
	const (
		watch = 8 * time.Second // two of keepalived's master-down intervals
		pass  = "s3cret"
	)
	g := VRRPOptions{AuthPass: pass, Unicast: true}
	opts := Options{
		Nodes:           1,
		Keepalived:      1,
		VRRP:            &g,
		KeepalivedCheck: &ScriptCheck{Interval: time.Second, Fall: 2, Rise: 2, Weight: -60},
		Priorities:      map[string]int{"lb1": 100, "ka1": 150},
		ConfigureKeepalived: func(n *Node, c *KeepalivedConfig) {
			c.State = "MASTER"
			c.Scripts[0].Script = haproxyKillCheck(n)
		},
	}
	l := NewLab(t, opts)
	lb1, ka1 := l.Node("lb1"), l.Node("ka1")
	vip := l.VIP4.Addr()

	// lb1's keepalived.conf: ka1's, with lb1's own state, priority and addresses.
	kc := l.KeepalivedConfigOf(ka1)
	kc.RouterID = l.Prefix + "-lb1"
	kc.NotifyFIFO = filepath.Join(lb1.Dir, "notify.fifo")
	kc.State = "BACKUP"
	kc.Priority = 100
	kc.UnicastSrc = lb1.Addr4.Addr()
	kc.UnicastPeers = []netip.Addr{ka1.Addr4.Addr()}
	kc.Scripts[0].Script = haproxyKillCheck(lb1)
	kaConf := filepath.Join(lb1.Dir, "keepalived.conf")
	if err := os.WriteFile(kaConf, []byte(kc.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	conf, report := convertKeepalived(t, kaConf, "--name", "lb1", "--insecure")
	t.Logf("keepalived.conf of lb1:\n%s\nconverted (stderr):\n%s", kc.String(), report)
	for _, want := range []string{"vrrp_notify_fifo", "garp_master_delay", "vrrp_script chk_haproxy", "type process"} {
		if !strings.Contains(report, want) {
			t.Errorf("the conversion report lacks %q", want)
		}
	}
	for _, want := range []string{"bind: 198.18.0.11", "vrid: 51", "auth_pass: " + pass, "unicast_peers: [" + ka1.Addr4.Addr().String() + "]",
		"type: process", "pidfile: " + lb1.HAProxyPIDFile, "weight: -60", "priority: 100"} {
		if !strings.Contains(conf, want) {
			t.Errorf("the converted config lacks %q:\n%s", want, conf)
		}
	}
	// The lab's paths for the agent; nothing else is changed.
	conf = strings.Replace(conf, "\nnode:\n", "\nnode:\n  data_dir: "+lb1.DataDir+"\n", 1)
	conf += fmt.Sprintf("\nadmin:\n  socket: %s\nlog:\n  level: %s\n", lb1.Socket, l.Options().LogLevel)
	if err := os.WriteFile(lb1.Config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "config", "check", lb1.Config).CombinedOutput(); err != nil {
		t.Fatalf("raftvip config check of the converted config: %v\n%s", err, out)
	}

	// Both sides up: ka1 MASTER, lb1's cluster a VRRP backup.
	mustStartKA(t, l, ka1)
	waitKA(t, l, ka1, "MASTER", 5*time.Second)
	m := startMonitor(t, l, false)
	baseline(t, m.p, ka1.Name)
	if err := l.StartAgent(lb1); err != nil {
		t.Fatal(err)
	}
	if _, st, err := l.WaitVRRPBackup(context.Background(), formTimeout); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("lb1: %q", st.Reason)
	}
	phaseA := time.Now()
	time.Sleep(watch)
	st, v := vrrpOf(t, l, lb1)
	if r, ok := v.Router(ka1.Addr4.Addr().String()); !ok || r.Priority != 150 || !r.Master {
		t.Errorf("lb1 does not see ka1 as the master at 150: %+v", v.Foreign)
	}
	if i := slices.IndexFunc(st.Checks, func(c Check) bool { return c.Name == HAProxyScriptName }); i < 0 ||
		st.Checks[i].Type != "process" || st.Checks[i].State != "passing" {
		t.Errorf("lb1's converted check: %+v", st.Checks)
	}
	if st.Priority != 100 || st.Holding {
		t.Errorf("lb1: priority %d, holding %v; want 100, not holding", st.Priority, st.Holding)
	}
	sum := m.s.Summary(vip, Filter{From: phaseA})
	ps := m.p.Summary(phaseA, time.Time{})
	t.Logf("both up: %v\n%v", sum, ps)
	if sum.MaxHolders != 1 || len(sum.Timeline) != 1 || !slices.Equal(sum.Timeline[0].Holders, []string{ka1.Name}) {
		t.Errorf("want ka1 the only holder while both run: %v", sum)
	}
	if ps.Failures > 0 || len(ps.Answered) != 1 || ps.Answered[ka1.Name] == 0 {
		t.Errorf("want every request answered by ka1: %v", ps)
	}
	if trs := l.TransitionsTo(ka1, "BACKUP", phaseA); len(trs) > 0 {
		t.Errorf("ka1 went BACKUP while lb1 ran at a lower priority: %v", l.Transitions(ka1))
	}

	// The holder side stops: keepalived resigns with priority 0 and lb1 takes over.
	stop := time.Now()
	if err := l.StopKeepalived(ka1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := m.p.WaitFor(serveTimeout, func(r Result) bool { return r.OK && r.Start.After(stop) && r.Node == lb1.Name }); err != nil {
		t.Fatalf("lb1 does not serve after ka1 stopped: %v", err)
	}
	time.Sleep(2 * time.Second)
	claimed, _ := m.s.FirstHeldAfter(vip, lb1, stop)
	sum = m.s.Summary(vip, Filter{From: stop})
	t.Logf("ka1 stopped: lb1 holds +%v\n%v\n%v", claimed.Sub(stop).Round(time.Millisecond), sum, m.p.Summary(stop, time.Time{}))
	if sum.MaxHolders > 1 {
		t.Errorf("two holders after ka1 stopped: %v", sum)
	}
	if hs := m.s.Holders(vip); !slices.Equal(hs, []string{lb1.Name}) {
		t.Errorf("holders %v, want lb1", hs)
	}

	// ka1 comes back at 150 and takes the VIP back; raftvip yields.
	back := time.Now()
	mustStartKA(t, l, ka1)
	master := waitKA(t, l, ka1, "MASTER", 10*time.Second)
	if _, err := m.p.WaitFor(serveTimeout, func(r Result) bool { return r.OK && r.Start.After(master.At) && r.Node == ka1.Name }); err != nil {
		t.Errorf("ka1 MASTER again but the client is not served by it: %v", err)
	}
	if _, _, err := l.WaitVRRPBackup(context.Background(), 5*time.Second); err != nil {
		t.Error(err)
	}
	time.Sleep(2 * time.Second)
	m.stop()
	sum = m.s.Summary(vip, Filter{From: back})
	t.Logf("ka1 back: MASTER +%v\n%v\n%v", master.At.Sub(back).Round(time.Millisecond), sum, m.p.Summary(back, time.Time{}))
	if hs := m.s.Holders(vip); !slices.Equal(hs, []string{ka1.Name}) {
		t.Errorf("holders at the end %v, want ka1", hs)
	}
	// The preemption is VRRP's: ka1 adds the VIP and advertises, lb1 drops it when the
	// advert arrives.
	if sum.MultiDuration > 100*time.Millisecond {
		t.Errorf("two holders for %v while ka1 took the VIP back: %v", sum.MultiDuration, sum)
	}
	noDrops(t, vrrpStatuses(t, l))
	noKAWarnings(t, l)
	checkAnnouncements(t, l, m.s, m.w, m.t0)
}
