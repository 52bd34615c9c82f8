package test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// KeepalivedConfig is one keepalived.conf as the lab writes it: global_defs and one
// vrrp_instance (more with More). Options.ConfigureKeepalived may change it.
type KeepalivedConfig struct {
	RouterID     string
	NotifyFIFO   string
	GARPInterval time.Duration // global vrrp_garp_interval: between the GARPs of a burst
	GlobalExtra  []string      // more global_defs lines

	Instance     string // VI_1
	State        string // initial state, BACKUP (nopreempt needs it)
	Interface    string
	VRID         int
	Priority     int
	AdvertInt    time.Duration
	Version      int
	NoPreempt    bool
	AuthPass     string       // PASS authentication (v2); "" none
	UnicastSrc   netip.Addr   // with UnicastPeers: unicast mode
	UnicastPeers []netip.Addr // empty: multicast
	VIPs         []netip.Prefix
	GARPRepeat   int           // garp_master_repeat
	GARPDelay    time.Duration // garp_master_delay, second burst; 0: none
	Extra        []string      // more vrrp_instance lines

	Scripts []VRRPScript // vrrp_script blocks, each tracked by the instance (track_script)

	// More are further vrrp_instance blocks after the first (active-active: one
	// instance per VIP group, each MASTER on its own node). Each is written like the
	// first, with the same settings and scripts, but its own name, VRID, priority and
	// addresses.
	More []KeepalivedInstance
}

// KeepalivedInstance is what sets one more vrrp_instance of a KeepalivedConfig apart
// from the first.
type KeepalivedInstance struct {
	Instance string
	VRID     int
	Priority int
	VIPs     []netip.Prefix
}

// instances returns the first instance's config, then one per entry of More: each
// a copy of c with that instance's name, VRID, priority and addresses.
func (c KeepalivedConfig) instances() []KeepalivedConfig {
	out := []KeepalivedConfig{c}
	for _, m := range c.More {
		d := c
		d.Instance, d.VRID, d.Priority, d.VIPs = m.Instance, m.VRID, m.Priority, m.VIPs
		out = append(out, d)
	}
	return out
}

// AllVIPs returns the addresses of every instance, the first one's first.
func (c KeepalivedConfig) AllVIPs() []netip.Prefix {
	var out []netip.Prefix
	for _, in := range c.instances() {
		out = append(out, in.VIPs...)
	}
	return out
}

// VRRPScript is one vrrp_script block of a keepalived.conf.
type VRRPScript struct {
	Name     string
	Script   string        // the command keepalived runs
	Interval time.Duration // whole seconds: keepalived 2.2.7 takes 1 s at least, no fractions
	Fall     int
	Rise     int
	Weight   int // 0: a failing script puts the instance in FAULT
}

// ScriptCheck is Options.KeepalivedCheck: every keepalived node tracks its own HAProxy
// with a vrrp_script, chk_haproxy, that runs a shell script the lab writes next to the
// node's keepalived.conf: `kill -0` on the PID in the node's HAProxy pidfile (which the
// lab writes at every start of HAProxy). It never matches another node's HAProxy, as
// `killall -0 haproxy` would on a host that runs several labs.
type ScriptCheck struct {
	Interval time.Duration // whole seconds, at least 1 s (keepalived 2.2.7 rejects "0.2")
	Fall     int           // default 2
	Rise     int           // default 2
	Weight   int           // 0 (FAULT on failure) or a priority change
}

// HAProxyScriptName is the vrrp_script of Options.KeepalivedCheck.
const HAProxyScriptName = "chk_haproxy"

// checkScriptPath is where the lab writes n's chk_haproxy script.
func checkScriptPath(n *Node) string { return filepath.Join(n.Dir, HAProxyScriptName+".sh") }

// writeCheckScript writes n's chk_haproxy script.
func (l *Lab) writeCheckScript(n *Node) error {
	body := fmt.Sprintf("#!/bin/sh\n# written by the raftvip e2e lab: exits 0 while %s's HAProxy runs\n"+
		"pid=$(cat %s) || exit 1\nexec kill -0 \"$pid\"\n", n.Name, n.HAProxyPIDFile)
	if err := os.WriteFile(checkScriptPath(n), []byte(body), 0o755); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

// check validates a ScriptCheck against what keepalived accepts.
func (c ScriptCheck) check() error {
	if c.Interval < time.Second || c.Interval%time.Second != 0 {
		return fmt.Errorf("lab: keepalived check interval %v: keepalived 2.2.7 takes whole seconds, at least 1 s", c.Interval)
	}
	return nil
}

// keepalivedConfig builds n's configuration from the lab's options.
func (l *Lab) keepalivedConfig(n *Node) KeepalivedConfig {
	g := l.opts.vrrpGroup()
	c := KeepalivedConfig{
		RouterID:     l.Prefix + "-" + n.Name,
		NotifyFIFO:   n.KA.FIFO,
		GARPInterval: l.opts.GARPInterval,
		Instance:     "VI_1",
		State:        "BACKUP",
		Interface:    "eth0",
		VRID:         g.VRID,
		Priority:     n.KA.Priority,
		AdvertInt:    g.AdvertInterval,
		Version:      g.Version,
		NoPreempt:    g.NoPreempt,
		AuthPass:     g.AuthPass,
		GARPRepeat:   l.opts.GARPRepeat,
		// raftvip sends one burst of GARPRepeat × GARPInterval: no second burst.
		GARPDelay: 0,
	}
	for _, v := range l.VIPs() {
		c.VIPs = append(c.VIPs, netip.PrefixFrom(v, l.VIP4.Bits()))
	}
	if k := l.opts.KeepalivedCheck; k != nil {
		s := VRRPScript{Name: HAProxyScriptName, Script: checkScriptPath(n), Interval: k.Interval, Fall: k.Fall, Rise: k.Rise, Weight: k.Weight}
		if s.Fall == 0 {
			s.Fall = 2
		}
		if s.Rise == 0 {
			s.Rise = 2
		}
		c.Scripts = append(c.Scripts, s)
	}
	if g.Unicast {
		c.UnicastSrc = n.Addr4.Addr()
		for _, m := range l.AllNodes() {
			if m != n {
				c.UnicastPeers = append(c.UnicastPeers, m.Addr4.Addr())
			}
		}
	}
	if l.opts.ConfigureKeepalived != nil {
		l.opts.ConfigureKeepalived(n, &c)
	}
	return c
}

// seconds renders d as keepalived's decimal seconds ("1", "0.1", "0.000001").
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

func (c KeepalivedConfig) String() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# written by the raftvip e2e lab")
	w("global_defs {")
	w("    router_id %s", c.RouterID)
	if c.NotifyFIFO != "" {
		w("    vrrp_notify_fifo %s", c.NotifyFIFO)
	}
	if c.GARPInterval > 0 {
		w("    vrrp_garp_interval %s", seconds(c.GARPInterval))
	}
	if len(c.Scripts) > 0 {
		// Without it keepalived looks for a user keepalived_script and warns.
		w("    script_user root")
	}
	for _, x := range c.GlobalExtra {
		w("    %s", x)
	}
	w("}")
	w("")
	for _, s := range c.Scripts {
		w("vrrp_script %s {", s.Name)
		w("    script \"%s\"", s.Script)
		w("    interval %d", int(s.Interval.Round(time.Second).Seconds()))
		w("    fall %d", s.Fall)
		w("    rise %d", s.Rise)
		w("    weight %d", s.Weight)
		w("}")
		w("")
	}
	for i, in := range c.instances() {
		if i > 0 {
			w("")
		}
		in.writeInstance(w)
	}
	return b.String()
}

// writeInstance writes c's vrrp_instance block (the first; More is not looked at).
func (c KeepalivedConfig) writeInstance(w func(format string, args ...any)) {
	w("vrrp_instance %s {", c.Instance)
	w("    state %s", c.State)
	w("    interface %s", c.Interface)
	w("    version %d", c.Version)
	w("    virtual_router_id %d", c.VRID)
	w("    priority %d", c.Priority)
	w("    advert_int %s", seconds(c.AdvertInt))
	if c.NoPreempt {
		w("    nopreempt")
	}
	if c.AuthPass != "" {
		w("    authentication {")
		w("        auth_type PASS")
		w("        auth_pass %s", c.AuthPass)
		w("    }")
	}
	if len(c.UnicastPeers) > 0 {
		if c.UnicastSrc.IsValid() {
			w("    unicast_src_ip %s", c.UnicastSrc)
		}
		w("    unicast_peer {")
		for _, p := range c.UnicastPeers {
			w("        %s", p)
		}
		w("    }")
	}
	w("    virtual_ipaddress {")
	for _, v := range c.VIPs {
		w("        %s dev %s", v, c.Interface)
	}
	w("    }")
	if c.GARPRepeat > 0 {
		w("    garp_master_repeat %d", c.GARPRepeat)
	}
	w("    garp_master_delay %d", int(c.GARPDelay.Round(time.Second).Seconds()))
	if len(c.Scripts) > 0 {
		w("    track_script {")
		for _, s := range c.Scripts {
			w("        %s", s.Name)
		}
		w("    }")
	}
	for _, x := range c.Extra {
		w("    %s", x)
	}
	w("}")
}

// writeKeepalivedConfig writes n's keepalived.conf from the lab's options.
func (l *Lab) writeKeepalivedConfig(n *Node) error {
	return l.WriteKeepalivedConfig(n, l.keepalivedConfig(n))
}

// WriteKeepalivedConfig writes c as n's keepalived.conf; it takes effect at the next
// StartKeepalived.
func (l *Lab) WriteKeepalivedConfig(n *Node, c KeepalivedConfig) error {
	if n.KA == nil {
		return fmt.Errorf("lab: %s is not a keepalived node", n.Name)
	}
	if err := os.WriteFile(n.KA.Config, []byte(c.String()), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	n.KA.mu.Lock()
	n.KA.Priority = c.Priority
	n.KA.vips = c.AllVIPs()
	n.KA.mu.Unlock()
	return nil
}

// KeepalivedConfigOf returns the configuration the lab would write for n (to change
// and write with WriteKeepalivedConfig).
func (l *Lab) KeepalivedConfigOf(n *Node) KeepalivedConfig { return l.keepalivedConfig(n) }

// vrrpSection is the vrrp: section of load balancer n, nil without Options.VRRP.
func (l *Lab) vrrpSection(n *Node) *VRRPSection {
	if l.opts.VRRP == nil {
		return nil
	}
	g := l.opts.vrrpGroup()
	s := &VRRPSection{
		Enabled:        true,
		Version:        g.Version,
		VRID:           g.VRID,
		AdvertInterval: durationString(g.AdvertInterval),
		AuthPass:       g.AuthPass,
	}
	if g.Unicast {
		s.UnicastSrc = n.Addr4.Addr().String()
		for _, m := range l.KANodes {
			s.UnicastPeers = append(s.UnicastPeers, m.Addr4.Addr().String())
		}
		for _, m := range l.Nodes {
			if m != n {
				s.UnicastPeers = append(s.UnicastPeers, m.Addr4.Addr().String())
			}
		}
	}
	return s
}
