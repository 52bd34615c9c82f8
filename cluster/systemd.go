package cluster

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// sdNotifier speaks systemd's notify protocol (sd_notify(3)): datagrams of
// newline-separated VAR=value lines to the unix socket in $NOTIFY_SOCKET. A nil
// *sdNotifier (not started by systemd with Type=notify) does nothing.
type sdNotifier struct {
	addr *net.UnixAddr
}

// newSDNotifier reads $NOTIFY_SOCKET; it returns nil when it is unset.
func newSDNotifier(getenv func(string) string) *sdNotifier {
	path := getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if strings.HasPrefix(path, "@") {
		path = "\x00" + path[1:] // abstract namespace
	}
	return &sdNotifier{addr: &net.UnixAddr{Name: path, Net: "unixgram"}}
}

// notify sends state, e.g. "READY=1\nSTATUS=joined".
func (s *sdNotifier) notify(state string) error {
	if s == nil {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, s.addr)
	if err != nil {
		return fmt.Errorf("cluster: systemd notify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("cluster: systemd notify: %w", err)
	}
	return nil
}

// watchdogInterval is systemd's WatchdogSec for this process (WATCHDOG_USEC, when
// WATCHDOG_PID is unset or names this process), or 0.
func watchdogInterval(getenv func(string) string, pid int) time.Duration {
	if p := getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(pid) {
		return 0
	}
	us, err := strconv.ParseInt(getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || us <= 0 {
		return 0
	}
	return time.Duration(us) * time.Microsecond
}

// joinedState says whether this node has joined: Raft runs, a leader is known, and
// this node is in the Raft configuration. When it has not, why says what it waits for.
func joinedState(self string, leader raft.ServerID, servers []raft.Server, bootstrapExpect int) (joined bool, why string) {
	inConfig := false
	for _, s := range servers {
		if string(s.ID) == self {
			inConfig = true
		}
	}
	switch {
	case inConfig && leader != "":
		return true, ""
	case len(servers) == 0 && bootstrapExpect > 0:
		return false, fmt.Sprintf("waiting for %d servers to form the cluster (cluster.bootstrap_expect)", bootstrapExpect)
	case !inConfig:
		return false, "waiting to be added to the Raft configuration by the leader"
	default:
		return false, "waiting for a Raft leader (no quorum yet)"
	}
}

// superviseSystemd tells systemd when the node has joined (READY=1), keeps STATUS=
// current, and feeds the watchdog only while the election's reconcile loop keeps
// running: a wedged loop stops the feeding and systemd restarts the agent.
func (n *Node) superviseSystemd(ctx context.Context, sd *sdNotifier, watchdog time.Duration) {
	if sd == nil {
		return
	}
	period := 250 * time.Millisecond
	if watchdog > 0 {
		period = min(period, watchdog/4)
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	ready := false
	lastStatus := ""
	lastFeed := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		var state []string
		status := n.systemdStatus()
		if !ready {
			if joined, why := n.joined(); joined {
				ready = true
				state = append(state, "READY=1")
				n.log.Info("joined the cluster; told systemd the agent is ready")
			} else {
				status = why
			}
		}
		if status != lastStatus {
			state = append(state, "STATUS="+status)
			lastStatus = status
		}
		if watchdog > 0 && now.Sub(lastFeed) >= watchdog/2 {
			if last := n.holder.LastPass(); now.Sub(last) < watchdog/2 {
				state = append(state, "WATCHDOG=1")
				lastFeed = now
			} else {
				n.log.Error("the reconcile loop has not run; not feeding the systemd watchdog", "last_pass", last)
			}
		}
		if len(state) > 0 {
			if err := sd.notify(strings.Join(state, "\n")); err != nil {
				n.log.Debug("systemd notify", "err", err)
			}
		}
	}
}

// joined reports whether the node has joined the cluster, or what it waits for.
func (n *Node) joined() (bool, string) {
	_, leader := n.raft.LeaderWithID()
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return false, "reading the Raft configuration: " + err.Error()
	}
	return joinedState(n.cfg.Node.Name, leader, f.Configuration().Servers, n.cfg.Cluster.BootstrapExpect)
}

// systemdStatus is the one-line STATUS= systemctl status shows.
func (n *Node) systemdStatus() string {
	_, leader := n.raft.LeaderWithID()
	var held []string
	for _, s := range n.holder.Status() {
		if s.Holding {
			held = append(held, s.Group)
		}
	}
	term := n.raft.CurrentTerm()
	switch {
	case len(held) > 0 && len(n.groups) == 1:
		return fmt.Sprintf("holding the VIP (term %d, %s leads)", term, orNoLeader(string(leader)))
	case len(held) > 0:
		return fmt.Sprintf("holding %s (term %d, %s leads)", strings.Join(held, ", "), term, orNoLeader(string(leader)))
	case leader == "":
		return "backup; no leader"
	default:
		return fmt.Sprintf("backup; %s leads (term %d)", leader, term)
	}
}

// systemdStopping tells systemd the agent is stopping.
func systemdStopping(sd *sdNotifier) {
	_ = sd.notify("STOPPING=1\nSTATUS=stopping: handing off the VIP")
}

func orNoLeader(s string) string {
	if s == "" {
		return "no node"
	}
	return s
}
