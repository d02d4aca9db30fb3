#!/bin/bash
# test_ipv6.sh: the VM's network is dual stack.
#
#   vm -- cap (provider's capture) ... prov == cons -- rtr -- srv
#                                          2001:db8:2::/64   2001:db8:100::/64
#
# With the real clients a VM has (the kernel's SLAAC, ISC dhclient -6,
# iputils ping and tracepath, curl, dig), and nothing configured on the
# VM's side:
#   - the provider advertises the network's own /64 (derived from the
#     network id), a default route through fe80::2, the link's MTU and the
#     DNS service by RDNSS (read here with a router solicitation of our own,
#     checked byte by byte: the kernel does not keep RDNSS);
#   - the kernel forms its address by SLAAC; DHCPv6 answers dhclient's
#     information request (DNS) and gives an address to one that asks;
#   - TCP, UDP and ping from the VM's IPv6 address reach an IPv6 server
#     through the consumer's IPv6; DNS over IPv6 answers AAAA;
#   - the egress policy covers IPv6: the consumer's own prefix is refused,
#     TCP with an unreachable error, ping "filtered", UDP EHOSTUNREACH; a
#     closed UDP port on the far side is ECONNREFUSED;
#   - a consumer without an IPv6 route: the VM's connect() fails at once.
OM_TEST=ipv6
. "$(dirname "$0")/lib.sh"
om_need_root

# the network's own prefix, derived from its id
PREFIX6=$(om_prefix6)
DNS6=${PREFIX6}3

om_topology || { fail "topology"; exit 1; }
om_topology_ipv6
ip netns exec "$NS_CONS" sysctl -qw net.ipv4.ping_group_range="0 2147483647"
om_start_servers || { fail "stand-in servers start"; exit 1; }
om_start_servers6 || { fail "IPv6 stand-in servers start"; exit 1; }
om_consumer_conf </dev/null
echo "nameserver $SRV6" >"$OM_T/resolv.conf"
om_start_daemons || { fail "daemons start"; exit 1; }
check "the link is up" om_wait 15 peer_connected ctl_p consumer
echo hello6 >"$OM_T/www/hello"
check "the VM takes an IPv4 address by DHCP, as ever" om_vm_dhcp

# 1. the router: advertisements, SLAAC, the default route
check "the VM forms an address in the network's prefix by SLAAC" om_vm_slaac $PREFIX6
log "the VM's address: $(om_vm_slaac_addr)"
check "its default route is the router's link-local address" \
	bash -c "ip -n $NS_VM -6 route show default | grep -q 'via fe80::2 dev eth0'"

# an RS of our own, the RA it brings, its options decoded
vm $PY - >"$OM_T/ra.txt" 2>&1 <<'EOF'
import socket, struct, select, time
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
idx = socket.if_nametoindex("eth0")
s.sendto(bytes([133, 0, 0, 0, 0, 0, 0, 0]), ("ff02::2", 0, 0, idx))
end = time.monotonic() + 8
while time.monotonic() < end:
    r, _, _ = select.select([s], [], [], max(0, end - time.monotonic()))
    if not r:
        break
    m, a = s.recvfrom(2000)
    if m[0] != 134:
        continue
    print("from", a[0].split("%")[0], "lifetime", struct.unpack("!H", m[6:8])[0],
          "flags", m[5])
    o = 16
    while o + 2 <= len(m) and m[o + 1]:
        t, l = m[o], m[o + 1] * 8
        v = m[o:o + l]
        if t == 3:
            print("prefix", socket.inet_ntop(socket.AF_INET6, v[16:32]) + "/" + str(v[2]),
                  "flags", v[3])
        elif t == 5:
            print("mtu", struct.unpack("!I", v[4:8])[0])
        elif t == 25:
            print("rdnss", socket.inet_ntop(socket.AF_INET6, v[8:24]))
        o += l
    break
EOF
check "a router solicitation is answered from fe80::2, as a default router" \
	grep -qE '^from fe80::2 lifetime [1-9]' "$OM_T/ra.txt"
check "the advertisement carries the prefix for SLAAC (on-link, autonomous)" \
	grep -q "^prefix $PREFIX6/64 flags 192" "$OM_T/ra.txt"
check "and the DNS service (RDNSS)" grep -q "^rdnss $DNS6\$" "$OM_T/ra.txt"
check "and the link's MTU" grep -q "^mtu 1500\$" "$OM_T/ra.txt"

# 2. DHCPv6: stateless (DNS) and an address for a client that asks
cat >"$OM_T/dhclient6.sh" <<EOF
#!/bin/sh
env | grep -E '^(new_|reason)' >>"$OM_T/dhclient6.env"
exit 0
EOF
chmod +x "$OM_T/dhclient6.sh"
dhc6() {  # dhclient -6 ARGS: one exchange, the script's view in dhclient6.env
	rm -f "$OM_T/dhclient6.env"
	vm timeout 20 dhclient -6 -1 -v "$@" -lf "$OM_T/dhclient6.leases" \
		-pf "$OM_T/dhclient6.pid" -sf "$OM_T/dhclient6.sh" eth0 >>"$OM_T/dhclient6.log" 2>&1
}
dhc6 -S
check "DHCPv6 answers an information request with the DNS service" \
	grep -q "^new_dhcp6_name_servers=$DNS6\$" "$OM_T/dhclient6.env"
dhc6 -N
check "DHCPv6 gives an address in the prefix to a client that asks" \
	grep -q "^new_ip6_address=${PREFIX6%::}:" "$OM_T/dhclient6.env"
check "status shows the lease" json_is ctl_p "r[0]['ipv6']['lease'].startswith('${PREFIX6%::}:')" \
	True network list
dhc6 -r
check "and a release gives it back" json_is ctl_p "r[0]['ipv6']['lease']" None network list

# 3. TCP, UDP, ICMPv6 and DNS over IPv6
check "TCP: the VM fetches from an IPv6 server (curl -6)" \
	bash -c "ip netns exec $NS_VM curl -6 -sf -m 10 'http://[$SRV6]:8080/hello' | grep -q hello6"
check "the server sees the consumer's IPv6 address" grep -q "^$CONS6_LAN GET /hello" \
	"$OM_T/http-clients6"
check "UDP: an IPv6 echo answers" test "$(vm $PY "$OM_SRCDIR/tests/integration/servers.py" \
	ask --udp --host $SRV6 --port 7 --data v6udp)" = v6udp
vm ping -6 -n -c 5 -i 0.1 -W 2 $SRV6 >"$OM_T/ping6.out" 2>&1
check "ping -6: 5 of 5 replies" grep -q " 5 received" "$OM_T/ping6.out"
# the VM's kernel confirms its router by neighbour discovery a few seconds
# after it uses a stale entry (ping would confirm it by MSG_CONFIRM, UDP
# does not); an answer without the Router flag tells the VM fe80::2 is no
# router (RFC 4861 7.2.5: hosts other than Linux drop their default route)
vm ip -6 neigh change fe80::2 dev eth0 nud stale 2>/dev/null || :
n=0
for i in 1 2 3 4 5 6 7; do
	out=$(vm $PY "$OM_SRCDIR/tests/integration/servers.py" ask --udp --host $SRV6 --port 7 \
		--data n$i --timeout 2 2>/dev/null)
	[ "$out" = n$i ] && n=$((n + 1))
	sleep 1
done
check "UDP for 7 s from a stale neighbour entry: $n of 7 answered" test $n = 7
check "fe80::2 is still a router to the VM ($(ip -n $NS_VM -6 neigh show fe80::2 dev eth0))" \
	bash -c "ip -n $NS_VM -6 neigh show fe80::2 dev eth0 | grep -q ' router'"
check "and its default route" \
	bash -c "ip -n $NS_VM -6 route show default | grep -q 'via fe80::2 dev eth0'"
# a host that is not there: the router beyond the consumer says so (after
# its neighbour discovery gives up, about 3 s), and the VM hears it from
# that router, as on a real network
vm ping -6 -n -c 1 -W 8 2001:db8:100::99 >"$OM_T/ping6.out" 2>&1
check "ping -6 to an absent host: \"$(grep -o 'From.*' "$OM_T/ping6.out" | head -1)\"" \
	grep -q "From $RTR6_LAN icmp_seq=1 Destination unreachable: Address unreachable" \
	"$OM_T/ping6.out"
vm ping -n -c 1 -W 8 198.51.100.99 >"$OM_T/ping.out" 2>&1
check "ping to an absent IPv4 host: \"$(grep -o 'From.*' "$OM_T/ping.out" | head -1)\"" \
	grep -q "From $RTR_LAN icmp_seq=1 Destination Host Unreachable" "$OM_T/ping.out"

check "DNS over IPv6 to the RDNSS address answers AAAA" \
	test "$(vm dig +short +time=2 +tries=2 AAAA v6.test.omnet @$DNS6)" = 2001:db8:100::77
check "and DNS over IPv4 to 10.0.2.3 does too" \
	test "$(vm dig +short +time=2 +tries=2 AAAA v6.test.omnet @10.0.2.3)" = 2001:db8:100::77
check "flows from the VM's IPv6 address show on the consumer" \
	grep -q "$SRV6" "$OM_T/consumer.log"

big=$(head -c 3000 /dev/zero | tr '\0' x)
check "UDP: a 3,000-byte datagram (fragments on the VM's link) comes back whole" \
	test "$(vm $PY "$OM_SRCDIR/tests/integration/servers.py" ask --udp --host $SRV6 --port 7 \
		--data "$big")" = "$big"

# tracepath: the VM's probes are carried as datagrams (their hop limit is
# the VM's alone), so the far side answers the first: a clear stop at one
# hop, never a hang
for dst in $SRV6 $SRV_ADDR; do
	t0=$(date +%s%N)
	vm timeout 30 tracepath -n -m 8 $dst >"$OM_T/tracepath.out" 2>&1
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	check "tracepath $dst: reached, in $ms ms" \
		bash -c "grep -q 'reached' '$OM_T/tracepath.out' && [ $ms -lt 10000 ]"
done

# 4. the egress policy and the errors the VM gets
out=$(vm curl -6 -s -m 10 -o /dev/null -w '%{http_code}' "http://[$CONS6_LAN]:8080/" 2>&1)
check "TCP to the consumer's own IPv6 LAN is refused (curl got: $out)" test "$out" = 000
check "the consumer says why" grep -q "refused by policy" "$OM_T/consumer.log"
vm ping -6 -n -c 2 -i 0.2 -W 1 $CONS6_LAN >"$OM_T/ping6.out" 2>&1
check "ping -6 to it: no reply, and an error from the gateway" \
	grep -qiE "From ${PREFIX6}2 .*(Administratively prohibited|filtered)" "$OM_T/ping6.out"

# udp6_outcome HOST PORT [recverr] - a connected UDP socket's send and
# wait; with recverr it hears the soft errors too (IPV6_RECVERR: without
# it, Linux reports to a UDP socket only ICMPv6's hard errors, port
# unreachable and the prohibitions, RFC 1122 4.1.3.3)
udp6_outcome() {
	vm $PY - "$1" "$2" "${3:-}" <<'EOF2'
import errno, socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
if sys.argv[3]:
    s.setsockopt(socket.IPPROTO_IPV6, 25, 1)  # IPV6_RECVERR
s.connect((sys.argv[1], int(sys.argv[2])))
s.settimeout(3)
t0 = time.monotonic()
try:
    s.send(b"anyone?")
    s.recv(100)
    print("ok")
except OSError as e:
    print("%s %d" % (errno.errorcode.get(e.errno, "timeout"), (time.monotonic() - t0) * 1000))
EOF2
}
read -r what ms < <(udp6_outcome $SRV6 9)
check "UDP to a closed port on the far side: $what in ${ms:-?} ms" \
	test "$what" = ECONNREFUSED -a "${ms:-9999}" -lt 1000
read -r what ms < <(udp6_outcome $CONS6_LAN 7)
# ICMPv6's "administratively prohibited" is EACCES to a socket (RFC 4443
# 3.1; IPv4's is EHOSTUNREACH)
check "UDP to a destination the policy refuses: $what in ${ms:-?} ms" \
	test "$what" = EACCES -a "${ms:-9999}" -lt 1000

# the VM's link reaches the router and nothing else of the capture
# namespace's: a UDP service there on [::] is out of reach over link-local
ip netns exec "$NS_CAP" $PY "$OM_SRCDIR/tests/integration/servers.py" udpecho --port 7 \
	--bind :: >/dev/null 2>&1 &
capecho=$!
OM_PIDS+=($capecho)
check "the VM pings the router's link-local address" \
	bash -c "ip netns exec $NS_VM ping -6 -n -c 1 -W 2 fe80::2%eth0 | grep -q ' 1 received'"
out=$(vm $PY "$OM_SRCDIR/tests/integration/servers.py" ask --udp --host fe80::2%eth0 --port 7 \
	--data x --timeout 2 2>/dev/null)
check "but a UDP socket of the capture namespace's on [::] is out of its reach ($out)" \
	test "$out" = timeout
kill $capecho 2>/dev/null

# a source outside the network's prefix (here the VM's link-local address)
# opens no flow: what we answered would go to someone else
before=$(json_eval ctl_p "r['networks'][0]['capture']['packets_misaddressed']" status)
vm $PY - $SRV6 <<'EOF2'
import socket, sys
ll = [l.split()[0] for l in open("/proc/net/if_inet6") if l.split()[5] == "eth0" and l.startswith("fe80")][0]
ll = ":".join(ll[i:i + 4] for i in range(0, 32, 4))
idx = socket.if_nametoindex("eth0")
for port in (8080, 7):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM if port == 8080 else socket.SOCK_DGRAM)
    s.bind((ll, 0, 0, idx))
    s.settimeout(1)
    try:
        s.connect((sys.argv[1], port))
        s.send(b"x")
        s.recv(10)
    except OSError:
        pass
EOF2
check "a SYN from a link-local source is dropped and counted (packets_misaddressed was $before)" \
	json_is ctl_p "r['networks'][0]['capture']['packets_misaddressed'] > $before" True status
check "and made no flow to the consumer" bash -c "! grep -q 'fe80::.*-> \[$SRV6\]' '$OM_T/consumer.log'"

# 5. port forwards: an IPv6 client reaches the VM over IPv6, as itself
om_bg "$NS_VM" whoami6 $PY "$OM_SRCDIR/tests/integration/servers.py" whoami --port 8000 --bind ::
om_bg "$NS_VM" whoami4 $PY "$OM_SRCDIR/tests/integration/servers.py" whoami --port 8001
om_wait 10 vm $PY "$OM_SRCDIR/tests/integration/servers.py" probe --tcp "[::1]:8000"
ctl_c forward add tcp 8080 8000 >/dev/null
ctl_c forward add udp 9000 8000 >/dev/null
ctl_c forward add tcp 8081 8001 >/dev/null
ask_from_rtr() {  # HOST PORT [--udp]
	ip netns exec "$NS_RTR" $PY "$OM_SRCDIR/tests/integration/servers.py" ask --host "$1" \
		--port "$2" ${3:-} --data hi 2>/dev/null | head -1
}
out=$(ask_from_rtr $CONS6_LAN 8080)
check "TCP forward: an IPv6 client is seen by the VM as itself ($out)" \
	grep -q "^you are $RTR6_LAN:" <<<"$out"
out=$(ask_from_rtr $CONS6_LAN 9000 --udp)
check "UDP forward: likewise ($out)" grep -q "^you are $RTR6_LAN:" <<<"$out"
out=$(ask_from_rtr $CONS_LAN 8080)
check "an IPv4 client still reaches the service as itself ($out)" \
	grep -qE "^you are (::ffff:)?$RTR_LAN:" <<<"$out"
out=$(ip netns exec "$NS_CONS" $PY "$OM_SRCDIR/tests/integration/servers.py" ask --host ::1 \
	--port 8080 --data hi 2>/dev/null | head -1)
check "a client on the consumer's loopback is seen from the gateway ($out)" \
	grep -q "^you are ${PREFIX6}2:" <<<"$out"
out=$(ask_from_rtr $CONS6_LAN 8081)
check "an IPv6 client reaches a service that listens on IPv4 alone, from the gateway ($out)" \
	grep -q "^you are 10.0.2.2:" <<<"$out"

# 6. a consumer without an IPv6 route: an immediate error, never a hang
ip -n "$NS_CONS" -6 route del default
t0=$(date +%s%N)
vm curl -6 -s -m 10 -o /dev/null "http://[$SRV6]:8080/hello"
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "without IPv6 on the consumer, the VM's connect fails in ${ms} ms (curl $rc)" \
	test "$rc" = 7 -a "$ms" -lt 2000
read -r what ms < <(udp6_outcome $SRV6 7 recverr)
check "and its connected UDP socket hears of it: $what in ${ms:-?} ms" \
	test "$what" = EHOSTUNREACH -a "${ms:-9999}" -lt 1000
vm ping -6 -n -c 1 -W 3 $SRV6 >"$OM_T/ping6.out" 2>&1
check "and its ping -6 an unreachable from the gateway" \
	grep -q "From ${PREFIX6}2 icmp_seq=1 Destination unreachable" "$OM_T/ping6.out"
ip -n "$NS_CONS" -6 route add default via $RTR6_LAN

# 7. and IPv4 is as it was
check "the VM still reaches the IPv4 server" \
	bash -c "ip netns exec $NS_VM curl -4 -sf -m 10 http://$SRV_ADDR:8080/hello | grep -q hello6"

# 8. ipv6 = no: the network is IPv4 only, and the VM's link has no IPv6 at
# all in the capture namespace (nothing there to reach over link-local)
kill -TERM $PROV_PID
om_wait_gone $PROV_PID 10 || fail "the provider stops"
echo "ipv6 = no" >"$OM_T/provider.conf"
OM_PROVIDER_CONF=$OM_T/provider.conf om_start_provider provider2 ||
	{ fail "the provider restarts with ipv6 = no"; exit 1; }
check "the network comes back, IPv4 only" \
	om_wait 15 json_is ctl_p "[n['ipv6'] for n in r['networks']]" "[None]" status
check "its interface has IPv6 off" \
	test "$(ip netns exec $NS_CAP sysctl -n net.ipv6.conf.tap0.disable_ipv6)" = 1
check "and its IPv6 rule drops all the VM sends" bash -c \
	"ip netns exec $NS_CAP nft list table ip6 omnetd | grep -q 'iifname \"tap0\" drop' &&
	 ! ip netns exec $NS_CAP nft list table ip6 omnetd | grep -q tproxy"
check "the VM's ping to fe80::2 goes unanswered" \
	bash -c "! ip netns exec $NS_VM ping -6 -n -c 1 -W 1 fe80::2%eth0 >/dev/null 2>&1"
check "IPv4 still carries" om_wait 15 bash -c \
	"ip netns exec $NS_VM curl -4 -sf -m 5 http://$SRV_ADDR:8080/hello | grep -q hello6"

exit $OM_FAILED
