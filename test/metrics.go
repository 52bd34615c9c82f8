package test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MetricsPort is where WithMetrics makes every agent serve /metrics, on its bind
// address.
const MetricsPort = 9469

// WithMetrics returns o with metrics.listen set on every agent to its bind address,
// port MetricsPort, after whatever o.Configure does.
func WithMetrics(o Options) Options {
	prev := o.Configure
	o.Configure = func(n *Node, c *AgentConfig) {
		if prev != nil {
			prev(n, c)
		}
		if c.Extra == nil {
			c.Extra = map[string]any{}
		}
		c.Extra["metrics"] = map[string]any{"listen": MetricsAddr(n).String()}
	}
	return o
}

// MetricsAddr is where n's agent serves metrics under WithMetrics.
func MetricsAddr(n *Node) netip.AddrPort {
	return netip.AddrPortFrom(n.Addr4.Addr(), MetricsPort)
}

// Metrics is one scrape: every sample by its series as exposed,
// `name{label="value",...}` with the labels in the order the agent wrote them
// (client_golang sorts them by name), or just the name.
type Metrics map[string]float64

// Get returns the sample of name with labels given as name, value pairs in label-name
// order, and whether there is one.
func (m Metrics) Get(name string, labels ...string) (float64, bool) {
	v, ok := m[seriesKey(name, labels...)]
	return v, ok
}

// Value is Get without the flag: 0 when the series is absent.
func (m Metrics) Value(name string, labels ...string) float64 {
	v, _ := m.Get(name, labels...)
	return v
}

// Names lists the metric names with the given prefix, sorted, each once.
func (m Metrics) Names(prefix string) []string {
	seen := map[string]bool{}
	for k := range m {
		name, _, _ := strings.Cut(k, "{")
		if strings.HasPrefix(name, prefix) {
			seen[name] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func seriesKey(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	var b strings.Builder
	b.WriteString(name + "{")
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", labels[i], labels[i+1])
	}
	b.WriteByte('}')
	return b.String()
}

// Scrape fetches http://MetricsAddr(n)/metrics from inside n's namespace, so it works
// while n is unplugged, and parses the text exposition.
func (l *Lab) Scrape(n *Node) (Metrics, error) {
	c, err := NewClient(n.NS)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "http://" + MetricsAddr(n).String() + "/metrics"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lab: scrape %s: %w", n.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("lab: scrape %s: HTTP %d: %s", n.Name, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	m, err := ParseMetrics(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("lab: scrape %s: %w", n.Name, err)
	}
	return m, nil
}

// ParseMetrics reads the Prometheus text exposition format: comments are skipped,
// every sample line is `series value [timestamp]`.
func ParseMetrics(r io.Reader) (Metrics, error) {
	m := Metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// The value follows the series; label values may contain spaces, so split
		// after the closing brace when there is one.
		series, rest := line, ""
		if i := strings.LastIndexByte(line, '}'); i >= 0 {
			series, rest = line[:i+1], strings.TrimSpace(line[i+1:])
		} else if f := strings.Fields(line); len(f) >= 2 {
			series, rest = f[0], strings.Join(f[1:], " ")
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("metrics: no value in %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: value of %q: %w", line, err)
		}
		m[series] = v
	}
	return m, sc.Err()
}
