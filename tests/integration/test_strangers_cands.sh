#!/bin/bash
# test_strangers_cands.sh: what a peer announces as its addresses is not
# taken on trust (issue 13, finding 5, and RFC 9000 section 8).  Provider
# and consumer sit behind NATs and meet through a relay (the link ends up
# hole-punched, as in test_paths_punch).  The provider has more addresses
# than its LAN one, and announces all of them:
#   192.0.2.70   inside the consumer's own LAN (192.0.2.64/26): the consumer
#                must not send there, counts the candidate as filtered and
#                says so in its log, naming the peer;
#   192.0.2.71   inside it too, but the consumer's candidate-allow names
#                it: the consumer tries it;
#   203.0.113.99 reachable from nowhere: an address that never answers and
#                never sent anything.  What the consumer sends there stays
#                within the small allowance of an announced address (a
#                couple of ClientHellos, then unpadded challenges, 4096
#                bytes in all), though it keeps trying to upgrade twice a
#                second.
OM_TEST=strangers-cands
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/paths.sh"
om_need_root
ALLOWANCE=4096

om_paths_topology eim eim || { fail "topology"; exit 1; }
om_start_servers || { fail "stand-in servers start"; exit 1; }
# on its loopback interface (this kernel has no dummy devices): the
# provider announces every address of its own but 127/8 and link-local
for a in 192.0.2.70 192.0.2.71 203.0.113.99; do
	ip -n "$NS_PROV" addr add $a/32 dev lo || { fail "the provider's extra addresses"; exit 1; }
done
# the consumer counts what it sends to each of them
ip netns exec "$NS_CONS" nft -f - <<EOF
table inet omtest {
	chain tally {
		type filter hook output priority 0; policy accept;
		ip daddr 192.0.2.70 udp dport 6950 counter comment "lan"
		ip daddr 192.0.2.71 udp dport 6950 counter comment "allowed"
		ip daddr 203.0.113.99 udp dport 6950 counter comment "nowhere"
		ip saddr 203.0.113.99 counter comment "from-nowhere"
	}
}
EOF
tally() {  # NAME packets|bytes
	ip netns exec "$NS_CONS" nft list chain inet omtest tally |
		sed -n "s/.*counter packets \([0-9]*\) bytes \([0-9]*\) comment \"$1\".*/\1 \2/p" |
		awk -v f="$2" '{ print f == "packets" ? $1 : $2 }'
}
# upgrade rounds every 500 ms: the allowance, not the schedule, must bound it
om_consumer_conf <<EOF
probe-interval-max-ms = 500
candidate-allow = 192.0.2.71/32
EOF
om_paths_daemons 1 "" || { fail "daemons start"; exit 1; }
expect_method ctl_c provider hole-punched 30 "the consumer reaches the provider hole-punched"
t0=$(date +%s)

check "the candidate in the consumer's LAN is filtered and logged, naming the peer" \
	om_wait 15 grep -q "peer provider: candidate 192.0.2.70:6950 from .* dropped: a network this host is attached to" \
	"$OM_T/consumer.log"
check "status counts it" \
	test "$(json_eval ctl_c "r['counters'].get('candidates_filtered', 0)" status)" -ge 1
tried() { [ "$(tally "$1" packets)" -gt 0 ]; }
check "the allowed one is tried" om_wait 15 tried allowed

# the allowance: spent within a minute of rounds every 500 ms, then nothing
# more goes there, however long the rounds go on
settled() {  # tried, and no more for 2 s (four rounds)
	local n=$(tally nowhere packets)
	sleep 2
	[ "$n" -gt 10 ] && [ "$(tally nowhere packets)" = "$n" ]
}
check "what goes to the address that never answers stops" om_wait 90 settled
t1=$(date +%s)
np=$(tally nowhere packets) nb=$(tally nowhere bytes)
sleep 5  # an observation window: ten more rounds
check "nothing more goes to the address that never answers (stays $np datagrams for 5 s)" \
	test "$(tally nowhere packets)" = "$np"
lan=$(tally lan packets) nin=$(tally from-nowhere bytes)
payload=$(( nb - 28 * np ))  # UDP payload: what the allowance counts
log "in $((t1 - t0)) s: $np datagrams, $nb bytes ($payload bytes of UDP payload) to" \
	"203.0.113.99, ${nin:-0} bytes from it; $(tally allowed packets) datagrams to the allowed" \
	"address, $lan to the LAN one"
check "nothing went to the filtered address in the consumer's LAN ($lan datagrams)" test "$lan" = 0
check "the address that never answers was tried ($np datagrams)" test "$np" -gt 10
check "within the allowance of an announced address ($payload <= $ALLOWANCE bytes of payload)" \
	test "$payload" -le $ALLOWANCE
check "in datagrams too small to amplify: no padded probes (average $(( nb / np )) bytes)" \
	test $(( nb / np )) -lt 150
check "the consumer counts the sends it held back" \
	test "$(json_eval ctl_c "r['counters'].get('path_sends_limited', 0)" status)" -gt 0
check "the link stayed up, hole-punched" peer_is ctl_c provider connected hole-punched
check "the VM gets an address and reaches the server" vm_up
exit $OM_FAILED
