package test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// UsagePeriod is how often a Usage sampler reads /proc.
const UsagePeriod = 100 * time.Millisecond

// clockTick is USER_HZ, the unit of the CPU times in /proc/PID/stat (100 on Linux
// for every architecture the lab runs on).
const clockTick = 10 * time.Millisecond

// DaemonPIDs returns the PIDs of the lab's daemons that run now: every agent and its
// VIP guard, and keepalived's parent and VRRP child on every keepalived node. HAProxy
// is not one.
func (l *Lab) DaemonPIDs() []int {
	var pids []int
	for _, n := range l.Nodes {
		if pid := l.AgentPID(n); pid != 0 {
			pids = append(pids, pid)
		}
		if pid := l.GuardPID(n); pid != 0 {
			pids = append(pids, pid)
		}
	}
	for _, n := range l.KANodes {
		pids = append(pids, l.KeepalivedPIDs(n)...)
	}
	return pids
}

// Usage samples, every UsagePeriod, the CPU time and resident memory of a set of
// processes from /proc/PID/stat. CPU time counts the children a process reaped
// (cutime, cstime): keepalived's vrrp_script runs are its VRRP child's children. A
// process that exits between two samples loses its last period.
type Usage struct {
	pids func() []int

	mu     sync.Mutex
	points []usagePoint
	last   map[[2]uint64]time.Duration // (pid, start time) → CPU time at the previous sample

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type usagePoint struct {
	at  time.Time
	cpu time.Duration // CPU time used since the previous sample, by processes seen in both
	rss int64         // bytes, summed over the processes
}

// UsageWindow is what a Usage saw between two instants.
type UsageWindow struct {
	Span    time.Duration // length of the window
	CPU     time.Duration // CPU time used in it, all processes together
	MeanRSS int64         // bytes, all processes together, mean over the samples
	MaxRSS  int64         // bytes, the largest sum seen
}

// CPUPercent is CPU time over the window's length, in percent of one core.
func (w UsageWindow) CPUPercent() float64 {
	if w.Span <= 0 {
		return 0
	}
	return 100 * w.CPU.Seconds() / w.Span.Seconds()
}

// Add sums two windows (spans and CPU add up; RSS: the mean weighted by span, the max).
func (w UsageWindow) Add(o UsageWindow) UsageWindow {
	sum := UsageWindow{Span: w.Span + o.Span, CPU: w.CPU + o.CPU, MaxRSS: max(w.MaxRSS, o.MaxRSS)}
	if sum.Span > 0 {
		sum.MeanRSS = int64((float64(w.MeanRSS)*w.Span.Seconds() + float64(o.MeanRSS)*o.Span.Seconds()) / sum.Span.Seconds())
	}
	return sum
}

// StartUsage samples the processes pids returns (asked again at every sample, so
// restarted daemons are followed) until Stop; Close stops it too.
func (l *Lab) StartUsage(pids func() []int) *Usage {
	u := &Usage{pids: pids, last: map[[2]uint64]time.Duration{}, stop: make(chan struct{}), done: make(chan struct{})}
	u.sample()
	go func() {
		defer close(u.done)
		tk := time.NewTicker(UsagePeriod)
		defer tk.Stop()
		for {
			select {
			case <-u.stop:
				return
			case <-tk.C:
				u.sample()
			}
		}
	}()
	l.addCloser(u.Stop)
	return u
}

// Stop stops sampling after one last sample (idempotent).
func (u *Usage) Stop() {
	u.once.Do(func() {
		close(u.stop)
		<-u.done
		u.sample()
	})
}

func (u *Usage) sample() {
	p := usagePoint{at: time.Now()}
	seen := map[[2]uint64]time.Duration{}
	for _, pid := range u.pids() {
		st, err := readProcStat(pid)
		if err != nil {
			continue // gone since pids() was asked
		}
		key := [2]uint64{uint64(pid), st.start}
		seen[key] = st.cpu
		p.rss += st.rss
		u.mu.Lock()
		if prev, ok := u.last[key]; ok {
			p.cpu += st.cpu - prev
		}
		u.mu.Unlock()
	}
	u.mu.Lock()
	u.last = seen
	u.points = append(u.points, p)
	u.mu.Unlock()
}

// Window returns what the samples taken in (from, to] saw.
func (u *Usage) Window(from, to time.Time) UsageWindow {
	u.mu.Lock()
	defer u.mu.Unlock()
	w := UsageWindow{Span: to.Sub(from)}
	var rss float64
	n := 0
	for _, p := range u.points {
		if !p.at.After(from) || p.at.After(to) {
			continue
		}
		w.CPU += p.cpu
		w.MaxRSS = max(w.MaxRSS, p.rss)
		rss += float64(p.rss)
		n++
	}
	if n > 0 {
		w.MeanRSS = int64(rss / float64(n))
	}
	return w
}

// procStat is what Usage reads of /proc/PID/stat.
type procStat struct {
	start uint64        // field 22, to tell a recycled PID apart
	cpu   time.Duration // utime + stime + cutime + cstime
	rss   int64         // bytes
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: no ')'", pid)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3; utime..cstime are fields 14..17, starttime 22, rss 24 (pages).
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks uint64
	for _, x := range f[11:15] {
		v, err := strconv.ParseUint(string(x), 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
		}
		ticks += v
	}
	start, err := strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	pages, err := strconv.ParseInt(string(f[21]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return procStat{start: start, cpu: time.Duration(ticks) * clockTick, rss: pages * int64(os.Getpagesize())}, nil
}
