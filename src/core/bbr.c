/* bbr.c: BBR congestion control (draft-cardwell-iccrg-bbr-congestion-control,
 * version 1, the algorithm Linux's tcp_bbr implements).
 *
 * BBR sends at the rate the path delivers and keeps about one or two
 * bandwidth-delay products in flight.  The model is two filtered numbers:
 * the bottleneck bandwidth (the highest delivery rate over the last ten
 * round trips) and the round-trip propagation time (the lowest RTT over
 * the last ten seconds).  Random loss, which on the internet is rarely a
 * sign of congestion, does not shrink the window: that is what lets a
 * link keep its throughput at a percent of loss where loss-based
 * controllers collapse.  Pure: time comes in as microseconds. */
#include <string.h>

#include "cc.h"
#include "util.h"

enum { BBR_STARTUP, BBR_DRAIN, BBR_PROBE_BW, BBR_PROBE_RTT };

static const char *const state_names[] = { "startup", "drain", "probe-bw", "probe-rtt" };

/* Gains in percent.  2/ln(2) = 2.885 doubles the sending rate per round in
 * startup; the probe cycle probes 25% above the estimate, drains the queue
 * that made, then cruises for six phases. */
#define HIGH_GAIN 289
#define DRAIN_GAIN 35
#define CWND_GAIN 200
static const unsigned cycle_gain[8] = { 125, 75, 100, 100, 100, 100, 100, 100 };

#define FULL_BW_THRESH 125      /* 25% growth means the pipe is not full yet */
#define PROBE_ROOM_PCT 120      /* a probe cycle that found this much more: search again */
#define FULL_BW_ROUNDS 3
#define MIN_RTT_WINDOW_US 10000000
/* The minimum RTT is stale when, for this many rounds in a row, no sample
 * came within what our own queue can add to it (plus this slack for ACK
 * timing): the path got longer (a new route, a relay, a slow hop) */
#define STALE_ROUNDS 3
#define STALE_SLACK_US 2000
#define PROBE_RTT_TIME_US 200000
#define MIN_CWND_PACKETS 4
#define EXTRA_ACKED_ROUNDS 5      /* each of the two slots spans this many */
#define EXTRA_ACKED_MAX_US 100000 /* allowance: at most 100 ms of bandwidth */
#define SEND_QUANTUM_MAX (64 * 1024)

const char *bbr_state_name(const struct cc *c)
{
	return state_names[c->bbr.state];
}

void bbr_init(struct cc *c)
{
	struct bbr *b = &c->bbr;

	memset(b, 0, sizeof(*b));
	b->state = BBR_STARTUP;
	b->pacing_gain_pct = HIGH_GAIN;
	b->cwnd_gain_pct = HIGH_GAIN;
	b->min_rtt_us = UINT64_MAX;
	b->round_rtt_min_us = b->stale_rtt_min_us = UINT64_MAX;
	c->min_cwnd = MIN_CWND_PACKETS * (uint64_t)c->mds;
}

/* a round that lost this share of its bytes was overfull (bits of random
 * loss stay well below) */
#define BBR_HEAVY_LOSS_PCT 15
/* a round that lost this share (the random loss of real paths stays
 * below) bounds the rate and what is in flight (update_loss_bounds) */
#define BBR_LOSS_BOUND_PCT 10
/* ... and, to end startup, lost at least this many packets' worth: with
 * 5% random loss a round of 200 packets loses 20 by chance one time in a
 * thousand */
#define STARTUP_LOSS_PACKETS 20
#define LOSS_BETA_PCT 70

/* bdp() - bandwidth-delay product in bytes, scaled by gain percent */
static uint64_t bdp(const struct cc *c, unsigned gain_pct)
{
	const struct bbr *b = &c->bbr;

	if (!b->btl_bw || b->min_rtt_us == UINT64_MAX)
		return c->cwnd; /* no model yet: keep the initial window */
	return b->btl_bw * b->min_rtt_us / 1000000 * gain_pct / 100;
}

/* update_round() - a round trip ends when a packet sent after it began
 * is acknowledged */
static void update_round(struct bbr *b, const struct rate_sample *rs)
{
	b->round_start = 0;
	b->round_lost += rs->newly_lost;
	b->round_acked += rs->newly_acked;
	b->round_max_rate = MAX(b->round_max_rate, rs->delivery_rate);
	if (rs->prior_delivered >= b->next_round_delivered) {
		b->last_round_loss_pct = b->round_lost + b->round_acked ?
			(unsigned)(b->round_lost * 100 / (b->round_lost + b->round_acked)) : 0;
		b->last_round_lost = b->round_lost;
		b->last_round_rate = b->round_max_rate;
		b->round_lost = b->round_acked = b->round_max_rate = 0;
		b->next_round_delivered = b->delivered;
		b->round_count++;
		b->round_start = 1;
		b->bw_rounds += b->round_sampled;
		b->round_sampled = 0;
	}
}

/* update_bw() - the max filter: per-round maxima over the last ten
 * rounds that gave it a sample.  Rounds without a usable sample keep the
 * estimate instead of draining it: an idle link's keepalives make rounds
 * too, and after a pause the first small sample of the new transfer wiped
 * every older round and became the estimate (a download after 7 s idle
 * restarted at 3 Mbit/s on a 1 Gbit/s path and climbed a quarter per probe
 * cycle).  A sample counts only if it raises the estimate when the sender
 * held itself back: an idle application, the peer's flow control (how
 * fast the peer let us go, not the path), or PROBE_RTT's four packets.
 * Except that a round which lost a large part of what it sent (random loss
 * is a few percent) shows the pipe was overfull, not held back: a path
 * that became slower keeps the flow windows held by its losses, and its
 * samples, taken as the window's, would have left a 2 Gbit/s estimate
 * pacing into a 100 Mbit/s bottleneck for good. */
static void update_bw(struct bbr *b, const struct rate_sample *rs)
{
	uint64_t r, now;
	size_t i;
	int heavy_loss = b->last_round_loss_pct >= BBR_HEAVY_LOSS_PCT;
	int held = rs->is_app_limited || (rs->is_window_limited && !heavy_loss) ||
		   b->state == BBR_PROBE_RTT;

	if (!rs->delivery_rate || (held && rs->delivery_rate < b->btl_bw))
		return;
	b->round_sampled = 1;
	now = b->bw_rounds;
	for (r = b->bw_last_round + 1; r <= now && r <= b->bw_last_round + BBR_BW_ROUNDS; r++)
		b->bw_round[r % BBR_BW_ROUNDS] = 0;
	b->bw_last_round = now;
	if (rs->delivery_rate > b->bw_round[now % BBR_BW_ROUNDS])
		b->bw_round[now % BBR_BW_ROUNDS] = rs->delivery_rate;
	b->btl_bw = 0;
	for (i = 0; i < BBR_BW_ROUNDS; i++)
		b->btl_bw = MAX(b->btl_bw, b->bw_round[i]);
}

/* update_loss_bounds() - BBR keeps pacing at its estimate whatever is
 * lost, which is what makes it fast on randomly lossy paths, and what
 * starves a loss-based flow (CUBIC) in a shallow bottleneck queue: every
 * packet CUBIC sends into the full queue is lost, it halves, BBR takes the
 * room.  As BBRv2 does, a round that lost BBR_LOSS_BOUND_PCT bounds the
 * rate at what the round delivered, or 70% of the bound before, and what
 * is in flight likewise, until the next probe for bandwidth lifts both.
 * Alone on the path the round delivered the bottleneck's rate, so the
 * bound costs nothing; beside another flow it is our share, which the
 * other may then grow into. */
static void update_loss_bounds(struct cc *c)
{
	struct bbr *b = &c->bbr;
	uint64_t bw_floor, inflight_floor;

	if (!b->round_start || b->last_round_loss_pct < BBR_LOSS_BOUND_PCT ||
	    b->state != BBR_PROBE_BW)
		return;
	bw_floor = (b->bw_lo ? b->bw_lo : b->btl_bw) * LOSS_BETA_PCT / 100;
	inflight_floor = (b->inflight_lo ? b->inflight_lo : c->cwnd) * LOSS_BETA_PCT / 100;
	b->bw_lo = MAX(b->last_round_rate, bw_floor);
	b->inflight_lo = MAX(MIN(c->in_flight, c->cwnd), inflight_floor);
	b->inflight_lo = MAX(b->inflight_lo, c->min_cwnd);
	b->loss_bounded++;
}

static void lift_loss_bounds(struct bbr *b)
{
	b->bw_lo = b->inflight_lo = 0;
}

/* check_full_pipe() - startup ends when three rounds in a row did not
 * raise the estimate by a quarter, or, as in BBRv2, at the first round
 * that lost BBR_LOSS_BOUND_PCT of what it sent, and at least
 * STARTUP_LOSS_PACKETS: the queue overflowed, and the plateau would take
 * two more rounds of sending at three times the path's rate to show it.
 * Random loss stays below: the count keeps the small early rounds of a
 * path with 5% loss (one lost of ten is 10%) from ending startup by
 * chance. */
static void check_full_pipe(struct bbr *b, const struct rate_sample *rs, uint64_t mds)
{
	if (b->filled_pipe || !b->round_start)
		return;
	if (b->last_round_loss_pct >= BBR_LOSS_BOUND_PCT &&
	    b->last_round_lost >= STARTUP_LOSS_PACKETS * mds) {
		b->filled_pipe = 1;
		return;
	}
	if (rs->is_app_limited)
		return;
	if (b->btl_bw * 100 >= b->full_bw * FULL_BW_THRESH) {
		b->full_bw = b->btl_bw;
		b->full_bw_count = 0;
		return;
	}
	if (++b->full_bw_count >= FULL_BW_ROUNDS)
		b->filled_pipe = 1;
}

static void enter_probe_bw(struct cc *c, uint64_t now_us)
{
	struct bbr *b = &c->bbr;

	b->state = BBR_PROBE_BW;
	b->cwnd_gain_pct = CWND_GAIN;
	/* start in a random cruise phase so flows sharing a path do not
	 * probe in step; the phase 1 (drain) start is excluded as Linux does */
	b->cycle_index = 2 + (int)(now_us % 6);
	b->pacing_gain_pct = cycle_gain[b->cycle_index];
	b->cycle_stamp_us = now_us;
	b->probe_start_bw = 0;
}

static void restart_startup(struct cc *c);

static void check_drain(struct cc *c, uint64_t now_us)
{
	struct bbr *b = &c->bbr;

	if (b->state == BBR_STARTUP && b->filled_pipe) {
		b->state = BBR_DRAIN;
		b->pacing_gain_pct = DRAIN_GAIN;
		b->cwnd_gain_pct = HIGH_GAIN;
	}
	if (b->state == BBR_DRAIN && c->in_flight <= bdp(c, 100))
		enter_probe_bw(c, now_us);
}

/* advance_cycle() - each phase lasts about one min RTT; the probe phase
 * goes on until it put its extra quarter in flight or saw loss, the drain
 * phase ends early once the queue it drains is gone. */
static void advance_cycle(struct cc *c, const struct rate_sample *rs, uint64_t now_us)
{
	struct bbr *b = &c->bbr;
	int elapsed = now_us - b->cycle_stamp_us > b->min_rtt_us;
	int next = elapsed;

	if (b->pacing_gain_pct > 100)
		next = elapsed && (rs->newly_lost || c->in_flight >= bdp(c, b->pacing_gain_pct));
	else if (b->pacing_gain_pct < 100)
		next = elapsed || c->in_flight <= bdp(c, 100);
	if (!next)
		return;
	b->cycle_index = (b->cycle_index + 1) % 8;
	b->pacing_gain_pct = cycle_gain[b->cycle_index];
	b->cycle_stamp_us = now_us;
	if (b->cycle_index == 0) {
		b->probe_start_bw = b->btl_bw;
		lift_loss_bounds(b);
	}
}

/* check_probe_room() - in the rounds after a probe its samples come in:
 * if they raised the estimate by a fifth or more, the path took nearly
 * all of the extra quarter and has room beyond it (a path that became
 * faster, a competitor gone), and a quarter per eight rounds would take
 * seconds to find it (a link from a 100 Mbit/s path onto a faster lossy
 * one climbed from 95 to 353 Mbit/s in 2.5 s): search as startup does,
 * doubling per round. */
static void check_probe_room(struct cc *c)
{
	struct bbr *b = &c->bbr;

	if (b->state != BBR_PROBE_BW || !b->probe_start_bw ||
	    b->btl_bw * 100 < b->probe_start_bw * PROBE_ROOM_PCT)
		return;
	b->probe_start_bw = 0;
	b->probes_found_room++;
	restart_startup(c);
}

/* own_queue_us() - the most delay our own data can add at the bottleneck:
 * the whole window queued there, drained at the bandwidth we measured */
static uint64_t own_queue_us(const struct cc *c)
{
	const struct bbr *b = &c->bbr;

	if (!b->btl_bw)
		return UINT64_MAX;
	return c->cwnd * 1000000 / b->btl_bw;
}

/* check_stale_min_rtt() - the minimum RTT was measured on a path that is
 * gone.  BBR keeps it for ten seconds, and a window sized with a 0.1 ms
 * minimum on what is now a 40 ms path crawls at a window per 40 ms all
 * that time.  When for STALE_ROUNDS rounds in a row the lowest sample of
 * the round was higher than the minimum plus everything we have in
 * flight could queue (at the bandwidth still remembered from before), the
 * difference is the path's, not ours: the minimum becomes the lowest of
 * those rounds.  Called at the start of each round, before the bandwidth
 * filter has forgotten the old path (ten rounds). */
static void check_stale_min_rtt(struct cc *c, uint64_t now_us)
{
	struct bbr *b = &c->bbr;
	uint64_t seen = b->round_rtt_min_us, queue = own_queue_us(c);

	b->round_rtt_min_us = UINT64_MAX;
	if (seen == UINT64_MAX || b->min_rtt_us == UINT64_MAX || queue == UINT64_MAX ||
	    seen <= b->min_rtt_us + queue + STALE_SLACK_US) {
		b->stale_rounds = 0;
		b->stale_rtt_min_us = UINT64_MAX;
		return;
	}
	b->stale_rtt_min_us = MIN(b->stale_rtt_min_us, seen);
	if (++b->stale_rounds < STALE_ROUNDS)
		return;
	b->min_rtt_us = b->stale_rtt_min_us;
	b->min_rtt_stamp_us = now_us;
	b->stale_rounds = 0;
	b->stale_rtt_min_us = UINT64_MAX;
	b->min_rtt_renewed++;
	restart_startup(c);
}

/* restart_startup() - the minimum RTT was stale, and so is all that was
 * concluded with it: the window was sized by it, every sample since was
 * held back by that window, and the pipe was judged full and the
 * bandwidth measured on that evidence.  Search again from what the last
 * round delivered, doubling per round as a new connection would: on a
 * 40 ms path the new bandwidth is found in a few hundred milliseconds,
 * where the probe cycle's quarter per eight rounds takes seconds. */
static void restart_startup(struct cc *c)
{
	struct bbr *b = &c->bbr;
	uint64_t last = b->bw_round[(b->bw_rounds + BBR_BW_ROUNDS - 1) % BBR_BW_ROUNDS];
	uint64_t now = b->bw_round[b->bw_rounds % BBR_BW_ROUNDS];

	memset(b->bw_round, 0, sizeof(b->bw_round));
	b->bw_round[b->bw_rounds % BBR_BW_ROUNDS] = MAX(last, now);
	b->btl_bw = MAX(last, now);
	b->filled_pipe = 0;
	b->full_bw = 0;
	b->full_bw_count = 0;
	b->state = BBR_STARTUP;
	b->pacing_gain_pct = HIGH_GAIN;
	b->cwnd_gain_pct = HIGH_GAIN;
	lift_loss_bounds(b);
	/* startup's rate only grows: start it from the new estimate */
	c->pacing_rate = b->btl_bw * HIGH_GAIN / 100;
}

/* update_min_rtt() - and PROBE_RTT: when the minimum is ten seconds old,
 * drain to four packets for 200 ms and a round so a fresh minimum can be
 * seen without our own queue in it */
static void update_min_rtt(struct cc *c, const struct rate_sample *rs, uint64_t now_us)
{
	struct bbr *b = &c->bbr;
	int expired;

	if (b->round_start && b->state != BBR_PROBE_RTT)
		check_stale_min_rtt(c, now_us);
	if (rs->rtt_us)
		b->round_rtt_min_us = MIN(b->round_rtt_min_us, rs->rtt_us);
	expired = b->min_rtt_us != UINT64_MAX && now_us - b->min_rtt_stamp_us > MIN_RTT_WINDOW_US;
	if (rs->rtt_us && (rs->rtt_us <= b->min_rtt_us || expired)) {
		b->min_rtt_us = rs->rtt_us;
		b->min_rtt_stamp_us = now_us;
	}
	/* after a pause the queue has drained by itself: the samples of the
	 * new flight are the fresh minimum, and PROBE_RTT's four packets would
	 * only slow the restart (as Linux, tcp_bbr.c idle_restart) */
	if (expired && b->state != BBR_PROBE_RTT && !b->idle_restart) {
		b->state = BBR_PROBE_RTT;
		b->pacing_gain_pct = 100;
		b->cwnd_gain_pct = 100;
		b->prior_cwnd = c->cwnd;
		b->probe_rtt_done_us = 0;
	}
	if (b->state != BBR_PROBE_RTT)
		return;
	if (!b->probe_rtt_done_us && c->in_flight <= c->min_cwnd) {
		b->probe_rtt_done_us = now_us + PROBE_RTT_TIME_US;
		b->probe_rtt_round_done = 0;
		b->next_round_delivered = b->delivered;
	} else if (b->probe_rtt_done_us) {
		if (b->round_start)
			b->probe_rtt_round_done = 1;
		if (b->probe_rtt_round_done && now_us >= b->probe_rtt_done_us) {
			b->min_rtt_stamp_us = now_us;
			c->cwnd = MAX(c->cwnd, b->prior_cwnd);
			if (b->filled_pipe) {
				enter_probe_bw(c, now_us);
			} else {
				b->state = BBR_STARTUP;
				b->pacing_gain_pct = HIGH_GAIN;
				b->cwnd_gain_pct = HIGH_GAIN;
			}
		}
	}
}

/* set_pacing_rate() - gain times the bandwidth estimate.  Before the
 * first estimate, and as its floor in startup, the initial window spread
 * over one RTT at the startup gain, as Linux does: one slow early sample
 * must not throttle startup. */
static void set_pacing_rate(struct cc *c, const struct rate_sample *rs)
{
	struct bbr *b = &c->bbr;
	uint64_t rate;

	if (!c->pacing_rate && rs->rtt_us)
		c->pacing_rate = c->cwnd * 1000000 / rs->rtt_us * HIGH_GAIN / 100;
	if (!b->btl_bw)
		return;
	rate = (b->bw_lo ? MIN(b->btl_bw, b->bw_lo) : b->btl_bw) * b->pacing_gain_pct / 100;
	/* never below an initial window per round trip: a sender that was
	 * mostly idle has only seen its own trickle */
	rate = MAX(rate, 10 * (uint64_t)c->mds * 1000000 / MAX(b->min_rtt_us, (uint64_t)1000));
	/* in startup the rate only grows: a low early sample must not slow it */
	if (b->filled_pipe || rate > c->pacing_rate)
		c->pacing_rate = rate;
}

/* update_ack_aggregation() - ACKs often come in bursts (receivers batch
 * them, so do NICs and our own batched reads); the window must cover what
 * arrives between bursts or the sender idles while the pipe has room */
static void update_ack_aggregation(struct cc *c, const struct rate_sample *rs, uint64_t now_us)
{
	struct bbr *b = &c->bbr;
	uint64_t expected, extra;

	if (!b->btl_bw || !rs->newly_acked)
		return;
	if (b->round_start && b->round_count - b->extra_acked_round >= EXTRA_ACKED_ROUNDS) {
		b->extra_acked_round = b->round_count;
		b->extra_acked_idx ^= 1;
		b->extra_acked[b->extra_acked_idx] = 0;
	}
	expected = b->btl_bw * (now_us - b->ack_epoch_us) / 1000000;
	if (b->ack_epoch_acked <= expected || b->ack_epoch_acked + rs->newly_acked >= (1u << 30)) {
		b->ack_epoch_acked = 0;
		b->ack_epoch_us = now_us;
		expected = 0;
	}
	b->ack_epoch_acked += rs->newly_acked;
	extra = MIN(b->ack_epoch_acked - expected, c->cwnd);
	if (extra > b->extra_acked[b->extra_acked_idx])
		b->extra_acked[b->extra_acked_idx] = extra;
}

/* send_quantum() - what the sender emits in one go at this rate: a
 * millisecond's worth between two packets and 64 KiB; the window keeps
 * room for three of them (Linux's quantization budget) */
static uint64_t send_quantum(const struct cc *c)
{
	uint64_t q = c->pacing_rate / 1000;

	return MAX(MIN(q, (uint64_t)SEND_QUANTUM_MAX), 2 * (uint64_t)c->mds);
}

static void set_cwnd(struct cc *c, const struct rate_sample *rs)
{
	struct bbr *b = &c->bbr;
	uint64_t target = bdp(c, b->cwnd_gain_pct) + 3 * send_quantum(c);
	uint64_t extra = MAX(b->extra_acked[0], b->extra_acked[1]);

	if (b->filled_pipe)
		target += MIN(extra, b->btl_bw * EXTRA_ACKED_MAX_US / 1000000);
	if (b->inflight_lo)
		target = MIN(target, b->inflight_lo);

	if (b->filled_pipe)
		c->cwnd = MIN(c->cwnd + rs->newly_acked, target);
	else if (c->cwnd < target || b->delivered < 10 * (uint64_t)c->mds)
		c->cwnd += rs->newly_acked;
	c->cwnd = MAX(c->cwnd, c->min_cwnd);
	if (b->state == BBR_PROBE_RTT)
		c->cwnd = MIN(c->cwnd, c->min_cwnd);
}

void bbr_on_rate_sample(struct cc *c, const struct rate_sample *rs, uint64_t now_us)
{
	struct bbr *b = &c->bbr;

	/* the link's count, which rounds are measured in (a packet carries
	 * it from when it left): it goes on across a restart of the
	 * controller on a new path, where a count of our own would start at
	 * zero and end a round with every ACK */
	b->delivered = rs->prior_delivered + rs->delivered;
	update_round(b, rs);
	update_bw(b, rs);
	update_loss_bounds(c);
	check_probe_room(c);
	if (b->state == BBR_PROBE_BW)
		advance_cycle(c, rs, now_us);
	check_full_pipe(b, rs, c->mds);
	check_drain(c, now_us);
	update_min_rtt(c, rs, now_us);
	if (rs->newly_acked)
		b->idle_restart = 0;
	update_ack_aggregation(c, rs, now_us);
	set_pacing_rate(c, rs);
	set_cwnd(c, rs);
}

/* bbr_on_persistent_congestion() - every packet of two probe timeouts was
 * lost: the model is stale, start again from a minimal window (the
 * bandwidth filter is kept, as Linux does after an RTO) */
void bbr_on_persistent_congestion(struct cc *c)
{
	c->cwnd = c->min_cwnd;
	c->bbr.prior_cwnd = MAX(c->bbr.prior_cwnd, c->cwnd);
}
