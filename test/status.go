package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// Status is the output of `raftvip status --json`, as far as the suite reads it.
// Unknown fields are ignored so that the agent may add more.
type Status struct {
	Node             string   `json:"node"`
	NodeRole         string   `json:"node_role"` // lb or witness
	State            string   `json:"state"`     // leader, follower, candidate, shutdown
	Leader           string   `json:"leader"`
	Term             uint64   `json:"term"`
	Holding          bool     `json:"holding"`
	Holder           string   `json:"holder"`
	Reason           string   `json:"reason"`
	LeaseRemainingMS float64  `json:"lease_remaining_ms"`
	Priority         int      `json:"priority"`
	BasePriority     int      `json:"base_priority"`
	Eligible         bool     `json:"eligible"`
	Ineligible       string   `json:"ineligible"`
	Drained          bool     `json:"drained"`
	Membership       string   `json:"membership"` // why the node is not in a cluster yet; "" once it is
	Checks           []Check  `json:"checks"`
	Policy           Policy   `json:"policy"`
	Members          []Member `json:"members"`
	Events           []Event  `json:"events"`
	VRRP             *VRRP    `json:"vrrp"` // nil from an agent without VRRP support
	Security         Security `json:"security"`
	Groups           []Group  `json:"groups"`
}

// Group is one entry of Status.Groups.
type Group struct {
	Name             string   `json:"name"`
	Addresses        []string `json:"addresses"`
	Holder           string   `json:"holder"`
	Index            uint64   `json:"index"` // of the assignment to Holder in this node's log
	Holding          bool     `json:"holding"`
	Assigned         bool     `json:"assigned"`
	Reason           string   `json:"reason"`
	LeaseRemainingMS float64  `json:"lease_remaining_ms"`
	WaitMS           float64  `json:"wait_ms"`
	Priority         int      `json:"priority"`
	Ineligible       string   `json:"ineligible"`
	Differs          []string `json:"differs"`
	Policy           Policy   `json:"policy"`
}

// Group returns the group called name, if the status has it.
func (s Status) Group(name string) (Group, bool) {
	for _, g := range s.Groups {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}

// Security is Status.Security (cluster.SecurityStatus).
type Security struct {
	TLS             bool              `json:"tls"`
	GossipEncrypted bool              `json:"gossip_encrypted"`
	Insecure        bool              `json:"insecure"`
	TLSRejectsIn    map[string]uint64 `json:"tls_rejects_in"`  // handshakes of peers refused, by reason
	TLSRejectsOut   map[string]uint64 `json:"tls_rejects_out"` // this node's handshakes that failed, by reason
	GossipRejects   map[string]uint64 `json:"gossip_rejects"`  // gossip messages that did not decrypt, by reason
}

// VRRP is Status.VRRP: the node's VRRP role, its packet counters (drops by reason)
// and the foreign routers it hears.
type VRRP struct {
	Enabled  bool              `json:"enabled"`
	Role     string            `json:"role"` // master (this node holds), backup, disabled
	Version  int               `json:"version"`
	VRID     int               `json:"vrid"`
	Reason   string            `json:"reason"` // "VRRP backup: ..." while a foreign master outranks the cluster
	Foreign  []VRRPRouter      `json:"foreign"`
	Sent     uint64            `json:"sent"`
	Received uint64            `json:"received"`
	Accepted uint64            `json:"accepted"`
	Dropped  map[string]uint64 `json:"dropped"` // by reason: ttl, checksum, auth, vrid, truncated, ..., member
}

// VRRPRouter is one foreign VRRP router of VRRP.Foreign.
type VRRPRouter struct {
	Address    string    `json:"address"`
	Priority   int       `json:"priority"`
	IntervalMS float64   `json:"interval_ms"`
	Version    int       `json:"version"`
	LastSeen   time.Time `json:"last_seen"`
	Adverts    uint64    `json:"adverts"`
	Master     bool      `json:"master"`
}

// Router returns the foreign router with address addr, if listed.
func (v *VRRP) Router(addr string) (VRRPRouter, bool) {
	if v == nil {
		return VRRPRouter{}, false
	}
	for _, r := range v.Foreign {
		if r.Address == addr {
			return r, true
		}
	}
	return VRRPRouter{}, false
}

// VRRPStatus runs `raftvip status --json` on n and returns its vrrp part; an agent
// whose status has none is an error.
func (l *Lab) VRRPStatus(n *Node) (VRRP, error) {
	st, err := l.Status(n)
	if err != nil {
		return VRRP{}, err
	}
	if st.VRRP == nil {
		return VRRP{}, fmt.Errorf("status of %s: no vrrp field", n.Name)
	}
	return *st.VRRP, nil
}

// Member is one entry of Status.Members.
type Member struct {
	Name       string `json:"name"`
	NodeRole   string `json:"node_role"`
	Address    string `json:"address"`
	Voter      bool   `json:"voter"`
	Leader     bool   `json:"leader"`
	Holder     bool   `json:"holder"`
	Gossip     string `json:"gossip"`
	Priority   int    `json:"priority"`
	Eligible   bool   `json:"eligible"`
	Ineligible string `json:"ineligible"`
	Drained    bool   `json:"drained"`
	Fault      bool   `json:"fault"`
}

// Check is one of the node's own checks in Status.Checks.
type Check struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	State  string `json:"state"`
	Output string `json:"output"`
}

// Policy is Status.Policy.
type Policy struct {
	Preferred    string `json:"preferred"`
	NoneEligible string `json:"none_eligible"`
	Pending      string `json:"pending"`
}

// Event is one claim/release record of Status.Events.
type Event struct {
	Kind    string    `json:"kind"`
	Node    string    `json:"node"`
	Term    uint64    `json:"term"`
	At      time.Time `json:"at"`
	Index   uint64    `json:"index"`
	Handoff string    `json:"handoff"`
	Reason  string    `json:"reason"`
}

// StatusTimeout bounds one `raftvip status` call (a frozen agent never answers).
const StatusTimeout = 3 * time.Second

// statusCmd runs `raftvip status [--json] --socket <n.Socket>` in n's namespace.
func (l *Lab) statusCmd(ctx context.Context, n *Node, jsonOut bool) (string, error) {
	bin, err := Binary()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, StatusTimeout)
	defer cancel()
	args := []string{"netns", "exec", n.NS, bin, "status"}
	if jsonOut {
		args = append(args, "--json")
	}
	args = append(args, "--socket", n.Socket)
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("status of %s: %w: %s", n.Name, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Status runs `raftvip status --json` against n's admin socket and decodes it.
func (l *Lab) Status(n *Node) (Status, error) {
	return l.StatusContext(context.Background(), n)
}

// StatusContext is Status with a context.
func (l *Lab) StatusContext(ctx context.Context, n *Node) (Status, error) {
	out, err := l.statusCmd(ctx, n, true)
	if err != nil {
		return Status{}, err
	}
	var st Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return Status{}, fmt.Errorf("status of %s: decode %q: %w", n.Name, tail(out, 5), err)
	}
	return st, nil
}

// StatusText runs `raftvip status` (human form) against n's admin socket.
func (l *Lab) StatusText(n *Node) (string, error) {
	return l.statusCmd(context.Background(), n, false)
}

// Statuses asks every node whose agent runs, in parallel. A node that does not answer
// has an error instead.
func (l *Lab) Statuses(ctx context.Context) (map[*Node]Status, map[*Node]error) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		sts  = map[*Node]Status{}
		errs = map[*Node]error{}
	)
	for _, n := range l.Nodes {
		if !l.AgentRunning(n) {
			continue
		}
		wg.Go(func() {
			st, err := l.StatusContext(ctx, n)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs[n] = err
			} else {
				sts[n] = st
			}
		})
	}
	wg.Wait()
	return sts, errs
}

// ErrNoHolder is returned when no single holder can be found.
var ErrNoHolder = errors.New("no single holder")

// Holder returns the one node that says holding=true and whose kernel has every VIP.
// It fails (wrapping ErrNoHolder) when none or several answering nodes say they hold.
func (l *Lab) Holder() (*Node, error) {
	return l.holder(context.Background())
}

func (l *Lab) holder(ctx context.Context) (*Node, error) {
	sts, errs := l.Statuses(ctx)
	var holders []*Node
	for _, n := range l.Nodes {
		if st, ok := sts[n]; ok && st.Holding {
			holders = append(holders, n)
		}
	}
	describe := func() string {
		var parts []string
		for _, n := range l.Nodes {
			switch st, ok := sts[n]; {
			case ok:
				parts = append(parts, fmt.Sprintf("%s=%s/holding=%v/leader=%s/term=%d", n.Name, st.State, st.Holding, st.Leader, st.Term))
			case errs[n] != nil:
				parts = append(parts, fmt.Sprintf("%s=error(%v)", n.Name, errs[n]))
			default:
				parts = append(parts, n.Name+"=not running")
			}
		}
		return strings.Join(parts, " ")
	}
	if len(holders) != 1 {
		return nil, fmt.Errorf("%w: %d nodes say holding: %s", ErrNoHolder, len(holders), describe())
	}
	h := holders[0]
	ok, err := l.KernelHolds(h)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s says holding but its eth0 lacks a VIP: %s", ErrNoHolder, h.Name, describe())
	}
	return h, nil
}

// GroupHolder returns the one node that says it holds group name and whose kernel
// has the group's VIP. It fails (wrapping ErrNoHolder) when none or several do.
func (l *Lab) GroupHolder(ctx context.Context, name string) (*Node, error) {
	vip := l.GroupVIP(name)
	if !vip.IsValid() {
		return nil, fmt.Errorf("lab: no group %q", name)
	}
	sts, _ := l.Statuses(ctx)
	var holders []string
	var h *Node
	for _, n := range l.Nodes {
		if g, ok := sts[n].Group(name); ok && g.Holding {
			holders, h = append(holders, n.Name), n
		}
	}
	if len(holders) != 1 {
		return nil, fmt.Errorf("%w of %s: %d nodes say holding it %v", ErrNoHolder, name, len(holders), holders)
	}
	if ok, err := l.kernelHas(h, vip); err != nil || !ok {
		return nil, fmt.Errorf("%w of %s: %s says holding but its eth0 lacks %s (%v)", ErrNoHolder, name, h.Name, vip, err)
	}
	return h, nil
}

// WaitGroupHolder polls until GroupHolder finds a holder of group name that is not one
// of not, at most timeout.
func (l *Lab) WaitGroupHolder(name string, timeout time.Duration, not ...*Node) (*Node, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		h, err := l.GroupHolder(ctx, name)
		if err == nil && slices.Contains(not, h) {
			err = fmt.Errorf("%s still holds %s", h.Name, name)
		}
		if err == nil {
			return h, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lab: wait for a holder of %s (%v): %w", name, timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitForHolder polls until Holder succeeds, at most timeout.
func (l *Lab) WaitForHolder(timeout time.Duration) (*Node, error) {
	return l.WaitForHolderContext(context.Background(), timeout)
}

// WaitForHolderContext is WaitForHolder with a context.
func (l *Lab) WaitForHolderContext(ctx context.Context, timeout time.Duration) (*Node, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		h, err := l.holder(ctx)
		if err == nil {
			return h, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lab: wait for holder (%v): %w", timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitStatus polls n's status until cond holds, at most timeout; it returns the last
// status seen.
func (l *Lab) WaitStatus(n *Node, timeout time.Duration, cond func(Status) bool) (Status, error) {
	deadline := time.Now().Add(timeout)
	var (
		st  Status
		err error
	)
	for {
		st, err = l.Status(n)
		if err == nil && cond(st) {
			return st, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("condition not met: %+v", st)
			}
			return st, fmt.Errorf("lab: wait for status of %s (%v): %w", n.Name, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitForSteadyHolder waits until want has held the VIP for steady (another node may
// hold it first, until the leadership policy moves it), at most timeout.
func (l *Lab) WaitForSteadyHolder(ctx context.Context, want *Node, steady, timeout time.Duration) (*Node, error) {
	deadline := time.Now().Add(timeout)
	var since time.Time
	for {
		h, err := l.WaitForHolderContext(ctx, timeout)
		switch {
		case err != nil:
			return nil, err
		case h != want:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= steady:
			return h, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lab: %s does not hold the VIP steadily after %v (holder %s)", want.Name, timeout, h.Name)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
