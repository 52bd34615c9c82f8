package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster/config"
)

// notifyLog is a log the Notifier's goroutine writes while the test reads it.
type notifyLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *notifyLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *notifyLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *notifyLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// notifyRecorder writes a shell script that appends its argv, one line per run, to a
// file, and returns the script's path and a function that reads the lines so far.
// The script is written before any Notifier runs, so no fork can hold it open.
func notifyRecorder(t *testing.T) (script string, lines func() []string) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "runs")
	script = filepath.Join(dir, "rec")
	src := fmt.Sprintf("#!/bin/sh\n{ printf '%%s' \"$(basename \"$0\")\"; for a in \"$@\"; do printf ' [%%s]' \"$a\"; done; echo; } >> '%s'\n", out)
	if err := os.WriteFile(script, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, func() []string {
		b, err := os.ReadFile(out)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	}
}

// notifyClose closes n, failing the test if that takes longer than limit.
func notifyClose(t *testing.T, n *Notifier, ctx context.Context, limit time.Duration) {
	t.Helper()
	start := time.Now()
	n.Close(ctx)
	if took := time.Since(start); took > limit {
		t.Errorf("Close took %s, want under %s", took, limit)
	}
}

func TestNotifyRunsHooksInOrder(t *testing.T) {
	rec, lines := notifyRecorder(t)
	var log notifyLog
	n := New(config.NotifyConfig{
		Master:   []string{rec, "m", "a b"},
		Fault:    []string{rec, "f"},
		Stop:     []string{rec, "s"},
		Script:   []string{rec, "generic"},
		Instance: "VI_1",
		Timeout:  10 * time.Second,
	}, log.logger())
	n.Transition(Master, "", 100)
	n.Transition(Backup, "", 90) // no backup hook: the generic script only
	n.Transition(Fault, "", 40)
	n.Transition(Stop, "", 40)
	notifyClose(t, n, context.Background(), 10*time.Second)

	want := []string{
		"rec [m] [a b]",
		"rec [generic] [INSTANCE] [VI_1] [MASTER] [100]",
		"rec [generic] [INSTANCE] [VI_1] [BACKUP] [90]",
		"rec [f]",
		"rec [generic] [INSTANCE] [VI_1] [FAULT] [40]",
		"rec [s]",
		"rec [generic] [INSTANCE] [VI_1] [STOP] [40]",
	}
	if got := lines(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("runs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := strings.Count(log.String(), "level=DEBUG msg=\"notify hook ran\""); got != len(want) {
		t.Errorf("%d hooks logged as run, want %d:\n%s", got, len(want), log.String())
	}
	if strings.Contains(log.String(), "level=WARN") {
		t.Errorf("warnings:\n%s", log.String())
	}

	// After Close, transitions are ignored.
	n.Transition(Master, "", 100)
	n.Close(context.Background())
	if got := lines(); len(got) != len(want) {
		t.Errorf("a transition after Close ran: %q", got[len(want):])
	}
}

func TestNotifyDefaults(t *testing.T) {
	rec, lines := notifyRecorder(t)
	n := New(config.NotifyConfig{Script: []string{rec}}, nil)
	if n.cfg.Instance != config.DefaultNotifyInstance || n.cfg.Timeout != config.DefaultNotifyTimeout {
		t.Errorf("defaults: %+v", n.cfg)
	}
	n.Transition(Backup, "", 1)
	notifyClose(t, n, context.Background(), 10*time.Second)
	if got := lines(); len(got) != 1 || got[0] != "rec [INSTANCE] [raftvip] [BACKUP] [1]" {
		t.Errorf("runs = %q", got)
	}
}

func TestNotifyWithoutHooks(t *testing.T) {
	n := New(config.NotifyConfig{Master: []string{"/nonexistent/hook"}}, nil)
	n.Transition(Backup, "", 100) // nothing to run for BACKUP: not even queued
	n.mu.Lock()
	queued := len(n.queue)
	n.mu.Unlock()
	if queued != 0 {
		t.Errorf("%d transitions queued, want 0", queued)
	}
	notifyClose(t, n, context.Background(), time.Second)
}

func TestNotifyFailingHook(t *testing.T) {
	rec, lines := notifyRecorder(t)
	var log notifyLog
	n := New(config.NotifyConfig{
		Master:  []string{"/bin/sh", "-c", "echo starting; echo 'it broke' >&2; exit 3"},
		Backup:  []string{filepath.Join(t.TempDir(), "no-such-hook")},
		Script:  []string{rec},
		Timeout: 10 * time.Second,
	}, log.logger())
	n.Transition(Master, "", 100)
	n.Transition(Backup, "", 100)
	notifyClose(t, n, context.Background(), 10*time.Second)

	if got := lines(); len(got) != 2 {
		t.Errorf("the generic script ran %d times, want 2 (a failing hook must not stop the next): %q", len(got), got)
	}
	out := log.String()
	for _, want := range []string{
		`level=WARN msg="notify hook failed" hook=master state=MASTER instance=raftvip priority=100 command=/bin/sh`,
		`output="it broke" error="exit status 3"`,
		`level=WARN msg="notify hook failed" hook=backup state=BACKUP`,
		"no such file or directory",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log has no %q:\n%s", want, out)
		}
	}
}

// notifyAlive reports whether pid is a live process (not a zombie).
func notifyAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// notifyPID reads the pid a hook wrote to path.
func notifyPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the hook wrote no pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Fatalf("pid file: %q", b)
	}
	return pid
}

// notifyWaitDead waits up to 5s for pid to die.
func notifyWaitDead(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); notifyAlive(pid); {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL) // ours: started by the hook under test
			t.Fatalf("process %d is still alive", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNotifySlowHookIsKilled(t *testing.T) {
	rec, lines := notifyRecorder(t)
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	var log notifyLog
	n := New(config.NotifyConfig{
		// The child of the hook must die too: the whole process group is killed.
		Master:  []string{"/bin/sh", "-c", `sleep 30 & echo $! > "$0"; wait`, pidFile},
		Script:  []string{rec},
		Timeout: 300 * time.Millisecond,
	}, log.logger())
	n.Transition(Master, "", 100)
	notifyClose(t, n, context.Background(), 5*time.Second)

	if got := lines(); len(got) != 1 || got[0] != "rec [INSTANCE] [raftvip] [MASTER] [100]" {
		t.Errorf("the hook after the slow one: runs = %q", got)
	}
	if out := log.String(); !strings.Contains(out, `level=WARN msg="notify hook timed out" hook=master state=MASTER`) ||
		!strings.Contains(out, `error="killed after 300ms (notify.timeout)"`) {
		t.Errorf("log:\n%s", out)
	}
	notifyWaitDead(t, notifyPID(t, pidFile))
}

func TestNotifyHookMayLeaveABackgroundProcess(t *testing.T) {
	rec, lines := notifyRecorder(t)
	pidFile := filepath.Join(t.TempDir(), "daemon.pid")
	var log notifyLog
	n := New(config.NotifyConfig{
		// Exits 0 at once, but its child keeps the output pipe open.
		Master:  []string{"/bin/sh", "-c", `sleep 30 & echo $! > "$0"`, pidFile},
		Script:  []string{rec},
		Timeout: 10 * time.Second,
	}, log.logger())
	n.Transition(Master, "", 100)
	notifyClose(t, n, context.Background(), 5*time.Second)

	pid := notifyPID(t, pidFile)
	alive := notifyAlive(pid)
	_ = syscall.Kill(pid, syscall.SIGKILL) // ours: started by the hook under test
	if !alive {
		t.Error("the hook's background process was killed; only a timeout kills a hook's processes")
	}
	if got := lines(); len(got) != 1 {
		t.Errorf("the next hook: runs = %q", got)
	}
	if out := log.String(); strings.Contains(out, "level=WARN") || !strings.Contains(out, "still holds its output") {
		t.Errorf("log:\n%s", out)
	}
}

func TestNotifyTransitionNeverBlocks(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "hook.pid")
	var log notifyLog
	n := New(config.NotifyConfig{
		Master:  []string{"/bin/sh", "-c", `echo $$ > "$0"; exec sleep 30`, pidFile},
		Timeout: time.Minute,
	}, log.logger())

	start := time.Now()
	for i := range queueLimit + 500 {
		n.Transition(Master, "", 1+i%254)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("%d transitions took %s", queueLimit+500, took)
	}
	n.mu.Lock()
	queued := len(n.queue)
	n.mu.Unlock()
	if queued > queueLimit {
		t.Errorf("%d transitions queued, want at most %d", queued, queueLimit)
	}
	if !strings.Contains(log.String(), "too many transitions waiting; dropped the oldest") {
		t.Error("no warning about dropped transitions")
	}

	// The first hook hangs. Close gives up when its context ends, kills the hook and
	// drops the rest.
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hook did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	notifyClose(t, n, ctx, 3*time.Second)
	notifyWaitDead(t, notifyPID(t, pidFile))
	out := log.String()
	if !strings.Contains(out, `msg="notify hook killed: the agent stopped"`) ||
		!strings.Contains(out, "agent stopped before every transition was notified") {
		t.Errorf("log:\n%s", out[max(0, len(out)-2000):])
	}
}

func TestNotifyTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		limit  int
		max    int
		want   string
	}{
		{"empty", nil, 64, 200, ""},
		{"one line", []string{"ok\n"}, 64, 200, "ok"},
		{"last non-empty line", []string{"first\nsecond\n\n  \n"}, 64, 200, "second"},
		{"across writes", []string{"fir", "st\nsec", "ond"}, 64, 200, "second"},
		{"keeps the tail", []string{strings.Repeat("x", 100) + "\nend"}, 8, 200, "end"},
		{"tail cuts a line", []string{"abcdefghij"}, 4, 200, "ghij"},
		{"one big write", []string{"a\n", strings.Repeat("y", 20)}, 8, 200, "yyyyyyyy"},
		{"line limit", []string{"0123456789"}, 64, 4, "0123"},
		{"line limit on a rune boundary", []string{"aé"}, 64, 2, "a"},
		{"invalid utf-8", []string{"a\xffb"}, 64, 200, "a?b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &tail{limit: tc.limit}
			for _, w := range tc.writes {
				if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if len(b.buf) > tc.limit {
				t.Errorf("kept %d bytes, limit %d", len(b.buf), tc.limit)
			}
			if got := b.lastLine(tc.max); got != tc.want {
				t.Errorf("lastLine = %q, want %q", got, tc.want)
			}
		})
	}
}
