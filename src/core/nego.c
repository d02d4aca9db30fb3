/* nego.c: endpoint negotiation with one peer (see nego.h for the rules). */
#include <stdio.h>
#include <string.h>

#include "nego.h"
#include "util.h"

static const char *const state_names[] = {
	[NEGO_CONNECTING] = "connecting",
	[NEGO_CONNECTED] = "connected",
	[NEGO_DEGRADED] = "degraded",
	[NEGO_RECONNECTING] = "reconnecting",
	[NEGO_DISCONNECTED] = "disconnected",
};

const char *nego_state_name(enum nego_state st)
{
	return state_names[st];
}

static void round_(struct nego *n, const char *why, uint64_t now);

/* ---- the action queue ---------------------------------------------------- */

/* push() - a new action at the end of the queue, zeroed but for its type
 * and reason; a full queue (never, by its size) loses it, counted */
static struct nego_action *push(struct nego *n, enum nego_act type, const char *why)
{
	struct nego_action *a;

	if (n->nact == NEGO_MAX_ACTIONS) {
		n->ctr.actions_lost++;
		a = &n->spill;
	} else {
		a = &n->act[(n->act_head + n->nact++) % NEGO_MAX_ACTIONS];
	}
	memset(a, 0, sizeof(*a));
	a->type = type;
	if (why)
		snprintf(a->why, sizeof(a->why), "%s", why);
	return a;
}

int nego_next(struct nego *n, struct nego_action *out)
{
	if (!n->nact)
		return 0;
	*out = n->act[n->act_head];
	n->act_head = (n->act_head + 1) % NEGO_MAX_ACTIONS;
	n->nact--;
	return 1;
}

/* rnd() - splitmix64 over the seed the glue gave */
static uint64_t rnd(struct nego *n)
{
	uint64_t z = (n->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* set_error() - what status shows as the link's last error */
static void set_error(struct nego *n, const char *why)
{
	snprintf(n->last_error, sizeof(n->last_error), "%s", why ? why : "");
}

/* set_state() - every change goes out, with its reason */
static void set_state(struct nego *n, enum nego_state st, const char *why, uint64_t now)
{
	struct nego_action *a;

	if (n->state == st)
		return;
	a = push(n, NEGO_STATE, why ? why : "-");
	a->from = n->state;
	a->state = st;
	a->has_path = n->sess.up;
	a->to = n->sess.path;
	a->method = n->sess.method;
	n->state = st;
	n->state_since_ms = now;
}

/* nego_clock() - the time an event brings, never earlier than an event
 * before it: the glue stamps a received batch with the time it was read,
 * and an event handled while dispatching it may have read the clock
 * later; the unsigned differences below must not wrap (DESIGN.md 11.54) */
static uint64_t nego_clock(struct nego *n, uint64_t now_ms)
{
	if (now_ms < n->now_ms)
		return n->now_ms;
	return n->now_ms = now_ms;
}

void nego_init(struct nego *n, const struct nego_config *cfg, uint64_t now_ms)
{
	memset(n, 0, sizeof(*n));
	n->now_ms = now_ms;
	n->cfg = *cfg;
	n->rng = cfg->seed;
	n->state = NEGO_CONNECTING;
	n->state_since_ms = now_ms;
	n->backoff.min_ms = cfg->backoff_min_ms;
	n->backoff.max_ms = cfg->backoff_max_ms;
}

/* ---- candidates ------------------------------------------------------------ */

struct path_cand *nego_find(struct nego *n, const struct path_addr *to)
{
	return pathset_find(&n->cands, to);
}

/* add_cand() - a candidate into the set (never pushing out the path in
 * use), counting what it pushed out */
static struct path_cand *add_cand(struct nego *n, const struct path_new *pn, uint64_t now)
{
	uint64_t before = n->cands.evicted;
	struct path_cand *c = pathset_add(&n->cands, pn, n->sess.up ? &n->sess.path : NULL, now);

	n->ctr.evicted += n->cands.evicted - before;
	return c;
}

struct path_cand *nego_candidate(struct nego *n, const struct path_new *c, uint64_t now_ms)
{
	now_ms = nego_clock(n, now_ms);
	return add_cand(n, c, now_ms);
}

/* in_use() - is c the path the session is on */
static int in_use(const struct nego *n, const struct path_cand *c)
{
	return n->sess.up && path_addr_eq(&c->to, &n->sess.path);
}

/* usable() - a relayed candidate goes through a relay we are connected to */
static int usable(const struct nego *n, const struct path_cand *c)
{
	const struct nego_relay *r;

	if (c->method != PATH_RELAY)
		return 1;
	if (c->relay < 0 || c->relay >= NEGO_MAX_RELAYS)
		return 0;
	r = &n->relay[c->relay];
	return r->known && r->connected &&
	       addr_eq((const struct sockaddr *)&r->addr, (const struct sockaddr *)&c->to.sa);
}

/* relay_by_path() - which relay a relayed path goes through, or -1 */
static int relay_by_path(const struct nego *n, const struct path_addr *to)
{
	int i;

	if (!to->channel)
		return -1;
	for (i = 0; i < NEGO_MAX_RELAYS; i++)
		if (n->relay[i].known && addr_eq((const struct sockaddr *)&n->relay[i].addr,
						 (const struct sockaddr *)&to->sa))
			return i;
	return -1;
}

void nego_relay(struct nego *n, int idx, const struct sockaddr *addr, int connected)
{
	struct nego_relay *r;

	if (idx < 0 || idx >= NEGO_MAX_RELAYS)
		return;
	r = &n->relay[idx];
	memset(r, 0, sizeof(*r));
	if (!addr)
		return;
	r->known = 1;
	r->connected = connected;
	memcpy(&r->addr, addr, addr_len(addr));
}

/* classify() - how a path we did not know the peer by was found: through a
 * relay; or straight from a new address, which is the kind of path we had
 * (a NAT that rebound) or, coming off a relay, one opened from both sides
 * (the peer's own label says if it is better) */
static enum path_method classify(const struct nego *n, const struct path_addr *from)
{
	if (from->channel)
		return PATH_RELAY;
	if (!n->sess.up)
		return PATH_DIRECT;
	return n->sess.method == PATH_RELAY ? PATH_HOLE_PUNCHED : n->sess.method;
}

/* learn() - a path authenticated traffic came from, as a candidate */
static struct path_cand *learn(struct nego *n, const struct path_addr *from, enum path_method m,
			       uint64_t now)
{
	struct path_new pn = { from, m, PATH_LEARNED, relay_by_path(n, from),
			       now + NEGO_CAND_TTL_MS };

	return add_cand(n, &pn, now);
}

enum path_method nego_method(const struct nego *n)
{
	if (n->have_label && n->label < n->sess.method &&
	    path_addr_eq(&n->label_path, &n->sess.path))
		return n->label;
	return n->sess.method;
}

/* ---- attempts ---------------------------------------------------------------- */

/* attempt_index() - where attempt id is in the table, or -1 */
static int attempt_index(const struct nego *n, uint64_t id)
{
	size_t i;

	for (i = 0; i < n->nattempt; i++)
		if (n->attempt[i].id == id)
			return (int)i;
	return -1;
}

const struct nego_attempt *nego_attempt_find(const struct nego *n, uint64_t id)
{
	int i = attempt_index(n, id);

	return i < 0 ? NULL : &n->attempt[i];
}

/* remove_attempt() - forget the attempt at i (the glue drops the session) */
static void remove_attempt(struct nego *n, int i)
{
	n->attempt[i] = n->attempt[--n->nattempt];
}

/* drop_attempts_but() - every attempt goes but `keep` (0: none) and, with
 * keep_committed, those past their Finished */
static void drop_attempts_but(struct nego *n, uint64_t keep, int keep_committed)
{
	size_t i = 0;

	while (i < n->nattempt) {
		if (n->attempt[i].id == keep || (keep_committed && n->attempt[i].committed)) {
			i++;
			continue;
		}
		push(n, NEGO_DROP, NULL)->id = n->attempt[i].id;
		remove_attempt(n, (int)i);
	}
}

void nego_attempt_answered(struct nego *n, uint64_t id, uint64_t now_ms)
{
	int i = attempt_index(n, id);

	(void)now_ms;
	if (i < 0)
		return;
	n->attempt[i].answered = 1;
	n->attempt[i].budget = PATH_UNLIMITED;
	/* the first to hear back goes on: the server kept nothing for the
	 * others (a stateless HelloVerifyRequest), so they just stop */
	drop_attempts_but(n, id, 0);
}

void nego_attempt_committed(struct nego *n, uint64_t id)
{
	int i = attempt_index(n, id);

	if (i >= 0)
		n->attempt[i].committed = 1;
}

int nego_attempt_send(struct nego *n, uint64_t id, uint64_t bytes)
{
	int i = attempt_index(n, id);
	struct nego_attempt *a = i < 0 ? NULL : &n->attempt[i];

	if (!a || (a->budget != PATH_UNLIMITED && bytes > a->budget)) {
		n->ctr.limited++;
		return 0;
	}
	if (a->budget != PATH_UNLIMITED)
		a->budget -= bytes;
	return 1;
}

void nego_attempt_gone(struct nego *n, uint64_t id, const char *why, uint64_t now_ms)
{
	int i = attempt_index(n, id);

	(void)now_ms;
	if (i < 0)
		return;
	remove_attempt(n, i);
	set_error(n, why);
	/* the next round dials again */
}

int nego_tie_open(const struct nego *n, uint64_t now_ms)
{
	return n->sess.up && n->sess.client && !n->cfg.we_win &&
	       now_ms - n->sess.est_ms < NEGO_TIE_WINDOW_MS;
}

int nego_settled(const struct nego *n, uint64_t now_ms, int peer_dialling)
{
	size_t i;

	if (!n->sess.up)
		return 1;
	/* we dialled and lose the tie: the peer's handshake, once through,
	 * replaces ours, and whatever a flow opened on it meanwhile */
	if (n->sess.client && !n->cfg.we_win)
		return !(peer_dialling && nego_tie_open(n, now_ms));
	if (n->sess.client || !n->cfg.we_win)
		return 1;
	for (i = 0; i < n->nattempt; i++)
		if (n->attempt[i].answered)
			return 0;
	return 1;
}

int nego_knows_path(const struct nego *n, const struct path_addr *p)
{
	return pathset_index(&n->cands, p) >= 0;
}

/* ---- rounds ------------------------------------------------------------------ */

/* challenge() - a PATH_CHALLENGE to c, as large as its allowance lets it
 * be (RFC 9000 8.2.1): padded on a validated path, bare on a new one, not
 * at all when the allowance is spent */
static void challenge(struct nego *n, struct path_cand *c, uint64_t now)
{
	uint64_t r = rnd(n), max = path_cand_probe_max(c, in_use(n, c), now);
	struct nego_action *a;

	if (!max) {
		n->ctr.limited++;
		return;
	}
	a = push(n, NEGO_CHALLENGE, NULL);
	a->to = c->to;
	a->method = c->method;
	a->bytes = max;
	memcpy(a->data, &r, sizeof(a->data));
	if (c->challenged_ms)
		memcpy(c->challenge_prev, c->challenge, sizeof(c->challenge_prev));
	else
		memcpy(c->challenge_prev, a->data, sizeof(c->challenge_prev));
	memcpy(c->challenge, a->data, sizeof(c->challenge));
	c->challenged_ms = now;
}

void nego_challenge_sent(struct nego *n, const struct nego_action *a, uint64_t bytes)
{
	struct path_cand *c = pathset_find(&n->cands, &a->to);

	if (!c)
		return;
	if (bytes) {
		path_cand_sent(c, bytes);
		return;
	}
	n->ctr.limited++;
	/* it never went: nothing is outstanding */
	if (c->challenged_ms && memcmp(c->challenge, a->data, sizeof(a->data)) == 0)
		c->challenged_ms = 0;
}

/* dial_budget() - what a handshake to c may send in all: no limit once
 * validated or configured, else a share of its allowance (0: none) */
static uint64_t dial_budget(struct path_cand *c, uint64_t now)
{
	uint64_t allow = path_cand_allowance(c, 0, now);

	if (allow == PATH_UNLIMITED)
		return allow;
	if (allow < NEGO_DIAL_MIN_BYTES)
		return 0;
	allow = MIN(allow, (uint64_t)NEGO_DIAL_BYTES);
	path_cand_sent(c, allow);
	return allow;
}

/* dial_all() - a handshake on every usable candidate at once, the best
 * methods first */
static void dial_all(struct nego *n, uint64_t now)
{
	int m;
	size_t i;

	for (m = PATH_DIRECT; m <= PATH_RELAY; m++) {
		for (i = 0; i < n->cands.n && n->nattempt < NEGO_MAX_ATTEMPTS; i++) {
			struct path_cand *c = &n->cands.c[i];
			struct nego_action *a;
			uint64_t budget;

			if ((int)c->method != m || !usable(n, c))
				continue;
			if (!(budget = dial_budget(c, now))) {
				n->ctr.limited++;
				continue;
			}
			a = push(n, NEGO_DIAL, NULL);
			a->id = ++n->next_id;
			a->to = c->to;
			a->method = c->method;
			n->attempt[n->nattempt].id = a->id;
			n->attempt[n->nattempt].to = c->to;
			n->attempt[n->nattempt].budget = budget;
			n->attempt[n->nattempt++].answered = 0;
		}
	}
}

/* schedule_round() - the next round: backoff while no path answers; while
 * connected by a worse method than direct, upgrade attempts at probe
 * intervals; none when there is nothing to try */
static void schedule_round(struct nego *n, uint64_t now)
{
	uint64_t delay;

	n->next_round_ms = 0;
	if (n->admin_down || n->cfg.relay_role)
		return;
	if (n->state == NEGO_CONNECTED) {
		if (nego_method(n) == PATH_DIRECT)
			return;
		delay = n->mon.interval_ms; /* grows from probe-interval-min to -max */
	} else {
		if (!n->cands.n && !n->sess.up)
			return; /* nothing to dial: it will dial us */
		delay = backoff_next(&n->backoff, rnd(n));
	}
	n->retry_delay_ms = n->state == NEGO_CONNECTED ? delay : n->backoff.last_ms;
	n->next_round_ms = now + delay;
}

/* round_() - one round of finding the way to the peer */
static void round_(struct nego *n, const char *why, uint64_t now)
{
	size_t i;

	(void)why;
	n->next_round_ms = 0;
	if (n->admin_down)
		return;
	if (n->state == NEGO_DEGRADED && now - n->lost_ms >= n->cfg.probe_timeout_ms)
		set_state(n, NEGO_RECONNECTING, "no path answered", now);
	if (n->sess.up) {
		int upgrade = n->state == NEGO_CONNECTED;

		for (i = 0; i < n->cands.n; i++) {
			struct path_cand *c = &n->cands.c[i];

			if (!usable(n, c) || (upgrade && c->method >= n->sess.method))
				continue;
			challenge(n, c, now);
		}
	} else if (!n->nattempt && !n->cfg.relay_role) {
		dial_all(n, now); /* a relay never dials: its peers come to it */
	}
	schedule_round(n, now);
}

void nego_start(struct nego *n, const char *why, uint64_t now_ms)
{
	now_ms = nego_clock(n, now_ms);
	if (n->admin_down) {
		set_state(n, NEGO_DISCONNECTED, "disconnected by the operator", now_ms);
		return;
	}
	round_(n, why, now_ms);
}

void nego_introduced(struct nego *n, uint64_t now_ms)
{
	now_ms = nego_clock(n, now_ms);
	if (!n->sess.up && !n->nattempt)
		round_(n, "introduced by a relay", now_ms);
}

void nego_admin(struct nego *n, int down, const char *why, uint64_t now_ms)
{
	now_ms = nego_clock(n, now_ms);
	if (!down == !n->admin_down)
		return;
	n->admin_down = down;
	if (!down) {
		backoff_reset(&n->backoff);
		set_state(n, NEGO_CONNECTING, why, now_ms);
		return;
	}
	/* down first, so nothing that follows (the session's close coming
	 * back as nego_session_gone()) starts a round */
	drop_attempts_but(n, 0, 0);
	n->next_round_ms = 0;
	set_state(n, NEGO_DISCONNECTED, why, now_ms);
	if (n->sess.up)
		push(n, NEGO_CLOSE, why);
}

/* ---- the path in use ------------------------------------------------------------ */

/* use_path() - send on c from now on; the link is connected again */
static void use_path(struct nego *n, struct path_cand *c, const char *why, uint64_t now)
{
	int recovered = n->state != NEGO_CONNECTED;
	struct nego_action *a;

	/* a path that is back after an outage needs its link restarted too:
	 * timers backed off for lack of answers would hold the data back */
	if (recovered || !path_addr_eq(&c->to, &n->sess.path) || c->method != n->sess.method) {
		a = push(n, NEGO_MIGRATE, why);
		a->to = c->to;
		a->method = c->method;
		n->sess.path = c->to;
		n->sess.method = c->method;
	}
	pathmon_start(&n->mon, n->cfg.probe_min_ms, n->cfg.probe_max_ms, n->cfg.probe_timeout_ms,
		      now);
	if (recovered) {
		backoff_reset(&n->backoff);
		n->last_error[0] = '\0';
		set_state(n, NEGO_CONNECTED, why, now);
	}
	push(n, NEGO_LABEL, NULL)->method = n->sess.method;
	schedule_round(n, now);
}

/* went_quiet() - the path in use has gone silent here: it carried the
 * peer's datagrams since we took it and then stopped for
 * NEGO_FOLLOW_QUIET_MS, or it has carried none for a probe timeout.  A
 * path we have just upgraded to is silent only because the peer has not
 * followed yet (its challenge comes at its next round, or was lost while
 * the path was down): following the peer back would flap. */
static int went_quiet(const struct nego *n, uint64_t now)
{
	const struct pathmon *m = &n->mon;

	if (m->last_rx_ms > m->started_ms)
		return now - m->last_rx_ms >= NEGO_FOLLOW_QUIET_MS;
	return now - m->started_ms >= n->cfg.probe_timeout_ms;
}

/* consider_switch() - a candidate answered: is it the one to use? */
static void consider_switch(struct nego *n, struct path_cand *c, uint64_t now)
{
	struct path_cand *best;

	if (n->state != NEGO_CONNECTED) {
		best = pathset_best(&n->cands, n->lost_ms, &n->sess.path);
		if (best)
			use_path(n, best, "a path answered again", now);
		return;
	}
	if (path_addr_eq(&c->to, &n->sess.path))
		return;
	/* the peer moved: to a new address of the same kind (its NAT
	 * rebound), or away from a path that went silent here too (it saw the
	 * path die first: it was sending, we were only receiving) */
	if (c->method < n->sess.method)
		use_path(n, c, "upgrade to a better path", now);
	else if (path_addr_eq(&c->to, &n->peer_path) &&
		 (c->method == n->sess.method || went_quiet(n, now)))
		use_path(n, c, "following the peer to its path", now);
}

/* path_lost() - the path in use stopped answering: degraded, and a round
 * that challenges every candidate now */
static void path_lost(struct nego *n, uint64_t now)
{
	char why[96];

	snprintf(why, sizeof(why), "no answer on the path for %llu ms",
		 (unsigned long long)(now - n->mon.last_rx_ms));
	set_error(n, why);
	n->lost_ms = now;
	backoff_reset(&n->backoff);
	set_state(n, NEGO_DEGRADED, why, now);
	round_(n, why, now);
}

/* check_health() - probe the path in use when it has been quiet, and call
 * it lost when the probe went unanswered (11.20) */
static void check_health(struct nego *n, uint64_t now, uint64_t busy_ms)
{
	struct path_cand *cur = pathset_find(&n->cands, &n->sess.path);

	switch (pathmon_check(&n->mon, now, busy_ms)) {
	case PM_PROBE:
		if (cur)
			challenge(n, cur, now);
		break;
	case PM_LOST:
		path_lost(n, now);
		break;
	case PM_WAIT:
		break;
	}
}

/* ---- sessions ---------------------------------------------------------------- */

void nego_session_up(struct nego *n, const struct nego_up *u, uint64_t now_ms)
{
	int client = u->attempt != 0, had = n->sess.up, simultaneous, i;
	const char *why = NULL;
	struct nego_action *a;
	struct path_cand *c;
	enum path_method m = u->method;

	now_ms = nego_clock(n, now_ms);
	if (client && (i = attempt_index(n, u->attempt)) >= 0)
		remove_attempt(n, i);
	/* two sessions with the same run of the peer, one dialled by each
	 * side, established at nearly the same time: both sides dialled, and
	 * both keep the one the smaller key dialled.  Otherwise the newer
	 * wins (the peer restarted, or gave up on the old session). */
	simultaneous = had && n->sess.client != client && now_ms - n->sess.est_ms < NEGO_TIE_WINDOW_MS &&
		       u->same_instance;
	if (simultaneous && (n->sess.client ? n->cfg.we_win : !n->cfg.we_win)) {
		push(n, NEGO_REFUSE,
		     "both sides dialled at once: keeping the session the smaller key dialled");
		return;
	}
	if (n->admin_down) {
		push(n, NEGO_REFUSE, "disconnected by the operator");
		return;
	}
	if (had)
		why = simultaneous ? "both sides dialled at once: keeping the session the smaller key dialled"
		      : u->same_instance ? "replaced by the peer's new session"
					 : "replaced by a new session: the peer restarted";
	/* the path it dialled us on is labelled as we know its address */
	c = pathset_find(&n->cands, &u->path);
	if (c && !client)
		m = c->method;
	a = push(n, NEGO_TAKE, why);
	a->to = u->path;
	a->method = m;
	n->sess.up = 1;
	n->sess.client = client;
	n->sess.est_ms = now_ms;
	n->sess.path = u->path;
	n->sess.method = m;
	n->have_label = 0;
	/* our other handshakes would only replace this one: drop them, unless
	 * they are the ones both sides will keep.  Those are only the ones the
	 * peer may have completed already, ours past its Finished: the others
	 * it can never complete, so dropping them is invisible to it, while
	 * finishing them would reset what it opened on its own (11.49). */
	drop_attempts_but(n, 0, !client && n->cfg.we_win);
	if (!c)
		c = learn(n, &u->path, m, now_ms);
	if (c) {
		/* the handshake came through it: validated */
		c->validated_ms = now_ms;
		c->rx_bytes = c->tx_bytes = 0;
	}
	n->peer_path = u->path;
	n->lost_ms = 0;
	backoff_reset(&n->backoff);
	n->last_error[0] = '\0';
	pathmon_start(&n->mon, n->cfg.probe_min_ms, n->cfg.probe_max_ms, n->cfg.probe_timeout_ms,
		      now_ms);
	set_state(n, NEGO_CONNECTED, had ? "new session" : "session established", now_ms);
	schedule_round(n, now_ms);
}

void nego_session_gone(struct nego *n, const char *why, uint64_t now_ms)
{
	now_ms = nego_clock(n, now_ms);
	if (!n->sess.up)
		return;
	n->sess.up = 0;
	set_error(n, why);
	if (n->admin_down) {
		set_state(n, NEGO_DISCONNECTED, why, now_ms);
		return;
	}
	set_state(n, n->state == NEGO_CONNECTING ? NEGO_CONNECTING : NEGO_RECONNECTING, why, now_ms);
	backoff_reset(&n->backoff);
	round_(n, why, now_ms);
}

/* ---- what the session hears ------------------------------------------------------ */

int nego_heard(struct nego *n, const struct path_addr *from, int probing, size_t len,
	       int allowed, uint64_t now_ms)
{
	struct path_cand *c;

	now_ms = nego_clock(n, now_ms);
	if (!n->sess.up)
		return 0;
	if (path_addr_eq(from, &n->sess.path)) {
		pathmon_rx(&n->mon, now_ms);
		/* the path in use was lost and the peer is heard on it again:
		 * a challenge now, not at the next round (which backoff may
		 * hold off for up to backoff-max-ms), tells if it works both
		 * ways -- the peer recovered first, its data or its own
		 * challenge is what we hear */
		if (n->state != NEGO_CONNECTED && (c = pathset_find(&n->cands, from)) &&
		    (!c->challenged_ms || now_ms - c->challenged_ms >= n->cfg.probe_min_ms))
			challenge(n, c, now_ms);
		return 0;
	}
	/* RFC 9000 8: what comes from an address earns it three times as
	 * much from us until it is validated */
	if ((c = pathset_find(&n->cands, from)))
		path_cand_received(c, len);
	/* a probe from a path we know moves nothing while the path in use
	 * works.  One from an address we never knew, or while our path has
	 * gone quiet or is lost, says where the peer may be found: a peer
	 * that only receives (it acknowledges nothing, nothing reaches it)
	 * shows its new NAT mapping with nothing but its probes. */
	if (probing && n->state == NEGO_CONNECTED && c &&
	    now_ms - n->mon.last_rx_ms < NEGO_FOLLOW_QUIET_MS)
		return 0;
	/* data from elsewhere: the peer moved (a new NAT mapping, a relay);
	 * the path must answer a challenge before we send there.  Nothing has
	 * changed yet if the glue's filter must be asked first. */
	if (!c && !from->channel && allowed < 0)
		return NEGO_ASK_FILTER;
	if (!c && !from->channel && !allowed)
		return 0;
	n->peer_path = *from;
	if (!c && (c = learn(n, from, classify(n, from), now_ms)))
		path_cand_received(c, len);
	if (!c)
		return 0;
	/* the peer's data shows the path carries now: a challenge of ours
	 * that met it while it was down is not worth a probe timeout's wait
	 * (the one in flight stays answerable) */
	if (c->validated_ms && now_ms - c->validated_ms < n->cfg.probe_timeout_ms)
		consider_switch(n, c, now_ms);
	else if (!c->challenged_ms || now_ms - c->challenged_ms >= n->cfg.probe_min_ms)
		challenge(n, c, now_ms);
	return 0;
}

void nego_response(struct nego *n, const uint8_t data[PATH_CHALLENGE_LEN],
		   const struct path_addr *from, uint64_t now_ms)
{
	struct path_cand *c;

	now_ms = nego_clock(n, now_ms);
	if (!n->sess.up || !(c = pathset_answered(&n->cands, data, from, now_ms)))
		return;
	if (path_addr_eq(&c->to, &n->sess.path))
		pathmon_answered(&n->mon, now_ms);
	consider_switch(n, c, now_ms);
}

void nego_sent(struct nego *n, const struct path_addr *to, uint64_t bytes)
{
	struct path_cand *c;

	if (n->sess.up && (c = pathset_find(&n->cands, to)))
		path_cand_sent(c, bytes);
}

void nego_label(struct nego *n, enum path_method m, const struct path_addr *from)
{
	if (!n->sess.up || m > PATH_RELAY)
		return;
	n->label_path = *from;
	n->label = m;
	n->have_label = 1;
}

/* ---- the timer --------------------------------------------------------------- */

uint64_t nego_deadline(const struct nego *n, uint64_t busy_ms)
{
	uint64_t at = UINT64_MAX;

	if (n->admin_down)
		return at;
	if (n->next_round_ms)
		at = n->next_round_ms;
	if (n->sess.up && n->state == NEGO_CONNECTED)
		at = MIN(at, pathmon_deadline(&n->mon, busy_ms));
	if (n->state == NEGO_DEGRADED)
		at = MIN(at, n->lost_ms + n->cfg.probe_timeout_ms);
	return at;
}

void nego_tick(struct nego *n, uint64_t now_ms, uint64_t busy_ms)
{
	struct path_cand *cur;

	now_ms = nego_clock(n, now_ms);
	if (n->admin_down)
		return;
	if (n->sess.up && (cur = pathset_find(&n->cands, &n->sess.path))) {
		cur->expires_ms = cur->expires_ms ? now_ms + NEGO_CAND_TTL_MS : 0; /* in use: kept */
		/* authenticated traffic on it keeps it validated, so a dial
		 * there after the session ends is not held to an allowance */
		cur->validated_ms = MAX(cur->validated_ms, n->mon.last_rx_ms);
	}
	pathset_expire(&n->cands, now_ms);
	/* degraded while the other paths get their chance to answer; none
	 * did within the probe timeout: reconnecting */
	if (n->state == NEGO_DEGRADED && now_ms - n->lost_ms >= n->cfg.probe_timeout_ms)
		set_state(n, NEGO_RECONNECTING, "no path answered", now_ms);
	if (n->next_round_ms && now_ms >= n->next_round_ms)
		round_(n, n->state == NEGO_CONNECTED ? "upgrade" : "retry", now_ms);
	else if (n->sess.up && n->state == NEGO_CONNECTED)
		check_health(n, now_ms, busy_ms);
}
