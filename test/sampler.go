package test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// SamplePeriod is how often the sampler reads every node's addresses.
const SamplePeriod = 10 * time.Millisecond

// nsAddrs reads the addresses of eth0 in one namespace over netlink.
type nsAddrs struct {
	h    *netlink.Handle
	link netlink.Link
}

func openNSAddrs(ns string) (*nsAddrs, error) {
	nsh, err := netns.GetFromName(ns)
	if err != nil {
		return nil, fmt.Errorf("lab: open namespace %s: %w", ns, err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		return nil, fmt.Errorf("lab: netlink handle in %s: %w", ns, err)
	}
	link, err := h.LinkByName("eth0")
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("lab: eth0 in %s: %w", ns, err)
	}
	return &nsAddrs{h: h, link: link}, nil
}

func (a *nsAddrs) list() ([]netip.Prefix, error) {
	var (
		addrs []netlink.Addr
		err   error
	)
	for range 3 {
		addrs, err = a.h.AddrList(a.link, netlink.FAMILY_ALL)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	out := make([]netip.Prefix, 0, len(addrs))
	for _, ad := range addrs {
		ip, ok := netip.AddrFromSlice(ad.IP)
		if !ok {
			continue
		}
		ones, _ := ad.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
	}
	return out, nil
}

func (a *nsAddrs) close() { a.h.Close() }

// Addrs returns the addresses on n's eth0, read over netlink.
func (l *Lab) Addrs(n *Node) ([]netip.Prefix, error) {
	a, err := openNSAddrs(n.NS)
	if err != nil {
		return nil, err
	}
	defer a.close()
	return a.list()
}

// KernelHolds reports whether n's eth0 has every VIP of the first group (with
// Options.Groups; else every configured VIP).
func (l *Lab) KernelHolds(n *Node) (bool, error) {
	vips := l.VIPs()
	if len(l.opts.Groups) > 0 {
		vips = vips[:1]
	}
	return l.kernelHas(n, vips...)
}

// kernelHas reports whether n's eth0 has every address of vips.
func (l *Lab) kernelHas(n *Node, vips ...netip.Addr) (bool, error) {
	addrs, err := l.Addrs(n)
	if err != nil {
		return false, err
	}
	for _, v := range vips {
		if !slices.ContainsFunc(addrs, func(p netip.Prefix) bool { return p.Addr() == v }) {
			return false, nil
		}
	}
	return true, nil
}

// Sampler records, every SamplePeriod, which nodes have each VIP on eth0 (the kernel's
// view, read over netlink in every namespace): the load balancers and the keepalived
// nodes. Nodes are read one after the other
// within a round, all within well under a millisecond.
type Sampler struct {
	lab   *Lab
	vips  []netip.Addr
	nodes []*Node

	mu      sync.Mutex
	samples []sample
	errs    int
	lastErr error

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type sample struct {
	at   time.Time
	held []uint64 // per VIP: bit i set = Sampler.nodes[i] has it
}

// StartSampler starts sampling all VIPs on all nodes; Close stops it.
func (l *Lab) StartSampler() (*Sampler, error) {
	nodes := l.AllNodes()
	if len(nodes) > 64 {
		return nil, errors.New("lab: sampler: more than 64 nodes")
	}
	handles := make([]*nsAddrs, len(nodes))
	for i, n := range nodes {
		a, err := openNSAddrs(n.NS)
		if err != nil {
			for _, h := range handles[:i] {
				h.close()
			}
			return nil, err
		}
		handles[i] = a
	}
	s := &Sampler{lab: l, vips: l.sampledVIPs(), nodes: nodes, stop: make(chan struct{}), done: make(chan struct{})}
	s.round(handles) // one sample before returning, so "now" is covered
	go s.loop(handles)
	l.addCloser(s.Stop)
	return s, nil
}

// sampledVIPs are the VIPs the sampler reads: the lab's, and those of every
// vrrp_instance a keepalived node was configured with (extra instances included).
func (l *Lab) sampledVIPs() []netip.Addr {
	vips := append(l.VIPs(), l.opts.ExtraVIPs...)
	for _, n := range l.KANodes {
		for _, p := range l.KeepalivedVIPs(n) {
			if !slices.Contains(vips, p.Addr()) {
				vips = append(vips, p.Addr())
			}
		}
	}
	return vips
}

func (s *Sampler) loop(handles []*nsAddrs) {
	defer close(s.done)
	defer func() {
		for _, h := range handles {
			h.close()
		}
	}()
	tk := time.NewTicker(SamplePeriod)
	defer tk.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tk.C:
			s.round(handles)
		}
	}
}

func (s *Sampler) round(handles []*nsAddrs) {
	smp := sample{at: time.Now(), held: make([]uint64, len(s.vips))}
	var errs []error
	for i, h := range handles {
		addrs, err := h.list()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.nodes[i].Name, err))
			continue
		}
		for vi, v := range s.vips {
			for _, p := range addrs {
				if p.Addr() == v {
					smp.held[vi] |= 1 << i
				}
			}
		}
	}
	s.mu.Lock()
	s.samples = append(s.samples, smp)
	if len(errs) > 0 {
		s.errs++
		s.lastErr = errors.Join(errs...)
	}
	s.mu.Unlock()
}

// Stop stops sampling (idempotent); the samples stay readable.
func (s *Sampler) Stop() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}

// Errors returns the number of rounds with a read error and the last error.
func (s *Sampler) Errors() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errs, s.lastErr
}

func (s *Sampler) vipIndex(vip netip.Addr) int {
	i := slices.Index(s.vips, vip)
	if i < 0 {
		panic(fmt.Sprintf("sampler: %s is not a VIP of this lab", vip))
	}
	return i
}

func (s *Sampler) names(mask uint64) []string {
	var out []string
	for i, n := range s.nodes {
		if mask&(1<<i) != 0 {
			out = append(out, n.Name)
		}
	}
	return out
}

func (s *Sampler) snapshot() []sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.samples)
}

// Holders returns the nodes that had vip in the latest sample.
func (s *Sampler) Holders(vip netip.Addr) []string {
	vi := s.vipIndex(vip)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) == 0 {
		return nil
	}
	return s.names(s.samples[len(s.samples)-1].held[vi])
}

// WaitHolders waits until the holders of vip in a new sample satisfy cond; it returns
// them, or an error after timeout.
func (s *Sampler) WaitHolders(vip netip.Addr, timeout time.Duration, cond func(holders []string) bool) ([]string, error) {
	deadline := time.Now().Add(timeout)
	for {
		h := s.Holders(vip)
		if cond(h) {
			return h, nil
		}
		if time.Now().After(deadline) {
			return h, fmt.Errorf("sampler: %s: holders %v after %v", vip, h, timeout)
		}
		time.Sleep(SamplePeriod)
	}
}

// LastHeld returns the time of the last sample in which n had vip.
func (s *Sampler) LastHeld(vip netip.Addr, n *Node) (time.Time, bool) {
	vi := s.vipIndex(vip)
	bit := uint64(1) << slices.Index(s.nodes, n)
	smp := s.snapshot()
	for i := len(smp) - 1; i >= 0; i-- {
		if smp[i].held[vi]&bit != 0 {
			return smp[i].at, true
		}
	}
	return time.Time{}, false
}

// FirstHeldAfter returns the time of the first sample at or after t in which n had vip.
func (s *Sampler) FirstHeldAfter(vip netip.Addr, n *Node, t time.Time) (time.Time, bool) {
	vi := s.vipIndex(vip)
	bit := uint64(1) << slices.Index(s.nodes, n)
	for _, smp := range s.snapshot() {
		if !smp.at.Before(t) && smp.held[vi]&bit != 0 {
			return smp.at, true
		}
	}
	return time.Time{}, false
}

// LastHeldBefore returns the time of the last sample before t in which any of nodes
// had vip.
func (s *Sampler) LastHeldBefore(vip netip.Addr, t time.Time, nodes ...*Node) (time.Time, bool) {
	vi := s.vipIndex(vip)
	var mask uint64
	for _, n := range nodes {
		mask |= uint64(1) << slices.Index(s.nodes, n)
	}
	smp := s.snapshot()
	for i := len(smp) - 1; i >= 0; i-- {
		if smp[i].at.Before(t) && smp[i].held[vi]&mask != 0 {
			return smp[i].at, true
		}
	}
	return time.Time{}, false
}

// HeldNear reports whether a sample within slack of t shows n holding vip.
func (s *Sampler) HeldNear(vip netip.Addr, n *Node, t time.Time, slack time.Duration) bool {
	vi := s.vipIndex(vip)
	bit := uint64(1) << slices.Index(s.nodes, n)
	for _, smp := range s.snapshot() {
		if smp.held[vi]&bit != 0 && smp.at.After(t.Add(-slack)) && smp.at.Before(t.Add(slack)) {
			return true
		}
	}
	return false
}

// Filter selects the samples and nodes a Summary looks at. Zero From/To mean open.
type Filter struct {
	From, To time.Time
	Exclude  []*Node // ignore these nodes (e.g. one whose agent was SIGKILLed)
}

// Interval is a stretch of samples with two or more holders.
type Interval struct {
	Start, End time.Time // End: the first sample after it with fewer than two, or the last sample
	Nodes      []string  // every node that held it during the interval
}

// Duration is End - Start.
func (iv Interval) Duration() time.Duration { return iv.End.Sub(iv.Start) }

// Change is one entry of a holder timeline.
type Change struct {
	At      time.Time
	Holders []string
}

// HolderSummary summarises the samples of one VIP.
type HolderSummary struct {
	VIP            netip.Addr
	Samples        int
	MaxHolders     int
	MultiSamples   int           // samples with two or more holders
	MultiDuration  time.Duration // total length of Intervals
	MultiIntervals []Interval
	Timeline       []Change // the holder set whenever it changed (first sample included)
}

// Summary computes the HolderSummary of vip over the samples selected by f.
func (s *Sampler) Summary(vip netip.Addr, f Filter) HolderSummary {
	vi := s.vipIndex(vip)
	var exclude uint64
	for _, n := range f.Exclude {
		if i := slices.Index(s.nodes, n); i >= 0 {
			exclude |= 1 << i
		}
	}
	sum := HolderSummary{VIP: vip}
	var (
		cur     *Interval
		curMask uint64
		prev    = ^uint64(0)
	)
	closeIv := func(end time.Time) {
		if cur != nil {
			cur.End = end
			cur.Nodes = s.names(curMask)
			sum.MultiDuration += cur.Duration()
			sum.MultiIntervals = append(sum.MultiIntervals, *cur)
			cur = nil
		}
	}
	var last time.Time
	for _, smp := range s.snapshot() {
		if (!f.From.IsZero() && smp.at.Before(f.From)) || (!f.To.IsZero() && smp.at.After(f.To)) {
			continue
		}
		last = smp.at
		m := smp.held[vi] &^ exclude
		c := bits.OnesCount64(m)
		sum.Samples++
		sum.MaxHolders = max(sum.MaxHolders, c)
		if m != prev {
			sum.Timeline = append(sum.Timeline, Change{At: smp.at, Holders: s.names(m)})
			prev = m
		}
		if c >= 2 {
			sum.MultiSamples++
			if cur == nil {
				cur = &Interval{Start: smp.at}
				curMask = 0
			}
			curMask |= m
		} else {
			closeIv(smp.at)
		}
	}
	closeIv(last)
	return sum
}

// String renders the summary on a few lines for test logs.
func (h HolderSummary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d samples, max %d holders, %d samples with ≥2 holders (%v)",
		h.VIP, h.Samples, h.MaxHolders, h.MultiSamples, h.MultiDuration.Round(time.Millisecond))
	for _, iv := range h.MultiIntervals {
		fmt.Fprintf(&b, "\n  ≥2 holders %s for %v: %v", iv.Start.Format("15:04:05.000"), iv.Duration().Round(time.Millisecond), iv.Nodes)
	}
	if len(h.Timeline) > 0 {
		b.WriteString("\n  timeline:")
		t0 := h.Timeline[0].At
		for _, c := range h.Timeline {
			fmt.Fprintf(&b, " +%v%v", c.At.Sub(t0).Round(time.Millisecond), c.Holders)
		}
	}
	return b.String()
}

// WaitSoleHolder waits until want alone, of all the lab's nodes, has had the IPv4 VIP
// on eth0 for steady without a break (the kernel's view, read every SamplePeriod), at
// most timeout. It names the holders it saw last when it gives up.
func (l *Lab) WaitSoleHolder(ctx context.Context, want *Node, steady, timeout time.Duration) error {
	return l.WaitSoleHolders(ctx, map[netip.Addr]*Node{l.VIP4.Addr(): want}, steady, timeout)
}

// WaitSoleHolders is WaitSoleHolder for several VIPs at once: every VIP of want on its
// node alone, all of them together for steady without a break.
func (l *Lab) WaitSoleHolders(ctx context.Context, want map[netip.Addr]*Node, steady, timeout time.Duration) error {
	nodes := l.AllNodes()
	handles := make([]*nsAddrs, 0, len(nodes))
	defer func() {
		for _, h := range handles {
			h.close()
		}
	}()
	for _, n := range nodes {
		h, err := openNSAddrs(n.NS)
		if err != nil {
			return err
		}
		handles = append(handles, h)
	}
	vips := slices.SortedFunc(maps.Keys(want), netip.Addr.Compare)
	deadline := time.Now().Add(timeout)
	var (
		since   time.Time
		holders = map[netip.Addr][]string{}
	)
	for {
		clear(holders)
		for i, h := range handles {
			addrs, err := h.list()
			if err != nil {
				return err
			}
			for _, vip := range vips {
				if slices.ContainsFunc(addrs, func(p netip.Prefix) bool { return p.Addr() == vip }) {
					holders[vip] = append(holders[vip], nodes[i].Name)
				}
			}
		}
		var wrong []string
		for _, vip := range vips {
			if hs := holders[vip]; len(hs) != 1 || hs[0] != want[vip].Name {
				wrong = append(wrong, fmt.Sprintf("%s wanted on %s alone, held by %v", vip, want[vip].Name, hs))
			}
		}
		now := time.Now()
		switch {
		case len(wrong) > 0:
			since = time.Time{}
		case since.IsZero():
			since = now
		case now.Sub(since) >= steady:
			return nil
		}
		if now.After(deadline) {
			if len(vips) == 1 {
				vip := vips[0]
				return fmt.Errorf("lab: %s not the only holder of %s for %v within %v (holders %v)", want[vip].Name, vip, steady, timeout, holders[vip])
			}
			return fmt.Errorf("lab: VIPs not each on their node alone for %v within %v: %s", steady, timeout, strings.Join(wrong, "; "))
		}
		if err := SleepCtx(ctx, SamplePeriod); err != nil {
			return err
		}
	}
}
