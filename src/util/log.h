/*
 * Logging: one line per event to stderr (foreground), syslog (detached)
 * or the systemd journal (run by systemd: JOURNAL_STREAM names our
 * stderr, or --log-target journal), with a level threshold set once at
 * start-up. Thread-safe.
 *
 * In the journal every message carries PRIORITY, CODE_FILE, CODE_LINE and
 * CODE_FUNC, and the call sites that know them add lunar's own fields
 * (LUNAR_TARGET, LUNAR_LUN, LUNAR_INITIATOR, ...) through the *_kv macros;
 * elsewhere those fields are dropped and the message reads as before.
 */
#ifndef LUNAR_UTIL_LOG_H
#define LUNAR_UTIL_LOG_H

#include <stddef.h>
#include <sys/uio.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

enum log_target {
	LOG_TARGET_AUTO, /* journal when JOURNAL_STREAM is our stderr */
	LOG_TARGET_STDERR,
	LOG_TARGET_SYSLOG,
	LOG_TARGET_JOURNAL,
};

/* One structured field: key is a journal field name (A-Z, 0-9, _). */
struct log_kv {
	const char *key;
	const char *value;
};

void log_set_level(enum log_level lvl);
/* Parses "error", "warn", "info", "debug"; returns -EINVAL otherwise. */
int log_parse_level(const char *s, enum log_level *out);
/* Parses "auto", "stderr", "syslog", "journal"; -EINVAL otherwise. */
int log_parse_target(const char *s, enum log_target *out);
/* -ENOTSUP for the journal when built without libsystemd. */
int log_set_target(enum log_target t);
/* The target auto resolves to now (never LOG_TARGET_AUTO). */
enum log_target log_current_target(void);
void log_use_syslog(int on);
void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_msg_at(enum log_level lvl, const char *file, int line,
		const char *func, const struct log_kv *kv, unsigned nkv,
		const char *fmt, ...) __attribute__((format(printf, 7, 8)));
int log_enabled(enum log_level lvl);

/*
 * The journal entry of one message as iovecs "FIELD=value" into buf (the
 * strings) and iov: MESSAGE, PRIORITY, CODE_*, then the kv fields whose
 * key is a valid journal field name and whose value is not NULL. Returns
 * the number of iovecs, or -ENOSPC. Pure: the unit tests call it.
 */
int log_journal_fields(char *buf, size_t len, struct iovec *iov,
		       unsigned maxiov, enum log_level lvl, const char *file,
		       int line, const char *func, const struct log_kv *kv,
		       unsigned nkv, const char *msg);

#define LOG_NKV(kv) ((unsigned)(sizeof(kv) / sizeof((kv)[0])))
#define log_at(lvl, kv, nkv, ...)                                              \
	log_msg_at(lvl, __FILE__, __LINE__, __func__, kv, nkv, __VA_ARGS__)

#define log_error(...) log_at(LOG_LVL_ERROR, NULL, 0, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_LVL_WARN, NULL, 0, __VA_ARGS__)
#define log_info(...)  log_at(LOG_LVL_INFO, NULL, 0, __VA_ARGS__)
#define log_debug(...)                                                         \
	do {                                                                   \
		if (log_enabled(LOG_LVL_DEBUG))                                \
			log_at(LOG_LVL_DEBUG, NULL, 0, __VA_ARGS__);           \
	} while (0)

/* The same with structured fields: kv is an array of struct log_kv. */
#define log_error_kv(kv, ...)                                                  \
	log_at(LOG_LVL_ERROR, kv, LOG_NKV(kv), __VA_ARGS__)
#define log_warn_kv(kv, ...) log_at(LOG_LVL_WARN, kv, LOG_NKV(kv), __VA_ARGS__)
#define log_info_kv(kv, ...) log_at(LOG_LVL_INFO, kv, LOG_NKV(kv), __VA_ARGS__)

#endif
