/* fuzz_link.c: the link core (src/core/link*.c), stateful, driven through
 * link.h; its invariants are checked on the flows as the core keeps them
 * (link_int.h).
 *
 * Every input starts from the same live state: two links, A (numbers its
 * flows 2, 4, ...: a provider) and B, with flows open both ways (TCP and
 * UDP), bytes and datagrams written, some of it delivered and some still in
 * flight.  The input is then a program of operations on that state:
 * deliver, drop, duplicate or reorder the packets in flight; advance the
 * clock and run the timers; make either side send; hand either side a
 * packet of raw bytes, or one built with the real encoders from fuzzed
 * fields (flow ids and offsets near the live ones, so that the frames
 * reach deep states); and act as the applications do: open, accept,
 * write, read, shut down, reset and close flows, send datagrams.  The
 * peer that sends crafted packets is authenticated, not trusted: whatever
 * it sends, the core must not crash, and after every step the flows the
 * application holds must be the ones the core knows. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "fuzz.h"
#include "link.h"
#include "link_int.h"
#include "log.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

#define MAXF 48            /* flows an application holds */
#define QMAX 96            /* packets in flight each way */
#define MAX_FLOWS 256      /* the links' max-flows: a frame may name 2x ahead */
#define MAX_OPS 400
#define PKT_MAX 65536

struct app_flow {
	struct link_flow *lf;
	uint64_t id;
	uint64_t wrote, read;
	int eof_seen;
};

struct side {
	const char *name;
	struct link *l;
	struct chunk_pool pool;
	struct app_flow f[MAXF];
	int policy;             /* flow_open: 0 accept, 1 later, 2 reset, 3 drop */
	int auto_read;          /* read in flow_readable, as the glue does */
	int close_in_dgram;     /* close a UDP flow from its datagram callback */
	uint64_t max_pn_sent;   /* the largest packet number it sent */
	uint64_t dgrams, deleted, path_frames, probes;
};

struct pkt {
	uint8_t *d;
	size_t len;
};

struct queue {
	struct pkt q[QMAX];
	size_t n;
};

static struct side A = { .name = "A" }, B = { .name = "B" };
static struct queue ab, ba; /* A to B, B to A */
static uint64_t now_us;
static uint8_t pktbuf[PKT_MAX];
static volatile uint8_t sink; /* reads that must not be optimised away */

static const struct netid net1 = { { 0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 } };

static struct app_flow *app_slot(struct side *s)
{
	int i;

	for (i = 0; i < MAXF; i++)
		if (!s->f[i].lf)
			return &s->f[i];
	return NULL;
}

static void app_track(struct side *s, struct app_flow *a, struct link_flow *f)
{
	memset(a, 0, sizeof(*a));
	a->lf = f;
	a->id = f->id;
	f->app = a;
}

static void app_forget(struct link_flow *f)
{
	struct app_flow *a = f->app;

	if (a)
		a->lf = NULL;
	f->app = NULL;
}

/* ---- the applications ------------------------------------------------- */

static void app_read(struct side *s, struct app_flow *a, size_t budget)
{
	const uint8_t *p;
	size_t n;
	int rounds = 0;

	while (a->lf && budget && rounds++ < 64 && (n = link_flow_peek(a->lf, &p)) > 0) {
		n = n < budget ? n : budget;
		CHECK(p != NULL);
		a->read += n;
		budget -= n;
		link_flow_consume(a->lf, n);
	}
	if (a->lf && !a->eof_seen && link_flow_at_eof(a->lf)) {
		a->eof_seen = 1;
		link_flow_eof_seen(a->lf); /* may end the flow: flow_gone clears lf */
	}
}

static void cb_open(void *arg, struct link_flow *f)
{
	struct side *s = arg;
	struct app_flow *a = app_slot(s);

	if (!a || s->policy == 2) {
		link_flow_reset(f, a ? RST_POLICY : RST_RESOURCE);
		return;
	}
	if (s->policy == 3) {
		link_flow_drop(f);
		return;
	}
	app_track(s, a, f);
	if (s->policy == 0)
		link_flow_accept(f);
}

static void cb_accepted(void *arg, struct link_flow *f)
{
	CHECK(f->app != NULL);
}

static void cb_readable(void *arg, struct link_flow *f)
{
	struct side *s = arg;

	CHECK(f->app != NULL);
	if (s->auto_read)
		app_read(s, f->app, SIZE_MAX);
}

static void cb_writable(void *arg, struct link_flow *f)
{
	CHECK(f->app != NULL);
}

static void cb_gone(void *arg, struct link_flow *f, uint64_t reason)
{
	app_forget(f);
}

static void cb_dgram(void *arg, struct link_flow *f, const uint8_t *d, size_t len)
{
	struct side *s = arg;
	size_t i;

	CHECK(f->app != NULL && len <= 65535);
	for (i = 0; i < len; i++) /* every byte handed up must be readable */
		sink ^= d[i];
	s->dgrams++;
	if (s->close_in_dgram && f->proto == WIRE_PROTO_UDP) {
		app_forget(f);
		link_flow_close(f);
	}
}

static void cb_deleted(void *arg, const struct netid *net)
{
	((struct side *)arg)->deleted++;
}

static void cb_path(void *arg, const struct wire_frame *fr)
{
	((struct side *)arg)->path_frames++;
}

static void cb_probe(void *arg, uint64_t pn, size_t size)
{
	((struct side *)arg)->probes++;
}

static const struct link_cb app_cb = {
	.flow_open = cb_open, .flow_accepted = cb_accepted, .flow_readable = cb_readable,
	.flow_writable = cb_writable, .flow_gone = cb_gone, .datagram = cb_dgram,
	.network_deleted = cb_deleted, .path_frame = cb_path, .probe_acked = cb_probe,
};

/* ---- invariants ------------------------------------------------------- */

static void check_each(struct link_flow *f, void *arg)
{
	struct side *s = arg;
	struct app_flow *a = f->app;

	CHECK(f->link == s->l);
	if (!a)
		return;
	CHECK(a >= s->f && a < s->f + MAXF && a->lf == f && a->id == f->id);
}

/* check() - the flows the application holds are the core's, and the core
 * holds no flow of the application's that it does not know */
static void check(struct side *s)
{
	int i;

	for (i = 0; i < MAXF; i++) {
		struct app_flow *a = &s->f[i];

		if (!a->lf)
			continue;
		CHECK(link_flow_find(s->l, a->id) == a->lf);
		CHECK(a->lf->app == a);
	}
	link_flow_each(s->l, check_each, s);
	/* a peer may open at most max-flows, and name ids at most 2x ahead */
	CHECK(link_flow_count(s->l) <= 3 * (size_t)MAX_FLOWS + MAXF);
	link_next_timer_us(s->l, now_us);
	link_wants_send(s->l, now_us);
	link_bytes_in_flight(s->l);
	link_buffered_bytes(s->l);
	link_send_credit(s->l);
}

/* ---- packets in flight ------------------------------------------------ */

static void q_push(struct queue *q, const uint8_t *d, size_t len)
{
	if (q->n == QMAX) { /* the oldest is lost */
		free(q->q[0].d);
		memmove(q->q, q->q + 1, (QMAX - 1) * sizeof(q->q[0]));
		q->n--;
	}
	q->q[q->n].d = malloc(len ? len : 1);
	memcpy(q->q[q->n].d, d, len);
	q->q[q->n].len = len;
	q->n++;
}

static void q_remove(struct queue *q, size_t i)
{
	free(q->q[i].d);
	memmove(q->q + i, q->q + i + 1, (q->n - i - 1) * sizeof(q->q[0]));
	q->n--;
}

static void q_clear(struct queue *q)
{
	while (q->n)
		q_remove(q, q->n - 1);
}

static struct side *peer_of(struct side *s)
{
	return s == &A ? &B : &A;
}

static struct queue *out_of(struct side *s)
{
	return s == &A ? &ab : &ba;
}

/* recv_pkt() - the side receives a packet; the core is told of it as a
 * copy of exactly its length, so ASan sees any read past its end */
static void recv_pkt(struct side *s, const uint8_t *d, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	memcpy(copy, d, len);
	link_recv(s->l, copy, len, now_us);
	free(copy);
}

/* send_some() - up to max packets the side wants to send, into flight */
static void send_some(struct side *s, int max)
{
	int i;

	for (i = 0; i < max; i++) {
		size_t n = link_send(s->l, pktbuf, sizeof(pktbuf), now_us);
		const uint8_t *p = pktbuf;
		uint64_t pn;

		if (n == 0)
			break;
		CHECK(n <= sizeof(pktbuf));
		if (wire_get_pn(&p, pktbuf + n, &pn) == 0 && pn > s->max_pn_sent)
			s->max_pn_sent = pn;
		q_push(out_of(s), pktbuf, n);
	}
}

static void run_timers(struct side *s)
{
	if (link_next_timer_us(s->l, now_us) <= now_us)
		link_on_timer(s->l, now_us);
}

/* exchange() - both send, everything in flight arrives, a few rounds */
static void exchange(int rounds)
{
	int r;

	for (r = 0; r < rounds; r++) {
		send_some(&A, 32);
		send_some(&B, 32);
		while (ab.n) {
			recv_pkt(&B, ab.q[0].d, ab.q[0].len);
			q_remove(&ab, 0);
		}
		while (ba.n) {
			recv_pkt(&A, ba.q[0].d, ba.q[0].len);
			q_remove(&ba, 0);
		}
		now_us += 2000;
		run_timers(&A);
		run_timers(&B);
	}
}

/* ---- application operations ------------------------------------------- */

static struct ipport addr4(uint8_t last, uint16_t port)
{
	struct ipport a = { .family = AF_INET, .port = port, .addr = { 10, 0, 2, last } };

	return a;
}

static struct app_flow *app_open(struct side *s, uint8_t proto)
{
	struct app_flow *a = app_slot(s);
	struct ipport src = addr4(15, (uint16_t)(40000 + (a ? a - s->f : 0)));
	struct ipport dst = addr4(1, proto == WIRE_PROTO_TCP ? 443 : 53);

	if (!a || !link_can_open(s->l, &net1))
		return NULL;
	app_track(s, a, link_flow_open(s->l, &net1, proto, WIRE_DST_ADDR, &src, &dst));
	return a;
}

static void app_write(struct app_flow *a, size_t len)
{
	static uint8_t data[8192];
	size_t i, n;

	if (!a->lf || !a->lf->accepted)
		return;
	len = len < sizeof(data) ? len : sizeof(data);
	for (i = 0; i < len; i++)
		data[i] = (uint8_t)(a->wrote + i);
	if (a->lf->proto == WIRE_PROTO_UDP) {
		link_flow_send_dgram(a->lf, data, len, now_us);
		return;
	}
	n = link_flow_write(a->lf, data, len);
	CHECK(n <= len);
	a->wrote += n;
}

/* app_reserve() - the readv() path: reserve send space, fill part of it */
static void app_reserve(struct app_flow *a, size_t len)
{
	struct iovec iov[4];
	size_t n, i, got = 0;

	if (!a->lf || !a->lf->accepted || a->lf->proto != WIRE_PROTO_TCP)
		return;
	n = link_flow_reserve(a->lf, iov, 4, len);
	for (i = 0; i < n && got < len; i++) {
		size_t take = iov[i].iov_len < len - got ? iov[i].iov_len : len - got;

		memset(iov[i].iov_base, 0x5a, take);
		got += take;
	}
	link_flow_commit(a->lf, got);
	a->wrote += got;
}

static void app_peek_iov(struct app_flow *a)
{
	struct iovec iov[4];
	size_t n, i, total = 0;

	if (!a->lf)
		return;
	n = link_flow_peek_iov(a->lf, iov, 4);
	CHECK(n <= 4);
	for (i = 0; i < n; i++) {
		if (iov[i].iov_len)
			sink ^= ((uint8_t *)iov[i].iov_base)[iov[i].iov_len - 1];
		total += iov[i].iov_len;
	}
	link_flow_consume(a->lf, total / 2);
}

static void app_op(struct side *s, struct fin *in)
{
	uint8_t op = fin_u8(in) % 12;
	struct app_flow *a = &s->f[fin_u8(in) % MAXF];
	size_t len = fin_u16(in) % 6000;

	switch (op) {
	case 0:
		app_open(s, WIRE_PROTO_TCP);
		break;
	case 1:
		app_open(s, WIRE_PROTO_UDP);
		break;
	case 2:
		app_write(a, len);
		break;
	case 3:
		if (a->lf)
			app_read(s, a, len);
		break;
	case 4:
		if (a->lf && a->lf->proto == WIRE_PROTO_TCP)
			link_flow_shutdown(a->lf);
		break;
	case 5:
		if (a->lf) {
			struct link_flow *f = a->lf;

			app_forget(f);
			link_flow_reset(f, len % RST_MAX);
		}
		break;
	case 6:
		if (a->lf && a->lf->proto == WIRE_PROTO_UDP) {
			struct link_flow *f = a->lf;

			app_forget(f);
			link_flow_close(f);
		}
		break;
	case 7:
		if (a->lf && !a->lf->local)
			link_flow_accept(a->lf);
		break;
	case 8:
		app_reserve(a, len);
		break;
	case 9:
		app_peek_iov(a);
		break;
	case 10:
		if (a->lf)
			link_flow_send_space(a->lf);
		break;
	default:
		s->policy = (int)(len % 4);
		s->auto_read = !!(len & 4);
		s->close_in_dgram = !!(len & 8);
		break;
	}
}

/* ---- crafted packets ---------------------------------------------------- */

/* pick_flow() - a flow id for a frame to s: one it holds, one its peer
 * would open next, one of its own, or anything */
static uint64_t pick_flow(struct side *s, struct fin *in)
{
	uint8_t m = fin_u8(in);
	int peer_even = s == &B; /* A opens even ids */

	switch (m % 4) {
	case 0: {
		struct app_flow *a = &s->f[fin_u8(in) % MAXF];

		return a->id ? a->id : 2;
	}
	case 1:
		return 2 * (uint64_t)(fin_u8(in) % 64 + 1) - (peer_even ? 0 : 1);
	case 2:
		return 2 * (uint64_t)(fin_u8(in) % 64 + 1) - (peer_even ? 1 : 0);
	default:
		return fin_u64(in) & VARINT_MAX;
	}
}

/* pick_offset() - near the start, near what flowed, or anything */
static uint64_t pick_offset(struct fin *in)
{
	uint8_t m = fin_u8(in);

	switch (m % 4) {
	case 0:
		return fin_u8(in);
	case 1:
		return fin_u16(in);
	case 2:
		return fin_u32(in) % (1 << 22);
	default:
		return fin_u64(in) & VARINT_MAX;
	}
}

static struct ipport pick_ipport(struct fin *in)
{
	struct ipport a = { 0 };
	const uint8_t *p;
	size_t n;

	a.family = fin_u8(in) & 1 ? AF_INET6 : AF_INET;
	n = fin_take(in, a.family == AF_INET6 ? 16 : 4, &p);
	memcpy(a.addr, p, n);
	a.port = fin_u16(in);
	return a;
}

/* put_ack_frame() - ranges going down from near the largest packet number
 * the target sent (or anywhere), each a valid ACK as the encoder wants it */
static int put_ack_frame(struct wbuf *b, struct side *target, struct fin *in)
{
	struct wire_ack_range r[WIRE_MAX_ACK_RANGES];
	uint64_t hi = target->max_pn_sent + fin_u8(in) % 4;
	size_t n = fin_u8(in) % 6 + 1, i;

	if (fin_u8(in) % 8 == 0)
		hi = fin_u64(in) & VARINT_MAX;
	for (i = 0; i < n; i++) {
		uint64_t len = fin_u8(in) % 8, gap = fin_u8(in) % 4;

		if (len > hi)
			len = hi;
		r[i].hi = hi;
		r[i].lo = hi - len;
		if (r[i].lo < gap + 2) {
			i++;
			break;
		}
		hi = r[i].lo - gap - 2;
	}
	return wire_put_ack(b, fin_u32(in), r, i);
}

static int put_cands_frame(struct wbuf *b, uint8_t type, struct fin *in)
{
	uint8_t m[WIRE_MAX_CANDIDATES], key[WIRE_KEY_LEN] = { 0 };
	struct ipport a[WIRE_MAX_CANDIDATES];
	size_t n = fin_u8(in) % (WIRE_MAX_CANDIDATES + 1), i;

	for (i = 0; i < n; i++) {
		m[i] = fin_u8(in) % 3;
		a[i] = pick_ipport(in);
	}
	if (type == WF_CANDIDATES)
		return wire_put_candidates(b, m, a, n);
	key[0] = fin_u8(in);
	return wire_put_relay_cand(b, type, key, fin_u32(in), m, a, n);
}

static int put_frame(struct wbuf *b, struct side *target, struct fin *in)
{
	uint8_t type = fin_u8(in) % WF_MAX;
	const uint8_t *data;
	uint64_t flow = pick_flow(target, in);
	uint8_t pd[WIRE_PATH_DATA_LEN] = { 0 };

	switch (type) {
	case WF_PADDING:
	case WF_PING:
		return wire_put_ping(b);
	case WF_ACK:
		return put_ack_frame(b, target, in);
	case WF_OPEN: {
		struct ipport s = pick_ipport(in), d = pick_ipport(in);
		struct netid net = net1;
		uint8_t proto = fin_u8(in), kind = fin_u8(in);

		d.family = s.family;
		proto = proto & 0x80 ? proto : proto & 1 ? WIRE_PROTO_UDP : WIRE_PROTO_TCP;
		kind = kind & 0x80 ? kind : kind % WIRE_DST_MAX;
		net.b[15] ^= fin_u8(in) & 1;
		return wire_put_open(b, flow, &net, proto, kind, &s, &d);
	}
	case WF_OPENED:
		return wire_put_opened(b, flow);
	case WF_STREAM: {
		uint64_t off = pick_offset(in);
		uint8_t fin = fin_u8(in) & 1;
		size_t len = fin_take(in, fin_u8(in), &data);

		if (off + len > VARINT_MAX)
			off = VARINT_MAX - len;
		return wire_put_stream(b, flow, off, fin, data, len);
	}
	case WF_DATAGRAM: {
		uint64_t seq = fin_u8(in) % 8 ? fin_u8(in) : fin_u64(in) & VARINT_MAX;
		uint32_t total = fin_u16(in), frag = total ? fin_u16(in) % (total + 1) : 0;
		size_t len = fin_take(in, fin_u8(in), &data);

		if (len > total - frag)
			len = total - frag;
		return wire_put_dgram(b, flow, seq, total, frag, data, len);
	}
	case WF_WINDOW:
		return wire_put_window(b, flow, pick_offset(in));
	case WF_CLOSE:
		return wire_put_close(b, flow);
	case WF_RESET:
		return wire_put_reset(b, flow, fin_u8(in) % (RST_MAX + 2), pick_offset(in));
	case WF_PATH_CHALLENGE:
	case WF_PATH_RESPONSE:
		pd[0] = fin_u8(in);
		return wire_put_path(b, type, pd);
	case WF_CANDIDATES:
	case WF_RELAY_CONNECT:
	case WF_RELAY_INTRO:
		return put_cands_frame(b, type, in);
	case WF_NETWORK_DELETED: {
		struct netid net = net1;

		net.b[15] ^= fin_u8(in) & 1;
		return wire_put_network_deleted(b, &net);
	}
	case WF_RELAY_OBSERVED: {
		struct ipport a = pick_ipport(in);

		return wire_put_relay_observed(b, &a);
	}
	default:
		return wire_put_path_method(b, fin_u8(in) % 3);
	}
}

/* crafted() - a packet from the peer, its frames from the encoders */
static void crafted(struct side *target, struct fin *in)
{
	struct side *from = peer_of(target);
	struct wbuf b = { pktbuf, 0, 1400 };
	uint8_t m = fin_u8(in);
	uint64_t pn;
	int n = fin_u8(in) % 6 + 1, i;

	if (m % 4 == 3)
		pn = fin_u64(in) & VARINT_MAX;
	else if (m % 4 == 2)
		pn = fin_u16(in);
	else
		pn = ++from->max_pn_sent;
	wire_put_pn(&b, pn);
	for (i = 0; i < n; i++)
		if (put_frame(&b, target, in) < 0)
			break;
	recv_pkt(target, pktbuf, b.len);
}

/* ---- link-level operations -------------------------------------------- */

static void misc_op(struct side *s, struct fin *in)
{
	uint8_t op = fin_u8(in) % 8;
	uint8_t data[WIRE_PATH_DATA_LEN] = { fin_u8(in) };
	uint8_t m[2] = { WIRE_CAND_DIRECT, WIRE_CAND_REFLEXIVE };
	struct ipport a[2] = { addr4(9, 6950), addr4(10, 6951) };
	size_t n;

	switch (op) {
	case 0:
		link_send_ping(s->l);
		break;
	case 1:
		link_send_network_deleted(s->l, &net1);
		break;
	case 2:
		link_queue_candidates(s->l, m, a, fin_u8(in) % 3);
		break;
	case 3:
		link_restart_path(s->l, now_us);
		break;
	case 4:
		link_set_max_packet(s->l, LINK_MIN_PACKET + fin_u8(in));
		break;
	case 5:
		n = link_build_mtu_probe(s->l, LINK_MIN_PACKET + fin_u16(in) % 8000, pktbuf,
					 sizeof(pktbuf), now_us);
		if (n)
			q_push(out_of(s), pktbuf, n);
		break;
	case 6:
		n = link_build_path_packet(s->l, fin_u8(in) & 1 ? WF_PATH_CHALLENGE : WF_PATH_RESPONSE,
					   data, pktbuf, sizeof(pktbuf), now_us);
		if (n)
			q_push(out_of(s), pktbuf, n);
		break;
	default: {
		uint8_t fr[64];
		struct wbuf b = { fr, 0, sizeof(fr) };

		if (wire_put_window(&b, pick_flow(peer_of(s), in), pick_offset(in)) == 0)
			link_queue_frame(s->l, fr, b.len);
		break;
	}
	}
}

/* ---- the program ---------------------------------------------------------- */

static void deliver(struct queue *q, struct side *to, struct fin *in, int keep)
{
	size_t i;

	if (!q->n)
		return;
	i = fin_u8(in) % q->n;
	recv_pkt(to, q->q[i].d, q->q[i].len);
	if (!keep)
		q_remove(q, i);
}

static void step(struct fin *in)
{
	struct side *s = fin_u8(in) & 1 ? &B : &A;
	const uint8_t *raw;
	size_t n;

	switch (fin_u8(in) % 10) {
	case 0:
		deliver(out_of(peer_of(s)), s, in, 0);
		break;
	case 1:
		deliver(out_of(peer_of(s)), s, in, 1); /* a duplicate */
		break;
	case 2:
		if (out_of(s)->n)
			q_remove(out_of(s), fin_u8(in) % out_of(s)->n); /* lost */
		break;
	case 3:
		send_some(s, fin_u8(in) % 16 + 1);
		break;
	case 4:
		now_us += (uint64_t)fin_u16(in) << (fin_u8(in) % 8);
		run_timers(&A);
		run_timers(&B);
		break;
	case 5:
		n = fin_take(in, fin_u16(in) % 1500, &raw);
		recv_pkt(s, raw, n);
		break;
	case 6:
	case 7:
		crafted(s, in);
		break;
	case 8:
		app_op(s, in);
		break;
	default:
		misc_op(s, in);
		break;
	}
}

static void side_new(struct side *s, int opens_even)
{
	struct link_config cfg;
	struct link_cb cb = app_cb;

	link_config_default(&cfg);
	cfg.opens_even = opens_even;
	cfg.max_flows = MAX_FLOWS;
	cb.arg = s;
	memset(s->f, 0, sizeof(s->f));
	s->policy = 0;
	s->auto_read = 1;
	s->close_in_dgram = 0;
	s->max_pn_sent = 0;
	chunk_pool_init(&s->pool, 64 << 20);
	s->l = link_new(&cfg, &cb, &s->pool, now_us);
}

static void side_free(struct side *s)
{
	link_free(s->l);
	s->l = NULL;
	chunk_pool_destroy(&s->pool);
}

/* setup() - the live state every input starts from: flows both ways, data
 * delivered and data in flight */
static void setup(void)
{
	struct app_flow *t1, *t2, *u1, *t3;
	int i;

	now_us = 1000000;
	side_new(&A, 1);
	side_new(&B, 0);
	t1 = app_open(&A, WIRE_PROTO_TCP);
	t2 = app_open(&A, WIRE_PROTO_TCP);
	u1 = app_open(&A, WIRE_PROTO_UDP);
	t3 = app_open(&B, WIRE_PROTO_TCP);
	exchange(3);
	app_write(t1, 5000);
	app_write(t2, 300);
	for (i = 0; i < 3; i++)
		app_write(u1, 100 + 1500 * (size_t)i); /* one fragmented */
	app_write(t3, 2000);
	exchange(2);
	app_write(t1, 8000);
	app_write(u1, 700);
	app_write(t3, 4000);
	send_some(&A, 8); /* in flight when the program starts */
	send_some(&B, 8);
	check(&A);
	check(&B);
}

static void teardown(void)
{
	q_clear(&ab);
	q_clear(&ba);
	side_free(&A);
	side_free(&B);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };
	int ops = 0;

	setup();
	while (in.n && ops++ < MAX_OPS) {
		step(&in);
		check(&A);
		check(&B);
	}
	teardown();
	return 0;
}

/* ---- seeds: programs that reach the interesting states -------------------- */

struct prog {
	uint8_t b[4096];
	size_t n;
};

static void emit(struct prog *p, const uint8_t *d, size_t n)
{
	if (p->n + n <= sizeof(p->b)) {
		memcpy(p->b + p->n, d, n);
		p->n += n;
	}
}

#define OP(p, ...) do { const uint8_t op_[] = { __VA_ARGS__ }; emit(p, op_, sizeof(op_)); } while (0)

/* op encodings, as step() reads them: side byte (0 A, 1 B), then the op */
enum { DELIVER, DUP, LOSE, SEND, TIME, RAW, CRAFT, CRAFT2, APP, MISC };

static void seed_flowing(struct prog *p)
{
	int i;

	for (i = 0; i < 6; i++) {
		OP(p, 0, SEND, 8);
		OP(p, 1, DELIVER, 0);
		OP(p, 1, DELIVER, 0);
		OP(p, 1, SEND, 8);
		OP(p, 0, DELIVER, 0);
		OP(p, 0, TIME, 0x10, 0, 2);
	}
}

/* crafted_frame() - a crafted packet to B: pn mode "next", one frame of type */
static void crafted_frame(struct prog *p, uint8_t type, const uint8_t *fields, size_t n)
{
	OP(p, 1, CRAFT, 0, 0, type, 1, 0); /* flow: B's app flow 0 */
	emit(p, fields, n);
}

static void seeds(const char *dir)
{
	struct prog p;
	static const uint8_t stream[] = { 1, 0x10, 0x00, 1, 8, 'h', 'e', 'l', 'l', 'o', '!', '\n', 0 };
	static const uint8_t dgram[] = { 3, 1, 0x05, 0xdc, 0x00, 0x00, 16, 1, 2, 3, 4, 5, 6, 7, 8,
					 9, 10, 11, 12, 13, 14, 15, 16 };
	static const uint8_t open_udp[] = { 0, 1, 2, 3, 4, 0, 53, 0, 10, 0, 2, 15, 0x9c, 0x40, 1,
					    3, 0 };
	static const uint8_t reset[] = { 5, 2, 0, 0x13, 0x88 };
	static const uint8_t window[] = { 2, 0, 0, 0, 0x10 };
	static const uint8_t cands[] = { 2, 1, 0, 192, 0, 2, 1, 0x1b, 0x26, 2, 1, 0x20, 0x01, 0x0d,
					 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1b, 0x27 };
	uint8_t t;

	memset(&p, 0, sizeof(p));
	seed_flowing(&p);
	fuzz_seed(dir, "flowing", p.b, p.n);

	memset(&p, 0, sizeof(p));
	OP(&p, 0, SEND, 8);
	OP(&p, 1, LOSE, 0);
	OP(&p, 1, DUP, 1);
	OP(&p, 1, DELIVER, 2);
	OP(&p, 0, TIME, 0xff, 0xff, 4);
	OP(&p, 0, SEND, 4);
	OP(&p, 1, DELIVER, 0);
	OP(&p, 1, SEND, 4);
	OP(&p, 0, DELIVER, 0);
	fuzz_seed(dir, "loss-and-timeout", p.b, p.n);

	memset(&p, 0, sizeof(p));
	OP(&p, 1, APP, 11, 0, 0x00, 0x01); /* B: open policy "later" */
	OP(&p, 0, APP, 0, 0, 0, 0);        /* A opens a TCP flow */
	OP(&p, 0, APP, 1, 0, 0, 0);        /* and a UDP flow */
	OP(&p, 0, APP, 2, 3, 0x07, 0xd0);  /* writes on its flow 3 */
	seed_flowing(&p);
	OP(&p, 1, APP, 7, 4, 0, 0);        /* B accepts */
	OP(&p, 1, APP, 3, 0, 0x10, 0);     /* reads */
	OP(&p, 1, APP, 4, 0, 0, 0);        /* shuts down */
	OP(&p, 0, APP, 5, 1, 0, 5);        /* A resets flow 1 */
	OP(&p, 0, APP, 6, 2, 0, 0);        /* closes the UDP flow */
	seed_flowing(&p);
	fuzz_seed(dir, "app-ops", p.b, p.n);

	for (t = 0; t < WF_MAX; t++) {
		memset(&p, 0, sizeof(p));
		OP(&p, 0, SEND, 4);
		crafted_frame(&p, t, t == WF_STREAM ? stream : t == WF_DATAGRAM ? dgram :
				     t == WF_OPEN ? open_udp : t == WF_RESET ? reset :
				     t == WF_WINDOW ? window : cands,
			      t == WF_STREAM ? sizeof(stream) : t == WF_DATAGRAM ? sizeof(dgram) :
			      t == WF_OPEN ? sizeof(open_udp) : t == WF_RESET ? sizeof(reset) :
			      t == WF_WINDOW ? sizeof(window) : sizeof(cands));
		seed_flowing(&p);
		fuzz_seedf(dir, p.b, p.n, "frame-%02x", t);
	}

	memset(&p, 0, sizeof(p));
	for (t = 0; t < 8; t++)
		OP(&p, t & 1, MISC, t, 0x40, 0x10);
	seed_flowing(&p);
	fuzz_seed(dir, "link-ops", p.b, p.n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(-1);
	fuzz_make_seeds(argc, argv, seeds);
	return 0;
}
