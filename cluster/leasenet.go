package cluster

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftvip/raftvip/election"
	"github.com/raftvip/raftvip/store"
)

// The ownership protocol's messages travel on the Raft port (its kind byte 0x03, inside
// the port's mutual TLS), one JSON object per line, on one long-lived connection from
// each node to each other: renewals go one way and their acknowledgements come back on
// the same connection; the leader's commit notices and a holder's word to the next
// assignee go one way.

// leaseMsg is one message of the ownership protocol.
type leaseMsg struct {
	Kind    string            `json:"k"` // renew, ack, notice, told
	From    string            `json:"from"`
	Renewal *election.Renewal `json:"renew,omitempty"`
	Ack     *election.Ack     `json:"ack,omitempty"`
	Group   string            `json:"group,omitempty"`   // notice, told
	Index   uint64            `json:"index,omitempty"`   // notice: the committed assignment
	Release *store.Release    `json:"release,omitempty"` // told

	queued time.Time // when send queued it; not sent
}

// The kinds of leaseMsg.
const (
	leaseRenew  = "renew"
	leaseAck    = "ack"
	leaseNotice = "notice"
	leaseTold   = "told"
)

// leaseOutbox is how many messages may wait for one peer; past it they are dropped
// (a renewal that cannot go out in time is worth nothing).
const leaseOutbox = 32

// leaseNet sends and receives the ownership protocol's messages.
type leaseNet struct {
	self    string
	dial    func(addr string, timeout time.Duration) (net.Conn, error)
	timeout time.Duration // the I/O deadline of one write
	handle  func(m leaseMsg) *leaseMsg
	log     *slog.Logger

	mu    sync.Mutex
	peers map[string]*leasePeer // by address
	done  chan struct{}
}

// leasePeer is the connection to one peer and its queue.
type leasePeer struct {
	addr string
	out  chan leaseMsg
}

func newLeaseNet(self string, dial func(addr string, timeout time.Duration) (net.Conn, error), timeout time.Duration,
	handle func(m leaseMsg) *leaseMsg, logger *slog.Logger) *leaseNet {
	return &leaseNet{self: self, dial: dial, timeout: timeout, handle: handle, log: logger,
		peers: map[string]*leasePeer{}, done: make(chan struct{})}
}

// send queues m for the node at addr; it never blocks.
func (l *leaseNet) send(addr string, m leaseMsg) {
	m.From, m.queued = l.self, time.Now()
	l.mu.Lock()
	p, ok := l.peers[addr]
	if !ok {
		select {
		case <-l.done:
			l.mu.Unlock()
			return
		default:
		}
		p = &leasePeer{addr: addr, out: make(chan leaseMsg, leaseOutbox)}
		l.peers[addr] = p
		go l.writer(p)
	}
	l.mu.Unlock()
	select {
	case p.out <- m:
	default: // the peer is slow or gone; drop
	}
}

// stalled is how long a connection may leave a renewal unanswered before the writer
// drops it for a new one. A write only fills the socket buffer: across a partition
// the kernel keeps the bytes and retransmits them with a growing backoff, so after the
// heal a connection can stay silent for seconds while a new one works at once.
func (l *leaseNet) stalled() time.Duration { return max(2*l.timeout, 100*time.Millisecond) }

// writer keeps a connection to one peer and writes its queue; answers coming back on
// the connection are handled as they arrive.
func (l *leaseNet) writer(p *leasePeer) {
	var conn net.Conn
	var enc *json.Encoder
	var lastDial time.Time
	var heard *atomic.Int64  // when conn last brought an answer (unix nanoseconds)
	var unanswered time.Time // the first renewal written since that answer
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		var m leaseMsg
		select {
		case <-l.done:
			return
		case m = <-p.out:
		}
		if time.Since(m.queued) > l.timeout {
			// Queued while the peer could not be reached: a renewal that old renews
			// nothing, and a leader must not take an old "holding" for news.
			continue
		}
		if conn != nil && !unanswered.IsZero() {
			if time.Unix(0, heard.Load()).After(unanswered) {
				unanswered = time.Time{}
			} else if time.Since(unanswered) > l.stalled() {
				l.log.Debug("lease connection stalled; reconnecting", "peer", p.addr, "unanswered", time.Since(unanswered).Round(time.Millisecond))
				conn.Close()
				conn, unanswered = nil, time.Time{}
				lastDial = time.Time{}
			}
		}
		if conn == nil {
			if time.Since(lastDial) < l.timeout {
				continue // a peer that just refused: drop rather than hammer it
			}
			lastDial = time.Now()
			c, err := l.dial(p.addr, l.timeout)
			if err != nil {
				l.log.Debug("lease connection", "peer", p.addr, "err", err)
				continue
			}
			conn, enc = c, json.NewEncoder(c)
			heard = new(atomic.Int64)
			heard.Store(time.Now().UnixNano())
			go l.read(c, heard)
		}
		conn.SetWriteDeadline(time.Now().Add(l.timeout))
		if err := enc.Encode(m); err != nil {
			l.log.Debug("lease write", "peer", p.addr, "err", err)
			conn.Close()
			conn, unanswered = nil, time.Time{}
			continue
		}
		if m.Kind == leaseRenew && unanswered.IsZero() {
			unanswered = time.Now()
		}
	}
}

// read handles what a peer sends on c: answers on our connections, requests on its.
// Requests are answered on c, in order. heard, if not nil, is set to the time of each
// message read.
func (l *leaseNet) read(c net.Conn, heard *atomic.Int64) {
	defer c.Close()
	dec := json.NewDecoder(bufio.NewReader(c))
	enc := json.NewEncoder(c)
	for {
		var m leaseMsg
		if err := dec.Decode(&m); err != nil {
			return
		}
		if heard != nil {
			heard.Store(time.Now().UnixNano())
		}
		if reply := l.handle(m); reply != nil {
			reply.From = l.self
			c.SetWriteDeadline(time.Now().Add(l.timeout))
			if err := enc.Encode(reply); err != nil {
				return
			}
		}
	}
}

// serve answers the connections other nodes open to this one, until ln closes.
func (l *leaseNet) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go l.read(c, nil)
	}
}

// close stops every writer.
func (l *leaseNet) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.done:
	default:
		close(l.done)
	}
}
