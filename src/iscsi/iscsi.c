/*
 * The transport's entry points for the daemon (iscsi.h): start-up with the
 * target's negotiation limits, and the orderly shutdown of RFC 7143 §11.9
 * (AsyncEvent 1 asks each initiator to log out; in-flight commands
 * finish; whoever has not logged out in time is disconnected) ending with
 * a callback on the main reactor.
 */
#include <errno.h>
#include <stdlib.h>

#include "iscsi/conn.h"
#include "iscsi/iscsi.h"
#include "util/log.h"

struct iscsi_limits iscsi_lim;
struct reactor *iscsi_main_reactor;
atomic_bool iscsi_shutting_down;

static void (*shutdown_done)(void *arg);
static void *shutdown_arg;
static atomic_bool shutdown_notified;

int iscsi_init(struct reactor *main_reactor, const struct iscsi_limits *lim)
{
	if (!main_reactor)
		return -EINVAL;
	if (lim)
		iscsi_lim = *lim;
	else
		iscsi_limits_default(&iscsi_lim);
	if (iscsi_lim.max_recv_dsl < 512 ||
	    iscsi_lim.max_recv_dsl > ISCSI_DSL_MAX) {
		log_error("iscsi: MaxRecvDataSegmentLength %u is outside "
			  "512..16777215",
			  iscsi_lim.max_recv_dsl);
		return -EINVAL;
	}
	iscsi_main_reactor = main_reactor;
	atomic_store(&iscsi_shutting_down, false);
	atomic_store(&shutdown_notified, false);
	return 0;
}

void iscsi_exit(void)
{
	/* after the main loop has returned */
	iscsi_portal_close_all(false);
}

void iscsi_shutdown_conn_gone(void)
{
	if (atomic_exchange(&shutdown_notified, true) || !shutdown_done)
		return;
	if (reactor_post(iscsi_main_reactor, shutdown_done, shutdown_arg) < 0)
		log_error("iscsi: cannot report the end of shutdown");
}

static void shutdown_force_close(void *arg)
{
	struct iscsi_conn *c = arg;

	if (c->state < ISCSI_CONN_CLOSING) {
		log_info("iscsi: %s did not log out in time; disconnecting",
			 c->peer);
		iscsi_conn_close(c);
	}
}

static void shutdown_conn_msg(void *arg)
{
	struct iscsi_conn *c = arg;

	c->shutdown_requested = true;
	switch (c->state) {
	case ISCSI_CONN_LOGIN:
		iscsi_conn_close(c);
		break;
	case ISCSI_CONN_FFP:
		if (c->sess && c->sess->discovery) {
			iscsi_conn_close(c);
			break;
		}
		iscsi_conn_send_async_logout(c, ISCSI_SHUTDOWN_LOGOUT_SECS);
		/* both wait for the logout a little while */
		__attribute__((fallthrough));
	case ISCSI_CONN_LOGOUT:
		if (c->state < ISCSI_CONN_CLOSE_WAIT)
			reactor_timer_arm(c->reactor, &c->aux_timer,
					  (ISCSI_SHUTDOWN_LOGOUT_SECS + 1) *
					      1000u,
					  shutdown_force_close, c);
		break;
	default:
		break; /* INIT: conn_start sees shutdown_requested */
	}
	iscsi_conn_put(c);
}

void iscsi_shutdown(void (*done)(void *arg), void *arg)
{
	bool empty;

	shutdown_done = done;
	shutdown_arg = arg;
	atomic_store(&iscsi_shutting_down, true);
	iscsi_portal_close_all(true);
	iscsi_registry_post_all(shutdown_conn_msg);
	pthread_mutex_lock(&iscsi_registry_lock);
	empty = iscsi_registry_empty_locked();
	pthread_mutex_unlock(&iscsi_registry_lock);
	if (empty)
		iscsi_shutdown_conn_gone();
}
