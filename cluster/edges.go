package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/cluster/gossip"
	"github.com/raftvip/raftvip/cluster/logging"
	"github.com/raftvip/raftvip/cluster/transport"
	"github.com/raftvip/raftvip/election"
	"github.com/raftvip/raftvip/vip"
)

// A node's I/O edges: the VIP on the kernel with its guard, gossip, and the network to
// the other nodes (Raft's transport and the cluster RPC). Start builds the host's; the
// in-process tests build fakes, so the node core runs there without root or sockets.
type edges interface {
	// vip manages a group's VIPs; gate tells it whether announcing is allowed now.
	vip(g config.GroupConfig, logger *slog.Logger, gate func() bool) (vipManager, error)
	// guard starts the process that removes the VIP when the agent dies (nil: none).
	guard(cfg *config.Config, logger *slog.Logger) (*guard, error)
	// network opens the Raft port.
	network(cfg *config.Config, logger *slog.Logger) (*network, error)
	// gossip starts gossip.
	gossip(gc gossip.Config) (memberList, error)
}

// vipManager is what a node does with its VIP: package vip's Manager.
type vipManager interface {
	election.VIP // Set, idempotent
	// Cleanup removes the configured VIPs found on the system at start-up.
	Cleanup() ([]netip.Prefix, error)
	// Announce sends the gratuitous ARPs and neighbour advertisements again, if held.
	Announce()
	Close()
}

// memberList is a node's gossip: package gossip's Gossip.
type memberList interface {
	All() []gossip.Member
	Member(name string) (gossip.Member, bool)
	SetMeta(b []byte)
	Join(ctx context.Context, addrs []string, report func(error))
	Contact(addrs []string) (int, error)
	NumMembers() int
	Override(name string, meta gossip.Meta)
	Leave(timeout time.Duration)
	Shutdown()
	Rejects() map[string]uint64
}

// network is how a node reaches the others: Raft's transport and the cluster RPC,
// which share the Raft port.
type network struct {
	raft  raft.Transport
	close func() error // closes raft
	rpc   net.Listener // the cluster RPC's connections to this node
	lease net.Listener // the ownership protocol's connections to this node
	// dial opens a cluster RPC connection to the node whose Raft address is addr, and
	// dialLease a connection of the ownership protocol.
	dial      func(addr string, timeout time.Duration) (net.Conn, error)
	dialLease func(addr string, timeout time.Duration) (net.Conn, error)
	mux       *transport.Mux // the host's Raft port, for its TLS figures; nil in process
}

// hostEdges are the real ones: netlink, a guard process, TCP and memberlist.
type hostEdges struct{}

func (hostEdges) vip(g config.GroupConfig, logger *slog.Logger, gate func() bool) (vipManager, error) {
	m, err := vip.New(vip.Config{
		Interface: g.Interface,
		Addresses: g.Addresses,
		Lifetime:  g.Lifetime,
		Drain:     g.Drain,
		GARP: vip.GARPConfig{
			Repeat:   g.GARP.Repeat,
			Interval: g.GARP.Interval,
			Refresh:  g.GARP.Refresh,
		},
	}, vip.WithLogger(logger), vip.WithAnnounceGate(gate))
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (hostEdges) guard(cfg *config.Config, logger *slog.Logger) (*guard, error) {
	return startGuard(guardArgs(cfg), logger)
}

func (hostEdges) network(cfg *config.Config, logger *slog.Logger) (*network, error) {
	var tl *transport.TLS
	if t := cfg.Cluster.TLS; t.Enabled() {
		var err error
		if tl, err = transport.LoadTLS(t.CAFile, t.CertFile, t.KeyFile, logger); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	advertise := net.TCPAddrFromAddrPort(cfg.RaftAddr())
	mux, err := transport.New(cfg.RaftAddr().String(), advertise, logger, tl)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen for raft on %s (node.bind, node.raft_port): %w", cfg.RaftAddr(), err)
	}
	nt := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  mux,
		MaxPool: 3,
		Timeout: cfg.Cluster.Timing.RPCTimeout,
		Logger:  logging.HCLog(logger, "raft-net"),
	})
	return &network{
		raft:  nt,
		close: nt.Close,
		rpc:   mux.RPC(),
		lease: mux.Lease(),
		dial: func(addr string, timeout time.Duration) (net.Conn, error) {
			return mux.DialKind(addr, transport.KindRPC, timeout)
		},
		dialLease: func(addr string, timeout time.Duration) (net.Conn, error) {
			return mux.DialKind(addr, transport.KindLease, timeout)
		},
		mux: mux,
	}, nil
}

func (hostEdges) gossip(gc gossip.Config) (memberList, error) {
	g, err := gossip.Start(gc)
	if err != nil {
		return nil, err
	}
	return g, nil
}
