/* fuzz_common.c: seed files, and namespaces of their own for the harnesses
 * that open sockets or write files (fuzz.h). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "fuzz.h"

void fuzz_seed(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

void fuzz_seedf(const char *dir, const void *data, size_t len, const char *fmt, ...)
{
	char name[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	fuzz_seed(dir, name, data, len);
}

void fuzz_seed_texts(const char *dir, const char *prefix, const char *const *texts, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fuzz_seedf(dir, texts[i], strlen(texts[i]), "%s-%zu", prefix, i);
}

void fuzz_make_seeds(int *argc, char ***argv, void (*gen)(const char *dir))
{
	static const char opt[] = "--make-seeds=";
	int i;

	for (i = 1; i < *argc; i++) {
		const char *dir = (*argv)[i] + sizeof(opt) - 1;

		if (strncmp((*argv)[i], opt, sizeof(opt) - 1) != 0)
			continue;
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			fprintf(stderr, "fuzz: cannot create %s: %s\n", dir, strerror(errno));
			exit(1);
		}
		gen(dir);
		exit(0);
	}
}

/* write_file() - for the uid and gid maps of a new user namespace */
static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* private_tmp() - a tmpfs of our own on FUZZ_TMP, in our own mount
 * namespace: what a harness writes there is gone when it exits, however it
 * exits.  Not over /tmp itself: a checkout (and its corpus) may live there. */
static int private_tmp(void)
{
	if (mkdir(FUZZ_TMP, 01777) < 0 && errno != EEXIST)
		return -1;
	return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	       mount("tmpfs", FUZZ_TMP, "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777") == 0
		       ? 0 : -1;
}

void fuzz_private_namespaces(void)
{
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();

	if (unshare(CLONE_NEWNET | CLONE_NEWNS) == 0 && private_tmp() == 0)
		return;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWNS) == 0) {
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		write_file("/proc/self/setgroups", "deny");
		if (write_file("/proc/self/uid_map", map) == 0) {
			snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
			if (write_file("/proc/self/gid_map", map) == 0 && private_tmp() == 0)
				return;
		}
	}
	fprintf(stderr, "fuzz: this harness needs network and mount namespaces of its own (run "
		"as root, or allow unprivileged user namespaces): %s\n", strerror(errno));
	exit(1);
}
