package keepalived

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/raftvip/raftvip/cluster/config"
)

// Options is what a keepalived.conf cannot say.
type Options struct {
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

// Item is one keepalived option that was not converted, or was converted
// with a difference worth knowing, and why.
type Item struct {
	Line   int    // line in the keepalived.conf; 0 for the file as a whole
	Option string // the option as written, e.g. "garp_master_delay 10"
	Why    string
}

func (it Item) String() string {
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

// Conversion is the result of Convert.
type Conversion struct {
	Instance string // the vrrp_instance converted
	YAML     string // the raftvip config, commented; it lists Unsupported and Notes at the top
	// Unsupported are the options not converted: raftvip does not need them, or does
	// not support them, and what to do instead. In file order.
	Unsupported []Item
	// Notes are options converted with a difference worth knowing. In file order.
	Notes []Item
	// Placeholders are the fields left for the operator to fill in, each with how
	// (e.g. "node.name: this node's name (--name)"). Empty: the YAML is a complete
	// config that Load accepts.
	Placeholders []string
}

// Placeholders written where a value is missing: Load rejects them with the field's
// name.
const (
	placeholderName = "<node-name>"
	placeholderBind = "<node-address>"
)

// Convert converts the vrrp_instance opts.Instance (the only one, if the
// file has one) of the keepalived.conf src; filename is used in messages. A file
// that cannot be read, or an instance that cannot be converted into a config that
// works (no VIPs, AH authentication, VIPs on two interfaces, a value raftvip
// rejects), is a *config.Error whose FieldErrors give the keepalived.conf line.
func Convert(src, filename string, opts Options) (*Conversion, error) {
	if !utf8.ValidString(src) {
		line := 1 + strings.Count(src[:firstInvalid(src)], "\n")
		return nil, &config.Error{Errors: []config.FieldError{{File: filename, Line: line, Msg: "is not valid UTF-8 text; save the file as UTF-8 (or ASCII) and convert again"}}}
	}
	conf, err := Parse(src)
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			return nil, &config.Error{Errors: []config.FieldError{{File: filename, Line: se.Line, Msg: se.Msg}}}
		}
		return nil, fmt.Errorf("keepalived: %s: %w", filename, err)
	}
	c := &converter{file: filename, opts: opts, conf: conf, lines: map[string]int{}}
	c.convert()
	if len(c.errs) > 0 {
		return nil, c.err()
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	byLine := func(items []Item) {
		sort.SliceStable(items, func(i, j int) bool { return items[i].Line < items[j].Line })
	}
	byLine(c.unsupported)
	byLine(c.notes)
	out := c.render(false)
	return &Conversion{
		Instance:     c.m.instance,
		YAML:         out,
		Unsupported:  c.unsupported,
		Notes:        c.notes,
		Placeholders: c.placeholders(),
	}, nil
}

// firstInvalid is the index of the first byte of src that is not valid UTF-8.
func firstInvalid(src string) int {
	for i, r := range src {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(src[i:]); size == 1 {
				return i
			}
		}
	}
	return len(src)
}

// model is the converted instance, before it is written out.
type model struct {
	instance  string
	state     string
	stateLine int

	name, bind        string        // "" until known; placeholders are filled in when writing
	bindFrom          string        // where bind came from: --bind, unicast_src_ip, mcast_src_ip
	peers             []config.Peer // the other nodes (--peer), this node not included
	clusterOfOne      bool
	iface, vrrpIface  string
	vips              []netip.Prefix
	priority          int
	preempt           bool
	preemptDelay      time.Duration
	garpRepeat        int           // -1: default
	garpRefresh       time.Duration // -1: default
	checks            []convCheck
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

// convCheck is one converted vrrp_script.
type convCheck struct {
	cfg      config.CheckConfig
	line     int      // the vrrp_script
	comments []string // written above the check
}

type converter struct {
	file  string
	opts  Options
	conf  *Conf
	m     model
	lines map[string]int // raftvip field path -> keepalived line, for validation errors

	errs        []config.FieldError
	unsupported []Item
	notes       []Item
}

func (c *converter) fail(line int, field, format string, args ...any) {
	c.errs = append(c.errs, config.FieldError{File: c.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (c *converter) err() error {
	sort.SliceStable(c.errs, func(i, j int) bool { return c.errs[i].Line < c.errs[j].Line })
	return &config.Error{Errors: c.errs}
}

// skip lists st as not converted, with why.
func (c *converter) skip(st *Statement, why string) {
	c.unsupported = append(c.unsupported, Item{Line: st.Line, Option: optionText(st), Why: why})
}

func (c *converter) note(line int, option, why string) {
	c.notes = append(c.notes, Item{Line: line, Option: option, Why: why})
}

// optionText is a statement as written, shortened: its words, and { ... } for a block.
func optionText(st *Statement) string {
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
func (c *converter) convert() {
	c.m = model{priority: config.DefaultPriority, preempt: true, garpRepeat: -1, garpRefresh: -1, interval: config.DefaultVRRPInterval}

	var instances []*Statement
	scripts := map[string]*Statement{}
	var scriptOrder []*Statement
	var syncGroups []*Statement
	globalVersion, globalVersionLine := 0, 0
	globalRepeat, globalRepeatLine := -1, 0
	globalRefresh, globalRefreshLine := time.Duration(-1), 0
	for _, st := range c.conf.Statements {
		key := st.Keyword()
		switch {
		case strings.HasPrefix(key, "@"):
			c.skip(st, notSupported+"a line for one config_id only (keepalived -i); delete the lines of the other hosts, keep this host's without the @ prefix, and convert again")
			continue
		case strings.HasPrefix(key, "$"):
			c.skip(st, notSupported+"keepalived parameter definitions are not expanded; write the values out and convert again")
			continue
		case strings.HasPrefix(key, "~SEQ"):
			c.skip(st, notSupported+"keepalived sequences are not expanded; write the statements out and convert again")
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
				c.skip(st, notSupported+"a second vrrp_script of this name; keepalived uses the first")
				continue
			}
			scripts[st.Args()[0]] = st
			scriptOrder = append(scriptOrder, st)
		case "vrrp_sync_group":
			syncGroups = append(syncGroups, st)
			c.skip(st, topWhy(key))
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
						globalRefresh, globalRefreshLine = garpRefresh(d), g.Line
					}
					continue
				}
				c.skip(g, globalWhy(gk))
			}
		default:
			c.skip(st, topWhy(key))
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
					c.note(g.Line, optionText(g), fmt.Sprintf("%s is in this sync group: the VIPs of its other instances do not move with raftvip's; list every VIP in one instance first", c.m.instance))
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
func (c *converter) pickInstance(instances []*Statement) *Statement {
	var names []string
	var pick *Statement
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

// placeholders lists what the operator must still fill in.
func (c *converter) placeholders() []string {
	var out []string
	if c.m.name == "" {
		out = append(out, "node.name and its entry in cluster.peers: this node's name (--name)")
	}
	if c.m.bind == "" {
		out = append(out, "node.bind and its entry in cluster.peers: this node's address (--bind)")
	}
	if !c.opts.Insecure {
		out = append(out, "cluster.tls and cluster.encrypt: certificates from raftvip tls ca and raftvip tls cert, a key from raftvip keygen (or --insecure)")
	}
	return out
}

// validate loads the config with the placeholders filled in, and reports what raftvip
// rejects at the keepalived.conf line it came from.
func (c *converter) validate() error {
	data := c.render(true)
	_, err := config.ParseWithHostname([]byte(data), c.file, func() (string, error) { return "", errors.New("no hostname in a conversion") })
	if err == nil {
		return nil
	}
	var ce *config.Error
	if !errors.As(err, &ce) {
		return fmt.Errorf("keepalived: %s: the converted config does not load: %w", c.file, err)
	}
	var out []config.FieldError
	for _, fe := range ce.Errors {
		line := 0
		best := -1
		for p, l := range c.lines {
			if (fe.Field == p || strings.HasPrefix(fe.Field, p+".") || strings.HasPrefix(fe.Field, p+"[")) && len(p) > best {
				line, best = l, len(p)
			}
		}
		out = append(out, config.FieldError{File: c.file, Line: line, Field: "raftvip " + fe.Field, Msg: fe.Msg})
	}
	return &config.Error{Errors: out}
}
