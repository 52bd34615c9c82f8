package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/raftvip/raftvip/cluster/api"
	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/transport"
	"github.com/raftvip/raftvip/election"
	"github.com/raftvip/raftvip/store"
)

// The cluster RPC carries requests that only the Raft leader can carry out (changing a
// drain flag) from the node an operator talks to, to the leader. It is HTTP with JSON
// bodies over the Raft port (see mux).

// errNotLeader is what a node that is not (or no longer) the leader answers.
var errNotLeader = errors.New("not the raft leader")

// ErrNoLeader means the cluster has no leader this node can see: it cannot reach a
// quorum, or an election is under way.
var ErrNoLeader = errors.New("no raft leader: this node cannot reach a quorum of voters; try again when the cluster has a leader")

const rpcNotLeader = "not-leader"

// rpcDrainRequest asks the leader to set or clear a node's drain flag.
type rpcDrainRequest struct {
	Node    string `json:"node"`
	Drained bool   `json:"drained"`
	By      string `json:"by"` // the node the operator asked
}

// rpcDrainResponse is the leader's answer.
type rpcDrainResponse struct {
	Index uint64 `json:"index"` // Raft index of the committed flag
}

// rpcInfoResponse is what a node says about its membership (POST /v1/rpc/info): a
// node about to bootstrap asks every other, and a leader asks a non-voter how far
// its log is before it promotes it.
type rpcInfoResponse struct {
	Name      string   `json:"name"`
	ID        string   `json:"id"`
	HasState  bool     `json:"has_state"`
	Expect    int      `json:"expect"`
	LastIndex uint64   `json:"last_index"`
	Servers   []string `json:"servers"` // alive gossip members with no raft state, sorted
}

// rpcRemoveRequest asks the leader to remove a server (leave, force-leave).
type rpcRemoveRequest struct {
	Node string `json:"node"`
	Why  string `json:"why"`
	By   string `json:"by"`
}

// rpcTransferRequest asks the leader for a planned move of Group ("": the groups the
// asking node holds, or the only group) to Node ("": the best other node).
type rpcTransferRequest struct {
	Node  string `json:"node"`
	Group string `json:"group,omitempty"`
	By    string `json:"by"`
}

// rpcReleaseRequest asks the leader to commit a node's release of a group.
type rpcReleaseRequest struct {
	Group   string        `json:"group"`
	Release store.Release `json:"release"`
	Reason  string        `json:"reason"`
}

// rpcPlacementResponse is the leader's side of placement, for status: its copy of
// every group's shared settings, and its outlook per group (nil from a node that
// does not lead).
type rpcPlacementResponse struct {
	Groups  map[string][]config.IdentityField `json:"groups"`
	Outlook []election.Outlook                `json:"outlook,omitempty"`
	// Digests are the digests of the groups the leader places by; a witness has no
	// groups of its own and places by the copies the load balancers report.
	Digests map[string]string `json:"digests,omitempty"`
}

type rpcError struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

// serveRPC answers the cluster RPC on the connections the mux sorts to it.
func serveRPC(ln net.Listener, n *Node, logger *slog.Logger) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/rpc/drain", func(w http.ResponseWriter, r *http.Request) {
		var req rpcDrainRequest
		if err := decodeBody(r, &req); err != nil {
			writeJSON(w, http.StatusBadRequest, rpcError{Error: err.Error()})
			return
		}
		idx, err := n.applyDrain(req.Node, req.Drained, req.By)
		switch {
		case errors.Is(err, errNotLeader):
			writeJSON(w, http.StatusConflict, rpcError{Error: err.Error(), Code: rpcNotLeader})
		case errors.Is(err, errBadRequest):
			writeJSON(w, http.StatusBadRequest, rpcError{Error: err.Error()})
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, rpcError{Error: err.Error()})
		default:
			writeJSON(w, http.StatusOK, rpcDrainResponse{Index: idx})
		}
	})
	mux.HandleFunc("POST /v1/rpc/health", func(w http.ResponseWriter, r *http.Request) {
		// The same metadata this node gossips, fresh: a leader asks before it moves
		// the VIP here.
		w.Header().Set("Content-Type", "application/json")
		w.Write(n.localMeta())
	})
	mux.HandleFunc("POST /v1/rpc/info", func(w http.ResponseWriter, r *http.Request) {
		info := rpcInfoResponse{Name: n.cfg.Node.Name, ID: n.stores.ID, HasState: n.startState, Expect: n.cfg.Cluster.BootstrapExpect}
		if n.ready.Load() {
			info.HasState, info.LastIndex, info.Servers = n.hasState(), n.raft.LastIndex(), n.formingServers()
		}
		writeJSON(w, http.StatusOK, info)
	})
	mux.HandleFunc("POST /v1/rpc/remove", jsonHandler(10*time.Second, writeRPC, func(_ context.Context, req rpcRemoveRequest) (struct{}, error) {
		return struct{}{}, n.removeServer(req.Node, req.Why+" (via "+req.By+")")
	}))
	mux.HandleFunc("POST /v1/rpc/force-leave", jsonHandler(10*time.Second, writeRPC, func(_ context.Context, req rpcRemoveRequest) (api.ForceLeaveResponse, error) {
		return n.forceLeave(req.Node, req.By)
	}))
	mux.HandleFunc("POST /v1/rpc/transfer", jsonHandler(10*time.Second, writeRPC, func(ctx context.Context, req rpcTransferRequest) (api.TransferResponse, error) {
		return n.transfer(ctx, req.Group, req.Node, req.By)
	}))
	mux.HandleFunc("POST /v1/rpc/release", jsonHandler(10*time.Second, writeRPC, func(_ context.Context, req rpcReleaseRequest) (struct{}, error) {
		return struct{}{}, n.applyRelease(req.Group, req.Release, req.Reason)
	}))
	mux.HandleFunc("POST /v1/rpc/placement", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, n.placementView())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, rpcError{Error: fmt.Sprintf("no such cluster RPC: %s %s (is this node running an older raftvip?)", r.Method, r.URL.Path)})
	})
	// Until Start has wired the node up, only info answers: it is what a peer that
	// starts at the same moment asks before it bootstraps.
	starting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !n.ready.Load() && r.URL.Path != "/v1/rpc/info" {
			writeJSON(w, http.StatusServiceUnavailable, rpcError{Error: "node " + n.cfg.Node.Name + " is starting"})
			return
		}
		mux.ServeHTTP(w, r)
	})
	srv := &http.Server{Handler: starting, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, transport.ErrClosed) && !errors.Is(err, net.ErrClosed) {
			logger.Error("cluster RPC stopped", "err", err)
		}
	}()
	return srv
}

// writeRPC answers a cluster RPC with resp, or with err in the form rpcCall turns
// back into errNotLeader, errBadRequest or a plain error.
func writeRPC(w http.ResponseWriter, resp any, err error) {
	switch {
	case errors.Is(err, errNotLeader):
		writeJSON(w, http.StatusConflict, rpcError{Error: err.Error(), Code: rpcNotLeader})
	case errors.Is(err, errBadRequest):
		writeJSON(w, http.StatusBadRequest, rpcError{Error: strings.TrimPrefix(err.Error(), errBadRequest.Error()+": ")})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, rpcError{Error: err.Error()})
	default:
		writeJSON(w, http.StatusOK, resp)
	}
}

// rpcCall posts req to path on the node whose Raft address is addr and decodes the
// answer into resp (a *[]byte takes it as it is). It goes over the Raft port, with
// this node's TLS if it has it.
func (n *Node) rpcCall(ctx context.Context, addr, path string, req, resp any) error {
	return callRPC(ctx, n.net.dial, addr, path, req, resp)
}

// callRPC is rpcCall over connections that dial opens.
func callRPC(ctx context.Context, dial func(addr string, timeout time.Duration) (net.Conn, error), addr, path string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			timeout := 5 * time.Second
			if dl, ok := ctx.Deadline(); ok {
				timeout = time.Until(dl)
			}
			return dial(addr, timeout)
		},
		DisableKeepAlives: true,
	}}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := client.Do(hreq)
	if err != nil {
		return fmt.Errorf("cluster RPC to %s: %w", addr, err)
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hresp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("cluster RPC to %s: %w", addr, err)
	}
	if hresp.StatusCode != http.StatusOK {
		var e rpcError
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			switch {
			case e.Code == rpcNotLeader:
				return errNotLeader
			case hresp.StatusCode == http.StatusBadRequest:
				return fmt.Errorf("%w: %s", errBadRequest, e.Error)
			}
			return errors.New(e.Error)
		}
		return fmt.Errorf("cluster RPC to %s: %s", addr, hresp.Status)
	}
	if raw, ok := resp.(*[]byte); ok {
		*raw = data
		return nil
	}
	return json.Unmarshal(data, resp)
}

// errBadRequest marks an error the operator's input caused.
var errBadRequest = errors.New("bad request")

// decodeBody reads one JSON object of at most 64 KiB with no unknown fields.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %w", err)
	}
	return nil
}
