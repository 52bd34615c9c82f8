package config

// Example returns a commented, valid config for lb1 of a three-node cluster
// (lb1..lb3 on 198.18.0.11-13) holding the VIP 198.18.0.10/24.
func Example() string {
	return `# raftvip configuration for lb1 of a three-node cluster (lb1, lb2, lb3).
# Every node has the same file except for the node section.

node:
  name: lb1                  # Raft server ID: letters, digits, - _ . (default: hostname)
  data_dir: /var/lib/raftvip # Raft log and snapshots; keep it across restarts
  bind: 198.18.0.11          # this node's address for Raft and gossip
  raft_port: 7300
  gossip_port: 7301

cluster:
  # Every voter as name=ip:port, this node included. Use an odd number (3 or 5):
  # the VIP is held only while a majority of them can talk to each other.
  peers: [lb1=198.18.0.11:7300, lb2=198.18.0.12:7300, lb3=198.18.0.13:7300]
  # Or, instead of peers, let the nodes find each other by gossip: the lowest-named of
  # three servers that see each other bootstraps the cluster. Nodes added later need
  # only join (or run raftvip join ADDR); the leader adds them.
  #   bootstrap_expect: 3
  #   join: [198.18.0.12, 198.18.0.13]   # gossip addresses; port: node.gossip_port
  # Security: the agent refuses to start without both of these.
  # Mutual TLS 1.3 on the Raft port. Make the cluster's CA once, and a certificate
  # per node, then copy ca.pem, lb1.pem and lb1-key.pem to lb1:
  #   raftvip tls ca --dir /etc/raftvip/tls
  #   raftvip tls cert lb1 --ip 198.18.0.11 --dir /etc/raftvip/tls
  tls:
    ca_file: /etc/raftvip/tls/ca.pem
    cert_file: /etc/raftvip/tls/lb1.pem
    key_file: /etc/raftvip/tls/lb1-key.pem
  # Gossip encryption, the same key on every node: paste the output of raftvip keygen.
  encrypt: "<paste the output of raftvip keygen>"
  # A lab only: run without tls and encrypt (the agent warns at every start).
  #   insecure: true
  # lan (default), fast or wan. Single knobs can be overridden:
  #   timing: {profile: lan, heartbeat_timeout: 400ms, election_timeout: 400ms}
  timing: lan

admin:
  socket: /run/raftvip/raftvip.sock # where the raftvip commands reach the agent (root only, 0600)
  # The admin API on TCP too, for tools that cannot reach the socket. Plain HTTP: keep
  # it on loopback or a management network. Clients send the token of token_file as
  # "Authorization: Bearer <token>" (raftvip --addr ... --token-file ...).
  #   listen: 127.0.0.1:7380
  #   token_file: /etc/raftvip/admin.token  # (umask 077; raftvip keygen > /etc/raftvip/admin.token)

# Prometheus metrics on http://<listen>/metrics; leave out for none.
# metrics:
#   listen: 0.0.0.0:9469

vip:
  interface: eth0
  addresses: [198.18.0.10/24] # several addresses move together; IPv6 works too
  lifetime: 2s                # kernel lifetime, refreshed while held: whole seconds
  fencing: standard           # strict: a new holder also waits the lifetime out
  garp: {repeat: 5, interval: 1s, refresh: 0s}
  drain: 25ms                 # planned moves: hold off new connections this long first

# Or, instead of vip: (a file has one of the two), several VIP groups, each placed on
# a node of its own choosing, as keepalived runs several vrrp_instances. Each group
# takes the keys of vip: and its own priority, track, preempt, preempt_delay,
# min_move_interval and vrrp; the top-level keys below are their defaults, and a
# top-level vrrp: is not allowed. Groups with the same together: name move as one.
# groups:
#   - name: web
#     interface: eth0
#     addresses: [198.18.0.10/24]
#     priority: 150        # this node's priority for web (default: priority below)
#     track: [haproxy]     # the checks that weigh into web (default: all; [] for none)
#   - name: api
#     interface: eth0
#     addresses: [198.18.0.20/24]
#     priority: 100
#     vrrp: {enabled: true, vrid: 52}

priority: 100 # 1..254; give each node its own, the highest holds the VIP when healthy

# Health checks, with keepalived's vrrp_script semantics. Every interval a probe runs;
# fall failures in a row make a check failing, rise passes in a row passing again.
# weight < 0 is subtracted from the priority while the check fails, weight > 0 added
# while it passes, and weight 0 puts the node in FAULT (it never holds the VIP) while
# the check fails.
checks:
  # HAProxy answers on its stats socket ('stats socket' in haproxy.cfg). If it does
  # not, this node's priority drops by 50, below a healthy peer's, and the VIP moves
  # there. Add backend: web (and min_up: 2) to also require UP servers in a backend.
  - {name: haproxy, type: haproxy, socket: /run/haproxy/admin.sock, interval: 1s, fall: 2, rise: 2, weight: -50}
  # Other types:
  # - {name: web, type: http, url: http://127.0.0.1:8080/health, expect_status: 200, weight: -20}
  # - {name: tls, type: tcp, address: 127.0.0.1:443, weight: -20}
  # - {name: disk, type: script, command: [/usr/local/bin/check-disk, --quick], timeout: 2s}
  # - {name: haproxy-pid, type: process, pidfile: /run/haproxy.pid}

preempt: true       # take the VIP from a holder of lower priority (false: keepalived's nopreempt)
preempt_delay: 0s   # ...once that has lasted this long (0s to 1000s)
min_move_interval: 10s # automatic moves at most once per interval, so a flapping check cannot flap the VIP

# Hooks with keepalived's contract, run in order, one at a time, never in the way of
# the election. master/backup/fault/stop run as written; script gets four arguments
# appended: INSTANCE raftvip MASTER|BACKUP|FAULT|STOP <priority>. No shell: write
# [/bin/sh, -c, "..."] for one.
notify:
  script: [/usr/bin/logger, -t, raftvip-notify]
  # master: [/usr/local/bin/vip-up]
  # fault: [/bin/sh, -c, "systemctl reload haproxy"]
  timeout: 10s

# Share a VRRP group with stock keepalived nodes (mixed fleets, migrations): the
# holder advertises on the keepalived instance's virtual_router_id with its effective
# priority, and a keepalived master of higher priority keeps raftvip from holding.
# vrrp:
#   enabled: true
#   version: 2                # keepalived's vrrp_version / version
#   vrid: 51                  # virtual_router_id
#   advert_interval: 1s       # advert_int (v2: whole seconds; v3: 10ms steps)
#   auth_pass: secret         # authentication { auth_type PASS; auth_pass ... } (v2)
#   unicast_peers: [198.18.0.14]  # unicast_peer; leave out for multicast

log:
  level: info  # debug, info, warn or error
  format: text # text or json
`
}
