#!/bin/bash
# test_ping.sh: ping from the VM, carried to the consumer as ICMP flows.
#
#   vm -- cap (provider's capture) ... prov == cons -- rtr -- srv 198.51.100.10
#
# The VM's echo requests to anywhere but the gateway reach the provider's
# packet socket; each identifier and destination is an ICMP flow, which the
# consumer sends from an unprivileged ICMP ("ping") socket, and the replies
# come back to the VM from the destination's address.  Shown here, with the
# real ping (iputils):
#   - a consumer whose namespace's net.ipv4.ping_group_range leaves out its
#     group says so, once, naming the setting and the value that fixes it,
#     and counts each refusal; the VM's ping gets no reply;
#   - with the range open: no loss, the replies' sequence numbers and data
#     right (ping checks both), large pings too; the round trip is what
#     the consumer's own ping takes plus the link's;
#   - the egress policy applies: the consumer's own LAN is refused, and
#     `policy check --proto icmp` says why;
#   - a host that learns the consumer's ICMP socket's identifier cannot
#     answer the VM's pings in the destination's name;
#   - the gateway is still answered by the capture namespace itself;
#   - errors the VM should see: a ping the policy refuses is "filtered"
#     (administratively prohibited, from the gateway); a connected UDP
#     socket's datagram to a closed port on the far side gets
#     ECONNREFUSED (port unreachable, from that host), and one to a refused
#     destination EHOSTUNREACH;
#   - the packet socket wakes the provider for SYNs and echo requests only:
#     a UDP exchange leaves its "packets_ignored" counter where it was.
OM_TEST=ping
. "$(dirname "$0")/lib.sh"
om_need_root

om_topology || { fail "topology"; exit 1; }
om_start_servers || { fail "stand-in servers start"; exit 1; }
# a new namespace's range starts closed ("1 0"), as it is here
ip netns exec "$NS_CONS" sysctl -qw net.ipv4.ping_group_range="1 0"
om_start_daemons || { fail "daemons start"; exit 1; }
check "the link is up" om_wait 15 peer_connected ctl_p consumer
check "the VM gets an address" om_vm_dhcp

# ping_vm ARGS... - ping from the VM, its summary lines in $OM_T/ping.out
ping_vm() {
	timeout 30 ip netns exec "$NS_VM" ping -n "$@" >"$OM_T/ping.out" 2>&1
}
received() { sed -n 's/.* \([0-9]*\) received.*/\1/p' "$OM_T/ping.out"; }
avg_ms() { sed -n 's/^rtt [^=]*= [0-9.]*\/\([0-9.]*\)\/.*/\1/p' "$OM_T/ping.out"; }
cap_field() {  # EXPR over the network's capture counters (c)
	json_eval ctl_p "[n['capture'] for n in r['networks']][0]['$1']" status
}

# 1. the consumer cannot open ping sockets
ping_vm -c 2 -i 0.2 -W 1 $SRV_ADDR
check "without ping sockets on the consumer, the VM's ping gets no reply" \
	test "$(received)" = 0
check "and no ICMP error either (the consumer's setting is no unreachable host)" \
	bash -c "! grep -qiE 'unreachable|filtered' '$OM_T/ping.out'"
check "the consumer names the setting and its fix" \
	grep -q 'pings are refused: no ICMP socket (Permission denied): net.ipv4.ping_group_range is "1 0" and this daemon.s group is [0-9]* (sysctl -w net.ipv4.ping_group_range=' \
	"$OM_T/consumer.log"
check "it says so once" test "$(grep -c 'pings are refused' "$OM_T/consumer.log")" = 1
check "and counts each refusal" \
	json_is ctl_c "r['counters']['pings_refused_sysctl'] >= 2" True status

# 2. with the range open
ip netns exec "$NS_CONS" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
ping_vm -c 20 -i 0.05 -W 2 $SRV_ADDR
check "the VM pings the server: 20 of 20 replies ($(avg_ms) ms average)" \
	test "$(received)" = 20
check "the provider counts the requests and the replies" \
	json_is ctl_p "[n['capture'] for n in r['networks']][0]['echo_replies'] >= 20" True status
check "no duplicates, no bad data (ping checks both)" \
	bash -c "! grep -qE 'DUP|wrong data|corrupted' '$OM_T/ping.out'"
ping_vm -c 3 -i 0.2 -W 2 -s 1400 $SRV_ADDR
check "a 1,400-byte ping comes back whole" test "$(received)" = 3
via=$(ping_vm -c 20 -i 0.05 -W 2 $SRV_ADDR; avg_ms)
plain=$(timeout 30 ip netns exec "$NS_CONS" ping -n -c 20 -i 0.05 -W 2 $SRV_ADDR |
	sed -n 's/^rtt [^=]*= [0-9.]*\/\([0-9.]*\)\/.*/\1/p')
log "round trip: $via ms from the VM through omnet, $plain ms from the consumer itself"
check "the VM's round trip is measured ($via ms, the consumer's own $plain)" \
	test -n "$via" -a -n "$plain"
check "ICMP flows show in status" json_is ctl_p "r['flows']['icmp'] >= 1" True status

# 3. the egress policy applies to ICMP
refused=$(json_eval ctl_c "r['counters']['flows_refused_policy']" status)
ping_vm -c 2 -i 0.2 -W 1 $CONS_LAN
check "the consumer's own LAN address gets no reply" test "$(received)" = 0
check "the consumer refused it by policy" \
	json_is ctl_c "r['counters']['flows_refused_policy'] > $refused" True status
check "and says so" grep -q "icmp 10.0.2.15:[0-9]* -> $CONS_LAN:0 refused by policy" \
	"$OM_T/consumer.log"

ping_vm -c 2 -i 0.2 -W 1 $CONS_LAN
check "the VM's ping says it was filtered (administratively prohibited)" \
	grep -q "From 10.0.2.2 icmp_seq=1 Packet filtered" "$OM_T/ping.out"

# udp_outcome HOST PORT - a connected UDP socket's send and wait: "ok",
# or the error and how long it took
udp_outcome() {
	vm $PY - "$1" "$2" <<'EOF2'
import errno, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((sys.argv[1], int(sys.argv[2])))
s.settimeout(3)
t0 = time.monotonic()
try:
    s.send(b"is anybody there?")
    s.recv(100)
    print("ok")
except OSError as e:
    print("%s %d" % (errno.errorcode.get(e.errno, "timeout"), (time.monotonic() - t0) * 1000))
EOF2
}
read -r what ms < <(udp_outcome $SRV_ADDR 9)
check "UDP to a closed port on the far side: $what in ${ms:-?} ms" \
	test "$what" = ECONNREFUSED -a "${ms:-9999}" -lt 1000
read -r what ms < <(udp_outcome $CONS_LAN 7)
check "UDP to a destination the policy refuses: $what in ${ms:-?} ms" \
	test "$what" = EHOSTUNREACH -a "${ms:-9999}" -lt 1000
check "UDP to an open port still works" test "$(udp_outcome $SRV_ADDR 7)" = ok
check "the provider counts the errors it sent" \
	json_is ctl_p "[n['capture'] for n in r['networks']][0]['unreachables_sent'] >= 3" True status

check "policy check --proto icmp explains it" \
	json_is ctl_c "(r['allowed'], r['proto'], r['decided_by'])" "(False, 'icmp', 'local_address')" \
	policy check $CONS_LAN --proto icmp
check "and allows the server" json_is ctl_c "r['allowed']" True policy check $SRV_ADDR --proto icmp
out=$(ctl_c policy check $SRV_ADDR:7 --proto icmp 2>&1)
check "a ping with a port is refused: $out" grep -q "a ping has no port" <<<"$out"

# 4. spoofed replies: the router learns the consumer's ICMP socket's
# identifier and answers in the server's name while the VM pings
ping_vm -c 30 -i 0.1 -W 2 $SRV_ADDR &
pp=$!
# the VM's new ping process is a new flow: its socket on the consumer
om_wait 5 sh -c "ip netns exec $NS_CONS cat /proc/net/icmp | awk 'NR > 1' | grep -q ." && sleep 0.5
ids=$(ip netns exec "$NS_CONS" cat /proc/net/icmp | $PY -c '
import sys
print(" ".join(str(int(l.split()[1].split(":")[1], 16)) for l in sys.stdin.readlines()[1:]))')
ip netns exec "$NS_RTR" $PY - "$CONS_LAN" $ids <<'EOF2' && spoof_ok=1
import socket, struct, sys
dst, idents = sys.argv[1], [int(i) for i in sys.argv[2:]]
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
for ident in idents:
    for seq in range(1000, 1010):
        m = struct.pack('!BBHHH', 0, 0, 0, ident, seq) + b'spoofed!' * 7
        m = m[:2] + struct.pack('!H', csum(m)) + m[4:]
        s.sendto(m, (dst, 0))
sys.exit(0 if idents else 1)
EOF2
wait $pp
check "the router sent replies with the consumer's identifiers ($ids)" test -n "${spoof_ok-}"
check "the VM's ping got its 30 replies" test "$(received)" = 30
check "and none of the spoofed ones" bash -c "! grep -q 'icmp_seq=100[0-9]' '$OM_T/ping.out'"

# 5. the gateway answers itself
before=$(cap_field echo_requests)
ping_vm -c 3 -i 0.2 -W 1 10.0.2.2
check "the gateway answers the VM's ping" test "$(received)" = 3
check "without a flow to the consumer" test "$(cap_field echo_requests)" = "$before"

# 6. the packet socket's filter
ignored=$(cap_field packets_ignored)
check "UDP exchanges with the server" \
	vm $PY "$OM_SRCDIR/tests/integration/servers.py" udp-client --host $SRV_ADDR --port 7 --count 200
check "leave the packet socket's ignored count as it was ($ignored, now $(cap_field packets_ignored))" \
	test "$(cap_field packets_ignored)" = "$ignored"
exit $OM_FAILED
