package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// groupsConfig is the smallest valid config with groups:; the error cases edit it
// line by line.
//
//	 1 node:
//	 2   name: lb1
//	 3   bind: 198.18.0.11
//	 4 cluster:
//	 5   peers: [lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, lb3=198.18.0.13:7300]
//	 6 groups:
//	 7   - name: web
//	 8     interface: eth0
//	 9     addresses: [198.18.0.10/24]
//	10   - name: api
//	11     interface: eth0
//	12     addresses: [198.18.0.20/24]
const groupsConfig = `node:
  name: lb1
  bind: 198.18.0.11
cluster:
  peers: [lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, lb3=198.18.0.13:7300]
groups:
  - name: web
    interface: eth0
    addresses: [198.18.0.10/24]
  - name: api
    interface: eth0
    addresses: [198.18.0.20/24]
`

// groupsHead is groupsConfig's lines 1 to 5, before groups:.
var groupsHead = groupsConfig[:strings.Index(groupsConfig, "groups:")]

// gEdit returns groupsConfig with line n (1-based) replaced by text; text may hold
// several lines. An empty text deletes the line.
func gEdit(n int, text string) string {
	lines := strings.Split(strings.TrimSuffix(groupsConfig, "\n"), "\n")
	var out []string
	out = append(out, lines[:n-1]...)
	if text != "" {
		out = append(out, text)
	}
	out = append(out, lines[n:]...)
	return strings.Join(out, "\n") + "\n"
}

// gAfter returns groupsConfig with text added from line 13 on (so under api when
// indented by four).
func gAfter(text string) string { return groupsConfig + text + "\n" }

// withWeb returns groupsConfig with text added to web on line 10 (api moves to 11..13),
// and api's text from line 14 on.
func withWeb(web, api string) string {
	src := gEdit(9, "    addresses: [198.18.0.10/24]\n"+web)
	if api != "" {
		src += api + "\n"
	}
	return src
}

const checkHAProxy = "checks:\n  - {name: haproxy, type: process, pidfile: /run/haproxy.pid}"

func TestLoadGroups(t *testing.T) {
	cfg, err := Load("testdata/config/groups.yaml")
	if err != nil {
		t.Fatal(err)
	}
	garp := GARPConfig{Repeat: 5, Interval: time.Second}
	bind := netip.MustParseAddr("198.18.0.11")
	web := GroupConfig{
		Name: "web", Interface: "eth0",
		Addresses: []netip.Prefix{netip.MustParsePrefix("198.18.0.10/24"), netip.MustParsePrefix("2001:2::10/64")},
		Priority:  120, Track: []string{"haproxy"},
		Preempt: true, PreemptDelay: 5 * time.Second, MinMoveInterval: 10 * time.Second, Together: "front",
		Lifetime: 2 * time.Second, Fencing: "standard", GARP: garp, Drain: 25 * time.Millisecond,
		VRRP: VRRPConfig{Version: 2, Interval: time.Second, UnicastSrc: bind, Interface: "eth0"},
	}
	want := []GroupConfig{
		web,
		{
			Name: "static", Interface: "eth0", Addresses: []netip.Prefix{netip.MustParsePrefix("198.18.0.30/24")},
			Priority: 90, Track: []string{},
			Preempt: true, PreemptDelay: 5 * time.Second, MinMoveInterval: 10 * time.Second, Together: "front",
			Lifetime: 2 * time.Second, Fencing: "standard", GARP: garp, Drain: 25 * time.Millisecond,
			VRRP: VRRPConfig{Version: 2, Interval: time.Second, UnicastSrc: bind, Interface: "eth0"},
		},
		{
			Name: "api", Interface: "eth1", Addresses: []netip.Prefix{netip.MustParsePrefix("198.18.1.10/24")},
			Priority: 150,
			Preempt:  false, PreemptDelay: 30 * time.Second, MinMoveInterval: time.Minute,
			Lifetime: 3 * time.Second, Fencing: "strict", GARP: GARPConfig{Repeat: 3, Interval: 500 * time.Millisecond, Refresh: 30 * time.Second},
			Drain: 100 * time.Millisecond,
			VRRP: VRRPConfig{Enabled: true, Version: 2, VRID: 52, Interval: 2 * time.Second, AuthPass: "s3cret",
				UnicastPeers: []netip.Addr{netip.MustParseAddr("198.18.1.31")}, UnicastSrc: netip.MustParseAddr("198.18.1.11"), Interface: "eth1.200"},
		},
	}
	if !reflect.DeepEqual(cfg.Groups, want) {
		t.Errorf("groups.yaml groups:\n got  %+v\n want %+v", cfg.Groups, want)
	}
	if !cfg.GroupsSection {
		t.Error("GroupsSection = false for a file with groups:")
	}
	// The one-group form's fields hold the first group.
	if !reflect.DeepEqual(cfg.VIP, web.VIP()) || cfg.Priority != 120 || !cfg.Preempt || cfg.PreemptDelay != 5*time.Second ||
		cfg.MinMoveInterval != 10*time.Second || !reflect.DeepEqual(cfg.VRRP, web.VRRP) {
		t.Errorf("one-group fields: vip %+v, priority %d, preempt %v, delay %s, min_move_interval %s, vrrp %+v",
			cfg.VIP, cfg.Priority, cfg.Preempt, cfg.PreemptDelay, cfg.MinMoveInterval, cfg.VRRP)
	}
	// track: left out is every check, [] none.
	for _, tc := range []struct {
		group, check string
		want         bool
	}{
		{"web", "haproxy", true}, {"web", "api-health", false},
		{"static", "haproxy", false}, {"static", "api-health", false},
		{"api", "haproxy", true}, {"api", "api-health", true},
	} {
		for _, g := range cfg.Groups {
			if g.Name == tc.group && g.Tracks(tc.check) != tc.want {
				t.Errorf("%s.Tracks(%s) = %v, want %v", tc.group, tc.check, !tc.want, tc.want)
			}
		}
	}
}

func TestVIPFormIsOneGroup(t *testing.T) {
	src := edit(8, "  addresses: [198.18.0.10/24, 198.18.0.20/24]\n  lifetime: 3s") +
		"priority: 150\npreempt: false\npreempt_delay: 5s\nmin_move_interval: 1m\nvrrp: {enabled: true, vrid: 51, unicast_peers: [198.18.0.31]}\n"
	cfg, err := parseTest(t, src)
	if err != nil {
		t.Fatal(err)
	}
	want := GroupConfig{
		Name: "vip", Interface: "eth0",
		Addresses: []netip.Prefix{netip.MustParsePrefix("198.18.0.10/24"), netip.MustParsePrefix("198.18.0.20/24")},
		Priority:  150, PreemptDelay: 5 * time.Second, MinMoveInterval: time.Minute,
		Lifetime: 3 * time.Second, Fencing: "standard", GARP: GARPConfig{Repeat: 5, Interval: time.Second}, Drain: 25 * time.Millisecond,
		VRRP: VRRPConfig{Enabled: true, Version: 2, VRID: 51, Interval: time.Second, UnicastPeers: []netip.Addr{netip.MustParseAddr("198.18.0.31")},
			UnicastSrc: netip.MustParseAddr("198.18.0.11"), Interface: "eth0"},
	}
	if cfg.GroupsSection || !reflect.DeepEqual(cfg.Groups, []GroupConfig{want}) {
		t.Errorf("groups section %v, groups:\n got  %+v\n want %+v", cfg.GroupsSection, cfg.Groups, []GroupConfig{want})
	}
	if !reflect.DeepEqual(cfg.VIP, want.VIP()) || !reflect.DeepEqual(cfg.VRRP, want.VRRP) || cfg.Priority != 150 || cfg.Preempt {
		t.Errorf("one-group fields changed: vip %+v, vrrp %+v, priority %d, preempt %v", cfg.VIP, cfg.VRRP, cfg.Priority, cfg.Preempt)
	}
	if !cfg.Groups[0].Tracks("anything") {
		t.Error("the vip: form's group does not track every check")
	}
	// The group's slices are its own: the one-group fields do not share them.
	cfg.VIP.Addresses[0] = netip.MustParsePrefix("198.18.0.99/24")
	if cfg.Groups[0].Addresses[0] == cfg.VIP.Addresses[0] {
		t.Error("cfg.VIP.Addresses shares its array with cfg.Groups[0].Addresses")
	}
}

// TestGroupPolicyDefaults checks where a group's priority, preempt, preempt_delay and
// min_move_interval come from: its own key, else the top-level key, else the default.
func TestGroupPolicyDefaults(t *testing.T) {
	type policy struct {
		priority   int
		preempt    bool
		delay, mmi time.Duration
	}
	def := policy{100, true, 0, 10 * time.Second}
	for _, tc := range []struct {
		name     string
		src      string
		web, api policy
	}{
		{"defaults", groupsConfig, def, def},
		{"top level", gAfter("priority: 120\npreempt: false\npreempt_delay: 3s\nmin_move_interval: 0s"),
			policy{120, false, 3 * time.Second, 0}, policy{120, false, 3 * time.Second, 0}},
		{"top level before groups", strings.Replace(groupsConfig, "groups:", "priority: 120\npreempt: false\ngroups:", 1),
			policy{120, false, 0, 10 * time.Second}, policy{120, false, 0, 10 * time.Second}},
		{"the group's own", withWeb("    priority: 200\n    preempt: false\n    preempt_delay: 1s\n    min_move_interval: 1m", "priority: 50\npreempt: true\npreempt_delay: 2s"),
			policy{200, false, time.Second, time.Minute}, policy{50, true, 2 * time.Second, 10 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseTest(t, tc.src)
			if err != nil {
				t.Fatal(err)
			}
			for i, want := range []policy{tc.web, tc.api} {
				g := cfg.Groups[i]
				if got := (policy{g.Priority, g.Preempt, g.PreemptDelay, g.MinMoveInterval}); got != want {
					t.Errorf("%s: got %+v, want %+v", g.Name, got, want)
				}
			}
			if g := cfg.Groups[0]; cfg.Priority != g.Priority || cfg.Preempt != g.Preempt {
				t.Errorf("one-group fields: priority %d, preempt %v; want web's %d, %v", cfg.Priority, cfg.Preempt, g.Priority, g.Preempt)
			}
		})
	}
}

func TestGroupsValid(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"one group", groupsHead + "groups:\n  - {name: web, interface: eth0, addresses: [198.18.0.10/24]}\n"},
		{"name of 32", gEdit(10, "  - name: "+strings.Repeat("a", 32))},
		{"name vip", gEdit(10, "  - name: vip")},
		{"track none", gAfter("    track: []")},
		{"track a check", gAfter("    track: [haproxy]\n" + checkHAProxy)},
		{"same vrid, other interface", withWeb("    vrrp: {enabled: true, vrid: 51}", "    vrrp: {enabled: true, vrid: 51, interface: eth0.100}")},
		{"same vrid, other family", strings.Replace(withWeb("    vrrp: {enabled: true, vrid: 51}", "    vrrp: {enabled: true, vrid: 51, version: 3}"),
			"[198.18.0.20/24]", "['2001:2::20/64']", 1)},
		{"same vrid, one disabled", withWeb("    vrrp: {enabled: true, vrid: 51}", "    vrrp: {enabled: false, vrid: 51}")},
		{"together alike", withWeb("    together: front\n    preempt: false", "    together: front\n    preempt: false")},
		{"together from the top level", withWeb("    together: front", "    together: front\npreempt: false")},
		{"other sets differ", withWeb("    together: a\n    preempt: false", "    together: b")},
		{"mixed families without vrrp", gEdit(12, "    addresses: [198.18.0.20/24, '2001:2::20/64']")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseTest(t, tc.src); err != nil {
				t.Errorf("valid config rejected: %v", err)
			}
		})
	}
}

func TestGroupsErrors(t *testing.T) {
	var many strings.Builder
	many.WriteString(groupsHead + "groups:\n")
	for i := range MaxGroups + 1 {
		fmt.Fprintf(&many, "  - {name: g%d, interface: eth0, addresses: [198.18.1.%d/24]}\n", i, i+1)
	}
	timing := "  peers: [lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, lb3=198.18.0.13:7300]\n  timing: {heartbeat_timeout: 20s, election_timeout: 20s, leader_lease: 10s, vip_lease: 10s}"
	for _, tc := range []struct {
		name  string
		src   string
		field string
		line  int
		msg   string // a fragment of the message
		n     int    // number of errors expected; 0 means 1
	}{
		// The two forms.
		{"vip and groups", gAfter("vip: {interface: eth0, addresses: [198.18.0.30/24]}"), "vip", 13,
			"is set, and so is groups: (line 6); a cluster's VIPs are either the one group of vip: or the groups of groups:, not both: move vip's addresses into a group of groups: and delete vip:", 0},
		{"top-level vrrp", gAfter("vrrp: {enabled: true, vrid: 51}"), "vrrp", 13, "is per group with groups:; move it into the groups that share a keepalived instance", 0},
		{"neither", groupsHead, "vip.interface", 0, "missing; name the interface that carries the VIP", 2},

		// The list.
		{"groups empty", groupsHead + "groups: []\n", "groups", 6, "is empty; list at least one group, e.g. [{name: web, interface: eth0, addresses: [198.18.0.10/24]}], or remove it and use vip: for a single group", 0},
		{"groups null", groupsHead + "groups:\n", "groups", 6, "is empty; list at least one group", 0},
		{"groups scalar", groupsHead + "groups: web\n", "groups", 6, "expected a list, e.g. [{name: web", 0},
		{"groups mapping", groupsHead + "groups: {web: {interface: eth0}}\n", "groups", 6, "expected a list", 0},
		{"too many groups", many.String(), "groups", 6, "has 33 groups; a node runs at most 32", 0},
		{"item null", gAfter("  -"), "groups[2]", 13, "is empty; a group needs at least a name, an interface and addresses", 0},
		{"item scalar", gAfter("  - web"), "groups[2]", 13, "expected a mapping (keys under groups[2]:), found \"web\"", 0},

		// name.
		{"name missing", gEdit(10, "  - priority: 100"), "groups[1].name", 10, "missing; name the group, e.g. name: web", 0},
		{"name empty", gEdit(10, "  - name: ''"), "groups[1].name", 10, "is empty; name the group, e.g. web", 0},
		{"name space", gEdit(10, "  - name: 'web 2'"), "groups[1].name", 10, `"web 2" contains ' '; a group name may use only letters, digits, '-', '_' and '.'`, 0},
		{"name unicode", gEdit(10, "  - name: wéb"), "groups[1].name", 10, "a group name may use only", 0},
		{"name too long", gEdit(10, "  - name: "+strings.Repeat("a", 33)), "groups[1].name", 10, "is 33 characters; a group name is at most 32 (it labels metrics and is notify's INSTANCE argument)", 0},
		{"name twice", gEdit(10, "  - name: web"), "groups[1].name", 10, "web is used twice (also groups[0] on line 7); every group needs its own name", 0},

		// interface, addresses.
		{"interface missing", gEdit(11, ""), "groups[1].interface", 10, "missing; name the interface that carries the group's addresses, e.g. interface: eth0", 0},
		{"interface label", gEdit(11, "    interface: eth0:1"), "groups[1].interface", 11, "address label, not an interface", 0},
		{"addresses missing", gEdit(12, ""), "groups[1].addresses", 10, "missing; list the group's VIPs with their prefix length", 0},
		{"addresses empty", gEdit(12, "    addresses: []"), "groups[1].addresses", 12, "is empty; list at least one address", 0},
		{"address no length", gEdit(12, "    addresses: [198.18.0.20]"), "groups[1].addresses[0]", 12,
			"has no prefix length; write it with the prefix length of the subnet on groups[1].interface, e.g. 198.18.0.20/24", 0},
		{"address twice in a group", gEdit(12, "    addresses: [198.18.0.20/24, 198.18.0.20/25]"), "groups[1].addresses[1]", 12, "198.18.0.20 is listed twice (also groups[1].addresses[0] on line 12)", 0},
		{"address in two groups", gEdit(12, "    addresses: [198.18.0.21/24, 198.18.0.10/25]"), "groups[1].addresses[1]", 12,
			"198.18.0.10 is in group web too (groups[0].addresses[0] on line 9); an address belongs to one group: remove it from one of them", 0},
		{"address is bind", gEdit(12, "    addresses: [198.18.0.11/24]"), "groups[1].addresses[0]", 12, "198.18.0.11 is node.bind, this node's own address", 0},
		{"address is a peer", gEdit(12, "    addresses: [198.18.0.13/24]"), "groups[1].addresses[0]", 12, "198.18.0.13 is the address of peer lb3", 0},

		// priority and the placement policy.
		{"priority 0", gAfter("    priority: 0"), "groups[1].priority", 13, "0 is out of range; priority is 1 to 254 as in VRRP (0 and 255 have special meanings there); default: the top-level priority", 0},
		{"preempt yes", gAfter("    preempt: yes"), "groups[1].preempt", 13, `"yes" is not a boolean here (YAML 1.2); write true`, 0},
		{"preempt_delay too long", gAfter("    preempt_delay: 1h"), "groups[1].preempt_delay", 13, "1h0m0s is out of range; use 0s to 1000s", 0},
		{"min_move_interval negative", gAfter("    min_move_interval: -1s"), "groups[1].min_move_interval", 13, "-1s is negative", 0},

		// track.
		{"track unknown, close", gAfter("    track: [haproxi]\n" + checkHAProxy), "groups[1].track[0]", 13, `"haproxi" is not a check; did you mean "haproxy"? (the checks are haproxy)`, 0},
		{"track unknown", gAfter("    track: [web]\n" + checkHAProxy), "groups[1].track[0]", 13, `"web" is not a check; the checks are haproxy`, 0},
		{"track without checks", gAfter("    track: [haproxy]"), "groups[1].track[0]", 13, `"haproxy" is not a check: there are none; define it under checks:, or remove it from track`, 0},
		{"track null", gAfter("    track:"), "groups[1].track", 13, "has no value; list the checks that weigh into this group, e.g. [haproxy], or [] for none, or remove the line for every check", 0},
		{"track scalar", gAfter("    track: haproxy\n" + checkHAProxy), "groups[1].track", 13, "expected a list, e.g. [haproxy]", 0},
		{"track twice", gAfter("    track: [haproxy, haproxy]\n" + checkHAProxy), "groups[1].track[1]", 13, "haproxy is listed twice (also groups[1].track[0] on line 13); list each check once", 0},
		{"track bad name", gAfter("    track: ['a b']\n" + checkHAProxy), "groups[1].track[0]", 13, "a check name may use only", 0},
		{"track and a bad check", gAfter("    track: [haproxy]\nchecks:\n  - {name: 'ha proxy', type: process, pidfile: /run/haproxy.pid}"), "checks[0].name", 15, "a check name may use only", 0},

		// together.
		{"together preempt", withWeb("    together: front", "    together: front\n    preempt: false"), "groups[1].preempt", 15,
			"this group's preempt is false, but group web (groups[0]), also in together set front, has true; the groups of a together set move as one, so they need the same preempt: set it alike in each of them", 0},
		{"together preempt by default", withWeb("    together: front\n    preempt: false", "    together: front"), "groups[1].together", 15,
			"this group's preempt is true, but group web (groups[0]), also in together set front, has false", 0},
		{"together preempt_delay", withWeb("    together: front\n    preempt_delay: 5s", "    together: front"), "groups[1].together", 15,
			"this group's preempt_delay is 0s, but group web (groups[0]), also in together set front, has 5s", 0},
		{"together min_move_interval", withWeb("    together: front", "    together: front\n    min_move_interval: 1m"), "groups[1].min_move_interval", 15,
			"this group's min_move_interval is 1m0s, but group web (groups[0]), also in together set front, has 10s", 0},
		{"together empty", gAfter("    together: ''"), "groups[1].together", 13, "is empty; name the set of groups placed together, e.g. web-set, or remove the line", 0},
		{"together space", gAfter("    together: 'front set'"), "groups[1].together", 13, `"front set" contains ' '; a together name may use only`, 0},

		// vrrp, per group.
		{"vrid twice", withWeb("    vrrp: {enabled: true, vrid: 51}", "    vrrp: {enabled: true, vrid: 51}"), "groups[1].vrrp.vrid", 14,
			"51 is the VRID of group web too (groups[0].vrrp.vrid on line 10), on eth0; a VRRP router takes every advert of its VRID on its interface and family, whatever the version: give one of them another vrid", 0},
		{"vrid twice, other versions", withWeb("    vrrp: {enabled: true, vrid: 51}", "    vrrp: {enabled: true, vrid: 51, version: 3}"), "groups[1].vrrp.vrid", 14, "51 is the VRID of group web too", 0},
		{"vrid twice on one vrrp interface", withWeb("    vrrp: {enabled: true, vrid: 51, interface: eth0.100}", "    vrrp: {enabled: true, vrid: 51, interface: eth0.100}"), "groups[1].vrrp.vrid", 14,
			"), on eth0.100;", 0},
		{"vrrp no vrid", gAfter("    vrrp: {enabled: true}"), "groups[1].vrrp.vrid", 13, "missing; set the virtual_router_id of the keepalived instance to share", 0},
		{"vrrp v2 fraction", gAfter("    vrrp: {enabled: true, vrid: 51, advert_interval: 1500ms}"), "groups[1].vrrp.advert_interval", 13, "does not fit VRRPv2", 0},
		{"vrrp v3 auth", gAfter("    vrrp: {enabled: true, vrid: 51, version: 3, auth_pass: x}"), "groups[1].vrrp.auth_pass", 13, "VRRPv3 has no authentication", 0},
		{"vrrp v2 ipv6", gEdit(12, "    addresses: ['2001:2::20/64']\n    vrrp: {enabled: true, vrid: 51}"), "groups[1].vrrp.version", 13,
			"VRRPv2 carries IPv4 only, and groups[1].addresses are IPv6; set version: 3", 0},
		{"vrrp mixed families", gEdit(12, "    addresses: [198.18.0.20/24, '2001:2::20/64']\n    vrrp: {enabled: true, vrid: 51, version: 3}"), "groups[1].vrrp", 13,
			"groups[1].addresses mixes IPv4 and IPv6, but a VRRP instance advertises one family (keepalived: one virtual_ipaddress family per instance); give the group one family, or turn vrrp off", 0},
		{"vrrp peer family", gAfter("    vrrp: {enabled: true, vrid: 51, unicast_peers: ['2001:2::14']}"), "groups[1].vrrp.unicast_peers[0]", 13, "not of the VIPs' address family", 0},
		{"vrrp unknown key", gAfter("    vrrp: {enabled: true, vrid: 51, advert_int: 1}"), "groups[1].vrrp.advert_int", 13, `did you mean "advert_interval"?`, 0},

		// lifetime, garp, drain, fencing.
		{"lifetime below 1s", gAfter("    lifetime: 500ms"), "groups[1].lifetime", 13, `"500ms" is below 1s`, 0},
		{"fencing typo", gAfter("    fencing: strcit"), "groups[1].fencing", 13, `did you mean "strict"?`, 0},
		{"garp refresh", gAfter("    garp: {refresh: 100ms}"), "groups[1].garp.refresh", 13, "below 1s", 0},
		{"drain too long", gAfter("    drain: 11s"), "groups[1].drain", 13, "use 0 (no drain) to 10s", 0},
		{"lifetime vs renew, blame vip_lease once", gEdit(5, timing), "cluster.timing.vip_lease", 6,
			"10s means a lease renewal every 2.5s, but groups[0].lifetime is 2s; the kernel would drop the VIP between two renewals: lower vip_lease below 8s or raise groups[0].lifetime", 0},
		{"lifetime vs renew, blame the group's lifetime", gEdit(5, timing) + "    lifetime: 2s\n  - {name: db, interface: eth0, addresses: [198.18.0.40/24], lifetime: 3s}\n", "groups[1].lifetime", 14,
			"2s is not longer than the lease renew interval (cluster.timing.vip_lease/4 = 2.5s); the kernel would drop the VIP between two renewals: raise groups[1].lifetime above 2.5s", 2},

		// Keys.
		{"unknown key suggests", gAfter("    adresses: [198.18.0.30/24]"), "groups[1].adresses", 13, `unknown key; did you mean "addresses"?`, 0},
		{"vrrp key in a group", gAfter("    vrid: 51"), "groups[1].vrid", 13, `unknown key here; "vrid" belongs under vrrp in an item of groups (groups[].vrrp.vrid)`, 0},
		{"unknown key lists keys", gAfter("    colour: blue"), "groups[1].colour", 13,
			"the keys of groups[1] are name, interface, addresses, priority, track, preempt, preempt_delay, min_move_interval, together, lifetime, fencing, garp, drain, vrrp", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseTest(t, tc.src)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a *Error", err)
			}
			if want := max(tc.n, 1); len(ce.Errors) != want {
				t.Errorf("%d errors, want %d:\n%v", len(ce.Errors), want, err)
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

// TestGroupsKeyHints checks that a misplaced key is sent to its home in the file's
// own form (vip: or groups:), and to the other form only when it has none in its own.
func TestGroupsKeyHints(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"lifetime at the top, groups form", gAfter("lifetime: 2s"), `config.yaml:13: lifetime: unknown key here; "lifetime" belongs in an item of groups`},
		{"lifetime at the top, vip form", after("lifetime: 2s"), `config.yaml:9: lifetime: unknown key here; "lifetime" belongs under vip (vip.lifetime)`},
		{"track at the top, vip form", after("track: [haproxy]"), `config.yaml:9: track: unknown key here; "track" belongs in an item of groups`},
		{"vrid at the top, groups form", gAfter("vrid: 51"), `config.yaml:13: vrid: unknown key here; "vrid" belongs under vrrp in an item of groups (groups[].vrrp.vrid)`},
		{"vrid at the top, vip form", after("vrid: 51"), `config.yaml:9: vrid: unknown key here; "vrid" belongs under vrrp (vrrp.vrid)`},
		{"priority in vip", after("  priority: 100"), `config.yaml:9: vip.priority: unknown key here; "priority" belongs at the top level, not under vip`},
		{"priority in a group's vrrp", gAfter("    vrrp: {priority: 100}"), `config.yaml:13: groups[1].vrrp.priority: unknown key here; "priority" belongs at the top level or in an item of groups`},
		{"together in vip", after("  together: front"), `config.yaml:9: vip.together: unknown key here; "together" belongs in an item of groups`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseTest(t, tc.src)
			if err == nil || err.Error() != tc.want {
				t.Errorf("err =\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
}

// TestGroupsErrorsGolden checks the messages of a file that breaks every rule of
// groups: against a golden file (go test -run GroupsErrorsGolden -update rewrites it).
func TestGroupsErrorsGolden(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "config", "groups_errors.yaml"))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *Error", err)
	}
	golden := filepath.Join("testdata", "config", "groups_errors.golden")
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

// TestExampleGroups checks that the example's commented-out groups: is valid in
// place of its vip:.
func TestExampleGroups(t *testing.T) {
	var lines []string
	inVIP, inGroups := false, false
	for _, l := range strings.Split(filledExample(t, Example()), "\n") {
		switch {
		case l == "vip:":
			inVIP = true
		case l == "# groups:":
			inGroups = true
		case l == "":
			inVIP, inGroups = false, false
		}
		switch {
		case inVIP:
			continue
		case inGroups:
			l = strings.TrimPrefix(l, "# ")
		}
		lines = append(lines, l)
	}
	cfg, err := Parse([]byte(strings.Join(lines, "\n")), "example.yaml")
	if err != nil {
		t.Fatalf("the example with groups: in place of vip: %v", err)
	}
	if len(cfg.Groups) != 2 || !cfg.GroupsSection {
		t.Fatalf("groups %+v", cfg.Groups)
	}
	web, api := cfg.Groups[0], cfg.Groups[1]
	if web.Name != "web" || web.Priority != 150 || !web.Tracks("haproxy") || web.VRRP.Enabled ||
		api.Name != "api" || api.Priority != 100 || !api.VRRP.Enabled || api.VRRP.VRID != 52 || api.Track != nil {
		t.Errorf("example groups: %+v", cfg.Groups)
	}
	// And the example as printed keeps vip:.
	if strings.Contains(Example(), "\ngroups:") {
		t.Error("the example sets groups: as printed; it must keep vip: and show groups: commented out")
	}
}
