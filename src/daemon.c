/* daemon.c: start-up, the event loop, reload and shutdown. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "busypoll.h"
#include "capture.h"
#include "control.h"
#include "daemon.h"
#include "dtls.h"
#include "egress.h"
#include "flow.h"
#include "forward.h"
#include "log.h"
#include "osutil.h"
#include "mesh.h"
#include "netns.h"
#include "network.h"
#include "peer.h"
#include "relay.h"
#include "pmtu.h"
#include "policy.h"
#include "privdrop.h"
#include "privsep.h"
#include "vmrun.h"
#include "session.h"
#include "state.h"
#include "util.h"

#define HOUSEKEEPING_MS 1000
#define FD_RESERVE 256 /* descriptors kept for the mesh, control, captures, logs */

static const char *const role_names[] = {
	[ROLE_PROVIDER] = "provider",
	[ROLE_CONSUMER] = "consumer",
	[ROLE_RELAY] = "relay",
};

const char *role_name(enum role r)
{
	return role_names[r];
}

int role_parse(const char *s, enum role *r)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(role_names); i++) {
		if (strcmp(s, role_names[i]) == 0) {
			*r = (enum role)i;
			return 0;
		}
	}
	return -1;
}

int daemon_network_is_deleted(const struct daemon *d, const struct netid *id)
{
	size_t i;

	for (i = 0; i < d->ndeleted; i++)
		if (netid_eq(&d->deleted[i], id))
			return 1;
	return 0;
}

void daemon_network_forget_deleted(struct daemon *d, const struct netid *id)
{
	size_t i;

	for (i = 0; i < d->ndeleted; i++) {
		if (netid_eq(&d->deleted[i], id)) {
			d->deleted[i] = d->deleted[--d->ndeleted];
			return;
		}
	}
}

int daemon_flow_room(struct daemon *d)
{
	if (d->flows_open + FD_RESERVE < d->fd_limit)
		return 1;
	d->ctr.flows_refused_fds++;
	return 0;
}

static void resume_event(evutil_socket_t fd, short what, void *arg)
{
	event_add(arg, NULL);
}

void daemon_pause_event(struct daemon *d, struct event *ev, uint64_t ms)
{
	struct timeval tv = timeval_from_ms(ms);

	d->ctr.accepts_paused++;
	event_del(ev);
	if (event_base_once(d->base, -1, EV_TIMEOUT, resume_event, ev, &tv) < 0)
		event_add(ev, NULL);
}

/* fd_budget() - every flow holds a socket: say at start when the
 * descriptors cannot carry max-flows */
static void fd_budget(struct daemon *d)
{
	struct rlimit rl;

	d->fd_limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
		      ? (uint64_t)rl.rlim_cur : UINT64_MAX;
	if (d->role != ROLE_RELAY && d->fd_limit < (uint64_t)d->cfg.max_flows + FD_RESERVE)
		log_warnx("file descriptors: the limit is %llu, fewer than max-flows (%u) needs; "
			  "past it new flows are refused (raise LimitNOFILE or ulimit -n)",
			  (unsigned long long)d->fd_limit, d->cfg.max_flows);
}

void daemon_save_state(struct daemon *d)
{
	state_save(d);
}

/* link_config_from() - the link core's limits from the configuration; a
 * packet is what fits a DTLS record in one datagram: each session sizes
 * its own for its path (pmtu.h), this is what fits any path (IPv6 through
 * a relay carries the most headers) */
static void link_config_from(struct link_config *lc, const struct config *c)
{
	link_config_default(lc);
	lc->max_packet = c->mtu - pmtu_overhead(PMTU_IPV6, 1, PMTU_PACKET);
	lc->flow_window_max = c->flow_window_max_bytes;
	lc->link_window_max = c->link_window_max_bytes;
	lc->send_buffer = c->send_buffer_bytes;
	lc->link_buffer = c->link_buffer_bytes;
	lc->max_flows = c->max_flows;
	lc->net_max_flows = c->network_max_flows;
	lc->dgram_max_age_us = c->datagram_max_age_ms * 1000;
	lc->cc = c->cc == CONFIG_CC_NEWRENO ? CC_NEWRENO : c->cc == CONFIG_CC_CUBIC ? CC_CUBIC : CC_BBR;
}

static int pinned(void *arg, const char *fp)
{
	return peer_find_fingerprint(arg, fp) != NULL;
}

/* load_policy() - the egress policy from the configuration's rules */
static struct policy *load_policy(const struct config *c, char *err, size_t errlen)
{
	struct policy *p = policy_new();
	size_t i;

	for (i = 0; i < c->negress; i++) {
		char origin[4200], e[256];

		snprintf(origin, sizeof(origin), "%s:%d", c->path, c->egress[i].line);
		if (policy_add_rule(p, c->egress[i].allow, c->egress[i].spec, origin, e, sizeof(e)) < 0) {
			snprintf(err, errlen, "%s: %s", origin, e);
			policy_free(p);
			return NULL;
		}
	}
	return p;
}

static void add_config_peers(struct daemon *d)
{
	size_t i, j;

	for (i = 0; i < d->cfg.npeer; i++) {
		const struct config_peer *cp = &d->cfg.peer[i];
		struct peer *p = peer_new(d, cp->name, cp->fingerprint);

		p->from_config = 1;
		for (j = 0; j < cp->nendpoint; j++)
			peer_add_endpoint(p, (const struct sockaddr *)&cp->endpoint[j],
					  addr_len((const struct sockaddr *)&cp->endpoint[j]));
		for (j = 0; j < cp->nrelay; j++)
			snprintf(p->relay[p->nrelay++], sizeof(p->relay[0]), "%s", cp->relay[j]);
	}
}

static void add_config_networks(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->cfg.nnetwork; i++) {
		const struct config_network *cn = &d->cfg.network[i];
		char err[512];

		if (!network_add(d, &cn->id, cn->peer, cn->netns, cn->iface, cn, err, sizeof(err)))
			log_warnx("%s:%d: %s", d->cfg.path, cn->line, err);
	}
}

static void on_quit(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	log_info("signal %d: shutting down", (int)sig);
	d->quitting = 1;
	event_base_loopexit(d->base, NULL);
}

/* daemon_reload() - SIGHUP and the control command reload: the egress
 * policy, resolvers, candidate-allow, busy-poll-us and the log level are
 * re-read; peers,
 * networks and forwards of the file need a restart.  Returns 1 if the file
 * was reloaded, 0 if there is no file (only the resolvers are re-read), -1
 * with err ("FILE:LINE: message") if it fails to load: the running
 * configuration is kept. */
int daemon_reload(struct daemon *d, char *err, size_t errlen)
{
	struct config c;
	struct policy *p;

	if (!d->config_path[0]) {
		log_info("reload: no configuration file; re-reading %s", d->cfg.resolv_conf);
		if (d->role == ROLE_CONSUMER)
			egress_load_resolvers(d);
		return 0;
	}
	config_defaults(&c);
	if (config_load_file(&c, d->config_path, err, errlen) < 0) {
		log_warnx("reload failed, keeping the running configuration: %s", err);
		config_free(&c);
		return -1;
	}
	if (d->role == ROLE_CONSUMER) {
		if (!(p = load_policy(&c, err, errlen))) {
			log_warnx("reload failed, keeping the running configuration: %s", err);
			config_free(&c);
			return -1;
		}
		/* the host's addresses, routes and public addresses stay:
		 * netlink keeps them current, the file does not say them */
		policy_adopt_host(p, d->policy);
		policy_free(d->policy);
		d->policy = p;
	}
	log_init(c.log_level - LOG_LVL_INFO);
	snprintf(d->cfg.resolv_conf, sizeof(d->cfg.resolv_conf), "%s", c.resolv_conf);
	/* candidates already learned stay; the filter applies to new ones */
	memcpy(d->cfg.candidate_allow, c.candidate_allow, sizeof(c.candidate_allow));
	d->cfg.ncandidate_allow = c.ncandidate_allow;
	d->cfg.busy_poll_us = d->bp.budget_us = c.busy_poll_us;
	if (d->role == ROLE_CONSUMER)
		egress_load_resolvers(d);
	config_free(&c);
	log_info("configuration reloaded from %s", d->config_path);
	return 1;
}

static void on_reload(evutil_socket_t sig, short what, void *arg)
{
	char err[1024];

	daemon_reload(arg, err, sizeof(err));
}

static void on_housekeeping(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	uint64_t now = clock_now_ms();
	struct network *n;
	struct flow *f, *next;

	TAILQ_FOREACH(n, &d->networks, entry) {
		TAILQ_FOREACH_SAFE(f, &n->flows, entry, next)
			flow_check_idle(f, now);
		if (n->cap)
			capture_housekeeping(n->cap, now);
	}
	relay_housekeeping(d, now);
	forward_housekeeping(d, now);
	mesh_flush(d->mesh);
}

static int setup_events(struct daemon *d)
{
	struct timeval hk = { HOUSEKEEPING_MS / 1000, 0 };

	/* no EVENT_BASE_FLAG_PRECISE_TIMER: the one timer that needs
	 * microseconds, a link's pacing, has a timerfd of its own (session.c
	 * precise_timer()); the flag would set one on every turn of the loop */
	d->base = event_base_new();
	if (!d->base || event_base_priority_init(d->base, 2) < 0)
		return -1;
	d->sig_term = evsignal_new(d->base, SIGTERM, on_quit, d);
	d->sig_int = evsignal_new(d->base, SIGINT, on_quit, d);
	d->sig_hup = evsignal_new(d->base, SIGHUP, on_reload, d);
	d->housekeeping = event_new(d->base, -1, EV_PERSIST, on_housekeeping, d);
	signal(SIGPIPE, SIG_IGN);
	event_add(d->sig_term, NULL);
	event_add(d->sig_int, NULL);
	event_add(d->sig_hup, NULL);
	event_add(d->housekeeping, &hk);
	return 0;
}

int daemon_init(struct daemon *d, enum role role, const char *config_path, char *err,
		size_t errlen)
{
	d->role = role;
	d->started_ms = clock_now_ms();
	fd_budget(d);
	TAILQ_INIT(&d->peers);
	TAILQ_INIT(&d->networks);
	TAILQ_INIT(&d->forwards);
	TAILQ_INIT(&d->runs);
	TAILQ_INIT(&d->pump);
	busypoll_init(&d->bp, d->cfg.busy_poll_us);
	snprintf(d->config_path, sizeof(d->config_path), "%s", config_path ? config_path : "");
	/* first of all: the helper must not inherit the identity's key, the
	 * mesh socket or anything else the daemon opens from here on */
	if (role == ROLE_PROVIDER && privdrop_capture_caps() &&
	    !(d->privsep = privsep_start(err, errlen)))
		return -1;
	if (mkdir_p(d->cfg.state_dir, 0700) < 0) {
		snprintf(err, errlen, "%s: cannot create the state directory: %s", d->cfg.state_dir,
			 strerror(errno));
		return -1;
	}
	if (identity_load(&d->id, d->cfg.state_dir, err, errlen) < 0)
		return -1;
	if (setup_events(d) < 0) {
		snprintf(err, errlen, "cannot set up the event loop");
		return -1;
	}
	if (role == ROLE_PROVIDER && !d->privsep && netns_init() < 0) {
		snprintf(err, errlen, "cannot open this process's network namespace: %s", strerror(errno));
		return -1;
	}
	chunk_pool_init(&d->pool, d->cfg.memory_limit_bytes);
	link_config_from(&d->link_cfg, &d->cfg);
	if (!(d->dtls = dtls_ctx_new(&d->id, pinned, d, err, errlen)))
		return -1;
	if (!(d->mesh = mesh_new(d, (struct sockaddr *)&d->cfg.listen, d->cfg.listen_len, err, errlen)))
		return -1;
	if (role == ROLE_CONSUMER) {
		if (!(d->policy = load_policy(&d->cfg, err, errlen)))
			return -1;
		egress_watch_start(d);
		egress_load_resolvers(d);
	}
	if (role == ROLE_RELAY)
		d->relay = relay_new(d);
	add_config_peers(d);
	add_config_networks(d);
	if (role == ROLE_CONSUMER)
		forward_add_config(d);
	state_load(d);
	if (!(d->control = control_new(d, d->cfg.control_socket, err, errlen)))
		return -1;
	log_info("omnetd %s: %s, identity %s, control %s", OMNET_VERSION, role_name(role),
		 d->id.fingerprint, d->cfg.control_socket);
	return 0;
}

/* busy_poll() - poll for work, yielding the CPU between turns, while
 * the core says to (busypoll.h) */
static void busy_poll(struct daemon *d)
{
	uint64_t start = clock_now_us(), before = d->bp.found;

	do {
		if (event_base_loop(d->base, EVLOOP_NONBLOCK) < 0)
			break;
		sched_yield(); /* whatever else is runnable on this core first */
	} while (!d->quitting && busypoll_more(&d->bp, clock_now_us(), d->io_bytes));
	d->ctr.busy_polls += d->bp.found - before;
	d->ctr.busy_poll_us += clock_now_us() - start;
}

int daemon_run(struct daemon *d)
{
	struct peer *p;

	TAILQ_FOREACH(p, &d->peers, entry)
		peer_start(p);
	while (!d->quitting) {
		uint64_t io = d->io_bytes;
		int rc = event_base_loop(d->base, EVLOOP_ONCE);

		if (rc != 0)
			return rc < 0 ? -1 : 0; /* 1: no event left to wait for */
		if (busypoll_start(&d->bp, clock_now_us(), io, d->io_bytes))
			busy_poll(d);
	}
	return 0;
}

static void free_event(struct event *ev)
{
	if (ev)
		event_free(ev);
}

void daemon_free(struct daemon *d)
{
	struct network *n;
	struct peer *p;

	/* router mappings are deleted; forwards' clients waiting are reset */
	forward_free_all(d);
	/* commands first, so a VM does not see its network go first */
	vmrun_stop_all(d);
	/* flows are reset towards both ends; the resets go out before the
	 * socket closes, so the peer does not wait for timeouts */
	while ((n = TAILQ_FIRST(&d->networks))) {
		struct flow *f;

		while ((f = TAILQ_FIRST(&n->flows)))
			flow_abort(f, RST_LINK);
		capture_free(n->cap);
		TAILQ_REMOVE(&d->networks, n, entry);
		free(n);
	}
	control_free(d->control);
	/* closing the sessions sends each peer a close_notify */
	while ((p = TAILQ_FIRST(&d->peers))) {
		p->admin_down = 1; /* no reconnecting on the way out */
		peer_free(p);
	}
	if (d->mesh)
		mesh_flush(d->mesh);
	relay_free(d->relay);
	mesh_free(d->mesh);
	dtls_ctx_free(d->dtls);
	egress_watch_stop(d);
	policy_free(d->policy);
	free_event(d->sig_term);
	free_event(d->sig_int);
	free_event(d->sig_hup);
	free_event(d->housekeeping);
	if (d->base)
		event_base_free(d->base);
	chunk_pool_destroy(&d->pool);
	/* last: every capture was torn down through it above */
	privsep_stop(d->privsep);
	identity_free(&d->id);
	free(d->deleted);
	config_free(&d->cfg);
}
