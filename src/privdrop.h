/* privdrop.h: giving up what a running omnetd does not need.
 *
 * Called once, after daemon_init() has opened everything that needs root
 * at start-up (the mesh socket, the state directory, the control socket)
 * and before the event loop runs:
 *
 *   provider   keeps CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN and
 *              CAP_NET_BIND_SERVICE, because `network add` may come at
 *              any time; every other capability leaves every set,
 *              the bounding set included.  The uid stays 0.
 *   consumer,  hand the state directory and the control socket to the
 *   relay      configured user (key `user`, default "omnet"), drop every
 *              capability and switch to that user.
 *
 * Both end with PR_SET_NO_NEW_PRIVS.  Started by anybody but root (a
 * systemd unit with User=, say), it changes nothing: whoever started it
 * chose the privileges.  In every case it logs one line saying what was
 * kept. */
#ifndef OMNET_PRIVDROP_H
#define OMNET_PRIVDROP_H

#include <stddef.h>

struct daemon;

/* 0, or -1 with err set to one line naming the cause */
int privdrop(const struct daemon *d, char *err, size_t errlen);

#endif
