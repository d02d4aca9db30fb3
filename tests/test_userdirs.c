/* test_userdirs.c: an ordinary user's places for omnetd's files, by the
 * XDG Base Directory rules: absolute variables only, XDG_STATE_HOME before
 * HOME, a clear error when nothing is set, and no path cut short. */
#include <check.h>
#include <string.h>

#include "userdirs.h"

START_TEST(test_state_prefers_xdg_state_home)
{
	char out[256], err[256];

	ck_assert_int_eq(userdirs_state("/x/state", "/home/u", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/x/state/omnetd");
	ck_assert_int_eq(userdirs_state(NULL, "/home/u", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/home/u/.local/state/omnetd");
	/* the specification: a relative value is invalid and ignored */
	ck_assert_int_eq(userdirs_state("rel", "/home/u", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/home/u/.local/state/omnetd");
	ck_assert_int_eq(userdirs_state("", "/home/u", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/home/u/.local/state/omnetd");
}
END_TEST

START_TEST(test_state_nowhere)
{
	char out[256], err[256];

	ck_assert_int_eq(userdirs_state(NULL, NULL, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "XDG_STATE_HOME nor HOME"));
	ck_assert_int_eq(userdirs_state("x", "home", out, sizeof(out), err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_socket)
{
	char out[108], err[256];

	ck_assert_int_eq(userdirs_socket("/run/user/1000", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/run/user/1000/omnetd/omnetd.sock");
	ck_assert_int_eq(userdirs_socket(NULL, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "XDG_RUNTIME_DIR"));
	ck_assert_int_eq(userdirs_socket("run", out, sizeof(out), err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_too_long)
{
	char out[32], err[256], dir[64];

	memset(dir, 'a', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	ck_assert_int_eq(userdirs_socket(dir, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "path too long"));
	ck_assert_int_eq(userdirs_state(dir, NULL, out, sizeof(out), err, sizeof(err)), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("userdirs");
	TCase *tc = tcase_create("userdirs");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_state_prefers_xdg_state_home);
	tcase_add_test(tc, test_state_nowhere);
	tcase_add_test(tc, test_socket);
	tcase_add_test(tc, test_too_long);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
