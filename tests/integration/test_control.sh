#!/bin/bash
# test_control.sh: the control socket under clients that pipeline, half-close,
# send hostile values, hold many connections or never read their replies.
# A consumer alone (its peer never connects: a forward outlives its link),
# and a PCP router stand-in whose answers depend on the port asked for:
#
#   cons 192.0.2.130/25 ── 192.0.2.129/25 rtr (ctl_tools.py pcp-router)
#
# Run it under the sanitizer build: a use after free is what it looks for.
OM_TEST=control
. "$(dirname "$0")/lib.sh"
om_need_root
TOOLS=$OM_SRCDIR/tests/integration/ctl_tools.py
SOCK=$OM_T/c.sock

om_ns "$NS_CONS" && om_ns "$NS_RTR" || { fail "namespaces"; exit 1; }
om_veth "$NS_CONS" lan0 "$NS_RTR" lan0 || { fail "veth"; exit 1; }
ip -n "$NS_CONS" addr add $CONS_LAN/25 dev lan0
ip -n "$NS_CONS" route add default via $RTR_LAN
ip -n "$NS_RTR" addr add $RTR_LAN/25 dev lan0
om_bg "$NS_RTR" pcp $PY "$TOOLS" pcp-router --addr $RTR_LAN
om_wait 10 sh -c "ip netns exec $NS_RTR ss -lun | grep -q ':5351 '" || fail "the PCP stand-in starts"

om_consumer_conf </dev/null
om_start_consumer || { fail "the consumer starts"; exit 1; }
ctl_c peer add prov --fingerprint sha256:$(printf '%064d' 7) >/dev/null &&
	ctl_c network add $NETID --peer prov >/dev/null || { fail "peer and network"; exit 1; }

# send [tool options] LINE... - one connection, the lines pipelined; the
# replies as a JSON array
send() {
	local opts=()
	while [ "${1#--}" != "$1" ]; do opts+=("$1"); shift; done
	local args=()
	for l in "$@"; do args+=(--line "$l"); done
	ip netns exec "$NS_CONS" $PY "$TOOLS" send --sock "$SOCK" "${opts[@]}" "${args[@]}"
}
# replies JSON EXPR - a Python expression on the replies (r)
replies() { $PY -c "import json,sys; r=json.loads(sys.argv[1]); print($2)" "$1"; }
alive() { kill -0 "$CONS_PID" && ctl_c --json identity >/dev/null; }
add() { echo "{\"cmd\":\"forward.add\",\"proto\":\"tcp\",\"external_port\":$1,\"vm_port\":80,\"map\":\"pcp\"}"; }
remove() { echo "{\"cmd\":\"forward.remove\",\"proto\":\"tcp\",\"external_port\":$1}"; }
LIST='{"cmd":"forward.list"}'

# --- pipelined: the second request runs after the first's deferred reply,
# from the event loop, not inside the mapping's completion
out=$(send "$(add 20003)" "$(remove 20003)")
check "add (mapped after 300 ms) then remove, pipelined: both answered, in order ($out)" \
	test "$(replies "$out" "[x['ok'] for x in r], r[0]['result']['mapping']['state'], r[1]['result']['external_port']")" = "[True, True] mapped 20003"
check "the daemon is alive after it" alive
check "and the rule is gone" test "$(json_eval ctl_c "len(r)" forward list)" = 0
out=$(send "$(add 10001)" "$(remove 10001)")
check "add (refused) then remove, pipelined: mapping_failed, then not_found ($out)" \
	test "$(replies "$out" "[x['error']['code'] for x in r]")" = "['mapping_failed', 'not_found']"
check "the daemon is alive after it" alive
out=$(send "$(add 20002)" "$LIST" "$(remove 20002)" "$LIST" '{"cmd":"identity"}')
check "five pipelined requests around a deferred one: five replies, in order ($out)" \
	test "$(replies "$out" "len(r), len(r[1]['result']), r[2]['ok'], len(r[3]['result']), 'fingerprint' in r[4]['result']")" = "5 1 True 0 True"
out=$(send "$(add 20001)" "$(add 20001)" "$(remove 20001)")
check "the same rule added twice, pipelined: added, exists, removed ($out)" \
	test "$(replies "$out" "[x['ok'] or x['error']['code'] for x in r]")" = "[True, 'exists', True]"
check "the daemon is alive after the pipelines" alive

# --- a client that half-closes still gets every reply owed, then EOF
out=$(send --half-close "$(add 20010)")
check "half-closed after a deferred request (1 s): its reply still comes ($out)" \
	test "$(replies "$out" "len(r), r[0]['ok'] if r else None")" = "1 True"
ctl_c forward remove tcp 20010 >/dev/null
out=$(send --half-close '{"cmd":"identity"}' '{"cmd":"status"}' "$(add 20004)" "$(remove 20004)")
check "half-closed after four requests: four replies ($out)" \
	test "$(replies "$out" "[x['ok'] for x in r]")" = "[True, True, True, True]"
out=$(send --half-close --no-newline '{"cmd":"identity"}')
check "a last request without its newline, then EOF: answered ($out)" \
	test "$(replies "$out" "len(r), r[0]['ok'] if r else None")" = "1 True"

# --- hostile values: each an error reply, the connection still usable
deep=$(printf '%.0s[' $(seq 20000))
huge='{"cmd":"forward.add","proto":"tcp","external_port":99999999999999999999999,"vm_port":80}'
real='{"cmd":"forward.add","proto":"tcp","external_port":1e400,"vm_port":80}'
neg='{"cmd":"forward.add","proto":"tcp","external_port":-9223372036854775808,"vm_port":80}'
frac='{"cmd":"forward.add","proto":"tcp","external_port":80.5,"vm_port":80}'
typ='{"cmd":"peer.add","name":["a"],"fingerprint":{}}'
nul='{"cmd":"identity\u0000x"}'
eps="{\"cmd\":\"peer.add\",\"name\":\"x\",\"fingerprint\":\"sha256:$(printf '%064d' 9)\",\"endpoints\":[$(printf '"192.0.2.1",%.0s' $(seq 40))\"192.0.2.1\"]}"
out=$(send "$deep" "$huge" "$real" "$neg" "$frac" "$typ" "$nul" "$eps" '{"cmd":"identity"}')
check "deep nesting, huge and fractional numbers, wrong types, NUL, long strings: errors ($out)" \
	test "$(replies "$out" "[x['ok'] or x['error']['code'] for x in r]")" = "['bad_request', 'bad_request', 'bad_request', 'invalid_argument', 'bad_request', 'bad_request', 'bad_request', 'invalid_argument', True]"
check "the daemon is alive after them" alive

# --- one table of commands on both sides: what omnetctl sends, the daemon
# takes; what it refuses, the daemon refuses with the same words
ctl_c peer add nop --fingerprint sha256:$(printf '%064d' 8) --endpoint 192.0.2.9 \
	--endpoint '[2001:db8::9]' >/dev/null
check "endpoints without a port: omnetctl sends them, the daemon adds port 6950" \
	test "$(json_eval ctl_c "[p['endpoints'] for p in r if p['name'] == 'nop']" peer list)" = \
	"[['192.0.2.9:6950', '[2001:db8::9]:6950']]"
ctl_c peer remove nop >/dev/null
why_ctl=$(ctl_c peer remove 'a b' 2>&1 | sed -n "s/.*'a b': \(.*\); see omnetctl --help\$/\1/p")
out=$(send '{"cmd":"peer.remove","name":"a b"}')
why_d=$(replies "$out" "r[0]['error']['code'] + ' ' + r[0]['error']['message']")
check "a bad peer name: invalid_argument, in omnetctl's words ($why_d | $why_ctl)" \
	test -n "$why_ctl" -a "$why_d" = "invalid_argument name \"a b\": $why_ctl"
out=$(send '{"cmd":"network.add","id":"'$NETID'","peer":"prov","netns":"vm1","iface":"ta p"}')
check "a bad interface name: invalid_argument naming iface ($out)" \
	test "$(replies "$out" "r[0]['error']['code'], r[0]['error']['message'].startswith('iface')")" = "invalid_argument True"

# --- many connections: a bounded number served, the rest told so at once
mkfifo "$OM_T/hold.fifo"
ip netns exec "$NS_CONS" $PY "$TOOLS" conns --sock "$SOCK" --count 200 --hold \
	<"$OM_T/hold.fifo" >"$OM_T/conns.out" 2>&1 &
OM_PIDS+=($!)
exec 9>"$OM_T/hold.fifo"
om_wait 20 test -s "$OM_T/conns.out"
out=$(head -1 "$OM_T/conns.out")
check "200 connections at once: 64 served, 136 told 'busy' ($out)" \
	test "$(replies "$out" "r.get('ok'), r.get('busy')")" = "64 136"
out=$(ctl_c --json identity 2>&1)
check "while 64 are held, one more is told 'busy' ($out)" grep -q '"code":"busy"' <<<"$out"
exec 9>&-
check "once they close, the socket serves again" om_wait 10 ctl_c --json identity

# --- out of file descriptors: accept() failing does not spin the loop.  A
# second consumer, started with a low descriptor limit
mkdir -p "$OM_T/c2"
ip netns exec "$NS_CONS" prlimit --nofile=24:24 "$OMNETD" --role consumer \
	-c "$OM_T/consumer.conf" -S "$OM_T/c2" -s "$OM_T/c2.sock" -l 127.0.0.1:0 -v \
	>"$OM_T/consumer2.log" 2>&1 &
C2_PID=$!
OM_PIDS+=($C2_PID)
om_wait 10 test -S "$OM_T/c2.sock" || fail "the second consumer starts"
ip netns exec "$NS_CONS" $PY "$TOOLS" conns --sock "$OM_T/c2.sock" --count 40 --timeout 3 \
	--hold <"$OM_T/hold.fifo" >"$OM_T/conns2.out" 2>&1 &
OM_PIDS+=($!)
exec 9>"$OM_T/hold.fifo"
om_wait 20 test -s "$OM_T/conns2.out"
cpu() { awk '{print $14 + $15}' /proc/$C2_PID/stat; }
t0=$(cpu); sleep 2; t1=$(cpu)
check "out of descriptors with clients waiting ($(cat "$OM_T/conns2.out")): the daemon idles ($((t1 - t0)) ticks of CPU in 2 s)" \
	test $((t1 - t0)) -lt 40
check "and says so in its log" grep -q "control: cannot accept a client: Too many open files" \
	"$OM_T/consumer2.log"
exec 9>&-
check "once the clients close, it serves again" \
	om_wait 10 "$OMNETCTL" -s "$OM_T/c2.sock" --json identity

# --- a client that never reads its replies: the daemon stops taking its
# requests once a bounded amount of replies waits (1 MiB), and serves others
handled() { json_eval ctl_c "r['counters']['control_requests']" status; }
q0=$(handled)
ip netns exec "$NS_CONS" $PY "$TOOLS" flood --sock "$SOCK" --seconds 3 \
	<"$OM_T/hold.fifo" >"$OM_T/flood.out" 2>&1 &
OM_PIDS+=($!)
exec 9>"$OM_T/hold.fifo"
om_wait 20 test -s "$OM_T/flood.out"
q1=$(handled)
check "a client pipelining status requests without reading: $((q1 - q0 - 1)) handled (at most 2000), $(cat "$OM_T/flood.out") bytes sent" \
	test $((q1 - q0)) -le 2000
check "others are served meanwhile" ctl_c --json identity
exec 9>&-

# --- a socket path too long: refused at start, nothing else closed
long=$OM_T/$(printf 's%.0s' $(seq 120))
out=$(ip netns exec "$NS_CONS" "$OMNETD" --role consumer -c "$OM_T/consumer.conf" -S "$OM_T/c2" \
	-s "$long" -l 127.0.0.1:0 2>&1 </dev/null)
check "a control socket path too long is refused with a message" grep -q "path too long" <<<"$out"
check "the daemon is alive at the end" alive
exit $OM_FAILED
