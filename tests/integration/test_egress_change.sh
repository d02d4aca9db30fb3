#!/bin/bash
# test_egress_change.sh: the egress device changes under a running link,
# as when the default route moves to another device: first it loses its
# offloads (no checksum offload: some kernels then refuse UDP GSO sends
# with EIO, and the mesh sends singly from then on; this one segments in
# software), then its MTU falls to 1400, under the 1500 bytes the link
# sized its packets for (the kernel refuses larger datagrams with
# EMSGSIZE).  A download and an upload run across both changes.
#  - nothing is lost: both arrive byte-exact, neither stalls;
#  - each side says in its log that it sized its packets for the new MTU;
#  - afterwards the running link carries at least 0.7x what a new link
#    carries on the changed device (both daemons restarted), both ways: what
#    it learned on the old device does not hold it back.  The figures before
#    the change and kernel TCP's on the changed device are logged; they are
#    no yardstick, as without offloads every packet costs more CPU.
OM_TEST=egress-change
. "$(dirname "$0")/lib.sh"
om_need_root
T=3

om_topology || { fail "topology"; exit 1; }
om_start_servers || { fail "stand-in servers start"; exit 1; }
om_bg "$NS_SRV" iperf-a iperf3 -s -p 5201
om_bg "$NS_CONS" iperf-c iperf3 -s -p 5203
om_start_daemons || { fail "daemons start and link up"; exit 1; }
om_vm_dhcp || { fail "DHCP"; exit 1; }
om_wait 10 vm $PY "$OM_SRCDIR/tests/integration/servers.py" probe --tcp $SRV_ADDR:8080

before_up=$(om_iperf_mbps "$NS_VM" -c $SRV_ADDR -p 5201 -t $T)
before_down=$(om_iperf_mbps "$NS_VM" -c $SRV_ADDR -p 5201 -t $T -R)
log "before the changes, through omnetd: up $before_up Mbit/s, down $before_down Mbit/s"

head -c $((96 << 20)) /dev/urandom >"$OM_T/www/f"
want=$(sha256sum <"$OM_T/www/f" | cut -d' ' -f1)
vm curl -sS -m 90 --limit-rate 24M -o "$OM_T/down" http://$SRV_ADDR:8080/f &
down=$!
vm curl -sS -m 90 --limit-rate 24M -T "$OM_T/www/f" http://$SRV_ADDR:8080/up >"$OM_T/up.sum" &
up=$!
sleep 1
for ns in "$NS_PROV" "$NS_CONS"; do
	ip netns exec "$ns" ethtool -K eth0 tso off gso off gro off tx off >/dev/null 2>&1
done
log "offloads off on both ends of the link"
sleep 1.5
ip -n "$NS_PROV" link set eth0 mtu 1400
ip -n "$NS_CONS" link set eth0 mtu 1400
log "MTU 1400 on both ends of the link"
wait $down
rc_down=$?
wait $up
rc_up=$?
check "the download across both changes completed (curl exit $rc_down)" test $rc_down = 0
check "and is byte-exact" cmp -s "$OM_T/down" "$OM_T/www/f"
check "the upload across both changes completed (curl exit $rc_up)" test $rc_up = 0
check "and is byte-exact" test "$(cat "$OM_T/up.sum")" = "$want"

kernel_up=$(om_iperf_mbps "$NS_PROV" -c $CONS_ADDR -p 5203 -t $T)
run_up=$(om_iperf_mbps "$NS_VM" -c $SRV_ADDR -p 5201 -t $T)
kernel_down=$(om_iperf_mbps "$NS_PROV" -c $CONS_ADDR -p 5203 -t $T -R)
run_down=$(om_iperf_mbps "$NS_VM" -c $SRV_ADDR -p 5201 -t $T -R)
log "on the changed device: kernel TCP up $kernel_up, down $kernel_down Mbit/s; the running link up $run_up, down $run_down Mbit/s"
# each side has sent full packets since the change by now (a side whose
# backlog was sent before it may have had none to refuse until then)
for side in provider consumer; do
	check "the $side sizes packets for the 1400-byte interface" \
		om_wait 10 grep -q "carries at most 1400 bytes now" "$OM_T/$side.log"
done
for fn in ctl_p ctl_c; do
	mp=$(json_eval $fn "r['peers'][0]['link']['max_packet_bytes']" status)
	check "$fn: packets fit 1400 bytes ($mp + 73 bytes of headers)" test $((mp + 73)) -le 1400
done

# the yardstick: a new link on the changed device, both daemons restarted
# from their state directories
kill -TERM $PROV_PID $CONS_PID
om_wait_gone $PROV_PID 10 && om_wait_gone $CONS_PID 10 || { fail "the daemons stop"; exit 1; }
om_start_consumer consumer2 || { fail "the consumer restarts"; exit 1; }
om_start_provider provider2 || { fail "the provider restarts"; exit 1; }
om_wait 20 peer_connected ctl_p consumer || { fail "a new link comes up"; exit 1; }
om_wait 10 vm $PY "$OM_SRCDIR/tests/integration/servers.py" probe --tcp $SRV_ADDR:8080
new_up=$(om_iperf_mbps "$NS_VM" -c $SRV_ADDR -p 5201 -t $T)
new_down=$(om_iperf_mbps "$NS_VM" -c $SRV_ADDR -p 5201 -t $T -R)
log "a new link on the changed device: up $new_up, down $new_down Mbit/s"
check "upload on the running link ($run_up Mbit/s) >= 0.7x a new link's ($new_up)" \
	test $((${run_up:-0} * 100)) -ge $((${new_up:-1} * 70)) -a "${run_up:-0}" -gt 0
check "download on the running link ($run_down Mbit/s) >= 0.7x a new link's ($new_down)" \
	test $((${run_down:-0} * 100)) -ge $((${new_down:-1} * 70)) -a "${run_down:-0}" -gt 0
exit $OM_FAILED
