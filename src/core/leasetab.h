/* leasetab.h: the lease table dhcp.c and dhcp6.c share.
 *
 * One slot per pool address: free, offered, bound or declined until a time,
 * after which it is free again.  Who owns a slot (a DHCPv4 client
 * identifier, a DHCPv6 DUID and IAID) differs by protocol, so each server
 * keeps its owners in an array parallel to the slots.  Pure: time comes in
 * as now_ms. */
#ifndef OMNET_LEASETAB_H
#define OMNET_LEASETAB_H

#include <stdint.h>

enum lease_state { LEASE_FREE, LEASE_OFFERED, LEASE_BOUND, LEASE_DECLINED };

struct lease_slot {
	enum lease_state state;
	uint64_t expires_ms;	/* state falls back to LEASE_FREE then */
	uint64_t bind_seq;	/* order of binding, for leasetab_latest() */
};

struct leasetab {
	struct lease_slot *slot;	/* one per pool address */
	unsigned size;
	uint64_t bind_seq;		/* the latest binding's */
};

/* lease_add_ms() - now_ms plus a hold, saturating rather than wrapping */
uint64_t lease_add_ms(uint64_t now_ms, uint64_t hold_ms);

/* leasetab_size_check() - whether a pool of size fits 1..max; -1, with a
 * warning naming who ("dhcp", "dhcp6"), if not */
int leasetab_size_check(const char *who, unsigned size, unsigned max);

/* leasetab_init() - size free slots (size checked by the caller);
 * leasetab_fini() frees them */
void leasetab_init(struct leasetab *t, unsigned size);
void leasetab_fini(struct leasetab *t);

/* leasetab_state() - the state of slot i at now_ms */
enum lease_state leasetab_state(const struct leasetab *t, unsigned i, uint64_t now_ms);

/* leasetab_lowest_free() - the lowest slot free at now_ms, -1 if none */
int leasetab_lowest_free(const struct leasetab *t, uint64_t now_ms);

/* leasetab_offer() - hold slot i as offered for hold_ms; 0 when it is
 * bound, which it stays (the caller then keeps its owner), else 1 */
int leasetab_offer(struct leasetab *t, unsigned i, uint64_t now_ms, uint64_t hold_ms);

/* leasetab_bind() - bind slot i for lease_ms; 1 when that is a new
 * binding, 0 for a renewal, which keeps its place in leasetab_latest() */
int leasetab_bind(struct leasetab *t, unsigned i, uint64_t now_ms, uint64_t lease_ms);

/* leasetab_release() - slot i free at once (its owner is for the caller
 * to keep or clear) */
void leasetab_release(struct leasetab *t, unsigned i);

/* leasetab_decline() - keep slot i out of the pool for hold_ms */
void leasetab_decline(struct leasetab *t, unsigned i, uint64_t now_ms, uint64_t hold_ms);

/* leasetab_latest() - the bound slot bound last, -1 if none is bound */
int leasetab_latest(const struct leasetab *t, uint64_t now_ms);

/* leasetab_count() - how many slots are bound at now_ms */
unsigned leasetab_count(const struct leasetab *t, uint64_t now_ms);

#endif
