/* fuzz_natpmp.c: a router's NAT-PMP (and PCP) replies, through the real
 * port-mapping glue: portmap.c, portmap_natpmp.c with libnatpmp's reader,
 * portmap_pcp.c with pcp.c.
 *
 * The harness runs in a network namespace of its own, where the default
 * gateway 192.0.2.1 is a local address and a UDP socket on its port 5351
 * plays the router.  Each input maps one port (the first byte: NAT-PMP or
 * PCP, TCP or UDP); every request the router receives is answered with
 * the input's next datagrams, then with a well-formed final answer (a
 * grant or a refusal, as the input says) so that every exchange ends at
 * once instead of waiting for the 2 s timeout.  The mapping must end in a
 * report, and a grant must be a usable one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "config.h"
#include "fuzz.h"
#include "log.h"
#include "portmap.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)
#define GATEWAY "192.0.2.1"

static struct event_base *base;
static int router = -1;
static struct event *router_ev;
static struct fin in;
static int grant;           /* the final answer: a grant, or a refusal */
static int reported, requests;

/* final_natpmp() - RFC 6886 §3.2, §3.3: the answer to request q */
static size_t final_natpmp(const uint8_t *q, size_t qlen, uint8_t *a)
{
	memset(a, 0, 16);
	a[1] = (uint8_t)(128 + q[1]);
	a[7] = 42; /* epoch */
	if (q[1] == 0) {
		a[8] = 203, a[9] = 0, a[10] = 113, a[11] = 7;
		return 12;
	}
	if (qlen < 12)
		return 0;
	a[3] = grant ? 0 : 2;
	memcpy(a + 8, q + 4, 4);  /* private port, public port as asked */
	memcpy(a + 12, q + 8, 4); /* lifetime as asked */
	return 16;
}

/* final_pcp() - RFC 6887 §8.3: the request copied, R bit, result */
static size_t final_pcp(const uint8_t *q, size_t qlen, uint8_t *a)
{
	if (qlen < 60)
		return 0;
	memcpy(a, q, 60);
	a[1] |= 0x80;
	a[3] = grant ? 0 : 2;
	memset(a + 8, 0, 16);
	a[11] = 42;
	memcpy(a + 42, q + 40, 2);
	memset(a + 44, 0, 16);
	a[54] = a[55] = 0xff;
	a[56] = 203, a[57] = 0, a[58] = 113, a[59] = 7;
	return 60;
}

static void on_request(evutil_socket_t fd, short what, void *arg)
{
	uint8_t q[1200], a[1200];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	ssize_t qlen = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from, &flen);
	int n, i;
	size_t alen;

	if (qlen < 2 || requests++ > 16)
		return;
	n = fin_u8(&in) % 4;
	for (i = 0; i < n; i++) {
		const uint8_t *d;
		size_t len = fin_take(&in, fin_u16(&in) % 1200, &d);

		sendto(fd, d, len, 0, (struct sockaddr *)&from, flen);
	}
	alen = q[0] == 0 ? final_natpmp(q, (size_t)qlen, a) : final_pcp(q, (size_t)qlen, a);
	if (alen)
		sendto(fd, a, alen, 0, (struct sockaddr *)&from, flen);
}

static void on_report(struct portmap *pm, void *arg)
{
	json_t *j = portmap_json(pm);

	CHECK(j != NULL);
	json_decref(j);
	if (portmap_mapped(pm))
		CHECK(portmap_last_error(pm) == NULL);
	else
		CHECK(portmap_last_error(pm) != NULL);
	reported = 1;
}

static void drain(void)
{
	uint8_t b[1500];

	while (recv(router, b, sizeof(b), MSG_DONTWAIT) >= 0)
		;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct portmap *pm;
	uint8_t shape;
	uint64_t deadline = mono_ms() + 5000;

	in.p = data;
	in.n = size;
	shape = fin_u8(&in);
	grant = !(shape & 4);
	reported = requests = 0;
	drain();
	pm = portmap_new(base, shape & 1 ? CONFIG_MAP_NATPMP : CONFIG_MAP_PCP,
			 shape & 2 ? IPPROTO_UDP : IPPROTO_TCP, (uint16_t)(1024 + (shape >> 3)),
			 3600000, on_report, NULL);
	CHECK(pm != NULL);
	while (!reported && mono_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	CHECK(reported); /* every attempt ends, at the latest at its deadline */
	portmap_free_within(pm, 0);
	return 0;
}

/* ---- seeds: the router's answers as RFC 6886 and RFC 6887 lay them out ---- */

static void seeds(const char *dir)
{
	/* NAT-PMP: a duplicate of the answer, then a wrong opcode; PCP: a reply
	 * for another nonce; each after the shape byte, as on_request reads */
	static const uint8_t np_map[] = { 0x01, 1, 0, 16, 0, 130, 0, 0, 0, 0, 0, 42, 0x04, 0x00,
					  0x04, 0x00, 0, 0, 0x0e, 0x10, 1, 0, 12, 0, 128, 0, 0, 0,
					  0, 0, 42, 203, 0, 113, 7 };
	static const uint8_t np_refused[] = { 0x05, 1, 0, 16, 0, 130, 0, 2, 0, 0, 0, 42, 0x04, 0x00,
					      0x04, 0x00, 0, 0, 0, 0 };
	static const uint8_t np_udp[] = { 0x03, 0, 0 };
	uint8_t pcp[1 + 1 + 2 + 60] = { 0x00, 1, 0, 60, 2, 0x81, 0, 0, 0, 0, 0x0e, 0x10 };

	fuzz_seed(dir, "natpmp-tcp", np_map, sizeof(np_map));
	fuzz_seed(dir, "natpmp-refused", np_refused, sizeof(np_refused));
	fuzz_seed(dir, "natpmp-udp", np_udp, sizeof(np_udp));
	fuzz_seed(dir, "pcp-other-nonce", pcp, sizeof(pcp));
	pcp[0] = 0x06;
	fuzz_seed(dir, "pcp-udp-refused", pcp, 2);
}

static void setup_namespace(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(5351) };

	fuzz_private_namespaces();
	if (system("ip link set lo up && ip link add gw0 type veth peer name gw1 && "
		   "ip addr add 192.0.2.2/24 dev gw0 && ip link set gw0 up && ip link set gw1 up && "
		   "ip addr add " GATEWAY "/32 dev lo && ip route add default via " GATEWAY
		   " dev gw0") != 0) {
		fprintf(stderr, "fuzz_natpmp: cannot set up the router's namespace (iproute2?)\n");
		exit(1);
	}
	inet_pton(AF_INET, GATEWAY, &a.sin_addr);
	router = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (router < 0 || bind(router, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "fuzz_natpmp: router socket: %s\n", strerror(errno));
		exit(1);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(-2); /* quiet: a warning for every failed mapping */
	fuzz_make_seeds(argc, argv, seeds);
	setup_namespace();
	base = event_base_new();
	router_ev = event_new(base, router, EV_READ | EV_PERSIST, on_request, NULL);
	event_add(router_ev, NULL);
	return 0;
}
