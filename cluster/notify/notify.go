package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/raftvip/raftvip/cluster/config"
)

// State is a state the notify hooks are told about, named as keepalived names
// them.
type State string

// The states of the notify hooks.
const (
	Master State = "MASTER" // this node holds the VIP
	Backup State = "BACKUP" // eligible, not holding
	Fault  State = "FAULT"  // a weight-0 check fails: not eligible
	Stop   State = "STOP"   // the agent is stopping
)

// queueLimit is how many transitions may wait; past it the oldest is dropped.
const queueLimit = 1000

// waitDelay bounds how long a hook's Wait waits, after the hook exits or is
// killed, for output pipes that a process it left behind holds open.
const waitDelay = time.Second

// outputLimit is how much of a hook's output is kept (its tail), and
// lineLimit how much of its last line is logged.
const (
	outputLimit = 4096
	lineLimit   = 200
)

// Notifier runs the notify hooks (keepalived's notify_master, notify_backup,
// notify_fault, notify_stop and notify) on one goroutine, one hook at a time, in the
// order of the transitions. Transition never blocks the caller.
type Notifier struct {
	cfg    config.NotifyConfig // under mu: a reload replaces it
	logger *slog.Logger

	ctx    context.Context // ends when Close gives up: the running hook is killed
	cancel context.CancelFunc

	mu      sync.Mutex
	queue   []transition
	closing bool
	wake    chan struct{} // capacity 1: the queue changed, or closing was set
	done    chan struct{} // closed when the worker has returned
}

// transition is one queued change of state.
type transition struct {
	state    State
	instance string
	priority int
}

// New starts the Notifier's worker; Close stops it. A zero Timeout or an empty
// Instance take their defaults. logger nil: discard.
func New(cfg config.NotifyConfig, logger *slog.Logger) *Notifier {
	cfg = cfg.WithDefaults()
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n := &Notifier{
		cfg:    cfg,
		logger: logger,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	go n.run()
	return n
}

// SetConfig replaces the hooks (a SIGHUP reload). A hook already running finishes
// under the old configuration; the next transition runs the new hooks.
func (n *Notifier) SetConfig(cfg config.NotifyConfig) {
	n.mu.Lock()
	n.cfg = cfg.WithDefaults()
	n.mu.Unlock()
}

// hooks are the commands a transition to state runs, in order: the state's own hook
// with its configured arguments, then the generic script with INSTANCE <instance>
// <state> <priority> appended.
func (n *Notifier) hooks(state State, instance string, priority int) []hook {
	n.mu.Lock()
	cfg := n.cfg
	n.mu.Unlock()
	var hooks []hook
	var own []string
	switch state {
	case Master:
		own = cfg.Master
	case Backup:
		own = cfg.Backup
	case Fault:
		own = cfg.Fault
	case Stop:
		own = cfg.Stop
	}
	if len(own) > 0 {
		hooks = append(hooks, hook{name: strings.ToLower(string(state)), argv: own, timeout: cfg.Timeout})
	}
	if len(cfg.Script) > 0 {
		argv := append(append([]string(nil), cfg.Script...), "INSTANCE", instance, string(state), strconv.Itoa(priority))
		hooks = append(hooks, hook{name: "script", argv: argv, timeout: cfg.Timeout})
	}
	return hooks
}

// hook is one command to run: name is its config key (master, ..., script).
type hook struct {
	name    string
	argv    []string
	timeout time.Duration // notify.timeout
}

// Transition queues the hooks of a change of instance (a VIP group, as keepalived's
// INSTANCE) to state, with the node's effective priority for it. An empty instance
// is the configured notify.instance. It never blocks. Calls after Close are ignored. The caller calls it on
// changes only: the same state twice runs the hooks twice.
func (n *Notifier) Transition(state State, instance string, priority int) {
	if instance == "" {
		n.mu.Lock()
		instance = n.cfg.Instance
		n.mu.Unlock()
	}
	if len(n.hooks(state, instance, priority)) == 0 {
		return
	}
	n.mu.Lock()
	if n.closing {
		n.mu.Unlock()
		n.logger.Debug("notify: agent stopping, transition not run", "state", state, "priority", priority)
		return
	}
	var dropped *transition
	if len(n.queue) >= queueLimit {
		old := n.queue[0]
		dropped = &old
		n.queue = n.queue[1:]
	}
	n.queue = append(n.queue, transition{state: state, instance: instance, priority: priority})
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
	if dropped != nil {
		n.logger.Warn("notify: too many transitions waiting; dropped the oldest",
			"dropped_state", dropped.state, "dropped_priority", dropped.priority, "waiting", queueLimit)
	}
}

// Close runs what is queued, the hooks of transitions made before Close, until ctx
// ends; then it kills the running hook, drops the rest and stops. It returns when the
// worker has stopped. Close may be called more than once.
func (n *Notifier) Close(ctx context.Context) {
	n.mu.Lock()
	n.closing = true
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
	select {
	case <-n.done:
		n.cancel()
		return
	case <-ctx.Done():
	}
	n.mu.Lock()
	dropped := len(n.queue)
	n.queue = nil
	n.mu.Unlock()
	n.cancel()
	<-n.done
	if dropped > 0 {
		n.logger.Warn("notify: agent stopped before every transition was notified; not run", "transitions", dropped)
	}
}

// next waits for the next transition. It returns false when the Notifier is closing
// and the queue is empty, or when Close gave up.
func (n *Notifier) next() (transition, bool) {
	for {
		n.mu.Lock()
		switch {
		case n.ctx.Err() != nil:
			n.mu.Unlock()
			return transition{}, false
		case len(n.queue) > 0:
			t := n.queue[0]
			n.queue[0] = transition{}
			n.queue = n.queue[1:]
			n.mu.Unlock()
			return t, true
		case n.closing:
			n.mu.Unlock()
			return transition{}, false
		}
		n.mu.Unlock()
		select {
		case <-n.wake:
		case <-n.ctx.Done():
		}
	}
}

// run is the worker: one transition at a time, one hook at a time.
func (n *Notifier) run() {
	defer close(n.done)
	for {
		t, ok := n.next()
		if !ok {
			return
		}
		for _, h := range n.hooks(t.state, t.instance, t.priority) {
			if n.ctx.Err() != nil {
				return
			}
			n.exec(h, t)
		}
	}
}

// exec runs one hook in its own process group, which is killed at the timeout (or
// when Close gives up), and logs how it ended.
func (n *Notifier) exec(h hook, t transition) {
	ctx, cancel := context.WithTimeout(n.ctx, h.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.argv[0], h.argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The hook and whatever it started: a hook is often a shell script.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay
	out := &tail{limit: outputLimit}
	cmd.Stdout, cmd.Stderr = out, out

	start := time.Now()
	err := cmd.Run()
	took := time.Since(start).Round(time.Millisecond)
	attrs := []any{"hook", h.name, "state", t.state, "instance", t.instance, "priority", t.priority, "command", h.argv[0], "took", took}
	if line := out.lastLine(lineLimit); line != "" {
		attrs = append(attrs, "output", line)
	}
	switch {
	case err == nil:
		n.logger.Debug("notify hook ran", attrs...)
	case ctx.Err() != nil && n.ctx.Err() != nil:
		n.logger.Warn("notify hook killed: the agent stopped", append(attrs, "error", exitString(err))...)
	case ctx.Err() != nil:
		n.logger.Warn("notify hook timed out", append(attrs, "error", fmt.Sprintf("killed after %s (notify.timeout)", h.timeout))...)
	case errors.Is(err, exec.ErrWaitDelay):
		// It exited 0, but something it started kept its output open.
		n.logger.Debug("notify hook ran; a process it started still holds its output", attrs...)
	default:
		n.logger.Warn("notify hook failed", append(attrs, "error", exitString(err))...)
	}
}

// exitString describes how a hook ended: "exit status 3", "signal: killed", or why it
// did not start.
func exitString(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.String()
	}
	return err.Error()
}

// tail keeps the last limit bytes written to it. exec calls Write from one
// goroutine at a time when Stdout and Stderr are the same writer.
type tail struct {
	limit int
	buf   []byte
}

func (b *tail) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > b.limit {
		p = p[len(p)-b.limit:]
	}
	if over := len(b.buf) + len(p) - b.limit; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

// lastLine is the last non-empty line, trimmed, at most limit bytes (cut on a rune
// boundary).
func (b *tail) lastLine(limit int) string {
	s := bytes.TrimSpace(b.buf)
	if i := bytes.LastIndexByte(s, '\n'); i >= 0 {
		s = bytes.TrimSpace(s[i+1:])
	}
	line := strings.ToValidUTF8(string(s), "?")
	if len(line) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		line = line[:cut]
	}
	return line
}
