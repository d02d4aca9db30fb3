/* ring.c: chunked byte rings and their pool.
 *
 * Chunk n (covering offsets [n*RING_CHUNK, (n+1)*RING_CHUNK)) lives in
 * slot[n & (cap-1)].  Slots between base and end always hold a chunk or
 * NULL (receive side: not yet written); the slot array doubles when the
 * span of live chunks outgrows it. */
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "log.h"
#include "ring.h"
#include "util.h"

void chunk_pool_init(struct chunk_pool *p, size_t limit_bytes)
{
	memset(p, 0, sizeof(*p));
	p->limit = limit_bytes / RING_CHUNK;
	if (p->limit < 4)
		p->limit = 4;
	p->cache_max = 256;
	p->cache = xcalloc(p->cache_max, sizeof(void *));
}

void chunk_pool_destroy(struct chunk_pool *p)
{
	size_t i;

	for (i = 0; i < p->ncache; i++)
		free(p->cache[i]);
	free(p->cache);
	p->cache = NULL;
	p->ncache = 0;
}

static uint8_t *chunk_get(struct chunk_pool *p)
{
	uint8_t *c;

	if (p->ncache)
		c = p->cache[--p->ncache];
	else
		c = xmalloc(RING_CHUNK);
	p->in_use++;
	if (p->in_use > p->peak)
		p->peak = p->in_use;
	return c;
}

static void chunk_put(struct chunk_pool *p, uint8_t *c)
{
	p->in_use--;
	if (p->ncache < p->cache_max)
		p->cache[p->ncache++] = c;
	else
		free(c);
}

/* a ring's own count of the chunks it holds, beside the pool's */
static uint8_t *ring_chunk_get(struct ring *r)
{
	r->nchunks++;
	return chunk_get(r->pool);
}

static void ring_chunk_put(struct ring *r, uint8_t *c)
{
	r->nchunks--;
	chunk_put(r->pool, c);
}

void ring_init(struct ring *r, struct chunk_pool *pool, uint64_t base)
{
	memset(r, 0, sizeof(*r));
	r->pool = pool;
	r->base = r->end = base;
}

static uint64_t chunk_no(uint64_t off)
{
	return off / RING_CHUNK;
}

/* first and one-past-last chunk numbers that may hold live bytes */
static uint64_t first_chunk(const struct ring *r)
{
	return chunk_no(r->base);
}

static uint64_t last_chunk(const struct ring *r)
{
	return r->end == r->base ? chunk_no(r->base) : chunk_no(r->end - 1) + 1;
}

void ring_free(struct ring *r)
{
	size_t i;

	ring_release(r, r->end);
	for (i = 0; i < r->cap; i++) { /* reserved and never committed */
		if (r->slot[i])
			ring_chunk_put(r, r->slot[i]);
	}
	free(r->slot);
	r->slot = NULL;
	r->cap = 0;
}

/* grow() - make the slot array cover chunk numbers [first_chunk, upto);
 * every slot moves, also chunks reserved beyond the end */
static void grow(struct ring *r, uint64_t upto)
{
	uint64_t first = first_chunk(r), n;
	size_t cap = r->cap ? r->cap : 4;
	uint8_t **slot;

	if (upto - first <= r->cap)
		return;
	while (cap < upto - first)
		cap *= 2;
	slot = xcalloc(cap, sizeof(*slot));
	for (n = first; n < first + r->cap; n++)
		slot[n & (cap - 1)] = r->slot[n & (r->cap - 1)];
	free(r->slot);
	r->slot = slot;
	r->cap = cap;
}

static uint8_t **slot_of(const struct ring *r, uint64_t off)
{
	return &r->slot[chunk_no(off) & (r->cap - 1)];
}

size_t ring_append(struct ring *r, const void *data, size_t len, uint64_t limit_end, int soft)
{
	const uint8_t *d = data;
	size_t done = 0;

	if (limit_end < r->end)
		return 0;
	len = (size_t)MIN((uint64_t)len, limit_end - r->end);
	while (done < len) {
		size_t in_chunk = r->end % RING_CHUNK;
		size_t n = MIN(len - done, (size_t)RING_CHUNK - in_chunk);
		uint8_t **s;

		grow(r, chunk_no(r->end) + 1);
		s = slot_of(r, r->end);
		if (!*s) {
			if (soft && chunk_pool_full(r->pool))
				break;
			*s = ring_chunk_get(r);
		}
		memcpy(*s + in_chunk, d + done, n);
		r->end += n;
		done += n;
	}
	return done;
}

size_t ring_reserve(struct ring *r, struct iovec *iov, size_t maxiov, size_t len,
		    uint64_t limit_end, int soft)
{
	uint64_t off = r->end;
	size_t n = 0;

	if (limit_end <= r->end)
		return 0;
	len = (size_t)MIN((uint64_t)len, limit_end - r->end);
	while (len && n < maxiov) {
		size_t in_chunk = off % RING_CHUNK;
		size_t take = MIN(len, (size_t)RING_CHUNK - in_chunk);
		uint8_t **s;

		grow(r, chunk_no(off) + 1);
		s = slot_of(r, off);
		if (!*s) {
			if (soft && chunk_pool_full(r->pool))
				break;
			*s = ring_chunk_get(r);
		}
		iov[n].iov_base = *s + in_chunk;
		iov[n].iov_len = take;
		n++;
		off += take;
		len -= take;
	}
	return n;
}

void ring_commit(struct ring *r, size_t n)
{
	uint64_t c, stop;

	r->end += n;
	/* reserved chunks from the first that holds no live byte on go back
	 * (an idle flow holds no memory); the bound keeps clear of slots that
	 * alias live chunks */
	stop = first_chunk(r) + r->cap;
	for (c = last_chunk(r); c < stop; c++) {
		uint8_t **s = &r->slot[c & (r->cap - 1)];

		if (!*s)
			break;
		ring_chunk_put(r, *s);
		*s = NULL;
	}
}

void ring_put(struct ring *r, uint64_t off, const void *data, size_t len)
{
	const uint8_t *d = data;

	if (off + len <= r->base)
		return;
	if (off < r->base) {
		d += r->base - off;
		len -= (size_t)(r->base - off);
		off = r->base;
	}
	grow(r, chunk_no(off + len - 1) + 1);
	if (off + len > r->end) {
		/* chunks between the old end and off are left NULL: holes */
		r->end = off + len;
	}
	while (len) {
		size_t in_chunk = off % RING_CHUNK;
		size_t n = MIN(len, (size_t)RING_CHUNK - in_chunk);
		uint8_t **s = slot_of(r, off);

		if (!*s)
			*s = ring_chunk_get(r);
		memcpy(*s + in_chunk, d, n);
		off += n;
		d += n;
		len -= n;
	}
}

size_t ring_chunks_needed(const struct ring *r, uint64_t off, size_t len)
{
	uint64_t end = off + len, c, n = 0;

	if (end <= r->base || len == 0)
		return 0;
	off = MAX(off, r->base);
	for (c = chunk_no(off); c <= chunk_no(end - 1); c++) {
		if (!r->cap || c - first_chunk(r) >= r->cap || !r->slot[c & (r->cap - 1)])
			n++;
	}
	return (size_t)n;
}

size_t ring_peek(const struct ring *r, uint64_t off, const uint8_t **p)
{
	size_t in_chunk = off % RING_CHUNK;
	uint8_t *c;

	if (off < r->base || off >= r->end)
		return 0;
	c = *slot_of(r, off);
	if (!c)
		return 0;
	*p = c + in_chunk;
	return (size_t)MIN((uint64_t)RING_CHUNK - in_chunk, r->end - off);
}

int ring_copy(const struct ring *r, uint64_t off, void *out, size_t len)
{
	uint8_t *o = out;

	while (len) {
		const uint8_t *p;
		size_t n = ring_peek(r, off, &p);

		if (n == 0)
			return -1;
		n = MIN(n, len);
		memcpy(o, p, n);
		o += n;
		off += n;
		len -= n;
	}
	return 0;
}

void ring_release(struct ring *r, uint64_t off)
{
	uint64_t n, upto;

	if (off <= r->base)
		return;
	if (off > r->end)
		off = r->end;
	/* chunks entirely below the new base go back to the pool */
	upto = chunk_no(off);
	for (n = first_chunk(r); n < upto && r->cap; n++) {
		uint8_t **s = &r->slot[n & (r->cap - 1)];

		if (*s) {
			ring_chunk_put(r, *s);
			*s = NULL;
		}
	}
	r->base = off;
	/* an empty ring keeps no partial chunk either: idle flows hold nothing */
	if (r->base == r->end && r->cap && r->base % RING_CHUNK != 0) {
		uint8_t **s = slot_of(r, r->base);

		if (*s) {
			ring_chunk_put(r, *s);
			*s = NULL;
		}
	}
}
