package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"sync/atomic"
	"time"

	"github.com/raftvip/raftvip/cluster/api"
	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/election"
	"github.com/raftvip/raftvip/vrrpcompat"
)

// Each group with vrrp.enabled is one VRRP router next to keepalived (DESIGN §4, §9.2):
// every node listens on the group's VRID, the holder advertises with its effective
// priority, and a foreign master that outranks the cluster keeps the group from being
// held (the holder's gate) and from being placed (the verdict travels in the
// standing) until its master-down timer fires.

// groupVRRP is one group's VRRP speaker.
type groupVRRP struct {
	sp *vrrpcompat.Speaker
	vc config.VRRPConfig
	// listenUntil: until then the group is not held, while the node listens for a
	// VRRP master.
	listenUntil time.Time
	heardMember atomic.Bool // a cluster member's advert was heard since start
}

// startVRRP opens a speaker for every group with vrrp.enabled.
func (n *Node) startVRRP() error {
	for _, g := range n.groups {
		vc := g.cfg.VRRP
		if !vc.Enabled {
			continue
		}
		family := 4
		var addrs []netip.Addr
		for _, p := range g.cfg.Addresses {
			addrs = append(addrs, p.Addr())
			if p.Addr().Is6() {
				family = 6
			}
		}
		src := vc.UnicastSrc
		if (family == 6) != src.Is6() {
			src = netip.Addr{} // the speaker picks the interface's address of the family
		}
		sp, err := vrrpcompat.NewSpeaker(vrrpcompat.Config{
			Instance: vrrpcompat.Instance{Version: vc.Version, VRID: uint8(vc.VRID), AuthPass: vc.AuthPass, Interval: vc.Interval},
			Conn:     vrrpcompat.ConnConfig{Interface: vc.Interface, Family: family, Src: src, Peers: vc.UnicastPeers},
			Addrs:    addrs,
			Checksum: vrrpcompat.ChecksumPseudoHeader,
			IsMember: func(a netip.Addr) bool { return n.isMemberAddr(vc, a) },
			Logger:   n.log.With("component", "vrrp", "group", g.cfg.Name),
			OnChange: func() { signal(n.vrrpCh) },
		})
		if err != nil {
			return fmt.Errorf("cluster: group %s: vrrp (vrrp.interface %s): %w", g.cfg.Name, vc.Interface, err)
		}
		// Like a VRRP router that starts as backup (RFC 3768 §6.4.1, keepalived),
		// listen for one master-down interval before holding: a foreign master of
		// higher priority must be heard before this node holds, not after.
		g.vrrp = &groupVRRP{sp: sp, vc: vc, listenUntil: time.Now().Add(masterDownInterval(vc, g.cfg.Priority))}
	}
	return nil
}

// masterDownInterval is 3 × the advert interval plus the skew of priority.
func masterDownInterval(vc config.VRRPConfig, priority int) time.Duration {
	unit := time.Second // v2 skew is in seconds whatever the interval
	if vc.Version == 3 {
		unit = vc.Interval
	}
	return 3*vc.Interval + time.Duration(256-priority)*unit/256
}

// vrrpSelf is the cluster as group g's VRRP router, for the foreign-master rules.
func (n *Node) vrrpSelf(g *groupRT) vrrpcompat.Self {
	return vrrpcompat.Self{
		Priority: n.groupPriority(g.cfg.Name),
		Addr:     g.vrrp.vc.UnicastSrc,
		Preempt:  g.cfg.Preempt,
		Interval: g.vrrp.vc.Interval,
		Version:  g.vrrp.vc.Version,
	}
}

// vrrpGate is the holder's Gate: a foreign master that outranks the cluster keeps
// group g from being held until its master-down timer fires.
func (n *Node) vrrpGate(name string, now time.Time) (string, time.Time) {
	g := n.byName[name]
	if g == nil || g.vrrp == nil {
		return "", time.Time{}
	}
	v := g.vrrp.sp.Verdict(n.vrrpSelf(g), now)
	if v.Blocked {
		return v.Reason, v.Until
	}
	// A cluster member's adverts mean the cluster was master, so no foreign router
	// outranked it: a node that heard one need not wait (rolling restarts).
	gv := g.vrrp
	if now.Before(gv.listenUntil) && !gv.heardMember.Load() && gv.sp.Stats().Dropped[vrrpcompat.ReasonMember] > 0 {
		gv.heardMember.Store(true)
	}
	if now.Before(gv.listenUntil) && !gv.heardMember.Load() {
		return fmt.Sprintf("%s listening for a VRRP master for one master-down interval after start (until %s)",
			vrrpBackupWord, gv.listenUntil.Format("15:04:05.000")), gv.listenUntil
	}
	return "", time.Time{}
}

// vrrpBackupWord starts every reason the VRRP gate gives.
const vrrpBackupWord = "VRRP backup:"

// vrrpChanged runs when a speaker heard something new: the holder decides again, the
// leader hears of the verdict, and a holder facing a lower-priority foreign master
// preempts it at once (advert + GARP).
func (n *Node) vrrpChanged() {
	n.holder.Wake()
	n.holder.Renew()
	for _, g := range n.groups {
		if g.vrrp == nil || !n.holder.Entitled(g.cfg.Name) {
			continue
		}
		if v := g.vrrp.sp.Verdict(n.vrrpSelf(g), time.Now()); v.Preempt && v.Master != nil {
			n.log.Info("preempting a lower-priority VRRP master", "group", g.cfg.Name, "router", v.Master.Addr.String(), "priority", v.Master.Priority)
			g.vrrp.sp.AdvertNow()
			g.vip.Announce()
		}
	}
}

// vrrpPriorities gives every speaker the group's effective priority.
func (n *Node) vrrpPriorities() {
	for _, g := range n.groups {
		if g.vrrp != nil {
			g.vrrp.sp.SetPriority(n.groupPriority(g.cfg.Name))
		}
	}
}

// vrrpDropped runs when this node lets group g go: it stops advertising, and when no
// cluster node takes over (not a planned move) and no foreign master outranks the
// cluster, it resigns (a priority-0 advert), so the keepalived backups take over
// after their skew time rather than their whole master-down interval. A node that
// stops resigns after a planned move too when the node it handed over to is going
// away as well (every agent SIGTERMed at once): that one will never hold.
func (n *Node) vrrpDropped(g *groupRT, c election.GroupChange) {
	g.vrrp.sp.SetMaster(false, 0)
	if c.Moved && !(n.stopping.Load() && n.successorGoing(g.cfg.Name)) || g.vrrp.sp.Verdict(n.vrrpSelf(g), time.Now()).Blocked {
		return
	}
	n.log.Info("let the group go with no cluster successor; resigning as VRRP master", "group", g.cfg.Name, "reason", c.Reason)
	g.vrrp.sp.Resign()
}

// heardLately reports whether this node heard node's renewals within the last few
// renewal periods: a live node renews every period, one silent for a few is most
// likely dead or cut off.
func (n *Node) heardLately(node string) bool {
	return time.Since(n.placer.LastHeard(node)) <= max(4*n.cfg.Cluster.Timing.RenewInterval(), 100*time.Millisecond)
}

// successorGoing reports whether group g's assignee, another node, said last that it
// stops or leaves, or has not been heard lately.
func (n *Node) successorGoing(g string) bool {
	a := n.stores.Log.Group(g).Current.Node
	if a == "" || a == n.cfg.Node.Name {
		return false
	}
	st, ok := n.placer.Standings()[a]
	return !ok || !n.heardLately(a) || st.Ineligible == "stopping" || st.Ineligible == "leaving the cluster"
}

// isMemberAddr reports whether addr belongs to a cluster member: their adverts are
// the cluster's own.
func (n *Node) isMemberAddr(vc config.VRRPConfig, addr netip.Addr) bool {
	addr = addr.Unmap()
	if addr == n.cfg.Node.Bind || addr == vc.UnicastSrc {
		return true
	}
	if n.raft != nil {
		if servers, err := n.configuration(); err == nil {
			for _, s := range servers {
				if ap, err := netip.ParseAddrPort(string(s.Address)); err == nil && ap.Addr().Unmap() == addr {
					return true
				}
			}
		}
	}
	if n.gossip != nil {
		for _, m := range n.gossip.All() {
			if m.Addr.Addr().Unmap() == addr {
				return true
			}
		}
	}
	return false
}

// vrrpStatus is the vrrp part of status for group g.
func (n *Node) vrrpStatus(g *groupRT) api.VRRPStatus {
	st := api.VRRPStatus{Role: "disabled", Foreign: []api.VRRPRouter{}, Dropped: map[string]uint64{}}
	if g == nil || g.vrrp == nil {
		return st
	}
	vc := g.vrrp.vc
	st.Enabled, st.Version, st.VRID, st.Role = true, vc.Version, vc.VRID, "backup"
	if n.holds(g.cfg.Name) {
		st.Role = "master"
	}
	now := time.Now()
	v := g.vrrp.sp.Verdict(n.vrrpSelf(g), now)
	if v.Blocked {
		st.Reason = v.Reason
	}
	stats := g.vrrp.sp.Stats()
	st.Sent, st.Received, st.Accepted = stats.Sent, stats.Received, stats.Accepted
	for r, c := range stats.Dropped {
		st.Dropped[string(r)] = c
	}
	for _, r := range stats.Routers {
		st.Foreign = append(st.Foreign, api.VRRPRouter{
			Address: r.Addr.String(), Priority: r.Priority, IntervalMS: r.Interval.Milliseconds(), Version: r.Version,
			LastSeen: r.LastSeen, Adverts: r.Adverts, Master: v.Master != nil && v.Master.Addr == r.Addr,
		})
	}
	sort.Slice(st.Foreign, func(i, j int) bool { return st.Foreign[i].Address < st.Foreign[j].Address })
	return st
}

// runVRRP runs every speaker until ctx ends.
func (n *Node) runVRRP(ctx context.Context) {
	for _, g := range n.groups {
		if g.vrrp == nil {
			continue
		}
		go func() {
			if err := g.vrrp.sp.Run(ctx); err != nil && ctx.Err() == nil {
				n.log.Error("vrrp speaker stopped", "group", g.cfg.Name, "err", err)
			}
		}()
	}
}
