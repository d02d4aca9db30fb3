/* dtls.c: OpenSSL DTLS with a custom datagram BIO, cookies and pinning. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "dtls.h"
#include "log.h"
#include "util.h"

/* AEAD only, ECDSA keys; AES-GCM first, fastest where the CPU has AES-NI */
#define DTLS_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
		     "ECDHE-ECDSA-CHACHA20-POLY1305"
#define HANDSHAKE_RTO_FIRST_US 300000
#define HANDSHAKE_RTO_MAX_US 2000000

struct dtls_ctx {
	SSL_CTX *ctx;
	BIO_METHOD *meth;
	uint8_t cookie_secret[32];
	dtls_pinned_fn pinned;
	void *arg;
	SSL *listener;            /* reused for every stateless ClientHello */
	struct dtls_conn *lconn;  /* its BIO state */
	uint8_t instance[DTLS_INSTANCE_LEN]; /* this process, in every handshake */
	int no_seal;              /* do not offer sealed records (tests: an older peer) */
};

struct dtls_conn {
	struct dtls_ctx *ctx;
	SSL *ssl;
	const uint8_t *in;        /* the datagram being processed */
	size_t inlen;
	dtls_out_fn out;
	void *out_arg;
	uint8_t cookie_input[64]; /* server: the client's address and id */
	size_t cookie_len;
	char expect_fp[FINGERPRINT_LEN + 1]; /* client: the peer we dialled */
	char peer_fp[FINGERPRINT_LEN + 1];
	uint8_t peer_instance[DTLS_INSTANCE_LEN];
	int have_peer_instance;
	int peer_seals;           /* the peer offered sealed data records */
	char err[256];
	enum dtls_status status;
};

static int conn_idx = -1;

/* The instance extension: each side's handshake carries 8 random bytes
 * drawn when the process started.  A peer that restarted shows a new
 * value; one that dialled again while its old session lives, the same. */
#define INSTANCE_EXT 0xff6d /* private use (RFC 8446 4.2) */

static int instance_add(SSL *ssl, unsigned int type, unsigned int context,
			const unsigned char **out, size_t *outlen, X509 *x, size_t chainidx,
			int *al, void *arg)
{
	const struct dtls_ctx *c = arg;

	(void)ssl, (void)type, (void)context, (void)x, (void)chainidx, (void)al;
	*out = c->instance;
	*outlen = sizeof(c->instance);
	return 1;
}

static int instance_parse(SSL *ssl, unsigned int type, unsigned int context,
			  const unsigned char *in, size_t inlen, X509 *x, size_t chainidx,
			  int *al, void *arg)
{
	struct dtls_conn *s = SSL_get_ex_data(ssl, conn_idx);

	(void)type, (void)context, (void)x, (void)chainidx, (void)arg;
	if (inlen != DTLS_INSTANCE_LEN) {
		*al = SSL_AD_DECODE_ERROR;
		return 0;
	}
	if (s) {
		memcpy(s->peer_instance, in, inlen);
		s->have_peer_instance = 1;
	}
	return 1;
}

/* The sealed-records extension (seal.h): one byte, the version of the
 * record format.  A client offers it; a server that knows it answers with
 * it (OpenSSL sends a ServerHello extension only when the ClientHello had
 * it), and then both ends seal link packets themselves.  A peer without
 * it keeps DTLS records: older versions still talk to this one. */
#define SEALED_EXT 0xff6e
#define SEALED_VERSION 1
#define SEAL_LABEL "EXPORTER-omnet-sealed-records"

static int sealed_add(SSL *ssl, unsigned int type, unsigned int context,
		      const unsigned char **out, size_t *outlen, X509 *x, size_t chainidx,
		      int *al, void *arg)
{
	static const unsigned char version = SEALED_VERSION;
	const struct dtls_ctx *c = arg;
	const struct dtls_conn *s = SSL_get_ex_data(ssl, conn_idx);

	(void)type, (void)context, (void)x, (void)chainidx, (void)al;
	/* a server answers only a version it seals with: the answer is the
	 * agreement, and both ends then seal or neither does */
	if (c->no_seal || (SSL_is_server(ssl) && (!s || !s->peer_seals)))
		return 0; /* not included */
	*out = &version;
	*outlen = 1;
	return 1;
}

static int sealed_parse(SSL *ssl, unsigned int type, unsigned int context,
			const unsigned char *in, size_t inlen, X509 *x, size_t chainidx,
			int *al, void *arg)
{
	struct dtls_conn *s = SSL_get_ex_data(ssl, conn_idx);

	(void)type, (void)context, (void)x, (void)chainidx, (void)arg;
	if (inlen != 1) {
		*al = SSL_AD_DECODE_ERROR;
		return 0;
	}
	/* another version: not offered (a server then sends none back, and
	 * a client that got another back does not seal) */
	if (s)
		s->peer_seals = in[0] == SEALED_VERSION;
	return 1;
}

/* ---- the BIO: input one datagram at a time, output through a callback -- */

static int bio_write(BIO *b, const char *data, int len)
{
	struct dtls_conn *s = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (s->out)
		s->out(s->out_arg, (const uint8_t *)data, (size_t)len);
	return len;
}

static int bio_read(BIO *b, char *buf, int len)
{
	struct dtls_conn *s = BIO_get_data(b);
	size_t n;

	BIO_clear_retry_flags(b);
	if (!s->in) {
		BIO_set_retry_read(b);
		return -1;
	}
	/* a datagram is read whole or not at all: DTLS records never span two */
	n = MIN(s->inlen, (size_t)len);
	memcpy(buf, s->in, n);
	s->in = NULL;
	return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_CTRL_FLUSH:
	case BIO_CTRL_DGRAM_SET_CONNECTED:
	case BIO_CTRL_DGRAM_SET_PEER:
		return 1;
	case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
	case BIO_CTRL_WPENDING:
	case BIO_CTRL_PENDING:
	default:
		return 0;
	}
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static BIO_METHOD *bio_method(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "omnet-dgram");

	if (!m)
		return NULL;
	BIO_meth_set_write(m, bio_write);
	BIO_meth_set_read(m, bio_read);
	BIO_meth_set_ctrl(m, bio_ctrl);
	BIO_meth_set_create(m, bio_create);
	return m;
}

/* ---- verification and cookies ------------------------------------------ */

/* verify_cb() - the peer is who it says by key alone: ignore chain and
 * dates (self-signed), accept exactly the pinned fingerprints */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct dtls_conn *s = SSL_get_ex_data(ssl, conn_idx);
	X509 *cert = X509_STORE_CTX_get_current_cert(x);
	int allowed;

	if (X509_STORE_CTX_get_error_depth(x) > 0)
		return 1;
	if (!cert || identity_fingerprint(cert, s->peer_fp) < 0) {
		snprintf(s->err, sizeof(s->err), "peer certificate unreadable");
		return 0;
	}
	if (s->expect_fp[0])
		allowed = strcmp(s->peer_fp, s->expect_fp) == 0;
	else
		allowed = s->ctx->pinned(s->ctx->arg, s->peer_fp);
	if (!allowed) {
		if (s->expect_fp[0])
			snprintf(s->err, sizeof(s->err), "peer presented %s, expected %s", s->peer_fp,
				 s->expect_fp);
		else
			snprintf(s->err, sizeof(s->err), "fingerprint %s not pinned", s->peer_fp);
		return 0;
	}
	X509_STORE_CTX_set_error(x, X509_V_OK);
	return 1;
}

static void cookie_mac(struct dtls_ctx *c, const struct dtls_conn *s, unsigned char *out,
		       unsigned int *len)
{
	HMAC(EVP_sha256(), c->cookie_secret, sizeof(c->cookie_secret), s->cookie_input,
	     s->cookie_len, out, len);
}

static int gen_cookie(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
	struct dtls_conn *s = SSL_get_ex_data(ssl, conn_idx);

	cookie_mac(s->ctx, s, cookie, len);
	return 1;
}

static int verify_cookie(SSL *ssl, const unsigned char *cookie, unsigned int len)
{
	struct dtls_conn *s = SSL_get_ex_data(ssl, conn_idx);
	unsigned char want[EVP_MAX_MD_SIZE];
	unsigned int wlen;

	cookie_mac(s->ctx, s, want, &wlen);
	return len == wlen && CRYPTO_memcmp(cookie, want, len) == 0;
}

/* handshake_rto() - OpenSSL's default starts at one second; on a link
 * that is just being set up a quicker first retransmission helps */
static unsigned int handshake_rto(SSL *ssl, unsigned int prev_us)
{
	if (prev_us == 0)
		return HANDSHAKE_RTO_FIRST_US;
	return prev_us * 2 > HANDSHAKE_RTO_MAX_US ? HANDSHAKE_RTO_MAX_US : prev_us * 2;
}

/* ---- sessions ----------------------------------------------------------- */

static struct dtls_conn *conn_new(struct dtls_ctx *c, int client, unsigned link_mtu)
{
	struct dtls_conn *s = xcalloc(1, sizeof(*s));
	BIO *bio;

	s->ctx = c;
	s->ssl = SSL_new(c->ctx);
	bio = s->ssl ? BIO_new(c->meth) : NULL;
	if (!bio) {
		SSL_free(s->ssl);
		free(s);
		return NULL;
	}
	BIO_set_data(bio, s);
	SSL_set_bio(s->ssl, bio, bio);
	SSL_set_ex_data(s->ssl, conn_idx, s);
	SSL_set_options(s->ssl, SSL_OP_NO_QUERY_MTU);
	DTLS_set_link_mtu(s->ssl, link_mtu);
	DTLS_set_timer_cb(s->ssl, handshake_rto);
	if (client)
		SSL_set_connect_state(s->ssl);
	else
		SSL_set_accept_state(s->ssl);
	return s;
}

struct dtls_ctx *dtls_ctx_new(const struct identity *id, dtls_pinned_fn pinned, void *arg,
			      char *err, size_t errlen)
{
	struct dtls_ctx *c = xcalloc(1, sizeof(*c));

	if (conn_idx < 0)
		conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	c->pinned = pinned;
	c->arg = arg;
	c->ctx = SSL_CTX_new(DTLS_method());
	c->meth = bio_method();
	if (!c->ctx || !c->meth || RAND_bytes(c->cookie_secret, sizeof(c->cookie_secret)) != 1)
		goto fail;
	SSL_CTX_set_min_proto_version(c->ctx, DTLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(c->ctx, DTLS1_2_VERSION);
	SSL_CTX_set_options(c->ctx, SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION |
				    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_cipher_list(c->ctx, DTLS_CIPHERS) != 1 ||
	    SSL_CTX_use_certificate(c->ctx, id->cert) != 1 ||
	    SSL_CTX_use_PrivateKey(c->ctx, id->key) != 1)
		goto fail;
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
	SSL_CTX_set_cookie_generate_cb(c->ctx, gen_cookie);
	SSL_CTX_set_cookie_verify_cb(c->ctx, verify_cookie);
	SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
	if (RAND_bytes(c->instance, sizeof(c->instance)) != 1 ||
	    SSL_CTX_add_custom_ext(c->ctx, INSTANCE_EXT,
				   SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_2_SERVER_HELLO,
				   instance_add, NULL, c, instance_parse, NULL) != 1 ||
	    SSL_CTX_add_custom_ext(c->ctx, SEALED_EXT,
				   SSL_EXT_CLIENT_HELLO | SSL_EXT_TLS1_2_SERVER_HELLO,
				   sealed_add, NULL, c, sealed_parse, NULL) != 1)
		goto fail;
	return c;
fail:
	snprintf(err, errlen, "DTLS setup failed: %s", ERR_error_string(ERR_get_error(), NULL));
	dtls_ctx_free(c);
	return NULL;
}

void dtls_ctx_offer_sealed(struct dtls_ctx *c, int offer)
{
	c->no_seal = !offer;
}

void dtls_ctx_free(struct dtls_ctx *c)
{
	if (!c)
		return;
	dtls_conn_free(c->lconn);
	SSL_CTX_free(c->ctx);
	BIO_meth_free(c->meth);
	free(c);
}

void dtls_conn_free(struct dtls_conn *s)
{
	if (!s)
		return;
	SSL_free(s->ssl);
	free(s);
}

void dtls_conn_set_output(struct dtls_conn *s, dtls_out_fn out, void *arg)
{
	s->out = out;
	s->out_arg = arg;
}

/* ssl_failed() - record why the handshake or session failed */
static enum dtls_status ssl_failed(struct dtls_conn *s, int ret)
{
	int e = SSL_get_error(s->ssl, ret);
	unsigned long code;

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return s->status;
	code = ERR_peek_last_error();
	if (!s->err[0])
		snprintf(s->err, sizeof(s->err), "%s",
			 code ? ERR_reason_error_string(code) : "connection closed");
	ERR_clear_error();
	s->status = DTLS_FAILED;
	return s->status;
}

static enum dtls_status handshake(struct dtls_conn *s)
{
	int ret = SSL_do_handshake(s->ssl);

	if (ret == 1) {
		s->status = DTLS_ESTABLISHED;
		return s->status;
	}
	return ssl_failed(s, ret);
}

struct dtls_conn *dtls_client_new(struct dtls_ctx *c, const char *expect_fp, unsigned link_mtu,
				  dtls_out_fn out, void *arg)
{
	struct dtls_conn *s = conn_new(c, 1, link_mtu);

	if (!s)
		return NULL;
	snprintf(s->expect_fp, sizeof(s->expect_fp), "%s", expect_fp);
	dtls_conn_set_output(s, out, arg);
	handshake(s);
	return s;
}

struct dtls_conn *dtls_listen(struct dtls_ctx *c, const uint8_t *d, size_t n,
			      const void *cookie_input, size_t cookie_len, unsigned link_mtu,
			      dtls_out_fn out, void *arg)
{
	struct dtls_conn *s;
	BIO_ADDR *client;
	int ret;

	if (!c->lconn && !(c->lconn = conn_new(c, 0, link_mtu)))
		return NULL;
	s = c->lconn;
	s->in = d;
	s->inlen = n;
	/* kept: the handshake checks the cookie once more after listening */
	s->cookie_len = MIN(cookie_len, sizeof(s->cookie_input));
	memcpy(s->cookie_input, cookie_input, s->cookie_len);
	dtls_conn_set_output(s, out, arg);
	client = BIO_ADDR_new();
	ret = DTLSv1_listen(s->ssl, client);
	BIO_ADDR_free(client);
	s->in = NULL;
	if (ret <= 0) {
		ERR_clear_error();
		return NULL;
	}
	/* the listener became this session (it holds the ClientHello, whose
	 * extensions the handshake reads again: forget an earlier one's) */
	c->lconn = NULL;
	s->have_peer_instance = 0;
	s->peer_seals = 0;
	DTLS_set_link_mtu(s->ssl, link_mtu);
	return s;
}

enum dtls_status dtls_continue(struct dtls_conn *s)
{
	return handshake(s);
}

enum dtls_status dtls_input(struct dtls_conn *s, const uint8_t *d, size_t n,
			    dtls_deliver_fn deliver, void *arg)
{
	uint8_t buf[16384 + 64];
	int ret;

	if (s->status == DTLS_FAILED)
		return s->status;
	s->in = d;
	s->inlen = n;
	if (s->status == DTLS_PENDING && handshake(s) != DTLS_ESTABLISHED) {
		s->in = NULL;
		return s->status;
	}
	/* a datagram may hold several records: read until the BIO is dry */
	while ((ret = SSL_read(s->ssl, buf, sizeof(buf))) > 0)
		deliver(arg, buf, (size_t)ret);
	s->in = NULL;
	if (SSL_get_error(s->ssl, ret) == SSL_ERROR_ZERO_RETURN) {
		snprintf(s->err, sizeof(s->err), "peer closed the session");
		s->status = DTLS_FAILED;
	} else {
		ssl_failed(s, ret);
	}
	return s->status;
}

int dtls_write(struct dtls_conn *s, const uint8_t *plain, size_t len)
{
	int ret;

	if (s->status != DTLS_ESTABLISHED)
		return -1;
	ret = SSL_write(s->ssl, plain, (int)len);
	if (ret <= 0) {
		ssl_failed(s, ret);
		return -1;
	}
	return 0;
}

void dtls_close_notify(struct dtls_conn *s)
{
	if (s->status != DTLS_ESTABLISHED)
		return;
	/* one attempt: the alert leaves through the BIO now, and a peer that
	 * misses it notices the silence later */
	if (SSL_shutdown(s->ssl) < 0)
		ERR_clear_error();
	s->status = DTLS_FAILED;
	snprintf(s->err, sizeof(s->err), "closed");
}

enum dtls_status dtls_status(const struct dtls_conn *s)
{
	return s->status;
}

int dtls_progressed(const struct dtls_conn *s)
{
	switch (SSL_get_state(s->ssl)) {
	case TLS_ST_SR_CERT:
	case TLS_ST_SR_KEY_EXCH:
	case TLS_ST_SR_CERT_VRFY:
	case TLS_ST_SR_CHANGE:
	case TLS_ST_SR_FINISHED:
	case TLS_ST_SW_CHANGE:
	case TLS_ST_SW_FINISHED:
	case TLS_ST_OK:
		return 1;
	default:
		return 0;
	}
}

int dtls_committed(const struct dtls_conn *s)
{
	switch (SSL_get_state(s->ssl)) {
	case TLS_ST_CW_FINISHED:
	case TLS_ST_CR_SESSION_TICKET:
	case TLS_ST_CR_CHANGE:
	case TLS_ST_CR_FINISHED:
	case TLS_ST_OK:
		return 1;
	default:
		return 0;
	}
}

uint64_t dtls_timer_us(struct dtls_conn *s)
{
	struct timeval tv;

	if (s->status != DTLS_PENDING || DTLSv1_get_timeout(s->ssl, &tv) != 1)
		return UINT64_MAX;
	return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}

enum dtls_status dtls_on_timer(struct dtls_conn *s)
{
	if (s->status != DTLS_PENDING)
		return s->status;
	if (DTLSv1_handle_timeout(s->ssl) < 0) {
		snprintf(s->err, sizeof(s->err), "handshake timed out");
		s->status = DTLS_FAILED;
	}
	return s->status;
}

const char *dtls_peer_fingerprint(const struct dtls_conn *s)
{
	return s->peer_fp;
}

const char *dtls_error(const struct dtls_conn *s)
{
	return s->err[0] ? s->err : "unknown error";
}

int dtls_peer_instance(const struct dtls_conn *s, uint8_t out[DTLS_INSTANCE_LEN])
{
	if (!s->have_peer_instance)
		return -1;
	memcpy(out, s->peer_instance, DTLS_INSTANCE_LEN);
	return 0;
}

int dtls_data_secrets(const struct dtls_conn *s, uint8_t tx[DTLS_SECRET_LEN],
		      uint8_t rx[DTLS_SECRET_LEN])
{
	uint8_t both[2 * DTLS_SECRET_LEN];
	int client = !SSL_is_server(s->ssl);

	if (s->status != DTLS_ESTABLISHED || !s->peer_seals || s->ctx->no_seal)
		return -1;
	if (SSL_export_keying_material(s->ssl, both, sizeof(both), SEAL_LABEL,
				       strlen(SEAL_LABEL), NULL, 0, 0) != 1) {
		ERR_clear_error();
		return -2;
	}
	/* the first half seals what the client sends */
	memcpy(tx, both + (client ? 0 : DTLS_SECRET_LEN), DTLS_SECRET_LEN);
	memcpy(rx, both + (client ? DTLS_SECRET_LEN : 0), DTLS_SECRET_LEN);
	OPENSSL_cleanse(both, sizeof(both));
	return 0;
}

const char *dtls_cipher(const struct dtls_conn *s)
{
	return SSL_get_cipher_name(s->ssl);
}
