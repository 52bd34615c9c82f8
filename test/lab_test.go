package test

import (
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

// TestLab checks the lab itself, without the agent: topology, HAProxy, the sampler,
// partitions, unplugging and teardown.
func TestLab(t *testing.T) {
	l := NewLab(t, Options{IPv6: true})

	t.Run("haproxy answers on every node address", func(t *testing.T) {
		for _, n := range l.Nodes {
			for _, a := range []netip.Addr{n.Addr4.Addr(), n.Addr6.Addr()} {
				got, err := l.Get(a)
				if err != nil || got != n.Name {
					t.Errorf("GET http://%s/ from client = %q, %v; want %q", a, got, err, n.Name)
				}
			}
		}
	})

	t.Run("sampler sees addresses added by hand", func(t *testing.T) {
		s, err := l.StartSampler()
		if err != nil {
			t.Fatal(err)
		}
		vip := l.VIP4.Addr()
		if h := s.Holders(vip); len(h) != 0 {
			t.Fatalf("holders before adding: %v", h)
		}
		lb2, lb3 := l.Node("lb2"), l.Node("lb3")
		mustExec(t, l, "ip", "-n", lb2.NS, "addr", "add", l.VIP4.String(), "dev", "eth0")
		if _, err := s.WaitHolders(vip, 2*time.Second, func(h []string) bool { return slices.Equal(h, []string{"lb2"}) }); err != nil {
			t.Fatal(err)
		}
		if sum := s.Summary(vip, Filter{}); sum.MaxHolders != 1 || sum.MultiSamples != 0 {
			t.Errorf("one holder: %v", sum)
		}
		if got, err := l.Get(vip); err != nil || got != "lb2" {
			t.Errorf("GET VIP = %q, %v; want lb2", got, err)
		}
		mustExec(t, l, "ip", "-n", lb3.NS, "addr", "add", l.VIP4.String(), "dev", "eth0")
		if _, err := s.WaitHolders(vip, 2*time.Second, func(h []string) bool { return len(h) == 2 }); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		sum := s.Summary(vip, Filter{})
		if sum.MaxHolders != 2 || sum.MultiSamples == 0 || len(sum.MultiIntervals) != 1 ||
			!slices.Equal(sum.MultiIntervals[0].Nodes, []string{"lb2", "lb3"}) {
			t.Errorf("two holders: %v", sum)
		}
		if ex := s.Summary(vip, Filter{Exclude: []*Node{lb3}}); ex.MaxHolders != 1 {
			t.Errorf("excluding lb3: %v", ex)
		}
		t.Logf("%v", sum)
		for _, n := range []*Node{lb2, lb3} {
			mustExec(t, l, "ip", "-n", n.NS, "addr", "del", l.VIP4.String(), "dev", "eth0")
		}
		if _, err := s.WaitHolders(vip, 2*time.Second, func(h []string) bool { return len(h) == 0 }); err != nil {
			t.Fatal(err)
		}
		if last, ok := s.LastHeld(vip, lb3); !ok || time.Since(last) > 2*time.Second {
			t.Errorf("LastHeld(lb3) = %v, %v", last, ok)
		}
		s.Stop()
		if n, err := s.Errors(); n != 0 {
			t.Errorf("sampler: %d read errors, last %v", n, err)
		}
	})

	t.Run("probe", func(t *testing.T) {
		lb1 := l.Node("lb1")
		p, err := l.StartProbe(lb1.Addr4.Addr())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		p.Stop()
		s := p.Summary(time.Time{}, time.Time{})
		t.Logf("%v", s)
		if s.Requests < 25 || s.Failures != 0 || s.LastNode != "lb1" || s.Gap > 300*time.Millisecond {
			t.Errorf("probe of lb1: %v", s)
		}
	})

	t.Run("partition and heal", func(t *testing.T) {
		lb1, lb2, lb3 := l.Node("lb1"), l.Node("lb2"), l.Node("lb3")
		if err := l.Partition(lb1); err != nil {
			t.Fatal(err)
		}
		if reach(t, l, lb1, lb2, time.Second) || reach(t, l, lb2, lb1, time.Second) || reach(t, l, lb3, lb1, time.Second) {
			t.Errorf("partitioned lb1 still reaches or is reached by the others\n%s", l.Rules())
		}
		if !reach(t, l, lb2, lb3, time.Second) {
			t.Errorf("lb2 cannot reach lb3 while only lb1 is partitioned")
		}
		if got, err := l.Get(lb1.Addr4.Addr()); err != nil || got != "lb1" {
			t.Errorf("client → lb1 during partition = %q, %v", got, err)
		}
		if got, err := l.Get(lb1.Addr6.Addr()); err != nil || got != "lb1" {
			t.Errorf("client → lb1 (IPv6) during partition = %q, %v", got, err)
		}
		if err := l.Heal(); err != nil {
			t.Fatal(err)
		}
		if !eventuallyReach(t, l, lb1, lb2, 5*time.Second) || !eventuallyReach(t, l, lb2, lb1, 5*time.Second) {
			t.Errorf("lb1 ↔ lb2 not restored after heal\n%s", l.Rules())
		}
	})

	t.Run("unplug and replug", func(t *testing.T) {
		lb3 := l.Node("lb3")
		if err := l.Unplug(lb3); err != nil {
			t.Fatal(err)
		}
		if got, err := l.Get(lb3.Addr4.Addr()); err == nil {
			t.Errorf("client reached unplugged lb3: %q", got)
		}
		if err := l.Replug(lb3); err != nil {
			t.Fatal(err)
		}
		if got, err := l.Get(lb3.Addr4.Addr()); err != nil || got != "lb3" {
			t.Errorf("client → lb3 after replug = %q, %v", got, err)
		}
	})

	t.Run("haproxy kill and restart", func(t *testing.T) {
		lb2 := l.Node("lb2")
		if err := l.KillHAProxy(lb2); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Get(lb2.Addr4.Addr()); err == nil {
			t.Errorf("lb2 answered with HAProxy killed")
		}
		if err := l.StartHAProxy(lb2); err != nil {
			t.Fatal(err)
		}
		if got, err := l.Get(lb2.Addr4.Addr()); err != nil || got != "lb2" {
			t.Errorf("lb2 after HAProxy restart = %q, %v", got, err)
		}
	})

	t.Run("state file", func(t *testing.T) {
		st, err := readState(l.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Procs) != len(l.Nodes) || len(st.Namespaces) != len(l.Nodes)+2 || st.Owner.PID != os.Getpid() {
			t.Errorf("state: %+v", st)
		}
		for _, r := range st.Procs {
			if !r.belongs(l.Dir) {
				t.Errorf("recorded %+v does not verify", r)
			}
		}
	})

	t.Run("teardown", func(t *testing.T) {
		var pids []int
		for _, n := range l.Nodes {
			pids = append(pids, n.haproxy.rec.PID)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if left := labNamespaces(l.Prefix); len(left) > 0 {
			t.Errorf("namespaces left: %v", left)
		}
		for _, pid := range pids {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				t.Errorf("haproxy pid %d still exists", pid)
			}
		}
		if _, err := os.Stat(l.Dir); err == nil && !t.Failed() {
			t.Errorf("work directory %s left", l.Dir)
		}
	})
}

// TestSweep leaves a fake dead lab behind (namespace, state file naming one live
// process of its own and one process that is not) and checks that Sweep removes the
// former and leaves the latter alone.
func TestSweep(t *testing.T) {
	RequireRoot(t)
	prefix := "rvfffe"
	for i := 0; labNamespaces(prefix) != nil || exists(filepath.Join(StateRoot, prefix)); i++ {
		if i > 10 {
			t.Skip("fake prefix in use")
		}
		prefix = fmt.Sprintf("rvff%02x", 0xf0+i)
	}
	dir := filepath.Join(StateRoot, prefix)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(dir)
		exec.Command("ip", "netns", "delete", prefix+"-lb1").Run()
	})
	if out, err := exec.Command("ip", "netns", "add", prefix+"-lb1").CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	marker := filepath.Join(dir, "marker")
	os.WriteFile(marker, nil, 0o644)
	victim := exec.Command("tail", "-f", marker)
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	bystander := exec.Command("sleep", "60")
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bystander.Process.Kill(); bystander.Wait() })
	vs, _ := procStart(victim.Process.Pid)
	bs, _ := procStart(bystander.Process.Pid)
	st := &labState{
		Prefix:     prefix,
		Dir:        dir,
		Owner:      procRecord{Role: "owner", PID: 1 << 22, Cmdline: "gone"},
		Namespaces: []string{prefix + "-lb1"},
		Procs: []procRecord{
			{Role: "lb1/agent", PID: victim.Process.Pid, Start: vs, Cmdline: "tail -f " + marker},
			{Role: "lb1/haproxy", PID: bystander.Process.Pid, Start: bs, Cmdline: "sleep 60"},
		},
	}
	if err := writeState(dir, st); err != nil {
		t.Fatal(err)
	}
	if err := Sweep(t.Logf); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- victim.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		victim.Process.Kill()
		t.Errorf("sweep did not kill the recorded lab process")
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/cmdline", bystander.Process.Pid)); err != nil {
		t.Errorf("sweep killed a process that does not belong to the lab")
	}
	if left := labNamespaces(prefix); len(left) > 0 {
		t.Errorf("namespaces left: %v", left)
	}
	if exists(dir) {
		t.Errorf("%s left", dir)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// reach reports whether from can open a TCP connection to to's port 80 (IPv4 and
// IPv6) within timeout, from a socket created in from's namespace; failures are logged.
func reach(t *testing.T, l *Lab, from, to *Node, timeout time.Duration) bool {
	for _, a := range []netip.Addr{to.Addr4.Addr(), to.Addr6.Addr()} {
		c, err := NewClient(from.NS)
		if err != nil {
			t.Logf("%s → %s: %v", from.Name, a, err)
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		t0 := time.Now()
		conn, err := (&nsDialer{ns: c.ns}).DialContext(ctx, "tcp", netip.AddrPortFrom(a, 80).String())
		cancel()
		c.Close()
		if err != nil {
			neigh, _ := l.Exec(from.NS, "ip", "neigh", "show", "to", a.String())
			t.Logf("%s → %s: %v after %v (neighbour: %s)", from.Name, a, err, time.Since(t0).Round(time.Millisecond), strings.TrimSpace(neigh))
			return false
		}
		conn.Close()
	}
	return true
}

// eventuallyReach retries reach until it succeeds or timeout passes. Right after a
// heal, a neighbour entry left INCOMPLETE by the partition may still fail and report
// "no route to host" for the connection queued on it; a new attempt resolves afresh.
func eventuallyReach(t *testing.T, l *Lab, from, to *Node, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if reach(t, l, from, to, time.Second) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func mustExec(t *testing.T, l *Lab, argv ...string) {
	t.Helper()
	if out, err := run(10*time.Second, argv[0], argv[1:]...); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}

// TestLabDelay: Lab.Delay puts latency on every packet of a node, both ways, and
// takes it off again.
func TestLabDelay(t *testing.T) {
	l := NewLab(t, Options{Nodes: 2})
	lb2 := l.Node("lb2")
	c, err := NewClient(l.ClientNS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	timed := func() time.Duration {
		t.Helper()
		best := time.Hour
		for range 3 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			t0 := time.Now()
			if _, err := c.Get(ctx, lb2.Addr4.Addr()); err != nil {
				t.Fatal(err)
			}
			cancel()
			best = min(best, time.Since(t0))
		}
		return best
	}
	before := timed()
	undo, err := l.Delay(lb2, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	with := timed()
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	after := timed()
	t.Logf("a request to lb2: %v, with 20ms of delay each way %v, without again %v", before, with, after)
	// A request is four one-way trips through lb2's delay at least: SYN, SYN-ACK,
	// request, response.
	if with < 80*time.Millisecond || after >= 40*time.Millisecond {
		t.Errorf("delay not applied or not removed: %v with, %v after", with, after)
	}
}
