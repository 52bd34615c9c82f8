package keepalived

import (
	"fmt"
	"path"

	"github.com/raftvip/raftvip/cluster/pki"
)

// witnessYAML is the config file of the pair's witness (--witness): node with role:
// witness, and cluster with the same peers and security as this node's. A witness
// needs nothing else: no VIP, no checks, no HAProxy.
func (c *converter) witnessYAML() string {
	m := &c.m
	wn := m.witness
	name, bind := orDefault(m.name, placeholderName), orDefault(m.bind, placeholderBind)
	w := &yamlWriter{}
	w.comment(0, "", "", fmt.Sprintf("raftvip config of %s, the witness of this pair: a voter that never holds a VIP and needs no HAProxy (docs/witness.md). Write it to /etc/raftvip/raftvip.yaml on %s and start raftvip there (systemctl enable --now raftvip).",
		wn.Name, wn.Addr.Addr()))
	w.kv(0, "node", "", "")
	w.kv(2, "name", yamlQuote(wn.Name), "")
	w.kv(2, "role", "witness", "")
	w.kv(2, "bind", yamlAddr(wn.Addr.Addr().String()), "")
	if wn.Addr.Port() != 7300 {
		w.kv(2, "raft_port", fmt.Sprint(wn.Addr.Port()), "")
		w.kv(2, "gossip_port", fmt.Sprint(wn.Addr.Port()+1), "the load balancers reach it at their own gossip port: give them the same ports")
	}
	w.kv(0, "cluster", "", "")
	w.kv(2, "peers", c.peerList(name, bind), "the same list as on the load balancers")
	if c.opts.Insecure {
		w.kv(2, "insecure", "true", "--insecure: no TLS, no gossip encryption; warned at every start")
		return w.b.String()
	}
	cert, key := pki.NodeCertFiles(wn.Name)
	w.comment(2, "", "", fmt.Sprintf("Its certificate from the pair's CA (raftvip tls cert %s --ip %s --dir %s) and the pair's gossip key:",
		wn.Name, wn.Addr.Addr(), pki.DefaultTLSDir))
	w.raw(2, "tls:")
	w.raw(2, "  ca_file: "+path.Join(pki.DefaultTLSDir, pki.CACertFile))
	w.raw(2, "  cert_file: "+path.Join(pki.DefaultTLSDir, cert))
	w.raw(2, "  key_file: "+path.Join(pki.DefaultTLSDir, key))
	w.raw(2, "encrypt: <the same key as the load balancers'>")
	return w.b.String()
}
