package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/raftvip/raftvip/cluster/api"
	"github.com/raftvip/raftvip/cluster/config"
	"github.com/raftvip/raftvip/election"
	"github.com/raftvip/raftvip/store"
	"github.com/raftvip/raftvip/vrrpcompat"
)

// The cluster as one VRRP router: the holder advertises with its
// effective priority, every node listens, and a foreign master that outranks the
// cluster keeps the leader from holding until its master-down timer fires.

// startVRRP opens the VRRP speaker when vrrp.enabled.
func (n *Node) startVRRP() error {
	vc := n.cfg.VRRP
	if !vc.Enabled {
		return nil
	}
	family := 4
	var addrs []netip.Addr
	for _, p := range n.cfg.VIP.Addresses {
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
		IsMember: n.isMemberAddr,
		Logger:   n.log.With("component", "vrrp"),
		OnChange: func() { signal(n.vrrpCh) },
	})
	if err != nil {
		return fmt.Errorf("cluster: vrrp (vrrp.interface %s): %w", vc.Interface, err)
	}
	n.vrrp = sp
	// Like a VRRP router that starts as backup (RFC 3768 §6.4.1, keepalived), listen
	// for one master-down interval before holding: a foreign master of higher
	// priority must be heard before this node claims, not after.
	n.vrrpListenUntil = time.Now().Add(masterDownInterval(vc, n.basePriority()))
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

// vrrpSelf is the cluster as a VRRP router, for the foreign-master rules.
func (n *Node) vrrpSelf() vrrpcompat.Self {
	lh, _ := n.local()
	return vrrpcompat.Self{
		Priority: lh.Priority,
		Addr:     n.cfg.VRRP.UnicastSrc,
		Preempt:  n.cfg.Preempt,
		Interval: n.cfg.VRRP.Interval,
		Version:  n.cfg.VRRP.Version,
	}
}

// vrrpGate is the elector's Gate: a foreign master that outranks the cluster keeps
// the leader from holding until its master-down timer fires.
func (n *Node) vrrpGate(now time.Time) (string, time.Time) {
	if n.vrrp == nil {
		return "", time.Time{}
	}
	v := n.vrrp.Verdict(n.vrrpSelf(), now)
	if v.Blocked {
		return v.Reason, v.Until
	}
	// A cluster member's adverts mean the cluster was master, so no foreign router
	// outranked it: a node that heard one need not wait (rolling restarts).
	if now.Before(n.vrrpListenUntil) && !n.vrrpHeardMember.Load() && n.vrrp.Stats().Dropped[vrrpcompat.ReasonMember] > 0 {
		n.vrrpHeardMember.Store(true)
	}
	if now.Before(n.vrrpListenUntil) && !n.vrrpHeardMember.Load() {
		return fmt.Sprintf("%s listening for a VRRP master for one master-down interval after start (until %s)",
			vrrpBackupWord, n.vrrpListenUntil.Format("15:04:05.000")), n.vrrpListenUntil
	}
	return "", time.Time{}
}

// vrrpBackupWord starts every reason the VRRP gate gives.
const vrrpBackupWord = "VRRP backup:"

// vrrpChanged runs when the speaker heard something new: the elector re-decides, and a
// holder facing a lower-priority foreign master preempts it at once (advert + GARP).
func (n *Node) vrrpChanged() {
	n.elector.Wake()
	n.mu.Lock()
	holding := n.holding
	n.mu.Unlock()
	if !holding {
		return
	}
	if v := n.vrrp.Verdict(n.vrrpSelf(), time.Now()); v.Preempt && v.Master != nil {
		n.log.Info("preempting a lower-priority VRRP master", "router", v.Master.Addr.String(), "priority", v.Master.Priority)
		n.vrrp.AdvertNow()
		n.vip.Announce()
	}
}

// vrrpDropped is the elector's OnDrop: a holder that gives up the VIP with no other
// cluster node taking over resigns (a priority-0 advert), so the keepalived backups
// take over after their skew time rather than their whole master-down interval. A
// planned move, whose target advertises in a few milliseconds, and a drop because a
// foreign master outranks the cluster, do not resign.
func (n *Node) vrrpDropped(reason election.Reason, planned bool) {
	if n.vrrp == nil {
		return
	}
	n.vrrp.SetMaster(false, 0)
	if planned || n.vrrp.Verdict(n.vrrpSelf(), time.Now()).Blocked {
		return
	}
	n.log.Info("released the VIP with no cluster successor; resigning as VRRP master", "reason", string(reason))
	n.vrrp.Resign()
}

// vrrpTakeoverWait is how long a stopping holder waits for another member's claim
// before it resigns as VRRP master.
const vrrpTakeoverWait = 500 * time.Millisecond

// vrrpStopped resigns for a node that held the VIP when it stopped, unless another
// cluster node claimed it after a successful hand-off.
func (n *Node) vrrpStopped(heldAtStop, handedOff bool) {
	if n.vrrp == nil || !heldAtStop {
		return
	}
	if !handedOff {
		n.log.Info("hand-off failed; resigning as VRRP master")
		n.vrrp.Resign()
		return
	}
	giveUp := time.NewTimer(vrrpTakeoverWait)
	defer giveUp.Stop()
	for {
		applied := n.applied.wait()
		if r, ok := n.fsm.Last(); ok && r.Kind == store.KindClaim && r.Node != n.cfg.Node.Name {
			return
		}
		select {
		case <-applied:
		case <-giveUp.C:
			n.log.Info("no cluster node took the VIP over; resigning as VRRP master")
			n.vrrp.Resign()
			return
		}
	}
}

// isMemberAddr reports whether addr belongs to a cluster member: their adverts are
// the cluster's own.
func (n *Node) isMemberAddr(addr netip.Addr) bool {
	addr = addr.Unmap()
	if addr == n.cfg.Node.Bind || addr == n.cfg.VRRP.UnicastSrc {
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

// vrrpStatus is the vrrp part of status.
func (n *Node) vrrpStatus(holding bool) api.VRRPStatus {
	st := api.VRRPStatus{Role: "disabled", Foreign: []api.VRRPRouter{}, Dropped: map[string]uint64{}}
	if n.vrrp == nil {
		return st
	}
	vc := n.cfg.VRRP
	st.Enabled, st.Version, st.VRID, st.Role = true, vc.Version, vc.VRID, "backup"
	if holding {
		st.Role = "master"
	}
	now := time.Now()
	v := n.vrrp.Verdict(n.vrrpSelf(), now)
	if v.Blocked {
		st.Reason = v.Reason
	}
	stats := n.vrrp.Stats()
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

// runVRRP runs the speaker until ctx ends.
func (n *Node) runVRRP(ctx context.Context) {
	if n.vrrp == nil {
		return
	}
	if err := n.vrrp.Run(ctx); err != nil && ctx.Err() == nil {
		n.log.Error("vrrp speaker stopped", "err", err)
	}
}
