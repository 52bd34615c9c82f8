package vip_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/net/ipv6"

	"github.com/raftvip/raftvip/vip"
)

var testMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x53, 0x01}

// capturedConn is a net.PacketConn that records what is written to it.
type capturedConn struct {
	frames [][]byte
	addrs  []net.Addr
	err    error
}

func (c *capturedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	c.frames = append(c.frames, bytes.Clone(b))
	c.addrs = append(c.addrs, addr)
	return len(b), nil
}

func (c *capturedConn) ReadFrom([]byte) (int, net.Addr, error) {
	return 0, nil, errors.New("write only")
}
func (c *capturedConn) Close() error                     { return nil }
func (c *capturedConn) LocalAddr() net.Addr              { return &packet.Addr{HardwareAddr: testMAC} }
func (c *capturedConn) SetDeadline(time.Time) error      { return nil }
func (c *capturedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *capturedConn) SetWriteDeadline(time.Time) error { return nil }

// The ARP announcement request for 198.18.0.10 from 02:00:5e:00:53:01, as it goes
// on the wire (tcpdump: "ARP, Request who-has 198.18.0.10 (00:00:00:00:00:00) tell
// 198.18.0.10, length 46"), padded to the 60-byte Ethernet minimum.
const goldenARPRequest = "ffffffffffff" + "02005e005301" + "0806" + // Ethernet: dst, src, type ARP
	"0001" + "0800" + "06" + "04" + "0001" + // Ethernet/IPv4, hlen 6, plen 4, op request
	"02005e005301" + "c612000a" + // sender MAC, sender IP 198.18.0.10
	"000000000000" + "c612000a" + // target MAC zero, target IP 198.18.0.10
	"000000000000000000000000000000000000" // padding

func TestARPSenderSendsRequestAndReply(t *testing.T) {
	ip := netip.MustParseAddr("198.18.0.10")
	conn := &capturedConn{}
	if err := vip.NewARPSender(conn, testMAC).Send(ip); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(conn.frames) != 2 {
		t.Fatalf("wrote %d frames, want 2 (request, reply)", len(conn.frames))
	}
	if got := hex.EncodeToString(conn.frames[0]); got != goldenARPRequest {
		t.Errorf("request frame\n got  %s\n want %s", got, goldenARPRequest)
	}
	want := []struct {
		op       arp.Operation
		targetHW net.HardwareAddr
	}{
		{arp.OperationRequest, net.HardwareAddr{0, 0, 0, 0, 0, 0}},
		{arp.OperationReply, ethernet.Broadcast},
	}
	for i, w := range want {
		pa, ok := conn.addrs[i].(*packet.Addr)
		if !ok || !bytes.Equal(pa.HardwareAddr, ethernet.Broadcast) {
			t.Errorf("frame %d written to %v, want broadcast *packet.Addr", i, conn.addrs[i])
		}
		var f ethernet.Frame
		if err := f.UnmarshalBinary(conn.frames[i]); err != nil {
			t.Fatalf("frame %d: ethernet: %v", i, err)
		}
		if !bytes.Equal(f.Destination, ethernet.Broadcast) || !bytes.Equal(f.Source, testMAC) || f.EtherType != ethernet.EtherTypeARP {
			t.Errorf("frame %d: ethernet %s -> %s type %v, want %s -> broadcast, ARP", i, f.Source, f.Destination, f.EtherType, testMAC)
		}
		var p arp.Packet
		if err := p.UnmarshalBinary(f.Payload); err != nil {
			t.Fatalf("frame %d: arp: %v", i, err)
		}
		if p.Operation != w.op || !bytes.Equal(p.SenderHardwareAddr, testMAC) || p.SenderIP != ip ||
			!bytes.Equal(p.TargetHardwareAddr, w.targetHW) || p.TargetIP != ip {
			t.Errorf("frame %d: %v sender %s/%s target %s/%s, want %v sender %s/%s target %s/%s", i,
				p.Operation, p.SenderHardwareAddr, p.SenderIP, p.TargetHardwareAddr, p.TargetIP,
				w.op, testMAC, ip, w.targetHW, ip)
		}
	}
}

func TestARPSenderErrors(t *testing.T) {
	if err := vip.NewARPSender(&capturedConn{}, testMAC).Send(netip.MustParseAddr("2001:2::10")); err == nil {
		t.Error("Send(IPv6) = nil, want error")
	}
	conn := &capturedConn{err: errors.New("network is down")}
	err := vip.NewARPSender(conn, testMAC).Send(netip.MustParseAddr("198.18.0.10"))
	if err == nil || !strings.Contains(err.Error(), "198.18.0.10") || !strings.Contains(err.Error(), "network is down") {
		t.Errorf("Send over a failing conn = %v, want the address and the cause", err)
	}
	if err := vip.NewARPSender(&capturedConn{}, nil).Send(netip.MustParseAddr("198.18.0.10")); err == nil {
		t.Error("Send without a MAC address = nil, want error")
	}
}

// capturedNDP is an NDPConn that records what is written to it.
type capturedNDP struct {
	msgs []ndp.Message
	cms  []*ipv6.ControlMessage
	dsts []netip.Addr
}

func (c *capturedNDP) WriteTo(m ndp.Message, cm *ipv6.ControlMessage, dst netip.Addr) error {
	c.msgs = append(c.msgs, m)
	c.cms = append(c.cms, cm)
	c.dsts = append(c.dsts, dst)
	return nil
}

func TestNDPSenderSendsUnsolicitedNA(t *testing.T) {
	ip := netip.MustParseAddr("2001:2::10")
	conn := &capturedNDP{}
	if err := vip.NewNDPSender(conn, testMAC, 7).Send(ip); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(conn.msgs) != 1 {
		t.Fatalf("wrote %d messages, want 1", len(conn.msgs))
	}
	if want := netip.MustParseAddr("ff02::1"); conn.dsts[0] != want {
		t.Errorf("destination %s, want %s", conn.dsts[0], want)
	}
	cm := conn.cms[0]
	if cm == nil || cm.HopLimit != 255 || !net.IP(cm.Src).Equal(ip.AsSlice()) || cm.IfIndex != 7 {
		t.Errorf("control message %+v, want hop limit 255, source %s, ifindex 7", cm, ip)
	}
	b, err := ndp.MarshalMessage(conn.msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	// RFC 4861 §4.4: type 136, code 0, checksum (filled in by the kernel), flags
	// R|S|O in the top bits of byte 4: only O (0x20), target address, options.
	if b[0] != 136 || b[1] != 0 || b[4] != 0x20 {
		t.Errorf("header % x, want type 136, code 0, flags 0x20", b[:8])
	}
	m, err := ndp.ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	na, ok := m.(*ndp.NeighborAdvertisement)
	if !ok {
		t.Fatalf("message is %T, want *ndp.NeighborAdvertisement", m)
	}
	if !na.Override || na.Solicited || na.Router || na.TargetAddress != ip {
		t.Errorf("NA %+v, want Override only, target %s", na, ip)
	}
	if len(na.Options) != 1 {
		t.Fatalf("options %v, want one target link-layer address", na.Options)
	}
	lla, ok := na.Options[0].(*ndp.LinkLayerAddress)
	if !ok || lla.Direction != ndp.Target || !bytes.Equal(lla.Addr, testMAC) {
		t.Errorf("option %+v, want target link-layer address %s", na.Options[0], testMAC)
	}
}

func TestNDPSenderRejectsIPv4(t *testing.T) {
	for _, s := range []string{"198.18.0.10", "::ffff:198.18.0.10"} {
		if err := vip.NewNDPSender(&capturedNDP{}, testMAC, 1).Send(netip.MustParseAddr(s)); err == nil {
			t.Errorf("Send(%s) = nil, want error", s)
		}
	}
}
