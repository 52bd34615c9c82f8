package cluster

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster/api"
)

// Bad requests to the admin API get a 400 with a message that says what is wrong, and
// change nothing (the node is never consulted).
func TestAdminRejectsBadDrainRequests(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	a, err := startAdmin(sock, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	hc := socketClient(sock, 5*time.Second)

	for _, tt := range []struct{ body, want string }{
		{`{"node":`, "request body"},
		{`{"node":"lb1","drained":"yes"}`, "request body"},
		{`{"node":"lb1","drain":true}`, `unknown field`},
		{`[1,2]`, "request body"},
	} {
		resp, err := hc.Post("http://raftvip/v1/drain", "application/json", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), tt.want) {
			t.Errorf("POST %s: %d %s; want 400 mentioning %q", tt.body, resp.StatusCode, b, tt.want)
		}
	}
	resp, err := hc.Get("http://raftvip/v1/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /v1/nope: %d, want 404", resp.StatusCode)
	}

	// The client turns an API error into one line.
	_, err = api.NewClient(sock).Drain(context.Background(), "", true)
	if err == nil || !strings.Contains(err.Error(), "no node named") || strings.Contains(err.Error(), "\n") {
		t.Errorf("drain with no node name: %v; want one line saying a node name is needed", err)
	}
}

// The admin socket serves Go's profiles, for profiling an agent in the field.
func TestAdminServesProfiles(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	a, err := startAdmin(sock, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	hc := socketClient(sock, 10*time.Second)
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/profile?seconds=1", "/debug/pprof/heap"} {
		resp, err := hc.Get("http://raftvip" + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(b) == 0 {
			t.Errorf("GET %s: %d, %d bytes", path, resp.StatusCode, len(b))
		}
	}
}

// socketClient is an HTTP client that reaches the admin socket sock.
func socketClient(sock string, timeout time.Duration) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}, Timeout: timeout}
}
