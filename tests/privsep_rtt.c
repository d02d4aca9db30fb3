/* privsep_rtt.c: what a per-flow socket costs, made by the privileged
 * helper (one round trip) and in-process (as before the split).
 *
 *   privsep_rtt NETNS IFACE [COUNT]     (root; NETNS holds IFACE, no capture)
 *
 * Sets a capture up in NETNS, then times COUNT transparent UDP sockets
 * bound to a stand-in server's address and connected to the VM, as a VM's
 * UDP conversation gets one: first through the helper, then made here.
 * Prints the median, the 99th percentile and the mean, in microseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "capns.h"
#include "log.h"
#include "osutil.h"
#include "privsep.h"
#include "util.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void ipv4(struct ipport *ip, const char *addr, uint16_t port)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = AF_INET;
	ip->port = port;
	inet_pton(AF_INET, addr, ip->addr);
}

/* run() - COUNT sockets from pc, each timed; -1 if one fails */
static int run(const char *what, struct privcap *pc, size_t count, uint64_t *us)
{
	struct ipport local, vm;
	uint64_t sum = 0;
	size_t i;

	ipv4(&vm, "10.0.2.15", 40000);
	for (i = 0; i < count; i++) {
		uint64_t t0 = clock_now_us();
		int fd;

		ipv4(&local, "198.51.100.10", (uint16_t)(1024 + i % 60000));
		fd = privcap_socket(pc, SOCK_DGRAM, &local, &vm);
		us[i] = clock_now_us() - t0;
		if (fd < 0) {
			perror(what);
			return -1;
		}
		close(fd);
		sum += us[i];
	}
	qsort(us, count, sizeof(*us), cmp_u64);
	printf("%-30s median %4llu us   p99 %4llu us   mean %6.1f us   (%zu sockets)\n", what,
	       (unsigned long long)us[count / 2], (unsigned long long)us[count * 99 / 100],
	       (double)sum / (double)count, count);
	return 0;
}

static struct privcap *open_capture(struct privsep *ps, const struct capns_params *p)
{
	struct capns_socks s;
	struct privcap *pc;
	char err[512];
	size_t i;

	pc = privcap_open(ps, p, &s, err, sizeof(err));
	if (!pc) {
		fprintf(stderr, "privsep_rtt: %s\n", err);
		return NULL;
	}
	for (i = 0; i < CAPNS_NSOCK; i++)
		close(s.fd[i]);
	return pc;
}

int main(int argc, char **argv)
{
	struct capns_params p = { .prefix_len = 24 };
	size_t count = argc > 3 ? strtoul(argv[3], NULL, 10) : 20000;
	uint64_t *us;
	struct privsep *ps;
	struct privcap *pc;
	char err[512];
	int ret = 1;

	if (argc < 3 || count == 0 || count > 1000000) {
		fprintf(stderr, "usage: privsep_rtt NETNS IFACE [COUNT]\n");
		return 2;
	}
	log_init(-1);
	snprintf(p.idstr, sizeof(p.idstr), "0123456789abcdef0123456789abcdef");
	snprintf(p.netns, sizeof(p.netns), "%s", argv[1]);
	snprintf(p.iface, sizeof(p.iface), "%s", argv[2]);
	inet_pton(AF_INET, "10.0.2.2", &p.gateway);
	inet_pton(AF_INET, "10.0.2.3", &p.dns);
	us = xcalloc(count, sizeof(*us));
	ps = privsep_start(err, sizeof(err));
	if (!ps) {
		fprintf(stderr, "privsep_rtt: %s\n", err);
		return 1;
	}
	pc = open_capture(ps, &p);
	if (pc && run("through the helper", pc, count, us) == 0) {
		privcap_close(pc);
		pc = open_capture(NULL, &p);
		if (pc && run("in-process (before the split)", pc, count, us) == 0)
			ret = 0;
	}
	privcap_close(pc);
	privsep_stop(ps);
	free(us);
	return ret;
}
