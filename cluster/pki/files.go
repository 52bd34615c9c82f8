package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"
)

// Files is a node's TLS material, read and checked.
type Files struct {
	Pool *x509.CertPool      // the cluster's CA certificates
	CAs  []*x509.Certificate // the same, in file order
	Cert tls.Certificate     // this node's certificate and key, with Leaf set
	Leaf *x509.Certificate   // this node's certificate
}

// LoadFiles reads and checks the CA, the node certificate (and any intermediates
// after it) and its key: they parse, the key matches, the certificate chains to the
// CA and is valid at now. Errors name the file at fault (field says which: ca_file,
// cert_file or key_file) and what to do.
func LoadFiles(caFile, certFile, keyFile string, now time.Time) (*Files, *FileError) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, &FileError{"ca_file", readProblem(caFile, err, "copy the cluster's ca.pem here (raftvip tls ca made it)")}
	}
	cas, err := parseCertsPEM(caPEM)
	if err != nil {
		return nil, &FileError{"ca_file", fmt.Sprintf("%s %v; point ca_file at the cluster's ca.pem", caFile, err)}
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		if !c.IsCA {
			return nil, &FileError{"ca_file", fmt.Sprintf("%s holds %q, which is not a CA certificate; point ca_file at the cluster's ca.pem, not a node certificate", caFile, c.Subject.CommonName)}
		}
		pool.AddCert(c)
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, &FileError{"cert_file", readProblem(certFile, err, "make this node's certificate with raftvip tls cert NODE --ip ADDR")}
	}
	chain, err := parseCertsPEM(certPEM)
	if err != nil {
		return nil, &FileError{"cert_file", fmt.Sprintf("%s %v; point cert_file at this node's certificate (raftvip tls cert NODE writes NODE.pem)", certFile, err)}
	}
	leaf := chain[0]
	if fi, err := os.Stat(keyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, &FileError{"key_file", fmt.Sprintf("%s has mode %04o, so other users can read this node's private key; chmod 600 %s", keyFile, fi.Mode().Perm(), keyFile)}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, &FileError{"key_file", readProblem(keyFile, err, "raftvip tls cert NODE writes the key next to the certificate as NODE-key.pem")}
	}
	if _, err := parseKeyPEM(keyPEM); err != nil {
		return nil, &FileError{"key_file", fmt.Sprintf("%s: %v; point key_file at this node's private key (NODE-key.pem)", keyFile, err)}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &FileError{"key_file", fmt.Sprintf("%s does not go with cert_file %s (%v); use the key that was made with the certificate", keyFile, certFile, err)}
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
			return nil, &FileError{"cert_file", fmt.Sprintf("%s (%s) expired on %s; make a new one with raftvip tls cert %s and restart", certFile, leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.DateOnly), leaf.Subject.CommonName)}
		case errors.As(err, &inv) && inv.Reason == x509.Expired:
			return nil, &FileError{"cert_file", fmt.Sprintf("%s (%s) is not valid before %s; check this node's clock", certFile, leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339))}
		case errors.As(err, &ua):
			return nil, &FileError{"cert_file", fmt.Sprintf("%s (%s, issued by %q) is not signed by ca_file %s (%q); sign it with raftvip tls cert %s --dir <the CA's directory>, or point ca_file at the CA that signed it",
				certFile, leaf.Subject.CommonName, leaf.Issuer.CommonName, caFile, cas[0].Subject.CommonName, leaf.Subject.CommonName)}
		}
		return nil, &FileError{"cert_file", fmt.Sprintf("%s (%s) does not verify against ca_file %s: %v; make it with raftvip tls cert, which sets serverAuth and clientAuth", certFile, leaf.Subject.CommonName, caFile, err)}
	}
	pair.Leaf = leaf
	return &Files{Pool: pool, CAs: cas, Cert: pair, Leaf: leaf}, nil
}

// FileError is a problem with one of cluster.tls's files.
type FileError struct {
	Field string // ca_file, cert_file or key_file
	Msg   string
}

func (e *FileError) Error() string { return "cluster.tls." + e.Field + ": " + e.Msg }

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
