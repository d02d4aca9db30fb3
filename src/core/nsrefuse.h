/* nsrefuse.h: why the kernel refused what a rootless provider needs, in
 * words an operator can act on: a user namespace (distributions restrict
 * them: Debian's and Ubuntu's kernel.unprivileged_userns_clone,
 * user.max_user_namespaces, Ubuntu 24.04's AppArmor rule) and a tap
 * (/dev/net/tun's mode).
 *
 * Pure: the sysctls' values come in as arguments (-1: absent or
 * unreadable), so every case is tested without a kernel that has it. */
#ifndef OMNET_NSREFUSE_H
#define OMNET_NSREFUSE_H

#include <stddef.h>

struct userns_sysctls {
	long unprivileged_userns_clone;        /* kernel.unprivileged_userns_clone */
	long max_user_namespaces;              /* user.max_user_namespaces */
	long apparmor_restrict;                /* kernel.apparmor_restrict_unprivileged_userns */
	long seccomp;                          /* "Seccomp:" of /proc/self/status: 2 filtered */
};

/* nsrefuse_userns() - "cannot make a user namespace (STEP): ERRNO TEXT:
 * why, and what to do", in buf; step says what failed ("unshare",
 * "uid_map", ...), err is its errno */
const char *nsrefuse_userns(const struct userns_sysctls *s, const char *step, int err,
			    char *buf, size_t len);
/* nsrefuse_tun() - opening /dev/net/tun failed with err */
const char *nsrefuse_tun(int err, char *buf, size_t len);

#endif
