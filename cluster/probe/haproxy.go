package probe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// maxHAProxyReply bounds what the haproxy check reads from the stats socket for one
// command. `show stat` is about 1.5 KiB per server; this is ample for thousands.
const maxHAProxyReply = 16 << 20

// haproxyProber is the haproxy check: the stats socket answers `show info` and, when
// a backend is named, `show stat` shows at least minUp of its servers UP.
type haproxyProber struct {
	socket  string // unix path (starts with "/") or host:port
	backend string // "" = only show info
	minUp   int
}

// Probe runs `show info` and, with a backend, `show stat` on the stats socket.
func (p haproxyProber) Probe(ctx context.Context) (string, error) {
	reply, err := haproxyCommand(ctx, p.socket, "show info")
	if err != nil {
		return "", err
	}
	info, err := parseHAProxyInfo(reply)
	if err != nil {
		return "", fmt.Errorf("haproxy: show info on %s: %w", p.socket, err)
	}
	if p.backend == "" {
		return fmt.Sprintf("%s %s up", info.Name, info.Version), nil
	}
	reply, err = haproxyCommand(ctx, p.socket, "show stat")
	if err != nil {
		return "", err
	}
	rows, err := parseHAProxyStat(reply)
	if err != nil {
		return "", fmt.Errorf("haproxy: show stat on %s: %w", p.socket, err)
	}
	b := summarizeBackend(rows, p.backend)
	if !b.Found {
		return "", fmt.Errorf("haproxy: backend %s not found in show stat on %s", p.backend, p.socket)
	}
	counts := fmt.Sprintf("backend %s %d/%d servers UP (need %d)", p.backend, b.Up, b.Servers, p.minUp)
	if b.Up < p.minUp {
		return "", fmt.Errorf("haproxy: %s", counts)
	}
	return fmt.Sprintf("%s %s: %s", info.Name, info.Version, counts), nil
}

// haproxyCommand sends one command to the stats socket at addr (a unix path if it
// starts with "/", else TCP host:port) and reads the reply until HAProxy closes the
// connection, as it does after one command in non-interactive mode.
func haproxyCommand(ctx context.Context, addr, cmd string) ([]byte, error) {
	network := "tcp"
	if strings.HasPrefix(addr, "/") {
		network = "unix"
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("haproxy: %s on %s: %w", cmd, addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	// A cancelled ctx (no deadline, or cancelled early) unblocks the read too.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return nil, fmt.Errorf("haproxy: %s on %s: %w", cmd, addr, err)
	}
	reply, err := io.ReadAll(io.LimitReader(conn, maxHAProxyReply+1))
	if err != nil {
		return nil, fmt.Errorf("haproxy: %s on %s: %w", cmd, addr, err)
	}
	if len(reply) > maxHAProxyReply {
		return nil, fmt.Errorf("haproxy: %s on %s: reply longer than %d bytes", cmd, addr, maxHAProxyReply)
	}
	return reply, nil
}

// haproxyInfo is what the haproxy check uses of `show info`.
type haproxyInfo struct {
	Name    string // "HAProxy"
	Version string // "2.6.12-1+deb12u4"
}

// parseHAProxyInfo parses the reply to `show info`: "Key: value" lines, of which
// Name and Version must be there. Anything else (an error such as "Permission
// denied", "Unknown command", a different program) is an error quoting the reply's
// first line.
func parseHAProxyInfo(reply []byte) (haproxyInfo, error) {
	var info haproxyInfo
	sc := bufio.NewScanner(bytes.NewReader(reply))
	sc.Buffer(nil, 64<<10)
	first := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if first == "" {
			first = line
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "Name":
			info.Name = strings.TrimSpace(value)
		case "Version":
			info.Version = strings.TrimSpace(value)
		}
	}
	// A line too long for the scanner is not something HAProxy's show info sends.
	if err := sc.Err(); err != nil {
		return haproxyInfo{}, fmt.Errorf("not a show info reply: %w", err)
	}
	if info.Name == "" || info.Version == "" {
		if first == "" {
			return haproxyInfo{}, errors.New("empty reply")
		}
		return haproxyInfo{}, fmt.Errorf("not a show info reply: %.80q", first)
	}
	return info, nil
}

// haproxyStatRow is one line of `show stat`: a frontend, a backend or a server.
type haproxyStatRow struct {
	Proxy  string // pxname
	Server string // svname: a server name, or FRONTEND or BACKEND
	Status string // status: "UP", "UP 1/3", "DOWN", "DOWN 1/2", "no check", "MAINT", "DRAIN", "NOLB", "OPEN", ...
}

// parseHAProxyStat parses the CSV reply to `show stat`. Its first line is the header,
// "# pxname,svname,...,status,..."; the columns are found by name, so older and newer
// HAProxy versions with more or fewer columns parse alike. Rows too short to have a
// status are skipped.
func parseHAProxyStat(reply []byte) ([]haproxyStatRow, error) {
	text := strings.TrimLeft(string(reply), "\r\n")
	header, ok := strings.CutPrefix(text, "# ")
	if !ok {
		line, _, _ := strings.Cut(text, "\n")
		if line == "" {
			return nil, errors.New("empty reply")
		}
		return nil, fmt.Errorf("not a show stat reply: %.80q", strings.TrimSpace(line))
	}
	r := csv.NewReader(strings.NewReader(header))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	cols, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("show stat header: %w", err)
	}
	px, sv, st := -1, -1, -1
	for i, c := range cols {
		switch strings.TrimSpace(c) {
		case "pxname":
			px = i
		case "svname":
			sv = i
		case "status":
			st = i
		}
	}
	if px < 0 || sv < 0 || st < 0 {
		return nil, errors.New("show stat header lacks pxname, svname or status")
	}
	need := max(px, sv, st) + 1
	var rows []haproxyStatRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("show stat: %w", err)
		}
		if len(rec) < need {
			continue
		}
		rows = append(rows, haproxyStatRow{Proxy: rec[px], Server: rec[sv], Status: rec[st]})
	}
	return rows, nil
}

// backendSummary counts the servers of one backend.
type backendSummary struct {
	Found   bool // the backend has a BACKEND row or a server
	Servers int  // servers (not FRONTEND or BACKEND rows)
	Up      int  // servers taking traffic: see haproxyServerUp
}

// summarizeBackend counts the servers of backend in rows.
func summarizeBackend(rows []haproxyStatRow, backend string) backendSummary {
	var b backendSummary
	for _, r := range rows {
		if r.Proxy != backend {
			continue
		}
		switch r.Server {
		case "FRONTEND":
			continue
		case "BACKEND":
			b.Found = true
			continue
		}
		b.Found = true
		b.Servers++
		if haproxyServerUp(r.Status) {
			b.Up++
		}
	}
	return b
}

// haproxyServerUp says whether a server's status in `show stat` means it takes
// traffic: "UP", "UP 1/3" (UP, failing checks but not yet down) and "no check" (no
// health check configured: HAProxy sends it traffic). "DOWN", "DOWN 1/2" (down, not
// yet risen), "MAINT", "DRAIN" and "NOLB" do not.
func haproxyServerUp(status string) bool {
	status = strings.TrimSpace(status)
	return status == "UP" || strings.HasPrefix(status, "UP ") || status == "no check"
}

// clip returns s cut to at most n bytes, marking a cut with "...".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
