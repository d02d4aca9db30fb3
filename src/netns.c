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
	char path[4096], self[64];
	struct statfs fs;
	int pfd, fd, e;

	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", name);
	/* O_PATH first: a FIFO or a device named by a control client opens
	 * nothing and blocks nothing; only a namespace file is then opened */
	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0) {
		snprintf(err, errlen, "namespace %s: cannot open %s: %s", name, path, strerror(errno));
		return -1;
	}
	if (fstatfs(pfd, &fs) < 0 || fs.f_type != NSFS_MAGIC) {
		snprintf(err, errlen, "namespace %s: not a network namespace", name);
		close(pfd);
		errno = EINVAL;
		return -1;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_CLOEXEC);
	e = errno;
	if (fd < 0)
		snprintf(err, errlen, "namespace %s: cannot open %s: %s", name, path, strerror(e));
	close(pfd);
	errno = e;
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

/* join_userns() - setns() into the user namespace that owns nsfd */
static int join_userns(const char *name, int nsfd, char *err, size_t errlen)
{
	int ufd = ioctl(nsfd, NS_GET_USERNS), e;

	if (ufd < 0) {
		snprintf(err, errlen, "namespace %s: cannot find the user namespace that owns it: %s",
			 name, strerror(errno));
		return -1;
	}
	if (setns(ufd, CLONE_NEWUSER) == 0) {
		close(ufd);
		return 0;
	}
	e = errno;
	close(ufd);
	if (e == EINVAL)
		/* our own user namespace: for an ordinary user, the host's */
		snprintf(err, errlen, "namespace %s belongs to the host's user namespace, where a "
			 "provider without privileges (uid %u) may not capture: make the namespace "
			 "as this user (unshare --user --map-root-user --net) or let omnetd make it "
			 "(network add --run)", name, (unsigned)getuid());
	else if (e == EPERM)
		snprintf(err, errlen, "namespace %s belongs to a user namespace that uid %u does "
			 "not own", name, (unsigned)getuid());
	else
		snprintf(err, errlen, "namespace %s: cannot join its user namespace: %s", name,
			 strerror(e));
	return -1;
}

int netns_join_owner(const char *name, char *err, size_t errlen)
{
	int fd = netns_open(name, err, errlen);

	if (fd < 0)
		return -1;
	if (!is_netns(fd)) {
		snprintf(err, errlen, "namespace %s: not a network namespace", name);
		close(fd);
		return -1;
	}
	if (join_userns(name, fd, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	/* the host's namespace is out of reach now: netns_leave() must
	 * come back to one that is ours, and never the VM's */
	if (unshare(CLONE_NEWNET) < 0) {
		snprintf(err, errlen, "namespace %s: cannot make a namespace to work from: %s", name,
			 strerror(errno));
		close(fd);
		return -1;
	}
	self_fd = -1; /* a descriptor of another life (closed since the fork) */
	if (netns_init() < 0) {
		snprintf(err, errlen, "cannot open this process's network namespace: %s",
			 strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
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
