/* test_wire.c: the wire codec, byte by byte.
 *
 * Varints at every length boundary, a round trip of every frame the codec
 * can write with every field checked, encoders that refuse (and leave the
 * packet alone) when one byte is missing, decoders that refuse every
 * truncation and hostile field, and a deterministic fuzz loop.  Inputs are
 * copied into exactly-sized heap buffers so that ASan catches a decoder
 * that reads one byte past its length. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* REQUIRE() - an assertion for hot loops: a passing ck_assert() reports its
 * location to the parent process, which costs a write per call */
#define REQUIRE(c, fmt, ...)                                                   \
	do {                                                                   \
		if (!(c))                                                      \
			ck_abort_msg("Assertion '%s' failed: " fmt, #c, ##__VA_ARGS__); \
	} while (0)

/* ---- helpers -------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* heap_copy() - exactly len bytes on the heap (at least one allocated, so
 * that a zero-length input still has a valid, unreadable end) */
static uint8_t *heap_copy(const uint8_t *p, size_t len)
{
	uint8_t *c = malloc(len ? len : 1);

	REQUIRE(c != NULL, "out of memory");
	if (len)
		memcpy(c, p, len);
	return c;
}

/* decode_exact() - wire_frame_decode() over an exactly-sized copy */
static int decode_exact(const uint8_t *p, size_t len, struct wire_frame *f)
{
	uint8_t *c = heap_copy(p, len);
	int n = wire_frame_decode(c, len, f);

	free(c);
	return n;
}

static void wb_init(struct wbuf *b, uint8_t *p, size_t cap)
{
	b->p = p;
	b->len = 0;
	b->cap = cap;
}

/* builders for hand-made (possibly hostile) frames */
static void pu8(struct wbuf *b, uint8_t v)
{
	ck_assert_uint_lt(b->len, b->cap);
	b->p[b->len++] = v;
}

static void pvar(struct wbuf *b, uint64_t v)
{
	ck_assert_int_eq(varint_put(b, v), 0);
}

static void pmem(struct wbuf *b, const void *d, size_t n)
{
	ck_assert_uint_le(n, wbuf_room(b));
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void pipport(struct wbuf *b, uint8_t fam_byte, size_t alen, uint16_t port)
{
	uint8_t a[16];

	memset(a, 0x5a, sizeof(a));
	pu8(b, fam_byte);
	pmem(b, a, alen);
	pu8(b, (uint8_t)(port >> 8));
	pu8(b, (uint8_t)port);
}

static void ck_ipport(const struct ipport *got, const struct ipport *want)
{
	size_t alen = want->family == AF_INET6 ? 16 : 4;

	ck_assert_uint_eq(got->family, want->family);
	ck_assert_uint_eq(got->port, want->port);
	ck_assert_mem_eq(got->addr, want->addr, alen);
}

/* ---- sample data ---------------------------------------------------- */

static const struct netid net1 = { { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99,
				     0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff } };
static const struct ipport v4src = { .family = AF_INET, .port = 40000, .addr = { 10, 0, 0, 2 } };
static const struct ipport v4dst = { .family = AF_INET, .port = 443, .addr = { 192, 0, 2, 1 } };
static const struct ipport v6src = { .family = AF_INET6,
				     .port = 0,
				     .addr = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 } };
static const struct ipport v6dst = { .family = AF_INET6,
				     .port = 65535,
				     .addr = { 0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9,
					       10, 11, 12 } };
static const uint8_t path_data[WIRE_PATH_DATA_LEN] = { 1, 2, 3, 4, 5, 6, 7, 0xff };

static uint8_t payload[1500];

static void payload_init(void)
{
	size_t i;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 3);
}

/* ACK with one range */
static const struct wire_ack_range ack1[] = { { 100, 200 } };
/* ACK with gaps of exactly one missing packet number (the smallest gap the
 * encoding can express: gap field 0), single-packet ranges, and a last
 * range that ends at packet number 0 */
static const struct wire_ack_range ack_edges[] = {
	{ 1000, 1010 }, /* gap 0: 999 missing */
	{ 990, 998 },   /* gap 0: 989 missing */
	{ 988, 988 },   /* gap 5: 982..987 missing */
	{ 981, 981 },   /* gap 0: 980 missing */
	{ 5, 979 },     /* gap 0: 4 missing */
	{ 0, 3 },
};
/* ACK at the top of the varint space */
static const struct wire_ack_range ack_big[] = {
	{ VARINT_MAX - 10, VARINT_MAX },
	{ 0, VARINT_MAX - 12 },
};
static struct wire_ack_range ack64[WIRE_MAX_ACK_RANGES];

static void ack64_init(void)
{
	uint64_t hi = 1000000;
	size_t i;

	/* varied range lengths and gaps, descending */
	for (i = 0; i < WIRE_MAX_ACK_RANGES; i++) {
		ack64[i].hi = hi;
		ack64[i].lo = hi - (i % 5) * 37;
		hi = ack64[i].lo - 2 - (i % 3) * 1000;
	}
}

static const uint8_t cand_methods[WIRE_MAX_CANDIDATES] = { 1, 2, 1, 2, 1, 2, 1, 2,
							   1, 2, 1, 2, 1, 2, 1, 2 };
static struct ipport cand_addrs[WIRE_MAX_CANDIDATES];

static void cand_init(void)
{
	size_t i;

	for (i = 0; i < WIRE_MAX_CANDIDATES; i++)
		cand_addrs[i] = (i % 3 == 0) ? v6dst : v4dst;
	for (i = 0; i < WIRE_MAX_CANDIDATES; i++) {
		cand_addrs[i].port = (uint16_t)(1000 + i);
		cand_addrs[i].addr[3] = (uint8_t)i;
	}
}

static void samples_init(void)
{
	payload_init();
	ack64_init();
	cand_init();
}

/* Every frame the codec can write, one sample each. */
enum sample {
	S_PING,
	S_ACK1,
	S_ACK_EDGES,
	S_ACK_BIG,
	S_ACK64,
	S_OPEN_V4_ADDR,
	S_OPEN_V6_DNS,
	S_OPEN_V4_GATEWAY,
	S_OPEN_V6_ADDR_BIGFLOW,
	S_OPENED,
	S_STREAM,
	S_STREAM_FIN,
	S_STREAM_EMPTY_FIN,
	S_STREAM_BIG_OFFSET,
	S_DGRAM,
	S_DGRAM_LAST_FRAG,
	S_DGRAM_WHOLE,
	S_WINDOW_FLOW0,
	S_WINDOW,
	S_CLOSE,
	S_RESET,
	S_RESET_UNKNOWN_REASON,
	S_PATH_CHALLENGE,
	S_PATH_RESPONSE,
	S_CAND0,
	S_CAND1,
	S_CAND16,
	S_NETWORK_DELETED,
	S_RELAY_OBSERVED,
	S_RELAY_CONNECT,
	S_RELAY_INTRO,
	S_PATH_METHOD,
	S_MAX
};

static const uint8_t relay_key[WIRE_KEY_LEN] = {
	0x2c, 0xb1, 0x26, 0xc8, 0x54, 0x61, 0x6c, 0x3b, 0x59, 0x92, 0x71, 0x1e, 0x86, 0x88, 0xdc, 0x38,
	0x71, 0x34, 0xbf, 0x34, 0xbd, 0xbc, 0x95, 0x63, 0xed, 0x24, 0x98, 0xb6, 0x5b, 0x7e, 0xae, 0xda,
};

static int put_sample(int k, struct wbuf *b)
{
	switch (k) {
	case S_PING:
		return wire_put_ping(b);
	case S_ACK1:
		return wire_put_ack(b, 25, ack1, ARRAY_SIZE(ack1));
	case S_ACK_EDGES:
		return wire_put_ack(b, 16383, ack_edges, ARRAY_SIZE(ack_edges));
	case S_ACK_BIG:
		return wire_put_ack(b, VARINT_MAX, ack_big, ARRAY_SIZE(ack_big));
	case S_ACK64:
		return wire_put_ack(b, 0, ack64, ARRAY_SIZE(ack64));
	case S_OPEN_V4_ADDR:
		return wire_put_open(b, 7, &net1, WIRE_PROTO_TCP, WIRE_DST_ADDR, &v4src, &v4dst);
	case S_OPEN_V6_DNS:
		return wire_put_open(b, 64, &net1, WIRE_PROTO_UDP, WIRE_DST_DNS, &v6src, &v6dst);
	case S_OPEN_V4_GATEWAY:
		return wire_put_open(b, 16384, &net1, WIRE_PROTO_TCP, WIRE_DST_GATEWAY, &v4src,
				     &v4dst);
	case S_OPEN_V6_ADDR_BIGFLOW:
		return wire_put_open(b, VARINT_MAX, &net1, WIRE_PROTO_TCP, WIRE_DST_ADDR, &v6src,
				     &v6dst);
	case S_OPENED:
		return wire_put_opened(b, 1073741823);
	case S_STREAM:
		return wire_put_stream(b, 3, 70000, 0, payload, 1200);
	case S_STREAM_FIN:
		return wire_put_stream(b, 3, 0, 1, payload, 63);
	case S_STREAM_EMPTY_FIN:
		return wire_put_stream(b, 9, 123456, 1, payload, 0);
	case S_STREAM_BIG_OFFSET:
		return wire_put_stream(b, 1ULL << 30, VARINT_MAX - 5, 0, payload, 5);
	case S_DGRAM:
		return wire_put_dgram(b, 5, 77, 3000, 1400, payload + 100, 1400);
	case S_DGRAM_LAST_FRAG:
		return wire_put_dgram(b, 5, 77, 3000, 2800, payload, 200);
	case S_DGRAM_WHOLE:
		return wire_put_dgram(b, 0, 0, 300, 0, payload, 300);
	case S_WINDOW_FLOW0:
		return wire_put_window(b, 0, 1ULL << 40);
	case S_WINDOW:
		return wire_put_window(b, 4242, 65536);
	case S_CLOSE:
		return wire_put_close(b, 16383);
	case S_RESET:
		return wire_put_reset(b, 11, RST_POLICY, 987654321);
	case S_RESET_UNKNOWN_REASON:
		return wire_put_reset(b, 12, 1000, 0);
	case S_PATH_CHALLENGE:
		return wire_put_path(b, WF_PATH_CHALLENGE, path_data);
	case S_PATH_RESPONSE:
		return wire_put_path(b, WF_PATH_RESPONSE, path_data);
	case S_CAND0:
		return wire_put_candidates(b, cand_methods, cand_addrs, 0);
	case S_CAND1:
		return wire_put_candidates(b, cand_methods + 1, cand_addrs + 1, 1);
	case S_CAND16:
		return wire_put_candidates(b, cand_methods, cand_addrs, WIRE_MAX_CANDIDATES);
	case S_NETWORK_DELETED:
		return wire_put_network_deleted(b, &net1);
	case S_RELAY_OBSERVED:
		return wire_put_relay_observed(b, &cand_addrs[2]);
	case S_RELAY_CONNECT:
		return wire_put_relay_cand(b, WF_RELAY_CONNECT, relay_key, 0, cand_methods,
					   cand_addrs, 3);
	case S_PATH_METHOD:
		return wire_put_path_method(b, 1);
	case S_RELAY_INTRO:
		return wire_put_relay_cand(b, WF_RELAY_INTRO, relay_key, 0xdeadbeef, cand_methods,
					   cand_addrs, WIRE_MAX_CANDIDATES);
	}
	ck_abort_msg("no sample %d", k);
	return -1;
}

static void ck_ack(const struct wire_frame *f, uint64_t delay, const struct wire_ack_range *r,
		   size_t n)
{
	size_t i;

	ck_assert_uint_eq(f->type, WF_ACK);
	ck_assert_uint_eq(f->u.ack.delay_us, delay);
	ck_assert_uint_eq(f->u.ack.nranges, n);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(f->u.ack.ranges[i].lo, r[i].lo);
		ck_assert_uint_eq(f->u.ack.ranges[i].hi, r[i].hi);
	}
}

static void ck_open(const struct wire_frame *f, uint64_t flow, uint8_t proto, uint8_t kind,
		    const struct ipport *src, const struct ipport *dst)
{
	ck_assert_uint_eq(f->type, WF_OPEN);
	ck_assert_uint_eq(f->flow, flow);
	ck_assert_mem_eq(f->u.open.net.b, net1.b, NETID_LEN);
	ck_assert_uint_eq(f->u.open.proto, proto);
	ck_assert_uint_eq(f->u.open.kind, kind);
	ck_ipport(&f->u.open.src, src);
	ck_ipport(&f->u.open.dst, dst);
}

/* ck_stream() - fields, and data pointing at the payload inside the frame */
static void ck_stream(const struct wire_frame *f, const uint8_t *frame, int n, uint64_t flow,
		      uint64_t off, int fin, const uint8_t *data, size_t len)
{
	ck_assert_uint_eq(f->type, WF_STREAM);
	ck_assert_uint_eq(f->flow, flow);
	ck_assert_uint_eq(f->u.stream.offset, off);
	ck_assert_uint_eq(f->u.stream.fin, fin);
	ck_assert_uint_eq(f->u.stream.len, len);
	ck_assert_ptr_eq(f->u.stream.data, frame + n - len);
	if (len)
		ck_assert_mem_eq(f->u.stream.data, data, len);
}

static void ck_dgram(const struct wire_frame *f, const uint8_t *frame, int n, uint64_t flow,
		     uint64_t seq, uint32_t total, uint32_t frag, const uint8_t *data, size_t len)
{
	ck_assert_uint_eq(f->type, WF_DATAGRAM);
	ck_assert_uint_eq(f->flow, flow);
	ck_assert_uint_eq(f->u.dgram.seq, seq);
	ck_assert_uint_eq(f->u.dgram.total, total);
	ck_assert_uint_eq(f->u.dgram.frag, frag);
	ck_assert_uint_eq(f->u.dgram.len, len);
	ck_assert_ptr_eq(f->u.dgram.data, frame + n - len);
	ck_assert_mem_eq(f->u.dgram.data, data, len);
}

static void ck_cand(const struct wire_frame *f, const uint8_t *method, const struct ipport *addr,
		    size_t n)
{
	size_t i;

	ck_assert_uint_eq(f->type, WF_CANDIDATES);
	ck_assert_uint_eq(f->u.cand.n, n);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(f->u.cand.method[i], method[i]);
		ck_ipport(&f->u.cand.addr[i], &addr[i]);
	}
}

static void ck_relay_cand(const struct wire_frame *f, uint8_t type, uint32_t channel, size_t n)
{
	size_t i;

	ck_assert_uint_eq(f->type, type);
	ck_assert_mem_eq(f->u.cand.key, relay_key, WIRE_KEY_LEN);
	ck_assert_uint_eq(f->u.cand.channel, channel);
	ck_assert_uint_eq(f->u.cand.n, n);
	for (i = 0; i < n; i++) {
		ck_assert_uint_eq(f->u.cand.method[i], cand_methods[i]);
		ck_ipport(&f->u.cand.addr[i], &cand_addrs[i]);
	}
}

/* check_sample() - every decoded field of sample k; frame/n: the bytes */
static void check_sample(int k, const struct wire_frame *f, const uint8_t *frame, int n)
{
	switch (k) {
	case S_PING:
		ck_assert_uint_eq(f->type, WF_PING);
		ck_assert_int_eq(n, 1);
		return;
	case S_ACK1:
		ck_ack(f, 25, ack1, ARRAY_SIZE(ack1));
		return;
	case S_ACK_EDGES:
		ck_ack(f, 16383, ack_edges, ARRAY_SIZE(ack_edges));
		return;
	case S_ACK_BIG:
		ck_ack(f, VARINT_MAX, ack_big, ARRAY_SIZE(ack_big));
		return;
	case S_ACK64:
		ck_ack(f, 0, ack64, ARRAY_SIZE(ack64));
		return;
	case S_OPEN_V4_ADDR:
		ck_open(f, 7, WIRE_PROTO_TCP, WIRE_DST_ADDR, &v4src, &v4dst);
		return;
	case S_OPEN_V6_DNS:
		ck_open(f, 64, WIRE_PROTO_UDP, WIRE_DST_DNS, &v6src, &v6dst);
		return;
	case S_OPEN_V4_GATEWAY:
		ck_open(f, 16384, WIRE_PROTO_TCP, WIRE_DST_GATEWAY, &v4src, &v4dst);
		return;
	case S_OPEN_V6_ADDR_BIGFLOW:
		ck_open(f, VARINT_MAX, WIRE_PROTO_TCP, WIRE_DST_ADDR, &v6src, &v6dst);
		return;
	case S_OPENED:
		ck_assert_uint_eq(f->type, WF_OPENED);
		ck_assert_uint_eq(f->flow, 1073741823);
		return;
	case S_STREAM:
		ck_stream(f, frame, n, 3, 70000, 0, payload, 1200);
		return;
	case S_STREAM_FIN:
		ck_stream(f, frame, n, 3, 0, 1, payload, 63);
		return;
	case S_STREAM_EMPTY_FIN:
		ck_stream(f, frame, n, 9, 123456, 1, payload, 0);
		return;
	case S_STREAM_BIG_OFFSET:
		ck_stream(f, frame, n, 1ULL << 30, VARINT_MAX - 5, 0, payload, 5);
		return;
	case S_DGRAM:
		ck_dgram(f, frame, n, 5, 77, 3000, 1400, payload + 100, 1400);
		return;
	case S_DGRAM_LAST_FRAG:
		ck_dgram(f, frame, n, 5, 77, 3000, 2800, payload, 200);
		return;
	case S_DGRAM_WHOLE:
		ck_dgram(f, frame, n, 0, 0, 300, 0, payload, 300);
		return;
	case S_WINDOW_FLOW0:
		ck_assert_uint_eq(f->type, WF_WINDOW);
		ck_assert_uint_eq(f->flow, 0);
		ck_assert_uint_eq(f->u.window_max, 1ULL << 40);
		return;
	case S_WINDOW:
		ck_assert_uint_eq(f->type, WF_WINDOW);
		ck_assert_uint_eq(f->flow, 4242);
		ck_assert_uint_eq(f->u.window_max, 65536);
		return;
	case S_CLOSE:
		ck_assert_uint_eq(f->type, WF_CLOSE);
		ck_assert_uint_eq(f->flow, 16383);
		return;
	case S_RESET:
		ck_assert_uint_eq(f->type, WF_RESET);
		ck_assert_uint_eq(f->flow, 11);
		ck_assert_uint_eq(f->u.reset.reason, RST_POLICY);
		ck_assert_uint_eq(f->u.reset.final, 987654321);
		return;
	case S_RESET_UNKNOWN_REASON:
		ck_assert_uint_eq(f->type, WF_RESET);
		ck_assert_uint_eq(f->flow, 12);
		ck_assert_uint_eq(f->u.reset.reason, 1000);
		ck_assert_uint_eq(f->u.reset.final, 0);
		return;
	case S_PATH_CHALLENGE:
	case S_PATH_RESPONSE:
		ck_assert_uint_eq(f->type,
				  k == S_PATH_CHALLENGE ? WF_PATH_CHALLENGE : WF_PATH_RESPONSE);
		ck_assert_mem_eq(f->u.path_data, path_data, WIRE_PATH_DATA_LEN);
		ck_assert_int_eq(n, 1 + WIRE_PATH_DATA_LEN);
		return;
	case S_CAND0:
		ck_cand(f, cand_methods, cand_addrs, 0);
		ck_assert_int_eq(n, 2);
		return;
	case S_CAND1:
		ck_cand(f, cand_methods + 1, cand_addrs + 1, 1);
		return;
	case S_CAND16:
		ck_cand(f, cand_methods, cand_addrs, WIRE_MAX_CANDIDATES);
		return;
	case S_NETWORK_DELETED:
		ck_assert_uint_eq(f->type, WF_NETWORK_DELETED);
		ck_assert_mem_eq(f->u.net.b, net1.b, NETID_LEN);
		ck_assert_int_eq(n, 1 + NETID_LEN);
		return;
	case S_RELAY_OBSERVED:
		ck_assert_uint_eq(f->type, WF_RELAY_OBSERVED);
		ck_ipport(&f->u.observed, &cand_addrs[2]);
		return;
	case S_RELAY_CONNECT:
		ck_relay_cand(f, WF_RELAY_CONNECT, 0, 3);
		return;
	case S_RELAY_INTRO:
		ck_relay_cand(f, WF_RELAY_INTRO, 0xdeadbeef, WIRE_MAX_CANDIDATES);
		return;
	case S_PATH_METHOD:
		ck_assert_uint_eq(f->type, WF_PATH_METHOD);
		ck_assert_uint_eq(f->u.path_method, 1);
		ck_assert_int_eq(n, 2);
		return;
	}
	ck_abort_msg("no sample %d", k);
}

/* encode_sample() - sample k into buf (4096 bytes); its length */
static size_t encode_sample(int k, uint8_t *buf)
{
	struct wbuf b;

	wb_init(&b, buf, 4096);
	ck_assert_msg(put_sample(k, &b) == 0, "sample %d did not encode", k);
	ck_assert_uint_gt(b.len, 0);
	return b.len;
}

/* ---- varints -------------------------------------------------------- */

static const struct {
	uint64_t v;
	size_t len;
} varint_bounds[] = {
	{ 0, 1 },
	{ 1, 1 },
	{ 63, 1 },
	{ 64, 2 },
	{ 16383, 2 },
	{ 16384, 4 },
	{ (1ULL << 30) - 1, 4 },
	{ 1ULL << 30, 8 },
	{ (1ULL << 62) - 1, 8 },
};

/* varint_boundary_round_trip() - varint_bounds[idx]: length, prefix bits, value, and back */
static void varint_boundary_round_trip(int idx)
{
	uint64_t v = varint_bounds[idx].v, got = 12345;
	size_t n = varint_bounds[idx].len, i;
	uint8_t buf[9], *c;
	const uint8_t *p;
	struct wbuf b;
	uint64_t x;

	ck_assert_uint_eq(varint_len(v), n);
	memset(buf, 0xee, sizeof(buf));
	wb_init(&b, buf, sizeof(buf));
	ck_assert_int_eq(varint_put(&b, v), 0);
	ck_assert_uint_eq(b.len, n);
	ck_assert_uint_eq(buf[n], 0xee); /* nothing past the varint */
	/* two high bits: log2 of the length; the rest big-endian */
	ck_assert_uint_eq(buf[0] >> 6, n == 1 ? 0 : n == 2 ? 1 : n == 4 ? 2 : 3);
	x = buf[0] & 0x3f;
	for (i = 1; i < n; i++)
		x = x << 8 | buf[i];
	ck_assert_uint_eq(x, v);

	c = heap_copy(buf, n);
	p = c;
	ck_assert_int_eq(varint_get(&p, c + n, &got), 0);
	ck_assert_uint_eq(got, v);
	ck_assert_ptr_eq(p, c + n);
	free(c);
}

START_TEST(test_varint_boundaries_round_trip_with_right_length)
{
	int idx;

	for (idx = 0; idx < (int)ARRAY_SIZE(varint_bounds); idx++)
		varint_boundary_round_trip(idx);
}
END_TEST

/* varint_put_short_room() - varint_bounds[idx] with one byte of room too few */
static void varint_put_short_room(int idx)
{
	uint64_t v = varint_bounds[idx].v;
	size_t n = varint_bounds[idx].len;
	uint8_t *buf = malloc(n); /* exactly n bytes: any write past them is caught */
	struct wbuf b;

	ck_assert_ptr_nonnull(buf);
	memset(buf, 0xee, n);
	wb_init(&b, buf, n);
	b.len = 1;
	ck_assert_int_eq(varint_put(&b, v), -1);
	ck_assert_uint_eq(b.len, 1);
	ck_assert_uint_eq(buf[0], 0xee);
	wb_init(&b, buf, n);
	b.cap = n - 1;
	ck_assert_int_eq(varint_put(&b, v), -1);
	ck_assert_uint_eq(b.len, 0);
	free(buf);
}

START_TEST(test_varint_put_needs_room_for_whole_integer)
{
	int idx;

	for (idx = 0; idx < (int)ARRAY_SIZE(varint_bounds); idx++)
		varint_put_short_room(idx);
}
END_TEST

/* varint_get_truncated() - every strict prefix of varint_bounds[idx] */
static void varint_get_truncated(int idx)
{
	uint64_t v = varint_bounds[idx].v, got = 777;
	size_t n = varint_bounds[idx].len, k;
	uint8_t buf[8];
	struct wbuf b;

	wb_init(&b, buf, sizeof(buf));
	ck_assert_int_eq(varint_put(&b, v), 0);
	for (k = 0; k < n; k++) {
		uint8_t *c = heap_copy(buf, k);
		const uint8_t *p = c;

		ck_assert_int_eq(varint_get(&p, c + k, &got), -1);
		ck_assert_ptr_eq(p, c); /* cursor untouched */
		ck_assert_uint_eq(got, 777);
		free(c);
	}
}

START_TEST(test_varint_get_refuses_truncated_integer)
{
	int idx;

	for (idx = 0; idx < (int)ARRAY_SIZE(varint_bounds); idx++)
		varint_get_truncated(idx);
}
END_TEST

START_TEST(test_varint_rejects_2_pow_62_and_above)
{
	uint8_t buf[16];
	struct wbuf b;

	memset(buf, 0xee, sizeof(buf));
	wb_init(&b, buf, sizeof(buf));
	ck_assert_int_eq(varint_put(&b, 1ULL << 62), -1);
	ck_assert_int_eq(varint_put(&b, UINT64_MAX), -1);
	ck_assert_int_eq(varint_put(&b, (1ULL << 63) | 5), -1);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(buf[0], 0xee);
	ck_assert_uint_eq(VARINT_MAX, (1ULL << 62) - 1);
}
END_TEST

/* RFC 9000 appendix A.1 sample encodings */
START_TEST(test_varint_matches_rfc9000_examples)
{
	static const struct {
		uint8_t b[8];
		size_t n;
		uint64_t v;
	} ex[] = {
		{ { 0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c }, 8, 151288809941952652ULL },
		{ { 0x9d, 0x7f, 0x3e, 0x7d }, 4, 494878333 },
		{ { 0x7b, 0xbd }, 2, 15293 },
		{ { 0x25 }, 1, 37 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ex); i++) {
		uint8_t buf[8];
		struct wbuf b;
		const uint8_t *p = ex[i].b;
		uint64_t v;

		wb_init(&b, buf, sizeof(buf));
		ck_assert_int_eq(varint_put(&b, ex[i].v), 0);
		ck_assert_uint_eq(b.len, ex[i].n);
		ck_assert_mem_eq(buf, ex[i].b, ex[i].n);
		ck_assert_int_eq(varint_get(&p, ex[i].b + ex[i].n, &v), 0);
		ck_assert_uint_eq(v, ex[i].v);
	}
}
END_TEST

START_TEST(test_varint_decodes_non_minimal_encoding)
{
	/* RFC 9000 16: 37 in two bytes is valid (only frame types must be minimal) */
	static const uint8_t two[] = { 0x40, 0x25 };
	static const uint8_t eight[] = { 0xc0, 0, 0, 0, 0, 0, 0, 0x25 };
	const uint8_t *p = two;
	uint64_t v;

	ck_assert_int_eq(varint_get(&p, two + 2, &v), 0);
	ck_assert_uint_eq(v, 37);
	ck_assert_ptr_eq(p, two + 2);
	p = eight;
	ck_assert_int_eq(varint_get(&p, eight + 8, &v), 0);
	ck_assert_uint_eq(v, 37);
	ck_assert_ptr_eq(p, eight + 8);
}
END_TEST

START_TEST(test_packet_number_round_trips)
{
	static const uint64_t pns[] = { 0, 63, 64, 1ULL << 20, VARINT_MAX };
	uint8_t buf[64];
	struct wbuf b;
	const uint8_t *p = buf;
	size_t i;
	uint64_t pn;

	wb_init(&b, buf, sizeof(buf));
	for (i = 0; i < ARRAY_SIZE(pns); i++)
		ck_assert_int_eq(wire_put_pn(&b, pns[i]), 0);
	ck_assert_uint_eq(b.len, 1 + 1 + 2 + 4 + 8);
	for (i = 0; i < ARRAY_SIZE(pns); i++) {
		ck_assert_int_eq(wire_get_pn(&p, buf + b.len, &pn), 0);
		ck_assert_uint_eq(pn, pns[i]);
	}
	ck_assert_ptr_eq(p, buf + b.len);
	ck_assert_int_eq(wire_get_pn(&p, buf + b.len, &pn), -1);
	ck_assert_int_eq(wire_put_pn(&b, 1ULL << 62), -1);
}
END_TEST

/* ---- outer header --------------------------------------------------- */

START_TEST(test_outer_handshake_is_12_bytes_and_round_trips)
{
	struct wire_outer o = { .type = WIRE_HANDSHAKE,
				.flags = 0xa55a,
				.receiver_id = 0x01020304,
				.sender_id = 0xfffefdfc },
			  g;
	static const uint8_t want[] = { 1, 1, 0xa5, 0x5a, 1, 2, 3, 4, 0xff, 0xfe, 0xfd, 0xfc };
	uint8_t buf[16], *c;

	memset(buf, 0xee, sizeof(buf));
	ck_assert_uint_eq(wire_outer_put(buf, &o), WIRE_OUTER_HS_LEN);
	ck_assert_uint_eq(WIRE_OUTER_HS_LEN, 12);
	ck_assert_mem_eq(buf, want, sizeof(want));
	ck_assert_uint_eq(buf[12], 0xee);
	c = heap_copy(buf, 12);
	memset(&g, 0x77, sizeof(g));
	ck_assert_int_eq(wire_outer_parse(c, 12, &g), 12);
	ck_assert_uint_eq(g.version, WIRE_VERSION);
	ck_assert_uint_eq(g.type, WIRE_HANDSHAKE);
	ck_assert_uint_eq(g.flags, 0xa55a);
	ck_assert_uint_eq(g.receiver_id, 0x01020304);
	ck_assert_uint_eq(g.sender_id, 0xfffefdfc);
	free(c);
	/* DTLS records follow: more input, same header length */
	ck_assert_int_eq(wire_outer_parse(buf, sizeof(buf), &g), 12);
}
END_TEST

/* outer_short_round_trip() - an 8-byte outer header of the idx-th short type */
static void outer_short_round_trip(int idx)
{
	static const uint8_t types[] = { WIRE_DATA, WIRE_RELAY, WIRE_UNKNOWN, WIRE_SEALED };
	uint8_t t = types[idx];
	struct wire_outer o = { .type = t,
				.flags = 0x0102,
				.receiver_id = 0xdeadbeef,
				.sender_id = 0x11111111 },
			  g;
	uint8_t buf[16], *c;

	memset(buf, 0xee, sizeof(buf));
	ck_assert_uint_eq(wire_outer_put(buf, &o), WIRE_OUTER_DATA_LEN);
	ck_assert_uint_eq(WIRE_OUTER_DATA_LEN, 8);
	ck_assert_uint_eq(buf[0], WIRE_VERSION);
	ck_assert_uint_eq(buf[1], t);
	ck_assert_uint_eq(buf[8], 0xee); /* sender id not written */
	c = heap_copy(buf, 8);
	memset(&g, 0x77, sizeof(g));
	ck_assert_int_eq(wire_outer_parse(c, 8, &g), 8);
	ck_assert_uint_eq(g.version, WIRE_VERSION);
	ck_assert_uint_eq(g.type, t);
	ck_assert_uint_eq(g.flags, 0x0102);
	ck_assert_uint_eq(g.receiver_id, 0xdeadbeef);
	ck_assert_uint_eq(g.sender_id, 0);
	free(c);
}

START_TEST(test_outer_data_relay_unknown_are_8_bytes_and_round_trip)
{
	int idx;

	for (idx = 0; idx < 3; idx++)
		outer_short_round_trip(idx);
}
END_TEST

START_TEST(test_outer_rejects_wrong_version_unknown_type_short_input)
{
	struct wire_outer o = { .type = WIRE_HANDSHAKE, .receiver_id = 1, .sender_id = 2 }, g;
	uint8_t hs[12], data[8], bad[12];
	size_t k;

	wire_outer_put(hs, &o);
	o.type = WIRE_DATA;
	wire_outer_put(data, &o);
	/* every short prefix */
	for (k = 0; k < 12; k++) {
		uint8_t *c = heap_copy(hs, k);

		ck_assert_int_eq(wire_outer_parse(c, k, &g), -1);
		free(c);
	}
	for (k = 0; k < 8; k++) {
		uint8_t *c = heap_copy(data, k);

		ck_assert_int_eq(wire_outer_parse(c, k, &g), -1);
		free(c);
	}
	/* wrong version */
	memcpy(bad, hs, 12);
	bad[0] = 0;
	ck_assert_int_eq(wire_outer_parse(bad, 12, &g), -1);
	bad[0] = 2;
	ck_assert_int_eq(wire_outer_parse(bad, 12, &g), -1);
	bad[0] = 0xff;
	ck_assert_int_eq(wire_outer_parse(bad, 12, &g), -1);
	/* unknown type */
	memcpy(bad, data, 8);
	bad[1] = 0;
	ck_assert_int_eq(wire_outer_parse(bad, 8, &g), -1);
	bad[1] = 6;
	ck_assert_int_eq(wire_outer_parse(bad, 8, &g), -1);
	bad[1] = 0xff;
	ck_assert_int_eq(wire_outer_parse(bad, 8, &g), -1);
}
END_TEST

/* ---- frame round trips ---------------------------------------------- */

/* sample_round_trip() - encode sample idx, decode it, check every field */
static void sample_round_trip(int idx)
{
	uint8_t buf[4096], *c;
	struct wire_frame f;
	size_t len;
	int n;

	samples_init();
	len = encode_sample(idx, buf);
	c = heap_copy(buf, len);
	memset(&f, 0xa5, sizeof(f));
	n = wire_frame_decode(c, len, &f);
	ck_assert_msg(n == (int)len, "sample %d: decoded %d of %zu bytes", idx, n, len);
	check_sample(idx, &f, c, n);
	free(c);
}

START_TEST(test_every_frame_round_trips_with_all_fields)
{
	int idx;

	for (idx = 0; idx < S_MAX; idx++)
		sample_round_trip(idx);
}
END_TEST

/* sample_decode_stops_at_end() - sample idx followed by another frame */
static void sample_decode_stops_at_end(int idx)
{
	uint8_t buf[4096];
	struct wire_frame f;
	size_t len;

	samples_init();
	len = encode_sample(idx, buf);
	/* a second frame follows: the first decode consumes only its own bytes */
	buf[len] = WF_PING;
	memset(buf + len + 1, 0, 8);
	ck_assert_int_eq(decode_exact(buf, len + 9, &f), (int)len);
	ck_assert_int_eq(wire_frame_decode(buf + len, 9, &f), 1);
	ck_assert_uint_eq(f.type, WF_PING);
}

START_TEST(test_frame_decode_stops_at_frame_end)
{
	int idx;

	for (idx = 0; idx < S_MAX; idx++)
		sample_decode_stops_at_end(idx);
}
END_TEST

START_TEST(test_frames_concatenate_in_one_packet)
{
	uint8_t buf[8192];
	struct wbuf b;
	struct wire_frame f;
	size_t off = 0;
	int k, n;

	samples_init();
	wb_init(&b, buf, sizeof(buf));
	ck_assert_int_eq(wire_put_pn(&b, 4711), 0);
	for (k = 0; k < S_MAX; k++)
		ck_assert_int_eq(put_sample(k, &b), 0);
	{
		const uint8_t *p = buf;
		uint64_t pn;

		ck_assert_int_eq(wire_get_pn(&p, buf + b.len, &pn), 0);
		ck_assert_uint_eq(pn, 4711);
		off = (size_t)(p - buf);
	}
	for (k = 0; k < S_MAX; k++) {
		n = wire_frame_decode(buf + off, b.len - off, &f);
		ck_assert_int_gt(n, 0);
		check_sample(k, &f, buf + off, n);
		off += (size_t)n;
	}
	ck_assert_uint_eq(off, b.len);
}
END_TEST

START_TEST(test_padding_is_one_byte_frame)
{
	static const uint8_t pad[] = { 0, 0, 0 };
	struct wire_frame f;

	ck_assert_int_eq(decode_exact(pad, 3, &f), 1);
	ck_assert_uint_eq(f.type, WF_PADDING);
	ck_assert_int_eq(decode_exact(pad, 1, &f), 1);
	ck_assert_int_eq(decode_exact(pad, 0, &f), -1);
}
END_TEST

START_TEST(test_ack_rejects_bad_range_lists_on_encode)
{
	static const struct wire_ack_range adjacent[] = { { 10, 20 }, { 5, 9 } };
	static const struct wire_ack_range overlap[] = { { 10, 20 }, { 5, 12 } };
	static const struct wire_ack_range ascending[] = { { 5, 9 }, { 11, 20 } };
	static const struct wire_ack_range inverted[] = { { 20, 10 } };
	static const struct wire_ack_range too_big[] = { { 0, 1ULL << 62 } };
	struct wire_ack_range many[WIRE_MAX_ACK_RANGES + 1];
	uint8_t buf[2048];
	struct wbuf b;
	size_t i;

	wb_init(&b, buf, sizeof(buf));
	b.len = 3;
	ck_assert_int_eq(wire_put_ack(&b, 0, ack1, 0), -1);
	/* adjacent ranges cannot be expressed (gap would be -1) */
	ck_assert_int_eq(wire_put_ack(&b, 0, adjacent, 2), -1);
	ck_assert_int_eq(wire_put_ack(&b, 0, overlap, 2), -1);
	ck_assert_int_eq(wire_put_ack(&b, 0, ascending, 2), -1);
	ck_assert_int_eq(wire_put_ack(&b, 0, inverted, 1), -1);
	ck_assert_int_eq(wire_put_ack(&b, 0, too_big, 1), -1);
	ck_assert_int_eq(wire_put_ack(&b, 1ULL << 62, ack1, 1), -1);
	for (i = 0; i < ARRAY_SIZE(many); i++) {
		many[i].hi = 10000 - i * 10;
		many[i].lo = many[i].hi - 3;
	}
	ck_assert_int_eq(wire_put_ack(&b, 0, many, WIRE_MAX_ACK_RANGES + 1), -1);
	ck_assert_uint_eq(b.len, 3);
	/* exactly the maximum is fine */
	ck_assert_int_eq(wire_put_ack(&b, 0, many, WIRE_MAX_ACK_RANGES), 0);
	ck_assert_uint_gt(b.len, 3);
}
END_TEST

START_TEST(test_ack_single_packet_at_zero)
{
	static const struct wire_ack_range zero[] = { { 0, 0 } };
	uint8_t buf[16];
	struct wbuf b;
	struct wire_frame f;

	wb_init(&b, buf, sizeof(buf));
	ck_assert_int_eq(wire_put_ack(&b, 7, zero, 1), 0);
	/* type, largest 0, delay 7, count 0, first 0 */
	ck_assert_uint_eq(b.len, 5);
	ck_assert_int_eq(decode_exact(buf, b.len, &f), 5);
	ck_ack(&f, 7, zero, 1);
}
END_TEST

START_TEST(test_stream_header_only_leaves_room_for_data)
{
	static const struct {
		uint64_t flow, off;
		size_t len;
	} cases[] = {
		{ 0, 0, 0 },
		{ 1, 100, 1 },
		{ 64, 16384, 1200 },
		{ VARINT_MAX, VARINT_MAX - 70000, 70000 }, /* ends exactly at 2^62-1 */
	};
	size_t k;

	for (k = 0; k < ARRAY_SIZE(cases); k++) {
		size_t hdr = wire_stream_hdr_len(cases[k].flow, cases[k].off, cases[k].len);
		size_t cap = 5 + hdr + cases[k].len;
		uint8_t *buf = calloc(1, cap), *data = malloc(cases[k].len + 1);
		struct wbuf b;
		struct wire_frame f;
		size_t i;

		ck_assert_ptr_nonnull(buf);
		ck_assert_ptr_nonnull(data);
		ck_assert_uint_le(hdr, WIRE_STREAM_HDR_MAX);
		for (i = 0; i < cases[k].len; i++)
			data[i] = (uint8_t)(i ^ 0x5c);
		/* one byte short of header + data: refused, nothing committed */
		wb_init(&b, buf, cap - 1);
		b.len = 5;
		ck_assert_int_eq(wire_put_stream(&b, cases[k].flow, cases[k].off, 1, NULL,
						 cases[k].len),
				 -1);
		ck_assert_uint_eq(b.len, 5);
		/* exactly enough: header written, room left is the data */
		b.cap = cap;
		ck_assert_int_eq(wire_put_stream(&b, cases[k].flow, cases[k].off, 1, NULL,
						 cases[k].len),
				 0);
		ck_assert_uint_eq(b.len, 5 + hdr);
		ck_assert_uint_eq(wbuf_room(&b), cases[k].len);
		if (cases[k].len)
			memcpy(b.p + b.len, data, cases[k].len);
		b.len += cases[k].len;
		/* buf is exactly cap bytes: the frame ends where the allocation does */
		ck_assert_uint_eq(b.len, cap);
		ck_assert_int_eq(wire_frame_decode(buf + 5, b.len - 5, &f), (int)(b.len - 5));
		ck_assert_uint_eq(f.type, WF_STREAM);
		ck_assert_uint_eq(f.flow, cases[k].flow);
		ck_assert_uint_eq(f.u.stream.offset, cases[k].off);
		ck_assert_uint_eq(f.u.stream.fin, 1);
		ck_assert_uint_eq(f.u.stream.len, cases[k].len);
		if (cases[k].len)
			ck_assert_mem_eq(f.u.stream.data, data, cases[k].len);
		/* the full-data form writes the same bytes */
		{
			uint8_t *full = malloc(hdr + cases[k].len);
			struct wbuf fb;

			ck_assert_ptr_nonnull(full);
			wb_init(&fb, full, hdr + cases[k].len);
			ck_assert_int_eq(wire_put_stream(&fb, cases[k].flow, cases[k].off, 1, data,
							 cases[k].len),
					 0);
			ck_assert_uint_eq(fb.len, hdr + cases[k].len);
			ck_assert_mem_eq(full, buf + 5, fb.len);
			free(full);
		}
		free(data);
		free(buf);
	}
}
END_TEST

START_TEST(test_dgram_header_only_leaves_room_for_data)
{
	static const struct {
		uint64_t flow, seq;
		uint32_t total, frag;
		size_t len;
	} cases[] = {
		{ 0, 0, 0, 0, 0 },
		{ 3, 99, 3000, 1400, 1400 },
		{ 1ULL << 40, VARINT_MAX, 65535, 0, 65535 },
	};
	size_t k;

	for (k = 0; k < ARRAY_SIZE(cases); k++) {
		size_t hdr = wire_dgram_hdr_len(cases[k].flow, cases[k].seq, cases[k].total,
						cases[k].frag, cases[k].len);
		size_t cap = 2 + hdr + cases[k].len, i;
		uint8_t *buf = calloc(1, cap), *data = malloc(cases[k].len + 1);
		struct wbuf b;
		struct wire_frame f;

		ck_assert_ptr_nonnull(buf);
		ck_assert_ptr_nonnull(data);
		for (i = 0; i < cases[k].len; i++)
			data[i] = (uint8_t)(i * 13);
		wb_init(&b, buf, cap - 1);
		b.len = 2;
		ck_assert_int_eq(wire_put_dgram(&b, cases[k].flow, cases[k].seq, cases[k].total,
						cases[k].frag, NULL, cases[k].len),
				 -1);
		ck_assert_uint_eq(b.len, 2);
		b.cap = cap;
		ck_assert_int_eq(wire_put_dgram(&b, cases[k].flow, cases[k].seq, cases[k].total,
						cases[k].frag, NULL, cases[k].len),
				 0);
		ck_assert_uint_eq(b.len, 2 + hdr);
		ck_assert_uint_eq(wbuf_room(&b), cases[k].len);
		if (cases[k].len)
			memcpy(b.p + b.len, data, cases[k].len);
		b.len += cases[k].len;
		ck_assert_uint_eq(b.len, cap);
		ck_assert_int_eq(wire_frame_decode(buf + 2, b.len - 2, &f), (int)(b.len - 2));
		ck_assert_uint_eq(f.type, WF_DATAGRAM);
		ck_assert_uint_eq(f.flow, cases[k].flow);
		ck_assert_uint_eq(f.u.dgram.seq, cases[k].seq);
		ck_assert_uint_eq(f.u.dgram.total, cases[k].total);
		ck_assert_uint_eq(f.u.dgram.frag, cases[k].frag);
		ck_assert_uint_eq(f.u.dgram.len, cases[k].len);
		if (cases[k].len)
			ck_assert_mem_eq(f.u.dgram.data, data, cases[k].len);
		free(data);
		free(buf);
	}
}
END_TEST

START_TEST(test_candidates_refuses_more_than_16_on_encode)
{
	uint8_t methods[WIRE_MAX_CANDIDATES + 1];
	struct ipport addrs[WIRE_MAX_CANDIDATES + 1];
	uint8_t buf[1024];
	struct wbuf b;

	samples_init();
	memset(methods, 1, sizeof(methods));
	memcpy(addrs, cand_addrs, sizeof(cand_addrs));
	addrs[WIRE_MAX_CANDIDATES] = v4dst;
	wb_init(&b, buf, sizeof(buf));
	ck_assert_int_eq(wire_put_candidates(&b, methods, addrs, WIRE_MAX_CANDIDATES + 1), -1);
	ck_assert_int_eq(wire_put_candidates(&b, methods, addrs, 255), -1);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

/* ---- encoders refuse when one byte is missing ------------------------ */

/* sample_put_short() - sample idx into every capacity short of it */
static void sample_put_short(int idx)
{
	uint8_t ref[4096], *buf;
	size_t len, pre = 3, cap;
	struct wbuf b;

	samples_init();
	len = encode_sample(idx, ref);
	/* every capacity short of the frame, a few bytes already in the packet;
	 * the buffer is exactly cap bytes so ASan sees any write past it */
	for (cap = pre; cap < pre + len; cap++) {
		buf = malloc(cap);
		REQUIRE(buf != NULL, "out of memory");
		memset(buf, 0xee, cap);
		wb_init(&b, buf, cap);
		b.len = pre;
		REQUIRE(put_sample(idx, &b) == -1, "sample %d fit in %zu of %zu bytes", idx,
			cap - pre, len);
		REQUIRE(b.len == pre, "sample %d: len %zu after a failed put", idx, b.len);
		REQUIRE(b.cap == cap && b.p == buf, "sample %d: cursor changed", idx);
		REQUIRE(buf[0] == 0xee && buf[pre - 1] == 0xee, "sample %d: packet changed", idx);
		free(buf);
	}
	/* exactly enough */
	buf = malloc(pre + len);
	ck_assert_ptr_nonnull(buf);
	wb_init(&b, buf, pre + len);
	b.len = pre;
	ck_assert_int_eq(put_sample(idx, &b), 0);
	ck_assert_uint_eq(b.len, pre + len);
	ck_assert_mem_eq(buf + pre, ref, len);
	free(buf);
}

START_TEST(test_put_one_byte_short_writes_nothing)
{
	int idx;

	for (idx = 0; idx < S_MAX; idx++)
		sample_put_short(idx);
}
END_TEST

/* ---- truncation ----------------------------------------------------- */

/* sample_prefixes_refused() - every strict prefix of sample idx */
static void sample_prefixes_refused(int idx)
{
	uint8_t buf[4096];
	struct wire_frame f;
	size_t len, k;

	samples_init();
	len = encode_sample(idx, buf);
	for (k = 0; k < len; k++)
		REQUIRE(decode_exact(buf, k, &f) == -1, "sample %d: prefix %zu of %zu accepted", idx,
			k, len);
	ck_assert_int_eq(decode_exact(buf, len, &f), (int)len);
}

START_TEST(test_every_strict_prefix_is_refused)
{
	int idx;

	for (idx = 0; idx < S_MAX; idx++)
		sample_prefixes_refused(idx);
}
END_TEST

/* ---- hostile input -------------------------------------------------- */

/* ack_frame() - ACK with raw fields; pairs: count (gap, len) pairs */
static size_t ack_frame(uint8_t *buf, uint64_t largest, uint64_t count, uint64_t first,
			const uint64_t *pairs, size_t npairs)
{
	struct wbuf b;
	size_t i;

	wb_init(&b, buf, 2048);
	pu8(&b, WF_ACK);
	pvar(&b, largest);
	pvar(&b, 0);
	pvar(&b, count);
	pvar(&b, first);
	for (i = 0; i < 2 * npairs; i++)
		pvar(&b, pairs[i]);
	return b.len;
}

START_TEST(test_ack_ranges_may_not_go_below_zero)
{
	uint8_t buf[2048];
	struct wire_frame f;
	size_t n;

	/* first range longer than largest */
	n = ack_frame(buf, 5, 0, 6, NULL, 0);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = ack_frame(buf, 5, 0, 5, NULL, 0);
	ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
	ck_assert_uint_eq(f.u.ack.ranges[0].lo, 0);
	ck_assert_uint_eq(f.u.ack.ranges[0].hi, 5);
	n = ack_frame(buf, 0, 0, 1, NULL, 0);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = ack_frame(buf, VARINT_MAX, 0, VARINT_MAX, NULL, 0);
	ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
	ck_assert_uint_eq(f.u.ack.ranges[0].lo, 0);

	/* largest 10, first 2: lo 8; gap 6 puts the next range's top at 0 */
	{
		static const uint64_t ok[] = { 6, 0 }, gap_under[] = { 7, 0 },
				      len_under[] = { 6, 1 }, huge_gap[] = { VARINT_MAX, 0 },
				      huge_len[] = { 0, VARINT_MAX };

		n = ack_frame(buf, 10, 1, 2, ok, 1);
		ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
		ck_assert_uint_eq(f.u.ack.nranges, 2);
		ck_assert_uint_eq(f.u.ack.ranges[1].hi, 0);
		ck_assert_uint_eq(f.u.ack.ranges[1].lo, 0);
		n = ack_frame(buf, 10, 1, 2, gap_under, 1);
		ck_assert_int_eq(decode_exact(buf, n, &f), -1);
		n = ack_frame(buf, 10, 1, 2, len_under, 1);
		ck_assert_int_eq(decode_exact(buf, n, &f), -1);
		n = ack_frame(buf, 10, 1, 2, huge_gap, 1);
		ck_assert_int_eq(decode_exact(buf, n, &f), -1);
		n = ack_frame(buf, 10, 1, 2, huge_len, 1);
		ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	}
	/* the first range ends at 0 already: no room for another */
	{
		static const uint64_t zero[] = { 0, 0 };

		n = ack_frame(buf, 3, 1, 3, zero, 1);
		ck_assert_int_eq(decode_exact(buf, n, &f), -1);
		n = ack_frame(buf, 1, 1, 0, zero, 1);
		ck_assert_int_eq(decode_exact(buf, n, &f), -1);
		n = ack_frame(buf, 2, 1, 0, zero, 1);
		ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
		ck_assert_uint_eq(f.u.ack.ranges[1].hi, 0);
	}
}
END_TEST

START_TEST(test_ack_range_count_limit)
{
	uint64_t pairs[2 * WIRE_MAX_ACK_RANGES];
	uint8_t buf[2048];
	struct wire_frame f;
	size_t n, i;

	for (i = 0; i < WIRE_MAX_ACK_RANGES; i++) {
		pairs[2 * i] = 0;     /* gap */
		pairs[2 * i + 1] = 1; /* length */
	}
	/* count 63: 64 ranges, the most a frame may carry */
	n = ack_frame(buf, 100000, WIRE_MAX_ACK_RANGES - 1, 0, pairs, WIRE_MAX_ACK_RANGES - 1);
	ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
	ck_assert_uint_eq(f.u.ack.nranges, WIRE_MAX_ACK_RANGES);
	/* range i >= 1 is [100000 - 3i, 100001 - 3i]: one packet missing between */
	ck_assert_uint_eq(f.u.ack.ranges[63].hi, 100000 - 63 * 3 + 1);
	ck_assert_uint_eq(f.u.ack.ranges[63].lo, 100000 - 63 * 3);
	/* count 64 and more: refused even with every pair present */
	n = ack_frame(buf, 100000, WIRE_MAX_ACK_RANGES, 0, pairs, WIRE_MAX_ACK_RANGES);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = ack_frame(buf, 100000, 1000, 0, pairs, WIRE_MAX_ACK_RANGES);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = ack_frame(buf, 100000, VARINT_MAX, 0, pairs, WIRE_MAX_ACK_RANGES);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
}
END_TEST

static size_t stream_frame(uint8_t *buf, uint64_t flow, uint64_t off, uint8_t flags,
			   uint64_t len, size_t present)
{
	struct wbuf b;

	wb_init(&b, buf, 4096);
	pu8(&b, WF_STREAM);
	pvar(&b, flow);
	pvar(&b, off);
	pu8(&b, flags);
	pvar(&b, len);
	memset(buf + b.len, 0x33, present);
	return b.len + present;
}

START_TEST(test_stream_length_and_offset_checked)
{
	uint8_t buf[4096];
	struct wire_frame f;
	size_t n;

	n = stream_frame(buf, 1, 0, 0, 10, 9);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = stream_frame(buf, 1, 0, 0, 10, 10);
	ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
	n = stream_frame(buf, 1, 0, 0, VARINT_MAX, 100);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	/* the stream may end exactly at 2^62-1, not past it */
	n = stream_frame(buf, 1, VARINT_MAX - 1, 0, 1, 1);
	ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
	n = stream_frame(buf, 1, VARINT_MAX, 0, 0, 0);
	ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
	n = stream_frame(buf, 1, VARINT_MAX, 0, 1, 1);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = stream_frame(buf, 1, VARINT_MAX - 5, 1, 10, 10);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	/* flag bits other than FIN */
	n = stream_frame(buf, 1, 0, 0x02, 1, 1);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = stream_frame(buf, 1, 0, 0x80 | WIRE_STREAM_FIN, 1, 1);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = stream_frame(buf, 1, 0, WIRE_STREAM_FIN, 1, 1);
	ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
	ck_assert_uint_eq(f.u.stream.fin, 1);
}
END_TEST

static size_t dgram_frame(uint8_t *buf, uint64_t total, uint64_t frag, uint64_t len,
			  size_t present)
{
	struct wbuf b;

	wb_init(&b, buf, 70000);
	pu8(&b, WF_DATAGRAM);
	pvar(&b, 4);
	pvar(&b, 9);
	pvar(&b, total);
	pvar(&b, frag);
	pvar(&b, len);
	memset(buf + b.len, 0x44, present);
	return b.len + present;
}

START_TEST(test_dgram_fragment_fields_checked)
{
	static uint8_t buf[70000];
	struct wire_frame f;
	size_t n;

	n = dgram_frame(buf, 100, 101, 0, 0); /* frag > total */
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = dgram_frame(buf, 100, 100, 0, 0); /* empty tail: fine */
	ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
	n = dgram_frame(buf, 100, 50, 51, 51); /* len > total - frag */
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = dgram_frame(buf, 100, 50, 50, 50);
	ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
	ck_assert_uint_eq(f.u.dgram.frag + f.u.dgram.len, f.u.dgram.total);
	n = dgram_frame(buf, 65536, 0, 10, 10); /* total > 65535 */
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = dgram_frame(buf, VARINT_MAX, 0, 10, 10);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = dgram_frame(buf, 65535, 65535, 0, 0);
	ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
	n = dgram_frame(buf, 65535, 0, 65535, 65535);
	ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
	ck_assert_uint_eq(f.u.dgram.len, 65535);
	n = dgram_frame(buf, 100, 0, 100, 99); /* len beyond the input */
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = dgram_frame(buf, 100, VARINT_MAX, 0, 0);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
}
END_TEST

static size_t open_frame(uint8_t *buf, uint8_t proto, uint8_t kind, uint8_t sfam, size_t salen,
			 uint8_t dfam, size_t dalen)
{
	struct wbuf b;

	wb_init(&b, buf, 256);
	pu8(&b, WF_OPEN);
	pvar(&b, 1);
	pmem(&b, net1.b, NETID_LEN);
	pu8(&b, proto);
	pu8(&b, kind);
	pipport(&b, sfam, salen, 1234);
	pipport(&b, dfam, dalen, 80);
	return b.len;
}

START_TEST(test_open_fields_checked)
{
	uint8_t buf[256];
	struct wire_frame f;
	size_t n;

	n = open_frame(buf, WIRE_PROTO_TCP, WIRE_DST_ADDR, 4, 4, 4, 4);
	ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
	ck_assert_uint_eq(f.u.open.src.family, AF_INET);
	ck_assert_uint_eq(f.u.open.src.port, 1234);
	ck_assert_uint_eq(f.u.open.dst.port, 80);
	n = open_frame(buf, WIRE_PROTO_UDP, WIRE_DST_GATEWAY, 6, 16, 6, 16);
	ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
	ck_assert_uint_eq(f.u.open.dst.family, AF_INET6);
	/* mismatched families */
	n = open_frame(buf, WIRE_PROTO_TCP, WIRE_DST_ADDR, 4, 4, 6, 16);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = open_frame(buf, WIRE_PROTO_TCP, WIRE_DST_ADDR, 6, 16, 4, 4);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	/* an unknown proto or kind is well formed (a newer peer's): it decodes,
	 * and the link refuses that flow (test_link) */
	n = open_frame(buf, 132, WIRE_DST_ADDR, 4, 4, 4, 4);
	ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
	ck_assert_uint_eq(f.u.open.proto, 132);
	ck_assert(!wire_open_known(f.u.open.proto, f.u.open.kind));
	n = open_frame(buf, WIRE_PROTO_TCP, 0xff, 4, 4, 4, 4);
	ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
	ck_assert_uint_eq(f.u.open.kind, 0xff);
	ck_assert(!wire_open_known(f.u.open.proto, f.u.open.kind));
	ck_assert(wire_open_known(WIRE_PROTO_UDP, WIRE_DST_VM));
	ck_assert(!wire_open_known(WIRE_PROTO_TCP, WIRE_DST_MAX));
	ck_assert(!wire_open_known(0, WIRE_DST_ADDR));
	/* bad family bytes (even with enough bytes for either length) */
	n = open_frame(buf, WIRE_PROTO_TCP, WIRE_DST_ADDR, 0, 16, 4, 4);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = open_frame(buf, WIRE_PROTO_TCP, WIRE_DST_ADDR, 4, 4, 5, 16);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = open_frame(buf, WIRE_PROTO_TCP, WIRE_DST_ADDR, AF_INET6, 16, AF_INET6, 16);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
}
END_TEST

static size_t cand_frame(uint8_t *buf, uint8_t count, size_t present, uint8_t fam)
{
	struct wbuf b;
	size_t i;

	wb_init(&b, buf, 1024);
	pu8(&b, WF_CANDIDATES);
	pu8(&b, count);
	for (i = 0; i < present; i++) {
		pu8(&b, WIRE_CAND_DIRECT);
		pipport(&b, fam, 4, (uint16_t)i);
	}
	return b.len;
}

START_TEST(test_candidates_fields_checked)
{
	uint8_t buf[1024];
	struct wire_frame f;
	size_t n;

	n = cand_frame(buf, 16, 16, 4);
	ck_assert_int_eq(decode_exact(buf, n, &f), (int)n);
	ck_assert_uint_eq(f.u.cand.n, 16);
	ck_assert_uint_eq(f.u.cand.addr[15].port, 15);
	n = cand_frame(buf, 17, 17, 4);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = cand_frame(buf, 255, 17, 4);
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = cand_frame(buf, 3, 3, 7); /* bad family byte */
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
	n = cand_frame(buf, 3, 2, 4); /* an entry missing */
	ck_assert_int_eq(decode_exact(buf, n, &f), -1);
}
END_TEST

START_TEST(test_path_method_values_checked)
{
	uint8_t buf[2] = { WF_PATH_METHOD, 0 };
	struct wbuf b = { buf, 0, sizeof(buf) };
	struct wire_frame f;
	unsigned m;

	for (m = 0; m <= 255; m++) {
		buf[1] = (uint8_t)m;
		ck_assert_int_eq(decode_exact(buf, 2, &f), m <= 2 ? 2 : -1);
	}
	ck_assert_int_eq(decode_exact(buf, 1, &f), -1);
	ck_assert_int_eq(wire_put_path_method(&b, 3), -1);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(test_unknown_frame_types_refused)
{
	uint8_t buf[64];
	struct wire_frame f;
	unsigned t;

	memset(buf, 0, sizeof(buf));
	for (t = WF_MAX; t <= 0xff; t++) {
		buf[0] = (uint8_t)t;
		ck_assert_msg(decode_exact(buf, sizeof(buf), &f) == -1, "type 0x%02x accepted", t);
	}
}
END_TEST

/* ---- fuzz ----------------------------------------------------------- */

/* ck_decoded_sane() - what a successful decode promises the link core */
static void ck_decoded_sane(const struct wire_frame *f, const uint8_t *p, size_t len, int n)
{
	const struct wire_ack_range *r = f->u.ack.ranges;
	size_t i;

	REQUIRE(n == -1 || (n >= 1 && (size_t)n <= len), "decode returned %d of %zu", n, len);
	if (n < 0)
		return;
	REQUIRE(f->type < WF_MAX, "type 0x%02x", f->type);
	switch (f->type) {
	case WF_ACK:
		REQUIRE(f->u.ack.nranges >= 1 && f->u.ack.nranges <= WIRE_MAX_ACK_RANGES, "%zu",
			f->u.ack.nranges);
		for (i = 0; i < f->u.ack.nranges; i++) {
			REQUIRE(r[i].lo <= r[i].hi && r[i].hi <= VARINT_MAX, "range %zu", i);
			/* descending, with at least one packet number between */
			REQUIRE(i == 0 || r[i].hi + 1 < r[i - 1].lo, "range %zu", i);
		}
		break;
	case WF_STREAM:
		REQUIRE(f->u.stream.data >= p && f->u.stream.data + f->u.stream.len <= p + n,
			"data outside the frame");
		REQUIRE(f->u.stream.offset + f->u.stream.len <= VARINT_MAX, "stream end");
		break;
	case WF_DATAGRAM:
		REQUIRE(f->u.dgram.data >= p && f->u.dgram.data + f->u.dgram.len <= p + n,
			"data outside the frame");
		REQUIRE(f->u.dgram.total <= 65535, "total %u", f->u.dgram.total);
		REQUIRE(f->u.dgram.frag + f->u.dgram.len <= f->u.dgram.total, "fragment");
		break;
	case WF_OPEN:
		REQUIRE(f->u.open.src.family == f->u.open.dst.family, "families");
		break;
	case WF_CANDIDATES:
		REQUIRE(f->u.cand.n <= WIRE_MAX_CANDIDATES, "%zu candidates", f->u.cand.n);
		for (i = 0; i < f->u.cand.n; i++)
			REQUIRE(f->u.cand.addr[i].family == AF_INET ||
					f->u.cand.addr[i].family == AF_INET6,
				"candidate %zu", i);
		break;
	}
}

START_TEST(test_fuzz_decoders_stay_in_bounds)
{
	uint8_t samples[S_MAX][4096], tmp[4200];
	size_t slen[S_MAX];
	uint64_t rng = 0x0123456789abcdefULL;
	struct wire_frame f;
	struct wire_outer o;
	long iter, accepted = 0, outer_ok = 0;
	int k;

	samples_init();
	for (k = 0; k < S_MAX; k++)
		slen[k] = encode_sample(k, samples[k]);
	for (iter = 0; iter < 200000; iter++) {
		uint64_t r = splitmix64(&rng);
		size_t len, i, nmut;
		uint8_t *c;
		int n;

		if (r % 4 == 0) {
			/* random bytes, type byte often valid */
			len = (size_t)(splitmix64(&rng) % 80);
			for (i = 0; i < len; i++)
				tmp[i] = (uint8_t)splitmix64(&rng);
			if (len && (r & 0x10))
				tmp[0] = (uint8_t)(tmp[0] % (WF_MAX + 1));
			if (len > 1 && (r & 0x20)) { /* an outer header, any type */
				tmp[0] = WIRE_VERSION;
				tmp[1] = (uint8_t)((r >> 56) % 6);
			}
		} else {
			/* a valid frame, mutated: byte flips, truncation, extension */
			k = (int)(splitmix64(&rng) % S_MAX);
			len = slen[k];
			memcpy(tmp, samples[k], len);
			nmut = (size_t)(splitmix64(&rng) % 4);
			for (i = 0; i < nmut && len; i++) {
				uint64_t m = splitmix64(&rng);
				size_t at = (size_t)(m % len);

				switch ((m >> 32) % 4) {
				case 0:
					tmp[at] ^= (uint8_t)(1u << ((m >> 40) % 8));
					break;
				case 1:
					tmp[at] = (uint8_t)(m >> 48);
					break;
				case 2:
					len = at;
					break;
				case 3:
					if (len < sizeof(tmp) - 8) {
						memset(tmp + len, (int)(m >> 56), 8);
						len += (m >> 44) % 8;
					}
					break;
				}
			}
		}
		c = heap_copy(tmp, len);
		n = wire_frame_decode(c, len, &f);
		ck_decoded_sane(&f, c, len, n);
		accepted += n > 0;
		n = wire_outer_parse(c, len, &o);
		REQUIRE(n == -1 || (size_t)n <= len, "outer parse returned %d of %zu", n, len);
		REQUIRE(n == -1 || (n == WIRE_OUTER_HS_LEN && o.type == WIRE_HANDSHAKE) ||
				(n == WIRE_OUTER_DATA_LEN &&
				 (o.type == WIRE_DATA || o.type == WIRE_RELAY || o.type == WIRE_UNKNOWN ||
				  o.type == WIRE_SEALED)),
			"outer parse returned %d for type %u", n, n < 0 ? 0 : o.type);
		outer_ok += n > 0;
		free(c);
	}
	/* the mutations left plenty of valid frames: the checks above ran */
	ck_assert_int_gt(accepted, 20000);
	ck_assert_int_gt(outer_ok, 5000);
}
END_TEST

/* ---- small helpers -------------------------------------------------- */

START_TEST(test_reset_reason_names)
{
	ck_assert_str_eq(wire_reset_reason_str(RST_NONE), "none");
	ck_assert_str_eq(wire_reset_reason_str(RST_REFUSED), "refused");
	ck_assert_str_eq(wire_reset_reason_str(RST_UNREACHABLE), "unreachable");
	ck_assert_str_eq(wire_reset_reason_str(RST_TIMEOUT), "timeout");
	ck_assert_str_eq(wire_reset_reason_str(RST_POLICY), "policy");
	ck_assert_str_eq(wire_reset_reason_str(RST_ABORTED), "aborted");
	ck_assert_str_eq(wire_reset_reason_str(RST_NETWORK), "network");
	ck_assert_str_eq(wire_reset_reason_str(RST_RESOURCE), "resource");
	ck_assert_str_eq(wire_reset_reason_str(RST_LINK), "link");
	ck_assert_str_eq(wire_reset_reason_str(RST_MAX), "unknown");
	ck_assert_str_eq(wire_reset_reason_str(1000), "unknown");
	ck_assert_str_eq(wire_reset_reason_str(1ULL << 32), "unknown");
	ck_assert_str_eq(wire_reset_reason_str(UINT64_MAX), "unknown");
}
END_TEST

START_TEST(test_only_ack_and_padding_are_not_ack_eliciting)
{
	unsigned t;

	ck_assert_int_eq(wire_frame_is_ack_eliciting(WF_ACK), 0);
	ck_assert_int_eq(wire_frame_is_ack_eliciting(WF_PADDING), 0);
	for (t = 0; t < WF_MAX; t++) {
		if (t == WF_ACK || t == WF_PADDING)
			continue;
		ck_assert_msg(wire_frame_is_ack_eliciting((uint8_t)t), "type 0x%02x", t);
	}
}
END_TEST

static Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *t;

	t = tcase_create("varint");
	tcase_add_test(t, test_varint_boundaries_round_trip_with_right_length);
	tcase_add_test(t, test_varint_put_needs_room_for_whole_integer);
	tcase_add_test(t, test_varint_get_refuses_truncated_integer);
	tcase_add_test(t, test_varint_rejects_2_pow_62_and_above);
	tcase_add_test(t, test_varint_matches_rfc9000_examples);
	tcase_add_test(t, test_varint_decodes_non_minimal_encoding);
	tcase_add_test(t, test_packet_number_round_trips);
	suite_add_tcase(s, t);

	t = tcase_create("outer");
	tcase_add_test(t, test_outer_handshake_is_12_bytes_and_round_trips);
	tcase_add_test(t, test_outer_data_relay_unknown_are_8_bytes_and_round_trip);
	tcase_add_test(t, test_outer_rejects_wrong_version_unknown_type_short_input);
	suite_add_tcase(s, t);

	t = tcase_create("frames");
	tcase_add_test(t, test_every_frame_round_trips_with_all_fields);
	tcase_add_test(t, test_frame_decode_stops_at_frame_end);
	tcase_add_test(t, test_frames_concatenate_in_one_packet);
	tcase_add_test(t, test_padding_is_one_byte_frame);
	tcase_add_test(t, test_ack_rejects_bad_range_lists_on_encode);
	tcase_add_test(t, test_ack_single_packet_at_zero);
	tcase_add_test(t, test_stream_header_only_leaves_room_for_data);
	tcase_add_test(t, test_dgram_header_only_leaves_room_for_data);
	tcase_add_test(t, test_candidates_refuses_more_than_16_on_encode);
	tcase_add_test(t, test_put_one_byte_short_writes_nothing);
	tcase_add_test(t, test_every_strict_prefix_is_refused);
	tcase_add_test(t, test_reset_reason_names);
	tcase_add_test(t, test_only_ack_and_padding_are_not_ack_eliciting);
	suite_add_tcase(s, t);

	t = tcase_create("hostile");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, test_ack_ranges_may_not_go_below_zero);
	tcase_add_test(t, test_ack_range_count_limit);
	tcase_add_test(t, test_stream_length_and_offset_checked);
	tcase_add_test(t, test_dgram_fragment_fields_checked);
	tcase_add_test(t, test_open_fields_checked);
	tcase_add_test(t, test_candidates_fields_checked);
	tcase_add_test(t, test_path_method_values_checked);
	tcase_add_test(t, test_unknown_frame_types_refused);
	tcase_add_test(t, test_fuzz_decoders_stay_in_bounds);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(wire_suite());
	int failed;

	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
