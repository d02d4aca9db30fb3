#!/bin/bash
# test_unpinned.sh: a provider whose key the consumer has not pinned cannot
# establish a link, and the consumer's log says why.
OM_TEST=unpinned
. "$(dirname "$0")/lib.sh"
om_need_root

om_topology || { fail "topology"; exit 1; }
om_start_daemons || { fail "daemons start and link up"; exit 1; }
mkdir -p "$OM_T/x"
xfp=$("$OMNETD" --show-identity -S "$OM_T/x")
om_bg "$NS_PROV" intruder "$OMNETD" --role provider -S "$OM_T/x" -s "$OM_T/x.sock" -l 0.0.0.0:6951 -v
om_wait 10 test -S "$OM_T/x.sock" || fail "the second provider starts"
"$OMNETCTL" -s "$OM_T/x.sock" peer add consumer --fingerprint "$CONS_FP" --endpoint $CONS_ADDR:6950 >/dev/null
check "the consumer refuses the unpinned key and logs it" \
	om_wait 10 grep -q "fingerprint $xfp not pinned" "$OM_T/consumer.log"
check "status counts refused handshakes" \
	test "$(json_eval ctl_c "r['counters']['handshakes_refused']" status)" -ge 1
check "the unpinned provider never gets connected" \
	sh -c "! $OMNETCTL -s $OM_T/x.sock --json status | grep -q '\"state\":\"connected\"'"
check "the pinned provider stays connected" peer_connected ctl_p consumer
check "the consumer has only the pinned peer connected" \
	test "$(json_eval ctl_c "[p['state'] for p in r['peers']]" status)" = "['connected']"
check "the unpinned provider keeps retrying, it does not give up" \
	om_wait 10 grep -q "handshake via $CONS_ADDR:6950 (session" "$OM_T/intruder.log"
exit $OM_FAILED
