/* dtls.h: DTLS 1.2 sessions over omnet's single UDP socket.
 *
 * No socket is bound to a session: each one has a custom BIO that takes
 * the datagram being processed and hands every record it writes to an
 * output callback, which adds the outer header and queues it on the
 * shared socket.  Both ends authenticate with certificates whose keys are
 * pinned by fingerprint; the server keeps no state until a ClientHello
 * returns its cookie (HelloVerifyRequest, RFC 6347 4.2.1). */
#ifndef OMNET_DTLS_H
#define OMNET_DTLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "identity.h"
#include "pmtu.h"

struct dtls_ctx;
struct dtls_conn;

typedef void (*dtls_out_fn)(void *arg, const uint8_t *rec, size_t len);
typedef void (*dtls_deliver_fn)(void *arg, const uint8_t *plain, size_t len);
/* pinned(): is this fingerprint a peer we accept (server side) */
typedef int (*dtls_pinned_fn)(void *arg, const char *fingerprint);

struct dtls_ctx *dtls_ctx_new(const struct identity *id, dtls_pinned_fn pinned, void *arg,
			      char *err, size_t errlen);
void dtls_ctx_free(struct dtls_ctx *c);
/* dtls_ctx_offer_sealed() - whether handshakes offer sealed records (on by
 * default; off stands in for a peer of an older version in tests) */
void dtls_ctx_offer_sealed(struct dtls_ctx *c, int offer);

/* dtls_client_new() - start a handshake to a peer that must present
 * expect_fp; the ClientHello goes out through out() at once */
struct dtls_conn *dtls_client_new(struct dtls_ctx *c, const char *expect_fp, unsigned link_mtu,
				  dtls_out_fn out, void *arg);
/* dtls_listen() - a ClientHello from src: without a valid cookie, answer
 * HelloVerifyRequest through out() and return NULL (no state kept); with
 * one, return a new server-side session: set its output, then call
 * dtls_continue() to answer the ClientHello it holds */
struct dtls_conn *dtls_listen(struct dtls_ctx *c, const uint8_t *d, size_t n,
			      const void *cookie_input, size_t cookie_len, unsigned link_mtu,
			      dtls_out_fn out, void *arg);
enum dtls_status dtls_continue(struct dtls_conn *s);
void dtls_conn_free(struct dtls_conn *s);
void dtls_conn_set_output(struct dtls_conn *s, dtls_out_fn out, void *arg);

enum dtls_status { DTLS_PENDING, DTLS_ESTABLISHED, DTLS_FAILED };

/* dtls_input() - one datagram's records: handshake progress, or plaintext
 * records passed to deliver().  Returns the session's status. */
enum dtls_status dtls_input(struct dtls_conn *s, const uint8_t *d, size_t n,
			    dtls_deliver_fn deliver, void *arg);
/* dtls_write() - encrypt one record; it leaves through out() */
int dtls_write(struct dtls_conn *s, const uint8_t *plain, size_t len);
enum dtls_status dtls_status(const struct dtls_conn *s);
/* dtls_progressed() - server: the client's second flight (its certificate
 * at least) arrived, so this is more than a ClientHello that returned its
 * cookie */
int dtls_progressed(const struct dtls_conn *s);
/* dtls_committed() - client: it sent its Finished, so the server may have
 * completed the handshake already (DESIGN.md 11.49) */
int dtls_committed(const struct dtls_conn *s);
/* dtls_close_notify() - tell the peer the session ends (an alert record) */
void dtls_close_notify(struct dtls_conn *s);
/* handshake retransmission: microseconds until dtls_on_timer() (UINT64_MAX: none) */
uint64_t dtls_timer_us(struct dtls_conn *s);
enum dtls_status dtls_on_timer(struct dtls_conn *s);
const char *dtls_peer_fingerprint(const struct dtls_conn *s);
const char *dtls_error(const struct dtls_conn *s);
/* dtls_peer_instance() - the random value the peer's process drew at start
 * (a handshake extension): it changes when the peer restarts.  -1 if the
 * peer sent none. */
#define DTLS_INSTANCE_LEN 8
int dtls_peer_instance(const struct dtls_conn *s, uint8_t out[DTLS_INSTANCE_LEN]);
const char *dtls_cipher(const struct dtls_conn *s);
/* dtls_data_secrets() - once established, the secrets for sealed records
 * (seal.h), what we send and what we receive, when both ends agreed on
 * them in the handshake; -1 when they did not (DTLS records stay), -2 when
 * they did but the secrets could not be had (the session cannot work) */
#define DTLS_SECRET_LEN 32
int dtls_data_secrets(const struct dtls_conn *s, uint8_t tx[DTLS_SECRET_LEN],
		      uint8_t rx[DTLS_SECRET_LEN]);
/* DTLS record overhead for AEAD ciphers: header 13, nonce 8, tag 16
 * (pmtu.h counts it with every other header a datagram carries) */
#define DTLS_OVERHEAD PMTU_DTLS_OVERHEAD

#endif
