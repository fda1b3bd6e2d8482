/*
 * The service manager's notification protocol (sd_notify(3)): READY=1
 * once lunard serves, STATUS= lines, STOPPING=1 at shutdown. Sends
 * nothing without NOTIFY_SOCKET (not run by systemd with Type=notify).
 */
#ifndef LUNAR_UTIL_NOTIFY_H
#define LUNAR_UTIL_NOTIFY_H

#include <stdbool.h>

/* True when built with libsystemd (the only way lunar notifies). */
bool notify_built(void);
/* Sends the newline-separated assignments; 0 when nothing was to be sent
 * (no NOTIFY_SOCKET), 1 when sent, a negative errno on failure. */
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
