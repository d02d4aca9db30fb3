/* userdirs.c: an ordinary user's places for omnetd's files (userdirs.h) */
#include <stdio.h>
#include <string.h>

#include "userdirs.h"

static int absolute(const char *p)
{
	return p && p[0] == '/';
}

/* join() - snprintf() that says when the path did not fit */
static int join(char *out, size_t len, const char *a, const char *b, char *err, size_t errlen)
{
	int n = snprintf(out, len, "%s%s", a, b);

	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "%s%s: path too long", a, b);
		return -1;
	}
	return 0;
}

/* first_path() - the first of systemd's colon-separated directories,
 * into buf; NULL if there is none that is absolute */
static const char *first_path(const char *list, char *buf, size_t len)
{
	size_t n;

	if (!absolute(list))
		return NULL;
	n = strcspn(list, ":");
	if (n >= len)
		return NULL;
	memcpy(buf, list, n);
	buf[n] = '\0';
	return buf;
}

int userdirs_state(const char *systemd_state, const char *xdg_state_home, const char *home,
		   char *out, size_t len, char *err, size_t errlen)
{
	char sd[4096];

	if (first_path(systemd_state, sd, sizeof(sd)))
		return join(out, len, sd, "", err, errlen);
	if (absolute(xdg_state_home))
		return join(out, len, xdg_state_home, "/" USERDIRS_NAME, err, errlen);
	if (absolute(home))
		return join(out, len, home, "/.local/state/" USERDIRS_NAME, err, errlen);
	snprintf(err, errlen, "no state directory: neither XDG_STATE_HOME nor HOME is an "
			      "absolute path (set one, or give -S)");
	return -1;
}

int userdirs_socket(const char *systemd_runtime, const char *runtime_dir, char *out, size_t len,
		    char *err, size_t errlen)
{
	char sd[4096];

	if (first_path(systemd_runtime, sd, sizeof(sd)))
		return join(out, len, sd, "/" USERDIRS_NAME ".sock", err, errlen);
	if (!absolute(runtime_dir)) {
		snprintf(err, errlen, "no runtime directory for the control socket: XDG_RUNTIME_DIR "
				      "is not set to an absolute path (log in with a session that "
				      "sets it, or give -s)");
		return -1;
	}
	return join(out, len, runtime_dir, "/" USERDIRS_NAME "/" USERDIRS_NAME ".sock", err,
		    errlen);
}
