package test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Helpers shared by the programs that turn lab measurements into pages: test/figures
// and test/bench. Their medians and quantiles, and the soak report's, are in
// quantile.go; the soak's own rendering is in soakreport.go.

// Millis renders d as whole milliseconds ("912 ms"), or "–" for zero.
func Millis(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

// Machine describes where a measurement ran.
type Machine struct {
	CPU        string `json:"cpu"`  // model name from /proc/cpuinfo
	CPUs       int    `json:"cpus"` // runtime.NumCPU
	Kernel     string `json:"kernel"`
	Go         string `json:"go"`
	Raftvip    string `json:"raftvip"`    // `raftvip version` of the binary the lab runs
	Keepalived string `json:"keepalived"` // first line of `keepalived --version`
	HAProxy    string `json:"haproxy"`    // first line of `haproxy -v`
}

// DescribeMachine gathers the Machine this process runs on; what it cannot find is
// left empty.
func DescribeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if bin, err := Binary(); err == nil {
		m.Raftvip = firstLine(bin, "version")
	}
	m.Keepalived = firstLine(KeepalivedBinary(), "--version")
	m.HAProxy = firstLine("haproxy", "-v")
	return m
}

// firstLine runs name args and returns the first non-empty line of its output.
func firstLine(name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, name, args...).CombinedOutput()
	for line := range strings.SplitSeq(string(out), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}
