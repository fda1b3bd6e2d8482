/*
 * The iSCSI transport as the daemon and the management layer see it:
 * portals (listening sockets), sessions, and orderly shutdown.
 * Everything here is called on the main thread.
 */
#ifndef LUNAR_ISCSI_ISCSI_H
#define LUNAR_ISCSI_ISCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iscsi/param.h"
#include "scsi/stats.h"

struct reactor;

/* Starts the transport: listeners live on main, connections are spread
 * over the reactor pool (which must be running). */
int iscsi_init(struct reactor *main_reactor, const struct iscsi_limits *lim);
void iscsi_exit(void);

/*
 * Listens on "ADDR:PORT" ("0.0.0.0:3260", "[::1]:3260", "[::]:3260").
 * Refcounted: listening twice on the same address needs two unlistens.
 * On failure returns -errno and writes a reason naming the address.
 */
int iscsi_portal_listen(const char *addr, char *err, size_t errlen);
int iscsi_portal_unlisten(const char *addr);
/* Number of listening portals; copies up to max "ADDR:PORT" strings. */
size_t iscsi_portal_list(char (*out)[64], size_t max);

struct iscsi_session_info {
	uint64_t sid; /* ISID << 16 | TSIH, as tgtadm shows it */
	uint16_t tsih;
	char isid[16]; /* 12 hex digits */
	char target[ISCSI_NAME_MAX];
	char initiator[ISCSI_NAME_MAX];
	char initiator_alias[256];
	bool discovery;
	uint16_t cid;
	char peer[64];	/* "ADDR:PORT" of the initiator */
	char local[64]; /* "ADDR:PORT" of the portal */
	bool header_digest;
	bool data_digest;
	uint32_t max_recv_dsl;
	uint32_t max_xmit_dsl;
	uint64_t cmds; /* SCSI commands received */
	/* Its nexus's statistics (one connection per session: the
	 * connection's too). */
	struct scsi_stats_snap stats;
};

/* Snapshot of all sessions (optionally of one target). Caller frees *out. */
int iscsi_session_list(const char *target, struct iscsi_session_info **out,
		       size_t *count);
/* Closes one session (asynchronously, on its reactor). -ENOENT if none. */
int iscsi_session_close(const char *target, uint64_t sid);
/* Closes every session of a target; returns how many were asked to close. */
int iscsi_session_close_target(const char *target);

/* SIGTERM path: closes the listeners at once, lets in-flight commands
 * finish, logs every session out, then calls done on the main reactor. */
void iscsi_shutdown(void (*done)(void *arg), void *arg);

#endif
