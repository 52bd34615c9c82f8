package vrrpcompat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The runtime around the codec and the tracker: one reader that parses, checks,
// counts and feeds the tracker, and a master's advert timer. Sends happen in the
// caller's goroutine (SetMaster, Resign, AdvertNow) or in Run (the interval), one
// at a time.

// ReasonMember counts adverts from cluster members and from our own source address:
// the cluster's own adverts, not a foreign router's.
const ReasonMember Reason = "member"

// reasonMalformed counts a Parse error that is not a *DropError (should not happen).
const reasonMalformed Reason = "malformed"

const (
	warnEvery = time.Minute // at most one warning per drop reason per minute
	// lostMargin is added to a foreign router's master-down interval before the
	// speaker reports it lost, so the tracker agrees it is gone when OnChange runs.
	lostMargin = 10 * time.Millisecond
	// VRRP priorities (RFC 3768 §5.3.4): 0 = the master resigns, 255 = the address
	// owner, which raftvip never is.
	minPriority = 1
	maxPriority = 254
)

// Config is a VRRP speaker and listener for one cluster node.
type Config struct {
	Instance Instance
	Conn     ConnConfig
	Addrs    []netip.Addr // the VIPs to advertise, in configured order
	Checksum ChecksumMode
	// IsMember reports source addresses of cluster members: their adverts are
	// ignored (counted as "member"). Nil: no members besides ourselves.
	IsMember func(netip.Addr) bool
	Logger   *slog.Logger // nil: discard
	// OnChange runs when the verdict may have changed: a foreign router appeared,
	// changed priority, interval or version, resigned (priority 0), or went silent
	// for its master-down interval. It runs in the speaker's goroutines and must not
	// block.
	OnChange func()
}

// Stats are the speaker's counters, for status.
type Stats struct {
	Sent     uint64            // VRRP packets sent (one per peer in unicast mode)
	Received uint64            // VRRP packets read from the socket
	Accepted uint64            // foreign adverts that passed every check
	Dropped  map[Reason]uint64 // by reason, plus "member" for the cluster's own adverts
	Routers  []Router          // the foreign routers heard, sorted by address
}

// conn is what the speaker needs of a Conn; tests substitute a fake.
type conn interface {
	ReadPacket() (Packet, error)
	SendTo(payload []byte, dst netip.Addr) error
	SetReadDeadline(t time.Time) error
	Src() netip.Addr
	Close() error
}

// ticker is a time.Ticker; tests substitute a fake.
type ticker interface {
	Chan() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

// timer is a time.Timer made by AfterFunc; tests substitute a fake.
type timer interface {
	Stop() bool
}

// clock is the speaker's time.
type clock struct {
	now       func() time.Time
	newTicker func(d time.Duration) ticker
	afterFunc func(d time.Duration, f func()) timer
}

type realTicker struct{ *time.Ticker }

func (t realTicker) Chan() <-chan time.Time { return t.C }

func systemClock() clock {
	return clock{
		now:       time.Now,
		newTicker: func(d time.Duration) ticker { return realTicker{time.NewTicker(d)} },
		afterFunc: func(d time.Duration, f func()) timer { return time.AfterFunc(d, f) },
	}
}

// Speaker is the cluster's VRRP presence on one node: it listens to the link, keeps
// a Tracker of the foreign routers, and while this node is master advertises the
// VIPs every Instance.Interval. Its methods are safe for concurrent use.
type Speaker struct {
	cfg     Config
	conn    conn
	clock   clock
	log     *slog.Logger
	tracker *Tracker
	src     netip.Addr    // our adverts' source
	dsts    []netip.Addr  // where they go: the group or the peers, never src
	kick    chan struct{} // master state changed: Run re-arms its ticker

	stopping  atomic.Bool // Run is unblocking the reader; its timeout is no error
	closeOnce sync.Once
	closeErr  error

	sendMu sync.Mutex // one advert at a time, so they leave in order

	mu         sync.Mutex
	master     bool
	priority   uint8
	closed     bool
	sent       uint64
	received   uint64
	accepted   uint64
	dropped    map[Reason]uint64
	warned     map[string]time.Time // last warning per key (a reason, "send", ...)
	suppressed map[string]uint64    // warnings skipped since then
	watch      map[netip.Addr]*watched
}

// watched is what the speaker last heard from a foreign router, and the timer that
// reports it lost.
type watched struct {
	priority uint8
	interval time.Duration
	version  int
	gen      uint64
	lost     timer
}

// NewSpeaker checks cfg and opens its Conn. Run must follow; Close releases the
// socket.
func NewSpeaker(cfg Config) (*Speaker, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, fmt.Errorf("vrrpcompat: new speaker: %w", err)
	}
	c, err := Listen(cfg.Conn)
	if err != nil {
		return nil, err
	}
	s := newSpeaker(cfg, c, systemClock())
	// An advert we cannot build is a configuration error: fail now, not at takeover.
	if _, err := s.advert(100).marshal(s.src, s.dstOrGroup(), cfg.Checksum); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("vrrpcompat: new speaker: build an advert for VRID %d: %w", cfg.Instance.VRID, err)
	}
	return s, nil
}

// checkConfig checks what NewSpeaker needs of cfg; its errors are left for
// NewSpeaker to prefix.
func checkConfig(cfg Config) error {
	in := cfg.Instance
	if in.Version != 2 && in.Version != 3 {
		return fmt.Errorf("VRRP version %d, want 2 or 3", in.Version)
	}
	if in.VRID == 0 {
		return errors.New("VRID 0 is not a virtual router (1..255)")
	}
	if in.Interval <= 0 {
		return fmt.Errorf("advert interval %s must be positive", in.Interval)
	}
	if len(cfg.Addrs) == 0 {
		return errors.New("no addresses to advertise")
	}
	return nil
}

// newSpeaker builds a Speaker over an open conn.
func newSpeaker(cfg Config, c conn, clk clock) *Speaker {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Speaker{
		cfg:        cfg,
		conn:       c,
		clock:      clk,
		log:        log,
		tracker:    NewTracker(),
		src:        c.Src(),
		kick:       make(chan struct{}, 1),
		priority:   minPriority,
		dropped:    map[Reason]uint64{},
		warned:     map[string]time.Time{},
		suppressed: map[string]uint64{},
		watch:      map[netip.Addr]*watched{},
	}
	for _, d := range destinations(cfg.Conn) {
		if d != s.src { // a node listed among its own unicast peers
			s.dsts = append(s.dsts, d)
		}
	}
	return s
}

// dstOrGroup is a destination for a trial Marshal.
func (s *Speaker) dstOrGroup() netip.Addr {
	if len(s.dsts) > 0 {
		return s.dsts[0]
	}
	return destinations(ConnConfig{Family: s.cfg.Conn.Family})[0]
}

// Run reads, parses, checks and counts VRRP packets, feeds foreign adverts to the
// tracker, and while master sends an advert every Instance.Interval, until ctx ends
// (nil) or the socket fails (the error). It leaves the socket open, so a Resign
// after Run still goes out; Close releases it.
func (s *Speaker) Run(ctx context.Context) error {
	readDone := make(chan error, 1)
	go func() { readDone <- s.readLoop() }()

	var (
		tk   ticker
		tick <-chan time.Time
	)
	defer func() {
		if tk != nil {
			tk.Stop()
		}
	}()
	rearm := func() {
		s.mu.Lock()
		master := s.master
		s.mu.Unlock()
		switch {
		case master && tk == nil:
			tk = s.clock.newTicker(s.cfg.Instance.Interval)
			tick = tk.Chan()
		case master:
			tk.Reset(s.cfg.Instance.Interval) // the next advert one interval after the last
		case tk != nil:
			tk.Stop()
			tk, tick = nil, nil
		}
	}
	rearm()
	for {
		select {
		case <-ctx.Done():
			s.stopping.Store(true)
			if err := s.conn.SetReadDeadline(time.Unix(1, 0)); err != nil && !errors.Is(err, net.ErrClosed) {
				s.log.Warn("cannot stop the VRRP reader", "err", err)
			}
			<-readDone
			_ = s.conn.SetReadDeadline(time.Time{})
			s.stopping.Store(false)
			return nil
		case err := <-readDone:
			return err
		case <-s.kick:
			rearm()
		case <-tick:
			s.mu.Lock()
			master, prio := s.master, s.priority
			s.mu.Unlock()
			if master {
				s.send(prio)
			}
		}
	}
}

// readLoop handles packets until the socket fails or is closed; a closed socket
// or Run's deadline is no error.
func (s *Speaker) readLoop() error {
	for {
		p, err := s.conn.ReadPacket()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || (s.stopping.Load() && errors.Is(err, os.ErrDeadlineExceeded)) {
				return nil
			}
			return err
		}
		s.handle(p)
	}
}

// handle is one received packet: a member's, a bad one (counted by reason), or a
// foreign advert for the tracker.
func (s *Speaker) handle(p Packet) {
	now := s.clock.now()
	s.mu.Lock()
	s.received++
	s.mu.Unlock()
	if p.Src == s.src || (s.cfg.IsMember != nil && s.cfg.IsMember(p.Src)) {
		s.drop(ReasonMember, p, "", now)
		return
	}
	a, err := Parse(p.Payload, p.Src, p.Dst)
	if err != nil {
		var de *DropError
		if errors.As(err, &de) {
			s.drop(de.Reason, p, de.Detail, now)
		} else {
			s.drop(reasonMalformed, p, err.Error(), now)
		}
		return
	}
	if de := s.cfg.Instance.Check(a, p.TTL); de != nil {
		s.drop(de.Reason, p, de.Detail, now)
		return
	}
	s.tracker.Observe(p.Src, a, now)
	s.mu.Lock()
	s.accepted++
	s.mu.Unlock()
	if !sameAddrs(a.Addrs, s.cfg.Addrs) {
		s.warn("addrs", now, "VRRP router advertises other addresses than ours; keepalived 2.3.2 and older drop adverts whose address list differs from theirs",
			"router", p.Src.String(), "vrid", a.VRID, "theirs", fmt.Sprint(a.Addrs), "ours", fmt.Sprint(s.cfg.Addrs))
	}
	if s.observe(p.Src, a) && s.cfg.OnChange != nil {
		s.cfg.OnChange()
	}
}

// observe notes a foreign advert and (re)starts the timer that reports the router
// lost; it reports whether the verdict may have changed.
func (s *Speaker) observe(src netip.Addr, a Advert) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	w, known := s.watch[src]
	changed := !known || w.priority != a.Priority || w.interval != a.Interval || w.version != a.Version || a.Priority == 0
	switch {
	case !known:
		s.log.Info("VRRP router appeared", "router", src.String(), "priority", a.Priority, "version", a.Version, "interval", a.Interval.String())
		w = &watched{}
		s.watch[src] = w
	case a.Priority == 0 && w.priority != 0:
		s.log.Info("VRRP router resigned (priority 0)", "router", src.String())
	case changed:
		s.log.Info("VRRP router changed", "router", src.String(), "priority", a.Priority, "was", w.priority, "interval", a.Interval.String(), "version", a.Version)
	}
	w.priority, w.interval, w.version = a.Priority, a.Interval, a.Version
	w.gen++
	if w.lost != nil {
		w.lost.Stop()
	}
	gen := w.gen
	w.lost = s.clock.afterFunc(lostAfter(a), func() { s.lost(src, gen) })
	return changed
}

// lostAfter is how long after advert a its sender counts as down for every possible
// priority of ours: 3×interval + the largest skew (RFC 3768 §6.1, RFC 9568 §6.1),
// or just the skew after a priority-0 advert.
func lostAfter(a Advert) time.Duration {
	interval := a.Interval
	if interval <= 0 {
		interval = time.Second
	}
	skew := time.Second // v2: (256-p)/256 s < 1 s
	if a.Version == 3 {
		skew = interval // v3: (256-p)×interval/256 < interval
	}
	if a.Priority == 0 {
		return skew + lostMargin
	}
	return 3*interval + skew + lostMargin
}

// lost runs when a foreign router stayed silent past its master-down interval.
func (s *Speaker) lost(src netip.Addr, gen uint64) {
	s.mu.Lock()
	w, ok := s.watch[src]
	if !ok || w.gen != gen || s.closed {
		s.mu.Unlock()
		return
	}
	delete(s.watch, src)
	s.mu.Unlock()
	if w.priority != 0 {
		s.log.Info("VRRP router went silent", "router", src.String(), "priority", w.priority)
	}
	if s.cfg.OnChange != nil {
		s.cfg.OnChange()
	}
}

// drop counts a packet by reason and warns at most once a minute per reason.
// Members' adverts are routine; other virtual routers' are logged at debug level.
func (s *Speaker) drop(r Reason, p Packet, detail string, now time.Time) {
	s.mu.Lock()
	s.dropped[r]++
	s.mu.Unlock()
	args := []any{"reason", string(r), "src", p.Src.String(), "dst", p.Dst.String(), "ttl", p.TTL}
	if detail != "" {
		args = append(args, "detail", detail)
	}
	switch r {
	case ReasonMember:
	case ReasonVRID:
		s.log.Debug("dropped a VRRP packet for another virtual router", args...)
	default:
		s.warn(string(r), now, "dropped a VRRP packet", args...)
	}
}

// warn logs msg unless the same key warned less than warnEvery ago; it says how many
// were skipped in between.
func (s *Speaker) warn(key string, now time.Time, msg string, args ...any) {
	s.mu.Lock()
	last, seen := s.warned[key]
	if seen && now.Sub(last) < warnEvery {
		s.suppressed[key]++
		s.mu.Unlock()
		return
	}
	s.warned[key] = now
	skipped := s.suppressed[key]
	s.suppressed[key] = 0
	s.mu.Unlock()
	if skipped > 0 {
		args = append(args, "suppressed", skipped)
	}
	s.log.Warn(msg, args...)
}

// advert is our advert with priority.
func (s *Speaker) advert(priority uint8) Advert {
	in := s.cfg.Instance
	a := Advert{
		Version:  in.Version,
		VRID:     in.VRID,
		Priority: priority,
		Interval: in.Interval,
		Addrs:    s.cfg.Addrs,
	}
	if in.Version == 2 && in.AuthPass != "" {
		a.AuthType = 1 // PASS (RFC 2338 §5.3.6.1)
		copy(a.AuthData[:], in.AuthPass)
	}
	return a
}

// send marshals an advert with priority for every destination (the v3 checksum
// covers the destination) and sends it; failures are counted out of Sent and warned
// about at most once a minute.
func (s *Speaker) send(priority uint8) {
	a := s.advert(priority)
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	var (
		n    uint64
		errs []error
	)
	for _, dst := range s.dsts {
		b, err := a.Marshal(s.src, dst, s.cfg.Checksum)
		if err == nil {
			err = s.conn.SendTo(b, dst)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	s.mu.Lock()
	s.sent += n
	s.mu.Unlock()
	if len(errs) > 0 {
		s.warn("send", s.clock.now(), "cannot send a VRRP advert", "priority", priority, "err", errors.Join(errs...).Error())
	}
}

func clampPriority(p int) uint8 {
	return uint8(min(max(p, minPriority), maxPriority))
}

// SetMaster starts (true) or stops advertising. Becoming master sends one advert at
// once, then one every Instance.Interval. priority (clamped to 1..254) is used
// from now on; with master false, 0 leaves the priority as it was.
func (s *Speaker) SetMaster(master bool, priority int) {
	s.mu.Lock()
	was := s.master
	s.master = master
	if master || priority > 0 {
		s.priority = clampPriority(priority)
	}
	prio := s.priority
	s.mu.Unlock()
	if master && !was {
		s.send(prio)
	}
	if master != was {
		s.poke()
	}
}

// SetPriority sets the priority (clamped to 1..254) of the next advert.
func (s *Speaker) SetPriority(priority int) {
	s.mu.Lock()
	s.priority = clampPriority(priority)
	s.mu.Unlock()
}

// Resign stops advertising and sends one priority-0 advert now, so the backups take
// over after their skew time instead of the whole master-down interval (the VIP
// was released with no cluster successor).
func (s *Speaker) Resign() {
	s.mu.Lock()
	was := s.master
	s.master = false
	s.mu.Unlock()
	s.send(0)
	if was {
		s.poke()
	}
}

// AdvertNow sends one advert with the current priority now (preempting a lower
// foreign master), master or not.
func (s *Speaker) AdvertNow() {
	s.mu.Lock()
	prio := s.priority
	s.mu.Unlock()
	s.send(prio)
}

// poke tells Run to re-arm its advert ticker.
func (s *Speaker) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Verdict is the tracker's verdict for self. An unset self.Addr, or one of the
// other family, is replaced by our adverts' source address: the address the foreign
// routers compare on equal priority.
func (s *Speaker) Verdict(self Self, now time.Time) Verdict {
	if !self.Addr.IsValid() || self.Addr.Unmap().Is4() != s.src.Is4() {
		self.Addr = s.src
	}
	return s.tracker.Verdict(self, now)
}

// Stats returns a copy of the counters and the foreign routers heard.
func (s *Speaker) Stats() Stats {
	now := s.clock.now()
	s.mu.Lock()
	st := Stats{Sent: s.sent, Received: s.received, Accepted: s.accepted, Dropped: make(map[Reason]uint64, len(s.dropped))}
	for r, n := range s.dropped {
		st.Dropped[r] = n
	}
	s.mu.Unlock()
	st.Routers = s.tracker.Routers(now)
	return st
}

// Src is the source address of our adverts, which foreign routers see.
func (s *Speaker) Src() netip.Addr { return s.src }

// Close stops the lost-router timers and closes the socket; a running Run returns.
// Sends after Close fail (and are logged).
func (s *Speaker) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		for _, w := range s.watch {
			if w.lost != nil {
				w.lost.Stop()
			}
		}
		s.mu.Unlock()
		s.closeErr = s.conn.Close()
	})
	return s.closeErr
}

// sameAddrs reports whether a and b hold the same addresses, in any order.
func sameAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	x := slices.Clone(a)
	y := slices.Clone(b)
	slices.SortFunc(x, netip.Addr.Compare)
	slices.SortFunc(y, netip.Addr.Compare)
	return slices.Equal(x, y)
}
