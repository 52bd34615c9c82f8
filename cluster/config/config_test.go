package config

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster/pki"
	"go.yaml.in/yaml/v3"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/config")

// testHostname is the hostname the tests pretend to run on.
func testHostname() (string, error) { return "lb1", nil }

// parseTest parses src as config.yaml on lb1. cluster.insecure defaults to true, so
// that the tests of other sections need no tls and encrypt; TestParseSecurity tests
// the real default.
func parseTest(t *testing.T, src string) (*Config, error) {
	t.Helper()
	return parseWith([]byte(src), "config.yaml", testHostname, true)
}

// baseConfig is the smallest valid config; the error cases edit it line by line.
//
//	1 node:
//	2   name: lb1
//	3   bind: 198.18.0.11
//	4 cluster:
//	5   peers: [lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, lb3=198.18.0.13:7300]
//	6 vip:
//	7   interface: eth0
//	8   addresses: [198.18.0.10/24]
const baseConfig = `node:
  name: lb1
  bind: 198.18.0.11
cluster:
  peers: [lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, lb3=198.18.0.13:7300]
vip:
  interface: eth0
  addresses: [198.18.0.10/24]
`

// edit returns baseConfig with line n (1-based) replaced by text; text may hold
// several lines. An empty text deletes the line.
func edit(n int, text string) string {
	lines := strings.Split(strings.TrimSuffix(baseConfig, "\n"), "\n")
	var out []string
	out = append(out, lines[:n-1]...)
	if text != "" {
		out = append(out, text)
	}
	out = append(out, lines[n:]...)
	return strings.Join(out, "\n") + "\n"
}

// after returns baseConfig with text added after line 8 (so under vip: unless text
// starts at column 0).
func after(text string) string { return baseConfig + text + "\n" }

func TestParseMinimalDefaults(t *testing.T) {
	cfg, err := parseTest(t, baseConfig)
	if err != nil {
		t.Fatal(err)
	}
	lan, _ := Profile("lan")
	want := &Config{
		Node: NodeConfig{Role: "lb", Name: "lb1", DataDir: "/var/lib/raftvip", Bind: netip.MustParseAddr("198.18.0.11"),
			RaftPort: 7300, GossipPort: 7301},
		Cluster: ClusterConfig{
			Peers: []Peer{
				{"lb1", netip.MustParseAddrPort("198.18.0.11:7300")},
				{"lb2", netip.MustParseAddrPort("198.18.0.12:7300")},
				{"lb3", netip.MustParseAddrPort("198.18.0.13:7300")},
			},
			Timing:   lan,
			Insecure: true, // parseTest's default; Parse's is false
		},
		Admin: AdminConfig{Socket: "/run/raftvip/raftvip.sock"},
		Groups: []GroupConfig{{
			Name:            "vip",
			Interface:       "eth0",
			Addresses:       []netip.Prefix{netip.MustParsePrefix("198.18.0.10/24")},
			Priority:        100,
			Preempt:         true,
			MinMoveInterval: 10 * time.Second,
			Lifetime:        2 * time.Second,
			Fencing:         "standard",
			GARP:            GARPConfig{Repeat: 5, Interval: time.Second, Refresh: 0},
			Drain:           25 * time.Millisecond,
			VRRP:            VRRPConfig{Version: 2, Interval: time.Second, UnicastSrc: netip.MustParseAddr("198.18.0.11"), Interface: "eth0"},
		}},
		VIP: VIPConfig{
			Interface: "eth0",
			Addresses: []netip.Prefix{netip.MustParsePrefix("198.18.0.10/24")},
			Lifetime:  2 * time.Second,
			Fencing:   "standard",
			GARP:      GARPConfig{Repeat: 5, Interval: time.Second, Refresh: 0},
			Drain:     25 * time.Millisecond,
		},
		Priority:        100,
		Preempt:         true,
		PreemptDelay:    0,
		MinMoveInterval: 10 * time.Second,
		Notify:          NotifyConfig{Instance: "raftvip", Timeout: 10 * time.Second},
		VRRP:            VRRPConfig{Version: 2, Interval: time.Second, UnicastSrc: netip.MustParseAddr("198.18.0.11"), Interface: "eth0"},
		Log:             LogConfig{Level: "info", Format: "text"},
		File:            "config.yaml",
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
	if got := cfg.RaftAddr(); got != netip.MustParseAddrPort("198.18.0.11:7300") {
		t.Errorf("RaftAddr = %s", got)
	}
}

func TestParseNameDefaultsToHostname(t *testing.T) {
	// node.name is not set; the hostname lb2 names the node.
	src := strings.Replace(edit(2, ""), "bind: 198.18.0.11", "bind: 198.18.0.12", 1)
	src = strings.Replace(src, "cluster:\n", "cluster:\n  insecure: true\n", 1)
	cfg, err := ParseWithHostname([]byte(src), "c.yaml", func() (string, error) { return "lb2", nil })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Node.Name != "lb2" {
		t.Errorf("Node.Name = %q, want the hostname lb2", cfg.Node.Name)
	}
	// Parse itself uses os.Hostname.
	h, err := os.Hostname()
	if err != nil || pki.NodeNameProblem(h) != "" {
		t.Skipf("hostname %q cannot be a node name here: %v", h, err)
	}
	src = strings.Replace(edit(2, ""), "lb1=198.18.0.11", h+"=198.18.0.11", 1)
	src = strings.Replace(src, "cluster:\n", "cluster:\n  insecure: true\n", 1)
	if cfg, err = Parse([]byte(src), "c.yaml"); err != nil {
		t.Fatal(err)
	}
	if cfg.Node.Name != h {
		t.Errorf("Node.Name = %q, want hostname %q", cfg.Node.Name, h)
	}
}

// filledExample is the example config with what an operator fills in: a key from
// raftvip keygen, and the CA and lb1's certificate in a directory of the test's.
func filledExample(t *testing.T, example string) string {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	if _, _, err := pki.WriteCA(dir, 30, now); err != nil {
		t.Fatal(err)
	}
	req := pki.CertRequest{Name: "lb1", IPs: []netip.Addr{netip.MustParseAddr("198.18.0.11")}, Days: 30}
	if _, _, err := pki.WriteNodeCert(dir, req, now); err != nil {
		t.Fatal(err)
	}
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	example = strings.ReplaceAll(example, pki.DefaultTLSDir+"/", dir+"/")
	return strings.Replace(example, `"<paste the output of raftvip keygen>"`, key, 1)
}

// secretModes gives the secret files under testdata the mode 0600 they must have,
// which git does not keep.
func secretModes(t *testing.T) {
	t.Helper()
	for _, f := range []string{"testdata/config/admin.token", "testdata/tls/lb2.example-key.pem"} {
		if err := os.Chmod(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadTestdata(t *testing.T) {
	secretModes(t)
	lab, err := Load("testdata/config/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if lab.File != "testdata/config/lab.yaml" || lab.Node.DataDir != "/tmp/x/lb1/data" ||
		lab.Admin.Socket != "/tmp/x/lb1/raftvip.sock" || len(lab.VIP.Addresses) != 2 ||
		lab.VIP.Addresses[1] != netip.MustParsePrefix("2001:2::10/64") || lab.Cluster.Timing.Profile != "lan" {
		t.Errorf("lab.yaml: %+v", lab)
	}

	v6, err := Load("testdata/config/ipv6.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Timing{Profile: "wan", HeartbeatTimeout: 1500 * time.Millisecond, ElectionTimeout: 3 * time.Second,
		LeaderLease: 750 * time.Millisecond, CommitTimeout: 40 * time.Millisecond, VIPLease: 600 * time.Millisecond,
		RPCTimeout: 400 * time.Millisecond, ClaimMargin: 250 * time.Millisecond}
	if v6.Cluster.Timing != want {
		t.Errorf("timing = %+v, want %+v", v6.Cluster.Timing, want)
	}
	if v6.RaftAddr() != netip.MustParseAddrPort("[2001:2::12]:8300") || v6.Node.Name != "lb2.example" ||
		v6.VIP.Interface != "bond0.100" || v6.VIP.Lifetime != 5*time.Second || v6.VIP.Fencing != "strict" ||
		v6.VIP.GARP != (GARPConfig{Repeat: 3, Interval: 2 * time.Second, Refresh: 30 * time.Second}) ||
		v6.Priority != 150 || v6.Log != (LogConfig{"debug", "json"}) || v6.Admin.Socket != "/run/raftvip/lb2.sock" {
		t.Errorf("ipv6.yaml: %+v", v6)
	}
	if v6.Preempt || v6.PreemptDelay != 30*time.Second || v6.MinMoveInterval != time.Minute ||
		string(v6.Cluster.Encrypt) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("ipv6.yaml: preempt %v, delay %s, min_move_interval %s, encrypt %q",
			v6.Preempt, v6.PreemptDelay, v6.MinMoveInterval, v6.Cluster.Encrypt)
	}
	wantChecks := []CheckConfig{
		{Name: "haproxy", Type: "haproxy", Interval: 500 * time.Millisecond, Timeout: 2 * time.Second, Fall: 3, Rise: 5, Weight: -60,
			Socket: "/run/haproxy/admin.sock", Backend: "web", MinUp: 2},
		{Name: "stats-tcp", Type: "haproxy", Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1, Socket: "[::1]:9999"},
		{Name: "health", Type: "http", Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1, Weight: 10,
			URL: "https://[2001:2::12]:8443/healthz", ExpectStatus: 204},
		{Name: "tls", Type: "tcp", Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1, Address: "[2001:2::12]:443"},
		{Name: "disk", Type: "script", Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1,
			Command: []string{"/usr/local/bin/check-disk", "--min-free", "10%"}},
		{Name: "keepalived-style", Type: "script", Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1,
			Command: []string{"/usr/local/bin/check-web", "--quick"}},
		{Name: "haproxy.pid", Type: "process", Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1, Weight: -253,
			PIDFile: "/run/haproxy.pid"},
	}
	if !reflect.DeepEqual(v6.Checks, wantChecks) {
		t.Errorf("ipv6.yaml checks:\n got  %+v\n want %+v", v6.Checks, wantChecks)
	}
	wantNotify := NotifyConfig{
		Master:   []string{"/usr/local/bin/vip-up", "2001:2::10"},
		Backup:   []string{"/usr/local/bin/vip-down"},
		Fault:    []string{"/bin/sh", "-c", "logger -t raftvip fault >/dev/null 2>&1"},
		Stop:     []string{"/usr/local/bin/vip-down", "--stopping"},
		Script:   []string{"/usr/local/bin/notify-all"},
		Instance: "VI_6",
		Timeout:  3 * time.Second,
	}
	if !reflect.DeepEqual(v6.Notify, wantNotify) {
		t.Errorf("ipv6.yaml notify:\n got  %+v\n want %+v", v6.Notify, wantNotify)
	}

	wantTLS := TLSConfig{CAFile: "testdata/tls/ca.pem", CertFile: "testdata/tls/lb2.example.pem", KeyFile: "testdata/tls/lb2.example-key.pem"}
	if v6.Cluster.TLS != wantTLS || v6.Cluster.Insecure || v6.Admin.Listen != "[::1]:7380" ||
		v6.Admin.TokenFile != "testdata/config/admin.token" || v6.Metrics.Listen != "[2001:2::12]:9469" {
		t.Errorf("ipv6.yaml: tls %+v (want %+v), insecure %v, admin %+v, metrics %+v", v6.Cluster.TLS, wantTLS, v6.Cluster.Insecure, v6.Admin, v6.Metrics)
	}
	if !lab.Cluster.Insecure || lab.Cluster.TLS.Enabled() {
		t.Errorf("lab.yaml: insecure %v, tls %+v", lab.Cluster.Insecure, lab.Cluster.TLS)
	}

	wantJoin := []netip.AddrPort{netip.MustParseAddrPort("[2001:2::11]:8301"), netip.MustParseAddrPort("[2001:2::13]:8301")}
	if !slices.Equal(v6.Cluster.Join, wantJoin) {
		t.Errorf("ipv6.yaml join = %v, want %v", v6.Cluster.Join, wantJoin)
	}

	g, err := Load("testdata/config/gossip.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wantJoin = []netip.AddrPort{netip.MustParseAddrPort("198.18.0.12:7301"), netip.MustParseAddrPort("198.18.0.13:7301"),
		netip.MustParseAddrPort("[2001:2::14]:7401")}
	if g.Cluster.BootstrapExpect != 3 || len(g.Cluster.Peers) != 0 || !slices.Equal(g.Cluster.Join, wantJoin) || len(g.Cluster.Encrypt) != 32 {
		t.Errorf("gossip.yaml: expect %d, peers %v, join %v, key %d bytes", g.Cluster.BootstrapExpect, g.Cluster.Peers, g.Cluster.Join, len(g.Cluster.Encrypt))
	}
	wantVRRP := VRRPConfig{Enabled: true, Version: 2, VRID: 51, Interval: 2 * time.Second, AuthPass: "s3cret",
		UnicastPeers: []netip.Addr{netip.MustParseAddr("198.18.0.31"), netip.MustParseAddr("198.18.0.32")},
		UnicastSrc:   netip.MustParseAddr("198.18.0.11"), Interface: "eth0.100"}
	if !reflect.DeepEqual(g.VRRP, wantVRRP) {
		t.Errorf("gossip.yaml vrrp:\n got  %+v\n want %+v", g.VRRP, wantVRRP)
	}

	_, err = Load("testdata/config/does-not-exist.yaml")
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("missing file: %v", err)
	}
}

func TestExampleConfig(t *testing.T) {
	// As printed, the example wants the operator's key and files; config check says so.
	_, err := Parse([]byte(Example()), "example.yaml")
	if err == nil || !strings.Contains(err.Error(), "cluster.encrypt: is not standard base64; make one with raftvip keygen") ||
		!strings.Contains(err.Error(), "cluster.tls.ca_file: /etc/raftvip/tls/ca.pem does not exist") && !strings.Contains(err.Error(), "cluster.tls.ca_file: /etc/raftvip/tls/ca.pem holds") {
		t.Errorf("the example as printed: %v", err)
	}
	// Filled in, it is valid.
	example := filledExample(t, Example())
	cfg, err := Parse([]byte(example), "example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Cluster.TLS.Enabled() || len(cfg.Cluster.Encrypt) != 32 || cfg.Cluster.Insecure {
		t.Errorf("example: tls %+v, key %d bytes, insecure %v", cfg.Cluster.TLS, len(cfg.Cluster.Encrypt), cfg.Cluster.Insecure)
	}
	if cfg.Node.Name != "lb1" || cfg.RaftAddr() != netip.MustParseAddrPort("198.18.0.11:7300") ||
		len(cfg.Cluster.Peers) != 3 || cfg.Cluster.Peers[2] != (Peer{"lb3", netip.MustParseAddrPort("198.18.0.13:7300")}) ||
		len(cfg.VIP.Addresses) != 1 || cfg.VIP.Addresses[0] != netip.MustParsePrefix("198.18.0.10/24") {
		t.Errorf("example: %+v", cfg)
	}
	if !strings.Contains(Example(), "# ") {
		t.Error("the example has no comments")
	}
	// The docs lead with the haproxy check: it is the first, and it lowers the priority.
	if len(cfg.Checks) == 0 || cfg.Checks[0].Type != CheckHAProxy || cfg.Checks[0].Weight >= 0 ||
		cfg.Checks[0].Socket == "" {
		t.Errorf("example checks: %+v", cfg.Checks)
	}
	if len(cfg.Notify.Script) == 0 || !cfg.Preempt || cfg.MinMoveInterval != DefaultMinMoveInterval {
		t.Errorf("example: notify %+v, preempt %v, min_move_interval %s", cfg.Notify, cfg.Preempt, cfg.MinMoveInterval)
	}

	// The commented-out examples are valid too, once uncommented.
	var lines []string
	uncommented := 0
	for _, l := range strings.Split(example, "\n") {
		trimmed := strings.TrimLeft(l, " ")
		if rest, ok := strings.CutPrefix(trimmed, "# - {"); ok {
			l, uncommented = l[:len(l)-len(trimmed)]+"- {"+rest, uncommented+1
		} else if rest, ok := strings.CutPrefix(trimmed, "# master:"); ok {
			l, uncommented = l[:len(l)-len(trimmed)]+"master:"+rest, uncommented+1
		} else if rest, ok := strings.CutPrefix(trimmed, "# fault:"); ok {
			l, uncommented = l[:len(l)-len(trimmed)]+"fault:"+rest, uncommented+1
		}
		lines = append(lines, l)
	}
	all, err := Parse([]byte(strings.Join(lines, "\n")), "example.yaml")
	if err != nil {
		t.Fatalf("the example with its commented-out lines: %v", err)
	}
	if uncommented != 6 || len(all.Checks) != 5 || len(all.Notify.Master) == 0 || len(all.Notify.Fault) == 0 {
		t.Errorf("uncommented %d lines: checks %+v, notify %+v", uncommented, all.Checks, all.Notify)
	}
}

func TestParseTiming(t *testing.T) {
	lan, _ := Profile("lan")
	fast, _ := Profile("fast")
	wan, _ := Profile("wan")
	overridden := lan
	overridden.HeartbeatTimeout = 250 * time.Millisecond
	overridden.LeaderLease = 120 * time.Millisecond
	overridden.VIPLease = 100 * time.Millisecond
	fastRPC := fast
	fastRPC.RPCTimeout = 40 * time.Millisecond
	for _, tc := range []struct {
		name, timing string
		want         Timing
	}{
		{"absent", "", lan},
		{"scalar fast", "  timing: fast", fast},
		{"scalar wan", "  timing: wan", wan},
		{"null", "  timing:", lan},
		{"mapping profile only", "  timing: {profile: wan}", wan},
		{"mapping without profile is lan", "  timing: {heartbeat_timeout: 250ms, leader_lease: 120ms, vip_lease: 100ms}", overridden},
		{"mapping overrides", "  timing:\n    vip_lease: 100ms\n    profile: lan\n    leader_lease: 120ms\n    heartbeat_timeout: 250ms", overridden},
		{"fast with rpc", "  timing: {profile: fast, rpc_timeout: 40ms}", fastRPC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := baseConfig
			if tc.timing != "" {
				src = edit(5, "  peers: [lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, lb3=198.18.0.13:7300]\n"+tc.timing)
			}
			cfg, err := parseTest(t, src)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Cluster.Timing != tc.want {
				t.Errorf("timing = %+v, want %+v", cfg.Cluster.Timing, tc.want)
			}
		})
	}
}

// withCheck is baseConfig with a checks list of one item, on line 10.
func withCheck(item string) string { return after("checks:\n  - " + item) }

func TestParseCheckDefaults(t *testing.T) {
	common := CheckConfig{Name: "a", Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1}
	with := func(f func(c *CheckConfig)) CheckConfig {
		c := common
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name, item string
		want       CheckConfig
	}{
		{"haproxy alone", "{name: a, type: haproxy, socket: /run/haproxy/admin.sock}",
			with(func(c *CheckConfig) { c.Type, c.Socket = "haproxy", "/run/haproxy/admin.sock" })},
		{"haproxy backend: min_up 1", "{name: a, type: haproxy, socket: /run/h.sock, backend: web}",
			with(func(c *CheckConfig) { c.Type, c.Socket, c.Backend, c.MinUp = "haproxy", "/run/h.sock", "web", 1 })},
		{"timeout follows interval", "{name: a, type: tcp, address: 127.0.0.1:80, interval: 250ms}",
			with(func(c *CheckConfig) {
				c.Type, c.Address, c.Interval, c.Timeout = "tcp", "127.0.0.1:80", 250*time.Millisecond, 250*time.Millisecond
			})},
		{"timeout before interval", "{timeout: 3s, interval: 250ms, name: a, type: tcp, address: 127.0.0.1:80}",
			with(func(c *CheckConfig) {
				c.Type, c.Address, c.Interval, c.Timeout = "tcp", "127.0.0.1:80", 250*time.Millisecond, 3*time.Second
			})},
		{"http expects 200", "{name: a, type: http, url: http://127.0.0.1/}",
			with(func(c *CheckConfig) { c.Type, c.URL, c.ExpectStatus = "http", "http://127.0.0.1/", 200 })},
		{"script string is split", "{name: a, type: script, command: '  /bin/check   -x  y '}",
			with(func(c *CheckConfig) { c.Type, c.Command = "script", []string{"/bin/check", "-x", "y"} })},
		{"script list keeps arguments whole", "{name: a, type: script, command: [/bin/check, 'a b', '', 5]}",
			with(func(c *CheckConfig) { c.Type, c.Command = "script", []string{"/bin/check", "a b", "", "5"} })},
		{"process, every common key", "{name: a, type: process, pidfile: /run/x.pid, interval: 10ms, timeout: 1h, fall: 255, rise: 255, weight: 253}",
			with(func(c *CheckConfig) {
				c.Type, c.PIDFile, c.Interval, c.Timeout, c.Fall, c.Rise, c.Weight = "process", "/run/x.pid", 10*time.Millisecond, time.Hour, 255, 255, 253
			})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseTest(t, withCheck(tc.item))
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Checks) != 1 || !reflect.DeepEqual(cfg.Checks[0], tc.want) {
				t.Errorf("got  %+v\nwant %+v", cfg.Checks, tc.want)
			}
		})
	}
}

// withTiming is baseConfig with a timing line at line 6 (vip moves to 7..9).
func withTiming(timing string) string {
	return edit(5, "  peers: [lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, lb3=198.18.0.13:7300]\n  timing: "+timing)
}

func TestParseErrors(t *testing.T) {
	secretModes(t)
	long := "/run/" + strings.Repeat("x", 110) + ".sock"
	for _, tc := range []struct {
		name  string
		src   string
		field string
		line  int
		msg   string // a fragment of the message
		n     int    // number of errors expected; 0 means 1
	}{
		// The file as a whole.
		{"empty file", "", "", 0, "config is empty", 0},
		{"only comments", "# nothing here\n\n", "", 0, "config is empty", 0},
		{"only separator", "---\n", "", 0, "config is empty", 0},
		{"null document", "~\n", "", 0, "config is empty", 0},
		{"not a mapping", "- a\n- b\n", "", 1, "must be a mapping of sections", 0},
		{"syntax error", "node:\n  name: lb1\n bind: [\n", "", 2, "invalid YAML: did not find expected key", 0},
		{"tab indent", "node:\n\tname: lb1\n", "", 2, "tabs", 0},
		{"second document", baseConfig + "---\nnode: {name: lb2}\n", "", 10, "second YAML document", 0},
		{"merge key", edit(2, "  <<: {name: lb1}"), "node", 2, "merge keys", 0},

		// Keys.
		{"unknown key suggests", edit(5, "  peer: [lb1=198.18.0.11:7300]"), "cluster.peer", 5, `unknown key; did you mean "peers"?`, 0},
		{"unknown key transposed", edit(7, "  intreface: eth0"), "vip.intreface", 7, `did you mean "interface"?`, 0},
		{"unknown key prefix", withTiming("{election: 1s}"), "cluster.timing.election", 6, `did you mean "election_timeout"?`, 0},
		{"unknown key case", edit(3, "  Bind: 198.18.0.11"), "node.Bind", 3, `did you mean "bind"?`, 0},
		{"unknown key in wrong section", after("  priority: 100"), "vip.priority", 9, `"priority" belongs at the top level`, 0},
		{"unknown key other section", after("lifetime: 2s"), "lifetime", 9, `"lifetime" belongs under vip (vip.lifetime)`, 0},
		{"unknown key lists keys", edit(2, "  name: lb1\n  colour: blue"), "node.colour", 3, "the keys of node are name, data_dir, bind, raft_port, gossip_port", 0},
		{"duplicate key", edit(3, "  bind: 198.18.0.11\n  bind: 198.18.0.12"), "node.bind", 4, "duplicate key (first set on line 3)", 0},
		{"duplicate section", after("node: {name: lb1}"), "node", 9, "duplicate key (first set on line 1)", 0},
		{"section is a scalar", "node: lb1\n" + baseConfig[strings.Index(baseConfig, "cluster:"):], "node", 1, "expected a mapping (keys under node:)", 0},
		{"complex key", edit(2, "  ? [a]\n  : b\n  name: lb1"), "node", 2, "keys must be plain names", 0},

		// Later features.
		{"vrrp no vrid", after("vrrp: {enabled: true}"), "vrrp.vrid", 9, "missing; set the virtual_router_id", 0},
		{"vrrp vrid 0", after("vrrp: {enabled: true, vrid: 0}"), "vrrp.vrid", 9, "0 is out of range", 0},
		{"vrrp version 4", after("vrrp: {enabled: true, vrid: 51, version: 4}"), "vrrp.version", 9, "4 is out of range", 0},
		{"vrrp v2 fraction", after("vrrp: {enabled: true, vrid: 51, advert_interval: 1500ms}"), "vrrp.advert_interval", 9, "does not fit VRRPv2, which counts whole seconds", 0},
		{"vrrp v3 too fast", after("vrrp: {enabled: true, vrid: 51, version: 3, advert_interval: 5ms}"), "vrrp.advert_interval", 9, "does not fit VRRPv3, which counts centiseconds", 0},
		{"vrrp v3 auth", after("vrrp: {enabled: true, vrid: 51, version: 3, auth_pass: secret}"), "vrrp.auth_pass", 9, "VRRPv3 has no authentication", 0},
		{"vrrp long pass", after("vrrp: {enabled: true, vrid: 51, auth_pass: 123456789}"), "vrrp.auth_pass", 9, `keepalived cuts longer passwords to their first 8 ("12345678")`, 0},
		{"vrrp empty pass", after("vrrp: {enabled: true, vrid: 51, auth_pass: ''}"), "vrrp.auth_pass", 9, "is empty", 0},
		{"vrrp peer name", after("vrrp: {enabled: true, vrid: 51, unicast_peers: [ka1.example]}"), "vrrp.unicast_peers[0]", 9, "not an IP address", 0},
		{"vrrp peer twice", after("vrrp: {enabled: true, vrid: 51, unicast_peers: [198.18.0.14, 198.18.0.14]}"), "vrrp.unicast_peers[1]", 9, "listed twice", 0},
		{"vrrp peer family", after("vrrp: {enabled: true, vrid: 51, unicast_peers: ['2001:2::14']}"), "vrrp.unicast_peers[0]", 9, "not of the VIPs' address family", 0},
		{"vrrp v2 ipv6", edit(8, "  addresses: ['2001:2::10/64']") + "vrrp: {enabled: true, vrid: 51}\n", "vrrp.version", 9, "VRRPv2 carries IPv4 only", 0},
		{"vrrp mixed families", edit(8, "  addresses: [198.18.0.10/24, '2001:2::10/64']") + "vrrp: {enabled: true, vrid: 51, version: 3}\n", "vrrp", 9, "mixes IPv4 and IPv6", 0},
		{"vrrp unknown key", after("vrrp: {enabled: true, vrid: 51, advert_int: 1}"), "vrrp.advert_int", 9, `did you mean "advert_interval"?`, 0},
		{"metrics", after("metrics: {listen: 127.0.0.1:9742}"), "", 0, "", -1},
		{"metrics off", after("metrics: {listen: ''}"), "", 0, "", -1},
		{"metrics every address", after("metrics: {listen: ':9469'}"), "", 0, "", -1},
		{"metrics no port", after("metrics: {listen: 127.0.0.1}"), "metrics.listen", 9, `"127.0.0.1" is not host:port`, 0},
		{"metrics port only", after("metrics: {listen: '9469'}"), "metrics.listen", 9, `"9469" has no host; write host:port, e.g. 0.0.0.0:9469 (or :9469 for every address)`, 0},
		{"metrics host name", after("metrics: {listen: 'localhost:9469'}"), "metrics.listen", 9, "the host must be an IP address", 0},
		{"metrics bad port", after("metrics: {listen: '127.0.0.1:99999'}"), "metrics.listen", 9, `the port "99999" is not a number from 1 to 65535`, 0},
		{"metrics on the raft port", after("metrics: {listen: ':7300'}"), "metrics.listen", 9, ":7300 takes port 7300, which is node.raft_port", 0},
		{"metrics misspelt", after("metrics: {listn: ':9469'}"), "metrics.listn", 9, `did you mean "listen"?`, 0},
		{"admin listen without token", after("admin: {listen: '127.0.0.1:7380'}"), "admin.token_file", 9, "missing; admin.listen needs a token", 0},
		{"admin token without listen", after("admin: {token_file: /etc/raftvip/admin.token}"), "admin.token_file", 9, "is set, but admin.listen is not", 0},
		{"admin token missing file", after("admin: {listen: '127.0.0.1:7380', token_file: /nonexistent/admin.token}"), "admin.token_file", 9, "/nonexistent/admin.token does not exist; make one with (umask 077; raftvip keygen > /etc/raftvip/admin.token)", 0},
		{"admin and metrics on one port", after("admin: {listen: '127.0.0.1:7380', token_file: testdata/config/admin.token}\nmetrics: {listen: '127.0.0.1:7380'}"), "metrics.listen", 10, "is admin.listen too", 0},
		{"insecure not a boolean", edit(4, "cluster:\n  insecure: yes"), "cluster.insecure", 5, `"yes" is not a boolean here`, 0},
		{"bootstrap_expect with peers", edit(4, "cluster:\n  bootstrap_expect: 3"), "cluster.bootstrap_expect", 5, "cannot be used with cluster.peers", 0},
		{"bootstrap_expect without join", edit(5, "  bootstrap_expect: 3"), "cluster.join", 5, "missing; with bootstrap_expect: 3 the nodes find each other by gossip", 0},
		{"bootstrap_expect zero", edit(5, "  bootstrap_expect: 0\n  join: [198.18.0.12]"), "cluster.bootstrap_expect", 5, "0 is out of range", 0},
		{"join host name", edit(4, "cluster:\n  join: [lb2.example.com:7301]"), "cluster.join[0]", 5, "the host must be an IP address, not a name", 0},
		{"join bad port", edit(4, "cluster:\n  join: ['198.18.0.12:http']"), "cluster.join[0]", 5, "the port is not a number", 0},
		{"join port 0", edit(4, "cluster:\n  join: [198.18.0.12:0]"), "cluster.join[0]", 5, "port 0 is not a port", 0},
		{"join twice", edit(4, "cluster:\n  join: [198.18.0.12, 198.18.0.12]"), "cluster.join[1]", 5, "listed twice", 0},
		{"join multicast", edit(4, "cluster:\n  join: [224.0.0.18]"), "cluster.join[0]", 5, "not a unicast address", 0},

		// preempt, preempt_delay, min_move_interval.
		{"preempt yes", after("preempt: yes"), "preempt", 9, `"yes" is not a boolean here (YAML 1.2); write true`, 0},
		{"preempt off", after("preempt: off"), "preempt", 9, "write false", 0},
		{"preempt other", after("preempt: sometimes"), "preempt", 9, `"sometimes" is not true or false`, 0},
		{"preempt list", after("preempt: [true]"), "preempt", 9, "expected true or false, found a list", 0},
		{"preempt_delay too long", after("preempt_delay: 1001s"), "preempt_delay", 9, "16m41s is out of range; use 0s to 1000s (keepalived's range), default 0s", 0},
		{"preempt_delay negative", after("preempt_delay: -1s"), "preempt_delay", 9, "out of range", 0},
		{"preempt_delay no unit", after("preempt_delay: 5"), "preempt_delay", 9, `"5" has no unit`, 0},
		{"preempt_delay with nopreempt is allowed", after("preempt: false\npreempt_delay: 1000s\nmin_move_interval: 0s"), "", 0, "", -1},
		{"min_move_interval negative", after("min_move_interval: -1s"), "min_move_interval", 9, "-1s is negative; use 0 (no limit) or more (default 10s)", 0},
		{"min_move_interval misspelt", after("min_move_intervall: 10s"), "min_move_intervall", 9, `did you mean "min_move_interval"?`, 0},

		// cluster.encrypt.
		{"encrypt 16 bytes", edit(4, "cluster:\n  encrypt: MDEyMzQ1Njc4OWFiY2RlZg=="), "", 0, "", -1},
		{"encrypt 24 bytes", edit(4, "cluster:\n  encrypt: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"), "", 0, "", -1},
		{"encrypt short", edit(4, "cluster:\n  encrypt: c2VjcmV0"), "cluster.encrypt", 5,
			"decodes to 6 bytes; a key is 16, 24 or 32 bytes (AES-128, -192 or -256): make one with raftvip keygen", 0},
		{"encrypt 33 bytes", edit(4, "cluster:\n  encrypt: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYw"), "cluster.encrypt", 5, "decodes to 33 bytes", 0},
		{"encrypt not base64", edit(4, "cluster:\n  encrypt: not a key!"), "cluster.encrypt", 5, "is not standard base64; make one with raftvip keygen", 0},
		{"encrypt url-safe", edit(4, "cluster:\n  encrypt: MDEyMzQ1Njc4OWFi-2RlZg__"), "cluster.encrypt", 5, "is URL-safe base64", 0},
		{"encrypt unpadded", edit(4, "cluster:\n  encrypt: MDEyMzQ1Njc4OWFiY2RlZg"), "cluster.encrypt", 5, "its '=' padding is missing", 0},
		{"encrypt empty", edit(4, "cluster:\n  encrypt: ''"), "cluster.encrypt", 5, "is empty; set a base64 key of 16, 24 or 32 bytes, or remove the line to turn encryption off", 0},
		{"encrypt null", edit(4, "cluster:\n  encrypt:"), "cluster.encrypt", 5, "has no value; expected a base64 key", 0},

		// checks: the list and its items.
		{"checks empty", after("checks: []"), "", 0, "", -1},
		{"checks null", after("checks:"), "", 0, "", -1},
		{"checks scalar", after("checks: haproxy"), "checks", 9, "expected a list, e.g. [{name: haproxy, type: haproxy, socket: /run/haproxy/admin.sock}]", 0},
		{"check is a scalar", withCheck("haproxy"), "checks[0]", 10, "expected a mapping", 0},
		{"check is null", after("checks:\n  -"), "checks[0]", 10, "is empty; a check needs at least a name and a type", 0},
		{"check weight", after("checks:\n  - {name: a, type: tcp, address: 127.0.0.1:80}\n  - {name: b, type: tcp, address: 127.0.0.1:81, weight: 300}"),
			"checks[1].weight", 11, "300 is out of range; use -253..253 (keepalived's range)", 0},
		{"check weight low", withCheck("{name: a, type: tcp, address: 127.0.0.1:80, weight: -254}"), "checks[0].weight", 10, "-254 is out of range", 0},
		{"check name missing", withCheck("{type: tcp, address: 127.0.0.1:80}"), "checks[0].name", 10, "missing; name the check, e.g. name: haproxy", 0},
		{"check type missing", withCheck("{name: a, address: 127.0.0.1:80}"), "checks[0].type", 10, `missing; set the check's type: "haproxy", "http", "tcp", "script" or "process"`, 0},
		{"check both missing", withCheck("{weight: 2}"), "checks[0].type", 10, "missing", 2},
		{"check type typo", withCheck("{name: a, type: htp, url: http://127.0.0.1/}"), "checks[0].type", 10, `"htp" is not one of "haproxy", "http", "tcp", "script" or "process"; did you mean "http"?`, 0},
		{"check type vrrp_script", withCheck("{name: a, type: vrrp_script, command: /bin/true}"), "checks[0].type", 10, "is not one of", 0},
		{"check name twice", after("checks:\n  - {name: a, type: tcp, address: 127.0.0.1:80}\n  - name: a\n    type: tcp\n    address: 127.0.0.1:81"),
			"checks[1].name", 11, "a is used twice (also checks[0] on line 10); every check needs its own name", 0},
		{"check name space", withCheck("{name: web check, type: tcp, address: 127.0.0.1:80}"), "checks[0].name", 10, `"web check" contains ' '; a check name may use only letters, digits`, 0},
		{"check name long", withCheck("{name: " + strings.Repeat("a", 33) + ", type: tcp, address: 127.0.0.1:80}"), "checks[0].name", 10, "is 33 characters; a check name is at most 32", 0},
		{"check name 32", withCheck("{name: " + strings.Repeat("a", 32) + ", type: tcp, address: 127.0.0.1:80}"), "", 0, "", -1},
		{"check name empty", withCheck("{name: '', type: tcp, address: 127.0.0.1:80}"), "checks[0].name", 10, "is empty; name the check", 0},
		{"check unknown key", withCheck("{name: a, type: tcp, adress: 127.0.0.1:80}"), "checks[0].adress", 10, `unknown key; did you mean "address"?`, 0},
		{"check unknown key lists keys", withCheck("{name: a, type: tcp, address: 127.0.0.1:80, colour: red}"), "checks[0].colour", 10,
			"the keys of checks[0] are name, type, interval, timeout, fall, rise, weight, socket, backend, min_up, url, expect_status, address, command, pidfile", 0},
		{"check key of another type", withCheck("{name: a, type: haproxy, socket: /run/h.sock, url: http://127.0.0.1/}"), "checks[0].url", 10,
			"does not apply to a haproxy check (url is for http checks); a haproxy check takes socket, backend and min_up, besides name, type, interval, timeout, fall, rise and weight", 0},
		{"check key of another type, bad value too", withCheck("{name: a, type: tcp, address: 127.0.0.1:80, pidfile: relative}"), "checks[0].pidfile", 10,
			"does not apply to a tcp check (pidfile is for process checks); a tcp check takes address, besides", 0},
		{"check key of another type, before type", after("checks:\n  - expect_status: 200\n    name: a\n    type: script\n    command: /bin/true"), "checks[0].expect_status", 10,
			"does not apply to a script check (expect_status is for http checks)", 0},
		{"check duplicate key", after("checks:\n  - name: a\n    type: tcp\n    address: 127.0.0.1:80\n    name: b"), "checks[0].name", 13, "duplicate key (first set on line 10)", 0},
		{"check key at top level", after("socket: /run/haproxy/admin.sock"), "socket", 9, `unknown key here; "socket" belongs under admin (admin.socket) or in an item of checks`, 0},
		{"check key in vip", after("  url: http://127.0.0.1/"), "vip.url", 9, `"url" belongs in an item of checks`, 0},
		{"ambiguous key at top level", after("timeout: 5s"), "timeout", 9, `"timeout" belongs in an item of checks or under notify (notify.timeout)`, 0},
		{"notify key in a check", withCheck("{name: a, type: tcp, address: 127.0.0.1:80, master: /bin/true}"), "checks[0].master", 10, `"master" belongs under notify (notify.master)`, 0},

		// checks: common keys.
		{"check interval short", withCheck("{name: a, type: tcp, address: 127.0.0.1:80, interval: 5ms}"), "checks[0].interval", 10, "5ms is below 10ms; use 10ms or more (default 1s)", 0},
		{"check interval no unit", withCheck("{name: a, type: tcp, address: 127.0.0.1:80, interval: 2}"), "checks[0].interval", 10, `"2" has no unit`, 0},
		{"check timeout zero", withCheck("{name: a, type: tcp, address: 127.0.0.1:80, timeout: 0s}"), "checks[0].timeout", 10, "0s must be greater than 0", 0},
		{"check timeout above interval is allowed", withCheck("{name: a, type: tcp, address: 127.0.0.1:80, interval: 100ms, timeout: 5s}"), "", 0, "", -1},
		{"check fall 0", withCheck("{name: a, type: tcp, address: 127.0.0.1:80, fall: 0}"), "checks[0].fall", 10, "0 is out of range; fall is 1 to 255 failures in a row", 0},
		{"check rise 256", withCheck("{name: a, type: tcp, address: 127.0.0.1:80, rise: 256}"), "checks[0].rise", 10, "256 is out of range; rise is 1 to 255", 0},

		// checks: haproxy.
		{"haproxy socket missing", withCheck("{name: a, type: haproxy}"), "checks[0].socket", 10,
			"missing; a haproxy check needs the HAProxy stats socket, e.g. socket: /run/haproxy/admin.sock (the path of 'stats socket' in haproxy.cfg)", 0},
		{"haproxy socket misspelt", withCheck("{name: a, type: haproxy, sockett: /run/h.sock}"), "checks[0].sockett", 10, `did you mean "socket"?`, 0},
		{"haproxy socket relative", withCheck("{name: a, type: haproxy, socket: haproxy.sock}"), "checks[0].socket", 10, `"haproxy.sock" is not an absolute path; use the address of 'stats socket' in haproxy.cfg`, 0},
		{"haproxy socket prefix", withCheck("{name: a, type: haproxy, socket: unix@/run/h.sock}"), "checks[0].socket", 10, `has HAProxy's unix@ prefix; write the address without it (/run/h.sock)`, 0},
		{"haproxy socket abns", withCheck("{name: a, type: haproxy, socket: abns@stats}"), "checks[0].socket", 10, "abstract unix socket", 0},
		{"haproxy socket directory", withCheck("{name: a, type: haproxy, socket: /run/haproxy/}"), "checks[0].socket", 10, "names a directory", 0},
		{"haproxy socket no port", withCheck("{name: a, type: haproxy, socket: localhost}"), "checks[0].socket", 10, "is neither an absolute unix socket path nor host:port", 0},
		{"haproxy socket bad port", withCheck("{name: a, type: haproxy, socket: '127.0.0.1:99999'}"), "checks[0].socket", 10, "is neither an absolute unix socket path nor host:port", 0},
		{"haproxy socket too long", withCheck("{name: a, type: haproxy, socket: " + long + "}"), "checks[0].socket", 10, "longer than a unix socket path can be", 0},
		{"haproxy tcp socket", withCheck("{name: a, type: haproxy, socket: '127.0.0.1:9999', backend: web}"), "", 0, "", -1},
		{"haproxy backend bad", withCheck("{name: a, type: haproxy, socket: /run/h.sock, backend: 'web farm'}"), "checks[0].backend", 10, `"web farm" contains ' '; HAProxy names use only`, 0},
		{"haproxy backend empty", withCheck("{name: a, type: haproxy, socket: /run/h.sock, backend: ''}"), "checks[0].backend", 10, "is empty", 0},
		{"haproxy min_up without backend", withCheck("{name: a, type: haproxy, socket: /run/h.sock, min_up: 2}"), "checks[0].min_up", 10,
			"needs backend; min_up counts the UP servers of a backend: set backend (e.g. backend: web) or remove min_up", 0},
		{"haproxy min_up 0", withCheck("{name: a, type: haproxy, socket: /run/h.sock, backend: web, min_up: 0}"), "checks[0].min_up", 10, "0 is out of range; min_up is 1 to 10000", 0},

		// checks: http, tcp, script, process.
		{"http url missing", withCheck("{name: a, type: http}"), "checks[0].url", 10, "missing; an http check needs the URL to GET, e.g. url: http://127.0.0.1:8080/health", 0},
		{"http url no scheme", withCheck("{name: a, type: http, url: '127.0.0.1:8080/health'}"), "checks[0].url", 10, "has no scheme; write http:// or https:// in front", 0},
		{"http url ftp", withCheck("{name: a, type: http, url: 'ftp://127.0.0.1/x'}"), "checks[0].url", 10, "ftp:// is not http:// or https://", 0},
		{"http url no host", withCheck("{name: a, type: http, url: 'http:///health'}"), "checks[0].url", 10, "has no host", 0},
		{"http url bad port", withCheck("{name: a, type: http, url: 'http://127.0.0.1:70000/'}"), "checks[0].url", 10, "port 70000 is not a port", 0},
		{"http url garbage", withCheck("{name: a, type: http, url: 'http://[::1/'}"), "checks[0].url", 10, "is not a URL", 0},
		{"http expect_status", withCheck("{name: a, type: http, url: 'http://127.0.0.1/', expect_status: 600}"), "checks[0].expect_status", 10, "600 is out of range; an HTTP status is 100 to 599", 0},
		{"tcp address missing", withCheck("{name: a, type: tcp}"), "checks[0].address", 10, "missing; a tcp check needs the address to connect to, e.g. address: 127.0.0.1:443", 0},
		{"tcp address no port", withCheck("{name: a, type: tcp, address: 127.0.0.1}"), "checks[0].address", 10, `"127.0.0.1" has no port; write host:port, e.g. 127.0.0.1:443`, 0},
		{"tcp address ipv6 brackets", withCheck("{name: a, type: tcp, address: '2001:db8::1:443'}"), "checks[0].address", 10, "write an IPv6 address in brackets", 0},
		{"tcp address no host", withCheck("{name: a, type: tcp, address: ':443'}"), "checks[0].address", 10, "has no host", 0},
		{"tcp address service name", withCheck("{name: a, type: tcp, address: 'localhost:https'}"), "checks[0].address", 10, `port "https" is not a port`, 0},
		{"tcp address host name", withCheck("{name: a, type: tcp, address: 'localhost:443'}"), "", 0, "", -1},
		{"script command missing", withCheck("{name: a, type: script}"), "checks[0].command", 10, "missing; a script check needs the command to run", 0},
		{"script command null", withCheck("{name: a, type: script, command: }"), "checks[0].command", 10, "has no value; expected the command to run", 0},
		{"script command empty", withCheck("{name: a, type: script, command: []}"), "checks[0].command", 10, "is empty; give a command", 0},
		{"script command blank", withCheck("{name: a, type: script, command: '  '}"), "checks[0].command", 10, "is empty; give a command", 0},
		{"script command empty program", withCheck("{name: a, type: script, command: ['', x]}"), "checks[0].command", 10, "the program (first argument) is empty", 0},
		{"script command shell", withCheck("{name: a, type: script, command: 'pidof haproxy && curl -fs localhost'}"), "checks[0].command", 10,
			`has '&', but commands run without a shell, so it would be passed on as a literal argument; write the command as a list of arguments, e.g. [/usr/local/bin/check-web, --quick], or to use a shell: [/bin/sh, -c, "pidof haproxy && curl -fs localhost"]`, 0},
		{"script command quotes", withCheck(`{name: a, type: script, command: "check 'a b'"}`), "checks[0].command", 10, "commands run without a shell", 0},
		{"script command nested", withCheck("{name: a, type: script, command: [x, [y]]}"), "checks[0].command[1]", 10, "expected one argument (a string), found a list", 0},
		{"script command mapping", withCheck("{name: a, type: script, command: {x: y}}"), "checks[0].command", 10, "expected a command, a list of arguments", 0},
		{"script command shell in list is fine", withCheck(`{name: a, type: script, command: [/bin/sh, -c, "pidof haproxy && exit 0"]}`), "", 0, "", -1},
		{"process pidfile missing", withCheck("{name: a, type: process}"), "checks[0].pidfile", 10, "missing; a process check needs the pid file of the process", 0},
		{"process pidfile relative", withCheck("{name: a, type: process, pidfile: run/x.pid}"), "checks[0].pidfile", 10, "is not an absolute path", 0},
		{"process pidfile directory", withCheck("{name: a, type: process, pidfile: /run/}"), "checks[0].pidfile", 10, "names a directory", 0},

		// notify.
		{"notify all", after("notify: {master: /bin/true, backup: [/bin/true], fault: /bin/true -x, stop: /bin/true, script: /bin/true, instance: VI_1, timeout: 1s}"), "", 0, "", -1},
		{"notify null", after("notify:"), "", 0, "", -1},
		{"notify null hook", after("notify: {master: }"), "", 0, "", -1},
		{"notify list", after("notify: [/bin/true]"), "notify", 9, "expected a mapping (keys under notify:), found a list", 0},
		{"notify shell", after("notify: {master: echo up > /tmp/state}"), "notify.master", 9, `has '>', but commands run without a shell`, 0},
		{"notify empty", after("notify: {fault: []}"), "notify.fault", 9, "is empty; give a command", 0},
		{"notify keepalived key", after("notify: {notify_master: /bin/true}"), "notify.notify_master", 9, `unknown key; did you mean "master"?`, 0},
		{"notify unknown", after("notify: {deleted: /bin/true}"), "notify.deleted", 9, "the keys of notify are master, backup, fault, stop, script, instance, timeout", 0},
		{"notify instance space", after("notify: {instance: VI 1}"), "notify.instance", 9, `"VI 1" contains ' '; an instance name may use only`, 0},
		{"notify instance empty", after("notify: {instance: ''}"), "notify.instance", 9, "is empty", 0},
		{"notify timeout zero", after("notify: {timeout: 0s}"), "notify.timeout", 9, "0s must be greater than 0", 0},
		{"notify timeout long", after("notify: {timeout: 2h}"), "notify.timeout", 9, "2h0m0s is above 1h; hooks run one at a time", 0},
		{"notify at top level", after("master: /bin/true"), "master", 9, `"master" belongs under notify (notify.master)`, 0},

		// node.
		{"name invalid", edit(2, "  name: lb 1"), "node.name", 2, `"lb 1" contains ' '`, 0},
		{"name unicode", edit(2, "  name: lb①"), "node.name", 2, "may use only letters, digits", 0},
		{"name empty", edit(2, `  name: ""`), "node.name", 2, "is empty", 0},
		{"name null", edit(2, "  name:"), "node.name", 2, "has no value", 0},
		{"name is a list", edit(2, "  name: [lb1]"), "node.name", 2, "expected this node's name, e.g. lb1, found a list", 0},
		{"name not a peer", edit(2, "  name: lb4"), "cluster.peers", 5, `this node, "lb4" from node.name, is not in the list (lb1, lb2, lb3); 198.18.0.11:7300 is listed as lb1`, 0},
		{"name not a peer, no hint", edit(5, "  peers: [lb2=198.18.0.12:7300, lb3=198.18.0.13:7300]"), "cluster.peers", 5, "add this node (lb1=198.18.0.11:7300) or fix node.name", 0},
		{"bind not an IP", edit(3, "  bind: lb1.example.com"), "node.bind", 3, "does not resolve host names", 0},
		{"bind with port", edit(3, "  bind: 198.18.0.11:7300"), "node.bind", 3, "has a port; give the address only (198.18.0.11)", 0},
		{"bind with prefix", edit(3, "  bind: 198.18.0.11/24"), "node.bind", 3, "has a prefix length", 0},
		{"bind unspecified", edit(3, "  bind: 0.0.0.0"), "node.bind", 3, "cannot be told to peers", 0},
		{"bind multicast", edit(3, "  bind: ff02::1"), "node.bind", 3, "not a unicast address", 0},
		{"bind missing", edit(3, ""), "node.bind", 1, "missing; set this node's IP address", 0},
		{"bind differs from peer", edit(3, "  bind: 198.18.0.21"), "cluster.peers[0]", 5, "listed at 198.18.0.11:7300, but node.bind is 198.18.0.21", 0},
		{"raft_port differs from peer", edit(3, "  bind: 198.18.0.11\n  raft_port: 7400"), "cluster.peers[0]", 6, "but node.raft_port is 7400", 0},
		{"both differ", edit(3, "  bind: 198.18.0.21\n  raft_port: 7400"), "cluster.peers[0]", 6, "node.bind is 198.18.0.21 and node.raft_port is 7400", 0},
		{"raft_port 0", edit(3, "  bind: 198.18.0.11\n  raft_port: 0"), "node.raft_port", 4, "0 is out of range; a port is 1 to 65535", 0},
		{"gossip_port too big", edit(3, "  bind: 198.18.0.11\n  gossip_port: 70000"), "node.gossip_port", 4, "70000 is out of range", 0},
		{"port not a number", edit(3, "  bind: 198.18.0.11\n  gossip_port: seven"), "node.gossip_port", 4, `"seven" is not a whole number`, 0},
		{"port float", edit(3, "  bind: 198.18.0.11\n  gossip_port: 7301.5"), "node.gossip_port", 4, "not a whole number", 0},
		{"ports equal", edit(3, "  bind: 198.18.0.11\n  gossip_port: 7300"), "node.gossip_port", 4, "7300 is both node.raft_port and node.gossip_port", 0},
		{"data_dir empty", edit(2, "  name: lb1\n  data_dir: ''"), "node.data_dir", 3, "is empty", 0},

		// cluster.peers.
		{"peers empty", edit(5, "  peers: []"), "cluster.peers", 5, "is empty", 0},
		{"peers scalar", edit(5, "  peers: lb1=198.18.0.11:7300"), "cluster.peers", 5, "expected a list, e.g. [lb1=", 0},
		{"peer no =", edit(5, "  peers: [lb1=198.18.0.11:7300, 198.18.0.12:7300]"), "cluster.peers[1]", 5, "has no '='", 0},
		{"peer host name", edit(5, "  peers: [lb1=198.18.0.11:7300, lb2=lb2.example.com:7300]"), "cluster.peers[1]", 5, "the host must be an IP address, not a name", 0},
		{"peer no port", edit(5, "  peers: [lb1=198.18.0.11:7300, lb2=198.18.0.12]"), "cluster.peers[1]", 5, "has no port; write lb2=198.18.0.12:7300", 0},
		{"peer ipv6 no brackets", edit(5, "  peers: [lb1=198.18.0.11:7300, 'lb2=2001:2::12:7300']"), "cluster.peers[1]", 5, "has no port; write lb2=[2001:2::12:7300]:7300", 0},
		{"peer ipv6 brackets no port", edit(5, "  peers: [lb1=198.18.0.11:7300, 'lb2=[2001:2::12]']"), "cluster.peers[1]", 5, "IPv6 in brackets", 0},
		{"peer port 0", edit(5, "  peers: [lb1=198.18.0.11:7300, lb2=198.18.0.12:0]"), "cluster.peers[1]", 5, "port 0 is not a port", 0},
		{"peer unspecified", edit(5, "  peers: [lb1=198.18.0.11:7300, lb2=0.0.0.0:7300]"), "cluster.peers[1]", 5, "not a unicast address", 0},
		{"peer bad name", edit(5, "  peers: [lb1=198.18.0.11:7300, 'lb/2=198.18.0.12:7300']"), "cluster.peers[1]", 5, `peer name "lb/2" contains '/'`, 0},
		{"peer name twice", edit(5, "  peers:\n  - lb1=198.18.0.11:7300\n  - lb1=198.18.0.12:7300"), "cluster.peers[1]", 7, "lb1 is listed twice (also cluster.peers[0] on line 6)", 0},
		{"peer address twice", edit(5, "  peers:\n  - lb1=198.18.0.11:7300\n  - lb2=198.18.0.11:7300"), "cluster.peers[1]", 7, "lb2 is at 198.18.0.11:7300, like cluster.peers[0] on line 6", 0},
		{"peer item is a mapping", edit(5, "  peers: [{lb1: 198.18.0.11}]"), "cluster.peers[0]", 5, "expected name=ip:port", 0},

		// admin.socket.
		{"socket relative", after("admin: {socket: raftvip.sock}"), "admin.socket", 9, "not an absolute path", 0},
		{"socket directory", after("admin: {socket: /run/raftvip/}"), "admin.socket", 9, "names a directory", 0},
		{"socket too long", after("admin: {socket: " + long + "}"), "admin.socket", 9, "longer than a unix socket path can be", 0},
		{"admin is a list", after("admin: [/run/x.sock]"), "admin", 9, "expected a mapping (keys under admin:), found a list", 0},

		// vip.interface.
		{"interface empty", edit(7, `  interface: ""`), "vip.interface", 7, "is empty", 0},
		{"interface too long", edit(7, "  interface: averyveryverylongname"), "vip.interface", 7, "at most 15", 0},
		{"interface label", edit(7, "  interface: eth0:1"), "vip.interface", 7, "address label, not an interface; use the interface itself (eth0)", 0},
		{"interface slash", edit(7, "  interface: eth/0"), "vip.interface", 7, "contains '/'", 0},
		{"interface dot", edit(7, "  interface: .."), "vip.interface", 7, "not an interface name", 0},
		{"interface missing", edit(7, ""), "vip.interface", 6, "missing; name the interface", 0},

		// vip.addresses.
		{"addresses missing", edit(8, ""), "vip.addresses", 6, "missing; list the VIPs", 0},
		{"addresses empty", edit(8, "  addresses: []"), "vip.addresses", 8, "is empty", 0},
		{"addresses scalar", edit(8, "  addresses: 198.18.0.10/24"), "vip.addresses", 8, "expected a list", 0},
		{"address no length", edit(8, "  addresses: [198.18.0.10/24, 198.18.0.20]"), "vip.addresses[1]", 8, "has no prefix length; write it with the prefix length of the subnet on vip.interface, e.g. 198.18.0.20/24", 0},
		{"address garbage", edit(8, "  addresses: [vip.example.com/24]"), "vip.addresses[0]", 8, "not an address with a prefix length", 0},
		{"address network", edit(8, "  addresses: [198.18.0.0/24]"), "vip.addresses[0]", 8, "198.18.0.0/24 is the network address of 198.18.0.0/24; a VIP must be a host address in it, e.g. 198.18.0.1/24", 0},
		{"address broadcast", edit(8, "  addresses: [198.18.0.255/24]"), "vip.addresses[0]", 8, "is the broadcast address of 198.18.0.0/24", 0},
		{"address ipv6 network", edit(8, "  addresses: ['2001:2::/64']"), "vip.addresses[0]", 8, "is the network address of 2001:2::/64", 0},
		{"address multicast", edit(8, "  addresses: [224.0.0.18/32]"), "vip.addresses[0]", 8, "multicast", 0},
		{"address loopback", edit(8, "  addresses: [127.0.0.2/8]"), "vip.addresses[0]", 8, "loopback", 0},
		{"address unspecified", edit(8, "  addresses: ['::/0']"), "vip.addresses[0]", 8, "unspecified", 0},
		{"address limited broadcast", edit(8, "  addresses: [255.255.255.255/32]"), "vip.addresses[0]", 8, "broadcast", 0},
		{"address mapped", edit(8, "  addresses: ['::ffff:198.18.0.10/120']"), "vip.addresses[0]", 8, "IPv4-mapped", 0},
		{"address twice", edit(8, "  addresses:\n  - 198.18.0.10/24\n  - 198.18.0.10/25"), "vip.addresses[1]", 10, "198.18.0.10 is listed twice (also vip.addresses[0] on line 9)", 0},
		{"address is bind", edit(8, "  addresses: [198.18.0.10/24, 198.18.0.11/24]"), "vip.addresses[1]", 8, "is node.bind", 0},
		{"address is a peer", edit(8, "  addresses: [198.18.0.12/24]"), "vip.addresses[0]", 8, "is the address of peer lb2", 0},
		{"/31 and /32 have no network address", edit(8, "  addresses: [198.18.0.10/31, 198.18.0.21/32, '2001:2::1:0/127']"), "", 0, "", -1},

		// vip.lifetime.
		{"lifetime below 1s", after("  lifetime: 500ms"), "vip.lifetime", 9, `"500ms" is below 1s; Linux counts address lifetimes in whole seconds, use 1s or more (default 2s)`, 0},
		{"lifetime not whole", after("  lifetime: 1500ms"), "vip.lifetime", 9, "not a whole number of seconds; Linux counts address lifetimes in whole seconds, use 1s or 2s", 0},
		{"lifetime above 1h", after("  lifetime: 2h"), "vip.lifetime", 9, "above 1h", 0},
		{"drain negative", after("  drain: -1s"), "vip.drain", 9, "out of range; a planned move waits this long with new connections held off, use 0 (no drain) to 10s", 0},
		{"drain too long", after("  drain: 11s"), "vip.drain", 9, "use 0 (no drain) to 10s (default 25ms)", 0},
		{"drain without unit", after("  drain: 25"), "vip.drain", 9, "unit", 0},
		{"lifetime bare number", after("  lifetime: 2"), "vip.lifetime", 9, `"2" has no unit`, 0},
		{"lifetime quoted bare", after(`  lifetime: "2"`), "vip.lifetime", 9, "has no unit", 0},
		{"lifetime negative", after("  lifetime: -2s"), "vip.lifetime", 9, "below 1s", 0},
		{"lifetime garbage", after("  lifetime: two seconds"), "vip.lifetime", 9, "not a duration", 0},

		// vip.fencing, vip.garp.
		{"fencing typo", after("  fencing: strcit"), "vip.fencing", 9, `"strcit" is not one of "standard" or "strict"; did you mean "strict"?`, 0},
		{"fencing other", after("  fencing: none"), "vip.fencing", 9, `is not one of "standard" or "strict"`, 0},
		{"garp repeat high", after("  garp: {repeat: 101}"), "vip.garp.repeat", 9, "101 is out of range; repeat is 0", 0},
		{"garp repeat negative", after("  garp: {repeat: -1}"), "vip.garp.repeat", 9, "out of range", 0},
		{"garp interval negative", after("  garp: {interval: -1s}"), "vip.garp.interval", 9, "negative", 0},
		{"garp refresh short", after("  garp: {refresh: 500ms}"), "vip.garp.refresh", 9, "below 1s", 0},
		{"garp unknown", after("  garp: {repeats: 3}"), "vip.garp.repeats", 9, `did you mean "repeat"?`, 0},

		// priority, log.
		{"priority 0", after("priority: 0"), "priority", 9, "0 is out of range; priority is 1 to 254", 0},
		{"priority 255", after("priority: 255"), "priority", 9, "255 is out of range", 0},
		{"log level", after("log: {level: verbose}"), "log.level", 9, `"verbose" is not one of "debug", "info", "warn" or "error"`, 0},
		{"log level typo", after("log: {level: warning}"), "log.level", 9, `did you mean "warn"?`, 0},
		{"log format", after("log: {format: xml}"), "log.format", 9, `"xml" is not one of "text" or "json"`, 0},

		// cluster.timing.
		{"profile unknown", withTiming("fats"), "cluster.timing", 6, `unknown timing profile "fats"; did you mean "fast"?`, 0},
		{"profile unknown in mapping", withTiming("{profile: moon}"), "cluster.timing.profile", 6, `unknown timing profile "moon"; use "lan", "fast" or "wan"`, 0},
		{"timing is a list", withTiming("[lan]"), "cluster.timing", 6, "expected a mapping", 0},
		{"knob bare number", withTiming("{heartbeat_timeout: 300}"), "cluster.timing.heartbeat_timeout", 6, `"300" has no unit; write a duration with its unit, e.g. "300ms" or "300s"`, 0},
		{"knob zero", withTiming("{commit_timeout: 0s}"), "cluster.timing.commit_timeout", 6, "0s must be greater than 0", 0},
		{"knob negative", withTiming("{claim_margin: -5ms}"), "cluster.timing.claim_margin", 6, "must be greater than 0", 0},
		{"knob huge", withTiming("{election_timeout: 2h}"), "cluster.timing.election_timeout", 6, "above 1h0m0s", 0},
		{"heartbeat below raft minimum", withTiming("{heartbeat_timeout: 4ms, election_timeout: 4ms, leader_lease: 4ms, vip_lease: 4ms}"), "cluster.timing.heartbeat_timeout", 6, "hashicorp/raft rejects values below 5ms", 4},
		{"rpc below 10ms", withTiming("{rpc_timeout: 5ms}"), "cluster.timing.rpc_timeout", 6, "5ms is below 10ms", 0},
		{"vip_lease below 20ms", withTiming("{profile: fast, vip_lease: 16ms}"), "cluster.timing.vip_lease", 6, "vip_lease/4, and that must be at least 5ms", 0},
		{"election below heartbeat", withTiming("{election_timeout: 200ms}"), "cluster.timing.election_timeout", 6,
			"200ms is below heartbeat_timeout (300ms from profile lan); hashicorp/raft requires election_timeout to be at least heartbeat_timeout: raise election_timeout to 300ms or more, or lower heartbeat_timeout", 0},
		{"heartbeat above election", withTiming("{heartbeat_timeout: 400ms}"), "cluster.timing.heartbeat_timeout", 6,
			"400ms is above election_timeout (300ms from profile lan)", 0},
		{"leader lease above heartbeat", withTiming("{leader_lease: 400ms}"), "cluster.timing.leader_lease", 6,
			"400ms is above heartbeat_timeout (300ms from profile lan); hashicorp/raft requires leader_lease to be at most heartbeat_timeout", 0},
		{"vip lease above leader lease is fine", withTiming("{vip_lease: 200ms}"), "", 0, "", -1},
		{"both set, blame the bigger", withTiming("{heartbeat_timeout: 400ms, election_timeout: 300ms}"), "cluster.timing.election_timeout", 6,
			"300ms is below heartbeat_timeout (400ms)", 0},
		{"lifetime vs renew, blame vip_lease", withTiming("{heartbeat_timeout: 20s, election_timeout: 20s, leader_lease: 10s, vip_lease: 10s}"), "cluster.timing.vip_lease", 6,
			"10s means a lease renewal every 2.5s, but vip.lifetime is 2s; the kernel would drop the VIP between two renewals", 0},
		{"lifetime vs renew, blame lifetime", withTiming("{heartbeat_timeout: 20s, election_timeout: 20s, leader_lease: 10s, vip_lease: 10s}") + "  lifetime: 2s\n",
			"vip.lifetime", 10, "2s is not longer than the lease renew interval (cluster.timing.vip_lease/4 = 2.5s)", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.n < 0 {
				if tc.src != "" {
					if _, err := parseTest(t, tc.src); err != nil {
						t.Fatalf("valid config rejected: %v", err)
					}
				}
				return
			}
			_, err := parseTest(t, tc.src)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *Error", err)
			}
			want := max(tc.n, 1)
			if len(ce.Errors) != want {
				t.Errorf("%d errors, want %d:\n%v", len(ce.Errors), want, err)
			}
			for _, fe := range ce.Errors {
				if fe.Field == tc.field && fe.Line == tc.line && strings.Contains(fe.Msg, tc.msg) {
					if fe.File != "config.yaml" {
						t.Errorf("File = %q", fe.File)
					}
					return
				}
			}
			t.Errorf("no error at line %d for %q containing %q; got:\n%v", tc.line, tc.field, tc.msg, err)
		})
	}
}

func TestParseHostnameErrors(t *testing.T) {
	src := edit(2, "")
	for _, tc := range []struct {
		name     string
		hostname func() (string, error)
		msg      string
	}{
		{"unreadable", func() (string, error) { return "", errors.New("no uts") }, "not set, and the hostname cannot be read (no uts); set node.name"},
		{"invalid", func() (string, error) { return "lb 1", nil }, `not set, and the hostname "lb 1" cannot be a node name`},
		{"not a peer", func() (string, error) { return "web7", nil }, `"web7" from the hostname (node.name is not set), is not in the list`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseWithHostname([]byte(src), "config.yaml", tc.hostname)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want %q", err, tc.msg)
			}
		})
	}
}

// TestParseManyErrors checks that every problem in a file is reported, in file order,
// against a golden file (go test -run ManyErrors -update rewrites it).
func TestParseManyErrors(t *testing.T) {
	path := filepath.Join("testdata", "config", "many_errors.yaml")
	_, err := Load(path)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *Error", err)
	}
	if len(ce.Errors) < 10 {
		t.Errorf("only %d errors:\n%v", len(ce.Errors), err)
	}
	for i := 1; i < len(ce.Errors); i++ {
		if a, b := ce.Errors[i-1].Line, ce.Errors[i].Line; b != 0 && (a == 0 || a > b) {
			t.Errorf("errors out of file order: line %d before line %d", a, b)
		}
	}
	var fe FieldError
	if !errors.As(err, &fe) || fe != ce.Errors[0] {
		t.Errorf("errors.As(FieldError) = %+v", fe)
	}
	golden := filepath.Join("testdata", "config", "many_errors.golden")
	got := err.Error() + "\n"
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("errors differ from %s (-update rewrites it):\n got:\n%s\nwant:\n%s", golden, got, want)
	}
}

func TestProfiles(t *testing.T) {
	for _, tc := range []struct {
		name        string
		wait, renew time.Duration // W of an assignee of the profile, and L/4
	}{
		{"lan", 200 * time.Millisecond, 30 * time.Millisecond},
		{"fast", 65 * time.Millisecond, 10 * time.Millisecond},
		{"wan", 700 * time.Millisecond, 125 * time.Millisecond},
	} {
		p, ok := Profile(tc.name)
		if !ok || p.Profile != tc.name {
			t.Fatalf("Profile(%q) = %+v, %v", tc.name, p, ok)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("profile %s is invalid: %v", tc.name, err)
		}
		if w := p.VIPLease + p.ClaimMargin; w != tc.wait || p.RenewInterval() != tc.renew {
			t.Errorf("%s: L+δ %s RenewInterval %s, want %s %s", tc.name, w, p.RenewInterval(), tc.wait, tc.renew)
		}
	}
	if _, ok := Profile("LAN"); ok {
		t.Error(`Profile("LAN") found`)
	}
	if _, ok := Profile(DefaultProfile); !ok {
		t.Error("DefaultProfile is not a profile")
	}
	bad, _ := Profile("lan")
	bad.ElectionTimeout = 0
	bad.LeaderLease = time.Second
	err := bad.Validate()
	if err == nil || !strings.Contains(err.Error(), "timing: election_timeout: 0s must be greater than 0") ||
		!strings.Contains(err.Error(), "timing: heartbeat_timeout: 300ms is below leader_lease (1s)") {
		t.Errorf("Validate = %v", err)
	}
}

// TestSchemaMatchesTestdata checks knownKeys (used for "belongs under" hints)
// against ipv6.yaml, gossip.yaml and groups.yaml, which between them set every key
// and parse. The keys of list items count under the list's name with [], so its
// checks use every key of every check type.
func TestSchemaMatchesTestdata(t *testing.T) {
	got := map[string][]string{}
	var walk func(path string, m map[string]any)
	walk = func(path string, m map[string]any) {
		for k, v := range m {
			got[path] = append(got[path], k)
			switch sub := v.(type) {
			case map[string]any:
				walk(joinPath(path, k), sub)
			case []any:
				for _, it := range sub {
					if item, ok := it.(map[string]any); ok {
						walk(joinPath(path, k)+"[]", item)
					}
				}
			}
		}
	}
	// ipv6.yaml has every key but bootstrap_expect, which cannot go with peers;
	// gossip.yaml has it.
	// groups.yaml has the keys of groups:, which cannot go with vip:; witness.yaml has
	// node.role.
	for _, file := range []string{"ipv6.yaml", "gossip.yaml", "groups.yaml", "witness.yaml"} {
		b, err := os.ReadFile("testdata/config/" + file)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		walk("", doc)
	}
	want := knownKeys()
	for s := range want {
		want[s] = slices.Clone(want[s])
		sort.Strings(want[s])
	}
	for s := range got {
		sort.Strings(got[s])
		got[s] = slices.Compact(got[s])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("keys of ipv6.yaml and gossip.yaml:\n%v\nconfigSchema:\n%v", got, want)
	}
}

func TestFieldErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		fe   FieldError
		want string
	}{
		{FieldError{"config.yaml", 14, "vip.lifetime", "x"}, "config.yaml:14: vip.lifetime: x"},
		{FieldError{"config.yaml", 0, "node.bind", "missing"}, "config.yaml: node.bind: missing"},
		{FieldError{"", 3, "node", "x"}, "line 3: node: x"},
		{FieldError{"c.yaml", 0, "", "config is empty"}, "c.yaml: config is empty"},
	} {
		if got := tc.fe.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	ce := &Error{Errors: []FieldError{{"a", 1, "x", "one"}, {"a", 2, "y", "two"}}}
	if got := ce.Error(); got != "a:1: x: one\na:2: y: two" {
		t.Errorf("Error = %q", got)
	}
}

func TestConfigClosest(t *testing.T) {
	keys := []string{"heartbeat_timeout", "election_timeout", "leader_lease", "vip_lease", "peers", "interface"}
	for _, tc := range []struct {
		in, want string
	}{
		{"peer", "peers"},
		{"Peers", "peers"},
		{"hearbeat_timeout", "heartbeat_timeout"},
		{"heartbeat-timeout", "heartbeat_timeout"},
		{"heartbeat", "heartbeat_timeout"},
		{"intrface", "interface"},
		{"vip_leas", "vip_lease"},
		{"colour", ""},
		{"x", ""},
	} {
		got, ok := closest(tc.in, keys)
		if !ok {
			got = ""
		}
		if got != tc.want {
			t.Errorf("closest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzParse checks that no input makes Parse panic, and that it returns either a
// config or a *Error whose problems all have a message.
func FuzzParse(f *testing.F) {
	f.Add([]byte(Example()))
	f.Add([]byte(baseConfig))
	for _, name := range []string{"lab.yaml", "ipv6.yaml", "many_errors.yaml"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "config", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("node: &a {name: lb1}\ncluster: *a\nvip: {<<: *a}\n"))
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("node:\n\tname: x\n"))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte(withTiming("{profile: wan, vip_lease: 1h, heartbeat_timeout: 1h, election_timeout: 1h, leader_lease: 1h, rpc_timeout: 1h, claim_margin: 1h}")))
	f.Add([]byte(withCheck("{name: a, type: haproxy, socket: /s, backend: web, min_up: 2, url: x}")))
	f.Add([]byte(after("checks: [{name: a, type: script, command: [x, *a]}, &a {name: a}, ~]\nnotify: {master: a b, script: [x]}")))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseWithHostname(data, "fuzz.yaml", testHostname)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("cfg = %v, err = %v: want exactly one", cfg, err)
		}
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Errors) == 0 {
				t.Fatalf("err = %#v, want a non-empty *Error", err)
			}
			for _, fe := range ce.Errors {
				if fe.Msg == "" || fe.File != "fuzz.yaml" || fe.Line < 0 {
					t.Fatalf("bad FieldError %+v", fe)
				}
			}
			return
		}
		if cfg.Node.Name == "" || !cfg.Node.Bind.IsValid() || len(cfg.Cluster.Peers) == 0 ||
			len(cfg.VIP.Addresses) == 0 || cfg.Priority < 1 || cfg.Priority > 254 ||
			cfg.VIP.Lifetime < time.Second || cfg.Cluster.Timing.Validate() != nil ||
			cfg.PreemptDelay < 0 || cfg.PreemptDelay > MaxPreemptDelay || cfg.MinMoveInterval < 0 ||
			cfg.Notify.Instance == "" || cfg.Notify.Timeout <= 0 ||
			cfg.Cluster.Encrypt != nil && len(cfg.Cluster.Encrypt) != 16 && len(cfg.Cluster.Encrypt) != 24 && len(cfg.Cluster.Encrypt) != 32 {
			t.Fatalf("accepted an invalid config: %+v", cfg)
		}
		names := map[string]bool{}
		for _, c := range cfg.Checks {
			if checkNameProblem(c.Name) != "" || names[c.Name] || c.Interval < MinCheckInterval || c.Timeout <= 0 ||
				c.Fall < 1 || c.Fall > 255 || c.Rise < 1 || c.Rise > 255 || c.Weight < -253 || c.Weight > 253 {
				t.Fatalf("accepted an invalid check: %+v", c)
			}
			names[c.Name] = true
			var ok bool
			switch c.Type {
			case CheckHAProxy:
				ok = c.Socket != "" && (c.Backend == "") == (c.MinUp == 0)
			case CheckHTTP:
				ok = c.URL != "" && c.ExpectStatus >= 100 && c.ExpectStatus <= 599
			case CheckTCP:
				ok = c.Address != ""
			case CheckScript:
				ok = len(c.Command) > 0 && c.Command[0] != ""
			case CheckProcess:
				ok = c.PIDFile != ""
			}
			if !ok {
				t.Fatalf("accepted an invalid check: %+v", c)
			}
		}
	})
}

// TestParseSecurity checks the rule of cluster.insecure with Parse's real default:
// without insecure: true a node needs cluster.tls and cluster.encrypt, and every
// error says how to make what is missing.
func TestParseSecurity(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if _, _, err := pki.WriteCA(dir, 30, now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pki.WriteNodeCert(dir, pki.CertRequest{Name: "lb1", IPs: []netip.Addr{netip.MustParseAddr("198.18.0.11")}, Days: 30}, now); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if _, _, err := pki.WriteCA(other, 30, now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pki.WriteNodeCert(other, pki.CertRequest{Name: "lb1", Days: 30}, now); err != nil {
		t.Fatal(err)
	}
	key, _ := GenerateKey()
	tlsOf := func(d string) string {
		return fmt.Sprintf("  tls: {ca_file: %s/ca.pem, cert_file: %s/lb1.pem, key_file: %s/lb1-key.pem}", d, d, d)
	}
	cluster := func(lines ...string) string { return edit(4, "cluster:\n"+strings.Join(lines, "\n")) }
	type want struct {
		field string
		line  int
		msg   string
	}
	for _, tc := range []struct {
		name string
		src  string
		errs []want
	}{
		{"nothing", baseConfig, []want{
			{"cluster.tls", 4, "missing; the Raft port needs mutual TLS: make the cluster's CA once with raftvip tls ca --dir /etc/raftvip/tls, this node's certificate with raftvip tls cert lb1 --ip 198.18.0.11 --dir /etc/raftvip/tls, and set cluster.tls: {ca_file: /etc/raftvip/tls/ca.pem, cert_file: /etc/raftvip/tls/lb1.pem, key_file: /etc/raftvip/tls/lb1-key.pem}; or, in a lab only, set cluster.insecure: true"},
			{"cluster.encrypt", 4, "missing; gossip must be encrypted: make a key once with raftvip keygen and set cluster.encrypt to it on every node; or, in a lab only, set cluster.insecure: true"},
		}},
		{"insecure", cluster("  insecure: true"), nil},
		{"insecure false", cluster("  insecure: false", "  encrypt: "+key), []want{{"cluster.tls", 4, "missing; the Raft port needs mutual TLS"}}},
		{"tls and encrypt", cluster(tlsOf(dir), "  encrypt: "+key), nil},
		{"tls only", cluster(tlsOf(dir)), []want{{"cluster.encrypt", 4, "raftvip keygen"}}},
		{"tls only, insecure", cluster(tlsOf(dir), "  insecure: true"), nil},
		{"tls of another CA's cert", cluster(fmt.Sprintf("  tls: {ca_file: %s/ca.pem, cert_file: %s/lb1.pem, key_file: %s/lb1-key.pem}", dir, other, other), "  encrypt: "+key),
			[]want{{"cluster.tls.cert_file", 5, "is not signed by ca_file"}}},
		{"tls files are checked when insecure too", cluster(fmt.Sprintf("  tls: {ca_file: %s/nope.pem, cert_file: %s/lb1.pem, key_file: %s/lb1-key.pem}", dir, dir, dir), "  insecure: true"),
			[]want{{"cluster.tls.ca_file", 5, "nope.pem does not exist"}}},
		{"tls without key_file", cluster(fmt.Sprintf("  tls: {ca_file: %s/ca.pem, cert_file: %s/lb1.pem}", dir, dir), "  encrypt: "+key),
			[]want{{"cluster.tls.key_file", 5, "missing; cluster.tls needs ca_file, cert_file and key_file"}}},
		{"tls empty", cluster("  tls: {}", "  encrypt: "+key), []want{{"cluster.tls", 5, "is empty"}}},
		{"tls file empty", cluster("  tls: {ca_file: '', cert_file: a, key_file: b}", "  insecure: true"), []want{{"cluster.tls.ca_file", 5, "is empty"}}},
		{"tls misspelt", cluster("  tsl: {}", "  encrypt: "+key), []want{{"cluster.tsl", 5, `did you mean "tls"?`}}},
		{"tls key misspelt", cluster(fmt.Sprintf("  tls: {ca: %s/ca.pem}", dir), "  insecure: true"), []want{{"cluster.tls.ca", 5, `did you mean "ca_file"?`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseWithHostname([]byte(tc.src), "config.yaml", testHostname)
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Cluster.Insecure != strings.Contains(tc.src, "insecure: true") {
					t.Errorf("Insecure = %v", cfg.Cluster.Insecure)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *Error", err)
			}
			if len(ce.Errors) != len(tc.errs) {
				t.Errorf("%d errors, want %d:\n%v", len(ce.Errors), len(tc.errs), err)
			}
			for _, w := range tc.errs {
				if !slices.ContainsFunc(ce.Errors, func(fe FieldError) bool {
					return fe.Field == w.field && fe.Line == w.line && strings.Contains(fe.Msg, w.msg)
				}) {
					t.Errorf("no error at line %d for %s containing %q; got:\n%v", w.line, w.field, w.msg, err)
				}
			}
		})
	}

	// Relative file names are taken from the config file's directory.
	src := cluster("  tls: {ca_file: ca.pem, cert_file: lb1.pem, key_file: ./lb1-key.pem}", "  encrypt: "+key)
	file := filepath.Join(dir, "raftvip.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := (TLSConfig{filepath.Join(dir, "ca.pem"), filepath.Join(dir, "lb1.pem"), filepath.Join(dir, "lb1-key.pem")}); cfg.Cluster.TLS != want {
		t.Errorf("TLS = %+v, want %+v", cfg.Cluster.TLS, want)
	}
}
