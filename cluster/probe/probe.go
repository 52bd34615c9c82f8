package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/raftvip/raftvip/cluster/config"
	"golang.org/x/sys/unix"
)

// Prober runs one check once: nil with its output if it passes, else an error that
// says why.
type Prober interface {
	Probe(ctx context.Context) (string, error)
}

// New returns the prober of one configured check. The config is validated
// already; New only rejects what it cannot run at all.
func New(c config.CheckConfig) (Prober, error) {
	switch c.Type {
	case config.CheckHAProxy:
		if c.Socket == "" {
			return nil, errors.New("probe: haproxy check: socket is required")
		}
		minUp := c.MinUp
		if c.Backend != "" && minUp < 1 {
			minUp = 1
		}
		return haproxyProber{socket: c.Socket, backend: c.Backend, minUp: minUp}, nil
	case config.CheckHTTP:
		u, err := url.Parse(c.URL)
		if err != nil {
			return nil, fmt.Errorf("probe: http check: %w", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("probe: http check: url %q is not an http:// or https:// URL", c.URL)
		}
		return newHTTPProber(c.URL, c.ExpectStatus), nil
	case config.CheckTCP:
		if _, _, err := net.SplitHostPort(c.Address); err != nil {
			return nil, fmt.Errorf("probe: tcp check: address: %w", err)
		}
		return tcpProber{address: c.Address}, nil
	case config.CheckScript:
		if len(c.Command) == 0 || c.Command[0] == "" {
			return nil, errors.New("probe: script check: command is required")
		}
		return scriptProber{argv: c.Command, waitDelay: scriptWaitDelay}, nil
	case config.CheckProcess:
		if c.PIDFile == "" {
			return nil, errors.New("probe: process check: pidfile is required")
		}
		return processProber{pidFile: c.PIDFile, proc: "/proc"}, nil
	}
	return nil, fmt.Errorf("probe: unknown check type %q", c.Type)
}

// maxHTTPBody is how much of a response body the http check reads before it closes
// the connection.
const maxHTTPBody = 4 << 10

// httpProber is the http check: GET the URL, pass iff the status is the expected
// one. Redirects are not followed (a 301 is the answer), proxies from the environment
// are not used, and every probe opens a fresh connection.
type httpProber struct {
	url    string
	expect int
	client *http.Client
}

func newHTTPProber(rawURL string, expect int) httpProber {
	if expect == 0 {
		expect = http.StatusOK
	}
	tr := &http.Transport{
		Proxy:              nil,
		DialContext:        (&net.Dialer{}).DialContext,
		DisableKeepAlives:  true,
		DisableCompression: true,
	}
	return httpProber{
		url:    rawURL,
		expect: expect,
		client: &http.Client{
			Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

// Probe sends one GET.
func (p httpProber) Probe(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return "", fmt.Errorf("http: %w", err)
	}
	req.Header.Set("User-Agent", "raftvip-check")
	resp, err := p.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("http: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxHTTPBody))
	resp.Body.Close()
	if resp.StatusCode != p.expect {
		return "", fmt.Errorf("http: GET %s: HTTP %d, want %d", p.url, resp.StatusCode, p.expect)
	}
	return fmt.Sprintf("HTTP %d", resp.StatusCode), nil
}

// tcpProber is the tcp check: pass when a connection to the address opens.
type tcpProber struct{ address string }

// Probe connects and closes the connection at once.
func (p tcpProber) Probe(ctx context.Context) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.address)
	if err != nil {
		return "", fmt.Errorf("tcp: %w", err)
	}
	conn.Close()
	return "connected to " + p.address, nil
}

// scriptWaitDelay bounds how long a script probe waits for the script's output pipes
// after the script exited or was killed: a daemon it started may hold them open.
const scriptWaitDelay = 500 * time.Millisecond

// maxScriptOutput is how much of the end of a script's output is kept.
const maxScriptOutput = 4 << 10

// scriptProber is the script check: run argv (no shell), pass on exit status 0. The
// script runs in its own process group, and the whole group is killed with SIGKILL
// when ctx ends, so a timed-out script's children die with it.
type scriptProber struct {
	argv      []string
	waitDelay time.Duration
}

// Probe runs the script once. Its output is the last line the script wrote to stdout
// or stderr.
func (p scriptProber) Probe(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, p.argv[0], p.argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The script leads its group (Setpgid), so -pid is the whole group.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = p.waitDelay
	out := &tailBuffer{max: maxScriptOutput}
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	last := lastLine(out.Bytes())
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		// It exited 0 but something it started still holds its output open.
		err = nil
	}
	if err == nil {
		if last == "" {
			last = "exit status 0"
		}
		return last, nil
	}
	var msg string
	var exitErr *exec.ExitError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		msg = "killed at timeout"
	case ctx.Err() != nil:
		msg = "killed: check stopped"
	case errors.As(err, &exitErr):
		msg = exitErr.ProcessState.String() // "exit status 2", "signal: terminated"
	default: // it did not start
		return "", fmt.Errorf("script %s: %w", filepath.Base(p.argv[0]), err)
	}
	if last != "" {
		msg += ": " + last
	}
	return "", fmt.Errorf("script %s: %s", filepath.Base(p.argv[0]), msg)
}

// tailBuffer keeps the last max bytes written to it. The script's stdout and stderr
// share one, so their lines interleave as the script wrote them.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if len(p) >= b.max {
		p = p[len(p)-b.max:]
		b.buf = b.buf[:0]
	} else if over := len(b.buf) + len(p) - b.max; over > 0 {
		b.buf = b.buf[:copy(b.buf, b.buf[over:])]
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

// Bytes returns what is kept.
func (b *tailBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf)
}

// lastLine returns the last non-blank line of out, trimmed and at most 200 bytes
// (the runner makes sure of valid UTF-8).
func lastLine(out []byte) string {
	out = bytes.TrimRight(out, " \t\r\n")
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	out = bytes.TrimSpace(out)
	if len(out) > 200 {
		out = out[len(out)-200:]
	}
	return string(out)
}

// processProber is the process check: the pid in the pid file is a live process
// (signal 0 reaches it, or is refused with EPERM) that is not a zombie.
type processProber struct {
	pidFile string
	proc    string // /proc; tests point it elsewhere
}

// Probe reads the pid file and looks the process up.
func (p processProber) Probe(context.Context) (string, error) {
	data, err := os.ReadFile(p.pidFile)
	if err != nil {
		return "", fmt.Errorf("process: %w", err)
	}
	// HAProxy in daemon mode writes one pid per line; the first is the master.
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return "", fmt.Errorf("process: pid file %s is empty", p.pidFile)
	}
	pid, err := strconv.Atoi(fields[0])
	if err != nil || pid <= 0 {
		return "", fmt.Errorf("process: pid file %s: %q is not a pid", p.pidFile, clip(fields[0], 32))
	}
	if err := unix.Kill(pid, 0); err != nil && !errors.Is(err, unix.EPERM) {
		return "", fmt.Errorf("process: pid %d from %s is not running: %w", pid, p.pidFile, err)
	}
	stat, err := os.ReadFile(filepath.Join(p.proc, strconv.Itoa(pid), "stat"))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("process: pid %d from %s is not running", pid, p.pidFile)
	}
	if err != nil {
		return "", fmt.Errorf("process: pid %d: %w", pid, err)
	}
	// /proc/<pid>/stat is "pid (comm) state ...", and comm may hold spaces and ')'.
	name, state := "", ""
	if i, j := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')'); i >= 0 && j > i {
		name = string(stat[i+1 : j])
		if f := strings.Fields(string(stat[j+1:])); len(f) > 0 {
			state = f[0]
		}
	}
	if state == "Z" || state == "X" {
		return "", fmt.Errorf("process: pid %d (%s) from %s is a zombie", pid, name, p.pidFile)
	}
	return fmt.Sprintf("pid %d (%s) running", pid, name), nil
}
