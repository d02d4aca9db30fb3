/* path.c: candidates, validation, preference, backoff. */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "path.h"
#include "util.h"

static const char *const method_names[] = { "direct", "hole-punched", "relay" };

const char *path_method_name(enum path_method m)
{
	return method_names[m];
}

int path_addr_eq(const struct path_addr *a, const struct path_addr *b)
{
	return a->channel == b->channel && addr_eq((const struct sockaddr *)&a->sa,
						   (const struct sockaddr *)&b->sa);
}

void path_addr_direct(struct path_addr *p, const struct sockaddr *sa, socklen_t len)
{
	memset(p, 0, sizeof(*p));
	memcpy(&p->sa, sa, len);
	p->len = len;
}

const char *path_addr_fmt(const struct path_addr *p, char buf[96])
{
	char a[ADDRSTRLEN];

	addr_fmt((const struct sockaddr *)&p->sa, a);
	if (p->channel)
		snprintf(buf, 96, "relay %s channel %08x", a, p->channel);
	else
		snprintf(buf, 96, "%s", a);
	return buf;
}

long pathset_index(const struct pathset *s, const struct path_addr *to)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (path_addr_eq(&s->c[i].to, to))
			return (long)i;
	return -1;
}

struct path_cand *pathset_find(struct pathset *s, const struct path_addr *to)
{
	long i = pathset_index(s, to);

	return i < 0 ? NULL : &s->c[i];
}

/* evictable() - may c make room for a newcomer?  Never a configured
 * endpoint, nor the path in use */
static int evictable(const struct path_cand *c, const struct path_addr *in_use)
{
	return c->origin != PATH_CONFIGURED && !(in_use && path_addr_eq(&c->to, in_use));
}

/* older() - is a a better victim than b: unanswered before answered, then
 * the oldest (added, or answered) first */
static int older(const struct path_cand *a, const struct path_cand *b)
{
	if (!a->validated_ms != !b->validated_ms)
		return !a->validated_ms;
	if (!a->validated_ms)
		return a->added_ms < b->added_ms;
	return a->validated_ms < b->validated_ms;
}

/* victim() - the candidate to push out; learned_only: only unanswered
 * ones learned from traffic */
static struct path_cand *victim(struct pathset *s, const struct path_addr *in_use,
				int learned_only, size_t *count)
{
	struct path_cand *v = NULL;
	size_t i;

	*count = 0;
	for (i = 0; i < s->n; i++) {
		struct path_cand *c = &s->c[i];

		if (learned_only && (c->origin != PATH_LEARNED || c->validated_ms))
			continue;
		(*count)++;
		if (evictable(c, in_use) && (!v || older(c, v)))
			v = c;
	}
	return v;
}

static void remove_at(struct pathset *s, size_t i)
{
	s->c[i] = s->c[--s->n];
}

static void evict(struct pathset *s, struct path_cand *c)
{
	remove_at(s, (size_t)(c - s->c));
	s->evicted++;
}

/* make_room() - the learned cap first, then the table's size */
static int make_room(struct pathset *s, enum path_origin origin, const struct path_addr *in_use)
{
	struct path_cand *v;
	size_t count;

	if (origin == PATH_LEARNED) {
		v = victim(s, in_use, 1, &count);
		if (count >= PATH_MAX_LEARNED && v)
			evict(s, v);
	}
	if (s->n < PATH_MAX_CANDS)
		return 0;
	v = victim(s, in_use, 0, &count);
	if (!v)
		return -1;
	evict(s, v);
	return 0;
}

struct path_cand *pathset_add(struct pathset *s, const struct path_new *n,
			      const struct path_addr *in_use, uint64_t now_ms)
{
	struct path_cand *c = pathset_find(s, n->to);

	if (c) {
		if (n->method < c->method)
			c->method = n->method;
		if (n->origin < c->origin)
			c->origin = n->origin;
		if (!n->expires_ms || (c->expires_ms && n->expires_ms > c->expires_ms))
			c->expires_ms = n->expires_ms;
		return c;
	}
	if (make_room(s, n->origin, in_use) < 0)
		return NULL;
	c = &s->c[s->n++];
	memset(c, 0, sizeof(*c));
	c->to = *n->to;
	c->method = n->method;
	c->origin = n->origin;
	c->relay = n->relay;
	c->expires_ms = n->expires_ms;
	c->added_ms = now_ms;
	return c;
}

struct path_cand *pathset_answered(struct pathset *s, const uint8_t data[PATH_CHALLENGE_LEN],
				   const struct path_addr *from, uint64_t now_ms)
{
	size_t i;

	/* RFC 9000 8.2.2: the response must come on the path the challenge
	 * went out on */
	for (i = 0; i < s->n; i++) {
		struct path_cand *c = &s->c[i];

		if (c->challenged_ms &&
		    (memcmp(c->challenge, data, PATH_CHALLENGE_LEN) == 0 ||
		     memcmp(c->challenge_prev, data, PATH_CHALLENGE_LEN) == 0) &&
		    path_addr_eq(&c->to, from)) {
			c->validated_ms = now_ms;
			c->challenged_ms = 0;
			c->rx_bytes = c->tx_bytes = 0; /* a fresh budget once it lapses */
			return c;
		}
	}
	return NULL;
}

struct path_cand *pathset_best(struct pathset *s, uint64_t since, const struct path_addr *current)
{
	struct path_cand *best = NULL;
	size_t i;

	for (i = 0; i < s->n; i++) {
		struct path_cand *c = &s->c[i];

		if (!c->validated_ms || c->validated_ms < since)
			continue;
		if (!best || c->method < best->method ||
		    (c->method == best->method && current && path_addr_eq(&c->to, current)))
			best = c;
	}
	return best;
}

void pathset_expire(struct pathset *s, uint64_t now_ms)
{
	size_t i = 0;

	while (i < s->n) {
		if (s->c[i].expires_ms && s->c[i].expires_ms <= now_ms)
			remove_at(s, i);
		else
			i++;
	}
}

void pathset_forget_relay(struct pathset *s, int relay)
{
	size_t i = 0;

	while (i < s->n) {
		if (s->c[i].method == PATH_RELAY && s->c[i].relay == relay)
			remove_at(s, i);
		else
			i++;
	}
}

uint64_t path_cand_allowance(const struct path_cand *c, int in_use, uint64_t now_ms)
{
	uint64_t budget;

	if (in_use || c->origin == PATH_CONFIGURED || c->to.channel ||
	    (c->validated_ms && now_ms - c->validated_ms < PATH_VALID_MS))
		return PATH_UNLIMITED;
	budget = PATH_AMPLIFICATION * c->rx_bytes;
	if (c->origin == PATH_ANNOUNCED)
		budget += PATH_ANNOUNCED_BYTES;
	return budget > c->tx_bytes ? budget - c->tx_bytes : 0;
}

uint64_t path_cand_probe_max(const struct path_cand *c, int in_use, uint64_t now_ms)
{
	uint64_t allow = path_cand_allowance(c, in_use, now_ms), earned;

	if (allow == PATH_UNLIMITED || c->origin != PATH_ANNOUNCED)
		return allow;
	earned = PATH_AMPLIFICATION * c->rx_bytes;
	earned = earned > c->tx_bytes ? earned - c->tx_bytes : 0;
	return MIN(allow, MAX(earned, (uint64_t)PATH_BARE_PROBE_BYTES));
}

/* ---- the candidate filter ------------------------------------------------ */

static const char *const verdict_names[] = {
	[PATH_OK] = "ok",
	[PATH_BAD_PORT] = "port 0",
	[PATH_BAD_UNSPECIFIED] = "unspecified address",
	[PATH_BAD_LOOPBACK] = "loopback",
	[PATH_BAD_LINK_LOCAL] = "link-local",
	[PATH_BAD_MULTICAST] = "multicast",
	[PATH_BAD_BROADCAST] = "broadcast",
	[PATH_BAD_LOCAL_NET] = "a network this host is attached to",
};

const char *path_verdict_name(enum path_verdict v)
{
	return verdict_names[v];
}

int path_prefix_match(const struct path_prefix *p, int family, const uint8_t *addr)
{
	unsigned full = p->len / 8, rest = p->len % 8, max = family == AF_INET ? 32 : 128;

	if (p->family != family || p->len > max)
		return 0;
	if (memcmp(p->addr, addr, full) != 0)
		return 0;
	return !rest || ((p->addr[full] ^ addr[full]) & (0xff << (8 - rest))) == 0;
}

static int in_any(const struct path_prefix *p, size_t n, int family, const uint8_t *addr)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (path_prefix_match(&p[i], family, addr))
			return 1;
	return 0;
}

/* special_v4() - RFC 6890 ranges that reach no peer */
static enum path_verdict special_v4(const uint8_t *a)
{
	if (a[0] == 0)
		return PATH_BAD_UNSPECIFIED; /* "this network", 0/8 */
	if (a[0] == 127)
		return PATH_BAD_LOOPBACK;
	if (a[0] == 169 && a[1] == 254)
		return PATH_BAD_LINK_LOCAL;
	if (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255)
		return PATH_BAD_BROADCAST;
	if ((a[0] & 0xf0) == 224)
		return PATH_BAD_MULTICAST;
	return PATH_OK;
}

static enum path_verdict special_v6(const uint8_t *a)
{
	static const uint8_t zero[16], one[16] = { [15] = 1 };

	if (memcmp(a, zero, 16) == 0)
		return PATH_BAD_UNSPECIFIED;
	if (memcmp(a, one, 16) == 0)
		return PATH_BAD_LOOPBACK;
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return PATH_BAD_LINK_LOCAL;
	if (a[0] == 0xff)
		return PATH_BAD_MULTICAST;
	return PATH_OK;
}

enum path_verdict path_filter(const struct sockaddr *sa, const struct path_prefix *local,
			      size_t nlocal, const struct path_prefix *allow, size_t nallow)
{
	uint8_t a[16] = { 0 };
	int family = sa->sa_family;
	uint16_t port;
	enum path_verdict v;

	if (family == AF_INET) {
		memcpy(a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		port = ((const struct sockaddr_in *)sa)->sin_port;
	} else if (family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		port = ((const struct sockaddr_in6 *)sa)->sin6_port;
		memcpy(a, a6, 16);
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			/* ::ffff:127.0.0.1 is 127.0.0.1 */
			family = AF_INET;
			memmove(a, a + 12, 4);
			memset(a + 4, 0, 12);
		}
	} else {
		return PATH_BAD_UNSPECIFIED;
	}
	if (!port)
		return PATH_BAD_PORT;
	if (in_any(allow, nallow, family, a))
		return PATH_OK;
	v = family == AF_INET ? special_v4(a) : special_v6(a);
	if (v != PATH_OK)
		return v;
	return in_any(local, nlocal, family, a) ? PATH_BAD_LOCAL_NET : PATH_OK;
}

/* ---- health -------------------------------------------------------------- */

void pathmon_start(struct pathmon *m, uint64_t min_ms, uint64_t max_ms, uint64_t timeout_ms,
		   uint64_t now_ms)
{
	m->min_ms = min_ms;
	m->max_ms = max_ms;
	m->timeout_ms = timeout_ms;
	m->interval_ms = min_ms;
	m->started_ms = now_ms;
	m->last_rx_ms = now_ms;
	m->probe_ms = 0;
	m->busy_ref_ms = 0;
}

void pathmon_answered(struct pathmon *m, uint64_t now_ms)
{
	m->last_rx_ms = now_ms;
	m->probe_ms = 0;
	m->interval_ms = m->interval_ms >= m->max_ms / 2 ? m->max_ms : m->interval_ms * 2;
}

static uint64_t quiet_limit(const struct pathmon *m, uint64_t busy_ms)
{
	return busy_ms && busy_ms < m->interval_ms ? busy_ms : m->interval_ms;
}

/* probe_ref() - what an unanswered probe's timeout counts from: idle, the
 * probe; busy, the last datagram heard -- or, when the path was quiet long
 * before it got busy, when its silence under load began (11.20) */
static uint64_t probe_ref(const struct pathmon *m, uint64_t busy_ms)
{
	return busy_ms ? m->busy_ref_ms : m->probe_ms;
}

enum pathmon_action pathmon_check(struct pathmon *m, uint64_t now_ms, uint64_t busy_ms)
{
	if (m->probe_ms && m->last_rx_ms >= m->probe_ms)
		m->probe_ms = 0; /* the path delivered since: alive */
	if (m->probe_ms)
		return now_ms - probe_ref(m, busy_ms) >= m->timeout_ms ? PM_LOST : PM_WAIT;
	if (now_ms - m->last_rx_ms < quiet_limit(m, busy_ms))
		return PM_WAIT;
	m->probe_ms = now_ms ? now_ms : 1;
	/* busy, the probe goes out a busy threshold into the silence: the
	 * loss counts from then, or from the last datagram if later (a long
	 * idle interval is no silence under load); idle, from the probe */
	m->busy_ref_ms = busy_ms && now_ms >= busy_ms ? MAX(m->last_rx_ms, now_ms - busy_ms)
						       : m->probe_ms;
	return PM_PROBE;
}

uint64_t pathmon_deadline(const struct pathmon *m, uint64_t busy_ms)
{
	if (m->probe_ms && m->last_rx_ms < m->probe_ms)
		return probe_ref(m, busy_ms) + m->timeout_ms;
	return m->last_rx_ms + quiet_limit(m, busy_ms);
}

uint64_t backoff_next(struct backoff *b, uint64_t rnd)
{
	uint64_t d;

	if (b->next_ms < b->min_ms)
		b->next_ms = b->min_ms;
	d = b->last_ms = b->next_ms;
	b->next_ms = d >= b->max_ms / 2 ? b->max_ms : d * 2;
	return d < 2 ? d : d / 2 + rnd % (d / 2 + 1);
}

void backoff_reset(struct backoff *b)
{
	b->next_ms = b->last_ms = 0;
}
