package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
)

// Hint says what a rejection reason means to an operator.
func Hint(reason string) string {
	switch reason {
	case RejectUnknownCA:
		return "the peer's certificate is not signed by this node's CA (cluster.tls.ca_file): it has a certificate of another CA or another cluster"
	case RejectBadCert:
		return "the peer's certificate is expired, not yet valid or not a raftvip node certificate; make a new one with raftvip tls cert"
	case RejectNoCert:
		return "the peer sent no certificate: it is not a raftvip node with cluster.tls"
	case RejectPeerRejected:
		return "the peer refused this node's certificate: it does not trust this node's CA (the nodes have different cluster.tls.ca_file) or the certificate has expired"
	case RejectNotTLS:
		return "the peer does not speak TLS: a raftvip node without cluster.tls (insecure: true), or something else talking to the Raft port"
	case RejectTimeout:
		return "no TLS handshake within the deadline: a silent client, or a very slow network"
	case RejectVersion:
		return "the peer offered only TLS older than 1.3; raftvip speaks TLS 1.3 only"
	}
	return "the TLS handshake failed"
}

// classify returns the reason a handshake (or the first read after it) failed.
func classify(err error) string {
	var ua x509.UnknownAuthorityError
	var inv x509.CertificateInvalidError
	var rh tls.RecordHeaderError
	var ne net.Error
	msg := err.Error()
	switch {
	case errors.As(err, &ua):
		return RejectUnknownCA
	case errors.As(err, &inv):
		return RejectBadCert
	case errors.As(err, &rh):
		return RejectNotTLS
	case strings.Contains(msg, "didn't provide a certificate"):
		return RejectNoCert
	case strings.Contains(msg, "remote error: tls: bad certificate"),
		strings.Contains(msg, "remote error: tls: unknown certificate authority"),
		strings.Contains(msg, "remote error: tls: certificate required"),
		strings.Contains(msg, "remote error: tls: expired certificate"),
		strings.Contains(msg, "remote error: tls: unsupported certificate"):
		return RejectPeerRejected
	case strings.Contains(msg, "protocol version"), strings.Contains(msg, "unsupported versions"):
		return RejectVersion
	case errors.As(err, &ne) && ne.Timeout():
		return RejectTimeout
	}
	return RejectHandshake
}

// TLSError is a handshake on the Raft port that failed: the reason it is counted by,
// and the error of crypto/tls.
type TLSError struct {
	Remote string
	Reason string
	Err    error
}

func (e *TLSError) Error() string {
	return fmt.Sprintf("tls with %s: %v (%s)", e.Remote, e.Err, Hint(e.Reason))
}

func (e *TLSError) Unwrap() error { return e.Err }

// Why a handshake failed: the reasons TLS rejections are counted by.
const (
	RejectUnknownCA    = "unknown_ca"         // the peer's certificate is not signed by our CA
	RejectBadCert      = "bad_cert"           // the peer's certificate is expired, not yet valid or not for this use
	RejectNoCert       = "no_client_cert"     // the client sent no certificate
	RejectPeerRejected = "peer_rejected_cert" // the peer refused our certificate
	RejectNotTLS       = "not_tls"            // the peer does not speak TLS
	RejectTimeout      = "timeout"            // no handshake within the deadline
	RejectVersion      = "tls_version"        // the peer offered only TLS older than 1.3
	RejectHandshake    = "handshake"          // anything else: reset, EOF, a bad message
)
