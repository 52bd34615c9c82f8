package keepalived

import (
	"errors"
	"fmt"
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/raftvip/raftvip/cluster/config"
)

// Checks from vrrp_script and track_script, and the commands that map onto a check
// type other than script.

// script is a vrrp_script, read once however many instances track it.
type script struct {
	st         *Statement
	read       bool               // read already: the rest is set
	failed     bool               // it has an error, recorded
	cfg        config.CheckConfig // Interval, Timeout, Weight, Rise and Fall
	timeoutSet bool
	reverse    bool
	argv       []string // nil: it has no script
}

// readScript reads s's block, once: what is not converted is listed, and an error recorded,
// the first time only.
func (c *converter) readScript(s *script) {
	if s.read {
		return
	}
	s.read = true
	s.cfg = config.CheckConfig{Interval: config.DefaultCheckInterval, Fall: 1, Rise: 1}
	for _, st := range s.st.Block {
		if !c.scriptOption(s, st) {
			s.failed = true
			return
		}
	}
}

// scriptOption converts one option of a vrrp_script; false on an error that stops it.
func (c *converter) scriptOption(s *script, st *Statement) bool {
	switch st.Keyword() {
	case "script":
		a, ok := c.command(st)
		if !ok {
			return false
		}
		s.argv = a
	case "interval":
		if d, ok := c.secondsArg(st, 0, 24*time.Hour, "interval is seconds, more than 0"); ok {
			if d == 0 {
				d = time.Second // keepalived's reading of 0
			}
			if d < config.MinCheckInterval {
				c.note(st.Line, optionText(st), fmt.Sprintf("raftvip checks at most every %s; converted to %s", config.MinCheckInterval, config.MinCheckInterval))
				d = config.MinCheckInterval
			}
			s.cfg.Interval = d
		}
	case "timeout":
		if d, ok := c.secondsArg(st, 0, 24*time.Hour, "timeout is seconds, more than 0"); ok {
			if d == 0 {
				d = time.Second // keepalived's reading of 0
			}
			s.cfg.Timeout, s.timeoutSet = d, true
		}
	case "weight":
		if len(st.Args()) == 0 || len(st.Args()) > 2 {
			c.fail(st.Line, "weight", "write weight N [reverse], N from -253 to 253")
			return false
		}
		v, err := strconv.Atoi(st.Args()[0])
		if err != nil || v < -253 || v > 253 {
			c.fail(st.Line, "weight", "%q is not a weight from -253 to 253", st.Args()[0])
			return false
		}
		s.cfg.Weight = v
		if len(st.Args()) == 2 {
			if st.Args()[1] != "reverse" {
				c.fail(st.Line, "weight", "%q is not reverse", st.Args()[1])
				return false
			}
			s.reverse = true
		}
	case "rise", "fall":
		v, ok := c.intArg(st, 1, math.MaxInt32, st.Keyword()+" is 1 or more")
		if !ok {
			return true
		}
		if v > 255 {
			c.note(st.Line, optionText(st), "raftvip counts at most 255 results in a row; converted to 255")
			v = 255
		}
		if st.Keyword() == "rise" {
			s.cfg.Rise = v
		} else {
			s.cfg.Fall = v
		}
	case "user":
		c.skip(st, notSupported+"raftvip runs checks as its own user; to run it as "+strings.Join(st.Args(), ":")+", put runuser -u USER -- in front of the command")
	case "init_fail":
		c.skip(st, notNeeded+"a raftvip check counts as failing until its first result")
	default:
		c.skip(st, notSupported+"a vrrp_script takes script, interval, timeout, weight, rise, fall, user and init_fail")
	}
	return true
}

// trackScript converts one line of track_script of the instance of g into the check
// g tracks. A vrrp_script that several instances track with the same weight is one
// check that each of their groups tracks; with another weight it is another check.
func (c *converter) trackScript(e *Statement, g *group, tracked map[string]bool) {
	name := e.Keyword()
	s, ok := c.scripts[name]
	if !ok {
		c.skip(e, "not converted: there is no vrrp_script "+name+" (keepalived ignores the line too)")
		return
	}
	if tracked[name] {
		c.skip(e, "not converted: tracked twice (keepalived ignores the second)")
		return
	}
	tracked[name] = true
	c.trackedScripts[name] = true
	c.readScript(s)
	if s.failed {
		return
	}
	if s.argv == nil {
		c.skip(e, "not converted: vrrp_script "+name+" has no script, so keepalived removes it")
		return
	}
	chk := convCheck{cfg: s.cfg, script: name, line: s.st.Line}
	reverse := s.reverse
	// track_script NAME [weight N [reverse|noreverse]] overrides the script's weight.
	if args := e.Args(); len(args) > 0 {
		if args[0] != "weight" || len(args) < 2 || len(args) > 3 {
			c.fail(e.Line, "track_script", "write NAME [weight N [reverse|noreverse]]")
			return
		}
		v, err := strconv.Atoi(args[1])
		if err != nil || v < -254 || v > 254 {
			c.fail(e.Line, "track_script", "%q is not a weight from -253 to 253", args[1])
			return
		}
		chk.cfg.Weight = max(-253, min(253, v))
		if len(args) == 3 {
			switch args[2] {
			case "reverse":
				reverse = true
			case "noreverse":
				reverse = false
			default:
				c.fail(e.Line, "track_script", "%q is not reverse or noreverse", args[2])
				return
			}
		}
		chk.comments = append(chk.comments, fmt.Sprintf("weight %d from track_script (line %d)", chk.cfg.Weight, e.Line))
	}
	if reverse {
		c.skip(e, notSupported+"raftvip has no reverse checks (they count a failing script as passing); the check "+name+" is not converted: write a script that succeeds when this one fails")
		return
	}
	if !s.timeoutSet {
		chk.cfg.Timeout = chk.cfg.Interval
	}
	var other *convCheck // a check converted from the same vrrp_script
	for i := range c.m.checks {
		if k := &c.m.checks[i]; k.script == name {
			if k.cfg.Weight == chk.cfg.Weight {
				g.track = append(g.track, k.cfg.Name)
				return
			}
			other = k
		}
	}
	chk.cfg.Name = validName(name, "check", c.checkNames)
	c.checkNames[chk.cfg.Name] = true
	if chk.cfg.Name != name {
		chk.comments = append(chk.comments, fmt.Sprintf("named %s: a check name uses letters, digits, - _ . and at most 32 of them", chk.cfg.Name))
	}
	if other != nil {
		c.note(e.Line, optionText(e), fmt.Sprintf("vrrp_instance %s tracks vrrp_script %s with weight %d, another instance with %d: converted as a check of its own, %s, as a raftvip check has one weight (the script runs for each)",
			g.instance, name, chk.cfg.Weight, other.cfg.Weight, chk.cfg.Name))
	}
	desc := fmt.Sprintf("vrrp_script %s (line %d): %s", name, s.st.Line, shellWords(s.argv))
	chk.comments = append([]string{desc}, chk.comments...)
	c.recognize(&chk, s.argv, s.st.Line, "vrrp_script "+name)
	c.lines[fmt.Sprintf("checks[%d]", len(c.m.checks))] = s.st.Line
	c.m.checks = append(c.m.checks, chk)
	g.track = append(g.track, chk.cfg.Name)
}

// validName makes a valid, unused name of s for a check, a group or a together set,
// which raftvip names alike: letters, digits, '-', '_' and '.', at most 32 of them.
// Every other byte becomes '_'; an empty s becomes fallback.
func validName(s, fallback string, used map[string]bool) string {
	b := []byte(s)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.') {
			b[i] = '_'
		}
	}
	name := string(b)
	if name == "" {
		name = fallback
	}
	if len(name) > 32 {
		name = name[:32]
	}
	base := name
	for i := 2; used[name]; i++ {
		suffix := fmt.Sprintf("-%d", i)
		name = base[:min(len(base), 32-len(suffix))] + suffix
	}
	return name
}

// The commands that recognize maps onto other check types.
var (
	// kill -0 $(cat /run/haproxy.pid), or with backquotes, in sh -c.
	killPidfile = regexp.MustCompile("^\\s*(?:/usr)?(?:/s?bin/)?kill\\s+-0\\s+\"?(?:\\$\\(\\s*(?:/usr)?(?:/bin/)?cat\\s+(/[^\\s)\"`$;&|<>]+)\\s*\\)|`\\s*(?:/usr)?(?:/bin/)?cat\\s+(/[^\\s)\"`$;&|<>]+)\\s*`)\"?\\s*(?:(?:>|1>|2>|&>)\\s*/dev/null\\s*|2>&1\\s*)*$")
	shells      = []string{"sh", "bash", "dash"}
)

// recognize turns the checks whose command has a faithful equivalent among the check
// types into that type; the others run the command as a script check.
func (c *converter) recognize(chk *convCheck, argv []string, line int, script string) {
	chk.cfg.Type, chk.cfg.Command = config.CheckScript, argv
	prog := path.Base(argv[0])
	if slices.Contains(shells, prog) && len(argv) == 3 && argv[1] == "-c" {
		if m := killPidfile.FindStringSubmatch(argv[2]); m != nil {
			pidfile := m[1] + m[2]
			chk.cfg.Type, chk.cfg.Command, chk.cfg.PIDFile = config.CheckProcess, nil, pidfile
			chk.comments = append(chk.comments, "as type process: the same signal 0 to the first pid in "+pidfile+" (and a zombie counts as dead)")
			c.note(line, script, "converted to a check of type process on "+pidfile)
			return
		}
		if !strings.ContainsAny(argv[2], config.ShellChars) {
			argv = strings.Fields(argv[2])
			if len(argv) == 0 {
				return
			}
			prog = path.Base(argv[0])
		}
	}
	switch {
	case haproxyPresence(prog, argv[1:]):
		if c.opts.HAProxySocket != "" {
			chk.cfg.Type, chk.cfg.Command, chk.cfg.Socket = config.CheckHAProxy, nil, c.opts.HAProxySocket
			chk.comments = append(chk.comments, "as type haproxy on "+c.opts.HAProxySocket+" (--haproxy-socket): it asks HAProxy itself, where "+argv[0]+" only saw that a process exists")
			c.note(line, script, "converted to a check of type haproxy on "+c.opts.HAProxySocket+" (--haproxy-socket)")
			return
		}
		chk.comments = append(chk.comments, "This only sees that a haproxy process exists. A check of type haproxy asks HAProxy itself on its stats socket: convert with --haproxy-socket /run/haproxy/admin.sock (the path of 'stats socket' in haproxy.cfg).")
	case prog == "curl":
		if url, timeout, ok := curlCheck(argv[1:]); ok {
			chk.cfg.Type, chk.cfg.Command, chk.cfg.URL, chk.cfg.ExpectStatus = config.CheckHTTP, nil, url, config.DefaultExpectStatus
			if timeout > 0 && timeout < chk.cfg.Timeout {
				chk.cfg.Timeout = timeout
			}
			chk.comments = append(chk.comments, "as type http: curl -f passed on any status below 400, this check on 200 only (expect_status)")
			c.note(line, script, "converted to a check of type http on "+url+"; it passes on status 200 only, curl -f on any status below 400")
		}
	case prog == "nc" || prog == "ncat" || prog == "netcat":
		if addr, timeout, ok := netcatCheck(argv[1:]); ok {
			chk.cfg.Type, chk.cfg.Command, chk.cfg.Address = config.CheckTCP, nil, addr
			if timeout > 0 && timeout < chk.cfg.Timeout {
				chk.cfg.Timeout = timeout
			}
			chk.comments = append(chk.comments, "as type tcp: the same connect to "+addr)
			c.note(line, script, "converted to a check of type tcp on "+addr)
		}
	}
}

// haproxyPresence reports whether prog args only asks whether a haproxy process
// (or unit) exists.
func haproxyPresence(prog string, args []string) bool {
	var rest []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
		}
	}
	onlyFlags := func(allowed ...string) bool {
		for _, a := range args {
			if strings.HasPrefix(a, "-") && !slices.Contains(allowed, a) {
				return false
			}
		}
		return true
	}
	switch prog {
	case "killall":
		return len(rest) == 1 && rest[0] == "haproxy" && slices.Contains(args, "-0") && onlyFlags("-0", "-q")
	case "pidof":
		return len(rest) == 1 && rest[0] == "haproxy" && onlyFlags("-s", "-x")
	case "pgrep":
		return len(rest) == 1 && rest[0] == "haproxy" && onlyFlags("-x")
	case "systemctl":
		return len(rest) == 2 && rest[0] == "is-active" && (rest[1] == "haproxy" || rest[1] == "haproxy.service") && onlyFlags("-q", "--quiet")
	}
	return false
}

// curlCheck recognizes curl -f URL with options that do not change what passes: -s,
// -S, -o /dev/null, -m/--max-time. It returns the URL and the --max-time.
func curlCheck(args []string) (string, time.Duration, bool) {
	var url string
	var timeout time.Duration
	fail := false
	// flag handles one option; value is the argument after it, if any. It returns
	// whether the option took that value, and false in ok for an option that changes
	// what passes.
	flag := func(opt string, value *string) (took, ok bool) {
		switch opt {
		case "-f", "--fail":
			fail = true
		case "-s", "--silent", "-S", "--show-error":
		case "-o", "--output":
			return true, value != nil && *value == "/dev/null"
		case "-m", "--max-time":
			if value == nil {
				return true, false
			}
			f, err := strconv.ParseFloat(*value, 64)
			if err != nil || f <= 0 || f > 3600 {
				return true, false
			}
			timeout = time.Duration(f * float64(time.Second))
			return true, true
		default:
			return false, false
		}
		return false, true
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		var value *string
		if i+1 < len(args) {
			value = &args[i+1]
		}
		switch {
		case strings.HasPrefix(a, "--"):
			took, ok := flag(a, value)
			if !ok {
				return "", 0, false
			}
			if took {
				i++
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				v := value
				if j < len(a)-1 {
					v = nil // only the last option of a cluster takes a value
				}
				took, ok := flag("-"+a[j:j+1], v)
				if !ok {
					return "", 0, false
				}
				if took {
					i++
				}
			}
		default:
			if url != "" {
				return "", 0, false
			}
			url = a
		}
	}
	if !fail || url == "" || config.URLProblem(url) != "" {
		return "", 0, false
	}
	return url, timeout, true
}

// netcatCheck recognizes nc -z HOST PORT, with -v, -n and -w SECONDS. It returns
// host:port and the -w timeout.
func netcatCheck(args []string) (string, time.Duration, bool) {
	var pos []string
	var timeout time.Duration
	zero := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-w":
			if i+1 >= len(args) {
				return "", 0, false
			}
			f, err := strconv.ParseFloat(args[i+1], 64)
			if err != nil || f <= 0 || f > 3600 {
				return "", 0, false
			}
			timeout = time.Duration(f * float64(time.Second))
			i++
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for _, ch := range a[1:] {
				switch ch {
				case 'z':
					zero = true
				case 'v', 'n':
				default:
					return "", 0, false
				}
			}
		default:
			pos = append(pos, a)
		}
	}
	if !zero || len(pos) != 2 {
		return "", 0, false
	}
	addr := pos[0] + ":" + pos[1]
	if strings.Contains(pos[0], ":") {
		addr = "[" + pos[0] + "]:" + pos[1]
	}
	if config.HostPortProblem(addr, "127.0.0.1:443") != "" {
		return "", 0, false
	}
	return addr, timeout, true
}

// command splits the command of a script or notify* statement as keepalived does:
// the statement's text split with quotes, its second word split again with quotes
// and escapes into the argv. Words after the command are a user (and group) to run
// it as, which raftvip does not support.
func (c *converter) command(st *Statement) ([]string, bool) {
	words, err := quotedSplit(st.Raw, false)
	if err != nil || len(words) < 2 {
		if err == nil {
			err = errors.New("no command")
		}
		c.fail(st.Line, st.Keyword(), "cannot read the command: %v; write it in double quotes, e.g. %s \"/usr/local/bin/check --quick\"", err, st.Keyword())
		return nil, false
	}
	argv, err := quotedSplit(words[1], true)
	if err != nil || len(argv) == 0 || argv[0] == "" {
		if err == nil {
			err = errors.New("empty command")
		}
		c.fail(st.Line, st.Keyword(), "cannot read the command: %v", err)
		return nil, false
	}
	if strings.Contains(words[1], `\`) {
		c.note(st.Line, st.Keyword(), "has backslashes, which keepalived before 2.3.2 decoded twice: check that the arguments are "+shellWords(argv))
	}
	if len(words) > 2 {
		c.unsupported = append(c.unsupported, Item{Line: st.Line, Option: st.Keyword() + " ... " + strings.Join(words[2:], " "),
			Why: notSupported + "raftvip runs commands as its own user; put runuser -u USER -- in front of the command to run it as another (unquoted words after the command are keepalived's user and group)"})
	}
	return argv, true
}
