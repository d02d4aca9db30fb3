/* portmap.c: asks the consumer's router to forward a port to us.
 *
 * Three protocols, one state machine.  A round tries one method; `auto`
 * tries PCP, then NAT-PMP, then UPnP IGD until one maps, and keeps the
 * winner for every later round.  PCP (pcp.c) and NAT-PMP (libnatpmp) are
 * UDP exchanges with the default gateway driven by the event loop, each
 * bounded by PM_ATTEMPT_MS.  miniupnpc blocks on SSDP and HTTP, so each
 * UPnP operation runs in a short-lived thread that hands its result back
 * through a pipe.  A granted mapping is renewed at half its lease; a
 * failed round is retried with a backoff, forever. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/route.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
#define ENABLE_STRNATPMPERR
#include <natpmp.h>

#include "config.h"
#include "log.h"
#include "pcp.h"
#include "portmap.h"
#include "util.h"

#define PM_ATTEMPT_MS		2000	/* one method's try; all of portmap_free's deletes */
#define PM_RETRY_FIRST_MS	5000
#define PM_RETRY_MAX_MS		300000
#define PM_RENEW_MIN_MS		1000	/* a router granting 1 s must not make us spin */
/* RFC 6887 §8.1.1 starts retransmitting at 3 s, which would leave our 2 s
 * budget a single try; we start at NAT-PMP's 250 ms (RFC 6886 §3.1) and
 * keep PCP's doubling and its ±10% jitter. */
#define PCP_FIRST_RT_MS		250
#define UPNP_DESC		"omnet"
/* UPnP error 725 OnlyPermanentLeasesSupported (IGD:1 WANIPConnection) */
#define UPNP_ONLY_PERMANENT	725
#define UPNP_NO_SUCH_ENTRY	714

enum pm_method { PM_NONE = -1, PM_PCP, PM_NATPMP, PM_UPNP, PM_NMETHODS };

static const char *const method_name[PM_NMETHODS] = { "pcp", "natpmp", "upnp" };
static const char *const method_label[PM_NMETHODS] = { "PCP", "NAT-PMP", "UPnP" };

/* What a router granted. */
struct pm_grant {
	uint16_t ext_port;
	char ext_addr[INET6_ADDRSTRLEN];	/* "" if the router did not say */
	uint64_t lease_ms;			/* 0: permanent (UPnP only) */
	char router[64];			/* who granted it, for the logs */
};

/* One PCP request in flight. */
struct pcp_xchg {
	int fd;			/* UDP, connected to the gateway's port 5351 */
	struct event *ev;
	char gw[INET_ADDRSTRLEN];
	struct pcp_map_request req;
	uint64_t deadline_ms, next_send_ms, rt_ms;
	int last_drop;		/* why the last reply was dropped; 0: none came */
};

enum { NP_MAP, NP_ADDR };

/* One NAT-PMP exchange in flight: the mapping, then the public address. */
struct natpmp_xchg {
	natpmp_t n;
	struct event *ev;
	int stage;		/* NP_MAP, NP_ADDR */
	uint64_t deadline_ms;
	struct pm_grant g;
};

enum { UPNP_OP_MAP, UPNP_OP_DELETE };

/* The UPnP side, shared by the event loop and at most one worker.  While
 * `running`, the fields below `lock`'s group belong to the worker; else to
 * the loop.  A worker that outlives its portmap (portmap_free() gave up
 * waiting) owns the job and frees it. */
struct upnp_job {
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* signalled when done */
	int refs;		/* the portmap's, and a running worker's */
	int done;		/* the worker finished its operation */
	int abandoned;		/* the portmap is gone: the worker cleans up */
	int was_made;		/* and a mapping of ours may exist at the IGD */
	int pipe[2];		/* the worker writes a byte when done */
	pthread_t thread;
	int running;		/* loop side: started and not yet joined */
	/* the operation */
	int op;			/* UPNP_OP_MAP, UPNP_OP_DELETE */
	char proto[4];		/* "TCP", "UDP" */
	char port[8];
	uint32_t lease_s;
	/* the IGD, found by the first worker and kept for the next ones */
	int have_igd;
	struct UPNPUrls urls;
	struct IGDdatas data;
	char lanaddr[64];
	char igd[64];		/* host:port of its control URL, for messages */
	/* the result */
	int ok;
	char error[256];
	struct pm_grant g;
};

struct portmap {
	struct event_base *base;
	int want;		/* enum config_map */
	int proto;		/* IPPROTO_TCP, IPPROTO_UDP */
	uint16_t port;
	uint32_t lease_s;	/* asked for */
	portmap_cb cb;
	void *arg;
	char name[16];		/* "tcp/8080", for the logs */

	int trying;		/* enum pm_method of the attempt in flight, or PM_NONE */
	int winner;		/* the method that mapped: later rounds use it */
	int reported;		/* an outcome was reported: no longer "pending" */
	struct event *timer;	/* the next round: start, renewal or retry */
	uint64_t retry_ms;	/* the next backoff */
	char round_error[768];	/* this round's failures, method after method */
	char last_error[768];	/* "" if the last round succeeded */

	int made;		/* the winner made a mapping, not deleted since */
	int lapsed;		/* its lease ran out unrenewed (logged once) */
	struct pm_grant grant;
	uint64_t expires_ms;	/* UINT64_MAX: permanent */

	uint8_t nonce[PCP_NONCE_LEN];	/* PCP: one per mapping (§11.2, §15) */
	uint32_t pcp_epoch_s;		/* §8.5: the last epoch seen, and when */
	uint64_t pcp_epoch_at_ms;
	int pcp_have_epoch;
	struct pcp_xchg *pcp;
	struct natpmp_xchg *np;
	struct upnp_job *up;
	struct event *up_ev;	/* the job's pipe */
};

static void attempt_done(struct portmap *pm, const struct pm_grant *g, const char *err);

/* ---- small helpers ------------------------------------------------------- */

static const char *proto_name(int proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

static void arm_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	event_add(ev, &tv);
}

/* jitter_ms() - ms ±10% (RFC 6887 §8.1.1 RAND) */
static uint64_t jitter_ms(uint64_t ms)
{
	return ms - ms / 10 + (uint64_t)random() % (ms / 5 + 1);
}

static uint64_t remaining_ms(uint64_t deadline_ms, uint64_t now_ms)
{
	return deadline_ms > now_ms ? deadline_ms - now_ms : 0;
}

/* default_gateway() - the gateway of this network namespace's IPv4
 * default route, read from /proc/net/route as libnatpmp reads it (the
 * lowest metric wins); -1 if there is none */
static int default_gateway(struct in_addr *gw)
{
	FILE *f = fopen("/proc/net/route", "re");
	char line[256];
	unsigned long best = ULONG_MAX;
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char ifname[32];
		unsigned long dst, via, flags, refcnt, use, metric, mask;

		/* Iface Destination Gateway Flags RefCnt Use Metric Mask ...;
		 * addresses in hex, in network byte order as stored */
		if (sscanf(line, "%31s %lx %lx %lx %lu %lu %lu %lx", ifname, &dst, &via, &flags,
			   &refcnt, &use, &metric, &mask) != 8)
			continue;	/* the header */
		if (dst || mask || !(flags & RTF_UP) || !(flags & RTF_GATEWAY) || metric >= best)
			continue;
		gw->s_addr = (in_addr_t)via;
		best = metric;
		found = 1;
	}
	fclose(f);
	return found ? 0 : -1;
}

/* lease_s() - lease_ms as the 32-bit seconds the protocols carry; at least
 * 1 s, as 0 means "delete" to PCP and NAT-PMP and "permanent" to UPnP */
static uint32_t lease_s(uint64_t lease_ms)
{
	uint64_t s = (lease_ms + 999) / 1000;

	return s < 1 ? 1 : s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

/* ---- PCP (RFC 6887) ------------------------------------------------------ */

static void pcp_close(struct pcp_xchg *x)
{
	if (!x)
		return;
	if (x->ev)
		event_free(x->ev);
	if (x->fd >= 0)
		close(x->fd);
	free(x);
}

/* pcp_open() - a socket connected to the gateway's PCP port and the MAP
 * request for lifetime_s.  Connecting makes the kernel pick our client
 * address (§8.1 wants the source address in the request) and drop replies
 * from elsewhere (§8.3).  NULL and err on failure. */
static struct pcp_xchg *pcp_open(struct portmap *pm, uint32_t lifetime_s, char *err,
				 size_t errlen)
{
	struct pcp_xchg *x = xcalloc(1, sizeof(*x));
	struct sockaddr_in gw = { .sin_family = AF_INET, .sin_port = htons(PCP_SERVER_PORT) };
	struct sockaddr_in me;
	socklen_t len = sizeof(me);

	x->fd = -1;
	if (default_gateway(&gw.sin_addr) < 0) {
		snprintf(err, errlen, "no IPv4 default gateway to ask for a PCP mapping");
		goto fail;
	}
	inet_ntop(AF_INET, &gw.sin_addr, x->gw, sizeof(x->gw));
	x->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x->fd < 0 || connect(x->fd, (struct sockaddr *)&gw, sizeof(gw)) < 0 ||
	    getsockname(x->fd, (struct sockaddr *)&me, &len) < 0) {
		snprintf(err, errlen, "PCP to %s:%d: %s", x->gw, PCP_SERVER_PORT, strerror(errno));
		goto fail;
	}
	memcpy(x->req.nonce, pm->nonce, PCP_NONCE_LEN);
	x->req.lifetime_s = lifetime_s;
	x->req.client = me.sin_addr;
	x->req.proto = (uint8_t)pm->proto;
	x->req.internal_port = pm->port;
	/* a renewal suggests what it has (§11.2) */
	x->req.external_port = pm->made ? pm->grant.ext_port : pm->port;
	if (pm->made)
		inet_pton(AF_INET, pm->grant.ext_addr, &x->req.external);
	return x;
fail:
	pcp_close(x);
	return NULL;
}

static void pcp_sock_error(const struct pcp_xchg *x, int e, char *err, size_t errlen)
{
	if (e == ECONNREFUSED)
		snprintf(err, errlen, "no PCP server at %s:%d (port unreachable)", x->gw,
			 PCP_SERVER_PORT);
	else
		snprintf(err, errlen, "PCP to %s:%d: %s", x->gw, PCP_SERVER_PORT, strerror(e));
}

static int pcp_send(struct pcp_xchg *x, char *err, size_t errlen)
{
	uint8_t buf[PCP_MAP_LEN];
	size_t n = pcp_map_request_build(&x->req, buf, sizeof(buf));

	if (send(x->fd, buf, n, 0) < 0) {
		pcp_sock_error(x, errno, err, errlen);
		return -1;
	}
	return 0;
}

/* pcp_read() - read the replies waiting: 1 and resp when the answer came,
 * 0 when it has not yet, -1 and err when the router will not map by PCP */
static int pcp_read(struct pcp_xchg *x, struct pcp_map_response *resp, char *err, size_t errlen)
{
	uint8_t buf[PCP_MAX_LEN + 4];
	ssize_t n;
	int r;

	for (;;) {
		n = recv(x->fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0) {
			pcp_sock_error(x, errno, err, errlen);
			return -1;
		}
		r = pcp_map_response_parse(buf, (size_t)n, &x->req, resp);
		if (r == 0)
			return 1;
		if (r == PCP_ERR_NATPMP_ONLY) {
			snprintf(err, errlen, "router %s: %s", x->gw, pcp_error_str(r));
			return -1;
		}
		/* §8.3: a reply that is not the answer is dropped */
		x->last_drop = r;
		log_debug("PCP reply from %s dropped: %s", x->gw, pcp_error_str(r));
	}
}

static void pcp_timeout_error(const struct pcp_xchg *x, uint64_t budget_ms, char *err,
			      size_t errlen)
{
	snprintf(err, errlen, "no PCP answer from %s:%d within %" PRIu64 " ms%s%s", x->gw,
		 PCP_SERVER_PORT, budget_ms, x->last_drop ? "; dropped a reply: " : "",
		 x->last_drop ? pcp_error_str(x->last_drop) : "");
}

/* pcp_grant() - a granted MAP response as a grant; -1 and err if the
 * router refused or granted nothing */
static int pcp_grant(struct portmap *pm, const struct pcp_xchg *x,
		     const struct pcp_map_response *r, struct pm_grant *g, char *err, size_t errlen)
{
	uint64_t now = clock_now_ms();

	if (r->result != PCP_SUCCESS) {
		snprintf(err, errlen, "PCP router %s refused: code %u %s", x->gw, r->result,
			 pcp_result_str(r->result));
		return -1;
	}
	if (r->lifetime_s == 0) {
		snprintf(err, errlen, "PCP router %s granted a lifetime of 0 s", x->gw);
		return -1;
	}
	if (pm->pcp_have_epoch &&
	    !pcp_epoch_valid(pm->pcp_epoch_s, pm->pcp_epoch_at_ms, r->epoch_s, now))
		log_info("portmap %s: PCP router %s lost its state (epoch %u after %u); mapping made again",
			 pm->name, x->gw, r->epoch_s, pm->pcp_epoch_s);
	pm->pcp_epoch_s = r->epoch_s;
	pm->pcp_epoch_at_ms = now;
	pm->pcp_have_epoch = 1;
	memset(g, 0, sizeof(*g));
	g->ext_port = r->external_port;
	if (r->external_is_v4)
		inet_ntop(AF_INET, &r->external_v4, g->ext_addr, sizeof(g->ext_addr));
	else
		inet_ntop(AF_INET6, r->external_addr, g->ext_addr, sizeof(g->ext_addr));
	g->lease_ms = (uint64_t)r->lifetime_s * 1000;
	snprintf(g->router, sizeof(g->router), "%s", x->gw);
	return 0;
}

/* pcp_finish() - the exchange is over: close it and report */
static void pcp_finish(struct portmap *pm, const struct pm_grant *g, const char *err)
{
	pcp_close(pm->pcp);
	pm->pcp = NULL;
	attempt_done(pm, g, err);
}

/* pcp_on_event() - a reply, or time to retransmit or to give up */
static void pcp_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct portmap *pm = arg;
	struct pcp_xchg *x = pm->pcp;
	struct pcp_map_response resp;
	struct pm_grant g;
	char err[256];
	uint64_t now;
	int r = pcp_read(x, &resp, err, sizeof(err));

	if (r > 0)
		r = pcp_grant(pm, x, &resp, &g, err, sizeof(err)) == 0 ? 1 : -1;
	if (r != 0) {
		pcp_finish(pm, r > 0 ? &g : NULL, err);
		return;
	}
	now = clock_now_ms();
	if (now >= x->deadline_ms) {
		pcp_timeout_error(x, PM_ATTEMPT_MS, err, sizeof(err));
		pcp_finish(pm, NULL, err);
		return;
	}
	if (now >= x->next_send_ms) {
		if (pcp_send(x, err, sizeof(err)) < 0) {
			pcp_finish(pm, NULL, err);
			return;
		}
		x->rt_ms *= 2;
		x->next_send_ms = now + jitter_ms(x->rt_ms);
	}
	arm_ms(x->ev, MIN(x->next_send_ms, x->deadline_ms) - now);
}

static int pcp_begin(struct portmap *pm, char *err, size_t errlen)
{
	struct pcp_xchg *x = pcp_open(pm, pm->lease_s, err, errlen);
	uint64_t now = clock_now_ms();

	if (!x)
		return -1;
	if (pcp_send(x, err, errlen) < 0) {
		pcp_close(x);
		return -1;
	}
	x->rt_ms = PCP_FIRST_RT_MS;
	x->next_send_ms = now + jitter_ms(x->rt_ms);
	x->deadline_ms = now + PM_ATTEMPT_MS;
	x->ev = event_new(pm->base, x->fd, EV_READ | EV_PERSIST, pcp_on_event, pm);
	pm->pcp = x;
	arm_ms(x->ev, x->next_send_ms - now);
	return 0;
}

/* pcp_delete_sync() - delete our mapping: the MAP request again with
 * lifetime 0 and the same nonce (§15); blocks until the router answers or
 * deadline_ms.  Without wait, one datagram and no wait: for a request in
 * flight that the router may or may not have taken. */
static void pcp_delete_sync(struct portmap *pm, uint64_t deadline_ms, int wait)
{
	struct pcp_xchg *x;
	struct pcp_map_response resp;
	char err[256] = "";
	uint64_t start = clock_now_ms(), now, next = start, rt = PCP_FIRST_RT_MS;
	int r = 0;

	x = pcp_open(pm, 0, err, sizeof(err));
	if (!x || !wait) {
		if (x)
			pcp_send(x, err, sizeof(err));
		goto out;
	}
	while (r == 0 && (now = clock_now_ms()) < deadline_ms) {
		struct pollfd p = { .fd = x->fd, .events = POLLIN };

		if (now >= next) {
			if (pcp_send(x, err, sizeof(err)) < 0) {
				r = -1;
				break;
			}
			next = now + jitter_ms(rt);
			rt *= 2;
		}
		if (poll(&p, 1, (int)(MIN(next, deadline_ms) - now)) > 0)
			r = pcp_read(x, &resp, err, sizeof(err));
	}
	if (r > 0 && resp.result != PCP_SUCCESS) {
		snprintf(err, sizeof(err), "PCP router %s refused: code %u %s", x->gw, resp.result,
			 pcp_result_str(resp.result));
		r = -1;
	}
	if (r > 0)
		log_info("portmap %s: PCP mapping %s:%u deleted at %s (%" PRIu64 " ms)", pm->name,
			 pm->grant.ext_addr, pm->grant.ext_port, x->gw, clock_now_ms() - start);
	else if (r == 0)
		pcp_timeout_error(x, clock_now_ms() - start, err, sizeof(err));
out:
	if (wait && r <= 0)
		log_warnx("portmap %s: PCP mapping %s:%u not deleted: %s", pm->name,
			  pm->grant.ext_addr, pm->grant.ext_port, err);
	pcp_close(x);
}

/* ---- NAT-PMP (RFC 6886, libnatpmp) ---------------------------------------- */

static int natpmp_proto(int proto)
{
	return proto == IPPROTO_UDP ? NATPMP_PROTOCOL_UDP : NATPMP_PROTOCOL_TCP;
}

static const char *natpmp_gw(const natpmp_t *n, char buf[INET_ADDRSTRLEN])
{
	struct in_addr a = { .s_addr = n->gateway };

	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* natpmp_error() - a libnatpmp error as a sentence; the router's refusals
 * with their RFC 6886 §3.5 result code */
static void natpmp_error(const natpmp_t *n, int r, char *err, size_t errlen)
{
	static const struct { int r, code; const char *text; } refusals[] = {
		{ NATPMP_ERR_UNSUPPORTEDVERSION, 1, "Unsupported Version" },
		{ NATPMP_ERR_NOTAUTHORIZED, 2, "Not Authorized/Refused: the router refuses this mapping" },
		{ NATPMP_ERR_NETWORKFAILURE, 3, "Network Failure: the router has no external address now" },
		{ NATPMP_ERR_OUTOFRESOURCES, 4, "Out of resources: the router cannot make more mappings" },
		{ NATPMP_ERR_UNSUPPORTEDOPCODE, 5, "Unsupported opcode" },
	};
	char gw[INET_ADDRSTRLEN];
	size_t i;

	natpmp_gw(n, gw);
	for (i = 0; i < ARRAY_SIZE(refusals); i++)
		if (refusals[i].r == r) {
			snprintf(err, errlen, "NAT-PMP router %s refused: code %d %s", gw,
				 refusals[i].code, refusals[i].text);
			return;
		}
	if (r == NATPMP_ERR_NOGATEWAYSUPPORT)
		snprintf(err, errlen, "no NAT-PMP server at %s:%d (port unreachable)", gw, NATPMP_PORT);
	else if (r == NATPMP_ERR_CANNOTGETGATEWAY)
		snprintf(err, errlen, "no IPv4 default gateway to ask for a NAT-PMP mapping");
	else
		snprintf(err, errlen, "NAT-PMP to %s:%d: %s", gw, NATPMP_PORT, strnatpmperr(r));
}

/* natpmp_init() - initnatpmp(), which finds the gateway in
 * /proc/net/route and connects; without the socket it leaves open on
 * failure, and without leaking it into children */
static int natpmp_init(natpmp_t *n)
{
	int r = initnatpmp(n, 0, 0);

	if (r < 0 && r != NATPMP_ERR_SOCKETERROR && r != NATPMP_ERR_INVALIDARGS)
		close(n->s);
	if (r == 0)
		fcntl(n->s, F_SETFD, FD_CLOEXEC);
	return r;
}

static void natpmp_close(struct natpmp_xchg *x)
{
	if (!x)
		return;
	if (x->ev)
		event_free(x->ev);
	closenatpmp(&x->n);
	free(x);
}

static void natpmp_finish(struct portmap *pm, const struct pm_grant *g, const char *err)
{
	struct pm_grant copy;

	if (g) {	/* it may live in the exchange */
		copy = *g;
		g = &copy;
	}
	natpmp_close(pm->np);
	pm->np = NULL;
	attempt_done(pm, g, err);
}

/* natpmp_arm() - wake at libnatpmp's next retransmission or the deadline */
static void natpmp_arm(struct natpmp_xchg *x)
{
	struct timeval tv;
	uint64_t now = clock_now_ms(), wait = 0;

	if (getnatpmprequesttimeout(&x->n, &tv) == 0 && tv.tv_sec >= 0)
		wait = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000 + 1;
	arm_ms(x->ev, MIN(wait, remaining_ms(x->deadline_ms, now)));
}

/* natpmp_mapped() - the mapping reply came: note it and ask for the public
 * address, which only this second request tells (RFC 6886 §3.2); -1 and
 * err if the reply does not fit the request */
static int natpmp_mapped(struct portmap *pm, struct natpmp_xchg *x, const natpmpresp_t *r,
			 char *err, size_t errlen)
{
	int want = pm->proto == IPPROTO_UDP ? NATPMP_RESPTYPE_UDPPORTMAPPING :
					      NATPMP_RESPTYPE_TCPPORTMAPPING;
	char gw[INET_ADDRSTRLEN];

	natpmp_gw(&x->n, gw);
	if (r->type != want || r->pnu.newportmapping.privateport != pm->port) {
		snprintf(err, errlen, "NAT-PMP router %s answered another request", gw);
		return -1;
	}
	if (r->pnu.newportmapping.lifetime == 0) {
		snprintf(err, errlen, "NAT-PMP router %s granted a lifetime of 0 s", gw);
		return -1;
	}
	x->g.ext_port = r->pnu.newportmapping.mappedpublicport;
	x->g.lease_ms = (uint64_t)r->pnu.newportmapping.lifetime * 1000;
	snprintf(x->g.router, sizeof(x->g.router), "%s", gw);
	x->stage = NP_ADDR;
	if (sendpublicaddressrequest(&x->n) < 0)
		return 1;	/* mapped all the same, address unknown */
	return 0;
}

/* natpmp_on_event() - a reply, or time to retransmit or to give up */
static void natpmp_on_event(evutil_socket_t fd, short what, void *arg)
{
	struct portmap *pm = arg;
	struct natpmp_xchg *x = pm->np;
	natpmpresp_t resp;
	char err[256], gw[INET_ADDRSTRLEN];
	int r = readnatpmpresponseorretry(&x->n, &resp);

	if (r == NATPMP_TRYAGAIN && clock_now_ms() < x->deadline_ms) {
		natpmp_arm(x);
		return;
	}
	if (x->stage == NP_ADDR) {
		/* a late duplicate of the mapping reply ends libnatpmp's
		 * request: ask again */
		if (r == 0 && resp.type != NATPMP_RESPTYPE_PUBLICADDRESS &&
		    clock_now_ms() < x->deadline_ms && sendpublicaddressrequest(&x->n) >= 0) {
			natpmp_arm(x);
			return;
		}
		/* the mapping stands even if the address does not come */
		if (r == 0 && resp.type == NATPMP_RESPTYPE_PUBLICADDRESS)
			inet_ntop(AF_INET, &resp.pnu.publicaddress.addr, x->g.ext_addr,
				  sizeof(x->g.ext_addr));
		natpmp_finish(pm, &x->g, NULL);
		return;
	}
	if (r == NATPMP_TRYAGAIN) {
		snprintf(err, sizeof(err), "no NAT-PMP answer from %s:%d within %d ms",
			 natpmp_gw(&x->n, gw), NATPMP_PORT, PM_ATTEMPT_MS);
		natpmp_finish(pm, NULL, err);
		return;
	}
	if (r < 0) {
		natpmp_error(&x->n, r, err, sizeof(err));
		natpmp_finish(pm, NULL, err);
		return;
	}
	r = natpmp_mapped(pm, x, &resp, err, sizeof(err));
	if (r != 0) {
		natpmp_finish(pm, r > 0 ? &x->g : NULL, err);
		return;
	}
	natpmp_arm(x);
}

static int natpmp_begin(struct portmap *pm, char *err, size_t errlen)
{
	struct natpmp_xchg *x = xcalloc(1, sizeof(*x));
	uint16_t ext = pm->made ? pm->grant.ext_port : pm->port;
	int r = natpmp_init(&x->n);

	if (r < 0) {
		natpmp_error(&x->n, r, err, errlen);
		free(x);
		return -1;
	}
	r = sendnewportmappingrequest(&x->n, natpmp_proto(pm->proto), pm->port, ext, pm->lease_s);
	if (r < 0) {
		natpmp_error(&x->n, r, err, errlen);
		natpmp_close(x);
		return -1;
	}
	x->stage = NP_MAP;
	x->deadline_ms = clock_now_ms() + PM_ATTEMPT_MS;
	x->ev = event_new(pm->base, x->n.s, EV_READ | EV_PERSIST, natpmp_on_event, pm);
	pm->np = x;
	natpmp_arm(x);
	return 0;
}

/* natpmp_delete_sync() - delete our mapping (RFC 6886 §3.4: lifetime 0,
 * external port 0); blocks until the router answers or deadline_ms.
 * Without wait, one datagram. */
static void natpmp_delete_sync(struct portmap *pm, uint64_t deadline_ms, int wait)
{
	natpmp_t n;
	natpmpresp_t resp;
	char err[256] = "", gw[INET_ADDRSTRLEN];
	uint64_t start = clock_now_ms(), now;
	int r = natpmp_init(&n);

	if (r < 0) {
		natpmp_error(&n, r, err, sizeof(err));
		goto out;
	}
	r = sendnewportmappingrequest(&n, natpmp_proto(pm->proto), pm->port, 0, 0);
	while (wait && (r >= 0 || r == NATPMP_TRYAGAIN) && (now = clock_now_ms()) < deadline_ms) {
		struct pollfd p = { .fd = n.s, .events = POLLIN };
		struct timeval tv;
		uint64_t ms = remaining_ms(deadline_ms, now);

		if (getnatpmprequesttimeout(&n, &tv) == 0 && tv.tv_sec >= 0)
			ms = MIN(ms, (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000 + 1);
		poll(&p, 1, (int)ms);
		r = readnatpmpresponseorretry(&n, &resp);
		if (r != NATPMP_TRYAGAIN)
			break;
	}
	if (r == NATPMP_TRYAGAIN)
		snprintf(err, sizeof(err), "no NAT-PMP answer from %s:%d within %" PRIu64 " ms",
			 natpmp_gw(&n, gw), NATPMP_PORT, clock_now_ms() - start);
	else if (r < 0)
		natpmp_error(&n, r, err, sizeof(err));
	else if (wait)
		log_info("portmap %s: NAT-PMP mapping %s:%u deleted at %s (%" PRIu64 " ms)",
			 pm->name, pm->grant.ext_addr, pm->grant.ext_port, natpmp_gw(&n, gw),
			 clock_now_ms() - start);
	closenatpmp(&n);
out:
	if (wait && r < 0)
		log_warnx("portmap %s: NAT-PMP mapping %s:%u not deleted: %s", pm->name,
			  pm->grant.ext_addr, pm->grant.ext_port, err);
}

/* ---- UPnP IGD (miniupnpc): the worker's side ------------------------------ */

/* url_hostport() - "host:port" of an URL, for messages */
static void url_hostport(const char *url, char *out, size_t outlen)
{
	const char *p = strstr(url ? url : "", "://");
	size_t n;

	p = p ? p + 3 : (url ? url : "");
	n = strcspn(p, "/");
	snprintf(out, outlen, "%.*s", (int)MIN(n, outlen - 1), p);
}

static const char *upnp_strerror(int r)
{
	const char *s = strupnperror(r);

	return s ? s : "unknown error";
}

static void upnp_forget_igd(struct upnp_job *j)
{
	if (!j->have_igd)
		return;
	FreeUPNPUrls(&j->urls);
	j->have_igd = 0;
}

/* upnp_discover() - find the IGD by SSDP, then fetch its description over
 * HTTP.  upnpDiscover() searches its four types one after another, each
 * for the whole delay, so a LAN without an IGD costs four times the delay;
 * searching all types at once (searchalltypes) waits PM_ATTEMPT_MS once. */
static int upnp_discover(struct upnp_job *j)
{
	static const char *const types[] = {
		"urn:schemas-upnp-org:device:InternetGatewayDevice:1",
		"urn:schemas-upnp-org:device:InternetGatewayDevice:2",
		"urn:schemas-upnp-org:service:WANIPConnection:1",
		"urn:schemas-upnp-org:service:WANIPConnection:2",
		"urn:schemas-upnp-org:service:WANPPPConnection:1",
		NULL,
	};
	struct UPNPDev *devs;
	int err = 0, r;

	devs = upnpDiscoverDevices(types, PM_ATTEMPT_MS, NULL, NULL, UPNP_LOCAL_PORT_ANY, 0, 2, &err,
				   1);
	if (!devs) {
		snprintf(j->error, sizeof(j->error),
			 "no UPnP IGD found on the LAN (no SSDP answer within %d ms)", PM_ATTEMPT_MS);
		return -1;
	}
	r = UPNP_GetValidIGD(devs, &j->urls, &j->data, j->lanaddr, sizeof(j->lanaddr));
	freeUPNPDevlist(devs);
	if (r == 0) {
		snprintf(j->error, sizeof(j->error),
			 "no UPnP IGD found on the LAN (only other UPnP devices answered)");
		return -1;
	}
	url_hostport(j->urls.controlURL ? j->urls.controlURL : j->urls.rootdescURL, j->igd,
		     sizeof(j->igd));
	if (r == 3) {
		snprintf(j->error, sizeof(j->error),
			 "no UPnP IGD found on the LAN (the UPnP device at %s is not an IGD)", j->igd);
		FreeUPNPUrls(&j->urls);
		return -1;
	}
	/* r == 2, an IGD saying it is not connected, is tried all the same:
	 * some misreport, and AddPortMapping's answer is what counts */
	j->have_igd = 1;
	return 0;
}

static int upnp_add(struct upnp_job *j, const char *lease)
{
	return UPNP_AddPortMapping(j->urls.controlURL, j->data.first.servicetype, j->port, j->port,
				   j->lanaddr, UPNP_DESC, j->proto, NULL, lease);
}

/* upnp_read_back() - the external address, and the lease the IGD really
 * gave (it may shorten it; its entry says what remains) */
static void upnp_read_back(struct upnp_job *j)
{
	char ext[40] = "", client[40], iport[8], desc[80], enabled[8], lease[16] = "";
	unsigned long s;

	if (UPNP_GetExternalIPAddress(j->urls.controlURL, j->data.first.servicetype, ext) == 0)
		snprintf(j->g.ext_addr, sizeof(j->g.ext_addr), "%s", ext);
	if (!j->g.lease_ms)
		return;
	if (UPNP_GetSpecificPortMappingEntry(j->urls.controlURL, j->data.first.servicetype, j->port,
					     j->proto, NULL, client, iport, desc, enabled,
					     lease) != 0)
		return;
	s = strtoul(lease, NULL, 10);
	if (s > 0 && s < j->lease_s)
		j->g.lease_ms = (uint64_t)s * 1000;
}

static void upnp_do_map(struct upnp_job *j)
{
	char lease[16];
	int r;

	j->ok = 0;
	j->error[0] = 0;
	memset(&j->g, 0, sizeof(j->g));
	if (!j->have_igd && upnp_discover(j) < 0)
		return;
	snprintf(lease, sizeof(lease), "%u", j->lease_s);
	j->g.lease_ms = (uint64_t)j->lease_s * 1000;
	r = upnp_add(j, lease);
	if (r == UPNP_ONLY_PERMANENT) {
		/* a permanent mapping, refreshed by the renewals and deleted by
		 * portmap_free() */
		j->g.lease_ms = 0;
		r = upnp_add(j, "0");
	}
	if (r != UPNPCOMMAND_SUCCESS) {
		if (r > 0)
			snprintf(j->error, sizeof(j->error), "UPnP IGD at %s refused: code %d %s",
				 j->igd, r, upnp_strerror(r));
		else
			snprintf(j->error, sizeof(j->error), "UPnP IGD at %s: AddPortMapping: %s",
				 j->igd, upnp_strerror(r));
		if (r < 0)	/* no answer: find the IGD again next time */
			upnp_forget_igd(j);
		return;
	}
	j->g.ext_port = (uint16_t)atoi(j->port);
	snprintf(j->g.router, sizeof(j->g.router), "%s", j->igd);
	upnp_read_back(j);
	j->ok = 1;
}

static void upnp_do_delete(struct upnp_job *j)
{
	int r;

	j->ok = 0;
	if (!j->have_igd) {
		snprintf(j->error, sizeof(j->error), "no UPnP IGD known");
		return;
	}
	r = UPNP_DeletePortMapping(j->urls.controlURL, j->data.first.servicetype, j->port, j->proto,
				   NULL);
	if (r == UPNPCOMMAND_SUCCESS || r == UPNP_NO_SUCH_ENTRY) {
		j->ok = 1;
		return;
	}
	snprintf(j->error, sizeof(j->error), "UPnP IGD at %s: DeletePortMapping: code %d %s",
		 j->igd, r, upnp_strerror(r));
}

static void upnp_job_destroy(struct upnp_job *j)
{
	upnp_forget_igd(j);
	close(j->pipe[0]);
	close(j->pipe[1]);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

/* upnp_job_unref() - the last of the portmap and the worker frees */
static void upnp_job_unref(struct upnp_job *j)
{
	int last;

	pthread_mutex_lock(&j->lock);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->lock);
	if (last)
		upnp_job_destroy(j);
}

static void *upnp_worker(void *arg)
{
	struct upnp_job *j = arg;
	int abandoned, cleanup;

	if (j->op == UPNP_OP_MAP)
		upnp_do_map(j);
	else
		upnp_do_delete(j);
	pthread_mutex_lock(&j->lock);
	j->done = 1;
	abandoned = j->abandoned;
	cleanup = abandoned && j->op == UPNP_OP_MAP && (j->ok || j->was_made);
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	if (!abandoned)
		(void)!write(j->pipe[1], "", 1);
	if (cleanup) {
		/* nobody will delete what this worker made, or renewed */
		upnp_do_delete(j);
		if (j->ok)
			log_info("UPnP mapping %s/%s deleted at %s after its portmap was freed",
				 j->proto, j->port, j->igd);
		else
			log_warnx("UPnP mapping %s/%s not deleted: %s", j->proto, j->port, j->error);
	}
	upnp_job_unref(j);
	return NULL;
}

/* ---- UPnP IGD: the event loop's side ------------------------------------- */

static void upnp_on_done(evutil_socket_t fd, short what, void *arg);

static struct upnp_job *upnp_job_new(struct portmap *pm, char *err, size_t errlen)
{
	struct upnp_job *j = xcalloc(1, sizeof(*j));
	pthread_condattr_t ca;

	if (pipe2(j->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		snprintf(err, errlen, "UPnP: pipe: %s", strerror(errno));
		free(j);
		return NULL;
	}
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);	/* clock_now_ms()'s clock */
	pthread_cond_init(&j->cond, &ca);
	pthread_condattr_destroy(&ca);
	j->refs = 1;
	snprintf(j->proto, sizeof(j->proto), "%s", pm->proto == IPPROTO_UDP ? "UDP" : "TCP");
	snprintf(j->port, sizeof(j->port), "%u", pm->port);
	j->lease_s = pm->lease_s;
	pm->up_ev = event_new(pm->base, j->pipe[0], EV_READ | EV_PERSIST, upnp_on_done, pm);
	event_add(pm->up_ev, NULL);
	return j;
}

/* upnp_spawn() - run op in a new worker.  Signals are blocked in it: they
 * are the loop's, and a SIGPIPE from miniupnpc's HTTP must not kill us. */
static int upnp_spawn(struct upnp_job *j, int op, char *err, size_t errlen)
{
	sigset_t all, old;
	int r;

	j->op = op;
	j->done = 0;
	j->refs++;	/* no worker runs: no lock needed */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&j->thread, NULL, upnp_worker, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		j->refs--;
		snprintf(err, errlen, "UPnP: cannot start a thread: %s", strerror(r));
		return -1;
	}
	j->running = 1;
	return 0;
}

/* upnp_wait() - wait until deadline_ms for the worker; 1 when it is done
 * and joined; 0 when it is not: then it is abandoned, and frees the job
 * (and deletes what it made) itself */
static int upnp_wait(struct upnp_job *j, uint64_t deadline_ms, int was_made)
{
	struct timespec ts = { (time_t)(deadline_ms / 1000), (long)(deadline_ms % 1000) * 1000000 };
	int done;

	pthread_mutex_lock(&j->lock);
	while (!j->done && pthread_cond_timedwait(&j->cond, &j->lock, &ts) == 0)
		;
	done = j->done;
	if (!done) {
		j->abandoned = 1;
		j->was_made = was_made;
	}
	pthread_mutex_unlock(&j->lock);
	if (done)
		pthread_join(j->thread, NULL);
	else
		pthread_detach(j->thread);
	j->running = 0;
	if (!done)
		upnp_job_unref(j);
	return done;
}

/* upnp_on_done() - a worker wrote its byte: take its result */
static void upnp_on_done(evutil_socket_t fd, short what, void *arg)
{
	struct portmap *pm = arg;
	struct upnp_job *j = pm->up;
	char buf[16];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (!j->running)
		return;
	pthread_join(j->thread, NULL);
	j->running = 0;
	attempt_done(pm, j->ok ? &j->g : NULL, j->error);
}

static int upnp_begin(struct portmap *pm, char *err, size_t errlen)
{
	struct in_addr gw;

	/* an IGD is the way out: without a default route there is none, and
	 * SSDP's multicast could not even be sent */
	if (default_gateway(&gw) < 0) {
		snprintf(err, errlen, "no IPv4 default gateway to ask for a UPnP mapping");
		return -1;
	}
	if (!pm->up && !(pm->up = upnp_job_new(pm, err, errlen)))
		return -1;
	return upnp_spawn(pm->up, UPNP_OP_MAP, err, errlen);
}

/* upnp_release() - for portmap_free(): let a running worker finish, delete
 * the mapping if we made one, drop the job; all until deadline_ms */
static void upnp_release(struct portmap *pm, uint64_t deadline_ms)
{
	struct upnp_job *j = pm->up;
	int made = pm->made && pm->winner == PM_UPNP;
	struct pm_grant g = pm->grant;	/* a copy: an abandoned job is not ours */
	char err[256];
	uint64_t start = clock_now_ms();

	if (!j)
		return;
	event_free(pm->up_ev);
	pm->up = NULL;
	if (j->running && !upnp_wait(j, deadline_ms, made))
		return;
	if (!made && j->op == UPNP_OP_MAP && j->ok) {
		made = 1;	/* by the worker just joined, unreported */
		g = j->g;
	}
	if (!made)
		goto out;
	if (upnp_spawn(j, UPNP_OP_DELETE, err, sizeof(err)) < 0) {
		log_warnx("portmap %s: UPnP mapping not deleted: %s", pm->name, err);
		goto out;
	}
	if (!upnp_wait(j, deadline_ms, 0)) {
		log_warnx("portmap %s: UPnP mapping %s:%u not deleted within %" PRIu64
			  " ms; its thread goes on", pm->name, g.ext_addr, g.ext_port,
			  clock_now_ms() - start);
		return;
	}
	if (j->ok)
		log_info("portmap %s: UPnP mapping %s:%u deleted at %s (%" PRIu64 " ms)", pm->name,
			 g.ext_addr, g.ext_port, j->igd, clock_now_ms() - start);
	else
		log_warnx("portmap %s: UPnP mapping not deleted: %s", pm->name, j->error);
out:
	upnp_job_unref(j);
}

/* ---- rounds -------------------------------------------------------------- */

static int first_method(const struct portmap *pm)
{
	if (pm->winner != PM_NONE)
		return pm->winner;
	switch (pm->want) {
	case CONFIG_MAP_UPNP:
		return PM_UPNP;
	case CONFIG_MAP_NATPMP:
		return PM_NATPMP;
	default:
		return PM_PCP;
	}
}

/* next_method() - after m failed, the next one to try this round */
static int next_method(const struct portmap *pm, int m)
{
	if (pm->want != CONFIG_MAP_AUTO || pm->winner != PM_NONE || m + 1 >= PM_NMETHODS)
		return PM_NONE;
	return m + 1;
}

static void try_method(struct portmap *pm, int m)
{
	char err[256];
	int r;

	pm->trying = m;
	switch (m) {
	case PM_PCP:
		r = pcp_begin(pm, err, sizeof(err));
		break;
	case PM_NATPMP:
		r = natpmp_begin(pm, err, sizeof(err));
		break;
	default:
		r = upnp_begin(pm, err, sizeof(err));
		break;
	}
	if (r < 0)
		attempt_done(pm, NULL, err);
}

/* report() - tell the owner; the last thing any handler does, as the
 * callback may free pm */
static void report(struct portmap *pm)
{
	pm->reported = 1;
	if (pm->cb)
		pm->cb(pm, pm->arg);
}

static uint64_t renew_ms(const struct portmap *pm)
{
	uint64_t lease = pm->grant.lease_ms ? pm->grant.lease_ms : (uint64_t)pm->lease_s * 1000;

	return MAX(lease / 2, (uint64_t)PM_RENEW_MIN_MS);
}

static void round_mapped(struct portmap *pm, int m, const struct pm_grant *g)
{
	int renewal = pm->made && !pm->lapsed;

	pm->winner = m;
	pm->made = 1;
	pm->lapsed = 0;
	pm->grant = *g;
	pm->expires_ms = g->lease_ms ? clock_now_ms() + g->lease_ms : UINT64_MAX;
	pm->retry_ms = PM_RETRY_FIRST_MS;
	pm->last_error[0] = 0;
	log_info("portmap %s: %s mapping %s by %s: %s:%u, lease %" PRIu64 " ms%s", pm->name,
		 method_label[m], renewal ? "renewed" : "made", g->router,
		 g->ext_addr[0] ? g->ext_addr : "(address unknown)", g->ext_port, g->lease_ms,
		 g->lease_ms ? "" : " (permanent)");
	if (g->ext_port != pm->port)
		log_warnx("portmap %s: the router gave external port %u, not %u", pm->name,
			  g->ext_port, pm->port);
	arm_ms(pm->timer, renew_ms(pm));
	report(pm);
}

static void round_failed(struct portmap *pm)
{
	uint64_t now = clock_now_ms();

	snprintf(pm->last_error, sizeof(pm->last_error), "%s", pm->round_error);
	if (pm->made && !pm->lapsed && now >= pm->expires_ms) {
		pm->lapsed = 1;
		log_warnx("portmap %s: %s mapping %s:%u lapsed: not renewed in time", pm->name,
			  method_label[pm->winner], pm->grant.ext_addr, pm->grant.ext_port);
	}
	if (portmap_mapped(pm))
		log_warnx("portmap %s: renewal failed: %s; mapping valid %" PRIu64
			  " ms more; retrying in %" PRIu64 " ms", pm->name, pm->last_error,
			  pm->expires_ms - now, pm->retry_ms);
	else
		log_warnx("portmap %s: no mapping: %s; retrying in %" PRIu64 " ms", pm->name,
			  pm->last_error, pm->retry_ms);
	arm_ms(pm->timer, pm->retry_ms);
	pm->retry_ms = MIN(pm->retry_ms * 2, (uint64_t)PM_RETRY_MAX_MS);
	report(pm);
}

/* attempt_done() - method pm->trying finished: granted g, or failed with
 * err; on to the next method, or the round is over */
static void attempt_done(struct portmap *pm, const struct pm_grant *g, const char *err)
{
	int m = pm->trying, next;
	size_t len = strlen(pm->round_error);

	pm->trying = PM_NONE;
	if (g) {
		round_mapped(pm, m, g);
		return;
	}
	log_debug("portmap %s: %s failed: %s", pm->name, method_label[m], err);
	snprintf(pm->round_error + len, sizeof(pm->round_error) - len, "%s%s", len ? "; " : "",
		 err);
	next = next_method(pm, m);
	if (next != PM_NONE) {
		try_method(pm, next);
		return;
	}
	round_failed(pm);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct portmap *pm = arg;

	pm->round_error[0] = 0;
	try_method(pm, first_method(pm));
}

/* ---- the API ------------------------------------------------------------- */

struct portmap *portmap_new(struct event_base *base, int method, int proto, uint16_t port,
			    uint64_t lease_ms, portmap_cb cb, void *arg)
{
	struct portmap *pm;

	if (method != CONFIG_MAP_UPNP && method != CONFIG_MAP_NATPMP && method != CONFIG_MAP_PCP &&
	    method != CONFIG_MAP_AUTO) {
		log_warnx("portmap: no such mapping method %d", method);
		return NULL;
	}
	if ((proto != IPPROTO_TCP && proto != IPPROTO_UDP) || port == 0) {
		log_warnx("portmap: cannot map protocol %d port %u", proto, port);
		return NULL;
	}
	pm = xcalloc(1, sizeof(*pm));
	pm->base = base;
	pm->want = method;
	pm->proto = proto;
	pm->port = port;
	pm->lease_s = lease_s(lease_ms);
	pm->cb = cb;
	pm->arg = arg;
	snprintf(pm->name, sizeof(pm->name), "%s/%u", proto_name(proto), port);
	pm->trying = pm->winner = PM_NONE;
	pm->retry_ms = PM_RETRY_FIRST_MS;
	/* §11.2: a random nonce proves later requests for the mapping ours */
	if (getentropy(pm->nonce, sizeof(pm->nonce)) < 0)
		for (size_t i = 0; i < sizeof(pm->nonce); i++)
			pm->nonce[i] = (uint8_t)random();
	pm->timer = evtimer_new(base, on_timer, pm);
	arm_ms(pm->timer, 0);	/* never call cb before the caller has pm */
	return pm;
}

void portmap_free(struct portmap *pm)
{
	uint64_t deadline;
	int pcp_inflight, np_inflight;

	if (!pm)
		return;
	deadline = clock_now_ms() + PM_ATTEMPT_MS;
	event_free(pm->timer);
	pcp_inflight = pm->pcp != NULL;
	np_inflight = pm->np != NULL;
	pcp_close(pm->pcp);
	natpmp_close(pm->np);
	/* a request in flight may have made a mapping we never heard of */
	if ((pm->made && pm->winner == PM_PCP) || pcp_inflight)
		pcp_delete_sync(pm, deadline, pm->made && pm->winner == PM_PCP);
	if ((pm->made && pm->winner == PM_NATPMP) || np_inflight)
		natpmp_delete_sync(pm, deadline, pm->made && pm->winner == PM_NATPMP);
	upnp_release(pm, deadline);
	free(pm);
}

int portmap_mapped(const struct portmap *pm)
{
	return pm->made && clock_now_ms() < pm->expires_ms;
}

const char *portmap_last_error(const struct portmap *pm)
{
	return pm->last_error[0] ? pm->last_error : NULL;
}

static json_t *json_str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/* shown_method() - the method in use or being tried: the one in flight,
 * the winner, else the one asked for (none for `auto` between rounds) */
static int shown_method(const struct portmap *pm)
{
	if (pm->trying != PM_NONE)
		return pm->trying;
	if (pm->winner != PM_NONE)
		return pm->winner;
	if (pm->want != CONFIG_MAP_AUTO || !pm->reported)
		return first_method(pm);
	return PM_NONE;
}

json_t *portmap_json(const struct portmap *pm)
{
	int m = shown_method(pm);
	int mapped = portmap_mapped(pm);
	const char *state = mapped ? "mapped" : pm->reported ? "failed" : "pending";
	json_t *o = json_object();

	json_object_set_new(o, "protocol", json_str_or_null(m != PM_NONE ? method_name[m] : NULL));
	json_object_set_new(o, "state", json_string(state));
	json_object_set_new(o, "external_address",
			    json_str_or_null(mapped ? pm->grant.ext_addr : NULL));
	json_object_set_new(o, "external_port",
			    mapped ? json_integer(pm->grant.ext_port) : json_null());
	json_object_set_new(o, "lease_remaining_ms",
			    mapped && pm->expires_ms != UINT64_MAX ?
				    json_integer((json_int_t)(pm->expires_ms - clock_now_ms())) :
				    json_null());
	json_object_set_new(o, "last_error", json_str_or_null(portmap_last_error(pm)));
	return o;
}
