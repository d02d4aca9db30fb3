/* ctl_schema.c: a control request checked against its command's entry in
 * cmd_schemas[] (src/core/cmdschema.c) before the handler sees it.
 *
 * Types first, then values, so a request that is wrong in both ways is
 * told about its types (bad_request) before its values
 * (invalid_argument); each message names the field.  Fields a command does
 * not know are left alone: a script written for a newer daemon still
 * works (docs/CONTROL.md).  Once a request has passed, its handler reads
 * its fields with ctl_str() and ctl_port() without checking them again. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cmdschema.h"
#include "control.h"

/* present() - the field's value, or NULL when absent or null (the same,
 * for an optional field) */
static json_t *present(json_t *req, const char *key)
{
	json_t *v = json_object_get(req, key);

	return v && !json_is_null(v) ? v : NULL;
}

/* type_name() - the JSON type a field must have, for messages */
static const char *type_name(enum cmd_type t)
{
	switch (t) {
	case CMD_INT:
		return "an integer";
	case CMD_LIST:
	case CMD_ARGV:
		return "an array of strings";
	case CMD_BOOL:
		return "true or false";
	case CMD_STRING:
	default:
		return "a string";
	}
}

/* type_ok() - v has the JSON type of f (every element, for a list) */
static int type_ok(const struct cmd_field *f, json_t *v)
{
	json_t *e;
	size_t i;

	switch (f->type) {
	case CMD_INT:
		return json_is_integer(v);
	case CMD_BOOL:
		return json_is_boolean(v);
	case CMD_LIST:
	case CMD_ARGV:
		if (!json_is_array(v))
			return 0;
		json_array_foreach(v, i, e)
			if (!json_is_string(e))
				return 0;
		return 1;
	case CMD_STRING:
	default:
		return json_is_string(v);
	}
}

/* check_types() - every field present with its type, required ones there */
static int check_types(const struct cmd_schema *c, json_t *req, struct ctl_error *err)
{
	size_t i, n = cmd_schema_nfields(c);

	for (i = 0; i < n; i++) {
		const struct cmd_field *f = &c->fields[i];
		json_t *v = present(req, f->key);

		if ((!v && (f->flags & CMDF_REQUIRED)) || (v && !type_ok(f, v))) {
			ctl_fail(err, "bad_request", "field \"%s\" must be %s", f->key,
				 type_name(f->type));
			return -1;
		}
	}
	return 0;
}

/* check_list() - a list's length and each of its elements */
static int check_list(const struct cmd_field *f, json_t *v, struct ctl_error *err)
{
	const char *why;
	json_t *e;
	size_t i;

	if (f->max_items && json_array_size(v) > f->max_items) {
		ctl_fail(err, "invalid_argument", "%s: at most %zu", f->key, f->max_items);
		return -1;
	}
	json_array_foreach(v, i, e) {
		if (f->check && (why = f->check(json_string_value(e)))) {
			ctl_fail(err, "invalid_argument", "%s %zu \"%.64s\": %s", f->key, i + 1,
				 json_string_value(e), why);
			return -1;
		}
	}
	return 0;
}

/* check_value() - one present field's value, its type known good */
static int check_value(const struct cmd_field *f, json_t *v, struct ctl_error *err)
{
	char num[32];
	const char *why;

	if (f->type == CMD_LIST || f->type == CMD_ARGV)
		return check_list(f, v, err);
	if (!f->check || f->type == CMD_BOOL)
		return 0;
	if (f->type == CMD_INT) {
		/* the check reads decimal, as omnetctl's command line has it */
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		if ((why = f->check(num)))
			ctl_fail(err, "invalid_argument", "%s %s: %s", f->key, num, why);
	} else if ((why = f->check(json_string_value(v)))) {
		ctl_fail(err, "invalid_argument", "%s \"%.64s\": %s", f->key,
			 json_string_value(v), why);
	}
	return why ? -1 : 0;
}

int ctl_schema_check(const struct cmd_schema *c, unsigned role, json_t *req,
		     struct ctl_error *err)
{
	size_t i, n = cmd_schema_nfields(c);

	if (!(c->roles & role)) {
		ctl_fail(err, "wrong_role", "%s", c->role_msg ? c->role_msg : "not for this role");
		return -1;
	}
	if (check_types(c, req, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		json_t *v = present(req, c->fields[i].key);

		if (v && check_value(&c->fields[i], v, err) < 0)
			return -1;
	}
	if (c->pair[0] && !present(req, c->pair[0]) != !present(req, c->pair[1])) {
		ctl_fail(err, "invalid_argument", "fields \"%s\" and \"%s\" go together",
			 c->pair[0], c->pair[1]);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (c->fields[i].dflt && !present(req, c->fields[i].key))
			json_object_set_new(req, c->fields[i].key, json_string(c->fields[i].dflt));
	return 0;
}

const char *ctl_str(json_t *req, const char *key)
{
	return json_string_value(present(req, key));
}

uint16_t ctl_port(json_t *req, const char *key)
{
	json_int_t v = json_integer_value(present(req, key));

	return v >= 1 && v <= 65535 ? (uint16_t)v : 0;
}
