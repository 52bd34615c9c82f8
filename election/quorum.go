package election

import (
	"slices"
	"strings"
	"time"
)

// Quorum leases (DESIGN §9.3): a holder keeps a group while a majority of the voters of
// one configuration vouches for its assignment. The holder sends a renewal round to
// every voter every L/4; each voter acknowledges the groups whose latest assignment in
// its own log, committed or not, is the one the round names, and says which
// configuration it is a voter of. Nothing here sends, reads a clock or touches Raft:
// the node does the I/O and passes the times in.

// Configuration is a Raft configuration as a voter reports it: the log index and term
// of the configuration entry, and its voters. The index and the voters name it (a
// voter that has the entry only through a snapshot may not know its term); Voters
// travels with them so a holder need not have that entry itself.
type Configuration struct {
	Index  uint64
	Term   uint64
	Voters []string
}

// HasVoter reports whether node is a voter of c.
func (c Configuration) HasVoter(node string) bool { return slices.Contains(c.Voters, node) }

func (c Configuration) key() configKey {
	v := slices.Clone(c.Voters)
	slices.Sort(v)
	return configKey{c.Index, strings.Join(v, "\x00")}
}

type configKey struct {
	index  uint64
	voters string
}

// Claim is what a renewal says of one group: the assignment it renews (its log
// index) and the renewer's incarnation.
type Claim struct {
	Group       string
	Index       uint64
	Incarnation string
}

// Vouched is a voter's latest assignment of a group, read from its own log with the
// ownership rules applied (a release that ends it counts).
type Vouched struct {
	Index       uint64 // the assign record's log index; 0: never assigned
	Node        string
	Incarnation string
	Ended       bool // a release ended it
}

// Vouch reports whether a voter acknowledges claim by node: only while it is a voter of
// its own latest configuration cfg, and only while cur, its latest assignment of the
// group, is that very assignment, to that node in that incarnation, not ended.
func Vouch(self string, cfg Configuration, cur Vouched, node string, claim Claim) bool {
	return cfg.HasVoter(self) && cur.Index != 0 && !cur.Ended &&
		cur.Index == claim.Index && cur.Node == node && cur.Incarnation == claim.Incarnation
}

// Ack is one voter's answer to a renewal round: the groups it vouched for, and its
// latest configuration.
type Ack struct {
	Round  uint64
	Voter  string
	Config Configuration
	Groups []string
}

// Leases is a holder's side of its renewal rounds: it collects the acknowledgements
// of each round and extends a group's lease to the round's start plus the lease
// length once, for one configuration, a majority of that configuration's voters
// acknowledged the group in that round, each reporting that configuration. The zero
// value is ready to use; it is not safe for concurrent use.
type Leases struct {
	rounds map[uint64]*round
	until  map[string]time.Time

	// quorum decides whether ackers, who reported cfg, are enough; majorityOf unless a
	// test replaces it.
	quorum func(cfg Configuration, ackers []string) bool
}

// round is one renewal round in flight.
type round struct {
	sent   time.Time
	lease  map[string]time.Duration          // group → the lease length it renews
	acks   map[configKey]map[string][]string // configuration → voter → groups it acked
	config map[configKey]Configuration       // configuration as reported
	done   map[string]bool                   // groups this round already extended
}

// Start records round n, whose first renewal is about to be sent at sent (read before
// the first send), renewing each group of lease for its lease length.
func (l *Leases) Start(n uint64, sent time.Time, lease map[string]time.Duration) {
	if l.rounds == nil {
		l.rounds = map[uint64]*round{}
	}
	l.rounds[n] = &round{sent: sent, lease: lease, acks: map[configKey]map[string][]string{},
		config: map[configKey]Configuration{}, done: map[string]bool{}}
}

// Receive takes one acknowledgement and returns the groups whose lease it extended.
// An acknowledgement of an unknown or forgotten round counts for nothing, and so does
// one from a server that is not a voter of the configuration it reports.
func (l *Leases) Receive(a Ack) []string {
	r, ok := l.rounds[a.Round]
	if !ok {
		return nil
	}
	k := a.Config.key()
	if r.acks[k] == nil {
		r.acks[k], r.config[k] = map[string][]string{}, a.Config
	}
	r.acks[k][a.Voter] = a.Groups
	quorum := l.quorum
	if quorum == nil {
		quorum = majorityOf
	}
	var extended []string
	for _, g := range a.Groups {
		lease, renewed := r.lease[g]
		if !renewed || r.done[g] {
			continue
		}
		var ackers []string
		for voter, groups := range r.acks[k] {
			if slices.Contains(groups, g) {
				ackers = append(ackers, voter)
			}
		}
		if !quorum(r.config[k], ackers) {
			continue
		}
		r.done[g] = true
		if l.until == nil {
			l.until = map[string]time.Time{}
		}
		if end := r.sent.Add(lease); end.After(l.until[g]) {
			l.until[g] = end
			extended = append(extended, g)
		}
	}
	return extended
}

// majorityOf reports whether ackers, all voters of cfg, are more than half of them.
func majorityOf(cfg Configuration, ackers []string) bool {
	n := 0
	for _, v := range ackers {
		if cfg.HasVoter(v) {
			n++
		}
	}
	return 2*n > len(cfg.Voters)
}

// Sent is when round n was sent, if it is still remembered.
func (l *Leases) Sent(n uint64) (time.Time, bool) {
	r, ok := l.rounds[n]
	if !ok {
		return time.Time{}, false
	}
	return r.sent, true
}

// Until is when group g's lease runs out; the zero time if it never had one.
func (l *Leases) Until(g string) time.Time { return l.until[g] }

// Drop forgets group g's lease: the node let it go, and a later assignment of the
// group to it starts from nothing.
func (l *Leases) Drop(g string) {
	delete(l.until, g)
	for _, r := range l.rounds {
		delete(r.lease, g)
	}
}

// Forget drops every round started before before: their acknowledgements, if they
// still come, are too old to matter.
func (l *Leases) Forget(before time.Time) {
	for n, r := range l.rounds {
		if r.sent.Before(before) {
			delete(l.rounds, n)
		}
	}
}
