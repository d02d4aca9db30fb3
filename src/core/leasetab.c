/* leasetab.c: the lease table of the DHCPv4 and DHCPv6 servers; see
 * leasetab.h. */
#include <stdlib.h>

#include "leasetab.h"
#include "log.h"
#include "util.h"

/* lease_add_ms() - saturate: a lease of UINT64_MAX ms never ends */
uint64_t lease_add_ms(uint64_t now_ms, uint64_t hold_ms)
{
	return hold_ms > UINT64_MAX - now_ms ? UINT64_MAX : now_ms + hold_ms;
}

/* leasetab_size_check() - the table is scanned linearly on every message,
 * hence the upper bound */
int leasetab_size_check(const char *who, unsigned size, unsigned max)
{
	if (size == 0 || size > max) {
		log_warnx("%s: pool size %u not in 1..%u", who, size, max);
		return -1;
	}
	return 0;
}

void leasetab_init(struct leasetab *t, unsigned size)
{
	t->slot = xcalloc(size, sizeof(*t->slot));
	t->size = size;
	t->bind_seq = 0;
}

void leasetab_fini(struct leasetab *t)
{
	free(t->slot);
	t->slot = NULL;
}

/* leasetab_state() - every hold ends in FREE */
enum lease_state leasetab_state(const struct leasetab *t, unsigned i, uint64_t now_ms)
{
	const struct lease_slot *l = &t->slot[i];

	if (l->state != LEASE_FREE && now_ms >= l->expires_ms)
		return LEASE_FREE;
	return l->state;
}

/* leasetab_lowest_free() - the lowest, so the order of addresses handed
 * out depends only on the order clients arrive */
int leasetab_lowest_free(const struct leasetab *t, uint64_t now_ms)
{
	unsigned i;

	for (i = 0; i < t->size; i++)
		if (leasetab_state(t, i, now_ms) == LEASE_FREE)
			return (int)i;
	return -1;
}

/* leasetab_offer() - a bound lease stays bound: a rebooting client asks
 * again for the address it holds */
int leasetab_offer(struct leasetab *t, unsigned i, uint64_t now_ms, uint64_t hold_ms)
{
	struct lease_slot *l = &t->slot[i];

	if (leasetab_state(t, i, now_ms) == LEASE_BOUND)
		return 0;
	l->state = LEASE_OFFERED;
	l->expires_ms = lease_add_ms(now_ms, hold_ms);
	return 1;
}

/* leasetab_bind() - only a new binding takes a place in the order, so
 * leasetab_latest() stays put while several clients renew */
int leasetab_bind(struct leasetab *t, unsigned i, uint64_t now_ms, uint64_t lease_ms)
{
	struct lease_slot *l = &t->slot[i];
	int fresh = leasetab_state(t, i, now_ms) != LEASE_BOUND;

	if (fresh)
		l->bind_seq = ++t->bind_seq;
	l->state = LEASE_BOUND;
	l->expires_ms = lease_add_ms(now_ms, lease_ms);
	return fresh;
}

void leasetab_release(struct leasetab *t, unsigned i)
{
	t->slot[i].state = LEASE_FREE;
}

void leasetab_decline(struct leasetab *t, unsigned i, uint64_t now_ms, uint64_t hold_ms)
{
	t->slot[i].state = LEASE_DECLINED;
	t->slot[i].expires_ms = lease_add_ms(now_ms, hold_ms);
}

/* leasetab_latest() - what port forwards into the VM go to */
int leasetab_latest(const struct leasetab *t, uint64_t now_ms)
{
	int best = -1;
	unsigned i;

	for (i = 0; i < t->size; i++) {
		if (leasetab_state(t, i, now_ms) != LEASE_BOUND)
			continue;
		if (best < 0 || t->slot[i].bind_seq > t->slot[best].bind_seq)
			best = (int)i;
	}
	return best;
}

unsigned leasetab_count(const struct leasetab *t, uint64_t now_ms)
{
	unsigned i, n = 0;

	for (i = 0; i < t->size; i++)
		if (leasetab_state(t, i, now_ms) == LEASE_BOUND)
			n++;
	return n;
}
