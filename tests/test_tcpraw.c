/* test_tcpraw.c: SYN and echo request parsing, checksum repair, RST, ICMP
 * unreachable and echo reply building, against packets whose bytes were computed independently (a
 * Python reference while writing the test) and an independent checksum
 * written here. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "tcpraw.h"
#include "util.h"

/* 10.0.2.15:40000 -> 198.51.100.7:80, SYN, seq 0x12345678, window 64240,
 * options MSS 1460, SACK permitted, timestamps, NOP, window scale 7; IP ID
 * 0x1c46, DF, TTL 64.  Checksums correct. */
static const uint8_t syn_ref[60] = {
	0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0xe8, 0x2c,
	0x0a, 0x00, 0x02, 0x0f, 0xc6, 0x33, 0x64, 0x07, 0x9c, 0x40, 0x00, 0x50,
	0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0,
	0x2f, 0x47, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a,
	0x00, 0x01, 0xe2, 0x40, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
};
/* What checksum offload leaves in syn_ref's TCP checksum field: the folded
 * pseudo-header sum, not complemented (CHECKSUM_PARTIAL). */
#define SYN_REF_PARTIAL_SUM 0x3678

/* Same flow, PSH|ACK with "hello": an odd-length segment. */
static const uint8_t odd_ref[45] = {
	0x45, 0x00, 0x00, 0x2d, 0x1c, 0x47, 0x40, 0x00, 0x40, 0x06, 0xe8, 0x3a,
	0x0a, 0x00, 0x02, 0x0f, 0xc6, 0x33, 0x64, 0x07, 0x9c, 0x40, 0x00, 0x50,
	0x12, 0x34, 0x56, 0x79, 0xab, 0xcd, 0xef, 0x01, 0x50, 0x18, 0x01, 0xf6,
	0x93, 0xa8, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
};

/* The RST|ACK answering syn_ref: 198.51.100.7:80 -> 10.0.2.15:40000,
 * seq 0, ack 0x12345679, window 0, DF, ID 0, TTL 64. */
static const uint8_t rst_ref[40] = {
	0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x04, 0x87,
	0xc6, 0x33, 0x64, 0x07, 0x0a, 0x00, 0x02, 0x0f, 0x00, 0x50, 0x9c, 0x40,
	0x00, 0x00, 0x00, 0x00, 0x12, 0x34, 0x56, 0x79, 0x50, 0x14, 0x00, 0x00,
	0x74, 0x49, 0x00, 0x00,
};

/* ICMP administratively prohibited (3/13) for syn_ref from 10.0.2.2:
 * TOS 0xc0, DF, ID 0, TTL 64, quoting 20 + 8 octets. */
static const uint8_t icmp_ref[56] = {
	0x45, 0xc0, 0x00, 0x38, 0x00, 0x00, 0x40, 0x00, 0x40, 0x01, 0x21, 0xf5,
	0x0a, 0x00, 0x02, 0x02, 0x0a, 0x00, 0x02, 0x0f, 0x03, 0x0d, 0xf7, 0xb5,
	0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00,
	0x40, 0x06, 0xe8, 0x2c, 0x0a, 0x00, 0x02, 0x0f, 0xc6, 0x33, 0x64, 0x07,
	0x9c, 0x40, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78,
};

/* 10.0.2.15 -> 198.51.100.10, ICMP echo request, identifier 0x1234,
 * sequence 1, data "abcdefgh"; IP ID 0x1c46, DF, TTL 64.  Checksums
 * correct. */
static const uint8_t echo_ref[36] = {
	0x45, 0x00, 0x00, 0x24, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01, 0xe8, 0x46,
	0x0a, 0x00, 0x02, 0x0f, 0xc6, 0x33, 0x64, 0x0a, 0x08, 0x00, 0x54, 0x35,
	0x12, 0x34, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
};

/* Its reply as the VM gets it: 198.51.100.10 -> 10.0.2.15, echo reply,
 * identifier 0x1234, sequence 1, the same data; DF, ID 0, TTL 64. */
static const uint8_t echo_reply_ref[36] = {
	0x45, 0x00, 0x00, 0x24, 0x00, 0x00, 0x40, 0x00, 0x40, 0x01, 0x04, 0x8d,
	0xc6, 0x33, 0x64, 0x0a, 0x0a, 0x00, 0x02, 0x0f, 0x00, 0x00, 0x5c, 0x35,
	0x12, 0x34, 0x00, 0x01, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
};

/* Port unreachable (3/3) from 198.51.100.10 to 10.0.2.15 about its UDP
 * datagram 10.0.2.15:40000 -> 198.51.100.10:9: TOS 0xc0, DF, ID 0, TTL 64;
 * the quoted header rebuilt (28 octets, DF, TTL 64) and the UDP header
 * (length 8, checksum 0). */
static const uint8_t port_unreach_ref[56] = {
	0x45, 0xc0, 0x00, 0x38, 0x00, 0x00, 0x40, 0x00, 0x40, 0x01, 0x03, 0xb9,
	0xc6, 0x33, 0x64, 0x0a, 0x0a, 0x00, 0x02, 0x0f, 0x03, 0x03, 0x60, 0xab,
	0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x40, 0x00,
	0x40, 0x11, 0x04, 0x85, 0x0a, 0x00, 0x02, 0x0f, 0xc6, 0x33, 0x64, 0x0a,
	0x9c, 0x40, 0x00, 0x09, 0x00, 0x08, 0x00, 0x00,
};

static const uint8_t gw[4] = { 10, 0, 2, 2 };

/* --- IPv6 reference packets ---
 *
 * Computed with a python3 script written for this test, independent of
 * tcpraw.c: struct.pack for the headers (RFC 8200 3, RFC 9293 3.1, RFC
 * 4443), the RFC 1071 sum over the RFC 8200 8.1 pseudo-header for the TCP
 * and ICMPv6 checksums.  Addresses: the VM fd00::15, its gateway fd00::2,
 * far hosts 2001:db8::7 and 2001:db8::a. */

/* [fd00::15]:40000 -> [2001:db8::7]:80, SYN, seq 0x12345678, window 64800,
 * options MSS 1440, SACK permitted, timestamps, NOP, window scale 7; flow
 * label 0xabcde, hop limit 64.  TCP checksum correct. */
static const uint8_t syn6_ref[80] = {
	0x60, 0x0a, 0xbc, 0xde, 0x00, 0x28, 0x06, 0x40, 0xfd, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x15,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x07, 0x9c, 0x40, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78,
	0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfd, 0x20, 0x38, 0x9f, 0x00, 0x00,
	0x02, 0x04, 0x05, 0xa0, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x01, 0xe2, 0x40,
	0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
};
/* What checksum offload leaves in syn6_ref's TCP checksum field: the folded
 * pseudo-header sum, not complemented. */
#define SYN6_REF_PARTIAL_SUM 0x2b04

/* The RST|ACK answering syn6_ref: [2001:db8::7]:80 -> [fd00::15]:40000,
 * seq 0, ack 0x12345679, window 0; traffic class and flow label 0, hop
 * limit 64. */
static const uint8_t rst6_ref[60] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x14, 0x06, 0x40, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
	0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x15, 0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x00,
	0x12, 0x34, 0x56, 0x79, 0x50, 0x14, 0x00, 0x00, 0x7f, 0xbd, 0x00, 0x00,
};

/* ICMPv6 administratively prohibited (1/1) for syn6_ref from fd00::2,
 * quoting all of it; hop limit 64. */
static const uint8_t unreach6_ref[128] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x58, 0x3a, 0x40, 0xfd, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
	0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x15, 0x01, 0x01, 0xe1, 0x30, 0x00, 0x00, 0x00, 0x00,
	0x60, 0x0a, 0xbc, 0xde, 0x00, 0x28, 0x06, 0x40, 0xfd, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x15,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x07, 0x9c, 0x40, 0x00, 0x50, 0x12, 0x34, 0x56, 0x78,
	0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfd, 0x20, 0x38, 0x9f, 0x00, 0x00,
	0x02, 0x04, 0x05, 0xa0, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x01, 0xe2, 0x40,
	0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
};

/* ICMPv6 port unreachable (1/4) from 2001:db8::a to fd00::15 about its UDP
 * datagram [fd00::15]:40000 -> [2001:db8::a]:9: the quoted header rebuilt
 * (payload length 8, hop limit 64) and the UDP header (length 8, checksum
 * 0). */
static const uint8_t port_unreach6_ref[96] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x38, 0x3a, 0x40, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a,
	0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x15, 0x01, 0x04, 0x9b, 0x3d, 0x00, 0x00, 0x00, 0x00,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x11, 0x40, 0xfd, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x15,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x0a, 0x9c, 0x40, 0x00, 0x09, 0x00, 0x08, 0x00, 0x00,
};

/* ICMPv6 address unreachable (1/3) from fd00::2 to fd00::15 about its echo
 * request to 2001:db8::a, identifier 0x1234, sequence 7: the quoted header
 * rebuilt and the echo header (checksum 0). */
static const uint8_t echo_unreach6_ref[96] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x38, 0x3a, 0x40, 0xfd, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
	0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x15, 0x01, 0x03, 0xad, 0x14, 0x00, 0x00, 0x00, 0x00,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x08, 0x3a, 0x40, 0xfd, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x15,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x0a, 0x80, 0x00, 0x00, 0x00, 0x12, 0x34, 0x00, 0x07,
};

/* fd00::15 -> 2001:db8::a, ICMPv6 echo request, identifier 0x1234,
 * sequence 1, data "abcdefgh"; flow label 0x12345, hop limit 64.  Checksum
 * correct. */
static const uint8_t echo6_ref[56] = {
	0x60, 0x01, 0x23, 0x45, 0x00, 0x10, 0x3a, 0x40, 0xfd, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x15,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x0a, 0x80, 0x00, 0xb1, 0x11, 0x12, 0x34, 0x00, 0x01,
	0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
};

/* Its reply as the VM gets it: 2001:db8::a -> fd00::15, echo reply (129),
 * identifier 0x1234, sequence 1, the same data; hop limit 64. */
static const uint8_t echo_reply6_ref[56] = {
	0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x3a, 0x40, 0x20, 0x01, 0x0d, 0xb8,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a,
	0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x15, 0x81, 0x00, 0xb0, 0x11, 0x12, 0x34, 0x00, 0x01,
	0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
};

static const uint8_t gw6[16] = { 0xfd, [15] = 2 };

/* --- an independent checksum, to verify what tcpraw writes --- */

/* ref_sum() - the 16-bit ones' complement sum (not complemented) of data
 * plus start, computed the slow way */
static uint32_t ref_sum(const uint8_t *data, size_t len, uint32_t start)
{
	uint32_t sum = start;
	size_t i;

	for (i = 0; i < len; i++) {
		sum += (i % 2) ? data[i] : (uint32_t)data[i] << 8;
		if (sum > 0xffff)
			sum = (sum & 0xffff) + (sum >> 16);
	}
	while (sum > 0xffff)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static size_t ihl_of(const uint8_t *ip)
{
	return (size_t)(ip[0] & 0x0f) * 4;
}

static size_t tot_of(const uint8_t *ip)
{
	return (size_t)ip[2] << 8 | ip[3];
}

/* ip_sum_ok() - a correct header checksum makes the header sum 0xffff */
static int ip_sum_ok(const uint8_t *ip)
{
	return ref_sum(ip, ihl_of(ip), 0) == 0xffff;
}

/* tcp_sum_ok() - the same over pseudo-header and segment (RFC 9293 3.1) */
static int tcp_sum_ok(const uint8_t *ip)
{
	size_t seg = tot_of(ip) - ihl_of(ip);
	uint32_t pseudo = ref_sum(ip + 12, 8, 0) + 6 + (uint32_t)seg;

	return ref_sum(ip + ihl_of(ip), seg, pseudo) == 0xffff;
}

/* ip_resum() - fix only the IP header checksum, for tests that mutate a
 * header and must get past the checksum check */
static void ip_resum(uint8_t *ip, size_t ihl)
{
	uint16_t c;

	ip[10] = ip[11] = 0;
	c = (uint16_t)~ref_sum(ip, ihl, 0);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
}

/* heap_copy() - exactly len octets of pkt on the heap, so the sanitizer
 * catches a parser's read past the end */
static uint8_t *heap_copy(const uint8_t *pkt, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, pkt, len);
	return copy;
}

/* parse_exact() - tcpraw_parse_syn() on a heap copy of exactly len octets */
static int parse_exact(const uint8_t *pkt, size_t len, struct syn_info *out)
{
	uint8_t *copy = heap_copy(pkt, len);
	int r = tcpraw_parse_syn(copy, len, out);

	free(copy);
	return r;
}

/* --- IPv6 helpers, independent of tcpraw.c --- */

static size_t plen_of(const uint8_t *ip6)
{
	return (size_t)ip6[4] << 8 | ip6[5];
}

/* l4_sum6_ok() - the TCP or ICMPv6 checksum of an IPv6 packet with no
 * extension header verifies: over the RFC 8200 8.1 pseudo-header and the
 * payload the sum is 0xffff */
static int l4_sum6_ok(const uint8_t *ip)
{
	uint32_t pseudo = ref_sum(ip + 8, 32, 0) + ip[6] + (uint32_t)plen_of(ip);

	return ref_sum(ip + 40, plen_of(ip), pseudo) == 0xffff;
}

/* pseudo6_checksum() - inet_checksum() over the pseudo-header written out
 * octet by octet as RFC 8200 8.1 draws it (source, destination, 32-bit
 * upper-layer length, three zeros, next header) followed by the payload:
 * 0 if the payload's checksum is right */
static uint16_t pseudo6_checksum(const uint8_t *ip)
{
	uint8_t buf[40 + TCPRAW_ICMP_MAX];
	size_t plen = plen_of(ip);

	ck_assert_uint_le(plen, TCPRAW_ICMP_MAX);
	memcpy(buf, ip + 8, 32);
	buf[32] = buf[33] = 0;
	buf[34] = (uint8_t)(plen >> 8);
	buf[35] = (uint8_t)plen;
	buf[36] = buf[37] = buf[38] = 0;
	buf[39] = ip[6];
	memcpy(buf + 40, ip + 40, plen);
	return inet_checksum(buf, 40 + plen, 0);
}

/* parse6_with() - syn6_ref with the octet at off set to v, parsed */
static int parse6_with(size_t off, uint8_t v)
{
	uint8_t p[sizeof(syn6_ref)];
	struct syn_info s;

	memcpy(p, syn6_ref, sizeof(p));
	p[off] = v;
	return parse_exact(p, sizeof(p), &s);
}

/* syn6_with_data() - syn6_ref with n octets of data appended, payload
 * length and TCP checksum fixed (by tcpraw: the tests check it) */
static size_t syn6_with_data(uint8_t *p, size_t n)
{
	size_t tot = sizeof(syn6_ref) + n;

	memcpy(p, syn6_ref, sizeof(syn6_ref));
	memset(p + sizeof(syn6_ref), 'd', n);
	p[4] = (uint8_t)((tot - 40) >> 8);
	p[5] = (uint8_t)(tot - 40);
	tcpraw_fix_checksums(p, tot);
	return tot;
}

/* --- inet_checksum --- */

START_TEST(test_checksum_known_answers)
{
	/* the IPv4 header example often quoted, checksum field zeroed */
	static const uint8_t hdr[20] = {
		0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
		0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
	};
	/* RFC 1071 3: the example bytes sum to 0xddf2 */
	static const uint8_t rfc1071[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	static const uint8_t one = 0x01;

	ck_assert_uint_eq(inet_checksum(hdr, sizeof(hdr), 0), 0xb861);
	ck_assert_uint_eq(inet_checksum(rfc1071, sizeof(rfc1071), 0), (uint16_t)~0xddf2);
	ck_assert_uint_eq(inet_checksum(&one, 1, 0), 0xfeff); /* padded: 0x0100 */
	ck_assert_uint_eq(inet_checksum(NULL, 0, 0), 0xffff);
	ck_assert_uint_eq(inet_checksum(NULL, 0, 0x1fffe), 0x0000); /* folds to 0xffff */
	ck_assert_uint_eq(inet_checksum(rfc1071, 4, 0xf4f5 + 0xf6f7), (uint16_t)~0xddf2);
	/* over data holding its own correct checksum: 0 */
	ck_assert_uint_eq(inet_checksum(syn_ref, 20, 0), 0);
}
END_TEST

START_TEST(test_checksum_matches_reference_on_random_data)
{
	uint8_t buf[1501];
	uint32_t x = 12345;
	size_t len, i;

	for (len = 0; len <= sizeof(buf); len += 7) {
		for (i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (uint8_t)(x >> 16);
		}
		ck_assert_uint_eq(inet_checksum(buf, len, len * 977),
				  (uint16_t)~ref_sum(buf, len, (uint32_t)(len * 977)));
	}
}
END_TEST

/* --- parsing --- */

START_TEST(test_parse_syn_with_options)
{
	struct syn_info s;
	char buf[ADDRSTRLEN];

	ck_assert_int_eq(parse_exact(syn_ref, sizeof(syn_ref), &s), 0);
	ck_assert_str_eq(ipport_fmt(&s.src, buf), "10.0.2.15:40000");
	ck_assert_str_eq(ipport_fmt(&s.dst, buf), "198.51.100.7:80");
	ck_assert_uint_eq(s.src.family, AF_INET);
	ck_assert_uint_eq(s.dst.port, 80);
	ck_assert_uint_eq(s.seq, 0x12345678);
	ck_assert_uint_eq(s.len, sizeof(syn_ref));
	ck_assert_mem_eq(s.pkt, syn_ref, sizeof(syn_ref));
}
END_TEST

START_TEST(test_parse_accepts_offloaded_tcp_checksum)
{
	uint8_t p[60];
	struct syn_info s;

	memcpy(p, syn_ref, sizeof(p));
	p[36] = SYN_REF_PARTIAL_SUM >> 8;
	p[37] = SYN_REF_PARTIAL_SUM & 0xff;
	ck_assert_int_eq(parse_exact(p, sizeof(p), &s), 0);
	ck_assert_mem_eq(s.pkt, p, sizeof(p)); /* kept as it came */
}
END_TEST

START_TEST(test_parse_ignores_link_padding)
{
	uint8_t p[70];
	struct syn_info s;

	memset(p, 0, sizeof(p));
	memcpy(p, syn_ref, sizeof(syn_ref));
	ck_assert_int_eq(parse_exact(p, sizeof(p), &s), 0);
	ck_assert_uint_eq(s.len, sizeof(syn_ref));
}
END_TEST

START_TEST(test_parse_accepts_ip_options)
{
	uint8_t p[64];
	struct syn_info s;

	/* IHL 6 with a Router Alert option (RFC 2113) before the TCP header */
	memcpy(p, syn_ref, 20);
	p[0] = 0x46;
	p[3] = 64;
	p[20] = 0x94;
	p[21] = 0x04;
	p[22] = p[23] = 0;
	memcpy(p + 24, syn_ref + 20, 40);
	ip_resum(p, 24);
	ck_assert_int_eq(parse_exact(p, sizeof(p), &s), 0);
	ck_assert_uint_eq(s.len, 64);
	ck_assert_uint_eq(s.seq, 0x12345678);
	ck_assert_uint_eq(s.src.port, 40000);
	ck_assert_uint_eq(s.dst.port, 80);
}
END_TEST

START_TEST(test_parse_rejects_wrong_flags)
{
	/* SYN-ACK, RST, SYN|RST, SYN|FIN, ACK, none, FIN, SYN|ACK|PSH */
	static const uint8_t bad[] = { 0x12, 0x04, 0x06, 0x03, 0x10, 0x00, 0x01, 0x1a };
	/* flags that do not matter for a SYN: PSH, URG, ECE, CWR (ECN setup) */
	static const uint8_t good[] = { 0x02, 0x0a, 0x22, 0xc2 };
	uint8_t p[60];
	struct syn_info s;
	size_t i;

	memcpy(p, syn_ref, sizeof(p));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		p[33] = bad[i];
		ck_assert_msg(parse_exact(p, sizeof(p), &s) == -1, "flags 0x%02x parsed", bad[i]);
	}
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		p[33] = good[i];
		ck_assert_msg(parse_exact(p, sizeof(p), &s) == 0, "flags 0x%02x refused", good[i]);
	}
}
END_TEST

START_TEST(test_parse_rejects_every_truncation)
{
	struct syn_info s;
	size_t len;

	for (len = 0; len < sizeof(syn_ref); len++)
		ck_assert_msg(parse_exact(syn_ref, len, &s) == -1, "%zu octets parsed", len);
}
END_TEST

START_TEST(test_parse_rejects_short_total_length)
{
	uint8_t p[60];
	struct syn_info s;
	size_t tot;

	/* the buffer is complete but the IP total length claims less */
	for (tot = 0; tot < sizeof(p); tot++) {
		memcpy(p, syn_ref, sizeof(p));
		p[2] = (uint8_t)(tot >> 8);
		p[3] = (uint8_t)tot;
		ip_resum(p, 20);
		ck_assert_msg(parse_exact(p, sizeof(p), &s) == -1, "total length %zu parsed", tot);
	}
}
END_TEST

START_TEST(test_parse_rejects_bad_ihl_and_version)
{
	static const uint8_t vhl[] = { 0x40, 0x41, 0x44, 0x4f, 0x4e, 0x65, 0x55, 0x05 };
	uint8_t p[60];
	struct syn_info s;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vhl); i++) {
		memcpy(p, syn_ref, sizeof(p));
		p[0] = vhl[i];
		ip_resum(p, 20);
		ck_assert_msg(parse_exact(p, sizeof(p), &s) == -1, "vhl 0x%02x parsed", vhl[i]);
	}
	/* IHL 4: a 16-octet "header" followed by a plausible TCP SYN, the
	 * checksum right over those 16 octets; the addresses would overlap TCP */
	memset(p, 0, sizeof(p));
	p[0] = 0x44;
	p[3] = 36;
	p[8] = 64;
	p[9] = 6;
	memcpy(p + 16, syn_ref + 20, 20);
	p[16 + 12] = 5 << 4;
	ip_resum(p, 16);
	ck_assert_int_eq(parse_exact(p, 36, &s), -1);
}
END_TEST

START_TEST(test_parse_rejects_bad_data_offset)
{
	/* 0-4 below the minimum, 11-15 past the 40-octet segment */
	static const uint8_t doff[] = { 0, 1, 4, 11, 12, 15 };
	uint8_t p[60];
	struct syn_info s;
	size_t i;

	memcpy(p, syn_ref, sizeof(p));
	for (i = 0; i < ARRAY_SIZE(doff); i++) {
		p[32] = (uint8_t)(doff[i] << 4);
		ck_assert_msg(parse_exact(p, sizeof(p), &s) == -1, "doff %u parsed", doff[i]);
	}
	p[32] = 5 << 4; /* options become data: still a SYN (Fast Open carries data) */
	ck_assert_int_eq(parse_exact(p, sizeof(p), &s), 0);
}
END_TEST

START_TEST(test_parse_rejects_fragments)
{
	/* MF; offset 1; offset max; MF|DF; plain DF and nothing are fine */
	static const uint16_t bad[] = { 0x2000, 0x0001, 0x1fff, 0x6000, 0x4001 };
	static const uint16_t good[] = { 0x4000, 0x0000 };
	uint8_t p[60];
	struct syn_info s;
	size_t i;

	memcpy(p, syn_ref, sizeof(p));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		p[6] = (uint8_t)(bad[i] >> 8);
		p[7] = (uint8_t)bad[i];
		ip_resum(p, 20);
		ck_assert_msg(parse_exact(p, sizeof(p), &s) == -1, "frag 0x%04x parsed", bad[i]);
	}
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		p[6] = (uint8_t)(good[i] >> 8);
		p[7] = (uint8_t)good[i];
		ip_resum(p, 20);
		ck_assert_msg(parse_exact(p, sizeof(p), &s) == 0, "frag 0x%04x refused", good[i]);
	}
}
END_TEST

START_TEST(test_parse_rejects_non_tcp)
{
	static const uint8_t protos[] = { 0, 1, 17, 41, 132, 255 };
	uint8_t p[60];
	struct syn_info s;
	size_t i;

	memcpy(p, syn_ref, sizeof(p));
	for (i = 0; i < ARRAY_SIZE(protos); i++) {
		p[9] = protos[i];
		ip_resum(p, 20);
		ck_assert_msg(parse_exact(p, sizeof(p), &s) == -1, "proto %u parsed", protos[i]);
	}
}
END_TEST

START_TEST(test_parse_rejects_bad_header_checksum)
{
	uint8_t p[60];
	struct syn_info s;

	memcpy(p, syn_ref, sizeof(p));
	p[11] ^= 1;
	ck_assert_int_eq(parse_exact(p, sizeof(p), &s), -1);
	memcpy(p, syn_ref, sizeof(p));
	p[8] = 63; /* TTL changed, checksum not */
	ck_assert_int_eq(parse_exact(p, sizeof(p), &s), -1);
}
END_TEST

START_TEST(test_parse_rejects_zero_ports)
{
	uint8_t p[60];
	struct syn_info s;

	memcpy(p, syn_ref, sizeof(p));
	p[20] = p[21] = 0;
	ck_assert_int_eq(parse_exact(p, sizeof(p), &s), -1);
	memcpy(p, syn_ref, sizeof(p));
	p[22] = p[23] = 0;
	ck_assert_int_eq(parse_exact(p, sizeof(p), &s), -1);
}
END_TEST

/* syn_with_data() - syn_ref with n octets of data appended, checksums fixed */
static size_t syn_with_data(uint8_t *p, size_t n)
{
	size_t tot = sizeof(syn_ref) + n;

	memcpy(p, syn_ref, sizeof(syn_ref));
	memset(p + sizeof(syn_ref), 'd', n);
	p[2] = (uint8_t)(tot >> 8);
	p[3] = (uint8_t)tot;
	tcpraw_fix_checksums(p, tot);
	return tot;
}

START_TEST(test_parse_bounds_held_packet_size)
{
	uint8_t p[256];
	struct syn_info s;
	size_t tot;

	tot = syn_with_data(p, TCPRAW_SYN_MAX - sizeof(syn_ref));
	ck_assert_int_eq(parse_exact(p, tot, &s), 0);
	ck_assert_uint_eq(s.len, TCPRAW_SYN_MAX);
	tot = syn_with_data(p, TCPRAW_SYN_MAX - sizeof(syn_ref) + 1);
	ck_assert_int_eq(parse_exact(p, tot, &s), -1);
}
END_TEST

START_TEST(test_parse_survives_mutations)
{
	uint8_t p[60];
	struct syn_info s;
	uint32_t x = 777;
	int i, j, ok = 0;

	for (i = 0; i < 20000; i++) {
		memcpy(p, syn_ref, sizeof(p));
		for (j = 0; j < 1 + i % 4; j++) {
			x = x * 1103515245u + 12345u;
			p[(x >> 8) % sizeof(p)] ^= (uint8_t)(1u << ((x >> 20) % 8));
		}
		if (i % 3 == 0)
			ip_resum(p, 20);
		x = x * 1103515245u + 12345u;
		if (parse_exact(p, (x >> 8) % (sizeof(p) + 1), &s) == 0) {
			ok++;
			ck_assert_uint_le(s.len, TCPRAW_SYN_MAX);
			ck_assert_uint_eq(s.pkt[0] >> 4, 4);
			ck_assert_uint_eq(s.pkt[9], 6);
			ck_assert(ip_sum_ok(s.pkt));
		}
	}
	ck_assert_int_gt(ok, 0);
}
END_TEST

/* --- checksum repair --- */

START_TEST(test_fix_checksums_restores_known_good)
{
	uint8_t p[60];

	memcpy(p, syn_ref, sizeof(p));
	p[10] = p[11] = 0;
	p[36] = SYN_REF_PARTIAL_SUM >> 8;
	p[37] = SYN_REF_PARTIAL_SUM & 0xff;
	tcpraw_fix_checksums(p, sizeof(p));
	ck_assert_mem_eq(p, syn_ref, sizeof(p));
	ck_assert(ip_sum_ok(p));
	ck_assert(tcp_sum_ok(p));
	/* a rewritten header (TTL, addresses) gets sums that verify */
	p[8] = 63;
	p[16] = 203;
	tcpraw_fix_checksums(p, sizeof(p));
	ck_assert(ip_sum_ok(p));
	ck_assert(tcp_sum_ok(p));
	ck_assert_uint_eq(inet_checksum(p, 20, 0), 0);
}
END_TEST

START_TEST(test_fix_checksums_odd_length)
{
	uint8_t p[46];

	memcpy(p, odd_ref, sizeof(odd_ref));
	p[10] = 0xde;
	p[11] = 0xad;
	p[36] = 0xbe;
	p[37] = 0xef;
	p[45] = 0x55; /* past the total length: must not count */
	tcpraw_fix_checksums(p, sizeof(p));
	ck_assert_mem_eq(p, odd_ref, sizeof(odd_ref));
	ck_assert(tcp_sum_ok(p));
}
END_TEST

START_TEST(test_fix_checksums_every_segment_length)
{
	uint8_t p[20 + 60 + 1500];
	uint32_t x = 99;
	size_t data, i;

	for (data = 0; data <= 1500; data += (data < 64 ? 1 : 37)) {
		size_t tot = 20 + 20 + data;

		for (i = 0; i < tot; i++) {
			x = x * 1103515245u + 12345u;
			p[i] = (uint8_t)(x >> 16);
		}
		p[0] = 0x45;
		p[2] = (uint8_t)(tot >> 8);
		p[3] = (uint8_t)tot;
		p[6] &= 0x40; /* no fragment bits but maybe DF */
		p[7] = 0;
		p[9] = 6;
		p[32] = 5 << 4;
		tcpraw_fix_checksums(p, tot);
		ck_assert_msg(ip_sum_ok(p) && tcp_sum_ok(p), "data length %zu", data);
	}
}
END_TEST

START_TEST(test_fix_checksums_leaves_other_packets_alone)
{
	uint8_t p[60], q[60];

	memcpy(p, syn_ref, sizeof(p));
	p[10] = p[11] = p[36] = p[37] = 0;
	memcpy(q, p, sizeof(q));
	tcpraw_fix_checksums(p, 59); /* shorter than its total length */
	ck_assert_mem_eq(p, q, sizeof(p));
	p[9] = 17;
	memcpy(q, p, sizeof(q));
	tcpraw_fix_checksums(p, sizeof(p)); /* UDP */
	ck_assert_mem_eq(p, q, sizeof(p));
	p[9] = 6;
	p[6] = 0x20; /* a first fragment: its TCP sum covers data we do not have */
	memcpy(q, p, sizeof(q));
	tcpraw_fix_checksums(p, sizeof(p));
	ck_assert_mem_eq(p, q, sizeof(p));
	tcpraw_fix_checksums(p, 0);
	tcpraw_fix_checksums(p, 19);
}
END_TEST

/* --- RST --- */

START_TEST(test_rst_matches_known_good)
{
	struct syn_info s;
	uint8_t out[64];

	ck_assert_int_eq(parse_exact(syn_ref, sizeof(syn_ref), &s), 0);
	ck_assert_uint_eq(tcpraw_build_rst(&s, out, sizeof(out)), TCPRAW_RST_LEN4);
	ck_assert_mem_eq(out, rst_ref, sizeof(rst_ref));
}
END_TEST

START_TEST(test_rst_fields_and_checksums)
{
	struct syn_info s;
	uint8_t out[TCPRAW_RST_LEN4];
	uint32_t ack;

	ck_assert_int_eq(parse_exact(syn_ref, sizeof(syn_ref), &s), 0);
	s.seq = 0xffffffff; /* ack wraps */
	ck_assert_uint_eq(tcpraw_build_rst(&s, out, sizeof(out)), sizeof(out));
	ck_assert_uint_eq(out[0], 0x45);
	ck_assert_uint_eq(tot_of(out), 40);
	ck_assert_uint_eq(out[8], 64);
	ck_assert_uint_eq(out[9], 6);
	ck_assert_mem_eq(out + 12, syn_ref + 16, 4); /* from the SYN's destination */
	ck_assert_mem_eq(out + 16, syn_ref + 12, 4); /* to its source */
	ck_assert_mem_eq(out + 20, syn_ref + 22, 2); /* ports swapped */
	ck_assert_mem_eq(out + 22, syn_ref + 20, 2);
	ck_assert_uint_eq(out[24] | out[25] | out[26] | out[27], 0); /* seq 0 */
	ack = (uint32_t)out[28] << 24 | (uint32_t)out[29] << 16 | (uint32_t)out[30] << 8 | out[31];
	ck_assert_uint_eq(ack, 0);
	ck_assert_uint_eq(out[32], 0x50);
	ck_assert_uint_eq(out[33], 0x14); /* RST|ACK */
	ck_assert_uint_eq(out[34] | out[35], 0); /* window 0 */
	ck_assert(ip_sum_ok(out));
	ck_assert(tcp_sum_ok(out));
}
END_TEST

START_TEST(test_rst_acks_fast_open_data)
{
	uint8_t p[128], out[TCPRAW_RST_LEN4];
	struct syn_info s;
	uint32_t ack;
	size_t tot = syn_with_data(p, 17);

	ck_assert_int_eq(parse_exact(p, tot, &s), 0);
	ck_assert_uint_eq(tcpraw_build_rst(&s, out, sizeof(out)), sizeof(out));
	ack = (uint32_t)out[28] << 24 | (uint32_t)out[29] << 16 | (uint32_t)out[30] << 8 | out[31];
	ck_assert_uint_eq(ack, 0x12345678u + 1 + 17); /* SEG.SEQ + SEG.LEN */
	ck_assert(tcp_sum_ok(out));
}
END_TEST

START_TEST(test_rst_needs_room)
{
	struct syn_info s;
	uint8_t out[TCPRAW_RST_LEN4];

	ck_assert_int_eq(parse_exact(syn_ref, sizeof(syn_ref), &s), 0);
	ck_assert_uint_eq(tcpraw_build_rst(&s, out, sizeof(out) - 1), 0);
	ck_assert_uint_eq(tcpraw_build_rst(&s, out, 0), 0);
}
END_TEST

/* --- ICMP unreachable --- */

START_TEST(test_icmp_unreach_matches_known_good)
{
	struct syn_info s;
	uint8_t out[TCPRAW_ICMP_MAX];

	ck_assert_int_eq(parse_exact(syn_ref, sizeof(syn_ref), &s), 0);
	ck_assert_uint_eq(tcpraw_build_icmp_unreach(&s, TCPRAW_UNREACH_ADMIN, gw, out, sizeof(out)),
			  sizeof(icmp_ref));
	ck_assert_mem_eq(out, icmp_ref, sizeof(icmp_ref));
}
END_TEST

START_TEST(test_icmp_unreach_layout_and_checksums)
{
	static const uint8_t codes[] = { TCPRAW_UNREACH_NET, TCPRAW_UNREACH_HOST, TCPRAW_UNREACH_PORT,
					 TCPRAW_UNREACH_ADMIN };
	struct syn_info s;
	uint8_t out[TCPRAW_ICMP_MAX];
	size_t i, n;

	ck_assert_int_eq(parse_exact(syn_ref, sizeof(syn_ref), &s), 0);
	for (i = 0; i < ARRAY_SIZE(codes); i++) {
		n = tcpraw_build_icmp_unreach(&s, codes[i], gw, out, sizeof(out));
		ck_assert_uint_eq(n, 20 + 8 + 20 + 8);
		ck_assert_uint_eq(tot_of(out), n);
		ck_assert_uint_eq(out[9], 1);
		ck_assert_mem_eq(out + 12, gw, 4);
		ck_assert_mem_eq(out + 16, syn_ref + 12, 4);
		ck_assert_uint_eq(out[20], 3);
		ck_assert_uint_eq(out[21], codes[i]);
		ck_assert_uint_eq(out[24] | out[25] | out[26] | out[27], 0);
		ck_assert_mem_eq(out + 28, syn_ref, 28); /* IP header + 8 octets of TCP */
		ck_assert(ip_sum_ok(out));
		ck_assert_uint_eq(ref_sum(out + 20, n - 20, 0), 0xffff);
	}
}
END_TEST

START_TEST(test_icmp_unreach_quotes_ip_options)
{
	uint8_t p[64], out[TCPRAW_ICMP_MAX];
	struct syn_info s;
	size_t n;

	memcpy(p, syn_ref, 20);
	p[0] = 0x46;
	p[3] = 64;
	p[20] = 0x94;
	p[21] = 0x04;
	p[22] = p[23] = 0;
	memcpy(p + 24, syn_ref + 20, 40);
	ip_resum(p, 24);
	ck_assert_int_eq(parse_exact(p, sizeof(p), &s), 0);
	n = tcpraw_build_icmp_unreach(&s, TCPRAW_UNREACH_HOST, gw, out, sizeof(out));
	ck_assert_uint_eq(n, 20 + 8 + 24 + 8);
	ck_assert_mem_eq(out + 28, p, 32);
	ck_assert(ip_sum_ok(out));
	ck_assert_uint_eq(ref_sum(out + 20, n - 20, 0), 0xffff);
	ck_assert_uint_eq(tcpraw_build_icmp_unreach(&s, 1, gw, out, n - 1), 0);
}
END_TEST

START_TEST(test_icmp_unreach_needs_room_and_a_parsed_syn)
{
	struct syn_info s;
	uint8_t out[TCPRAW_ICMP_MAX];

	ck_assert_int_eq(parse_exact(syn_ref, sizeof(syn_ref), &s), 0);
	ck_assert_uint_eq(tcpraw_build_icmp_unreach(&s, 1, gw, out, sizeof(icmp_ref) - 1), 0);
	s.len = 0;
	ck_assert_uint_eq(tcpraw_build_icmp_unreach(&s, 1, gw, out, sizeof(out)), 0);
	s.len = 27; /* too short to quote 8 octets past the IP header */
	s.pkt[2] = 0;
	s.pkt[3] = 27;
	ck_assert_uint_eq(tcpraw_build_icmp_unreach(&s, 1, gw, out, sizeof(out)), 0);
	s.len = sizeof(s.pkt) + 1;
	ck_assert_uint_eq(tcpraw_build_icmp_unreach(&s, 1, gw, out, sizeof(out)), 0);
	memset(&s, 0, sizeof(s));
	ck_assert_uint_eq(tcpraw_build_icmp_unreach(&s, 1, gw, out, sizeof(out)), 0);
	/* a RST needs only the addresses: still built */
	ck_assert_uint_eq(tcpraw_build_rst(&s, out, sizeof(out)), TCPRAW_RST_LEN4);
}
END_TEST

/* --- ICMP echo --- */

/* parse_echo_exact() - tcpraw_parse_echo() on a heap copy of exactly len
 * octets (the sanitizer catches a read past the end); the message is
 * checked while the copy lives */
static int parse_echo_exact(const uint8_t *pkt, size_t len, struct echo_info *out)
{
	uint8_t *copy = heap_copy(pkt, len);
	int r = tcpraw_parse_echo(copy, len, out);

	if (r == 0)
		ck_assert(out->msg >= copy && out->msg + out->len <= copy + len);
	free(copy);
	out->msg = NULL;
	return r;
}

START_TEST(test_parse_echo_request)
{
	struct echo_info e;
	uint8_t padded[64];

	ck_assert_int_eq(tcpraw_parse_echo(echo_ref, sizeof(echo_ref), &e), 0);
	ck_assert_int_eq(e.src.family, AF_INET);
	ck_assert_mem_eq(e.src.addr, echo_ref + 12, 4);
	ck_assert_uint_eq(e.src.port, 0x1234);
	ck_assert_mem_eq(e.dst.addr, echo_ref + 16, 4);
	ck_assert_uint_eq(e.dst.port, 0);
	ck_assert_uint_eq(e.seq, 1);
	ck_assert_ptr_eq(e.msg, echo_ref + 20);
	ck_assert_uint_eq(e.len, 16);
	/* link padding past the total length is not part of it */
	memset(padded, 0xee, sizeof(padded));
	memcpy(padded, echo_ref, sizeof(echo_ref));
	ck_assert_int_eq(parse_echo_exact(padded, sizeof(padded), &e), 0);
	ck_assert_uint_eq(e.len, 16);
}
END_TEST

START_TEST(test_parse_echo_rejects)
{
	struct echo_info e;
	uint8_t p[sizeof(echo_ref)];
	size_t len;

	for (len = 0; len < sizeof(echo_ref); len++)
		ck_assert_int_eq(parse_echo_exact(echo_ref, len, &e), -1);
	/* a reply, a timestamp request, a code, a fragment, a short message,
	 * a bad header checksum, a SYN */
	memcpy(p, echo_ref, sizeof(p));
	p[20] = 0;
	ck_assert_int_eq(parse_echo_exact(p, sizeof(p), &e), -1);
	p[20] = 13;
	ck_assert_int_eq(parse_echo_exact(p, sizeof(p), &e), -1);
	memcpy(p, echo_ref, sizeof(p));
	p[21] = 1;
	ck_assert_int_eq(parse_echo_exact(p, sizeof(p), &e), -1);
	memcpy(p, echo_ref, sizeof(p));
	p[6] = 0x20; /* MF */
	ip_resum(p, 20);
	ck_assert_int_eq(parse_echo_exact(p, sizeof(p), &e), -1);
	memcpy(p, echo_ref, sizeof(p));
	p[3] = 27; /* 7 octets of ICMP */
	ip_resum(p, 20);
	ck_assert_int_eq(parse_echo_exact(p, sizeof(p), &e), -1);
	memcpy(p, echo_ref, sizeof(p));
	p[8] = 63;
	ck_assert_int_eq(parse_echo_exact(p, sizeof(p), &e), -1);
	ck_assert_int_eq(parse_echo_exact(syn_ref, sizeof(syn_ref), &e), -1);
	ck_assert_int_eq(parse_exact(echo_ref, sizeof(echo_ref), &(struct syn_info){ 0 }), -1);
}
END_TEST

START_TEST(test_echo_reply_matches_known_good)
{
	struct echo_info e;
	uint8_t msg[16], out[64];

	ck_assert_int_eq(tcpraw_parse_echo(echo_ref, sizeof(echo_ref), &e), 0);
	/* what the consumer's ping socket received: a reply carrying the
	 * socket's own identifier and a checksum for that */
	memcpy(msg, e.msg, sizeof(msg));
	msg[0] = 0;
	msg[2] = 0xab, msg[3] = 0xcd;
	msg[4] = 0x99, msg[5] = 0x99;
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e.dst, &e.src, e.src.port, msg, sizeof(msg), out,
						  sizeof(out)), sizeof(echo_reply_ref));
	ck_assert_mem_eq(out, echo_reply_ref, sizeof(echo_reply_ref));
	ck_assert(ip_sum_ok(out));
	ck_assert_uint_eq(ref_sum(out + 20, 16, 0), 0xffff);
}
END_TEST

START_TEST(test_echo_reply_refuses)
{
	struct echo_info e;
	uint8_t msg[TCPRAW_ECHO_MAX + 1], out[20 + TCPRAW_ECHO_MAX + 1];

	ck_assert_int_eq(tcpraw_parse_echo(echo_ref, sizeof(echo_ref), &e), 0);
	memset(msg, 0, sizeof(msg));
	/* a request, a code, a short message, one too long, no room */
	msg[0] = 8;
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e.dst, &e.src, 1, msg, 8, out, sizeof(out)), 0);
	msg[0] = 0;
	msg[1] = 3;
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e.dst, &e.src, 1, msg, 8, out, sizeof(out)), 0);
	msg[1] = 0;
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e.dst, &e.src, 1, msg, 7, out, sizeof(out)), 0);
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e.dst, &e.src, 1, msg, TCPRAW_ECHO_MAX + 1, out,
						  sizeof(out)), 0);
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e.dst, &e.src, 1, msg, TCPRAW_ECHO_MAX, out,
						  sizeof(out)), 20 + TCPRAW_ECHO_MAX);
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e.dst, &e.src, 1, msg, 8, out, 27), 0);
	e.dst.family = AF_INET6;
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e.dst, &e.src, 1, msg, 8, out, sizeof(out)), 0);
}
END_TEST

START_TEST(test_dgram_unreach_matches_known_good)
{
	struct echo_info e;
	uint8_t out[TCPRAW_DGRAM_UNREACH_LEN + 8];

	ck_assert_int_eq(tcpraw_parse_echo(echo_ref, sizeof(echo_ref), &e), 0);
	e.dst.port = 9;
	e.src.port = 40000;
	ck_assert_uint_eq(tcpraw_build_dgram_unreach(&e.src, &e.dst, 17, 0, TCPRAW_UNREACH_PORT,
						     e.dst.addr, out, sizeof(out)),
			  sizeof(port_unreach_ref));
	ck_assert_mem_eq(out, port_unreach_ref, sizeof(port_unreach_ref));
	ck_assert(ip_sum_ok(out) && ip_sum_ok(out + 28));
	ck_assert_uint_eq(ref_sum(out + 20, 36, 0), 0xffff);
	/* no room, or mixed families: nothing */
	ck_assert_uint_eq(tcpraw_build_dgram_unreach(&e.src, &e.dst, 17, 0, 3, gw, out,
						     TCPRAW_DGRAM_UNREACH_LEN4 - 1), 0);
	ck_assert_uint_eq(tcpraw_build_dgram_unreach(&e.src, &e.dst, 6, 0, 3, gw, out, sizeof(out)),
			  0);
	e.dst.family = AF_INET6;
	ck_assert_uint_eq(tcpraw_build_dgram_unreach(&e.src, &e.dst, 17, 0, 3, gw, out,
						     sizeof(out)), 0);
}
END_TEST

/* --- IPv6 --- */

START_TEST(test_parse_syn6)
{
	struct syn_info s;
	char buf[ADDRSTRLEN];
	uint8_t p[96];

	ck_assert_int_eq(parse_exact(syn6_ref, sizeof(syn6_ref), &s), 0);
	ck_assert_uint_eq(s.src.family, AF_INET6);
	ck_assert_uint_eq(s.dst.family, AF_INET6);
	ck_assert_str_eq(ipport_fmt(&s.src, buf), "[fd00::15]:40000");
	ck_assert_str_eq(ipport_fmt(&s.dst, buf), "[2001:db8::7]:80");
	ck_assert_mem_eq(s.src.addr, syn6_ref + 8, 16);
	ck_assert_mem_eq(s.dst.addr, syn6_ref + 24, 16);
	ck_assert_uint_eq(s.seq, 0x12345678);
	ck_assert_uint_eq(s.len, sizeof(syn6_ref));
	ck_assert_mem_eq(s.pkt, syn6_ref, sizeof(syn6_ref));
	/* link padding is not part of it; an offloaded TCP checksum is fine */
	memset(p, 0xee, sizeof(p));
	memcpy(p, syn6_ref, sizeof(syn6_ref));
	p[56] = SYN6_REF_PARTIAL_SUM >> 8;
	p[57] = SYN6_REF_PARTIAL_SUM & 0xff;
	ck_assert_int_eq(parse_exact(p, sizeof(p), &s), 0);
	ck_assert_uint_eq(s.len, sizeof(syn6_ref));
	ck_assert_mem_eq(s.pkt, p, sizeof(syn6_ref));
}
END_TEST

START_TEST(test_parse_syn6_rejects_extension_headers)
{
	/* hop-by-hop, routing, fragment, destination options, ESP, AH, no next
	 * header; UDP, ICMPv6, IPv4's ICMP */
	static const uint8_t nxt[] = { 0, 43, 44, 60, 50, 51, 59, 17, 58, 1 };
	uint8_t p[88];
	struct syn_info s;
	size_t i;

	ck_assert_int_eq(parse6_with(6, 6), 0); /* TCP right after the header */
	for (i = 0; i < ARRAY_SIZE(nxt); i++)
		ck_assert_msg(parse6_with(6, nxt[i]) == -1, "next header %u parsed", nxt[i]);
	/* a well-formed hop-by-hop header (PadN) before the very same SYN */
	memcpy(p, syn6_ref, 40);
	p[5] = 48;
	p[6] = 0;
	memset(p + 40, 0, 8);
	p[40] = 6;	/* next header TCP, length 0 (8 octets) */
	p[42] = 1;	/* PadN, 4 octets */
	p[43] = 4;
	memcpy(p + 48, syn6_ref + 40, 40);
	ck_assert_int_eq(parse_exact(p, sizeof(p), &s), -1);
}
END_TEST

START_TEST(test_parse_syn6_rejects_wrong_version)
{
	static const uint8_t vfc[] = { 0x00, 0x40, 0x45, 0x50, 0x70, 0xe0, 0xf6 };
	uint8_t q[sizeof(syn_ref)];
	struct syn_info s;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vfc); i++)
		ck_assert_msg(parse6_with(0, vfc[i]) == -1, "version octet 0x%02x parsed", vfc[i]);
	/* the IPv4 SYN relabelled version 6 */
	memcpy(q, syn_ref, sizeof(q));
	q[0] = 0x65;
	ck_assert_int_eq(parse_exact(q, sizeof(q), &s), -1);
	/* traffic class and flow label do not matter */
	ck_assert_int_eq(parse6_with(1, 0xff), 0);
	ck_assert_int_eq(parse6_with(0, 0x6f), 0);
}
END_TEST

START_TEST(test_parse_syn6_rejects_every_truncation)
{
	struct syn_info s;
	size_t len;

	for (len = 0; len < sizeof(syn6_ref); len++)
		ck_assert_msg(parse_exact(syn6_ref, len, &s) == -1, "%zu octets parsed", len);
	ck_assert_int_eq(parse_exact(syn6_ref, len, &s), 0);
}
END_TEST

START_TEST(test_parse_syn6_rejects_bad_payload_length)
{
	/* past the buffer; 0 (a jumbogram's, RFC 2675: needs hop-by-hop);
	 * shorter than a TCP header; shorter than this one's 40 octets */
	static const uint16_t bad[] = { 41, 0xffff, 0, 19, 20, 39 };
	uint8_t p[sizeof(syn6_ref)];
	struct syn_info s;
	size_t i;

	memcpy(p, syn6_ref, sizeof(p));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		p[4] = (uint8_t)(bad[i] >> 8);
		p[5] = (uint8_t)bad[i];
		ck_assert_msg(parse_exact(p, sizeof(p), &s) == -1, "payload length %u parsed",
			      bad[i]);
	}
	/* 40 is right; a shorter claim with the options as padding is not */
	p[4] = 0;
	p[5] = 40;
	ck_assert_int_eq(parse_exact(p, sizeof(p), &s), 0);
}
END_TEST

START_TEST(test_parse_syn6_rejects_wrong_flags_and_ports)
{
	/* SYN-ACK, RST, SYN|RST, SYN|FIN, ACK, none, FIN, SYN|ACK|PSH */
	static const uint8_t bad[] = { 0x12, 0x04, 0x06, 0x03, 0x10, 0x00, 0x01, 0x1a };
	static const uint8_t good[] = { 0x02, 0x0a, 0x22, 0xc2 };
	uint8_t p[sizeof(syn6_ref)];
	struct syn_info s;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(parse6_with(53, bad[i]) == -1, "flags 0x%02x parsed", bad[i]);
	for (i = 0; i < ARRAY_SIZE(good); i++)
		ck_assert_msg(parse6_with(53, good[i]) == 0, "flags 0x%02x refused", good[i]);
	/* source port 0, destination port 0 */
	memcpy(p, syn6_ref, sizeof(p));
	p[40] = p[41] = 0;
	ck_assert_int_eq(parse_exact(p, sizeof(p), &s), -1);
	memcpy(p, syn6_ref, sizeof(p));
	p[42] = p[43] = 0;
	ck_assert_int_eq(parse_exact(p, sizeof(p), &s), -1);
}
END_TEST

START_TEST(test_parse_syn6_rejects_bad_data_offset)
{
	static const uint8_t doff[] = { 0, 1, 4, 11, 12, 15 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(doff); i++)
		ck_assert_msg(parse6_with(52, (uint8_t)(doff[i] << 4)) == -1, "doff %u parsed",
			      doff[i]);
	ck_assert_int_eq(parse6_with(52, 5 << 4), 0);
}
END_TEST

START_TEST(test_parse_syn6_rejects_multicast_source)
{
	uint8_t p[sizeof(syn6_ref)];
	struct syn_info s;

	ck_assert_int_eq(parse6_with(8, 0xff), -1);	/* ff00::15 */
	memcpy(p, syn6_ref, sizeof(p));
	memset(p + 8, 0, 16);
	p[8] = 0xff, p[9] = 0x02, p[23] = 1;		/* ff02::1 */
	ck_assert_int_eq(parse_exact(p, sizeof(p), &s), -1);
	ck_assert_int_eq(parse6_with(8, 0xfe), 0);	/* fe00::15: not multicast */
}
END_TEST

START_TEST(test_parse_syn6_bounds_held_packet_size)
{
	uint8_t p[256];
	struct syn_info s;
	size_t tot;

	tot = syn6_with_data(p, TCPRAW_SYN_MAX - sizeof(syn6_ref));
	ck_assert_int_eq(parse_exact(p, tot, &s), 0);
	ck_assert_uint_eq(s.len, TCPRAW_SYN_MAX);
	tot = syn6_with_data(p, TCPRAW_SYN_MAX - sizeof(syn6_ref) + 1);
	ck_assert_int_eq(parse_exact(p, tot, &s), -1);
}
END_TEST

START_TEST(test_parse_syn6_survives_mutations)
{
	uint8_t p[sizeof(syn6_ref)], out[TCPRAW_ICMP_MAX];
	struct syn_info s;
	uint32_t x = 4242;
	int i, j, ok = 0;

	for (i = 0; i < 20000; i++) {
		memcpy(p, syn6_ref, sizeof(p));
		for (j = 0; j < 1 + i % 4; j++) {
			x = x * 1103515245u + 12345u;
			p[(x >> 8) % sizeof(p)] ^= (uint8_t)(1u << ((x >> 20) % 8));
		}
		x = x * 1103515245u + 12345u;
		if (parse_exact(p, (x >> 8) % (sizeof(p) + 1), &s) != 0)
			continue;
		ok++;
		ck_assert_uint_le(s.len, TCPRAW_SYN_MAX);
		ck_assert_uint_eq(s.pkt[0] >> 4, 6);
		ck_assert_uint_eq(s.pkt[6], 6);
		ck_assert_uint_ne(s.pkt[8], 0xff);
		ck_assert_uint_eq(40 + plen_of(s.pkt), s.len);
		ck_assert_uint_eq(tcpraw_build_rst(&s, out, sizeof(out)), TCPRAW_RST_LEN);
		ck_assert_uint_eq(pseudo6_checksum(out), 0);
		ck_assert_uint_eq(tcpraw_build_icmp_unreach(&s, 3, gw6, out, sizeof(out)),
				  48 + s.len);
		ck_assert_uint_eq(pseudo6_checksum(out), 0);
	}
	ck_assert_int_gt(ok, 0);
}
END_TEST

START_TEST(test_fix_checksums6)
{
	uint8_t p[sizeof(syn6_ref) + 64], q[sizeof(syn6_ref)];
	size_t n, tot;

	memcpy(p, syn6_ref, sizeof(syn6_ref));
	p[56] = p[57] = 0;
	tcpraw_fix_checksums(p, sizeof(syn6_ref));
	ck_assert_mem_eq(p, syn6_ref, sizeof(syn6_ref));
	p[56] = SYN6_REF_PARTIAL_SUM >> 8;
	p[57] = SYN6_REF_PARTIAL_SUM & 0xff;
	tcpraw_fix_checksums(p, sizeof(syn6_ref));
	ck_assert_mem_eq(p, syn6_ref, sizeof(syn6_ref));
	/* a rewritten hop limit and address get a sum that verifies */
	p[7] = 63;
	p[39] = 0x99;
	tcpraw_fix_checksums(p, sizeof(syn6_ref));
	ck_assert(l4_sum6_ok(p));
	/* odd and even segment lengths */
	for (n = 0; n <= 64; n++) {
		tot = syn6_with_data(p, n);
		ck_assert_msg(l4_sum6_ok(p), "data length %zu", n);
		ck_assert_uint_eq(tot, sizeof(syn6_ref) + n);
	}
	/* not TCP directly, or longer than the buffer: untouched */
	memcpy(q, syn6_ref, sizeof(q));
	q[56] = q[57] = 0;
	q[6] = 0;
	memcpy(p, q, sizeof(q));
	tcpraw_fix_checksums(p, sizeof(q));
	ck_assert_mem_eq(p, q, sizeof(q));
	q[6] = 6;
	memcpy(p, q, sizeof(q));
	tcpraw_fix_checksums(p, sizeof(q) - 1);
	ck_assert_mem_eq(p, q, sizeof(q));
}
END_TEST

START_TEST(test_rst6_matches_known_good)
{
	struct syn_info s;
	uint8_t out[TCPRAW_RST_LEN + 4];

	ck_assert_int_eq(parse_exact(syn6_ref, sizeof(syn6_ref), &s), 0);
	ck_assert_uint_eq(tcpraw_build_rst(&s, out, sizeof(out)), sizeof(rst6_ref));
	ck_assert_uint_eq(sizeof(rst6_ref), TCPRAW_RST_LEN);
	ck_assert_mem_eq(out, rst6_ref, sizeof(rst6_ref));
	ck_assert_uint_eq(tcpraw_build_rst(&s, out, TCPRAW_RST_LEN - 1), 0);
	ck_assert_uint_eq(tcpraw_build_rst(&s, out, TCPRAW_RST_LEN4), 0);
}
END_TEST

START_TEST(test_icmp6_unreach_matches_known_good)
{
	struct syn_info s;
	uint8_t out[TCPRAW_ICMP_MAX];

	ck_assert_int_eq(parse_exact(syn6_ref, sizeof(syn6_ref), &s), 0);
	ck_assert_uint_eq(tcpraw_build_icmp_unreach(&s, TCPRAW_UNREACH_ADMIN, gw6, out,
						    sizeof(out)), sizeof(unreach6_ref));
	ck_assert_mem_eq(out, unreach6_ref, sizeof(unreach6_ref));
	ck_assert_uint_eq(tcpraw_build_icmp_unreach(&s, TCPRAW_UNREACH_ADMIN, gw6, out,
						    sizeof(unreach6_ref) - 1), 0);
}
END_TEST

START_TEST(test_icmp6_unreach_codes_and_layout)
{
	/* RFC 4443 3.1: the ICMPv6 code of each ICMP code's meaning */
	static const uint8_t codes[][2] = {
		{ TCPRAW_UNREACH_NET, 0 }, { TCPRAW_UNREACH_HOST, 3 },
		{ TCPRAW_UNREACH_PORT, 4 }, { TCPRAW_UNREACH_ADMIN, 1 },
	};
	struct syn_info s;
	uint8_t out[TCPRAW_ICMP_MAX];
	size_t i, n;

	ck_assert_int_eq(parse_exact(syn6_ref, sizeof(syn6_ref), &s), 0);
	for (i = 0; i < ARRAY_SIZE(codes); i++) {
		n = tcpraw_build_icmp_unreach(&s, codes[i][0], gw6, out, sizeof(out));
		ck_assert_uint_eq(n, 40 + 8 + sizeof(syn6_ref));
		ck_assert_uint_eq(out[0], 0x60);
		ck_assert_uint_eq(plen_of(out), n - 40);
		ck_assert_uint_eq(out[6], 58);
		ck_assert_uint_eq(out[7], 64);
		ck_assert_mem_eq(out + 8, gw6, 16);
		ck_assert_mem_eq(out + 24, syn6_ref + 8, 16);
		ck_assert_uint_eq(out[40], 1);
		ck_assert_msg(out[41] == codes[i][1], "code %u sent as %u", codes[i][0], out[41]);
		ck_assert_uint_eq(out[44] | out[45] | out[46] | out[47], 0);
		ck_assert_mem_eq(out + 48, syn6_ref, sizeof(syn6_ref));
		ck_assert(l4_sum6_ok(out));
	}
}
END_TEST

START_TEST(test_icmp6_unreach_quotes_the_longest_syn)
{
	uint8_t p[TCPRAW_SYN_MAX], out[TCPRAW_ICMP_MAX];
	struct syn_info s;
	size_t tot = syn6_with_data(p, TCPRAW_SYN_MAX - sizeof(syn6_ref));

	ck_assert_int_eq(parse_exact(p, tot, &s), 0);
	ck_assert_uint_eq(tcpraw_build_icmp_unreach(&s, 1, gw6, out, sizeof(out)), TCPRAW_ICMP_MAX);
	ck_assert_mem_eq(out + 48, p, TCPRAW_SYN_MAX);
	ck_assert(l4_sum6_ok(out));
}
END_TEST

START_TEST(test_icmp6_unreach_needs_the_syn_family)
{
	struct syn_info s;
	uint8_t out[TCPRAW_ICMP_MAX];

	/* an IPv6 packet held under IPv4 addresses, and the other way round */
	ck_assert_int_eq(parse_exact(syn6_ref, sizeof(syn6_ref), &s), 0);
	s.src.family = AF_INET;
	ck_assert_uint_eq(tcpraw_build_icmp_unreach(&s, 1, gw, out, sizeof(out)), 0);
	ck_assert_int_eq(parse_exact(syn_ref, sizeof(syn_ref), &s), 0);
	s.src.family = AF_INET6;
	ck_assert_uint_eq(tcpraw_build_icmp_unreach(&s, 1, gw6, out, sizeof(out)), 0);
}
END_TEST

START_TEST(test_syn6_round_trip_checksums)
{
	static const uint8_t codes[] = { TCPRAW_UNREACH_NET, TCPRAW_UNREACH_HOST,
					 TCPRAW_UNREACH_PORT, TCPRAW_UNREACH_ADMIN };
	uint8_t p[TCPRAW_SYN_MAX], out[TCPRAW_ICMP_MAX];
	struct syn_info s;
	size_t tot = syn6_with_data(p, 17), i; /* Fast Open data, odd length */
	uint32_t ack;

	ck_assert_uint_eq(pseudo6_checksum(p), 0);
	ck_assert_int_eq(parse_exact(p, tot, &s), 0);
	ck_assert_uint_eq(tcpraw_build_rst(&s, out, sizeof(out)), TCPRAW_RST_LEN);
	ck_assert_uint_eq(pseudo6_checksum(out), 0);
	ck_assert_mem_eq(out + 8, p + 24, 16);
	ck_assert_mem_eq(out + 24, p + 8, 16);
	ack = (uint32_t)out[48] << 24 | (uint32_t)out[49] << 16 | (uint32_t)out[50] << 8 | out[51];
	ck_assert_uint_eq(ack, 0x12345678u + 1 + 17);
	for (i = 0; i < ARRAY_SIZE(codes); i++) {
		ck_assert_uint_eq(tcpraw_build_icmp_unreach(&s, codes[i], gw6, out, sizeof(out)),
				  48 + tot);
		ck_assert_uint_eq(pseudo6_checksum(out), 0);
		ck_assert_mem_eq(out + 48, p, tot);
	}
}
END_TEST

/* vm6_flow() - the VM's side of a datagram flow to 2001:db8::a */
static void vm6_flow(struct ipport *vm, struct ipport *dst, uint16_t vport, uint16_t dport)
{
	memset(vm, 0, sizeof(*vm));
	memset(dst, 0, sizeof(*dst));
	vm->family = dst->family = AF_INET6;
	memcpy(vm->addr, echo6_ref + 8, 16);
	memcpy(dst->addr, echo6_ref + 24, 16);
	vm->port = vport;
	dst->port = dport;
}

START_TEST(test_dgram_unreach6_matches_known_good)
{
	struct ipport vm, dst;
	uint8_t out[TCPRAW_DGRAM_UNREACH_LEN + 8];

	vm6_flow(&vm, &dst, 40000, 9);
	ck_assert_uint_eq(tcpraw_build_dgram_unreach(&vm, &dst, IPPROTO_UDP, 0, TCPRAW_UNREACH_PORT,
						     dst.addr, out, sizeof(out)),
			  sizeof(port_unreach6_ref));
	ck_assert_uint_eq(sizeof(port_unreach6_ref), TCPRAW_DGRAM_UNREACH_LEN);
	ck_assert_mem_eq(out, port_unreach6_ref, sizeof(port_unreach6_ref));
	ck_assert(l4_sum6_ok(out));
	vm6_flow(&vm, &dst, 0x1234, 0);
	ck_assert_uint_eq(tcpraw_build_dgram_unreach(&vm, &dst, IPPROTO_ICMPV6, 7,
						     TCPRAW_UNREACH_HOST, gw6, out, sizeof(out)),
			  sizeof(echo_unreach6_ref));
	ck_assert_mem_eq(out, echo_unreach6_ref, sizeof(echo_unreach6_ref));
	ck_assert_uint_eq(pseudo6_checksum(out), 0);
}
END_TEST

START_TEST(test_dgram_unreach6_refuses)
{
	struct ipport vm, dst;
	struct echo_info e;
	uint8_t out[TCPRAW_DGRAM_UNREACH_LEN];

	vm6_flow(&vm, &dst, 0x1234, 0);
	ck_assert_uint_eq(tcpraw_build_dgram_unreach(&vm, &dst, IPPROTO_ICMPV6, 7, 1, gw6, out,
						     sizeof(out)), TCPRAW_DGRAM_UNREACH_LEN);
	/* IPv4's ICMP, TCP, no room, mixed families */
	ck_assert_uint_eq(tcpraw_build_dgram_unreach(&vm, &dst, IPPROTO_ICMP, 7, 1, gw6, out,
						     sizeof(out)), 0);
	ck_assert_uint_eq(tcpraw_build_dgram_unreach(&vm, &dst, IPPROTO_TCP, 7, 1, gw6, out,
						     sizeof(out)), 0);
	ck_assert_uint_eq(tcpraw_build_dgram_unreach(&vm, &dst, IPPROTO_ICMPV6, 7, 1, gw6, out,
						     sizeof(out) - 1), 0);
	dst.family = AF_INET;
	ck_assert_uint_eq(tcpraw_build_dgram_unreach(&vm, &dst, IPPROTO_UDP, 7, 1, gw6, out,
						     sizeof(out)), 0);
	/* and ICMPv6 is not IPv4's */
	ck_assert_int_eq(tcpraw_parse_echo(echo_ref, sizeof(echo_ref), &e), 0);
	ck_assert_uint_eq(tcpraw_build_dgram_unreach(&e.src, &e.dst, IPPROTO_ICMPV6, 1, 1, gw, out,
						     sizeof(out)), 0);
	ck_assert_uint_eq(tcpraw_build_dgram_unreach(&e.src, &e.dst, IPPROTO_ICMP, 1, 1, gw, out,
						     sizeof(out)), TCPRAW_DGRAM_UNREACH_LEN4);
}
END_TEST

START_TEST(test_parse_echo6_request)
{
	struct echo_info e;
	uint8_t padded[80];

	ck_assert_int_eq(tcpraw_parse_echo(echo6_ref, sizeof(echo6_ref), &e), 0);
	ck_assert_int_eq(e.src.family, AF_INET6);
	ck_assert_int_eq(e.dst.family, AF_INET6);
	ck_assert_mem_eq(e.src.addr, echo6_ref + 8, 16);
	ck_assert_uint_eq(e.src.port, 0x1234);
	ck_assert_mem_eq(e.dst.addr, echo6_ref + 24, 16);
	ck_assert_uint_eq(e.dst.port, 0);
	ck_assert_uint_eq(e.seq, 1);
	ck_assert_ptr_eq(e.msg, echo6_ref + 40);
	ck_assert_uint_eq(e.len, 16);
	memset(padded, 0xee, sizeof(padded));
	memcpy(padded, echo6_ref, sizeof(echo6_ref));
	ck_assert_int_eq(parse_echo_exact(padded, sizeof(padded), &e), 0);
	ck_assert_uint_eq(e.len, 16);
}
END_TEST

/* parse_echo6_with() - echo6_ref with the octet at off set to v, parsed */
static int parse_echo6_with(size_t off, uint8_t v)
{
	uint8_t p[sizeof(echo6_ref)];
	struct echo_info e;

	memcpy(p, echo6_ref, sizeof(p));
	p[off] = v;
	return parse_echo_exact(p, sizeof(p), &e);
}

START_TEST(test_parse_echo6_rejects)
{
	/* hop-by-hop, fragment, destination options, IPv4's ICMP, TCP */
	static const uint8_t nxt[] = { 0, 44, 60, 1, 6 };
	struct echo_info e;
	size_t len, i;

	for (len = 0; len < sizeof(echo6_ref); len++)
		ck_assert_int_eq(parse_echo_exact(echo6_ref, len, &e), -1);
	ck_assert_int_eq(parse_echo_exact(echo6_ref, len, &e), 0);
	for (i = 0; i < ARRAY_SIZE(nxt); i++)
		ck_assert_msg(parse_echo6_with(6, nxt[i]) == -1, "next header %u parsed", nxt[i]);
	/* a reply, IPv4's echo type, a code, version 4 or 7, a multicast
	 * source, 7 octets of ICMPv6, a payload past the buffer */
	ck_assert_int_eq(parse_echo6_with(40, 129), -1);
	ck_assert_int_eq(parse_echo6_with(40, 8), -1);
	ck_assert_int_eq(parse_echo6_with(41, 1), -1);
	ck_assert_int_eq(parse_echo6_with(0, 0x40), -1);
	ck_assert_int_eq(parse_echo6_with(0, 0x70), -1);
	ck_assert_int_eq(parse_echo6_with(8, 0xff), -1);
	ck_assert_int_eq(parse_echo6_with(5, 7), -1);
	ck_assert_int_eq(parse_echo6_with(5, 17), -1);
	ck_assert_int_eq(parse_echo6_with(5, 8), 0); /* 8 octets: an echo with no data */
	ck_assert_int_eq(parse_echo_exact(syn6_ref, sizeof(syn6_ref), &e), -1);
	ck_assert_int_eq(parse_exact(echo6_ref, sizeof(echo6_ref), &(struct syn_info){ 0 }), -1);
}
END_TEST

/* every code of both tables, against RFC 1122 3.2.2.1 and RFC 4443 3.1 */
START_TEST(test_unreach_code_maps_what_routers_send)
{
	static const int v4[16] = {
		TCPRAW_UNREACH_NET, TCPRAW_UNREACH_HOST, TCPRAW_UNREACH_HOST, TCPRAW_UNREACH_PORT,
		-1, TCPRAW_UNREACH_HOST, TCPRAW_UNREACH_NET, TCPRAW_UNREACH_HOST,
		TCPRAW_UNREACH_HOST, TCPRAW_UNREACH_ADMIN, TCPRAW_UNREACH_ADMIN, TCPRAW_UNREACH_NET,
		TCPRAW_UNREACH_HOST, TCPRAW_UNREACH_ADMIN, TCPRAW_UNREACH_HOST, TCPRAW_UNREACH_HOST,
	};
	static const int v6[8] = {
		TCPRAW_UNREACH_NET, TCPRAW_UNREACH_ADMIN, TCPRAW_UNREACH_HOST, TCPRAW_UNREACH_HOST,
		TCPRAW_UNREACH_PORT, TCPRAW_UNREACH_ADMIN, TCPRAW_UNREACH_ADMIN, TCPRAW_UNREACH_HOST,
	};
	unsigned c;

	for (c = 0; c < 16; c++)
		ck_assert_msg(tcpraw_unreach_code(AF_INET, 3, (uint8_t)c) == v4[c], "ICMP code %u", c);
	for (c = 0; c < 8; c++)
		ck_assert_msg(tcpraw_unreach_code(AF_INET6, 1, (uint8_t)c) == v6[c], "ICMPv6 code %u",
			      c);
	/* echo replies, time exceeded, and the other family's type */
	ck_assert_int_eq(tcpraw_unreach_code(AF_INET, 0, 0), -1);
	ck_assert_int_eq(tcpraw_unreach_code(AF_INET, 11, 0), -1);
	ck_assert_int_eq(tcpraw_unreach_code(AF_INET, 1, 0), -1);
	ck_assert_int_eq(tcpraw_unreach_code(AF_INET6, 3, 0), -1);
	ck_assert_int_eq(tcpraw_unreach_code(AF_INET6, 129, 0), -1);
}
END_TEST

START_TEST(test_echo_reply6_matches_known_good)
{
	struct echo_info e;
	uint8_t msg[16], out[64];

	ck_assert_int_eq(tcpraw_parse_echo(echo6_ref, sizeof(echo6_ref), &e), 0);
	/* what the consumer's IPPROTO_ICMPV6 ping socket received: a reply
	 * with the socket's own identifier and a checksum for that */
	memcpy(msg, e.msg, sizeof(msg));
	msg[0] = 129;
	msg[2] = 0xab, msg[3] = 0xcd;
	msg[4] = 0x99, msg[5] = 0x99;
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e.dst, &e.src, e.src.port, msg, sizeof(msg), out,
						  sizeof(out)), sizeof(echo_reply6_ref));
	ck_assert_mem_eq(out, echo_reply6_ref, sizeof(echo_reply6_ref));
	ck_assert(l4_sum6_ok(out));
}
END_TEST

START_TEST(test_echo_reply6_refuses)
{
	struct echo_info e, e4;
	uint8_t msg[16], out[64];

	ck_assert_int_eq(tcpraw_parse_echo(echo6_ref, sizeof(echo6_ref), &e), 0);
	ck_assert_int_eq(tcpraw_parse_echo(echo_ref, sizeof(echo_ref), &e4), 0);
	memset(msg, 0, sizeof(msg));
	/* ICMP's reply type, a request, a code, a short message, no room */
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e.dst, &e.src, 1, msg, 8, out, sizeof(out)), 0);
	msg[0] = 128;
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e.dst, &e.src, 1, msg, 8, out, sizeof(out)), 0);
	msg[0] = 129;
	msg[1] = 4;
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e.dst, &e.src, 1, msg, 8, out, sizeof(out)), 0);
	msg[1] = 0;
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e.dst, &e.src, 1, msg, 7, out, sizeof(out)), 0);
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e.dst, &e.src, 1, msg, 8, out, 47), 0);
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e.dst, &e.src, 1, msg, 8, out, 48), 48);
	/* mixed families; an ICMPv6 reply between IPv4 addresses */
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e.dst, &e4.src, 1, msg, 8, out, sizeof(out)), 0);
	ck_assert_uint_eq(tcpraw_build_echo_reply(&e4.dst, &e4.src, 1, msg, 8, out, sizeof(out)),
			  0);
}
END_TEST

static Suite *tcpraw_suite(void)
{
	Suite *s = suite_create("tcpraw");
	TCase *tc = tcase_create("tcpraw");

	tcase_add_test(tc, test_checksum_known_answers);
	tcase_add_test(tc, test_checksum_matches_reference_on_random_data);
	tcase_add_test(tc, test_parse_syn_with_options);
	tcase_add_test(tc, test_parse_accepts_offloaded_tcp_checksum);
	tcase_add_test(tc, test_parse_ignores_link_padding);
	tcase_add_test(tc, test_parse_accepts_ip_options);
	tcase_add_test(tc, test_parse_rejects_wrong_flags);
	tcase_add_test(tc, test_parse_rejects_every_truncation);
	tcase_add_test(tc, test_parse_rejects_short_total_length);
	tcase_add_test(tc, test_parse_rejects_bad_ihl_and_version);
	tcase_add_test(tc, test_parse_rejects_bad_data_offset);
	tcase_add_test(tc, test_parse_rejects_fragments);
	tcase_add_test(tc, test_parse_rejects_non_tcp);
	tcase_add_test(tc, test_parse_rejects_bad_header_checksum);
	tcase_add_test(tc, test_parse_rejects_zero_ports);
	tcase_add_test(tc, test_parse_bounds_held_packet_size);
	tcase_add_test(tc, test_parse_survives_mutations);
	tcase_add_test(tc, test_fix_checksums_restores_known_good);
	tcase_add_test(tc, test_fix_checksums_odd_length);
	tcase_add_test(tc, test_fix_checksums_every_segment_length);
	tcase_add_test(tc, test_fix_checksums_leaves_other_packets_alone);
	tcase_add_test(tc, test_rst_matches_known_good);
	tcase_add_test(tc, test_rst_fields_and_checksums);
	tcase_add_test(tc, test_rst_acks_fast_open_data);
	tcase_add_test(tc, test_rst_needs_room);
	tcase_add_test(tc, test_icmp_unreach_matches_known_good);
	tcase_add_test(tc, test_icmp_unreach_layout_and_checksums);
	tcase_add_test(tc, test_icmp_unreach_quotes_ip_options);
	tcase_add_test(tc, test_icmp_unreach_needs_room_and_a_parsed_syn);
	tcase_add_test(tc, test_parse_echo_request);
	tcase_add_test(tc, test_parse_echo_rejects);
	tcase_add_test(tc, test_echo_reply_matches_known_good);
	tcase_add_test(tc, test_echo_reply_refuses);
	tcase_add_test(tc, test_dgram_unreach_matches_known_good);
	tcase_add_test(tc, test_parse_syn6);
	tcase_add_test(tc, test_parse_syn6_rejects_extension_headers);
	tcase_add_test(tc, test_parse_syn6_rejects_wrong_version);
	tcase_add_test(tc, test_parse_syn6_rejects_every_truncation);
	tcase_add_test(tc, test_parse_syn6_rejects_bad_payload_length);
	tcase_add_test(tc, test_parse_syn6_rejects_wrong_flags_and_ports);
	tcase_add_test(tc, test_parse_syn6_rejects_bad_data_offset);
	tcase_add_test(tc, test_parse_syn6_rejects_multicast_source);
	tcase_add_test(tc, test_parse_syn6_bounds_held_packet_size);
	tcase_add_test(tc, test_parse_syn6_survives_mutations);
	tcase_add_test(tc, test_fix_checksums6);
	tcase_add_test(tc, test_rst6_matches_known_good);
	tcase_add_test(tc, test_icmp6_unreach_matches_known_good);
	tcase_add_test(tc, test_icmp6_unreach_codes_and_layout);
	tcase_add_test(tc, test_icmp6_unreach_quotes_the_longest_syn);
	tcase_add_test(tc, test_icmp6_unreach_needs_the_syn_family);
	tcase_add_test(tc, test_syn6_round_trip_checksums);
	tcase_add_test(tc, test_dgram_unreach6_matches_known_good);
	tcase_add_test(tc, test_dgram_unreach6_refuses);
	tcase_add_test(tc, test_parse_echo6_request);
	tcase_add_test(tc, test_parse_echo6_rejects);
	tcase_add_test(tc, test_echo_reply6_matches_known_good);
	tcase_add_test(tc, test_echo_reply6_refuses);
	tcase_add_test(tc, test_unreach_code_maps_what_routers_send);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	log_init(-1);
	sr = srunner_create(tcpraw_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
