/* fuzz_config.c: the configuration parser (config_load_buf() in
 * src/config.c) on any text.
 *
 * The input is loaded onto the defaults, then loaded again onto the
 * result.  A load that fails leaves the configuration exactly as it was
 * (a failed reload keeps the running settings) and says why in a
 * terminated message; one that works can be freed. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "log.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void load(struct config *c, const uint8_t *data, size_t size)
{
	struct config before = *c;
	char err[512];
	char *copy = malloc(size ? size : 1);
	int r;

	memcpy(copy, data, size);
	memset(err, 'x', sizeof(err));
	r = config_load_buf(c, "fuzz.conf", copy, size, err, sizeof(err));
	CHECK(r == 0 || r == -1);
	if (r < 0) {
		CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
		CHECK(memcmp(&before, c, sizeof(before)) == 0);
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;

	config_defaults(&c);
	load(&c, data, size);
	load(&c, data, size);
	config_find_peer(&c, "alice");
	config_free(&c);
	return 0;
}

static const char *const samples[] = {
	"listen = 0.0.0.0:6950\nstate-dir = /var/lib/omnetd\ncontrol-socket = /run/omnetd/omnetd.sock\n"
	"user = omnet\nlog-level = debug\nresolv-conf = /etc/resolv.conf\n"
	"probe-interval-min-ms = 500\nprobe-interval-max-ms = 15000\nprobe-timeout-ms = 2500\n"
	"backoff-min-ms = 1000\nbackoff-max-ms = 60000\nmtu = 1400\nmax-flows = 4096\n"
	"memory-limit-bytes = 268435456\ncongestion-control = cubic\n",

	"[peer relay1]\nfingerprint = sha256:0000000000000000000000000000000000000000000000000000000000000001\n"
	"endpoint = 198.51.100.7:6950\n\n"
	"[peer alice]\nfingerprint = sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
	"endpoint = 192.0.2.2:6950\nendpoint = [2001:db8::2]:6950\nrelay = relay1\n\n"
	"[network 0123456789abcdef0123456789abcdef]\npeer = alice\nnetns = vm1\niface = tap0\n"
	"gateway = 10.0.3.2\ndns = 10.0.3.3\ndhcp-start = 10.0.3.15\nprefix-length = 24\n",

	"[peer alice]\nfingerprint = sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
	"[network 0123456789abcdef0123456789abcdef]\npeer = alice\n"
	"[forward]\nnetwork = 0123456789abcdef0123456789abcdef\nproto = tcp\nexternal-port = 8080\n"
	"vm-port = 80\nmap = auto\n[forward]\nproto = udp\nexternal-port = 5353\nvm-port = 53\n"
	"[egress]\nallow = 192.168.1.0/24\nallow = 192.168.1.10 port 8000-8099\n"
	"allow = 2001:db8:1::/48 port 443\ndeny = 203.0.113.0/24 port 25\ndeny = port 25\n",

	"user = \"omnet # not a comment \\\" quoted \\\\\"   # a comment\r\nlog-level = warn\r\n",
};

static void seeds(const char *dir)
{
	fuzz_seed_texts(dir, "sample", samples, sizeof(samples) / sizeof(samples[0]));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(-1);
	fuzz_make_seeds(argc, argv, seeds);
	return 0;
}
