package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// AppBackend is HAProxy configuration for Options.HAProxyExtra: a backend "web" of two
// servers whose health checks go to a local frontend "app". HAProxyCommand(n,
// "disable frontend app") takes every server of the backend DOWN.
const AppBackend = `frontend app
    bind 127.0.0.1:8081
    http-request return status 200 content-type text/plain string "app\n"

backend web
    option httpchk GET /
    server s1 127.0.0.1:8081 check inter 100ms fall 1 rise 1
    server s2 127.0.0.1:8081 check inter 100ms fall 1 rise 1`

// HealthOptions is a lab in which every node runs the check the README leads with:
// the haproxy check on HAProxy's stats socket, every interval, fall as given, rise 2,
// weight 0 (failing → FAULT). Priorities are lb1 150, lb2 120, lb3 100; automatic
// moves are at most one per window. adjust may change each node's config further.
func HealthOptions(interval time.Duration, fall int, window time.Duration, adjust func(n *Node, c *AgentConfig)) Options {
	return Options{
		Priorities:   map[string]int{"lb1": 150, "lb2": 120, "lb3": 100},
		HAProxyExtra: AppBackend,
		Configure: func(n *Node, c *AgentConfig) {
			if n.Witness {
				return // no HAProxy, no checks
			}
			if c.Extra == nil {
				c.Extra = map[string]any{}
			}
			c.Extra["checks"] = []map[string]any{{
				"name": "haproxy", "type": "haproxy", "socket": n.HAProxySocket,
				"interval": durationString(interval), "fall": fall, "rise": 2, "weight": 0,
			}}
			c.Extra["min_move_interval"] = durationString(window)
			if adjust != nil {
				adjust(n, c)
			}
		},
	}
}

// HAProxyCommand sends one command to HAProxy's stats socket on n and returns the
// answer. The socket is a file, so no namespace is needed to reach it.
func (l *Lab) HAProxyCommand(n *Node, cmd string) (string, error) {
	c, err := net.DialTimeout("unix", n.HAProxySocket, 2*time.Second)
	if err != nil {
		return "", fmt.Errorf("lab: haproxy on %s: %w", n.Name, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", fmt.Errorf("lab: haproxy on %s: %s: %w", n.Name, cmd, err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return string(b), fmt.Errorf("lab: haproxy on %s: %s: %w", n.Name, cmd, err)
	}
	l.logf("%s: haproxy: %s", n.Name, cmd)
	return string(b), nil
}

// CLI runs `raftvip VERB --socket <n's socket> ARGS...` in n's namespace and returns its
// combined output; a non-zero exit is an error carrying that output.
func (l *Lab) CLI(n *Node, verb string, args ...string) (string, error) {
	bin, err := Binary()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	argv := append([]string{"netns", "exec", n.NS, bin, verb, "--socket", n.Socket}, args...)
	args = append([]string{verb}, args...)
	cmd := exec.CommandContext(ctx, "ip", argv...)
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	l.logf("%s: raftvip %s: %s", n.Name, strings.Join(args, " "), strings.TrimSpace(out.String()))
	if err != nil {
		return out.String(), fmt.Errorf("raftvip %s on %s: %w: %s", strings.Join(args, " "), n.Name, err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// NotifyLog is where NotifyHooks makes n's hooks write, one line per call.
func NotifyLog(n *Node) string { return filepath.Join(n.Dir, "notify.log") }

// NotifyHooks returns a `notify:` section for n whose hooks append to NotifyLog(n):
// "master", "backup", "fault" or "stop" from the specific hooks, and the generic
// script's arguments ("INSTANCE raftvip MASTER 150").
func NotifyHooks(n *Node) map[string]any {
	log := NotifyLog(n)
	hook := func(word string) []string {
		return []string{"/bin/sh", "-c", `echo "$1" >> "$2"`, "hook", word, log}
	}
	return map[string]any{
		"master": hook("master"),
		"backup": hook("backup"),
		"fault":  hook("fault"),
		"stop":   hook("stop"),
		"script": []string{"/bin/sh", "-c", `shift; echo "$*" >> "$0"`, log, "--"},
	}
}

// NotifyLines returns the lines the hooks of n have written so far.
func NotifyLines(n *Node) []string {
	b, err := os.ReadFile(NotifyLog(n))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// KernelHoldsNone reports whether no node's eth0 has a VIP.
func (l *Lab) KernelHoldsNone() bool {
	for _, n := range l.Nodes {
		if ok, err := l.KernelHolds(n); err != nil || ok {
			return false
		}
	}
	return true
}

func touch(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
