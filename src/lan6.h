/* lan6.h: the IPv6 side of a VM's LAN, as a router on it would serve it.
 *
 * Router advertisements (the network's /64 for SLAAC, the DNS service by
 * RDNSS, the link's MTU), unsolicited on the schedule ra.c keeps and in
 * answer to solicitations, and a DHCPv6 server (dhcp6.c) for the DNS
 * service and an address to clients that ask.  Neighbour discovery for
 * the router's addresses is the capture namespace's kernel's: they are
 * its own (capns.c).  Sockets come made and bound from capns.c. */
#ifndef OMNET_LAN6_H
#define OMNET_LAN6_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

struct network;
struct lan6;

struct lan6_counters {
	uint64_t ra_sent, rs_received, rs_dropped, dhcp6_replies;
	uint64_t dhcp6_dropped;   /* malformed, or an answer that could not be sent */
};

/* lan6_new() - serve n's VM link on nd_fd (raw ICMPv6, CAPNS_ND6) and
 * dhcp_fd (UDP 547, CAPNS_DHCP6), both taken over (closed on failure);
 * NULL with why */
struct lan6 *lan6_new(struct network *n, int nd_fd, int dhcp_fd, char *err, size_t errlen);
void lan6_free(struct lan6 *l);
/* lan6_lease() - the address DHCPv6 leased most recently, or -1 */
int lan6_lease(const struct lan6 *l, struct in6_addr *addr);
const struct lan6_counters *lan6_counters(const struct lan6 *l);

#endif
