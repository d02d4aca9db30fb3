/* privdrop.h: giving up what a running omnetd does not need.
 *
 * privdrop() is called once, after daemon_init() has opened everything
 * that needs root at start-up (the mesh socket, the state directory, the
 * control socket) and before the event loop runs:
 *
 *   provider   its captures are set up by a privileged helper (privsep.h)
 *              forked at the start of daemon_init(); the daemon keeps no
 *              capability, and started as root becomes the user `user`
 *              as below.
 *   consumer,  hand the state directory and the control socket to the
 *   relay      configured user (key `user`, default "omnet"), drop every
 *              capability (the consumer keeps CAP_NET_BIND_SERVICE) and
 *              switch to that user.
 *
 * All end with PR_SET_NO_NEW_PRIVS.  A consumer or relay started by
 * anybody but root (a systemd unit with User=, say) changes nothing:
 * whoever started it chose the privileges.  In every case one line says
 * what was kept. */
#ifndef OMNET_PRIVDROP_H
#define OMNET_PRIVDROP_H

#include <stddef.h>

struct daemon;

/* 0, or -1 with err set to one line naming the cause */
int privdrop(const struct daemon *d, char *err, size_t errlen);
/* privdrop_capture_caps() - this process holds a capability that capture
 * set-up uses, so a provider should split (privsep_start()) */
int privdrop_capture_caps(void);
/* privdrop_helper() - in the privileged helper: keep only the capture
 * capabilities (of those held), then no_new_privs; 0 or -1 with err */
int privdrop_helper(char *err, size_t errlen);

#endif
