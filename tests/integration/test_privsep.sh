#!/bin/bash
# test_privsep.sh: the provider process that reads the wire holds no
# privilege.  Started as root, the provider splits: a helper keeps the four
# capabilities a capture needs and sets captures up; the daemon, which reads
# the mesh socket, runs as the user omnet with no capability at all.  A
# network added at run time, the SYN gate, a VM UDP conversation, DNS (a
# socket bound to port 53) and TCP and UDP port forwards all still work; a
# capture in the daemon's own namespace, or the same namespace a second
# time, is refused.  Killing the daemon takes the helper down, which
# removes the capture it left; killing the helper leaves the daemon
# running, with a clear error for what needs the helper.  Started as the
# user omnet with ambient capabilities (as the systemd unit does), it
# splits the same way.
OM_TEST=privsep
. "$(dirname "$0")/forward.sh"
om_need_root

NETID2=fedcba9876543210fedcba9876543210
NS_CAP2=om$OM_ID-cap2
HELPER_CAPS=0000000000203400   # CAP_NET_BIND_SERVICE CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_ADMIN
NO_CAPS=0000000000000000

# status PID FIELD - a field of /proc/PID/status, tabs as spaces
status() { awk -v f="$2:" '$1 == f { $1 = ""; print substr($0, 2) }' "/proc/$1/status" 2>/dev/null; }
children() { cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep .; }
# gone PID - exited (a zombie nobody reaped counts: it runs no more)
gone() { [ ! -d "/proc/$1" ] || [ "$(status "$1" State | cut -c1)" = Z ]; }
# mesh_readers - the PIDs holding the provider's UDP socket on port 6950
mesh_readers() {
	local inode
	inode=$(ip netns exec "$NS_PROV" awk '$2 ~ /:1B26$/ { print $10 }' /proc/net/udp /proc/net/udp6)
	[ -n "$inode" ] || return 1
	find /proc/[0-9]*/fd -lname "socket:\[$inode\]" 2>/dev/null | cut -d/ -f3 | sort -u
}
# the_helper PID - the provider's one child: its privileged helper
the_helper() {
	HELPER=$(children "$1")
	[ -n "$HELPER" ] && [ "$(wc -w <<<"$HELPER")" = 1 ]
}
OMNET_UID=$(id -u omnet)
# helper_sockets - the helper's descriptors that are sockets
# claim_inodes - the sockets that claim a capture namespace (capns.c
# claim(): an abstract unix name in it, @omnetd-capture)
claim_inodes() {
	ip netns exec "$NS_CAP" awk '$8 == "@omnetd-capture" { print $7 }' /proc/net/unix
}
# helper_sockets - the helper's sockets but its claim on the namespace
helper_sockets() {
	local fd link claims
	claims=" $(claim_inodes | tr '\n' ' ')"
	for fd in /proc/"$HELPER"/fd/*; do
		link=$(readlink "$fd")
		case $link in socket:*) ;; *) continue ;; esac
		link=${link#socket:[}
		case $claims in *" ${link%]} "*) continue ;; esac
		printf '%s ' "${fd##*/}"
	done
}
has_table() { ip netns exec "$1" nft list table ip omnetd >/dev/null 2>&1; }
vm_tcp() { vm $PY "$SERVERS" probe --tcp $SRV_ADDR:7; }
vm_udp() { vm $PY "$SERVERS" udp-client --host $SRV_ADDR --port 7 --count 5; }
vm_dns() { test "$(vm dig +short +time=2 +tries=2 @10.0.2.3 test.omnet)" = 198.51.100.77; }
capture_up() { has_table "$NS_CAP" && peer_connected ctl_p consumer; }

# split_checks WHO - the provider's processes: daemon PROV_PID, one helper
split_checks() {
	local who=$1 readers
	check "$who: the provider has exactly one child, its helper ($(children "$PROV_PID" | tr '\n' ' '))" \
		the_helper "$PROV_PID"
	readers=$(mesh_readers | tr '\n' ' ')
	check "$who: only the daemon holds the mesh socket (held by: $readers)" \
		test "$readers" = "$PROV_PID "
	check "$who: the daemon runs as the user omnet, real, effective, saved and fs uid ($(status "$PROV_PID" Uid))" \
		test "$(status "$PROV_PID" Uid)" = "$OMNET_UID $OMNET_UID $OMNET_UID $OMNET_UID"
	check "$who: and not in group root ($(status "$PROV_PID" Gid); $(status "$PROV_PID" Groups))" \
		sh -c "! echo $(status "$PROV_PID" Gid) $(status "$PROV_PID" Groups) | tr ' ' '\n' | grep -qx 0"
	check "$who: the daemon holds no capability: effective $(status "$PROV_PID" CapEff), permitted $(status "$PROV_PID" CapPrm), ambient $(status "$PROV_PID" CapAmb)" \
		test "$(status "$PROV_PID" CapEff)$(status "$PROV_PID" CapPrm)$(status "$PROV_PID" CapAmb)" = $NO_CAPS$NO_CAPS$NO_CAPS
	check "$who: the daemon cannot regain any (no_new_privs)" test "$(status "$PROV_PID" NoNewPrivs)" = 1
	[ -n "${HELPER:-}" ] || return
	check "$who: the helper keeps the four capture capabilities and no other ($(status "$HELPER" CapEff))" \
		test "$(status "$HELPER" CapEff)$(status "$HELPER" CapPrm)" = $HELPER_CAPS$HELPER_CAPS
	check "$who: the helper has no_new_privs" test "$(status "$HELPER" NoNewPrivs)" = 1
	check "$who: the helper holds one socket, to the daemon: no mesh, control or VM socket ($(helper_sockets))" \
		test "$(helper_sockets)" = "3 "
	check "$who: and the capture namespace's claim (@omnetd-capture), one" \
		test "$(claim_inodes | wc -l)" = 1
}

# capture_works WHO - the VM's TCP (SYN gate), UDP and DNS through the capture
capture_works() {
	check "$1: a VM TCP connection through the SYN gate" om_wait 15 vm_tcp
	check "$1: a VM UDP conversation (a transparent socket from the helper)" vm_udp
	check "$1: DNS over UDP via 10.0.2.3 (a socket bound to port 53)" vm_dns
}

om_topology || { fail "topology"; exit 1; }
om_start_servers || { fail "stand-in servers start"; exit 1; }
om_start_daemons || { fail "daemons start, the network is added at run time, the link is up"; exit 1; }
om_vm_dhcp || { fail "the VM gets its address by DHCP"; exit 1; }
fw_start_vm_service || { fail "the VM's service runs"; exit 1; }

# --- who holds what
split_checks "root start"
check "the daemon says so in its log" \
	grep -q "privileges: captures are set up by the helper, pid $HELPER" "$OM_T/provider.log"

# --- everything that needs the helper at run time
capture_works "root start"
check "forward add tcp 8080 -> the VM's $VM_PORT" ctl_c forward add tcp 8080 $VM_PORT
got=$(lan_ask 8080 --data hello)
check "a TCP port-forward flow reaches the VM from the client's own address ($got)" \
	grep -q "^you are $RTR_LAN:[0-9]* hello\$" <<<"$got"
check "forward add udp 9000 -> the VM's $VM_PORT" ctl_c forward add udp 9000 $VM_PORT
got=$(lan_ask 9000 --udp --data dgram)
check "a UDP port-forward flow reaches the VM and its answer comes back ($got)" \
	grep -q "^you are $RTR_LAN:[0-9]* dgram\$" <<<"$got"


# --- a network deleted and added at run time, by the unprivileged daemon
ctl_p network delete $NETID >/dev/null
check "network delete: the helper removes the capture's rules" om_wait 5 sh -c "! ip netns exec $NS_CAP nft list table ip omnetd >/dev/null 2>&1"
out=$(ctl_p network add $NETID --peer consumer --netns "$NS_CAP" --iface tap0 2>&1)
check "network add at run time, by the unprivileged daemon ($out)" om_wait 10 capture_up
check "the re-added capture answers DHCP" om_vm_dhcp
check "the VM reaches the server again" om_wait 15 vm_tcp

# --- what the helper refuses
out=$(ctl_p network add $NETID2 --peer consumer --netns /run/netns/"$NS_PROV" --iface eth0 2>&1)
check "a capture in the daemon's own namespace is refused ($out)" grep -q "daemon's own" <<<"$out"
check "and nothing was set up there" sh -c "! ip netns exec $NS_PROV nft list table ip omnetd >/dev/null 2>&1"
out=$(ctl_p network add $NETID2 --peer consumer --netns /run/netns/"$NS_CAP" --iface tap0 2>&1)
check "the capture namespace under a second spelling is refused ($out)" \
	test "$(json_eval ctl_p "len(r)" network list)" = 1
check "and the first network still works" om_wait 15 vm_tcp

# --- killing the daemon takes the helper down, and the capture with it
kill -9 "$PROV_PID"
check "killed daemon: the helper exits within 5 s" om_wait 5 gone "$HELPER"
check "the helper removed the capture the daemon left" sh -c "! ip netns exec $NS_CAP nft list table ip omnetd >/dev/null 2>&1"
check "the helper said so" grep -q "privsep: the daemon is gone; removing 1 capture it left" "$OM_T/provider.log"

# --- a second start, as root, from the state the unprivileged daemon kept
om_bg "$NS_PROV" provider2 "$OMNETD" --role provider -S "$OM_T/p" -s "$OM_T/p.sock" -l 0.0.0.0:6950 -v
PROV_PID=$OM_LASTPID
check "restart: the network comes back from the state directory" om_wait 15 capture_up
split_checks "restart"
check "restart: a VM TCP connection" om_wait 15 vm_tcp

# --- killing the helper leaves the daemon running, with clear errors
om_ns "$NS_CAP2" && om_veth "$NS_CAP2" tap1 "$NS_CAP2" tap1p  # (no dummy module everywhere)
kill -9 "$HELPER"
om_wait 5 gone "$HELPER"
out=$(ctl_p network add $NETID2 --peer consumer --netns "$NS_CAP2" --iface tap1 2>&1)
check "helper killed: network add fails, saying the helper is gone ($out)" \
	grep -q "privileged helper is gone" <<<"$out"
check "the daemon logged how the helper ended" \
	grep -q "privsep: the privileged helper (pid $HELPER) .*killed by signal 9" "$OM_T/provider2.log"
check "the capture that exists still runs: a VM TCP connection" om_wait 15 vm_tcp
vm dig +short +time=1 +tries=1 @10.0.2.3 never.omnet >/dev/null 2>&1
check "a new VM UDP conversation, which needs the helper, fails without harm: the daemon runs" \
	sh -c "kill -0 $PROV_PID && $OMNETCTL -s $OM_T/p.sock status >/dev/null"
check "nothing was set up in the new namespace" sh -c "! ip netns exec $NS_CAP2 nft list table ip omnetd >/dev/null 2>&1"
kill "$PROV_PID"
check "the daemon still stops on SIGTERM" om_wait 10 gone "$PROV_PID"
ip netns exec "$NS_CAP" nft delete table ip omnetd 2>/dev/null

# --- started as the user omnet with ambient capabilities, as the systemd unit does
caps=+net_admin,+net_raw,+sys_admin,+net_bind_service
mkdir -p "$OM_T/run" && chown omnet: "$OM_T/run"
om_bg "$NS_PROV" provider3 setpriv --reuid omnet --regid omnet --init-groups --inh-caps $caps \
	--ambient-caps $caps --bounding-set -all,$caps \
	"$OMNETD" --role provider -S "$OM_T/p" -s "$OM_T/run/p.sock" -l 0.0.0.0:6950 -v
PROV_PID=$OM_LASTPID
ctl_p() { "$OMNETCTL" -s "$OM_T/run/p.sock" "$@"; }
check "as omnet with ambient capabilities: the network comes back" om_wait 15 capture_up
split_checks "systemd-like start"
check "systemd-like start: a VM TCP connection" om_wait 15 vm_tcp
check "systemd-like start: DNS over UDP via 10.0.2.3" vm_dns
exit $OM_FAILED
