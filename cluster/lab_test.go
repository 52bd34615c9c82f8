package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/gossip"
)

// lab is a cluster of Nodes in this process: each with its own data dir on disk, all
// over a memNet, with fake VIPs and fake gossip. Every node runs the real node core:
// Raft with its boltdb log, the election loop, membership and the cluster RPC.
type lab struct {
	t      *testing.T
	dir    string
	net    *memNet
	vips   *fakeVIPs
	gossip *fakeGossip
	logs   *logBuffer
	tune   func(*config.Config)

	mu    sync.Mutex
	nodes map[string]*Node
	peers []string // name=addr of cluster.peers
}

// labAddr is the Raft address of lab node i (1-based). Nothing listens on it: it
// names the node's in-memory transport.
func labAddr(i int) string { return fmt.Sprintf("198.18.0.%d:7300", 10+i) }

// newLab makes a lab of n nodes named lb1..lbn; tune, if not nil, adjusts every
// node's configuration. Nothing runs until start. The lab fails the test if two
// nodes ever held the VIP at once, and stops every node at the end.
func newLab(t *testing.T, n int, tune func(*config.Config)) *lab {
	t.Helper()
	l := &lab{t: t, dir: t.TempDir(), net: newMemNet(), vips: newFakeVIPs(), gossip: newFakeGossip(),
		logs: &logBuffer{}, tune: tune, nodes: map[string]*Node{}}
	for i := 1; i <= n; i++ {
		l.peers = append(l.peers, fmt.Sprintf("lb%d=%s", i, labAddr(i)))
	}
	t.Cleanup(func() {
		l.mu.Lock()
		nodes := l.nodes
		l.nodes = map[string]*Node{}
		l.mu.Unlock()
		var wg sync.WaitGroup
		for _, node := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				node.Stop(ctx)
			}()
		}
		wg.Wait()
		if p := l.vips.problems(); len(p) > 0 {
			t.Errorf("two nodes held the VIP at once:\n%s", strings.Join(p, "\n"))
		}
		if t.Failed() {
			t.Logf("VIP history:\n%s", l.vips.history())
			t.Logf("agent logs:\n%s", l.logs.String())
		}
	})
	return l
}

// config is node lbi's configuration, as an operator would write it.
func (l *lab) config(i int) *config.Config {
	l.t.Helper()
	name := fmt.Sprintf("lb%d", i)
	dir := filepath.Join(l.dir, name)
	src := fmt.Sprintf(`node:
  name: %s
  data_dir: %s
  bind: 198.18.0.%d
cluster:
  peers: [%s]
  insecure: true
  timing: lan
admin:
  socket: %s
vip:
  interface: eth0
  addresses: [198.18.0.10/24]
`, name, filepath.Join(dir, "data"), 10+i, strings.Join(l.peers, ", "), filepath.Join(dir, "admin.sock"))
	cfg, err := config.Parse([]byte(src), name+".yaml")
	if err != nil {
		l.t.Fatalf("config of %s: %v", name, err)
	}
	if l.tune != nil {
		l.tune(cfg)
	}
	return cfg
}

// start starts node lbi, anew or again on the data it had.
func (l *lab) start(i int) *Node {
	l.t.Helper()
	cfg := l.config(i)
	name := cfg.Node.Name
	l.vips.revive(name)
	logger := slog.New(slog.NewTextHandler(l.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name)
	n, err := start(cfg, logger, labEdges{l: l, name: name})
	if err != nil {
		l.t.Fatalf("start %s: %v", name, err)
	}
	l.mu.Lock()
	l.nodes[name] = n
	l.mu.Unlock()
	return n
}

// startAll starts every node.
func (l *lab) startAll() {
	l.t.Helper()
	for i := range l.peers {
		l.start(i + 1)
	}
}

// node returns the running node called name.
func (l *lab) node(name string) *Node {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.nodes[name]
	if !ok {
		l.t.Fatalf("%s is not running", name)
	}
	return n
}

// forget takes name out of the running nodes without stopping it.
func (l *lab) forget(name string) *Node {
	l.t.Helper()
	n := l.node(name)
	l.mu.Lock()
	delete(l.nodes, name)
	l.mu.Unlock()
	return n
}

// stop stops name the way SIGTERM does: a holder hands the VIP over first.
func (l *lab) stop(name string) {
	l.t.Helper()
	n := l.forget(name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		l.t.Errorf("stop %s: %v", name, err)
	}
}

// crash ends name as SIGKILL would: no release record, no hand-off, nothing more
// sent to the others; its guard takes its VIP off at once. Its data dir stays.
func (l *lab) crash(name string) {
	l.t.Helper()
	n := l.forget(name)
	l.vips.crash(name)
	l.net.isolate(n.cfg.RaftAddr().String())
	n.cancel()
	<-n.done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	n.notifier.Close(ctx)
	cancel()
	n.closeAll()
}

// holder waits up to within for exactly one node to hold group g and returns it.
func (l *lab) holder(g string, within time.Duration, not ...string) string {
	l.t.Helper()
	var got []string
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		got = l.vips.holders(g)
		if len(got) == 1 && !containsString(not, got[0]) {
			return got[0]
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.t.Fatalf("no single holder of %s (other than %v) within %s: holding now %v", g, not, within, got)
	return ""
}

// leader waits for the nodes in names (all running nodes if none) to agree on a
// leader and returns it.
func (l *lab) leader(within time.Duration) string {
	l.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		leaders := map[string]bool{}
		for _, n := range l.nodes {
			_, id := n.raft.LeaderWithID()
			leaders[string(id)] = true
		}
		l.mu.Unlock()
		if len(leaders) == 1 && !leaders[""] {
			for id := range leaders {
				return id
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.t.Fatalf("the nodes agree on no leader within %s", within)
	return ""
}

// voters returns the voters of name's Raft configuration.
func (l *lab) voters(name string) []string {
	l.t.Helper()
	servers, err := l.node(name).configuration()
	if err != nil {
		l.t.Fatalf("configuration of %s: %v", name, err)
	}
	return voterNames(servers)
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// labEdges are one lab node's fake edges.
type labEdges struct {
	l    *lab
	name string
}

func (e labEdges) vip(g config.GroupConfig, _ *slog.Logger, _ func() bool) (vipManager, error) {
	return fakeVIP{group: g.Name, node: e.name, all: e.l.vips}, nil
}

func (labEdges) guard(*config.Config, *slog.Logger) (*guard, error) { return nil, nil }

func (e labEdges) network(cfg *config.Config, _ *slog.Logger) (*network, error) {
	return e.l.net.attach(cfg.RaftAddr().String(), cfg.Cluster.Timing.RPCTimeout), nil
}

func (e labEdges) gossip(gc gossip.Config) (memberList, error) {
	return e.l.gossip.join(gc), nil
}

// history returns the ownership records of group g name's FSM holds, oldest first,
// as "assign lb1" or "release lb1" ("release lb1 held" when it held it).
func (l *lab) history(name, g string) []string {
	l.t.Helper()
	var out []string
	for _, ev := range l.node(name).fsm.History() {
		if ev.Group != g {
			continue
		}
		s := ev.Kind + " " + ev.Node
		if ev.Held {
			s += " held"
		}
		out = append(out, s)
	}
	return out
}
