/* test_path.c: candidates, their preference, path health and backoff.
 *
 * The pure half of endpoint negotiation, on a simulated clock: which
 * answered candidate wins (direct over hole-punched over relay, the path
 * in use on a tie, nothing stale), that an answer counts only on the path
 * the challenge went out on, how probe intervals grow and when a path is
 * declared lost, busy or idle, and that backoff doubles to its cap with
 * jitter inside [d/2, d]. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>

#include "path.h"

static struct path_addr pa(const char *ip, uint16_t port, uint32_t channel)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct path_addr p;

	inet_pton(AF_INET, ip, &sin.sin_addr);
	path_addr_direct(&p, (struct sockaddr *)&sin, sizeof(sin));
	p.channel = channel;
	return p;
}

static void challenge(struct path_cand *c, uint8_t tag, uint64_t now)
{
	memset(c->challenge, tag, sizeof(c->challenge));
	c->challenged_ms = now;
}

static void answer(struct pathset *s, uint8_t tag, const struct path_addr *from, uint64_t now)
{
	uint8_t data[PATH_CHALLENGE_LEN];

	memset(data, tag, sizeof(data));
	ck_assert_ptr_nonnull(pathset_answered(s, data, from, now));
}

START_TEST(test_addr_eq_channel)
{
	struct path_addr a = pa("198.51.100.11", 6950, 0), b = pa("198.51.100.11", 6950, 7);
	char buf[96];

	ck_assert(!path_addr_eq(&a, &b));
	b.channel = 0;
	ck_assert(path_addr_eq(&a, &b));
	b = pa("198.51.100.11", 6951, 0);
	ck_assert(!path_addr_eq(&a, &b));
	b = pa("198.51.100.11", 6950, 0x1234abcd);
	ck_assert_str_eq(path_addr_fmt(&b, buf), "relay 198.51.100.11:6950 channel 1234abcd");
	ck_assert_str_eq(path_addr_fmt(&a, buf), "198.51.100.11:6950");
}
END_TEST

START_TEST(test_add_dedup_keeps_better_method)
{
	struct pathset s = { .n = 0 };
	struct path_addr a = pa("192.0.2.66", 6950, 0);
	struct path_cand *c = pathset_add(&s, &a, PATH_HOLE_PUNCHED, -1, 1000);

	ck_assert_ptr_nonnull(c);
	c->validated_ms = 5;
	ck_assert_ptr_eq(pathset_add(&s, &a, PATH_DIRECT, -1, 2000), c);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_int_eq(c->method, PATH_DIRECT);
	ck_assert_uint_eq(c->validated_ms, 5); /* validation is kept */
	ck_assert_uint_eq(c->expires_ms, 2000);
	/* a worse method does not demote it; "never expires" wins */
	pathset_add(&s, &a, PATH_RELAY, -1, 0);
	ck_assert_int_eq(c->method, PATH_DIRECT);
	ck_assert_uint_eq(c->expires_ms, 0);
	pathset_add(&s, &a, PATH_DIRECT, -1, 9000);
	ck_assert_uint_eq(c->expires_ms, 0);
}
END_TEST

START_TEST(test_full)
{
	struct pathset s = { .n = 0 };
	struct path_addr a;
	unsigned i;

	for (i = 0; i < PATH_MAX_CANDS; i++) {
		a = pa("192.0.2.1", (uint16_t)(1000 + i), 0);
		ck_assert_ptr_nonnull(pathset_add(&s, &a, PATH_DIRECT, -1, 0));
	}
	a = pa("192.0.2.1", 999, 0);
	ck_assert_ptr_null(pathset_add(&s, &a, PATH_DIRECT, -1, 0));
	/* a known one is still refreshed */
	a = pa("192.0.2.1", 1000, 0);
	ck_assert_ptr_nonnull(pathset_add(&s, &a, PATH_DIRECT, -1, 0));
}
END_TEST

START_TEST(test_answer_only_on_the_challenged_path)
{
	struct pathset s = { .n = 0 };
	struct path_addr a = pa("198.51.100.2", 4000, 0), other = pa("198.51.100.2", 4001, 0);
	uint8_t data[PATH_CHALLENGE_LEN];
	struct path_cand *c = pathset_add(&s, &a, PATH_DIRECT, -1, 0);

	memset(data, 0x42, sizeof(data));
	/* no challenge outstanding: nothing answered */
	ck_assert_ptr_null(pathset_answered(&s, data, &a, 10));
	challenge(c, 0x42, 10);
	/* RFC 9000 8.2.2: a response from elsewhere does not validate */
	ck_assert_ptr_null(pathset_answered(&s, data, &other, 11));
	data[0] ^= 1;
	ck_assert_ptr_null(pathset_answered(&s, data, &a, 11));
	data[0] ^= 1;
	ck_assert_ptr_eq(pathset_answered(&s, data, &a, 12), c);
	ck_assert_uint_eq(c->validated_ms, 12);
	/* answered once: a replay counts for nothing */
	ck_assert_ptr_null(pathset_answered(&s, data, &a, 13));
	ck_assert_uint_eq(c->validated_ms, 12);
}
END_TEST

START_TEST(test_best_prefers_direct_then_punched_then_relay)
{
	struct pathset s = { .n = 0 };
	struct path_addr r = pa("198.51.100.11", 6950, 9), h = pa("198.51.100.3", 6950, 0),
			 d = pa("192.0.2.66", 6950, 0);
	struct path_cand *cr = pathset_add(&s, &r, PATH_RELAY, 0, 0);
	struct path_cand *ch = pathset_add(&s, &h, PATH_HOLE_PUNCHED, -1, 0);
	struct path_cand *cd = pathset_add(&s, &d, PATH_DIRECT, -1, 0);

	ck_assert_ptr_null(pathset_best(&s, 0, NULL));
	challenge(cr, 1, 100);
	challenge(ch, 2, 100);
	challenge(cd, 3, 100);
	answer(&s, 1, &r, 101);
	ck_assert_ptr_eq(pathset_best(&s, 100, NULL), cr);
	answer(&s, 2, &h, 102);
	ck_assert_ptr_eq(pathset_best(&s, 100, NULL), ch);
	answer(&s, 3, &d, 150);
	ck_assert_ptr_eq(pathset_best(&s, 100, &r), cd);
	/* answers older than `since` do not count */
	ck_assert_ptr_eq(pathset_best(&s, 120, NULL), cd);
	ck_assert_ptr_null(pathset_best(&s, 151, NULL));
}
END_TEST

START_TEST(test_best_current_wins_ties)
{
	struct pathset s = { .n = 0 };
	struct path_addr r1 = pa("198.51.100.11", 6950, 5), r2 = pa("198.51.100.12", 6950, 6);
	struct path_cand *c1 = pathset_add(&s, &r1, PATH_RELAY, 0, 0);
	struct path_cand *c2 = pathset_add(&s, &r2, PATH_RELAY, 1, 0);

	challenge(c1, 1, 10);
	challenge(c2, 2, 10);
	answer(&s, 1, &r1, 11);
	answer(&s, 2, &r2, 12);
	ck_assert_ptr_eq(pathset_best(&s, 0, &r2), c2);
	ck_assert_ptr_eq(pathset_best(&s, 0, &r1), c1);
}
END_TEST

START_TEST(test_expire_and_forget_relay)
{
	struct pathset s = { .n = 0 };
	struct path_addr a = pa("192.0.2.66", 6950, 0), b = pa("198.51.100.11", 6950, 3),
			 c = pa("198.51.100.12", 6950, 4), e = pa("192.0.2.1", 6950, 0);

	pathset_add(&s, &a, PATH_DIRECT, -1, 0);     /* configured: never expires */
	pathset_add(&s, &b, PATH_RELAY, 0, 500);
	pathset_add(&s, &c, PATH_RELAY, 1, 5000);
	pathset_add(&s, &e, PATH_HOLE_PUNCHED, -1, 400);
	pathset_expire(&s, 499);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_ptr_null(pathset_find(&s, &e));
	pathset_expire(&s, 500);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_ptr_null(pathset_find(&s, &b));
	pathset_forget_relay(&s, 1);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_ptr_nonnull(pathset_find(&s, &a));
}
END_TEST

#define MIN_MS 500
#define MAX_MS 15000
#define TIMEOUT_MS 2500

START_TEST(test_mon_idle_intervals_grow_to_max)
{
	struct pathmon m;
	uint64_t now = 1000, expect = MIN_MS;
	int i;

	pathmon_start(&m, MIN_MS, MAX_MS, TIMEOUT_MS, now);
	for (i = 0; i < 10; i++) {
		ck_assert_uint_eq(pathmon_deadline(&m, 0), now + expect);
		ck_assert_int_eq(pathmon_check(&m, now + expect - 1, 0), PM_WAIT);
		now += expect;
		ck_assert_int_eq(pathmon_check(&m, now, 0), PM_PROBE);
		/* while the probe is out, the deadline is its timeout */
		ck_assert_uint_eq(pathmon_deadline(&m, 0), now + TIMEOUT_MS);
		ck_assert_int_eq(pathmon_check(&m, now + 5, 0), PM_WAIT);
		now += 5;
		pathmon_answered(&m, now);
		expect = expect * 2 > MAX_MS ? MAX_MS : expect * 2;
	}
	ck_assert_uint_eq(m.interval_ms, MAX_MS);
}
END_TEST

START_TEST(test_mon_lost_after_timeout)
{
	struct pathmon m;

	pathmon_start(&m, MIN_MS, MAX_MS, TIMEOUT_MS, 0);
	ck_assert_int_eq(pathmon_check(&m, 500, 0), PM_PROBE);
	ck_assert_int_eq(pathmon_check(&m, 500 + TIMEOUT_MS - 1, 0), PM_WAIT);
	ck_assert_int_eq(pathmon_check(&m, 500 + TIMEOUT_MS, 0), PM_LOST);
}
END_TEST

START_TEST(test_mon_any_traffic_answers)
{
	struct pathmon m;

	pathmon_start(&m, MIN_MS, MAX_MS, TIMEOUT_MS, 0);
	ck_assert_int_eq(pathmon_check(&m, 500, 0), PM_PROBE);
	pathmon_rx(&m, 700);
	ck_assert_int_eq(pathmon_check(&m, 500 + TIMEOUT_MS + 100, 0), PM_PROBE);
	/* data is no probe answer: the interval did not grow */
	ck_assert_uint_eq(m.interval_ms, MIN_MS);
}
END_TEST

START_TEST(test_mon_busy_probes_sooner)
{
	struct pathmon m;

	pathmon_start(&m, MIN_MS, MAX_MS, TIMEOUT_MS, 0);
	pathmon_answered(&m, 0);
	pathmon_answered(&m, 0);
	pathmon_answered(&m, 0); /* idle interval now 4000 ms */
	pathmon_rx(&m, 10000);
	ck_assert_uint_eq(pathmon_deadline(&m, 0), 14000);
	ck_assert_uint_eq(pathmon_deadline(&m, 200), 10200);
	ck_assert_int_eq(pathmon_check(&m, 10199, 200), PM_WAIT);
	ck_assert_int_eq(pathmon_check(&m, 10200, 200), PM_PROBE);
	/* cut under load: lost a probe timeout after the last datagram heard */
	ck_assert_uint_eq(pathmon_deadline(&m, 200), 10000 + TIMEOUT_MS);
	ck_assert_int_eq(pathmon_check(&m, 10000 + TIMEOUT_MS - 1, 200), PM_WAIT);
	ck_assert_int_eq(pathmon_check(&m, 10000 + TIMEOUT_MS, 200), PM_LOST);
	/* idle again, the same probe counts from when it went out */
	ck_assert_int_eq(pathmon_check(&m, 10000 + TIMEOUT_MS, 0), PM_WAIT);
	ck_assert_int_eq(pathmon_check(&m, 10200 + TIMEOUT_MS, 0), PM_LOST);
	/* a busy threshold above the idle interval does not delay probes */
	pathmon_start(&m, MIN_MS, MAX_MS, TIMEOUT_MS, 0);
	ck_assert_uint_eq(pathmon_deadline(&m, 9000), MIN_MS);
}
END_TEST

START_TEST(test_backoff_doubles_to_cap_with_jitter)
{
	struct backoff b = { .min_ms = 500, .max_ms = 15000 };
	uint64_t base[] = { 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000 };
	uint64_t rnd = 0x9e3779b97f4a7c15ULL, d;
	size_t i;

	for (i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		d = backoff_next(&b, rnd);
		ck_assert_uint_eq(b.last_ms, base[i]);
		ck_assert_uint_ge(d, base[i] / 2);
		ck_assert_uint_le(d, base[i]);
		rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
	}
	/* the extremes of the jitter */
	backoff_reset(&b);
	ck_assert_uint_eq(backoff_next(&b, 0), 250);
	ck_assert_uint_eq(backoff_next(&b, 500), 1000);
	backoff_reset(&b);
	ck_assert_uint_eq(backoff_next(&b, 250), 500);
}
END_TEST

static Suite *path_suite(void)
{
	Suite *s = suite_create("path");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_addr_eq_channel);
	tcase_add_test(tc, test_add_dedup_keeps_better_method);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_answer_only_on_the_challenged_path);
	tcase_add_test(tc, test_best_prefers_direct_then_punched_then_relay);
	tcase_add_test(tc, test_best_current_wins_ties);
	tcase_add_test(tc, test_expire_and_forget_relay);
	tcase_add_test(tc, test_mon_idle_intervals_grow_to_max);
	tcase_add_test(tc, test_mon_lost_after_timeout);
	tcase_add_test(tc, test_mon_any_traffic_answers);
	tcase_add_test(tc, test_mon_busy_probes_sooner);
	tcase_add_test(tc, test_backoff_doubles_to_cap_with_jitter);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(path_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
