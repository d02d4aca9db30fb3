/* hslimit.h: how many DTLS handshakes one source may make us start and keep.
 *
 * A ClientHello that returns its cookie costs the server an ECDHE key and a
 * signature, and a pending handshake until it completes or times out.  The
 * cookie proves only that the sender receives at its address, so the
 * limits are per source address: an IPv4 address, or an IPv6 /64 (one
 * host's usual allocation), and the relay channel it came through.  Each
 * source has
 *   - a token bucket of new handshakes (HS_RATE_PER_S, HS_BURST deep),
 *     spent only by a cookie that checked out, so a spoofer cannot drain
 *     another's bucket;
 *   - at most HS_PER_SOURCE pending: a newcomer beyond that replaces the
 *     source's own oldest attempt (a client that restarted is never locked
 *     out by its own stale attempts);
 * and all sources together at most HS_TOTAL pending: a newcomer beyond
 * that replaces the oldest attempt of the busiest source, so a crowd of
 * flooders costs each other, not the peer that arrives late.
 * Pure: time comes in as ms. */
#ifndef OMNET_HSLIMIT_H
#define OMNET_HSLIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HS_PER_SOURCE 4
#define HS_TOTAL 64
#define HS_RATE_PER_S 4
#define HS_BURST 8
#define HS_SOURCES 256 /* sources remembered; > HS_TOTAL, so one is always free */

/* family, then the IPv4 address or the IPv6 /64, then the relay channel */
#define HS_KEY_LEN (1 + 8 + 4)
struct hs_key {
	uint8_t b[HS_KEY_LEN];
};

struct hs_source {
	struct hs_key key;
	unsigned pending;
	uint64_t tokens_milli; /* thousandths of a handshake */
	uint64_t at_ms;        /* the bucket was last filled up to then */
	int used;
};

struct hslimit {
	struct hs_source src[HS_SOURCES];
	unsigned pending;      /* all sources */
};

enum hs_verdict {
	HS_ADMIT,              /* start it */
	HS_ADMIT_EVICT_SOURCE, /* start it in place of the source's oldest */
	HS_ADMIT_EVICT_BUSIEST,/* start it in place of the busiest source's oldest */
	HS_REFUSE_RATE,        /* the source started too many lately */
};

/* hs_key_of() - the source a datagram came from: sa and the relay channel */
void hs_key_of(struct hs_key *k, const struct sockaddr *sa, uint32_t channel);
int hs_key_eq(const struct hs_key *a, const struct hs_key *b);

/* hslimit_may_try() - could the source start one now?  Checked before the
 * cookie is, to spare a source out of tokens the work of checking it */
int hslimit_may_try(struct hslimit *h, const struct hs_key *k, uint64_t now_ms);
/* hslimit_admit() - a cookie checked out: what to do with the handshake.
 * On an admission the token is spent and the handshake counted pending
 * (the caller evicts as told first, and calls hslimit_done() for it);
 * *evict names the source to take the oldest attempt from. */
enum hs_verdict hslimit_admit(struct hslimit *h, const struct hs_key *k, uint64_t now_ms,
			      struct hs_key *evict);
/* hslimit_done() - a pending handshake of that source completed or went */
void hslimit_done(struct hslimit *h, const struct hs_key *k);
unsigned hslimit_pending(const struct hslimit *h, const struct hs_key *k);

#endif
