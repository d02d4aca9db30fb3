#!/bin/bash
# test_policy_routes.sh: the egress policy follows the consumer's routes.
#
#   cons 192.0.2.130/25 ── 192.0.2.129/25 rtr ── 198.51.100.10 srv   (default route)
#   cons 203.0.113.254/30 ── 203.0.113.253/30 rtr2 203.0.113.1/25 ── 203.0.113.10 srv2
#
# The consumer reaches 203.0.113.0/25 through a second router: that is its
# own network, so a VM flow there is refused (and the consumer says which
# route) while the internet through the default route works.  Routes and
# addresses added at run time take effect within a second, from netlink
# events; split default routes, reject routes and IPv6 are judged as on a
# real host, and `omnetctl policy check` explains each decision.  A reload
# keeps the routes and applies a new allow rule at once.
OM_TEST=policy-routes
. "$(dirname "$0")/lib.sh"
om_need_root

NS_RTR2=om$OM_ID-rtr2
NS_SRV2=om$OM_ID-srv2
SRV2_ADDR=203.0.113.10
SERVERS=$OM_SRCDIR/tests/integration/servers.py
EFFECT_MS=1000	# a change must show within this

# second_site - rtr2 on a link of the consumer's, srv2 behind it, and the
# consumer's route to srv2's network through rtr2
second_site() {
	om_ns "$NS_RTR2" && om_ns "$NS_SRV2" || return 1
	om_veth "$NS_CONS" lan1 "$NS_RTR2" lan0 || return 1
	om_veth "$NS_RTR2" net0 "$NS_SRV2" eth0 || return 1
	ip -n "$NS_CONS" addr add 203.0.113.254/30 dev lan1
	ip -n "$NS_RTR2" addr add 203.0.113.253/30 dev lan0
	ip -n "$NS_RTR2" addr add 203.0.113.1/25 dev net0
	ip -n "$NS_SRV2" addr add $SRV2_ADDR/25 dev eth0
	ip -n "$NS_SRV2" route add default via 203.0.113.1
	ip netns exec "$NS_RTR2" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$NS_CONS" route add 203.0.113.0/25 via 203.0.113.253
	# IPv6 on the LAN: a default route and one more specific route
	ip -n "$NS_CONS" addr add 2001:db8:1::2/64 dev lan0 nodad
	ip -n "$NS_RTR" addr add 2001:db8:1::1/64 dev lan0 nodad
	ip -n "$NS_CONS" -6 route add default via 2001:db8:1::1
	ip -n "$NS_CONS" -6 route add 2001:db8:99::/48 via 2001:db8:1::3
}

# pc_json ADDR[:PORT] EXPR [omnetctl options] - a Python expression on the
# result (r) of `policy check --json`
pc_json() {
	local dst=$1 expr=$2; shift 2
	json_eval ctl_c "$expr" policy check "$dst" "$@"
}
pc_is() { test "$(pc_json "$1" "$2")" = "$3"; }	# DST EXPR WANT
# pc_has DST TEXT - the JSON reply has TEXT; light enough to poll every 10 ms
pc_has() { ctl_c --json policy check "$1" | grep -qF -- "$2"; }
pc_by() { pc_has "$1" "\"decided_by\":\"$2\""; }	# DST BASIS

# has_lines TEXT LINE... - each LINE is a whole line of TEXT
has_lines() {
	local text=$1 line; shift
	for line in "$@"; do
		grep -qxF -- "$line" <<<"$text" || return 1
	done
}

# vm_connect HOST PORT - how a VM's TCP connect ends: "WHAT MS"
vm_connect() {
	vm $PY "$SERVERS" connect --host "$1" --port "$2"
}

# time_until_ms TIMEOUT_MS command... - run the command every 10 ms until
# it succeeds; print the milliseconds it took, fail after TIMEOUT_MS
time_until_ms() {
	local limit=$1 t0 now; shift
	t0=$(date +%s%N)
	while :; do
		"$@" >/dev/null 2>&1 && break
		now=$(date +%s%N)
		[ $(( (now - t0) / 1000000 )) -ge "$limit" ] && return 1
		sleep 0.01
	done
	echo $(( ($(date +%s%N) - t0) / 1000000 ))
}

om_topology || { fail "topology"; exit 1; }
second_site || { fail "the second site"; exit 1; }
om_start_servers || { fail "stand-in servers start"; exit 1; }
om_bg "$NS_SRV2" tcpecho2 $PY "$SERVERS" tcpecho --port 7
om_wait 10 ip netns exec "$NS_SRV2" $PY "$SERVERS" probe --tcp $SRV2_ADDR:7 ||
	{ fail "the second site's server starts"; exit 1; }
om_start_daemons || { fail "daemons start and link up"; exit 1; }
om_vm_dhcp || { fail "the VM gets its address"; exit 1; }

# --- a network behind a second router is the consumer's
check "the consumer itself reaches $SRV2_ADDR:7 through its route via rtr2" \
	ip netns exec "$NS_CONS" $PY "$SERVERS" probe --tcp $SRV2_ADDR:7
read -r what ms < <(vm_connect $SRV_ADDR 7)
check "the VM reaches $SRV_ADDR:7 through the default route ($what in $ms ms)" test "$what" = connected
refused0=$(json_eval ctl_c "r['counters']['flows_refused_policy']" status)
read -r what ms < <(vm_connect $SRV2_ADDR 7)
check "the VM is refused $SRV2_ADDR:7, behind the route via rtr2 ($what in $ms ms)" \
	test "$what" = refused
check "that refusal is prompt ($ms ms)" test "${ms:-99999}" -lt 1000
check "status counts it as a policy refusal" \
	test "$(json_eval ctl_c "r['counters']['flows_refused_policy']" status)" -gt "$refused0"
check "the consumer logs the route that decided" \
	grep -q "refused by policy: $SRV2_ADDR:7 is behind the consumer's route '203.0.113.0/25 via 203.0.113.253 dev lan1'" \
	"$OM_T/consumer.log"

# --- omnetctl explains both
check "policy check $SRV2_ADDR:7: denied by the route, its prefix, via and dev" \
	pc_is $SRV2_ADDR:7 "(r['allowed'], r['decided_by'], r['route']['prefix'], r['route']['via'], r['route']['dev'])" \
	"(False, 'route', '203.0.113.0/25', '203.0.113.253', 'lan1')"
check "policy check $SRV_ADDR:7: allowed by the default route via the LAN router" \
	pc_is $SRV_ADDR:7 "(r['allowed'], r['decided_by'], r['route']['prefix'], r['route']['via'], r['route']['dev'])" \
	"(True, 'default_route', '0.0.0.0/0', '$RTR_LAN', 'lan0')"
out=$(ctl_c policy check $SRV2_ADDR:7)
check "policy check for people: denied, decided by the route ($(head -1 <<<"$out"))" \
	has_lines "$out" "$SRV2_ADDR:7 tcp: denied" \
	"decided by  route 203.0.113.0/25 via 203.0.113.253 dev lan1"
out=$(ctl_c policy check $SRV_ADDR --proto udp)
check "policy check for people: allowed by the default route ($(head -1 <<<"$out"))" \
	has_lines "$out" "$SRV_ADDR udp: allowed" "decided by  default route default via $RTR_LAN dev lan0"
check "policy check of the consumer's LAN names the network and interface" \
	pc_is $RTR_LAN:80 "(r['decided_by'], r['range'], r['interface'])" \
	"('local_network', '192.0.2.128/25', 'lan0')"
check "policy check of Azure's WireServer names the cloud" \
	pc_is 168.63.129.16:53 "(r['allowed'], r['decided_by'], r['cloud'])" "(False, 'metadata', 'Azure')"

# --- a route added at run time takes effect from its netlink event
# a host route through the default gateway: the consumer still reaches the
# server, but it is now behind a more specific route
ip -n "$NS_CONS" route add $SRV_ADDR/32 via $RTR_LAN dev lan0
if ms=$(time_until_ms $EFFECT_MS pc_by $SRV_ADDR:7 route); then
	pass "a route added at run time decides within $EFFECT_MS ms (took $ms ms)"
else
	fail "a route added at run time decides within $EFFECT_MS ms"
fi
read -r what ms < <(vm_connect $SRV_ADDR 7)
check "the VM is refused $SRV_ADDR:7 now ($what in $ms ms)" test "$what" = refused
ip -n "$NS_CONS" route del $SRV_ADDR/32 via $RTR_LAN dev lan0
if ms=$(time_until_ms $EFFECT_MS pc_by $SRV_ADDR:7 default_route); then
	pass "a route deleted at run time stops deciding within $EFFECT_MS ms (took $ms ms)"
else
	fail "a route deleted at run time stops deciding within $EFFECT_MS ms"
fi
read -r what ms < <(vm_connect $SRV_ADDR 7)
check "the VM reaches $SRV_ADDR:7 again ($what in $ms ms)" test "$what" = connected

# --- an address added at run time is the host's within a second
check "203.0.113.200 is reached through the default route before" \
	pc_is 203.0.113.200:80 "r['decided_by']" default_route
ip -n "$NS_CONS" addr add 203.0.113.200/32 dev lo
if ms=$(time_until_ms $EFFECT_MS pc_by 203.0.113.200:80 local_address); then
	pass "an address added at run time is denied within $EFFECT_MS ms (took $ms ms)"
else
	fail "an address added at run time is denied within $EFFECT_MS ms"
fi
check "it is named as an address of the host, on lo" \
	pc_is 203.0.113.200:80 "(r['decided_by'], r['interface'])" "('local_address', 'lo')"
ip -n "$NS_CONS" addr del 203.0.113.200/32 dev lo

# --- a VPN's split default route is a default route; what it routes more
# specifically is still the consumer's
ip -n "$NS_CONS" route add 0.0.0.0/1 via 203.0.113.253
ip -n "$NS_CONS" route add 128.0.0.0/1 via 203.0.113.253
if ms=$(time_until_ms $EFFECT_MS pc_has 198.51.100.77:443 '"prefix":"128.0.0.0/1"'); then
	pass "the split default route is seen within $EFFECT_MS ms (took $ms ms)"
	check "with 0.0.0.0/1 + 128.0.0.0/1, the internet is allowed through the split default" \
		pc_is 198.51.100.77:443 "(r['allowed'], r['decided_by'])" "(True, 'default_route')"
else
	fail "the split default route is seen within $EFFECT_MS ms"
fi
check "with the split default, $SRV2_ADDR is still behind a more specific route" \
	pc_is $SRV2_ADDR:7 "(r['allowed'], r['route']['prefix'])" "(False, '203.0.113.0/25')"
ip -n "$NS_CONS" route del 0.0.0.0/1 via 203.0.113.253
ip -n "$NS_CONS" route del 128.0.0.0/1 via 203.0.113.253

# --- a reject route: the consumer cannot reach it, and the VM sees that
ip -n "$NS_CONS" route add unreachable 198.51.100.128/25
if ms=$(time_until_ms $EFFECT_MS pc_has 198.51.100.200:7 '"type":"unreachable"'); then
	check "an unreachable route is denied, named with its type (took $ms ms)" \
		pc_is 198.51.100.200:7 "(r['allowed'], r['route']['text'])" \
		"(False, 'unreachable 198.51.100.128/25')"
else
	fail "an unreachable route is denied within $EFFECT_MS ms"
fi
read -r what ms < <(vm_connect 198.51.100.200 7)
check "the VM sees 198.51.100.200 unreachable, as the consumer does ($what in $ms ms)" \
	test "$what" = unreachable
ip -n "$NS_CONS" route del unreachable 198.51.100.128/25

# --- IPv6
check "IPv6: a more specific route is the consumer's network" \
	pc_is "[2001:db8:99::1]:443" "(r['allowed'], r['route']['prefix'], r['route']['via'], r['route']['dev'])" \
	"(False, '2001:db8:99::/48', '2001:db8:1::3', 'lan0')"
check "IPv6: the default route reaches the internet" \
	pc_is 2001:db8:5::1 "(r['allowed'], r['decided_by'], r['route']['via'])" \
	"(True, 'default_route', '2001:db8:1::1')"
check "the consumer logged each change of its addresses and routes" \
	test "$(grep -c 'egress policy: the host has' "$OM_T/consumer.log")" -ge 5

# --- a reload keeps what netlink said, and its rules apply at once
printf '[egress]\nallow = 203.0.113.0/25 port 7\n' >>"$OM_T/consumer.conf"
rule_line=$(wc -l <"$OM_T/consumer.conf")
kill -HUP "$CONS_PID"
om_wait 5 grep -q "configuration reloaded" "$OM_T/consumer.log" ||
	fail "the consumer reloads its configuration"
check "after SIGHUP the routes are still known: $SRV2_ADDR:80 is behind the route" \
	pc_is $SRV2_ADDR:80 "(r['allowed'], r['route']['prefix'])" "(False, '203.0.113.0/25')"
check "and the reloaded allow rule opens $SRV2_ADDR:7, naming its line" \
	pc_is $SRV2_ADDR:7 "(r['allowed'], r['decided_by'], r['rule']['text'], r['rule']['origin'])" \
	"(True, 'rule', 'allow 203.0.113.0/25 port 7', '$OM_T/consumer.conf:$rule_line')"
read -r what ms < <(vm_connect $SRV2_ADDR 7)
check "the VM reaches $SRV2_ADDR:7 through the second router now ($what in $ms ms)" \
	test "$what" = connected
