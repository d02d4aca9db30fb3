/* test_hslimit.c: handshake limits per source, on a simulated clock.
 *
 * A source gets a burst of handshakes and then a few a second; spending
 * needs a checked cookie, and looking does not spend.  A source at its
 * limit of pending handshakes replaces its own oldest; when all sources
 * together are at the cap, the busiest one gives way, never the newcomer.
 * IPv4 addresses (also as a dual-stack socket shows them) are sources of
 * their own, IPv6 addresses count by /64, and relay channels apart. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "hslimit.h"

static struct hs_key key(const char *ip, uint32_t channel)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct hs_key k;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
	}
	hs_key_of(&k, (struct sockaddr *)&ss, channel);
	return k;
}

START_TEST(test_keys_ipv4_ipv6_64_and_channels)
{
	struct hs_key a = key("198.51.100.10", 0), b = key("::ffff:198.51.100.10", 0);

	ck_assert(hs_key_eq(&a, &b));
	b = key("198.51.100.11", 0);
	ck_assert(!hs_key_eq(&a, &b));
	b = key("198.51.100.10", 7);
	ck_assert(!hs_key_eq(&a, &b));
	a = key("2001:db8:1:2::1", 0);
	b = key("2001:db8:1:2:ffff::9", 0);
	ck_assert(hs_key_eq(&a, &b));
	b = key("2001:db8:1:3::1", 0);
	ck_assert(!hs_key_eq(&a, &b));
	/* two IPv4 sources never share a key through the mapped form */
	a = key("::ffff:192.0.2.1", 0);
	b = key("::ffff:192.0.2.2", 0);
	ck_assert(!hs_key_eq(&a, &b));
}
END_TEST

START_TEST(test_burst_then_rate)
{
	static struct hslimit h;
	struct hs_key k = key("198.51.100.10", 0), other = key("198.51.100.20", 0), ev;
	uint64_t now = 1000;
	unsigned i, admitted = 0;

	for (i = 0; i < 100; i++) {
		if (hslimit_admit(&h, &k, now, &ev) != HS_REFUSE_RATE) {
			admitted++;
			hslimit_done(&h, &k);
		}
	}
	ck_assert_uint_eq(admitted, HS_BURST);
	ck_assert(!hslimit_may_try(&h, &k, now));
	/* another source is not concerned */
	ck_assert(hslimit_may_try(&h, &other, now));
	ck_assert_int_eq(hslimit_admit(&h, &other, now, &ev), HS_ADMIT);
	/* one token every 1000 / HS_RATE_PER_S ms */
	now += 1000 / HS_RATE_PER_S - 1;
	ck_assert(!hslimit_may_try(&h, &k, now));
	now += 1;
	ck_assert(hslimit_may_try(&h, &k, now));
	ck_assert_int_ne(hslimit_admit(&h, &k, now, &ev), HS_REFUSE_RATE);
	ck_assert_int_eq(hslimit_admit(&h, &k, now, &ev), HS_REFUSE_RATE);
	/* over a minute of flooding, the rate holds */
	for (admitted = 0, i = 0; i < 60000; i++, now++) {
		if (hslimit_admit(&h, &k, now, &ev) != HS_REFUSE_RATE) {
			admitted++;
			hslimit_done(&h, &k);
		}
	}
	ck_assert_uint_le(admitted, 60 * HS_RATE_PER_S);
	ck_assert_uint_ge(admitted, 60 * HS_RATE_PER_S - 1);
}
END_TEST

START_TEST(test_looking_spends_nothing)
{
	static struct hslimit h;
	struct hs_key k = key("198.51.100.10", 0), ev;
	unsigned i;

	for (i = 0; i < 10000; i++)
		ck_assert(hslimit_may_try(&h, &k, 5));
	for (i = 0; i < HS_BURST; i++) {
		ck_assert_int_ne(hslimit_admit(&h, &k, 5, &ev), HS_REFUSE_RATE);
		hslimit_done(&h, &k);
	}
}
END_TEST

START_TEST(test_source_at_its_limit_replaces_its_own)
{
	static struct hslimit h;
	struct hs_key k = key("198.51.100.10", 0), ev;
	unsigned i;

	for (i = 0; i < HS_PER_SOURCE; i++)
		ck_assert_int_eq(hslimit_admit(&h, &k, 10, &ev), HS_ADMIT);
	ck_assert_int_eq(hslimit_admit(&h, &k, 10, &ev), HS_ADMIT_EVICT_SOURCE);
	ck_assert(hs_key_eq(&ev, &k));
	hslimit_done(&h, &k); /* the caller evicted one */
	ck_assert_uint_eq(hslimit_pending(&h, &k), HS_PER_SOURCE);
	ck_assert_uint_eq(h.pending, HS_PER_SOURCE);
}
END_TEST

START_TEST(test_global_cap_takes_from_the_busiest)
{
	static struct hslimit h;
	struct hs_key k, busy = key("203.0.113.250", 0), late = key("192.0.2.1", 0), ev;
	char ip[32];
	unsigned i, j;

	/* many sources hold the cap between them; one holds the most */
	for (i = 0; i < HS_PER_SOURCE; i++)
		ck_assert_int_eq(hslimit_admit(&h, &busy, 10, &ev), HS_ADMIT);
	for (i = 0; h.pending < HS_TOTAL; i++) {
		snprintf(ip, sizeof(ip), "203.0.113.%u", i + 1);
		k = key(ip, 0);
		for (j = 0; j < HS_PER_SOURCE - 1 && h.pending < HS_TOTAL; j++)
			ck_assert_int_eq(hslimit_admit(&h, &k, 10, &ev), HS_ADMIT);
	}
	/* the late peer is admitted; the busiest gives way */
	ck_assert_int_eq(hslimit_admit(&h, &late, 10, &ev), HS_ADMIT_EVICT_BUSIEST);
	ck_assert(hs_key_eq(&ev, &busy));
	hslimit_done(&h, &busy);
	ck_assert_uint_eq(h.pending, HS_TOTAL);
	ck_assert_uint_eq(hslimit_pending(&h, &late), 1);
	/* the done of a source never seen changes nothing */
	k = key("198.18.0.1", 0);
	hslimit_done(&h, &k);
	ck_assert_uint_eq(h.pending, HS_TOTAL);
}
END_TEST

START_TEST(test_many_sources_are_remembered_within_bounds)
{
	static struct hslimit h;
	struct hs_key k, ev;
	char ip[32];
	unsigned i;

	for (i = 0; i < 4 * HS_SOURCES; i++) {
		snprintf(ip, sizeof(ip), "2001:db8:%x::1", i);
		k = key(ip, 0);
		ck_assert_int_eq(hslimit_admit(&h, &k, 10 + i, &ev), HS_ADMIT);
		hslimit_done(&h, &k);
	}
	ck_assert_uint_eq(h.pending, 0);
	/* one that holds handshakes is never forgotten */
	k = key("198.51.100.10", 0);
	for (i = 0; i < HS_BURST; i++)
		if (hslimit_admit(&h, &k, 50000, &ev) == HS_ADMIT_EVICT_SOURCE)
			hslimit_done(&h, &ev);
	for (i = 0; i < 4 * HS_SOURCES; i++) {
		snprintf(ip, sizeof(ip), "2001:db8:%x::2", i);
		struct hs_key o = key(ip, 0);

		hslimit_admit(&h, &o, 50001 + i, &ev);
		hslimit_done(&h, &o);
	}
	ck_assert_uint_eq(hslimit_pending(&h, &k), HS_PER_SOURCE);
	ck_assert(!hslimit_may_try(&h, &k, 50001));
}
END_TEST

static Suite *hslimit_suite(void)
{
	Suite *s = suite_create("hslimit");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_keys_ipv4_ipv6_64_and_channels);
	tcase_add_test(tc, test_burst_then_rate);
	tcase_add_test(tc, test_looking_spends_nothing);
	tcase_add_test(tc, test_source_at_its_limit_replaces_its_own);
	tcase_add_test(tc, test_global_cap_takes_from_the_busiest);
	tcase_add_test(tc, test_many_sources_are_remembered_within_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hslimit_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
