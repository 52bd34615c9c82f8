package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Every connection to the Raft port starts with one byte that says what follows, the
// way Consul and Nomad share one port between Raft and their RPC:
//
//	+------+---------------------------------------------+
//	| kind | the protocol's own bytes                    |
//	+------+---------------------------------------------+
//	  0x01   hashicorp/raft's NetworkTransport
//	  0x02   raftvip's cluster RPC: HTTP/1.1, JSON bodies
//	  0x03   the ownership protocol's messages: renewals and their acknowledgements,
//	         one JSON object per line, on long-lived connections
//
// With cluster.tls the kind byte is the first byte inside TLS: TCP, the mutual TLS 1.3
// handshake, then the layout above as application data (see tls.go).
const (
	KindRaft  byte = 0x01
	KindRPC   byte = 0x02
	KindLease byte = 0x03 // the ownership protocol: renewals, acknowledgements, notices
)

// handshakeTimeout bounds how long a new connection may take to send its kind byte (and,
// with TLS, to finish its handshake first).
const handshakeTimeout = tlsHandshakeTimeout

// ErrClosed is what Accept returns once the Mux is closed.
var ErrClosed = errors.New("transport: raft port closed")

// Mux listens on the Raft port and sorts connections by their first byte. It is the
// raft.StreamLayer of the Raft transport, and a net.Listener for the cluster RPC.
type Mux struct {
	ln        net.Listener
	advertise net.Addr
	log       *slog.Logger
	tls       *TLS          // nil: plaintext (cluster.insecure without cluster.tls)
	handshake time.Duration // deadline for the handshake and the kind byte

	raftCh chan net.Conn
	rpc    *connListener
	lease  *connListener

	closeOnce sync.Once
	closed    chan struct{}
}

// New listens on bind. With tl, every connection, accepted or dialled, is mutual
// TLS; without, plaintext.
func New(bind string, advertise net.Addr, logger *slog.Logger, tl *TLS) (*Mux, error) {
	return newWithDeadline(bind, advertise, logger, tl, handshakeTimeout)
}

// newWithDeadline is New with the deadline of a new connection's handshake and kind
// byte.
func newWithDeadline(bind string, advertise net.Addr, logger *slog.Logger, tl *TLS, handshake time.Duration) (*Mux, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	m := &Mux{
		ln:        ln,
		advertise: advertise,
		log:       logger,
		tls:       tl,
		handshake: handshake,
		raftCh:    make(chan net.Conn),
		closed:    make(chan struct{}),
	}
	m.rpc = &connListener{addr: ln.Addr(), conns: make(chan net.Conn), closed: m.closed, done: make(chan struct{})}
	m.lease = &connListener{addr: ln.Addr(), conns: make(chan net.Conn), closed: m.closed, done: make(chan struct{})}
	go m.serve()
	return m, nil
}

// acceptBackoff is how long the accept loop waits after an error that is not a
// timeout before it tries again.
const acceptBackoff = 100 * time.Millisecond

func (m *Mux) serve() {
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.closed:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			m.log.Error("raft port: accept", "err", err)
			// Back off a little (a full file table, say), but stop at once on Close.
			t := time.NewTimer(acceptBackoff)
			select {
			case <-m.closed:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		// The kind byte is read off the accept loop: a silent client must not stall it.
		go m.sort(c)
	}
}

// sort runs in the connection's own goroutine: the TLS handshake, if any, and the
// kind byte must both arrive within m.handshake.
func (m *Mux) sort(raw net.Conn) {
	raw.SetDeadline(time.Now().Add(m.handshake))
	c := raw
	if m.tls != nil {
		tc, err := m.tls.accept(raw)
		if err != nil {
			raw.Close() // counted and logged by accept
			return
		}
		c = tc
	}
	var kind [1]byte
	if _, err := c.Read(kind[:]); err != nil {
		m.log.Debug("raft port: connection sent no kind byte", "remote", c.RemoteAddr().String(), "err", err)
		c.Close()
		return
	}
	raw.SetDeadline(time.Time{})
	var ch chan net.Conn
	var done chan struct{} // the listener closed
	switch kind[0] {
	case KindRaft:
		ch = m.raftCh
	case KindRPC:
		ch, done = m.rpc.conns, m.rpc.done
	case KindLease:
		ch, done = m.lease.conns, m.lease.done
	default:
		m.log.Warn("raft port: unknown connection kind; closing (is something else talking to the Raft port?)",
			"remote", c.RemoteAddr().String(), "kind", kind[0])
		c.Close()
		return
	}
	select {
	case ch <- c:
	case <-m.closed:
		c.Close()
	case <-done:
		c.Close()
	}
}

// Accept waits for the next Raft connection (raft.StreamLayer).
func (m *Mux) Accept() (net.Conn, error) {
	select {
	case c := <-m.raftCh:
		return c, nil
	case <-m.closed:
		return nil, ErrClosed
	}
}

// Close stops listening; Raft and the RPC server see their listeners closed.
func (m *Mux) Close() error {
	var err error
	m.closeOnce.Do(func() {
		close(m.closed)
		err = m.ln.Close()
	})
	return err
}

// RPC is the listener of the cluster RPC's connections.
func (m *Mux) RPC() net.Listener { return m.rpc }

// Lease is the listener of the ownership protocol's connections.
func (m *Mux) Lease() net.Listener { return m.lease }

// Addr is the address other nodes reach this one at (raft.StreamLayer).
func (m *Mux) Addr() net.Addr { return m.advertise }

// Dial opens a Raft connection to another node (raft.StreamLayer).
func (m *Mux) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return m.DialKind(string(addr), KindRaft, timeout)
}

// DialKind connects to a node's Raft port, with TLS if this node has it, and announces
// what the connection is for.
func (m *Mux) DialKind(addr string, kind byte, timeout time.Duration) (net.Conn, error) {
	if m.tls == nil {
		return DialPlain(addr, kind, timeout)
	}
	deadline := time.Now().Add(timeout)
	raw, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c, err := m.tls.dial(raw, addr, deadline)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("transport: dial %s: %w", addr, err)
	}
	return writeKind(c, addr, kind, deadline)
}

// DialPlain connects to a node's Raft port in plaintext and announces what the
// connection is for.
func DialPlain(addr string, kind byte, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return writeKind(c, addr, kind, time.Now().Add(timeout))
}

func writeKind(c net.Conn, addr string, kind byte, deadline time.Time) (net.Conn, error) {
	c.SetWriteDeadline(deadline)
	if _, err := c.Write([]byte{kind}); err != nil {
		c.Close()
		return nil, fmt.Errorf("transport: dial %s: %w", addr, err)
	}
	c.SetWriteDeadline(time.Time{})
	return c, nil
}

// connListener is a net.Listener fed with connections the Mux has sorted.
type connListener struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{} // the Mux closed
	done   chan struct{} // this listener closed
	once   sync.Once
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, ErrClosed
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close makes Accept return; the Mux closes connections it can no longer hand over.
func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}
func (l *connListener) Addr() net.Addr { return l.addr }
