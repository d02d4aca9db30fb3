/* link.c: one link session's flows: opening, accepting, resetting and
 * freeing them, their send and receive rings, flow control per flow and
 * per link, and reading packets (link_recv(): every frame applied to the
 * flow it names, within the limits of link.h).
 *
 * Packets carry a packet number that is never reused; the receiver
 * acknowledges ranges of them.  What a lost packet carried is not resent
 * as a packet: its frames are put back where they came from (stream bytes
 * into the flow's retransmit set, control frames into their queues) and
 * go out again in new packets, as QUIC does (RFC 9000 13.3).  Building
 * packets is link_send.c; what was sent and what an ACK does, link_sent.c;
 * loss and probe timeouts, link_loss.c; datagrams, link_dgram.c; networks'
 * limits and turns, link_sched.c. */
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
	rangeset_init(&l->rcv_pns, LINK_PN_RANGES_MAX);
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

/* link_enter() - entry points nest (a callback may call back in); flows
 * freed inside are released only when the outermost one returns.  The
 * link's time never goes back: the glue stamps a received batch with the
 * time it was read (mesh.c), and a packet the link built while
 * dispatching it (a path probe) read the clock later. */
void link_enter(struct link *l, uint64_t now_us)
{
	if (l->depth++ == 0 && now_us > l->now_us)
		l->now_us = now_us;
}

void link_leave(struct link *l)
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
	if (f->snd.end > f->snd_next)
		l->snd_unsent -= MIN(f->snd.end - f->snd_next, l->snd_unsent);
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

void link_pend_push(struct link *l, const struct pending_ctl *p)
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
	link_pend_push(l, p);
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

void link_queue_reset(struct link *l, struct link_flow *f, uint64_t reason)
{
	struct pending_ctl p = { .type = WF_RESET, .flow = f->id, .reason = reason,
				 .final = f->snd_next };

	link_pend_push(l, &p);
}

/* link_to_ghost() - a flow reset here: its state goes at once, and until the
 * peer's RESET tells how far it had sent (docs/DESIGN.md 11.5), a ghost of
 * a few bytes counts what still arrives on it for link flow control.  A
 * UDP flow carries no stream bytes: nothing is owed. */
void link_to_ghost(struct link *l, struct link_flow *f)
{
	credit_unconsumed(l, f, f->rcv.end);
	if (!wire_proto_dgram(f->proto))
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
	link_to_ghost(l, f);
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

/* window_rtt_us() - the round trip windows grow by: the larger of the
 * smoothed and the latest RTT.  A receiver sends few ack-eliciting
 * packets (its WINDOW frames), so after the path got longer its smoothed
 * RTT trails for dozens of round trips, and windows used up within two
 * round trips of the new path looked slow to fill.  0 before a sample. */
static uint64_t window_rtt_us(const struct link *l)
{
	return l->rtt.has_sample ? MAX(l->rtt.smoothed_us, l->rtt.latest_us) : 0;
}

/* maybe_grow_window() - autotuning: a window used up within two RTTs is
 * what limits the flow, so double it (up to the configured cap) */
static uint64_t maybe_grow_window(const struct link *l, uint64_t window, uint64_t *at_us,
				  uint64_t cap)
{
	uint64_t srtt = window_rtt_us(l);

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
	link_ctl_queue(l, f);
}

/* flow_window_edge() - the peer sent up to the edge of the window we
 * offered: the window, not the path, holds it back.  Autotuning grows a
 * window only as it is read in order, and a hole (a loss, a round trip to
 * repair) stops the reading, so on a lossy long path the window lagged
 * behind the path for good (200 ms RTT, 2% loss: 6 Mbit/s where kernel
 * TCP moved 15).  So it grows at the edge too, once per round trip, up to
 * the same cap and only within the network's share; but not for a reader
 * that is slow (half the window readable and unread): its window is what
 * keeps the sender from filling our memory. */
static void flow_window_edge(struct link *l, struct link_flow *f)
{
	uint64_t rtt = window_rtt_us(l);
	uint64_t unread = rangeset_first_gap(&f->rcv_have, f->rcv.base) - f->rcv.base;

	if (f->rcv_fin || f->rcv_window >= l->cfg.flow_window_max || !group_may_grow(l, f) ||
	    unread >= f->rcv_window / 2 ||
	    (f->rcv_edge_at_us && l->now_us - f->rcv_edge_at_us < rtt))
		return;
	f->rcv_edge_at_us = l->now_us;
	f->rcv_window = MIN(f->rcv_window * 2, l->cfg.flow_window_max);
	f->rcv_max = f->rcv.base + f->rcv_window;
	f->need_window = 1;
	l->st.flow_windows_grown_at_edge++;
	link_ctl_queue(l, f);
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

void link_ctl_queue(struct link *l, struct link_flow *f)
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

/* link_ctl_pop() - the first flow of the control queue leaves it */
void link_ctl_pop(struct link *l)
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


/* snd_released() - a send ring shrank: account it to the link and the
 * flow's network; when the link's cap (or a network's share) had refused
 * flows and a quarter of it is free again, let every waiting flow write */
static void snd_released(struct link *l, struct link_flow *acked, uint64_t bytes)
{
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
	if (wake)
		link_wake_writers(l, 1);
}

/* link_wake_writers() - every flow waiting to write that has min_space
 * bytes of room now may write again */
void link_wake_writers(struct link *l, uint64_t min_space)
{
	struct link_flow *f;
	size_t pos = 0, n = 0, i;
	uint64_t *ids;

	l->writers_unblocked = 0;
	/* the ids first: a writable callback may reset flows, which moves
	 * others within the map */
	ids = xcalloc(l->nflows + 1, sizeof(*ids));
	while ((f = idmap_next(&l->flows, &pos)) && n < l->nflows)
		if (f->want_write && !IS_FREED(f))
			ids[n++] = f->id;
	for (i = 0; i < n; i++) {
		f = idmap_get(&l->flows, ids[i]);
		if (f && f->want_write && !IS_FREED(f) && link_flow_send_space(f) >= min_space) {
			f->want_write = 0;
			if (l->cb.flow_writable)
				l->cb.flow_writable(l->cb.arg, f);
		}
	}
	free(ids);
}

/* link_stream_acked() - mark bytes acknowledged and drop everything contiguous
 * below the first gap from the send ring */
void link_stream_acked(struct link *l, struct link_flow *f, const struct sent_frame *sf)
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
	 * TCP, datagrams for UDP and ICMP */
	if ((wire_proto_dgram(f->proto) && f->early_stream) ||
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
	if (wire_proto_dgram(f->proto)) {
		f->accepted = 1; /* datagrams need no connection */
		f->dq = dq_new(l->pool);
	}
	l->st.flows_opened_remote++;
	if (l->cb.flow_open)
		l->cb.flow_open(l->cb.arg, f);
	if (wire_proto_dgram(f->proto) && (f = idmap_get(&l->flows, fr->flow)) && !IS_FREED(f))
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
	if (wire_proto_dgram(f->proto) || (!f->have_open && f->early_dgram))
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
	if (end >= f->rcv_max)
		flow_window_edge(l, f);
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

	if (!f || !wire_proto_dgram(f->proto))
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
		sent_on_ack_frame(l, fr);
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
	} else {
		l->rcv_late[l->rcv_late_next] = pn;
		l->rcv_late_next = (l->rcv_late_next + 1) % LINK_ACK_LATE;
		l->rcv_late_n = MIN(l->rcv_late_n + 1, (unsigned)LINK_ACK_LATE);
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

	link_enter(l, now_us);
	if (wire_get_pn(&p, end, &pn) < 0 || (eliciting = validate(p, (size_t)(end - p))) < 0) {
		l->st.packets_malformed++;
		link_leave(l);
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
		link_leave(l);
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
	link_leave(l);
	return 0;
}

/* ---- sending ----------------------------------------------------------- */

/* ---- timers ------------------------------------------------------------ */

uint64_t link_next_timer_us(const struct link *l, uint64_t now_us)
{
	uint64_t t = UINT64_MAX;

	if (l->loss_time_us)
		t = l->loss_time_us;
	else if (l->cc.in_flight > 0)
		t = loss_pto_deadline_us(l);
	if (l->ack_pending && l->ack_deadline_us < t)
		t = l->ack_deadline_us;
	if (l->pace_at_us && (!sched_empty(l) || link_has_ctl(l)) && l->pace_at_us < t)
		t = l->pace_at_us;
	return t;
}

void link_on_timer(struct link *l, uint64_t now_us)
{
	link_enter(l, now_us);
	if (l->loss_time_us && l->now_us >= l->loss_time_us)
		loss_detect(l);
	else if (!l->loss_time_us && l->cc.in_flight > 0 && l->now_us >= loss_pto_deadline_us(l))
		loss_on_pto(l);
	link_leave(l);
}

uint64_t link_reordering(const struct link *l)
{
	return l->pkt_threshold;
}

void link_restart_path(struct link *l, uint64_t now_us)
{
	link_enter(l, now_us);
	loss_all_in_flight(l);
	/* RFC 9000 9.4: the RTT and the congestion controller start afresh;
	 * and so does what loss detection learned of the old path's
	 * reordering */
	rtt_init(&l->rtt);
	cc_init(&l->cc, l->cfg.cc, l->cfg.max_packet);
	l->path_first_pn = l->next_pn;
	l->pkt_threshold = LINK_PKT_THRESHOLD;
	l->time_threshold = LINK_TIME_THRESHOLD;
	l->loss_time_us = 0;
	l->pto_count = 0;
	l->ping_pending = 1;
	link_leave(l);
}

/* ---- flow API ---------------------------------------------------------- */

uint64_t link_flow_id(const struct link_flow *f)
{
	return f->id;
}

uint8_t link_flow_proto(const struct link_flow *f)
{
	return f->proto;
}

uint8_t link_flow_kind(const struct link_flow *f)
{
	return f->kind;
}

const struct netid *link_flow_net(const struct link_flow *f)
{
	return &f->net;
}

const struct ipport *link_flow_src(const struct link_flow *f)
{
	return &f->src;
}

const struct ipport *link_flow_dst(const struct link_flow *f)
{
	return &f->dst;
}

void *link_flow_app(const struct link_flow *f)
{
	return f->app;
}

void link_flow_set_app(struct link_flow *f, void *app)
{
	f->app = app;
}

uint64_t link_flow_recv_held(const struct link_flow *f)
{
	return f->rcv.end - f->rcv.base;
}

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
	if (wire_proto_dgram(proto)) {
		f->accepted = 1;
		f->dq = dq_new(l->pool);
	}
	l->st.flows_opened_local++;
	link_ctl_queue(l, f);
	return f;
}

void link_flow_accept(struct link_flow *f)
{
	struct link *l = f->link;

	link_enter(l, 0);
	if (!f->accepted) {
		f->accepted = 1;
		if (f->proto == WIRE_PROTO_TCP) {
			f->need_opened = 1;
			link_ctl_queue(l, f);
		}
		if (rangeset_first_gap(&f->rcv_have, f->rcv.base) > f->rcv.base || f->rcv_fin)
			notify_readable(l, f);
	}
	link_leave(l);
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
	l->snd_unsent += n;
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
	f->link->snd_unsent += n;
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

	link_enter(l, 0);
	link_queue_reset(l, f, reason);
	/* TCP: a ghost waits for the peer's RESET to settle link flow
	 * control; UDP flows carry no stream bytes and go at once */
	link_to_ghost(l, f);
	link_leave(l);
}

void link_flow_drop(struct link_flow *f)
{
	struct link *l = f->link;

	link_enter(l, 0);
	credit_unconsumed(l, f, f->rcv.end);
	ghost_add(l, f->id, f->rcv.end, f->rcv_max);
	flow_free(l, f);
	link_leave(l);
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

	link_enter(l, 0);
	f->fin_read = 1;
	flow_maybe_finish(l, f);
	link_leave(l);
}

void link_flow_close(struct link_flow *f)
{
	struct link *l = f->link;
	struct pending_ctl p = { .type = WF_CLOSE, .flow = f->id };

	link_enter(l, 0);
	if (!f->local || !f->need_open)
		link_pend_push(l, &p);
	flow_free(l, f);
	link_leave(l);
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

	link_pend_push(l, &p);
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
