/* test_path.c: candidates, their preference, path health and backoff.
 *
 * The parts endpoint negotiation is built of, on a simulated clock (the
 * negotiation itself, core/nego.c, is driven by tests/test_nego.c): which
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
#include "util.h"

static struct path_addr pa(const char *ip, uint16_t port, uint32_t channel)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct path_addr p;

	inet_pton(AF_INET, ip, &sin.sin_addr);
	path_addr_direct(&p, (struct sockaddr *)&sin, sizeof(sin));
	p.channel = channel;
	return p;
}

/* add() - as the peer layer adds them: an entry that never expires is a
 * configured endpoint, one that does was announced */
static struct path_cand *add(struct pathset *s, const struct path_addr *to, enum path_method m,
			     int relay, uint64_t expires_ms)
{
	struct path_new n = { to, m, expires_ms ? PATH_ANNOUNCED : PATH_CONFIGURED, relay,
			      expires_ms };

	return pathset_add(s, &n, NULL, 1);
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
	struct path_cand *c = add(&s, &a, PATH_HOLE_PUNCHED, -1, 1000);

	ck_assert_ptr_nonnull(c);
	c->validated_ms = 5;
	ck_assert_ptr_eq(add(&s, &a, PATH_DIRECT, -1, 2000), c);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_int_eq(c->method, PATH_DIRECT);
	ck_assert_uint_eq(c->validated_ms, 5); /* validation is kept */
	ck_assert_uint_eq(c->expires_ms, 2000);
	/* a worse method does not demote it; "never expires" wins */
	add(&s, &a, PATH_RELAY, -1, 0);
	ck_assert_int_eq(c->method, PATH_DIRECT);
	ck_assert_uint_eq(c->expires_ms, 0);
	add(&s, &a, PATH_DIRECT, -1, 9000);
	ck_assert_uint_eq(c->expires_ms, 0);
}
END_TEST

START_TEST(test_full_of_configured_endpoints_takes_no_more)
{
	struct pathset s = { .n = 0 };
	struct path_addr a;
	unsigned i;

	for (i = 0; i < PATH_MAX_CANDS; i++) {
		a = pa("192.0.2.1", (uint16_t)(1000 + i), 0);
		ck_assert_ptr_nonnull(add(&s, &a, PATH_DIRECT, -1, 0));
	}
	a = pa("192.0.2.1", 999, 0);
	ck_assert_ptr_null(add(&s, &a, PATH_DIRECT, -1, 0));
	/* a known one is still refreshed */
	a = pa("192.0.2.1", 1000, 0);
	ck_assert_ptr_nonnull(add(&s, &a, PATH_DIRECT, -1, 0));
}
END_TEST

START_TEST(test_answer_only_on_the_challenged_path)
{
	struct pathset s = { .n = 0 };
	struct path_addr a = pa("198.51.100.2", 4000, 0), other = pa("198.51.100.2", 4001, 0);
	uint8_t data[PATH_CHALLENGE_LEN];
	struct path_cand *c = add(&s, &a, PATH_DIRECT, -1, 0);

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
	struct path_cand *cr = add(&s, &r, PATH_RELAY, 0, 0);
	struct path_cand *ch = add(&s, &h, PATH_HOLE_PUNCHED, -1, 0);
	struct path_cand *cd = add(&s, &d, PATH_DIRECT, -1, 0);

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
	struct path_cand *c1 = add(&s, &r1, PATH_RELAY, 0, 0);
	struct path_cand *c2 = add(&s, &r2, PATH_RELAY, 1, 0);

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

	add(&s, &a, PATH_DIRECT, -1, 0);     /* configured: never expires */
	add(&s, &b, PATH_RELAY, 0, 500);
	add(&s, &c, PATH_RELAY, 1, 5000);
	add(&s, &e, PATH_HOLE_PUNCHED, -1, 400);
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

/* a path quiet for long because there was nothing to say, then busy: the
 * probe that goes out at once has probe-timeout-ms to be answered (less
 * the busy threshold), not none -- its loss does not count from the last
 * datagram of the quiet time */
START_TEST(test_mon_busy_after_long_quiet_is_not_lost_at_once)
{
	struct pathmon m;

	pathmon_start(&m, MIN_MS, MAX_MS, TIMEOUT_MS, 0);
	pathmon_answered(&m, 0);
	pathmon_answered(&m, 0);
	pathmon_answered(&m, 0); /* idle interval now 4000 ms */
	pathmon_rx(&m, 10000);
	/* 3 s later, data goes out: probed at once, a busy threshold into
	 * the silence... */
	ck_assert_int_eq(pathmon_check(&m, 13000, 200), PM_PROBE);
	/* ...and lost a probe timeout after that, not at the next check */
	ck_assert_uint_eq(pathmon_deadline(&m, 200), 12800 + TIMEOUT_MS);
	ck_assert_int_eq(pathmon_check(&m, 13001, 200), PM_WAIT);
	ck_assert_int_eq(pathmon_check(&m, 12800 + TIMEOUT_MS - 1, 200), PM_WAIT);
	ck_assert_int_eq(pathmon_check(&m, 12800 + TIMEOUT_MS, 200), PM_LOST);
	/* an idle probe out when the path got busy counts from the probe */
	pathmon_start(&m, MIN_MS, MAX_MS, TIMEOUT_MS, 0);
	pathmon_rx(&m, 10000);
	ck_assert_int_eq(pathmon_check(&m, 10000 + MIN_MS, 0), PM_PROBE);
	ck_assert_int_eq(pathmon_check(&m, 10000 + MIN_MS + 100, 200), PM_WAIT);
	ck_assert_uint_eq(pathmon_deadline(&m, 200), 10000 + MIN_MS + TIMEOUT_MS);
	ck_assert_int_eq(pathmon_check(&m, 10000 + MIN_MS + TIMEOUT_MS, 200), PM_LOST);
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

/* ---- eviction ------------------------------------------------------------ */

static struct path_cand *add_as(struct pathset *s, const struct path_addr *to,
				enum path_origin origin, const struct path_addr *in_use, uint64_t now)
{
	struct path_new n = { to, PATH_DIRECT, origin, -1, origin == PATH_CONFIGURED ? 0 : 99999 };

	return pathset_add(s, &n, in_use, now);
}

START_TEST(test_full_evicts_the_oldest_unanswered)
{
	struct pathset s = { .n = 0 };
	struct path_addr a, cfg = pa("192.0.2.1", 6950, 0), old = pa("203.0.113.1", 1000, 0);
	unsigned i;

	ck_assert_ptr_nonnull(add_as(&s, &cfg, PATH_CONFIGURED, NULL, 1));
	for (i = 0; i < PATH_MAX_CANDS - 1; i++) {
		a = pa("203.0.113.1", (uint16_t)(1000 + i), 0);
		ck_assert_ptr_nonnull(add_as(&s, &a, PATH_ANNOUNCED, NULL, 10 + i));
	}
	ck_assert_uint_eq(s.n, PATH_MAX_CANDS);
	a = pa("198.51.100.7", 6950, 0);
	ck_assert_ptr_nonnull(add_as(&s, &a, PATH_ANNOUNCED, NULL, 100));
	ck_assert_uint_eq(s.n, PATH_MAX_CANDS);
	ck_assert_uint_eq(s.evicted, 1);
	ck_assert_ptr_null(pathset_find(&s, &old));
	ck_assert_ptr_nonnull(pathset_find(&s, &cfg));
	ck_assert_ptr_nonnull(pathset_find(&s, &a));
}
END_TEST

START_TEST(test_full_keeps_the_path_in_use_and_answered_ones_longest)
{
	struct pathset s = { .n = 0 };
	struct path_addr a, use = pa("203.0.113.1", 1000, 0), ans = pa("203.0.113.1", 1001, 0),
			 next = pa("203.0.113.1", 1002, 0);
	unsigned i;

	for (i = 0; i < PATH_MAX_CANDS; i++) {
		a = pa("203.0.113.1", (uint16_t)(1000 + i), 0);
		ck_assert_ptr_nonnull(add_as(&s, &a, PATH_ANNOUNCED, &use, 10 + i));
	}
	pathset_find(&s, &ans)->validated_ms = 50;
	/* the oldest is in use and the next answered: the third goes */
	a = pa("198.51.100.7", 6950, 0);
	ck_assert_ptr_nonnull(add_as(&s, &a, PATH_ANNOUNCED, &use, 100));
	ck_assert_ptr_nonnull(pathset_find(&s, &use));
	ck_assert_ptr_nonnull(pathset_find(&s, &ans));
	ck_assert_ptr_null(pathset_find(&s, &next));
	/* once every other one was answered, the one answered longest ago goes */
	for (i = 0; i < s.n; i++)
		if (!path_addr_eq(&s.c[i].to, &ans))
			s.c[i].validated_ms = 60 + i;
	a = pa("198.51.100.8", 6950, 0);
	ck_assert_ptr_nonnull(add_as(&s, &a, PATH_ANNOUNCED, &use, 200));
	ck_assert_ptr_null(pathset_find(&s, &ans));
	ck_assert_ptr_nonnull(pathset_find(&s, &use));
}
END_TEST

START_TEST(test_learned_from_traffic_are_capped_and_the_newest_gets_in)
{
	struct pathset s = { .n = 0 };
	struct path_addr a, ann = pa("198.51.100.2", 6950, 0), real = pa("198.51.100.3", 40000, 0);
	struct path_cand *kept;
	unsigned i, learned = 0;

	ck_assert_ptr_nonnull(add_as(&s, &ann, PATH_ANNOUNCED, NULL, 1));
	a = pa("203.0.113.9", 9, 0);
	kept = add_as(&s, &a, PATH_LEARNED, NULL, 2);
	kept->validated_ms = 3; /* answered: no longer counts against the cap */
	/* a source sending from ever new addresses */
	for (i = 0; i < 1000; i++) {
		a = pa("203.0.113.1", (uint16_t)(1000 + i), 0);
		ck_assert_ptr_nonnull(add_as(&s, &a, PATH_LEARNED, NULL, 10 + i));
	}
	ck_assert_ptr_nonnull(add_as(&s, &real, PATH_LEARNED, NULL, 5000));
	for (i = 0; i < s.n; i++)
		learned += s.c[i].origin == PATH_LEARNED && !s.c[i].validated_ms;
	ck_assert_uint_eq(learned, PATH_MAX_LEARNED);
	ck_assert_ptr_nonnull(pathset_find(&s, &real));
	ck_assert_ptr_nonnull(pathset_find(&s, &ann));
	ck_assert_ptr_nonnull(pathset_find(&s, &kept->to));
	ck_assert_uint_eq(s.evicted, 1001 - PATH_MAX_LEARNED);
}
END_TEST

START_TEST(test_refresh_keeps_the_strongest_origin)
{
	struct pathset s = { .n = 0 };
	struct path_addr a = pa("198.51.100.2", 6950, 0);
	struct path_cand *c = add_as(&s, &a, PATH_LEARNED, NULL, 1);

	ck_assert_ptr_eq(add_as(&s, &a, PATH_ANNOUNCED, NULL, 2), c);
	ck_assert_int_eq(c->origin, PATH_ANNOUNCED);
	ck_assert_ptr_eq(add_as(&s, &a, PATH_LEARNED, NULL, 3), c);
	ck_assert_int_eq(c->origin, PATH_ANNOUNCED);
	ck_assert_uint_eq(c->added_ms, 1);
}
END_TEST

/* ---- anti-amplification -------------------------------------------------- */

START_TEST(test_allowance_is_three_times_what_came)
{
	struct pathset s = { .n = 0 };
	struct path_addr a = pa("198.51.100.2", 6950, 0);
	struct path_cand *c = add_as(&s, &a, PATH_LEARNED, NULL, 1);

	ck_assert_uint_eq(path_cand_allowance(c, 0, 10), 0);
	path_cand_received(c, 61);
	ck_assert_uint_eq(path_cand_allowance(c, 0, 10), 183);
	path_cand_sent(c, 150);
	ck_assert_uint_eq(path_cand_allowance(c, 0, 10), 33);
	path_cand_sent(c, 60);
	ck_assert_uint_eq(path_cand_allowance(c, 0, 10), 0);
}
END_TEST

START_TEST(test_allowance_of_an_announced_address_is_small_and_total)
{
	struct pathset s = { .n = 0 };
	struct path_addr a = pa("198.51.100.2", 6950, 0);
	struct path_cand *c = add_as(&s, &a, PATH_ANNOUNCED, NULL, 1);
	uint64_t now = 10, sent = 0;
	unsigned rounds;

	/* one unpadded challenge (about 62 bytes) a round, as long as it lasts */
	for (rounds = 0; rounds < 10000 && path_cand_allowance(c, 0, now) >= 62; rounds++) {
		path_cand_sent(c, 62);
		sent += 62;
		now += 500;
	}
	ck_assert_uint_le(sent, PATH_ANNOUNCED_BYTES);
	ck_assert_uint_ge(rounds, 30);
	ck_assert_uint_lt(path_cand_allowance(c, 0, now + 3600000), 62);
	/* what it sends us earns three times as much */
	path_cand_received(c, 100);
	ck_assert_uint_ge(path_cand_allowance(c, 0, now), 300);
}
END_TEST

START_TEST(test_an_announced_address_gets_bare_challenges_until_it_sends)
{
	struct pathset s = { .n = 0 };
	struct path_addr a = pa("198.51.100.2", 6950, 0), b = pa("198.51.100.3", 6950, 0);
	struct path_cand *c = add_as(&s, &a, PATH_ANNOUNCED, NULL, 1);
	struct path_cand *l = add_as(&s, &b, PATH_LEARNED, NULL, 1);

	/* granted 4096 bytes, but no padded (1200-byte) challenge from that */
	ck_assert_uint_eq(path_cand_probe_max(c, 0, 5), PATH_BARE_PROBE_BYTES);
	/* a padded one once it sent enough to earn it */
	path_cand_received(c, 1300);
	ck_assert_uint_ge(path_cand_probe_max(c, 0, 5), 1253);
	/* a learned address pads as far as its allowance goes */
	path_cand_received(l, 500);
	ck_assert_uint_eq(path_cand_probe_max(l, 0, 5), 1500);
	path_cand_sent(c, 1000000);
	ck_assert_uint_eq(path_cand_probe_max(c, 0, 5), 0);
}
END_TEST

START_TEST(test_allowance_unlimited_when_configured_relayed_or_answered)
{
	struct pathset s = { .n = 0 };
	struct path_addr cfg = pa("192.0.2.1", 6950, 0), rel = pa("198.51.100.11", 6950, 7),
			 a = pa("198.51.100.2", 6950, 0);
	struct path_cand *c;
	uint8_t data[PATH_CHALLENGE_LEN];

	ck_assert_uint_eq(path_cand_allowance(add_as(&s, &cfg, PATH_CONFIGURED, NULL, 1), 0, 5),
			  PATH_UNLIMITED);
	ck_assert_uint_eq(path_cand_allowance(add_as(&s, &rel, PATH_ANNOUNCED, NULL, 1), 0, 5),
			  PATH_UNLIMITED);
	c = add_as(&s, &a, PATH_LEARNED, NULL, 1);
	path_cand_sent(c, 1000);
	ck_assert_uint_eq(path_cand_allowance(c, 0, 5), 0);
	/* the path in use: not limited, however long ago it answered */
	ck_assert_uint_eq(path_cand_allowance(c, 1, 5), PATH_UNLIMITED);
	ck_assert_uint_eq(path_cand_allowance(c, 1, 5 + 10 * PATH_VALID_MS), PATH_UNLIMITED);
	ck_assert_uint_eq(path_cand_allowance(c, 0, 5 + 10 * PATH_VALID_MS), 0);
	/* answered: not limited, for a while; then limited afresh */
	challenge(c, 9, 100);
	memset(data, 9, sizeof(data));
	ck_assert_ptr_eq(pathset_answered(&s, data, &a, 200), c);
	ck_assert_uint_eq(path_cand_allowance(c, 0, 200 + PATH_VALID_MS - 1), PATH_UNLIMITED);
	ck_assert_uint_eq(path_cand_allowance(c, 0, 200 + PATH_VALID_MS), 0);
	path_cand_received(c, 10);
	ck_assert_uint_eq(path_cand_allowance(c, 0, 200 + PATH_VALID_MS), 30);
}
END_TEST

/* ---- the candidate filter ------------------------------------------------- */

static struct sockaddr_storage sa_of(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
	}
	return ss;
}

static struct path_prefix prefix(const char *ip, unsigned len)
{
	struct path_prefix p = { .len = len };

	p.family = inet_pton(AF_INET, ip, p.addr) == 1 ? AF_INET : AF_INET6;
	if (p.family == AF_INET6)
		ck_assert_int_eq(inet_pton(AF_INET6, ip, p.addr), 1);
	return p;
}

static enum path_verdict verdict(const char *ip, uint16_t port, const struct path_prefix *allow,
				 size_t nallow)
{
	/* this host: a LAN 192.0.2.64/26, a /32 on a dummy, a /64 of IPv6 */
	struct path_prefix local[] = { prefix("192.0.2.66", 26), prefix("203.0.113.99", 32),
				       prefix("2001:db8:1:2::5", 64) };
	struct sockaddr_storage ss = sa_of(ip, port);

	return path_filter((struct sockaddr *)&ss, local, ARRAY_SIZE(local), allow, nallow);
}

START_TEST(test_filter_drops_what_reaches_no_peer)
{
	ck_assert_int_eq(verdict("198.51.100.2", 6950, NULL, 0), PATH_OK);
	ck_assert_int_eq(verdict("2001:db8:9::1", 6950, NULL, 0), PATH_OK);
	ck_assert_int_eq(verdict("198.51.100.2", 0, NULL, 0), PATH_BAD_PORT);
	ck_assert_int_eq(verdict("0.0.0.0", 6950, NULL, 0), PATH_BAD_UNSPECIFIED);
	ck_assert_int_eq(verdict("0.1.2.3", 6950, NULL, 0), PATH_BAD_UNSPECIFIED);
	ck_assert_int_eq(verdict("::", 6950, NULL, 0), PATH_BAD_UNSPECIFIED);
	ck_assert_int_eq(verdict("127.0.0.1", 6950, NULL, 0), PATH_BAD_LOOPBACK);
	ck_assert_int_eq(verdict("127.255.0.9", 6950, NULL, 0), PATH_BAD_LOOPBACK);
	ck_assert_int_eq(verdict("::1", 6950, NULL, 0), PATH_BAD_LOOPBACK);
	ck_assert_int_eq(verdict("::ffff:127.0.0.1", 6950, NULL, 0), PATH_BAD_LOOPBACK);
	ck_assert_int_eq(verdict("169.254.169.254", 80, NULL, 0), PATH_BAD_LINK_LOCAL);
	ck_assert_int_eq(verdict("fe80::1", 6950, NULL, 0), PATH_BAD_LINK_LOCAL);
	ck_assert_int_eq(verdict("febf::1", 6950, NULL, 0), PATH_BAD_LINK_LOCAL);
	ck_assert_int_eq(verdict("224.0.0.1", 6950, NULL, 0), PATH_BAD_MULTICAST);
	ck_assert_int_eq(verdict("239.255.255.250", 1900, NULL, 0), PATH_BAD_MULTICAST);
	ck_assert_int_eq(verdict("ff02::1", 6950, NULL, 0), PATH_BAD_MULTICAST);
	ck_assert_int_eq(verdict("255.255.255.255", 6950, NULL, 0), PATH_BAD_BROADCAST);
}
END_TEST

START_TEST(test_filter_drops_this_hosts_own_networks)
{
	ck_assert_int_eq(verdict("192.0.2.66", 6950, NULL, 0), PATH_BAD_LOCAL_NET);
	ck_assert_int_eq(verdict("192.0.2.64", 6950, NULL, 0), PATH_BAD_LOCAL_NET);
	ck_assert_int_eq(verdict("192.0.2.127", 6950, NULL, 0), PATH_BAD_LOCAL_NET);
	ck_assert_int_eq(verdict("::ffff:192.0.2.70", 6950, NULL, 0), PATH_BAD_LOCAL_NET);
	ck_assert_int_eq(verdict("203.0.113.99", 6950, NULL, 0), PATH_BAD_LOCAL_NET);
	ck_assert_int_eq(verdict("2001:db8:1:2:ffff::1", 6950, NULL, 0), PATH_BAD_LOCAL_NET);
	/* just outside */
	ck_assert_int_eq(verdict("192.0.2.63", 6950, NULL, 0), PATH_OK);
	ck_assert_int_eq(verdict("192.0.2.128", 6950, NULL, 0), PATH_OK);
	ck_assert_int_eq(verdict("203.0.113.98", 6950, NULL, 0), PATH_OK);
	ck_assert_int_eq(verdict("2001:db8:1:3::1", 6950, NULL, 0), PATH_OK);
}
END_TEST

START_TEST(test_filter_lets_what_the_operator_allowed_through)
{
	struct path_prefix allow[] = { prefix("192.0.2.64", 27), prefix("127.0.0.0", 8),
				       prefix("fe80::", 10) };

	ck_assert_int_eq(verdict("192.0.2.66", 6950, allow, ARRAY_SIZE(allow)), PATH_OK);
	ck_assert_int_eq(verdict("192.0.2.100", 6950, allow, ARRAY_SIZE(allow)),
			 PATH_BAD_LOCAL_NET);
	ck_assert_int_eq(verdict("127.0.0.1", 6950, allow, ARRAY_SIZE(allow)), PATH_OK);
	ck_assert_int_eq(verdict("::ffff:127.0.0.1", 6950, allow, ARRAY_SIZE(allow)), PATH_OK);
	ck_assert_int_eq(verdict("fe80::1", 6950, allow, ARRAY_SIZE(allow)), PATH_OK);
	/* the port is never allowed to be 0 */
	ck_assert_int_eq(verdict("127.0.0.1", 0, allow, ARRAY_SIZE(allow)), PATH_BAD_PORT);
	ck_assert_int_eq(verdict("::1", 6950, allow, ARRAY_SIZE(allow)), PATH_BAD_LOOPBACK);
	ck_assert_str_eq(path_verdict_name(PATH_BAD_LOCAL_NET), "a network this host is attached to");
}
END_TEST

static Suite *path_suite(void)
{
	Suite *s = suite_create("path");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_addr_eq_channel);
	tcase_add_test(tc, test_add_dedup_keeps_better_method);
	tcase_add_test(tc, test_full_of_configured_endpoints_takes_no_more);
	tcase_add_test(tc, test_answer_only_on_the_challenged_path);
	tcase_add_test(tc, test_best_prefers_direct_then_punched_then_relay);
	tcase_add_test(tc, test_best_current_wins_ties);
	tcase_add_test(tc, test_expire_and_forget_relay);
	tcase_add_test(tc, test_mon_idle_intervals_grow_to_max);
	tcase_add_test(tc, test_mon_lost_after_timeout);
	tcase_add_test(tc, test_mon_any_traffic_answers);
	tcase_add_test(tc, test_mon_busy_probes_sooner);
	tcase_add_test(tc, test_mon_busy_after_long_quiet_is_not_lost_at_once);
	tcase_add_test(tc, test_backoff_doubles_to_cap_with_jitter);
	tcase_add_test(tc, test_full_evicts_the_oldest_unanswered);
	tcase_add_test(tc, test_full_keeps_the_path_in_use_and_answered_ones_longest);
	tcase_add_test(tc, test_learned_from_traffic_are_capped_and_the_newest_gets_in);
	tcase_add_test(tc, test_refresh_keeps_the_strongest_origin);
	tcase_add_test(tc, test_allowance_is_three_times_what_came);
	tcase_add_test(tc, test_allowance_of_an_announced_address_is_small_and_total);
	tcase_add_test(tc, test_an_announced_address_gets_bare_challenges_until_it_sends);
	tcase_add_test(tc, test_allowance_unlimited_when_configured_relayed_or_answered);
	tcase_add_test(tc, test_filter_drops_what_reaches_no_peer);
	tcase_add_test(tc, test_filter_drops_this_hosts_own_networks);
	tcase_add_test(tc, test_filter_lets_what_the_operator_allowed_through);
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
