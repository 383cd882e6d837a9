/*
 * log.c - syslog or stderr logging with queue id prefixes
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static bool log_stderr;
static bool log_debug_on;
static const char *log_ident = "postern";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* log_init - choose the destination; syslog is opened at once */
void
log_init(const char *ident, bool to_stderr)
{
	log_ident = ident;
	log_stderr = to_stderr;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

/* log_set_debug - turn debug lines on or off */
void
log_set_debug(bool on)
{
	log_debug_on = on;
}

/* log_debug_enabled - whether debug lines are written */
bool
log_debug_enabled(void)
{
	return log_debug_on;
}

/* log_sanitize - replace control bytes so one call is one line */
static void
log_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* log_write - format and emit one line */
static void
log_write(int priority, const char *qid, const char *fmt, va_list ap)
{
	char text[4096];
	int off = 0;

	if (priority == LOG_DEBUG && !log_debug_on)
		return;
	if (qid != NULL)
		off = snprintf(text, sizeof(text), "%s: ", qid);
	if (off < 0 || (size_t)off >= sizeof(text))
		off = 0;
	vsnprintf(text + off, sizeof(text) - off, fmt, ap);
	log_sanitize(text);
	if (log_stderr) {
		static const char *const names[] = {
			[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert",
			[LOG_CRIT] = "crit", [LOG_ERR] = "error",
			[LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
			[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
		};
		struct timespec ts;
		struct tm tm;
		char stamp[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
		pthread_mutex_lock(&log_lock);
		fprintf(stderr, "%s.%03ld %s[%ld]: %s: %s\n", stamp,
		    ts.tv_nsec / 1000000, log_ident, (long)getpid(),
		    names[priority & 7], text);
		fflush(stderr);
		pthread_mutex_unlock(&log_lock);
	} else {
		syslog(priority, "%s", text);
	}
}

/* log_vmsg - va_list form of log_msg */
void
log_vmsg(int priority, const char *qid, const char *fmt, va_list ap)
{
	log_write(priority, qid ? qid : "NOQUEUE", fmt, ap);
}

/* log_msg - a line about one message, prefixed with its queue id */
void
log_msg(int priority, const char *qid, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(priority, qid, fmt, ap);
	va_end(ap);
}

#define LOG_FN(name, prio)                                                     \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		log_write(prio, NULL, fmt, ap);                                \
		va_end(ap);                                                    \
	}

/* log_warn, log_info, log_debug - plain lines at their priority */
LOG_FN(log_warn, LOG_WARNING)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_debug, LOG_DEBUG)

/* log_panic - report a bug and abort for a core dump */
void
log_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	abort();
}

/* log_fatal - report an unusable setup and exit 1 */
void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(LOG_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
