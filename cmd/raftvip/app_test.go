package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster/api"
	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/pki"
)

// run runs the app as `raftvip args...` and returns stdout, stderr and the error.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := newApp(&out, &errOut).Run(append([]string{"raftvip"}, args...))
	return out.String(), errOut.String(), err
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(config.Example()), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("node:\n  name: lb1\n  bind: 198.18.0.11\nvip:\n  interface: eth0\n  addresses: [198.18.0.10/24]\n  lifetim: 2s\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// As printed, the example wants the operator's CA, certificate and key.
	_, _, err := run(t, "config", "check", good)
	if err == nil || !strings.Contains(err.Error(), "cluster.tls.ca_file") || !strings.Contains(err.Error(), "raftvip keygen") {
		t.Errorf("check of the example as printed: %v; want what to make", err)
	}
	// Made with the tls verbs and keygen, it is good.
	tlsDir := filepath.Join(dir, "tls")
	if _, _, err := run(t, "tls", "ca", "--dir", tlsDir); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "tls", "cert", "lb1", "--ip", "198.18.0.11", "--dir", tlsDir); err != nil {
		t.Fatal(err)
	}
	key, _, err := run(t, "keygen")
	if err != nil {
		t.Fatal(err)
	}
	example := strings.ReplaceAll(config.Example(), pki.DefaultTLSDir+"/", tlsDir+"/")
	example = strings.Replace(example, `"<paste the output of raftvip keygen>"`, strings.TrimSpace(key), 1)
	if err := os.WriteFile(good, []byte(example), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "config", "check", good)
	if err != nil || !strings.Contains(out, "ok") || !strings.Contains(out, "mutual TLS and gossip encryption") {
		t.Errorf("check of the example: out %q, err %v; want ok", out, err)
	}
	_, _, err = run(t, "config", "check", bad)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:7") || !strings.Contains(err.Error(), "vip.lifetim") {
		t.Errorf("check of a typo: err %v; want the file, line 7 and the field", err)
	}
	_, _, err = run(t, "config", "check")
	if err == nil || !strings.Contains(err.Error(), "exactly one argument") {
		t.Errorf("check without a file: err %v", err)
	}
	_, _, err = run(t, "config", "check", filepath.Join(dir, "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("check of a missing file: err %v; want the path", err)
	}
}

func TestStatusAgentNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	_, _, err := run(t, "status", "--socket", sock)
	if err == nil {
		t.Fatal("status without an agent succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "not running") || !strings.Contains(msg, sock) || strings.Contains(msg, "\n") {
		t.Errorf("status without an agent: %q; want one line naming the socket", msg)
	}
	t.Setenv("RAFTVIP_SOCKET", sock)
	if _, _, err := run(t, "status", "--json"); err == nil || !strings.Contains(err.Error(), sock) {
		t.Errorf("RAFTVIP_SOCKET not honoured: %v", err)
	}
}

func TestAgentRejectsArguments(t *testing.T) {
	if _, _, err := run(t, "agent", "extra"); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("agent with a stray argument: %v", err)
	}
	_, _, err := run(t, "agent", "--config", filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("agent with a missing config: %v", err)
	}
}

func TestPrintStatus(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 30, 0, time.UTC)
	since := now.Add(-30 * time.Second)
	f := false
	st := &api.Status{
		Node: "lb1", State: "leader", Leader: "lb1", Term: 7, Holding: true, Holder: "lb1", Reason: "holding",
		HeldSince: &since, LeaseRemainingMS: 120,
		Priority: 150, BasePriority: 150, Eligible: true,
		Checks: []api.Check{{Name: "haproxy", Type: "haproxy", Weight: 0, State: "passing", Output: "HAProxy 2.6.12 up", Since: &since}},
		Policy: api.Policy{Preferred: "lb1", Preempt: true, Pending: "lb2 has priority 200 > 150; moving at 12:00:31.000 unless that changes"},
		VIP:    api.VIPStatus{Interface: "eth0", Addresses: []string{"198.18.0.10/24"}, Lifetime: "2s", Fencing: "standard"},
		Timing: api.TimingInfo{Profile: "lan", HeartbeatMS: 300, VIPLeaseMS: 150, WaitMS: 1600, DeltaMS: 40},
		Members: []api.Member{
			{Name: "lb1", Address: "198.18.0.11:7300", Voter: true, Leader: true, Holder: true, Gossip: "alive", Priority: 150, BasePriority: 150, Eligible: true,
				Checks: []api.MemberCheck{{Name: "haproxy", State: "passing"}}},
			{Name: "lb2", Address: "198.18.0.12:7300", Voter: true, Gossip: "alive", Priority: 70, BasePriority: 120, Ineligible: "FAULT: check haproxy failing", Fault: true,
				Checks: []api.MemberCheck{{Name: "haproxy", State: "failing", Output: "connection refused"}}},
			{Name: "lb3", Address: "198.18.0.13:7300", Voter: true, Gossip: "alive", Priority: 100, Ineligible: "drained", Drained: true},
		},
		Events: []api.Event{
			{Kind: "drain", Node: "lb3", At: since, Drained: &f, Reason: "operator, via lb1"},
			{Kind: "release", Node: "lb2", Term: 6, At: since, Handoff: "lb1", Reason: "lb2 is FAULT: check haproxy failing; moving to lb1 (priority 150)"},
			{Kind: "claim", Node: "lb1", Term: 7, At: since},
		},
	}
	var b bytes.Buffer
	printStatus(&b, st, now)
	out := squeeze(b.String())
	for _, want := range []string{
		"lb1 (leader, term 7)", "HELD here for 30s", "priority 150 (base 150), eligible",
		"check haproxy", "PASSING for 30s, weight 0: HAProxy 2.6.12 up",
		"policy:  prefers lb1", "pending:  lb2 has priority 200",
		"lb1 *", "no: FAULT: check haproxy failing", "70 (base 120)", "haproxy failing (connection refused)", "no: drained",
		"undrained lb3: operator, via lb1", "release lb2 (term 6) → lb1: lb2 is FAULT", "claim lb1 (term 7)", "delta 40ms, wait 1600ms",
	} {
		if !strings.Contains(out, squeeze(want)) {
			t.Errorf("status output lacks %q:\n%s", want, b.String())
		}
	}

	st.Holding, st.Reason, st.State = false, "not the raft leader", "follower"
	st.Eligible, st.Ineligible, st.Holder = false, "FAULT: check haproxy failing", ""
	st.Policy = api.Policy{NoneEligible: "no eligible node: lb1: FAULT: check haproxy failing; lb2: drained"}
	b.Reset()
	printStatus(&b, st, now)
	for _, want := range []string{"not held here (not the raft leader)", "NOT eligible: FAULT: check haproxy failing", "policy:  no eligible node: lb1: FAULT"} {
		if !strings.Contains(squeeze(b.String()), squeeze(want)) {
			t.Errorf("status of an ineligible follower lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "cluster:") {
		t.Errorf("status of a member has a cluster line:\n%s", b.String())
	}

	st.Groups = []api.GroupStatus{
		{Name: "web", Addresses: []string{"198.18.0.21/24"}, Holder: "lb1", Holding: true, Priority: 150, LeaseRemainingMS: 90, Reason: "holding"},
		{Name: "api", Addresses: []string{"198.18.0.22/24"}, Holder: "lb2", Priority: 100, Reason: "not assigned here; lb2 holds it",
			Policy: api.Policy{Preferred: "lb1", Pending: "preempt is off: lb1 has priority 150 > 100 on lb2; it stays"}},
		{Name: "db", Addresses: []string{"198.18.0.23/24"}, Ineligible: "FAULT: check db failing", Reason: "x",
			Differs: []string{"groups[db].addresses"}, Policy: api.Policy{NoneEligible: "no node may hold it (lb1: drained)"}},
	}
	st.Timing.Differs = []string{"lb3: wan (heartbeat 1s, ...)"}
	b.Reset()
	printStatus(&b, st, now)
	for _, want := range []string{"GROUP ADDRESSES HOLDER HERE PRIORITY LEASE REASON",
		"web 198.18.0.21/24 lb1 HELD 150 90ms holding", "api 198.18.0.22/24 lb2 - 100 - not assigned here; lb2 holds it",
		"db 198.18.0.23/24 (none) - no: FAULT: check db failing - copy differs from the leader's: groups[db].addresses",
		"api pending: preempt is off: lb1 has priority 150 > 100 on lb2; it stays", "db: no node may hold it (lb1: drained)",
		"differs: lb3: wan (heartbeat 1s, ...)"} {
		if !strings.Contains(squeeze(b.String()), squeeze(want)) {
			t.Errorf("status with groups lacks %q:\n%s", want, b.String())
		}
	}
	st.Groups, st.Timing.Differs = nil, nil

	st.VRRP = api.VRRPStatus{Enabled: true, Role: "backup", Version: 2, VRID: 51,
		Reason: "VRRP backup: 198.18.0.14 is master with priority 200 > 150", Sent: 3, Received: 9, Accepted: 7,
		Dropped: map[string]uint64{"ttl": 1, "member": 1},
		Foreign: []api.VRRPRouter{{Address: "198.18.0.14", Priority: 200, IntervalMS: 1000, Version: 2, LastSeen: now.Add(-time.Second), Adverts: 7, Master: true}}}
	b.Reset()
	printStatus(&b, st, now)
	for _, want := range []string{"vrrp: v2 vrid 51, backup here; VRRP backup: 198.18.0.14 is master", "dropped: member 1, ttl 1",
		"router 198.18.0.14 priority 200, v2 every 1000ms, 7 adverts, last 1s ago, MASTER"} {
		if !strings.Contains(squeeze(b.String()), squeeze(want)) {
			t.Errorf("status with VRRP lacks %q:\n%s", want, b.String())
		}
	}

	st.Membership = "waiting for bootstrap_expect: 2 of 3 servers see each other (lb1, lb2)"
	st.Reason = st.Membership
	b.Reset()
	printStatus(&b, st, now)
	if want := "cluster: waiting for bootstrap_expect: 2 of 3"; !strings.Contains(squeeze(b.String()), squeeze(want)) {
		t.Errorf("status of a node not in a cluster lacks %q:\n%s", want, b.String())
	}
}

func TestDrainArguments(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	_, _, err := run(t, "drain", "--socket", sock, "lb1", "lb2")
	if err == nil || !strings.Contains(err.Error(), "at most one node") {
		t.Errorf("drain of two nodes: %v", err)
	}
	_, _, err = run(t, "drain", "--socket", sock, "lb1")
	if err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("drain without an agent: %v", err)
	}
	_, _, err = run(t, "drain", "lb1", "--off")
	if err == nil || !strings.Contains(err.Error(), "put flags before the node name") {
		t.Errorf("drain with a flag after the node: %v", err)
	}
}

// squeeze collapses runs of white space, so tests do not depend on tabwriter's padding.
func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }

// fakeAgent fakes the admin API on a unix socket, records every request as
// "METHOD PATH BODY" and counts status calls.
type fakeAgent struct {
	sock string
	srv  *httptest.Server

	mu          sync.Mutex
	reqs        []string
	statusCalls int
}

// startFake serves routes (ServeMux patterns such as "POST /v1/leave") on a socket in
// a fresh short directory; anything else gets the agent's 404.
func startFake(t *testing.T, routes func(f *fakeAgent) map[string]http.HandlerFunc) *fakeAgent {
	t.Helper()
	// Socket paths are limited to 108 bytes; t.TempDir() names can be longer.
	dir, err := os.MkdirTemp("", "raftvip")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	f := &fakeAgent{sock: filepath.Join(dir, "agent.sock")}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		replyJSON(w, http.StatusNotFound, map[string]string{"error": "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
	if routes != nil {
		for pattern, h := range routes(f) {
			mux.HandleFunc(pattern, h)
		}
	}
	ln, err := net.Listen("unix", f.sock)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		f.reqs = append(f.reqs, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+string(body)))
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	f.srv.Listener.Close()
	f.srv.Listener = ln
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAgent) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

// exitAfter answers with h, then stops serving as an agent that exits does: the
// socket goes away.
func (f *fakeAgent) exitAfter(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h(w, r)
		go f.srv.Close()
	}
}

// statusHolders answers status with Holder taken from holders in turn, the last one
// repeated.
func (f *fakeAgent) statusHolders(holders ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		i := min(f.statusCalls, len(holders)-1)
		f.statusCalls++
		f.mu.Unlock()
		replyJSON(w, http.StatusOK, api.Status{Node: "lb1", State: "leader", Leader: "lb1", Holder: holders[i]})
	}
}

func replyJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func reply(code int, v any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { replyJSON(w, code, v) }
}

func apiErr(msg string) http.HandlerFunc {
	return reply(http.StatusBadRequest, map[string]string{"error": msg})
}

var testMembers = api.MembersResponse{
	Node: "lb1", Leader: "lb1", Holder: "lb1",
	Members: []api.MemberInfo{
		{Name: "lb1", Address: "198.18.0.11:7300", GossipAddress: "198.18.0.11:7301", Role: "leader", Gossip: "alive", Priority: 150, Eligible: true, Holder: true},
		{Name: "lb2", Address: "198.18.0.12:7300", GossipAddress: "198.18.0.12:7301", Role: "voter", Gossip: "alive", Priority: 120, Ineligible: "drained", Drained: true},
		{Name: "lb3", Address: "198.18.0.13:7300", Role: "non-voter", Gossip: "dead", Ineligible: "non-voter"},
		{Name: "lb4", GossipAddress: "198.18.0.14:7301", Role: "none", Gossip: "alive", Priority: 100, Ineligible: "not in the raft configuration yet: joining"},
	},
}

func TestMembershipVerbs(t *testing.T) {
	const leaveRefused = "leaving would leave 2 voters (lb2, lb3); a cluster of fewer than 3 voters loses the VIP when one more node fails: add a node first, or pass --force to leave anyway"
	for _, tc := range []struct {
		name    string
		routes  func(f *fakeAgent) map[string]http.HandlerFunc
		args    []string
		wantOut []string // substrings of the output, white space squeezed
		wantErr string   // substring of the error; "" for success
		wantReq []string // requests the agent must have seen, in order; nil: not checked
		check   func(t *testing.T, f *fakeAgent, out string)
	}{
		{
			name: "members table",
			routes: func(f *fakeAgent) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{"GET /v1/members": reply(200, testMembers)}
			},
			args: []string{"members"},
			wantOut: []string{
				"NAME ADDRESS ROLE GOSSIP PRIORITY ELIGIBLE",
				"lb1 * 198.18.0.11:7300 leader alive 150 yes",
				"lb2 198.18.0.12:7300 voter alive 120 no: drained",
				"lb3 198.18.0.13:7300 non-voter dead - no: non-voter",
				"lb4 198.18.0.14:7301 (gossip) - alive 100 no: not in the raft configuration yet: joining",
				"(* holds the VIP)",
			},
			check: func(t *testing.T, _ *fakeAgent, out string) {
				if strings.Contains(out, "no raft leader") {
					t.Errorf("a cluster with a leader says it has none:\n%s", out)
				}
			},
		},
		{
			name: "members without holder or leader",
			routes: func(f *fakeAgent) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{"GET /v1/members": reply(200, api.MembersResponse{Node: "lb2", Members: []api.MemberInfo{
					{Name: "lb2", Address: "198.18.0.12:7300", Role: "voter", Gossip: "alive", Priority: 120, Eligible: true},
				}})}
			},
			args:    []string{"members"},
			wantOut: []string{"lb2 198.18.0.12:7300 voter alive 120 yes", "(no node holds the VIP)", "no raft leader: lb2 cannot reach a quorum"},
		},
		{
			name: "members --json",
			routes: func(f *fakeAgent) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{"GET /v1/members": reply(200, testMembers)}
			},
			args: []string{"members", "--json"},
			check: func(t *testing.T, _ *fakeAgent, out string) {
				var got api.MembersResponse
				if err := json.Unmarshal([]byte(out), &got); err != nil {
					t.Fatalf("members --json is not JSON: %v\n%s", err, out)
				}
				if !reflect.DeepEqual(got, testMembers) {
					t.Errorf("members --json round trip:\ngot  %+v\nwant %+v", got, testMembers)
				}
				if !strings.Contains(out, `"gossip_address": "198.18.0.14:7301"`) {
					t.Errorf("members --json lacks the contract's field names:\n%s", out)
				}
			},
		},
		{name: "members with an argument", args: []string{"members", "lb1"}, wantErr: `members takes no arguments (got "lb1")`, wantReq: []string{}},
		{
			name: "transfer waits for the new holder",
			routes: func(f *fakeAgent) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"POST /v1/transfer": reply(200, api.TransferResponse{From: "lb1", To: "lb3"}),
					"GET /v1/status":    f.statusHolders("lb1", "lb1", "", "lb3"),
				}
			},
			args:    []string{"transfer", "lb3"},
			wantOut: []string{"VIP moved from lb1 to lb3"},
			check: func(t *testing.T, f *fakeAgent, _ string) {
				f.mu.Lock()
				defer f.mu.Unlock()
				if f.statusCalls != 4 {
					t.Errorf("transfer asked for status %d times; want 4 (until lb3 holds)", f.statusCalls)
				}
			},
			wantReq: []string{`POST /v1/transfer {"node":"lb3"}`, "GET /v1/status", "GET /v1/status", "GET /v1/status", "GET /v1/status"},
		},
		{
			name: "transfer to the best node, already there",
			routes: func(f *fakeAgent) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{"POST /v1/transfer": reply(200, api.TransferResponse{From: "lb2", To: "lb2", AlreadyHeld: true})}
			},
			args:    []string{"transfer"},
			wantOut: []string{"lb2 already holds the VIP"},
			wantReq: []string{`POST /v1/transfer {"node":""}`},
		},
		{
			name: "transfer without waiting",
			routes: func(f *fakeAgent) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{"POST /v1/transfer": reply(200, api.TransferResponse{From: "lb1", To: "lb3"})}
			},
			args:    []string{"transfer", "--wait", "0", "lb3"},
			wantOut: []string{"VIP moving from lb1 to lb3"},
			wantReq: []string{`POST /v1/transfer {"node":"lb3"}`},
		},
		{
			name: "transfer times out",
			routes: func(f *fakeAgent) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"POST /v1/transfer": reply(200, api.TransferResponse{From: "lb1", To: "lb3"}),
					"GET /v1/status":    f.statusHolders("lb1"),
				}
			},
			args:    []string{"transfer", "--wait", "300ms", "lb3"},
			wantErr: "the move to lb3 committed, but the VIP is not on it after 300ms (held by lb1); see raftvip status on lb3",
		},
		{
			name: "transfer error from the agent",
			routes: func(f *fakeAgent) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{"POST /v1/transfer": apiErr(`no member named "lb9"; members are lb1, lb2, lb3`)}
			},
			args:    []string{"transfer", "lb9"},
			wantErr: `no member named "lb9"; members are lb1, lb2, lb3`,
			wantReq: []string{`POST /v1/transfer {"node":"lb9"}`},
		},
		{name: "transfer of two nodes", args: []string{"transfer", "lb2", "lb3"}, wantErr: "transfer takes at most one node name (got 2: lb2 lb3)", wantReq: []string{}},
		{name: "transfer flag after node", args: []string{"transfer", "lb3", "--wait", "1s"}, wantErr: `transfer: "--wait" after the node name: put flags before the node name`, wantReq: []string{}},
		{
			name: "leave refused without --force",
			routes: func(f *fakeAgent) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{"POST /v1/leave": apiErr(leaveRefused)}
			},
			args:    []string{"leave"},
			wantErr: leaveRefused,
			wantReq: []string{`POST /v1/leave {"force":false}`},
		},
		{
			name: "leave --force waits for the agent to exit",
			routes: func(f *fakeAgent) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"POST /v1/leave": f.exitAfter(reply(200, api.LeaveResponse{Node: "lb1", HandedTo: "lb2", Voters: 2})),
					"GET /v1/status": f.statusHolders("lb2"),
				}
			},
			args:    []string{"leave", "--force"},
			wantOut: []string{"lb1 left the cluster (VIP handed to lb2)"},
			check: func(t *testing.T, f *fakeAgent, _ string) {
				if r := f.requests(); len(r) == 0 || r[0] != `POST /v1/leave {"force":true}` {
					t.Errorf("requests %q; want a forced leave first", r)
				}
				if _, err := os.Stat(f.sock); !os.IsNotExist(err) {
					t.Errorf("leave returned while the agent's socket is still there (%v)", err)
				}
			},
		},
		{
			name: "leave: agent does not exit",
			routes: func(f *fakeAgent) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{
					"POST /v1/leave": reply(200, api.LeaveResponse{Node: "lb1", Voters: 3}),
					"GET /v1/status": f.statusHolders("lb2"),
				}
			},
			args:    []string{"leave", "--wait", "300ms"},
			wantErr: "lb1 left the cluster, but its agent still answers on",
		},
		{
			name: "leave without waiting, not the holder",
			routes: func(f *fakeAgent) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{"POST /v1/leave": reply(200, api.LeaveResponse{Node: "lb3", Voters: 1})}
			},
			args:    []string{"leave", "--force", "--wait", "0"},
			wantOut: []string{"lb3 left the cluster (1 voter remains)"},
			wantReq: []string{`POST /v1/leave {"force":true}`},
		},
		{name: "leave with an argument", args: []string{"leave", "lb2", "--force"}, wantErr: `leave takes no arguments (got "lb2")`, wantReq: []string{}},
		{
			name: "force-leave",
			routes: func(f *fakeAgent) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{"POST /v1/force-leave": reply(200, api.ForceLeaveResponse{Node: "lb2", Voters: 2})}
			},
			args:    []string{"force-leave", "lb2"},
			wantOut: []string{"lb2 removed from the cluster (2 voters remain)"},
			wantReq: []string{`POST /v1/force-leave {"node":"lb2"}`},
		},
		{
			name: "force-leave of a live node",
			routes: func(f *fakeAgent) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{"POST /v1/force-leave": apiErr("lb2 is alive in gossip; run raftvip leave on it, or stop it and wait until raftvip members shows it dead")}
			},
			args:    []string{"force-leave", "lb2"},
			wantErr: "lb2 is alive in gossip; run raftvip leave on it",
		},
		{name: "force-leave without a node", args: []string{"force-leave"}, wantErr: "force-leave takes exactly one node name (got 0: (none))", wantReq: []string{}},
		{name: "force-leave flag after node", args: []string{"force-leave", "lb2", "--socket", "/tmp/x.sock"}, wantErr: `force-leave: "--socket" after the node name: put flags before the node name`, wantReq: []string{}},
		{
			name: "join",
			routes: func(f *fakeAgent) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{"POST /v1/join": reply(200, api.JoinResponse{Contacted: 2, Members: 3})}
			},
			args:    []string{"join", "198.18.0.12", "198.18.0.13:7301"},
			wantOut: []string{"joined: contacted 2, 3 members in gossip"},
			wantReq: []string{`POST /v1/join {"addresses":["198.18.0.12","198.18.0.13:7301"]}`},
		},
		{
			name: "join error from the agent",
			routes: func(f *fakeAgent) map[string]http.HandlerFunc {
				return map[string]http.HandlerFunc{"POST /v1/join": reply(500, map[string]string{"error": "cannot join 198.18.0.12:7301: connection refused: is raftvip running there, and is that its node.gossip_port?"})}
			},
			args:    []string{"join", "198.18.0.12"},
			wantErr: "cannot join 198.18.0.12:7301: connection refused",
		},
		{name: "join without addresses", args: []string{"join"}, wantErr: "join needs the gossip address of at least one node in the cluster, e.g. raftvip join 198.18.0.12:7301", wantReq: []string{}},
		{name: "join flag after address", args: []string{"join", "198.18.0.12", "--socket", "/tmp/x.sock"}, wantErr: `join: "--socket" after the addresses: put flags before the addresses`, wantReq: []string{}},
		{name: "drain flag after node", args: []string{"drain", "lb1", "--off"}, wantErr: `drain: "--off" after the node name: put flags before the node name (raftvip drain --off lb1)`, wantReq: []string{}},
		{
			name: "keygen",
			args: []string{"keygen"},
			check: func(t *testing.T, _ *fakeAgent, out string) {
				if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
					t.Errorf("keygen output %q; want the key and one newline", out)
				}
				key, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(out, "\n"))
				if err != nil || len(key) != 32 {
					t.Errorf("keygen output %q decodes to %d bytes (%v); want 32", out, len(key), err)
				}
			},
			wantReq: []string{},
		},
		{name: "keygen with an argument", args: []string{"keygen", "32"}, wantErr: `keygen takes no arguments (got "32")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, tc.routes)
			t.Setenv("RAFTVIP_SOCKET", f.sock)
			out, _, err := run(t, tc.args...)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("raftvip %s: %v", strings.Join(tc.args, " "), err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("raftvip %s succeeded (output %q); want error %q", strings.Join(tc.args, " "), out, tc.wantErr)
			case err != nil && (!strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n")):
				t.Fatalf("raftvip %s: error %q; want one line containing %q", strings.Join(tc.args, " "), err, tc.wantErr)
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(squeeze(out), squeeze(want)) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if tc.wantReq != nil {
				if got := f.requests(); !reflect.DeepEqual(got, tc.wantReq) && !(len(got) == 0 && len(tc.wantReq) == 0) {
					t.Errorf("agent saw %q; want %q", got, tc.wantReq)
				}
			}
			if tc.check != nil {
				tc.check(t, f, out)
			}
		})
	}
}

func TestKeygenFresh(t *testing.T) {
	a, _, err1 := run(t, "keygen")
	b, _, err2 := run(t, "keygen")
	if err1 != nil || err2 != nil || a == b {
		t.Errorf("two keygens: %q (%v), %q (%v); want two different keys", a, err1, b, err2)
	}
}

func TestMembershipVerbsAgentNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	for _, args := range [][]string{
		{"members"}, {"members", "--json"}, {"transfer", "lb2"}, {"join", "198.18.0.12"}, {"leave"}, {"force-leave", "lb2"},
	} {
		_, _, err := run(t, append([]string{args[0], "--socket", sock}, args[1:]...)...)
		if err == nil || !strings.Contains(err.Error(), "not running") || !strings.Contains(err.Error(), sock) || strings.Contains(err.Error(), "\n") {
			t.Errorf("raftvip %s without an agent: %v; want one line naming the socket", strings.Join(args, " "), err)
		}
	}
}

func TestTLSVerbs(t *testing.T) {
	dir := t.TempDir()
	out, _, err := run(t, "tls", "ca", "--dir", dir)
	if err != nil || !strings.Contains(out, "ca.pem") || !strings.Contains(out, "ca-key.pem") {
		t.Fatalf("tls ca: %q, %v", out, err)
	}
	if _, _, err := run(t, "tls", "ca", "--dir", dir); err == nil || !strings.Contains(err.Error(), "not overwriting") {
		t.Errorf("tls ca twice: %v", err)
	}
	// Flags may come after the node's name.
	out, _, err = run(t, "tls", "cert", "lb1", "--ip", "198.18.0.11", "--ip=2001:2::11", "--dns", "lb1.example", "--dir", dir, "--days", "30")
	if err != nil || !strings.Contains(out, "lb1.pem") || !strings.Contains(out, "key_file: /etc/raftvip/tls/lb1-key.pem") {
		t.Fatalf("tls cert: %q, %v", out, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "lb1-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lb1-key.pem: %v, %v", fi, err)
	}
	if _, _, err := run(t, "tls", "cert", "--ip", "198.18.0.12", "--dir", dir, "lb2"); err != nil {
		t.Errorf("tls cert with flags first: %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"tls", "cert", "lb3", "--dir", dir}, "give the node's address with --ip"},
		{[]string{"tls", "cert", "lb3", "--ip", "lb3.example", "--dir", dir}, "is not an IP address"},
		{[]string{"tls", "cert", "--dir", dir}, "needs the node's name"},
		{[]string{"tls", "cert", "lb3", "lb4", "--dir", dir}, "takes one node name"},
		{[]string{"tls", "cert", "lb3", "--ips", "198.18.0.13", "--dir", dir}, "unknown flag --ips"},
		{[]string{"tls", "cert", "lb1", "--ip", "198.18.0.11", "--dir", dir}, "lb1.pem exists"},
		{[]string{"tls", "cert", "lb3", "--ip", "198.18.0.13", "--dir", t.TempDir()}, "raftvip tls ca --dir"},
	} {
		if _, _, err := run(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("raftvip %s: %v; want %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

func TestClientOverTCP(t *testing.T) {
	const token = "tcp-admin-token-0123456789"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"unauthorized (wrong token)"}`))
			return
		}
		json.NewEncoder(w).Encode(api.Status{Node: "lb1", State: "leader"})
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	good, loose, wrong := filepath.Join(dir, "token"), filepath.Join(dir, "loose"), filepath.Join(dir, "wrong")
	os.WriteFile(good, []byte(token+"\n"), 0o600)
	os.WriteFile(loose, []byte(token+"\n"), 0o644)
	os.WriteFile(wrong, []byte("not-the-token-0123456789\n"), 0o600)

	out, _, err := run(t, "--addr", addr, "--token-file", good, "status", "--json")
	if err != nil || !strings.Contains(out, `"node": "lb1"`) {
		t.Errorf("status over TCP: %q, %v", out, err)
	}
	t.Setenv("RAFTVIP_ADDR", addr)
	t.Setenv("RAFTVIP_TOKEN_FILE", good)
	if out, _, err := run(t, "status", "--json"); err != nil || !strings.Contains(out, `"node": "lb1"`) {
		t.Errorf("status over TCP from the environment: %q, %v", out, err)
	}
	for file, want := range map[string]string{loose: "chmod 600", wrong: "unauthorized", filepath.Join(dir, "none"): "does not exist"} {
		if _, _, err := run(t, "--token-file", file, "status"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("token file %s: %v; want %q", filepath.Base(file), err, want)
		}
	}
}

func TestSecurityLine(t *testing.T) {
	for _, tc := range []struct {
		s    api.SecurityStatus
		want string
	}{
		{api.SecurityStatus{TLS: true, GossipEncrypted: true}, "mutual TLS, gossip encrypted"},
		{api.SecurityStatus{Insecure: true}, "NONE: no TLS, no gossip encryption (insecure)"},
		{api.SecurityStatus{TLS: true, GossipEncrypted: true, TLSRejectsIn: map[string]uint64{"unknown_ca": 2, "not_tls": 1},
			TLSRejectsOut: map[string]uint64{"unknown_ca": 5}, GossipRejects: map[string]uint64{"wrong_key": 3}},
			"mutual TLS, gossip encrypted; TLS refused: not_tls 1, unknown_ca 2; TLS failed to peers: unknown_ca 5; gossip refused: wrong_key 3"},
	} {
		if got := securityLine(tc.s); got != tc.want {
			t.Errorf("securityLine(%+v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestPrintStatusOfAWitness(t *testing.T) {
	now := time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)
	st := &api.Status{
		Node: "wit", NodeRole: "witness", State: "leader", Leader: "wit", Term: 3, Holder: "lb1",
		Ineligible: "witness: a voter that never holds a VIP",
		Groups:     []api.GroupStatus{{Name: "vip", Holder: "lb1", Index: 4, Reason: "placed by the log; a witness holds no VIP"}},
		Timing:     api.TimingInfo{Profile: "lan", HeartbeatMS: 300, VIPLeaseMS: 120, DeltaMS: 80},
		Members: []api.Member{
			{Name: "lb1", NodeRole: "lb", Address: "198.18.0.11:7300", Voter: true, Holder: true, Gossip: "alive", Priority: 150, Eligible: true},
			{Name: "lb2", NodeRole: "lb", Address: "198.18.0.12:7300", Voter: true, Gossip: "alive", Priority: 120, Eligible: true},
			{Name: "wit", NodeRole: "witness", Address: "198.18.0.19:7300", Voter: true, Leader: true, Gossip: "alive", Ineligible: "witness: a voter that never holds a VIP"},
		},
	}
	var b bytes.Buffer
	printStatus(&b, st, now)
	out := squeeze(b.String())
	for _, want := range []string{"role: witness: a voter that never holds a VIP", "GROUP HOLDER ASSIGNMENT", "vip lb1 4", "lb1 *", "leader, witness"} {
		if !strings.Contains(out, squeeze(want)) {
			t.Errorf("a witness's status lacks %q:\n%s", want, b.String())
		}
	}
	for _, not := range []string{"vip:", "health:", "policy:", "lifetime"} {
		if strings.Contains(out, not) {
			t.Errorf("a witness's status has %q:\n%s", not, b.String())
		}
	}
}
