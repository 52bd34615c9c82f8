package vip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The nf_tables objects the default Firewall owns. Nothing else is ever touched.
const (
	DrainTable = "raftvip" // table inet raftvip
	DrainChain = "drain"   // its only chain: filter hook input priority filter, policy accept
)

// Firewall is the packet filter a drain works through. The default speaks nf_tables
// over netlink, in the Manager's network namespace; tests pass a fake
// (WithFirewall).
type Firewall interface {
	// Block makes the host drop new TCP connection attempts to addrs on input
	// (segments with SYN set and ACK clear) and nothing else, replacing whatever
	// an earlier Block installed. It is all or nothing.
	Block(addrs []netip.Addr) error
	// Unblock removes everything Block installed, also when an earlier process
	// installed it. removed tells whether there was anything; nothing to remove is
	// not an error.
	Unblock() (removed bool, err error)
}

// Drain lets connections in flight finish before a planned removal. If the Manager
// holds the addresses and Config.Drain is positive, it makes the host drop new TCP
// connection attempts to every VIP (a SYN without ACK, on input) while segments of
// established connections are still accepted and answered, then waits
// Config.Drain on the Manager's clock. A client whose SYN is dropped retransmits it
// about a second later, by then to the next holder. Drain does not remove the
// addresses: the caller calls Set(ctx, false) after it, which removes the addresses
// and then the drop rules.
//
// If the Manager does not hold, or Config.Drain is 0, Drain returns nil at once. If
// the rules cannot be installed (no nf_tables in the kernel, no permission) Drain
// logs a warning and returns nil at once: a missing drain never blocks a move.
//
// The wait ends early, with nil, when the Manager stops holding (Set(false)) or
// Undrain is called, and with ErrClosed when it is closed. If ctx is done first,
// Drain removes the rules again, keeps the addresses, and returns ctx's error
// wrapped: a move that is called off must not leave a VIP that refuses new
// connections. For a move called off after Drain returned, call Undrain.
func (m *Manager) Drain(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	d := m.cfg.Drain
	if !m.held || d <= 0 {
		m.mu.Unlock()
		return nil
	}
	if err := ctx.Err(); err != nil {
		m.mu.Unlock()
		return fmt.Errorf("vip: drain: %w", err)
	}
	if err := m.fw.Block(m.ips); err != nil {
		m.mu.Unlock()
		m.log.Warn("vip: cannot drain, moving without it: connections opened during the move may fail",
			"addresses", m.ips, "err", err)
		return nil
	}
	m.blocked = true
	if m.drainStop == nil {
		m.drainStop = make(chan struct{})
	}
	stop := m.drainStop
	m.mu.Unlock()

	m.log.Info("vip: draining new connections", "duration", d, "addresses", m.ips)
	select {
	case <-m.clock.After(d):
		return nil
	case <-stop:
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.closed {
			return ErrClosed
		}
		return nil
	case <-ctx.Done():
		m.mu.Lock()
		defer m.mu.Unlock()
		if !m.closed {
			if err := m.unblockLocked(); err != nil {
				m.log.Warn("vip: drain cancelled, but its rules stay", "err", err)
			}
		}
		return fmt.Errorf("vip: drain: %w", ctx.Err())
	}
}

// Undrain removes the drain rules and keeps the addresses: for a move called off
// after Drain returned. It ends a running Drain's wait. Without rules it does
// nothing.
func (m *Manager) Undrain() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	return m.unblockLocked()
}

// unblockSoonLocked ends a running drain's wait at once and removes the rules in the
// background, once the caller has released the lock: with the addresses gone no new
// connection can reach this node anyway, and an nf_tables transaction costs
// milliseconds that would otherwise delay the release record of a planned move. A
// Set(true) that comes first removes the rules itself.
func (m *Manager) unblockSoonLocked() {
	if m.drainStop != nil {
		close(m.drainStop)
		m.drainStop = nil
	}
	if !m.blocked {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.closed || m.held {
			return
		}
		if err := m.unblockLocked(); err != nil {
			m.log.Warn("vip: drain rules left in place; the next hold or start-up removes them", "err", err)
		}
	}()
}

// unblockLocked ends a running drain's wait and removes the rules, if this Manager
// installed some (or could not tell at start-up).
func (m *Manager) unblockLocked() error {
	if m.drainStop != nil {
		close(m.drainStop)
		m.drainStop = nil
	}
	if !m.blocked {
		return nil
	}
	if _, err := m.fw.Unblock(); err != nil {
		return fmt.Errorf("vip: remove drain rules: %w", err)
	}
	m.blocked = false
	m.log.Info("vip: drain rules removed")
	return nil
}

// cleanupRulesLocked removes drain rules left by an earlier run. A kernel without
// nf_tables, or no permission to use it, means no earlier run could have left any.
func (m *Manager) cleanupRulesLocked() error {
	removed, err := m.fw.Unblock()
	switch {
	case err == nil:
		m.blocked = false
		if removed {
			m.log.Warn("vip: removed drain rules left by an earlier run", "table", "inet "+DrainTable)
		}
		return nil
	case firewallUnavailable(err):
		m.blocked = false
		m.log.Debug("vip: nf_tables not usable, no drain rules to clean up", "err", err)
		return nil
	default:
		m.blocked = true // retried before the next hold, and by Set(false) and Close
		return fmt.Errorf("vip: remove drain rules left by an earlier run: %w", err)
	}
}

// firewallUnavailable tells whether err means nf_tables cannot be used at all here.
func firewallUnavailable(err error) bool {
	for _, e := range []error{unix.EOPNOTSUPP, unix.EPROTONOSUPPORT, unix.EAFNOSUPPORT, unix.EPERM, unix.EACCES} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// nftFirewall is the real Firewall: table inet raftvip over nf_tables netlink. It
// opens a netlink socket per operation, in the network namespace ns (the current
// one if ns is not open), so it holds nothing between calls. Its errors name the
// nf_tables operation; the Manager prefixes them.
type nftFirewall struct {
	opts []nftables.ConnOption
}

func newNFTFirewall(ns netns.NsHandle) *nftFirewall {
	f := &nftFirewall{}
	if ns.IsOpen() {
		f.opts = append(f.opts, nftables.WithNetNSFd(int(ns)))
	}
	return f
}

func nftTable() *nftables.Table {
	return &nftables.Table{Name: DrainTable, Family: nftables.TableFamilyINet}
}

// Block replaces the table with a fresh one holding one rule per address, in one
// nf_tables transaction: add (so that the delete finds it), delete, add, chain,
// rules.
func (f *nftFirewall) Block(addrs []netip.Addr) error {
	c, err := nftables.New(f.opts...)
	if err != nil {
		return fmt.Errorf("connect to nf_tables: %w", err)
	}
	t := nftTable()
	c.AddTable(t)
	c.DelTable(t)
	c.AddTable(t)
	policy := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{
		Name:     DrainChain,
		Table:    t,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookInput,
		Priority: nftables.ChainPriorityFilter,
		Policy:   &policy,
	})
	for _, a := range addrs {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: synDropExprs(a)})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("install table inet %s: %w", DrainTable, err)
	}
	return nil
}

// Unblock deletes the whole table; a missing table (ENOENT) is nothing to remove.
func (f *nftFirewall) Unblock() (bool, error) {
	c, err := nftables.New(f.opts...)
	if err != nil {
		return false, fmt.Errorf("connect to nf_tables: %w", err)
	}
	c.DelTable(nftTable())
	err = c.Flush()
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOENT):
		return false, nil
	default:
		return false, fmt.Errorf("delete table inet %s: %w", DrainTable, err)
	}
}

// TCP flag bits in byte 13 of the TCP header.
const (
	tcpFlagSYN = 0x02
	tcpFlagACK = 0x10
)

// synDropExprs is the rule
//
//	meta nfproto ipv4 meta l4proto tcp ip daddr A tcp flags & (syn|ack) == syn drop
//
// (for IPv6: meta nfproto ipv6, ip6 daddr A, at offset 24 of the network header).
func synDropExprs(a netip.Addr) []expr.Any {
	proto := byte(unix.NFPROTO_IPV4)
	offset := uint32(16) // IPv4 destination address
	if a.Is6() {
		proto = unix.NFPROTO_IPV6
		offset = 24 // IPv6 destination address
	}
	daddr := a.AsSlice()
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: uint32(len(daddr))},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: daddr},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{tcpFlagSYN | tcpFlagACK}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{tcpFlagSYN}},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}
