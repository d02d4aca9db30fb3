#!/bin/bash
# test_strangers_relay.sh: a pinned peer that asks its relay for
# introductions as fast as it can (issue 13: everything a peer can make a
# relay hold or do is bounded and counted).  The "provider" here is the
# stranger tool with the provider's key: it completes a real handshake with
# the relay and sends thousands of RELAY_CONNECT frames naming the consumer.
#   1. the relay introduces the two, as it should;
#   2. the relay counts the requests over the peer's rate, and does not
#      pass the flood on: what it sends the consumer during the flood stays
#      near what it sends when all is quiet (an introduction a second at
#      most, not one per request);
#   3. the consumer's link with the relay is unharmed.
OM_TEST=strangers-relay
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/paths.sh"
om_need_root
STRANGER=$OM_BUILD/tests/stranger
FLOOD_S=3

om_paths_topology eim eim || { fail "topology"; exit 1; }
mkdir -p "$OM_T/r1"
om_identities || { fail "identities"; exit 1; }
R1_FP=$("$OMNETD" --show-identity -S "$OM_T/r1")
om_bg "$NS_R1" relay1 "$OMNETD" --role relay -S "$OM_T/r1" -s "$OM_T/r1.sock" -l 0.0.0.0:6950 -v
om_wait 10 test -S "$OM_T/r1.sock" || { fail "the relay starts"; exit 1; }
ctl_r1 peer add provider --fingerprint "$PROV_FP" >/dev/null
ctl_r1 peer add consumer --fingerprint "$CONS_FP" >/dev/null
om_consumer_conf </dev/null
om_start_consumer || { fail "the consumer starts"; exit 1; }
ctl_c peer add r1 --fingerprint "$R1_FP" --endpoint $R1_ADDR:6950 >/dev/null
ctl_c peer add provider --fingerprint "$PROV_FP" --relay r1 >/dev/null
check "the consumer is connected to the relay" om_wait 15 peer_connected ctl_c r1
# the relay's datagrams to the consumer (behind its NAT), counted
ip netns exec "$NS_R1" nft -f - <<EOF
table inet omtest {
	chain tally {
		type filter hook output priority 0; policy accept;
		ip daddr $NATC_WAN udp sport 6950 counter comment "to-consumer"
	}
}
EOF
to_consumer() {
	ip netns exec "$NS_R1" nft list chain inet omtest tally |
		sed -n 's/.*counter packets [0-9]* bytes \([0-9]*\) comment "to-consumer".*/\1/p'
}
relay_counter() {
	json_eval ctl_r1 "r['counters'].get('$1', 0)" status
}

# one polite request first: the introduction, and a quiet baseline
ip netns exec "$NS_PROV" "$STRANGER" ask --to $R1_ADDR:6950 --state "$OM_T/p" --expect "$R1_FP" \
	--ask "$CONS_FP" --count 1 --interval-ms 500 >"$OM_T/ask1.log" 2>&1
check "the relay introduces the consumer to the asking peer" \
	om_wait 10 grep -q "peer provider: relay r1 introduced it" "$OM_T/consumer.log"
b0=$(to_consumer)
sleep $FLOOD_S  # the quiet baseline: keep-alives and acknowledgements
quiet=$(( $(to_consumer) - b0 ))

# then as fast as it goes: 16 requests a packet, a packet every 5 ms
b1=$(to_consumer)
ip netns exec "$NS_PROV" "$STRANGER" ask --to $R1_ADDR:6950 --state "$OM_T/p" --expect "$R1_FP" \
	--ask "$CONS_FP" --count $((FLOOD_S * 200)) --frames 16 --interval-ms 5 >"$OM_T/ask2.log" 2>&1
flood=$(( $(to_consumer) - b1 ))
log "asker: $(tail -n 1 "$OM_T/ask2.log"); relay to consumer: $quiet bytes in $FLOOD_S s quiet," \
	"$flood bytes in the flood; relay_requests_limited=$(relay_counter relay_requests_limited)" \
	"relay_requests_refused=$(relay_counter relay_requests_refused)"
check "the asking peer sent its requests ($(sed -n 's/.*frames=\([0-9]*\).*/\1/p' "$OM_T/ask2.log"))" \
	grep -q "frames=$((FLOOD_S * 200 * 16))" "$OM_T/ask2.log"
check "the relay counts the requests over the peer's rate" \
	test "$(relay_counter relay_requests_limited)" -gt 0
# an introduction of the asker to the consumer is under 100 bytes; a
# second's worth of them, and the baseline twice over, is the margin
check "the relay passes no flood on to the consumer ($flood bytes, quiet $quiet)" \
	test "$flood" -le $(( 2 * quiet + 100 * (FLOOD_S + 1) ))
check "the consumer stays connected to the relay" peer_connected ctl_c r1
exit $OM_FAILED
