package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/raftvip/raftvip/cluster/pki"
	"go.yaml.in/yaml/v3"
)

// The security part of the config: cluster.tls, cluster.encrypt and cluster.insecure,
// the admin TCP listener's token, and the listen addresses of admin and metrics.

// minTokenLen is the shortest admin token accepted, in bytes.
const minTokenLen = 16

// makeTokenHint is how to make a token for admin.token_file.
const makeTokenHint = "make one with (umask 077; raftvip keygen > /etc/raftvip/admin.token)"

// filePath decodes a file name; a relative one is taken from the config file's
// directory.
func (d *decoder) filePath(path string, n *yaml.Node, example string, dst *string) {
	s, ok := d.scalar(path, n, "a file name such as "+example)
	if !ok {
		return
	}
	s = strings.TrimSpace(s)
	if s == "" {
		d.add(n.Line, path, "is empty; name a file such as %s, or remove the line", example)
		return
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(filepath.Dir(d.file), s)
	}
	*dst = filepath.Clean(s)
}

// listenAddr decodes host:port to listen on: an IP address (or nothing, for every
// address) and a port. "" turns the listener off.
func (d *decoder) listenAddr(path string, n *yaml.Node, example string, dst *string) {
	s, ok := d.scalar(path, n, "host:port, e.g. "+example)
	if !ok {
		return
	}
	s = strings.TrimSpace(s)
	if s == "" {
		*dst = ""
		return
	}
	if msg := listenProblem(s, example); msg != "" {
		d.add(n.Line, path, "%s", msg)
		return
	}
	*dst = s
}

// listenProblem says what is wrong with a listen address, or "".
func listenProblem(s, example string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if _, perr := strconv.Atoi(s); perr == nil {
			return fmt.Sprintf("%q has no host; write host:port, e.g. %s (or :%s for every address)", s, example, s)
		}
		return fmt.Sprintf("%q is not host:port; write e.g. %s (IPv6 in brackets: [::1]:%s)", s, example, example[strings.LastIndex(example, ":")+1:])
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Sprintf("%q: the port %q is not a number from 1 to 65535", s, port)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Sprintf("%q: the host must be an IP address (raftvip does not resolve names), e.g. %s", s, example)
		}
	}
	return ""
}

// checkSecurity applies the rule of cluster.insecure: without it, the Raft port needs
// cluster.tls and gossip needs cluster.encrypt. The TLS files are read and checked
// here, so that a bad file is a config error, not a failed start.
func (d *decoder) checkSecurity(cfg *Config) {
	if d.failedAt("cluster") {
		return
	}
	cc := &cfg.Cluster
	if _, set := d.lines["cluster.insecure"]; !set && d.defaultInsecure {
		cc.Insecure = true
	}
	name, ip := cfg.Node.Name, cfg.Node.Bind.String()
	if name == "" {
		name = "NODE"
	}
	if !cfg.Node.Bind.IsValid() {
		ip = "ADDR"
	}
	certFile, keyFile := pki.NodeCertFiles(name)
	makeTLS := fmt.Sprintf("make the cluster's CA once with raftvip tls ca --dir %s, this node's certificate with raftvip tls cert %s --ip %s --dir %s, and set cluster.tls: {ca_file: %s, cert_file: %s, key_file: %s}",
		pki.DefaultTLSDir, name, ip, pki.DefaultTLSDir, filepath.Join(pki.DefaultTLSDir, pki.CACertFile), filepath.Join(pki.DefaultTLSDir, certFile), filepath.Join(pki.DefaultTLSDir, keyFile))

	_, tlsSet := d.lines["cluster.tls"]
	if tlsSet && !d.failed("cluster.tls") {
		t := cc.TLS
		var missing []string
		for _, f := range []struct{ key, val string }{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
			if f.val == "" {
				missing = append(missing, f.key)
			}
		}
		switch {
		case len(missing) == 3:
			d.add(d.at("cluster.tls"), "cluster.tls", "is empty; %s; or remove it (a lab only, with cluster.insecure: true)", makeTLS)
		case len(missing) > 0:
			for _, k := range missing {
				d.add(d.at("cluster.tls"), "cluster.tls."+k, "missing; cluster.tls needs ca_file, cert_file and key_file: %s", makeTLS)
			}
		default:
			if _, ferr := pki.LoadFiles(t.CAFile, t.CertFile, t.KeyFile, d.now()); ferr != nil {
				p := "cluster.tls." + ferr.Field
				d.add(d.at(p), p, "%s", ferr.Msg)
			}
		}
	}
	if cc.Insecure || d.failed("cluster.insecure") {
		return
	}
	if !tlsSet && !d.suggested["cluster.tls"] {
		d.add(d.at("cluster"), "cluster.tls", "missing; the Raft port needs mutual TLS: %s; or, in a lab only, set cluster.insecure: true", makeTLS)
	}
	if _, set := d.lines["cluster.encrypt"]; !set && !d.suggested["cluster.encrypt"] {
		d.add(d.at("cluster"), "cluster.encrypt", "missing; gossip must be encrypted: make a key once with raftvip keygen and set cluster.encrypt to it on every node; or, in a lab only, set cluster.insecure: true")
	}
}

// checkListeners checks admin.listen with its token and metrics.listen against each
// other and against the Raft and gossip ports.
func (d *decoder) checkListeners(cfg *Config) {
	a := cfg.Admin
	_, listenSet := d.lines["admin.listen"]
	_, tokenSet := d.lines["admin.token_file"]
	switch {
	case a.Listen != "" && !tokenSet && !d.failed("admin.token_file") && !d.suggested["admin.token_file"]:
		d.add(d.at("admin.listen"), "admin.token_file", "missing; admin.listen needs a token that clients send as \"Authorization: Bearer <token>\": %s, and set token_file: /etc/raftvip/admin.token", makeTokenHint)
	case a.TokenFile != "" && !listenSet && !d.failed("admin.listen"):
		d.add(d.at("admin.token_file"), "admin.token_file", "is set, but admin.listen is not: the token is for the TCP admin listener; set admin.listen (e.g. 127.0.0.1:7380) or remove token_file")
	case a.Listen != "" && a.TokenFile != "":
		if _, msg := ReadToken(a.TokenFile); msg != "" {
			d.add(d.at("admin.token_file"), "admin.token_file", "%s", msg)
		}
	}

	type listener struct{ path, addr string }
	var ls []listener
	if a.Listen != "" {
		ls = append(ls, listener{"admin.listen", a.Listen})
	}
	if cfg.Metrics.Listen != "" {
		ls = append(ls, listener{"metrics.listen", cfg.Metrics.Listen})
	}
	ports := []struct {
		name string
		port int
	}{{"node.raft_port", cfg.Node.RaftPort}, {"node.gossip_port", cfg.Node.GossipPort}}
	for i, l := range ls {
		host, port, _ := net.SplitHostPort(l.addr)
		p, _ := strconv.Atoi(port)
		for _, o := range ports {
			if p != o.port {
				continue
			}
			h, err := netip.ParseAddr(host)
			if host == "" || err == nil && (h.IsUnspecified() || h == cfg.Node.Bind) {
				d.add(d.at(l.path), l.path, "%s takes port %d, which is %s; pick another port", l.addr, p, o.name)
			}
		}
		if i == 1 && ls[0].addr == l.addr {
			d.add(d.at(l.path), l.path, "%s is admin.listen too; the admin API and the metrics need a port each", l.addr)
		}
	}
}

// ReadToken reads the admin token from path: the file must be readable by its owner
// only and hold at least minTokenLen bytes (surrounding white space is trimmed).
// msg says what is wrong and what to do.
func ReadToken(path string) (token string, msg string) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Sprintf("%s does not exist; %s", path, makeTokenHint)
		}
		return "", fmt.Sprintf("cannot read %s: %v", path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Sprintf("%s is not a regular file; %s", path, makeTokenHint)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Sprintf("%s has mode %04o, so other users can read the admin token; chmod 600 %s", path, perm, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Sprintf("cannot read %s: %v", path, err)
	}
	t := strings.TrimSpace(string(b))
	switch {
	case t == "":
		return "", fmt.Sprintf("%s is empty; %s", path, makeTokenHint)
	case len(t) < minTokenLen:
		return "", fmt.Sprintf("%s holds a token of %d bytes, too short to resist guessing (at least %d); %s", path, len(t), minTokenLen, makeTokenHint)
	case strings.ContainsAny(t, "\r\n\t "):
		return "", fmt.Sprintf("%s holds white space inside the token; a token is one word; %s", path, makeTokenHint)
	}
	return t, ""
}

func (d *decoder) socket(path string, n *yaml.Node, dst *string) {
	s, ok := d.scalar(path, n, "an absolute path such as "+DefaultAdminSocket)
	if !ok {
		return
	}
	const sunPath = 107 // sizeof(sockaddr_un.sun_path) - 1 on Linux
	switch {
	case !filepath.IsAbs(s):
		d.add(n.Line, path, "%q is not an absolute path; use a path starting with /, e.g. %s", s, DefaultAdminSocket)
	case strings.HasSuffix(s, "/"):
		d.add(n.Line, path, "%q names a directory; name the socket file, e.g. %sraftvip.sock", s, s)
	case len(s) > sunPath:
		d.add(n.Line, path, "path is %d bytes, longer than a unix socket path can be (%d); use a shorter path such as %s", len(s), sunPath, DefaultAdminSocket)
	default:
		*dst = s
	}
}
