/* forward.c: port forwards on the consumer.
 *
 * TCP: a listening socket per rule.  An accepted connection is held, not
 * read, while a flow of kind WIRE_DST_VM is opened towards the provider;
 * when the provider has connected to the VM (OPENED) the socket joins the
 * flow and bytes move; when it could not (RESET), the client gets a reset.
 * The client's own address travels in the OPEN, and the provider connects
 * from it, so the VM sees who really connected.
 *
 * UDP: one socket per rule, shared by the rule's flows: one flow per
 * client address, replies sent back with sendto().  A client's flow ends
 * after udp-idle-timeout-ms like any UDP flow.
 *
 * A rule outlives its network and its peer's link: while either is missing
 * the rule still listens, and connections are refused with a reset (UDP
 * datagrams are dropped), counted in `refused`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "control.h"
#include "daemon.h"
#include "flow.h"
#include "forward.h"
#include "link.h"
#include "log.h"
#include "osutil.h"
#include "network.h"
#include "peer.h"
#include "portmap.h"
#include "session.h"
#include "state.h"
#include "util.h"

#define LISTEN_RETRY_MS 5000         /* a port that could not be opened */
#define REMOVE_WAIT_MS 500           /* forward remove: the router's answer */

static const char *const map_names[] = {
	[CONFIG_MAP_NONE] = "none", [CONFIG_MAP_UPNP] = "upnp", [CONFIG_MAP_NATPMP] = "natpmp",
	[CONFIG_MAP_PCP] = "pcp", [CONFIG_MAP_AUTO] = "auto",
};

const char *forward_map_name(int map)
{
	return map >= 0 && (size_t)map < ARRAY_SIZE(map_names) ? map_names[map] : "?";
}

int forward_map_parse(const char *s)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(map_names); i++)
		if (strcmp(s, map_names[i]) == 0)
			return (int)i;
	return -1;
}

struct forward *forward_find(struct daemon *d, uint8_t proto, uint16_t external_port)
{
	struct forward *fw;

	TAILQ_FOREACH(fw, &d->forwards, entry)
		if (fw->proto == proto && fw->external_port == external_port)
			return fw;
	return NULL;
}

/* link_for() - the session that can carry a new flow of the rule, or NULL
 * (its network or the network's peer is gone, or the link is down) */
static struct session *link_for(const struct forward *fw, struct network **np)
{
	struct network *n = network_find(fw->d, &fw->net);
	struct peer *p = n ? peer_find(fw->d, n->peer) : NULL;

	*np = n;
	return p && p->session && p->session->link ? p->session : NULL;
}

/* ---- TCP ------------------------------------------------------------- */

/* client_addr() - the client as the OPEN carries it: an IPv4 client of the
 * dual-stack socket arrives as ::ffff:a.b.c.d and is made IPv4 again, so
 * the provider can connect from it */
static void client_addr(struct ipport *ip, const struct sockaddr *sa)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	ipport_from_sa(ip, sa);
	if (ip->family == AF_INET6 && memcmp(ip->addr, v4mapped, 12) == 0) {
		ip->family = AF_INET;
		memmove(ip->addr, ip->addr + 12, 4);
		memset(ip->addr + 4, 0, 12);
	}
}

static void tcp_accept_one(struct forward *fw, int fd, const struct sockaddr *from)
{
	struct ipport client, vm = { .family = AF_INET, .port = fw->vm_port };
	struct network *n;
	struct session *s = link_for(fw, &n);
	struct link_flow *lf;
	struct flow *f;
	char a[ADDRSTRLEN];

	client_addr(&client, from);
	vm.family = client.family; /* OPEN wants one family; kind VM ignores the address */
	if (!s || !link_can_open(s->link, &fw->net) || !daemon_flow_room(fw->d)) {
		fw->refused++;
		log_info("forward tcp %u: %s refused: %s", fw->external_port,
			 ipport_fmt(&client, a), !n ? "its network is gone" :
			 !s ? "the link to the provider is down" : "a flow limit (or the descriptors) reached");
		sock_rst_on_close(fd);
		close(fd);
		return;
	}
	fw->connections++;
	lf = link_flow_open(s->link, &fw->net, WIRE_PROTO_TCP, WIRE_DST_VM, &client, &vm);
	f = flow_new(n, s, lf, WIRE_PROTO_TCP, WIRE_DST_VM, &vm, &client);
	f->state = FLOW_PENDING;
	f->held_fd = fd; /* not read until the VM's side is connected */
	f->fwd = fw;
	TAILQ_INSERT_TAIL(&fw->flows, f, fwd_entry);
	log_debug("forward tcp %u: %s -> VM port %u", fw->external_port, ipport_fmt(&client, a),
		  fw->vm_port);
	session_wake(s);
}

static void on_tcp_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct forward *fw = arg;
	int i;

	for (i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0 && (errno == EMFILE || errno == ENFILE))
			daemon_pause_event(fw->d, fw->ev, 100);
		if (fd < 0)
			break;
		tcp_accept_one(fw, fd, (struct sockaddr *)&ss);
	}
}

void forward_flow_accepted(struct flow *f)
{
	int fd = f->held_fd;

	f->held_fd = -1;
	if (flow_attach_tcp(f, fd) < 0) {
		flow_abort(f, RST_RESOURCE);
		return;
	}
	flow_pump(f); /* the VM may have spoken first (a banner) */
}

/* ---- UDP ------------------------------------------------------------- */

static struct flow *udp_client(struct forward *fw, const struct ipport *client)
{
	struct flow *f;

	TAILQ_FOREACH(f, &fw->flows, fwd_entry)
		if (ipport_eq(&f->remote, client))
			return f;
	return NULL;
}

static struct flow *udp_new_client(struct forward *fw, const struct ipport *client)
{
	/* OPEN wants one family; kind VM ignores the address */
	struct ipport vm = { .family = client->family, .port = fw->vm_port };
	struct network *n;
	struct session *s = link_for(fw, &n);
	struct link_flow *lf;
	struct flow *f;

	if (!s || !link_can_open(s->link, &fw->net) || !daemon_flow_room(fw->d)) {
		fw->refused++;
		return NULL;
	}
	fw->connections++;
	lf = link_flow_open(s->link, &fw->net, WIRE_PROTO_UDP, WIRE_DST_VM, client, &vm);
	f = flow_new(n, s, lf, WIRE_PROTO_UDP, WIRE_DST_VM, &vm, client);
	f->fwd = fw;
	f->udp_shared = 1;
	f->udp_fd = fw->fd;
	f->state = FLOW_OPEN;
	TAILQ_INSERT_TAIL(&fw->flows, f, fwd_entry);
	return f;
}

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
	struct forward *fw = arg;
	uint8_t buf[65536];
	int i;

	for (i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &len);
		struct ipport client;
		struct flow *f;

		if (n < 0)
			break;
		client_addr(&client, (struct sockaddr *)&ss);
		f = udp_client(fw, &client);
		if (!f && !(f = udp_new_client(fw, &client)))
			continue;
		flow_udp_send(f, buf, (size_t)n);
	}
}

/* ---- the socket -------------------------------------------------------- */

/* bind_any() - a socket on the external port of every address: IPv6 and
 * IPv4 in one (IPV6_V6ONLY off), or IPv4 alone where the host has no IPv6 */
static int bind_any(int type, uint16_t port)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				     .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, off = 0, fd, e;

	fd = socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == 0 &&
	    bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0)
		return fd;
	e = errno;
	if (fd >= 0)
		close(fd);
	if (fd >= 0 && e != EADDRNOTAVAIL) {
		errno = e; /* in use, or not permitted: the same for IPv4 */
		return -1;
	}
	fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
			bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* open_socket() - listen (TCP) or bind (UDP) on the external port */
static int open_socket(struct forward *fw)
{
	int type = fw->proto == WIRE_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM;
	int fd = bind_any(type, fw->external_port);

	if (fd < 0 || (type == SOCK_STREAM && listen(fd, 128) < 0)) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		if (e == EADDRINUSE)
			snprintf(fw->error, sizeof(fw->error), "%s port %u is in use on this host",
				 wire_proto_name(fw->proto), fw->external_port);
		else if (e == EACCES)
			snprintf(fw->error, sizeof(fw->error), "%s port %u: permission denied "
				 "(a port below 1024 needs CAP_NET_BIND_SERVICE)",
				 wire_proto_name(fw->proto), fw->external_port);
		else
			snprintf(fw->error, sizeof(fw->error), "%s port %u: %s", wire_proto_name(fw->proto),
				 fw->external_port, strerror(e));
		errno = e;
		return -1;
	}
	fw->fd = fd;
	fw->error[0] = '\0';
	fw->ev = event_new(fw->d->base, fd, EV_READ | EV_PERSIST,
			   fw->proto == WIRE_PROTO_UDP ? on_udp : on_tcp_accept, fw);
	event_add(fw->ev, NULL);
	return 0;
}

static void close_socket(struct forward *fw)
{
	if (fw->ev)
		event_free(fw->ev);
	fw->ev = NULL;
	if (fw->fd >= 0)
		close(fw->fd);
	fw->fd = -1;
}

void forward_housekeeping(struct daemon *d, uint64_t now_ms)
{
	struct forward *fw;

	TAILQ_FOREACH(fw, &d->forwards, entry) {
		if (fw->fd >= 0 || now_ms < fw->retry_at_ms)
			continue;
		fw->retry_at_ms = now_ms + LISTEN_RETRY_MS;
		if (open_socket(fw) == 0)
			log_info("forward %s %u: listening now", wire_proto_name(fw->proto),
				 fw->external_port);
	}
}

/* ---- the router mapping ------------------------------------------------ */

json_t *forward_added_json(const struct forward *fw)
{
	return json_pack("{s:s, s:s, s:i, s:o}", "network", fw->netstr, "proto",
			 wire_proto_name(fw->proto), "external_port", fw->external_port, "mapping",
			 fw->pm ? portmap_json(fw->pm) : json_null());
}

/* on_mapping() - a mapping attempt ended.  A forward.add waiting for it is
 * answered now; a rule whose mapping the router refused is taken back at
 * once (portmap.h allows freeing the portmap from its callback), so a
 * request behind the add never finds it.  The pending reply is detached
 * before it is completed: nothing can complete it a second time. */
static void on_mapping(struct portmap *pm, void *arg)
{
	struct forward *fw = arg;
	struct ctl_pending *p = fw->pending;
	struct ctl_error err = { 0 };

	if (!p)
		return;
	fw->pending = NULL;
	if (portmap_mapped(pm)) {
		daemon_save_state(fw->d);
		ctl_pending_done(p, forward_added_json(fw), NULL);
		return;
	}
	ctl_fail(&err, "mapping_failed", "%s %u: the router mapping failed (%s): %s; the forward "
		 "was not added", wire_proto_name(fw->proto), fw->external_port, forward_map_name(fw->map),
		 portmap_last_error(pm) ? portmap_last_error(pm) : "no answer");
	ctl_pending_done(p, NULL, &err);
	forward_remove(fw);
}

/* ---- rules ------------------------------------------------------------- */

struct forward *forward_add(struct daemon *d, const struct netid *net, uint8_t proto,
			    uint16_t external_port, uint16_t vm_port, int map, int from_config,
			    int must_listen, const char **errcode, char *err, size_t errlen)
{
	struct forward *fw = forward_find(d, proto, external_port);

	if (fw) {
		*errcode = "exists";
		snprintf(err, errlen, "%s port %u is forwarded already (to port %u of network %s)",
			 wire_proto_name(proto), external_port, fw->vm_port, fw->netstr);
		return NULL;
	}
	fw = xcalloc(1, sizeof(*fw));
	fw->d = d;
	fw->net = *net;
	netid_fmt(net, fw->netstr);
	fw->proto = proto;
	fw->external_port = external_port;
	fw->vm_port = vm_port;
	fw->map = map;
	fw->from_config = from_config;
	fw->fd = -1;
	TAILQ_INIT(&fw->flows);
	if (open_socket(fw) < 0) {
		if (must_listen) {
			*errcode = errno == EADDRINUSE ? "in_use" : "internal";
			snprintf(err, errlen, "%s", fw->error);
			free(fw);
			return NULL;
		}
		log_warnx("forward %s %u: %s; retrying every %u ms", wire_proto_name(proto), external_port,
			  fw->error, LISTEN_RETRY_MS);
		fw->retry_at_ms = clock_now_ms() + LISTEN_RETRY_MS;
	}
	TAILQ_INSERT_TAIL(&d->forwards, fw, entry);
	if (map != CONFIG_MAP_NONE)
		fw->pm = portmap_new(d->base, map, proto, external_port, d->cfg.port_map_lease_ms, on_mapping,
				     fw);
	log_info("forward %s %u -> VM port %u of network %s%s%s", wire_proto_name(proto), external_port,
		 vm_port, fw->netstr, map != CONFIG_MAP_NONE ? ", router mapping by " : "",
		 map != CONFIG_MAP_NONE ? forward_map_name(map) : "");
	return fw;
}

void forward_add_config(struct daemon *d)
{
	const char *code;
	char err[512];
	size_t i;

	for (i = 0; i < d->cfg.nforward; i++) {
		const struct config_forward *cf = &d->cfg.forward[i];

		if (!forward_add(d, &cf->net, cf->proto, cf->external_port, cf->vm_port, cf->map, 1, 0,
				 &code, err, sizeof(err)))
			log_warnx("%s:%d: %s", d->cfg.path, cf->line, err);
	}
}

/* forward_flow_gone() - from flow.c's destroy(): the flow leaves the rule */
void forward_flow_gone(struct flow *f)
{
	TAILQ_REMOVE(&f->fwd->flows, f, fwd_entry);
	f->fwd = NULL;
	if (f->udp_shared)
		f->udp_fd = -1; /* the rule's socket, not the flow's */
}

/* forward_remove() - the rule goes: its UDP flows end with its socket; its
 * TCP connections have sockets of their own and run to their end */
void forward_remove(struct forward *fw)
{
	struct flow *f;

	if (fw->pending) {
		struct ctl_error err = { "not_found", "the forward was removed meanwhile" };
		struct ctl_pending *p = fw->pending;

		fw->pending = NULL;
		ctl_pending_done(p, NULL, &err);
	}
	while ((f = TAILQ_FIRST(&fw->flows))) {
		if (f->udp_shared || f->state == FLOW_PENDING)
			flow_abort(f, RST_ABORTED); /* calls forward_flow_gone() */
		else
			forward_flow_gone(f);
	}
	close_socket(fw);
	/* deletes the router's mapping; a running daemon waits for the
	 * answer only briefly (a LAN router answers in milliseconds), the
	 * event loop being blocked meanwhile */
	if (fw->d->quitting)
		portmap_free(fw->pm);
	else
		portmap_free_within(fw->pm, REMOVE_WAIT_MS);
	TAILQ_REMOVE(&fw->d->forwards, fw, entry);
	log_info("forward %s %u removed", wire_proto_name(fw->proto), fw->external_port);
	free(fw);
}

void forward_free_all(struct daemon *d)
{
	struct forward *fw;

	while ((fw = TAILQ_FIRST(&d->forwards)))
		forward_remove(fw);
}

/* inactive_reason() - why traffic cannot reach the VM now, or NULL */
static const char *inactive_reason(const struct forward *fw)
{
	struct network *n;

	if (fw->fd < 0)
		return "not listening";
	if (link_for(fw, &n))
		return NULL;
	return n ? "the link to the network's peer is down" : "its network is gone";
}

json_t *forward_json(const struct forward *fw)
{
	const char *why = inactive_reason(fw);
	const struct flow *f;
	json_int_t nflows = 0;

	TAILQ_FOREACH(f, &fw->flows, fwd_entry)
		nflows++;
	return json_pack("{s:s, s:s, s:i, s:i, s:s, s:s, s:b, s:s?, s:o, s:b, s:s?, s:I, s:I, s:I}",
			 "network", fw->netstr, "proto", wire_proto_name(fw->proto), "external_port",
			 fw->external_port, "vm_port", fw->vm_port, "map", forward_map_name(fw->map),
			 "source", fw->from_config ? "config" : "runtime", "listening", fw->fd >= 0,
			 "error", fw->error[0] ? fw->error : NULL, "mapping",
			 fw->pm ? portmap_json(fw->pm) : json_null(), "active", why == NULL,
			 "inactive_reason", why, "connections", (json_int_t)fw->connections,
			 "refused", (json_int_t)fw->refused, "flows", nflows);
}
