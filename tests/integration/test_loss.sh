#!/bin/bash
# test_loss.sh: transfers stay byte-exact with 5% loss, reordering and
# duplication on the provider-consumer path (userspace impairment bridge:
# this kernel has no sch_netem).
OM_TEST=loss
. "$(dirname "$0")/lib.sh"
om_need_root

om_topology --loss 5 --reorder 5 --reorder-ms 8 --dup 2 --delay-ms 5 --jitter-ms 2 \
	--limit-pkts 10000 --seed 7 || { fail "topology with impairment"; exit 1; }
om_start_servers || { fail "stand-in servers start"; exit 1; }
om_start_daemons || { fail "daemons start and link up through a lossy path"; exit 1; }
om_vm_dhcp || { fail "DHCP through a lossy path"; exit 1; }

head -c $((8 << 20)) /dev/urandom >"$OM_T/www/big"
want=$(sha256sum <"$OM_T/www/big" | cut -d' ' -f1)
t0=$(date +%s%N)
vm curl -sS -m 300 -o "$OM_T/down" http://$SRV_ADDR:8080/big
t1=$(date +%s%N)
check "8 MB download through 5% loss is byte-exact" \
	test "$(sha256sum <"$OM_T/down" | cut -d' ' -f1)" = "$want"
log "download: $(( (8 << 20) * 8 / ((t1 - t0) / 1000) )) Mbit/s"
got=$(vm curl -sS -m 300 -T "$OM_T/down" http://$SRV_ADDR:8080/up)
check "8 MB upload through 5% loss is byte-exact" test "$got" = "$want"
out=$(vm timeout 240 $PY "$OM_SRCDIR/tests/integration/servers.py" echo-clients \
	--host $SRV_ADDR --port 7 --count 20 --bytes 65536)
check "20 concurrent flows through 5% loss, byte-exact ($out)" test "${out%%$'\n'*}" = "20/20 byte-exact"

# the impairment really happened, and the link really recovered from it
impair_pid=$(cat "$OM_T/impair.pid")
rm -f "$OM_T/impair.stats"
kill -USR1 "$impair_pid"
om_wait 5 test -s "$OM_T/impair.stats"
dropped=$(awk '$1 ~ /dropped_loss/ { s += $2 } END { print s + 0 }' "$OM_T/impair.stats")
dup=$(awk '$1 ~ /duplicated/ { s += $2 } END { print s + 0 }' "$OM_T/impair.stats")
reord=$(awk '$1 ~ /reordered/ { s += $2 } END { print s + 0 }' "$OM_T/impair.stats")
log "impairment: dropped $dropped, duplicated $dup, reordered $reord frames"
check "the bridge dropped frames ($dropped)" test "$dropped" -gt 50
check "the bridge duplicated frames ($dup)" test "$dup" -gt 5
check "the bridge reordered frames ($reord)" test "$reord" -gt 5
lost=$(json_eval ctl_p "[p['link']['packets_lost'] for p in r['peers']][0]" status)
retx=$(json_eval ctl_p "[p['link']['stream_bytes_retransmitted'] for p in r['peers']][0]" status)
log "provider link: $lost packets declared lost, $retx stream bytes resent"
check "the provider's link detected losses and resent data" test "$retx" -gt 0
exit $OM_FAILED
