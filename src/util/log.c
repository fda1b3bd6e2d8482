/*
 * Logging backend: stderr with a wall-clock stamp, syslog when the daemon
 * runs detached, or the systemd journal (sd_journal_sendv, one entry with
 * structured fields per message) when systemd runs lunard: JOURNAL_STREAM
 * ("DEV:INODE") names the stream systemd connected to our stderr, which is
 * how systemd.exec(5) says a service finds out.
 */
#include "util/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#ifdef LUNAR_HAVE_SYSTEMD
/* The CODE_* fields are the log call's, not this file's (sd-journal.h
 * would add its own location to every entry). */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#endif

#define LOG_JOURNAL_MAXIOV 16

static enum log_level log_threshold = LOG_LVL_INFO;
static enum log_target log_target_set = LOG_TARGET_AUTO;
static int log_to_syslog;
#ifdef LUNAR_HAVE_SYSTEMD
static int log_journal_checked, log_journal_auto;
#endif

static const char *const log_names[] = {"error", "warn", "info", "debug"};
static const char *const log_target_names[] = {"auto", "stderr", "syslog",
					       "journal"};
static const int log_prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};

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

int log_parse_target(const char *s, enum log_target *out)
{
	for (unsigned i = 0;
	     i < sizeof(log_target_names) / sizeof(log_target_names[0]); i++) {
		if (strcmp(s, log_target_names[i]) == 0) {
			*out = (enum log_target)i;
			return 0;
		}
	}
	return -EINVAL;
}

int log_set_target(enum log_target t)
{
#ifndef LUNAR_HAVE_SYSTEMD
	if (t == LOG_TARGET_JOURNAL)
		return -ENOTSUP;
#endif
	log_target_set = t;
	if (t == LOG_TARGET_SYSLOG)
		openlog("lunard", LOG_PID, LOG_DAEMON);
	return 0;
}

#ifdef LUNAR_HAVE_SYSTEMD
/* JOURNAL_STREAM is inherited by children: it counts only while it still
 * names our stderr (systemd.exec(5)). */
static int log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}
#endif

enum log_target log_current_target(void)
{
	if (log_target_set != LOG_TARGET_AUTO)
		return log_target_set;
	if (log_to_syslog)
		return LOG_TARGET_SYSLOG;
#ifdef LUNAR_HAVE_SYSTEMD
	if (!__atomic_load_n(&log_journal_checked, __ATOMIC_ACQUIRE)) {
		log_journal_auto = log_stderr_is_journal();
		__atomic_store_n(&log_journal_checked, 1, __ATOMIC_RELEASE);
	}
	if (log_journal_auto)
		return LOG_TARGET_JOURNAL;
#endif
	return LOG_TARGET_STDERR;
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

static int log_key_valid(const char *k)
{
	if (!k || !*k || *k == '_' || strlen(k) > 64)
		return 0;
	for (const char *p = k; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return 0;
	return 1;
}

int log_journal_fields(char *buf, size_t len, struct iovec *iov,
		       unsigned maxiov, enum log_level lvl, const char *file,
		       int line, const char *func, const struct log_kv *kv,
		       unsigned nkv, const char *msg)
{
	size_t used = 0;
	unsigned n = 0;

#define LOG_FIELD(...)                                                         \
	do {                                                                   \
		int w_;                                                        \
		if (n == maxiov)                                               \
			return -ENOSPC;                                        \
		w_ = snprintf(buf + used, len - used, __VA_ARGS__);            \
		if (w_ < 0 || (size_t)w_ >= len - used)                        \
			return -ENOSPC;                                        \
		iov[n].iov_base = buf + used;                                  \
		iov[n++].iov_len = (size_t)w_;                                 \
		used += (size_t)w_ + 1;                                        \
	} while (0)

	LOG_FIELD("MESSAGE=%s", msg);
	LOG_FIELD("PRIORITY=%d", log_prio[lvl]);
	if (file) {
		LOG_FIELD("CODE_FILE=%s", file);
		LOG_FIELD("CODE_LINE=%d", line);
	}
	if (func)
		LOG_FIELD("CODE_FUNC=%s", func);
	for (unsigned i = 0; i < nkv; i++)
		if (log_key_valid(kv[i].key) && kv[i].value)
			LOG_FIELD("%s=%s", kv[i].key, kv[i].value);
#undef LOG_FIELD
	return (int)n;
}

static void log_vmsg(enum log_level lvl, const char *file, int line,
		     const char *func, const struct log_kv *kv, unsigned nkv,
		     const char *fmt, va_list ap)
{
	char msg[1024];

	if (!log_enabled(lvl))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	switch (log_current_target()) {
	case LOG_TARGET_SYSLOG:
		syslog(log_prio[lvl], "%s", msg);
		return;
	case LOG_TARGET_JOURNAL: {
#ifdef LUNAR_HAVE_SYSTEMD
		char buf[2048];
		struct iovec iov[LOG_JOURNAL_MAXIOV];
		int n = log_journal_fields(buf, sizeof(buf), iov,
					   LOG_JOURNAL_MAXIOV, lvl, file, line,
					   func, kv, nkv, msg);

		if (n > 0 && sd_journal_sendv(iov, n) == 0)
			return;
#endif
		break; /* not sent: stderr still reaches the journal */
	}
	default:
		break;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	fprintf(stderr, "%02d:%02d:%02d.%03ld lunard %s: %s\n", tm.tm_hour,
		tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_names[lvl],
		msg);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, NULL, 0, NULL, NULL, 0, fmt, ap);
	va_end(ap);
}

void log_msg_at(enum log_level lvl, const char *file, int line,
		const char *func, const struct log_kv *kv, unsigned nkv,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, file, line, func, kv, nkv, fmt, ap);
	va_end(ap);
}
