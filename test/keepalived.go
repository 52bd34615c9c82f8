package test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Mixed fleets: nodes that run stock keepalived in the VRRP group of the
// cluster. A keepalived node is a *Node with KA set, in Lab.KANodes: its own namespace
// on the bridge, HAProxy like the load balancers', and keepalived started by the lab,
// which records every state transition keepalived reports on its notify FIFO.

// KeepalivedBinary is the keepalived the lab runs: $RAFTVIP_KEEPALIVED, or Debian's.
func KeepalivedBinary() string {
	if p := os.Getenv("RAFTVIP_KEEPALIVED"); p != "" {
		return p
	}
	return "/usr/sbin/keepalived"
}

// VRRPOptions is the VRRP group the cluster and the keepalived nodes share
// (Options.VRRP): the agents' vrrp: section and each keepalived.conf are written
// from it, so that both sides agree unless a test changes one of them.
type VRRPOptions struct {
	Version        int           // 2 (default) or 3
	VRID           int           // virtual_router_id and vrrp.vrid; default 51
	AdvertInterval time.Duration // advert_int; default 1s (v2 whole seconds, v3 10 ms steps)
	AuthPass       string        // v2 PASS authentication on both sides; "" for none
	// Unicast makes every router send to the others' addresses (keepalived
	// unicast_src_ip + unicast_peer, raftvip unicast_src + unicast_peers) instead of
	// 224.0.0.18.
	Unicast   bool
	NoPreempt bool // keepalived nodes get nopreempt
}

// DefaultVRID is the VRID of a lab's VRRP group unless VRRPOptions.VRID says otherwise.
const DefaultVRID = 51

// DefaultKeepalivedPriority is a keepalived node's priority unless Options.Priorities
// names it (keepalived's own default).
const DefaultKeepalivedPriority = 100

// maxKeepalived bounds Options.Keepalived (the addresses stay below the client's).
const maxKeepalived = 8

// vrrpGroup returns the group with its defaults filled in (Options.VRRP may be nil).
func (o Options) vrrpGroup() VRRPOptions {
	var v VRRPOptions
	if o.VRRP != nil {
		v = *o.VRRP
	}
	if v.Version == 0 {
		v.Version = 2
	}
	if v.VRID == 0 {
		v.VRID = DefaultVRID
	}
	if v.AdvertInterval == 0 {
		v.AdvertInterval = time.Second
	}
	return v
}

// checkVRRP validates the keepalived and VRRP options.
func (o *Options) checkVRRP() error {
	if o.Keepalived < 0 || o.Keepalived > maxKeepalived {
		return fmt.Errorf("lab: %d keepalived nodes: want 0..%d", o.Keepalived, maxKeepalived)
	}
	if o.Nodes+o.Keepalived > 64 {
		return fmt.Errorf("lab: %d nodes and %d keepalived nodes: the sampler handles at most 64", o.Nodes, o.Keepalived)
	}
	if o.Keepalived > 0 && o.IPv6 {
		return errors.New("lab: keepalived nodes with the IPv6 VIP: a VRRP instance advertises one family, and the lab always has the IPv4 VIP")
	}
	if o.KeepalivedCheck != nil {
		if err := o.KeepalivedCheck.check(); err != nil {
			return err
		}
	}
	v := o.vrrpGroup()
	if v.Version != 2 && v.Version != 3 {
		return fmt.Errorf("lab: VRRP version %d: want 2 or 3", v.Version)
	}
	if v.Version == 3 && v.AuthPass != "" {
		return errors.New("lab: VRRPv3 has no authentication; AuthPass needs version 2")
	}
	return nil
}

// Keepalived is the keepalived side of a keepalived node.
type Keepalived struct {
	Config      string // keepalived.conf
	PIDFile     string // -p: the parent process
	VRRPPIDFile string // -r: the VRRP child, which speaks the protocol
	FIFO        string // vrrp_notify_fifo
	StateLog    string // every transition, one line each: time, run, state, priority
	Priority    int    // as configured

	mu          sync.Mutex
	proc        *proc
	runs        int
	child       *procRecord // the VRRP child of the current run, once known
	fifo        *os.File
	transitions []Transition
	vips        []netip.Prefix // of every vrrp_instance, as last written
}

// KeepalivedVIPs returns the VIPs of every vrrp_instance in n's keepalived.conf as the
// lab last wrote it.
func (l *Lab) KeepalivedVIPs(n *Node) []netip.Prefix {
	if n.KA == nil {
		return nil
	}
	n.KA.mu.Lock()
	defer n.KA.mu.Unlock()
	return slices.Clone(n.KA.vips)
}

// newKANode builds keepalived node j (0-based) of the lab.
func (l *Lab) newKANode(j int) (*Node, error) {
	name := fmt.Sprintf("ka%d", j+1)
	host := 11 + l.opts.Nodes + j
	dir := filepath.Join(l.Dir, name)
	n := &Node{
		Name:           name,
		NS:             l.Prefix + "-" + name,
		Port:           name,
		Addr4:          netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(host)}), 24),
		Addr6:          netip.MustParsePrefix(fmt.Sprintf("2001:2::%d/64", host)),
		Dir:            dir,
		HAProxyConfig:  filepath.Join(dir, "haproxy.cfg"),
		HAProxySocket:  filepath.Join(dir, "haproxy.sock"),
		HAProxyPIDFile: filepath.Join(dir, "haproxy.pid"),
		KA: &Keepalived{
			Config:      filepath.Join(dir, "keepalived.conf"),
			PIDFile:     filepath.Join(dir, "keepalived.pid"),
			VRRPPIDFile: filepath.Join(dir, "keepalived_vrrp.pid"),
			FIFO:        filepath.Join(dir, "notify.fifo"),
			StateLog:    filepath.Join(dir, "state.log"),
			Priority:    DefaultKeepalivedPriority,
		},
	}
	if p, ok := l.opts.Priorities[name]; ok {
		n.KA.Priority = p
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	return n, nil
}

func (l *Lab) kaSuffix() string {
	if len(l.KANodes) == 0 {
		return ""
	}
	return fmt.Sprintf(" + %d keepalived (VRRPv%d vrid %d)", len(l.KANodes), l.opts.vrrpGroup().Version, l.opts.vrrpGroup().VRID)
}

// KeepalivedLogPath is the console log of n's keepalived run (1 = first start).
func (l *Lab) KeepalivedLogPath(n *Node, run int) string {
	return filepath.Join(n.Dir, fmt.Sprintf("keepalived.%d.log", run))
}

// StartKeepalived starts keepalived on n in the foreground (-n), VRRP only (-P),
// logging to the console (-l -D) into keepalived.<run>.log, without respawning its
// VRRP child (-R, so that KillKeepalived is a crash), and waits until the VRRP child
// runs. Its state transitions are read from the notify FIFO from now on.
func (l *Lab) StartKeepalived(n *Node) error {
	ka := n.KA
	if ka == nil {
		return fmt.Errorf("lab: %s is not a keepalived node", n.Name)
	}
	if l.KeepalivedRunning(n) {
		return fmt.Errorf("lab: start keepalived on %s: already running", n.Name)
	}
	if err := l.openFIFO(n); err != nil {
		return err
	}
	os.Remove(ka.PIDFile)
	os.Remove(ka.VRRPPIDFile)
	ka.mu.Lock()
	run := ka.runs + 1
	ka.mu.Unlock()
	p, err := l.startProc("keepalived", n, l.KeepalivedLogPath(n, run), KeepalivedBinary(),
		"-n", "-P", "-l", "-D", "-G", "-R", "-f", ka.Config, "-p", ka.PIDFile, "-r", ka.VRRPPIDFile)
	if p == nil {
		return err
	}
	ka.mu.Lock()
	ka.proc, ka.runs, ka.child = p, run, nil
	ka.mu.Unlock()
	if err != nil {
		return err
	}
	child, err := l.waitVRRPChild(n, p, 10*time.Second)
	if err != nil {
		return err
	}
	l.logf("%s: keepalived run %d started, pid %d, VRRP child %d, priority %d", n.Name, run, p.rec.PID, child.PID, ka.priority())
	return nil
}

func (ka *Keepalived) priority() int {
	ka.mu.Lock()
	defer ka.mu.Unlock()
	return ka.Priority
}

// waitVRRPChild waits for the VRRP child's pid file, checks that the PID is a child of
// p, and records it in the state file so that a sweep finds it too.
func (l *Lab) waitVRRPChild(n *Node, p *proc, timeout time.Duration) (procRecord, error) {
	deadline := time.Now().Add(timeout)
	for {
		if p.exited() {
			b, _ := os.ReadFile(p.log)
			return procRecord{}, fmt.Errorf("lab: keepalived on %s exited at start: %s", n.Name, tail(string(b), 15))
		}
		if b, err := os.ReadFile(n.KA.VRRPPIDFile); err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err == nil && pid > 0 && parentPID(pid) == p.rec.PID {
				start, _ := procStart(pid)
				cl, _ := procCmdline(pid)
				rec := procRecord{Role: n.Name + "/keepalived-vrrp", PID: pid, Start: start, Cmdline: cl}
				n.KA.mu.Lock()
				n.KA.child = &rec
				n.KA.mu.Unlock()
				l.mu.Lock()
				l.state.Procs = append(l.state.Procs, rec)
				err := l.saveStateLocked()
				l.mu.Unlock()
				return rec, err
			}
		}
		if time.Now().After(deadline) {
			return procRecord{}, fmt.Errorf("lab: keepalived on %s: no VRRP child after %v", n.Name, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// parentPID returns the PPid of pid from /proc, 0 if unknown.
func parentPID(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			p, _ := strconv.Atoi(strings.TrimSpace(v))
			return p
		}
	}
	return 0
}

// KeepalivedRunning reports whether keepalived's parent process on n exists.
func (l *Lab) KeepalivedRunning(n *Node) bool {
	if n.KA == nil {
		return false
	}
	n.KA.mu.Lock()
	p := n.KA.proc
	n.KA.mu.Unlock()
	return p != nil && !p.exited()
}

// StopKeepalived sends SIGTERM to keepalived on n — a clean shutdown: it sends a
// priority-0 advert and removes the VIPs — and waits up to timeout for it to exit.
func (l *Lab) StopKeepalived(n *Node, timeout time.Duration) error {
	ka := n.KA
	if ka == nil {
		return fmt.Errorf("lab: %s is not a keepalived node", n.Name)
	}
	ka.mu.Lock()
	p, child := ka.proc, ka.child
	ka.mu.Unlock()
	if p == nil || p.exited() {
		return fmt.Errorf("lab: stop keepalived on %s: not running", n.Name)
	}
	t0 := time.Now()
	if err := p.signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("lab: stop keepalived on %s: %w", n.Name, err)
	}
	if !p.wait(timeout) {
		return fmt.Errorf("lab: stop keepalived on %s: still running %v after SIGTERM", n.Name, timeout)
	}
	l.forgetChild(n, child, timeout)
	l.logf("%s: keepalived exited %v after SIGTERM", n.Name, time.Since(t0).Round(time.Millisecond))
	return nil
}

// KillKeepalived crashes keepalived on n: SIGKILL to the VRRP child first (so it sends
// no priority-0 advert and leaves the VIPs on eth0, as a crashed host would), then to
// the parent; it waits until both are gone.
func (l *Lab) KillKeepalived(n *Node) error {
	ka := n.KA
	if ka == nil {
		return fmt.Errorf("lab: %s is not a keepalived node", n.Name)
	}
	ka.mu.Lock()
	p, child := ka.proc, ka.child
	ka.mu.Unlock()
	if p == nil || p.exited() {
		return fmt.Errorf("lab: kill keepalived on %s: not running", n.Name)
	}
	if child != nil && child.belongs(l.Dir) {
		if err := syscall.Kill(child.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("lab: kill keepalived's VRRP child on %s: %w", n.Name, err)
		}
	}
	if err := p.signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("lab: kill keepalived on %s: %w", n.Name, err)
	}
	if !p.wait(10 * time.Second) {
		return fmt.Errorf("lab: kill keepalived on %s: pid %d still there after 10s", n.Name, p.rec.PID)
	}
	l.forgetChild(n, child, 5*time.Second)
	l.logf("%s: keepalived killed (SIGKILL)", n.Name)
	return nil
}

// killKeepalived is the teardown: SIGKILL to both processes, errors logged.
func (l *Lab) killKeepalived(n *Node) {
	if l.KeepalivedRunning(n) {
		if err := l.KillKeepalived(n); err != nil {
			l.logf("%v", err)
		}
	}
}

// forgetChild waits until the VRRP child is gone (reaped by its parent or by init)
// and drops its record from the state file.
func (l *Lab) forgetChild(n *Node, child *procRecord, timeout time.Duration) {
	if child == nil {
		return
	}
	deadline := time.Now().Add(timeout)
	for child.belongs(l.Dir) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if child.belongs(l.Dir) {
		l.logf("%s: keepalived's VRRP child %d still there after %v; SIGKILL", n.Name, child.PID, timeout)
		syscall.Kill(child.PID, syscall.SIGKILL)
		return
	}
	l.mu.Lock()
	l.state.Procs = slices.DeleteFunc(l.state.Procs, func(r procRecord) bool { return r.PID == child.PID && r.Start == child.Start })
	if !l.closed || l.keep {
		_ = l.saveStateLocked()
	}
	l.mu.Unlock()
}

// KeepalivedLogTails returns the last lines of every keepalived log and the state
// transitions of every keepalived node, for failure output.
func (l *Lab) KeepalivedLogTails(lines int) string {
	var b strings.Builder
	for _, n := range l.KANodes {
		n.KA.mu.Lock()
		runs := n.KA.runs
		n.KA.mu.Unlock()
		fmt.Fprintf(&b, "--- %s keepalived transitions: %v\n", n.Name, l.Transitions(n))
		for run := 1; run <= runs; run++ {
			path := l.KeepalivedLogPath(n, run)
			data, err := os.ReadFile(path)
			if err != nil {
				fmt.Fprintf(&b, "--- %s: %v\n", path, err)
				continue
			}
			fmt.Fprintf(&b, "--- %s keepalived run %d, last %d lines of %s\n%s", n.Name, run, lines, path, tail(string(data), lines))
		}
	}
	return b.String()
}

// ClusterVRRPPriority is the priority of the load balancers in KeepalivedLab: above
// keepalived's default of 100.
const ClusterVRRPPriority = 150

// KeepalivedLab is the lab of the VRRP scenarios: three load balancers at priority
// ClusterVRRPPriority whose agents speak VRRP group g, and keepalived nodes ka1, ka2,
// ... at the given priorities. Neither agents nor keepalived are started.
func KeepalivedLab(g VRRPOptions, kaPriorities ...int) Options {
	pr := map[string]int{}
	for i := range 3 {
		pr[fmt.Sprintf("lb%d", i+1)] = ClusterVRRPPriority
	}
	for i, p := range kaPriorities {
		pr[fmt.Sprintf("ka%d", i+1)] = p
	}
	return Options{VRRP: &g, Keepalived: len(kaPriorities), Priorities: pr}
}

// CrashKeepalived is a keepalived host that dies: keepalived SIGKILLed (no priority-0
// advert), n unplugged, and the VIPs its kernel kept taken off eth0, as a powered-off
// host has none.
func (l *Lab) CrashKeepalived(n *Node) error {
	if err := l.KillKeepalived(n); err != nil {
		return err
	}
	if err := l.Unplug(n); err != nil {
		return err
	}
	return l.RemoveVIPs(n)
}

// RemoveVIPs takes the VIPs off n's eth0 where they are, as a rebooted host has none:
// the repair after keepalived was SIGKILLed, which leaves them there. On a keepalived
// node that is also the VIPs of every vrrp_instance of its keepalived.conf.
func (l *Lab) RemoveVIPs(n *Node) error {
	var vips []netip.Prefix
	for _, v := range l.VIPs() {
		vips = append(vips, netip.PrefixFrom(v, l.VIP4.Bits()))
	}
	for _, p := range l.KeepalivedVIPs(n) {
		if !slices.ContainsFunc(vips, func(q netip.Prefix) bool { return q.Addr() == p.Addr() }) {
			vips = append(vips, p)
		}
	}
	have, err := l.Addrs(n)
	if err != nil {
		return err
	}
	for _, p := range vips {
		if !slices.ContainsFunc(have, func(q netip.Prefix) bool { return q.Addr() == p.Addr() }) {
			continue // ip addr del of an address that is not there fails
		}
		if _, err := l.Exec(n.NS, "ip", "addr", "del", p.String(), "dev", "eth0"); err != nil && !strings.Contains(err.Error(), "Cannot assign") {
			return err
		}
	}
	return nil
}

// KeepalivedPIDs returns the PIDs of keepalived on n: the parent and, once known, its
// VRRP child; none if it does not run.
func (l *Lab) KeepalivedPIDs(n *Node) []int {
	if n.KA == nil || !l.KeepalivedRunning(n) {
		return nil
	}
	n.KA.mu.Lock()
	defer n.KA.mu.Unlock()
	pids := []int{n.KA.proc.rec.PID}
	if n.KA.child != nil {
		pids = append(pids, n.KA.child.PID)
	}
	return pids
}

// KeepalivedOnlyLab is a lab of keepalived load balancers alone, ka1, ka2, ... at the
// given priorities (raftvip's 150/120/100 for a like-for-like comparison), in VRRP
// group g, each tracking its own HAProxy with check if it is not nil. Keepalived is not
// started.
func KeepalivedOnlyLab(g VRRPOptions, check *ScriptCheck, priorities ...int) Options {
	pr := map[string]int{}
	for i, p := range priorities {
		pr[fmt.Sprintf("ka%d", i+1)] = p
	}
	return Options{KeepalivedOnly: true, VRRP: &g, Keepalived: len(priorities), Priorities: pr, KeepalivedCheck: check}
}

// TermAgents sends SIGTERM to the agents of nodes, all at once, waits for them (at
// most timeout each) and returns when the last one exited. An agent that exits
// non-zero is an error.
func (l *Lab) TermAgents(timeout time.Duration, nodes ...*Node) (time.Time, error) {
	var (
		mu   sync.Mutex
		last time.Time
		errs []error
		wg   sync.WaitGroup
	)
	for _, n := range nodes {
		wg.Go(func() {
			code, err := l.Term(n, timeout)
			now := time.Now()
			if err == nil && code != 0 {
				err = fmt.Errorf("lab: agent on %s exited %d after SIGTERM, want 0", n.Name, code)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if now.After(last) {
				last = now
			}
		})
	}
	wg.Wait()
	return last, errors.Join(errs...)
}

// WaitVRRPBackup waits until a node of the cluster holds back for a foreign VRRP
// master (its status reason starts "VRRP backup") and returns it with its status.
// Every node that hears the master says so; the leader places the VIP nowhere.
func (l *Lab) WaitVRRPBackup(ctx context.Context, timeout time.Duration) (*Node, Status, error) {
	deadline := time.Now().Add(timeout)
	for {
		sts, _ := l.Statuses(ctx)
		for _, n := range l.Nodes {
			if st, ok := sts[n]; ok && strings.HasPrefix(st.Reason, "VRRP backup") {
				return n, st, nil
			}
		}
		if time.Now().After(deadline) {
			var parts []string
			for n, st := range sts {
				parts = append(parts, fmt.Sprintf("%s=%s/%q", n.Name, st.State, st.Reason))
			}
			return nil, Status{}, fmt.Errorf("lab: no node says VRRP backup after %v: %s", timeout, strings.Join(parts, " "))
		}
		if err := SleepCtx(ctx, 100*time.Millisecond); err != nil {
			return nil, Status{}, err
		}
	}
}
