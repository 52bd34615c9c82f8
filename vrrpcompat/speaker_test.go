package vrrpcompat

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The speaker's loop over a fake conn and a fake clock: no sockets, no sleeping
// out intervals.

var (
	ourSrc  = netip.MustParseAddr("198.18.0.11")
	member  = netip.MustParseAddr("198.18.0.12")
	foreign = netip.MustParseAddr("198.18.0.14")
	vip1    = netip.MustParseAddr("198.18.0.10")
)

// wait bounds every blocking step of a test.
const wait = 5 * time.Second

type sentPacket struct {
	dst     netip.Addr
	payload []byte
}

// fakeConn delivers packets given to deliver and records sends.
type fakeConn struct {
	src  netip.Addr
	in   chan any // Packet, or a chan struct{} to close once the reader is back
	sent chan sentPacket

	mu       sync.Mutex
	deadline chan struct{} // closed while a past read deadline is set
	expired  bool
	closed   chan struct{}
	once     sync.Once
	sendErr  error
	failed   chan error // every send that failed with sendErr
}

func newFakeConn(src netip.Addr) *fakeConn {
	return &fakeConn{src: src, in: make(chan any), sent: make(chan sentPacket, 64), failed: make(chan error, 64), deadline: make(chan struct{}), closed: make(chan struct{})}
}

func (f *fakeConn) ReadPacket() (Packet, error) {
	for {
		f.mu.Lock()
		dl := f.deadline
		f.mu.Unlock()
		select {
		case v := <-f.in:
			switch v := v.(type) {
			case Packet:
				return v, nil
			case chan struct{}:
				close(v)
			}
		case <-dl:
			return Packet{}, os.ErrDeadlineExceeded
		case <-f.closed:
			return Packet{}, net.ErrClosed
		}
	}
}

func (f *fakeConn) SendTo(payload []byte, dst netip.Addr) error {
	select {
	case <-f.closed:
		return net.ErrClosed
	default:
	}
	f.mu.Lock()
	err := f.sendErr
	f.mu.Unlock()
	if err != nil {
		f.failed <- err
		return err
	}
	f.sent <- sentPacket{dst, bytes.Clone(payload)}
	return nil
}

func (f *fakeConn) SetReadDeadline(t time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case t.IsZero() && f.expired:
		f.deadline, f.expired = make(chan struct{}), false
	case !t.IsZero() && !f.expired:
		close(f.deadline)
		f.expired = true
	}
	return nil
}

func (f *fakeConn) Src() netip.Addr { return f.src }

func (f *fakeConn) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

// deliver hands p to the speaker's reader and returns once it has been handled.
func (f *fakeConn) deliver(t *testing.T, p Packet) {
	t.Helper()
	for _, v := range []any{p, make(chan struct{})} {
		select {
		case f.in <- v:
		case <-time.After(wait):
			t.Fatal("the speaker is not reading")
		}
	}
}

// next returns the next packet sent.
func (f *fakeConn) next(t *testing.T) sentPacket {
	t.Helper()
	select {
	case p := <-f.sent:
		return p
	case <-time.After(wait):
		t.Fatal("no advert sent")
		return sentPacket{}
	}
}

// none checks nothing was sent within a short while.
func (f *fakeConn) none(t *testing.T, why string) {
	t.Helper()
	select {
	case p := <-f.sent:
		t.Errorf("%s: sent %x to %s", why, p.payload, p.dst)
	case <-time.After(50 * time.Millisecond):
	}
}

type fakeTicker struct {
	d       time.Duration
	c       chan time.Time
	resets  chan time.Duration
	stopped chan struct{}
	once    sync.Once
}

func (k *fakeTicker) Chan() <-chan time.Time { return k.c }
func (k *fakeTicker) Reset(d time.Duration)  { k.resets <- d }
func (k *fakeTicker) Stop()                  { k.once.Do(func() { close(k.stopped) }) }

type fakeTimer struct {
	d       time.Duration
	f       func()
	stopped atomic.Bool
}

func (m *fakeTimer) Stop() bool { return !m.stopped.Swap(true) }

// fire runs m's function as time.AfterFunc would, Stop or not.
func fire(m *fakeTimer) {
	m.stopped.Store(true)
	m.f()
}

// fakeClock is the speaker's time: now moves when told, tickers tick when told, and
// AfterFunc timers fire when told.
type fakeClock struct {
	mu      sync.Mutex
	t       time.Time
	timers  []*fakeTimer
	tickers chan *fakeTicker
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), tickers: make(chan *fakeTicker, 8)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) clock() clock {
	return clock{
		now: c.now,
		newTicker: func(d time.Duration) ticker {
			k := &fakeTicker{d: d, c: make(chan time.Time, 1), resets: make(chan time.Duration, 8), stopped: make(chan struct{})}
			c.tickers <- k
			return k
		},
		afterFunc: func(d time.Duration, f func()) timer {
			m := &fakeTimer{d: d, f: f}
			c.mu.Lock()
			c.timers = append(c.timers, m)
			c.mu.Unlock()
			return m
		},
	}
}

// ticker returns the next ticker the speaker makes.
func (c *fakeClock) ticker(t *testing.T) *fakeTicker {
	t.Helper()
	select {
	case k := <-c.tickers:
		return k
	case <-time.After(wait):
		t.Fatal("the speaker made no ticker")
		return nil
	}
}

// pending returns the AfterFunc timers not stopped.
func (c *fakeClock) pending() []*fakeTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*fakeTimer
	for _, m := range c.timers {
		if !m.stopped.Load() {
			out = append(out, m)
		}
	}
	return out
}

// logRecorder keeps the speaker's log records.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// warnings returns the warnings whose reason attribute is reason, with their
// "suppressed" counts (0 if absent).
func (l *logRecorder) warnings(reason string) []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int64
	for _, r := range l.recs {
		if r.Level != slog.LevelWarn {
			continue
		}
		var match bool
		var suppressed int64
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "reason":
				match = a.Value.String() == reason
			case "suppressed":
				suppressed = int64(a.Value.Uint64())
			}
			return true
		})
		if match {
			out = append(out, suppressed)
		}
	}
	return out
}

type harness struct {
	s       *Speaker
	conn    *fakeConn
	clock   *fakeClock
	logs    *logRecorder
	changes atomic.Int64
	cancel  context.CancelFunc
	done    chan error
}

func baseConfig() Config {
	return Config{
		Instance: Instance{Version: 2, VRID: 51, AuthPass: "secret", Interval: time.Second},
		Conn:     ConnConfig{Interface: "eth0", Family: 4},
		Addrs:    []netip.Addr{vip1},
		Checksum: ChecksumPseudoHeader,
		IsMember: func(a netip.Addr) bool { return a == member },
	}
}

// start runs a speaker for cfg over a fake conn until the test ends.
func start(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{conn: newFakeConn(ourSrc), clock: newFakeClock(), logs: &logRecorder{}, done: make(chan error, 1)}
	cfg.Logger = slog.New(h.logs)
	cfg.OnChange = func() { h.changes.Add(1) }
	if err := checkConfig(cfg); err != nil {
		t.Fatal(err)
	}
	h.s = newSpeaker(cfg, h.conn, h.clock.clock())
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(wait):
			t.Error("Run did not return after cancel")
		}
		_ = h.s.Close()
	})
	return h
}

// parseSent parses an advert the speaker sent from ourSrc.
func parseSent(t *testing.T, p sentPacket) Advert {
	t.Helper()
	a, err := Parse(p.payload, ourSrc, p.dst)
	if err != nil {
		t.Fatalf("the speaker sent an advert that does not parse: %v (%x)", err, p.payload)
	}
	return a
}

// foreignAdvert is a valid advert for baseConfig from another router.
func foreignAdvert(t *testing.T, src netip.Addr, prio uint8, mutate func(*Advert)) Packet {
	t.Helper()
	a := Advert{Version: 2, VRID: 51, Priority: prio, AuthType: 1, Interval: time.Second, Addrs: []netip.Addr{vip1}}
	copy(a.AuthData[:], "secret")
	if mutate != nil {
		mutate(&a)
	}
	b, err := a.Marshal(src, groupIPv4, ChecksumPseudoHeader)
	if err != nil {
		t.Fatal(err)
	}
	return Packet{Src: src, Dst: groupIPv4, TTL: 255, Payload: b}
}

func TestMasterAdvertisesEveryInterval(t *testing.T) {
	h := start(t, baseConfig())

	h.s.SetMaster(true, 150)
	p := h.conn.next(t) // at once, not one interval later
	if p.dst != groupIPv4 {
		t.Errorf("advert sent to %s, want %s", p.dst, groupIPv4)
	}
	a := parseSent(t, p)
	if a.Priority != 150 || a.VRID != 51 || a.Version != 2 || a.Interval != time.Second || a.AuthType != 1 ||
		string(bytes.TrimRight(a.AuthData[:], "\x00")) != "secret" || len(a.Addrs) != 1 || a.Addrs[0] != vip1 {
		t.Errorf("first advert %+v", a)
	}
	k := h.clock.ticker(t)
	if k.d != time.Second {
		t.Errorf("ticker interval %s, want the instance's 1s", k.d)
	}

	for i := range 3 {
		k.c <- h.clock.now()
		if a := parseSent(t, h.conn.next(t)); a.Priority != 150 {
			t.Errorf("tick %d: priority %d, want 150", i, a.Priority)
		}
	}
	h.s.SetPriority(120)
	k.c <- h.clock.now()
	if a := parseSent(t, h.conn.next(t)); a.Priority != 120 {
		t.Errorf("after SetPriority(120): priority %d", a.Priority)
	}
	h.s.SetMaster(true, 130) // already master: no extra advert, new priority
	h.conn.none(t, "SetMaster(true) while master")
	k.c <- h.clock.now()
	if a := parseSent(t, h.conn.next(t)); a.Priority != 130 {
		t.Errorf("after SetMaster(true, 130): priority %d", a.Priority)
	}

	h.s.SetMaster(false, 0)
	select {
	case <-k.stopped:
	case <-time.After(wait):
		t.Fatal("ticker not stopped after SetMaster(false)")
	}
	h.conn.none(t, "after SetMaster(false)")
	if st := h.s.Stats(); st.Sent != 6 {
		t.Errorf("Sent %d, want 6", st.Sent)
	}

	// Master again: one advert at once and a fresh ticker.
	h.s.SetMaster(true, 200)
	if a := parseSent(t, h.conn.next(t)); a.Priority != 200 {
		t.Errorf("second term: priority %d", a.Priority)
	}
	if k2 := h.clock.ticker(t); k2.d != time.Second {
		t.Errorf("second ticker interval %s", k2.d)
	}
}

func TestPriorityClamped(t *testing.T) {
	h := start(t, baseConfig())
	h.s.SetMaster(true, 300)
	if a := parseSent(t, h.conn.next(t)); a.Priority != 254 {
		t.Errorf("SetMaster(true, 300) advertised %d, want 254 (255 is the address owner's)", a.Priority)
	}
	h.s.SetPriority(-5)
	h.s.AdvertNow()
	if a := parseSent(t, h.conn.next(t)); a.Priority != 1 {
		t.Errorf("SetPriority(-5) advertised %d, want 1 (0 means resign)", a.Priority)
	}
}

func TestResignSendsPriorityZero(t *testing.T) {
	h := start(t, baseConfig())
	h.s.SetMaster(true, 150)
	h.conn.next(t)
	k := h.clock.ticker(t)

	h.s.Resign()
	if a := parseSent(t, h.conn.next(t)); a.Priority != 0 {
		t.Errorf("Resign advertised priority %d, want 0", a.Priority)
	}
	select {
	case <-k.stopped:
	case <-time.After(wait):
		t.Fatal("still advertising after Resign")
	}

	// Resign after Run ended still goes out (the socket stays open until Close).
	h.cancel()
	if err := <-h.done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	h.done <- nil // for the cleanup
	h.s.Resign()
	if a := parseSent(t, h.conn.next(t)); a.Priority != 0 {
		t.Errorf("Resign after Run: priority %d", a.Priority)
	}
}

func TestAdvertNow(t *testing.T) {
	h := start(t, baseConfig())
	h.s.SetMaster(true, 180)
	h.conn.next(t)
	h.s.AdvertNow()
	if a := parseSent(t, h.conn.next(t)); a.Priority != 180 {
		t.Errorf("AdvertNow priority %d, want 180", a.Priority)
	}
}

// A v3 advert's checksum covers the destination: one Marshal per unicast peer. Our
// own address among the peers gets nothing.
func TestUnicastV3OneAdvertPerPeer(t *testing.T) {
	cfg := baseConfig()
	peers := []netip.Addr{netip.MustParseAddr("198.18.0.14"), ourSrc, netip.MustParseAddr("198.18.0.15")}
	cfg.Instance = Instance{Version: 3, VRID: 51, Interval: 100 * time.Millisecond}
	cfg.Conn.Peers = peers
	h := start(t, cfg)
	h.s.SetMaster(true, 150)
	a, b := h.conn.next(t), h.conn.next(t)
	h.conn.none(t, "a third copy")
	if a.dst != peers[0] || b.dst != peers[2] {
		t.Errorf("sent to %s and %s, want %s and %s", a.dst, b.dst, peers[0], peers[2])
	}
	for _, p := range []sentPacket{a, b} {
		if adv := parseSent(t, p); adv.Version != 3 || adv.Interval != 100*time.Millisecond || adv.Priority != 150 {
			t.Errorf("advert to %s: %+v", p.dst, adv)
		}
	}
	if bytes.Equal(a.payload, b.payload) {
		t.Error("both peers got the same bytes; the v3 pseudo-header checksum depends on the destination")
	}
	if st := h.s.Stats(); st.Sent != 2 {
		t.Errorf("Sent %d, want 2 (one per peer)", st.Sent)
	}
}

func TestMemberAndOwnAdvertsIgnored(t *testing.T) {
	h := start(t, baseConfig())
	h.conn.deliver(t, foreignAdvert(t, member, 200, nil))
	h.conn.deliver(t, foreignAdvert(t, ourSrc, 200, nil))
	st := h.s.Stats()
	if st.Received != 2 || st.Accepted != 0 || st.Dropped[ReasonMember] != 2 || len(st.Routers) != 0 {
		t.Errorf("stats %+v, want 2 received, 2 member drops, no routers", st)
	}
	if n := h.changes.Load(); n != 0 {
		t.Errorf("OnChange ran %d times for the cluster's own adverts", n)
	}
	if v := h.s.Verdict(Self{Priority: 100, Preempt: true, Interval: time.Second, Version: 2}, h.clock.now()); v.Blocked || v.Master != nil {
		t.Errorf("verdict %+v after members' adverts only", v)
	}
	if w := h.logs.warnings(string(ReasonMember)); len(w) != 0 {
		t.Errorf("members' adverts logged %d warnings", len(w))
	}
}

func TestBadPacketsCountedByReason(t *testing.T) {
	h := start(t, baseConfig())
	ttl64 := foreignAdvert(t, foreign, 200, nil)
	ttl64.TTL = 64
	badSum := foreignAdvert(t, foreign, 200, nil)
	badSum.Payload[7] ^= 0xff
	short := foreignAdvert(t, foreign, 200, nil)
	short.Payload = short.Payload[:5]
	for _, p := range []Packet{
		ttl64,
		ttl64,
		foreignAdvert(t, foreign, 200, func(a *Advert) { a.VRID = 52 }),
		foreignAdvert(t, foreign, 200, func(a *Advert) { copy(a.AuthData[:], "wrong\x00\x00\x00") }),
		foreignAdvert(t, foreign, 200, func(a *Advert) { a.Interval = 2 * time.Second }),
		foreignAdvert(t, foreign, 200, func(a *Advert) { a.Version = 3; a.AuthType = 0; a.AuthData = [8]byte{} }),
		badSum,
		short,
	} {
		h.conn.deliver(t, p)
	}
	st := h.s.Stats()
	want := map[Reason]uint64{ReasonTTL: 2, ReasonVRID: 1, ReasonAuth: 1, ReasonInterval: 1, ReasonVersion: 1, ReasonChecksum: 1, ReasonTruncated: 1}
	for r, n := range want {
		if st.Dropped[r] != n {
			t.Errorf("Dropped[%s] = %d, want %d (all: %v)", r, st.Dropped[r], n, st.Dropped)
		}
	}
	if len(st.Dropped) != len(want) {
		t.Errorf("Dropped %v, want exactly %v", st.Dropped, want)
	}
	if st.Received != 8 || st.Accepted != 0 || len(st.Routers) != 0 {
		t.Errorf("received %d accepted %d routers %v, want 8, 0, none", st.Received, st.Accepted, st.Routers)
	}
	if n := h.changes.Load(); n != 0 {
		t.Errorf("OnChange ran %d times for dropped packets", n)
	}

	// One warning per reason per minute, then one that counts those skipped.
	if w := h.logs.warnings("ttl"); len(w) != 1 {
		t.Errorf("%d ttl warnings for two drops within a minute, want 1", len(w))
	}
	if w := h.logs.warnings("vrid"); len(w) != 0 {
		t.Errorf("another VRID's adverts are routine on a shared link: %d warnings, want debug only", len(w))
	}
	h.clock.advance(30 * time.Second)
	h.conn.deliver(t, ttl64)
	h.clock.advance(31 * time.Second)
	h.conn.deliver(t, ttl64)
	if w := h.logs.warnings("ttl"); len(w) != 2 || w[1] != 2 {
		t.Errorf("ttl warnings (suppressed counts) %v, want [0 2]", w)
	}
	if st := h.s.Stats(); st.Dropped[ReasonTTL] != 4 {
		t.Errorf("Dropped[ttl] = %d, want every drop counted (4)", st.Dropped[ReasonTTL])
	}
}

func TestOnChangeForeignRouter(t *testing.T) {
	h := start(t, baseConfig())
	self := Self{Priority: 150, Addr: ourSrc, Preempt: true, Interval: time.Second, Version: 2}

	h.conn.deliver(t, foreignAdvert(t, foreign, 200, nil))
	if n := h.changes.Load(); n != 1 {
		t.Fatalf("OnChange ran %d times for a new router, want 1", n)
	}
	st := h.s.Stats()
	if st.Accepted != 1 || len(st.Routers) != 1 || st.Routers[0].Addr != foreign || st.Routers[0].Priority != 200 {
		t.Errorf("stats %+v", st)
	}
	v := h.s.Verdict(self, h.clock.now())
	if !v.Blocked || v.Master == nil || v.Master.Addr != foreign {
		t.Errorf("verdict %+v, want blocked by %s", v, foreign)
	}

	// The same advert again changes nothing.
	h.clock.advance(time.Second)
	h.conn.deliver(t, foreignAdvert(t, foreign, 200, nil))
	if n := h.changes.Load(); n != 1 {
		t.Errorf("OnChange ran for a repeated advert (%d)", n)
	}
	// A new priority does.
	h.conn.deliver(t, foreignAdvert(t, foreign, 100, nil))
	if n := h.changes.Load(); n != 2 {
		t.Errorf("OnChange count %d after a priority change, want 2", n)
	}
	if v := h.s.Verdict(self, h.clock.now()); !v.Preempt || v.Blocked {
		t.Errorf("verdict %+v, want preempt of the lower master", v)
	}
	// So does resigning.
	h.conn.deliver(t, foreignAdvert(t, foreign, 0, nil))
	if n := h.changes.Load(); n != 3 {
		t.Errorf("OnChange count %d after priority 0, want 3", n)
	}

	// Silence: one lost-router timer, due after the skew that follows priority 0
	// (v2: at most 1 s); firing it reports the change.
	timers := h.clock.pending()
	if len(timers) != 1 {
		t.Fatalf("%d lost-router timers pending, want 1", len(timers))
	}
	if want := time.Second + lostMargin; timers[0].d != want {
		t.Errorf("lost-router timer after priority 0: %s, want %s", timers[0].d, want)
	}
	h.clock.advance(timers[0].d)
	fire(timers[0])
	if n := h.changes.Load(); n != 4 {
		t.Errorf("OnChange count %d after the router went silent, want 4", n)
	}
	if v := h.s.Verdict(self, h.clock.now()); v.Blocked || v.Master != nil {
		t.Errorf("verdict %+v once the router's timer ran out", v)
	}

	// Back again: reported as new.
	h.conn.deliver(t, foreignAdvert(t, foreign, 200, nil))
	if n := h.changes.Load(); n != 5 {
		t.Errorf("OnChange count %d when the router came back, want 5", n)
	}
	if timers := h.clock.pending(); len(timers) != 1 || timers[0].d != 3*time.Second+time.Second+lostMargin {
		t.Errorf("lost-router timers %v, want one of 3×1s + 1s skew + margin", timers)
	}
}

// A stale lost-router timer (the router spoke again meanwhile) reports nothing.
func TestStaleLostTimer(t *testing.T) {
	h := start(t, baseConfig())
	h.conn.deliver(t, foreignAdvert(t, foreign, 200, nil))
	first := h.clock.pending()[0]
	h.conn.deliver(t, foreignAdvert(t, foreign, 200, nil))
	if !first.stopped.Load() {
		t.Error("the first timer was not stopped by the second advert")
	}
	fire(first) // raced past Stop
	if n := h.changes.Load(); n != 1 {
		t.Errorf("OnChange count %d, want 1 (the stale timer must not report)", n)
	}
}

func TestVerdictFillsOurAddress(t *testing.T) {
	h := start(t, baseConfig())
	h.conn.deliver(t, foreignAdvert(t, netip.MustParseAddr("198.18.0.5"), 150, nil))
	// Equal priority: the higher address wins. Ours (198.18.0.11) is higher, so the
	// foreign master is preempted, also when the caller left Self.Addr unset or gave
	// an address of the other family.
	for _, addr := range []netip.Addr{{}, netip.MustParseAddr("2001:2::1")} {
		v := h.s.Verdict(Self{Priority: 150, Addr: addr, Preempt: true, Interval: time.Second, Version: 2}, h.clock.now())
		if v.Blocked || !v.Preempt {
			t.Errorf("Self.Addr %v: verdict %+v, want preempt (our source %s is higher)", addr, v, ourSrc)
		}
	}
}

func TestSendErrorsWarnedNotFatal(t *testing.T) {
	h := start(t, baseConfig())
	h.conn.mu.Lock()
	h.conn.sendErr = errors.New("operation not permitted")
	h.conn.mu.Unlock()
	h.s.SetMaster(true, 150)
	k := h.clock.ticker(t)
	k.c <- h.clock.now()
	for range 2 { // SetMaster's advert and the tick's
		select {
		case <-h.conn.failed:
		case <-time.After(wait):
			t.Fatal("no failed send")
		}
	}
	h.conn.mu.Lock()
	h.conn.sendErr = nil
	h.conn.mu.Unlock()
	k.c <- h.clock.now()
	h.conn.next(t)
	if st := h.s.Stats(); st.Sent != 1 {
		t.Errorf("Sent %d, want only the successful advert (1)", st.Sent)
	}
	h.logs.mu.Lock()
	var n int
	for _, r := range h.logs.recs {
		if r.Level == slog.LevelWarn && strings.Contains(r.Message, "cannot send") {
			n++
		}
	}
	h.logs.mu.Unlock()
	if n != 1 {
		t.Errorf("%d send warnings for two failures within a minute, want 1", n)
	}
}

func TestRunReturnsOnCloseAndReadError(t *testing.T) {
	h := start(t, baseConfig())
	if err := h.s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("Run after Close: %v, want nil", err)
		}
		h.done <- nil
	case <-time.After(wait):
		t.Fatal("Run did not return after Close")
	}

	c := &errConn{fakeConn: newFakeConn(ourSrc), err: errors.New("boom")}
	s := newSpeaker(baseConfig(), c, newFakeClock().clock())
	if err := s.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Run with a failing socket: %v, want the read error", err)
	}
}

type errConn struct {
	*fakeConn
	err error
}

func (c *errConn) ReadPacket() (Packet, error) { return Packet{}, c.err }

func TestNewSpeakerRejectsBadConfig(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"version":  func(c *Config) { c.Instance.Version = 4 },
		"vrid":     func(c *Config) { c.Instance.VRID = 0 },
		"interval": func(c *Config) { c.Instance.Interval = 0 },
		"no addrs": func(c *Config) { c.Addrs = nil },
	} {
		cfg := baseConfig()
		mutate(&cfg)
		if _, err := NewSpeaker(cfg); err == nil {
			t.Errorf("%s: NewSpeaker accepted %+v", name, cfg)
		}
	}
}
