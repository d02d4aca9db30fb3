/* portmap.c: asks the consumer's router to forward a port to us.
 *
 * Three protocols, one state machine.  A round tries one method; `auto`
 * tries PCP, then NAT-PMP, then UPnP IGD until one maps, and keeps the
 * winner for every later round.  PCP (pcp.c) and NAT-PMP (libnatpmp) are
 * UDP exchanges with the default gateway driven by the event loop, each
 * bounded by PM_ATTEMPT_MS.  miniupnpc blocks on SSDP and HTTP, so each
 * UPnP operation runs in a short-lived thread that hands its result back
 * through a pipe.  A granted mapping is renewed at half its lease; a
 * failed round is retried with a backoff, forever.  This file runs the
 * rounds and the API; each method is in its own file: portmap_pcp.c,
 * portmap_natpmp.c, portmap_upnp.c (portmap_int.h joins them). */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/route.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "osutil.h"
#include "portmap.h"
#include "portmap_int.h"
#include "util.h"

#define PM_RETRY_FIRST_MS	5000
#define PM_RETRY_MAX_MS		300000
#define PM_RENEW_MIN_MS		1000	/* a router granting 1 s must not make us spin */

static const char *const method_name[PM_NMETHODS] = { "pcp", "natpmp", "upnp" };
static const char *const method_label[PM_NMETHODS] = { "PCP", "NAT-PMP", "UPnP" };

static portmap_public_fn public_fn;
static void *public_arg;

/* ---- small helpers ------------------------------------------------------- */

static const char *proto_name(int proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

void pm_arm_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = timeval_from_ms(ms);

	event_add(ev, &tv);
}

/* pm_jitter_ms() - ms ±10% (RFC 6887 §8.1.1 RAND) */
uint64_t pm_jitter_ms(uint64_t ms)
{
	return ms - ms / 10 + random_u64() % (ms / 5 + 1);
}

/* pm_default_gateway() - the gateway of this network namespace's IPv4
 * default route, read from /proc/net/route as libnatpmp reads it (the
 * lowest metric wins); -1 if there is none */
int pm_default_gateway(struct in_addr *gw)
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
		pm_attempt_done(pm, NULL, err);
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

/* tell_public() - the external address the router reported, to the hook */
static void tell_public(int m, const struct pm_grant *g)
{
	char who[128];

	if (!public_fn || !g->ext_addr[0])
		return;
	snprintf(who, sizeof(who), "router %s (%s)", g->router, method_label[m]);
	public_fn(public_arg, g->ext_addr, who);
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
	tell_public(m, g);
	pm_arm_ms(pm->timer, renew_ms(pm));
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
	pm_arm_ms(pm->timer, pm->retry_ms);
	pm->retry_ms = MIN(pm->retry_ms * 2, (uint64_t)PM_RETRY_MAX_MS);
	report(pm);
}

/* pm_attempt_done() - method pm->trying finished: granted g, or failed with
 * err; on to the next method, or the round is over */
void pm_attempt_done(struct portmap *pm, const struct pm_grant *g, const char *err)
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

void portmap_set_public_hook(portmap_public_fn fn, void *arg)
{
	public_fn = fn;
	public_arg = arg;
}

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
	random_bytes(pm->nonce, sizeof(pm->nonce));
	pm->timer = evtimer_new(base, on_timer, pm);
	pm_arm_ms(pm->timer, 0);	/* never call cb before the caller has pm */
	return pm;
}

void portmap_free(struct portmap *pm)
{
	portmap_free_within(pm, PM_ATTEMPT_MS);
}

void portmap_free_within(struct portmap *pm, uint64_t budget_ms)
{
	uint64_t deadline;
	int pcp_inflight, np_inflight;

	if (!pm)
		return;
	deadline = clock_now_ms() + budget_ms;
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
