/* cc.h: RTT estimation, congestion control and pacing for the link
 * (RFC 9002 sections 5 and 7).  Pure: time comes in as microseconds.
 *
 * The link clock is in microseconds because RTTs on a LAN are well under
 * a millisecond and pacing at Gbit/s rates spaces packets by microseconds;
 * every duration an operator sees (config, logs, control API) is in ms. */
#ifndef OMNET_CC_H
#define OMNET_CC_H

#include <stddef.h>
#include <stdint.h>

#define CC_GRANULARITY_US 1000 /* RFC 9002 kGranularity */
#define CC_INITIAL_RTT_US 333000
#define CC_PERSISTENT_THRESHOLD 3

struct rtt {
	uint64_t latest_us, smoothed_us, var_us, min_us;
	int has_sample;
};

void rtt_init(struct rtt *r);
/* rtt_update() - RFC 9002 5.3, with the peer's reported ack delay */
void rtt_update(struct rtt *r, uint64_t sample_us, uint64_t ack_delay_us,
		uint64_t max_ack_delay_us);
/* rtt_pto_us() - probe timeout before backoff (RFC 9002 6.2.1) */
uint64_t rtt_pto_us(const struct rtt *r, uint64_t max_ack_delay_us);
/* rtt_loss_delay_us() - time threshold: eighths/8 of max(smoothed,
 * latest); RFC 9002 6.1.2 recommends 9/8 */
uint64_t rtt_loss_delay_us(const struct rtt *r, unsigned eighths);

enum cc_algo { CC_NEWRENO, CC_CUBIC, CC_BBR };

/* A delivery rate sample, taken once per ACK frame
 * (draft-cheng-iccrg-delivery-rate-estimation). */
struct rate_sample {
	uint64_t delivery_rate;   /* bytes per second; 0: no valid sample */
	uint64_t delivered;       /* bytes delivered over the interval */
	uint64_t interval_us;
	uint64_t prior_delivered; /* delivered count when the newest acked packet left */
	int is_app_limited;
	int is_window_limited;    /* sent while the peer's flow control held data back */
	uint64_t rtt_us;          /* the ACK's RTT sample, 0 if none */
	uint64_t newly_acked;     /* bytes */
	uint64_t newly_lost;      /* bytes */
};

#define BBR_BW_ROUNDS 10

/* BBR (draft-cardwell-iccrg-bbr-congestion-control): a model of the path,
 * bottleneck bandwidth and round-trip propagation time, instead of loss as
 * the congestion signal; random loss does not shrink the window. */
struct bbr {
	int state;                /* STARTUP, DRAIN, PROBE_BW, PROBE_RTT */
	uint64_t bw_round[BBR_BW_ROUNDS]; /* max delivery rate seen per round */
	uint64_t bw_last_round;   /* sampled round of the newest sample in bw_round */
	uint64_t bw_rounds;       /* rounds that gave the filter a sample: its clock */
	int round_sampled;        /* this round gave it one */
	uint64_t round_lost, round_acked; /* bytes, this round so far */
	uint64_t round_max_rate;  /* its highest delivery rate sample, however held */
	unsigned last_round_loss_pct; /* of the round that ended last */
	uint64_t last_round_lost;     /* its bytes lost */
	uint64_t last_round_rate;     /* its round_max_rate */
	/* bounds from rounds that lost BBR_LOSS_BOUND_PCT or more (0: none),
	 * lifted by the next probe: BBRv2's bw_lo and inflight_lo */
	uint64_t bw_lo, inflight_lo;
	uint64_t loss_bounded;    /* rounds that set them (counter) */
	int idle_restart;         /* sending again after a pause; no ACK of it yet */
	uint64_t btl_bw;          /* bytes/s: max of the window */
	uint64_t min_rtt_us, min_rtt_stamp_us;
	uint64_t round_count, next_round_delivered;
	int round_start;
	uint64_t full_bw;
	int full_bw_count, filled_pipe;
	unsigned pacing_gain_pct, cwnd_gain_pct;
	int cycle_index;
	uint64_t cycle_stamp_us;
	uint64_t probe_rtt_done_us;
	int probe_rtt_round_done;
	uint64_t prior_cwnd;
	uint64_t delivered;       /* total bytes delivered: the link's count */
	/* ACK aggregation: bytes acknowledged beyond what the bandwidth
	 * estimate explains, max over the last rounds (Linux bbr_extra_acked) */
	uint64_t ack_epoch_us, ack_epoch_acked;
	uint64_t extra_acked[2];
	uint64_t extra_acked_round;
	int extra_acked_idx;
	/* a path that got longer: each round's lowest RTT sample, and how
	 * many rounds in a row our own queue could not explain it */
	uint64_t round_rtt_min_us, stale_rtt_min_us;
	unsigned stale_rounds;
	uint64_t min_rtt_renewed;  /* times the minimum was found stale (counter) */
	uint64_t probe_start_bw;   /* the estimate when the probe phase began */
	uint64_t probes_found_room; /* times a probe found much more (counter) */
};

struct cc {
	enum cc_algo algo;
	size_t mds;              /* max datagram size, bytes */
	uint64_t cwnd;           /* bytes */
	uint64_t ssthresh;
	uint64_t in_flight;      /* bytes */
	uint64_t recovery_start_us;
	int in_recovery;
	uint64_t acked_in_ca;    /* NewReno congestion avoidance counter */
	/* CUBIC (RFC 9438) */
	uint64_t w_max;          /* bytes, before the last reduction */
	uint64_t epoch_start_us; /* 0: no epoch yet */
	double k_s;              /* time to reach w_max, seconds */
	uint64_t w_est;          /* Reno-friendly estimate, bytes */
	/* pacing: a token bucket refilled at pacing_rate */
	uint64_t pacing_rate;    /* bytes per second; 0 = not yet known */
	int64_t tokens;          /* millionths of a byte */
	uint64_t tokens_at_us;
	uint64_t min_cwnd;
	int app_limited;         /* the sender had less to send than the window */
	struct bbr bbr;
	/* counters */
	uint64_t congestion_events;
};

void cc_init(struct cc *c, enum cc_algo algo, size_t mds);
void cc_on_sent(struct cc *c, size_t bytes, uint64_t now_us);
void cc_on_acked(struct cc *c, size_t bytes, uint64_t sent_us, uint64_t now_us,
		 const struct rtt *rtt);
void cc_on_lost(struct cc *c, size_t bytes);
void cc_on_congestion(struct cc *c, uint64_t sent_us, uint64_t now_us);
void cc_on_persistent_congestion(struct cc *c);
int cc_can_send(const struct cc *c, size_t bytes);
/* cc_pacing_delay_us() - how long until a packet of bytes may leave (0: now) */
uint64_t cc_pacing_delay_us(struct cc *c, size_t bytes, uint64_t now_us);
void cc_update_pacing(struct cc *c, const struct rtt *rtt);
/* cc_on_rate_sample() - once per ACK frame, after the per-packet calls */
void cc_on_rate_sample(struct cc *c, const struct rate_sample *rs, uint64_t now_us,
		       const struct rtt *rtt);
/* BBR, in bbr.c */
void bbr_init(struct cc *c);
void bbr_on_rate_sample(struct cc *c, const struct rate_sample *rs, uint64_t now_us);
void bbr_on_persistent_congestion(struct cc *c);
const char *bbr_state_name(const struct cc *c);
const char *cc_algo_name(enum cc_algo a);

#endif
