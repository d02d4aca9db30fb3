/* fuzz_wire.c: the wire codec (src/wire.c) on hostile bytes.
 *
 * The first byte picks what the rest is: an outer header, a link packet
 * (packet number, then frames, as link_recv() reads them) or a run of
 * varints.  Whatever decodes must survive a round trip: encoded again
 * with the real encoder it decodes to the same values, in no more bytes
 * (decoders accept longer varints than the encoders write), and an outer
 * header comes back byte for byte. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "wire.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void outer(const uint8_t *p, size_t len)
{
	struct wire_outer o, o2;
	uint8_t buf[WIRE_OUTER_HS_LEN];
	int n = wire_outer_parse(p, len, &o);

	if (n < 0)
		return;
	CHECK((size_t)n <= len && (n == WIRE_OUTER_DATA_LEN || n == WIRE_OUTER_HS_LEN));
	CHECK(wire_outer_put(buf, &o) == (size_t)n);
	CHECK(memcmp(buf, p, (size_t)n) == 0);
	CHECK(wire_outer_parse(buf, (size_t)n, &o2) == n);
	CHECK(memcmp(&o, &o2, sizeof(o)) == 0);
}

/* encode() - f with the encoder of its type; -1 if it did not fit */
static int encode(struct wbuf *b, const struct wire_frame *f)
{
	switch (f->type) {
	case WF_PADDING:
		if (wbuf_room(b) < 1)
			return -1;
		b->p[b->len++] = WF_PADDING;
		return 0;
	case WF_PING:
		return wire_put_ping(b);
	case WF_ACK:
		return wire_put_ack(b, f->u.ack.delay_us, f->u.ack.ranges, f->u.ack.nranges);
	case WF_OPEN:
		return wire_put_open(b, f->flow, &f->u.open.net, f->u.open.proto, f->u.open.kind,
				     &f->u.open.src, &f->u.open.dst);
	case WF_OPENED:
		return wire_put_opened(b, f->flow);
	case WF_STREAM:
		return wire_put_stream(b, f->flow, f->u.stream.offset, f->u.stream.fin,
				       f->u.stream.data, f->u.stream.len);
	case WF_DATAGRAM:
		return wire_put_dgram(b, f->flow, f->u.dgram.seq, f->u.dgram.total, f->u.dgram.frag,
				      f->u.dgram.data, f->u.dgram.len);
	case WF_WINDOW:
		return wire_put_window(b, f->flow, f->u.window_max);
	case WF_CLOSE:
		return wire_put_close(b, f->flow);
	case WF_RESET:
		return wire_put_reset(b, f->flow, f->u.reset.reason, f->u.reset.final);
	case WF_PATH_CHALLENGE:
	case WF_PATH_RESPONSE:
		return wire_put_path(b, f->type, f->u.path_data);
	case WF_CANDIDATES:
		return wire_put_candidates(b, f->u.cand.method, f->u.cand.addr, f->u.cand.n);
	case WF_RELAY_CONNECT:
	case WF_RELAY_INTRO:
		return wire_put_relay_cand(b, f->type, f->u.cand.key, f->u.cand.channel,
					   f->u.cand.method, f->u.cand.addr, f->u.cand.n);
	case WF_RELAY_OBSERVED:
		return wire_put_relay_observed(b, &f->u.observed);
	case WF_PATH_METHOD:
		return wire_put_path_method(b, f->u.path_method);
	case WF_NETWORK_DELETED:
		return wire_put_network_deleted(b, &f->u.net);
	default:
		abort(); /* the decoder refuses every other type */
	}
}

static int ipport_eq_wire(const struct ipport *a, const struct ipport *b)
{
	size_t alen = a->family == AF_INET6 ? 16 : 4;

	return a->family == b->family && a->port == b->port && memcmp(a->addr, b->addr, alen) == 0;
}

static int cands_eq(const struct wire_frame *a, const struct wire_frame *b)
{
	size_t i;

	if (a->u.cand.n != b->u.cand.n)
		return 0;
	for (i = 0; i < a->u.cand.n; i++)
		if (a->u.cand.method[i] != b->u.cand.method[i] ||
		    !ipport_eq_wire(&a->u.cand.addr[i], &b->u.cand.addr[i]))
			return 0;
	if (a->type == WF_CANDIDATES)
		return 1;
	return a->u.cand.channel == b->u.cand.channel &&
	       memcmp(a->u.cand.key, b->u.cand.key, WIRE_KEY_LEN) == 0;
}

/* same() - the fields each type carries are equal */
static int same(const struct wire_frame *a, const struct wire_frame *b)
{
	if (a->type != b->type || a->flow != b->flow)
		return 0;
	switch (a->type) {
	case WF_ACK:
		return a->u.ack.delay_us == b->u.ack.delay_us && a->u.ack.nranges == b->u.ack.nranges &&
		       memcmp(a->u.ack.ranges, b->u.ack.ranges,
			      a->u.ack.nranges * sizeof(a->u.ack.ranges[0])) == 0;
	case WF_OPEN:
		return netid_eq(&a->u.open.net, &b->u.open.net) && a->u.open.proto == b->u.open.proto &&
		       a->u.open.kind == b->u.open.kind && ipport_eq_wire(&a->u.open.src, &b->u.open.src) &&
		       ipport_eq_wire(&a->u.open.dst, &b->u.open.dst);
	case WF_STREAM:
		return a->u.stream.offset == b->u.stream.offset && a->u.stream.fin == b->u.stream.fin &&
		       a->u.stream.len == b->u.stream.len &&
		       memcmp(a->u.stream.data, b->u.stream.data, a->u.stream.len) == 0;
	case WF_DATAGRAM:
		return a->u.dgram.seq == b->u.dgram.seq && a->u.dgram.total == b->u.dgram.total &&
		       a->u.dgram.frag == b->u.dgram.frag && a->u.dgram.len == b->u.dgram.len &&
		       memcmp(a->u.dgram.data, b->u.dgram.data, a->u.dgram.len) == 0;
	case WF_WINDOW:
		return a->u.window_max == b->u.window_max;
	case WF_RESET:
		return a->u.reset.reason == b->u.reset.reason && a->u.reset.final == b->u.reset.final;
	case WF_PATH_CHALLENGE:
	case WF_PATH_RESPONSE:
		return memcmp(a->u.path_data, b->u.path_data, WIRE_PATH_DATA_LEN) == 0;
	case WF_CANDIDATES:
	case WF_RELAY_CONNECT:
	case WF_RELAY_INTRO:
		return cands_eq(a, b);
	case WF_RELAY_OBSERVED:
		return ipport_eq_wire(&a->u.observed, &b->u.observed);
	case WF_PATH_METHOD:
		return a->u.path_method == b->u.path_method;
	case WF_NETWORK_DELETED:
		return netid_eq(&a->u.net, &b->u.net);
	default:
		return 1;
	}
}

static void packet(const uint8_t *p, size_t len)
{
	const uint8_t *cur = p, *end = p + len;
	static uint8_t buf[65536 + 64];
	struct wire_frame f, g;
	uint64_t pn;
	int n, frames = 0;

	if (wire_get_pn(&cur, end, &pn) < 0)
		return;
	CHECK(pn <= VARINT_MAX && cur <= end);
	while (cur < end && frames++ < 4096) {
		struct wbuf b = { buf, 0, sizeof(buf) };

		n = wire_frame_decode(cur, (size_t)(end - cur), &f);
		if (n < 0)
			return;
		CHECK(n > 0 && n <= end - cur);
		wire_frame_is_ack_eliciting(f.type);
		CHECK(encode(&b, &f) == 0);
		CHECK(b.len <= (size_t)n);
		CHECK(wire_frame_decode(buf, b.len, &g) == (int)b.len);
		CHECK(same(&f, &g));
		if (f.type == WF_RESET)
			wire_reset_reason_str(f.u.reset.reason);
		cur += n;
	}
}

static void varints(const uint8_t *p, size_t len)
{
	const uint8_t *cur = p, *end = p + len;
	uint8_t buf[8];
	uint64_t v, w;

	while (cur < end) {
		const uint8_t *at = cur, *q = buf;
		struct wbuf b = { buf, 0, sizeof(buf) };

		if (varint_get(&cur, end, &v) < 0)
			return;
		CHECK(v <= VARINT_MAX && varint_len(v) <= (size_t)(cur - at));
		CHECK(varint_put(&b, v) == 0 && b.len == varint_len(v));
		CHECK(varint_get(&q, buf + b.len, &w) == 0 && w == v && q == buf + b.len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		outer(data + 1, size - 1);
		break;
	case 1:
		packet(data + 1, size - 1);
		break;
	default:
		varints(data + 1, size - 1);
		break;
	}
	return 0;
}

/* ---- seeds: every header and frame type, from the encoders ------------- */

static void seed_packet(const char *dir, const char *name, int (*put)(struct wbuf *b, void *arg),
			void *arg)
{
	uint8_t buf[2048];
	struct wbuf b = { buf, 1, sizeof(buf) };

	buf[0] = 1;
	if (wire_put_pn(&b, 1234) < 0 || put(&b, arg) < 0)
		abort();
	fuzz_seed(dir, name, buf, b.len);
}

static const struct netid net1 = { { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
				     0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef } };

static struct ipport v4(uint8_t last, uint16_t port)
{
	struct ipport a = { .family = AF_INET, .port = port, .addr = { 10, 0, 2, last } };

	return a;
}

static struct ipport v6(uint16_t port)
{
	struct ipport a = { .family = AF_INET6, .port = port,
			    .addr = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } };

	return a;
}

static int put_ack(struct wbuf *b, void *arg)
{
	struct wire_ack_range r[3] = { { 90, 100 }, { 50, 80 }, { 1, 10 } };

	return wire_put_ack(b, 2500, r, 3);
}

static int put_open(struct wbuf *b, void *arg)
{
	struct ipport s = v4(15, 43210), d = v4(1, 443);

	return wire_put_open(b, 2, &net1, WIRE_PROTO_TCP, WIRE_DST_ADDR, &s, &d);
}

static int put_open6(struct wbuf *b, void *arg)
{
	struct ipport s = v6(5353), d = v6(53);

	return wire_put_open(b, 4, &net1, WIRE_PROTO_UDP, WIRE_DST_DNS, &s, &d);
}

static int put_stream(struct wbuf *b, void *arg)
{
	static const uint8_t data[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";

	return wire_put_stream(b, 2, 70000, 1, data, sizeof(data) - 1);
}

static int put_dgram(struct wbuf *b, void *arg)
{
	static const uint8_t data[32] = { 1, 2, 3 };

	return wire_put_dgram(b, 4, 7, 100, 32, data, sizeof(data));
}

static int put_misc(struct wbuf *b, void *arg)
{
	uint8_t pd[WIRE_PATH_DATA_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	return wire_put_ping(b) | wire_put_opened(b, 3) | wire_put_window(b, 2, 1 << 20) |
	       wire_put_close(b, 4) | wire_put_reset(b, 6, RST_POLICY, 12345) |
	       wire_put_path(b, WF_PATH_CHALLENGE, pd) | wire_put_path(b, WF_PATH_RESPONSE, pd) |
	       wire_put_path_method(b, 1) | wire_put_network_deleted(b, &net1);
}

static int put_cands(struct wbuf *b, void *arg)
{
	uint8_t m[3] = { WIRE_CAND_DIRECT, WIRE_CAND_REFLEXIVE, WIRE_CAND_DIRECT };
	struct ipport a[3] = { v4(1, 6950), v4(2, 6951), v6(6950) };
	uint8_t key[WIRE_KEY_LEN] = { 0xaa, 0xbb };

	return wire_put_candidates(b, m, a, 3) | wire_put_relay_observed(b, &a[1]) |
	       wire_put_relay_cand(b, WF_RELAY_CONNECT, key, 0, m, a, 2) |
	       wire_put_relay_cand(b, WF_RELAY_INTRO, key, 77, m, a, 3);
}

static void seeds(const char *dir)
{
	struct wire_outer o = { .version = WIRE_VERSION, .receiver_id = 0x01020304,
				.sender_id = 0x0a0b0c0d };
	uint8_t buf[64];
	size_t i;

	for (o.type = WIRE_HANDSHAKE; o.type <= WIRE_UNKNOWN; o.type++) {
		buf[0] = 0;
		fuzz_seedf(dir, buf, 1 + wire_outer_put(buf + 1, &o), "outer-%u", o.type);
	}
	seed_packet(dir, "packet-ack", put_ack, NULL);
	seed_packet(dir, "packet-open", put_open, NULL);
	seed_packet(dir, "packet-open6", put_open6, NULL);
	seed_packet(dir, "packet-stream", put_stream, NULL);
	seed_packet(dir, "packet-dgram", put_dgram, NULL);
	seed_packet(dir, "packet-misc", put_misc, NULL);
	seed_packet(dir, "packet-cands", put_cands, NULL);
	{
		static const uint64_t vs[] = { 0, 63, 64, 16383, 16384, 1073741823, 1073741824,
					       VARINT_MAX };
		struct wbuf b = { buf, 1, sizeof(buf) };

		buf[0] = 2;
		for (i = 0; i < sizeof(vs) / sizeof(vs[0]); i++)
			varint_put(&b, vs[i]);
		fuzz_seed(dir, "varints", buf, b.len);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_make_seeds(argc, argv, seeds);
	return 0;
}
