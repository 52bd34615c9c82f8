package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster/config"
)

func TestProbeNewProber(t *testing.T) {
	tests := []struct {
		name    string
		cfg     config.CheckConfig
		want    any
		wantErr string
	}{
		{name: "haproxy", cfg: config.CheckConfig{Type: config.CheckHAProxy, Socket: "/run/haproxy/admin.sock"},
			want: haproxyProber{socket: "/run/haproxy/admin.sock"}},
		{name: "haproxy backend, min_up defaults to 1", cfg: config.CheckConfig{Type: config.CheckHAProxy, Socket: "127.0.0.1:9999", Backend: "web"},
			want: haproxyProber{socket: "127.0.0.1:9999", backend: "web", minUp: 1}},
		{name: "haproxy min_up", cfg: config.CheckConfig{Type: config.CheckHAProxy, Socket: "/s", Backend: "web", MinUp: 3},
			want: haproxyProber{socket: "/s", backend: "web", minUp: 3}},
		{name: "haproxy without socket", cfg: config.CheckConfig{Type: config.CheckHAProxy}, wantErr: "haproxy check: socket is required"},
		{name: "tcp", cfg: config.CheckConfig{Type: config.CheckTCP, Address: "127.0.0.1:80"}, want: tcpProber{address: "127.0.0.1:80"}},
		{name: "tcp bad address", cfg: config.CheckConfig{Type: config.CheckTCP, Address: "localhost"}, wantErr: "tcp check: address"},
		{name: "script", cfg: config.CheckConfig{Type: config.CheckScript, Command: []string{"/bin/true", "x"}},
			want: scriptProber{argv: []string{"/bin/true", "x"}, waitDelay: scriptWaitDelay}},
		{name: "script without command", cfg: config.CheckConfig{Type: config.CheckScript}, wantErr: "script check: command is required"},
		{name: "process", cfg: config.CheckConfig{Type: config.CheckProcess, PIDFile: "/run/haproxy.pid"},
			want: processProber{pidFile: "/run/haproxy.pid", proc: "/proc"}},
		{name: "process without pidfile", cfg: config.CheckConfig{Type: config.CheckProcess}, wantErr: "process check: pidfile is required"},
		{name: "http bad scheme", cfg: config.CheckConfig{Type: config.CheckHTTP, URL: "ftp://x/"}, wantErr: "not an http:// or https:// URL"},
		{name: "http no host", cfg: config.CheckConfig{Type: config.CheckHTTP, URL: "http:///x"}, wantErr: "not an http:// or https:// URL"},
		{name: "unknown type", cfg: config.CheckConfig{Type: "smtp"}, wantErr: `unknown check type "smtp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Name = "c"
			p, err := New(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New = %v, %v; want an error containing %q", p, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(p, tt.want) {
				t.Fatalf("New = %#v, %v; want %#v", p, err, tt.want)
			}
		})
	}

	p, err := New(config.CheckConfig{Name: "h", Type: config.CheckHTTP, URL: "https://127.0.0.1/health"})
	if err != nil {
		t.Fatal(err)
	}
	if hp, ok := p.(httpProber); !ok || hp.url != "https://127.0.0.1/health" || hp.expect != http.StatusOK {
		t.Fatalf("http prober %#v", p)
	}
}

func TestProbeHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.Header.Get("User-Agent") != "raftvip-check" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, "fine")
	})
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		// Far more than the probe reads; the probe must not wait for all of it.
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for range 1 << 10 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tests := []struct {
		path    string
		expect  int
		want    string
		wantErr string
	}{
		{path: "/ok", want: "HTTP 200"},
		{path: "/down", wantErr: "http: GET " + srv.URL + "/down: HTTP 503, want 200"},
		{path: "/down", expect: 503, want: "HTTP 503"},
		{path: "/moved", wantErr: "HTTP 302, want 200"}, // not followed
		{path: "/moved", expect: 302, want: "HTTP 302"},
		{path: "/empty", expect: 204, want: "HTTP 204"},
		{path: "/big", want: "HTTP 200"},
		{path: "/missing", wantErr: "HTTP 404, want 200"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d", tt.path, tt.expect), func(t *testing.T) {
			p, err := New(config.CheckConfig{Name: "h", Type: config.CheckHTTP, URL: srv.URL + tt.path, ExpectStatus: tt.expect})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			out, err := p.Probe(ctx)
			wantProbe(t, out, err, tt.want, tt.wantErr)
		})
	}

	t.Run("timeout", func(t *testing.T) {
		p := newHTTPProber(srv.URL+"/slow", 200)
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if _, err := p.Probe(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want the deadline", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		p := newHTTPProber("http://"+closedPort(t), 200)
		if _, err := p.Probe(t.Context()); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("error %v, want connection refused", err)
		}
	})
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestProbeTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	out, err := tcpProber{address: addr}.Probe(t.Context())
	if err != nil || out != "connected to "+addr {
		t.Fatalf("Probe = %q, %v", out, err)
	}

	closed := closedPort(t)
	_, err = tcpProber{address: closed}.Probe(t.Context())
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.HasPrefix(err.Error(), "tcp: ") {
		t.Fatalf("closed port: error %v", err)
	}
}

func TestProbeScript(t *testing.T) {
	t.Setenv("RAFTVIP_PROBE_TEST", "from-the-agent")
	tests := []struct {
		name    string
		script  string
		want    string
		wantErr string
	}{
		{name: "exit 0, last line", script: "echo first; echo '  last line  '; echo", want: "last line"},
		{name: "exit 0, no output", script: "true", want: "exit status 0"},
		{name: "stderr counts", script: "echo out; echo err >&2", want: "err"},
		{name: "agent environment", script: `echo "$RAFTVIP_PROBE_TEST"`, want: "from-the-agent"},
		{name: "exit status and last line", script: "echo backend down >&2; exit 3", wantErr: "script sh: exit status 3: backend down"},
		{name: "exit status alone", script: "exit 1", wantErr: "script sh: exit status 1"},
		{name: "killed by a signal", script: "kill -TERM $$", wantErr: "script sh: signal: terminated"},
		{name: "long line kept to its end", script: "printf 'a%.0s' $(seq 300); echo END", want: strings.Repeat("a", 197) + "END"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := scriptProber{argv: []string{"/bin/sh", "-c", tt.script}, waitDelay: scriptWaitDelay}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			out, err := p.Probe(ctx)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Probe = %q, %v; want error %q", out, err, tt.wantErr)
				}
				return
			}
			if err != nil || out != tt.want {
				t.Fatalf("Probe = %q, %v; want %q", out, err, tt.want)
			}
		})
	}

	t.Run("not found", func(t *testing.T) {
		p := scriptProber{argv: []string{"/nonexistent/check-haproxy"}, waitDelay: scriptWaitDelay}
		_, err := p.Probe(t.Context())
		if err == nil || !strings.HasPrefix(err.Error(), "script check-haproxy: ") || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("error %v", err)
		}
	})
}

// At the deadline the whole process group dies, the script's children included, and
// Probe returns at once even though a grandchild held the output pipe.
func TestProbeScriptTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	script := fmt.Sprintf("sleep 60 & echo $! > %s; echo started; wait", pidFile)
	p := scriptProber{argv: []string{"/bin/sh", "-c", script}, waitDelay: 5 * time.Second}

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err := p.Probe(ctx)
	took := time.Since(begin)
	if err == nil || err.Error() != "script sh: killed at timeout: started" {
		t.Fatalf("error %v", err)
	}
	if took > 3*time.Second {
		t.Fatalf("Probe took %v after a 300ms timeout", took)
	}
	child := readPID(t, pidFile)
	waitGone(t, child)
}

// A script that exits 0 but leaves a daemon holding its stdout passes after WaitDelay
// instead of waiting for the daemon.
func TestProbeScriptDaemonHoldsPipe(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "daemon.pid")
	script := fmt.Sprintf("sleep 60 & echo $! > %s; echo daemon started", pidFile)
	p := scriptProber{argv: []string{"/bin/sh", "-c", script}, waitDelay: 200 * time.Millisecond}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	begin := time.Now()
	out, err := p.Probe(ctx)
	took := time.Since(begin)
	child := readPID(t, pidFile)
	// The test started it (through the probe): stop it by its pid.
	t.Cleanup(func() { syscall.Kill(child, syscall.SIGKILL) })
	if err != nil || out != "daemon started" {
		t.Fatalf("Probe = %q, %v", out, err)
	}
	if took > 5*time.Second {
		t.Fatalf("Probe took %v", took)
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitGone waits (bounded) until pid is gone or a zombie: SIGKILL is delivered
// asynchronously, and the orphan is reaped by whoever adopts it.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if _, rest, ok := bytes.Cut(stat, []byte(") ")); ok && (rest[0] == 'Z' || rest[0] == 'X') {
			return
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("pid %d still running: %s", pid, stat)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProbeScriptTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 8}
	for _, w := range []string{"abc", "defg", "hij", "", "0123456789", "xy"} {
		if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", w, n, err)
		}
	}
	if got := string(b.Bytes()); got != "456789xy" {
		t.Fatalf("kept %q", got)
	}
}

func TestProbeProcess(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	self := os.Getpid()
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	selfName := strings.TrimSpace(string(comm))

	// A pid that was ours and is now reaped.
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid

	// A fake /proc in which this process is a zombie with an awkward name.
	fakeProc := filepath.Join(dir, "proc")
	if err := os.MkdirAll(filepath.Join(fakeProc, strconv.Itoa(self)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fakeProc, strconv.Itoa(self), "stat"),
		fmt.Appendf(nil, "%d (ha) R (x) Z 1 %d %d 0 -1\n", self, self, self), 0o644); err != nil {
		t.Fatal(err)
	}
	// ... and one in which it is sleeping under the same name.
	sleepProc := filepath.Join(dir, "proc2")
	if err := os.MkdirAll(filepath.Join(sleepProc, strconv.Itoa(self)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sleepProc, strconv.Itoa(self), "stat"),
		fmt.Appendf(nil, "%d (ha) Z (x) S 1 %d %d 0 -1\n", self, self, self), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		pidFile string
		proc    string
		want    string
		wantErr string
	}{
		{name: "running", pidFile: write("self.pid", fmt.Sprintf("%d\n", self)),
			want: fmt.Sprintf("pid %d (%s) running", self, selfName)},
		{name: "first of several pids", pidFile: write("multi.pid", fmt.Sprintf("%d\n%d\n", self, dead)),
			want: fmt.Sprintf("pid %d (%s) running", self, selfName)},
		{name: "dead", pidFile: write("dead.pid", fmt.Sprintf("%d\n", dead)),
			wantErr: fmt.Sprintf("process: pid %d from %s is not running: no such process", dead, filepath.Join(dir, "dead.pid"))},
		{name: "zombie", pidFile: write("z.pid", strconv.Itoa(self)), proc: fakeProc,
			wantErr: fmt.Sprintf("process: pid %d (ha) R (x) from %s is a zombie", self, filepath.Join(dir, "z.pid"))},
		{name: "parenthesis in the name", pidFile: write("s.pid", strconv.Itoa(self)), proc: sleepProc,
			want: fmt.Sprintf("pid %d (ha) Z (x) running", self)},
		{name: "gone from /proc", pidFile: write("g.pid", strconv.Itoa(self)), proc: filepath.Join(dir, "noproc"),
			wantErr: "is not running"},
		{name: "missing pid file", pidFile: filepath.Join(dir, "missing.pid"), wantErr: "process: open "},
		{name: "empty pid file", pidFile: write("empty.pid", "\n"), wantErr: "is empty"},
		{name: "not a pid", pidFile: write("junk.pid", "haproxy\n"), wantErr: `"haproxy" is not a pid`},
		{name: "zero", pidFile: write("zero.pid", "0"), wantErr: `"0" is not a pid`},
		{name: "negative", pidFile: write("neg.pid", "-1"), wantErr: `"-1" is not a pid`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proc := tt.proc
			if proc == "" {
				proc = "/proc"
			}
			out, err := processProber{pidFile: tt.pidFile, proc: proc}.Probe(t.Context())
			wantProbe(t, out, err, tt.want, tt.wantErr)
		})
	}

	t.Run("real zombie", func(t *testing.T) {
		cmd := exec.Command("/bin/true")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		pid := cmd.Process.Pid
		pidFile := write("zombie.pid", strconv.Itoa(pid))
		// Not reaped until cmd.Wait: it turns into a zombie as soon as it exits.
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := processProber{pidFile: pidFile, proc: "/proc"}.Probe(t.Context())
			if err != nil {
				if !strings.Contains(err.Error(), "is a zombie") {
					t.Fatalf("error %v", err)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("never saw the zombie")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// wantProbe checks a probe's result: an error containing wantErr if that is set, else
// success with output want.
func wantProbe(t *testing.T, out string, err error, want, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("Probe = %q, %v; want an error containing %q", out, err, wantErr)
		}
		return
	}
	if err != nil || out != want {
		t.Fatalf("Probe = %q, %v; want %q", out, err, want)
	}
}
