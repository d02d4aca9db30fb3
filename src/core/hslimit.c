/* hslimit.c: handshake limits per source (see hslimit.h). */
#include <netinet/in.h>
#include <string.h>

#include "hslimit.h"
#include "util.h"

#define TOKENS_MAX ((uint64_t)HS_BURST * 1000)

void hs_key_of(struct hs_key *k, const struct sockaddr *sa, uint32_t channel)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	const uint8_t *a6 = s6->sin6_addr.s6_addr;

	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET) {
		k->b[0] = 4;
		memcpy(k->b + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		/* a dual-stack socket shows IPv4 peers so: one source each,
		 * not one /64 for the whole IPv4 internet */
		k->b[0] = 4;
		memcpy(k->b + 1, a6 + 12, 4);
	} else if (sa->sa_family == AF_INET6) {
		k->b[0] = 6;
		memcpy(k->b + 1, a6, 8);
	}
	memcpy(k->b + 9, &channel, 4);
}

int hs_key_eq(const struct hs_key *a, const struct hs_key *b)
{
	return memcmp(a->b, b->b, HS_KEY_LEN) == 0;
}

static struct hs_source *find(struct hslimit *h, const struct hs_key *k)
{
	size_t i;

	for (i = 0; i < HS_SOURCES; i++)
		if (h->src[i].used && hs_key_eq(&h->src[i].key, k))
			return &h->src[i];
	return NULL;
}

/* refill() - the tokens a source earned since it was last looked at */
static void refill(struct hs_source *s, uint64_t now_ms)
{
	if (now_ms > s->at_ms)
		s->tokens_milli += (now_ms - s->at_ms) * HS_RATE_PER_S;
	if (s->tokens_milli > TOKENS_MAX)
		s->tokens_milli = TOKENS_MAX;
	s->at_ms = now_ms;
}

/* slot_for() - an entry for a new source: a free one, else the one that
 * has been quiet longest among those holding no handshake (there are
 * always such: HS_SOURCES > HS_TOTAL).  Forgetting a source refills its
 * bucket, which only matters for one whose bucket was not full anyway. */
static struct hs_source *slot_for(struct hslimit *h, const struct hs_key *k, uint64_t now_ms)
{
	struct hs_source *s = NULL;
	size_t i;

	for (i = 0; i < HS_SOURCES; i++) {
		struct hs_source *c = &h->src[i];

		if (!c->used) {
			s = c;
			break;
		}
		if (!c->pending && (!s || c->at_ms < s->at_ms))
			s = c;
	}
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->used = 1;
	s->key = *k;
	s->tokens_milli = TOKENS_MAX;
	s->at_ms = now_ms;
	return s;
}

int hslimit_may_try(struct hslimit *h, const struct hs_key *k, uint64_t now_ms)
{
	struct hs_source *s = find(h, k);

	if (!s)
		return 1;
	refill(s, now_ms);
	return s->tokens_milli >= 1000;
}

static struct hs_source *busiest(struct hslimit *h)
{
	struct hs_source *b = NULL;
	size_t i;

	for (i = 0; i < HS_SOURCES; i++)
		if (h->src[i].used && (!b || h->src[i].pending > b->pending))
			b = &h->src[i];
	return b;
}

enum hs_verdict hslimit_admit(struct hslimit *h, const struct hs_key *k, uint64_t now_ms,
			      struct hs_key *evict)
{
	struct hs_source *s = find(h, k);
	enum hs_verdict v = HS_ADMIT;

	if (!s && !(s = slot_for(h, k, now_ms)))
		return HS_REFUSE_RATE; /* cannot happen: see slot_for() */
	refill(s, now_ms);
	if (s->tokens_milli < 1000)
		return HS_REFUSE_RATE;
	s->tokens_milli -= 1000;
	if (s->pending >= HS_PER_SOURCE) {
		*evict = s->key;
		v = HS_ADMIT_EVICT_SOURCE;
	} else if (h->pending >= HS_TOTAL) {
		*evict = busiest(h)->key;
		v = HS_ADMIT_EVICT_BUSIEST;
	}
	s->pending++;
	h->pending++;
	return v;
}

void hslimit_done(struct hslimit *h, const struct hs_key *k)
{
	struct hs_source *s = find(h, k);

	if (!s || !s->pending)
		return;
	s->pending--;
	h->pending--;
}

unsigned hslimit_pending(const struct hslimit *h, const struct hs_key *k)
{
	size_t i;

	for (i = 0; i < HS_SOURCES; i++)
		if (h->src[i].used && hs_key_eq(&h->src[i].key, k))
			return h->src[i].pending;
	return 0;
}
