/* capture.c: capture namespaces, the SYN gate, transparent listeners.
 *
 * Packet path in the capture namespace, for a VM's new TCP connection:
 *   1. the SYN arrives on the VM interface; the raw-priority nftables chain
 *      drops it, but our packet socket (which sees frames before netfilter)
 *      has a copy: a flow is opened towards the peer, the SYN kept;
 *   2. the peer connected (OPENED): the SYN is sent again from a raw socket
 *      carrying our fwmark, which the policy route turns into loopback
 *      delivery; on "lo" it meets the TPROXY rule and our listener;
 *   3. the kernel answers the VM with SYN-ACK and we accept() the socket.
 * A refused destination instead gets the VM a RST for its SYN.
 *
 * UDP from the VM goes to a transparent listener (IP_RECVORIGDSTADDR gives
 * the destination); each conversation gets a socket bound to the original
 * destination and connected to the VM, to reply from the right address.
 *
 * ICMP echo requests to anywhere but the gateway and the DNS address (which
 * the namespace's kernel answers) reach the packet socket too, and the
 * rules drop them: each identifier and destination is an ICMP flow, its
 * requests datagrams the consumer sends from a ping socket, the replies
 * written to the VM as IPv4 packets from the destination's address.
 *
 * Nothing here needs a privilege.  The namespace's set-up, and every socket
 * that needs one when it is made, come from capns.c: through the provider's
 * privileged helper when it has one (privsep.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "capns.h"
#include "capture.h"
#include "daemon.h"
#include "dhcp.h"
#include "egress.h"
#include "flow.h"
#include "idmap.h"
#include "lan6.h"
#include "link.h"
#include "log.h"
#include "osutil.h"
#include "network.h"
#include "peer.h"
#include "privsep.h"
#include "session.h"
#include "tcpraw.h"
#include "util.h"

#define SYN_HOLD_MS(d) ((d)->cfg.connect_timeout_ms + 5000)
#define SYN_BATCH 8 /* SYNs per recvmmsg() */

/* One address family's share of the capture: its listeners, its SYN
 * gate's packet socket, its raw sockets.  IPv6's is unused (fds -1) when
 * the network has no IPv6. */
struct capture_af {
	struct capture *c;
	uint16_t tcp_port, udp_port;
	int tcp_fd, udp_fd, pkt_fd, inject_fd, reply_fd;
	struct event *tcp_ev, *udp_ev, *pkt_ev;
};
enum { AF4, AF6 };

struct capture {
	struct network *net;
	struct daemon *d;
	struct privcap *pc;     /* the namespace's set-up, here or in the helper */
	struct capture_af af[2];
	int dhcp_fd;
	struct event *dhcp_ev;
	struct dhcp_server *dhcp;
	struct lan6 *lan6;      /* IPv6: router advertisements and DHCPv6 */
	struct idmap tcp_tab;   /* tuple hash -> flow chain: SYNs held and accepted */
	struct idmap udp_tab;
	struct idmap icmp_tab;  /* (VM, identifier) and destination -> echo flow */
	unsigned accepts_due;   /* flows whose SYN was let through, not accepted yet */
	struct in_addr vm_seen; /* the VM's address in its last new flow (0: none yet) */
	struct in6_addr vm_seen6; /* and its IPv6 address (:: none yet) */
	uint64_t fail_logged_ms;  /* ns_socket_failed()'s last warning */
	unsigned fail_quiet;      /* and the failures since, not logged */
	struct capture_counters ctr;
};

/* ---- tuple tables ----------------------------------------------------- */

static uint64_t tuple_key(const struct ipport *a, const struct ipport *b)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i, j;

	for (j = 0; j < 2; j++) {
		const struct ipport *p = j ? b : a;

		for (i = 0; i < 16; i++)
			h = (h ^ p->addr[i]) * 0x100000001b3ULL;
		h = (h ^ p->port) * 0x100000001b3ULL;
		h = (h ^ p->family) * 0x100000001b3ULL;
	}
	return h ? h : 1;
}

static struct flow *tab_find(struct idmap *t, const struct ipport *vm, const struct ipport *rem)
{
	struct flow *f = idmap_get(t, tuple_key(vm, rem));

	while (f && !(ipport_eq(&f->vm, vm) && ipport_eq(&f->remote, rem)))
		f = f->hnext;
	return f;
}

static void tab_add(struct idmap *t, struct flow *f)
{
	f->hkey = tuple_key(&f->vm, &f->remote);
	f->hnext = idmap_get(t, f->hkey);
	idmap_put(t, f->hkey, f);
}

static void tab_del(struct idmap *t, struct flow *f)
{
	struct flow *head = idmap_get(t, f->hkey), **pp;

	if (!head)
		return;
	if (head == f) {
		if (f->hnext)
			idmap_put(t, f->hkey, f->hnext);
		else
			idmap_del(t, f->hkey);
		return;
	}
	for (pp = &head->hnext; *pp; pp = &(*pp)->hnext) {
		if (*pp == f) {
			*pp = f->hnext;
			return;
		}
	}
}

/* tab_of() - the table of proto's flows */
static struct idmap *tab_of(struct capture *c, uint8_t proto)
{
	return proto == WIRE_PROTO_UDP ? &c->udp_tab
	       : proto == WIRE_PROTO_ICMP ? &c->icmp_tab : &c->tcp_tab;
}

void capture_flow_destroyed(struct capture *c, struct flow *f)
{
	tab_del(tab_of(c, f->proto), f);
	if (f->syn_passed && c->accepts_due)
		c->accepts_due--; /* let through, never accepted */
}

/* ---- the peer and the kind of a destination --------------------------- */

/* peer_session() - the session new VM flows go on; NULL while there is
 * none, or while a handshake of ours is about to replace it (a flow opened
 * now would be reset with it; the VM retries) */
static struct session *peer_session(struct capture *c)
{
	struct peer *p = peer_find(c->d, c->net->peer);

	if (!p || !p->session || !peer_settled(p))
		return NULL;
	return p->session;
}

static struct capture_af *af_of(struct capture *c, int family)
{
	return &c->af[family == AF_INET6 ? AF6 : AF4];
}

/* is_service() - whether a is the network's gateway (CAPNS_GW6_HOST) or
 * DNS (CAPNS_DNS6_HOST) address in a's family */
static int is_service(const struct capture *c, const struct ipport *a, uint8_t host6)
{
	const struct network *n = c->net;
	struct in6_addr a6;

	if (a->family == AF_INET)
		return memcmp(a->addr, host6 == CAPNS_GW6_HOST ? &n->gateway : &n->dns, 4) == 0;
	if (!n->ipv6)
		return 0;
	capns_addr6(&n->prefix6, host6, &a6);
	return memcmp(a->addr, &a6, 16) == 0;
}

/* gateway_addr() - the gateway's address in the family of a, the source
 * of the ICMP errors the network itself sends */
static void gateway_addr(const struct capture *c, int family, uint8_t out[16])
{
	if (family == AF_INET6)
		capns_addr6(&c->net->prefix6, CAPNS_GW6_HOST, (struct in6_addr *)out);
	else
		memcpy(out, &c->net->gateway, 4);
}

static uint8_t dst_kind(const struct capture *c, const struct ipport *dst)
{
	if (dst->port == 53 && is_service(c, dst, CAPNS_DNS6_HOST))
		return WIRE_DST_DNS;
	if (is_service(c, dst, CAPNS_GW6_HOST))
		return WIRE_DST_GATEWAY;
	return WIRE_DST_ADDR;
}

/* open_vm_flow() - a new flow of the VM's, from vm to dst, opened towards
 * the peer on s and entered in its protocol's table */
static struct flow *open_vm_flow(struct capture *c, struct session *s, uint8_t proto,
				 const struct ipport *vm, const struct ipport *dst)
{
	struct link_flow *lf = link_flow_open(s->link, &c->net->id, proto, dst_kind(c, dst), vm, dst);
	struct flow *f = flow_new(c->net, s, lf, proto, link_flow_kind(lf), vm, dst);

	tab_add(tab_of(c, proto), f);
	return f;
}

/* in_vm_network() - a is in the VM network's subnet or IPv6 prefix */
static int in_vm_network(const struct capture *c, const struct ipport *a)
{
	const struct network *n = c->net;
	uint32_t v, mask = ipv4_netmask(n->prefix_len);

	if (a->family == AF_INET6)
		return n->ipv6 && memcmp(a->addr, &n->prefix6, 8) == 0;
	memcpy(&v, a->addr, 4);
	return (v & mask) == (n->gateway.s_addr & mask);
}

/* vm_source() - a may be a VM's: in its network, and none of the
 * network's own addresses (the gateway's, the DNS service's, the subnet's
 * first and last; IPv6's prefix:: is the routers' anycast address, ours) */
static int vm_source(const struct capture *c, const struct ipport *a)
{
	uint32_t v, mask = ipv4_netmask(c->net->prefix_len);
	static const uint8_t zero[8];

	if (!in_vm_network(c, a) || is_service(c, a, CAPNS_GW6_HOST) ||
	    is_service(c, a, CAPNS_DNS6_HOST))
		return 0;
	if (a->family == AF_INET6)
		return memcmp(a->addr + 8, zero, 8) != 0;
	memcpy(&v, a->addr, 4);
	return (v & ~mask) != 0 && (v & ~mask) != ~mask;
}

/* vm_addr_ok() - whether a new flow of the VM's may go: from an address
 * of its network (any other source is made up, and what we answered
 * would go to someone else: the rules drop such packets, but the packet
 * socket sees them first) to a unicast address; counted if not */
static int vm_addr_ok(struct capture *c, const struct ipport *src, const struct ipport *dst)
{
	int ok = vm_source(c, src) && dst->family == src->family && capns_unicast(dst);

	if (!ok)
		c->ctr.misaddressed++;
	return ok;
}

/* ---- TCP: the SYN gate ------------------------------------------------ */

/* send_raw() - a whole IP packet to to, on the raw socket of its family
 * (the inject socket or the reply socket) */
static void send_raw(struct capture *c, int inject, const uint8_t *pkt, size_t len,
		     const struct ipport *to)
{
	struct capture_af *af = af_of(c, to->family);
	struct sockaddr_storage ss;
	struct ipport dst = *to;
	socklen_t sl;

	dst.port = 0; /* a raw socket takes the port field as a protocol */
	sl = ipport_to_sa(&dst, &ss);
	if (sendto(inject ? af->inject_fd : af->reply_fd, pkt, len, 0, (struct sockaddr *)&ss, sl) < 0)
		log_debug("capture: raw send: %s", strerror(errno));
}

static void handle_syn(struct capture *c, const struct syn_info *syn)
{
	struct flow *f;
	struct session *s;

	if (!vm_addr_ok(c, &syn->src, &syn->dst))
		return;
	f = tab_find(&c->tcp_tab, &syn->src, &syn->dst);
	c->ctr.syns++;
	if (f) {
		/* the VM retransmitted: still held, or already let through */
		c->ctr.syn_retransmits++;
		if (!f->syn)
			capture_syn_accepted(c, f);
		return;
	}
	s = peer_session(c);
	if (!s) {
		/* no link yet: say nothing, the VM's TCP retries its SYN */
		c->ctr.syns_no_link++;
		return;
	}
	if (!link_can_open(s->link, &c->net->id) || !daemon_flow_room(c->d)) {
		c->ctr.syns_refused_limit++;
		capture_reject_syn(c, syn, RST_RESOURCE);
		return;
	}
	f = open_vm_flow(c, s, WIRE_PROTO_TCP, &syn->src, &syn->dst);
	f->state = FLOW_PENDING;
	f->syn = xmalloc(sizeof(*f->syn));
	*f->syn = *syn;
	session_wake(s);
}

/* ---- ICMP echo -------------------------------------------------------- */

static void note_vm(struct capture *c, const struct ipport *vm);

/* echo_nowhere() - a ping to every host or a group: the limited
 * broadcast, multicast, this network's broadcast, 0.0.0.0/8; for IPv6,
 * multicast, link-local (no one else is on the VM's link) and :: */
static int echo_nowhere(const struct capture *c, const struct ipport *dst)
{
	static const uint8_t zero[16];
	uint32_t a, mask = ipv4_netmask(c->net->prefix_len);

	if (dst->family == AF_INET6)
		return dst->addr[0] == 0xff || (dst->addr[0] == 0xfe && (dst->addr[1] & 0xc0) == 0x80) ||
		       memcmp(dst->addr, zero, 16) == 0;
	memcpy(&a, dst->addr, 4);
	return dst->addr[0] == 0 || (dst->addr[0] & 0xf0) == 0xe0 || a == 0xffffffff ||
	       ((a & mask) == (c->net->gateway.s_addr & mask) && (a & ~mask) == ~mask);
}

static void handle_echo(struct capture *c, const struct echo_info *e)
{
	struct flow *f;
	struct session *s;

	/* the gateway and the DNS address: the namespace's kernel answers;
	 * broadcast and multicast (which the rules' fib check drops, but this
	 * socket sees first) go nowhere, as the VM's other broadcasts do */
	if (is_service(c, &e->dst, CAPNS_GW6_HOST) || is_service(c, &e->dst, CAPNS_DNS6_HOST) ||
	    echo_nowhere(c, &e->dst) || !vm_addr_ok(c, &e->src, &e->dst))
		return;
	c->ctr.echo_requests++;
	f = tab_find(&c->icmp_tab, &e->src, &e->dst);
	if (!f) {
		s = peer_session(c);
		if (!s) {
			c->ctr.echo_no_link++;
			return; /* ping counts it lost, as on a network that is down */
		}
		if (!link_can_open(s->link, &c->net->id) || !daemon_flow_room(c->d))
			return;
		f = open_vm_flow(c, s, WIRE_PROTO_ICMP, &e->src, &e->dst);
		f->state = FLOW_OPEN;
		note_vm(c, &e->src);
	}
	f->echo_seq = e->seq;
	flow_udp_send(f, e->msg, e->len);
}

/* unreach_to_vm() - a destination unreachable with code, from the address
 * from, about the VM's latest datagram of flow f (its echo request numbered
 * seq, for an echo flow) */
static void unreach_to_vm(struct capture *c, const struct flow *f, uint16_t seq, uint8_t code,
			  const uint8_t *from)
{
	uint8_t pkt[TCPRAW_DGRAM_UNREACH_LEN];
	/* an IPv6 echo flow's messages are ICMPv6's */
	uint8_t proto = f->proto == WIRE_PROTO_ICMP && f->vm.family == AF_INET6 ? IPPROTO_ICMPV6
										 : f->proto;
	size_t n = tcpraw_build_dgram_unreach(&f->vm, &f->remote, proto, seq, code, from, pkt,
					      sizeof(pkt));

	if (n) {
		c->ctr.unreach_sent++;
		send_raw(c, 0, pkt, n, &f->vm);
	}
}

void capture_dgram_unreach(struct capture *c, const struct flow *f, uint64_t reason)
{
	uint8_t gw[16];
	const uint8_t *from = gw;
	uint8_t code;

	gateway_addr(c, f->vm.family, gw);
	if (f->kind == WIRE_DST_VM)
		return; /* a forward's client is not the VM */
	if (reason == RST_REFUSED && f->proto == WIRE_PROTO_UDP) {
		code = TCPRAW_UNREACH_PORT;
		from = f->remote.addr; /* the host itself says its port is closed */
	} else if (reason == RST_REFUSED || reason == RST_UNREACHABLE) {
		code = TCPRAW_UNREACH_HOST;
	} else if (reason == RST_POLICY) {
		code = TCPRAW_UNREACH_ADMIN;
	} else {
		return;
	}
	unreach_to_vm(c, f, f->echo_seq, code, from);
}

/* echo_unreach() - a router told the consumer the VM's ping cannot reach
 * its destination (PROTOCOL.md: type, code, the request's sequence number,
 * then the router's address): the VM hears it from that router, as it
 * would on a real network.  0 if msg is not such a message. */
static int echo_unreach(struct capture *c, struct flow *f, const uint8_t *msg, size_t len)
{
	struct ipport router = { .family = f->vm.family };
	int v6 = f->vm.family == AF_INET6, code;

	if (len != (v6 ? 24u : 12u) || (code = tcpraw_unreach_code(f->vm.family, msg[0], msg[1])) < 0)
		return 0;
	/* the router's address comes from a peer: one that is no router's
	 * (loopback, multicast, one of the VM's own network) becomes the
	 * gateway's */
	memcpy(router.addr, msg + 8, v6 ? 16 : 4);
	if (!capns_unicast(&router) || in_vm_network(c, &router))
		gateway_addr(c, f->vm.family, router.addr);
	unreach_to_vm(c, f, (uint16_t)(msg[6] << 8 | msg[7]), (uint8_t)code, router.addr);
	return 1;
}

void capture_echo_reply(struct capture *c, struct flow *f, const uint8_t *msg, size_t len)
{
	uint8_t pkt[40 + TCPRAW_ECHO_MAX];
	size_t n;

	if (echo_unreach(c, f, msg, len))
		return;
	n = tcpraw_build_echo_reply(&f->remote, &f->vm, f->vm.port, msg, len, pkt, sizeof(pkt));
	if (!n)
		return; /* neither: the consumer sends nothing else */
	c->ctr.echo_replies++;
	send_raw(c, 0, pkt, n, &f->vm);
}

/* on_packet() - the VM's SYNs and echo requests, a batch per recvmmsg(): a
 * short batch means the socket is drained, without a recv() that says so */
static void on_packet(evutil_socket_t fd, short what, void *arg)
{
	struct capture *c = ((struct capture_af *)arg)->c;
	uint8_t bufs[SYN_BATCH][2048];
	struct mmsghdr msgs[SYN_BATCH];
	struct iovec iov[SYN_BATCH];
	struct syn_info syn;
	struct echo_info echo;
	int i, n, round;

	for (round = 0; round < 256 / SYN_BATCH; round++) {
		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < SYN_BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, msgs, SYN_BATCH, MSG_DONTWAIT, NULL);
		for (i = 0; i < n; i++) {
			daemon_io(c->d, 0);
			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				c->ctr.packets_ignored++;
			else if (tcpraw_parse_syn(bufs[i], msgs[i].msg_len, &syn) == 0)
				handle_syn(c, &syn);
			else if (tcpraw_parse_echo(bufs[i], msgs[i].msg_len, &echo) == 0)
				handle_echo(c, &echo);
			else
				c->ctr.packets_ignored++;
		}
		if (n < SYN_BATCH)
			break;
	}
}

void capture_syn_accepted(struct capture *c, struct flow *f)
{
	struct syn_info *syn = f->syn;
	struct syn_info copy;

	if (!syn)
		return;
	copy = *syn;
	/* the VM's NIC may have left the checksum to an offload that never
	 * happened on this path: recompute before the kernel checks it */
	tcpraw_fix_checksums(copy.pkt, copy.len);
	send_raw(c, 1, copy.pkt, copy.len, &copy.dst);
	if (!f->syn_passed) {
		f->syn_passed = 1;
		c->accepts_due++;
	}
}

void capture_reject_syn(struct capture *c, const struct syn_info *syn, uint64_t reason)
{
	uint8_t pkt[TCPRAW_ICMP_MAX], gw[16];
	size_t n;

	gateway_addr(c, syn->src.family, gw);
	if (reason == RST_UNREACHABLE || reason == RST_TIMEOUT || reason == RST_LINK ||
	    reason == RST_NETWORK)
		n = tcpraw_build_icmp_unreach(syn, TCPRAW_UNREACH_HOST, gw, pkt, sizeof(pkt));
	else
		n = tcpraw_build_rst(syn, pkt, sizeof(pkt));
	if (n)
		send_raw(c, 0, pkt, n, &syn->src);
}

/* note_vm() - the VM's address as its own flows show it: a provider that
 * restarted has no lease for a VM that keeps the address it leased before,
 * and a port forward needs one.  Only an address a VM may have
 * (vm_source()), in either family. */
static void note_vm(struct capture *c, const struct ipport *vm)
{
	if (!vm_source(c, vm))
		return;
	if (vm->family == AF_INET6)
		memcpy(&c->vm_seen6, vm->addr, 16);
	else
		memcpy(&c->vm_seen, vm->addr, 4);
}

static void accept_one(struct capture *c, int fd, const struct sockaddr *peer)
{
	struct sockaddr_storage local;
	socklen_t ll = sizeof(local);
	struct ipport vm, rem;
	struct flow *f;

	/* TPROXY: the local address is where the VM was going */
	getsockname(fd, (struct sockaddr *)&local, &ll);
	ipport_from_sa(&vm, peer);
	ipport_from_sa(&rem, (struct sockaddr *)&local);
	f = tab_find(&c->tcp_tab, &vm, &rem);
	if (!f || !f->syn || !f->lf) {
		c->ctr.accept_unmatched++;
		sock_rst_on_close(fd);
		close(fd);
		return;
	}
	c->ctr.accepted++;
	note_vm(c, &vm);
	free(f->syn);
	f->syn = NULL;
	if (f->syn_passed) {
		f->syn_passed = 0;
		c->accepts_due--;
	}
	if (flow_attach_tcp(f, fd) < 0) {
		flow_abort(f, RST_RESOURCE);
		return;
	}
	flow_start(f); /* the far end may have spoken first, and the VM too */
}

/* on_accept() - connections the SYN gate let through.  Only those reach
 * this socket, so once every flow let through was accepted, the queue is
 * empty: no accept4() to learn that it is.  Flows let through whose
 * handshake has not completed stay counted (a burst is accepted in one
 * turn); one that never completes leaves the count when it times out. */
static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct capture_af *af = arg;
	struct capture *c = af->c;
	struct sockaddr_storage peer;
	socklen_t pl;
	int i, s;

	for (i = 0; i < 128; i++) {
		pl = sizeof(peer);
		s = accept4(fd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (s < 0 && (errno == EMFILE || errno == ENFILE))
			daemon_pause_event(c->d, af->tcp_ev, 100);
		if (s < 0)
			break;
		daemon_io(c->d, 0);
		accept_one(c, s, (struct sockaddr *)&peer);
		if (!c->accepts_due)
			break;
	}
}

void capture_housekeeping(struct capture *c, uint64_t now_ms)
{
	struct flow *f, *next;

	if (c->fail_quiet && now_ms - c->fail_logged_ms >= 1000) {
		log_warnx("network %s: %u more transparent sockets could not be made", c->net->idstr,
			  c->fail_quiet);
		c->fail_quiet = 0;
	}

	TAILQ_FOREACH_SAFE(f, &c->net->flows, entry, next) {
		if (f->syn && now_ms - f->created_ms > SYN_HOLD_MS(c->d))
			flow_abort(f, RST_TIMEOUT);
	}
}

/* ---- UDP -------------------------------------------------------------- */

/* ns_socket() - a socket in the capture namespace, bound transparently to
 * an address that is not ours (the VM's destination, a forward's client),
 * and connected to peer_ if given: made where the privileges are */
static int ns_socket(struct capture *c, int type, const struct ipport *local,
		     const struct ipport *peer_)
{
	return privcap_socket(c->pc, type, local, peer_);
}

/* ns_socket_failed() - count and log a per-flow socket that could not be
 * made; a helper that is gone was reported once already.  At most one
 * warning a second per network: what a VM sends must not fill the log
 * (capture_housekeeping() says how many more there were). */
static void ns_socket_failed(struct capture *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void ns_socket_failed(struct capture *c, const char *fmt, ...)
{
	uint64_t now = clock_now_ms();
	char line[512];
	va_list ap;
	int e = errno;

	c->ctr.socket_failures++;
	if (e != EPIPE && c->fail_logged_ms && now - c->fail_logged_ms < 1000) {
		c->fail_quiet++;
		return;
	}
	if (e != EPIPE)
		c->fail_logged_ms = now;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (e == EPIPE)
		log_debug("%s: %s", line, strerror(e));
	else
		log_warnx("%s: %s", line, strerror(e));
}

/* reply_socket() - UDP in the capture namespace: bound to the destination
 * the VM used, connected to the VM */
static int reply_socket(struct capture *c, const struct ipport *vm, const struct ipport *dst)
{
	return ns_socket(c, SOCK_DGRAM, dst, vm);
}

static void udp_from_vm(struct capture *c, const struct ipport *vm, const struct ipport *dst,
			const uint8_t *d, size_t len)
{
	struct flow *f = tab_find(&c->udp_tab, vm, dst);
	struct session *s;
	int fd;

	if (!f) {
		if (!vm_addr_ok(c, vm, dst))
			return;
		s = peer_session(c);
		if (!s) {
			c->ctr.udp_no_link++;
			return;
		}
		if (!link_can_open(s->link, &c->net->id) || !daemon_flow_room(c->d))
			return; /* UDP may be dropped; a flow limit says no more */
		fd = reply_socket(c, vm, dst);
		if (fd < 0) {
			ns_socket_failed(c, "network %s: UDP reply socket", c->net->idstr);
			return;
		}
		f = open_vm_flow(c, s, WIRE_PROTO_UDP, vm, dst);
		flow_attach_udp(f, fd);
		c->ctr.udp_flows++;
		note_vm(c, vm);
	}
	flow_udp_send(f, d, len);
}

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
	struct capture *c = ((struct capture_af *)arg)->c;
	uint8_t buf[65536], cbuf[256];
	int i;

	for (i = 0; i < 256; i++) {
		struct sockaddr_storage from;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
				     .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *cm;
		struct ipport vm, dst = { 0 };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

		if (n < 0)
			break;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if ((cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_ORIGDSTADDR) ||
			    (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_ORIGDSTADDR))
				ipport_from_sa(&dst, (struct sockaddr *)CMSG_DATA(cm));
		}
		if (!dst.family)
			continue;
		ipport_from_sa(&vm, (struct sockaddr *)&from);
		udp_from_vm(c, &vm, &dst, buf, (size_t)n);
	}
}

/* ---- DHCP ------------------------------------------------------------- */

static void on_dhcp(evutil_socket_t fd, short what, void *arg)
{
	struct capture *c = arg;
	uint8_t in[1500], out[DHCP_REPLY_MAX];
	struct sockaddr_in bcast = { .sin_family = AF_INET, .sin_port = htons(68),
				     .sin_addr.s_addr = htonl(INADDR_BROADCAST) };
	int i;

	for (i = 0; i < 32; i++) {
		ssize_t n = recv(fd, in, sizeof(in), MSG_DONTWAIT);
		int r;

		if (n < 0)
			break;
		r = dhcp_handle(c->dhcp, in, (size_t)n, clock_now_ms(), out, sizeof(out));
		/* broadcast: the client has no address yet (RFC 2131 4.1) */
		if (r > 0 && sendto(fd, out, (size_t)r, 0, (struct sockaddr *)&bcast, sizeof(bcast)) > 0)
			c->ctr.dhcp_replies++;
	}
}

/* ---- setup and teardown ----------------------------------------------- */

static struct dhcp_server *make_dhcp(const struct network *n, const struct daemon *d)
{
	struct dhcp_config dc;

	dhcp_config_default(&dc);
	dc.server = dc.router = n->gateway;
	dc.dns = n->dns;
	dc.pool_start = n->dhcp_start;
	dc.netmask.s_addr = ipv4_netmask(n->prefix_len);
	dc.lease_ms = d->cfg.dhcp_lease_ms;
	return dhcp_new(&dc);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static struct event *watch(struct capture *c, int fd, event_callback_fn cb, void *arg)
{
	struct event *ev = event_new(c->d->base, fd, EV_READ | EV_PERSIST, cb, arg);

	event_add(ev, NULL);
	return ev;
}

/* capns_params_of() - what the namespace's set-up needs of the network */
static void capns_params_of(const struct network *n, struct capns_params *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->idstr, sizeof(p->idstr), "%s", n->idstr);
	snprintf(p->netns, sizeof(p->netns), "%s", n->netns);
	snprintf(p->iface, sizeof(p->iface), "%s", n->iface);
	p->gateway = n->gateway;
	p->dns = n->dns;
	p->prefix_len = n->prefix_len;
	p->ipv6 = n->ipv6 != 0;
	p->prefix6 = n->prefix6;
}

static void take_af(struct capture_af *af, const struct capns_socks *s, int v6)
{
	af->tcp_fd = s->fd[v6 ? CAPNS_TCP6 : CAPNS_TCP];
	af->udp_fd = s->fd[v6 ? CAPNS_UDP6 : CAPNS_UDP];
	af->pkt_fd = s->fd[v6 ? CAPNS_PKT6 : CAPNS_PKT];
	af->inject_fd = s->fd[v6 ? CAPNS_INJECT6 : CAPNS_INJECT];
	af->reply_fd = s->fd[v6 ? CAPNS_REPLY6 : CAPNS_REPLY];
	af->tcp_port = v6 ? s->tcp_port6 : s->tcp_port;
	af->udp_port = v6 ? s->udp_port6 : s->udp_port;
}

static void take_sockets(struct capture *c, const struct capns_socks *s)
{
	take_af(&c->af[AF4], s, 0);
	take_af(&c->af[AF6], s, 1);
	c->dhcp_fd = s->fd[CAPNS_DHCP];
}

static void watch_af(struct capture *c, struct capture_af *af)
{
	if (af->tcp_fd < 0)
		return;
	af->tcp_ev = watch(c, af->tcp_fd, on_accept, af);
	af->udp_ev = watch(c, af->udp_fd, on_udp, af);
	af->pkt_ev = watch(c, af->pkt_fd, on_packet, af);
}

static void close_af(struct capture_af *af)
{
	struct event **evs[] = { &af->tcp_ev, &af->udp_ev, &af->pkt_ev };
	int *fds[] = { &af->tcp_fd, &af->udp_fd, &af->pkt_fd, &af->inject_fd, &af->reply_fd };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(evs); i++) {
		if (*evs[i])
			event_free(*evs[i]);
		*evs[i] = NULL;
	}
	for (i = 0; i < ARRAY_SIZE(fds); i++)
		close_fd(fds[i]);
}

static void init_af(struct capture *c, struct capture_af *af)
{
	memset(af, 0, sizeof(*af));
	af->c = c;
	af->tcp_fd = af->udp_fd = af->pkt_fd = af->inject_fd = af->reply_fd = -1;
}

struct capture *capture_new(struct network *n, char *err, size_t errlen)
{
	struct capture *c = xcalloc(1, sizeof(*c));
	struct capns_params p;
	struct capns_socks s;
	char p6[INET6_ADDRSTRLEN];

	c->net = n;
	c->d = n->d;
	init_af(c, &c->af[AF4]);
	init_af(c, &c->af[AF6]);
	c->dhcp_fd = -1;
	idmap_init(&c->tcp_tab);
	idmap_init(&c->udp_tab);
	idmap_init(&c->icmp_tab);
	c->dhcp = make_dhcp(n, c->d);
	if (!c->dhcp) {
		snprintf(err, errlen, "network %s: invalid DHCP settings", n->idstr);
		goto fail;
	}
	capns_params_of(n, &p);
	c->pc = privcap_open(c->d->privsep, &p, &s, err, errlen);
	if (!c->pc)
		goto fail;
	take_sockets(c, &s);
	watch_af(c, &c->af[AF4]);
	watch_af(c, &c->af[AF6]);
	c->dhcp_ev = watch(c, c->dhcp_fd, on_dhcp, c);
	if (n->ipv6 && !(c->lan6 = lan6_new(n, s.fd[CAPNS_ND6], s.fd[CAPNS_DHCP6], err, errlen)))
		goto fail;
	inet_ntop(AF_INET6, &n->prefix6, p6, sizeof(p6));
	log_info("network %s: capturing %s in namespace %s (gateway %s, TCP :%u, UDP :%u; "
		 "IPv6 %s%s)", n->idstr, n->iface, n->netns, inet_ntoa(n->gateway),
		 c->af[AF4].tcp_port, c->af[AF4].udp_port, n->ipv6 ? p6 : "off",
		 n->ipv6 ? "/64" : "");
	return c;
fail:
	capture_free(c);
	return NULL;
}

void capture_free(struct capture *c)
{
	if (!c)
		return;
	lan6_free(c->lan6);
	close_af(&c->af[AF4]);
	close_af(&c->af[AF6]);
	if (c->dhcp_ev)
		event_free(c->dhcp_ev);
	close_fd(&c->dhcp_fd);
	privcap_close(c->pc);
	dhcp_free(c->dhcp);
	idmap_free(&c->tcp_tab);
	idmap_free(&c->udp_tab);
	idmap_free(&c->icmp_tab);
	free(c);
}

int capture_lease(const struct capture *c, struct in_addr *addr)
{
	return dhcp_lease_first(c->dhcp, clock_now_ms(), addr);
}

int capture_vm_addr(const struct capture *c, struct in_addr *addr)
{
	if (capture_lease(c, addr) == 0)
		return 0;
	if (!c->vm_seen.s_addr)
		return -1;
	*addr = c->vm_seen;
	return 0;
}

const struct capture_counters *capture_counters(const struct capture *c)
{
	return &c->ctr;
}

const struct lan6 *capture_lan6(const struct capture *c)
{
	return c->lan6;
}

int capture_vm_addr6(const struct capture *c, struct in6_addr *addr)
{
	/* what the VM used beats what it was offered: a DHCPv6 client may
	 * hold a lease without configuring its address */
	if (!IN6_IS_ADDR_UNSPECIFIED(&c->vm_seen6)) {
		*addr = c->vm_seen6;
		return 0;
	}
	return lan6_lease(c->lan6, addr);
}

/* ---- port forwards: flows the consumer opens towards the VM ------------ */

static void refuse_inbound(struct session *s, struct link_flow *lf, uint64_t reason)
{
	link_flow_reset(lf, reason);
	session_wake(s);
}

/* inbound_target() - the VM's address and the forward's port: for an
 * IPv6 client the VM's IPv6 address if it has one we know (the source of
 * its last IPv6 flow, else its DHCPv6 lease), else its IPv4 one (its
 * lease, or the source of its last flow); -1 (and why) when the flow
 * cannot reach it */
static int inbound_target(struct network *n, struct link_flow *lf, struct ipport *vm,
			  const char **why)
{
	struct in_addr lease;
	struct in6_addr lease6;

	if (link_flow_kind(lf) != WIRE_DST_VM) {
		*why = "the consumer asked for a destination other than the VM";
		return -1;
	}
	if (link_flow_src(lf)->family == AF_INET6 && n->cap &&
	    capture_vm_addr6(n->cap, &lease6) == 0) {
		memset(vm, 0, sizeof(*vm));
		vm->family = AF_INET6;
		vm->port = link_flow_dst(lf)->port;
		memcpy(vm->addr, &lease6, 16);
		return 0;
	}
	if (!n->cap || capture_vm_addr(n->cap, &lease) < 0) {
		*why = "the VM has no address yet (no DHCP lease, no flow of its own)";
		return -1;
	}
	memset(vm, 0, sizeof(*vm));
	vm->family = AF_INET;
	vm->port = link_flow_dst(lf)->port;
	memcpy(vm->addr, &lease, 4);
	return 0;
}

/* inbound_source() - the address the VM sees a forward's client come from:
 * the client's own; or the gateway's in the VM's family, with a port of
 * the kernel's choosing, for a client of the other family (an IPv6 client
 * reaching the VM over IPv4) or one whose address means something else on
 * the VM's link (the consumer's loopback, a link-local address) */
static void inbound_source(const struct network *n, const struct ipport *client,
			   const struct ipport *vm, struct ipport *from)
{
	*from = *client;
	if (client->family == vm->family && capns_unicast(client) &&
	    !(client->family == AF_INET && client->addr[0] == 169 && client->addr[1] == 254))
		return;
	memset(from, 0, sizeof(*from));
	from->family = vm->family;
	if (vm->family == AF_INET6)
		capns_addr6(&n->prefix6, CAPNS_GW6_HOST, (struct in6_addr *)from->addr);
	else
		memcpy(from->addr, &n->gateway, 4);
}

int capture_inbound_retry4(struct capture *c, struct flow *f, int err)
{
	struct sockaddr_storage ss;
	struct ipport vm, from;
	struct in_addr lease;
	char a[ADDRSTRLEN], b[ADDRSTRLEN], v4[ADDRSTRLEN];
	int fd;

	if (f->kind != WIRE_DST_VM || f->proto != WIRE_PROTO_TCP || f->vm.family != AF_INET6 ||
	    f->state != FLOW_PENDING || capture_vm_addr(c, &lease) < 0)
		return -1;
	memset(&vm, 0, sizeof(vm));
	vm.family = AF_INET;
	vm.port = f->vm.port;
	memcpy(vm.addr, &lease, 4);
	inbound_source(c->net, &f->remote, &vm, &from);
	fd = ns_socket(c, SOCK_STREAM, &from, NULL);
	if (fd < 0)
		return -1;
	log_debug("network %s: forward from %s to the VM's %s failed (%s): trying %s",
		  c->net->idstr, ipport_fmt(&f->remote, a), ipport_fmt(&f->vm, b), strerror(err),
		  ipport_fmt(&vm, v4));
	flow_drop_socket(f);
	f->vm = vm;
	if (flow_connect_tcp(f, fd, (struct sockaddr *)&ss, ipport_to_sa(&vm, &ss),
			     c->d->cfg.connect_timeout_ms) < 0)
		return -1; /* the flow fails with this attempt's error */
	return 0;
}

/* capture_inbound_open() - a forward's connection or UDP client: connect
 * to the VM inside the capture namespace from the client's own address,
 * so the VM sees who is really talking to it.  The VM's answers to that
 * address come back to this socket: TPROXY finds it as an established
 * (or connected) socket before any listener. */
void capture_inbound_open(struct session *s, struct link_flow *lf)
{
	struct network *n = network_for_open(s, lf);
	struct sockaddr_storage ss;
	const char *why = NULL;
	char a[ADDRSTRLEN], b[ADDRSTRLEN];
	struct ipport vm, from;
	struct flow *f;
	int fd;

	if (!n)
		return;
	if (link_flow_proto(lf) == WIRE_PROTO_ICMP) {
		/* pings go out from the VM, never in */
		log_info("network %s: an ICMP flow from the consumer towards the VM: refused",
			 n->idstr);
		refuse_inbound(s, lf, RST_REFUSED);
		return;
	}
	if (inbound_target(n, lf, &vm, &why) < 0) {
		log_info("network %s: forward from %s refused: %s", n->idstr,
			 ipport_fmt(link_flow_src(lf), a), why);
		refuse_inbound(s, lf, link_flow_kind(lf) != WIRE_DST_VM ? RST_REFUSED : RST_UNREACHABLE);
		return;
	}
	if (!daemon_flow_room(s->d)) {
		refuse_inbound(s, lf, RST_RESOURCE);
		return;
	}
	inbound_source(n, link_flow_src(lf), &vm, &from);
	fd = link_flow_proto(lf) == WIRE_PROTO_UDP ? ns_socket(n->cap, SOCK_DGRAM, &from, &vm)
					 : ns_socket(n->cap, SOCK_STREAM, &from, NULL);
	if (fd < 0) {
		ns_socket_failed(n->cap, "network %s: forward from %s to %s: transparent socket", n->idstr,
				 ipport_fmt(link_flow_src(lf), a), ipport_fmt(&vm, b));
		refuse_inbound(s, lf, RST_RESOURCE);
		return;
	}
	n->cap->ctr.inbound++;
	f = flow_new(n, s, lf, link_flow_proto(lf), WIRE_DST_VM, &vm, link_flow_src(lf));
	log_debug("network %s: forward %s %s -> VM %s", n->idstr,
		  wire_proto_name(link_flow_proto(lf)), ipport_fmt(link_flow_src(lf), a),
		  ipport_fmt(&vm, b));
	if (link_flow_proto(lf) == WIRE_PROTO_UDP) {
		flow_attach_udp(f, fd);
		tab_add(&n->cap->udp_tab, f);
		return;
	}
	if (flow_connect_tcp(f, fd, (struct sockaddr *)&ss, ipport_to_sa(&vm, &ss),
			     s->d->cfg.connect_timeout_ms) < 0)
		egress_failed(f, flow_reset_reason(errno), errno);
}
