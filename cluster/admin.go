package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
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

// IneligibleWitness is why a witness (node.role: witness) is never given a group.
const IneligibleWitness = "witness: a voter that never holds a VIP"

// Version is the agent's version, set at build time with -ldflags.
var Version = "dev"

// Status gathers the node's status, with the settings in which this node's copy of
// a group differs from the leader's.
func (n *Node) Status() api.Status { return n.status(true) }

// status gathers the node's status; withDiffs asks the leader for its copy of the
// groups.
func (n *Node) status(withDiffs bool) api.Status {
	_, leader := n.raft.LeaderWithID()
	t := n.cfg.Cluster.Timing
	role := n.raft.State()
	st := api.Status{
		Node:     n.cfg.Node.Name,
		NodeRole: n.cfg.Node.Role,
		State:    strings.ToLower(role.String()),
		Leader:   string(leader),
		Term:     n.raft.CurrentTerm(),
		Security: n.Security(),
		Timing: api.TimingInfo{
			Profile:     t.Profile,
			HeartbeatMS: t.HeartbeatTimeout.Milliseconds(),
			VIPLeaseMS:  t.VIPLease.Milliseconds(),
			DeltaMS:     t.ClaimMargin.Milliseconds(),
		},
		Groups:  []api.GroupStatus{},
		Members: []api.Member{},
		Events:  []api.Event{},
		Version: Version,
	}
	lh, states := n.local()
	st.Priority, st.BasePriority = lh.Priority, n.basePriority()
	standing := n.standing()
	st.Ineligible = standing.Fault
	if st.Ineligible == "" {
		st.Ineligible = standing.Ineligible
	}
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
	var differs map[string][]string
	var outlook map[string]election.Outlook
	if withDiffs {
		differs, outlook = n.leaderPlacement()
	}
	own := n.fsm.Ownership()
	holder := map[string]election.GroupStatus{}
	for _, hs := range n.holder.Status() {
		holder[hs.Group] = hs
	}
	for _, g := range n.groups {
		name := g.cfg.Name
		hs := holder[name]
		gs := own.Group(name)
		out := api.GroupStatus{
			Name: name, Interface: g.cfg.Interface, Holding: hs.Holding, Assigned: hs.Assigned, Reason: string(hs.Reason),
			LeaseRemainingMS: hs.LeaseRemaining.Milliseconds(), WaitMS: gs.Wait.Milliseconds(),
			Priority: standing.Priority[name], Ineligible: standing.Why[name], Differs: differs[name], VRRP: n.vrrpStatus(g),
		}
		if b := standing.Blocked[name]; b != "" && out.Ineligible == "" {
			out.Ineligible = b
		}
		o := outlook[name]
		out.Policy = api.Policy{Preferred: o.Preferred, NoneEligible: o.NoneEligible, Pending: o.Pending,
			Preempt: g.cfg.Preempt, PreemptDelay: g.cfg.PreemptDelay.String(), MinMoveEvery: g.cfg.MinMoveInterval.String()}
		if gs.Active() {
			out.Holder, out.Index = gs.Current.Node, gs.Current.Index
		}
		switch {
		case hs.Holding:
		case standing.Blocked[name] != "":
			out.Reason = standing.Blocked[name] // a foreign VRRP master rules the VRID here
		case leader == "" && role != raft.Shutdown:
			out.Reason = ReasonNoQuorum
		case out.Holder != "" && !hs.Assigned:
			out.Reason = fmt.Sprintf("%s; %s holds it", hs.Reason, out.Holder)
		case out.Holder == "":
			out.Reason = fmt.Sprintf("%s; assigned to nobody: no eligible node", hs.Reason)
		}
		for _, a := range g.cfg.Addresses {
			out.Addresses = append(out.Addresses, a.String())
		}
		st.Groups = append(st.Groups, out)
	}
	if n.cfg.Witness() {
		st.Groups = append(st.Groups, witnessGroups(own, outlook)...)
		if len(st.Groups) > 0 {
			st.Holder = st.Groups[0].Holder
		}
	}
	// The first group is the VIP of the top-level fields.
	if len(st.Groups) > 0 && len(n.groups) > 0 {
		g0, c0 := st.Groups[0], n.groups[0].cfg
		st.Holding, st.Holder, st.Reason, st.LeaseRemainingMS = g0.Holding, g0.Holder, g0.Reason, g0.LeaseRemainingMS
		st.Timing.WaitMS = g0.WaitMS
		st.VIP = api.VIPStatus{Interface: c0.Interface, Addresses: g0.Addresses, Lifetime: c0.Lifetime.String(), Fencing: c0.Fencing}
		st.VRRP = g0.VRRP
		st.Policy = g0.Policy
		if st.Ineligible == "" && g0.Ineligible != "" {
			st.Ineligible = g0.Ineligible // FAULT of a check the first group tracks
			st.Eligible = false
		}
		for _, hs := range n.holder.Status() {
			if hs.Group == c0.Name && hs.Holding && !hs.Since.IsZero() {
				since := hs.Since
				st.HeldSince = &since
			}
		}
	}
	if st.Membership = n.membership(); st.Membership != "" && !st.Holding {
		st.Reason = st.Membership
	}
	st.Members = n.members(leader, st.Holder)
	st.Timing.Differs = n.timingDiffers()
	for _, r := range n.fsm.History() {
		e := api.Event{Kind: r.Kind, Node: r.Node, Term: r.Term, At: r.At, Index: r.Index, Handoff: r.Handoff, Reason: r.Reason,
			Group: r.Group, Held: r.Held}
		if r.Kind == store.KindDrain {
			d := r.Drained
			e.Drained = &d
		}
		st.Events = append(st.Events, e)
	}
	return st
}

// members lists the Raft configuration with each server's health, from gossip and
// the FSM.
func (n *Node) members(leader raft.ServerID, holder string) []api.Member {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return []api.Member{}
	}
	cands := n.memberHealth()
	byName := make(map[string]memberHealth, len(cands))
	for _, c := range cands {
		byName[c.Name] = c
	}
	out := []api.Member{}
	for _, s := range f.Configuration().Servers {
		name := string(s.ID)
		c, ok := byName[name]
		if !ok {
			c = memberHealth{Name: name, Drained: n.fsm.Drained(name)}
		}
		m := api.Member{
			Name:       name,
			NodeRole:   c.nodeRole(),
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
		if !m.Voter && m.Ineligible == "" {
			m.Ineligible = "not a voter" // it joined and has not caught up yet: placement skips it
		}
		m.Eligible = m.Ineligible == ""
		if name == n.cfg.Node.Name {
			m.Gossip, m.BasePriority, m.Version, m.Timing = string(gossip.Alive), n.basePriority(), Version, n.cfg.Cluster.Timing.Summary()
			_, states := n.local()
			for _, s := range states {
				m.Checks = append(m.Checks, api.MemberCheck{Name: s.Name, State: checkWord(s), Output: s.Output})
			}
		} else if gm, ok := n.gossip.Member(name); ok {
			m.Gossip = string(gm.State)
			if gm.MetaErr == nil {
				m.BasePriority, m.Version, m.Timing = gm.Meta.Base, gm.Meta.Version, gm.Meta.Timing
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
		return n.Transfer(ctx, req.Group, req.Node)
	}))
	mux.HandleFunc("POST /v1/force-leave", jsonHandler(15*time.Second, writeAPI, func(ctx context.Context, req api.ForceLeaveRequest) (api.ForceLeaveResponse, error) {
		return n.ForceLeave(ctx, req.Node)
	}))
	// Go's profiles of this process, for profiling an agent in the field: go tool pprof
	// reads them from a file fetched with curl --unix-socket (docs/operations.md).
	// Only root reaches the socket.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
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

// witnessGroups are the groups as a witness sees them: it has none in its file, so
// the log's assignments (and, while it leads, its outlook) are all there is.
func witnessGroups(own *store.Ownership, outlook map[string]election.Outlook) []api.GroupStatus {
	var out []api.GroupStatus
	for name, gs := range own.Groups() {
		g := api.GroupStatus{Name: name, Reason: "placed by the log; a witness holds no VIP"}
		if gs.Active() {
			g.Holder, g.Index = gs.Current.Node, gs.Current.Index
		}
		if o, ok := outlook[name]; ok {
			g.Policy = api.Policy{Preferred: o.Preferred, NoneEligible: o.NoneEligible, Pending: o.Pending}
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b api.GroupStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}
