/* ring.h: a byte buffer addressed by absolute stream offset, built from
 * fixed-size chunks taken from a shared pool.
 *
 * A flow's send ring keeps every byte from the lowest unacknowledged offset
 * to the last byte the application wrote; its receive ring keeps bytes from
 * the next offset to deliver up to the highest received.  Chunks are taken
 * when bytes arrive and given back as soon as the base passes them, so an
 * idle flow holds no buffer memory at all. */
#ifndef OMNET_RING_H
#define OMNET_RING_H

#include <stddef.h>
#include <stdint.h>

#define RING_CHUNK 16384

/* chunk_pool: the daemon-wide source of chunks, with a soft cap on bytes
 * in use.  Send rings stop growing at the cap (backpressure); receive rings
 * may exceed it, because the window they fill was already promised. */
struct chunk_pool {
	void **cache;       /* free chunks kept for reuse */
	size_t ncache, cache_max;
	size_t in_use;      /* chunks handed out */
	size_t limit;       /* soft cap, in chunks */
	size_t peak;
	size_t links;       /* links sharing it: each has a fair share */
};

void chunk_pool_init(struct chunk_pool *p, size_t limit_bytes);
void chunk_pool_destroy(struct chunk_pool *p);
static inline size_t chunk_pool_bytes(const struct chunk_pool *p)
{
	return p->in_use * RING_CHUNK;
}
static inline int chunk_pool_full(const struct chunk_pool *p)
{
	return p->in_use >= p->limit;
}

struct ring {
	struct chunk_pool *pool;
	uint8_t **slot;   /* circular array of chunk pointers, cap a power of 2 */
	size_t cap;
	uint64_t base;    /* lowest offset still kept */
	uint64_t end;     /* one past the highest offset written */
	size_t nchunks;   /* chunks it holds (a byte rounds up to a chunk) */
};

void ring_init(struct ring *r, struct chunk_pool *pool, uint64_t base);
void ring_free(struct ring *r);
/* ring_append() - add up to len bytes at r->end, at most up to limit_end;
 * with soft set, stops when the pool is full.  Returns bytes added. */
size_t ring_append(struct ring *r, const void *data, size_t len, uint64_t limit_end, int soft);
/* ring_reserve() - room for up to len bytes at r->end (at most up to
 * limit_end; with soft set, no more chunks than the pool allows), as
 * iovecs a readv() can fill directly; returns the number of iovecs.
 * ring_commit() then takes the n bytes written; chunks left unused go back
 * to the pool. */
struct iovec;
size_t ring_reserve(struct ring *r, struct iovec *iov, size_t maxiov, size_t len,
		    uint64_t limit_end, int soft);
void ring_commit(struct ring *r, size_t n);
/* ring_put() - store bytes at [off, off+len), off >= base; never limited by
 * the pool (receive side: the window was promised).  Bytes below base are
 * skipped. */
void ring_put(struct ring *r, uint64_t off, const void *data, size_t len);
/* ring_chunks_needed() - chunks a ring_put() of [off, off+len) would take
 * from the pool: what memory a receive costs, not its byte count */
size_t ring_chunks_needed(const struct ring *r, uint64_t off, size_t len);
/* ring_copy() - copy [off, off+len) out; 0, or -1 if any of it is not
 * held (a caller's bug, never a reason to exit: the caller drops what it
 * was building) */
int ring_copy(const struct ring *r, uint64_t off, void *out, size_t len);
/* ring_peek() - pointer to contiguous bytes at off, up to the chunk end;
 * returns how many (bounded by end - off) */
size_t ring_peek(const struct ring *r, uint64_t off, const uint8_t **p);
/* ring_release() - forget everything below off and return whole chunks */
void ring_release(struct ring *r, uint64_t off);
static inline uint64_t ring_used(const struct ring *r)
{
	return r->end - r->base;
}

#endif
