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
#include <jansson.h>

#include "cmdschema.h"
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
		/* the error quotes 64 bytes of the value, which end in the
		 * middle of a two-byte character (found by fuzz_control) */
		{ "{\"cmd\":\"peer.add\",\"name\":\"alice\",\"fingerprint\":\"sha257:0123456789"
		  "abcdef0123456789abcdef0123456789abcdef01234567\xc8\xbf\"}", "invalid_argument" },
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

/* ---- the schema walk: every command of cmd_schemas[] ------------------ */

/* role_of() - a daemon role whose bit is in roles: the first there */
static enum role role_of(unsigned roles)
{
	if (roles & CMD_ROLE_PROVIDER)
		return ROLE_PROVIDER;
	return roles & CMD_ROLE_CONSUMER ? ROLE_CONSUMER : ROLE_RELAY;
}

/* good_string() - a value check accepts */
static const char *good_string(cmd_check_fn check)
{
	if (check == cmd_check_name)
		return "alice";
	if (check == cmd_check_netid)
		return "0123456789abcdef0123456789abcdef";
	if (check == cmd_check_fingerprint)
		return "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	if (check == cmd_check_port)
		return "80";
	if (check == cmd_check_proto)
		return "udp";
	if (check == cmd_check_map)
		return "none";
	if (check == cmd_check_endpoint || check == cmd_check_destination)
		return "192.0.2.1";
	if (check == cmd_check_iface)
		return "tap0";
	return "vm1";
}

/* good_value() - a value of field f that passes its type and check */
static json_t *good_value(const struct cmd_field *f)
{
	if (f->type == CMD_INT)
		return json_integer(atoi(good_string(f->check)));
	if (f->type == CMD_LIST)
		return json_pack("[s]", good_string(f->check));
	return json_string(good_string(f->check));
}

/* bad_value() - a value of f's type that its check refuses */
static json_t *bad_value(const struct cmd_field *f)
{
	if (f->type == CMD_INT)
		return json_integer(0);
	if (f->type == CMD_LIST)
		return json_pack("[s]", "bad value!");
	return json_string(f->check == cmd_check_netns ? "bad\nvalue" : "bad value!");
}

/* mistyped() - a value of the wrong JSON type for f */
static json_t *mistyped(const struct cmd_field *f)
{
	return f->type == CMD_STRING ? json_integer(5) : json_string("5");
}

/* build() - a request for c with every required field good, but key
 * (if not NULL) set to v (NULL: left out); v is taken */
static json_t *build(const struct cmd_schema *c, const char *key, json_t *v)
{
	json_t *req = json_pack("{s:s}", "cmd", c->name);
	size_t k, n = cmd_schema_nfields(c);

	for (k = 0; k < n; k++)
		if ((c->fields[k].flags & CMDF_REQUIRED) && !(key && !strcmp(key, c->fields[k].key)))
			json_object_set_new(req, c->fields[k].key, good_value(&c->fields[k]));
	if (key && v)
		json_object_set_new(req, key, v);
	return req;
}

/* expect_error() - req (taken) is answered with code, its message
 * holding each of the non-NULL strings in has */
static void expect_error(struct fixture *f, json_t *req, const char *code, const char *has1,
			 const char *has2)
{
	char *line = json_dumps(req, JSON_COMPACT), *r;
	json_t *reply, *err;
	const char *msg;

	json_decref(req);
	r = request(f, line, strlen(line));
	ck_assert_ptr_nonnull(r);
	reply = json_loads(r, 0, NULL);
	err = json_object_get(reply, "error");
	msg = json_string_value(json_object_get(err, "message"));
	ck_assert_msg(json_is_false(json_object_get(reply, "ok")), "%s: %s", line, r);
	ck_assert_msg(!strcmp(json_string_value(json_object_get(err, "code")), code),
		      "%s: %s, wanted %s", line, r, code);
	ck_assert_msg(!has1 || strstr(msg, has1), "%s: %s does not say %s", line, r, has1);
	ck_assert_msg(!has2 || strstr(msg, has2), "%s: %s does not say %s", line, r, has2);
	json_decref(reply);
	free(r);
	free(line);
}

START_TEST(test_every_command_has_a_schema_and_a_handler)
{
	const struct ctl_command *h;
	size_t i, n = 0;

	for (i = 0; i < cmd_schemas_count; i++) {
		for (h = ctl_commands; h->name && strcmp(h->name, cmd_schemas[i].name); h++)
			;
		ck_assert_msg(h->name != NULL, "%s: no handler", cmd_schemas[i].name);
	}
	for (h = ctl_commands; h->name; h++, n++)
		ck_assert_msg(cmd_schema_find(h->name) != NULL, "%s: no schema", h->name);
	ck_assert_uint_eq(n, cmd_schemas_count);
}
END_TEST

/* a required field left out: bad_request, naming it */
START_TEST(test_a_missing_field_is_bad_request_naming_it)
{
	struct fixture f;
	char quoted[64];
	size_t i, k, tried = 0;

	setup(&f);
	for (i = 0; i < cmd_schemas_count; i++) {
		const struct cmd_schema *c = &cmd_schemas[i];

		f.d.role = role_of(c->roles);
		for (k = 0; k < cmd_schema_nfields(c); k++) {
			if (!(c->fields[k].flags & CMDF_REQUIRED))
				continue;
			snprintf(quoted, sizeof(quoted), "\"%s\"", c->fields[k].key);
			expect_error(&f, build(c, c->fields[k].key, NULL), "bad_request", quoted, NULL);
			expect_error(&f, build(c, c->fields[k].key, json_null()), "bad_request",
				     quoted, NULL);
			tried++;
		}
	}
	ck_assert_uint_ge(tried, 10);
	teardown(&f);
}
END_TEST

/* any field of the wrong JSON type: bad_request, naming it */
START_TEST(test_a_field_of_the_wrong_type_is_bad_request_naming_it)
{
	struct fixture f;
	char quoted[64];
	size_t i, k, tried = 0;

	setup(&f);
	for (i = 0; i < cmd_schemas_count; i++) {
		const struct cmd_schema *c = &cmd_schemas[i];

		f.d.role = role_of(c->roles);
		for (k = 0; k < cmd_schema_nfields(c); k++, tried++) {
			snprintf(quoted, sizeof(quoted), "\"%s\"", c->fields[k].key);
			expect_error(&f, build(c, c->fields[k].key, mistyped(&c->fields[k])),
				     "bad_request", quoted, NULL);
		}
	}
	ck_assert_uint_ge(tried, 25);
	/* a list holding something other than strings */
	expect_error(&f, build(cmd_schema_find("peer.add"), "endpoints", json_pack("[i]", 1)),
		     "bad_request", "\"endpoints\"", NULL);
	teardown(&f);
}
END_TEST

/* a value its check refuses: invalid_argument, naming the field and
 * saying what was expected, in the words omnetctl uses */
START_TEST(test_a_refused_value_is_invalid_argument_naming_it)
{
	struct fixture f;
	size_t i, k, tried = 0;

	setup(&f);
	for (i = 0; i < cmd_schemas_count; i++) {
		const struct cmd_schema *c = &cmd_schemas[i];

		f.d.role = role_of(c->roles);
		for (k = 0; k < cmd_schema_nfields(c); k++) {
			const struct cmd_field *fl = &c->fields[k];
			const char *why;

			if (!fl->check)
				continue;
			why = fl->check(fl->type == CMD_INT ? "0" : fl->check == cmd_check_netns
								? "bad\nvalue" : "bad value!");
			expect_error(&f, build(c, fl->key, bad_value(fl)), "invalid_argument",
				     fl->key, why);
			tried++;
		}
	}
	ck_assert_uint_ge(tried, 25);
	teardown(&f);
}
END_TEST

/* a command for other roles is refused before its fields are looked at */
START_TEST(test_wrong_role_comes_before_the_fields)
{
	struct fixture f;
	size_t i, tried = 0;

	setup(&f);
	for (i = 0; i < cmd_schemas_count; i++) {
		const struct cmd_schema *c = &cmd_schemas[i];
		json_t *req = json_pack("{s:s, s:i}", "cmd", c->name, "name", 5);

		if (c->roles == CMD_ROLES_ALL) {
			json_decref(req);
			continue;
		}
		f.d.role = role_of(CMD_ROLES_ALL & ~c->roles);
		expect_error(&f, req, "wrong_role", c->role_msg, NULL);
		tried++;
	}
	ck_assert_uint_ge(tried, 5);
	teardown(&f);
}
END_TEST

/* fields a command does not know are ignored; an optional null is absent */
START_TEST(test_unknown_fields_are_ignored_and_null_is_absent)
{
	static const char *const lines[] = {
		"{\"cmd\":\"identity\",\"frob\":[1,{}],\"name\":5}",
		"{\"cmd\":\"flows\",\"network\":null,\"future\":\"x\"}",
	};
	struct fixture f;
	size_t i;
	char *r;

	setup(&f);
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		r = request(&f, lines[i], strlen(lines[i]));
		ck_assert_ptr_nonnull(r);
		ck_assert_msg(!strncmp(r, "{\"ok\":true", 10), "%s: %s", lines[i], r);
		free(r);
	}
	teardown(&f);
}
END_TEST

/* names and interfaces the daemon used to take unchecked (and then said
 * not_found, or failed later) are refused up front, as omnetctl does */
START_TEST(test_names_and_interfaces_are_checked_on_every_command)
{
	static const struct {
		const char *line, *field;
	} cases[] = {
		{ "{\"cmd\":\"peer.remove\",\"name\":\"a b\"}", "name" },
		{ "{\"cmd\":\"connect\",\"peer\":\"a/b\"}", "peer" },
		{ "{\"cmd\":\"disconnect\",\"peer\":\"\"}", "peer" },
		{ "{\"cmd\":\"network.add\",\"id\":\"0123456789abcdef0123456789abcdef\","
		  "\"peer\":\"alice\",\"netns\":\"vm1\",\"iface\":\"abcdefghijklmnop\"}", "iface" },
		{ "{\"cmd\":\"network.add\",\"id\":\"0123456789abcdef0123456789abcdef\","
		  "\"peer\":\"alice\",\"netns\":\"vm1\",\"iface\":\"ta\\\"p\"}", "iface" },
		{ "{\"cmd\":\"network.add\",\"id\":\"0123456789abcdef0123456789abcdef\","
		  "\"peer\":\"al ice\"}", "peer" },
	};
	struct fixture f;
	size_t i;

	setup(&f);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(&f, json_loads(cases[i].line, 0, NULL), "invalid_argument",
			     cases[i].field, "expected");
	teardown(&f);
}
END_TEST

/* an endpoint without a port passes the walk (omnetd supplies the port):
 * the error is about the field after it */
START_TEST(test_an_endpoint_without_a_port_is_taken)
{
	const char *line = "{\"cmd\":\"peer.add\",\"name\":\"alice\",\"fingerprint\":\"sha256:"
			   "1111111111111111111111111111111111111111111111111111111111111111\","
			   "\"endpoints\":[\"192.0.2.1\",\"[2001:db8::1]\"],\"relays\":[\"r 1\"]}";
	struct fixture f;

	setup(&f);
	expect_error(&f, json_loads(line, 0, NULL), "invalid_argument", "relays 1 \"r 1\"", NULL);
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
	tcase_add_test(tc, test_every_command_has_a_schema_and_a_handler);
	tcase_add_test(tc, test_a_missing_field_is_bad_request_naming_it);
	tcase_add_test(tc, test_a_field_of_the_wrong_type_is_bad_request_naming_it);
	tcase_add_test(tc, test_a_refused_value_is_invalid_argument_naming_it);
	tcase_add_test(tc, test_wrong_role_comes_before_the_fields);
	tcase_add_test(tc, test_unknown_fields_are_ignored_and_null_is_absent);
	tcase_add_test(tc, test_names_and_interfaces_are_checked_on_every_command);
	tcase_add_test(tc, test_an_endpoint_without_a_port_is_taken);
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
