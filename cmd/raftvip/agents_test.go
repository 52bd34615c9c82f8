package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/cluster/api"
)

// witnessFile writes a witness's file for cluster i to dir: its own ports, data
// directory and socket unless same is set, which makes every cluster's the same.
func witnessFile(t *testing.T, dir string, i int, same bool) string {
	t.Helper()
	port := 7300 + 10*i
	if same {
		port = 7300
	}
	src := fmt.Sprintf(`node: {name: wit, role: witness, bind: 198.18.0.19, raft_port: %d, gossip_port: %d, data_dir: %s}
cluster:
  peers: [lb1=198.18.0.11:%d, lb2=198.18.0.12:%d, wit=198.18.0.19:%d]
  insecure: true
admin: {socket: %s}
`, port, port+1, filepath.Join(dir, fmt.Sprintf("data%d", port)), port, port, port, filepath.Join(dir, fmt.Sprintf("s%d.sock", port)))
	p := filepath.Join(dir, fmt.Sprintf("pair%d.yaml", i))
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigsOfAWitnessServingSeveralClusters(t *testing.T) {
	dir := t.TempDir()
	a, b := witnessFile(t, dir, 1, false), witnessFile(t, dir, 2, false)
	cfgs, err := loadConfigs([]string{a, b})
	if err != nil || len(cfgs) != 2 || cfgs[0].Node.RaftPort != 7310 || cfgs[1].Node.RaftPort != 7320 {
		t.Fatalf("two witness files: %v (%d configs)", err, len(cfgs))
	}
	// A directory is every YAML file in it, in name order.
	cfgs, err = loadConfigs([]string{dir})
	if err != nil || len(cfgs) != 2 || cfgs[0].File != a || cfgs[1].File != b {
		t.Fatalf("a directory of witness files: %v (%d configs)", err, len(cfgs))
	}
}

func TestLoadConfigsErrors(t *testing.T) {
	dir := t.TempDir()
	a := witnessFile(t, dir, 1, true)
	b := witnessFile(t, filepath.Join(dir), 2, true)
	lb := filepath.Join(dir, "lb.yaml")
	if err := os.WriteFile(lb, []byte("node: {name: lb1, bind: 198.18.0.11, raft_port: 7400, gossip_port: 7401}\ncluster: {peers: [lb1=198.18.0.11:7400, lb2=198.18.0.12:7400, wit=198.18.0.19:7400], insecure: true}\nvip: {interface: eth0, addresses: [198.18.0.10/24]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	for _, tc := range []struct {
		name  string
		paths []string
		want  []string
	}{
		{"shared ports", []string{a, b}, []string{b + ": node.raft_port is port 7300, which " + a + " uses too", "node.gossip_port", "node.data_dir", "admin.socket", "needs its own ports"}},
		{"a load balancer's file", []string{a, lb}, []string{lb + ": node.role is lb; only a witness serves several clusters", "run one agent per load balancer file"}},
		{"an empty directory", []string{empty}, []string{"has no *.yaml file"}},
		{"a missing file", []string{filepath.Join(dir, "nope.yaml")}, []string{"nope.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfigs(tc.paths)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	// Through the command line: a repeated --config replaces the default path.
	if _, _, err := run(t, "agent", "--config", a, "--config", lb); err == nil || !strings.Contains(err.Error(), "only a witness") {
		t.Errorf("agent --config A --config B: %v", err)
	}
}

func TestPrintMembersShowsTheWitness(t *testing.T) {
	var b bytes.Buffer
	printMembers(&b, &api.MembersResponse{Node: "lb1", Leader: "wit", Holder: "lb1", Members: []api.MemberInfo{
		{Name: "lb1", NodeRole: "lb", Address: "198.18.0.11:7300", Role: "voter", Gossip: "alive", Priority: 150, Eligible: true, Holder: true},
		{Name: "lb2", NodeRole: "lb", Address: "198.18.0.12:7300", Role: "voter", Gossip: "alive", Priority: 120, Eligible: true},
		{Name: "wit", NodeRole: "witness", Address: "198.18.0.19:7300", Role: "leader", Gossip: "alive", Ineligible: "witness: a voter that never holds a VIP"},
	}})
	out := squeeze(b.String())
	for _, want := range []string{"lb1 * 198.18.0.11:7300 voter alive 150 yes", "wit 198.18.0.19:7300 leader, witness alive - no: witness: a voter that never holds a VIP"} {
		if !strings.Contains(out, squeeze(want)) {
			t.Errorf("members output lacks %q:\n%s", want, b.String())
		}
	}
}
