/* link_sched.c: the networks a link carries, their limits and shares, and
 * the order in which flows send.
 *
 * Every network on a link is a group.  Groups take turns, one frame each,
 * and within a group its flows take turns, so a network with a thousand
 * busy flows gets the link as often as a network with one (round robin by
 * frames, as the flows themselves were served before there were groups).
 * A group counts its open flows, the bytes in its flows' send rings and
 * the bytes it received and has not consumed yet; link.c asks here before
 * it opens or accepts a flow, lets a flow buffer more, or grows a window.
 * Passing a limit costs the group that passed it, never another.
 *
 * The daemon's buffer pool is the budget all links share: when it is
 * spent, a link using more than its fair share (the pool's limit over the
 * number of links) takes no new flows; the others still do. */
#include <stdlib.h>
#include <string.h>

#include "link_int.h"

/* ---- groups ------------------------------------------------------------ */

struct link_group *group_find(const struct link *l, const struct netid *net)
{
	size_t i;

	for (i = 0; i < l->ngroups; i++)
		if (netid_eq(&l->groups[i]->net, net))
			return l->groups[i];
	return NULL;
}

/* group_get() - the group of net, made if needed; NULL when the link
 * already carries LINK_MAX_GROUPS networks */
struct link_group *group_get(struct link *l, const struct netid *net)
{
	struct link_group *g = group_find(l, net);

	if (g)
		return g;
	if (l->ngroups >= LINK_MAX_GROUPS)
		return NULL;
	if (l->ngroups == l->groups_cap) {
		l->groups_cap = l->groups_cap ? l->groups_cap * 2 : 4;
		l->groups = xrealloc(l->groups, l->groups_cap * sizeof(*l->groups));
	}
	g = xcalloc(1, sizeof(*g));
	g->net = *net;
	l->groups[l->ngroups++] = g;
	return g;
}

static void group_drop(struct link *l, struct link_group *g)
{
	size_t i;

	for (i = 0; i < l->ngroups; i++) {
		if (l->groups[i] == g) {
			l->groups[i] = l->groups[--l->ngroups];
			break;
		}
	}
	free(g);
}

/* group_drop_if_empty() - a group made for a flow that was refused */
void group_drop_if_empty(struct link *l, struct link_group *g)
{
	if (g && !g->nflows && !g->in_round)
		group_drop(l, g);
}

void groups_free(struct link *l)
{
	while (l->ngroups)
		group_drop(l, l->groups[0]);
	free(l->groups);
	l->groups = NULL;
	l->groups_cap = 0;
}

/* group_join() - an open flow joins its network's group: what it holds
 * already (stream bytes that overtook the OPEN) is the group's from now */
void group_join(struct link *l, struct link_flow *f, struct link_group *g)
{
	uint64_t held = ring_used(&f->rcv);
	int was_scheduled = f->scheduled;

	sched_remove(l, f); /* it moves from no group's turn to its own */
	f->group = g;
	g->nflows++;
	l->nlive++;
	g->rcv_held += held;
	g->snd_buffered += ring_used(&f->snd);
	if (was_scheduled)
		sched_add(l, f);
}

/* group_leave() - the flow closes, or is reset: it stops
 * sending and stops counting; an empty group goes */
void group_leave(struct link *l, struct link_flow *f)
{
	struct link_group *g = f->group;

	sched_remove(l, f);
	if (!g)
		return;
	g->nflows--;
	l->nlive--;
	g->snd_buffered -= MIN(g->snd_buffered, ring_used(&f->snd));
	g->rcv_held -= MIN(g->rcv_held, ring_used(&f->rcv));
	f->group = NULL;
	if (!g->nflows)
		group_drop(l, g);
}

/* rcv_account() - received bytes held by f grew or shrank (its network's
 * share of the link's window) */
void rcv_account(struct link *l, struct link_flow *f, uint64_t more, uint64_t less)
{
	if (!f->group)
		return;
	f->group->rcv_held += more;
	f->group->rcv_held -= MIN(f->group->rcv_held, less);
}

/* rcv_chunks_changed() - f's receive ring took or gave back chunks since it
 * held before: the link's memory, and its early memory while f is not open */
void rcv_chunks_changed(struct link *l, struct link_flow *f, size_t before)
{
	size_t now = f->rcv.nchunks;

	l->rcv_chunks = l->rcv_chunks + now - MIN(before, l->rcv_chunks + now);
	if (!f->group && !f->have_open)
		l->early_chunks = l->early_chunks + now - MIN(before, l->early_chunks + now);
}

void snd_account(struct link *l, struct link_flow *f, uint64_t more, uint64_t less)
{
	l->snd_buffered += more;
	l->snd_buffered -= MIN(l->snd_buffered, less);
	if (f->group) {
		f->group->snd_buffered += more;
		f->group->snd_buffered -= MIN(f->group->snd_buffered, less);
	}
}

/* ---- limits and shares ------------------------------------------------- */

static uint64_t share(uint64_t total, size_t n)
{
	return total / (n ? n : 1);
}

/* link_usage() - what this link holds of the daemon's memory: flow state,
 * rings both ways, reassembly and early datagrams */
uint64_t link_usage(const struct link *l)
{
	return (uint64_t)l->nflows * sizeof(struct link_flow) + l->snd_buffered +
	       (uint64_t)(l->rcv_chunks + l->early_dgram_chunks) * RING_CHUNK + l->reasm_bytes +
	       (uint64_t)l->sp_cap * sizeof(struct sent_pkt) + (uint64_t)l->nghosts * 48;
}

/* link_over_share() - the daemon's pool is spent and this link holds more
 * than its share of it: new flows of this link are refused, and what it
 * receives into new chunks waits */
int link_over_share(const struct link *l)
{
	const struct chunk_pool *p = l->pool;

	if (!p || !chunk_pool_full(p))
		return 0;
	return link_usage(l) > share(p->limit * RING_CHUNK, p->links);
}

/* flow_admission() - 0 if a flow of group g (NULL: none could be made)
 * may open, else the counter that refuses it */
uint64_t *flow_admission(struct link *l, struct link_group *g)
{
	if (l->nlive >= l->cfg.max_flows)
		return &l->st.flows_refused_limit;
	if (!g || g->nflows >= l->cfg.net_max_flows) {
		if (g)
			g->refused++;
		return &l->st.flows_refused_network;
	}
	if (link_over_share(l))
		return &l->st.flows_refused_memory;
	return NULL;
}

int link_can_open(const struct link *l, const struct netid *net)
{
	const struct link_group *g = group_find(l, net);

	if (l->nlive >= l->cfg.max_flows || link_over_share(l))
		return 0;
	if (!g)
		return l->ngroups < LINK_MAX_GROUPS;
	return g->nflows < l->cfg.net_max_flows;
}

/* group_snd_room() - what a group's flows may still add to their send
 * rings: its share of the link's buffer (the link's cap over the networks
 * it carries), so one network's backlog cannot take every other's room */
uint64_t group_snd_room(const struct link *l, const struct link_flow *f)
{
	uint64_t s;

	if (!f->group)
		return UINT64_MAX;
	s = MAX(share(l->cfg.link_buffer, l->ngroups), (uint64_t)LINK_GROUP_BUFFER_MIN);
	return f->group->snd_buffered >= s ? 0 : s - f->group->snd_buffered;
}

/* group_room_back() - a network that filled its send share has a quarter
 * of it free again: its flows may write */
int group_room_back(const struct link *l, const struct link_group *g)
{
	uint64_t s = MAX(share(l->cfg.link_buffer, l->ngroups), (uint64_t)LINK_GROUP_BUFFER_MIN);

	return g->snd_buffered <= s * 3 / 4;
}

/* group_may_grow() - a flow's receive window may grow (autotuning) only
 * while its network holds less than its share of the link's window (a
 * network whose VM does not read keeps the windows it has, and the others
 * keep theirs), and while the daemon's memory is not spent */
int group_may_grow(const struct link *l, const struct link_flow *f)
{
	if (l->pool && chunk_pool_full(l->pool))
		return 0;
	return !f->group || f->group->rcv_held < share(l->rcv_window, l->ngroups);
}

/* groups_rcv_excess() - bytes networks hold beyond their share of the
 * link's window.  The link's window grows by as much (up to the window
 * again), so what one network hoards does not close it for the others. */
uint64_t groups_rcv_excess(const struct link *l)
{
	uint64_t s = share(l->rcv_window, l->ngroups), excess = 0;
	size_t i;

	for (i = 0; i < l->ngroups; i++)
		if (l->groups[i]->rcv_held > s)
			excess += l->groups[i]->rcv_held - s;
	return MIN(excess, l->rcv_window);
}

int link_network_stats(const struct link *l, const struct netid *net,
		       struct link_net_stats *out)
{
	const struct link_group *g = group_find(l, net);

	memset(out, 0, sizeof(*out));
	if (!g)
		return -1;
	out->flows = g->nflows;
	out->send_buffered_bytes = g->snd_buffered;
	out->receive_held_bytes = g->rcv_held;
	out->flows_refused = g->refused;
	return 0;
}

/* ---- the round --------------------------------------------------------- */

static void round_append(struct link *l, struct link_group *g)
{
	g->in_round = 1;
	g->next = NULL;
	if (l->round_tail)
		l->round_tail->next = g;
	else
		l->round_head = g;
	l->round_tail = g;
}

static void round_remove(struct link *l, struct link_group *g)
{
	struct link_group **pp;

	if (!g->in_round)
		return;
	for (pp = &l->round_head; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	if (l->round_tail == g) {
		struct link_group *t = l->round_head;

		while (t && t->next)
			t = t->next;
		l->round_tail = t;
	}
	g->in_round = 0;
	g->next = NULL;
}

static struct link_group *sched_group(struct link *l, struct link_flow *f)
{
	return f->group ? f->group : &l->nogroup;
}

/* sched_add() - the flow has something to send: at the end of its group's
 * turn, and its group in the round */
void sched_add(struct link *l, struct link_flow *f)
{
	struct link_group *g = sched_group(l, f);

	l->nsched++;
	f->scheduled = 1;
	f->sched_prev = g->tail;
	f->sched_next = NULL;
	if (g->tail)
		g->tail->sched_next = f;
	else
		g->head = f;
	g->tail = f;
	if (!g->in_round)
		round_append(l, g);
}

void sched_remove(struct link *l, struct link_flow *f)
{
	struct link_group *g = sched_group(l, f);

	if (!f->scheduled)
		return;
	l->nsched--;
	if (f->sched_prev)
		f->sched_prev->sched_next = f->sched_next;
	else
		g->head = f->sched_next;
	if (f->sched_next)
		f->sched_next->sched_prev = f->sched_prev;
	else
		g->tail = f->sched_prev;
	f->sched_prev = f->sched_next = NULL;
	f->scheduled = 0;
	if (!g->head)
		round_remove(l, g);
}

/* sched_pop() - the next flow to send a frame: the first of the group
 * whose turn it is; that group goes to the end of the round */
struct link_flow *sched_pop(struct link *l)
{
	struct link_group *g = l->round_head;
	struct link_flow *f;

	if (!g)
		return NULL;
	f = g->head;
	sched_remove(l, f);
	if (g->in_round && l->round_head == g && g->next) {
		round_remove(l, g);
		round_append(l, g);
	}
	return f;
}

int sched_empty(const struct link *l)
{
	return l->round_head == NULL;
}
