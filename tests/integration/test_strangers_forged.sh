#!/bin/bash
# test_strangers_forged.sh: datagrams for a live session that do not
# authenticate (issue 13, finding 4).  The receiver id of a session
# travels in the clear, so anyone who saw one can address it; the DTLS
# record inside fails authentication.  Such a datagram must change
# nothing:
#   1. from a stranger, each from a new source port, it draws no reply:
#      no PATH_CHALLENGE toward the (possibly spoofed) source, so no
#      amplification (bytes out per byte in, counted at the router);
#   2. none of its sources becomes a path candidate, and the consumer counts
#      the datagrams as unauthenticated;
#   3. from the peer's own address while the peer is frozen, forged
#      datagrams do not keep the path alive: the consumer notices the
#      silence, and the link comes back once the peer runs again.
OM_TEST=strangers-forged
. "$(dirname "$0")/lib.sh"
om_need_root
STRANGER=$OM_BUILD/tests/stranger
FORGED=40

om_topology || { fail "topology"; exit 1; }
om_start_daemons || { fail "daemons start and link up"; exit 1; }
check "the consumer sees the provider connected" om_wait 10 peer_connected ctl_c provider
sid=$(sed -n 's/^[0-9:.]* *peer provider: session \([0-9a-f]*\) established.*/\1/p' "$OM_T/consumer.log" |
	tail -n 1)
check "the consumer's session id is in its log ($sid)" test -n "$sid"

# the router counts what goes between the stranger and the consumer
ip netns exec "$NS_RTR" nft -f - <<EOF
table inet omtest {
	chain tally {
		type filter hook forward priority 0; policy accept;
		ip saddr $SRV_ADDR udp dport 6950 counter comment "in"
		ip daddr $SRV_ADDR udp sport 6950 counter comment "out"
	}
}
EOF
bytes() {  # NAME - bytes counted so far
	ip netns exec "$NS_RTR" nft list chain inet omtest tally |
		sed -n "s/.*counter packets [0-9]* bytes \([0-9]*\) comment \"$1\".*/\1/p"
}

# --- 1, 2: a stranger
unauth0=$(json_eval ctl_c "r['counters'].get('unauthenticated_datagrams', 0)" status)
ip netns exec "$NS_SRV" "$STRANGER" forge --to $CONS_LAN:6950 --from $SRV_ADDR:40000 --spoof \
	--vary-port --id "$sid" --count $FORGED --interval-ms 25 --tail-ms 0 >"$OM_T/forge.log" 2>&1
# replies would leave at once; a challenge round is at most a second later
sleep 1.5
in=$(bytes in) out=$(bytes out)
ratio=$(awk -v o="$out" -v i="$in" 'BEGIN { printf "%.2f", i ? o / i : 0 }')
log "forged: $(cat "$OM_T/forge.log"); router: $in bytes in, $out bytes out (ratio $ratio)"
check "the forged datagrams reached the consumer's router ($in bytes)" test "${in:-0}" -gt 0
check "they drew nothing back: $out bytes out for $in in (ratio $ratio)" test "${out:-1}" = 0
unauth=$(json_eval ctl_c "r['counters'].get('unauthenticated_datagrams', 0)" status)
check "the consumer counts them as unauthenticated ($((unauth - unauth0)))" \
	test $((unauth - unauth0)) -ge $FORGED
check "none of their sources became a candidate" \
	test "$(json_eval ctl_c "len([c for p in r['peers'] for c in p['candidates'] if '$SRV_ADDR' in c['path']])" status)" = 0
check "the link stays connected" peer_connected ctl_c provider

# --- 3: the provider frozen, forged datagrams from its very address
kill -STOP "$PROV_PID"
om_bg "$NS_PROV" forge-liveness "$STRANGER" forge --to $CONS_ADDR:6950 --from $PROV_ADDR:6950 \
	--spoof --id "$sid" --count 300 --interval-ms 100 --tail-ms 0
FORGE_PID=$OM_LASTPID
t0=$(date +%s%N)
# an idle path is probed after at most probe-interval-max (15 s), then
# lost after probe-timeout (2.5 s)
if om_wait 25 eval '! peer_connected ctl_c provider'; then
	pass "with the provider frozen, forged datagrams from its address do not keep the path alive (lost after $(( ($(date +%s%N) - t0) / 1000000 )) ms)"
else
	fail "with the provider frozen, the consumer notices within 25 s despite forged datagrams from its address"
fi
check "the forged datagrams were still coming meanwhile" kill -0 $FORGE_PID
kill "$FORGE_PID" 2>/dev/null
kill -CONT "$PROV_PID"
check "the provider runs again: the link comes back" om_wait 30 peer_connected ctl_c provider
check "the provider sees it too" om_wait 10 peer_connected ctl_p consumer
exit $OM_FAILED
