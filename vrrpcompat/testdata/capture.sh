#!/bin/bash
# capture.sh records real keepalived VRRP adverts as golden packets for the vrrpcompat
# tests. It needs root, ip(8), tcpdump and keepalived; the tests themselves need none
# of them, they only read the files this script writes.
#
#   sudo vrrpcompat/testdata/capture.sh            # writes vrrpcompat/testdata/golden/*.txt
#   KEEPALIVED=/opt/ka/sbin/keepalived sudo -E vrrpcompat/testdata/capture.sh
#
# The lab is two throwaway network namespaces (rvg-ka-PID runs keepalived, rvg-cap-PID
# runs tcpdump) joined by a veth pair that is created inside them, so no host interface
# is ever touched. Addresses come from 198.18.0.0/15 and 2001:2::/48 only (plus the
# IPv6 link-local addresses, which VRRPv3 over IPv6 requires as the source; the MACs
# are fixed so those are stable). Everything is torn down by an EXIT trap, and only the
# processes this script started are stopped, by PID.
#
# Each golden file holds:
#   # tcpdump: <the tcpdump -n -v line(s) of the packet>
#   # keepalived: <version>
#   src <IP source address>
#   dst <IP destination address>
#   hex <the VRRP message, without the IP header>
set -euo pipefail

KEEPALIVED=${KEEPALIVED:-/usr/sbin/keepalived}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$HERE/golden}

NS_KA=rvg-ka-$$
NS_CAP=rvg-cap-$$
WORK=
KA_PID=
TD_PID=

die() { echo "capture.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (it builds network namespaces)"
for cmd in ip tcpdump timeout "$KEEPALIVED"; do
	command -v "$cmd" >/dev/null || die "$cmd not found"
done

stop_pid() { # stop_pid PID: TERM, wait up to 5 s, then KILL. Only PIDs we started.
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

stop_keepalived() {
	local child=
	if [ -n "$WORK" ] && [ -s "$WORK/vrrp.pid" ]; then
		child=$(cat "$WORK/vrrp.pid")
	fi
	stop_pid "$KA_PID"
	wait "$KA_PID" 2>/dev/null || true
	# The parent stops its VRRP child; if the parent had to be killed, stop the child
	# too (it is ours: the parent we started forked it and wrote its PID).
	stop_pid "$child"
	KA_PID=
	rm -f "$WORK/keepalived.pid" "$WORK/vrrp.pid"
}

cleanup() {
	local rc=$?
	set +e
	[ -n "$KA_PID" ] && stop_keepalived
	if [ -n "$TD_PID" ]; then stop_pid "$TD_PID"; wait "$TD_PID" 2>/dev/null; fi
	ip netns del "$NS_KA" 2>/dev/null
	ip netns del "$NS_CAP" 2>/dev/null
	[ -n "$WORK" ] && rm -rf "$WORK"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

WORK=$(mktemp -d /tmp/rvg-capture.XXXXXX)
VERSION=$("$KEEPALIVED" --version 2>&1 | head -n1 || true)

# --- the lab -------------------------------------------------------------------------
ip netns add "$NS_KA"
ip netns add "$NS_CAP"
for ns in "$NS_KA" "$NS_CAP"; do
	# No DAD, so the link-local source keepalived needs exists at once.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0
	ip -n "$ns" link set lo up
done
# Created inside rvg-ka, peer placed straight into rvg-cap: never in the host namespace.
ip -n "$NS_KA" link add rvg-a address 02:00:5e:12:00:01 type veth \
	peer name rvg-b address 02:00:5e:12:00:02 netns "$NS_CAP"
ip -n "$NS_KA" addr add 198.18.0.1/24 dev rvg-a
ip -n "$NS_KA" addr add 2001:2::1/64 dev rvg-a nodad
ip -n "$NS_CAP" addr add 198.18.0.2/24 dev rvg-b
ip -n "$NS_CAP" addr add 2001:2::2/64 dev rvg-b nodad
ip -n "$NS_KA" link set rvg-a up
ip -n "$NS_CAP" link set rvg-b up

# --- keepalived configurations ------------------------------------------------------
# conf NAME: prints the keepalived.conf of one case.
conf() {
	local version=3 auth= unicast= extra= vips="198.18.0.100/32
        198.18.0.101/32" interval=1
	case $1 in
	v2-noauth | v2-resign) version=2 ;;
	v2-pass)
		version=2
		auth="authentication {
        auth_type PASS
        auth_pass secret
    }" ;;
	v3-ipv4-mcast) ;;
	v3-ipv4-csum-as-v2) extra=v3_checksum_as_v2 ;;
	v3-ipv4-unicast)
		unicast="unicast_src_ip 198.18.0.1
    unicast_peer {
        198.18.0.2
    }" ;;
	v3-ipv6)
		interval=0.1
		vips="2001:2::100/64
        2001:2::101/64" ;;
	*) die "unknown case $1" ;;
	esac
	cat <<CONF
global_defs {
    router_id rvg-capture
}
vrrp_instance VI_1 {
    state MASTER
    interface rvg-a
    version $version
    virtual_router_id 51
    priority 100
    advert_int $interval
    $auth
    $unicast
    $extra
    virtual_ipaddress {
        $vips
    }
}
CONF
}

# hex2dec HEX
hex2dec() { printf '%d' "0x$1"; }

# extract NAME CAPTUREFILE: writes golden/NAME.txt from the first packet tcpdump printed.
extract() {
	local name=$1 file=$2 text hex ethertype off len src dst
	# The first packet: its text lines (not starting with a tab+0x) and its hex lines,
	# up to the next packet's first line.
	text=$(awk '/^[^ \t]/ { n++ } n == 1 && !/^[ \t]+0x[0-9a-f]+:/' "$file")
	hex=$(awk '/^[^ \t]/ { n++ } n == 1 && /^[ \t]+0x[0-9a-f]+:/ {
		sub(/^[ \t]+0x[0-9a-f]+:[ \t]+/, ""); gsub(/[ \t]/, ""); printf "%s", $0 }' "$file")
	[ -n "$hex" ] || die "$name: no packet in $file"
	ethertype=${hex:24:4}
	case $ethertype in
	0800)
		off=$((14 + 4 * $(hex2dec "${hex:29:1}")))
		len=$(($(hex2dec "${hex:32:4}") - off + 14))
		[ "${hex:46:2}" = 70 ] || die "$name: IPv4 protocol ${hex:46:2} is not 112"
		;;
	86dd)
		off=54
		len=$(hex2dec "${hex:36:4}")
		[ "${hex:40:2}" = 70 ] || die "$name: IPv6 next header ${hex:40:2} is not 112"
		;;
	*) die "$name: ethertype $ethertype" ;;
	esac
	[ $(((off + len) * 2)) -le ${#hex} ] || die "$name: frame shorter than its IP length"
	# Addresses as tcpdump printed them: "SRC > DST: VRRPvN".
	read -r src dst < <(printf '%s\n' "$text" |
		sed -n 's/.* \([0-9a-f.:]*\) > \([0-9a-f.:]*\): VRRPv.*/\1 \2/p' | head -n1)
	[ -n "$src" ] && [ -n "$dst" ] || die "$name: no addresses in: $text"
	{
		printf '%s\n' "$text" | sed 's/^[ \t]*/# tcpdump: /'
		echo "# keepalived: $VERSION"
		echo "src $src"
		echo "dst $dst"
		echo "hex ${hex:$((off * 2)):$((len * 2))}"
	} >"$OUT/$name.txt"
	echo "capture.sh: wrote $OUT/$name.txt"
}

# capture NAME [FILTER [COUNT [STOP]]]: runs keepalived with the case's configuration
# and records what tcpdump sees in the peer namespace. With STOP, keepalived is stopped
# once it is master (to catch its priority-0 advert).
capture() {
	local name=$1 filter=${2:-proto 112} count=${3:-2} stop=${4:-} cfg log i unknown
	cfg=$WORK/$name.conf
	log=$WORK/$name.log
	conf "$name" >"$cfg"
	# Debian's keepalived warns about unknown keywords and runs anyway, so a missing
	# option would silently give a different packet: refuse it instead.
	# (Not a grep -q pipeline: with pipefail, keepalived's SIGPIPE would hide the match.)
	unknown=$(ip netns exec "$NS_KA" "$KEEPALIVED" -t -f "$cfg" 2>&1 | grep -i 'unknown keyword' || true)
	if [ -n "$unknown" ]; then
		echo "capture.sh: $name: skipped, $VERSION does not support it: $unknown" >&2
		rm -f "$OUT/$name.txt"
		return 0
	fi

	ip netns exec "$NS_CAP" timeout 30 tcpdump -t -n -v -xx -c "$count" -i rvg-b "$filter" \
		>"$WORK/$name.cap" 2>"$WORK/$name.tcpdump" &
	TD_PID=$!
	for i in $(seq 50); do
		grep -q 'listening on' "$WORK/$name.tcpdump" 2>/dev/null && break
		sleep 0.1
	done

	ip netns exec "$NS_KA" "$KEEPALIVED" -n -l -D -G -P -f "$cfg" \
		-p "$WORK/keepalived.pid" -r "$WORK/vrrp.pid" >"$log" 2>&1 &
	KA_PID=$!
	if [ -n "$stop" ]; then
		for i in $(seq 100); do
			grep -q 'Entering MASTER STATE' "$log" && break
			sleep 0.1
		done
		sleep 1
		stop_keepalived
	fi

	if ! wait "$TD_PID"; then
		TD_PID=
		cat "$log" >&2
		cat "$WORK/$name.tcpdump" >&2
		die "$name: tcpdump saw no advert in 30 s"
	fi
	TD_PID=
	[ -n "$KA_PID" ] && stop_keepalived
	extract "$name" "$WORK/$name.cap"
}

mkdir -p "$OUT"
capture v2-noauth
capture v2-pass
capture v3-ipv4-mcast
capture v3-ipv4-csum-as-v2
capture v3-ipv4-unicast
capture v3-ipv6
# The priority-0 advert keepalived sends when it stops (VRRP priority is IP byte 22).
capture v2-resign 'proto 112 and ip[22] = 0' 1 stop
