/* test_control.c: the control socket's own code, without a whole daemon.
 *
 * A daemon here is an event base, a fingerprint and the control socket in
 * a temporary directory: enough for the framing, the error replies and
 * the commands that read nothing else (identity).  Pipelining, half-close
 * and connection limits are exercised end to end by
 * tests/integration/test_control.sh. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "control.h"
#include "daemon.h"
#include "log.h"

struct fixture {
	struct daemon d;
	char dir[64], path[96];
};

static void setup(struct fixture *f)
{
	char err[512];

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/omnet-test-control.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/ctl.sock", f->dir);
	f->d.base = event_base_new();
	snprintf(f->d.id.fingerprint, sizeof(f->d.id.fingerprint), "sha256:%064d", 7);
	f->d.control = control_new(&f->d, f->path, err, sizeof(err));
	ck_assert_msg(f->d.control != NULL, "%s", err);
}

static void teardown(struct fixture *f)
{
	control_free(f->d.control);
	event_base_free(f->d.base);
	rmdir(f->dir);
}

static char *request(struct fixture *f, const char *line, size_t len)
{
	return control_request(&f->d, line, len, 2000);
}

START_TEST(test_socket_path_too_long_closes_no_other_descriptor)
{
	struct daemon d = { 0 };
	char path[300], err[512];
	int p[2], saved = dup(0);

	/* descriptor 0 is a pipe we can tell apart: still open afterwards? */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_ge(dup2(p[0], 0), 0);
	memset(path, 'x', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	d.base = event_base_new();
	ck_assert_ptr_null(control_new(&d, path, err, sizeof(err)));
	ck_assert_msg(strstr(err, "path too long") != NULL, "%s", err);
	ck_assert_msg(fcntl(0, F_GETFD) != -1, "descriptor 0 was closed: %s", strerror(errno));
	event_base_free(d.base);
	dup2(saved, 0);
	close(saved);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_request_without_socket_gets_its_reply)
{
	struct fixture f;
	const char *req = "{\"cmd\":\"identity\"}";
	char *r;

	setup(&f);
	r = request(&f, req, strlen(req));
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r, "{\"ok\":true,\"result\":{\"fingerprint\":\"sha256:"
			    "0000000000000000000000000000000000000000000000000000000000000007\"}}");
	free(r);
	ck_assert_uint_eq(f.d.ctr.control_requests, 1);
	ck_assert_uint_eq(f.d.ctr.control_errors, 0);
	teardown(&f);
}
END_TEST

START_TEST(test_malformed_requests_get_error_replies)
{
	static const struct {
		const char *line, *code;
	} cases[] = {
		{ "not json", "bad_request" },
		{ "[1,2]", "bad_request" },
		{ "{\"cmd\":5}", "bad_request" },
		{ "{\"cmd\":\"identity\",\"cmd\":\"status\"}", "bad_request" },
		{ "{\"cmd\":\"peer.frob\"}", "unknown_command" },
		{ "{\"cmd\":\"identity\\u0000\"}", "bad_request" },
	};
	struct fixture f;
	char want[64], *r;
	size_t i;

	setup(&f);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = request(&f, cases[i].line, strlen(cases[i].line));
		ck_assert_ptr_nonnull(r);
		snprintf(want, sizeof(want), "\"code\":\"%s\"", cases[i].code);
		ck_assert_msg(strstr(r, want) != NULL, "%s: %s", cases[i].line, r);
		free(r);
	}
	ck_assert_uint_eq(f.d.ctr.control_errors, i);
	teardown(&f);
}
END_TEST

/* CONTROL.md: a line longer than 65536 bytes is refused, however it
 * arrives (here in one piece, its LF with it) */
START_TEST(test_line_over_the_limit_is_refused_even_in_one_piece)
{
	struct fixture f;
	size_t len = CONTROL_LINE_MAX + 100;
	char *line = malloc(len), *r;

	setup(&f);
	memset(line, ' ', len);
	memcpy(line, "{\"cmd\":\"identity\"}", 18);
	r = request(&f, line, len);
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(strstr(r, "line longer than 65536 bytes") != NULL, "%s", r);
	free(r);
	r = request(&f, line, CONTROL_LINE_MAX);
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(strstr(r, "\"ok\":true") != NULL, "a line of exactly the limit: %s", r);
	free(r);
	free(line);
	teardown(&f);
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("control");

	tcase_add_test(tc, test_socket_path_too_long_closes_no_other_descriptor);
	tcase_add_test(tc, test_request_without_socket_gets_its_reply);
	tcase_add_test(tc, test_malformed_requests_get_error_replies);
	tcase_add_test(tc, test_line_over_the_limit_is_refused_even_in_one_piece);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	log_init(-1);
	sr = srunner_create(control_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
