/* session.h: one DTLS session with a peer, the link core riding it, and
 * the path its datagrams take (direct, or through a relay). */
#ifndef OMNET_SESSION_H
#define OMNET_SESSION_H

#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "hslimit.h"
#include "path.h"
#include "pmtu.h"
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
	struct seal *seal;           /* sealed records, once established (if the peer can) */
	unsigned seal_failed;        /* records OpenSSL would not seal (logged once) */
	struct link *link;           /* once established */
	struct path_addr path;       /* where our datagrams go */
	enum path_method method;     /* how that path was found */
	uint64_t path_since_ms;      /* when it became the path */
	struct path_addr rx_path;    /* the path of the datagram being processed */
	const struct path_addr *tx_path; /* non-NULL: this datagram goes there (probes) */
	struct event *timer;         /* a timerfd's once established (precise_timer()) */
	int timer_fd;                /* -1: the loop's own timer */
	uint64_t timer_at_us;
	uint64_t created_ms, established_ms;
	uint64_t last_rx_ms, last_eliciting_ms;
	int answered;                /* client: the server replied to our handshake */
	int committed;               /* client: our Finished went out */
	int rx_probing;              /* the datagram being processed is a path probe */
	int rx_auth;                 /* ... and delivered an authenticated record */
	uint64_t rx_now_us;          /* ... read from the socket then */
	size_t rx_len;               /* ... and its size */
	/* handshakes: a server's counts against its source's limits; a
	 * client's to an unvalidated address may send only so much */
	struct hs_key src;
	int hs_counted;
	uint64_t attempt_id;         /* client: the negotiation's attempt it carries out */
	int dirty;
	struct session *dirty_next;
	/* the path's MTU, and the search for a larger one (once established;
	 * reset whenever the path changes) */
	struct pmtu pmtu;
};

/* session_client_new() - dial, for the negotiation's attempt attempt_id
 * (which says how much each handshake datagram may send: peer_attempt_send()) */
struct session *session_client_new(struct daemon *d, struct mesh *m, struct peer *p,
				   const struct path_addr *to, enum path_method method,
				   uint64_t attempt_id);
/* session_accept() - a handshake datagram with no receiver id */
void session_accept(struct daemon *d, struct mesh *m, const struct wire_outer *o,
		    const uint8_t *p, size_t len, const struct path_addr *from);
/* session_input() - a datagram for s, read from the socket at now_us */
void session_input(struct session *s, const struct wire_outer *o, const uint8_t *p, size_t len,
		   const struct path_addr *from, uint64_t now_us);
/* session_unknown_reply() - the peer says it holds no session with us */
void session_unknown_reply(struct daemon *d, struct mesh *m, uint32_t id,
			   const struct path_addr *from);
/* session_flush() - send what the link may; >0 if stopped for lack of room */
int session_flush(struct session *s);
void session_wake(struct session *s);
/* session_challenge() - a PATH_CHALLENGE on that path, now, in a
 * datagram of at most max_bytes (padded to the minimum size only if that
 * allows: RFC 9000 8.2.1).  Returns the datagram's size, 0 if none went. */
size_t session_challenge(struct session *s, const struct path_addr *to,
			 const uint8_t data[PATH_CHALLENGE_LEN], uint64_t max_bytes);
/* session_migrate() - send on this path from now on (it may be the same
 * one, back after an outage); what is in flight is sent again there, and
 * a different path starts from the configured MTU (sized for its headers)
 * and its own search */
void session_migrate(struct session *s, const struct path_addr *to, enum path_method method,
		     const char *why);
/* session_too_big() - this host's interface towards the session's path
 * carries IP packets of at most mtu bytes (it refused a larger one) */
void session_too_big(struct session *s, unsigned mtu);
/* session_queue_frame() - an encoded control frame for the next packet */
void session_queue_frame(struct session *s, const uint8_t *frame, size_t len);
/* session_close() - end the session: its flows are reset, the peer told */
void session_close(struct session *s, const char *why);
/* session_discard() - drop silently (a duplicate, a stale or an unneeded
 * attempt): flows reset locally, nothing sent, the peer not told */
void session_discard(struct session *s, const char *why);
/* session_free() - release without telling anyone (daemon shutdown) */
void session_free(struct session *s);

#endif
