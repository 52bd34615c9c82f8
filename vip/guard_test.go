package vip_test

import (
	"errors"
	"io"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/raftvip/raftvip/vip"
)

// guardRig is a holding Manager (the agent) and a second Manager over the same fake
// OS (the guard process), with the pipe between them.
func guardRig(t *testing.T) (*rig, *vip.Manager) {
	t.Helper()
	r := newRig(t, testConfig(), nil)
	r.set(t, true)
	g, err := vip.New(testConfig(), vip.WithAddrOps(r.os), vip.WithAnnouncer(&fakeAnnouncer{}),
		vip.WithClock(r.clock), vip.WithFirewall(r.fw))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return r, g
}

type guardResult struct {
	removed []netip.Prefix
	err     error
}

func TestGuardRemovesTheAddressesWhenTheAgentGoes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, g := guardRig(t)
		pr, pw := io.Pipe()
		done := make(chan guardResult, 1)
		go func() {
			removed, err := vip.Guard(pr, g)
			done <- guardResult{removed, err}
		}()

		// Whatever the agent writes is not a signal to act.
		if _, err := pw.Write([]byte("still here\n")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		select {
		case res := <-done:
			t.Fatalf("guard returned while the agent was alive: %v", res)
		default:
		}
		wantLines(t, r.os.lines(ifname), bystander4, bystander6, lineV4, lineV6)

		// The agent dies: the kernel closes its end.
		pw.Close()
		res := <-done
		if res.err != nil {
			t.Fatalf("Guard: %v", res.err)
		}
		if !slices.Equal(res.removed, []netip.Prefix{vip4, vip6}) {
			t.Errorf("Guard removed %v, want %v", res.removed, []netip.Prefix{vip4, vip6})
		}
		wantLines(t, r.os.lines(ifname), bystander4, bystander6)
	})
}

func TestGuardAfterACleanStopRemovesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, g := guardRig(t)
		r.set(t, false)
		r.os.takeChanges()
		pr, pw := io.Pipe()
		pw.Close()
		removed, err := vip.Guard(pr, g)
		if err != nil || len(removed) != 0 {
			t.Errorf("Guard = %v, %v; want nothing removed, no error", removed, err)
		}
		// It still clears drain rules a dead agent may have left ("unblock").
		if got := r.os.takeChanges(); !slices.Equal(got, []string{"unblock"}) {
			t.Errorf("Guard changed %q, want only the drain rules cleared", got)
		}
	})
}

func TestGuardReadErrorStillRemoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, g := guardRig(t)
		pr, pw := io.Pipe()
		boom := errors.New("boom")
		pw.CloseWithError(boom)
		removed, err := vip.Guard(pr, g)
		if !errors.Is(err, boom) {
			t.Errorf("Guard error = %v, want it to wrap %v", err, boom)
		}
		if len(removed) != 2 {
			t.Errorf("Guard removed %v, want both VIPs", removed)
		}
		wantLines(t, r.os.lines(ifname), bystander4, bystander6)
	})
}
