/* peer.h: a pinned peer, the ways to reach it, and the state of the link.
 *
 * A link never gives up.  What to try and when, which path to use and
 * which session to keep is decided by the negotiation core (core/nego.h);
 * this glue feeds it what the sessions hear and carries out what it says:
 * handshakes, challenges, migrations, dropping sessions.  There is no
 * "failed" state. */
#ifndef OMNET_PEER_H
#define OMNET_PEER_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "config.h"
#include "identity.h"
#include "nego.h"
#include "path.h"
#include "wire.h"

struct daemon;
struct session;
struct nl_ifaddr;

#define PEER_MAX_ENDPOINTS CONFIG_ENDPOINTS_MAX
#define PEER_MAX_RELAYS CONFIG_RELAYS_MAX
#define PEER_MAX_ATTEMPTS NEGO_MAX_ATTEMPTS

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
	int admin_down;              /* disconnected by the operator: nothing is sent to it */

	/* the negotiation: state, candidates, health, backoff, decisions */
	struct nego nego;

	struct session *session;     /* established */
	struct session *incoming;    /* the session nego_session_up() is deciding on */
	struct {
		uint64_t id;         /* the core's name for it */
		struct session *s;
	} attempt[PEER_MAX_ATTEMPTS]; /* our handshakes in flight */
	size_t nattempt;

	uint64_t announce_ms;        /* next CANDIDATES / relay request */
	struct event *timer;
	uint64_t timer_at_ms;

	/* this peer as a relay, as the peers it relays for were last told */
	struct {
		int known, connected;
		struct sockaddr_storage addr;
	} relay_view;

	/* this host's own addresses with their prefixes, as netlink last
	 * listed them: what we announce to this peer, and where candidates
	 * it names must not point */
	struct {
		struct nl_ifaddr *a;
		struct path_prefix *pfx;
		size_t n;
		uint64_t at_ms;
	} local;

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
const char *peer_state_name(enum nego_state st);
/* peer_method() - how the session's path was found, or NULL */
const char *peer_method(const struct peer *p);

/* From the sessions. */
void peer_session_up(struct peer *p, struct session *s);
void peer_session_gone(struct peer *p, struct session *s, const char *why);
/* peer_settled() - no handshake of ours is about to replace the session */
int peer_settled(const struct peer *p);
/* peer_attempt_answered() - one of our handshakes heard back: the others go */
void peer_attempt_answered(struct peer *p, struct session *s);
/* peer_attempt_committed() - our handshake s sent its Finished */
void peer_attempt_committed(struct peer *p, struct session *s);
/* peer_attempt_send() - may our handshake for attempt id send a datagram
 * of that many bytes now?  (nego_attempt_send(); a refusal is counted) */
int peer_attempt_send(struct peer *p, uint64_t id, uint64_t bytes);
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
