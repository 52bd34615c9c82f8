package keepalived

import (
	"errors"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster/config"
	"go.yaml.in/yaml/v3"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/keepalived")

func TestParse(t *testing.T) {
	type stmt struct {
		line  int
		words string // words joined with |
		block []stmt
	}
	var flatten func([]*Statement) []stmt
	flatten = func(ss []*Statement) []stmt {
		var out []stmt
		for _, s := range ss {
			st := stmt{line: s.Line, words: strings.Join(s.Words, "|")}
			if s.BlockLine != 0 {
				st.block = flatten(s.Block)
				if st.block == nil {
					st.block = []stmt{}
				}
			}
			out = append(out, st)
		}
		return out
	}
	for _, c := range []struct {
		name string
		src  string
		want []stmt
	}{
		{"comments", "# a comment\n! another\npriority 100 # trailing\nadvert_int 1!x\n",
			[]stmt{{3, "priority|100", nil}, {4, "advert_int|1", nil}}},
		{"escaped comment characters", `auth_pass a\#b\!c` + "\n", []stmt{{1, "auth_pass|a#b!c", nil}}},
		{"comment characters in quotes", `script "echo '#1' !x"` + "\n", []stmt{{1, "script|echo '#1' !x", nil}}},
		{"block on the next line", "vrrp_instance VI_1\n{\n  state BACKUP\n}\n",
			[]stmt{{1, "vrrp_instance|VI_1", []stmt{{3, "state|BACKUP", nil}}}}},
		{"one-line block", "virtual_ipaddress { 198.18.0.10/24 198.18.0.11 }\n",
			[]stmt{{1, "virtual_ipaddress", []stmt{{1, "198.18.0.10/24|198.18.0.11", nil}}}}},
		{"brace attached to a word", "vrrp_instance VI_1{\nstate MASTER}\n",
			[]stmt{{1, "vrrp_instance|VI_1", []stmt{{2, "state|MASTER", nil}}}}},
		{"empty block", "unicast_peer {\n}\n", []stmt{{1, "unicast_peer", []stmt{}}}},
		{"braces in quotes", `notify "/bin/sh -c '{ x; }'"` + "\n", []stmt{{1, `notify|/bin/sh -c '{ x; }'`, nil}}},
		{"continuation", "virtual_router_id \\\n 51\npriority 1\n", []stmt{{1, "virtual_router_id|51", nil}, {3, "priority|1", nil}}},
		{"CRLF and tabs", "global_defs {\r\n\trouter_id\tLB1\r\n}\r\n", []stmt{{1, "global_defs", []stmt{{2, "router_id|LB1", nil}}}}},
		{"quote splits a word", `a"b c"d` + "\n", []stmt{{1, "a|b c|d", nil}}},
		{"nested", "a {\n b {\n  c\n }\n d\n}\n",
			[]stmt{{1, "a", []stmt{{2, "b", []stmt{{3, "c", nil}}}, {5, "d", nil}}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			conf, err := Parse(c.src)
			if err != nil {
				t.Fatal(err)
			}
			if got := flatten(conf.Statements); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestParseKeepalivedErrors(t *testing.T) {
	for _, c := range []struct {
		name, src string
		line      int
		msg       string
	}{
		{"unclosed block", "vrrp_instance VI_1 {\n  state BACKUP\n  virtual_ipaddress {\n    1.2.3.4\n  }\n", 1, "never closed"},
		{"unclosed inner block", "a {\n b {\n}\n", 1, "never closed"},
		{"extra closing brace", "a {\n}\n}\n", 3, "no block open"},
		{"brace without keyword", "{\n}\n", 1, "no keyword before it"},
		{"second block", "a {\n} {\n}\n", 2, "no keyword before it"},
		{"unterminated quote", "a\nscript \"killall -0 haproxy\n", 2, "not closed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.src)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err %v, want a SyntaxError", err)
			}
			if se.Line != c.line || !strings.Contains(se.Msg, c.msg) {
				t.Errorf("line %d %q, want line %d with %q", se.Line, se.Msg, c.line, c.msg)
			}
		})
	}
}

func TestKeepalivedQuotedSplit(t *testing.T) {
	for _, c := range []struct {
		in      string
		escapes bool
		want    []string
	}{
		{`script "killall -0 haproxy"`, false, []string{"script", "killall -0 haproxy"}},
		{`notify_master "/etc/ka/notify.sh master" root`, false, []string{"notify_master", "/etc/ka/notify.sh master", "root"}},
		{`/bin/sh -c 'kill -0 $(cat /run/haproxy.pid)'`, true, []string{"/bin/sh", "-c", "kill -0 $(cat /run/haproxy.pid)"}},
		{`a\ b "c d"e 'f"g'`, true, []string{"a b", "c de", `f"g`}},
		{`x\ty \x41\101`, true, []string{"x\ty", "AA"}},
		{`keep \t as is`, false, []string{"keep", `\t`, "as", "is"}},
		{`''`, true, []string{""}},
	} {
		got, err := quotedSplit(c.in, c.escapes)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("quotedSplit(%q, %v) = %q, %v; want %q", c.in, c.escapes, got, err, c.want)
		}
	}
	for _, bad := range []string{`"open`, `it's`, `end\`} {
		if got, err := quotedSplit(bad, true); err == nil {
			t.Errorf("quotedSplit(%q) = %q, want an error", bad, got)
		}
	}
}

// readKA reads a keepalived.conf from testdata/keepalived.
func readKA(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "keepalived", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// compareGolden compares got with the golden file name in testdata/keepalived, which
// -update rewrites instead.
func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	if *updateGolden {
		if err := os.WriteFile(filepath.Join("testdata", "keepalived", name), []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want := readKA(t, name); got != want {
		t.Errorf("the conversion differs from %s (-update rewrites it):\n got:\n%s\nwant:\n%s", name, got, want)
	}
}

// convertAndLoad converts src, writes the YAML to a file and loads it with Load.
func convertAndLoad(t *testing.T, src string, opts Options) (*Conversion, *config.Config) {
	t.Helper()
	return convertFileAndLoad(t, "keepalived.conf", src, opts)
}

// convertFileAndLoad is convertAndLoad of the file name with contents src.
func convertFileAndLoad(t *testing.T, name, src string, opts Options) (*Conversion, *config.Config) {
	t.Helper()
	res, err := Convert(src, name, opts)
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	path := filepath.Join(t.TempDir(), "raftvip.yaml")
	if err := os.WriteFile(path, []byte(res.YAML), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the converted config does not load: %v\n%s", err, res.YAML)
	}
	return res, cfg
}

// hasItem reports whether items has one on line whose option starts with option.
func hasItem(items []Item, line int, option string) bool {
	return slices.ContainsFunc(items, func(it Item) bool {
		return it.Line == line && strings.HasPrefix(it.Option, option) && it.Why != ""
	})
}

// The typical HAProxy pair: lb2's file converted with every flag loads, and each
// option maps where it should.
func TestConvertKeepalivedHAProxyPair(t *testing.T) {
	src := readKA(t, "haproxy_pair.conf")
	opts := Options{Name: "lb2", Peers: []string{"lb1=198.18.0.11", "lb3=198.18.0.13:7300"}, Insecure: true}
	res, cfg := convertAndLoad(t, src, opts)

	if res.Instance != "VI_1" || len(res.Placeholders) != 0 {
		t.Errorf("instance %q, placeholders %q", res.Instance, res.Placeholders)
	}
	if cfg.Node.Name != "lb2" || cfg.Node.Bind != netip.MustParseAddr("198.18.0.12") {
		t.Errorf("node %+v, want lb2 bound to unicast_src_ip 198.18.0.12", cfg.Node)
	}
	wantPeers := []config.Peer{
		{Name: "lb2", Addr: netip.MustParseAddrPort("198.18.0.12:7300")},
		{Name: "lb1", Addr: netip.MustParseAddrPort("198.18.0.11:7300")},
		{Name: "lb3", Addr: netip.MustParseAddrPort("198.18.0.13:7300")},
	}
	if !slices.Equal(cfg.Cluster.Peers, wantPeers) {
		t.Errorf("peers %v, want %v", cfg.Cluster.Peers, wantPeers)
	}
	if cfg.VIP.Interface != "eth0" || !slices.Equal(cfg.VIP.Addresses, []netip.Prefix{netip.MustParsePrefix("198.18.0.10/24")}) {
		t.Errorf("vip %s %v", cfg.VIP.Interface, cfg.VIP.Addresses)
	}
	if cfg.Priority != 100 || !cfg.Preempt || cfg.PreemptDelay != 0 {
		t.Errorf("priority %d preempt %v delay %v", cfg.Priority, cfg.Preempt, cfg.PreemptDelay)
	}
	wantCheck := config.CheckConfig{Name: "chk_haproxy", Type: config.CheckScript, Interval: 2 * time.Second, Timeout: 2 * time.Second,
		Fall: 2, Rise: 2, Weight: -20, Command: []string{"killall", "-0", "haproxy"}}
	if len(cfg.Checks) != 1 || !checkEqual(cfg.Checks[0], wantCheck) {
		t.Errorf("checks %+v, want %+v", cfg.Checks, wantCheck)
	}
	if !slices.Equal(cfg.Notify.Master, []string{"/etc/keepalived/notify.sh", "master"}) ||
		!slices.Equal(cfg.Notify.Backup, []string{"/etc/keepalived/notify.sh", "backup"}) ||
		!slices.Equal(cfg.Notify.Fault, []string{"/etc/keepalived/notify.sh", "fault"}) || cfg.Notify.Script != nil {
		t.Errorf("notify %+v", cfg.Notify)
	}
	wantVRRP := config.VRRPConfig{Enabled: true, Version: 2, VRID: 51, Interval: time.Second, AuthPass: "s3cret",
		UnicastPeers: []netip.Addr{netip.MustParseAddr("198.18.0.11")}, UnicastSrc: netip.MustParseAddr("198.18.0.12"), Interface: "eth0"}
	if !vrrpEqual(cfg.VRRP, wantVRRP) {
		t.Errorf("vrrp %+v, want %+v", cfg.VRRP, wantVRRP)
	}
	for _, u := range []struct {
		line   int
		option string
	}{
		{3, "notification_email"}, {6, "notification_email_from"}, {7, "smtp_server"}, {8, "smtp_connect_timeout"},
		{9, "router_id"}, {10, "enable_script_security"}, {11, "script_user"}, {38, "198.18.0.10/24 label eth0:1"},
		{46, "garp_master_delay 10"}, {47, "smtp_alert"},
	} {
		if !hasItem(res.Unsupported, u.line, u.option) {
			t.Errorf("no unsupported item for line %d %s: %v", u.line, u.option, res.Unsupported)
		}
	}
	if len(res.Unsupported) != 10 {
		t.Errorf("%d unsupported items, want 10: %v", len(res.Unsupported), res.Unsupported)
	}
	text := strings.Join(strings.Fields(strings.ReplaceAll(res.YAML, "#", " ")), " ")
	for _, want := range []string{"Not converted", "line 46: garp_master_delay 10: not needed", "state BACKUP (line 24)",
		"A check of type haproxy asks HAProxy itself on its stats socket: convert with --haproxy-socket"} {
		if !strings.Contains(text, want) {
			t.Errorf("the YAML lacks %q", want)
		}
	}

	// --haproxy-socket turns killall -0 haproxy into a haproxy check.
	opts.HAProxySocket = "/run/haproxy/admin.sock"
	_, cfg = convertAndLoad(t, src, opts)
	if c := cfg.Checks[0]; c.Type != config.CheckHAProxy || c.Socket != "/run/haproxy/admin.sock" || c.Weight != -20 || c.Fall != 2 {
		t.Errorf("with --haproxy-socket: %+v", c)
	}
}

func checkEqual(a, b config.CheckConfig) bool { return reflect.DeepEqual(a, b) }

func vrrpEqual(a, b config.VRRPConfig) bool { return reflect.DeepEqual(a, b) }

// Without --name and --bind the output has placeholders, which Load rejects by
// field; the rest of it is what a full conversion gives.
func TestConvertKeepalivedPlaceholders(t *testing.T) {
	src := strings.Replace(readKA(t, "haproxy_pair.conf"), "unicast_src_ip 198.18.0.12", "", 1)
	res, err := Convert(src, "keepalived.conf", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Placeholders) < 2 || !strings.Contains(res.Placeholders[0], "--name") || !strings.Contains(res.Placeholders[1], "--bind") {
		t.Errorf("placeholders %q", res.Placeholders)
	}
	for _, want := range []string{`name: "<node-name>"`, `bind: "<node-address>"`, `"<node-name>=<node-address>:7300"`, "FILL IN", "# Fill in before use:"} {
		if !strings.Contains(res.YAML, want) {
			t.Errorf("the YAML lacks %q:\n%s", want, res.YAML)
		}
	}
	_, err = config.Parse([]byte(res.YAML), "raftvip.yaml")
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("Parse of a config with placeholders: %v, want a config.Error", err)
	}
	for _, fe := range ce.Errors {
		if !strings.HasPrefix(fe.Field, "node.name") && !strings.HasPrefix(fe.Field, "node.bind") && !strings.HasPrefix(fe.Field, "cluster.") {
			t.Errorf("an error besides the placeholders: %v", fe)
		}
	}
}

// One instance of several (--instance), each with its own mappings.
func TestConvertKeepalivedMulti(t *testing.T) {
	src := readKA(t, "multi.conf")
	// Without --instance both become groups of one together set, which cannot have
	// two preempt policies.
	_, err := Convert(src, "multi.conf", Options{})
	if err == nil || !strings.Contains(err.Error(), "multi.conf:32: vrrp_sync_group: vrrp_instance VI_INTERNAL has nopreempt and vrrp_instance VI_PUBLIC preempt_delay 5") {
		t.Errorf("several instances in a sync group with two preempt policies: %v", err)
	}
	_, err = Convert(src, "multi.conf", Options{Instance: "VI_3"})
	if err == nil || !strings.Contains(err.Error(), "no vrrp_instance VI_3") {
		t.Errorf("--instance VI_3: %v", err)
	}

	res, cfg := convertAndLoad(t, src, Options{Instance: "VI_PUBLIC", Name: "lb1", Bind: "203.0.113.2", Insecure: true})
	if cfg.Priority != 254 || !cfg.Preempt || cfg.PreemptDelay != 5*time.Second {
		t.Errorf("priority %d preempt %v delay %v; want 254 (state MASTER without priority), true, 5s", cfg.Priority, cfg.Preempt, cfg.PreemptDelay)
	}
	wantVIPs := []netip.Prefix{netip.MustParsePrefix("203.0.113.10/24"), netip.MustParsePrefix("203.0.113.11/32")}
	if !slices.Equal(cfg.VIP.Addresses, wantVIPs) {
		t.Errorf("VIPs %v, want %v", cfg.VIP.Addresses, wantVIPs)
	}
	if cfg.VIP.GARP.Repeat != 3 || cfg.VIP.GARP.Refresh != 30*time.Second {
		t.Errorf("garp %+v, want repeat 3 (garp_master_repeat), refresh 30s (the instance's over the global 60)", cfg.VIP.GARP)
	}
	if cfg.VRRP.Version != 3 || cfg.VRRP.Interval != 500*time.Millisecond || cfg.VRRP.VRID != 10 || len(cfg.VRRP.UnicastPeers) != 0 {
		t.Errorf("vrrp %+v, want v3 (global vrrp_version), 500ms, vrid 10, multicast", cfg.VRRP)
	}
	want := []config.CheckConfig{
		{Name: "chk_web", Type: config.CheckHTTP, Interval: 3 * time.Second, Timeout: 2 * time.Second, Fall: 3, Rise: 2, Weight: 0,
			URL: "http://127.0.0.1:8080/health", ExpectStatus: 200},
		{Name: "chk_port", Type: config.CheckTCP, Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1, Weight: -40, Address: "127.0.0.1:443"},
	}
	if len(cfg.Checks) != 2 || !checkEqual(cfg.Checks[0], want[0]) || !checkEqual(cfg.Checks[1], want[1]) {
		t.Errorf("checks\n%+v\nwant\n%+v", cfg.Checks, want)
	}
	if !slices.Equal(cfg.Notify.Script, []string{"/usr/local/bin/notify-all", "--from", "keepalived"}) || cfg.Notify.Instance != "VI_PUBLIC" {
		t.Errorf("notify %+v", cfg.Notify)
	}
	for _, u := range []struct {
		line   int
		option string
	}{
		{4, "router_id"}, {7, "vrrp_notify_fifo"}, {25, "vrrp_script unused"}, {29, "vrrp_sync_group G1"},
		{46, "virtual_ipaddress_excluded"}, {53, "track_interface"}, {61, "vrrp_instance VI_INTERNAL"}, {74, "virtual_server"},
	} {
		if !hasItem(res.Unsupported, u.line, u.option) {
			t.Errorf("no unsupported item for line %d %s: %v", u.line, u.option, res.Unsupported)
		}
	}
	for _, n := range []struct {
		line   int
		option string
	}{{29, "vrrp_sync_group"}, {37, "state MASTER"}, {44, "203.0.113.11"}, {10, "vrrp_script chk_web"}, {19, "vrrp_script chk_port"}} {
		if !hasItem(res.Notes, n.line, n.option) {
			t.Errorf("no note for line %d %s: %v", n.line, n.option, res.Notes)
		}
	}

	res, cfg = convertAndLoad(t, src, Options{Instance: "VI_INTERNAL", Name: "lb1", Bind: "2001:db8:10::2", Insecure: true})
	if cfg.VRRP.Version != 3 || cfg.Preempt || cfg.Priority != 90 || cfg.VIP.Interface != "eth1" || len(cfg.Checks) != 0 {
		t.Errorf("VI_INTERNAL: %+v", cfg)
	}
	if !hasItem(res.Notes, 67, "version 2") || !hasItem(res.Unsupported, 71, "use_vmac") {
		t.Errorf("VI_INTERNAL: notes %v, unsupported %v", res.Notes, res.Unsupported)
	}
}

// groupOf is the group of cfg named name.
func groupOf(t *testing.T, cfg *config.Config, name string) config.GroupConfig {
	t.Helper()
	for _, g := range cfg.Groups {
		if g.Name == name {
			return g
		}
	}
	t.Fatalf("no group %s in %+v", name, cfg.Groups)
	return config.GroupConfig{}
}

// Several instances, one change per case: each instance becomes a group of groups:,
// unless --instance picks one.
func TestConvertKeepalivedGroups(t *testing.T) {
	const base = `vrrp_script chk_web {
    script "/usr/local/bin/check-web"
    weight -20
}
#top
vrrp_instance VI_WEB {
    state MASTER
    interface eth0
    virtual_router_id 81
    priority 110
    virtual_ipaddress {
        192.0.2.81/24
    }
    track_script {
        chk_web
    }
#web
}
vrrp_instance VI_DB {
    interface eth1
    virtual_router_id 82
    priority 90
    virtual_ipaddress {
        192.0.2.82/24
    }
#db
}
`
	opts := Options{Name: "n1", Bind: "192.0.2.2", Insecure: true}
	for _, c := range []struct {
		name    string
		repl    []string // old, new pairs applied to base
		opts    *Options // nil: opts
		check   func(t *testing.T, cfg *config.Config, res *Conversion)
		wantErr []string // the conversion fails with these
	}{
		{name: "two instances, two groups", check: func(t *testing.T, cfg *config.Config, res *Conversion) {
			if !cfg.GroupsSection || len(cfg.Groups) != 2 || res.Instance != "" ||
				!slices.Equal(res.Instances, []string{"VI_WEB", "VI_DB"}) || !slices.Equal(res.Groups, []string{"VI_WEB", "VI_DB"}) {
				t.Fatalf("groups %+v, conversion %q %q %q", cfg.Groups, res.Instance, res.Instances, res.Groups)
			}
			web, db := cfg.Groups[0], cfg.Groups[1]
			if web.Name != "VI_WEB" || web.Interface != "eth0" || !slices.Equal(web.Addresses, []netip.Prefix{netip.MustParsePrefix("192.0.2.81/24")}) ||
				web.Priority != 110 || !web.Preempt || web.VRRP.VRID != 81 || !web.VRRP.Enabled || web.Together != "" {
				t.Errorf("VI_WEB %+v", web)
			}
			if db.Name != "VI_DB" || db.Interface != "eth1" || db.Priority != 90 || !db.Preempt || db.VRRP.VRID != 82 || db.VRRP.Version != 2 || db.VRRP.Interval != time.Second {
				t.Errorf("VI_DB %+v", db)
			}
			if cfg.Notify.Instance != config.DefaultNotifyInstance {
				t.Errorf("notify.instance %q is set; the groups form tells the script each group's name", cfg.Notify.Instance)
			}
		}},
		{name: "a script tracked by one instance", check: func(t *testing.T, cfg *config.Config, res *Conversion) {
			web, db := groupOf(t, cfg, "VI_WEB"), groupOf(t, cfg, "VI_DB")
			if len(cfg.Checks) != 1 || !slices.Equal(web.Track, []string{"chk_web"}) || db.Track == nil || len(db.Track) != 0 || db.Tracks("chk_web") {
				t.Errorf("checks %+v, VI_WEB tracks %q, VI_DB %#v", cfg.Checks, web.Track, db.Track)
			}
		}},
		{name: "a script tracked by both", repl: []string{"#db", "track_script {\nchk_web\n}"}, check: func(t *testing.T, cfg *config.Config, res *Conversion) {
			if len(cfg.Checks) != 1 || !groupOf(t, cfg, "VI_WEB").Tracks("chk_web") || !slices.Equal(groupOf(t, cfg, "VI_DB").Track, []string{"chk_web"}) {
				t.Errorf("checks %+v, groups %+v", cfg.Checks, cfg.Groups)
			}
		}},
		{name: "a script tracked with two weights", repl: []string{"#db", "track_script {\nchk_web weight -40\n}"}, check: func(t *testing.T, cfg *config.Config, res *Conversion) {
			if len(cfg.Checks) != 2 || cfg.Checks[0].Weight != -20 || cfg.Checks[1].Name != "chk_web-2" || cfg.Checks[1].Weight != -40 ||
				!slices.Equal(groupOf(t, cfg, "VI_DB").Track, []string{"chk_web-2"}) || !slices.Equal(groupOf(t, cfg, "VI_WEB").Track, []string{"chk_web"}) {
				t.Errorf("checks %+v, groups %+v", cfg.Checks, cfg.Groups)
			}
			if !hasItem(res.Notes, 27, "chk_web weight -40") {
				t.Errorf("notes %v", res.Notes)
			}
		}},
		{name: "sync group", repl: []string{"#top", "vrrp_sync_group PAIR {\ngroup {\nVI_WEB\nVI_DB\n}\nnotify_master /usr/local/bin/pair-up\nsmtp_alert\n}"},
			check: func(t *testing.T, cfg *config.Config, res *Conversion) {
				if groupOf(t, cfg, "VI_WEB").Together != "PAIR" || groupOf(t, cfg, "VI_DB").Together != "PAIR" {
					t.Errorf("groups %+v, want both together in PAIR", cfg.Groups)
				}
				if cfg.Notify.Master != nil || !hasItem(res.Unsupported, 10, "notify_master") || !hasItem(res.Unsupported, 11, "smtp_alert") {
					t.Errorf("notify %+v, unsupported %v", cfg.Notify, res.Unsupported)
				}
				if slices.ContainsFunc(res.Notes, func(it Item) bool { return strings.Contains(it.Why, "do not move") }) ||
					slices.ContainsFunc(res.Unsupported, func(it Item) bool { return it.Line == 5 }) {
					t.Errorf("the sync group is listed as not converted: notes %v, unsupported %v", res.Notes, res.Unsupported)
				}
			}},
		{name: "sync group with a name raftvip rejects", repl: []string{"#top", "vrrp_sync_group front+back {\ngroup {\nVI_WEB VI_DB\n}\n}"},
			check: func(t *testing.T, cfg *config.Config, res *Conversion) {
				if groupOf(t, cfg, "VI_WEB").Together != "front_back" || groupOf(t, cfg, "VI_DB").Together != "front_back" || !hasItem(res.Notes, 5, "vrrp_sync_group front+back") {
					t.Errorf("groups %+v, notes %v", cfg.Groups, res.Notes)
				}
			}},
		{name: "sync group of one instance", repl: []string{"#top", "vrrp_sync_group ONE {\ngroup {\nVI_WEB\nVI_GONE\n}\n}"},
			check: func(t *testing.T, cfg *config.Config, res *Conversion) {
				if groupOf(t, cfg, "VI_WEB").Together != "" || !hasItem(res.Notes, 5, "vrrp_sync_group ONE") || !hasItem(res.Unsupported, 8, "VI_GONE") {
					t.Errorf("groups %+v, notes %v, unsupported %v", cfg.Groups, res.Notes, res.Unsupported)
				}
			}},
		{name: "sync group with two preempt policies", repl: []string{"#top", "vrrp_sync_group PAIR {\ngroup {\nVI_WEB\nVI_DB\n}\n}", "#db", "nopreempt"},
			wantErr: []string{"k.conf:8: vrrp_sync_group: vrrp_instance VI_DB has nopreempt and vrrp_instance VI_WEB preempt_delay 0"}},
		{name: "an instance name raftvip rejects", repl: []string{"VI_DB", "db/primary:5432"}, check: func(t *testing.T, cfg *config.Config, res *Conversion) {
			if cfg.Groups[1].Name != "db_primary_5432" || !slices.Equal(res.Groups, []string{"VI_WEB", "db_primary_5432"}) ||
				!hasItem(res.Notes, 19, "vrrp_instance db/primary:5432") {
				t.Errorf("groups %q, notes %v", res.Groups, res.Notes)
			}
		}},
		{name: "an instance name too long", repl: []string{"VI_DB", "VI_DATABASE_PRIMARY_IN_THE_WEST_WING"}, check: func(t *testing.T, cfg *config.Config, res *Conversion) {
			if cfg.Groups[1].Name != "VI_DATABASE_PRIMARY_IN_THE_WEST_" {
				t.Errorf("group %q", cfg.Groups[1].Name)
			}
		}},
		{name: "--instance picks one", opts: &Options{Instance: "VI_DB", Name: "n1", Bind: "192.0.2.2", Insecure: true},
			check: func(t *testing.T, cfg *config.Config, res *Conversion) {
				if cfg.GroupsSection || res.Instance != "VI_DB" || res.Groups != nil || cfg.VIP.Interface != "eth1" || cfg.Priority != 90 || cfg.VRRP.VRID != 82 || len(cfg.Checks) != 0 {
					t.Errorf("config %+v, conversion %q %q", cfg, res.Instance, res.Groups)
				}
				if !hasItem(res.Unsupported, 6, "vrrp_instance VI_WEB") || !hasItem(res.Unsupported, 1, "vrrp_script chk_web") {
					t.Errorf("unsupported %v", res.Unsupported)
				}
			}},
		{name: "notify hooks", repl: []string{"#web", "notify_master \"/usr/local/bin/up web\"\nnotify /usr/local/bin/notify", "#db", "notify_master \"/usr/local/bin/up db\""},
			check: func(t *testing.T, cfg *config.Config, res *Conversion) {
				if !slices.Equal(cfg.Notify.Master, []string{"/usr/local/bin/up", "web"}) || !slices.Equal(cfg.Notify.Script, []string{"/usr/local/bin/notify"}) ||
					cfg.Notify.Instance != config.DefaultNotifyInstance {
					t.Errorf("notify %+v", cfg.Notify)
				}
				if !hasItem(res.Unsupported, 27, "notify_master") || !hasItem(res.Notes, 18, "notify") || hasItem(res.Notes, 17, "notify_master") {
					t.Errorf("unsupported %v, notes %v", res.Unsupported, res.Notes)
				}
			}},
		{name: "a second instance of a name", repl: []string{"#db", "}\nvrrp_instance VI_WEB {\ninterface eth0\nvirtual_router_id 83\nvirtual_ipaddress {\n192.0.2.83/24\n}"},
			check: func(t *testing.T, cfg *config.Config, res *Conversion) {
				if len(cfg.Groups) != 2 || !hasItem(res.Unsupported, 27, "vrrp_instance VI_WEB") {
					t.Errorf("groups %+v, unsupported %v", cfg.Groups, res.Unsupported)
				}
			}},
		{name: "a VIP in two instances", repl: []string{"192.0.2.82/24", "192.0.2.81/24"},
			wantErr: []string{"k.conf:24: raftvip groups[1].addresses[0]: 192.0.2.81 is in group VI_WEB too"}},
		{name: "a VRID twice on one interface", repl: []string{"interface eth1", "interface eth0", "virtual_router_id 82", "virtual_router_id 81"},
			wantErr: []string{"k.conf:21: raftvip groups[1].vrrp.vrid: 81 is the VRID of group VI_WEB too"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := base
			if c.repl != nil {
				src = strings.NewReplacer(c.repl...).Replace(base)
			}
			o := opts
			if c.opts != nil {
				o = *c.opts
			}
			if c.wantErr != nil {
				res, err := Convert(src, "k.conf", o)
				if err == nil {
					t.Fatalf("no error; YAML:\n%s", res.YAML)
				}
				for _, w := range c.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
				return
			}
			res, cfg := convertAndLoad(t, src, o)
			c.check(t, cfg, res)
		})
	}
}

// The active-active pair: each node MASTER of one of two instances, priorities
// swapped. Each node's file converts without --instance, the two configs agree on
// every group's identity and differ in the priorities, and the output is as in the
// golden files (go test -run ActiveActive -update rewrites them).
func TestConvertKeepalivedActiveActive(t *testing.T) {
	nodes := []struct {
		name, peer string
		prio       map[string]int
	}{
		{"lb1", "lb2=198.18.0.12", map[string]int{"VI_WEB": 150, "VI_API": 100}},
		{"lb2", "lb1=198.18.0.11", map[string]int{"VI_WEB": 100, "VI_API": 150}},
	}
	var cfgs []*config.Config
	for _, n := range nodes {
		file := "active_active_" + n.name + ".conf"
		res, cfg := convertFileAndLoad(t, file, readKA(t, file), Options{Name: n.name, Peers: []string{n.peer}, Insecure: true})
		cfgs = append(cfgs, cfg)
		if !cfg.GroupsSection || len(cfg.Groups) != 2 || cfg.Notify.Instance != config.DefaultNotifyInstance {
			t.Fatalf("%s: groups %+v, notify %+v", n.name, cfg.Groups, cfg.Notify)
		}
		for _, g := range cfg.Groups {
			if g.Priority != n.prio[g.Name] || !slices.Equal(g.Track, []string{"chk_haproxy"}) || !g.VRRP.Enabled || g.VRRP.AuthPass == "" {
				t.Errorf("%s: group %s priority %d tracks %q, want priority %d and chk_haproxy", n.name, g.Name, g.Priority, g.Track, n.prio[g.Name])
			}
		}
		if cfg.Node.Bind != cfg.Groups[0].VRRP.UnicastSrc || len(cfg.Checks) != 1 {
			t.Errorf("%s: bind %s, checks %+v", n.name, cfg.Node.Bind, cfg.Checks)
		}

		compareGolden(t, "active_active_"+n.name+".yaml", res.YAML)
	}
	for i := range cfgs[0].Groups {
		a, b := cfgs[0].Groups[i], cfgs[1].Groups[i]
		if config.IdentityDigest(a) != config.IdentityDigest(b) || !reflect.DeepEqual(a.Identity(), b.Identity()) {
			t.Errorf("group %s: the nodes' identities differ in %v", a.Name, config.IdentityDiff(a, b))
		}
	}
}

// A small instance with one option changed per case: how it converts.
func TestConvertKeepalivedOptions(t *testing.T) {
	const base = `vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 7
    virtual_ipaddress {
        192.0.2.10/24
    }
%s}
`
	opts := Options{Name: "n1", Bind: "192.0.2.2", Insecure: true}
	for _, c := range []struct {
		name  string
		extra string
		check func(t *testing.T, cfg *config.Config, res *Conversion)
	}{
		{"defaults", "", func(t *testing.T, cfg *config.Config, res *Conversion) {
			if cfg.Priority != 100 || !cfg.Preempt || cfg.VRRP.Version != 2 || cfg.VRRP.Interval != time.Second || cfg.VRRP.AuthPass != "" {
				t.Errorf("%+v", cfg)
			}
		}},
		{"nopreempt", "nopreempt\npreempt_delay 30\n", func(t *testing.T, cfg *config.Config, res *Conversion) {
			if cfg.Preempt || cfg.PreemptDelay != 30*time.Second || !hasItem(res.Notes, 8, "preempt_delay") {
				t.Errorf("preempt %v %v, notes %v", cfg.Preempt, cfg.PreemptDelay, res.Notes)
			}
		}},
		{"priority 255", "priority 255\n", func(t *testing.T, cfg *config.Config, res *Conversion) {
			if cfg.Priority != 254 || !hasItem(res.Notes, 7, "priority 255") {
				t.Errorf("priority %d, notes %v", cfg.Priority, res.Notes)
			}
		}},
		{"v2 fractional advert_int", "advert_int 1.6\n", func(t *testing.T, cfg *config.Config, res *Conversion) {
			if cfg.VRRP.Interval != 2*time.Second || !hasItem(res.Notes, 7, "advert_int") {
				t.Errorf("interval %v, notes %v", cfg.VRRP.Interval, res.Notes)
			}
		}},
		{"v3 advert_int", "version 3\nadvert_int 0.015\n", func(t *testing.T, cfg *config.Config, res *Conversion) {
			if cfg.VRRP.Version != 3 || cfg.VRRP.Interval != 20*time.Millisecond {
				t.Errorf("vrrp %+v", cfg.VRRP)
			}
		}},
		{"long auth_pass", "authentication {\nauth_type PASS\nauth_pass 0123456789\n}\n", func(t *testing.T, cfg *config.Config, res *Conversion) {
			if cfg.VRRP.AuthPass != "01234567" || !hasItem(res.Notes, 9, "auth_pass") {
				t.Errorf("auth_pass %q, notes %v", cfg.VRRP.AuthPass, res.Notes)
			}
		}},
		{"auth with v3", "version 3\nauthentication {\nauth_type PASS\nauth_pass x\n}\n", func(t *testing.T, cfg *config.Config, res *Conversion) {
			if cfg.VRRP.AuthPass != "" || !hasItem(res.Notes, 8, "authentication") {
				t.Errorf("auth_pass %q, notes %v", cfg.VRRP.AuthPass, res.Notes)
			}
		}},
		{"auth_pass of YAML words", "authentication {\nauth_type PASS\nauth_pass yes\n}\n", func(t *testing.T, cfg *config.Config, res *Conversion) {
			if cfg.VRRP.AuthPass != "yes" {
				t.Errorf("auth_pass %q", cfg.VRRP.AuthPass)
			}
		}},
		{"mcast_src_ip", "mcast_src_ip 192.0.2.3\n", func(t *testing.T, cfg *config.Config, res *Conversion) {
			if cfg.VRRP.UnicastSrc != netip.MustParseAddr("192.0.2.3") || len(cfg.VRRP.UnicastPeers) != 0 || cfg.Node.Bind != netip.MustParseAddr("192.0.2.2") {
				t.Errorf("vrrp %+v, bind %s", cfg.VRRP, cfg.Node.Bind)
			}
		}},
		{"unicast peers with ttl", "unicast_peer {\n192.0.2.4 min_ttl 250\n192.0.2.5\n192.0.2.5\n}\n", func(t *testing.T, cfg *config.Config, res *Conversion) {
			if len(cfg.VRRP.UnicastPeers) != 2 || !hasItem(res.Unsupported, 8, "192.0.2.4 min_ttl") || !hasItem(res.Notes, 10, "192.0.2.5") {
				t.Errorf("peers %v, unsupported %v, notes %v", cfg.VRRP.UnicastPeers, res.Unsupported, res.Notes)
			}
		}},
		{"notify with user", `notify_master "/usr/local/bin/up 'a b'" keepalived_script` + "\nnotify_stop /usr/local/bin/stop\n", func(t *testing.T, cfg *config.Config, res *Conversion) {
			if !slices.Equal(cfg.Notify.Master, []string{"/usr/local/bin/up", "a b"}) || !slices.Equal(cfg.Notify.Stop, []string{"/usr/local/bin/stop"}) ||
				!hasItem(res.Unsupported, 7, "notify_master ... keepalived_script") {
				t.Errorf("notify %+v, unsupported %v", cfg.Notify, res.Unsupported)
			}
		}},
		{"VIPs on another dev", "}\nvrrp_instance VI_X {\ninterface eth9\nvirtual_router_id 9\nvirtual_ipaddress {\n192.0.2.99/24\n}\n", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(base, "%s", c.extra, 1)
			o := opts
			if c.check == nil {
				o.Instance = "VI_X"
			}
			res, cfg := convertAndLoad(t, src, o)
			if c.check != nil {
				c.check(t, cfg, res)
			}
		})
	}

	// The VIPs on dev eth1, the instance on eth0: VIPs on eth1, adverts on eth0.
	src := strings.Replace(strings.Replace(base, "192.0.2.10/24", "192.0.2.10/24 dev eth1 scope global", 1), "%s", "", 1)
	res, cfg := convertAndLoad(t, src, opts)
	if cfg.VIP.Interface != "eth1" || cfg.VRRP.Interface != "eth0" || !hasItem(res.Unsupported, 5, "192.0.2.10/24 scope global") {
		t.Errorf("dev: vip.interface %s vrrp.interface %s, unsupported %v", cfg.VIP.Interface, cfg.VRRP.Interface, res.Unsupported)
	}
}

// What a script becomes: a faithful equivalent among the check types, else a script.
func TestConvertKeepalivedCheckTypes(t *testing.T) {
	const tmpl = `vrrp_script chk {
    script %s
    interval 2
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 7
    virtual_ipaddress {
        192.0.2.10/24
    }
    track_script {
        chk
    }
}
`
	for _, c := range []struct {
		script string
		socket string
		want   config.CheckConfig // Type and the type's field
	}{
		{`"killall -0 haproxy"`, "", config.CheckConfig{Type: config.CheckScript, Command: []string{"killall", "-0", "haproxy"}}},
		{`"killall -0 haproxy"`, "/run/haproxy/admin.sock", config.CheckConfig{Type: config.CheckHAProxy, Socket: "/run/haproxy/admin.sock"}},
		{`"/usr/bin/pidof haproxy"`, "/run/h.sock", config.CheckConfig{Type: config.CheckHAProxy, Socket: "/run/h.sock"}},
		{`"pgrep -x haproxy"`, "/run/h.sock", config.CheckConfig{Type: config.CheckHAProxy, Socket: "/run/h.sock"}},
		{`"systemctl is-active --quiet haproxy.service"`, "/run/h.sock", config.CheckConfig{Type: config.CheckHAProxy, Socket: "/run/h.sock"}},
		{`"/bin/sh -c 'killall -0 haproxy'"`, "/run/h.sock", config.CheckConfig{Type: config.CheckHAProxy, Socket: "/run/h.sock"}},
		{`"pidof nginx"`, "/run/h.sock", config.CheckConfig{Type: config.CheckScript, Command: []string{"pidof", "nginx"}}},
		{`"/bin/sh -c 'kill -0 $(cat /run/haproxy.pid)'"`, "", config.CheckConfig{Type: config.CheckProcess, PIDFile: "/run/haproxy.pid"}},
		{"\"/bin/bash -c 'kill -0 `cat /var/run/haproxy.pid` >/dev/null 2>&1'\"", "", config.CheckConfig{Type: config.CheckProcess, PIDFile: "/var/run/haproxy.pid"}},
		{`"/bin/sh -c 'kill -0 $(cat /run/haproxy.pid) && echo ok'"`, "", config.CheckConfig{Type: config.CheckScript, Command: []string{"/bin/sh", "-c", "kill -0 $(cat /run/haproxy.pid) && echo ok"}}},
		{`"curl -sf http://127.0.0.1/health"`, "", config.CheckConfig{Type: config.CheckHTTP, URL: "http://127.0.0.1/health", ExpectStatus: 200}},
		{`"curl --fail -m 1 -o /dev/null https://[::1]:8443/"`, "", config.CheckConfig{Type: config.CheckHTTP, URL: "https://[::1]:8443/", ExpectStatus: 200}},
		{`"curl -s http://127.0.0.1/health"`, "", config.CheckConfig{Type: config.CheckScript, Command: []string{"curl", "-s", "http://127.0.0.1/health"}}},
		{`"curl -kf https://127.0.0.1/"`, "", config.CheckConfig{Type: config.CheckScript, Command: []string{"curl", "-kf", "https://127.0.0.1/"}}},
		{`"curl -fL http://127.0.0.1/"`, "", config.CheckConfig{Type: config.CheckScript, Command: []string{"curl", "-fL", "http://127.0.0.1/"}}},
		{`"nc -zv 127.0.0.1 80"`, "", config.CheckConfig{Type: config.CheckTCP, Address: "127.0.0.1:80"}},
		{`"nc -z ::1 80"`, "", config.CheckConfig{Type: config.CheckTCP, Address: "[::1]:80"}},
		{`"nc -zu 127.0.0.1 53"`, "", config.CheckConfig{Type: config.CheckScript, Command: []string{"nc", "-zu", "127.0.0.1", "53"}}},
		{`"/etc/keepalived/check.sh --fast 'a b'"`, "", config.CheckConfig{Type: config.CheckScript, Command: []string{"/etc/keepalived/check.sh", "--fast", "a b"}}},
		// keepalived since 2.3.2: \" is a literal quote, not one that groups words.
		{`"/etc/keepalived/check.sh --fast \"a b\""`, "", config.CheckConfig{Type: config.CheckScript, Command: []string{"/etc/keepalived/check.sh", "--fast", `"a`, `b"`}}},
	} {
		t.Run(c.script, func(t *testing.T) {
			src := strings.Replace(tmpl, "%s", c.script, 1)
			_, cfg := convertAndLoad(t, src, Options{Name: "n1", Bind: "192.0.2.2", Insecure: true, HAProxySocket: c.socket})
			if len(cfg.Checks) != 1 {
				t.Fatalf("checks %+v", cfg.Checks)
			}
			got := cfg.Checks[0]
			if got.Interval != 2*time.Second || got.Name != "chk" {
				t.Errorf("check %+v", got)
			}
			g := config.CheckConfig{Type: got.Type, Command: got.Command, Socket: got.Socket, PIDFile: got.PIDFile, URL: got.URL, ExpectStatus: got.ExpectStatus, Address: got.Address}
			if !checkEqual(g, c.want) {
				t.Errorf("got %+v, want %+v", g, c.want)
			}
		})
	}
}

// Track lines: weight overrides, reverse, missing scripts, names raftvip rejects.
func TestConvertKeepalivedTrackScript(t *testing.T) {
	src := `vrrp_script chk_a {
    script "/bin/true"
    weight 10
    fall 1000
}
vrrp_script chk.b/c {
    script "/bin/false"
    weight -5 reverse
}
vrrp_script chk_d {
    script "/bin/true"
    user nobody
    init_fail
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 7
    virtual_ipaddress {
        192.0.2.10/24
    }
    track_script {
        chk_a weight -30
        chk.b/c noreverse
        chk_d weight 20 reverse
        chk_missing
        chk_a
    }
}
`
	res, err := Convert(src, "k.conf", Options{Name: "n1", Bind: "192.0.2.2", Insecure: true})
	if err == nil {
		t.Fatalf("chk.b/c noreverse should be an error (noreverse comes after weight N), got\n%s", res.YAML)
	}
	if !strings.Contains(err.Error(), "k.conf:23") {
		t.Errorf("err %v, want line 23", err)
	}

	src = strings.Replace(src, "chk.b/c noreverse", "chk.b/c weight -5 noreverse", 1)
	res, cfg := convertAndLoad(t, src, Options{Name: "n1", Bind: "192.0.2.2", Insecure: true})
	if len(cfg.Checks) != 2 {
		t.Fatalf("checks %+v", cfg.Checks)
	}
	if a := cfg.Checks[0]; a.Name != "chk_a" || a.Weight != -30 || a.Fall != 255 {
		t.Errorf("chk_a %+v, want weight -30 (track_script), fall 255", a)
	}
	if b := cfg.Checks[1]; b.Name != "chk.b_c" || b.Weight != -5 {
		t.Errorf("chk.b/c %+v, want the name chk.b_c and weight -5 without reverse", b)
	}
	for _, u := range []struct {
		line   int
		option string
	}{{12, "user nobody"}, {13, "init_fail"}, {24, "chk_d weight 20 reverse"}, {25, "chk_missing"}, {26, "chk_a"}} {
		if !hasItem(res.Unsupported, u.line, u.option) {
			t.Errorf("no unsupported item for line %d %s: %v", u.line, u.option, res.Unsupported)
		}
	}
	if !hasItem(res.Notes, 4, "fall 1000") {
		t.Errorf("notes %v", res.Notes)
	}
}

// Files raftvip cannot convert: the error names the file, the line and the problem.
func TestConvertKeepalivedErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		src  string // a file in testdata/keepalived, or the text itself
		opts Options
		want []string
	}{
		{"unclosed", "malformed_unclosed.conf", Options{}, []string{"k.conf:1: '{' is never closed"}},
		{"extra brace", "malformed_extra_brace.conf", Options{}, []string{"k.conf:8: '}' with no block open"}},
		{"quote", "malformed_quote.conf", Options{}, []string{"k.conf:2: a double quote"}},
		{"AH, priority, two interfaces", "malformed_ah.conf", Options{}, []string{
			"k.conf:4: priority: \"300\"", "k.conf:5: authentication: auth_type AH is not supported", "k.conf:9: virtual_ipaddress: the VIPs are on 2 interfaces"}},
		{"no instance", "global_defs {\n router_id x\n}\n", Options{}, []string{"no vrrp_instance"}},
		{"no VIPs", "vrrp_instance V {\n interface eth0\n virtual_router_id 3\n}\n", Options{}, []string{"k.conf:1: virtual_ipaddress: vrrp_instance V has no virtual_ipaddress"}},
		{"no vrid, no interface", "vrrp_instance V {\n virtual_ipaddress {\n 192.0.2.1/24\n }\n}\n", Options{}, []string{"k.conf:1: interface:", "k.conf:1: virtual_router_id:"}},
		{"bad VIP", "vrrp_instance V {\n interface eth0\n virtual_router_id 3\n virtual_ipaddress {\n 192.0.2.0/24\n 192.0.2.300\n }\n}\n", Options{},
			[]string{"k.conf:5: virtual_ipaddress: 192.0.2.0/24 is the network address", "k.conf:6: virtual_ipaddress: \"192.0.2.300\""}},
		{"mixed families", "vrrp_instance V {\n interface eth0\n virtual_router_id 3\n virtual_ipaddress {\n 192.0.2.1/24\n 2001:db8::1/64\n }\n}\n", Options{},
			[]string{"k.conf:4: virtual_ipaddress: mixes IPv4 and IPv6"}},
		{"auth_hmac", "vrrp_instance V {\n interface eth0\n virtual_router_id 3\n auth_hmac {\n key 1 x\n }\n virtual_ipaddress {\n 192.0.2.1/24\n }\n}\n", Options{},
			[]string{"k.conf:4: auth_hmac"}},
		{"two values on a line", "vrrp_instance V {\n interface eth0\n virtual_router_id 3\n authentication {\n auth_type PASS auth_pass x\n }\n virtual_ipaddress {\n 192.0.2.1/24\n }\n}\n", Options{},
			[]string{"k.conf:5: auth_type: takes one value, found 3"}},
		{"VIP is --bind", "vrrp_instance V {\n interface eth0\n virtual_router_id 3\n virtual_ipaddress {\n 192.0.2.1/24\n }\n}\n", Options{Name: "a", Bind: "192.0.2.1"},
			[]string{"k.conf:5: raftvip vip.addresses[0]: 192.0.2.1 is node.bind"}},
		{"bad flags", "vrrp_instance V {\n interface eth0\n virtual_router_id 3\n virtual_ipaddress {\n 192.0.2.1/24\n }\n}\n",
			Options{Name: "a b", Bind: "host", Peers: []string{"x", "a=1.2.3.4", "c=1.2.3.5:0"}},
			[]string{"--name", "--bind: \"host\" is not an IP address", "--peer: \"x\" has no '='", "--peer: \"c=1.2.3.5:0\": port 0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := c.src
			if strings.HasSuffix(src, ".conf") {
				src = readKA(t, src)
			}
			res, err := Convert(src, "k.conf", c.opts)
			if err == nil {
				t.Fatalf("no error; YAML:\n%s", res.YAML)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Errorf("err is %T, want *config.Error", err)
			}
		})
	}
}

// Lines raftvip cannot know about are listed, never silently dropped.
func TestConvertKeepalivedUnknownAndConditional(t *testing.T) {
	src := `include /etc/keepalived/conf.d/*.conf
$IF=eth0
@lb1 router_id lb1
some_future_keyword 1
vrrp_instance V {
    interface eth0
    virtual_router_id 3
    something_new yes
    @lb2 priority 50
    virtual_ipaddress {
        192.0.2.1/24 -nodad
    }
}
`
	res, err := Convert(src, "k.conf", Options{Name: "a", Bind: "192.0.2.2", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		line   int
		option string
	}{{1, "include"}, {2, "$IF=eth0"}, {3, "@lb1"}, {4, "some_future_keyword"}, {8, "something_new"}, {9, "@lb2"}, {11, "192.0.2.1/24 -nodad"}} {
		if !hasItem(res.Unsupported, u.line, u.option) {
			t.Errorf("no unsupported item for line %d %s: %v", u.line, u.option, res.Unsupported)
		}
	}
}

func TestKeepalivedYAMLQuoting(t *testing.T) {
	for _, s := range []string{"plain", "-0", "yes", "No", "null", "a b", "x: y", "#hash", "[x]", "{x}", "a,b", "tab\there", "quote\"d", `back\slash`, "ünï", "", "1", "0x10", "~"} {
		doc := "k: " + yamlQuote(s) + "\nl: " + flowList([]string{s, s}) + "\n"
		var v struct {
			K string   `yaml:"k"`
			L []string `yaml:"l"`
		}
		if err := yaml.Unmarshal([]byte(doc), &v); err != nil || v.K != s || !slices.Equal(v.L, []string{s, s}) {
			t.Errorf("%q written as %q reads back as %q %q (%v)", s, doc, v.K, v.L, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"haproxy_pair.conf", "multi.conf", "active_active_lb1.conf", "malformed_unclosed.conf", "malformed_extra_brace.conf", "malformed_quote.conf", "malformed_ah.conf"} {
		b, err := os.ReadFile(filepath.Join("testdata", "keepalived", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("a {\n b { c } }\n")
	f.Add("x \\\n")
	f.Add(`script "a\x"` + "\n")
	f.Add("vrrp_instance V {\n interface eth0\n virtual_router_id 3\n virtual_ipaddress { 192.0.2.1/24 dev eth0 label }\n track_script { s weight }\n}\nvrrp_script s { script \"curl -f -o\" }\n")
	f.Fuzz(func(t *testing.T, src string) {
		conf, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 {
				t.Fatalf("error %v is not a SyntaxError with a line", err)
			}
			return
		}
		var check func([]*Statement)
		check = func(ss []*Statement) {
			for _, s := range ss {
				if len(s.Words) == 0 || s.Line < 1 {
					t.Fatalf("statement without words or line: %+v", s)
				}
				check(s.Block)
			}
		}
		check(conf.Statements)
		// A conversion with every flag either fails or gives a config that loads.
		res, err := Convert(src, "fuzz.conf", Options{Name: "n1", Bind: "198.51.100.1", Insecure: true})
		if err != nil {
			return
		}
		if _, err := config.Parse([]byte(res.YAML), "fuzz.yaml"); err != nil {
			t.Fatalf("converted config does not load: %v\n%s\n--- from\n%s", err, res.YAML, src)
		}
	})
}
