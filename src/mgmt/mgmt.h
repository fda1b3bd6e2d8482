/*
 * Management: the control socket (newline-delimited JSON, see
 * docs/control-protocol.md) and configuration load/save. Main thread only.
 */
#ifndef LUNAR_MGMT_MGMT_H
#define LUNAR_MGMT_MGMT_H

#include <stdbool.h>
#include <stddef.h>

struct reactor;

struct mgmt_options {
	const char *control_path; /* unix socket */
	const char *state_dir;
	const char *config_path; /* NULL: STATE_DIR/lunar.json for saves */
	unsigned threads;
	const char *const *portals; /* the --portal list, NULL-terminated */
};

/*
 * Creates the control socket (mode 0600, parent directory created).
 * Refuses with -EADDRINUSE and a message when another lunard answers on
 * the same path; a stale socket file is replaced.
 */
int mgmt_init(struct reactor *main_reactor, const struct mgmt_options *o,
	      char *err, size_t errlen);
/* Applies a config file (at start or from config.load). */
int mgmt_config_load(const char *path, char *err, size_t errlen);
/*
 * fn(arg) runs on the main thread after every control request (a failed
 * one may have changed part of what it meant to), so that a listener (iSNS) can
 * bring what it publishes up to date; it compares and sends only differences,
 * hence no list of what changed. One listener; NULL removes it.
 */
void mgmt_on_change(void (*fn)(void *arg), void *arg);
/* Closes the control socket and unlinks it. */
void mgmt_exit(void);

/*
 * The Prometheus endpoint (metrics.c): GET http://ADDR:PORT/metrics served
 * from its own thread until mgmt_metrics_stop. -ENOTSUP when lunard was
 * built without libmicrohttpd (mgmt_metrics_built() is false); the error
 * names the address and the fix.
 */
bool mgmt_metrics_built(void);
/* Whether addr is a numeric ADDR:PORT (checked before lunard detaches, so
 * that a typo is said on the terminal). */
int mgmt_metrics_check(const char *addr, char *err, size_t errlen);
int mgmt_metrics_start(const char *addr, char *err, size_t errlen);
void mgmt_metrics_stop(void);

#endif
