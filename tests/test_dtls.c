/* test_dtls.c: DTLS sessions in memory: cookie exchange before any state,
 * mutual authentication by pinned fingerprint, records both ways; sealed
 * records keyed by the handshake, accepted however late the path
 * reorders them, and DTLS records with a peer that cannot seal. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dtls.h"
#include "identity.h"
#include "seal.h"

#define MAXQ 64

struct queue {
	uint8_t d[MAXQ][2048];
	size_t len[MAXQ];
	int n;
};

static void out_fn(void *arg, const uint8_t *rec, size_t len)
{
	struct queue *q = arg;

	ck_assert_int_lt(q->n, MAXQ);
	ck_assert_uint_le(len, sizeof(q->d[0]));
	memcpy(q->d[q->n], rec, len);
	q->len[q->n++] = len;
}

static const char *pinned_fp;

static int pinned(void *arg, const char *fp)
{
	return pinned_fp && strcmp(fp, pinned_fp) == 0;
}

struct got {
	uint8_t buf[4096];
	size_t len;
	int n;
};

static void deliver(void *arg, const uint8_t *p, size_t len)
{
	struct got *g = arg;

	memcpy(g->buf, p, len);
	g->len = len;
	g->n++;
}

static void make_identity(struct identity *id)
{
	char dir[] = "/tmp/omnet-test-dtls-XXXXXX", err[256], path[64];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(identity_load(id, dir, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/identity.pem", dir);
	unlink(path);
	rmdir(dir);
}

/* two_ends() - identities a and b (the servers pin a) and a context for
 * each */
static void two_ends(struct identity *a, struct identity *b, struct dtls_ctx **ca,
		     struct dtls_ctx **cb)
{
	char err[256];

	make_identity(a);
	make_identity(b);
	pinned_fp = a->fingerprint;
	*ca = dtls_ctx_new(a, pinned, NULL, err, sizeof(err));
	*cb = dtls_ctx_new(b, pinned, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(*ca);
	ck_assert_ptr_nonnull(*cb);
}

/* pump() - move queued datagrams between the two ends until quiet */
static void pump(struct dtls_conn *cli, struct dtls_conn **srv, struct dtls_ctx *sctx,
		 struct queue *to_srv, struct queue *to_cli)
{
	static const char cookie_in[] = "192.0.2.1:6950/42";
	struct got g = { 0 };
	int rounds, i;

	for (rounds = 0; rounds < 20 && (to_srv->n || to_cli->n); rounds++) {
		struct queue a = *to_srv, b = *to_cli;

		to_srv->n = to_cli->n = 0;
		for (i = 0; i < a.n; i++) {
			if (!*srv) {
				*srv = dtls_listen(sctx, a.d[i], a.len[i], cookie_in, sizeof(cookie_in),
						   1400, out_fn, to_cli);
				if (*srv)
					dtls_continue(*srv);
			} else
				dtls_input(*srv, a.d[i], a.len[i], deliver, &g);
		}
		for (i = 0; i < b.n; i++)
			dtls_input(cli, b.d[i], b.len[i], deliver, &g);
	}
}

/* two_ends_free() - two identities and their contexts, as two_ends() makes them */
static void two_ends_free(struct identity *a, struct identity *b, struct dtls_ctx *ca,
			  struct dtls_ctx *cb)
{
	dtls_ctx_free(ca);
	dtls_ctx_free(cb);
	identity_free(a);
	identity_free(b);
}

/* dial() - a client of cctx dials a server of sctx that must present
 * server_fp, over fresh queues, until quiet; the server's session (NULL if
 * none) in *srv */
static struct dtls_conn *dial(struct dtls_ctx *cctx, struct dtls_ctx *sctx, const char *server_fp,
			      struct dtls_conn **srv)
{
	static struct queue to_srv, to_cli;
	struct dtls_conn *cli;

	memset(&to_srv, 0, sizeof(to_srv));
	memset(&to_cli, 0, sizeof(to_cli));
	*srv = NULL;
	cli = dtls_client_new(cctx, server_fp, 1400, out_fn, &to_srv);
	pump(cli, srv, sctx, &to_srv, &to_cli);
	return cli;
}

START_TEST(test_handshake_cookie_then_data)
{
	struct identity a, b;
	struct dtls_ctx *ca, *cb;
	struct dtls_conn *cli, *srv = NULL;
	static struct queue to_srv, to_cli;
	struct got g = { 0 };

	two_ends(&a, &b, &ca, &cb);
	memset(&to_srv, 0, sizeof(to_srv));
	memset(&to_cli, 0, sizeof(to_cli));
	cli = dtls_client_new(ca, b.fingerprint, 1400, out_fn, &to_srv);
	ck_assert_int_eq(to_srv.n, 1); /* the ClientHello */
	/* the first ClientHello has no cookie: HelloVerifyRequest, no session */
	srv = dtls_listen(cb, to_srv.d[0], to_srv.len[0], "x", 1, 1400, out_fn, &to_cli);
	ck_assert_ptr_null(srv);
	ck_assert_int_eq(to_cli.n, 1);
	to_srv.n = 0;
	pump(cli, &srv, cb, &to_srv, &to_cli);
	/* a cookie bound to another client address would not pass */
	ck_assert_int_eq(dtls_status(cli), DTLS_PENDING);
	to_srv.n = 0;
	to_cli.n = 0;
	dtls_conn_free(cli);
	cli = dtls_client_new(ca, b.fingerprint, 1400, out_fn, &to_srv);
	pump(cli, &srv, cb, &to_srv, &to_cli);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(dtls_status(cli), DTLS_ESTABLISHED);
	ck_assert_int_eq(dtls_status(srv), DTLS_ESTABLISHED);
	ck_assert_str_eq(dtls_peer_fingerprint(srv), a.fingerprint);
	ck_assert_str_eq(dtls_peer_fingerprint(cli), b.fingerprint);
	ck_assert_str_eq(dtls_cipher(cli), "ECDHE-ECDSA-AES128-GCM-SHA256");
	/* data both ways, one record per datagram */
	ck_assert_int_eq(dtls_write(cli, (const uint8_t *)"hello", 5), 0);
	ck_assert_int_eq(to_srv.n, 1);
	ck_assert_uint_eq(to_srv.len[0], 5 + DTLS_OVERHEAD);
	dtls_input(srv, to_srv.d[0], to_srv.len[0], deliver, &g);
	ck_assert_int_eq(g.n, 1);
	ck_assert_mem_eq(g.buf, "hello", 5);
	/* a tampered record is dropped, the session lives on */
	to_srv.d[0][to_srv.len[0] - 1] ^= 1;
	ck_assert_int_eq(dtls_input(srv, to_srv.d[0], to_srv.len[0], deliver, &g), DTLS_ESTABLISHED);
	ck_assert_int_eq(g.n, 1);
	dtls_conn_free(cli);
	dtls_conn_free(srv);
	two_ends_free(&a, &b, ca, cb);
}
END_TEST

/* handshake() - a session from a client of cctx to a server of sctx; the
 * instance value the server saw in it */
static void handshake_instance(struct dtls_ctx *cctx, struct dtls_ctx *sctx, const char *server_fp,
			       uint8_t seen[DTLS_INSTANCE_LEN], uint8_t client_saw[DTLS_INSTANCE_LEN])
{
	struct dtls_conn *cli, *srv = NULL;

	cli = dial(cctx, sctx, server_fp, &srv);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(dtls_status(cli), DTLS_ESTABLISHED);
	ck_assert_int_eq(dtls_peer_instance(srv, seen), 0);
	ck_assert_int_eq(dtls_peer_instance(cli, client_saw), 0);
	dtls_conn_free(cli);
	dtls_conn_free(srv);
}

/* The instance value tells a peer that restarted (a new process, the same
 * key) from one that dialled again. */
START_TEST(test_instance_changes_with_the_process_not_the_session)
{
	uint8_t s1[DTLS_INSTANCE_LEN], s2[DTLS_INSTANCE_LEN], s3[DTLS_INSTANCE_LEN];
	uint8_t c1[DTLS_INSTANCE_LEN], c2[DTLS_INSTANCE_LEN], c3[DTLS_INSTANCE_LEN];
	struct identity a, b;
	struct dtls_ctx *ca, *ca2, *cb;
	char err[256];

	make_identity(&a);
	make_identity(&b);
	pinned_fp = a.fingerprint;
	ca = dtls_ctx_new(&a, pinned, NULL, err, sizeof(err));
	ca2 = dtls_ctx_new(&a, pinned, NULL, err, sizeof(err)); /* a restarted */
	cb = dtls_ctx_new(&b, pinned, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(ca2);
	handshake_instance(ca, cb, b.fingerprint, s1, c1);
	handshake_instance(ca, cb, b.fingerprint, s2, c2);
	handshake_instance(ca2, cb, b.fingerprint, s3, c3);
	ck_assert_mem_eq(s1, s2, DTLS_INSTANCE_LEN);  /* dialled again */
	ck_assert_mem_ne(s1, s3, DTLS_INSTANCE_LEN);  /* restarted */
	ck_assert_mem_eq(c1, c2, DTLS_INSTANCE_LEN);  /* the server's, both times */
	ck_assert_mem_eq(c1, c3, DTLS_INSTANCE_LEN);
	ck_assert_mem_ne(c1, s1, DTLS_INSTANCE_LEN);
	dtls_ctx_free(ca);
	dtls_ctx_free(ca2);
	dtls_ctx_free(cb);
	identity_free(&a);
	identity_free(&b);
}
END_TEST

/* sealed_pair() - a session between two fresh identities, the client's
 * context offering sealed records if client_seals, the server's if
 * server_seals; each side's sealer (NULL where dtls_data_secrets()
 * declined) */
static void sealed_pair(int client_seals, int server_seals, struct seal **cs, struct seal **ss)
{
	uint8_t ctx_[DTLS_SECRET_LEN], crx[DTLS_SECRET_LEN], stx[DTLS_SECRET_LEN], srx[DTLS_SECRET_LEN];
	struct identity a, b;
	struct dtls_ctx *ca, *cb;
	struct dtls_conn *cli, *srv = NULL;
	int c_ok, s_ok;

	two_ends(&a, &b, &ca, &cb);
	dtls_ctx_offer_sealed(ca, client_seals);
	dtls_ctx_offer_sealed(cb, server_seals);
	cli = dial(ca, cb, b.fingerprint, &srv);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(dtls_status(cli), DTLS_ESTABLISHED);
	ck_assert_int_eq(dtls_status(srv), DTLS_ESTABLISHED);
	c_ok = dtls_data_secrets(cli, ctx_, crx) == 0;
	s_ok = dtls_data_secrets(srv, stx, srx) == 0;
	/* both ends decide alike, from the same two extensions */
	ck_assert_int_eq(c_ok, s_ok);
	*cs = *ss = NULL;
	if (c_ok) {
		ck_assert_mem_eq(ctx_, srx, DTLS_SECRET_LEN);
		ck_assert_mem_eq(crx, stx, DTLS_SECRET_LEN);
		ck_assert_mem_ne(ctx_, crx, DTLS_SECRET_LEN);
		*cs = seal_new(ctx_, crx);
		*ss = seal_new(stx, srx);
		ck_assert_ptr_nonnull(*cs);
		ck_assert_ptr_nonnull(*ss);
	}
	dtls_conn_free(cli);
	dtls_conn_free(srv);
	two_ends_free(&a, &b, ca, cb);
}

#define NREC 6000
static uint8_t recs[NREC][64];
static size_t rec_len[NREC];

/* seal_n() - n records of the client, record i saying "record i" */
static void seal_n(struct seal *s, const uint8_t *ad, int n)
{
	char msg[32];
	int i;

	for (i = 0; i < n; i++) {
		int m = snprintf(msg, sizeof(msg), "record %d", i);

		rec_len[i] = seal_record(s, ad, 8, (const uint8_t *)msg, (size_t)m, recs[i]);
		ck_assert_uint_eq(rec_len[i], (size_t)m + SEAL_OVERHEAD);
	}
}

static int opens_as(struct seal *s, const uint8_t *ad, int i)
{
	uint8_t out[64];
	char want[32];
	ssize_t n = seal_open(s, ad, 8, recs[i], rec_len[i], out);
	int m = snprintf(want, sizeof(want), "record %d", i);

	if (n < 0)
		return 0;
	ck_assert_int_eq(n, m);
	ck_assert_mem_eq(out, want, (size_t)m);
	return 1;
}

/* The records of a path that reorders by thousands all open, once each;
 * OpenSSL's DTLS records would lose every one more than 64 late. */
START_TEST(test_sealed_records_survive_reordering)
{
	static const uint8_t ad[8] = { 1, 5, 0, 0, 0xde, 0xad, 0xbe, 0xef };
	uint8_t other_ad[8], out[64];
	struct seal *cs, *ss;
	int i, opened = 0;

	sealed_pair(1, 1, &cs, &ss);
	seal_n(cs, ad, NREC);
	/* every tenth record 3000 late, the rest in order */
	for (i = 0; i < NREC; i++) {
		if (i % 10 == 0 && i + 3000 < NREC)
			continue;
		opened += opens_as(ss, ad, i);
		if (i >= 3000 && (i - 3000) % 10 == 0)
			opened += opens_as(ss, ad, i - 3000);
	}
	ck_assert_int_eq(opened, NREC);
	/* each once */
	for (i = 0; i < NREC; i += 7)
		ck_assert_int_eq(opens_as(ss, ad, i), 0);
	/* the header is authenticated, and so is every byte of the record */
	seal_n(cs, ad, 2);
	memcpy(other_ad, ad, 8);
	other_ad[7] ^= 1;
	ck_assert_int_lt(seal_open(ss, other_ad, 8, recs[0], rec_len[0], out), 0);
	recs[0][SEAL_COUNTER_LEN] ^= 0x40;
	ck_assert_int_lt(seal_open(ss, ad, 8, recs[0], rec_len[0], out), 0);
	recs[0][SEAL_COUNTER_LEN] ^= 0x40;
	recs[0][3] ^= 1; /* the counter */
	ck_assert_int_lt(seal_open(ss, ad, 8, recs[0], rec_len[0], out), 0);
	recs[0][3] ^= 1;
	ck_assert_int_lt(seal_open(ss, ad, 8, recs[0], SEAL_OVERHEAD - 1, out), 0);
	/* forgeries moved nothing: the genuine ones still open */
	ck_assert_int_eq(opens_as(ss, ad, 0), 1);
	ck_assert_int_eq(opens_as(ss, ad, 1), 1);
	/* the server's direction has keys of its own */
	ck_assert_uint_eq(seal_record(ss, ad, 8, (const uint8_t *)"x", 1, recs[0]), 1 + SEAL_OVERHEAD);
	ck_assert_int_lt(seal_open(ss, ad, 8, recs[0], 1 + SEAL_OVERHEAD, out), 0);
	ck_assert_int_eq(seal_open(cs, ad, 8, recs[0], 1 + SEAL_OVERHEAD, out), 1);
	seal_free(cs);
	seal_free(ss);
}
END_TEST

/* Keys change every 2^22 records without a message: records on both sides
 * of a change open in any order; an epoch the sender cannot be in yet is
 * refused before any key is made for it. */
START_TEST(test_sealed_keys_change_by_epoch)
{
	static const uint8_t ad[8] = { 1, 5 };
	uint64_t edge = (uint64_t)1 << SEAL_EPOCH_SHIFT;
	uint8_t out[64];
	struct seal *cs, *ss;
	int i;

	sealed_pair(1, 1, &cs, &ss);
	seal_skip(cs, edge - 3);
	seal_n(cs, ad, 6); /* three in epoch 0, three in epoch 1 */
	ck_assert_int_eq(opens_as(ss, ad, 4), 1);
	ck_assert_int_eq(opens_as(ss, ad, 1), 1);
	for (i = 0; i < 6; i++)
		ck_assert_int_eq(opens_as(ss, ad, i), i != 4 && i != 1);
	/* epochs 3 and on are beyond what a sender in epoch 1 can reach */
	seal_skip(cs, 3 * edge);
	seal_n(cs, ad, 1);
	ck_assert_int_lt(seal_open(ss, ad, 8, recs[0], rec_len[0], out), 0);
	seal_free(cs);
	seal_free(ss);
}
END_TEST

/* A peer of an older version offers no sealed records, or does not
 * answer the offer: both ends keep DTLS records (neither seals alone),
 * and the session works as before. */
START_TEST(test_no_sealing_with_an_older_peer)
{
	struct seal *cs, *ss;

	sealed_pair(0, 1, &cs, &ss); /* an older client */
	ck_assert_ptr_null(cs);
	ck_assert_ptr_null(ss);
	sealed_pair(1, 0, &cs, &ss); /* an older server */
	ck_assert_ptr_null(cs);
	ck_assert_ptr_null(ss);
}
END_TEST

START_TEST(test_unpinned_key_is_refused)
{
	struct identity a, b, other;
	struct dtls_ctx *ca, *cb;
	struct dtls_conn *cli, *srv = NULL;
	char err[256];

	make_identity(&a);
	make_identity(&b);
	make_identity(&other);
	pinned_fp = other.fingerprint; /* the server pins someone else */
	ca = dtls_ctx_new(&a, pinned, NULL, err, sizeof(err));
	cb = dtls_ctx_new(&b, pinned, NULL, err, sizeof(err));
	cli = dial(ca, cb, b.fingerprint, &srv);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(dtls_status(srv), DTLS_FAILED);
	ck_assert_ptr_nonnull(strstr(dtls_error(srv), "not pinned"));
	ck_assert_ptr_nonnull(strstr(dtls_error(srv), a.fingerprint));
	ck_assert_int_ne(dtls_status(cli), DTLS_ESTABLISHED);
	dtls_conn_free(cli);
	dtls_conn_free(srv);
	/* and a client that expects another key refuses the server */
	srv = NULL;
	pinned_fp = a.fingerprint;
	cli = dial(ca, cb, other.fingerprint, &srv);
	ck_assert_int_eq(dtls_status(cli), DTLS_FAILED);
	ck_assert_ptr_nonnull(strstr(dtls_error(cli), "expected"));
	dtls_conn_free(cli);
	dtls_conn_free(srv);
	two_ends_free(&a, &b, ca, cb);
	identity_free(&other);
}
END_TEST

START_TEST(test_identity_persists)
{
	char dir[] = "/tmp/omnet-test-id-XXXXXX", err[256], path[64];
	struct identity a, b;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(identity_load(&a, dir, err, sizeof(err)), 0);
	ck_assert_int_eq(identity_load(&b, dir, err, sizeof(err)), 0);
	ck_assert_str_eq(a.fingerprint, b.fingerprint);
	ck_assert(fingerprint_valid(a.fingerprint));
	ck_assert(!fingerprint_valid("sha256:12"));
	identity_free(&a);
	identity_free(&b);
	snprintf(path, sizeof(path), "%s/identity.pem", dir);
	ck_assert_int_eq(truncate(path, 10), 0);
	ck_assert_int_eq(identity_load(&a, dir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a valid identity"));
	unlink(path);
	rmdir(dir);
}
END_TEST

/* A server handshake is "progressing" once the client's second flight came
 * (the limits on handshakes per source evict others first); a ClientHello
 * repeated to a pending server handshake draws no new flight. */
START_TEST(test_progress_and_a_repeated_hello)
{
	static struct queue to_srv, to_cli;
	struct identity a, b;
	struct dtls_ctx *ca, *cb;
	struct dtls_conn *cli, *srv;
	uint8_t hello[2048];
	size_t hello_len;
	struct got g = { 0 };
	int i, flight;

	two_ends(&a, &b, &ca, &cb);
	memset(&to_srv, 0, sizeof(to_srv));
	memset(&to_cli, 0, sizeof(to_cli));
	cli = dtls_client_new(ca, b.fingerprint, 1400, out_fn, &to_srv);
	ck_assert_ptr_null(dtls_listen(cb, to_srv.d[0], to_srv.len[0], "c", 1, 1400, out_fn,
				       &to_cli));
	to_srv.n = 0;
	dtls_input(cli, to_cli.d[0], to_cli.len[0], deliver, &g);
	to_cli.n = 0;
	ck_assert_int_eq(to_srv.n, 1); /* the ClientHello with the cookie */
	memcpy(hello, to_srv.d[0], to_srv.len[0]);
	hello_len = to_srv.len[0];
	srv = dtls_listen(cb, hello, hello_len, "c", 1, 1400, out_fn, &to_cli);
	ck_assert_ptr_nonnull(srv);
	ck_assert_int_eq(dtls_continue(srv), DTLS_PENDING);
	flight = to_cli.n;
	ck_assert_int_gt(flight, 0);
	ck_assert(!dtls_progressed(srv));
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(dtls_input(srv, hello, hello_len, deliver, &g), DTLS_PENDING);
	ck_assert_int_eq(to_cli.n, flight); /* no amplification by repetition */
	ck_assert(!dtls_progressed(srv));
	to_srv.n = 0;
	for (i = 0; i < flight; i++)
		dtls_input(cli, to_cli.d[i], to_cli.len[i], deliver, &g);
	to_cli.n = 0;
	for (i = 0; i < to_srv.n; i++)
		dtls_input(srv, to_srv.d[i], to_srv.len[i], deliver, &g);
	ck_assert(dtls_progressed(srv));
	ck_assert_int_eq(dtls_status(srv), DTLS_ESTABLISHED);
	dtls_conn_free(cli);
	dtls_conn_free(srv);
	two_ends_free(&a, &b, ca, cb);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dtls");
	TCase *t = tcase_create("dtls");
	SRunner *r;
	int failed;

	tcase_add_test(t, test_handshake_cookie_then_data);
	tcase_add_test(t, test_sealed_records_survive_reordering);
	tcase_add_test(t, test_sealed_keys_change_by_epoch);
	tcase_add_test(t, test_no_sealing_with_an_older_peer);
	tcase_add_test(t, test_progress_and_a_repeated_hello);
	tcase_add_test(t, test_instance_changes_with_the_process_not_the_session);
	tcase_add_test(t, test_unpinned_key_is_refused);
	tcase_add_test(t, test_identity_persists);
	suite_add_tcase(s, t);
	r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
