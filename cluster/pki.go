package cluster

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The cluster's own small PKI: one CA per cluster (`raftvip tls ca`) signs a
// certificate per node (`raftvip tls cert NODE`). Every key is ECDSA P-256. A node
// certificate serves both ends of a Raft-port connection (serverAuth and clientAuth);
// peers trust each other by the chain to the CA alone (see tls.go).

// Defaults of the tls verbs.
const (
	DefaultTLSDir  = "/etc/raftvip/tls"
	DefaultCADays  = 3650 // ten years: the CA outlives the nodes' certificates
	DefaultTLSDays = 825  // a node certificate: a little over two years
)

// File names in a TLS directory.
const (
	CACertFile = "ca.pem"
	CAKeyFile  = "ca-key.pem"
)

// NodeCertFiles returns the certificate and key file names of node in a TLS directory.
func NodeCertFiles(node string) (cert, key string) {
	return node + ".pem", node + "-key.pem"
}

// CertRequest is what a node certificate says: the node's name (CN and a DNS name)
// and the addresses and extra names it is known by.
type CertRequest struct {
	Name string
	IPs  []netip.Addr
	DNS  []string
	Days int
}

// clockSkew backdates certificates so that a node whose clock is a little behind the
// one that signed them accepts them at once.
const clockSkew = 5 * time.Minute

// NewCA creates a self-signed CA certificate and its key, both PEM. Its name carries
// a random tag, so that two CAs can be told apart in error messages.
func NewCA(days int, now time.Time) (certPEM, keyPEM []byte, err error) {
	if days < 1 {
		return nil, nil, fmt.Errorf("pki: a CA valid for %d days: want at least 1", days)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tag := make([]byte, 4)
	if _, err := rand.Read(tag); err != nil {
		return nil, nil, fmt.Errorf("pki: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "raftvip CA " + hex.EncodeToString(tag), Organization: []string{"raftvip"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(time.Duration(days) * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // it signs node certificates only
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: create CA certificate: %w", err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// NewNodeCert creates a node certificate for req signed by the CA, and its key, both
// PEM.
func NewNodeCert(caCertPEM, caKeyPEM []byte, req CertRequest, now time.Time) (certPEM, keyPEM []byte, err error) {
	if msg := configNameProblem(req.Name); msg != "" {
		return nil, nil, fmt.Errorf("pki: node name %q %s", req.Name, msg)
	}
	if req.Days < 1 {
		return nil, nil, fmt.Errorf("pki: a certificate valid for %d days: want at least 1", req.Days)
	}
	ca, err := parseCertPEM(caCertPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	if !ca.IsCA {
		return nil, nil, errors.New("pki: the CA certificate is not a CA")
	}
	caKey, err := parseKeyPEM(caKeyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: CA key: %w", err)
	}
	if !publicKeysEqual(caKey.Public(), ca.PublicKey) {
		return nil, nil, errors.New("pki: the CA key does not belong to the CA certificate")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(time.Duration(req.Days) * 24 * time.Hour)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter // a certificate cannot outlive its CA
	}
	dns := []string{req.Name}
	for _, d := range req.DNS {
		if !slices.Contains(dns, d) {
			dns = append(dns, d)
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial,
		Subject:        pkix.Name{CommonName: req.Name, Organization: []string{"raftvip"}},
		NotBefore:      now.Add(-clockSkew),
		NotAfter:       notAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:       dns,
		SubjectKeyId:   keyID(&key.PublicKey),
		AuthorityKeyId: ca.SubjectKeyId,
	}
	for _, a := range req.IPs {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.Unmap().AsSlice()))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: sign certificate for %s: %w", req.Name, err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// WriteCA creates a CA in dir (made 0700 if missing): ca.pem (0644) and ca-key.pem
// (0600). It refuses to overwrite either file. It returns the two paths.
func WriteCA(dir string, days int, now time.Time) (certPath, keyPath string, err error) {
	certPath, keyPath = filepath.Join(dir, CACertFile), filepath.Join(dir, CAKeyFile)
	if err := refuseExisting(certPath, keyPath); err != nil {
		return "", "", err
	}
	certPEM, keyPEM, err := NewCA(days, now)
	if err != nil {
		return "", "", err
	}
	return writePair(dir, certPath, keyPath, certPEM, keyPEM)
}

// writePair writes a key (0600) and its certificate (0644) as new files; if the
// certificate cannot be written, the key is removed again.
func writePair(dir, certPath, keyPath string, certPEM, keyPEM []byte) (string, string, error) {
	if err := writeNew(dir, keyPath, keyPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := writeNew(dir, certPath, certPEM, 0o644); err != nil {
		os.Remove(keyPath)
		return "", "", err
	}
	return certPath, keyPath, nil
}

// WriteNodeCert signs a certificate for req with the CA in dir and writes NODE.pem
// (0644) and NODE-key.pem (0600) there. It refuses to overwrite either file.
func WriteNodeCert(dir string, req CertRequest, now time.Time) (certPath, keyPath string, err error) {
	caCert, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return "", "", fmt.Errorf("pki: read the CA: %w (make one with raftvip tls ca --dir %s)", err, dir)
	}
	caKey, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return "", "", fmt.Errorf("pki: read the CA key: %w (sign node certificates where raftvip tls ca put ca-key.pem)", err)
	}
	certName, keyName := NodeCertFiles(req.Name)
	certPath, keyPath = filepath.Join(dir, certName), filepath.Join(dir, keyName)
	if err := refuseExisting(certPath, keyPath); err != nil {
		return "", "", err
	}
	certPEM, keyPEM, err := NewNodeCert(caCert, caKey, req, now)
	if err != nil {
		return "", "", err
	}
	return writePair(dir, certPath, keyPath, certPEM, keyPEM)
}

func refuseExisting(paths ...string) error {
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("pki: %s exists; not overwriting it (move it away first to replace it)", p)
		}
	}
	return nil
}

// writeNew creates path with mode, failing if it exists.
func writeNew(dir, path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil { // the umask may have taken bits away, never added
		f.Close()
		return fmt.Errorf("pki: chmod %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("pki: write %s: %w", path, err)
	}
	return nil
}

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: serial number: %w", err)
	}
	return serial.Add(serial, big.NewInt(1)), nil
}

func keyID(pub *ecdsa.PublicKey) []byte {
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256(b)
	return sum[:20]
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseCertsPEM returns every certificate of a PEM file, in order.
func parseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			if bytes.Contains([]byte(block.Type), []byte("PRIVATE KEY")) {
				return nil, errors.New("holds a private key, not a certificate")
			}
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	return out, nil
}

func parseCertPEM(data []byte) (*x509.Certificate, error) {
	certs, err := parseCertsPEM(data)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

func parseKeyPEM(data []byte) (crypto.Signer, error) {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("holds no PEM private key")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported key type %T", key)
		}
		return s, nil
	}
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// tlsFiles is a node's TLS material, read and checked.
type tlsFiles struct {
	pool *x509.CertPool
	cas  []*x509.Certificate
	cert tls.Certificate
	leaf *x509.Certificate
}

// loadTLSFiles reads and checks the CA, the node certificate (and any intermediates
// after it) and its key: they parse, the key matches, the certificate chains to the
// CA and is valid at now. Errors name the file at fault (field says which: ca_file,
// cert_file or key_file) and what to do.
func loadTLSFiles(caFile, certFile, keyFile string, now time.Time) (*tlsFiles, *tlsFileError) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, &tlsFileError{"ca_file", readProblem(caFile, err, "copy the cluster's ca.pem here (raftvip tls ca made it)")}
	}
	cas, err := parseCertsPEM(caPEM)
	if err != nil {
		return nil, &tlsFileError{"ca_file", fmt.Sprintf("%s %v; point ca_file at the cluster's ca.pem", caFile, err)}
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		if !c.IsCA {
			return nil, &tlsFileError{"ca_file", fmt.Sprintf("%s holds %q, which is not a CA certificate; point ca_file at the cluster's ca.pem, not a node certificate", caFile, c.Subject.CommonName)}
		}
		pool.AddCert(c)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, &tlsFileError{"cert_file", readProblem(certFile, err, "make this node's certificate with raftvip tls cert NODE --ip ADDR")}
	}
	chain, err := parseCertsPEM(certPEM)
	if err != nil {
		return nil, &tlsFileError{"cert_file", fmt.Sprintf("%s %v; point cert_file at this node's certificate (raftvip tls cert NODE writes NODE.pem)", certFile, err)}
	}
	leaf := chain[0]
	if fi, err := os.Stat(keyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, &tlsFileError{"key_file", fmt.Sprintf("%s has mode %04o, so other users can read this node's private key; chmod 600 %s", keyFile, fi.Mode().Perm(), keyFile)}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, &tlsFileError{"key_file", readProblem(keyFile, err, "raftvip tls cert NODE writes the key next to the certificate as NODE-key.pem")}
	}
	if _, err := parseKeyPEM(keyPEM); err != nil {
		return nil, &tlsFileError{"key_file", fmt.Sprintf("%s: %v; point key_file at this node's private key (NODE-key.pem)", keyFile, err)}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &tlsFileError{"key_file", fmt.Sprintf("%s does not go with cert_file %s (%v); use the key that was made with the certificate", keyFile, certFile, err)}
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}})
	if err != nil {
		var inv x509.CertificateInvalidError
		var ua x509.UnknownAuthorityError
		switch {
		case errors.As(err, &inv) && inv.Reason == x509.Expired && now.After(leaf.NotAfter):
			return nil, &tlsFileError{"cert_file", fmt.Sprintf("%s (%s) expired on %s; make a new one with raftvip tls cert %s and restart", certFile, leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly), leaf.Subject.CommonName)}
		case errors.As(err, &inv) && inv.Reason == x509.Expired:
			return nil, &tlsFileError{"cert_file", fmt.Sprintf("%s (%s) is not valid before %s; check this node's clock", certFile, leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339))}
		case errors.As(err, &ua):
			return nil, &tlsFileError{"cert_file", fmt.Sprintf("%s (%s, issued by %q) is not signed by ca_file %s (%q); sign it with raftvip tls cert %s --dir <the CA's directory>, or point ca_file at the CA that signed it",
				certFile, leaf.Subject.CommonName, leaf.Issuer.CommonName, caFile, cas[0].Subject.CommonName, leaf.Subject.CommonName)}
		}
		return nil, &tlsFileError{"cert_file", fmt.Sprintf("%s (%s) does not verify against ca_file %s: %v; make it with raftvip tls cert, which sets serverAuth and clientAuth", certFile, leaf.Subject.CommonName, caFile, err)}
	}
	pair.Leaf = leaf
	return &tlsFiles{pool: pool, cas: cas, cert: pair, leaf: leaf}, nil
}

// tlsFileError is a problem with one of cluster.tls's files.
type tlsFileError struct {
	Field string // ca_file, cert_file or key_file
	Msg   string
}

func (e *tlsFileError) Error() string { return "cluster.tls." + e.Field + ": " + e.Msg }

// readProblem says why a file cannot be read and what to do.
func readProblem(path string, err error, fix string) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Sprintf("%s does not exist; %s", path, fix)
	case errors.Is(err, os.ErrPermission):
		return fmt.Sprintf("%s cannot be read: permission denied; the agent runs as root, check the file's owner and mode", path)
	}
	return fmt.Sprintf("cannot read %s: %v", path, err)
}
