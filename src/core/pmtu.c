/* pmtu.c: path MTU: the headers a datagram carries, and the search for a
 * larger MTU with black-hole detection (see pmtu.h). */
#include <netinet/in.h>
#include <string.h>

#include "pmtu.h"
#include "util.h"
#include "wire.h"

unsigned pmtu_overhead(enum pmtu_ip ip, int relayed, enum pmtu_carry what)
{
	/* a relayed datagram is wrapped in the relay's own outer header (type
	 * RELAY, carrying the channel), on both legs */
	unsigned n = relayed ? WIRE_OUTER_DATA_LEN : 0;

	if (what == PMTU_PACKET)
		n += WIRE_OUTER_DATA_LEN + PMTU_DTLS_OVERHEAD;
	else
		n += WIRE_OUTER_HS_LEN;
	if (ip == PMTU_IPV4)
		n += PMTU_IPV4_HDR + PMTU_UDP_HDR;
	else if (ip == PMTU_IPV6)
		n += PMTU_IPV6_HDR + PMTU_UDP_HDR;
	return n;
}

enum pmtu_ip pmtu_ip_of(const struct path_addr *pa)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&pa->sa;

	if (pa->sa.ss_family != AF_INET6)
		return PMTU_IPV4;
	return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) ? PMTU_IPV4 : PMTU_IPV6;
}

unsigned pmtu_path_overhead(const struct path_addr *pa, enum pmtu_carry what)
{
	return pmtu_overhead(pmtu_ip_of(pa), pa->channel != 0, what);
}

size_t pmtu_payload(const struct pmtu *p, unsigned mtu)
{
	return mtu > p->overhead ? mtu - p->overhead : 0;
}

size_t pmtu_max_payload(const struct pmtu *p)
{
	return pmtu_payload(p, p->mtu);
}

/* large() - a payload the base would not carry: only such packets say
 * anything about a path MTU above the base */
static int large(const struct pmtu *p, size_t payload)
{
	return payload > pmtu_payload(p, p->cfg.base);
}

/* next_probe() - probe the middle of what is left, or rest until the next
 * search */
static void next_probe(struct pmtu *p, uint64_t now_ms)
{
	p->tries = 0;
	p->probing = 0;
	p->probe_due = 0;
	p->deadline_ms = UINT64_MAX;
	if (p->hi < p->mtu + PMTU_STEP) {
		p->state = PMTU_DONE;
		p->deadline_ms = now_ms + PMTU_RAISE_MS;
		p->events |= PMTU_EV_FOUND;
		return;
	}
	p->probing = (p->mtu + p->hi + 1) / 2;
	p->probe_due = 1;
}

static void start_search(struct pmtu *p, uint64_t now_ms)
{
	p->state = PMTU_SEARCHING;
	p->hi = p->cfg.max;
	next_probe(p, now_ms);
}

void pmtu_reset(struct pmtu *p, const struct pmtu_config *cfg, enum pmtu_ip ip, int relayed,
		uint64_t next_pn, uint64_t now_ms)
{
	memset(p, 0, sizeof(*p));
	p->cfg = *cfg;
	p->ip = ip;
	p->relayed = relayed;
	p->overhead = pmtu_overhead(ip, relayed, PMTU_PACKET);
	p->mtu = cfg->base;
	p->epoch_pn = next_pn;
	p->deadline_ms = UINT64_MAX;
	p->state = PMTU_OFF;
	if (cfg->search && cfg->max >= cfg->base + PMTU_STEP)
		start_search(p, now_ms);
}

/* fall_back() - the path carries less than the size in use: mtu from now
 * on, in state st, with what was sent before saying nothing about the
 * path from here on (it is lost or acknowledged late) */
static void fall_back(struct pmtu *p, enum pmtu_state st, unsigned mtu, unsigned event)
{
	p->state = st;
	p->mtu = mtu;
	p->tries = 0;
	p->suspicious = 0;
	p->large_acked = 0;
	p->epoch_pending = 1;
	p->events |= event;
}

/* black_hole() - the path no longer carries what it did: the base at
 * once, then a probe of the base before searching again (RFC 8899 5.2) */
static void black_hole(struct pmtu *p)
{
	fall_back(p, PMTU_BASE, p->cfg.base, PMTU_EV_BLACK_HOLE);
	p->probing = p->cfg.base;
	p->probe_due = 1;
	p->deadline_ms = UINT64_MAX;
}

void pmtu_poll(struct pmtu *p, uint64_t now_ms, struct pmtu_action *a)
{
	a->probe = 0;
	if (p->deadline_ms != UINT64_MAX && now_ms >= p->deadline_ms) {
		p->deadline_ms = UINT64_MAX;
		switch (p->state) {
		case PMTU_DONE:
			start_search(p, now_ms); /* the periodic search */
			break;
		case PMTU_SEARCHING:
			/* no ack for the probe: once more, then rule the size out */
			if (p->tries < PMTU_TRIES) {
				p->probe_due = 1;
			} else {
				p->hi = p->probing - 1;
				next_probe(p, now_ms);
			}
			break;
		case PMTU_BASE:
			p->probe_due = 1; /* until the path carries the base again */
			break;
		case PMTU_CEILING:
			/* time to try the base again; a probe that timed out means
			 * the interface still cannot: another while later */
			if (p->probing) {
				p->probing = 0;
				p->deadline_ms = now_ms + PMTU_RAISE_MS;
			} else {
				p->probing = p->cfg.base;
				p->probe_due = 1;
				p->tries = 0;
			}
			break;
		case PMTU_OFF:
			break;
		}
	}
	if (p->probe_due && p->probing) {
		p->probe_due = 0;
		a->probe = pmtu_payload(p, p->probing);
		/* pmtu_probe_sent() sets the real timeout */
		p->deadline_ms = now_ms + PMTU_PROBE_TIMEOUT_MIN_MS;
	}
	a->payload = pmtu_max_payload(p);
	a->events = p->events;
	p->events = 0;
}

void pmtu_probe_sent(struct pmtu *p, uint64_t pn, uint64_t srtt_ms, uint64_t now_ms)
{
	uint64_t timeout = MAX((uint64_t)PMTU_PROBE_TIMEOUT_MIN_MS, 3 * srtt_ms);

	if (!p->probing)
		return;
	if (p->tries++ == 0)
		p->probe_pn = pn;
	if (p->epoch_pending) {
		p->epoch_pn = pn;
		p->epoch_pending = 0;
	}
	/* the base unconfirmed is an outage, or a base too large: keep
	 * asking, less and less often */
	if (p->state == PMTU_BASE)
		timeout = MIN(timeout << MIN(p->tries - 1, 16u), (uint64_t)PMTU_BASE_RETRY_MAX_MS);
	p->deadline_ms = now_ms + timeout;
}

uint64_t pmtu_deadline(const struct pmtu *p)
{
	return p->probe_due && p->probing ? 0 : p->deadline_ms;
}

void pmtu_on_probe_acked(struct pmtu *p, uint64_t pn, size_t payload, uint64_t now_ms)
{
	/* only a probe of the size under test, sent since it was (an ack
	 * from an earlier search, or from another path, counts for nothing) */
	if (!p->probing || !p->tries || pn < p->probe_pn || pn < p->epoch_pn ||
	    payload != pmtu_payload(p, p->probing))
		return;
	if (large(p, payload))
		p->suspicious = 0;
	if (p->state == PMTU_CEILING) {
		p->mtu = p->cfg.base;
		p->events |= PMTU_EV_RAISED;
	}
	if (p->state == PMTU_BASE || p->state == PMTU_CEILING) {
		if (p->cfg.search && p->cfg.max >= p->cfg.base + PMTU_STEP) {
			start_search(p, now_ms);
		} else {
			p->state = PMTU_OFF;
			p->probing = 0;
			p->deadline_ms = UINT64_MAX;
		}
		return;
	}
	p->mtu = p->probing;
	p->events |= PMTU_EV_RAISED;
	next_probe(p, now_ms);
}

void pmtu_on_acked(struct pmtu *p, uint64_t pn, size_t payload)
{
	if (pn < p->epoch_pn || !large(p, payload))
		return;
	if (!p->large_acked || pn > p->large_acked_pn)
		p->large_acked_pn = pn;
	p->large_acked = 1;
	if (p->suspicious && pn > p->suspicious_pn)
		p->suspicious = 0;
}

void pmtu_on_lost(struct pmtu *p, uint64_t pn, size_t payload, uint64_t srtt_ms,
		  uint64_t now_ms)
{
	/* suspicious: a large packet, sent on this path after the newest
	 * large one that got through; nothing to fall back from at the base */
	if (pn < p->epoch_pn || p->mtu <= p->cfg.base || !large(p, payload) ||
	    (p->large_acked && pn < p->large_acked_pn))
		return;
	if (!p->suspicious || pn > p->suspicious_pn)
		p->suspicious_pn = pn;
	/* what is declared lost within a round trip is one episode: a burst
	 * dropped by a full queue is not three black holes, and a path that
	 * lost large packets three round trips running, with none acked in
	 * between, no longer carries them */
	if (p->suspicious && now_ms < p->suspicious_ms + MAX(srtt_ms, (uint64_t)1))
		return;
	p->suspicious_ms = now_ms;
	if (++p->suspicious >= PMTU_BLACK_HOLE)
		black_hole(p);
}

void pmtu_on_too_big(struct pmtu *p, unsigned mtu, uint64_t now_ms)
{
	mtu = MAX(mtu, (unsigned)PMTU_MIN);
	if (mtu >= p->mtu)
		return;
	fall_back(p, PMTU_CEILING, mtu, PMTU_EV_TOO_BIG);
	p->probing = 0;
	p->probe_due = 0;
	p->deadline_ms = now_ms + PMTU_RAISE_MS;
}
