/*
 * Reservations of a logical unit (pr.h): the state in lu->pr and its
 * life, the conflict check every command goes through, and the SPC-2
 * reservation.
 *   SPC-5 §5.13.1 table 64 and its SBC-4 counterpart: which commands a
 *   persistent reservation held by another I_T nexus lets through, from
 *   the reservation class of the command's opcode row (device.h); the
 *   holder of a reservation, all registrants types included.
 *   SPC-2 RESERVE (6)/(10) and RELEASE (6)/(10) of the whole
 *   logical unit, per I_T nexus (third-party and extent reservations are
 *   refused), ended by RELEASE, I_T nexus loss and logical unit reset;
 *   with SPC-5 §5.13.3: CRH is zero, so while any persistent registration
 *   exists RESERVE and RELEASE get RESERVATION CONFLICT (SPC-2),
 *   and another nexus's SPC-2 reservation makes PERSISTENT RESERVE OUT
 *   conflict like any other command.
 * PERSISTENT RESERVE IN is pr_in.c's, OUT pr_out.c's, saving pr_store.c's.
 *
 * An I_T nexus is its initiator port string and relative target port,
 * never a session pointer: a re-login with the same name and ISID is the
 * same nexus. The data path costs one relaxed load of pr->state while no
 * reservation of either kind exists.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scsi/device.h"
#include "scsi/pr_internal.h"
#include "scsi/sense.h"
#include "scsi/target.h"
#include "util/log.h"

/* ---- identities ---- */

void pr_id_from_port(struct pr_id *id, const char *initiator_port)
{
	size_t len = strnlen(initiator_port, sizeof(id->tid) - 1);
	const char *sep = NULL;

	memset(id, 0, sizeof(*id));
	memcpy(id->tid, initiator_port, len);
	/* The last ",i,0x": an iSCSI name has no comma, but be sure. */
	for (const char *p = id->tid; (p = strchr(p, ',')); p++) {
		if (strncasecmp(p + 1, PR_ISID_SEP, strlen(PR_ISID_SEP)) == 0)
			sep = p;
	}
	id->has_isid = sep != NULL;
	id->name_len = (uint16_t)(sep ? (size_t)(sep - id->tid) : len);
}

static bool pr_name_is(const struct pr_id *id, const char *port)
{
	return strncasecmp(port, id->tid, id->name_len) == 0 &&
	       (port[id->name_len] == ',' || port[id->name_len] == '\0');
}

bool pr_reg_matches(const struct pr_reg *reg, const char *initiator_port,
		    uint16_t rel_port_id)
{
	if (!reg->all_tg_pt && reg->rel_port_id != rel_port_id)
		return false;
	if (reg->id.has_isid)
		return strcasecmp(reg->id.tid, initiator_port) == 0;
	return pr_name_is(&reg->id, initiator_port);
}

bool pr_reg_overlap(const struct pr_reg *a, const struct pr_reg *b)
{
	if (!a->all_tg_pt && !b->all_tg_pt && a->rel_port_id != b->rel_port_id)
		return false;
	if (a->id.name_len != b->id.name_len ||
	    strncasecmp(a->id.tid, b->id.tid, a->id.name_len))
		return false;
	return !a->id.has_isid || !b->id.has_isid ||
	       strcasecmp(a->id.tid, b->id.tid) == 0;
}

struct pr_reg *pr_find_reg(const struct pr_set *s, const struct scsi_nexus *n)
{
	struct pr_reg *reg;

	list_for_each_entry (reg, &s->regs, link) {
		if (pr_reg_matches(reg, n->initiator_port, n->rel_port_id))
			return reg;
	}
	return NULL;
}

bool pr_type_valid(uint8_t type)
{
	switch (type) {
	case SCSI_PR_WRITE_EXCLUSIVE:
	case SCSI_PR_EXCLUSIVE_ACCESS:
	case SCSI_PR_WRITE_EXCLUSIVE_RO:
	case SCSI_PR_EXCLUSIVE_ACCESS_RO:
	case SCSI_PR_WRITE_EXCLUSIVE_AR:
	case SCSI_PR_EXCLUSIVE_ACCESS_AR:
		return true;
	default:
		return false;
	}
}

bool pr_type_all_regs(uint8_t type)
{
	return type == SCSI_PR_WRITE_EXCLUSIVE_AR ||
	       type == SCSI_PR_EXCLUSIVE_ACCESS_AR;
}

bool pr_is_holder(const struct pr_set *s, const struct pr_reg *reg)
{
	if (!s->reserved || !reg)
		return false;
	return pr_type_all_regs(s->type) || s->holder == reg;
}

bool pr_spc2_holder(const struct scsi_pr *pr, const struct scsi_nexus *n)
{
	return pr->spc2 && pr->spc2_rel_port == n->rel_port_id &&
	       strcasecmp(pr->spc2_port, n->initiator_port) == 0;
}

void pr_update_state(struct scsi_pr *pr)
{
	unsigned st =
	    (pr->spc2 ? PR_ST_SPC2 : 0) | (pr->set.reserved ? PR_ST_PR : 0);

	atomic_store_explicit(&pr->state, st, memory_order_relaxed);
}

/* ---- the persistent part ---- */

void pr_reg_list_free(struct list_head *l)
{
	struct pr_reg *reg, *tmp;

	list_for_each_entry_safe (reg, tmp, l, link) {
		list_del(&reg->link);
		free(reg);
	}
}

void pr_set_clear_marks(struct pr_set *s)
{
	struct pr_reg *reg;

	list_for_each_entry (reg, &s->regs, link) {
		reg->ua_asc = reg->ua_ascq = 0;
		reg->abort = false;
	}
}

void pr_set_init(struct pr_set *s)
{
	memset(s, 0, sizeof(*s));
	list_init(&s->regs);
}

void pr_set_clear(struct pr_set *s)
{
	pr_reg_list_free(&s->regs);
	pr_set_init(s);
}

int pr_set_clone(const struct pr_set *s, struct pr_set *out)
{
	const struct pr_reg *reg;

	pr_set_init(out);
	out->aptpl = s->aptpl;
	out->generation = s->generation;
	out->reserved = s->reserved;
	out->type = s->type;
	out->scope = s->scope;
	list_for_each_entry (reg, &s->regs, link) {
		struct pr_reg *copy = malloc(sizeof(*copy));

		if (!copy) {
			pr_set_clear(out);
			return -ENOMEM;
		}
		*copy = *reg;
		list_add_tail(&copy->link, &out->regs);
		out->nr_regs++;
		if (s->holder == reg)
			out->holder = copy;
	}
	return 0;
}

void pr_set_replace(struct pr_set *dst, struct pr_set *src)
{
	struct pr_reg *reg, *tmp;

	pr_set_clear(dst);
	*dst = *src;
	list_init(&dst->regs);
	list_for_each_entry_safe (reg, tmp, &src->regs, link) {
		list_del(&reg->link);
		list_add_tail(&reg->link, &dst->regs);
	}
	pr_set_init(src);
}

/* ---- LU life ---- */

int scsi_pr_lu_init_msg(struct scsi_lu *lu, char *err, size_t errlen)
{
	const struct scsi_pr_store_ops *store = scsi_pr_store();
	struct scsi_pr *pr = calloc(1, sizeof(*pr));
	struct scsi_pr_image img;
	int rc;

	if (!pr) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pr_set_init(&pr->set);
	atomic_init(&pr->state, 0);
	/* Several gateways serve the medium: its record is the state. */
	if (lu->bs && (lu->bs->caps & BS_CAP_SHARED) && lu->bs->ops->shared) {
		rc = pr_shared_lu_init(lu, pr, err, errlen);
		if (rc < 0)
			free(pr);
		return rc;
	}
	if (store) {
		memset(&img, 0, sizeof(img));
		rc = store->load(lu, &img, err, errlen);
		if (rc == 0) {
			char what[384] = "out of memory", where[256];

			rc = pr_set_from_image(&pr->set, &img, what,
					       sizeof(what));
			scsi_pr_image_free(&img);
			if (rc == -EBADMSG &&
			    store->where(lu, where, sizeof(where)) == 0)
				snprintf(err, errlen,
					 "%s: %s; fix it or move it away (the "
					 "LU then starts without its "
					 "persistent reservations)",
					 where, what);
			else if (rc)
				snprintf(err, errlen, "%s", what);
		}
		if (rc < 0 && rc != -ENOENT) {
			log_error("target %s LUN %llu: cannot restore its "
				  "persistent reservations: %s",
				  lu->target->name, (unsigned long long)lu->lun,
				  err);
			free(pr);
			return rc;
		}
		if (rc == 0)
			log_info("target %s LUN %llu: restored %u persistent "
				 "reservation registration(s)%s (APTPL)",
				 lu->target->name, (unsigned long long)lu->lun,
				 pr->set.nr_regs,
				 pr->set.reserved ? " and the reservation"
						  : "");
	}
	lu->pr = pr;
	pr_update_state(pr);
	return 0;
}

int scsi_pr_lu_init(struct scsi_lu *lu)
{
	char err[512];

	return scsi_pr_lu_init_msg(lu, err, sizeof(err));
}

void scsi_pr_lu_exit(struct scsi_lu *lu)
{
	if (!lu->pr)
		return;
	if (lu->pr->shared)
		pr_shared_lu_exit(lu);
	pr_set_clear(&lu->pr->set);
	free(lu->pr);
	lu->pr = NULL;
}

void scsi_pr_lu_delete(struct scsi_lu *lu)
{
	const struct scsi_pr_store_ops *store = scsi_pr_store();
	char err[512];

	if (!lu->pr)
		return;
	pthread_mutex_lock(&lu->lock);
	lu->pr->deleted = true;
	/* A shared record belongs to the medium, which other gateways (or
	 * this LU created again) still serve. */
	if (store && !lu->pr->shared && store->remove(lu, err, sizeof(err)) < 0)
		log_warn("target %s LUN %llu: %s; remove it before creating "
			 "this LUN again, or it brings its reservations back",
			 lu->target->name, (unsigned long long)lu->lun, err);
	pthread_mutex_unlock(&lu->lock);
}

void scsi_pr_nexus_lost(struct scsi_lu *lu, const struct scsi_nexus *n)
{
	struct scsi_pr *pr = lu->pr;

	if (!pr || !(atomic_load_explicit(&pr->state, memory_order_relaxed) &
		     PR_ST_SPC2))
		return;
	pthread_mutex_lock(&lu->lock);
	if (pr_spc2_holder(pr, n)) {
		/* Here at once; in the record of a shared LU by the worker,
		 * before any RESERVE sent after this. */
		if (pr->shared)
			pr_shared_spc2_drop(lu, n->initiator_port,
					    n->rel_port_id);
		pr->spc2 = false;
		pr_update_state(pr);
	}
	pthread_mutex_unlock(&lu->lock);
}

void scsi_pr_lu_reset(struct scsi_lu *lu)
{
	struct scsi_pr *pr = lu->pr;

	if (!pr)
		return;
	pthread_mutex_lock(&lu->lock);
	if (pr->shared && pr->spc2)
		pr_shared_spc2_drop(lu, NULL, 0);
	pr->spc2 = false;
	pr_update_state(pr);
	pthread_mutex_unlock(&lu->lock);
}

/* ---- the conflict check ---- */

/* SPC-5 table 64 and SBC-4's counterpart, from the command's class, for a
 * nexus that does not hold the persistent reservation. */
static bool pr_class_conflicts(unsigned cls, uint8_t type, bool registered)
{
	if (cls == SCSI_OP_PR_ALLOW)
		return false;
	switch (type) {
	case SCSI_PR_WRITE_EXCLUSIVE:
		return cls != SCSI_OP_PR_READ;
	case SCSI_PR_WRITE_EXCLUSIVE_RO:
	case SCSI_PR_WRITE_EXCLUSIVE_AR:
		return !registered && cls != SCSI_OP_PR_READ;
	case SCSI_PR_EXCLUSIVE_ACCESS_RO:
	case SCSI_PR_EXCLUSIVE_ACCESS_AR:
		return !registered;
	default: /* Exclusive Access */
		return true;
	}
}

static bool pr_conflicts_locked(const struct scsi_pr *pr,
				const struct scsi_nexus *n, unsigned flags)
{
	const struct pr_set *s = &pr->set;
	unsigned cls = flags & SCSI_OP_PR_CLASS;
	const struct pr_reg *reg;

	if (pr->spc2 && !(flags & SCSI_OP_PR_SPC2_OK) && !pr_spc2_holder(pr, n))
		return true;
	if (!s->reserved)
		return false;
	if (!cls) /* unclassified: as a write */
		cls = SCSI_OP_PR_WRITE;
	if (cls == SCSI_OP_PR_ALLOW)
		return false;
	reg = pr_find_reg(s, n);
	if (pr_is_holder(s, reg))
		return false;
	return pr_class_conflicts(cls, s->type, reg != NULL);
}

int scsi_pr_check(struct scsi_cmd *cmd)
{
	struct scsi_lu *lu = cmd->lu;
	bool conflict;

	if (!lu->pr ||
	    !atomic_load_explicit(&lu->pr->state, memory_order_relaxed))
		return 0;
	pthread_mutex_lock(&lu->lock);
	conflict = pr_conflicts_locked(lu->pr, cmd->nexus, cmd->op->flags);
	pthread_mutex_unlock(&lu->lock);
	if (!conflict)
		return 0;
	scsi_cmd_set_status(cmd, SAM_STAT_RESERVATION_CONFLICT);
	return -EBUSY;
}

/* ---- SPC-2 RESERVE and RELEASE ---- */

/*
 * Only the logical unit reservation: third-party reservations (3RDPTY,
 * LONGID, the third-party device ID) and extents (bit 0, and RESERVE (6)
 * bytes 2-4) are refused.
 */
static int pr_spc2_parse6(struct scsi_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;

	if (cdb[1] & 0x1f) {
		scsi_cmd_set_invalid_field(cmd, 1, cdb[1] & 0x10 ? 4 : 0);
		return -EINVAL;
	}
	for (uint16_t i = 2; i <= 4; i++) {
		if (cdb[i]) {
			scsi_cmd_set_invalid_field(cmd, i, 7);
			return -EINVAL;
		}
	}
	return 0;
}

static int pr_spc2_parse10(struct scsi_cmd *cmd)
{
	const uint8_t *cdb = cmd->cdb;

	if (cdb[1] & 0x13) {
		scsi_cmd_set_invalid_field(cmd, 1,
					   cdb[1] & 0x10   ? 4
					   : cdb[1] & 0x02 ? 1
							   : 0);
		return -EINVAL;
	}
	for (uint16_t i = 2; i <= 8; i++) {
		/* Bytes 4-6 are reserved and ignored; 2 (reservation
		 * identification), 3 (third-party device ID) and 7-8 (the
		 * parameter list of a third-party ID) must be zero. */
		if (i >= 4 && i <= 6)
			continue;
		if (cdb[i]) {
			scsi_cmd_set_invalid_field(cmd, i, 7);
			return -EINVAL;
		}
	}
	return 0;
}

static int pr_spc2_reserve(struct scsi_cmd *cmd);

static bool pr_spc2_is(const struct pr_extra *spc2, const struct scsi_nexus *n)
{
	return spc2->held && spc2->rel_port == n->rel_port_id &&
	       !strcasecmp(spc2->port, n->initiator_port);
}

/* RESERVE and RELEASE of a LU whose reservations several gateways share
 * (pr_shared.c): the same rules, on the shared record. */
static int pr_spc2_shared_change(struct scsi_cmd *cmd, void *arg,
				 struct pr_set *s, struct pr_extra *spc2,
				 struct list_head *removed, bool *changed)
{
	bool reserve = cmd->op->execute == pr_spc2_reserve;

	if (s->nr_regs ||
	    (reserve && spc2->held && !pr_spc2_is(spc2, cmd->nexus))) {
		scsi_cmd_set_status(cmd, SAM_STAT_RESERVATION_CONFLICT);
		return -EBUSY;
	}
	if (reserve && !spc2->held) {
		spc2->held = true;
		snprintf(spc2->port, sizeof(spc2->port), "%s",
			 cmd->nexus->initiator_port);
		spc2->rel_port = cmd->nexus->rel_port_id;
		*changed = true;
	} else if (!reserve && pr_spc2_is(spc2, cmd->nexus)) {
		spc2->held = false;
		*changed = true;
	}
	return 0;
}

static void pr_spc2_shared_done(struct scsi_cmd *cmd, bool aborting)
{
	scsi_cmd_complete(cmd);
}

static int pr_spc2_reserve(struct scsi_cmd *cmd)
{
	struct scsi_lu *lu = cmd->lu;
	struct scsi_pr *pr = lu->pr;
	const struct scsi_nexus *n = cmd->nexus;
	int rc = 0;

	if (pr->shared)
		return pr_shared_run(cmd, pr_spc2_shared_change, NULL,
				     pr_spc2_shared_done);
	pthread_mutex_lock(&lu->lock);
	if (pr->set.nr_regs || (pr->spc2 && !pr_spc2_holder(pr, n))) {
		scsi_cmd_set_status(cmd, SAM_STAT_RESERVATION_CONFLICT);
		rc = -EBUSY;
	} else if (!pr->spc2) {
		pr->spc2 = true;
		snprintf(pr->spc2_port, sizeof(pr->spc2_port), "%s",
			 n->initiator_port);
		pr->spc2_rel_port = n->rel_port_id;
		pr_update_state(pr);
	}
	pthread_mutex_unlock(&lu->lock);
	return rc;
}

/* A RELEASE from a nexus that holds nothing succeeds and does nothing. */
static int pr_spc2_release(struct scsi_cmd *cmd)
{
	struct scsi_lu *lu = cmd->lu;
	struct scsi_pr *pr = lu->pr;
	int rc = 0;

	if (pr->shared)
		return pr_shared_run(cmd, pr_spc2_shared_change, NULL,
				     pr_spc2_shared_done);
	pthread_mutex_lock(&lu->lock);
	if (pr->set.nr_regs) {
		scsi_cmd_set_status(cmd, SAM_STAT_RESERVATION_CONFLICT);
		rc = -EBUSY;
	} else if (pr_spc2_holder(pr, cmd->nexus)) {
		pr->spc2 = false;
		pr_update_state(pr);
	}
	pthread_mutex_unlock(&lu->lock);
	return rc;
}

/* RESERVE conflicts like a write; RELEASE runs whatever is held. */
const struct scsi_op spc_op_reserve6 = {
    .name = "RESERVE(6)",
    .opcode = 0x16,
    .cdb_len = 6,
    .dir = SCSI_DIR_NONE,
    .flags = SCSI_OP_PR_WRITE,
    .parse = pr_spc2_parse6,
    .execute = pr_spc2_reserve,
    .usage = {0x16, 0x1f, 0xff, 0xff, 0xff, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

const struct scsi_op spc_op_release6 = {
    .name = "RELEASE(6)",
    .opcode = 0x17,
    .cdb_len = 6,
    .dir = SCSI_DIR_NONE,
    .flags = SCSI_OP_PR_WRITE | SCSI_OP_PR_SPC2_OK,
    .parse = pr_spc2_parse6,
    .execute = pr_spc2_release,
    .usage = {0x17, 0x1f, 0xff, 0xff, 0xff, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

const struct scsi_op spc_op_reserve10 = {
    .name = "RESERVE(10)",
    .opcode = 0x56,
    .cdb_len = 10,
    .dir = SCSI_DIR_NONE,
    .flags = SCSI_OP_PR_WRITE,
    .parse = pr_spc2_parse10,
    .execute = pr_spc2_reserve,
    .usage = {0x56, 0x13, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

const struct scsi_op spc_op_release10 = {
    .name = "RELEASE(10)",
    .opcode = 0x57,
    .cdb_len = 10,
    .dir = SCSI_DIR_NONE,
    .flags = SCSI_OP_PR_WRITE | SCSI_OP_PR_SPC2_OK,
    .parse = pr_spc2_parse10,
    .execute = pr_spc2_release,
    .usage = {0x57, 0x13, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0xff, 0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};
