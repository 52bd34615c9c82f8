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

func TestVoterNamesAndIneligibleList(t *testing.T) {
	servers := []raft.Server{
		{ID: "lb3", Suffrage: raft.Voter}, {ID: "lb4", Suffrage: raft.Nonvoter}, {ID: "lb1", Suffrage: raft.Voter},
	}
	if got := strings.Join(voterNames(servers), ","); got != "lb1,lb3" {
		t.Errorf("voterNames = %s", got)
	}
	cands := []election.Member{
		{Name: "lb1", Voter: true, Known: true, Alive: true, Quorum: true, Priority: 100},
		{Name: "lb2", Voter: true, Known: true, Alive: true, Quorum: true, Priority: 90, Drained: true},
		{Name: "lb3", Voter: false},
	}
	want := "lb2: drained; lb3: not a voter"
	if got := ineligibleList(cands, "lb1"); got != want {
		t.Errorf("ineligibleList = %q, want %q", got, want)
	}
	if got := ineligibleList(cands[:1], "lb1"); got != "there is no other member" {
		t.Errorf("ineligibleList alone = %q", got)
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
