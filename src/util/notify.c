/*
 * sd_notify(3) through libsystemd when lunar was built with it; without
 * it a lunard asked to notify (NOTIFY_SOCKET set) says once why it cannot.
 */
#include "util/notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef LUNAR_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "util/log.h"

bool notify_built(void)
{
#ifdef LUNAR_HAVE_SYSTEMD
	return true;
#else
	return false;
#endif
}

int notify_send(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!getenv("NOTIFY_SOCKET"))
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
#ifdef LUNAR_HAVE_SYSTEMD
	int rc = sd_notify(0, msg);

	if (rc < 0)
		log_warn("cannot notify the service manager (%s): %s", msg,
			 strerror(-rc));
	return rc;
#else
	static bool warned;

	if (!warned)
		log_warn("NOTIFY_SOCKET is set but this lunard was built "
			 "without libsystemd: install libsystemd-dev "
			 "(scripts/deps.sh build) and rebuild");
	warned = true;
	return -ENOTSUP;
#endif
}
