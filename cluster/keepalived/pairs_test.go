package keepalived

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/election"
)

// The four keepalived pairs operators copy from the guides (testdata/pairs, both files
// of each): converted with --peer and --witness, the two load balancer configs load,
// list the pair and its witness, and elect as keepalived's walk-through says: lb1
// while both are healthy, lb2 while lb1's check fails, lb1 again once it passes. The
// witness's own config loads too.
func TestConvertKeepalivedPairs(t *testing.T) {
	for _, pair := range []struct {
		name         string
		addr1, addr2 string // the load balancers' addresses (D: its unicast_src_ip)
		interface_   string
		failingPrio  int // lb1's priority while its check fails; 0: FAULT
		auth         string
	}{
		{"a", "10.1.1.11", "10.1.1.12", "eth0", 0, "1111"},
		{"b", "10.42.0.11", "10.42.0.12", "eth0", 101, ""},
		{"c", "10.0.0.11", "10.0.0.12", "eth0", 0, ""},
		{"d", "10.88.88.20", "10.88.88.30", "enp0s25", 101, ""},
	} {
		t.Run(pair.name, func(t *testing.T) {
			witness := "wit=" + strings.TrimSuffix(pair.addr1, ".11") + ".19"
			if pair.name == "d" {
				witness = "wit=10.88.88.40"
			}
			cfgs := map[string]*config.Config{}
			var witnessYAML string
			for _, lb := range []struct{ name, self, peer string }{{"lb1", pair.addr1, pair.addr2}, {"lb2", pair.addr2, pair.addr1}} {
				file := filepath.Join("testdata", "pairs", pair.name+"_"+lb.name+".conf")
				src, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				opts := Options{Name: lb.name, Peers: []string{otherLB(lb.name) + "=" + lb.peer}, Witness: witness, Insecure: true}
				if pair.name != "d" {
					opts.Bind = lb.self // D's comes from unicast_src_ip
				}
				res, err := Convert(string(src), file, opts)
				if err != nil {
					t.Fatalf("%s: %v", lb.name, err)
				}
				cfg, err := config.ParseWithHostname([]byte(res.YAML), file, func() (string, error) { return "", errors.New("none") })
				if err != nil {
					t.Fatalf("%s: the conversion does not load: %v\n%s", lb.name, err, res.YAML)
				}
				cfgs[lb.name] = cfg
				if got := peerNames(cfg); got != "lb1 lb2 wit" && got != "lb2 lb1 wit" {
					t.Errorf("%s: cluster.peers %s, want the pair and its witness", lb.name, got)
				}
				g := cfg.Groups[0]
				if g.Interface != pair.interface_ || !g.Preempt || len(g.Track) > 0 && len(cfg.Checks) == 0 {
					t.Errorf("%s: group %+v", lb.name, g)
				}
				if g.VRRP.VRID != 51 || g.VRRP.AuthPass != pair.auth {
					t.Errorf("%s: vrrp vrid %d auth %q, want 51 %q", lb.name, g.VRRP.VRID, g.VRRP.AuthPass, pair.auth)
				}
				if res.Witness == "" {
					t.Fatalf("%s: no witness config", lb.name)
				}
				witnessYAML = res.Witness
				if pair.name == "a" && !hasOption(res.Unsupported, "notification_email", "notify hook") {
					t.Errorf("%s: the mail settings are not reported with the notify hook to use: %v", lb.name, res.Unsupported)
				}
			}
			w, err := config.ParseWithHostname([]byte(witnessYAML), "witness.yaml", func() (string, error) { return "", errors.New("none") })
			if err != nil {
				t.Fatalf("the witness's config does not load: %v\n%s", err, witnessYAML)
			}
			if !w.Witness() || peerNames(w) != "lb2 lb1 wit" && peerNames(w) != "lb1 lb2 wit" {
				t.Errorf("witness config: role %q, peers %s", w.Node.Role, peerNames(w))
			}

			// The election, as keepalived's walk-through tells it.
			health := func(cfg *config.Config, passing bool) election.Health {
				var states []election.CheckState
				for _, c := range cfg.Checks {
					states = append(states, election.CheckState{Name: c.Name, Weight: c.Weight, Known: true, Passing: passing})
				}
				return election.ComputeHealth(cfg.Groups[0].Priority, states)
			}
			winner := func(lb1OK bool) string {
				h1, h2 := health(cfgs["lb1"], lb1OK), health(cfgs["lb2"], true)
				switch {
				case h1.Fault:
					return "lb2"
				case h1.Priority > h2.Priority:
					return "lb1"
				}
				return "lb2"
			}
			if w := winner(true); w != "lb1" {
				t.Errorf("both healthy: %s holds, want lb1 (%d vs %d)", w, health(cfgs["lb1"], true).Priority, health(cfgs["lb2"], true).Priority)
			}
			if w := winner(false); w != "lb2" {
				t.Errorf("lb1's check failing: %s holds, want lb2", w)
			}
			if h := health(cfgs["lb1"], false); pair.failingPrio == 0 && !h.Fault || pair.failingPrio != 0 && (h.Fault || h.Priority != pair.failingPrio) {
				t.Errorf("lb1's check failing: %+v, want priority %d (0: FAULT)", h, pair.failingPrio)
			}
			t.Logf("pair %s: healthy lb1 %d, lb2 %d; lb1 failing %+v", pair.name, health(cfgs["lb1"], true).Priority,
				health(cfgs["lb2"], true).Priority, health(cfgs["lb1"], false))
		})
	}
}

func otherLB(name string) string {
	if name == "lb1" {
		return "lb2"
	}
	return "lb1"
}

func peerNames(cfg *config.Config) string {
	var names []string
	for _, p := range cfg.Cluster.Peers {
		names = append(names, p.Name)
	}
	return strings.Join(names, " ")
}

func hasOption(items []Item, option, why string) bool {
	for _, it := range items {
		if strings.HasPrefix(it.Option, option) && strings.Contains(it.Why, why) {
			return true
		}
	}
	return false
}

// A pair converted without --witness is told why it needs one.
func TestConvertKeepalivedPairWithoutWitness(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "pairs", "d_lb1.conf"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Convert(string(src), "d_lb1.conf", Options{Name: "lb1", Peers: []string{"lb2=10.88.88.30"}, Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Witness != "" || !hasNote(res.Notes, "add a witness on a third machine with --witness NAME=IP") {
		t.Errorf("no advice to add a witness: %v", res.Notes)
	}
	for _, bad := range []struct{ witness, want string }{
		{"lb1=10.88.88.40", "is this node (--name); the witness is a third machine"},
		{"lb2=10.88.88.40", "lb2 is given twice"},
		{"wit", "name=ip"},
	} {
		_, err := Convert(string(src), "d_lb1.conf", Options{Name: "lb1", Peers: []string{"lb2=10.88.88.30"}, Witness: bad.witness, Insecure: true})
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "--witness") {
			t.Errorf("--witness %s: %v, want %q", bad.witness, err, bad.want)
		}
	}
}

func hasNote(items []Item, text string) bool {
	for _, it := range items {
		if strings.Contains(it.Why, text) {
			return true
		}
	}
	return false
}
