package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

func serveUnix(t *testing.T, h http.Handler) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestClientNoAgent(t *testing.T) {
	c := NewClient(filepath.Join(t.TempDir(), "nothing.sock"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.Status(ctx); !errors.Is(err, ErrAgentNotRunning) {
		t.Errorf("status with no agent: %v, want ErrAgentNotRunning", err)
	}
}

// An answer other than 200 is an error with the agent's own words, which the CLI
// prints as they are.
func TestClientErrorBody(t *testing.T) {
	sock := serveUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error": "no member named \"lb9\"; members are lb1, lb2, lb3"}`))
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := NewClient(sock).Transfer(ctx, "", "lb9")
	if err == nil || err.Error() != `no member named "lb9"; members are lb1, lb2, lb3` {
		t.Errorf("transfer error %v", err)
	}
}

func TestClientDecodesStatus(t *testing.T) {
	sock := serveUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/status" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"node": "lb1", "holding": true, "holder": "lb1", "lease_remaining_ms": 90}`))
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := NewClient(sock).Status(ctx)
	if err != nil || st.Node != "lb1" || !st.Holding || st.LeaseRemainingMS != 90 {
		t.Errorf("status %+v, %v", st, err)
	}
}
