package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster/pki"
)

// testCA makes a CA in a new directory and returns the directory.
func testCA(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, _, err := pki.WriteCA(dir, 30, time.Now()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// testCert signs a certificate for name with the CA in dir and returns its files.
func testCert(t *testing.T, dir, name string) *pki.Files {
	t.Helper()
	req := pki.CertRequest{Name: name, IPs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Days: 30}
	if _, _, err := pki.WriteNodeCert(dir, req, time.Now()); err != nil {
		t.Fatal(err)
	}
	cert, key := pki.NodeCertFiles(name)
	f, ferr := pki.LoadFiles(filepath.Join(dir, pki.CACertFile), filepath.Join(dir, cert), filepath.Join(dir, key), time.Now())
	if ferr != nil {
		t.Fatal(ferr)
	}
	return f
}

// logBuffer is a logger whose lines a test can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testMux starts a Mux on loopback with TLS from f (plaintext if nil).
func testMux(t *testing.T, f *pki.Files) (*Mux, *logBuffer) {
	t.Helper()
	return testMuxDeadline(t, f, handshakeTimeout)
}

func testMuxDeadline(t *testing.T, f *pki.Files, handshake time.Duration) (*Mux, *logBuffer) {
	t.Helper()
	lb := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(lb, nil))
	var tl *TLS
	if f != nil {
		tl = NewTLS(f, logger, time.Now)
	}
	m, err := newWithDeadline("127.0.0.1:0", nil, logger, tl, handshake)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, lb
}

// waitCount waits until the Mux has counted a rejection of reason in dir.
func waitCount(t *testing.T, m *Mux, dir, reason string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		in, out := m.tls.stats.counts()
		c := in
		if dir == dirOut {
			c = out
		}
		if c[reason] > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s rejection %q counted: in %v, out %v", dir, reason, in, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMuxTLSBetweenNodes(t *testing.T) {
	dir := testCA(t)
	a, _ := testMux(t, testCert(t, dir, "lb1"))
	b, _ := testMux(t, testCert(t, dir, "lb2"))
	addr := a.ln.Addr().String()
	for _, kind := range []byte{KindRaft, KindRPC} {
		c, err := b.DialKind(addr, kind, 2*time.Second)
		if err != nil {
			t.Fatalf("kind %d: %v", kind, err)
		}
		c.Write([]byte("hello"))
		var got net.Conn
		if kind == KindRaft {
			got, err = a.Accept()
		} else {
			got, err = a.rpc.Accept()
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := got.(*tls.Conn); !ok {
			t.Errorf("kind %d: handed over a %T, want *tls.Conn", kind, got)
		}
		buf := make([]byte, 5)
		got.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.ReadFull(got, buf); err != nil || string(buf) != "hello" {
			t.Errorf("kind %d: read %q, %v", kind, buf, err)
		}
		state := got.(*tls.Conn).ConnectionState()
		if state.Version != tls.VersionTLS13 || len(state.PeerCertificates) == 0 || state.PeerCertificates[0].Subject.CommonName != "lb2" {
			t.Errorf("kind %d: version %x, peer %v", kind, state.Version, state.PeerCertificates)
		}
		got.Close()
		c.Close()
	}
	if in, out := a.tls.stats.counts(); len(in)+len(out) > 0 {
		t.Errorf("rejections counted between good nodes: in %v, out %v", in, out)
	}

	// HTTP (the cluster RPC) runs over it.
	go http.Serve(a.RPC(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "lb1")
	}))
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(context.Context, string, string) (net.Conn, error) {
			return b.DialKind(addr, KindRPC, 2*time.Second)
		},
		DisableKeepAlives: true,
	}}
	resp, err := client.Get("http://" + addr + "/v1/rpc/info")
	if err != nil {
		t.Fatalf("HTTP over TLS: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "lb1" {
		t.Errorf("HTTP over TLS: %q", body)
	}
}

func TestMuxTLSRejectsAnotherCA(t *testing.T) {
	a, alog := testMux(t, testCert(t, testCA(t), "lb1"))
	c, clog := testMux(t, testCert(t, testCA(t), "lb4"))
	addr := a.ln.Addr().String()

	// lb4 dials lb1: lb4 finds lb1's certificate from an unknown CA, and lb1 hears
	// that lb4 refused its certificate.
	_, err := c.DialKind(addr, KindRPC, 2*time.Second)
	var te *TLSError
	if !errors.As(err, &te) || te.Reason != RejectUnknownCA || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("dial from another CA: %v", err)
	}
	waitCount(t, c, dirOut, RejectUnknownCA)
	waitCount(t, a, dirIn, RejectPeerRejected)

	// The other way round: the error says why, and it is a *TLSError (the leader
	// refuses to add such a member by it).
	_, err = a.DialKind(c.ln.Addr().String(), KindRPC, 2*time.Second)
	if !errors.As(err, &te) || te.Reason != RejectUnknownCA {
		t.Fatalf("dial to another CA: %v", err)
	}
	waitCount(t, a, dirOut, RejectUnknownCA)
	waitCount(t, c, dirIn, RejectPeerRejected)

	// Both logged it with the remote address and the reason. A count is taken before
	// its line is written, so give the last line a moment.
	for name, lb := range map[string]*logBuffer{"lb1": alog, "lb4": clog} {
		logged := func(s string) bool {
			return strings.Contains(s, "certificate signed by unknown authority") && strings.Contains(s, "remote=127.0.0.1:") &&
				strings.Contains(s, "reason=unknown_ca") && strings.Contains(s, "reason=peer_rejected_cert")
		}
		deadline := time.Now().Add(5 * time.Second)
		for !logged(lb.String()) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if s := lb.String(); !logged(s) {
			t.Errorf("%s's log:\n%s", name, s)
		}
	}
}

// A client that trusts the server but has a certificate of another CA: the server
// refuses it as unknown_ca, and the client learns it on its first read.
func TestMuxTLSServerRefusesClientCert(t *testing.T) {
	dir := testCA(t)
	a, _ := testMux(t, testCert(t, dir, "lb1"))
	foreign := testCert(t, testCA(t), "lb4")
	mixed := &pki.Files{Pool: a.tls.server.ClientCAs, Cert: foreign.Cert, Leaf: foreign.Leaf}
	c, _ := testMux(t, mixed)

	conn, err := c.DialKind(a.ln.Addr().String(), KindRPC, 2*time.Second)
	if err != nil {
		t.Fatalf("the client-side handshake should pass: %v", err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	var te *TLSError
	if !errors.As(err, &te) || te.Reason != RejectPeerRejected {
		t.Errorf("first read: %v, want a TLSError %s", err, RejectPeerRejected)
	}
	waitCount(t, a, dirIn, RejectUnknownCA)
	waitCount(t, c, dirOut, RejectPeerRejected)
}

func TestMuxTLSRejectsPlaintextAndNoCert(t *testing.T) {
	dir := testCA(t)
	a, alog := testMux(t, testCert(t, dir, "lb1"))
	addr := a.ln.Addr().String()

	// A node without cluster.tls: its kind byte is not a TLS record.
	p, err := DialPlain(addr, KindRaft, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("plaintext raft"))
	p.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := p.Read(make([]byte, 1)); err == nil {
		t.Error("a plaintext connection was not closed")
	}
	p.Close()
	waitCount(t, a, dirIn, RejectNotTLS)
	if !strings.Contains(alog.String(), "reason=not_tls") {
		t.Errorf("log:\n%s", alog)
	}

	// A TLS client with no certificate.
	f := testCert(t, dir, "lb2")
	nc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: f.Pool, ServerName: "lb1", MinVersion: tls.VersionTLS13})
	if err == nil {
		nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err = nc.Read(make([]byte, 1))
		nc.Close()
	}
	if err == nil {
		t.Error("a client without a certificate was served")
	}
	waitCount(t, a, dirIn, RejectNoCert)

	// A TLS 1.2 client.
	old, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: f.Pool, ServerName: "lb1", MaxVersion: tls.VersionTLS12, Certificates: []tls.Certificate{f.Cert}})
	if err == nil {
		old.Close()
		t.Error("a TLS 1.2 client was served")
	}
	waitCount(t, a, dirIn, RejectVersion)
}

// A client that connects and says nothing times out in its own goroutine; the next
// client is served at once.
func TestMuxTLSSilentClientDoesNotBlockAccept(t *testing.T) {
	dir := testCA(t)
	a, _ := testMuxDeadline(t, testCert(t, dir, "lb1"), 500*time.Millisecond)
	b, _ := testMux(t, testCert(t, dir, "lb2"))
	addr := a.ln.Addr().String()

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	time.Sleep(50 * time.Millisecond) // the silent client is accepted first

	t0 := time.Now()
	c, err := b.DialKind(addr, KindRPC, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := a.rpc.Accept()
	if err != nil {
		t.Fatal(err)
	}
	got.Close()
	if d := time.Since(t0); d >= a.handshake {
		t.Errorf("the second client was served after %v, not before the silent one's deadline (%v)", d, a.handshake)
	}
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil {
		t.Error("the silent client was not closed")
	}
	waitCount(t, a, dirIn, RejectTimeout)
}

func TestTLSStatsLogRateLimited(t *testing.T) {
	lb := &logBuffer{}
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	s := newStats(slog.New(slog.NewTextHandler(lb, nil)), func() time.Time { return now })
	err := x509.UnknownAuthorityError{}
	for range 5 {
		s.reject(dirIn, "198.18.0.14:40000", err)
	}
	s.reject(dirIn, "198.18.0.15:40000", err) // another host: logged
	now = now.Add(logEvery)
	s.reject(dirIn, "198.18.0.14:40001", err) // the window passed: logged with the count held back
	in, out := s.counts()
	if in[RejectUnknownCA] != 7 || len(out) != 0 {
		t.Errorf("counts in %v, out %v", in, out)
	}
	lines := strings.Split(strings.TrimSpace(lb.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[2], "repeated=4") || !strings.Contains(lines[1], "198.18.0.15") {
		t.Errorf("log lines:\n%s", lb)
	}
	if got := s.latest(now); len(got) != 1 || got[0].Remote != "198.18.0.14:40001" {
		t.Errorf("latest = %+v", got)
	}
}

func TestClassifyTLS(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{x509.UnknownAuthorityError{}, RejectUnknownCA},
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, RejectUnknownCA},
		{x509.CertificateInvalidError{Reason: x509.Expired}, RejectBadCert},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, RejectNotTLS},
		{errors.New("tls: client didn't provide a certificate"), RejectNoCert},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: bad certificate")}, RejectPeerRejected},
		{errors.New("tls: client offered only unsupported versions: [303]"), RejectVersion},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, RejectTimeout},
		{io.EOF, RejectHandshake},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}
