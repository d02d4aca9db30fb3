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

struct path_cand *pathset_find(struct pathset *s, const struct path_addr *to)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (path_addr_eq(&s->c[i].to, to))
			return &s->c[i];
	return NULL;
}

struct path_cand *pathset_add(struct pathset *s, const struct path_addr *to,
			      enum path_method m, int relay, uint64_t expires_ms)
{
	struct path_cand *c = pathset_find(s, to);

	if (c) {
		if (m < c->method)
			c->method = m;
		if (!expires_ms || (c->expires_ms && expires_ms > c->expires_ms))
			c->expires_ms = expires_ms;
		return c;
	}
	if (s->n == PATH_MAX_CANDS)
		return NULL;
	c = &s->c[s->n++];
	memset(c, 0, sizeof(*c));
	c->to = *to;
	c->method = m;
	c->relay = relay;
	c->expires_ms = expires_ms;
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

		if (c->challenged_ms && memcmp(c->challenge, data, PATH_CHALLENGE_LEN) == 0 &&
		    path_addr_eq(&c->to, from)) {
			c->validated_ms = now_ms;
			c->challenged_ms = 0;
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

static void remove_at(struct pathset *s, size_t i)
{
	s->c[i] = s->c[--s->n];
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

void pathmon_start(struct pathmon *m, uint64_t min_ms, uint64_t max_ms, uint64_t timeout_ms,
		   uint64_t now_ms)
{
	m->min_ms = min_ms;
	m->max_ms = max_ms;
	m->timeout_ms = timeout_ms;
	m->interval_ms = min_ms;
	m->last_rx_ms = now_ms;
	m->probe_ms = 0;
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

/* probe_ref() - what an unanswered probe's timeout counts from */
static uint64_t probe_ref(const struct pathmon *m, uint64_t busy_ms)
{
	return busy_ms ? m->last_rx_ms : m->probe_ms;
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
