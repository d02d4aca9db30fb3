#!/bin/bash
# test_pmtu.sh: datagrams are sized for a 1500-byte path by default; with
# pmtu-probe = yes the link finds a larger path MTU (jumbo frames here) and
# uses it, and on a 1500-byte path it finds nothing larger and keeps working.
OM_TEST=pmtu
. "$(dirname "$0")/lib.sh"
om_need_root

run_case() {  # LINK_MTU
	om_topology || return 1
	ip -n "$NS_PROV" link set eth0 mtu "$1"
	ip -n "$NS_CONS" link set eth0 mtu "$1"
	om_start_servers || return 1
	echo "pmtu-probe = yes" | om_consumer_conf
	echo "pmtu-probe = yes" >"$OM_T/provider.conf"
	OM_PROVIDER_CONF="$OM_T/provider.conf" om_start_daemons || return 1
	om_vm_dhcp
}

if [ "${1:-}" = 1500 ]; then
	run_case 1500 || { fail "set-up with a 1500-byte link"; exit 1; }
	check "the search ends at 1500 bytes" om_wait 20 grep -q "path MTU to $PROV_ADDR:6950 is 1500 bytes" "$OM_T/consumer.log"
	# 1500 less IPv4 20, UDP 8, outer header 8, DTLS 37
	check "the consumer keeps 1427-byte packets" \
		test "$(json_eval ctl_c "r['peers'][0]['link']['max_packet_bytes']" status)" = 1427
	head -c $((10 << 20)) /dev/urandom >"$OM_T/www/f"
	vm curl -sS -m 60 -o "$OM_T/down" http://$SRV_ADDR:8080/f
	check "a download after the search is byte-exact" cmp -s "$OM_T/down" "$OM_T/www/f"
	exit $OM_FAILED
fi

run_case 9000 || { fail "set-up with a 9000-byte link"; exit 1; }
check "the consumer finds the jumbo path MTU" om_wait 20 grep -qE "path MTU to $PROV_ADDR:6950 is 89[0-9][0-9] bytes" "$OM_T/consumer.log"
check "the provider finds it too" om_wait 20 grep -qE "path MTU to $CONS_ADDR:6950 is 89[0-9][0-9] bytes" "$OM_T/provider.log"
mp=$(json_eval ctl_c "r['peers'][0]['link']['max_packet_bytes']" status)
check "the consumer's packets grew ($mp bytes)" test "$mp" -gt 8000
head -c $((20 << 20)) /dev/urandom >"$OM_T/www/f"
vm curl -sS -m 60 -o "$OM_T/down" http://$SRV_ADDR:8080/f
check "a 20 MB download in jumbo packets is byte-exact" cmp -s "$OM_T/down" "$OM_T/www/f"
got=$(vm curl -sS -m 60 -T "$OM_T/down" http://$SRV_ADDR:8080/up)
check "and the upload too" test "$got" = "$(sha256sum <"$OM_T/www/f" | cut -d' ' -f1)"
# and the other case in a fresh world
bash "$0" 1500 || OM_FAILED=1
exit $OM_FAILED
