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
#include "link_int.h"
#include "log.h"

char link_freed_mark;

static void ghosts_free(struct link *l);
static void credit_unwait(struct link *l, struct link_flow *f);

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
	c->net_max_flows = 16384;
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
	/* a hostile peer could split the implied ids into many ranges: past
	 * this many the oldest are forgotten (their flows count as closed) */
	rangeset_init(&l->remote_pending, 512);
	idmap_init(&l->ghosts);
	if (pool)
		pool->links++;
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
	groups_free(l);
	ghosts_free(l);
	rangeset_free(&l->remote_pending);
	rangeset_free(&l->rcv_pns);
	if (l->pool && l->pool->links)
		l->pool->links--;
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

/* link_max_structs() - flow structs a link keeps at most: its open flows,
 * plus room for the peer's flows seen before their OPEN (ghosts are small
 * and counted apart) */
static size_t link_max_structs(const struct link *l)
{
	return (size_t)l->cfg.max_flows + MAX((size_t)l->cfg.max_flows / 2, (size_t)LINK_UNOPENED_MAX);
}

static int is_local_id(const struct link *l, uint64_t id)
{
	return ((id & 1) == 0) == (l->cfg.opens_even != 0);
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

static void on_packet_lost(struct link *l, struct sent_pkt *p);

/* sp_forget_oldest() - the history is at its cap, which only a peer that
 * stops acknowledging brings about: its oldest packet counts as lost (what
 * it carried goes again) and is forgotten */
static void sp_forget_oldest(struct link *l)
{
	struct sent_pkt *p = &l->sp[l->sp_first & (l->sp_cap - 1)];

	if (p->state == SP_INFLIGHT)
		on_packet_lost(l, p);
	l->sp_first++;
	l->st.packets_forgotten++;
}

/* sp_next() - the cleared record of the packet about to be numbered
 * next_pn, the history grown if it is full (up to LINK_SENT_MAX) */
static struct sent_pkt *sp_next(struct link *l)
{
	struct sent_pkt *p;

	while (l->next_pn - l->sp_first >= LINK_SENT_MAX)
		sp_forget_oldest(l);
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

static void ctl_unlink(struct link *l, struct link_flow *f)
{
	if (!f->ctl_queued)
		return;
	if (f->ctl_prev)
		f->ctl_prev->ctl_next = f->ctl_next;
	else
		l->ctl_head = f->ctl_next;
	if (f->ctl_next)
		f->ctl_next->ctl_prev = f->ctl_prev;
	else
		l->ctl_tail = f->ctl_prev;
	f->ctl_prev = f->ctl_next = NULL;
	f->ctl_queued = 0;
}

/* Receive rings take chunks from the daemon's pool: these keep the link's
 * count of them (rcv_chunks_changed(), link_sched.c) in step. */
static void rcv_put(struct link *l, struct link_flow *f, uint64_t off, const uint8_t *d, size_t len)
{
	size_t before = f->rcv.nchunks;

	ring_put(&f->rcv, off, d, len);
	rcv_chunks_changed(l, f, before);
}

static void rcv_release(struct link *l, struct link_flow *f, uint64_t off)
{
	size_t before = f->rcv.nchunks;

	ring_release(&f->rcv, off);
	rcv_chunks_changed(l, f, before);
}

static void rcv_free(struct link *l, struct link_flow *f)
{
	size_t before = f->rcv.nchunks;

	ring_free(&f->rcv);
	rcv_chunks_changed(l, f, before);
}

/* unopened_done() - a peer's flow seen before its OPEN stops counting as
 * such: the OPEN came, or the flow went */
static void unopened_done(struct link *l, struct link_flow *f)
{
	if (!f->unopened)
		return;
	f->unopened = 0;
	l->nunopened -= MIN(l->nunopened, (size_t)1);
}

/* flow_release() - what a flow holds goes: it leaves its network, its
 * queues and its buffers (the struct stays until it is reaped) */
static void flow_release(struct link *l, struct link_flow *f)
{
	group_leave(l, f);
	ctl_unlink(l, f);
	credit_unwait(l, f);
	unopened_done(l, f);
	l->snd_buffered -= MIN(l->snd_buffered, ring_used(&f->snd));
	ring_free(&f->snd);
	rcv_free(l, f);
	rangeset_free(&f->snd_acked);
	rangeset_free(&f->snd_retx);
	rangeset_free(&f->rcv_have);
	dq_free(f->dq);
	dr_free(l, f->dr);
	f->dq = NULL;
	f->dr = NULL;
}

/* flow_free() - release buffers now, the struct at reap time; until then
 * it is marked freed, so a caller still holding it leaves it alone */
static void flow_free(struct link *l, struct link_flow *f)
{
	flow_release(l, f);
	f->app = &link_freed_mark;
	idmap_del(&l->flows, f->id);
	l->nflows--;
	f->ctl_next = l->reap;
	l->reap = f;
	if (l->depth == 0)
		reap(l);
}

static void pend_push(struct link *l, const struct pending_ctl *p)
{
	if (l->npend == l->pend_cap && l->pend_head > 0) {
		/* the front was sent: reuse its room */
		memmove(l->pend, l->pend + l->pend_head, (l->npend - l->pend_head) * sizeof(*l->pend));
		l->npend -= l->pend_head;
		l->pend_head = 0;
	}
	if (l->npend == l->pend_cap) {
		l->pend_cap = l->pend_cap ? l->pend_cap * 2 : 8;
		l->pend = xrealloc(l->pend, l->pend_cap * sizeof(*l->pend));
	}
	l->pend[l->npend++] = *p;
}

/* pend_push_answer() - a control frame the peer's input called for (a
 * refusal): bounded, so a peer cannot make the queue grow without end.
 * Only a peer flooding us with refused flows fills it: the flows whose
 * refusal is dropped then hang on its side, at its cost (counted). */
static void pend_push_answer(struct link *l, const struct pending_ctl *p)
{
	if (l->npend - l->pend_head >= LINK_PENDING_MAX) {
		l->st.control_dropped++;
		return;
	}
	pend_push(l, p);
}

/* A flow of the peer's that we keep no struct for (refused before any
 * state, dropped with its deleted network, or past the structs a link may
 * hold) is a ghost: what the peer still sends on it, up to the final offset
 * of its RESET and never beyond the window it had, is counted for link
 * flow control, or the peer's link credit would shrink for good. */
struct ghost {
	uint64_t credited, max;
};

static void ghost_add(struct link *l, uint64_t id, uint64_t credited, uint64_t max)
{
	struct ghost *g;

	if (idmap_get(&l->ghosts, id))
		return;
	if (l->nghosts >= LINK_GHOSTS_MAX) {
		l->st.ghosts_dropped++; /* its bytes go uncounted: the peer's loss */
		return;
	}
	g = xmalloc(sizeof(*g));
	g->credited = credited;
	g->max = max;
	idmap_put(&l->ghosts, id, g);
	l->nghosts++;
}

static void link_update_window(struct link *l);

/* ghost_credit() - bytes up to end on a ghost, counted once; with done
 * (its RESET came) the ghost goes.  0 if id is no ghost. */
static int ghost_credit(struct link *l, uint64_t id, uint64_t end, int done)
{
	struct ghost *g = idmap_get(&l->ghosts, id);

	if (!g)
		return 0;
	if (end > g->max) {
		l->st.frames_violating++; /* more than the window it had */
		end = g->max;
	}
	if (end > g->credited) {
		l->rcv_data += end - g->credited;
		l->rcv_consumed += end - g->credited;
		g->credited = end;
		link_update_window(l);
	}
	if (done) {
		idmap_del(&l->ghosts, id);
		free(g);
		l->nghosts--;
	}
	return 1;
}

static void ghosts_free(struct link *l)
{
	struct ghost *g;
	size_t pos = 0;

	while ((g = idmap_next(&l->ghosts, &pos)))
		free(g);
	idmap_free(&l->ghosts);
	l->nghosts = 0;
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
	rcv_account(l, f, 0, ring_used(&f->rcv));
	rcv_release(l, f, f->rcv.end);
	f->rcv.base = f->rcv.end = highest;
	link_update_window(l);
}

static void queue_reset(struct link *l, struct link_flow *f, uint64_t reason)
{
	struct pending_ctl p = { .type = WF_RESET, .flow = f->id, .reason = reason,
				 .final = f->snd_next };

	pend_push(l, &p);
}

/* to_ghost() - a flow reset here: its state goes at once, and until the
 * peer's RESET tells how far it had sent (docs/DESIGN.md 11.5), a ghost of
 * a few bytes counts what still arrives on it for link flow control.  A
 * UDP flow carries no stream bytes: nothing is owed. */
static void to_ghost(struct link *l, struct link_flow *f)
{
	credit_unconsumed(l, f, f->rcv.end);
	if (f->proto != WIRE_PROTO_UDP)
		ghost_add(l, f->id, f->rcv.end, f->rcv_max);
	flow_free(l, f);
}

/* refuse_flow() - reset a flow the peer opened (or named); its ghost
 * counts what the peer sent before it learns */
static void refuse_flow(struct link *l, struct link_flow *f, uint64_t reason, uint64_t *counter)
{
	struct pending_ctl p = { .type = WF_RESET, .flow = f->id, .reason = reason,
				 .final = f->snd_next };

	(*counter)++;
	pend_push_answer(l, &p);
	to_ghost(l, f);
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
	if (!flow_done(f) || IS_FREED(f))
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
	/* the window slides as bytes are read; it grows only while the
	 * flow's network holds less than its share of the link (link_sched.c) */
	if (group_may_grow(l, f))
		f->rcv_window = maybe_grow_window(l, f->rcv_window, &f->rcv_window_at_us,
						  l->cfg.flow_window_max);
	f->rcv_max = f->rcv.base + f->rcv_window;
	f->need_window = 1;
	ctl_queue(l, f);
}

/* link_update_window() - offer more link credit when half the window is
 * used.  What networks hold beyond their share is added, so one network
 * that does not read cannot close the link for the others. */
static void link_update_window(struct link *l)
{
	uint64_t target = l->rcv_consumed + l->rcv_window + groups_rcv_excess(l);

	if (target <= l->rcv_max_data || target - l->rcv_max_data < l->rcv_window / 2)
		return;
	l->rcv_max_data = target;
	l->need_link_window = 1;
}

/* ---- scheduling -------------------------------------------------------- */

/* blocked_on_credit() - bytes within the flow's window wait for link
 * credit only: a link WINDOW must wake it */
static int blocked_on_credit(const struct link *l, const struct link_flow *f)
{
	return !f->dq && f->snd_next < f->snd.end && f->snd_next < f->snd_max &&
	       l->snd_data >= l->snd_max_data;
}

/* The flows waiting for link credit, in a list of their own: a link
 * WINDOW wakes those, not every flow (a peer granting credit a byte at a
 * time would otherwise have us walk all flows per packet). */
static void credit_wait(struct link *l, struct link_flow *f)
{
	if (f->credit_listed)
		return;
	f->credit_listed = 1;
	f->cb_next = NULL;
	f->cb_prev = l->cb_tail;
	if (l->cb_tail)
		l->cb_tail->cb_next = f;
	else
		l->cb_head = f;
	l->cb_tail = f;
}

static void credit_unwait(struct link *l, struct link_flow *f)
{
	if (!f->credit_listed)
		return;
	if (f->cb_prev)
		f->cb_prev->cb_next = f->cb_next;
	else
		l->cb_head = f->cb_next;
	if (f->cb_next)
		f->cb_next->cb_prev = f->cb_prev;
	else
		l->cb_tail = f->cb_prev;
	f->cb_prev = f->cb_next = NULL;
	f->credit_listed = 0;
}

static void flow_schedule(struct link *l, struct link_flow *f)
{
	if (f->scheduled || IS_FREED(f))
		return;
	if (!flow_can_send(l, f)) {
		if (blocked_on_credit(l, f))
			credit_wait(l, f);
		return;
	}
	credit_unwait(l, f);
	sched_add(l, f);
}

void link_flow_schedule(struct link *l, struct link_flow *f)
{
	flow_schedule(l, f);
}

static void ctl_queue(struct link *l, struct link_flow *f)
{
	if (f->ctl_queued)
		return;
	f->ctl_queued = 1;
	f->ctl_next = NULL;
	f->ctl_prev = l->ctl_tail;
	if (l->ctl_tail)
		l->ctl_tail->ctl_next = f;
	else
		l->ctl_head = f;
	l->ctl_tail = f;
}

/* ctl_pop() - the first flow of the control queue leaves it */
static void ctl_pop(struct link *l)
{
	ctl_unlink(l, l->ctl_head);
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
		return dgram_sendable(f);
	if (!rangeset_empty(&f->snd_retx) || f->fin_retx)
		return 1;
	if (f->fin_queued && !f->fin_sent && f->snd_next == f->snd.end)
		return 1;
	return flow_has_new_data(l, f);
}

/* ---- receiving --------------------------------------------------------- */

static void on_frames_acked(struct link *l, struct sent_pkt *p);
static uint64_t detect_lost(struct link *l);

/* snd_released() - a send ring shrank: account it to the link and the
 * flow's network; when the link's cap (or a network's share) had refused
 * flows and a quarter of it is free again, let every waiting flow write */
static void snd_released(struct link *l, struct link_flow *acked, uint64_t bytes)
{
	struct link_flow *f;
	size_t pos = 0, n = 0, i;
	uint64_t *ids;
	int wake = 0;

	snd_account(l, acked, 0, bytes);
	if (l->buffer_full && l->snd_buffered <= l->cfg.link_buffer * 3 / 4) {
		l->buffer_full = 0;
		wake = 1;
	}
	if (acked->group && acked->group->buffer_full && group_room_back(l, acked->group)) {
		acked->group->buffer_full = 0;
		wake = 1;
	}
	if (!wake)
		return;
	/* the ids first: a writable callback may reset flows, which moves
	 * others within the map */
	ids = xcalloc(l->nflows + 1, sizeof(*ids));
	while ((f = idmap_next(&l->flows, &pos)) && n < l->nflows)
		if (f->want_write && !IS_FREED(f))
			ids[n++] = f->id;
	for (i = 0; i < n; i++) {
		f = idmap_get(&l->flows, ids[i]);
		if (f && f->want_write && !IS_FREED(f) && link_flow_send_space(f) > 0) {
			f->want_write = 0;
			if (l->cb.flow_writable)
				l->cb.flow_writable(l->cb.arg, f);
		}
	}
	free(ids);
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
		snd_released(l, f, before - ring_used(&f->snd));
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

		if (!f || IS_FREED(f))
			continue;
		switch (sf->type) {
		case WF_OPEN:
			f->open_acked = 1;
			break;
		case WF_STREAM:
			stream_acked(l, f, sf);
			break;
		case WF_DATAGRAM:
			if (f->dq)
				dgram_acked(l, f, sf->off);
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

		if (f && IS_FREED(f))
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
			if (f && f->dq)
				dgram_lost(l, f, sf->off);
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
	if (l->cb.packet_lost)
		l->cb.packet_lost(l->cb.arg, p->pn, p->size);
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
			l->cb.probe_acked(l->cb.arg, p->pn, p->size);
		return;
	}
	if (l->cb.packet_acked)
		l->cb.packet_acked(l->cb.arg, p->pn, p->size);
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

enum { FIND, CREATE, CREATE_OPEN };

/* refuse_id() - a flow the peer named that we keep no state for: it is
 * told with a RESET all the same, so an honest peer's flow ends */
static void refuse_id(struct link *l, uint64_t id, uint64_t *counter)
{
	struct pending_ctl p = { .type = WF_RESET, .flow = id, .reason = RST_RESOURCE };

	(*counter)++;
	pend_push_answer(l, &p);
	/* the peer cannot have sent more than the initial window on it */
	ghost_add(l, id, 0, LINK_INITIAL_FLOW_WINDOW);
}

/* materialize() - the struct of a peer's flow, as a frame names it.  A
 * frame other than OPEN leaves it not yet open: those are bounded in
 * number, and the structs of the link in all. */
static struct link_flow *materialize(struct link *l, uint64_t id, int create)
{
	struct link_flow *f;

	if (l->nflows >= link_max_structs(l) ||
	    (create != CREATE_OPEN && l->nunopened >= LINK_UNOPENED_MAX)) {
		refuse_id(l, id, &l->st.flow_ids_refused);
		return NULL;
	}
	f = flow_new(l, id);
	f->unopened = 1;
	l->nunopened++;
	return f;
}

/* remote_flow() - the flow a peer's frame is about.  Ids the peer opens
 * grow by two; a frame for a new id implicitly opens every lower id too
 * (its OPEN may be late), as QUIC streams do.  The lower ids are only
 * remembered, as ranges, until a frame names them: no state is made for
 * a flow before a frame about it arrives.  An id further ahead than twice
 * the flows the link may hold is a peer's lie and is ignored.
 * NULL: closed, invalid, or over a limit. */
static struct link_flow *remote_flow(struct link *l, uint64_t id, int create)
{
	struct link_flow *f = idmap_get(&l->flows, id);
	uint64_t k = id >> 1, next = l->next_remote_id >> 1; /* dense numbers */

	if (f || id == 0 || is_local_id(l, id) || create == FIND)
		return f;
	if (id < l->next_remote_id) {
		if (!rangeset_contains(&l->remote_pending, k))
			return NULL; /* closed */
		rangeset_remove(&l->remote_pending, k, k + 1);
		l->npending = rangeset_total(&l->remote_pending);
		return materialize(l, id, create);
	}
	if (k - next + l->npending > 2 * (uint64_t)l->cfg.max_flows) {
		l->st.flow_ids_refused++;
		l->st.frames_violating++;
		return NULL;
	}
	if (k > next) {
		rangeset_add(&l->remote_pending, next, k);
		l->npending = rangeset_total(&l->remote_pending);
	}
	l->next_remote_id = id + 2;
	return materialize(l, id, create);
}

/* forgotten_id() - a peer's id below the highest seen, with no struct, not
 * implied and waiting, and no ghost: closed long ago, or implied and
 * forgotten past the ranges remembered */
static int forgotten_id(const struct link *l, uint64_t id)
{
	return id && !is_local_id(l, id) && id < l->next_remote_id && !idmap_get(&l->flows, id) &&
	       !rangeset_contains(&l->remote_pending, id >> 1) && !idmap_get(&l->ghosts, id);
}

struct link_flow *link_remote_or_local_flow(struct link *l, uint64_t id)
{
	return is_local_id(l, id) ? idmap_get(&l->flows, id) : remote_flow(l, id, CREATE);
}

static void notify_readable(struct link *l, struct link_flow *f)
{
	if (!f->have_open || !f->accepted || IS_FREED(f))
		return;
	if (l->cb.flow_readable)
		l->cb.flow_readable(l->cb.arg, f);
}

static void handle_open(struct link *l, const struct wire_frame *fr)
{
	struct link_flow *f = remote_flow(l, fr->flow, CREATE_OPEN);
	struct link_group *g;
	uint64_t *refused;

	if (!f && forgotten_id(l, fr->flow)) {
		/* an id we kept no memory of (the implied ids are remembered
		 * as ranges, a bounded number): the honest peer is told */
		refuse_id(l, fr->flow, &l->st.flow_ids_refused);
		return;
	}
	if (!f || f->have_open || IS_FREED(f))
		return;
	unopened_done(l, f);
	l->early_chunks -= MIN(l->early_chunks, f->rcv.nchunks); /* early no more */
	f->have_open = 1;
	f->proto = fr->u.open.proto;
	f->kind = fr->u.open.kind;
	if (!wire_open_known(f->proto, f->kind)) {
		/* a newer peer's kind of flow: that flow alone is refused */
		refuse_flow(l, f, RST_REFUSED, &l->st.flows_refused_unknown);
		return;
	}
	/* what came before the OPEN must be what it opens: stream bytes for
	 * TCP, datagrams for UDP */
	if ((f->proto == WIRE_PROTO_UDP && f->early_stream) ||
	    (f->proto == WIRE_PROTO_TCP && f->early_dgram)) {
		l->st.frames_violating++;
		refuse_flow(l, f, RST_REFUSED, &l->st.flows_refused_mismatch);
		return;
	}
	g = group_get(l, &fr->u.open.net);
	if ((refused = flow_admission(l, g))) {
		refuse_flow(l, f, RST_RESOURCE, refused);
		group_drop_if_empty(l, g);
		return;
	}
	f->net = fr->u.open.net;
	f->src = fr->u.open.src;
	f->dst = fr->u.open.dst;
	group_join(l, f, g);
	if (f->proto == WIRE_PROTO_UDP) {
		f->accepted = 1; /* datagrams need no connection */
		f->dq = dq_new(l->pool);
	}
	l->st.flows_opened_remote++;
	if (l->cb.flow_open)
		l->cb.flow_open(l->cb.arg, f);
	if (f->proto == WIRE_PROTO_UDP && (f = idmap_get(&l->flows, fr->flow)) && !IS_FREED(f))
		dgram_deliver_early(l, f);
}

/* rcv_memory_ok() - the link may take need more chunks for what it
 * receives: within twice what its window (and what networks hoard beyond
 * their shares) fills contiguously, and not over its share of a spent pool */
static int rcv_memory_ok(const struct link *l, size_t need)
{
	uint64_t budget = 2 * (l->rcv_window + groups_rcv_excess(l)) / RING_CHUNK + 16;

	return l->rcv_chunks + need <= budget && !link_over_share(l);
}

/* stream_violates() - a STREAM frame the flow's state forbids: for a UDP
 * flow (or one that got datagrams before its OPEN), beyond the windows we
 * offered, or past or moving the end of the stream */
static int stream_violates(const struct link *l, const struct link_flow *f, uint64_t end, int fin)
{
	if (f->proto == WIRE_PROTO_UDP || (!f->have_open && f->early_dgram))
		return 1;
	if (end > f->rcv_max)
		return 1;
	if (f->rcv_fin && (end > f->rcv_fin_off || (fin && end != f->rcv_fin_off)))
		return 1;
	return end > f->rcv.end && l->rcv_data + (end - f->rcv.end) > l->rcv_max_data;
}

/* early_refused() - stream bytes for a flow not open yet are held within
 * a budget of the link's (in chunks: a byte takes one); a flow that would
 * pass it is refused, and its ghost still counts the frame for
 * link-level flow control */
static int early_refused(struct link *l, struct link_flow *f, uint64_t off, uint64_t end)
{
	uint64_t id = f->id;

	if (f->have_open || end <= f->rcv.end ||
	    l->early_chunks + ring_chunks_needed(&f->rcv, off, (size_t)(end - off)) <=
		    LINK_EARLY_STREAM_MAX / RING_CHUNK)
		return 0;
	refuse_flow(l, f, RST_RESOURCE, &l->st.flows_refused_early);
	ghost_credit(l, id, end, 0); /* this frame's bytes count too */
	return 1;
}

/* stream_deferred() - new bytes this frame would store cost memory the
 * link is not entitled to: chunks past twice what its window fills
 * contiguously (a peer spreading single bytes over chunks, or past gaps),
 * a share of the daemon's spent pool, or one range of received bytes too
 * many for the flow.  The frame is not stored and its packet is not
 * acknowledged: the peer sends the bytes again later, as after a loss,
 * which costs an honest peer a retransmission and a hostile one its
 * bandwidth, never our memory or CPU. */
static int stream_deferred(struct link *l, struct link_flow *f, uint64_t off, uint64_t end)
{
	uint64_t lo = MAX(off, f->rcv.base);
	size_t need;

	if (end <= lo || rangeset_covers(&f->rcv_have, lo, end))
		return 0;
	/* bytes at the edge of what is readable always go in: they let the
	 * reader take ranges away */
	if (f->rcv_have.n >= LINK_GAPS_MAX && lo > rangeset_first_gap(&f->rcv_have, f->rcv.base) &&
	    rangeset_adds_range(&f->rcv_have, lo, end)) {
		l->st.frames_deferred_gaps++;
		l->unack = 1;
		return 1;
	}
	need = ring_chunks_needed(&f->rcv, lo, (size_t)(end - lo));
	if (!need || rcv_memory_ok(l, need))
		return 0;
	l->st.frames_deferred_memory++;
	l->unack = 1;
	return 1;
}

static void handle_stream(struct link *l, const struct wire_frame *fr)
{
	struct link_flow *f = remote_flow(l, fr->flow, CREATE);
	uint64_t off = fr->u.stream.offset, end = off + fr->u.stream.len;

	if (!f) {
		ghost_credit(l, fr->flow, end, 0);
		return;
	}
	if (stream_violates(l, f, end, fr->u.stream.fin)) {
		l->st.frames_violating++;
		return;
	}
	if (early_refused(l, f, off, end) || stream_deferred(l, f, off, end))
		return;
	if (!f->have_open)
		f->early_stream = 1;
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
	if (end > f->rcv.end) {
		l->rcv_data += end - f->rcv.end;
		rcv_account(l, f, end - f->rcv.end, 0);
	}
	rcv_put(l, f, off, fr->u.stream.data, fr->u.stream.len);
	rangeset_add(&f->rcv_have, MAX(off, f->rcv.base), end);
	if (rangeset_first_gap(&f->rcv_have, f->rcv.base) > f->rcv.base || link_flow_at_eof(f))
		notify_readable(l, f);
}

static void handle_window(struct link *l, const struct wire_frame *fr)
{
	struct link_flow *f, *waiting;

	if (fr->flow == 0) {
		if (fr->u.window_max <= l->snd_max_data)
			return;
		l->snd_max_data = fr->u.window_max;
		/* the flows held back by link credit may go again */
		waiting = l->cb_head;
		l->cb_head = l->cb_tail = NULL;
		while ((f = waiting)) {
			waiting = f->cb_next;
			f->cb_prev = f->cb_next = NULL;
			f->credit_listed = 0;
			flow_schedule(l, f);
		}
		return;
	}
	f = is_local_id(l, fr->flow) ? idmap_get(&l->flows, fr->flow)
				     : remote_flow(l, fr->flow, FIND);
	if (!f || IS_FREED(f) || fr->u.window_max <= f->snd_max)
		return;
	f->snd_max = fr->u.window_max;
	flow_schedule(l, f);
}

/* handle_reset() - the peer aborted the flow (or answered our RESET).  Its
 * final offset counts for link-level flow control, but never beyond the
 * window we offered: the peer cannot have sent more. */
static void handle_reset(struct link *l, const struct wire_frame *fr)
{
	struct link_flow *f = is_local_id(l, fr->flow) ? idmap_get(&l->flows, fr->flow)
						       : remote_flow(l, fr->flow, CREATE);
	struct pending_ctl answer = { .type = WF_RESET, .flow = fr->flow, .reason = RST_ABORTED };

	if (!f) {
		ghost_credit(l, fr->flow, fr->u.reset.final, 1);
		return;
	}
	if (fr->u.reset.final > f->rcv_max)
		l->st.frames_violating++;
	credit_unconsumed(l, f, MIN(fr->u.reset.final, f->rcv_max));
	answer.final = f->snd_next;
	pend_push_answer(l, &answer);
	if (l->cb.flow_gone && f->have_open)
		l->cb.flow_gone(l->cb.arg, f, fr->u.reset.reason ? fr->u.reset.reason : RST_ABORTED);
	flow_free(l, f);
}

static void handle_close(struct link *l, const struct wire_frame *fr)
{
	struct link_flow *f = is_local_id(l, fr->flow) ? idmap_get(&l->flows, fr->flow)
						       : remote_flow(l, fr->flow, FIND);

	if (!f || f->proto != WIRE_PROTO_UDP)
		return;
	if (!IS_FREED(f) && l->cb.flow_gone)
		l->cb.flow_gone(l->cb.arg, f, RST_NONE);
	flow_free(l, f);
}

static void handle_opened(struct link *l, const struct wire_frame *fr)
{
	struct link_flow *f = idmap_get(&l->flows, fr->flow);

	if (!f || !f->local || f->accepted || IS_FREED(f))
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
		dgram_recv(l, fr);
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
	int eliciting, acks = 0;

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
		/* we send one ACK frame per packet; more would only make us walk
		 * the sent history again and again */
		if (fr.type == WF_ACK && acks++) {
			l->st.ack_frames_ignored++;
			continue;
		}
		apply_frame(l, &fr);
	}
	/* a frame was put off for memory: the packet goes unacknowledged, so
	 * the peer sends what it carried again */
	if (l->unack) {
		rangeset_remove(&l->rcv_pns, pn, pn + 1);
		l->st.packets_unacked++;
		l->unack = 0;
	}
	/* a network over its share may have grown its hold: the others keep
	 * their credit (link_update_window) */
	link_update_window(l);
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

int link_record_frame(struct sent_pkt *p, uint8_t type, uint64_t flow, uint64_t off,
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
		link_record_frame(p, WF_OPEN, f->id, 0, 0, 0, 0);
	}
	if (f->need_opened && !frames_full(p)) {
		if (wire_put_opened(b, f->id) < 0)
			return -1;
		f->need_opened = 0;
		link_record_frame(p, WF_OPENED, f->id, 0, 0, 0, 0);
	}
	if (f->need_window && !frames_full(p)) {
		if (wire_put_window(b, f->id, f->rcv_max) < 0)
			return -1;
		f->need_window = 0;
		link_record_frame(p, WF_WINDOW, f->id, f->rcv_max, 0, 0, 0);
	}
	return f->need_open || f->need_opened || f->need_window ? -1 : 0;
}

/* put_pending() - link-level control frames, oldest first, as many as
 * fit; the rest waits for the next packet */
static void put_pending(struct link *l, struct wbuf *b, struct sent_pkt *p)
{
	while (l->pend_head < l->npend && !frames_full(p)) {
		const struct pending_ctl *c = &l->pend[l->pend_head];
		int r = -1;

		if (c->type == WF_RESET)
			r = wire_put_reset(b, c->flow, c->reason, c->final);
		else if (c->type == WF_CLOSE)
			r = wire_put_close(b, c->flow);
		else if (c->type == WF_NETWORK_DELETED)
			r = wire_put_network_deleted(b, &c->net);
		if (r < 0)
			break;
		/* NETWORK_DELETED is not retransmitted: the peer learns it again
		 * from the frames it is dropped for */
		if (c->type != WF_NETWORK_DELETED)
			link_record_frame(p, c->type, c->flow, c->final, 0, 0, (uint32_t)c->reason);
		else
			p->ack_eliciting = 1;
		l->pend_head++;
	}
	if (l->pend_head == l->npend)
		l->pend_head = l->npend = 0;
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
		link_record_frame(p, WF_WINDOW, 0, l->rcv_max_data, 0, 0, 0);
	}
	if (l->cand_pending && !frames_full(p) &&
	    wire_put_candidates(b, l->cand_method, l->cand_addr, l->ncand) == 0) {
		l->cand_pending = 0;
		link_record_frame(p, WF_CANDIDATES, 0, 0, 0, 0, 0);
	}
	put_pending(l, b, p);
	/* with data waiting, flows' control frames take half the packet at
	 * most: a VM churning connections (an OPEN each) must not starve the
	 * other networks' data */
	while (l->ctl_head && !frames_full(p) &&
	       (sched_empty(l) || p->nframes < LINK_MAX_FRAMES / 2)) {
		struct link_flow *f = l->ctl_head;

		if (put_flow_ctl(l, f, b, p) < 0)
			break;
		ctl_pop(l);
		flow_schedule(l, f); /* an OPEN may have unblocked its data */
	}
}

/* send_ring_broken() - a send ring lacks bytes it should hold (a bug of
 * ours): that flow is reset both ways, the link and the daemon go on */
static void send_ring_broken(struct link *l, struct link_flow *f, struct wbuf *b, size_t mark)
{
	b->len = mark;
	l->st.internal_errors++;
	log_warnx("link: flow %llu: send ring lost bytes it held; flow reset",
		  (unsigned long long)f->id);
	if (l->cb.flow_gone && f->have_open)
		l->cb.flow_gone(l->cb.arg, f, RST_RESOURCE);
	queue_reset(l, f, RST_RESOURCE);
	to_ghost(l, f);
}

/* put_stream_retx() - resend lost bytes, skipping any acknowledged since */
static int put_stream_retx(struct link *l, struct link_flow *f, struct wbuf *b,
			   struct sent_pkt *p)
{
	struct range r, a;

	while (rangeset_next(&f->snd_retx, f->snd.base, &r)) {
		uint64_t lo = r.lo, hi = r.hi;
		size_t room, len, mark;
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
		mark = b->len;
		if (wire_put_stream(b, f->id, lo, fin, NULL, len) < 0)
			return 0;
		if (ring_copy(&f->snd, lo, b->p + b->len, len) < 0) {
			send_ring_broken(l, f, b, mark);
			return 0;
		}
		b->len += len;
		rangeset_remove(&f->snd_retx, lo, lo + len);
		if (fin)
			f->fin_retx = 0;
		link_record_frame(p, WF_STREAM, f->id, lo, (uint16_t)len, (uint8_t)fin, 0);
		l->st.stream_bytes_retransmitted += len;
		l->building_retx = 1;
		return 1;
	}
	if (f->fin_retx) {
		if (wire_put_stream(b, f->id, f->snd.end, 1, NULL, 0) < 0)
			return 0;
		f->fin_retx = 0;
		link_record_frame(p, WF_STREAM, f->id, f->snd.end, 0, 1, 0);
		return 1;
	}
	return -1; /* nothing to resend */
}

static int put_stream_new(struct link *l, struct link_flow *f, struct wbuf *b, struct sent_pkt *p)
{
	uint64_t lim = MIN(f->snd.end, f->snd_max);
	uint64_t avail = lim > f->snd_next ? lim - f->snd_next : 0;
	uint64_t credit = l->snd_max_data - MIN(l->snd_data, l->snd_max_data);
	size_t room = wbuf_room(b), len, mark = b->len;
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
	if (ring_copy(&f->snd, f->snd_next, b->p + b->len, len) < 0) {
		send_ring_broken(l, f, b, mark);
		return 0;
	}
	b->len += len;
	link_record_frame(p, WF_STREAM, f->id, f->snd_next, (uint16_t)len, (uint8_t)fin, 0);
	f->snd_next += len;
	l->snd_data += len;
	l->st.stream_bytes_sent += len;
	if (fin)
		f->fin_sent = 1;
	return 1;
}

static int put_flow_data(struct link *l, struct link_flow *f, struct wbuf *b, struct sent_pkt *p)
{
	int r;

	if (f->dq)
		return dgram_put(l, f, b, p);
	r = put_stream_retx(l, f, b, p);
	if (r >= 0)
		return r;
	return put_stream_new(l, f, b, p);
}

/* put_data() - round robin over networks, and within each over its flows
 * with something to send, one frame per turn (link_sched.c), so a bulk
 * flow cannot hold back small ones nor a busy network the others */
static void put_data(struct link *l, struct wbuf *b, struct sent_pkt *p)
{
	size_t fails = 0;

	while (!sched_empty(l) && !frames_full(p) && wbuf_room(b) > WIRE_STREAM_HDR_MAX + 8) {
		struct link_flow *f = sched_pop(l);
		int sent = put_flow_data(l, f, b, p);

		flow_schedule(l, f);
		/* one that did not fit lets the others try; when every flow had
		 * its turn since the last that fitted, the packet is done */
		fails = sent ? 0 : fails + 1;
		if (fails > l->nsched)
			break;
	}
}

static int has_ctl(const struct link *l)
{
	return l->ctl_head || l->npend > l->pend_head || l->need_link_window || l->cand_pending || l->ping_pending ||
	       l->noneshot;
}

int link_wants_send(const struct link *l, uint64_t now_us)
{
	return has_ctl(l) || !sched_empty(l) || l->probes || l->ack_pending || l->ack_now;
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
	if (sched_empty(l))
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
	if (may_send && !l->probes && sched_empty(l) && !has_ctl(l)) {
		l->app_limited_until = MAX(l->delivered + l->cc.in_flight, 1);
		l->cc.app_limited = 1;
	} else if (!l->app_limited_until) {
		l->cc.app_limited = 0;
	}
	if (!(may_send && (has_ctl(l) || !sched_empty(l) || l->probes)) && !ack_due(l)) {
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
	if (l->pace_at_us && (!sched_empty(l) || has_ctl(l)) && l->pace_at_us < t)
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
			if (l->cb.packet_timeout && !p->mtu_probe)
				l->cb.packet_timeout(l->cb.arg, p->pn, p->size);
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
	struct link_group *g;

	l->next_local_id += 2;
	f->local = 1;
	f->have_open = 1;
	f->need_open = 1;
	f->proto = proto;
	f->kind = kind;
	f->net = *net;
	f->src = *src;
	f->dst = *dst;
	/* the glue asked link_can_open(): the group exists or may be made */
	g = group_get(l, net);
	if (g)
		group_join(l, f, g);
	else
		l->st.internal_errors++;
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
	return (size_t)MIN(MIN(flow, link), group_snd_room(l, f));
}

/* send_limit() - the ring may grow to here: the flow's own cap, and no
 * further than the link's cap and its network's share leave (marking the
 * one that binds full) */
/* pool_binds() - the daemon's pool stops this link's send rings only when
 * it is spent and the link holds more than its share of it: a peer that
 * hoards memory cannot stop the other peers' flows from reading */
static int pool_binds(struct link *l)
{
	if (!link_over_share(l))
		return 0;
	l->buffer_full = 1; /* its acks will let the flows write again */
	return 1;
}

static uint64_t send_limit(struct link_flow *f)
{
	struct link *l = f->link;
	uint64_t used = ring_used(&f->snd);
	uint64_t flow = l->cfg.send_buffer - MIN(used, l->cfg.send_buffer);
	uint64_t link = l->cfg.link_buffer - MIN(l->snd_buffered, l->cfg.link_buffer);
	uint64_t group = group_snd_room(l, f);
	uint64_t unsent = f->snd.end - MIN(f->snd_next, f->snd.end);

	if (link < flow)
		l->buffer_full = 1;
	if (group < MIN(flow, link)) {
		if (group < (64u << 10))
			f->group->buffer_full = 1; /* its share is nearly spent */
		link = group;
	}
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
	n = ring_append(&f->snd, data, len, send_limit(f), pool_binds(l));
	snd_account(l, f, n, 0);
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
		n = ring_reserve(&f->snd, iov, maxiov, max, send_limit(f), pool_binds(f->link));
	if (n == 0)
		f->want_write = 1;
	return n;
}

void link_flow_commit(struct link_flow *f, size_t n)
{
	ring_commit(&f->snd, n);
	snd_account(f->link, f, n, 0);
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
	/* TCP: a ghost waits for the peer's RESET to settle link flow
	 * control; UDP flows carry no stream bytes and go at once */
	to_ghost(l, f);
	leave(l);
}

void link_flow_drop(struct link_flow *f)
{
	struct link *l = f->link;

	enter(l, 0);
	credit_unconsumed(l, f, f->rcv.end);
	ghost_add(l, f->id, f->rcv.end, f->rcv_max);
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
	rcv_account(l, f, 0, n);
	rcv_release(l, f, f->rcv.base + n);
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

	return f && !IS_FREED(f) ? f : NULL;
}

void link_flow_each(struct link *l, void (*fn)(struct link_flow *f, void *arg), void *arg)
{
	struct link_flow *f;
	size_t pos = 0;

	while ((f = idmap_next(&l->flows, &pos))) {
		if (!IS_FREED(f) && f->have_open)
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

uint64_t link_next_pn(const struct link *l)
{
	return l->next_pn;
}

/* link_build_path_packet() - RFC 9000 8.2: path probes are padded to the
 * minimum size (when cap allows) so a path that cannot carry full packets
 * is not chosen.  Not tracked for loss: the path logic retries on its own
 * timer. */
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
		total += ring_used(&f->snd) + ring_used(&f->rcv) + (f->dq ? dgram_buffered(f) : 0);
	return total;
}

uint64_t link_recv_window_end(const struct link *l)
{
	return l->rcv_max_data;
}

uint64_t link_recv_credit(const struct link *l)
{
	return l->rcv_max_data - MIN(l->rcv_data, l->rcv_max_data);
}

uint64_t link_send_credit(const struct link *l)
{
	return l->snd_max_data - MIN(l->snd_data, l->snd_max_data);
}

uint64_t link_last_recv_us(const struct link *l)
{
	return l->last_recv_us;
}
