package cluster

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/election"
)

func TestExplainJoinError(t *testing.T) {
	for _, tc := range []struct {
		err     error
		haveKey bool
		want    string
	}{
		{nil, false, "no address answered"},
		{errors.New("1 error occurred:\n\t* Failed to join 198.18.0.11:7301: remote state is encrypted and encryption is not configured\n\n"), false,
			"this node has no key: set cluster.encrypt"},
		{errors.New("1 error occurred:\n\t* Failed to join 198.18.0.11:7301: EOF\n\n"), true,
			"what a wrong cluster.encrypt key looks like"},
		{errors.New("1 error occurred:\n\t* Failed to join 198.18.0.11:7301: EOF\n\n"), false,
			"missing or different cluster.encrypt key"},
		{errors.New("1 error occurred:\n\t* Failed to join 198.18.0.11:7301: dial tcp 198.18.0.11:7301: connect: connection refused\n\n"), false,
			"connection refused: is raftvip running there"},
		{errors.New("Failed to join 198.18.0.11:7301: dial tcp 198.18.0.11:7301: i/o timeout"), false, "no answer"},
	} {
		got := explainJoinError(tc.err, tc.haveKey)
		if !strings.Contains(got, tc.want) || strings.Contains(got, "\n") {
			t.Errorf("explainJoinError(%v, %v) = %q; want one line with %q", tc.err, tc.haveKey, got, tc.want)
		}
	}
}

func TestVoterNamesAndStandingList(t *testing.T) {
	servers := []raft.Server{
		{ID: "lb3", Suffrage: raft.Voter}, {ID: "lb4", Suffrage: raft.Nonvoter}, {ID: "lb1", Suffrage: raft.Voter},
	}
	if got := strings.Join(voterNames(servers), ","); got != "lb1,lb3" {
		t.Errorf("voterNames = %s", got)
	}
	standings := map[string]election.Standing{
		"lb1": {Priority: map[string]int{"web": 100}},
		"lb2": {Ineligible: "drained", Priority: map[string]int{"web": 90}},
		"lb3": {Priority: map[string]int{}, Why: map[string]string{"web": "FAULT: check haproxy failing"}},
		"lb4": {Priority: map[string]int{"web": 80}, Blocked: map[string]string{"web": "VRRP backup: 198.18.0.9 has priority 200"}},
	}
	want := "lb2: drained; lb3: FAULT: check haproxy failing; lb4: VRRP backup: 198.18.0.9 has priority 200"
	if got := standingList("web", standings, "lb1"); got != want {
		t.Errorf("standingList = %q, want %q", got, want)
	}
	if got := standingList("web", map[string]election.Standing{"lb1": {}}, "lb1"); got != "there is no other member" {
		t.Errorf("standingList alone = %q", got)
	}
	if got := bestFor("web", "", standings, ""); got != "lb1" {
		t.Errorf("bestFor = %q, want lb1", got)
	}
}

func TestGossipPeers(t *testing.T) {
	cfg := &config.Config{}
	cfg.Node.Name, cfg.Node.Bind, cfg.Node.GossipPort = "lb1", netip.MustParseAddr("198.18.0.11"), 7301
	cfg.Cluster.Join = []netip.AddrPort{
		netip.MustParseAddrPort("198.18.0.11:7301"), // this node: skipped
		netip.MustParseAddrPort("198.18.0.12:7401"),
		netip.MustParseAddrPort("198.18.0.13:7301"),
	}
	cfg.Cluster.Peers = []config.Peer{
		{Name: "lb1", Addr: netip.MustParseAddrPort("198.18.0.11:7300")},
		{Name: "lb3", Addr: netip.MustParseAddrPort("198.18.0.13:7300")}, // same as a join address
		{Name: "lb4", Addr: netip.MustParseAddrPort("[2001:2::14]:7300")},
	}
	want := "198.18.0.12:7401 198.18.0.13:7301 [2001:2::14]:7301"
	if got := strings.Join(gossipPeers(cfg), " "); got != want {
		t.Errorf("gossipPeers = %s, want %s", got, want)
	}
}
