/*
 * Target port groups and asymmetric logical unit access (SPC-5 §5.16):
 * which target port group each target port belongs to and the access
 * state of each group, as INQUIRY (TPGS, the target port group designator
 * of VPD page 83h), REPORT TARGET PORT GROUPS and SET TARGET PORT GROUPS
 * see them (tpg.c), and the configuration of the groups (lunarctl tpg).
 *
 * The model. A target has port groups, each with an id (1..65535), a set
 * of network portals, an access state and a preferred flag. Each group is
 * one iSCSI target portal group and one SCSI target port: a login through
 * a portal of group g gets TPGT g, the target port "<target>,t,0x<g>" and
 * relative target port identifier g. Group 1 is the default group: every
 * portal in no other group belongs to it. Until the admin configures it,
 * group 1 is active/optimized for good (implicit ALUA only, TPGS 01b,
 * today's behaviour); once a target has a configured group, INQUIRY says
 * implicit and explicit ALUA (TPGS 11b) and SET TARGET PORT GROUPS works.
 *
 * Threads. The group list and each group's portals belong to the main
 * thread and change under the config write lock; login, SendTargets and
 * the two commands read them under the read lock. The access state, the
 * preferred flag and the status code are atomics: a nexus holds a pointer
 * to its group for life, and scsi_tpg_check() costs one atomic load. A
 * group is freed only when no nexus points at it (deletion waits for its
 * sessions to end: -EBUSY).
 */
#ifndef LUNAR_SCSI_TPG_H
#define LUNAR_SCSI_TPG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "scsi/target.h"
#include "util/list.h"

struct scsi_cmd;
struct scsi_lu;
struct scsi_nexus;

/* Asymmetric access states (SPC-5 §5.16.2.4, table 38). */
enum scsi_alua_state {
	SCSI_ALUA_ACTIVE_OPTIMIZED = 0x0,
	SCSI_ALUA_ACTIVE_NON_OPTIMIZED = 0x1,
	SCSI_ALUA_STANDBY = 0x2,
	SCSI_ALUA_UNAVAILABLE = 0x3,
	SCSI_ALUA_LBA_DEPENDENT = 0x4,
	SCSI_ALUA_OFFLINE = 0xe,
	SCSI_ALUA_TRANSITIONING = 0xf,
};

/* Byte 1 of a target port group descriptor: the states it supports. */
#define SCSI_ALUA_SUP_T	  0x80 /* transitioning */
#define SCSI_ALUA_SUP_O	  0x40 /* offline */
#define SCSI_ALUA_SUP_LBD 0x10 /* logical block dependent */
#define SCSI_ALUA_SUP_U	  0x08 /* unavailable */
#define SCSI_ALUA_SUP_S	  0x04 /* standby */
#define SCSI_ALUA_SUP_AN  0x02 /* active/non-optimized */
#define SCSI_ALUA_SUP_AO  0x01 /* active/optimized */
/* What a configured group can be put in (lunarctl tpg set). */
#define SCSI_ALUA_SUP_CONFIGURED                                               \
	(SCSI_ALUA_SUP_T | SCSI_ALUA_SUP_U | SCSI_ALUA_SUP_S |                 \
	 SCSI_ALUA_SUP_AN | SCSI_ALUA_SUP_AO)

/* STATUS CODE of a target port group descriptor (SPC-5 §6.37.2). */
#define SCSI_TPG_STATUS_NONE	 0x00
#define SCSI_TPG_STATUS_EXPLICIT 0x01 /* altered by SET TARGET PORT GROUPS */
#define SCSI_TPG_STATUS_IMPLICIT 0x02 /* altered by the device server */

/* TPGS of the standard INQUIRY data (byte 5, bits 5-4). */
#define SCSI_TPGS_NONE	   0x00
#define SCSI_TPGS_IMPLICIT 0x10
#define SCSI_TPGS_EXPLICIT 0x20

#define SCSI_TPG_PORTS_MAX   16
#define SCSI_TPG_MAX	     16 /* port groups per target */
#define SCSI_TPG_PORTALS_MAX 16 /* portals per port group */
#define SCSI_TPG_ID_MAX	     65535

/* The group every target port belongs to while none are configured. */
#define SCSI_TPG_DEFAULT_ID 1

/*
 * IMPLICIT TRANSITION TIME of REPORT TARGET PORT GROUPS: the device
 * server's own transitions are instant, but an admin may hold a group in
 * transitioning; initiators should wait this long before giving up.
 */
#define SCSI_TPG_TRANSITION_SECS 30

struct scsi_tpg_info {
	uint16_t id; /* TARGET PORT GROUP, never 0 */
	enum scsi_alua_state state;
	bool pref;	   /* preferred target port group */
	uint8_t supported; /* SCSI_ALUA_SUP_* */
	uint8_t status;	   /* STATUS CODE: 00h, no status available */
	unsigned nr_ports;
	uint16_t ports[SCSI_TPG_PORTS_MAX]; /* relative target port ids */
};

/* One port group of a target. */
struct scsi_tpg {
	struct list_head link; /* scsi_alua.groups by id; config lock */
	uint16_t id;
	bool configured; /* config lock; only group 1 exists unconfigured */
	_Atomic uint8_t state;	/* enum scsi_alua_state */
	_Atomic uint8_t status; /* SCSI_TPG_STATUS_* */
	atomic_bool pref;
	atomic_int nr_nexus; /* nexuses whose port is this group's */
	unsigned nr_portals; /* config lock */
	char portals[SCSI_TPG_PORTALS_MAX][SCSI_PORTAL_MAX];
};

/* The port groups of one target (scsi_target.alua). */
struct scsi_alua {
	struct scsi_tpg dflt;	 /* group 1, configured or not */
	struct list_head groups; /* configured groups by id; config lock */
	atomic_uint nr_groups;	 /* configured groups: TPGS 11b when > 0 */
	/* Serialises SET TARGET PORT GROUPS commands of different
	 * reactors (admin changes hold the config write lock). */
	pthread_mutex_t lock;
};

/* A group as the admin configures and sees it. */
struct scsi_tpg_conf {
	uint16_t id;
	enum scsi_alua_state state;
	bool pref;
	uint8_t status;	   /* shown, never configured */
	unsigned nr_nexus; /* shown: sessions through the group's port */
	unsigned nr_portals;
	char portals[SCSI_TPG_PORTALS_MAX][SCSI_PORTAL_MAX]; /* normalised */
};

/* ---- SCSI (tpg.c) ---- */

/* The TPGS bits of lu's standard INQUIRY data. */
uint8_t scsi_tpg_tpgs(const struct scsi_lu *lu);
/* The target port group of the target port n is connected through. */
uint16_t scsi_tpg_id(const struct scsi_nexus *n, const struct scsi_lu *lu);
/* The groups of the target ports through which lu is reachable, as seen
 * from n; at most max. Returns how many there are. Takes the config read
 * lock. */
unsigned scsi_tpg_list(const struct scsi_nexus *n, const struct scsi_lu *lu,
		       struct scsi_tpg_info *out, unsigned max);

/*
 * Whether cmd may run in the access state of the target port group its
 * nexus comes through (SPC-5 §5.16.2.4.x): 0, or a negative errno with
 * the sense set (NOT READY / TARGET PORT IN STANDBY STATE, ...). Called by
 * the core for every command to a LU, from its opcode table row.
 */
int scsi_tpg_check(struct scsi_cmd *cmd);

/* ---- transports and the core (caller holds the config read lock) ---- */

/*
 * The target portal group tag of a login to t through the local address
 * `local` of the listener `listener` (both "ADDR:PORT"; listener may be a
 * wildcard or NULL): the id of the group with that portal (an exact
 * address before a wildcard one), else SCSI_TPG_DEFAULT_ID.
 */
uint16_t scsi_tpg_portal_tag(const struct scsi_target *t, const char *local,
			     const char *listener);
/* The group of a new nexus of t with tag tpgt (scsi_nexus_init), counted
 * until scsi_tpg_nexus_leave; NULL for a target without groups. */
struct scsi_tpg *scsi_tpg_nexus_join(struct scsi_target *t, uint16_t tpgt);
void scsi_tpg_nexus_leave(struct scsi_tpg *g);

/* ---- configuration (main thread; each takes the write lock) ---- */

/* Set up and free t->alua with the target. */
int scsi_alua_init(struct scsi_target *t);
void scsi_alua_exit(struct scsi_target *t);

/* "active/optimized", ...; and back (also "ao", "an"); -EINVAL. */
const char *scsi_alua_state_name(enum scsi_alua_state s);
int scsi_alua_state_parse(const char *s, enum scsi_alua_state *out);
/* Whether an admin may put a group in state s. */
bool scsi_alua_state_configurable(enum scsi_alua_state s);

/*
 * Creates group c->id with its portals (normalised, no duplicates).
 * -EEXIST: it exists; -ENOSPC: SCSI_TPG_MAX groups already;
 * -EADDRINUSE: a portal is in group *owner; -EINVAL: bad id or state.
 * Establishes INQUIRY DATA HAS CHANGED (and, for group 1, ASYMMETRIC
 * ACCESS STATE CHANGED when its state changes) on every LU of t.
 */
int scsi_tpg_create(struct scsi_target *t, const struct scsi_tpg_conf *c,
		    uint16_t *owner);
/* -ENOENT: no such configured group; -EBUSY: sessions use its port.
 * Group 1 goes back to the default (active/optimized, no portals). */
int scsi_tpg_delete(struct scsi_target *t, uint16_t id);
/*
 * An implicit transition by the admin: state (unless NULL) and preferred
 * flag (unless NULL). STATUS CODE becomes "altered implicitly"; every
 * nexus of every LU of t gets ASYMMETRIC ACCESS STATE CHANGED when
 * something changed. -ENOENT, -EINVAL (state).
 */
int scsi_tpg_set(struct scsi_target *t, uint16_t id,
		 const enum scsi_alua_state *state, const bool *pref);
/* Portal membership: -ENOENT (group; for remove also the portal),
 * -EEXIST (already in it), -EADDRINUSE (in group *owner), -ENOSPC. */
int scsi_tpg_portal_add(struct scsi_target *t, uint16_t id, const char *norm,
			uint16_t *owner);
int scsi_tpg_portal_remove(struct scsi_target *t, uint16_t id,
			   const char *norm);
/* The configured groups of t by id, at most max; returns how many there
 * are. Caller holds a config lock. */
unsigned scsi_tpg_conf_list_locked(const struct scsi_target *t,
				   struct scsi_tpg_conf *out, unsigned max);

#endif
