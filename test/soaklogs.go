package test

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"time"
)

// What the soak keeps besides its numbers: the agent log lines around each violation,
// the agents' own warnings, and every request of the probe (probe.tsv).

// evidence gathers, for each violation, the faults around it and the agent log lines
// of every node from 3 s before to 1 s after.
func (r *SoakReport) evidence(l *Lab) string {
	type window struct {
		what     string
		from, to time.Time
	}
	var ws []window
	for _, iv := range r.OutsideIntervals {
		ws = append(ws, window{fmt.Sprintf("two holders %v at %s for %v", iv.Nodes, r.rel(iv.Start), iv.Duration().Round(time.Millisecond)), iv.Start, iv.End})
	}
	for _, st := range r.Stuck {
		to := st.Until
		if to.IsZero() {
			to = r.End
		}
		if to.Sub(st.Since) > 20*time.Second {
			to = st.Since.Add(20 * time.Second)
		}
		ws = append(ws, window{"stuck: " + r.stuckString(st), st.Since, to})
	}
	var b strings.Builder
	for i, w := range ws {
		if i == 10 {
			fmt.Fprintf(&b, "... %d more violations; the agent logs are in %s\n", len(ws)-i, r.LabDir)
			break
		}
		from, to := w.from.Add(-3*time.Second), w.to.Add(time.Second)
		fmt.Fprintf(&b, "=== %s (%s–%s UTC)\n", w.what, w.from.UTC().Format("15:04:05.000"), w.to.UTC().Format("15:04:05.000"))
		b.WriteString("faults from 15 s before:\n")
		for _, f := range r.Faults {
			end := f.Healed
			if end.IsZero() {
				end = f.At
			}
			if !end.Before(w.from.Add(-15*time.Second)) && !f.At.After(w.to) {
				b.WriteString("  " + r.faultLine(f) + "\n")
			}
		}
		for _, n := range l.Nodes {
			lines := logLinesBetween(l, n, from, to, 40)
			if len(lines) > 0 {
				fmt.Fprintf(&b, "%s agent log %s–%s:\n", n.Name, from.UTC().Format("15:04:05.000"), to.UTC().Format("15:04:05.000"))
				for _, line := range lines {
					b.WriteString("  " + line + "\n")
				}
			}
		}
	}
	return b.String()
}

// logLinesBetween returns at most max lines of n's agent logs (every run) whose time=
// field lies in [from, to].
func logLinesBetween(l *Lab, n *Node, from, to time.Time, limit int) []string {
	var out []string
	eachAgentLogLine(l, n, func(run int, line string) {
		ts, ok := strings.CutPrefix(line, "time=")
		if !ok {
			return
		}
		ts, _, _ = strings.Cut(ts, " ")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || t.Before(from) || t.After(to) {
			return
		}
		out = append(out, fmt.Sprintf("[run %d] %s", run, line))
	})
	if len(out) > limit {
		out = append(out[:limit/2], append([]string{fmt.Sprintf("... %d lines left out ...", len(out)-limit)}, out[len(out)-limit/2:]...)...)
	}
	return out
}

// eachAgentLogLine calls fn with every line of n's agent logs, run by run.
func eachAgentLogLine(l *Lab, n *Node, fn func(run int, line string)) {
	for run := 1; run <= l.AgentRuns(n); run++ {
		f, err := os.Open(l.AgentLogPath(n, run))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			fn(run, sc.Text())
		}
		f.Close()
	}
}

// agentWarnings counts the WARN and ERROR lines of every agent log by level and
// message, leaving out Raft's (component=raft) and memberlist's: those report the
// faults themselves.
func agentWarnings(l *Lab) map[string]int {
	out := map[string]int{}
	for _, n := range l.Nodes {
		eachAgentLogLine(l, n, func(_ int, line string) {
			var level string
			switch {
			case strings.Contains(line, " level=WARN "):
				level = "WARN"
			case strings.Contains(line, " level=ERROR "):
				level = "ERROR"
			default:
				return
			}
			if strings.Contains(line, " component=raft") || strings.Contains(line, `msg="memberlist:`) {
				return
			}
			_, msg, ok := strings.Cut(line, " msg=")
			if !ok {
				return
			}
			if strings.HasPrefix(msg, `"`) {
				if i := strings.Index(msg[1:], `"`); i >= 0 {
					msg = msg[1 : i+1]
				}
			} else {
				msg, _, _ = strings.Cut(msg, " ")
			}
			if len(msg) > 120 {
				msg = msg[:120] + "…"
			}
			out[level+" "+msg]++
		})
	}
	return out
}

// writeProbe writes every request of the probe to path, one a line: start and end
// relative to t0, ok or the error, and who answered.
func writeProbe(path string, rs []Result, t0 time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "# start_ms\tend_ms\tresult\tnode_or_error (times relative to the soak's start)")
	for _, r := range rs {
		res, what := "ok", r.Node
		if !r.OK {
			res, what = "fail", r.Err
		}
		fmt.Fprintf(w, "%.1f\t%.1f\t%s\t%s\n", float64(r.Start.Sub(t0).Microseconds())/1000, float64(r.End.Sub(t0).Microseconds())/1000, res, what)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
