/* simnet.h: a simulated network and clock for the link core's tests.
 *
 * Two link endpoints joined by two one-way channels.  Each channel delays,
 * jitters, drops, duplicates and reorders packets, limits the rate with a
 * bounded queue, and can go down for an interval: all deterministic from a
 * seed, with time in simulated microseconds, so a 10-second outage takes
 * milliseconds to test. */
#ifndef OMNET_SIMNET_H
#define OMNET_SIMNET_H

#include <stddef.h>
#include <stdint.h>

#include "link.h"

struct sim_path {
	uint64_t delay_us;      /* one way */
	uint64_t jitter_us;     /* extra uniform 0..jitter (reorders) */
	double loss;            /* probability 0..1 */
	double dup;
	double reorder;         /* probability of an extra reorder_us delay */
	uint64_t reorder_us;
	uint64_t rate_bps;      /* 0: unlimited */
	uint64_t queue_us;      /* tail drop beyond this much queueing */
	uint64_t down_from_us, down_until_us; /* outage: everything dropped */
	size_t max_len;         /* 0: any; else longer packets are dropped (too big) */
};

struct sim_pkt {
	uint64_t at_us;
	uint64_t order;
	size_t len;
	uint8_t *data;
};

struct sim_chan {
	struct sim_path p;
	struct sim_pkt *heap;
	size_t n, cap;
	uint64_t busy_until_us;
	uint64_t rng;
	uint64_t order;
	/* counters */
	uint64_t sent, delivered, dropped, duplicated, queue_drops, bytes_delivered, too_big;
};

struct sim {
	struct link *a, *b;
	struct sim_chan ab, ba;
	uint64_t now_us;
	uint64_t steps;
	uint64_t tick_every_us; /* 0: tick only on events; else also this often */
	uint64_t last_tick_us;
};

void sim_chan_init(struct sim_chan *c, const struct sim_path *p, uint64_t seed);
void sim_chan_free(struct sim_chan *c);
void sim_chan_send(struct sim_chan *c, const uint8_t *pkt, size_t len, uint64_t now_us);

/* sim_run() - run both links until done(arg) is true (returns 0) or until
 * until_us of simulated time or a stall (returns -1).  tick(arg) runs
 * every step so the test's applications can write and read. */
int sim_run(struct sim *s, uint64_t until_us, int (*done)(void *arg), void (*tick)(void *arg),
	    void *arg);
void sim_free(struct sim *s);

uint64_t sim_rand(uint64_t *state);
double sim_rand01(uint64_t *state);
/* pattern byte of flow k at offset off: what tests write and check */
uint8_t sim_pattern(uint64_t k, uint64_t off);
/* sim_write_pattern() - write flow k's pattern from *sent on, up to total,
 * as far as the flow takes it; then FIN once (*shut), when all is written */
void sim_write_pattern(struct link_flow *lf, uint64_t k, uint64_t *sent, uint64_t total,
		       int *shut);

#endif
