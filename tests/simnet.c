/* simnet.c: simulated channels (a heap of packets ordered by arrival) and
 * the event loop that drives two links against them. */
#include <stdlib.h>
#include <string.h>

#include "simnet.h"
#include "util.h"

uint64_t sim_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

double sim_rand01(uint64_t *state)
{
	return (double)(sim_rand(state) >> 11) / (double)(1ULL << 53);
}

uint8_t sim_pattern(uint64_t k, uint64_t off)
{
	uint64_t s = k * 0x100000001b3ULL + off / 8;

	return (uint8_t)(sim_rand(&s) >> ((off % 8) * 8));
}

void sim_write_pattern(struct link_flow *lf, uint64_t k, uint64_t *sent, uint64_t total,
		       int *shut)
{
	uint8_t buf[16384];

	while (*sent < total) {
		size_t n = (size_t)MIN((uint64_t)sizeof(buf), total - *sent), i, w;

		if (link_flow_send_space(lf) == 0)
			return;
		for (i = 0; i < n; i++)
			buf[i] = sim_pattern(k, *sent + i);
		w = link_flow_write(lf, buf, n);
		*sent += w;
		if (w < n)
			return;
	}
	if (!*shut) {
		*shut = 1;
		link_flow_shutdown(lf);
	}
}

void sim_chan_init(struct sim_chan *c, const struct sim_path *p, uint64_t seed)
{
	memset(c, 0, sizeof(*c));
	c->p = *p;
	c->rng = seed;
}

void sim_chan_free(struct sim_chan *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->heap[i].data);
	free(c->heap);
	c->heap = NULL;
	c->n = 0;
}

static int earlier(const struct sim_pkt *a, const struct sim_pkt *b)
{
	return a->at_us < b->at_us || (a->at_us == b->at_us && a->order < b->order);
}

static void heap_push(struct sim_chan *c, struct sim_pkt pk)
{
	size_t i;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->heap = xrealloc(c->heap, c->cap * sizeof(*c->heap));
	}
	i = c->n++;
	while (i > 0 && earlier(&pk, &c->heap[(i - 1) / 2])) {
		c->heap[i] = c->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	c->heap[i] = pk;
}

static struct sim_pkt heap_pop(struct sim_chan *c)
{
	struct sim_pkt top = c->heap[0], last = c->heap[--c->n];
	size_t i = 0;

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct sim_pkt *best = &last;

		if (l < c->n && earlier(&c->heap[l], best)) {
			m = l;
			best = &c->heap[l];
		}
		if (r < c->n && earlier(&c->heap[r], best))
			m = r;
		if (m == i)
			break;
		c->heap[i] = c->heap[m];
		i = m;
	}
	if (c->n)
		c->heap[i] = last;
	return top;
}

static void enqueue(struct sim_chan *c, const uint8_t *pkt, size_t len, uint64_t depart_us)
{
	struct sim_pkt pk;
	uint64_t at = depart_us + c->p.delay_us;

	if (c->p.jitter_us)
		at += sim_rand(&c->rng) % (c->p.jitter_us + 1);
	if (c->p.reorder > 0 && sim_rand01(&c->rng) < c->p.reorder)
		at += c->p.reorder_us;
	pk.at_us = at;
	pk.order = c->order++;
	pk.len = len;
	pk.data = xmalloc(len);
	memcpy(pk.data, pkt, len);
	heap_push(c, pk);
}

void sim_chan_send(struct sim_chan *c, const uint8_t *pkt, size_t len, uint64_t now_us)
{
	uint64_t depart = now_us;

	c->sent++;
	if (c->p.max_len && len > c->p.max_len) {
		c->too_big++; /* the path MTU: it never fragments */
		return;
	}
	if (now_us >= c->p.down_from_us && now_us < c->p.down_until_us) {
		c->dropped++;
		return;
	}
	if (c->p.rate_bps) {
		uint64_t start = MAX(now_us, c->busy_until_us);

		if (start - now_us > c->p.queue_us) {
			c->queue_drops++;
			return;
		}
		depart = start + (uint64_t)len * 8 * 1000000 / c->p.rate_bps;
		c->busy_until_us = depart;
	}
	if (c->p.loss > 0 && sim_rand01(&c->rng) < c->p.loss) {
		c->dropped++;
		return;
	}
	enqueue(c, pkt, len, depart);
	if (c->p.dup > 0 && sim_rand01(&c->rng) < c->p.dup) {
		c->duplicated++;
		enqueue(c, pkt, len, depart);
	}
}

static void flush(struct link *l, struct sim_chan *out, uint64_t now)
{
	uint8_t buf[65536];
	size_t n;
	int guard = 100000;

	while (guard-- > 0 && (n = link_send(l, buf, sizeof(buf), now)) > 0)
		sim_chan_send(out, buf, n, now);
}

static void deliver(struct sim_chan *c, struct link *to, uint64_t now)
{
	while (c->n && c->heap[0].at_us <= now) {
		struct sim_pkt pk = heap_pop(c);

		c->delivered++;
		c->bytes_delivered += pk.len;
		link_recv(to, pk.data, pk.len, now);
		free(pk.data);
	}
}

static uint64_t next_event(const struct sim *s)
{
	uint64_t t = UINT64_MAX;

	if (s->ab.n)
		t = MIN(t, s->ab.heap[0].at_us);
	if (s->ba.n)
		t = MIN(t, s->ba.heap[0].at_us);
	t = MIN(t, link_next_timer_us(s->a, s->now_us));
	t = MIN(t, link_next_timer_us(s->b, s->now_us));
	if (s->tick_every_us)
		t = MIN(t, s->last_tick_us + s->tick_every_us);
	return t;
}

int sim_run(struct sim *s, uint64_t until_us, int (*done)(void *arg), void (*tick)(void *arg),
	    void *arg)
{
	while (s->now_us <= until_us) {
		uint64_t t;

		s->steps++;
		if (tick)
			tick(arg);
		if (s->tick_every_us && s->now_us >= s->last_tick_us + s->tick_every_us)
			s->last_tick_us = s->now_us;
		if (done(arg))
			return 0;
		flush(s->a, &s->ab, s->now_us);
		flush(s->b, &s->ba, s->now_us);
		t = next_event(s);
		if (t == UINT64_MAX)
			return done(arg) ? 0 : -1; /* stalled: nothing will ever happen */
		/* time moves forward at least 1 us so timers due "now" progress */
		s->now_us = MAX(t, s->now_us + 1);
		deliver(&s->ab, s->b, s->now_us);
		deliver(&s->ba, s->a, s->now_us);
		if (link_next_timer_us(s->a, s->now_us) <= s->now_us)
			link_on_timer(s->a, s->now_us);
		if (link_next_timer_us(s->b, s->now_us) <= s->now_us)
			link_on_timer(s->b, s->now_us);
	}
	return -1;
}

void sim_free(struct sim *s)
{
	sim_chan_free(&s->ab);
	sim_chan_free(&s->ba);
}
