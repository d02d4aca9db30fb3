/* seal.c: sealed records for link packets (seal.h). */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "replay.h"
#include "seal.h"
#include "util.h"

#define KEY_LEN 16
#define IV_LEN 12
#define AAD_MAX 32   /* an outer header (at most 12 bytes) and the counter */
#define RX_EPOCHS 3 /* the newest epoch, the one before and the one after */

struct seal_key {
	EVP_CIPHER_CTX *ctx;      /* holds the key schedule of its epoch */
	uint8_t iv[IV_LEN];
	uint64_t epoch;
	int valid;
};

struct seal {
	uint8_t tx_secret[SEAL_SECRET_LEN], rx_secret[SEAL_SECRET_LEN];
	struct seal_key tx, rx[RX_EPOCHS];
	uint64_t tx_next;
	struct replay replay;
};

/* derive() - HMAC-SHA256(secret, label || epoch), first n bytes */
static void derive(const uint8_t *secret, const char *label, uint64_t epoch, uint8_t *out,
		   size_t n)
{
	uint8_t msg[32], mac[32];
	size_t ll = strlen(label);
	unsigned int maclen = sizeof(mac);
	int i;

	memcpy(msg, label, ll);
	for (i = 0; i < 8; i++)
		msg[ll + (size_t)i] = (uint8_t)(epoch >> (56 - 8 * i));
	HMAC(EVP_sha256(), secret, SEAL_SECRET_LEN, msg, ll + 8, mac, &maclen);
	memcpy(out, mac, n);
	OPENSSL_cleanse(mac, sizeof(mac));
}

/* key_set() - k becomes epoch e's key (for encrypting if enc) */
static int key_set(struct seal_key *k, const uint8_t *secret, uint64_t e, int enc)
{
	uint8_t key[KEY_LEN];
	int ok;

	derive(secret, "omnet seal key", e, key, sizeof(key));
	derive(secret, "omnet seal iv", e, k->iv, sizeof(k->iv));
	ok = EVP_CipherInit_ex(k->ctx, EVP_aes_128_gcm(), NULL, key, NULL, enc) == 1;
	OPENSSL_cleanse(key, sizeof(key));
	k->epoch = e;
	k->valid = ok;
	return ok ? 0 : -1;
}

static void nonce_of(const struct seal_key *k, uint64_t c, uint8_t nonce[IV_LEN])
{
	int i;

	memcpy(nonce, k->iv, IV_LEN);
	for (i = 0; i < 8; i++)
		nonce[IV_LEN - 1 - i] ^= (uint8_t)(c >> (8 * i));
}

/* aad_of() - a record's associated data: the outer header, then its
 * counter.  One EVP call for both: with OpenSSL 3.0 every call costs tens
 * of nanoseconds of parameter lookups, and half of a 1,400-byte record's
 * sealing is such fixed cost (DESIGN.md 11.54). */
static size_t aad_of(uint8_t *aad, const uint8_t *ad, size_t adlen, const uint8_t *counter)
{
	memcpy(aad, ad, adlen);
	memcpy(aad + adlen, counter, SEAL_COUNTER_LEN);
	return adlen + SEAL_COUNTER_LEN;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

struct seal *seal_new(const uint8_t tx[SEAL_SECRET_LEN], const uint8_t rx[SEAL_SECRET_LEN])
{
	struct seal *s = xcalloc(1, sizeof(*s));
	int i, ok;

	memcpy(s->tx_secret, tx, SEAL_SECRET_LEN);
	memcpy(s->rx_secret, rx, SEAL_SECRET_LEN);
	replay_init(&s->replay);
	ok = (s->tx.ctx = EVP_CIPHER_CTX_new()) != NULL;
	for (i = 0; i < RX_EPOCHS; i++)
		ok = ok && (s->rx[i].ctx = EVP_CIPHER_CTX_new()) != NULL;
	if (!ok || key_set(&s->tx, s->tx_secret, 0, 1) < 0) {
		seal_free(s);
		return NULL;
	}
	return s;
}

void seal_free(struct seal *s)
{
	int i;

	if (!s)
		return;
	EVP_CIPHER_CTX_free(s->tx.ctx);
	for (i = 0; i < RX_EPOCHS; i++)
		EVP_CIPHER_CTX_free(s->rx[i].ctx);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

void seal_skip(struct seal *s, uint64_t c)
{
	/* forward only: a counter used twice would repeat a nonce */
	if (c > s->tx_next)
		s->tx_next = c;
}

size_t seal_record(struct seal *s, const uint8_t *ad, size_t adlen, const uint8_t *in,
		   size_t len, uint8_t *out)
{
	uint64_t c = s->tx_next;
	uint8_t nonce[IV_LEN], aad[AAD_MAX];
	int n, fin;

	/* 2^62 records: centuries at any rate; never wrap a nonce */
	if (c >> 62 || len > INT32_MAX || adlen > AAD_MAX - SEAL_COUNTER_LEN)
		return 0;
	if ((c >> SEAL_EPOCH_SHIFT != s->tx.epoch || !s->tx.valid) &&
	    key_set(&s->tx, s->tx_secret, c >> SEAL_EPOCH_SHIFT, 1) < 0)
		return 0;
	put_be64(out, c);
	nonce_of(&s->tx, c, nonce);
	if (EVP_EncryptInit_ex(s->tx.ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(s->tx.ctx, NULL, &n, aad, (int)aad_of(aad, ad, adlen, out)) != 1 ||
	    EVP_EncryptUpdate(s->tx.ctx, out + SEAL_COUNTER_LEN, &n, in, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(s->tx.ctx, out + SEAL_COUNTER_LEN + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(s->tx.ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN,
				out + SEAL_COUNTER_LEN + len) != 1)
		return 0;
	s->tx_next = c + 1;
	return len + SEAL_OVERHEAD;
}

/* rx_key() - the key of counter c's epoch: one of the newest accepted
 * epoch and its neighbours (records further behind are outside the replay
 * window anyway; a sender further ahead would have lost 2^22 records in a
 * row, which no session outlives), derived on first use.  NULL for any
 * other epoch. */
static struct seal_key *rx_key(struct seal *s, uint64_t c)
{
	uint64_t e = c >> SEAL_EPOCH_SHIFT, newest = s->replay.top >> SEAL_EPOCH_SHIFT;
	struct seal_key *k = &s->rx[e % RX_EPOCHS];

	if (s->replay.any ? e + 1 < newest || e > newest + 1 : e > 1)
		return NULL;
	if (k->valid && k->epoch == e)
		return k;
	return key_set(k, s->rx_secret, e, 0) < 0 ? NULL : k;
}

ssize_t seal_open(struct seal *s, const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len,
		  uint8_t *out)
{
	struct seal_key *k;
	uint8_t nonce[IV_LEN], tag[SEAL_TAG_LEN], aad[AAD_MAX];
	size_t plen;
	uint64_t c;
	int n, fin;

	if (len < SEAL_OVERHEAD || len - SEAL_OVERHEAD > INT32_MAX ||
	    adlen > AAD_MAX - SEAL_COUNTER_LEN)
		return -1;
	c = get_be64(in);
	plen = len - SEAL_OVERHEAD;
	if (replay_check(&s->replay, c) < 0 || !(k = rx_key(s, c)))
		return -1;
	memcpy(tag, in + SEAL_COUNTER_LEN + plen, SEAL_TAG_LEN);
	nonce_of(k, c, nonce);
	if (EVP_DecryptInit_ex(k->ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(k->ctx, NULL, &n, aad, (int)aad_of(aad, ad, adlen, in)) != 1 ||
	    EVP_DecryptUpdate(k->ctx, out, &n, in + SEAL_COUNTER_LEN, (int)plen) != 1 ||
	    EVP_CIPHER_CTX_ctrl(k->ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, tag) != 1 ||
	    EVP_DecryptFinal_ex(k->ctx, out + n, &fin) != 1)
		return -1;
	replay_accept(&s->replay, c);
	return (ssize_t)plen;
}

size_t seal_packet(struct seal *s, const struct wire_outer *o, const uint8_t *in, size_t len,
		   uint8_t *out)
{
	uint8_t hdr[WIRE_OUTER_HS_LEN];

	return seal_record(s, hdr, wire_outer_put(hdr, o), in, len, out);
}

ssize_t open_packet(struct seal *s, const struct wire_outer *o, const uint8_t *in, size_t len,
		    uint8_t *out)
{
	uint8_t hdr[WIRE_OUTER_HS_LEN];

	return seal_open(s, hdr, wire_outer_put(hdr, o), in, len, out);
}
