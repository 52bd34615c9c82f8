package probe

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster/config"
)

func readHAProxyGolden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "haproxy", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHAProxyParseInfo(t *testing.T) {
	tests := []struct {
		name    string
		reply   string
		want    haproxyInfo
		wantErr string
	}{
		{name: "golden 2.6", reply: string(readHAProxyGolden(t, "show_info_2.6.txt")),
			want: haproxyInfo{Name: "HAProxy", Version: "2.6.12-1+deb12u4"}},
		{name: "minimal", reply: "Name: HAProxy\nVersion: 3.0.5\n\n",
			want: haproxyInfo{Name: "HAProxy", Version: "3.0.5"}},
		{name: "CRLF and spaces", reply: "Name:  HAProxy \r\nVersion:2.8.1\r\n",
			want: haproxyInfo{Name: "HAProxy", Version: "2.8.1"}},
		{name: "permission denied", reply: "Permission denied\n\n",
			wantErr: `not a show info reply: "Permission denied"`},
		{name: "unknown command", reply: "Unknown command, but maybe one of the following ones is a better match:\n  show env [var] : dump\n",
			wantErr: `not a show info reply: "Unknown command, but maybe one of the following ones is a better match:"`},
		{name: "no version", reply: "Name: HAProxy\nPid: 1\n", wantErr: "not a show info reply"},
		{name: "empty", reply: "", wantErr: "empty reply"},
		{name: "blank lines", reply: "\n\n\n", wantErr: "empty reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHAProxyInfo([]byte(tt.reply))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseHAProxyInfo = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestHAProxyParseStatGolden(t *testing.T) {
	tests := []struct {
		file string
		want []haproxyStatRow
	}{
		{"show_stat_2.6.txt", []haproxyStatRow{
			{"fe", "FRONTEND", "OPEN"},
			{"web", "s1", "UP"},
			{"web", "s2", "DOWN"},
			{"web", "s3", "no check"},
			{"web", "s4", "MAINT"},
			{"web", "BACKEND", "UP"},
			{"api", "a1", "UP"},
			{"api", "BACKEND", "UP"},
		}},
		{"show_stat_2.6_drain_maint.txt", []haproxyStatRow{
			{"fe", "FRONTEND", "OPEN"},
			{"web", "s1", "DRAIN"},
			{"web", "s2", "DOWN"},
			{"web", "s3", "no check"},
			{"web", "s4", "MAINT"},
			{"web", "BACKEND", "UP"},
			{"api", "a1", "MAINT"},
			{"api", "BACKEND", "DOWN"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rows, err := parseHAProxyStat(readHAProxyGolden(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rows, tt.want) {
				t.Fatalf("rows:\n%v\nwant:\n%v", rows, tt.want)
			}
		})
	}
}

func TestHAProxyParseStat(t *testing.T) {
	tests := []struct {
		name    string
		reply   string
		want    []haproxyStatRow
		wantErr string
	}{
		{name: "columns found by name",
			reply: "# svname,status,pxname,\ns1,UP 1/3,web,\n",
			want:  []haproxyStatRow{{"web", "s1", "UP 1/3"}}},
		{name: "quoted fields with commas",
			reply: "# pxname,svname,check_desc,status\nweb,s1,\"Layer7 wrong status, 503\",DOWN 1/2\n",
			want:  []haproxyStatRow{{"web", "s1", "DOWN 1/2"}}},
		{name: "short rows skipped",
			reply: "# pxname,svname,qcur,status\nweb,s1\nweb,s2,0,UP\n\n",
			want:  []haproxyStatRow{{"web", "s2", "UP"}}},
		{name: "leading blank line",
			reply: "\n# pxname,svname,status\nweb,s1,UP\n",
			want:  []haproxyStatRow{{"web", "s1", "UP"}}},
		{name: "header only", reply: "# pxname,svname,status\n\n"},
		{name: "no status column", reply: "# pxname,svname,qcur\nweb,s1,0\n",
			wantErr: "lacks pxname, svname or status"},
		{name: "not csv", reply: "Permission denied\n\n", wantErr: `not a show stat reply: "Permission denied"`},
		{name: "empty", reply: "", wantErr: "empty reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHAProxyStat([]byte(tt.reply))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("parseHAProxyStat = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestHAProxySummarizeBackend(t *testing.T) {
	plain, err := parseHAProxyStat(readHAProxyGolden(t, "show_stat_2.6.txt"))
	if err != nil {
		t.Fatal(err)
	}
	drained, err := parseHAProxyStat(readHAProxyGolden(t, "show_stat_2.6_drain_maint.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		rows    []haproxyStatRow
		backend string
		want    backendSummary
	}{
		{"UP and no check count", plain, "web", backendSummary{Found: true, Servers: 4, Up: 2}},
		{"other backend", plain, "api", backendSummary{Found: true, Servers: 1, Up: 1}},
		{"DRAIN does not count", drained, "web", backendSummary{Found: true, Servers: 4, Up: 1}},
		{"MAINT does not count", drained, "api", backendSummary{Found: true, Servers: 1, Up: 0}},
		{"a frontend is not a backend", plain, "fe", backendSummary{}},
		{"missing", plain, "nope", backendSummary{}},
		{"backend without servers", []haproxyStatRow{{"empty", "BACKEND", "DOWN"}}, "empty", backendSummary{Found: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarizeBackend(tt.rows, tt.backend); got != tt.want {
				t.Fatalf("summarizeBackend(%s) = %+v, want %+v", tt.backend, got, tt.want)
			}
		})
	}
}

func TestHAProxyServerUp(t *testing.T) {
	tests := map[string]bool{
		"UP":                 true,
		"UP 1/3":             true, // failing checks, not down yet
		"UP 2/3":             true,
		"no check":           true,
		" UP ":               true,
		"DOWN":               false,
		"DOWN 1/2":           false, // passing checks, not up yet
		"MAINT":              false,
		"MAINT(via)":         false,
		"MAINT (resolution)": false,
		"DRAIN":              false,
		"DRAIN (agent)":      false,
		"NOLB":               false,
		"NOLB 1/2":           false,
		"UPPER":              false,
		"up":                 false,
		"":                   false,
	}
	for status, want := range tests {
		if got := haproxyServerUp(status); got != want {
			t.Errorf("haproxyServerUp(%q) = %v, want %v", status, got, want)
		}
	}
}

func FuzzHAProxyStat(f *testing.F) {
	f.Add(readHAProxyGolden(f, "show_stat_2.6.txt"))
	f.Add(readHAProxyGolden(f, "show_stat_2.6_drain_maint.txt"))
	f.Add([]byte("# pxname,svname,status\nweb,s1,\"UP\nweb,s2,UP\n"))
	f.Add([]byte("# status,pxname,svname\n\"\"\"\",web,\n"))
	f.Add([]byte("# \n"))
	f.Add([]byte("# pxname,svname,status,pxname\nweb,s1,UP,\n"))
	f.Add([]byte("Permission denied\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := parseHAProxyStat(data)
		if err != nil {
			if rows != nil {
				t.Fatal("rows with an error")
			}
			return
		}
		for _, backend := range []string{"web", "", "BACKEND"} {
			b := summarizeBackend(rows, backend)
			if b.Up < 0 || b.Up > b.Servers || (b.Servers > 0 && !b.Found) {
				t.Fatalf("summary %+v", b)
			}
		}
		for _, r := range rows {
			haproxyServerUp(r.Status)
		}
	})
}

func FuzzHAProxyInfo(f *testing.F) {
	f.Add(readHAProxyGolden(f, "show_info_2.6.txt"))
	f.Add([]byte("Name: HAProxy\nVersion: 3.0.5\n"))
	f.Add([]byte("Name:\nVersion:\n"))
	f.Add([]byte(":\n:::\n"))
	f.Add([]byte("Permission denied\n\n"))
	f.Add([]byte(strings.Repeat("x", 70000)))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := parseHAProxyInfo(data)
		if err == nil && (info.Name == "" || info.Version == "") {
			t.Fatalf("accepted %+v", info)
		}
		if err != nil && len(err.Error()) > 1000 {
			t.Fatalf("error text %d bytes", len(err.Error()))
		}
	})
}

// fakeHAProxy is a stats socket that answers each command with a canned reply and
// closes the connection, as HAProxy does in non-interactive mode.
type fakeHAProxy struct {
	ln      net.Listener
	replies map[string][]byte // command (without "\n") → reply; missing: "Unknown command"
	hang    bool              // accept and read, but never answer

	mu       sync.Mutex
	commands []string
	wg       sync.WaitGroup
	release  chan struct{}
}

// startFakeHAProxy listens on network ("unix" in a short temp dir, or "tcp" on
// loopback) and returns the server and its address.
func startFakeHAProxy(t *testing.T, network string, replies map[string][]byte, hang bool) (*fakeHAProxy, string) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		// t.TempDir can exceed the 108-byte limit on socket paths.
		dir, err := os.MkdirTemp("", "hap")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		addr = filepath.Join(dir, "admin.sock")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeHAProxy{ln: ln, replies: replies, hang: hang, release: make(chan struct{})}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		ln.Close()
		close(s.release)
		s.wg.Wait()
	})
	if network == "unix" {
		return s, addr
	}
	return s, ln.Addr().String()
}

func (s *fakeHAProxy) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.TrimSuffix(line, "\n")
			s.mu.Lock()
			s.commands = append(s.commands, cmd)
			s.mu.Unlock()
			if s.hang {
				<-s.release
				return
			}
			reply, ok := s.replies[cmd]
			if !ok {
				reply = []byte("Unknown command, but maybe one of the following ones is a better match:\n  help\n")
			}
			conn.Write(reply)
		}()
	}
}

func (s *fakeHAProxy) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

func TestHAProxyProbe(t *testing.T) {
	golden := map[string][]byte{
		"show info": readHAProxyGolden(t, "show_info_2.6.txt"),
		"show stat": readHAProxyGolden(t, "show_stat_2.6.txt"),
	}
	tests := []struct {
		name     string
		network  string
		replies  map[string][]byte
		backend  string
		minUp    int
		want     string
		wantErr  string
		commands []string
	}{
		{name: "show info only", network: "unix", replies: golden,
			want: "HAProxy 2.6.12-1+deb12u4 up", commands: []string{"show info"}},
		{name: "tcp stats socket", network: "tcp", replies: golden,
			want: "HAProxy 2.6.12-1+deb12u4 up", commands: []string{"show info"}},
		{name: "backend with enough servers", network: "unix", replies: golden, backend: "web", minUp: 2,
			want:     "HAProxy 2.6.12-1+deb12u4: backend web 2/4 servers UP (need 2)",
			commands: []string{"show info", "show stat"}},
		{name: "backend with too few servers", network: "unix", replies: golden, backend: "web", minUp: 3,
			wantErr:  "haproxy: backend web 2/4 servers UP (need 3)",
			commands: []string{"show info", "show stat"}},
		{name: "backend all down", network: "tcp", backend: "api", minUp: 1,
			replies: map[string][]byte{
				"show info": golden["show info"],
				"show stat": readHAProxyGolden(t, "show_stat_2.6_drain_maint.txt"),
			},
			wantErr: "haproxy: backend api 0/1 servers UP (need 1)"},
		{name: "backend not found", network: "unix", replies: golden, backend: "nope", minUp: 1,
			wantErr: "haproxy: backend nope not found in show stat on "},
		{name: "frontend is not a backend", network: "unix", replies: golden, backend: "fe", minUp: 1,
			wantErr: "haproxy: backend fe not found"},
		{name: "permission denied", network: "unix", backend: "web", minUp: 1,
			replies:  map[string][]byte{"show info": []byte("Permission denied\n\n")},
			wantErr:  `haproxy: show info on `,
			commands: []string{"show info"}},
		{name: "show stat refused", network: "unix", backend: "web", minUp: 1,
			replies: map[string][]byte{"show info": golden["show info"], "show stat": []byte("Permission denied\n\n")},
			wantErr: `: not a show stat reply: "Permission denied"`},
		{name: "empty reply", network: "unix", replies: map[string][]byte{"show info": nil},
			wantErr: ": empty reply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, addr := startFakeHAProxy(t, tt.network, tt.replies, false)
			p, err := New(config.CheckConfig{Name: "hap", Type: config.CheckHAProxy, Socket: addr, Backend: tt.backend, MinUp: tt.minUp})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			out, err := p.Probe(ctx)
			wantProbe(t, out, err, tt.want, tt.wantErr)
			if tt.commands != nil && !slices.Equal(srv.received(), tt.commands) {
				t.Fatalf("commands %q, want %q", srv.received(), tt.commands)
			}
		})
	}
}

func TestHAProxyProbeNoSocket(t *testing.T) {
	dir, err := os.MkdirTemp("", "hap")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	p := haproxyProber{socket: filepath.Join(dir, "missing.sock")}
	_, err = p.Probe(t.Context())
	if err == nil || !strings.Contains(err.Error(), "haproxy: show info on "+p.socket) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v", err)
	}
}

// A stats socket that accepts and never answers: the probe ends with its ctx.
func TestHAProxyProbeHungSocket(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			_, addr := startFakeHAProxy(t, network, nil, true)
			p := haproxyProber{socket: addr}

			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			if _, err := p.Probe(ctx); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("deadline: error %v", err)
			}

			// Cancelled, with no deadline at all.
			ctx, cancel = context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				_, err := p.Probe(ctx)
				done <- err
			}()
			cancel()
			if err := <-done; err == nil {
				t.Fatal("cancelled probe passed")
			}
		})
	}
}
