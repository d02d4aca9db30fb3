/* peer.c: peers, the state of each link, and endpoint negotiation.
 *
 * Everything that decides how a peer is reached is here; path.c holds the
 * pure parts (candidates, preference, probe timing, backoff) and
 * session.c carries out what is decided (handshakes, challenges,
 * migration).  The rules:
 *
 *   - negotiate_endpoint() is the only way a round starts: the first
 *     connection, every recovery and every upgrade attempt.
 *   - Without a session a round dials every candidate at once; the first
 *     to answer (a stateless HelloVerifyRequest, so the server has kept
 *     nothing for the others) goes on, the rest are dropped.
 *   - With a session a round challenges candidates inside it.  While
 *     connected it challenges only better ones (an upgrade); after the
 *     path is lost, all of them.  The session moves to the best that
 *     answered; its unacknowledged data goes again on the new path.
 *   - The peer moving is followed: data from another path gets that path
 *     challenged, and once it answers we send there too.
 *   - Rounds repeat with backoff while no path answers, forever, until a
 *     person disconnects the peer. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "dtls.h"
#include "egress.h"
#include "link.h"
#include "log.h"
#include "osutil.h"
#include "mesh.h"
#include "netlink.h"
#include "network.h"
#include "peer.h"
#include "relay.h"
#include "session.h"
#include "util.h"

#define CAND_TTL_MS (3 * RELAY_REFRESH_MS + 5000) /* learned candidates, unless repeated */
#define TIE_WINDOW_MS 2000   /* sessions established this close are simultaneous */
#define LOCAL_ADDRS_MS 10000 /* how long the list of our own addresses is trusted */
#define FOLLOW_QUIET_MS 1000 /* our path silent this long: follow the peer even to a worse one */
#define FILTER_LOG_MS 10000  /* dropped candidates: one line per peer this often at most */
#define OBSERVED_LOG_MS 1000 /* a relay's changing story: logged and passed on once a second */
#define DIAL_MIN_BYTES 256   /* a ClientHello with its headers */
#define DIAL_BYTES 512       /* a dial to an unvalidated address: two ClientHellos */

static const char *const state_names[] = {
	[PEER_CONNECTING] = "connecting",
	[PEER_CONNECTED] = "connected",
	[PEER_DEGRADED] = "degraded",
	[PEER_RECONNECTING] = "reconnecting",
	[PEER_DISCONNECTED] = "disconnected",
};

static void negotiate_endpoint(struct peer *p, const char *why);
static void send_label(struct peer *p);
static void arm(struct peer *p);
static void on_tick(evutil_socket_t fd, short what, void *arg);

const char *peer_state_name(enum peer_state st)
{
	return state_names[st];
}

/* effective_method() - our label for the path, or the peer's when it
 * sends on the same path and knows it better: a provider that dialled the
 * consumer's configured address calls the path direct, and so does the
 * consumer, though it may know the provider's address only as one a relay
 * saw */
static enum path_method effective_method(const struct peer *p)
{
	const struct session *s = p->session;

	if (p->have_label && p->label < s->method && path_addr_eq(&p->label_path, &s->path))
		return p->label;
	return s->method;
}

const char *peer_method(const struct peer *p)
{
	return p->session ? path_method_name(effective_method(p)) : NULL;
}

/* set_state() - every change is logged with its reason and the method */
static void set_state(struct peer *p, enum peer_state st, const char *why)
{
	char a[96];

	if (p->state == st)
		return;
	if (p->session)
		log_info("peer %s: %s -> %s: %s (method %s, path %s)", p->name,
			 state_names[p->state], state_names[st], why ? why : "-",
			 path_method_name(p->session->method), path_addr_fmt(&p->session->path, a));
	else
		log_info("peer %s: %s -> %s: %s", p->name, state_names[p->state], state_names[st],
			 why ? why : "-");
	p->state = st;
	p->state_since_ms = clock_now_ms();
}

/* ---- peers --------------------------------------------------------------- */

struct peer *peer_new(struct daemon *d, const char *name, const char *fingerprint)
{
	struct peer *p = xcalloc(1, sizeof(*p));

	p->d = d;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->fingerprint, sizeof(p->fingerprint), "%s", fingerprint);
	if (strncmp(fingerprint, "sha256:", 7) == 0)
		hex_decode(fingerprint + 7, p->key, sizeof(p->key));
	p->state = PEER_CONNECTING;
	p->state_since_ms = clock_now_ms();
	p->backoff.min_ms = d->cfg.backoff_min_ms;
	p->backoff.max_ms = d->cfg.backoff_max_ms;
	p->timer = evtimer_new(d->base, on_tick, p);
	TAILQ_INSERT_TAIL(&d->peers, p, entry);
	return p;
}

static void drop_attempts(struct peer *p, const struct session *keep)
{
	size_t i, n = 0;

	for (i = 0; i < p->nattempt; i++) {
		if (p->attempt[i] == keep)
			p->attempt[n++] = p->attempt[i];
		else
			session_discard(p->attempt[i], NULL);
	}
	p->nattempt = n;
}

void peer_free(struct peer *p)
{
	struct daemon *d = p->d;

	drop_attempts(p, NULL);
	if (p->session)
		session_close(p->session, "peer removed");
	if (p->admin_down)
		d->ndown--;
	relay_peer_gone(d, p);
	event_free(p->timer);
	TAILQ_REMOVE(&d->peers, p, entry);
	free(p);
}

struct peer *peer_find(struct daemon *d, const char *name)
{
	struct peer *p;

	TAILQ_FOREACH(p, &d->peers, entry)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

struct peer *peer_find_fingerprint(struct daemon *d, const char *fp)
{
	struct peer *p;

	TAILQ_FOREACH(p, &d->peers, entry)
		if (strcmp(p->fingerprint, fp) == 0)
			return p;
	return NULL;
}

struct peer *peer_find_key(struct daemon *d, const uint8_t key[WIRE_KEY_LEN])
{
	struct peer *p;

	TAILQ_FOREACH(p, &d->peers, entry)
		if (memcmp(p->key, key, WIRE_KEY_LEN) == 0)
			return p;
	return NULL;
}

int peer_add_endpoint(struct peer *p, const struct sockaddr *sa, socklen_t len)
{
	if (p->nendpoint >= PEER_MAX_ENDPOINTS)
		return -1;
	memcpy(&p->endpoint[p->nendpoint++], sa, len);
	return 0;
}

/* relay_index() - which of p's relays r is, or -1 */
static int relay_index(const struct peer *p, const struct peer *r)
{
	size_t i;

	for (i = 0; i < p->nrelay; i++)
		if (strcmp(p->relay[i], r->name) == 0)
			return (int)i;
	return -1;
}

int peer_is_relay(const struct peer *r)
{
	const struct peer *p;

	TAILQ_FOREACH(p, &r->d->peers, entry)
		if (relay_index(p, r) >= 0)
			return 1;
	return 0;
}

static struct peer *relay_of(const struct peer *p, int i)
{
	return i >= 0 && (size_t)i < p->nrelay ? peer_find(p->d, p->relay[i]) : NULL;
}

/* usable() - a relayed candidate goes through a relay we are connected to */
static int usable(const struct peer *p, const struct path_cand *c)
{
	struct peer *r;

	if (c->method != PATH_RELAY)
		return 1;
	r = relay_of(p, c->relay);
	return r && r->session && r->state == PEER_CONNECTED &&
	       addr_eq((const struct sockaddr *)&r->session->path.sa,
		       (const struct sockaddr *)&c->to.sa);
}

/* ---- what we tell peers and relays about ourselves ---------------------- */

/* The host's own addresses with their prefixes, as netlink last listed
 * them: what we announce, and where candidates must not point. */
static struct {
	struct nl_ifaddr *a;
	struct path_prefix *pfx;
	size_t n;
	uint64_t at_ms;
} local;

static void local_refresh(void)
{
	uint64_t now = clock_now_ms();
	struct nl_ifaddr *a = NULL;
	size_t n = 0, i;

	if (local.at_ms && now - local.at_ms < LOCAL_ADDRS_MS)
		return;
	local.at_ms = now;
	if (nl_addr_list(&a, &n) < 0)
		return; /* keep what we had */
	free(local.a);
	free(local.pfx);
	local.a = a;
	local.n = n;
	local.pfx = xcalloc(n + 1, sizeof(*local.pfx));
	for (i = 0; i < n; i++) {
		local.pfx[i].family = a[i].family;
		memcpy(local.pfx[i].addr, a[i].addr, 16);
		local.pfx[i].len = a[i].prefixlen;
	}
}

/* local_only() - loopback and IPv6 link-local addresses reach no peer */
static int local_only(const struct nl_ifaddr *a)
{
	if (a->family == AF_INET)
		return a->addr[0] == 127;
	return (a->addr[0] == 0xfe && (a->addr[1] & 0xc0) == 0x80) ||
	       (memcmp(a->addr, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0);
}

/* local_cands() - our own addresses with the mesh port: a peer on the same
 * network reaches us on them directly */
static size_t local_cands(struct daemon *d, uint8_t *method, struct ipport *addr, size_t max)
{
	const struct sockaddr *bound = mesh_local_sockaddr(d->mesh);
	uint16_t port = mesh_local_port(d->mesh);
	size_t n = 0, i;

	if (!addr_is_any(bound)) {
		if (max) {
			method[0] = WIRE_CAND_DIRECT;
			ipport_from_sa(&addr[0], bound);
		}
		return MIN(max, (size_t)1);
	}
	local_refresh();
	for (i = 0; i < local.n && n < max; i++) {
		if (local.a[i].family != bound->sa_family || local_only(&local.a[i]))
			continue;
		memset(&addr[n], 0, sizeof(addr[0]));
		addr[n].family = (uint8_t)local.a[i].family;
		memcpy(addr[n].addr, local.a[i].addr, 16);
		addr[n].port = port;
		method[n++] = WIRE_CAND_DIRECT;
	}
	return n;
}

/* all_cands() - local addresses, then the addresses relays see us from */
static size_t all_cands(struct daemon *d, uint8_t *method, struct ipport *addr)
{
	size_t n = local_cands(d, method, addr, WIRE_MAX_CANDIDATES), i;
	struct peer *r;

	TAILQ_FOREACH(r, &d->peers, entry) {
		if (!r->have_observed || n == WIRE_MAX_CANDIDATES)
			continue;
		for (i = 0; i < n; i++)
			if (memcmp(&addr[i], &r->observed, sizeof(r->observed)) == 0)
				break;
		if (i < n)
			continue;
		method[n] = WIRE_CAND_REFLEXIVE;
		addr[n++] = r->observed;
	}
	return n;
}

/* ask_relay() - ask relay r to introduce us to q (soft state, repeated) */
static void ask_relay(struct peer *r, struct peer *q)
{
	uint8_t frame[1024], method[WIRE_MAX_CANDIDATES];
	struct ipport addr[WIRE_MAX_CANDIDATES];
	struct wbuf b = { frame, 0, sizeof(frame) };
	size_t n;

	if (!r->session || r->state != PEER_CONNECTED || q->admin_down)
		return;
	n = local_cands(r->d, method, addr, WIRE_MAX_CANDIDATES);
	if (wire_put_relay_cand(&b, WF_RELAY_CONNECT, q->key, 0, method, addr, n) == 0)
		session_queue_frame(r->session, frame, b.len);
}

/* announce() - what we repeat to a connected peer: our candidates to an
 * ordinary peer, our requests to a relay */
static void announce(struct peer *p)
{
	uint8_t method[WIRE_MAX_CANDIDATES];
	struct ipport addr[WIRE_MAX_CANDIDATES];
	struct daemon *d = p->d;
	struct peer *q;
	size_t n;

	p->announce_ms = clock_now_ms() + RELAY_REFRESH_MS;
	if (!p->session || d->role == ROLE_RELAY)
		return;
	if (peer_is_relay(p)) {
		TAILQ_FOREACH(q, &d->peers, entry)
			if (relay_index(q, p) >= 0)
				ask_relay(p, q);
		return;
	}
	n = all_cands(d, method, addr);
	link_queue_candidates(p->session->link, method, addr, n);
	send_label(p);
	session_wake(p->session);
}

/* send_label() - tell the peer how we found the path we send on */
static void send_label(struct peer *p)
{
	uint8_t frame[4];
	struct wbuf b = { frame, 0, sizeof(frame) };

	if (p->session && wire_put_path_method(&b, (uint8_t)p->session->method) == 0)
		session_queue_frame(p->session, frame, b.len);
}

void peer_path_label(struct peer *p, struct session *s, uint8_t method,
		     const struct path_addr *from)
{
	if (!p || s != p->session)
		return;
	p->label_path = *from;
	p->label = (enum path_method)method;
	p->have_label = 1;
}

/* ---- candidates ---------------------------------------------------------- */

/* add_cand() - a candidate into the peer's set, counting what it pushed out */
static struct path_cand *add_cand(struct peer *p, const struct path_addr *to, enum path_method m,
				  enum path_origin origin, int relay, uint64_t expires_ms)
{
	struct path_new n = { to, m, origin, relay, expires_ms };
	uint64_t before = p->cands.evicted;
	struct path_cand *c = pathset_add(&p->cands, &n, p->session ? &p->session->path : NULL,
					  clock_now_ms());

	p->d->ctr.candidates_evicted += p->cands.evicted - before;
	return c;
}

static void add_endpoints(struct peer *p)
{
	struct path_addr pa;
	size_t i;

	for (i = 0; i < p->nendpoint; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&p->endpoint[i];

		path_addr_direct(&pa, sa, addr_len(sa));
		add_cand(p, &pa, PATH_DIRECT, PATH_CONFIGURED, -1, 0);
	}
}

/* own_prefixes() - this host's networks: its interfaces' prefixes, and on
 * a provider the VM networks it serves (they live in capture namespaces,
 * not among the interfaces, but they are this host's all the same).  The
 * caller frees the array. */
static struct path_prefix *own_prefixes(struct daemon *d, size_t *n)
{
	struct path_prefix *own;
	struct network *net;
	size_t k = 0;

	local_refresh();
	TAILQ_FOREACH(net, &d->networks, entry)
		k++;
	own = xcalloc(local.n + k + 1, sizeof(*own));
	memcpy(own, local.pfx, local.n * sizeof(*own));
	*n = local.n;
	TAILQ_FOREACH(net, &d->networks, entry) {
		if (!net->cap)
			continue;
		own[*n].family = AF_INET;
		memcpy(own[*n].addr, &net->gateway, 4);
		own[(*n)++].len = net->prefix_len;
	}
	return own;
}

/* cand_allowed() - may an address a peer or relay named, or traffic came
 * from, become a candidate?  A refusal is counted, and logged now and then
 * naming the peer and who told us. */
static int cand_allowed(struct peer *p, const struct sockaddr *sa, const char *source)
{
	const struct config *cfg = &p->d->cfg;
	struct path_prefix allow[CONFIG_CANDIDATE_ALLOW_MAX], *own;
	uint64_t now = clock_now_ms();
	enum path_verdict v;
	char a[ADDRSTRLEN];
	size_t i, nown;

	for (i = 0; i < cfg->ncandidate_allow; i++) {
		allow[i].family = cfg->candidate_allow[i].family;
		memcpy(allow[i].addr, cfg->candidate_allow[i].addr, 16);
		allow[i].len = cfg->candidate_allow[i].prefix_len;
	}
	own = own_prefixes(p->d, &nown);
	v = path_filter(sa, own, nown, allow, cfg->ncandidate_allow);
	free(own);
	if (v == PATH_OK)
		return 1;
	p->d->ctr.candidates_filtered++;
	p->filtered++;
	if (!p->filter_log_ms || now - p->filter_log_ms >= FILTER_LOG_MS) {
		log_warnx("peer %s: candidate %s from %s dropped: %s (%llu dropped so far;"
			  " candidate-allow accepts a range)", p->name, addr_fmt(sa, a), source,
			  path_verdict_name(v), (unsigned long long)p->filtered);
		p->filter_log_ms = now;
	}
	return 0;
}

/* classify() - how a path we did not know the peer by was found: through a
 * relay; or straight from a new address, which is the kind of path we had
 * (a NAT that rebound) or, coming off a relay, one opened from both sides
 * (the peer's own label says if it is better) */
static enum path_method classify(const struct peer *p, const struct path_addr *from)
{
	const struct session *s = p->session;

	if (from->channel)
		return PATH_RELAY;
	if (!s)
		return PATH_DIRECT;
	return s->method == PATH_RELAY ? PATH_HOLE_PUNCHED : s->method;
}

static int relay_index_by_path(const struct peer *p, const struct path_addr *to)
{
	size_t i;

	if (!to->channel)
		return -1;
	for (i = 0; i < p->nrelay; i++) {
		struct peer *r = peer_find(p->d, p->relay[i]);

		if (r && r->session &&
		    addr_eq((const struct sockaddr *)&r->session->path.sa,
			    (const struct sockaddr *)&to->sa))
			return (int)i;
	}
	return -1;
}

/* learn() - a candidate a peer or relay (source) announced; one we know
 * already is refreshed, a new one must pass the filter */
static void learn(struct peer *p, const struct ipport *ip, uint8_t how, uint64_t expires,
		  const char *source)
{
	struct sockaddr_storage ss;
	struct path_addr pa;
	socklen_t len = ipport_to_sa(ip, &ss);

	if (!len)
		return;
	path_addr_direct(&pa, (struct sockaddr *)&ss, len);
	if (!pathset_find(&p->cands, &pa) && !cand_allowed(p, (struct sockaddr *)&ss, source))
		return;
	add_cand(p, &pa, how == WIRE_CAND_REFLEXIVE ? PATH_HOLE_PUNCHED : PATH_DIRECT,
		 PATH_ANNOUNCED, -1, expires);
}

void peer_candidates(struct peer *p, struct session *s, const struct wire_frame *fr)
{
	uint64_t exp = clock_now_ms() + CAND_TTL_MS;
	size_t i;

	if (!p || p->d->role == ROLE_RELAY)
		return;
	for (i = 0; i < fr->u.cand.n; i++)
		learn(p, &fr->u.cand.addr[i], fr->u.cand.method[i], exp, "its CANDIDATES");
	(void)s;
}

void peer_relay_observed(struct peer *r, const struct ipport *addr)
{
	struct peer *q;
	char a[ADDRSTRLEN], source[CONFIG_NAME_MAX + 8];
	struct sockaddr_storage ss;
	uint64_t now = clock_now_ms();

	if (!r || (r->have_observed && memcmp(&r->observed, addr, sizeof(*addr)) == 0))
		return;
	r->observed = *addr;
	r->have_observed = 1;
	/* that is our public address: the VM must not come back in through it */
	snprintf(source, sizeof(source), "relay %s", r->name);
	egress_note_public(r->d, addr, source);
	/* a relay that keeps changing its story is heard once a second; the
	 * latest address goes out with the next announcement anyway */
	if (r->observed_ms && now - r->observed_ms < OBSERVED_LOG_MS)
		return;
	r->observed_ms = now;
	ipport_to_sa(addr, &ss);
	log_info("peer %s: relay sees us at %s", r->name, addr_fmt((struct sockaddr *)&ss, a));
	/* peers we are connected to learn our new address at once */
	TAILQ_FOREACH(q, &r->d->peers, entry)
		if (q->session && !peer_is_relay(q)) {
			q->announce_ms = now;
			arm(q);
		}
}

int peer_relay_intro(struct peer *r, struct session *s, const struct wire_frame *fr)
{
	struct peer *q = r ? peer_find_key(r->d, fr->u.cand.key) : NULL;
	uint64_t exp = clock_now_ms() + RELAY_TTL_MS;
	struct path_addr pa;
	int ri = q ? relay_index(q, r) : -1, fresh;
	char source[CONFIG_NAME_MAX + 8];
	size_t i;

	/* only peers that name this relay as theirs are met through it */
	if (ri < 0 || !fr->u.cand.channel)
		return -1;
	if (q->admin_down)
		return 0;
	pa = s->path;
	pa.channel = fr->u.cand.channel;
	fresh = !pathset_find(&q->cands, &pa);
	add_cand(q, &pa, PATH_RELAY, PATH_ANNOUNCED, ri, exp);
	snprintf(source, sizeof(source), "relay %s", r->name);
	for (i = 0; i < fr->u.cand.n; i++)
		learn(q, &fr->u.cand.addr[i], fr->u.cand.method[i], exp, source);
	if (fresh)
		log_info("peer %s: relay %s introduced it (channel %08x, %zu candidates)", q->name,
			 r->name, pa.channel, fr->u.cand.n);
	/* a peer waiting for a way to reach it tries the new ones now */
	if (fresh && !q->session && !q->nattempt)
		negotiate_endpoint(q, "introduced by a relay");
	return 0;
}

/* ---- negotiation ------------------------------------------------------- */

/* in_use() - is c the path the session is on */
static int in_use(const struct peer *p, const struct path_cand *c)
{
	return p->session && path_addr_eq(&c->to, &p->session->path);
}

/* challenge() - a PATH_CHALLENGE to c, as large as its allowance lets it
 * be (RFC 9000 8.2.1): padded on a validated path, bare on a new one, not
 * at all when the allowance is spent */
static void challenge(struct peer *p, struct path_cand *c)
{
	uint64_t r = random_u64(), now = clock_now_ms();
	uint8_t data[PATH_CHALLENGE_LEN];
	size_t n;

	memcpy(data, &r, sizeof(data));
	n = session_challenge(p->session, &c->to, data,
			      path_cand_probe_max(c, in_use(p, c), now));
	if (!n) {
		p->d->ctr.path_sends_limited++;
		return;
	}
	memcpy(c->challenge, data, sizeof(c->challenge));
	c->challenged_ms = now;
	path_cand_sent(c, n);
}

/* dial_budget() - what a handshake to c may send in all: no limit once
 * validated or configured, else a share of its allowance (0: none) */
static uint64_t dial_budget(struct path_cand *c)
{
	uint64_t allow = path_cand_allowance(c, 0, clock_now_ms());

	if (allow == PATH_UNLIMITED)
		return allow;
	if (allow < DIAL_MIN_BYTES)
		return 0;
	allow = MIN(allow, (uint64_t)DIAL_BYTES);
	path_cand_sent(c, allow);
	return allow;
}

/* dial_all() - a handshake on every usable candidate at once */
static void dial_all(struct peer *p)
{
	int m;
	size_t i;

	for (m = PATH_DIRECT; m <= PATH_RELAY; m++) {
		for (i = 0; i < p->cands.n && p->nattempt < PEER_MAX_ATTEMPTS; i++) {
			struct path_cand *c = &p->cands.c[i];
			struct session *s;
			uint64_t budget;

			if ((int)c->method != m || !usable(p, c))
				continue;
			if (!(budget = dial_budget(c))) {
				p->d->ctr.path_sends_limited++;
				continue;
			}
			s = session_client_new(p->d, p->d->mesh, p, &c->to, c->method, budget);
			if (s)
				p->attempt[p->nattempt++] = s;
		}
	}
}

/* schedule_round() - the next round: backoff while no path answers; while
 * connected by a worse method than direct, upgrade attempts at probe
 * intervals; none when there is nothing to try */
static void schedule_round(struct peer *p)
{
	uint64_t now = clock_now_ms(), delay;

	p->next_round_ms = 0;
	if (p->admin_down || p->d->role == ROLE_RELAY)
		return;
	if (p->state == PEER_CONNECTED) {
		if (effective_method(p) == PATH_DIRECT)
			return;
		delay = p->mon.interval_ms; /* grows from probe-interval-min to -max */
	} else {
		if (!p->cands.n && !p->session)
			return; /* nothing to dial: it will dial us */
		delay = backoff_next(&p->backoff, random_u64());
	}
	p->retry_delay_ms = p->state == PEER_CONNECTED ? delay : p->backoff.last_ms;
	p->next_round_ms = now + delay;
}

/* negotiate_endpoint() - one round of finding the way to the peer */
static void negotiate_endpoint(struct peer *p, const char *why)
{
	uint64_t now = clock_now_ms();
	struct session *s = p->session;
	size_t i;

	p->next_round_ms = 0;
	if (p->admin_down)
		return;
	log_debug("peer %s: negotiating (%s), %zu candidates", p->name, why, p->cands.n);
	if (p->state == PEER_DEGRADED && now - p->lost_ms >= p->d->cfg.probe_timeout_ms)
		set_state(p, PEER_RECONNECTING, "no path answered");
	p->round_ms = now;
	add_endpoints(p);
	if (s) {
		int upgrade = p->state == PEER_CONNECTED;

		for (i = 0; i < p->cands.n; i++) {
			struct path_cand *c = &p->cands.c[i];

			if (!usable(p, c) || (upgrade && c->method >= s->method))
				continue;
			challenge(p, c);
		}
	} else if (!p->nattempt && p->d->role != ROLE_RELAY) {
		dial_all(p); /* a relay never dials: its peers come to it */
	}
	schedule_round(p);
	arm(p);
}

static uint64_t busy_ms(const struct peer *p)
{
	const struct session *s = p->session;
	const struct rtt *r;

	if (!s || !s->link || !link_bytes_in_flight(s->link))
		return 0;
	r = link_rtt(s->link);
	return MAX((uint64_t)200, r->has_sample ? 3 * r->smoothed_us / 1000 : 0);
}

static void path_lost(struct peer *p, uint64_t now)
{
	char why[96];

	snprintf(why, sizeof(why), "no answer on the path for %llu ms",
		 (unsigned long long)(now - p->mon.last_rx_ms));
	snprintf(p->last_error, sizeof(p->last_error), "%s", why);
	p->lost_ms = now;
	backoff_reset(&p->backoff);
	set_state(p, PEER_DEGRADED, why);
	negotiate_endpoint(p, why);
}

static void check_health(struct peer *p, uint64_t now)
{
	struct path_cand *cur = pathset_find(&p->cands, &p->session->path);

	switch (pathmon_check(&p->mon, now, busy_ms(p))) {
	case PM_PROBE:
		if (cur)
			challenge(p, cur);
		break;
	case PM_LOST:
		path_lost(p, now);
		break;
	case PM_WAIT:
		break;
	}
}

/* use_path() - send on c from now on; the link is connected again */
static void use_path(struct peer *p, struct path_cand *c, const char *why)
{
	struct session *s = p->session;
	uint64_t now = clock_now_ms();
	int recovered = p->state != PEER_CONNECTED;

	/* a path that is back after an outage needs its link restarted too:
	 * timers backed off for lack of answers would hold the data back */
	if (recovered || !path_addr_eq(&c->to, &s->path) || c->method != s->method)
		session_migrate(s, &c->to, c->method, why);
	pathmon_start(&p->mon, p->d->cfg.probe_interval_min_ms, p->d->cfg.probe_interval_max_ms,
		      p->d->cfg.probe_timeout_ms, now);
	if (recovered) {
		backoff_reset(&p->backoff);
		p->last_error[0] = '\0';
		set_state(p, PEER_CONNECTED, why);
	}
	send_label(p);
	schedule_round(p);
}

/* consider_switch() - a candidate answered: is it the one to use? */
static void consider_switch(struct peer *p, struct path_cand *c)
{
	struct session *s = p->session;
	struct path_cand *best;

	if (p->state != PEER_CONNECTED) {
		best = pathset_best(&p->cands, p->lost_ms, &s->path);
		if (best)
			use_path(p, best, "a path answered again");
		return;
	}
	if (path_addr_eq(&c->to, &s->path))
		return;
	/* the peer moved: to a new address of the same kind (its NAT
	 * rebound), or away from a path that went silent here too (it saw the
	 * path die first: it was sending, we were only receiving) */
	if (c->method < s->method)
		use_path(p, c, "upgrade to a better path");
	else if (path_addr_eq(&c->to, &p->peer_path) &&
		 (c->method == s->method || clock_now_ms() - p->mon.last_rx_ms >= FOLLOW_QUIET_MS))
		use_path(p, c, "following the peer to its path");
}

void peer_path_response(struct peer *p, struct session *s, const uint8_t *data,
			const struct path_addr *from)
{
	uint64_t now = clock_now_ms();
	struct path_cand *c;

	if (!p || s != p->session || !(c = pathset_answered(&p->cands, data, from, now)))
		return;
	if (path_addr_eq(&c->to, &s->path))
		pathmon_answered(&p->mon, now);
	consider_switch(p, c);
	arm(p);
}

void peer_path_alive(struct peer *p, struct session *s, const struct path_addr *from,
		     int probing, size_t len)
{
	uint64_t now;
	struct path_cand *c;

	if (s != p->session)
		return;
	if (path_addr_eq(from, &s->path)) {
		pathmon_rx(&p->mon, s->last_rx_ms);
		return;
	}
	/* RFC 9000 8: what comes from an address earns it three times as
	 * much from us until it is validated */
	if ((c = pathset_find(&p->cands, from)))
		path_cand_received(c, len);
	if (probing)
		return;
	/* data from elsewhere: the peer moved (a new NAT mapping, a relay);
	 * the path must answer a challenge before we send there */
	if (!c && !from->channel && !cand_allowed(p, (const struct sockaddr *)&from->sa,
						  "its traffic"))
		return;
	now = clock_now_ms();
	p->peer_path = *from;
	if (!c && (c = add_cand(p, from, classify(p, from), PATH_LEARNED,
				relay_index_by_path(p, from), now + CAND_TTL_MS)))
		path_cand_received(c, len);
	if (!c)
		return;
	if (c->validated_ms && now - c->validated_ms < p->d->cfg.probe_timeout_ms)
		consider_switch(p, c);
	else if (!c->challenged_ms || now - c->challenged_ms >= p->d->cfg.probe_timeout_ms)
		challenge(p, c);
}

void peer_path_sent(struct peer *p, struct session *s, const struct path_addr *to, size_t bytes)
{
	struct path_cand *c;

	if (p && s == p->session && (c = pathset_find(&p->cands, to)))
		path_cand_sent(c, bytes);
}

/* ---- the timer ----------------------------------------------------------- */

static void arm(struct peer *p)
{
	uint64_t at = UINT64_MAX, now = clock_now_ms(), delay;
	struct timeval tv;

	if (p->admin_down) {
		evtimer_del(p->timer);
		p->timer_at_ms = 0;
		return;
	}
	if (p->next_round_ms)
		at = p->next_round_ms;
	if (p->session && p->state == PEER_CONNECTED)
		at = MIN(at, pathmon_deadline(&p->mon, busy_ms(p)));
	if (p->session && p->announce_ms)
		at = MIN(at, p->announce_ms);
	if (at == UINT64_MAX) {
		evtimer_del(p->timer);
		p->timer_at_ms = 0;
		return;
	}
	if (p->timer_at_ms == at)
		return;
	p->timer_at_ms = at;
	delay = at > now ? at - now : 0;
	tv = timeval_from_ms(delay);
	evtimer_add(p->timer, &tv);
}

void peer_kick(struct peer *p)
{
	uint64_t b;

	if (!p || !p->session || p->state != PEER_CONNECTED)
		return;
	/* the link just got busy: a cut must be noticed in busy time, not
	 * after the idle probe interval the timer was set for */
	b = busy_ms(p);
	if (b && (!p->timer_at_ms || p->timer_at_ms > clock_now_ms() + b))
		arm(p);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	uint64_t now = clock_now_ms();
	struct path_cand *cur;

	(void)fd;
	(void)what;
	p->timer_at_ms = 0;
	if (p->admin_down)
		return;
	if (p->session && (cur = pathset_find(&p->cands, &p->session->path))) {
		cur->expires_ms = cur->expires_ms ? now + CAND_TTL_MS : 0; /* in use: kept */
		/* authenticated traffic on it keeps it validated, so a dial
		 * there after the session ends is not held to an allowance */
		cur->validated_ms = MAX(cur->validated_ms, p->mon.last_rx_ms);
	}
	pathset_expire(&p->cands, now);
	if (p->next_round_ms && now >= p->next_round_ms)
		negotiate_endpoint(p, p->state == PEER_CONNECTED ? "upgrade" : "retry");
	else if (p->session && p->state == PEER_CONNECTED)
		check_health(p, now);
	if (p->session && p->announce_ms && now >= p->announce_ms)
		announce(p);
	arm(p);
}

/* ---- sessions ------------------------------------------------------------ */

static const char *client_fp(const struct peer *p, const struct session *s)
{
	return s->client ? p->d->id.fingerprint : p->fingerprint;
}

/* same_instance() - both sessions reach the same run of the peer's
 * daemon (the instance value of their handshakes) */
static int same_instance(const struct session *a, const struct session *b)
{
	uint8_t x[DTLS_INSTANCE_LEN], y[DTLS_INSTANCE_LEN];

	return dtls_peer_instance(a->dtls, x) == 0 && dtls_peer_instance(b->dtls, y) == 0 &&
	       memcmp(x, y, sizeof(x)) == 0;
}

/* simultaneous() - two sessions with the same run of the peer, one dialled
 * by each side, established at nearly the same time: both sides dialled */
static int simultaneous(struct session *old, struct session *s)
{
	return old->client != s->client && clock_now_ms() - old->established_ms < TIE_WINDOW_MS &&
	       same_instance(old, s);
}

/* keep_old() - of simultaneous sessions, both sides keep the one dialled by
 * the smaller key; otherwise the newer wins (the peer restarted, or gave
 * up on the old session and dialled again) */
static int keep_old(struct peer *p, struct session *old, struct session *s)
{
	return simultaneous(old, s) && strcmp(client_fp(p, old), client_fp(p, s)) < 0;
}

void peer_session_up(struct peer *p, struct session *s)
{
	struct session *old = p->session;
	struct path_cand *c;
	size_t i;

	for (i = 0; i < p->nattempt; i++)
		if (p->attempt[i] == s)
			p->attempt[i--] = p->attempt[--p->nattempt];
	if (old && keep_old(p, old, s)) {
		session_discard(s, "both sides dialled at once: keeping the session the smaller key dialled");
		return;
	}
	if (p->admin_down) {
		session_discard(s, "disconnected by the operator");
		return;
	}
	if (old)
		session_discard(old, simultaneous(old, s)
			? "both sides dialled at once: keeping the session the smaller key dialled"
			: same_instance(old, s) ? "replaced by the peer's new session"
						: "replaced by a new session: the peer restarted");
	p->session = s;
	p->have_label = 0;
	/* our other handshakes would only replace this one: drop them, unless
	 * they are the ones both sides will keep */
	if (s->client || strcmp(p->d->id.fingerprint, p->fingerprint) > 0)
		drop_attempts(p, NULL);
	add_endpoints(p);
	/* the path it dialled us on is labelled as we know its address */
	c = pathset_find(&p->cands, &s->path);
	if (c && !s->client)
		s->method = c->method;
	if (!c)
		c = add_cand(p, &s->path, s->method, PATH_LEARNED,
			     relay_index_by_path(p, &s->path), clock_now_ms() + CAND_TTL_MS);
	if (c) {
		/* the handshake came through it: validated */
		c->validated_ms = clock_now_ms();
		c->rx_bytes = c->tx_bytes = 0;
	}
	p->peer_path = s->path;
	p->lost_ms = 0;
	backoff_reset(&p->backoff);
	p->last_error[0] = '\0';
	pathmon_start(&p->mon, p->d->cfg.probe_interval_min_ms, p->d->cfg.probe_interval_max_ms,
		      p->d->cfg.probe_timeout_ms, clock_now_ms());
	set_state(p, PEER_CONNECTED, old ? "new session" : "session established");
	relay_session_up(p->d, s);
	announce(p);
	schedule_round(p);
	arm(p);
}

/* peer_settled() - the session in use will stay: no handshake of ours is
 * on its way to replace it.  When the peer's dial came up while ours was
 * under way and ours wins the tie (11.17), ours replaces it within a round
 * trip or two, and flows opened meanwhile would be reset with it; a new
 * flow had better wait (a VM's SYN is retried).  Only an attempt the peer
 * answered counts: one that never will must not hold flows back. */
int peer_settled(const struct peer *p)
{
	size_t i;

	if (!p->session || p->session->client ||
	    strcmp(p->d->id.fingerprint, p->fingerprint) > 0)
		return 1;
	for (i = 0; i < p->nattempt; i++)
		if (p->attempt[i]->answered)
			return 0;
	return 1;
}

void peer_attempt_answered(struct peer *p, struct session *s)
{
	drop_attempts(p, s);
}

void peer_session_gone(struct peer *p, struct session *s, const char *why)
{
	size_t i;

	for (i = 0; i < p->nattempt; i++) {
		if (p->attempt[i] == s) {
			p->attempt[i] = p->attempt[--p->nattempt];
			snprintf(p->last_error, sizeof(p->last_error), "%s", why);
			return; /* the next round dials again */
		}
	}
	if (s != p->session)
		return;
	p->session = NULL;
	snprintf(p->last_error, sizeof(p->last_error), "%s", why);
	if (p->admin_down) {
		set_state(p, PEER_DISCONNECTED, why);
		return;
	}
	set_state(p, p->state == PEER_CONNECTING ? PEER_CONNECTING : PEER_RECONNECTING, why);
	backoff_reset(&p->backoff);
	negotiate_endpoint(p, why);
}

void peer_start(struct peer *p)
{
	if (p->admin_down) {
		set_state(p, PEER_DISCONNECTED, "disconnected by the operator");
		return;
	}
	add_endpoints(p);
	if (!p->cands.n && !p->session)
		log_info("peer %s: no endpoint known, waiting for it to connect%s", p->name,
			 p->nrelay ? " or for a relay to introduce it" : "");
	negotiate_endpoint(p, "start");
	/* a new peer of a connected relay: ask for it now */
	{
		size_t i;

		for (i = 0; i < p->nrelay; i++) {
			struct peer *r = peer_find(p->d, p->relay[i]);

			if (r)
				ask_relay(r, p);
		}
	}
}

void peer_disconnect(struct peer *p)
{
	if (p->admin_down)
		return;
	drop_attempts(p, NULL);
	/* the peer hears it (close_notify) before anything more is blocked */
	if (p->session)
		session_close(p->session, "disconnected by the operator");
	mesh_flush(p->d->mesh);
	p->admin_down = 1;
	p->d->ndown++;
	p->next_round_ms = 0;
	arm(p);
	set_state(p, PEER_DISCONNECTED, "disconnected by the operator");
}

void peer_connect(struct peer *p)
{
	if (!p->admin_down)
		return;
	p->admin_down = 0;
	p->d->ndown--;
	backoff_reset(&p->backoff);
	set_state(p, PEER_CONNECTING, "connect requested by the operator");
	peer_start(p);
}

/* peer_path_blocked() - a path of a disconnected peer: its endpoints, the
 * candidates we know it by, the path of the session it had */
int peer_path_blocked(struct daemon *d, const struct path_addr *to)
{
	struct path_addr ep;
	struct peer *p;
	size_t i;

	TAILQ_FOREACH(p, &d->peers, entry) {
		if (!p->admin_down)
			continue;
		if (pathset_find(&p->cands, to))
			return 1;
		for (i = 0; i < p->nendpoint; i++) {
			const struct sockaddr *sa = (const struct sockaddr *)&p->endpoint[i];

			path_addr_direct(&ep, sa, addr_len(sa));
			if (path_addr_eq(&ep, to))
				return 1;
		}
	}
	return 0;
}
