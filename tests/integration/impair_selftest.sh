#!/bin/sh
# impair_selftest.sh: prove tests/impair bridges and impairs a link.
#
# Builds  A (192.0.2.1) -- veth -- BR (impair) -- veth -- B (192.0.2.2)
# and checks: ping works, --delay-ms 20 gives ~40 ms RTT, --loss 50 one way
# loses ~half the pings, --dup shows duplicates, SIGUSR1 writes stats,
# iperf3 through the plain bridge reaches ~1 Gbit/s and --rate-mbit 100
# holds TCP near 100 Mbit/s; also that GSO frames cross when offloads are on.
# Then the newer impairments: --a-to-b/--b-to-a give each direction its own
# delay; --burst-ms releases replies in batches (their inter-arrival gaps);
# --ge loses in runs (the missing ping sequence numbers); a blackout makes
# one gap of the right length per period; --queue-ms and --queue-pkts bound
# the queueing delay under a TCP bulk flow; lines on --control change a
# running bridge at once, per direction, and a bad line changes nothing.
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

# iperf_mbit SECONDS [IPERF3-ARGS] - TCP A->B throughput at the receiver into $MBIT
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
	secs=$1
	shift
	timeout $((secs + 15)) ip netns exec "$NS_A" iperf3 -c 192.0.2.2 -t "$secs" -f m "$@" \
		>"$TMP/iperf" 2>&1
	wait "$SRV_PID" 2>/dev/null
	SRV_PID=
	MBIT=$(awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") v = $i }
		END { print v }' "$TMP/iperf")
}

# udp_probe COUNT INTERVAL_MS - A sends COUNT numbered UDP datagrams to B
# on a fixed schedule (ping paces itself when replies go missing); B
# writes "seq arrival_ms" per datagram into $TMP/probe
udp_probe() {
	timeout 60 ip netns exec "$NS_B" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.2", 9999))
s.settimeout(10)
out = open(sys.argv[1], "w")
print("ready", flush=True)
try:
    while True:
        d = s.recv(64)
        out.write("%s %.3f\n" % (d.decode(), time.monotonic() * 1000))
        s.settimeout(1.5)
except socket.timeout:
    pass' "$TMP/probe" >"$TMP/probe.ready" 2>&1 &
	SRV_PID=$!
	wait_file "$TMP/probe.ready" 5
	timeout 60 ip netns exec "$NS_A" python3 -c '
import socket, sys, time
n, gap = int(sys.argv[1]), float(sys.argv[2]) / 1000
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t0 = time.monotonic()
for i in range(1, n + 1):
    while time.monotonic() < t0 + i * gap:
        pass
    s.sendto(str(i).encode(), ("192.0.2.2", 9999))' "$1" "$2"
	wait "$SRV_PID"
	SRV_PID=
	rm -f "$TMP/probe.ready"
}

# seq_runs COUNT - from $TMP/probe: "lost runs mean_run longest_run" over
# sequence numbers 1..COUNT (a run: consecutive numbers that never came)
seq_runs() {
	awk -v n="$1" '{ seen[$1 + 0] = 1 }
		END {
			for (i = 1; i <= n + 1; i++) {
				if (i <= n && !(i in seen)) { run++; continue }
				if (run) { runs++; lost += run; if (run > longest) longest = run }
				run = 0
			}
			printf "%d %d %.2f %d\n", lost, runs, runs ? lost / runs : 0, longest
		}' "$TMP/probe"
}

# arrival_gaps - from $TMP/probe: "share_of_gaps_below_0.3ms mean_of_the_others_ms"
arrival_gaps() {
	awk '{ t = $2 + 0
			if (p) { g = t - p; n++; if (g < 0.3) small++; else { big += g; nb++ } }
			p = t }
		END { printf "%.2f %.2f\n", n ? small / n : 0, nb ? big / nb : 0 }' "$TMP/probe"
}

# ctl LINE - write one line to the running bridge's control FIFO
ctl() { printf '%s\n' "$1" >"$TMP/ctl"; }

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

t_spec_dirs() {
	start_impair --a-to-b "delay-ms=5" --b-to-a "delay-ms=15" || return
	ping_ab 20 0.05
	avg=$(ping_avg)
	stop_impair
	# 5 + 15; a spec applied to both ways would give 10 or 30
	if in_range "$avg" 19 26; then pass "--a-to-b delay-ms=5 --b-to-a delay-ms=15: rtt avg $avg ms"
	else fail "--a-to-b/--b-to-a delays: rtt avg '$avg' ms, want ~20"; fi
}

t_burst() {
	start_impair --burst-ms 5 --a-to-b-only || return
	udp_probe 1000 1
	stop_impair
	set -- $(arrival_gaps)
	# one datagram a ms, released every 5 ms: ~4 of 5 arrive right behind
	# another, and the batches come ~5 ms apart; unbatched, every gap is ~1 ms
	if in_range "$1" 0.6 1 && in_range "$2" 3.5 6.5; then
		pass "--burst-ms 5: $1 of arrival gaps under 0.3 ms, the others $2 ms on average"
	else fail "--burst-ms 5: $1 of arrival gaps under 0.3 ms (want >= 0.6), others $2 ms (want ~5)"; fi
}

t_ge() {
	start_impair --ge 2,25,100 --a-to-b-only --seed 9 || return
	udp_probe 2000 1
	stop_impair
	set -- $(seq_runs 2000)
	# bad state 2/(2+25) = 7.4% of frames, all lost, in runs of 1/0.25 = 4;
	# random loss at that rate would lose in runs of ~1.1
	if in_range "$1" 60 300 && in_range "$3" 2.5 6; then
		pass "--ge 2,25,100: $1 of 2000 lost in $2 runs, mean run $3 (random loss: ~1.1)"
	else fail "--ge 2,25,100: $1 of 2000 lost (want ~148) in $2 runs, mean run '$3' (want ~4)"; fi
	start_impair --loss 7.4 --a-to-b-only --seed 9 || return
	udp_probe 2000 1
	stop_impair
	set -- $(seq_runs 2000)
	if in_range "$3" 1 1.6; then pass "--loss 7.4 for comparison: $1 lost, mean run $3"
	else fail "--loss 7.4: mean run '$3', want ~1.1 (is the run count wrong?)"; fi
}

t_blackout() {
	start_impair --blackout-ms 200 --blackout-every-ms 1000 --a-to-b-only || return
	udp_probe 300 10
	stop_impair
	set -- $(seq_runs 300)
	# 3 s of datagrams 10 ms apart: 2 or 3 blackouts of 20 datagrams each
	if in_range "$4" 15 25 && in_range "$2" 2 4 && in_range "$1" 35 80 &&
	   [ "$(stat a_to_b_dropped_blackout)" -gt 0 ]; then
		pass "--blackout-ms 200 every 1000: $1 lost in $2 runs, longest $4 datagrams, dropped_blackout $(stat a_to_b_dropped_blackout)"
	else fail "--blackout-ms 200 every 1000: $1 lost in $2 runs, longest '$4' (want ~20), dropped_blackout $(stat a_to_b_dropped_blackout)"; fi
}

# queue_rtt ARGS... - the ping RTT A->B while a TCP bulk flow fills the
# bridge's A->B queue; average into AVG
queue_rtt() {
	start_impair --rate-mbit 10 --a-to-b-only "$@" || return 1
	(sleep 1.5; ip netns exec "$NS_A" ping -n -q -c 30 -i 0.05 -W 2 192.0.2.2 \
		>"$TMP/ping" 2>&1) &
	pinger=$!
	iperf_mbit 4 -C cubic
	wait "$pinger"
	stop_impair
	AVG=$(ping_avg)
}

t_queue() {
	queue_rtt --queue-ms 100 || return
	# cubic keeps the queue near full: 50..100 ms; unbounded it reaches 1.2 s
	# (the namespaces' default may be BBR, which keeps it near empty)
	if in_range "$AVG" 40 115 && [ "$(stat a_to_b_dropped_queue)" -gt 0 ]; then
		pass "--rate-mbit 10 --queue-ms 100: rtt under load $AVG ms, dropped_queue $(stat a_to_b_dropped_queue), $MBIT Mbit/s"
	else fail "--queue-ms 100: rtt under load '$AVG' ms (want 40..115), dropped_queue $(stat a_to_b_dropped_queue)"; fi
	queue_rtt --queue-pkts 20 || return
	# 20 frames of 1514 bytes at 10 Mbit/s: 24 ms
	if in_range "$AVG" 8 35; then pass "--rate-mbit 10 --queue-pkts 20: rtt under load $AVG ms"
	else fail "--queue-pkts 20: rtt under load '$AVG' ms, want ~24"; fi
}

# ctl_rtt WANT_LO WANT_HI WHAT - ping now, check the average RTT
ctl_rtt() {
	ping_ab 10 0.05
	avg=$(ping_avg)
	if in_range "$avg" "$1" "$2"; then pass "--control, $3: rtt avg $avg ms"
	else fail "--control, $3: rtt avg '$avg' ms, want $1..$2"; fi
}

t_control() {
	start_impair --control "$TMP/ctl" || return
	ctl_rtt 0 5 "plain at start"
	ctl "both delay-ms=20"
	ctl_rtt 39 50 "after 'both delay-ms=20'"
	ctl "a-to-b delay-ms=30"
	ctl_rtt 49 60 "after 'a-to-b delay-ms=30' (b-to-a keeps 20)"
	ctl "both delay-ms=5 bogus=1"
	ctl_rtt 49 60 "a bad line changes nothing"
	ctl "b-to-a"
	ctl_rtt 29 36 "after 'b-to-a' (that way plain again)"
	rm -f "$TMP/stats"
	kill -USR1 "$IMP_PID"
	wait_file "$TMP/stats" 5
	if [ "$(stat a_to_b_changes)" = 2 ] && [ "$(stat b_to_a_changes)" = 2 ] &&
	   grep -q "control: line ignored" "$TMP/impair.log"; then
		pass "--control: changes counted (a_to_b 2, b_to_a 2), the bad line reported"
	else fail "--control: changes a_to_b $(stat a_to_b_changes) b_to_a $(stat b_to_a_changes), want 2 and 2; log: $(tail -n 3 "$TMP/impair.log")"; fi
	stop_impair
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
t_spec_dirs
t_burst
t_ge
t_blackout
t_control
if command -v iperf3 >/dev/null; then
	t_iperf_plain
	t_iperf_rate
	t_iperf_offloads
	t_queue
else
	echo "SKIP: iperf3 not installed, no throughput checks"
fi
if [ "$FAILS" -gt 0 ]; then
	echo "impair.log:"; cat "$TMP/impair.log"
	exit 1
fi
echo "all passed"
