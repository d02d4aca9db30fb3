/* path.h: the ways a peer can be reached, and which one to use.
 *
 * A path is either direct (the peer's address) or relayed (a relay's
 * address and a channel the relay opened for the pair).  Every candidate
 * is probed with PATH_CHALLENGE inside the session; a candidate that
 * answered is validated.  The preference is direct, then hole-punched (a
 * public address learned through a relay), then relayed; among equals the
 * path in use wins, so a link does not flap.  Pure: time comes in as ms. */
#ifndef OMNET_PATH_H
#define OMNET_PATH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum path_method { PATH_DIRECT = 0, PATH_HOLE_PUNCHED = 1, PATH_RELAY = 2 };

const char *path_method_name(enum path_method m);

/* Where datagrams for a path go. */
struct path_addr {
	struct sockaddr_storage sa; /* direct: the peer; relayed: the relay */
	socklen_t len;
	uint32_t channel;           /* relayed: the relay's channel id; 0: direct */
};

int path_addr_eq(const struct path_addr *a, const struct path_addr *b);
void path_addr_direct(struct path_addr *p, const struct sockaddr *sa, socklen_t len);
const char *path_addr_fmt(const struct path_addr *p, char buf[96]);

#define PATH_MAX_CANDS 32
#define PATH_CHALLENGE_LEN 8

struct path_cand {
	struct path_addr to;
	enum path_method method;
	int relay;                  /* relayed: index of the relay among the peer's */
	uint8_t challenge[PATH_CHALLENGE_LEN];
	uint64_t challenged_ms;     /* 0: no challenge outstanding */
	uint64_t validated_ms;      /* 0: never answered */
	uint64_t expires_ms;        /* learned candidates age out; 0: never */
};

struct pathset {
	struct path_cand c[PATH_MAX_CANDS];
	size_t n;
};

/* pathset_add() - add or refresh a candidate; a known one keeps its
 * validation but takes the better (lower) method.  NULL if full. */
struct path_cand *pathset_add(struct pathset *s, const struct path_addr *to,
			      enum path_method m, int relay, uint64_t expires_ms);
struct path_cand *pathset_find(struct pathset *s, const struct path_addr *to);
/* pathset_answered() - the candidate a PATH_RESPONSE (its data, the path
 * it came on) answers, marked validated; NULL if it answers none */
struct path_cand *pathset_answered(struct pathset *s, const uint8_t data[PATH_CHALLENGE_LEN],
				   const struct path_addr *from, uint64_t now_ms);
/* pathset_best() - the preferred candidate validated since `since`, with
 * `current` winning ties; NULL if none */
struct path_cand *pathset_best(struct pathset *s, uint64_t since, const struct path_addr *current);
void pathset_expire(struct pathset *s, uint64_t now_ms);
void pathset_forget_relay(struct pathset *s, int relay);

/* The health of the path in use.  A quiet path is probed (PATH_CHALLENGE
 * on it) after interval_ms, which doubles from min_ms to max_ms while
 * probes are answered; one that carries data is probed sooner, after the
 * caller's busy threshold, so a path cut under load is noticed at once.
 * Any authenticated datagram on the path answers a probe; a probe with no
 * answer after timeout_ms means the path is lost.  On a busy path every
 * packet in flight is a probe too: it is lost timeout_ms after the last
 * datagram heard, not after the challenge. */
struct pathmon {
	uint64_t min_ms, max_ms, timeout_ms;
	uint64_t interval_ms;
	uint64_t last_rx_ms; /* the last authenticated datagram on the path */
	uint64_t probe_ms;   /* an unanswered probe went out then; 0: none */
};

enum pathmon_action { PM_WAIT, PM_PROBE, PM_LOST };

/* pathmon_start() - a new path: probe intervals start over */
void pathmon_start(struct pathmon *m, uint64_t min_ms, uint64_t max_ms, uint64_t timeout_ms,
		   uint64_t now_ms);
static inline void pathmon_rx(struct pathmon *m, uint64_t now_ms)
{
	m->last_rx_ms = now_ms;
}
/* pathmon_answered() - a PATH_RESPONSE to our probe: probe less often */
void pathmon_answered(struct pathmon *m, uint64_t now_ms);
/* pathmon_check() - what to do now; busy_ms: the quiet time after which a
 * path with data in flight is probed (0: nothing in flight) */
enum pathmon_action pathmon_check(struct pathmon *m, uint64_t now_ms, uint64_t busy_ms);
/* pathmon_deadline() - when pathmon_check() next has something to do */
uint64_t pathmon_deadline(const struct pathmon *m, uint64_t busy_ms);

/* Exponential backoff with "equal jitter": half fixed, half random, so
 * peers that lost the same path do not retry in lockstep. */
struct backoff {
	uint64_t next_ms; /* the next delay before jitter; 0: start over */
	uint64_t last_ms; /* the delay backoff_next() last chose, before jitter */
	uint64_t min_ms, max_ms;
};
/* backoff_next() - the delay to wait now; rnd is any random number */
uint64_t backoff_next(struct backoff *b, uint64_t rnd);
void backoff_reset(struct backoff *b);

#endif
