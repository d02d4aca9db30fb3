/* rangeset.h: a set of uint64 values kept as sorted, disjoint, half-open
 * ranges [lo, hi).  Used for received packet numbers (ACK ranges), stream
 * bytes acknowledged, bytes to retransmit and bytes received out of order. */
#ifndef OMNET_RANGESET_H
#define OMNET_RANGESET_H

#include <stddef.h>
#include <stdint.h>

struct range {
	uint64_t lo, hi; /* [lo, hi) */
};

struct rangeset {
	struct range *r;
	size_t n, cap;
	size_t max; /* 0: unbounded; else the lowest ranges are dropped beyond max */
};

void rangeset_init(struct rangeset *s, size_t max);
void rangeset_free(struct rangeset *s);
void rangeset_clear(struct rangeset *s);
void rangeset_add(struct rangeset *s, uint64_t lo, uint64_t hi);
void rangeset_remove(struct rangeset *s, uint64_t lo, uint64_t hi);
int rangeset_contains(const struct rangeset *s, uint64_t v);
/* rangeset_index() - the index of the range holding v; s->n if none */
size_t rangeset_index(const struct rangeset *s, uint64_t v);
/* rangeset_covers() - whether all of [lo, hi) is in the set */
int rangeset_covers(const struct rangeset *s, uint64_t lo, uint64_t hi);
/* rangeset_first_gap() - the first value >= from that is not in the set */
uint64_t rangeset_first_gap(const struct rangeset *s, uint64_t from);
/* rangeset_next() - the first range that overlaps or follows from, clipped
 * to start at from; 0 if there is none */
int rangeset_next(const struct rangeset *s, uint64_t from, struct range *out);
static inline int rangeset_empty(const struct rangeset *s)
{
	return s->n == 0;
}
uint64_t rangeset_total(const struct rangeset *s);
/* rangeset_adds_range() - whether adding [lo, hi) would make one range
 * more (it touches none of those held) */
int rangeset_adds_range(const struct rangeset *s, uint64_t lo, uint64_t hi);

#endif
