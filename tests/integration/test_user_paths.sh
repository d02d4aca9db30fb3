#!/bin/bash
# test_user_paths.sh: an ordinary user runs omnetd and omnetctl with no
# options, and they find their places in the user's own directories, as
# systemctl --user and pasta do (issue 17):
#  - the control socket at $XDG_RUNTIME_DIR/omnetd/omnetd.sock, the
#    identity under ~/.local/state/omnetd (0700), or $XDG_STATE_HOME/omnetd;
#  - omnetctl finds that socket by itself; without its own daemon, it
#    names the system's socket;
#  - started by systemd as a user (the packaged units run as omnet), the
#    unit's StateDirectory= and RuntimeDirectory= win;
#  - with no runtime directory, omnetd says what to set and exits, unless
#    -s names the socket.
# The test creates the user it runs as, and removes it.
OM_TEST=user-paths
. "$(dirname "$0")/lib.sh"
om_need_root

user=omnet-u$OM_ID
home=$(mktemp -d /tmp/omnet-user.XXXXXX)
user_cleanup() {
	userdel "$user" >/dev/null 2>&1
	rm -rf "$home"
}
trap 'user_cleanup; om_cleanup' EXIT
useradd --no-create-home --home-dir "$home" --shell /usr/sbin/nologin "$user" ||
	{ fail "useradd $user"; exit 1; }
chown "$user:" "$home" && chmod 0700 "$home"
uid=$(id -u "$user")
# the binaries where the user may run them (a clone under /root is closed)
install -o "$user" -m 0755 "$OMNETD" "$OMNETCTL" "$home/"
mkdir -m 0700 "$home/run" && chown "$user:" "$home/run"
om_ns "$NS_CONS" || { fail "namespace"; exit 1; }

# as_user [VAR=VALUE]... COMMAND... - in the namespace, as the user, with
# only the environment given (HOME, and what the caller adds)
as_user() {
	ip netns exec "$NS_CONS" setpriv --reuid="$uid" --regid="$uid" --clear-groups \
		env -i HOME="$home" PATH=/usr/bin:/bin "$@"
}

# --- a new user's first command: ~/.local/state does not exist yet
fp=$(as_user "$home/omnetd" --show-identity 2>/dev/null)
check "omnetd --show-identity makes ~/.local/state/omnetd and prints the fingerprint ($fp)" \
	sh -c "echo '$fp' | grep -qx 'sha256:[0-9a-f]\{64\}' && test -d '$home/.local/state/omnetd'"

# --- defaults: XDG_RUNTIME_DIR and ~/.local/state
om_bg "$NS_CONS" consumer setpriv --reuid="$uid" --regid="$uid" --clear-groups \
	env -i HOME="$home" XDG_RUNTIME_DIR="$home/run" "$home/omnetd" --role consumer
pid=$OM_LASTPID
check "the control socket is at \$XDG_RUNTIME_DIR/omnetd/omnetd.sock" \
	om_wait 10 test -S "$home/run/omnetd/omnetd.sock"
check "the identity is under ~/.local/state/omnetd" test -s "$home/.local/state/omnetd/identity.pem"
check "the state directory is the user's, mode 0700" \
	test "$(stat -c '%U %a' "$home/.local/state/omnetd")" = "$user 700"
check "omnetctl finds the user's socket by itself" \
	sh -c "ip netns exec $NS_CONS setpriv --reuid=$uid --regid=$uid --clear-groups \
		env -i HOME=$home XDG_RUNTIME_DIR=$home/run $home/omnetctl --json status |
		grep -q '\"role\": *\"consumer\"'"
kill "$pid"
om_wait_gone "$pid" 10
check "the daemon removed its socket when it stopped" test ! -e "$home/run/omnetd/omnetd.sock"

# --- XDG_STATE_HOME wins over ~/.local/state
mkdir -p "$home/xstate" && chown "$user:" "$home/xstate"
om_bg "$NS_CONS" consumer2 setpriv --reuid="$uid" --regid="$uid" --clear-groups \
	env -i HOME="$home" XDG_RUNTIME_DIR="$home/run" XDG_STATE_HOME="$home/xstate" \
	"$home/omnetd" --role consumer
pid=$OM_LASTPID
om_wait 10 test -S "$home/run/omnetd/omnetd.sock"
check "with XDG_STATE_HOME, the identity is under it" test -s "$home/xstate/omnetd/identity.pem"
kill "$pid"
om_wait_gone "$pid" 10

# --- a service systemd starts as a user (the packaged units' User=omnet)
# is told its directories: they win over HOME and the XDG ones
mkdir -p "$home/sd-state" "$home/sd-run" && chown "$user:" "$home/sd-state" "$home/sd-run"
om_bg "$NS_CONS" consumer-unit setpriv --reuid="$uid" --regid="$uid" --clear-groups \
	env -i HOME="$home" XDG_RUNTIME_DIR="$home/run" STATE_DIRECTORY="$home/sd-state" \
	RUNTIME_DIRECTORY="$home/sd-run" "$home/omnetd" --role consumer
pid=$OM_LASTPID
check "under systemd, the socket is in \$RUNTIME_DIRECTORY" om_wait 10 test -S "$home/sd-run/omnetd.sock"
check "under systemd, the identity is in \$STATE_DIRECTORY" test -s "$home/sd-state/identity.pem"
kill "$pid"
om_wait_gone "$pid" 10

# --- no runtime directory: a clear refusal, unless -s names the socket
out=$(as_user "$home/omnetd" --role consumer 2>&1)
rc=$?
check "without XDG_RUNTIME_DIR omnetd refuses (exit $rc): $out" \
	sh -c "[ $rc = 1 ] && echo '$out' | grep -q 'XDG_RUNTIME_DIR is not set'"
om_bg "$NS_CONS" consumer3 setpriv --reuid="$uid" --regid="$uid" --clear-groups \
	env -i HOME="$home" "$home/omnetd" --role consumer -s "$home/named.sock"
pid=$OM_LASTPID
check "with -s it starts without XDG_RUNTIME_DIR" om_wait 10 test -S "$home/named.sock"
kill "$pid"
om_wait_gone "$pid" 10
out=$(as_user XDG_RUNTIME_DIR="$home/run" "$home/omnetctl" status 2>&1)
check "without its own daemon, omnetctl names the system's socket: $out" \
	sh -c "echo '$out' | grep -q '/run/omnetd/omnetd.sock'"
