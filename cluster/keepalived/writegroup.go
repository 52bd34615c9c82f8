package keepalived

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/raftvip/raftvip/cluster/config"
)

// Writing the converted instances: the one group of the vip: form, or groups:.

// writeVIP writes the vip: form's group: vip:, then priority, preempt and
// preempt_delay at the top level.
func (c *converter) writeVIP(w *yamlWriter, g *group) {
	w.kv(0, "vip", "", "")
	c.writeAddresses(w, 2, g)
	w.blank()
	c.writePolicy(w, 0, g)
	w.comment(0, "", "", minMoveComment)
}

// minMoveComment explains min_move_interval, which keepalived has no equivalent of.
var minMoveComment = fmt.Sprintf("min_move_interval (default %s) lets moves for priority happen at most that often, so a flapping check cannot flap the VIP; keepalived has no such limit.", yamlDur(config.DefaultMinMoveInterval))

// writeGroups writes groups:, an item for each instance.
func (c *converter) writeGroups(w *yamlWriter) {
	w.comment(0, "", "", "A group for each vrrp_instance, named after it, each joining keepalived's VRRP group of its vrid as one router: the group's holder advertises with its effective priority, every node listens, and a keepalived master of higher priority keeps the cluster from holding the group. On the keepalived nodes, list every raftvip node in unicast_peer when you use unicast. track lists the checks that weigh into the group (its track_script), together the groups of a vrrp_sync_group, placed as one unit.")
	w.comment(0, "", "", minMoveComment)
	w.kv(0, "groups", "", "")
	for i, g := range c.m.groups {
		if i > 0 {
			w.blank()
		}
		w.kv(2, "- name", yamlQuote(g.name), "vrrp_instance "+g.instance+atLine(g.lines["name"]))
		c.writeAddresses(w, 4, g)
		c.writePolicy(w, 4, g)
		trackC := "track_script" + atLine(g.lines["track"])
		if g.lines["track"] == 0 {
			trackC = "no track_script"
		}
		w.kv(4, "track", flowList(g.track), trackC)
		if g.together != "" {
			w.kv(4, "together", yamlQuote(g.together), "vrrp_sync_group"+atLine(g.lines["together"]))
		}
		c.writeVRRP(w, 4, g)
	}
}

// writeAddresses writes a group's interface, addresses and garp at indent.
func (c *converter) writeAddresses(w *yamlWriter, indent int, g *group) {
	w.kv(indent, "interface", yamlQuote(g.iface), "interface"+atLine(g.lines["vip.interface"]))
	addrs := make([]string, len(g.vips))
	for i, p := range g.vips {
		addrs[i] = yamlAddr(p.String())
	}
	w.kv(indent, "addresses", "["+strings.Join(addrs, ", ")+"]", "virtual_ipaddress"+atLine(g.lines["vip.addresses"]))
	var garp []string
	if g.garpRepeat >= 0 {
		garp = append(garp, fmt.Sprintf("repeat: %d", g.garpRepeat))
	}
	if g.garpRefresh >= 0 {
		garp = append(garp, "refresh: "+yamlDur(g.garpRefresh))
	}
	if len(garp) > 0 {
		w.kv(indent, "garp", "{"+strings.Join(garp, ", ")+"}", "garp_master_repeat, garp_master_refresh")
	}
}

// writePolicy writes a group's priority, preempt and preempt_delay at indent.
func (c *converter) writePolicy(w *yamlWriter, indent int, g *group) {
	if g.state != "" {
		holds := "the VIP"
		if g.groupsForm {
			holds = "the group"
		}
		w.comment(indent, "", "", fmt.Sprintf("state %s%s: raftvip has no initial state; the cluster's Raft leader decides which node holds %s, and VRRP whether the cluster or a keepalived router does.", g.state, atLine(g.stateLine), holds))
	}
	prioC := "priority" + atLine(g.lines["priority"])
	switch {
	case g.priorityFromState:
		prioC = "keepalived's 255 for a MASTER without priority, less one"
	case g.lines["priority"] == 0:
		prioC = "keepalived's default"
	}
	w.kv(indent, "priority", strconv.Itoa(g.priority), prioC)
	preemptC := "keepalived preempts by default"
	if g.lines["preempt"] > 0 {
		preemptC = map[bool]string{true: "preempt", false: "nopreempt"}[g.preempt] + atLine(g.lines["preempt"])
	}
	w.kv(indent, "preempt", strconv.FormatBool(g.preempt), preemptC)
	pdC := "preempt_delay" + atLine(g.lines["preempt_delay"])
	if g.lines["preempt_delay"] == 0 {
		pdC = "keepalived's default"
	}
	w.kv(indent, "preempt_delay", yamlDur(g.preemptDelay), pdC)
}

// writeVRRP writes a group's vrrp: at indent.
func (c *converter) writeVRRP(w *yamlWriter, indent int, g *group) {
	w.kv(indent, "vrrp", "", "")
	in := indent + 2
	w.kv(in, "enabled", "true", "")
	verC := "keepalived's default"
	switch {
	case g.versionFromGlobal:
		verC = "vrrp_version in global_defs" + atLine(g.lines["vrrp.version"])
	case g.lines["vrrp.version"] > 0:
		verC = "version" + atLine(g.lines["vrrp.version"])
	}
	if len(g.vips) > 0 && g.vips[0].Addr().Is6() {
		verC = "IPv6 VIPs: VRRPv3"
	}
	w.kv(in, "version", strconv.Itoa(g.version), verC)
	w.kv(in, "vrid", strconv.Itoa(g.vrid), "virtual_router_id"+atLine(g.lines["vrrp.vrid"]))
	ivC := "advert_int" + atLine(g.lines["vrrp.advert_interval"])
	if g.lines["vrrp.advert_interval"] == 0 {
		ivC = "keepalived's default advert_int"
	}
	w.kv(in, "advert_interval", yamlDur(g.interval), ivC)
	if g.authPass != "" {
		w.kv(in, "auth_pass", yamlQuote(g.authPass), "authentication { auth_type PASS }"+atLine(g.lines["vrrp.auth_pass"]))
	}
	if g.unicastSrc.IsValid() {
		w.kv(in, "unicast_src", yamlAddr(g.unicastSrc.String()), g.unicastSrcFrom+atLine(g.lines["vrrp.unicast_src"]))
	}
	if len(g.unicastPeers) > 0 {
		ps := make([]string, len(g.unicastPeers))
		for i, p := range g.unicastPeers {
			ps[i] = yamlAddr(p.String())
		}
		w.kv(in, "unicast_peers", "["+strings.Join(ps, ", ")+"]", "unicast_peer"+atLine(g.lines["vrrp.unicast_peers"]))
	}
	if g.vrrpIface != "" {
		w.kv(in, "interface", yamlQuote(g.vrrpIface), "interface"+atLine(g.lines["vrrp.interface"]))
	}
}
