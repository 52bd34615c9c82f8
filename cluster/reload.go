package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/logging"
	"github.com/raftvip/raftvip/cluster/probe"
	"github.com/raftvip/raftvip/election"
)

// Reload applies what can change without a restart from next, a freshly loaded and
// valid configuration: the base priority, the health checks (a check whose name and
// type stay keeps its state; new ones start unknown), the notify hooks and, through
// level, the log level. Everything else that differs is reported in NeedRestart and
// left as it runs. Raft's and memberlist's own log levels are set at start-up.
func (n *Node) Reload(next *config.Config, level *slog.LevelVar) (config.Changes, error) {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	cur := n.live.Load()
	r := config.Diff(cur, next)
	if slices.Contains(r.Applied, "checks") {
		c, err := n.newChecker(next.Checks)
		if err != nil {
			return config.Changes{}, err
		}
		c.Carry(n.checks().States())
		n.startChecker(c)
	}
	if slices.Contains(r.Applied, "notify") {
		n.notifier.SetConfig(next.Notify)
	}
	if slices.Contains(r.Applied, "log.level") && level != nil {
		level.Set(logging.Level(next.Log.Level))
	}
	// What was applied is now the running configuration; the rest waits for a restart.
	applied := *cur
	applied.Priority, applied.Checks, applied.Notify, applied.Log.Level = next.Priority, next.Checks, next.Notify, next.Log.Level
	if len(applied.Groups) == len(next.Groups) {
		applied.Groups = slices.Clone(applied.Groups)
		for i := range applied.Groups {
			applied.Groups[i].Priority = next.Groups[i].Priority
		}
	}
	n.live.Store(&applied)
	if len(r.Applied) > 0 {
		signal(n.healthCh) // effective priority, gossip, VRRP priority, notify state
	}
	return r, nil
}

// newChecker builds the checks' runner; its changes wake the pump.
func (n *Node) newChecker(cfgs []config.CheckConfig) (*election.Checker, error) {
	checks := make([]election.Check, 0, len(cfgs))
	for _, c := range cfgs {
		p, err := probe.New(c)
		if err != nil {
			return nil, fmt.Errorf("cluster: check %s: %w", c.Name, err)
		}
		checks = append(checks, election.Check{
			Name: c.Name, Type: c.Type, Interval: c.Interval, Timeout: c.Timeout,
			Fall: c.Fall, Rise: c.Rise, Weight: c.Weight, Probe: p,
		})
	}
	return election.NewChecker(checks, election.SystemClock{}, n.log.With("component", "checks"), func() { signal(n.healthCh) }), nil
}

// startChecker runs c until the node stops or a reload replaces it, and stops the
// one it replaces.
func (n *Node) startChecker(c *election.Checker) {
	ctx, cancel := context.WithCancel(n.runCtx)
	n.liveMu.Lock()
	old := n.stopCheck
	n.checker, n.stopCheck = c, cancel
	n.liveMu.Unlock()
	if old != nil {
		old()
	}
	go c.Run(ctx)
}

// checks is the running checks' runner.
func (n *Node) checks() *election.Checker {
	n.liveMu.Lock()
	defer n.liveMu.Unlock()
	return n.checker
}

// basePriority is the configured priority, as last loaded.
func (n *Node) basePriority() int {
	if n.cfg.Witness() {
		return 0
	}
	return n.live.Load().Priority
}
