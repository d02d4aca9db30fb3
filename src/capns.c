/* capns.c: a capture namespace's addresses, rules and privileged sockets.
 *
 * Moved out of capture.c so that the privileged helper can run it alone
 * (privsep.c): nothing here reads what the VM or a peer sends. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/icmp6.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>

#include "capns.h"
#include "cmdschema.h"
#include "log.h"
#include "netlink.h"
#include "netns.h"
#include "nft.h"
#include "osutil.h"

/* One capture per namespace, so fixed values do: "om" in ASCII. */
#define CAPTURE_MARK 0x6f6d
#define CAPTURE_TABLE 28525
#define CAPTURE_RULE_PRIO 100
#define NFT_TABLE "omnetd"
#define NETNS_RUN_DIR "/run/netns/"

struct capns {
	struct capns_params p;
	int nsfd;
	dev_t dev;              /* the namespace's identity, however spelled */
	ino_t ino;
	int ifindex;
	int set_up;             /* capns_setup() succeeded: capns_free() undoes it */
	int claim_fd;           /* the namespace's capture is ours (claim()), or -1 */
};

/* ---- checking what the less trusted process asks for ------------------ */

static int terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* ipv4_unicast() - not 0/8, loopback, multicast or the broadcast address */
static int ipv4_unicast(const void *addr)
{
	uint32_t a;

	memcpy(&a, addr, 4);
	a = ntohl(a);
	return (a >> 24) != 0 && (a >> 24) != 127 && (a >> 28) != 14 && a != 0xffffffff;
}

/* ipv6_unicast() - an address a VM's peer or destination may have: not
 * ::, loopback, IPv4-mapped or -compatible, link-local or multicast */
static int ipv6_unicast(const uint8_t *a)
{
	static const uint8_t zero[12];

	return a[0] != 0xff && !(a[0] == 0xfe && (a[1] & 0xc0) == 0x80) &&
	       memcmp(a, zero, sizeof(zero)) != 0 &&
	       !(memcmp(a, zero, 10) == 0 && a[10] == 0xff && a[11] == 0xff);
}

/* prefix6_ok() - a /64 of unique local (fc00::/7) or global unicast
 * (2000::/3) addresses, its host half zero */
static int prefix6_ok(const struct in6_addr *p)
{
	static const uint8_t zero[8];
	const uint8_t *a = p->s6_addr;

	return ipv6_unicast_scope(a) && memcmp(a + 8, zero, 8) == 0;
}

void capns_addr6(const struct in6_addr *prefix, uint8_t host, struct in6_addr *out)
{
	*out = *prefix;
	memset(out->s6_addr + 8, 0, 8);
	out->s6_addr[15] = host;
}

void capns_router_ll(struct in6_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->s6_addr[0] = 0xfe;
	out->s6_addr[1] = 0x80;
	out->s6_addr[15] = CAPNS_GW6_HOST;
}

size_t capns_nsock(const struct capns_params *p)
{
	return p->ipv6 ? CAPNS_NSOCK : CAPNS_NSOCK_V4;
}

int capns_check(const struct capns_params *p, char *err, size_t errlen)
{
	const char *why = NULL;

	if (!terminated(p->idstr, sizeof(p->idstr)) || strlen(p->idstr) != NETID_HEXLEN ||
	    strspn(p->idstr, "0123456789abcdef") != NETID_HEXLEN)
		why = "not a network id";
	else if (!terminated(p->netns, sizeof(p->netns)) || cmd_check_netns(p->netns))
		why = "not a namespace name or an absolute path";
	else if (!terminated(p->iface, sizeof(p->iface)) || cmd_check_iface(p->iface))
		why = "not an interface name";
	else if (!ipv4_unicast(&p->gateway) || !ipv4_unicast(&p->dns))
		why = "the gateway and DNS addresses must be IPv4 unicast";
	else if (p->prefix_len < 8 || p->prefix_len > 30)
		why = "the prefix length must be 8..30";
	else if (p->ipv6 > 1 || (p->ipv6 && !prefix6_ok(&p->prefix6)))
		why = "the IPv6 prefix must be a unique local or global unicast /64";
	if (!why)
		return 0;
	snprintf(err, errlen, "capture set-up refused: %s", why);
	return -1;
}

int capns_unicast(const struct ipport *a)
{
	return (a->family == AF_INET && ipv4_unicast(a->addr)) ||
	       (a->family == AF_INET6 && ipv6_unicast(a->addr));
}

int capns_check_socket(int type, const struct ipport *local, const struct ipport *peer,
		       char *err, size_t errlen)
{
	const char *why = NULL;

	if (type != SOCK_STREAM && type != SOCK_DGRAM)
		why = "neither TCP nor UDP";
	else if (!capns_unicast(local))
		why = "the local address is not IPv4 or IPv6 unicast";
	else if (type == SOCK_STREAM && peer)
		why = "a TCP socket is connected by the daemon itself";
	else if (type == SOCK_DGRAM &&
		 (!peer || peer->family != local->family || !capns_unicast(peer)))
		why = "a UDP socket must be connected to a unicast address of its own family";
	if (!why)
		return 0;
	snprintf(err, errlen, "transparent socket refused: %s", why);
	return -1;
}

/* ---- opening the namespace -------------------------------------------- */

/* same_file() - path names the file of st (for namespaces: the same one) */
static int same_file(const struct stat *st, const char *path)
{
	struct stat o;

	return stat(path, &o) == 0 && o.st_dev == st->st_dev && o.st_ino == st->st_ino;
}

/* open_netns() - netns_open() (O_PATH first: no device opened, no FIFO
 * waited on; only a file of nsfs), and only a network namespace kept */
static int open_netns(const char *path, struct stat *st, char *err, size_t errlen)
{
	int fd = netns_open(path, err, errlen);

	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0 || ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
		snprintf(err, errlen, "namespace %s: not a network namespace", path);
		close(fd);
		return -1;
	}
	return fd;
}

struct capns *capns_open(const struct capns_params *p, const char *at, char *err,
			 size_t errlen)
{
	char path[sizeof(NETNS_RUN_DIR) + sizeof(p->netns)];
	struct capns *ns;
	struct stat st;
	int fd;

	if (capns_check(p, err, errlen) < 0)
		return NULL;
	snprintf(path, sizeof(path), "%s%s", strchr(p->netns, '/') ? "" : NETNS_RUN_DIR, p->netns);
	fd = open_netns(at ? at : path, &st, err, errlen);
	if (fd < 0)
		return NULL;
	/* rules that drop everything forwarded, and a packet socket on any
	 * interface: never in the namespace the daemon talks to the world in */
	if (same_file(&st, "/proc/self/ns/net") || same_file(&st, "/proc/1/ns/net")) {
		snprintf(err, errlen, "namespace %s: is the daemon's own or the host's, not a VM's",
			 p->netns);
		close(fd);
		return NULL;
	}
	ns = calloc(1, sizeof(*ns));
	if (!ns) {
		snprintf(err, errlen, "namespace %s: out of memory", p->netns);
		close(fd);
		return NULL;
	}
	ns->p = *p;
	ns->nsfd = fd;
	ns->claim_fd = -1;
	ns->dev = st.st_dev;
	ns->ino = st.st_ino;
	return ns;
}

int capns_same(const struct capns *a, const struct capns *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

const char *capns_netns(const struct capns *ns)
{
	return ns->p.netns;
}

/* ---- set-up, inside the namespace ------------------------------------- */

/* attach_syn_filter() - classic BPF on the packet socket: keep IPv4 TCP
 * first fragments with SYN set and ACK clear, and unfragmented ICMP echo
 * requests, so only new connections and pings wake the daemon.  (Jumps
 * count from the next instruction; every other packet is dropped here,
 * before a copy of it is queued.) */
static int attach_syn_filter(int fd)
{
	static struct sock_filter code[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),           /* protocol */
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 0, 6), /* -> 2 | 8 */
		/* 2 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),           /* fragment offset */
		/* 3 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 11, 0), /* -> 15 | 4 */
		/* 4 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),          /* x = IP header length */
		/* 5 */ BPF_STMT(BPF_LD | BPF_B | BPF_IND, 13),          /* TCP flags */
		/* 6 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),
		/* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 6, 7), /* -> 14 | 15 */
		/* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMP, 0, 6), /* -> 9 | 15 */
		/* 9 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),           /* MF and offset */
		/* 10 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x3fff, 4, 0), /* -> 15 | 11 */
		/* 11 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
		/* 12 */ BPF_STMT(BPF_LD | BPF_B | BPF_IND, 0),          /* ICMP type */
		/* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 8, 0, 1),   /* echo: -> 14 | 15 */
		/* 14 */ BPF_STMT(BPF_RET | BPF_K, 0xffff),
		/* 15 */ BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { ARRAY_SIZE(code), code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

/* attach_syn_filter6() - the same for IPv6: a SYN or an echo request
 * whose header is followed by TCP or ICMPv6 directly (what comes after
 * extension headers the parsers refuse anyway) */
static int attach_syn_filter6(int fd)
{
	static struct sock_filter code[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),           /* next header */
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 0, 4), /* -> 2 | 6 */
		/* 2 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 40 + 13),     /* TCP flags */
		/* 3 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),
		/* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 4, 5), /* -> 9 | 10 */
		/* 5 */ BPF_STMT(BPF_RET | BPF_K, 0),
		/* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_ICMPV6, 0, 3), /* -> 7 | 10 */
		/* 7 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 40),          /* ICMPv6 type */
		/* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ICMP6_ECHO_REQUEST, 0, 1), /* -> 9 | 10 */
		/* 9 */ BPF_STMT(BPF_RET | BPF_K, 0xffff),
		/* 10 */ BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { ARRAY_SIZE(code), code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

/* open_transparent() - the transparent listeners of one family, on ports
 * of the kernel's choosing (the rules name them) */
static int open_transparent(int tcp, int udp, int family, uint16_t *tcp_port,
			    uint16_t *udp_port)
{
	struct sockaddr_storage any = { .ss_family = family };
	int v6 = family == AF_INET6, one = 1;
	int lvl = v6 ? SOL_IPV6 : SOL_IP;
	int transparent = v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT;
	int origdst = v6 ? IPV6_RECVORIGDSTADDR : IP_RECVORIGDSTADDR;
	socklen_t size = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in), len = size;
	struct ipport bound;

	/* each family its own socket: IPv4 arrives as IPv4, never mapped */
	if ((v6 && (setsockopt(tcp, SOL_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0 ||
		    setsockopt(udp, SOL_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)) ||
	    setsockopt(tcp, lvl, transparent, &one, sizeof(one)) < 0 ||
	    setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(tcp, (struct sockaddr *)&any, size) < 0 || listen(tcp, 4096) < 0 ||
	    getsockname(tcp, (struct sockaddr *)&any, &len) < 0)
		return -1;
	ipport_from_sa(&bound, (struct sockaddr *)&any);
	*tcp_port = bound.port;
	memset(&any, 0, sizeof(any));
	any.ss_family = family;
	len = size;
	if (setsockopt(udp, lvl, transparent, &one, sizeof(one)) < 0 ||
	    setsockopt(udp, lvl, origdst, &one, sizeof(one)) < 0 ||
	    bind(udp, (struct sockaddr *)&any, size) < 0 ||
	    getsockname(udp, (struct sockaddr *)&any, &len) < 0)
		return -1;
	ipport_from_sa(&bound, (struct sockaddr *)&any);
	*udp_port = bound.port;
	return 0;
}

static int bind_device(int fd, const char *iface)
{
	return setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, iface, (socklen_t)strlen(iface));
}

/* bind_service() - a UDP socket on the VM's interface alone, at port */
static int bind_service(int fd, const char *iface, const struct sockaddr *sa, socklen_t len)
{
	int one = 1;

	return bind_device(fd, iface) < 0 ||
			       setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
			       bind(fd, sa, len) < 0 ?
		       -1 :
		       0;
}

static int join_group(int fd, int ifindex, const char *group)
{
	struct ipv6_mreq m = { .ipv6mr_interface = (unsigned)ifindex };

	inet_pton(AF_INET6, group, &m.ipv6mr_multiaddr);
	return setsockopt(fd, SOL_IPV6, IPV6_JOIN_GROUP, &m, sizeof(m));
}

/* open_nd() - router solicitations in (only they pass the filter, hop
 * limit 255 checked by the reader), advertisements out from fe80::2 with
 * hop limit 255 (RFC 4861 6.1.1, 6.1.2) */
static int open_nd(const struct capns *ns, int fd)
{
	struct sockaddr_in6 ll = { .sin6_family = AF_INET6,
				   .sin6_scope_id = (uint32_t)ns->ifindex };
	struct icmp6_filter f;
	int hops = 255, one = 1, zero = 0;

	capns_router_ll(&ll.sin6_addr);
	ICMP6_FILTER_SETBLOCKALL(&f);
	ICMP6_FILTER_SETPASS(ND_ROUTER_SOLICIT, &f);
	return setsockopt(fd, SOL_ICMPV6, ICMP6_FILTER, &f, sizeof(f)) < 0 ||
			       bind_device(fd, ns->p.iface) < 0 ||
			       setsockopt(fd, SOL_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) < 0 ||
			       setsockopt(fd, SOL_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof(hops)) < 0 ||
			       setsockopt(fd, SOL_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof(zero)) < 0 ||
			       setsockopt(fd, SOL_IPV6, IPV6_MULTICAST_IF, &ns->ifindex,
					  sizeof(ns->ifindex)) < 0 ||
			       setsockopt(fd, SOL_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof(one)) < 0 ||
			       bind(fd, (struct sockaddr *)&ll, sizeof(ll)) < 0 ||
			       join_group(fd, ns->ifindex, "ff02::2") < 0 ?
		       -1 :
		       0;
}

static int open_sockets6(struct capns *ns, struct capns_socks *s)
{
	struct sockaddr_in6 dhcp = { .sin6_family = AF_INET6, .sin6_port = htons(547) };
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IPV6),
				  .sll_ifindex = ns->ifindex };
	int mark = CAPTURE_MARK, one = 1;
	size_t i;

	s->fd[CAPNS_TCP6] = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->fd[CAPNS_UDP6] = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->fd[CAPNS_PKT6] = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				   htons(ETH_P_IPV6));
	s->fd[CAPNS_INJECT6] = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	s->fd[CAPNS_REPLY6] = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	/* (bound to the VM's interface below: a reply never leaves by another) */
	s->fd[CAPNS_ND6] = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	s->fd[CAPNS_DHCP6] = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	for (i = CAPNS_NSOCK_V4; i < CAPNS_NSOCK; i++)
		if (s->fd[i] < 0)
			return -1;
	return open_transparent(s->fd[CAPNS_TCP6], s->fd[CAPNS_UDP6], AF_INET6, &s->tcp_port6,
				&s->udp_port6) < 0 ||
			       setsockopt(s->fd[CAPNS_DHCP6], SOL_IPV6, IPV6_V6ONLY, &one,
					  sizeof(one)) < 0 ||
			       bind_service(s->fd[CAPNS_DHCP6], ns->p.iface, (struct sockaddr *)&dhcp,
					    sizeof(dhcp)) < 0 ||
			       join_group(s->fd[CAPNS_DHCP6], ns->ifindex, "ff02::1:2") < 0 ||
			       open_nd(ns, s->fd[CAPNS_ND6]) < 0 ||
			       attach_syn_filter6(s->fd[CAPNS_PKT6]) < 0 ||
			       bind(s->fd[CAPNS_PKT6], (struct sockaddr *)&ll, sizeof(ll)) < 0 ||
			       setsockopt(s->fd[CAPNS_INJECT6], SOL_SOCKET, SO_MARK, &mark,
					  sizeof(mark)) < 0 ||
			       bind_device(s->fd[CAPNS_REPLY6], ns->p.iface) < 0 ?
		       -1 :
		       0;
}

static int open_sockets(struct capns *ns, struct capns_socks *s, char *err, size_t errlen)
{
	struct sockaddr_in dhcp = { .sin_family = AF_INET, .sin_port = htons(67) };
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP) };
	int one = 1, mark = CAPTURE_MARK, dfd;
	const char *what = "";
	size_t i;

	s->fd[CAPNS_TCP] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->fd[CAPNS_UDP] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->fd[CAPNS_DHCP] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->fd[CAPNS_PKT] = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				  htons(ETH_P_IP));
	s->fd[CAPNS_INJECT] = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	s->fd[CAPNS_REPLY] = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	dfd = s->fd[CAPNS_DHCP];
	for (i = 0; i < CAPNS_NSOCK_V4; i++)
		if (s->fd[i] < 0)
			goto fail;
	if (open_transparent(s->fd[CAPNS_TCP], s->fd[CAPNS_UDP], AF_INET, &s->tcp_port,
			     &s->udp_port) < 0)
		goto fail;
	if (setsockopt(dfd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    bind_service(dfd, ns->p.iface, (struct sockaddr *)&dhcp, sizeof(dhcp)) < 0)
		goto fail;
	ll.sll_ifindex = ns->ifindex;
	if (attach_syn_filter(s->fd[CAPNS_PKT]) < 0 ||
	    bind(s->fd[CAPNS_PKT], (struct sockaddr *)&ll, sizeof(ll)) < 0)
		goto fail;
	/* the mark routes re-injected SYNs to loopback (policy route); set
	 * here because changing it later needs CAP_NET_ADMIN */
	if (setsockopt(s->fd[CAPNS_INJECT], SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		goto fail;
	/* RSTs and ICMP errors go out the VM's interface or nowhere: to a
	 * source the VM made up, not by the namespace's other routes */
	if (bind_device(s->fd[CAPNS_REPLY], ns->p.iface) < 0)
		goto fail;
	what = "IPv6 ";
	if (ns->p.ipv6 && open_sockets6(ns, s) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "network %s: %scapture sockets in namespace %s: %s%s", ns->p.idstr,
		 what, ns->p.netns, strerror(errno),
		 *what ? " (ipv6 = no in the configuration turns IPv6 off)" : "");
	return -1;
}

/* ipv6_sysctls() - on: IPv6 on for the VM's interface, whatever the
 * namespace's defaults, and the interface a router's.  Its "forwarding"
 * makes the kernel's neighbour advertisements carry the Router flag: a
 * host whose default router answers without it drops its default route
 * (RFC 4861 7.2.5), seconds after using it.  Nothing is forwarded for
 * that: the kernel forwards IPv6 only when "all" says so (kept 0 here), and
 * the rules' forward chain drops everything.  A router takes no
 * advertisements, sends no solicitations.  Off (ipv6 = no): IPv6 off on
 * the interface, so that the VM reaches nothing of the namespace's over
 * link-local addresses, and cannot advertise routes to it. */
static int ipv6_sysctls(const char *iface, int on)
{
	static const struct { const char *name, *value; } set[] = {
		{ "forwarding", "1" }, { "accept_ra", "0" }, { "router_solicitations", "0" },
		{ "disable_ipv6", "0" },
	};
	char path[128];
	size_t i;

	if (!on) {
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", iface);
		return netns_sysctl(path, "1");
	}
	/* "all" first: writing it sets every interface's value too */
	if (netns_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "0") < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(set); i++) {
		snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", iface, set[i].name);
		if (netns_sysctl(path, set[i].value) < 0)
			return -1;
	}
	return 0;
}

/* configure_addresses6() - fe80::2 (the router the VM's advertisements
 * name), the gateway prefix::2/64 (and with it the prefix's route), the
 * DNS service prefix::3, and the fwmark rule and local route that bring
 * re-injected SYNs to the listener; NULL, or what failed */
static const char *configure_addresses6(const struct capns *ns)
{
	const struct capns_params *p = &ns->p;
	struct in6_addr ll, gw, dns;

	capns_router_ll(&ll);
	capns_addr6(&p->prefix6, CAPNS_GW6_HOST, &gw);
	capns_addr6(&p->prefix6, CAPNS_DNS6_HOST, &dns);
	/* a read-only /proc/sys (a container's, ProtectKernelTunables=) is
	 * no reason to go without IPv6: the rules still keep the link to
	 * what it needs, and a VM that confirms its router by neighbour
	 * discovery may only take it for a host (see ipv6_sysctls()) */
	if (ipv6_sysctls(p->iface, 1) < 0)
		log_warnx("network %s: cannot make %s an IPv6 router in namespace %s (%s: "
			  "/proc/sys/net read-only?): a VM may drop its IPv6 default route after "
			  "checking fe80::2", p->idstr, p->iface, p->netns, strerror(errno));
	if (nl_addr_add(p->iface, AF_INET6, &ll, 64) < 0)
		return "add the router's link-local address";
	if (nl_addr_add(p->iface, AF_INET6, &gw, 64) < 0)
		return "add the IPv6 gateway address";
	if (nl_addr_add(p->iface, AF_INET6, &dns, 128) < 0)
		return "add the IPv6 DNS address";
	if (nl_rule_fwmark(AF_INET6, CAPTURE_MARK, 0xffffffff, CAPTURE_TABLE, CAPTURE_RULE_PRIO,
			   1) < 0)
		return "add the IPv6 fwmark rule";
	if (nl_route_local_default(AF_INET6, CAPTURE_TABLE, 1) < 0)
		return "add the IPv6 local route";
	return NULL;
}

static int configure_addresses(const struct capns *ns, char *err, size_t errlen)
{
	const struct capns_params *p = &ns->p;
	static const char *const rp[] = { "all", "default", "lo" };
	const char *e = NULL;
	char path[128];
	size_t i;

	if (nl_link_set_up("lo") < 0)
		e = "bring up lo";
	else if (nl_link_set_up(p->iface) < 0)
		e = "bring up the interface";
	else if (nl_addr_add(p->iface, AF_INET, &p->gateway, p->prefix_len) < 0)
		e = "add the gateway address";
	else if (nl_addr_add(p->iface, AF_INET, &p->dns, 32) < 0)
		e = "add the DNS address";
	else if (nl_rule_fwmark(AF_INET, CAPTURE_MARK, 0xffffffff, CAPTURE_TABLE, CAPTURE_RULE_PRIO,
				1) < 0)
		e = "add the fwmark rule";
	else if (nl_route_local_default(AF_INET, CAPTURE_TABLE, 1) < 0)
		e = "add the local route";
	else if (p->ipv6)
		e = configure_addresses6(ns);
	else if (os_has_ipv6() && ipv6_sysctls(p->iface, 0) < 0)
		log_warnx("network %s: cannot turn IPv6 off on %s in namespace %s: %s (the rules "
			  "drop the VM's IPv6 still)", p->idstr, p->iface, p->netns, strerror(errno));
	if (e) {
		snprintf(err, errlen, "network %s: cannot %s in namespace %s: %s", p->idstr, e,
			 p->netns, strerror(errno));
		return -1;
	}
	/* re-injected SYNs arrive on lo with the VM's source address: reverse
	 * path filtering would drop them; and nothing is ever forwarded */
	for (i = 0; i < ARRAY_SIZE(rp); i++) {
		snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", rp[i]);
		netns_sysctl(path, "0");
	}
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter", p->iface);
	netns_sysctl(path, "0");
	netns_sysctl("/proc/sys/net/ipv4/ip_forward", "0");
	return 0;
}

/* install_rules6() - as for IPv4, and what IPv6 needs besides: the
 * link's own traffic reaches the namespace's kernel and the daemon's
 * sockets, and nothing more of it: neighbour discovery, router
 * solicitations and MLD (ICMPv6 those types alone), DHCPv6 from a
 * link-local address to port 547, pings to the router's addresses.  Any
 * other link-local or multicast destination is dropped, so that the VM
 * reaches no other socket of the namespace's; and what the daemon carries
 * must come from the network's prefix (what it answers goes back only
 * there) */
static int install_rules6(const struct capns *ns, const struct capns_socks *s, char *err,
			  size_t errlen)
{
	const struct capns_params *p = &ns->p;
	char rules[4096], gw[INET6_ADDRSTRLEN], dns[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN];
	struct in6_addr a;

	capns_addr6(&p->prefix6, CAPNS_GW6_HOST, &a);
	inet_ntop(AF_INET6, &a, gw, sizeof(gw));
	capns_addr6(&p->prefix6, CAPNS_DNS6_HOST, &a);
	inet_ntop(AF_INET6, &a, dns, sizeof(dns));
	inet_ntop(AF_INET6, &p->prefix6, net, sizeof(net));
	snprintf(rules, sizeof(rules),
		 "table ip6 " NFT_TABLE "\n"
		 "delete table ip6 " NFT_TABLE "\n"
		 "table ip6 " NFT_TABLE " {\n"
		 "  chain gate {\n"
		 "    type filter hook prerouting priority raw; policy accept;\n"
		 "    iifname \"%1$s\" tcp flags & (syn | ack) == syn drop\n"
		 "  }\n"
		 "  chain capture {\n"
		 "    type filter hook prerouting priority mangle; policy accept;\n"
		 "    iifname \"%1$s\" icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert, mld-listener-report, mld2-listener-report, mld-listener-done } accept\n"
		 "    iifname \"%1$s\" ip6 saddr fe80::/10 ip6 daddr { ff02::1:2, fe80::2 } udp dport 547 accept\n"
		 "    iifname \"%1$s\" ip6 saddr { fe80::/10, %7$s/64 } ip6 daddr { fe80::2, %2$s, %3$s } icmpv6 type echo-request accept\n"
		 "    iifname \"%1$s\" ip6 daddr { fe80::/10, ff00::/8 } drop\n"
		 "    iifname \"%1$s\" ip6 saddr != %7$s/64 drop\n"
		 "    iifname \"%1$s\" meta l4proto tcp tproxy to :%4$u meta mark set %6$u accept\n"
		 "    iifname \"%1$s\" meta l4proto udp tproxy to :%5$u meta mark set %6$u accept\n"
		 "    iifname \"lo\" meta mark %6$u ip6 saddr %7$s/64 meta l4proto tcp tproxy to :%4$u accept\n"
		 "    iifname \"%1$s\" drop\n"
		 "  }\n"
		 "  chain forward {\n"
		 "    type filter hook forward priority filter; policy drop;\n"
		 "  }\n"
		 "}\n",
		 p->iface, gw, dns, s->tcp_port6, s->udp_port6, CAPTURE_MARK, net);
	return nft_run(rules, err, errlen);
}

/* install_rules6_off() - ipv6 = no: nothing of the VM's IPv6 reaches the
 * namespace, whether or not turning it off on the interface worked */
static int install_rules6_off(const struct capns *ns, char *err, size_t errlen)
{
	char rules[1024];

	snprintf(rules, sizeof(rules),
		 "table ip6 " NFT_TABLE "\n"
		 "delete table ip6 " NFT_TABLE "\n"
		 "table ip6 " NFT_TABLE " {\n"
		 "  chain capture {\n"
		 "    type filter hook prerouting priority raw; policy accept;\n"
		 "    iifname \"%s\" drop\n"
		 "  }\n"
		 "}\n",
		 ns->p.iface);
	return nft_run(rules, err, errlen);
}

static int install_rules(const struct capns *ns, const struct capns_socks *s, char *err,
			 size_t errlen)
{
	const struct capns_params *p = &ns->p;
	char rules[4096], gw[INET_ADDRSTRLEN], dns[INET_ADDRSTRLEN], net[INET_ADDRSTRLEN];
	struct in_addr subnet = p->gateway;

	subnet.s_addr &= ipv4_netmask(p->prefix_len);
	inet_ntop(AF_INET, &p->gateway, gw, sizeof(gw));
	inet_ntop(AF_INET, &p->dns, dns, sizeof(dns));
	inet_ntop(AF_INET, &subnet, net, sizeof(net));
	snprintf(rules, sizeof(rules),
		 "table ip " NFT_TABLE "\n"
		 "delete table ip " NFT_TABLE "\n"
		 "table ip " NFT_TABLE " {\n"
		 "  chain gate {\n"
		 "    type filter hook prerouting priority raw; policy accept;\n"
		 "    iifname \"%1$s\" tcp flags & (syn | ack) == syn drop\n"
		 "  }\n"
		 "  chain capture {\n"
		 "    type filter hook prerouting priority mangle; policy accept;\n"
		 "    iifname \"%1$s\" udp dport 67 accept\n"
		 "    iifname \"%1$s\" fib daddr type { broadcast, multicast } drop\n"
		 "    iifname \"%1$s\" ip saddr != %7$s/%8$u drop\n"
		 "    iifname \"%1$s\" ip daddr { %2$s, %3$s } icmp type echo-request accept\n"
		 "    iifname \"%1$s\" meta l4proto tcp tproxy to :%4$u meta mark set %6$u accept\n"
		 "    iifname \"%1$s\" meta l4proto udp tproxy to :%5$u meta mark set %6$u accept\n"
		 "    iifname \"lo\" meta mark %6$u ip saddr %7$s/%8$u meta l4proto tcp tproxy to :%4$u accept\n"
		 "    iifname \"%1$s\" drop\n"
		 "  }\n"
		 "  chain forward {\n"
		 "    type filter hook forward priority filter; policy drop;\n"
		 "  }\n"
		 "}\n",
		 p->iface, gw, dns, s->tcp_port, s->udp_port, CAPTURE_MARK, net, p->prefix_len);
	if (nft_run(rules, err, errlen) < 0)
		return -1;
	if (ns->p.ipv6)
		return install_rules6(ns, s, err, errlen);
	return os_has_ipv6() ? install_rules6_off(ns, err, errlen) : 0;
}

/* remove_setup6() - the IPv6 rules (a drop-all one with IPv6 off), and with
 * IPv6 on its addresses, rule and route */
static void remove_setup6(const struct capns *ns)
{
	const struct capns_params *p = &ns->p;
	struct in6_addr a;
	char err[512];

	if (!os_has_ipv6())
		return;
	if (nft_run("table ip6 " NFT_TABLE "\ndelete table ip6 " NFT_TABLE "\n", err,
		    sizeof(err)) < 0)
		log_warnx("network %s: %s", p->idstr, err);
	if (!p->ipv6)
		return;
	nl_route_local_default(AF_INET6, CAPTURE_TABLE, 0);
	nl_rule_fwmark(AF_INET6, CAPTURE_MARK, 0xffffffff, CAPTURE_TABLE, CAPTURE_RULE_PRIO, 0);
	capns_addr6(&p->prefix6, CAPNS_DNS6_HOST, &a);
	nl_addr_del(p->iface, AF_INET6, &a, 128);
	capns_addr6(&p->prefix6, CAPNS_GW6_HOST, &a);
	nl_addr_del(p->iface, AF_INET6, &a, 64);
	capns_router_ll(&a);
	nl_addr_del(p->iface, AF_INET6, &a, 64);
}

static void remove_setup(const struct capns *ns)
{
	const struct capns_params *p = &ns->p;
	char err[512];

	if (nft_run("table ip " NFT_TABLE "\ndelete table ip " NFT_TABLE "\n", err, sizeof(err)) < 0)
		log_warnx("network %s: %s", p->idstr, err);
	nl_route_local_default(AF_INET, CAPTURE_TABLE, 0);
	nl_rule_fwmark(AF_INET, CAPTURE_MARK, 0xffffffff, CAPTURE_TABLE, CAPTURE_RULE_PRIO, 0);
	nl_addr_del(p->iface, AF_INET, &p->dns, 32);
	nl_addr_del(p->iface, AF_INET, &p->gateway, p->prefix_len);
	remove_setup6(ns);
}

static void close_socks(struct capns_socks *s)
{
	size_t i;

	for (i = 0; i < CAPNS_NSOCK; i++) {
		if (s->fd[i] >= 0)
			close(s->fd[i]);
		s->fd[i] = -1;
	}
}

/* claim() - make the namespace's capture ours: an abstract unix socket
 * name, which the kernel keeps per network namespace and frees when its
 * holder closes it or dies.  A helper whose daemon died removes what that
 * daemon set up, holding the name until it is done; a new set-up waits for
 * that (CLAIM_WAIT_MS at most) rather than race it, which could leave the
 * new capture without the addresses the old one's removal took away.  Two
 * live daemons cannot capture one namespace either.  In the namespace. */
#define CLAIM_NAME	"omnetd-capture"
#define CLAIM_WAIT_MS	5000
#define CLAIM_STEP_MS	50
static int claim(struct capns *ns)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(CLAIM_NAME));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), i, e;

	if (fd < 0)
		return -1;
	memcpy(sun.sun_path + 1, CLAIM_NAME, strlen(CLAIM_NAME));
	for (i = 0; i < CLAIM_WAIT_MS / CLAIM_STEP_MS; i++) {
		if (bind(fd, (struct sockaddr *)&sun, len) == 0) {
			ns->claim_fd = fd;
			return 0;
		}
		if (errno != EADDRINUSE)
			break;
		usleep(CLAIM_STEP_MS * 1000);
	}
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

int capns_setup(struct capns *ns, struct capns_socks *s, char *err, size_t errlen)
{
	int ret = -1;
	size_t i;

	for (i = 0; i < CAPNS_NSOCK; i++)
		s->fd[i] = -1;
	if (netns_enter(ns->nsfd) < 0) {
		snprintf(err, errlen, "network %s: cannot enter namespace %s: %s", ns->p.idstr,
			 ns->p.netns, strerror(errno));
		return -1;
	}
	if (claim(ns) < 0) {
		snprintf(err, errlen, "network %s: namespace %s holds another omnetd's capture%s",
			 ns->p.idstr, ns->p.netns,
			 errno == EADDRINUSE ? " (for 5 s now: not one being removed)" : "");
		netns_leave();
		return -1;
	}
	ns->ifindex = nl_link_index(ns->p.iface);
	if (ns->ifindex < 0)
		snprintf(err, errlen, "network %s: no interface %s in namespace %s", ns->p.idstr,
			 ns->p.iface, ns->p.netns);
	else if (configure_addresses(ns, err, errlen) == 0 && open_sockets(ns, s, err, errlen) == 0 &&
		 install_rules(ns, s, err, errlen) == 0)
		ret = 0;
	if (ret < 0) {
		remove_setup(ns);
		close_socks(s);
		close(ns->claim_fd);
		ns->claim_fd = -1;
	}
	netns_leave();
	ns->set_up = ret == 0;
	return ret;
}

void capns_free(struct capns *ns)
{
	if (!ns)
		return;
	if (ns->set_up && netns_enter(ns->nsfd) == 0) {
		remove_setup(ns);
		netns_leave();
		log_info("network %s: capture removed from namespace %s", ns->p.idstr, ns->p.netns);
	}
	/* only now may another set-up begin (claim()) */
	if (ns->claim_fd >= 0)
		close(ns->claim_fd);
	close(ns->nsfd);
	free(ns);
}

/* ---- per-flow sockets -------------------------------------------------- */

int capns_socket(struct capns *ns, int type, const struct ipport *local,
		 const struct ipport *peer)
{
	struct sockaddr_storage a, b;
	socklen_t al = ipport_to_sa(local, &a);
	int one = 1, fd, e;

	if (netns_enter(ns->nsfd) < 0)
		return -1;
	fd = socket(local->family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	netns_leave();
	if (fd < 0)
		return -1;
	/* IP_TRANSPARENT, and binding below port 1024 (a VM's DNS or HTTP
	 * destination), need a capability: both here, at creation */
	if ((local->family == AF_INET6 ?
		     setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) :
		     setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one))) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, al) < 0 ||
	    (peer && connect(fd, (struct sockaddr *)&b, ipport_to_sa(peer, &b)) < 0)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}
