#!/bin/sh
# netlink_selftest.sh: src/netlink.c against the real kernel, in a throwaway
# namespace holding a veth pair; every change is checked with ip(8).
#
# Needs root and ip(8).  NL_SELFTEST=/path/to/nl_selftest uses a prebuilt
# driver; otherwise tests/nl_selftest.c is compiled into a temporary
# directory.  Exit 0 when every check passes, 1 when any fails, 77 (skip)
# when it cannot run here.  Addresses: 10.0.2.0/24 and 192.0.2.0/24, the
# IPv6 address ::ffff:10.0.2.3, the IPv4-mapped form of one of them; the
# routes: 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NS=nltest-$$
TMP=$(mktemp -d "${TMPDIR:-/tmp}/nltest.XXXXXX") || exit 1
CHECKS=0
FAILS=0

cleanup() {
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

skip() {
	echo "SKIP: $*"
	exit 77
}

[ "$(id -u)" = 0 ] || skip "needs root"
command -v ip >/dev/null 2>&1 || skip "needs ip(8)"

DRIVER=${NL_SELFTEST:-}
if [ -z "$DRIVER" ]; then
	DRIVER=$TMP/nl_selftest
	${CC:-gcc} -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow \
		-Wstrict-prototypes -Wmissing-prototypes -D_GNU_SOURCE \
		-I"$ROOT/src" -I"$ROOT/src/core" -o "$DRIVER" "$ROOT/tests/nl_selftest.c" \
		"$ROOT/src/netlink.c" "$ROOT/src/osutil.c" "$ROOT/src/core/log.c" "$ROOT/src/core/util.c" ||
		{ echo "FAIL: cannot build nl_selftest"; exit 1; }
fi

# result DESC STATUS: count one check, print it, show the output on failure
result() {
	CHECKS=$((CHECKS + 1))
	if [ "$2" = 0 ]; then
		echo "ok   $1"
		return
	fi
	FAILS=$((FAILS + 1))
	echo "FAIL $1"
	sed 's/^/     | /' "$TMP/out"
}

# ok DESC CMD...: CMD succeeds
ok() {
	desc=$1
	shift
	"$@" >"$TMP/out" 2>&1
	result "$desc" $?
}

# refused DESC CMD...: CMD fails
refused() {
	desc=$1
	shift
	if "$@" >"$TMP/out" 2>&1; then
		result "$desc" 1
	else
		result "$desc" 0
	fi
}

# same DESC EXPECTED CMD...: CMD succeeds and prints exactly EXPECTED
same() {
	desc=$1
	want=$2
	shift 2
	if "$@" >"$TMP/out" 2>&1 && [ "$(cat "$TMP/out")" = "$want" ]; then
		result "$desc" 0
	else
		echo "(expected '$want')" >>"$TMP/out"
		result "$desc" 1
	fi
}

# lines N DESC REGEX CMD...: CMD's output (and errors) has N lines
# matching the extended REGEX
lines() {
	want=$1
	desc=$2
	pat=$3
	shift 3
	"$@" >"$TMP/out" 2>&1
	got=$(grep -cE -- "$pat" "$TMP/out")
	[ "$got" = "$want" ]
	result "$desc ($want x /$pat/)" $?
}

# nl ARGS...: the driver, inside the namespace
nl() {
	ip netns exec "$NS" "$DRIVER" "$@"
}

# ipn ARGS...: ip(8), inside the namespace
ipn() {
	ip -n "$NS" "$@"
}

# addrs_by_ip / addrs_by_nl: "IFNAME ADDR/PREFIXLEN" per address, sorted
addrs_by_ip() {
	ipn -o addr show | awk '{ sub(/@.*/, "", $2); print $2, $4 }' | sort
}

addrs_by_nl() {
	nl list | awk '{ print $1, $3 }' | sort
}

# list_matches_ip: nl list and ip agree; IPv6 link-locals appear a moment
# after a link comes up, so give the kernel a few tries to settle
list_matches_ip() {
	for _ in 1 2 3 4 5; do
		addrs_by_ip >"$TMP/by_ip"
		addrs_by_nl >"$TMP/by_nl" || return 1
		cmp -s "$TMP/by_ip" "$TMP/by_nl" && return 0
		sleep 1
	done
	diff "$TMP/by_ip" "$TMP/by_nl"
	return 1
}

# rule_del_twice FAM MARK MASK TABLE PREF: delete a rule, then again
rule_del_twice() {
	ok "IPv$1 delete rule pref $5" nl rule "$2" "$3" "$4" "$5" del "$1"
	ok "IPv$1 delete rule pref $5 again" nl rule "$2" "$3" "$4" "$5" del "$1"
	lines 0 "IPv$1 rule pref $5 is gone" "^$5:" ipn -"$1" rule show
}

# addr_del_twice IF ADDR PREFIXLEN: delete an address, then again
addr_del_twice() {
	ok "delete $2/$3 from $1" nl addr-del "$1" "$2" "$3"
	ok "delete $2/$3 from $1 again" nl addr-del "$1" "$2" "$3"
}

# many_addrs add|del: 10.0.2.10-10.0.2.249/32 on veth1 through ip -batch,
# enough that a dump needs several datagrams (the first is ~4 KiB)
many_addrs() {
	for i in $(seq 10 249); do
		echo "addr $1 10.0.2.$i/32 dev veth1"
	done | ipn -batch -
}

ip netns add "$NS" || { echo "FAIL: ip netns add $NS"; exit 1; }
ipn link add veth0 type veth peer name veth1 ||
	{ echo "FAIL: cannot create veth pair"; exit 1; }
HAVE6=0
[ "$(ip netns exec "$NS" cat /proc/sys/net/ipv6/conf/all/disable_ipv6 \
	2>/dev/null)" = 0 ] && HAVE6=1

echo "# links"
same "index of veth0 matches ip" \
	"$(ipn -o link show veth0 | cut -d: -f1)" nl index veth0
refused "index of a missing link fails" nl index nosuch0
if [ $HAVE6 = 1 ]; then
	# lo is still down: the kernel refuses an IPv6 route through it,
	# which shows an error reply reaching the caller as its errno
	lines 1 "kernel error reply becomes errno" \
		'^nl_selftest: route-local: Network is down$' \
		nl route-local 100 add 6
fi
for dev in lo veth0 veth1; do
	ok "set $dev up" nl up "$dev"
	lines 1 "$dev is up" '<([^>]*,)?UP[,>]' ipn -o link show "$dev"
done
ok "set veth0 up again" nl up veth0
refused "set a missing link up fails" nl up nosuch0
same "mtu of veth0" 1500 nl mtu veth0
ipn link set veth0 mtu 1400
same "mtu of veth0 after ip sets 1400" 1400 nl mtu veth0
refused "mtu of a missing link fails" nl mtu nosuch0

echo "# addresses"
ok "add 10.0.2.2/24 to veth0" nl addr-add veth0 10.0.2.2 24
ok "add 10.0.2.2/24 to veth0 again" nl addr-add veth0 10.0.2.2 24
lines 1 "veth0 has 10.0.2.2/24 once" 'inet 10\.0\.2\.2/24 ' \
	ipn -o -4 addr show dev veth0
ok "add 192.0.2.1/24 to veth1" nl addr-add veth1 192.0.2.1 24
lines 1 "veth1 has 192.0.2.1/24" 'inet 192\.0\.2\.1/24 ' \
	ipn -o -4 addr show dev veth1
refused "add to a missing link fails" nl addr-add nosuch0 10.0.2.9 24
refused "prefix length 33 fails" nl addr-add veth0 10.0.2.9 33
if [ $HAVE6 = 1 ]; then
	ok "add ::ffff:10.0.2.3/128 to veth0" \
		nl addr-add veth0 ::ffff:10.0.2.3 128
	ok "add ::ffff:10.0.2.3/128 to veth0 again" \
		nl addr-add veth0 ::ffff:10.0.2.3 128
	lines 1 "veth0 has ::ffff:10.0.2.3/128 once" \
		'inet6 ::ffff:10\.0\.2\.3/128 ' ipn -o -6 addr show dev veth0
fi

echo "# list"
idx0=$(ipn -o link show veth0 | cut -d: -f1)
idx1=$(ipn -o link show veth1 | cut -d: -f1)
lines 1 "list shows 10.0.2.2/24 on veth0" "^veth0 $idx0 10\.0\.2\.2/24\$" nl list
lines 1 "list shows 192.0.2.1/24 on veth1" "^veth1 $idx1 192\.0\.2\.1/24\$" nl list
lines 1 "list shows 127.0.0.1/8 on lo" '^lo 1 127\.0\.0\.1/8$' nl list
if [ $HAVE6 = 1 ]; then
	lines 1 "list shows ::ffff:10.0.2.3/128 on veth0" \
		"^veth0 $idx0 ::ffff:10\.0\.2\.3/128\$" nl list
fi
ok "list equals ip addr show" list_matches_ip
ok "add 240 more addresses with ip" many_addrs add
lines 240 "list shows all 240 (a multi-datagram dump)" \
	"^veth1 $idx1 10\.0\.2\.[0-9]+/32\$" nl list
ok "list still equals ip addr show" list_matches_ip
ok "remove the 240 addresses with ip" many_addrs del

echo "# route dump"
ipn route add 198.51.100.0/25 via 10.0.2.1 dev veth0 metric 7
ipn route add 198.51.100.128/25 nexthop via 10.0.2.1 dev veth0 nexthop via 192.0.2.2 dev veth1
ipn route add unreachable 203.0.113.0/25
ipn route add blackhole 203.0.113.128/26 table 300
ipn route add prohibit 203.0.113.192/26
ipn route add throw 203.0.113.224/27 table 300
lines 1 "a route via a gateway, with its metric" \
	'^main unicast 198\.51\.100\.0/25 via 10\.0\.2\.1 dev veth0 metric 7 nexthops 1$' nl routes 1000
lines 1 "a multipath route: its first nexthop, and how many" \
	'^main unicast 198\.51\.100\.128/25 via 10\.0\.2\.1 dev veth0 metric 0 nexthops 2$' \
	nl routes 1000
lines 1 "an unreachable route" '^main unreachable 203\.0\.113\.0/25 metric 0 nexthops 0$' \
	nl routes 1000
lines 1 "a blackhole route in another table" '^300 blackhole 203\.0\.113\.128/26 ' nl routes 1000
lines 1 "a prohibit route" '^main prohibit 203\.0\.113\.192/26 ' nl routes 1000
lines 1 "an attached network" '^main unicast 10\.0\.2\.0/24 dev veth0 ' nl routes 1000
lines 0 "no throw route" '203\.0\.113\.224' nl routes 1000
lines 0 "nothing of table local (the host's own addresses)" '^255 ' nl routes 1000
if [ $HAVE6 = 1 ]; then
	ipn -6 route add 2001:db8:5::/48 dev veth0 metric 9
	lines 1 "an IPv6 route" '^main unicast 2001:db8:5::/48 dev veth0 metric 9 nexthops 1$' \
		nl routes 1000
fi
lines 1 "more routes than asked for: EOVERFLOW" \
	'^nl_selftest: routes: Value too large for defined data type$' nl routes 3
for i in $(seq 0 239); do
	echo "route add 198.51.100.$i/32 dev veth1 table 400"
done | ipn -batch -
lines 240 "240 more routes in table 400 (a multi-datagram dump)" \
	'^400 unicast 198\.51\.100\.[0-9]+/32 dev veth1 ' nl routes 100000
ipn route flush table 400

echo "# change events"
# watch_for CHANGE...: a watcher hears the change within a second
watch_for() {
	nl watch 3000 >"$TMP/watch" 2>&1 &
	wpid=$!
	for _ in $(seq 100); do
		grep -q ready "$TMP/watch" && break
		sleep 0.01
	done
	t0=$(date +%s%N)
	"$@"
	wait $wpid
	rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	cp "$TMP/watch" "$TMP/out"
	[ $rc = 0 ] && grep -q '^events [1-9]' "$TMP/watch" && [ $ms -lt 1000 ]
	result "the change '$*' is heard in under a second ($ms ms)" $?
}
# quiet_watch: a watcher with nothing changing times out; the kernel may
# still be finishing IPv6 duplicate address detection, so a few tries
quiet_watch() {
	for _ in 1 2 3 4 5; do
		out=$(nl watch 300 2>&1) && continue
		case $out in
		*"timed out"*) return 0 ;;
		*) echo "$out"; return 1 ;;
		esac
	done
	return 1
}
ok "no change, no event: the watcher times out" quiet_watch
watch_for ipn route add 203.0.113.0/26 via 10.0.2.1 dev veth0
watch_for ipn route del 203.0.113.0/26 via 10.0.2.1 dev veth0
watch_for ipn addr add 192.0.2.77/32 dev veth1
watch_for ipn addr del 192.0.2.77/32 dev veth1
watch_for ipn link set veth1 down
watch_for ipn link set veth1 up
if [ $HAVE6 = 1 ]; then
	watch_for ipn -6 route add 2001:db8:6::/48 dev veth0
fi

echo "# local routes"
for fam in 4 6; do
	[ $fam = 6 ] && [ $HAVE6 = 0 ] && continue
	for table in 100 300; do
		ok "IPv$fam local default in table $table" \
			nl route-local $table add $fam
		ok "IPv$fam local default in table $table again" \
			nl route-local $table add $fam
		lines 1 "IPv$fam table $table has it once" \
			'^local default dev lo( |$)' \
			ipn -$fam route show table $table
	done
	ok "IPv$fam delete from table 100" nl route-local 100 del $fam
	ok "IPv$fam delete from table 100 again" nl route-local 100 del $fam
	lines 0 "IPv$fam table 100 no longer has it" '^local default' \
		ipn -$fam route show table 100
	lines 1 "IPv$fam table 300 still has it" '^local default dev lo( |$)' \
		ipn -$fam route show table 300
	ok "IPv$fam delete from table 300" nl route-local 300 del $fam
	lines 0 "IPv$fam table 300 no longer has it" '^local default' \
		ipn -$fam route show table 300
done
refused "table 0 is refused" nl route-local 0 add 4

echo "# rules"
for fam in 4 6; do
	[ $fam = 6 ] && [ $HAVE6 = 0 ] && continue
	ok "IPv$fam rule fwmark 1/1 lookup 100 pref 1000" \
		nl rule 1 1 100 1000 add $fam
	ok "IPv$fam same rule again" nl rule 1 1 100 1000 add $fam
	lines 1 "IPv$fam rule is there once" \
		'^1000:[[:space:]]+from all fwmark 0x1/0x1 lookup 100' \
		ipn -$fam rule show
	lines 1 "IPv$fam no duplicate at pref 1000" '^1000:' ipn -$fam rule show
	ok "IPv$fam rule fwmark 0x10/0xff lookup 300 pref 1001" \
		nl rule 0x10 0xff 300 1001 add $fam
	lines 1 "IPv$fam rule with table 300 is there" \
		'^1001:[[:space:]]+from all fwmark 0x10/0xff lookup 300' \
		ipn -$fam rule show
	rule_del_twice $fam 1 1 100 1000
	rule_del_twice $fam 0x10 0xff 300 1001
done
refused "rule with table 0 is refused" nl rule 1 1 0 1000 add 4

echo "# address removal"
addr_del_twice veth0 10.0.2.2 24
addr_del_twice veth1 192.0.2.1 24
lines 0 "veth0 has no 10.0.2.2" '10\.0\.2\.2/' ipn -o addr show dev veth0
lines 0 "veth1 has no 192.0.2.1" '192\.0\.2\.1/' ipn -o addr show dev veth1
if [ $HAVE6 = 1 ]; then
	addr_del_twice veth0 ::ffff:10.0.2.3 128
	lines 0 "veth0 has no ::ffff:10.0.2.3" '::ffff:10\.0\.2\.3/' \
		ipn -o addr show dev veth0
fi
refused "delete from a missing link fails" nl addr-del nosuch0 10.0.2.2 24
lines 0 "list no longer shows the deleted addresses" \
	'(10\.0\.2\.[23]|192\.0\.2\.1)/' nl list
ok "list still equals ip addr show" list_matches_ip

[ $HAVE6 = 1 ] || echo "# IPv6 is disabled here: IPv6 checks skipped"
echo "# $CHECKS checks, $FAILS failed"
[ "$FAILS" = 0 ]
