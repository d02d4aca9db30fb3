/* userdirs.h: where omnetd and omnetctl keep their files when an ordinary
 * user runs them, the way systemctl --user and pasta do: the control
 * socket under $XDG_RUNTIME_DIR, the state under $XDG_STATE_HOME or
 * ~/.local/state (the XDG Base Directory Specification).  Root keeps
 * /run/omnetd and /var/lib/omnetd.  A service that systemd starts as a
 * user (the packaged units' User=omnet, or a systemd --user unit) is told
 * its directories ($STATE_DIRECTORY, $RUNTIME_DIRECTORY, for the unit's
 * StateDirectory= and RuntimeDirectory=): those come first.
 *
 * Pure: the environment's values come in as arguments (NULL: unset), so
 * the rules are tested without a user. */
#ifndef OMNET_USERDIRS_H
#define OMNET_USERDIRS_H

#include <stddef.h>

#define USERDIRS_NAME "omnetd"

/* userdirs_state() - systemd's $STATE_DIRECTORY (its first path), else
 * "$XDG_STATE_HOME/omnetd", else "$HOME/.local/state/omnetd".  The
 * specification ignores a relative XDG_STATE_HOME; a relative or missing
 * HOME leaves nowhere to go.  Returns 0, or -1 with err saying what to
 * set. */
int userdirs_state(const char *systemd_state, const char *xdg_state_home, const char *home,
		   char *out, size_t len, char *err, size_t errlen);
/* userdirs_socket() - "$RUNTIME_DIRECTORY/omnetd.sock" (systemd's, its
 * first path), else "RUNTIME_DIR/omnetd/omnetd.sock", runtime_dir being
 * $XDG_RUNTIME_DIR (or what the caller found in its place).  Returns 0, or
 * -1 with err when there is none or the path is too long. */
int userdirs_socket(const char *systemd_runtime, const char *runtime_dir, char *out, size_t len,
		    char *err, size_t errlen);

#endif
