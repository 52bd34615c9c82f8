package vip

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
)

// ARPSender sends gratuitous ARP (RFC 5227 §3 "ARP Announcement", RFC 5944 §4.6)
// for IPv4 addresses over any net.PacketConn that carries whole Ethernet frames,
// such as a raw *packet.Conn bound to the interface, or a fake in tests.
//
// For every address it writes two broadcast frames, because neighbours differ in
// which one they act on:
//
//	request: op 1, sender = (MAC, VIP), target = (00:00:00:00:00:00, VIP)
//	reply:   op 2, sender = (MAC, VIP), target = (ff:ff:ff:ff:ff:ff, VIP)
//
// both with Ethernet destination ff:ff:ff:ff:ff:ff and source MAC. The frames are
// written to &packet.Addr{HardwareAddr: ff:ff:ff:ff:ff:ff}.
type ARPSender struct {
	conn net.PacketConn
	hw   net.HardwareAddr
}

// NewARPSender returns a sender that writes frames to conn with hw, the MAC address
// of the interface, as sender. The caller keeps ownership of conn.
func NewARPSender(conn net.PacketConn, hw net.HardwareAddr) *ARPSender {
	return &ARPSender{conn: conn, hw: hw}
}

// zeroMAC is the target hardware address of an ARP announcement request.
var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// Send announces ip: one ARP request, then one ARP reply.
func (s *ARPSender) Send(ip netip.Addr) error {
	if !ip.Is4() {
		return fmt.Errorf("vip: gratuitous arp for %s: not an IPv4 address", ip)
	}
	for _, f := range []struct {
		op       arp.Operation
		targetHW net.HardwareAddr
	}{
		{arp.OperationRequest, zeroMAC},
		{arp.OperationReply, ethernet.Broadcast},
	} {
		if err := s.write(f.op, f.targetHW, ip); err != nil {
			return fmt.Errorf("vip: gratuitous arp %s for %s: %w", f.op, ip, err)
		}
	}
	return nil
}

func (s *ARPSender) write(op arp.Operation, targetHW net.HardwareAddr, ip netip.Addr) error {
	p, err := arp.NewPacket(op, s.hw, ip, targetHW, ip)
	if err != nil {
		return err
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return err
	}
	fb, err := (&ethernet.Frame{
		Destination: ethernet.Broadcast,
		Source:      s.hw,
		EtherType:   ethernet.EtherTypeARP,
		Payload:     pb,
	}).MarshalBinary()
	if err != nil {
		return err
	}
	_, err = s.conn.WriteTo(fb, &packet.Addr{HardwareAddr: ethernet.Broadcast})
	return err
}
