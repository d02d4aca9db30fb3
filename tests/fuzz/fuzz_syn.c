/* fuzz_syn.c: the capture's packet code (src/tcpraw.c) on what a VM sends.
 *
 * The input is an IPv4 or IPv6 packet from the VM's interface.  A SYN
 * that parses holds at most TCPRAW_SYN_MAX octets; the RST and the ICMP
 * unreachable built from it are of its family and carry correct checksums
 * (IPv4 header, TCP, ICMP; for IPv6 TCP and ICMPv6 over the pseudo-header);
 * recomputing the checksums of any packet stays inside it and leaves a SYN
 * the same SYN.  An echo request that parses lies inside the input, and
 * the reply built from its message (as the far side's ping socket would
 * return it) is as long as the message and an IP header, with correct
 * checksums. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "log.h"
#include "tcpraw.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

/* sum6_ok() - the IPv6 packet of n octets has its length in its header
 * and a right TCP or ICMPv6 checksum over the RFC 8200 8.1 pseudo-header */
static int sum6_ok(const uint8_t *ip, size_t n)
{
	uint8_t buf[40 + 20 + TCPRAW_ECHO_MAX];
	size_t plen = (size_t)ip[4] << 8 | ip[5];

	if (n < 40 || ip[0] != 0x60 || plen != n - 40 || plen > sizeof(buf) - 40)
		return 0;
	memcpy(buf, ip + 8, 32);
	memset(buf + 32, 0, 8);
	buf[34] = ip[4], buf[35] = ip[5], buf[39] = ip[6];
	memcpy(buf + 40, ip + 40, plen);
	return inet_checksum(buf, 40 + plen, 0) == 0;
}

static void check_replies6(const struct syn_info *syn)
{
	static const uint8_t gw[16] = { 0xfd, [15] = 2 };
	uint8_t out[TCPRAW_ICMP_MAX];
	size_t n;

	n = tcpraw_build_rst(syn, out, sizeof(out));
	CHECK(n == TCPRAW_RST_LEN && out[6] == 6 && sum6_ok(out, n));
	CHECK(tcpraw_build_rst(syn, out, n - 1) == 0);
	n = tcpraw_build_icmp_unreach(syn, TCPRAW_UNREACH_PORT, gw, out, sizeof(out));
	CHECK(n == 48 + syn->len && out[6] == 58 && out[40] == 1 && out[41] == 4);
	CHECK(sum6_ok(out, n) && memcmp(out + 48, syn->pkt, syn->len) == 0);
	CHECK(tcpraw_build_icmp_unreach(syn, TCPRAW_UNREACH_PORT, gw, out, n - 1) == 0);
}

static void check_replies(const struct syn_info *syn)
{
	static const uint8_t gw[4] = { 10, 0, 2, 2 };
	uint8_t out[TCPRAW_ICMP_MAX];
	size_t n, hl;

	if (syn->src.family == AF_INET6) {
		check_replies6(syn);
		return;
	}
	n = tcpraw_build_rst(syn, out, sizeof(out));
	CHECK(n == TCPRAW_RST_LEN4);
	CHECK(inet_checksum(out, 20, 0) == 0);
	CHECK(tcpraw_build_rst(syn, out, TCPRAW_RST_LEN4 - 1) == 0);
	n = tcpraw_build_icmp_unreach(syn, TCPRAW_UNREACH_PORT, gw, out, sizeof(out));
	CHECK(n > 28 && n <= sizeof(out));
	hl = (size_t)(out[0] & 0x0f) * 4;
	CHECK(hl == 20 && inet_checksum(out, hl, 0) == 0);
	CHECK(inet_checksum(out + hl, n - hl, 0) == 0);
	CHECK(tcpraw_build_icmp_unreach(syn, TCPRAW_UNREACH_PORT, gw, out, n - 1) == 0);
}

static void check_echo(const uint8_t *pkt, size_t size)
{
	static uint8_t msg[TCPRAW_ECHO_MAX], out[40 + TCPRAW_ECHO_MAX];
	struct echo_info e;
	size_t n;

	if (tcpraw_parse_echo(pkt, size, &e) != 0)
		return;
	CHECK(e.msg > pkt && e.msg + e.len <= pkt + size && e.len >= 8 && e.len <= TCPRAW_ECHO_MAX);
	CHECK((e.src.family == AF_INET || e.src.family == AF_INET6) &&
	      e.dst.family == e.src.family && e.dst.port == 0);
	memcpy(msg, e.msg, e.len);
	msg[0] = e.src.family == AF_INET6 ? 129 : 0; /* the reply */
	n = tcpraw_build_echo_reply(&e.dst, &e.src, e.src.port, msg, e.len, out, sizeof(out));
	if (e.src.family == AF_INET6) {
		CHECK(n == 40 + e.len && sum6_ok(out, n));
		return;
	}
	CHECK(n == 20 + e.len);
	CHECK(inet_checksum(out, 20, 0) == 0 && inet_checksum(out + 20, e.len, 0) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	struct syn_info syn, again;
	int r;

	memcpy(copy, data, size);
	check_echo(copy, size);
	r = tcpraw_parse_syn(copy, size, &syn);
	CHECK(r == 0 || r == -1);
	if (r == 0) {
		CHECK(syn.len <= TCPRAW_SYN_MAX && syn.len <= size);
		CHECK((syn.src.family == AF_INET || syn.src.family == AF_INET6) &&
		      syn.dst.family == syn.src.family && syn.src.port && syn.dst.port);
		check_replies(&syn);
	}
	tcpraw_fix_checksums(copy, size);
	if (r == 0) {
		CHECK(tcpraw_parse_syn(copy, size, &again) == 0);
		CHECK(again.seq == syn.seq && again.len == syn.len &&
		      memcmp(&again.src, &syn.src, sizeof(syn.src)) == 0 &&
		      memcmp(&again.dst, &syn.dst, sizeof(syn.dst)) == 0);
	}
	free(copy);
	return 0;
}

/* ---- seeds: SYNs as a VM's kernel sends them, checksums from tcpraw ---- */

static size_t syn(uint8_t *p, size_t optlen, size_t pad)
{
	static const uint8_t opts[] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x12, 0x34, 0, 0,
					0, 0, 1, 3, 3, 7 };
	size_t tl = 20 + 20 + optlen;

	memset(p, 0, tl + pad);
	p[0] = 0x45;
	p[2] = (uint8_t)(tl >> 8);
	p[3] = (uint8_t)tl;
	p[4] = 0x12;
	p[6] = 0x40; /* DF */
	p[8] = 64;
	p[9] = 6;
	p[12] = 10, p[13] = 0, p[14] = 2, p[15] = 15;
	p[16] = 198, p[17] = 51, p[18] = 100, p[19] = 10;
	p[20] = 0xa8, p[21] = 0xca; /* 43210 */
	p[22] = 0x01, p[23] = 0xbb; /* 443 */
	p[24] = 0x11, p[25] = 0x22, p[26] = 0x33, p[27] = 0x44;
	p[32] = (uint8_t)((20 + optlen) / 4 << 4);
	p[33] = 0x02; /* SYN */
	p[34] = 0xfa, p[35] = 0xf0;
	memcpy(p + 40, opts, optlen);
	tcpraw_fix_checksums(p, tl);
	return tl + pad;
}

/* echo() - an echo request as ping sends it: 16 octets of data */
static size_t echo(uint8_t *p)
{
	size_t i;

	memset(p, 0, 44);
	p[0] = 0x45, p[3] = 44, p[6] = 0x40, p[8] = 64, p[9] = 1;
	p[12] = 10, p[13] = 0, p[14] = 2, p[15] = 15;
	p[16] = 198, p[17] = 51, p[18] = 100, p[19] = 10;
	p[20] = 8, p[24] = 0x12, p[25] = 0x34, p[27] = 1;
	for (i = 28; i < 44; i++)
		p[i] = (uint8_t)i;
	p[10] = (uint8_t)(inet_checksum(p, 20, 0) >> 8), p[11] = (uint8_t)inet_checksum(p, 20, 0);
	return 44;
}

/* ip6() - an IPv6 header from fd00::15 to 2001:db8::a, hop limit 64 */
static void ip6(uint8_t *p, size_t plen, uint8_t nxt)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	p[4] = (uint8_t)(plen >> 8), p[5] = (uint8_t)plen;
	p[6] = nxt, p[7] = 64;
	p[8] = 0xfd, p[23] = 0x15;
	p[24] = 0x20, p[25] = 0x01, p[26] = 0x0d, p[27] = 0xb8, p[39] = 0x0a;
}

/* syn6() - the same SYN as syn() over IPv6 */
static size_t syn6(uint8_t *p, size_t optlen, size_t pad)
{
	uint8_t v4[128];
	size_t tl = syn(v4, optlen, 0);

	memset(p, 0, 40 + tl - 20 + pad);
	ip6(p, tl - 20, 6);
	memcpy(p + 40, v4 + 20, tl - 20);
	tcpraw_fix_checksums(p, 40 + tl - 20);
	return 40 + tl - 20 + pad;
}

/* echo6() - an ICMPv6 echo request as ping sends it: 16 octets of data */
static size_t echo6(uint8_t *p)
{
	uint8_t v4[44];

	echo(v4);
	ip6(p, 24, 58);
	memcpy(p + 40, v4 + 20, 24);
	p[40] = 128;
	return 64;
}

static void seeds(const char *dir)
{
	uint8_t p[128];

	fuzz_seed(dir, "syn", p, syn(p, 0, 0));
	fuzz_seed(dir, "syn-options", p, syn(p, 20, 0));
	fuzz_seed(dir, "syn-padded", p, syn(p, 4, 6));
	fuzz_seed(dir, "echo", p, echo(p));
	fuzz_seed(dir, "syn6", p, syn6(p, 0, 0));
	fuzz_seed(dir, "syn6-options", p, syn6(p, 20, 0));
	fuzz_seed(dir, "syn6-padded", p, syn6(p, 4, 6));
	fuzz_seed(dir, "echo6", p, echo6(p));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(-1);
	fuzz_make_seeds(argc, argv, seeds);
	return 0;
}
