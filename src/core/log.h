/* log.h: one line per event on stderr (journald adds timestamps). */
#ifndef OMNET_LOG_H
#define OMNET_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_LVL_WARN = 0, LOG_LVL_INFO = 1, LOG_LVL_DEBUG = 2 };

void log_init(int verbosity);
/* log_set_stamp() - a function that writes the time of a line (the glue
 * owns the clock); NULL: none, as under the journal, which adds its own */
void log_set_stamp(void (*stamp)(char *buf, size_t len));
int log_verbosity(void);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
