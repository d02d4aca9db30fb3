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
#define PATH_MAX_LEARNED 4  /* learned from traffic and not yet answered */
#define PATH_CHALLENGE_LEN 8

/* Where a candidate came from, strongest first: a refresh keeps the
 * strongest it was ever given. */
enum path_origin {
	PATH_CONFIGURED,  /* an endpoint the operator gave: never evicted, never limited */
	PATH_ANNOUNCED,   /* the peer or a relay named it (CANDIDATES, RELAY_INTRO) */
	PATH_LEARNED,     /* authenticated traffic came from it */
};

struct path_cand {
	struct path_addr to;
	enum path_method method;
	enum path_origin origin;
	int relay;                  /* relayed: index of the relay among the peer's */
	uint8_t challenge[PATH_CHALLENGE_LEN];
	/* the challenge before it, still answerable: a challenge sent again
	 * sooner than the path's round trip must not void the one in flight */
	uint8_t challenge_prev[PATH_CHALLENGE_LEN];
	uint64_t challenged_ms;     /* 0: no challenge outstanding */
	uint64_t validated_ms;      /* 0: never answered */
	uint64_t expires_ms;        /* learned candidates age out; 0: never */
	uint64_t added_ms;
	/* anti-amplification (RFC 9000 8), since it last answered */
	uint64_t rx_bytes;          /* authenticated bytes that came from it */
	uint64_t tx_bytes;          /* bytes we sent it */
};

struct pathset {
	struct path_cand c[PATH_MAX_CANDS];
	size_t n;
	uint64_t evicted;           /* candidates pushed out to make room */
};

/* What is known of a candidate when it is added. */
struct path_new {
	const struct path_addr *to;
	enum path_method method;
	enum path_origin origin;
	int relay;                  /* relayed: the relay's index; -1 otherwise */
	uint64_t expires_ms;        /* 0: never */
};

/* pathset_add() - add or refresh a candidate; a known one keeps its
 * validation but takes the better (lower) method and origin.  A full set
 * makes room: configured endpoints and the path in use stay, the oldest
 * unanswered candidate goes first, then the one answered longest ago; and
 * unanswered candidates learned from traffic are kept to PATH_MAX_LEARNED,
 * so the newest (the peer's real new address) always gets in.  NULL only
 * when every entry is configured or in use. */
struct path_cand *pathset_add(struct pathset *s, const struct path_new *n,
			      const struct path_addr *in_use, uint64_t now_ms);
struct path_cand *pathset_find(struct pathset *s, const struct path_addr *to);
/* pathset_index() - where to is in s, or -1 */
long pathset_index(const struct pathset *s, const struct path_addr *to);
/* pathset_answered() - the candidate a PATH_RESPONSE (its data, the path
 * it came on) answers, marked validated; NULL if it answers none */
struct path_cand *pathset_answered(struct pathset *s, const uint8_t data[PATH_CHALLENGE_LEN],
				   const struct path_addr *from, uint64_t now_ms);
/* pathset_best() - the preferred candidate validated since `since`, with
 * `current` winning ties; NULL if none */
struct path_cand *pathset_best(struct pathset *s, uint64_t since, const struct path_addr *current);
void pathset_expire(struct pathset *s, uint64_t now_ms);
void pathset_forget_relay(struct pathset *s, int relay);

/* Anti-amplification (RFC 9000 8, 8.2.1): until an address answered a
 * challenge, what we send it stays within PATH_AMPLIFICATION times the
 * authenticated bytes that came from it.  An address a peer or relay
 * announced has sent nothing yet: it gets PATH_ANNOUNCED_BYTES in all, for
 * a few unpadded challenges or handshakes (hole punching needs no more).
 * Configured endpoints, paths through a relay (whose own address is
 * validated by its session), the path in use (validated before it was
 * taken, as RFC 9000 9 has it: it stays so while the session is on it)
 * and a path answered within PATH_VALID_MS are not limited. */
#define PATH_AMPLIFICATION 3
#define PATH_ANNOUNCED_BYTES 4096
#define PATH_BARE_PROBE_BYTES 128 /* a PATH_CHALLENGE and its headers, unpadded */
#define PATH_VALID_MS 35000
#define PATH_UNLIMITED UINT64_MAX
/* path_cand_allowance() - bytes that may still go to c; in_use: it is the
 * path the session is on */
uint64_t path_cand_allowance(const struct path_cand *c, int in_use, uint64_t now_ms);
/* path_cand_probe_max() - the largest datagram a challenge to c may be now:
 * what an announced address was granted pays for bare challenges only (so
 * it lasts many rounds); what an address earned by sending may pad them */
uint64_t path_cand_probe_max(const struct path_cand *c, int in_use, uint64_t now_ms);
static inline void path_cand_sent(struct path_cand *c, uint64_t bytes)
{
	c->tx_bytes += bytes;
}
static inline void path_cand_received(struct path_cand *c, uint64_t bytes)
{
	c->rx_bytes += bytes;
}

/* Candidates a peer or relay names, and addresses traffic came from, pass
 * this filter: none that reaches nothing (unspecified, multicast,
 * broadcast) or this host itself and what it is attached to (loopback,
 * link-local, its own networks), unless the operator allowed the range.
 * Configured endpoints do not pass through it. */
struct path_prefix {
	int family;                 /* AF_INET or AF_INET6 */
	uint8_t addr[16];           /* IPv4 in the first 4 bytes */
	unsigned len;
};

enum path_verdict {
	PATH_OK,
	PATH_BAD_PORT,
	PATH_BAD_UNSPECIFIED,
	PATH_BAD_LOOPBACK,
	PATH_BAD_LINK_LOCAL,
	PATH_BAD_MULTICAST,
	PATH_BAD_BROADCAST,
	PATH_BAD_LOCAL_NET,
};

/* path_filter() - may we send to sa?  local: the prefixes of this host's
 * interfaces; allow: ranges the operator allowed (candidate-allow) */
enum path_verdict path_filter(const struct sockaddr *sa, const struct path_prefix *local,
			      size_t nlocal, const struct path_prefix *allow, size_t nallow);
const char *path_verdict_name(enum path_verdict v);
int path_prefix_match(const struct path_prefix *p, int family, const uint8_t *addr);

/* The health of the path in use.  A quiet path is probed (PATH_CHALLENGE
 * on it) after interval_ms, which doubles from min_ms to max_ms while
 * probes are answered; one that carries data is probed sooner, after the
 * caller's busy threshold, so a path cut under load is noticed at once.
 * Any authenticated datagram on the path answers a probe; a probe with no
 * answer after timeout_ms means the path is lost.  On a busy path every
 * packet in flight is a probe too: it is lost timeout_ms after the last
 * datagram heard, not after the challenge -- but never counting from
 * before the path got busy: a path that was quiet because there was
 * nothing to say, and then gets data, has timeout_ms to answer from the
 * moment its silence became suspect (the busy threshold before the probe). */
struct pathmon {
	uint64_t min_ms, max_ms, timeout_ms;
	uint64_t interval_ms;
	uint64_t started_ms; /* the path was taken then */
	uint64_t last_rx_ms; /* the last authenticated datagram on the path */
	uint64_t probe_ms;   /* an unanswered probe went out then; 0: none */
	uint64_t busy_ref_ms; /* what a busy path's loss counts from while that probe is out */
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
