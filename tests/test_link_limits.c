/* test_link_limits.c: what a peer can make the link core hold, and that
 * one network cannot take what another needs.
 *
 * A hostile peer is authenticated (DTLS), so the core sees whatever frames
 * it chooses to send.  These tests craft such packets with the real
 * encoders and feed them to a victim link: every case from issue 13
 * (flow ids far ahead, stream bytes then an OPEN for UDP, early data,
 * reassembly, resets with impossible offsets) must leave the victim
 * alive, bounded, and useful to everybody else.  The fairness tests run
 * two links over the simulated network (simnet.c) with flows in two
 * networks. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link.h"
#include "simnet.h"
#include "wire.h"

#define MAXF 4096
#define SECRET "SECRET-COOKIE-of-another-tenant"

struct rec {
	struct link_flow *lf;
	uint64_t key;      /* pattern of the bytes it receives */
	uint64_t up, sent, rcvd;
	int net, bad, eof, shut, gone, accepted;
	uint64_t gone_reason;
};

struct end {
	struct link *l;
	struct rec r[MAXF];
	int n;
	int noread_net;    /* flows of this network are never read (0: none) */
	uint64_t dgrams, dgram_bytes;
	int secret_seen;
	struct sim *sim;
};

static void read_rec(struct rec *t)
{
	const uint8_t *p;
	size_t n, i;

	while (t->lf && (n = link_flow_peek(t->lf, &p)) > 0) {
		for (i = 0; i < n; i++)
			if (p[i] != sim_pattern(t->key, t->rcvd + i))
				t->bad = 1;
		t->rcvd += n;
		link_flow_consume(t->lf, n);
	}
	if (t->lf && link_flow_at_eof(t->lf) && !t->eof) {
		t->eof = 1;
		link_flow_eof_seen(t->lf);
	}
}

static void cb_open(void *arg, struct link_flow *f)
{
	struct end *e = arg;
	struct rec *t;

	ck_assert_int_lt(e->n, MAXF);
	t = &e->r[e->n++];
	memset(t, 0, sizeof(*t));
	t->lf = f;
	t->key = link_flow_src(f)->port + 1000u * link_flow_net(f)->b[0];
	t->net = link_flow_net(f)->b[0];
	t->accepted = 1;
	link_flow_set_app(f, t);
	link_flow_accept(f);
}

static void cb_accepted(void *arg, struct link_flow *f)
{
	((struct rec *)link_flow_app(f))->accepted = 1;
}

static void cb_readable(void *arg, struct link_flow *f)
{
	struct end *e = arg;
	struct rec *t = link_flow_app(f);

	if (t && t->net != e->noread_net)
		read_rec(t);
}

static void cb_writable(void *arg, struct link_flow *f)
{
}

static void cb_gone(void *arg, struct link_flow *f, uint64_t reason)
{
	struct rec *t = link_flow_app(f);

	if (!t)
		return;
	t->gone = 1;
	t->gone_reason = reason;
	t->lf = NULL;
}

static void cb_dgram(void *arg, struct link_flow *f, const uint8_t *d, size_t len)
{
	struct end *e = arg;

	e->dgrams++;
	e->dgram_bytes += len;
	if (memmem(d, len, SECRET, strlen(SECRET)))
		e->secret_seen = 1;
}

static const struct link_cb test_cb = {
	.flow_open = cb_open,
	.flow_accepted = cb_accepted,
	.flow_readable = cb_readable,
	.flow_writable = cb_writable,
	.flow_gone = cb_gone,
	.datagram = cb_dgram,
};

static struct netid net_n(int n)
{
	struct netid id = { { (uint8_t)n } };

	return id;
}

/* ---- a victim fed crafted packets --------------------------------------- */

/* The victim plays the consumer: the provider (the attacker here) opens
 * even flow ids. */
struct victim {
	struct end e;
	struct chunk_pool pool;
	uint64_t pn, now_us;
	struct link_config cfg;
};

static void victim_new(struct victim *v, uint32_t max_flows, uint32_t net_max_flows)
{
	struct link_cb cb = test_cb;

	memset(v, 0, sizeof(*v));
	link_config_default(&v->cfg);
	v->cfg.opens_even = 0;
	if (max_flows)
		v->cfg.max_flows = max_flows;
	if (net_max_flows)
		v->cfg.net_max_flows = net_max_flows;
	chunk_pool_init(&v->pool, 256 << 20);
	cb.arg = &v->e;
	v->now_us = 1000;
	v->e.l = link_new(&v->cfg, &cb, &v->pool, v->now_us);
}

static void victim_free(struct victim *v)
{
	link_free(v->e.l);
	ck_assert_uint_eq(v->pool.in_use, 0);
	chunk_pool_destroy(&v->pool);
}

/* inject() - one packet of the frames in b, as the peer would send it */
static void inject(struct victim *v, const struct wbuf *frames)
{
	uint8_t pkt[2048];
	struct wbuf b = { pkt, 0, sizeof(pkt) };

	ck_assert_int_eq(wire_put_pn(&b, v->pn++), 0);
	memcpy(pkt + b.len, frames->p, frames->len);
	b.len += frames->len;
	v->now_us += 10;
	ck_assert_int_eq(link_recv(v->e.l, pkt, b.len, v->now_us), 0);
}

static void put_open(struct wbuf *b, uint64_t id, int net, uint8_t proto, uint16_t port)
{
	struct netid n = net_n(net);
	struct ipport src = { .family = AF_INET, .port = port, .addr = { 10, 0, 2, 15 } };
	struct ipport dst = { .family = AF_INET, .port = 9, .addr = { 198, 51, 100, 10 } };

	ck_assert_int_eq(wire_put_open(b, id, &n, proto, WIRE_DST_ADDR, &src, &dst), 0);
}

static void inject_open(struct victim *v, uint64_t id, int net, uint8_t proto)
{
	uint8_t buf[256];
	struct wbuf b = { buf, 0, sizeof(buf) };

	put_open(&b, id, net, proto, (uint16_t)id);
	inject(v, &b);
}

static void inject_stream(struct victim *v, uint64_t id, uint64_t off, const void *d, size_t len)
{
	uint8_t buf[2048];
	struct wbuf b = { buf, 0, sizeof(buf) };

	ck_assert_int_eq(wire_put_stream(&b, id, off, 0, d, len), 0);
	inject(v, &b);
}

static void inject_dgram(struct victim *v, uint64_t id, uint64_t seq, uint32_t total, uint32_t frag,
			 const void *d, size_t len)
{
	uint8_t buf[2048];
	struct wbuf b = { buf, 0, sizeof(buf) };

	ck_assert_int_eq(wire_put_dgram(&b, id, seq, total, frag, d, len), 0);
	inject(v, &b);
}

/* resets_sent() - drain what the victim sends; count RESET frames with
 * this reason (any reason: UINT64_MAX) */
static int resets_sent(struct victim *v, uint64_t reason)
{
	uint8_t pkt[2048];
	size_t n;
	int count = 0, rounds;

	for (rounds = 0; rounds < 100000; rounds++) {
		const uint8_t *p, *end;
		uint64_t pn;

		n = link_send(v->e.l, pkt, sizeof(pkt), v->now_us);
		if (!n)
			break;
		p = pkt;
		end = pkt + n;
		ck_assert_int_eq(wire_get_pn(&p, end, &pn), 0);
		while (p < end) {
			struct wire_frame fr;
			int k = wire_frame_decode(p, (size_t)(end - p), &fr);

			ck_assert_int_gt(k, 0);
			p += k;
			if (fr.type == WF_RESET && (reason == UINT64_MAX || fr.u.reset.reason == reason))
				count++;
		}
	}
	return count;
}

/* Finding 1: one packet of empty STREAM frames naming ids further and
 * further ahead made the core create every id up to twice max-flows
 * ahead, again and again (11.4 million flows, 4.4 GB).  Now an id ahead
 * only remembers the ids below it as a range, and an id further ahead
 * than the link may ever hold is ignored and counted. */
START_TEST(test_far_ahead_flow_ids_make_no_state)
{
	struct victim v;
	uint8_t buf[1393];
	uint64_t id = 2, k;
	int pkt;

	victim_new(&v, 0, 0);
	for (pkt = 0; pkt < 200; pkt++) {
		struct wbuf b = { buf, 0, sizeof(buf) };

		while (wire_put_stream(&b, id, 0, 0, NULL, 0) == 0 && b.len + 2 <= sizeof(buf))
			id += 2 * (uint64_t)v.cfg.max_flows;
		inject(&v, &b);
	}
	ck_assert_uint_le(link_flow_count(v.e.l), 4);
	ck_assert_uint_lt(link_usage(v.e.l), 256 << 10);
	ck_assert_uint_gt(link_stats(v.e.l)->flow_ids_refused, 10000);
	/* the ids below the first one are still the peer's to open */
	inject_open(&v, 4, 1, WIRE_PROTO_TCP);
	ck_assert_int_eq(v.e.n, 1);
	for (k = 6; k < 64; k += 2)
		inject_open(&v, k, 1, WIRE_PROTO_TCP);
	ck_assert_int_eq(v.e.n, 30);
	victim_free(&v);
}
END_TEST

/* An honest peer's OPENs may arrive out of order: an id ahead implies the
 * lower ones, which are accepted when their OPEN comes. */
START_TEST(test_reordered_opens_all_accepted)
{
	struct victim v;

	victim_new(&v, 0, 0);
	inject_open(&v, 8, 1, WIRE_PROTO_TCP);
	inject_open(&v, 4, 1, WIRE_PROTO_TCP);
	inject_open(&v, 2, 1, WIRE_PROTO_TCP);
	inject_open(&v, 6, 1, WIRE_PROTO_UDP);
	ck_assert_int_eq(v.e.n, 4);
	inject_open(&v, 4, 1, WIRE_PROTO_TCP); /* a duplicate changes nothing */
	ck_assert_int_eq(v.e.n, 4);
	victim_free(&v);
}
END_TEST

/* max-flows holds per link, network-max-flows per network; a refused flow
 * is told (RESET, RST_RESOURCE), and one network at its limit does not
 * keep another from opening. */
START_TEST(test_flow_limits_per_link_and_network)
{
	struct victim v;
	uint64_t id = 2;
	int i;

	victim_new(&v, 8, 4);
	for (i = 0; i < 10; i++, id += 2)
		inject_open(&v, id, 1, WIRE_PROTO_TCP);
	ck_assert_int_eq(v.e.n, 4);
	ck_assert_uint_eq(link_stats(v.e.l)->flows_refused_network, 6);
	ck_assert_int_eq(resets_sent(&v, RST_RESOURCE), 6);
	ck_assert(!link_can_open(v.e.l, &(struct netid){ { 1 } }));
	/* network 2 still gets its flows */
	ck_assert(link_can_open(v.e.l, &(struct netid){ { 2 } }));
	for (i = 0; i < 2; i++, id += 2)
		inject_open(&v, id, 2, WIRE_PROTO_TCP);
	ck_assert_int_eq(v.e.n, 6);
	/* the link's own limit: 8 open flows in all */
	for (i = 0; i < 4; i++, id += 2)
		inject_open(&v, id, 3, WIRE_PROTO_TCP);
	ck_assert_int_eq(v.e.n, 8);
	ck_assert_uint_eq(link_stats(v.e.l)->flows_refused_limit, 2);
	ck_assert(!link_can_open(v.e.l, &(struct netid){ { 4 } }));
	victim_free(&v);
}
END_TEST

/* plant_secret() - another tenant's bytes pass through the daemon's pool:
 * a flow receives them and they are read, so the chunk goes back to the
 * pool's cache still holding them */
static void plant_secret(struct victim *v, uint64_t id)
{
	uint8_t data[1200];
	uint64_t off;

	memset(data, 'x', sizeof(data));
	inject_open(v, id, 1, WIRE_PROTO_TCP);
	for (off = 0; off < RING_CHUNK; off += sizeof(data)) {
		memcpy(data, SECRET, strlen(SECRET));
		inject_stream(v, id, off, data, sizeof(data));
	}
	ck_assert_int_eq(v->e.r[0].rcvd, (RING_CHUNK / sizeof(data) + 1) * sizeof(data));
}

/* Finding 2: stream bytes for a flow not open yet, then an OPEN that says
 * UDP.  The bytes were parsed as length-prefixed datagrams: a length past
 * the data reached the fatal in ring_copy(), and a gap sent stale pool
 * bytes (another tenant's) as a datagram to the attacker's destination.
 * Now the flow is refused, nothing is delivered, and the daemon lives. */
START_TEST(test_stream_then_open_udp_refused)
{
	struct victim v;
	static const uint8_t len_past[2] = { 0xff, 0xff }, gap[2] = { 0x00, 0x10 };

	victim_new(&v, 0, 0);
	plant_secret(&v, 2);
	/* a length prefix past the data */
	inject_stream(&v, 4, 0, len_past, sizeof(len_past));
	inject_open(&v, 4, 1, WIRE_PROTO_UDP);
	/* a prefix that reaches over a gap into a chunk of stale bytes */
	inject_stream(&v, 6, 0, gap, sizeof(gap));
	inject_stream(&v, 6, 8000, "zz", 2);
	inject_open(&v, 6, 1, WIRE_PROTO_UDP);
	ck_assert_uint_eq(v.e.dgrams, 0);
	ck_assert(!v.e.secret_seen);
	ck_assert_uint_eq(link_stats(v.e.l)->flows_refused_mismatch, 2);
	ck_assert_int_eq(resets_sent(&v, RST_REFUSED), 2);
	ck_assert_int_eq(v.e.n, 1); /* only the honest flow was ever opened */
	victim_free(&v);
}
END_TEST

/* The other way round: datagrams that overtook an OPEN that says TCP are
 * not stream bytes; and a flow that got datagrams takes no stream bytes. */
START_TEST(test_datagrams_then_open_tcp_refused)
{
	struct victim v;

	victim_new(&v, 0, 0);
	inject_dgram(&v, 2, 0, 5, 0, "hello", 5);
	inject_stream(&v, 2, 0, "abc", 3);
	ck_assert_uint_eq(link_stats(v.e.l)->frames_violating, 1);
	inject_open(&v, 2, 1, WIRE_PROTO_TCP);
	ck_assert_int_eq(v.e.n, 0);
	ck_assert_uint_eq(link_stats(v.e.l)->flows_refused_mismatch, 1);
	/* datagrams that wait for a UDP OPEN are delivered when it comes */
	inject_dgram(&v, 4, 0, 5, 0, "hello", 5);
	inject_dgram(&v, 4, 1, 5, 0, "world", 5);
	inject_open(&v, 4, 1, WIRE_PROTO_UDP);
	ck_assert_int_eq(v.e.n, 1);
	ck_assert_uint_eq(v.e.dgrams, 2);
	victim_free(&v);
}
END_TEST

/* Stream bytes sent before OPENs are held within LINK_EARLY_STREAM_MAX for
 * the whole link; the flow that would pass it is refused. */
START_TEST(test_early_stream_bytes_bounded)
{
	struct victim v;
	uint8_t data[1200];
	uint64_t id, off;

	memset(data, 'e', sizeof(data));
	victim_new(&v, 0, 0);
	for (id = 2; id < 2 + 2 * 48; id += 2)
		for (off = 0; off + sizeof(data) <= LINK_INITIAL_FLOW_WINDOW; off += sizeof(data))
			inject_stream(&v, id, off, data, sizeof(data));
	ck_assert_uint_gt(link_stats(v.e.l)->flows_refused_early, 0);
	ck_assert_uint_le(link_usage(v.e.l), LINK_EARLY_STREAM_MAX + (1 << 20));
	ck_assert_uint_le(v.pool.in_use * (uint64_t)RING_CHUNK, LINK_EARLY_STREAM_MAX + (1 << 20));
	ck_assert_int_gt(resets_sent(&v, RST_RESOURCE), 0);
	victim_free(&v);
}
END_TEST

/* Flows named before their OPEN are bounded in number (empty frames), and
 * in memory: a byte takes a 16 KiB chunk, which is what is counted. */
START_TEST(test_unopened_flows_bounded)
{
	struct victim v;
	uint64_t id;

	victim_new(&v, 0, 0);
	for (id = 2; id < 2 + 2 * (LINK_UNOPENED_MAX + 100); id += 2)
		inject_stream(&v, id, 0, NULL, 0);
	ck_assert_uint_le(link_flow_count(v.e.l), LINK_UNOPENED_MAX);
	ck_assert_uint_ge(link_stats(v.e.l)->flow_ids_refused, 100);
	ck_assert_int_ge(resets_sent(&v, RST_RESOURCE), 100);
	victim_free(&v);

	victim_new(&v, 0, 0);
	for (id = 2; id < 2 + 2 * LINK_UNOPENED_MAX; id += 2)
		inject_stream(&v, id, 0, "u", 1);
	ck_assert_uint_le(v.pool.in_use, LINK_EARLY_STREAM_MAX / RING_CHUNK);
	ck_assert_uint_ge(link_stats(v.e.l)->flows_refused_early, LINK_UNOPENED_MAX / 2);
	victim_free(&v);
}
END_TEST

/* Each reassembly slot could take 64 KiB, 32 slots a flow, on every flow.
 * Now the link holds at most LINK_REASM_BYTES_MAX, and other flows'
 * datagrams still arrive. */
START_TEST(test_reassembly_bounded)
{
	struct victim v;
	uint8_t frag[1000];
	uint64_t id, seq;

	memset(frag, 'r', sizeof(frag));
	victim_new(&v, 0, 0);
	for (id = 2; id < 2 + 2 * 64; id += 2)
		inject_open(&v, id, 1, WIRE_PROTO_UDP);
	for (id = 2; id < 2 + 2 * 64; id += 2)
		for (seq = 0; seq < 32; seq++)
			inject_dgram(&v, id, seq, 65535, 0, frag, sizeof(frag));
	ck_assert_uint_le(link_usage(v.e.l), LINK_REASM_BYTES_MAX + 64 * 4096 + (256 << 10));
	ck_assert_uint_gt(link_stats(v.e.l)->dgrams_dropped_reasm, 0);
	inject_dgram(&v, 2, 1000, 5, 0, "whole", 5);
	ck_assert_uint_eq(v.e.dgrams, 1);
	victim_free(&v);
}
END_TEST

/* Datagrams waiting for their OPEN are bounded per flow and per link. */
START_TEST(test_early_datagrams_bounded)
{
	struct victim v;
	uint8_t d[1200];
	uint64_t id, seq;

	memset(d, 'd', sizeof(d));
	victim_new(&v, 0, 0);
	for (id = 2; id < 2 + 2 * 64; id += 2)
		for (seq = 0; seq < 64; seq++)
			inject_dgram(&v, id, seq, sizeof(d), 0, d, sizeof(d));
	ck_assert_uint_le(link_usage(v.e.l), LINK_EARLY_DGRAM_MAX + 64 * 4096 + (256 << 10));
	ck_assert_uint_gt(link_stats(v.e.l)->dgrams_dropped_queue, 0);
	victim_free(&v);
}
END_TEST

/* A RESET cannot claim more bytes than the window offered: link-level
 * flow control stays sane, and the link keeps carrying data. */
START_TEST(test_reset_final_offset_clamped)
{
	struct victim v;
	uint8_t buf[64], data[1200];
	uint64_t id, off;

	memset(data, 0, sizeof(data));
	victim_new(&v, 0, 0);
	for (id = 2; id < 2 + 2 * 8; id += 2) {
		struct wbuf b = { buf, 0, sizeof(buf) };

		inject_open(&v, id, 1, WIRE_PROTO_TCP);
		ck_assert_int_eq(wire_put_reset(&b, id, RST_ABORTED, VARINT_MAX), 0);
		inject(&v, &b);
	}
	ck_assert_uint_ge(link_stats(v.e.l)->frames_violating, 8);
	inject_open(&v, id, 1, WIRE_PROTO_TCP);
	for (off = 0; off < 200 * sizeof(data); off += sizeof(data)) {
		uint64_t k;

		for (k = 0; k < sizeof(data); k++)
			data[k] = sim_pattern(v.e.r[v.e.n - 1].key, off + k);
		inject_stream(&v, id, off, data, sizeof(data));
	}
	ck_assert_uint_eq(v.e.r[v.e.n - 1].rcvd, 200 * sizeof(data));
	ck_assert(!v.e.r[v.e.n - 1].bad);
	victim_free(&v);
}
END_TEST

/* More than one ACK frame in a packet: only the first is acted on. */
START_TEST(test_extra_ack_frames_ignored)
{
	struct victim v;
	uint8_t buf[256];
	struct wbuf b = { buf, 0, sizeof(buf) };
	struct wire_ack_range r = { 0, 0 };
	int i;

	victim_new(&v, 0, 0);
	link_send_ping(v.e.l);
	ck_assert_int_eq(resets_sent(&v, UINT64_MAX), 0); /* sends the ping: packet 0 */
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(wire_put_ack(&b, 0, &r, 1), 0);
	inject(&v, &b);
	ck_assert_uint_eq(link_stats(v.e.l)->ack_frames_ignored, 4);
	ck_assert_uint_eq(link_stats(v.e.l)->packets_acked, 1);
	victim_free(&v);
}
END_TEST

/* Single bytes at descending offsets make one range of received bytes
 * each, and every insert moved all the others: quadratic CPU, and memory
 * nothing counted.  Past LINK_GAPS_MAX ranges a frame is put off (its
 * packet unacknowledged, so an honest peer resends it), and the flow
 * still delivers every byte once it comes in order. */
START_TEST(test_scattered_bytes_bounded)
{
	struct victim v;
	uint8_t buf[1400], data[1200];
	uint64_t off = LINK_INITIAL_FLOW_WINDOW - 2, k;
	struct rec *t;

	victim_new(&v, 0, 0);
	inject_open(&v, 2, 1, WIRE_PROTO_TCP);
	t = &v.e.r[0];
	while (off > 0) {
		struct wbuf b = { buf, 0, sizeof(buf) };

		while (off > 0 && wire_put_stream(&b, 2, off, 0, (const uint8_t *)"s", 1) == 0 && b.len + 16 < sizeof(buf))
			off -= 2;
		inject(&v, &b);
	}
	ck_assert_uint_gt(link_stats(v.e.l)->frames_deferred_gaps, 100000);
	ck_assert_uint_gt(link_stats(v.e.l)->packets_unacked, 500);
	ck_assert_uint_eq(t->rcvd, 0);
	/* what a peer resends arrives in order and is all delivered */
	for (off = 0; off < LINK_INITIAL_FLOW_WINDOW; off += sizeof(data)) {
		size_t n = (size_t)MIN((uint64_t)sizeof(data), LINK_INITIAL_FLOW_WINDOW - off);

		for (k = 0; k < n; k++)
			data[k] = off + k < LINK_INITIAL_FLOW_WINDOW - 1 && (off + k) % 2 == 0 && off + k > 0
					  ? 's' : sim_pattern(t->key, off + k);
		inject_stream(&v, 2, off, data, n);
	}
	ck_assert_uint_eq(t->rcvd, LINK_INITIAL_FLOW_WINDOW);
	victim_free(&v);
}
END_TEST

/* The same in reassembly: fragments in more pieces than a sender cuts drop
 * the datagram, and their memory goes with it. */
START_TEST(test_scattered_fragments_dropped)
{
	struct victim v;
	uint8_t frag[2000];
	uint64_t off;

	memset(frag, 'f', sizeof(frag));
	victim_new(&v, 0, 0);
	inject_open(&v, 2, 1, WIRE_PROTO_UDP);
	for (off = 65534; off > 2; off -= 2)
		inject_dgram(&v, 2, 7, 65535, (uint32_t)off, frag, 1);
	ck_assert_uint_gt(link_stats(v.e.l)->dgrams_dropped_reasm, 100);
	ck_assert_uint_lt(link_usage(v.e.l), 256 << 10);
	/* a datagram in two honest fragments still arrives */
	inject_dgram(&v, 2, 8, 2000, 0, frag, 1000);
	inject_dgram(&v, 2, 8, 2000, 1000, frag, 1000);
	ck_assert_uint_eq(v.e.dgrams, 1);
	victim_free(&v);
}
END_TEST

/* Partial datagrams of one flow hold at most a quarter of the link's
 * reassembly memory, and none holds it past datagram-max-age: another
 * flow's fragmented datagrams still arrive. */
START_TEST(test_partial_datagrams_do_not_block_others)
{
	struct victim v;
	uint8_t frag[1000];
	uint64_t seq;
	int i;

	memset(frag, 'p', sizeof(frag));
	victim_new(&v, 0, 0);
	inject_open(&v, 2, 1, WIRE_PROTO_UDP);
	inject_open(&v, 4, 2, WIRE_PROTO_UDP);
	for (seq = 0; seq < 16; seq++)
		inject_dgram(&v, 2, seq, 65535, 0, frag, sizeof(frag));
	for (i = 0; i < 100; i++) {
		inject_dgram(&v, 4, (uint64_t)i, 2000, 0, frag, 1000);
		inject_dgram(&v, 4, (uint64_t)i, 2000, 1000, frag, 1000);
	}
	ck_assert_uint_eq(v.e.dgrams, 100);
	/* three more flows fill the link's budget: no room now ... */
	for (i = 0; i < 3; i++) {
		inject_open(&v, 6 + 2 * (uint64_t)i, 3, WIRE_PROTO_UDP);
		for (seq = 0; seq < 4; seq++)
			inject_dgram(&v, 6 + 2 * (uint64_t)i, seq, 65535, 0, frag, sizeof(frag));
	}
	inject_dgram(&v, 4, 500, 65535, 0, frag, sizeof(frag));
	ck_assert_uint_eq(link_stats(v.e.l)->dgrams_expired, 0);
	/* ... until the senders gave the partial ones up: then it is back */
	v.now_us += v.cfg.dgram_max_age_us + 200000;
	inject_dgram(&v, 4, 501, 2000, 0, frag, 1000);
	inject_dgram(&v, 4, 501, 2000, 1000, frag, 1000);
	ck_assert_uint_gt(link_stats(v.e.l)->dgrams_expired, 0);
	ck_assert_uint_eq(v.e.dgrams, 101);
	victim_free(&v);
}
END_TEST

/* More holes among implied ids than the ranges remembered: every late
 * OPEN is either accepted or told with a RESET, never left hanging. */
START_TEST(test_forgotten_implied_ids_refused_not_dropped)
{
	struct victim v;
	uint64_t id;
	int resets;

	victim_new(&v, 0, 0);
	for (id = 4; id <= 4 * 600; id += 4)
		inject_open(&v, id, 1, WIRE_PROTO_TCP);
	ck_assert_int_eq(v.e.n, 600);
	for (id = 2; id < 4 * 600; id += 4)
		inject_open(&v, id, 1, WIRE_PROTO_TCP);
	resets = resets_sent(&v, RST_RESOURCE);
	printf("implied ids: %d of 600 late OPENs accepted, %d refused\n", v.e.n - 600, resets);
	ck_assert_int_eq(v.e.n - 600 + resets, 600);
	victim_free(&v);
}
END_TEST

/* A flow refused with no state kept still counts what the peer sent on
 * it, up to its RESET: the peer's link credit does not shrink for good. */
START_TEST(test_refused_without_state_credits_the_link)
{
	struct victim v;
	uint8_t buf[64];
	uint64_t id, first, sent;

	victim_new(&v, 0, 0);
	/* fill the flows that may wait for an OPEN; the next are refused */
	for (id = 2; id < 2 + 2 * LINK_UNOPENED_MAX; id += 2)
		inject_stream(&v, id, 0, NULL, 0);
	first = id;
	for (; id < first + 2 * 200; id += 2)
		inject_stream(&v, id, 0, NULL, 0);
	ck_assert_uint_ge(link_stats(v.e.l)->flow_ids_refused, 200);
	/* the peer had sent 200000 bytes on each before our RESET reached
	 * it, and counts them against the link window we offer: that window
	 * must move on by as much, or the peer's credit shrinks for good */
	for (id = first; id < first + 2 * 200; id += 2) {
		struct wbuf b = { buf, 0, sizeof(buf) };

		ck_assert_int_eq(wire_put_reset(&b, id, RST_ABORTED, 200000), 0);
		inject(&v, &b);
	}
	sent = 200 * 200000ull;
	ck_assert_uint_ge(link_recv_window_end(v.e.l) - sent, v.cfg.link_window_max / 2);
	victim_free(&v);
}
END_TEST

/* A byte in each of many flows the VM does not read takes a chunk each:
 * the link's receive memory is bounded in chunks, not in the bytes the
 * window counts. */
START_TEST(test_gapped_flows_bounded_in_chunks)
{
	struct victim v;
	uint64_t id;

	victim_new(&v, 0, 0);
	v.cfg.link_window_max = 16 << 20;
	link_free(v.e.l);
	{
		struct link_cb cb = test_cb;

		cb.arg = &v.e;
		v.e.l = link_new(&v.cfg, &cb, &v.pool, v.now_us);
	}
	v.e.noread_net = 1; /* the VM reads nothing */
	for (id = 2; id < 2 + 2 * 3000; id += 2) {
		inject_open(&v, id, 1, WIRE_PROTO_TCP);
		inject_stream(&v, id, 0, "g", 1);
	}
	ck_assert_uint_gt(link_stats(v.e.l)->frames_deferred_memory, 0);
	ck_assert_uint_le(v.pool.in_use, 2 * (16u << 20) / RING_CHUNK + 16);
	victim_free(&v);
}
END_TEST

/* ---- two links over the simulated network --------------------------------- */

struct pair {
	struct sim sim;
	struct end a, b;
	struct chunk_pool pool_a, pool_b;
};

static struct pair *pair_new(const struct sim_path *p, uint64_t seed, uint64_t b_link_window)
{
	struct pair *c = calloc(1, sizeof(*c));
	struct link_config ca, cb;
	struct link_cb cba = test_cb, cbb = test_cb;

	link_config_default(&ca);
	link_config_default(&cb);
	cb.opens_even = 0;
	if (b_link_window)
		cb.link_window_max = b_link_window;
	chunk_pool_init(&c->pool_a, 512 << 20);
	chunk_pool_init(&c->pool_b, 512 << 20);
	cba.arg = &c->a;
	cbb.arg = &c->b;
	c->a.sim = c->b.sim = &c->sim;
	c->sim.now_us = 1000;
	c->a.l = c->sim.a = link_new(&ca, &cba, &c->pool_a, c->sim.now_us);
	c->b.l = c->sim.b = link_new(&cb, &cbb, &c->pool_b, c->sim.now_us);
	sim_chan_init(&c->sim.ab, p, seed);
	sim_chan_init(&c->sim.ba, p, seed * 7 + 1);
	return c;
}

static void pair_free(struct pair *c)
{
	link_free(c->a.l);
	link_free(c->b.l);
	sim_free(&c->sim);
	chunk_pool_destroy(&c->pool_a);
	chunk_pool_destroy(&c->pool_b);
	free(c);
}

/* open_up() - a flow from A in network net sending up bytes */
static struct rec *open_up(struct pair *c, int net, uint16_t port, uint64_t up)
{
	struct netid n = net_n(net);
	struct ipport src = { .family = AF_INET, .port = port };
	struct ipport dst = { .family = AF_INET, .port = 80 };
	struct rec *t = &c->a.r[c->a.n++];

	memset(t, 0, sizeof(*t));
	ck_assert(link_can_open(c->a.l, &n));
	t->lf = link_flow_open(c->a.l, &n, WIRE_PROTO_TCP, WIRE_DST_ADDR, &src, &dst);
	link_flow_set_app(t->lf, t);
	t->key = port + 1000u * (unsigned)net;
	t->net = net;
	t->up = up;
	return t;
}

static void write_rec(struct rec *t)
{
	if (t->lf && t->accepted)
		sim_write_pattern(t->lf, t->key, &t->sent, t->up, &t->shut);
}

static void pair_tick(void *arg)
{
	struct pair *c = arg;
	int i;

	for (i = 0; i < c->a.n; i++)
		write_rec(&c->a.r[i]);
}

static uint64_t net_rcvd(const struct end *e, int net)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < e->n; i++)
		if (e->r[i].net == net)
			sum += e->r[i].rcvd;
	return sum;
}

static int never(void *arg)
{
	return 0;
}

/* A network with eight busy flows and one with a single flow share a
 * rate-limited link: turns go by network, so the single flow gets about
 * half, not a ninth. */
START_TEST(test_networks_share_the_link_equally)
{
	struct sim_path p = { .delay_us = 5000, .rate_bps = 100000000, .queue_us = 50000 };
	struct pair *c = pair_new(&p, 41, 0);
	uint64_t one, many;
	int i;

	for (i = 0; i < 8; i++)
		open_up(c, 1, (uint16_t)(i + 1), 1ull << 40);
	open_up(c, 2, 100, 1ull << 40);
	sim_run(&c->sim, 3000000, never, pair_tick, c);
	one = net_rcvd(&c->b, 2);
	many = net_rcvd(&c->b, 1);
	printf("fair share: network with 1 flow %llu bytes, with 8 flows %llu bytes\n",
	       (unsigned long long)one, (unsigned long long)many);
	ck_assert_uint_gt(one + many, 20000000);
	ck_assert_uint_ge(one * 100, (one + many) * 40);
	for (i = 0; i < c->b.n; i++)
		ck_assert(!c->b.r[i].bad);
	pair_free(c);
}
END_TEST

static int net2_done(void *arg)
{
	struct pair *c = arg;

	return net_rcvd(&c->b, 2) == 8u << 20;
}

/* A network whose VM never reads holds what its flows' windows allow; the
 * link's window grows by what it holds beyond its share, so another
 * network on the link still transfers. */
START_TEST(test_unread_network_does_not_block_another)
{
	struct sim_path p = { .delay_us = 2000 };
	struct pair *c = pair_new(&p, 42, 16 << 20);
	int i;

	c->b.noread_net = 1;
	for (i = 0; i < 80; i++)
		open_up(c, 1, (uint16_t)(i + 1), 1 << 20);
	open_up(c, 2, 100, 8 << 20);
	ck_assert_int_eq(sim_run(&c->sim, 120000000, net2_done, pair_tick, c), 0);
	for (i = 0; i < c->b.n; i++)
		ck_assert(!c->b.r[i].bad);
	pair_free(c);
}
END_TEST

/* Another tenant's link shares the daemon's pool with a hostile one: the
 * honest transfer completes byte-exact while the hostile link is fed
 * every kind of crafted packet, and the pool stays within its limit. */
struct shared {
	struct pair *c;
	struct victim *v;
	uint64_t id;
	int rounds;
};

static void shared_tick(void *arg)
{
	struct shared *s = arg;
	uint8_t data[1200], buf[1400];
	struct wbuf b = { buf, 0, sizeof(buf) };

	pair_tick(s->c);
	if (s->rounds++ % 16)
		return;
	memset(data, 'h', sizeof(data));
	s->v->now_us = s->c->sim.now_us;
	inject_stream(s->v, s->id, 0, data, sizeof(data));
	inject_dgram(s->v, s->id + 2, 0, 65535, 0, data, sizeof(data));
	while (wire_put_stream(&b, s->id + 4, 0, 0, NULL, 0) == 0 && b.len + 16 < sizeof(buf))
		s->id += 2 * (uint64_t)s->v->cfg.max_flows;
	inject(s->v, &b);
	s->id += 6;
}

static int honest_done(void *arg)
{
	struct shared *s = arg;

	return net_rcvd(&s->c->b, 1) == 2u * (4u << 20);
}

START_TEST(test_hostile_link_does_not_hurt_another)
{
	struct sim_path p = { .delay_us = 3000, .loss = 0.01 };
	struct shared s = { 0 };
	struct victim v;
	struct link_cb cb = test_cb;
	int i;

	s.c = pair_new(&p, 43, 0);
	/* the victim takes its buffers from the honest receiver's pool */
	memset(&v, 0, sizeof(v));
	link_config_default(&v.cfg);
	v.cfg.opens_even = 0;
	cb.arg = &v.e;
	v.e.l = link_new(&v.cfg, &cb, &s.c->pool_b, s.c->sim.now_us);
	s.v = &v;
	s.id = 2;
	open_up(s.c, 1, 1, 4 << 20);
	open_up(s.c, 1, 2, 4 << 20);
	ck_assert_int_eq(sim_run(&s.c->sim, 120000000, honest_done, shared_tick, &s), 0);
	for (i = 0; i < s.c->b.n; i++)
		ck_assert(!s.c->b.r[i].bad);
	ck_assert_uint_eq(v.e.dgrams, 0);
	ck_assert_uint_lt(link_usage(v.e.l), 16 << 20);
	ck_assert_uint_le(s.c->pool_b.peak * (uint64_t)RING_CHUNK, 64 << 20);
	link_free(v.e.l);
	pair_free(s.c);
}
END_TEST

/* A peer that never acknowledges cannot make the sent-packet history grow
 * without end: past LINK_SENT_MAX the oldest count as lost. */
START_TEST(test_unacknowledged_history_bounded)
{
	struct sim_path p = { .delay_us = 5000 };
	struct pair *c = pair_new(&p, 44, 0);

	c->sim.ba.p.down_from_us = 0;
	c->sim.ba.p.down_until_us = UINT64_MAX;
	open_up(c, 1, 1, 1 << 20);
	c->a.r[0].accepted = 1; /* write at once: the OPENED never comes back */
	sim_run(&c->sim, 30ull * 3600 * 1000000, never, pair_tick, c);
	ck_assert_uint_gt(link_stats(c->a.l)->packets_forgotten, 0);
	pair_free(c);
}
END_TEST

static Suite *limits_suite(void)
{
	Suite *s = suite_create("link limits");
	TCase *t = tcase_create("hostile peer");
	TCase *f = tcase_create("fairness");

	tcase_set_timeout(t, 300);
	tcase_set_timeout(f, 300);
	tcase_add_test(t, test_far_ahead_flow_ids_make_no_state);
	tcase_add_test(t, test_reordered_opens_all_accepted);
	tcase_add_test(t, test_flow_limits_per_link_and_network);
	tcase_add_test(t, test_stream_then_open_udp_refused);
	tcase_add_test(t, test_datagrams_then_open_tcp_refused);
	tcase_add_test(t, test_early_stream_bytes_bounded);
	tcase_add_test(t, test_unopened_flows_bounded);
	tcase_add_test(t, test_reassembly_bounded);
	tcase_add_test(t, test_early_datagrams_bounded);
	tcase_add_test(t, test_reset_final_offset_clamped);
	tcase_add_test(t, test_extra_ack_frames_ignored);
	tcase_add_test(t, test_scattered_bytes_bounded);
	tcase_add_test(t, test_scattered_fragments_dropped);
	tcase_add_test(t, test_partial_datagrams_do_not_block_others);
	tcase_add_test(t, test_forgotten_implied_ids_refused_not_dropped);
	tcase_add_test(t, test_refused_without_state_credits_the_link);
	tcase_add_test(t, test_gapped_flows_bounded_in_chunks);
	tcase_add_test(f, test_networks_share_the_link_equally);
	tcase_add_test(f, test_unread_network_does_not_block_another);
	tcase_add_test(f, test_hostile_link_does_not_hurt_another);
	tcase_add_test(f, test_unacknowledged_history_bounded);
	suite_add_tcase(s, t);
	suite_add_tcase(s, f);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(limits_suite());
	int failed;

	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
