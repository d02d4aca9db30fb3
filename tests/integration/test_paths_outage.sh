#!/bin/bash
# test_paths_outage.sh: flows survive path failures.  The consumer is
# reachable directly, the provider is behind a NAT, a relay is available.
#   4. the direct path is cut during a 100 MB VM download: the link moves to
#      the relay within probe-timeout-ms plus the first backoff, and the
#      download completes byte-exact;
#   5. the direct path comes back: the link upgrades to it within
#      probe-interval-max-ms;
#   6. every path is down for 30 s during a download: status shows
#      reconnecting, with retry delays that double up to 15000 ms and no
#      further; when the paths return the link recovers and the download,
#      open across the outage, completes byte-exact.
OM_TEST=paths-outage
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/paths.sh"
om_need_root

PROBE_TIMEOUT_MS=2500 BACKOFF_MIN_MS=500 PROBE_MAX_MS=15000 BACKOFF_MAX_MS=15000
om_paths_topology eim dnat || { fail "topology"; exit 1; }
om_start_servers || { fail "stand-in servers start"; exit 1; }
om_paths_daemons 1 $NATC_WAN:6950 || { fail "daemons start"; exit 1; }
check "the link is direct" om_wait 15 peer_is ctl_p consumer connected direct
check "the VM gets an address and reaches the server" vm_up
check "the relay has introduced the peers" \
	om_wait 15 field_is ctl_p consumer "len([c for c in p['candidates'] if c['method'] == 'relay'])" 1

# --- 4. cut under load
head -c $((100 << 20)) /dev/urandom >"$OM_T/www/big"
om_bg "$NS_VM" curl-big curl -sS -m 300 -o "$OM_T/big.down" http://$SRV_ADDR:8080/big
curl_pid=$OM_LASTPID
check "the download is under way" om_wait 30 size_at_least "$OM_T/big.down" $((10 << 20))
cut "$NS_NATP" ip daddr $NATC_WAN drop
cut "$NS_NATP" ip saddr $NATC_WAN drop
expect_method ctl_p consumer relay 15 "the provider moves to the relay"
check "it moved $MS ms after the cut (at most $PROBE_TIMEOUT_MS + $BACKOFF_MIN_MS)" \
	test -n "$MS" -a "${MS:-0}" -le $((PROBE_TIMEOUT_MS + BACKOFF_MIN_MS))
check "the consumer moved to the relay too" om_wait 10 peer_is ctl_c provider connected relay
check "the download completes" om_wait_gone $curl_pid 240
check "100 MB download across the cut is byte-exact" cmp -s "$OM_T/big.down" "$OM_T/www/big"
grep -E "peer consumer: (path|connected|degraded)" "$OM_T/provider.log" | tail -n 4 >&2

# --- 5. the direct path returns
uncut "$NS_NATP"
expect_method ctl_p consumer direct 20 "the provider upgrades to the direct path"
check "it upgraded $MS ms after the path returned (at most probe-interval-max $PROBE_MAX_MS)" \
	test -n "$MS" -a "${MS:-0}" -le $PROBE_MAX_MS
check "the consumer is direct again too" om_wait 15 peer_is ctl_c provider connected direct

# --- 6. every path down for 30 s
head -c $((40 << 20)) /dev/urandom >"$OM_T/www/slow"
om_bg "$NS_VM" curl-slow curl -sS -m 300 --limit-rate 1M -o "$OM_T/slow.down" \
	http://$SRV_ADDR:8080/slow
curl_pid=$OM_LASTPID
check "the slow download is under way" om_wait 30 size_at_least "$OM_T/slow.down" $((5 << 20))
cut "$NS_NATP" iifname lan0 drop
cut "$NS_NATP" oifname lan0 drop
sample_status ctl_p consumer 30 "$OM_T/samples"
uncut "$NS_NATP"
t0=$(date +%s%N)
check "the link recovers within backoff-max-ms (and 3000 to observe it)" \
	om_wait $(( (BACKOFF_MAX_MS + 3000) / 1000 )) peer_is ctl_p consumer connected direct
log "recovered after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
$PY - "$OM_T/samples" "$BACKOFF_MAX_MS" <<'PYEOF' >"$OM_T/samples.verdict"
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
cap = int(sys.argv[2])
states = [r[0] for r in rows]
delays = [int(r[1]) for r in rows if r[0] == "reconnecting" and r[1] != "None"]
nexts = [int(r[2]) for r in rows if r[2] != "None"]
problems = []
if "failed" in states:
    problems.append("a failed state")
if "degraded" not in states:
    problems.append("never degraded")
if states[-1] != "reconnecting":
    problems.append("not reconnecting at the end: %s" % states[-1])
if any(b < a for a, b in zip(delays, delays[1:])):
    problems.append("retry delays shrank: %s" % delays)
if not delays or max(delays) != cap:
    problems.append("retry delays did not reach the cap: %s" % sorted(set(delays)))
if any(d > cap for d in delays + nexts):
    problems.append("a delay above the cap")
print("; ".join(problems) or "ok: delays %s" % sorted(set(delays)))
PYEOF
verdict=$(cat "$OM_T/samples.verdict")
check "during the outage: degraded, then reconnecting with doubling retry delays capped at $BACKOFF_MAX_MS ms ($verdict)" \
	test "${verdict%%:*}" = ok
check "the download open across the outage completes" om_wait_gone $curl_pid 120
check "40 MB download across a 30 s outage is byte-exact" cmp -s "$OM_T/slow.down" "$OM_T/www/slow"
exit $OM_FAILED
