/* osutil.c: the clock, random bytes, atomic files, a socket option (see
 * osutil.h).  One copy of each, for every glue file. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "log.h"
#include "osutil.h"

/* clock_now_us() - monotonic time in microseconds; cores get the time as
 * an argument */
uint64_t clock_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t clock_now_ms(void)
{
	return clock_now_us() / 1000;
}

struct timeval timeval_from_us(uint64_t us)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	return tv;
}

struct timeval timeval_from_ms(uint64_t ms)
{
	return timeval_from_us(ms * 1000);
}

void log_stamp_local(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (!localtime_r(&ts.tv_sec, &tm)) {
		snprintf(buf, len, "? ");
		return;
	}
	snprintf(buf, len, "%02d:%02d:%02d.%03ld ", tm.tm_hour, tm.tm_min, tm.tm_sec,
		 ts.tv_nsec / 1000000);
}

void random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		/* only a kernel older than 3.17 says ENOSYS: nothing to fall
		 * back to that would be as good, and nonces must not repeat */
		if (n < 0)
			fatal("getrandom");
		p += n;
		len -= (size_t)n;
	}
}

uint64_t random_u64(void)
{
	uint64_t r;

	random_bytes(&r, sizeof(r));
	return r;
}

int file_write_atomic(const char *path, file_writer write_cb, void *arg, char *err,
		      size_t errlen)
{
	char tmp[4300];
	FILE *f;
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (write_cb(f, arg) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		return -1;
	}
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s: cannot replace: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

void sock_rst_on_close(int fd)
{
	struct linger lg = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

const char *user_runtime_dir(char *buf, size_t len)
{
	const char *env = getenv("XDG_RUNTIME_DIR");
	struct stat st;

	if (env && env[0] == '/')
		return env;
	snprintf(buf, len, "/run/user/%u", (unsigned)geteuid());
	if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid())
		return buf;
	return NULL;
}


/* fds_each_above() - fn on every descriptor above fd, from /proc/self/fd */
static int fds_each_above(int fd, int (*fn)(int))
{
	const struct dirent *e;
	DIR *dir = opendir("/proc/self/fd");

	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		int n = atoi(e->d_name);

		if (n > fd && n != dirfd(dir))
			fn(n);
	}
	closedir(dir);
	return 0;
}

static int set_cloexec(int fd)
{
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

int fds_close_above(int fd)
{
	if (close_range((unsigned)fd + 1, ~0U, 0) == 0)
		return 0;
	return fds_each_above(fd, close);
}

int fds_cloexec_above(int fd)
{
	if (close_range((unsigned)fd + 1, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	return fds_each_above(fd, set_cloexec);
}

int mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	char *p;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(tmp, mode) < 0 && errno != EEXIST ? -1 : 0;
}

ssize_t send_with_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SEND_FDS_MAX)];
		struct cmsghdr align;
	} c;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (nfds > SEND_FDS_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (nfds) {
		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL);
}

int msg_take_fds(struct msghdr *mh, int *fds, size_t room, size_t *n)
{
	struct cmsghdr *cm;
	int over = (mh->msg_flags & MSG_CTRUNC) != 0;

	*n = 0;
	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t k, cnt;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < cnt; k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
			if (*n < room)
				fds[(*n)++] = fd;
			else {
				close(fd);
				over = 1;
			}
		}
	}
	return over ? -1 : 0;
}

int fd_wait_readable(int fd, int timeout_ms)
{
	uint64_t end = clock_now_ms() + (uint64_t)timeout_ms;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t now;
	int r;

	do {
		now = clock_now_ms();
		r = poll(&pfd, 1, now < end ? (int)(end - now) : 0);
	} while (r < 0 && errno == EINTR && now < end);
	return r > 0 ? 0 : -1;
}

int exec_self(int keep, int at, char *const argv[])
{
	if (keep >= 0 && ((keep == at ? fcntl(keep, F_SETFD, 0) : dup2(keep, at)) < 0 ||
			  fds_close_above(at) < 0))
		return -1;
	return execv("/proc/self/exe", argv);
}

int os_has_ipv6(void)
{
	return access("/proc/sys/net/ipv6", F_OK) == 0;
}
