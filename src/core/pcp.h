/* pcp.h: a sans-I/O codec for the Port Control Protocol's MAP opcode
 * (RFC 6887), IPv4 only.
 *
 * pcp_map_request_build() writes the datagram the glue sends to the
 * gateway's port 5351; pcp_map_response_parse() checks a reply against the
 * request it answers.  No sockets, no clock: retransmission and the
 * deadline are the caller's (portmap_pcp.c). */
#ifndef OMNET_PCP_H
#define OMNET_PCP_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define PCP_SERVER_PORT		5351	/* RFC 6887 §19.1 */
#define PCP_VERSION		2
#define PCP_NONCE_LEN		12
#define PCP_HEADER_LEN		24	/* §7.1, §7.2 */
#define PCP_MAP_PAYLOAD_LEN	36	/* §11.1 */
#define PCP_MAP_LEN		(PCP_HEADER_LEN + PCP_MAP_PAYLOAD_LEN)
#define PCP_MAX_LEN		1100	/* §7: no PCP message is longer */

/* Result codes, RFC 6887 §7.4 */
enum pcp_result {
	PCP_SUCCESS = 0,
	PCP_UNSUPP_VERSION = 1,
	PCP_NOT_AUTHORIZED = 2,
	PCP_MALFORMED_REQUEST = 3,
	PCP_UNSUPP_OPCODE = 4,
	PCP_UNSUPP_OPTION = 5,
	PCP_MALFORMED_OPTION = 6,
	PCP_NETWORK_FAILURE = 7,
	PCP_NO_RESOURCES = 8,
	PCP_UNSUPP_PROTOCOL = 9,
	PCP_USER_EX_QUOTA = 10,
	PCP_CANNOT_PROVIDE_EXTERNAL = 11,
	PCP_ADDRESS_MISMATCH = 12,
	PCP_EXCESSIVE_REMOTE_PEERS = 13,
};

/* Why a reply is not an answer to our request (pcp_map_response_parse()) */
enum pcp_parse_error {
	PCP_ERR_TRUNCATED = -1,	   /* shorter than a MAP response */
	PCP_ERR_MALFORMED = -2,	   /* longer than 1100 bytes or not a multiple of 4 (§8.3) */
	PCP_ERR_NATPMP_ONLY = -3,  /* version 0: the router speaks NAT-PMP, not PCP (§9) */
	PCP_ERR_VERSION = -4,	   /* any other version but 2 */
	PCP_ERR_NOT_RESPONSE = -5, /* R bit clear: a request, perhaps our own echoed */
	PCP_ERR_OPCODE = -6,	   /* not MAP */
	PCP_ERR_NONCE = -7,	   /* answers another request (§11.3: the nonce must match) */
	PCP_ERR_MISMATCH = -8,	   /* our nonce but another protocol or internal port */
};

/* What a MAP request asks for.  The nonce stays the same for the life of
 * the mapping: renewals and the delete must repeat it (§11.2, §15). */
struct pcp_map_request {
	uint8_t nonce[PCP_NONCE_LEN];
	uint32_t lifetime_s;	    /* 0 deletes the mapping (§15) */
	struct in_addr client;	    /* our address as the gateway sees it (§8.1) */
	uint8_t proto;		    /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t internal_port;
	uint16_t external_port;	    /* suggested; 0: any */
	struct in_addr external;    /* suggested; INADDR_ANY: any */
};

struct pcp_map_response {
	uint8_t result;		    /* enum pcp_result */
	uint32_t lifetime_s;	    /* granted; on an error, how long the error lasts */
	uint32_t epoch_s;	    /* server epoch time (§8.5) */
	uint16_t external_port;	    /* assigned */
	uint8_t external_addr[16];  /* assigned, as sent */
	int external_is_v4;	    /* external_addr is IPv4-mapped */
	struct in_addr external_v4; /* then the address */
};

/* pcp_map_request_build() - write req into buf (cap bytes); the datagram's
 * length (PCP_MAP_LEN), or 0 if it does not fit */
size_t pcp_map_request_build(const struct pcp_map_request *req, uint8_t *buf, size_t cap);

/* pcp_map_response_parse() - check that p (len bytes) is the reply to req
 * and fill resp; 0 (resp->result then says whether the router agreed), or
 * an enum pcp_parse_error, resp untouched */
int pcp_map_response_parse(const uint8_t *p, size_t len, const struct pcp_map_request *req,
			   struct pcp_map_response *resp);

/* pcp_result_str() - "NAME: what it means" for a result code */
const char *pcp_result_str(unsigned result);
/* pcp_error_str() - what an enum pcp_parse_error means */
const char *pcp_error_str(int err);

/* pcp_epoch_valid() - whether the server kept its state between two
 * replies (§8.5): prev_epoch_s at prev_ms, epoch_s now at now_ms.  0 means
 * it restarted and lost our mappings. */
int pcp_epoch_valid(uint32_t prev_epoch_s, uint64_t prev_ms, uint32_t epoch_s, uint64_t now_ms);

#endif
