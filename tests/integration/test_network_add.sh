#!/bin/bash
# test_network_add.sh: adding a provider network.  A namespace holds one
# network whatever name it is given ("NS", "/run/netns/NS", a bind mount of
# it): a second capture would replace the first one's nftables rules.  A
# re-add of a deleted network that fails leaves the network deleted: the
# consumer's late flows for it are still dropped and counted, not refused.
OM_TEST=network-add
. "$(dirname "$0")/lib.sh"
om_need_root
BIND=$OM_T/nsbind
trap 'umount "$BIND" 2>/dev/null; om_cleanup' EXIT
OTHER=fedcba9876543210fedcba9876543210

om_topology || { fail "topology"; exit 1; }
# before the daemons start: each runs in a mount namespace of its own
touch "$BIND"
mount --bind "/run/netns/$NS_CAP" "$BIND" || fail "bind mount of the namespace"
om_start_servers || { fail "stand-in servers start"; exit 1; }
om_start_daemons || { fail "daemons start and link up"; exit 1; }
om_vm_dhcp || { fail "DHCP"; exit 1; }
check "a connection works through the first network" \
	vm $PY "$OM_SRCDIR/tests/integration/servers.py" probe --tcp $SRV_ADDR:7
ip -n "$NS_CAP" link add tap1 type veth peer name tap1p
ip -n "$NS_CAP" link set tap1 up

# --- one namespace, three spellings
ctl_p peer add other --fingerprint sha256:$(printf '%064d' 5) >/dev/null
for spelling in "/run/netns/$NS_CAP" "$BIND" "$NS_CAP"; do
	out=$(ctl_p --json network add $OTHER --peer other --netns "$spelling" --iface tap1)
	check "the namespace as $spelling: refused, it holds a network ($out)" \
		grep -q '"code":"invalid_argument".*already holds a network' <<<"$out"
done
umount "$BIND"
check "the provider still has one network" test "$(json_eval ctl_p "len(r)" network list)" = 1
check "the first network's capture still works" \
	vm $PY "$OM_SRCDIR/tests/integration/servers.py" probe --tcp $SRV_ADDR:7
out=$(ctl_p --json network add $OTHER --peer other --netns "$(printf 'n%.0s' $(seq 300))" --iface tap1)
check "a namespace name longer than 255 bytes is refused, not cut ($out)" \
	grep -q '"code":"invalid_argument".*too long' <<<"$out"
out=$(ctl_p --json network add $OTHER --peer other --netns "$OM_T/provider.log" --iface tap1)
check "a file that is not a namespace is refused ($out)" \
	grep -q '"code":"invalid_argument".*not a network namespace' <<<"$out"
mkfifo "$OM_T/fifo"
t0=$(date +%s%N)
out=$(ctl_p --json --timeout-ms 5000 network add $OTHER --peer other --netns "$OM_T/fifo" --iface tap1)
t1=$(date +%s%N)
check "a FIFO is refused at once, not waited on ($out, $(( (t1 - t0) / 1000000 )) ms)" \
	sh -c "echo '$out' | grep -q '\"code\":\"invalid_argument\".*not a network namespace' &&
	       [ $(( (t1 - t0) / 1000000 )) -lt 1000 ]"

# --- a failed re-add keeps the network deleted
ctl_p network delete $NETID >/dev/null
out=$(ctl_p --json network add $NETID --peer consumer --netns om-no-such-ns --iface tap0)
check "re-add in a namespace that does not exist fails ($out)" \
	grep -q '"ok":false.*cannot open' <<<"$out"
out=$(ctl_p --json network add $NETID --peer consumer --netns "$NS_CAP" --iface nosuch0)
check "re-add on an interface that does not exist fails ($out)" \
	grep -q '"ok":false.*no interface nosuch0' <<<"$out"
ctl_c forward add tcp 8080 8000 >/dev/null || fail "forward add on the consumer"
ip netns exec "$NS_RTR" $PY "$OM_SRCDIR/tests/integration/servers.py" connect \
	--host $CONS_LAN --port 8080 --timeout 2 >/dev/null
check "the consumer's flow for the deleted network is dropped and counted as such" \
	om_wait 5 test "$(json_eval ctl_p "r['counters']['dropped_deleted_network']" status)" -ge 1
check "not refused as a network never configured" \
	test "$(json_eval ctl_p "r['counters']['flows_unknown_network']" status)" = 0
check "a re-add that works: the network is back" \
	ctl_p network add $NETID --peer consumer --netns "$NS_CAP" --iface tap0
check "and captures again" \
	om_wait 10 vm $PY "$OM_SRCDIR/tests/integration/servers.py" probe --tcp $SRV_ADDR:7

# --- a root-run provider refuses --run: the command would run as the
# daemon's user, which owns the identity key and may use the control socket
out=$(ctl_p network add $OTHER --peer consumer --run --container -- true 2>&1)
check "root-run provider: --run is refused, with the reason ($out)" \
	grep -q "for a provider an ordinary user runs (rootless)" <<<"$out"
check "and nothing is left of it" test "$(json_eval ctl_p "len(r)" network list)" = 1
exit $OM_FAILED
