package api

// DrainRequest sets or clears a node's drain flag (POST /v1/drain).
type DrainRequest struct {
	Node    string `json:"node"`
	Drained bool   `json:"drained"`
}

// DrainResponse confirms a committed drain flag.
type DrainResponse struct {
	Node    string `json:"node"`
	Drained bool   `json:"drained"`
	Index   uint64 `json:"index"`
}

// MemberInfo is one node as the membership view sees it: a server of the Raft
// configuration, a gossip member, or both (GET /v1/members).
type MemberInfo struct {
	Name          string `json:"name"`
	Address       string `json:"address"`             // raft address ("" if not in raft)
	GossipAddress string `json:"gossip_address"`      // "" if unknown to gossip
	Role          string `json:"role"`                // leader | voter | non-voter | none
	NodeRole      string `json:"node_role,omitempty"` // lb | witness; "" unknown
	Gossip        string `json:"gossip"`              // alive | suspect | dead | left | unknown
	Priority      int    `json:"priority"`            // effective; 0 unknown
	Eligible      bool   `json:"eligible"`
	Ineligible    string `json:"ineligible,omitempty"`
	Holder        bool   `json:"holder"`
	Drained       bool   `json:"drained"`
	Version       string `json:"version,omitempty"`
}

// MembersResponse is the membership view of one node (GET /v1/members).
type MembersResponse struct {
	Node    string       `json:"node"`
	Leader  string       `json:"leader"`
	Holder  string       `json:"holder"`
	Members []MemberInfo `json:"members"`
}

// JoinRequest asks the agent to contact the gossip addresses (POST /v1/join).
type JoinRequest struct {
	Addresses []string `json:"addresses"`
}

// JoinResponse says how many addresses answered and how big gossip is now.
type JoinResponse struct {
	Contacted int `json:"contacted"`
	Members   int `json:"members"`
}

// LeaveRequest asks the agent to leave the cluster and exit (POST /v1/leave).
type LeaveRequest struct {
	Force bool `json:"force"`
}

// LeaveResponse confirms a leave: the node, who it handed the VIP to, and the voters
// that remain.
type LeaveResponse struct {
	Node     string `json:"node"`
	HandedTo string `json:"handed_to,omitempty"`
	Voters   int    `json:"voters"`
}

// TransferRequest asks for a group on a node (POST /v1/transfer): Node "" is the
// best eligible; Group "" is the only group, or every group the asked node holds.
type TransferRequest struct {
	Node  string `json:"node"`
	Group string `json:"group,omitempty"`
}

// TransferResponse confirms a transfer once leadership moved.
type TransferResponse struct {
	From        string `json:"from"`
	To          string `json:"to"`
	AlreadyHeld bool   `json:"already_held"`
}

// ForceLeaveRequest removes a node from the cluster without its help (POST /v1/force-leave).
type ForceLeaveRequest struct {
	Node string `json:"node"`
}

// ForceLeaveResponse confirms a removal and the voters that remain.
type ForceLeaveResponse struct {
	Node   string `json:"node"`
	Voters int    `json:"voters"`
}

// ErrorBody is the body of every answer that is not 200 OK: what went wrong, in one
// line an operator can act on.
type ErrorBody struct {
	Error string `json:"error"`
}
