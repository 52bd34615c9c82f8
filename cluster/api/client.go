package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"

	"github.com/raftvip/raftvip/cluster/config"
)

// ErrAgentNotRunning means nothing answers on the admin socket.
var ErrAgentNotRunning = errors.New("raftvip agent is not running")

// Client talks to an agent over its admin socket, or over its TCP admin listener
// (admin.listen) with a token.
type Client struct {
	Socket string
	http   *http.Client

	addr      string // TCP: host:port; "" for the socket
	tokenFile string // TCP: the file with the bearer token, read at every call
}

// NewClient returns a client for the agent listening on socket. Every call is bounded
// by its context only: a leave or a transfer can take longer than a status.
func NewClient(socket string) *Client {
	return &Client{
		Socket: socket,
		http: &http.Client{
			Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "unix", socket)
				},
			},
		},
	}
}

// NewTCPClient returns a client for the agent's TCP admin listener at addr
// (admin.listen), which sends the token in tokenFile with every request.
func NewTCPClient(addr, tokenFile string) *Client {
	return &Client{addr: addr, tokenFile: tokenFile, http: &http.Client{}}
}

// where names what the client talks to, for errors.
func (c *Client) where() string {
	if c.addr != "" {
		return "admin listener " + c.addr
	}
	return "admin socket " + c.Socket
}

// Status fetches the agent's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var st Status
	if err := c.get(ctx, "/v1/status", &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url(path), nil)
	if err != nil {
		return err
	}
	return c.do(req, out)
}

func (c *Client) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url(path), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, out)
}

func (c *Client) url(path string) string {
	if c.addr != "" {
		return "http://" + c.addr + path
	}
	return "http://raftvip" + path
}

func (c *Client) do(req *http.Request, out any) error {
	if c.addr != "" {
		token, msg := config.ReadToken(c.tokenFile)
		if c.tokenFile == "" {
			msg = "no token file: give the file of the agent's admin.token_file with --token-file or RAFTVIP_TOKEN_FILE"
		}
		if msg != "" {
			return fmt.Errorf("%s: %s", c.where(), msg)
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("%w (nothing listens on %s)", ErrAgentNotRunning, c.where())
		}
		if errors.Is(err, syscall.EACCES) {
			return fmt.Errorf("cannot open %s: permission denied (run as root)", c.where())
		}
		return fmt.Errorf("%s: %w", c.where(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s: read response: %w", c.where(), err)
	}
	if resp.StatusCode != http.StatusOK {
		var e ErrorBody
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("%s: %s", c.where(), resp.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: decode response: %w", c.where(), err)
	}
	return nil
}

// Drain sets (drained true) or clears a node's drain flag.
func (c *Client) Drain(ctx context.Context, node string, drained bool) (*DrainResponse, error) {
	return post[DrainResponse](ctx, c, "/v1/drain", DrainRequest{Node: node, Drained: drained})
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
	return post[JoinResponse](ctx, c, "/v1/join", JoinRequest{Addresses: addrs})
}

// Leave asks the agent to leave the cluster; it exits shortly after answering.
func (c *Client) Leave(ctx context.Context, force bool) (*LeaveResponse, error) {
	return post[LeaveResponse](ctx, c, "/v1/leave", LeaveRequest{Force: force})
}

// Transfer moves group to node ("" = the best eligible node; group "" = the only
// group, or every group the agent's node holds).
func (c *Client) Transfer(ctx context.Context, group, node string) (*TransferResponse, error) {
	return post[TransferResponse](ctx, c, "/v1/transfer", TransferRequest{Node: node, Group: group})
}

// ForceLeave removes node from the cluster without its cooperation.
func (c *Client) ForceLeave(ctx context.Context, node string) (*ForceLeaveResponse, error) {
	return post[ForceLeaveResponse](ctx, c, "/v1/force-leave", ForceLeaveRequest{Node: node})
}

// post sends req to path and decodes the answer as a Resp.
func post[Resp any](ctx context.Context, c *Client, path string, req any) (*Resp, error) {
	var resp Resp
	if err := c.post(ctx, path, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}
