#!/bin/sh
# omnetctl_selftest.sh: omnetctl against a fake control socket
# (tests/fake_ctl_server.py), no daemon and no root needed.
#
# Checks, for every command: the exact request object sent, the exit status
# (0 ok, 1 daemon error or no daemon, 2 usage error without contacting the
# server), that --json prints the reply line as received, and that the
# output for people has the expected columns and values.  Also: socket
# selection (-s, $OMNETCTL_SOCKET), a missing socket, a silent server
# (timeout), a server that hangs up, malformed and odd replies.
#
# OMNETCTL=/path/to/omnetctl tests that binary; otherwise $OMNET_BUILD/omnetctl
# if built, else src/omnetctl.c is compiled into a temporary directory.
# Exit 0 when every check passes, 1 when any fails, 77 when it cannot run.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ctltest.XXXXXX") || exit 1
SOCK=$TMP/omnetd.sock
REPLIES=$TMP/replies
LOG=$TMP/requests.log
SRV_PID=
CHECKS=0
FAILS=0

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ -n "$SRV_PID" ]; then
		kill "$SRV_PID" 2>/dev/null
		wait "$SRV_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

skip() {
	echo "SKIP: $*"
	exit 77
}

command -v python3 >/dev/null 2>&1 || skip "needs python3"

OMNETCTL=${OMNETCTL:-}
BUILD=${OMNET_BUILD:-$ROOT/build}
if [ -z "$OMNETCTL" ] && [ -x "$BUILD/omnetctl" ]; then
	OMNETCTL=$BUILD/omnetctl
fi
if [ -z "$OMNETCTL" ]; then
	OMNETCTL=$TMP/omnetctl
	# shellcheck disable=SC2046
	${CC:-gcc} -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wshadow \
		-Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter \
		-D_GNU_SOURCE -I"$ROOT/src" -I"$ROOT/src/core" -o "$OMNETCTL" "$ROOT/src/omnetctl.c" \
		"$ROOT/src/osutil.c" "$ROOT/src/core/util.c" "$ROOT/src/core/log.c" "$ROOT/src/core/cmdschema.c" \
		$(pkg-config --cflags --libs jansson) ||
		{ echo "FAIL: cannot build omnetctl"; exit 1; }
fi

FP_SELF=sha256:ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100
FP_A=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
FP_B=sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
FP_A_UPPER=SHA256:0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
NETID=0123456789abcdef0123456789abcdef
NETID_UPPER=0123456789ABCDEF0123456789ABCDEF
NETID2=fedcba9876543210fedcba9876543210

pass() {
	CHECKS=$((CHECKS + 1))
	echo "PASS: $*"
}

fail() {
	CHECKS=$((CHECKS + 1))
	FAILS=$((FAILS + 1))
	echo "FAIL: $*"
	sed 's/^/    stdout: /' "$TMP/out" 2>/dev/null
	sed 's/^/    stderr: /' "$TMP/err" 2>/dev/null
}

# write_replies - the canned replies, a file per cmd; json.dumps' default
# separators put blanks in, so a reply printed as received differs from
# one parsed and printed again
write_replies() {
	python3 - "$REPLIES" "$FP_SELF" "$FP_A" "$FP_B" "$NETID" "$NETID2" <<'EOF'
import json, os, sys
path, fp_self, fp_a, fp_b, netid, netid2 = sys.argv[1:]
ok = lambda result: json.dumps({"ok": True, "result": result})
status = {
    "role": "consumer", "version": "0.1.0", "fingerprint": fp_self,
    "listen": "0.0.0.0:6950", "uptime_ms": 7500000,
    "peers": [
        {"name": "alice", "fingerprint": fp_a, "state": "connected",
         "method": "direct", "endpoint": "192.0.2.1:6950", "rtt_ms": 1.23,
         "state_ms": 3400, "next_retry_ms": None,
         "link": {"packets_sent": 1200, "packets_received": 1100,
                  "packets_lost": 3, "packets_retransmitted": 2,
                  "bytes_sent": 1572864, "bytes_received": 2048,
                  "cwnd_bytes": 65536, "pacing_rate_bps": 12500000,
                  "in_flight_bytes": 1024, "buffered_bytes": 0}},
        {"name": "bob", "fingerprint": fp_b, "state": "reconnecting",
         "method": None, "endpoint": None, "rtt_ms": None,
         "state_ms": 125000, "next_retry_ms": 4000,
         "last_error": "handshake timed out"},
        {"name": "carol", "fingerprint": fp_b, "state": "connected",
         "method": "relay", "endpoint": "198.51.100.11:6950", "relay": "r1",
         "path": "relay 198.51.100.11:6950 channel 1234abcd", "rtt_ms": 40.0,
         "state_ms": 61000, "next_retry_ms": 15000}],
    "networks": [{"id": netid, "peer": "alice", "state": "active", "flows": 4}],
    "flows": {"tcp": 3, "udp": 1},
    "counters": {"dropped_deleted_network": 0, "malformed_datagrams": 2},
    "memory": {"buffers_bytes": 1572864, "buffers_peak_bytes": 2097152,
               "limit_bytes": 67108864},
}
peers = [
    {"name": "alice", "fingerprint": fp_a,
     "endpoints": ["192.0.2.1:6950", "[2001:db8::1]:6950"], "relays": ["r1"],
     "state": "connected", "source": "config"},
    {"name": "bob", "fingerprint": fp_b, "endpoints": [], "relays": [],
     "state": "disconnected", "source": "runtime"}]
networks = [
    {"id": netid, "peer": "alice", "netns": "vm1", "iface": "tap0",
     "state": "active", "flows": 4, "lease": "10.0.2.15", "source": "config",
     "ipv6": {"prefix": "fd01:2345:6789::/64", "gateway": "fd01:2345:6789::2",
              "dns": "fd01:2345:6789::3", "lease": None}},
    {"id": netid2, "peer": "bob", "netns": None, "iface": None,
     "state": "peer-deleted", "flows": 0, "lease": None, "source": "runtime"}]
forwards = [
    {"network": netid, "proto": "tcp", "external_port": 8080, "vm_port": 80,
     "map": "upnp", "listening": True, "active": True,
     "mapping": {"protocol": "upnp", "external_address": "203.0.113.7",
                 "external_port": 8080, "lease_remaining_ms": 3000000,
                 "state": "mapped", "last_error": None}},
    {"network": netid, "proto": "udp", "external_port": 5353, "vm_port": 53,
     "map": "none", "listening": True, "mapping": None, "active": False},
    {"network": netid, "proto": "tcp", "external_port": 9000, "vm_port": 22,
     "map": "pcp", "listening": True, "active": True,
     "mapping": {"protocol": "pcp", "state": "failed",
                 "last_error": "router refused: NOT_AUTHORIZED"}}]
flows = [
    {"id": 1, "network": netid, "peer": "alice", "proto": "tcp",
     "vm": "10.0.2.15:43210", "remote": "198.51.100.1:443",
     "state": "established", "bytes_up": 1536, "bytes_down": 1572864,
     "age_ms": 65000},
    {"id": 2, "network": netid, "peer": "alice", "proto": "udp",
     "vm": "10.0.2.15:5353", "remote": "198.51.100.53:53", "state": "open",
     "bytes_up": 60, "bytes_down": 120, "age_ms": 850}]
policy_check = {
    "destination": "203.0.113.10:80", "proto": "tcp", "allowed": False,
    "decided_by": "route",
    "reason": "203.0.113.10:80 is behind the consumer's route '203.0.113.0/25 via "
              "203.0.113.253 dev lan1': the consumer's own network, not its default route",
    "range": "203.0.113.0/25", "rule": None,
    "route": {"text": "203.0.113.0/25 via 203.0.113.253 dev lan1",
              "prefix": "203.0.113.0/25", "type": "unicast", "via": "203.0.113.253",
              "dev": "lan1", "table": 254, "metric": 0, "nexthops": 1},
    "interface": None, "reported_by": None, "cloud": None, "port": 80,
    "port_rules_skipped": 0}
replies = {
    "status": ok(status),
    "policy.check": ok(policy_check),
    "reload": ok({"config": "/etc/omnetd/omnetd.conf"}),
    "identity": ok({"fingerprint": fp_self}),
    "peer.list": ok(peers),
    "network.list": ok(networks),
    "forward.list": ok(forwards),
    "flows": ok(flows),
}
for cmd in ("peer.add", "peer.remove", "network.add", "network.delete",
            "forward.add", "forward.remove", "connect", "disconnect"):
    replies[cmd] = ok({})
os.makedirs(path, exist_ok=True)
for cmd, line in replies.items():
    open(os.path.join(path, cmd), "w").write(line + "\n")
EOF
}

# set_reply CMD LINE - answer CMD with LINE from now on (the server reads
# the file for every request; rename it into place so it never sees half)
set_reply() {
	printf '%s\n' "$2" >"$REPLIES/.new" && mv "$REPLIES/.new" "$REPLIES/$1"
}

# reply_of CMD - the canned reply line for CMD
reply_of() {
	cat "$REPLIES/$1"
}

start_server() {
	: >"$LOG"
	python3 "$ROOT/tests/fake_ctl_server.py" "$SOCK" "$REPLIES" "$LOG" \
		2>"$TMP/server.err" &
	SRV_PID=$!
	i=0
	while [ ! -S "$SOCK" ] && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ -S "$SOCK" ] || { echo "FAIL: fake server did not start"; cat "$TMP/server.err"; exit 1; }
}

requests() {
	wc -l <"$LOG" | tr -d ' '
}

# ctl ARGS... - omnetctl -s SOCK ARGS; RC is its status, output in out/err
ctl() {
	"$OMNETCTL" -s "$SOCK" "$@" >"$TMP/out" 2>"$TMP/err"
	RC=$?
}

# req_case DESC WANT ARGS... - omnetctl ARGS exits 0 after sending exactly
# one request, equal to the JSON object WANT (no field more, none less).
# The comparison waits for compare_requests, one python3 for them all.
req_case() {
	desc=$1 want=$2
	shift 2
	n0=$(requests)
	ctl "$@"
	got=$(tail -n 1 "$LOG")
	if [ "$RC" != 0 ]; then
		fail "$desc: exit $RC, want 0"
	elif [ "$(requests)" != $((n0 + 1)) ]; then
		fail "$desc: server saw $(($(requests) - n0)) requests, want 1"
	else
		pass "$desc: exit 0, one request"
		printf '%s\n%s\n%s\n' "$desc" "$got" "$want" >>"$TMP/compare"
	fi
}

# compare_requests - each request req_case saw against the one wanted,
# as JSON objects
compare_requests() {
	python3 - "$TMP/compare" >"$TMP/compared" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
fails = 0
for i in range(0, len(lines) - 2, 3):
    desc, got, want = lines[i:i + 3]
    try:
        same = json.loads(got) == json.loads(want)
    except ValueError:
        same = False
    if same:
        print("PASS: request of %s" % desc)
    else:
        print("FAIL: request of %s: sent %s, want %s" % (desc, got, want))
        fails += 1
sys.exit(min(fails, 100))
EOF
	n=$?
	cat "$TMP/compared"
	CHECKS=$((CHECKS + $(wc -l <"$TMP/compared")))
	FAILS=$((FAILS + n))
}

# usage_case DESC ARGS... - omnetctl ARGS is a usage error: exit 2, one
# line on stderr ending in the pointer to --help, nothing sent
usage_case() {
	desc=$1
	shift
	n0=$(requests)
	ctl "$@"
	if [ "$RC" != 2 ]; then
		fail "usage error, $desc: exit $RC, want 2"
	elif [ "$(requests)" != "$n0" ]; then
		fail "usage error, $desc: the server was contacted"
	elif [ "$(wc -l <"$TMP/err" | tr -d ' ')" != 1 ] ||
		! grep -q '^omnetctl: .*see omnetctl --help$' "$TMP/err"; then
		fail "usage error, $desc: stderr is not one 'omnetctl: ...; see omnetctl --help' line"
	elif [ -s "$TMP/out" ]; then
		fail "usage error, $desc: printed on stdout"
	else
		pass "usage error, $desc"
	fi
}

# out_has DESC PATTERN... - every extended regex PATTERN matches a line of stdout
out_has() {
	desc=$1
	shift
	for re in "$@"; do
		if ! grep -Eq -- "$re" "$TMP/out"; then
			fail "$desc: no line of output matches /$re/"
			return
		fi
	done
	pass "$desc"
}

# out_is DESC TEXT - stdout is exactly TEXT (plus a final newline)
out_is() {
	printf '%s\n' "$2" >"$TMP/want"
	if cmp -s "$TMP/want" "$TMP/out"; then
		pass "$1"
	else
		fail "$1: output differs from the expected"
		sed 's/^/    want:   /' "$TMP/want"
	fi
}

# err_is DESC TEXT - stderr is exactly TEXT
err_is() {
	printf '%s\n' "$2" >"$TMP/want"
	if cmp -s "$TMP/want" "$TMP/err"; then
		pass "$1"
	else
		fail "$1: stderr differs from the expected"
		sed 's/^/    want:   /' "$TMP/want"
	fi
}

# check DESC CMD... - passes when CMD succeeds
check() {
	desc=$1
	shift
	if "$@"; then
		pass "$desc"
	else
		fail "$desc"
	fi
}

rc_is() {
	if [ "$RC" = "$2" ]; then
		pass "$1"
	else
		fail "$1: exit $RC, want $2"
	fi
}

write_replies
start_server

echo "== the fake server itself: a bad line gets bad_request, the connection lives on"
if python3 - "$SOCK" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b'not json\n{"cmd":"identity"}\n')
f = s.makefile("rb")
first, second = json.loads(f.readline()), json.loads(f.readline())
sys.exit(not (first["ok"] is False and first["error"]["code"] == "bad_request"
              and second["ok"] is True))
EOF
then pass "fake server: bad_request then a normal reply"; else fail "fake server protocol"; fi
: >"$LOG"

echo "== help and version"
ctl --help
rc_is "--help exits 0" 0
out_has "--help lists every command" '^usage: omnetctl ' '^  status$' '^  identity$' \
	'^  peer add NAME --fingerprint FP' '^  peer list$' '^  peer remove NAME$' \
	'^  network add ID --peer NAME' '^  network list$' '^  network delete ID$' \
	'^  forward add \[--network ID\] tcp\|udp EXTERNAL_PORT VM_PORT' '^  forward list$' \
	'^  forward remove \[--network ID\] tcp\|udp EXTERNAL_PORT$' '^  flows \[--network ID\]$' \
	'^  disconnect PEER$' '^  connect PEER$' '^  policy check ADDR\[:PORT\] \[--proto tcp\|udp\|icmp\]$' \
	'/omnetd\.sock'
ctl -h
rc_is "-h exits 0" 0
ctl peer add -h
rc_is "-h after a command still prints help" 0
check "help never contacts the server" [ "$(requests)" = 0 ]
ctl --version
rc_is "--version exits 0" 0
out_has "--version prints omnetctl VERSION" '^omnetctl [0-9A-Za-z.+~_-]+$'

echo "== the request of every command"
req_case "status" '{"cmd":"status"}' status
req_case "identity" '{"cmd":"identity"}' identity
req_case "peer add with endpoints and a relay" \
	"{\"cmd\":\"peer.add\",\"name\":\"alice\",\"fingerprint\":\"$FP_A\",\"endpoints\":[\"192.0.2.1:6950\",\"[2001:db8::1]:6950\"],\"relays\":[\"r1\"]}" \
	peer add alice --fingerprint "$FP_A" --endpoint 192.0.2.1:6950 --endpoint '[2001:db8::1]:6950' --relay r1
out_is "peer add confirms" "peer alice added"
req_case "peer add, option first, fingerprint folded, no endpoints, no relay" \
	"{\"cmd\":\"peer.add\",\"name\":\"bob\",\"fingerprint\":\"$FP_A\",\"endpoints\":[],\"relays\":[]}" \
	peer add --fingerprint "$FP_A_UPPER" bob
req_case "peer add with --opt=value" \
	"{\"cmd\":\"peer.add\",\"name\":\"carol.x_1-2\",\"fingerprint\":\"$FP_B\",\"endpoints\":[\"198.51.100.9:1\"],\"relays\":[]}" \
	peer add carol.x_1-2 --fingerprint="$FP_B" --endpoint=198.51.100.9:1
req_case "peer add, endpoints without a port: sent as given, omnetd supplies the port" \
	"{\"cmd\":\"peer.add\",\"name\":\"dave\",\"fingerprint\":\"$FP_A\",\"endpoints\":[\"192.0.2.1\",\"[2001:db8::1]\"],\"relays\":[]}" \
	peer add dave --fingerprint "$FP_A" --endpoint 192.0.2.1 --endpoint '[2001:db8::1]'
req_case "peer add, a bare IPv6 endpoint is all address (as in omnetd.conf)" \
	"{\"cmd\":\"peer.add\",\"name\":\"erin\",\"fingerprint\":\"$FP_A\",\"endpoints\":[\"2001:db8::1:6950\"],\"relays\":[]}" \
	peer add erin --fingerprint "$FP_A" --endpoint 2001:db8::1:6950
req_case "peer list" '{"cmd":"peer.list"}' peer list
req_case "peer remove" '{"cmd":"peer.remove","name":"alice"}' peer remove alice
out_is "peer remove confirms" "peer alice removed"
req_case "peer remove after --" '{"cmd":"peer.remove","name":"-odd"}' peer remove -- -odd
req_case "network add (consumer)" \
	"{\"cmd\":\"network.add\",\"id\":\"$NETID\",\"peer\":\"alice\"}" \
	network add "$NETID" --peer alice
out_is "network add confirms" "network $NETID added for peer alice"
req_case "network add (provider), ID folded" \
	"{\"cmd\":\"network.add\",\"id\":\"$NETID\",\"peer\":\"alice\",\"netns\":\"vm1\",\"iface\":\"tap0\"}" \
	network add --iface tap0 "$NETID_UPPER" --netns vm1 --peer alice
req_case "network add with a namespace path" \
	"{\"cmd\":\"network.add\",\"id\":\"$NETID\",\"peer\":\"alice\",\"netns\":\"/run/netns/vm1\",\"iface\":\"tap0\"}" \
	network add "$NETID" --peer alice --netns /run/netns/vm1 --iface tap0
req_case "network add --run: the words after -- are the command, whole" \
	"{\"cmd\":\"network.add\",\"id\":\"$NETID\",\"peer\":\"alice\",\"run\":[\"qemu\",\"-netdev\",\"tap,ifname=tap0\",\"--\",\"--peer\"]}" \
	network add "$NETID" --peer alice --run -- qemu -netdev tap,ifname=tap0 -- --peer
req_case "network add --run --container --keep, options after --run" \
	"{\"cmd\":\"network.add\",\"id\":\"$NETID\",\"peer\":\"alice\",\"run\":[\"sh\"],\"container\":true,\"keep\":true}" \
	network add "$NETID" --run --container --peer alice --keep -- sh
req_case "network list" '{"cmd":"network.list"}' network list
req_case "network delete" "{\"cmd\":\"network.delete\",\"id\":\"$NETID\"}" network delete "$NETID"
out_is "network delete confirms" "network $NETID deleted"
req_case "forward add, option after" \
	'{"cmd":"forward.add","proto":"tcp","external_port":8080,"vm_port":80,"map":"upnp"}' \
	forward add tcp 8080 80 --map upnp
out_is "forward add confirms" "forward tcp 8080 -> VM port 80 added (map upnp)"
req_case "forward add, --network first, map defaults to none" \
	"{\"cmd\":\"forward.add\",\"network\":\"$NETID\",\"proto\":\"udp\",\"external_port\":5353,\"vm_port\":53,\"map\":\"none\"}" \
	forward add --network "$NETID" udp 5353 53
req_case "forward add, keywords folded" \
	"{\"cmd\":\"forward.add\",\"network\":\"$NETID\",\"proto\":\"tcp\",\"external_port\":65535,\"vm_port\":1,\"map\":\"auto\"}" \
	forward add TCP 65535 1 --map=AUTO --network "$NETID_UPPER"
req_case "forward list" '{"cmd":"forward.list"}' forward list
req_case "forward remove" '{"cmd":"forward.remove","proto":"tcp","external_port":8080}' \
	forward remove tcp 8080
out_is "forward remove confirms" "forward tcp 8080 removed"
req_case "forward remove with --network" \
	"{\"cmd\":\"forward.remove\",\"network\":\"$NETID\",\"proto\":\"udp\",\"external_port\":5353}" \
	forward remove udp 5353 --network "$NETID"
req_case "flows" '{"cmd":"flows"}' flows
req_case "flows --network" "{\"cmd\":\"flows\",\"network\":\"$NETID\"}" flows --network "$NETID"
req_case "connect" '{"cmd":"connect","peer":"alice"}' connect alice
out_is "connect confirms" "peer alice: connecting"
req_case "disconnect" '{"cmd":"disconnect","peer":"alice"}' disconnect alice
out_is "disconnect confirms" "peer alice disconnected"
req_case "--json after the command" '{"cmd":"status"}' status --json
req_case "reload" '{"cmd":"reload"}' reload
out_is "reload confirms" "configuration reloaded"
req_case "policy check ADDR:PORT, proto defaults to tcp" \
	'{"cmd":"policy.check","destination":"203.0.113.10:80","proto":"tcp"}' \
	policy check 203.0.113.10:80
req_case "policy check ADDR --proto, folded" \
	'{"cmd":"policy.check","destination":"198.51.100.10","proto":"udp"}' \
	policy check --proto UDP 198.51.100.10
req_case "policy check --proto icmp (a VM's ping)" \
	'{"cmd":"policy.check","destination":"198.51.100.10","proto":"icmp"}' \
	policy check 198.51.100.10 --proto icmp
req_case "policy check a bare IPv6 address" \
	'{"cmd":"policy.check","destination":"2001:db8::1","proto":"tcp"}' policy check 2001:db8::1
req_case "policy check [IPV6]:PORT" \
	'{"cmd":"policy.check","destination":"[2001:db8::1]:443","proto":"tcp"}' \
	policy check '[2001:db8::1]:443'
req_case "policy check [IPV6]" \
	'{"cmd":"policy.check","destination":"[fd00:ec2::254]","proto":"tcp"}' \
	policy check '[fd00:ec2::254]'

echo "== the requests, field by field"
compare_requests

echo "== output for people"
ctl status
out_has "status: who the daemon is" '^role +consumer$' '^version +0\.1\.0$' \
	"^fingerprint +$FP_SELF\$" '^listen +0\.0\.0\.0:6950$' '^uptime +2h05m$'
out_has "status: peers table" \
	'^NAME +STATE +METHOD +PATH +RTT +IN-STATE +NEXT-RETRY$' \
	'^alice +connected +direct +192\.0\.2\.1:6950 +1\.2 ms +3\.4 s +-$' \
	'^bob +reconnecting +- +- +- +2m05s +4\.0 s$' '^bob: last error: handshake timed out$' \
	'^carol +connected +relay +via r1 +40 ms +1m01s +15\.0 s$'
out_has "status: link counters" '^PEER +PKTS-SENT +PKTS-RECV +LOST +RETRANS' \
	'^alice +1200 +1100 +3 +2 +1\.5 MiB +2\.0 KiB +64\.0 KiB +12\.5 Mbit/s +1\.0 KiB +0 B$'
out_has "status: networks table" '^ID +PEER +STATE +FLOWS$' "^$NETID +alice +active +4\$"
out_has "status: flows, counters, memory" '^flows +3 tcp, 1 udp$' \
	'^  dropped_deleted_network +0$' '^  malformed_datagrams +2$' \
	'^memory +1\.5 MiB of 64\.0 MiB \(peak 2\.0 MiB\)$'
if grep -q '[{}"]' "$TMP/out"; then fail "status: JSON in the output for people"; else pass "status: no JSON"; fi
if grep -q ' $' "$TMP/out"; then fail "status: trailing blanks"; else pass "status: no trailing blanks"; fi
ctl identity
out_is "identity prints the fingerprint alone" "$FP_SELF"
ctl peer list
out_has "peer list table" '^NAME +FINGERPRINT +ENDPOINTS +RELAYS +STATE +SOURCE$' \
	"^alice +$FP_A +192\\.0\\.2\\.1:6950,\\[2001:db8::1\\]:6950 +r1 +connected +config\$" \
	"^bob +$FP_B +- +- +disconnected +runtime\$"
ctl network list
out_has "network list table" '^ID +PEER +NETNS +IFACE +STATE +FLOWS +LEASE +IPV6 +SOURCE$' \
	"^$NETID +alice +vm1 +tap0 +active +4 +10\\.0\\.2\\.15 +fd01:2345:6789::/64 +config\$" \
	"^$NETID2 +bob +- +- +peer-deleted +0 +- +- +runtime\$"
ctl forward list
out_has "forward list table" \
	'^NETWORK +PROTO +PORT +VM-PORT +MAP +LISTENING +MAPPING +PUBLIC +LEASE +ACTIVE$' \
	"^$NETID +tcp +8080 +80 +upnp +yes +mapped \\(upnp\\) +203\\.0\\.113\\.7:8080 +50m00s +yes\$" \
	"^$NETID +udp +5353 +53 +none +yes +- +- +- +no\$" \
	'^tcp 9000: mapping error: router refused: NOT_AUTHORIZED$'
ctl flows
out_is "flows table, exactly" "$(printf '%s\n' \
	'PROTO  VM               REMOTE            STATE        UP       DOWN     AGE' \
	'tcp    10.0.2.15:43210  198.51.100.1:443  established  1.5 KiB  1.5 MiB  1m05s' \
	'udp    10.0.2.15:5353   198.51.100.53:53  open         60 B     120 B    850 ms')"

ctl policy check 203.0.113.10:80
out_is "policy check: the verdict, what decided and why" "$(printf '%s\n' \
	'203.0.113.10:80 tcp: denied' \
	'decided by  route 203.0.113.0/25 via 203.0.113.253 dev lan1' \
	"reason      203.0.113.10:80 is behind the consumer's route '203.0.113.0/25 via 203.0.113.253 dev lan1': the consumer's own network, not its default route")"
set_reply policy.check '{"ok":true,"result":{"destination":"198.51.100.7","proto":"tcp","allowed":false,"decided_by":"rule","reason":"198.51.100.7 denied by rule '"'"'deny 198.51.100.0/24'"'"' (omnetd.conf:12)","range":"198.51.100.0/24","rule":{"text":"deny 198.51.100.0/24","origin":"omnetd.conf:12"},"route":null,"interface":null,"reported_by":null,"cloud":null,"port":null,"port_rules_skipped":2}}'
ctl policy check 198.51.100.7
out_has "policy check: a rule, with its origin, and the rules naming ports it did not try" \
	'^198\.51\.100\.7 tcp: denied$' \
	"^decided by  rule 'deny 198\\.51\\.100\\.0/24' \\(omnetd\\.conf:12\\)\$" \
	'^note +2 rule\(s\) naming ports not tried: give a port$'
set_reply policy.check '{"ok":true,"result":{"destination":"198.51.100.77:443","proto":"tcp","allowed":false,"decided_by":"public_address","reason":"x","range":"198.51.100.77/32","rule":null,"route":null,"interface":null,"reported_by":"relay r1","cloud":null,"port":443,"port_rules_skipped":0}}'
ctl policy check 198.51.100.77:443
out_has "policy check: a public address and who reported it" \
	'^decided by  a public address of the consumer 198\.51\.100\.77/32 \(relay r1\)$'
write_replies

echo "== --json prints the reply line as received"
for c in status identity "peer list" "network list" "forward list" flows "policy check 203.0.113.10:80"; do
	# shellcheck disable=SC2086
	ctl --json $c
	reply_of "$(echo "$c" | cut -d' ' -f1-2 | tr ' ' .)" >"$TMP/want"
	if [ "$RC" = 0 ] && cmp -s "$TMP/want" "$TMP/out"; then
		pass "--json $c"
	else
		fail "--json $c: exit $RC or output is not the raw reply"
	fi
done
ctl --json peer remove alice
reply_of peer.remove >"$TMP/want"
check "--json peer remove" cmp -s "$TMP/want" "$TMP/out"

echo "== errors from the daemon"
ERR='{"ok": false, "error": {"code": "not_found", "message": "peer zed not found"}}'
set_reply connect "$ERR"
ctl connect zed
rc_is "daemon error exits 1" 1
err_is "daemon error message" "omnetctl: peer zed not found (not_found)"
check "daemon error: stdout empty" [ ! -s "$TMP/out" ]
ctl --json connect zed
rc_is "daemon error with --json exits 1" 1
out_is "daemon error with --json prints the raw reply" "$ERR"
set_reply reload '{"ok": false, "error": {"code": "config_invalid", "message": "/etc/omnetd/omnetd.conf:71: mtu: 12 is not in 576..65535"}}'
ctl reload
rc_is "a reload the daemon refused exits 1 (systemctl reload fails)" 1
err_is "and says where the file is wrong" \
	"omnetctl: /etc/omnetd/omnetd.conf:71: mtu: 12 is not in 576..65535 (config_invalid)"
set_reply connect '{"ok": false}'
ctl connect zed
err_is "error without details" "omnetctl: request failed (unknown)"
set_reply connect '{"ok": false, "error": "nope"}'
ctl connect zed
rc_is "error of the wrong type exits 1" 1
set_reply connect 'this is not json'
ctl connect zed
rc_is "malformed reply exits 1" 1
check "malformed reply reported" grep -q '^omnetctl: malformed reply from omnetd' "$TMP/err"
set_reply connect '{"result": {}}'
ctl connect zed
rc_is "reply without ok exits 1" 1
set_reply connect '[1, 2]'
ctl connect zed
rc_is "reply that is an array exits 1" 1
set_reply connect '@close'
ctl connect zed
rc_is "server hangs up: exit 1" 1
check "hang-up reported" grep -q 'closed the connection without a reply' "$TMP/err"
set_reply connect '@hang'
t0=$(date +%s)
ctl --timeout-ms 300 connect zed
t1=$(date +%s)
rc_is "silent server: exit 1" 1
check "timeout reported" grep -q "^omnetctl: no reply from $SOCK within 300 ms\$" "$TMP/err"
check "timeout is bounded (took $((t1 - t0)) s)" [ $((t1 - t0)) -le 3 ]
set_reply connect '{"ok": true, "result": null}'
rm "$REPLIES/flows"
ctl flows
rc_is "unknown_command from the daemon exits 1" 1
check "unknown_command reported" grep -q '(unknown_command)$' "$TMP/err"

echo "== odd replies do not crash the printing"
odd_case() {
	set_reply "$1" "$2"
	shift 2
	ctl "$@"
	if [ "$RC" = 0 ]; then pass "odd reply to $*"; else fail "odd reply to $*: exit $RC"; fi
}
odd_case status '{"ok": true, "result": {"role": 5, "peers": "x", "networks": [1, null, {"id": [], "flows": {}}], "flows": [], "counters": [], "memory": null, "uptime_ms": "soon"}}' status
odd_case status '{"ok": true, "result": {"peers": [7, {"name": {"a": 1}, "rtt_ms": -1, "state_ms": 1e300, "link": 3}, {"link": {"bytes_sent": "many", "pacing_rate_bps": null}}], "counters": {"x": [1, [2]], "y": {}}, "memory": {"buffers_bytes": 5}}}' status
odd_case status '{"ok": true, "result": null}' status
odd_case status '{"ok": true}' status
odd_case identity '{"ok": true, "result": "sha256:x"}' identity
odd_case peer.list '{"ok": true, "result": {"peers": [{"name": "w\u001b[31m"}]}}' peer list
if grep -q "$(printf '\033')" "$TMP/out"; then fail "control characters reach the terminal"; else pass "control characters replaced"; fi
odd_case peer.list '{"ok": true, "result": 42}' peer list
odd_case network.list '{"ok": true, "result": [{"lease": "10.0.2.15"}, {"lease": {"ip": "10.0.2.16"}}, "x"]}' network list
odd_case forward.list '{"ok": true, "result": [{"mapping": {"external_address": "2001:db8::7", "external_port": 80, "last_error": 5}}, {"mapping": []}]}' forward list
out_has "IPv6 public address bracketed" '\[2001:db8::7\]:80'
odd_case flows '{"ok": true, "result": [{"bytes_up": 1e20, "age_ms": 90000000}, {}]}' flows
out_has "huge values still print" 'EiB|PiB' '1d01h'

python3 - "$TMP/big" <<'EOF'
import json, sys
flows = [{"proto": "udp", "vm": "10.0.2.15:%d" % (1000 + i), "remote": "198.51.100.53:53",
          "state": "open", "bytes_up": i, "bytes_down": i, "age_ms": i} for i in range(3000)]
open(sys.argv[1], "w").write(json.dumps({"ok": True, "result": flows}) + "\n")
EOF
cp "$TMP/big" "$REPLIES/flows"
ctl flows
check "a 300 KB reply: exit 0" [ "$RC" = 0 ]
check "a 300 KB reply: 3000 flows and a header" [ "$(wc -l <"$TMP/out")" = 3001 ]
ctl --json flows
check "a 300 KB reply, --json, as received" cmp -s "$TMP/big" "$TMP/out"

echo "== usage errors are caught before the daemon"
usage_case "no command"
usage_case "unknown command" frobnicate
usage_case "group without subcommand" peer
usage_case "unknown subcommand" peer frob
usage_case "peer add without --fingerprint" peer add alice
usage_case "peer add without NAME" peer add --fingerprint "$FP_A"
usage_case "short fingerprint" peer add alice --fingerprint sha256:0123
usage_case "fingerprint without sha256:" peer add alice --fingerprint 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
usage_case "fingerprint with a non-hex digit" peer add alice --fingerprint sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg
check "fingerprint error says what is expected" \
	grep -q -- "--fingerprint 'sha256:.*': expected sha256: followed by 64 hex digits" "$TMP/err"
usage_case "--fingerprint without a value" peer add alice --fingerprint
usage_case "endpoint 0.0.0.0" peer add alice --fingerprint "$FP_A" --endpoint 0.0.0.0:6950
usage_case "endpoint [::]" peer add alice --fingerprint "$FP_A" --endpoint '[::]'
usage_case "endpoint with port 0" peer add alice --fingerprint "$FP_A" --endpoint 192.0.2.1:0
usage_case "IPv6 endpoint with too many groups" peer add alice --fingerprint "$FP_A" \
	--endpoint 2001:db8::1:2:3:4:5:6:7
usage_case "host name endpoint" peer add alice --fingerprint "$FP_A" --endpoint relay.example.net:6950
usage_case "bracketed IPv4 endpoint" peer add alice --fingerprint "$FP_A" --endpoint '[192.0.2.1]:6950'
usage_case "nine endpoints" peer add alice --fingerprint "$FP_A" --endpoint 192.0.2.1:1 \
	--endpoint 192.0.2.1:2 --endpoint 192.0.2.1:3 --endpoint 192.0.2.1:4 --endpoint 192.0.2.1:5 \
	--endpoint 192.0.2.1:6 --endpoint 192.0.2.1:7 --endpoint 192.0.2.1:8 --endpoint 192.0.2.1:9
usage_case "name with a blank" peer add 'al ice' --fingerprint "$FP_A"
usage_case "name with a slash" peer remove a/b
usage_case "64-character name" connect aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
usage_case "bad relay name" peer add alice --fingerprint "$FP_A" --relay 'r 1'
req_case "peer add with two relays" \
	"{\"cmd\":\"peer.add\",\"name\":\"alice\",\"fingerprint\":\"$FP_A\",\"endpoints\":[],\"relays\":[\"r1\",\"r2\"]}" \
	peer add alice --fingerprint "$FP_A" --relay r1 --relay r2
usage_case "five relays" peer add alice --fingerprint "$FP_A" --relay r1 --relay r2 \
	--relay r3 --relay r4 --relay r5
usage_case "extra argument" peer add alice bob --fingerprint "$FP_A"
usage_case "empty name" peer remove ''
usage_case "peer list with an argument" peer list extra
usage_case "peer remove without NAME" peer remove
usage_case "short network ID" network add 0123456789abcdef --peer alice
usage_case "33-digit network ID" network add "${NETID}0" --peer alice
usage_case "network ID with a non-hex digit" network delete 0123456789abcdef0123456789abcdeX
usage_case "network add without --peer" network add "$NETID"
usage_case "--netns without --iface" network add "$NETID" --peer alice --netns vm1
usage_case "--iface without --netns" network add "$NETID" --peer alice --iface tap0
check "--netns and --iface: the message names both" \
	grep -q -- "network add: --netns and --iface go together" "$TMP/err"
usage_case "--run without -- COMMAND" network add "$NETID" --peer alice --run
check "--run: the message says what it needs" \
	grep -q -- "network add: --run needs -- COMMAND \[ARG\]..." "$TMP/err"
usage_case "--run with nothing after --" network add "$NETID" --peer alice --run --
usage_case "--run given twice" network add "$NETID" --peer alice --run --run -- sh
usage_case "--container with a value" network add "$NETID" --peer alice --run --container=yes -- sh
usage_case "interface name with a quote" network add "$NETID" --peer alice --netns vm1 --iface 'ta"p'
usage_case "interface name too long" network add "$NETID" --peer alice --netns vm1 --iface abcdefghijklmnop
usage_case "forward add without VM_PORT" forward add tcp 8080
usage_case "proto sctp" forward add sctp 8080 80
usage_case "port 0" forward add tcp 0 80
check "port error names the argument" \
	grep -q "EXTERNAL_PORT '0': expected a port number 1..65535" "$TMP/err"
usage_case "port 65536" forward add tcp 8080 65536
usage_case "port not a number" forward add tcp http 80
usage_case "port with a sign" forward add tcp +80 80
usage_case "unknown map" forward add tcp 8080 80 --map magic
usage_case "unknown option" forward add tcp 8080 80 --bogus
usage_case "bad --network" forward add --network 1234 tcp 8080 80
usage_case "forward remove without port" forward remove tcp
usage_case "forward remove with VM_PORT" forward remove tcp 8080 80
usage_case "flows with a bad --network" flows --network nothex
usage_case "flows with an argument" flows now
usage_case "connect without PEER" connect
usage_case "disconnect two peers" disconnect alice bob
usage_case "--timeout-ms 0" --timeout-ms 0 status
usage_case "empty -s" -s '' status
usage_case "unknown global option" --frob status
usage_case "policy check without a destination" policy check
usage_case "policy check of a name" policy check example.org:80
usage_case "policy check with port 0" policy check 198.51.100.7:0
usage_case "policy check with an unbracketed IPv6 port" policy check 2001:db8::1:443x
usage_case "policy check --proto sctp" policy check 198.51.100.7 --proto sctp
usage_case "policy check of two destinations" policy check 198.51.100.7 198.51.100.8

echo "== which socket"
OMNETCTL_SOCKET=$SOCK "$OMNETCTL" identity >"$TMP/out" 2>"$TMP/err"
RC=$?
rc_is "\$OMNETCTL_SOCKET is used without -s" 0
OMNETCTL_SOCKET=$TMP/nowhere.sock "$OMNETCTL" -s "$SOCK" identity >"$TMP/out" 2>"$TMP/err"
RC=$?
rc_is "-s wins over \$OMNETCTL_SOCKET" 0
"$OMNETCTL" -s "$TMP/missing.sock" status >"$TMP/out" 2>"$TMP/err"
RC=$?
rc_is "missing socket exits 1" 1
err_is "missing socket message" \
	"omnetctl: cannot connect to $TMP/missing.sock: No such file or directory (is omnetd running?)"
"$OMNETCTL" --socket="$TMP/missing.sock" --json identity >"$TMP/out" 2>"$TMP/err"
RC=$?
rc_is "--socket= form, missing socket, --json: exit 1" 1

echo
if [ "$FAILS" -ne 0 ]; then
	echo "omnetctl_selftest: $FAILS of $CHECKS checks FAILED"
	exit 1
fi
echo "omnetctl_selftest: all $CHECKS checks passed"
exit 0
