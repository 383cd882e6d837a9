/*
 * log.h - logging to syslog (LOG_MAIL) or stderr
 *
 * Contract: log_init() once at startup, before threads. Every function is
 * thread-safe. Lines about one message start with its queue id and a colon
 * (log_msg); lines before a queue id exists use "NOQUEUE". Text passed in is
 * never trusted to be clean: CR, LF and other control bytes in the formatted
 * result are replaced by '?' so a hostile HELO cannot forge log lines.
 */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

#define LOG_PRINTF(f, a) __attribute__((format(printf, f, a)))

void log_init(const char *ident, bool to_stderr);
void log_set_debug(bool on);
bool log_debug_enabled(void);

/* log_panic - a bug: log and abort(); never returns */
void log_panic(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
/* log_fatal - unusable configuration or environment: log and exit(1) */
void log_fatal(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);

/* log_msg - one line about a message: "QID: text"; qid NULL = NOQUEUE */
void log_msg(int priority, const char *qid, const char *fmt, ...)
    LOG_PRINTF(3, 4);
void log_vmsg(int priority, const char *qid, const char *fmt, va_list ap);

#endif
