/* peer.h: a pinned peer, the ways to reach it, and the state of the link.
 *
 * A link never gives up.  One function, negotiate_endpoint(), serves the
 * first connection and every recovery: without a session it dials every
 * candidate at once (the first to answer is kept); with one it challenges
 * the candidates and the session migrates to the best that answered
 * (direct, then hole-punched, then relayed).  Rounds repeat with
 * exponential backoff and jitter until a person disconnects the peer.
 * There is no "failed" state. */
#ifndef OMNET_PEER_H
#define OMNET_PEER_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "config.h"
#include "identity.h"
#include "path.h"
#include "wire.h"

struct daemon;
struct session;

enum peer_state {
	PEER_CONNECTING,   /* never connected yet */
	PEER_CONNECTED,
	PEER_DEGRADED,     /* the path in use stopped answering; trying others */
	PEER_RECONNECTING, /* no path answers: retrying with backoff */
	PEER_DISCONNECTED, /* stopped by `omnetctl disconnect` */
};

#define PEER_MAX_ENDPOINTS CONFIG_ENDPOINTS_MAX
#define PEER_MAX_RELAYS CONFIG_RELAYS_MAX
#define PEER_MAX_ATTEMPTS 8

struct peer {
	TAILQ_ENTRY(peer) entry;
	struct daemon *d;
	char name[CONFIG_NAME_MAX + 1];
	char fingerprint[FINGERPRINT_LEN + 1];
	uint8_t key[WIRE_KEY_LEN];   /* the fingerprint's digest, as relays name peers */
	struct sockaddr_storage endpoint[PEER_MAX_ENDPOINTS];
	size_t nendpoint;
	char relay[PEER_MAX_RELAYS][CONFIG_NAME_MAX + 1];
	size_t nrelay;
	int from_config;
	enum peer_state state;
	uint64_t state_since_ms;
	int admin_down;
	char last_error[256];

	struct session *session;     /* established */
	struct session *attempt[PEER_MAX_ATTEMPTS]; /* our handshakes in flight */
	size_t nattempt;

	struct pathset cands;        /* every way to reach it we know of */
	struct path_addr peer_path;  /* where its latest data came from */
	/* the peer's own label for the path it sends on (PATH_METHOD): both
	 * sides show the better of the two labels of a shared path */
	struct path_addr label_path;
	enum path_method label;
	int have_label;
	struct pathmon mon;          /* health of the path in use */
	struct backoff backoff;      /* between negotiation rounds */
	uint64_t round_ms;           /* the latest round started then */
	uint64_t lost_ms;            /* the path in use was lost then */
	uint64_t next_round_ms;      /* 0: none scheduled */
	uint64_t retry_delay_ms;     /* the delay of the round scheduled, before jitter */
	uint64_t announce_ms;        /* next CANDIDATES / relay request */
	struct event *timer;
	uint64_t timer_at_ms;

	/* candidates it (or a relay about it) named that the filter dropped,
	 * and when that was last logged */
	uint64_t filtered, filtered_logged, filter_log_ms;

	/* what relays told us (this peer being a relay) */
	struct ipport observed;      /* the address the relay sees us from */
	int have_observed;
	uint64_t observed_ms;        /* a change of it was last logged then */
	/* relay role: what this peer may still have forwarded */
	uint64_t relay_tokens, relay_tokens_us;
	uint64_t relayed;            /* datagrams from it forwarded */
	/* relay role: its requests (RELAY_CONNECT), held and their rate */
	size_t relay_wants;
	uint64_t relay_req_milli, relay_req_ms;
};

struct peer *peer_new(struct daemon *d, const char *name, const char *fingerprint);
void peer_free(struct peer *p);
struct peer *peer_find(struct daemon *d, const char *name);
struct peer *peer_find_fingerprint(struct daemon *d, const char *fp);
struct peer *peer_find_key(struct daemon *d, const uint8_t key[WIRE_KEY_LEN]);
int peer_add_endpoint(struct peer *p, const struct sockaddr *sa, socklen_t len);
/* peer_is_relay() - another peer names this one as its relay */
int peer_is_relay(const struct peer *p);
/* peer_start() - begin (or resume) connecting */
void peer_start(struct peer *p);
void peer_disconnect(struct peer *p);
void peer_connect(struct peer *p);
const char *peer_state_name(enum peer_state st);
/* peer_method() - how the session's path was found, or NULL */
const char *peer_method(const struct peer *p);

/* From the sessions. */
void peer_session_up(struct peer *p, struct session *s);
void peer_session_gone(struct peer *p, struct session *s, const char *why);
/* peer_settled() - no handshake of ours is about to replace the session */
int peer_settled(const struct peer *p);
/* peer_attempt_answered() - one of our handshakes heard back: the others go */
void peer_attempt_answered(struct peer *p, struct session *s);
/* peer_path_alive() - an authenticated datagram of len bytes came on this
 * path; probing: it held only a path probe or its answer */
void peer_path_alive(struct peer *p, struct session *s, const struct path_addr *from,
		     int probing, size_t len);
/* peer_path_sent() - the session sent bytes to that path on its own (a
 * PATH_RESPONSE): they count against the path's allowance */
void peer_path_sent(struct peer *p, struct session *s, const struct path_addr *to, size_t bytes);
void peer_path_response(struct peer *p, struct session *s, const uint8_t *data,
			const struct path_addr *from);
void peer_candidates(struct peer *p, struct session *s, const struct wire_frame *fr);
void peer_relay_observed(struct peer *relay, const struct ipport *addr);
void peer_path_label(struct peer *p, struct session *s, uint8_t method,
		     const struct path_addr *from);
/* peer_relay_intro() - 0, or -1 if the sender is no relay of the peer it
 * names (the frame is ignored) */
int peer_relay_intro(struct peer *relay, struct session *s, const struct wire_frame *fr);

/* peer_kick() - the session sent data: a busy link is watched closely */
void peer_kick(struct peer *p);
/* daemon_addr_blocked() lives on this: paths of disconnected peers */
int peer_path_blocked(struct daemon *d, const struct path_addr *to);

#endif
