/*
 * Management: the control socket (newline-delimited JSON, see
 * docs/control-protocol.md) and configuration load/save. Main thread only.
 */
#ifndef LUNAR_MGMT_MGMT_H
#define LUNAR_MGMT_MGMT_H

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

#endif
