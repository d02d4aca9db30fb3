/* netlink.h: rtnetlink requests (links, addresses, routes, rules) for setup,
 * dumps of the host's addresses and routes, and a socket that hears when
 * they change.
 *
 * Every call opens its own NETLINK_ROUTE socket, so it acts on the network
 * namespace the calling thread is in at that moment: the daemon setns()es
 * into a capture namespace, calls these, and setns()es back.  All return 0,
 * or -1 with errno set (from the kernel's error reply where there is one).
 * Adding what exists and deleting what is absent succeed, so set-up and
 * tear-down can be re-run after a crash.
 */
#ifndef OMNET_NETLINK_H
#define OMNET_NETLINK_H

#include <stddef.h>
#include <stdint.h>

/* One address of one interface, as nl_addr_list() reports it. */
struct nl_ifaddr {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];	/* network byte order; IPv4 in the first 4 bytes */
	unsigned prefixlen;
	int ifindex;
	char ifname[16];	/* IFNAMSIZ; empty if the link vanished meanwhile */
};

/* if_nametoindex() as an int: the index, or -1 with errno set */
int nl_link_index(const char *ifname);
/* Set IFF_UP on @ifname (RTM_NEWLINK) */
int nl_link_set_up(const char *ifname);
/* nl_link_add_veth() - a veth pair: ifname here, peer in the network
 * namespace of peer_nsfd (here if -1); 0, or -1 with errno */
int nl_link_add_veth(const char *ifname, const char *peer, int peer_nsfd);
/* The MTU of @ifname into *mtu (RTM_GETLINK) */
int nl_link_get_mtu(const char *ifname, unsigned *mtu);

/* @family AF_INET or AF_INET6, @addr 4 or 16 bytes in network byte order.
 * Adding an existing address, or deleting an absent one, succeeds. */
int nl_addr_add(const char *ifname, int family, const void *addr, unsigned prefixlen);
int nl_addr_del(const char *ifname, int family, const void *addr, unsigned prefixlen);

/* "ip route add local 0.0.0.0/0 dev lo table TABLE" (::/0 for AF_INET6),
 * the TPROXY policy route; deletes it when @add == 0 */
int nl_route_local_default(int family, uint32_t table, int add);
/* "ip rule add fwmark MARK/MASK lookup TABLE priority PRIO" for @family;
 * deletes it when @add == 0 */
int nl_rule_fwmark(int family, uint32_t mark, uint32_t mask, uint32_t table,
		   uint32_t priority, int add);

/* All IPv4 and IPv6 addresses of all interfaces into a new array *out of
 * *count entries; the caller frees *out with free() */
int nl_addr_list(struct nl_ifaddr **out, size_t *count);

#define NL_ROUTE_NEXTHOPS_MAX	4

/* One way out of a route. */
struct nl_nexthop {
	int ifindex;
	char ifname[16];	/* empty if the link vanished meanwhile */
	int gw_family;		/* 0: none (on-link); RTA_VIA may give IPv6 for IPv4 */
	uint8_t gw[16];
};

/* One route, as nl_route_list() reports it. */
struct nl_route {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t dst[16];
	unsigned dst_len;
	unsigned char type;	/* RTN_UNICAST, RTN_UNREACHABLE, RTN_BLACKHOLE, RTN_PROHIBIT */
	uint32_t table;
	uint32_t metric;
	uint32_t nh_id;		/* RTA_NH_ID: a nexthop object, 0 if none */
	unsigned nnh;		/* nexthops the route has; the first NL_ROUTE_NEXTHOPS_MAX in nh */
	struct nl_nexthop nh[NL_ROUTE_NEXTHOPS_MAX];
};

/* The IPv4 and IPv6 routes of every table but "local" that lead somewhere
 * or refuse (unicast, unreachable, blackhole, prohibit: not throw, not
 * multicast, not cache entries) into a new array *out of *count entries,
 * freed by the caller.  More than @max routes: -1 with EOVERFLOW. */
int nl_route_list(struct nl_route **out, size_t *count, size_t max);

/* nl_monitor_open() - a non-blocking NETLINK_ROUTE socket that hears every
 * change of links, IPv4 and IPv6 addresses and routes in this namespace;
 * -1 with errno set.  The caller closes it. */
int nl_monitor_open(void);

/* nl_monitor_read() - read what is waiting on a monitor socket, at most
 * @max_datagrams; *events (added to) counts the kernel's messages.  0 when
 * all was read (or the budget spent), -1 with errno: ENOBUFS means the
 * kernel dropped messages, so the state must be read again by a dump. */
int nl_monitor_read(int fd, unsigned max_datagrams, unsigned *events);

#endif
