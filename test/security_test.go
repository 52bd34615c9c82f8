package test

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A cluster with mutual TLS on the Raft port and encrypted gossip (CA, certificates
// and key made with raftvip tls and raftvip keygen) forms and holds the VIP. lb4 has
// the cluster's gossip key but a certificate of another CA: it cannot join, and says
// why in `raftvip join`, in its status and in its log; the leader refuses it with the
// reason, and the cluster counts the failed handshakes. The admin sockets are 0600, and
// the TCP admin listener answers only with its token.
func TestSecurity(t *testing.T) {
	RequireRoot(t)
	other := t.TempDir()
	if err := TLSCA(other); err != nil {
		t.Fatal(err)
	}
	if err := TLSCert(other, "lb4", netip.MustParseAddr("198.18.0.14")); err != nil {
		t.Fatal(err)
	}
	tokenDir := t.TempDir()
	token := filepath.Join(tokenDir, "admin.token")
	if err := os.WriteFile(token, []byte("e2e-admin-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongToken := filepath.Join(tokenDir, "wrong.token")
	if err := os.WriteFile(wrongToken, []byte("not-the-admin-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const adminAddr = "127.0.0.1:7380"
	l, h := startFormed(t, Options{Nodes: 4, Initial: 3, Formation: FormationGossip, Timing: "fast", TLS: true,
		Configure: func(n *Node, c *AgentConfig) {
			switch n.Name {
			case "lb1":
				c.Admin.Listen, c.Admin.TokenFile = adminAddr, token
			case "lb4":
				c.Cluster.TLS = NodeTLS(other, "lb4") // the right gossip key, another CA
			}
		}})
	members := l.Nodes[:3]
	lb1, lb4 := l.Node("lb1"), l.Node("lb4")
	leader := l.Node(waitVoters(t, l, members, names(members...), 10*time.Second))

	// Every node runs secured, says so, and nothing failed between them.
	for _, n := range members {
		st, err := l.Status(n)
		if err != nil {
			t.Fatal(err)
		}
		if s := st.Security; !s.TLS || !s.GossipEncrypted || s.Insecure || sum(s.TLSRejectsIn)+sum(s.TLSRejectsOut) > 0 {
			t.Errorf("%s: security %+v; want tls and gossip encryption, no rejections", n.Name, s)
		}
		fi, err := os.Stat(n.Socket)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: admin socket %s has mode %v, want a socket with 0600", n.Name, n.Socket, fi.Mode())
		}
		log, err := l.AgentLog(n, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(log, "raft port: mutual TLS 1.3") || strings.Contains(log, "running without transport security") {
			t.Errorf("%s: the log should announce mutual TLS and no insecure warning:\n%s", n.Name, tail(log, 20))
		}
	}

	// The TCP admin listener of lb1 answers with the token only.
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := l.Exec(lb1.NS, bin, "--addr", adminAddr, "--token-file", token, "status", "--json")
	if err != nil || !strings.Contains(out, `"node": "lb1"`) {
		t.Errorf("status over the TCP admin listener: %v\n%s", err, out)
	}
	out, err = l.Exec(lb1.NS, bin, "--addr", adminAddr, "--token-file", wrongToken, "status")
	if err == nil || !strings.Contains(out+err.Error(), "unauthorized") {
		t.Errorf("status with the wrong token: %v\n%s", err, out)
	}

	// lb4, with a certificate of another CA, asks to join.
	if err := l.StartAgentWait(lb4, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	r := l.RunCLI(lb4, "join", GossipAddr(lb1))
	cliRefused(t, r, "certificate signed by unknown authority")
	if !errorMentions(r, "mutual TLS") {
		t.Errorf("%v: the error should say that mutual TLS fails", r)
	}
	st, err := l.WaitStatus(lb4, 15*time.Second, func(st Status) bool { return strings.Contains(st.Membership, "TLS") })
	if err != nil {
		t.Errorf("lb4: status membership %q does not say that TLS fails: %v", st.Membership, err)
	}
	t.Logf("lb4: membership %q", st.Membership)
	if st.Holding {
		t.Error("lb4 with another CA holds the VIP")
	}

	// The leader refuses to add it, and says why. (Leadership may have moved to a node
	// that holds nothing since the cluster formed.)
	if st, err := l.Status(lb1); err == nil && st.Leader != "" {
		leader = l.Node(st.Leader)
	}
	ms, err := l.WaitMembers(leader, 15*time.Second, func(ms MembersJSON) bool {
		m, ok := ms.Get("lb4")
		return ok && strings.Contains(m.Ineligible, "refuses")
	})
	if err != nil {
		t.Errorf("the leader %s does not list lb4 as refused: %v", leader.Name, err)
	}
	if m, ok := ms.Get("lb4"); ok {
		t.Logf("%s: lb4 %s: %s", leader.Name, m.Role, m.Ineligible)
		if m.Role != "none" || !strings.Contains(m.Ineligible, "unknown_ca") {
			t.Errorf("%s lists lb4 as %s (%s); want none, refused for unknown_ca", leader.Name, m.Role, m.Ineligible)
		}
	}
	time.Sleep(2 * time.Second) // a few reconcile rounds
	for _, n := range members {
		if servers := raftServers(t, l, n); slices.Contains(servers, "lb4") {
			t.Errorf("lb4 is in %s's raft configuration: %v", n.Name, servers)
		}
	}

	// The cluster counted the failed handshakes: lb4's, and its own towards lb4.
	var in, outs uint64
	for _, n := range members {
		st, err := l.Status(n)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: tls rejects in %v, out %v", n.Name, st.Security.TLSRejectsIn, st.Security.TLSRejectsOut)
		in += sum(st.Security.TLSRejectsIn)
		outs += st.Security.TLSRejectsOut["unknown_ca"]
	}
	if in == 0 || outs == 0 {
		t.Errorf("the cluster counted %d refused handshakes and %d failed ones to lb4 (unknown_ca); want both > 0", in, outs)
	}

	// The logs say why, with the address.
	for n, want := range map[*Node][]string{
		lb4:    {"certificate signed by unknown authority", "reason=unknown_ca", "remote=198.18.0.1"},
		leader: {"not adding gossip member to the cluster", "member=lb4", "certificate signed by unknown authority", "remote=198.18.0.14"},
	} {
		log, err := l.AgentLog(n, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(log, w) {
				t.Errorf("%s's log does not say %q:\n%s", n.Name, w, tail(log, 30))
			}
		}
	}

	// The VIP never moved and lb4 never had it.
	if held, err := l.KernelHolds(lb4); err != nil || held {
		t.Errorf("lb4 has the VIP (%v)", err)
	}
	if nh, err := l.Holder(); err != nil || nh != h {
		t.Errorf("holder = %v (%v), want %s still", nh, err, h.Name)
	}
}

// sum adds up counts by reason.
func sum(m map[string]uint64) uint64 {
	var s uint64
	for _, v := range m {
		s += v
	}
	return s
}
