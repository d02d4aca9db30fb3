# lib.sh: shared set-up for omnet's integration tests (sourced, bash).
#
# Topology, all in network namespaces this file creates and removes:
#
#   vm ──veth── cap            (capture namespace: the provider's VM side)
#                │ omnetd --role provider runs in "prov", works in "cap"
#   prov 192.0.2.1/25 ──[imp: optional impairment bridge]── 192.0.2.2/25 cons
#   cons 192.0.2.130/25 ── 192.0.2.129/25 rtr 198.51.100.1/24 ── 198.51.100.10/24 srv
#
# Only the consumer can route to the server; the provider cannot.  Every
# wait is bounded; every namespace and process is removed on exit (by PID).

set -u

OM_BUILD=${OMNET_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
OM_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OMNETD=$OM_BUILD/omnetd
OMNETCTL=$OM_BUILD/omnetctl
IMPAIR=$OM_BUILD/tests/impair
PY=${PYTHON:-python3}

OM_ID=$(printf '%04x' $(( $$ % 65536 )))
NS_VM=om$OM_ID-vm
NS_CAP=om$OM_ID-cap
NS_PROV=om$OM_ID-prov
NS_CONS=om$OM_ID-cons
NS_RTR=om$OM_ID-rtr
NS_SRV=om$OM_ID-srv
NS_IMP=om$OM_ID-imp
OM_NAMESPACES=()
OM_PIDS=()
OM_FAILED=0
OM_T=$(mktemp -d /tmp/omnet-test.XXXXXX)
# the consumer and relays drop to user omnet: they must reach their own
# state directories inside (listing the rest stays closed)
chmod 711 "$OM_T"
NETID=0123456789abcdef0123456789abcdef

PROV_ADDR=192.0.2.1
CONS_ADDR=192.0.2.2
CONS_LAN=192.0.2.130
RTR_LAN=192.0.2.129
RTR_WAN=198.51.100.1
SRV_ADDR=198.51.100.10

log() { printf '%s [%s] %s\n' "$(date +%T.%3N)" "${OM_TEST:-test}" "$*" >&2; }
pass() { printf 'PASS: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; OM_FAILED=1; }
check() {  # check "description" command...
	local what=$1; shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

om_cleanup() {
	local pid ns
	# (each step may fail for what is gone already: under set -e, as in
	# scripts/demo, that must not end the cleanup)
	for pid in "${OM_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || :
	done
	for pid in "${OM_PIDS[@]}"; do
		om_wait_gone "$pid" 5 || kill -9 "$pid" 2>/dev/null || :
	done
	for ns in "${OM_NAMESPACES[@]}"; do
		# anything still running inside is ours: kill it by PID first
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || :; done
		ip netns del "$ns" 2>/dev/null || :
	done
	# a sanitizer report in any log fails the test, whatever it checked
	if grep -lE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$OM_T"/*.log >/dev/null 2>&1; then
		echo "FAIL: sanitizer report in $(grep -lE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$OM_T"/*.log | tr '\n' ' ')"
		OM_FAILED=1
	fi
	if [ "$OM_FAILED" != 0 ] && [ -d "$OM_T" ]; then
		log "logs kept in $OM_T"
		for f in "$OM_T"/*.log; do
			[ -f "$f" ] && { echo "----- $f (last 40 lines)"; tail -n 40 "$f"; }
		done >&2
	else
		rm -rf "$OM_T"
	fi
	[ "$OM_FAILED" = 0 ] || exit 1
}
trap om_cleanup EXIT
trap 'exit 130' INT TERM

om_need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: integration tests need root (network namespaces)"; exit 77
	fi
}

# om_wait TIMEOUT_S command... - poll until the command succeeds
om_wait() {
	local t=$1; shift
	local end=$(( $(date +%s%N) / 1000000 + t * 1000 ))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ $(( $(date +%s%N) / 1000000 )) -ge $end ] && return 1
		sleep 0.05
	done
}

om_wait_gone() {  # PID TIMEOUT_S
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

om_ns() {  # create a namespace with loopback up
	ip netns add "$1" || return 1
	OM_NAMESPACES+=("$1")
	ip -n "$1" link set lo up
}

om_veth() {  # NS_A IF_A NS_B IF_B
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" || return 1
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# om_topology [impair options...] - build all namespaces; with options, the
# provider-consumer link runs through the userspace impairment bridge
om_topology() {
	om_ns "$NS_VM" && om_ns "$NS_CAP" && om_ns "$NS_PROV" && om_ns "$NS_CONS" &&
		om_ns "$NS_RTR" && om_ns "$NS_SRV" || return 1
	om_veth "$NS_VM" eth0 "$NS_CAP" tap0 || return 1
	if [ $# -gt 0 ]; then
		om_ns "$NS_IMP" || return 1
		om_veth "$NS_PROV" eth0 "$NS_IMP" leg-a || return 1
		om_veth "$NS_CONS" eth0 "$NS_IMP" leg-b || return 1
		local n i
		for n in "$NS_PROV:eth0" "$NS_CONS:eth0" "$NS_IMP:leg-a" "$NS_IMP:leg-b"; do
			ip netns exec "${n%%:*}" ethtool -K "${n#*:}" tso off gso off gro off tx off \
				>/dev/null 2>&1
		done
		ip netns exec "$NS_IMP" "$IMPAIR" --a leg-a --b leg-b --pidfile "$OM_T/impair.pid" \
			--stats "$OM_T/impair.stats" "$@" >"$OM_T/impair.log" 2>&1 &
		OM_PIDS+=($!)
		om_wait 10 test -s "$OM_T/impair.pid" || { log "impair did not start"; return 1; }
	else
		om_veth "$NS_PROV" eth0 "$NS_CONS" eth0 || return 1
	fi
	om_link_and_lan || return 1
	om_veth "$NS_RTR" wan0 "$NS_SRV" eth0 || return 1
	ip -n "$NS_RTR" addr add $RTR_WAN/24 dev wan0
	ip netns exec "$NS_RTR" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$NS_SRV" addr add $SRV_ADDR/24 dev eth0
	ip -n "$NS_SRV" route add default via $RTR_WAN
	# the router's own routing to the consumer LAN is connected; the server
	# reaches 192.0.2.128/25 through it; the provider's link net is private
	return 0
}

# om_link_and_lan - addresses on the provider-consumer link (its veth made
# already), and the consumer's LAN: cons lan0 to the router, its default route
om_link_and_lan() {
	ip -n "$NS_PROV" addr add $PROV_ADDR/25 dev eth0
	ip -n "$NS_CONS" addr add $CONS_ADDR/25 dev eth0
	om_veth "$NS_CONS" lan0 "$NS_RTR" lan0 || return 1
	ip -n "$NS_CONS" addr add $CONS_LAN/25 dev lan0
	ip -n "$NS_CONS" route add default via $RTR_LAN
	ip -n "$NS_RTR" addr add $RTR_LAN/25 dev lan0
}

# om_plain_path_up - for baselines: route vm -> cap -> prov -> cons -> rtr
# -> srv with plain kernel forwarding (cap and prov get an extra veth), no
# omnetd; om_plain_path_down removes it again so only omnetd connects the VM
om_plain_path_up() {
	om_veth "$NS_CAP" r0 "$NS_PROV" r0
	ip -n "$NS_VM" addr add 10.0.2.15/24 dev eth0
	ip -n "$NS_VM" route add default via 10.0.2.2
	ip -n "$NS_CAP" addr add 10.0.2.2/24 dev tap0
	ip -n "$NS_CAP" addr add 192.0.2.253/30 dev r0
	ip -n "$NS_PROV" addr add 192.0.2.254/30 dev r0
	ip -n "$NS_CAP" route add default via 192.0.2.254
	ip -n "$NS_PROV" route add default via $CONS_ADDR
	ip -n "$NS_PROV" route add 10.0.2.0/24 via 192.0.2.253
	ip -n "$NS_CONS" route add 10.0.2.0/24 via $PROV_ADDR
	ip -n "$NS_RTR" route add 10.0.2.0/24 via $CONS_LAN
	ip -n "$NS_RTR" route add 192.0.2.0/25 via $CONS_LAN
	local ns
	for ns in "$NS_CAP" "$NS_PROV" "$NS_CONS"; do
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
	done
	om_wait 10 vm ping -c1 -W1 $SRV_ADDR
}

om_plain_path_down() {
	ip netns exec "$NS_CAP" sysctl -qw net.ipv4.ip_forward=0
	ip -n "$NS_CAP" link del r0
	ip -n "$NS_VM" addr flush dev eth0
	ip -n "$NS_CAP" addr flush dev tap0
	ip -n "$NS_CONS" route del 10.0.2.0/24
	ip -n "$NS_RTR" route del 10.0.2.0/24
}

# om_bg NS LOGNAME command... - run in the background; the PID lands in
# OM_LASTPID and in OM_PIDS for teardown.  Never call it inside $(...): a
# subshell would keep the PID to itself and the process would outlive us.
om_bg() {
	local ns=$1 name=$2; shift 2
	ip netns exec "$ns" "$@" >"$OM_T/$name.log" 2>&1 &
	OM_LASTPID=$!
	OM_PIDS+=("$OM_LASTPID")
}

om_consumer_conf() {  # extra lines on stdin
	{
		echo "resolv-conf = $OM_T/resolv.conf"
		echo "handshake-timeout-ms = 5000"
		cat
	} >"$OM_T/consumer.conf"
	echo "nameserver $SRV_ADDR" >"$OM_T/resolv.conf"
}

# om_start_consumer [LOGNAME] - the consumer in cons, configured by
# $OM_T/consumer.conf, its state in $OM_T/c, the mesh on 6950 and control
# on $OM_T/c.sock; sets CONS_PID.  Again after a restart: what it had comes
# back from the state directory.  Both daemons log at debug level unless
# OM_VERBOSE is set (empty: the default level, as a user runs them).
om_start_consumer() {
	mkdir -p "$OM_T/c"
	om_bg "$NS_CONS" "${1:-consumer}" "$OMNETD" --role consumer -c "$OM_T/consumer.conf" \
		-S "$OM_T/c" -s "$OM_T/c.sock" -l 0.0.0.0:6950 ${OM_VERBOSE--v}
	CONS_PID=$OM_LASTPID
	om_wait 10 test -S "$OM_T/c.sock" || { log "consumer did not start"; return 1; }
}

# om_start_provider [LOGNAME] - the provider in prov, its state in $OM_T/p,
# control on $OM_T/p.sock; with OM_PROVIDER_CONF as its configuration and
# under OM_PROVIDER_WRAP (e.g. "prlimit --nofile=700") if set; sets PROV_PID
om_start_provider() {
	mkdir -p "$OM_T/p"
	# shellcheck disable=SC2086 # the wrapper is words
	om_bg "$NS_PROV" "${1:-provider}" ${OM_PROVIDER_WRAP:-} "$OMNETD" --role provider \
		-S "$OM_T/p" ${OM_PROVIDER_CONF:+-c "$OM_PROVIDER_CONF"} -s "$OM_T/p.sock" \
		-l 0.0.0.0:6950 ${OM_VERBOSE--v}
	PROV_PID=$OM_LASTPID
	om_wait 10 test -S "$OM_T/p.sock" || { log "provider did not start"; return 1; }
}

# om_identities - PROV_FP and CONS_FP, the daemons' fingerprints (each made
# on first use in its state directory)
om_identities() {
	mkdir -p "$OM_T/p" "$OM_T/c"
	PROV_FP=$("$OMNETD" --show-identity -S "$OM_T/p") || return 1
	CONS_FP=$("$OMNETD" --show-identity -S "$OM_T/c") || return 1
}

# om_start_daemons - a consumer in cons, a provider in prov, pinned to each
# other, and network $NETID attached to the VM's interface
om_start_daemons() {
	[ -f "$OM_T/consumer.conf" ] || om_consumer_conf </dev/null
	om_identities || return 1
	om_start_consumer || return 1
	om_start_provider || return 1
	ctl_c peer add provider --fingerprint "$PROV_FP" >/dev/null || return 1
	ctl_c network add $NETID --peer provider >/dev/null || return 1
	ctl_p peer add consumer --fingerprint "$CONS_FP" --endpoint $CONS_ADDR:6950 >/dev/null || return 1
	ctl_p network add $NETID --peer consumer --netns "$NS_CAP" --iface tap0 >/dev/null || return 1
	om_wait 15 peer_connected ctl_p consumer || { log "link did not come up"; return 1; }
}

ctl_p() { "$OMNETCTL" -s "$OM_T/p.sock" "$@"; }
ctl_c() { "$OMNETCTL" -s "$OM_T/c.sock" "$@"; }

# json_eval CTL-FN PYTHON-EXPR COMMAND... - a Python expression over the
# result (r) of `omnetctl --json COMMAND...`, printed
json_eval() {
	local fn=$1 expr=$2; shift 2
	"$fn" --json "$@" | $PY -c "import json,sys; r=json.load(sys.stdin)['result']; print($expr)"
}

# om_iperf_mbps NS iperf3-args... - an iperf3 client run in NS: the
# receiver's Mbit/s (empty if it got no result)
om_iperf_mbps() {
	local ns=$1; shift
	ip netns exec "$ns" iperf3 -f m -J "$@" 2>/dev/null |
		$PY -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))'
}

# json_is CTL-FN PYTHON-EXPR WANT COMMAND... - the expression prints WANT
# (light enough to poll with om_wait)
json_is() {
	local fn=$1 expr=$2 want=$3; shift 3
	[ "$(json_eval "$fn" "$expr" "$@" 2>/dev/null)" = "$want" ]
}

# peer_field CTL PEER EXPR - a field of a peer in `status --json` (python
# expression over p), "None" when absent
peer_field() {
	"$1" --json status 2>/dev/null | status_field "$2" "$3"
}

# status_field PEER EXPR - the same, from a status reply on stdin
status_field() {
	$PY -c "
import json, sys
r = json.load(sys.stdin)['result']
p = [p for p in r['peers'] if p['name'] == '$1']
p = p[0] if p else None
print(($2) if p else None)" 2>/dev/null
}

peer_connected() {  # ctl_fn peername
	[ "$(json_eval "$1" "[p['state'] for p in r['peers'] if p['name']=='$2'][0]" status)" = connected ]
}

# om_vm_dhcp [NS [TAG]] - the VM (default $NS_VM) takes its address with
# busybox udhcpc; what it got lands in $OM_T/TAG.lease (default vm.lease)
om_vm_dhcp() {
	local ns=${1:-$NS_VM} tag=${2:-vm}
	cat >"$OM_T/udhcpc-$tag.script" <<EOF
#!/bin/sh
case "\$1" in
bound|renew)
	ip -4 addr flush dev "\$interface"
	ip addr add "\$ip/\$mask" dev "\$interface"
	for r in \$router; do ip route replace default via "\$r" dev "\$interface"; done
	echo "\$dns" >"$OM_T/$tag.dns"
	echo "\$ip \$mask \$router \$lease" >"$OM_T/$tag.lease"
	;;
esac
exit 0
EOF
	chmod +x "$OM_T/udhcpc-$tag.script"
	ip netns exec "$ns" busybox udhcpc -i eth0 -n -q -t 10 -T 1 -s "$OM_T/udhcpc-$tag.script" \
		>"$OM_T/udhcpc-$tag.log" 2>&1
}

# ---- IPv6 (tests/integration/test_ipv6.sh, test_rootless.sh): the
# consumer's LAN and the server get IPv6 too, the router forwards it
SRV6=2001:db8:100::10
RTR6_WAN=2001:db8:100::1
RTR6_LAN=2001:db8:2::129
CONS6_LAN=2001:db8:2::130

om_topology_ipv6() {
	ip -n "$NS_RTR" addr add $RTR6_WAN/64 dev wan0 nodad
	ip -n "$NS_RTR" addr add $RTR6_LAN/64 dev lan0 nodad
	ip netns exec "$NS_RTR" sysctl -qw net.ipv6.conf.all.forwarding=1
	ip -n "$NS_SRV" addr add $SRV6/64 dev eth0 nodad
	ip -n "$NS_SRV" -6 route add default via $RTR6_WAN
	ip -n "$NS_CONS" addr add $CONS6_LAN/64 dev lan0 nodad
	ip -n "$NS_CONS" -6 route add default via $RTR6_LAN
}

# om_start_servers6 - HTTP, UDP echo and DNS (v6.test.omnet AAAA) on the
# server's IPv6 address (after om_start_servers: the same files)
om_start_servers6() {
	om_bg "$NS_SRV" httpd6 $PY "$OM_SRCDIR/tests/integration/servers.py" http \
		--dir "$OM_T/www" --port 8080 --log "$OM_T/http-clients6" --bind $SRV6
	om_bg "$NS_SRV" udpecho6 $PY "$OM_SRCDIR/tests/integration/servers.py" udpecho --port 7 \
		--bind $SRV6
	om_bg "$NS_SRV" dnsmasq6 dnsmasq --no-daemon --keep-in-foreground --no-resolv --no-hosts \
		--listen-address=$SRV6 --bind-interfaces --port=53 \
		--address=/v6.test.omnet/2001:db8:100::77 --pid-file="$OM_T/dnsmasq6.pid" \
		--user=root --group=root
	om_wait 10 srv curl -6 -s -m 1 -o /dev/null "http://[$SRV6]:8080/" &&
		om_wait 10 srv dig +short +time=1 +tries=1 AAAA @$SRV6 v6.test.omnet
}

# om_prefix6 [NETID] - a network's own IPv6 prefix, as omnetd derives it
# (fd and the first 40 bits of the id's SHA-256), with its trailing ::
om_prefix6() {
	$PY -c "import hashlib, ipaddress, sys
h = hashlib.sha256(bytes.fromhex(sys.argv[1])).digest()
print(str(ipaddress.IPv6Address(b'\xfd' + h[:5] + bytes(10))))" "${1:-$NETID}"
}

# om_vm_slaac_addr [NS] - the VM's global IPv6 address, once it is usable
om_vm_slaac_addr() {
	ip -n "${1:-$NS_VM}" -6 -o addr show dev eth0 scope global -tentative |
		awk '{print $4}' | head -1
}

# om_vm_slaac PREFIX [NS] - wait (15 s at most) for the VM to form an address
# in PREFIX (written with its trailing ::) by SLAAC
om_vm_slaac() {
	om_wait 15 bash -c "ip -n ${2:-$NS_VM} -6 -o addr show dev eth0 scope global -tentative |
		grep -q ' ${1%::}:[0-9a-f:]*/64 '"
}

vm() { ip netns exec "$NS_VM" "$@"; }
srv() { ip netns exec "$NS_SRV" "$@"; }

om_start_servers() {  # HTTP, UDP echo, TCP echo and DNS on the server
	mkdir -p "$OM_T/www"
	om_bg "$NS_SRV" httpd $PY "$OM_SRCDIR/tests/integration/servers.py" http \
		--dir "$OM_T/www" --port 8080 --log "$OM_T/http-clients"
	om_bg "$NS_SRV" udpecho $PY "$OM_SRCDIR/tests/integration/servers.py" udpecho --port 7
	om_bg "$NS_SRV" tcpecho $PY "$OM_SRCDIR/tests/integration/servers.py" tcpecho --port 7
	om_bg "$NS_SRV" dnsmasq dnsmasq --no-daemon --keep-in-foreground --no-resolv --no-hosts \
		--listen-address=$SRV_ADDR --bind-interfaces --port=53 \
		--address=/test.omnet/198.51.100.77 --pid-file="$OM_T/dnsmasq.pid" \
		--user=root --group=root
	om_wait 10 srv $PY "$OM_SRCDIR/tests/integration/servers.py" probe --tcp $SRV_ADDR:8080 &&
		om_wait 10 srv $PY "$OM_SRCDIR/tests/integration/servers.py" probe --tcp $SRV_ADDR:7 &&
		om_wait 10 srv dig +short +time=1 +tries=1 @$SRV_ADDR test.omnet
}

# ---- a second tenant on the same provider (tests/integration/test_hostile_peer.sh)
#
#   vm2 ──veth── cap2          the second network's VM and capture namespace
#   prov eth1 203.0.113.1/28 ── 203.0.113.2/28 eth0 hos    a second consumer
#   cons eth1 203.0.113.17/28 ── 203.0.113.18/28 eth1 hos  a second provider
#
# "hos" holds the other tenant's daemon (or a hostile test peer): it reaches
# the provider as a consumer and the consumer as a provider, on links of its
# own, so that neither of the first pair's addresses changes.
NS_VM2=om$OM_ID-vm2
NS_CAP2=om$OM_ID-cap2
NS_HOS=om$OM_ID-hos
HOS_PROV_LEG=203.0.113.1   # the provider's address towards hos
HOS_ADDR=203.0.113.2       # hos, as the provider's second consumer
HOS_CONS_LEG=203.0.113.17  # the consumer's address towards hos
HOS_ADDR2=203.0.113.18     # hos, as the consumer's second provider

om_topology_second_tenant() {
	om_ns "$NS_VM2" && om_ns "$NS_CAP2" && om_ns "$NS_HOS" || return 1
	om_veth "$NS_VM2" eth0 "$NS_CAP2" tap0 || return 1
	om_veth "$NS_PROV" eth1 "$NS_HOS" eth0 || return 1
	om_veth "$NS_CONS" eth1 "$NS_HOS" eth1 || return 1
	ip -n "$NS_PROV" addr add $HOS_PROV_LEG/28 dev eth1
	ip -n "$NS_HOS" addr add $HOS_ADDR/28 dev eth0
	ip -n "$NS_CONS" addr add $HOS_CONS_LEG/28 dev eth1
	ip -n "$NS_HOS" addr add $HOS_ADDR2/28 dev eth1
}

# om_dhcp_in NS TAG - a lease for the interface eth0 of NS with busybox
# udhcpc; the lease lands in $OM_T/TAG.lease ("ip mask router lease")
om_dhcp_in() {
	local ns=$1 tag=$2
	cat >"$OM_T/$tag.udhcpc" <<EOS
#!/bin/sh
case "\$1" in
bound|renew)
	ip -4 addr flush dev "\$interface"
	ip addr add "\$ip/\$mask" dev "\$interface"
	for r in \$router; do ip route replace default via "\$r" dev "\$interface"; done
	echo "\$ip \$mask \$router \$lease" >"$OM_T/$tag.lease"
	;;
esac
exit 0
EOS
	chmod +x "$OM_T/$tag.udhcpc"
	ip netns exec "$ns" busybox udhcpc -i eth0 -n -q -t 10 -T 1 -s "$OM_T/$tag.udhcpc" \
		>"$OM_T/$tag-udhcpc.log" 2>&1
}

# om_proc_mem PID - "VmRSS VmHWM" in KiB (empty when the process is gone)
om_proc_mem() {
	awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { if (r != "") print r, h }' \
		"/proc/$1/status" 2>/dev/null
}

# om_proc_cpu_ms PID - user and system CPU time the process has used, in ms
om_proc_cpu_ms() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	set -- $stat
	echo $(( (${12} + ${13}) * 1000 / $(getconf CLK_TCK) ))
}

# om_alive PID - running (a zombie is dead, only not yet reaped)
om_alive() {
	kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

# om_session_id LOG PEER - the id of the last session the daemon logged as
# established with PEER (the id this daemon receives on, in clear on the wire)
om_session_id() {
	sed -n "s/.*peer $2: session \([0-9a-f]\{8\}\) established.*/\1/p" "$1" | tail -n 1
}
