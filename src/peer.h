/* peer.h: a pinned peer, where to reach it, and the state of the link.
 *
 * A link never gives up: a peer with endpoints is dialled again and again
 * with exponential backoff and jitter until a person disconnects it; one
 * without endpoints waits to be dialled.  There is no "failed" state. */
#ifndef OMNET_PEER_H
#define OMNET_PEER_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "config.h"
#include "identity.h"

struct daemon;
struct session;

enum peer_state {
	PEER_CONNECTING,   /* never connected yet */
	PEER_CONNECTED,
	PEER_DEGRADED,     /* connected, but probes go unanswered */
	PEER_RECONNECTING, /* was connected, lost it, trying again */
	PEER_DISCONNECTED, /* stopped by `omnetctl disconnect` */
};

#define PEER_MAX_ENDPOINTS CONFIG_ENDPOINTS_MAX
#define PEER_MAX_RELAYS CONFIG_RELAYS_MAX

struct peer {
	TAILQ_ENTRY(peer) entry;
	struct daemon *d;
	char name[CONFIG_NAME_MAX + 1];
	char fingerprint[FINGERPRINT_LEN + 1];
	struct sockaddr_storage endpoint[PEER_MAX_ENDPOINTS];
	size_t nendpoint;
	char relay[PEER_MAX_RELAYS][CONFIG_NAME_MAX + 1];
	size_t nrelay;
	int from_config;
	enum peer_state state;
	uint64_t state_since_ms;
	const char *method;          /* "direct", "hole-punched", "relay" or NULL */
	struct session *session;     /* established */
	struct session *attempt;     /* our handshake in progress */
	unsigned attempt_no;         /* which endpoint next */
	uint64_t backoff_ms;         /* the next delay, before jitter */
	uint64_t next_retry_ms;      /* 0: none scheduled */
	struct event *retry_ev;
	int admin_down;
	char last_error[256];
};

struct peer *peer_new(struct daemon *d, const char *name, const char *fingerprint);
void peer_free(struct peer *p);
struct peer *peer_find(struct daemon *d, const char *name);
struct peer *peer_find_fingerprint(struct daemon *d, const char *fp);
int peer_add_endpoint(struct peer *p, const struct sockaddr *sa, socklen_t len);
/* peer_start() - begin (or resume) connecting */
void peer_start(struct peer *p);
void peer_session_up(struct peer *p, struct session *s);
void peer_session_gone(struct peer *p, struct session *s, const char *why);
void peer_disconnect(struct peer *p);
void peer_connect(struct peer *p);
const char *peer_state_name(enum peer_state st);
/* backoff_next_ms() - double, capped; jitter_ms() - in [d/2, d] */
uint64_t backoff_next_ms(uint64_t cur, uint64_t min, uint64_t max);
uint64_t jitter_ms(uint64_t d);

#endif
