# paths.sh: a topology with NATs and relays for the path tests (sourced
# after lib.sh, bash).
#
#   vm ──veth── cap        (the provider captures the VM here, as in lib.sh)
#   prov 192.0.2.2/26 ── 192.0.2.1 natp 198.51.100.2 ─┐
#   cons 192.0.2.66/26 ── 192.0.2.65 natc 198.51.100.3 ─┤ br0 in "pub"
#                       r1 198.51.100.11, r2 198.51.100.12 ─┤ (198.51.100.0/24)
#                                         srv 198.51.100.10 ─┘
#
# natp and natc masquerade their LAN behind their WAN address, and drop
# whatever arrives from the WAN side unasked, as home routers do.  A NAT is
#   eim        endpoint-independent mapping (plain masquerade: the port is
#              kept, so a relay sees the port a peer will see): punchable;
#   symmetric  a new random port for every destination (fully-random):
#              what a relay sees is no use to a peer;
#   dnat       eim, plus UDP 6950 forwarded to the host behind it: the host
#              is reachable directly at the router's WAN address.
# Each router has an empty chain "cut" in table "inet omtest" that tests
# fill with drop rules to cut paths, and counters to count datagrams.
#
# PATHS_SLOW_LEGS (a blank-separated list of natp, natc, r1, r2) puts the
# userspace impairment bridge (tests/impair, namespace om$OM_ID-i-NAME) on
# those legs to br0, a plain bridge until the test writes settings to its
# control FIFO $OM_T/NAME.ctl (slow_leg NAME SETTINGS).

NS_NATP=om$OM_ID-natp
NS_NATC=om$OM_ID-natc
NS_PUB=om$OM_ID-pub
NS_R1=om$OM_ID-r1
NS_R2=om$OM_ID-r2
PROV_LAN_ADDR=192.0.2.2
CONS_LAN_ADDR=192.0.2.66
NATP_WAN=198.51.100.2
NATC_WAN=198.51.100.3
R1_ADDR=198.51.100.11
R2_ADDR=198.51.100.12

# nat_rules NS MODE LAN_HOST - the router's nftables
nat_rules() {
	local ns=$1 mode=$2 host=$3 masq=masquerade dnat=""
	[ "$mode" = symmetric ] && masq="masquerade fully-random"
	[ "$mode" = dnat ] && dnat="iifname \"wan0\" udp dport 6950 dnat to $host:6950"
	ip netns exec "$ns" nft -f - <<EOF
table ip omtest_nat {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		$dnat
	}
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" $masq
	}
}
table inet omtest {
	chain cut {
		type filter hook forward priority -10; policy accept;
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		iifname "lan0" accept
		ct status dnat accept
	}
	chain input {
		type filter hook input priority filter; policy accept;
		iifname "wan0" ct state new drop
	}
}
EOF
}

# om_paths_topology PROV_NAT CONS_NAT - build every namespace
om_paths_topology() {
	local ns
	for ns in "$NS_VM" "$NS_CAP" "$NS_PROV" "$NS_CONS" "$NS_NATP" "$NS_NATC" "$NS_PUB" \
		"$NS_R1" "$NS_R2" "$NS_SRV"; do
		om_ns "$ns" || return 1
	done
	om_veth "$NS_VM" eth0 "$NS_CAP" tap0 || return 1
	ip -n "$NS_PUB" link add br0 type bridge && ip -n "$NS_PUB" link set br0 up || return 1
	om_pub_leg "$NS_NATP" wan0 p-natp $NATP_WAN natp || return 1
	om_pub_leg "$NS_NATC" wan0 p-natc $NATC_WAN natc || return 1
	om_pub_leg "$NS_R1" eth0 p-r1 $R1_ADDR r1 || return 1
	om_pub_leg "$NS_R2" eth0 p-r2 $R2_ADDR r2 || return 1
	om_pub_leg "$NS_SRV" eth0 p-srv $SRV_ADDR || return 1
	om_veth "$NS_PROV" eth0 "$NS_NATP" lan0 || return 1
	ip -n "$NS_PROV" addr add $PROV_LAN_ADDR/26 dev eth0
	ip -n "$NS_PROV" route add default via 192.0.2.1
	ip -n "$NS_NATP" addr add 192.0.2.1/26 dev lan0
	om_veth "$NS_CONS" eth0 "$NS_NATC" lan0 || return 1
	ip -n "$NS_CONS" addr add $CONS_LAN_ADDR/26 dev eth0
	ip -n "$NS_CONS" route add default via 192.0.2.65
	ip -n "$NS_NATC" addr add 192.0.2.65/26 dev lan0
	for ns in "$NS_NATP" "$NS_NATC"; do
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
	done
	nat_rules "$NS_NATP" "$1" $PROV_LAN_ADDR || return 1
	nat_rules "$NS_NATC" "$2" $CONS_LAN_ADDR || return 1
	# consumer and provider are both on the inside: no route between them
	# but through the public network
	om_wait 5 ip netns exec "$NS_PROV" ping -c1 -W1 $R1_ADDR &&
		om_wait 5 ip netns exec "$NS_CONS" ping -c1 -W1 $SRV_ADDR
}

om_pub_leg() {  # NS IF BRIDGE_PORT ADDR [NAME]
	if [[ " ${PATHS_SLOW_LEGS-} " == *" ${5-none} "* ]]; then
		om_slow_leg "$@" || return 1
	else
		om_veth "$1" "$2" "$NS_PUB" "$3" || return 1
	fi
	ip -n "$NS_PUB" link set "$3" master br0
	ip -n "$1" addr add "$4"/24 dev "$2"
}

# om_slow_leg NS IF BRIDGE_PORT ADDR NAME - the leg through an impairment
# bridge: NS's IF to its leg-a, its leg-b to the bridge port; offloads off
# on all four, as the bridge forwards frames as they come (no GSO)
om_slow_leg() {
	local ins=om$OM_ID-i-$5 n
	om_ns "$ins" || return 1
	om_veth "$1" "$2" "$ins" leg-a || return 1
	om_veth "$ins" leg-b "$NS_PUB" "$3" || return 1
	for n in "$1:$2" "$ins:leg-a" "$ins:leg-b" "$NS_PUB:$3"; do
		ip netns exec "${n%%:*}" ethtool -K "${n#*:}" tso off gso off gro off tx off \
			>/dev/null 2>&1
	done
	ip netns exec "$ins" "$IMPAIR" --a leg-a --b leg-b --pidfile "$OM_T/$5.impair.pid" \
		--control "$OM_T/$5.ctl" --limit-pkts 4000 --seed 7 >"$OM_T/$5.impair.log" 2>&1 &
	OM_PIDS+=($!)
	om_wait 10 test -s "$OM_T/$5.impair.pid" || { log "impair on $5 did not start"; return 1; }
}

# slow_leg NAME SETTINGS - the impairment of a slow leg, both ways, from now
# on (tests/impair option names without dashes; "" for a plain bridge)
slow_leg() {
	local n
	n=$(grep -c 'control at' "$OM_T/$1.impair.log")
	printf 'both %s\n' "$2" >"$OM_T/$1.ctl"
	om_wait 5 sh -c "[ \$(grep -c 'control at' '$OM_T/$1.impair.log') -gt $n ]"
}

ctl_r1() { "$OMNETCTL" -s "$OM_T/r1.sock" "$@"; }
ctl_r2() { "$OMNETCTL" -s "$OM_T/r2.sock" "$@"; }

# om_paths_daemons RELAYS CONS_ENDPOINT - start relays r1 (and r2 when
# RELAYS is 2; none when 0), the consumer and the provider; the provider
# knows the consumer at CONS_ENDPOINT ("" for no endpoint); both name the
# relays as theirs
om_paths_daemons() {
	local relays=$1 ep=$2 i name
	local rfp=() rflags=()
	[ -f "$OM_T/consumer.conf" ] || om_consumer_conf </dev/null
	om_identities || return 1
	for ((i = 1; i <= relays; i++)); do
		name=r$i
		mkdir -p "$OM_T/$name"
		rfp[i]=$("$OMNETD" --show-identity -S "$OM_T/$name") || return 1
		local ns=$NS_R1
		[ $i = 2 ] && ns=$NS_R2
		om_bg "$ns" "relay$i" "$OMNETD" --role relay -S "$OM_T/$name" -s "$OM_T/$name.sock" \
			-l 0.0.0.0:6950 -v ${OM_RELAY_CONF:+-c "$OM_RELAY_CONF"}
		eval "R${i}_PID=\$OM_LASTPID"
		om_wait 10 test -S "$OM_T/$name.sock" || { log "relay $name did not start"; return 1; }
		"$OMNETCTL" -s "$OM_T/$name.sock" peer add provider --fingerprint "$PROV_FP" \
			>/dev/null || return 1
		"$OMNETCTL" -s "$OM_T/$name.sock" peer add consumer --fingerprint "$CONS_FP" \
			>/dev/null || return 1
		rflags+=(--relay "$name")
	done
	om_start_consumer || return 1
	om_start_provider || return 1
	for ((i = 1; i <= relays; i++)); do
		local raddr=$R1_ADDR
		[ $i = 2 ] && raddr=$R2_ADDR
		ctl_c peer add r$i --fingerprint "${rfp[i]}" --endpoint $raddr:6950 >/dev/null || return 1
		ctl_p peer add r$i --fingerprint "${rfp[i]}" --endpoint $raddr:6950 >/dev/null || return 1
	done
	ctl_c peer add provider --fingerprint "$PROV_FP" "${rflags[@]}" >/dev/null || return 1
	ctl_c network add $NETID --peer provider >/dev/null || return 1
	ctl_p peer add consumer --fingerprint "$CONS_FP" ${ep:+--endpoint "$ep"} "${rflags[@]}" \
		>/dev/null || return 1
	ctl_p network add $NETID --peer consumer --netns "$NS_CAP" --iface tap0 >/dev/null || return 1
	PATHS_RELAY_FLAGS=("${rflags[@]}")
	PATHS_CONS_EP=$ep
}

# peer_is CTL PEER STATE METHOD - connected by that method?
peer_is() {
	[ "$(peer_field "$1" "$2" "p['state'] + '/' + str(p['method'])")" = "$3/$4" ]
}

# wait_method CTL PEER METHOD TIMEOUT_S - until connected by that method;
# prints the ms from the call to the moment the daemon took that path (its
# own path_ms, so the time spent polling does not count)
wait_method() {
	local t0=$(date +%s%N) end=$(( $(date +%s) + $4 )) out now
	while :; do
		# the clock is read as soon as the reply is in, before parsing it
		out=$("$1" --json status 2>/dev/null)
		now=$(date +%s%N)
		out=$(echo "$out" | status_field "$2" "'%s/%s %s' % (p['state'], p['method'], p['path_ms'])")
		if [ "${out%% *}" = "connected/$3" ]; then
			echo $(( (now - t0) / 1000000 - ${out##* } ))
			return 0
		fi
		[ "$(date +%s)" -ge $end ] && return 1
		sleep 0.05
	done
}

# expect_method CTL PEER METHOD TIMEOUT_S WHAT - a check that the peer gets
# connected by METHOD; MS is set to the time it took (empty if it did not)
expect_method() {
	if MS=$(wait_method "$1" "$2" "$3" "$4"); then
		pass "$5 (after $MS ms)"
	else
		MS=
		fail "$5 (now: $(peer_field "$1" "$2" "p['state'], p['method'], p['path']"))"
	fi
}

# field_is CTL PEER EXPR VALUE - a peer's field has that value
field_is() {
	[ "$(peer_field "$1" "$2" "$3")" = "$4" ]
}

# cut NS RULE... / uncut NS - drop traffic through a router
cut() {
	local ns=$1; shift
	ip netns exec "$ns" nft add rule inet omtest cut "$@"
}
uncut() {
	ip netns exec "$1" nft flush chain inet omtest cut
}

# vm_up - the VM takes its address and reaches the server through the link
vm_up() {
	om_vm_dhcp || { log "no DHCP lease"; return 1; }
	om_wait 10 vm $PY "$OM_SRCDIR/tests/integration/servers.py" probe --tcp $SRV_ADDR:8080
}

# count NS NAME MATCH... - count datagrams matching MATCH through a router
count() {
	local ns=$1 name=$2; shift 2
	ip netns exec "$ns" nft add rule inet omtest cut "$@" counter comment "\"$name\""
}
# counted NS NAME - how many so far
counted() {
	ip netns exec "$1" nft list chain inet omtest cut |
		sed -n "s/.*counter packets \([0-9]*\) bytes [0-9]* comment \"$2\".*/\1/p"
}

# stays NS NAME N SECONDS - the count stays N for that long (an observation
# window: what is shown is that nothing happens)
stays() {
	local i
	for ((i = 0; i < $4 * 10; i++)); do
		[ "$(counted "$1" "$2")" = "$3" ] || return 1
		sleep 0.1
	done
}

size_at_least() {  # FILE BYTES
	[ -f "$1" ] && [ "$(stat -c %s "$1")" -ge "$2" ]
}

# sample_status CTL PEER SECONDS FILE - every 500 ms, one line:
# "state retry_delay_ms next_retry_ms" (None when not scheduled)
sample_status() {
	local end=$(( $(date +%s) + $3 ))
	while [ "$(date +%s)" -lt $end ]; do
		peer_field "$1" "$2" "'%s %s %s' % (p['state'], p['retry_delay_ms'], p['next_retry_ms'])" >>"$4"
		sleep 0.5
	done
}
