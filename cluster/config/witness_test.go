package config

import (
	"errors"
	"strings"
	"testing"
)

func TestLoadWitness(t *testing.T) {
	cfg, err := Load("testdata/config/witness.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Witness() || cfg.Node.Role != RoleWitness {
		t.Errorf("role = %q, want witness", cfg.Node.Role)
	}
	if len(cfg.Groups) != 0 || len(cfg.Checks) != 0 || cfg.VRRP.Enabled {
		t.Errorf("a witness has no groups, checks or VRRP: %d groups, %d checks, vrrp %v", len(cfg.Groups), len(cfg.Checks), cfg.VRRP.Enabled)
	}
	if cfg.Node.RaftPort != 7310 || cfg.Admin.Socket != "/run/raftvip/pair1.sock" {
		t.Errorf("ports and socket not read: %+v %+v", cfg.Node, cfg.Admin)
	}
}

// witnessHead is a witness's file; the cases append what a witness must not have.
//
//	1 node: {name: wit, role: witness, bind: 198.18.0.19}
//	2 cluster:
//	3   peers: [lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, wit=198.18.0.19:7300]
const witnessHead = `node: {name: wit, role: witness, bind: 198.18.0.19}
cluster:
  peers: [lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, wit=198.18.0.19:7300]
`

func TestWitnessErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, field string
		line             int
		msg              string
	}{
		{"vip", witnessHead + "vip: {interface: eth0, addresses: [198.18.0.10/24]}\n", "vip", 4,
			"is set, but this node is a witness (node.role: witness on line 1), which holds no VIP; a witness's file has only node, cluster, admin, log and metrics: delete vip: here, or remove node.role to make this node a load balancer"},
		{"groups", witnessHead + "groups: [{name: web, interface: eth0, addresses: [198.18.0.10/24]}]\n", "groups", 4, "which is never given a VIP group"},
		{"checks", witnessHead + "checks: [{name: haproxy, type: haproxy, socket: /run/haproxy/admin.sock}]\n", "checks", 4, "which runs no checks: it needs no HAProxy"},
		{"vrrp", witnessHead + "vrrp: {enabled: true, vrid: 51}\n", "vrrp", 4, "which speaks no VRRP"},
		{"notify", witnessHead + "notify: {master: [/bin/true]}\n", "notify", 4, "which holds no VIP, so it has no state changes to notify"},
		{"priority", witnessHead + "priority: 100\n", "priority", 4, "so it has no priority"},
		{"two peers", "node: {name: wit, role: witness, bind: 198.18.0.19}\ncluster:\n  peers: [lb1=198.18.0.11:7300, wit=198.18.0.19:7300]\n", "cluster.peers", 3,
			"lists 2 servers; a witness is the third voter of a pair: list both load balancers and the witness"},
		{"role typo", "node: {name: wit, role: witnes, bind: 198.18.0.19}\ncluster:\n  peers: [lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, wit=198.18.0.19:7300]\n", "node.role", 1, `did you mean "witness"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseTest(t, tc.src)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *Error", err)
			}
			for _, fe := range ce.Errors {
				if fe.Field == tc.field && fe.Line == tc.line && strings.Contains(fe.Msg, tc.msg) {
					return
				}
			}
			t.Errorf("no error at line %d for %q containing %q; got:\n%v", tc.line, tc.field, tc.msg, err)
		})
	}
}

// TestLBNeedsVIP: without role: witness, a file without VIPs is still the error it was.
func TestLBNeedsVIP(t *testing.T) {
	_, err := parseTest(t, strings.Replace(witnessHead, "role: witness, ", "", 1))
	if err == nil || !strings.Contains(err.Error(), "vip.interface") {
		t.Errorf("err = %v, want vip.interface missing", err)
	}
}
