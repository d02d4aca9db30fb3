#!/bin/bash
# test_fair_networks: two VMs (networks) of one consumer on one link.  One
# opens connections without end, then downloads on eight connections at
# once; the other keeps opening connections and downloads byte-exact at
# its usual rate, then at a fair share of the link (issue 13, finding 7).
#
#   vm  ── cap  ┐                                    ┌── rtr ── srv
#   vm2 ── cap2 ┴ prov ══ link (200 Mbit/s, 2 ms) ══ cons
# The link is the bottleneck, so the shares are the link's.
set -u
OM_TEST=fair-networks
. "$(dirname "$0")/lib.sh"
om_need_root

NETID2=fedcba9876543210fedcba9876543210
NS_VM2=om$OM_ID-vm2
NS_CAP2=om$OM_ID-cap2
NET_MAX=300
SERVERS="$OM_SRCDIR/tests/integration/servers.py"
vm2() { ip netns exec "$NS_VM2" "$@"; }

om_topology --rate-mbit 200 --delay-ms 2 --limit-pkts 2000 --seed 3 || { fail "topology"; exit 1; }
om_ns "$NS_VM2" && om_ns "$NS_CAP2" && om_veth "$NS_VM2" eth0 "$NS_CAP2" tap0 ||
	{ fail "second VM"; exit 1; }
om_start_servers || { fail "servers"; exit 1; }
om_bg "$NS_SRV" hold $PY "$SERVERS" hold --port 9200
dd if=/dev/urandom of="$OM_T/www/big" bs=1M count=48 status=none
want=$(sha256sum <"$OM_T/www/big" | cut -d' ' -f1)

# a network may hold NET_MAX flows: the flood reaches it in seconds
echo "network-max-flows = $NET_MAX" >"$OM_T/provider.conf"
OM_PROVIDER_CONF=$OM_T/provider.conf
om_consumer_conf <<EOF
network-max-flows = $NET_MAX
EOF
om_start_daemons || { fail "daemons"; exit 1; }
ctl_c network add $NETID2 --peer provider >/dev/null &&
	ctl_p network add $NETID2 --peer consumer --netns "$NS_CAP2" --iface tap0 >/dev/null ||
	{ fail "second network"; exit 1; }
om_vm_dhcp "$NS_VM" vm && om_vm_dhcp "$NS_VM2" vm2 || { fail "DHCP"; exit 1; }
om_wait 10 vm $PY "$SERVERS" probe --tcp $SRV_ADDR:9200 || { fail "VM reaches the server"; exit 1; }

# download NS TAG: the big file; prints "sha256 bytes_per_second"
download() {
	ip netns exec "$1" curl -s --max-time 120 -o "$OM_T/$2.out" -w '%{speed_download}\n' \
		"http://$SRV_ADDR:8080/big" >"$OM_T/$2.speed" || { echo "failed 0"; return; }
	echo "$(sha256sum <"$OM_T/$2.out" | cut -d' ' -f1) $(cut -d. -f1 <"$OM_T/$2.speed")"
}

# the VM's usual rate: the better of two downloads on a quiet link
best=0
for i in 1 2; do
	read -r sum rate < <(download "$NS_VM" alone)
	[ "$sum" = "$want" ] || { fail "baseline download byte-exact"; exit 1; }
	[ "$rate" -gt "$best" ] && best=$rate
done
log "alone: $((best / 1000000)) MB/s"

# phase 1: the second VM opens connections without end and keeps them
om_bg "$NS_VM2" flood $PY "$SERVERS" flood-clients --host $SRV_ADDR --port 9200 \
	--stats "$OM_T/flood.stats" --seconds 120 --max 200000
flood_pid=$OM_LASTPID
flood_refused() { read -r _ up _ refused _ < "$OM_T/flood.stats" && [ "$up" -ge $NET_MAX ] && [ "$refused" -ge 100 ]; }
check "the flooding VM reaches its network's flow limit and is refused past it" \
	om_wait 60 flood_refused
log "flood: $(cat "$OM_T/flood.stats")"
net2_refused=$(json_eval ctl_p "[n for n in r['networks'] if n['id']=='$NETID2'][0]['capture']['syns_refused_limit']" status)
check "status counts the refused connections of that network ($net2_refused)" \
	test "$net2_refused" -gt 0
read -r sum rate < <(download "$NS_VM" flood)
log "during the flood: $((rate / 1000000)) MB/s"
check "the other VM downloads byte-exact during the flood" test "$sum" = "$want"
check "... at its usual rate (at least half: $rate of $best bytes/s)" \
	test $((rate * 2)) -ge "$best"
echo_out=$(vm $PY "$SERVERS" echo-clients --host $SRV_ADDR --port 7 --count 50 --bytes 4096 2>&1)
check "the other VM still opens new connections (${echo_out##*$'\n'})" \
	grep -q "50/50 byte-exact" <<<"$echo_out"
kill "$flood_pid" 2>/dev/null
om_wait_gone "$flood_pid" 10

# phase 2: the second VM downloads on eight connections at once
hog_pids=()
for i in 1 2 3 4 5 6 7 8; do
	ip netns exec "$NS_VM2" sh -c "for n in 1 2 3 4 5 6 7 8 9 10; do
		curl -s --max-time 120 -o /dev/null http://$SRV_ADDR:8080/big || exit 1; done" \
		>/dev/null 2>&1 &
	hog_pids+=($!)
	OM_PIDS+=($!)
done
hog_busy() { [ "$(json_eval ctl_p "[n for n in r['networks'] if n['id']=='$NETID2'][0]['flows']" status)" -ge 8 ]; }
om_wait 20 hog_busy || log "the eight downloads were slow to start"
read -r sum rate < <(download "$NS_VM" shared)
log "sharing with eight downloads: $((rate / 1000000)) MB/s"
check "the other VM downloads byte-exact beside eight downloads" test "$sum" = "$want"
check "... at a fair share of the link (at least a quarter of its usual rate: $rate of $best)" \
	test $((rate * 4)) -ge "$best"
for pid in "${hog_pids[@]}"; do kill "$pid" 2>/dev/null; done
check "the provider is still running" kill -0 "$PROV_PID"
check "the consumer is still running" kill -0 "$CONS_PID"
