package api

import "time"

// Status is what `raftvip status --json` prints. Field names are a contract other tools
// rely on: add fields, never rename them.
type Status struct {
	Node     string `json:"node"`
	NodeRole string `json:"node_role"` // lb, or witness: a voter that never holds a VIP
	State    string `json:"state"`     // leader, follower, candidate, shutdown
	Leader   string `json:"leader"`
	Term     uint64 `json:"term"`
	// Holding, Holder, LeaseRemainingMS, HeldSince and VIP are about the first group
	// (the only one of a vip: block); Groups has every group.
	Holding          bool           `json:"holding"`
	Holder           string         `json:"holder"` // the node the ownership log assigns the first group to ("" if none)
	Reason           string         `json:"reason"`
	Membership       string         `json:"membership,omitempty"` // why this node is not in a cluster yet ("" once it is)
	Priority         int            `json:"priority"`             // effective priority
	BasePriority     int            `json:"base_priority"`        // configured priority
	Eligible         bool           `json:"eligible"`
	Ineligible       string         `json:"ineligible,omitempty"` // why this node may not hold
	Drained          bool           `json:"drained"`
	Checks           []Check        `json:"checks"`
	Policy           Policy         `json:"policy"`
	HeldSince        *time.Time     `json:"held_since,omitempty"`
	LeaseRemainingMS int64          `json:"lease_remaining_ms"`
	VIP              VIPStatus      `json:"vip"`    // the first group's (the only one of a vip: block)
	Groups           []GroupStatus  `json:"groups"` // every VIP group
	Timing           TimingInfo     `json:"timing"`
	Members          []Member       `json:"members"`
	Events           []Event        `json:"events"`
	VRRP             VRRPStatus     `json:"vrrp"`
	Security         SecurityStatus `json:"security"`
	Version          string         `json:"version"`
}

// VIPStatus describes the configured VIP.
type VIPStatus struct {
	Interface string   `json:"interface"`
	Addresses []string `json:"addresses"`
	Lifetime  string   `json:"lifetime"`
	Fencing   string   `json:"fencing"`
}

// TimingInfo is the timing in force.
type TimingInfo struct {
	Profile     string `json:"profile"`
	HeartbeatMS int64  `json:"heartbeat_ms"`
	VIPLeaseMS  int64  `json:"vip_lease_ms"` // L: a holder's lease from one renewal round
	DeltaMS     int64  `json:"delta_ms"`     // δ: its margin for clock-rate drift and removal
	// WaitMS is W of the first group: what its current assignee owes before it may
	// hold (0 after a held release).
	WaitMS int64 `json:"wait_ms"`
	// Differs names the members whose cluster.timing differs from this node's, with
	// theirs. Each assignment records its holder's settings, so this is safe, but a
	// group's failover time depends on its holder's.
	Differs []string `json:"differs,omitempty"`
}

// GroupStatus is one VIP group as this node sees it (status: "groups").
type GroupStatus struct {
	Name      string   `json:"name"`
	Interface string   `json:"interface"`
	Addresses []string `json:"addresses"`
	// Holder is the node the committed log assigns the group to ("" if none), and
	// Index that assignment's log index.
	Holder string `json:"holder"`
	Index  uint64 `json:"index,omitempty"`
	// Holding: this node holds it. Assigned: it is assigned to this node in this
	// incarnation (held, or waiting to).
	Holding          bool   `json:"holding"`
	Assigned         bool   `json:"assigned"`
	Reason           string `json:"reason"` // why this node holds it, or not
	LeaseRemainingMS int64  `json:"lease_remaining_ms"`
	WaitMS           int64  `json:"wait_ms"` // what the current assignee owes before holding
	Priority         int    `json:"priority"`
	Ineligible       string `json:"ineligible,omitempty"` // why this node may not hold it
	// Differs names the settings in which this node's copy of the group differs from
	// the leader's (the leader places the group elsewhere).
	Differs []string   `json:"differs,omitempty"`
	VRRP    VRRPStatus `json:"vrrp"`
	// Policy is the leader's outlook for the group: the node it prefers and the move
	// it waits for (empty preferred when the leader could not be asked).
	Policy Policy `json:"policy"`
}

// Member is one server of the Raft configuration, with its health as this node sees it.
type Member struct {
	Name string `json:"name"`
	// NodeRole is the node's node.role: lb, or witness (a voter that never holds a
	// VIP); "" when its gossip has not arrived.
	NodeRole     string        `json:"node_role,omitempty"`
	Address      string        `json:"address"`
	Voter        bool          `json:"voter"`
	Leader       bool          `json:"leader"`
	Holder       bool          `json:"holder"`
	Gossip       string        `json:"gossip"`                  // alive, suspect, dead, left, unknown (self: alive)
	Priority     int           `json:"priority"`                // effective; 0 when unknown
	BasePriority int           `json:"base_priority,omitempty"` // configured; 0 when unknown
	Eligible     bool          `json:"eligible"`
	Ineligible   string        `json:"ineligible,omitempty"` // why not: FAULT, drained, no quorum, ...
	Fault        bool          `json:"fault"`
	Drained      bool          `json:"drained"`
	Checks       []MemberCheck `json:"checks,omitempty"`
	Version      string        `json:"version,omitempty"`
	Timing       string        `json:"timing,omitempty"` // its cluster.timing, as it gossips it
}

// MemberCheck is a check's state as its node gossips it.
type MemberCheck struct {
	Name   string `json:"name"`
	State  string `json:"state"` // passing, failing, unknown
	Output string `json:"output,omitempty"`
}

// Check is one of this node's checks.
type Check struct {
	Name    string     `json:"name"`
	Type    string     `json:"type"`
	Weight  int        `json:"weight"`
	State   string     `json:"state"` // passing, failing, unknown
	Output  string     `json:"output,omitempty"`
	Since   *time.Time `json:"since,omitempty"`
	LastRun *time.Time `json:"last_run,omitempty"`
}

// Policy is the leadership policy's current view.
type Policy struct {
	Preferred    string     `json:"preferred"`               // the node placement wants holding the group
	NoneEligible string     `json:"none_eligible,omitempty"` // why nobody may hold it
	Pending      string     `json:"pending,omitempty"`       // a move the policy is waiting to make
	Preempt      bool       `json:"preempt"`
	PreemptDelay string     `json:"preempt_delay"`
	MinMoveEvery string     `json:"min_move_interval"`
	LastMove     *time.Time `json:"last_move,omitempty"`
}

// Event is one ownership record from the replicated history, newest last.
type Event struct {
	Kind    string    `json:"kind"`
	Node    string    `json:"node"`
	Term    uint64    `json:"term"`
	At      time.Time `json:"at"`
	Index   uint64    `json:"index"`
	Handoff string    `json:"handoff,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Drained *bool     `json:"drained,omitempty"` // drain events only
	Group   string    `json:"group,omitempty"`   // assign and release of a group
	Held    bool      `json:"held,omitempty"`    // a group's release: its node held it
}

// VRRPStatus is the vrrp part of status.
type VRRPStatus struct {
	Enabled  bool              `json:"enabled"`
	Role     string            `json:"role"` // master (this node holds), backup, disabled
	Version  int               `json:"version,omitempty"`
	VRID     int               `json:"vrid,omitempty"`
	Reason   string            `json:"reason,omitempty"` // why the cluster is VRRP backup to a foreign master
	Foreign  []VRRPRouter      `json:"foreign"`
	Sent     uint64            `json:"sent"`
	Received uint64            `json:"received"`
	Accepted uint64            `json:"accepted"`
	Dropped  map[string]uint64 `json:"dropped"`
}

// VRRPRouter is a foreign VRRP router heard on the link.
type VRRPRouter struct {
	Address    string    `json:"address"`
	Priority   int       `json:"priority"`
	IntervalMS int64     `json:"interval_ms"`
	Version    int       `json:"version"`
	LastSeen   time.Time `json:"last_seen"`
	Adverts    uint64    `json:"adverts"`
	Master     bool      `json:"master"`
}

// SecurityStatus is how this node's cluster traffic is secured, and what it turned
// away (status: "security").
type SecurityStatus struct {
	TLS             bool `json:"tls"`              // mutual TLS on the Raft port (cluster.tls)
	GossipEncrypted bool `json:"gossip_encrypted"` // cluster.encrypt is set
	Insecure        bool `json:"insecure"`         // cluster.insecure: true
	// TLSRejectsIn counts connections to this node's Raft port whose handshake failed,
	// by reason (the Reject* constants of package transport); TLSRejectsOut counts this node's own
	// connections to peers that failed.
	TLSRejectsIn  map[string]uint64 `json:"tls_rejects_in,omitempty"`
	TLSRejectsOut map[string]uint64 `json:"tls_rejects_out,omitempty"`
	// GossipRejects counts gossip messages this node could not decrypt, by reason
	// (the Reject* constants of package gossip).
	GossipRejects map[string]uint64 `json:"gossip_rejects,omitempty"`
	// RecentTLSRejects are the last few failed handshakes, newest last.
	RecentTLSRejects []TLSReject `json:"recent_tls_rejects,omitempty"`
}

// TLSReject is one failed handshake on the Raft port.
type TLSReject struct {
	At        time.Time `json:"at"`
	Direction string    `json:"direction"` // in: a peer connected to this node; out: this node dialled the peer
	Remote    string    `json:"remote"`
	Reason    string    `json:"reason"`
	Error     string    `json:"error"`
}
