package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/election"
)

// Status is what `raftvip status --json` prints. Field names are a contract other tools
// rely on: add fields, never rename them.
type Status struct {
	Node             string     `json:"node"`
	State            string     `json:"state"` // leader, follower, candidate, shutdown
	Leader           string     `json:"leader"`
	Term             uint64     `json:"term"`
	Holding          bool       `json:"holding"`
	Reason           string     `json:"reason"`
	HeldSince        *time.Time `json:"held_since,omitempty"`
	LeaseRemainingMS int64      `json:"lease_remaining_ms"`
	VIP              VIPStatus  `json:"vip"`
	Timing           TimingInfo `json:"timing"`
	Members          []Member   `json:"members"`
	Events           []Event    `json:"events"`
	Version          string     `json:"version"`
}

// VIPStatus describes the configured VIP.
type VIPStatus struct {
	Interface string   `json:"interface"`
	Addresses []string `json:"addresses"`
	Lifetime  string   `json:"lifetime"`
	Fencing   string   `json:"fencing"`
}

// TimingInfo is the timing in force.
type TimingInfo struct {
	Profile      string `json:"profile"`
	HeartbeatMS  int64  `json:"heartbeat_ms"`
	VIPLeaseMS   int64  `json:"vip_lease_ms"`
	ClaimDelayMS int64  `json:"claim_delay_ms"`
}

// Member is one server of the Raft configuration.
type Member struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Voter   bool   `json:"voter"`
	Leader  bool   `json:"leader"`
}

// Event is one ownership record from the replicated history, newest last.
type Event struct {
	Kind    string    `json:"kind"`
	Node    string    `json:"node"`
	Term    uint64    `json:"term"`
	At      time.Time `json:"at"`
	Index   uint64    `json:"index"`
	Handoff string    `json:"handoff,omitempty"`
	Reason  string    `json:"reason,omitempty"`
}

// ReasonNoQuorum is the status reason of a node that knows no leader: it is cut off
// from a majority of the voters (or an election is under way), and fails closed.
const ReasonNoQuorum = "no raft leader: this node cannot reach a quorum of voters, so it will not hold the VIP"

// Version is the agent's version, set at build time with -ldflags.
var Version = "dev"

// Status gathers the node's status.
func (n *Node) Status() Status {
	es := n.elector.Status()
	_, leader := n.raft.LeaderWithID()
	t := n.cfg.Cluster.Timing
	st := Status{
		Node:             n.cfg.Node.Name,
		State:            es.Role.String(),
		Leader:           string(leader),
		Term:             es.Term,
		Holding:          es.Holding,
		Reason:           string(es.Reason),
		LeaseRemainingMS: es.LeaseRemaining.Milliseconds(),
		VIP: VIPStatus{
			Interface: n.cfg.VIP.Interface,
			Lifetime:  n.cfg.VIP.Lifetime.String(),
			Fencing:   n.cfg.VIP.Fencing,
		},
		Timing: TimingInfo{
			Profile:      t.Profile,
			HeartbeatMS:  t.HeartbeatTimeout.Milliseconds(),
			VIPLeaseMS:   t.VIPLease.Milliseconds(),
			ClaimDelayMS: effectiveClaimDelay(n.cfg).Milliseconds(),
		},
		Members: []Member{},
		Events:  []Event{},
		Version: Version,
	}
	if es.Holding {
		since := es.HeldSince
		st.HeldSince = &since
	}
	if leader == "" && !es.Holding && es.Role != election.Shutdown {
		st.Reason = ReasonNoQuorum
	}
	for _, a := range n.cfg.VIP.Addresses {
		st.VIP.Addresses = append(st.VIP.Addresses, a.String())
	}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			st.Members = append(st.Members, Member{
				Name:    string(s.ID),
				Address: string(s.Address),
				Voter:   s.Suffrage == raft.Voter,
				Leader:  s.ID == leader,
			})
		}
	}
	for _, r := range n.fsm.History() {
		st.Events = append(st.Events, Event{Kind: r.Kind, Node: r.Node, Term: r.Term, At: r.At, Index: r.Index, Handoff: r.Handoff, Reason: r.Reason})
	}
	return st
}

// adminServer serves the admin API over HTTP on a unix socket.
type adminServer struct {
	path string
	srv  *http.Server
}

// startAdmin listens on the socket (mode 0600) and serves n. A socket file left by a
// dead agent is replaced; one that answers belongs to a running agent and is an error.
func startAdmin(path string, n *Node, logger *slog.Logger) (*adminServer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("cluster: admin socket directory (admin.socket): %w", err)
	}
	if _, err := os.Stat(path); err == nil {
		c, derr := net.DialTimeout("unix", path, time.Second)
		if derr == nil {
			c.Close()
			return nil, fmt.Errorf("cluster: admin socket %s answers: another raftvip agent is running; stop it or set a different admin.socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("cluster: remove stale admin socket %s: %w", path, err)
		}
	}
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen on admin socket %s (admin.socket): %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("cluster: chmod admin socket %s: %w", path, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.Status())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, apiError{Error: fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)})
	})
	a := &adminServer{path: path, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin API stopped", "err", err)
		}
	}()
	return a, nil
}

func (a *adminServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	a.srv.Shutdown(ctx)
	os.Remove(a.path)
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
