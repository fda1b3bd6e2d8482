/*
 * Statistics of the target core (stats.h): where a command's numbers are
 * added up, per I_T nexus, per LU and per target, without a lock on the
 * data path, and how readers sum them. A command is timed from
 * scsi_cmd_prepare to its final status (SAM-5 §5.1: the task's life in
 * the task manager, Data-Out collection of a write included); its class
 * is read or write for commands that move logical blocks (SCSI_OP_BLOCKS)
 * and other for everything else. Bytes are those of block commands that
 * ended GOOD. Errors are CHECK CONDITION by sense key (SPC-5 §4.4.2 fixed,
 * §4.4.3 descriptor format) and the other non-GOOD statuses (SAM-5 §5.3).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scsi/device.h"
#include "scsi/scsi.h"
#include "scsi/stats.h"
#include "scsi/target.h"

bool scsi_stats_enabled = true;

/* Writer threads take numbers in order; a shard array of nr shards gives
 * threads 0 .. nr - 2 one each, the others share the last. */
unsigned scsi_stats_nshards = 8;
static _Atomic unsigned scsi_stats_next_shard;
static __thread int scsi_stats_my_shard = -1;
static _Atomic uint64_t scsi_stats_login_total[SCSI_STATS_NLOGIN];

static uint64_t scsi_stats_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Adds v to a counter only the calling thread writes: no locked
 * instruction, but a reader never sees a torn value. */
static inline void scsi_stats_bump(_Atomic uint64_t *c, uint64_t v, bool own)
{
	if (own)
		atomic_store_explicit(
		    c, atomic_load_explicit(c, memory_order_relaxed) + v,
		    memory_order_relaxed);
	else
		atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

/* The calling thread's writer number, given at its first count. */
static unsigned scsi_stats_shard_id(void)
{
	if (scsi_stats_my_shard < 0)
		scsi_stats_my_shard = (int)atomic_fetch_add_explicit(
		    &scsi_stats_next_shard, 1, memory_order_relaxed);
	return (unsigned)scsi_stats_my_shard;
}

/* This thread's shard of s, and whether it is its alone. */
static struct scsi_io_stats *scsi_stats_mine(struct scsi_stats_shards *s,
					     bool *own)
{
	unsigned id = scsi_stats_shard_id(), last;

	if (!s)
		return NULL;
	last = s->nr - 1;
	*own = id < last;
	return &s->shard[id < last ? id : last].s;
}

void scsi_stats_set_writers(unsigned threads)
{
	scsi_stats_nshards = threads < 255 ? threads + 1 : 256;
}

struct scsi_stats_shards *scsi_stats_shards_new(void)
{
	size_t len = sizeof(struct scsi_stats_shards) +
		     scsi_stats_nshards * sizeof(struct scsi_stats_shard);
	struct scsi_stats_shards *s;
	void *p = NULL;

	if (posix_memalign(&p, 64, len))
		return NULL;
	memset(p, 0, len);
	s = p;
	s->nr = scsi_stats_nshards;
	return s;
}

void scsi_stats_shards_free(struct scsi_stats_shards *s)
{
	free(s);
}

unsigned scsi_stats_lat_bucket(uint64_t ns)
{
	uint64_t us = (ns + 999) / 1000;
	unsigned b;

	if (us <= 1)
		return 0;
	b = 64u - (unsigned)__builtin_clzll(us - 1); /* ceil(log2(us)) */
	return b < SCSI_STATS_LAT_FINITE ? b : SCSI_STATS_LAT_FINITE;
}

double scsi_stats_lat_bound(unsigned i)
{
	return (double)(1ull << i) / 1e6;
}

static unsigned scsi_stats_class(const struct scsi_cmd *cmd)
{
	if (!cmd->op || !(cmd->op->flags & SCSI_OP_BLOCKS))
		return SCSI_STATS_OTHER;
	if (cmd->op->dir == SCSI_DIR_READ)
		return SCSI_STATS_READ;
	if (cmd->op->dir == SCSI_DIR_WRITE)
		return SCSI_STATS_WRITE;
	return SCSI_STATS_OTHER;
}

static int scsi_stats_status_index(uint8_t status)
{
	switch (status) {
	case SAM_STAT_GOOD:
	case SAM_STAT_CONDITION_MET:
	case SAM_STAT_CHECK_CONDITION:
		return -1;
	case SAM_STAT_BUSY:
		return SCSI_STATS_ST_BUSY;
	case SAM_STAT_RESERVATION_CONFLICT:
		return SCSI_STATS_ST_RESERVATION_CONFLICT;
	case SAM_STAT_TASK_SET_FULL:
		return SCSI_STATS_ST_TASK_SET_FULL;
	case SAM_STAT_ACA_ACTIVE:
		return SCSI_STATS_ST_ACA_ACTIVE;
	case SAM_STAT_TASK_ABORTED:
		return SCSI_STATS_ST_TASK_ABORTED;
	default:
		return SCSI_STATS_ST_OTHER;
	}
}

static int scsi_stats_sense_key(const struct scsi_cmd *cmd)
{
	uint8_t code;

	if (cmd->status != SAM_STAT_CHECK_CONDITION || cmd->sense_len < 2)
		return -1;
	code = cmd->sense[0] & 0x7f;
	if (code == 0x72 || code == 0x73)
		return cmd->sense[1] & 0x0f;
	if (cmd->sense_len < 3)
		return -1;
	return cmd->sense[2] & 0x0f;
}

struct scsi_stats_end {
	unsigned cls, bucket;
	uint64_t ns, rd, wr;
	int key, st;
};

static void scsi_stats_put(struct scsi_io_stats *s, bool own,
			   const struct scsi_stats_end *e)
{
	scsi_stats_bump(&s->cmds[e->cls], 1, own);
	if (e->rd)
		scsi_stats_bump(&s->bytes_read, e->rd, own);
	if (e->wr)
		scsi_stats_bump(&s->bytes_written, e->wr, own);
	if (e->key >= 0)
		scsi_stats_bump(&s->sense_key[e->key], 1, own);
	if (e->st >= 0)
		scsi_stats_bump(&s->status[e->st], 1, own);
	scsi_stats_bump(&s->lat_ns[e->cls], e->ns, own);
	scsi_stats_bump(&s->lat[e->cls][e->bucket], 1, own);
}

void scsi_stats_cmd_start(struct scsi_cmd *cmd)
{
	cmd->stats_open = scsi_stats_enabled;
	cmd->stats_queued = false;
	if (cmd->stats_open)
		cmd->stats_start_ns = scsi_stats_now_ns();
}

/* Adds d to the queue depth of the command's nexus, LU and target. */
static void scsi_stats_queue(struct scsi_cmd *cmd, uint64_t d)
{
	bool own;

	struct scsi_io_stats *s;

	scsi_stats_bump(&cmd->nexus->stats.queue_depth, d, true);
	if (cmd->lu && (s = scsi_stats_mine(cmd->lu->stats, &own)))
		scsi_stats_bump(&s->queue_depth, d, own);
	if (cmd->nexus->target &&
	    (s = scsi_stats_mine(cmd->nexus->target->stats, &own)))
		scsi_stats_bump(&s->queue_depth, d, own);
}

void scsi_stats_cmd_queued(struct scsi_cmd *cmd)
{
	if (!cmd->stats_open)
		return;
	cmd->stats_queued = true;
	scsi_stats_queue(cmd, 1);
}

void scsi_stats_cmd_drop(struct scsi_cmd *cmd)
{
	if (!cmd->stats_open)
		return;
	cmd->stats_open = false;
	if (cmd->stats_queued)
		scsi_stats_queue(cmd, (uint64_t)-1);
	cmd->stats_queued = false;
}

void scsi_stats_cmd_end(struct scsi_cmd *cmd)
{
	struct scsi_stats_end e;
	struct scsi_io_stats *s;
	bool own;

	if (!cmd->stats_open)
		return;
	scsi_stats_cmd_drop(cmd);
	e.cls = scsi_stats_class(cmd);
	e.ns = scsi_stats_now_ns() - cmd->stats_start_ns;
	e.bucket = scsi_stats_lat_bucket(e.ns);
	e.rd = e.wr = 0;
	if (cmd->status == SAM_STAT_GOOD && e.cls == SCSI_STATS_READ)
		e.rd = cmd->data_len;
	else if (cmd->status == SAM_STAT_GOOD && e.cls == SCSI_STATS_WRITE)
		e.wr = cmd->xfer_len;
	e.key = scsi_stats_sense_key(cmd);
	e.st = scsi_stats_status_index(cmd->status);
	scsi_stats_put(&cmd->nexus->stats, true, &e);
	/* The LU and target a command started on (cmd->lu is the LU its
	 * ITL holds; it does not change while the command lives). */
	if (cmd->lu && (s = scsi_stats_mine(cmd->lu->stats, &own)))
		scsi_stats_put(s, own, &e);
	if (cmd->nexus->target &&
	    (s = scsi_stats_mine(cmd->nexus->target->stats, &own)))
		scsi_stats_put(s, own, &e);
}

/* Whether a function addresses one LU (SAM-5 §7): not the target resets,
 * I_T NEXUS RESET or TASK REASSIGN. */
static bool scsi_stats_tmf_has_lu(enum scsi_stats_tmf fn)
{
	switch (fn) {
	case SCSI_STATS_TMF_TARGET_WARM_RESET:
	case SCSI_STATS_TMF_TARGET_COLD_RESET:
	case SCSI_STATS_TMF_TASK_REASSIGN:
	case SCSI_STATS_TMF_IT_NEXUS_RESET:
	case SCSI_STATS_TMF_OTHER:
		return false;
	default:
		return true;
	}
}

void scsi_stats_tmf(struct scsi_nexus *n, const uint8_t lun_raw[8],
		    enum scsi_stats_tmf fn)
{
	struct scsi_io_stats *s;
	struct scsi_lu *lu;
	bool own;

	if (!scsi_stats_enabled || (unsigned)fn >= SCSI_STATS_NTMF)
		return;
	scsi_stats_bump(&n->stats.tmf[fn], 1, true);
	if (!n->target)
		return; /* a discovery session */
	if ((s = scsi_stats_mine(n->target->stats, &own)))
		scsi_stats_bump(&s->tmf[fn], 1, own);
	if (lun_raw && scsi_stats_tmf_has_lu(fn) &&
	    (lu = scsi_nexus_lu(n, lun_raw)) &&
	    (s = scsi_stats_mine(lu->stats, &own)))
		scsi_stats_bump(&s->tmf[fn], 1, own);
}

void scsi_stats_login(struct scsi_target *t, enum scsi_stats_login result)
{
	if ((unsigned)result >= SCSI_STATS_NLOGIN)
		return;
	/* Logins are rare and come from every reactor: plain atomics. */
	atomic_fetch_add_explicit(&scsi_stats_login_total[result], 1,
				  memory_order_relaxed);
	if (t)
		atomic_fetch_add_explicit(&t->logins[result], 1,
					  memory_order_relaxed);
}

void scsi_stats_logins(uint64_t out[SCSI_STATS_NLOGIN])
{
	for (unsigned i = 0; i < SCSI_STATS_NLOGIN; i++)
		out[i] = atomic_load_explicit(&scsi_stats_login_total[i],
					      memory_order_relaxed);
}

#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void scsi_stats_read_add(const struct scsi_io_stats *s,
				struct scsi_stats_snap *d)
{
	for (unsigned c = 0; c < SCSI_STATS_NCLASS; c++) {
		d->cmds[c] += LD(s->cmds[c]);
		d->lat_ns[c] += LD(s->lat_ns[c]);
		for (unsigned b = 0; b < SCSI_STATS_LAT_BUCKETS; b++)
			d->lat[c][b] += LD(s->lat[c][b]);
	}
	d->bytes_read += LD(s->bytes_read);
	d->bytes_written += LD(s->bytes_written);
	for (unsigned k = 0; k < 16; k++)
		d->sense_key[k] += LD(s->sense_key[k]);
	for (unsigned k = 0; k < SCSI_STATS_NSTATUS; k++)
		d->status[k] += LD(s->status[k]);
	for (unsigned k = 0; k < SCSI_STATS_NTMF; k++)
		d->tmf[k] += LD(s->tmf[k]);
	d->queue_depth += (int64_t)LD(s->queue_depth);
}

void scsi_stats_read(const struct scsi_io_stats *s,
		     struct scsi_stats_snap *snap)
{
	memset(snap, 0, sizeof(*snap));
	scsi_stats_read_add(s, snap);
}

void scsi_stats_sum(const struct scsi_stats_shards *s,
		    struct scsi_stats_snap *snap)
{
	memset(snap, 0, sizeof(*snap));
	if (!s)
		return;
	for (unsigned i = 0; i < s->nr; i++)
		scsi_stats_read_add(&s->shard[i].s, snap);
}

void scsi_stats_add(struct scsi_stats_snap *to,
		    const struct scsi_stats_snap *from)
{
	for (unsigned c = 0; c < SCSI_STATS_NCLASS; c++) {
		to->cmds[c] += from->cmds[c];
		to->lat_ns[c] += from->lat_ns[c];
		for (unsigned b = 0; b < SCSI_STATS_LAT_BUCKETS; b++)
			to->lat[c][b] += from->lat[c][b];
	}
	to->bytes_read += from->bytes_read;
	to->bytes_written += from->bytes_written;
	for (unsigned k = 0; k < 16; k++)
		to->sense_key[k] += from->sense_key[k];
	for (unsigned k = 0; k < SCSI_STATS_NSTATUS; k++)
		to->status[k] += from->status[k];
	for (unsigned k = 0; k < SCSI_STATS_NTMF; k++)
		to->tmf[k] += from->tmf[k];
	to->queue_depth += from->queue_depth;
}

static const char *scsi_stats_pick(const char *const *names, unsigned n,
				   unsigned i)
{
	return i < n ? names[i] : "unknown";
}

#define NAMES(a) (a), sizeof(a) / sizeof((a)[0])

const char *scsi_stats_class_name(unsigned c)
{
	static const char *const n[] = {"read", "write", "other"};
	return scsi_stats_pick(NAMES(n), c);
}

const char *scsi_stats_status_name(unsigned s)
{
	static const char *const n[] = {"busy",		 "reservation_conflict",
					"task_set_full", "aca_active",
					"task_aborted",	 "other"};
	return scsi_stats_pick(NAMES(n), s);
}

const char *scsi_stats_tmf_name(unsigned fn)
{
	static const char *const n[] = {"abort_task",
					"abort_task_set",
					"clear_aca",
					"clear_task_set",
					"lu_reset",
					"target_warm_reset",
					"target_cold_reset",
					"task_reassign",
					"query_task",
					"query_task_set",
					"it_nexus_reset",
					"query_async_event",
					"other"};
	return scsi_stats_pick(NAMES(n), fn);
}

const char *scsi_stats_login_name(unsigned r)
{
	static const char *const n[] = {"success",
					"initiator_error",
					"auth_failed",
					"not_authorized",
					"target_not_found",
					"target_removed",
					"unsupported_version",
					"too_many_connections",
					"missing_parameter",
					"session_error",
					"invalid_request",
					"service_unavailable",
					"out_of_resources",
					"target_error"};
	return scsi_stats_pick(NAMES(n), r);
}

const char *scsi_stats_sense_key_name(unsigned key)
{
	static const char *const n[] = {
	    "no_sense",	       "recovered_error", "not_ready",
	    "medium_error",    "hardware_error",  "illegal_request",
	    "unit_attention",  "data_protect",	  "blank_check",
	    "vendor_specific", "copy_aborted",	  "aborted_command",
	    "reserved_0c",     "volume_overflow", "miscompare",
	    "completed"};
	return scsi_stats_pick(NAMES(n), key);
}
