/*
 * Target port groups (SPC-5 §5.16, asymmetric logical unit access): the
 * port groups of each target (tpg.h has the model), the access state
 * check of every command (§5.16.2.4: standby, unavailable and
 * transitioning refuse what their state does not allow with NOT READY,
 * LOGICAL UNIT NOT ACCESSIBLE), the unit attentions of state and
 * membership changes (§5.16.2.3, ASYMMETRIC ACCESS STATE CHANGED and
 * INQUIRY DATA HAS CHANGED), and two commands:
 *  - §6.37 REPORT TARGET PORT GROUPS (MAINTENANCE IN, service action 0Ah)
 *    in the length only (§6.37.2) and extended header (§6.37.3) formats;
 *  - §6.43 SET TARGET PORT GROUPS (MAINTENANCE OUT, service action 0Ah),
 *    an explicit transition, all-or-nothing, refused for a target whose
 *    groups are not configured (TPGS 01b).
 * INQUIRY (spc.c) reports TPGS and the target port group designator of VPD
 * page 83h from here; login and SendTargets ask for the tag of a portal.
 */
#include "scsi/tpg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scsi/device.h"
#include "scsi/pr.h"
#include "scsi/sense.h"
#include "scsi/ua.h"
#include "util/bytes.h"
#include "util/log.h"

/* PARAMETER DATA FORMAT, byte 1 bits 7-5 of the CDB. */
#define TPG_FORMAT_LENGTH_ONLY 0x0
#define TPG_FORMAT_EXTENDED    0x1

#define TPG_HDR_LEN	  4
#define TPG_EXT_HDR_LEN	  8
#define TPG_DESC_LEN	  8
#define TPG_PORT_DESC_LEN 4
/* Every configured group and the default group, one port each. */
#define TPG_DATA_MAX                                                           \
	(TPG_EXT_HDR_LEN +                                                     \
	 (SCSI_TPG_MAX + 1) * (TPG_DESC_LEN + TPG_PORT_DESC_LEN))
/* SET TARGET PORT GROUPS: a 4-byte header, 4-byte descriptors. */
#define TPG_SET_HDR_LEN	 4
#define TPG_SET_DESC_LEN 4
#define TPG_SET_MAX	 (TPG_SET_HDR_LEN + (SCSI_TPG_MAX + 1) * TPG_SET_DESC_LEN)

/* ---- state names --------------------------------------------------- */

static const struct {
	const char *name;
	enum scsi_alua_state state;
} tpg_state_names[] = {
    {"active/optimized", SCSI_ALUA_ACTIVE_OPTIMIZED},
    {"active/non-optimized", SCSI_ALUA_ACTIVE_NON_OPTIMIZED},
    {"standby", SCSI_ALUA_STANDBY},
    {"unavailable", SCSI_ALUA_UNAVAILABLE},
    {"transitioning", SCSI_ALUA_TRANSITIONING},
    {"lba-dependent", SCSI_ALUA_LBA_DEPENDENT},
    {"offline", SCSI_ALUA_OFFLINE},
    /* Short forms admins type. */
    {"ao", SCSI_ALUA_ACTIVE_OPTIMIZED},
    {"an", SCSI_ALUA_ACTIVE_NON_OPTIMIZED},
};

const char *scsi_alua_state_name(enum scsi_alua_state s)
{
	for (size_t i = 0;
	     i < sizeof(tpg_state_names) / sizeof(*tpg_state_names); i++) {
		if (tpg_state_names[i].state == s)
			return tpg_state_names[i].name;
	}
	return "reserved";
}

int scsi_alua_state_parse(const char *s, enum scsi_alua_state *out)
{
	for (size_t i = 0;
	     i < sizeof(tpg_state_names) / sizeof(*tpg_state_names); i++) {
		if (strcasecmp(tpg_state_names[i].name, s) == 0) {
			*out = tpg_state_names[i].state;
			return 0;
		}
	}
	return -EINVAL;
}

/* The SCSI_ALUA_SUP_* bit of a state (0: never supported). */
static uint8_t tpg_sup_bit(unsigned state)
{
	switch (state) {
	case SCSI_ALUA_ACTIVE_OPTIMIZED:
		return SCSI_ALUA_SUP_AO;
	case SCSI_ALUA_ACTIVE_NON_OPTIMIZED:
		return SCSI_ALUA_SUP_AN;
	case SCSI_ALUA_STANDBY:
		return SCSI_ALUA_SUP_S;
	case SCSI_ALUA_UNAVAILABLE:
		return SCSI_ALUA_SUP_U;
	case SCSI_ALUA_TRANSITIONING:
		return SCSI_ALUA_SUP_T;
	default:
		return 0;
	}
}

bool scsi_alua_state_configurable(enum scsi_alua_state s)
{
	return (tpg_sup_bit(s) & SCSI_ALUA_SUP_CONFIGURED) != 0;
}

/* ---- portals ------------------------------------------------------- */

static const char *tpg_portal_port(const char *addr)
{
	const char *c = strrchr(addr, ':');

	return c ? c + 1 : "";
}

static bool tpg_portal_is_any(const char *addr)
{
	return strncmp(addr, "0.0.0.0:", 8) == 0 ||
	       strncmp(addr, "[::]:", 5) == 0;
}

/* Whether group portal p names addr: the same address, or (wild) a
 * wildcard on addr's port: 0.0.0.0 covers IPv4, [::] every address. */
static bool tpg_portal_covers(const char *p, const char *addr, bool wild)
{
	if (!wild)
		return strcmp(p, addr) == 0;
	return tpg_portal_is_any(p) &&
	       strcmp(tpg_portal_port(p), tpg_portal_port(addr)) == 0 &&
	       (p[0] == '[' || addr[0] != '[');
}

static bool tpg_has_portal(const struct scsi_tpg *g, const char *addr,
			   bool wild)
{
	for (unsigned i = 0; i < g->nr_portals; i++) {
		if (tpg_portal_covers(g->portals[i], addr, wild))
			return true;
	}
	return false;
}

/* ---- lookups (config lock held) ------------------------------------ */

static struct scsi_tpg *tpg_find(const struct scsi_alua *a, uint16_t id)
{
	struct scsi_tpg *g;

	list_for_each_entry (g, &a->groups, link) {
		if (g->id == id)
			return g;
	}
	return NULL;
}

/* The configured group a portal is listed in (exactly), or NULL. */
static struct scsi_tpg *tpg_portal_owner(const struct scsi_alua *a,
					 const char *norm)
{
	struct scsi_tpg *g;

	list_for_each_entry (g, &a->groups, link) {
		if (tpg_has_portal(g, norm, false))
			return g;
	}
	return NULL;
}

static bool tpg_configured(const struct scsi_alua *a)
{
	return a && atomic_load_explicit(&a->nr_groups, memory_order_acquire);
}

uint16_t scsi_tpg_portal_tag(const struct scsi_target *t, const char *local,
			     const char *listener)
{
	const struct scsi_alua *a = t->alua;
	const struct scsi_tpg *g;

	if (!tpg_configured(a))
		return SCSI_TPG_DEFAULT_ID;
	/* The most specific match first: the connection's own address,
	 * then its listener's, then a wildcard portal on that port. A
	 * wildcard of one group must not take the connections of another
	 * group's specific address. */
	for (int pass = 0; pass < 4; pass++) {
		const char *addr = pass % 2 ? listener : local;

		if (!addr)
			continue;
		list_for_each_entry (g, &a->groups, link) {
			if (tpg_has_portal(g, addr, pass >= 2))
				return g->id;
		}
	}
	return SCSI_TPG_DEFAULT_ID;
}

struct scsi_tpg *scsi_tpg_nexus_join(struct scsi_target *t, uint16_t tpgt)
{
	struct scsi_alua *a = t->alua;
	struct scsi_tpg *g;

	if (!a)
		return NULL;
	/* Login checked the tag under this same read lock; a group that
	 * vanished since still leaves the nexus a state to read. */
	g = tpgt == SCSI_TPG_DEFAULT_ID ? &a->dflt : tpg_find(a, tpgt);
	if (!g)
		g = &a->dflt;
	atomic_fetch_add(&g->nr_nexus, 1);
	return g;
}

void scsi_tpg_nexus_leave(struct scsi_tpg *g)
{
	if (g)
		atomic_fetch_sub(&g->nr_nexus, 1);
}

/* ---- what INQUIRY and REPORT TARGET PORT GROUPS say ----------------- */

uint8_t scsi_tpg_tpgs(const struct scsi_lu *lu)
{
	/* Without configured groups the device server alone sets the one
	 * state (it never changes it), and SET TARGET PORT GROUPS is not
	 * supported: implicit only. */
	if (tpg_configured(lu->target->alua))
		return SCSI_TPGS_IMPLICIT | SCSI_TPGS_EXPLICIT;
	return SCSI_TPGS_IMPLICIT;
}

uint16_t scsi_tpg_id(const struct scsi_nexus *n, const struct scsi_lu *lu)
{
	/* Each group is one target port: its tag names both. */
	return n->rel_port_id;
}

/*
 * The access state of group g for lu: the configured one, unless several
 * gateways serve lu's medium and one of their port groups owns it
 * (pr_shared.c): then that group is active/optimized once its gateway
 * holds the medium's lock (transitioning until then) and every other
 * group is standby, the same on every gateway.
 */
static enum scsi_alua_state tpg_state(const struct scsi_lu *lu,
				      const struct scsi_tpg *g)
{
	uint32_t shared =
	    lu ? atomic_load_explicit(&lu->alua_shared, memory_order_relaxed)
	       : 0;

	if (!shared)
		return atomic_load_explicit(&g->state, memory_order_relaxed);
	if ((shared & 0xffff) != g->id)
		return SCSI_ALUA_STANDBY;
	return shared & SCSI_LU_ALUA_LIVE ? SCSI_ALUA_ACTIVE_OPTIMIZED
					  : SCSI_ALUA_TRANSITIONING;
}

static void tpg_info(const struct scsi_lu *lu, const struct scsi_tpg *g,
		     uint8_t supported, struct scsi_tpg_info *out)
{
	memset(out, 0, sizeof(*out));
	out->id = g->id;
	out->state = tpg_state(lu, g);
	out->pref = atomic_load(&g->pref);
	out->supported = supported;
	out->status = atomic_load(&g->status);
	out->nr_ports = 1;
	out->ports[0] = g->id; /* relative target port id = TPGT = id */
}

/*
 * Whether the unconfigured default group has a port worth reporting: the
 * nexus comes through it, or the target is reachable through a portal in
 * no group (all of lunard's when the target has no portals of its own).
 */
static bool tpg_default_reachable(const struct scsi_nexus *n,
				  const struct scsi_target *t)
{
	const struct scsi_alua *a = t->alua;
	const struct scsi_portal_ref *p;
	const struct scsi_tpg *g;

	if (n->tpg == &a->dflt || list_empty(&t->portals))
		return true;
	list_for_each_entry (p, &t->portals, link) {
		bool grouped = false;

		list_for_each_entry (g, &a->groups, link) {
			grouped = grouped ||
				  tpg_has_portal(g, p->addr, false) ||
				  tpg_has_portal(g, p->addr, true);
		}
		if (!grouped)
			return true;
	}
	return false;
}

unsigned scsi_tpg_list(const struct scsi_nexus *n, const struct scsi_lu *lu,
		       struct scsi_tpg_info *out, unsigned max)
{
	const struct scsi_target *t = n->target;
	const struct scsi_alua *a = t->alua;
	const struct scsi_tpg *g;
	unsigned nr = 0;

	if (!tpg_configured(a)) {
		/* The target's one target port: every nexus comes through
		 * it, always active/optimized. */
		if (max) {
			memset(&out[0], 0, sizeof(out[0]));
			out[0].id = SCSI_TPG_DEFAULT_ID;
			out[0].state = SCSI_ALUA_ACTIVE_OPTIMIZED;
			out[0].supported = SCSI_ALUA_SUP_AO;
			out[0].nr_ports = 1;
			out[0].ports[0] = n->rel_port_id;
		}
		return 1;
	}
	scsi_config_rdlock();
	if (!a->dflt.configured && tpg_default_reachable(n, t)) {
		if (nr < max)
			tpg_info(lu, &a->dflt, SCSI_ALUA_SUP_AO, &out[nr]);
		nr++;
	}
	list_for_each_entry (g, &a->groups, link) {
		if (nr < max)
			tpg_info(lu, g, SCSI_ALUA_SUP_CONFIGURED, &out[nr]);
		nr++;
	}
	scsi_config_unlock();
	return nr;
}

/* ---- the access state check (SPC-5 §5.16.2.4) ----------------------- */

int scsi_tpg_check(struct scsi_cmd *cmd)
{
	const struct scsi_tpg *g = cmd->nexus->tpg;
	unsigned flags = cmd->op->flags;

	if (!g)
		return 0;
	switch (tpg_state(cmd->lu, g)) {
	case SCSI_ALUA_STANDBY:
		if (flags & SCSI_OP_ALUA_STANDBY)
			return 0;
		scsi_cmd_set_sense(cmd, SCSI_SK_NOT_READY,
				   SCSI_ASC_ALUA_STANDBY);
		return -EAGAIN;
	case SCSI_ALUA_UNAVAILABLE:
		if (flags & SCSI_OP_ALUA_UNAVAIL)
			return 0;
		scsi_cmd_set_sense(cmd, SCSI_SK_NOT_READY,
				   SCSI_ASC_ALUA_UNAVAILABLE);
		return -EAGAIN;
	case SCSI_ALUA_TRANSITIONING:
		/* What runs while unavailable runs while transitioning
		 * (§5.16.2.4.6); the rest may retry after the transition. */
		if (flags & SCSI_OP_ALUA_UNAVAIL)
			return 0;
		scsi_cmd_set_sense(cmd, SCSI_SK_NOT_READY,
				   SCSI_ASC_ALUA_TRANSITION);
		return -EAGAIN;
	default: /* the active states run everything */
		return 0;
	}
}

/* ---- unit attentions ------------------------------------------------ */

/* A unit attention for every nexus of every LU of t but `except`.
 * Caller holds a config lock (t->lun_map). */
static void tpg_ua_all(const struct scsi_target *t,
		       const struct scsi_nexus *except, uint8_t asc,
		       uint8_t ascq)
{
	const struct scsi_lun_map *m = t->lun_map;

	for (unsigned i = 0; m && i < m->count; i++)
		scsi_ua_establish_others(m->ent[i].lu, except, asc, ascq);
}

/* ---- REPORT TARGET PORT GROUPS (SPC-5 §6.37) ------------------------ */

static int tpg_report_parse(struct scsi_cmd *cmd)
{
	uint8_t format = cmd->cdb[1] >> 5;

	if (format != TPG_FORMAT_LENGTH_ONLY && format != TPG_FORMAT_EXTENDED) {
		scsi_cmd_set_invalid_field(cmd, 1, 7);
		return -EINVAL;
	}
	cmd->cdb_xfer_len = get_be32(cmd->cdb + 6);
	return 0;
}

static int tpg_report(struct scsi_cmd *cmd)
{
	struct scsi_tpg_info groups[SCSI_TPG_MAX + 1];
	bool ext = (cmd->cdb[1] >> 5) == TPG_FORMAT_EXTENDED;
	size_t len = ext ? TPG_EXT_HDR_LEN : TPG_HDR_LEN;
	uint8_t d[TPG_DATA_MAX];
	unsigned n;

	memset(d, 0, sizeof(d));
	n = scsi_tpg_list(cmd->nexus, cmd->lu, groups, SCSI_TPG_MAX + 1);
	if (n > SCSI_TPG_MAX + 1)
		n = SCSI_TPG_MAX + 1;
	if (ext) {
		d[4] = TPG_FORMAT_EXTENDED << 4; /* FORMAT TYPE */
		d[5] = SCSI_TPG_TRANSITION_SECS; /* IMPLICIT TRANSITION TIME */
	}
	for (unsigned i = 0; i < n; i++) {
		const struct scsi_tpg_info *g = &groups[i];
		uint8_t *p = d + len;
		/* Each group is one target port (tpg.h). */
		unsigned ports = g->nr_ports ? 1 : 0;

		p[0] = (uint8_t)((g->pref ? 0x80 : 0) | (g->state & 0x0f));
		p[1] = g->supported;
		put_be16(p + 2, g->id);
		p[5] = g->status;
		p[7] = (uint8_t)ports;
		len += TPG_DESC_LEN;
		for (unsigned j = 0; j < ports; j++) {
			put_be16(d + len + 2, g->ports[j]);
			len += TPG_PORT_DESC_LEN;
		}
	}
	/* RETURN DATA LENGTH: every byte after itself, the extended
	 * header's included. */
	put_be32(d, (uint32_t)(len - 4));
	scsi_cmd_put_data(cmd, d, len);
	return 0;
}

/* MAINTENANCE IN / REPORT TARGET PORT GROUPS */
const struct scsi_op spc_op_report_tpgs = {
    .name = "REPORT TARGET PORT GROUPS",
    .opcode = 0xa3,
    .service_action = 0x0a,
    .cdb_len = 12,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_SA | SCSI_OP_ALUA_ANY | SCSI_OP_PR_ANY,
    .max_data = TPG_DATA_MAX,
    .parse = tpg_report_parse,
    .execute = tpg_report,
    /* PARAMETER DATA FORMAT, ALLOCATION LENGTH. */
    .usage = {0xa3, 0xea, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00,
	      0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

/* ---- SET TARGET PORT GROUPS (SPC-5 §6.43) --------------------------- */

/* Only a target with configured groups lets initiators set states. */
static bool tpg_set_supported(const struct scsi_lu *lu)
{
	return tpg_configured(lu->target->alua);
}

static int tpg_set_parse(struct scsi_cmd *cmd)
{
	cmd->cdb_xfer_len = get_be32(cmd->cdb + 6);
	/* More descriptors than groups can only repeat one (refused
	 * below); no need to buffer an arbitrary length for that. */
	if (cmd->cdb_xfer_len > TPG_SET_MAX) {
		scsi_cmd_set_param_error(cmd, SCSI_ASC_PARAMETER_LIST_LENGTH,
					 -1, -1);
		return -EINVAL;
	}
	return 0;
}

/* The group a descriptor names: a configured one, or the default group
 * (which only ever is active/optimized). Config lock held. */
static struct scsi_tpg *tpg_set_target(struct scsi_alua *a, uint16_t id,
				       uint8_t *supported)
{
	struct scsi_tpg *g = tpg_find(a, id);

	if (g) {
		*supported = SCSI_ALUA_SUP_CONFIGURED;
		return g;
	}
	if (id == SCSI_TPG_DEFAULT_ID) {
		*supported = SCSI_ALUA_SUP_AO;
		return &a->dflt;
	}
	return NULL;
}

/*
 * SET TARGET PORT GROUPS to a LU whose medium several gateways serve: an
 * initiator activates a path by asking its group (the one this command
 * came through) to be active, which makes that group the owner of the
 * medium on every gateway (scsi_lu_alua_activate). A gateway can only
 * take the medium for its own group, so a descriptor asking another
 * group to be active is refused; asking others to be standby or
 * unavailable is what the activation does anyway.
 */
static int tpg_set_shared(struct scsi_cmd *cmd, const uint8_t *d, unsigned n)
{
	uint16_t own = cmd->nexus->tpg ? cmd->nexus->tpg->id : 0;
	bool activate = false;

	for (unsigned i = 0; i < n; i++) {
		unsigned off = TPG_SET_HDR_LEN + i * TPG_SET_DESC_LEN;
		uint8_t state = d[off] & 0x0f;
		bool active = state == SCSI_ALUA_ACTIVE_OPTIMIZED ||
			      state == SCSI_ALUA_ACTIVE_NON_OPTIMIZED;
		bool mine = get_be16(d + off + 2) == own;

		if (active != mine || state == SCSI_ALUA_TRANSITIONING ||
		    !(tpg_sup_bit(state) & SCSI_ALUA_SUP_CONFIGURED)) {
			scsi_cmd_set_param_error(
			    cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM, (int)off, 3);
			return -EINVAL;
		}
		activate |= active;
	}
	/* Nothing to take over: fine if it asks for what already is. */
	for (unsigned i = 0; !activate && i < n; i++) {
		unsigned off = TPG_SET_HDR_LEN + i * TPG_SET_DESC_LEN;
		uint32_t owner = atomic_load(&cmd->lu->alua_shared) & 0xffff;

		if (get_be16(d + off + 2) == owner) {
			scsi_cmd_set_param_error(
			    cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM, (int)off, 3);
			return -EINVAL;
		}
	}
	if (!activate)
		return 0;
	log_info("target %s LUN %llu: SET TARGET PORT GROUPS from %s: port "
		 "group %u takes the medium over",
		 cmd->lu->target->name, (unsigned long long)cmd->lu->lun,
		 cmd->nexus->initiator_port, own);
	return scsi_lu_alua_activate(cmd, own);
}

static int tpg_set(struct scsi_cmd *cmd)
{
	struct scsi_alua *a = cmd->lu->target->alua;
	struct scsi_tpg *target[SCSI_TPG_MAX + 1];
	uint8_t state[SCSI_TPG_MAX + 1];
	const uint8_t *d = cmd->buf;
	uint32_t len = cmd->xfer_len;
	unsigned n, changed = 0;
	int rc = 0;

	/* A zero length is no error: nothing changes (§6.43). */
	if (cmd->cdb_xfer_len == 0)
		return 0;
	/* Only whole descriptors after the header, all of which arrived. */
	if (len < cmd->cdb_xfer_len || len < TPG_SET_HDR_LEN ||
	    (len - TPG_SET_HDR_LEN) % TPG_SET_DESC_LEN) {
		scsi_cmd_set_param_error(cmd, SCSI_ASC_PARAMETER_LIST_LENGTH,
					 -1, -1);
		return -EINVAL;
	}
	n = (len - TPG_SET_HDR_LEN) / TPG_SET_DESC_LEN;
	if (scsi_lu_alua_shared(cmd->lu))
		return tpg_set_shared(cmd, d, n);
	scsi_config_rdlock();
	/* Every descriptor is checked before any state changes. */
	for (unsigned i = 0; i < n; i++) {
		unsigned off = TPG_SET_HDR_LEN + i * TPG_SET_DESC_LEN;
		uint8_t supported = 0;

		state[i] = d[off] & 0x0f;
		target[i] =
		    tpg_set_target(a, get_be16(d + off + 2), &supported);
		if (!target[i]) {
			scsi_cmd_set_param_error(
			    cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM, (int)off + 2,
			    -1);
			rc = -EINVAL;
			goto out;
		}
		/* Transitioning is the device server's to enter; LBA
		 * dependent and offline are not supported here. */
		if (state[i] == SCSI_ALUA_TRANSITIONING ||
		    !(tpg_sup_bit(state[i]) & supported)) {
			scsi_cmd_set_param_error(
			    cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM, (int)off, 3);
			rc = -EINVAL;
			goto out;
		}
		for (unsigned j = 0; j < i; j++) {
			if (target[j] == target[i]) {
				scsi_cmd_set_param_error(
				    cmd, SCSI_ASC_INVALID_FIELD_IN_PARAM,
				    (int)off + 2, -1);
				rc = -EINVAL;
				goto out;
			}
		}
	}
	pthread_mutex_lock(&a->lock);
	for (unsigned i = 0; i < n; i++) {
		uint8_t old = atomic_exchange(&target[i]->state, state[i]);

		if (target[i] != &a->dflt || a->dflt.configured)
			atomic_store(&target[i]->status,
				     SCSI_TPG_STATUS_EXPLICIT);
		changed += old != state[i];
	}
	pthread_mutex_unlock(&a->lock);
	/* SPC-5 §5.16.2.3: every other I_T nexus learns of it. */
	if (changed) {
		tpg_ua_all(cmd->lu->target, cmd->nexus,
			   SCSI_ASC_ASYMMETRIC_ACCESS_CHANGED);
		log_info("target %s: SET TARGET PORT GROUPS from %s changed "
			 "%u group%s",
			 cmd->lu->target->name, cmd->nexus->initiator_port,
			 changed, changed == 1 ? "" : "s");
	}
out:
	scsi_config_unlock();
	return rc;
}

/* MAINTENANCE OUT / SET TARGET PORT GROUPS. It changes no medium (not
 * SCSI_OP_WRITES: a read-only LU takes it) and runs in every state: it
 * is how an initiator brings a standby path back. Under a reservation of
 * another I_T nexus it conflicts like a write (SPC-5 table 64). */
const struct scsi_op spc_op_set_tpgs = {
    .name = "SET TARGET PORT GROUPS",
    .opcode = 0xa4,
    .service_action = 0x0a,
    .cdb_len = 12,
    .dir = SCSI_DIR_WRITE,
    .flags = SCSI_OP_SA | SCSI_OP_ALUA_ANY | SCSI_OP_PR_WRITE,
    .parse = tpg_set_parse,
    .execute = tpg_set,
    .supported = tpg_set_supported,
    /* PARAMETER LIST LENGTH. */
    .usage = {0xa4, 0x0a, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00,
	      0x05},
    .timeouts = SCSI_TIMEOUTS_MEMORY,
};

/* ---- configuration (main thread) ------------------------------------ */

int scsi_alua_init(struct scsi_target *t)
{
	struct scsi_alua *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	list_init(&a->groups);
	list_init(&a->dflt.link);
	a->dflt.id = SCSI_TPG_DEFAULT_ID;
	atomic_init(&a->dflt.state, SCSI_ALUA_ACTIVE_OPTIMIZED);
	atomic_init(&a->nr_groups, 0);
	pthread_mutex_init(&a->lock, NULL);
	t->alua = a;
	return 0;
}

void scsi_alua_exit(struct scsi_target *t)
{
	struct scsi_alua *a = t->alua;
	struct scsi_tpg *g, *n;

	if (!a)
		return;
	list_for_each_entry_safe (g, n, &a->groups, link) {
		if (g != &a->dflt)
			free(g);
	}
	pthread_mutex_destroy(&a->lock);
	free(a);
	t->alua = NULL;
}

/* Inserts g into the list by id. */
static void tpg_insert(struct scsi_alua *a, struct scsi_tpg *g)
{
	struct scsi_tpg *e;

	list_for_each_entry (e, &a->groups, link) {
		if (e->id > g->id) {
			list_add_tail(&g->link, &e->link);
			return;
		}
	}
	list_add_tail(&g->link, &a->groups);
}

static unsigned tpg_count(const struct scsi_alua *a)
{
	return atomic_load(&a->nr_groups);
}

int scsi_tpg_create(struct scsi_target *t, const struct scsi_tpg_conf *c,
		    uint16_t *owner)
{
	struct scsi_alua *a = t->alua;
	struct scsi_tpg *g, *o;
	uint8_t old_state;
	bool old_pref;

	if (!a)
		return -ENOMEM;
	if (c->id == 0 || !scsi_alua_state_configurable(c->state) ||
	    c->nr_portals > SCSI_TPG_PORTALS_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < c->nr_portals; i++) {
		for (unsigned j = 0; j < i; j++) {
			if (strcmp(c->portals[i], c->portals[j]) == 0)
				return -EINVAL;
		}
	}
	g = c->id == SCSI_TPG_DEFAULT_ID ? &a->dflt : calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	scsi_config_wrlock();
	if (tpg_find(a, c->id) || tpg_count(a) >= SCSI_TPG_MAX) {
		int rc = tpg_find(a, c->id) ? -EEXIST : -ENOSPC;

		scsi_config_unlock();
		if (g != &a->dflt)
			free(g);
		return rc;
	}
	for (unsigned i = 0; i < c->nr_portals; i++) {
		if ((o = tpg_portal_owner(a, c->portals[i]))) {
			if (owner)
				*owner = o->id;
			scsi_config_unlock();
			if (g != &a->dflt)
				free(g);
			return -EADDRINUSE;
		}
	}
	old_state = atomic_load(&g->state);
	old_pref = atomic_load(&g->pref);
	g->id = c->id;
	g->configured = true;
	g->nr_portals = c->nr_portals;
	memcpy(g->portals, c->portals, sizeof(g->portals));
	atomic_store(&g->pref, c->pref);
	atomic_store(&g->status, SCSI_TPG_STATUS_NONE);
	atomic_store(&g->state, (uint8_t)c->state);
	tpg_insert(a, g);
	atomic_fetch_add_explicit(&a->nr_groups, 1, memory_order_release);
	/* New groups change REPORT TARGET PORT GROUPS (and, for the first,
	 * TPGS); group 1's sessions may also see a new state. */
	tpg_ua_all(t, NULL, SCSI_ASC_INQUIRY_DATA_CHANGED);
	if (g == &a->dflt &&
	    (old_state != (uint8_t)c->state || old_pref != c->pref))
		tpg_ua_all(t, NULL, SCSI_ASC_ASYMMETRIC_ACCESS_CHANGED);
	scsi_config_unlock();
	log_info("target %s: port group %u created (%s%s, %u portal%s)",
		 t->name, c->id, scsi_alua_state_name(c->state),
		 c->pref ? ", preferred" : "", c->nr_portals,
		 c->nr_portals == 1 ? "" : "s");
	return 0;
}

int scsi_tpg_delete(struct scsi_target *t, uint16_t id)
{
	struct scsi_alua *a = t->alua;
	struct scsi_tpg *g;
	bool was_active = true;

	if (!a)
		return -ENOENT;
	scsi_config_wrlock();
	g = tpg_find(a, id);
	if (!g) {
		scsi_config_unlock();
		return -ENOENT;
	}
	/* Its sessions' nexuses point at it; group 1 outlives them, as the
	 * default group they fall back into. */
	if (g != &a->dflt && atomic_load(&g->nr_nexus) > 0) {
		scsi_config_unlock();
		return -EBUSY;
	}
	list_del(&g->link);
	atomic_fetch_sub_explicit(&a->nr_groups, 1, memory_order_release);
	if (g == &a->dflt) {
		was_active =
		    atomic_load(&g->state) == SCSI_ALUA_ACTIVE_OPTIMIZED &&
		    !atomic_load(&g->pref);
		list_init(&g->link);
		g->configured = false;
		g->nr_portals = 0;
		atomic_store(&g->state, SCSI_ALUA_ACTIVE_OPTIMIZED);
		atomic_store(&g->pref, false);
		atomic_store(&g->status, SCSI_TPG_STATUS_NONE);
	}
	tpg_ua_all(t, NULL, SCSI_ASC_INQUIRY_DATA_CHANGED);
	if (!was_active)
		tpg_ua_all(t, NULL, SCSI_ASC_ASYMMETRIC_ACCESS_CHANGED);
	scsi_config_unlock();
	if (g != &a->dflt)
		free(g);
	log_info("target %s: port group %u deleted", t->name, id);
	return 0;
}

int scsi_tpg_set(struct scsi_target *t, uint16_t id,
		 const enum scsi_alua_state *state, const bool *pref)
{
	struct scsi_alua *a = t->alua;
	struct scsi_tpg *g;
	bool changed = false;

	if (state && !scsi_alua_state_configurable(*state))
		return -EINVAL;
	if (!a)
		return -ENOENT;
	scsi_config_wrlock();
	g = tpg_find(a, id);
	if (!g) {
		scsi_config_unlock();
		return -ENOENT;
	}
	if (state) {
		changed |= atomic_exchange(&g->state, (uint8_t)*state) !=
			   (uint8_t)*state;
		atomic_store(&g->status, SCSI_TPG_STATUS_IMPLICIT);
	}
	if (pref)
		changed |= atomic_exchange(&g->pref, *pref) != *pref;
	/* An implicit transition: every I_T nexus hears of it (§5.16.2.3),
	 * the ones through this group included. */
	if (changed)
		tpg_ua_all(t, NULL, SCSI_ASC_ASYMMETRIC_ACCESS_CHANGED);
	scsi_config_unlock();
	log_info("target %s: port group %u is %s%s", t->name, id,
		 scsi_alua_state_name(atomic_load(&g->state)),
		 atomic_load(&g->pref) ? ", preferred" : "");
	return 0;
}

int scsi_tpg_portal_add(struct scsi_target *t, uint16_t id, const char *norm,
			uint16_t *owner)
{
	struct scsi_alua *a = t->alua;
	struct scsi_tpg *g, *o;
	int rc = 0;

	if (!a)
		return -ENOENT;
	scsi_config_wrlock();
	g = tpg_find(a, id);
	o = tpg_portal_owner(a, norm);
	if (!g)
		rc = -ENOENT;
	else if (o == g)
		rc = -EEXIST;
	else if (o)
		rc = -EADDRINUSE;
	else if (g->nr_portals >= SCSI_TPG_PORTALS_MAX)
		rc = -ENOSPC;
	if (rc) {
		if (o && owner)
			*owner = o->id;
		scsi_config_unlock();
		return rc;
	}
	snprintf(g->portals[g->nr_portals++], SCSI_PORTAL_MAX, "%s", norm);
	/* New logins through it get another port: what REPORT TARGET PORT
	 * GROUPS may list changed. */
	tpg_ua_all(t, NULL, SCSI_ASC_INQUIRY_DATA_CHANGED);
	scsi_config_unlock();
	log_info("target %s: portal %s joined port group %u", t->name, norm,
		 id);
	return 0;
}

int scsi_tpg_portal_remove(struct scsi_target *t, uint16_t id, const char *norm)
{
	struct scsi_alua *a = t->alua;
	struct scsi_tpg *g;
	unsigned i;

	if (!a)
		return -ENOENT;
	scsi_config_wrlock();
	g = tpg_find(a, id);
	for (i = 0; g && i < g->nr_portals; i++) {
		if (strcmp(g->portals[i], norm) == 0)
			break;
	}
	if (!g || i == g->nr_portals) {
		scsi_config_unlock();
		return -ENOENT;
	}
	for (; i + 1 < g->nr_portals; i++)
		memcpy(g->portals[i], g->portals[i + 1], SCSI_PORTAL_MAX);
	g->nr_portals--;
	tpg_ua_all(t, NULL, SCSI_ASC_INQUIRY_DATA_CHANGED);
	scsi_config_unlock();
	log_info("target %s: portal %s left port group %u", t->name, norm, id);
	return 0;
}

unsigned scsi_tpg_conf_list_locked(const struct scsi_target *t,
				   struct scsi_tpg_conf *out, unsigned max)
{
	const struct scsi_alua *a = t->alua;
	const struct scsi_tpg *g;
	unsigned n = 0;

	if (!a)
		return 0;
	list_for_each_entry (g, &a->groups, link) {
		if (n < max) {
			struct scsi_tpg_conf *c = &out[n];

			memset(c, 0, sizeof(*c));
			c->id = g->id;
			c->state = atomic_load(&g->state);
			c->pref = atomic_load(&g->pref);
			c->status = atomic_load(&g->status);
			c->nr_nexus = (unsigned)atomic_load(&g->nr_nexus);
			c->nr_portals = g->nr_portals;
			memcpy(c->portals, g->portals, sizeof(c->portals));
		}
		n++;
	}
	return n;
}
