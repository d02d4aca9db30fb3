#!/bin/sh
# impair_selftest.sh: prove tests/impair bridges and impairs a link.
#
# Builds  A (192.0.2.1) -- veth -- BR (impair) -- veth -- B (192.0.2.2)
# and checks: ping works, --delay-ms 20 gives ~40 ms RTT, --loss 50 one way
# loses ~half the pings, --dup shows duplicates, SIGUSR1 writes stats,
# iperf3 through the plain bridge reaches ~1 Gbit/s and --rate-mbit 100
# holds TCP near 100 Mbit/s; also that GSO frames cross when offloads are on.
# Needs root.  IMPAIR names the binary (default $OMNET_BUILD/tests/impair).
# MIN_PLAIN_MBIT lowers the plain-bridge bar on slow machines.
set -u

IMPAIR=${IMPAIR:-${OMNET_BUILD:-build}/tests/impair}
MIN_PLAIN_MBIT=${MIN_PLAIN_MBIT:-900}
NS_A=imptest-a-$$
NS_B=imptest-b-$$
NS_BR=imptest-br-$$
TMP=$(mktemp -d /tmp/imptest.XXXXXX)
IMP_PID=
SRV_PID=
FAILS=0

cleanup() {
	[ -n "$IMP_PID" ] && kill -KILL "$IMP_PID" 2>/dev/null
	[ -n "$SRV_PID" ] && kill -KILL "$SRV_PID" 2>/dev/null
	for ns in "$NS_A" "$NS_B" "$NS_BR"; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

# nsx NS CMD... - run CMD inside namespace NS
nsx() { ns=$1; shift; ip netns exec "$ns" "$@"; }

# offloads NS IF on|off - the TSO/GSO/GRO/checksum offloads of one veth end
offloads() {
	nsx "$1" ethtool -K "$2" tso "$3" gso "$3" gro "$3" tx "$3" >/dev/null 2>&1
}

setup() {
	ip netns add "$NS_A" && ip netns add "$NS_B" && ip netns add "$NS_BR" || return 1
	ip -n "$NS_A" link add eth0 type veth peer name leg-a netns "$NS_BR" || return 1
	ip -n "$NS_B" link add eth0 type veth peer name leg-b netns "$NS_BR" || return 1
	# The bridge namespace must stay silent: no IPv6 autoconf on its legs
	nsx "$NS_BR" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null
	nsx "$NS_BR" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 2>/dev/null
	for end in "$NS_A eth0" "$NS_B eth0" "$NS_BR leg-a" "$NS_BR leg-b"; do
		set -- $end
		offloads "$1" "$2" off
		ip -n "$1" link set "$2" up || return 1
	done
	ip -n "$NS_A" addr add 192.0.2.1/24 dev eth0 || return 1
	ip -n "$NS_B" addr add 192.0.2.2/24 dev eth0 || return 1
	ip -n "$NS_A" link set lo up && ip -n "$NS_B" link set lo up
}

# wait_file FILE SECONDS - until FILE exists; 1 on timeout
wait_file() {
	n=0
	while [ ! -s "$1" ]; do
		n=$((n + 1))
		[ "$n" -gt $(($2 * 20)) ] && return 1
		sleep 0.05
	done
}

# start_impair ARGS... - run impair in BR, return once its pidfile is there
start_impair() {
	rm -f "$TMP/pid" "$TMP/stats"
	echo "== impair $*" >>"$TMP/impair.log"
	# Not through nsx: a backgrounded shell function is a subshell, and $!
	# would name it rather than impair (ip netns exec execs, so here it is)
	ip netns exec "$NS_BR" "$IMPAIR" --a leg-a --b leg-b --pidfile "$TMP/pid" \
		--stats "$TMP/stats" --duration-ms 120000 "$@" 2>>"$TMP/impair.log" &
	IMP_PID=$!
	if ! wait_file "$TMP/pid" 5; then
		fail "impair $* did not start: $(tail -n 2 "$TMP/impair.log")"
		return 1
	fi
	[ "$(cat "$TMP/pid")" = "$IMP_PID" ] || fail "pidfile says $(cat "$TMP/pid"), started $IMP_PID"
}

# stop_impair - SIGTERM, then wait up to 5 s for it to write stats and exit
stop_impair() {
	[ -n "$IMP_PID" ] || return 0
	kill -TERM "$IMP_PID" 2>/dev/null
	n=0
	while kill -0 "$IMP_PID" 2>/dev/null && [ "$n" -lt 100 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	if kill -0 "$IMP_PID" 2>/dev/null; then
		fail "impair ignored SIGTERM"
		kill -KILL "$IMP_PID"
	fi
	wait "$IMP_PID" 2>/dev/null
	IMP_PID=
}

# stat KEY - one counter from the stats file
stat() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/stats"; }

# ping_ab COUNT INTERVAL - ping B from A; output in $TMP/ping
ping_ab() {
	timeout 60 ip netns exec "$NS_A" ping -n -q -c "$1" -i "$2" -W 1 192.0.2.2 >"$TMP/ping" 2>&1
}
ping_loss() { sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' "$TMP/ping"; }
ping_avg() { sed -n 's|^rtt [^=]*= [0-9.]*/\([0-9.]*\)/.*|\1|p' "$TMP/ping"; }

# in_range VALUE LO HI - VALUE (decimal) within [LO, HI]
in_range() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v != "" && v >= lo && v <= hi) }'; }

# iperf_mbit SECONDS - TCP A->B throughput at the receiver into $MBIT
# (Mbit/s); not a $(...) subshell, so cleanup() sees SRV_PID
iperf_mbit() {
	timeout 30 ip netns exec "$NS_B" iperf3 -s -1 >/dev/null 2>&1 &
	SRV_PID=$!
	n=0
	until nsx "$NS_B" ss -ltn 2>/dev/null | grep -q ':5201 '; do
		n=$((n + 1))
		[ "$n" -gt 100 ] && break
		sleep 0.05
	done
	timeout $(($1 + 15)) ip netns exec "$NS_A" iperf3 -c 192.0.2.2 -t "$1" -f m \
		>"$TMP/iperf" 2>&1
	wait "$SRV_PID" 2>/dev/null
	SRV_PID=
	MBIT=$(awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") v = $i }
		END { print v }' "$TMP/iperf")
}

t_plain_ping() {
	start_impair || return
	ping_ab 5 0.2
	if [ "$(ping_loss)" = 0 ]; then pass "plain bridge: ping, rtt $(ping_avg) ms"
	else fail "plain bridge: ping loss $(ping_loss)%: $(cat "$TMP/ping")"; fi
	stop_impair
}

t_delay() {
	start_impair --delay-ms 20 || return
	ping_ab 20 0.1
	avg=$(ping_avg)
	if in_range "$avg" 39 50; then pass "--delay-ms 20: rtt avg $avg ms"
	else fail "--delay-ms 20: rtt avg '$avg' ms, want ~40"; fi
	stop_impair
}

t_loss() {
	start_impair --loss 50 --a-to-b-only --seed 7 || return
	ping_ab 200 0.01
	loss=$(ping_loss)
	stop_impair
	if in_range "$loss" 38 62; then pass "--loss 50 --a-to-b-only: ping loss $loss% (200 pings), a_to_b_dropped_loss $(stat a_to_b_dropped_loss) of $(stat a_to_b_rx)"
	else fail "--loss 50 --a-to-b-only: ping loss '$loss'%"; fi
	start_impair --loss 50 --seed 7 || return
	ping_ab 200 0.01
	pass "--loss 50 both ways (expect ~75%): ping loss $(ping_loss)%"
	stop_impair
}

t_dup() {
	start_impair --dup 100 --b-to-a-only || return
	ping_ab 5 0.2
	# ping -c stops at the 5th reply, before that reply's copy can arrive
	if grep -Eq '\+[45] duplicates' "$TMP/ping"; then pass "--dup 100 --b-to-a-only: $(grep -o '+[0-9]* duplicates' "$TMP/ping") in 5 pings"
	else fail "--dup 100: $(cat "$TMP/ping")"; fi
	stop_impair
}

t_stats_usr1() {
	start_impair --reorder 50 --jitter-ms 2 --seed 3 || return
	ping_ab 20 0.01
	rm -f "$TMP/stats"
	kill -USR1 "$IMP_PID"
	if wait_file "$TMP/stats" 5 && [ "$(stat a_to_b_rx)" -ge 20 ] &&
	   [ "$(stat a_to_b_reordered)" -gt 0 ]; then
		pass "SIGUSR1 stats: a_to_b rx $(stat a_to_b_rx) tx $(stat a_to_b_tx) reordered $(stat a_to_b_reordered)"
	else fail "SIGUSR1 stats: $(cat "$TMP/stats" 2>&1)"; fi
	stop_impair
}

t_iperf_plain() {
	start_impair || return
	iperf_mbit 5
	stop_impair
	if in_range "$MBIT" "$MIN_PLAIN_MBIT" 1000000; then pass "plain bridge: iperf3 $MBIT Mbit/s"
	else fail "plain bridge: iperf3 '$MBIT' Mbit/s, want >= $MIN_PLAIN_MBIT: $(tail -n 4 "$TMP/iperf")"; fi
	echo "     stats: $(tr '\n' ' ' <"$TMP/stats")"
}

t_iperf_rate() {
	start_impair --rate-mbit 100 || return
	iperf_mbit 5
	stop_impair
	if in_range "$MBIT" 85 101; then pass "--rate-mbit 100: iperf3 $MBIT Mbit/s"
	else fail "--rate-mbit 100: iperf3 '$MBIT' Mbit/s: $(tail -n 4 "$TMP/iperf")"; fi
}

t_iperf_offloads() {
	offloads "$NS_A" eth0 on && offloads "$NS_B" eth0 on
	start_impair || return
	iperf_mbit 3
	stop_impair
	offloads "$NS_A" eth0 off && offloads "$NS_B" eth0 off
	if in_range "$MBIT" 100 1000000; then pass "offloads on (GSO frames): iperf3 $MBIT Mbit/s"
	else fail "offloads on: iperf3 '$MBIT' Mbit/s: $(tail -n 4 "$TMP/iperf")"; fi
}

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
for tool in ip ethtool ping; do
	command -v "$tool" >/dev/null || { echo "SKIP: needs $tool"; exit 77; }
done
[ -x "$IMPAIR" ] || { echo "FAIL: no impair binary at $IMPAIR"; exit 1; }
setup || { echo "FAIL: namespace setup"; exit 1; }
t_plain_ping
t_delay
t_loss
t_dup
t_stats_usr1
if command -v iperf3 >/dev/null; then
	t_iperf_plain
	t_iperf_rate
	t_iperf_offloads
else
	echo "SKIP: iperf3 not installed, no throughput checks"
fi
if [ "$FAILS" -gt 0 ]; then
	echo "impair.log:"; cat "$TMP/impair.log"
	exit 1
fi
echo "all passed"
