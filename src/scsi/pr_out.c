/*
 * PERSISTENT RESERVE OUT (SPC-5 §6.17) and what its service actions do
 * (SPC-5 §5.13): REGISTER and REGISTER AND IGNORE EXISTING KEY with
 * ALL_TG_PT and SPEC_I_PT, RESERVE, RELEASE, CLEAR, PREEMPT and PREEMPT
 * AND ABORT, REGISTER AND MOVE, APTPL; the basic and the REGISTER AND
 * MOVE parameter lists with iSCSI TransportIDs (§7.6.4.6); the unit attentions
 * RESERVATIONS RELEASED, RESERVATIONS PREEMPTED and REGISTRATIONS PREEMPTED.
 *
 * A command runs under lu->lock on a copy of the persistent state; the
 * copy replaces the state only once the store has it (APTPL), and only
 * then do the unit attentions and task aborts it caused happen. A command
 * that may have to save runs on the main thread, which owns the store,
 * so that the saved file always holds the latest state; the others run
 * on their nexus's reactor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event/reactor.h"
#include "scsi/device.h"
#include "scsi/pr_internal.h"
#include "scsi/sense.h"
#include "scsi/target.h"
#include "scsi/tpg.h"
#include "scsi/ua.h"
#include "util/bytes.h"
#include "util/log.h"

#define PR_OUT_REGISTER	       0x00
#define PR_OUT_RESERVE	       0x01
#define PR_OUT_RELEASE	       0x02
#define PR_OUT_CLEAR	       0x03
#define PR_OUT_PREEMPT	       0x04
#define PR_OUT_PREEMPT_ABORT   0x05
#define PR_OUT_REGISTER_IGNORE 0x06
#define PR_OUT_REGISTER_MOVE   0x07

#define PR_OUT_BASIC_LEN 24 /* the basic parameter list */
/* Most parameter list bytes taken: the basic list and a TransportID per
 * registration the LU can hold. */
#define PR_OUT_PARAM_MAX (PR_OUT_BASIC_LEN + 4 + PR_REGS_MAX * 264)

/* Byte 20 of the basic parameter list, byte 17 of REGISTER AND MOVE's. */
#define PR_OUT_SPEC_I_PT 0x08
#define PR_OUT_ALL_TG_PT 0x04
#define PR_OUT_APTPL	 0x01
#define PR_OUT_UNREG	 0x02

/* The parameter list, decoded. */
struct pr_out_params {
	uint8_t sa, scope, type;
	uint64_t key, sa_key;
	bool spec_i_pt, all_tg_pt, aptpl, unreg;
	uint16_t rel_port_id; /* REGISTER AND MOVE */
	/* SPEC_I_PT / REGISTER AND MOVE: the TransportIDs and where they
	 * start in the parameter list (for field pointers). */
	const uint8_t *tids;
	size_t tids_len, tids_off;
};

/* What one command did, beyond the copy of the state. */
struct pr_out_ctx {
	struct list_head removed; /* registrations it took away */
	bool changed;		  /* the persistent state changed */
	bool aborting;		  /* PREEMPT AND ABORT aborted tasks */
};

/* ---- errors ---- */

static int pr_conflict(struct scsi_cmd *cmd)
{
	scsi_cmd_set_status(cmd, SAM_STAT_RESERVATION_CONFLICT);
	return -EBUSY;
}

#define pr_invalid_param(cmd, byte, bit)                                       \
	scsi_cmd_set_param_error(cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM, byte,   \
				 bit)
#define pr_length_error(cmd)                                                   \
	scsi_cmd_set_param_error(cmd, SCSI_ASC_PARAMETER_LIST_LENGTH, -1, -1)

static int pr_no_resources(struct scsi_cmd *cmd)
{
	scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
			   SCSI_ASC_INSUFFICIENT_REG_RESOURCES);
	return -ENOSPC;
}

/* ---- TransportIDs ---- */

/*
 * One iSCSI TransportID at d[0..avail): its length, or -1 with *bad the
 * offset (from d) of the field that is wrong.
 */
static int pr_tid_decode(const uint8_t *d, size_t avail, struct pr_id *id,
			 int *bad, int *bad_bit)
{
	size_t alen, n;

	*bad_bit = 7;
	if (avail < 4) {
		*bad = 0;
		return -1;
	}
	if ((d[0] & 0x0f) != PR_PROTO_ISCSI) {
		*bad = 0;
		*bad_bit = 3;
		return -1;
	}
	if ((d[0] >> 6) > 1) {
		*bad = 0;
		return -1;
	}
	alen = get_be16(d + 2);
	if (alen == 0 || alen % 4 || 4 + alen > avail) {
		*bad = 2;
		return -1;
	}
	/* The name (and ISID) is NUL-terminated within the TransportID. */
	n = strnlen((const char *)d + 4, alen);
	if (n == alen || n == 0 || n >= SCSI_PR_TID_MAX ||
	    !pr_id_parse(id, (const char *)d + 4, n) ||
	    id->has_isid != ((d[0] >> 6) == 1)) {
		*bad = 4;
		return -1;
	}
	return (int)(4 + alen);
}

/* ---- the parameter list ---- */

static bool pr_out_sa_registers(uint8_t sa)
{
	return sa == PR_OUT_REGISTER || sa == PR_OUT_REGISTER_IGNORE ||
	       sa == PR_OUT_REGISTER_MOVE;
}

/* SCOPE and TYPE matter to these service actions only. */
static bool pr_out_sa_typed(uint8_t sa)
{
	return sa == PR_OUT_RESERVE || sa == PR_OUT_RELEASE ||
	       sa == PR_OUT_PREEMPT || sa == PR_OUT_PREEMPT_ABORT ||
	       sa == PR_OUT_REGISTER_MOVE;
}

static int pr_out_parse(struct scsi_cmd *cmd)
{
	uint8_t sa = cmd->cdb[1] & 0x1f;
	uint32_t len = get_be32(cmd->cdb + 5);

	if (pr_out_sa_typed(sa)) {
		if ((cmd->cdb[2] >> 4) != PR_SCOPE_LU) {
			scsi_cmd_set_invalid_field(cmd, 2, 7);
			return -EINVAL;
		}
		if (!pr_type_valid(cmd->cdb[2] & 0x0f)) {
			scsi_cmd_set_invalid_field(cmd, 2, 3);
			return -EINVAL;
		}
	}
	/* Every parameter list has at least the 24 bytes of the basic one
	 * (REGISTER AND MOVE's too); longer only with TransportIDs. */
	if (len < PR_OUT_BASIC_LEN || len > PR_OUT_PARAM_MAX) {
		pr_length_error(cmd);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = len;
	return 0;
}

static int pr_out_decode(struct scsi_cmd *cmd, struct pr_out_params *p)
{
	const uint8_t *d = cmd->buf;
	uint32_t len = get_be32(cmd->cdb + 5);
	uint32_t tpdl;

	memset(p, 0, sizeof(*p));
	p->sa = cmd->cdb[1] & 0x1f;
	p->scope = cmd->cdb[2] >> 4;
	p->type = cmd->cdb[2] & 0x0f;
	/* The initiator sent less than it announced. */
	if (cmd->xfer_len < len)
		return pr_length_error(cmd);
	p->key = get_be64(d);
	p->sa_key = get_be64(d + 8);
	if (p->sa == PR_OUT_REGISTER_MOVE) {
		p->unreg = d[17] & PR_OUT_UNREG;
		p->aptpl = d[17] & PR_OUT_APTPL;
		p->rel_port_id = get_be16(d + 18);
		tpdl = get_be32(d + 20);
		if (tpdl > len - PR_OUT_BASIC_LEN)
			return pr_length_error(cmd);
		p->tids = d + PR_OUT_BASIC_LEN;
		p->tids_len = tpdl;
		p->tids_off = PR_OUT_BASIC_LEN;
		return 0;
	}
	p->spec_i_pt = d[20] & PR_OUT_SPEC_I_PT;
	p->all_tg_pt = d[20] & PR_OUT_ALL_TG_PT;
	p->aptpl = d[20] & PR_OUT_APTPL;
	if (!p->spec_i_pt) {
		if (len != PR_OUT_BASIC_LEN)
			return pr_length_error(cmd);
		return 0;
	}
	/* SPEC_I_PT only with REGISTER. */
	if (p->sa != PR_OUT_REGISTER)
		return pr_invalid_param(cmd, 20, 3);
	if (len < PR_OUT_BASIC_LEN + 4)
		return pr_length_error(cmd);
	tpdl = get_be32(d + PR_OUT_BASIC_LEN);
	if (tpdl != len - PR_OUT_BASIC_LEN - 4)
		return pr_length_error(cmd);
	p->tids = d + PR_OUT_BASIC_LEN + 4;
	p->tids_len = tpdl;
	p->tids_off = PR_OUT_BASIC_LEN + 4;
	return 0;
}

/* ---- changes to the copy of the state ---- */

static struct pr_reg *pr_reg_new(uint64_t key, const struct pr_id *id,
				 bool all_tg_pt, uint16_t rel_port_id)
{
	struct pr_reg *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return NULL;
	reg->key = key;
	reg->id = *id;
	reg->all_tg_pt = all_tg_pt;
	reg->rel_port_id = all_tg_pt ? 0 : rel_port_id;
	return reg;
}

static void pr_reserve_set(struct pr_set *s, struct pr_reg *holder,
			   uint8_t type, uint8_t scope)
{
	s->reserved = true;
	s->type = type;
	s->scope = scope;
	s->holder = pr_type_all_regs(type) ? NULL : holder;
}

static void pr_release_set(struct pr_set *s)
{
	s->reserved = false;
	s->type = s->scope = 0;
	s->holder = NULL;
}

static void pr_mark(struct pr_reg *reg, uint8_t asc, uint8_t ascq)
{
	reg->ua_asc = asc;
	reg->ua_ascq = ascq;
}

/* Every registration gets asc/ascq (the sender's nexus is spared when
 * the unit attentions are established). */
static void pr_mark_all(struct pr_set *s, uint8_t asc, uint8_t ascq)
{
	struct pr_reg *reg;

	list_for_each_entry (reg, &s->regs, link)
		pr_mark(reg, asc, ascq);
}

/* Takes reg out of s; it stays on ctx->removed until the commit. */
static void pr_remove_reg(struct pr_set *s, struct pr_out_ctx *ctx,
			  struct pr_reg *reg)
{
	if (s->holder == reg)
		s->holder = NULL;
	list_del(&reg->link);
	list_add_tail(&reg->link, &ctx->removed);
	s->nr_regs--;
}

/*
 * Unregistering: a holder that leaves releases the
 * reservation, and a registrants only one then tells the other
 * registrants; an all registrants reservation ends with its last
 * registrant.
 */
static void pr_unregister(struct pr_set *s, struct pr_out_ctx *ctx,
			  struct pr_reg *reg)
{
	if (pr_is_holder(s, reg)) {
		if (!pr_type_all_regs(s->type)) {
			uint8_t type = s->type;

			pr_release_set(s);
			pr_remove_reg(s, ctx, reg);
			if (type == SCSI_PR_WRITE_EXCLUSIVE_RO ||
			    type == SCSI_PR_EXCLUSIVE_ACCESS_RO)
				pr_mark_all(s, SCSI_ASC_RESERVATIONS_RELEASED);
			return;
		}
		if (s->nr_regs == 1)
			pr_release_set(s);
	}
	pr_remove_reg(s, ctx, reg);
}

/* The registrations SPEC_I_PT asks for, on top of the sender's (new). */
static int pr_spec_i_pt(struct scsi_cmd *cmd, const struct pr_out_params *p,
			struct pr_set *s, struct list_head *add,
			unsigned *nr_add)
{
	const struct scsi_nexus *n = cmd->nexus;
	size_t off = 0;

	while (off < p->tids_len) {
		struct pr_reg *reg, *other;
		struct pr_id id;
		int bad, bit;
		int len = pr_tid_decode(p->tids + off, p->tids_len - off, &id,
					&bad, &bit);

		if (len < 0)
			return pr_invalid_param(
			    cmd, (int)(p->tids_off + off + (size_t)bad), bit);
		reg = pr_reg_new(p->sa_key, &id, p->all_tg_pt, n->rel_port_id);
		if (!reg) {
			scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
			return -ENOMEM;
		}
		/* The sender named again: already part of this command. */
		other = list_first_entry(add, struct pr_reg, link);
		if (reg->id.has_isid &&
		    !strcasecmp(reg->id.tid, other->id.tid) &&
		    reg->all_tg_pt == other->all_tg_pt &&
		    reg->rel_port_id == other->rel_port_id) {
			free(reg);
			off += (size_t)len;
			continue;
		}
		/* An I_T nexus registered already, or twice in the list. */
		list_for_each_entry (other, &s->regs, link) {
			if (pr_reg_overlap(reg, other))
				goto dup;
		}
		list_for_each_entry (other, add, link) {
			if (pr_reg_overlap(reg, other))
				goto dup;
		}
		list_add_tail(&reg->link, add);
		(*nr_add)++;
		off += (size_t)len;
		continue;
	dup:
		free(reg);
		return pr_invalid_param(cmd, (int)(p->tids_off + off), 7);
	}
	return 0;
}

/* REGISTER and REGISTER AND IGNORE EXISTING KEY, registered or not. */
static int pr_out_register(struct scsi_cmd *cmd, const struct pr_out_params *p,
			   struct pr_set *s, struct pr_out_ctx *ctx)
{
	const struct scsi_nexus *n = cmd->nexus;
	struct pr_reg *reg = pr_find_reg(s, n);
	struct list_head add;
	unsigned nr_add = 1;
	struct pr_id id;
	int rc;

	if (reg) {
		if (p->sa == PR_OUT_REGISTER && p->key != reg->key)
			return pr_conflict(cmd);
		if (p->spec_i_pt)
			return pr_invalid_param(cmd, 20, 3);
		if (p->sa_key)
			reg->key = p->sa_key;
		else
			pr_unregister(s, ctx, reg);
		goto done;
	}
	if (p->sa == PR_OUT_REGISTER && p->key)
		return pr_conflict(cmd);
	/* Nothing to register and nothing registered: nothing changes. */
	if (!p->sa_key)
		return 0;
	list_init(&add);
	pr_id_from_port(&id, n->initiator_port);
	reg = pr_reg_new(p->sa_key, &id, p->all_tg_pt, n->rel_port_id);
	if (!reg) {
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		return -ENOMEM;
	}
	list_add_tail(&reg->link, &add);
	/* ALL_TG_PT over a registration of this initiator port through
	 * another target port: that I_T nexus would be registered twice. */
	{
		struct pr_reg *other;

		list_for_each_entry (other, &s->regs, link) {
			if (pr_reg_overlap(reg, other)) {
				pr_reg_list_free(&add);
				return pr_invalid_param(cmd, 20, 2);
			}
		}
	}
	if (p->spec_i_pt) {
		rc = pr_spec_i_pt(cmd, p, s, &add, &nr_add);
		if (rc) {
			pr_reg_list_free(&add);
			return rc;
		}
	}
	if (s->nr_regs + nr_add > PR_REGS_MAX) {
		pr_reg_list_free(&add);
		return pr_no_resources(cmd);
	}
	while (!list_empty(&add)) {
		reg = list_first_entry(&add, struct pr_reg, link);
		list_del(&reg->link);
		list_add_tail(&reg->link, &s->regs);
		s->nr_regs++;
	}
done:
	s->aptpl = p->aptpl;
	s->generation++;
	ctx->changed = true;
	return 0;
}

/* The sender's registration, checked against RESERVATION KEY. */
static struct pr_reg *pr_sender(struct scsi_cmd *cmd,
				const struct pr_out_params *p,
				const struct pr_set *s)
{
	struct pr_reg *reg = pr_find_reg(s, cmd->nexus);

	return reg && reg->key == p->key ? reg : NULL;
}

/* RESERVE. */
static int pr_out_reserve(struct scsi_cmd *cmd, const struct pr_out_params *p,
			  struct pr_set *s, struct pr_out_ctx *ctx)
{
	struct pr_reg *reg = pr_sender(cmd, p, s);

	if (!reg)
		return pr_conflict(cmd);
	if (s->reserved) {
		/* The holder asking again for the same: nothing to do. */
		if (pr_is_holder(s, reg) && s->type == p->type &&
		    s->scope == p->scope)
			return 0;
		return pr_conflict(cmd);
	}
	pr_reserve_set(s, reg, p->type, p->scope);
	ctx->changed = true;
	return 0;
}

/* RELEASE. */
static int pr_out_release(struct scsi_cmd *cmd, const struct pr_out_params *p,
			  struct pr_set *s, struct pr_out_ctx *ctx)
{
	struct pr_reg *reg = pr_sender(cmd, p, s);
	uint8_t type = s->type;

	if (!reg)
		return pr_conflict(cmd);
	/* No reservation, or another's: GOOD, nothing released. */
	if (!pr_is_holder(s, reg))
		return 0;
	if (s->type != p->type || s->scope != p->scope) {
		scsi_cmd_set_sense(cmd, SCSI_SK_ILLEGAL_REQUEST,
				   SCSI_ASC_INVALID_RELEASE_OF_PR);
		return -EINVAL;
	}
	pr_release_set(s);
	if (type != SCSI_PR_WRITE_EXCLUSIVE && type != SCSI_PR_EXCLUSIVE_ACCESS)
		pr_mark_all(s, SCSI_ASC_RESERVATIONS_RELEASED);
	ctx->changed = true;
	return 0;
}

/* CLEAR: every registration and the reservation go. */
static int pr_out_clear(struct scsi_cmd *cmd, const struct pr_out_params *p,
			struct pr_set *s, struct pr_out_ctx *ctx)
{
	struct pr_reg *reg, *tmp;

	if (!pr_sender(cmd, p, s))
		return pr_conflict(cmd);
	pr_release_set(s);
	list_for_each_entry_safe (reg, tmp, &s->regs, link) {
		pr_mark(reg, SCSI_ASC_RESERVATIONS_PREEMPTED);
		pr_remove_reg(s, ctx, reg);
	}
	s->generation++;
	ctx->changed = true;
	return 0;
}

/*
 * Removes the registrations of key (all but the sender's; with key 0 and
 * all = true, every one but the sender's), each to be told REGISTRATIONS
 * PREEMPTED and, for PREEMPT AND ABORT, to lose its tasks. Returns how
 * many registrations the key named, the sender's included.
 */
static unsigned pr_preempt_regs(struct pr_set *s, struct pr_out_ctx *ctx,
				const struct pr_reg *sender, uint64_t key,
				bool all, bool abort)
{
	struct pr_reg *reg, *tmp;
	unsigned named = 0;

	list_for_each_entry_safe (reg, tmp, &s->regs, link) {
		if (!all && reg->key != key)
			continue;
		named++;
		if (reg == sender)
			continue;
		pr_mark(reg, SCSI_ASC_REGISTRATIONS_PREEMPTED);
		reg->abort = abort;
		pr_remove_reg(s, ctx, reg);
	}
	return named;
}

/* PREEMPT and PREEMPT AND ABORT. */
static int pr_out_preempt(struct scsi_cmd *cmd, const struct pr_out_params *p,
			  struct pr_set *s, struct pr_out_ctx *ctx)
{
	struct pr_reg *reg = pr_sender(cmd, p, s);
	bool abort = p->sa == PR_OUT_PREEMPT_ABORT;

	if (!reg)
		return pr_conflict(cmd);
	if (s->reserved && pr_type_all_regs(s->type) && !p->sa_key) {
		/* All registrants: every other registration goes and the
		 * sender alone holds the new reservation. */
		pr_preempt_regs(s, ctx, reg, 0, true, abort);
		pr_reserve_set(s, reg, p->type, p->scope);
	} else if (s->reserved && !pr_type_all_regs(s->type) &&
		   s->holder->key == p->sa_key) {
		/* Preempting the reservation: its holder's key goes, and
		 * the sender holds the new one. */
		uint8_t type = s->type, scope = s->scope;

		pr_preempt_regs(s, ctx, reg, p->sa_key, false, abort);
		pr_reserve_set(s, reg, p->type, p->scope);
		if (type != p->type || scope != p->scope) {
			struct pr_reg *r;

			list_for_each_entry (r, &s->regs, link) {
				if (!r->ua_asc)
					pr_mark(r,
						SCSI_ASC_RESERVATIONS_RELEASED);
			}
		}
	} else {
		/* Removing registrations only; the reservation stays. */
		if (!p->sa_key)
			return pr_invalid_param(cmd, 8, -1);
		if (!pr_preempt_regs(s, ctx, reg, p->sa_key, false, abort))
			return pr_conflict(cmd);
	}
	s->generation++;
	ctx->changed = true;
	return 0;
}

/* Whether rel_port_id is one of the target ports the LU is reached by. */
static bool pr_port_exists(struct scsi_cmd *cmd, uint16_t rel_port_id)
{
	struct scsi_tpg_info g[SCSI_TPG_MAX];
	unsigned nr = scsi_tpg_list(cmd->nexus, cmd->lu, g, SCSI_TPG_MAX);

	for (unsigned i = 0; i < nr && i < SCSI_TPG_MAX; i++) {
		for (unsigned j = 0; j < g[i].nr_ports; j++) {
			if (g[i].ports[j] == rel_port_id)
				return true;
		}
	}
	return false;
}

/* REGISTER AND MOVE. */
static int pr_out_register_move(struct scsi_cmd *cmd,
				const struct pr_out_params *p, struct pr_set *s,
				struct pr_out_ctx *ctx)
{
	const struct scsi_nexus *n = cmd->nexus;
	struct pr_reg *reg = pr_sender(cmd, p, s), *dest = NULL, *r;
	struct pr_id id;
	int bad, bit, len;

	if (!reg || !pr_is_holder(s, reg) || pr_type_all_regs(s->type))
		return pr_conflict(cmd);
	if (!p->sa_key)
		return pr_invalid_param(cmd, 8, -1);
	len = pr_tid_decode(p->tids, p->tids_len, &id, &bad, &bit);
	if (len < 0)
		return pr_invalid_param(cmd, (int)p->tids_off + bad, bit);
	/* The move is to an I_T nexus: an initiator port, not a device. */
	if (!id.has_isid)
		return pr_invalid_param(cmd, (int)p->tids_off, 7);
	if (!pr_port_exists(cmd, p->rel_port_id))
		return pr_invalid_param(cmd, 18, 7);
	if (p->rel_port_id == n->rel_port_id &&
	    !strcasecmp(id.tid, n->initiator_port))
		return pr_invalid_param(cmd, (int)p->tids_off + 4, 7);
	list_for_each_entry (r, &s->regs, link) {
		if (pr_reg_matches(r, id.tid, p->rel_port_id)) {
			dest = r;
			break;
		}
	}
	if (!dest) {
		if (s->nr_regs >= PR_REGS_MAX)
			return pr_no_resources(cmd);
		dest = pr_reg_new(p->sa_key, &id, false, p->rel_port_id);
		if (!dest) {
			scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
			return -ENOMEM;
		}
		list_add_tail(&dest->link, &s->regs);
		s->nr_regs++;
	}
	pr_reserve_set(s, dest, s->type, s->scope);
	if (p->unreg)
		pr_remove_reg(s, ctx, reg);
	s->aptpl = p->aptpl;
	s->generation++;
	ctx->changed = true;
	return 0;
}

/* ---- running a command ---- */

static int pr_out_apply(struct scsi_cmd *cmd, const struct pr_out_params *p,
			struct pr_set *s, struct pr_out_ctx *ctx)
{
	switch (p->sa) {
	case PR_OUT_REGISTER:
	case PR_OUT_REGISTER_IGNORE:
		return pr_out_register(cmd, p, s, ctx);
	case PR_OUT_RESERVE:
		return pr_out_reserve(cmd, p, s, ctx);
	case PR_OUT_RELEASE:
		return pr_out_release(cmd, p, s, ctx);
	case PR_OUT_CLEAR:
		return pr_out_clear(cmd, p, s, ctx);
	case PR_OUT_PREEMPT:
	case PR_OUT_PREEMPT_ABORT:
		return pr_out_preempt(cmd, p, s, ctx);
	default:
		return pr_out_register_move(cmd, p, s, ctx);
	}
}

static bool pr_same_nexus(const struct scsi_nexus *a,
			  const struct scsi_nexus *b)
{
	return a->rel_port_id == b->rel_port_id &&
	       strcasecmp(a->initiator_port, b->initiator_port) == 0;
}

/* The unit attentions and aborts of the change, to the I_T nexuses the
 * marked registrations name (but the sender's). Under lu->lock. */
static void pr_out_commit(struct scsi_cmd *cmd, struct pr_set *s,
			  struct pr_out_ctx *ctx)
{
	struct scsi_itl *itl;
	struct pr_reg *reg;

	list_for_each_entry (itl, &cmd->lu->itl_list, lu_link) {
		const struct scsi_nexus *n = itl->nexus;
		struct list_head *lists[2] = {&s->regs, &ctx->removed};

		if (!n || pr_same_nexus(n, cmd->nexus))
			continue;
		for (int i = 0; i < 2; i++) {
			list_for_each_entry (reg, lists[i], link) {
				if (!reg->ua_asc ||
				    !pr_reg_matches(reg, n->initiator_port,
						    n->rel_port_id))
					continue;
				scsi_ua_establish_locked(itl, reg->ua_asc,
							 reg->ua_ascq);
				if (reg->abort) {
					scsi_itl_abort_tasks_locked(itl,
								    cmd->nexus);
					ctx->aborting = true;
				}
			}
		}
	}
	pr_set_clear_marks(s);
}

/* Saves (or forgets) the new state when APTPL asks; 0 or -errno. */
static int pr_out_persist(struct scsi_cmd *cmd, const struct scsi_pr *pr,
			  const struct pr_set *s)
{
	const struct scsi_pr_store_ops *store = scsi_pr_store();
	struct scsi_lu *lu = cmd->lu;
	struct scsi_pr_image img;
	char err[512];
	int rc;

	if (!store || pr->deleted || (!s->aptpl && !pr->set.aptpl))
		return 0;
	if (s->aptpl) {
		rc = pr_set_to_image(s, &img);
		if (rc == 0) {
			rc = store->save(lu, &img, err, sizeof(err));
			scsi_pr_image_free(&img);
		} else {
			snprintf(err, sizeof(err), "out of memory");
		}
	} else {
		rc = store->remove(lu, err, sizeof(err));
	}
	if (rc < 0)
		log_error("target %s LUN %llu: PERSISTENT RESERVE OUT from %s "
			  "failed, its change is undone: %s",
			  lu->target->name, (unsigned long long)lu->lun,
			  cmd->nexus->initiator_port, err);
	return rc;
}

/* The whole command, under lu->lock. */
static int pr_out_run_locked(struct scsi_cmd *cmd,
			     const struct pr_out_params *p, bool *fence)
{
	struct scsi_pr *pr = cmd->lu->pr;
	struct pr_out_ctx ctx;
	struct pr_set work;
	int rc;

	/* Another nexus's SPC-2 reservation (SPC-2). */
	if (pr->spc2 && !pr_spc2_holder(pr, cmd->nexus))
		return pr_conflict(cmd);
	if (pr_set_clone(&pr->set, &work)) {
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		return -ENOMEM;
	}
	list_init(&ctx.removed);
	ctx.changed = false;
	ctx.aborting = false;
	rc = pr_out_apply(cmd, p, &work, &ctx);
	if (rc == 0 && ctx.changed && pr_out_persist(cmd, pr, &work) < 0) {
		scsi_cmd_set_sense(cmd, SCSI_SK_HARDWARE_ERROR,
				   SCSI_ASC_INTERNAL_TARGET_FAILURE);
		rc = -EIO;
	}
	if (rc == 0) {
		pr_set_replace(&pr->set, &work);
		pr_out_commit(cmd, &pr->set, &ctx);
		pr_update_state(pr);
		*fence = ctx.aborting;
	} else {
		pr_set_clear(&work);
	}
	pr_reg_list_free(&ctx.removed);
	return rc;
}

/*
 * PREEMPT AND ABORT is complete only when the preempted nexuses' tasks are
 * (SPC-5 §5.13.11.2.6, SAM-5 §5.6): the aborts run on those nexuses'
 * reactors, and a write of theirs that is still in a store, or whose
 * Data-Out is still being taken, must not land after the preempting
 * initiator was told GOOD. So the status waits, polled on this reactor,
 * until the LU has no abort in progress.
 */
#define PR_OUT_FENCE_POLL_MS 1

struct pr_out_fence {
	struct scsi_cmd *cmd;
	struct reactor_timer timer;
};

static void pr_out_fence_check(void *arg)
{
	struct pr_out_fence *f = arg;
	struct scsi_cmd *cmd = f->cmd;

	if (scsi_lu_aborting(cmd->lu)) {
		reactor_timer_arm(cmd->nexus->reactor, &f->timer,
				  PR_OUT_FENCE_POLL_MS, pr_out_fence_check, f);
		return;
	}
	free(f);
	scsi_cmd_complete(cmd);
}

/* Completes cmd now, or once the aborts it started are over. */
static void pr_out_complete(struct scsi_cmd *cmd, bool fence)
{
	struct pr_out_fence *f;

	if (!fence || !scsi_lu_aborting(cmd->lu)) {
		scsi_cmd_complete(cmd);
		return;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		/* Cannot wait without memory; BUSY makes the initiator ask
		 * again, and by then the aborts are over. */
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		scsi_cmd_complete(cmd);
		return;
	}
	f->cmd = cmd;
	reactor_timer_init(&f->timer);
	reactor_timer_arm(cmd->nexus->reactor, &f->timer, PR_OUT_FENCE_POLL_MS,
			  pr_out_fence_check, f);
}

/* A command on its way through the main thread, which saves. */
struct pr_out_job {
	struct scsi_cmd *cmd;
	struct pr_out_params p;
	bool fence;
	struct reactor_msg msg;
};

static void pr_out_job_done(void *arg)
{
	struct pr_out_job *job = arg;
	struct scsi_cmd *cmd = job->cmd;
	bool fence = job->fence;

	free(job);
	pr_out_complete(cmd, fence);
}

static void pr_out_job_run(void *arg)
{
	struct pr_out_job *job = arg;
	struct scsi_lu *lu = job->cmd->lu;

	pthread_mutex_lock(&lu->lock);
	pr_out_run_locked(job->cmd, &job->p, &job->fence);
	pthread_mutex_unlock(&lu->lock);
	job->msg.fn = pr_out_job_done;
	job->msg.arg = job;
	reactor_post_msg(job->cmd->nexus->reactor, &job->msg);
}

/* ---- a LU whose reservations several gateways share (pr_shared.c) ---- */

static int pr_out_shared_change(struct scsi_cmd *cmd, void *arg,
				struct pr_set *s, struct pr_extra *spc2,
				struct list_head *removed, bool *changed)
{
	const struct pr_out_params *p = arg;
	struct pr_reg *reg, *tmp;
	struct pr_out_ctx ctx;
	int rc;

	/* Another nexus's SPC-2 reservation (SPC-2). */
	if (spc2->held && (spc2->rel_port != cmd->nexus->rel_port_id ||
			   strcasecmp(spc2->port, cmd->nexus->initiator_port)))
		return pr_conflict(cmd);
	list_init(&ctx.removed);
	ctx.changed = false;
	ctx.aborting = false;
	rc = pr_out_apply(cmd, p, s, &ctx);
	list_for_each_entry_safe (reg, tmp, &ctx.removed, link) {
		list_del(&reg->link);
		list_add_tail(&reg->link, removed);
	}
	*changed = rc == 0 && ctx.changed;
	return rc;
}

static void pr_out_complete(struct scsi_cmd *cmd, bool fence);

static void pr_out_shared_done(struct scsi_cmd *cmd, bool aborting)
{
	pr_out_complete(cmd, aborting);
}

static int pr_out_execute(struct scsi_cmd *cmd)
{
	struct reactor *main_reactor = scsi_core_main_reactor();
	struct scsi_lu *lu = cmd->lu;
	struct pr_out_params p;
	struct pr_out_job *job;
	bool save, fence = false;
	int rc;

	rc = pr_out_decode(cmd, &p);
	if (rc)
		return rc;
	if (pr_shared(lu)) {
		struct pr_out_params *copy = malloc(sizeof(*copy));

		if (!copy) {
			scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
			return -ENOMEM;
		}
		*copy = p;
		return pr_shared_run(cmd, pr_out_shared_change, copy,
				     pr_out_shared_done);
	}
	/* APTPL=1 needs a place to keep the state. */
	if (pr_out_sa_registers(p.sa) && p.aptpl && !scsi_pr_store())
		return pr_invalid_param(
		    cmd, p.sa == PR_OUT_REGISTER_MOVE ? 17 : 20, 0);
	pthread_mutex_lock(&lu->lock);
	save = lu->pr->set.aptpl || (pr_out_sa_registers(p.sa) && p.aptpl);
	if (!save || !main_reactor) {
		rc = pr_out_run_locked(cmd, &p, &fence);
		pthread_mutex_unlock(&lu->lock);
		if (rc || !fence)
			return rc;
		pr_out_complete(cmd, true);
		return -EINPROGRESS;
	}
	pthread_mutex_unlock(&lu->lock);
	job = calloc(1, sizeof(*job));
	if (!job) {
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		return -ENOMEM;
	}
	job->cmd = cmd;
	job->p = p;
	job->msg.fn = pr_out_job_run;
	job->msg.arg = job;
	reactor_post_msg(main_reactor, &job->msg);
	return -EINPROGRESS;
}

/* SERVICE ACTION, SCOPE and TYPE where the service action uses them, and
 * PARAMETER LIST LENGTH. PERSISTENT RESERVE OUT runs under any persistent
 * reservation (the service actions check the sender themselves), but not
 * under another nexus's SPC-2 reservation. Saving APTPL state syncs a
 * file. */
#define PR_OUT_ROW(var, nm, sa, scope_type)                                    \
	const struct scsi_op var = {                                           \
	    .name = (nm),                                                      \
	    .opcode = 0x5f,                                                    \
	    .service_action = (sa),                                            \
	    .cdb_len = 10,                                                     \
	    .dir = SCSI_DIR_WRITE,                                             \
	    .flags = SCSI_OP_SA | SCSI_OP_ALUA_STANDBY | SCSI_OP_PR_ALLOW,     \
	    .parse = pr_out_parse,                                             \
	    .execute = pr_out_execute,                                         \
	    .usage = {0x5f, (sa), (scope_type), 0x00, 0x00, 0xff, 0xff, 0xff,  \
		      0xff, 0x05},                                             \
	    .timeouts = SCSI_TIMEOUTS_FLUSH,                                   \
	}

PR_OUT_ROW(spc_op_pr_out_register, "PERSISTENT RESERVE OUT(REGISTER)",
	   PR_OUT_REGISTER, 0x00);
PR_OUT_ROW(spc_op_pr_out_reserve, "PERSISTENT RESERVE OUT(RESERVE)",
	   PR_OUT_RESERVE, 0xff);
PR_OUT_ROW(spc_op_pr_out_release, "PERSISTENT RESERVE OUT(RELEASE)",
	   PR_OUT_RELEASE, 0xff);
PR_OUT_ROW(spc_op_pr_out_clear, "PERSISTENT RESERVE OUT(CLEAR)", PR_OUT_CLEAR,
	   0x00);
PR_OUT_ROW(spc_op_pr_out_preempt, "PERSISTENT RESERVE OUT(PREEMPT)",
	   PR_OUT_PREEMPT, 0xff);
PR_OUT_ROW(spc_op_pr_out_preempt_abort,
	   "PERSISTENT RESERVE OUT(PREEMPT AND ABORT)", PR_OUT_PREEMPT_ABORT,
	   0xff);
PR_OUT_ROW(spc_op_pr_out_register_ignore,
	   "PERSISTENT RESERVE OUT(REGISTER AND IGNORE EXISTING KEY)",
	   PR_OUT_REGISTER_IGNORE, 0x00);
PR_OUT_ROW(spc_op_pr_out_register_move,
	   "PERSISTENT RESERVE OUT(REGISTER AND MOVE)", PR_OUT_REGISTER_MOVE,
	   0xff);
