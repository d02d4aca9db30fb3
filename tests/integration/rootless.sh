# rootless.sh: an ordinary user's provider, for tests/integration/test_rootless.sh,
# bench/throughput and bench/latency.  Source after lib.sh.
#
#   rl_user                  create the user omnet-u$OM_ID and its home; the
#                            binaries are installed there (a clone under /root is
#                            closed to it); everything goes at exit
#   rl_bg LOGNAME CMD...     run CMD in the provider's namespace as the user
#   rl_netns TAG CAP_NS      the user makes a user and network namespace (a process
#                            holds it) and CAP_NS's tap0 moves into it; TAG_PID
#   rl_start_provider [LOG]  the provider as the user, state in $RL_HOME/p, control
#                            at $RL_SOCK; sets PROV_PID and makes ctl_p use it
RL_USER=omnet-u$OM_ID
RL_HOME=$(mktemp -d /tmp/omnet-user.XXXXXX)
RL_SOCK=$RL_HOME/run/omnetd/omnetd.sock
RL_TUN_MODE=$(stat -c %a /dev/net/tun 2>/dev/null)

# rl_cleanup - first at exit (om_cleanup exits when a check failed): what
# still runs as the user is this run's, killed by PID, then the user goes
rl_cleanup() {
	local pids i sig=TERM
	[ -z "$RL_TUN_MODE" ] || chmod "$RL_TUN_MODE" /dev/net/tun || :
	for ((i = 0; i < 40 && ${RL_UID:+1}0 > 0; i++)); do
		pids=$(pgrep -u "$RL_UID" | tr '\n' ' ')
		[ -n "$pids" ] || break
		[ "$i" -lt 20 ] || sig=KILL
		# shellcheck disable=SC2086 # a list of PIDs
		kill -"$sig" $pids 2>/dev/null || :
		sleep 0.1
	done
	userdel "$RL_USER" >/dev/null 2>&1 || :
	rm -rf "$RL_HOME"
}

rl_user() {
	trap 'rl_cleanup; om_cleanup' EXIT
	useradd --no-create-home --home-dir "$RL_HOME" --shell /usr/sbin/nologin "$RL_USER" ||
		return 1
	chown "$RL_USER:" "$RL_HOME" && chmod 0755 "$RL_HOME"
	RL_UID=$(id -u "$RL_USER")
	install -o "$RL_USER" -m 0755 "$OMNETD" "$OMNETCTL" "$RL_HOME/"
	mkdir -m 0700 "$RL_HOME/run" "$RL_HOME/p" && chown "$RL_USER:" "$RL_HOME/run" "$RL_HOME/p"
}

rl_bg() {
	local name=$1; shift
	om_bg "$NS_PROV" "$name" setpriv --reuid="$RL_UID" --regid="$RL_UID" --clear-groups \
		env -i HOME="$RL_HOME" PATH=/usr/bin:/bin XDG_RUNTIME_DIR="$RL_HOME/run" "$@"
}

rl_netns() {
	local tag=$1 cap=$2 pid
	rl_bg "$tag" unshare --user --map-root-user --net sleep 3600
	pid=$OM_LASTPID
	om_wait 10 sh -c "[ \"\$(readlink /proc/$pid/ns/user)\" != \"\$(readlink /proc/self/ns/user)\" ] &&
		grep -q sleep /proc/$pid/comm" || return 1
	ip -n "$cap" link set tap0 netns "$pid" || return 1
	nsenter -t "$pid" -n ip link set tap0 up || return 1
	eval "${tag}_PID=$pid"
}

rl_start_provider() {
	rl_bg "${1:-provider}" "$RL_HOME/omnetd" --role provider -S "$RL_HOME/p" -l 0.0.0.0:6950 \
		${OM_VERBOSE--v}
	PROV_PID=$OM_LASTPID
	ctl_p() { "$OMNETCTL" -s "$RL_SOCK" "$@"; }
	om_wait 10 test -S "$RL_SOCK"
}

# rl_switch_provider - for benchmarks: the root-run provider that
# om_start_daemons started makes way for a rootless one with the same
# identity (the consumer keeps its pin), capturing the same VM: its tap0
# moves into a namespace the user makes
rl_switch_provider() {
	kill -TERM "$PROV_PID" && om_wait_gone "$PROV_PID" 10 || return 1
	install -o "$RL_USER" -m 0600 "$OM_T/p/identity.pem" "$RL_HOME/p/identity.pem" || return 1
	rl_netns rlvm "$NS_CAP" || return 1
	rl_start_provider provider-rootless || return 1
	ctl_p peer add consumer --fingerprint "$CONS_FP" --endpoint $CONS_ADDR:6950 >/dev/null &&
		ctl_p network add $NETID --peer consumer --netns "/proc/$rlvm_PID/ns/net" \
			--iface tap0 >/dev/null || return 1
	om_wait 15 peer_connected ctl_p consumer
}
