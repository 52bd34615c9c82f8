package test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Transition is one line keepalived wrote on its notify FIFO: a state change, or an
// event such as MASTER_RX_LOWER_PRI (a master heard a lower-priority advert).
type Transition struct {
	At       time.Time // when the lab read the line
	Run      int       // keepalived run (1 = first start)
	Instance string    // the vrrp_instance it concerns: VI_1
	State    string    // MASTER, BACKUP, FAULT, STOP, DELETED; or an event name
	Priority int
	Line     string // as keepalived wrote it: INSTANCE "VI_1" MASTER 100
}

// IsState reports whether t is a change of state rather than an event.
func (t Transition) IsState() bool {
	switch t.State {
	case "MASTER", "BACKUP", "FAULT", "STOP", "DELETED":
		return true
	}
	return false
}

func (t Transition) String() string {
	if t.Instance != "" && t.Instance != "VI_1" {
		return fmt.Sprintf("%s run %d %s %s %d", t.At.Format("15:04:05.000"), t.Run, t.Instance, t.State, t.Priority)
	}
	return fmt.Sprintf("%s run %d %s %d", t.At.Format("15:04:05.000"), t.Run, t.State, t.Priority)
}

// openFIFO creates n's notify FIFO (once) and starts reading it: each line keepalived
// writes becomes a Transition, stamped when read, and a line of the state log. The
// FIFO is opened read-write so that it never reports end of file between runs.
func (l *Lab) openFIFO(n *Node) error {
	ka := n.KA
	ka.mu.Lock()
	open := ka.fifo != nil
	ka.mu.Unlock()
	if open {
		return nil
	}
	if err := unix.Mkfifo(ka.FIFO, 0o600); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("lab: mkfifo %s: %w", ka.FIFO, err)
	}
	f, err := os.OpenFile(ka.FIFO, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("lab: open %s: %w", ka.FIFO, err)
	}
	logf, err := os.OpenFile(ka.StateLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		f.Close()
		return fmt.Errorf("lab: %w", err)
	}
	ka.mu.Lock()
	ka.fifo = f
	ka.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer logf.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			tr, ok := parseNotify(sc.Text())
			if !ok {
				continue
			}
			tr.At = time.Now()
			ka.mu.Lock()
			tr.Run = ka.runs
			ka.transitions = append(ka.transitions, tr)
			ka.mu.Unlock()
			fmt.Fprintf(logf, "%s run %d %s %d\n", tr.At.Format(time.RFC3339Nano), tr.Run, tr.State, tr.Priority)
			l.logf("%s: keepalived %s %s (priority %d)", n.Name, tr.Instance, tr.State, tr.Priority)
		}
	}()
	l.addCloser(func() {
		f.Close()
		<-done
	})
	return nil
}

// parseNotify parses a vrrp_notify_fifo line: INSTANCE "VI_1" MASTER 100.
func parseNotify(line string) (Transition, bool) {
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != "INSTANCE" {
		return Transition{}, false
	}
	tr := Transition{Instance: strings.Trim(f[1], `"`), State: f[2], Line: line}
	if len(f) >= 4 {
		tr.Priority, _ = strconv.Atoi(f[3])
	}
	return tr, true
}

// Transitions returns the state transitions keepalived reported on n so far.
func (l *Lab) Transitions(n *Node) []Transition {
	n.KA.mu.Lock()
	defer n.KA.mu.Unlock()
	return slices.Clone(n.KA.transitions)
}

// KeepalivedState returns n's latest reported state ("" before the first report) and
// when it was reported.
func (l *Lab) KeepalivedState(n *Node) (string, time.Time) {
	tr, _ := l.lastState(n)
	return tr.State, tr.At
}

// lastState returns the latest change of state of n.
func (l *Lab) lastState(n *Node) (Transition, bool) {
	trs := l.Transitions(n)
	for i := len(trs) - 1; i >= 0; i-- {
		if trs[i].IsState() {
			return trs[i], true
		}
	}
	return Transition{}, false
}

// WaitKeepalivedState waits until n's latest reported state is state, at most
// timeout, and returns the transition to it.
func (l *Lab) WaitKeepalivedState(n *Node, state string, timeout time.Duration) (Transition, error) {
	deadline := time.Now().Add(timeout)
	for {
		if tr, ok := l.lastState(n); ok && tr.State == state {
			return tr, nil
		}
		if time.Now().After(deadline) {
			st, _ := l.KeepalivedState(n)
			return Transition{}, fmt.Errorf("lab: keepalived on %s not %s after %v (state %q; transitions %v)", n.Name, state, timeout, st, l.Transitions(n))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitInstanceState is WaitKeepalivedState for one vrrp_instance of a keepalived.conf
// with several: it waits until the latest state n reported for instance is state.
func (l *Lab) WaitInstanceState(n *Node, instance, state string, timeout time.Duration) (Transition, error) {
	deadline := time.Now().Add(timeout)
	for {
		tr, ok := l.lastInstanceState(n, instance)
		if ok && tr.State == state {
			return tr, nil
		}
		if time.Now().After(deadline) {
			var trs []Transition
			for _, t := range l.Transitions(n) {
				if t.Instance == instance {
					trs = append(trs, t)
				}
			}
			return Transition{}, fmt.Errorf("lab: keepalived on %s: %s not %s after %v (state %q; transitions %v)", n.Name, instance, state, timeout, tr.State, trs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// lastInstanceState returns the latest change of state of instance on n.
func (l *Lab) lastInstanceState(n *Node, instance string) (Transition, bool) {
	trs := l.Transitions(n)
	for i := len(trs) - 1; i >= 0; i-- {
		if trs[i].Instance == instance && trs[i].IsState() {
			return trs[i], true
		}
	}
	return Transition{}, false
}

// TransitionsTo returns the transitions of n to state at or after t.
func (l *Lab) TransitionsTo(n *Node, state string, t time.Time) []Transition {
	var out []Transition
	for _, tr := range l.Transitions(n) {
		if tr.State == state && !tr.At.Before(t) {
			out = append(out, tr)
		}
	}
	return out
}
