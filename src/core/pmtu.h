/* pmtu.h: the path MTU of a session's path (RFC 8899 datagram PLPMTUD),
 * and the one place that knows what a datagram spends on headers.
 *
 * Two kinds of size: an MTU is a whole IP packet, as `mtu =` and the
 * interfaces count it; a payload is the plaintext of one link packet, what
 * the link core may put in a DTLS record.  On a given path they differ by
 * pmtu_overhead(): IP (20 or 40), UDP (8), the relay's header when the
 * path runs through a relay (8), our outer header (8) and the DTLS record
 * (37).  Every path starts at the configured MTU (the base), never at what
 * another path carried.
 *
 * With searching on (pmtu-probe = yes) the state machine looks for a larger
 * MTU, up to PMTU_MAX: a probe is a link packet padded to the size under
 * test; an acknowledged probe raises the payload at once, PMTU_TRIES
 * unanswered ones rule the size out, the search halves what is left until
 * it is within PMTU_STEP bytes, and runs again PMTU_RAISE_MS later.  A path
 * that stops carrying packets above the base (a black hole: losses of large
 * packets with nothing as large acknowledged since, or probe timeouts)
 * falls back to the base at once, confirms the base with a probe, then
 * searches again.  pmtu_reset() starts afresh for a new path.
 *
 * Pure: time comes in as ms, packet numbers and sizes from the link core;
 * what to do comes out of pmtu_poll() (send a probe of this many bytes, the
 * payload to use now, what happened) and pmtu_deadline(). */
#ifndef OMNET_PMTU_H
#define OMNET_PMTU_H

#include <stddef.h>
#include <stdint.h>

#include "path.h"

#define PMTU_IPV4_HDR 20
#define PMTU_IPV6_HDR 40
#define PMTU_UDP_HDR 8
/* DTLS 1.2 record with an AEAD cipher: header 13, explicit nonce 8, tag 16
 * (ChaCha20-Poly1305 has no explicit nonce: 8 bytes to spare) */
#define PMTU_DTLS_OVERHEAD 37
#define PMTU_MAX 9000              /* jumbo frames: the largest worth probing */
#define PMTU_STEP 32               /* close enough: stop searching */
#define PMTU_TRIES 2               /* probes of one size before it is ruled out */
#define PMTU_RAISE_MS 600000       /* RFC 8899: search again every 10 min */
#define PMTU_PROBE_TIMEOUT_MIN_MS 200
#define PMTU_BASE_RETRY_MAX_MS 10000 /* confirming the base: at least this often */
#define PMTU_BLACK_HOLE 3          /* suspicious episodes (an RTT each at least) that
				    * mean a black hole */
#define PMTU_MIN 1280              /* below the base only this far (IPv6's minimum) */

/* Where a datagram's size is measured: as an IP packet (the family's
 * header and UDP's count), or as the UDP payload alone. */
enum pmtu_ip { PMTU_UDP_PAYLOAD = 0, PMTU_IPV4 = 4, PMTU_IPV6 = 6 };

/* What the datagram carries: one link packet in one DTLS record (DATA),
 * or handshake records, whose own overhead DTLS counts itself (HANDSHAKE,
 * with the longer outer header). */
enum pmtu_carry { PMTU_PACKET, PMTU_HANDSHAKE };

/* pmtu_overhead() - the bytes a datagram spends around what it carries on
 * a path of that family, direct or relayed */
unsigned pmtu_overhead(enum pmtu_ip ip, int relayed, enum pmtu_carry what);
/* pmtu_ip_of() - the family a path's datagrams travel in (an IPv4-mapped
 * IPv6 address is IPv4 on the wire) */
enum pmtu_ip pmtu_ip_of(const struct path_addr *pa);
/* pmtu_path_overhead() - pmtu_overhead() for that path, as an IP packet */
unsigned pmtu_path_overhead(const struct path_addr *pa, enum pmtu_carry what);

struct pmtu_config {
	unsigned base;   /* the MTU every path is assumed to carry (`mtu =`) */
	unsigned max;    /* the largest searched for (PMTU_MAX) */
	int search;      /* pmtu-probe = yes */
};

enum pmtu_state {
	PMTU_OFF,        /* no search: the base is the path MTU */
	PMTU_SEARCHING,  /* between mtu (works) and hi (not ruled out) */
	PMTU_DONE,       /* found; the next search at the deadline */
	PMTU_BASE,       /* after a black hole: confirming the base */
	PMTU_CEILING,    /* this host cannot send the base: below it, until a
			  * probe of the base gets through (pmtu_on_too_big) */
};

/* what pmtu_poll() says to do */
enum { PMTU_EV_FOUND = 1, PMTU_EV_BLACK_HOLE = 2, PMTU_EV_RAISED = 4, PMTU_EV_TOO_BIG = 8 };
struct pmtu_action {
	size_t probe;        /* send a probe of this payload now, then pmtu_probe_sent(); 0: none */
	size_t payload;      /* the largest link packet to send from now on */
	unsigned events;     /* PMTU_EV_*: since the last poll, the search ended at pmtu.mtu
			      * (FOUND), fell back to the base (BLACK_HOLE), a probe
			      * raised the payload (RAISED), or this host's interface
			      * cannot send the size in use (TOO_BIG) */
};

struct pmtu {
	struct pmtu_config cfg;
	enum pmtu_ip ip;
	int relayed;
	unsigned overhead;       /* pmtu_overhead() of the path, for a link packet */
	enum pmtu_state state;
	unsigned mtu;            /* in use: known to work (the base until a probe said more) */
	unsigned hi;             /* SEARCHING: the highest not ruled out */
	unsigned probing;        /* MTU of the probe in flight, 0: none due or in flight */
	int probe_due;           /* send a probe of `probing` at the next poll */
	unsigned tries;          /* probes of this size sent */
	uint64_t probe_pn;       /* the first probe of this size: acks from it on count */
	uint64_t deadline_ms;    /* probe timeout or next search; UINT64_MAX: none */
	uint64_t epoch_pn;       /* packets numbered below were sent before the last reset */
	int epoch_pending;       /* the next probe sent starts the epoch */
	/* black-hole detection: large = a payload the base would not carry */
	int large_acked;         /* a large packet was acknowledged ... */
	uint64_t large_acked_pn; /* ... the newest such */
	unsigned suspicious;     /* episodes since: large packets lost or timed out */
	uint64_t suspicious_ms;  /* when the last one began (one RTT, one episode) */
	uint64_t suspicious_pn;  /* the newest large packet lost: only an ack of a
				  * later one shows large packets pass again */
	unsigned events;
};

/* pmtu_reset() - a new path (and at the session's start): back to the
 * base; next_pn is the number the link's next packet will carry, so that
 * what the old path lost or acknowledged late counts for nothing here */
void pmtu_reset(struct pmtu *p, const struct pmtu_config *cfg, enum pmtu_ip ip, int relayed,
		uint64_t next_pn, uint64_t now_ms);
/* pmtu_poll() - run the timers and say what to do now */
void pmtu_poll(struct pmtu *p, uint64_t now_ms, struct pmtu_action *a);
/* pmtu_probe_sent() - the probe pmtu_poll() asked for left as packet pn
 * (or could not be sent: it is then lost like one that was) */
void pmtu_probe_sent(struct pmtu *p, uint64_t pn, uint64_t srtt_ms, uint64_t now_ms);
/* pmtu_deadline() - when pmtu_poll() has work next; UINT64_MAX: never */
uint64_t pmtu_deadline(const struct pmtu *p);
/* From the link core: a probe, or another packet, was acknowledged; a
 * packet (not a probe) was declared lost, or was the oldest in flight when
 * a probe timeout fired. */
void pmtu_on_probe_acked(struct pmtu *p, uint64_t pn, size_t payload, uint64_t now_ms);
void pmtu_on_acked(struct pmtu *p, uint64_t pn, size_t payload);
void pmtu_on_lost(struct pmtu *p, uint64_t pn, size_t payload, uint64_t srtt_ms,
		  uint64_t now_ms);
/* pmtu_on_too_big() - this host refused to send a datagram on the path
 * because its interface carries at most mtu (EMSGSIZE; the egress device
 * changed under the link, or its MTU did): at most that from now on, below
 * the base if need be (not below PMTU_MIN), and the base is probed again
 * PMTU_RAISE_MS later.  The kernel's word, so it is believed at once
 * (RFC 8899 4.6.2 lets a PTB lower the PLPMTU). */
void pmtu_on_too_big(struct pmtu *p, unsigned mtu, uint64_t now_ms);
/* pmtu_payload() - the link packet a datagram of that MTU carries on the
 * path; pmtu_max_payload() - the one in use */
size_t pmtu_payload(const struct pmtu *p, unsigned mtu);
size_t pmtu_max_payload(const struct pmtu *p);

#endif
