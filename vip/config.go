package vip

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Defaults applied by New when the corresponding GARPConfig field is zero.
const (
	DefaultGARPRepeat   = 5
	DefaultGARPInterval = time.Second
)

// MaxDrain is the longest Config.Drain: new connections to the VIP are refused for
// that long on every planned move.
const MaxDrain = 10 * time.Second

// maxLifetime keeps the lifetime well inside the kernel's 32-bit seconds field, away
// from 0xFFFFFFFF, which means "forever".
const maxLifetime = 24 * time.Hour

var (
	// ErrInvalidConfig is wrapped by every error New returns for a bad Config.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrInterfaceNotFound is wrapped when the configured interface does not exist
	// (in the network namespace the Manager works in).
	ErrInterfaceNotFound = errors.New("interface not found")
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("vip: manager closed")
)

// Config says which addresses to hold, where, and how.
type Config struct {
	// Interface is the name of the interface the addresses go on, e.g. "eth0".
	Interface string
	// Addresses are the VIPs with their prefix length, e.g. 198.18.0.10/24 or
	// 2001:2::10/64. They move together. The prefix is not masked: the address
	// part is the VIP.
	Addresses []netip.Prefix
	// Lifetime is the kernel valid_lft of every address, in whole seconds, at least
	// 1s. It is refreshed while held; a frozen or killed agent loses the addresses
	// when it runs out (see the package documentation for the precision).
	Lifetime time.Duration
	// GARP configures announcing.
	GARP GARPConfig
	// Drain is how long Manager.Drain refuses new TCP connections to the VIPs
	// before a planned removal, while connections already established are still
	// served; 0 (the default) turns draining off. At most MaxDrain. A client's
	// first SYN retransmission comes after about 1 s, so 1 to 2 s is typical.
	Drain time.Duration
}

// GARPConfig configures the gratuitous ARP / unsolicited neighbour advertisement
// burst sent when the addresses are taken.
type GARPConfig struct {
	// Repeat is how many rounds the burst has; 0 means DefaultGARPRepeat.
	Repeat int
	// Interval is the time between rounds; 0 means DefaultGARPInterval. Linux
	// ignores an ARP update for a neighbour within locktime (1 s by default) of
	// the previous one, so IPv4 rounds closer than 1 s apart help little.
	Interval time.Duration
	// Refresh, if positive, sends one more round every Refresh after the burst
	// while the addresses are held. 0 turns it off.
	Refresh time.Duration
}

// withDefaults returns c with zero GARP fields replaced by the defaults.
func (c Config) withDefaults() Config {
	if c.GARP.Repeat == 0 {
		c.GARP.Repeat = DefaultGARPRepeat
	}
	if c.GARP.Interval == 0 {
		c.GARP.Interval = DefaultGARPInterval
	}
	c.Addresses = append([]netip.Prefix(nil), c.Addresses...)
	return c
}

// validate checks c after defaults were applied.
func (c Config) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("vip: %w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...))
	}
	if c.Interface == "" {
		return bad("interface: missing, name the interface the addresses go on (e.g. eth0)")
	}
	if len(c.Addresses) == 0 {
		return bad("addresses: empty, list at least one address with its prefix length (e.g. 198.18.0.10/24)")
	}
	seen := make(map[netip.Addr]netip.Prefix, len(c.Addresses))
	for _, p := range c.Addresses {
		a := p.Addr()
		switch {
		case !p.IsValid():
			return bad("addresses: %q is not an address with a prefix length", p)
		case a.Is4In6():
			return bad("addresses: %s is an IPv4-mapped IPv6 address, write it as %s/%d", p, a.Unmap(), p.Bits()-96)
		case a.IsUnspecified(), a.IsMulticast(), a.IsLoopback():
			return bad("addresses: %s is not a unicast address", p)
		}
		if q, dup := seen[a]; dup {
			return bad("addresses: %s is listed twice (%s and %s)", a, q, p)
		}
		seen[a] = p
	}
	switch {
	case c.Lifetime < time.Second:
		return bad("lifetime: %s is too short, must be at least 1s", c.Lifetime)
	case c.Lifetime%time.Second != 0:
		return bad("lifetime: %s is not a whole number of seconds (Linux counts address lifetimes in seconds)", c.Lifetime)
	case c.Lifetime > maxLifetime:
		return bad("lifetime: %s is too long, at most %s", c.Lifetime, maxLifetime)
	}
	if c.GARP.Repeat < 0 {
		return bad("garp.repeat: %d is negative", c.GARP.Repeat)
	}
	if c.GARP.Interval < 0 {
		return bad("garp.interval: %s is negative", c.GARP.Interval)
	}
	if c.GARP.Refresh < 0 {
		return bad("garp.refresh: %s is negative, use 0 to turn it off", c.GARP.Refresh)
	}
	switch {
	case c.Drain < 0:
		return bad("drain: %s is negative, use 0 to turn it off", c.Drain)
	case c.Drain > MaxDrain:
		return bad("drain: %s is too long, at most %s (new connections are refused while it lasts)", c.Drain, MaxDrain)
	}
	return nil
}
