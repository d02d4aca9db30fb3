/* egress.c: policy and real sockets on the consumer.
 *
 * The provider names a destination either by address or by what it is in
 * the VM's network (its DNS server, its gateway).  The DNS service maps
 * to the consumer's own resolver (resolv.conf), reached without the
 * policy: it is the one service the VM is always meant to use.  The
 * gateway maps to the consumer host's loopback, which the policy denies
 * unless an operator allows it.
 *
 * The policy (policy.c) is fed here: the host's addresses and routes from
 * netlink dumps, read again when a netlink event says they changed, and
 * the public addresses relays and the router report. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/rtnetlink.h>

#include <event2/event.h>

#include "capture.h"
#include "daemon.h"
#include "egress.h"
#include "flow.h"
#include "link.h"
#include "log.h"
#include "osutil.h"
#include "netlink.h"
#include "network.h"
#include "peer.h"
#include "policy.h"
#include "portmap.h"
#include "resolv.h"
#include "session.h"
#include "util.h"

void egress_load_resolvers(struct daemon *d)
{
	char err[256];
	int n = resolv_nameservers(d->cfg.resolv_conf, d->resolver, ARRAY_SIZE(d->resolver), err,
				   sizeof(err));

	if (n < 0) {
		log_warnx("%s", err);
		n = 0;
	}
	if (n == 0)
		log_warnx("%s: no nameserver: the VM's DNS queries will be refused", d->cfg.resolv_conf);
	d->nresolver = (size_t)n;
}

/* A burst of netlink events (a VPN coming up adds dozens of routes) is
 * read once, this long after its first event. */
#define EGRESS_COALESCE_MS	50
#define EGRESS_RETRY_MS		1000	/* after a dump failed */
#define EGRESS_POLL_MS		5000	/* only without a netlink socket */
#define EGRESS_MONITOR_BATCH	64	/* datagrams read per wake-up */

_Static_assert(NL_ROUTE_NEXTHOPS_MAX == POLICY_NEXTHOPS_MAX, "nexthops kept");

/* How the policy hears of the host's changes. */
struct egress_watch {
	struct daemon *d;
	int fd;			/* netlink monitor; -1 if it could not be opened */
	struct event *ev_read;
	struct event *ev_refresh;	/* the coalescing (or retry) timer */
	int have_routes;	/* a route dump succeeded once */
	uint64_t digest;	/* of the last addresses and routes read */
};

/* fnv1a() - FNV-1a of len bytes, continuing h */
static uint64_t fnv1a(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

/* refresh_addresses() - the host's addresses into the policy; the previous
 * set is kept when they cannot be read */
static int refresh_addresses(struct daemon *d, uint64_t *digest, size_t *count)
{
	struct nl_ifaddr *a;
	size_t n, i;

	if (nl_addr_list(&a, &n) < 0) {
		log_warn("egress policy: cannot list the host's addresses (keeping the previous set)");
		return -1;
	}
	policy_clear_local(d->policy);
	for (i = 0; i < n; i++) {
		struct cidr c = { .family = a[i].family, .prefix = a[i].prefixlen };

		memcpy(c.addr, a[i].addr, 16);
		policy_add_local(d->policy, &c, a[i].ifname);
	}
	*digest = fnv1a(*digest, a, n * sizeof(*a));
	*count = n;
	free(a);
	return 0;
}

/* route_type() - the kernel's route type as the policy's */
static enum policy_route_type route_type(unsigned char rtn)
{
	switch (rtn) {
	case RTN_UNREACHABLE:
		return POLICY_ROUTE_UNREACHABLE;
	case RTN_BLACKHOLE:
		return POLICY_ROUTE_BLACKHOLE;
	case RTN_PROHIBIT:
		return POLICY_ROUTE_PROHIBIT;
	default:
		return POLICY_ROUTE_UNICAST;
	}
}

/* route_from_nl() - a dumped route as the policy takes it */
static void route_from_nl(struct policy_route *pr, const struct nl_route *r)
{
	unsigned i;

	memset(pr, 0, sizeof(*pr));
	pr->dst.family = r->family;
	memcpy(pr->dst.addr, r->dst, sizeof(pr->dst.addr));
	pr->dst.prefix = r->dst_len;
	pr->type = route_type(r->type);
	pr->table = r->table;
	pr->metric = r->metric;
	pr->nh_id = r->nh_id;
	pr->nnh = r->nnh;
	for (i = 0; i < r->nnh && i < POLICY_NEXTHOPS_MAX; i++) {
		pr->nh[i].ifindex = r->nh[i].ifindex;
		memcpy(pr->nh[i].ifname, r->nh[i].ifname, sizeof(pr->nh[i].ifname));
		pr->nh[i].gw_family = r->nh[i].gw_family;
		memcpy(pr->nh[i].gw, r->nh[i].gw, sizeof(pr->nh[i].gw));
	}
}

/* refresh_routes() - the host's routes into the policy.  When they cannot
 * be read, the previous set is kept; if there never was one, or there are
 * too many to tell networks apart, the policy denies what no rule allows. */
static int refresh_routes(struct egress_watch *w, uint64_t *digest, size_t *count)
{
	struct policy_route *pr;
	struct nl_route *r;
	size_t n, i;
	char why[128];

	if (nl_route_list(&r, &n, POLICY_ROUTES_MAX) < 0) {
		int e = errno;

		if (e == EOVERFLOW)
			snprintf(why, sizeof(why), "more than %d routes", POLICY_ROUTES_MAX);
		else
			snprintf(why, sizeof(why), "cannot read them: %s", strerror(e));
		log_warnx("egress policy: the host's routes: %s; %s", why,
			  w->have_routes && e != EOVERFLOW ? "keeping the previous set"
							   : "denying what no allow rule allows");
		if (!w->have_routes || e == EOVERFLOW)
			policy_routes_unknown(w->d->policy, why);
		if (e == EOVERFLOW)
			w->have_routes = 0;
		return e == EOVERFLOW ? 0 : -1;
	}
	pr = xcalloc(n ? n : 1, sizeof(*pr));
	for (i = 0; i < n; i++)
		route_from_nl(&pr[i], &r[i]);
	policy_set_routes(w->d->policy, pr, n);
	w->have_routes = 1;
	*digest = fnv1a(*digest, r, n * sizeof(*r));
	*count = n;
	free(pr);
	free(r);
	return 0;
}

/* refresh_host() - addresses and routes read again; one log line when they
 * differ from the last read.  -1 when a dump failed (to be retried). */
static int refresh_host(struct egress_watch *w)
{
	uint64_t digest = 0xcbf29ce484222325ULL;
	size_t naddr = 0, nroute = 0;
	int rc = 0;

	if (refresh_addresses(w->d, &digest, &naddr) < 0)
		rc = -1;
	if (refresh_routes(w, &digest, &nroute) < 0)
		rc = -1;
	if (rc == 0 && digest != w->digest)
		log_info("egress policy: the host has %zu addresses and %zu routes now", naddr,
			 nroute);
	if (rc == 0)
		w->digest = digest;
	return rc;
}

static void arm_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = timeval_from_ms(ms);

	event_add(ev, &tv);
}

/* on_refresh() - the timer: read, and read again later if that failed
 * (or, without netlink events, every EGRESS_POLL_MS) */
static void on_refresh(evutil_socket_t fd, short what, void *arg)
{
	struct egress_watch *w = arg;

	if (refresh_host(w) < 0)
		arm_ms(w->ev_refresh, EGRESS_RETRY_MS);
	else if (w->fd < 0)
		arm_ms(w->ev_refresh, EGRESS_POLL_MS);
}

/* on_netlink() - something changed: read it all EGRESS_COALESCE_MS from
 * the first event of a burst.  Events lost (ENOBUFS) mean the same. */
static void on_netlink(evutil_socket_t fd, short what, void *arg)
{
	struct egress_watch *w = arg;
	unsigned events = 0;

	if (nl_monitor_read(fd, EGRESS_MONITOR_BATCH, &events) < 0) {
		if (errno == ENOBUFS)
			log_debug("egress policy: netlink events lost; reading everything again");
		else
			log_warn("egress policy: reading netlink events");
		events = 1;
	}
	if (events && !evtimer_pending(w->ev_refresh, NULL))
		arm_ms(w->ev_refresh, EGRESS_COALESCE_MS);
}

/* on_router_public() - the router reported its external address along with
 * a mapping: that is where the consumer's forwarded services are reached */
static void on_router_public(void *arg, const char *addr, const char *reporter)
{
	struct ipport a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, addr, a.addr) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, addr, a.addr) == 1)
		a.family = AF_INET6;
	else
		return;
	egress_note_public(arg, &a, reporter);
}

void egress_watch_start(struct daemon *d)
{
	struct egress_watch *w = xcalloc(1, sizeof(*w));

	w->d = d;
	/* listening before the first dump: a change in between is not lost */
	w->fd = nl_monitor_open();
	w->ev_refresh = evtimer_new(d->base, on_refresh, w);
	if (w->fd < 0) {
		log_warn("egress policy: no netlink events; reading addresses and routes every "
			 "%d ms", EGRESS_POLL_MS);
	} else {
		w->ev_read = event_new(d->base, w->fd, EV_READ | EV_PERSIST, on_netlink, w);
		event_add(w->ev_read, NULL);
	}
	d->egress_watch = w;
	portmap_set_public_hook(on_router_public, d);
	on_refresh(-1, 0, w);
}

void egress_watch_stop(struct daemon *d)
{
	struct egress_watch *w = d->egress_watch;

	if (!w)
		return;
	portmap_set_public_hook(NULL, NULL);
	if (w->ev_read)
		event_free(w->ev_read);
	if (w->ev_refresh)
		event_free(w->ev_refresh);
	if (w->fd >= 0)
		close(w->fd);
	free(w);
	d->egress_watch = NULL;
}

int egress_explain(struct daemon *d, uint8_t proto, const struct ipport *dst, int any_port,
		   struct policy_verdict *v)
{
	return policy_decide(d->policy, proto, dst, any_port, v);
}

/* map_destination() - where the flow really goes; 1 if the policy
 * applies to it, 0 if not (the DNS service), -1 if it cannot go anywhere */
static int map_destination(struct daemon *d, const struct link_flow *lf, struct ipport *dst)
{
	*dst = *link_flow_dst(lf);
	switch (link_flow_kind(lf)) {
	case WIRE_DST_DNS:
		if (!d->nresolver)
			return -1;
		*dst = d->resolver[0];
		return 0;
	case WIRE_DST_GATEWAY:
		memset(dst->addr, 0, sizeof(dst->addr));
		if (dst->family == AF_INET6) {
			dst->addr[15] = 1;
		} else {
			dst->family = AF_INET;
			dst->addr[0] = 127;
			dst->addr[3] = 1;
		}
		return 1;
	default:
		return 1;
	}
}

static void refuse(struct session *s, struct link_flow *lf, uint64_t reason)
{
	link_flow_reset(lf, reason);
	session_wake(s);
}

/* refusal() - how a denied flow ends for the VM: where the consumer has no
 * way there (no route, or one that rejects), as unreachable, as the VM
 * would see it on a real network; otherwise refused by policy */
static uint64_t refusal(const struct policy_verdict *v)
{
	if (v->basis == POLICY_BY_NO_ROUTE ||
	    (v->basis == POLICY_BY_ROUTE && v->route && v->route->type != POLICY_ROUTE_UNICAST))
		return RST_UNREACHABLE;
	return RST_POLICY;
}

/* connect_dgram() - the flow's datagram socket fd, connected to its
 * destination; closed on failure, errno kept */
static int connect_dgram(struct flow *f, int fd, const struct sockaddr *to, socklen_t tolen)
{
	if (connect(fd, to, tolen) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	flow_attach_udp(f, fd);
	return 0;
}

static int open_udp(struct flow *f, const struct sockaddr *to, socklen_t tolen)
{
	int fd = socket(to->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	return fd < 0 ? -1 : connect_dgram(f, fd, to, tolen);
}

/* ping_refused() - say once what stops ping sockets here: the range of
 * groups net.ipv4.ping_group_range allows them (per network namespace; a
 * new one starts with none), which must include the daemon's group */
static void ping_refused(struct daemon *d, int err)
{
	char range[64] = "?";
	unsigned gid = (unsigned)getegid();
	FILE *fp;

	if (d->ctr.pings_refused_sysctl++)
		return;
	if ((fp = fopen("/proc/sys/net/ipv4/ping_group_range", "r"))) {
		if (fgets(range, sizeof(range), fp))
			range[strcspn(range, "\n")] = '\0';
		fclose(fp);
	}
	for (char *t = range; *t; t++)
		if (*t == '\t')
			*t = ' ';
	log_warnx("egress: the VMs' pings are refused: no ICMP socket (%s): "
		  "net.ipv4.ping_group_range is \"%s\" and this daemon's group is %u "
		  "(sysctl -w net.ipv4.ping_group_range=\"%u %u\" allows it)",
		  strerror(err), range, gid, gid, gid);
}

/* open_ping() - an ICMP flow: an unprivileged ICMP socket (SOCK_DGRAM,
 * IPPROTO_ICMP; the kernel gives it an identifier of its own and fills in
 * the checksum), connected to the destination (which does not filter what
 * it receives: flow.c drops replies from anywhere else) */
static int open_ping(struct flow *f, const struct sockaddr *to, socklen_t tolen)
{
	int v6 = to->sa_family == AF_INET6, fd, one = 1;

	if (to->sa_family != AF_INET && !v6) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	/* one sysctl, net.ipv4.ping_group_range, governs both families */
	fd = socket(to->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	/* the errors routers send about the pings (destination unreachable)
	 * are queued with who sent them: flow.c passes them on to the VM */
	if (fd >= 0 && (v6 ? setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one))
			   : setsockopt(fd, SOL_IP, IP_RECVERR, &one, sizeof(one))) < 0)
		log_debug("egress: ping socket error queue: %s", strerror(errno));
	if (fd < 0) {
		int e = errno;

		if (e == EACCES || e == EPERM)
			ping_refused(f->net->d, e);
		errno = e;
		return -1;
	}
	return connect_dgram(f, fd, to, tolen);
}

void egress_open(struct session *s, struct link_flow *lf)
{
	struct daemon *d = s->d;
	char a[ADDRSTRLEN], b[ADDRSTRLEN];
	struct policy_verdict v;
	struct sockaddr_storage ss;
	struct network *n = network_for_open(s, lf);
	struct ipport dst;
	struct flow *f;
	socklen_t len;
	int apply;

	if (!n)
		return;
	if (!daemon_flow_room(d)) {
		log_info("network %s: %s %s -> %s refused: no file descriptor left", n->idstr,
			 wire_proto_name(link_flow_proto(lf)), ipport_fmt(link_flow_src(lf), a),
			 ipport_fmt(link_flow_dst(lf), b));
		refuse(s, lf, RST_RESOURCE);
		return;
	}
	if (link_flow_kind(lf) == WIRE_DST_VM) {
		/* only a consumer opens flows towards the VM */
		log_warnx("peer %s: a flow towards a VM, which only a consumer may open: refused",
			  s->peer->name);
		refuse(s, lf, RST_REFUSED);
		return;
	}
	if (link_flow_proto(lf) == WIRE_PROTO_ICMP && link_flow_kind(lf) != WIRE_DST_ADDR) {
		/* the provider answers its own gateway's and DNS address's pings */
		refuse(s, lf, RST_REFUSED);
		return;
	}
	apply = map_destination(d, lf, &dst);
	if (apply < 0) {
		log_info("network %s: %s %s -> DNS refused: no nameserver in %s", n->idstr,
			 wire_proto_name(link_flow_proto(lf)), ipport_fmt(link_flow_src(lf), a),
			 d->cfg.resolv_conf);
		refuse(s, lf, RST_UNREACHABLE);
		return;
	}
	/* an echo has no port: the policy looks at the address (rules naming
	 * ports or another protocol do not apply) */
	if (apply && !policy_decide(d->policy, link_flow_proto(lf), &dst,
				    link_flow_proto(lf) == WIRE_PROTO_ICMP, &v)) {
		d->ctr.flows_refused_policy++;
		log_info("network %s: %s %s -> %s refused by policy: %s", n->idstr,
			 wire_proto_name(link_flow_proto(lf)), ipport_fmt(link_flow_src(lf), a),
			 ipport_fmt(link_flow_dst(lf), b), v.reason);
		refuse(s, lf, refusal(&v));
		return;
	}
	f = flow_new(n, s, lf, link_flow_proto(lf), link_flow_kind(lf), link_flow_src(lf), &dst);
	len = ipport_to_sa(&dst, &ss);
	log_debug("network %s: %s %s -> %s", n->idstr, wire_proto_name(link_flow_proto(lf)),
		  ipport_fmt(link_flow_src(lf), a), ipport_fmt(&dst, b));
	if (link_flow_proto(lf) == WIRE_PROTO_UDP) {
		if (open_udp(f, (struct sockaddr *)&ss, len) < 0)
			egress_failed(f, flow_reset_reason(errno), errno);
		return;
	}
	if (link_flow_proto(lf) == WIRE_PROTO_ICMP) {
		/* only a missing route tells the VM "unreachable"; a refused
		 * ICMP socket (ping_group_range) or no descriptor left just
		 * ends the flow (flow_abort) */
		if (open_ping(f, (struct sockaddr *)&ss, len) < 0)
			egress_failed(f, flow_reset_reason(errno), errno);
		return;
	}
	if (flow_connect_tcp(f, -1, (struct sockaddr *)&ss, len, d->cfg.connect_timeout_ms) < 0)
		egress_failed(f, flow_reset_reason(errno), errno);
}

void egress_connected(struct flow *f)
{
	flow_connected(f);
}

void egress_failed(struct flow *f, uint64_t reason, int err)
{
	char a[ADDRSTRLEN], b[ADDRSTRLEN];

	if (f->kind == WIRE_DST_VM && f->net->cap && capture_inbound_retry4(f->net->cap, f, err) == 0)
		return;
	f->net->d->ctr.flows_refused_remote++;
	if (f->kind == WIRE_DST_VM)
		log_info("network %s: forward from %s to the VM's %s %s failed: %s", f->net->idstr,
			 ipport_fmt(&f->remote, b), wire_proto_name(f->proto), ipport_fmt(&f->vm, a),
			 strerror(err));
	else
		log_info("network %s: %s %s -> %s failed: %s", f->net->idstr, wire_proto_name(f->proto),
			 ipport_fmt(&f->vm, a), ipport_fmt(&f->remote, b), strerror(err));
	flow_abort(f, reason);
}

void egress_note_public(struct daemon *d, const struct ipport *addr, const char *source)
{
	char a[ADDRSTRLEN];

	if (d->role != ROLE_CONSUMER || !d->policy || !addr)
		return;
	if (policy_note_public(d->policy, addr, source) != 1)
		return;
	inet_ntop(addr->family, addr->addr, a, sizeof(a));
	log_info("egress policy: %s is a public address of this consumer (reported by %s): "
		 "denied to the VMs", a, source ? source : "?");
}
