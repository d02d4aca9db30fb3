/* wire.c: encoding and decoding of the outer header and link frames.
 *
 * Every decoder checks every length against the end of its input before
 * reading; a frame that does not fit is malformed, never partially used. */
#include <string.h>
#include <sys/socket.h>

#include "wire.h"

static const char *const reset_reason_names[RST_MAX] = {
	[RST_NONE] = "none",
	[RST_REFUSED] = "refused",
	[RST_UNREACHABLE] = "unreachable",
	[RST_TIMEOUT] = "timeout",
	[RST_POLICY] = "policy",
	[RST_ABORTED] = "aborted",
	[RST_NETWORK] = "network",
	[RST_RESOURCE] = "resource",
	[RST_LINK] = "link",
};

const char *wire_reset_reason_str(uint64_t reason)
{
	return reason < RST_MAX ? reset_reason_names[reason] : "unknown";
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* wire_outer_parse() - the clear header in front of the records */
int wire_outer_parse(const uint8_t *p, size_t len, struct wire_outer *o)
{
	if (len < WIRE_OUTER_DATA_LEN || p[0] != WIRE_VERSION)
		return -1;
	o->version = p[0];
	o->type = p[1];
	o->flags = (uint16_t)(p[2] << 8 | p[3]);
	o->receiver_id = get_be32(p + 4);
	o->sender_id = 0;
	switch (o->type) {
	case WIRE_HANDSHAKE:
		if (len < WIRE_OUTER_HS_LEN)
			return -1;
		o->sender_id = get_be32(p + 8);
		return WIRE_OUTER_HS_LEN;
	case WIRE_DATA:
	case WIRE_SEALED:
	case WIRE_RELAY:
	case WIRE_UNKNOWN:
		return WIRE_OUTER_DATA_LEN;
	default:
		return -1;
	}
}

size_t wire_outer_put(uint8_t *p, const struct wire_outer *o)
{
	p[0] = WIRE_VERSION;
	p[1] = o->type;
	p[2] = (uint8_t)(o->flags >> 8);
	p[3] = (uint8_t)o->flags;
	put_be32(p + 4, o->receiver_id);
	if (o->type != WIRE_HANDSHAKE)
		return WIRE_OUTER_DATA_LEN;
	put_be32(p + 8, o->sender_id);
	return WIRE_OUTER_HS_LEN;
}

size_t varint_len(uint64_t v)
{
	if (v < 64)
		return 1;
	if (v < 16384)
		return 2;
	if (v < 1073741824)
		return 4;
	return 8;
}

/* varint_put() - RFC 9000 16: two high bits give the length 1, 2, 4, 8 */
int varint_put(struct wbuf *b, uint64_t v)
{
	size_t n = varint_len(v), i;
	static const uint8_t prefix[9] = { [1] = 0x00, [2] = 0x40, [4] = 0x80, [8] = 0xc0 };

	if (v > VARINT_MAX || wbuf_room(b) < n)
		return -1;
	for (i = 0; i < n; i++)
		b->p[b->len + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	b->p[b->len] |= prefix[n];
	b->len += n;
	return 0;
}

int varint_get(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	size_t n, i;
	uint64_t x;

	if (p >= end)
		return -1;
	n = (size_t)1 << (p[0] >> 6);
	if ((size_t)(end - p) < n)
		return -1;
	x = p[0] & 0x3f;
	for (i = 1; i < n; i++)
		x = x << 8 | p[i];
	*v = x;
	*pp = p + n;
	return 0;
}

static int put_bytes(struct wbuf *b, const void *d, size_t n)
{
	if (wbuf_room(b) < n)
		return -1;
	memcpy(b->p + b->len, d, n);
	b->len += n;
	return 0;
}

static int put_u8(struct wbuf *b, uint8_t v)
{
	return put_bytes(b, &v, 1);
}

static int get_bytes(const uint8_t **pp, const uint8_t *end, void *d, size_t n)
{
	if ((size_t)(end - *pp) < n)
		return -1;
	memcpy(d, *pp, n);
	*pp += n;
	return 0;
}

static size_t ipport_wire_len(const struct ipport *a)
{
	return 1 + (a->family == AF_INET6 ? 16 : 4) + 2;
}

static int put_ipport(struct wbuf *b, const struct ipport *a)
{
	size_t alen = a->family == AF_INET6 ? 16 : 4;
	uint8_t port[2] = { (uint8_t)(a->port >> 8), (uint8_t)a->port };

	if (wbuf_room(b) < ipport_wire_len(a))
		return -1;
	put_u8(b, a->family == AF_INET6 ? 6 : 4);
	put_bytes(b, a->addr, alen);
	return put_bytes(b, port, 2);
}

static int get_ipport(const uint8_t **pp, const uint8_t *end, struct ipport *a)
{
	uint8_t fam, port[2];

	memset(a, 0, sizeof(*a));
	if (get_bytes(pp, end, &fam, 1) < 0)
		return -1;
	if (fam == 4)
		a->family = AF_INET;
	else if (fam == 6)
		a->family = AF_INET6;
	else
		return -1;
	if (get_bytes(pp, end, a->addr, fam == 6 ? 16 : 4) < 0 || get_bytes(pp, end, port, 2) < 0)
		return -1;
	a->port = (uint16_t)(port[0] << 8 | port[1]);
	return 0;
}

int wire_frame_is_ack_eliciting(uint8_t type)
{
	return type != WF_ACK && type != WF_PADDING;
}

/* decode_ack() - RFC 9000 19.3 layout: largest, delay, count, first range,
 * then (gap, length) pairs going down */
static int decode_ack(const uint8_t **pp, const uint8_t *end, struct wire_frame *f)
{
	uint64_t largest, count, first, gap, rlen, lo, i;

	if (varint_get(pp, end, &largest) < 0 || varint_get(pp, end, &f->u.ack.delay_us) < 0 ||
	    varint_get(pp, end, &count) < 0 || varint_get(pp, end, &first) < 0)
		return -1;
	if (first > largest || count >= WIRE_MAX_ACK_RANGES)
		return -1;
	lo = largest - first;
	f->u.ack.ranges[0].hi = largest;
	f->u.ack.ranges[0].lo = lo;
	for (i = 1; i <= count; i++) {
		if (varint_get(pp, end, &gap) < 0 || varint_get(pp, end, &rlen) < 0)
			return -1;
		/* the next range's largest is lo - gap - 2; it must stay >= 0 */
		if (lo < gap + 2 || lo - gap - 2 < rlen)
			return -1;
		f->u.ack.ranges[i].hi = lo - gap - 2;
		f->u.ack.ranges[i].lo = f->u.ack.ranges[i].hi - rlen;
		lo = f->u.ack.ranges[i].lo;
	}
	f->u.ack.nranges = (size_t)count + 1;
	return 0;
}

static int decode_stream(const uint8_t **pp, const uint8_t *end, struct wire_frame *f)
{
	uint64_t len;
	uint8_t flags;

	if (varint_get(pp, end, &f->flow) < 0 || varint_get(pp, end, &f->u.stream.offset) < 0 ||
	    get_bytes(pp, end, &flags, 1) < 0 || varint_get(pp, end, &len) < 0)
		return -1;
	if (flags & ~WIRE_STREAM_FIN || len > (uint64_t)(end - *pp) ||
	    f->u.stream.offset + len > VARINT_MAX)
		return -1;
	f->u.stream.fin = flags & WIRE_STREAM_FIN;
	f->u.stream.len = (size_t)len;
	f->u.stream.data = *pp;
	*pp += len;
	return 0;
}

static int decode_dgram(const uint8_t **pp, const uint8_t *end, struct wire_frame *f)
{
	uint64_t total, frag, len;

	if (varint_get(pp, end, &f->flow) < 0 || varint_get(pp, end, &f->u.dgram.seq) < 0 ||
	    varint_get(pp, end, &total) < 0 || varint_get(pp, end, &frag) < 0 ||
	    varint_get(pp, end, &len) < 0)
		return -1;
	if (total > 65535 || frag > total || len > total - frag || len > (uint64_t)(end - *pp))
		return -1;
	f->u.dgram.total = (uint32_t)total;
	f->u.dgram.frag = (uint32_t)frag;
	f->u.dgram.len = (size_t)len;
	f->u.dgram.data = *pp;
	*pp += len;
	return 0;
}

static int decode_open(const uint8_t **pp, const uint8_t *end, struct wire_frame *f)
{
	if (varint_get(pp, end, &f->flow) < 0 ||
	    get_bytes(pp, end, f->u.open.net.b, NETID_LEN) < 0 ||
	    get_bytes(pp, end, &f->u.open.proto, 1) < 0 || get_bytes(pp, end, &f->u.open.kind, 1) < 0 ||
	    get_ipport(pp, end, &f->u.open.src) < 0 || get_ipport(pp, end, &f->u.open.dst) < 0)
		return -1;
	/* an unknown proto or kind is well formed: the link refuses that flow
	 * alone (a newer peer), instead of dropping the packet it came in and
	 * every retransmission of it */
	return f->u.open.src.family == f->u.open.dst.family ? 0 : -1;
}

static int decode_candidates(const uint8_t **pp, const uint8_t *end, struct wire_frame *f)
{
	uint8_t n, ch[4];
	size_t i;

	if (f->type == WF_RELAY_CONNECT || f->type == WF_RELAY_INTRO) {
		if (get_bytes(pp, end, f->u.cand.key, WIRE_KEY_LEN) < 0 || get_bytes(pp, end, ch, 4) < 0)
			return -1;
		f->u.cand.channel = get_be32(ch);
	}
	if (get_bytes(pp, end, &n, 1) < 0 || n > WIRE_MAX_CANDIDATES)
		return -1;
	for (i = 0; i < n; i++) {
		if (get_bytes(pp, end, &f->u.cand.method[i], 1) < 0 ||
		    get_ipport(pp, end, &f->u.cand.addr[i]) < 0)
			return -1;
	}
	f->u.cand.n = n;
	return 0;
}

static int decode_body(const uint8_t **pp, const uint8_t *end, struct wire_frame *f)
{
	switch (f->type) {
	case WF_PADDING:
	case WF_PING:
		return 0;
	case WF_ACK:
		return decode_ack(pp, end, f);
	case WF_OPEN:
		return decode_open(pp, end, f);
	case WF_OPENED:
	case WF_CLOSE:
		return varint_get(pp, end, &f->flow);
	case WF_STREAM:
		return decode_stream(pp, end, f);
	case WF_DATAGRAM:
		return decode_dgram(pp, end, f);
	case WF_WINDOW:
		if (varint_get(pp, end, &f->flow) < 0)
			return -1;
		return varint_get(pp, end, &f->u.window_max);
	case WF_RESET:
		if (varint_get(pp, end, &f->flow) < 0 || varint_get(pp, end, &f->u.reset.reason) < 0)
			return -1;
		return varint_get(pp, end, &f->u.reset.final);
	case WF_PATH_CHALLENGE:
	case WF_PATH_RESPONSE:
		return get_bytes(pp, end, f->u.path_data, WIRE_PATH_DATA_LEN);
	case WF_CANDIDATES:
	case WF_RELAY_CONNECT:
	case WF_RELAY_INTRO:
		return decode_candidates(pp, end, f);
	case WF_RELAY_OBSERVED:
		return get_ipport(pp, end, &f->u.observed);
	case WF_PATH_METHOD:
		if (get_bytes(pp, end, &f->u.path_method, 1) < 0 || f->u.path_method > 2)
			return -1;
		return 0;
	case WF_NETWORK_DELETED:
		return get_bytes(pp, end, f->u.net.b, NETID_LEN);
	default:
		return -1;
	}
}

/* wire_frame_decode() - one frame from p; bytes consumed or -1 */
int wire_frame_decode(const uint8_t *p, size_t len, struct wire_frame *f)
{
	const uint8_t *cur = p, *end = p + len;

	if (len == 0)
		return -1;
	f->type = *cur++;
	f->flow = 0;
	if (decode_body(&cur, end, f) < 0)
		return -1;
	return (int)(cur - p);
}

int wire_put_pn(struct wbuf *b, uint64_t pn)
{
	return varint_put(b, pn);
}

int wire_get_pn(const uint8_t **p, const uint8_t *end, uint64_t *pn)
{
	return varint_get(p, end, pn);
}

/* Each encoder writes into a copy of the cursor and commits only if the
 * whole frame fit, so a failed put leaves the packet unchanged. */
#define COMMIT(b, tmp) ((b)->len = (tmp).len, 0)

int wire_put_ping(struct wbuf *b)
{
	return put_u8(b, WF_PING);
}

int wire_put_ack(struct wbuf *b, uint64_t delay_us, const struct wire_ack_range *r, size_t n)
{
	struct wbuf t = *b;
	size_t i;

	if (n == 0 || n > WIRE_MAX_ACK_RANGES)
		return -1;
	if (put_u8(&t, WF_ACK) < 0 || varint_put(&t, r[0].hi) < 0 || varint_put(&t, delay_us) < 0 ||
	    varint_put(&t, n - 1) < 0 || varint_put(&t, r[0].hi - r[0].lo) < 0)
		return -1;
	for (i = 1; i < n; i++) {
		if (varint_put(&t, r[i - 1].lo - r[i].hi - 2) < 0 ||
		    varint_put(&t, r[i].hi - r[i].lo) < 0)
			return -1;
	}
	return COMMIT(b, t);
}

int wire_put_open(struct wbuf *b, uint64_t flow, const struct netid *net, uint8_t proto,
		  uint8_t kind, const struct ipport *src, const struct ipport *dst)
{
	struct wbuf t = *b;

	if (put_u8(&t, WF_OPEN) < 0 || varint_put(&t, flow) < 0 ||
	    put_bytes(&t, net->b, NETID_LEN) < 0 || put_u8(&t, proto) < 0 || put_u8(&t, kind) < 0 ||
	    put_ipport(&t, src) < 0 || put_ipport(&t, dst) < 0)
		return -1;
	return COMMIT(b, t);
}

static int put_type_flow(struct wbuf *b, uint8_t type, uint64_t flow)
{
	struct wbuf t = *b;

	if (put_u8(&t, type) < 0 || varint_put(&t, flow) < 0)
		return -1;
	return COMMIT(b, t);
}

static int put_type_flow_val(struct wbuf *b, uint8_t type, uint64_t flow, uint64_t v)
{
	struct wbuf t = *b;

	if (put_u8(&t, type) < 0 || varint_put(&t, flow) < 0 || varint_put(&t, v) < 0)
		return -1;
	return COMMIT(b, t);
}

int wire_put_opened(struct wbuf *b, uint64_t flow)
{
	return put_type_flow(b, WF_OPENED, flow);
}

int wire_put_close(struct wbuf *b, uint64_t flow)
{
	return put_type_flow(b, WF_CLOSE, flow);
}

int wire_put_window(struct wbuf *b, uint64_t flow, uint64_t max)
{
	return put_type_flow_val(b, WF_WINDOW, flow, max);
}

int wire_put_reset(struct wbuf *b, uint64_t flow, uint64_t reason, uint64_t final)
{
	struct wbuf t = *b;

	if (put_u8(&t, WF_RESET) < 0 || varint_put(&t, flow) < 0 || varint_put(&t, reason) < 0 ||
	    varint_put(&t, final) < 0)
		return -1;
	return COMMIT(b, t);
}

size_t wire_stream_hdr_len(uint64_t flow, uint64_t off, size_t len)
{
	return 1 + varint_len(flow) + varint_len(off) + 1 + varint_len(len);
}

int wire_put_stream(struct wbuf *b, uint64_t flow, uint64_t off, int fin, const uint8_t *data,
		    size_t len)
{
	struct wbuf t = *b;

	if (put_u8(&t, WF_STREAM) < 0 || varint_put(&t, flow) < 0 || varint_put(&t, off) < 0 ||
	    put_u8(&t, fin ? WIRE_STREAM_FIN : 0) < 0 || varint_put(&t, len) < 0 ||
	    (data && put_bytes(&t, data, len) < 0))
		return -1;
	if (!data && wbuf_room(&t) < len)
		return -1;
	return COMMIT(b, t);
}

size_t wire_dgram_hdr_len(uint64_t flow, uint64_t seq, uint32_t total, uint32_t frag, size_t len)
{
	return 1 + varint_len(flow) + varint_len(seq) + varint_len(total) + varint_len(frag) +
	       varint_len(len);
}

int wire_put_dgram(struct wbuf *b, uint64_t flow, uint64_t seq, uint32_t total, uint32_t frag,
		   const uint8_t *data, size_t len)
{
	struct wbuf t = *b;

	if (put_u8(&t, WF_DATAGRAM) < 0 || varint_put(&t, flow) < 0 || varint_put(&t, seq) < 0 ||
	    varint_put(&t, total) < 0 || varint_put(&t, frag) < 0 || varint_put(&t, len) < 0)
		return -1;
	if (data ? put_bytes(&t, data, len) < 0 : wbuf_room(&t) < len)
		return -1;
	return COMMIT(b, t);
}

int wire_put_path(struct wbuf *b, uint8_t type, const uint8_t data[WIRE_PATH_DATA_LEN])
{
	struct wbuf t = *b;

	if (put_u8(&t, type) < 0 || put_bytes(&t, data, WIRE_PATH_DATA_LEN) < 0)
		return -1;
	return COMMIT(b, t);
}

int wire_put_candidates(struct wbuf *b, const uint8_t *method, const struct ipport *addr,
			size_t n)
{
	struct wbuf t = *b;
	size_t i;

	if (n > WIRE_MAX_CANDIDATES || put_u8(&t, WF_CANDIDATES) < 0 || put_u8(&t, (uint8_t)n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (put_u8(&t, method[i]) < 0 || put_ipport(&t, &addr[i]) < 0)
			return -1;
	}
	return COMMIT(b, t);
}

int wire_put_relay_observed(struct wbuf *b, const struct ipport *addr)
{
	struct wbuf t = *b;

	if (put_u8(&t, WF_RELAY_OBSERVED) < 0 || put_ipport(&t, addr) < 0)
		return -1;
	return COMMIT(b, t);
}

int wire_put_path_method(struct wbuf *b, uint8_t method)
{
	struct wbuf t = *b;

	if (method > 2 || put_u8(&t, WF_PATH_METHOD) < 0 || put_u8(&t, method) < 0)
		return -1;
	return COMMIT(b, t);
}

int wire_put_relay_cand(struct wbuf *b, uint8_t type, const uint8_t key[WIRE_KEY_LEN],
			uint32_t channel, const uint8_t *method, const struct ipport *addr, size_t n)
{
	struct wbuf t = *b;
	uint8_t ch[4];
	size_t i;

	put_be32(ch, channel);
	if (n > WIRE_MAX_CANDIDATES || put_u8(&t, type) < 0 || put_bytes(&t, key, WIRE_KEY_LEN) < 0 ||
	    put_bytes(&t, ch, 4) < 0 || put_u8(&t, (uint8_t)n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (put_u8(&t, method[i]) < 0 || put_ipport(&t, &addr[i]) < 0)
			return -1;
	}
	return COMMIT(b, t);
}

int wire_put_network_deleted(struct wbuf *b, const struct netid *net)
{
	struct wbuf t = *b;

	if (put_u8(&t, WF_NETWORK_DELETED) < 0 || put_bytes(&t, net->b, NETID_LEN) < 0)
		return -1;
	return COMMIT(b, t);
}
