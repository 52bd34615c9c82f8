package election

import "time"

// MoveFacts is what the log line of a move says about it.
type MoveFacts struct {
	From   string // the previous holder, "-" if there was none
	Reason string // why the VIP moved
	Gap    string // how long nobody held it, as far as this node can tell; "-" if it cannot
}

// DescribeMove says, for a node self that has just started holding the VIP, where the
// VIP came from, why, and for how long nobody held it. prev is the ownership record
// self's claim followed in the log (ok false if there was none); leaderContact is when
// self, as a follower, last heard from a leader.
//
// After a release (a planned move, or a holder that gave the VIP up), the gap runs from
// the release record's stamp: the old holder removed its addresses before it proposed
// the record. After a claim by another node (its holder died or was cut off), the gap
// runs from self's last contact with the old leader, which is about when it went
// silent. Stamps come from two nodes' wall clocks, so clock skew adds to the gap.
func DescribeMove(self string, prev Record, ok bool, leaderContact, now time.Time) MoveFacts {
	if !ok {
		return MoveFacts{From: "-", Reason: "first claim", Gap: "-"}
	}
	m := MoveFacts{From: prev.Node, Gap: "-"}
	switch {
	case prev.Kind == KindRelease:
		m.Reason = prev.Reason
		if m.Reason == "" {
			m.Reason = "released"
		}
		m.Gap = since(prev.At, now)
	case prev.Node == self:
		m.Reason = "re-elected"
	default:
		m.Reason = "leader lost"
		if leaderContact.After(prev.At) {
			m.Gap = since(leaderContact, now)
		}
	}
	return m
}

func since(t, now time.Time) string {
	if t.IsZero() || now.Before(t) {
		return "-"
	}
	return now.Sub(t).Round(time.Millisecond).String()
}
