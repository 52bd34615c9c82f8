package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
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

// One CA per cluster (`raftvip tls ca`) signs a certificate per node (`raftvip tls
// cert NODE`).

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
	if msg := NodeNameProblem(req.Name); msg != "" {
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
