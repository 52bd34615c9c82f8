package cluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// MemberInfo is one node as the membership view sees it: a server of the Raft
// configuration, a gossip member, or both (GET /v1/members).
type MemberInfo struct {
	Name          string `json:"name"`
	Address       string `json:"address"`        // raft address ("" if not in raft)
	GossipAddress string `json:"gossip_address"` // "" if unknown to gossip
	Role          string `json:"role"`           // leader | voter | non-voter | none
	Gossip        string `json:"gossip"`         // alive | suspect | dead | left | unknown
	Priority      int    `json:"priority"`       // effective; 0 unknown
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

// TransferRequest asks for the VIP on a node ("" = the best eligible) (POST /v1/transfer).
type TransferRequest struct {
	Node string `json:"node"`
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

// Members fetches the agent's membership view.
func (c *Client) Members(ctx context.Context) (*MembersResponse, error) {
	var resp MembersResponse
	if err := c.get(ctx, "/v1/members", &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Join asks the agent to join gossip through the given addresses.
func (c *Client) Join(ctx context.Context, addrs []string) (*JoinResponse, error) {
	var resp JoinResponse
	if err := c.post(ctx, "/v1/join", JoinRequest{Addresses: addrs}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Leave asks the agent to leave the cluster; it exits shortly after answering.
func (c *Client) Leave(ctx context.Context, force bool) (*LeaveResponse, error) {
	var resp LeaveResponse
	if err := c.post(ctx, "/v1/leave", LeaveRequest{Force: force}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Transfer moves the VIP to node ("" = the best eligible node).
func (c *Client) Transfer(ctx context.Context, node string) (*TransferResponse, error) {
	var resp TransferResponse
	if err := c.post(ctx, "/v1/transfer", TransferRequest{Node: node}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// ForceLeave removes node from the cluster without its cooperation.
func (c *Client) ForceLeave(ctx context.Context, node string) (*ForceLeaveResponse, error) {
	var resp ForceLeaveResponse
	if err := c.post(ctx, "/v1/force-leave", ForceLeaveRequest{Node: node}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// GenerateKey returns a new random 32-byte gossip key in standard base64, for
// cluster.encrypt.
func GenerateKey() (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("cluster: generate key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(key), nil
}
