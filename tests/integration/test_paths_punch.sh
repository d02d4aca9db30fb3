#!/bin/bash
# test_paths_punch.sh: provider and consumer each behind an endpoint-
# independent NAT, with no route to each other: a relay tells each the
# address it sees the other from, both send at once, and the link ends up
# on the hole-punched path (not on the relay).
OM_TEST=paths-punch
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/paths.sh"
om_need_root

om_paths_topology eim eim || { fail "topology"; exit 1; }
om_start_servers || { fail "stand-in servers start"; exit 1; }
om_paths_daemons 1 "" || { fail "daemons start"; exit 1; }

expect_method ctl_p consumer hole-punched 30 "the provider reaches the consumer hole-punched"
check "the consumer reaches the provider hole-punched" \
	om_wait 15 peer_is ctl_c provider connected hole-punched
check "the path is the consumer's NAT, not the relay" \
	field_is ctl_p consumer "p['path'].split(':')[0]" $NATC_WAN
check "the provider learned its public address from the relay" \
	grep -q "relay sees us at $NATP_WAN:" "$OM_T/provider.log"
check "the VM gets an address and reaches the server" vm_up
head -c $((8 << 20)) /dev/urandom >"$OM_T/www/f"
vm curl -sS -m 60 -o "$OM_T/down" http://$SRV_ADDR:8080/f
check "8 MB download over the punched path is byte-exact" cmp -s "$OM_T/down" "$OM_T/www/f"
check "it stayed on the punched path" peer_is ctl_p consumer connected hole-punched
exit $OM_FAILED
