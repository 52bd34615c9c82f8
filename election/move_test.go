package election

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestDescribeMove(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	tests := []struct {
		name    string
		prev    Record
		ok      bool
		contact time.Time
		want    MoveFacts
	}{
		{name: "first claim of a new cluster", want: MoveFacts{"-", "first claim", "-"}},
		{name: "planned transfer", ok: true,
			prev: Record{Kind: KindRelease, Node: "lb1", Handoff: "lb2", Reason: "transfer", At: ago(68 * time.Millisecond)},
			want: MoveFacts{"lb1", "transfer", "68ms"}},
		{name: "release without a reason", ok: true,
			prev: Record{Kind: KindRelease, Node: "lb1", At: ago(time.Second)},
			want: MoveFacts{"lb1", "released", "1s"}},
		{name: "release stamped by a clock ahead of ours", ok: true,
			prev: Record{Kind: KindRelease, Node: "lb1", Reason: "fault", At: now.Add(time.Second)},
			want: MoveFacts{"lb1", "fault", "-"}},
		{name: "holder died: gap from the last contact", ok: true,
			prev:    Record{Kind: KindClaim, Node: "lb1", At: ago(time.Hour)},
			contact: ago(912 * time.Millisecond),
			want:    MoveFacts{"lb1", "leader lost", "912ms"}},
		{name: "holder died, no contact since its claim", ok: true,
			prev:    Record{Kind: KindClaim, Node: "lb1", At: ago(time.Second)},
			contact: ago(time.Hour),
			want:    MoveFacts{"lb1", "leader lost", "-"}},
		{name: "own claim again after a re-election", ok: true,
			prev: Record{Kind: KindClaim, Node: "lb2", At: ago(time.Minute)},
			want: MoveFacts{"lb2", "re-elected", "-"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DescribeMove("lb2", tt.prev, tt.ok, tt.contact, now); got != tt.want {
				t.Errorf("DescribeMove = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLeadershipGone(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("cluster: commit ownership record: %w", raft.ErrNotLeader), true},
		{fmt.Errorf("cluster: commit ownership record: %w", raft.ErrLeadershipLost), true},
		{raft.ErrLeadershipTransferInProgress, true},
		{raft.ErrEnqueueTimeout, false},
		{errors.New("disk full"), false},
	} {
		if got := leadershipGone(tt.err); got != tt.want {
			t.Errorf("leadershipGone(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
