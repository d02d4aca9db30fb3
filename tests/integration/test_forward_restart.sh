#!/bin/bash
# test_forward_restart.sh: forwards outlive their network and the daemon.
# A rule whose network is deleted is kept and reported inactive (clients
# reset), and works again when the network returns; shutdown deletes the
# router's mapping; a restarted consumer restores its runtime rules and
# their mappings, and adds the rules of its configuration file.  Mappings
# are renewed before their lease ends (a 6000 ms lease here).
OM_TEST=forward-restart
. "$(dirname "$0")/forward.sh"
om_need_root

fw_topology || { fail "topology"; exit 1; }
fw_start_miniupnpd || { fail "miniupnpd starts on the router"; exit 1; }
om_consumer_conf <<<"port-map-lease-ms = 6000"
om_start_daemons || { fail "daemons start and link up"; exit 1; }
om_vm_dhcp || { fail "the VM gets its address"; exit 1; }
fw_start_vm_service || { fail "the VM's service runs"; exit 1; }

check "forward add tcp 8081 --map natpmp" ctl_c forward add tcp 8081 $VM_PORT --map natpmp
check "forward add udp 9000 (LAN only)" ctl_c forward add udp 9000 $VM_PORT
check "the router holds the mapping" rtr_mapping tcp 8081
check "the outside client reaches the VM" \
	grep -q "^you are $OUT_ADDR:" <<<"$(out_ask 8081)"
check "the mapping is renewed at half its 6000 ms lease" \
	om_wait 8 grep -q "tcp/8081: NAT-PMP mapping renewed" "$OM_T/consumer.log"
check "after the renewal the lease runs again (over 4000 ms left)" \
	fw_rule_is tcp 8081 "f['mapping']['lease_remaining_ms'] > 4000" True
check "and the router still holds the mapping" rtr_mapping tcp 8081
check "a UPnP mapping with the same lease" ctl_c forward add tcp 8082 $VM_PORT --map upnp
check "is renewed too" om_wait 8 grep -q "tcp/8082: UPnP mapping renewed" "$OM_T/consumer.log"
check "and removed with its rule" ctl_c forward remove tcp 8082
check "from the router" om_wait 5 no_rtr_mapping tcp 8082

# --- the network goes: the rule stays, inactive, and says why
check "network delete on the consumer" ctl_c network delete $NETID
check "the rule is kept, reported inactive: its network is gone" \
	test "$(fw_rule tcp 8081 "(f['listening'], f['active'], f['inactive_reason'])")" = \
	"(True, False, 'its network is gone')"
got=$(lan_ask 8081 --timeout 3)
check "a client meanwhile is reset, not left hanging ($got)" test "$got" = reset
check "network add again" ctl_c network add $NETID --peer provider
check "the rule is active again" om_wait 10 fw_rule_is tcp 8081 "f['active']" True
check "and the outside client reaches the VM again" \
	om_wait 10 sh -c "ip netns exec $NS_OUT $PY $SERVERS ask --host $RTR_PUB --port 8081 | grep -q '^you are $OUT_ADDR:'"

# --- shutdown deletes the mapping
check "the rules are saved in the state directory" \
	$PY -c "import json,sys; s=json.load(open('$OM_T/c/state.json')); sys.exit(len(s['forwards']) != 2)"
fw_stop_consumer
check "the consumer stopped on SIGTERM" sh -c "! kill -0 $CONS_PID 2>/dev/null"
check "shutdown deleted the router's mapping" om_wait 5 no_rtr_mapping tcp 8081
check "the consumer logged the deletion" \
	grep -q "tcp/8081: NAT-PMP mapping .* deleted" "$OM_T/consumer.log"

# --- restart, now with a rule in the configuration file as well
cat >>"$OM_T/consumer.conf" <<EOF

[peer provider]
fingerprint = $PROV_FP

[network $NETID]
peer = provider

[forward]
network = $NETID
proto = tcp
external-port = 8070
vm-port = $VM_PORT
EOF
check "omnetd -t accepts the configuration with a [forward]" "$OMNETD" -t "$OM_T/consumer.conf"
om_start_consumer consumer2 || { fail "the consumer restarts"; exit 1; }
check "the link comes back" om_wait 20 peer_connected ctl_p consumer
check "both runtime rules and the configured one are there" test "$(fw_count)" = 3
check "the configured rule says where it comes from" \
	test "$(fw_rule tcp 8070 "f['source']")" = config
check "the restored rule's mapping is back on the router" om_wait 10 rtr_mapping tcp 8081
check "the restored rule reports it mapped" \
	om_wait 10 fw_rule_is tcp 8081 "f['mapping']['state']" mapped
check "the outside client reaches the VM through the restored rule" \
	om_wait 10 sh -c "ip netns exec $NS_OUT $PY $SERVERS ask --host $RTR_PUB --port 8081 | grep -q '^you are $OUT_ADDR:'"
got=$(lan_ask 9000 --udp --data again)
check "the restored UDP rule carries datagrams both ways ($got)" \
	grep -q "^you are $RTR_LAN:[0-9]* again\$" <<<"$got"
got=$(lan_ask 8070 --data conf)
check "the configured rule works ($got)" grep -q "^you are $RTR_LAN:[0-9]* conf\$" <<<"$got"
