package config

import (
	"net/netip"
	"time"
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
	DefaultRole         = RoleLB

	DefaultPreempt         = true
	MaxPreemptDelay        = 1000 * time.Second // keepalived's limit for preempt_delay
	DefaultMinMoveInterval = 10 * time.Second
	DefaultCheckInterval   = time.Second
	MinCheckInterval       = 10 * time.Millisecond
	DefaultExpectStatus    = 200
	DefaultNotifyInstance  = "raftvip"
	DefaultNotifyTimeout   = 10 * time.Second

	// VIPGroupName names the one group of the vip: form.
	VIPGroupName = "vip"
	// MaxGroups bounds groups: each group is a label value of the metrics and has
	// its own identity digest in every node's gossip metadata.
	MaxGroups = 32
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
//
// A file gives its VIPs in one of two forms: groups: (several groups, DESIGN §9), or
// the one-group form vip: with priority, preempt, preempt_delay, min_move_interval
// and vrrp at the top level. Groups holds them either way. VIP, Priority, Preempt,
// PreemptDelay, MinMoveInterval and VRRP are the first group as the one-group form
// spells it; the rest of the code reads them until the node runs several groups.
type Config struct {
	Node    NodeConfig
	Cluster ClusterConfig
	Admin   AdminConfig

	// Groups are the VIP groups, at least one, in file order; names are unique. The
	// vip: form is one group named "vip" (VIPGroupName) that tracks every check.
	Groups []GroupConfig
	// GroupsSection reports that the file has groups:; false is the vip: form.
	GroupsSection bool

	// The first group in the one-group form's fields, until the node runs several
	// groups. With groups:, the top-level priority, preempt, preempt_delay and
	// min_move_interval are only the defaults of every group's own, and these fields
	// hold the first group's values.
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
	// Role is RoleLB (default) or RoleWitness: a voter that holds no VIP, runs no
	// checks and no VRRP, and whose file has no VIP sections (DESIGN §9.2).
	Role string
}

// The node roles (node.role).
const (
	RoleLB      = "lb"
	RoleWitness = "witness"
)

// Witness reports whether this node is a witness (node.role: witness).
func (c *Config) Witness() bool { return c.Node.Role == RoleWitness }

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

// GroupConfig is one VIP group (groups[i], or the vip: form as a whole): addresses
// that move together, the node that holds them placed by the leader (DESIGN §9.2).
// Identity lists the keys every node must have alike; Priority, Track, Interface and
// VRRP's UnicastSrc and UnicastPeers are this node's own.
type GroupConfig struct {
	// Name is required and unique: letters, digits, '-', '_', '.', at most 32 bytes.
	// It labels metrics and is notify's INSTANCE argument.
	Name      string
	Interface string         // required
	Addresses []netip.Prefix // required, at least one; no address is in two groups
	// Priority is this node's priority for the group, 1..254; default: the top-level
	// priority (itself default 100).
	Priority int
	// Track names the checks that weigh into the group's priority. nil (track: left
	// out) is every check; empty (track: []) is none. Tracks answers for one check.
	Track []string

	// Preempt, PreemptDelay and MinMoveInterval are as Config's; each defaults to the
	// top-level key when that is set, else to its global default (true, 0, 10s). The
	// groups of one Together set have the same three.
	Preempt         bool
	PreemptDelay    time.Duration
	MinMoveInterval time.Duration
	// Together names a set of groups placed as one unit (keepalived's
	// vrrp_sync_group), each keeping its own VRRP identity; "" = on its own.
	Together string

	Lifetime time.Duration // as VIPConfig's
	Fencing  string        // as VIPConfig's
	GARP     GARPConfig
	Drain    time.Duration // as VIPConfig's
	// VRRP is the group's keepalived instance. Its Interface defaults to the group's
	// Interface; no two enabled groups share a VRID on one interface and family.
	VRRP VRRPConfig
}

// Tracks reports whether the check named check weighs into the group's priority.
func (g GroupConfig) Tracks(check string) bool {
	if g.Track == nil {
		return true
	}
	for _, t := range g.Track {
		if t == check {
			return true
		}
	}
	return false
}

// VIP is the group's addresses and how they are held, as the vip: form has them.
func (g GroupConfig) VIP() VIPConfig {
	return VIPConfig{Interface: g.Interface, Addresses: g.Addresses, Lifetime: g.Lifetime, Fencing: g.Fencing, GARP: g.GARP, Drain: g.Drain}
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
	Interface    string        // default: the group's interface (vip.interface)
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
