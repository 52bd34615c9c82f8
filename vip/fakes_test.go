package vip_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftvip/raftvip/test/clocktest"
	"github.com/raftvip/raftvip/vip"
)

// fakeOS is an in-memory address table: the OS as vip.AddrOps sees it. It keeps
// addresses in insertion order like the kernel and logs every change.
type fakeOS struct {
	mu          sync.Mutex
	links       map[string][]vip.Address
	changes     []string
	failReplace map[netip.Prefix]error
	failList    error
}

func newFakeOS(ifname string, addrs ...string) *fakeOS {
	f := &fakeOS{links: map[string][]vip.Address{ifname: nil}, failReplace: map[netip.Prefix]error{}}
	for _, a := range addrs {
		f.links[ifname] = append(f.links[ifname], vip.Address{
			Prefix: netip.MustParsePrefix(a), ValidLft: vip.Forever, PreferredLft: vip.Forever,
		})
	}
	return f
}

func (f *fakeOS) Addrs(ifname string) ([]vip.Address, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failList != nil {
		return nil, f.failList
	}
	list, ok := f.links[ifname]
	if !ok {
		return nil, fmt.Errorf("%w: %s", vip.ErrInterfaceNotFound, ifname)
	}
	return slices.Clone(list), nil
}

func (f *fakeOS) Replace(ifname string, a vip.Address) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failReplace[a.Prefix]; err != nil {
		return err
	}
	list, ok := f.links[ifname]
	if !ok {
		return fmt.Errorf("%w: %s", vip.ErrInterfaceNotFound, ifname)
	}
	f.changes = append(f.changes, "replace "+a.String())
	if i := slices.IndexFunc(list, func(x vip.Address) bool { return x.Prefix == a.Prefix }); i >= 0 {
		list[i] = a
		return nil
	}
	f.links[ifname] = append(list, a)
	return nil
}

func (f *fakeOS) Delete(ifname string, p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, "delete "+p.String())
	f.links[ifname] = slices.DeleteFunc(f.links[ifname], func(x vip.Address) bool { return x.Prefix == p })
	return nil
}

// note adds an entry to the change log: the fake firewall's changes go there too,
// so that the order of address and firewall changes can be checked.
func (f *fakeOS) note(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, s)
}

// remove takes an address away behind the Manager's back (`ip addr del`, expiry).
func (f *fakeOS) remove(ifname, p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pp := netip.MustParsePrefix(p)
	f.links[ifname] = slices.DeleteFunc(f.links[ifname], func(x vip.Address) bool { return x.Prefix == pp })
}

// lines renders the interface's addresses like `ip addr show dev IF`.
func (f *fakeOS) lines(ifname string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range f.links[ifname] {
		out = append(out, a.String())
	}
	return out
}

// takeChanges returns the changes since the last call.
func (f *fakeOS) takeChanges() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.changes
	f.changes = nil
	return c
}

// newFakeClock is a manual clock at a fixed instant: After channels fire when
// Advance passes their time.
func newFakeClock() *clocktest.Manual {
	return clocktest.New(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
}

// fakeAnnouncer records announce rounds. With block set, every call waits until
// block is closed or its context is cancelled, and records which.
type fakeAnnouncer struct {
	mu        sync.Mutex
	rounds    [][]netip.Addr
	cancelled int
	block     chan struct{}
}

func (a *fakeAnnouncer) Announce(ctx context.Context, addrs []netip.Addr) error {
	a.mu.Lock()
	a.rounds = append(a.rounds, slices.Clone(addrs))
	block := a.block
	a.mu.Unlock()
	if block == nil {
		return nil
	}
	select {
	case <-block:
		return nil
	case <-ctx.Done():
		a.mu.Lock()
		a.cancelled++
		a.mu.Unlock()
		return ctx.Err()
	}
}

func (a *fakeAnnouncer) allRounds() [][]netip.Addr {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.rounds)
}

func (a *fakeAnnouncer) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.rounds)
}

// fakeFirewall records Block and Unblock. rules is what is installed (nil: no
// table); note, if set, gets "block ADDRS" and "unblock" for every change.
type fakeFirewall struct {
	mu          sync.Mutex
	rules       []netip.Addr
	blocks      int
	unblocks    int
	failBlock   error
	failUnblock error
	note        func(string)
}

func (f *fakeFirewall) Block(addrs []netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failBlock != nil {
		return f.failBlock
	}
	f.blocks++
	f.rules = slices.Clone(addrs)
	if f.note != nil {
		f.note(fmt.Sprintf("block %v", addrs))
	}
	return nil
}

func (f *fakeFirewall) Unblock() (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failUnblock != nil {
		return false, f.failUnblock
	}
	f.unblocks++
	removed := f.rules != nil
	f.rules = nil
	if f.note != nil {
		f.note("unblock")
	}
	return removed, nil
}

// installed returns the addresses whose new connections are dropped now.
func (f *fakeFirewall) installed() []netip.Addr {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rules)
}

func (f *fakeFirewall) counts() (blocks, unblocks int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blocks, f.unblocks
}

// logRecorder is a logger that writes into the test's log and also keeps the lines
// for checking.
type logRecorder struct {
	logger *slog.Logger
	mu     sync.Mutex
	buf    strings.Builder
}

func newLogRecorder(t *testing.T) *logRecorder {
	r := &logRecorder{}
	r.logger = slog.New(slog.NewTextHandler(teeWriter{t: t, r: r}, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	return r
}

// lines returns the lines logged so far that contain sub.
func (r *logRecorder) lines(sub string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for l := range strings.Lines(r.buf.String()) {
		if strings.Contains(l, sub) {
			out = append(out, strings.TrimSuffix(l, "\n"))
		}
	}
	return out
}

type teeWriter struct {
	t *testing.T
	r *logRecorder
}

func (w teeWriter) Write(b []byte) (int, error) {
	w.r.mu.Lock()
	w.r.buf.Write(b)
	w.r.mu.Unlock()
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// testLogger writes the Manager's log into the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}
