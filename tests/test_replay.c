/* test_replay.c: the replay window of sealed records.
 *
 * Each counter is accepted once; late ones are accepted as far back as the
 * window reaches, which is what lets a reordering path deliver thousands
 * of records late without losing them; a forged record (checked, never
 * accepted) moves nothing. */
#include <check.h>

#include "replay.h"

START_TEST(test_in_order_and_duplicates)
{
	struct replay r;
	uint64_t c;

	replay_init(&r);
	for (c = 0; c < 10000; c++) {
		ck_assert_int_eq(replay_check(&r, c), 0);
		replay_accept(&r, c);
		ck_assert_int_eq(replay_check(&r, c), -1);
	}
	for (c = 10000 - (REPLAY_WINDOW - 64); c < 10000; c++)
		ck_assert_int_eq(replay_check(&r, c), -1);
}
END_TEST

/* the case OpenSSL's 64-record window fails: every 100th record arrives
 * 5000 records late */
START_TEST(test_late_by_thousands)
{
	struct replay r;
	uint64_t c, late = 0, accepted = 0;

	replay_init(&r);
	for (c = 0; c < 100000; c++) {
		if (c % 100 == 0)
			continue;
		ck_assert_int_eq(replay_check(&r, c), 0);
		replay_accept(&r, c);
		accepted++;
		if (c >= 5001 && (c - 5001) % 100 == 0) {
			late = c - 5001;
			ck_assert_int_eq(replay_check(&r, late), 0);
			replay_accept(&r, late);
			ck_assert_int_eq(replay_check(&r, late), -1);
			accepted++;
		}
	}
	ck_assert_uint_ge(accepted, 99900);
}
END_TEST

START_TEST(test_window_edge)
{
	struct replay r;
	uint64_t top = 100000, oldest;

	replay_init(&r);
	replay_accept(&r, top);
	/* REPLAY_WINDOW - 64 counters behind the top are always remembered */
	oldest = top - (REPLAY_WINDOW - 64);
	ck_assert_int_eq(replay_check(&r, oldest), 0);
	replay_accept(&r, oldest);
	ck_assert_int_eq(replay_check(&r, oldest), -1);
	/* anything older than the window cannot be told from a replay */
	ck_assert_int_eq(replay_check(&r, top - REPLAY_WINDOW - 1), -1);
	ck_assert_int_eq(replay_check(&r, 0), -1);
}
END_TEST

/* a jump clears exactly the words it slides over: old bits must not make
 * a new counter look replayed */
START_TEST(test_jumps_clear_stale_bits)
{
	struct replay r;
	uint64_t c;

	replay_init(&r);
	for (c = 0; c < REPLAY_WINDOW; c++)
		replay_accept(&r, c);
	/* one word ahead, then across the whole window, then a small step */
	replay_accept(&r, REPLAY_WINDOW + 64);
	for (c = REPLAY_WINDOW; c < REPLAY_WINDOW + 128; c++)
		ck_assert_int_eq(replay_check(&r, c), c == REPLAY_WINDOW + 64 ? -1 : 0);
	replay_accept(&r, 5 * REPLAY_WINDOW + 3);
	for (c = 4 * REPLAY_WINDOW + 64; c < 5 * REPLAY_WINDOW + 3; c++)
		ck_assert_int_eq(replay_check(&r, c), 0);
	replay_accept(&r, 5 * REPLAY_WINDOW + 5);
	ck_assert_int_eq(replay_check(&r, 5 * REPLAY_WINDOW + 4), 0);
	ck_assert_int_eq(replay_check(&r, 5 * REPLAY_WINDOW + 3), -1);
}
END_TEST

/* checking is free of side effects: a forged counter far ahead, checked
 * but never authenticated, moves nothing */
START_TEST(test_check_moves_nothing)
{
	struct replay r;

	replay_init(&r);
	replay_accept(&r, 10);
	ck_assert_int_eq(replay_check(&r, UINT64_MAX - 1), 0);
	ck_assert_int_eq(replay_check(&r, 9), 0);
	replay_accept(&r, 9);
	ck_assert_int_eq(replay_check(&r, 9), -1);
	ck_assert_int_eq(replay_check(&r, 11), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_in_order_and_duplicates);
	tcase_add_test(tc, test_late_by_thousands);
	tcase_add_test(tc, test_window_edge);
	tcase_add_test(tc, test_jumps_clear_stale_bits);
	tcase_add_test(tc, test_check_moves_nothing);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
