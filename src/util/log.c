/*
 * Logging backend: stderr with a monotonic-free wall-clock stamp, or
 * syslog when the daemon runs detached.
 */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static enum log_level log_threshold = LOG_LVL_INFO;
static int log_to_syslog;

static const char *const log_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level lvl)
{
	log_threshold = lvl;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(log_names) / sizeof(log_names[0]);
	     i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_use_syslog(int on)
{
	log_to_syslog = on;
	if (on)
		openlog("lunard", LOG_PID, LOG_DAEMON);
}

int log_enabled(enum log_level lvl)
{
	return lvl <= log_threshold;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	char line[1024];
	va_list ap;

	if (!log_enabled(lvl))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_to_syslog) {
		syslog(prio[lvl], "%s", line);
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld lunard %s: %s\n", tm.tm_hour,
		tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_names[lvl],
		line);
}
