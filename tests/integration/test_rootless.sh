#!/bin/bash
# test_rootless.sh: a provider run by an ordinary user, with no capability
# at all, captures a VM's traffic in a network namespace that user made
# (unshare --user --map-root-user --net), adopted with --netns /proc/PID/ns/net
# (issue 17, DESIGN.md 11.48):
#  - the daemon has no capability and runs as the user; the capture's helper
#    works in the user namespace that owns the capture, as the same user;
#  - DHCP, DNS, a byte-exact download and upload, UDP, the SYN gate's prompt
#    refusal of a closed port, a port forward that keeps the client's
#    address, a second network in a second namespace of the user's;
#  - network delete removes the capture and its helper;
#  - a namespace of the host's (made by root) is refused with the reason.
# The test creates the user it runs as, and removes it.
OM_TEST=rootless
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rootless.sh"
om_need_root
SERVERS=$OM_SRCDIR/tests/integration/servers.py
VM_PORT=8000
NETID2=fedcba9876543210fedcba9876543210

rl_user || { fail "useradd"; exit 1; }
user=$RL_USER uid=$RL_UID home=$RL_HOME tun_mode=$RL_TUN_MODE psock=$RL_SOCK

# the guest QEMU boots (tests/guest/mkguest: Debian's kernel, busybox)
"$OM_SRCDIR/tests/guest/mkguest" "$home/guest" >/dev/null || { fail "the guest image"; exit 1; }
chmod -R a+rX "$home/guest"
om_topology || { fail "topology"; exit 1; }
om_topology_second_tenant || { fail "second VM's namespaces"; exit 1; }
om_start_servers || { fail "stand-in servers start"; exit 1; }
om_topology_ipv6
om_start_servers6 || { fail "IPv6 stand-in servers start"; exit 1; }

rl_netns ns1 "$NS_CAP" || { fail "the user makes a namespace for the VM"; exit 1; }
rl_netns ns2 "$NS_CAP2" || { fail "and a second one"; exit 1; }

# --- the daemons: the consumer as usual, the provider as the user
om_consumer_conf </dev/null
om_start_consumer || { fail "consumer starts"; exit 1; }
PROV_FP=$(setpriv --reuid="$uid" --regid="$uid" --clear-groups "$home/omnetd" --show-identity \
	-S "$home/p") || { fail "the provider's identity"; exit 1; }
CONS_FP=$("$OMNETD" --show-identity -S "$OM_T/c")
rl_start_provider || { fail "the rootless provider starts"; exit 1; }
ctl_c peer add provider --fingerprint "$PROV_FP" >/dev/null
ctl_c network add $NETID --peer provider >/dev/null
ctl_c network add $NETID2 --peer provider >/dev/null
ctl_p peer add consumer --fingerprint "$CONS_FP" --endpoint $CONS_ADDR:6950 >/dev/null
check "the link comes up" om_wait 15 peer_connected ctl_p consumer

check "the provider runs as the user ($user)" test "$(stat -c %u /proc/$PROV_PID)" = "$uid"
check "with no capability at all" grep -q "^CapEff:[[:space:]]*0*$" /proc/$PROV_PID/status
check "and says it is rootless" grep -q "rootless provider" "$OM_T/provider.log"

# --- a namespace of the host's is not the user's to capture in
out=$(ctl_p network add $NETID --peer consumer --netns "$NS_VM" --iface eth0 2>&1)
check "a root-made namespace is refused, with the reason ($out)" \
	grep -q "belongs to the host's user namespace" <<<"$out"
check "and leaves no network behind" test "$(json_eval ctl_p "len(r)" network list)" = 0

# --- the user's own namespace
check "network add --netns /proc/$ns1_PID/ns/net" \
	ctl_p network add $NETID --peer consumer --netns /proc/$ns1_PID/ns/net --iface tap0
helper=$(pgrep -P "$PROV_PID" omnetd-priv | head -1)
check "the capture's helper runs as the user too (pid ${helper:-none})" \
	test -n "$helper" -a "$(stat -c %u /proc/${helper:-0} 2>/dev/null)" = "$uid"
check "omnetd run afresh, not a copy of the daemon (its key, its memory)" \
	sh -c "tr '\\0' ' ' </proc/${helper:-0}/cmdline | grep -q -- '--capture-helper /proc/$ns1_PID/ns/net'"
check "in the namespace owner's user namespace" \
	test "$(readlink /proc/${helper:-0}/ns/user)" = "$(readlink /proc/$ns1_PID/ns/user)"
check "the capture's rules are in the user's namespace" \
	sh -c "nsenter -t $ns1_PID -n nft list table ip omnetd >/dev/null"
out=$(ctl_p network add $NETID2 --peer consumer --netns /proc/$ns1_PID/ns/net --iface tap0 2>&1)
check "a second network in the same namespace is refused ($out)" grep -q "already" <<<"$out"

om_vm_dhcp || { fail "DHCP"; exit 1; }
read -r ip mask router _ <"$OM_T/vm.lease"
check "DHCP: the VM got 10.0.2.15/24 via 10.0.2.2" test "$ip/$mask $router" = "10.0.2.15/24 10.0.2.2"
check "DNS over UDP via 10.0.2.3" \
	test "$(vm dig +short +time=2 +tries=2 @10.0.2.3 test.omnet)" = 198.51.100.77
head -c $((20 << 20)) /dev/urandom >"$OM_T/www/f"
want=$(sha256sum <"$OM_T/www/f" | cut -d' ' -f1)
vm curl -sS -m 60 -o "$OM_T/down" http://$SRV_ADDR:8080/f
check "a 20 MB download is byte-exact" cmp -s "$OM_T/down" "$OM_T/www/f"
check "a 20 MB upload is byte-exact" \
	test "$(vm curl -sS -m 60 -T "$OM_T/www/f" http://$SRV_ADDR:8080/up)" = "$want"
check "UDP echo: 20 datagrams and their echoes" \
	sh -c "ip netns exec $NS_VM $PY $SERVERS udp-client --host $SRV_ADDR --port 7 --count 20 >/dev/null"
ip netns exec "$NS_CONS" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
check "ping: 5 of 5 echoes answered through the consumer" \
	sh -c "timeout 20 ip netns exec $NS_VM ping -n -c 5 -i 0.2 -W 2 $SRV_ADDR | grep -q ' 5 received'"
check "IPv6: the VM forms an address by SLAAC from the rootless provider's advertisements" \
	om_vm_slaac "$(om_prefix6)"
check "IPv6: the VM downloads byte-exact from an IPv6 server" \
	sh -c "ip netns exec $NS_VM curl -6 -sS -m 60 'http://[$SRV6]:8080/f' | cmp -s - $OM_T/www/f"
check "IPv6: ping -6, 3 of 3 answered" \
	sh -c "timeout 20 ip netns exec $NS_VM ping -6 -n -c 3 -i 0.2 -W 2 $SRV6 | grep -q ' 3 received'"
read -r what ms < <(vm $PY "$SERVERS" connect --host $SRV_ADDR --port 9)
check "a closed port is refused promptly ($what in $ms ms)" \
	test "$what" = refused -a "${ms:-99999}" -lt 1000

# --- a port forward: the VM sees the client's own address
om_bg "$NS_VM" whoami $PY "$SERVERS" whoami --port $VM_PORT
om_wait 10 vm $PY "$SERVERS" probe --tcp 127.0.0.1:$VM_PORT >/dev/null
ctl_c forward add --network $NETID tcp 8080 $VM_PORT >/dev/null
got=$(ip netns exec "$NS_RTR" $PY "$SERVERS" ask --host $CONS_LAN --port 8080 --data hello)
check "a forward reaches the VM, which sees the client's address ($got)" \
	grep -q "^you are $RTR_LAN:[0-9]* hello\$" <<<"$got"

# --- a second network, in a second namespace of the user's
check "network add: a second network in a second namespace" \
	ctl_p network add $NETID2 --peer consumer --netns /proc/$ns2_PID/ns/net --iface tap0
om_dhcp_in "$NS_VM2" vm2 || fail "the second VM's DHCP"
check "the second VM downloads byte-exact" sh -c "ip netns exec $NS_VM2 curl -sS -m 60 \
	http://$SRV_ADDR:8080/f | cmp -s - $OM_T/www/f"

# --- network delete: the capture and its helper go
check "network delete" ctl_p network delete $NETID
check "the helper exits" om_wait_gone "${helper:-0}" 10
check "the rules left the user's namespace" \
	sh -c "! nsenter -t $ns1_PID -n nft list table ip omnetd >/dev/null 2>&1"
check "the gateway address left tap0" \
	sh -c "! nsenter -t $ns1_PID -n ip addr show tap0 | grep -q 10.0.2.2"
check "the second network still carries" sh -c "ip netns exec $NS_VM2 curl -sS -m 30 \
	http://$SRV_ADDR:8080/f | cmp -s - $OM_T/www/f"

ctl_p network delete $NETID2 >/dev/null

# --- network add --run --container: omnetd makes the namespaces; a plain
# process stands in for the VM: DHCP on eth0, then a download
cat >"$home/udhcpc.sh" <<'EOS'
#!/bin/sh
case "$1" in
bound|renew)
	ip addr add "$ip/$mask" dev "$interface"
	for r in $router; do ip route replace default via "$r" dev "$interface"; done
	echo "lease $ip/$mask via $router dns $dns"
	;;
esac
exit 0
EOS
cat >"$home/container.sh" <<EOS
#!/bin/sh
echo "uid \$(id -u) in a namespace of its own:" \$(ip -br link | cut -d' ' -f1 | cut -d@ -f1)
echo "descriptors:" \$(ls /proc/self/fd | sort -n)
busybox udhcpc -i eth0 -n -q -t 10 -T 1 -s $home/udhcpc.sh || exit 3
echo "sha256 \$(curl -sS -m 60 http://$SRV_ADDR:8080/f | sha256sum | cut -d' ' -f1)"
EOS
chmod 0755 "$home/udhcpc.sh" "$home/container.sh"
check "network add --run --container -- container.sh" \
	ctl_p network add $NETID --peer consumer --run --container -- "$home/container.sh"
check "the command runs as uid 0 in a namespace of its own, with eth0" \
	om_wait 10 grep -q "container.sh: uid 0 in a namespace of its own: lo eth0" "$OM_T/provider.log"
check "it inherits no descriptor of the daemon's (ls's own directory is 3)" \
	om_wait 10 grep -q "container.sh: descriptors: 0 1 2 3\$" "$OM_T/provider.log"
check "it takes a DHCP lease on eth0 (10.0.2.15 via 10.0.2.2, DNS 10.0.2.3)" \
	om_wait 20 grep -q "container.sh: lease 10.0.2.15/24 via 10.0.2.2 dns 10.0.2.3" "$OM_T/provider.log"
check "and downloads byte-exact through the consumer" \
	om_wait 60 grep -q "container.sh: sha256 $want" "$OM_T/provider.log"
check "its exit is logged" om_wait 10 grep -q "container.sh (pid [0-9]*) exited with status 0" \
	"$OM_T/provider.log"
check "and the network is deleted with it" \
	om_wait 10 json_is ctl_p "len(r)" 0 network list
check "nothing of it is left: no child of the daemon's, not even a zombie" \
	om_wait 10 sh -c "[ -z \"\$(ps --ppid $PROV_PID -o pid= )\" ]"

# --- two at once; deleting one stops its whole process group, promptly,
# and leaves the other running
check "network add --run --container -- sh -c 'setsid sleep 776 & sleep 777 & sleep 778; wait'" \
	ctl_p network add $NETID --peer consumer --run --container -- \
	sh -c 'setsid sleep 776 & sleep 777 & sleep 778; wait'
check "and a second one at the same time" \
	ctl_p network add $NETID2 --peer consumer --run --container -- sleep 779
check "both run" om_wait 10 sh -c "pgrep -u $uid -f '^sleep 77[6789]$' | wc -l | grep -qx 4"
t0=$(date +%s%N)
check "network delete of the first" ctl_p network delete $NETID
t1=$(date +%s%N)
check "returns promptly ($(( (t1 - t0) / 1000000 )) ms)" test $(( (t1 - t0) / 1000000 )) -lt 1000
check "and stops the command and all it started, even in a session of its own (its PID namespace)" \
	om_wait 10 sh -c "! pgrep -u $uid -f '^sleep 77[678]$' >/dev/null"
check "the second still runs" pgrep -u $uid -f '^sleep 779$'
check "network delete of the second" ctl_p network delete $NETID2
check "nothing of either is left" om_wait 10 sh -c "[ -z \"\$(ps --ppid $PROV_PID -o pid= )\" ] &&
	! pgrep -u $uid -f '^sleep 77[6789]$' >/dev/null"

# --- network delete stops the command; --keep keeps the network
check "network add --run --container -- sleep 600" \
	ctl_p network add $NETID --peer consumer --run --container -- sleep 600
check "network list shows it running" \
	json_is ctl_p "r[0]['run']['state'] + ' ' + r[0]['run']['command']" "running sleep" network list
check "network delete" ctl_p network delete $NETID
check "stops the command" om_wait 10 grep -q "sleep (pid [0-9]*) was killed by signal 15" \
	"$OM_T/provider.log"
check "network add --run --container --keep -- true" \
	ctl_p network add $NETID --peer consumer --run --container --keep -- true
check "the command exits; the network stays, and says so" om_wait 10 json_is ctl_p \
	"r[0]['run']['state']" "exited with status 0" network list
check "network delete removes it" ctl_p network delete $NETID
out=$(ctl_p network add $NETID --peer consumer --run --container -- /nonexistent/cmd 2>&1)
check "a command that cannot run: its error and status 127 are logged" om_wait 10 sh -c \
	"grep -q 'cannot run /nonexistent/cmd: No such file' $OM_T/provider.log &&
	 grep -q 'cmd (pid [0-9]*) exited with status 127' $OM_T/provider.log"
out=$(ctl_p network add $NETID --peer consumer --run --netns x --iface y -- true 2>&1)
check "--run with --netns is refused ($out)" grep -q "not for it" <<<"$out"

# --- a command's output cannot flood the log: 3,000 lines at once, and
# at most the burst (1,000) plus the rate (100 a second) is logged, the rest
# counted in one warning
check "network add --run --container -- 3,000 lines at once" \
	ctl_p network add $NETID --peer consumer --run --container -- \
	sh -c 'i=0; while [ $i -lt 3000 ]; do echo "flood $i"; i=$((i+1)); done'
check "it ends, and its network with it" om_wait 30 json_is ctl_p "len(r)" 0 network list
n=$(grep -c ": sh: flood " "$OM_T/provider.log")
check "at most about 1,000 of its lines are logged ($n)" test "$n" -ge 1000 -a "$n" -le 1300
check "and the rest are counted in a warning" \
	grep -q "sh: [0-9]* lines of its output not logged (more than 100 a second)" "$OM_T/provider.log"

# --- network add --run (a VM's tap0): QEMU would open tap0; the command
# shows the capture's gateway address on it.  /dev/net/tun must be open to
# the user: Debian's udev makes it 0666; this machine's may not be.
chmod 0600 /dev/net/tun
out=$(ctl_p network add $NETID --peer consumer --run -- true 2>&1)
check "with /dev/net/tun 0600, --run says what to change ($out)" grep -q "chmod 0666 /dev/net/tun" <<<"$out"
chmod 0666 /dev/net/tun
check "network add --run -- ip addr show tap0" \
	ctl_p network add $NETID --peer consumer --run -- ip -4 -o addr show tap0
check "the command sees tap0 with the gateway's address" \
	om_wait 10 grep -q "ip: .*tap0 *inet 10.0.2.2/24" "$OM_T/provider.log"
check "the network went with the command" om_wait 10 json_is ctl_p "len(r)" 0 network list

# --- a real guest: QEMU (TCG), started by the rootless provider with --run,
# on tap0; its kernel takes a lease and downloads through the consumer
check "QEMU is started with --run on tap0" ctl_p network add $NETID --peer consumer --run -- \
	qemu-system-x86_64 -nodefaults -no-user-config -display none -serial stdio -m 192 \
	-no-reboot -accel tcg -kernel "$home/guest/vmlinuz" -initrd "$home/guest/initrd.gz" \
	-append "console=ttyS0 panic=-1 quiet omnet.url=http://$SRV_ADDR:8080/f" \
	-netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device e1000,netdev=n0
check "the guest boots" om_wait 60 grep -q "qemu-system-x86_64: guest up" "$OM_T/provider.log"
check "the guest takes its lease: 10.0.2.15 via 10.0.2.2, DNS 10.0.2.3" om_wait 30 \
	grep -q "qemu-system-x86_64: guest lease 10.0.2.15/24 via 10.0.2.2 dns 10.0.2.3" \
	"$OM_T/provider.log"
check "and downloads 20 MB byte-exact through the consumer" om_wait 120 \
	grep -q "qemu-system-x86_64: guest sha256 $want" "$OM_T/provider.log"
check "QEMU exits when the guest powers off" om_wait 30 \
	grep -q "qemu-system-x86_64 (pid [0-9]*) exited with status 0" "$OM_T/provider.log"
check "and the network goes with it" om_wait 10 json_is ctl_p "len(r)" 0 network list
chmod "$tun_mode" /dev/net/tun

# --- the daemon's end stops what runs
check "network add --run --container -- sleep 600, once more" \
	ctl_p network add $NETID --peer consumer --run --container -- sleep 600
run_pid=$(json_eval ctl_p "r[0]['run']['pid']" network list)
kill -TERM "$PROV_PID"
check "the provider exits on SIGTERM" om_wait_gone "$PROV_PID" 10
check "and stops the command (pid $run_pid)" om_wait_gone "${run_pid:-0}" 10
exit $OM_FAILED
