package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// testCA makes a CA in a new directory and returns the directory.
func testCA(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, _, err := WriteCA(dir, 30, time.Now()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// testCert signs a certificate for name with the CA in dir and returns its files.
func testCert(t *testing.T, dir, name string) *tlsFiles {
	t.Helper()
	req := CertRequest{Name: name, IPs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Days: 30}
	if _, _, err := WriteNodeCert(dir, req, time.Now()); err != nil {
		t.Fatal(err)
	}
	cert, key := NodeCertFiles(name)
	f, ferr := loadTLSFiles(filepath.Join(dir, CACertFile), filepath.Join(dir, cert), filepath.Join(dir, key), time.Now())
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

// testMux starts a mux on loopback with TLS from f (plaintext if nil).
func testMux(t *testing.T, f *tlsFiles) (*mux, *logBuffer) {
	t.Helper()
	return testMuxDeadline(t, f, muxHandshake)
}

func testMuxDeadline(t *testing.T, f *tlsFiles, handshake time.Duration) (*mux, *logBuffer) {
	t.Helper()
	lb := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(lb, nil))
	var tl *tlsLayer
	if f != nil {
		tl = newTLSLayer(f, logger, time.Now)
	}
	m, err := newMuxDeadline("127.0.0.1:0", nil, logger, tl, handshake)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, lb
}

// waitCount waits until the mux has counted a rejection of reason in dir.
func waitCount(t *testing.T, m *mux, dir, reason string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		in, out := m.tls.stats.counts()
		c := in
		if dir == tlsOut {
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

func TestPKIWritesVerifiableCertificates(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	caPath, caKey, err := WriteCA(dir, 10, now)
	if err != nil {
		t.Fatal(err)
	}
	req := CertRequest{Name: "lb1", IPs: []netip.Addr{netip.MustParseAddr("198.18.0.11"), netip.MustParseAddr("2001:2::11")},
		DNS: []string{"lb1.example"}, Days: 365}
	certPath, keyPath, err := WriteNodeCert(dir, req, now)
	if err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{caPath: 0o644, caKey: 0o600, certPath: 0o644, keyPath: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %04o, want %04o", path, fi.Mode().Perm(), mode)
		}
	}
	if filepath.Base(certPath) != "lb1.pem" || filepath.Base(keyPath) != "lb1-key.pem" {
		t.Errorf("files %s, %s", certPath, keyPath)
	}

	f, ferr := loadTLSFiles(caPath, certPath, keyPath, now)
	if ferr != nil {
		t.Fatal(ferr)
	}
	leaf := f.leaf
	if leaf.Subject.CommonName != "lb1" || !slices.Equal(leaf.DNSNames, []string{"lb1", "lb1.example"}) || len(leaf.IPAddresses) != 2 ||
		!leaf.IPAddresses[1].Equal(net.ParseIP("2001:2::11")) {
		t.Errorf("certificate: CN %q, DNS %v, IPs %v", leaf.Subject.CommonName, leaf.DNSNames, leaf.IPAddresses)
	}
	if leaf.PublicKeyAlgorithm != x509.ECDSA || f.cas[0].PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key algorithms %v, %v; want ECDSA", leaf.PublicKeyAlgorithm, f.cas[0].PublicKeyAlgorithm)
	}
	// The certificate is good at both ends of a connection; the CA cannot outlive 10 days.
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if err := verifyChain([]*x509.Certificate{leaf}, f.pool, usage, now); err != nil {
			t.Errorf("usage %v: %v", usage, err)
		}
	}
	if leaf.NotAfter.After(f.cas[0].NotAfter) {
		t.Errorf("certificate valid until %s, after its CA (%s)", leaf.NotAfter, f.cas[0].NotAfter)
	}
	if err := verifyChain([]*x509.Certificate{leaf}, f.pool, x509.ExtKeyUsageServerAuth, now.Add(11*24*time.Hour)); err == nil {
		t.Error("certificate verifies after its CA expired")
	}

	// Nothing is overwritten.
	if _, _, err := WriteCA(dir, 10, now); err == nil || !strings.Contains(err.Error(), "exists; not overwriting it") {
		t.Errorf("second WriteCA: %v", err)
	}
	if _, _, err := WriteNodeCert(dir, req, now); err == nil || !strings.Contains(err.Error(), "lb1.pem exists") {
		t.Errorf("second WriteNodeCert: %v", err)
	}
	if _, _, err := WriteNodeCert(t.TempDir(), req, now); err == nil || !strings.Contains(err.Error(), "raftvip tls ca --dir") {
		t.Errorf("WriteNodeCert without a CA: %v", err)
	}
	if _, _, err := WriteNodeCert(dir, CertRequest{Name: "lb 2", Days: 1}, now); err == nil || !strings.Contains(err.Error(), "may use only letters") {
		t.Errorf("WriteNodeCert with a bad name: %v", err)
	}
}

func TestLoadTLSFilesErrors(t *testing.T) {
	now := time.Now()
	dir := testCA(t)
	testCert(t, dir, "lb1")
	testCert(t, dir, "lb2")
	other := testCA(t)
	testCert(t, other, "lb4")
	// An expired certificate: from a CA made two years ago, for one day.
	old := t.TempDir()
	if _, _, err := WriteCA(old, 3650, now.AddDate(-2, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := WriteNodeCert(old, CertRequest{Name: "lb9", Days: 1}, now.AddDate(-2, 0, 0)); err != nil {
		t.Fatal(err)
	}
	loose := filepath.Join(t.TempDir(), "loose-key.pem")
	b, _ := os.ReadFile(filepath.Join(dir, "lb1-key.pem"))
	os.WriteFile(loose, b, 0o644)
	certAsKey := filepath.Join(t.TempDir(), "cert-as-key.pem")
	b, _ = os.ReadFile(filepath.Join(dir, "lb2.pem"))
	os.WriteFile(certAsKey, b, 0o600)

	p := func(d, f string) string { return filepath.Join(d, f) }
	for _, tc := range []struct {
		name           string
		ca, cert, key  string
		field, msgPart string
	}{
		{"good", p(dir, "ca.pem"), p(dir, "lb1.pem"), p(dir, "lb1-key.pem"), "", ""},
		{"no CA", p(dir, "nope.pem"), p(dir, "lb1.pem"), p(dir, "lb1-key.pem"), "ca_file", "does not exist; copy the cluster's ca.pem here"},
		{"CA is a node cert", p(dir, "lb2.pem"), p(dir, "lb1.pem"), p(dir, "lb1-key.pem"), "ca_file", "is not a CA certificate"},
		{"CA is a key", p(dir, "lb1-key.pem"), p(dir, "lb1.pem"), p(dir, "lb1-key.pem"), "ca_file", "holds a private key, not a certificate"},
		{"no cert", p(dir, "ca.pem"), p(dir, "lb3.pem"), p(dir, "lb1-key.pem"), "cert_file", "does not exist; make this node's certificate with raftvip tls cert"},
		{"cert of another CA", p(dir, "ca.pem"), p(other, "lb4.pem"), p(other, "lb4-key.pem"), "cert_file", "is not signed by ca_file"},
		{"key of another cert", p(dir, "ca.pem"), p(dir, "lb1.pem"), p(dir, "lb2-key.pem"), "key_file", "does not go with cert_file"},
		{"key readable by others", p(dir, "ca.pem"), p(dir, "lb1.pem"), loose, "key_file", "has mode 0644, so other users can read this node's private key; chmod 600"},
		{"key is a cert", p(dir, "ca.pem"), p(dir, "lb1.pem"), certAsKey, "key_file", "holds no PEM private key"},
		{"expired", p(old, "ca.pem"), p(old, "lb9.pem"), p(old, "lb9-key.pem"), "cert_file", "expired on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ferr := loadTLSFiles(tc.ca, tc.cert, tc.key, now)
			if tc.field == "" {
				if ferr != nil {
					t.Fatal(ferr)
				}
				return
			}
			if ferr == nil || ferr.Field != tc.field || !strings.Contains(ferr.Msg, tc.msgPart) {
				t.Errorf("got %v; want %s: ...%s...", ferr, tc.field, tc.msgPart)
			}
		})
	}
}

func TestMuxTLSBetweenNodes(t *testing.T) {
	dir := testCA(t)
	a, _ := testMux(t, testCert(t, dir, "lb1"))
	b, _ := testMux(t, testCert(t, dir, "lb2"))
	addr := a.ln.Addr().String()
	for _, kind := range []byte{muxRaft, muxRPC} {
		c, err := b.dial(addr, kind, 2*time.Second)
		if err != nil {
			t.Fatalf("kind %d: %v", kind, err)
		}
		c.Write([]byte("hello"))
		var got net.Conn
		if kind == muxRaft {
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

	// The cluster RPC runs over it.
	go http.Serve(a.rpc, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, rpcInfoResponse{Name: "lb1"})
	}))
	var info rpcInfoResponse
	if err := callRPC(context.Background(), b.dial, addr, "/v1/rpc/info", struct{}{}, &info); err != nil || info.Name != "lb1" {
		t.Errorf("cluster RPC over TLS: %+v, %v", info, err)
	}
}

func TestMuxTLSRejectsAnotherCA(t *testing.T) {
	a, alog := testMux(t, testCert(t, testCA(t), "lb1"))
	c, clog := testMux(t, testCert(t, testCA(t), "lb4"))
	addr := a.ln.Addr().String()

	// lb4 dials lb1: lb4 finds lb1's certificate from an unknown CA, and lb1 hears
	// that lb4 refused its certificate.
	_, err := c.dial(addr, muxRPC, 2*time.Second)
	var te *TLSError
	if !errors.As(err, &te) || te.Reason != TLSRejectUnknownCA || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("dial from another CA: %v", err)
	}
	waitCount(t, c, tlsOut, TLSRejectUnknownCA)
	waitCount(t, a, tlsIn, TLSRejectPeerRejected)

	// The other way round, through the cluster RPC: the error says why, and it is a
	// *TLSError (the leader refuses to add such a member by it).
	err = callRPC(context.Background(), a.dial, c.ln.Addr().String(), "/v1/rpc/info", struct{}{}, &rpcInfoResponse{})
	if !errors.As(err, &te) || te.Reason != TLSRejectUnknownCA {
		t.Fatalf("cluster RPC to another CA: %v", err)
	}
	waitCount(t, a, tlsOut, TLSRejectUnknownCA)
	waitCount(t, c, tlsIn, TLSRejectPeerRejected)

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
	mixed := &tlsFiles{pool: a.tls.server.ClientCAs, cas: nil, cert: foreign.cert, leaf: foreign.leaf}
	c, _ := testMux(t, mixed)

	conn, err := c.dial(a.ln.Addr().String(), muxRPC, 2*time.Second)
	if err != nil {
		t.Fatalf("the client-side handshake should pass: %v", err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = conn.Read(make([]byte, 1))
	var te *TLSError
	if !errors.As(err, &te) || te.Reason != TLSRejectPeerRejected {
		t.Errorf("first read: %v, want a TLSError %s", err, TLSRejectPeerRejected)
	}
	waitCount(t, a, tlsIn, TLSRejectUnknownCA)
	waitCount(t, c, tlsOut, TLSRejectPeerRejected)
}

func TestMuxTLSRejectsPlaintextAndNoCert(t *testing.T) {
	dir := testCA(t)
	a, alog := testMux(t, testCert(t, dir, "lb1"))
	addr := a.ln.Addr().String()

	// A node without cluster.tls: its kind byte is not a TLS record.
	p, err := dialKind(addr, muxRaft, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("plaintext raft"))
	p.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := p.Read(make([]byte, 1)); err == nil {
		t.Error("a plaintext connection was not closed")
	}
	p.Close()
	waitCount(t, a, tlsIn, TLSRejectNotTLS)
	if !strings.Contains(alog.String(), "reason=not_tls") {
		t.Errorf("log:\n%s", alog)
	}

	// A TLS client with no certificate.
	f := testCert(t, dir, "lb2")
	nc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: f.pool, ServerName: "lb1", MinVersion: tls.VersionTLS13})
	if err == nil {
		nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err = nc.Read(make([]byte, 1))
		nc.Close()
	}
	if err == nil {
		t.Error("a client without a certificate was served")
	}
	waitCount(t, a, tlsIn, TLSRejectNoCert)

	// A TLS 1.2 client.
	old, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: f.pool, ServerName: "lb1", MaxVersion: tls.VersionTLS12, Certificates: []tls.Certificate{f.cert}})
	if err == nil {
		old.Close()
		t.Error("a TLS 1.2 client was served")
	}
	waitCount(t, a, tlsIn, TLSRejectVersion)
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
	c, err := b.dial(addr, muxRPC, 2*time.Second)
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
	waitCount(t, a, tlsIn, TLSRejectTimeout)
}

func TestTLSStatsLogRateLimited(t *testing.T) {
	lb := &logBuffer{}
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	s := newTLSStats(slog.New(slog.NewTextHandler(lb, nil)), func() time.Time { return now })
	err := x509.UnknownAuthorityError{}
	for range 5 {
		s.reject(tlsIn, "198.18.0.14:40000", err)
	}
	s.reject(tlsIn, "198.18.0.15:40000", err) // another host: logged
	now = now.Add(tlsLogEvery)
	s.reject(tlsIn, "198.18.0.14:40001", err) // the window passed: logged with the count held back
	in, out := s.counts()
	if in[TLSRejectUnknownCA] != 7 || len(out) != 0 {
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
		{x509.UnknownAuthorityError{}, TLSRejectUnknownCA},
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, TLSRejectUnknownCA},
		{x509.CertificateInvalidError{Reason: x509.Expired}, TLSRejectBadCert},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, TLSRejectNotTLS},
		{errors.New("tls: client didn't provide a certificate"), TLSRejectNoCert},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: bad certificate")}, TLSRejectPeerRejected},
		{errors.New("tls: client offered only unsupported versions: [303]"), TLSRejectVersion},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, TLSRejectTimeout},
		{io.EOF, TLSRejectHandshake},
	} {
		if got := classifyTLS(tc.err); got != tc.want {
			t.Errorf("classifyTLS(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestGossipRejectReason(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want string
	}{
		{"memberlist: failed to receive: No installed keys could decrypt the message from=198.18.0.14:7301", GossipRejectWrongKey},
		{"memberlist: Decrypt packet failed: no installed keys could decrypt the message from=198.18.0.14:7301", GossipRejectWrongKey},
		{"memberlist: Failed to read remote state: encryption is configured but remote state is not encrypted from=x", GossipRejectNotEncrypted},
		{"memberlist: failed to receive: remote state is encrypted and encryption is not configured from=x", GossipRejectNoKey},
		{"memberlist: Decrypt packet failed: unsupported encryption version 5 from=x", GossipRejectDecrypt},
		{"memberlist: Stream connection from=198.18.0.12:7301", ""},
	} {
		got, ok := gossipRejectReason(tc.msg)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%q: %q, %v; want %q", tc.msg, got, ok, tc.want)
		}
	}
	g := &gossip{rejects: map[string]uint64{}}
	l := hclogObserved(slog.New(slog.NewTextHandler(io.Discard, nil)), "memberlist", g.observe)
	std := l.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}) // as memberlist gets it
	std.Printf("[ERR] memberlist: failed to receive: No installed keys could decrypt the message from=198.18.0.14:7301")
	std.Printf("[ERR] memberlist: failed to receive: No installed keys could decrypt the message from=198.18.0.14:7301")
	std.Printf("[DEBUG] memberlist: Stream connection from=198.18.0.12:7301")
	if g.rejects[GossipRejectWrongKey] != 2 || len(g.rejects) != 1 {
		t.Errorf("counted %v, want 2 wrong_key (the repeat is held back from the log, not from the count)", g.rejects)
	}
}

func TestRequireToken(t *testing.T) {
	lb := &logBuffer{}
	h := requireToken("s3cret-token-0123456789", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
	}), slog.New(slog.NewTextHandler(lb, nil)), time.Now)
	for _, tc := range []struct {
		auth string
		code int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"Basic s3cret-token-0123456789", http.StatusUnauthorized},
		{"Bearer s3cret-token-0123456789", http.StatusOK},
	} {
		r, _ := http.NewRequest(http.MethodGet, "/v1/status", nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		r.RemoteAddr = "198.18.0.100:5555"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.code {
			t.Errorf("%q: %d, want %d", tc.auth, w.Code, tc.code)
		}
		var e apiError
		json.Unmarshal(w.Body.Bytes(), &e)
		if tc.code == http.StatusUnauthorized && (!strings.HasPrefix(e.Error, "unauthorized") || w.Header().Get("WWW-Authenticate") == "") {
			t.Errorf("%q: body %s, headers %v", tc.auth, w.Body.String(), w.Header())
		}
	}
	if s := lb.String(); strings.Count(s, "refused a request") != 1 || !strings.Contains(s, "198.18.0.100") {
		t.Errorf("log (one line per 10s):\n%s", s)
	}
}
