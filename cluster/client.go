package cluster

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
)

// ErrAgentNotRunning means nothing answers on the admin socket.
var ErrAgentNotRunning = errors.New("raftvip agent is not running")

// Client talks to a local agent over its admin socket.
type Client struct {
	Socket string
	http   *http.Client
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

// Status fetches the agent's status.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var st Status
	if err := c.get(ctx, "/v1/status", &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://raftvip"+path, nil)
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://raftvip"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, out)
}

func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("%w (nothing listens on %s)", ErrAgentNotRunning, c.Socket)
		}
		if errors.Is(err, syscall.EACCES) {
			return fmt.Errorf("cannot open admin socket %s: permission denied (run as root)", c.Socket)
		}
		return fmt.Errorf("admin socket %s: %w", c.Socket, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin socket %s: read response: %w", c.Socket, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e apiError
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("admin socket %s: %s", c.Socket, resp.Status)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("admin socket %s: decode response: %w", c.Socket, err)
	}
	return nil
}

// Drain sets (drained true) or clears a node's drain flag.
func (c *Client) Drain(ctx context.Context, node string, drained bool) (*DrainResponse, error) {
	var resp DrainResponse
	if err := c.post(ctx, "/v1/drain", DrainRequest{Node: node, Drained: drained}, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}
