#!/bin/bash
# test_paths_move.sh: a running link moves from a direct path to a relay
# with a longer RTT and a lower rate, and back, while the VM's flow runs.
# The consumer is reachable directly, the provider is behind a NAT, one
# relay; impairment bridges make the paths differ:
#   natp's leg (every path crosses it)   5 ms each way, 200 Mbit/s
#   r1's leg (the relayed path crosses it twice each way)
#                                        20 ms each way, 100 Mbit/s
# so the direct path has 10 ms RTT and 200 Mbit/s, the relayed one 90 ms
# and 100 Mbit/s.  For each direction:
#   1. a flow runs on the direct path; the direct path is cut: the link
#      moves to the relay, and in the first max(2 s, 20 RTTs) after the
#      sender moved the flow gets at least what a new kernel TCP (BBR)
#      connection gets in as long from its connect() on a path like the
#      new one (provider -> relay with r1's leg set to 40 ms each way: the
#      same 90 ms and 100 Mbit/s), within the run-to-run spread of 20%
#      (bench/path-matrix's move rows give the medians against 1x);
#   2. a flow runs on the relay; the direct path returns: the link upgrades
#      to it, and in the first 2 s after the sender moved the flow gets at
#      least what a new kernel TCP (BBR) connection gets provider ->
#      consumer on the direct path, within the same spread.
# The flows go on across the moves: the receiver counts what arrives in
# 100 ms buckets (bench/path_matrix.py), so the window after a move is
# measured on the very flow that moved.  Probes every 3 s at most, rather
# than the default 15 s, keep the upgrade to the direct path short.
# PATHS_MOVE_ROWS=FILE also writes one line per move for bench/path-matrix:
#   MOVE DIR WINDOW_MS OMNET_BEFORE OMNET_WINDOW KERNEL_BBR
# PATHS_MOVE_DEBUG=1 logs the sender's link every 200 ms for 6 s after
# each move (window, pacing, in flight, losses, BBR's state and estimate).
OM_TEST=paths-move
PATHS_SLOW_LEGS="natp r1"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/paths.sh"
om_need_root

PM="$PY $OM_SRCDIR/bench/path_matrix.py"
NATP_LEG="delay-ms=5 rate-mbit=200 queue-ms=50"
R1_LEG="delay-ms=20 rate-mbit=100 queue-ms=100"
R1_LEG_KERNEL="delay-ms=40 rate-mbit=100 queue-ms=100"
FLOW_S=12

om_paths_topology eim dnat || { fail "topology"; exit 1; }
# the kernel's baseline on the direct path: TCP 5301 on the consumer's
# router goes to the consumer, as the mesh port does
ip netns exec "$NS_NATC" nft add rule ip omtest_nat pre iifname wan0 tcp dport 5301 \
	dnat to $CONS_LAN_ADDR:5301 || { fail "dnat for the kernel baseline"; exit 1; }
slow_leg natp "$NATP_LEG" && slow_leg r1 "$R1_LEG" || { fail "impairment on the legs"; exit 1; }
om_start_servers || { fail "stand-in servers start"; exit 1; }
for ns in "$NS_SRV" "$NS_CONS" "$NS_R1"; do
	om_bg "$ns" "pm-${ns##*-}" $PM serve --port 5301
done
echo "relay-bytes-per-second = 1000000000" >"$OM_T/relay.conf"
OM_RELAY_CONF=$OM_T/relay.conf
printf 'probe-interval-max-ms = 3000\n' >"$OM_T/provider.conf"
OM_PROVIDER_CONF=$OM_T/provider.conf
om_consumer_conf <<<"probe-interval-max-ms = 3000"
om_paths_daemons 1 $NATC_WAN:6950 || { fail "daemons start"; exit 1; }
check "the link is direct" om_wait 15 peer_is ctl_p consumer connected direct
check "the VM gets an address and reaches the server" vm_up
check "the relay has introduced the peers" \
	om_wait 15 field_is ctl_p consumer "len([c for c in p['candidates'] if c['method'] == 'relay'])" 1

# flow NS HOST DIR SECS OUT [CC] - one transfer, its buckets in OUT; with
# CC, a new connection counted from its connect(), as its user sees it
flow() {
	rm -f "$5"
	timeout $(($4 + 25)) ip netns exec "$1" $PM flow --host "$2" --port 5301 --dir "$3" \
		--secs "$4" --out "$5" ${6:+--cc "$6" --from-connect} >>"$OM_T/flows.log" 2>&1
	om_wait 15 test -s "$5"
}

# moved_at CTL PEER METHOD TIMEOUT_S - once the peer is connected by METHOD,
# the CLOCK_MONOTONIC ms (the buckets' clock) at which the daemon took the
# path, from its path_ms; fails if it does not within the time
moved_at() {
	local end=$(($(date +%s) + $4)) at
	while [ "$(date +%s)" -lt $end ]; do
		at=$("$1" --json status 2>/dev/null | $PY -c "
import json, sys, time
now = time.monotonic() * 1000
p = [p for p in json.load(sys.stdin)['result']['peers'] if p['name'] == '$2'][0]
if p['state'] == 'connected' and p['method'] == '$3':
    print(int(now - p['path_ms']))" 2>/dev/null)
		[ -n "$at" ] && { echo "$at"; return 0; }
		sleep 0.05
	done
	return 1
}

# link_samples CTL PEER - PATHS_MOVE_DEBUG: the sender's link every 200 ms
# for 6 s
link_samples() {
	local i
	for ((i = 0; i < 30; i++)); do
		log "$(peer_field "$1" "$2" "p['method'], {k: p['link'][k] for k in ('cwnd_bytes',
			'pacing_rate_bps', 'in_flight_bytes', 'buffered_bytes', 'packets_lost',
			'packets_retransmitted', 'rtt_min_ms', 'bbr', 'send_limited_ms')}")"
		sleep 0.2
	done
}

# move DIR NAME METHOD CHANGE RESTORE_KERNEL KHOST WIN_MS - a flow in DIR
# across the change CHANGE (a command) that makes the link move to METHOD,
# then a new kernel BBR connection provider -> KHOST on the new path
move() {
	local dir=$1 name=$2 method=$3 change=$4 kset=$5 khost=$6 w=$7 ctl=ctl_p peer=consumer
	local fp at t0 ob oa kb
	[ "$dir" = down ] && ctl=ctl_c peer=provider
	flow "$NS_VM" $SRV_ADDR "$dir" $FLOW_S "$OM_T/$name.$dir" &
	fp=$!
	sleep 3
	t0=$($PY -c 'import time; print(int(time.monotonic() * 1000))')
	$change
	if ! at=$(moved_at $ctl $peer "$method" 8); then
		fail "$name, $dir: the sender moved to the $method path (now: $(peer_field $ctl $peer "p['state'], p['method']"))"
		wait $fp
		return
	fi
	[ -n "${PATHS_MOVE_DEBUG-}" ] && link_samples $ctl $peer
	wait $fp
	ob=$($PM window "$OM_T/$name.$dir" $((t0 - 2000)) 2000)
	oa=$($PM window "$OM_T/$name.$dir" "$at" "$w")
	[ -n "$kset" ] && slow_leg r1 "$kset"
	flow "$NS_PROV" "$khost" "$dir" $((w / 1000)) "$OM_T/$name.$dir.bbr" bbr
	[ -n "$kset" ] && slow_leg r1 "$R1_LEG"
	kb=$($PM median "$OM_T/$name.$dir.bbr" | awk '{ print $1 }')  # (cut is paths.sh's)
	log "$name, $dir: omnet $ob Mbit/s in the 2 s before the change, $oa in the $w ms after the move ($((at - t0)) ms after the change); a new kernel BBR connection $kb"
	# both start from an initial window (RFC 9000 9.4), and both startups
	# overflow the relay leg's queue: run to run, either gets 10% more
	check "$name, $dir: in the $w ms after the move omnet's flow got $oa Mbit/s, at least 0.8 of a new kernel BBR connection's $kb" \
		$PY -c "import sys; sys.exit(not (float('$oa') > 0 and float('$oa') >= 0.8 * float('$kb')))"
	check "$name, $dir: the flow delivered to its end" \
		$PY -c "
import json, sys
b = json.load(open('$OM_T/$name.$dir'))['buckets'][:-1]
sys.exit(not any(b[-10:]))"
	[ -n "${PATHS_MOVE_ROWS-}" ] && echo "$name $dir $w $ob $oa $kb" >>"$PATHS_MOVE_ROWS"
}

cut_direct() {
	cut "$NS_NATP" ip daddr $NATC_WAN drop
	cut "$NS_NATP" ip saddr $NATC_WAN drop
}
uncut_direct() { uncut "$NS_NATP"; }

for dir in up down; do
	# meet the direct path first (what the link learned there is what a
	# move must not carry over)
	flow "$NS_VM" $SRV_ADDR "$dir" 2 "$OM_T/warm.$dir"
	move "$dir" direct-to-relay relay cut_direct "$R1_LEG_KERNEL" $R1_ADDR 2000
	move "$dir" relay-to-direct direct uncut_direct "" $NATC_WAN 2000
done
log "provider's link: $(peer_field ctl_p consumer "p['link']")"
log "consumer's link: $(peer_field ctl_c provider "p['link']")"
exit $OM_FAILED
