package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Mutual TLS 1.3 on the Raft port (cluster.tls), for Raft and the cluster RPC alike.
//
// Where the kind byte sits: inside TLS. A connection is TCP, then the TLS handshake,
// then mux's kind byte as the first byte of application data:
//
//	TCP connect → TLS 1.3 handshake (both ends show certificates) → kind → Raft or RPC
//
// So nothing a peer sends is interpreted before it is authenticated, one handshake
// covers both protocols, and a plaintext peer (a node with insecure: true and no
// cluster.tls) is told apart by its first byte, which is not a TLS record.
//
// How peers are verified: each end presents its node certificate and checks the
// other's chain to the CA of cluster.tls.ca_file, with the key usage of its role (the
// server wants clientAuth, the client serverAuth). The server does it with
// RequireAndVerifyClientCert; the client with VerifyConnection over the same pool,
// because Go's own client check would also require the dialled host name in the
// certificate. No name or address is compared: Raft addresses come from the config
// and from gossip and need not be in a certificate. Whoever holds a certificate of
// the cluster's CA is a member, so give each cluster its own CA (raftvip tls ca makes
// a new one) and keep ca-key.pem off the nodes.
//
// The accept loop never handshakes: mux.sort runs the handshake in the connection's
// own goroutine under a deadline, so a silent or slow client costs one goroutine for
// at most the deadline and never delays the next accept. Failed handshakes are
// counted by reason, in both directions, and logged at most once per tlsLogEvery for
// the same direction, reason and remote host.

// tlsHandshakeTimeout bounds the handshake (and the kind byte) of an accepted
// connection.
const tlsHandshakeTimeout = 5 * time.Second

// tlsLogEvery is how often one kind of handshake failure with one host is logged.
const tlsLogEvery = 30 * time.Second

// Why a handshake failed: the reasons TLS rejections are counted by.
const (
	TLSRejectUnknownCA    = "unknown_ca"         // the peer's certificate is not signed by our CA
	TLSRejectBadCert      = "bad_cert"           // the peer's certificate is expired, not yet valid or not for this use
	TLSRejectNoCert       = "no_client_cert"     // the client sent no certificate
	TLSRejectPeerRejected = "peer_rejected_cert" // the peer refused our certificate
	TLSRejectNotTLS       = "not_tls"            // the peer does not speak TLS
	TLSRejectTimeout      = "timeout"            // no handshake within the deadline
	TLSRejectVersion      = "tls_version"        // the peer offered only TLS older than 1.3
	TLSRejectHandshake    = "handshake"          // anything else: reset, EOF, a bad message
)

// tlsHint says what a rejection reason means to an operator.
func tlsHint(reason string) string {
	switch reason {
	case TLSRejectUnknownCA:
		return "the peer's certificate is not signed by this node's CA (cluster.tls.ca_file): it has a certificate of another CA or another cluster"
	case TLSRejectBadCert:
		return "the peer's certificate is expired, not yet valid or not a raftvip node certificate; make a new one with raftvip tls cert"
	case TLSRejectNoCert:
		return "the peer sent no certificate: it is not a raftvip node with cluster.tls"
	case TLSRejectPeerRejected:
		return "the peer refused this node's certificate: it does not trust this node's CA (the nodes have different cluster.tls.ca_file) or the certificate has expired"
	case TLSRejectNotTLS:
		return "the peer does not speak TLS: a raftvip node without cluster.tls (insecure: true), or something else talking to the Raft port"
	case TLSRejectTimeout:
		return "no TLS handshake within the deadline: a silent client, or a very slow network"
	case TLSRejectVersion:
		return "the peer offered only TLS older than 1.3; raftvip speaks TLS 1.3 only"
	}
	return "the TLS handshake failed"
}

// classifyTLS returns the reason a handshake (or the first read after it) failed.
func classifyTLS(err error) string {
	var ua x509.UnknownAuthorityError
	var inv x509.CertificateInvalidError
	var rh tls.RecordHeaderError
	var ne net.Error
	msg := err.Error()
	switch {
	case errors.As(err, &ua):
		return TLSRejectUnknownCA
	case errors.As(err, &inv):
		return TLSRejectBadCert
	case errors.As(err, &rh):
		return TLSRejectNotTLS
	case strings.Contains(msg, "didn't provide a certificate"):
		return TLSRejectNoCert
	case strings.Contains(msg, "remote error: tls: bad certificate"),
		strings.Contains(msg, "remote error: tls: unknown certificate authority"),
		strings.Contains(msg, "remote error: tls: certificate required"),
		strings.Contains(msg, "remote error: tls: expired certificate"),
		strings.Contains(msg, "remote error: tls: unsupported certificate"):
		return TLSRejectPeerRejected
	case strings.Contains(msg, "protocol version"), strings.Contains(msg, "unsupported versions"):
		return TLSRejectVersion
	case errors.As(err, &ne) && ne.Timeout():
		return TLSRejectTimeout
	}
	return TLSRejectHandshake
}

// TLSError is a handshake on the Raft port that failed: the reason it is counted by,
// and the error of crypto/tls.
type TLSError struct {
	Remote string
	Reason string
	Err    error
}

func (e *TLSError) Error() string {
	return fmt.Sprintf("tls with %s: %v (%s)", e.Remote, e.Err, tlsHint(e.Reason))
}

func (e *TLSError) Unwrap() error { return e.Err }

// tlsLayer is the TLS of one node's Raft port: its configurations for both ends and
// the counts of what failed.
type tlsLayer struct {
	server *tls.Config
	client *tls.Config
	stats  *tlsStats
}

// newTLSLayer builds mutual TLS 1.3 from a node's checked files.
func newTLSLayer(f *tlsFiles, logger *slog.Logger, now func() time.Time) *tlsLayer {
	cert := f.cert
	pool := f.pool
	server := &tls.Config{
		MinVersion:             tls.VersionTLS13,
		MaxVersion:             tls.VersionTLS13,
		Certificates:           []tls.Certificate{cert},
		ClientAuth:             tls.RequireAndVerifyClientCert,
		ClientCAs:              pool,
		SessionTicketsDisabled: true,
		Time:                   now,
	}
	client := &tls.Config{
		MinVersion: tls.VersionTLS13,
		MaxVersion: tls.VersionTLS13,
		// Always show our certificate, even to a server that asks for another CA, so
		// that the server can say why it refuses it.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil },
		// The chain is checked in VerifyConnection, without a host name (see above).
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyChain(cs.PeerCertificates, pool, x509.ExtKeyUsageServerAuth, now())
		},
		Time: now,
	}
	return &tlsLayer{server: server, client: client, stats: newTLSStats(logger, now)}
}

// verifyChain checks that certs[0] chains to a CA of pool (certs[1:] may be
// intermediates) and is good for usage at now.
func verifyChain(certs []*x509.Certificate, pool *x509.CertPool, usage x509.ExtKeyUsage, now time.Time) error {
	if len(certs) == 0 {
		return errors.New("tls: the peer sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}})
	if err != nil {
		return fmt.Errorf("tls: peer certificate %q: %w", certs[0].Subject.CommonName, err)
	}
	return nil
}

// accept runs the server side of the handshake on an accepted connection, under the
// deadline the caller set; a failure is counted and logged.
func (l *tlsLayer) accept(c net.Conn) (*tls.Conn, error) {
	tc := tls.Server(c, l.server)
	if err := tc.Handshake(); err != nil {
		remote := c.RemoteAddr().String()
		return nil, &TLSError{Remote: remote, Reason: l.stats.reject(tlsIn, remote, err), Err: err}
	}
	return tc, nil
}

// dial runs the client side of the handshake on a connection to addr, by deadline.
func (l *tlsLayer) dial(c net.Conn, addr string, deadline time.Time) (net.Conn, error) {
	tc := tls.Client(c, l.client)
	c.SetDeadline(deadline)
	if err := tc.Handshake(); err != nil {
		return nil, &TLSError{Remote: addr, Reason: l.stats.reject(tlsOut, addr, err), Err: err}
	}
	c.SetDeadline(time.Time{})
	return &tlsClientConn{Conn: tc, addr: addr, stats: l.stats}, nil
}

// tlsClientConn watches the first read of a client connection: in TLS 1.3 the server
// checks the client's certificate after the client has finished its handshake, so a
// server that refuses it says so in an alert the client reads later.
type tlsClientConn struct {
	net.Conn
	addr  string
	stats *tlsStats
	done  atomic.Bool
}

func (c *tlsClientConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.done.Load() {
		return n, err
	}
	if err == nil || n > 0 {
		c.done.Store(true)
		return n, err
	}
	if reason := classifyTLS(err); reason == TLSRejectPeerRejected {
		c.done.Store(true)
		return n, &TLSError{Remote: c.addr, Reason: c.stats.reject(tlsOut, c.addr, err), Err: err}
	}
	return n, err
}

// The directions of a handshake.
const (
	tlsIn  = "in"  // a peer connected to this node
	tlsOut = "out" // this node connected to a peer
)

// TLSReject is one failed handshake on the Raft port.
type TLSReject struct {
	At        time.Time `json:"at"`
	Direction string    `json:"direction"` // in: a peer connected to this node; out: this node dialled the peer
	Remote    string    `json:"remote"`
	Reason    string    `json:"reason"`
	Error     string    `json:"error"`
}

// tlsStats counts failed handshakes and logs them, rate-limited.
type tlsStats struct {
	log *slog.Logger
	now func() time.Time

	mu     sync.Mutex
	in     map[string]uint64
	out    map[string]uint64
	recent []TLSReject        // the last few, oldest first
	logged map[string]*repeat // by direction, reason and host
}

const tlsRecent = 16

func newTLSStats(logger *slog.Logger, now func() time.Time) *tlsStats {
	return &tlsStats{log: logger, now: now, in: map[string]uint64{}, out: map[string]uint64{}, logged: map[string]*repeat{}}
}

// reject counts and logs one failed handshake and returns its reason.
func (s *tlsStats) reject(dir, remote string, err error) string {
	reason := classifyTLS(err)
	now := s.now()
	host := remote
	if h, _, serr := net.SplitHostPort(remote); serr == nil {
		host = h
	}
	s.mu.Lock()
	if dir == tlsIn {
		s.in[reason]++
	} else {
		s.out[reason]++
	}
	s.recent = append(s.recent, TLSReject{At: now, Direction: dir, Remote: remote, Reason: reason, Error: err.Error()})
	if len(s.recent) > tlsRecent {
		s.recent = slices.Delete(s.recent, 0, len(s.recent)-tlsRecent)
	}
	key := dir + "\x00" + reason + "\x00" + host
	r := s.logged[key]
	held, logIt := 0, false
	switch {
	case r == nil:
		if len(s.logged) > 1024 {
			clear(s.logged)
		}
		s.logged[key] = &repeat{last: now}
		logIt = true
	case now.Sub(r.last) >= tlsLogEvery:
		held, r.suppressed, r.last = r.suppressed, 0, now
		logIt = true
	default:
		r.suppressed++
	}
	s.mu.Unlock()
	if logIt {
		msg := "raft port: refused a TLS connection"
		if dir == tlsOut {
			msg = "raft port: TLS handshake with a peer failed"
		}
		attrs := []any{"remote", remote, "reason", reason, "err", err.Error(), "hint", tlsHint(reason)}
		if held > 0 {
			attrs = append(attrs, "repeated", held)
		}
		s.log.Warn(msg, attrs...)
	}
	return reason
}

// counts returns copies of the counters.
func (s *tlsStats) counts() (in, out map[string]uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.in), maps.Clone(s.out)
}

// latest returns the failures since, newest last.
func (s *tlsStats) latest(since time.Time) []TLSReject {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []TLSReject
	for _, r := range s.recent {
		if !r.At.Before(since) {
			out = append(out, r)
		}
	}
	return out
}

// TLSRejects counts the connections to this node's Raft port that were turned away
// in the TLS handshake, by reason (TLSReject* constants): unauthenticated Raft and
// cluster RPC connections. Empty without cluster.tls.
func (n *Node) TLSRejects() map[string]uint64 {
	if n.mux == nil || n.mux.tls == nil {
		return map[string]uint64{}
	}
	in, _ := n.mux.tls.stats.counts()
	return in
}

// TLSDialFailures counts this node's own connections to peers whose TLS handshake
// failed, by reason.
func (n *Node) TLSDialFailures() map[string]uint64 {
	if n.mux == nil || n.mux.tls == nil {
		return map[string]uint64{}
	}
	_, out := n.mux.tls.stats.counts()
	return out
}

// tlsTrouble says what went wrong with TLS on the Raft port within the last window,
// for a node that is not in a cluster yet ("" if nothing did).
func (n *Node) tlsTrouble(window time.Duration) string {
	if n.mux == nil || n.mux.tls == nil {
		return ""
	}
	rs := n.mux.tls.stats.latest(n.mux.tls.stats.now().Add(-window))
	if len(rs) == 0 {
		return ""
	}
	r := rs[len(rs)-1]
	way := "a connection from " + r.Remote + " was refused"
	if r.Direction == tlsOut {
		way = "the connection to " + r.Remote + " failed"
	}
	return fmt.Sprintf("TLS on the raft port fails: %s (%s): %s", way, r.Reason, tlsHint(r.Reason))
}

// raftPortTLS loads cluster.tls for the Raft port; nil without it.
func raftPortTLS(t TLSConfig, logger *slog.Logger) (*tlsLayer, error) {
	if !t.Enabled() {
		return nil, nil
	}
	files, ferr := loadTLSFiles(t.CAFile, t.CertFile, t.KeyFile, time.Now())
	if ferr != nil {
		return nil, fmt.Errorf("cluster: %w", ferr)
	}
	logger.Info("raft port: mutual TLS 1.3", "cert", files.leaf.Subject.CommonName, "ca", files.cas[0].Subject.CommonName,
		"expires", files.leaf.NotAfter.UTC().Format(time.DateOnly))
	return newTLSLayer(files, logger, time.Now), nil
}

// tlsRefusal asks a gossip member that is about to be added over the cluster RPC,
// and says why it must not be added if its Raft port fails mutual TLS with this node
// ("" otherwise: a member that merely does not answer is added as before, and
// catches up once it does).
func (n *Node) tlsRefusal(ctx context.Context, m gossipMember) string {
	if n.mux == nil || n.mux.tls == nil {
		return ""
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var info rpcInfoResponse
	var te *TLSError
	if err := n.rpcCall(cctx, m.Meta.Raft, "/v1/rpc/info", struct{}{}, &info); !errors.As(err, &te) {
		return ""
	}
	return fmt.Sprintf("its raft port %s fails mutual TLS (%s): %s; give it a certificate of this cluster's CA (raftvip tls cert %s) and the cluster's ca.pem",
		m.Meta.Raft, te.Reason, tlsHint(te.Reason), m.Name)
}

// checkPeersTLS is the end of raftvip join with cluster.tls: it asks a few of the
// members gossip now knows over the cluster RPC, and fails if every one that answered
// failed mutual TLS, so that the operator learns at once why the leader will not add
// this node.
func (n *Node) checkPeersTLS(ctx context.Context) error {
	if n.mux == nil || n.mux.tls == nil {
		return nil
	}
	var first *TLSError
	var failed []string
	asked := 0
	for _, m := range n.gossip.all() {
		if m.Name == n.cfg.Node.Name || m.State != gossipAlive || m.MetaErr != nil || m.Meta.Raft == "" {
			continue
		}
		if asked++; asked > 3 || ctx.Err() != nil {
			break
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		var info rpcInfoResponse
		err := n.rpcCall(cctx, m.Meta.Raft, "/v1/rpc/info", struct{}{}, &info)
		cancel()
		var te *TLSError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &te):
			if first == nil {
				first = te
			}
			failed = append(failed, fmt.Sprintf("%s (%s): %s", m.Name, m.Meta.Raft, te.Reason))
		}
	}
	if first == nil {
		return nil
	}
	return fmt.Errorf("joined gossip, but this node and the cluster fail mutual TLS on the raft port, so the leader will not add this node: %s (%v); %s; use the cluster's ca.pem and a certificate signed by its CA (raftvip tls cert %s)",
		strings.Join(failed, "; "), first.Err, tlsHint(first.Reason), n.cfg.Node.Name)
}
