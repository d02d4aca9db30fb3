/* nego.h: endpoint negotiation with one peer, as a pure core.
 *
 * Everything that decides how a peer is reached lives here: which
 * candidates to dial or challenge and when, the backoff between rounds,
 * the health of the path in use and when it is lost, which path to move
 * to (direct, then hole-punched, then relayed; an upgrade when a better
 * one answers; following the peer when its address changes), and which
 * session to keep when both sides dialled at once or the peer restarted.
 *
 * Events come in with the time (now_ms); what is to be done comes out as
 * a queue of actions (dial, drop an attempt, challenge, migrate, ...) that
 * the glue (src/peer.c) carries out in order, and nego_deadline() says
 * when nego_tick() wants to run next.  Nothing here reads a clock, draws
 * randomness (a seed comes in) or touches a socket, so tests drive two of
 * these against each other over a simulated network (tests/test_nego.c).
 *
 * The rules:
 *   - A round is the only way candidates are tried: the first connection,
 *     every recovery and every upgrade.  Without a session a round dials
 *     every usable candidate at once (the first to answer goes on, the
 *     others are dropped); with one it challenges candidates inside it:
 *     better ones while connected (an upgrade), all of them once the path
 *     in use is lost.  The session moves to the best that answered.
 *   - Rounds repeat with backoff and jitter while no path answers, forever,
 *     until a person disconnects the peer.  While connected by a worse
 *     method than direct, upgrade rounds run at the probe interval.
 *   - The peer moving is followed: data from another path gets that path
 *     challenged, and once it answers we send there too. */
#ifndef OMNET_NEGO_H
#define OMNET_NEGO_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "path.h"

enum nego_state {
	NEGO_CONNECTING,   /* never connected yet */
	NEGO_CONNECTED,
	NEGO_DEGRADED,     /* the path in use stopped answering; trying others */
	NEGO_RECONNECTING, /* no path answers: retrying with backoff */
	NEGO_DISCONNECTED, /* stopped by the operator (or the peer is going away) */
};

const char *nego_state_name(enum nego_state st);

#define NEGO_MAX_RELAYS CONFIG_RELAYS_MAX
#define NEGO_MAX_ATTEMPTS 8
#define NEGO_MAX_ACTIONS 64 /* a round over a full table, and room to spare */
#define NEGO_CAND_TTL_MS 35000  /* learned candidates, unless repeated: 3 relay refreshes and 5 s */
#define NEGO_TIE_WINDOW_MS 2000 /* sessions established this close are simultaneous */
#define NEGO_FOLLOW_QUIET_MS 1000 /* our path silent this long: follow the peer even to a worse one */
#define NEGO_DIAL_MIN_BYTES 256 /* a ClientHello with its headers */
#define NEGO_DIAL_BYTES 512     /* a dial to an unvalidated address: two ClientHellos */

struct nego_config {
	uint64_t probe_min_ms, probe_max_ms, probe_timeout_ms;
	uint64_t backoff_min_ms, backoff_max_ms;
	int relay_role;  /* we are a relay: we never dial, and run no rounds */
	int we_win;      /* our key is the smaller: of simultaneous sessions, ours stays (11.17) */
	uint64_t seed;   /* randomness for challenge data and jitter */
};

enum nego_act {
	NEGO_DIAL,      /* a handshake to `to` (method), attempt `id`: each datagram it
			 * sends asks nego_attempt_send() first */
	NEGO_DROP,      /* attempt `id` goes, silently */
	NEGO_CHALLENGE, /* a PATH_CHALLENGE with `data` to `to`, in a datagram of at most `bytes`;
			 * say what went with nego_challenge_sent() */
	NEGO_MIGRATE,   /* the session sends on `to` (method) from now on, its link restarted */
	NEGO_LABEL,     /* tell the peer how we found the path we send on (`method`) */
	NEGO_STATE,     /* the state went from `from` to `state`: why */
	NEGO_TAKE,      /* the session that came up is the one in use now, labelled `method`;
			 * the one it replaces (if any) goes, silently: why */
	NEGO_REFUSE,    /* the session that came up goes, silently: why */
	NEGO_CLOSE,     /* the session in use is closed (the peer told): why */
};

struct nego_action {
	enum nego_act type;
	struct path_addr to;
	enum path_method method;
	enum nego_state from, state;
	int has_path;            /* NEGO_STATE: a session was up: to and method are its path */
	uint64_t id;
	uint64_t bytes;
	uint8_t data[PATH_CHALLENGE_LEN];
	char why[128];
};

/* A session that came up, as nego_session_up() is told of it. */
struct nego_up {
	uint64_t attempt;        /* ours: the id of the attempt; 0: the peer dialled */
	int same_instance;       /* the same run of the peer's daemon as the session in use */
	struct path_addr path;   /* the path its handshake came on */
	enum path_method method; /* ours: how we found that path */
};

struct nego_attempt {
	uint64_t id;
	struct path_addr to;
	int answered;
	int committed;           /* our Finished went out: the peer may hold the session */
	uint64_t budget;         /* bytes it may still send; PATH_UNLIMITED once answered */
};

/* What the glue says about one of the peer's relays. */
struct nego_relay {
	int known;                   /* we hold a session with it: addr is its path */
	int connected;               /* ... and it is connected */
	struct sockaddr_storage addr;
};

struct nego {
	struct nego_config cfg;
	enum nego_state state;
	uint64_t state_since_ms;
	uint64_t now_ms;             /* the latest time an event brought */
	int admin_down;
	char last_error[256];

	struct pathset cands;        /* every way to reach it we know of */
	struct pathmon mon;          /* health of the path in use */
	struct backoff backoff;      /* between rounds */
	uint64_t lost_ms;            /* the path in use was lost then */
	uint64_t next_round_ms;      /* 0: none scheduled */
	uint64_t retry_delay_ms;     /* the delay of the round scheduled, before jitter */

	/* the session in use */
	struct {
		int up;
		int client;          /* we dialled it */
		uint64_t est_ms;
		struct path_addr path;
		enum path_method method;
	} sess;
	struct path_addr peer_path;  /* where its latest data came from */
	/* the peer's own label for the path it sends on (PATH_METHOD): both
	 * sides show the better of the two labels of a shared path */
	struct path_addr label_path;
	enum path_method label;
	int have_label;

	struct nego_attempt attempt[NEGO_MAX_ATTEMPTS]; /* our handshakes in flight */
	size_t nattempt;
	uint64_t next_id;

	struct nego_relay relay[NEGO_MAX_RELAYS];
	uint64_t rng;

	/* for the daemon's counters: the glue takes them and zeroes them */
	struct {
		uint64_t evicted;        /* candidates pushed out of a full table */
		uint64_t limited;        /* a challenge or dial the allowance refused */
		uint64_t actions_lost;   /* the queue was full (a bug: it is sized for the worst) */
	} ctr;

	struct nego_action act[NEGO_MAX_ACTIONS];
	size_t act_head, nact;
	struct nego_action spill;    /* where an action goes when the queue is full */
};

void nego_init(struct nego *n, const struct nego_config *cfg, uint64_t now_ms);

/* ---- events ---------------------------------------------------------------- */

/* nego_candidate() - a way to reach the peer: a configured endpoint (origin
 * PATH_CONFIGURED, never expires), one the peer or a relay named, or a
 * relay's channel.  Candidates from others pass the glue's filter first.
 * The candidate, or NULL when the table had no room. */
struct path_cand *nego_candidate(struct nego *n, const struct path_new *c, uint64_t now_ms);
/* nego_start() - begin or resume: a round now */
void nego_start(struct nego *n, const char *why, uint64_t now_ms);
/* nego_introduced() - a relay introduced the peer anew: a peer still
 * waiting for a way to reach it tries the new ones at once */
void nego_introduced(struct nego *n, uint64_t now_ms);
/* nego_admin() - the operator disconnects (down) or connects the peer;
 * down also serves a peer being removed (why says so) */
void nego_admin(struct nego *n, int down, const char *why, uint64_t now_ms);
/* nego_relay() - relay idx of the peer: addr is the path of our session
 * with it (NULL: none), connected whether that session is connected */
void nego_relay(struct nego *n, int idx, const struct sockaddr *addr, int connected);

/* nego_attempt_answered() - the address attempt id dialled answered its
 * handshake (any record back on that path): the other attempts are dropped */
void nego_attempt_answered(struct nego *n, uint64_t id, uint64_t now_ms);
/* nego_attempt_committed() - attempt id sent its Finished: from then on
 * the peer may have the session, so it is no longer dropped quietly when
 * the peer's own session comes up first (11.49) */
void nego_attempt_committed(struct nego *n, uint64_t id);
/* nego_attempt_send() - may attempt id send a handshake datagram of `bytes`
 * now?  1, and it is counted; 0 (and ctr.limited) if not, or if there is no
 * such attempt.  Until its address answered, an attempt to an address not
 * validated keeps within what its dial was given (NEGO_DIAL_BYTES: a
 * ClientHello and its retransmission or cookie echo, RFC 9000 8's limit on
 * what goes to an address that never spoke).  Once the address answered,
 * the rest of that handshake is not limited: the address has shown that it
 * talks DTLS to us, and a handshake cut off halfway helps nobody (when both
 * sides punch at once, both would stall; the flights after the cookie are
 * twice the allowance). */
int nego_attempt_send(struct nego *n, uint64_t id, uint64_t bytes);
void nego_attempt_gone(struct nego *n, uint64_t id, const char *why, uint64_t now_ms);
void nego_session_up(struct nego *n, const struct nego_up *u, uint64_t now_ms);
void nego_session_gone(struct nego *n, const char *why, uint64_t now_ms);

/* nego_heard() - an authenticated datagram of len bytes on path `from`;
 * probing: it held only a path probe or its answer; allowed: whether the
 * glue's filter takes `from` as a candidate, -1 if not asked yet.  Returns
 * NEGO_ASK_FILTER, having changed nothing, when it needs that answer (a
 * direct address that is neither the path in use nor a candidate yet):
 * the glue asks its filter and calls again. */
#define NEGO_ASK_FILTER 1
int nego_heard(struct nego *n, const struct path_addr *from, int probing, size_t len,
	       int allowed, uint64_t now_ms);
/* nego_response() - a PATH_RESPONSE carrying data came on `from` */
void nego_response(struct nego *n, const uint8_t data[PATH_CHALLENGE_LEN],
		   const struct path_addr *from, uint64_t now_ms);
/* nego_sent() - the session sent bytes to `to` on its own (a PATH_RESPONSE):
 * they count against the address's allowance */
void nego_sent(struct nego *n, const struct path_addr *to, uint64_t bytes);
/* nego_challenge_sent() - what became of a NEGO_CHALLENGE: the datagram's
 * size, 0 if it could not go */
void nego_challenge_sent(struct nego *n, const struct nego_action *a, uint64_t bytes);
/* nego_label() - the peer's PATH_METHOD, which came on `from` */
void nego_label(struct nego *n, enum path_method m, const struct path_addr *from);
/* nego_tick() - the timer; busy_ms: the quiet time after which a path
 * with data in flight is probed (0: nothing in flight) */
void nego_tick(struct nego *n, uint64_t now_ms, uint64_t busy_ms);

/* ---- what the glue asks ------------------------------------------------ */

/* nego_next() - the next action to carry out; 0 when there is none */
int nego_next(struct nego *n, struct nego_action *out);
/* nego_deadline() - when nego_tick() next has something to do (UINT64_MAX: never) */
uint64_t nego_deadline(const struct nego *n, uint64_t busy_ms);
/* nego_method() - how the session's path was found: our label, or the
 * peer's when it sends on the same path and knows it better */
enum path_method nego_method(const struct nego *n);
/* nego_settled() - no handshake is about to replace the session: none of
 * ours the peer answered that would win the tie (11.17), and, on the side
 * that loses it, none the peer dialled (peer_dialling: the glue holds a
 * handshake from one of the peer's paths, past its cookie, not finished)
 * while the tie window is open (11.47) */
int nego_settled(const struct nego *n, uint64_t now_ms, int peer_dialling);
/* nego_tie_open() - on the side that dialled and loses the tie, within
 * the tie window: only then does peer_dialling matter to nego_settled() */
int nego_tie_open(const struct nego *n, uint64_t now_ms);
/* nego_knows_path() - p is one of the peer's candidates */
int nego_knows_path(const struct nego *n, const struct path_addr *p);
struct path_cand *nego_find(struct nego *n, const struct path_addr *to);
const struct nego_attempt *nego_attempt_find(const struct nego *n, uint64_t id);

#endif
