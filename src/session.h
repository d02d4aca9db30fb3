/* session.h: one DTLS session with a peer, and the link core riding it. */
#ifndef OMNET_SESSION_H
#define OMNET_SESSION_H

#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "wire.h"

struct daemon;
struct mesh;
struct peer;
struct link;
struct dtls_conn;

enum session_state { SESS_HANDSHAKE, SESS_ESTABLISHED };

struct session {
	struct daemon *d;
	struct mesh *mesh;
	uint32_t local_id, remote_id;
	int client;
	enum session_state state;
	struct peer *peer;           /* client: from the start; server: once authenticated */
	struct dtls_conn *dtls;
	struct link *link;           /* once established */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct event *timer;
	uint64_t timer_at_us;
	uint64_t created_ms, established_ms;
	uint64_t last_rx_ms, last_tx_ms;
	int dirty;
	struct session *dirty_next;
	/* path MTU search (pmtu-probe = yes), in datagram bytes */
	struct {
		unsigned lo, hi;        /* lo works; hi is the highest not yet ruled out */
		unsigned probing;       /* size in flight, 0: none */
		unsigned tries;
		uint64_t deadline_ms;   /* probe timeout, or the next search */
	} pmtu;
};

struct session *session_client_new(struct daemon *d, struct mesh *m, struct peer *p,
				   const struct sockaddr *to, socklen_t tolen);
/* session_accept() - a handshake datagram with no receiver id */
void session_accept(struct daemon *d, struct mesh *m, const struct wire_outer *o,
		    const uint8_t *p, size_t len, const struct sockaddr *from, socklen_t fromlen);
void session_input(struct session *s, const struct wire_outer *o, const uint8_t *p, size_t len,
		   const struct sockaddr *from, socklen_t fromlen);
/* session_unknown_reply() - the peer says it holds no session with us */
void session_unknown_reply(struct daemon *d, struct mesh *m, uint32_t id,
			   const struct sockaddr *from, socklen_t fromlen);
/* session_flush() - send what the link may; >0 if stopped for lack of room */
int session_flush(struct session *s);
void session_wake(struct session *s);
/* session_close() - end the session: its flows are reset, the peer told */
void session_close(struct session *s, const char *why);
/* session_free() - release without telling anyone (daemon shutdown) */
void session_free(struct session *s);
const char *session_addr(const struct session *s, char buf[64]);

#endif
