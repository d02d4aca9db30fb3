/* test_nsrefuse.c: a refused user namespace or tap is explained by the
 * restriction in force (each distribution's sysctl, the namespace limit,
 * Ubuntu's AppArmor rule), most specific first, with what to do; and none
 * is blamed when no sysctl forbids it. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "nsrefuse.h"

static const struct userns_sysctls open_host = { -1, 63000, -1, 0 };

START_TEST(test_debian_clone_sysctl)
{
	struct userns_sysctls s = { 0, 63000, 1, 0 };
	char buf[512];

	nsrefuse_userns(&s, "unshare", EPERM, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "cannot make a user namespace (unshare: Operation not permitted)"));
	ck_assert_ptr_nonnull(strstr(buf, "kernel.unprivileged_userns_clone is 0"));
	ck_assert_ptr_nonnull(strstr(buf, "sysctl -w kernel.unprivileged_userns_clone=1"));
	/* the more specific restriction is named, not AppArmor's as well */
	ck_assert_ptr_null(strstr(buf, "AppArmor"));
}
END_TEST

START_TEST(test_max_user_namespaces)
{
	struct userns_sysctls s = { -1, 0, -1, 0 };
	char buf[512];

	nsrefuse_userns(&s, "unshare", ENOSPC, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "user.max_user_namespaces is 0"));
	s.max_user_namespaces = 20;
	nsrefuse_userns(&s, "unshare", ENOSPC, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "(user.max_user_namespaces = 20, or a parent namespace's) is reached"));
}
END_TEST

START_TEST(test_apparmor)
{
	/* Ubuntu 24.04: unshare() succeeds, the capabilities do not come;
	 * writing the map is the first step refused */
	struct userns_sysctls s = { 1, 63000, 1, 0 };
	char buf[512];

	nsrefuse_userns(&s, "uid_map", EPERM, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "(uid_map: Operation not permitted)"));
	ck_assert_ptr_nonnull(strstr(buf, "kernel.apparmor_restrict_unprivileged_userns is 1"));
	ck_assert_ptr_nonnull(strstr(buf, "/apparmor.d/omnetd) to /etc/apparmor.d"));
	ck_assert_ptr_nonnull(strstr(buf, "apparmor_parser -r /etc/apparmor.d/omnetd"));
}
END_TEST

START_TEST(test_nothing_to_blame)
{
	struct userns_sysctls s = open_host;
	char buf[512];

	nsrefuse_userns(&s, "unshare", EPERM, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "no sysctl forbids it; a seccomp filter"));
	/* a filter is there: say so, and where it may come from */
	s.seccomp = 2;
	nsrefuse_userns(&s, "unshare", EPERM, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "runs under a seccomp filter (Seccomp: 2"));
	ck_assert_ptr_nonnull(strstr(buf, "RestrictNamespaces="));
}
END_TEST

START_TEST(test_tun)
{
	char buf[512];

	nsrefuse_tun(EACCES, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "Permission denied"));
	ck_assert_ptr_nonnull(strstr(buf, "chmod 0666 /dev/net/tun"));
	nsrefuse_tun(ENOENT, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "modprobe tun"));
	ck_assert_ptr_nonnull(strstr(buf, "PrivateDevices="));
	nsrefuse_tun(EIO, buf, sizeof(buf));
	ck_assert_str_eq(buf, "cannot open /dev/net/tun: Input/output error");
}
END_TEST

START_TEST(test_short_buffer)
{
	struct userns_sysctls s = { 0, 0, 1, 2 };
	char buf[16];

	nsrefuse_userns(&s, "unshare", EPERM, buf, sizeof(buf));
	ck_assert_uint_eq(strlen(buf), sizeof(buf) - 1);
	nsrefuse_tun(EACCES, buf, sizeof(buf));
	ck_assert_uint_eq(strlen(buf), sizeof(buf) - 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("nsrefuse");
	TCase *tc = tcase_create("nsrefuse");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_debian_clone_sysctl);
	tcase_add_test(tc, test_max_user_namespaces);
	tcase_add_test(tc, test_apparmor);
	tcase_add_test(tc, test_nothing_to_blame);
	tcase_add_test(tc, test_tun);
	tcase_add_test(tc, test_short_buffer);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
