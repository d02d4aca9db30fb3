#!/bin/bash
# test_descriptors: every flow holds a socket.  A VM that opens more
# connections than the provider has file descriptors gets the rest
# refused; the daemon stays responsive and does not spin, and once the
# connections close, new ones work again.
set -u
OM_TEST=descriptors
. "$(dirname "$0")/lib.sh"
om_need_root
SERVERS="$OM_SRCDIR/tests/integration/servers.py"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

om_topology || { fail "topology"; exit 1; }
om_start_servers || { fail "servers"; exit 1; }
om_bg "$NS_SRV" hold $PY "$SERVERS" hold --port 9200
# 700 descriptors: about 440 for flows once the daemon's reserve is kept
OM_PROVIDER_WRAP="prlimit --nofile=700:700 --"
om_start_daemons || { fail "daemons"; exit 1; }
om_vm_dhcp || { fail "DHCP"; exit 1; }
check "the provider warns that its descriptors cannot carry max-flows" \
	grep -q "file descriptors: the limit is 700" "$OM_T/provider.log"

om_bg "$NS_VM" clients $PY "$SERVERS" flood-clients --host $SRV_ADDR --port 9200 --max 900 \
	--seconds 60 --hold 600 --stats "$OM_T/flood"
clients=$OM_LASTPID
om_wait 90 grep -q done "$OM_T/flood" || { fail "the clients finished trying"; exit 1; }
read -r _ up _ _ _ _ <"$OM_T/flood"
log "clients: $(cat "$OM_T/flood")"
log "$up of 900 connections up"
check "the connections up to the limit work ($up)" test "$up" -ge 300
check "the rest are refused ($up of 900 up)" test "$up" -lt 900
refused=$(json_eval ctl_p "r['counters']['flows_refused_fds']" status)
check "status counts the flows refused for descriptors ($refused)" test "$refused" -gt 0
t0=$(cpu_ticks "$PROV_PID")
sleep 2
t1=$(cpu_ticks "$PROV_PID")
check "the provider idles at the limit (CPU ticks in 2 s: $((t1 - t0)))" test $((t1 - t0)) -lt 50
check "the provider answers its control socket" ctl_p status
kill "$clients"
om_wait_gone "$clients" 10
drained() { [ "$(json_eval ctl_p "r['flows']['tcp']" status)" -lt 10 ]; }
check "the connections close" om_wait 30 drained
out=$(vm $PY "$SERVERS" echo-clients --host $SRV_ADDR --port 7 --count 50 --bytes 4096 2>&1)
check "new connections work again (${out##*$'\n'})" grep -q "50/50 byte-exact" <<<"$out"
