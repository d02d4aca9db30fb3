/* rangeset.c: sorted disjoint ranges in a growable array.
 *
 * Sets stay small in practice (a few ranges: holes from loss), so a sorted
 * array with binary search beats a tree; insertion merges neighbours. */
#include <stdlib.h>
#include <string.h>

#include "rangeset.h"
#include "util.h"

void rangeset_init(struct rangeset *s, size_t max)
{
	s->r = NULL;
	s->n = s->cap = 0;
	s->max = max;
}

void rangeset_free(struct rangeset *s)
{
	free(s->r);
	rangeset_init(s, s->max);
}

void rangeset_clear(struct rangeset *s)
{
	s->n = 0;
}

/* lower_bound() - index of the first range with hi >= v */
static size_t lower_bound(const struct rangeset *s, uint64_t v)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->r[mid].hi < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void reserve(struct rangeset *s, size_t n)
{
	if (n <= s->cap)
		return;
	s->cap = s->cap ? s->cap * 2 : 4;
	if (s->cap < n)
		s->cap = n;
	s->r = xrealloc(s->r, s->cap * sizeof(*s->r));
}

/* enforce_max() - beyond the bound, the lowest ranges are forgotten */
static void enforce_max(struct rangeset *s)
{
	if (s->max && s->n > s->max) {
		size_t drop = s->n - s->max;

		memmove(&s->r[0], &s->r[drop], (s->n - drop) * sizeof(*s->r));
		s->n -= drop;
	}
}

/* rangeset_add() - insert [lo, hi), merging with every range it touches */
void rangeset_add(struct rangeset *s, uint64_t lo, uint64_t hi)
{
	size_t i, j;

	if (lo >= hi)
		return;
	i = lower_bound(s, lo); /* first range that ends at or after lo */
	j = i;
	while (j < s->n && s->r[j].lo <= hi) {
		lo = MIN(lo, s->r[j].lo);
		hi = MAX(hi, s->r[j].hi);
		j++;
	}
	if (j == i) {
		reserve(s, s->n + 1);
		memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof(*s->r));
		s->n++;
	} else if (j > i + 1) {
		memmove(&s->r[i + 1], &s->r[j], (s->n - j) * sizeof(*s->r));
		s->n -= j - i - 1;
	}
	s->r[i].lo = lo;
	s->r[i].hi = hi;
	enforce_max(s);
}

/* rangeset_remove() - take [lo, hi) out, splitting a range if needed */
void rangeset_remove(struct rangeset *s, uint64_t lo, uint64_t hi)
{
	size_t i;

	if (lo >= hi)
		return;
	i = lower_bound(s, lo + 1);
	while (i < s->n && s->r[i].lo < hi) {
		struct range *r = &s->r[i];

		if (r->lo < lo && r->hi > hi) { /* split */
			reserve(s, s->n + 1);
			r = &s->r[i];
			memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof(*s->r));
			s->n++;
			s->r[i].hi = lo;
			s->r[i + 1].lo = hi;
			enforce_max(s);
			return;
		}
		if (r->lo < lo) {
			r->hi = lo;
			i++;
		} else if (r->hi > hi) {
			r->lo = hi;
			return;
		} else {
			memmove(&s->r[i], &s->r[i + 1], (s->n - i - 1) * sizeof(*s->r));
			s->n--;
		}
	}
}

/* The queries below search for v + 1; UINT64_MAX itself can never be in a
 * half-open range, so it is answered first. */
int rangeset_contains(const struct rangeset *s, uint64_t v)
{
	size_t i;

	if (v == UINT64_MAX)
		return 0;
	i = lower_bound(s, v + 1);

	return i < s->n && s->r[i].lo <= v;
}

size_t rangeset_index(const struct rangeset *s, uint64_t v)
{
	size_t i;

	if (v == UINT64_MAX)
		return s->n;
	i = lower_bound(s, v + 1);
	return i < s->n && s->r[i].lo <= v ? i : s->n;
}

int rangeset_covers(const struct rangeset *s, uint64_t lo, uint64_t hi)
{
	size_t i;

	if (lo >= hi)
		return 1;
	i = lower_bound(s, lo + 1);
	return i < s->n && s->r[i].lo <= lo && s->r[i].hi >= hi;
}

uint64_t rangeset_first_gap(const struct rangeset *s, uint64_t from)
{
	size_t i;

	if (from == UINT64_MAX)
		return from;
	i = lower_bound(s, from + 1);

	if (i < s->n && s->r[i].lo <= from)
		return s->r[i].hi;
	return from;
}

int rangeset_next(const struct rangeset *s, uint64_t from, struct range *out)
{
	size_t i;

	if (from == UINT64_MAX)
		return 0;
	i = lower_bound(s, from + 1);

	if (i >= s->n)
		return 0;
	out->lo = MAX(s->r[i].lo, from);
	out->hi = s->r[i].hi;
	return 1;
}

int rangeset_adds_range(const struct rangeset *s, uint64_t lo, uint64_t hi)
{
	size_t i;

	if (lo >= hi)
		return 0;
	i = lower_bound(s, lo); /* the first range that ends at or after lo */
	return i == s->n || s->r[i].lo > hi;
}

uint64_t rangeset_total(const struct rangeset *s)
{
	uint64_t t = 0;
	size_t i;

	for (i = 0; i < s->n; i++)
		t += s->r[i].hi - s->r[i].lo;
	return t;
}
