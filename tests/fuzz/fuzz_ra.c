/* fuzz_ra.c: router advertisements (src/core/ra.c): the solicitation
 * parser on what a VM sends, the builder, and the scheduler.
 *
 * The first byte shapes the configuration (MAC, MTU, DNS, flags) for
 * ra_build(), which runs against every buffer size; then a 2-byte length
 * and that many bytes of ICMPv6 for ra_parse_rs(), whose verdict is checked
 * against an independent reading of RFC 4861 6.1.1; the rest drives the
 * scheduler: a 4-byte seed, then events (a byte: solicitation or a send
 * when due, and a 2-byte time step in ms).  The scheduler never brings an
 * advertisement closer than MIN_DELAY_BETWEEN_RAS to the previous one,
 * never pushes one back on a solicitation, and its intervals stay in their
 * bounds. */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "fuzz.h"
#include "log.h"
#include "ra.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void build(uint8_t shape)
{
	static const uint8_t mac[6] = { 0x02, 0x6f, 0x6d, 0x6e, 0x65, 0x74 };
	struct ra_config c;
	uint8_t out[RA_MAX];
	size_t full, cap;

	ra_config_default(&c);
	memcpy(c.mac, mac, 6);
	c.have_mac = shape & 1;
	c.mtu = shape & 2 ? 1400 : 0;
	if (shape & 4)
		memset(&c.dns, 0, sizeof(c.dns));
	c.managed = shape & 8;
	c.other = shape & 16;
	full = ra_build(&c, out, sizeof(out));
	CHECK(full >= 48 && full <= RA_MAX && full % 8 == 0);
	CHECK(out[0] == 134 && out[1] == 0 && out[4] == 64);
	CHECK(!!(out[5] & 0x80) == !!c.managed && !!(out[5] & 0x40) == !!c.other);
	for (cap = 0; cap < full; cap++)
		CHECK(ra_build(&c, out, cap) == 0);
}

/* rs_valid() - RFC 4861 6.1.1 read independently of ra.c */
static int rs_valid(const uint8_t *m, size_t len, uint8_t mac[6], int *have)
{
	size_t off;

	*have = 0;
	if (len < 8 || m[0] != 133 || m[1] != 0)
		return -1;
	for (off = 8; off < len; off += (size_t)m[off + 1] * 8) {
		if (off + 2 > len || m[off + 1] == 0 || off + (size_t)m[off + 1] * 8 > len)
			return -1;
		if (m[off] == 1 && m[off + 1] != 1)
			return -1;
		if (m[off] == 1 && !*have) {
			memcpy(mac, m + off + 2, 6);
			*have = 1;
		}
	}
	return 0;
}

static void parse(struct fin *in)
{
	const uint8_t *msg;
	size_t len = fin_take(in, fin_u16(in) % 1500, &msg);
	uint8_t *copy = malloc(len ? len : 1), mac[6], want_mac[6];
	int have, want_have, r;

	memcpy(copy, msg, len);
	r = ra_parse_rs(copy, len, mac, &have);
	CHECK(r == rs_valid(copy, len, want_mac, &want_have));
	CHECK(r == 0 || have == 0);
	if (r == 0) {
		CHECK(have == want_have);
		if (have)
			CHECK(memcmp(mac, want_mac, 6) == 0);
	}
	free(copy);
}

static void schedule(struct fin *in)
{
	struct ra_sched s;
	uint64_t now = fin_u32(in), last = 0, before;
	unsigned sent = 0;
	int n = 0;

	ra_sched_init(&s, now, fin_u32(in));
	CHECK(ra_sched_next(&s) == now);
	while (in->n && n++ < 256) {
		uint8_t op = fin_u8(in);

		now += fin_u16(in);
		before = ra_sched_next(&s);
		if (op & 1) {
			ra_sched_solicited(&s, now);
			CHECK(ra_sched_next(&s) <= before);
			CHECK(ra_sched_next(&s) >= before || ra_sched_next(&s) >= now);
			CHECK(ra_sched_next(&s) <= now + RA_MAX_DELAY_MS ||
			      ra_sched_next(&s) <= last + RA_MIN_GAP_MS + RA_MAX_DELAY_MS ||
			      ra_sched_next(&s) == before);
			continue;
		}
		/* the glue sends once it is due, maybe late */
		now = now > before ? now : before;
		if (sent)
			CHECK(now - last >= RA_MIN_GAP_MS);
		ra_sched_sent(&s, now);
		sent++;
		last = now;
		if (sent < RA_INITIAL_ADVERTS)
			CHECK(ra_sched_next(&s) - now == RA_INITIAL_INTERVAL_MS);
		else
			CHECK(ra_sched_next(&s) - now >= RA_MIN_INTERVAL_MS &&
			      ra_sched_next(&s) - now <= RA_MAX_INTERVAL_MS);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fin in = { data, size };

	build(fin_u8(&in));
	parse(&in);
	schedule(&in);
	return 0;
}

/* ---- seeds: solicitations as hosts send them, and a boot ------------ */

struct prog {
	uint8_t b[512];
	size_t n;
};

static void prog_rs(struct prog *p, uint8_t shape, const uint8_t *rs, size_t len)
{
	p->n = 0;
	p->b[p->n++] = shape;
	p->b[p->n++] = (uint8_t)(len >> 8);
	p->b[p->n++] = (uint8_t)len;
	memcpy(p->b + p->n, rs, len);
	p->n += len;
	memset(p->b + p->n, 0, 8); /* time 0, seed 0 */
	p->n += 8;
}

static void prog_event(struct prog *p, uint8_t op, uint16_t step_ms)
{
	p->b[p->n++] = op;
	p->b[p->n++] = (uint8_t)(step_ms >> 8);
	p->b[p->n++] = (uint8_t)step_ms;
}

static void seeds(const char *dir)
{
	/* Linux with a link-local address, and from :: during DAD */
	static const uint8_t linux_rs[16] = { 0x85, 0, 0x3a, 0x7c, 0, 0, 0, 0,
					      1, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
	static const uint8_t nonce_rs[24] = { 0x85, 0, 0, 0, 0, 0, 0, 0,
					      14, 1, 1, 2, 3, 4, 5, 6,
					      1, 1, 0x52, 0x54, 0, 0, 0, 1 };
	struct prog p;
	int i;

	prog_rs(&p, 0x1f, linux_rs, sizeof(linux_rs));
	fuzz_seed(dir, "linux-rs", p.b, p.n);
	prog_rs(&p, 0x00, linux_rs, 8);
	fuzz_seed(dir, "unspecified-rs", p.b, p.n);
	prog_rs(&p, 0x03, nonce_rs, sizeof(nonce_rs));
	fuzz_seed(dir, "nonce-rs", p.b, p.n);
	/* a boot: the first advertisement, solicitations, the rest */
	prog_rs(&p, 0x1b, linux_rs, sizeof(linux_rs));
	prog_event(&p, 0, 0);
	prog_event(&p, 1, 500);
	prog_event(&p, 1, 1000);
	for (i = 0; i < 8; i++)
		prog_event(&p, 0, 4000);
	prog_event(&p, 1, 60000);
	prog_event(&p, 0, 600);
	fuzz_seed(dir, "boot", p.b, p.n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(-1);
	fuzz_make_seeds(argc, argv, seeds);
	return 0;
}
