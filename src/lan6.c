/* lan6.c: router advertisements and DHCPv6 on a VM's link (lan6.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "capns.h"
#include "daemon.h"
#include "dhcp6.h"
#include "lan6.h"
#include "log.h"
#include "network.h"
#include "osutil.h"
#include "ra.h"
#include "util.h"

struct lan6 {
	struct network *net;
	int nd_fd, dhcp_fd;
	unsigned ifindex;       /* the VM's interface, in the capture namespace */
	struct event *nd_ev, *dhcp_ev, *ra_timer;
	struct ra_config ra;
	struct ra_sched sched;
	struct dhcp6_server *dhcp;
	struct lan6_counters ctr;
};

/* ---- router advertisements --------------------------------------------- */

static void arm_ra(struct lan6 *l)
{
	uint64_t now = clock_now_ms(), due = ra_sched_next(&l->sched);
	uint64_t ms = due > now ? due - now : 0;
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(l->ra_timer, &tv);
}

/* send_ra() - to all nodes on the link (ff02::1): solicited ones too, as
 * most routers do, so that one advertisement serves every host that asked */
static void send_ra(struct lan6 *l)
{
	struct sockaddr_in6 all = { .sin6_family = AF_INET6 };
	uint8_t msg[RA_MAX];
	size_t n = ra_build(&l->ra, msg, sizeof(msg));

	inet_pton(AF_INET6, "ff02::1", &all.sin6_addr);
	all.sin6_scope_id = l->ifindex;
	if (n && sendto(l->nd_fd, msg, n, 0, (struct sockaddr *)&all, sizeof(all)) == (ssize_t)n)
		l->ctr.ra_sent++;
	else
		log_debug("network %s: router advertisement: %s", l->net->idstr, strerror(errno));
}

static void on_ra_timer(evutil_socket_t fd, short what, void *arg)
{
	struct lan6 *l = arg;
	uint64_t now = clock_now_ms();

	(void)fd, (void)what;
	if (now >= ra_sched_next(&l->sched)) {
		send_ra(l);
		ra_sched_sent(&l->sched, now);
	}
	arm_ra(l);
}

/* hop_limit() - the IPv6 hop limit a message arrived with, or -1 */
static int hop_limit(struct msghdr *mh)
{
	struct cmsghdr *cm;
	int hl;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_HOPLIMIT &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
			memcpy(&hl, CMSG_DATA(cm), sizeof(hl));
			return hl;
		}
	}
	return -1;
}

/* on_nd() - router solicitations (the socket's filter passes no other
 * ICMPv6 type); one from off the link (hop limit under 255), malformed,
 * or from :: with a link-layer address is dropped (RFC 4861 6.1.1) */
static void on_nd(evutil_socket_t fd, short what, void *arg)
{
	struct lan6 *l = arg;
	int i, have_mac;

	(void)what;
	for (i = 0; i < 32; i++) {
		uint8_t buf[1500], mac[6];
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} cbuf;
		struct sockaddr_in6 from;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
				     .msg_iovlen = 1, .msg_control = cbuf.b,
				     .msg_controllen = sizeof(cbuf.b) };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

		if (n < 0)
			break;
		if (hop_limit(&mh) != 255 || ra_parse_rs(buf, (size_t)n, mac, &have_mac) < 0 ||
		    (IN6_IS_ADDR_UNSPECIFIED(&from.sin6_addr) && have_mac)) {
			l->ctr.rs_dropped++;
			continue;
		}
		l->ctr.rs_received++;
		ra_sched_solicited(&l->sched, clock_now_ms());
	}
	arm_ra(l);
}

/* ---- DHCPv6 ------------------------------------------------------------- */

/* on_dhcp6() - a client's message, from its link-local address to
 * ff02::1:2 (or to us); the answer goes back to where it came from */
static void on_dhcp6(evutil_socket_t fd, short what, void *arg)
{
	struct lan6 *l = arg;
	int i;

	(void)what;
	for (i = 0; i < 32; i++) {
		uint8_t in[1500], out[DHCP6_REPLY_MAX];
		struct sockaddr_in6 from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, in, sizeof(in), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		int r;

		if (n < 0)
			break;
		if (fl < sizeof(from) || from.sin6_family != AF_INET6) {
			l->ctr.dhcp6_dropped++;
			continue;
		}
		r = dhcp6_handle(l->dhcp, in, (size_t)n, clock_now_ms(), out, sizeof(out));
		if (r > 0 && sendto(fd, out, (size_t)r, 0, (struct sockaddr *)&from, fl) == r)
			l->ctr.dhcp6_replies++;
		else if (r != 0) /* malformed, or not sent */
			l->ctr.dhcp6_dropped++;
	}
}

/* ---- set-up ------------------------------------------------------------- */

/* link_facts() - the VM link's index, MTU and our MAC on it (an Ethernet
 * one: a tun device has none), asked of the socket's own namespace, where
 * the interface is (the daemon's may have one of the same name) */
static void link_facts(struct lan6 *l)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", l->net->iface);
	if (ioctl(l->nd_fd, SIOCGIFINDEX, &ifr) == 0 && ifr.ifr_ifindex > 0)
		l->ifindex = (unsigned)ifr.ifr_ifindex;
	else /* the socket's bound device still picks it, scope 0 or not */
		log_warnx("network %s: index of %s: %s", l->net->idstr, l->net->iface,
			  strerror(errno));
	l->ra.mtu = 0;
	if (ioctl(l->nd_fd, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu >= 1280 && ifr.ifr_mtu <= 65535)
		l->ra.mtu = (uint16_t)ifr.ifr_mtu;
	l->ra.have_mac = 0;
	if (ioctl(l->nd_fd, SIOCGIFHWADDR, &ifr) == 0 && ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER) {
		memcpy(l->ra.mac, ifr.ifr_hwaddr.sa_data, 6);
		l->ra.have_mac = 1;
	}
}

static struct dhcp6_server *make_dhcp6(const struct lan6 *l)
{
	struct dhcp6_config dc;

	dhcp6_config_default(&dc);
	dc.prefix = l->ra.prefix;
	/* the default pool's host half (::1000 on), in this network's prefix */
	memcpy(dc.pool_start.s6_addr, l->ra.prefix.s6_addr, 8);
	dc.dns[0] = l->ra.dns;
	dc.dns_count = 1;
	if (l->ra.have_mac)
		memcpy(dc.mac, l->ra.mac, 6);
	return dhcp6_new(&dc);
}

struct lan6 *lan6_new(struct network *n, int nd_fd, int dhcp_fd, char *err, size_t errlen)
{
	struct lan6 *l = xcalloc(1, sizeof(*l));
	uint32_t seed = 1;

	l->net = n;
	l->nd_fd = nd_fd;
	l->dhcp_fd = dhcp_fd;
	ra_config_default(&l->ra);
	l->ra.prefix = n->prefix6;
	capns_addr6(&n->prefix6, CAPNS_DNS6_HOST, &l->ra.dns);
	link_facts(l);
	l->dhcp = make_dhcp6(l);
	if (ra_config_check(&l->ra) < 0 || !l->dhcp) {
		snprintf(err, errlen, "network %s: invalid IPv6 settings (see the log)", n->idstr);
		lan6_free(l);
		return NULL;
	}
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (uint32_t)clock_now_ms();
	ra_sched_init(&l->sched, clock_now_ms(), seed);
	l->nd_ev = event_new(n->d->base, nd_fd, EV_READ | EV_PERSIST, on_nd, l);
	l->dhcp_ev = event_new(n->d->base, dhcp_fd, EV_READ | EV_PERSIST, on_dhcp6, l);
	l->ra_timer = evtimer_new(n->d->base, on_ra_timer, l);
	event_add(l->nd_ev, NULL);
	event_add(l->dhcp_ev, NULL);
	arm_ra(l);
	return l;
}

void lan6_free(struct lan6 *l)
{
	if (!l)
		return;
	if (l->nd_ev)
		event_free(l->nd_ev);
	if (l->dhcp_ev)
		event_free(l->dhcp_ev);
	if (l->ra_timer)
		event_free(l->ra_timer);
	if (l->nd_fd >= 0)
		close(l->nd_fd);
	if (l->dhcp_fd >= 0)
		close(l->dhcp_fd);
	dhcp6_free(l->dhcp);
	free(l);
}

int lan6_lease(const struct lan6 *l, struct in6_addr *addr)
{
	return l ? dhcp6_lease_first(l->dhcp, clock_now_ms(), addr) : -1;
}

const struct lan6_counters *lan6_counters(const struct lan6 *l)
{
	return &l->ctr;
}
