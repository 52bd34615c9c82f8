package main

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/raftvip/raftvip/cluster/api"
	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/pki"
	"github.com/urfave/cli/v2"
)

// The tls verbs make the cluster's CA and its nodes' certificates for cluster.tls.

func tlsCommand() *cli.Command {
	dirFlag := &cli.StringFlag{Name: "dir", Usage: "directory of the CA and the certificates", Value: pki.DefaultTLSDir}
	return &cli.Command{
		Name:  "tls",
		Usage: "make the cluster's CA and node certificates for mutual TLS on the Raft port (cluster.tls)",
		Description: "raftvip tls ca makes one CA per cluster; raftvip tls cert NODE signs a certificate for\n" +
			"each node with it. Copy ca.pem, NODE.pem and NODE-key.pem to the node and set\n" +
			"cluster.tls there; keep ca-key.pem off the nodes (whoever has it can make members).\n" +
			"Nodes trust each other by the chain to the CA alone, so use one CA per cluster.",
		Subcommands: []*cli.Command{
			{
				Name:      "ca",
				Usage:     "make a new CA: DIR/ca.pem and DIR/ca-key.pem (0600)",
				ArgsUsage: " ",
				Flags: []cli.Flag{dirFlag,
					&cli.IntFlag{Name: "days", Usage: "validity in days", Value: pki.DefaultCADays}},
				Action: runTLSCA,
			},
			{
				Name:      "cert",
				Usage:     "sign a certificate for NODE with the CA in DIR: DIR/NODE.pem and DIR/NODE-key.pem (0600)",
				ArgsUsage: "NODE --ip ADDR [--ip ADDR2] [--dns NAME]",
				Description: "NODE is the node's node.name; it becomes the certificate's CN and a DNS name. Give\n" +
					"the node's addresses with --ip (node.bind at least) and any other names with --dns.\n" +
					"The certificate is good for both ends of a connection (serverAuth and clientAuth).",
				Flags: []cli.Flag{dirFlag,
					&cli.StringSliceFlag{Name: "ip", Usage: "an IP address of the node (repeat for several)"},
					&cli.StringSliceFlag{Name: "dns", Usage: "a DNS name of the node besides NODE (repeat for several)"},
					&cli.IntFlag{Name: "days", Usage: "validity in days (at most the CA's)", Value: pki.DefaultTLSDays}},
				Action: runTLSCert,
			},
		},
	}
}

func runTLSCA(c *cli.Context) error {
	if err := noArgs(c, "tls ca"); err != nil {
		return err
	}
	dir := c.String("dir")
	certPath, keyPath, err := pki.WriteCA(dir, c.Int("days"), time.Now())
	if err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "wrote %s: the CA certificate; copy it to every node (cluster.tls.ca_file)\n", certPath)
	fmt.Fprintf(w, "wrote %s: the CA key; keep it safe and off the nodes: whoever has it can make members\n", keyPath)
	fmt.Fprintf(w, "next, for each node: raftvip tls cert NODE --ip ADDR --dir %s\n", dir)
	return nil
}

// certFlags are the flags of tls cert, which may also follow NODE.
type certFlags struct {
	dir  string
	ips  []string
	dns  []string
	days int
}

// parseCertArgs returns NODE and the flags, from before NODE (parsed by cli) and
// after it (parsed here: urfave/cli stops at the first argument, and
// `raftvip tls cert lb1 --ip 198.18.0.11` reads best).
func parseCertArgs(c *cli.Context) (string, certFlags, error) {
	f := certFlags{dir: c.String("dir"), ips: c.StringSlice("ip"), dns: c.StringSlice("dns"), days: c.Int("days")}
	args := c.Args().Slice()
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", f, fmt.Errorf("tls cert needs the node's name: raftvip tls cert NODE --ip ADDR")
	}
	node, rest := args[0], args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			return "", f, fmt.Errorf("tls cert takes one node name (got %q too); make one certificate per node", a)
		}
		if !hasVal {
			if i+1 >= len(rest) {
				return "", f, fmt.Errorf("tls cert: %s needs a value", a)
			}
			i++
			val = rest[i]
		}
		switch name {
		case "ip":
			f.ips = append(f.ips, val)
		case "dns":
			f.dns = append(f.dns, val)
		case "dir":
			f.dir = val
		case "days":
			d, err := strconv.Atoi(val)
			if err != nil {
				return "", f, fmt.Errorf("tls cert: --days %q is not a whole number", val)
			}
			f.days = d
		default:
			return "", f, fmt.Errorf("tls cert: unknown flag %s; the flags are --ip, --dns, --dir and --days", a)
		}
	}
	return node, f, nil
}

func runTLSCert(c *cli.Context) error {
	node, f, err := parseCertArgs(c)
	if err != nil {
		return err
	}
	if len(f.ips) == 0 {
		return fmt.Errorf("tls cert %s: give the node's address with --ip (its node.bind), e.g. raftvip tls cert %s --ip 198.18.0.11", node, node)
	}
	req := pki.CertRequest{Name: node, Days: f.days}
	for _, s := range f.ips {
		for _, one := range strings.Split(s, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(one))
			if err != nil {
				return fmt.Errorf("tls cert %s: --ip %q is not an IP address", node, one)
			}
			req.IPs = append(req.IPs, a)
		}
	}
	for _, s := range f.dns {
		for _, one := range strings.Split(s, ",") {
			one = strings.TrimSpace(one)
			if one == "" || strings.ContainsAny(one, " /:@") {
				return fmt.Errorf("tls cert %s: --dns %q is not a DNS name", node, one)
			}
			req.DNS = append(req.DNS, one)
		}
	}
	certPath, keyPath, err := pki.WriteNodeCert(f.dir, req, time.Now())
	if err != nil {
		return err
	}
	caPath := filepath.Join(f.dir, pki.CACertFile)
	w := c.App.Writer
	fmt.Fprintf(w, "wrote %s and %s for %s\n", certPath, keyPath, node)
	fmt.Fprintf(w, "copy them and %s to %s (keep the key 0600) and set in its config:\n", caPath, node)
	fmt.Fprintf(w, "cluster:\n  tls:\n    ca_file: %s\n    cert_file: %s\n    key_file: %s\n",
		filepath.Join(pki.DefaultTLSDir, pki.CACertFile), filepath.Join(pki.DefaultTLSDir, filepath.Base(certPath)),
		filepath.Join(pki.DefaultTLSDir, filepath.Base(keyPath)))
	return nil
}

// clientFor returns the client of the agent the verb talks to: the TCP admin listener
// if --addr (RAFTVIP_ADDR) is set, else the socket.
func clientFor(c *cli.Context) *api.Client {
	if addr := c.String("addr"); addr != "" {
		return api.NewTCPClient(addr, c.String("token-file"))
	}
	return api.NewClient(c.String("socket"))
}

// securitySummary says how the node secures its cluster traffic, for config check.
func securitySummary(cfg *config.Config) string {
	c := cfg.Cluster
	switch {
	case c.TLS.Enabled() && c.Encrypt != nil:
		return "mutual TLS and gossip encryption"
	case c.TLS.Enabled():
		return "mutual TLS, INSECURE: gossip not encrypted"
	case c.Encrypt != nil:
		return "gossip encryption, INSECURE: raft port in plaintext"
	}
	return "INSECURE: no TLS, no gossip encryption"
}

// securityLine is status's security line: what secures the cluster traffic, and what
// was refused.
func securityLine(s api.SecurityStatus) string {
	var parts []string
	switch {
	case s.TLS && s.GossipEncrypted:
		parts = append(parts, "mutual TLS, gossip encrypted")
	case s.TLS:
		parts = append(parts, "mutual TLS, gossip NOT encrypted (insecure)")
	case s.GossipEncrypted:
		parts = append(parts, "gossip encrypted, raft port NOT secured (insecure)")
	default:
		parts = append(parts, "NONE: no TLS, no gossip encryption (insecure)")
	}
	for _, c := range []struct {
		what   string
		counts map[string]uint64
	}{{"TLS refused", s.TLSRejectsIn}, {"TLS failed to peers", s.TLSRejectsOut}, {"gossip refused", s.GossipRejects}} {
		if len(c.counts) == 0 {
			continue
		}
		reasons := make([]string, 0, len(c.counts))
		for r, n := range c.counts {
			reasons = append(reasons, fmt.Sprintf("%s %d", r, n))
		}
		slices.Sort(reasons)
		parts = append(parts, c.what+": "+strings.Join(reasons, ", "))
	}
	return strings.Join(parts, "; ")
}
