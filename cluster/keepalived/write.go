package keepalived

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/pki"
)

// Writing the converted config as commented YAML.

// printable replaces what a YAML comment cannot hold (control characters and
// other unprintable runes) with '?'.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r != ' ' && !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
}

// yamlDur writes a duration as raftvip's config does: "1s", "1.5s", "300ms".
func yamlDur(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	case d < time.Second && d%time.Millisecond == 0:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// shellWords writes argv as a shell would read it back, for comments.
func shellWords(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && !strings.ContainsAny(a, config.ShellChars+" \t\n#!{}") {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	s := strings.Join(q, " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// plainWord matches the strings written without quotes; others are double-quoted.
var plainWord = regexp.MustCompile(`^[A-Za-z/_][A-Za-z0-9_/.@%+=-]*$`)

// yamlQuote writes s as a YAML scalar that reads back as the string s.
func yamlQuote(s string) string {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null":
		return strconv.Quote(s)
	}
	if plainWord.MatchString(s) {
		return s
	}
	return strconv.Quote(s)
}

// yamlAddr writes an address or prefix: as it is for IPv4, double-quoted when it has
// colons (IPv6), so that no YAML reader takes them for anything else.
func yamlAddr(s string) string {
	if strings.Contains(s, ":") || !plainAddr.MatchString(s) {
		return strconv.Quote(s)
	}
	return s
}

var plainAddr = regexp.MustCompile(`^[0-9./]+$`)

// flowList writes a YAML flow list of strings.
func flowList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = yamlQuote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// yamlWriter builds the YAML text.
type yamlWriter struct{ b strings.Builder }

// line writes indent spaces, then key: value, and the comment after it, if any.
func (w *yamlWriter) kv(indent int, key, value, comment string) {
	s := strings.Repeat(" ", indent) + key + ":"
	if value != "" {
		s += " " + value
	}
	if comment != "" {
		s = fmt.Sprintf("%-34s # %s", s, printable(comment))
	}
	w.b.WriteString(s + "\n")
}

// comment writes text as comment lines of at most about 88 columns; first prefixes
// the first line and rest the others (after "# ").
func (w *yamlWriter) comment(indent int, first, rest, text string) {
	pad := strings.Repeat(" ", indent) + "# "
	width := max(40, 88-len(pad))
	line := first
	for _, word := range strings.Fields(printable(text)) {
		if len(line)+1+len(word) > width && strings.TrimSpace(line) != "" && line != first {
			w.b.WriteString(strings.TrimRight(pad+line, " ") + "\n")
			line = rest
		}
		if line != first && line != rest {
			line += " "
		}
		line += word
	}
	w.b.WriteString(strings.TrimRight(pad+line, " ") + "\n")
}

// raw writes one comment line as it is (a commented YAML snippet keeps its indentation).
func (w *yamlWriter) raw(indent int, text string) {
	w.b.WriteString(strings.Repeat(" ", indent) + "# " + printable(text) + "\n")
}

func (w *yamlWriter) blank() { w.b.WriteString("\n") }

// at is " (line N)" for a known keepalived line, else "".
func atLine(line int) string {
	if line <= 0 {
		return ""
	}
	return fmt.Sprintf(" (line %d)", line)
}

// render writes the config. With validate, placeholders are replaced by values Load
// accepts and the cluster is marked insecure, so that what is left to check is the
// conversion itself.
func (c *converter) render(validate bool) string {
	w := &yamlWriter{}
	c.writeHeader(w)
	c.writeNode(w, validate)
	if c.m.groupsForm {
		c.writeGroups(w)
		c.writeChecks(w)
		c.writeNotify(w)
		return w.b.String()
	}
	g := c.m.groups[0]
	c.writeVIP(w, g)
	c.writeChecks(w)
	c.writeNotify(w)
	w.blank()
	w.comment(0, "", "", fmt.Sprintf("Join keepalived's VRRP group %d as one router: the holder advertises with its effective priority, every node listens, and a keepalived master of higher priority keeps the cluster from holding. On the keepalived nodes, list every raftvip node in unicast_peer when you use unicast.", g.vrid))
	c.writeVRRP(w, 0, g)
	return w.b.String()
}

// writeHeader writes what was converted, and the lists of what was not and what is
// left to fill in, as comments.
func (c *converter) writeHeader(w *yamlWriter) {
	what := "vrrp_instance " + c.m.groups[0].instance
	if c.m.groupsForm {
		names := make([]string, len(c.m.groups))
		for i, g := range c.m.groups {
			names[i] = g.instance
		}
		what = "vrrp_instances " + strings.Join(names, ", ") + " (a group each)"
	}
	w.comment(0, "", "", fmt.Sprintf("raftvip configuration converted from %s, %s, by raftvip keepalived convert. Check it with raftvip config check FILE.", path.Base(c.file), what))
	if ph := c.placeholders(); len(ph) > 0 {
		w.comment(0, "", "", "")
		w.comment(0, "Fill in before use:", "", "")
		for _, p := range ph {
			w.comment(0, "  - ", "    ", p)
		}
	}
	if len(c.unsupported) > 0 {
		w.comment(0, "", "", "")
		w.comment(0, "", "", "Not converted: keepalived options raftvip does not need or does not support.")
		for _, it := range c.unsupported {
			w.comment(0, "  - ", "    ", it.String())
		}
	}
	if len(c.notes) > 0 {
		w.comment(0, "", "", "")
		w.comment(0, "", "", "Converted with a difference:")
		for _, it := range c.notes {
			w.comment(0, "  - ", "    ", it.String())
		}
	}
	w.blank()
}

// writeNode writes node: and cluster:.
func (c *converter) writeNode(w *yamlWriter, validate bool) {
	m := &c.m
	name, bind := m.name, m.bind
	nameC, bindC := "--name", m.bindFrom+atLine(m.bindLine)
	if name == "" {
		name, nameC = placeholderName, "FILL IN: this node's name, e.g. lb1 (--name)"
	}
	if bind == "" {
		bind, bindC = placeholderBind, "FILL IN: this node's address for Raft and gossip (--bind)"
	}
	if validate {
		if m.name == "" {
			name = "placeholder"
		}
		if m.bind == "" {
			bind = c.dummyBind().String()
		}
	}

	w.kv(0, "node", "", "")
	w.kv(2, "name", yamlQuote(name), nameC)
	w.kv(2, "bind", yamlAddr(bind), bindC)
	w.comment(2, "", "", fmt.Sprintf("data_dir %s, raft_port %d and gossip_port %d are the defaults.", config.DefaultDataDir, config.DefaultRaftPort, config.DefaultGossipPort))
	w.blank()

	w.kv(0, "cluster", "", "")
	w.comment(2, "", "", "Every voter as name=ip:port, this node included: the same list on every node. Use three or five voters; the VIP is held only while a majority of them can talk to each other.")
	peerC := "--peer"
	switch {
	case m.clusterOfOne:
		peerC = "this node alone; add the others with --peer"
	case m.witness != nil:
		peerC = "--peer and --witness: the pair and its witness"
	}
	w.kv(2, "peers", c.peerList(name, bind), peerC)
	insecure := c.opts.Insecure || validate
	certName := orDefault(m.name, "NODE")
	cert, key := pki.NodeCertFiles(certName)
	w.comment(2, "", "", fmt.Sprintf("Mutual TLS on the Raft port and gossip encryption, required unless insecure: true. Make the cluster's CA once (raftvip tls ca --dir %s), this node's certificate (raftvip tls cert %s --ip %s --dir %s) and one gossip key for every node (raftvip keygen), then set:",
		pki.DefaultTLSDir, certName, orDefault(m.bind, "ADDRESS"), pki.DefaultTLSDir))
	w.raw(2, "tls:")
	w.raw(2, "  ca_file: "+path.Join(pki.DefaultTLSDir, pki.CACertFile))
	w.raw(2, "  cert_file: "+path.Join(pki.DefaultTLSDir, cert))
	w.raw(2, "  key_file: "+path.Join(pki.DefaultTLSDir, key))
	w.raw(2, "encrypt: <base64 key from raftvip keygen>")
	if insecure {
		w.kv(2, "insecure", "true", "--insecure: no TLS, no gossip encryption; warned at every start")
	}
	w.blank()
}

// peerList is cluster.peers as a YAML flow list: this node, named name at bind, and
// every other node.
func (c *converter) peerList(name, bind string) string {
	self := name + "=" + bind + ":" + strconv.Itoa(config.DefaultRaftPort)
	if a, err := netip.ParseAddr(bind); err == nil {
		self = name + "=" + netip.AddrPortFrom(a, config.DefaultRaftPort).String()
	}
	peers := []string{self}
	for _, p := range c.m.peers {
		peers = append(peers, p.Name+"="+p.Addr.String())
	}
	for i, p := range peers {
		if strings.ContainsAny(p, "[]<>") {
			peers[i] = strconv.Quote(p)
		}
	}
	return "[" + strings.Join(peers, ", ") + "]"
}

// writeChecks writes checks:, if there are any.
func (c *converter) writeChecks(w *yamlWriter) {
	if len(c.m.checks) == 0 {
		return
	}
	w.blank()
	w.comment(0, "", "", "Checks from track_script, with keepalived's vrrp_script semantics: weight 0 puts the node in FAULT while the check fails, a negative weight is subtracted while it fails, a positive one added while it passes.")
	w.kv(0, "checks", "", "")
	for _, chk := range c.m.checks {
		for _, cm := range chk.comments {
			w.comment(2, "", "", cm)
		}
		k := chk.cfg
		w.kv(2, "- name", yamlQuote(k.Name), "")
		w.kv(4, "type", k.Type, "")
		switch k.Type {
		case config.CheckScript:
			w.kv(4, "command", flowList(k.Command), "")
		case config.CheckProcess:
			w.kv(4, "pidfile", yamlQuote(k.PIDFile), "")
		case config.CheckHAProxy:
			w.kv(4, "socket", yamlQuote(k.Socket), "")
		case config.CheckHTTP:
			w.kv(4, "url", yamlQuote(k.URL), "")
			w.kv(4, "expect_status", strconv.Itoa(k.ExpectStatus), "")
		case config.CheckTCP:
			w.kv(4, "address", yamlQuote(k.Address), "")
		}
		w.kv(4, "interval", yamlDur(k.Interval), "")
		w.kv(4, "timeout", yamlDur(k.Timeout), "")
		w.kv(4, "fall", strconv.Itoa(k.Fall), "")
		w.kv(4, "rise", strconv.Itoa(k.Rise), "")
		w.kv(4, "weight", strconv.Itoa(k.Weight), "")
	}
}

// writeNotify writes notify:, if there are hooks.
func (c *converter) writeNotify(w *yamlWriter) {
	m := &c.m
	if m.hooks.empty() {
		return
	}
	w.blank()
	if m.groupsForm {
		w.comment(0, "", "", "Hooks with keepalived's contract, for every group: master, backup, fault and stop run as written, script with INSTANCE <group> MASTER|BACKUP|FAULT|STOP <priority> appended, a group being named after its vrrp_instance. No shell: write [/bin/sh, -c, \"...\"] for one.")
	} else {
		w.comment(0, "", "", "Hooks with keepalived's contract: master, backup, fault and stop run as written, script with INSTANCE <instance> MASTER|BACKUP|FAULT|STOP <priority> appended. No shell: write [/bin/sh, -c, \"...\"] for one.")
	}
	w.kv(0, "notify", "", "")
	for i, h := range m.hooks {
		if h.st != nil {
			w.kv(2, hookKinds[i].key, flowList(h.argv), hookKinds[i].from+atLine(h.st.Line))
		}
	}
	if m.notifyInstance != "" {
		w.kv(2, "instance", yamlQuote(m.notifyInstance), "the vrrp_instance name, as keepalived passes it")
	}
}

// dummyBind is an address for node.bind that no VIP or peer has, of the VIPs'
// family, for validating a config whose bind is still a placeholder.
func (c *converter) dummyBind() netip.Addr {
	a := netip.MustParseAddr("192.0.2.1")
	if v := c.m.groups[0].vips; len(v) > 0 && v[0].Addr().Is6() {
		a = netip.MustParseAddr("2001:db8::1")
	}
	taken := func(x netip.Addr) bool {
		for _, g := range c.m.groups {
			for _, p := range g.vips {
				if p.Addr() == x {
					return true
				}
			}
		}
		for _, p := range c.m.peers {
			if p.Addr.Addr() == x {
				return true
			}
		}
		return false
	}
	for taken(a) {
		a = a.Next()
	}
	return a
}
