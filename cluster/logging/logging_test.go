package logging

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/cluster/config"
)

func TestRaftLinesLandInOneStream(t *testing.T) {
	var b bytes.Buffer
	l := HCLog(New(&b, config.LogConfig{Level: "info", Format: "text"}), "raft")
	l.Info("initial configuration", "servers", hclog.Fmt("%+v", []string{"lb1", "lb2"}))
	l.Debug("hidden at info")
	out := b.String()
	if !strings.Contains(out, "component=raft") || !strings.Contains(out, `servers="[lb1 lb2]"`) {
		t.Errorf("adapted line = %q; want component=raft and the formatted servers", out)
	}
	if strings.Contains(out, "hidden") {
		t.Errorf("debug line leaked at info: %q", out)
	}
}

func TestRepeatedRaftWarningsAreRateLimited(t *testing.T) {
	var b bytes.Buffer
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	s := &slogSink{
		logger: slog.New(slog.NewTextHandler(&b, nil)),
		level:  hclog.Info,
		now:    func() time.Time { return now },
		seen:   map[string]*repeat{},
	}
	for range 10 {
		s.Accept("raft-net", hclog.Error, "failed to heartbeat to", "peer", "198.18.0.12:7300")
		now = now.Add(100 * time.Millisecond)
	}
	s.Accept("raft-net", hclog.Error, "failed to heartbeat to", "peer", "198.18.0.13:7300") // another peer
	now = now.Add(repeatWindow)
	s.Accept("raft-net", hclog.Error, "failed to heartbeat to", "peer", "198.18.0.12:7300")
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3 (first, other peer, after the window):\n%s", len(lines), b.String())
	}
	if !strings.Contains(lines[2], "repeated=9") {
		t.Errorf("line after the window = %q; want repeated=9", lines[2])
	}
}
