/* link.c: reliability, flow control and scheduling of one link session.
 *
 * Packets carry a packet number that is never reused; the receiver
 * acknowledges ranges of them.  What a lost packet carried is not resent
 * as a packet: its frames are put back where they came from (stream bytes
 * into the flow's retransmit set, control frames into their queues) and
 * go out again in new packets, as QUIC does (RFC 9000 13.3). */
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "idmap.h"
#include "link.h"
#include "log.h"

/* What a sent packet carried, enough to act on its ack or its loss. */
struct sent_frame {
	uint8_t type;
	uint8_t fin;
	uint16_t len;  /* STREAM/DATAGRAM bytes */
	uint32_t aux;  /* RESET reason */
	uint64_t flow;
	uint64_t off;  /* STREAM offset, DATAGRAM record id, WINDOW value, RESET final */
};

enum { SP_FREE, SP_INFLIGHT, SP_ACKED, SP_LOST };

struct sent_pkt {
	uint64_t pn;
	uint64_t sent_us;
	uint32_t size;
	uint8_t state;
	uint8_t ack_eliciting;
	uint8_t nframes;
	uint8_t app_limited;
	uint8_t mtu_probe;        /* a path MTU probe: outside congestion control */
	uint8_t has_ack;          /* carried an ACK frame ... */
	uint64_t ack_largest;     /* ... acknowledging up to this packet number */
	/* delivery rate estimation: the link's delivered count when it left */
	uint64_t delivered, delivered_us, first_sent_us;
	struct sent_frame f[LINK_MAX_FRAMES];
};

/* A link-level control frame waiting to be (re)sent. */
struct pending_ctl {
	uint8_t type; /* WF_RESET, WF_CLOSE, WF_NETWORK_DELETED */
	uint64_t flow;
	uint64_t reason, final;
	struct netid net;
};

/* UDP: datagram fragments waiting for an ack, in order of queueing. */
enum { DG_QUEUED, DG_SENT, DG_ACKED, DG_LOST, DG_DROPPED };

struct dgram_rec {
	uint64_t seq;
	uint64_t off;     /* in the queue's ring */
	uint32_t len, total, frag;
	uint8_t state;
	uint64_t queued_us;
};

struct dgram_queue {
	struct ring data;
	struct dgram_rec *r;
	size_t cap, n;    /* circular, cap a power of 2 */
	uint64_t head_rid; /* record id of r[head] */
	size_t head;
	uint64_t next_seq;
	size_t sendable;  /* records QUEUED or LOST */
};

/* UDP receive side: duplicate filter and reassembly of fragments. */
#define DGRAM_REASM_SLOTS 32 /* datagrams being reassembled at once */
#define DGRAM_SEEN_WINDOW 1024 /* datagrams: resends can lag this far behind */
struct dgram_reasm {
	uint64_t max_seq;
	uint64_t seen[DGRAM_SEEN_WINDOW / 64]; /* bit seq % window: delivered */
	int have_seq;
	struct {
		int used;
		uint64_t seq;
		uint32_t total, got;
		struct rangeset have;
		uint8_t *buf;
	} slot[DGRAM_REASM_SLOTS];
};

struct link {
	struct link_config cfg;
	struct link_cb cb;
	struct chunk_pool *pool;
	uint64_t now_us;

	/* sent packets, indexed by packet number */
	struct sent_pkt *sp;
	size_t sp_cap;
	uint64_t sp_first, next_pn;
	uint64_t largest_acked;
	int have_acked;
	uint64_t last_eliciting_us;
	uint64_t loss_time_us;
	uint64_t pkt_threshold;   /* RFC 9002 6.1.1: 3, raised by spurious losses */
	unsigned time_threshold;  /* in eighths of an RTT: 9, raised likewise */
	int building_retx;        /* the packet being built resends data */
	unsigned pto_count;
	unsigned probes;
	uint64_t pace_at_us;     /* data waits for the pacer until then */

	/* received packets */
	struct rangeset rcv_pns;
	uint64_t rcv_floor;      /* below this: treated as duplicates */
	uint64_t rcv_largest, rcv_largest_us;
	int have_rcv;
	unsigned ack_pending;    /* ack-eliciting packets not yet acknowledged */
	uint64_t ack_deadline_us;
	int ack_now;
	uint64_t last_recv_us;

	struct rtt rtt;
	struct cc cc;
	/* delivery rate estimation (draft-cheng-iccrg-delivery-rate-estimation) */
	uint64_t delivered, delivered_us, first_sent_us;
	uint64_t app_limited_until;  /* 0, or delivered count that ends the lull */
	struct rate_sample rs;       /* being built for the current ACK frame */
	uint64_t rs_send_elapsed, rs_ack_elapsed;

	/* link-level flow control, cumulative stream bytes */
	uint64_t snd_data, snd_max_data;
	uint64_t rcv_data, rcv_consumed, rcv_max_data, rcv_window, rcv_window_at_us;
	int need_link_window;

	/* flows */
	struct idmap flows;
	size_t nflows;
	uint64_t next_local_id, next_remote_id;
	struct link_flow *sched_head, *sched_tail;
	struct link_flow *ctl_head, *ctl_tail;
	struct link_flow *reap;  /* freed at the end of the current entry point */
	int depth;               /* entry point nesting */

	uint64_t snd_buffered;       /* bytes in all send rings */
	int buffer_full;             /* a flow was refused for the link's cap */

	struct pending_ctl *pend;
	size_t npend, pend_cap;
	int ping_pending;
	uint8_t oneshot[1024];       /* encoded frames to send once */
	size_t noneshot;
	uint8_t cand_method[WIRE_MAX_CANDIDATES];
	struct ipport cand_addr[WIRE_MAX_CANDIDATES];
	size_t ncand;
	int cand_pending;

	struct link_stats st;
};

/* Flows the glue reset wait here, buffers freed, until the peer's RESET
 * tells how far it had sent: only then do both ends agree on link-level
 * flow control.  Marked by this sentinel in ->app. */
static char tombstone_mark;
#define IS_TOMBSTONE(f) ((f)->app == &tombstone_mark)

static void flow_free(struct link *l, struct link_flow *f);
static void flow_schedule(struct link *l, struct link_flow *f);
static void ctl_queue(struct link *l, struct link_flow *f);
static int flow_can_send(const struct link *l, const struct link_flow *f);
static void link_update_window(struct link *l);

void link_config_default(struct link_config *c)
{
	memset(c, 0, sizeof(*c));
	c->max_packet = 1400;
	c->max_ack_delay_us = 25000;
	c->flow_window_max = 16 << 20;
	c->link_window_max = 64 << 20;
	c->send_buffer = 16 << 20;
	c->link_buffer = 64 << 20;
	c->max_flows = 65536;
	c->dgram_max_age_us = 2000000;
	c->dgram_queue_max = 256 << 10;
	c->pto_max_us = 2000000;
	c->cc = CC_BBR;
	c->opens_even = 1;
}

struct link *link_new(const struct link_config *cfg, const struct link_cb *cb,
		      struct chunk_pool *pool, uint64_t now_us)
{
	struct link *l = xcalloc(1, sizeof(*l));

	l->cfg = *cfg;
	l->cb = *cb;
	l->pool = pool;
	l->now_us = now_us;
	l->sp_cap = 256;
	l->sp = xcalloc(l->sp_cap, sizeof(*l->sp));
	l->pkt_threshold = LINK_PKT_THRESHOLD;
	l->time_threshold = LINK_TIME_THRESHOLD;
	rangeset_init(&l->rcv_pns, 256);
	rtt_init(&l->rtt);
	cc_init(&l->cc, cfg->cc, cfg->max_packet);
	l->snd_max_data = LINK_INITIAL_LINK_WINDOW;
	/* the link window bounds this side's receive memory, nothing more:
	 * offer all of it at once (a window grown slowly would let one slow
	 * reader's parked bytes starve every other flow) */
	l->rcv_window = MAX((uint64_t)LINK_INITIAL_LINK_WINDOW, cfg->link_window_max);
	l->rcv_max_data = l->rcv_window;
	l->need_link_window = l->rcv_window > LINK_INITIAL_LINK_WINDOW;
	idmap_init(&l->flows);
	l->next_local_id = cfg->opens_even ? 2 : 1;
	l->next_remote_id = cfg->opens_even ? 1 : 2;
	l->last_recv_us = now_us;
	return l;
}

static void reap(struct link *l)
{
	while (l->reap) {
		struct link_flow *f = l->reap;

		l->reap = f->ctl_next;
		free(f);
	}
}

void link_free(struct link *l)
{
	struct link_flow **all, *f;
	size_t pos = 0, n = 0, i;

	if (!l)
		return;
	all = xcalloc(l->nflows, sizeof(*all));
	while ((f = idmap_next(&l->flows, &pos)) && n < l->nflows)
		all[n++] = f;
	l->depth++;
	for (i = 0; i < n; i++)
		flow_free(l, all[i]);
	l->depth--;
	free(all);
	reap(l);
	idmap_free(&l->flows);
	rangeset_free(&l->rcv_pns);
	free(l->sp);
	free(l->pend);
	free(l);
}

/* Entry points nest (a callback may call back in); flows freed inside are
 * released only when the outermost one returns. */
static void enter(struct link *l, uint64_t now_us)
{
	if (l->depth++ == 0 && now_us)
		l->now_us = now_us;
}

static void leave(struct link *l)
{
	if (--l->depth == 0)
		reap(l);
}

static int is_local_id(const struct link *l, uint64_t id)
{
	return ((id & 1) == 0) == (l->cfg.opens_even != 0);
}

/* ---- datagram queue (UDP flows, send side) ---------------------------- */

static struct dgram_rec *dq_at(struct dgram_queue *q, size_t i)
{
	return &q->r[(q->head + i) & (q->cap - 1)];
}

static struct dgram_queue *dq_new(struct chunk_pool *pool)
{
	struct dgram_queue *q = xcalloc(1, sizeof(*q));

	ring_init(&q->data, pool, 0);
	q->cap = 16;
	q->r = xcalloc(q->cap, sizeof(*q->r));
	q->head_rid = 1;
	return q;
}

static void dq_free(struct dgram_queue *q)
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

/* ---- sent packet store ----------------------------------------------- */

static struct sent_pkt *sp_get(struct link *l, uint64_t pn)
{
	if (pn < l->sp_first || pn >= l->next_pn)
		return NULL;
	return &l->sp[pn & (l->sp_cap - 1)];
}

static void sp_grow(struct link *l)
{
	size_t cap = l->sp_cap * 2;
	struct sent_pkt *sp = xcalloc(cap, sizeof(*sp));
	uint64_t pn;

	for (pn = l->sp_first; pn < l->next_pn; pn++)
		sp[pn & (cap - 1)] = l->sp[pn & (l->sp_cap - 1)];
	free(l->sp);
	l->sp = sp;
	l->sp_cap = cap;
}

/* sp_next() - the cleared record of the packet about to be numbered
 * next_pn, the history grown if it is full */
static struct sent_pkt *sp_next(struct link *l)
{
	struct sent_pkt *p;

	if (l->next_pn - l->sp_first >= l->sp_cap)
		sp_grow(l);
	p = &l->sp[l->next_pn & (l->sp_cap - 1)];
	memset(p, 0, offsetof(struct sent_pkt, f));
	return p;
}

/* sp_trim() - forget resolved packets at the front.  A lost one is kept
 * for three RTTs: if its ACK still comes, the loss was reordering, and the
 * packet threshold learns how far the path reorders. */
static void sp_trim(struct link *l)
{
	uint64_t keep_us = 3 * MAX(l->rtt.smoothed_us, (uint64_t)CC_GRANULARITY_US);

	while (l->sp_first < l->next_pn) {
		const struct sent_pkt *p = &l->sp[l->sp_first & (l->sp_cap - 1)];

		if (p->state == SP_INFLIGHT ||
		    (p->state == SP_LOST && l->now_us - p->sent_us < keep_us))
			break;
		l->sp_first++;
	}
}

/* ---- flows ------------------------------------------------------------ */

static struct link_flow *flow_new(struct link *l, uint64_t id)
{
	struct link_flow *f = xcalloc(1, sizeof(*f));

	f->id = id;
	f->link = l;
	ring_init(&f->snd, l->pool, 0);
	ring_init(&f->rcv, l->pool, 0);
	rangeset_init(&f->snd_acked, 0);
	rangeset_init(&f->snd_retx, 0);
	rangeset_init(&f->rcv_have, 0);
	f->snd_max = LINK_INITIAL_FLOW_WINDOW;
	f->rcv_max = LINK_INITIAL_FLOW_WINDOW;
	f->rcv_window = LINK_INITIAL_FLOW_WINDOW;
	f->rcv_fin_off = UINT64_MAX;
	idmap_put(&l->flows, id, f);
	l->nflows++;
	return f;
}

static void list_unlink(struct link_flow **head, struct link_flow **tail,
			struct link_flow *f, int sched)
{
	struct link_flow *prev = sched ? f->sched_prev : NULL;
	struct link_flow *next = sched ? f->sched_next : f->ctl_next;

	if (sched) {
		if (prev)
			prev->sched_next = next;
		else
			*head = next;
		if (next)
			next->sched_prev = prev;
		else
			*tail = prev;
		f->sched_prev = f->sched_next = NULL;
		return;
	}
	/* the control queue is short and singly linked: find the predecessor */
	for (prev = NULL, next = *head; next && next != f; prev = next, next = next->ctl_next)
		;
	if (!next)
		return;
	if (prev)
		prev->ctl_next = f->ctl_next;
	else
		*head = f->ctl_next;
	if (*tail == f)
		*tail = prev;
	f->ctl_next = NULL;
}

static void dr_free(struct dgram_reasm *r)
{
	int i;

	if (!r)
		return;
	for (i = 0; i < DGRAM_REASM_SLOTS; i++) {
		free(r->slot[i].buf);
		rangeset_free(&r->slot[i].have);
	}
	free(r);
}

/* flow_free() - unlink and release buffers now, the struct at reap time */
static void flow_free(struct link *l, struct link_flow *f)
{
	if (f->scheduled) {
		list_unlink(&l->sched_head, &l->sched_tail, f, 1);
		f->scheduled = 0;
	}
	if (f->ctl_queued) {
		list_unlink(&l->ctl_head, &l->ctl_tail, f, 0);
		f->ctl_queued = 0;
	}
	idmap_del(&l->flows, f->id);
	l->nflows--;
	l->snd_buffered -= MIN(l->snd_buffered, ring_used(&f->snd));
	ring_free(&f->snd);
	ring_free(&f->rcv);
	rangeset_free(&f->snd_acked);
	rangeset_free(&f->snd_retx);
	rangeset_free(&f->rcv_have);
	dq_free(f->dq);
	dr_free(f->dr);
	f->dq = NULL;
	f->dr = NULL;
	f->ctl_next = l->reap;
	l->reap = f;
	if (l->depth == 0)
		reap(l);
}

static void pend_push(struct link *l, const struct pending_ctl *p)
{
	if (l->npend == l->pend_cap) {
		l->pend_cap = l->pend_cap ? l->pend_cap * 2 : 8;
		l->pend = xrealloc(l->pend, l->pend_cap * sizeof(*l->pend));
	}
	l->pend[l->npend++] = *p;
}

/* credit_unconsumed() - bytes of a flow that end without being read still
 * count as consumed for the link window, or it would shrink forever */
static void credit_unconsumed(struct link *l, struct link_flow *f, uint64_t final)
{
	uint64_t highest = MAX(f->rcv.end, final);

	if (highest > f->rcv.end)
		l->rcv_data += highest - f->rcv.end;
	if (highest > f->rcv.base)
		l->rcv_consumed += highest - f->rcv.base;
	ring_release(&f->rcv, f->rcv.end);
	f->rcv.base = f->rcv.end = highest;
	link_update_window(l);
}

static void queue_reset(struct link *l, struct link_flow *f, uint64_t reason)
{
	struct pending_ctl p = { .type = WF_RESET, .flow = f->id, .reason = reason,
				 .final = f->snd_next };

	pend_push(l, &p);
}

/* flow_done() - finished both ways: every byte and the FIN acknowledged
 * (a FIN can be acknowledged while earlier bytes still await resending),
 * and the peer's FIN received and seen by the glue */
static int flow_done(const struct link_flow *f)
{
	if (f->proto != WIRE_PROTO_TCP)
		return 0;
	return f->fin_acked && f->snd.base == f->snd.end && f->fin_read;
}

static void flow_maybe_finish(struct link *l, struct link_flow *f)
{
	if (!flow_done(f) || IS_TOMBSTONE(f))
		return;
	if (l->cb.flow_gone)
		l->cb.flow_gone(l->cb.arg, f, RST_NONE);
	flow_free(l, f);
}

/* ---- flow control ----------------------------------------------------- */

/* maybe_grow_window() - autotuning: a window used up within two RTTs is
 * what limits the flow, so double it (up to the configured cap) */
static uint64_t maybe_grow_window(const struct link *l, uint64_t window, uint64_t *at_us,
				  uint64_t cap)
{
	uint64_t srtt = l->rtt.has_sample ? l->rtt.smoothed_us : 0;

	if (*at_us && srtt && l->now_us - *at_us < 2 * srtt && window < cap)
		window = MIN(window * 2, cap);
	*at_us = l->now_us;
	return window;
}

static void flow_update_window(struct link *l, struct link_flow *f)
{
	if (f->rcv_fin || f->rcv_max - f->rcv.base > f->rcv_window / 2)
		return;
	f->rcv_window = maybe_grow_window(l, f->rcv_window, &f->rcv_window_at_us,
					  l->cfg.flow_window_max);
	f->rcv_max = f->rcv.base + f->rcv_window;
	f->need_window = 1;
	ctl_queue(l, f);
}

static void link_update_window(struct link *l)
{
	if (l->rcv_max_data - MIN(l->rcv_max_data, l->rcv_consumed) > l->rcv_window / 2)
		return;
	l->rcv_window = maybe_grow_window(l, l->rcv_window, &l->rcv_window_at_us,
					  l->cfg.link_window_max);
	l->rcv_max_data = l->rcv_consumed + l->rcv_window;
	l->need_link_window = 1;
}

/* ---- scheduling -------------------------------------------------------- */

static void flow_schedule(struct link *l, struct link_flow *f)
{
	if (f->scheduled || IS_TOMBSTONE(f) || !flow_can_send(l, f))
		return;
	f->scheduled = 1;
	f->sched_prev = l->sched_tail;
	f->sched_next = NULL;
	if (l->sched_tail)
		l->sched_tail->sched_next = f;
	else
		l->sched_head = f;
	l->sched_tail = f;
}

static void ctl_queue(struct link *l, struct link_flow *f)
{
	if (f->ctl_queued)
		return;
	f->ctl_queued = 1;
	f->ctl_next = NULL;
	if (l->ctl_tail)
		l->ctl_tail->ctl_next = f;
	else
		l->ctl_head = f;
	l->ctl_tail = f;
}

static int flow_has_new_data(const struct link *l, const struct link_flow *f)
{
	return f->snd_next < f->snd.end && f->snd_next < f->snd_max && l->snd_data < l->snd_max_data;
}

static int flow_can_send(const struct link *l, const struct link_flow *f)
{
	if (f->local && !f->have_open)
		return 0;
	if (f->dq)
		return f->dq->sendable > 0;
	if (!rangeset_empty(&f->snd_retx) || f->fin_retx)
		return 1;
	if (f->fin_queued && !f->fin_sent && f->snd_next == f->snd.end)
		return 1;
	return flow_has_new_data(l, f);
}

/* ---- receiving --------------------------------------------------------- */

static void on_frames_acked(struct link *l, struct sent_pkt *p);
static uint64_t detect_lost(struct link *l);

/* snd_release() - a send ring shrank: account it to the link, and when
 * the link's cap had refused flows and a quarter of it is free again, let
 * every waiting flow write */
static void snd_released(struct link *l, uint64_t bytes)
{
	struct link_flow *f;
	size_t pos = 0;

	l->snd_buffered -= MIN(l->snd_buffered, bytes);
	if (!l->buffer_full || l->snd_buffered > l->cfg.link_buffer * 3 / 4)
		return;
	l->buffer_full = 0;
	while ((f = idmap_next(&l->flows, &pos))) {
		if (f->want_write && !IS_TOMBSTONE(f) && link_flow_send_space(f) > 0) {
			f->want_write = 0;
			if (l->cb.flow_writable)
				l->cb.flow_writable(l->cb.arg, f);
		}
	}
}

/* stream_acked() - mark bytes acknowledged and drop everything contiguous
 * below the first gap from the send ring */
static void stream_acked(struct link *l, struct link_flow *f, const struct sent_frame *sf)
{
	uint64_t base;

	rangeset_add(&f->snd_acked, sf->off, sf->off + sf->len);
	if (sf->fin)
		f->fin_acked = 1;
	base = rangeset_first_gap(&f->snd_acked, f->snd.base);
	if (base > f->snd.base) {
		uint64_t before = ring_used(&f->snd);

		ring_release(&f->snd, MIN(base, f->snd.end));
		snd_released(l, before - ring_used(&f->snd));
		rangeset_remove(&f->snd_acked, 0, f->snd.base);
		rangeset_remove(&f->snd_retx, 0, f->snd.base);
		if (f->want_write && link_flow_send_space(f) >= (uint64_t)64 << 10) {
			f->want_write = 0;
			if (l->cb.flow_writable)
				l->cb.flow_writable(l->cb.arg, f);
		}
	}
	flow_maybe_finish(l, f);
}

static void on_frames_acked(struct link *l, struct sent_pkt *p)
{
	unsigned i;

	for (i = 0; i < p->nframes; i++) {
		const struct sent_frame *sf = &p->f[i];
		struct link_flow *f = idmap_get(&l->flows, sf->flow);
		struct dgram_rec *d;

		if (!f || IS_TOMBSTONE(f))
			continue;
		switch (sf->type) {
		case WF_OPEN:
			f->open_acked = 1;
			break;
		case WF_STREAM:
			stream_acked(l, f, sf);
			break;
		case WF_DATAGRAM:
			d = dq_find(f->dq, sf->off);
			if (d && d->state != DG_DROPPED) {
				dq_set_state(f->dq, d, DG_ACKED);
				dq_pop_done(f->dq);
			}
			break;
		}
	}
}

/* requeue_frames() - put what a packet carried back into the queues it
 * came from, to go out again in a new packet */
static void requeue_frames(struct link *l, const struct sent_pkt *p)
{
	unsigned i;

	for (i = 0; i < p->nframes; i++) {
		const struct sent_frame *sf = &p->f[i];
		struct link_flow *f = sf->flow ? idmap_get(&l->flows, sf->flow) : NULL;
		struct pending_ctl pc;
		struct dgram_rec *d;

		if (f && IS_TOMBSTONE(f))
			f = NULL;
		switch (sf->type) {
		case WF_STREAM:
			if (!f)
				break;
			if (sf->len)
				rangeset_add(&f->snd_retx, MAX(sf->off, f->snd.base),
					     MAX(sf->off + sf->len, f->snd.base));
			if (sf->fin && !f->fin_acked)
				f->fin_retx = 1;
			flow_schedule(l, f);
			break;
		case WF_DATAGRAM:
			d = f ? dq_find(f->dq, sf->off) : NULL;
			if (!d || d->state != DG_SENT)
				break;
			if (l->now_us - d->queued_us > l->cfg.dgram_max_age_us) {
				dq_set_state(f->dq, d, DG_DROPPED);
				l->st.dgrams_expired++;
				dq_pop_done(f->dq);
			} else {
				dq_set_state(f->dq, d, DG_LOST);
				flow_schedule(l, f);
			}
			break;
		case WF_OPEN:
			if (f && !f->open_acked) {
				f->need_open = 1;
				ctl_queue(l, f);
			}
			break;
		case WF_OPENED:
			if (f) {
				f->need_opened = 1;
				ctl_queue(l, f);
			}
			break;
		case WF_WINDOW:
			if (sf->flow == 0) {
				l->need_link_window = 1;
			} else if (f) {
				f->need_window = 1;
				ctl_queue(l, f);
			}
			break;
		case WF_RESET:
		case WF_CLOSE:
			memset(&pc, 0, sizeof(pc));
			pc.type = sf->type;
			pc.flow = sf->flow;
			pc.reason = sf->aux;
			pc.final = sf->off;
			pend_push(l, &pc);
			break;
		case WF_CANDIDATES:
			l->cand_pending = 1;
			break;
		case WF_PING:
			break;
		}
	}
}

static void on_packet_lost(struct link *l, struct sent_pkt *p)
{
	p->state = SP_LOST;
	if (p->mtu_probe)
		return; /* too big for the path, not congestion; nothing to resend */
	l->st.packets_lost++;
	if (p->ack_eliciting)
		cc_on_lost(&l->cc, p->size);
	requeue_frames(l, p);
}

/* detect_lost() - RFC 9002 6.1: a packet is lost when three later packets
 * were acknowledged, or it is older than 9/8 RTT and a later one was */
static uint64_t detect_lost(struct link *l)
{
	uint64_t delay = rtt_loss_delay_us(&l->rtt, l->time_threshold);
	uint64_t lost_before = l->now_us > delay ? l->now_us - delay : 0;
	uint64_t pn, newest_lost_sent = 0, oldest_lost_sent = UINT64_MAX, lost_bytes = 0;
	int any = 0;

	l->loss_time_us = 0;
	if (!l->have_acked)
		return 0;
	for (pn = l->sp_first; pn <= l->largest_acked && pn < l->next_pn; pn++) {
		struct sent_pkt *p = sp_get(l, pn);

		if (p->state != SP_INFLIGHT)
			continue;
		if (p->sent_us <= lost_before || l->largest_acked >= pn + l->pkt_threshold) {
			on_packet_lost(l, p);
			if (p->mtu_probe)
				continue;
			newest_lost_sent = MAX(newest_lost_sent, p->sent_us);
			oldest_lost_sent = MIN(oldest_lost_sent, p->sent_us);
			lost_bytes += p->size;
			any = 1;
		} else if (!l->loss_time_us || p->sent_us + delay < l->loss_time_us) {
			l->loss_time_us = p->sent_us + delay;
		}
	}
	if (any)
		cc_on_congestion(&l->cc, newest_lost_sent, l->now_us);
	/* RFC 9002 7.6: losses spanning three probe timeouts mean the path
	 * was gone, not congested: start again from the minimal window */
	if (any && l->rtt.has_sample &&
	    newest_lost_sent - oldest_lost_sent > 3 * rtt_pto_us(&l->rtt, l->cfg.max_ack_delay_us))
		cc_on_persistent_congestion(&l->cc);
	sp_trim(l);
	return lost_bytes;
}

/* sample_delivery() - the newest packet acknowledged in an ACK frame
 * sets the interval of its rate sample */
static void sample_delivery(struct link *l, const struct sent_pkt *p)
{
	struct rate_sample *rs = &l->rs;

	l->delivered += p->size;
	l->delivered_us = l->now_us;
	rs->newly_acked += p->size;
	if (p->delivered < rs->prior_delivered && rs->interval_us)
		return;
	rs->prior_delivered = p->delivered;
	rs->is_app_limited = p->app_limited;
	rs->interval_us = 1; /* marks "a packet set it" */
	l->rs_send_elapsed = p->sent_us - p->first_sent_us;
	l->rs_ack_elapsed = l->delivered_us - p->delivered_us;
	l->first_sent_us = p->sent_us;
}

/* spurious_loss() - a packet declared lost arrived after all: the path
 * reorders that far (in packets and in time), so wait that long before
 * calling a packet lost (RFC 9002 6.1.1 and 6.1.2 allow both) */
static void spurious_loss(struct link *l, const struct sent_pkt *p)
{
	uint64_t distance = l->largest_acked > p->pn ? l->largest_acked - p->pn + 1 : 0;

	l->st.packets_spuriously_lost++;
	if (distance > l->pkt_threshold)
		l->pkt_threshold = MIN(distance, (uint64_t)LINK_PKT_THRESHOLD_MAX);
	if (l->time_threshold < LINK_TIME_THRESHOLD_MAX)
		l->time_threshold++;
}

/* ack_of_ack() - RFC 9000 13.2.4: the peer has our ACK up to this packet
 * number, so nothing at or below it needs acknowledging again; the range
 * list stays short however many ACK packets are lost */
static void ack_of_ack(struct link *l, const struct sent_pkt *p)
{
	uint64_t floor = p->ack_largest + 1;

	if (!p->has_ack || floor <= l->rcv_floor)
		return;
	l->rcv_floor = floor;
	rangeset_remove(&l->rcv_pns, 0, floor);
}

static void on_packet_acked(struct link *l, struct sent_pkt *p)
{
	int was_lost = p->state == SP_LOST;

	ack_of_ack(l, p);
	if (p->mtu_probe) {
		p->state = SP_ACKED;
		if (l->cb.probe_acked)
			l->cb.probe_acked(l->cb.arg, p->size);
		return;
	}
	if (was_lost)
		spurious_loss(l, p);
	p->state = SP_ACKED;
	if (p->ack_eliciting)
		sample_delivery(l, p);
	if (!was_lost) {
		l->st.packets_acked++;
		if (p->ack_eliciting)
			cc_on_acked(&l->cc, p->size, p->sent_us, l->now_us, &l->rtt);
	}
	on_frames_acked(l, p);
}

/* finish_rate_sample() - after every packet of an ACK frame was seen: the
 * rate over the longer of the send and ack intervals (so ACK compression
 * does not inflate it), discarded below one min RTT */
static void finish_rate_sample(struct link *l)
{
	struct rate_sample *rs = &l->rs;
	uint64_t interval = MAX(l->rs_send_elapsed, l->rs_ack_elapsed);

	if (l->app_limited_until && l->delivered > l->app_limited_until)
		l->app_limited_until = 0;
	rs->delivered = l->delivered - rs->prior_delivered;
	rs->interval_us = interval;
	rs->delivery_rate = 0;
	if (rs->newly_acked && interval && (!l->rtt.has_sample || interval >= l->rtt.min_us))
		rs->delivery_rate = rs->delivered * 1000000 / interval;
	cc_on_rate_sample(&l->cc, rs, l->now_us, &l->rtt);
}

static void handle_ack(struct link *l, const struct wire_frame *fr)
{
	uint64_t largest = fr->u.ack.ranges[0].hi;
	struct sent_pkt *lp;
	int rtt_sample = 0;
	size_t i;

	if (largest >= l->next_pn) {
		l->st.frames_violating++;
		return;
	}
	memset(&l->rs, 0, sizeof(l->rs));
	l->rs_send_elapsed = l->rs_ack_elapsed = 0;
	lp = sp_get(l, largest);
	if (lp && lp->state == SP_INFLIGHT && lp->ack_eliciting)
		rtt_sample = 1;
	if (rtt_sample) {
		rtt_update(&l->rtt, l->now_us - lp->sent_us, fr->u.ack.delay_us,
			   l->cfg.max_ack_delay_us);
		l->rs.rtt_us = l->rtt.latest_us;
	}
	if (!l->have_acked || largest > l->largest_acked) {
		l->largest_acked = largest;
		l->have_acked = 1;
	}
	for (i = 0; i < fr->u.ack.nranges; i++) {
		uint64_t lo = MAX(fr->u.ack.ranges[i].lo, l->sp_first);
		uint64_t pn;

		for (pn = fr->u.ack.ranges[i].hi + 1; pn-- > lo;) {
			struct sent_pkt *p = sp_get(l, pn);

			if (p && (p->state == SP_INFLIGHT || p->state == SP_LOST))
				on_packet_acked(l, p);
		}
	}
	l->pto_count = 0;
	l->rs.newly_lost = detect_lost(l);
	finish_rate_sample(l);
	cc_update_pacing(&l->cc, &l->rtt);
}

/* remote_flow() - the flow a peer's frame is about.  Ids the peer opens
 * grow by two; a frame for a new id implicitly opens every lower id too
 * (its OPEN may be late), as QUIC streams do.  NULL: closed or invalid. */
static struct link_flow *remote_flow(struct link *l, uint64_t id, int create)
{
	struct link_flow *f = idmap_get(&l->flows, id);
	uint64_t i;

	if (f || id == 0 || is_local_id(l, id) || id < l->next_remote_id || !create)
		return f;
	if (id - l->next_remote_id > 2 * (uint64_t)l->cfg.max_flows) {
		l->st.frames_violating++;
		return NULL;
	}
	for (i = l->next_remote_id; i <= id; i += 2)
		f = flow_new(l, i);
	l->next_remote_id = id + 2;
	return f;
}

static void notify_readable(struct link *l, struct link_flow *f)
{
	if (!f->have_open || !f->accepted || IS_TOMBSTONE(f))
		return;
	if (l->cb.flow_readable)
		l->cb.flow_readable(l->cb.arg, f);
}

static void deliver_early(struct link *l, struct link_flow *f)
{
	uint8_t buf[65536 + 2];

	while (ring_used(&f->rcv) >= 2) {
		size_t len;

		ring_copy(&f->rcv, f->rcv.base, buf, 2);
		len = (size_t)buf[0] << 8 | buf[1];
		ring_copy(&f->rcv, f->rcv.base + 2, buf, len);
		ring_release(&f->rcv, f->rcv.base + 2 + len);
		l->st.dgrams_received++;
		f->rx_bytes += len;
		if (l->cb.datagram)
			l->cb.datagram(l->cb.arg, f, buf, len);
		if (link_flow_find(l, f->id) != f)
			return; /* the glue closed it */
	}
}

/* refuse_open() - reset a flow the peer just opened; its tombstone counts
 * what the peer sent before it learns */
static void refuse_open(struct link *l, struct link_flow *f, uint64_t reason)
{
	queue_reset(l, f, reason);
	credit_unconsumed(l, f, f->rcv.end);
	flow_free(l, f);
}

static void handle_open(struct link *l, const struct wire_frame *fr)
{
	struct link_flow *f = remote_flow(l, fr->flow, 1);

	if (!f || f->have_open)
		return;
	f->have_open = 1;
	f->proto = fr->u.open.proto;
	f->kind = fr->u.open.kind;
	if (!wire_open_known(f->proto, f->kind)) {
		l->st.flows_refused_unknown++; /* a newer peer's kind of flow */
		refuse_open(l, f, RST_REFUSED);
		return;
	}
	if (l->nflows > l->cfg.max_flows) {
		l->st.flows_refused_limit++; /* as a full server would */
		refuse_open(l, f, RST_RESOURCE);
		return;
	}
	f->net = fr->u.open.net;
	f->src = fr->u.open.src;
	f->dst = fr->u.open.dst;
	if (f->proto == WIRE_PROTO_UDP) {
		f->accepted = 1; /* datagrams need no connection */
		f->dq = dq_new(l->pool);
	}
	l->st.flows_opened_remote++;
	if (l->cb.flow_open)
		l->cb.flow_open(l->cb.arg, f);
	if (f->proto == WIRE_PROTO_UDP && (f = idmap_get(&l->flows, fr->flow)) && !IS_TOMBSTONE(f))
		deliver_early(l, f);
}

/* tombstone_data() - a flow we reset still counts what the peer sends */
static void tombstone_data(struct link *l, struct link_flow *f, uint64_t end)
{
	if (end > f->rcv.end)
		credit_unconsumed(l, f, end);
}

static void handle_stream(struct link *l, const struct wire_frame *fr)
{
	struct link_flow *f = remote_flow(l, fr->flow, 1);
	uint64_t off = fr->u.stream.offset, end = off + fr->u.stream.len;
	if (!f)
		return;
	if (IS_TOMBSTONE(f)) {
		tombstone_data(l, f, end);
		return;
	}
	if (f->proto == WIRE_PROTO_UDP || end > f->rcv_max ||
	    (f->rcv_fin && (end > f->rcv_fin_off || (fr->u.stream.fin && end != f->rcv_fin_off))) ||
	    (end > f->rcv.end && l->rcv_data + (end - f->rcv.end) > l->rcv_max_data)) {
		l->st.frames_violating++;
		return;
	}
	l->st.stream_bytes_received += fr->u.stream.len;
	if (fr->u.stream.fin && !f->rcv_fin) {
		f->rcv_fin = 1;
		f->rcv_fin_off = end;
	}
	if (end <= f->rcv.base || rangeset_covers(&f->rcv_have, off, end)) {
		l->st.stream_bytes_duplicate += fr->u.stream.len;
		if (!fr->u.stream.fin)
			return;
	}
	if (end > f->rcv.end)
		l->rcv_data += end - f->rcv.end;
	ring_put(&f->rcv, off, fr->u.stream.data, fr->u.stream.len);
	rangeset_add(&f->rcv_have, MAX(off, f->rcv.base), end);
	if (rangeset_first_gap(&f->rcv_have, f->rcv.base) > f->rcv.base || link_flow_at_eof(f))
		notify_readable(l, f);
}

/* ---- datagrams, receive side ---------------------------------------- */

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

#define DGRAM_EARLY_MAX (64 * 1024)

/* stash_early() - a datagram that overtook its flow's OPEN waits in the
 * (otherwise unused) receive ring as [len:2][data] until the OPEN comes */
static void stash_early(struct link *l, struct link_flow *f, const uint8_t *d, size_t len)
{
	uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };

	if (ring_used(&f->rcv) + 2 + len > DGRAM_EARLY_MAX) {
		l->st.dgrams_dropped_queue++;
		return;
	}
	ring_put(&f->rcv, f->rcv.end, hdr, 2);
	ring_put(&f->rcv, f->rcv.end, d, len);
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

/* reasm_slot() - the slot collecting seq, evicting the oldest if needed */
static int reasm_slot(struct dgram_reasm *r, uint64_t seq, uint32_t total)
{
	int i, victim = 0;

	for (i = 0; i < DGRAM_REASM_SLOTS; i++) {
		if (r->slot[i].used && r->slot[i].seq == seq)
			return r->slot[i].total == total ? i : -1;
	}
	for (i = 0; i < DGRAM_REASM_SLOTS; i++) {
		if (!r->slot[i].used) {
			victim = i;
			break;
		}
		if (r->slot[i].seq < r->slot[victim].seq)
			victim = i;
	}
	free(r->slot[victim].buf);
	rangeset_clear(&r->slot[victim].have);
	r->slot[victim].used = 1;
	r->slot[victim].seq = seq;
	r->slot[victim].total = total;
	r->slot[victim].got = 0;
	r->slot[victim].buf = xmalloc(total);
	return victim;
}

static void handle_dgram(struct link *l, const struct wire_frame *fr)
{
	struct link_flow *f = is_local_id(l, fr->flow) ? idmap_get(&l->flows, fr->flow)
						       : remote_flow(l, fr->flow, 1);
	const struct wire_frame_dgram *g = &fr->u.dgram;
	int i;

	if (!f || IS_TOMBSTONE(f) || (f->have_open && f->proto != WIRE_PROTO_UDP))
		return;
	if (!f->dr)
		f->dr = xcalloc(1, sizeof(*f->dr));
	if (g->frag == 0 && g->len == g->total) {
		deliver_dgram(l, f, g->seq, g->data, g->len);
		return;
	}
	if (dr_is_seen(f->dr, g->seq) || (i = reasm_slot(f->dr, g->seq, g->total)) < 0)
		return;
	if (!rangeset_covers(&f->dr->slot[i].have, g->frag, g->frag + g->len)) {
		memcpy(f->dr->slot[i].buf + g->frag, g->data, g->len);
		rangeset_add(&f->dr->slot[i].have, g->frag, g->frag + g->len);
	}
	if (rangeset_covers(&f->dr->slot[i].have, 0, g->total)) {
		f->dr->slot[i].used = 0;
		deliver_dgram(l, f, g->seq, f->dr->slot[i].buf, g->total);
	}
}

static void handle_window(struct link *l, const struct wire_frame *fr)
{
	struct link_flow *f;
	size_t pos = 0;

	if (fr->flow == 0) {
		if (fr->u.window_max <= l->snd_max_data)
			return;
		l->snd_max_data = fr->u.window_max;
		/* flows held back by link credit may go again */
		while ((f = idmap_next(&l->flows, &pos)))
			flow_schedule(l, f);
		return;
	}
	f = is_local_id(l, fr->flow) ? idmap_get(&l->flows, fr->flow)
				     : remote_flow(l, fr->flow, 0);
	if (!f || IS_TOMBSTONE(f) || fr->u.window_max <= f->snd_max)
		return;
	f->snd_max = fr->u.window_max;
	flow_schedule(l, f);
}

/* handle_reset() - the peer aborted the flow (or answered our RESET) */
static void handle_reset(struct link *l, const struct wire_frame *fr)
{
	struct link_flow *f = is_local_id(l, fr->flow) ? idmap_get(&l->flows, fr->flow)
						       : remote_flow(l, fr->flow, 1);

	if (!f)
		return;
	credit_unconsumed(l, f, fr->u.reset.final);
	if (IS_TOMBSTONE(f)) {
		flow_free(l, f);
		return;
	}
	queue_reset(l, f, RST_ABORTED);
	if (l->cb.flow_gone && f->have_open)
		l->cb.flow_gone(l->cb.arg, f, fr->u.reset.reason ? fr->u.reset.reason : RST_ABORTED);
	flow_free(l, f);
}

static void handle_close(struct link *l, const struct wire_frame *fr)
{
	struct link_flow *f = is_local_id(l, fr->flow) ? idmap_get(&l->flows, fr->flow)
						       : remote_flow(l, fr->flow, 0);

	if (!f || f->proto != WIRE_PROTO_UDP)
		return;
	if (!IS_TOMBSTONE(f) && l->cb.flow_gone)
		l->cb.flow_gone(l->cb.arg, f, RST_NONE);
	flow_free(l, f);
}

static void handle_opened(struct link *l, const struct wire_frame *fr)
{
	struct link_flow *f = idmap_get(&l->flows, fr->flow);

	if (!f || !f->local || f->accepted || IS_TOMBSTONE(f))
		return;
	f->accepted = 1;
	if (l->cb.flow_accepted)
		l->cb.flow_accepted(l->cb.arg, f);
	/* the peer's first bytes may have overtaken the OPENED */
	f = idmap_get(&l->flows, fr->flow);
	if (f && (rangeset_first_gap(&f->rcv_have, f->rcv.base) > f->rcv.base || link_flow_at_eof(f)))
		notify_readable(l, f);
}

static void apply_frame(struct link *l, const struct wire_frame *fr)
{
	switch (fr->type) {
	case WF_ACK:
		handle_ack(l, fr);
		break;
	case WF_OPEN:
		handle_open(l, fr);
		break;
	case WF_OPENED:
		handle_opened(l, fr);
		break;
	case WF_STREAM:
		handle_stream(l, fr);
		break;
	case WF_DATAGRAM:
		handle_dgram(l, fr);
		break;
	case WF_WINDOW:
		handle_window(l, fr);
		break;
	case WF_RESET:
		handle_reset(l, fr);
		break;
	case WF_CLOSE:
		handle_close(l, fr);
		break;
	case WF_NETWORK_DELETED:
		if (l->cb.network_deleted)
			l->cb.network_deleted(l->cb.arg, &fr->u.net);
		break;
	case WF_PATH_CHALLENGE:
	case WF_PATH_RESPONSE:
	case WF_CANDIDATES:
	case WF_RELAY_OBSERVED:
	case WF_RELAY_CONNECT:
	case WF_RELAY_INTRO:
	case WF_PATH_METHOD:
		if (l->cb.path_frame)
			l->cb.path_frame(l->cb.arg, fr);
		break;
	}
}

/* validate() - decode every frame once before acting on any: a packet is
 * used whole or not at all.  Returns whether it is ack-eliciting, or -1. */
static int validate(const uint8_t *p, size_t len)
{
	struct wire_frame fr;
	int eliciting = 0;
	size_t off = 0;

	while (off < len) {
		int n = wire_frame_decode(p + off, len - off, &fr);

		if (n < 0)
			return -1;
		if (wire_frame_is_ack_eliciting(fr.type))
			eliciting = 1;
		off += (size_t)n;
	}
	return eliciting;
}

/* record_pn() - note a packet number for the next ACK; RFC 9000 13.2.1:
 * acknowledge at once when an ack-eliciting packet arrives out of order.
 * A packet that is not ack-eliciting never causes an ACK by itself, or
 * two peers losing packets would answer each other's ACKs forever. */
static void record_pn(struct link *l, uint64_t pn, int eliciting)
{
	int out_of_order = l->have_rcv && pn != l->rcv_largest + 1;

	rangeset_add(&l->rcv_pns, pn, pn + 1);
	if (l->rcv_pns.n && l->rcv_pns.r[0].lo > l->rcv_floor && l->rcv_pns.n == l->rcv_pns.max)
		l->rcv_floor = l->rcv_pns.r[0].lo;
	if (!l->have_rcv || pn > l->rcv_largest) {
		l->rcv_largest = pn;
		l->rcv_largest_us = l->now_us;
		l->have_rcv = 1;
	}
	if (!eliciting)
		return;
	if (out_of_order)
		l->ack_now = 1;
	if (l->ack_pending++ == 0)
		l->ack_deadline_us = l->now_us + l->cfg.max_ack_delay_us;
}

int link_recv(struct link *l, const uint8_t *pkt, size_t len, uint64_t now_us)
{
	const uint8_t *p = pkt, *end = pkt + len;
	struct wire_frame fr;
	uint64_t pn;
	int eliciting;

	enter(l, now_us);
	if (wire_get_pn(&p, end, &pn) < 0 || (eliciting = validate(p, (size_t)(end - p))) < 0) {
		l->st.packets_malformed++;
		leave(l);
		return -1;
	}
	l->last_recv_us = l->now_us;
	l->st.packets_received++;
	l->st.bytes_received += len;
	if (pn < l->rcv_floor || rangeset_contains(&l->rcv_pns, pn)) {
		/* the peer may have missed our ACK: tell it again */
		l->st.packets_duplicate++;
		if (eliciting)
			l->ack_now = 1;
		leave(l);
		return 0;
	}
	record_pn(l, pn, eliciting);
	while (p < end) {
		int n = wire_frame_decode(p, (size_t)(end - p), &fr);

		p += n;
		apply_frame(l, &fr);
	}
	leave(l);
	return 0;
}

/* ---- sending ----------------------------------------------------------- */

static int ack_due(const struct link *l)
{
	if (!l->ack_pending && !l->ack_now)
		return 0;
	return l->ack_pending >= 2 || l->ack_now || l->now_us >= l->ack_deadline_us;
}

static int put_ack(struct link *l, struct wbuf *b, struct sent_pkt *p)
{
	struct wire_ack_range r[WIRE_MAX_ACK_RANGES];
	size_t n = 0, i = l->rcv_pns.n;
	uint64_t delay;

	if (!l->have_rcv || !l->rcv_pns.n) {
		/* all acknowledged already (ack of ack): nothing is owed */
		l->ack_pending = 0;
		l->ack_now = 0;
		return 0;
	}
	while (i-- > 0 && n < ARRAY_SIZE(r)) {
		r[n].lo = l->rcv_pns.r[i].lo;
		r[n].hi = l->rcv_pns.r[i].hi - 1;
		n++;
	}
	delay = l->now_us - l->rcv_largest_us;
	/* fewer ranges if the packet is short of room */
	while (n > 0 && wire_put_ack(b, delay, r, n) < 0)
		n--;
	if (n == 0)
		return 0;
	l->ack_pending = 0;
	l->ack_now = 0;
	l->ack_deadline_us = 0;
	p->has_ack = 1;
	p->ack_largest = r[0].hi;
	return 1;
}

static int record_frame(struct sent_pkt *p, uint8_t type, uint64_t flow, uint64_t off,
			uint16_t len, uint8_t fin, uint32_t aux)
{
	struct sent_frame *sf;

	if (p->nframes >= LINK_MAX_FRAMES)
		return -1;
	sf = &p->f[p->nframes++];
	sf->type = type;
	sf->flow = flow;
	sf->off = off;
	sf->len = len;
	sf->fin = fin;
	sf->aux = aux;
	p->ack_eliciting = 1;
	return 0;
}

static int frames_full(const struct sent_pkt *p)
{
	return p->nframes >= LINK_MAX_FRAMES;
}

/* put_flow_ctl() - OPEN, OPENED and WINDOW frames a flow owes the peer */
static int put_flow_ctl(struct link *l, struct link_flow *f, struct wbuf *b, struct sent_pkt *p)
{
	if (f->need_open && !frames_full(p)) {
		if (wire_put_open(b, f->id, &f->net, f->proto, f->kind, &f->src, &f->dst) < 0)
			return -1;
		f->need_open = 0;
		record_frame(p, WF_OPEN, f->id, 0, 0, 0, 0);
	}
	if (f->need_opened && !frames_full(p)) {
		if (wire_put_opened(b, f->id) < 0)
			return -1;
		f->need_opened = 0;
		record_frame(p, WF_OPENED, f->id, 0, 0, 0, 0);
	}
	if (f->need_window && !frames_full(p)) {
		if (wire_put_window(b, f->id, f->rcv_max) < 0)
			return -1;
		f->need_window = 0;
		record_frame(p, WF_WINDOW, f->id, f->rcv_max, 0, 0, 0);
	}
	return f->need_open || f->need_opened || f->need_window ? -1 : 0;
}

static void put_pending(struct link *l, struct wbuf *b, struct sent_pkt *p)
{
	size_t i = 0, kept = 0;

	for (i = 0; i < l->npend; i++) {
		struct pending_ctl *c = &l->pend[i];
		int r = -1;

		if (!frames_full(p)) {
			if (c->type == WF_RESET)
				r = wire_put_reset(b, c->flow, c->reason, c->final);
			else if (c->type == WF_CLOSE)
				r = wire_put_close(b, c->flow);
			else if (c->type == WF_NETWORK_DELETED)
				r = wire_put_network_deleted(b, &c->net);
		}
		if (r < 0) {
			l->pend[kept++] = *c;
			continue;
		}
		/* NETWORK_DELETED is not retransmitted: the peer learns it again
		 * from the frames it is dropped for */
		if (c->type != WF_NETWORK_DELETED)
			record_frame(p, c->type, c->flow, c->final, 0, 0, (uint32_t)c->reason);
		else
			p->ack_eliciting = 1;
	}
	l->npend = kept;
}

/* put_oneshot() - queued frames go whole or wait for the next packet */
static void put_oneshot(struct link *l, struct wbuf *b, struct sent_pkt *p)
{
	if (!l->noneshot || wbuf_room(b) < l->noneshot)
		return;
	memcpy(b->p + b->len, l->oneshot, l->noneshot);
	b->len += l->noneshot;
	l->noneshot = 0;
	p->ack_eliciting = 1;
}

static void put_control(struct link *l, struct wbuf *b, struct sent_pkt *p)
{
	put_oneshot(l, b, p);
	if (l->need_link_window && !frames_full(p) &&
	    wire_put_window(b, 0, l->rcv_max_data) == 0) {
		l->need_link_window = 0;
		record_frame(p, WF_WINDOW, 0, l->rcv_max_data, 0, 0, 0);
	}
	if (l->cand_pending && !frames_full(p) &&
	    wire_put_candidates(b, l->cand_method, l->cand_addr, l->ncand) == 0) {
		l->cand_pending = 0;
		record_frame(p, WF_CANDIDATES, 0, 0, 0, 0, 0);
	}
	put_pending(l, b, p);
	while (l->ctl_head && !frames_full(p)) {
		struct link_flow *f = l->ctl_head;

		if (put_flow_ctl(l, f, b, p) < 0)
			break;
		l->ctl_head = f->ctl_next;
		if (!l->ctl_head)
			l->ctl_tail = NULL;
		f->ctl_next = NULL;
		f->ctl_queued = 0;
		flow_schedule(l, f); /* an OPEN may have unblocked its data */
	}
}

/* put_stream_retx() - resend lost bytes, skipping any acknowledged since */
static int put_stream_retx(struct link *l, struct link_flow *f, struct wbuf *b,
			   struct sent_pkt *p)
{
	struct range r, a;

	while (rangeset_next(&f->snd_retx, f->snd.base, &r)) {
		uint64_t lo = r.lo, hi = r.hi;
		size_t room, len;
		int fin;

		if (rangeset_next(&f->snd_acked, lo, &a) && a.lo <= lo) {
			rangeset_remove(&f->snd_retx, lo, a.hi);
			continue;
		}
		if (rangeset_next(&f->snd_acked, lo, &a))
			hi = MIN(hi, a.lo);
		room = wbuf_room(b);
		if (room <= WIRE_STREAM_HDR_MAX)
			return 0;
		len = (size_t)MIN(hi - lo, (uint64_t)(room - wire_stream_hdr_len(f->id, lo, room)));
		fin = f->fin_retx && lo + len == f->snd.end;
		if (wire_put_stream(b, f->id, lo, fin, NULL, len) < 0)
			return 0;
		ring_copy(&f->snd, lo, b->p + b->len, len);
		b->len += len;
		rangeset_remove(&f->snd_retx, lo, lo + len);
		if (fin)
			f->fin_retx = 0;
		record_frame(p, WF_STREAM, f->id, lo, (uint16_t)len, (uint8_t)fin, 0);
		l->st.stream_bytes_retransmitted += len;
		l->building_retx = 1;
		return 1;
	}
	if (f->fin_retx) {
		if (wire_put_stream(b, f->id, f->snd.end, 1, NULL, 0) < 0)
			return 0;
		f->fin_retx = 0;
		record_frame(p, WF_STREAM, f->id, f->snd.end, 0, 1, 0);
		return 1;
	}
	return -1; /* nothing to resend */
}

static int put_stream_new(struct link *l, struct link_flow *f, struct wbuf *b, struct sent_pkt *p)
{
	uint64_t lim = MIN(f->snd.end, f->snd_max);
	uint64_t avail = lim > f->snd_next ? lim - f->snd_next : 0;
	uint64_t credit = l->snd_max_data - MIN(l->snd_data, l->snd_max_data);
	size_t room = wbuf_room(b), len;
	int fin;

	if (room <= WIRE_STREAM_HDR_MAX)
		return 0;
	len = (size_t)MIN(MIN(avail, credit),
			  (uint64_t)(room - wire_stream_hdr_len(f->id, f->snd_next, room)));
	fin = f->fin_queued && !f->fin_sent && f->snd_next + len == f->snd.end;
	if (len == 0 && !fin)
		return 0;
	if (wire_put_stream(b, f->id, f->snd_next, fin, NULL, len) < 0)
		return 0;
	ring_copy(&f->snd, f->snd_next, b->p + b->len, len);
	b->len += len;
	record_frame(p, WF_STREAM, f->id, f->snd_next, (uint16_t)len, (uint8_t)fin, 0);
	f->snd_next += len;
	l->snd_data += len;
	l->st.stream_bytes_sent += len;
	if (fin)
		f->fin_sent = 1;
	return 1;
}

/* put_dgram() - the oldest datagram fragment due, dropping expired ones */
static int put_dgram(struct link *l, struct link_flow *f, struct wbuf *b, struct sent_pkt *p)
{
	struct dgram_queue *q = f->dq;
	size_t i;

	for (i = 0; i < q->n; i++) {
		struct dgram_rec *d = dq_at(q, i);
		if (d->state != DG_QUEUED && d->state != DG_LOST)
			continue;
		if (l->now_us - d->queued_us > l->cfg.dgram_max_age_us) {
			dq_set_state(q, d, DG_DROPPED);
			l->st.dgrams_expired++;
			continue;
		}
		if (wire_put_dgram(b, f->id, d->seq, d->total, d->frag, NULL, d->len) < 0)
			break;
		ring_copy(&q->data, d->off, b->p + b->len, d->len);
		b->len += d->len;
		record_frame(p, WF_DATAGRAM, f->id, q->head_rid + i, (uint16_t)d->len, 0, 0);
		dq_set_state(q, d, DG_SENT);
		l->st.dgrams_sent += d->frag == 0;
		dq_pop_done(q);
		return 1;
	}
	dq_pop_done(q);
	return 0;
}

static int put_flow_data(struct link *l, struct link_flow *f, struct wbuf *b, struct sent_pkt *p)
{
	int r;

	if (f->dq)
		return put_dgram(l, f, b, p);
	r = put_stream_retx(l, f, b, p);
	if (r >= 0)
		return r;
	return put_stream_new(l, f, b, p);
}

/* put_data() - round robin over flows with something to send, one frame
 * per flow per turn, so a bulk flow cannot hold back small ones */
static void put_data(struct link *l, struct wbuf *b, struct sent_pkt *p)
{
	struct link_flow *stop = NULL;

	while (l->sched_head && !frames_full(p) && wbuf_room(b) > WIRE_STREAM_HDR_MAX + 8) {
		struct link_flow *f = l->sched_head;
		int sent;

		list_unlink(&l->sched_head, &l->sched_tail, f, 1);
		f->scheduled = 0;
		sent = put_flow_data(l, f, b, p);
		flow_schedule(l, f);
		if (!sent) {
			/* it did not fit: give others a turn, but only once round */
			if (!stop)
				stop = f;
			else if (stop == f)
				break;
		}
	}
}

static int has_ctl(const struct link *l)
{
	return l->ctl_head || l->npend || l->need_link_window || l->cand_pending || l->ping_pending ||
	       l->noneshot;
}

int link_wants_send(const struct link *l, uint64_t now_us)
{
	return has_ctl(l) || l->sched_head || l->probes || l->ack_pending || l->ack_now;
}

static void commit_packet(struct link *l, struct sent_pkt *p, size_t len)
{
	p->pn = l->next_pn++;
	p->sent_us = l->now_us;
	p->size = (uint32_t)len;
	p->state = p->ack_eliciting ? SP_INFLIGHT : SP_ACKED;
	l->st.packets_sent++;
	l->st.bytes_sent += len;
	l->st.packets_retransmitted += l->building_retx;
	l->building_retx = 0;
	if (!p->ack_eliciting) {
		l->st.packets_ack_only++;
		sp_trim(l);
		return;
	}
	l->last_eliciting_us = l->now_us;
	/* a new flight starts the delivery clock afresh */
	if (l->cc.in_flight == 0)
		l->first_sent_us = l->delivered_us = l->now_us;
	p->delivered = l->delivered;
	p->delivered_us = l->delivered_us;
	p->first_sent_us = l->first_sent_us;
	p->app_limited = l->app_limited_until != 0;
	cc_on_sent(&l->cc, len, l->now_us);
	if (l->probes)
		l->probes--;
}

/* may_send_data() - congestion window and pacer both allow a full packet;
 * probes go regardless (RFC 9002 6.2.4).  The pacer spaces data: control
 * frames alone (window updates, OPENED, resets) are small and must never
 * wait for it, or a receiver that only acknowledges could starve its peer. */
static int may_send_data(struct link *l, size_t max)
{
	uint64_t wait;

	l->pace_at_us = 0;
	if (l->probes)
		return 1;
	if (!cc_can_send(&l->cc, max))
		return 0;
	if (!l->sched_head)
		return 1;
	wait = cc_pacing_delay_us(&l->cc, max, l->now_us);
	if (wait == 0)
		return 1;
	l->pace_at_us = l->now_us + wait;
	return 0;
}

size_t link_send(struct link *l, uint8_t *buf, size_t cap, uint64_t now_us)
{
	size_t max = MIN(cap, l->cfg.max_packet);
	struct wbuf b = { buf, 0, max };
	struct sent_pkt *p;
	int may_send, acked;

	enter(l, now_us);
	may_send = may_send_data(l, max);
	/* nothing to send though the window allows: samples taken until what
	 * is in flight now is delivered say little about the path's rate */
	if (may_send && !l->probes && !l->sched_head && !has_ctl(l)) {
		l->app_limited_until = MAX(l->delivered + l->cc.in_flight, 1);
		l->cc.app_limited = 1;
	} else if (!l->app_limited_until) {
		l->cc.app_limited = 0;
	}
	if (!(may_send && (has_ctl(l) || l->sched_head || l->probes)) && !ack_due(l)) {
		leave(l);
		return 0;
	}
	p = sp_next(l);
	wire_put_pn(&b, l->next_pn);
	acked = (l->ack_pending || l->ack_now) ? put_ack(l, &b, p) : 0;
	if (may_send) {
		put_control(l, &b, p);
		put_data(l, &b, p);
		if ((l->probes || l->ping_pending) && !p->ack_eliciting && wire_put_ping(&b) == 0)
			p->ack_eliciting = 1;
		l->ping_pending = 0;
	}
	if (!p->ack_eliciting && !acked) {
		leave(l);
		return 0;
	}
	commit_packet(l, p, b.len);
	leave(l);
	return b.len;
}

/* ---- timers ------------------------------------------------------------ */

static uint64_t pto_deadline(const struct link *l)
{
	uint64_t pto = rtt_pto_us(&l->rtt, l->cfg.max_ack_delay_us);
	unsigned shift = MIN(l->pto_count, 20u);

	pto = MIN(pto << shift, l->cfg.pto_max_us);
	return l->last_eliciting_us + pto;
}

uint64_t link_next_timer_us(const struct link *l, uint64_t now_us)
{
	uint64_t t = UINT64_MAX;

	if (l->loss_time_us)
		t = l->loss_time_us;
	else if (l->cc.in_flight > 0)
		t = pto_deadline(l);
	if (l->ack_pending && l->ack_deadline_us < t)
		t = l->ack_deadline_us;
	if (l->pace_at_us && (l->sched_head || has_ctl(l)) && l->pace_at_us < t)
		t = l->pace_at_us;
	return t;
}

/* on_pto() - RFC 9002 6.2.4: send two probes; they carry the oldest
 * unacknowledged data again when there is nothing new */
static void on_pto(struct link *l)
{
	uint64_t pn;

	l->pto_count++;
	l->st.pto_count_total++;
	l->probes = 2;
	for (pn = l->sp_first; pn < l->next_pn; pn++) {
		struct sent_pkt *p = sp_get(l, pn);

		if (p->state == SP_INFLIGHT && p->ack_eliciting) {
			requeue_frames(l, p);
			break;
		}
	}
}

void link_on_timer(struct link *l, uint64_t now_us)
{
	enter(l, now_us);
	if (l->loss_time_us && l->now_us >= l->loss_time_us)
		detect_lost(l);
	else if (!l->loss_time_us && l->cc.in_flight > 0 && l->now_us >= pto_deadline(l))
		on_pto(l);
	leave(l);
}

void link_restart_path(struct link *l, uint64_t now_us)
{
	uint64_t pn;

	enter(l, now_us);
	for (pn = l->sp_first; pn < l->next_pn; pn++) {
		struct sent_pkt *p = sp_get(l, pn);

		if (p->state == SP_INFLIGHT)
			on_packet_lost(l, p);
	}
	sp_trim(l);
	rtt_init(&l->rtt);
	cc_init(&l->cc, l->cfg.cc, l->cfg.max_packet);
	l->loss_time_us = 0;
	l->pto_count = 0;
	l->ping_pending = 1;
	leave(l);
}

/* ---- flow API ---------------------------------------------------------- */

struct link_flow *link_flow_open(struct link *l, const struct netid *net, uint8_t proto,
				 uint8_t kind, const struct ipport *src, const struct ipport *dst)
{
	struct link_flow *f = flow_new(l, l->next_local_id);

	l->next_local_id += 2;
	f->local = 1;
	f->have_open = 1;
	f->need_open = 1;
	f->proto = proto;
	f->kind = kind;
	f->net = *net;
	f->src = *src;
	f->dst = *dst;
	if (proto == WIRE_PROTO_UDP) {
		f->accepted = 1;
		f->dq = dq_new(l->pool);
	}
	l->st.flows_opened_local++;
	ctl_queue(l, f);
	return f;
}

void link_flow_accept(struct link_flow *f)
{
	struct link *l = f->link;

	enter(l, 0);
	if (!f->accepted) {
		f->accepted = 1;
		if (f->proto == WIRE_PROTO_TCP) {
			f->need_opened = 1;
			ctl_queue(l, f);
		}
		if (rangeset_first_gap(&f->rcv_have, f->rcv.base) > f->rcv.base || f->rcv_fin)
			notify_readable(l, f);
	}
	leave(l);
}

size_t link_flow_send_space(const struct link_flow *f)
{
	const struct link *l = f->link;
	uint64_t used = ring_used(&f->snd), flow, link;
	uint64_t unsent = f->snd.end - MIN(f->snd_next, f->snd.end);

	flow = used >= l->cfg.send_buffer ? 0 : l->cfg.send_buffer - used;
	flow = MIN(flow, LINK_UNSENT_MAX - MIN(unsent, (uint64_t)LINK_UNSENT_MAX));
	link = l->snd_buffered >= l->cfg.link_buffer ? 0 : l->cfg.link_buffer - l->snd_buffered;
	return (size_t)MIN(flow, link);
}

/* send_limit() - the ring may grow to here: the flow's own cap, and no
 * further than the link's cap leaves (marking the link full if it binds) */
static uint64_t send_limit(struct link_flow *f)
{
	struct link *l = f->link;
	uint64_t used = ring_used(&f->snd);
	uint64_t flow = l->cfg.send_buffer - MIN(used, l->cfg.send_buffer);
	uint64_t link = l->cfg.link_buffer - MIN(l->snd_buffered, l->cfg.link_buffer);
	uint64_t unsent = f->snd.end - MIN(f->snd_next, f->snd.end);

	if (link < flow)
		l->buffer_full = 1;
	/* bytes not yet sent wait better in the socket's kernel buffer: the
	 * ring holds what is in flight, plus a bounded backlog */
	flow = MIN(flow, LINK_UNSENT_MAX - MIN(unsent, (uint64_t)LINK_UNSENT_MAX));
	return f->snd.end + MIN(flow, link);
}

size_t link_flow_write(struct link_flow *f, const void *data, size_t len)
{
	struct link *l = f->link;
	size_t n;

	if (f->fin_queued || f->proto != WIRE_PROTO_TCP)
		return 0;
	n = ring_append(&f->snd, data, len, send_limit(f), 1);
	l->snd_buffered += n;
	f->tx_bytes += n;
	if (n < len)
		f->want_write = 1;
	if (n)
		flow_schedule(l, f);
	return n;
}

size_t link_flow_reserve(struct link_flow *f, struct iovec *iov, size_t maxiov, size_t max)
{
	size_t n = 0;

	if (!f->fin_queued && f->proto == WIRE_PROTO_TCP)
		n = ring_reserve(&f->snd, iov, maxiov, max, send_limit(f), 1);
	if (n == 0)
		f->want_write = 1;
	return n;
}

void link_flow_commit(struct link_flow *f, size_t n)
{
	ring_commit(&f->snd, n);
	f->link->snd_buffered += n;
	f->tx_bytes += n;
	if (n)
		flow_schedule(f->link, f);
}

void link_flow_shutdown(struct link_flow *f)
{
	if (f->fin_queued)
		return;
	f->fin_queued = 1;
	flow_schedule(f->link, f);
}

void link_flow_reset(struct link_flow *f, uint64_t reason)
{
	struct link *l = f->link;

	enter(l, 0);
	queue_reset(l, f, reason);
	if (f->proto == WIRE_PROTO_TCP) {
		/* wait for the peer's RESET to settle link flow control */
		credit_unconsumed(l, f, f->rcv.end);
		if (f->scheduled) {
			list_unlink(&l->sched_head, &l->sched_tail, f, 1);
			f->scheduled = 0;
		}
		if (f->ctl_queued) {
			list_unlink(&l->ctl_head, &l->ctl_tail, f, 0);
			f->ctl_queued = 0;
		}
		l->snd_buffered -= MIN(l->snd_buffered, ring_used(&f->snd));
		ring_free(&f->snd);
		rangeset_free(&f->snd_acked);
		rangeset_free(&f->snd_retx);
		rangeset_free(&f->rcv_have);
		f->app = &tombstone_mark;
	} else {
		flow_free(l, f);
	}
	leave(l);
}

void link_flow_drop(struct link_flow *f)
{
	struct link *l = f->link;

	enter(l, 0);
	credit_unconsumed(l, f, f->rcv.end);
	flow_free(l, f);
	leave(l);
}

size_t link_flow_peek(struct link_flow *f, const uint8_t **p)
{
	uint64_t ready = rangeset_first_gap(&f->rcv_have, f->rcv.base) - f->rcv.base;
	size_t n;

	if (!ready)
		return 0;
	n = ring_peek(&f->rcv, f->rcv.base, p);
	return (size_t)MIN((uint64_t)n, ready);
}

size_t link_flow_peek_iov(struct link_flow *f, struct iovec *iov, size_t maxiov)
{
	uint64_t off = f->rcv.base, end = rangeset_first_gap(&f->rcv_have, f->rcv.base);
	size_t n = 0;

	while (off < end && n < maxiov) {
		const uint8_t *p;
		size_t len = ring_peek(&f->rcv, off, &p);

		if (!len)
			break;
		len = (size_t)MIN((uint64_t)len, end - off);
		iov[n].iov_base = (void *)p;
		iov[n].iov_len = len;
		n++;
		off += len;
	}
	return n;
}

void link_flow_consume(struct link_flow *f, size_t n)
{
	struct link *l = f->link;

	if (!n)
		return;
	ring_release(&f->rcv, f->rcv.base + n);
	rangeset_remove(&f->rcv_have, 0, f->rcv.base);
	f->rx_bytes += n;
	l->rcv_consumed += n;
	flow_update_window(l, f);
	link_update_window(l);
}

int link_flow_at_eof(const struct link_flow *f)
{
	return f->rcv_fin && f->rcv.base == f->rcv_fin_off;
}

void link_flow_eof_seen(struct link_flow *f)
{
	struct link *l = f->link;

	enter(l, 0);
	f->fin_read = 1;
	flow_maybe_finish(l, f);
	leave(l);
}

int link_flow_send_dgram(struct link_flow *f, const void *data, size_t len, uint64_t now_us)
{
	struct link *l = f->link;
	struct dgram_queue *q = f->dq;
	size_t frag_max = l->cfg.max_packet - 48, nfrag, i;
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
	flow_schedule(l, f);
	return 0;
}

void link_flow_close(struct link_flow *f)
{
	struct link *l = f->link;
	struct pending_ctl p = { .type = WF_CLOSE, .flow = f->id };

	enter(l, 0);
	if (!f->local || !f->need_open)
		pend_push(l, &p);
	flow_free(l, f);
	leave(l);
}

struct link_flow *link_flow_find(struct link *l, uint64_t id)
{
	struct link_flow *f = idmap_get(&l->flows, id);

	return f && !IS_TOMBSTONE(f) ? f : NULL;
}

void link_flow_each(struct link *l, void (*fn)(struct link_flow *f, void *arg), void *arg)
{
	struct link_flow *f;
	size_t pos = 0;

	while ((f = idmap_next(&l->flows, &pos))) {
		if (!IS_TOMBSTONE(f) && f->have_open)
			fn(f, arg);
	}
}

size_t link_flow_count(const struct link *l)
{
	return l->nflows;
}

/* ---- link-level control ---------------------------------------------- */

void link_send_network_deleted(struct link *l, const struct netid *net)
{
	struct pending_ctl p = { .type = WF_NETWORK_DELETED, .net = *net };

	pend_push(l, &p);
}

void link_send_ping(struct link *l)
{
	l->ping_pending = 1;
}

int link_queue_frame(struct link *l, const uint8_t *frame, size_t len)
{
	if (l->noneshot + len > sizeof(l->oneshot))
		return -1;
	memcpy(l->oneshot + l->noneshot, frame, len);
	l->noneshot += len;
	return 0;
}

void link_queue_candidates(struct link *l, const uint8_t *method, const struct ipport *addr,
			   size_t n)
{
	n = MIN(n, (size_t)WIRE_MAX_CANDIDATES);
	memcpy(l->cand_method, method, n);
	memcpy(l->cand_addr, addr, n * sizeof(*addr));
	l->ncand = n;
	l->cand_pending = 1;
}

/* link_build_path_packet() - RFC 9000 8.2: path probes are padded to the
 * minimum size so a path that cannot carry full packets is not chosen.
 * Not tracked for loss: the path logic retries on its own timer. */
size_t link_build_mtu_probe(struct link *l, size_t size, uint8_t *buf, size_t cap,
			    uint64_t now_us)
{
	struct wbuf b = { buf, 0, size };
	struct sent_pkt *p;

	if (size > cap || size < 16)
		return 0;
	enter(l, now_us);
	p = sp_next(l);
	wire_put_pn(&b, l->next_pn);
	wire_put_ping(&b);
	memset(b.p + b.len, 0, size - b.len); /* PADDING frames */
	p->pn = l->next_pn++;
	p->sent_us = l->now_us;
	p->size = (uint32_t)size;
	p->state = SP_INFLIGHT;
	p->ack_eliciting = 1;
	p->mtu_probe = 1;
	l->st.packets_sent++;
	l->st.bytes_sent += size;
	leave(l);
	return size;
}

void link_set_max_packet(struct link *l, size_t max)
{
	l->cfg.max_packet = max;
	l->cc.mds = max;
}

size_t link_max_packet(const struct link *l)
{
	return l->cfg.max_packet;
}

size_t link_build_path_packet(struct link *l, uint8_t type, const uint8_t data[8],
			      uint8_t *buf, size_t cap, uint64_t now_us)
{
	struct wbuf b = { buf, 0, MIN(cap, l->cfg.max_packet) };
	struct sent_pkt *p;

	enter(l, now_us);
	p = sp_next(l);
	wire_put_pn(&b, l->next_pn);
	wire_put_path(&b, type, data);
	if (b.len < LINK_MIN_PACKET && b.cap >= LINK_MIN_PACKET) {
		memset(b.p + b.len, 0, LINK_MIN_PACKET - b.len);
		b.len = LINK_MIN_PACKET;
	}
	commit_packet(l, p, b.len);
	leave(l);
	return b.len;
}

const struct link_stats *link_stats(const struct link *l)
{
	return &l->st;
}

const struct rtt *link_rtt(const struct link *l)
{
	return &l->rtt;
}

const struct cc *link_cc(const struct link *l)
{
	return &l->cc;
}

uint64_t link_bytes_in_flight(const struct link *l)
{
	return l->cc.in_flight;
}

uint64_t link_buffered_bytes(const struct link *l)
{
	uint64_t total = 0;
	struct link_flow *f;
	size_t pos = 0;

	while ((f = idmap_next(&l->flows, &pos)))
		total += ring_used(&f->snd) + ring_used(&f->rcv) + (f->dq ? ring_used(&f->dq->data) : 0);
	return total;
}

uint64_t link_send_credit(const struct link *l)
{
	return l->snd_max_data - MIN(l->snd_data, l->snd_max_data);
}

int link_can_open(const struct link *l, const struct netid *net)
{
	(void)net;
	return l->nflows < l->cfg.max_flows;
}

uint64_t link_last_recv_us(const struct link *l)
{
	return l->last_recv_us;
}
