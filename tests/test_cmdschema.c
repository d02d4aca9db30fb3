/* test_cmdschema.c: the control commands' table and the checks of their
 * values (src/core/cmdschema.c), which omnetd, omnetctl and omnetd.conf's
 * names share. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdschema.h"
#include "config.h"

struct value_case {
	cmd_check_fn check;
	const char *what; /* the check's name, for messages */
	const char *value;
	int ok;
};

#define OK(fn, v) { fn, #fn, v, 1 }
#define BAD(fn, v) { fn, #fn, v, 0 }
#define FP64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const struct value_case value_cases[] = {
	OK(cmd_check_name, "alice"),
	OK(cmd_check_name, "carol.x_1-2"),
	OK(cmd_check_name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), /* 63 */
	BAD(cmd_check_name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), /* 64 */
	BAD(cmd_check_name, ""),
	BAD(cmd_check_name, "al ice"),
	BAD(cmd_check_name, "a/b"),
	BAD(cmd_check_name, "caf\xc3\xa9"),
	OK(cmd_check_iface, "tap0"),
	OK(cmd_check_iface, "veth-vm2.100"),
	OK(cmd_check_iface, "abcdefghijklmno"), /* 15 */
	BAD(cmd_check_iface, "abcdefghijklmnop"), /* 16: IFNAMSIZ with its NUL */
	BAD(cmd_check_iface, ""),
	BAD(cmd_check_iface, "."),
	BAD(cmd_check_iface, ".."),
	BAD(cmd_check_iface, "a/b"),
	BAD(cmd_check_iface, "a:1"),
	BAD(cmd_check_iface, "ta p"),
	BAD(cmd_check_iface, "ta\tp"),
	BAD(cmd_check_iface, "ta\"p"),
	BAD(cmd_check_iface, "ta\\p"),
	BAD(cmd_check_iface, "t\xc3\xa4p"),
	OK(cmd_check_netns, "vm1"),
	OK(cmd_check_netns, "/run/netns/vm1"),
	BAD(cmd_check_netns, ""),
	BAD(cmd_check_netns, "vm\n1"),
	OK(cmd_check_netid, "0123456789abcdef0123456789abcdef"),
	OK(cmd_check_netid, "0123456789ABCDEF0123456789ABCDEF"),
	BAD(cmd_check_netid, "0123456789abcdef"),
	BAD(cmd_check_netid, "0123456789abcdef0123456789abcdef0"),
	BAD(cmd_check_netid, "0123456789abcdef0123456789abcdeX"),
	OK(cmd_check_fingerprint, "sha256:" FP64),
	BAD(cmd_check_fingerprint, "sha256:0123"),
	BAD(cmd_check_fingerprint, FP64),
	BAD(cmd_check_fingerprint, "sha256:" FP64 "0"),
	BAD(cmd_check_fingerprint, "md5:" FP64),
	OK(cmd_check_port, "1"),
	OK(cmd_check_port, "65535"),
	BAD(cmd_check_port, "0"),
	BAD(cmd_check_port, "65536"),
	BAD(cmd_check_port, "-1"),
	BAD(cmd_check_port, "+80"),
	BAD(cmd_check_port, "80x"),
	BAD(cmd_check_port, ""),
	BAD(cmd_check_port, "-9223372036854775808"),
	OK(cmd_check_proto, "tcp"),
	OK(cmd_check_proto, "udp"),
	BAD(cmd_check_proto, "sctp"),
	BAD(cmd_check_proto, "TCP"), /* omnetctl folds before it checks; omnetd does not */
	OK(cmd_check_map, "none"),
	OK(cmd_check_map, "auto"),
	BAD(cmd_check_map, "magic"),
	/* endpoints: the port may be left out, omnetd supplies it */
	OK(cmd_check_endpoint, "192.0.2.1:6950"),
	OK(cmd_check_endpoint, "192.0.2.1"),
	OK(cmd_check_endpoint, "[2001:db8::1]:6950"),
	OK(cmd_check_endpoint, "[2001:db8::1]"),
	/* a bare IPv6 is all address, as in the configuration file */
	OK(cmd_check_endpoint, "2001:db8::1:6950"),
	BAD(cmd_check_endpoint, "2001:db8::1:6950:1:2:3:4:5"),
	BAD(cmd_check_endpoint, "192.0.2.1:0"),
	BAD(cmd_check_endpoint, "192.0.2.1:"),
	BAD(cmd_check_endpoint, "192.0.2.1:65536"),
	BAD(cmd_check_endpoint, "relay.example.net:6950"),
	BAD(cmd_check_endpoint, "[192.0.2.1]:6950"),
	BAD(cmd_check_endpoint, "[2001:db8::1]x"),
	BAD(cmd_check_endpoint, "[2001:db8::1"),
	BAD(cmd_check_endpoint, "0.0.0.0:6950"),
	BAD(cmd_check_endpoint, "[::]"),
	BAD(cmd_check_endpoint, "*:6950"),
	BAD(cmd_check_endpoint, ""),
	OK(cmd_check_destination, "203.0.113.10:80"),
	OK(cmd_check_destination, "198.51.100.10"),
	OK(cmd_check_destination, "2001:db8::1"),
	OK(cmd_check_destination, "[2001:db8::1]:443"),
	OK(cmd_check_destination, "[fd00:ec2::254]"),
	BAD(cmd_check_destination, "example.org:80"),
	BAD(cmd_check_destination, "198.51.100.7:0"),
	BAD(cmd_check_destination, "2001:db8::1:443x"),
	BAD(cmd_check_destination, ""),
	BAD(cmd_check_destination, "[]"),
};

START_TEST(test_each_check_takes_what_it_should_and_says_what_it_expected)
{
	const struct value_case *c = &value_cases[_i];
	const char *why = c->check(c->value);

	if (c->ok)
		ck_assert_msg(why == NULL, "%s(\"%s\") refused: %s", c->what, c->value, why);
	else
		ck_assert_msg(why != NULL && *why, "%s(\"%s\") accepted", c->what, c->value);
}
END_TEST

START_TEST(test_destination_parses_address_and_port)
{
	struct ipport a;
	int has_port = -1;

	ck_assert_int_eq(cmd_parse_destination("[2001:db8::1]:443", &a, &has_port), 0);
	ck_assert_int_eq(a.family, AF_INET6);
	ck_assert_int_eq(a.port, 443);
	ck_assert_int_eq(has_port, 1);
	ck_assert_int_eq(cmd_parse_destination("198.51.100.10", &a, &has_port), 0);
	ck_assert_int_eq(a.family, AF_INET);
	ck_assert_int_eq(a.port, 0);
	ck_assert_int_eq(has_port, 0);
	ck_assert_int_eq(a.addr[0], 198);
}
END_TEST

/* omnetd.conf names a peer with the same check as the control socket */
START_TEST(test_config_names_are_the_commands_names)
{
	const char *names[] = { "alice", "a.b_c-1", "", "al ice", "a/b",
				"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_msg(config_name_valid(names[i]) == (cmd_check_name(names[i]) == NULL),
			      "\"%s\": config and commands disagree", names[i]);
}
END_TEST

/* field_index() - the index of field key in c, or -1 */
static int field_index(const struct cmd_schema *c, const char *key, size_t len)
{
	size_t k, n = cmd_schema_nfields(c);

	for (k = 0; k < n; k++)
		if (strlen(c->fields[k].key) == len && strncmp(c->fields[k].key, key, len) == 0)
			return (int)k;
	return -1;
}

/* every confirmation names only fields of its command */
static void check_done_template(const struct cmd_schema *c)
{
	const char *p, *end;

	for (p = c->done; p && (p = strchr(p, '{')); p = end + 1) {
		end = strchr(p, '}');
		ck_assert_msg(end != NULL, "%s: unclosed { in \"%s\"", c->name, c->done);
		ck_assert_msg(field_index(c, p + 1, (size_t)(end - p - 1)) >= 0,
			      "%s: \"%s\" names no field of the command", c->name, c->done);
	}
}

/* one field: well-formed for both omnetd's walk and omnetctl's command line */
static void check_field(const struct cmd_schema *c, const struct cmd_field *f)
{
	ck_assert_msg(!(f->flags & CMDF_REQUIRED) || !f->dflt,
		      "%s.%s: required and with a default", c->name, f->key);
	ck_assert_msg(f->type != CMD_INT || f->check, "%s.%s: an integer needs a check (its range)",
		      c->name, f->key);
	ck_assert_msg(f->type == CMD_LIST || f->type == CMD_ARGV || !f->max_items,
		      "%s.%s: max_items on a non-list", c->name, f->key);
	ck_assert_msg((f->type != CMD_LIST && f->type != CMD_ARGV) || f->flag,
		      "%s.%s: a list must be an option (repeated, or the words after --)", c->name,
		      f->key);
	/* omnetctl takes an option without a value for these, and the words
	 * after `--` for a command line: no default, never required */
	ck_assert_msg((f->type != CMD_BOOL && f->type != CMD_ARGV) ||
		      (f->flag && !f->dflt && !(f->flags & CMDF_REQUIRED)),
		      "%s.%s: a flag or a command line must be an optional option", c->name, f->key);
	ck_assert_msg(f->type != CMD_ARGV || f->max_items == CMD_ARGV_MAX,
		      "%s.%s: a command line of at most CMD_ARGV_MAX words", c->name, f->key);
	ck_assert_msg(!f->dflt || !f->check || !f->check(f->dflt),
		      "%s.%s: its default fails its own check", c->name, f->key);
	ck_assert_msg(!f->flag || f->meta, "%s.%s: an option without a meta", c->name, f->key);
	ck_assert_msg(!f->flag || strncmp(f->flag, "--", 2) == 0, "%s.%s: option %s",
		      c->name, f->key, f->flag);
}

START_TEST(test_every_command_is_well_formed)
{
	size_t i, j, k, n;

	ck_assert_uint_ge(cmd_schemas_count, 15);
	for (i = 0; i < cmd_schemas_count; i++) {
		const struct cmd_schema *c = &cmd_schemas[i];

		ck_assert_ptr_eq(cmd_schema_find(c->name), c);
		ck_assert_msg(c->roles && !(c->roles & ~CMD_ROLES_ALL), "%s: roles", c->name);
		ck_assert_msg(c->roles == CMD_ROLES_ALL || c->role_msg, "%s: no wrong_role message",
			      c->name);
		ck_assert_msg(c->args && c->about, "%s: no help", c->name);
		n = cmd_schema_nfields(c);
		ck_assert_uint_lt(n, CMD_FIELDS_MAX); /* the terminator fits */
		for (k = 0; k < n; k++) {
			check_field(c, &c->fields[k]);
			for (j = 0; j < k; j++)
				ck_assert_msg(strcmp(c->fields[j].key, c->fields[k].key) != 0,
					      "%s: field %s twice", c->name, c->fields[k].key);
		}
		for (k = 0; k < 2 && c->pair[0]; k++)
			ck_assert_msg(c->pair[k] && field_index(c, c->pair[k], strlen(c->pair[k])) >= 0,
				      "%s: pair names no field", c->name);
		check_done_template(c);
	}
	ck_assert_ptr_null(cmd_schema_find("peer.frob"));
	ck_assert_ptr_null(cmd_schema_find(""));
}
END_TEST

/* the contract (docs/CONTROL.md): no command and no field goes away */
START_TEST(test_the_documented_commands_and_fields_are_there)
{
	static const char *const want[][6] = {
		{ "status" }, { "identity" },
		{ "peer.add", "name", "fingerprint", "endpoints", "relay", "relays" },
		{ "peer.list" }, { "peer.remove", "name" },
		{ "network.add", "id", "peer", "netns", "iface" },
		{ "network.list" }, { "network.delete", "id" }, { "flows", "network" },
		{ "connect", "peer" }, { "disconnect", "peer" },
		{ "forward.add", "network", "proto", "external_port", "vm_port", "map" },
		{ "forward.list" }, { "forward.remove", "network", "proto", "external_port" },
		{ "policy.check", "destination", "port", "proto" },
	};
	size_t i, k;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct cmd_schema *c = cmd_schema_find(want[i][0]);

		ck_assert_msg(c != NULL, "no command %s", want[i][0]);
		for (k = 1; k < 6 && want[i][k]; k++)
			ck_assert_msg(field_index(c, want[i][k], strlen(want[i][k])) >= 0,
				      "%s: no field %s", want[i][0], want[i][k]);
	}
}
END_TEST

static Suite *cmdschema_suite(void)
{
	Suite *s = suite_create("cmdschema");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_each_check_takes_what_it_should_and_says_what_it_expected, 0,
			    (int)(sizeof(value_cases) / sizeof(value_cases[0])));
	tcase_add_test(tc, test_destination_parses_address_and_port);
	tcase_add_test(tc, test_config_names_are_the_commands_names);
	tcase_add_test(tc, test_every_command_is_well_formed);
	tcase_add_test(tc, test_the_documented_commands_and_fields_are_there);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cmdschema_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
