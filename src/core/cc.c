/* cc.c: RTT estimator, NewReno and CUBIC congestion control, pacer. */
#include <math.h>
#include <string.h>

#include "cc.h"
#include "util.h"

void rtt_init(struct rtt *r)
{
	memset(r, 0, sizeof(*r));
	r->smoothed_us = CC_INITIAL_RTT_US;
	r->var_us = CC_INITIAL_RTT_US / 2;
}

void rtt_update(struct rtt *r, uint64_t sample_us, uint64_t ack_delay_us,
		uint64_t max_ack_delay_us)
{
	uint64_t adjusted = sample_us, dev;

	r->latest_us = sample_us;
	if (!r->has_sample) {
		r->has_sample = 1;
		r->min_us = sample_us;
		r->smoothed_us = sample_us;
		r->var_us = sample_us / 2;
		return;
	}
	if (sample_us < r->min_us)
		r->min_us = sample_us;
	/* RFC 9002 5.3: subtract the peer's ack delay only when that does not
	 * take the sample below min_rtt */
	ack_delay_us = MIN(ack_delay_us, max_ack_delay_us);
	if (sample_us >= r->min_us + ack_delay_us)
		adjusted = sample_us - ack_delay_us;
	dev = r->smoothed_us > adjusted ? r->smoothed_us - adjusted : adjusted - r->smoothed_us;
	r->var_us = (3 * r->var_us + dev) / 4;
	r->smoothed_us = (7 * r->smoothed_us + adjusted) / 8;
}

uint64_t rtt_pto_us(const struct rtt *r, uint64_t max_ack_delay_us)
{
	return r->smoothed_us + MAX(4 * r->var_us, (uint64_t)CC_GRANULARITY_US) + max_ack_delay_us;
}

uint64_t rtt_loss_delay_us(const struct rtt *r, unsigned eighths)
{
	uint64_t d = MAX(r->latest_us, r->smoothed_us);

	d = d * eighths / 8;
	return MAX(d, (uint64_t)CC_GRANULARITY_US);
}

const char *cc_algo_name(enum cc_algo a)
{
	return a == CC_BBR ? "bbr" : a == CC_CUBIC ? "cubic" : "newreno";
}

void cc_init(struct cc *c, enum cc_algo algo, size_t mds)
{
	memset(c, 0, sizeof(*c));
	c->algo = algo;
	c->mds = mds;
	/* RFC 9002 7.2: min(10 * mds, max(14720, 2 * mds)) */
	c->cwnd = MIN(10 * (uint64_t)mds, MAX((uint64_t)14720, 2 * (uint64_t)mds));
	c->min_cwnd = 2 * (uint64_t)mds;
	c->ssthresh = UINT64_MAX;
	if (algo == CC_BBR)
		bbr_init(c);
}

void cc_on_sent(struct cc *c, size_t bytes, uint64_t now_us)
{
	/* a transfer starting after a pause: nothing but keepalives in
	 * flight, and the application had been what limited us */
	if (c->in_flight < c->mds && c->app_limited && bytes >= c->mds / 2)
		c->bbr.idle_restart = 1;
	c->in_flight += bytes;
	c->tokens -= (int64_t)bytes * 1000000;
}

/* cubic_target() - RFC 9438 4.2: W_cubic(t) = C (t - K)^3 + W_max */
static uint64_t cubic_target(const struct cc *c, uint64_t now_us, uint64_t rtt_us)
{
	double t = (double)(now_us - c->epoch_start_us + rtt_us) / 1e6;
	double d = t - c->k_s;
	double w = 0.4 * d * d * d * (double)c->mds + (double)c->w_max;

	return w < (double)c->min_cwnd ? c->min_cwnd : (uint64_t)w;
}

static void cubic_on_acked(struct cc *c, size_t bytes, uint64_t now_us, const struct rtt *rtt)
{
	uint64_t target;

	if (!c->epoch_start_us) {
		c->epoch_start_us = now_us;
		if (c->w_max < c->cwnd)
			c->w_max = c->cwnd;
		c->k_s = cbrt((double)(c->w_max - MIN(c->w_max, c->cwnd)) / (0.4 * (double)c->mds));
		c->w_est = c->cwnd;
	}
	/* Reno-friendly region (RFC 9438 4.3) */
	c->w_est += (uint64_t)((double)bytes * (double)c->mds * 0.53 / (double)c->cwnd);
	target = cubic_target(c, now_us, rtt->smoothed_us);
	if (target < c->w_est)
		target = c->w_est;
	if (target > c->cwnd) {
		/* approach the target by at most half the gap per RTT worth of acks */
		uint64_t inc = (target - c->cwnd) * bytes / c->cwnd;

		c->cwnd += MAX(inc, (uint64_t)1);
	}
	if (c->cwnd > 2 * c->w_max + 64 * (uint64_t)c->mds && target > c->cwnd)
		c->cwnd = target;
}

void cc_on_acked(struct cc *c, size_t bytes, uint64_t sent_us, uint64_t now_us,
		 const struct rtt *rtt)
{
	c->in_flight -= MIN(c->in_flight, (uint64_t)bytes);
	if (c->algo == CC_BBR)
		return; /* the window follows the model, in cc_on_rate_sample() */
	/* RFC 9002 7.3.2: acks of packets sent before recovery began do not grow cwnd */
	if (c->in_recovery && sent_us <= c->recovery_start_us)
		return;
	/* RFC 9002 7.8: a window the sender does not fill is not grown */
	if (c->app_limited)
		return;
	c->in_recovery = 0;
	if (c->cwnd < c->ssthresh) {
		c->cwnd += bytes;
		return;
	}
	if (c->algo == CC_CUBIC) {
		cubic_on_acked(c, bytes, now_us, rtt);
		return;
	}
	c->acked_in_ca += bytes;
	if (c->acked_in_ca >= c->cwnd) {
		c->acked_in_ca -= c->cwnd;
		c->cwnd += c->mds;
	}
}

void cc_on_lost(struct cc *c, size_t bytes)
{
	c->in_flight -= MIN(c->in_flight, (uint64_t)bytes);
}

/* cc_on_congestion() - one reduction per round trip: losses of packets sent
 * before the current recovery period began do not reduce again */
void cc_on_congestion(struct cc *c, uint64_t sent_us, uint64_t now_us)
{
	if (c->in_recovery && sent_us <= c->recovery_start_us)
		return;
	if (c->algo == CC_BBR) {
		/* loss is not BBR's congestion signal: count it, keep the model */
		c->congestion_events++;
		c->in_recovery = 1;
		c->recovery_start_us = now_us;
		return;
	}
	c->in_recovery = 1;
	c->recovery_start_us = now_us;
	c->congestion_events++;
	if (c->algo == CC_CUBIC) {
		/* RFC 9438 4.6/4.7: beta 0.7, fast convergence */
		if (c->cwnd < c->w_max)
			c->w_max = c->cwnd * 17 / 20;
		else
			c->w_max = c->cwnd;
		c->ssthresh = c->cwnd * 7 / 10;
		c->epoch_start_us = 0;
	} else {
		c->ssthresh = c->cwnd / 2;
	}
	c->cwnd = MAX(c->ssthresh, c->min_cwnd);
	c->acked_in_ca = 0;
}

void cc_on_persistent_congestion(struct cc *c)
{
	if (c->algo == CC_BBR) {
		bbr_on_persistent_congestion(c);
		return;
	}
	c->cwnd = c->min_cwnd;
	c->in_recovery = 0;
	c->epoch_start_us = 0;
}

int cc_can_send(const struct cc *c, size_t bytes)
{
	return c->in_flight + bytes <= c->cwnd;
}

/* cc_update_pacing() - RFC 9002 7.7: rate = N * cwnd / srtt with N = 1.25,
 * doubled in slow start so pacing never holds back window growth */
void cc_update_pacing(struct cc *c, const struct rtt *rtt)
{
	uint64_t srtt = MAX(rtt->smoothed_us, (uint64_t)1);
	uint64_t gain = c->cwnd < c->ssthresh ? 200 : 125;

	if (c->algo == CC_BBR)
		return; /* BBR paces at its bandwidth estimate */
	if (!rtt->has_sample) {
		c->pacing_rate = 0;
		return;
	}
	c->pacing_rate = c->cwnd * gain / 100 * 1000000 / srtt;
}

void cc_on_rate_sample(struct cc *c, const struct rate_sample *rs, uint64_t now_us,
		       const struct rtt *rtt)
{
	if (c->algo == CC_BBR)
		bbr_on_rate_sample(c, rs, now_us);
}

/* pacing_burst() - what may leave back to back: 500 us worth at the
 * current rate, between 10 and 256 packets, so that a timer wakeup always
 * has a useful amount to send.  The ceiling is 500 us at about 6 Gbit/s.
 * It was 64 packets (120 us at 5 Gbit/s), less than one turn of a busy
 * sender's loop: every turn ended waiting for the pacer, so a fast link
 * paid a timer per 64 packets and never reached the rate it paced at
 * (DESIGN.md 11.54). */
static int64_t pacing_burst(const struct cc *c)
{
	uint64_t b = c->pacing_rate / 2000;

	b = MAX(b, 10 * (uint64_t)c->mds);
	b = MIN(b, 256 * (uint64_t)c->mds);
	return (int64_t)b * 1000000;
}

/* cc_pacing_delay_us() - refill the bucket and say how long until bytes
 * may leave.  Tokens are kept in millionths of a byte so no fraction is
 * lost between calls. */
uint64_t cc_pacing_delay_us(struct cc *c, size_t bytes, uint64_t now_us)
{
	int64_t burst = pacing_burst(c);
	int64_t need = (int64_t)bytes * 1000000;

	if (c->pacing_rate == 0)
		return 0;
	if (now_us > c->tokens_at_us) {
		uint64_t elapsed = MIN(now_us - c->tokens_at_us, (uint64_t)1000000);

		c->tokens += (int64_t)(elapsed * c->pacing_rate);
		if (c->tokens > burst)
			c->tokens = burst;
		c->tokens_at_us = now_us;
	}
	if (c->tokens >= need)
		return 0;
	return (uint64_t)(need - c->tokens) / c->pacing_rate + 1;
}
