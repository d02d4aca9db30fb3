/* fuzz_pcp.c: the PCP codec (src/pcp.c) on what a router answers.
 *
 * The first byte picks the request (TCP or UDP, a renewal suggesting an
 * address or not), the rest is the router's reply.  A reply that parses
 * answers exactly that request (nonce, protocol, internal port) and its
 * result and error codes have their texts.  The request encoder is run
 * against every buffer size. */
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "fuzz.h"
#include "log.h"
#include "pcp.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static const uint8_t nonce[PCP_NONCE_LEN] = { 0x6f, 0x6d, 0x6e, 0x65, 0x74, 1, 2, 3, 4, 5, 6, 7 };

static struct pcp_map_request request(uint8_t shape)
{
	struct pcp_map_request req;

	memset(&req, 0, sizeof(req));
	memcpy(req.nonce, nonce, PCP_NONCE_LEN);
	req.lifetime_s = shape & 4 ? 0 : 3600;
	inet_pton(AF_INET, "192.0.2.130", &req.client);
	req.proto = shape & 1 ? IPPROTO_UDP : IPPROTO_TCP;
	req.internal_port = 8080;
	req.external_port = shape & 2 ? 8080 : 0;
	if (shape & 2)
		inet_pton(AF_INET, "203.0.113.7", &req.external);
	return req;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pcp_map_request req;
	struct pcp_map_response resp;
	uint8_t buf[PCP_MAP_LEN], *copy;
	size_t cap;
	int r;

	if (size == 0)
		return 0;
	req = request(data[0]);
	cap = data[0] >> 3; /* 0..31: every short buffer, then the full one */
	cap = cap == 31 ? sizeof(buf) : cap;
	CHECK(pcp_map_request_build(&req, buf, cap) == (cap >= PCP_MAP_LEN ? PCP_MAP_LEN : 0));
	copy = malloc(size - 1 ? size - 1 : 1);
	memcpy(copy, data + 1, size - 1);
	memset(&resp, 0xee, sizeof(resp));
	r = pcp_map_response_parse(copy, size - 1, &req, &resp);
	CHECK(r <= 0 && r >= PCP_ERR_MISMATCH);
	CHECK(pcp_error_str(r) != NULL);
	if (r == 0) {
		static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };

		CHECK(size - 1 >= PCP_MAP_LEN && size - 1 <= PCP_MAX_LEN);
		CHECK(memcmp(copy + PCP_HEADER_LEN, nonce, PCP_NONCE_LEN) == 0);
		CHECK(resp.external_is_v4 == (memcmp(resp.external_addr, v4mapped, 12) == 0));
		CHECK(pcp_result_str(resp.result) != NULL);
		pcp_epoch_valid(resp.epoch_s, 1000, resp.epoch_s + 1, 2000);
	}
	free(copy);
	return 0;
}

/* ---- seeds: the replies a router builds from our request (RFC 6887 §8.3:
 * the request copied, R bit, result, lifetime, epoch, assigned values) --- */

static void reply(const char *dir, const char *name, uint8_t shape, uint8_t result,
		  uint32_t lifetime, size_t len, uint8_t version)
{
	struct pcp_map_request req = request(shape);
	uint8_t b[1 + PCP_MAP_LEN + 8] = { 0 };
	uint8_t *p = b + 1;

	b[0] = (uint8_t)(shape | 31 << 3);
	pcp_map_request_build(&req, p, PCP_MAP_LEN);
	p[0] = version;
	p[1] |= 0x80;
	p[3] = result;
	p[4] = (uint8_t)(lifetime >> 24);
	p[5] = (uint8_t)(lifetime >> 16);
	p[6] = (uint8_t)(lifetime >> 8);
	p[7] = (uint8_t)lifetime;
	memset(p + 8, 0, 16); /* epoch 0x0000abcd, reserved */
	p[10] = 0xab;
	p[11] = 0xcd;
	p[42] = 0x1f; /* assigned external port 8080 */
	p[43] = 0x90;
	memset(p + 44, 0, 10);
	p[54] = p[55] = 0xff;
	p[56] = 203, p[57] = 0, p[58] = 113, p[59] = 7;
	fuzz_seed(dir, name, b, 1 + len);
}

static void seeds(const char *dir)
{
	reply(dir, "granted-tcp", 0, PCP_SUCCESS, 3600, PCP_MAP_LEN, PCP_VERSION);
	reply(dir, "granted-udp-renewal", 3, PCP_SUCCESS, 7200, PCP_MAP_LEN, PCP_VERSION);
	reply(dir, "deleted", 4, PCP_SUCCESS, 0, PCP_MAP_LEN, PCP_VERSION);
	reply(dir, "refused", 0, PCP_NOT_AUTHORIZED, 30, PCP_MAP_LEN, PCP_VERSION);
	reply(dir, "with-option-room", 0, PCP_SUCCESS, 3600, PCP_MAP_LEN + 8, PCP_VERSION);
	reply(dir, "header-only", 0, PCP_UNSUPP_OPCODE, 30, PCP_HEADER_LEN, PCP_VERSION);
	reply(dir, "natpmp-only", 0, 1, 0, 8, 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(-1);
	fuzz_make_seeds(argc, argv, seeds);
	return 0;
}
