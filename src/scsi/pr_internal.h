/*
 * Inside the reservations of a LU (pr.h): the state pr.c, pr_in.c,
 * pr_out.c and pr_store.c share. Everything here is under lu->lock
 * except scsi_pr.state, which mirrors "is there a reservation" for the
 * lock-free data path.
 */
#ifndef LUNAR_SCSI_PR_INTERNAL_H
#define LUNAR_SCSI_PR_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scsi/pr.h"
#include "scsi/scsi.h"
#include "util/list.h"

/* Registrations a LU keeps; one more is INSUFFICIENT REGISTRATION
 * RESOURCES. */
#define PR_REGS_MAX 256

#define PR_SCOPE_LU 0x0

/* scsi_pr.state */
#define PR_ST_SPC2 0x1u /* an SPC-2 reservation is held */
#define PR_ST_PR   0x2u /* a persistent reservation is held */

/* Protocol identifier of iSCSI TransportIDs (SPC-5 §7.6). */
#define PR_PROTO_ISCSI 0x5
/* The separator between name and ISID in a format 01b TransportID. */
#define PR_ISID_SEP    "i,0x"
#define PR_ISID_DIGITS 12

/*
 * An initiator port as a TransportID names it: "<name>,i,0x<ISID>" (an
 * I_T nexus's initiator port, format 01b), or "<name>" (format 00b: every
 * port of that initiator device). Compared without regard to case, as
 * iSCSI names are (RFC 3722).
 */
struct pr_id {
	char tid[SCSI_PR_TID_MAX];
	uint16_t name_len; /* bytes of tid that are the name */
	bool has_isid;
};

struct pr_reg {
	struct list_head link;
	uint64_t key;
	struct pr_id id;
	bool all_tg_pt;
	uint16_t rel_port_id; /* the target port, unless all_tg_pt */
	/* Scratch of one PERSISTENT RESERVE OUT (pr_out.c): the unit
	 * attention its I_T nexuses get, and whether their tasks are
	 * aborted, once the command's change is committed. */
	uint8_t ua_asc, ua_ascq;
	bool abort;
};

/* What persists (APTPL) and what PERSISTENT RESERVE OUT changes. */
struct pr_set {
	bool aptpl;
	uint32_t generation; /* PRGENERATION */
	struct list_head regs;
	unsigned nr_regs;
	bool reserved;
	uint8_t type, scope;
	/* The holder's registration; NULL for the all registrants types,
	 * whose holders are every registration. */
	struct pr_reg *holder;
};

struct scsi_pr {
	_Atomic unsigned state; /* PR_ST_*: read without the lock */
	bool deleted;		/* scsi_pr_lu_delete: save nothing more */
	struct pr_set set;
	/* SPC-2 RESERVE: the I_T nexus holding it. */
	bool spc2;
	char spc2_port[SCSI_PORT_NAME_MAX];
	uint16_t spc2_rel_port;
};

/* ---- pr.c ---- */

/* The identity of an I_T nexus's initiator port. */
void pr_id_from_port(struct pr_id *id, const char *initiator_port);
/* Whether reg registers the I_T nexus (initiator_port, rel_port_id). */
bool pr_reg_matches(const struct pr_reg *reg, const char *initiator_port,
		    uint16_t rel_port_id);
/* Whether two registrations would cover a common I_T nexus. */
bool pr_reg_overlap(const struct pr_reg *a, const struct pr_reg *b);
/* The registration of the nexus n, or NULL. */
struct pr_reg *pr_find_reg(const struct pr_set *s, const struct scsi_nexus *n);
bool pr_type_valid(uint8_t type);
bool pr_type_all_regs(uint8_t type);
/* Whether reg (may be NULL) holds the persistent reservation. */
bool pr_is_holder(const struct pr_set *s, const struct pr_reg *reg);
/* Whether the nexus holds the SPC-2 reservation. */
bool pr_spc2_holder(const struct scsi_pr *pr, const struct scsi_nexus *n);
/* Mirrors the reservations into pr->state. */
void pr_update_state(struct scsi_pr *pr);

void pr_set_init(struct pr_set *s);
void pr_set_clear(struct pr_set *s);
/* A deep copy of s (holder pointing into the copy); -ENOMEM. */
int pr_set_clone(const struct pr_set *s, struct pr_set *out);
/* Replaces dst's contents by src's (src is left empty). */
void pr_set_replace(struct pr_set *dst, struct pr_set *src);

/* ---- pr_store.c ---- */

/* The image of s, or -ENOMEM; regs allocated. */
int pr_set_to_image(const struct pr_set *s, struct scsi_pr_image *img);
/* s (empty) filled from img; -EBADMSG with err set if img is not valid,
 * -ENOMEM. */
int pr_set_from_image(struct pr_set *s, const struct scsi_pr_image *img,
		      char *err, size_t errlen);
/* Parses the TransportID text of an image or a nexus ("<name>" or
 * "<name>,i,0x<hex ISID>"), checks the name and normalises it; false if
 * it is not one. */
bool pr_id_parse(struct pr_id *id, const char *text, size_t len);

#endif
