/* fuzz_control.c: control requests through the real command handlers of a
 * consumer daemon (src/control.c, src/ctl_cmds.c and what they call).
 *
 * The daemon is set up once, as omnetd sets it up, in a network namespace
 * of the harness's own (no default route: a router mapping fails at once,
 * and whatever a request makes the daemon send goes nowhere) with its
 * state in a private tmpfs.  Each line of the input is one request,
 * handled by control_request() exactly as a client's line is; every
 * request gets one reply, a JSON object with "ok" and, on an error, one of
 * the documented codes.  The peers, networks and forwards an input made
 * are removed before the next one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "control.h"
#include "daemon.h"
#include "forward.h"
#include "fuzz.h"
#include "log.h"
#include "network.h"
#include "peer.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)
#define MAX_LINES 32

static struct daemon d;

static const char *const codes[] = {
	"bad_request", "unknown_command", "invalid_argument", "not_found", "exists", "in_use",
	"mapping_failed", "wrong_role", "unsupported", "internal", "busy", NULL,
};

static void check_reply(const char *reply)
{
	json_error_t jerr;
	json_t *r = json_loads(reply, 0, &jerr), *ok, *code;
	size_t i;

	CHECK(r && json_is_object(r));
	ok = json_object_get(r, "ok");
	CHECK(json_is_boolean(ok));
	if (json_is_false(ok)) {
		code = json_object_get(json_object_get(r, "error"), "code");
		CHECK(json_is_string(code));
		for (i = 0; codes[i] && strcmp(codes[i], json_string_value(code)) != 0; i++)
			;
		CHECK(codes[i] != NULL);
	} else {
		CHECK(json_object_get(r, "result") != NULL);
	}
	json_decref(r);
}

/* reset() - the daemon as it was before the input */
static void reset(void)
{
	struct network *n;
	struct peer *p;

	forward_free_all(&d);
	while ((n = TAILQ_FIRST(&d.networks)))
		network_delete(n, 0);
	while ((p = TAILQ_FIRST(&d.peers)))
		peer_free(p);
	free(d.deleted);
	d.deleted = NULL;
	d.ndeleted = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	int lines = 0;

	while (p < end && lines < MAX_LINES) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		char *reply;

		if (len > 0) {
			lines++;
			reply = control_request(&d, (const char *)p, len, 3000);
			CHECK(reply != NULL); /* one reply per request, in time */
			check_reply(reply);
			free(reply);
		}
		p += len + 1;
	}
	reset();
	return 0;
}

/* ---- seeds: the requests of docs/CONTROL.md ------------------------------ */

#define FP "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define NET "0123456789abcdef0123456789abcdef"
static const char *const samples[] = {
	"{\"cmd\":\"status\"}\n{\"cmd\":\"identity\"}\n",
	("{\"cmd\":\"peer.add\",\"name\":\"alice\",\"fingerprint\":\"" FP "\","
	 "\"endpoints\":[\"192.0.2.1:6950\",\"[2001:db8::1]:6950\"],\"relay\":\"r1\"}\n"
	 "{\"cmd\":\"peer.list\"}\n{\"cmd\":\"disconnect\",\"peer\":\"alice\"}\n"
	 "{\"cmd\":\"connect\",\"peer\":\"alice\"}\n{\"cmd\":\"peer.remove\",\"name\":\"alice\"}\n"),
	("{\"cmd\":\"peer.add\",\"name\":\"alice\",\"fingerprint\":\"" FP "\"}\n"
	 "{\"cmd\":\"network.add\",\"id\":\"" NET "\",\"peer\":\"alice\"}\n"
	 "{\"cmd\":\"network.list\"}\n{\"cmd\":\"flows\",\"network\":\"" NET "\"}\n"
	 "{\"cmd\":\"forward.add\",\"proto\":\"tcp\",\"external_port\":8080,\"vm_port\":80}\n"
	 "{\"cmd\":\"forward.add\",\"proto\":\"udp\",\"external_port\":5353,\"vm_port\":53,"
	 "\"map\":\"pcp\"}\n"
	 "{\"cmd\":\"forward.list\"}\n{\"cmd\":\"forward.remove\",\"proto\":\"tcp\",\"external_port\":8080}\n"
	 "{\"cmd\":\"network.delete\",\"id\":\"" NET "\"}\n"),
	("not json\n{\"cmd\":\"peer.remove\"}\n{\"cmd\":\"peer.frob\"}\n[1,2]\n{\"cmd\":5}\n"
	 "{\"cmd\":\"forward.add\",\"proto\":\"tcp\",\"external_port\":0,\"vm_port\":1e400}\n"),
};

static void seeds(const char *dir)
{
	fuzz_seed_texts(dir, "requests", samples, sizeof(samples) / sizeof(samples[0]));
}

/* setup() - a consumer daemon as omnetd's main() makes one */
static void setup(void)
{
	const char *dir = FUZZ_TMP "/control"; /* a private tmpfs */
	char err[1024], path[128];
	FILE *f;

	fuzz_private_namespaces();
	if (system("ip link set lo up") != 0)
		fprintf(stderr, "fuzz_control: loopback stays down\n");
	if (mkdir(dir, 0700) < 0) {
		fprintf(stderr, "fuzz_control: %s: %s\n", dir, strerror(errno));
		exit(1);
	}
	config_defaults(&d.cfg);
	snprintf(d.cfg.state_dir, sizeof(d.cfg.state_dir), "%s/state", dir);
	snprintf(d.cfg.control_socket, sizeof(d.cfg.control_socket), "%s/ctl.sock", dir);
	snprintf(d.cfg.resolv_conf, sizeof(d.cfg.resolv_conf), "%s/resolv.conf", dir);
	snprintf(path, sizeof(path), "%s", d.cfg.resolv_conf);
	f = fopen(path, "w");
	if (!f || fputs("nameserver 192.0.2.53\n", f) < 0 || fclose(f) != 0)
		exit(1);
	if (addr_parse("127.0.0.1:0", OMNET_DEFAULT_PORT, &d.cfg.listen, &d.cfg.listen_len) < 0 ||
	    daemon_init(&d, ROLE_CONSUMER, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_control: %s\n", err);
		exit(1);
	}
	fprintf(stderr, "fuzz_control: a consumer daemon in a private %s\n", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(-2); /* quiet: the daemon's warnings for every bad request */
	fuzz_make_seeds(argc, argv, seeds);
	setup();
	return 0;
}
