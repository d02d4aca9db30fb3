/* netlink.c: a small rtnetlink client over a raw NETLINK_ROUTE socket.
 *
 * One socket per call: it is created in the namespace the caller is in
 * right now and closed before returning, so nothing outlives a setns().
 * Every request but a dump carries NLM_F_ACK, and we wait for the answer,
 * so a refusal reaches the caller instead of being lost.  These run at
 * set-up and tear-down, and the dumps when the host's addresses or routes
 * change; correctness matters, speed little.  The monitor socket is the
 * one that lives on: it only tells that something changed.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "log.h"
#include "netlink.h"

/* The kernel sizes dump datagrams to the reader's buffer up to ~32 KiB. */
#define NL_BUF_BYTES		32768
#define NL_REQ_BYTES		512
#define NL_RECV_TIMEOUT_S	5
#define NL_MAX_DATAGRAMS	4096
#define NL_DUMP_TRIES		3
#define NL_MONITOR_BUF_BYTES	8192
#define NL_MONITOR_RCVBUF	(1 << 20)

/* A request under construction, aligned for struct nlmsghdr. */
union nl_req {
	struct nlmsghdr nh;
	char buf[NL_REQ_BYTES];
};

/* Called for each reply message that is not an ACK, error or DONE. */
typedef int (*nl_msg_fn)(const struct nlmsghdr *nh, void *arg);

/* One request/answer exchange on its own socket. */
struct nl_call {
	int fd;
	uint32_t portid;
	uint32_t seq;
	uint16_t type;		/* of the request, for logs */
	int intr;		/* the kernel flagged the dump inconsistent */
	nl_msg_fn fn;
	void *arg;
};

/* nl_seq_next() - a fresh sequence number for a request */

/* nl_msg_ok() - NLMSG_OK() without comparing signed with unsigned: a whole
 * header fits in what is left, and the message claims no more than that */
static int nl_msg_ok(const struct nlmsghdr *nh, int left)
{
	return left >= (int)sizeof(*nh) && nh->nlmsg_len >= sizeof(*nh) &&
	       nh->nlmsg_len <= (unsigned int)left;
}

static uint32_t nl_seq_next(void)
{
	static uint32_t seq;

	return __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
}

/* nl_family_len() - address length for @family, 0 if not IPv4/IPv6 */
static size_t nl_family_len(int family)
{
	if (family == AF_INET)
		return 4;
	if (family == AF_INET6)
		return 16;
	return 0;
}

/* nl_check_family() - -1 with EAFNOSUPPORT unless IPv4 or IPv6 */
static int nl_check_family(int family)
{
	if (nl_family_len(family))
		return 0;
	errno = EAFNOSUPPORT;
	return -1;
}

/* nl_check_table() - table 0 is RT_TABLE_UNSPEC, which the kernel would
 * quietly turn into "main": refuse it rather than touch the main table */
static int nl_check_table(uint32_t table)
{
	if (table != RT_TABLE_UNSPEC)
		return 0;
	errno = EINVAL;
	return -1;
}

/* nl_close() - close @fd keeping errno for the caller */
static void nl_close(int fd)
{
	int e = errno;

	close(fd);
	errno = e;
}

/* nl_open() - a NETLINK_ROUTE socket in the current namespace, bound to a
 * kernel-chosen port id which is stored in *portid */
static int nl_open(uint32_t *portid)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = NL_RECV_TIMEOUT_S };
	socklen_t len = sizeof(sa);
	int one = 1, fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	/* Best effort: errors come back without our request echoed, plus
	 * the kernel's reason as text, which we log. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		nl_close(fd);
		return -1;
	}
	*portid = sa.nl_pid;
	return fd;
}

/* nl_req_init() - start a request of @type with @flags and a zeroed family
 * header of @hdrlen bytes; returns that header */
static void *nl_req_init(union nl_req *req, uint16_t type, uint16_t flags,
			 size_t hdrlen)
{
	memset(req, 0, sizeof(*req));
	req->nh.nlmsg_len = NLMSG_LENGTH(hdrlen);
	req->nh.nlmsg_type = type;
	req->nh.nlmsg_flags = NLM_F_REQUEST | flags;
	return NLMSG_DATA(&req->nh);
}

/* nl_attr_put() - append attribute @type carrying @len bytes of @data */
static int nl_attr_put(union nl_req *req, uint16_t type, const void *data,
		       size_t len)
{
	size_t off = NLMSG_ALIGN(req->nh.nlmsg_len);
	struct rtattr *rta;

	if (off + RTA_SPACE(len) > sizeof(req->buf)) {
		errno = EMSGSIZE;
		return -1;
	}
	rta = (struct rtattr *)(req->buf + off);
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	req->nh.nlmsg_len = off + RTA_SPACE(len);
	return 0;
}

/* nl_attr_put_u32() - append a u32 attribute */
static int nl_attr_put_u32(union nl_req *req, uint16_t type, uint32_t v)
{
	return nl_attr_put(req, type, &v, sizeof(v));
}

/* nl_attrs_buf() - index the attributes in @len bytes at @buf: tb[type]
 * for each type up to @max, NULL where absent */
static void nl_attrs_buf(const void *buf, int len, const struct rtattr **tb, unsigned max)
{
	const struct rtattr *rta = buf;

	memset(tb, 0, (max + 1) * sizeof(*tb));
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type <= max)
			tb[rta->rta_type] = rta;
}

/* nl_attrs() - index the attributes following a @hdrlen family header in
 * @nh: tb[type] for each type up to @max, NULL where absent */
static void nl_attrs(const struct nlmsghdr *nh, size_t hdrlen,
		     const struct rtattr **tb, unsigned max)
{
	int len = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(NLMSG_ALIGN(hdrlen));

	nl_attrs_buf((const char *)NLMSG_DATA(nh) + NLMSG_ALIGN(hdrlen), len, tb, max);
}

/* rta_u32() - a u32 attribute's value, or @dflt if absent or short */
static uint32_t rta_u32(const struct rtattr *rta, uint32_t dflt)
{
	uint32_t v;

	if (!rta || RTA_PAYLOAD(rta) < sizeof(v))
		return dflt;
	memcpy(&v, RTA_DATA(rta), sizeof(v));
	return v;
}

/* nl_send() - send the whole request @nh to the kernel */
static int nl_send(int fd, const struct nlmsghdr *nh)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	ssize_t n;

	do
		n = sendto(fd, nh, nh->nlmsg_len, 0,
			   (struct sockaddr *)&kernel, sizeof(kernel));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != nh->nlmsg_len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* nl_recv() - one datagram into @buf: its length, 0 if it was not from
 * the kernel, -1 on error (ETIMEDOUT when the kernel stays silent) */
static ssize_t nl_recv(int fd, void *buf, size_t size)
{
	struct sockaddr_nl from = { 0 };
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr mh = {
		.msg_name = &from, .msg_namelen = sizeof(from),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	ssize_t n;

	n = recvmsg(fd, &mh, 0);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		errno = ETIMEDOUT;
	if (n < 0)
		return -1;
	if (mh.msg_flags & MSG_TRUNC) {
		errno = EMSGSIZE;
		return -1;
	}
	return from.nl_pid == 0 ? n : 0;
}

/* nl_log_extack() - log the reason text the kernel attached to an error;
 * with NETLINK_CAP_ACK the attributes follow struct nlmsgerr directly */
static void nl_log_extack(const struct nl_call *c, const struct nlmsghdr *nh,
			  const struct nlmsgerr *e)
{
	const char *p = (const char *)(e + 1);
	const char *end = (const char *)nh + nh->nlmsg_len;
	const struct nlattr *a;

	if (!(nh->nlmsg_flags & NLM_F_ACK_TLVS) ||
	    !(nh->nlmsg_flags & NLM_F_CAPPED))
		return;
	for (; p + sizeof(*a) <= end; p += NLA_ALIGN(a->nla_len)) {
		a = (const struct nlattr *)p;
		if (a->nla_len < sizeof(*a) || a->nla_len > end - p)
			return;
		if ((a->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG &&
		    memchr(p + NLA_HDRLEN, '\0', a->nla_len - NLA_HDRLEN))
			log_debug("netlink request type %u: kernel says: %s",
				  c->type, p + NLA_HDRLEN);
	}
}

/* nl_ack() - an NLMSG_ERROR answer: 0 for an ACK, -1 with errno from the
 * kernel's error code otherwise */
static int nl_ack(const struct nl_call *c, const struct nlmsghdr *nh)
{
	const struct nlmsgerr *e = NLMSG_DATA(nh);

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
		errno = EPROTO;
		return -1;
	}
	if (e->error == 0)
		return 0;
	nl_log_extack(c, nh, e);
	errno = e->error < 0 ? -e->error : EPROTO;
	return -1;
}

/* nl_done() - NLMSG_DONE ends a dump; its payload, when present, is the
 * dump's error code.  A dump the kernel flagged NLM_F_DUMP_INTR (tables
 * changed under it) is incomplete: EAGAIN, so the caller may repeat it. */
static int nl_done(const struct nl_call *c, const struct nlmsghdr *nh)
{
	int err = 0;

	if (nh->nlmsg_len >= NLMSG_LENGTH(sizeof(err)))
		memcpy(&err, NLMSG_DATA(nh), sizeof(err));
	if (err < 0) {
		errno = -err;
		return -1;
	}
	if (c->intr) {
		errno = EAGAIN;
		return -1;
	}
	return 0;
}

/* nl_dispatch() - one message: 1 when the exchange is over, 0 when more
 * is to come, -1 on error */
static int nl_dispatch(struct nl_call *c, const struct nlmsghdr *nh)
{
	if (nh->nlmsg_seq != c->seq || nh->nlmsg_pid != c->portid) {
		log_debug("netlink: skipping message seq %u port %u",
			  nh->nlmsg_seq, nh->nlmsg_pid);
		return 0;
	}
	switch (nh->nlmsg_type) {
	case NLMSG_ERROR:
		return nl_ack(c, nh) < 0 ? -1 : 1;
	case NLMSG_DONE:
		return nl_done(c, nh) < 0 ? -1 : 1;
	case NLMSG_NOOP:
		return 0;
	case NLMSG_OVERRUN:
		errno = ENOBUFS;
		return -1;
	}
	if (nh->nlmsg_flags & NLM_F_DUMP_INTR)
		c->intr = 1;
	if (c->fn && c->fn(nh, c->arg) < 0)
		return -1;
	return 0;
}

/* nl_datagram() - every message in one datagram of @len bytes, as
 * nl_dispatch() */
static int nl_datagram(struct nl_call *c, const void *buf, ssize_t len)
{
	const struct nlmsghdr *nh = buf;
	int left = (int)len, rc;

	for (; nl_msg_ok(nh, left); nh = NLMSG_NEXT(nh, left)) {
		rc = nl_dispatch(c, nh);
		if (rc)
			return rc;
	}
	return 0;
}

/* nl_wait() - read until the ACK, error or DONE for our request, at most
 * NL_MAX_DATAGRAMS datagrams (each read times out on its own) */
static int nl_wait(struct nl_call *c)
{
	ssize_t n;
	char *buf;
	int i, rc = 0, e;

	buf = malloc(NL_BUF_BYTES);
	if (!buf)
		return -1;
	for (i = 0; i < NL_MAX_DATAGRAMS && !rc; i++) {
		n = nl_recv(c->fd, buf, NL_BUF_BYTES);
		if (n < 0 && errno == EINTR)
			continue;
		rc = n < 0 ? -1 : nl_datagram(c, buf, n);
	}
	if (!rc)
		errno = EPROTO;
	e = errno;
	free(buf);
	errno = e;
	return rc > 0 ? 0 : -1;
}

/* nl_transact() - send @req on a fresh socket and wait for the answer;
 * @fn, if set, sees each reply message on the way */
static int nl_transact(union nl_req *req, nl_msg_fn fn, void *arg)
{
	struct nl_call c = { .type = req->nh.nlmsg_type, .fn = fn, .arg = arg };
	int rc;

	c.fd = nl_open(&c.portid);
	if (c.fd < 0)
		return -1;
	c.seq = nl_seq_next();
	req->nh.nlmsg_seq = c.seq;
	rc = nl_send(c.fd, &req->nh);
	if (!rc)
		rc = nl_wait(&c);
	nl_close(c.fd);
	return rc;
}

/* nl_request() - nl_transact() ignoring replies, where the kernel's
 * @done_a or @done_b (0: none) means the change is already in place */
static int nl_request(union nl_req *req, int done_a, int done_b)
{
	if (!nl_transact(req, NULL, NULL))
		return 0;
	if ((done_a && errno == done_a) || (done_b && errno == done_b)) {
		log_debug("netlink request type %u: already done (%s)",
			  req->nh.nlmsg_type, strerror(errno));
		return 0;
	}
	return -1;
}

/* nl_link_index() - if_nametoindex() as an int: -1 with errno if absent */
int nl_link_index(const char *ifname)
{
	unsigned idx;

	if (!ifname) {
		errno = EINVAL;
		return -1;
	}
	idx = if_nametoindex(ifname);
	if (!idx)
		return -1;
	if (idx > INT_MAX) {
		errno = ERANGE;
		return -1;
	}
	return (int)idx;
}

/* nl_link_set_up() - set IFF_UP on @ifname; ifi_change limits the change
 * to that one flag */
int nl_link_set_up(const char *ifname)
{
	struct ifinfomsg *ifi;
	union nl_req req;
	int idx;

	idx = nl_link_index(ifname);
	if (idx < 0)
		return -1;
	ifi = nl_req_init(&req, RTM_NEWLINK, NLM_F_ACK, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = idx;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return nl_transact(&req, NULL, NULL);
}

/* nl_nest_start() - open a nested attribute; its offset, for nl_nest_end() */
static int nl_nest_start(union nl_req *req, uint16_t type, size_t *off)
{
	*off = NLMSG_ALIGN(req->nh.nlmsg_len);
	return nl_attr_put(req, type, NULL, 0);
}

static void nl_nest_end(union nl_req *req, size_t off)
{
	((struct rtattr *)(req->buf + off))->rta_len = (unsigned short)(req->nh.nlmsg_len - off);
}

/* nl_put_ifinfo() - a zeroed struct ifinfomsg inside a nest (a veth peer's
 * attributes start with one) */
static int nl_put_ifinfo(union nl_req *req)
{
	size_t off = NLMSG_ALIGN(req->nh.nlmsg_len);

	if (off + NLMSG_ALIGN(sizeof(struct ifinfomsg)) > sizeof(req->buf)) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(req->buf + off, 0, sizeof(struct ifinfomsg));
	req->nh.nlmsg_len = off + NLMSG_ALIGN(sizeof(struct ifinfomsg));
	return 0;
}

int nl_link_add_veth(const char *ifname, const char *peer, int peer_nsfd)
{
	struct ifinfomsg *ifi;
	union nl_req req;
	size_t info, data, pr;
	uint32_t fd = (uint32_t)peer_nsfd;

	ifi = nl_req_init(&req, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	if (nl_attr_put(&req, IFLA_IFNAME, ifname, strlen(ifname) + 1) < 0 ||
	    nl_nest_start(&req, IFLA_LINKINFO, &info) < 0 ||
	    nl_attr_put(&req, IFLA_INFO_KIND, "veth", 5) < 0 ||
	    nl_nest_start(&req, IFLA_INFO_DATA, &data) < 0 ||
	    nl_nest_start(&req, VETH_INFO_PEER, &pr) < 0 || nl_put_ifinfo(&req) < 0 ||
	    nl_attr_put(&req, IFLA_IFNAME, peer, strlen(peer) + 1) < 0 ||
	    (peer_nsfd >= 0 && nl_attr_put_u32(&req, IFLA_NET_NS_FD, fd) < 0))
		return -1;
	nl_nest_end(&req, pr);
	nl_nest_end(&req, data);
	nl_nest_end(&req, info);
	return nl_transact(&req, NULL, NULL);
}

/* What link_mtu_parse() found. */
struct link_mtu {
	int ifindex;
	int found;
	unsigned mtu;
};

/* link_mtu_parse() - IFLA_MTU out of the RTM_NEWLINK reply for our link */
static int link_mtu_parse(const struct nlmsghdr *nh, void *arg)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(nh);
	const struct rtattr *tb[IFLA_MAX + 1];
	struct link_mtu *lm = arg;
	uint32_t mtu;

	if (nh->nlmsg_type != RTM_NEWLINK ||
	    nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)) ||
	    ifi->ifi_index != lm->ifindex)
		return 0;
	nl_attrs(nh, sizeof(*ifi), tb, IFLA_MAX);
	if (!tb[IFLA_MTU] || RTA_PAYLOAD(tb[IFLA_MTU]) < sizeof(mtu))
		return 0;
	memcpy(&mtu, RTA_DATA(tb[IFLA_MTU]), sizeof(mtu));
	lm->mtu = mtu;
	lm->found = 1;
	return 0;
}

/* nl_link_get_mtu() - the MTU of @ifname into *mtu; with NLM_F_ACK the
 * kernel sends the link, then the ACK */
int nl_link_get_mtu(const char *ifname, unsigned *mtu)
{
	struct link_mtu lm = { 0 };
	struct ifinfomsg *ifi;
	union nl_req req;

	lm.ifindex = nl_link_index(ifname);
	if (lm.ifindex < 0)
		return -1;
	ifi = nl_req_init(&req, RTM_GETLINK, NLM_F_ACK, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = lm.ifindex;
	if (nl_transact(&req, link_mtu_parse, &lm) < 0)
		return -1;
	if (!lm.found) {
		errno = ENODATA;
		return -1;
	}
	*mtu = lm.mtu;
	return 0;
}

/* addr_req() - build RTM_NEWADDR/RTM_DELADDR for @addr/@prefixlen on
 * @ifname.  IFA_LOCAL and IFA_ADDRESS both carry the address, meaning "no
 * point-to-point peer", as ip(8) sends it. */
static int addr_req(union nl_req *req, uint16_t type, uint16_t flags,
		    const char *ifname, int family, const void *addr,
		    unsigned prefixlen)
{
	size_t alen = nl_family_len(family);
	struct ifaddrmsg *ifa;
	int idx;

	if (nl_check_family(family) < 0)
		return -1;
	if (!addr || prefixlen > alen * 8) {
		errno = EINVAL;
		return -1;
	}
	idx = nl_link_index(ifname);
	if (idx < 0)
		return -1;
	ifa = nl_req_init(req, type, NLM_F_ACK | flags, sizeof(*ifa));
	ifa->ifa_family = family;
	ifa->ifa_prefixlen = prefixlen;
	ifa->ifa_index = idx;
	/* addresses the daemon adds are its own to answer for: without
	 * duplicate address detection they work at once, not a second later */
	if (family == AF_INET6 && type == RTM_NEWADDR)
		ifa->ifa_flags = IFA_F_NODAD;
	if (nl_attr_put(req, IFA_LOCAL, addr, alen) < 0 ||
	    nl_attr_put(req, IFA_ADDRESS, addr, alen) < 0)
		return -1;
	return 0;
}

/* nl_addr_add() - add @addr/@prefixlen to @ifname; NLM_F_EXCL makes an
 * existing one answer EEXIST, which is success here */
int nl_addr_add(const char *ifname, int family, const void *addr,
		unsigned prefixlen)
{
	union nl_req req;

	if (addr_req(&req, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ifname,
		     family, addr, prefixlen) < 0)
		return -1;
	return nl_request(&req, EEXIST, 0);
}

/* nl_addr_del() - remove @addr/@prefixlen from @ifname; the kernel answers
 * EADDRNOTAVAIL (or ENOENT) when it is not there, which is success here */
int nl_addr_del(const char *ifname, int family, const void *addr,
		unsigned prefixlen)
{
	union nl_req req;

	if (addr_req(&req, RTM_DELADDR, 0, ifname, family, addr,
		     prefixlen) < 0)
		return -1;
	return nl_request(&req, EADDRNOTAVAIL, ENOENT);
}

/* route_local_req() - build "local default dev lo table @table".  Tables
 * above 255 fit only in RTA_TABLE, which the kernel prefers anyway.  A
 * delete leaves scope NOWHERE and protocol 0, which match any, as ip(8). */
static int route_local_req(union nl_req *req, int family, uint32_t table,
			   int add)
{
	struct rtmsg *rtm;
	int lo;

	lo = nl_link_index("lo");
	if (lo < 0)
		return -1;
	rtm = nl_req_init(req, add ? RTM_NEWROUTE : RTM_DELROUTE,
			  NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0),
			  sizeof(*rtm));
	rtm->rtm_family = family;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = table < 256 ? table : RT_TABLE_UNSPEC;
	rtm->rtm_type = RTN_LOCAL;
	rtm->rtm_scope = add ? RT_SCOPE_HOST : RT_SCOPE_NOWHERE;
	rtm->rtm_protocol = add ? RTPROT_BOOT : RTPROT_UNSPEC;
	if (nl_attr_put_u32(req, RTA_TABLE, table) < 0 ||
	    nl_attr_put_u32(req, RTA_OIF, (uint32_t)lo) < 0)
		return -1;
	return 0;
}

/* nl_route_local_default() - add or delete the TPROXY route in @table:
 * every destination is local, so marked packets are delivered to our
 * transparent socket.  EEXIST on add and ESRCH on delete mean done. */
int nl_route_local_default(int family, uint32_t table, int add)
{
	union nl_req req;

	if (nl_check_family(family) < 0 || nl_check_table(table) < 0)
		return -1;
	if (route_local_req(&req, family, table, add) < 0)
		return -1;
	if (add)
		return nl_request(&req, EEXIST, 0);
	return nl_request(&req, ESRCH, ENOENT);
}

/* rule_fwmark_req() - build "fwmark @mark/@mask lookup @table priority
 * @priority"; as for routes, big tables go in FRA_TABLE */
static int rule_fwmark_req(union nl_req *req, int family, uint32_t mark,
			   uint32_t mask, uint32_t table, uint32_t priority,
			   int add)
{
	struct fib_rule_hdr *frh;

	frh = nl_req_init(req, add ? RTM_NEWRULE : RTM_DELRULE,
			  NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0),
			  sizeof(*frh));
	frh->family = family;
	frh->action = FR_ACT_TO_TBL;
	frh->table = table < 256 ? table : RT_TABLE_UNSPEC;
	if (nl_attr_put_u32(req, FRA_PRIORITY, priority) < 0 ||
	    nl_attr_put_u32(req, FRA_FWMARK, mark) < 0 ||
	    nl_attr_put_u32(req, FRA_FWMASK, mask) < 0 ||
	    nl_attr_put_u32(req, FRA_TABLE, table) < 0)
		return -1;
	return 0;
}

/* nl_rule_fwmark() - add or delete the fwmark rule.  The kernel happily
 * adds duplicate rules; only NLM_F_EXCL makes it answer EEXIST instead,
 * which is what makes a re-run safe.  ENOENT on delete means done. */
int nl_rule_fwmark(int family, uint32_t mark, uint32_t mask, uint32_t table,
		   uint32_t priority, int add)
{
	union nl_req req;

	if (nl_check_family(family) < 0 || nl_check_table(table) < 0)
		return -1;
	if (rule_fwmark_req(&req, family, mark, mask, table, priority,
			    add) < 0)
		return -1;
	return nl_request(&req, add ? EEXIST : ENOENT, 0);
}

/* A growing array of addresses for nl_addr_list(). */
struct addr_vec {
	struct nl_ifaddr *v;
	size_t n, cap;
};

/* addr_vec_push() - a new zeroed entry at the end of @av, NULL if out of
 * memory */
static struct nl_ifaddr *addr_vec_push(struct addr_vec *av)
{
	struct nl_ifaddr *v;
	size_t cap;

	if (av->n == av->cap) {
		cap = av->cap ? av->cap * 2 : 16;
		v = realloc(av->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		av->v = v;
		av->cap = cap;
	}
	memset(&av->v[av->n], 0, sizeof(av->v[0]));
	return &av->v[av->n++];
}

/* addr_list_parse() - one RTM_NEWADDR into the list; IFA_LOCAL is our own
 * end where IFA_ADDRESS names a point-to-point peer */
static int addr_list_parse(const struct nlmsghdr *nh, void *arg)
{
	const struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	const struct rtattr *tb[IFA_MAX + 1], *a;
	struct nl_ifaddr *e;
	size_t alen;

	if (nh->nlmsg_type != RTM_NEWADDR ||
	    nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return 0;
	alen = nl_family_len(ifa->ifa_family);
	if (!alen)
		return 0;
	nl_attrs(nh, sizeof(*ifa), tb, IFA_MAX);
	a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!a || RTA_PAYLOAD(a) < alen)
		return 0;
	e = addr_vec_push(arg);
	if (!e)
		return -1;
	e->family = ifa->ifa_family;
	memcpy(e->addr, RTA_DATA(a), alen);
	e->prefixlen = ifa->ifa_prefixlen;
	e->ifindex = (int)ifa->ifa_index;
	if (!if_indextoname(ifa->ifa_index, e->ifname))
		e->ifname[0] = '\0';
	return 0;
}

/* addr_dump() - one RTM_GETADDR dump of both families into @av.  Dumps
 * get no ACK (the kernel ends them with NLMSG_DONE), so no NLM_F_ACK. */
static int addr_dump(struct addr_vec *av)
{
	struct ifaddrmsg *ifa;
	union nl_req req;

	ifa = nl_req_init(&req, RTM_GETADDR, NLM_F_DUMP, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	return nl_transact(&req, addr_list_parse, av);
}

/* nl_addr_list() - every IPv4/IPv6 address into *out (*count entries);
 * a dump interrupted by concurrent changes is repeated a few times */
int nl_addr_list(struct nl_ifaddr **out, size_t *count)
{
	struct addr_vec av;
	int tries, e;

	if (!out || !count) {
		errno = EINVAL;
		return -1;
	}
	*out = NULL;
	*count = 0;
	for (tries = 0; tries < NL_DUMP_TRIES; tries++) {
		memset(&av, 0, sizeof(av));
		if (!addr_dump(&av)) {
			*out = av.v;
			*count = av.n;
			return 0;
		}
		e = errno;
		free(av.v);
		errno = e;
		if (errno != EAGAIN)
			return -1;
		log_debug("netlink: address dump interrupted, repeating");
	}
	return -1;
}

/* A growing array of routes for nl_route_list(), with the last interface
 * name looked up (most routes share a few interfaces). */
struct route_vec {
	struct nl_route *v;
	size_t n, cap, max;
	int name_index;
	char name[IF_NAMESIZE];
};

/* route_vec_push() - a new zeroed entry at the end of @rv; NULL with
 * EOVERFLOW past rv->max, or ENOMEM */
static struct nl_route *route_vec_push(struct route_vec *rv)
{
	struct nl_route *v;
	size_t cap;

	if (rv->n >= rv->max) {
		errno = EOVERFLOW;
		return NULL;
	}
	if (rv->n == rv->cap) {
		cap = rv->cap ? rv->cap * 2 : 32;
		v = realloc(rv->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		rv->v = v;
		rv->cap = cap;
	}
	memset(&rv->v[rv->n], 0, sizeof(rv->v[0]));
	return &rv->v[rv->n++];
}

/* route_keep() - whether a route matters to the policy: not the "local"
 * table (the host's own and broadcast addresses, which the address dump
 * gives), not a cache entry, and a type that leads somewhere or refuses */
static int route_keep(const struct rtmsg *rtm, uint32_t table)
{
	if ((rtm->rtm_flags & RTM_F_CLONED) || table == RT_TABLE_LOCAL)
		return 0;
	switch (rtm->rtm_type) {
	case RTN_UNICAST:
	case RTN_UNREACHABLE:
	case RTN_BLACKHOLE:
	case RTN_PROHIBIT:
		return 1;
	default:
		return 0;
	}
}

/* nexthop_set() - interface and gateway of one nexthop: RTA_GATEWAY in the
 * route's family, or RTA_VIA in its own (an IPv4 route via IPv6) */
static void nexthop_set(struct route_vec *rv, struct nl_nexthop *nh, int family, int ifindex,
			const struct rtattr *gw, const struct rtattr *via)
{
	size_t alen = nl_family_len(family), vlen;
	const struct rtvia *v;

	nh->ifindex = ifindex;
	if (ifindex > 0 && ifindex != rv->name_index) {
		rv->name_index = if_indextoname((unsigned)ifindex, rv->name) ? ifindex : 0;
		if (!rv->name_index)
			rv->name[0] = '\0';
	}
	if (ifindex > 0 && ifindex == rv->name_index)
		snprintf(nh->ifname, sizeof(nh->ifname), "%s", rv->name);
	if (gw && RTA_PAYLOAD(gw) >= alen) {
		nh->gw_family = family;
		memcpy(nh->gw, RTA_DATA(gw), alen);
		return;
	}
	if (!via || RTA_PAYLOAD(via) < sizeof(*v))
		return;
	v = RTA_DATA(via);
	vlen = nl_family_len(v->rtvia_family);
	if (vlen && RTA_PAYLOAD(via) >= sizeof(*v) + vlen) {
		nh->gw_family = v->rtvia_family;
		memcpy(nh->gw, v->rtvia_addr, vlen);
	}
}

/* route_multipath() - the nexthops of RTA_MULTIPATH; all are counted,
 * the first NL_ROUTE_NEXTHOPS_MAX kept */
static void route_multipath(struct route_vec *rv, struct nl_route *r, const struct rtattr *mp)
{
	const struct rtnexthop *rtnh = RTA_DATA(mp);
	const struct rtattr *tb[RTA_MAX + 1];
	int len = (int)RTA_PAYLOAD(mp);

	while (len >= (int)sizeof(*rtnh) && rtnh->rtnh_len >= sizeof(*rtnh) &&
	       rtnh->rtnh_len <= len) {
		if (r->nnh < NL_ROUTE_NEXTHOPS_MAX) {
			nl_attrs_buf(RTNH_DATA(rtnh), rtnh->rtnh_len - (int)RTNH_LENGTH(0), tb,
				     RTA_MAX);
			nexthop_set(rv, &r->nh[r->nnh], r->family, rtnh->rtnh_ifindex,
				    tb[RTA_GATEWAY], tb[RTA_VIA]);
		}
		r->nnh++;
		len -= (int)RTNH_ALIGN(rtnh->rtnh_len);
		rtnh = RTNH_NEXT(rtnh);
	}
}

/* route_list_parse() - one RTM_NEWROUTE of a dump into the list */
static int route_list_parse(const struct nlmsghdr *nh, void *arg)
{
	const struct rtmsg *rtm = NLMSG_DATA(nh);
	const struct rtattr *tb[RTA_MAX + 1];
	struct route_vec *rv = arg;
	struct nl_route *r;
	uint32_t table;
	size_t alen;

	if (nh->nlmsg_type != RTM_NEWROUTE || nh->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
		return 0;
	alen = nl_family_len(rtm->rtm_family);
	if (!alen || rtm->rtm_dst_len > alen * 8)
		return 0;
	nl_attrs(nh, sizeof(*rtm), tb, RTA_MAX);
	table = rta_u32(tb[RTA_TABLE], rtm->rtm_table);
	if (!route_keep(rtm, table))
		return 0;
	if (!(r = route_vec_push(rv)))
		return -1;
	r->family = rtm->rtm_family;
	r->dst_len = rtm->rtm_dst_len;
	if (tb[RTA_DST] && RTA_PAYLOAD(tb[RTA_DST]) >= alen)
		memcpy(r->dst, RTA_DATA(tb[RTA_DST]), alen);
	r->type = rtm->rtm_type;
	r->table = table;
	r->metric = rta_u32(tb[RTA_PRIORITY], 0);
	r->nh_id = rta_u32(tb[RTA_NH_ID], 0);
	if (tb[RTA_MULTIPATH]) {
		route_multipath(rv, r, tb[RTA_MULTIPATH]);
	} else if (tb[RTA_OIF] || tb[RTA_GATEWAY] || tb[RTA_VIA]) {
		r->nnh = 1;
		nexthop_set(rv, &r->nh[0], r->family, (int)rta_u32(tb[RTA_OIF], 0),
			    tb[RTA_GATEWAY], tb[RTA_VIA]);
	}
	return 0;
}

/* route_dump() - one RTM_GETROUTE dump of both families into @rv */
static int route_dump(struct route_vec *rv)
{
	struct rtmsg *rtm;
	union nl_req req;

	rtm = nl_req_init(&req, RTM_GETROUTE, NLM_F_DUMP, sizeof(*rtm));
	rtm->rtm_family = AF_UNSPEC;
	return nl_transact(&req, route_list_parse, rv);
}

/* nl_route_list() - as nl_addr_list(): a dump interrupted by concurrent
 * changes is repeated a few times */
int nl_route_list(struct nl_route **out, size_t *count, size_t max)
{
	struct route_vec rv;
	int tries, e;

	if (!out || !count) {
		errno = EINVAL;
		return -1;
	}
	*out = NULL;
	*count = 0;
	for (tries = 0; tries < NL_DUMP_TRIES; tries++) {
		memset(&rv, 0, sizeof(rv));
		rv.max = max;
		if (!route_dump(&rv)) {
			*out = rv.v;
			*count = rv.n;
			return 0;
		}
		e = errno;
		free(rv.v);
		errno = e;
		if (errno != EAGAIN)
			return -1;
		log_debug("netlink: route dump interrupted, repeating");
	}
	return -1;
}

/* nl_monitor_open() - bound to the multicast groups of links, addresses
 * and routes.  Links too: the kernel removes the IPv4 routes of a link
 * that goes down, or of an address that goes, without a RTM_DELROUTE for
 * each; the link or address message is the only sign. */
int nl_monitor_open(void)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE |
			     RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE,
	};
	int fd, size = NL_MONITOR_RCVBUF;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	/* best effort: a burst the buffer cannot hold costs one more dump */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		nl_close(fd);
		return -1;
	}
	return fd;
}

/* monitor_count() - the kernel's messages in one datagram */
static unsigned monitor_count(const void *buf, ssize_t len)
{
	const struct nlmsghdr *nh = buf;
	int left = (int)len;
	unsigned n = 0;

	for (; nl_msg_ok(nh, left); nh = NLMSG_NEXT(nh, left))
		if (nh->nlmsg_type != NLMSG_NOOP && nh->nlmsg_type != NLMSG_DONE)
			n++;
	return n;
}

int nl_monitor_read(int fd, unsigned max_datagrams, unsigned *events)
{
	union {
		struct nlmsghdr nh;
		char buf[NL_MONITOR_BUF_BYTES];
	} u;
	struct sockaddr_nl from;
	struct iovec iov = { .iov_base = u.buf, .iov_len = sizeof(u.buf) };
	struct msghdr mh = { .msg_name = &from, .msg_iov = &iov, .msg_iovlen = 1 };
	unsigned i;
	ssize_t n;

	for (i = 0; i < max_datagrams; i++) {
		mh.msg_namelen = sizeof(from);
		n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -1;
		/* only the kernel speaks for the groups; anyone on the host
		 * may send to our port id, and is not listened to */
		if (mh.msg_namelen < sizeof(from) || from.nl_pid != 0)
			continue;
		*events += (mh.msg_flags & MSG_TRUNC) ? 1 : monitor_count(u.buf, n);
	}
	return 0;
}
