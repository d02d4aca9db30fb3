/* link_sent.c: the record of sent packets, and what an ACK does to it.
 *
 * Every packet sent is remembered by its number in a ring (up to
 * LINK_SENT_MAX) with the frames it carried, until it is acknowledged or
 * lost.  An ACK frame resolves packets, samples the RTT, acknowledges the
 * frames (stream bytes, OPENs, datagrams) and builds one delivery-rate
 * sample for congestion control (draft-cheng-iccrg-delivery-rate-estimation).
 * Loss itself is decided in link_loss.c. */
#include <stdlib.h>
#include <string.h>

#include "link_int.h"

struct sent_pkt *sent_get(struct link *l, uint64_t pn)
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

/* sp_forget_oldest() - the history is at its cap, which only a peer that
 * stops acknowledging brings about: its oldest packet counts as lost (what
 * it carried goes again) and is forgotten */
static void sp_forget_oldest(struct link *l)
{
	struct sent_pkt *p = &l->sp[l->sp_first & (l->sp_cap - 1)];

	if (p->state == SP_INFLIGHT)
		loss_on_packet(l, p);
	l->sp_first++;
	l->st.packets_forgotten++;
}

/* sent_next() - the cleared record of the packet about to be numbered
 * next_pn, the history grown if it is full (up to LINK_SENT_MAX) */
struct sent_pkt *sent_next(struct link *l)
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

/* sent_trim() - forget resolved packets at the front.  A lost one is kept
 * for three RTTs: if its ACK still comes, the loss was reordering, and the
 * packet threshold learns how far the path reorders. */
void sent_trim(struct link *l)
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
			link_stream_acked(l, f, sf);
			break;
		case WF_DATAGRAM:
			if (f->dq)
				dgram_acked(l, f, sf->off);
			break;
		}
	}
}

/* sample_delivery() - the newest packet acknowledged in an ACK frame
 * sets the interval of its rate sample */
static void sample_delivery(struct link *l, const struct sent_pkt *p)
{
	struct rate_sample *rs = &l->rs;

	l->delivered += p->size;
	l->delivered_us = l->now_us;
	/* one sent before the path restarted measured the old path: its
	 * acknowledgment, late through the new one, would hand the new
	 * path's fresh estimate the old path's rate (RFC 9000 9.4) */
	if (p->pn < l->path_first_pn)
		return;
	rs->newly_acked += p->size;
	if (p->delivered < rs->prior_delivered && rs->interval_us)
		return;
	rs->prior_delivered = p->delivered;
	rs->is_app_limited = p->app_limited;
	rs->is_window_limited = p->window_limited;
	rs->interval_us = 1; /* marks "a packet set it" */
	l->rs_send_elapsed = p->sent_us - p->first_sent_us;
	l->rs_ack_elapsed = l->delivered_us - p->delivered_us;
	l->first_sent_us = p->sent_us;
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
		loss_spurious(l, p);
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
	if (l->window_limited_until && l->delivered > l->window_limited_until)
		l->window_limited_until = 0;
	rs->delivered = l->delivered - rs->prior_delivered;
	rs->interval_us = interval;
	rs->delivery_rate = 0;
	if (rs->newly_acked && interval && (!l->rtt.has_sample || interval >= l->rtt.min_us))
		rs->delivery_rate = rs->delivered * 1000000 / interval;
	cc_on_rate_sample(&l->cc, rs, l->now_us, &l->rtt);
}

void sent_on_ack_frame(struct link *l, const struct wire_frame *fr)
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
	lp = sent_get(l, largest);
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
			struct sent_pkt *p = sent_get(l, pn);

			if (p && (p->state == SP_INFLIGHT || p->state == SP_LOST))
				on_packet_acked(l, p);
		}
	}
	l->pto_count = 0;
	l->rs.newly_lost = loss_detect(l);
	finish_rate_sample(l);
	cc_update_pacing(&l->cc, &l->rtt);
}
