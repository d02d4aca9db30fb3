#!/bin/bash
# test_paths_relay.sh: the provider is behind a NAT that maps every
# destination to a new port (no hole can be punched), the consumer behind
# an ordinary one; two relays.
#   3. the link runs through a relay, and the VM's traffic goes through it,
#      no faster than the relay's limit for one peer;
#   9. the relay in use is killed during a download: the link moves to the
#      other relay and the download completes byte-exact.
OM_TEST=paths-relay
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/paths.sh"
om_need_root

RATE=8000000 # relay-bytes-per-second
echo "relay-bytes-per-second = $RATE" >"$OM_T/relay.conf"
OM_RELAY_CONF=$OM_T/relay.conf
om_paths_topology symmetric eim || { fail "topology"; exit 1; }
om_start_servers || { fail "stand-in servers start"; exit 1; }
om_paths_daemons 2 "" || { fail "daemons start"; exit 1; }

# --- 3. relayed
expect_method ctl_p consumer relay 30 "the provider reaches the consumer through a relay"
check "the consumer reaches the provider through a relay" \
	om_wait 15 peer_is ctl_c provider connected relay
check "the VM gets an address and reaches the server" vm_up
head -c $((24 << 20)) /dev/urandom >"$OM_T/www/f"
t0=$(date +%s%N)
vm curl -sS -m 60 -o "$OM_T/down" http://$SRV_ADDR:8080/f
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "24 MB download through the relay is byte-exact" cmp -s "$OM_T/down" "$OM_T/www/f"
# the relay's bucket holds a quarter second: 24 MB take at least
# (24 MB - RATE/4) / RATE
min_ms=$(( ((24 << 20) - RATE / 4) * 1000 / RATE ))
check "the relay held it to its limit: $ms ms, $(( (24 << 20) * 8 / ms / 1000 )) Mbit/s (limit $((RATE * 8 / 1000000)) Mbit/s, so at least $min_ms ms)" \
	test "$ms" -ge "$min_ms"
check "no punched path ever answered (the NAT maps each destination anew)" \
	field_is ctl_p consumer "[c for c in p['candidates'] if c['method'] == 'hole-punched' and c['answered_ms_ago'] is not None]" "[]"
used=$(peer_field ctl_p consumer "p['relay']")
check "status names the relay in use ($used)" test "$used" = r1 -o "$used" = r2
ctl_r() { "$OMNETCTL" -s "$OM_T/$R.sock" "$@"; }
relay_counter() {  # RELAY NAME
	R=$1 json_eval ctl_r "r['relay']['$2']" status
}
check "the relay counts what it forwarded" test "$(relay_counter "$used" datagrams_relayed)" -gt 10000
check "the relay counts what it dropped over the limit" \
	test "$(relay_counter "$used" dropped_rate_limit)" -gt 0

# --- 9. the relay in use dies
other=r1
[ "$used" = r1 ] && other=r2
head -c $((40 << 20)) /dev/urandom >"$OM_T/www/big"
om_bg "$NS_VM" curl-big curl -sS -m 300 -o "$OM_T/big.down" http://$SRV_ADDR:8080/big
curl_pid=$OM_LASTPID
check "the download is under way" om_wait 30 size_at_least "$OM_T/big.down" $((4 << 20))
if [ "$used" = r1 ]; then kill -9 "$R1_PID"; else kill -9 "$R2_PID"; fi
t0=$(date +%s%N)
if om_wait 15 field_is ctl_p consumer "p['state'] + '/' + str(p['relay'])" "connected/$other"; then
	pass "the provider moved to relay $other, $(( ($(date +%s%N) - t0) / 1000000 )) ms after $used died"
else
	fail "the provider moved to relay $other (now: $(peer_field ctl_p consumer "p['state'], p['method'], p['path']"))"
fi
check "the consumer moved to relay $other" \
	om_wait 15 field_is ctl_c provider "p['state'] + '/' + str(p['relay'])" "connected/$other"
check "the download completes" om_wait_gone $curl_pid 120
check "40 MB download across the relay's death is byte-exact" cmp -s "$OM_T/big.down" "$OM_T/www/big"
check "the dead relay is being retried, not given up" \
	om_wait 20 field_is ctl_p $used "p['state'] in ('degraded', 'reconnecting')" True

# --- 10. a peer removed while it is being redialled: the daemon stops
# dialling it at once (its attempts went on pointing at the freed peer, a
# use-after-free ASan caught), stays up, and the link to the consumer is
# unharmed
check "the dead relay is removed" ctl_p peer remove $used
before=$(grep -c "peer $used:" "$OM_T/provider.log")
check "nothing more is done for it over the next 3 s" \
	sh -c "sleep 3; kill -0 $PROV_PID && [ \$(grep -c 'peer $used:' $OM_T/provider.log) -le $((before + 1)) ]"
check "the provider answers" ctl_p status
check "and is still connected to the consumer through $other" \
	field_is ctl_p consumer "p['state'] + '/' + str(p['relay'])" "connected/$other"
exit $OM_FAILED
