package cluster

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	ossignal "os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/logging"
	"github.com/raftvip/raftvip/vip"
)

// GuardCommand is the hidden subcommand the agent re-executes itself with to start
// its VIP guard; cmd/raftvip routes it to RunGuard.
const GuardCommand = "vip-guard"

// guardRestart is how long the agent waits before it restarts a guard that died.
const guardRestart = time.Second

// GuardArgs are what the guard process needs: where the VIPs are, and how to log.
type GuardArgs struct {
	VIPs      []GuardVIP
	LogFormat string
}

// GuardVIP is one VIP on its interface, written IFACE=ADDR/LEN on the guard's command
// line.
type GuardVIP struct {
	Interface string
	Address   netip.Prefix
}

// guardArgs are the guard's arguments for every group of cfg.
func guardArgs(cfg *config.Config) GuardArgs {
	a := GuardArgs{LogFormat: cfg.Log.Format}
	for _, g := range cfg.Groups {
		for _, p := range g.Addresses {
			a.VIPs = append(a.VIPs, GuardVIP{Interface: g.Interface, Address: p})
		}
	}
	return a
}

// args renders a as the guard subcommand's flags.
func (a GuardArgs) args() []string {
	out := []string{GuardCommand, "--log-format", a.LogFormat}
	for _, v := range a.VIPs {
		out = append(out, "--address", v.Interface+"="+v.Address.String())
	}
	return out
}

// RunGuard is the guard process. It blocks until stdin ends, which happens when the
// agent that started it exits, however it exits, and then removes the VIPs from the
// interface. SIGINT, SIGTERM and SIGHUP are ignored: a Ctrl-C or a systemd stop
// reaches the agent too, and the guard must outlive it.
func RunGuard(stdin io.Reader, stderr io.Writer, a GuardArgs) error {
	ossignal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	logger := logging.New(stderr, config.LogConfig{Format: a.LogFormat}).With("component", "vip-guard")
	byIface := map[string][]netip.Prefix{}
	var ifaces []string
	for _, v := range a.VIPs {
		if byIface[v.Interface] == nil {
			ifaces = append(ifaces, v.Interface)
		}
		byIface[v.Interface] = append(byIface[v.Interface], v.Address)
	}
	var ms []*vip.Manager
	for _, iface := range ifaces {
		m, err := vip.New(vip.Config{Interface: iface, Addresses: byIface[iface], Lifetime: time.Second}, vip.WithLogger(logger))
		if err != nil {
			return fmt.Errorf("vip guard: %w", err)
		}
		defer m.Close()
		ms = append(ms, m)
	}
	removed, err := vip.Guard(stdin, ms...)
	if len(removed) > 0 {
		logger.Warn("the agent exited holding VIPs; removed them", "addresses", fmt.Sprint(removed))
	}
	return err
}

// ReleaseVIPs removes the configured VIPs from their interface, and drain rules a dead
// agent left, as the guard does when the agent dies; it returns what it removed. It is
// for systemd's ExecStopPost and for operators cleaning up after a crash. A holder
// that still runs puts the addresses back at its next refresh.
func ReleaseVIPs(cfg *config.Config, logger *slog.Logger) ([]netip.Prefix, error) {
	var all []netip.Prefix
	for _, g := range cfg.Groups {
		m, err := vip.New(vip.Config{Interface: g.Interface, Addresses: g.Addresses, Lifetime: g.Lifetime}, vip.WithLogger(logger))
		if err != nil {
			return all, fmt.Errorf("cluster: release VIPs of group %s: %w", g.Name, err)
		}
		removed, err := m.Cleanup()
		m.Close()
		all = append(all, removed...)
		if err != nil {
			return all, fmt.Errorf("cluster: release VIPs of group %s: %w", g.Name, err)
		}
	}
	return all, nil
}

// guard runs the agent's VIP guard process and restarts it if it dies. While the
// agent lives it holds the write end of the guard's stdin; the kernel closes it when
// the agent exits, and the guard then removes the VIPs. Without the guard a killed
// holder's VIPs stay until their lifetime runs out, while the next holder may already
// have claimed them.
type guard struct {
	exe  string
	args GuardArgs
	log  *slog.Logger

	mu      sync.Mutex
	cmd     *exec.Cmd
	w       *os.File // the agent's end of the guard's stdin
	closing bool
	closed  chan struct{} // closed by Close
	exited  chan struct{} // closed when the current guard process has been waited for
	stopped chan struct{} // closed when the supervisor loop ends
}

// startGuard starts the guard process and its supervisor.
func startGuard(a GuardArgs, logger *slog.Logger) (*guard, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cluster: vip guard: find own executable: %w", err)
	}
	g := &guard{exe: exe, args: a, log: logger, closed: make(chan struct{}), stopped: make(chan struct{})}
	if err := g.spawn(); err != nil {
		return nil, err
	}
	go g.supervise()
	return g, nil
}

func (g *guard) spawn() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("cluster: vip guard: %w", err)
	}
	cmd := exec.Command(g.exe, g.args.args()...)
	cmd.Stdin = r
	cmd.Stderr = os.Stderr
	// Its own process group: a signal to the agent's group (a terminal's Ctrl-C)
	// must not take the guard down first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	r.Close() // the guard has its copy; the agent keeps only the write end
	if err != nil {
		w.Close()
		return fmt.Errorf("cluster: start vip guard: %w", err)
	}
	g.mu.Lock()
	g.cmd, g.w, g.exited = cmd, w, make(chan struct{})
	if g.closing {
		// Close ran while this one started: let it go at once.
		w.Close()
	}
	g.mu.Unlock()
	g.log.Debug("vip guard started", "pid", cmd.Process.Pid)
	return nil
}

// supervise waits for the guard and restarts it until Close.
func (g *guard) supervise() {
	defer close(g.stopped)
	for {
		g.mu.Lock()
		cmd, w, exited := g.cmd, g.w, g.exited
		g.mu.Unlock()
		err := cmd.Wait()
		w.Close()
		close(exited)
		g.mu.Lock()
		closing := g.closing
		g.mu.Unlock()
		if closing {
			return
		}
		g.log.Error("vip guard exited; restarting it (until it is back, a killed agent's VIP stays until its lifetime runs out)", "err", errOrExit(err))
		for {
			t := time.NewTimer(guardRestart)
			select {
			case <-g.closed:
				t.Stop()
				return
			case <-t.C:
			}
			if err := g.spawn(); err != nil {
				g.log.Error("restart vip guard", "err", err)
				continue
			}
			break
		}
	}
}

func errOrExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// Close ends the guard after a clean stop, once the agent has removed the VIPs
// itself: it closes the guard's stdin and waits up to timeout for it to exit.
func (g *guard) Close(timeout time.Duration) error {
	g.mu.Lock()
	if !g.closing {
		g.closing = true
		close(g.closed)
	}
	g.w.Close()
	g.mu.Unlock()
	select {
	case <-g.stopped:
		return nil
	case <-time.After(timeout):
		return errors.New("cluster: vip guard did not exit")
	}
}

// ParseGuardAddresses parses the guard's --address flags, IFACE=ADDR/LEN each.
func ParseGuardAddresses(ss []string) ([]GuardVIP, error) {
	out := make([]GuardVIP, 0, len(ss))
	for _, s := range ss {
		iface, addr, ok := strings.Cut(strings.TrimSpace(s), "=")
		if !ok || iface == "" {
			return nil, fmt.Errorf("vip guard: --address %q: want IFACE=ADDR/LEN", s)
		}
		p, err := netip.ParsePrefix(addr)
		if err != nil {
			return nil, fmt.Errorf("vip guard: --address %q: %w", s, err)
		}
		out = append(out, GuardVIP{Interface: iface, Address: p})
	}
	return out, nil
}
