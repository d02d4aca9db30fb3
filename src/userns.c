/* userns.c: making a user namespace, and saying why the kernel would not. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nsrefuse.h"
#include "userns.h"

static long read_sysctl(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), e;
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* seccomp_mode() - "Seccomp:" of /proc/self/status, or -1 */
static long seccomp_mode(void)
{
	char line[128];
	long mode = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Seccomp:", 8) == 0)
			mode = strtol(line + 8, NULL, 10);
	fclose(f);
	return mode;
}

static int refused(const char *step, char *err, size_t errlen)
{
	struct userns_sysctls s;
	int e = errno;

	s.unprivileged_userns_clone = read_sysctl("/proc/sys/kernel/unprivileged_userns_clone");
	s.max_user_namespaces = read_sysctl("/proc/sys/user/max_user_namespaces");
	s.apparmor_restrict = read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
	s.seccomp = seccomp_mode();
	nsrefuse_userns(&s, step, e, err, errlen);
	return -1;
}

int userns_make(char *err, size_t errlen)
{
	char map[64];
	unsigned uid = (unsigned)getuid(), gid = (unsigned)getgid();

	if (unshare(CLONE_NEWUSER) < 0)
		return refused("unshare", err, errlen);
	/* an unprivileged writer may map only its own ids, and its gid only
	 * once setgroups(2) is off in the namespace */
	if (write_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT)
		return refused("setgroups", err, errlen);
	snprintf(map, sizeof(map), "0 %u 1", uid);
	if (write_file("/proc/self/uid_map", map) < 0)
		return refused("uid_map", err, errlen);
	snprintf(map, sizeof(map), "0 %u 1", gid);
	if (write_file("/proc/self/gid_map", map) < 0)
		return refused("gid_map", err, errlen);
	return 0;
}
