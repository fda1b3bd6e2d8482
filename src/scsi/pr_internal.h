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

#include <jansson.h>

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
	/*
	 * A LU on a medium several gateways serve (pr_shared.c): the state
	 * above is a cache of the record kept with the medium, of this
	 * version; only pr_shared.c's workers change it.
	 */
	bool shared;
	uint64_t shared_version;
	/* The port group for which this gateway took the medium's lock
	 * (0: none); the workers' only. */
	uint16_t alua_mine;
};

/* What a shared record holds beside the persistent reservations, as a
 * change sees and makes it. */
struct pr_extra {
	/* The SPC-2 reservation. */
	bool held;
	char port[SCSI_PORT_NAME_MAX];
	uint16_t rel_port;
	/* ALUA across gateways: the port group that owns the medium (0:
	 * none yet, the configured states apply), and the holder of the
	 * medium's write lock it took ("" while it is being taken). */
	uint16_t alua_group;
	char alua_owner[128];
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

/* Forgets the unit attention and abort marks of a change (pr_reg). */
void pr_set_clear_marks(struct pr_set *s);
/* Frees the registrations on list l (a removed list). */
void pr_reg_list_free(struct list_head *l);
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
/* The aptpl, registrations and reservation members of a saved state
 * (from or into the JSON object root); -EBADMSG with what set. */
int pr_image_from_json(json_t *root, struct scsi_pr_image *img, char *what,
		       size_t whatlen);
int pr_image_to_json(json_t *root, const struct scsi_pr_image *img);

/* ---- pr_shared.c: reservations of a LU that several gateways serve ---- */

/*
 * One change of the shared state, computed on a fresh copy s (and spc2)
 * without lu->lock: 0 with *changed set, or a negative errno with cmd's
 * status set. It marks (ua_asc, ua_ascq, abort) the registrations whose
 * I_T nexuses get a unit attention, and moves those it takes away to
 * removed, as pr_out.c's commands do. cmd is NULL for a change no
 * command asked for (an SPC-2 reservation ends with its nexus).
 */
typedef int (*pr_shared_change_fn)(struct scsi_cmd *cmd, void *arg,
				   struct pr_set *s, struct pr_extra *spc2,
				   struct list_head *removed, bool *changed);

/* Whether the LU's reservations are shared (its store has a record). */
bool pr_shared(const struct scsi_lu *lu);
/*
 * Runs change(cmd, arg, ...) against the record on the shared worker and
 * returns -EINPROGRESS; once the record has the change and every gateway
 * has taken it over (or was fenced), done(cmd, aborting) runs on cmd's
 * reactor (aborting: tasks of this gateway were aborted by it). arg
 * (malloc'd, or NULL) is freed after done.
 */
int pr_shared_run(struct scsi_cmd *cmd, pr_shared_change_fn change, void *arg,
		  void (*done)(struct scsi_cmd *cmd, bool aborting));
/* The SPC-2 reservation of (port, rel_port) ends, or any with port
 * NULL (LU reset); queued, no command waits for it. */
void pr_shared_spc2_drop(struct scsi_lu *lu, const char *port,
			 uint16_t rel_port);
/* LU life for a shared LU: the record loaded and watched. */
int pr_shared_lu_init(struct scsi_lu *lu, struct scsi_pr *pr, char *err,
		      size_t errlen);
void pr_shared_lu_exit(struct scsi_lu *lu);

#endif
