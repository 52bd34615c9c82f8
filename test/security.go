package test

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"time"
)

// Security helpers: the lab's own CA and node certificates, made with the
// raftvip binary's tls verbs, as an operator makes them.

// TLSDir is where a lab with Options.TLS keeps its CA and the nodes' certificates.
func (l *Lab) TLSDir() string { return filepath.Join(l.Dir, "tls") }

// NodeTLS is the cluster.tls section of node name with the files in dir.
func NodeTLS(dir, name string) *TLSSection {
	return &TLSSection{
		CAFile:   filepath.Join(dir, "ca.pem"),
		CertFile: filepath.Join(dir, name+".pem"),
		KeyFile:  filepath.Join(dir, name+"-key.pem"),
	}
}

// TLSCA runs `raftvip tls ca --dir dir`.
func TLSCA(dir string) error {
	bin, err := Binary()
	if err != nil {
		return err
	}
	if _, err := run(10*time.Second, bin, "tls", "ca", "--dir", dir); err != nil {
		return fmt.Errorf("lab: raftvip tls ca: %w", err)
	}
	return nil
}

// TLSCert runs `raftvip tls cert NAME --ip ADDR... --dir dir` with the CA in dir.
func TLSCert(dir, name string, ips ...netip.Addr) error {
	bin, err := Binary()
	if err != nil {
		return err
	}
	args := []string{"tls", "cert", name}
	for _, ip := range ips {
		args = append(args, "--ip", ip.String())
	}
	args = append(args, "--dir", dir)
	if _, err := run(10*time.Second, bin, args...); err != nil {
		return fmt.Errorf("lab: raftvip tls cert %s: %w", name, err)
	}
	return nil
}

// makeTLS makes the lab's CA, a certificate for every node and, unless
// Options.Encrypt is set, the gossip key (Options.TLS).
func (l *Lab) makeTLS() error {
	dir := l.TLSDir()
	if err := TLSCA(dir); err != nil {
		return err
	}
	for _, n := range l.Nodes {
		if err := TLSCert(dir, n.Name, n.Addr4.Addr(), n.Addr6.Addr()); err != nil {
			return err
		}
	}
	if l.opts.Encrypt == "" {
		key, err := Keygen()
		if err != nil {
			return err
		}
		l.opts.Encrypt = key
	}
	l.logf("lab %s: CA and certificates for %d nodes in %s, gossip key set", l.Prefix, len(l.Nodes), dir)
	return nil
}
