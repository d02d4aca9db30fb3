#!/bin/bash
# test_paths_direct.sh: the consumer is reachable directly (its router
# forwards the mesh port), the provider is behind a NAT, and a relay is
# there too.
#   1. the link is direct, on both sides, though a relay is available;
#   7. `disconnect` stops every datagram to the peer, direct or relayed,
#      while the peer keeps trying; `connect` brings the link back;
#   8. the provider daemon is killed and started again: the consumer takes
#      the new session through the same negotiation, the VM's old flow is
#      closed towards the server within seconds, and new flows work.
OM_TEST=paths-direct
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/paths.sh"
om_need_root

om_paths_topology eim dnat || { fail "topology"; exit 1; }
om_start_servers || { fail "stand-in servers start"; exit 1; }
om_bg "$NS_SRV" hold $PY "$OM_SRCDIR/tests/integration/servers.py" hold --port 9000 \
	--log "$OM_T/hold-events"
om_paths_daemons 1 $NATC_WAN:6950 || { fail "daemons start"; exit 1; }

# --- 1. direct
expect_method ctl_p consumer direct 15 "the provider reaches the consumer directly"
check "the consumer shows the same path as direct" \
	om_wait 10 peer_is ctl_c provider connected direct
check "the path is the consumer's public address" \
	field_is ctl_p consumer "p['path']" $NATC_WAN:6950
check "both sides are connected to the relay too" \
	om_wait 10 sh -c "$OMNETCTL -s $OM_T/r1.sock status | grep -c ' connected ' | grep -qx 2"
check "the VM gets an address and reaches the server" vm_up
check "the provider's log names the method" \
	grep -q "peer consumer: connecting -> connected: .*(method direct" "$OM_T/provider.log"

# --- 7. disconnect and connect
count "$NS_NATP" to-cons ip saddr $PROV_LAN_ADDR ip daddr $NATC_WAN
count "$NS_NATP" to-relay ip saddr $PROV_LAN_ADDR ip daddr $R1_ADDR
check "datagrams flow to the consumer before" \
	om_wait 10 sh -c "[ \"\$(ip netns exec $NS_NATP nft list chain inet omtest cut | grep -c 'packets [1-9].*to-cons')\" = 1 ]"
out=$(ctl_p disconnect consumer)
check "disconnect answers with the new state ($out)" test -n "$(echo "$out" | grep -w disconnected)"
check "status shows the peer disconnected" field_is ctl_p consumer "p['state']" disconnected
n=$(counted "$NS_NATP" to-cons)
f=$(peer_field ctl_r1 provider "p['relayed_datagrams']")
check "no datagram goes to the consumer for 5 s (count stays $n)" stays "$NS_NATP" to-cons "$n" 5
check "none goes through the relay for it either (relayed stays $f)" \
	field_is ctl_r1 provider "p['relayed_datagrams']" "$f"
check "the consumer keeps trying meanwhile" \
	om_wait 10 field_is ctl_c provider "p['state'] in ('reconnecting', 'degraded')" True
check "the provider stays disconnected" field_is ctl_p consumer "p['state']" disconnected
check "connect is accepted" ctl_p connect consumer
check "connect resumes: direct again within 15 s" om_wait 15 peer_is ctl_p consumer connected direct
check "datagrams flow to the consumer again" \
	sh -c "[ \"\$(ip netns exec $NS_NATP nft list chain inet omtest cut | sed -n 's/.*packets \([0-9]*\).*to-cons.*/\1/p')\" -gt $n ]"
check "the VM reaches the server again" \
	om_wait 10 vm $PY "$OM_SRCDIR/tests/integration/servers.py" probe --tcp $SRV_ADDR:8080

# --- 8. the provider restarts
om_bg "$NS_VM" vm-hold $PY "$OM_SRCDIR/tests/integration/servers.py" hold-clients \
	--host $SRV_ADDR --port 9000 --count 1 --ready "$OM_T/vm-hold.ready" --seconds 120
check "a VM connection is open to the server" om_wait 10 grep -q "^open " "$OM_T/hold-events"
check "and stays open while the link is up" sh -c "sleep 1; ! grep -q '^closed ' $OM_T/hold-events"
kill -9 "$PROV_PID"
om_wait_gone "$PROV_PID" 5
t0=$(date +%s%N)
om_start_provider || fail "the provider starts again"
if om_wait 20 grep -q "^closed " "$OM_T/hold-events"; then
	pass "the server side of the VM's old flow is closed, $(( ($(date +%s%N) - t0) / 1000000 )) ms after the restart"
else
	fail "the server side of the VM's old flow is closed within 20 s"
fi
check "the consumer took the new session" \
	grep -qE "peer provider: session .* (dropped: replaced by a new session: the peer restarted|closed: the peer no longer knows)" "$OM_T/consumer.log"
check "the link is up again, direct" om_wait 15 peer_is ctl_p consumer connected direct
check "the consumer is connected again" om_wait 15 peer_is ctl_c provider connected direct
check "new VM flows work" \
	om_wait 15 vm $PY "$OM_SRCDIR/tests/integration/servers.py" probe --tcp $SRV_ADDR:8080
exit $OM_FAILED
