package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StateRoot is where every lab keeps its work directory and state file:
// StateRoot/<prefix>/state.json.
const StateRoot = "/tmp/raftvip-lab"

// netnsDir is where `ip netns add` bind-mounts named namespaces.
const netnsDir = "/run/netns"

// prefixRE matches a lab prefix: "rv" and four hex digits.
var prefixRE = regexp.MustCompile(`^rv[0-9a-f]{4}$`)

// nsNameRE matches a namespace name of a lab: "<prefix>-<role>".
var nsNameRE = regexp.MustCompile(`^(rv[0-9a-f]{4})-[a-z0-9]+$`)

// procRecord identifies a process the lab started, so that a later sweep can make sure
// a PID still belongs to it before it signals it.
type procRecord struct {
	Role    string `json:"role"`
	PID     int    `json:"pid"`
	Start   uint64 `json:"start"` // field 22 of /proc/PID/stat (clock ticks since boot)
	Cmdline string `json:"cmdline"`
}

// labState is the content of StateRoot/<prefix>/state.json.
type labState struct {
	Prefix     string       `json:"prefix"`
	Dir        string       `json:"dir"`
	Owner      procRecord   `json:"owner"`
	Namespaces []string     `json:"namespaces"`
	Procs      []procRecord `json:"procs"`
	Kept       bool         `json:"kept,omitempty"` // torn down; the directory is kept for its logs
}

// proc is one process started by the lab.
type proc struct {
	role string
	cmd  *exec.Cmd
	rec  procRecord
	log  string
	done chan struct{} // closed once Wait returned
	err  error         // Wait's error, valid after done
}

// exited reports whether the process has exited (and was reaped).
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitCode is the exit status, or -1 if it was killed by a signal or is still running.
func (p *proc) exitCode() int {
	if !p.exited() || p.cmd.ProcessState == nil {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// signal sends sig unless the process has already been reaped (os.Process guards
// against signalling a recycled PID).
func (p *proc) signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// wait waits for the process to exit, at most d.
func (p *proc) wait(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// spawner starts every child process from one locked OS thread that lives as long as
// the lab, so that Pdeathsig (which fires when the creating *thread* exits) kills the
// children only when the lab goes away — or when the test binary dies.
type spawner struct {
	reqs chan spawnReq
	quit chan struct{}
	once sync.Once
}

type spawnReq struct {
	cmd *exec.Cmd
	res chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq), quit: make(chan struct{})}
	go func() {
		// Never unlocked: when this goroutine returns, the thread exits and every
		// child still running gets SIGKILL.
		runtime.LockOSThread()
		for {
			select {
			case r := <-s.reqs:
				r.res <- r.cmd.Start()
			case <-s.quit:
				return
			}
		}
	}()
	return s
}

func (s *spawner) start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	res := make(chan error, 1)
	select {
	case s.reqs <- spawnReq{cmd: cmd, res: res}:
		return <-res
	case <-s.quit:
		return errors.New("lab: closed")
	}
}

func (s *spawner) stop() { s.once.Do(func() { close(s.quit) }) }

// startProc starts argv inside n's namespace with stdout and stderr appended to
// logPath, records it in the state file and reaps it in the background.
func (l *Lab) startProc(role string, n *Node, logPath string, argv ...string) (*proc, error) {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return nil, errors.New("lab: closed")
	}
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	defer f.Close()
	fmt.Fprintf(f, "=== lab: %s %s started %s: %s\n", n.Name, role, time.Now().Format(time.RFC3339Nano), strings.Join(argv, " "))
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.NS}, argv...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = n.Dir
	if err := l.spawn.start(cmd); err != nil {
		return nil, fmt.Errorf("lab: start %s on %s: %w", role, n.Name, err)
	}
	start, _ := procStart(cmd.Process.Pid)
	p := &proc{
		role: n.Name + "/" + role,
		cmd:  cmd,
		log:  logPath,
		done: make(chan struct{}),
		rec:  procRecord{Role: n.Name + "/" + role, PID: cmd.Process.Pid, Start: start, Cmdline: strings.Join(cmd.Args, " ")},
	}
	l.mu.Lock()
	l.state.Procs = append(l.state.Procs, p.rec)
	err = l.saveStateLocked()
	l.mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.state.Procs = slices.DeleteFunc(l.state.Procs, func(r procRecord) bool { return r.PID == p.rec.PID && r.Start == p.rec.Start })
		if !l.closed || l.keep {
			_ = l.saveStateLocked()
		}
	}()
	return p, err
}

// procStart returns field 22 (starttime) of /proc/PID/stat.
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// comm (field 2) may contain spaces and parentheses; fields after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); starttime is field 22 → f[19].
	if len(f) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// procCmdline returns /proc/PID/cmdline with NULs turned into spaces.
func procCmdline(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))), nil
}

// selfRecord describes the current process.
func selfRecord() procRecord {
	pid := os.Getpid()
	st, _ := procStart(pid)
	cl, _ := procCmdline(pid)
	return procRecord{Role: "owner", PID: pid, Start: st, Cmdline: cl}
}

// belongs reports whether PID still is the process that was recorded: same start time
// and a command line that names the lab's directory (every process the lab starts has
// its config file, under the lab directory, on its command line).
func (r procRecord) belongs(labDir string) bool {
	st, err := procStart(r.PID)
	if err != nil || st != r.Start {
		return false
	}
	cl, err := procCmdline(r.PID)
	if err != nil {
		return false
	}
	return strings.Contains(cl, labDir+"/")
}

// writeState atomically replaces dir/state.json.
func writeState(dir string, st *labState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "state.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "state.json"))
}

func readState(dir string) (*labState, error) {
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return nil, err
	}
	var st labState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("parse %s/state.json: %w", dir, err)
	}
	return &st, nil
}

// lockDir takes an exclusive, non-blocking flock on dir/lock. The owner of a live lab
// holds it for the lab's lifetime; the kernel drops it when the owner dies, which is
// how a sweep tells a live lab from a leftover.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// labNamespaces lists the named namespaces that belong to prefix.
func labNamespaces(prefix string) []string {
	ents, _ := os.ReadDir(netnsDir)
	var out []string
	for _, e := range ents {
		if m := nsNameRE.FindStringSubmatch(e.Name()); m != nil && m[1] == prefix {
			out = append(out, e.Name())
		}
	}
	return out
}

// Sweep removes what dead labs left behind: for every prefix rv???? found in
// /run/netns or StateRoot whose owner is gone (its lock is free), it SIGKILLs the
// processes recorded in the state file that still belong to the lab (start time and
// command line verified in /proc), deletes the namespaces and the directory (unless it
// was kept for its logs). Live labs of other processes are left alone. It never
// signals a process it cannot verify.
func Sweep(logf func(string, ...any)) error {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	prefixes := map[string]bool{}
	ents, _ := os.ReadDir(netnsDir)
	for _, e := range ents {
		if m := nsNameRE.FindStringSubmatch(e.Name()); m != nil {
			prefixes[m[1]] = true
		}
	}
	dirs, _ := os.ReadDir(StateRoot)
	for _, e := range dirs {
		if e.IsDir() && prefixRE.MatchString(e.Name()) {
			prefixes[e.Name()] = true
		}
	}
	var errs []error
	// Build directories of dead processes: bin-<pid>-<random>.
	for _, e := range dirs {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "bin-%d-", &pid); err != nil || pid <= 0 {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			logf("sweep: remove %s", filepath.Join(StateRoot, e.Name()))
			os.RemoveAll(filepath.Join(StateRoot, e.Name()))
		}
	}
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range prefixes {
			if !yield(p) {
				return
			}
		}
	}) {
		if err := sweepPrefix(p, logf); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func sweepPrefix(prefix string, logf func(string, ...any)) error {
	dir := filepath.Join(StateRoot, prefix)
	var st *labState
	if _, err := os.Stat(dir); err == nil {
		lk, err := lockDir(dir)
		if err != nil {
			// Held by a live lab (ours or another process's): not a leftover.
			return nil
		}
		defer lk.Close()
		st, _ = readState(dir)
	}
	var errs []error
	if st != nil {
		var victims []procRecord
		for _, r := range st.Procs {
			if r.belongs(dir) {
				victims = append(victims, r)
			}
		}
		for _, r := range victims {
			logf("sweep %s: SIGKILL %s pid %d (%s)", prefix, r.Role, r.PID, r.Cmdline)
			if err := syscall.Kill(r.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("sweep %s: kill %d: %w", prefix, r.PID, err))
			}
		}
		deadline := time.Now().Add(3 * time.Second)
		for _, r := range victims {
			for r.belongs(dir) && time.Now().Before(deadline) {
				// Orphans are reaped by init; a zombie still has its /proc entry but
				// no cmdline, which belongs() treats as gone.
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	for _, ns := range labNamespaces(prefix) {
		logf("sweep %s: delete namespace %s", prefix, ns)
		if out, err := exec.Command("ip", "netns", "delete", ns).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("sweep %s: ip netns delete %s: %w: %s", prefix, ns, err, bytes.TrimSpace(out)))
		}
	}
	if st == nil || !st.Kept {
		if _, err := os.Stat(dir); err == nil {
			logf("sweep %s: remove %s", prefix, dir)
			if err := os.RemoveAll(dir); err != nil {
				errs = append(errs, fmt.Errorf("sweep %s: %w", prefix, err))
			}
		}
	}
	return errors.Join(errs...)
}
