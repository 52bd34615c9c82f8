package cluster

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/cluster/config"
)

func TestWarnInsecure(t *testing.T) {
	key := []byte("0123456789abcdef")
	tlsOn := config.TLSConfig{CAFile: "ca.pem", CertFile: "lb1.pem", KeyFile: "lb1-key.pem"}
	for _, tc := range []struct {
		name    string
		cluster config.ClusterConfig
		admin   config.AdminConfig
		want    []string // fragments, in one log each
		not     string
	}{
		{"nothing", config.ClusterConfig{Insecure: true}, config.AdminConfig{},
			[]string{`level=WARN msg="running without transport security: cluster.insecure is true`, "no cluster.tls: Raft and the cluster RPC on port 7300 are plaintext", "no cluster.encrypt: gossip on port 7301"}, ""},
		{"key only", config.ClusterConfig{Insecure: true, Encrypt: key}, config.AdminConfig{},
			[]string{"running without transport security", "no cluster.tls"}, "no cluster.encrypt"},
		{"both", config.ClusterConfig{Insecure: true, Encrypt: key, TLS: tlsOn}, config.AdminConfig{},
			[]string{"level=INFO", "cluster.insecure is true but changes nothing"}, "running without"},
		{"secure", config.ClusterConfig{Encrypt: key, TLS: tlsOn}, config.AdminConfig{}, nil, "level="},
		{"admin on loopback", config.ClusterConfig{Encrypt: key, TLS: tlsOn}, config.AdminConfig{Listen: "127.0.0.1:7380"}, nil, "level="},
		{"admin everywhere", config.ClusterConfig{Encrypt: key, TLS: tlsOn}, config.AdminConfig{Listen: ":7380"},
			[]string{"the TCP admin listener speaks plain HTTP"}, ""},
		{"admin on a v6 address", config.ClusterConfig{Encrypt: key, TLS: tlsOn}, config.AdminConfig{Listen: "[2001:2::11]:7380"},
			[]string{"the TCP admin listener speaks plain HTTP"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lb := &logBuffer{}
			cfg := &config.Config{Node: config.NodeConfig{RaftPort: 7300, GossipPort: 7301}, Cluster: tc.cluster, Admin: tc.admin}
			warnInsecure(cfg, slog.New(slog.NewTextHandler(lb, nil)))
			s := lb.String()
			for _, w := range tc.want {
				if !strings.Contains(s, w) {
					t.Errorf("log lacks %q:\n%s", w, s)
				}
			}
			if tc.not != "" && strings.Contains(s, tc.not) {
				t.Errorf("log has %q:\n%s", tc.not, s)
			}
		})
	}
}
