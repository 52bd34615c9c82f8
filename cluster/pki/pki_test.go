package pki

import (
	"crypto/x509"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

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

	f, ferr := LoadFiles(caPath, certPath, keyPath, now)
	if ferr != nil {
		t.Fatal(ferr)
	}
	leaf := f.Leaf
	if leaf.Subject.CommonName != "lb1" || !slices.Equal(leaf.DNSNames, []string{"lb1", "lb1.example"}) || len(leaf.IPAddresses) != 2 ||
		!leaf.IPAddresses[1].Equal(net.ParseIP("2001:2::11")) {
		t.Errorf("certificate: CN %q, DNS %v, IPs %v", leaf.Subject.CommonName, leaf.DNSNames, leaf.IPAddresses)
	}
	if leaf.PublicKeyAlgorithm != x509.ECDSA || f.CAs[0].PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key algorithms %v, %v; want ECDSA", leaf.PublicKeyAlgorithm, f.CAs[0].PublicKeyAlgorithm)
	}
	// The certificate is good at both ends of a connection; the CA cannot outlive 10 days.
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if err := verify(leaf, f.Pool, usage, now); err != nil {
			t.Errorf("usage %v: %v", usage, err)
		}
	}
	if leaf.NotAfter.After(f.CAs[0].NotAfter) {
		t.Errorf("certificate valid until %s, after its CA (%s)", leaf.NotAfter, f.CAs[0].NotAfter)
	}
	if err := verify(leaf, f.Pool, x509.ExtKeyUsageServerAuth, now.Add(11*24*time.Hour)); err == nil {
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
			_, ferr := LoadFiles(tc.ca, tc.cert, tc.key, now)
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

// verify checks that leaf chains to a CA of pool and is good for usage at now.
func verify(leaf *x509.Certificate, pool *x509.CertPool, usage x509.ExtKeyUsage, now time.Time) error {
	_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}})
	return err
}

// testCA makes a CA in a new directory and returns the directory.
func testCA(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, _, err := WriteCA(dir, 30, time.Now()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// testCert signs a certificate for name with the CA in dir.
func testCert(t *testing.T, dir, name string) {
	t.Helper()
	req := CertRequest{Name: name, IPs: []netip.Addr{netip.MustParseAddr("127.0.0.1")}, Days: 30}
	if _, _, err := WriteNodeCert(dir, req, time.Now()); err != nil {
		t.Fatal(err)
	}
}
