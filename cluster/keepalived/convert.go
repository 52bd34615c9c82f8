package keepalived

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/raftvip/raftvip/cluster/config"
)

// Options is what a keepalived.conf cannot say.
type Options struct {
	// Instance, if set, is the one vrrp_instance to convert, into the one-group form
	// (vip:); the others are listed as not converted. "" converts every instance: one
	// into the vip: form, several into groups:, a group each.
	Instance string
	// Name is node.name; "" leaves a placeholder.
	Name string
	// Bind is node.bind; "" takes unicast_src_ip (or mcast_src_ip) of the first
	// instance that has one, else leaves a placeholder.
	Bind string
	// Peers are the other nodes of the raftvip cluster, name=ip or name=ip:port (port
	// default 7300). None: a cluster of this node alone.
	Peers []string
	// Witness is the pair's witness, name=ip or name=ip:port: the third voter, which
	// holds no VIP (node.role: witness). It joins cluster.peers, and the conversion
	// says how to set it up (Conversion.Witness).
	Witness string
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
	// Instance is the vrrp_instance converted in the one-group form (vip:); "" when
	// several were converted into groups:.
	Instance string
	// Instances are the vrrp_instances converted, in file order, and Groups the
	// groups of groups: they became, in the same order (nil in the vip: form).
	Instances []string
	Groups    []string
	YAML      string // the raftvip config, commented; it lists Unsupported and Notes at the top
	// Unsupported are the options not converted: raftvip does not need them, or does
	// not support them, and what to do instead. In file order.
	Unsupported []Item
	// Notes are options converted with a difference worth knowing. In file order.
	Notes []Item
	// Placeholders are the fields left for the operator to fill in, each with how
	// (e.g. "node.name: this node's name (--name)"). Empty: the YAML is a complete
	// config that Load accepts.
	Placeholders []string
	// Witness, with Options.Witness, is the witness's own config file: node (with
	// role: witness) and cluster, the same peers; it needs nothing else.
	Witness string
}

// Placeholders written where a value is missing: Load rejects them with the field's
// name.
const (
	placeholderName = "<node-name>"
	placeholderBind = "<node-address>"
)

// Convert converts the keepalived.conf src; filename is used in messages. Every
// vrrp_instance is converted, or only opts.Instance: one instance into the one-group
// form (vip:), several into groups:, one group each, with the instances of a
// vrrp_sync_group placed together. A file that cannot be read, or an instance that
// cannot be converted into a config that works (no VIPs, AH authentication, VIPs on
// two interfaces, a value raftvip rejects), is a *config.Error whose FieldErrors give
// the keepalived.conf line.
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
	c := &converter{file: filename, opts: opts, conf: conf, lines: map[string]int{},
		scripts: map[string]*script{}, checkNames: map[string]bool{}}
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
	res := &Conversion{
		YAML:         c.render(false),
		Unsupported:  c.unsupported,
		Notes:        c.notes,
		Placeholders: c.placeholders(),
	}
	for _, g := range c.m.groups {
		res.Instances = append(res.Instances, g.instance)
		if c.m.groupsForm {
			res.Groups = append(res.Groups, g.name)
		}
	}
	if !c.m.groupsForm {
		res.Instance = c.m.groups[0].instance
	}
	if c.m.witness != nil {
		res.Witness = c.witnessYAML()
	}
	return res, nil
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

// model is the converted file, before it is written out: this node, its checks and
// notify hooks, and a group for each converted vrrp_instance.
type model struct {
	name, bind   string        // "" until known; placeholders are filled in when writing
	bindFrom     string        // where bind came from: --bind, unicast_src_ip, mcast_src_ip
	bindLine     int           // the keepalived line bind came from; 0 for a flag
	peers        []config.Peer // the other nodes (--peer, --witness), this node not included
	witness      *config.Peer  // --witness, also in peers
	clusterOfOne bool

	// groups are the converted instances in file order: one, written as vip:, or
	// several (groupsForm), written as groups:.
	groups     []*group
	groupsForm bool

	checks         []convCheck
	hooks          hookSet // the node's notify hooks, from the instances'
	notifyInstance string  // notify.instance; "" leaves the default
}

// convCheck is one converted vrrp_script.
type convCheck struct {
	cfg      config.CheckConfig
	script   string   // the vrrp_script's name
	line     int      // the vrrp_script
	comments []string // written above the check
}

type converter struct {
	file  string
	opts  Options
	conf  *Conf
	m     model
	lines map[string]int // raftvip field path of a node-wide key -> keepalived line, for validation errors

	scripts        map[string]*script // the vrrp_scripts by name, the first of each name
	trackedScripts map[string]bool    // the vrrp_scripts some converted instance tracks
	checkNames     map[string]bool    // the names of the converted checks

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

// note lists an option converted with a difference, once: a vrrp_script that
// becomes two checks is noted for the first.
func (c *converter) note(line int, option, why string) {
	it := Item{Line: line, Option: option, Why: why}
	if !slices.Contains(c.notes, it) {
		c.notes = append(c.notes, it)
	}
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

// globals are the global_defs settings that are defaults of every instance.
type globals struct {
	version, versionLine int
	repeat, repeatLine   int           // -1: not set
	refresh              time.Duration // -1: not set
	refreshLine          int
}

// convert fills c.m from the file, or records why it cannot.
func (c *converter) convert() {
	var instances, syncGroups []*Statement
	var scriptOrder []*Statement
	gl := globals{repeat: -1, refresh: -1}
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
			if _, dup := c.scripts[st.Args()[0]]; dup {
				c.skip(st, notSupported+"a second vrrp_script of this name; keepalived uses the first")
				continue
			}
			c.scripts[st.Args()[0]] = &script{st: st}
			scriptOrder = append(scriptOrder, st)
		case "vrrp_sync_group":
			syncGroups = append(syncGroups, st)
		case "global_defs":
			c.globalDefs(st, &gl)
		default:
			c.skip(st, topWhy(key))
		}
	}

	insts := c.pickInstances(instances)
	if insts == nil {
		return
	}
	c.m.groupsForm = len(insts) > 1
	c.trackedScripts = map[string]bool{}
	for i, inst := range insts {
		g := &group{index: i, instance: inst.Args()[0], line: inst.Line, groupsForm: c.m.groupsForm, lines: map[string]int{},
			priority: config.DefaultPriority, preempt: true, garpRepeat: -1, garpRefresh: -1, interval: config.DefaultVRRPInterval}
		if gl.version != 0 {
			g.version, g.versionFromGlobal = gl.version, true
			g.lines["vrrp.version"] = gl.versionLine
		}
		c.instance(inst, g)
		if g.garpRepeat < 0 && gl.repeat >= 0 {
			g.garpRepeat = gl.repeat
			g.lines["vip.garp.repeat"] = gl.repeatLine
		}
		if g.garpRefresh < 0 && gl.refresh >= 0 {
			g.garpRefresh = gl.refresh
			g.lines["vip.garp.refresh"] = gl.refreshLine
		}
		c.m.groups = append(c.m.groups, g)
	}
	c.groupNames()
	c.syncGroups(syncGroups)
	for _, s := range scriptOrder {
		if c.trackedScripts[s.Args()[0]] {
			continue
		}
		if c.m.groupsForm {
			c.skip(s, "not converted: no vrrp_instance tracks it (track_script)")
		} else {
			c.skip(s, fmt.Sprintf("not converted: vrrp_instance %s does not track it (track_script)", c.m.groups[0].instance))
		}
	}
	c.mergeHooks()
	c.node()
}

// globalDefs reads the global_defs settings that are converted (defaults of every
// instance) and lists the others.
func (c *converter) globalDefs(st *Statement, gl *globals) {
	for _, g := range st.Block {
		gk := g.Keyword()
		switch gk {
		case "vrrp_version":
			if v, ok := c.intArg(g, 2, 3, "vrrp_version is 2 or 3"); ok {
				gl.version, gl.versionLine = v, g.Line
			}
			continue
		case "vrrp_garp_master_repeat":
			if v, ok := c.intArg(g, 0, 100, "raftvip sends 0 to 100 gratuitous ARPs"); ok {
				gl.repeat, gl.repeatLine = v, g.Line
			}
			continue
		case "vrrp_garp_master_refresh":
			if d, ok := c.secondsArg(g, 0, 24*time.Hour, "vrrp_garp_master_refresh is whole seconds, 0 (off) or more"); ok {
				gl.refresh, gl.refreshLine = garpRefresh(d), g.Line
			}
			continue
		}
		c.skip(g, globalWhy(gk))
	}
}

// pickInstances returns the instances to convert, in file order: opts.Instance, or
// every one (the first of each name, as keepalived keeps), or records why there are
// none.
func (c *converter) pickInstances(instances []*Statement) []*Statement {
	var names []string
	var picked []*Statement
	first := map[string]int{} // name -> line of the first instance of the name
	for _, st := range instances {
		if len(st.Args()) != 1 || st.BlockLine == 0 {
			c.fail(st.Line, "vrrp_instance", "write vrrp_instance NAME { ... } (one name, then a block)")
			return nil
		}
		name := st.Args()[0]
		if line, dup := first[name]; dup {
			c.skip(st, fmt.Sprintf("not converted: a second vrrp_instance %s (the first is on line %d); keepalived uses the first", name, line))
			continue
		}
		first[name] = st.Line
		names = append(names, name)
		if c.opts.Instance == "" || name == c.opts.Instance {
			picked = append(picked, st)
		}
	}
	switch {
	case len(instances) == 0:
		c.fail(0, "", "no vrrp_instance in the file; raftvip keepalived convert converts a vrrp_instance into a raftvip config")
		return nil
	case len(picked) == 0:
		c.fail(0, "--instance", "no vrrp_instance %s in the file; it has %s", c.opts.Instance, strings.Join(names, ", "))
		return nil
	case c.opts.Instance == "":
		return picked
	}
	for _, st := range instances {
		if st != picked[0] && first[st.Args()[0]] == st.Line {
			c.skip(st, fmt.Sprintf("not converted: only vrrp_instance %s is (--instance); convert without --instance to make every vrrp_instance a group of one config", c.opts.Instance))
		}
	}
	return picked
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
	lines := maps.Clone(c.lines)
	for _, g := range c.m.groups {
		if g.groupsForm {
			lines[strings.TrimSuffix(g.path(""), ".")] = g.line // a key with no line of its own
		}
		for k, l := range g.lines {
			lines[g.path(k)] = l
		}
	}
	var out []config.FieldError
	for _, fe := range ce.Errors {
		line := 0
		best := -1
		for p, l := range lines {
			if (fe.Field == p || strings.HasPrefix(fe.Field, p+".") || strings.HasPrefix(fe.Field, p+"[")) && len(p) > best {
				line, best = l, len(p)
			}
		}
		out = append(out, config.FieldError{File: c.file, Line: line, Field: "raftvip " + fe.Field, Msg: fe.Msg})
	}
	return &config.Error{Errors: out}
}
