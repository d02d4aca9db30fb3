#!/bin/bash
# test_forward.sh: VM services exposed on the consumer's network.
# A forward with no mapping reached from the consumer's LAN; a TCP service
# reached from the internet side through the router's mapping made by
# UPnP IGD, NAT-PMP, PCP and auto, the VM seeing the real client's address;
# removal deletes the mapping; a UDP forward both ways; a VM port with
# nothing listening resets the client; duplicate rule, port in use, a
# router that refuses and one that is absent each give their error and
# change nothing.
OM_TEST=forward
. "$(dirname "$0")/forward.sh"
om_need_root

fw_topology || { fail "topology"; exit 1; }
fw_start_miniupnpd || { fail "miniupnpd starts on the router"; exit 1; }
om_start_daemons || { fail "daemons start and link up"; exit 1; }
om_vm_dhcp || { fail "the VM gets its address"; exit 1; }
fw_start_vm_service || { fail "the VM's service runs"; exit 1; }

# --- no router mapping: the consumer's LAN reaches the VM
check "forward add tcp 8080 -> 8000" ctl_c forward add tcp 8080 $VM_PORT
got=$(lan_ask 8080 --data hello)
check "a LAN client reaches the VM's service through the consumer ($got)" \
	test "${got%% hello}" != "$got"
check "the VM sees the LAN client's own address, not the gateway's ($got)" \
	grep -q "^you are $RTR_LAN:[0-9]* hello\$" <<<"$got"
got=$(ip netns exec "$NS_CONS" $PY "$SERVERS" ask --host ::1 --port 8080 --data six)
check "an IPv6 client reaches the VM too, seen as the gateway (the VM's network is IPv4) ($got)" \
	grep -q "^you are 10.0.2.2:[0-9]* six\$" <<<"$got"
check "forward list: listening, active, no mapping" \
	test "$(fw_rule tcp 8080 "(f['listening'], f['active'], f['mapping'])")" = "(True, True, None)"
check "the provider counts the forwarded flow" \
	test "$(json_eval ctl_p "r[0]['capture']['forwarded_in']" network list)" -ge 1

# --- through the router, by each method
port=8081
for m in upnp natpmp pcp auto; do
	out=$(ctl_c forward add tcp $port $VM_PORT --map $m 2>&1)
	check "forward add tcp $port --map $m: $(head -c 200 <<<"$out" | tr '\n' ' ')" \
		grep -q "^router: .* maps $RTR_PUB:$port" <<<"$out"
	check "$m: the router holds the mapping to the consumer" rtr_mapping tcp $port
	want=$m
	[ $m = auto ] && want=pcp   # auto tries PCP first, and this router speaks it
	check "$m: forward list shows it mapped by $want, with the router's address and a lease" \
		test "$(fw_rule tcp $port "(f['mapping']['state'], f['mapping']['protocol'], f['mapping']['external_address'], f['mapping']['lease_remaining_ms'] > 0)")" = "('mapped', '$want', '$RTR_PUB', True)"
	got=$(out_ask $port --data "via $m")
	check "$m: the outside client reaches the VM's service ($got)" \
		grep -q "^you are $OUT_ADDR:[0-9]* via $m\$" <<<"$got"
	check "$m: forward remove" ctl_c forward remove tcp $port
	check "$m: the router's mapping is gone" om_wait 5 no_rtr_mapping tcp $port
	check "$m: the outside client no longer gets in" \
		sh -c "! ip netns exec $NS_OUT $PY $SERVERS ask --host $RTR_PUB --port $port --timeout 2 >/dev/null"
	port=$((port + 1))
done

# --- UDP, both ways, each client its own flow
check "forward add udp 9000 -> 8000 --map natpmp" \
	ctl_c forward add udp 9000 $VM_PORT --map natpmp
check "udp: the router holds the mapping" rtr_mapping udp 9000
got1=$(out_ask 9000 --udp --data first)
got2=$(out_ask 9000 --udp --data second)
check "udp: a datagram reaches the VM and its answer comes back ($got1)" \
	grep -q "^you are $OUT_ADDR:[0-9]* first\$" <<<"$got1"
check "udp: a second client, a second answer ($got2)" \
	grep -q "^you are $OUT_ADDR:[0-9]* second\$" <<<"$got2"
check "udp: forward list counts two clients" test "$(fw_rule udp 9000 "f['connections']")" = 2
got=$(ip netns exec "$NS_CONS" $PY "$SERVERS" ask --host ::1 --port 9000 --udp --data six)
check "udp: an IPv6 client gets its answer, the VM seeing the gateway ($got)" \
	grep -q "^you are 10.0.2.2:[0-9]* six\$" <<<"$got"

# --- a router gone silent does not stall the daemon on forward remove
check "forward add tcp 8095 --map natpmp" ctl_c forward add tcp 8095 $VM_PORT --map natpmp
ip netns exec "$NS_RTR" nft -f - <<-'EOF'
	table inet filter {
		chain input {
			type filter hook input priority 0; policy accept;
			udp dport 5351 drop
		}
	}
	EOF
t0=$(date +%s%N)
ctl_c forward remove tcp 8095 >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "forward remove with the router silent returns in under a second ($ms ms)" test "$ms" -lt 1000
check "and says the mapping was not deleted" \
	grep -q "tcp/8095: NAT-PMP mapping .* not deleted" "$OM_T/consumer.log"
ip netns exec "$NS_RTR" nft delete chain inet filter input

# --- a VM port with nothing listening: the client gets a reset, promptly
ctl_c forward add tcp 8090 8001 >/dev/null
got=$(lan_ask 8090 2>"$OM_T/ask.err")
ms=$(awk '/^elapsed_ms/ {print $2}' "$OM_T/ask.err")
check "nothing listening on the VM's port: the client gets a reset ($got in $ms ms)" \
	test "$got" = reset
check "the reset comes within a second" test "${ms:-99999}" -lt 1000
check "and the provider logs why" \
	om_wait 5 grep -q "forward from .* to the VM's tcp 10.0.2.15:8001 failed: Connection refused" \
	"$OM_T/provider.log"

# --- errors that change nothing
n=$(fw_count)
out=$(ctl_c --json forward add tcp 8080 8001)
check "a duplicate rule: error 'exists' ($out)" \
	grep -q '"code":"exists".*forwarded already' <<<"$out"
check "the duplicate changed nothing (still to VM port $VM_PORT)" \
	test "$(fw_rule tcp 8080 "f['vm_port']")" = $VM_PORT
om_bg "$NS_CONS" squatter $PY "$SERVERS" listen --addr 0.0.0.0 --port 8099
om_wait 10 fw_listening "$NS_CONS" tcp 8099
out=$(ctl_c --json forward add tcp 8099 $VM_PORT)
check "a port in use: error 'in_use' ($out)" grep -q '"code":"in_use".*in use' <<<"$out"
check "the port in use: no rule added" test "$(fw_rule tcp 8099 "1")" = absent
# the router's rules allow ports 1024-65535 only (miniupnpd.conf): port 80
# is refused; UPnP says so (miniupnpd 2.3.1 stops answering PCP and
# NAT-PMP requests it denies, which would only test a timeout)
out=$(ctl_c --json forward add tcp 80 $VM_PORT --map upnp)
check "a router that refuses: error 'mapping_failed' with its reason ($out)" \
	grep -q '"code":"mapping_failed".*refused' <<<"$out"
check "the refused rule is not added" test "$(fw_rule tcp 80 1)" = absent
check "and port 80 is not left open" om_wait 5 not_listening "$NS_CONS" tcp 80
fw_stop_miniupnpd
out=$(ctl_c --json forward add tcp 8098 $VM_PORT --map pcp)
check "no router: error 'mapping_failed' naming PCP's silence ($out)" \
	grep -q '"code":"mapping_failed".*PCP' <<<"$out"
check "no router: no rule added" test "$(fw_rule tcp 8098 1)" = absent
check "no router: the port is not left open" om_wait 5 not_listening "$NS_CONS" tcp 8098
out=$(ctl_c --json forward add tcp 8097 $VM_PORT --map upnp)
check "no UPnP router: error 'mapping_failed' ($out)" grep -q '"code":"mapping_failed"' <<<"$out"
check "the rules are the same as before the errors" test "$(fw_count)" = "$n"
check "omnetctl forward list prints the rules" \
	sh -c "$OMNETCTL -s $OM_T/c.sock forward list | grep -q '^NETWORK.*PROTO.*PORT'"

# --- the provider restarts while the VM keeps the address it leased: the
# new provider has no lease for it, and learns the address from the VM's
# own next flow (here a DNS query), after which forwards reach it again
kill -TERM "$PROV_PID"
om_wait_gone "$PROV_PID" 10 || fail "the provider stops"
om_start_provider provider2 || { fail "the provider restarts"; exit 1; }
check "the link comes back" om_wait 20 peer_connected ctl_p consumer
check "forward add tcp 8095" ctl_c forward add tcp 8095 $VM_PORT
got=$(lan_ask 8095 --data before 2>&1)
check "before the VM sends anything, the forward is refused ($got)" \
	test "${got#you are}" = "$got"
check "which the provider logs, with the reason" \
	om_wait 5 grep -q "refused: the VM has no address yet" "$OM_T/provider2.log"
vm dig +time=1 +tries=1 @10.0.2.3 test.omnet >/dev/null 2>&1
got=$(lan_ask 8095 --data after)
check "after the VM's own DNS query, the forward reaches it ($got)" \
	grep -q "^you are $RTR_LAN:[0-9]* after\$" <<<"$got"
exit $OM_FAILED
