/* netlink.h: rtnetlink requests (links, addresses, routes, rules) for setup.
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

#endif
