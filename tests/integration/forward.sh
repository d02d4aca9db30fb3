# forward.sh: set-up shared by the port-forward tests (sourced, bash).
#
#   vm ──veth── cap                     the VM, serving "whoami" on port 8000
#   prov 192.0.2.1/25 ── 192.0.2.2/25 cons
#   cons 192.0.2.130/25 ── 192.0.2.129/25 rtr 100.128.0.1/24 ── 100.128.0.2/24 out
#
# rtr is the consumer's home router: Debian's miniupnpd (UPnP IGD, NAT-PMP,
# PCP) with nftables masquerade.  out is a client on the internet side: it
# has no route but its own /24, so it reaches the consumer only through a
# mapping the router made.  miniupnpd maps nothing for a private or
# documentation WAN address, hence 100.128.0.0/24 on that leg.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NS_OUT=om$OM_ID-out
RTR_PUB=100.128.0.1
OUT_ADDR=100.128.0.2
VM_PORT=8000
SERVERS=$OM_SRCDIR/tests/integration/servers.py

fw_topology() {
	om_ns "$NS_VM" && om_ns "$NS_CAP" && om_ns "$NS_PROV" && om_ns "$NS_CONS" &&
		om_ns "$NS_RTR" && om_ns "$NS_OUT" || return 1
	om_veth "$NS_VM" eth0 "$NS_CAP" tap0 || return 1
	om_veth "$NS_PROV" eth0 "$NS_CONS" eth0 || return 1
	om_link_and_lan || return 1
	om_veth "$NS_RTR" wan0 "$NS_OUT" eth0 || return 1
	ip -n "$NS_RTR" addr add $RTR_PUB/24 dev wan0
	ip -n "$NS_OUT" addr add $OUT_ADDR/24 dev eth0
	ip netns exec "$NS_RTR" sysctl -qw net.ipv4.ip_forward=1
	# the chains Debian's miniupnpd-nftables fills, jumped to from hooked ones
	ip netns exec "$NS_RTR" nft -f - <<-'EOF' || return 1
	table inet filter {
		chain forward {
			type filter hook forward priority 0; policy drop;
			ct state established,related accept
			iifname "lan0" oifname "wan0" accept
			jump miniupnpd
		}
		chain miniupnpd {
		}
		chain prerouting {
			type nat hook prerouting priority -100; policy accept;
			jump prerouting_miniupnpd
		}
		chain prerouting_miniupnpd {
		}
		chain postrouting {
			type nat hook postrouting priority 100; policy accept;
			jump postrouting_miniupnpd
			oifname "wan0" masquerade
		}
		chain postrouting_miniupnpd {
		}
	}
	EOF
}

fw_start_miniupnpd() {
	cat >"$OM_T/miniupnpd.conf" <<-EOF
	ext_ifname=wan0
	listening_ip=lan0
	port=0
	enable_natpmp=yes
	enable_upnp=yes
	secure_mode=yes
	system_uptime=yes
	uuid=3d3cec3a-8cf0-11e0-98ee-001a6b1b0f7e
	allow 1024-65535 192.0.2.128/25 1024-65535
	deny 0-65535 0.0.0.0/0 0-65535
	EOF
	rm -f "$OM_T/miniupnpd.pid"
	om_bg "$NS_RTR" miniupnpd miniupnpd -f "$OM_T/miniupnpd.conf" -d -P "$OM_T/miniupnpd.pid"
	MINIUPNPD_PID=$OM_LASTPID
	# NAT-PMP and PCP share UDP 5351; UPnP answers SSDP on 1900
	om_wait 10 sh -c "ip netns exec $NS_RTR ss -lun | grep -q ':5351 ' &&
		ip netns exec $NS_RTR ss -lun | grep -q ':1900 '"
}

fw_stop_miniupnpd() {
	kill "$MINIUPNPD_PID" 2>/dev/null
	om_wait_gone "$MINIUPNPD_PID" 5
}

# rtr_mapping PROTO PORT - the router forwards PORT to the consumer; its
# rules read `iif "wan0" @nh,72,8 0x6 th dport 8080 dnat ip to ADDR:8080`
rtr_mapping() {
	local num=0x6
	[ "$1" = udp ] && num=0x11
	ip netns exec "$NS_RTR" nft list chain inet filter prerouting_miniupnpd 2>/dev/null |
		grep -E "($num|$1) th dport $2 dnat ip to $CONS_LAN:[0-9]+" >/dev/null
}
no_rtr_mapping() { ! rtr_mapping "$@"; }

fw_start_vm_service() {
	om_bg "$NS_VM" whoami $PY "$SERVERS" whoami --port $VM_PORT
	om_wait 10 vm $PY "$SERVERS" probe --tcp 127.0.0.1:$VM_PORT
}

# out_ask PORT [ask options] - from the internet side, to the router's address
out_ask() {
	local port=$1; shift
	ip netns exec "$NS_OUT" $PY "$SERVERS" ask --host $RTR_PUB --port "$port" "$@"
}
# lan_ask PORT [ask options] - from the router, a client on the consumer's LAN
lan_ask() {
	local port=$1; shift
	ip netns exec "$NS_RTR" $PY "$SERVERS" ask --host $CONS_LAN --port "$port" "$@"
}

# fw_rule PROTO PORT EXPR - a Python expression on the rule (f) of
# `forward list --json` with that protocol and port; "absent" if none
fw_rule() {
	ctl_c --json forward list | $PY -c "
import json, sys
r = json.load(sys.stdin)['result']
f = ([x for x in r if x['proto'] == '$1' and x['external_port'] == $2] or [None])[0]
print(($3) if f else 'absent')" 2>/dev/null
}
fw_rule_is() { test "$(fw_rule "$1" "$2" "$3")" = "$4"; }  # PROTO PORT EXPR WANT
fw_count() { ctl_c --json forward list | $PY -c "import json,sys; print(len(json.load(sys.stdin)['result']))"; }

fw_listening() {  # NS PROTO PORT
	local opt=-ltn
	[ "$2" = udp ] && opt=-lun
	ip netns exec "$1" ss -H $opt "sport = :$3" | grep -q .
}

not_listening() { ! fw_listening "$@"; }

fw_stop_consumer() {
	kill "$CONS_PID" 2>/dev/null
	om_wait_gone "$CONS_PID" 10
}
