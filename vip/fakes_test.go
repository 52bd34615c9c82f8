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

// fakeClock is a manual clock. After channels fire when Advance passes their time.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
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
