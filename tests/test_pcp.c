/* test_pcp.c: the PCP MAP codec (RFC 6887), byte by byte.
 *
 * The request's exact bytes, a reply built the way a server builds it (the
 * request copied, R bit, result, lifetime, epoch and assigned values set,
 * §8.3) parsed back, every truncation, every field that makes a reply not
 * ours, every result code's text, the NAT-PMP-only reply, the epoch check
 * (§8.5), and a mutation loop.  Replies are copied into exactly-sized heap
 * buffers so that ASan catches a parser reading past the end. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "log.h"
#include "pcp.h"
#include "util.h"

/* ---- helpers -------------------------------------------------------- */

static const uint8_t nonce1[PCP_NONCE_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static struct in_addr ip4(const char *s)
{
	struct in_addr a;

	ck_assert_int_eq(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static struct pcp_map_request sample_request(uint32_t lifetime_s)
{
	struct pcp_map_request r;

	memset(&r, 0, sizeof(r));
	memcpy(r.nonce, nonce1, sizeof(nonce1));
	r.lifetime_s = lifetime_s;
	r.client = ip4("192.0.2.130");
	r.proto = IPPROTO_TCP;
	r.internal_port = 8080;
	r.external_port = 8080;
	return r;
}

/* server_reply() - what a server sends for req (§8.3): the request with R
 * set, the result, lifetime and epoch in the header and the assigned port
 * and address in the MAP payload */
static size_t server_reply(const struct pcp_map_request *req, uint8_t result, uint32_t lifetime_s,
			   uint32_t epoch_s, uint16_t ext_port, const char *ext_addr, uint8_t *out)
{
	size_t n = pcp_map_request_build(req, out, PCP_MAP_LEN);
	struct in_addr a = ip4(ext_addr);

	ck_assert_uint_eq(n, PCP_MAP_LEN);
	out[1] |= 0x80;
	out[2] = 0;
	out[3] = result;
	out[4] = (uint8_t)(lifetime_s >> 24);
	out[5] = (uint8_t)(lifetime_s >> 16);
	out[6] = (uint8_t)(lifetime_s >> 8);
	out[7] = (uint8_t)lifetime_s;
	out[8] = (uint8_t)(epoch_s >> 24);
	out[9] = (uint8_t)(epoch_s >> 16);
	out[10] = (uint8_t)(epoch_s >> 8);
	out[11] = (uint8_t)epoch_s;
	memset(out + 12, 0, 12);
	out[42] = (uint8_t)(ext_port >> 8);
	out[43] = (uint8_t)ext_port;
	memcpy(out + 56, &a.s_addr, 4);
	return n;
}

/* parse_exact() - pcp_map_response_parse() over an exactly-sized copy */
static int parse_exact(const uint8_t *p, size_t len, const struct pcp_map_request *req,
		       struct pcp_map_response *resp)
{
	uint8_t *c = malloc(len ? len : 1);
	int rc;

	ck_assert_ptr_nonnull(c);
	if (len)
		memcpy(c, p, len);
	rc = pcp_map_response_parse(c, len, req, resp);
	free(c);
	return rc;
}

/* ---- requests ------------------------------------------------------- */

START_TEST(test_map_request_bytes_follow_rfc6887)
{
	static const uint8_t want[PCP_MAP_LEN] = {
		2, 1, 0, 0, 0, 0, 0x1c, 0x20,				/* v2, MAP, 7200 s */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 130, /* ::ffff:192.0.2.130 */
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,			/* nonce */
		6, 0, 0, 0,						/* TCP, reserved */
		0x1f, 0x90, 0x1f, 0x90,					/* 8080 -> 8080 */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0,	/* ::ffff:0.0.0.0 */
	};
	struct pcp_map_request req = sample_request(7200);
	uint8_t buf[PCP_MAP_LEN + 8];

	memset(buf, 0xaa, sizeof(buf));
	ck_assert_uint_eq(pcp_map_request_build(&req, buf, sizeof(buf)), PCP_MAP_LEN);
	ck_assert_mem_eq(buf, want, PCP_MAP_LEN);
	ck_assert_uint_eq(buf[PCP_MAP_LEN], 0xaa);
}
END_TEST

START_TEST(test_delete_request_has_lifetime_zero)
{
	struct pcp_map_request req = sample_request(0);
	uint8_t buf[PCP_MAP_LEN];
	struct in_addr ext = ip4("100.128.0.1");

	/* §15: the delete repeats the nonce, protocol and internal port; the
	 * assigned external port and address may go along as suggestions */
	req.external = ext;
	req.external_port = 40000;
	ck_assert_uint_eq(pcp_map_request_build(&req, buf, sizeof(buf)), PCP_MAP_LEN);
	ck_assert_uint_eq(buf[0], 2);
	ck_assert_uint_eq(buf[1], 1);
	ck_assert_uint_eq(buf[4] | buf[5] | buf[6] | buf[7], 0);
	ck_assert_mem_eq(buf + 24, nonce1, PCP_NONCE_LEN);
	ck_assert_uint_eq(buf[36], IPPROTO_TCP);
	ck_assert_uint_eq(buf[42] << 8 | buf[43], 40000);
	ck_assert_mem_eq(buf + 56, &ext.s_addr, 4);
}
END_TEST

START_TEST(test_request_refuses_a_short_buffer)
{
	struct pcp_map_request req = sample_request(60);
	uint8_t buf[PCP_MAP_LEN];

	memset(buf, 0xaa, sizeof(buf));
	ck_assert_uint_eq(pcp_map_request_build(&req, buf, PCP_MAP_LEN - 1), 0);
	ck_assert_uint_eq(buf[0], 0xaa);
}
END_TEST

START_TEST(test_udp_request_carries_protocol_17)
{
	struct pcp_map_request req = sample_request(60);
	uint8_t buf[PCP_MAP_LEN];

	req.proto = IPPROTO_UDP;
	ck_assert_uint_eq(pcp_map_request_build(&req, buf, sizeof(buf)), PCP_MAP_LEN);
	ck_assert_uint_eq(buf[36], 17);
}
END_TEST

/* ---- replies -------------------------------------------------------- */

START_TEST(test_round_trip_gives_assigned_port_address_lifetime_epoch)
{
	struct pcp_map_request req = sample_request(7200);
	struct pcp_map_response resp;
	uint8_t buf[PCP_MAP_LEN];
	size_t n = server_reply(&req, PCP_SUCCESS, 3600, 123456, 40001, "100.128.0.1", buf);

	ck_assert_int_eq(parse_exact(buf, n, &req, &resp), 0);
	ck_assert_uint_eq(resp.result, PCP_SUCCESS);
	ck_assert_uint_eq(resp.lifetime_s, 3600);
	ck_assert_uint_eq(resp.epoch_s, 123456);
	ck_assert_uint_eq(resp.external_port, 40001);
	ck_assert_int_eq(resp.external_is_v4, 1);
	ck_assert_uint_eq(resp.external_v4.s_addr, ip4("100.128.0.1").s_addr);
}
END_TEST

START_TEST(test_ipv6_external_address_is_not_reported_as_ipv4)
{
	struct pcp_map_request req = sample_request(7200);
	struct pcp_map_response resp;
	uint8_t buf[PCP_MAP_LEN];
	size_t n = server_reply(&req, PCP_SUCCESS, 3600, 1, 8080, "100.128.0.1", buf);

	buf[44] = 0x20; /* 2001:... */
	buf[45] = 0x01;
	ck_assert_int_eq(parse_exact(buf, n, &req, &resp), 0);
	ck_assert_int_eq(resp.external_is_v4, 0);
	ck_assert_uint_eq(resp.external_addr[0], 0x20);
}
END_TEST

START_TEST(test_options_after_the_payload_are_accepted)
{
	struct pcp_map_request req = sample_request(7200);
	struct pcp_map_response resp;
	uint8_t buf[PCP_MAP_LEN + 8];
	size_t n = server_reply(&req, PCP_SUCCESS, 3600, 1, 8080, "100.128.0.1", buf);

	/* an optional option (§7.3: code 128..255 may be ignored) */
	memcpy(buf + n, "\x82\x00\x00\x04\x00\x00\x00\x00", 8);
	ck_assert_int_eq(parse_exact(buf, n + 8, &req, &resp), 0);
	ck_assert_uint_eq(resp.external_port, 8080);
}
END_TEST

START_TEST(test_every_truncation_is_refused)
{
	struct pcp_map_request req = sample_request(7200);
	struct pcp_map_response resp;
	uint8_t buf[PCP_MAP_LEN];
	size_t n = server_reply(&req, PCP_SUCCESS, 3600, 1, 8080, "100.128.0.1", buf), len;

	for (len = 0; len < n; len++) {
		memset(&resp, 0x5a, sizeof(resp));
		ck_assert_int_eq(parse_exact(buf, len, &req, &resp), PCP_ERR_TRUNCATED);
		ck_assert_uint_eq(resp.result, 0x5a); /* untouched */
	}
}
END_TEST

START_TEST(test_header_only_error_reply_is_truncated)
{
	struct pcp_map_request req = sample_request(7200);
	struct pcp_map_response resp;
	uint8_t buf[PCP_MAP_LEN];

	/* without the MAP payload there is no nonce to prove the reply ours */
	server_reply(&req, PCP_MALFORMED_REQUEST, 30, 1, 8080, "0.0.0.0", buf);
	ck_assert_int_eq(parse_exact(buf, PCP_HEADER_LEN, &req, &resp), PCP_ERR_TRUNCATED);
}
END_TEST

START_TEST(test_bad_length_is_malformed)
{
	struct pcp_map_request req = sample_request(7200);
	struct pcp_map_response resp;
	uint8_t buf[PCP_MAX_LEN + 4];
	size_t n;

	memset(buf, 0, sizeof(buf));
	n = server_reply(&req, PCP_SUCCESS, 3600, 1, 8080, "100.128.0.1", buf);
	ck_assert_int_eq(parse_exact(buf, n + 1, &req, &resp), PCP_ERR_MALFORMED);
	ck_assert_int_eq(parse_exact(buf, n + 3, &req, &resp), PCP_ERR_MALFORMED);
	ck_assert_int_eq(parse_exact(buf, PCP_MAX_LEN, &req, &resp), 0);
	ck_assert_int_eq(parse_exact(buf, PCP_MAX_LEN + 4, &req, &resp), PCP_ERR_MALFORMED);
}
END_TEST

START_TEST(test_nonce_mismatch_is_refused)
{
	struct pcp_map_request req = sample_request(7200);
	struct pcp_map_response resp;
	uint8_t buf[PCP_MAP_LEN];
	size_t n = server_reply(&req, PCP_SUCCESS, 3600, 1, 8080, "100.128.0.1", buf), i;

	for (i = 0; i < PCP_NONCE_LEN; i++) {
		buf[24 + i] ^= 0x01;
		ck_assert_int_eq(parse_exact(buf, n, &req, &resp), PCP_ERR_NONCE);
		buf[24 + i] ^= 0x01;
	}
	ck_assert_int_eq(parse_exact(buf, n, &req, &resp), 0);
}
END_TEST

START_TEST(test_other_protocol_or_internal_port_is_refused)
{
	struct pcp_map_request req = sample_request(7200);
	struct pcp_map_response resp;
	uint8_t buf[PCP_MAP_LEN];
	size_t n = server_reply(&req, PCP_SUCCESS, 3600, 1, 8080, "100.128.0.1", buf);

	buf[36] = IPPROTO_UDP;
	ck_assert_int_eq(parse_exact(buf, n, &req, &resp), PCP_ERR_MISMATCH);
	buf[36] = IPPROTO_TCP;
	buf[41] ^= 1;
	ck_assert_int_eq(parse_exact(buf, n, &req, &resp), PCP_ERR_MISMATCH);
}
END_TEST

START_TEST(test_wrong_opcode_is_refused)
{
	struct pcp_map_request req = sample_request(7200);
	struct pcp_map_response resp;
	uint8_t buf[PCP_MAP_LEN];
	size_t n = server_reply(&req, PCP_SUCCESS, 3600, 1, 8080, "100.128.0.1", buf);

	buf[1] = 0x80 | 0;	/* ANNOUNCE */
	ck_assert_int_eq(parse_exact(buf, n, &req, &resp), PCP_ERR_OPCODE);
	buf[1] = 0x80 | 2;	/* PEER */
	ck_assert_int_eq(parse_exact(buf, n, &req, &resp), PCP_ERR_OPCODE);
}
END_TEST

START_TEST(test_request_echo_is_not_a_response)
{
	struct pcp_map_request req = sample_request(7200);
	struct pcp_map_response resp;
	uint8_t buf[PCP_MAP_LEN];

	ck_assert_uint_eq(pcp_map_request_build(&req, buf, sizeof(buf)), PCP_MAP_LEN);
	ck_assert_int_eq(parse_exact(buf, sizeof(buf), &req, &resp), PCP_ERR_NOT_RESPONSE);
}
END_TEST

START_TEST(test_other_version_is_refused)
{
	struct pcp_map_request req = sample_request(7200);
	struct pcp_map_response resp;
	uint8_t buf[PCP_MAP_LEN];
	size_t n = server_reply(&req, PCP_SUCCESS, 3600, 1, 8080, "100.128.0.1", buf);

	buf[0] = 1;
	ck_assert_int_eq(parse_exact(buf, n, &req, &resp), PCP_ERR_VERSION);
	buf[0] = 3;
	ck_assert_int_eq(parse_exact(buf, n, &req, &resp), PCP_ERR_VERSION);
}
END_TEST

START_TEST(test_natpmp_version_reply_means_natpmp_only)
{
	/* RFC 6886 §3.5: version 0, opcode 128 + 2 (our MAP byte read as a
	 * NAT-PMP TCP opcode), result 1 "unsupported version", epoch */
	static const uint8_t natpmp[8] = { 0, 0x81, 0, 1, 0, 0, 0x10, 0 };
	struct pcp_map_request req = sample_request(7200);
	struct pcp_map_response resp;
	size_t len;

	ck_assert_int_eq(parse_exact(natpmp, sizeof(natpmp), &req, &resp), PCP_ERR_NATPMP_ONLY);
	/* some send the 12 or 16 bytes of a mapping reply */
	{
		uint8_t longer[16] = { 0, 0x82, 0, 1 };

		ck_assert_int_eq(parse_exact(longer, sizeof(longer), &req, &resp),
				 PCP_ERR_NATPMP_ONLY);
	}
	for (len = 0; len < 4; len++)
		ck_assert_int_eq(parse_exact(natpmp, len, &req, &resp), PCP_ERR_TRUNCATED);
	ck_assert_str_eq(pcp_error_str(PCP_ERR_NATPMP_ONLY),
			 "the router speaks NAT-PMP only (it answered PCP with version 0)");
}
END_TEST

START_TEST(test_error_results_are_returned_with_their_lifetime)
{
	struct pcp_map_request req = sample_request(7200);
	struct pcp_map_response resp;
	uint8_t buf[PCP_MAP_LEN];
	unsigned code;

	for (code = 0; code <= 13; code++) {
		size_t n = server_reply(&req, (uint8_t)code, 30, 7, 8080, "0.0.0.0", buf);

		ck_assert_int_eq(parse_exact(buf, n, &req, &resp), 0);
		ck_assert_uint_eq(resp.result, code);
		ck_assert_uint_eq(resp.lifetime_s, 30);
		ck_assert_uint_eq(resp.epoch_s, 7);
	}
}
END_TEST

/* ---- texts ---------------------------------------------------------- */

START_TEST(test_every_result_code_has_its_own_text)
{
	static const char *const names[] = {
		"SUCCESS", "UNSUPP_VERSION", "NOT_AUTHORIZED", "MALFORMED_REQUEST",
		"UNSUPP_OPCODE", "UNSUPP_OPTION", "MALFORMED_OPTION", "NETWORK_FAILURE",
		"NO_RESOURCES", "UNSUPP_PROTOCOL", "USER_EX_QUOTA", "CANNOT_PROVIDE_EXTERNAL",
		"ADDRESS_MISMATCH", "EXCESSIVE_REMOTE_PEERS",
	};
	unsigned i, j;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		const char *t = pcp_result_str(i);
		size_t nl = strlen(names[i]);

		ck_assert_ptr_nonnull(t);
		ck_assert_int_eq(strncmp(t, names[i], nl), 0);
		ck_assert_uint_gt(strlen(t), nl + 10); /* "NAME: and a why" */
		ck_assert_int_eq(t[nl], ':');
		for (j = 0; j < i; j++)
			ck_assert_str_ne(t, pcp_result_str(j));
	}
	ck_assert_str_eq(pcp_result_str(2), "NOT_AUTHORIZED: the router refuses this mapping");
	ck_assert_str_eq(pcp_result_str(14), "unknown result code");
	ck_assert_str_eq(pcp_result_str(255), "unknown result code");
}
END_TEST

START_TEST(test_every_parse_error_has_its_own_text)
{
	int e, f;

	for (e = PCP_ERR_MISMATCH; e <= PCP_ERR_TRUNCATED; e++) {
		ck_assert_str_ne(pcp_error_str(e), "unknown error");
		for (f = PCP_ERR_MISMATCH; f < e; f++)
			ck_assert_str_ne(pcp_error_str(e), pcp_error_str(f));
	}
	ck_assert_str_eq(pcp_error_str(-99), "unknown error");
}
END_TEST

/* ---- epoch (§8.5) --------------------------------------------------- */

START_TEST(test_epoch_that_keeps_pace_is_valid)
{
	ck_assert_int_eq(pcp_epoch_valid(1000, 50000, 1060, 110000), 1);
	ck_assert_int_eq(pcp_epoch_valid(1000, 50000, 1000, 50500), 1);
	ck_assert_int_eq(pcp_epoch_valid(1000, 50000, 999, 50000), 1); /* 1 s of slack */
	ck_assert_int_eq(pcp_epoch_valid(1000, 0, 4600, 3600000), 1);
}
END_TEST

START_TEST(test_epoch_that_restarts_or_jumps_is_invalid)
{
	ck_assert_int_eq(pcp_epoch_valid(1000, 50000, 10, 60000), 0);	   /* restarted */
	ck_assert_int_eq(pcp_epoch_valid(1000, 50000, 998, 50000), 0);	   /* back 2 s */
	ck_assert_int_eq(pcp_epoch_valid(1000, 0, 1600, 3600000), 0);	   /* too slow */
	ck_assert_int_eq(pcp_epoch_valid(1000, 0, 9000, 3600000), 0);	   /* too fast */
}
END_TEST

/* ---- hostile input -------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

START_TEST(test_mutated_replies_are_safe)
{
	struct pcp_map_request req = sample_request(7200);
	struct pcp_map_response resp;
	uint8_t good[PCP_MAP_LEN + 8], buf[PCP_MAP_LEN + 8];
	uint64_t seed = 6887;
	int i, k;

	memset(good, 0, sizeof(good));
	server_reply(&req, PCP_SUCCESS, 3600, 1, 8080, "100.128.0.1", good);
	for (i = 0; i < 200000; i++) {
		uint64_t r = splitmix64(&seed);
		size_t len = r % sizeof(buf) + 1;
		int rc;

		memcpy(buf, good, sizeof(buf));
		for (k = 0; k < 1 + (int)(r >> 60); k++) {
			uint64_t m = splitmix64(&seed);

			buf[m % sizeof(buf)] ^= (uint8_t)(m >> 8);
		}
		rc = parse_exact(buf, len, &req, &resp);
		if (rc != 0 && (rc < PCP_ERR_MISMATCH || rc > PCP_ERR_TRUNCATED))
			ck_abort_msg("unexpected return %d", rc);
		if (rc == 0 && (len < PCP_MAP_LEN || memcmp(buf + 24, nonce1, PCP_NONCE_LEN)))
			ck_abort_msg("accepted a reply that is not ours");
	}
}
END_TEST

static Suite *pcp_suite(void)
{
	Suite *s = suite_create("pcp");
	TCase *tc = tcase_create("codec");

	tcase_add_test(tc, test_map_request_bytes_follow_rfc6887);
	tcase_add_test(tc, test_delete_request_has_lifetime_zero);
	tcase_add_test(tc, test_request_refuses_a_short_buffer);
	tcase_add_test(tc, test_udp_request_carries_protocol_17);
	tcase_add_test(tc, test_round_trip_gives_assigned_port_address_lifetime_epoch);
	tcase_add_test(tc, test_ipv6_external_address_is_not_reported_as_ipv4);
	tcase_add_test(tc, test_options_after_the_payload_are_accepted);
	tcase_add_test(tc, test_every_truncation_is_refused);
	tcase_add_test(tc, test_header_only_error_reply_is_truncated);
	tcase_add_test(tc, test_bad_length_is_malformed);
	tcase_add_test(tc, test_nonce_mismatch_is_refused);
	tcase_add_test(tc, test_other_protocol_or_internal_port_is_refused);
	tcase_add_test(tc, test_wrong_opcode_is_refused);
	tcase_add_test(tc, test_request_echo_is_not_a_response);
	tcase_add_test(tc, test_other_version_is_refused);
	tcase_add_test(tc, test_natpmp_version_reply_means_natpmp_only);
	tcase_add_test(tc, test_error_results_are_returned_with_their_lifetime);
	tcase_add_test(tc, test_every_result_code_has_its_own_text);
	tcase_add_test(tc, test_every_parse_error_has_its_own_text);
	tcase_add_test(tc, test_epoch_that_keeps_pace_is_valid);
	tcase_add_test(tc, test_epoch_that_restarts_or_jumps_is_invalid);
	tcase_add_test(tc, test_mutated_replies_are_safe);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	log_init(-1);
	sr = srunner_create(pcp_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
