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
	m := &c.m
	w := &yamlWriter{}
	name, bind := m.name, m.bind
	nameC, bindC := "--name", m.bindFrom
	if c.lines["vrrp.unicast_src"] > 0 && !strings.HasPrefix(bindC, "--") {
		bindC += atLine(c.lines["vrrp.unicast_src"])
	}
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

	w.comment(0, "", "", fmt.Sprintf("raftvip configuration converted from %s, vrrp_instance %s, by raftvip keepalived convert. Check it with raftvip config check FILE.", path.Base(c.file), m.instance))
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

	w.kv(0, "node", "", "")
	w.kv(2, "name", yamlQuote(name), nameC)
	w.kv(2, "bind", yamlAddr(bind), bindC)
	w.comment(2, "", "", fmt.Sprintf("data_dir %s, raft_port %d and gossip_port %d are the defaults.", config.DefaultDataDir, config.DefaultRaftPort, config.DefaultGossipPort))
	w.blank()

	w.kv(0, "cluster", "", "")
	w.comment(2, "", "", "Every voter as name=ip:port, this node included: the same list on every node. Use three or five voters; the VIP is held only while a majority of them can talk to each other.")
	bindAddr, err := netip.ParseAddr(bind)
	self := name + "=" + bind + ":" + strconv.Itoa(config.DefaultRaftPort)
	if err == nil {
		self = name + "=" + netip.AddrPortFrom(bindAddr, config.DefaultRaftPort).String()
	}
	peers := []string{self}
	for _, p := range m.peers {
		peers = append(peers, p.Name+"="+p.Addr.String())
	}
	peerC := "--peer"
	if m.clusterOfOne {
		peerC = "this node alone; add the others with --peer"
	}
	for i, p := range peers {
		if strings.ContainsAny(p, "[]<>") {
			peers[i] = strconv.Quote(p)
		}
	}
	w.kv(2, "peers", "["+strings.Join(peers, ", ")+"]", peerC)
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

	w.kv(0, "vip", "", "")
	w.kv(2, "interface", yamlQuote(m.iface), "interface"+atLine(c.lines["vip.interface"]))
	addrs := make([]string, len(m.vips))
	for i, p := range m.vips {
		addrs[i] = yamlAddr(p.String())
	}
	w.kv(2, "addresses", "["+strings.Join(addrs, ", ")+"]", "virtual_ipaddress"+atLine(c.lines["vip.addresses"]))
	var garp []string
	if m.garpRepeat >= 0 {
		garp = append(garp, fmt.Sprintf("repeat: %d", m.garpRepeat))
	}
	if m.garpRefresh >= 0 {
		garp = append(garp, "refresh: "+yamlDur(m.garpRefresh))
	}
	if len(garp) > 0 {
		w.kv(2, "garp", "{"+strings.Join(garp, ", ")+"}", "garp_master_repeat, garp_master_refresh")
	}
	w.blank()

	if m.state != "" {
		w.comment(0, "", "", fmt.Sprintf("state %s%s: raftvip has no initial state; the cluster's Raft leader decides which node holds the VIP, and VRRP whether the cluster or a keepalived router does.", m.state, atLine(m.stateLine)))
	}
	prioC := "priority" + atLine(c.lines["priority"])
	switch {
	case m.priorityFromState:
		prioC = "keepalived's 255 for a MASTER without priority, less one"
	case c.lines["priority"] == 0:
		prioC = "keepalived's default"
	}
	w.kv(0, "priority", strconv.Itoa(m.priority), prioC)
	preemptC := "keepalived preempts by default"
	if c.lines["preempt"] > 0 {
		preemptC = map[bool]string{true: "preempt", false: "nopreempt"}[m.preempt] + atLine(c.lines["preempt"])
	}
	w.kv(0, "preempt", strconv.FormatBool(m.preempt), preemptC)
	pdC := "preempt_delay" + atLine(c.lines["preempt_delay"])
	if c.lines["preempt_delay"] == 0 {
		pdC = "keepalived's default"
	}
	w.kv(0, "preempt_delay", yamlDur(m.preemptDelay), pdC)
	w.comment(0, "", "", fmt.Sprintf("min_move_interval (default %s) lets moves for priority happen at most that often, so a flapping check cannot flap the VIP; keepalived has no such limit.", yamlDur(config.DefaultMinMoveInterval)))

	if len(m.checks) > 0 {
		w.blank()
		w.comment(0, "", "", "Checks from track_script, with keepalived's vrrp_script semantics: weight 0 puts the node in FAULT while the check fails, a negative weight is subtracted while it fails, a positive one added while it passes.")
		w.kv(0, "checks", "", "")
		for _, chk := range m.checks {
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

	if m.notifyMaster != nil || m.notifyBackup != nil || m.notifyFault != nil || m.notifyStop != nil || m.notifyScript != nil {
		w.blank()
		w.comment(0, "", "", "Hooks with keepalived's contract: master, backup, fault and stop run as written, script with INSTANCE <instance> MASTER|BACKUP|FAULT|STOP <priority> appended. No shell: write [/bin/sh, -c, \"...\"] for one.")
		w.kv(0, "notify", "", "")
		for _, h := range []struct {
			key, from string
			argv      []string
		}{
			{"master", "notify_master", m.notifyMaster}, {"backup", "notify_backup", m.notifyBackup},
			{"fault", "notify_fault", m.notifyFault}, {"stop", "notify_stop", m.notifyStop},
			{"script", "notify", m.notifyScript},
		} {
			if h.argv != nil {
				w.kv(2, h.key, flowList(h.argv), h.from+atLine(c.lines["notify."+h.key]))
			}
		}
		if m.notifyInstance != "" {
			w.kv(2, "instance", yamlQuote(m.notifyInstance), "the vrrp_instance name, as keepalived passes it")
		}
	}

	w.blank()
	w.comment(0, "", "", fmt.Sprintf("Join keepalived's VRRP group %d as one router: the holder advertises with its effective priority, every node listens, and a keepalived master of higher priority keeps the cluster from holding. On the keepalived nodes, list every raftvip node in unicast_peer when you use unicast.", m.vrid))
	w.kv(0, "vrrp", "", "")
	w.kv(2, "enabled", "true", "")
	verC := "keepalived's default"
	switch {
	case m.versionFromGlobal:
		verC = "vrrp_version in global_defs" + atLine(c.lines["vrrp.version"])
	case c.lines["vrrp.version"] > 0:
		verC = "version" + atLine(c.lines["vrrp.version"])
	}
	if len(m.vips) > 0 && m.vips[0].Addr().Is6() {
		verC = "IPv6 VIPs: VRRPv3"
	}
	w.kv(2, "version", strconv.Itoa(m.version), verC)
	w.kv(2, "vrid", strconv.Itoa(m.vrid), "virtual_router_id"+atLine(c.lines["vrrp.vrid"]))
	ivC := "advert_int" + atLine(c.lines["vrrp.advert_interval"])
	if c.lines["vrrp.advert_interval"] == 0 {
		ivC = "keepalived's default advert_int"
	}
	w.kv(2, "advert_interval", yamlDur(m.interval), ivC)
	if m.authPass != "" {
		w.kv(2, "auth_pass", yamlQuote(m.authPass), "authentication { auth_type PASS }"+atLine(c.lines["vrrp.auth_pass"]))
	}
	if m.unicastSrc.IsValid() {
		w.kv(2, "unicast_src", yamlAddr(m.unicastSrc.String()), m.unicastSrcFrom+atLine(c.lines["vrrp.unicast_src"]))
	}
	if len(m.unicastPeers) > 0 {
		ps := make([]string, len(m.unicastPeers))
		for i, p := range m.unicastPeers {
			ps[i] = yamlAddr(p.String())
		}
		w.kv(2, "unicast_peers", "["+strings.Join(ps, ", ")+"]", "unicast_peer"+atLine(c.lines["vrrp.unicast_peers"]))
	}
	if m.vrrpIface != "" {
		w.kv(2, "interface", yamlQuote(m.vrrpIface), "interface"+atLine(c.lines["vrrp.interface"]))
	}
	return w.b.String()
}

// dummyBind is an address for node.bind that no VIP or peer has, of the VIPs'
// family, for validating a config whose bind is still a placeholder.
func (c *converter) dummyBind() netip.Addr {
	a := netip.MustParseAddr("192.0.2.1")
	if len(c.m.vips) > 0 && c.m.vips[0].Addr().Is6() {
		a = netip.MustParseAddr("2001:db8::1")
	}
	taken := func(x netip.Addr) bool {
		for _, p := range c.m.vips {
			if p.Addr() == x {
				return true
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
