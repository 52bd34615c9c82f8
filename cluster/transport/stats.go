package transport

import (
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"time"
)

// logEvery is how often one kind of handshake failure with one host is logged.
const logEvery = 30 * time.Second

// The directions of a handshake.
const (
	dirIn  = "in"  // a peer connected to this node
	dirOut = "out" // this node connected to a peer
)

// stats counts failed handshakes and logs them, rate-limited.
type stats struct {
	log *slog.Logger
	now func() time.Time

	mu     sync.Mutex
	in     map[string]uint64
	out    map[string]uint64
	recent []Reject              // the last few, oldest first
	logged map[string]*logRepeat // by direction, reason and host
}

const recentRejects = 16

func newStats(logger *slog.Logger, now func() time.Time) *stats {
	return &stats{log: logger, now: now, in: map[string]uint64{}, out: map[string]uint64{}, logged: map[string]*logRepeat{}}
}

// reject counts and logs one failed handshake and returns its reason.
func (s *stats) reject(dir, remote string, err error) string {
	reason := classify(err)
	now := s.now()
	host := remote
	if h, _, serr := net.SplitHostPort(remote); serr == nil {
		host = h
	}
	s.mu.Lock()
	if dir == dirIn {
		s.in[reason]++
	} else {
		s.out[reason]++
	}
	s.recent = append(s.recent, Reject{At: now, Direction: dir, Remote: remote, Reason: reason, Error: err.Error()})
	if len(s.recent) > recentRejects {
		s.recent = slices.Delete(s.recent, 0, len(s.recent)-recentRejects)
	}
	key := dir + "\x00" + reason + "\x00" + host
	r := s.logged[key]
	held, logIt := 0, false
	switch {
	case r == nil:
		if len(s.logged) > 1024 {
			clear(s.logged)
		}
		s.logged[key] = &logRepeat{last: now}
		logIt = true
	case now.Sub(r.last) >= logEvery:
		held, r.suppressed, r.last = r.suppressed, 0, now
		logIt = true
	default:
		r.suppressed++
	}
	s.mu.Unlock()
	if logIt {
		msg := "raft port: refused a TLS connection"
		if dir == dirOut {
			msg = "raft port: TLS handshake with a peer failed"
		}
		attrs := []any{"remote", remote, "reason", reason, "err", err.Error(), "hint", Hint(reason)}
		if held > 0 {
			attrs = append(attrs, "repeated", held)
		}
		s.log.Warn(msg, attrs...)
	}
	return reason
}

// counts returns copies of the counters.
func (s *stats) counts() (in, out map[string]uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.in), maps.Clone(s.out)
}

// latest returns the failures since, newest last.
func (s *stats) latest(since time.Time) []Reject {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Reject
	for _, r := range s.recent {
		if !r.At.Before(since) {
			out = append(out, r)
		}
	}
	return out
}

// Secure reports whether the Raft port speaks mutual TLS.
func (m *Mux) Secure() bool { return m.tls != nil }

// Rejects returns copies of the counts of failed handshakes, by reason (Reject*
// constants): in, connections to this node's Raft port that were turned away
// (unauthenticated Raft and cluster RPC connections); out, this node's own
// connections to peers that failed. Both are empty without TLS.
func (m *Mux) Rejects() (in, out map[string]uint64) {
	if m.tls == nil {
		return map[string]uint64{}, map[string]uint64{}
	}
	return m.tls.stats.counts()
}

// RecentRejects returns the last few failed handshakes since since, newest last.
func (m *Mux) RecentRejects(since time.Time) []Reject {
	if m.tls == nil {
		return nil
	}
	return m.tls.stats.latest(since)
}

// Trouble says what went wrong with TLS on the Raft port within the last window, for
// a node that is not in a cluster yet ("" if nothing did).
func (m *Mux) Trouble(window time.Duration) string {
	if m.tls == nil {
		return ""
	}
	rs := m.tls.stats.latest(m.tls.stats.now().Add(-window))
	if len(rs) == 0 {
		return ""
	}
	r := rs[len(rs)-1]
	way := "a connection from " + r.Remote + " was refused"
	if r.Direction == dirOut {
		way = "the connection to " + r.Remote + " failed"
	}
	return fmt.Sprintf("TLS on the raft port fails: %s (%s): %s", way, r.Reason, Hint(r.Reason))
}

// Reject is one failed handshake on the Raft port.
type Reject struct {
	At        time.Time
	Direction string // in: a peer connected to this node; out: this node dialled the peer
	Remote    string
	Reason    string // a Reject* constant
	Error     string
}

// logRepeat is one kind of failure's log state: when it was last logged, and how
// many times it happened since without being logged.
type logRepeat struct {
	last       time.Time
	suppressed int
}
