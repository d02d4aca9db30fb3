#!/bin/bash
# test_policy_public.sh: the consumer's public address is not the internet.
#
#   cons 192.0.2.130/25 ── 192.0.2.129/25 rtr 100.128.0.1/24 (miniupnpd)
#
# Once the router has mapped a port for a forward (PCP, then NAT-PMP), the
# external address it reported is the consumer's own: a VM flow there would
# come back in to the consumer's forwarded services, so it is refused, and
# `omnetctl policy check` names the router that reported it.
OM_TEST=policy-public
. "$(dirname "$0")/forward.sh"
om_need_root
command -v miniupnpd >/dev/null || { echo "SKIP: needs miniupnpd"; exit 77; }

# pc_is DST EXPR WANT [omnetctl options] - a Python expression on the result
# (r) of `policy check --json`
pc_is() {
	local dst=$1 expr=$2 want=$3; shift 3
	json_is ctl_c "$expr" "$want" policy check "$dst" "$@"
}

fw_topology || { fail "topology"; exit 1; }
fw_start_miniupnpd || { fail "miniupnpd starts on the router"; exit 1; }
om_start_daemons || { fail "daemons start and link up"; exit 1; }
om_vm_dhcp || { fail "the VM gets its address"; exit 1; }
fw_start_vm_service || { fail "the VM's service runs"; exit 1; }

check "before any mapping, $RTR_PUB is reached through the default route" \
	pc_is $RTR_PUB:8090 "(r['allowed'], r['decided_by'])" "(True, 'default_route')"
check "forward add tcp 8090 --map pcp" ctl_c forward add tcp 8090 $VM_PORT --map pcp
check "the router's external address is the consumer's, as PCP reported it" \
	pc_is $RTR_PUB:8090 "(r['allowed'], r['decided_by'], r['range'], r['reported_by'])" \
	"(False, 'public_address', '$RTR_PUB/32', 'router $RTR_LAN (PCP)')"
check "every port of it, UDP too" \
	pc_is $RTR_PUB:53 "(r['allowed'], r['decided_by'])" "(False, 'public_address')" --proto udp
refused0=$(json_eval ctl_c "r['counters']['flows_refused_policy']" status)
read -r what ms < <(vm $PY "$SERVERS" connect --host $RTR_PUB --port 8090)
check "the VM is refused the way back in through $RTR_PUB:8090 ($what in $ms ms)" \
	test "$what" = refused
check "as a policy refusal" \
	test "$(json_eval ctl_c "r['counters']['flows_refused_policy']" status)" -gt "$refused0"
check "the consumer logs where it learnt its public address" \
	grep -q "egress policy: $RTR_PUB is a public address of this consumer (reported by router $RTR_LAN (PCP))" \
	"$OM_T/consumer.log"
check "and why it refused the flow" \
	grep -q "refused by policy: $RTR_PUB:8090 is a public address of the consumer (reported by router $RTR_LAN (PCP))" \
	"$OM_T/consumer.log"
check "forward add udp 9000 --map natpmp" ctl_c forward add udp 9000 $VM_PORT --map natpmp
check "a NAT-PMP mapping reports it too (the latest source is named)" \
	pc_is $RTR_PUB:443 "r['reported_by']" "router $RTR_LAN (NAT-PMP)"
check "one log line per new public address, not one per mapping" \
	test "$(grep -c "egress policy: $RTR_PUB is a public address" "$OM_T/consumer.log")" = 1
