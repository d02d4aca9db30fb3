/* pcp.c: the PCP MAP codec (RFC 6887), pure.
 *
 * Request (§7.1 header, §11.1 MAP payload), 60 bytes:
 *   0 version=2 | 1 R=0,opcode=1 | 2-3 reserved | 4-7 requested lifetime
 *   8-23 client address | 24-35 nonce | 36 protocol | 37-39 reserved
 *   40-41 internal port | 42-43 suggested external port
 *   44-59 suggested external address
 * Response (§7.2 header, same MAP payload with the assigned values):
 *   0 version | 1 R=1,opcode | 2 reserved | 3 result code | 4-7 lifetime
 *   8-11 epoch time | 12-23 reserved | 24-59 as in the request
 * IPv4 addresses travel IPv4-mapped (::ffff:a.b.c.d, §5). */
#include <string.h>

#include "pcp.h"
#include "util.h"

#define PCP_OPCODE_MAP	1
#define PCP_R_BIT	0x80
/* NAT-PMP (RFC 6886) puts version 0 where PCP puts 2 */
#define NATPMP_VERSION	0
/* a NAT-PMP reply is at least version, opcode and a 16-bit result code */
#define NATPMP_MIN_LEN	4

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* put_mapped() - an IPv4 address as ::ffff:a.b.c.d (16 bytes) */
static void put_mapped(uint8_t *p, struct in_addr a)
{
	memset(p, 0, 10);
	p[10] = 0xff;
	p[11] = 0xff;
	memcpy(p + 12, &a.s_addr, 4);
}

static int is_mapped(const uint8_t *p)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(p, prefix, sizeof(prefix)) == 0;
}

size_t pcp_map_request_build(const struct pcp_map_request *req, uint8_t *buf, size_t cap)
{
	if (cap < PCP_MAP_LEN)
		return 0;
	memset(buf, 0, PCP_MAP_LEN);
	buf[0] = PCP_VERSION;
	buf[1] = PCP_OPCODE_MAP;
	put32(buf + 4, req->lifetime_s);
	put_mapped(buf + 8, req->client);
	memcpy(buf + 24, req->nonce, PCP_NONCE_LEN);
	buf[36] = req->proto;
	put16(buf + 40, req->internal_port);
	put16(buf + 42, req->external_port);
	put_mapped(buf + 44, req->external);
	return PCP_MAP_LEN;
}

/* check_version() - 0 if p starts a PCP version 2 reply; a version-0 reply
 * is the NAT-PMP "unsupported version" answer (RFC 6887 §9, RFC 6886 §3.5),
 * which is shorter than any PCP message, so it is told apart first */
static int check_version(const uint8_t *p, size_t len)
{
	if (len >= 1 && p[0] == NATPMP_VERSION)
		return len >= NATPMP_MIN_LEN ? PCP_ERR_NATPMP_ONLY : PCP_ERR_TRUNCATED;
	if (len < PCP_MAP_LEN)
		return PCP_ERR_TRUNCATED;
	/* §8.3: such replies are invalid and are dropped */
	if (len > PCP_MAX_LEN || len % 4)
		return PCP_ERR_MALFORMED;
	if (p[0] != PCP_VERSION)
		return PCP_ERR_VERSION;
	return 0;
}

int pcp_map_response_parse(const uint8_t *p, size_t len, const struct pcp_map_request *req,
			   struct pcp_map_response *resp)
{
	int err = check_version(p, len);

	if (err)
		return err;
	if (!(p[1] & PCP_R_BIT))
		return PCP_ERR_NOT_RESPONSE;
	if ((p[1] & ~PCP_R_BIT) != PCP_OPCODE_MAP)
		return PCP_ERR_OPCODE;
	if (memcmp(p + 24, req->nonce, PCP_NONCE_LEN) != 0)
		return PCP_ERR_NONCE;
	/* §11.3: the protocol and internal port must be ours as well */
	if (p[36] != req->proto || get16(p + 40) != req->internal_port)
		return PCP_ERR_MISMATCH;
	memset(resp, 0, sizeof(*resp));
	resp->result = p[3];
	resp->lifetime_s = get32(p + 4);
	resp->epoch_s = get32(p + 8);
	resp->external_port = get16(p + 42);
	memcpy(resp->external_addr, p + 44, 16);
	resp->external_is_v4 = is_mapped(p + 44);
	if (resp->external_is_v4)
		memcpy(&resp->external_v4.s_addr, p + 56, 4);
	return 0;
}

static const char *const result_text[] = {
	[PCP_SUCCESS] = "SUCCESS: the mapping is in place",
	[PCP_UNSUPP_VERSION] = "UNSUPP_VERSION: the router does not speak this PCP version",
	[PCP_NOT_AUTHORIZED] = "NOT_AUTHORIZED: the router refuses this mapping",
	[PCP_MALFORMED_REQUEST] = "MALFORMED_REQUEST: the router could not parse the request",
	[PCP_UNSUPP_OPCODE] = "UNSUPP_OPCODE: the router does not support MAP",
	[PCP_UNSUPP_OPTION] = "UNSUPP_OPTION: the router does not support a mandatory option",
	[PCP_MALFORMED_OPTION] = "MALFORMED_OPTION: the router found an option malformed",
	[PCP_NETWORK_FAILURE] = "NETWORK_FAILURE: the router has no working external address now",
	[PCP_NO_RESOURCES] = "NO_RESOURCES: the router is out of mappings or memory",
	[PCP_UNSUPP_PROTOCOL] = "UNSUPP_PROTOCOL: the router cannot map this transport protocol",
	[PCP_USER_EX_QUOTA] = "USER_EX_QUOTA: this host has used up its quota of mappings",
	[PCP_CANNOT_PROVIDE_EXTERNAL] =
		"CANNOT_PROVIDE_EXTERNAL: the router cannot give the suggested external port or address",
	[PCP_ADDRESS_MISMATCH] =
		"ADDRESS_MISMATCH: the request's client address is not its source (a NAT between us and the router?)",
	[PCP_EXCESSIVE_REMOTE_PEERS] =
		"EXCESSIVE_REMOTE_PEERS: the router cannot filter that many remote peers",
};

const char *pcp_result_str(unsigned result)
{
	if (result < ARRAY_SIZE(result_text))
		return result_text[result];
	return "unknown result code";
}

const char *pcp_error_str(int err)
{
	switch (err) {
	case 0:
		return "no error";
	case PCP_ERR_TRUNCATED:
		return "reply truncated";
	case PCP_ERR_MALFORMED:
		return "reply malformed (longer than 1100 bytes or not a multiple of 4)";
	case PCP_ERR_NATPMP_ONLY:
		return "the router speaks NAT-PMP only (it answered PCP with version 0)";
	case PCP_ERR_VERSION:
		return "reply of an unsupported PCP version";
	case PCP_ERR_NOT_RESPONSE:
		return "a request, not a response (R bit clear)";
	case PCP_ERR_OPCODE:
		return "reply to another opcode than MAP";
	case PCP_ERR_NONCE:
		return "reply with another mapping nonce";
	case PCP_ERR_MISMATCH:
		return "reply for another protocol or internal port";
	}
	return "unknown error";
}

int pcp_epoch_valid(uint32_t prev_epoch_s, uint64_t prev_ms, uint32_t epoch_s, uint64_t now_ms)
{
	int64_t client_delta, server_delta;

	/* §8.5: a server epoch more than a second behind the last one seen */
	if ((uint64_t)epoch_s + 1 < prev_epoch_s)
		return 0;
	client_delta = (int64_t)((now_ms - prev_ms) / 1000);
	server_delta = (int64_t)epoch_s - prev_epoch_s;
	/* the two clocks may drift apart by 1/16 and 2 s of rounding, no more */
	if (client_delta + 2 < server_delta - server_delta / 16)
		return 0;
	if (server_delta + 2 < client_delta - client_delta / 16)
		return 0;
	return 1;
}
