/*
 * The copy manager of a disk: third-party copy between lunar's logical
 * units, driven by an initiator but moving no data over the wire.
 *
 *  - SPC-4 §6.4 EXTENDED COPY (LID1; operation code 83h, service action
 *    00h): the parameter list header, identification CSCD descriptors
 *    (E4h) naming LUs by a VPD page 83h designator (lunar's NAA IEEE
 *    Registered Extended designator, lu.c), block device to block device
 *    segment descriptors (02h) with the DC bit. Errors found before
 *    segment processing starts carry the sense key of the problem
 *    (ILLEGAL REQUEST with a field pointer into the parameter list, DATA
 *    PROTECT); errors found while a segment is processed end the command
 *    with COPY ABORTED, the segment number in the COMMAND-SPECIFIC
 *    INFORMATION field and a segment pointer (SPC-4 §4.5.2.4.5) in the
 *    SENSE KEY SPECIFIC field.
 *  - RECEIVE COPY RESULTS (84h), SPC-3's name for SPC-4's LID1 service
 *    actions: COPY STATUS (00h; SPC-4 RECEIVE COPY STATUS (LID1)),
 *    RECEIVE DATA (01h; never any data: no segment type here holds data),
 *    OPERATING PARAMETERS (03h), FAILED SEGMENT DETAILS (04h; RECEIVE
 *    COPY FAILURE DETAILS (LID1)). Results are kept per I_T_L nexus (the
 *    scope of a list identifier) for copies with LIST ID USAGE 00b, and
 *    dropped with the nexus.
 *  - SPC-4 §7.8.17 Third-party Copy VPD page (8Fh): supported commands,
 *    parameter data, supported descriptors, supported CSCD descriptor IDs
 *    and general copy operations descriptors.
 *
 * A copy runs on the issuing nexus's reactor: the CSCDs are looked up
 * once (the config read lock is held only for the lookup) and referenced
 * until the command ends; each segment moves through one buffer of at
 * most XCOPY_CHUNK_BYTES, a read from the source store then a write to
 * the destination store, each completing through bs_complete(); nothing
 * blocks the reactor. A destination write holds the destination's range
 * lock (range_lock.h) as a shared holder, like an ordinary WRITE, so it
 * never interleaves with COMPARE AND WRITE or another atomic command on
 * those blocks, and it is issued with FUA when the destination's write
 * cache is disabled (caching page WCE=0), as WRITE is.
 *
 * A CSCD may name a LU of another target. The initiator may use it only
 * if it could log in to that target itself: the target's ACL admits the
 * initiator name and the target asks no CHAP of its initiators (the copy
 * manager cannot know that this initiator holds those credentials).
 */
#include "scsi/xcopy.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "scsi/buf.h"
#include "scsi/device.h"
#include "scsi/mode.h"
#include "scsi/sbc.h"
#include "scsi/sense.h"
#include "scsi/ua.h"
#include "util/bytes.h"
#include "util/log.h"

/* Sense data this file reports beyond sense.h's (SPC-4 Annex D). */
#define XCOPY_SK_COPY_ABORTED	      0x0a
#define XCOPY_ASC_OPERATION_IN_PROG   0x00, 0x16
#define XCOPY_ASC_UNREACHABLE_TARGET  0x08, 0x04
#define XCOPY_ASC_TARGET_NOT_REACHED  0x0d, 0x02
#define XCOPY_ASC_WRONG_TARGET_TYPE   0x0d, 0x03
#define XCOPY_ASC_TOO_MANY_CSCD	      0x26, 0x06
#define XCOPY_ASC_UNSUPPORTED_CSCD    0x26, 0x07
#define XCOPY_ASC_TOO_MANY_SEGMENTS   0x26, 0x08
#define XCOPY_ASC_UNSUPPORTED_SEGMENT 0x26, 0x09
#define XCOPY_ASC_INEXACT_SEGMENT     0x26, 0x0a
#define XCOPY_ASC_INLINE_TOO_LONG     0x26, 0x0b

/* LIST ID USAGE of the parameter list header. */
enum xcopy_list_usage {
	XCOPY_LIST_HOLD = 0, /* keep results; list id unique */
	XCOPY_LIST_RESERVED = 1,
	XCOPY_LIST_NO_HOLD = 2, /* keep nothing; list id unique */
	XCOPY_LIST_NONE = 3,	/* keep nothing; list id unused (zero) */
};

/* COPY MANAGER STATUS of COPY STATUS data. */
enum xcopy_cm_status {
	XCOPY_CM_IN_PROGRESS = 0x00,
	XCOPY_CM_DONE = 0x01,
	XCOPY_CM_FAILED = 0x02,
};

/* RECEIVE COPY RESULTS service actions. */
#define XCOPY_RCR_COPY_STATUS	 0x00
#define XCOPY_RCR_RECEIVE_DATA	 0x01
#define XCOPY_RCR_OP_PARAMS	 0x03
#define XCOPY_RCR_FAILED_SEGMENT 0x04

#define XCOPY_DESIGNATOR_MAX 20 /* bytes 8-27 of an identification CSCD */

/* ---- the parsed parameter list ---- */

struct xcopy_cscd {
	uint32_t off; /* of the descriptor in the parameter list */
	uint8_t pdt;
	bool nul;
	uint8_t code_set, assoc, desig_type, desig_len;
	uint8_t desig[XCOPY_DESIGNATOR_MAX];
	uint32_t block_len; /* DISK BLOCK LENGTH */
};

struct xcopy_segment {
	uint32_t off; /* of the descriptor in the parameter list */
	uint16_t src, dst;
	bool dc;
	uint16_t nr_blocks;
	uint64_t src_lba, dst_lba;
};

struct xcopy_list {
	uint8_t list_id;
	enum xcopy_list_usage usage;
	unsigned nr_cscd, nr_seg;
	struct xcopy_cscd cscd[XCOPY_MAX_CSCD];
	struct xcopy_segment seg[XCOPY_MAX_SEGMENTS];
};

/* ---- results held per I_T_L nexus (scsi_itl.xcopy) ---- */

struct xcopy_held {
	bool used;
	bool hold;	  /* LIST ID USAGE 00b: results kept for RCR */
	bool in_progress; /* the list id is in use */
	bool has_details; /* FAILED SEGMENT DETAILS not yet delivered */
	uint8_t list_id;
	uint8_t cm_status;
	uint8_t status; /* SCSI status of the EXTENDED COPY command */
	uint16_t segments;
	uint64_t bytes;
	uint64_t seq; /* age, to replace the oldest first */
	uint16_t sense_len;
	uint8_t sense[SCSI_SENSE_MAX];
};

/* One allocation (ua.c frees it with the ITL); nexus reactor only. */
struct xcopy_itl {
	uint64_t seq;
	struct xcopy_held held[XCOPY_HELD_MAX];
};

/* ---- one EXTENDED COPY in progress ---- */

struct xcopy_job {
	struct scsi_cmd *cmd;
	struct xcopy_list list;
	struct scsi_lu *lu[XCOPY_MAX_CSCD]; /* referenced; NULL: not found */
	struct xcopy_held *held;	    /* NULL for LIST ID USAGE 11b */
	/* The segment being processed. */
	unsigned seg;
	struct scsi_lu *src, *dst;
	uint64_t seg_bytes, seg_done;
	bool backward; /* overlapping ranges of one LU, dst after src */
	uint32_t chunk;
	uint64_t chunk_off; /* of the chunk within the segment */
	uint64_t bytes;	    /* transfer count of the whole command */
	bool started;	    /* segment processing began */
	uint8_t *buf;
	struct bs_req req;
	struct scsi_range_req range; /* of the chunk on the destination */
};

static atomic_uint xcopy_active;

/* ---- sense helpers ---- */

static void xcopy_list_length_error(struct scsi_cmd *cmd)
{
	struct scsi_sense_info si;

	/* The PARAMETER LIST LENGTH of the CDB disagrees with the list. */
	scsi_sense_info_init(&si, SCSI_SK_ILLEGAL_REQUEST,
			     SCSI_ASC_PARAMETER_LIST_LENGTH);
	scsi_sense_field_pointer(&si, true, 10, 7);
	scsi_cmd_set_sense_full(cmd, &si);
}

/*
 * COPY ABORTED for the segment being processed (SPC-4 §6.4): the
 * segment number in bytes 2-3 of the COMMAND-SPECIFIC INFORMATION, a
 * segment pointer (SD=1) at byte `field` of the segment descriptor (or
 * none when field < 0) and, once data reached the destination, the
 * residual in destination blocks in the INFORMATION field.
 */
static void xcopy_abort(struct xcopy_job *job, uint8_t asc, uint8_t ascq,
			int field)
{
	struct scsi_sense_info si;

	scsi_sense_info_init(&si, XCOPY_SK_COPY_ABORTED, asc, ascq);
	si.csi_valid = true;
	si.csi = job->seg & 0xffff;
	if (field >= 0) {
		si.sks_valid = true;
		/* SKSV, SD, BPV with the most significant bit of the field */
		si.sks[0] = 0x80 | 0x20 | 0x08 | 0x07;
		put_be16(si.sks + 1, (uint16_t)field);
	}
	if (job->seg_done && job->dst) {
		si.info_valid = true;
		si.info =
		    (job->seg_bytes - job->seg_done) >> job->dst->block_shift;
	}
	scsi_cmd_set_sense_full(job->cmd, &si);
}

/* ---- parsing the parameter list ---- */

static int xcopy_parse_header(struct scsi_cmd *cmd, const uint8_t *p,
			      uint32_t avail, struct xcopy_list *l,
			      uint32_t *cscd_len, uint32_t *seg_len)
{
	uint32_t inline_len;

	if (avail < XCOPY_HDR_LEN) {
		xcopy_list_length_error(cmd);
		return -EINVAL;
	}
	l->list_id = p[0];
	/* STR is a hint and PRIORITY orders nothing here: both ignored. */
	if (p[1] & 0xc0) {
		scsi_cmd_set_param_error(cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM,
					 1, 7);
		return -EINVAL;
	}
	l->usage = (p[1] >> 3) & 0x03;
	if (l->usage == XCOPY_LIST_RESERVED) {
		scsi_cmd_set_param_error(cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM,
					 1, 4);
		return -EINVAL;
	}
	if (l->usage == XCOPY_LIST_NONE && l->list_id) {
		scsi_cmd_set_param_error(cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM,
					 0, 7);
		return -EINVAL;
	}
	if (get_be32(p + 4)) {
		scsi_cmd_set_param_error(cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM,
					 4, 7);
		return -EINVAL;
	}
	*cscd_len = get_be16(p + 2);
	*seg_len = get_be32(p + 8);
	inline_len = get_be32(p + 12);
	if (inline_len > XCOPY_MAX_INLINE) {
		scsi_cmd_set_param_error(cmd, XCOPY_ASC_INLINE_TOO_LONG, 12, 7);
		return -EINVAL;
	}
	if ((uint64_t)*cscd_len + *seg_len > XCOPY_MAX_DESC_LIST ||
	    XCOPY_HDR_LEN + (uint64_t)*cscd_len + *seg_len + inline_len >
		avail) {
		xcopy_list_length_error(cmd);
		return -EINVAL;
	}
	return 0;
}

/* Identification CSCD descriptor (E4h). */
static int xcopy_parse_cscd(struct scsi_cmd *cmd, const uint8_t *p,
			    uint32_t off, struct xcopy_cscd *c)
{
	const uint8_t *d = p + off;

	c->off = off;
	/* LU ID TYPE describes an LU IDENTIFIER field, which this
	 * descriptor does not have: ignored. RELATIVE INITIATOR PORT
	 * IDENTIFIER: the copy manager reaches LUs without a port. */
	c->nul = d[1] & 0x20;
	c->pdt = d[1] & 0x1f;
	c->code_set = d[4] & 0x0f;
	c->assoc = (d[5] >> 4) & 0x03;
	c->desig_type = d[5] & 0x0f;
	c->desig_len = d[7];
	if (c->desig_len > XCOPY_DESIGNATOR_MAX) {
		scsi_cmd_set_param_error(cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM,
					 off + 7, 7);
		return -EINVAL;
	}
	memcpy(c->desig, d + 8, c->desig_len);
	/* Device type specific parameters of a block device (byte 28:
	 * PAD, for inexact segments, which are refused anyway). */
	c->block_len = c->pdt == SCSI_PDT_DISK ? get_be24(d + 29) : 0;
	return 0;
}

static int xcopy_parse_cscd_list(struct scsi_cmd *cmd, const uint8_t *p,
				 uint32_t len, struct xcopy_list *l)
{
	uint32_t off = XCOPY_HDR_LEN, end = XCOPY_HDR_LEN + len;

	while (off < end) {
		/* Codes below C0h are segment descriptors, not CSCDs. */
		if (p[off] != XCOPY_CSCD_IDENTIFICATION) {
			scsi_cmd_set_param_error(
			    cmd, XCOPY_ASC_UNSUPPORTED_CSCD, off, 7);
			return -EINVAL;
		}
		if (l->nr_cscd == XCOPY_MAX_CSCD) {
			scsi_cmd_set_param_error(cmd, XCOPY_ASC_TOO_MANY_CSCD,
						 off, 7);
			return -EINVAL;
		}
		if (end - off < XCOPY_CSCD_LEN) {
			scsi_cmd_set_param_error(
			    cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM, 2, 7);
			return -EINVAL;
		}
		if (xcopy_parse_cscd(cmd, p, off, &l->cscd[l->nr_cscd++]))
			return -EINVAL;
		off += XCOPY_CSCD_LEN;
	}
	return 0;
}

/* Block device to block device segment descriptor (02h). */
static int xcopy_parse_segment(struct scsi_cmd *cmd, const uint8_t *p,
			       uint32_t off, struct xcopy_segment *s)
{
	const uint8_t *d = p + off;

	s->off = off;
	/* CAT only matters for inexact segments, which are refused. */
	if (d[1] & 0xfc) {
		scsi_cmd_set_param_error(cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM,
					 off + 1, 7);
		return -EINVAL;
	}
	s->dc = d[1] & 0x02;
	s->src = get_be16(d + 4);
	s->dst = get_be16(d + 6);
	if (get_be16(d + 8)) {
		scsi_cmd_set_param_error(cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM,
					 off + 8, 7);
		return -EINVAL;
	}
	s->nr_blocks = get_be16(d + 10);
	s->src_lba = get_be64(d + 12);
	s->dst_lba = get_be64(d + 20);
	return 0;
}

static int xcopy_parse_segment_list(struct scsi_cmd *cmd, const uint8_t *p,
				    uint32_t start, uint32_t len,
				    struct xcopy_list *l)
{
	uint32_t off = start, end = start + len;

	while (off < end) {
		if (p[off] != XCOPY_SEG_BLOCK_TO_BLOCK) {
			scsi_cmd_set_param_error(
			    cmd, XCOPY_ASC_UNSUPPORTED_SEGMENT, off, 7);
			return -EINVAL;
		}
		if (l->nr_seg == XCOPY_MAX_SEGMENTS) {
			scsi_cmd_set_param_error(
			    cmd, XCOPY_ASC_TOO_MANY_SEGMENTS, off, 7);
			return -EINVAL;
		}
		if (end - off < 4) {
			scsi_cmd_set_param_error(
			    cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM, 8, 7);
			return -EINVAL;
		}
		if (get_be16(p + off + 2) != XCOPY_B2B_LEN - 4) {
			scsi_cmd_set_param_error(
			    cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM, off + 2, 7);
			return -EINVAL;
		}
		if (end - off < XCOPY_B2B_LEN) {
			scsi_cmd_set_param_error(
			    cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM, 8, 7);
			return -EINVAL;
		}
		if (xcopy_parse_segment(cmd, p, off, &l->seg[l->nr_seg++]))
			return -EINVAL;
		off += XCOPY_B2B_LEN;
	}
	return 0;
}

static int xcopy_parse_list(struct scsi_cmd *cmd, struct xcopy_list *l)
{
	uint32_t cscd_len, seg_len;

	memset(l, 0, sizeof(*l));
	if (xcopy_parse_header(cmd, cmd->buf, cmd->xfer_len, l, &cscd_len,
			       &seg_len))
		return -EINVAL;
	if (xcopy_parse_cscd_list(cmd, cmd->buf, cscd_len, l))
		return -EINVAL;
	return xcopy_parse_segment_list(cmd, cmd->buf, XCOPY_HDR_LEN + cscd_len,
					seg_len, l);
}

/* ---- held results ---- */

static struct xcopy_itl *xcopy_itl_state(struct scsi_itl *itl, bool create)
{
	if (!itl->xcopy && create)
		itl->xcopy = calloc(1, sizeof(struct xcopy_itl));
	return itl->xcopy;
}

static struct xcopy_held *xcopy_held_find(struct xcopy_itl *x, uint8_t id)
{
	for (unsigned i = 0; x && i < XCOPY_HELD_MAX; i++) {
		if (x->held[i].used && x->held[i].list_id == id)
			return &x->held[i];
	}
	return NULL;
}

/* A slot for a new list identifier: a free one, else the oldest result
 * of a finished copy; NULL when every slot is a copy in progress. */
static struct xcopy_held *xcopy_held_slot(struct xcopy_itl *x)
{
	struct xcopy_held *oldest = NULL;

	for (unsigned i = 0; i < XCOPY_HELD_MAX; i++) {
		struct xcopy_held *h = &x->held[i];

		if (!h->used)
			return h;
		if (!h->in_progress && (!oldest || h->seq < oldest->seq))
			oldest = h;
	}
	return oldest;
}

/*
 * Claims the list identifier of l for this I_T_L nexus (SPC-4 §6.4):
 * a copy in progress with the same identifier refuses the new one;
 * results of an earlier copy with it are discarded. Sets job->held.
 */
static int xcopy_claim_list_id(struct xcopy_job *job)
{
	struct scsi_cmd *cmd = job->cmd;
	const struct xcopy_list *l = &job->list;
	struct xcopy_itl *x;
	struct xcopy_held *h;

	if (l->usage == XCOPY_LIST_NONE)
		return 0;
	x = xcopy_itl_state(cmd->itl, true);
	if (!x) {
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		return -ENOMEM;
	}
	h = xcopy_held_find(x, l->list_id);
	if (h && h->in_progress) {
		struct scsi_sense_info si;

		scsi_sense_info_init(&si, SCSI_SK_ILLEGAL_REQUEST,
				     XCOPY_ASC_OPERATION_IN_PROG);
		scsi_sense_field_pointer(&si, false, 0, 7);
		scsi_cmd_set_sense_full(cmd, &si);
		return -EBUSY;
	}
	if (!h)
		h = xcopy_held_slot(x);
	if (!h) {
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		return -EBUSY;
	}
	memset(h, 0, sizeof(*h));
	h->used = true;
	h->in_progress = true;
	h->hold = l->usage == XCOPY_LIST_HOLD;
	h->list_id = l->list_id;
	h->cm_status = XCOPY_CM_IN_PROGRESS;
	h->seq = ++x->seq;
	job->held = h;
	return 0;
}

/* The command's outcome, for COPY STATUS and FAILED SEGMENT DETAILS. */
static void xcopy_held_finish(struct xcopy_job *job)
{
	struct xcopy_held *h = job->held;
	const struct scsi_cmd *cmd = job->cmd;

	if (!h)
		return;
	h->in_progress = false;
	if (!h->hold) {
		h->used = false;
		return;
	}
	h->status = cmd->aborted ? SAM_STAT_TASK_ABORTED : cmd->status;
	h->cm_status =
	    h->status == SAM_STAT_GOOD ? XCOPY_CM_DONE : XCOPY_CM_FAILED;
	h->segments = (uint16_t)job->seg;
	h->bytes = job->bytes;
	if (cmd->status == SAM_STAT_CHECK_CONDITION && !cmd->aborted) {
		h->has_details = true;
		h->sense_len = cmd->sense_len;
		memcpy(h->sense, cmd->sense, cmd->sense_len);
	}
}

/* ---- finding the copy source and destination devices ---- */

/* May the nexus's initiator reach LUs of t through the copy manager? */
static bool xcopy_target_admits(const struct scsi_target *t,
				const struct scsi_nexus *n)
{
	return !t->deleted && list_empty(&t->users_in) &&
	       scsi_target_allows(t, n->initiator_name);
}

static bool xcopy_names_lu(const struct xcopy_cscd *c, const struct scsi_lu *lu)
{
	/* Binary NAA designator of the LU itself (association 00b). */
	return c->code_set == 0x01 && c->assoc == 0 && c->desig_type == 0x03 &&
	       c->desig_len == sizeof(lu->naa) &&
	       memcmp(c->desig, lu->naa, sizeof(lu->naa)) == 0;
}

static struct scsi_lu *xcopy_map_find(const struct scsi_lun_map *m,
				      const struct xcopy_cscd *c)
{
	for (unsigned i = 0; m && i < m->count; i++) {
		if (xcopy_names_lu(c, m->ent[i].lu))
			return m->ent[i].lu;
	}
	return NULL;
}

/*
 * Looks up every CSCD: first among the LUs the nexus sees (its own LUN
 * map, which it holds a reference on), then among the other targets'
 * under the config read lock, taken for the lookup only. Each LU found is
 * referenced until the command ends.
 */
static void xcopy_resolve(struct xcopy_job *job)
{
	const struct scsi_nexus *n = job->cmd->nexus;
	bool need_others = false;

	for (unsigned i = 0; i < job->list.nr_cscd; i++) {
		struct scsi_lu *lu;

		if (job->list.cscd[i].nul)
			continue; /* a null device has no LU to reach */
		lu = xcopy_map_find(n->lun_map, &job->list.cscd[i]);
		if (lu) {
			scsi_lu_get(lu);
			job->lu[i] = lu;
		} else {
			need_others = true;
		}
	}
	if (!need_others)
		return;
	scsi_config_rdlock();
	for (unsigned i = 0; i < job->list.nr_cscd; i++) {
		struct scsi_target *t;

		if (job->lu[i] || job->list.cscd[i].nul)
			continue;
		list_for_each_entry (t, scsi_target_list(), link) {
			struct scsi_lu *lu;

			if (t == n->target || !xcopy_target_admits(t, n))
				continue;
			lu = xcopy_map_find(t->lun_map, &job->list.cscd[i]);
			if (lu) {
				scsi_lu_get(lu);
				job->lu[i] = lu;
				break;
			}
		}
	}
	scsi_config_unlock();
}

/* ---- the copy ---- */

/* Bytes a segment moves (DC: NUMBER OF BLOCKS counts destination blocks),
 * or 0 when they are not whole blocks of both devices. */
static uint64_t xcopy_segment_bytes(const struct xcopy_segment *s,
				    const struct scsi_lu *src,
				    const struct scsi_lu *dst)
{
	uint64_t bytes = (uint64_t)s->nr_blocks
			 << (s->dc ? dst->block_shift : src->block_shift);

	if (bytes % src->block_size || bytes % dst->block_size)
		return 0;
	return bytes;
}

/* The LUs of a segment when both CSCD indexes name a LU found. */
static bool xcopy_segment_lus(const struct xcopy_job *job,
			      const struct xcopy_segment *s,
			      struct scsi_lu **src, struct scsi_lu **dst)
{
	if (s->src >= job->list.nr_cscd || s->dst >= job->list.nr_cscd)
		return false;
	*src = job->lu[s->src];
	*dst = job->lu[s->dst];
	return *src && *dst;
}

/*
 * Errors found before segment processing starts (SPC-4 §6.4): a
 * destination that cannot be written, a segment that does not move
 * whole blocks of both devices. Segments whose CSCDs cannot be used are
 * left to processing, which reports them with COPY ABORTED.
 */
static int xcopy_precheck(struct xcopy_job *job)
{
	for (unsigned i = 0; i < job->list.nr_seg; i++) {
		const struct xcopy_segment *s = &job->list.seg[i];
		struct scsi_lu *src, *dst;

		if (!xcopy_segment_lus(job, s, &src, &dst))
			continue;
		if (scsi_lu_readonly(dst)) {
			scsi_cmd_set_sense(job->cmd, SCSI_SK_DATA_PROTECT,
					   SCSI_ASC_WRITE_PROTECTED);
			return -EROFS;
		}
		if (scsi_mode_swp(dst)) { /* control page SWP */
			scsi_cmd_set_sense(job->cmd, SCSI_SK_DATA_PROTECT,
					   SCSI_ASC_SOFTWARE_WRITE_PROTECTED);
			return -EROFS;
		}
		if (s->nr_blocks && !xcopy_segment_bytes(s, src, dst)) {
			scsi_cmd_set_param_error(job->cmd,
						 XCOPY_ASC_INEXACT_SEGMENT,
						 s->off + 10, 7);
			return -EINVAL;
		}
	}
	return 0;
}

/* Whether the CSCD of index idx is the block device of its LU. */
static bool xcopy_cscd_matches(const struct xcopy_job *job, unsigned idx)
{
	const struct xcopy_cscd *c = &job->list.cscd[idx];
	const struct scsi_lu *lu = job->lu[idx];

	/* Block to block segments: both ends are direct access devices. */
	return c->pdt == SCSI_PDT_DISK && lu->dtype->pdt == SCSI_PDT_DISK &&
	       c->block_len == lu->block_size;
}

/* One end of a segment: its CSCD index field at byte idx_field of the
 * descriptor. Returns 0 or -ENXIO after setting COPY ABORTED. */
static int xcopy_check_end(struct xcopy_job *job, uint16_t idx, int idx_field)
{
	struct scsi_sense_info si;
	const struct scsi_lu *lu;

	if (idx >= job->list.nr_cscd) {
		xcopy_abort(job, XCOPY_ASC_UNREACHABLE_TARGET, idx_field);
		return -ENXIO;
	}
	if (!job->lu[idx]) {
		xcopy_abort(job, XCOPY_ASC_TARGET_NOT_REACHED, idx_field);
		return -ENXIO;
	}
	if (!xcopy_cscd_matches(job, idx)) {
		xcopy_abort(job, XCOPY_ASC_WRONG_TARGET_TYPE, idx_field);
		return -ENXIO;
	}
	/* Its medium must be there (not ejected, not being sanitized):
	 * the ASC says why not, as it would to a READ or WRITE. */
	lu = job->lu[idx];
	if (lu->dtype->lu_ready && !lu->dtype->lu_ready(lu, &si)) {
		xcopy_abort(job, si.asc, si.ascq, idx_field);
		return -ENXIO;
	}
	return 0;
}

/* Sets up job for segment job->seg; returns 0, or -errno with sense. */
static int xcopy_segment_start(struct xcopy_job *job)
{
	const struct xcopy_segment *s = &job->list.seg[job->seg];
	uint64_t src_start, dst_start;

	job->src = job->dst = NULL;
	job->seg_done = 0;
	if (xcopy_check_end(job, s->src, 4) || xcopy_check_end(job, s->dst, 6))
		return -ENXIO;
	job->src = job->lu[s->src];
	job->dst = job->lu[s->dst];
	job->seg_bytes =
	    s->nr_blocks ? xcopy_segment_bytes(s, job->src, job->dst) : 0;
	/* The medium is checked as each device server would: the range of
	 * each device must lie on it. */
	if (s->src_lba > scsi_lu_blocks(job->src) ||
	    job->seg_bytes >> job->src->block_shift >
		scsi_lu_blocks(job->src) - s->src_lba) {
		xcopy_abort(job, SCSI_ASC_NO_ADDITIONAL_SENSE, 12);
		return -ERANGE;
	}
	if (s->dst_lba > scsi_lu_blocks(job->dst) ||
	    job->seg_bytes >> job->dst->block_shift >
		scsi_lu_blocks(job->dst) - s->dst_lba) {
		xcopy_abort(job, SCSI_ASC_NO_ADDITIONAL_SENSE, 20);
		return -ERANGE;
	}
	/* Copying forward onto a later part of the same range would read
	 * what it just wrote: such a segment is copied from its end. */
	src_start = s->src_lba << job->src->block_shift;
	dst_start = s->dst_lba << job->dst->block_shift;
	job->backward = job->src == job->dst && dst_start > src_start &&
			dst_start < src_start + job->seg_bytes;
	return 0;
}

static void xcopy_step(struct xcopy_job *job);

static void xcopy_submit(struct xcopy_job *job, struct scsi_lu *lu,
			 enum bs_op op, uint64_t offset, uint64_t len,
			 unsigned flags, void (*done)(struct bs_req *req))
{
	struct bs_req *req = &job->req;

	req->op = op;
	req->flags = flags;
	req->offset = offset;
	req->len = len;
	req->buf = job->buf;
	req->result = 0;
	req->reactor = job->cmd->nexus->reactor;
	req->complete = done;
	req->issuer = job;
	list_init(&req->link);
	bs_submit(lu->bs, req);
}

/* COPY ABORTED for a store's failure, with the ASC the store's error
 * would have had on a READ or WRITE of that LU. */
static void xcopy_io_error(struct xcopy_job *job, const struct bs_req *req)
{
	bool rd = req->op == BS_OP_READ;

	switch (req->result) {
	case -EROFS:
		xcopy_abort(job, SCSI_ASC_WRITE_PROTECTED, -1);
		break;
	case -ENOSPC:
	case -EDQUOT:
		xcopy_abort(job, SCSI_ASC_SPACE_ALLOC_FAILED_WP, -1);
		break;
	case -ERANGE: /* the medium shrank during the copy */
		xcopy_abort(job, SCSI_ASC_NO_ADDITIONAL_SENSE, rd ? 12 : 20);
		break;
	default:
		if (rd)
			xcopy_abort(job, SCSI_ASC_UNRECOVERED_READ_ERROR, -1);
		else
			xcopy_abort(job, SCSI_ASC_WRITE_ERROR, -1);
		log_warn("EXTENDED COPY on target %s LUN %llu: %s of %llu "
			 "bytes at byte %llu of target %s LUN %llu failed: %s",
			 job->cmd->lu->target->name,
			 (unsigned long long)job->cmd->lu->lun,
			 rd ? "read" : "write", (unsigned long long)req->len,
			 (unsigned long long)req->offset,
			 (rd ? job->src : job->dst)->target->name,
			 (unsigned long long)(rd ? job->src : job->dst)->lun,
			 strerror(-req->result));
		break;
	}
}

/* Drops what the job holds; the command's status is left as it is. */
static void xcopy_job_free(struct xcopy_job *job)
{
	for (unsigned i = 0; i < job->list.nr_cscd; i++) {
		if (job->lu[i])
			scsi_lu_put(job->lu[i]);
	}
	if (job->buf)
		scsi_buf_put(job->buf, XCOPY_CHUNK_BYTES);
	free(job);
	atomic_fetch_sub(&xcopy_active, 1);
}

static void xcopy_finish(struct xcopy_job *job)
{
	struct scsi_cmd *cmd = job->cmd;

	xcopy_held_finish(job);
	xcopy_job_free(job);
	scsi_cmd_complete(cmd);
}

static void xcopy_write_done(struct bs_req *req)
{
	struct xcopy_job *job = req->issuer;

	scsi_range_release(sbc_range_lock(job->dst), &job->range);
	if (req->result < 0) {
		xcopy_io_error(job, req);
		xcopy_finish(job);
		return;
	}
	job->seg_done += job->chunk;
	job->bytes += job->chunk;
	xcopy_step(job);
}

/* The chunk read is written once its destination range is held. */
static void xcopy_write_chunk(void *arg)
{
	struct xcopy_job *job = arg;
	const struct xcopy_segment *s = &job->list.seg[job->seg];

	if (job->cmd->aborted) {
		scsi_range_release(sbc_range_lock(job->dst), &job->range);
		xcopy_finish(job);
		return;
	}
	/* Stable before GOOD when the write cache is disabled, as WRITE. */
	xcopy_submit(job, job->dst, BS_OP_WRITE,
		     (s->dst_lba << job->dst->block_shift) + job->chunk_off,
		     job->chunk, sbc_wce(job->dst) ? 0 : BS_F_FUA,
		     xcopy_write_done);
}

static void xcopy_read_done(struct bs_req *req)
{
	struct xcopy_job *job = req->issuer;
	const struct xcopy_segment *s = &job->list.seg[job->seg];
	uint64_t lba;

	if (req->result < 0) {
		xcopy_io_error(job, req);
		xcopy_finish(job);
		return;
	}
	if (job->cmd->aborted) {
		xcopy_finish(job);
		return;
	}
	lba = s->dst_lba + (job->chunk_off >> job->dst->block_shift);
	if (scsi_range_acquire(sbc_range_lock(job->dst), &job->range, lba,
			       job->chunk >> job->dst->block_shift, false,
			       job->cmd->nexus->reactor, xcopy_write_chunk,
			       job) == -EINPROGRESS)
		return;
	xcopy_write_chunk(job);
}

/* Moves the next chunk, starts the next segment, or ends the copy. */
static void xcopy_step(struct xcopy_job *job)
{
	const struct xcopy_segment *s;
	uint64_t left;

	if (job->cmd->aborted) {
		xcopy_finish(job);
		return;
	}
	while (job->seg < job->list.nr_seg) {
		if (!job->started || job->seg_done == job->seg_bytes) {
			if (job->started)
				job->seg++;
			job->started = true;
			if (job->seg == job->list.nr_seg)
				break;
			if (xcopy_segment_start(job)) {
				xcopy_finish(job);
				return;
			}
			if (!job->seg_bytes)
				continue;
		}
		s = &job->list.seg[job->seg];
		left = job->seg_bytes - job->seg_done;
		job->chunk = left < XCOPY_CHUNK_BYTES ? (uint32_t)left
						      : XCOPY_CHUNK_BYTES;
		job->chunk_off =
		    job->backward ? left - job->chunk : job->seg_done;
		xcopy_submit(job, job->src, BS_OP_READ,
			     (s->src_lba << job->src->block_shift) +
				 job->chunk_off,
			     job->chunk, 0, xcopy_read_done);
		return;
	}
	xcopy_finish(job);
}

/* ---- EXTENDED COPY (LID1) ---- */

static int xcopy_parse(struct scsi_cmd *cmd)
{
	uint32_t len = get_be32(cmd->cdb + 10);

	/* Zero: nothing to copy, not an error. A list that cannot hold its
	 * header, or longer than the limits allow, is refused before any
	 * of it is transferred. */
	if (len && (len < XCOPY_HDR_LEN || len > XCOPY_MAX_PARAM_LEN)) {
		xcopy_list_length_error(cmd);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = len;
	return 0;
}

static int xcopy_execute(struct scsi_cmd *cmd)
{
	struct xcopy_job *job;
	int rc;

	if (!cmd->cdb_xfer_len)
		return 0;
	if (atomic_fetch_add(&xcopy_active, 1) >= XCOPY_MAX_CONCURRENT) {
		atomic_fetch_sub(&xcopy_active, 1);
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		return 0;
	}
	/* Not the data path of ordinary reads and writes: one allocation
	 * per copy command is fine. */
	job = calloc(1, sizeof(*job));
	if (!job) {
		atomic_fetch_sub(&xcopy_active, 1);
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		return 0;
	}
	job->cmd = cmd;
	scsi_range_req_init(&job->range);
	rc = xcopy_parse_list(cmd, &job->list);
	if (rc == 0)
		rc = xcopy_claim_list_id(job);
	if (rc == 0) {
		xcopy_resolve(job);
		rc = xcopy_precheck(job);
	}
	if (rc == 0 && job->list.nr_seg) {
		job->buf = scsi_buf_get(XCOPY_CHUNK_BYTES);
		if (!job->buf) {
			scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
			rc = -ENOMEM;
		}
	}
	if (rc) {
		/* Nothing was processed: no results to hold either. */
		if (job->held)
			job->held->used = false;
		xcopy_job_free(job);
		return 0;
	}
	/* From here on the job completes the command, possibly at once. */
	xcopy_step(job);
	return -EINPROGRESS;
}

/* ---- RECEIVE COPY RESULTS ---- */

static int xcopy_rcr_parse(struct scsi_cmd *cmd)
{
	cmd->cdb_xfer_len = get_be32(cmd->cdb + 10);
	return 0;
}

static struct xcopy_held *xcopy_rcr_held(struct scsi_cmd *cmd)
{
	struct xcopy_held *h;

	h = xcopy_held_find(xcopy_itl_state(cmd->itl, false), cmd->cdb[2]);
	return h && h->hold ? h : NULL;
}

/* COPY STATUS. */
static int xcopy_rcr_copy_status(struct scsi_cmd *cmd)
{
	const struct xcopy_held *h = xcopy_rcr_held(cmd);
	uint64_t count;
	uint8_t d[12], units = 0;

	if (!h) {
		/* No copy with this list identifier on this nexus. */
		scsi_cmd_set_invalid_field(cmd, 2, 7);
		return -EINVAL;
	}
	memset(d, 0, sizeof(d));
	put_be32(d, sizeof(d) - 4);
	d[4] = h->cm_status; /* HDD 0: no data is ever held */
	put_be16(d + 5, h->segments);
	/* TRANSFER COUNT UNITS: bytes, or the smallest power of 2^10 in
	 * which the count fits. */
	count = h->bytes;
	while (count > UINT32_MAX) {
		count >>= 10;
		units++;
	}
	d[7] = units;
	put_be32(d + 8, (uint32_t)count);
	scsi_cmd_put_data(cmd, d, sizeof(d));
	return 0;
}

/* RECEIVE DATA: no segment type here holds data. */
static int xcopy_rcr_receive_data(struct scsi_cmd *cmd)
{
	uint8_t d[4] = {0};

	scsi_cmd_put_data(cmd, d, sizeof(d));
	return 0;
}

/* OPERATING PARAMETERS: the limits parse enforces. */
static int xcopy_rcr_op_params(struct scsi_cmd *cmd)
{
	static const uint8_t codes[] = {XCOPY_SEG_BLOCK_TO_BLOCK,
					XCOPY_CSCD_IDENTIFICATION};
	uint8_t d[44 + sizeof(codes)];

	memset(d, 0, sizeof(d));
	put_be32(d, sizeof(d) - 4);
	d[4] = 0x01; /* SNLID: LIST ID USAGE 11b is supported */
	put_be16(d + 8, XCOPY_MAX_CSCD);
	put_be16(d + 10, XCOPY_MAX_SEGMENTS);
	put_be32(d + 12, XCOPY_MAX_DESC_LIST);
	put_be32(d + 16, XCOPY_MAX_SEGMENT_LEN);
	put_be32(d + 20, XCOPY_MAX_INLINE);
	/* HELD DATA LIMIT, MAXIMUM STREAM DEVICE TRANSFER SIZE: 0. */
	put_be16(d + 34, XCOPY_MAX_CONCURRENT);
	d[36] = XCOPY_MAX_CONCURRENT;
	d[37] = (uint8_t)cmd->lu->block_shift; /* DATA SEGMENT GRANULARITY */
	/* INLINE and HELD DATA GRANULARITY: 0, neither is supported. */
	d[43] = sizeof(codes);
	memcpy(d + 44, codes, sizeof(codes));
	scsi_cmd_put_data(cmd, d, sizeof(d));
	return 0;
}

/* FAILED SEGMENT DETAILS: the sense data of a copy that
 * ended with CHECK CONDITION, until delivered whole (or an allocation
 * length of zero discards it). */
static int xcopy_rcr_failed_segment(struct scsi_cmd *cmd)
{
	struct xcopy_held *h = xcopy_rcr_held(cmd);
	uint8_t d[60 + SCSI_SENSE_MAX];
	size_t len;

	memset(d, 0, sizeof(d));
	if (!h || h->in_progress || !h->has_details) {
		scsi_cmd_put_data(cmd, d, 4);
		return 0;
	}
	len = 60 + h->sense_len;
	put_be32(d, (uint32_t)(len - 4));
	d[56] = h->status;
	put_be16(d + 58, h->sense_len);
	memcpy(d + 60, h->sense, h->sense_len);
	scsi_cmd_put_data(cmd, d, len);
	if (cmd->cdb_xfer_len == 0 || cmd->data_len == len)
		h->has_details = false;
	return 0;
}

/* ---- VPD page 8Fh: Third-party Copy (SPC-4 §7.8.17) ---- */

/* A third-party copy descriptor header; body_len is padded to 4. */
static size_t xcopy_vpd_desc(uint8_t *p, uint16_t type, size_t body_len)
{
	size_t len = (body_len + 3) & ~(size_t)3;

	put_be16(p, type);
	put_be16(p + 2, (uint16_t)len);
	return 4 + len;
}

/*
 * Supported commands descriptor (0001h): the third-party copy commands of
 * the LU's opcode table with their service actions, as REPORT SUPPORTED
 * OPERATION CODES lists them.
 */
static size_t xcopy_vpd_commands(const struct scsi_cmd *cmd, uint8_t *p)
{
	static const uint8_t opcodes[] = {0x83, 0x84};
	const struct scsi_device_type *dt = cmd->lu->dtype;
	size_t n = 5;

	for (unsigned i = 0; i < sizeof(opcodes); i++) {
		size_t at = n;

		p[n] = opcodes[i];
		n += 2;
		for (unsigned j = 0; j < dt->nr_ops; j++) {
			const struct scsi_op *op = dt->ops[j];

			if (op->opcode == opcodes[i] &&
			    (op->flags & SCSI_OP_SA) &&
			    (!op->supported || op->supported(cmd->lu)))
				p[n++] = (uint8_t)op->service_action;
		}
		if (n == at + 2)
			n = at; /* the type has no such command */
		else
			p[at + 1] = (uint8_t)(n - at - 2);
	}
	p[4] = (uint8_t)(n - 5);
	return xcopy_vpd_desc(p, 0x0001, n - 4);
}

size_t xcopy_vpd_third_party_copy(const struct scsi_cmd *cmd, uint8_t *out)
{
	uint8_t *p = out;

	p += xcopy_vpd_commands(cmd, p);
	/* Parameter data (0004h). */
	put_be16(p + 8, XCOPY_MAX_CSCD);
	put_be16(p + 10, XCOPY_MAX_SEGMENTS);
	put_be32(p + 12, XCOPY_MAX_DESC_LIST);
	put_be32(p + 16, XCOPY_MAX_INLINE);
	p += xcopy_vpd_desc(p, 0x0004, 0x1c);
	/* Supported descriptors (0008h): type codes, ascending. */
	p[4] = 2;
	p[5] = XCOPY_SEG_BLOCK_TO_BLOCK;
	p[6] = XCOPY_CSCD_IDENTIFICATION;
	p += xcopy_vpd_desc(p, 0x0008, 3);
	/* Supported CSCD descriptor IDs (000Ch): none beyond the indexes
	 * of the CSCD descriptor list. */
	put_be16(p + 4, 0);
	p += xcopy_vpd_desc(p, 0x000c, 2);
	/* General copy operations (8001h). */
	put_be32(p + 4, XCOPY_MAX_CONCURRENT);
	put_be32(p + 8, XCOPY_MAX_CONCURRENT);
	put_be32(p + 12, XCOPY_MAX_SEGMENT_LEN);
	p[16] = (uint8_t)cmd->lu->block_shift; /* DATA SEGMENT GRANULARITY */
	p[17] = 0; /* INLINE DATA GRANULARITY: no inline data */
	p += xcopy_vpd_desc(p, 0x8001, 0x20);
	return (size_t)(p - out);
}

/* ---- the rows ---- */

/* SPC-4 has no fixed duration for a copy: a list may move 64 segments
 * of up to 256 MiB each. */
#define XCOPY_TIMEOUTS                                                         \
	{                                                                      \
		.nominal = 30, .recommended = 600                              \
	}

/*
 * Not SCSI_OP_WRITES: the LU addressed is the copy manager, not
 * necessarily a destination; read-only destinations are refused by the
 * copy manager itself (DATA PROTECT before any segment is processed).
 */
const struct scsi_op xcopy_op_extended_copy = {
    .name = "EXTENDED COPY(LID1)",
    .opcode = 0x83,
    .service_action = 0x00,
    .cdb_len = 16,
    .dir = SCSI_DIR_WRITE,
    .flags = SCSI_OP_SA | SCSI_OP_PR_WRITE,
    .parse = xcopy_parse,
    .execute = xcopy_execute,
    /* PARAMETER LIST LENGTH; the reserved bytes are ignored. */
    .usage = {0x83, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff,
	      0xff, 0xff, 0xff, 0x00, 0x05},
    .timeouts = XCOPY_TIMEOUTS,
};

#define XCOPY_RCR_ROW(var, nm, sa, maxd, exe, id_usage)                        \
	const struct scsi_op var = {                                           \
	    .name = (nm),                                                      \
	    .opcode = 0x84,                                                    \
	    .service_action = (sa),                                            \
	    .cdb_len = 16,                                                     \
	    .dir = SCSI_DIR_READ,                                              \
	    .flags = SCSI_OP_SA | SCSI_OP_PR_READ,                             \
	    .max_data = (maxd),                                                \
	    .parse = xcopy_rcr_parse,                                          \
	    .execute = (exe),                                                  \
	    .usage = {0x84, (sa), (id_usage), 0x00, 0x00, 0x00, 0x00, 0x00,    \
		      0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x05},         \
	    .timeouts = SCSI_TIMEOUTS_MEMORY,                                  \
	}

/* LIST IDENTIFIER is examined except by OPERATING PARAMETERS. */
XCOPY_RCR_ROW(xcopy_op_rcr_copy_status, "RECEIVE COPY RESULTS(COPY STATUS)",
	      XCOPY_RCR_COPY_STATUS, 12, xcopy_rcr_copy_status, 0xff);
XCOPY_RCR_ROW(xcopy_op_rcr_receive_data, "RECEIVE COPY RESULTS(RECEIVE DATA)",
	      XCOPY_RCR_RECEIVE_DATA, 4, xcopy_rcr_receive_data, 0xff);
XCOPY_RCR_ROW(xcopy_op_rcr_op_params,
	      "RECEIVE COPY RESULTS(OPERATING PARAMETERS)", XCOPY_RCR_OP_PARAMS,
	      46, xcopy_rcr_op_params, 0x00);
XCOPY_RCR_ROW(xcopy_op_rcr_failed_segment,
	      "RECEIVE COPY RESULTS(FAILED SEGMENT DETAILS)",
	      XCOPY_RCR_FAILED_SEGMENT, 60 + SCSI_SENSE_MAX,
	      xcopy_rcr_failed_segment, 0xff);
