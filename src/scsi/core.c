/*
 * The target core: I_T nexuses, the life of a command and its task set.
 *
 *  - SAM-5 §4.7: LUN decoding (single level, peripheral and flat space
 *    addressing); a LUN without a LU gets LOGICAL UNIT NOT SUPPORTED except
 *    for INQUIRY, REPORT LUNS and REQUEST SENSE (SPC-5 "incorrect logical
 *    unit selection").
 *  - SAM-5 §5.14: unit attentions are reported before a command runs,
 *    except for the commands whose table row allows them (ua.c).
 *  - SAM-5 §8 / SPC-5 §7.5.8 (control mode page, TST=001b): one task set
 *    per I_T_L nexus; SIMPLE tasks wait for older ORDERED and HEAD OF QUEUE
 *    tasks, ORDERED tasks for every older task, HEAD OF QUEUE for none.
 *  - RFC 7143 §11.4.5 via scsi.h: the bytes moved are min(EDTL, what the
 *    CDB asks), and none when the initiator's direction disagrees with
 *    the CDB's; what is not moved becomes a residual.
 *  - Dispatch reads the device type's opcode table (device.h, DESIGN.md
 *    §6), which also registers device types and checks that each table
 *    can serve as the source of REPORT SUPPORTED OPERATION CODES.
 *
 *  - SAM-5 §5.6, §6.3, §7: the target side of task management: the
 *    tasks of other nexuses aborted on their own reactors (ua.h: the
 *    request, here: the abort), TAS of the control mode page (TASK
 *    ABORTED status or silence), LOGICAL UNIT RESET, target reset and
 *    I_T NEXUS RESET with their unit attentions, QUERY ASYNCHRONOUS
 *    EVENT.
 *
 * The data path takes no lock: a nexus holds a reference on an immutable
 * LUN map and refreshes it under the config read lock only after the
 * target's lun_gen moved. Per I_T_L state (struct scsi_itl) is created on
 * the first command to a LU and shared with other nexuses only for unit
 * attentions and abort requests, under the LU's lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/reactor.h"
#include "scsi/buf.h"
#include "scsi/device.h"
#include "scsi/mode.h"
#include "scsi/pr.h"
#include "scsi/sense.h"
#include "scsi/tpg.h"
#include "scsi/ua.h"
#include "util/bytes.h"
#include "util/log.h"

/* scsi_cmd.flags: where the command is in its life. */
enum scsi_cmd_state {
	SCSI_CMD_IDLE = 0, /* not prepared, or failed in prepare */
	SCSI_CMD_PREPARED, /* in the task set, Data-Out may be arriving */
	SCSI_CMD_BLOCKED,  /* executed, waiting for older tasks */
	SCSI_CMD_RUNNING,  /* handler or backing store at work */
	SCSI_CMD_ABORTING, /* aborted before it ran; done is posted */
	SCSI_CMD_FINISHED, /* done called */
};

static struct reactor *_Atomic scsi_main_reactor;
static pthread_t scsi_main_thread;
static _Atomic uint64_t scsi_next_nexus_id = 1;
static struct list_head scsi_device_types = LIST_HEAD_INIT(scsi_device_types);

/* ---- core ---- */

int scsi_core_init(struct reactor *main_reactor)
{
	scsi_main_thread = pthread_self();
	atomic_store(&scsi_main_reactor, main_reactor);
	return 0;
}

void scsi_core_exit(void)
{
	scsi_buf_cache_drain();
	atomic_store(&scsi_main_reactor, NULL);
}

struct reactor *scsi_core_main_reactor(void)
{
	return atomic_load(&scsi_main_reactor);
}

bool scsi_core_on_main_thread(void)
{
	return atomic_load(&scsi_main_reactor) &&
	       pthread_equal(pthread_self(), scsi_main_thread);
}

/* ---- device types and their opcode tables ---- */

/* Where a row's usage data must hold its service action (SPC-5 §6.35.3). */
static uint16_t scsi_op_usage_sa(const struct scsi_op *op)
{
	return scsi_cdb_service_action(op->usage);
}

/* Why the table cannot be the one source of truth, or NULL. */
static const char *scsi_op_check(const struct scsi_device_type *dt, unsigned i)
{
	const struct scsi_op *op = dt->ops[i];

	if (op->cdb_len < 6 || op->cdb_len > SCSI_CDB_MAX)
		return "CDB length out of range";
	if (op->usage[0] != op->opcode)
		return "usage data does not start with the opcode";
	if ((op->flags & SCSI_OP_SA) &&
	    scsi_op_usage_sa(op) != op->service_action)
		return "usage data does not carry the service action";
	if (!(op->flags & SCSI_OP_SA) && op->service_action)
		return "service action on an opcode without them";
	for (unsigned j = 0; j < i; j++) {
		const struct scsi_op *o = dt->ops[j];

		if (o->opcode != op->opcode)
			continue;
		if ((o->flags ^ op->flags) & SCSI_OP_SA)
			return "rows of one opcode disagree on service actions";
		if (o->service_action == op->service_action)
			return "two rows for one command";
	}
	return NULL;
}

void scsi_device_type_register(struct scsi_device_type *dt)
{
	if (dt->nr_ops > SCSI_OPS_MAX) {
		log_error("device type %s: %u opcode rows, at most %u; raise "
			  "SCSI_OPS_MAX",
			  dt->name ? dt->name : "(none)", dt->nr_ops,
			  SCSI_OPS_MAX);
		abort();
	}
	for (unsigned i = 0; i < dt->nr_ops; i++) {
		uint8_t opcode = dt->ops[i]->opcode;
		const char *why = scsi_op_check(dt, i);

		if (why) {
			log_error("device type %s: opcode table row %s: %s",
				  dt->name ? dt->name : "(none)",
				  dt->ops[i]->name, why);
			abort();
		}
		if (!dt->index[opcode])
			dt->index[opcode] = (uint16_t)(i + 1);
	}
	if (dt->name && !dt->check_params) {
		/* Its LUs' parameters would go unchecked. */
		log_error("device type %s has no check_params", dt->name);
		abort();
	}
	if (dt->name)
		list_add_tail(&dt->link, &scsi_device_types);
}

const struct scsi_device_type *scsi_device_type_find(const char *name)
{
	const struct scsi_device_type *dt;

	if (!name || !name[0])
		name = SCSI_DEVICE_TYPE_DEFAULT;
	list_for_each_entry (dt, &scsi_device_types, link) {
		if (strcmp(dt->name, name) == 0)
			return dt;
	}
	return NULL;
}

void scsi_device_type_names(char *buf, size_t len)
{
	const struct scsi_device_type *dt;
	size_t n = 0;

	if (!len)
		return;
	buf[0] = '\0';
	list_for_each_entry (dt, &scsi_device_types, link) {
		int k =
		    snprintf(buf + n, len - n, "%s%s", n ? ", " : "", dt->name);

		if (k < 0 || (size_t)k >= len - n)
			break;
		n += (size_t)k;
	}
}

uint16_t scsi_cdb_service_action(const uint8_t *cdb)
{
	/* Variable length CDBs carry it in bytes 8-9 (SPC-5 §4.2.3). */
	if (cdb[0] == 0x7f)
		return get_be16(cdb + 8);
	return cdb[1] & 0x1f;
}

const struct scsi_op *scsi_opcode_first(const struct scsi_device_type *dt,
					uint8_t opcode)
{
	unsigned pos = dt->index[opcode];

	return pos ? dt->ops[pos - 1] : NULL;
}

const struct scsi_op *scsi_op_find(const struct scsi_device_type *dt,
				   uint8_t opcode, uint16_t sa)
{
	unsigned pos = dt->index[opcode];

	if (!pos || !(dt->ops[pos - 1]->flags & SCSI_OP_SA))
		return pos ? dt->ops[pos - 1] : NULL;
	for (unsigned i = pos - 1; i < dt->nr_ops; i++) {
		const struct scsi_op *op = dt->ops[i];

		if (op->opcode == opcode && op->service_action == sa)
			return op;
	}
	return NULL;
}

const struct scsi_op *scsi_op_lookup(const struct scsi_device_type *dt,
				     const uint8_t *cdb, bool *sa_unknown)
{
	const struct scsi_op *first = scsi_opcode_first(dt, cdb[0]);
	const struct scsi_op *op;

	*sa_unknown = false;
	if (!first || !(first->flags & SCSI_OP_SA))
		return first;
	op = scsi_op_find(dt, cdb[0], scsi_cdb_service_action(cdb));
	*sa_unknown = !op;
	return op;
}

/* ---- LUNs (SAM-5 §4.7) ---- */

bool scsi_lun_decode(const uint8_t raw[8], uint64_t *lun)
{
	for (int i = 2; i < 8; i++) {
		if (raw[i])
			return false; /* second and later levels */
	}
	switch (raw[0] >> 6) {
	case 0: /* peripheral device addressing, bus identifier 0 */
		if (raw[0] & 0x3f)
			return false;
		*lun = raw[1];
		return true;
	case 1: /* flat space addressing */
		*lun = (uint64_t)(raw[0] & 0x3f) << 8 | raw[1];
		return true;
	default: /* logical unit and extended addressing: not used here */
		return false;
	}
}

void scsi_lun_encode(uint64_t lun, uint8_t raw[8])
{
	memset(raw, 0, 8);
	if (lun < 256) {
		raw[1] = (uint8_t)lun;
	} else {
		raw[0] = (uint8_t)(0x40 | ((lun >> 8) & 0x3f));
		raw[1] = (uint8_t)lun;
	}
}

static int scsi_map_index(const struct scsi_lun_map *m, uint64_t lun)
{
	unsigned lo = 0, hi = m ? m->count : 0;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (m->ent[mid].lun == lun)
			return (int)mid;
		if (m->ent[mid].lun < lun)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* ---- nexus ---- */

void scsi_nexus_init(struct scsi_nexus *n, struct scsi_target *t,
		     struct reactor *r, const char *initiator_name,
		     const char *initiator_port, uint16_t tpgt)
{
	n->id = atomic_fetch_add(&scsi_next_nexus_id, 1);
	n->target = t;
	n->reactor = r;
	snprintf(n->initiator_name, sizeof(n->initiator_name), "%s",
		 initiator_name);
	snprintf(n->initiator_port, sizeof(n->initiator_port), "%s",
		 initiator_port);
	snprintf(n->target_port, sizeof(n->target_port), "%s,t,0x%04x", t->name,
		 tpgt);
	n->tpgt = tpgt;
	n->tmfs = SCSI_TMF_CORE;
	n->ops = NULL;
	/* One target port per portal group: its tag names it (0 is not a
	 * valid relative port identifier). */
	n->rel_port_id = tpgt ? tpgt : 1;
	n->tpg = scsi_tpg_nexus_join(t, n->rel_port_id);
	n->lun_map = t->lun_map;
	if (n->lun_map)
		scsi_lun_map_get(n->lun_map);
	n->lun_gen = atomic_load(&t->lun_gen);
	n->itl = NULL;
}

/* The nexus lets go of an ITL; it is freed now or by its last holder. */
static void scsi_nexus_drop_itl(struct scsi_itl *itl)
{
	scsi_itl_detach(itl);
	scsi_itl_put(itl);
}

void scsi_nexus_release(struct scsi_nexus *n)
{
	if (n->itl && n->lun_map) {
		for (unsigned i = 0; i < n->lun_map->count; i++) {
			struct scsi_itl *itl = n->itl[i];

			if (!itl)
				continue;
			/* I_T nexus loss (SAM-5 §6.3.4). */
			scsi_pr_nexus_lost(itl->lu, n);
			scsi_lu_nexus_lost(itl->lu, n);
			scsi_nexus_drop_itl(itl);
		}
	}
	free(n->itl);
	n->itl = NULL;
	if (n->lun_map)
		scsi_lun_map_put(n->lun_map);
	n->lun_map = NULL;
	scsi_tpg_nexus_leave(n->tpg);
	n->tpg = NULL;
}

/*
 * Picks up the target's current LUN map when it changed. ITLs of LUs that
 * stay are carried over and told that the LUN inventory changed (SPC-5
 * §6.33); those of LUs that left are dropped.
 */
static int scsi_nexus_refresh(struct scsi_nexus *n)
{
	struct scsi_target *t = n->target;
	struct scsi_lun_map *m, *old = n->lun_map;
	struct scsi_itl **itl = NULL;
	uint64_t gen;

	gen = atomic_load_explicit(&t->lun_gen, memory_order_acquire);
	if (gen == n->lun_gen)
		return 0;
	scsi_config_rdlock();
	m = t->lun_map;
	if (m)
		scsi_lun_map_get(m);
	gen = atomic_load_explicit(&t->lun_gen, memory_order_relaxed);
	scsi_config_unlock();

	if (m && m->count && n->itl) {
		itl = calloc(m->count, sizeof(*itl));
		if (!itl) {
			scsi_lun_map_put(m);
			return -ENOMEM;
		}
	}
	if (n->itl && old) {
		for (unsigned i = 0; i < old->count; i++) {
			struct scsi_itl *x = n->itl[i];
			int j;

			if (!x)
				continue;
			j = scsi_map_index(m, old->ent[i].lun);
			if (j >= 0 && m->ent[j].lu == x->lu) {
				itl[j] = x;
				scsi_ua_establish(
				    x, SCSI_ASC_REPORTED_LUNS_CHANGED);
			} else {
				scsi_nexus_drop_itl(x);
			}
		}
	}
	free(n->itl);
	n->itl = itl;
	n->lun_map = m;
	n->lun_gen = gen;
	if (old)
		scsi_lun_map_put(old);
	return 0;
}

/* The ITL of map entry idx, created on first use. */
static struct scsi_itl *scsi_nexus_itl(struct scsi_nexus *n, unsigned idx)
{
	if (!n->itl) {
		n->itl = calloc(n->lun_map->count, sizeof(*n->itl));
		if (!n->itl)
			return NULL;
	}
	if (!n->itl[idx])
		n->itl[idx] = scsi_itl_create(n->lun_map->ent[idx].lu, n);
	return n->itl[idx];
}

/* The map entry index lun_raw names for this nexus, or -1. */
static int scsi_nexus_lookup(struct scsi_nexus *n, const uint8_t lun_raw[8])
{
	uint64_t lun;

	if (scsi_nexus_refresh(n) < 0)
		log_warn("nexus %s: out of memory picking up the new LUN map "
			 "of %s; keeping the old one for now",
			 n->initiator_port, n->target->name);
	if (!scsi_lun_decode(lun_raw, &lun))
		return -1;
	return scsi_map_index(n->lun_map, lun);
}

bool scsi_nexus_has_lun(struct scsi_nexus *n, const uint8_t lun_raw[8])
{
	return scsi_nexus_lookup(n, lun_raw) >= 0;
}

struct scsi_lu *scsi_nexus_lu(struct scsi_nexus *n, const uint8_t lun_raw[8])
{
	int idx = scsi_nexus_lookup(n, lun_raw);

	return idx < 0 ? NULL : n->lun_map->ent[idx].lu;
}

/*
 * LOGICAL UNIT RESET of lu on behalf of n (SAM-5 §6.3.3): the tasks of the
 * other nexuses are aborted (n's own are its transport's to abort), and
 * every nexus, n included, gets BUS DEVICE RESET FUNCTION OCCURRED
 * (libiscsi's MultipathIO.Reset checks both paths). Both under one hold
 * of the lock: another nexus's command either read the task generation
 * before it (and is aborted) or is prepared after it and meets the unit
 * attention; none slips between.
 */
static void scsi_lu_reset(struct scsi_lu *lu, const struct scsi_nexus *n)
{
	struct scsi_itl *itl;

	pthread_mutex_lock(&lu->lock);
	list_for_each_entry (itl, &lu->itl_list, lu_link) {
		if (itl->nexus != n)
			scsi_itl_abort_for_reset_locked(itl, n);
		scsi_ua_establish_locked(itl, SCSI_ASC_BUS_DEVICE_RESET);
	}
	pthread_mutex_unlock(&lu->lock);
	scsi_lu_clear_prevent(lu);
	scsi_pr_lu_reset(lu);
}

void scsi_lu_reset_by(struct scsi_nexus *n, const uint8_t lun_raw[8])
{
	int idx = scsi_nexus_lookup(n, lun_raw);

	if (idx >= 0)
		scsi_lu_reset(n->lun_map->ent[idx].lu, n);
}

void scsi_target_reset_by(struct scsi_nexus *n)
{
	uint8_t raw[8] = {0};

	/* Picks up the current map first. */
	scsi_nexus_lookup(n, raw);
	for (unsigned i = 0; n->lun_map && i < n->lun_map->count; i++)
		scsi_lu_reset(n->lun_map->ent[i].lu, n);
}

void scsi_nexus_reset(struct scsi_nexus *n)
{
	uint8_t raw[8] = {0};

	scsi_nexus_lookup(n, raw);
	for (unsigned i = 0; n->itl && n->lun_map && i < n->lun_map->count;
	     i++) {
		struct scsi_itl *itl = n->itl[i];
		struct scsi_lu *lu;

		if (!itl)
			continue; /* never used: nothing to lose */
		lu = itl->lu;
		scsi_pr_nexus_lost(lu, n);
		pthread_mutex_lock(&lu->lock);
		if (itl->prevent) {
			itl->prevent = false;
			lu->nr_prevent--;
		}
		scsi_ua_establish_locked(itl, SCSI_ASC_IT_NEXUS_LOSS);
		pthread_mutex_unlock(&lu->lock);
	}
}

bool scsi_nexus_aborts_pending(struct scsi_nexus *n, const uint8_t lun_raw[8])
{
	int idx;

	if (lun_raw) {
		idx = scsi_nexus_lookup(n, lun_raw);
		return idx >= 0 && scsi_lu_aborting(n->lun_map->ent[idx].lu);
	}
	for (unsigned i = 0; n->lun_map && i < n->lun_map->count; i++) {
		if (scsi_lu_aborting(n->lun_map->ent[i].lu))
			return true;
	}
	return false;
}

int scsi_nexus_query_ua(struct scsi_nexus *n, const uint8_t lun_raw[8],
			uint8_t *asc, uint8_t *ascq)
{
	int idx = scsi_nexus_lookup(n, lun_raw);
	struct scsi_itl *itl;

	if (idx < 0)
		return -ENXIO;
	/* A nexus that has not used the LU yet has its POWER ON RESET
	 * waiting: creating the ITL is what makes it visible. */
	itl = scsi_nexus_itl(n, (unsigned)idx);
	if (!itl)
		return -ENOMEM;
	return (int)scsi_ua_peek(itl, asc, ascq);
}

/* ---- the task set of an I_T_L nexus (SAM-5 §8) ---- */

static bool scsi_task_is_ordering(const struct scsi_cmd *cmd)
{
	return cmd->attr == SCSI_TASK_ORDERED ||
	       cmd->attr == SCSI_TASK_HEAD_OF_QUEUE;
}

static void scsi_task_link(struct scsi_cmd *cmd)
{
	list_add_tail(&cmd->lu_link, &cmd->itl->tasks);
	if (scsi_task_is_ordering(cmd))
		cmd->itl->nr_ordered++;
}

/* Takes cmd out of its task set; true if it was in one. */
static bool scsi_task_unlink(struct scsi_cmd *cmd)
{
	if (list_empty(&cmd->lu_link))
		return false;
	list_del(&cmd->lu_link);
	if (scsi_task_is_ordering(cmd))
		cmd->itl->nr_ordered--;
	return true;
}

/* May cmd start, given the older tasks in its set? */
static bool scsi_task_may_run(const struct scsi_cmd *cmd)
{
	const struct scsi_itl *itl = cmd->itl;
	const struct scsi_cmd *c;

	if (cmd->attr == SCSI_TASK_HEAD_OF_QUEUE)
		return true;
	if (cmd->attr == SCSI_TASK_ORDERED)
		return itl->tasks.next == &cmd->lu_link;
	if (itl->nr_ordered == 0)
		return true;
	list_for_each_entry (c, &itl->tasks, lu_link) {
		if (c == cmd)
			return true;
		if (scsi_task_is_ordering(c))
			return false;
	}
	return true;
}

static void scsi_cmd_dispatch(struct scsi_cmd *cmd);

/* Starts the blocked tasks that the set now lets run. */
static void scsi_task_set_kick(struct scsi_itl *itl)
{
	if (itl->kicking) {
		itl->rescan = true;
		return;
	}
	itl->kicking = true;
	do {
		struct scsi_cmd *c;
		bool older = false, older_ordering = false;

		itl->rescan = false;
		list_for_each_entry (c, &itl->tasks, lu_link) {
			if (c->flags == SCSI_CMD_BLOCKED &&
			    (c->attr == SCSI_TASK_HEAD_OF_QUEUE ||
			     (c->attr == SCSI_TASK_ORDERED
				  ? !older
				  : !older_ordering))) {
				/* Dispatching may change the list. */
				scsi_cmd_dispatch(c);
				itl->rescan = true;
				break;
			}
			older = true;
			older_ordering |= scsi_task_is_ordering(c);
		}
	} while (itl->rescan);
	itl->kicking = false;
}

/* ---- the life of a command ---- */

static void scsi_cmd_reset(struct scsi_cmd *cmd)
{
	cmd->dir = SCSI_DIR_NONE;
	cmd->cdb_xfer_len = 0;
	cmd->xfer_len = 0;
	cmd->buf = NULL;
	cmd->status = SAM_STAT_GOOD;
	cmd->sense_len = 0;
	cmd->data_len = 0;
	cmd->lu = NULL;
	cmd->itl = NULL;
	cmd->op = NULL;
	cmd->lba = 0;
	cmd->nr_blocks = 0;
	cmd->flags = SCSI_CMD_IDLE;
	cmd->aborted = false;
	cmd->task_gen = 0;
	cmd->xabort_seen = false;
	cmd->xabort_counted = false;
	list_init(&cmd->lu_link);
	list_init(&cmd->bs.link);
	scsi_range_req_init(&cmd->range);
}

/* Finds the LU and ITL the command addresses (none is not an error). */
static int scsi_cmd_resolve_lun(struct scsi_cmd *cmd)
{
	struct scsi_nexus *n = cmd->nexus;
	int idx = scsi_nexus_lookup(n, cmd->lun_raw);
	struct scsi_itl *itl;

	if (idx < 0)
		return 0;
	itl = scsi_nexus_itl(n, (unsigned)idx);
	if (!itl) {
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		return -ENOMEM;
	}
	scsi_itl_get(itl);
	/* Before anything is checked under lu->lock (reservations): a
	 * command that read the generation before an abort request is
	 * aborted by it, one that read it after sees what the request's
	 * holder changed. */
	cmd->task_gen =
	    atomic_load_explicit(&itl->task_gen, memory_order_acquire);
	cmd->itl = itl;
	cmd->lu = itl->lu;
	return 0;
}

/* Reports a pending unit attention instead of running the command. */
static bool scsi_cmd_report_ua(struct scsi_cmd *cmd)
{
	uint8_t asc, ascq;

	if (!cmd->itl || !scsi_ua_pending(cmd->itl))
		return false;
	if (cmd->op && (cmd->op->flags & SCSI_OP_UA_OK))
		return false;
	if (!scsi_ua_take(cmd->itl, &asc, &ascq))
		return false;
	scsi_cmd_set_sense(cmd, SCSI_SK_UNIT_ATTENTION, asc, ascq);
	return true;
}

/* The CDB's length and CONTROL byte (SAM-5 §5.2). */
static int scsi_cmd_check_cdb(struct scsi_cmd *cmd)
{
	const struct scsi_op *op = cmd->op;
	unsigned ctl = op->opcode == 0x7f ? 1 : op->cdb_len - 1u;

	if (cmd->cdb_len < op->cdb_len) {
		scsi_cmd_set_invalid_field(cmd, 0, 7);
		return -EINVAL;
	}
	/* No ACA (NACA) and no linked commands (LINK). */
	if (cmd->cdb[ctl] & 0x04) {
		scsi_cmd_set_invalid_field(cmd, (uint16_t)ctl, 2);
		return -EINVAL;
	}
	if (cmd->cdb[ctl] & 0x01) {
		scsi_cmd_set_invalid_field(cmd, (uint16_t)ctl, 0);
		return -EINVAL;
	}
	return 0;
}

/*
 * Whether the LU can run the command now: a command that needs the medium
 * waits for it (SBC-4 §4.15: NOT READY while it is out or being
 * sanitized); then a row this LU does not support is as absent as an
 * unknown opcode. The medium comes first: which provisioning commands
 * apply is a property of the medium loaded.
 */
static int scsi_cmd_check_ready(struct scsi_cmd *cmd)
{
	const struct scsi_op *op = cmd->op;
	const struct scsi_device_type *dt = cmd->lu ? cmd->lu->dtype : NULL;
	struct scsi_sense_info si;

	if (!dt)
		return 0;
	if ((op->flags & SCSI_OP_MEDIUM) && dt->lu_ready &&
	    !dt->lu_ready(cmd->lu, &si)) {
		scsi_cmd_set_sense_full(cmd, &si);
		return -EAGAIN;
	}
	/* A write-protected medium refuses every write, even one this LU
	 * could not do (DATA PROTECT after parse). */
	if (op->supported && !op->supported(cmd->lu) &&
	    !((op->flags & SCSI_OP_WRITES) &&
	      (scsi_lu_readonly(cmd->lu) || scsi_mode_swp(cmd->lu)))) {
		if (op->flags & SCSI_OP_SA)
			scsi_cmd_set_invalid_field(cmd, 1, 4);
		else
			scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
					   SCSI_ASC_INVALID_OPCODE);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Direction and length of the data to move (RFC 7143 §11.4.5). */
static int scsi_cmd_size_transfer(struct scsi_cmd *cmd)
{
	const struct scsi_op *op = cmd->op;

	cmd->dir = cmd->cdb_xfer_len ? op->dir : SCSI_DIR_NONE;
	if (cmd->dir == SCSI_DIR_NONE || cmd->edir != cmd->dir)
		cmd->xfer_len = 0;
	else
		cmd->xfer_len = cmd->edtl < cmd->cdb_xfer_len
				    ? cmd->edtl
				    : cmd->cdb_xfer_len;
	/* An allocation length of 4 GiB must not buy a 4 GiB buffer. */
	if (cmd->dir == SCSI_DIR_READ && op->max_data &&
	    cmd->xfer_len > op->max_data)
		cmd->xfer_len = op->max_data;
	/* A write cut short by EDTL must still end on a block boundary. */
	if ((op->flags & SCSI_OP_BLOCKS) && cmd->dir == SCSI_DIR_WRITE &&
	    cmd->xfer_len % cmd->lu->block_size) {
		cmd->xfer_len = 0;
		scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
				   SCSI_ASC_INVALID_FIELD_IN_IU);
		return -EINVAL;
	}
	return 0;
}

static int scsi_cmd_prepare_op(struct scsi_cmd *cmd)
{
	const struct scsi_device_type *dt;
	bool sa_unknown;
	int rc;

	rc = scsi_cmd_resolve_lun(cmd);
	if (rc)
		return rc;
	dt = cmd->lu ? cmd->lu->dtype : &spc_no_lu_type;
	cmd->op = scsi_op_lookup(dt, cmd->cdb, &sa_unknown);
	if (!cmd->lu && !cmd->op) {
		scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
				   SCSI_ASC_LU_NOT_SUPPORTED);
		return -ENXIO;
	}
	if (scsi_cmd_report_ua(cmd))
		return -EAGAIN;
	if (!cmd->op) {
		if (sa_unknown)
			scsi_cmd_set_invalid_field(cmd, 1, 4);
		else
			scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
					   SCSI_ASC_INVALID_OPCODE);
		return -EOPNOTSUPP;
	}
	rc = scsi_cmd_check_cdb(cmd);
	if (rc)
		return rc;
	/* SPC-5 §5.16.2.4 (access states), then §5.13.1 (reservations). */
	if (cmd->lu) {
		rc = scsi_tpg_check(cmd);
		if (rc)
			return rc;
		rc = scsi_pr_check(cmd);
		if (rc)
			return rc;
	}
	rc = scsi_cmd_check_ready(cmd);
	if (rc)
		return rc;
	if (cmd->op->parse) {
		rc = cmd->op->parse(cmd);
		if (rc)
			return rc;
	}
	if ((cmd->op->flags & SCSI_OP_WRITES) && scsi_lu_readonly(cmd->lu)) {
		scsi_cmd_set_sense(cmd, SCSI_SK_DATA_PROTECT,
				   SCSI_ASC_WRITE_PROTECTED);
		return -EROFS;
	}
	/* SWP of the control mode page (SPC-5 §7.5.8): the LU is software
	 * write protected. */
	if ((cmd->op->flags & SCSI_OP_WRITES) && scsi_mode_swp(cmd->lu)) {
		scsi_cmd_set_sense(cmd, SCSI_SK_DATA_PROTECT,
				   SCSI_ASC_SOFTWARE_WRITE_PROTECTED);
		return -EROFS;
	}
	return scsi_cmd_size_transfer(cmd);
}

int scsi_cmd_prepare(struct scsi_cmd *cmd)
{
	int rc;

	scsi_cmd_reset(cmd);
	scsi_stats_cmd_start(cmd);
	rc = scsi_cmd_prepare_op(cmd);
	if (rc) {
		cmd->xfer_len = 0;
		scsi_stats_cmd_end(cmd);
		return rc;
	}
	if (cmd->xfer_len) {
		cmd->buf = scsi_buf_get(cmd->xfer_len);
		if (!cmd->buf) {
			cmd->xfer_len = 0;
			scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
			scsi_stats_cmd_end(cmd);
			return -ENOMEM;
		}
	}
	if (cmd->itl)
		scsi_task_link(cmd);
	cmd->flags = SCSI_CMD_PREPARED;
	scsi_stats_cmd_queued(cmd);
	return 0;
}

void scsi_cmd_complete(struct scsi_cmd *cmd)
{
	cmd->flags = SCSI_CMD_FINISHED;
	if (cmd->aborted) {
		cmd->status = SAM_STAT_TASK_ABORTED;
		cmd->sense_len = 0;
		cmd->data_len = 0;
	}
	/* The store is done with buf: a reset waiting for it may finish. */
	if (cmd->xabort_counted) {
		cmd->xabort_counted = false;
		atomic_fetch_sub_explicit(&cmd->lu->nr_aborting, 1,
					  memory_order_release);
	}
	/* Start what this task held back before done: done may release the
	 * command, and with it the last hold on a detached ITL. */
	scsi_stats_cmd_end(cmd);
	if (scsi_task_unlink(cmd))
		scsi_task_set_kick(cmd->itl);
	cmd->done(cmd);
}

static void scsi_cmd_dispatch(struct scsi_cmd *cmd)
{
	int rc;

	cmd->flags = SCSI_CMD_RUNNING;
	rc = cmd->op->execute(cmd);
	if (rc == -EINPROGRESS)
		return;
	if (rc < 0 && cmd->status == SAM_STAT_GOOD)
		scsi_cmd_set_sense(cmd, SCSI_SK_HARDWARE_ERROR,
				   SCSI_ASC_INTERNAL_TARGET_FAILURE);
	scsi_cmd_complete(cmd);
}

void scsi_cmd_execute(struct scsi_cmd *cmd)
{
	/* An abort before execution already finished the command. */
	if (cmd->flags != SCSI_CMD_PREPARED)
		return;
	if (cmd->itl && !scsi_task_may_run(cmd)) {
		cmd->flags = SCSI_CMD_BLOCKED;
		return;
	}
	scsi_cmd_dispatch(cmd);
}

static void scsi_cmd_abort_done(void *arg)
{
	struct scsi_cmd *cmd = arg;

	scsi_cmd_complete(cmd);
}

void scsi_cmd_abort(struct scsi_cmd *cmd)
{
	switch (cmd->flags) {
	case SCSI_CMD_PREPARED:
	case SCSI_CMD_BLOCKED:
		/* Nothing started: finish it from the reactor's queue, not
		 * inside the caller. The bs request is unused, so its
		 * message carries the completion without allocating. */
		cmd->aborted = true;
		cmd->flags = SCSI_CMD_ABORTING;
		cmd->bs.done_msg.fn = scsi_cmd_abort_done;
		cmd->bs.done_msg.arg = cmd;
		reactor_post_msg(cmd->nexus->reactor, &cmd->bs.done_msg);
		break;
	case SCSI_CMD_RUNNING:
		/* The store may be writing into buf: done comes when it is
		 * finished with it, or sooner if the row knows how. */
		if (cmd->aborted)
			break;
		cmd->aborted = true;
		if (cmd->op->abort)
			cmd->op->abort(cmd);
		break;
	default:
		break;
	}
}

/* PERSISTENT RESERVE OUT with service action PREEMPT AND ABORT: the
 * command that preempts is not among the tasks it aborts (SPC-5
 * §5.13.11.2.6). */
static bool scsi_cmd_is_preempt_and_abort(const struct scsi_cmd *cmd)
{
	return cmd->cdb[0] == 0x5f && (cmd->cdb[1] & 0x1f) == 0x05;
}

void scsi_itl_abort_run(void *arg)
{
	struct scsi_itl *itl = arg;
	struct scsi_lu *lu = itl->lu;
	struct scsi_cmd *c;
	uint32_t upto;
	bool other, own, ua, tas, respond;
	unsigned aborted = 0;

	pthread_mutex_lock(&lu->lock);
	upto = itl->abort_upto;
	other = itl->abort_other;
	own = itl->abort_own;
	ua = itl->abort_ua;
	itl->abort_posted = false;
	itl->abort_other = itl->abort_own = itl->abort_ua = false;
	pthread_mutex_unlock(&lu->lock);
	/* SPC-5 §7.5.8: TAS concerns tasks aborted by another I_T nexus. */
	tas = scsi_mode_tas(lu);
	respond = other && tas;
restart:
	list_for_each_entry (c, &itl->tasks, lu_link) {
		/* Newer than the request (serial arithmetic), or done. */
		if (c->xabort_seen || (int32_t)(c->task_gen - upto) >= 0)
			continue;
		if (own && !other && scsi_cmd_is_preempt_and_abort(c))
			continue;
		c->xabort_seen = true;
		aborted++;
		if (c->flags == SCSI_CMD_BLOCKED ||
		    c->flags == SCSI_CMD_RUNNING ||
		    c->flags == SCSI_CMD_ABORTING) {
			/* The core holds it until done: a reset waits. */
			c->xabort_counted = true;
			atomic_fetch_add_explicit(&lu->nr_aborting, 1,
						  memory_order_relaxed);
		}
		if (c->aborted)
			continue; /* its own nexus aborted it already */
		if (c->nexus->ops && c->nexus->ops->abort_cmd)
			c->nexus->ops->abort_cmd(c, respond);
		else
			scsi_cmd_abort(c);
		/* The transport may have released commands, and a release
		 * starts blocked ones: the list is not what it was. */
		goto restart;
	}
	if (aborted && ua && !tas)
		scsi_ua_establish(itl, SCSI_ASC_COMMANDS_CLEARED_BY_OTHER);
	atomic_fetch_sub_explicit(&lu->nr_aborting, 1, memory_order_release);
	scsi_itl_put(itl);
}

void scsi_cmd_release(struct scsi_cmd *cmd)
{
	struct scsi_itl *itl = cmd->itl;

	if (cmd->flags == SCSI_CMD_RUNNING || cmd->flags == SCSI_CMD_ABORTING) {
		/* The transport broke the contract (release before done);
		 * leaking beats freeing what a store may still use. */
		log_error("SCSI command 0x%02x (tag 0x%llx) released before "
			  "it finished; leaking its buffer",
			  cmd->cdb[0], (unsigned long long)cmd->tag);
		return;
	}
	scsi_stats_cmd_drop(cmd);
	if (scsi_task_unlink(cmd))
		scsi_task_set_kick(itl);
	if (cmd->buf)
		scsi_buf_put(cmd->buf, cmd->xfer_len);
	cmd->buf = NULL;
	if (itl) {
		cmd->itl = NULL;
		scsi_itl_put(itl);
	}
	cmd->lu = NULL;
	cmd->flags = SCSI_CMD_IDLE;
}

/* ---- services to handlers ---- */

void scsi_cmd_put_data(struct scsi_cmd *cmd, const void *data, size_t len)
{
	size_t n = len < cmd->xfer_len ? len : cmd->xfer_len;

	if (n)
		memcpy(cmd->buf, data, n);
	cmd->data_len = (uint32_t)n;
}

int scsi_cmd_check_lba(struct scsi_cmd *cmd, uint64_t lba, uint64_t nr)
{
	uint64_t cap = scsi_lu_blocks(cmd->lu);

	if (lba > cap || nr > cap - lba) {
		scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
				   SCSI_ASC_LBA_OUT_OF_RANGE);
		return -ERANGE;
	}
	return 0;
}
