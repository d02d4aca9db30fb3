/* resolv.c: nameserver lines of resolv.conf (resolv.conf(5)).
 *
 * Follows glibc's reading: a line is a keyword and its value separated by
 * blanks; '#' or ';' starts a comment; "nameserver" takes one numeric
 * address and anything after it is ignored.  Pure apart from reading the
 * one file it is given. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolv.h"
#include "util.h"

#define DNS_PORT	53
#define BLANKS		" \t\r\n"

/* nameserver_parse() - the address of one "nameserver" value, its IPv6
 * scope dropped (we reach the server from another namespace and host, so
 * an interface index would mean nothing there) */
static int nameserver_parse(char *val, struct ipport *ns)
{
	char *pct = strchr(val, '%');

	if (pct)
		*pct = '\0';
	memset(ns, 0, sizeof(*ns));
	ns->port = DNS_PORT;
	if (inet_pton(AF_INET, val, ns->addr) == 1) {
		ns->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, val, ns->addr) == 1) {
		ns->family = AF_INET6;
		return 0;
	}
	return -1;
}

/* line_nameserver() - parse one line into ns; 0 if it is a nameserver line
 * with a usable address, -1 otherwise */
static int line_nameserver(char *line, struct ipport *ns)
{
	char *save = NULL, *key, *val;

	line[strcspn(line, "#;")] = '\0';
	key = strtok_r(line, BLANKS, &save);
	if (!key || strcmp(key, "nameserver"))
		return -1;
	val = strtok_r(NULL, BLANKS, &save);
	if (!val)
		return -1;
	return nameserver_parse(val, ns);
}

int resolv_nameservers(const char *path, struct ipport *out, size_t max, char *err,
		       size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0, n = 0;
	int ret;

	if (max > INT_MAX)
		max = INT_MAX;
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (n < max && getline(&line, &cap, f) >= 0)
		if (line_nameserver(line, &out[n]) == 0)
			n++;
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		ret = -1;
	} else {
		ret = (int)n;
	}
	free(line);
	fclose(f);
	return ret;
}
