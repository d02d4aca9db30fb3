/* impair.c: a userspace layer-2 bridge that delays, drops, duplicates,
 * reorders and rate-limits frames, for integration tests on kernels built
 * without sch_netem.
 *
 * Run it in a namespace holding two interfaces (typically the inner ends of
 * two veth pairs): every frame arriving on one leaves on the other, so the
 * namespaces at the outer ends talk as if on one impaired link.
 *
 * Per direction, a received frame is dropped in a blackout (--blackout-ms)
 * or by chance (--loss, --ge), maybe duplicated (--dup), given a delay
 * (--delay-ms, --jitter-ms, --reorder), then waits in the bottleneck queue
 * (--queue-pkts, --queue-ms) for a token bucket (--rate-mbit) and in a
 * time-ordered heap, whose release times --burst-ms rounds up to a grid,
 * before it is sent.  A frame that needs none of that and has nothing queued
 * ahead of it is sent straight from the receive buffer, which keeps the
 * plain bridge fast.  Each direction has its own settings (--a-to-b,
 * --b-to-a), and lines written to a control FIFO (--control) replace them
 * while the bridge runs, so a path can change under a running link.
 *
 * The sockets use PACKET_VNET_HDR so that GSO super-frames and frames with a
 * checksum left to offload (legs whose offloads were not turned off) cross
 * intact: the kernel hands us their metadata on receive and rebuilds the same
 * skb on send.  Without it such frames would be refused with EMSGSIZE or
 * arrive with bad checksums. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <math.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ROUND_UP(x, a) (((x) + (a) - 1) / (a) * (a))

#define BATCH 64			/* frames per recvmmsg() */
#define TX_BATCH (2 * BATCH)		/* each received frame may go out twice (--dup) */
#define RX_ROUNDS 4			/* recvmmsg() calls per socket per wakeup */
#define VNET_BYTES sizeof(struct virtio_net_hdr)
#define VLAN_ROOM 4			/* headroom to put a stripped 802.1Q tag back */
#define FRAME_MAX (65536 + 64)		/* a 64 KiB GSO packet plus link header */
#define MSG_MAX (VLAN_ROOM + VNET_BYTES + FRAME_MAX)
/* Receive buffers 64 KiB apart would all start in the same cache set;
 * one extra line per buffer spreads their headers out. */
#define RX_STRIDE (ROUND_UP(MSG_MAX, 64) + 64)
#define JUMBO_SLOTS_MAX 128		/* queued frames larger than the MTU */
#define SOCKBUF_BYTES (16 << 20)
#define TB_DT_MAX_US 60000000ULL	/* keeps token arithmetic within int64 */
#define RATE_MBIT_MAX 100000.0
#define MS_MAX 3600000ULL

/* What to do to the frames of one direction; all zero is a plain bridge. */
struct impair {
	uint64_t delay_us;
	uint64_t jitter_us;
	uint64_t reorder_us;
	double loss;			/* probabilities, 0..1 */
	double dup;
	double reorder;
	uint64_t rate_bps;		/* 0: unlimited */
	uint64_t queue_pkts;		/* bottleneck queue limit in frames, 0: none */
	uint64_t queue_us;		/* ... and in time to drain it at rate_bps */
	uint64_t burst_us;		/* release on a grid of this period, 0: off */
	double ge_p;			/* Gilbert-Elliott: good to bad, 0: off */
	double ge_r;			/* bad to good */
	double ge_loss_bad;		/* loss in each state */
	double ge_loss_good;
	uint64_t blackout_us;		/* drop everything for this long ... */
	uint64_t blackout_every_us;	/* ... at the end of every such period */
};

struct opts {
	const char *if_a;
	const char *if_b;
	struct impair imp;
	const char *spec[2];		/* --a-to-b and --b-to-a */
	const char *control;
	uint64_t limit_pkts;
	uint64_t seed;
	int seed_set;
	const char *pidfile;
	const char *statsfile;
	int only;			/* 0 both ways, 1 A to B only, 2 B to A only */
	uint64_t duration_ms;
};

struct counters {
	uint64_t rx;
	uint64_t tx;
	uint64_t dropped_loss;
	uint64_t dropped_queue;
	uint64_t duplicated;
	uint64_t reordered;
	uint64_t dropped_tx;		/* send refused, e.g. EMSGSIZE */
	uint64_t dropped_oversize;	/* did not fit the receive buffer */
	uint64_t dropped_rcvbuf;	/* kernel dropped: our socket buffer was full */
	uint64_t dropped_blackout;
	uint64_t changes;		/* settings replaced through --control */
};

static const struct {
	const char *key;
	size_t off;
} counter_keys[] = {
	{ "rx", offsetof(struct counters, rx) },
	{ "tx", offsetof(struct counters, tx) },
	{ "dropped_loss", offsetof(struct counters, dropped_loss) },
	{ "dropped_queue", offsetof(struct counters, dropped_queue) },
	{ "duplicated", offsetof(struct counters, duplicated) },
	{ "reordered", offsetof(struct counters, reordered) },
	{ "dropped_tx", offsetof(struct counters, dropped_tx) },
	{ "dropped_oversize", offsetof(struct counters, dropped_oversize) },
	{ "dropped_rcvbuf", offsetof(struct counters, dropped_rcvbuf) },
	{ "dropped_blackout", offsetof(struct counters, dropped_blackout) },
	{ "changes", offsetof(struct counters, changes) },
};

/* A queued frame: virtio-net header and frame, in a pool slot. */
struct frame {
	uint64_t release_us;		/* in the rate queue: the delay still to add */
	uint64_t seq;			/* keeps equal release times in arrival order */
	unsigned char *buf;
	uint32_t len;
};

/* Fixed-size buffers handed out LIFO, so the most recently used (cache-warm)
 * slot is reused first. */
struct pool {
	unsigned char *mem;
	size_t mem_bytes;
	size_t slot_bytes;
	unsigned char **free;
	unsigned nfree;
};

/* One direction of the bridge: frames read from rx_fd leave on tx_fd. */
struct dir {
	const char *name;		/* "a_to_b", also the stats key prefix */
	const char *rx_if;
	const char *tx_if;
	int rx_ifindex;
	int rx_fd;
	int tx_fd;
	struct impair imp;
	uint64_t imp_since_us;		/* when imp took effect: blackout phase */
	int ge_bad;			/* Gilbert-Elliott state */
	uint64_t prng;
	uint64_t seq;
	uint64_t limit;
	struct pool small;		/* frames up to the MTU */
	struct pool jumbo;		/* GSO frames and other giants */
	struct frame *heap;		/* delay stage, min-heap on (release_us, seq) */
	unsigned heap_len;
	struct frame *fifo;		/* rate stage, a ring of limit entries */
	unsigned fifo_head;
	unsigned fifo_len;
	uint64_t fifo_bytes;		/* frame bytes in the rate stage */
	int64_t tokens;			/* micro-bits: rate_bps * elapsed us */
	int64_t tokens_max;
	int64_t burst_min;		/* the bucket holds at least two frames */
	uint64_t tokens_us;
	unsigned char *rx_mem;
	struct mmsghdr rx_msg[BATCH];
	struct iovec rx_iov[BATCH];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} rx_cmsg[BATCH];
	struct mmsghdr tx_msg[TX_BATCH];
	struct iovec tx_iov[TX_BATCH];
	unsigned char *tx_slot[TX_BATCH];	/* slot to free once sent, or NULL */
	unsigned tx_len;
	int tx_err_logged;
	struct counters c;
};

static volatile sig_atomic_t got_quit;
static volatile sig_atomic_t got_usr1;

/* now_us() - CLOCK_MONOTONIC in microseconds */
static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* say() - one line on stderr, prefixed with our name */
static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "impair: %s\n", line);
}

/* prng_next() - splitmix64: tiny, fast and good enough for coin flips */
static uint64_t prng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* chance() - true with probability @p (0..1); draws nothing when @p is 0 so
 * that enabling one impairment leaves the others' sequences alone */
static int chance(uint64_t *s, double p)
{
	if (p <= 0)
		return 0;
	return (double)(prng_next(s) >> 11) * 0x1p-53 < p;
}

/* usage() - the option summary, to @f */
static void usage(FILE *f)
{
	fputs("usage: impair --a IFACE_A --b IFACE_B [options]\n"
	      "Bridge every frame between IFACE_A and IFACE_B (AF_PACKET; run as root in the\n"
	      "namespace holding both) and impair it on the way, like netem.  Per direction:\n"
	      "  --delay-ms N       one-way delay added to every frame (default 0)\n"
	      "  --jitter-ms N      extra uniform random delay 0..N ms; frames may reorder\n"
	      "  --loss PCT         drop probability in percent, decimals allowed (default 0)\n"
	      "  --dup PCT          duplicate probability in percent\n"
	      "  --reorder PCT      probability that a frame is held back --reorder-ms extra\n"
	      "  --reorder-ms N     hold-back for --reorder (default 10)\n"
	      "  --rate-mbit N      token-bucket rate, decimals allowed (default 0 = unlimited)\n"
	      "  --queue-pkts N     bottleneck queue: frames waiting for --rate-mbit beyond N\n"
	      "                     are tail-dropped (default 0: only --limit-pkts)\n"
	      "  --queue-ms N       the same, once the queue takes more than N ms to drain\n"
	      "  --burst-ms N       hold frames and release them in a batch every N ms (on a\n"
	      "                     grid of the monotonic clock), like Wi-Fi aggregation\n"
	      "  --ge P,R,BAD[,GOOD] Gilbert-Elliott burst loss, in percent: per frame the\n"
	      "                     state goes good->bad with P, bad->good with R, then the\n"
	      "                     frame is lost with BAD or GOOD (default 0) by its state.\n"
	      "                     Mean loss P/(P+R)*BAD + R/(P+R)*GOOD; bad runs last 1/R\n"
	      "  --blackout-ms D    drop every frame for D ms at the end of every period of\n"
	      "  --blackout-every-ms P  P ms (the first starts P-D ms after the setting)\n"
	      "  --limit-pkts N     frames held (rate queue plus delay) before tail drop\n"
	      "                     (default 1000; like netem's limit, cover rate x delay;\n"
	      "                     set once at start, for both directions)\n"
	      "  --seed N           PRNG seed for reproducible runs (default: time and pid)\n"
	      "  --a-to-b-only      impair only A->B; B->A is a plain bridge\n"
	      "  --b-to-a-only      impair only B->A; A->B is a plain bridge\n"
	      "  --a-to-b SPEC      settings of A->B alone, replacing the options above for\n"
	      "  --b-to-a SPEC      it: \"delay-ms=20 loss=1 ge=1,25,100\" (option names\n"
	      "                     without dashes, blank-separated; \"\" is a plain bridge)\n"
	      "Control:\n"
	      "  --control FIFO     read lines \"[a-to-b|b-to-a|both] SPEC\" from FIFO (made if\n"
	      "                     absent) while running; each line replaces the settings of\n"
	      "                     the directions it names (default both), the rest off.\n"
	      "                     A bad line is reported and changes nothing.  Each change\n"
	      "                     is logged with its CLOCK_MONOTONIC time in ms\n"
	      "  --pidfile FILE     write our pid once both sockets are open; removed at exit\n"
	      "  --stats FILE       on SIGUSR1 and at exit, write \"a_to_b_rx 123\" lines\n"
	      "                     (rx tx dropped_loss (--loss and --ge) dropped_queue\n"
	      "                     duplicated reordered\n"
	      "                     dropped_tx dropped_oversize dropped_rcvbuf\n"
	      "                     dropped_blackout changes), replaced\n"
	      "                     atomically: delete it, signal, wait for it to reappear\n"
	      "  --duration-ms N    exit after N ms (default 0 = until SIGTERM/SIGINT)\n"
	      "Exit status: 0 clean exit, 1 runtime error, 2 usage error.\n", f);
}

/* parse_u64() - decimal integer 0..@max for option @name into @out */
static int parse_u64(const char *name, const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull() accepts "-1" and leading blanks; we do not */
	if (!isdigit((unsigned char)*s))
		goto bad;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	say("--%s: '%s' is not an integer in 0..%" PRIu64, name, s, max);
	return -1;
}

/* parse_real() - decimal number @min..@max for option @name into @out */
static int parse_real(const char *name, const char *s, double min, double max,
		      double *out)
{
	char *end;
	double v;

	if (!isdigit((unsigned char)*s) && *s != '.')
		goto bad;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	say("--%s: '%s' is not a number in %g..%g", name, s, min, max);
	return -1;
}

/* parse_pct() - percentage 0..100 into a probability 0..1 */
static int parse_pct(const char *name, const char *s, double *out)
{
	double v;

	if (parse_real(name, s, 0, 100, &v))
		return -1;
	*out = v / 100;
	return 0;
}

/* parse_ms() - milliseconds into microseconds */
static int parse_ms(const char *name, const char *s, uint64_t *out_us)
{
	uint64_t v;

	if (parse_u64(name, s, MS_MAX, &v))
		return -1;
	*out_us = v * 1000;
	return 0;
}

/* parse_rate() - Mbit/s, decimals allowed, into bit/s */
static int parse_rate(const char *s, uint64_t *out_bps)
{
	double v;

	if (parse_real("rate-mbit", s, 0, RATE_MBIT_MAX, &v))
		return -1;
	*out_bps = (uint64_t)(v * 1e6 + 0.5);
	if (v > 0 && !*out_bps) {
		say("--rate-mbit: '%s' is below 1 bit/s", s);
		return -1;
	}
	return 0;
}

/* parse_ge() - "P,R,BAD[,GOOD]" percentages into @imp's Gilbert-Elliott model */
static int parse_ge(const char *s, struct impair *imp)
{
	double *field[4] = { &imp->ge_p, &imp->ge_r, &imp->ge_loss_bad, &imp->ge_loss_good };
	char buf[128], *tok, *save = NULL;
	unsigned n = 0;

	snprintf(buf, sizeof(buf), "%s", s);
	imp->ge_loss_good = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == 4 || parse_pct("ge", tok, field[n]))
			goto bad;
		n++;
	}
	if (n >= 3)
		return 0;
bad:
	say("--ge: '%s' is not P,R,BAD[,GOOD] (percentages)", s);
	return -1;
}

enum key_kind { KEY_MS, KEY_PCT, KEY_RATE, KEY_COUNT, KEY_GE };

/* The per-direction settings, by option name: command line, --a-to-b and
 * --b-to-a specs and control lines all go through this table */
static const struct imp_key {
	const char *name;
	enum key_kind kind;
	size_t off;
} imp_keys[] = {
	{ "delay-ms", KEY_MS, offsetof(struct impair, delay_us) },
	{ "jitter-ms", KEY_MS, offsetof(struct impair, jitter_us) },
	{ "loss", KEY_PCT, offsetof(struct impair, loss) },
	{ "dup", KEY_PCT, offsetof(struct impair, dup) },
	{ "reorder", KEY_PCT, offsetof(struct impair, reorder) },
	{ "reorder-ms", KEY_MS, offsetof(struct impair, reorder_us) },
	{ "rate-mbit", KEY_RATE, offsetof(struct impair, rate_bps) },
	{ "queue-pkts", KEY_COUNT, offsetof(struct impair, queue_pkts) },
	{ "queue-ms", KEY_MS, offsetof(struct impair, queue_us) },
	{ "burst-ms", KEY_MS, offsetof(struct impair, burst_us) },
	{ "ge", KEY_GE, 0 },
	{ "blackout-ms", KEY_MS, offsetof(struct impair, blackout_us) },
	{ "blackout-every-ms", KEY_MS, offsetof(struct impair, blackout_every_us) },
};

/* impair_defaults() - all off: a plain bridge */
static void impair_defaults(struct impair *imp)
{
	memset(imp, 0, sizeof(*imp));
	imp->reorder_us = 10000;
}

/* impair_set_key() - parse @val for the setting @k of @imp */
static int impair_set_key(struct impair *imp, const struct imp_key *k, const char *val)
{
	void *field = (char *)imp + k->off;

	switch (k->kind) {
	case KEY_MS: return parse_ms(k->name, val, field);
	case KEY_PCT: return parse_pct(k->name, val, field);
	case KEY_RATE: return parse_rate(val, field);
	case KEY_COUNT: return parse_u64(k->name, val, 1000000, field);
	case KEY_GE: return parse_ge(val, imp);
	}
	return -1;
}

/* impair_check() - settings that only make sense together; -1 after a message */
static int impair_check(const struct impair *imp)
{
	if (imp->blackout_us && imp->blackout_us >= imp->blackout_every_us) {
		say("--blackout-ms needs a longer --blackout-every-ms");
		return -1;
	}
	if ((imp->queue_pkts || imp->queue_us) && !imp->rate_bps) {
		say("--queue-pkts and --queue-ms need --rate-mbit");
		return -1;
	}
	return 0;
}

/* spec_parse() - "key=value ..." (blank-separated) into @imp, from all off;
 * -1 after a message */
static int spec_parse(const char *spec, struct impair *imp)
{
	char buf[1024], *tok, *save = NULL;

	impair_defaults(imp);
	if (strlen(spec) >= sizeof(buf)) {
		say("settings '%.40s...' too long", spec);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '=');
		unsigned i;

		if (eq)
			*eq = '\0';
		for (i = 0; i < ARRAY_SIZE(imp_keys); i++)
			if (!strcmp(tok, imp_keys[i].name))
				break;
		if (!eq || i == ARRAY_SIZE(imp_keys)) {
			say("'%s%s': not a setting=value (try --help)", tok, eq ? "=" : "");
			return -1;
		}
		if (impair_set_key(imp, &imp_keys[i], eq + 1))
			return -1;
	}
	return impair_check(imp);
}

enum {
	OPT_A = 256, OPT_B, OPT_LIMIT, OPT_SEED, OPT_PIDFILE, OPT_STATS,
	OPT_A2B, OPT_B2A, OPT_DURATION, OPT_SPEC_A2B, OPT_SPEC_B2A, OPT_CONTROL,
	OPT_IMP,		/* OPT_IMP + i: imp_keys[i] */
};

static const struct option fixed_opts[] = {
	{ "a", required_argument, NULL, OPT_A },
	{ "b", required_argument, NULL, OPT_B },
	{ "limit-pkts", required_argument, NULL, OPT_LIMIT },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "pidfile", required_argument, NULL, OPT_PIDFILE },
	{ "stats", required_argument, NULL, OPT_STATS },
	{ "a-to-b-only", no_argument, NULL, OPT_A2B },
	{ "b-to-a-only", no_argument, NULL, OPT_B2A },
	{ "a-to-b", required_argument, NULL, OPT_SPEC_A2B },
	{ "b-to-a", required_argument, NULL, OPT_SPEC_B2A },
	{ "control", required_argument, NULL, OPT_CONTROL },
	{ "duration-ms", required_argument, NULL, OPT_DURATION },
	{ "help", no_argument, NULL, 'h' },
};

/* long_opts_build() - getopt's table: the fixed options, then one per
 * impairment setting, then the terminator */
static void long_opts_build(struct option *lo)
{
	unsigned i, n = ARRAY_SIZE(fixed_opts);

	memcpy(lo, fixed_opts, sizeof(fixed_opts));
	for (i = 0; i < ARRAY_SIZE(imp_keys); i++)
		lo[n + i] = (struct option){ imp_keys[i].name, required_argument, NULL,
					     OPT_IMP + (int)i };
	memset(&lo[n + i], 0, sizeof(lo[n + i]));
}

/* opt_apply() - store one parsed option @c with argument @arg into @o */
static int opt_apply(struct opts *o, int c, const char *arg)
{
	if (c >= OPT_IMP && c < OPT_IMP + (int)ARRAY_SIZE(imp_keys))
		return impair_set_key(&o->imp, &imp_keys[c - OPT_IMP], arg);
	switch (c) {
	case OPT_A: o->if_a = arg; return 0;
	case OPT_B: o->if_b = arg; return 0;
	case OPT_LIMIT: return parse_u64("limit-pkts", arg, 1000000, &o->limit_pkts);
	case OPT_SEED: o->seed_set = 1; return parse_u64("seed", arg, UINT64_MAX, &o->seed);
	case OPT_PIDFILE: o->pidfile = arg; return 0;
	case OPT_STATS: o->statsfile = arg; return 0;
	case OPT_A2B: o->only |= 1; return 0;
	case OPT_B2A: o->only |= 2; return 0;
	case OPT_SPEC_A2B: o->spec[0] = arg; return 0;
	case OPT_SPEC_B2A: o->spec[1] = arg; return 0;
	case OPT_CONTROL: o->control = arg; return 0;
	case OPT_DURATION: return parse_u64("duration-ms", arg, UINT64_MAX / 1000, &o->duration_ms);
	}
	return -1;
}

/* opts_check() - what getopt cannot see: required and conflicting options */
static int opts_check(const struct opts *o)
{
	struct impair spec;
	int i;

	if (!o->if_a || !o->if_b) {
		say("--a and --b are required (try --help)");
		return -1;
	}
	if (!strcmp(o->if_a, o->if_b)) {
		say("--a and --b name the same interface '%s'", o->if_a);
		return -1;
	}
	if (o->only == 3) {
		say("--a-to-b-only and --b-to-a-only exclude each other");
		return -1;
	}
	if (!o->limit_pkts) {
		say("--limit-pkts must be at least 1");
		return -1;
	}
	for (i = 0; i < 2; i++)
		if (o->spec[i] && spec_parse(o->spec[i], &spec))
			return -1;
	return impair_check(&o->imp);
}

/* opts_parse() - fill @o from the command line; 0 to run, 1 after --help,
 * -1 on a usage error (already reported) */
static int opts_parse(int argc, char **argv, struct opts *o)
{
	struct option lo[ARRAY_SIZE(fixed_opts) + ARRAY_SIZE(imp_keys) + 1];
	int c;

	memset(o, 0, sizeof(*o));
	impair_defaults(&o->imp);
	o->limit_pkts = 1000;
	long_opts_build(lo);
	opterr = 0;
	/* The leading ':' makes a missing argument ':' rather than '?' */
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 1;
		}
		if (c == ':' || c == '?') {
			say("%s: '%s' (try --help)",
			    c == ':' ? "option needs an argument" : "unknown option",
			    argv[optind - 1]);
			return -1;
		}
		if (opt_apply(o, c, optarg))
			return -1;
	}
	if (optind < argc) {
		say("unexpected argument '%s' (try --help)", argv[optind]);
		return -1;
	}
	return opts_check(o);
}

/* if_mtu() - MTU of interface @name, or -1 */
static int if_mtu(const char *name)
{
	struct ifreq ifr;
	int fd, mtu = -1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (!ioctl(fd, SIOCGIFMTU, &ifr))
		mtu = ifr.ifr_mtu;
	close(fd);
	return mtu;
}

/* sock_bufsize() - set a socket buffer; the FORCE variant (root) ignores
 * net.core.[rw]mem_max, which defaults far below what a burst at 1 Gbit/s needs */
static void sock_bufsize(int fd, int force_opt, int opt)
{
	int bytes = SOCKBUF_BYTES;

	if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)))
		setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes));
}

/* sock_opt() - setsockopt(SOL_PACKET) of an int, naming it on failure */
static int sock_opt(int fd, int opt, int val, const char *optname, const char *ifname)
{
	if (!setsockopt(fd, SOL_PACKET, opt, &val, sizeof(val)))
		return 0;
	say("%s: setsockopt %s: %s", ifname, optname, strerror(errno));
	return -1;
}

/* sock_open() - AF_PACKET socket that reads every frame arriving on
 * @ifindex and sends out of it; the fd, or -1 after a message */
static int sock_open(const char *ifname, int ifindex)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct packet_mreq mr = { .mr_type = PACKET_MR_PROMISC };
	int fd;

	/* Protocol 0 receives nothing until bind(), so no frame from another
	 * interface slips in while we set up */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		say("%s: AF_PACKET socket: %s%s", ifname, strerror(errno),
		    errno == EPERM ? " (needs root or CAP_NET_RAW)" : "");
		return -1;
	}
	/* Our own transmissions on this interface are not input */
	if (sock_opt(fd, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING", ifname) ||
	    sock_opt(fd, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR", ifname) ||
	    sock_opt(fd, PACKET_AUXDATA, 1, "PACKET_AUXDATA", ifname))
		goto fail;
	sock_bufsize(fd, SO_RCVBUFFORCE, SO_RCVBUF);
	sock_bufsize(fd, SO_SNDBUFFORCE, SO_SNDBUF);
	/* veth delivers frames for other MACs anyway, real NICs filter them;
	 * the membership ends with the socket */
	mr.mr_ifindex = ifindex;
	if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr))) {
		say("%s: promiscuous mode: %s", ifname, strerror(errno));
		goto fail;
	}
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		say("%s: bind: %s", ifname, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

/* pool_init() - @n slots of at least @slot_bytes each; -1 if out of memory */
static int pool_init(struct pool *p, unsigned n, size_t slot_bytes)
{
	unsigned i;

	p->slot_bytes = ROUND_UP(slot_bytes, 64);
	p->mem_bytes = (size_t)n * p->slot_bytes;
	/* NORESERVE: pages are only committed once a frame lands in them, so
	 * a generous --limit-pkts costs address space, not memory */
	p->mem = mmap(NULL, p->mem_bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p->mem == MAP_FAILED) {
		p->mem = NULL;
		return -1;
	}
	p->free = calloc(n, sizeof(*p->free));
	if (!p->free)
		return -1;
	for (i = 0; i < n; i++)
		p->free[i] = p->mem + (size_t)(n - 1 - i) * p->slot_bytes;
	p->nfree = n;
	return 0;
}

/* pool_free() - release what pool_init() took, also after it failed */
static void pool_free(struct pool *p)
{
	if (p->mem)
		munmap(p->mem, p->mem_bytes);
	free(p->free);
	memset(p, 0, sizeof(*p));
}

/* pool_owns() - whether @buf is one of @p's slots */
static int pool_owns(const struct pool *p, const unsigned char *buf)
{
	return buf >= p->mem && buf < p->mem + p->mem_bytes;
}

/* frame_before() - heap order: earlier release first, then arrival order */
static int frame_before(const struct frame *x, const struct frame *y)
{
	if (x->release_us != y->release_us)
		return x->release_us < y->release_us;
	return x->seq < y->seq;
}

/* heap_push() - add @f to @d's delay heap; the caller checked the room */
static void heap_push(struct dir *d, const struct frame *f)
{
	unsigned i = d->heap_len++;

	while (i) {
		unsigned parent = (i - 1) / 2;

		if (!frame_before(f, &d->heap[parent]))
			break;
		d->heap[i] = d->heap[parent];
		i = parent;
	}
	d->heap[i] = *f;
}

/* heap_pop() - remove and return the earliest frame of @d's non-empty heap */
static struct frame heap_pop(struct dir *d)
{
	struct frame top = d->heap[0], last = d->heap[--d->heap_len];
	unsigned i = 0, n = d->heap_len;

	for (;;) {
		unsigned child = 2 * i + 1;

		if (child >= n)
			break;
		if (child + 1 < n && frame_before(&d->heap[child + 1], &d->heap[child]))
			child++;
		if (!frame_before(&d->heap[child], &last))
			break;
		d->heap[i] = d->heap[child];
		i = child;
	}
	d->heap[i] = last;
	return top;
}

/* fifo_push() - append @f to @d's rate queue; the caller checked the room */
static void fifo_push(struct dir *d, const struct frame *f)
{
	d->fifo[(d->fifo_head + d->fifo_len) % d->limit] = *f;
	d->fifo_len++;
	d->fifo_bytes += f->len - VNET_BYTES;
}

/* fifo_pop() - remove and return the head of @d's non-empty rate queue */
static struct frame fifo_pop(struct dir *d)
{
	struct frame f = d->fifo[d->fifo_head];

	d->fifo_head = (d->fifo_head + 1) % d->limit;
	d->fifo_len--;
	d->fifo_bytes -= f.len - VNET_BYTES;
	return f;
}

/* frame_cost() - what a message of @len bytes (with its virtio-net header)
 * takes from the token bucket: its frame bits, in micro-bits */
static int64_t frame_cost(size_t len)
{
	return (int64_t)(len - VNET_BYTES) * 8 * 1000000;
}

/* tb_refill() - add the tokens earned since the last refill, up to a burst */
static void tb_refill(struct dir *d, uint64_t now)
{
	uint64_t dt;

	if (now <= d->tokens_us)
		return;
	dt = now - d->tokens_us;
	d->tokens_us = now;
	if (dt > TB_DT_MAX_US)
		dt = TB_DT_MAX_US;
	d->tokens += (int64_t)(dt * d->imp.rate_bps);
	if (d->tokens > d->tokens_max)
		d->tokens = d->tokens_max;
}

/* tb_admit() - take tokens for a @len-byte message if the bucket is not in
 * debt; a frame may overdraw it, so even a 64 KiB GSO frame passes a small
 * bucket and the debt paces what follows */
static int tb_admit(struct dir *d, size_t len, uint64_t now)
{
	if (!d->imp.rate_bps)
		return 1;
	tb_refill(d, now);
	if (d->tokens < 0)
		return 0;
	d->tokens -= frame_cost(len);
	return 1;
}

/* tb_ready_us() - when the bucket of @d is out of debt again */
static uint64_t tb_ready_us(const struct dir *d)
{
	uint64_t debt = d->tokens < 0 ? (uint64_t)-d->tokens : 0;

	/* The rate was switched off under a full queue: drain it now */
	if (!d->imp.rate_bps)
		return 0;
	return d->tokens_us + (debt + d->imp.rate_bps - 1) / d->imp.rate_bps;
}

/* tx_flush() - send the batched frames of @d and free their slots */
static void tx_flush(struct dir *d)
{
	unsigned done = 0, i;

	while (done < d->tx_len) {
		int n = sendmmsg(d->tx_fd, d->tx_msg + done, d->tx_len - done, 0);

		if (n > 0) {
			d->c.tx += n;
			done += n;
			continue;
		}
		/* The frame at done was refused (too big for the MTU, interface
		 * down): drop it and go on with the rest */
		if (!d->tx_err_logged)
			say("%s: send on %s: %s (further send errors only counted)",
			    d->name, d->tx_if, strerror(errno));
		d->tx_err_logged = 1;
		d->c.dropped_tx++;
		done++;
	}
	for (i = 0; i < d->tx_len; i++) {
		unsigned char *slot = d->tx_slot[i];

		if (!slot)
			continue;
		if (pool_owns(&d->small, slot))
			d->small.free[d->small.nfree++] = slot;
		else
			d->jumbo.free[d->jumbo.nfree++] = slot;
	}
	d->tx_len = 0;
}

/* tx_add() - batch @len bytes at @msg for sending; @slot is freed once sent */
static void tx_add(struct dir *d, unsigned char *msg, size_t len, unsigned char *slot)
{
	unsigned i;

	if (d->tx_len == TX_BATCH)
		tx_flush(d);
	i = d->tx_len++;
	d->tx_iov[i].iov_base = msg;
	d->tx_iov[i].iov_len = len;
	d->tx_slot[i] = slot;
}

/* frame_delay_us() - draw the delay for one frame of @d */
static uint64_t frame_delay_us(struct dir *d)
{
	uint64_t us = d->imp.delay_us;

	if (d->imp.jitter_us)
		us += prng_next(&d->prng) % (d->imp.jitter_us + 1);
	if (chance(&d->prng, d->imp.reorder)) {
		us += d->imp.reorder_us;
		d->c.reordered++;
	}
	return us;
}

/* burst_align() - @t_us rounded up to @d's --burst-ms grid: every frame due
 * within one period leaves at its end, together */
static uint64_t burst_align(const struct dir *d, uint64_t t_us)
{
	uint64_t p = d->imp.burst_us;

	return p ? (t_us + p - 1) / p * p : t_us;
}

/* bottleneck_full() - whether a @len-byte message would overflow @d's
 * bottleneck queue (--queue-pkts, --queue-ms) */
static int bottleneck_full(const struct dir *d, size_t len)
{
	uint64_t bits = (d->fifo_bytes + len - VNET_BYTES) * 8;

	if (d->imp.queue_pkts && d->fifo_len >= d->imp.queue_pkts)
		return 1;
	/* bits / rate_bps > queue_us / 1e6, without the division */
	return d->imp.queue_us && d->imp.rate_bps &&
	       bits * 1000000 > d->imp.queue_us * d->imp.rate_bps;
}

/* frame_queue() - copy a message into a slot and queue it, @extra_us late;
 * tail drop when @d holds --limit-pkts frames, the slots run out or the
 * bottleneck queue is full */
static void frame_queue(struct dir *d, const unsigned char *msg, size_t len,
			uint64_t extra_us, uint64_t now)
{
	struct pool *p = len <= d->small.slot_bytes ? &d->small : &d->jumbo;
	int rate_stage = d->imp.rate_bps || d->fifo_len;
	struct frame f;

	if (d->heap_len + d->fifo_len >= d->limit || !p->nfree ||
	    (rate_stage && bottleneck_full(d, len))) {
		d->c.dropped_queue++;
		return;
	}
	f.buf = p->free[--p->nfree];
	memcpy(f.buf, msg, len);
	f.len = len;
	f.seq = d->seq++;
	/* Behind frames still in the rate stage even if the rate was just
	 * switched off, so a change does not reorder them */
	if (rate_stage) {
		f.release_us = extra_us;
		fifo_push(d, &f);
		return;
	}
	f.release_us = burst_align(d, now + extra_us);
	heap_push(d, &f);
}

/* frame_admit() - send a message at once if it needs no delay, the bucket
 * allows it and nothing is queued ahead of it; otherwise queue it */
static void frame_admit(struct dir *d, unsigned char *msg, size_t len, uint64_t now)
{
	uint64_t extra_us = frame_delay_us(d);

	if (!d->heap_len && !d->fifo_len && !extra_us && !d->imp.burst_us &&
	    tb_admit(d, len, now)) {
		tx_add(d, msg, len, NULL);
		return;
	}
	frame_queue(d, msg, len, extra_us, now);
}

/* aux_find() - the PACKET_AUXDATA of a received message, or NULL */
static const struct tpacket_auxdata *aux_find(struct msghdr *mh)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm))
		if (cm->cmsg_level == SOL_PACKET && cm->cmsg_type == PACKET_AUXDATA)
			return (const struct tpacket_auxdata *)CMSG_DATA(cm);
	return NULL;
}

/* vnet_shift() - move the offsets in the virtio-net header at @msg by @n
 * bytes after @n bytes were inserted into the frame's link header.  The
 * kernel writes them in host order (little-endian virtio on our hosts). */
static void vnet_shift(unsigned char *msg, unsigned n)
{
	struct virtio_net_hdr vh;

	memcpy(&vh, msg, sizeof(vh));
	if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		vh.csum_start += n;
	if (vh.hdr_len)
		vh.hdr_len += n;
	memcpy(msg, &vh, sizeof(vh));
}

/* vlan_restore() - put back the 802.1Q tag the kernel moved into metadata
 * (veth strips it on receive), so the frame leaves as it came.  @msg sits
 * VLAN_ROOM bytes into its buffer; returns where the message now starts. */
static unsigned char *vlan_restore(struct msghdr *mh, unsigned char *msg, size_t *len)
{
	const struct tpacket_auxdata *aux = aux_find(mh);
	size_t head = VNET_BYTES + 2 * ETH_ALEN;
	uint16_t tag[2];

	if (!aux || !(aux->tp_status & TP_STATUS_VLAN_VALID) || *len < head)
		return msg;
	tag[0] = htons((aux->tp_status & TP_STATUS_VLAN_TPID_VALID) ?
		       aux->tp_vlan_tpid : ETH_P_8021Q);
	tag[1] = htons(aux->tp_vlan_tci);
	memmove(msg - VLAN_ROOM, msg, head);
	msg -= VLAN_ROOM;
	memcpy(msg + head, tag, sizeof(tag));
	*len += VLAN_ROOM;
	vnet_shift(msg, VLAN_ROOM);
	return msg;
}

/* in_blackout() - whether @now falls in one of @d's blackouts: the last
 * --blackout-ms of every --blackout-every-ms since the setting took effect */
static int in_blackout(const struct dir *d, uint64_t now)
{
	uint64_t period = d->imp.blackout_every_us;

	if (!d->imp.blackout_us || now < d->imp_since_us)
		return 0;
	return (now - d->imp_since_us) % period >= period - d->imp.blackout_us;
}

/* ge_lost() - one frame through @d's Gilbert-Elliott model: move the state,
 * then draw its loss by the new state.  No draws at all when it is off. */
static int ge_lost(struct dir *d)
{
	if (!d->imp.ge_p)
		return 0;
	if (d->ge_bad ? chance(&d->prng, d->imp.ge_r) : chance(&d->prng, d->imp.ge_p))
		d->ge_bad = !d->ge_bad;
	return chance(&d->prng, d->ge_bad ? d->imp.ge_loss_bad : d->imp.ge_loss_good);
}

/* frame_in() - take received message @i of @d through blackouts, loss and
 * duplication */
static void frame_in(struct dir *d, unsigned i, uint64_t now)
{
	struct mmsghdr *m = &d->rx_msg[i];
	unsigned char *msg = d->rx_iov[i].iov_base;
	size_t len = m->msg_len;

	d->c.rx++;
	/* Cut short (bigger than a 64 KiB GSO packet: BIG TCP) or empty */
	if ((m->msg_hdr.msg_flags & MSG_TRUNC) || len <= VNET_BYTES) {
		d->c.dropped_oversize++;
		return;
	}
	msg = vlan_restore(&m->msg_hdr, msg, &len);
	if (in_blackout(d, now)) {
		d->c.dropped_blackout++;
		return;
	}
	if (chance(&d->prng, d->imp.loss) || ge_lost(d)) {
		d->c.dropped_loss++;
		return;
	}
	frame_admit(d, msg, len, now);
	if (chance(&d->prng, d->imp.dup)) {
		d->c.duplicated++;
		frame_admit(d, msg, len, now);
	}
}

/* rx_error() - judge a failed recvmmsg() on @d: 0 to carry on, -1 to stop */
static int rx_error(struct dir *d, int err)
{
	char name[IF_NAMESIZE];

	if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)
		return 0;
	/* ENETDOWN comes once per down event; the socket resumes on up, but
	 * stays dead if the interface was deleted (its netns went away) */
	if (err == ENETDOWN && if_indextoname(d->rx_ifindex, name)) {
		say("%s: %s went down", d->name, d->rx_if);
		return 0;
	}
	if (err == ENETDOWN)
		say("%s: %s disappeared", d->name, d->rx_if);
	else
		say("%s: receive on %s: %s", d->name, d->rx_if, strerror(err));
	return -1;
}

/* dir_rx() - read and forward what waits on @d's input; a bounded number of
 * batches, so the other direction and due timers get their turn */
static int dir_rx(struct dir *d)
{
	int round, n, i;
	uint64_t now;

	for (round = 0; round < RX_ROUNDS; round++) {
		for (i = 0; i < BATCH; i++)
			d->rx_msg[i].msg_hdr.msg_controllen = sizeof(d->rx_cmsg[i]);
		n = recvmmsg(d->rx_fd, d->rx_msg, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0)
			return rx_error(d, errno);
		now = now_us();
		for (i = 0; i < n; i++)
			frame_in(d, i, now);
		/* Direct sends point into the receive buffers: out before reuse */
		tx_flush(d);
		if (n < BATCH)
			break;
	}
	return 0;
}

/* dir_release() - move frames the bucket allows on to the delay stage, then
 * send every frame whose time has come */
static void dir_release(struct dir *d, uint64_t now)
{
	if (d->imp.rate_bps && d->fifo_len)
		tb_refill(d, now);
	while (d->fifo_len && (d->tokens >= 0 || !d->imp.rate_bps)) {
		struct frame f = fifo_pop(d);

		if (d->imp.rate_bps)
			d->tokens -= frame_cost(f.len);
		f.release_us = burst_align(d, f.release_us + now);
		heap_push(d, &f);
	}
	while (d->heap_len && d->heap[0].release_us <= now) {
		struct frame f = heap_pop(d);

		tx_add(d, f.buf, f.len, f.buf);
	}
	tx_flush(d);
}

/* dir_next_us() - when @d next has work without new input, or UINT64_MAX */
static uint64_t dir_next_us(const struct dir *d)
{
	uint64_t next = UINT64_MAX;

	if (d->heap_len)
		next = d->heap[0].release_us;
	if (d->fifo_len && tb_ready_us(d) < next)
		next = tb_ready_us(d);
	return next;
}

/* dir_msgs_init() - point @d's recvmmsg() and sendmmsg() vectors at their
 * buffers, once: the kernel only rewrites lengths and flags */
static void dir_msgs_init(struct dir *d)
{
	unsigned i;

	for (i = 0; i < BATCH; i++) {
		d->rx_iov[i].iov_base = d->rx_mem + (size_t)i * RX_STRIDE + VLAN_ROOM;
		d->rx_iov[i].iov_len = MSG_MAX - VLAN_ROOM;
		d->rx_msg[i].msg_hdr.msg_iov = &d->rx_iov[i];
		d->rx_msg[i].msg_hdr.msg_iovlen = 1;
		d->rx_msg[i].msg_hdr.msg_control = d->rx_cmsg[i].buf;
	}
	for (i = 0; i < TX_BATCH; i++) {
		d->tx_msg[i].msg_hdr.msg_iov = &d->tx_iov[i];
		d->tx_msg[i].msg_hdr.msg_iovlen = 1;
	}
}

/* dir_set_impair() - give @d the settings @imp from @now on: a full token
 * bucket, the blackout period starting over, the Gilbert-Elliott chain in
 * its good state.  Queued frames keep the times they were given. */
static void dir_set_impair(struct dir *d, const struct impair *imp, uint64_t now)
{
	d->imp = *imp;
	d->imp_since_us = now;
	d->ge_bad = 0;
	d->tokens_max = (int64_t)d->imp.rate_bps * 1000;	/* 1 ms of traffic */
	if (d->tokens_max < d->burst_min)
		d->tokens_max = d->burst_min;
	d->tokens = d->tokens_max;
	d->tokens_us = now;
}

/* dir_init() - buffers, queues and bucket of direction @name, whose fds and
 * impairment the caller set; @seed starts its PRNG.  -1 when out of memory.
 * Small slots fit an @mtu-sized frame plus VLAN tag and headers. */
static int dir_init(struct dir *d, const char *name, const struct opts *o,
		    int mtu, uint64_t seed)
{
	size_t small_bytes = VLAN_ROOM + VNET_BYTES + ETH_HLEN + VLAN_ROOM + mtu;
	unsigned njumbo = o->limit_pkts < JUMBO_SLOTS_MAX ? o->limit_pkts : JUMBO_SLOTS_MAX;

	d->name = name;
	d->prng = seed;
	d->limit = o->limit_pkts;
	d->burst_min = frame_cost(2 * small_bytes);
	dir_set_impair(d, &d->imp, now_us());
	d->heap = calloc(d->limit, sizeof(*d->heap));
	d->fifo = calloc(d->limit, sizeof(*d->fifo));
	d->rx_mem = mmap(NULL, (size_t)BATCH * RX_STRIDE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d->rx_mem == MAP_FAILED)
		d->rx_mem = NULL;
	if (!d->heap || !d->fifo || !d->rx_mem ||
	    pool_init(&d->small, d->limit, small_bytes) ||
	    pool_init(&d->jumbo, njumbo, MSG_MAX))
		return -1;
	dir_msgs_init(d);
	return 0;
}

/* dir_free() - release what dir_init() took, also after it failed */
static void dir_free(struct dir *d)
{
	free(d->heap);
	free(d->fifo);
	if (d->rx_mem)
		munmap(d->rx_mem, (size_t)BATCH * RX_STRIDE);
	pool_free(&d->small);
	pool_free(&d->jumbo);
}

/* impair_describe() - one-line summary of @imp into @buf */
static const char *impair_describe(const struct impair *imp, char *buf, size_t size)
{
	char rate[32] = "unlimited";
	size_t n;

	if (!imp->delay_us && !imp->jitter_us && !imp->loss && !imp->dup &&
	    !imp->reorder && !imp->rate_bps && !imp->burst_us && !imp->ge_p &&
	    !imp->blackout_us)
		return "plain bridge";
	if (imp->rate_bps)
		snprintf(rate, sizeof(rate), "%g Mbit/s", imp->rate_bps / 1e6);
	n = snprintf(buf, size, "delay %" PRIu64 " ms, jitter %" PRIu64 " ms, loss %g%%, "
		     "dup %g%%, reorder %g%% by %" PRIu64 " ms, rate %s",
		     imp->delay_us / 1000, imp->jitter_us / 1000, imp->loss * 100,
		     imp->dup * 100, imp->reorder * 100, imp->reorder_us / 1000, rate);
	if (imp->queue_pkts && n < size)
		n += snprintf(buf + n, size - n, ", queue %" PRIu64 " pkts", imp->queue_pkts);
	if (imp->queue_us && n < size)
		n += snprintf(buf + n, size - n, ", queue %" PRIu64 " ms", imp->queue_us / 1000);
	if (imp->burst_us && n < size)
		n += snprintf(buf + n, size - n, ", released every %" PRIu64 " ms",
			      imp->burst_us / 1000);
	if (imp->ge_p && n < size)
		n += snprintf(buf + n, size - n, ", GE p %g%% r %g%% loss bad %g%% good %g%%",
			      imp->ge_p * 100, imp->ge_r * 100, imp->ge_loss_bad * 100,
			      imp->ge_loss_good * 100);
	if (imp->blackout_us && n < size)
		snprintf(buf + n, size - n, ", blackout %" PRIu64 " ms every %" PRIu64 " ms",
			 imp->blackout_us / 1000, imp->blackout_every_us / 1000);
	return buf;
}

/* file_replace() - write @text to @path through a temporary file and
 * rename(), so a reader never sees it half written */
static int file_replace(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	FILE *f;
	int bad;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f) {
		say("%s: %s", tmp, strerror(errno));
		return -1;
	}
	bad = fputs(text, f) < 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path)) {
		say("%s: cannot write: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* stats_write() - write the counters of both directions to @path */
static int stats_write(const char *path, struct dir *dirs)
{
	char text[2048];
	size_t used = 0;
	unsigned i, k;

	for (i = 0; i < 2; i++) {
		struct tpacket_stats st;
		socklen_t sl = sizeof(st);

		/* Reading the kernel's counters resets them, hence the += */
		if (!getsockopt(dirs[i].rx_fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl))
			dirs[i].c.dropped_rcvbuf += st.tp_drops;
		for (k = 0; k < ARRAY_SIZE(counter_keys); k++) {
			const uint64_t *v = (const uint64_t *)((const char *)&dirs[i].c +
							       counter_keys[k].off);

			used += snprintf(text + used, sizeof(text) - used, "%s_%s %" PRIu64 "\n",
					 dirs[i].name, counter_keys[k].key, *v);
		}
	}
	return file_replace(path, text);
}

/* on_signal() - note the signal; the main loop acts on it */
static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_quit = 1;
}

/* signals_setup() - handle SIGTERM, SIGINT and SIGUSR1 only inside ppoll():
 * they stay blocked elsewhere, so none is lost between a check and the wait.
 * @waitmask gets the mask to wait with. */
static void signals_setup(sigset_t *waitmask)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGUSR1 };
	struct sigaction sa;
	sigset_t block;
	unsigned i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&block);
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaddset(&block, sigs[i]);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	for (i = 0; i < ARRAY_SIZE(sigs); i++) {
		sigdelset(waitmask, sigs[i]);
		sigaction(sigs[i], &sa, NULL);
	}
}

/* wait_time() - ppoll() timeout until the earliest of both directions' next
 * work and @deadline_us (0: none); NULL to wait for input alone */
static struct timespec *wait_time(const struct dir *dirs, uint64_t deadline_us,
				  uint64_t now, struct timespec *ts)
{
	uint64_t next = dir_next_us(&dirs[0]), wait;

	if (dir_next_us(&dirs[1]) < next)
		next = dir_next_us(&dirs[1]);
	if (deadline_us && deadline_us < next)
		next = deadline_us;
	if (next == UINT64_MAX)
		return NULL;
	/* Whole microseconds from a truncated now: we wake at or after next,
	 * never just before it to spin */
	wait = next > now ? next - now : 0;
	ts->tv_sec = wait / 1000000;
	ts->tv_nsec = (long)(wait % 1000000) * 1000;
	return ts;
}

/* The --control FIFO: partial lines wait in buf until their newline */
struct control {
	const char *path;
	int fd;
	int made;			/* we created the FIFO: remove it at exit */
	size_t len;
	char buf[4096];
};

/* control_open() - open (and make, if absent) the FIFO at @path for
 * reading.  Read-write, so it never reports end-of-file when a writer
 * closes.  -1 after a message. */
static int control_open(struct control *ctl, const char *path)
{
	struct stat st;

	ctl->path = path;
	if (!mkfifo(path, 0600))
		ctl->made = 1;
	else if (errno != EEXIST) {
		say("--control %s: %s", path, strerror(errno));
		return -1;
	}
	ctl->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (ctl->fd < 0 || fstat(ctl->fd, &st) || !S_ISFIFO(st.st_mode)) {
		say("--control %s: %s", path, ctl->fd < 0 ? strerror(errno) : "not a FIFO");
		return -1;
	}
	return 0;
}

/* control_close() - close the FIFO; remove it if we made it */
static void control_close(struct control *ctl)
{
	if (ctl->fd >= 0)
		close(ctl->fd);
	if (ctl->made)
		unlink(ctl->path);
}

/* control_line() - apply one "[a-to-b|b-to-a|both] SPEC" line to @dirs,
 * or report it and change nothing */
static void control_line(struct dir *dirs, char *line)
{
	static const char *const words[] = { "a-to-b", "b-to-a", "both" };
	size_t w;
	unsigned mask = 3, i;
	struct impair imp;
	uint64_t now;

	line += strspn(line, " \t\r");
	if (!*line || *line == '#')
		return;
	w = strcspn(line, " \t\r");
	for (i = 0; i < ARRAY_SIZE(words); i++)
		if (w == strlen(words[i]) && !strncmp(line, words[i], w)) {
			mask = i + 1;
			line += w;
			break;
		}
	line[strcspn(line, "\r")] = '\0';
	if (spec_parse(line, &imp)) {
		say("control: line ignored");
		return;
	}
	now = now_us();
	for (i = 0; i < 2; i++) {
		char text[200];

		if (!(mask & (1u << i)))
			continue;
		dir_set_impair(&dirs[i], &imp, now);
		dirs[i].c.changes++;
		say("control at %" PRIu64 " ms: %s: %s", now / 1000, dirs[i].name,
		    impair_describe(&imp, text, sizeof(text)));
	}
}

/* control_read() - take what the FIFO holds and apply its complete lines;
 * -1 when it fails for good */
static int control_read(struct control *ctl, struct dir *dirs)
{
	ssize_t n = read(ctl->fd, ctl->buf + ctl->len, sizeof(ctl->buf) - 1 - ctl->len);
	char *nl;

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		say("--control %s: %s", ctl->path, strerror(errno));
		return -1;
	}
	ctl->len += (size_t)n;
	ctl->buf[ctl->len] = '\0';
	while ((nl = strchr(ctl->buf, '\n'))) {
		*nl = '\0';
		control_line(dirs, ctl->buf);
		ctl->len -= (size_t)(nl + 1 - ctl->buf);
		memmove(ctl->buf, nl + 1, ctl->len + 1);
	}
	if (ctl->len == sizeof(ctl->buf) - 1) {
		say("control: line longer than %zu bytes ignored", sizeof(ctl->buf) - 2);
		ctl->len = 0;
	}
	return 0;
}

/* run() - the event loop, until a signal, the deadline or a fatal error */
static int run(struct dir *dirs, const struct opts *o, const sigset_t *waitmask,
	       struct control *ctl)
{
	struct pollfd pfd[3] = {
		{ .fd = dirs[0].rx_fd, .events = POLLIN },
		{ .fd = dirs[1].rx_fd, .events = POLLIN },
		{ .fd = ctl->fd, .events = POLLIN },	/* poll skips -1 */
	};
	uint64_t deadline = o->duration_ms ? now_us() + o->duration_ms * 1000 : 0;
	int i;

	for (;;) {
		struct timespec ts, *tsp;
		uint64_t now = now_us();

		if (got_quit || (deadline && now >= deadline))
			return 0;
		if (got_usr1 && o->statsfile)
			stats_write(o->statsfile, dirs);
		got_usr1 = 0;
		tsp = wait_time(dirs, deadline, now, &ts);
		pfd[0].revents = pfd[1].revents = pfd[2].revents = 0;
		if (ppoll(pfd, 3, tsp, waitmask) < 0 && errno != EINTR) {
			say("ppoll: %s", strerror(errno));
			return -1;
		}
		if ((pfd[2].revents & POLLIN) && control_read(ctl, dirs))
			return -1;
		for (i = 0; i < 2; i++)
			if ((pfd[i].revents & (POLLIN | POLLERR)) && dir_rx(&dirs[i]))
				return -1;
		now = now_us();
		dir_release(&dirs[0], now);
		dir_release(&dirs[1], now);
	}
}

/* iface_lookup() - ifindex and MTU of @name; -1 after a message */
static int iface_lookup(const char *opt, const char *name, int *ifindex, int *mtu)
{
	*ifindex = (int)if_nametoindex(name);
	if (!*ifindex) {
		say("--%s: unknown interface '%s' (not in this network namespace?)", opt, name);
		return -1;
	}
	*mtu = if_mtu(name);
	if (*mtu <= 0) {
		say("--%s: cannot read the MTU of '%s': %s", opt, name, strerror(errno));
		return -1;
	}
	return 0;
}

/* bridge_setup() - both directions with their sockets and impairments;
 * -1 after a message.  Each socket reads for one direction and sends for
 * the other. */
static int bridge_setup(struct dir *dirs, const struct opts *o, const int *ifindex,
			const int *mtu, const int *fd)
{
	const char *ifs[2] = { o->if_a, o->if_b };
	int mtu_max = mtu[0] > mtu[1] ? mtu[0] : mtu[1];
	int i;

	for (i = 0; i < 2; i++) {
		struct dir *d = &dirs[i];

		d->rx_if = ifs[i];
		d->tx_if = ifs[1 - i];
		d->rx_ifindex = ifindex[i];
		d->rx_fd = fd[i];
		d->tx_fd = fd[1 - i];
		impair_defaults(&d->imp);
		if (!o->only || o->only == i + 1)
			d->imp = o->imp;
		/* checked by opts_check() already */
		if (o->spec[i] && spec_parse(o->spec[i], &d->imp))
			return -1;
		/* Separate streams per direction: one side's traffic does not
		 * change the other's draws */
		if (dir_init(d, i ? "b_to_a" : "a_to_b", o, mtu_max,
			     o->seed ^ (i ? 0x5bd1e9955bd1e995ULL : 0))) {
			say("out of memory for --limit-pkts %" PRIu64, o->limit_pkts);
			return -1;
		}
	}
	return 0;
}

/* announce() - the one start-up line with every setting */
static void announce(const struct dir *dirs, const struct opts *o, const int *mtu)
{
	char a2b[200], b2a[200];

	say("a=%s (mtu %d) b=%s (mtu %d); a_to_b: %s; b_to_a: %s; limit %" PRIu64
	    " pkts; seed %" PRIu64 "; duration %" PRIu64 " ms%s%s",
	    o->if_a, mtu[0], o->if_b, mtu[1],
	    impair_describe(&dirs[0].imp, a2b, sizeof(a2b)),
	    impair_describe(&dirs[1].imp, b2a, sizeof(b2a)),
	    o->limit_pkts, o->seed, o->duration_ms,
	    o->control ? "; control " : "", o->control ? o->control : "");
}

/* main() - parse, open both legs, announce, bridge until told to stop */
int main(int argc, char **argv)
{
	static struct dir dirs[2];
	struct control ctl = { .fd = -1 };
	int ifindex[2], mtu[2], fd[2] = { -1, -1 }, rc = 1, i;
	char pid[32];
	sigset_t waitmask;
	struct opts o;

	i = opts_parse(argc, argv, &o);
	if (i)
		return i > 0 ? 0 : 2;
	if (iface_lookup("a", o.if_a, &ifindex[0], &mtu[0]) ||
	    iface_lookup("b", o.if_b, &ifindex[1], &mtu[1]))
		return 2;
	if (!o.seed_set)
		o.seed = now_us() ^ ((uint64_t)getpid() << 32);
	/* Default timer slack (50 us) would blur sub-millisecond pacing */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	fd[0] = sock_open(o.if_a, ifindex[0]);
	fd[1] = fd[0] < 0 ? -1 : sock_open(o.if_b, ifindex[1]);
	if (fd[1] < 0 || bridge_setup(dirs, &o, ifindex, mtu, fd))
		goto out;
	if (o.control && control_open(&ctl, o.control))
		goto out;
	signals_setup(&waitmask);
	announce(dirs, &o, mtu);
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (o.pidfile && file_replace(o.pidfile, pid))
		goto out;
	rc = run(dirs, &o, &waitmask, &ctl) ? 1 : 0;
	if (o.statsfile && stats_write(o.statsfile, dirs))
		rc = 1;
	if (o.pidfile)
		unlink(o.pidfile);
out:
	control_close(&ctl);
	for (i = 0; i < 2; i++) {
		dir_free(&dirs[i]);
		if (fd[i] >= 0)
			close(fd[i]);
	}
	return rc;
}
