package vip_test

// Drain against the real kernel, in namespaces of its own, rvtest-vipdrain-<pid>-<n>:
// a holder namespace (rv0, where the VIPs go) and a client namespace (rv1, the other
// end of the veth). Needs root, like kernel_test.go.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/raftvip/raftvip/test/netnstest"
	"github.com/raftvip/raftvip/vip"
)

const drainNSPrefix = "rvtest-vipdrain-"

// newNamedNS creates an empty network namespace prefix<pid>-<n>, deleted in
// t.Cleanup, with lo up.
func newNamedNS(t *testing.T) (string, netns.NsHandle) {
	t.Helper()
	name := fmt.Sprintf("%s%d-%d", drainNSPrefix, os.Getpid(), nsSeq.Add(1))
	ns, err := netnstest.NewNamed(name)
	if err != nil {
		_ = netns.DeleteNamed(name)
		skipOrFail(t, "cannot create network namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ns.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete network namespace %s: %v", name, err)
		}
	})
	h := nsHandle(t, ns)
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("set lo up in %s: %v", name, err)
	}
	return name, ns
}

func nsHandle(t *testing.T, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("netlink handle: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

func addPermanent(t *testing.T, h *netlink.Handle, l netlink.Link, p string) {
	t.Helper()
	a, err := netlink.ParseAddr(p)
	if err != nil {
		t.Fatal(err)
	}
	if a.IP.To4() == nil {
		a.Flags = unix.IFA_F_NODAD
	}
	if err := h.AddrAdd(l, a); err != nil {
		t.Fatalf("add %s to %s: %v", p, l.Attrs().Name, err)
	}
}

// drainLab is two namespaces joined by a veth: the holder's rv0 (198.18.0.1/24,
// 2001:2::1/64, the VIPs go here) and the client's rv1 (198.18.0.2/24, 2001:2::2/64).
type drainLab struct {
	holderName string
	holder     netns.NsHandle
	client     netns.NsHandle
}

func newDrainLab(t *testing.T) *drainLab {
	t.Helper()
	requireRoot(t)
	netnstest.Sweep(drainNSPrefix, t.Logf)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("vip drain kernel test needs the nft command to inspect the ruleset; skipping")
	}
	lab := &drainLab{}
	lab.holderName, lab.holder = newNamedNS(t)
	_, lab.client = newNamedNS(t)
	hh, hc := nsHandle(t, lab.holder), nsHandle(t, lab.client)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("add veth rv0/rv1", hh.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "rv0"}, PeerName: "rv1"}))
	rv1, err := hh.LinkByName("rv1")
	must("find rv1", err)
	must("move rv1 to the client namespace", hh.LinkSetNsFd(rv1, int(lab.client)))
	rv0, err := hh.LinkByName("rv0")
	must("find rv0", err)
	rv1, err = hc.LinkByName("rv1")
	must("find rv1 in the client namespace", err)
	must("set rv0 up", hh.LinkSetUp(rv0))
	must("set rv1 up", hc.LinkSetUp(rv1))
	addPermanent(t, hh, rv0, "198.18.0.1/24")
	addPermanent(t, hh, rv0, "2001:2::1/64")
	addPermanent(t, hc, rv1, "198.18.0.2/24")
	addPermanent(t, hc, rv1, "2001:2::2/64")
	if out, err := lab.nft("list", "ruleset"); err != nil {
		skipOrFail(t, "nf_tables not usable in %s (%v: %s)", lab.holderName, err, out)
	}
	return lab
}

// nft runs nft inside the holder namespace.
func (lab *drainLab) nft(args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", lab.holderName, "nft"}, args...)...).CombinedOutput()
	return string(out), err
}

// table returns `nft list table inet raftvip` in the holder namespace, and whether
// the table exists.
func (lab *drainLab) table(t *testing.T) (string, bool) {
	t.Helper()
	out, err := lab.nft("list", "table", "inet", vip.DrainTable)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out, true
	case errors.As(err, &exit):
		return out, false
	default:
		t.Fatalf("run nft: %v", err)
		return "", false
	}
}

// checkTable checks the table holds the drain chain with one SYN-drop rule per VIP.
func checkTable(t *testing.T, listing string) {
	t.Helper()
	if !strings.Contains(listing, "chain "+vip.DrainChain) ||
		!strings.Contains(listing, "type filter hook input priority filter; policy accept;") {
		t.Errorf("nft listing has no drain chain on the input hook:\n%s", listing)
	}
	var rules []string
	for l := range strings.Lines(listing) {
		if strings.HasSuffix(strings.TrimSpace(l), " drop") {
			rules = append(rules, strings.TrimSpace(l))
		}
	}
	// nft prints "tcp flags & (syn | ack) == syn" as "tcp flags syn / syn,ack"
	// (1.0 and later) or as written (older).
	for i, want := range []string{"ip daddr 198.18.0.10 ", "ip6 daddr 2001:2::10 "} {
		if i >= len(rules) || !strings.HasPrefix(rules[i], want) || !strings.Contains(rules[i], "syn") || !strings.Contains(rules[i], "ack") {
			t.Errorf("rule %d: want %q... matching SYN without ACK; rules:\n%s", i, want, strings.Join(rules, "\n"))
		}
	}
	if len(rules) != 2 {
		t.Errorf("%d drop rules, want one per VIP (2):\n%s", len(rules), listing)
	}
}

// echoServer accepts on l and echoes every line back until l is closed.
func echoServer(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}

func echo(c net.Conn, r *bufio.Reader, msg string) error {
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return err
	}
	got, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if got != msg+"\n" {
		return fmt.Errorf("echoed %q, want %q", got, msg+"\n")
	}
	return nil
}

type clientConn struct {
	c net.Conn
	r *bufio.Reader
}

// TestKernelDrain checks, for an IPv4 and an IPv6 VIP, that while draining the
// holder ignores new connection attempts (they time out) and still serves a
// connection established before the drain, that the rules are one table with one
// rule per VIP, and that Set(false) removes the table with the addresses.
func TestKernelDrain(t *testing.T) {
	lab := newDrainLab(t)
	cfg := kernelConfig(5 * time.Second)
	cfg.Drain = 3 * time.Second
	m, err := vip.New(cfg, vip.WithNetNS(lab.holder), vip.WithAnnouncer(&fakeAnnouncer{}), vip.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	if err := m.Set(ctx, true); err != nil {
		t.Fatalf("Set(true): %v", err)
	}
	if _, ok := lab.table(t); ok {
		t.Error("Set(true) installed the drain table")
	}

	// An echo server on each VIP, in the holder namespace.
	addrs := []string{
		net.JoinHostPort(vip4.Addr().String(), "8080"),
		net.JoinHostPort(vip6.Addr().String(), "8080"),
	}
	for _, a := range addrs {
		var l net.Listener
		if err := netnstest.Run(lab.holder, func() (err error) { l, err = net.Listen("tcp", a); return }); err != nil {
			t.Fatalf("listen on %s: %v", a, err)
		}
		t.Cleanup(func() { l.Close() })
		go echoServer(l)
	}
	dial := func(a string, timeout time.Duration) (net.Conn, error) {
		var c net.Conn
		err := netnstest.Run(lab.client, func() (err error) { c, err = net.DialTimeout("tcp", a, timeout); return })
		return c, err
	}

	// Connections established before the drain.
	established := map[string]clientConn{}
	for _, a := range addrs {
		c, err := dial(a, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %s before the drain: %v", a, err)
		}
		t.Cleanup(func() { c.Close() })
		cc := clientConn{c: c, r: bufio.NewReader(c)}
		if err := echo(cc.c, cc.r, "before"); err != nil {
			t.Fatalf("echo over %s before the drain: %v", a, err)
		}
		established[a] = cc
	}

	start := time.Now()
	drained := make(chan error, 1)
	go func() { drained <- m.Drain(ctx) }()
	var listing string
	for deadline := time.Now().Add(2 * time.Second); ; {
		var ok bool
		if listing, ok = lab.table(t); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no table inet %s 2s after Drain started: %s", vip.DrainTable, listing)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("while draining, nft list table inet %s:\n%s", vip.DrainTable, listing)
	checkTable(t, listing)

	for _, a := range addrs {
		c, err := dial(a, 300*time.Millisecond)
		var ne net.Error
		switch {
		case err == nil:
			c.Close()
			t.Errorf("new connection to %s while draining: established, want a timeout", a)
		case !errors.As(err, &ne) || !ne.Timeout():
			t.Errorf("new connection to %s while draining: %v, want a timeout", a, err)
		}
		cc := established[a]
		if err := echo(cc.c, cc.r, "during"); err != nil {
			t.Errorf("established connection to %s while draining: %v", a, err)
		}
	}
	select {
	case err := <-drained:
		t.Fatalf("Drain returned %v after %v, before Drain (3s)", err, time.Since(start))
	default:
	}

	select {
	case err := <-drained:
		if err != nil {
			t.Fatalf("Drain: %v", err)
		}
		if d := time.Since(start); d < cfg.Drain {
			t.Errorf("Drain returned after %v, want at least %v", d, cfg.Drain)
		}
	case <-time.After(cfg.Drain + 3*time.Second):
		t.Fatal("Drain did not return")
	}
	if _, ok := lab.table(t); !ok {
		t.Error("table gone when Drain returned; it must stay until Set(false)")
	}
	if held, err := m.Held(); !held || err != nil {
		t.Errorf("Held() after Drain = %v, %v; want true, nil: Drain does not remove addresses", held, err)
	}

	if err := m.Set(ctx, false); err != nil {
		t.Fatalf("Set(false): %v", err)
	}
	// The rules go in the background once the addresses are off.
	deadline := time.Now().Add(2 * time.Second)
	for {
		out, ok := lab.table(t)
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("table still there 2s after Set(false):\n%s", out)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if held, err := m.Held(); held || err != nil {
		t.Errorf("Held() after Set(false) = %v, %v; want false, nil", held, err)
	}
}

// TestKernelDrainCleanup leaves a drain table behind (an agent killed after
// draining) and checks that the next Manager's Cleanup removes it with the
// addresses, and that a repeated delete finds nothing and is no error.
func TestKernelDrainCleanup(t *testing.T) {
	lab := newDrainLab(t)
	cfg := kernelConfig(5 * time.Second)
	cfg.Drain = 100 * time.Millisecond
	crashed, err := vip.New(cfg, vip.WithNetNS(lab.holder), vip.WithAnnouncer(&fakeAnnouncer{}), vip.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := crashed.Set(ctx, true); err != nil {
		t.Fatalf("Set(true): %v", err)
	}
	if err := crashed.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	// A second drain replaces the rules instead of adding to them.
	if err := crashed.Drain(ctx); err != nil {
		t.Fatalf("second Drain: %v", err)
	}
	listing, ok := lab.table(t)
	if !ok {
		t.Fatal("no drain table after Drain")
	}
	checkTable(t, listing)

	log := newLogRecorder(t)
	m, err := vip.New(cfg, vip.WithNetNS(lab.holder), vip.WithAnnouncer(&fakeAnnouncer{}), vip.WithLogger(log.logger))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	removed, err := m.Cleanup()
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if len(removed) != 2 {
		t.Errorf("Cleanup removed %v, want both VIPs", removed)
	}
	if out, ok := lab.table(t); ok {
		t.Errorf("table still there after Cleanup:\n%s", out)
	}
	if len(log.lines("vip: removed drain rules left by an earlier run")) != 1 {
		t.Error("Cleanup did not log the leftover table")
	}
	if _, err := m.Cleanup(); err != nil {
		t.Errorf("second Cleanup (no table): %v", err)
	}
	// The "crashed" Manager still thinks it has rules; removing a missing table is fine.
	if err := crashed.Set(ctx, false); err != nil {
		t.Errorf("Set(false) with the table already gone: %v", err)
	}
	crashed.Close()

	// Close removes the rules of a drain, and leaves the addresses.
	if err := m.Set(ctx, true); err != nil {
		t.Fatalf("Set(true): %v", err)
	}
	if err := m.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	m.Close()
	if out, ok := lab.table(t); ok {
		t.Errorf("table still there after Close:\n%s", out)
	}
	h := nsHandle(t, lab.holder)
	rv0, err := h.LinkByName("rv0")
	if err != nil {
		t.Fatal(err)
	}
	list, err := h.AddrList(rv0, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var have []netip.Prefix
	for _, a := range list {
		ip, _ := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		have = append(have, netip.PrefixFrom(ip.Unmap(), ones))
	}
	for _, p := range []netip.Prefix{vip4, vip6} {
		found := false
		for _, q := range have {
			found = found || q == p
		}
		if !found {
			t.Errorf("%s gone after Close, want it kept (Close does not remove addresses); rv0 has %v", p, have)
		}
	}
}
