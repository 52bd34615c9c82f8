package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"

	"github.com/raftvip/raftvip/election"
)

// ReloadResult is what a configuration reload (SIGHUP) did.
type ReloadResult struct {
	// Applied names what changed and applies now: priority, checks, notify, log.level.
	Applied []string
	// NeedRestart names, by config key, what changed but applies only after a restart.
	NeedRestart []string
}

// String is the result as one log-friendly line.
func (r ReloadResult) String() string {
	var parts []string
	if len(r.Applied) > 0 {
		parts = append(parts, "applied: "+strings.Join(r.Applied, ", "))
	}
	if len(r.NeedRestart) > 0 {
		parts = append(parts, "changed but needs a restart: "+strings.Join(r.NeedRestart, ", "))
	}
	if len(parts) == 0 {
		return "nothing changed"
	}
	return strings.Join(parts, "; ")
}

// configKeys are the config keys of Config's fields, for NeedRestart. Fields missing
// here are named by their Go name in lower case.
var configKeys = map[string]string{
	"Node": "node", "Cluster": "cluster", "Admin": "admin", "VIP": "vip", "Priority": "priority",
	"Preempt": "preempt", "PreemptDelay": "preempt_delay", "MinMoveInterval": "min_move_interval",
	"Checks": "checks", "Notify": "notify", "VRRP": "vrrp", "Log": "log", "Metrics": "metrics",
}

// reloadable are the fields a reload applies; File is where the config came from.
var reloadable = []string{"Priority", "Checks", "Notify", "Log", "File"}

// reloadPlan compares the running configuration with next.
func reloadPlan(cur, next *Config) ReloadResult {
	var r ReloadResult
	if cur.Priority != next.Priority {
		r.Applied = append(r.Applied, "priority")
	}
	if !reflect.DeepEqual(cur.Checks, next.Checks) {
		r.Applied = append(r.Applied, "checks")
	}
	if !reflect.DeepEqual(cur.Notify, next.Notify) {
		r.Applied = append(r.Applied, "notify")
	}
	if !strings.EqualFold(cur.Log.Level, next.Log.Level) {
		r.Applied = append(r.Applied, "log.level")
	}
	if cur.Log.Format != next.Log.Format {
		r.NeedRestart = append(r.NeedRestart, "log.format")
	}
	cv, nv := reflect.ValueOf(cur).Elem(), reflect.ValueOf(next).Elem()
	for i := range cv.NumField() {
		f := cv.Type().Field(i)
		if slices.Contains(reloadable, f.Name) {
			continue
		}
		if !reflect.DeepEqual(cv.Field(i).Interface(), nv.Field(i).Interface()) {
			key, ok := configKeys[f.Name]
			if !ok {
				key = strings.ToLower(f.Name)
			}
			r.NeedRestart = append(r.NeedRestart, key)
		}
	}
	return r
}

// Reload applies what can change without a restart from next, a freshly loaded and
// valid configuration: the base priority, the health checks (a check whose name and
// type stay keeps its state; new ones start unknown), the notify hooks and, through
// level, the log level. Everything else that differs is reported in NeedRestart and
// left as it runs. Raft's and memberlist's own log levels are set at start-up.
func (n *Node) Reload(next *Config, level *slog.LevelVar) (ReloadResult, error) {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	cur := n.live
	r := reloadPlan(cur, next)
	if slices.Contains(r.Applied, "checks") {
		c, err := n.newChecker(next.Checks)
		if err != nil {
			return ReloadResult{}, err
		}
		c.Carry(n.checks().States())
		n.startChecker(c)
	}
	if slices.Contains(r.Applied, "notify") {
		n.notifier.setConfig(next.Notify)
	}
	if slices.Contains(r.Applied, "log.level") && level != nil {
		level.Set(slogLevel(next.Log.Level))
	}
	n.prio.Store(int64(next.Priority))
	// What was applied is now the running configuration; the rest waits for a restart.
	applied := *cur
	applied.Priority, applied.Checks, applied.Notify, applied.Log.Level = next.Priority, next.Checks, next.Notify, next.Log.Level
	n.live = &applied
	if len(r.Applied) > 0 {
		signal(n.healthCh) // effective priority, gossip, VRRP priority, notify state
	}
	return r, nil
}

// newChecker builds the checks' runner; its changes wake the pump.
func (n *Node) newChecker(cfgs []CheckConfig) (*election.Checker, error) {
	checks := make([]election.Check, 0, len(cfgs))
	for _, c := range cfgs {
		p, err := newProber(c)
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
func (n *Node) basePriority() int { return int(n.prio.Load()) }
