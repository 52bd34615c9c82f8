package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Clock is the Manager's time source: when lifetimes are due for a refresh, and the
// waits between announce rounds. The method set matches election.Clock.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Option configures a Manager.
type Option func(*options)

type options struct {
	log    *slog.Logger
	clock  Clock
	ops    AddrOps
	ann    Announcer
	ns     netns.NsHandle
	handle *netlink.Handle
	gate   func() bool
	fw     Firewall
}

// WithLogger sets the logger; nil (the default) discards.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithClock sets the time source; the default is the system clock.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithAddrOps replaces the OS: the Manager reads and changes addresses only through
// ops. For tests.
func WithAddrOps(ops AddrOps) Option { return func(o *options) { o.ops = ops } }

// WithHandle makes the Manager change addresses through h, in the network namespace
// h was opened in (netlink.NewHandleAt). The caller keeps ownership of h. It does
// not move the default announcer nor the default firewall: see WithNetNS.
func WithHandle(h *netlink.Handle) Option { return func(o *options) { o.handle = h } }

// WithAnnounceGate makes every announce round ask gate first and skip the round when
// it returns false. The election passes "my lease is valid right now": a process that
// was frozen (SIGSTOP, a paused VM) wakes up with its announce timers due but its lease
// long gone, and must not pull neighbours' ARP caches back to itself before its
// reconcile loop has removed the addresses.
func WithAnnounceGate(gate func() bool) Option { return func(o *options) { o.gate = gate } }

// WithFirewall replaces the default nf_tables firewall that Drain works through.
// For tests.
func WithFirewall(f Firewall) Option { return func(o *options) { o.fw = f } }

// WithAnnouncer replaces the default SocketAnnouncer.
func WithAnnouncer(a Announcer) Option { return func(o *options) { o.ann = a } }

// WithNetNS makes the Manager do all its kernel work in the network namespace ns
// instead of the current one: its own netlink handle is opened there, the default
// announcer opens its sockets there, and the default firewall (Drain) installs its
// rules there. The caller keeps ns open until Close. Explicit WithHandle /
// WithAddrOps / WithAnnouncer / WithFirewall take precedence.
func WithNetNS(ns netns.NsHandle) Option { return func(o *options) { o.ns = ns } }

// Manager holds or releases the configured addresses on one interface. All methods
// are safe for concurrent use.
type Manager struct {
	cfg          Config
	ips          []netip.Addr // the addresses of cfg.Addresses, to announce
	refreshEvery time.Duration
	ops          AddrOps
	ann          Announcer
	clock        Clock
	log          *slog.Logger
	closeOps     func()
	gate         func() bool // may we announce now? nil: always
	fw           Firewall

	mu        sync.Mutex
	closed    bool
	held      bool                       // the last successful Set was hold=true
	refreshed map[netip.Prefix]time.Time // when each address's lifetime was last set
	stopBurst context.CancelFunc         // cancels the running announce loop, if any
	wg        sync.WaitGroup             // announce loops
	blocked   bool                       // drain rules may be installed: remove them before the next hold
	drainStop chan struct{}              // closed to end the wait of running Drain calls
}

// New checks cfg, applies the GARP defaults and returns a Manager that holds
// nothing yet. Unless options say otherwise it works in the current network
// namespace through a netlink handle of its own and announces with a
// SocketAnnouncer. New changes nothing on the interface; call Cleanup at start-up.
func New(cfg Config, opts ...Option) (*Manager, error) {
	o := options{ns: netns.None()}
	for _, opt := range opts {
		opt(&o)
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if o.log == nil {
		o.log = discardLogger()
	}
	if o.clock == nil {
		o.clock = systemClock{}
	}
	m := &Manager{
		cfg:          cfg,
		refreshEvery: cfg.Lifetime / 4,
		ops:          o.ops,
		ann:          o.ann,
		clock:        o.clock,
		log:          o.log.With("interface", cfg.Interface),
		closeOps:     func() {},
		gate:         o.gate,
		fw:           o.fw,
		refreshed:    make(map[netip.Prefix]time.Time, len(cfg.Addresses)),
	}
	for _, p := range cfg.Addresses {
		m.ips = append(m.ips, p.Addr())
	}
	if m.ops == nil && o.handle != nil {
		m.ops = netlinkOps{h: o.handle}
	}
	if m.ops == nil {
		h, err := netlink.NewHandleAt(o.ns, unix.NETLINK_ROUTE)
		if err != nil {
			return nil, fmt.Errorf("vip: open netlink: %w", err)
		}
		m.ops = netlinkOps{h: h}
		m.closeOps = h.Close
	}
	if m.ann == nil {
		m.ann = NewSocketAnnouncer(cfg.Interface, o.ns, m.log)
	}
	if m.fw == nil {
		m.fw = newNFTFirewall(o.ns)
	}
	if cfg.GARP.Repeat > 1 && cfg.GARP.Interval < time.Second && hasIPv4(m.ips) {
		m.log.Warn("vip: garp interval below 1s: Linux neighbours ignore ARP updates within locktime (1s), so the extra rounds help little",
			"interval", cfg.GARP.Interval)
	}
	return m, nil
}

// Set makes the kernel match hold. It is idempotent and meant to be called on every
// pass of a reconcile loop.
//
// hold=true: every configured address is put on the interface with valid_lft =
// Lifetime and preferred_lft 0 (IFA_F_NODAD for IPv6), the address-and-prefix of
// each compared exactly, so addresses that are not configured VIPs are never
// touched. A present address's lifetime is refreshed only when Lifetime/4 has passed
// since it was last set; a missing one (expired, or deleted by hand) is added at
// once. When the Manager goes from not holding to holding, an announce burst starts
// in the background (GARPConfig); repeated calls do not restart it, but re-adding a
// missing address while held does, since neighbours may have lost it. If ctx is
// already done, nothing is changed.
//
// hold=false: the burst is cancelled and every configured address that is present
// is removed, at once: removing never waits for announcing, and does not look at
// ctx. If the interface is gone there is nothing to remove and Set returns nil.
// Once the addresses are gone, the rules of a Drain are removed (and a running
// Drain returns); if removing an address failed they stay until a later Set(false)
// succeeds.
//
// Set(true) never installs drain rules. If rules are left from an earlier drain
// that could not be cleaned up, it removes them before taking the addresses and
// fails if it cannot: a VIP that drops new connections is not held.
//
// A failure for one address does not stop the others; the errors are joined.
func (m *Manager) Set(ctx context.Context, hold bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if !hold {
		if _, err := m.releaseLocked(false); err != nil {
			return err
		}
		m.unblockSoonLocked()
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("vip: hold addresses on %s: %w", m.cfg.Interface, err)
	}
	return m.holdLocked()
}

func (m *Manager) holdLocked() error {
	ifname := m.cfg.Interface
	if !m.held && m.blocked {
		if err := m.unblockLocked(); err != nil {
			return fmt.Errorf("vip: hold addresses on %s: drain rules left in place: %w", ifname, err)
		}
	}
	present, err := m.ops.Addrs(ifname)
	if err != nil {
		return fmt.Errorf("vip: list addresses on %s: %w", ifname, err)
	}
	have := make(map[netip.Prefix]bool, len(present))
	for _, a := range present {
		have[a.Prefix] = true
	}
	now := m.clock.Now()
	var errs []error
	var readded []netip.Prefix
	for _, p := range m.cfg.Addresses {
		last, ok := m.refreshed[p]
		since := now.Sub(last)
		if have[p] && ok && since >= 0 && since < m.refreshEvery {
			continue
		}
		if err := m.ops.Replace(ifname, m.want(p)); err != nil {
			delete(m.refreshed, p)
			errs = append(errs, fmt.Errorf("vip: add %s on %s: %w", p, ifname, err))
			continue
		}
		m.refreshed[p] = now
		if !have[p] && m.held {
			readded = append(readded, p)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	switch {
	case !m.held:
		m.held = true
		m.log.Info("vip: holding addresses", "addresses", m.cfg.Addresses, "lifetime", m.cfg.Lifetime)
		m.startBurstLocked()
	case len(readded) > 0:
		m.log.Warn("vip: addresses were missing while held, re-added them", "addresses", readded)
		m.startBurstLocked()
	}
	return nil
}

// want is the address as the Manager puts it on the interface.
func (m *Manager) want(p netip.Prefix) Address {
	return Address{
		Prefix:       p,
		ValidLft:     m.cfg.Lifetime,
		PreferredLft: 0,
		NoDAD:        p.Addr().Is6(),
	}
}

// releaseLocked stops announcing and removes every configured address found on the
// interface. If the list cannot be read it still tries to delete every configured
// address (the kernel answers "not there" for the missing ones), unless the
// interface does not exist; then strict decides whether that is an error.
func (m *Manager) releaseLocked(strict bool) ([]netip.Prefix, error) {
	ifname := m.cfg.Interface
	m.cancelBurstLocked()
	wasHeld := m.held
	m.held = false
	clear(m.refreshed)

	targets := m.cfg.Addresses
	var errs []error
	present, err := m.ops.Addrs(ifname)
	switch {
	case errors.Is(err, ErrInterfaceNotFound):
		if strict {
			return nil, fmt.Errorf("vip: list addresses on %s: %w", ifname, err)
		}
		return nil, nil
	case err != nil:
		errs = append(errs, fmt.Errorf("vip: list addresses on %s: %w", ifname, err))
	default:
		have := make(map[netip.Prefix]bool, len(present))
		for _, a := range present {
			have[a.Prefix] = true
		}
		targets = nil
		for _, p := range m.cfg.Addresses {
			if have[p] {
				targets = append(targets, p)
			}
		}
	}
	var removed []netip.Prefix
	for _, p := range targets {
		if err := m.ops.Delete(ifname, p); err != nil {
			errs = append(errs, fmt.Errorf("vip: remove %s from %s: %w", p, ifname, err))
			continue
		}
		removed = append(removed, p)
	}
	if wasHeld || len(removed) > 0 {
		m.log.Info("vip: released addresses", "removed", removed)
	}
	return removed, errors.Join(errs...)
}

// Cleanup removes every configured address found on the interface and returns
// those it removed, for the caller to log. Call it at start-up, before anything
// else, to clear addresses left by an earlier run. It also removes drain rules
// left by an agent that died while draining (table inet raftvip), and logs that
// it did; a kernel without nf_tables, or no permission to use it, is not an error
// here. It also stops announcing and forgets any hold, like Set(false), but unlike
// Set(false) a missing interface is an error (wrapping ErrInterfaceNotFound).
func (m *Manager) Cleanup() (removed []netip.Prefix, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	removed, err = m.releaseLocked(true)
	if m.drainStop != nil {
		close(m.drainStop)
		m.drainStop = nil
	}
	return removed, errors.Join(err, m.cleanupRulesLocked())
}

// Held reports whether all configured addresses are on the interface, as the
// kernel sees it now (not what the Manager last asked for). A missing interface
// gives false and an error wrapping ErrInterfaceNotFound.
func (m *Manager) Held() (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, ErrClosed
	}
	present, err := m.ops.Addrs(m.cfg.Interface)
	if err != nil {
		return false, fmt.Errorf("vip: list addresses on %s: %w", m.cfg.Interface, err)
	}
	have := make(map[netip.Prefix]bool, len(present))
	for _, a := range present {
		have[a.Prefix] = true
	}
	for _, p := range m.cfg.Addresses {
		if !have[p] {
			return false, nil
		}
	}
	return true, nil
}

// Announce starts a fresh announce burst now, replacing one that runs, if the
// Manager holds the addresses; otherwise it does nothing. It returns at once. Use it
// when a partition heals or a foreign VRRP master shows up.
func (m *Manager) Announce() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || !m.held {
		return
	}
	m.startBurstLocked()
}

// Close stops announcing, removes drain rules (a running Drain returns
// ErrClosed), waits for the announce goroutine to end and releases the netlink
// handle the Manager opened. It does not remove the addresses: call Set(ctx,
// false) first for that. Every later call returns ErrClosed.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	m.cancelBurstLocked()
	if err := m.unblockLocked(); err != nil {
		m.log.Warn("vip: close: drain rules stay, the next start-up's Cleanup removes them", "err", err)
	}
	m.mu.Unlock()
	m.wg.Wait()
	m.closeOps()
}

func (m *Manager) cancelBurstLocked() {
	if m.stopBurst != nil {
		m.stopBurst()
		m.stopBurst = nil
	}
}

// startBurstLocked cancels a running burst and starts a new one. The burst's
// context is the Manager's, not a caller's: it outlives the Set that started it.
func (m *Manager) startBurstLocked() {
	m.cancelBurstLocked()
	ctx, cancel := context.WithCancel(context.Background())
	m.stopBurst = cancel
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.runBurst(ctx)
	}()
}

// runBurst announces GARP.Repeat times, GARP.Interval apart, then, if GARP.Refresh
// is set, every GARP.Refresh until cancelled.
func (m *Manager) runBurst(ctx context.Context) {
	g := m.cfg.GARP
	for i := range g.Repeat {
		if i > 0 && !m.wait(ctx, g.Interval) {
			return
		}
		m.announceRound(ctx, i+1)
	}
	if g.Refresh <= 0 {
		return
	}
	for m.wait(ctx, g.Refresh) {
		m.announceRound(ctx, 0)
	}
}

func (m *Manager) wait(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-m.clock.After(d):
		return ctx.Err() == nil
	}
}

// announceRound sends one round; round 0 is a periodic refresh.
func (m *Manager) announceRound(ctx context.Context, round int) {
	if ctx.Err() != nil {
		return
	}
	if m.gate != nil && !m.gate() {
		m.log.Warn("vip: announce skipped: no longer entitled to the VIP", "round", round)
		return
	}
	err := m.ann.Announce(ctx, m.ips)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		m.log.Warn("vip: announce failed", "round", round, "err", err)
	default:
		m.log.Debug("vip: announced", "round", round, "addresses", m.ips)
	}
}

func hasIPv4(ips []netip.Addr) bool {
	for _, ip := range ips {
		if ip.Is4() {
			return true
		}
	}
	return false
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
