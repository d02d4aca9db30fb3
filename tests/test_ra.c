/* test_ra.c: router advertisements: the message against reference bytes,
 * router solicitations as hosts send them, and the scheduler's timing over
 * many seeds with a simulated clock. */
#include <arpa/inet.h>
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "ra.h"

#define SEEDS 2000

static const uint8_t router_mac[6] = { 0x02, 0x6f, 0x6d, 0x6e, 0x65, 0x74 };

/* full_config() - the defaults plus the router's MAC and an MTU */
static void full_config(struct ra_config *c)
{
	ra_config_default(c);
	memcpy(c->mac, router_mac, 6);
	c->have_mac = 1;
	c->mtu = 1500;
}

/* addr() - a parsed IPv6 address */
static struct in6_addr addr(const char *s)
{
	struct in6_addr a;

	ck_assert_int_eq(inet_pton(AF_INET6, s, &a), 1);
	return a;
}

/* --- configuration --- */

START_TEST(test_default_config)
{
	struct ra_config c;
	struct in6_addr p = addr("fd6f:6d6e:6574::"), d = addr("fd6f:6d6e:6574::3");

	memset(&c, 0xaa, sizeof(c));
	ra_config_default(&c);
	ck_assert_mem_eq(&c.prefix, &p, 16);
	ck_assert_mem_eq(&c.dns, &d, 16);
	ck_assert_uint_eq(c.router_lifetime_s, 1800);
	ck_assert_uint_eq(c.prefix_valid_s, 86400);
	ck_assert_uint_eq(c.prefix_preferred_s, 14400);
	ck_assert_uint_eq(c.rdnss_lifetime_s, 3 * RA_MAX_INTERVAL_MS / 1000);
	ck_assert_uint_eq(c.mtu, 0);
	ck_assert_int_eq(c.have_mac, 0);
	ck_assert_int_eq(c.managed, 1);
	ck_assert_int_eq(c.other, 1);
	ck_assert_int_eq(ra_config_check(&c), 0);
}
END_TEST

START_TEST(test_bad_config_is_refused)
{
	struct ra_config c;

	ra_config_default(&c);
	c.prefix = addr("fe80::");
	ck_assert_int_eq(ra_config_check(&c), -1);
	c.prefix = addr("ff02::");
	ck_assert_int_eq(ra_config_check(&c), -1);
	c.prefix = addr("::");
	ck_assert_int_eq(ra_config_check(&c), -1);
	c.prefix = addr("2001:db8:1:2::");
	ck_assert_int_eq(ra_config_check(&c), 0);
	ra_config_default(&c);
	c.prefix_preferred_s = c.prefix_valid_s + 1;
	ck_assert_int_eq(ra_config_check(&c), -1);
	ra_config_default(&c);
	c.router_lifetime_s = 599;
	ck_assert_int_eq(ra_config_check(&c), -1);
	c.router_lifetime_s = 9001;
	ck_assert_int_eq(ra_config_check(&c), -1);
	c.router_lifetime_s = 0; /* not a default router: allowed */
	ck_assert_int_eq(ra_config_check(&c), 0);
	ra_config_default(&c);
	c.mtu = 1279;
	ck_assert_int_eq(ra_config_check(&c), -1);
	c.mtu = 1280;
	ck_assert_int_eq(ra_config_check(&c), 0);
	ra_config_default(&c);
	c.dns = addr("ff02::fb");
	ck_assert_int_eq(ra_config_check(&c), -1);
	ra_config_default(&c);
	c.rdnss_lifetime_s = 599;
	ck_assert_int_eq(ra_config_check(&c), -1);
	c.dns = addr("::"); /* no RDNSS: its lifetime does not matter */
	ck_assert_int_eq(ra_config_check(&c), 0);
}
END_TEST

/* --- the advertisement --- */

/* What radvd would send for the full configuration. */
static const uint8_t ra_full[RA_MAX] = {
	/* type 134, code 0, checksum left to the kernel */
	0x86, 0x00, 0x00, 0x00,
	/* hop limit 64, M and O, router lifetime 1800 */
	0x40, 0xc0, 0x07, 0x08,
	/* reachable time, retransmission timer: unspecified */
	0, 0, 0, 0, 0, 0, 0, 0,
	/* source link-layer address */
	0x01, 0x01, 0x02, 0x6f, 0x6d, 0x6e, 0x65, 0x74,
	/* MTU 1500 */
	0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0xdc,
	/* prefix information: /64, L and A, valid 86400, preferred 14400 */
	0x03, 0x04, 0x40, 0xc0, 0x00, 0x01, 0x51, 0x80,
	0x00, 0x00, 0x38, 0x40, 0x00, 0x00, 0x00, 0x00,
	0xfd, 0x6f, 0x6d, 0x6e, 0x65, 0x74, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	/* RDNSS: lifetime 1800, fd6f:6d6e:6574::3 */
	0x19, 0x03, 0x00, 0x00, 0x00, 0x00, 0x07, 0x08,
	0xfd, 0x6f, 0x6d, 0x6e, 0x65, 0x74, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
};

START_TEST(test_build_full_matches_reference_bytes)
{
	struct ra_config c;
	uint8_t out[RA_MAX + 16];

	full_config(&c);
	memset(out, 0xee, sizeof(out));
	ck_assert_uint_eq(ra_build(&c, out, sizeof(out)), RA_MAX);
	ck_assert_mem_eq(out, ra_full, RA_MAX);
	ck_assert_uint_eq(out[RA_MAX], 0xee);
}
END_TEST

START_TEST(test_build_minimal_has_prefix_only)
{
	static const uint8_t want[48] = {
		0x86, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00,
		0, 0, 0, 0, 0, 0, 0, 0,
		0x03, 0x04, 0x40, 0xc0, 0x00, 0x00, 0x0e, 0x10,
		0x00, 0x00, 0x07, 0x08, 0x00, 0x00, 0x00, 0x00,
		0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x02,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	struct ra_config c;
	uint8_t out[RA_MAX];

	ra_config_default(&c);
	c.prefix = addr("2001:db8:1:2::");
	c.dns = addr("::");
	c.managed = 0;
	c.other = 0;
	c.router_lifetime_s = 0;
	c.prefix_valid_s = 3600;
	c.prefix_preferred_s = 1800;
	ck_assert_uint_eq(ra_build(&c, out, sizeof(out)), sizeof(want));
	ck_assert_mem_eq(out, want, sizeof(want));
}
END_TEST

START_TEST(test_build_flags_follow_config)
{
	struct ra_config c;
	uint8_t out[RA_MAX];

	ra_config_default(&c);
	c.managed = 0;
	ck_assert_uint_gt(ra_build(&c, out, sizeof(out)), 0);
	ck_assert_uint_eq(out[5], 0x40);
	c.managed = 1;
	c.other = 0;
	ck_assert_uint_gt(ra_build(&c, out, sizeof(out)), 0);
	ck_assert_uint_eq(out[5], 0x80);
}
END_TEST

START_TEST(test_build_zeroes_host_half_of_prefix)
{
	struct ra_config c;
	uint8_t out[RA_MAX];

	ra_config_default(&c);
	c.prefix = addr("fd6f:6d6e:6574:0:1:2:3:4");
	ck_assert_uint_eq(ra_build(&c, out, sizeof(out)), 72);
	ck_assert_mem_eq(out + 16, ra_full + 32, 32);
}
END_TEST

START_TEST(test_build_too_small_buffer_gives_zero)
{
	struct ra_config c;
	uint8_t out[RA_MAX + 1];
	size_t cap;

	full_config(&c);
	for (cap = 0; cap < RA_MAX; cap++) {
		memset(out, 0xee, sizeof(out));
		ck_assert_uint_eq(ra_build(&c, out, cap), 0);
		ck_assert_uint_eq(out[0], 0xee);
	}
	ck_assert_uint_eq(ra_build(&c, out, RA_MAX), RA_MAX);
}
END_TEST

START_TEST(test_build_router_lifetime_is_16_bits)
{
	struct ra_config c;
	uint8_t out[RA_MAX];

	ra_config_default(&c);
	c.router_lifetime_s = 70000; /* refused by the check, still clamped */
	ck_assert_uint_gt(ra_build(&c, out, sizeof(out)), 0);
	ck_assert_uint_eq(out[6], 0xff);
	ck_assert_uint_eq(out[7], 0xff);
}
END_TEST

/* --- solicitations --- */

/* A Linux kernel's solicitation once its interface has a link-local
 * address: the checksum as received, the reserved field, its MAC. */
static const uint8_t rs_linux[16] = {
	0x85, 0x00, 0x3a, 0x7c, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
};

START_TEST(test_rs_from_linux_gives_its_mac)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	uint8_t got[6];
	int have = -1;

	ck_assert_int_eq(ra_parse_rs(rs_linux, sizeof(rs_linux), got, &have), 0);
	ck_assert_int_eq(have, 1);
	ck_assert_mem_eq(got, mac, 6);
}
END_TEST

START_TEST(test_rs_without_options_is_valid)
{
	uint8_t got[6];
	int have = -1;

	/* what a host sends from :: before it has an address (6.3.7) */
	ck_assert_int_eq(ra_parse_rs(rs_linux, 8, got, &have), 0);
	ck_assert_int_eq(have, 0);
	ck_assert_mem_eq(got, "\0\0\0\0\0\0", 6);
}
END_TEST

START_TEST(test_rs_every_prefix)
{
	uint8_t got[6];
	size_t len;
	int have;

	for (len = 0; len <= sizeof(rs_linux); len++) {
		int want = len == 8 || len == sizeof(rs_linux) ? 0 : -1;

		ck_assert_msg(ra_parse_rs(rs_linux, len, got, &have) == want, "length %zu", len);
	}
	ck_assert_int_eq(ra_parse_rs(NULL, 0, got, &have), -1);
}
END_TEST

START_TEST(test_rs_wrong_type_or_code_is_refused)
{
	uint8_t m[16], got[6];
	int have;

	memcpy(m, rs_linux, sizeof(m));
	m[0] = 134; /* another router's advertisement */
	ck_assert_int_eq(ra_parse_rs(m, sizeof(m), got, &have), -1);
	m[0] = 135;
	ck_assert_int_eq(ra_parse_rs(m, sizeof(m), got, &have), -1);
	m[0] = 133;
	m[1] = 1;
	ck_assert_int_eq(ra_parse_rs(m, sizeof(m), got, &have), -1);
	m[1] = 0;
	ck_assert_int_eq(ra_parse_rs(m, sizeof(m), got, &have), 0);
}
END_TEST

START_TEST(test_rs_bad_options_are_refused)
{
	uint8_t m[32], got[6];
	int have;

	memcpy(m, rs_linux, 16);
	m[9] = 0; /* length 0 */
	ck_assert_int_eq(ra_parse_rs(m, 16, got, &have), -1);
	m[8] = 14; /* an option we skip, of length 0: no way past it */
	ck_assert_int_eq(ra_parse_rs(m, 16, got, &have), -1);
	m[8] = 1;
	m[9] = 2; /* 16 octets in a 16-octet message: past the end */
	ck_assert_int_eq(ra_parse_rs(m, 16, got, &have), -1);
	memset(m + 16, 0, 8); /* room for it, but not an Ethernet address */
	ck_assert_int_eq(ra_parse_rs(m, 24, got, &have), -1);
	ck_assert_int_eq(have, 0);
	memcpy(m, rs_linux, 16);
	m[16] = 14; /* a nonce option cut after its type */
	ck_assert_int_eq(ra_parse_rs(m, 17, got, &have), -1);
	/* a good address before a bad option: nothing of it comes out */
	m[17] = 0;
	ck_assert_int_eq(ra_parse_rs(m, 24, got, &have), -1);
	ck_assert_int_eq(have, 0);
	ck_assert_mem_eq(got, "\0\0\0\0\0\0", 6);
}
END_TEST

START_TEST(test_rs_unknown_options_are_skipped)
{
	static const uint8_t m[32] = {
		0x85, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, /* reserved: ignored */
		14, 1, 1, 2, 3, 4, 5, 6,                        /* nonce (RFC 3971) */
		0x01, 0x01, 0x52, 0x54, 0x00, 0x00, 0x00, 0x01, /* the first address */
		0x01, 0x01, 0x52, 0x54, 0x00, 0x00, 0x00, 0x02, /* a repeat */
	};
	uint8_t got[6];
	int have;

	ck_assert_int_eq(ra_parse_rs(m, sizeof(m), got, &have), 0);
	ck_assert_int_eq(have, 1);
	ck_assert_uint_eq(got[5], 1);
}
END_TEST

/* --- the scheduler --- */

/* run_until() - send whatever is due at or before now_ms, as the glue does;
 * the time of the last one sent, or 0 */
static uint64_t run_until(struct ra_sched *s, uint64_t now_ms)
{
	uint64_t last = 0;

	while (ra_sched_next(s) <= now_ms) {
		last = ra_sched_next(s);
		ra_sched_sent(s, last);
	}
	return last;
}

START_TEST(test_sched_first_advert_is_due_at_once)
{
	struct ra_sched s;

	ra_sched_init(&s, 123456, 42);
	ck_assert_uint_eq(ra_sched_next(&s), 123456);
}
END_TEST

START_TEST(test_sched_three_fast_then_slow)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	uint32_t seed;

	for (seed = 0; seed < SEEDS; seed++) {
		struct ra_sched s;
		uint64_t t = 1000, next;
		int i;

		ra_sched_init(&s, t, seed);
		for (i = 0; i < 10; i++) {
			t = ra_sched_next(&s);
			ra_sched_sent(&s, t);
			next = ra_sched_next(&s);
			if (i < RA_INITIAL_ADVERTS - 1) {
				/* 6.2.4: at most the initial interval apart, and
				 * never under MIN_DELAY_BETWEEN_RAS */
				ck_assert_uint_eq(next - t, RA_INITIAL_INTERVAL_MS);
				ck_assert_uint_ge(next - t, RA_MIN_GAP_MS);
				continue;
			}
			ck_assert_uint_ge(next - t, RA_MIN_INTERVAL_MS);
			ck_assert_uint_le(next - t, RA_MAX_INTERVAL_MS);
			lo = next - t < lo ? next - t : lo;
			hi = next - t > hi ? next - t : hi;
		}
	}
	/* the draws cover the range, not one point of it */
	ck_assert_uint_lt(lo, RA_MIN_INTERVAL_MS + 2000);
	ck_assert_uint_gt(hi, RA_MAX_INTERVAL_MS - 2000);
}
END_TEST

START_TEST(test_sched_solicit_brings_next_within_max_delay)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	uint32_t seed;

	for (seed = 1; seed <= SEEDS; seed++) {
		struct ra_sched s;
		uint64_t last, rs;

		ra_sched_init(&s, 0, seed);
		last = run_until(&s, 20000); /* past the initial three */
		ck_assert_uint_eq(last, 2 * RA_INITIAL_INTERVAL_MS);
		rs = last + RA_MIN_GAP_MS + seed % 100000;
		ra_sched_solicited(&s, rs);
		ck_assert_uint_ge(ra_sched_next(&s), rs);
		ck_assert_uint_le(ra_sched_next(&s), rs + RA_MAX_DELAY_MS);
		lo = ra_sched_next(&s) - rs < lo ? ra_sched_next(&s) - rs : lo;
		hi = ra_sched_next(&s) - rs > hi ? ra_sched_next(&s) - rs : hi;
	}
	ck_assert_uint_lt(lo, 10);
	ck_assert_uint_gt(hi, RA_MAX_DELAY_MS - 10);
}
END_TEST

START_TEST(test_sched_solicit_keeps_min_gap_after_last)
{
	uint32_t seed;

	for (seed = 1; seed <= SEEDS; seed++) {
		struct ra_sched s;
		uint64_t last;

		ra_sched_init(&s, 0, seed);
		last = run_until(&s, 20000);
		ra_sched_solicited(&s, last + 1000);
		ck_assert_uint_ge(ra_sched_next(&s), last + RA_MIN_GAP_MS);
		ck_assert_uint_le(ra_sched_next(&s), last + RA_MIN_GAP_MS + RA_MAX_DELAY_MS);
	}
}
END_TEST

START_TEST(test_sched_solicit_never_postpones)
{
	uint32_t seed;

	for (seed = 1; seed <= SEEDS; seed++) {
		struct ra_sched s;

		ra_sched_init(&s, 0, seed);
		ra_sched_solicited(&s, 0); /* the first is due now already */
		ck_assert_uint_eq(ra_sched_next(&s), 0);
		ra_sched_sent(&s, 0);
		/* the second is due at 4 s; a solicitation at 3.9 s may bring
		 * it forward by up to 100 ms, never push it back */
		ra_sched_solicited(&s, 3900);
		ck_assert_uint_ge(ra_sched_next(&s), 3900);
		ck_assert_uint_le(ra_sched_next(&s), RA_INITIAL_INTERVAL_MS);
	}
}
END_TEST

START_TEST(test_sched_solicitation_flood_is_rate_limited)
{
	uint32_t seed;

	for (seed = 1; seed <= 50; seed++) {
		struct ra_sched s;
		uint64_t t, prev = 0;
		unsigned n = 0;

		ra_sched_init(&s, 0, seed);
		/* a solicitation every 100 ms for an hour */
		for (t = 0; t < 3600000; t += 100) {
			ra_sched_solicited(&s, t);
			if (ra_sched_next(&s) > t)
				continue;
			if (n++)
				ck_assert_uint_ge(t - prev, RA_MIN_GAP_MS);
			prev = t;
			ra_sched_sent(&s, t);
		}
		/* but answered: one advertisement in every 3.5 s at least */
		ck_assert_uint_ge(n, 3600000 / (RA_MIN_GAP_MS + RA_MAX_DELAY_MS + 100));
	}
}
END_TEST

START_TEST(test_sched_is_deterministic_per_seed)
{
	struct ra_sched a, b, c;
	int i, differ = 0;

	ra_sched_init(&a, 0, 7);
	ra_sched_init(&b, 0, 7);
	ra_sched_init(&c, 0, 8);
	for (i = 0; i < 20; i++) {
		ra_sched_sent(&a, ra_sched_next(&a));
		ra_sched_sent(&b, ra_sched_next(&b));
		ra_sched_sent(&c, ra_sched_next(&c));
		ck_assert_uint_eq(ra_sched_next(&a), ra_sched_next(&b));
		differ |= ra_sched_next(&a) != ra_sched_next(&c);
	}
	ck_assert_int_eq(differ, 1);
}
END_TEST

START_TEST(test_sched_seed_zero_still_random)
{
	struct ra_sched s;
	uint64_t t, prev_interval = 0;
	int i, changes = 0;

	ra_sched_init(&s, 0, 0);
	for (i = 0; i < 20; i++) {
		t = ra_sched_next(&s);
		ra_sched_sent(&s, t);
		if (i >= RA_INITIAL_ADVERTS) {
			changes += ra_sched_next(&s) - t != prev_interval;
			prev_interval = ra_sched_next(&s) - t;
		}
	}
	ck_assert_int_gt(changes, 10);
}
END_TEST

static Suite *ra_suite(void)
{
	Suite *s = suite_create("ra");
	TCase *msg = tcase_create("messages"), *sched = tcase_create("scheduler");

	tcase_add_test(msg, test_default_config);
	tcase_add_test(msg, test_bad_config_is_refused);
	tcase_add_test(msg, test_build_full_matches_reference_bytes);
	tcase_add_test(msg, test_build_minimal_has_prefix_only);
	tcase_add_test(msg, test_build_flags_follow_config);
	tcase_add_test(msg, test_build_zeroes_host_half_of_prefix);
	tcase_add_test(msg, test_build_too_small_buffer_gives_zero);
	tcase_add_test(msg, test_build_router_lifetime_is_16_bits);
	tcase_add_test(msg, test_rs_from_linux_gives_its_mac);
	tcase_add_test(msg, test_rs_without_options_is_valid);
	tcase_add_test(msg, test_rs_every_prefix);
	tcase_add_test(msg, test_rs_wrong_type_or_code_is_refused);
	tcase_add_test(msg, test_rs_bad_options_are_refused);
	tcase_add_test(msg, test_rs_unknown_options_are_skipped);
	suite_add_tcase(s, msg);
	tcase_set_timeout(sched, 60);
	tcase_add_test(sched, test_sched_first_advert_is_due_at_once);
	tcase_add_test(sched, test_sched_three_fast_then_slow);
	tcase_add_test(sched, test_sched_solicit_brings_next_within_max_delay);
	tcase_add_test(sched, test_sched_solicit_keeps_min_gap_after_last);
	tcase_add_test(sched, test_sched_solicit_never_postpones);
	tcase_add_test(sched, test_sched_solicitation_flood_is_rate_limited);
	tcase_add_test(sched, test_sched_is_deterministic_per_seed);
	tcase_add_test(sched, test_sched_seed_zero_still_random);
	suite_add_tcase(s, sched);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	log_init(-1); /* warnings only */
	sr = srunner_create(ra_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
