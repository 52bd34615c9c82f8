package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// groupSite is where one group's keys are in the file. An item of groups: holds all
// of them; the vip: form spreads them over vip:, the top level and vrrp:.
type groupSite struct {
	section string // interface, addresses, lifetime, fencing, garp, drain: "vip" or "groups[1]"
	top     string // priority, preempt, preempt_delay, min_move_interval: "" or "groups[1]"
	vrrp    string // the group's vrrp section: "vrrp" or "groups[1].vrrp"
}

// vipSite is the vip: form's one group.
func vipSite() groupSite { return groupSite{section: "vip", top: "", vrrp: "vrrp"} }

// itemSite is the group groups[i].
func itemSite(i int) groupSite {
	p := fmt.Sprintf("groups[%d]", i)
	return groupSite{section: p, top: p, vrrp: p + ".vrrp"}
}

// key is the path of a key of the group's section.
func (s groupSite) key(k string) string { return joinPath(s.section, k) }

// policy is the path of priority, preempt, preempt_delay or min_move_interval.
func (s groupSite) policy(k string) string { return joinPath(s.top, k) }

// what is what the group is called in a message.
func (s groupSite) what() string {
	if s.section == "vip" {
		return "cluster"
	}
	return "group"
}

const groupExample = "{name: web, interface: eth0, addresses: [198.18.0.10/24]}"

// groups decodes groups: into cfg.Groups, one per item that is a mapping, and
// records each one's site. Names are unique.
func (d *decoder) groups(path string, n *yaml.Node, cfg *Config) {
	items, ok := d.seq(path, n, "["+groupExample+"]")
	if !ok {
		return
	}
	switch {
	case len(items) == 0:
		d.add(d.at(path), path, "is empty; list at least one group, e.g. [%s], or remove it and use vip: for a single group", groupExample)
		return
	case len(items) > MaxGroups:
		d.add(d.at(path), path, "has %d groups; a node runs at most %d (each is a label of the metrics and has its own digest in every node's gossip): merge groups that move together", len(items), MaxGroups)
	}
	names := map[string]string{} // group name -> path of the first group with it
	for i, it := range items {
		site := itemSite(i)
		d.lines[site.section] = it.Line
		g, ok := d.group(site, it)
		if !ok {
			continue
		}
		if g.Name != "" {
			if first, dup := names[g.Name]; dup {
				np := site.key("name")
				d.add(d.at(np), np, "%s is used twice (also %s on line %d); every group needs its own name", g.Name, first, d.at(first+".name"))
				continue
			}
			names[g.Name] = site.section
		}
		cfg.Groups = append(cfg.Groups, g)
		d.sites = append(d.sites, site)
	}
}

// group decodes one item of groups. It returns false if the item is not a mapping.
// Priority, Preempt, PreemptDelay and MinMoveInterval are left as set: their
// defaults are the top-level keys, which may come later in the file (groupDefaults).
func (d *decoder) group(site groupSite, n *yaml.Node) (GroupConfig, bool) {
	path := site.section
	if isNull(resolve(n)) {
		d.add(n.Line, path, "is empty; a group needs at least a name, an interface and addresses, e.g. %s", groupExample)
		return GroupConfig{}, false
	}
	vc := VIPConfig{
		Lifetime: DefaultLifetime,
		Fencing:  DefaultFencing,
		GARP:     GARPConfig{Repeat: DefaultGARPRepeat, Interval: DefaultGARPInterval},
		Drain:    DefaultDrain,
	}
	var g GroupConfig
	vip := d.vipFields(&vc)
	vipField := func(key string) keyField {
		i := slices.IndexFunc(vip, func(f keyField) bool { return f.key == key })
		return vip[i]
	}
	fields := []keyField{
		{"name", func(p string, v *yaml.Node) {
			d.validString(p, v, "a name for the group, e.g. web", groupNameProblem, &g.Name)
		}},
		vipField("interface"),
		vipField("addresses"),
		{"priority", func(p string, v *yaml.Node) {
			d.integer(p, v, 1, 254, "priority is 1 to 254 as in VRRP (0 and 255 have special meanings there); default: the top-level priority", &g.Priority)
		}},
		{"track", func(p string, v *yaml.Node) { d.track(p, v, &g.Track) }},
		{"preempt", func(p string, v *yaml.Node) { d.boolean(p, v, &g.Preempt) }},
		{"preempt_delay", func(p string, v *yaml.Node) { d.preemptDelay(p, v, &g.PreemptDelay) }},
		{"min_move_interval", func(p string, v *yaml.Node) { d.minMoveInterval(p, v, &g.MinMoveInterval) }},
		{"together", func(p string, v *yaml.Node) {
			d.validString(p, v, "the name of a set of groups placed together, e.g. web-set", togetherProblem, &g.Together)
		}},
		vipField("lifetime"),
		vipField("fencing"),
		vipField("garp"),
		vipField("drain"),
		{"vrrp", func(p string, v *yaml.Node) { d.vrrp(p, v, &g.VRRP) }},
	}
	if !d.mapping(path, n, fields) {
		return GroupConfig{}, false
	}
	g.Interface, g.Addresses, g.Lifetime, g.Fencing, g.GARP, g.Drain = vc.Interface, vc.Addresses, vc.Lifetime, vc.Fencing, vc.GARP, vc.Drain
	return g, true
}

// track decodes a group's track: check names, each once. A null is an error rather
// than a guess between "every check" and "none".
func (d *decoder) track(path string, n *yaml.Node, dst *[]string) {
	if isNull(resolve(n)) {
		d.add(n.Line, path, "has no value; list the checks that weigh into this group, e.g. [haproxy], or [] for none, or remove the line for every check")
		return
	}
	vals, paths, ok := scalarList(d, path, n, "[haproxy]", "the name of a check, e.g. haproxy",
		func(s string) (string, string) { return s, checkNameProblem(s) },
		unique[string]{func(s string) any { return s }, func(s, _, first string, line int) string {
			return fmt.Sprintf("%s is listed twice (also %s on line %d); list each check once", s, first, line)
		}})
	if !ok {
		return
	}
	if vals == nil {
		vals = []string{} // track: [] is none, unlike no track at all
	}
	*dst, d.itemPaths[path] = vals, paths
}

// groupNameProblem says what is wrong with a group name, or "" if nothing.
func groupNameProblem(s string) string {
	return nameProblem(s, "group", "web", "it labels metrics and is notify's INSTANCE argument")
}

// togetherProblem says what is wrong with the name of a together set, or "" if nothing.
func togetherProblem(s string) string {
	if s == "" {
		return "is empty; name the set of groups placed together, e.g. web-set, or remove the line to place this group on its own"
	}
	return nameProblem(s, "together", "web-set", "like a group name")
}

// nameProblem says what is wrong with the name of a what (check, group): letters,
// digits, '-', '_' and '.', at most 32 bytes; why says why the limit.
func nameProblem(s, what, eg, why string) string {
	if s == "" {
		return fmt.Sprintf("is empty; name the %s, e.g. %s", what, eg)
	}
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.') {
			return fmt.Sprintf("%q contains %q; a %s name may use only letters, digits, '-', '_' and '.'", s, r, what)
		}
	}
	if len(s) > 32 {
		return fmt.Sprintf("%q is %d characters; a %s name is at most 32 (%s)", s, len(s), what, why)
	}
	return ""
}

// checkGroups makes cfg.Groups whole, in either form, and checks every group and the
// rules between groups; then it sets the one-group form's fields from the first
// group. In the vip: form the one group is made here.
func (d *decoder) checkGroups(cfg *Config) {
	_, vipSet := d.lines["vip"]
	_, groupsSet := d.lines["groups"]
	cfg.GroupsSection = groupsSet
	if groupsSet {
		if vipSet {
			d.add(d.at("vip"), "vip", "is set, and so is groups: (line %d); a cluster's VIPs are either the one group of vip: or the groups of groups:, not both: move vip's addresses into a group of groups: and delete vip:",
				d.at("groups"))
		}
		if _, set := d.lines["vrrp"]; set {
			d.add(d.at("vrrp"), "vrrp", "is per group with groups:; move it into the groups that share a keepalived instance, e.g. groups: [{name: web, ..., vrrp: {enabled: true, vrid: 51}}], and delete the top-level vrrp:")
		}
		for i := range cfg.Groups {
			d.groupDefaults(cfg, i)
		}
	} else {
		if _, set := d.lines["vip.interface"]; !set && !d.failedAt("vip") && !d.suggested["vip.interface"] {
			d.add(d.at("vip"), "vip.interface", "missing; name the interface that carries the VIP, e.g. interface: eth0")
		}
		if _, set := d.lines["vip.addresses"]; !set && !d.failedAt("vip") && !d.suggested["vip.addresses"] {
			d.add(d.at("vip"), "vip.addresses", "missing; list the VIPs with their prefix length, e.g. addresses: [198.18.0.10/24]")
		}
		cfg.Groups = []GroupConfig{{
			Name: VIPGroupName, Interface: cfg.VIP.Interface, Addresses: cfg.VIP.Addresses, Priority: cfg.Priority,
			Preempt: cfg.Preempt, PreemptDelay: cfg.PreemptDelay, MinMoveInterval: cfg.MinMoveInterval,
			Lifetime: cfg.VIP.Lifetime, Fencing: cfg.VIP.Fencing, GARP: cfg.VIP.GARP, Drain: cfg.VIP.Drain, VRRP: cfg.VRRP,
		}}
		d.sites = []groupSite{vipSite()}
	}

	peerAt := map[netip.Addr]string{}
	for _, peer := range cfg.Cluster.Peers {
		if _, dup := peerAt[peer.Addr.Addr()]; !dup {
			peerAt[peer.Addr.Addr()] = peer.Name
		}
	}
	for i := range cfg.Groups {
		g, site := &cfg.Groups[i], d.sites[i]
		// A VIP must not be an address a node has permanently.
		for j, pf := range g.Addresses {
			p := d.itemPaths[site.key("addresses")][j]
			if cfg.Node.Bind.IsValid() && pf.Addr() == cfg.Node.Bind {
				d.add(d.at(p), p, "%s is node.bind, this node's own address; a VIP must be an address that no node has permanently", pf.Addr())
			} else if name, ok := peerAt[pf.Addr()]; ok {
				d.add(d.at(p), p, "%s is the address of peer %s; a VIP must be an address that no node has permanently", pf.Addr(), name)
			}
		}
		d.checkVRRP(g, site, cfg.Node.Bind)
	}
	if groupsSet {
		d.checkAcrossGroups(cfg)
		d.checkTrack(cfg)
	}

	if len(cfg.Groups) == 0 {
		return
	}
	// The one-group form's fields, until the node runs several groups.
	g := cfg.Groups[0]
	cfg.VIP = g.VIP()
	cfg.VIP.Addresses = slices.Clone(g.Addresses)
	cfg.Priority, cfg.Preempt, cfg.PreemptDelay, cfg.MinMoveInterval = g.Priority, g.Preempt, g.PreemptDelay, g.MinMoveInterval
	cfg.VRRP = g.VRRP
	cfg.VRRP.UnicastPeers = slices.Clone(g.VRRP.UnicastPeers)
}

// groupDefaults reports the keys groups[i] lacks and gives it the defaults it takes
// from the top level: priority, preempt, preempt_delay and min_move_interval are the
// top-level keys when set there, else their defaults.
func (d *decoder) groupDefaults(cfg *Config, i int) {
	g, site := &cfg.Groups[i], d.sites[i]
	set := func(key string) bool { _, ok := d.lines[site.key(key)]; return ok }
	missing := func(key, msg string) {
		if p := site.key(key); !set(key) && !d.suggested[p] {
			d.add(d.at(site.section), p, "%s", msg)
		}
	}
	missing("name", "missing; name the group, e.g. name: web (names are unique; metrics and notify's INSTANCE argument show them)")
	missing("interface", "missing; name the interface that carries the group's addresses, e.g. interface: eth0")
	missing("addresses", "missing; list the group's VIPs with their prefix length, e.g. addresses: [198.18.0.10/24]")
	if !set("priority") {
		g.Priority = cfg.Priority
	}
	if !set("preempt") {
		g.Preempt = cfg.Preempt
	}
	if !set("preempt_delay") {
		g.PreemptDelay = cfg.PreemptDelay
	}
	if !set("min_move_interval") {
		g.MinMoveInterval = cfg.MinMoveInterval
	}
}

// checkAcrossGroups checks the rules between the groups of groups:: no address in two
// groups, no VRID twice on one interface and family, and one placement policy per
// together set.
func (d *decoder) checkAcrossGroups(cfg *Config) {
	type addrAt struct {
		group int
		path  string
	}
	type vridKey struct {
		iface string
		v6    bool
		vrid  int
	}
	addrs := map[netip.Addr]addrAt{}
	vrids := map[vridKey]int{}   // -> index of the first group with it
	together := map[string]int{} // together name -> index of its first group
	for i := range cfg.Groups {
		g, site := &cfg.Groups[i], d.sites[i]
		for j, pf := range g.Addresses {
			p := d.itemPaths[site.key("addresses")][j]
			if first, dup := addrs[pf.Addr()]; dup {
				d.add(d.at(p), p, "%s is in group %s too (%s on line %d); an address belongs to one group: remove it from one of them",
					pf.Addr(), cfg.Groups[first.group].Name, first.path, d.at(first.path))
				continue
			}
			addrs[pf.Addr()] = addrAt{i, p}
		}

		vp := site.vrrp + ".vrid"
		if g.VRRP.Enabled && g.VRRP.VRID != 0 && !d.failed(site.vrrp) {
			_, v6 := families(g.Addresses)
			k := vridKey{g.VRRP.Interface, v6 > 0, g.VRRP.VRID}
			if first, dup := vrids[k]; dup {
				fp := d.sites[first].vrrp + ".vrid"
				d.add(d.at(vp), vp, "%d is the VRID of group %s too (%s on line %d), on %s; a VRRP router takes every advert of its VRID on its interface and family, whatever the version: give one of them another vrid",
					g.VRRP.VRID, cfg.Groups[first].Name, fp, d.at(fp), g.VRRP.Interface)
			} else {
				vrids[k] = i
			}
		}

		if g.Together == "" {
			continue
		}
		first, ok := together[g.Together]
		if !ok {
			together[g.Together] = i
			continue
		}
		f, fsite := cfg.Groups[first], d.sites[first]
		for _, c := range []struct {
			key       string
			same      bool
			mine, its any
		}{
			{"preempt", g.Preempt == f.Preempt, g.Preempt, f.Preempt},
			{"preempt_delay", g.PreemptDelay == f.PreemptDelay, g.PreemptDelay, f.PreemptDelay},
			{"min_move_interval", g.MinMoveInterval == f.MinMoveInterval, g.MinMoveInterval, f.MinMoveInterval},
		} {
			if c.same {
				continue
			}
			p := site.policy(c.key)
			if _, set := d.lines[p]; !set {
				p = site.key("together")
			}
			d.add(d.at(p), p, "this group's %s is %v, but group %s (%s), also in together set %s, has %v; the groups of a together set move as one, so they need the same %s: set it alike in each of them",
				c.key, c.mine, f.Name, fsite.section, g.Together, c.its, c.key)
		}
	}
}

// checkTrack checks that every tracked check exists.
func (d *decoder) checkTrack(cfg *Config) {
	if d.failed("checks") {
		return // a check with a bad name is not in cfg.Checks: do not blame track for it
	}
	names := make([]string, len(cfg.Checks))
	for i, c := range cfg.Checks {
		names[i] = c.Name
	}
	for i, g := range cfg.Groups {
		tp := d.sites[i].key("track")
		for j, name := range g.Track {
			if slices.Contains(names, name) {
				continue
			}
			p := d.itemPaths[tp][j]
			switch c, ok := closest(name, names); {
			case len(names) == 0:
				d.add(d.at(p), p, "%q is not a check: there are none; define it under checks:, or remove it from track", name)
			case ok:
				d.add(d.at(p), p, "%q is not a check; did you mean %q? (the checks are %s)", name, c, strings.Join(names, ", "))
			default:
				d.add(d.at(p), p, "%q is not a check; the checks are %s", name, strings.Join(names, ", "))
			}
		}
	}
}
