/*
 * Statistics of the target core (issue 15): commands, bytes, errors by
 * sense key and by status, task management functions, queue depth and
 * latency histograms, per LU, per target and per I_T nexus; login results
 * per target and daemon-wide.
 *
 * Counting takes no lock (DESIGN.md §3-4). A nexus's counters are written
 * only by its reactor. A LU or a target is used by nexuses on several
 * reactors, so it holds one shard of counters per writer thread, each on
 * its own cache lines; a thread adds to its own shard with a relaxed load
 * and store (no locked instruction). Readers (the main thread, the
 * metrics thread) sum the shards with relaxed loads: a snapshot may be
 * torn between counters, but every counter is monotonic (queue depth is a
 * gauge: the sum of per-shard increments and decrements).
 */
#ifndef LUNAR_SCSI_STATS_H
#define LUNAR_SCSI_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct scsi_cmd;
struct scsi_nexus;
struct scsi_target;

/* Latency classes of the histograms. */
enum scsi_stats_class {
	SCSI_STATS_READ,
	SCSI_STATS_WRITE,
	SCSI_STATS_OTHER,
	SCSI_STATS_NCLASS,
};

/*
 * Latency buckets: bucket i (< SCSI_STATS_LAT_FINITE) holds the commands
 * that took at most 2^i microseconds (1 us .. 2^24 us = 16.8 s); the last
 * one the slower ones (+Inf). Counts are per bucket, not cumulative.
 */
#define SCSI_STATS_LAT_FINITE  25
#define SCSI_STATS_LAT_BUCKETS (SCSI_STATS_LAT_FINITE + 1)

/* Statuses other than GOOD and CHECK CONDITION that end a command. */
enum scsi_stats_status {
	SCSI_STATS_ST_BUSY,
	SCSI_STATS_ST_RESERVATION_CONFLICT,
	SCSI_STATS_ST_TASK_SET_FULL,
	SCSI_STATS_ST_ACA_ACTIVE,
	SCSI_STATS_ST_TASK_ABORTED,
	SCSI_STATS_ST_OTHER,
	SCSI_STATS_NSTATUS,
};

/* Task management functions (SAM-5 §7), in iSCSI function code order
 * (RFC 7143 §11.5.1, RFC 7144 §4.1) minus one. */
enum scsi_stats_tmf {
	SCSI_STATS_TMF_ABORT_TASK,
	SCSI_STATS_TMF_ABORT_TASK_SET,
	SCSI_STATS_TMF_CLEAR_ACA,
	SCSI_STATS_TMF_CLEAR_TASK_SET,
	SCSI_STATS_TMF_LU_RESET,
	SCSI_STATS_TMF_TARGET_WARM_RESET,
	SCSI_STATS_TMF_TARGET_COLD_RESET,
	SCSI_STATS_TMF_TASK_REASSIGN,
	SCSI_STATS_TMF_QUERY_TASK,
	SCSI_STATS_TMF_QUERY_TASK_SET,
	SCSI_STATS_TMF_IT_NEXUS_RESET,
	SCSI_STATS_TMF_QUERY_ASYNC_EVENT,
	SCSI_STATS_TMF_OTHER,
	SCSI_STATS_NTMF,
};

/* Login results; the failures follow the login status details of
 * RFC 7143 §11.13.5, in words any transport can use. */
enum scsi_stats_login {
	SCSI_STATS_LOGIN_SUCCESS,
	SCSI_STATS_LOGIN_INITIATOR_ERROR,
	SCSI_STATS_LOGIN_AUTH_FAILED,
	SCSI_STATS_LOGIN_NOT_AUTHORIZED,
	SCSI_STATS_LOGIN_TARGET_NOT_FOUND,
	SCSI_STATS_LOGIN_TARGET_REMOVED,
	SCSI_STATS_LOGIN_UNSUPPORTED_VERSION,
	SCSI_STATS_LOGIN_TOO_MANY_CONNECTIONS,
	SCSI_STATS_LOGIN_MISSING_PARAMETER,
	SCSI_STATS_LOGIN_SESSION_ERROR,
	SCSI_STATS_LOGIN_INVALID_REQUEST,
	SCSI_STATS_LOGIN_SERVICE_UNAVAILABLE,
	SCSI_STATS_LOGIN_OUT_OF_RESOURCES,
	SCSI_STATS_LOGIN_TARGET_ERROR,
	SCSI_STATS_NLOGIN,
};

/* One writer's counters. */
struct scsi_io_stats {
	_Atomic uint64_t cmds[SCSI_STATS_NCLASS];
	_Atomic uint64_t bytes_read, bytes_written;
	_Atomic uint64_t sense_key[16]; /* CHECK CONDITION, by sense key */
	_Atomic uint64_t status[SCSI_STATS_NSTATUS];
	_Atomic uint64_t tmf[SCSI_STATS_NTMF];
	_Atomic uint64_t queue_depth; /* +1 at start, -1 at end (wraps) */
	_Atomic uint64_t lat_ns[SCSI_STATS_NCLASS]; /* sum */
	_Atomic uint64_t lat[SCSI_STATS_NCLASS][SCSI_STATS_LAT_BUCKETS];
};

/*
 * Shards per LU and target: one per writer thread (the reactors) plus one
 * that threads beyond them share through atomic read-modify-writes.
 * lunard sizes it from --threads before any target exists
 * (scsi_stats_set_writers); 8 until then.
 */
extern unsigned scsi_stats_nshards;
void scsi_stats_set_writers(unsigned threads);

/* Allocated by scsi_stats_shards_new (cache-line aligned memory). */
struct scsi_stats_shards {
	unsigned nr; /* scsi_stats_nshards when it was made */
	struct scsi_stats_shard {
		struct scsi_io_stats s;
	} __attribute__((aligned(64))) shard[];
};

struct scsi_stats_shards *scsi_stats_shards_new(void);
void scsi_stats_shards_free(struct scsi_stats_shards *s);

/* A reader's sum. */
struct scsi_stats_snap {
	uint64_t cmds[SCSI_STATS_NCLASS];
	uint64_t bytes_read, bytes_written;
	uint64_t sense_key[16];
	uint64_t status[SCSI_STATS_NSTATUS];
	uint64_t tmf[SCSI_STATS_NTMF];
	int64_t queue_depth;
	uint64_t lat_ns[SCSI_STATS_NCLASS];
	uint64_t lat[SCSI_STATS_NCLASS][SCSI_STATS_LAT_BUCKETS];
};

/* Whether commands are counted (lunard --no-stats turns it off, for the
 * cost comparison of make bench). Set before any reactor runs. */
extern bool scsi_stats_enabled;

/* The bucket of a latency in nanoseconds. */
unsigned scsi_stats_lat_bucket(uint64_t ns);
/* The upper bound of bucket i in seconds (i < SCSI_STATS_LAT_FINITE). */
double scsi_stats_lat_bound(unsigned i);

/*
 * Core hooks (core.c), on the nexus's reactor: a command arrives
 * (scsi_cmd_prepare), enters the task set (queue depth), ends with its
 * final status (counted), or is dropped unfinished (not counted: its
 * connection went away before it was executed).
 */
void scsi_stats_cmd_start(struct scsi_cmd *cmd);
void scsi_stats_cmd_queued(struct scsi_cmd *cmd);
void scsi_stats_cmd_end(struct scsi_cmd *cmd);
void scsi_stats_cmd_drop(struct scsi_cmd *cmd);
/* Transport hooks: a task management function received (lun_raw: the
 * LUN field of the request, counted for that LU when the function
 * addresses one), a login ended (t: the target it asked for, NULL if none
 * or unknown). */
void scsi_stats_tmf(struct scsi_nexus *n, const uint8_t lun_raw[8],
		    enum scsi_stats_tmf fn);
void scsi_stats_login(struct scsi_target *t, enum scsi_stats_login result);

/* Readers. snap is overwritten (shards) or added to (add). */
void scsi_stats_sum(const struct scsi_stats_shards *s,
		    struct scsi_stats_snap *snap);
void scsi_stats_read(const struct scsi_io_stats *s,
		     struct scsi_stats_snap *snap);
void scsi_stats_add(struct scsi_stats_snap *to,
		    const struct scsi_stats_snap *from);
/* Daemon-wide login results (also counted when the target is unknown). */
void scsi_stats_logins(uint64_t out[SCSI_STATS_NLOGIN]);

/* Label values for metrics and tables. */
const char *scsi_stats_class_name(unsigned c);
const char *scsi_stats_status_name(unsigned s);
const char *scsi_stats_tmf_name(unsigned fn);
const char *scsi_stats_login_name(unsigned r);
const char *scsi_stats_sense_key_name(unsigned key);

#endif
