package cluster

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// Defaults of the configuration (DESIGN §6).
const (
	DefaultDataDir      = "/var/lib/raftvip"
	DefaultRaftPort     = 7300
	DefaultGossipPort   = 7301
	DefaultAdminSocket  = "/run/raftvip/raftvip.sock"
	DefaultPriority     = 100
	DefaultLifetime     = 2 * time.Second
	DefaultDrain        = 25 * time.Millisecond
	DefaultFencing      = "standard"
	DefaultGARPRepeat   = 5
	DefaultGARPInterval = time.Second
	DefaultLogLevel     = "info"
	DefaultLogFormat    = "text"

	DefaultPreempt         = true
	MaxPreemptDelay        = 1000 * time.Second // keepalived's limit for preempt_delay
	DefaultMinMoveInterval = 10 * time.Second
	DefaultCheckInterval   = time.Second
	MinCheckInterval       = 10 * time.Millisecond
	DefaultExpectStatus    = 200
	DefaultNotifyInstance  = "raftvip"
	DefaultNotifyTimeout   = 10 * time.Second
)

// The check types (checks[].type).
const (
	CheckHAProxy = "haproxy" // HAProxy stats socket: show info, and show stat for a backend
	CheckHTTP    = "http"    // GET a URL, pass on the expected status
	CheckTCP     = "tcp"     // connect to host:port
	CheckScript  = "script"  // run a command, pass on exit status 0
	CheckProcess = "process" // the process of a pid file is alive
)

// Config is one node's configuration, loaded from YAML by Load or Parse. Every field
// is set: defaults are applied and every value has been validated.
type Config struct {
	Node     NodeConfig
	Cluster  ClusterConfig
	Admin    AdminConfig
	VIP      VIPConfig
	Priority int // base priority, 1..254, default 100; checks weigh into it

	// Preempt moves the VIP to a voter of strictly higher effective priority once that
	// has lasted PreemptDelay (default true). false is keepalived's nopreempt: the VIP
	// stays where it is while its holder is eligible. PreemptDelay is ignored then.
	Preempt      bool
	PreemptDelay time.Duration // 0..1000s (keepalived's range), default 0
	// MinMoveInterval rate-limits automatic moves (preemption, release on FAULT): at
	// most one per interval, so a flapping check cannot flap the VIP. Default 10s; 0
	// turns the limit off. Operator moves (transfer, drain) are not limited.
	MinMoveInterval time.Duration

	Checks []CheckConfig // in file order; names are unique
	Notify NotifyConfig
	VRRP   VRRPConfig

	Log     LogConfig
	Metrics MetricsConfig
	File    string // path it was loaded from
}

// MetricsConfig is the Prometheus endpoint.
type MetricsConfig struct {
	Listen string // host:port of /metrics; "" = off
}

// NodeConfig is this node: its Raft server ID and where it listens.
type NodeConfig struct {
	Name       string     // Raft server ID; default: the hostname
	DataDir    string     // default /var/lib/raftvip
	Bind       netip.Addr // address for Raft and gossip; required
	RaftPort   int        // default 7300
	GossipPort int        // default 7301
}

// Peer is one voter of the static bootstrap configuration, written name=ip:port.
type Peer struct {
	Name string
	Addr netip.AddrPort
}

// ClusterConfig is the Raft group: its members and its timings.
type ClusterConfig struct {
	// Peers is the static membership (cluster.peers), this node included; nil when
	// the cluster forms or grows by gossip instead.
	Peers []Peer
	// BootstrapExpect (cluster.bootstrap_expect) is how many servers must see each
	// other by gossip, none of them with Raft state, before one of them bootstraps
	// the cluster. 0: never bootstrap from gossip.
	BootstrapExpect int
	// Join (cluster.join) are gossip addresses of other nodes, tried with backoff
	// until one answers. The port defaults to this node's node.gossip_port.
	Join   []netip.AddrPort
	Timing Timing
	// Encrypt is the shared key for gossip encryption (memberlist's AES-GCM), decoded
	// from the standard base64 of cluster.encrypt: 16, 24 or 32 bytes (AES-128, -192
	// or -256). nil: off. The Raft port is secured by TLS instead.
	Encrypt []byte
	// TLS is mutual TLS 1.3 on the Raft port (cluster.tls); zero: plaintext.
	TLS TLSConfig
	// Insecure (cluster.insecure) lets the node run without TLS or without Encrypt,
	// which it otherwise refuses; the agent warns about it at every start.
	Insecure bool
}

// TLSConfig is cluster.tls: the files of mutual TLS on the Raft port, all three or
// none. Relative paths in the file are taken from the config file's directory; the
// files were read and checked when the config was loaded.
type TLSConfig struct {
	CAFile   string // the cluster's CA certificate(s), PEM
	CertFile string // this node's certificate, PEM, signed by the CA (intermediates may follow)
	KeyFile  string // its private key, PEM; no access for group or others
}

// Enabled reports whether cluster.tls is set.
func (t TLSConfig) Enabled() bool { return t.CAFile != "" }

// CheckConfig is one health check (checks[i]), with keepalived's vrrp_script
// semantics: run every Interval, a result later than Timeout is a failure, Fall
// failures in a row make it failing and Rise passes in a row make it passing again.
// Weight > 0 is added to the priority while it passes, weight < 0 is added (so
// subtracted) while it fails, and weight 0 puts the node in FAULT while it fails.
//
// Only the fields of its Type are set; the others are zero. Probes never overlap: a
// Timeout longer than the Interval is allowed, and a check whose probe is still
// running when the next is due counts that interval as a failure instead of starting
// another probe.
type CheckConfig struct {
	Name     string        // required, unique, letters, digits, '-', '_', '.'; at most 32 bytes
	Type     string        // CheckHAProxy, CheckHTTP, CheckTCP, CheckScript or CheckProcess
	Interval time.Duration // default 1s; at least 10ms
	Timeout  time.Duration // default: Interval; > 0
	Fall     int           // default 1; 1..255
	Rise     int           // default 1; 1..255
	Weight   int           // default 0 (failing → FAULT); -253..253

	// haproxy:
	Socket  string // required: the stats socket, a unix path (starts with /) or host:port
	Backend string // optional: a backend whose servers UP are counted (show stat)
	MinUp   int    // servers of Backend that must be UP; 1 when Backend is set, else 0

	// http:
	URL          string // required: http:// or https://
	ExpectStatus int    // default 200; 100..599

	// tcp:
	Address string // required: host:port

	// script:
	Command []string // required: argv, run without a shell

	// process:
	PIDFile string // required: absolute path of the pid file
}

// NotifyConfig is the notify hooks, with keepalived's contract: on every change of
// this node's state the state's own hook runs with its configured arguments only,
// then Script runs with four arguments appended: INSTANCE <Instance> <STATE>
// <priority>. Each is an argv run without a shell; nil: none.
type NotifyConfig struct {
	Master, Backup, Fault, Stop []string
	Script                      []string
	Instance                    string        // the name passed to Script; default "raftvip"
	Timeout                     time.Duration // each hook is killed after this long; default 10s
}

// AdminConfig is the admin API.
type AdminConfig struct {
	Socket string // unix socket path; default /run/raftvip/raftvip.sock
	// Listen is an optional TCP listener for the admin API, host:port; "" = none.
	// Every request on it must carry "Authorization: Bearer <token>".
	Listen string
	// TokenFile holds that token (required with Listen); no access for group or
	// others. Relative to the config file's directory.
	TokenFile string
}

// VIPConfig is the addresses that move together, and how they are held.
type VIPConfig struct {
	Interface string         // required
	Addresses []netip.Prefix // required, at least one
	Lifetime  time.Duration  // kernel valid_lft, whole seconds; default 2s
	Fencing   string         // "standard" (default) | "strict"
	GARP      GARPConfig
	Drain     time.Duration // planned moves: drop new connections this long before removing; default 25ms
}

// GARPConfig is how a new holder announces the VIP (gratuitous ARP, unsolicited NA).
type GARPConfig struct {
	Repeat   int           // default 5
	Interval time.Duration // default 1s
	Refresh  time.Duration // 0 = off
}

// VRRPConfig (vrrp:) makes the cluster one VRRP router next to stock keepalived
// routers on the same virtual router ID: the holder advertises, every node listens,
// and a foreign master of higher priority keeps the cluster from holding.
type VRRPConfig struct {
	Enabled      bool
	Version      int           // 2 (default) or 3
	VRID         int           // 1..255, required when enabled
	Interval     time.Duration // advert_interval; v2: whole seconds; v3: 10ms..40.95s; default 1s
	AuthPass     string        // v2 PASS authentication, at most 8 bytes; "" = none
	UnicastPeers []netip.Addr  // empty: multicast (224.0.0.18, ff02::12)
	UnicastSrc   netip.Addr    // source of the adverts; default node.bind
	Interface    string        // default vip.interface
}

// Defaults of the vrrp section.
const (
	DefaultVRRPVersion  = 2
	DefaultVRRPInterval = time.Second
)

// LogConfig is the agent's logging.
type LogConfig struct {
	Level  string // debug | info | warn | error; default info
	Format string // text | json; default text
}

// RaftAddr is the address this node's Raft transport listens on: Bind:RaftPort.
func (c *Config) RaftAddr() netip.AddrPort {
	return netip.AddrPortFrom(c.Node.Bind, uint16(c.Node.RaftPort))
}

// FieldError is one problem in a config file: where it is, which field, what is
// wrong and what would be right. Line is 0 when the field is missing altogether.
type FieldError struct {
	File  string
	Line  int
	Field string // path such as vip.addresses[1]; empty for the file as a whole
	Msg   string
}

func (e FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ConfigError is every problem found in a config file, in file order.
type ConfigError struct {
	Errors []FieldError
}

// Error prints one problem per line.
func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		lines[i] = fe.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the single problems, so errors.As finds a FieldError.
func (e *ConfigError) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, fe := range e.Errors {
		errs[i] = fe
	}
	return errs
}

// Load reads and parses the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse parses a config file's contents; filename is used in error messages and
// recorded in Config.File. A problem in the file is returned as a *ConfigError that
// lists every problem found.
func Parse(data []byte, filename string) (*Config, error) {
	return parseConfig(data, filename, os.Hostname)
}

func parseConfig(data []byte, filename string, hostname func() (string, error)) (*Config, error) {
	return parseConfigWith(data, filename, hostname, false)
}

// parseConfigWith is parseConfig; defaultInsecure makes cluster.insecure default to
// true, for the tests of other sections, which write no tls or encrypt.
func parseConfigWith(data []byte, filename string, hostname func() (string, error), defaultInsecure bool) (*Config, error) {
	d := &configDecoder{file: filename, lines: map[string]int{}, timingSet: map[string]bool{}, suggested: map[string]bool{},
		defaultInsecure: defaultInsecure, now: time.Now}
	cfg := &Config{
		Node:  NodeConfig{DataDir: DefaultDataDir, RaftPort: DefaultRaftPort, GossipPort: DefaultGossipPort},
		Admin: AdminConfig{Socket: DefaultAdminSocket},
		VIP: VIPConfig{
			Lifetime: DefaultLifetime,
			Fencing:  DefaultFencing,
			GARP:     GARPConfig{Repeat: DefaultGARPRepeat, Interval: DefaultGARPInterval},
			Drain:    DefaultDrain,
		},
		Priority:        DefaultPriority,
		Preempt:         DefaultPreempt,
		MinMoveInterval: DefaultMinMoveInterval,
		Notify:          NotifyConfig{Instance: DefaultNotifyInstance, Timeout: DefaultNotifyTimeout},
		Log:             LogConfig{Level: DefaultLogLevel, Format: DefaultLogFormat},
		File:            filename,
	}
	cfg.Cluster.Timing, _ = Profile(DefaultProfile)
	if root := d.document(data); root != nil {
		d.root(root, cfg)
		d.crossCheck(cfg, hostname)
	}
	if len(d.errs) > 0 {
		return nil, d.err()
	}
	return cfg, nil
}

// configDecoder walks the YAML node tree and collects every problem.
type configDecoder struct {
	file  string
	errs  []FieldError
	lines map[string]int // field path -> line where it is set

	timingSet map[string]bool // knobs set under cluster.timing
	suggested map[string]bool // keys a misspelt key was taken for
	peerPaths []string        // path of each of cfg.Cluster.Peers
	vipPaths  []string        // path of each of cfg.VIP.Addresses

	defaultInsecure bool             // cluster.insecure defaults to true (tests)
	now             func() time.Time // checks certificate validity
}

// failedAt reports whether an error was recorded for path itself.
func (d *configDecoder) failedAt(path string) bool {
	for _, e := range d.errs {
		if e.Field == path {
			return true
		}
	}
	return false
}

// failed reports whether an error was recorded for path or anything under it.
func (d *configDecoder) failed(path string) bool {
	for _, e := range d.errs {
		if e.Field == path || strings.HasPrefix(e.Field, path+".") || strings.HasPrefix(e.Field, path+"[") {
			return true
		}
	}
	return false
}

func (d *configDecoder) add(line int, field, format string, args ...any) {
	d.errs = append(d.errs, FieldError{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// at is the line of a field, or of the nearest enclosing section that is set.
func (d *configDecoder) at(path string) int {
	for {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 0
		}
		path = path[:i]
	}
}

func (d *configDecoder) err() error {
	sort.SliceStable(d.errs, func(i, j int) bool {
		li, lj := d.errs[i].Line, d.errs[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
	return &ConfigError{Errors: d.errs}
}

const configEmpty = "config is empty; a config needs at least node.bind, vip.interface, vip.addresses and one of cluster.peers, cluster.bootstrap_expect or cluster.join"

// document parses data into a YAML node tree and returns the root mapping's node, or
// nil after recording why there is none.
func (d *configDecoder) document(data []byte) (root *yaml.Node) {
	defer func() {
		// The YAML library is not ours; a config file must never crash the agent.
		if r := recover(); r != nil {
			d.add(0, "", "cannot parse YAML: %v", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.add(0, "", "%s", configEmpty)
		} else {
			d.syntax(err, data)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		line := extra.Line
		if len(extra.Content) > 0 {
			line = extra.Content[0].Line
		}
		d.add(line, "", "a second YAML document starts here; raftvip reads one document per file: remove the '---' separator and merge the two, or delete the second")
	case !errors.Is(err, io.EOF):
		d.syntax(err, data)
	}
	n := &doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			d.add(0, "", "%s", configEmpty)
			return nil
		}
		n = n.Content[0]
	}
	n = configResolve(n)
	switch {
	case configIsNull(n):
		d.add(0, "", "%s", configEmpty)
		return nil
	case n.Kind != yaml.MappingNode:
		d.add(n.Line, "", "the config must be a mapping of sections (node:, cluster:, vip: ...), found %s", configKind(n))
		return nil
	}
	return n
}

func (d *configDecoder) syntax(err error, data []byte) {
	// The library says "yaml: line 3: did not find expected key".
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(num); err == nil && l > 0 {
				line, msg = l, text
			}
		}
	}
	hint := ""
	if line > 0 {
		hint = "; check the indentation and quoting on this line and the one before"
	}
	if bytes.Contains(data, []byte("\n\t")) || bytes.HasPrefix(data, []byte("\t")) {
		hint = "; YAML indents with spaces, and this file has tabs at the start of a line"
	}
	d.add(line, "", "invalid YAML: %s%s", msg, hint)
}

// configResolve follows aliases (*name) to the node they stand for.
func configResolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < 100 && n != nil && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

func configIsNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func configKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		if v := []rune(n.Value); len(v) > 40 {
			return fmt.Sprintf("%q...", string(v[:40]))
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func configJoin(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// configField is one known key of a mapping and what to do with its value.
type configField struct {
	key    string
	decode func(path string, v *yaml.Node)
}

// configUnsupported are the keys of DESIGN §6 that this version does not implement
// yet, by path, with what to do instead ("not supported by this version of raftvip;
// ..."). There are none now.
func configUnsupported() map[string]string {
	return map[string]string{}
}

// configSchema is every key this version knows, by section, to tell an operator
// where a key in the wrong section belongs. "checks[]" is an item of checks, with the
// keys of every check type.
func configSchema() map[string][]string {
	return map[string][]string{
		"":               {"node", "cluster", "admin", "vip", "priority", "preempt", "preempt_delay", "min_move_interval", "checks", "notify", "vrrp", "log", "metrics"},
		"node":           {"name", "data_dir", "bind", "raft_port", "gossip_port"},
		"cluster":        {"peers", "bootstrap_expect", "join", "timing", "encrypt", "tls", "insecure"},
		"cluster.timing": {"profile", "heartbeat_timeout", "election_timeout", "leader_lease", "commit_timeout", "vip_lease", "rpc_timeout", "claim_margin"},
		"cluster.tls":    {"ca_file", "cert_file", "key_file"},
		"admin":          {"socket", "listen", "token_file"},
		"metrics":        {"listen"},
		"vip":            {"interface", "addresses", "lifetime", "fencing", "garp", "drain"},
		"vip.garp":       {"repeat", "interval", "refresh"},
		"checks[]":       checkKeys(),
		"notify":         {"master", "backup", "fault", "stop", "script", "instance", "timeout"},
		"vrrp":           {"enabled", "version", "vrid", "advert_interval", "auth_pass", "unicast_peers", "unicast_src", "interface"},
		"log":            {"level", "format"},
	}
}

// mapping decodes a mapping at path: known keys go to their decode functions, in file
// order; unknown, duplicate and unsupported keys are errors. A null value is an empty
// mapping. It returns false if n is not a mapping.
func (d *configDecoder) mapping(path string, n *yaml.Node, fields []configField) bool {
	line := n.Line
	n = configResolve(n)
	if configIsNull(n) {
		return true
	}
	if n.Kind != yaml.MappingNode {
		what := "keys"
		if path != "" {
			what = "keys under " + path[strings.LastIndex(path, ".")+1:] + ":"
		}
		d.add(line, path, "expected a mapping (%s), found %s", what, configKind(n))
		return false
	}
	unsupported := configUnsupported()
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.add(k.Line, path, "keys must be plain names, found %s", configKind(k))
			continue
		}
		if k.Tag == "!!merge" {
			d.add(k.Line, path, "YAML merge keys (<<) are not supported in a raftvip config; write the keys out")
			continue
		}
		name := k.Value
		if name == "" || strings.ContainsFunc(name, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) }) {
			name = strconv.Quote(name)
		}
		p := configJoin(path, name)
		if first, dup := seen[k.Value]; dup {
			d.add(k.Line, p, "duplicate key (first set on line %d); remove one of them", first)
			continue
		}
		seen[k.Value] = k.Line
		if hint, ok := unsupported[p]; ok {
			d.add(k.Line, p, "%s", hint)
			continue
		}
		var field *configField
		for j := range fields {
			if fields[j].key == k.Value {
				field = &fields[j]
			}
		}
		if field == nil {
			d.add(k.Line, p, "%s", d.unknownKey(path, k.Value, fields))
			continue
		}
		if vl := configResolve(v); vl != nil && vl.Kind != yaml.ScalarNode {
			d.lines[p] = k.Line
		} else {
			d.lines[p] = v.Line
		}
		field.decode(p, v)
	}
	return true
}

func (d *configDecoder) unknownKey(path, key string, fields []configField) string {
	msg := "unknown key"
	known := make([]string, len(fields))
	for i, f := range fields {
		known[i] = f.key
	}
	if s, ok := configClosest(key, known); ok {
		d.suggested[configJoin(path, s)] = true
		return fmt.Sprintf("%s; did you mean %q?", msg, s)
	}
	schema := configSchema()
	sections := make([]string, 0, len(schema))
	for s := range schema {
		sections = append(sections, s)
	}
	sort.Strings(sections)
	var homes []string // where key belongs, if not here
	for _, section := range sections {
		if section == configSection(path) {
			continue
		}
		for _, k := range schema[section] {
			if k != key {
				continue
			}
			switch {
			case section == "":
				homes = append(homes, "at the top level")
			case strings.HasSuffix(section, "[]"):
				homes = append(homes, fmt.Sprintf("in an item of %s", strings.TrimSuffix(section, "[]")))
			default:
				homes = append(homes, fmt.Sprintf("under %s (%s.%s)", section, section, key))
			}
		}
	}
	if len(homes) > 0 {
		not := ""
		if homes[0] == "at the top level" && len(homes) == 1 {
			not = ", not under " + path
		}
		return fmt.Sprintf("%s here; %q belongs %s%s", msg, key, strings.Join(homes, " or "), not)
	}
	where := "the top level"
	if path != "" {
		where = path
	}
	return fmt.Sprintf("%s; the keys of %s are %s", msg, where, strings.Join(known, ", "))
}

// configSection is the schema section of a path: list indexes become [], so
// checks[2] is checks[].
func configSection(path string) string {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		b.WriteByte(path[i])
		if path[i] == '[' {
			for i+1 < len(path) && path[i+1] != ']' {
				i++
			}
		}
	}
	return b.String()
}

// configClosest returns the candidate closest to s by edit distance, if it is close
// enough to be a typo, or if one starts the other ("election" for election_timeout,
// "warning" for warn), or if s is keepalived's name for it (notify_master for master).
func configClosest(s string, candidates []string) (string, bool) {
	best, bestD := "", -1
	ls := strings.ToLower(strings.ReplaceAll(s, "-", "_"))
	for _, c := range candidates {
		dist := configEditDistance(ls, c)
		if strings.HasPrefix(c, ls+"_") || len(c) >= 3 && strings.HasPrefix(ls, c) ||
			len(c) >= 4 && strings.HasPrefix(ls, "notify_") && strings.TrimPrefix(ls, "notify_") == c {
			dist = 1
		}
		if bestD < 0 || dist < bestD {
			best, bestD = c, dist
		}
	}
	limit := max(1, len([]rune(best))/3)
	if bestD < 0 || bestD > limit || best == s {
		return "", false
	}
	return best, true
}

// configEditDistance is the optimal string alignment distance: insertions, deletions,
// substitutions and transpositions of adjacent runes each count 1.
func configEditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return max(len(ra), len(rb))
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// scalar returns the scalar value of n, or records why it is not one. want says what
// the field expects, e.g. "an IP address such as 198.18.0.11".
func (d *configDecoder) scalar(path string, n *yaml.Node, want string) (string, bool) {
	line := n.Line
	n = configResolve(n)
	switch {
	case configIsNull(n):
		d.add(line, path, "has no value; expected %s", want)
		return "", false
	case n.Kind != yaml.ScalarNode:
		d.add(line, path, "expected %s, found %s", want, configKind(n))
		return "", false
	}
	return n.Value, true
}

// enum decodes one of a fixed set of words.
func (d *configDecoder) enum(path string, n *yaml.Node, dst *string, words ...string) {
	list := configOr(words)
	s, ok := d.scalar(path, n, list)
	if !ok {
		return
	}
	for _, w := range words {
		if s == w {
			*dst = s
			return
		}
	}
	if c, ok := configClosest(s, words); ok {
		d.add(n.Line, path, "%q is not one of %s; did you mean %q?", s, list, c)
		return
	}
	d.add(n.Line, path, "%q is not one of %s", s, list)
}

// configOr lists words as `"a", "b" or "c"`.
func configOr(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = strconv.Quote(w)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// integer decodes a whole number in [lo, hi]; why explains the range.
func (d *configDecoder) integer(path string, n *yaml.Node, lo, hi int, why string, dst *int) bool {
	s, ok := d.scalar(path, n, fmt.Sprintf("a whole number from %d to %d", lo, hi))
	if !ok {
		return false
	}
	v, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	if err != nil {
		d.add(n.Line, path, "%q is not a whole number; use a number from %d to %d", s, lo, hi)
		return false
	}
	if v < lo || v > hi {
		d.add(n.Line, path, "%d is out of range; %s", v, why)
		return false
	}
	*dst = v
	return true
}

func (d *configDecoder) port(path string, n *yaml.Node, dst *int) bool {
	return d.integer(path, n, 1, 65535, "a port is 1 to 65535", dst)
}

// duration decodes a Go duration ("300ms", "2s"). A bare number other than 0 is an
// error: its unit would be a guess.
func (d *configDecoder) duration(path string, n *yaml.Node, dst *time.Duration) bool {
	s, ok := d.scalar(path, n, `a duration such as "300ms" or "2s"`)
	if !ok {
		return false
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		if _, ferr := strconv.ParseFloat(s, 64); ferr == nil {
			d.add(n.Line, path, "%q has no unit; write a duration with its unit, e.g. \"%sms\" or \"%ss\"", s, s, s)
		} else {
			d.add(n.Line, path, "%q is not a duration; write a number with a unit (ms, s, m), e.g. \"300ms\" or \"2s\"", s)
		}
		return false
	}
	*dst = v
	return true
}

// boolean decodes true or false.
func (d *configDecoder) boolean(path string, n *yaml.Node, dst *bool) {
	s, ok := d.scalar(path, n, "true or false")
	if !ok {
		return
	}
	switch strings.ToLower(s) {
	case "true":
		*dst = true
	case "false":
		*dst = false
	case "yes", "on", "y":
		d.add(n.Line, path, "%q is not a boolean here (YAML 1.2); write true", s)
	case "no", "off", "n":
		d.add(n.Line, path, "%q is not a boolean here (YAML 1.2); write false", s)
	default:
		d.add(n.Line, path, "%q is not true or false", s)
	}
}

// configShellChars are the characters that mean something to a shell but nothing to
// a command split on white space.
const configShellChars = "|&;<>()$`\\\"'*?~"

// argv decodes a command: a YAML list of arguments, or a string split on white
// space. A null is no command (nil). A string that looks like it wants a shell is an
// error: commands run without one.
func (d *configDecoder) argv(path string, n *yaml.Node, example string, dst *[]string) bool {
	line := n.Line
	n = configResolve(n)
	var args []string
	switch {
	case configIsNull(n):
		return true
	case n.Kind == yaml.ScalarNode:
		s := n.Value
		if i := strings.IndexAny(s, configShellChars); i >= 0 {
			d.add(line, path, "%q has %q, but commands run without a shell, so it would be passed on as a literal argument; write the command as a list of arguments, e.g. %s, or to use a shell: [/bin/sh, -c, %q]",
				s, s[i], example, s)
			return false
		}
		args = strings.Fields(s)
	case n.Kind == yaml.SequenceNode:
		ok := true
		for i, it := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			a, good := d.scalar(p, it, "one argument (a string)")
			ok = ok && good
			args = append(args, a)
		}
		if !ok {
			return false
		}
	default:
		d.add(line, path, "expected a command, a list of arguments such as %s or a string such as %q, found %s",
			example, strings.ReplaceAll(strings.Trim(example, "[]"), ",", ""), configKind(n))
		return false
	}
	switch {
	case len(args) == 0:
		d.add(line, path, "is empty; give a command, e.g. %s, or remove the line", example)
		return false
	case args[0] == "":
		d.add(line, path, "the program (first argument) is empty; give a command, e.g. %s", example)
		return false
	}
	*dst = args
	return true
}

// seq returns the items of a list, or records why n is not one. A null is an empty list.
func (d *configDecoder) seq(path string, n *yaml.Node, example string) ([]*yaml.Node, bool) {
	line := n.Line
	n = configResolve(n)
	switch {
	case configIsNull(n):
		return nil, true
	case n.Kind != yaml.SequenceNode:
		d.add(line, path, "expected a list, e.g. %s, found %s", example, configKind(n))
		return nil, false
	}
	return n.Content, true
}

func (d *configDecoder) root(n *yaml.Node, cfg *Config) {
	d.mapping("", n, []configField{
		{"node", func(p string, v *yaml.Node) { d.node(p, v, &cfg.Node) }},
		{"cluster", func(p string, v *yaml.Node) { d.cluster(p, v, &cfg.Cluster) }},
		{"admin", func(p string, v *yaml.Node) {
			d.mapping(p, v, []configField{
				{"socket", func(p string, v *yaml.Node) { d.socket(p, v, &cfg.Admin.Socket) }},
				{"listen", func(p string, v *yaml.Node) { d.listenAddr(p, v, "127.0.0.1:7380", &cfg.Admin.Listen) }},
				{"token_file", func(p string, v *yaml.Node) { d.filePath(p, v, "/etc/raftvip/admin.token", &cfg.Admin.TokenFile) }},
			})
		}},
		{"metrics", func(p string, v *yaml.Node) {
			d.mapping(p, v, []configField{
				{"listen", func(p string, v *yaml.Node) { d.listenAddr(p, v, "0.0.0.0:9469", &cfg.Metrics.Listen) }},
			})
		}},
		{"vip", func(p string, v *yaml.Node) { d.vip(p, v, &cfg.VIP) }},
		{"priority", func(p string, v *yaml.Node) {
			d.integer(p, v, 1, 254, "priority is 1 to 254 as in VRRP (0 and 255 have special meanings there); default 100", &cfg.Priority)
		}},
		{"preempt", func(p string, v *yaml.Node) { d.boolean(p, v, &cfg.Preempt) }},
		{"preempt_delay", func(p string, v *yaml.Node) {
			var pd time.Duration
			if !d.duration(p, v, &pd) {
				return
			}
			if pd < 0 || pd > MaxPreemptDelay {
				d.add(v.Line, p, "%s is out of range; use 0s to %.0fs (keepalived's range), default 0s", pd, MaxPreemptDelay.Seconds())
				return
			}
			cfg.PreemptDelay = pd
		}},
		{"min_move_interval", func(p string, v *yaml.Node) {
			var mi time.Duration
			if !d.duration(p, v, &mi) {
				return
			}
			if mi < 0 {
				d.add(v.Line, p, "%s is negative; use 0 (no limit) or more (default %s)", mi, DefaultMinMoveInterval)
				return
			}
			cfg.MinMoveInterval = mi
		}},
		{"checks", func(p string, v *yaml.Node) { d.checks(p, v, cfg) }},
		{"notify", func(p string, v *yaml.Node) { d.notify(p, v, &cfg.Notify) }},
		{"vrrp", func(p string, v *yaml.Node) { d.vrrp(p, v, &cfg.VRRP) }},
		{"log", func(p string, v *yaml.Node) {
			d.mapping(p, v, []configField{
				{"level", func(p string, v *yaml.Node) { d.enum(p, v, &cfg.Log.Level, "debug", "info", "warn", "error") }},
				{"format", func(p string, v *yaml.Node) { d.enum(p, v, &cfg.Log.Format, "text", "json") }},
			})
		}},
	})
}

func (d *configDecoder) node(path string, n *yaml.Node, nc *NodeConfig) {
	d.mapping(path, n, []configField{
		{"name", func(p string, v *yaml.Node) {
			s, ok := d.scalar(p, v, "this node's name, e.g. lb1")
			switch {
			case !ok:
			case s == "":
				d.add(v.Line, p, "is empty; set this node's name, e.g. lb1, or remove the line to use the hostname")
			case configNameProblem(s) != "":
				d.add(v.Line, p, "%q %s", s, configNameProblem(s))
			default:
				nc.Name = s
			}
		}},
		{"data_dir", func(p string, v *yaml.Node) {
			s, ok := d.scalar(p, v, "a directory such as "+DefaultDataDir)
			switch {
			case !ok:
			case s == "":
				d.add(v.Line, p, "is empty; set a directory such as %s, or remove the line to use that default", DefaultDataDir)
			default:
				nc.DataDir = s
			}
		}},
		{"bind", func(p string, v *yaml.Node) {
			s, ok := d.scalar(p, v, "this node's IP address, e.g. 198.18.0.11")
			if !ok {
				return
			}
			a, msg := configUnicastAddr(s)
			if msg != "" {
				d.add(v.Line, p, "%s", msg)
				return
			}
			nc.Bind = a
		}},
		{"raft_port", func(p string, v *yaml.Node) { d.port(p, v, &nc.RaftPort) }},
		{"gossip_port", func(p string, v *yaml.Node) { d.port(p, v, &nc.GossipPort) }},
	})
}

// configNameProblem says what is wrong with a node name, or "" if nothing.
func configNameProblem(s string) string {
	if s == "" {
		return "is empty"
	}
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.') {
			return fmt.Sprintf("contains %q; a node name (the Raft server ID) may use only letters, digits, '-', '_' and '.'", r)
		}
	}
	return ""
}

// configUnicastAddr parses an IP literal that can be a node's own address, or says
// what is wrong and what would be right.
func configUnicastAddr(s string) (netip.Addr, string) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			return netip.Addr{}, fmt.Sprintf("%q has a port; give the address only (%s), the port goes in node.raft_port", s, ap.Addr())
		}
		if pf, err := netip.ParsePrefix(s); err == nil {
			return netip.Addr{}, fmt.Sprintf("%q has a prefix length; give the address only (%s)", s, pf.Addr())
		}
		return netip.Addr{}, fmt.Sprintf("%q is not an IP address; give an IPv4 or IPv6 literal such as 198.18.0.11 (raftvip does not resolve host names)", s)
	}
	switch {
	case a.IsUnspecified():
		return netip.Addr{}, fmt.Sprintf("%s listens everywhere but cannot be told to peers; use this node's own address, the one it has in cluster.peers", a)
	case a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return netip.Addr{}, fmt.Sprintf("%s is not a unicast address; use this node's own address, the one it has in cluster.peers", a)
	}
	return a, ""
}

func (d *configDecoder) cluster(path string, n *yaml.Node, cc *ClusterConfig) {
	d.mapping(path, n, []configField{
		{"peers", func(p string, v *yaml.Node) { d.peers(p, v, cc) }},
		{"bootstrap_expect", func(p string, v *yaml.Node) {
			d.integer(p, v, 1, 99, "the number of servers that form the cluster, 3 or 5 as a rule", &cc.BootstrapExpect)
		}},
		{"join", func(p string, v *yaml.Node) { d.joinAddrs(p, v, cc) }},
		{"timing", func(p string, v *yaml.Node) { d.timing(p, v, &cc.Timing) }},
		{"encrypt", func(p string, v *yaml.Node) { d.encrypt(p, v, &cc.Encrypt) }},
		{"insecure", func(p string, v *yaml.Node) { d.boolean(p, v, &cc.Insecure) }},
		{"tls", func(p string, v *yaml.Node) {
			d.mapping(p, v, []configField{
				{"ca_file", func(p string, v *yaml.Node) { d.filePath(p, v, DefaultTLSDir+"/"+CACertFile, &cc.TLS.CAFile) }},
				{"cert_file", func(p string, v *yaml.Node) { d.filePath(p, v, DefaultTLSDir+"/lb1.pem", &cc.TLS.CertFile) }},
				{"key_file", func(p string, v *yaml.Node) { d.filePath(p, v, DefaultTLSDir+"/lb1-key.pem", &cc.TLS.KeyFile) }},
			})
		}},
	})
}

// configMakeKey is how to make a key for cluster.encrypt.
const configMakeKey = "make one with raftvip keygen (or head -c 32 /dev/urandom | base64), and use the same key on every node"

// encrypt decodes the shared key: standard base64 of 16, 24 or 32 bytes.
func (d *configDecoder) encrypt(path string, n *yaml.Node, dst *[]byte) {
	s, ok := d.scalar(path, n, "a base64 key; "+configMakeKey)
	if !ok {
		return
	}
	s = strings.TrimSpace(s)
	if s == "" {
		d.add(n.Line, path, "is empty; set a base64 key of 16, 24 or 32 bytes, or remove the line to turn encryption off; %s", configMakeKey)
		return
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		switch {
		case strings.ContainsAny(s, "-_"):
			d.add(n.Line, path, "is URL-safe base64 (it has '-' or '_'); use standard base64 (with '+' and '/'): %s", configMakeKey)
		case len(s)%4 != 0 && !strings.ContainsFunc(s, func(r rune) bool {
			return !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || r == '+' || r == '/')
		}):
			d.add(n.Line, path, "is not standard base64: its '=' padding is missing (%d characters, not a multiple of 4); %s", len(s), configMakeKey)
		default:
			d.add(n.Line, path, "is not standard base64; %s", configMakeKey)
		}
		return
	}
	switch len(key) {
	case 16, 24, 32:
		*dst = key
	default:
		d.add(n.Line, path, "decodes to %d bytes; a key is 16, 24 or 32 bytes (AES-128, -192 or -256): %s", len(key), configMakeKey)
	}
}

func (d *configDecoder) peers(path string, n *yaml.Node, cc *ClusterConfig) {
	const example = "[lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, lb3=198.18.0.13:7300]"
	items, ok := d.seq(path, n, example)
	if !ok {
		return
	}
	names := map[string]string{}         // name -> path of its first item
	addrs := map[netip.AddrPort]string{} // address -> path of its first item
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = it.Line
		s, ok := d.scalar(p, it, "name=ip:port, e.g. lb1=198.18.0.11:7300")
		if !ok {
			continue
		}
		peer, msg := configParsePeer(s)
		if msg != "" {
			d.add(it.Line, p, "%s", msg)
			continue
		}
		if first, dup := names[peer.Name]; dup {
			d.add(it.Line, p, "%s is listed twice (also %s on line %d); every peer needs its own name", peer.Name, first, d.lines[first])
			continue
		}
		if first, dup := addrs[peer.Addr]; dup {
			d.add(it.Line, p, "%s is at %s, like %s on line %d; every peer needs its own ip:port", peer.Name, peer.Addr, first, d.lines[first])
			continue
		}
		names[peer.Name], addrs[peer.Addr] = p, p
		cc.Peers = append(cc.Peers, peer)
		d.peerPaths = append(d.peerPaths, p)
	}
}

// joinAddrs decodes cluster.join: gossip addresses as ip or ip:port. The ports are
// filled in with node.gossip_port once the node section is known (see finish).
func (d *configDecoder) joinAddrs(path string, n *yaml.Node, cc *ClusterConfig) {
	items, ok := d.seq(path, n, "[198.18.0.12:7301, 198.18.0.13:7301]")
	if !ok {
		return
	}
	seen := map[netip.AddrPort]string{}
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = it.Line
		s, ok := d.scalar(p, it, "ip or ip:port of another node's gossip, e.g. 198.18.0.12:7301")
		if !ok {
			continue
		}
		ap, msg := ParseJoinAddr(s, 0)
		if msg != "" {
			d.add(it.Line, p, "%s", msg)
			continue
		}
		if first, dup := seen[ap]; dup {
			d.add(it.Line, p, "%s is listed twice (also %s on line %d); list each address once", s, first, d.lines[first])
			continue
		}
		seen[ap] = p
		cc.Join = append(cc.Join, ap)
	}
}

// ParseJoinAddr parses a gossip address to join: an IP address with or without a
// port (IPv6 with a port in brackets). A missing port is port (0 leaves it unset for
// the caller to fill in). The message says what is wrong and what would be right.
func ParseJoinAddr(s string, port uint16) (netip.AddrPort, string) {
	const form = "write ip or ip:port, e.g. 198.18.0.12:7301 or [2001:2::12]:7301"
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.AddrPort{}, "is empty; " + form
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		a, aerr := netip.ParseAddr(strings.Trim(s, "[]"))
		if aerr != nil {
			if host, _, ok := strings.Cut(s, ":"); ok && strings.Count(s, ":") == 1 {
				if _, herr := netip.ParseAddr(host); herr != nil {
					return netip.AddrPort{}, fmt.Sprintf("%q: the host must be an IP address, not a name (raftvip does not resolve names); %s", s, form)
				}
				return netip.AddrPort{}, fmt.Sprintf("%q: the port is not a number from 1 to 65535; %s", s, form)
			}
			return netip.AddrPort{}, fmt.Sprintf("%q is not an IP address (raftvip does not resolve names); %s", s, form)
		}
		ap = netip.AddrPortFrom(a.Unmap(), port)
	} else if ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Sprintf("%q: port 0 is not a port; use the node's node.gossip_port (default %d)", s, DefaultGossipPort)
	}
	if a := ap.Addr(); a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return netip.AddrPort{}, fmt.Sprintf("%q: %s is not a unicast address; use the node.bind address of a node of the cluster", s, a)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ""
}

// configParsePeer parses "name=ip:port".
func configParsePeer(s string) (Peer, string) {
	const form = "write each peer as name=ip:port, e.g. lb2=198.18.0.12:7300"
	name, addr, ok := strings.Cut(s, "=")
	if !ok {
		return Peer{}, fmt.Sprintf("%q has no '='; %s", s, form)
	}
	name, addr = strings.TrimSpace(name), strings.TrimSpace(addr)
	if msg := configNameProblem(name); msg != "" {
		return Peer{}, fmt.Sprintf("peer name %q %s", name, msg)
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		if a, err := netip.ParseAddr(addr); err == nil {
			return Peer{}, fmt.Sprintf("%q has no port; write %s=%s (the peer's node.raft_port)", s, name, netip.AddrPortFrom(a, DefaultRaftPort))
		}
		host, _, _ := strings.Cut(addr, ":")
		if host != "" && !strings.HasPrefix(addr, "[") {
			if _, err := netip.ParseAddr(host); err != nil && !strings.Contains(addr, "::") {
				return Peer{}, fmt.Sprintf("%q: the host must be an IP address, not a name (raftvip does not resolve names when it loads its config); %s", s, form)
			}
		}
		return Peer{}, fmt.Sprintf("%q: %q is not ip:port; %s (IPv6 in brackets: lb2=[2001:2::12]:7300)", s, addr, form)
	}
	switch a := ap.Addr(); {
	case ap.Port() == 0:
		return Peer{}, fmt.Sprintf("%q: port 0 is not a port; use the peer's node.raft_port (default %d)", s, DefaultRaftPort)
	case a.IsUnspecified() || a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return Peer{}, fmt.Sprintf("%q: %s is not a unicast address; use the address the peer has in its node.bind", s, a)
	}
	return Peer{Name: name, Addr: ap}, ""
}

func (d *configDecoder) timing(path string, n *yaml.Node, t *Timing) {
	v := configResolve(n)
	if v != nil && v.Kind == yaml.ScalarNode && !configIsNull(v) {
		d.profile(path, n, t)
		return
	}
	profile := DefaultProfile
	profileOK := true
	var overrides Timing
	fields := []configField{{"profile", func(p string, v *yaml.Node) {
		var pt Timing
		profileOK = d.profile(p, v, &pt)
		profile = pt.Profile
	}}}
	for _, k := range timingKnobs() {
		fields = append(fields, configField{k.key, func(p string, v *yaml.Node) {
			if d.duration(p, v, k.ptr(&overrides)) {
				d.timingSet[k.key] = true
			}
		}})
	}
	if !d.mapping(path, n, fields) || !profileOK {
		return
	}
	*t, _ = Profile(profile)
	for _, k := range timingKnobs() {
		if d.timingSet[k.key] {
			*k.ptr(t) = *k.ptr(&overrides)
		}
	}
}

// profile decodes a profile name into t.
func (d *configDecoder) profile(path string, n *yaml.Node, t *Timing) bool {
	names := timingProfileNames()
	s, ok := d.scalar(path, n, "a timing profile: "+configOr(names))
	if !ok {
		return false
	}
	p, ok := Profile(s)
	if !ok {
		if c, close := configClosest(s, names); close {
			d.add(n.Line, path, "unknown timing profile %q; did you mean %q? (profiles: %s)", s, c, configOr(names))
		} else {
			d.add(n.Line, path, "unknown timing profile %q; use %s", s, configOr(names))
		}
		return false
	}
	*t = p
	return true
}

func (d *configDecoder) socket(path string, n *yaml.Node, dst *string) {
	s, ok := d.scalar(path, n, "an absolute path such as "+DefaultAdminSocket)
	if !ok {
		return
	}
	const sunPath = 107 // sizeof(sockaddr_un.sun_path) - 1 on Linux
	switch {
	case !filepath.IsAbs(s):
		d.add(n.Line, path, "%q is not an absolute path; use a path starting with /, e.g. %s", s, DefaultAdminSocket)
	case strings.HasSuffix(s, "/"):
		d.add(n.Line, path, "%q names a directory; name the socket file, e.g. %sraftvip.sock", s, s)
	case len(s) > sunPath:
		d.add(n.Line, path, "path is %d bytes, longer than a unix socket path can be (%d); use a shorter path such as %s", len(s), sunPath, DefaultAdminSocket)
	default:
		*dst = s
	}
}

func (d *configDecoder) vip(path string, n *yaml.Node, vc *VIPConfig) {
	d.mapping(path, n, []configField{
		{"interface", func(p string, v *yaml.Node) {
			d.validString(p, v, "an interface name such as eth0", configIfaceProblem, &vc.Interface)
		}},
		{"addresses", func(p string, v *yaml.Node) { d.addresses(p, v, vc) }},
		{"lifetime", func(p string, v *yaml.Node) {
			var lt time.Duration
			if !d.duration(p, v, &lt) {
				return
			}
			const why = "Linux counts address lifetimes in whole seconds"
			raw := configResolve(v).Value
			switch {
			case lt < time.Second:
				d.add(v.Line, p, "%q is below 1s; %s, use 1s or more (default 2s)", raw, why)
			case lt > time.Hour:
				d.add(v.Line, p, "%q is above 1h; the lifetime bounds how long the kernel of a frozen or killed agent keeps the VIP, keep it to seconds (default 2s)", raw)
			case lt%time.Second != 0:
				d.add(v.Line, p, "%q is not a whole number of seconds; %s, use %s or %s", raw, why, lt.Truncate(time.Second), lt.Truncate(time.Second)+time.Second)
			default:
				vc.Lifetime = lt
			}
		}},
		{"fencing", func(p string, v *yaml.Node) { d.enum(p, v, &vc.Fencing, "standard", "strict") }},
		{"drain", func(p string, v *yaml.Node) {
			var dr time.Duration
			if !d.duration(p, v, &dr) {
				return
			}
			if dr < 0 || dr > 10*time.Second {
				d.add(v.Line, p, "%s is out of range; a planned move waits this long with new connections held off, use 0 (no drain) to 10s (default 25ms)", dr)
				return
			}
			vc.Drain = dr
		}},
		{"garp", func(p string, v *yaml.Node) {
			d.mapping(p, v, []configField{
				{"repeat", func(p string, v *yaml.Node) {
					d.integer(p, v, 0, 100, "repeat is 0 (do not announce) to 100", &vc.GARP.Repeat)
				}},
				{"interval", func(p string, v *yaml.Node) {
					var iv time.Duration
					if !d.duration(p, v, &iv) {
						return
					}
					if iv < 0 {
						d.add(v.Line, p, "%s is negative; use 0 or more (default 1s)", iv)
						return
					}
					vc.GARP.Interval = iv
				}},
				{"refresh", func(p string, v *yaml.Node) {
					var rf time.Duration
					if !d.duration(p, v, &rf) {
						return
					}
					if rf != 0 && rf < time.Second {
						d.add(v.Line, p, "%s is below 1s; Linux ignores ARP updates that come faster (locktime), use 0 (off) or 1s or more", rf)
						return
					}
					vc.GARP.Refresh = rf
				}},
			})
		}},
	})
}

// configIfaceProblem applies the kernel's rule for interface names (dev_valid_name).
func configIfaceProblem(s string) string {
	switch {
	case s == "":
		return "is empty; name the interface that carries the VIP, e.g. eth0"
	case len(s) > 15:
		return fmt.Sprintf("%q is %d bytes; Linux interface names are at most 15", s, len(s))
	case s == "." || s == "..":
		return fmt.Sprintf("%q is not an interface name; use e.g. eth0", s)
	case strings.Contains(s, ":"):
		base, _, _ := strings.Cut(s, ":")
		return fmt.Sprintf("%q is an address label, not an interface; use the interface itself (%s)", s, base)
	case strings.ContainsFunc(s, func(r rune) bool { return r == '/' || unicode.IsSpace(r) }):
		return fmt.Sprintf("%q contains '/' or white space, which Linux interface names cannot; use e.g. eth0", s)
	}
	return ""
}

func (d *configDecoder) addresses(path string, n *yaml.Node, vc *VIPConfig) {
	items, ok := d.seq(path, n, "[198.18.0.10/24]")
	if !ok {
		return
	}
	seen := map[netip.Addr]int{}
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = it.Line
		s, ok := d.scalar(p, it, "an address with its prefix length, e.g. 198.18.0.10/24")
		if !ok {
			continue
		}
		pf, msg := configParseVIP(s)
		if msg != "" {
			d.add(it.Line, p, "%s", msg)
			continue
		}
		if j, dup := seen[pf.Addr()]; dup {
			d.add(it.Line, p, "%s is listed twice (also %s[%d] on line %d); remove one", pf.Addr(), path, j, d.lines[fmt.Sprintf("%s[%d]", path, j)])
			continue
		}
		seen[pf.Addr()] = i
		vc.Addresses = append(vc.Addresses, pf)
		d.vipPaths = append(d.vipPaths, p)
	}
	if len(items) == 0 {
		d.add(d.lines[path], path, "is empty; list at least one address with its prefix length, e.g. [198.18.0.10/24]")
	}
}

// configParseVIP parses a VIP with its prefix length, or says what is wrong.
func configParseVIP(s string) (netip.Prefix, string) {
	pf, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		if a, err := netip.ParseAddr(s); err == nil {
			bits := 24
			if a.Is6() {
				bits = 64
			}
			return netip.Prefix{}, fmt.Sprintf("%q has no prefix length; write it with the prefix length of the subnet on vip.interface, e.g. %s/%d", s, a, bits)
		}
		return netip.Prefix{}, fmt.Sprintf("%q is not an address with a prefix length; write e.g. 198.18.0.10/24 or 2001:2::10/64 (no host names)", s)
	}
	a := pf.Addr()
	switch {
	case a.Is4In6():
		return netip.Prefix{}, fmt.Sprintf("%s is an IPv4-mapped IPv6 address; write the IPv4 address as such, e.g. %s", s, a.Unmap())
	case a.IsUnspecified():
		return netip.Prefix{}, fmt.Sprintf("%s is the unspecified address; a VIP must be a host address, e.g. 198.18.0.10/24", pf)
	case a.IsLoopback():
		return netip.Prefix{}, fmt.Sprintf("%s is a loopback address; a VIP must be reachable from clients on vip.interface", pf)
	case a.IsMulticast():
		return netip.Prefix{}, fmt.Sprintf("%s is a multicast address; a VIP must be a unicast host address", pf)
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return netip.Prefix{}, fmt.Sprintf("%s is the broadcast address; a VIP must be a unicast host address", pf)
	}
	net := pf.Masked()
	hostBits := a.BitLen() - pf.Bits()
	if hostBits >= 2 && a == net.Addr() {
		return netip.Prefix{}, fmt.Sprintf("%s is the network address of %s; a VIP must be a host address in it, e.g. %s/%d", pf, net, net.Addr().Next(), pf.Bits())
	}
	if a.Is4() && hostBits >= 2 && a == configLastAddr(net) {
		return netip.Prefix{}, fmt.Sprintf("%s is the broadcast address of %s; a VIP must be a host address in it, e.g. %s/%d", pf, net, a.Prev(), pf.Bits())
	}
	return pf, ""
}

// configLastAddr is the highest address of an IPv4 prefix (its broadcast address).
func configLastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	for i := p.Bits(); i < 32; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	return netip.AddrFrom4(b)
}

// checkType is one check type with the keys only it takes.
type checkType struct {
	name    string
	keys    []string // keys only this type takes; keys[0] is required
	need    string   // what keys[0] is
	example string   // keys[0], set
}

// checkTypes is every check type, in the order the docs list them.
func checkTypes() []checkType {
	return []checkType{
		{CheckHAProxy, []string{"socket", "backend", "min_up"}, "the HAProxy stats socket", "socket: /run/haproxy/admin.sock (the path of 'stats socket' in haproxy.cfg)"},
		{CheckHTTP, []string{"url", "expect_status"}, "the URL to GET", "url: http://127.0.0.1:8080/health"},
		{CheckTCP, []string{"address"}, "the address to connect to", "address: 127.0.0.1:443"},
		{CheckScript, []string{"command"}, "the command to run", "command: [/usr/local/bin/check-web, --quick]"},
		{CheckProcess, []string{"pidfile"}, "the pid file of the process", "pidfile: /run/haproxy.pid"},
	}
}

// checkCommonKeys are the keys every check takes.
func checkCommonKeys() []string {
	return []string{"name", "type", "interval", "timeout", "fall", "rise", "weight"}
}

// checkKeys is every key a check item can have.
func checkKeys() []string {
	keys := checkCommonKeys()
	for _, t := range checkTypes() {
		keys = append(keys, t.keys...)
	}
	return keys
}

func (d *configDecoder) checks(path string, n *yaml.Node, cfg *Config) {
	items, ok := d.seq(path, n, "[{name: haproxy, type: haproxy, socket: /run/haproxy/admin.sock}]")
	if !ok {
		return
	}
	names := map[string]string{} // check name -> path of the first check with it
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = it.Line
		c, ok := d.check(p, it)
		if !ok {
			continue
		}
		if c.Name != "" {
			if first, dup := names[c.Name]; dup {
				np := p + ".name"
				d.add(d.at(np), np, "%s is used twice (also %s on line %d); every check needs its own name", c.Name, first, d.at(first+".name"))
				continue
			}
			names[c.Name] = p
		}
		cfg.Checks = append(cfg.Checks, c)
	}
}

// check decodes one item of checks. It returns false if the item is not a mapping.
func (d *configDecoder) check(path string, n *yaml.Node) (CheckConfig, bool) {
	c := CheckConfig{Interval: DefaultCheckInterval, Fall: 1, Rise: 1}
	if configIsNull(configResolve(n)) {
		d.add(n.Line, path, "is empty; a check needs at least a name and a type, e.g. {name: haproxy, type: haproxy, socket: /run/haproxy/admin.sock}")
		return c, false
	}
	timeoutSet := false
	fields := []configField{
		{"name", func(p string, v *yaml.Node) {
			d.validString(p, v, "a name for the check, e.g. haproxy", checkNameProblem, &c.Name)
		}},
		{"type", func(p string, v *yaml.Node) { d.enum(p, v, &c.Type, checkTypeNames()...) }},
		{"interval", func(p string, v *yaml.Node) {
			var iv time.Duration
			if !d.duration(p, v, &iv) {
				return
			}
			if iv < MinCheckInterval {
				d.add(v.Line, p, "%s is below %s; use %s or more (default %s)", iv, MinCheckInterval, MinCheckInterval, DefaultCheckInterval)
				return
			}
			c.Interval = iv
		}},
		{"timeout", func(p string, v *yaml.Node) {
			var to time.Duration
			if !d.duration(p, v, &to) {
				return
			}
			if to <= 0 {
				d.add(v.Line, p, "%s must be greater than 0; a probe that has not answered by then fails (default: the check's interval)", to)
				return
			}
			c.Timeout, timeoutSet = to, true
		}},
		{"fall", func(p string, v *yaml.Node) {
			d.integer(p, v, 1, 255, "fall is 1 to 255 failures in a row before the check counts as failing (default 1)", &c.Fall)
		}},
		{"rise", func(p string, v *yaml.Node) {
			d.integer(p, v, 1, 255, "rise is 1 to 255 passes in a row before a failing check counts as passing again (default 1)", &c.Rise)
		}},
		{"weight", func(p string, v *yaml.Node) {
			d.integer(p, v, -253, 253, "use -253..253 (keepalived's range)", &c.Weight)
		}},
		{"socket", func(p string, v *yaml.Node) {
			d.validString(p, v, "the HAProxy stats socket, e.g. /run/haproxy/admin.sock", configStatsSocketProblem, &c.Socket)
		}},
		{"backend", func(p string, v *yaml.Node) {
			d.validString(p, v, "the name of a backend in haproxy.cfg, e.g. web", configBackendProblem, &c.Backend)
		}},
		{"min_up", func(p string, v *yaml.Node) {
			d.integer(p, v, 1, 10000, "min_up is 1 to 10000 servers of the backend that must be UP (default 1)", &c.MinUp)
		}},
		{"url", func(p string, v *yaml.Node) {
			d.validString(p, v, "a URL such as http://127.0.0.1:8080/health", configURLProblem, &c.URL)
		}},
		{"expect_status", func(p string, v *yaml.Node) {
			d.integer(p, v, 100, 599, "an HTTP status is 100 to 599 (default 200)", &c.ExpectStatus)
		}},
		{"address", func(p string, v *yaml.Node) {
			d.validString(p, v, "host:port, e.g. 127.0.0.1:443", func(s string) string { return configHostPortProblem(s, "127.0.0.1:443") }, &c.Address)
		}},
		{"command", func(p string, v *yaml.Node) {
			if configIsNull(configResolve(v)) {
				d.add(v.Line, p, "has no value; expected the command to run, e.g. [/usr/local/bin/check-web, --quick]")
				return
			}
			d.argv(p, v, "[/usr/local/bin/check-web, --quick]", &c.Command)
		}},
		{"pidfile", func(p string, v *yaml.Node) {
			s, ok := d.scalar(p, v, "the path of a pid file, e.g. /run/haproxy.pid")
			switch {
			case !ok:
			case !filepath.IsAbs(s):
				d.add(v.Line, p, "%q is not an absolute path; use a path starting with /, e.g. /run/haproxy.pid", s)
			case strings.HasSuffix(s, "/"):
				d.add(v.Line, p, "%q names a directory; name the pid file, e.g. %shaproxy.pid", s, s)
			default:
				c.PIDFile = s
			}
		}},
	}
	var set []string // keys set, in file order
	for i := range fields {
		key, decode := fields[i].key, fields[i].decode
		fields[i].decode = func(p string, v *yaml.Node) {
			set = append(set, key)
			decode(p, v)
		}
	}
	if !d.mapping(path, n, fields) {
		return c, false
	}
	has := func(key string) bool { return slices.Contains(set, key) }

	if !has("name") && !d.suggested[path+".name"] {
		d.add(d.at(path), path+".name", "missing; name the check, e.g. name: haproxy (names are unique; status and the logs show them)")
	}
	if !has("type") && !d.suggested[path+".type"] {
		d.add(d.at(path), path+".type", "missing; set the check's type: %s", configOr(checkTypeNames()))
	}
	var typ checkType
	for _, t := range checkTypes() {
		if t.name == c.Type {
			typ = t
		}
	}
	if typ.name == "" {
		return c, true // no type, or a wrong one: reported above
	}
	common := checkCommonKeys()
	for _, key := range set {
		if slices.Contains(common, key) || slices.Contains(typ.keys, key) {
			continue
		}
		owner := ""
		for _, t := range checkTypes() {
			if slices.Contains(t.keys, key) {
				owner = t.name
			}
		}
		p := path + "." + key
		d.drop(p) // whatever is wrong with its value, it should not be there at all
		d.add(d.at(p), p, "does not apply to %s check (%s is for %s checks); %s check takes %s, besides %s",
			checkArticle(typ.name), key, owner, checkArticle(typ.name), configAnd(typ.keys), configAnd(common))
	}
	if req := typ.keys[0]; !has(req) && !d.suggested[path+"."+req] {
		d.add(d.at(path), path+"."+req, "missing; %s check needs %s, e.g. %s", checkArticle(typ.name), typ.need, typ.example)
	}
	if has("min_up") && !has("backend") && typ.name == CheckHAProxy && !d.suggested[path+".backend"] {
		p := path + ".min_up"
		d.add(d.at(p), p, "needs backend; min_up counts the UP servers of a backend: set backend (e.g. backend: web) or remove min_up")
	}

	if !timeoutSet {
		c.Timeout = c.Interval
	}
	if c.Backend != "" && c.MinUp == 0 {
		c.MinUp = 1
	}
	if typ.name == CheckHTTP && c.ExpectStatus == 0 {
		c.ExpectStatus = DefaultExpectStatus
	}
	return c, true
}

// checkArticle is a check type with its article: "a tcp", "an http".
func checkArticle(typ string) string {
	if typ == CheckHTTP {
		return "an " + typ
	}
	return "a " + typ
}

func checkTypeNames() []string {
	var names []string
	for _, t := range checkTypes() {
		names = append(names, t.name)
	}
	return names
}

// drop forgets the errors recorded for path itself.
func (d *configDecoder) drop(path string) {
	d.errs = slices.DeleteFunc(d.errs, func(e FieldError) bool { return e.Field == path })
}

// configAnd lists words as "a, b and c".
func configAnd(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// checkNameProblem says what is wrong with a check name, or "" if nothing.
func checkNameProblem(s string) string {
	if s == "" {
		return "is empty; name the check, e.g. haproxy"
	}
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.') {
			return fmt.Sprintf("%q contains %q; a check name may use only letters, digits, '-', '_' and '.'", s, r)
		}
	}
	if len(s) > 32 {
		return fmt.Sprintf("%q is %d characters; a check name is at most 32 (every node gossips its checks' names)", s, len(s))
	}
	return ""
}

// configStatsSocketProblem says what is wrong with an HAProxy stats socket address,
// or "" if nothing.
func configStatsSocketProblem(s string) string {
	const eg = "use the address of 'stats socket' in haproxy.cfg: its path, e.g. /run/haproxy/admin.sock, or host:port for a TCP stats socket, e.g. 127.0.0.1:9999"
	if pre, rest, ok := strings.Cut(s, "@"); ok && slices.Contains([]string{"unix", "ipv4", "ipv6", "abns"}, pre) {
		if pre == "abns" {
			return fmt.Sprintf("%q is an abstract unix socket, which this check cannot reach; %s", s, eg)
		}
		return fmt.Sprintf("%q has HAProxy's %s@ prefix; write the address without it (%s)", s, pre, rest)
	}
	const sunPath = 107 // sizeof(sockaddr_un.sun_path) - 1 on Linux
	switch {
	case s == "":
		return "is empty; " + eg
	case strings.HasPrefix(s, "/") && strings.HasSuffix(s, "/"):
		return fmt.Sprintf("%q names a directory; %s", s, eg)
	case strings.HasPrefix(s, "/") && len(s) > sunPath:
		return fmt.Sprintf("path is %d bytes, longer than a unix socket path can be (%d)", len(s), sunPath)
	case strings.HasPrefix(s, "/"):
		return ""
	case strings.Contains(s, "/") || strings.HasSuffix(s, ".sock"):
		return fmt.Sprintf("%q is not an absolute path; %s", s, eg)
	}
	if msg := configHostPortProblem(s, "127.0.0.1:9999"); msg != "" {
		return fmt.Sprintf("%q is neither an absolute unix socket path nor host:port; %s", s, eg)
	}
	return ""
}

// configHostPortProblem says what is wrong with host:port, or "" if nothing. The host
// may be a name: it is resolved when the check runs.
func configHostPortProblem(s, eg string) string {
	host, port, err := net.SplitHostPort(s)
	switch {
	case err != nil && strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "["):
		return fmt.Sprintf("%q: write an IPv6 address in brackets, e.g. [2001:db8::1]:443", s)
	case err != nil && !strings.Contains(s, ":"):
		return fmt.Sprintf("%q has no port; write host:port, e.g. %s", s, eg)
	case err != nil:
		return fmt.Sprintf("%q is not host:port; write e.g. %s", s, eg)
	case host == "":
		return fmt.Sprintf("%q has no host; write host:port, e.g. %s", s, eg)
	case strings.ContainsFunc(host, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '/' }):
		return fmt.Sprintf("%q: %q is not a host; write host:port, e.g. %s", s, host, eg)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Sprintf("%q: port %q is not a port; a port is 1 to 65535", s, port)
	}
	return ""
}

// configBackendProblem says what is wrong with an HAProxy backend name, or "" if nothing.
func configBackendProblem(s string) string {
	if s == "" {
		return "is empty; name a backend of haproxy.cfg, e.g. web, or remove the line to check HAProxy alone"
	}
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.:", r)) {
			return fmt.Sprintf("%q contains %q; HAProxy names use only letters, digits, '-', '_', '.' and ':'", s, r)
		}
	}
	return ""
}

// configURLProblem says what is wrong with the URL of an http check, or "" if nothing.
func configURLProblem(s string) string {
	const eg = "http://127.0.0.1:8080/health"
	if !strings.Contains(s, "://") {
		return fmt.Sprintf("%q has no scheme; write http:// or https:// in front, e.g. %s", s, eg)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("%q is not a URL (%v); write e.g. %s", s, errors.Unwrap(err), eg)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q: %s:// is not http:// or https://; the http check GETs an http or https URL, e.g. %s", s, u.Scheme, eg)
	case u.Hostname() == "":
		return fmt.Sprintf("%q has no host; write e.g. %s", s, eg)
	}
	if port := u.Port(); port != "" {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Sprintf("%q: port %s is not a port; a port is 1 to 65535", s, port)
		}
	}
	return ""
}

func (d *configDecoder) vrrp(path string, n *yaml.Node, vc *VRRPConfig) {
	d.mapping(path, n, []configField{
		{"enabled", func(p string, v *yaml.Node) { d.boolean(p, v, &vc.Enabled) }},
		{"version", func(p string, v *yaml.Node) {
			var ver int
			if d.integer(p, v, 2, 3, "VRRP version 2 (keepalived's default) or 3", &ver) {
				vc.Version = ver
			}
		}},
		{"vrid", func(p string, v *yaml.Node) {
			d.integer(p, v, 1, 255, "the virtual_router_id of the keepalived instance, 1 to 255", &vc.VRID)
		}},
		{"advert_interval", func(p string, v *yaml.Node) { d.duration(p, v, &vc.Interval) }},
		{"auth_pass", func(p string, v *yaml.Node) {
			s, ok := d.scalar(p, v, "the auth_pass of the keepalived instance")
			if !ok {
				return
			}
			switch {
			case s == "":
				d.add(v.Line, p, "is empty; set the keepalived instance's auth_pass, or remove the line for no authentication")
			case len(s) > 8:
				d.add(v.Line, p, "is %d bytes; VRRP PASS authentication carries 8 bytes and keepalived cuts longer passwords to their first 8 (%q): write those", len(s), s[:8])
			default:
				vc.AuthPass = s
			}
		}},
		{"unicast_peers", func(p string, v *yaml.Node) {
			items, ok := d.seq(p, v, "[198.18.0.14, 198.18.0.15]")
			if !ok {
				return
			}
			seen := map[netip.Addr]bool{}
			for i, it := range items {
				ip := fmt.Sprintf("%s[%d]", p, i)
				d.lines[ip] = it.Line
				s, ok := d.scalar(ip, it, "an IP address, e.g. 198.18.0.14")
				if !ok {
					continue
				}
				a, msg := configUnicastAddr(s)
				switch {
				case msg != "":
					d.add(it.Line, ip, "%s", msg)
				case seen[a]:
					d.add(it.Line, ip, "%s is listed twice; list each peer once", a)
				default:
					seen[a] = true
					vc.UnicastPeers = append(vc.UnicastPeers, a)
				}
			}
		}},
		{"unicast_src", func(p string, v *yaml.Node) {
			s, ok := d.scalar(p, v, "this node's address, e.g. 198.18.0.11")
			if !ok {
				return
			}
			a, msg := configUnicastAddr(s)
			if msg != "" {
				d.add(v.Line, p, "%s", msg)
				return
			}
			vc.UnicastSrc = a
		}},
		{"interface", func(p string, v *yaml.Node) {
			d.validString(p, v, "an interface name such as eth0", configIfaceProblem, &vc.Interface)
		}},
	})
}

// checkVRRP checks the vrrp section against itself and the rest of the config, and
// fills in its defaults.
func (d *configDecoder) checkVRRP(cfg *Config) {
	vc := &cfg.VRRP
	if vc.Version == 0 {
		vc.Version = DefaultVRRPVersion
	}
	_, intervalSet := d.lines["vrrp.advert_interval"]
	if !intervalSet {
		vc.Interval = DefaultVRRPInterval
	}
	if vc.Interface == "" {
		vc.Interface = cfg.VIP.Interface
	}
	if !vc.UnicastSrc.IsValid() {
		vc.UnicastSrc = cfg.Node.Bind
	}
	if _, set := d.lines["vrrp"]; !set || !vc.Enabled || d.failedAt("vrrp") {
		return
	}
	if _, set := d.lines["vrrp.vrid"]; !set {
		d.add(d.at("vrrp"), "vrrp.vrid", "missing; set the virtual_router_id of the keepalived instance to share, e.g. vrid: 51")
	}
	if intervalSet && !d.failed("vrrp.advert_interval") {
		iv := vc.Interval
		switch {
		case vc.Version == 2 && (iv < time.Second || iv > 255*time.Second || iv%time.Second != 0):
			d.add(d.at("vrrp.advert_interval"), "vrrp.advert_interval", "%s does not fit VRRPv2, which counts whole seconds from 1s to 255s; use the keepalived instance's advert_int (keepalived rounds fractions), or version: 3 for shorter intervals", iv)
		case vc.Version == 3 && (iv < 10*time.Millisecond || iv > 40950*time.Millisecond || iv%(10*time.Millisecond) != 0):
			d.add(d.at("vrrp.advert_interval"), "vrrp.advert_interval", "%s does not fit VRRPv3, which counts centiseconds from 10ms to 40.95s; use the keepalived instance's advert_int", iv)
		}
	}
	if vc.AuthPass != "" && vc.Version == 3 {
		d.add(d.at("vrrp.auth_pass"), "vrrp.auth_pass", "VRRPv3 has no authentication (keepalived ignores auth_pass with version 3); remove auth_pass or use version: 2")
	}
	v4, v6 := 0, 0
	for _, a := range cfg.VIP.Addresses {
		if a.Addr().Is4() {
			v4++
		} else {
			v6++
		}
	}
	switch {
	case v4 > 0 && v6 > 0:
		d.add(d.at("vrrp"), "vrrp", "vip.addresses mixes IPv4 and IPv6, but a VRRP instance advertises one family (keepalived: one virtual_ipaddress family per instance); give the cluster one family, or turn vrrp off")
	case v6 > 0 && vc.Version == 2:
		d.add(d.at("vrrp"), "vrrp.version", "VRRPv2 carries IPv4 only, and vip.addresses are IPv6; set version: 3 (as keepalived does for IPv6 instances)")
	case len(cfg.VIP.Addresses) > 255:
		d.add(d.at("vrrp"), "vrrp", "an advert lists at most 255 addresses; vip.addresses has %d", len(cfg.VIP.Addresses))
	}
	if v6 > 0 && vc.UnicastSrc.Is4() && len(vc.UnicastPeers) > 0 {
		d.add(d.at("vrrp"), "vrrp.unicast_src", "%s is IPv4, but the VIPs are IPv6: set unicast_src to this node's IPv6 address", vc.UnicastSrc)
	}
	for i, pa := range vc.UnicastPeers {
		if pa.Is4() != (v4 > 0) {
			p := fmt.Sprintf("vrrp.unicast_peers[%d]", i)
			d.add(d.at(p), p, "%s is not of the VIPs' address family; list the peers' addresses of that family", pa)
		}
	}
}

func (d *configDecoder) notify(path string, n *yaml.Node, nc *NotifyConfig) {
	hook := func(dst *[]string) func(string, *yaml.Node) {
		return func(p string, v *yaml.Node) { d.argv(p, v, "[/usr/local/bin/vip-up, --quiet]", dst) }
	}
	d.mapping(path, n, []configField{
		{"master", hook(&nc.Master)},
		{"backup", hook(&nc.Backup)},
		{"fault", hook(&nc.Fault)},
		{"stop", hook(&nc.Stop)},
		{"script", hook(&nc.Script)},
		{"instance", func(p string, v *yaml.Node) {
			s, ok := d.scalar(p, v, "an instance name, e.g. "+DefaultNotifyInstance)
			if !ok {
				return
			}
			if s == "" {
				d.add(v.Line, p, "is empty; name the instance the notify script is told about, or remove the line (default %s)", DefaultNotifyInstance)
				return
			}
			for _, r := range s {
				if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' || r == '.') {
					d.add(v.Line, p, "%q contains %q; an instance name may use only letters, digits, '-', '_' and '.' (e.g. VI_1)", s, r)
					return
				}
			}
			nc.Instance = s
		}},
		{"timeout", func(p string, v *yaml.Node) {
			var to time.Duration
			if !d.duration(p, v, &to) {
				return
			}
			switch {
			case to <= 0:
				d.add(v.Line, p, "%s must be greater than 0; a hook still running after this long is killed (default %s)", to, DefaultNotifyTimeout)
			case to > time.Hour:
				d.add(v.Line, p, "%s is above 1h; hooks run one at a time, so a hung hook holds up every later one until it is killed: keep it to seconds (default %s)", to, DefaultNotifyTimeout)
			default:
				nc.Timeout = to
			}
		}},
	})
}

// crossCheck applies defaults that need other fields and the rules that span fields.
func (d *configDecoder) crossCheck(cfg *Config, hostname func() (string, error)) {
	if _, set := d.lines["node.name"]; !set && !d.failedAt("node") && !d.suggested["node.name"] {
		h, err := hostname()
		switch {
		case err != nil:
			d.add(d.at("node"), "node.name", "not set, and the hostname cannot be read (%v); set node.name", err)
		case configNameProblem(h) != "":
			d.add(d.at("node"), "node.name", "not set, and the hostname %q cannot be a node name: it %s; set node.name", h, configNameProblem(h))
		default:
			cfg.Node.Name = h
		}
	}
	if _, set := d.lines["node.bind"]; !set && !d.failedAt("node") && !d.suggested["node.bind"] {
		d.add(d.at("node"), "node.bind", "missing; set this node's IP address, the one it has in cluster.peers, e.g. bind: 198.18.0.11")
	}
	_, peersSet := d.lines["cluster.peers"]
	_, expectSet := d.lines["cluster.bootstrap_expect"]
	_, joinSet := d.lines["cluster.join"]
	switch {
	case peersSet && !d.failed("cluster.peers") && len(cfg.Cluster.Peers) == 0:
		d.add(d.at("cluster.peers"), "cluster.peers", "is empty; list every node as name=ip:port, this one included, e.g. [lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, lb3=198.18.0.13:7300], or remove it and form the cluster with bootstrap_expect and join")
	case peersSet && expectSet:
		d.add(d.at("cluster.bootstrap_expect"), "cluster.bootstrap_expect", "cannot be used with cluster.peers: peers bootstraps a static cluster, bootstrap_expect forms one by gossip; keep one of them")
	case expectSet && !d.failed("cluster.bootstrap_expect") && cfg.Cluster.BootstrapExpect > 1 && !joinSet:
		d.add(d.at("cluster.bootstrap_expect"), "cluster.join", "missing; with bootstrap_expect: %d the nodes find each other by gossip, so list at least one other node's gossip address, e.g. join: [198.18.0.12:%d]",
			cfg.Cluster.BootstrapExpect, DefaultGossipPort)
	}
	for i := range cfg.Cluster.Join {
		if cfg.Cluster.Join[i].Port() == 0 {
			cfg.Cluster.Join[i] = netip.AddrPortFrom(cfg.Cluster.Join[i].Addr(), uint16(cfg.Node.GossipPort))
		}
	}
	if _, set := d.lines["vip.interface"]; !set && !d.failedAt("vip") && !d.suggested["vip.interface"] {
		d.add(d.at("vip"), "vip.interface", "missing; name the interface that carries the VIP, e.g. interface: eth0")
	}
	if _, set := d.lines["vip.addresses"]; !set && !d.failedAt("vip") && !d.suggested["vip.addresses"] {
		d.add(d.at("vip"), "vip.addresses", "missing; list the VIPs with their prefix length, e.g. addresses: [198.18.0.10/24]")
	}

	// Raft and gossip need their own ports; blame the one that was set.
	if cfg.Node.RaftPort == cfg.Node.GossipPort {
		field := "node.gossip_port"
		if _, set := d.lines[field]; !set {
			field = "node.raft_port"
		}
		d.add(d.at(field), field, "%d is both node.raft_port and node.gossip_port; Raft and gossip need a port each (defaults %d and %d)",
			cfg.Node.RaftPort, DefaultRaftPort, DefaultGossipPort)
	}

	// This node must be a peer, at node.bind:node.raft_port.
	if cfg.Node.Name != "" && !d.failed("cluster.peers") && len(cfg.Cluster.Peers) > 0 {
		d.checkSelf(cfg)
	}

	// A VIP must not be an address a node has permanently.
	peerAt := map[netip.Addr]string{}
	for _, peer := range cfg.Cluster.Peers {
		if _, dup := peerAt[peer.Addr.Addr()]; !dup {
			peerAt[peer.Addr.Addr()] = peer.Name
		}
	}
	for i, pf := range cfg.VIP.Addresses {
		p := d.vipPaths[i]
		if cfg.Node.Bind.IsValid() && pf.Addr() == cfg.Node.Bind {
			d.add(d.at(p), p, "%s is node.bind, this node's own address; a VIP must be an address that no node has permanently", pf.Addr())
		} else if name, ok := peerAt[pf.Addr()]; ok {
			d.add(d.at(p), p, "%s is the address of peer %s; a VIP must be an address that no node has permanently", pf.Addr(), name)
		}
	}

	d.checkVRRP(cfg)
	d.checkSecurity(cfg)
	d.checkListeners(cfg)

	if d.failedAt("cluster.timing") || d.failedAt("cluster.timing.profile") {
		return
	}
	t := cfg.Cluster.Timing
	issues := t.check(func(k string) bool { return d.timingSet[k] },
		func(k string) bool { return d.failedAt("cluster.timing." + k) })
	for _, is := range issues {
		p := "cluster.timing." + is.knob
		d.add(d.at(p), p, "%s", is.msg)
	}
	// The kernel must not drop the VIP between two lease renewals.
	if len(issues) > 0 || d.failed("cluster.timing") || d.failed("vip.lifetime") || cfg.VIP.Lifetime > t.RenewInterval() {
		return
	}
	if _, set := d.lines["vip.lifetime"]; set || !d.timingSet["vip_lease"] {
		d.add(d.at("vip.lifetime"), "vip.lifetime", "%s is not longer than the lease renew interval (cluster.timing.vip_lease/4 = %s); the kernel would drop the VIP between two renewals: raise vip.lifetime above %s or lower cluster.timing.vip_lease",
			cfg.VIP.Lifetime, t.RenewInterval(), t.RenewInterval())
		return
	}
	d.add(d.at("cluster.timing.vip_lease"), "cluster.timing.vip_lease", "%s means a lease renewal every %s, but vip.lifetime is %s; the kernel would drop the VIP between two renewals: lower vip_lease below %s or raise vip.lifetime",
		t.VIPLease, t.RenewInterval(), cfg.VIP.Lifetime, 4*cfg.VIP.Lifetime)
}

// checkSelf checks that this node is one of the peers, at node.bind:node.raft_port.
func (d *configDecoder) checkSelf(cfg *Config) {
	name := cfg.Node.Name
	from := "node.name"
	if _, set := d.lines["node.name"]; !set {
		from = "the hostname (node.name is not set)"
	}
	addrOK := cfg.Node.Bind.IsValid() && !d.failed("node.raft_port")
	want := cfg.RaftAddr()
	for i, peer := range cfg.Cluster.Peers {
		if peer.Name != name {
			continue
		}
		if !addrOK || peer.Addr == want {
			return
		}
		var differ []string
		if peer.Addr.Addr() != want.Addr() {
			differ = append(differ, fmt.Sprintf("node.bind is %s", want.Addr()))
		}
		if peer.Addr.Port() != want.Port() {
			differ = append(differ, fmt.Sprintf("node.raft_port is %d", want.Port()))
		}
		p := d.peerPaths[i]
		d.add(d.at(p), p, "this node (%s) is listed at %s, but %s; its entry must be node.bind:node.raft_port (%s): fix the entry or the node section",
			name, peer.Addr, strings.Join(differ, " and "), want)
		return
	}
	names := make([]string, len(cfg.Cluster.Peers))
	hint := ""
	for i, peer := range cfg.Cluster.Peers {
		names[i] = peer.Name
		if addrOK && peer.Addr == want {
			hint = fmt.Sprintf("; %s is listed as %s: set node.name to %s or rename the entry", want, peer.Name, peer.Name)
		}
	}
	if hint == "" {
		hint = "; add this node"
		if addrOK {
			hint += fmt.Sprintf(" (%s=%s)", name, want)
		}
		hint += " or fix node.name"
	}
	d.add(d.at("cluster.peers"), "cluster.peers", "this node, %q from %s, is not in the list (%s)%s",
		name, from, strings.Join(names, ", "), hint)
}

// ExampleConfig returns a commented, valid config for lb1 of a three-node cluster
// (lb1..lb3 on 198.18.0.11-13) holding the VIP 198.18.0.10/24.
func ExampleConfig() string {
	return `# raftvip configuration for lb1 of a three-node cluster (lb1, lb2, lb3).
# Every node has the same file except for the node section.

node:
  name: lb1                  # Raft server ID: letters, digits, - _ . (default: hostname)
  data_dir: /var/lib/raftvip # Raft log and snapshots; keep it across restarts
  bind: 198.18.0.11          # this node's address for Raft and gossip
  raft_port: 7300
  gossip_port: 7301

cluster:
  # Every voter as name=ip:port, this node included. Use an odd number (3 or 5):
  # the VIP is held only while a majority of them can talk to each other.
  peers: [lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, lb3=198.18.0.13:7300]
  # Or, instead of peers, let the nodes find each other by gossip: the lowest-named of
  # three servers that see each other bootstraps the cluster. Nodes added later need
  # only join (or run raftvip join ADDR); the leader adds them.
  #   bootstrap_expect: 3
  #   join: [198.18.0.12, 198.18.0.13]   # gossip addresses; port: node.gossip_port
  # Security: the agent refuses to start without both of these.
  # Mutual TLS 1.3 on the Raft port. Make the cluster's CA once, and a certificate
  # per node, then copy ca.pem, lb1.pem and lb1-key.pem to lb1:
  #   raftvip tls ca --dir /etc/raftvip/tls
  #   raftvip tls cert lb1 --ip 198.18.0.11 --dir /etc/raftvip/tls
  tls:
    ca_file: /etc/raftvip/tls/ca.pem
    cert_file: /etc/raftvip/tls/lb1.pem
    key_file: /etc/raftvip/tls/lb1-key.pem
  # Gossip encryption, the same key on every node: paste the output of raftvip keygen.
  encrypt: "<paste the output of raftvip keygen>"
  # A lab only: run without tls and encrypt (the agent warns at every start).
  #   insecure: true
  # lan (default), fast or wan. Single knobs can be overridden:
  #   timing: {profile: lan, heartbeat_timeout: 400ms, election_timeout: 400ms}
  timing: lan

admin:
  socket: /run/raftvip/raftvip.sock # where the raftvip commands reach the agent (root only, 0600)
  # The admin API on TCP too, for tools that cannot reach the socket. Plain HTTP: keep
  # it on loopback or a management network. Clients send the token of token_file as
  # "Authorization: Bearer <token>" (raftvip --addr ... --token-file ...).
  #   listen: 127.0.0.1:7380
  #   token_file: /etc/raftvip/admin.token  # (umask 077; raftvip keygen > /etc/raftvip/admin.token)

# Prometheus metrics on http://<listen>/metrics; leave out for none.
# metrics:
#   listen: 0.0.0.0:9469

vip:
  interface: eth0
  addresses: [198.18.0.10/24] # several addresses move together; IPv6 works too
  lifetime: 2s                # kernel lifetime, refreshed while held: whole seconds
  fencing: standard           # strict: a new holder also waits the lifetime out
  garp: {repeat: 5, interval: 1s, refresh: 0s}
  drain: 25ms                 # planned moves: hold off new connections this long first

priority: 100 # 1..254; give each node its own, the highest holds the VIP when healthy

# Health checks, with keepalived's vrrp_script semantics. Every interval a probe runs;
# fall failures in a row make a check failing, rise passes in a row passing again.
# weight < 0 is subtracted from the priority while the check fails, weight > 0 added
# while it passes, and weight 0 puts the node in FAULT (it never holds the VIP) while
# the check fails.
checks:
  # HAProxy answers on its stats socket ('stats socket' in haproxy.cfg). If it does
  # not, this node's priority drops by 50, below a healthy peer's, and the VIP moves
  # there. Add backend: web (and min_up: 2) to also require UP servers in a backend.
  - {name: haproxy, type: haproxy, socket: /run/haproxy/admin.sock, interval: 1s, fall: 2, rise: 2, weight: -50}
  # Other types:
  # - {name: web, type: http, url: http://127.0.0.1:8080/health, expect_status: 200, weight: -20}
  # - {name: tls, type: tcp, address: 127.0.0.1:443, weight: -20}
  # - {name: disk, type: script, command: [/usr/local/bin/check-disk, --quick], timeout: 2s}
  # - {name: haproxy-pid, type: process, pidfile: /run/haproxy.pid}

preempt: true       # take the VIP from a holder of lower priority (false: keepalived's nopreempt)
preempt_delay: 0s   # ...once that has lasted this long (0s to 1000s)
min_move_interval: 10s # automatic moves at most once per interval, so a flapping check cannot flap the VIP

# Hooks with keepalived's contract, run in order, one at a time, never in the way of
# the election. master/backup/fault/stop run as written; script gets four arguments
# appended: INSTANCE raftvip MASTER|BACKUP|FAULT|STOP <priority>. No shell: write
# [/bin/sh, -c, "..."] for one.
notify:
  script: [/usr/bin/logger, -t, raftvip-notify]
  # master: [/usr/local/bin/vip-up]
  # fault: [/bin/sh, -c, "systemctl reload haproxy"]
  timeout: 10s

# Share a VRRP group with stock keepalived nodes (mixed fleets, migrations): the
# holder advertises on the keepalived instance's virtual_router_id with its effective
# priority, and a keepalived master of higher priority keeps raftvip from holding.
# vrrp:
#   enabled: true
#   version: 2                # keepalived's vrrp_version / version
#   vrid: 51                  # virtual_router_id
#   advert_interval: 1s       # advert_int (v2: whole seconds; v3: 10ms steps)
#   auth_pass: secret         # authentication { auth_type PASS; auth_pass ... } (v2)
#   unicast_peers: [198.18.0.14]  # unicast_peer; leave out for multicast

log:
  level: info  # debug, info, warn or error
  format: text # text or json
`
}

// validString decodes a string at path that problem accepts (problem returns "" for a
// good value, else what is wrong and what would be right) into dst.
func (d *configDecoder) validString(path string, n *yaml.Node, example string, problem func(string) string, dst *string) {
	s, ok := d.scalar(path, n, example)
	if !ok {
		return
	}
	if msg := problem(s); msg != "" {
		d.add(n.Line, path, "%s", msg)
		return
	}
	*dst = s
}
