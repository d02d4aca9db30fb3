#!/bin/bash
# test_pmtu_v6relay.sh: the link between provider and consumer runs over
# IPv6, through a relay, on links with the ordinary 1500-byte MTU, and no
# datagram may be fragmented.  A relayed IPv6 datagram carries the most
# headers of any path (40 IP, 8 UDP, 8 relay, 8 outer, 37 DTLS): a link
# packet sized for any other path does not fit, and a bulk transfer would
# stall on EMSGSIZE.  Here it completes, byte-exact, in both directions,
# and no datagram is ever too large for the path.
#
#   vm ──veth── cap            (the provider captures the VM here, as in lib.sh)
#   prov 2001:db8:1::2/64 ── 2001:db8:1::1 ┐
#   cons 2001:db8:2::2/64 ── 2001:db8:2::1 ├ r6: routes IPv6, MTU 1500 on
#   r1   2001:db8:3::2/64 ── 2001:db8:3::1 ┘     every leg, drops prov <-> cons
#   cons 192.0.2.130/25 ── rtr ── srv          (the consumer's IPv4 egress, as in lib.sh)
#
# Provider and consumer have no IPv4 path to each other, and r6 drops
# IPv6 between them: the relay is the only way.
#
# Run again with "probe" (the script does, at the end): with
# pmtu-probe = yes the search on that path ends at 1500 bytes (every larger
# probe refused), and the transfer is as good.
OM_TEST=pmtu-v6relay
. "$(dirname "$0")/lib.sh"
om_need_root

NS_R6=om$OM_ID-r6
NS_R1=om$OM_ID-r1
PROV6=2001:db8:1::2
CONS6=2001:db8:2::2
R1_6=2001:db8:3::2
SIZE_MB=24
PROBE=${1:-}

ctl_r1() { "$OMNETCTL" -s "$OM_T/r1.sock" "$@"; }

topology() {
	local ns
	for ns in "$NS_VM" "$NS_CAP" "$NS_PROV" "$NS_CONS" "$NS_R6" "$NS_R1" "$NS_RTR" "$NS_SRV"; do
		om_ns "$ns" || return 1
	done
	om_veth "$NS_VM" eth0 "$NS_CAP" tap0 || return 1
	om_veth "$NS_PROV" eth0 "$NS_R6" prov0 || return 1
	om_veth "$NS_CONS" eth0 "$NS_R6" cons0 || return 1
	om_veth "$NS_R1" eth0 "$NS_R6" r10 || return 1
	ip -n "$NS_PROV" addr add $PROV6/64 dev eth0 nodad
	ip -n "$NS_R6" addr add 2001:db8:1::1/64 dev prov0 nodad
	ip -n "$NS_CONS" addr add $CONS6/64 dev eth0 nodad
	ip -n "$NS_R6" addr add 2001:db8:2::1/64 dev cons0 nodad
	ip -n "$NS_R1" addr add $R1_6/64 dev eth0 nodad
	ip -n "$NS_R6" addr add 2001:db8:3::1/64 dev r10 nodad
	ip -n "$NS_PROV" -6 route add default via 2001:db8:1::1
	ip -n "$NS_CONS" -6 route add default via 2001:db8:2::1
	ip -n "$NS_R1" -6 route add default via 2001:db8:3::1
	ip netns exec "$NS_R6" sysctl -qw net.ipv6.conf.all.forwarding=1
	# every leg has the Ethernet MTU (veth's default, said here so the test
	# does not depend on it); segmentation offloads off, so what crosses a
	# leg is what the daemon sent
	local n
	for n in "$NS_PROV:eth0" "$NS_CONS:eth0" "$NS_R1:eth0" "$NS_R6:prov0" "$NS_R6:cons0" \
		"$NS_R6:r10"; do
		ip -n "${n%%:*}" link set "${n#*:}" mtu 1500
		ip netns exec "${n%%:*}" ethtool -K "${n#*:}" tso off gso off gro off tx-udp-segmentation off \
			>/dev/null 2>&1
	done
	ip netns exec "$NS_R6" nft -f - <<EOF || return 1
table inet omtest {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ip6 saddr 2001:db8:1::/64 ip6 daddr 2001:db8:2::/64 counter drop comment "direct"
		ip6 saddr 2001:db8:2::/64 ip6 daddr 2001:db8:1::/64 counter drop comment "direct"
		meta length > 1500 counter comment "too-big"
	}
}
EOF
	# the consumer's IPv4 side: its LAN, the router, the server
	om_veth "$NS_CONS" lan0 "$NS_RTR" lan0 || return 1
	ip -n "$NS_CONS" addr add $CONS_LAN/25 dev lan0
	ip -n "$NS_CONS" route add default via $RTR_LAN
	ip -n "$NS_RTR" addr add $RTR_LAN/25 dev lan0
	om_veth "$NS_RTR" wan0 "$NS_SRV" eth0 || return 1
	ip -n "$NS_RTR" addr add $RTR_WAN/24 dev wan0
	ip netns exec "$NS_RTR" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$NS_SRV" addr add $SRV_ADDR/24 dev eth0
	ip -n "$NS_SRV" route add default via $RTR_WAN
	om_wait 10 ip netns exec "$NS_PROV" ping -6 -c1 -W1 $R1_6 &&
		om_wait 10 ip netns exec "$NS_CONS" ping -6 -c1 -W1 $R1_6 &&
		! ip netns exec "$NS_PROV" ping -6 -c1 -W1 $CONS6 >/dev/null 2>&1
}

daemons() {
	local rfp
	mkdir -p "$OM_T/p" "$OM_T/c" "$OM_T/r1"
	if [ "$PROBE" = probe ]; then
		echo "pmtu-probe = yes" | om_consumer_conf
		echo "pmtu-probe = yes" >"$OM_T/provider.conf"
	else
		om_consumer_conf </dev/null
		: >"$OM_T/provider.conf"
	fi
	PROV_FP=$("$OMNETD" --show-identity -S "$OM_T/p") || return 1
	CONS_FP=$("$OMNETD" --show-identity -S "$OM_T/c") || return 1
	rfp=$("$OMNETD" --show-identity -S "$OM_T/r1") || return 1
	om_bg "$NS_R1" relay1 "$OMNETD" --role relay -S "$OM_T/r1" -s "$OM_T/r1.sock" -l "[::]:6950" -v
	om_wait 10 test -S "$OM_T/r1.sock" || { log "relay did not start"; return 1; }
	ctl_r1 peer add provider --fingerprint "$PROV_FP" >/dev/null || return 1
	ctl_r1 peer add consumer --fingerprint "$CONS_FP" >/dev/null || return 1
	om_bg "$NS_CONS" consumer "$OMNETD" --role consumer -c "$OM_T/consumer.conf" \
		-S "$OM_T/c" -s "$OM_T/c.sock" -l "[::]:6950" -v
	CONS_PID=$OM_LASTPID
	om_bg "$NS_PROV" provider "$OMNETD" --role provider -c "$OM_T/provider.conf" -S "$OM_T/p" \
		-s "$OM_T/p.sock" -l "[::]:6950" -v
	PROV_PID=$OM_LASTPID
	om_wait 10 test -S "$OM_T/c.sock" || { log "consumer did not start"; return 1; }
	om_wait 10 test -S "$OM_T/p.sock" || { log "provider did not start"; return 1; }
	ctl_c peer add r1 --fingerprint "$rfp" --endpoint "[$R1_6]:6950" >/dev/null || return 1
	ctl_p peer add r1 --fingerprint "$rfp" --endpoint "[$R1_6]:6950" >/dev/null || return 1
	ctl_c peer add provider --fingerprint "$PROV_FP" --relay r1 >/dev/null || return 1
	ctl_c network add $NETID --peer provider >/dev/null || return 1
	ctl_p peer add consumer --fingerprint "$CONS_FP" --relay r1 >/dev/null || return 1
	ctl_p network add $NETID --peer consumer --netns "$NS_CAP" --iface tap0 >/dev/null || return 1
}

# peer_field CTL PEER EXPR - a field of a peer in `status --json`
peer_field() {
	"$1" --json status 2>/dev/null | $PY -c "
import json, sys
r = json.load(sys.stdin)['result']
p = [p for p in r['peers'] if p['name'] == '$2']
p = p[0] if p else None
print(($3) if p else None)" 2>/dev/null
}
relayed() {  # CTL PEER
	[ "$(peer_field "$1" "$2" "p['state'] + '/' + str(p['method'])")" = connected/relay ]
}
counter() {  # CTL NAME - a daemon counter from status
	"$1" --json status | $PY -c "
import json, sys
def find(o):
    if isinstance(o, dict):
        for k, v in o.items():
            if k == '$2':
                return v
            r = find(v)
            if r is not None:
                return r
    return None
print(find(json.load(sys.stdin)['result']))"
}
too_big() {  # datagrams r6 saw over 1500 bytes
	ip netns exec "$NS_R6" nft list chain inet omtest forward |
		sed -n 's/.*counter packets \([0-9]*\) bytes [0-9]* comment "too-big".*/\1/p'
}
# timed_curl WHAT SECONDS curl-args... - bounded; sets MS
timed_curl() {
	local what=$1 limit=$2 t0; shift 2
	t0=$(date +%s%N)
	vm timeout "$limit" curl -sS -m "$limit" "$@"
	local rc=$?
	MS=$(( ($(date +%s%N) - t0) / 1000000 ))
	log "$what: curl exit $rc after $MS ms"
	return $rc
}

topology || { fail "topology"; exit 1; }
om_start_servers || { fail "stand-in servers start"; exit 1; }
daemons || { fail "daemons start"; exit 1; }

check "the provider reaches the consumer through the relay, over IPv6" om_wait 30 relayed ctl_p consumer
check "the consumer reaches the provider through the relay" om_wait 15 relayed ctl_c provider
path=$(peer_field ctl_p consumer "p['path']")
check "the path is the relay's IPv6 address ($path)" test "${path#*"$R1_6"}" != "$path"
check "the VM gets an address" om_vm_dhcp
check "the VM reaches the server" \
	om_wait 10 vm $PY "$OM_SRCDIR/tests/integration/servers.py" probe --tcp $SRV_ADDR:8080

if [ "$PROBE" = probe ]; then
	check "the consumer's search ends at 1500 bytes" om_wait 30 grep -q \
		"path MTU to relay \[$R1_6\]:6950 channel [0-9a-f]* is 1500 bytes" "$OM_T/consumer.log"
	check "the provider's too" om_wait 30 grep -q \
		"path MTU to relay \[$R1_6\]:6950 channel [0-9a-f]* is 1500 bytes" "$OM_T/provider.log"
fi
mp_p=$(peer_field ctl_p consumer "p['link']['max_packet_bytes']")
mp_c=$(peer_field ctl_c provider "p['link']['max_packet_bytes']")
# 1500 less IPv6 40, UDP 8, relay header 8, outer header 8, DTLS 37: the
# largest link packet that fits, and no smaller
check "the provider's link packets fill a relayed IPv6 datagram of 1500 bytes ($mp_p bytes, 1399 fit)" \
	test "$mp_p" = 1399
check "the consumer's too ($mp_c bytes)" test "$mp_c" = 1399

head -c $((SIZE_MB << 20)) /dev/urandom >"$OM_T/www/f"
timed_curl "download" 60 -o "$OM_T/down" http://$SRV_ADDR:8080/f
check "a $SIZE_MB MB download through the IPv6 relay completes, byte-exact, within 60 s ($MS ms)" \
	cmp -s "$OM_T/down" "$OM_T/www/f"
timed_curl "upload" 60 -o "$OM_T/up.sum" -T "$OM_T/down" http://$SRV_ADDR:8080/up
check "and the upload, $SIZE_MB MB the other way, within 60 s ($MS ms)" \
	test "$(cat "$OM_T/up.sum")" = "$(sha256sum <"$OM_T/www/f" | cut -d' ' -f1)"
# a datagram too large for the leg is refused by the sender's kernel
# (EMSGSIZE; EINVAL for a GSO batch): the daemons log each refusal (the
# search's probes above 1500 bytes are refused so, by design)
if [ "$PROBE" != probe ]; then
	for who in provider consumer relay1; do
		n=$(grep -cE "Message too long|segmentation offload refused" "$OM_T/$who.log")
		check "$who: the kernel refused no datagram as too large ($n refusals)" test "$n" = 0
	done
fi
n=$(too_big)
check "no datagram over 1500 bytes crossed the router ($n)" test "$n" = 0
relayed_n=$(counter ctl_r1 datagrams_relayed)
check "the relay carried the transfer ($relayed_n datagrams)" test "$relayed_n" -gt 30000
check "the link stayed on the relay" relayed ctl_p consumer
# and once more with the search on, in a fresh world
if [ "$PROBE" != probe ]; then
	bash "$0" probe || OM_FAILED=1
fi
exit $OM_FAILED
