/* seal.h: link packets sealed with keys the DTLS handshake exported.
 *
 * OpenSSL's DTLS record layer accepts a record at most 64 records behind
 * the newest it has seen; a path that reorders further (a jittery or
 * aggregating link at hundreds of Mbit/s reorders by thousands) loses
 * every such record, and the link sends each again.  So once both ends
 * said in their handshake that they can, link packets travel as sealed
 * records instead, as DTLS-SRTP (RFC 5764) does for media: DTLS
 * authenticates the peers and agrees the secrets (the RFC 5705 exporter),
 * and this module protects each packet with AES-128-GCM, a counter that
 * never repeats and a replay window of thousands (replay.h).
 *
 * A record: counter (8 bytes, big-endian), ciphertext, tag (16).  The
 * outer header in front of it and the counter are authenticated too.
 * Keys change every 2^22 records (SEAL_EPOCH_SHIFT): the key and IV of
 * epoch e (counter >> 22) are HMAC-SHA256 of the direction's secret and
 * e, so no message is needed to change them and AES-GCM stays within the
 * 2^23 records per key that RFC 9001 6.6 allows. */
#ifndef OMNET_SEAL_H
#define OMNET_SEAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

#define SEAL_SECRET_LEN 32
#define SEAL_COUNTER_LEN 8
#define SEAL_TAG_LEN 16
#define SEAL_OVERHEAD (SEAL_COUNTER_LEN + SEAL_TAG_LEN)
#define SEAL_EPOCH_SHIFT 22

struct seal;

/* seal_new() - the two directions' secrets (dtls_data_secrets()); NULL if
 * the cipher could not be set up */
struct seal *seal_new(const uint8_t tx[SEAL_SECRET_LEN], const uint8_t rx[SEAL_SECRET_LEN]);
void seal_free(struct seal *s);
/* seal_record() - seal len bytes at in, authenticating ad too, into out
 * (len + SEAL_OVERHEAD bytes).  The record's size, or 0 on failure. */
size_t seal_record(struct seal *s, const uint8_t *ad, size_t adlen, const uint8_t *in,
		   size_t len, uint8_t *out);
/* seal_open() - the plaintext of a record (into out, at least len bytes),
 * or -1: too short, forged, corrupted, replayed or too late to tell */
ssize_t seal_open(struct seal *s, const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len,
		  uint8_t *out);
/* seal_packet(), open_packet() - seal_record() and seal_open() for a
 * datagram whose outer header is o: the header is what they authenticate
 * besides the record (the one place that says so) */
size_t seal_packet(struct seal *s, const struct wire_outer *o, const uint8_t *in, size_t len,
		   uint8_t *out);
ssize_t open_packet(struct seal *s, const struct wire_outer *o, const uint8_t *in, size_t len,
		    uint8_t *out);
/* seal_skip() - the next record sealed gets counter c, if that is ahead
 * (tests only: the epoch change needs 2^22 records otherwise) */
void seal_skip(struct seal *s, uint64_t c);

#endif
