/* netns.c: setns into capture namespaces and back. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <linux/nsfs.h>

#include "log.h"
#include "netns.h"

static int self_fd = -1;

int netns_init(void)
{
	if (self_fd >= 0)
		return 0;
	self_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	return self_fd < 0 ? -1 : 0;
}

int netns_open(const char *name, char *err, size_t errlen)
{
	char path[4096];
	int fd;

	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		snprintf(err, errlen, "namespace %s: cannot open %s: %s", name, path, strerror(errno));
	return fd;
}

/* is_netns() - fd is a network namespace, not a plain file or another
 * kind of namespace (a kernel before 4.11 cannot tell the kind: setns()
 * refuses a wrong one later) */
static int is_netns(int fd)
{
	struct statfs fs;

	if (fstatfs(fd, &fs) < 0 || (fs.f_type != NSFS_MAGIC && fs.f_type != PROC_SUPER_MAGIC))
		return 0;
	return ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET || errno == ENOTTY;
}

int netns_identity(const char *name, struct netns_id *id, char *err, size_t errlen)
{
	struct stat st;
	int fd = netns_open(name, err, errlen);

	memset(id, 0, sizeof(*id));
	if (fd < 0 && errno == EACCES)
		return 0; /* another user's /proc/PID/ns: the capture helper judges it */
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "namespace %s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	if (!is_netns(fd)) {
		snprintf(err, errlen, "namespace %s: not a network namespace", name);
		close(fd);
		return -1;
	}
	close(fd);
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return 0;
}

int netns_enter(int fd)
{
	if (netns_init() < 0 || setns(fd, CLONE_NEWNET) < 0)
		return -1;
	return 0;
}

void netns_leave(void)
{
	/* failing to come back would leave the daemon in a VM's namespace:
	 * nothing sensible can continue from there */
	if (setns(self_fd, CLONE_NEWNET) < 0)
		fatal("cannot return to the daemon's network namespace");
}

int netns_sysctl(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, value, strlen(value));
	close(fd);
	return n < 0 ? -1 : 0;
}
