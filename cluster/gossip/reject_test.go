package gossip

import (
	"io"
	"log/slog"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/raftvip/raftvip/cluster/logging"
)

func TestGossipRejectReason(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want string
	}{
		{"memberlist: failed to receive: No installed keys could decrypt the message from=198.18.0.14:7301", RejectWrongKey},
		{"memberlist: Decrypt packet failed: no installed keys could decrypt the message from=198.18.0.14:7301", RejectWrongKey},
		{"memberlist: Failed to read remote state: encryption is configured but remote state is not encrypted from=x", RejectNotEncrypted},
		{"memberlist: failed to receive: remote state is encrypted and encryption is not configured from=x", RejectNoKey},
		{"memberlist: Decrypt packet failed: unsupported encryption version 5 from=x", RejectDecrypt},
		{"memberlist: Stream connection from=198.18.0.12:7301", ""},
	} {
		got, ok := rejectReason(tc.msg)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%q: %q, %v; want %q", tc.msg, got, ok, tc.want)
		}
	}
	g := &Gossip{rejects: map[string]uint64{}}
	l := logging.HCLogObserved(slog.New(slog.NewTextHandler(io.Discard, nil)), "memberlist", g.observe)
	std := l.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}) // as memberlist gets it
	std.Printf("[ERR] memberlist: failed to receive: No installed keys could decrypt the message from=198.18.0.14:7301")
	std.Printf("[ERR] memberlist: failed to receive: No installed keys could decrypt the message from=198.18.0.14:7301")
	std.Printf("[DEBUG] memberlist: Stream connection from=198.18.0.12:7301")
	if g.rejects[RejectWrongKey] != 2 || len(g.rejects) != 1 {
		t.Errorf("counted %v, want 2 wrong_key (the repeat is held back from the log, not from the count)", g.rejects)
	}
}
