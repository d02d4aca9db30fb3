/* test_userdirs.c: an ordinary user's places for omnetd's files, by the
 * XDG Base Directory rules: absolute variables only, XDG_STATE_HOME before
 * HOME, a clear error when nothing is set, and no path cut short. */
#include <check.h>
#include <string.h>

#include "userdirs.h"

START_TEST(test_state_prefers_xdg_state_home)
{
	char out[256], err[256];

	ck_assert_int_eq(userdirs_state(NULL, "/x/state", "/home/u", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/x/state/omnetd");
	ck_assert_int_eq(userdirs_state(NULL, NULL, "/home/u", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/home/u/.local/state/omnetd");
	/* the specification: a relative value is invalid and ignored */
	ck_assert_int_eq(userdirs_state(NULL, "rel", "/home/u", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/home/u/.local/state/omnetd");
	ck_assert_int_eq(userdirs_state(NULL, "", "/home/u", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/home/u/.local/state/omnetd");
}
END_TEST

START_TEST(test_state_nowhere)
{
	char out[256], err[256];

	ck_assert_int_eq(userdirs_state(NULL, NULL, NULL, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "XDG_STATE_HOME nor HOME"));
	ck_assert_int_eq(userdirs_state(NULL, "x", "home", out, sizeof(out), err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_socket)
{
	char out[108], err[256];

	ck_assert_int_eq(userdirs_socket(NULL, "/run/user/1000", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/run/user/1000/omnetd/omnetd.sock");
	ck_assert_int_eq(userdirs_socket(NULL, NULL, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "XDG_RUNTIME_DIR"));
	ck_assert_int_eq(userdirs_socket(NULL, "run", out, sizeof(out), err, sizeof(err)), -1);
}
END_TEST

/* a service systemd starts as a user is told its directories, and they
 * come first: the packaged units (User=omnet) keep /var/lib/omnetd and
 * /run/omnetd whatever HOME says */
START_TEST(test_systemd_directories_first)
{
	char out[256], err[256];

	ck_assert_int_eq(userdirs_state("/var/lib/omnetd", "/x", "/var/lib/omnetd", out, sizeof(out),
					err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/var/lib/omnetd");
	ck_assert_int_eq(userdirs_state("/a:/b", NULL, NULL, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/a");
	ck_assert_int_eq(userdirs_socket("/run/omnetd", NULL, out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/run/omnetd/omnetd.sock");
	/* relative: not systemd's; the XDG rules apply */
	ck_assert_int_eq(userdirs_socket("run", "/run/user/7", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/run/user/7/omnetd/omnetd.sock");
}
END_TEST

START_TEST(test_too_long)
{
	char out[32], err[256], dir[64];

	memset(dir, 'a', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	ck_assert_int_eq(userdirs_socket(NULL, dir, out, sizeof(out), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "path too long"));
	ck_assert_int_eq(userdirs_state(NULL, dir, NULL, out, sizeof(out), err, sizeof(err)), -1);
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
	tcase_add_test(tc, test_systemd_directories_first);
	tcase_add_test(tc, test_too_long);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
