/* state.h: what was changed at run time survives a restart.
 *
 * Peers, networks and forwards added through the control socket (not the
 * config file) and the peers an operator disconnected are kept in
 * STATE_DIR/state.json, rewritten atomically after every change. */
#ifndef OMNET_STATE_H
#define OMNET_STATE_H

struct daemon;

int state_save(struct daemon *d);
/* state_load() - re-create what was saved; an entry that no longer fits
 * (its peer is gone, its namespace vanished) is logged and kept on disk */
int state_load(struct daemon *d);

#endif
