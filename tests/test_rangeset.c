/* test_rangeset.c: sorted disjoint [lo, hi) ranges.
 *
 * Every way an added range can meet the existing ones (overlap, touch on
 * either side, contain, sit inside), every way a removal can cut them,
 * the queries at range edges, the max bound, and a randomized comparison
 * with a plain bitmap. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rangeset.h"
#include "util.h"

/* REQUIRE() - an assertion for hot loops: a passing ck_assert() reports its
 * location to the parent process, which costs a write per call */
#define REQUIRE(c, fmt, ...)                                                   \
	do {                                                                   \
		if (!(c))                                                      \
			ck_abort_msg("Assertion '%s' failed: " fmt, #c, ##__VA_ARGS__); \
	} while (0)

/* expect_ranges() - the set holds exactly these ranges, in this order */
static void expect_ranges(const struct rangeset *s, const struct range *want, size_t n)
{
	size_t i;

	ck_assert_uint_eq(s->n, n);
	for (i = 0; i < n; i++) {
		ck_assert_msg(s->r[i].lo == want[i].lo && s->r[i].hi == want[i].hi,
			      "range %zu: got [%llu, %llu), want [%llu, %llu)", i,
			      (unsigned long long)s->r[i].lo, (unsigned long long)s->r[i].hi,
			      (unsigned long long)want[i].lo, (unsigned long long)want[i].hi);
	}
}

#define EXPECT(s, ...)                                                    \
	do {                                                              \
		const struct range want_[] = { __VA_ARGS__ };             \
		expect_ranges((s), want_, sizeof(want_) / sizeof(want_[0])); \
	} while (0)

#define R(a, b) { (a), (b) }

/* a set of [10,20) [30,40) [50,60) to cut and merge against */
static void three(struct rangeset *s)
{
	rangeset_init(s, 0);
	rangeset_add(s, 30, 40);
	rangeset_add(s, 10, 20);
	rangeset_add(s, 50, 60);
	EXPECT(s, R(10, 20), R(30, 40), R(50, 60));
}

/* ---- add ------------------------------------------------------------ */

START_TEST(test_add_keeps_disjoint_ranges_sorted)
{
	struct rangeset s;

	rangeset_init(&s, 0);
	ck_assert(rangeset_empty(&s));
	rangeset_add(&s, 50, 60); /* into empty */
	EXPECT(&s, R(50, 60));
	rangeset_add(&s, 10, 20); /* in front */
	rangeset_add(&s, 90, 100); /* at the back */
	rangeset_add(&s, 30, 40); /* in the middle */
	rangeset_add(&s, 70, 71);
	EXPECT(&s, R(10, 20), R(30, 40), R(50, 60), R(70, 71), R(90, 100));
	ck_assert(!rangeset_empty(&s));
	rangeset_free(&s);
	ck_assert(rangeset_empty(&s));
	ck_assert_ptr_null(s.r);
}
END_TEST

START_TEST(test_add_empty_or_inverted_range_is_noop)
{
	struct rangeset s;

	three(&s);
	rangeset_add(&s, 25, 25);
	rangeset_add(&s, 20, 20); /* empty, even where it touches */
	rangeset_add(&s, 45, 35);
	rangeset_add(&s, UINT64_MAX, 0);
	EXPECT(&s, R(10, 20), R(30, 40), R(50, 60));
	rangeset_free(&s);
}
END_TEST

START_TEST(test_add_merges_overlap_on_either_side)
{
	struct rangeset s;

	three(&s);
	rangeset_add(&s, 25, 35); /* overlaps [30,40) from the left */
	EXPECT(&s, R(10, 20), R(25, 40), R(50, 60));
	rangeset_add(&s, 55, 65); /* overlaps [50,60) from the right */
	EXPECT(&s, R(10, 20), R(25, 40), R(50, 65));
	rangeset_add(&s, 15, 27); /* bridges two ranges by overlap */
	EXPECT(&s, R(10, 40), R(50, 65));
	rangeset_free(&s);
}
END_TEST

START_TEST(test_add_merges_ranges_that_only_touch)
{
	struct rangeset s;

	three(&s);
	rangeset_add(&s, 20, 25); /* touches the end of [10,20) */
	EXPECT(&s, R(10, 25), R(30, 40), R(50, 60));
	rangeset_add(&s, 27, 30); /* touches the start of [30,40) */
	EXPECT(&s, R(10, 25), R(27, 40), R(50, 60));
	rangeset_add(&s, 40, 50); /* touches both neighbours exactly */
	EXPECT(&s, R(10, 25), R(27, 60));
	rangeset_add(&s, 25, 27); /* fills the last one-wide gap */
	EXPECT(&s, R(10, 60));
	rangeset_add(&s, 9, 10);
	rangeset_add(&s, 60, 61);
	EXPECT(&s, R(9, 61));
	rangeset_free(&s);
}
END_TEST

START_TEST(test_add_one_apart_does_not_merge)
{
	struct rangeset s;

	three(&s);
	rangeset_add(&s, 21, 29);
	EXPECT(&s, R(10, 20), R(21, 29), R(30, 40), R(50, 60));
	rangeset_free(&s);
}
END_TEST

START_TEST(test_add_containing_swallows_ranges)
{
	struct rangeset s;

	three(&s);
	rangeset_add(&s, 30, 40); /* identical */
	EXPECT(&s, R(10, 20), R(30, 40), R(50, 60));
	rangeset_add(&s, 5, 45); /* contains two, exact edges not needed */
	EXPECT(&s, R(5, 45), R(50, 60));
	rangeset_add(&s, 0, 1000);
	EXPECT(&s, R(0, 1000));
	ck_assert_uint_eq(rangeset_total(&s), 1000);
	rangeset_free(&s);

	three(&s);
	rangeset_add(&s, 10, 60); /* exactly from the first start to the last end */
	EXPECT(&s, R(10, 60));
	rangeset_free(&s);
}
END_TEST

START_TEST(test_add_inside_existing_changes_nothing)
{
	struct rangeset s;

	three(&s);
	rangeset_add(&s, 32, 38);
	rangeset_add(&s, 30, 31);
	rangeset_add(&s, 39, 40);
	rangeset_add(&s, 10, 20);
	EXPECT(&s, R(10, 20), R(30, 40), R(50, 60));
	rangeset_free(&s);
}
END_TEST

START_TEST(test_add_many_grows_array)
{
	struct rangeset s;
	uint64_t i;

	rangeset_init(&s, 0);
	/* backwards, so every insert shifts the whole array */
	for (i = 1000; i > 0; i--)
		rangeset_add(&s, i * 10, i * 10 + 5);
	ck_assert_uint_eq(s.n, 1000);
	ck_assert_uint_ge(s.cap, 1000);
	for (i = 0; i < 1000; i++) {
		ck_assert_uint_eq(s.r[i].lo, (i + 1) * 10);
		ck_assert_uint_eq(s.r[i].hi, (i + 1) * 10 + 5);
	}
	ck_assert_uint_eq(rangeset_total(&s), 5000);
	/* one add bridges them all */
	rangeset_add(&s, 15, 10000);
	EXPECT(&s, R(10, 10005));
	rangeset_free(&s);
}
END_TEST

/* ---- remove --------------------------------------------------------- */

START_TEST(test_remove_from_middle_splits)
{
	struct rangeset s;

	three(&s);
	rangeset_remove(&s, 33, 35);
	EXPECT(&s, R(10, 20), R(30, 33), R(35, 40), R(50, 60));
	rangeset_remove(&s, 11, 12);
	EXPECT(&s, R(10, 11), R(12, 20), R(30, 33), R(35, 40), R(50, 60));
	ck_assert_uint_eq(rangeset_total(&s), 1 + 8 + 3 + 5 + 10);
	rangeset_free(&s);
}
END_TEST

START_TEST(test_remove_trims_either_end)
{
	struct rangeset s;

	three(&s);
	rangeset_remove(&s, 30, 32); /* exact start */
	EXPECT(&s, R(10, 20), R(32, 40), R(50, 60));
	rangeset_remove(&s, 38, 40); /* exact end */
	EXPECT(&s, R(10, 20), R(32, 38), R(50, 60));
	rangeset_remove(&s, 5, 12); /* from before the start */
	EXPECT(&s, R(12, 20), R(32, 38), R(50, 60));
	rangeset_remove(&s, 55, 70); /* past the end */
	EXPECT(&s, R(12, 20), R(32, 38), R(50, 55));
	rangeset_remove(&s, 18, 34); /* end of one, start of the next */
	EXPECT(&s, R(12, 18), R(34, 38), R(50, 55));
	rangeset_free(&s);
}
END_TEST

START_TEST(test_remove_whole_ranges)
{
	struct rangeset s;

	three(&s);
	rangeset_remove(&s, 30, 40); /* exactly one */
	EXPECT(&s, R(10, 20), R(50, 60));
	rangeset_add(&s, 30, 40);
	rangeset_remove(&s, 25, 45); /* one, with margin */
	EXPECT(&s, R(10, 20), R(50, 60));
	rangeset_add(&s, 30, 40);
	rangeset_remove(&s, 10, 60); /* all, exactly */
	ck_assert(rangeset_empty(&s));
	rangeset_free(&s);
	three(&s);
	rangeset_remove(&s, 15, 55); /* trims both ends, drops the middle */
	EXPECT(&s, R(10, 15), R(55, 60));
	rangeset_remove(&s, 0, UINT64_MAX);
	ck_assert(rangeset_empty(&s));
	ck_assert_uint_eq(rangeset_total(&s), 0);
	rangeset_free(&s);
}
END_TEST

START_TEST(test_remove_outside_ranges_is_noop)
{
	struct rangeset s;

	three(&s);
	rangeset_remove(&s, 20, 30); /* exactly the gap */
	rangeset_remove(&s, 0, 10);  /* touches the first start */
	rangeset_remove(&s, 60, 100); /* touches the last end */
	rangeset_remove(&s, 45, 45); /* empty */
	rangeset_remove(&s, 35, 33); /* inverted */
	rangeset_remove(&s, 35, 35);
	EXPECT(&s, R(10, 20), R(30, 40), R(50, 60));
	rangeset_free(&s);

	rangeset_init(&s, 0);
	rangeset_remove(&s, 0, 100); /* empty set */
	ck_assert(rangeset_empty(&s));
	rangeset_free(&s);
}
END_TEST

START_TEST(test_remove_single_values)
{
	struct rangeset s;

	rangeset_init(&s, 0);
	rangeset_add(&s, 0, 1);
	rangeset_add(&s, 2, 3);
	rangeset_remove(&s, 0, 1);
	EXPECT(&s, R(2, 3));
	rangeset_remove(&s, 1, 2);
	EXPECT(&s, R(2, 3));
	rangeset_remove(&s, 2, 3);
	ck_assert(rangeset_empty(&s));
	rangeset_free(&s);
}
END_TEST

/* ---- queries -------------------------------------------------------- */

/* rangeset_index() says which range holds a value, or none */
START_TEST(test_index_of_the_range_holding_a_value)
{
	struct rangeset s;

	rangeset_init(&s, 0);
	ck_assert_uint_eq(rangeset_index(&s, 5), 0);
	rangeset_add(&s, 10, 20);
	rangeset_add(&s, 30, 40);
	rangeset_add(&s, 50, 51);
	ck_assert_uint_eq(rangeset_index(&s, 10), 0);
	ck_assert_uint_eq(rangeset_index(&s, 19), 0);
	ck_assert_uint_eq(rangeset_index(&s, 20), 3);
	ck_assert_uint_eq(rangeset_index(&s, 29), 3);
	ck_assert_uint_eq(rangeset_index(&s, 30), 1);
	ck_assert_uint_eq(rangeset_index(&s, 50), 2);
	ck_assert_uint_eq(rangeset_index(&s, 51), 3);
	ck_assert_uint_eq(rangeset_index(&s, UINT64_MAX), 3);
	rangeset_free(&s);
}
END_TEST

START_TEST(test_contains_at_range_edges)
{
	struct rangeset s;

	rangeset_init(&s, 0);
	ck_assert_int_eq(rangeset_contains(&s, 0), 0);
	ck_assert_int_eq(rangeset_contains(&s, 15), 0);
	three(&s);
	ck_assert_int_eq(rangeset_contains(&s, 0), 0);
	ck_assert_int_eq(rangeset_contains(&s, 9), 0);
	ck_assert_int_eq(rangeset_contains(&s, 10), 1);
	ck_assert_int_eq(rangeset_contains(&s, 19), 1);
	ck_assert_int_eq(rangeset_contains(&s, 20), 0);
	ck_assert_int_eq(rangeset_contains(&s, 29), 0);
	ck_assert_int_eq(rangeset_contains(&s, 30), 1);
	ck_assert_int_eq(rangeset_contains(&s, 39), 1);
	ck_assert_int_eq(rangeset_contains(&s, 40), 0);
	ck_assert_int_eq(rangeset_contains(&s, 59), 1);
	ck_assert_int_eq(rangeset_contains(&s, 60), 0);
	ck_assert_int_eq(rangeset_contains(&s, 1000000), 0);
	rangeset_add(&s, 0, 1);
	ck_assert_int_eq(rangeset_contains(&s, 0), 1);
	ck_assert_int_eq(rangeset_contains(&s, 1), 0);
	rangeset_free(&s);
}
END_TEST

START_TEST(test_covers_at_range_edges)
{
	struct rangeset s;

	three(&s);
	ck_assert_int_eq(rangeset_covers(&s, 10, 20), 1);
	ck_assert_int_eq(rangeset_covers(&s, 12, 18), 1);
	ck_assert_int_eq(rangeset_covers(&s, 19, 20), 1);
	ck_assert_int_eq(rangeset_covers(&s, 9, 20), 0);
	ck_assert_int_eq(rangeset_covers(&s, 10, 21), 0);
	ck_assert_int_eq(rangeset_covers(&s, 10, 40), 0); /* spans a gap */
	ck_assert_int_eq(rangeset_covers(&s, 20, 21), 0);
	ck_assert_int_eq(rangeset_covers(&s, 60, 61), 0);
	ck_assert_int_eq(rangeset_covers(&s, 59, 60), 1);
	/* an empty range is always covered, even in a gap */
	ck_assert_int_eq(rangeset_covers(&s, 25, 25), 1);
	ck_assert_int_eq(rangeset_covers(&s, 25, 5), 1);
	rangeset_free(&s);
	rangeset_init(&s, 0);
	ck_assert_int_eq(rangeset_covers(&s, 0, 1), 0);
	ck_assert_int_eq(rangeset_covers(&s, 7, 7), 1);
	rangeset_free(&s);
}
END_TEST

START_TEST(test_first_gap_at_range_edges)
{
	struct rangeset s;

	rangeset_init(&s, 0);
	ck_assert_uint_eq(rangeset_first_gap(&s, 0), 0);
	ck_assert_uint_eq(rangeset_first_gap(&s, 123), 123);
	three(&s);
	ck_assert_uint_eq(rangeset_first_gap(&s, 0), 0);
	ck_assert_uint_eq(rangeset_first_gap(&s, 9), 9);
	ck_assert_uint_eq(rangeset_first_gap(&s, 10), 20);
	ck_assert_uint_eq(rangeset_first_gap(&s, 19), 20);
	ck_assert_uint_eq(rangeset_first_gap(&s, 20), 20);
	ck_assert_uint_eq(rangeset_first_gap(&s, 29), 29);
	ck_assert_uint_eq(rangeset_first_gap(&s, 30), 40);
	ck_assert_uint_eq(rangeset_first_gap(&s, 60), 60);
	ck_assert_uint_eq(rangeset_first_gap(&s, 61), 61);
	rangeset_free(&s);
}
END_TEST

START_TEST(test_next_at_range_edges)
{
	struct rangeset s;
	struct range r;

	rangeset_init(&s, 0);
	ck_assert_int_eq(rangeset_next(&s, 0, &r), 0);
	three(&s);
	ck_assert_int_eq(rangeset_next(&s, 0, &r), 1);
	ck_assert_uint_eq(r.lo, 10);
	ck_assert_uint_eq(r.hi, 20);
	ck_assert_int_eq(rangeset_next(&s, 10, &r), 1);
	ck_assert_uint_eq(r.lo, 10);
	ck_assert_uint_eq(r.hi, 20);
	ck_assert_int_eq(rangeset_next(&s, 15, &r), 1); /* clipped */
	ck_assert_uint_eq(r.lo, 15);
	ck_assert_uint_eq(r.hi, 20);
	ck_assert_int_eq(rangeset_next(&s, 19, &r), 1);
	ck_assert_uint_eq(r.lo, 19);
	ck_assert_uint_eq(r.hi, 20);
	ck_assert_int_eq(rangeset_next(&s, 20, &r), 1); /* at the end: the next one */
	ck_assert_uint_eq(r.lo, 30);
	ck_assert_uint_eq(r.hi, 40);
	ck_assert_int_eq(rangeset_next(&s, 45, &r), 1);
	ck_assert_uint_eq(r.lo, 50);
	ck_assert_uint_eq(r.hi, 60);
	ck_assert_int_eq(rangeset_next(&s, 59, &r), 1);
	ck_assert_uint_eq(r.lo, 59);
	ck_assert_uint_eq(r.hi, 60);
	r.lo = r.hi = 777;
	ck_assert_int_eq(rangeset_next(&s, 60, &r), 0);
	ck_assert_int_eq(rangeset_next(&s, 1000, &r), 0);
	rangeset_free(&s);
}
END_TEST

START_TEST(test_total_empty_clear)
{
	struct rangeset s;

	rangeset_init(&s, 0);
	ck_assert_uint_eq(rangeset_total(&s), 0);
	ck_assert(rangeset_empty(&s));
	three(&s);
	ck_assert_uint_eq(rangeset_total(&s), 30);
	rangeset_add(&s, 1ULL << 40, (1ULL << 40) + 7);
	ck_assert_uint_eq(rangeset_total(&s), 37);
	rangeset_clear(&s);
	ck_assert(rangeset_empty(&s));
	ck_assert_uint_eq(rangeset_total(&s), 0);
	ck_assert_int_eq(rangeset_contains(&s, 15), 0);
	/* a cleared set is reusable without a new allocation */
	rangeset_add(&s, 1, 2);
	EXPECT(&s, R(1, 2));
	rangeset_free(&s);
	ck_assert(rangeset_empty(&s));
	/* and so is a freed one */
	rangeset_add(&s, 3, 4);
	EXPECT(&s, R(3, 4));
	rangeset_free(&s);
}
END_TEST

/* Values near the top of uint64: [lo, hi) can never hold UINT64_MAX. */
START_TEST(test_values_near_uint64_max)
{
	struct rangeset s;
	struct range r;

	rangeset_init(&s, 0);
	rangeset_add(&s, UINT64_MAX - 10, UINT64_MAX);
	ck_assert_int_eq(rangeset_contains(&s, UINT64_MAX - 10), 1);
	ck_assert_int_eq(rangeset_contains(&s, UINT64_MAX - 1), 1);
	ck_assert_int_eq(rangeset_contains(&s, UINT64_MAX - 11), 0);
	ck_assert_int_eq(rangeset_covers(&s, UINT64_MAX - 10, UINT64_MAX), 1);
	ck_assert_uint_eq(rangeset_first_gap(&s, UINT64_MAX - 5), UINT64_MAX);
	ck_assert_uint_eq(rangeset_total(&s), 10);
	rangeset_remove(&s, UINT64_MAX - 1, UINT64_MAX);
	EXPECT(&s, R(UINT64_MAX - 10, UINT64_MAX - 1));
	ck_assert_int_eq(rangeset_next(&s, UINT64_MAX - 2, &r), 1);
	ck_assert_uint_eq(r.lo, UINT64_MAX - 2);
	ck_assert_uint_eq(r.hi, UINT64_MAX - 1);
	rangeset_free(&s);
}
END_TEST

/* Queries from UINT64_MAX: no set can hold it, nothing lies above it.
 * (rangeset.c searches for v + 1, which wraps to 0 here.) */
START_TEST(test_queries_from_uint64_max_find_nothing)
{
	struct rangeset s;
	struct range r = { 777, 777 };
	uint64_t gap;
	int in, next;

	rangeset_init(&s, 0);
	rangeset_add(&s, 0, 10);
	in = rangeset_contains(&s, UINT64_MAX);
	gap = rangeset_first_gap(&s, UINT64_MAX);
	next = rangeset_next(&s, UINT64_MAX, &r);
	ck_assert_msg(in == 0 && gap == UINT64_MAX && next == 0,
		      "from UINT64_MAX in {[0,10)}: contains %d (want 0), first_gap %llu (want "
		      "UINT64_MAX), next %d [%llu, %llu) (want 0)",
		      in, (unsigned long long)gap, next, (unsigned long long)r.lo,
		      (unsigned long long)r.hi);
	rangeset_free(&s);
}
END_TEST

/* ---- the max bound -------------------------------------------------- */

START_TEST(test_max_drops_lowest_ranges)
{
	struct rangeset s;

	rangeset_init(&s, 3);
	rangeset_add(&s, 10, 20);
	rangeset_add(&s, 30, 40);
	rangeset_add(&s, 50, 60);
	EXPECT(&s, R(10, 20), R(30, 40), R(50, 60));
	rangeset_add(&s, 70, 80); /* a fourth: the lowest goes */
	EXPECT(&s, R(30, 40), R(50, 60), R(70, 80));
	rangeset_add(&s, 0, 5); /* the new range is itself the lowest */
	EXPECT(&s, R(30, 40), R(50, 60), R(70, 80));
	rangeset_add(&s, 62, 65); /* in the middle: still the lowest goes */
	EXPECT(&s, R(50, 60), R(62, 65), R(70, 80));
	/* merging does not grow the count: nothing dropped */
	rangeset_add(&s, 60, 62);
	EXPECT(&s, R(50, 65), R(70, 80));
	rangeset_add(&s, 100, 110);
	EXPECT(&s, R(50, 65), R(70, 80), R(100, 110));
	rangeset_add(&s, 65, 70);
	EXPECT(&s, R(50, 80), R(100, 110));
	ck_assert_uint_eq(s.max, 3);
	/* free keeps the bound */
	rangeset_free(&s);
	ck_assert_uint_eq(s.max, 3);
	rangeset_add(&s, 1, 2);
	rangeset_add(&s, 3, 4);
	rangeset_add(&s, 5, 6);
	rangeset_add(&s, 7, 8);
	EXPECT(&s, R(3, 4), R(5, 6), R(7, 8));
	rangeset_free(&s);
}
END_TEST

START_TEST(test_max_one_keeps_highest_range)
{
	struct rangeset s;
	uint64_t i;

	rangeset_init(&s, 1);
	for (i = 0; i < 100; i++)
		rangeset_add(&s, i * 3, i * 3 + 1);
	EXPECT(&s, R(297, 298));
	rangeset_free(&s);
}
END_TEST

/* "the lowest ranges are dropped beyond max": a split must not leave the
 * set over its bound either. */
START_TEST(test_max_holds_after_remove_splits)
{
	struct rangeset s;

	rangeset_init(&s, 2);
	rangeset_add(&s, 10, 20);
	rangeset_add(&s, 30, 40);
	rangeset_remove(&s, 33, 35);
	ck_assert_uint_le(s.n, 2);
	ck_assert_int_eq(rangeset_contains(&s, 38), 1);
	rangeset_add(&s, 50, 60);
	ck_assert_uint_le(s.n, 2);
	rangeset_free(&s);
}
END_TEST

/* ---- randomized, against a bitmap ----------------------------------- */

#define MODEL_N 4096

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ck_matches_model() - the range list is exactly the runs of the bitmap:
 * sorted, disjoint, not touching, lo < hi */
static void ck_matches_model(const struct rangeset *s, const uint8_t *bits, long op)
{
	size_t i = 0;
	uint64_t v = 0, lo, total = 0;

	for (;;) {
		while (v < MODEL_N && !bits[v])
			v++;
		if (v == MODEL_N)
			break;
		lo = v;
		while (v < MODEL_N && bits[v])
			v++;
		REQUIRE(i < s->n, "op %ld: run [%llu, %llu) missing", op, (unsigned long long)lo,
			(unsigned long long)v);
		REQUIRE(s->r[i].lo == lo && s->r[i].hi == v,
			"op %ld: range %zu is [%llu, %llu), model run [%llu, %llu)", op, i,
			(unsigned long long)s->r[i].lo, (unsigned long long)s->r[i].hi,
			(unsigned long long)lo, (unsigned long long)v);
		total += v - lo;
		i++;
	}
	REQUIRE(i == s->n, "op %ld: %zu ranges, model has %zu runs", op, s->n, i);
	for (i = 0; i < s->n; i++) {
		REQUIRE(s->r[i].lo < s->r[i].hi, "op %ld: range %zu empty", op, i);
		REQUIRE(i == 0 || s->r[i - 1].hi < s->r[i].lo, "op %ld: range %zu touches", op, i);
	}
	REQUIRE(rangeset_total(s) == total, "op %ld: total", op);
	REQUIRE(rangeset_empty(s) == (total == 0), "op %ld: empty", op);
}

static void ck_queries_match_model(const struct rangeset *s, const uint8_t *bits, long op)
{
	uint64_t v, gap = MODEL_N;
	struct range r;
	int have_next = 0;

	/* walk down, so the model's answers for v + 1 are known at v */
	for (v = MODEL_N; v-- > 0;) {
		REQUIRE(rangeset_contains(s, v) == bits[v], "op %ld: contains(%llu)", op,
			(unsigned long long)v);
		if (!bits[v])
			gap = v;
		REQUIRE(rangeset_first_gap(s, v) == gap, "op %ld: first_gap(%llu)", op,
			(unsigned long long)v);
		if (bits[v])
			have_next = 1;
		REQUIRE(rangeset_next(s, v, &r) == have_next, "op %ld: next(%llu)", op,
			(unsigned long long)v);
		if (have_next)
			REQUIRE(r.lo >= v && r.lo < r.hi && bits[r.lo] &&
					(r.lo == v || !bits[r.lo - 1]) &&
					(r.hi == MODEL_N || !bits[r.hi]) && bits[r.hi - 1],
				"op %ld: next(%llu) = [%llu, %llu)", op, (unsigned long long)v,
				(unsigned long long)r.lo, (unsigned long long)r.hi);
	}
	REQUIRE(rangeset_contains(s, MODEL_N) == 0, "op %ld", op);
}

static int model_covers(const uint8_t *bits, uint64_t lo, uint64_t hi)
{
	for (; lo < hi; lo++)
		if (lo >= MODEL_N || !bits[lo])
			return 0;
	return 1;
}

START_TEST(test_random_ops_match_bitmap)
{
	static uint8_t bits[MODEL_N];
	uint64_t rng = 0x5eed0000 + (uint64_t)_i;
	struct rangeset s;
	long op;

	memset(bits, 0, sizeof(bits));
	rangeset_init(&s, 0);
	for (op = 0; op < 20000; op++) {
		uint64_t r = splitmix64(&rng), lo, hi, len, v;

		/* mostly short ranges (holes and fills), sometimes long ones */
		len = (r >> 8) % 8 == 0 ? (r >> 16) % 1024 : (r >> 16) % 24;
		lo = (r >> 32) % MODEL_N;
		hi = MIN(lo + len, (uint64_t)MODEL_N);
		if ((r & 0xff) < 140) {
			rangeset_add(&s, lo, hi);
			for (v = lo; v < hi; v++)
				bits[v] = 1;
		} else if ((r & 0xff) < 254) {
			rangeset_remove(&s, lo, hi);
			for (v = lo; v < hi; v++)
				bits[v] = 0;
		} else {
			rangeset_remove(&s, 0, UINT64_MAX);
			memset(bits, 0, sizeof(bits));
		}
		ck_matches_model(&s, bits, op);
		if (op % 64 == 0)
			ck_queries_match_model(&s, bits, op);
		{
			uint64_t c = splitmix64(&rng), clo = c % MODEL_N,
				 chi = clo + (c >> 32) % 40;

			REQUIRE(rangeset_covers(&s, clo, chi) == model_covers(bits, clo, chi),
				"op %ld: covers(%llu, %llu)", op, (unsigned long long)clo,
				(unsigned long long)chi);
		}
	}
	ck_queries_match_model(&s, bits, op);
	rangeset_free(&s);
}
END_TEST

static Suite *rangeset_suite(void)
{
	Suite *s = suite_create("rangeset");
	TCase *t;

	t = tcase_create("add");
	tcase_add_test(t, test_add_keeps_disjoint_ranges_sorted);
	tcase_add_test(t, test_index_of_the_range_holding_a_value);
	tcase_add_test(t, test_add_empty_or_inverted_range_is_noop);
	tcase_add_test(t, test_add_merges_overlap_on_either_side);
	tcase_add_test(t, test_add_merges_ranges_that_only_touch);
	tcase_add_test(t, test_add_one_apart_does_not_merge);
	tcase_add_test(t, test_add_containing_swallows_ranges);
	tcase_add_test(t, test_add_inside_existing_changes_nothing);
	tcase_add_test(t, test_add_many_grows_array);
	suite_add_tcase(s, t);

	t = tcase_create("remove");
	tcase_add_test(t, test_remove_from_middle_splits);
	tcase_add_test(t, test_remove_trims_either_end);
	tcase_add_test(t, test_remove_whole_ranges);
	tcase_add_test(t, test_remove_outside_ranges_is_noop);
	tcase_add_test(t, test_remove_single_values);
	suite_add_tcase(s, t);

	t = tcase_create("query");
	tcase_add_test(t, test_contains_at_range_edges);
	tcase_add_test(t, test_covers_at_range_edges);
	tcase_add_test(t, test_first_gap_at_range_edges);
	tcase_add_test(t, test_next_at_range_edges);
	tcase_add_test(t, test_total_empty_clear);
	tcase_add_test(t, test_values_near_uint64_max);
	tcase_add_test(t, test_queries_from_uint64_max_find_nothing);
	suite_add_tcase(s, t);

	t = tcase_create("max");
	tcase_add_test(t, test_max_drops_lowest_ranges);
	tcase_add_test(t, test_max_one_keeps_highest_range);
	tcase_add_test(t, test_max_holds_after_remove_splits);
	suite_add_tcase(s, t);

	t = tcase_create("random");
	tcase_set_timeout(t, 60);
	tcase_add_loop_test(t, test_random_ops_match_bitmap, 0, 2);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(rangeset_suite());
	int failed;

	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
