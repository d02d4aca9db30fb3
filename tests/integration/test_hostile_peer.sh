#!/bin/bash
# test_hostile_peer.sh: a pinned peer that misbehaves costs only itself (issue 13).
#
# One provider carries two networks: $NETID for an honest consumer (a real
# omnetd) and $NET2 for a hostile one (tests/hostile_peer, a real DTLS
# handshake with a pinned key, then every attack it knows).  While it runs
# them, the honest VM downloads and uploads a bulk file through the honest
# consumer: every transfer must be byte-exact at a reasonable rate, the
# secret planted in that file must never reach the hostile side (its sinks,
# its stream and datagram bytes), the provider must live, stay within
# bounded memory, answer its control socket after every attack, and count
# the hostile input by name.  Then the reverse: the tool as a hostile
# provider against the consumer, which still serves the honest provider.
# Last, a ClientHello flood at the consumer from one address while a pinned
# provider connects from another: it must connect within 5 s.
#
# For figures per attack: HOSTILE_SCENARIOS (space-separated) runs a subset,
# in both directions; HOSTILE_PART=forward|reverse|flood runs one part;
# HOSTILE_HONEST=0 leaves out the honest transfers during the attacks (the
# daemon's CPU time is then the attack's alone); HOSTILE_MAX_FLOWS sets the
# daemons' max-flows (default 4096, so that finding 1 costs today's daemon
# hundreds of MB rather than the 4 GB it costs at the default 65536);
# HOSTILE_SETTLE_MS how long the tool waits after each scenario (1000).
OM_TEST=hostile-peer
. "$(dirname "$0")/lib.sh"
om_need_root

HOSTILE=$OM_BUILD/tests/hostile_peer
HELP=$OM_SRCDIR/tests/integration/hostile_helpers.py
[ -x "$HOSTILE" ] || { fail "$HOSTILE is missing (make all builds it)"; exit 1; }
NET2=00000000000000000000000000000002
NET3=00000000000000000000000000000003
MAX_FLOWS=${HOSTILE_MAX_FLOWS:-4096}
MEM_LIMIT=$((128 << 20))
MARKER="omnet-secret-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"
BULK_MB=32
ALL="malformed ack-unsent cross-flow network-deleted relay-frames candidates
path-challenge-flood early-udp-gap dgram-reasm stream-hold window-violation open-flood
forged-data flow-ids-ahead early-udp-overrun"
SCENARIOS=${HOSTILE_SCENARIOS:-idle $ALL}
PART=${HOSTILE_PART:-all}
# a sanitizer build's RSS grows with its quarantine: memory is only reported
SANITIZED=0
ldd "$OMNETD" 2>/dev/null | grep -q libasan && SANITIZED=1
# scenarios whose input is invalid or not the peer's to send: some counter
# in `status` must show it dropped (daemon counters or the peer's link)
EXPECT_COUNTED="malformed ack-unsent network-deleted relay-frames candidates window-violation
stream-hold dgram-reasm open-flood forged-data early-udp-gap flow-ids-ahead early-udp-overrun"

# --- set-up: the usual pair, then the second tenant
cat >"$OM_T/provider.conf" <<EOF
max-flows = $MAX_FLOWS
memory-limit-bytes = $MEM_LIMIT
EOF
OM_PROVIDER_CONF=$OM_T/provider.conf
# the consumer keeps the default handshake-timeout-ms (10 s): how long a
# flood's half-open handshake holds a slot
echo "nameserver $SRV_ADDR" >"$OM_T/resolv.conf"
cat >"$OM_T/consumer.conf" <<EOF
resolv-conf = $OM_T/resolv.conf
max-flows = $MAX_FLOWS
memory-limit-bytes = $MEM_LIMIT
EOF
om_topology && om_topology_second_tenant || { fail "topology"; exit 1; }
om_start_servers || { fail "stand-in servers start"; exit 1; }
om_start_daemons || { fail "daemons start and link up"; exit 1; }
om_vm_dhcp || { fail "DHCP for the honest VM"; exit 1; }
mkdir -p "$OM_T/h1" "$OM_T/h2"
H1_FP=$("$OMNETD" --show-identity -S "$OM_T/h1") && H2_FP=$("$OMNETD" --show-identity -S "$OM_T/h2") ||
	{ fail "identities for the hostile peers"; exit 1; }
ctl_p peer add hostile --fingerprint "$H1_FP" --endpoint $HOS_ADDR:6950 >/dev/null &&
	ctl_p network add $NET2 --peer hostile --netns "$NS_CAP2" --iface tap0 >/dev/null &&
	ctl_c peer add hostprov --fingerprint "$H2_FP" >/dev/null &&
	ctl_c network add $NET3 --peer hostprov >/dev/null || { fail "the second tenant's peers"; exit 1; }
om_dhcp_in "$NS_VM2" vm2 || { fail "DHCP for the hostile VM"; exit 1; }
read -r VM2_IP _ <"$OM_T/vm2.lease"
# the sinks the hostile side chooses as destinations: in its own VM, and a server
om_bg "$NS_VM2" sink-vm2 $PY "$HELP" udpsink --port 9999 --out "$OM_T/sink-vm2.bin"
om_bg "$NS_SRV" sink-srv $PY "$HELP" udpsink --addr $SRV_ADDR --port 9999 --out "$OM_T/sink-srv.bin"
$PY "$HELP" mkbulk --size $((BULK_MB << 20)) --marker "$MARKER" --out "$OM_T/www/bulk"
BULK_SHA=$(sha256sum <"$OM_T/www/bulk" | cut -d' ' -f1)
BULK_BYTES=$((BULK_MB << 20))
log "honest VM $(cut -d' ' -f1 "$OM_T/vm.lease"), hostile VM $VM2_IP; secret $MARKER"
SNAP="$OMNETCTL --timeout-ms 3000 --json -s"

# honest_transfer TAG - one download and one upload of the bulk file, one
# line each in $OM_T/honest-TAG.log: "down|up RC NS exact|BAD BYTES"; a
# transfer that stalls (below 1 MB/s for 3 s: its daemon died) is cut short
CURL_LIMITS="-m 30 --connect-timeout 3 --speed-limit 1000000 --speed-time 3"
honest_transfer() {
	local tag=$1 t0 t1 rc sum got
	t0=$(date +%s%N)
	vm curl -sS $CURL_LIMITS -o "$OM_T/dl-$tag" http://$SRV_ADDR:8080/bulk 2>>"$OM_T/curl-$tag.log"
	rc=$? t1=$(date +%s%N)
	sum=$(sha256sum <"$OM_T/dl-$tag" 2>/dev/null | cut -d' ' -f1)
	echo "down $rc $((t1 - t0)) $([ "$sum" = "$BULK_SHA" ] && echo exact || echo BAD) $BULK_BYTES" \
		>>"$OM_T/honest-$tag.log"
	t0=$(date +%s%N)
	got=$(vm curl -sS $CURL_LIMITS -T "$OM_T/www/bulk" http://$SRV_ADDR:8080/up-$tag \
		2>>"$OM_T/curl-$tag.log")
	rc=$? t1=$(date +%s%N)
	echo "up $rc $((t1 - t0)) $([ "$got" = "$BULK_SHA" ] && echo exact || echo BAD) $BULK_BYTES" \
		>>"$OM_T/honest-$tag.log"
}

# honest_loop TAG - transfers until $OM_T/stop-TAG appears (at most 40 rounds)
honest_loop() {
	local i
	for ((i = 0; i < 40; i++)); do
		[ -e "$OM_T/stop-$1" ] && break
		honest_transfer "$1"
	done
}

# hostile TAG PID_OF_TARGET SOCKET hostile_peer-arguments... - start the
# tool: it gets its session, then waits for $OM_T/go-TAG; after each
# scenario it snapshots the target's status; bounded in time
hostile() {
	local tag=$1 pid=$2 sock=$3; shift 3
	om_bg "$NS_HOS" "hostile-$tag" timeout 200 "$HOSTILE" --watch-pid "$pid" \
		--max-flows $MAX_FLOWS --marker "$MARKER" --dump "$OM_T/dump-$tag.bin" \
		--report "$OM_T/report-$tag.json" --go "$OM_T/go-$tag" --wait-ms 30000 \
		--settle-ms "${HOSTILE_SETTLE_MS:-1000}" \
		--after "$SNAP $sock status >$OM_T/status-$tag-\$HOSTILE_SCENARIO.json" "$@"
	eval "HOSTILE_PID_$tag=$OM_LASTPID"
}

# attack TAG SOCKET - let the tool loose while the honest tenant transfers
attack() {
	local tag=$1 sock=$2 loop pid
	eval "pid=\$HOSTILE_PID_$tag"
	$SNAP "$sock" status >"$OM_T/status-$tag-start.json"
	: >"$OM_T/honest-$tag.log"
	[ "${HOSTILE_HONEST:-1}" = 0 ] && touch "$OM_T/stop-$tag"
	honest_loop "$tag" &
	loop=$!
	OM_PIDS+=($loop)
	touch "$OM_T/go-$tag"
	om_wait_gone "$pid" 200 || log "hostile peer ($tag) still running"
	wait "$pid"
	log "hostile peer ($tag) exited with $?"
	touch "$OM_T/stop-$tag"
	wait $loop
}

# verdict TAG PEER HONEST_PEER HOSTILE_ADDR OWN_CIDRS - the checks on one
# attack; the target's own networks are no candidates for the hostile peer
# to name (but its own address, where the target reaches it, is)
verdict() {
	local tag=$1 peer=$2 honest=$3 n bad bps ratio out
	out=$($PY "$HELP" scenarios --report "$OM_T/report-$tag.json" --status "$OM_T/status-$tag" \
		--peer "$peer" --honest "$honest" --net $NETID --hostile-addr "$4" \
		--own-cidrs "$5" --allowed-cands "$4:" \
		--expect-counted "$(echo $EXPECT_COUNTED | tr ' ' ,)")
	echo "$out" | grep -v '^FAIL: ' >&2
	echo "$out" | grep '^FAIL: ' | sed "s/^FAIL: /FAIL: $tag: /"
	echo "$out" | grep -q '^FAIL: ' && OM_FAILED=1
	check "$tag: the hostile peer ran $(echo $SCENARIOS | wc -w) scenarios" \
		test "$(grep -c . "$OM_T/report-$tag.json" 2>/dev/null)" = "$(echo $SCENARIOS | wc -w)"
	check "$tag: no byte of the secret in what the hostile peer received" \
		sh -c "! grep -qaF '$MARKER' '$OM_T/dump-$tag.bin' 2>/dev/null"
	[ "${HOSTILE_HONEST:-1}" = 0 ] && return
	read -r n bad bps ratio < <($PY "$HELP" transfers --log "$OM_T/honest-$tag.log" \
		--baseline-bps "$BASE_BPS")
	check "$tag: the honest tenant completed transfers under attack ($n)" test "${n:-0}" -ge 2
	check "$tag: every honest transfer under attack was byte-exact ($bad failed of $n)" \
		test "${bad:-1}" = 0
	log "$tag: honest rate under attack $((${bps%.*} / 1000000)) Mbit/s, ${ratio}x its rate alone"
	check "$tag: the honest rate under attack is at least half its rate alone (${ratio}x)" \
		$PY -c "import sys; sys.exit(0 if $ratio >= 0.5 else 1)"
}

secret_in() {  # FILE - copies of the secret in it
	local n
	n=$(grep -caF "$MARKER" "$1" 2>/dev/null)
	echo "${n:-0}"
}

# revive TAG - a daemon an attack killed is started again (its peers and
# networks are in its state directory), so the next part measures something
revive() {
	if ! om_alive "$PROV_PID"; then
		log "$1: the provider is dead; starting it again"
		om_start_provider provider-2
	fi
	if ! om_alive "$CONS_PID"; then
		log "$1: the consumer is dead; starting it again"
		om_start_consumer consumer-2
	fi
	om_wait 20 peer_connected ctl_p consumer ||
		log "$1: the honest provider is not connected: the honest checks will fail"
}

# mem_bound TAG NAME HWM_BEFORE HWM_AFTER - the daemon's peak memory grew
# by at most memory-limit-bytes (what a peer can make it hold counts there);
# for a daemon that died, the peak the tool saw
mem_bound() {
	local peak grew
	peak=$($PY -c "import json,sys; print(max([0] + [max(r.get('hwm_kb') or 0, r.get('rss_kb_peak') or 0)
		for r in map(json.loads, open(sys.argv[1]))]))" "$OM_T/report-$1.json" 2>/dev/null)
	grew=$(( $(printf '%s\n' "${4:-0}" "${peak:-0}" | sort -n | tail -n 1) - ${3:-0} ))
	log "$1: the $2's peak memory grew by $grew KiB during the attack"
	if [ "$SANITIZED" = 1 ]; then
		log "$1: sanitizer build: the memory bound is not checked"
		return
	fi
	check "$1: the $2's peak memory grew by at most memory-limit-bytes ($grew KiB)" \
		test "$grew" -le $((MEM_LIMIT >> 10))
}

mem_report() {  # TAG PID NAME
	read -r rss hwm < <(om_proc_mem "$2")
	log "$1: $3 VmRSS ${rss:-gone} KiB, VmHWM ${hwm:-gone} KiB, CPU $(om_proc_cpu_ms "$2" || echo -) ms"
}

# --- forward: a hostile consumer against the provider; started now, so that
# the provider dials it at once, it waits for go-forward to attack
if [ "$PART" = all ] || [ "$PART" = forward ]; then
	hostile forward "$PROV_PID" "$OM_T/p.sock" -S "$OM_T/h1" --as consumer \
		--listen $HOS_ADDR:6950 --peer-fp "$PROV_FP" --net $NET2 --victim-net $NETID \
		--victim-fp "$CONS_FP" --victim-session "$(om_session_id "$OM_T/provider.log" consumer)" \
		--target $HOS_PROV_LEG:6950 --sink "$VM2_IP:9999" $SCENARIOS
fi
# --- the honest tenant alone: its usual rate
honest_transfer base
honest_transfer base
read -r n bad BASE_BPS _ < <($PY "$HELP" transfers --log "$OM_T/honest-base.log")
check "alone: $n honest transfers of $BULK_MB MiB, all byte-exact" test "$bad" = 0
log "alone: $((${BASE_BPS%.*} / 1000000)) Mbit/s"

if [ "$PART" = all ] || [ "$PART" = forward ]; then
	check "forward: the provider and the hostile consumer connected" om_wait 15 peer_connected ctl_p hostile
	read -r _ HWM0 < <(om_proc_mem "$PROV_PID")
	mem_report forward "$PROV_PID" "provider before"
	attack forward "$OM_T/p.sock"
	mem_report forward "$PROV_PID" "provider after"
	check "forward: the provider is alive after every attack" om_alive "$PROV_PID"
	read -r _ HWM1 < <(om_proc_mem "$PROV_PID")
	mem_bound forward provider "$HWM0" "$HWM1"
	# the provider's own networks: its VM networks and its interfaces' prefixes
	verdict forward hostile consumer $HOS_ADDR 10.0.2.0/24,192.0.2.0/25,203.0.113.0/28
	n=$(secret_in "$OM_T/sink-vm2.bin")
	check "forward: the secret never reached a destination the hostile peer chose ($n copies)" \
		test "$n" = 0
fi

# --- reverse: a hostile provider against the consumer, which serves the honest one too
if [ "$PART" = all ] || [ "$PART" = reverse ]; then
	revive reverse
	read -r _ HWM0 < <(om_proc_mem "$CONS_PID")
	mem_report reverse "$CONS_PID" "consumer before"
	hostile reverse "$CONS_PID" "$OM_T/c.sock" -S "$OM_T/h2" --as provider \
		--listen $HOS_ADDR2:0 --connect $HOS_CONS_LEG:6950 --peer-fp "$CONS_FP" --net $NET3 \
		--victim-net $NETID --victim-fp "$PROV_FP" \
		--victim-session "$(om_session_id <(cat "$OM_T/consumer.log" "$OM_T/consumer-2.log" 2>/dev/null) provider)" \
		--target $HOS_CONS_LEG:6950 --sink $SRV_ADDR:9999 $SCENARIOS
	om_wait 15 peer_connected ctl_c hostprov || log "reverse: the hostile provider did not connect"
	attack reverse "$OM_T/c.sock"
	mem_report reverse "$CONS_PID" "consumer after"
	check "reverse: the consumer is alive after every attack" om_alive "$CONS_PID"
	read -r _ HWM1 < <(om_proc_mem "$CONS_PID")
	mem_bound reverse consumer "$HWM0" "$HWM1"
	verdict reverse hostprov provider $HOS_ADDR2 192.0.2.0/24,203.0.113.16/28
	n=$(secret_in "$OM_T/sink-srv.bin")
	check "reverse: the secret never reached a destination the hostile peer chose ($n copies)" \
		test "$n" = 0
fi

# --- a ClientHello flood at the consumer from one address (203.0.113.19)
# while a pinned provider it cannot dial (hostprov: no endpoint, so only
# the provider's own handshake counts) connects from another
if [ "$PART" = all ] || [ "$PART" = flood ]; then
	revive flood
	ip -n "$NS_HOS" addr add 203.0.113.19/28 dev eth1
	ip netns exec "$NS_HOS" timeout 30 "$HOSTILE" -S "$OM_T/h1" --as consumer \
		--listen 203.0.113.19:0 --no-session --target $HOS_CONS_LEG:6950 --flood-ms 13000 \
		--settle-ms 0 --report "$OM_T/report-flood.json" hello-flood \
		>"$OM_T/hostile-flood.log" 2>&1 &
	flood=$!
	OM_PIDS+=($flood)
	sleep 1  # the flood takes the consumer's handshake slots first
	ip netns exec "$NS_HOS" timeout 30 "$HOSTILE" -S "$OM_T/h2" --as provider \
		--listen $HOS_ADDR2:0 --connect $HOS_CONS_LEG:6950 --peer-fp "$CONS_FP" --net $NET3 \
		--wait-ms 12000 --settle-ms 0 --report "$OM_T/report-pinned.json" idle \
		>"$OM_T/hostile-pinned.log" 2>&1
	wait $flood
	ms=$($PY -c "import json,sys; print(json.loads(open(sys.argv[1]).readline())['connect_ms'])" \
		"$OM_T/report-pinned.json" 2>/dev/null)
	log "flood: $(sed 's/.*"out_tx_datagrams"/"out_tx_datagrams"/' "$OM_T/report-flood.json" 2>/dev/null)"
	log "flood: the consumer's handshakes_refused: $(json_eval ctl_c "r['counters']['handshakes_refused']" status)"
	check "flood: a pinned provider connected within 5 s during a ClientHello flood (${ms:-no session in 12 s} ms)" \
		test "${ms:-99999}" -lt 5000
	check "flood: the consumer is alive" om_alive "$CONS_PID"
	check "flood: the honest provider is still connected" peer_connected ctl_p consumer
fi
exit $OM_FAILED
