package test

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/raftvip/raftvip/test/netnstest"
	"github.com/vishvananda/netns"
)

// Probe timing.
const (
	ProbePeriod  = 10 * time.Millisecond
	ProbeTimeout = 3 * time.Second // a SYN lost on the old holder is retransmitted after 1 s
)

// nsDialer creates every socket inside one network namespace.
type nsDialer struct {
	ns netns.NsHandle
}

// DialContext dials from a thread inside the namespace (netnstest.Do); the connection keeps
// its namespace wherever it is used afterwards.
func (d *nsDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return netnstest.Do(d.ns, func() (net.Conn, error) {
		var nd net.Dialer
		return nd.DialContext(ctx, network, addr)
	})
}

// Client is an HTTP client whose connections start in the client namespace: a new
// connection per request, "Connection: close".
type Client struct {
	ns netns.NsHandle
	hc *http.Client
}

// NewClient opens an HTTP client in namespace ns. Close it when done.
func NewClient(ns string) (*Client, error) {
	h, err := netns.GetFromName(ns)
	if err != nil {
		return nil, fmt.Errorf("probe: open namespace %s: %w", ns, err)
	}
	tr := &http.Transport{
		DialContext:       (&nsDialer{ns: h}).DialContext,
		DisableKeepAlives: true,
		Proxy:             nil,
	}
	return &Client{ns: h, hc: &http.Client{Transport: tr}}, nil
}

// Close releases the namespace handle.
func (c *Client) Close() {
	c.hc.CloseIdleConnections()
	c.ns.Close()
}

// Get requests http://addr/ and returns the trimmed body (the node name) of a 200.
func (c *Client) Get(ctx context.Context, addr netip.Addr) (string, error) {
	url := "http://" + netip.AddrPortFrom(addr, 80).String() + "/"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	req.Close = true
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil {
		return "", fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	node := strings.TrimSpace(string(body))
	if node == "" {
		return "", fmt.Errorf("HTTP 200 with empty body")
	}
	return node, nil
}

// Get does one request from the client namespace to addr (timeout ProbeTimeout) and
// returns the node that answered.
func (l *Lab) Get(addr netip.Addr) (string, error) {
	c, err := NewClient(l.ClientNS)
	if err != nil {
		return "", err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), ProbeTimeout)
	defer cancel()
	return c.Get(ctx, addr)
}

// Result is one probe request.
type Result struct {
	Start, End time.Time
	OK         bool
	Node       string // who answered (the body), if OK
	Err        string
}

// Probe sends an HTTP request through a target address every ProbePeriod from the
// client namespace, each on its own goroutine and connection, and records the outcome.
type Probe struct {
	Target netip.Addr

	c      *Client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}
	once   sync.Once

	mu      sync.Mutex
	results []Result
}

// StartProbe starts probing target (e.g. l.VIP4.Addr()); Close stops it.
func (l *Lab) StartProbe(target netip.Addr) (*Probe, error) {
	c, err := NewClient(l.ClientNS)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Probe{Target: target, c: c, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go p.loop()
	l.addCloser(p.Stop)
	return p, nil
}

func (p *Probe) loop() {
	defer close(p.done)
	tk := time.NewTicker(ProbePeriod)
	defer tk.Stop()
	for {
		p.wg.Add(1)
		go p.one()
		select {
		case <-p.ctx.Done():
			return
		case <-tk.C:
		}
	}
}

func (p *Probe) one() {
	defer p.wg.Done()
	r := Result{Start: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), ProbeTimeout)
	defer cancel()
	node, err := p.c.Get(ctx, p.Target)
	r.End = time.Now()
	if err != nil {
		r.Err = err.Error()
	} else {
		r.OK, r.Node = true, node
	}
	p.mu.Lock()
	p.results = append(p.results, r)
	p.mu.Unlock()
}

// Stop stops sending and waits for the requests in flight (at most ProbeTimeout).
func (p *Probe) Stop() {
	p.once.Do(func() {
		p.cancel()
		<-p.done
		p.wg.Wait()
		p.c.Close()
	})
}

// Results returns the finished requests, in completion order.
func (p *Probe) Results() []Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.results)
}

// WaitFor waits until a finished request satisfies cond and returns it.
func (p *Probe) WaitFor(timeout time.Duration, cond func(Result) bool) (Result, error) {
	return p.WaitForContext(context.Background(), timeout, cond)
}

// WaitForContext is WaitFor with a context.
func (p *Probe) WaitForContext(ctx context.Context, timeout time.Duration, cond func(Result) bool) (Result, error) {
	deadline := time.Now().Add(timeout)
	seen := 0
	for {
		rs := p.Results()
		for _, r := range rs[seen:] {
			if cond(r) {
				return r, nil
			}
		}
		seen = len(rs)
		if time.Now().After(deadline) {
			return Result{}, fmt.Errorf("probe %s: no matching request within %v (%s)", p.Target, timeout, p.Summary(time.Time{}, time.Time{}))
		}
		if err := SleepCtx(ctx, ProbePeriod); err != nil {
			return Result{}, err
		}
	}
}

// FirstSuccessAfter returns the first successful request (by completion) that started
// after t, optionally answered by a node other than the ones in notFrom.
func (p *Probe) FirstSuccessAfter(t time.Time, notFrom ...string) (Result, bool) {
	for _, r := range p.Results() {
		if r.OK && r.Start.After(t) && !slices.Contains(notFrom, r.Node) {
			return r, true
		}
	}
	return Result{}, false
}

// LastAnswer returns the node that answered the last successful request.
func (p *Probe) LastAnswer() (string, bool) {
	rs := p.Results()
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].OK {
			return rs[i].Node, true
		}
	}
	return "", false
}

// ProbeSummary summarises the requests of a window.
type ProbeSummary struct {
	Target    netip.Addr
	Requests  int // requests that started in the window
	Failures  int
	Errors    map[string]int // error text → count
	Answered  map[string]int // node → successful answers
	Gap       time.Duration  // longest interval without a successful completion (see Summary)
	GapStart  time.Time      // success (or first start) before the gap
	GapEnd    time.Time      // success (or last end) after the gap
	LastNode  string         // who answered the last success
	Successes int
	Runs      string // the requests as runs of equal outcome (Probe.Timeline)
}

// Summary summarises the requests that started in [from, to] (zero = open). The gap
// is the longest interval without a successful completion: over the successful
// completions in the window sorted by completion time, bounded by the first request's
// start and the last request's end, so that failures at either edge count.
func (p *Probe) Summary(from, to time.Time) ProbeSummary {
	in := func(t time.Time) bool {
		return (from.IsZero() || !t.Before(from)) && (to.IsZero() || !t.After(to))
	}
	s := ProbeSummary{Target: p.Target, Errors: map[string]int{}, Answered: map[string]int{}}
	var (
		oks         []Result
		first, last time.Time
	)
	for _, r := range p.Results() {
		if !in(r.Start) {
			continue
		}
		if s.Requests == 0 || r.Start.Before(first) {
			first = r.Start
		}
		if s.Requests == 0 || r.End.After(last) {
			last = r.End
		}
		s.Requests++
		if r.OK {
			s.Answered[r.Node]++
			oks = append(oks, r)
		} else {
			s.Failures++
			s.Errors[shortErr(r.Err)]++
		}
	}
	if s.Requests == 0 {
		return s
	}
	s.Runs = p.Timeline(from, to)
	s.Successes = len(oks)
	slices.SortFunc(oks, func(a, b Result) int { return a.End.Compare(b.End) })
	points := []time.Time{first}
	for _, r := range oks {
		points = append(points, r.End)
	}
	points = append(points, last)
	for i := 1; i < len(points); i++ {
		if g := points[i].Sub(points[i-1]); g > s.Gap {
			s.Gap, s.GapStart, s.GapEnd = g, points[i-1], points[i]
		}
	}
	if len(oks) > 0 {
		s.LastNode = oks[len(oks)-1].Node
	}
	return s
}

// Timeline renders the requests that started in [from, to] as runs of equal outcome
// (ok from the same node, or failed with the same error), in start order, relative to
// from (or the first request).
func (p *Probe) Timeline(from, to time.Time) string {
	rs := p.Results()
	slices.SortFunc(rs, func(a, b Result) int { return a.Start.Compare(b.Start) })
	var (
		b     strings.Builder
		t0    = from
		key   string
		count int
		start time.Time
	)
	flush := func() {
		if count > 0 {
			fmt.Fprintf(&b, " +%v %s×%d", start.Sub(t0).Round(time.Millisecond), key, count)
		}
	}
	for _, r := range rs {
		if (!from.IsZero() && r.Start.Before(from)) || (!to.IsZero() && r.Start.After(to)) {
			continue
		}
		if t0.IsZero() {
			t0 = r.Start
		}
		k := "ok:" + r.Node
		if !r.OK {
			k = "fail:" + shortErr(r.Err)
		}
		if k != key {
			flush()
			key, count, start = k, 0, r.Start
		}
		count++
	}
	flush()
	return strings.TrimSpace(b.String())
}

// shortErr strips the request URL from an error so equal causes count together.
func shortErr(e string) string {
	if i := strings.LastIndex(e, ": "); i >= 0 && strings.Contains(e, "http://") {
		return e[i+2:]
	}
	return e
}

func (s ProbeSummary) String() string {
	type kv struct {
		k string
		v int
	}
	var errs []kv
	for k, v := range s.Errors {
		errs = append(errs, kv{k, v})
	}
	slices.SortFunc(errs, func(a, b kv) int { return cmp.Compare(b.v, a.v) })
	var b strings.Builder
	fmt.Fprintf(&b, "probe %s: %d requests, %d failed, longest gap %v, answered %v, last %s",
		s.Target, s.Requests, s.Failures, s.Gap.Round(time.Millisecond), s.Answered, s.LastNode)
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  %d× %s", e.v, e.k)
	}
	if s.Runs != "" {
		runs := s.Runs
		if len(runs) > 1500 {
			runs = runs[:1500] + " …"
		}
		b.WriteString("\n  runs: " + runs)
	}
	return b.String()
}
