/* test_busypoll.c: when the event loop polls instead of sleeping.
 *
 * A simulated clock and byte count: a request/response workload polls,
 * and a poll lasts as long as work keeps coming within the budget; bulk
 * stops the polling within a window and an idle spell restores it; a
 * budget of 0 never polls. */
#include <check.h>

#include "busypoll.h"

/* one poll after a light turn at t: how many idle turns of step_us it
 * lasts before busypoll_more() says stop */
static unsigned idle_turns(struct busypoll *b, uint64_t t, uint64_t io, uint64_t step_us)
{
	unsigned n = 0;

	while (busypoll_more(b, t += step_us, io))
		n++;
	return n;
}

START_TEST(test_light_turn_polls_for_the_budget)
{
	struct busypoll b;

	busypoll_init(&b, 50);
	ck_assert_int_eq(busypoll_start(&b, 1000, 0, 0), 0); /* no bytes moved: a timer */
	ck_assert_int_eq(busypoll_start(&b, 1000, 0, 200), 1);
	/* idle turns of 5 us: polling stops once 50 us passed without work */
	ck_assert_uint_eq(idle_turns(&b, 1000, 200, 5), 9);
	ck_assert_uint_eq(b.found, 0);
}
END_TEST

START_TEST(test_work_found_restarts_the_wait)
{
	struct busypoll b;
	uint64_t t = 1000;

	busypoll_init(&b, 50);
	ck_assert_int_eq(busypoll_start(&b, t, 0, 100), 1);
	ck_assert_int_eq(busypoll_more(&b, t += 40, 100), 1);
	ck_assert_int_eq(busypoll_more(&b, t += 5, 300), 1); /* a response: 45 us in */
	ck_assert_int_eq(busypoll_more(&b, t += 40, 300), 1); /* 40 us after it: still polling */
	ck_assert_int_eq(busypoll_more(&b, t += 15, 300), 0);
	ck_assert_uint_eq(b.found, 1);
}
END_TEST

START_TEST(test_bulk_stops_polling_and_idle_restores_it)
{
	struct busypoll b;
	uint64_t t = 0, io = 100;
	unsigned turns = 0;
	int i;

	busypoll_init(&b, 50);
	ck_assert_int_eq(busypoll_start(&b, t, 0, io), 1);
	/* a poll that meets bulk (64 KiB every 100 us) ends with the window */
	while (busypoll_more(&b, t += 100, io += 65536) && turns < 1000)
		turns++;
	ck_assert_uint_le(turns, BUSY_POLL_WINDOW_US / 100);
	/* while bulk goes on, blocking turns start no poll */
	for (i = 0; i < 50; i++) {
		t += 1000;
		io += 65536;
		ck_assert_int_eq(busypoll_start(&b, t, io - 65536, io), 0);
	}
	/* then round trips: polls again once a light window passed */
	for (i = 0; i < 2 * BUSY_POLL_WINDOW_US / 1000; i++) {
		t += 1000;
		io += 100;
		if (busypoll_start(&b, t, io - 100, io)) {
			busypoll_more(&b, t += 30, io += 100); /* the response */
			while (busypoll_more(&b, t += 5, io))
				;
		}
	}
	ck_assert_int_eq(busypoll_start(&b, t + 10, io, io + 100), 1);
}
END_TEST

/* a steady stream below the bulk rate whose packets come 200 us apart:
 * every poll would run its 50 us and find nothing */
START_TEST(test_futile_polling_rests)
{
	struct busypoll b;
	uint64_t t = 0, io = 0;
	int i, started = 0, after = 0, late = 0;

	busypoll_init(&b, 50);
	for (i = 0; i < 2000; i++) { /* half a second or so */
		t += 200;
		io += 1400;
		if (t > 10 * BUSY_POLL_WINDOW_US)
			after++;
		if (busypoll_start(&b, t, io - 1400, io)) {
			started++;
			if (t > 10 * BUSY_POLL_WINDOW_US)
				late++;
			while (busypoll_more(&b, t += 5, io))
				;
		}
	}
	ck_assert_uint_eq(b.found, 0);
	ck_assert_int_ge(started, BUSY_POLL_FUTILE_MIN);
	/* resting up to 8 windows in 9: at most a fifth of the packets polled */
	ck_assert_int_le(late * 5, after);
}
END_TEST

/* round trips: the response comes 30 us after the request, within the
 * budget, so polls pay and go on */
START_TEST(test_paying_polls_go_on)
{
	struct busypoll b;
	uint64_t t = 0, io = 0;
	int i, started = 0;

	busypoll_init(&b, 50);
	for (i = 0; i < 1000; i++) {
		t += 100;
		io += 64;
		if (busypoll_start(&b, t, io - 64, io)) {
			started++;
			busypoll_more(&b, t += 30, io += 64); /* the response */
			while (busypoll_more(&b, t += 5, io))
				;
		}
	}
	ck_assert_int_eq(started, 1000);
}
END_TEST

START_TEST(test_a_stale_window_is_not_bulk)
{
	struct busypoll b;

	busypoll_init(&b, 50);
	ck_assert_int_eq(busypoll_start(&b, 0, 0, 1), 1);
	/* 1 MiB moved, but only seen after three idle windows: the loop slept */
	ck_assert_int_eq(busypoll_start(&b, 3 * BUSY_POLL_WINDOW_US, 1, 1 << 20), 1);
}
END_TEST

START_TEST(test_budget_zero_never_polls)
{
	struct busypoll b;

	busypoll_init(&b, 0);
	ck_assert_int_eq(busypoll_start(&b, 1000, 0, 100), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("busypoll");
	TCase *tc = tcase_create("busypoll");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_light_turn_polls_for_the_budget);
	tcase_add_test(tc, test_work_found_restarts_the_wait);
	tcase_add_test(tc, test_bulk_stops_polling_and_idle_restores_it);
	tcase_add_test(tc, test_futile_polling_rests);
	tcase_add_test(tc, test_paying_polls_go_on);
	tcase_add_test(tc, test_a_stale_window_is_not_bulk);
	tcase_add_test(tc, test_budget_zero_never_polls);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
