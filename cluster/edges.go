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
	// vip manages the VIP; gate tells it whether announcing is allowed now.
	vip(cfg *config.Config, logger *slog.Logger, gate func() bool) (vipManager, error)
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
	// dial opens a cluster RPC connection to the node whose Raft address is addr.
	dial func(addr string, timeout time.Duration) (net.Conn, error)
	mux  *transport.Mux // the host's Raft port, for its TLS figures; nil in process
}

// hostEdges are the real ones: netlink, a guard process, TCP and memberlist.
type hostEdges struct{}

func (hostEdges) vip(cfg *config.Config, logger *slog.Logger, gate func() bool) (vipManager, error) {
	m, err := vip.New(vip.Config{
		Interface: cfg.VIP.Interface,
		Addresses: cfg.VIP.Addresses,
		Lifetime:  cfg.VIP.Lifetime,
		Drain:     cfg.VIP.Drain,
		GARP: vip.GARPConfig{
			Repeat:   cfg.VIP.GARP.Repeat,
			Interval: cfg.VIP.GARP.Interval,
			Refresh:  cfg.VIP.GARP.Refresh,
		},
	}, vip.WithLogger(logger), vip.WithAnnounceGate(gate))
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (hostEdges) guard(cfg *config.Config, logger *slog.Logger) (*guard, error) {
	return startGuard(GuardArgs{Interface: cfg.VIP.Interface, Addresses: cfg.VIP.Addresses, LogFormat: cfg.Log.Format}, logger)
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
		raft:  noPipeline{nt},
		close: nt.Close,
		rpc:   mux.RPC(),
		dial: func(addr string, timeout time.Duration) (net.Conn, error) {
			return mux.DialKind(addr, transport.KindRPC, timeout)
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

// noPipeline turns off AppendEntries pipelining. A pipelined response counts towards
// VerifyLeader, but its read deadline starts when the decoder begins waiting for it, not
// when the request was sent, so it can be older than the transport timeout T_rpc. The
// claim delay D = L + T_rpc + δ assumes every acknowledgement that renews the lease is
// at most T_rpc old; without the pipeline every RPC sets its deadline before it is
// sent. raftvip's log is a few records an hour, so the pipeline buys nothing.
type noPipeline struct{ *raft.NetworkTransport }

func (noPipeline) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}
