/* capns.c: a capture namespace's addresses, rules and privileged sockets.
 *
 * Moved out of capture.c so that the privileged helper can run it alone
 * (privsep.c): nothing here reads what the VM or a peer sends. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "capns.h"
#include "cmdschema.h"
#include "log.h"
#include "netlink.h"
#include "netns.h"
#include "nft.h"

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
	if (!why)
		return 0;
	snprintf(err, errlen, "capture set-up refused: %s", why);
	return -1;
}

int capns_check_socket(int type, const struct ipport *local, const struct ipport *peer,
		       char *err, size_t errlen)
{
	const char *why = NULL;

	if (type != SOCK_STREAM && type != SOCK_DGRAM)
		why = "neither TCP nor UDP";
	else if (local->family != AF_INET || !ipv4_unicast(local->addr))
		why = "the local address is not IPv4 unicast";
	else if (type == SOCK_STREAM && peer)
		why = "a TCP socket is connected by the daemon itself";
	else if (type == SOCK_DGRAM &&
		 (!peer || peer->family != AF_INET || !ipv4_unicast(peer->addr)))
		why = "a UDP socket must be connected to an IPv4 unicast address";
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

/* open_tcp_udp() - the transparent listeners, on ports of the kernel's
 * choosing (the rules name them) */
static int open_tcp_udp(struct capns_socks *s)
{
	struct sockaddr_in any = { .sin_family = AF_INET };
	socklen_t len = sizeof(any);
	int one = 1, tcp = s->fd[CAPNS_TCP], udp = s->fd[CAPNS_UDP];

	if (setsockopt(tcp, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0 ||
	    setsockopt(tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(tcp, (struct sockaddr *)&any, sizeof(any)) < 0 || listen(tcp, 4096) < 0 ||
	    getsockname(tcp, (struct sockaddr *)&any, &len) < 0)
		return -1;
	s->tcp_port = ntohs(any.sin_port);
	any.sin_port = 0;
	len = sizeof(any);
	if (setsockopt(udp, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0 ||
	    setsockopt(udp, SOL_IP, IP_RECVORIGDSTADDR, &one, sizeof(one)) < 0 ||
	    bind(udp, (struct sockaddr *)&any, sizeof(any)) < 0 ||
	    getsockname(udp, (struct sockaddr *)&any, &len) < 0)
		return -1;
	s->udp_port = ntohs(any.sin_port);
	return 0;
}

static int open_sockets(struct capns *ns, struct capns_socks *s, char *err, size_t errlen)
{
	struct sockaddr_in dhcp = { .sin_family = AF_INET, .sin_port = htons(67) };
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP) };
	int one = 1, mark = CAPTURE_MARK, dfd;
	size_t i;

	s->fd[CAPNS_TCP] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->fd[CAPNS_UDP] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->fd[CAPNS_DHCP] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->fd[CAPNS_PKT] = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				  htons(ETH_P_IP));
	s->fd[CAPNS_INJECT] = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	s->fd[CAPNS_REPLY] = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	dfd = s->fd[CAPNS_DHCP];
	for (i = 0; i < CAPNS_NSOCK; i++)
		if (s->fd[i] < 0)
			goto fail;
	if (open_tcp_udp(s) < 0)
		goto fail;
	if (setsockopt(dfd, SOL_SOCKET, SO_BINDTODEVICE, ns->p.iface,
		       (socklen_t)strlen(ns->p.iface)) < 0 ||
	    setsockopt(dfd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(dfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(dfd, (struct sockaddr *)&dhcp, sizeof(dhcp)) < 0)
		goto fail;
	ll.sll_ifindex = ns->ifindex;
	if (attach_syn_filter(s->fd[CAPNS_PKT]) < 0 ||
	    bind(s->fd[CAPNS_PKT], (struct sockaddr *)&ll, sizeof(ll)) < 0)
		goto fail;
	/* the mark routes re-injected SYNs to loopback (policy route); set
	 * here because changing it later needs CAP_NET_ADMIN */
	if (setsockopt(s->fd[CAPNS_INJECT], SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "network %s: capture sockets in namespace %s: %s", ns->p.idstr,
		 ns->p.netns, strerror(errno));
	return -1;
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
	return nft_run(rules, err, errlen);
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
	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	netns_leave();
	if (fd < 0)
		return -1;
	/* IP_TRANSPARENT, and binding below port 1024 (a VM's DNS or HTTP
	 * destination), need a capability: both here, at creation */
	if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0 ||
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
