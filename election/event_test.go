package election

import (
	"context"
	"sync"
	"testing"
	"time"
)

// hookLog records what OnMove and OnRenew report, per node.
type hookLog struct {
	mu      sync.Mutex
	moves   map[string][]MoveEvent
	renewOK map[string]int
}

func (h *hookLog) adjust(c *Config) {
	node := c.Node
	c.OnMove = func(ev MoveEvent) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.moves[node] = append(h.moves[node], ev)
	}
	c.OnRenew = func(took time.Duration, ok bool) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if ok && took >= 0 {
			h.renewOK[node]++
		}
	}
}

func (h *hookLog) get(node string) ([]MoveEvent, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]MoveEvent(nil), h.moves[node]...), h.renewOK[node]
}

// OnMove reports the first claim, then a planned move from both ends: the old holder
// gives the VIP up for the move's reason, the target takes it after the release.
// OnRenew reports the holder's lease renewals.
func TestHooksReportMovesAndRenewals(t *testing.T) {
	w := newWorld(t)
	h := &hookLog{moves: map[string][]MoveEvent{}, renewOK: map[string]int{}}
	nodes := newTestClusterWith(t, 3, w, h.adjust)
	waitFor(t, "a holder", 5*time.Second, func() bool { return w.holder() != "" })
	old := byID(nodes, w.holder())
	waitFor(t, "a lease renewal on the holder", 2*time.Second, func() bool { _, n := h.get(old.id); return n > 0 })
	if moves, _ := h.get(old.id); len(moves) != 1 || !moves[0].Held || moves[0].Reason != "first claim" || moves[0].SinceLeader <= 0 {
		t.Fatalf("first holder's moves: %+v, want one first claim", moves)
	}

	target := ""
	for _, n := range nodes {
		if n != old {
			target = n.id
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := old.elector.Handoff(ctx, Move{Target: target, Reason: "test move"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the target holding", 5*time.Second, func() bool { return w.holder() == target })
	waitFor(t, "the target's move event", time.Second, func() bool { m, _ := h.get(target); return len(m) > 0 })
	if moves, _ := h.get(old.id); len(moves) != 2 || moves[1].Held || !moves[1].Planned || moves[1].Reason != "test move" {
		t.Errorf("old holder's moves: %+v, want the first claim, then out for %q, planned", moves, "test move")
	}
	if moves, _ := h.get(target); len(moves) != 1 || !moves[0].Held || moves[0].Reason != "released" {
		t.Errorf("target's moves: %+v, want one in after a release", moves)
	}
}
