/* test_ring.c: chunked byte rings and their pool.
 *
 * Appending and storing at absolute offsets, reading back, releasing from
 * the front, and the chunk accounting that makes idle flows free: every
 * test checks pool->in_use against the chunks the live bytes must occupy.
 * Two randomized tests compare a send-style and a receive-style ring with
 * a plain byte array over a few megabytes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "ring.h"
#include "util.h"

/* REQUIRE() - an assertion for hot loops: a passing ck_assert() reports its
 * location to the parent process, which costs a write per call */
#define REQUIRE(c, fmt, ...)                                                   \
	do {                                                                   \
		if (!(c))                                                      \
			ck_abort_msg("Assertion '%s' failed: " fmt, #c, ##__VA_ARGS__); \
	} while (0)

#define C RING_CHUNK

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* pat() - the byte the tests store at absolute offset off */
static uint8_t pat(uint64_t off)
{
	return (uint8_t)(off * 131 + (off >> 8) * 7 + (off >> 32));
}

static uint8_t *pat_buf(uint64_t off, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);
	size_t i;

	REQUIRE(b != NULL, "out of memory");
	for (i = 0; i < len; i++)
		b[i] = pat(off + i);
	return b;
}

/* append_pat() - append [r->end, r->end + len) of the pattern */
static size_t append_pat(struct ring *r, size_t len, uint64_t limit_end, int soft)
{
	uint8_t *b = pat_buf(r->end, len);
	size_t n = ring_append(r, b, len, limit_end, soft);

	free(b);
	return n;
}

static void put_pat(struct ring *r, uint64_t off, size_t len)
{
	uint8_t *b = pat_buf(off, len);

	ring_put(r, off, b, len);
	free(b);
}

/* ck_pat() - [off, off + len) reads back as the pattern, by copy and peek */
static void ck_pat(const struct ring *r, uint64_t off, size_t len)
{
	uint8_t *b = malloc(len ? len : 1);
	uint64_t o;
	size_t i;

	REQUIRE(b != NULL, "out of memory");
	ring_copy(r, off, b, len);
	for (i = 0; i < len; i++)
		REQUIRE(b[i] == pat(off + i), "byte at %llu", (unsigned long long)(off + i));
	free(b);
	for (o = off; o < off + len;) {
		const uint8_t *p = NULL;
		size_t n = ring_peek(r, o, &p);

		REQUIRE(n == MIN((uint64_t)C - o % C, r->end - o), "peek at %llu: %zu",
			(unsigned long long)o, n);
		for (i = 0; i < n && o + i < off + len; i++)
			REQUIRE(p[i] == pat(o + i), "peeked byte at %llu",
				(unsigned long long)(o + i));
		o += n;
	}
}

/* chunks_spanned() - chunks a ring without holes must hold */
static size_t chunks_spanned(const struct ring *r)
{
	if (r->end == r->base)
		return 0;
	return (size_t)((r->end - 1) / C - r->base / C + 1);
}

/* ---- pool ----------------------------------------------------------- */

START_TEST(test_pool_limit_in_chunks_at_least_4)
{
	struct chunk_pool p;

	chunk_pool_init(&p, 0);
	ck_assert_uint_eq(p.limit, 4);
	ck_assert_uint_eq(p.in_use, 0);
	ck_assert_uint_eq(p.peak, 0);
	ck_assert_uint_eq(p.ncache, 0);
	ck_assert_uint_eq(chunk_pool_bytes(&p), 0);
	ck_assert_int_eq(chunk_pool_full(&p), 0);
	chunk_pool_destroy(&p);
	chunk_pool_init(&p, 3 * C);
	ck_assert_uint_eq(p.limit, 4);
	chunk_pool_destroy(&p);
	chunk_pool_init(&p, 100 * C + C - 1);
	ck_assert_uint_eq(p.limit, 100);
	chunk_pool_destroy(&p);
	ck_assert_ptr_null(p.cache);
}
END_TEST

START_TEST(test_pool_reuses_cached_chunks_and_tracks_peak)
{
	struct chunk_pool p;
	struct ring a, b;
	const uint8_t *pa, *pb;
	size_t i;

	chunk_pool_init(&p, 1 << 20);
	ring_init(&a, &p, 0);
	ck_assert_uint_eq(append_pat(&a, 100, UINT64_MAX, 0), 100);
	ck_assert_uint_eq(p.in_use, 1);
	ck_assert_uint_eq(chunk_pool_bytes(&p), C);
	ck_assert_uint_eq(ring_peek(&a, 0, &pa), 100);
	ring_release(&a, 100);
	ck_assert_uint_eq(p.in_use, 0);
	ck_assert_uint_eq(p.ncache, 1);
	/* the next chunk taken is the cached one */
	ring_init(&b, &p, 7 * C + 10);
	ck_assert_uint_eq(append_pat(&b, 50, UINT64_MAX, 0), 50);
	ck_assert_uint_eq(p.ncache, 0);
	ck_assert_uint_eq(p.in_use, 1);
	ck_assert_uint_eq(ring_peek(&b, 7 * C + 10, &pb), 50);
	ck_assert_ptr_eq(pb - 10, pa);
	ck_pat(&b, 7 * C + 10, 50);

	/* peak follows the high-water mark and stays there */
	ck_assert_uint_eq(append_pat(&a, 10 * C, UINT64_MAX, 0), 10 * C);
	ck_assert_uint_eq(p.in_use, 12);
	ck_assert_uint_eq(p.peak, 12);
	ring_free(&a);
	ck_assert_uint_eq(p.in_use, 1);
	ck_assert_uint_eq(p.peak, 12);
	ck_assert_uint_eq(p.ncache, 11);
	/* the cache holds at most cache_max chunks; the rest are freed */
	ck_assert_uint_eq(append_pat(&a, 300 * C, UINT64_MAX, 0), 300 * C);
	ck_assert_uint_eq(p.in_use, 302); /* 301 (unaligned start) and b's */
	ck_assert_uint_eq(p.ncache, 0);
	ck_assert_uint_eq(p.peak, 302);
	ring_free(&a);
	ring_free(&b);
	ck_assert_uint_eq(p.in_use, 0);
	ck_assert_uint_eq(p.ncache, p.cache_max);
	for (i = 0; i < p.ncache; i++)
		ck_assert_ptr_nonnull(p.cache[i]);
	chunk_pool_destroy(&p);
	ck_assert_uint_eq(p.ncache, 0);
}
END_TEST

/* ---- append --------------------------------------------------------- */

START_TEST(test_append_within_one_chunk)
{
	struct chunk_pool p;
	struct ring r;
	const uint8_t *q;

	chunk_pool_init(&p, 1 << 20);
	ring_init(&r, &p, 0);
	ck_assert_uint_eq(ring_used(&r), 0);
	ck_assert_uint_eq(p.in_use, 0); /* no chunk before the first byte */
	ck_assert_uint_eq(append_pat(&r, 100, UINT64_MAX, 0), 100);
	ck_assert_uint_eq(r.base, 0);
	ck_assert_uint_eq(r.end, 100);
	ck_assert_uint_eq(ring_used(&r), 100);
	ck_assert_uint_eq(p.in_use, 1);
	ck_assert_uint_eq(append_pat(&r, 200, UINT64_MAX, 0), 200);
	ck_assert_uint_eq(r.end, 300);
	ck_assert_uint_eq(p.in_use, 1);
	ck_pat(&r, 0, 300);
	ck_assert_uint_eq(ring_peek(&r, 0, &q), 300);
	ck_assert_uint_eq(ring_peek(&r, 299, &q), 1);
	ck_assert_uint_eq(q[0], pat(299));
	ck_assert_uint_eq(ring_peek(&r, 300, &q), 0);
	/* a chunk filled exactly to its end */
	ck_assert_uint_eq(append_pat(&r, C - 300, UINT64_MAX, 0), C - 300);
	ck_assert_uint_eq(r.end, C);
	ck_assert_uint_eq(p.in_use, 1);
	ck_assert_uint_eq(ring_peek(&r, 0, &q), C);
	/* zero bytes take nothing */
	ck_assert_uint_eq(append_pat(&r, 0, UINT64_MAX, 0), 0);
	ck_assert_uint_eq(p.in_use, 1);
	ck_pat(&r, 0, C);
	ring_free(&r);
	ck_assert_uint_eq(p.in_use, 0);
	chunk_pool_destroy(&p);
}
END_TEST

START_TEST(test_append_across_chunk_boundaries)
{
	struct chunk_pool p;
	struct ring r;
	const uint8_t *q;
	size_t i;

	chunk_pool_init(&p, 1 << 20);
	ring_init(&r, &p, 0);
	ck_assert_uint_eq(append_pat(&r, 3 * C + 100, UINT64_MAX, 0), 3 * C + 100);
	ck_assert_uint_eq(p.in_use, 4);
	ck_assert_uint_eq(ring_peek(&r, 0, &q), C);
	ck_assert_uint_eq(ring_peek(&r, C - 1, &q), 1);
	ck_assert_uint_eq(ring_peek(&r, C, &q), C);
	ck_assert_uint_eq(ring_peek(&r, 3 * C, &q), 100);
	ck_assert_uint_eq(ring_peek(&r, 3 * C + 99, &q), 1);
	ck_pat(&r, 0, 3 * C + 100);
	ck_pat(&r, C - 10, 20);
	ck_pat(&r, C - 1, C + 2);
	ring_free(&r);
	ck_assert_uint_eq(p.in_use, 0);

	/* small appends straddling boundaries, from an unaligned base */
	ring_init(&r, &p, 5 * C - 7);
	ck_assert_uint_eq(append_pat(&r, 20, UINT64_MAX, 0), 20);
	ck_assert_uint_eq(p.in_use, 2);
	ck_assert_uint_eq(ring_peek(&r, 5 * C - 7, &q), 7);
	ck_assert_uint_eq(ring_peek(&r, 5 * C, &q), 13);
	for (i = 0; i < 1000; i++)
		REQUIRE(append_pat(&r, 99, UINT64_MAX, 0) == 99, "append %zu", i);
	ck_assert_uint_eq(r.end, 5 * C - 7 + 20 + 99000);
	ck_assert_uint_eq(p.in_use, chunks_spanned(&r));
	ck_pat(&r, r.base, (size_t)ring_used(&r));
	ring_free(&r);
	ck_assert_uint_eq(p.in_use, 0);
	chunk_pool_destroy(&p);
}
END_TEST

START_TEST(test_append_respects_limit_end)
{
	struct chunk_pool p;
	struct ring r;

	chunk_pool_init(&p, 1 << 20);
	ring_init(&r, &p, 1000);
	ck_assert_uint_eq(append_pat(&r, 500, 1300, 0), 300);
	ck_assert_uint_eq(r.end, 1300);
	ck_assert_uint_eq(append_pat(&r, 500, 1300, 0), 0); /* at the limit */
	ck_assert_uint_eq(append_pat(&r, 500, 1200, 0), 0); /* limit below end */
	ck_assert_uint_eq(append_pat(&r, 500, 0, 0), 0);
	ck_assert_uint_eq(r.end, 1300);
	ck_assert_uint_eq(append_pat(&r, 500, 1301, 0), 1);
	ck_assert_uint_eq(r.end, 1301);
	/* a limit across a chunk boundary, soft or not */
	ck_assert_uint_eq(append_pat(&r, 3 * C, 2 * C + 5, 1), 2 * C + 5 - 1301);
	ck_assert_uint_eq(r.end, 2 * C + 5);
	ck_assert_uint_eq(p.in_use, 3);
	ck_pat(&r, 1000, (size_t)ring_used(&r));
	ring_free(&r);
	chunk_pool_destroy(&p);
}
END_TEST

START_TEST(test_soft_append_stops_at_pool_limit)
{
	struct chunk_pool p;
	struct ring a, b;

	chunk_pool_init(&p, 4 * C);
	ring_init(&a, &p, 0);
	ring_init(&b, &p, 0);
	ck_assert_uint_eq(append_pat(&a, 10 * C, UINT64_MAX, 1), 4 * C);
	ck_assert_uint_eq(p.in_use, 4);
	ck_assert_int_eq(chunk_pool_full(&p), 1);
	ck_assert_uint_eq(append_pat(&a, 100, UINT64_MAX, 1), 0);
	ck_assert_uint_eq(append_pat(&b, 100, UINT64_MAX, 1), 0);
	ck_assert_uint_eq(b.end, 0);
	/* without soft the cap does not apply (receive side) */
	ck_assert_uint_eq(append_pat(&b, 100, UINT64_MAX, 0), 100);
	ck_assert_uint_eq(p.in_use, 5);
	ring_free(&b);
	ck_assert_uint_eq(p.in_use, 4);
	/* releasing below the cap lets soft appends continue */
	ring_release(&a, C);
	ck_assert_uint_eq(p.in_use, 3);
	ck_assert_uint_eq(append_pat(&a, 3 * C, UINT64_MAX, 1), C);
	ck_assert_uint_eq(a.end, 5 * C);
	ck_pat(&a, C, 4 * C);
	ring_free(&a);
	ck_assert_uint_eq(p.in_use, 0);

	/* a full pool still lets a ring fill the chunk it already holds */
	ring_init(&a, &p, 0);
	ck_assert_uint_eq(append_pat(&a, 3 * C + 100, UINT64_MAX, 1), 3 * C + 100);
	ck_assert_uint_eq(p.in_use, 4);
	ck_assert_uint_eq(append_pat(&a, 500, UINT64_MAX, 1), 500);
	ck_assert_uint_eq(append_pat(&a, C, UINT64_MAX, 1), C - 600);
	ck_assert_uint_eq(a.end, 4 * C);
	ck_assert_uint_eq(p.in_use, 4);
	ck_pat(&a, 0, 4 * C);
	ring_free(&a);
	ck_assert_uint_eq(p.in_use, 0);
	chunk_pool_destroy(&p);
}
END_TEST

/* ---- copy and peek -------------------------------------------------- */

START_TEST(test_copy_and_peek_at_any_offset)
{
	static const uint64_t offs[] = { 0, 1, C - 1, C, C + 1, 2 * C - 3, 3 * C, 4 * C + 17 };
	static const size_t lens[] = { 1, 2, 100, C - 1, C, C + 1, 2 * C + 5 };
	const uint64_t base = 3 * C + 1234;
	const uint64_t end = base + 5 * C + 77;
	struct chunk_pool p;
	struct ring r;
	const uint8_t *q;
	size_t i, j;
	uint64_t o;

	chunk_pool_init(&p, 1 << 20);
	ring_init(&r, &p, base);
	ck_assert_uint_eq(append_pat(&r, end - base, UINT64_MAX, 0), end - base);
	ck_assert_uint_eq(p.in_use, chunks_spanned(&r));
	for (i = 0; i < ARRAY_SIZE(offs); i++)
		for (j = 0; j < ARRAY_SIZE(lens); j++)
			if (base + offs[i] + lens[j] <= end)
				ck_pat(&r, base + offs[i], lens[j]);
	/* peek everywhere: up to the chunk end or the ring end */
	for (o = base; o < end; o += 97) {
		size_t n = ring_peek(&r, o, &q);

		REQUIRE(n == MIN(C - o % C, end - o), "peek at %llu", (unsigned long long)o);
		REQUIRE(q[0] == pat(o) && q[n - 1] == pat(o + n - 1), "peek at %llu",
			(unsigned long long)o);
	}
	ck_assert_uint_eq(ring_peek(&r, end - 1, &q), 1);
	ck_assert_uint_eq(ring_peek(&r, end, &q), 0);
	ck_assert_uint_eq(ring_peek(&r, end + C, &q), 0);
	ck_assert_uint_eq(ring_peek(&r, base - 1, &q), 0);
	ck_assert_uint_eq(ring_peek(&r, 0, &q), 0);
	ring_free(&r);
	ck_assert_uint_eq(p.in_use, 0);
	chunk_pool_destroy(&p);
}
END_TEST

/* ---- release -------------------------------------------------------- */

START_TEST(test_release_returns_whole_chunks)
{
	struct chunk_pool p;
	struct ring r;
	const uint8_t *q;

	chunk_pool_init(&p, 1 << 20);
	ring_init(&r, &p, 0);
	ck_assert_uint_eq(append_pat(&r, 4 * C + 100, UINT64_MAX, 0), 4 * C + 100);
	ck_assert_uint_eq(p.in_use, 5);
	ring_release(&r, 100);
	ck_assert_uint_eq(r.base, 100);
	ck_assert_uint_eq(p.in_use, 5);
	ck_assert_uint_eq(ring_peek(&r, 99, &q), 0);
	ck_assert_uint_eq(ring_peek(&r, 100, &q), C - 100);
	ring_release(&r, C - 1);
	ck_assert_uint_eq(p.in_use, 5);
	ring_release(&r, C);
	ck_assert_uint_eq(p.in_use, 4);
	ck_assert_uint_eq(p.ncache, 1);
	ck_pat(&r, C, 3 * C + 100);
	ring_release(&r, 3 * C + 5);
	ck_assert_uint_eq(p.in_use, 2);
	ck_assert_uint_eq(ring_used(&r), C + 95);
	/* below or at the base: nothing */
	ring_release(&r, 10);
	ring_release(&r, 3 * C + 5);
	ck_assert_uint_eq(r.base, 3 * C + 5);
	ck_assert_uint_eq(p.in_use, 2);
	ck_pat(&r, 3 * C + 5, C + 95);
	/* past the end: clipped to the end, and the partial chunk goes too */
	ring_release(&r, 100 * C);
	ck_assert_uint_eq(r.base, 4 * C + 100);
	ck_assert_uint_eq(r.end, 4 * C + 100);
	ck_assert_uint_eq(ring_used(&r), 0);
	ck_assert_uint_eq(p.in_use, 0);
	ck_assert_uint_eq(ring_peek(&r, r.base, &q), 0);
	/* and appending again continues at the same offset */
	ck_assert_uint_eq(append_pat(&r, 2 * C, UINT64_MAX, 0), 2 * C);
	ck_assert_uint_eq(p.in_use, 3);
	ck_pat(&r, 4 * C + 100, 2 * C);
	ring_free(&r);
	ck_assert_uint_eq(p.in_use, 0);
	chunk_pool_destroy(&p);
}
END_TEST

START_TEST(test_emptied_ring_holds_no_chunk)
{
	static const uint64_t bases[] = { 0, 1, C - 1, C, 5 * C + 3 };
	static const size_t lens[] = { 1, 99, C - 1, C, C + 1, 3 * C };
	struct chunk_pool p;
	struct ring r;
	size_t i, j;

	chunk_pool_init(&p, 1 << 20);
	for (i = 0; i < ARRAY_SIZE(bases); i++) {
		for (j = 0; j < ARRAY_SIZE(lens); j++) {
			ring_init(&r, &p, bases[i]);
			ck_assert_uint_eq(append_pat(&r, lens[j], UINT64_MAX, 0), lens[j]);
			ck_assert_uint_eq(p.in_use, chunks_spanned(&r));
			ring_release(&r, r.end); /* exactly to the end */
			ck_assert_msg(p.in_use == 0, "base %llu len %zu: %zu chunks held",
				      (unsigned long long)bases[i], lens[j], p.in_use);
			/* the same ring, refilled from its new base and emptied in steps */
			ck_assert_uint_eq(append_pat(&r, lens[j], UINT64_MAX, 0), lens[j]);
			ring_release(&r, r.base + lens[j] / 2);
			ck_assert_uint_eq(p.in_use, chunks_spanned(&r));
			ring_release(&r, r.end);
			ck_assert_uint_eq(p.in_use, 0);
			ring_free(&r);
			ck_assert_uint_eq(p.in_use, 0);
			ck_assert_ptr_null(r.slot);
		}
	}
	/* ring_free on a ring that still holds bytes, and on a fresh one */
	ring_init(&r, &p, 12345);
	ck_assert_uint_eq(append_pat(&r, 3 * C, UINT64_MAX, 0), 3 * C);
	ring_free(&r);
	ck_assert_uint_eq(p.in_use, 0);
	ring_init(&r, &p, 0);
	ring_free(&r);
	ck_assert_uint_eq(p.in_use, 0);
	chunk_pool_destroy(&p);
}
END_TEST

/* ---- put (receive side) ---------------------------------------------- */

START_TEST(test_put_leaves_holes_that_peek_as_empty)
{
	struct chunk_pool p;
	struct ring r;
	const uint8_t *q;

	chunk_pool_init(&p, 4 * C);
	ring_init(&r, &p, 0);
	put_pat(&r, 50000, 10);
	ck_assert_uint_eq(r.end, 50010);
	ck_assert_uint_eq(ring_used(&r), 50010);
	ck_assert_uint_eq(p.in_use, 1); /* only the chunk written */
	ck_assert_uint_eq(ring_peek(&r, 0, &q), 0);
	ck_assert_uint_eq(ring_peek(&r, C, &q), 0);
	ck_assert_uint_eq(ring_peek(&r, 3 * C - 1, &q), 0);
	ck_assert_uint_eq(ring_peek(&r, 50000, &q), 10);
	ck_pat(&r, 50000, 10);
	/* the front of the first chunk */
	put_pat(&r, 0, 100);
	ck_assert_uint_eq(p.in_use, 2);
	ck_assert_uint_eq(ring_peek(&r, 0, &q), C); /* the chunk, not what was written */
	ck_pat(&r, 0, 100);
	ck_assert_uint_eq(ring_peek(&r, C, &q), 0);
	/* fill the hole: beyond the pool's soft cap, a put never refuses */
	put_pat(&r, 100, 49900);
	ck_assert_uint_eq(p.in_use, 4);
	ck_assert_uint_eq(r.end, 50010);
	ck_pat(&r, 0, 50010);
	put_pat(&r, 60000, 5 * C);
	ck_assert_uint_eq(p.in_use, 9);
	ck_assert_int_eq(chunk_pool_full(&p), 1);
	ck_pat(&r, 60000, 5 * C);
	/* a retransmission over stored bytes changes nothing */
	put_pat(&r, 40000, 30000);
	ck_pat(&r, 0, 50010);
	ck_pat(&r, 60000, 5 * C);
	ck_assert_uint_eq(p.in_use, 9);
	ring_free(&r);
	ck_assert_uint_eq(p.in_use, 0);
	chunk_pool_destroy(&p);
}
END_TEST

START_TEST(test_put_below_base_is_clipped)
{
	struct chunk_pool p;
	struct ring r;
	uint8_t junk[300];

	memset(junk, 0xee, sizeof(junk));
	chunk_pool_init(&p, 1 << 20);
	ring_init(&r, &p, 1000);
	ring_put(&r, 500, junk, 100); /* wholly below */
	ring_put(&r, 900, junk, 100); /* ends exactly at the base */
	ck_assert_uint_eq(r.end, 1000);
	ck_assert_uint_eq(r.base, 1000);
	ck_assert_uint_eq(p.in_use, 0);
	put_pat(&r, 900, 200); /* straddles: only [1000, 1100) is kept */
	ck_assert_uint_eq(r.base, 1000);
	ck_assert_uint_eq(r.end, 1100);
	ck_assert_uint_eq(p.in_use, 1);
	ck_pat(&r, 1000, 100);
	/* after a release, the released part is not written again */
	ring_release(&r, C + 10);
	ck_assert_uint_eq(r.base, 1100);
	ck_assert_uint_eq(p.in_use, 0);
	put_pat(&r, 1050, 2 * C);
	ck_assert_uint_eq(r.base, 1100);
	ck_assert_uint_eq(r.end, 1050 + 2 * C);
	ck_assert_uint_eq(p.in_use, chunks_spanned(&r));
	ck_pat(&r, 1100, 2 * C - 50);
	ring_put(&r, 0, junk, sizeof(junk));
	ck_pat(&r, 1100, 2 * C - 50);
	ring_free(&r);
	ck_assert_uint_eq(p.in_use, 0);
	chunk_pool_destroy(&p);
}
END_TEST

START_TEST(test_put_of_zero_bytes_takes_no_chunk)
{
	struct chunk_pool p;
	struct ring r;
	uint8_t x = 1;

	chunk_pool_init(&p, 1 << 20);
	ring_init(&r, &p, 100);
	ring_put(&r, 100, &x, 0);
	ring_put(&r, 50, &x, 0);
	ck_assert_uint_eq(r.end, 100);
	ring_put(&r, 100 + 5 * C, &x, 0); /* beyond the end */
	ck_assert_uint_eq(p.in_use, 0);
	ring_free(&r);
	chunk_pool_destroy(&p);
}
END_TEST

/* ---- growth and large offsets ---------------------------------------- */

START_TEST(test_slot_array_grows_with_span)
{
	struct chunk_pool p;
	struct ring r;
	uint64_t off;

	chunk_pool_init(&p, 1 << 20);
	ring_init(&r, &p, 0);
	ck_assert_uint_eq(append_pat(&r, 100 * C + 1, UINT64_MAX, 0), 100 * C + 1);
	ck_assert_uint_eq(p.in_use, 101);
	ck_assert_uint_ge(r.cap, 101);
	ck_assert_uint_eq(r.cap & (r.cap - 1), 0); /* a power of 2 */
	ck_pat(&r, 0, 100 * C + 1);
	ring_free(&r);
	ck_assert_uint_eq(p.in_use, 0);

	/* grow while the live chunks wrap around the slot array */
	ring_init(&r, &p, 0);
	ck_assert_uint_eq(append_pat(&r, 3 * C, UINT64_MAX, 0), 3 * C);
	ck_assert_uint_eq(r.cap, 4);
	ring_release(&r, 2 * C + 5);
	ck_assert_uint_eq(append_pat(&r, 3 * C - 10, UINT64_MAX, 0), 3 * C - 10);
	ck_assert_uint_eq(r.cap, 4); /* chunks 2..5 fill slots 2, 3, 0, 1 */
	ck_pat(&r, r.base, (size_t)ring_used(&r));
	for (off = 0; off < 20; off++) {
		ck_assert_uint_eq(append_pat(&r, C + 333, UINT64_MAX, 0), C + 333);
		ck_pat(&r, r.base, (size_t)ring_used(&r));
		ck_assert_uint_eq(p.in_use, chunks_spanned(&r));
		if (off % 3 == 2)
			ring_release(&r, r.base + 2 * C + 1);
	}
	ck_assert_uint_ge(r.cap, chunks_spanned(&r));
	ring_free(&r);
	ck_assert_uint_eq(p.in_use, 0);

	/* a put far ahead of the base grows the array to cover the span */
	ring_init(&r, &p, 3 * C + 1);
	put_pat(&r, 3 * C + 1, 10);
	put_pat(&r, 103 * C + 5, 10);
	ck_assert_uint_ge(r.cap, 101);
	ck_assert_uint_eq(p.in_use, 2);
	ck_pat(&r, 3 * C + 1, 10);
	ck_pat(&r, 103 * C + 5, 10);
	put_pat(&r, 50 * C - 5, 10);
	ck_assert_uint_eq(p.in_use, 4);
	ck_pat(&r, 50 * C - 5, 10);
	ck_pat(&r, 3 * C + 1, 10);
	ck_pat(&r, 103 * C + 5, 10);
	ring_free(&r);
	ck_assert_uint_eq(p.in_use, 0);
	chunk_pool_destroy(&p);
}
END_TEST

START_TEST(test_offsets_beyond_4g)
{
	static const uint64_t bases[] = { (5ULL << 32) + 12345, (1ULL << 62) - 3 * C - 17,
					  (1ULL << 40) };
	struct chunk_pool p;
	struct ring r;
	size_t i;

	chunk_pool_init(&p, 1 << 20);
	for (i = 0; i < ARRAY_SIZE(bases); i++) {
		uint64_t b = bases[i];

		ring_init(&r, &p, b);
		ck_assert_uint_eq(append_pat(&r, 2 * C + 100, UINT64_MAX, 0), 2 * C + 100);
		ck_assert_uint_eq(p.in_use, chunks_spanned(&r));
		ck_pat(&r, b, 2 * C + 100);
		ring_release(&r, b + C);
		ck_assert_uint_eq(p.in_use, chunks_spanned(&r));
		ck_pat(&r, b + C, C + 100);
		/* a hole, then a segment further on */
		put_pat(&r, r.end + 3 * C, 500);
		ck_pat(&r, b + C, C + 100);
		ck_pat(&r, b + 5 * C + 100, 500);
		ring_release(&r, r.end);
		ck_assert_uint_eq(r.base, b + 5 * C + 600);
		ck_assert_uint_eq(p.in_use, 0);
		ring_free(&r);
	}
	/* the base carried far forward by releases, not by ring_init */
	ring_init(&r, &p, 0);
	put_pat(&r, 0, 10);
	put_pat(&r, (1ULL << 33) + 7, 10);
	ring_release(&r, (1ULL << 33) + 9);
	ck_assert_uint_eq(p.in_use, 1);
	ck_pat(&r, (1ULL << 33) + 9, 8);
	ck_assert_uint_eq(append_pat(&r, 3 * C, UINT64_MAX, 0), 3 * C);
	ck_pat(&r, (1ULL << 33) + 9, 3 * C + 8);
	ck_assert_uint_eq(p.in_use, chunks_spanned(&r));
	ring_free(&r);
	ck_assert_uint_eq(p.in_use, 0);
	chunk_pool_destroy(&p);
}
END_TEST

/* ---- randomized, against a byte array ------------------------------- */

#define SEND_TOTAL (4u << 20)

/* expected_soft() - what a soft append of len may add: the rest of the
 * chunk the ring already holds at end, then whole chunks up to the cap */
static size_t expected_soft(const struct ring *r, size_t len)
{
	const struct chunk_pool *p = r->pool;
	size_t room = 0;

	if (r->end % C && r->end > r->base)
		room = C - r->end % C;
	if (p->in_use < p->limit)
		room += (p->limit - p->in_use) * C;
	return MIN(len, room);
}

START_TEST(test_random_sender_matches_model)
{
	const uint64_t b0 = (1ULL << 33) + 777 + (uint64_t)_i * 5000;
	uint64_t rng = 0xabcdef00 + (uint64_t)_i;
	uint8_t *model = malloc(SEND_TOTAL), *out = malloc(SEND_TOTAL);
	struct chunk_pool p;
	struct ring r;
	size_t i;
	long op;

	ck_assert_ptr_nonnull(model);
	ck_assert_ptr_nonnull(out);
	for (i = 0; i < SEND_TOTAL; i++)
		model[i] = (uint8_t)splitmix64(&rng);
	chunk_pool_init(&p, 40 * C);
	ring_init(&r, &p, b0);
	for (op = 0; r.end < b0 + SEND_TOTAL || r.base < r.end; op++) {
		uint64_t x = splitmix64(&rng), window = 1 + (x >> 40) % (3 * 1024 * 1024);
		size_t want = (size_t)((x >> 8) % 50000), n, exp;
		int soft = (int)(x & 1);

		switch ((x >> 4) % 4) {
		case 0:
		case 1: /* append, bounded by a send window from the base */
			want = (size_t)MIN((uint64_t)want, b0 + SEND_TOTAL - r.end);
			exp = (size_t)MIN((uint64_t)want,
					  r.base + window > r.end ? r.base + window - r.end : 0);
			if (soft)
				exp = expected_soft(&r, exp);
			n = ring_append(&r, model + (r.end - b0), want, r.base + window, soft);
			REQUIRE(n == exp, "op %ld: appended %zu of %zu, expected %zu (soft %d)", op,
				n, want, exp, soft);
			break;
		case 2: /* release from the front */
			ring_release(&r, r.base + MIN((uint64_t)want * 2, ring_used(&r)));
			break;
		case 3: /* read a random range */
			if (r.end > r.base) {
				uint64_t off = r.base + (x >> 20) % ring_used(&r);

				n = (size_t)MIN((uint64_t)want, r.end - off);
				ring_copy(&r, off, out, n);
				REQUIRE(memcmp(out, model + (off - b0), n) == 0,
					"op %ld: copy [%llu, +%zu)", op,
					(unsigned long long)(off - b0), n);
			}
			break;
		}
		REQUIRE(p.in_use == chunks_spanned(&r), "op %ld: %zu chunks for [%llu, %llu)", op,
			p.in_use, (unsigned long long)(r.base - b0),
			(unsigned long long)(r.end - b0));
		REQUIRE(r.base <= r.end && r.end <= b0 + SEND_TOTAL, "op %ld", op);
	}
	ck_assert_uint_eq(r.base, b0 + SEND_TOTAL);
	ck_assert_uint_eq(p.in_use, 0);
	ring_free(&r);
	ck_assert_uint_eq(p.in_use, 0);
	chunk_pool_destroy(&p);
	free(model);
	free(out);
}
END_TEST

#define RECV_TOTAL (2u << 20)

struct seg {
	uint64_t off;
	size_t len;
};

/* make_segments() - cut [0, RECV_TOTAL) into packet-sized pieces */
static struct seg *make_segments(uint64_t *rng, size_t *nseg)
{
	struct seg *s = malloc((RECV_TOTAL / 100 + 1) * sizeof(*s));
	uint64_t off = 0;
	size_t n = 0;

	REQUIRE(s != NULL, "out of memory");
	while (off < RECV_TOTAL) {
		uint64_t x = splitmix64(rng);
		size_t len = x % 16 == 0 ? 100 + (x >> 8) % 40000 : 100 + (x >> 8) % 1400;

		len = (size_t)MIN((uint64_t)len, RECV_TOTAL - off);
		s[n].off = off;
		s[n].len = len;
		off += len;
		n++;
	}
	*nseg = n;
	return s;
}

/* shuffle() - Fisher-Yates within consecutive windows of w segments */
static void shuffle(struct seg *s, size_t n, size_t w, uint64_t *rng)
{
	size_t at, i;

	for (at = 0; at < n; at += w) {
		size_t m = MIN(w, n - at);

		for (i = m; i > 1; i--) {
			size_t j = (size_t)(splitmix64(rng) % i);
			struct seg t = s[at + i - 1];

			s[at + i - 1] = s[at + j];
			s[at + j] = t;
		}
	}
}

/* All segments in random order, then the whole stream read in order. */
START_TEST(test_random_receiver_all_then_read_matches_model)
{
	const uint64_t b0 = (3ULL << 32) + 5;
	uint64_t rng = 0x7777;
	uint8_t *model = malloc(RECV_TOTAL), *out = malloc(RECV_TOTAL);
	struct chunk_pool p;
	struct ring r;
	struct seg *s;
	size_t nseg, i;

	ck_assert_ptr_nonnull(model);
	ck_assert_ptr_nonnull(out);
	for (i = 0; i < RECV_TOTAL; i++)
		model[i] = (uint8_t)splitmix64(&rng);
	s = make_segments(&rng, &nseg);
	shuffle(s, nseg, nseg, &rng);
	chunk_pool_init(&p, 4 * C); /* far below what is received: puts ignore it */
	ring_init(&r, &p, b0);
	for (i = 0; i < nseg; i++) {
		ring_put(&r, b0 + s[i].off, model + s[i].off, s[i].len);
		REQUIRE(p.in_use <= chunks_spanned(&r), "segment %zu", i);
	}
	ck_assert_uint_eq(r.end, b0 + RECV_TOTAL);
	ck_assert_uint_eq(p.in_use, chunks_spanned(&r));
	ring_copy(&r, b0, out, RECV_TOTAL);
	ck_assert_int_eq(memcmp(out, model, RECV_TOTAL), 0);
	/* read in order in random steps, releasing as a reader would */
	while (r.base < r.end) {
		size_t n = (size_t)MIN(1 + splitmix64(&rng) % 30000, r.end - r.base);

		ring_copy(&r, r.base, out, n);
		REQUIRE(memcmp(out, model + (r.base - b0), n) == 0, "read at %llu",
			(unsigned long long)(r.base - b0));
		ring_release(&r, r.base + n);
		REQUIRE(p.in_use == chunks_spanned(&r), "after read to %llu",
			(unsigned long long)(r.base - b0));
	}
	ck_assert_uint_eq(p.in_use, 0);
	ring_free(&r);
	ck_assert_uint_eq(p.in_use, 0);
	chunk_pool_destroy(&p);
	free(s);
	free(model);
	free(out);
}
END_TEST

/* Local reordering and duplicates, delivered and released as they become
 * contiguous: the way a flow's receive ring is used. */
START_TEST(test_random_receiver_interleaved_matches_model)
{
	const uint64_t b0 = 1000 + (uint64_t)_i * 7777;
	uint64_t rng = 0x4242 + (uint64_t)_i, delivered = 0;
	uint8_t *model = malloc(RECV_TOTAL), *have = calloc(1, RECV_TOTAL), *out = malloc(RECV_TOTAL);
	struct chunk_pool p;
	struct ring r;
	struct seg *s;
	size_t nseg, i;

	ck_assert_ptr_nonnull(model);
	ck_assert_ptr_nonnull(have);
	ck_assert_ptr_nonnull(out);
	for (i = 0; i < RECV_TOTAL; i++)
		model[i] = (uint8_t)splitmix64(&rng);
	s = make_segments(&rng, &nseg);
	shuffle(s, nseg, 64, &rng);
	chunk_pool_init(&p, 1 << 20);
	ring_init(&r, &p, b0);
	for (i = 0; i < nseg; i++) {
		uint64_t x = splitmix64(&rng), start = delivered;
		struct seg g = s[i];
		size_t k;

		/* now and then a duplicate of an earlier segment first, maybe one
		 * already read and released, maybe stretched to overlap more */
		if (x % 4 == 0 && i > 0) {
			struct seg d = s[(size_t)((x >> 8) % i)];

			d.len = (size_t)MIN((uint64_t)d.len + (x >> 40) % 3000, RECV_TOTAL - d.off);
			ring_put(&r, b0 + d.off, model + d.off, d.len);
			for (k = 0; k < d.len; k++)
				have[d.off + k] = 1;
		}
		ring_put(&r, b0 + g.off, model + g.off, g.len);
		REQUIRE(r.end >= b0 + g.off + g.len, "segment %zu", i);
		for (k = 0; k < g.len; k++)
			have[g.off + k] = 1;
		while (delivered < RECV_TOTAL && have[delivered])
			delivered++;
		if (delivered > start) {
			size_t n = (size_t)(delivered - start);

			REQUIRE(r.base == b0 + start, "base %llu, delivered %llu",
				(unsigned long long)(r.base - b0), (unsigned long long)start);
			ring_copy(&r, b0 + start, out, n);
			REQUIRE(memcmp(out, model + start, n) == 0, "read [%llu, +%zu)",
				(unsigned long long)start, n);
			ring_release(&r, b0 + delivered);
		}
		REQUIRE(p.in_use <= chunks_spanned(&r), "segment %zu: %zu chunks", i, p.in_use);
	}
	ck_assert_uint_eq(delivered, RECV_TOTAL);
	ck_assert_uint_eq(r.base, b0 + RECV_TOTAL);
	ck_assert_uint_eq(r.end, b0 + RECV_TOTAL);
	ck_assert_uint_eq(p.in_use, 0);
	ring_free(&r);
	ck_assert_uint_eq(p.in_use, 0);
	chunk_pool_destroy(&p);
	free(s);
	free(model);
	free(have);
	free(out);
}
END_TEST

/* ---- a copy from a hole fails, and the process goes on -------------- */

/* Nothing that arrives from the network may end the daemon: a copy from
 * bytes never written (a caller's bug, or a peer's lie it believed) says
 * so instead of exiting. */
START_TEST(test_copy_from_hole_fails_without_exiting)
{
	struct chunk_pool pool;
	struct ring r;
	uint8_t out[16];

	chunk_pool_init(&pool, 1 << 20);
	ring_init(&r, &pool, 0);
	put_pat(&r, 3 * C, 10);
	ck_assert_int_eq(ring_copy(&r, 0, out, sizeof(out)), -1);
	ck_assert_int_eq(ring_copy(&r, 3 * C + 5, out, 10), -1); /* runs past the end */
	ck_assert_int_eq(ring_copy(&r, 3 * C, out, 10), 0);
	ring_free(&r);
	chunk_pool_destroy(&pool);
}
END_TEST


/* A reservation spanning many chunks grows the slot array mid-way; the
 * chunks reserved before the growth must survive it (they lie beyond the
 * committed end), and unused reserved chunks go back on commit. */
START_TEST(test_reserve_across_growth_then_commit)
{
	struct chunk_pool pool;
	struct ring r;
	struct iovec iov[16];
	size_t n, i, total = 0;
	uint8_t *buf = malloc(16 * RING_CHUNK), *out = malloc(16 * RING_CHUNK);

	chunk_pool_init(&pool, 64 << 20);
	ring_init(&r, &pool, 100);
	n = ring_reserve(&r, iov, 16, 16 * RING_CHUNK, UINT64_MAX, 1);
	ck_assert_uint_eq(n, 16);
	for (i = 0; i < n; i++) {
		memset(iov[i].iov_base, (int)i + 1, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	ck_assert_uint_eq(total, 16 * RING_CHUNK - 100); /* the first chunk starts at 100 */
	ring_commit(&r, 3 * RING_CHUNK); /* as if readv() filled only part */
	ck_assert_uint_eq(r.end, 100 + 3 * RING_CHUNK);
	ck_assert_uint_eq(pool.in_use, 4); /* chunks 0..3 hold bytes 100..3*CHUNK+100 */
	ring_copy(&r, 100, out, 3 * RING_CHUNK);
	for (i = 0, total = 0; total < 3 * RING_CHUNK; i++) {
		size_t len = iov[i].iov_len, k;

		for (k = 0; k < len && total + k < 3 * RING_CHUNK; k++)
			ck_assert_uint_eq(out[total + k], i + 1);
		total += len;
	}
	ring_commit(&r, 0);
	ck_assert_uint_eq(pool.in_use, 4);
	ring_free(&r);
	ck_assert_uint_eq(pool.in_use, 0);
	/* an empty reservation on an empty ring keeps nothing */
	ring_init(&r, &pool, RING_CHUNK + 5);
	ck_assert_uint_gt(ring_reserve(&r, iov, 4, 1000, UINT64_MAX, 1), 0);
	ring_commit(&r, 0);
	ck_assert_uint_eq(pool.in_use, 0);
	ring_free(&r);
	chunk_pool_destroy(&pool);
	free(buf);
	free(out);
}
END_TEST

static Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *t;

	t = tcase_create("pool");
	tcase_add_test(t, test_pool_limit_in_chunks_at_least_4);
	tcase_add_test(t, test_pool_reuses_cached_chunks_and_tracks_peak);
	suite_add_tcase(s, t);

	t = tcase_create("send");
	tcase_add_test(t, test_append_within_one_chunk);
	tcase_add_test(t, test_append_across_chunk_boundaries);
	tcase_add_test(t, test_append_respects_limit_end);
	tcase_add_test(t, test_soft_append_stops_at_pool_limit);
	tcase_add_test(t, test_copy_and_peek_at_any_offset);
	tcase_add_test(t, test_release_returns_whole_chunks);
	tcase_add_test(t, test_emptied_ring_holds_no_chunk);
	suite_add_tcase(s, t);

	t = tcase_create("receive");
	tcase_add_test(t, test_put_leaves_holes_that_peek_as_empty);
	tcase_add_test(t, test_put_below_base_is_clipped);
	tcase_add_test(t, test_put_of_zero_bytes_takes_no_chunk);
	tcase_add_test(t, test_copy_from_hole_fails_without_exiting);
	suite_add_tcase(s, t);

	t = tcase_create("span");
	tcase_add_test(t, test_slot_array_grows_with_span);
	tcase_add_test(t, test_offsets_beyond_4g);
	tcase_add_test(t, test_reserve_across_growth_then_commit);
	suite_add_tcase(s, t);

	t = tcase_create("random");
	tcase_set_timeout(t, 60);
	tcase_add_loop_test(t, test_random_sender_matches_model, 0, 2);
	tcase_add_test(t, test_random_receiver_all_then_read_matches_model);
	tcase_add_loop_test(t, test_random_receiver_interleaved_matches_model, 0, 2);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(ring_suite());
	int failed;

	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
