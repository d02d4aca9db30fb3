/* nl_selftest.c: drive src/netlink.c from the shell, one call per run, for
 * tests/integration/netlink_selftest.sh.  Exit 0 on success, 1 when the
 * call fails (with the reason on stderr), 2 on bad usage.
 * NL_SELFTEST_DEBUG=1 in the environment turns on debug logs. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/rtnetlink.h>

#include "log.h"
#include "netlink.h"

/* One subcommand: its name, argument count after the name, usage. */
struct cmd {
	const char *name;
	int argc;
	const char *usage;
	int (*fn)(char **argv);
};

/* parse_u32() - decimal or 0x-hex into *out; -1 if not a whole number */
static int parse_u32(const char *s, uint32_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v > UINT32_MAX) {
		fprintf(stderr, "nl_selftest: bad number '%s'\n", s);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* parse_family() - "4" or "6" */
static int parse_family(const char *s, int *family)
{
	if (!strcmp(s, "4"))
		*family = AF_INET;
	else if (!strcmp(s, "6"))
		*family = AF_INET6;
	else
		return -1;
	return 0;
}

/* parse_add() - "add" 1, "del" 0 */
static int parse_add(const char *s, int *add)
{
	if (!strcmp(s, "add"))
		*add = 1;
	else if (!strcmp(s, "del"))
		*add = 0;
	else
		return -1;
	return 0;
}

/* cmd_index() - print the index of IF */
static int cmd_index(char **argv)
{
	int idx = nl_link_index(argv[0]);

	if (idx < 0)
		return -1;
	printf("%d\n", idx);
	return 0;
}

/* cmd_up() - set IF up */
static int cmd_up(char **argv)
{
	return nl_link_set_up(argv[0]);
}

/* cmd_mtu() - print the MTU of IF */
static int cmd_mtu(char **argv)
{
	unsigned mtu;

	if (nl_link_get_mtu(argv[0], &mtu) < 0)
		return -1;
	printf("%u\n", mtu);
	return 0;
}

/* cmd_addr() - IF ADDR PREFIXLEN: add or delete, the family from ADDR */
static int cmd_addr(char **argv, int add)
{
	uint8_t addr[16];
	uint32_t plen;
	int family = AF_INET;

	if (inet_pton(AF_INET, argv[1], addr) != 1) {
		family = AF_INET6;
		if (inet_pton(AF_INET6, argv[1], addr) != 1) {
			fprintf(stderr, "nl_selftest: bad address '%s'\n",
				argv[1]);
			return -2;
		}
	}
	if (parse_u32(argv[2], &plen) < 0)
		return -2;
	if (add)
		return nl_addr_add(argv[0], family, addr, plen);
	return nl_addr_del(argv[0], family, addr, plen);
}

static int cmd_addr_add(char **argv)
{
	return cmd_addr(argv, 1);
}

static int cmd_addr_del(char **argv)
{
	return cmd_addr(argv, 0);
}

/* cmd_route_local() - TABLE add|del 4|6 */
static int cmd_route_local(char **argv)
{
	uint32_t table;
	int add, family;

	if (parse_u32(argv[0], &table) < 0 || parse_add(argv[1], &add) < 0 ||
	    parse_family(argv[2], &family) < 0)
		return -2;
	return nl_route_local_default(family, table, add);
}

/* cmd_rule() - MARK MASK TABLE PRIO add|del 4|6 */
static int cmd_rule(char **argv)
{
	uint32_t mark, mask, table, prio;
	int add, family;

	if (parse_u32(argv[0], &mark) < 0 || parse_u32(argv[1], &mask) < 0 ||
	    parse_u32(argv[2], &table) < 0 || parse_u32(argv[3], &prio) < 0 ||
	    parse_add(argv[4], &add) < 0 || parse_family(argv[5], &family) < 0)
		return -2;
	return nl_rule_fwmark(family, mark, mask, table, prio, add);
}

/* cmd_list() - print "IFNAME IFINDEX ADDR/PREFIXLEN" per address */
static int cmd_list(char **argv)
{
	char buf[INET6_ADDRSTRLEN];
	struct nl_ifaddr *a;
	size_t n, i;

	(void)argv;
	if (nl_addr_list(&a, &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		inet_ntop(a[i].family, a[i].addr, buf, sizeof(buf));
		printf("%s %d %s/%u\n", a[i].ifname[0] ? a[i].ifname : "?",
		       a[i].ifindex, buf, a[i].prefixlen);
	}
	free(a);
	return 0;
}

/* route_type_name() - as ip(8) names them */
static const char *route_type_name(unsigned char t)
{
	switch (t) {
	case RTN_UNICAST:
		return "unicast";
	case RTN_UNREACHABLE:
		return "unreachable";
	case RTN_BLACKHOLE:
		return "blackhole";
	case RTN_PROHIBIT:
		return "prohibit";
	default:
		return "?";
	}
}

/* cmd_routes() - MAX: print "TABLE TYPE DST/LEN [via GW] [dev IF] metric M
 * nexthops N" per route, "main" for table 254 */
static int cmd_routes(char **argv)
{
	char dst[INET6_ADDRSTRLEN], gw[INET6_ADDRSTRLEN], table[16];
	struct nl_route *r;
	uint32_t max;
	size_t n, i;

	if (parse_u32(argv[0], &max) < 0)
		return -2;
	if (nl_route_list(&r, &n, max) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		const struct nl_nexthop *nh = &r[i].nh[0];

		inet_ntop(r[i].family, r[i].dst, dst, sizeof(dst));
		snprintf(table, sizeof(table), "%u", r[i].table);
		printf("%s %s %s/%u", r[i].table == RT_TABLE_MAIN ? "main" : table,
		       route_type_name(r[i].type), dst, r[i].dst_len);
		if (r[i].nnh && nh->gw_family && inet_ntop(nh->gw_family, nh->gw, gw, sizeof(gw)))
			printf(" via %s", gw);
		if (r[i].nnh && nh->ifindex)
			printf(" dev %s", nh->ifname[0] ? nh->ifname : "?");
		printf(" metric %u nexthops %u\n", r[i].metric, r[i].nnh);
	}
	free(r);
	return 0;
}

/* cmd_watch() - MS: listen for changes; print "ready" once listening, then
 * "events N" and succeed at the first change, or fail after MS */
static int cmd_watch(char **argv)
{
	struct timespec t0, t1;
	unsigned events = 0;
	uint32_t ms;
	int fd, left;

	if (parse_u32(argv[0], &ms) < 0)
		return -2;
	if ((fd = nl_monitor_open()) < 0)
		return -1;
	printf("ready\n");
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (left = (int)ms; left > 0 && !events;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, left) > 0 && nl_monitor_read(fd, 64, &events) < 0) {
			if (errno != ENOBUFS)
				break;
			events++; /* lost ones are changes too */
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = (int)ms - (int)((t1.tv_sec - t0.tv_sec) * 1000 +
				       (t1.tv_nsec - t0.tv_nsec) / 1000000);
	}
	close(fd);
	if (!events) {
		errno = ETIMEDOUT;
		return -1;
	}
	printf("events %u\n", events);
	return 0;
}

static const struct cmd cmds[] = {
	{ "index", 1, "IF", cmd_index },
	{ "up", 1, "IF", cmd_up },
	{ "mtu", 1, "IF", cmd_mtu },
	{ "addr-add", 3, "IF ADDR PREFIXLEN", cmd_addr_add },
	{ "addr-del", 3, "IF ADDR PREFIXLEN", cmd_addr_del },
	{ "route-local", 3, "TABLE add|del 4|6", cmd_route_local },
	{ "rule", 6, "MARK MASK TABLE PRIO add|del 4|6", cmd_rule },
	{ "list", 0, "", cmd_list },
	{ "routes", 1, "MAX", cmd_routes },
	{ "watch", 1, "MS", cmd_watch },
};

/* usage() - the subcommand list on stderr; exit status 2 */
static int usage(void)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(stderr, "usage: nl_selftest %s %s\n", cmds[i].name,
			cmds[i].usage);
	return 2;
}

int main(int argc, char **argv)
{
	size_t i;
	int rc;

	if (getenv("NL_SELFTEST_DEBUG"))
		log_init(1);
	if (argc < 2)
		return usage();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) || argc - 2 != cmds[i].argc)
			continue;
		rc = cmds[i].fn(argv + 2);
		if (rc == -2)
			return usage();
		if (rc < 0) {
			fprintf(stderr, "nl_selftest: %s: %s\n", argv[1],
				strerror(errno));
			return 1;
		}
		return 0;
	}
	return usage();
}
