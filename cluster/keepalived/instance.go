package keepalived

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/raftvip/raftvip/cluster/config"
)

// group is one converted vrrp_instance: the one group of the vip: form, or an item
// of groups:.
type group struct {
	instance   string // the vrrp_instance's name
	line       int    // the vrrp_instance's line
	name       string // the group's name in groups:, from the instance's
	index      int    // in groups:
	groupsForm bool   // written as an item of groups:, not as vip:
	together   string // the together set, from a vrrp_sync_group; "" for none

	state     string
	stateLine int

	iface, vrrpIface  string
	vips              []netip.Prefix
	priority          int
	preempt           bool
	preemptDelay      time.Duration
	garpRepeat        int           // -1: default
	garpRefresh       time.Duration // -1: default
	track             []string      // the names of the checks it tracks
	hooks             hookSet
	version           int
	vrid              int
	interval          time.Duration
	authPass          string
	unicastSrc        netip.Addr
	unicastSrcFrom    string
	unicastPeers      []netip.Addr
	dontTrackPrimary  bool
	priorityFromState bool
	versionFromGlobal bool

	// lines maps a key, by its path in the vip: form ("vip.addresses", "priority",
	// "vrrp.vrid"), to the keepalived line it came from.
	lines map[string]int
}

// path is where key, a path of the vip: form, is in the written config.
func (g *group) path(key string) string {
	if !g.groupsForm {
		return key
	}
	return fmt.Sprintf("groups[%d].", g.index) + strings.TrimPrefix(key, "vip.")
}

// what is what holds the group's VIPs, in a message.
func (g *group) what() string {
	if g.groupsForm {
		return "a group"
	}
	return "a cluster"
}

// instanceScan is what instance gathers from the options of a vrrp_instance before it
// puts them together.
type instanceScan struct {
	prioritySet      bool
	vipBlocks        int
	devs             []vipDev // the dev of each VIP, "" for none
	ifaceLine        int
	trackStmts       []*Statement
	authLine         int
	authType         string
	authPass         string
	authPassLine     int
	preemptDelayLine int
}

// vipDev is the dev of one VIP and its line.
type vipDev struct {
	dev  string
	line int
}

// instance converts the vrrp_instance block into g.
func (c *converter) instance(inst *Statement, g *group) {
	var sc instanceScan
	for _, st := range inst.Block {
		c.option(st, g, &sc)
	}
	c.interfaces(inst, g, &sc)
	if sc.vipBlocks == 0 || len(g.vips) == 0 && len(c.errs) == 0 {
		c.fail(inst.Line, "virtual_ipaddress", "vrrp_instance %s has no virtual_ipaddress; raftvip needs the VIPs to hold", g.instance)
	}
	if g.vrid == 0 {
		c.fail(inst.Line, "virtual_router_id", "vrrp_instance %s has no virtual_router_id; add the one the keepalived nodes use", g.instance)
	}
	c.family(g)
	c.interval(g)

	// Priority: keepalived derives it from state MASTER when it is not set.
	if !sc.prioritySet && g.state == "MASTER" {
		g.priority, g.priorityFromState = 254, true
		g.lines["priority"] = g.stateLine
		c.note(g.stateLine, "state MASTER", "without priority keepalived runs a MASTER as the address owner, priority 255, which raftvip never is; converted to priority 254")
	}
	if !g.preempt && sc.preemptDelayLine != 0 {
		c.note(sc.preemptDelayLine, "preempt_delay", "has no effect with nopreempt, in keepalived as in raftvip")
	}
	c.auth(g, &sc)
	v6 := len(g.vips) > 0 && g.vips[0].Addr().Is6()
	if len(g.unicastPeers) > 0 && g.unicastSrc.IsValid() && g.unicastSrc.Is6() != v6 {
		c.fail(g.lines["vrrp.unicast_src"], "unicast_src_ip", "%s is not of the VIPs' address family", g.unicastSrc)
	}
	if g.unicastSrc.IsValid() && len(g.unicastPeers) == 0 && g.unicastSrcFrom == "unicast_src_ip" {
		c.note(g.lines["vrrp.unicast_src"], "unicast_src_ip", "without unicast_peer keepalived sends to the multicast group; so does the converted config, from this address")
	}

	tracked := map[string]bool{}
	for _, st := range sc.trackStmts {
		for _, e := range st.Block {
			c.trackScript(e, g, tracked)
		}
	}
	if g.track == nil {
		g.track = []string{}
	}
	if len(sc.trackStmts) > 0 {
		g.lines["track"] = sc.trackStmts[0].Line
	}
	if !g.dontTrackPrimary && g.iface != "" {
		c.note(sc.ifaceLine, "interface "+g.iface, "keepalived puts the instance in FAULT when "+g.iface+" goes down; raftvip does not watch the link (a node whose cluster traffic runs over it drops out of the cluster and loses the VIP that way); "+strings.ReplaceAll(linkHint, "IF", g.iface))
	}
}

// option converts one option of the vrrp_instance block, or lists it as not
// converted.
func (c *converter) option(st *Statement, g *group, sc *instanceScan) {
	key := st.Keyword()
	if strings.HasPrefix(key, "@") || strings.HasPrefix(key, "$") {
		c.skip(st, notSupported+"conditional lines and parameters are not expanded; write this host's values out and convert again")
		return
	}
	if key == "auth_hmac" {
		c.fail(st.Line, key, "raftvip cannot sign its adverts with auth_hmac, so keepalived would drop them; switch the group to auth_type PASS or no authentication first")
		return
	}
	if why := instanceWhy(key); why != "" {
		c.skip(st, why)
		return
	}
	switch key {
	case "state":
		if !c.argc(st, 1) {
			return
		}
		s := strings.ToUpper(st.Args()[0])
		if s != "MASTER" && s != "BACKUP" {
			c.fail(st.Line, key, "%q is not MASTER or BACKUP", st.Args()[0])
			return
		}
		g.state, g.stateLine = s, st.Line
	case "interface":
		if !c.argc(st, 1) {
			return
		}
		if msg := config.InterfaceProblem(st.Args()[0]); msg != "" {
			c.fail(st.Line, key, "%s", msg)
			return
		}
		g.iface, sc.ifaceLine = st.Args()[0], st.Line
	case "virtual_router_id":
		if v, ok := c.intArg(st, 1, 255, "a virtual_router_id is 1 to 255"); ok {
			g.vrid = v
			g.lines["vrrp.vrid"] = st.Line
		}
	case "priority":
		if v, ok := c.intArg(st, 1, 255, "a priority is 1 to 255"); ok {
			g.priority, sc.prioritySet = v, true
			g.lines["priority"] = st.Line
			if v == 255 {
				g.priority = 254
				c.note(st.Line, optionText(st), "255 is VRRP's address owner, which raftvip never is (it does not own the VIP); converted to 254, the highest a router that is not the owner can have")
			}
		}
	case "advert_int":
		if d, ok := c.secondsArg(st, 10*time.Millisecond, 255*time.Second, "advert_int is 0.01 to 255 seconds"); ok {
			g.interval = d
			g.lines["vrrp.advert_interval"] = st.Line
		}
	case "version":
		if v, ok := c.intArg(st, 2, 3, "version is 2 or 3"); ok {
			g.version, g.versionFromGlobal = v, false
			g.lines["vrrp.version"] = st.Line
		}
	case "authentication":
		sc.authLine = st.Line
		for _, a := range st.Block {
			switch a.Keyword() {
			case "auth_type":
				if c.argc(a, 1) {
					sc.authType = strings.ToUpper(a.Args()[0])
				}
			case "auth_pass":
				if c.argc(a, 1) {
					sc.authPass, sc.authPassLine = a.Args()[0], a.Line
				}
			default:
				c.skip(a, notSupported+"authentication takes auth_type and auth_pass")
			}
		}
	case "nopreempt":
		g.preempt = false
		g.lines["preempt"] = st.Line
	case "preempt":
		g.preempt = true
		g.lines["preempt"] = st.Line
	case "preempt_delay":
		if d, ok := c.secondsArg(st, 0, config.MaxPreemptDelay, "preempt_delay is 0 to 1000 seconds"); ok {
			g.preemptDelay, sc.preemptDelayLine = d, st.Line
			g.lines["preempt_delay"] = st.Line
		}
	case "unicast_src_ip", "mcast_src_ip":
		if !c.argc(st, 1) {
			return
		}
		a, msg := config.UnicastAddr(st.Args()[0])
		if msg != "" {
			c.fail(st.Line, key, "%s", msg)
			return
		}
		if g.unicastSrc.IsValid() && g.unicastSrc != a {
			c.note(st.Line, optionText(st), fmt.Sprintf("replaces %s from %s: keepalived keeps the last source address set", g.unicastSrc, g.unicastSrcFrom))
		}
		g.unicastSrc, g.unicastSrcFrom = a, key
		g.lines["vrrp.unicast_src"] = st.Line
	case "unicast_peer":
		g.lines["vrrp.unicast_peers"] = st.Line
		for _, p := range st.Block {
			a, msg := config.UnicastAddr(p.Keyword())
			if msg != "" {
				c.fail(p.Line, "unicast_peer", "%s", msg)
				continue
			}
			if len(p.Args()) > 0 {
				c.skip(p, notSupported+"raftvip sends with TTL 255 and accepts only TTL 255, unicast too; the peer is converted without min_ttl/max_ttl")
			}
			if slices.Contains(g.unicastPeers, a) {
				c.note(p.Line, optionText(p), "listed twice; converted once")
				continue
			}
			g.lines[fmt.Sprintf("vrrp.unicast_peers[%d]", len(g.unicastPeers))] = p.Line
			g.unicastPeers = append(g.unicastPeers, a)
		}
	case "virtual_ipaddress":
		sc.vipBlocks++
		if len(st.Args()) > 0 || st.BlockLine == 0 {
			c.fail(st.Line, key, "write virtual_ipaddress { ADDRESS[/LEN] [dev IF] ... } with one address a line")
			return
		}
		g.lines["vip.addresses"] = st.Line
		for _, e := range st.Block {
			pf, dev, ok := c.vip(e)
			if !ok {
				continue
			}
			if slices.ContainsFunc(g.vips, func(p netip.Prefix) bool { return p.Addr() == pf.Addr() }) {
				c.note(e.Line, optionText(e), "listed twice; converted once")
				continue
			}
			g.lines[fmt.Sprintf("vip.addresses[%d]", len(g.vips))] = e.Line
			g.vips = append(g.vips, pf)
			sc.devs = append(sc.devs, vipDev{dev, e.Line})
		}
	case "track_script":
		sc.trackStmts = append(sc.trackStmts, st)
	case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
		argv, ok := c.command(st)
		if !ok {
			return
		}
		h := &g.hooks[hookIndex(key)]
		if h.st != nil {
			c.skip(st, notSupported+"a second "+key+"; keepalived uses the first")
			return
		}
		*h = hook{argv: argv, st: st}
	case "garp_master_repeat":
		if v, ok := c.intArg(st, 0, 100, "raftvip sends 0 to 100 gratuitous ARPs"); ok {
			g.garpRepeat = v
			g.lines["vip.garp.repeat"] = st.Line
		}
	case "garp_master_refresh":
		if d, ok := c.secondsArg(st, 0, 24*time.Hour, "garp_master_refresh is whole seconds, 0 (off) or more"); ok {
			g.garpRefresh = garpRefresh(d)
			g.lines["vip.garp.refresh"] = st.Line
		}
	case "dont_track_primary":
		g.dontTrackPrimary = true
		c.skip(st, notNeeded+"raftvip never puts a node in FAULT because vip.interface is down")
	}
}

// interfaces sets vip.interface and vrrp.interface: the instance's interface, unless
// every VIP names another one with dev.
func (c *converter) interfaces(inst *Statement, g *group, sc *instanceScan) {
	ifaces := map[string]bool{}
	for _, d := range sc.devs {
		dev := d.dev
		if dev == "" {
			dev = g.iface
		}
		ifaces[dev] = true
	}
	delete(ifaces, "")
	switch {
	case len(ifaces) > 1:
		names := make([]string, 0, len(ifaces))
		for n := range ifaces {
			names = append(names, n)
		}
		sort.Strings(names)
		c.fail(g.lines["vip.addresses"], "virtual_ipaddress", "the VIPs are on %d interfaces (%s), but raftvip holds every VIP of %s on one interface (%s); put them on one, or convert them as two instances", len(names), strings.Join(names, ", "), g.what(), g.path("vip.interface"))
	case len(sc.devs) > 0 && sc.devs[0].dev != "" && sc.devs[0].dev != g.iface:
		g.vrrpIface = g.iface
		g.iface = sc.devs[0].dev
		g.lines["vip.interface"] = sc.devs[0].line
		if g.vrrpIface != "" {
			g.lines["vrrp.interface"] = sc.ifaceLine
			c.note(sc.devs[0].line, "dev "+g.iface, fmt.Sprintf("the VIPs go on %s (%s) and the adverts on %s (%s)", g.iface, g.path("vip.interface"), g.vrrpIface, g.path("vrrp.interface")))
		}
	default:
		g.lines["vip.interface"] = sc.ifaceLine
	}
	if g.iface == "" {
		c.fail(inst.Line, "interface", "vrrp_instance %s has no interface, and its VIPs name none with dev; add interface IF", g.instance)
	}
}

// family checks that the VIPs are of one address family and sets the version:
// IPv6 VIPs make VRRPv3, as in keepalived.
func (c *converter) family(g *group) {
	v6 := len(g.vips) > 0 && g.vips[0].Addr().Is6()
	for _, p := range g.vips {
		if p.Addr().Is6() != v6 {
			c.fail(g.lines["vip.addresses"], "virtual_ipaddress", "mixes IPv4 and IPv6 addresses; a VRRP instance advertises one family (keepalived requires it too): convert one family, the other goes in virtual_ipaddress_excluded of keepalived or its own instance")
			break
		}
	}
	switch {
	case v6 && g.version == 2:
		c.note(g.lines["vrrp.version"], "version 2", "the VIPs are IPv6, which keepalived and raftvip advertise with VRRPv3 only; converted to version 3")
		g.version = 3
	case v6:
		g.version = 3
	case g.version == 0:
		g.version = config.DefaultVRRPVersion
	}
}

// auth converts the authentication block: PASS with VRRPv2 only.
func (c *converter) auth(g *group, sc *instanceScan) {
	switch {
	case sc.authLine == 0:
	case sc.authType == "AH":
		c.fail(sc.authLine, "authentication", "auth_type AH is not supported: raftvip cannot authenticate adverts with IPsec AH, so keepalived would drop them; switch the keepalived nodes to auth_type PASS (or no authentication) first")
	case sc.authType != "PASS" && sc.authType != "":
		c.fail(sc.authLine, "authentication", "auth_type %s is not PASS or AH", sc.authType)
	case sc.authType == "" && sc.authPass != "":
		c.note(sc.authLine, "authentication", "has auth_pass but no auth_type, so keepalived sends no authentication; converted without auth_pass")
	case sc.authPass == "":
		c.fail(sc.authLine, "authentication", "auth_type PASS without auth_pass; add the password the keepalived nodes use")
	case g.version == 3:
		c.note(sc.authLine, "authentication", "VRRPv3 has no authentication and keepalived ignores it with version 3; converted without auth_pass")
	default:
		pass := sc.authPass
		if len(pass) > 8 {
			c.note(sc.authPassLine, "auth_pass", fmt.Sprintf("is %d bytes; VRRP carries 8 and keepalived uses the first 8, so the conversion does too", len(pass)))
			pass = pass[:8]
		}
		g.authPass = pass
		g.lines["vrrp.auth_pass"] = sc.authPassLine
	}
}

// interval rounds advert_int as keepalived does for the version.
func (c *converter) interval(g *group) {
	line := g.lines["vrrp.advert_interval"]
	orig := g.interval
	if g.version == 2 {
		r := (g.interval + time.Second/2).Truncate(time.Second)
		if r == 0 {
			r = time.Second
		}
		g.interval = r
		if r != orig {
			c.note(line, "advert_int", fmt.Sprintf("VRRPv2 counts whole seconds; keepalived rounds %s to %s, and so does the conversion", yamlDur(orig), yamlDur(r)))
		}
		return
	}
	r := (g.interval + 5*time.Millisecond).Truncate(10 * time.Millisecond)
	r = max(10*time.Millisecond, min(r, 40950*time.Millisecond))
	g.interval = r
	if r != orig {
		c.note(line, "advert_int", fmt.Sprintf("VRRPv3 counts centiseconds from 0.01 to 40.95 s; keepalived makes %s %s, and so does the conversion", yamlDur(orig), yamlDur(r)))
	}
}

// vip converts one line of virtual_ipaddress.
func (c *converter) vip(e *Statement) (netip.Prefix, string, bool) {
	s := e.Keyword()
	pf, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil {
			c.fail(e.Line, "virtual_ipaddress", "%q is not an address with or without a prefix length", s)
			return netip.Prefix{}, "", false
		}
		a = a.Unmap()
		pf = netip.PrefixFrom(a, a.BitLen())
		c.note(e.Line, s, fmt.Sprintf("no prefix length: keepalived adds it as /%d, and so does the converted config; write the subnet's length (e.g. /%d) if clients should reach it with a subnet route on %s", a.BitLen(), map[bool]int{true: 24, false: 64}[a.Is4()], "the interface"))
	}
	if msg := vipProblem(pf); msg != "" {
		c.fail(e.Line, "virtual_ipaddress", "%s", msg)
		return netip.Prefix{}, "", false
	}
	dev := ""
	args := e.Args()
	withValue := map[string]bool{"dev": true, "brd": true, "broadcast": true, "scope": true, "label": true, "peer": true, "preferred_lft": true, "track_group": true, "metric": true}
	for i := 0; i < len(args); i++ {
		opt := args[i]
		val := ""
		if withValue[opt] {
			if i+1 == len(args) {
				c.fail(e.Line, "virtual_ipaddress", "%s has no value", opt)
				return netip.Prefix{}, "", false
			}
			i++
			val = args[i]
		}
		switch opt {
		case "dev":
			if msg := config.InterfaceProblem(val); msg != "" {
				c.fail(e.Line, "virtual_ipaddress", "dev %s", msg)
				return netip.Prefix{}, "", false
			}
			dev = val
		case "label":
			c.unsupported = append(c.unsupported, Item{Line: e.Line, Option: s + " label " + val, Why: notSupported + "raftvip adds VIPs without a label (they show in ip addr, not in ifconfig)"})
		case "brd", "broadcast", "scope", "peer", "preferred_lft", "metric":
			c.unsupported = append(c.unsupported, Item{Line: e.Line, Option: s + " " + opt + " " + val, Why: notSupported + "raftvip adds VIPs with the kernel's defaults for the prefix: global scope, the prefix's broadcast, preferred_lft 0 so they are never a source address"})
		case "no_track", "track_group":
			c.unsupported = append(c.unsupported, Item{Line: e.Line, Option: s + " " + strings.TrimSpace(opt+" "+val), Why: notNeeded + "raftvip does not watch its VIPs' interface for FAULT"})
		default:
			c.unsupported = append(c.unsupported, Item{Line: e.Line, Option: s + " " + opt, Why: notSupported + "raftvip adds VIPs with the kernel's defaults (IPv6: nodad)"})
		}
	}
	return pf, dev, true
}

// garpRefresh makes a GARP refresh interval one raftvip takes: 0 (off) or whole
// seconds, at least 1 s.
func garpRefresh(d time.Duration) time.Duration {
	if d != 0 && d < time.Second {
		d = time.Second
	}
	return d.Round(time.Second)
}

// vipProblem says what is wrong with a VIP, or "" if nothing.
func vipProblem(pf netip.Prefix) string {
	_, msg := config.ParseVIP(pf.String())
	return msg
}

// argc checks that st has n arguments.
func (c *converter) argc(st *Statement, n int) bool {
	if len(st.Args()) != n {
		what := "one value"
		if n != 1 {
			what = fmt.Sprintf("%d values", n)
		}
		c.fail(st.Line, st.Keyword(), "takes %s, found %d (%s); keepalived reads one keyword a line", what, len(st.Args()), strings.Join(st.Args(), " "))
		return false
	}
	return true
}

// intArg reads the one whole-number argument of st, in [lo, hi].
func (c *converter) intArg(st *Statement, lo, hi int, why string) (int, bool) {
	if !c.argc(st, 1) {
		return 0, false
	}
	v, err := strconv.Atoi(st.Args()[0])
	if err != nil || v < lo || v > hi {
		c.fail(st.Line, st.Keyword(), "%q: %s", st.Args()[0], why)
		return 0, false
	}
	return v, true
}

// secondsArg reads the one argument of st, decimal seconds, in [lo, hi].
func (c *converter) secondsArg(st *Statement, lo, hi time.Duration, why string) (time.Duration, bool) {
	if !c.argc(st, 1) {
		return 0, false
	}
	s := st.Args()[0]
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || strings.ContainsAny(s, "eEnNxXpP+") || f < 0 {
		c.fail(st.Line, st.Keyword(), "%q is not a number of seconds; %s", s, why)
		return 0, false
	}
	d := time.Duration(math.Round(f*1000)) * time.Millisecond
	if f > hi.Seconds() || d < lo || d > hi {
		c.fail(st.Line, st.Keyword(), "%q is out of range; %s", s, why)
		return 0, false
	}
	return d, true
}
