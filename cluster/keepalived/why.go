package keepalived

import (
	"strings"
)

// Why each keepalived option that Convert does not convert is not needed or
// not supported, and what to do instead.

const (
	notNeeded     = "not needed: "
	notSupported  = "not supported: "
	linkHint      = "for the same effect add a check, e.g. {name: link, type: script, command: [grep, -qx, up, /sys/class/net/IF/operstate], weight: 0}"
	whyProcTuning = notNeeded + "a setting of keepalived's own processes; raftvip is one process (tune it with its systemd unit)"
	whyMail       = notSupported + "raftvip sends no mail; send it from a notify hook instead: notify.script: [/usr/local/sbin/vip-mail] is run at every change with keepalived's arguments (INSTANCE group state priority), and can call mail(1) or sendmail"
	whySNMP       = notSupported + "raftvip has no SNMP or DBus; it exports Prometheus metrics (metrics.listen) and raftvip status --json"
	whyFIFO       = notSupported + "raftvip has no notify FIFO; notify.script gets the same arguments (INSTANCE name STATE priority)"
	whyGARPGlobal = notNeeded + "a new holder sends vip.garp.repeat gratuitous ARPs (neighbour advertisements for IPv6) vip.garp.interval apart, by default 5, 1 s apart"
	whyLVS        = notSupported + "raftvip does not configure IPVS; HAProxy does the balancing"
	whyStatic     = notNeeded + "addresses, routes and rules that never move belong to the system's network configuration, not raftvip's"
	whyTracker    = notSupported + "raftvip tracks health with checks (script, process, http, tcp, haproxy); write one as a check"
)

// globalWhy says why a global_defs setting is not converted.
func globalWhy(key string) string {
	switch {
	case key == "include":
		return topWhy(key)
	case key == "router_id":
		return notNeeded + "node.name names the node"
	case strings.HasPrefix(key, "notification_email") || strings.HasPrefix(key, "smtp_"):
		return whyMail
	case strings.HasPrefix(key, "enable_snmp") || strings.HasPrefix(key, "snmp_") || strings.HasPrefix(key, "enable_dbus") || key == "enable_traps":
		return whySNMP
	case key == "enable_script_security" || key == "script_user":
		return notSupported + "raftvip runs checks and notify hooks as its own user (root under systemd) and does not check who may write them: make sure only root can"
	case strings.Contains(key, "notify_fifo"):
		return whyFIFO
	case strings.Contains(key, "garp") || strings.Contains(key, "gna_"):
		return whyGARPGlobal
	case key == "vrrp_strict":
		return notNeeded + "raftvip's adverts keep to the RFC (TTL 255, no address owner); note that vrrp_strict also forbids authentication on the keepalived side"
	case key == "vrrp_skip_check_adv_addr":
		return notNeeded + "raftvip accepts adverts whose address list differs from vip.addresses (it logs a warning)"
	case key == "vrrp_check_unicast_src":
		return notSupported + "raftvip accepts adverts from any source with TTL 255, the VRID and the authentication of vrrp"
	case key == "vrrp_iptables" || key == "vrrp_ipsets" || strings.HasPrefix(key, "nftables") || strings.HasPrefix(key, "vrrp_nftables"):
		return notNeeded + "raftvip installs no firewall rules for the VIPs (vrrp_strict's blocking of VIP traffic does not apply)"
	case strings.HasPrefix(key, "lvs_") || strings.HasPrefix(key, "checker_"):
		return whyLVS
	case strings.HasPrefix(key, "vrrp_mcast_group"):
		return notSupported + "raftvip sends to the standard groups 224.0.0.18 and ff02::12 only"
	case key == "dynamic_interfaces":
		return notNeeded + "raftvip keeps working when vip.interface goes and comes back; it adds the VIP again"
	case key == "vrrp_startup_delay" || key == "vrrp_delay_after_boot":
		return notNeeded + "a raftvip node listens one master-down interval after it starts before it may hold, as a VRRP backup starting up does"
	case strings.HasPrefix(key, "vrrp_notify_priority_changes") || key == "notify_priority_changes":
		return notSupported + "raftvip's notify hooks run on changes of state, not of priority"
	case key == "max_auto_priority" || strings.HasPrefix(key, "vrrp_rt_") || strings.HasPrefix(key, "vrrp_rlimit") ||
		strings.HasSuffix(key, "_no_swap") || strings.HasSuffix(key, "_priority") || strings.HasSuffix(key, "_process_name") ||
		strings.HasSuffix(key, "_cpu_affinity") || key == "process_names" || key == "process_name" || strings.HasSuffix(key, "_rx_bufs_policy") ||
		strings.HasSuffix(key, "_rx_bufs_multiplier") || key == "use_pid_dir" || key == "instance" || key == "child_wait_time":
		return whyProcTuning
	case key == "vrrp_version":
		return "" // converted
	}
	return notSupported + "raftvip has no equivalent of this global setting"
}

// topWhy says why a top-level keepalived block is not converted.
func topWhy(key string) string {
	switch key {
	case "include":
		return notSupported + "convert reads one file; if the instance or its vrrp_scripts are in the included files, put them into one file and convert that"
	case "vrrp_sync_group":
		return notSupported + "a raftvip cluster moves all of vip.addresses together, as one group; convert one instance that lists every VIP (mind that keepalived nodes of the group must advertise the same list)"
	case "virtual_server", "virtual_server_group", "real_server", "virtual_server_defaults":
		return whyLVS
	case "static_ipaddress", "static_routes", "static_rules":
		return whyStatic
	case "vrrp_track_process", "vrrp_track_file", "track_file", "bfd_instance", "track_group":
		return whyTracker
	case "garp_group":
		return whyGARPGlobal
	case "linkbeat_interfaces", "interface_up_down_delays":
		return notNeeded + "raftvip does not watch link state"
	case "net_namespace", "net_namespace_ipvs", "namespace_with_ipsets":
		return notSupported + "run raftvip inside the namespace instead (ip netns exec, or NetworkNamespacePath= in its unit)"
	}
	return notSupported + "raftvip keepalived convert does not know this keyword"
}

// instanceWhy says why a vrrp_instance option is not converted, "" if it is one
// the converter handles.
func instanceWhy(key string) string {
	switch key {
	case "state", "interface", "virtual_router_id", "priority", "advert_int", "version", "authentication",
		"nopreempt", "preempt", "preempt_delay", "unicast_src_ip", "mcast_src_ip", "unicast_peer",
		"virtual_ipaddress", "track_script", "notify_master", "notify_backup", "notify_fault", "notify_stop",
		"notify", "garp_master_repeat", "garp_master_refresh", "dont_track_primary":
		return ""
	case "track_interface":
		return notSupported + "raftvip does not watch links; " + linkHint
	case "track_file", "track_process", "track_bfd", "track_src_ip":
		return whyTracker
	case "use_vmac", "use_vmac_addr", "vmac_xmit_base", "use_ipvlan":
		return notSupported + "raftvip puts the VIPs on vip.interface with the interface's own MAC and moves them with gratuitous ARP; a keepalived node with use_vmac still interoperates"
	case "unicast_fault_no_peer":
		return notSupported + "raftvip never enters FAULT for an empty peer list; an empty vrrp.unicast_peers means multicast"
	case "check_unicast_src":
		return notSupported + "raftvip accepts adverts from any source with TTL 255, the VRID and the authentication of vrrp"
	case "old_unicast_checksum":
		return notSupported + "raftvip uses the RFC's VRRPv3 checksum (pseudo-header of the real destination); upgrade keepalived past 1.3.6 on the other nodes"
	case "native_ipv6":
		return notNeeded + "raftvip takes the address family from vip.addresses"
	case "vrf":
		return notSupported + "raftvip does not bind to a VRF"
	case "mcast_dst_ip":
		return notSupported + "raftvip sends to 224.0.0.18 (ff02::12) or to unicast peers only"
	case "unicast_ttl":
		return notSupported + "raftvip sends with TTL 255 and drops adverts with any other TTL, unicast too (keepalived sends 255 by default)"
	case "virtual_ipaddress_excluded":
		return notSupported + "raftvip advertises every address of vip.addresses, and keepalived before 2.3.3 ignores adverts whose list differs from its virtual_ipaddress; add these addresses to vip.addresses once no keepalived node is left in the group"
	case "promote_secondaries":
		return notSupported + "set the sysctl net.ipv4.conf.IF.promote_secondaries=1 on the host instead"
	case "linkbeat_use_polling":
		return notNeeded + "raftvip does not watch link state"
	case "v3_checksum_as_v2":
		return notNeeded + "raftvip accepts VRRPv3 adverts with or without the pseudo-header, and keepalived with this option does not check the checksum of raftvip's"
	case "virtual_routes", "virtual_rules":
		return notSupported + "raftvip moves addresses only; keep routes static, or add them from notify.master"
	case "accept":
		return notNeeded + "a raftvip VIP is an ordinary local address: the holder accepts traffic to it"
	case "no_accept":
		return notSupported + "a raftvip VIP is an ordinary local address: the holder accepts traffic to it"
	case "skip_check_adv_addr":
		return notNeeded + "raftvip accepts adverts whose address list differs from vip.addresses (it logs a warning)"
	case "strict_mode":
		return notNeeded + "raftvip's adverts keep to the RFC (TTL 255, no address owner)"
	case "debug":
		return notNeeded + "set log.level: debug instead"
	case "notify_deleted", "notify_master_rx_lower_pri", "notify_priority_changes":
		return notSupported + "raftvip's notify hooks are master, backup, fault, stop and script, on changes of state"
	case "smtp_alert":
		return whyMail
	case "lvs_sync_daemon_interface":
		return whyLVS
	case "garp_master_delay":
		return notNeeded + "raftvip sends one burst of vip.garp.repeat gratuitous ARPs vip.garp.interval apart (5 × 1 s by default), which spans the time of keepalived's second burst"
	case "garp_master_refresh_repeat", "garp_extra_if", "vmac_garp_intvl":
		return notSupported + "raftvip sends one gratuitous ARP per VIP every vip.garp.refresh, on vip.interface only"
	case "garp_lower_prio_delay", "garp_lower_prio_repeat":
		return notNeeded + "the holder answers an advert of lower priority at once with its own advert and gratuitous ARPs"
	case "down_timer_adverts":
		return notSupported + "raftvip's master-down interval is the RFC's, 3 × advert interval + skew"
	case "timer_expired_backup", "thread_timer_expired":
		return notNeeded + "raftvip decides by Raft, not by a local timer that can fire late"
	case "lower_prio_no_advert":
		return notSupported + "a raftvip holder always answers an advert of lower priority with its own (keepalived's default)"
	case "higher_prio_send_advert":
		return notSupported + "a raftvip holder that hears a higher priority goes backup without a last advert"
	case "owner_ignore_adverts":
		return notSupported + "raftvip's priority is at most 254: it is never the address owner"
	case "kernel_rx_buf_size":
		return whyProcTuning
	case "auth_hmac":
		return "" // an error: see instance
	case "include":
		return topWhy("include")
	}
	return notSupported + "raftvip keepalived convert does not know this option"
}
