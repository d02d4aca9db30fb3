/* replay.h: which record counters a receiver has already accepted.
 *
 * Sealed records (src/seal.c) carry a 64-bit counter that the sender
 * never repeats.  The receiver accepts each counter once, and anything up
 * to REPLAY_WINDOW - 64 behind the highest one seen: a path that reorders
 * (Wi-Fi aggregation, a link bonded across two wires, a jittery bridge)
 * can deliver a datagram thousands of records late, and a window as short
 * as OpenSSL's 64 DTLS records drops it, so the link calls it lost and
 * sends it again (docs/DESIGN.md 11.37).  The bitmap slides by whole
 * 64-bit words, so accepting a far-ahead counter costs a few word
 * clears (as in RFC 6479).
 *
 * Check before authenticating, update only after: a forged record must
 * not move the window.  Pure: no I/O. */
#ifndef OMNET_REPLAY_H
#define OMNET_REPLAY_H

#include <stdint.h>

#define REPLAY_WINDOW 8192 /* bits; REPLAY_WINDOW - 64 counters are always kept */

struct replay {
	uint64_t top;   /* highest counter accepted, when any */
	int any;
	uint64_t bits[REPLAY_WINDOW / 64]; /* bit c % REPLAY_WINDOW: c accepted */
};

void replay_init(struct replay *r);
/* replay_check() - 0 if counter c may be new, -1 if it was accepted
 * already or is too far behind to tell */
int replay_check(const struct replay *r, uint64_t c);
/* replay_accept() - c was authenticated: remember it (after a 0 from
 * replay_check()) */
void replay_accept(struct replay *r, uint64_t c);

#endif
