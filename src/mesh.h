/* mesh.h: the daemon's one UDP socket and the sessions behind it.
 *
 * Datagrams are read and written in batches (recvmmsg/sendmmsg).  The
 * outer header's receiver id finds the session; a first ClientHello (id 0)
 * goes to the stateless DTLS listener.  Sessions with something to send
 * are flushed once per event-loop turn, after all input of the turn was
 * processed, so ACKs and data of a whole batch share packets and syscalls. */
#ifndef OMNET_MESH_H
#define OMNET_MESH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "path.h"
#include "wire.h"

struct daemon;
struct session;
struct mesh;

struct mesh *mesh_new(struct daemon *d, const struct sockaddr *listen, socklen_t len,
		      char *err, size_t errlen);
void mesh_free(struct mesh *m);
/* mesh_local_addr() - the bound address, as "addr:port" */
const char *mesh_local_addr(const struct mesh *m);
uint16_t mesh_local_port(const struct mesh *m);
const struct sockaddr *mesh_local_sockaddr(const struct mesh *m);
int mesh_family(const struct mesh *m);

/* Sessions. */
uint32_t mesh_new_session_id(struct mesh *m);
void mesh_add_session(struct mesh *m, struct session *s);
void mesh_remove_session(struct mesh *m, struct session *s);
/* mesh_hslimit() - the limits on handshakes strangers may start */
struct hslimit *mesh_hslimit(struct mesh *m);
/* mesh_each_session() - visit sessions; fn must not free them */
void mesh_each_session(struct mesh *m, void (*fn)(struct session *s, void *arg), void *arg);

/* Sending: a datagram is an outer header and a DTLS record. */
int mesh_tx_room(const struct mesh *m);
/* mesh_tx_blocked() - the socket refused the last send (its buffer is full) */
int mesh_tx_blocked(const struct mesh *m);
void mesh_send_path(struct mesh *m, const struct path_addr *to, const struct wire_outer *o,
		    const uint8_t *rec, size_t len);
/* mesh_path_begin() - where to write a datagram's body of at most `cap`
 * bytes, in place, before mesh_path_commit(); NULL when it cannot go.
 * Nothing else may be sent between the two. */
uint8_t *mesh_path_begin(struct mesh *m, const struct path_addr *to, const struct wire_outer *o,
			 size_t cap);
void mesh_path_commit(struct mesh *m, size_t len);
void mesh_send_raw(struct mesh *m, const struct sockaddr *to, socklen_t tolen,
		   const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		   const uint8_t *c, size_t clen);
/* mesh_wake() - the session has something to send: flush it this turn */
void mesh_wake(struct mesh *m, struct session *s);
void mesh_flush(struct mesh *m);

#endif
