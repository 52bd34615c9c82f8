package cluster

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ConvertKeepalived turns one vrrp_instance of a keepalived.conf into a raftvip
// config whose vrrp section joins the same VRRP group, so that the node can run
// raftvip beside the keepalived nodes it leaves behind (issue 7, "Migration"). It is
// pure: the file's contents in, the YAML and the list of what was not converted out.

// KeepalivedConvertOptions is what a keepalived.conf cannot say.
type KeepalivedConvertOptions struct {
	// Instance is the vrrp_instance to convert; required when the file has several.
	Instance string
	// Name is node.name; "" leaves a placeholder.
	Name string
	// Bind is node.bind; "" takes unicast_src_ip (or mcast_src_ip), else leaves a
	// placeholder.
	Bind string
	// Peers are the other nodes of the raftvip cluster, name=ip or name=ip:port (port
	// default 7300). None: a cluster of this node alone.
	Peers []string
	// Insecure writes cluster.insecure: true (no TLS, no gossip encryption) instead
	// of leaving the tls and encrypt settings to fill in.
	Insecure bool
	// HAProxySocket, if set, turns checks that only look for a haproxy process
	// (killall -0 haproxy, pidof haproxy, pgrep haproxy, systemctl is-active haproxy)
	// into checks of type haproxy on this stats socket, which ask HAProxy itself.
	HAProxySocket string
}

// KeepalivedItem is one keepalived option that was not converted, or was converted
// with a difference worth knowing, and why.
type KeepalivedItem struct {
	Line   int    // line in the keepalived.conf; 0 for the file as a whole
	Option string // the option as written, e.g. "garp_master_delay 10"
	Why    string
}

func (it KeepalivedItem) String() string {
	var b strings.Builder
	if it.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", it.Line)
	}
	if it.Option != "" {
		b.WriteString(it.Option + ": ")
	}
	b.WriteString(it.Why)
	return b.String()
}

// KeepalivedConversion is the result of ConvertKeepalived.
type KeepalivedConversion struct {
	Instance string // the vrrp_instance converted
	YAML     string // the raftvip config, commented; it lists Unsupported and Notes at the top
	// Unsupported are the options not converted: raftvip does not need them, or does
	// not support them, and what to do instead. In file order.
	Unsupported []KeepalivedItem
	// Notes are options converted with a difference worth knowing. In file order.
	Notes []KeepalivedItem
	// Placeholders are the fields left for the operator to fill in, each with how
	// (e.g. "node.name: this node's name (--name)"). Empty: the YAML is a complete
	// config that Load accepts.
	Placeholders []string
}

// Placeholders written where a value is missing: Load rejects them with the field's
// name.
const (
	kaPlaceholderName = "<node-name>"
	kaPlaceholderBind = "<node-address>"
)

// ConvertKeepalived converts the vrrp_instance opts.Instance (the only one, if the
// file has one) of the keepalived.conf src; filename is used in messages. A file
// that cannot be read, or an instance that cannot be converted into a config that
// works (no VIPs, AH authentication, VIPs on two interfaces, a value raftvip
// rejects), is a *ConfigError whose FieldErrors give the keepalived.conf line.
func ConvertKeepalived(src, filename string, opts KeepalivedConvertOptions) (*KeepalivedConversion, error) {
	if !utf8.ValidString(src) {
		line := 1 + strings.Count(src[:kaFirstInvalid(src)], "\n")
		return nil, &ConfigError{Errors: []FieldError{{File: filename, Line: line, Msg: "is not valid UTF-8 text; save the file as UTF-8 (or ASCII) and convert again"}}}
	}
	conf, err := ParseKeepalived(src)
	if err != nil {
		var se *KeepalivedSyntaxError
		if errors.As(err, &se) {
			return nil, &ConfigError{Errors: []FieldError{{File: filename, Line: se.Line, Msg: se.Msg}}}
		}
		return nil, fmt.Errorf("keepalived: %s: %w", filename, err)
	}
	c := &kaConverter{file: filename, opts: opts, conf: conf, lines: map[string]int{}}
	c.convert()
	if len(c.errs) > 0 {
		return nil, c.err()
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	byLine := func(items []KeepalivedItem) {
		sort.SliceStable(items, func(i, j int) bool { return items[i].Line < items[j].Line })
	}
	byLine(c.unsupported)
	byLine(c.notes)
	out := c.render(false)
	return &KeepalivedConversion{
		Instance:     c.m.instance,
		YAML:         out,
		Unsupported:  c.unsupported,
		Notes:        c.notes,
		Placeholders: c.placeholders(),
	}, nil
}

// kaFirstInvalid is the index of the first byte of src that is not valid UTF-8.
func kaFirstInvalid(src string) int {
	for i, r := range src {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(src[i:]); size == 1 {
				return i
			}
		}
	}
	return len(src)
}

// kaModel is the converted instance, before it is written out.
type kaModel struct {
	instance  string
	state     string
	stateLine int

	name, bind        string // "" until known; placeholders are filled in when writing
	bindFrom          string // where bind came from: --bind, unicast_src_ip, mcast_src_ip
	peers             []Peer // the other nodes (--peer), this node not included
	clusterOfOne      bool
	securitySupported bool // this build knows cluster.insecure and cluster.tls
	iface, vrrpIface  string
	vips              []netip.Prefix
	priority          int
	preempt           bool
	preemptDelay      time.Duration
	garpRepeat        int           // -1: default
	garpRefresh       time.Duration // -1: default
	checks            []kaCheck
	notifyMaster      []string
	notifyBackup      []string
	notifyFault       []string
	notifyStop        []string
	notifyScript      []string
	notifyInstance    string
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
}

// kaCheck is one converted vrrp_script.
type kaCheck struct {
	cfg      CheckConfig
	line     int      // the vrrp_script
	comments []string // written above the check
}

type kaConverter struct {
	file  string
	opts  KeepalivedConvertOptions
	conf  *KeepalivedConf
	m     kaModel
	lines map[string]int // raftvip field path -> keepalived line, for validation errors

	errs        []FieldError
	unsupported []KeepalivedItem
	notes       []KeepalivedItem
}

func (c *kaConverter) fail(line int, field, format string, args ...any) {
	c.errs = append(c.errs, FieldError{File: c.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (c *kaConverter) err() error {
	sort.SliceStable(c.errs, func(i, j int) bool { return c.errs[i].Line < c.errs[j].Line })
	return &ConfigError{Errors: c.errs}
}

// skip lists st as not converted, with why.
func (c *kaConverter) skip(st *KeepalivedStatement, why string) {
	c.unsupported = append(c.unsupported, KeepalivedItem{Line: st.Line, Option: kaOption(st), Why: why})
}

func (c *kaConverter) note(line int, option, why string) {
	c.notes = append(c.notes, KeepalivedItem{Line: line, Option: option, Why: why})
}

// kaOption is a statement as written, shortened: its words, and { ... } for a block.
func kaOption(st *KeepalivedStatement) string {
	s := strings.Join(st.Words, " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	if st.BlockLine != 0 {
		s += " { ... }"
	}
	return s
}

// convert fills c.m from the file, or records why it cannot.
func (c *kaConverter) convert() {
	c.m = kaModel{priority: DefaultPriority, preempt: true, garpRepeat: -1, garpRefresh: -1, interval: DefaultVRRPInterval}
	c.m.securitySupported = slices.Contains(configSchema()["cluster"], "insecure")

	var instances []*KeepalivedStatement
	scripts := map[string]*KeepalivedStatement{}
	var scriptOrder []*KeepalivedStatement
	var syncGroups []*KeepalivedStatement
	globalVersion, globalVersionLine := 0, 0
	globalRepeat, globalRepeatLine := -1, 0
	globalRefresh, globalRefreshLine := time.Duration(-1), 0
	for _, st := range c.conf.Statements {
		key := st.Keyword()
		switch {
		case strings.HasPrefix(key, "@"):
			c.skip(st, kaNotSupported+"a line for one config_id only (keepalived -i); delete the lines of the other hosts, keep this host's without the @ prefix, and convert again")
			continue
		case strings.HasPrefix(key, "$"):
			c.skip(st, kaNotSupported+"keepalived parameter definitions are not expanded; write the values out and convert again")
			continue
		case strings.HasPrefix(key, "~SEQ"):
			c.skip(st, kaNotSupported+"keepalived sequences are not expanded; write the statements out and convert again")
			continue
		}
		switch key {
		case "vrrp_instance":
			instances = append(instances, st)
		case "vrrp_script":
			if len(st.Args()) != 1 || st.BlockLine == 0 {
				c.fail(st.Line, "vrrp_script", "write vrrp_script NAME { ... } (one name, then a block)")
				continue
			}
			if _, dup := scripts[st.Args()[0]]; dup {
				c.skip(st, kaNotSupported+"a second vrrp_script of this name; keepalived uses the first")
				continue
			}
			scripts[st.Args()[0]] = st
			scriptOrder = append(scriptOrder, st)
		case "vrrp_sync_group":
			syncGroups = append(syncGroups, st)
			c.skip(st, kaTopWhy(key))
		case "global_defs":
			for _, g := range st.Block {
				gk := g.Keyword()
				switch gk {
				case "vrrp_version":
					if v, ok := c.intArg(g, 2, 3, "vrrp_version is 2 or 3"); ok {
						globalVersion, globalVersionLine = v, g.Line
					}
					continue
				case "vrrp_garp_master_repeat":
					if v, ok := c.intArg(g, 0, 100, "raftvip sends 0 to 100 gratuitous ARPs"); ok {
						globalRepeat, globalRepeatLine = v, g.Line
					}
					continue
				case "vrrp_garp_master_refresh":
					if d, ok := c.secondsArg(g, 0, 24*time.Hour, "vrrp_garp_master_refresh is whole seconds, 0 (off) or more"); ok {
						globalRefresh, globalRefreshLine = kaRefresh(d), g.Line
					}
					continue
				}
				c.skip(g, kaGlobalWhy(gk))
			}
		default:
			c.skip(st, kaTopWhy(key))
		}
	}

	inst := c.pickInstance(instances)
	if inst == nil {
		return
	}
	c.m.instance = inst.Args()[0]
	for _, g := range syncGroups {
		for _, grp := range g.Block {
			if grp.Keyword() != "group" {
				continue
			}
			for _, member := range grp.Block {
				if slices.Contains(member.Words, c.m.instance) {
					c.note(g.Line, kaOption(g), fmt.Sprintf("%s is in this sync group: the VIPs of its other instances do not move with raftvip's; list every VIP in one instance first", c.m.instance))
				}
			}
		}
	}
	if globalVersion != 0 {
		c.m.version = globalVersion
		c.m.versionFromGlobal = true
		c.lines["vrrp.version"] = globalVersionLine
	}
	tracked := c.instance(inst, scripts)
	if c.m.garpRepeat < 0 && globalRepeat >= 0 {
		c.m.garpRepeat = globalRepeat
		c.lines["vip.garp.repeat"] = globalRepeatLine
	}
	if c.m.garpRefresh < 0 && globalRefresh >= 0 {
		c.m.garpRefresh = globalRefresh
		c.lines["vip.garp.refresh"] = globalRefreshLine
	}
	for _, s := range scriptOrder {
		if !tracked[s.Args()[0]] {
			c.skip(s, fmt.Sprintf("not converted: vrrp_instance %s does not track it (track_script)", c.m.instance))
		}
	}
	c.node()
}

// pickInstance returns the instance to convert, or records why there is none.
func (c *kaConverter) pickInstance(instances []*KeepalivedStatement) *KeepalivedStatement {
	var names []string
	var pick *KeepalivedStatement
	for _, st := range instances {
		if len(st.Args()) != 1 || st.BlockLine == 0 {
			c.fail(st.Line, "vrrp_instance", "write vrrp_instance NAME { ... } (one name, then a block)")
			return nil
		}
		names = append(names, st.Args()[0])
		if st.Args()[0] == c.opts.Instance {
			pick = st
		}
	}
	switch {
	case len(instances) == 0:
		c.fail(0, "", "no vrrp_instance in the file; raftvip keepalived convert converts a vrrp_instance into a raftvip config")
		return nil
	case c.opts.Instance != "" && pick == nil:
		c.fail(0, "--instance", "no vrrp_instance %s in the file; it has %s", c.opts.Instance, strings.Join(names, ", "))
		return nil
	case c.opts.Instance == "" && len(instances) > 1:
		c.fail(0, "--instance", "the file has %d vrrp_instances (%s); choose one with --instance NAME: a raftvip cluster holds one set of VIPs", len(instances), strings.Join(names, ", "))
		return nil
	case pick == nil:
		pick = instances[0]
	}
	for _, st := range instances {
		if st != pick {
			c.skip(st, fmt.Sprintf("not converted: only vrrp_instance %s is (--instance); a raftvip cluster holds one set of VIPs, convert this one into its own config with --instance %s", pick.Args()[0], st.Args()[0]))
		}
	}
	return pick
}

// kaScan is what instance gathers from the options of a vrrp_instance before it
// puts them together.
type kaScan struct {
	prioritySet      bool
	vipBlocks        int
	devs             []kaVIPDev // the dev of each VIP, "" for none
	ifaceLine        int
	trackStmts       []*KeepalivedStatement
	authLine         int
	authType         string
	authPass         string
	authPassLine     int
	preemptDelayLine int
}

// kaVIPDev is the dev of one VIP and its line.
type kaVIPDev struct {
	dev  string
	line int
}

// instance converts the vrrp_instance block and returns the scripts it tracks.
func (c *kaConverter) instance(inst *KeepalivedStatement, scripts map[string]*KeepalivedStatement) map[string]bool {
	m := &c.m
	var sc kaScan
	for _, st := range inst.Block {
		c.option(st, &sc)
	}
	c.interfaces(inst, &sc)
	if sc.vipBlocks == 0 || len(m.vips) == 0 && len(c.errs) == 0 {
		c.fail(inst.Line, "virtual_ipaddress", "vrrp_instance %s has no virtual_ipaddress; raftvip needs the VIPs to hold", m.instance)
	}
	if m.vrid == 0 {
		c.fail(inst.Line, "virtual_router_id", "vrrp_instance %s has no virtual_router_id; add the one the keepalived nodes use", m.instance)
	}
	c.family()
	c.interval()

	// Priority: keepalived derives it from state MASTER when it is not set.
	if !sc.prioritySet && m.state == "MASTER" {
		m.priority, m.priorityFromState = 254, true
		c.lines["priority"] = m.stateLine
		c.note(m.stateLine, "state MASTER", "without priority keepalived runs a MASTER as the address owner, priority 255, which raftvip never is; converted to priority 254")
	}
	if !m.preempt && sc.preemptDelayLine != 0 {
		c.note(sc.preemptDelayLine, "preempt_delay", "has no effect with nopreempt, in keepalived as in raftvip")
	}
	c.auth(&sc)
	v6 := len(m.vips) > 0 && m.vips[0].Addr().Is6()
	if len(m.unicastPeers) > 0 && m.unicastSrc.IsValid() && m.unicastSrc.Is6() != v6 {
		c.fail(c.lines["vrrp.unicast_src"], "unicast_src_ip", "%s is not of the VIPs' address family", m.unicastSrc)
	}
	if m.unicastSrc.IsValid() && len(m.unicastPeers) == 0 && m.unicastSrcFrom == "unicast_src_ip" {
		c.note(c.lines["vrrp.unicast_src"], "unicast_src_ip", "without unicast_peer keepalived sends to the multicast group; so does the converted config, from this address")
	}

	tracked := map[string]bool{}
	names := map[string]bool{}
	for _, st := range sc.trackStmts {
		for _, e := range st.Block {
			c.trackScript(e, scripts, tracked, names)
		}
	}
	if !m.dontTrackPrimary && m.iface != "" {
		c.note(sc.ifaceLine, "interface "+m.iface, "keepalived puts the instance in FAULT when "+m.iface+" goes down; raftvip does not watch the link (a node whose cluster traffic runs over it drops out of the cluster and loses the VIP that way); "+strings.ReplaceAll(kaLinkHint, "IF", m.iface))
	}
	if m.notifyScript != nil {
		if configNameProblem(m.instance) == "" {
			m.notifyInstance = m.instance
		} else {
			c.note(c.lines["notify.script"], "notify", fmt.Sprintf("the instance name %q cannot be notify.instance (letters, digits, - _ . only); the script is told %q instead", m.instance, DefaultNotifyInstance))
		}
	}
	return tracked
}

// option converts one option of the vrrp_instance block, or lists it as not
// converted.
func (c *kaConverter) option(st *KeepalivedStatement, sc *kaScan) {
	m := &c.m
	key := st.Keyword()
	if strings.HasPrefix(key, "@") || strings.HasPrefix(key, "$") {
		c.skip(st, kaNotSupported+"conditional lines and parameters are not expanded; write this host's values out and convert again")
		return
	}
	if key == "auth_hmac" {
		c.fail(st.Line, key, "raftvip cannot sign its adverts with auth_hmac, so keepalived would drop them; switch the group to auth_type PASS or no authentication first")
		return
	}
	if why := kaInstanceWhy(key); why != "" {
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
		m.state, m.stateLine = s, st.Line
	case "interface":
		if !c.argc(st, 1) {
			return
		}
		if msg := configIfaceProblem(st.Args()[0]); msg != "" {
			c.fail(st.Line, key, "%s", msg)
			return
		}
		m.iface, sc.ifaceLine = st.Args()[0], st.Line
	case "virtual_router_id":
		if v, ok := c.intArg(st, 1, 255, "a virtual_router_id is 1 to 255"); ok {
			m.vrid = v
			c.lines["vrrp.vrid"] = st.Line
		}
	case "priority":
		if v, ok := c.intArg(st, 1, 255, "a priority is 1 to 255"); ok {
			m.priority, sc.prioritySet = v, true
			c.lines["priority"] = st.Line
			if v == 255 {
				m.priority = 254
				c.note(st.Line, kaOption(st), "255 is VRRP's address owner, which raftvip never is (it does not own the VIP); converted to 254, the highest a router that is not the owner can have")
			}
		}
	case "advert_int":
		if d, ok := c.secondsArg(st, 10*time.Millisecond, 255*time.Second, "advert_int is 0.01 to 255 seconds"); ok {
			m.interval = d
			c.lines["vrrp.advert_interval"] = st.Line
		}
	case "version":
		if v, ok := c.intArg(st, 2, 3, "version is 2 or 3"); ok {
			m.version, m.versionFromGlobal = v, false
			c.lines["vrrp.version"] = st.Line
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
				c.skip(a, kaNotSupported+"authentication takes auth_type and auth_pass")
			}
		}
	case "nopreempt":
		m.preempt = false
		c.lines["preempt"] = st.Line
	case "preempt":
		m.preempt = true
		c.lines["preempt"] = st.Line
	case "preempt_delay":
		if d, ok := c.secondsArg(st, 0, MaxPreemptDelay, "preempt_delay is 0 to 1000 seconds"); ok {
			m.preemptDelay, sc.preemptDelayLine = d, st.Line
			c.lines["preempt_delay"] = st.Line
		}
	case "unicast_src_ip", "mcast_src_ip":
		if !c.argc(st, 1) {
			return
		}
		a, msg := configUnicastAddr(st.Args()[0])
		if msg != "" {
			c.fail(st.Line, key, "%s", msg)
			return
		}
		if m.unicastSrc.IsValid() && m.unicastSrc != a {
			c.note(st.Line, kaOption(st), fmt.Sprintf("replaces %s from %s: keepalived keeps the last source address set", m.unicastSrc, m.unicastSrcFrom))
		}
		m.unicastSrc, m.unicastSrcFrom = a, key
		c.lines["vrrp.unicast_src"] = st.Line
	case "unicast_peer":
		c.lines["vrrp.unicast_peers"] = st.Line
		for _, p := range st.Block {
			a, msg := configUnicastAddr(p.Keyword())
			if msg != "" {
				c.fail(p.Line, "unicast_peer", "%s", msg)
				continue
			}
			if len(p.Args()) > 0 {
				c.skip(p, kaNotSupported+"raftvip sends with TTL 255 and accepts only TTL 255, unicast too; the peer is converted without min_ttl/max_ttl")
			}
			if slices.Contains(m.unicastPeers, a) {
				c.note(p.Line, kaOption(p), "listed twice; converted once")
				continue
			}
			c.lines[fmt.Sprintf("vrrp.unicast_peers[%d]", len(m.unicastPeers))] = p.Line
			m.unicastPeers = append(m.unicastPeers, a)
		}
	case "virtual_ipaddress":
		sc.vipBlocks++
		if len(st.Args()) > 0 || st.BlockLine == 0 {
			c.fail(st.Line, key, "write virtual_ipaddress { ADDRESS[/LEN] [dev IF] ... } with one address a line")
			return
		}
		c.lines["vip.addresses"] = st.Line
		for _, e := range st.Block {
			pf, dev, ok := c.vip(e)
			if !ok {
				continue
			}
			if slices.ContainsFunc(m.vips, func(p netip.Prefix) bool { return p.Addr() == pf.Addr() }) {
				c.note(e.Line, kaOption(e), "listed twice; converted once")
				continue
			}
			c.lines[fmt.Sprintf("vip.addresses[%d]", len(m.vips))] = e.Line
			m.vips = append(m.vips, pf)
			sc.devs = append(sc.devs, kaVIPDev{dev, e.Line})
		}
	case "track_script":
		sc.trackStmts = append(sc.trackStmts, st)
	case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
		argv, ok := c.command(st)
		if !ok {
			return
		}
		dst := map[string]*[]string{"notify_master": &m.notifyMaster, "notify_backup": &m.notifyBackup,
			"notify_fault": &m.notifyFault, "notify_stop": &m.notifyStop, "notify": &m.notifyScript}[key]
		if *dst != nil {
			c.skip(st, kaNotSupported+"a second "+key+"; keepalived uses the first")
			return
		}
		*dst = argv
		field := "notify." + strings.TrimPrefix(strings.TrimPrefix(key, "notify"), "_")
		if key == "notify" {
			field = "notify.script"
		}
		c.lines[field] = st.Line
	case "garp_master_repeat":
		if v, ok := c.intArg(st, 0, 100, "raftvip sends 0 to 100 gratuitous ARPs"); ok {
			m.garpRepeat = v
			c.lines["vip.garp.repeat"] = st.Line
		}
	case "garp_master_refresh":
		if d, ok := c.secondsArg(st, 0, 24*time.Hour, "garp_master_refresh is whole seconds, 0 (off) or more"); ok {
			m.garpRefresh = kaRefresh(d)
			c.lines["vip.garp.refresh"] = st.Line
		}
	case "dont_track_primary":
		m.dontTrackPrimary = true
		c.skip(st, kaNotNeeded+"raftvip never puts a node in FAULT because vip.interface is down")
	}
}

// interfaces sets vip.interface and vrrp.interface: the instance's interface, unless
// every VIP names another one with dev.
func (c *kaConverter) interfaces(inst *KeepalivedStatement, sc *kaScan) {
	m := &c.m
	ifaces := map[string]bool{}
	for _, d := range sc.devs {
		dev := d.dev
		if dev == "" {
			dev = m.iface
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
		c.fail(c.lines["vip.addresses"], "virtual_ipaddress", "the VIPs are on %d interfaces (%s), but raftvip holds every VIP of a cluster on one interface (vip.interface); put them on one, or convert them as two instances", len(names), strings.Join(names, ", "))
	case len(sc.devs) > 0 && sc.devs[0].dev != "" && sc.devs[0].dev != m.iface:
		m.vrrpIface = m.iface
		m.iface = sc.devs[0].dev
		c.lines["vip.interface"] = sc.devs[0].line
		if m.vrrpIface != "" {
			c.lines["vrrp.interface"] = sc.ifaceLine
			c.note(sc.devs[0].line, "dev "+m.iface, fmt.Sprintf("the VIPs go on %s (vip.interface) and the adverts on %s (vrrp.interface)", m.iface, m.vrrpIface))
		}
	default:
		c.lines["vip.interface"] = sc.ifaceLine
	}
	if m.iface == "" {
		c.fail(inst.Line, "interface", "vrrp_instance %s has no interface, and its VIPs name none with dev; add interface IF", m.instance)
	}
}

// family checks that the VIPs are of one address family and sets the version:
// IPv6 VIPs make VRRPv3, as in keepalived.
func (c *kaConverter) family() {
	m := &c.m
	v6 := len(m.vips) > 0 && m.vips[0].Addr().Is6()
	for _, p := range m.vips {
		if p.Addr().Is6() != v6 {
			c.fail(c.lines["vip.addresses"], "virtual_ipaddress", "mixes IPv4 and IPv6 addresses; a VRRP instance advertises one family (keepalived requires it too): convert one family, the other goes in virtual_ipaddress_excluded of keepalived or its own instance")
			break
		}
	}
	switch {
	case v6 && m.version == 2:
		c.note(c.lines["vrrp.version"], "version 2", "the VIPs are IPv6, which keepalived and raftvip advertise with VRRPv3 only; converted to version 3")
		m.version = 3
	case v6:
		m.version = 3
	case m.version == 0:
		m.version = DefaultVRRPVersion
	}
}

// auth converts the authentication block: PASS with VRRPv2 only.
func (c *kaConverter) auth(sc *kaScan) {
	m := &c.m
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
	case m.version == 3:
		c.note(sc.authLine, "authentication", "VRRPv3 has no authentication and keepalived ignores it with version 3; converted without auth_pass")
	default:
		pass := sc.authPass
		if len(pass) > 8 {
			c.note(sc.authPassLine, "auth_pass", fmt.Sprintf("is %d bytes; VRRP carries 8 and keepalived uses the first 8, so the conversion does too", len(pass)))
			pass = pass[:8]
		}
		m.authPass = pass
		c.lines["vrrp.auth_pass"] = sc.authPassLine
	}
}

// interval rounds advert_int as keepalived does for the version.
func (c *kaConverter) interval() {
	m := &c.m
	line := c.lines["vrrp.advert_interval"]
	orig := m.interval
	if m.version == 2 {
		r := (m.interval + time.Second/2).Truncate(time.Second)
		if r == 0 {
			r = time.Second
		}
		m.interval = r
		if r != orig {
			c.note(line, "advert_int", fmt.Sprintf("VRRPv2 counts whole seconds; keepalived rounds %s to %s, and so does the conversion", kaDur(orig), kaDur(r)))
		}
		return
	}
	r := (m.interval + 5*time.Millisecond).Truncate(10 * time.Millisecond)
	r = max(10*time.Millisecond, min(r, 40950*time.Millisecond))
	m.interval = r
	if r != orig {
		c.note(line, "advert_int", fmt.Sprintf("VRRPv3 counts centiseconds from 0.01 to 40.95 s; keepalived makes %s %s, and so does the conversion", kaDur(orig), kaDur(r)))
	}
}

// vip converts one line of virtual_ipaddress.
func (c *kaConverter) vip(e *KeepalivedStatement) (netip.Prefix, string, bool) {
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
	if msg := configVIPProblem(pf); msg != "" {
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
			if msg := configIfaceProblem(val); msg != "" {
				c.fail(e.Line, "virtual_ipaddress", "dev %s", msg)
				return netip.Prefix{}, "", false
			}
			dev = val
		case "label":
			c.unsupported = append(c.unsupported, KeepalivedItem{Line: e.Line, Option: s + " label " + val, Why: kaNotSupported + "raftvip adds VIPs without a label (they show in ip addr, not in ifconfig)"})
		case "brd", "broadcast", "scope", "peer", "preferred_lft", "metric":
			c.unsupported = append(c.unsupported, KeepalivedItem{Line: e.Line, Option: s + " " + opt + " " + val, Why: kaNotSupported + "raftvip adds VIPs with the kernel's defaults for the prefix: global scope, the prefix's broadcast, preferred_lft 0 so they are never a source address"})
		case "no_track", "track_group":
			c.unsupported = append(c.unsupported, KeepalivedItem{Line: e.Line, Option: s + " " + strings.TrimSpace(opt+" "+val), Why: kaNotNeeded + "raftvip does not watch its VIPs' interface for FAULT"})
		default:
			c.unsupported = append(c.unsupported, KeepalivedItem{Line: e.Line, Option: s + " " + opt, Why: kaNotSupported + "raftvip adds VIPs with the kernel's defaults (IPv6: nodad)"})
		}
	}
	return pf, dev, true
}

// kaRefresh makes a GARP refresh interval one raftvip takes: 0 (off) or whole
// seconds, at least 1 s.
func kaRefresh(d time.Duration) time.Duration {
	if d != 0 && d < time.Second {
		d = time.Second
	}
	return d.Round(time.Second)
}

// configVIPProblem says what is wrong with a VIP, or "" if nothing.
func configVIPProblem(pf netip.Prefix) string {
	_, msg := configParseVIP(pf.String())
	return msg
}

// argc checks that st has n arguments.
func (c *kaConverter) argc(st *KeepalivedStatement, n int) bool {
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
func (c *kaConverter) intArg(st *KeepalivedStatement, lo, hi int, why string) (int, bool) {
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
func (c *kaConverter) secondsArg(st *KeepalivedStatement, lo, hi time.Duration, why string) (time.Duration, bool) {
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

// node fills in the node and the cluster from the options.
func (c *kaConverter) node() {
	m := &c.m
	o := c.opts
	if o.Name != "" {
		if msg := configNameProblem(o.Name); msg != "" {
			c.fail(0, "--name", "%q %s", o.Name, msg)
		} else {
			m.name = o.Name
		}
	}
	switch {
	case o.Bind != "":
		a, msg := configUnicastAddr(o.Bind)
		if msg != "" {
			c.fail(0, "--bind", "%s", msg)
			break
		}
		m.bind, m.bindFrom = a.String(), "--bind"
		if m.unicastSrc.IsValid() && m.unicastSrc != a {
			c.note(c.lines["vrrp.unicast_src"], m.unicastSrcFrom+" "+m.unicastSrc.String(), "differs from --bind "+a.String()+": Raft and gossip use "+a.String()+", the adverts go out from "+m.unicastSrc.String())
		}
	case m.unicastSrc.IsValid():
		m.bind, m.bindFrom = m.unicastSrc.String(), m.unicastSrcFrom
	}
	self := ""
	if m.name != "" {
		self = m.name
	}
	seen := map[string]bool{}
	for _, s := range o.Peers {
		p, msg := kaParsePeer(s)
		if msg != "" {
			c.fail(0, "--peer", "%s", msg)
			continue
		}
		if seen[p.Name] {
			c.fail(0, "--peer", "%s is given twice", p.Name)
			continue
		}
		seen[p.Name] = true
		if p.Name == self {
			want := netip.AddrPortFrom(netip.MustParseAddr(kaOr(m.bind, "0.0.0.0")), DefaultRaftPort)
			if m.bind != "" && p.Addr != want {
				c.fail(0, "--peer", "%s is this node (--name), listed at %s, but its address is %s (node.bind:7300)", s, p.Addr, want)
				continue
			}
			if m.bind == "" {
				m.bind, m.bindFrom = p.Addr.Addr().String(), "--peer "+s
			}
			continue
		}
		m.peers = append(m.peers, p)
	}
	m.clusterOfOne = len(m.peers) == 0
	if m.clusterOfOne {
		c.note(0, "", "no --peer: cluster.peers lists this node alone, a cluster of one that holds the VIP by itself while VRRP arbitrates with the keepalived nodes; for a cluster of three convert each node's file with the same --peer list (every other node)")
	}
	if o.Insecure && !m.securitySupported {
		c.note(0, "--insecure", "this raftvip has no cluster.insecure setting (it does not require TLS yet); not written")
	}
}

// kaParsePeer parses --peer name=ip or name=ip:port.
func kaParsePeer(s string) (Peer, string) {
	name, addr, ok := strings.Cut(s, "=")
	if ok {
		if a, err := netip.ParseAddr(strings.Trim(addr, "[]")); err == nil {
			s = name + "=" + netip.AddrPortFrom(a, DefaultRaftPort).String()
		}
	}
	p, msg := configParsePeer(s)
	if msg != "" {
		return Peer{}, strings.ReplaceAll(msg, "name=ip:port", "name=ip or name=ip:port")
	}
	return p, ""
}

func kaOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// placeholders lists what the operator must still fill in.
func (c *kaConverter) placeholders() []string {
	var out []string
	if c.m.name == "" {
		out = append(out, "node.name and its entry in cluster.peers: this node's name (--name)")
	}
	if c.m.bind == "" {
		out = append(out, "node.bind and its entry in cluster.peers: this node's address (--bind)")
	}
	if c.m.securitySupported && !c.opts.Insecure {
		out = append(out, "cluster.tls and cluster.encrypt: certificates from raftvip tls ca and raftvip tls cert, a key from raftvip keygen (or --insecure)")
	}
	return out
}

// validate loads the config with the placeholders filled in, and reports what raftvip
// rejects at the keepalived.conf line it came from.
func (c *kaConverter) validate() error {
	data := c.render(true)
	_, err := parseConfig([]byte(data), c.file, func() (string, error) { return "", errors.New("no hostname in a conversion") })
	if err == nil {
		return nil
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		return fmt.Errorf("keepalived: %s: the converted config does not load: %w", c.file, err)
	}
	var out []FieldError
	for _, fe := range ce.Errors {
		line := 0
		best := -1
		for p, l := range c.lines {
			if (fe.Field == p || strings.HasPrefix(fe.Field, p+".") || strings.HasPrefix(fe.Field, p+"[")) && len(p) > best {
				line, best = l, len(p)
			}
		}
		out = append(out, FieldError{File: c.file, Line: line, Field: "raftvip " + fe.Field, Msg: fe.Msg})
	}
	return &ConfigError{Errors: out}
}
