/* link_loss.c: loss detection and probe timeouts (RFC 9002).
 *
 * A packet is lost when enough later packets were acknowledged or enough
 * time passed since a later one was; the thresholds grow when a loss turns
 * out to have been reordering.  What a lost packet carried is not resent as
 * a packet: its frames go back where they came from, to leave again in new
 * packets.  With nothing acknowledged for a probe timeout, probes go out. */
#include <string.h>

#include "link_int.h"

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
			link_flow_schedule(l, f);
			break;
		case WF_DATAGRAM:
			if (f && f->dq)
				dgram_lost(l, f, sf->off);
			break;
		case WF_OPEN:
			if (f && !f->open_acked) {
				f->need_open = 1;
				link_ctl_queue(l, f);
			}
			break;
		case WF_OPENED:
			if (f) {
				f->need_opened = 1;
				link_ctl_queue(l, f);
			}
			break;
		case WF_WINDOW:
			if (sf->flow == 0) {
				l->need_link_window = 1;
			} else if (f) {
				f->need_window = 1;
				link_ctl_queue(l, f);
			}
			break;
		case WF_RESET:
		case WF_CLOSE:
			memset(&pc, 0, sizeof(pc));
			pc.type = sf->type;
			pc.flow = sf->flow;
			pc.reason = sf->aux;
			pc.final = sf->off;
			link_pend_push(l, &pc);
			break;
		case WF_CANDIDATES:
			l->cand_pending = 1;
			break;
		case WF_PING:
			break;
		}
	}
}

void loss_on_packet(struct link *l, struct sent_pkt *p)
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

/* loss_detect() - RFC 9002 6.1: a packet is lost when three later packets
 * were acknowledged, or it is older than 9/8 RTT and a later one was */
uint64_t loss_detect(struct link *l)
{
	uint64_t delay = rtt_loss_delay_us(&l->rtt, l->time_threshold);
	uint64_t lost_before = l->now_us > delay ? l->now_us - delay : 0;
	uint64_t pn, newest_lost_sent = 0, oldest_lost_sent = UINT64_MAX, lost_bytes = 0;
	int any = 0;

	l->loss_time_us = 0;
	if (!l->have_acked)
		return 0;
	for (pn = l->sp_first; pn <= l->largest_acked && pn < l->next_pn; pn++) {
		struct sent_pkt *p = sent_get(l, pn);

		if (p->state != SP_INFLIGHT)
			continue;
		if (p->sent_us <= lost_before || l->largest_acked >= pn + l->pkt_threshold) {
			loss_on_packet(l, p);
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
	sent_trim(l);
	return lost_bytes;
}

/* loss_spurious() - a packet declared lost arrived after all: the path
 * reorders that far (in packets and in time), so wait that long before
 * calling a packet lost (RFC 9002 6.1.1 and 6.1.2 allow both) */
void loss_spurious(struct link *l, const struct sent_pkt *p)
{
	uint64_t distance = l->largest_acked > p->pn ? l->largest_acked - p->pn + 1 : 0;

	l->st.packets_spuriously_lost++;
	if (distance > l->pkt_threshold)
		l->pkt_threshold = MIN(distance, (uint64_t)LINK_PKT_THRESHOLD_MAX);
	if (l->time_threshold < LINK_TIME_THRESHOLD_MAX)
		l->time_threshold++;
}

uint64_t loss_pto_deadline_us(const struct link *l)
{
	uint64_t pto = rtt_pto_us(&l->rtt, l->cfg.max_ack_delay_us);
	unsigned shift = MIN(l->pto_count, 20u);

	pto = MIN(pto << shift, l->cfg.pto_max_us);
	return l->last_eliciting_us + pto;
}

/* loss_on_pto() - RFC 9002 6.2.4: send two probes; they carry the oldest
 * unacknowledged data again when there is nothing new */
void loss_on_pto(struct link *l)
{
	uint64_t pn;

	l->pto_count++;
	l->st.pto_count_total++;
	l->probes = 2;
	for (pn = l->sp_first; pn < l->next_pn; pn++) {
		struct sent_pkt *p = sent_get(l, pn);

		if (p->state == SP_INFLIGHT && p->ack_eliciting) {
			if (l->cb.packet_timeout && !p->mtu_probe)
				l->cb.packet_timeout(l->cb.arg, p->pn, p->size);
			requeue_frames(l, p);
			break;
		}
	}
}

/* loss_all_in_flight() - the path changed: nothing in flight will be
 * acknowledged on the old one, so all of it counts as lost and goes again */
void loss_all_in_flight(struct link *l)
{
	uint64_t pn;

	for (pn = l->sp_first; pn < l->next_pn; pn++) {
		struct sent_pkt *p = sent_get(l, pn);

		if (p->state == SP_INFLIGHT)
			loss_on_packet(l, p);
	}
	sent_trim(l);
}
