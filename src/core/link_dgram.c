/* link_dgram.c: UDP flows on the link: datagrams, not a byte stream.
 *
 * Send side: each datagram is split into fragments that fit a packet and
 * queued with a per-flow sequence number; fragments are acknowledged with
 * the packets that carry them and resent while younger than
 * dgram_max_age_us (docs/DESIGN.md 11.8).
 *
 * Receive side: a window of sequence numbers filters duplicates, slots
 * reassemble fragments, and datagrams that overtook their flow's OPEN wait
 * in a stash of their own.  Everything a peer can make us hold here is
 * bounded per flow and per link (the reassembly buffers and the stash),
 * and what does not fit is dropped and counted, as UDP may drop it. */
#include <stdlib.h>
#include <string.h>

#include "link_int.h"
#include "log.h"

/* ---- send side --------------------------------------------------------- */

/* a fragment leaves room in its packet for the packet number, the frame's
 * header and an ACK frame */
#define DGRAM_FRAG_ROOM 48

static struct dgram_rec *dq_at(struct dgram_queue *q, size_t i)
{
	return &q->r[(q->head + i) & (q->cap - 1)];
}

struct dgram_queue *dq_new(struct chunk_pool *pool)
{
	struct dgram_queue *q = xcalloc(1, sizeof(*q));

	ring_init(&q->data, pool, 0);
	q->cap = 16;
	q->r = xcalloc(q->cap, sizeof(*q->r));
	q->head_rid = 1;
	return q;
}

void dq_free(struct dgram_queue *q)
{
	if (!q)
		return;
	ring_free(&q->data);
	free(q->r);
	free(q);
}

static void dq_grow(struct dgram_queue *q)
{
	struct dgram_rec *r = xcalloc(q->cap * 2, sizeof(*r));
	size_t i;

	for (i = 0; i < q->n; i++)
		r[i] = *dq_at(q, i);
	free(q->r);
	q->r = r;
	q->head = 0;
	q->cap *= 2;
}

/* dq_pop_done() - drop acknowledged and dropped records from the head */
static void dq_pop_done(struct dgram_queue *q)
{
	while (q->n) {
		struct dgram_rec *d = dq_at(q, 0);

		if (d->state != DG_ACKED && d->state != DG_DROPPED)
			break;
		q->head = (q->head + 1) & (q->cap - 1);
		q->head_rid++;
		q->n--;
		ring_release(&q->data, q->n ? dq_at(q, 0)->off : q->data.end);
	}
}

static struct dgram_rec *dq_find(struct dgram_queue *q, uint64_t rid)
{
	if (!q || rid < q->head_rid || rid - q->head_rid >= q->n)
		return NULL;
	return dq_at(q, (size_t)(rid - q->head_rid));
}

static void dq_set_state(struct dgram_queue *q, struct dgram_rec *d, uint8_t state)
{
	int was = d->state == DG_QUEUED || d->state == DG_LOST;
	int is = state == DG_QUEUED || state == DG_LOST;

	d->state = state;
	q->sendable += (size_t)is - (size_t)was;
}

int dgram_sendable(const struct link_flow *f)
{
	return f->dq->sendable > 0;
}

uint64_t dgram_buffered(const struct link_flow *f)
{
	return ring_used(&f->dq->data) + (f->dr ? ring_used(&f->dr->early) : 0);
}

void dgram_acked(struct link *l, struct link_flow *f, uint64_t rid)
{
	struct dgram_rec *d = dq_find(f->dq, rid);

	(void)l;
	if (d && d->state != DG_DROPPED) {
		dq_set_state(f->dq, d, DG_ACKED);
		dq_pop_done(f->dq);
	}
}

/* dgram_lost() - a fragment's packet was lost: send it again while it is
 * young enough to matter, else drop it as UDP would */
void dgram_lost(struct link *l, struct link_flow *f, uint64_t rid)
{
	struct dgram_rec *d = dq_find(f->dq, rid);

	if (!d || d->state != DG_SENT)
		return;
	if (l->now_us - d->queued_us > l->cfg.dgram_max_age_us) {
		dq_set_state(f->dq, d, DG_DROPPED);
		l->st.dgrams_expired++;
		dq_pop_done(f->dq);
		return;
	}
	dq_set_state(f->dq, d, DG_LOST);
	link_flow_schedule(l, f);
}

/* dgram_put() - the oldest fragment due into the packet, dropping expired
 * ones on the way; 1 if one went in */
int dgram_put(struct link *l, struct link_flow *f, struct wbuf *b, struct sent_pkt *p)
{
	struct dgram_queue *q = f->dq;
	size_t i, mark;

	for (i = 0; i < q->n; i++) {
		struct dgram_rec *d = dq_at(q, i);

		if (d->state != DG_QUEUED && d->state != DG_LOST)
			continue;
		if (l->now_us - d->queued_us > l->cfg.dgram_max_age_us) {
			dq_set_state(q, d, DG_DROPPED);
			l->st.dgrams_expired++;
			continue;
		}
		if (d->len + DGRAM_FRAG_ROOM > l->cfg.max_packet) {
			/* cut for a path that carried larger packets (the path
			 * changed, or its MTU shrank): no packet takes it now */
			dq_set_state(q, d, DG_DROPPED);
			l->st.dgrams_expired++;
			continue;
		}
		mark = b->len;
		if (wire_put_dgram(b, f->id, d->seq, d->total, d->frag, NULL, d->len) < 0)
			break;
		if (ring_copy(&q->data, d->off, b->p + b->len, d->len) < 0) {
			/* cannot happen: our own queue; lose the datagram, not the link */
			b->len = mark;
			dq_set_state(q, d, DG_DROPPED);
			l->st.internal_errors++;
			continue;
		}
		b->len += d->len;
		link_record_frame(p, WF_DATAGRAM, f->id, q->head_rid + i, (uint16_t)d->len, 0, 0);
		dq_set_state(q, d, DG_SENT);
		l->st.dgrams_sent += d->frag == 0;
		dq_pop_done(q);
		return 1;
	}
	dq_pop_done(q);
	return 0;
}

int link_flow_send_dgram(struct link_flow *f, const void *data, size_t len, uint64_t now_us)
{
	struct link *l = f->link;
	struct dgram_queue *q = f->dq;
	size_t frag_max = l->cfg.max_packet - DGRAM_FRAG_ROOM, nfrag, i;
	uint64_t start;

	if (!q || len > 65535)
		return -1;
	if (ring_used(&q->data) + len > l->cfg.dgram_queue_max) {
		l->st.dgrams_dropped_queue++;
		return -1;
	}
	start = q->data.end;
	ring_append(&q->data, data, len, UINT64_MAX, 0);
	/* fragments, each fitting a packet; an empty datagram is one fragment */
	nfrag = len ? (len + frag_max - 1) / frag_max : 1;
	for (i = 0; i < nfrag; i++) {
		struct dgram_rec *d;

		if (q->n == q->cap)
			dq_grow(q);
		d = dq_at(q, q->n++);
		d->seq = q->next_seq;
		d->off = start + i * frag_max;
		d->len = (uint32_t)MIN(frag_max, len - i * frag_max);
		d->total = (uint32_t)len;
		d->frag = (uint32_t)(i * frag_max);
		d->state = DG_DROPPED;
		d->queued_us = now_us;
		dq_set_state(q, d, DG_QUEUED);
	}
	q->next_seq++;
	f->tx_bytes += len;
	link_flow_schedule(l, f);
	return 0;
}

/* ---- receive side: duplicates ------------------------------------------ */

static int seen_bit(const struct dgram_reasm *r, uint64_t seq)
{
	uint64_t i = seq % DGRAM_SEEN_WINDOW;

	return (r->seen[i / 64] >> (i % 64)) & 1;
}

static void seen_set(struct dgram_reasm *r, uint64_t seq, int v)
{
	uint64_t i = seq % DGRAM_SEEN_WINDOW;

	if (v)
		r->seen[i / 64] |= 1ULL << (i % 64);
	else
		r->seen[i / 64] &= ~(1ULL << (i % 64));
}

/* dr_is_seen() - delivered already, or too old to tell (then dropped, as
 * UDP may drop it) */
static int dr_is_seen(const struct dgram_reasm *r, uint64_t seq)
{
	if (!r->have_seq || seq > r->max_seq)
		return 0;
	return r->max_seq - seq >= DGRAM_SEEN_WINDOW || seen_bit(r, seq);
}

/* dr_seen() - mark seq delivered; 1 if it already was (or is too old) */
static int dr_seen(struct dgram_reasm *r, uint64_t seq)
{
	uint64_t s;

	if (dr_is_seen(r, seq))
		return 1;
	if (!r->have_seq || seq > r->max_seq) {
		/* slide the window: forget the bits of the sequence numbers
		 * that now map onto reused positions */
		uint64_t from = r->have_seq ? r->max_seq + 1 : 0;

		if (seq - from >= DGRAM_SEEN_WINDOW)
			memset(r->seen, 0, sizeof(r->seen));
		else
			for (s = from; s <= seq; s++)
				seen_set(r, s, 0);
		r->max_seq = seq;
		r->have_seq = 1;
	}
	seen_set(r, seq, 1);
	return 0;
}

/* ---- receive side: reassembly ------------------------------------------ */

static struct dgram_reasm *dr_new(struct link *l)
{
	struct dgram_reasm *r = xcalloc(1, sizeof(*r));

	ring_init(&r->early, l->pool, 0);
	return r;
}

static void slot_release(struct link *l, struct dgram_reasm *r, int i)
{
	if (r->slot[i].buf) {
		l->reasm_bytes -= MIN(l->reasm_bytes, (uint64_t)r->slot[i].total);
		free(r->slot[i].buf);
		r->slot[i].buf = NULL;
	}
	rangeset_free(&r->slot[i].have); /* its memory too, not only its ranges */
	r->slot[i].used = 0;
}

/* early_changed() - the stash of early datagrams took or gave back chunks */
static void early_changed(struct link *l, const struct dgram_reasm *r, size_t before)
{
	size_t now = r->early.nchunks;

	l->early_dgram_chunks = l->early_dgram_chunks + now - MIN(before, l->early_dgram_chunks + now);
}

void dr_free(struct link *l, struct dgram_reasm *r)
{
	size_t before;
	int i;

	if (!r)
		return;
	for (i = 0; i < DGRAM_REASM_SLOTS; i++)
		slot_release(l, r, i);
	before = r->early.nchunks;
	ring_free(&r->early);
	early_changed(l, r, before);
	free(r);
}

static int slot_stale(const struct link *l, const struct dgram_reasm *r, int i)
{
	return r->slot[i].used && l->now_us - r->slot[i].at_us > l->cfg.dgram_max_age_us;
}

/* reasm_expire() - a datagram still missing fragments after the age at
 * which the sender stops resending them will never complete */
static void reasm_expire(struct link *l, struct dgram_reasm *r)
{
	int i;

	for (i = 0; i < DGRAM_REASM_SLOTS; i++) {
		if (slot_stale(l, r, i)) {
			slot_release(l, r, i);
			l->st.dgrams_expired++;
		}
	}
}

/* reasm_sweep() - the link's reassembly budget is spent: every flow's
 * stale datagrams go (at most every 100 ms: it walks the flows) */
static void reasm_sweep(struct link *l)
{
	struct link_flow *f;
	size_t pos = 0;

	if (l->reasm_sweep_us && l->now_us - l->reasm_sweep_us < 100000)
		return;
	l->reasm_sweep_us = l->now_us;
	while ((f = idmap_next(&l->flows, &pos)))
		if (f->dr)
			reasm_expire(l, f->dr);
}

/* reasm_oldest() - this flow's oldest datagram being reassembled, or -1 */
static int reasm_oldest(const struct dgram_reasm *r, uint64_t *held)
{
	int i, oldest = -1;

	*held = 0;
	for (i = 0; i < DGRAM_REASM_SLOTS; i++) {
		if (!r->slot[i].used)
			continue;
		*held += r->slot[i].total;
		if (oldest < 0 || r->slot[i].seq < r->slot[oldest].seq)
			oldest = i;
	}
	return oldest;
}

/* reasm_room() - make room for total more bytes: this flow gives up its
 * oldest datagrams while it holds more than a quarter of the link's budget
 * or the budget is spent; then the stale ones of every flow go.  0, or -1
 * when there is no room: the fragment is dropped, as UDP may drop it. */
static int reasm_room(struct link *l, struct dgram_reasm *r, uint32_t total)
{
	uint64_t held;
	int i;

	reasm_expire(l, r);
	while ((i = reasm_oldest(r, &held)) >= 0 &&
	       (held + total > LINK_REASM_BYTES_MAX / 4 ||
		l->reasm_bytes + total > LINK_REASM_BYTES_MAX)) {
		slot_release(l, r, i);
		l->st.dgrams_dropped_reasm++;
	}
	if (l->reasm_bytes + total > LINK_REASM_BYTES_MAX)
		reasm_sweep(l);
	if (l->reasm_bytes + total <= LINK_REASM_BYTES_MAX)
		return 0;
	l->st.dgrams_dropped_reasm++;
	return -1;
}

/* reasm_slot() - the slot collecting seq, a new one if the link's budget
 * has room for it (a free slot, or this flow's oldest); -1: drop */
static int reasm_slot(struct link *l, struct dgram_reasm *r, uint64_t seq, uint32_t total)
{
	uint64_t held;
	int i;

	for (i = 0; i < DGRAM_REASM_SLOTS; i++) {
		if (r->slot[i].used && r->slot[i].seq == seq)
			return r->slot[i].total == total ? i : -1;
	}
	if (reasm_room(l, r, total) < 0)
		return -1;
	for (i = 0; i < DGRAM_REASM_SLOTS && r->slot[i].used; i++)
		;
	if (i == DGRAM_REASM_SLOTS) {
		i = reasm_oldest(r, &held);
		slot_release(l, r, i);
		l->st.dgrams_dropped_reasm++;
	}
	r->slot[i].used = 1;
	r->slot[i].seq = seq;
	r->slot[i].total = total;
	r->slot[i].got = 0;
	r->slot[i].at_us = l->now_us;
	rangeset_init(&r->slot[i].have, 0);
	r->slot[i].buf = xmalloc(total ? total : 1);
	l->reasm_bytes += total;
	return i;
}

/* ---- receive side: delivery --------------------------------------------- */

/* stash_early() - a datagram that overtook its flow's OPEN waits in the
 * flow's stash as [len:2][data], within the flow's cap and the link's (in
 * chunks: a stash of one byte takes one) */
static void stash_early(struct link *l, struct link_flow *f, const uint8_t *d, size_t len)
{
	uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	struct ring *r = &f->dr->early;
	size_t before = r->nchunks;

	if (ring_used(r) + 2 + len > DGRAM_EARLY_FLOW_MAX ||
	    l->early_dgram_chunks + ring_chunks_needed(r, r->end, 2 + len) >
		    LINK_EARLY_DGRAM_MAX / RING_CHUNK) {
		l->st.dgrams_dropped_queue++;
		return;
	}
	ring_put(r, r->end, hdr, 2);
	ring_put(r, r->end, d, len);
	early_changed(l, f->dr, before);
}

static void deliver_dgram(struct link *l, struct link_flow *f, uint64_t seq, const uint8_t *d,
			  size_t len)
{
	if (dr_seen(f->dr, seq))
		return;
	if (!f->have_open) {
		stash_early(l, f, d, len);
		return;
	}
	l->st.dgrams_received++;
	f->rx_bytes += len;
	if (l->cb.datagram)
		l->cb.datagram(l->cb.arg, f, d, len);
}

/* dgram_deliver_early() - the OPEN came: hand over what waited for it.
 * The stash holds only what stash_early() wrote, but it is read as if it
 * could lie: a record that does not fit what is held ends the delivery. */
void dgram_deliver_early(struct link *l, struct link_flow *f)
{
	uint8_t buf[65536 + 2];
	uint64_t id = f->id;
	struct ring *r;
	size_t before;

	while (f->dr && ring_used(&f->dr->early) >= 2) {
		size_t len;

		r = &f->dr->early;
		if (ring_copy(r, r->base, buf, 2) < 0)
			break;
		len = (size_t)buf[0] << 8 | buf[1];
		if (ring_used(r) < 2 + (uint64_t)len || ring_copy(r, r->base + 2, buf, len) < 0)
			break;
		before = r->nchunks;
		ring_release(r, r->base + 2 + len);
		early_changed(l, f->dr, before);
		l->st.dgrams_received++;
		f->rx_bytes += len;
		if (l->cb.datagram)
			l->cb.datagram(l->cb.arg, f, buf, len);
		if (link_flow_find(l, id) != f)
			return; /* the glue closed it */
	}
	if (f->dr) {
		r = &f->dr->early;
		before = r->nchunks;
		ring_release(r, r->end);
		early_changed(l, f->dr, before);
	}
}

/* dgram_recv() - a DATAGRAM frame.  Datagrams for a flow that carries a
 * stream (its OPEN said TCP, or stream bytes came before any OPEN) are a
 * peer's mistake: dropped and counted. */
void dgram_recv(struct link *l, const struct wire_frame *fr)
{
	struct link_flow *f = link_remote_or_local_flow(l, fr->flow);
	const struct wire_frame_dgram *g = &fr->u.dgram;
	int i;

	if (!f || IS_FREED(f))
		return;
	if ((f->have_open && !wire_proto_dgram(f->proto)) || (!f->have_open && f->early_stream)) {
		l->st.frames_violating++;
		return;
	}
	if (!f->dr)
		f->dr = dr_new(l);
	if (!f->have_open)
		f->early_dgram = 1;
	if (g->frag == 0 && g->len == g->total) {
		deliver_dgram(l, f, g->seq, g->data, g->len);
		return;
	}
	if (dr_is_seen(f->dr, g->seq) || (i = reasm_slot(l, f->dr, g->seq, g->total)) < 0)
		return;
	if (!rangeset_covers(&f->dr->slot[i].have, g->frag, g->frag + g->len)) {
		memcpy(f->dr->slot[i].buf + g->frag, g->data, g->len);
		rangeset_add(&f->dr->slot[i].have, g->frag, g->frag + g->len);
	}
	if (f->dr->slot[i].have.n > DGRAM_REASM_RANGES_MAX) {
		/* fragments in more pieces than any sender cuts: a peer that
		 * wants our CPU and memory; the datagram is dropped */
		slot_release(l, f->dr, i);
		l->st.dgrams_dropped_reasm++;
		return;
	}
	if (rangeset_covers(&f->dr->slot[i].have, 0, g->total)) {
		uint8_t *buf = f->dr->slot[i].buf;

		/* the slot is free again before delivery: the callback may
		 * close the flow and free its reassembly */
		f->dr->slot[i].buf = NULL;
		l->reasm_bytes -= MIN(l->reasm_bytes, (uint64_t)g->total);
		slot_release(l, f->dr, i);
		deliver_dgram(l, f, g->seq, buf, g->total);
		free(buf);
	}
}
