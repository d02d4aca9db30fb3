/* log.c: logging to stderr, one line per event.
 *
 * Levels: warnings always, info from -v0 (the default), debug with -v.
 * log_warn/fatal append strerror(errno); the *x variants do not. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int verbosity = LOG_LVL_INFO;
static void (*stamp_fn)(char *buf, size_t len);

/* log_init() - set how much is logged: 0 info, 1 and more debug */
void log_init(int v)
{
	verbosity = LOG_LVL_INFO + v;
}

void log_set_stamp(void (*stamp)(char *buf, size_t len))
{
	stamp_fn = stamp;
}

int log_verbosity(void)
{
	return verbosity;
}

static void __attribute__((format(printf, 4, 0)))
vlog(int lvl, const char *prefix, int err, const char *fmt, va_list ap)
{
	char line[1024], when[32] = "";
	int n;

	if (lvl > verbosity)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (stamp_fn)
		stamp_fn(when, sizeof(when));
	if (err)
		fprintf(stderr, "%s%s%s: %s\n", when, prefix, line, strerror(err));
	else
		fprintf(stderr, "%s%s%s\n", when, prefix, line);
}

#define LOGFN(name, lvl, prefix, witherr)                       \
	void name(const char *fmt, ...)                          \
	{                                                        \
		int e = errno;                                   \
		va_list ap;                                      \
		va_start(ap, fmt);                               \
		vlog(lvl, prefix, (witherr) ? e : 0, fmt, ap);   \
		va_end(ap);                                      \
		errno = e;                                       \
	}

LOGFN(log_warn, LOG_LVL_WARN, "warning: ", 1)
LOGFN(log_warnx, LOG_LVL_WARN, "warning: ", 0)
LOGFN(log_info, LOG_LVL_INFO, "", 0)
LOGFN(log_debug, LOG_LVL_DEBUG, "debug: ", 0)

void fatal(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_WARN, "fatal: ", e, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_WARN, "fatal: ", 0, fmt, ap);
	va_end(ap);
	exit(1);
}
