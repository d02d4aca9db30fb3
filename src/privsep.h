/* privsep.h: the provider's privileged helper, and captures set up by it.
 *
 * A provider started with any capability a capture needs (as root, or
 * with systemd's AmbientCapabilities=) forks a small helper at the very
 * start, before it reads its identity, opens the mesh socket or adds a
 * network.  The helper keeps CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN
 * and CAP_NET_BIND_SERVICE and nothing else; the daemon itself then drops
 * every capability (and, started as root, becomes the user `user`).  The
 * helper sets captures up and tears them down (capns.c) and makes the
 * transparent sockets of port-forward flows and VM UDP conversations, and
 * hands the sockets over a SOCK_SEQPACKET socketpair (SCM_RIGHTS).  It
 * reads nothing from the wire and treats every request as coming from a
 * less trusted process: it checks each one (capns_check*()), and works
 * only in namespaces it set up itself.
 *
 * Calls are synchronous, one request and one answer: set-up and teardown
 * are rare, and a socket costs one round trip (DESIGN.md 11.27).  A
 * helper that dies or hangs leaves the daemon running: what exists keeps
 * working, and new captures, forward flows and UDP conversations fail with
 * one log line saying why.  The helper dies with the daemon: it reads end
 * of file when the daemon's end closes, however the daemon ended, removes
 * the captures still set up and exits.
 *
 * A provider started with no capability at all (an ordinary user's, the
 * rootless mode of DESIGN.md 11.48) has no such helper: each capture gets
 * one of its own, forked when the capture is set up, which joins the user
 * namespace that owns the capture's network namespace (the user's own) and
 * holds its capabilities there, and only there.  The protocol is the same. */
#ifndef OMNET_PRIVSEP_H
#define OMNET_PRIVSEP_H

#include <stddef.h>
#include <sys/types.h>

#include "capns.h"

struct privsep;
struct privcap;

#define PRIVSEP_HELPER_ARG "--capture-helper"   /* omnetd's hidden mode for it */

/* privsep_helper_exec_main() - a rootless capture's helper, exec'd afresh
 * (omnetd --capture-helper NAMESPACE LOGLEVEL), its socket on descriptor 3 */
void privsep_helper_exec_main(const char *join) __attribute__((noreturn));

/* privsep_start() - fork the helper and wait until it has dropped what it
 * does not need; NULL with err set */
struct privsep *privsep_start(char *err, size_t errlen);
/* privsep_stop() - close our end and wait (bounded) for the helper to go */
void privsep_stop(struct privsep *ps);
/* privsep_pid() - the helper's pid; 0 once it is gone */
pid_t privsep_pid(const struct privsep *ps);

/* privcap_open() - set a capture up, by the helper ps or (ps NULL) by a
 * rootless helper of its own; the sockets in s are the caller's.  NULL
 * with err set. */
struct privcap *privcap_open(struct privsep *ps, const struct capns_params *p,
			     struct capns_socks *s, char *err, size_t errlen);
/* privcap_close() - tear the capture down and forget it */
void privcap_close(struct privcap *pc);
/* privcap_socket() - capns_socket() in that capture's namespace; -1 with
 * errno (EPIPE: the helper is gone, which was logged once) */
int privcap_socket(struct privcap *pc, int type, const struct ipport *local,
		   const struct ipport *peer);

#endif
