/* link_send.c: building packets.
 *
 * link_send() fills one packet: an ACK when one is due, then control
 * frames (the link's and the flows': OPEN, OPENED, WINDOW, RESET, CLOSE,
 * PING, CANDIDATES), then stream data and datagrams from the flows in
 * their networks' turns, retransmissions before new bytes, within the
 * congestion window and the pacer.  Every frame that must arrive is
 * recorded in the packet's sent record (link_sent.c), so its loss puts it
 * back in its queue (link_loss.c).  Path probes and MTU probes are built
 * here too, outside congestion control. */
#include <string.h>

#include "link_int.h"
#include "log.h"

static int ack_due(const struct link *l)
{
	if (!l->ack_pending && !l->ack_now)
		return 0;
	return l->ack_pending >= 2 || l->ack_now || l->now_us >= l->ack_deadline_us;
}

/* pick_ranges() - the ranges an ACK frame reports, newest first: those
 * of the packets that arrived late, then the newest ones up to the
 * frame's limit.  A path that reorders by hundreds of packets leaves more
 * gaps than an ACK frame has ranges; a late packet filling one far below
 * the newest 64 was never reported, so its sender called it lost and sent
 * its data again (a fifth of all packets at 1 Gbit/s with 10 ms of jitter).
 * An ACK may leave ranges out (RFC 9000 19.3: a gap only says "not
 * acknowledged here"). */
static size_t pick_ranges(struct link *l, struct wire_ack_range *r, size_t max)
{
	const struct rangeset *s = &l->rcv_pns;
	size_t want[WIRE_MAX_ACK_RANGES + LINK_ACK_LATE], nw = 0, nl, n = 0, i, j;
	unsigned k;

	/* the late arrivals since the last ACK, newest first */
	for (k = 0; k < l->rcv_late_n && nw < max; k++) {
		unsigned slot = (l->rcv_late_next + LINK_ACK_LATE - 1 - k) % LINK_ACK_LATE;

		i = rangeset_index(s, l->rcv_late[slot]);
		for (j = 0; i < s->n && j < nw && want[j] != i; j++)
			;
		if (i < s->n && j == nw)
			want[nw++] = i;
	}
	/* then the newest, down to the limit (only the late ones can repeat) */
	nl = nw;
	for (i = s->n; i-- > 0 && nw < max;) {
		for (j = 0; j < nl && want[j] != i; j++)
			;
		if (j == nl)
			want[nw++] = i;
	}
	/* descending, as the frame lists them */
	for (i = 1; i < nw; i++)
		for (j = i; j > 0 && want[j - 1] < want[j]; j--) {
			size_t t = want[j];

			want[j] = want[j - 1];
			want[j - 1] = t;
		}
	for (n = 0; n < nw; n++) {
		r[n].lo = s->r[want[n]].lo;
		r[n].hi = s->r[want[n]].hi - 1;
	}
	return n;
}

static int put_ack(struct link *l, struct wbuf *b, struct sent_pkt *p)
{
	struct wire_ack_range r[WIRE_MAX_ACK_RANGES];
	size_t n;
	uint64_t delay;

	if (!l->have_rcv || !l->rcv_pns.n) {
		/* all acknowledged already (ack of ack): nothing is owed */
		l->ack_pending = 0;
		l->ack_now = 0;
		return 0;
	}
	n = pick_ranges(l, r, ARRAY_SIZE(r));
	delay = l->now_us - l->rcv_largest_us;
	/* fewer ranges if the packet is short of room */
	while (n > 0 && wire_put_ack(b, delay, r, n) < 0)
		n--;
	if (n == 0)
		return 0;
	l->ack_pending = 0;
	l->ack_now = 0;
	l->ack_deadline_us = 0;
	l->rcv_late_n = 0;
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
		link_ctl_pop(l);
		link_flow_schedule(l, f); /* an OPEN may have unblocked its data */
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
	link_queue_reset(l, f, RST_RESOURCE);
	link_to_ghost(l, f);
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
	/* a flow that stopped reading its socket at LINK_UNSENT_MAX may read
	 * again once half of that has left, not only once acknowledged bytes
	 * leave the ring: behind a hole at the ring's front (a loss, a round
	 * trip to repair) that waited a round trip with nothing to send.
	 * Once, as its unsent bytes cross the half mark. */
	if (f->want_write && f->snd.end - f->snd_next > LINK_UNSENT_MAX / 2 &&
	    f->snd.end - (f->snd_next + len) <= LINK_UNSENT_MAX / 2)
		l->writers_unblocked = 1;
	f->snd_next += len;
	l->snd_data += len;
	l->snd_unsent -= MIN((uint64_t)len, l->snd_unsent);
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

		link_flow_schedule(l, f);
		/* one that did not fit lets the others try; when every flow had
		 * its turn since the last that fitted, the packet is done */
		fails = sent ? 0 : fails + 1;
		if (fails > l->nsched)
			break;
	}
}

int link_has_ctl(const struct link *l)
{
	return l->ctl_head || l->npend > l->pend_head || l->need_link_window || l->cand_pending || l->ping_pending ||
	       l->noneshot;
}

int link_wants_send(const struct link *l, uint64_t now_us)
{
	return link_has_ctl(l) || !sched_empty(l) || l->probes || l->ack_pending || l->ack_now;
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
		sent_trim(l);
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
	p->window_limited = l->window_limited_until != 0;
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

static const char *const limit_names[LINK_LIM_N] = {
	[LINK_LIM_SENDING] = "sending",
	[LINK_LIM_APP] = "app",
	[LINK_LIM_CWND] = "cwnd",
	[LINK_LIM_PACING] = "pacing",
	[LINK_LIM_FLOW_WINDOW] = "peer_flow_window",
	[LINK_LIM_LINK_WINDOW] = "peer_link_window",
	[LINK_LIM_SOCKET] = "socket",
};

const char *link_limit_name(enum link_limit lim)
{
	return limit_names[lim];
}

/* set_limit() - close the interval since the last call under its limit
 * and open one under lim */
static void set_limit(struct link *l, enum link_limit lim)
{
	if (l->limit_since_us && l->now_us > l->limit_since_us)
		l->st.limited_us[l->limit] += l->now_us - l->limit_since_us;
	l->limit_since_us = l->now_us;
	l->limit = lim;
}

void link_limit_socket(struct link *l, uint64_t now_us)
{
	link_enter(l, now_us);
	set_limit(l, LINK_LIM_SOCKET);
	link_leave(l);
}

/* idle_limit() - why a link that may send had nothing to: no data, or
 * data the peer's windows hold back */
static enum link_limit idle_limit(const struct link *l)
{
	if (l->snd_unsent == 0)
		return LINK_LIM_APP;
	return l->snd_data >= l->snd_max_data ? LINK_LIM_LINK_WINDOW : LINK_LIM_FLOW_WINDOW;
}

size_t link_send(struct link *l, uint8_t *buf, size_t cap, uint64_t now_us)
{
	size_t max = MIN(cap, l->cfg.max_packet);
	struct wbuf b = { buf, 0, max };
	struct sent_pkt *p;
	int may_send, acked;

	link_enter(l, now_us);
	may_send = may_send_data(l, max);
	/* nothing to send though the congestion window allows: the window
	 * must not grow on that (CUBIC, NewReno).  If the glue has nothing
	 * unsent either, the application is what limits: samples taken until
	 * what is in flight now is delivered say little about the path's rate.
	 * Bytes held back by the peer's flow control are marked apart: their
	 * samples end startup as in Linux (or BBR would never see its
	 * bandwidth stop growing, and pace at three times the path), but like
	 * an idle application's they cannot lower the bandwidth estimate.  A
	 * new flow's window starts small and grows per round trip; on a lossy
	 * path its holes slow that, and the link's estimate, measured before
	 * by other flows, fell to what one young window let through, then
	 * took seconds to climb back a quarter per probe cycle. */
	if (may_send && !l->probes && sched_empty(l) && !link_has_ctl(l)) {
		if (l->snd_unsent == 0)
			l->app_limited_until = MAX(l->delivered + l->cc.in_flight, 1);
		else
			l->window_limited_until = MAX(l->delivered + l->cc.in_flight, 1);
		l->cc.app_limited = 1;
	} else if (!l->app_limited_until) {
		l->cc.app_limited = 0;
	}
	if (!(may_send && (link_has_ctl(l) || !sched_empty(l) || l->probes)) && !ack_due(l)) {
		set_limit(l, !may_send ? (l->pace_at_us ? LINK_LIM_PACING : LINK_LIM_CWND)
				       : idle_limit(l));
		link_leave(l);
		return 0;
	}
	p = sent_next(l);
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
		set_limit(l, idle_limit(l));
		link_leave(l);
		return 0;
	}
	commit_packet(l, p, b.len);
	set_limit(l, LINK_LIM_SENDING);
	/* the packet is complete: flows may append to their rings again */
	if (l->writers_unblocked)
		link_wake_writers(l, (uint64_t)64 << 10);
	link_leave(l);
	return b.len;
}

size_t link_build_mtu_probe(struct link *l, size_t size, uint8_t *buf, size_t cap,
			    uint64_t now_us)
{
	struct wbuf b = { buf, 0, size };
	struct sent_pkt *p;

	if (size > cap || size < 16)
		return 0;
	link_enter(l, now_us);
	p = sent_next(l);
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
	link_leave(l);
	return size;
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

	link_enter(l, now_us);
	p = sent_next(l);
	wire_put_pn(&b, l->next_pn);
	wire_put_path(&b, type, data);
	if (b.len < LINK_MIN_PACKET && b.cap >= LINK_MIN_PACKET) {
		memset(b.p + b.len, 0, LINK_MIN_PACKET - b.len);
		b.len = LINK_MIN_PACKET;
	}
	commit_packet(l, p, b.len);
	link_leave(l);
	return b.len;
}