package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// checkType is one check type with the keys only it takes.
type checkType struct {
	name    string
	keys    []string // keys only this type takes; keys[0] is required
	need    string   // what keys[0] is
	example string   // keys[0], set
}

// checkTypes is every check type, in the order the docs list them.
func checkTypes() []checkType {
	return []checkType{
		{CheckHAProxy, []string{"socket", "backend", "min_up"}, "the HAProxy stats socket", "socket: /run/haproxy/admin.sock (the path of 'stats socket' in haproxy.cfg)"},
		{CheckHTTP, []string{"url", "expect_status"}, "the URL to GET", "url: http://127.0.0.1:8080/health"},
		{CheckTCP, []string{"address"}, "the address to connect to", "address: 127.0.0.1:443"},
		{CheckScript, []string{"command"}, "the command to run", "command: [/usr/local/bin/check-web, --quick]"},
		{CheckProcess, []string{"pidfile"}, "the pid file of the process", "pidfile: /run/haproxy.pid"},
	}
}

// checkCommonKeys are the keys every check takes.
func checkCommonKeys() []string {
	return []string{"name", "type", "interval", "timeout", "fall", "rise", "weight"}
}

// checkKeys is every key a check item can have.
func checkKeys() []string {
	keys := checkCommonKeys()
	for _, t := range checkTypes() {
		keys = append(keys, t.keys...)
	}
	return keys
}

func (d *decoder) checks(path string, n *yaml.Node, cfg *Config) {
	items, ok := d.seq(path, n, "[{name: haproxy, type: haproxy, socket: /run/haproxy/admin.sock}]")
	if !ok {
		return
	}
	names := map[string]string{} // check name -> path of the first check with it
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = it.Line
		c, ok := d.check(p, it)
		if !ok {
			continue
		}
		if c.Name != "" {
			if first, dup := names[c.Name]; dup {
				np := p + ".name"
				d.add(d.at(np), np, "%s is used twice (also %s on line %d); every check needs its own name", c.Name, first, d.at(first+".name"))
				continue
			}
			names[c.Name] = p
		}
		cfg.Checks = append(cfg.Checks, c)
	}
}

// check decodes one item of checks. It returns false if the item is not a mapping.
func (d *decoder) check(path string, n *yaml.Node) (CheckConfig, bool) {
	c := CheckConfig{Interval: DefaultCheckInterval, Fall: 1, Rise: 1}
	if isNull(resolve(n)) {
		d.add(n.Line, path, "is empty; a check needs at least a name and a type, e.g. {name: haproxy, type: haproxy, socket: /run/haproxy/admin.sock}")
		return c, false
	}
	timeoutSet := false
	fields := []keyField{
		{"name", func(p string, v *yaml.Node) {
			d.validString(p, v, "a name for the check, e.g. haproxy", checkNameProblem, &c.Name)
		}},
		{"type", func(p string, v *yaml.Node) { d.enum(p, v, &c.Type, checkTypeNames()...) }},
		{"interval", func(p string, v *yaml.Node) {
			var iv time.Duration
			if !d.duration(p, v, &iv) {
				return
			}
			if iv < MinCheckInterval {
				d.add(v.Line, p, "%s is below %s; use %s or more (default %s)", iv, MinCheckInterval, MinCheckInterval, DefaultCheckInterval)
				return
			}
			c.Interval = iv
		}},
		{"timeout", func(p string, v *yaml.Node) {
			var to time.Duration
			if !d.duration(p, v, &to) {
				return
			}
			if to <= 0 {
				d.add(v.Line, p, "%s must be greater than 0; a probe that has not answered by then fails (default: the check's interval)", to)
				return
			}
			c.Timeout, timeoutSet = to, true
		}},
		{"fall", func(p string, v *yaml.Node) {
			d.integer(p, v, 1, 255, "fall is 1 to 255 failures in a row before the check counts as failing (default 1)", &c.Fall)
		}},
		{"rise", func(p string, v *yaml.Node) {
			d.integer(p, v, 1, 255, "rise is 1 to 255 passes in a row before a failing check counts as passing again (default 1)", &c.Rise)
		}},
		{"weight", func(p string, v *yaml.Node) {
			d.integer(p, v, -253, 253, "use -253..253 (keepalived's range)", &c.Weight)
		}},
		{"socket", func(p string, v *yaml.Node) {
			d.validString(p, v, "the HAProxy stats socket, e.g. /run/haproxy/admin.sock", statsSocketProblem, &c.Socket)
		}},
		{"backend", func(p string, v *yaml.Node) {
			d.validString(p, v, "the name of a backend in haproxy.cfg, e.g. web", backendProblem, &c.Backend)
		}},
		{"min_up", func(p string, v *yaml.Node) {
			d.integer(p, v, 1, 10000, "min_up is 1 to 10000 servers of the backend that must be UP (default 1)", &c.MinUp)
		}},
		{"url", func(p string, v *yaml.Node) {
			d.validString(p, v, "a URL such as http://127.0.0.1:8080/health", URLProblem, &c.URL)
		}},
		{"expect_status", func(p string, v *yaml.Node) {
			d.integer(p, v, 100, 599, "an HTTP status is 100 to 599 (default 200)", &c.ExpectStatus)
		}},
		{"address", func(p string, v *yaml.Node) {
			d.validString(p, v, "host:port, e.g. 127.0.0.1:443", func(s string) string { return HostPortProblem(s, "127.0.0.1:443") }, &c.Address)
		}},
		{"command", func(p string, v *yaml.Node) {
			if isNull(resolve(v)) {
				d.add(v.Line, p, "has no value; expected the command to run, e.g. [/usr/local/bin/check-web, --quick]")
				return
			}
			d.argv(p, v, "[/usr/local/bin/check-web, --quick]", &c.Command)
		}},
		{"pidfile", func(p string, v *yaml.Node) {
			s, ok := d.scalar(p, v, "the path of a pid file, e.g. /run/haproxy.pid")
			switch {
			case !ok:
			case !filepath.IsAbs(s):
				d.add(v.Line, p, "%q is not an absolute path; use a path starting with /, e.g. /run/haproxy.pid", s)
			case strings.HasSuffix(s, "/"):
				d.add(v.Line, p, "%q names a directory; name the pid file, e.g. %shaproxy.pid", s, s)
			default:
				c.PIDFile = s
			}
		}},
	}
	var set []string // keys set, in file order
	for i := range fields {
		key, decode := fields[i].key, fields[i].decode
		fields[i].decode = func(p string, v *yaml.Node) {
			set = append(set, key)
			decode(p, v)
		}
	}
	if !d.mapping(path, n, fields) {
		return c, false
	}
	has := func(key string) bool { return slices.Contains(set, key) }

	if !has("name") && !d.suggested[path+".name"] {
		d.add(d.at(path), path+".name", "missing; name the check, e.g. name: haproxy (names are unique; status and the logs show them)")
	}
	if !has("type") && !d.suggested[path+".type"] {
		d.add(d.at(path), path+".type", "missing; set the check's type: %s", orList(checkTypeNames()))
	}
	var typ checkType
	for _, t := range checkTypes() {
		if t.name == c.Type {
			typ = t
		}
	}
	if typ.name == "" {
		return c, true // no type, or a wrong one: reported above
	}
	common := checkCommonKeys()
	for _, key := range set {
		if slices.Contains(common, key) || slices.Contains(typ.keys, key) {
			continue
		}
		owner := ""
		for _, t := range checkTypes() {
			if slices.Contains(t.keys, key) {
				owner = t.name
			}
		}
		p := path + "." + key
		d.drop(p) // whatever is wrong with its value, it should not be there at all
		d.add(d.at(p), p, "does not apply to %s check (%s is for %s checks); %s check takes %s, besides %s",
			checkArticle(typ.name), key, owner, checkArticle(typ.name), andList(typ.keys), andList(common))
	}
	if req := typ.keys[0]; !has(req) && !d.suggested[path+"."+req] {
		d.add(d.at(path), path+"."+req, "missing; %s check needs %s, e.g. %s", checkArticle(typ.name), typ.need, typ.example)
	}
	if has("min_up") && !has("backend") && typ.name == CheckHAProxy && !d.suggested[path+".backend"] {
		p := path + ".min_up"
		d.add(d.at(p), p, "needs backend; min_up counts the UP servers of a backend: set backend (e.g. backend: web) or remove min_up")
	}

	if !timeoutSet {
		c.Timeout = c.Interval
	}
	if c.Backend != "" && c.MinUp == 0 {
		c.MinUp = 1
	}
	if typ.name == CheckHTTP && c.ExpectStatus == 0 {
		c.ExpectStatus = DefaultExpectStatus
	}
	return c, true
}

// checkArticle is a check type with its article: "a tcp", "an http".
func checkArticle(typ string) string {
	if typ == CheckHTTP {
		return "an " + typ
	}
	return "a " + typ
}

func checkTypeNames() []string {
	var names []string
	for _, t := range checkTypes() {
		names = append(names, t.name)
	}
	return names
}

// checkNameProblem says what is wrong with a check name, or "" if nothing.
func checkNameProblem(s string) string {
	return nameProblem(s, "check", "haproxy", "every node gossips its checks' names")
}

// statsSocketProblem says what is wrong with an HAProxy stats socket address,
// or "" if nothing.
func statsSocketProblem(s string) string {
	const eg = "use the address of 'stats socket' in haproxy.cfg: its path, e.g. /run/haproxy/admin.sock, or host:port for a TCP stats socket, e.g. 127.0.0.1:9999"
	if pre, rest, ok := strings.Cut(s, "@"); ok && slices.Contains([]string{"unix", "ipv4", "ipv6", "abns"}, pre) {
		if pre == "abns" {
			return fmt.Sprintf("%q is an abstract unix socket, which this check cannot reach; %s", s, eg)
		}
		return fmt.Sprintf("%q has HAProxy's %s@ prefix; write the address without it (%s)", s, pre, rest)
	}
	const sunPath = 107 // sizeof(sockaddr_un.sun_path) - 1 on Linux
	switch {
	case s == "":
		return "is empty; " + eg
	case strings.HasPrefix(s, "/") && strings.HasSuffix(s, "/"):
		return fmt.Sprintf("%q names a directory; %s", s, eg)
	case strings.HasPrefix(s, "/") && len(s) > sunPath:
		return fmt.Sprintf("path is %d bytes, longer than a unix socket path can be (%d)", len(s), sunPath)
	case strings.HasPrefix(s, "/"):
		return ""
	case strings.Contains(s, "/") || strings.HasSuffix(s, ".sock"):
		return fmt.Sprintf("%q is not an absolute path; %s", s, eg)
	}
	if msg := HostPortProblem(s, "127.0.0.1:9999"); msg != "" {
		return fmt.Sprintf("%q is neither an absolute unix socket path nor host:port; %s", s, eg)
	}
	return ""
}

// HostPortProblem says what is wrong with host:port, or "" if nothing. The host
// may be a name: it is resolved when the check runs.
func HostPortProblem(s, eg string) string {
	host, port, err := net.SplitHostPort(s)
	switch {
	case err != nil && strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "["):
		return fmt.Sprintf("%q: write an IPv6 address in brackets, e.g. [2001:db8::1]:443", s)
	case err != nil && !strings.Contains(s, ":"):
		return fmt.Sprintf("%q has no port; write host:port, e.g. %s", s, eg)
	case err != nil:
		return fmt.Sprintf("%q is not host:port; write e.g. %s", s, eg)
	case host == "":
		return fmt.Sprintf("%q has no host; write host:port, e.g. %s", s, eg)
	case strings.ContainsFunc(host, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '/' }):
		return fmt.Sprintf("%q: %q is not a host; write host:port, e.g. %s", s, host, eg)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Sprintf("%q: port %q is not a port; a port is 1 to 65535", s, port)
	}
	return ""
}

// backendProblem says what is wrong with an HAProxy backend name, or "" if nothing.
func backendProblem(s string) string {
	if s == "" {
		return "is empty; name a backend of haproxy.cfg, e.g. web, or remove the line to check HAProxy alone"
	}
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.:", r)) {
			return fmt.Sprintf("%q contains %q; HAProxy names use only letters, digits, '-', '_', '.' and ':'", s, r)
		}
	}
	return ""
}

// URLProblem says what is wrong with the URL of an http check, or "" if nothing.
func URLProblem(s string) string {
	const eg = "http://127.0.0.1:8080/health"
	if !strings.Contains(s, "://") {
		return fmt.Sprintf("%q has no scheme; write http:// or https:// in front, e.g. %s", s, eg)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("%q is not a URL (%v); write e.g. %s", s, errors.Unwrap(err), eg)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q: %s:// is not http:// or https://; the http check GETs an http or https URL, e.g. %s", s, u.Scheme, eg)
	case u.Hostname() == "":
		return fmt.Sprintf("%q has no host; write e.g. %s", s, eg)
	}
	if port := u.Port(); port != "" {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Sprintf("%q: port %s is not a port; a port is 1 to 65535", s, port)
		}
	}
	return ""
}
