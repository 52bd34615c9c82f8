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
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/cluster/api"
	"github.com/raftvip/raftvip/cluster/gossip"
	"github.com/raftvip/raftvip/election"
	"github.com/raftvip/raftvip/store"
)

// ReasonNoQuorum is the status reason of a node that knows no leader: it is cut off
// from a majority of the voters (or an election is under way), and fails closed.
const ReasonNoQuorum = "no raft leader: this node cannot reach a quorum of voters, so it will not hold the VIP"

// Version is the agent's version, set at build time with -ldflags.
var Version = "dev"

// api.Status gathers the node's status.
func (n *Node) Status() api.Status {
	es := n.elector.Status()
	_, leader := n.raft.LeaderWithID()
	t := n.cfg.Cluster.Timing
	st := api.Status{
		Node:             n.cfg.Node.Name,
		State:            es.Role.String(),
		Leader:           string(leader),
		Term:             es.Term,
		Holding:          es.Holding,
		Reason:           string(es.Reason),
		LeaseRemainingMS: es.LeaseRemaining.Milliseconds(),
		Security:         n.Security(),
		VIP: api.VIPStatus{
			Interface: n.cfg.VIP.Interface,
			Lifetime:  n.cfg.VIP.Lifetime.String(),
			Fencing:   n.cfg.VIP.Fencing,
		},
		Timing: api.TimingInfo{
			Profile:      t.Profile,
			HeartbeatMS:  t.HeartbeatTimeout.Milliseconds(),
			VIPLeaseMS:   t.VIPLease.Milliseconds(),
			ClaimDelayMS: effectiveClaimDelay(n.cfg).Milliseconds(),
		},
		Members: []api.Member{},
		Events:  []api.Event{},
		Version: Version,
	}
	if es.Holding {
		since := es.HeldSince
		st.HeldSince = &since
	}
	if leader == "" && !es.Holding && es.Role != election.Shutdown {
		st.Reason = ReasonNoQuorum
	}
	lh, states := n.local()
	st.Priority, st.BasePriority = lh.Priority, n.basePriority()
	st.Ineligible = es.Plan.Ineligible
	st.Eligible = st.Ineligible == ""
	st.Drained = n.fsm.Drained(n.cfg.Node.Name)
	st.Checks = []api.Check{}
	for _, c := range states {
		ck := api.Check{Name: c.Name, Type: c.Type, Weight: c.Weight, State: checkWord(c), Output: c.Output}
		if !c.Since.IsZero() {
			since := c.Since
			ck.Since = &since
		}
		if !c.LastRun.IsZero() {
			last := c.LastRun
			ck.LastRun = &last
		}
		st.Checks = append(st.Checks, ck)
	}
	st.Policy = api.Policy{
		Preferred:    es.Plan.Preferred,
		NoneEligible: es.Plan.NoneEligible,
		Pending:      es.Plan.Pending,
		Preempt:      n.cfg.Preempt,
		PreemptDelay: n.cfg.PreemptDelay.String(),
		MinMoveEvery: n.cfg.MinMoveInterval.String(),
	}
	if !es.LastMove.IsZero() {
		lm := es.LastMove
		st.Policy.LastMove = &lm
	}
	if es.Plan.NoneEligible != "" && !es.Holding && es.Role == election.Leader {
		st.Reason = es.Plan.NoneEligible
	}
	if st.Membership = n.membership(); st.Membership != "" && !es.Holding {
		st.Reason = st.Membership
	}
	if last, ok := n.fsm.Last(); ok && last.Kind == store.KindClaim {
		st.Holder = last.Node
	}
	for _, a := range n.cfg.VIP.Addresses {
		st.VIP.Addresses = append(st.VIP.Addresses, a.String())
	}
	st.Members = n.members(leader, st.Holder, es.Candidates)
	st.VRRP = n.vrrpStatus(es.Holding)
	for _, r := range n.fsm.History() {
		e := api.Event{Kind: r.Kind, Node: r.Node, Term: r.Term, At: r.At, Index: r.Index, Handoff: r.Handoff, Reason: r.Reason}
		if r.Kind == store.KindDrain {
			d := r.Drained
			e.Drained = &d
		}
		st.Events = append(st.Events, e)
	}
	return st
}

// members lists the Raft configuration with each server's health: from the elector's
// last pass where it has one, from gossip and the FSM otherwise.
func (n *Node) members(leader raft.ServerID, holder string, cands []election.Member) []api.Member {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return []api.Member{}
	}
	if len(cands) == 0 {
		cands = health{n}.Candidates()
	}
	byName := make(map[string]election.Member, len(cands))
	for _, c := range cands {
		byName[c.Name] = c
	}
	out := []api.Member{}
	for _, s := range f.Configuration().Servers {
		name := string(s.ID)
		c, ok := byName[name]
		if !ok {
			c = election.Member{Name: name, Voter: s.Suffrage == raft.Voter, Drained: n.fsm.Drained(name)}
		}
		m := api.Member{
			Name:       name,
			Address:    string(s.Address),
			Voter:      s.Suffrage == raft.Voter,
			Leader:     s.ID == leader,
			Holder:     name == holder,
			Gossip:     "unknown",
			Priority:   c.Priority,
			Ineligible: c.Ineligible(),
			Fault:      c.Fault,
			Drained:    c.Drained,
		}
		m.Eligible = m.Ineligible == ""
		if name == n.cfg.Node.Name {
			m.Gossip, m.BasePriority, m.Version = string(gossip.Alive), n.basePriority(), Version
			_, states := n.local()
			for _, s := range states {
				m.Checks = append(m.Checks, api.MemberCheck{Name: s.Name, State: checkWord(s), Output: s.Output})
			}
		} else if gm, ok := n.gossip.Member(name); ok {
			m.Gossip = string(gm.State)
			if gm.MetaErr == nil {
				m.BasePriority, m.Version = gm.Meta.Base, gm.Meta.Version
				for _, c := range gm.Meta.Checks {
					m.Checks = append(m.Checks, api.MemberCheck{Name: c.Name, State: c.State, Output: c.Output})
				}
			}
		}
		out = append(out, m)
	}
	return out
}

// adminServer serves the admin API over HTTP on a unix socket.
type adminServer struct {
	path string
	srv  *http.Server
	tcp  *http.Server // admin.listen, behind a token; nil without it
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
	mux.HandleFunc("POST /v1/drain", func(w http.ResponseWriter, r *http.Request) {
		var req api.DrainRequest
		if err := decodeBody(r, &req); err != nil {
			writeJSON(w, http.StatusBadRequest, api.ErrorBody{Error: err.Error()})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		idx, err := n.SetDrain(ctx, req.Node, req.Drained)
		switch {
		case errors.Is(err, errBadRequest):
			writeJSON(w, http.StatusBadRequest, api.ErrorBody{Error: strings.TrimPrefix(err.Error(), errBadRequest.Error()+": ")})
		case errors.Is(err, ErrNoLeader):
			writeJSON(w, http.StatusServiceUnavailable, api.ErrorBody{Error: err.Error()})
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, api.ErrorBody{Error: err.Error()})
		default:
			writeJSON(w, http.StatusOK, api.DrainResponse{Node: req.Node, Drained: req.Drained, Index: idx})
		}
	})
	mux.HandleFunc("GET /v1/members", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.Members())
	})
	mux.HandleFunc("POST /v1/join", jsonHandler(5*time.Second, writeAPI, func(ctx context.Context, req api.JoinRequest) (api.JoinResponse, error) {
		return n.Join(ctx, req.Addresses)
	}))
	mux.HandleFunc("POST /v1/leave", jsonHandler(30*time.Second, writeAPI, func(ctx context.Context, req api.LeaveRequest) (api.LeaveResponse, error) {
		return n.Leave(ctx, req.Force)
	}))
	mux.HandleFunc("POST /v1/transfer", jsonHandler(15*time.Second, writeAPI, func(ctx context.Context, req api.TransferRequest) (api.TransferResponse, error) {
		return n.Transfer(ctx, req.Node)
	}))
	mux.HandleFunc("POST /v1/force-leave", jsonHandler(15*time.Second, writeAPI, func(ctx context.Context, req api.ForceLeaveRequest) (api.ForceLeaveResponse, error) {
		return n.ForceLeave(ctx, req.Node)
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, api.ErrorBody{Error: fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path)})
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
	a.closeTCP(ctx)
	os.Remove(a.path)
}

// jsonHandler decodes a JSON request, runs f with a deadline of timeout and answers
// with write; a body that does not decode is the operator's mistake.
func jsonHandler[Req, Resp any](timeout time.Duration, write func(http.ResponseWriter, any, error), f func(context.Context, Req) (Resp, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if err := decodeBody(r, &req); err != nil {
			write(w, nil, fmt.Errorf("%w: %v", errBadRequest, err))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		resp, err := f(ctx, req)
		write(w, resp, err)
	}
}

// writeAPI answers with resp, or with err as one line: 400 for the operator's
// mistakes, 503 without a leader, 500 otherwise.
func writeAPI(w http.ResponseWriter, resp any, err error) {
	switch {
	case errors.Is(err, errBadRequest):
		writeJSON(w, http.StatusBadRequest, api.ErrorBody{Error: strings.TrimPrefix(err.Error(), errBadRequest.Error()+": ")})
	case errors.Is(err, ErrNoLeader):
		writeJSON(w, http.StatusServiceUnavailable, api.ErrorBody{Error: err.Error()})
	case errors.Is(err, context.DeadlineExceeded):
		writeJSON(w, http.StatusGatewayTimeout, api.ErrorBody{Error: "timed out: " + err.Error()})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, api.ErrorBody{Error: err.Error()})
	default:
		writeJSON(w, http.StatusOK, resp)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
