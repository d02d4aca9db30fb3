#!/bin/bash
# test_e2e.sh: a VM's traffic leaves through the consumer.
# DHCP from omnetd; 50 MB down and up byte-exact, seen by the server as the
# consumer; DNS over UDP and TCP answered by the consumer's resolver; UDP
# echo; 200 concurrent TCP flows byte-exact; a closed port refused in under
# a second; the consumer host, its LAN and the gateway refused by policy.
OM_TEST=e2e
. "$(dirname "$0")/lib.sh"
om_need_root

om_topology || { fail "topology"; exit 1; }
om_start_servers || { fail "stand-in servers start"; exit 1; }
# services that must stay private: on the consumer host and on its LAN router
om_bg "$NS_CONS" svc-cons $PY "$OM_SRCDIR/tests/integration/servers.py" listen --addr 0.0.0.0 --port 8081 
om_bg "$NS_RTR" svc-rtr $PY "$OM_SRCDIR/tests/integration/servers.py" listen --addr 0.0.0.0 --port 8081
om_start_daemons || { fail "daemons start and link up"; exit 1; }

# --- DHCP
if om_vm_dhcp; then
	read -r ip mask router lease <"$OM_T/vm.lease"
	check "DHCP: the VM got 10.0.2.15/24" test "$ip/$mask" = "10.0.2.15/24"
	check "DHCP: gateway 10.0.2.2" test "$router" = 10.0.2.2
	check "DHCP: DNS 10.0.2.3" test "$(cat "$OM_T/vm.dns")" = 10.0.2.3
	check "DHCP: the address is on the VM's interface" \
		sh -c "ip -n $NS_VM addr show eth0 | grep -q 'inet 10.0.2.15/24'"
else
	fail "DHCP: udhcpc got no lease"; cat "$OM_T/udhcpc-vm.log" >&2; exit 1
fi
check "the provider cannot route to the server itself" \
	sh -c "! ip netns exec $NS_PROV ping -c1 -W1 $SRV_ADDR >/dev/null 2>&1"

# --- 50 MB each way
head -c $((50 << 20)) /dev/urandom >"$OM_T/www/big"
want=$(sha256sum <"$OM_T/www/big" | cut -d' ' -f1)
: >"$OM_T/http-clients"
polled0=$(json_eval ctl_c "r['counters']['busy_poll_us']" status)
t0=$(date +%s%N)
vm curl -sS -m 120 -o "$OM_T/down" http://$SRV_ADDR:8080/big
t1=$(date +%s%N)
polled=$(( $(json_eval ctl_c "r['counters']['busy_poll_us']" status) - polled0 ))
check "50 MB download is byte-exact" test "$(sha256sum <"$OM_T/down" | cut -d' ' -f1)" = "$want"
log "download: $(( (50 << 20) * 8 / ((t1 - t0) / 1000) )) Mbit/s"
# busy polling is for round trips: bulk keeps the loop busy without it
# (polling stops within a 10 ms window of bulk, and resumes at the end)
check "the consumer did not busy-poll through the bulk transfer ($polled us in $(( (t1 - t0) / 1000 )) us)" \
	test "$polled" -lt 30000
got=$(vm curl -sS -m 120 -T "$OM_T/down" http://$SRV_ADDR:8080/up)
check "50 MB upload is byte-exact (server's sha256)" test "$got" = "$want"
check "the server sees every connection from the consumer ($CONS_LAN)" \
	sh -c "test -s $OM_T/http-clients && ! grep -v '^$CONS_LAN ' $OM_T/http-clients"

# --- DNS through the consumer's resolver
check "DNS over UDP via 10.0.2.3" \
	test "$(vm dig +short +time=2 +tries=2 @10.0.2.3 test.omnet)" = 198.51.100.77
check "DNS over TCP via 10.0.2.3" \
	test "$(vm dig +tcp +short +time=2 +tries=2 @10.0.2.3 test.omnet)" = 198.51.100.77

# --- UDP both ways
check "UDP echo: 20 distinct datagrams and their echoes" \
	vm $PY "$OM_SRCDIR/tests/integration/servers.py" udp-client --host $SRV_ADDR --port 7 --count 20
# round trips are served by busy polling: most responses come back while
# the daemon that passed the request on still looks for work
om_bg "$NS_SRV" rrperf "$OM_BUILD/tests/rrperf" serve 7000
om_wait 10 vm "$OM_BUILD/tests/rrperf" udp-rr $SRV_ADDR 7000 1
polls0=$(json_eval ctl_p "r['counters']['busy_polls']" status)
rr=$(vm "$OM_BUILD/tests/rrperf" udp-rr $SRV_ADDR 7000 400)
polls=$(( $(json_eval ctl_p "r['counters']['busy_polls']" status) - polls0 ))
check "400 UDP round trips (p50 p99 us: $rr): the provider's busy polling found $polls responses" \
	test "$polls" -ge 200

# --- 200 concurrent TCP flows
out=$(vm timeout 240 $PY "$OM_SRCDIR/tests/integration/servers.py" echo-clients \
	--host $SRV_ADDR --port 7 --count 200 --bytes 65536)
check "200 concurrent TCP flows, each byte-exact ($out)" test "${out%%$'\n'*}" = "200/200 byte-exact"

# --- a closed port: refused, promptly
read -r what ms < <(vm $PY "$OM_SRCDIR/tests/integration/servers.py" connect --host $SRV_ADDR --port 9)
check "closed port: connection refused ($what in $ms ms)" test "$what" = refused
check "closed port: refused in under a second ($ms ms)" test "${ms:-99999}" -lt 1000

# --- the consumer's own network is off limits, by every address
for target in 10.0.2.2:8081 $CONS_ADDR:8081 $CONS_LAN:8081 $RTR_LAN:8081 10.0.2.3:8081; do
	read -r what ms < <(vm $PY "$OM_SRCDIR/tests/integration/servers.py" connect \
		--host "${target%:*}" --port "${target#*:}")
	check "policy refuses $target ($what in $ms ms)" test "$what" = refused
	check "policy refusal of $target is prompt" test "${ms:-99999}" -lt 1000
done
check "the private services do run (reachable from the consumer itself)" \
	ip netns exec "$NS_CONS" $PY "$OM_SRCDIR/tests/integration/servers.py" probe --tcp $RTR_LAN:8081
check "the consumer logs why it refused" grep -q "refused by policy: .*$RTR_LAN:8081 is on the consumer's network" "$OM_T/consumer.log"
check "status counts the policy refusals" \
	test "$(json_eval ctl_c "r['counters']['flows_refused_policy']" status)" -ge 5

# --- what people see
vm curl -sS -m 60 --limit-rate 5M -o /dev/null http://$SRV_ADDR:8080/big &
dl=$!
check "omnetctl flows shows the download: VM side, server side, bytes down" om_wait 10 sh -c \
	"$OMNETCTL -s $OM_T/p.sock --json flows | $PY -c 'import json,sys; fl=json.load(sys.stdin)[\"result\"]; sys.exit(0 if any(f[\"vm\"].startswith(\"10.0.2.15:\") and f[\"remote\"]==\"$SRV_ADDR:8080\" and f[\"proto\"]==\"tcp\" and f[\"bytes_down\"]>100000 for f in fl) else 1)'"
check "the consumer lists the same flow" om_wait 5 sh -c \
	"$OMNETCTL -s $OM_T/c.sock flows | grep -q '$SRV_ADDR:8080'"
kill $dl 2>/dev/null; wait $dl 2>/dev/null
check "omnetctl status shows the peer connected, direct, with an RTT" \
	test "$(json_eval ctl_p "[p['state']+'/'+p['method']+'/'+str(p['rtt_ms'] is not None) for p in r['peers']][0]" status)" = connected/direct/True

# --- the control socket survives malformed lines on the same connection
reply=$($PY - "$OM_T/c.sock" <<'PYEOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
for line in ["not json", "[1,2]", '{"cmd": 5}', '{"cmd":"nope"}', '{"cmd":"identity"}']:
    f.write(line + "\n"); f.flush()
    r = json.loads(f.readline())
    print(r["ok"], r.get("error", {}).get("code", "-"), end=" ")
PYEOF
)
check "malformed control lines get errors, the connection stays usable ($reply)" \
	test "$reply" = "False bad_request False bad_request False bad_request False unknown_command True - "

# --- shutdown removes the capture
kill -TERM "$PROV_PID"
check "the provider exits cleanly on SIGTERM" om_wait 10 sh -c "! kill -0 $PROV_PID 2>/dev/null"
check "shutdown removed the nftables rules" sh -c "! ip netns exec $NS_CAP nft list table ip omnetd >/dev/null 2>&1"
check "shutdown removed the gateway address" sh -c "! ip -n $NS_CAP addr show tap0 | grep -q 10.0.2.2"
check "the consumer notices the provider is gone" om_wait 10 sh -c \
	"$OMNETCTL -s $OM_T/c.sock --json status | grep -q '\"reconnecting\"\\|\"connecting\"'"
exit $OM_FAILED
