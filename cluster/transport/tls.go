package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/raftvip/raftvip/cluster/pki"
)

// Mutual TLS 1.3 on the Raft port (cluster.tls), for Raft and the cluster RPC alike.
//
// Where the kind byte sits: inside TLS. A connection is TCP, then the TLS handshake,
// then Mux's kind byte as the first byte of application data:
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
// The accept loop never handshakes: Mux.sort runs the handshake in the connection's
// own goroutine under a deadline, so a silent or slow client costs one goroutine for
// at most the deadline and never delays the next accept. Failed handshakes are
// counted by reason, in both directions, and logged at most once per logEvery for
// the same direction, reason and remote host.

// tlsHandshakeTimeout bounds the handshake (and the kind byte) of an accepted
// connection.
const tlsHandshakeTimeout = 5 * time.Second

// TLS is the TLS of one node's Raft port: its configurations for both ends and
// the counts of what failed.
type TLS struct {
	server *tls.Config
	client *tls.Config
	stats  *stats
}

// NewTLS builds mutual TLS 1.3 from a node's checked files.
func NewTLS(f *pki.Files, logger *slog.Logger, now func() time.Time) *TLS {
	cert := f.Cert
	pool := f.Pool
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
	return &TLS{server: server, client: client, stats: newStats(logger, now)}
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
func (l *TLS) accept(c net.Conn) (*tls.Conn, error) {
	tc := tls.Server(c, l.server)
	if err := tc.Handshake(); err != nil {
		remote := c.RemoteAddr().String()
		return nil, &TLSError{Remote: remote, Reason: l.stats.reject(dirIn, remote, err), Err: err}
	}
	return tc, nil
}

// dial runs the client side of the handshake on a connection to addr, by deadline.
func (l *TLS) dial(c net.Conn, addr string, deadline time.Time) (net.Conn, error) {
	tc := tls.Client(c, l.client)
	c.SetDeadline(deadline)
	if err := tc.Handshake(); err != nil {
		return nil, &TLSError{Remote: addr, Reason: l.stats.reject(dirOut, addr, err), Err: err}
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
	stats *stats
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
	if reason := classify(err); reason == RejectPeerRejected {
		c.done.Store(true)
		return n, &TLSError{Remote: c.addr, Reason: c.stats.reject(dirOut, c.addr, err), Err: err}
	}
	return n, err
}

// LoadTLS reads and checks the cluster.tls files (ca, cert, key) and builds the Raft
// port's mutual TLS from them.
func LoadTLS(ca, cert, key string, logger *slog.Logger) (*TLS, error) {
	files, ferr := pki.LoadFiles(ca, cert, key, time.Now())
	if ferr != nil {
		return nil, fmt.Errorf("transport: %w", ferr)
	}
	logger.Info("raft port: mutual TLS 1.3", "cert", files.Leaf.Subject.CommonName, "ca", files.CAs[0].Subject.CommonName,
		"expires", files.Leaf.NotAfter.UTC().Format(time.DateOnly))
	return NewTLS(files, logger, time.Now), nil
}
