package vip

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Forever is the lifetime of an address that does not expire.
const Forever time.Duration = math.MaxInt64

// Address is one address of an interface: what the Manager asks for, or what the
// kernel reports.
type Address struct {
	Prefix netip.Prefix
	// ValidLft and PreferredLft are the lifetimes (what is left of them, when the
	// kernel reports them). Forever means no expiry. Linux counts in whole seconds.
	ValidLft     time.Duration
	PreferredLft time.Duration
	// NoDAD is the IPv6 IFA_F_NODAD flag: the address is usable at once, without
	// duplicate address detection.
	NoDAD bool
}

// String renders a like a line of `ip addr`, without scope and label:
//
//	inet 198.18.0.10/24 valid_lft 2sec preferred_lft 0sec
//	inet6 2001:2::10/64 nodad valid_lft 2sec preferred_lft 0sec
func (a Address) String() string {
	var b strings.Builder
	if a.Prefix.Addr().Is4() {
		b.WriteString("inet ")
	} else {
		b.WriteString("inet6 ")
	}
	b.WriteString(a.Prefix.String())
	if a.NoDAD {
		b.WriteString(" nodad")
	}
	b.WriteString(" valid_lft ")
	b.WriteString(lftString(a.ValidLft))
	b.WriteString(" preferred_lft ")
	b.WriteString(lftString(a.PreferredLft))
	return b.String()
}

func lftString(d time.Duration) string {
	if d == Forever {
		return "forever"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "sec"
}

// AddrOps is the part of the OS the Manager changes: the addresses of one
// interface. The Manager's default implementation speaks netlink through a
// *netlink.Handle; tests pass a fake.
type AddrOps interface {
	// Addrs lists the addresses of the interface. An interface that does not
	// exist is an error wrapping ErrInterfaceNotFound.
	Addrs(ifname string) ([]Address, error)
	// Replace adds a, or, if a.Prefix is there already, sets its lifetimes and
	// flags to those of a (`ip addr replace`).
	Replace(ifname string, a Address) error
	// Delete removes the address p (matching address and prefix length). It is
	// not an error if p, or the interface, is not there.
	Delete(ifname string, p netip.Prefix) error
}

// netlinkOps is the real AddrOps: netlink through h, in the network namespace h was
// opened in.
type netlinkOps struct {
	h *netlink.Handle
}

// dumpRetries bounds the retries of an address dump that the kernel interrupted
// because the table changed under it.
const dumpRetries = 5

func (o netlinkOps) link(ifname string) (netlink.Link, error) {
	l, err := o.h.LinkByName(ifname)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("%w: %s", ErrInterfaceNotFound, ifname)
	}
	return l, err
}

func (o netlinkOps) Addrs(ifname string) ([]Address, error) {
	l, err := o.link(ifname)
	if err != nil {
		return nil, err
	}
	var list []netlink.Addr
	for range dumpRetries {
		list, err = o.h.AddrList(l, netlink.FAMILY_ALL)
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	out := make([]Address, 0, len(list))
	for _, a := range list {
		if a.IPNet == nil {
			continue
		}
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, Address{
			Prefix:       netip.PrefixFrom(ip.Unmap(), ones),
			ValidLft:     kernelLft(a.ValidLft),
			PreferredLft: kernelLft(a.PreferedLft),
			NoDAD:        a.Flags&unix.IFA_F_NODAD != 0,
		})
	}
	return out, nil
}

// kernelLft converts a lifetime from IFA_CACHEINFO (seconds, 0xFFFFFFFF = forever).
func kernelLft(s int) time.Duration {
	if s < 0 || uint64(s) >= math.MaxUint32 {
		return Forever
	}
	return time.Duration(s) * time.Second
}

func (o netlinkOps) Replace(ifname string, a Address) error {
	l, err := o.link(ifname)
	if err != nil {
		return err
	}
	na := &netlink.Addr{
		IPNet:       prefixIPNet(a.Prefix),
		ValidLft:    netlinkLft(a.ValidLft),
		PreferedLft: netlinkLft(a.PreferredLft),
	}
	if a.NoDAD {
		na.Flags |= unix.IFA_F_NODAD
	}
	// netlink only sends IFA_CACHEINFO when one lifetime is non-zero; both zero
	// would mean "forever" rather than "expired", which is never what we ask for.
	return o.h.AddrReplace(l, na)
}

// netlinkLft converts a lifetime to whole seconds for IFA_CACHEINFO. Forever is
// -1, which netlink writes as uint32 0xFFFFFFFF, the kernel's "forever", on every
// word size.
func netlinkLft(d time.Duration) int {
	if d == Forever || d/time.Second >= math.MaxUint32 {
		return -1
	}
	if d <= 0 {
		return 0
	}
	return int(d / time.Second)
}

func (o netlinkOps) Delete(ifname string, p netip.Prefix) error {
	l, err := o.link(ifname)
	if errors.Is(err, ErrInterfaceNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	err = o.h.AddrDel(l, &netlink.Addr{IPNet: prefixIPNet(p)})
	if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

func prefixIPNet(p netip.Prefix) *net.IPNet {
	a := p.Addr()
	return &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}
