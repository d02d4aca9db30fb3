#!/bin/bash
# test_network_delete.sh: deleting a network is local.  On the consumer, the
# provider's later flows for it are dropped and counted; on the provider,
# the VM's flows close and the capture (nftables, addresses) is removed.
OM_TEST=network-delete
. "$(dirname "$0")/lib.sh"
om_need_root

om_topology || { fail "topology"; exit 1; }
om_start_servers || { fail "stand-in servers start"; exit 1; }
om_start_daemons || { fail "daemons start and link up"; exit 1; }
om_vm_dhcp || { fail "DHCP"; exit 1; }
check "a connection works before the deletion" \
	vm $PY "$OM_SRCDIR/tests/integration/servers.py" probe --tcp $SRV_ADDR:7

# --- consumer side: the id stops being processed; late flows dropped, counted
ctl_c network delete $NETID >/dev/null
check "consumer: network list is empty after delete" test "$(json_eval ctl_c "len(r)" network list)" = 0
read -r what ms < <(vm $PY "$OM_SRCDIR/tests/integration/servers.py" connect --host $SRV_ADDR --port 7 --timeout 2)
check "a VM connection for the deleted network gets nowhere ($what)" test "$what" != connected
check "consumer: frames for the deleted network are counted in status" \
	test "$(json_eval ctl_c "r['counters']['dropped_deleted_network']" status)" -ge 1
check "provider: told by the consumer, shows the network as peer-deleted" \
	om_wait 5 json_is ctl_p "r[0]['state']" peer-deleted network list
ctl_c network add $NETID --peer provider >/dev/null
check "after adding it again, connections work" \
	om_wait 10 vm $PY "$OM_SRCDIR/tests/integration/servers.py" probe --tcp $SRV_ADDR:7

# --- provider side: flows closed, capture removed
vm $PY - $SRV_ADDR <<'PYEOF' >"$OM_T/held.log" 2>&1 &
import socket, sys, time
s = socket.create_connection((sys.argv[1], 7), timeout=5)
s.settimeout(30)
print("connected", flush=True)
try:
    data = s.recv(10)
    print("closed" if data == b"" else "data", flush=True)
except OSError as e:
    print("reset", e.errno, flush=True)
PYEOF
held=$!
OM_PIDS+=($held)
om_wait 10 grep -q connected "$OM_T/held.log" || fail "a long-lived VM connection opens"
check "the provider counts the open flow" om_wait 5 json_is ctl_p "len(r) >= 1" True flows
check "the nftables table exists before" ip netns exec "$NS_CAP" nft list table ip omnetd
ctl_p network delete $NETID >/dev/null
check "the VM's open connection is closed promptly" om_wait 5 grep -qE "closed|reset" "$OM_T/held.log"
check "the provider holds no flows" test "$(json_eval ctl_p "r['flows']['tcp'] + r['flows']['udp']" status)" = 0
check "nftables rules are removed" sh -c "! ip netns exec $NS_CAP nft list table ip omnetd >/dev/null 2>&1"
check "the gateway address is removed" sh -c "! ip -n $NS_CAP addr show tap0 | grep -q 10.0.2.2"
check "the DNS address is removed" sh -c "! ip -n $NS_CAP addr show tap0 | grep -q 10.0.2.3"
check "the policy route is removed" sh -c "! ip -n $NS_CAP rule | grep -q 'lookup 28525'"
check "the VM can reach nothing now" sh -c "! vm $PY $OM_SRCDIR/tests/integration/servers.py probe --tcp $SRV_ADDR:7"
exit $OM_FAILED
