/*
 * Port groups (asymmetric logical unit access, SPC-5 §5.16) in the
 * control protocol and the config file: the tpg.* commands
 * (docs/control-protocol.md), a target's "port_groups" in the
 * configuration object (parsed strictly, written only when the target has
 * groups so that files without ALUA stay as they were), the snapshot and
 * the apply step. The model and its rules are scsi/tpg.c's; this file
 * turns its errnos into messages that name the object and the fix.
 */
#include "mgmt/mgmt_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iscsi/iscsi.h"
#include "scsi/tpg.h"

#define ALUA_STATES                                                            \
	"active/optimized, active/non-optimized, standby, unavailable or "     \
	"transitioning"

__attribute__((format(printf, 4, 5))) static int
alua_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- arguments ----------------------------------------------------- */

static struct scsi_target *alua_target(json_t *req, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(req, "target"));
	struct scsi_target *t;

	scsi_config_rdlock();
	t = scsi_target_find(name ? name : "");
	scsi_config_unlock();
	/* The pointer stays valid: only this (main) thread deletes. */
	if (!t)
		alua_fail(-ENOENT, err, errlen,
			  "no target %s; create it with `lunarctl target "
			  "create %s`, or see `lunarctl target list`",
			  name, name);
	return t;
}

static int alua_id(json_t *req, const struct scsi_target *t, uint16_t *id,
		   char *err, size_t errlen)
{
	json_int_t v = json_integer_value(json_object_get(req, "id"));

	if (v < 1 || v > SCSI_TPG_ID_MAX)
		return alua_fail(-EINVAL, err, errlen,
				 "port group id %lld of target %s is out of "
				 "range; use 1..%d (it is also the iSCSI "
				 "target portal group tag)",
				 (long long)v, t->name, SCSI_TPG_ID_MAX);
	*id = (uint16_t)v;
	return 0;
}

static int alua_state(const char *s, enum scsi_alua_state *st, char *why,
		      size_t whylen)
{
	if (scsi_alua_state_parse(s, st) || !scsi_alua_state_configurable(*st))
		return alua_fail(-EINVAL, why, whylen,
				 "'%s' is not a state a port group can be put "
				 "in; use " ALUA_STATES,
				 s);
	return 0;
}

static int alua_portal(const char *in, char *norm, char *err, size_t errlen)
{
	char why[320];

	if (scsi_portal_check(in, norm, SCSI_PORTAL_MAX, why, sizeof(why)))
		return alua_fail(-EINVAL, err, errlen, "%s", why);
	return 0;
}

/* Whether lunard listens where a group portal is (a hint for admins: a
 * group may name a portal before it is listened on). */
static bool alua_listening(const char *norm)
{
	char(*list)[64];
	size_t n;
	bool on = false;

	list = calloc(64, sizeof(*list));
	if (!list)
		return true;
	n = iscsi_portal_list(list, 64);
	for (size_t i = 0; i < n && i < 64; i++) {
		const char *port = strrchr(list[i], ':');

		on = on || strcmp(list[i], norm) == 0 ||
		     (port &&
		      (strncmp(list[i], "0.0.0.0:", 8) == 0 ||
		       strncmp(list[i], "[::]:", 5) == 0) &&
		      strcmp(port, strrchr(norm, ':')) == 0);
	}
	free(list);
	return on;
}

/* Messages for the errnos every portal-changing call shares. */
static int alua_portal_error(int rc, const struct scsi_target *t, uint16_t id,
			     const char *portal, uint16_t owner, char *err,
			     size_t errlen)
{
	if (rc == -EADDRINUSE)
		return alua_fail(rc, err, errlen,
				 "portal %s is already in port group %u of "
				 "target %s; a portal belongs to one group: "
				 "remove it there first (`lunarctl tpg "
				 "remove-portal %s %u %s`)",
				 portal, owner, t->name, t->name, owner,
				 portal);
	if (rc == -ENOSPC)
		return alua_fail(rc, err, errlen,
				 "port group %u of target %s has %d portals, "
				 "the most a group has; remove one first",
				 id, t->name, SCSI_TPG_PORTALS_MAX);
	return alua_fail(rc, err, errlen,
			 "cannot change port group %u of target %s: %s", id,
			 t->name, strerror(-rc));
}

static int alua_no_group(const struct scsi_target *t, uint16_t id, char *err,
			 size_t errlen)
{
	if (id == SCSI_TPG_DEFAULT_ID)
		return alua_fail(-ENOENT, err, errlen,
				 "target %s has no port group 1 configured "
				 "(group 1 holds the portals in no other group "
				 "and is active/optimized); create it with "
				 "`lunarctl tpg create %s 1 --state STATE`",
				 t->name, t->name);
	return alua_fail(-ENOENT, err, errlen,
			 "target %s has no port group %u; `lunarctl tpg list "
			 "%s` shows its groups",
			 t->name, id, t->name);
}

static json_t *alua_conf_json(const struct scsi_tpg_conf *c, unsigned flags)
{
	json_t *portals = json_array();
	json_t *o;

	for (unsigned i = 0; portals && i < c->nr_portals; i++)
		json_array_append_new(portals, json_string(c->portals[i]));
	o = json_pack("{s:i, s:s, s:b, s:o}", "id", (int)c->id, "state",
		      scsi_alua_state_name(c->state), "preferred", c->pref,
		      "portals", portals);
	if (o && (flags & MGMT_CFG_LIVE))
		json_object_set_new(o, "sessions",
				    json_integer((json_int_t)c->nr_nexus));
	return o;
}

/* ---- commands ------------------------------------------------------ */

/* The group of t (other than c's) that has one of c's portals, and which
 * portal (*which); 0 if none. */
static uint16_t alua_owner(const struct scsi_target *t,
			   const struct scsi_tpg_conf *c, size_t *which)
{
	struct scsi_tpg_conf *l = calloc(SCSI_TPG_MAX, sizeof(*l));
	uint16_t owner = 0;
	unsigned n;

	if (!l)
		return 0; /* scsi_tpg_create still refuses it */
	scsi_config_rdlock();
	n = scsi_tpg_conf_list_locked(t, l, SCSI_TPG_MAX);
	scsi_config_unlock();
	for (unsigned g = 0; g < n && g < SCSI_TPG_MAX && !owner; g++) {
		for (unsigned j = 0; j < l[g].nr_portals && !owner; j++) {
			for (size_t k = 0; k < c->nr_portals; k++) {
				if (l[g].id != c->id &&
				    strcmp(l[g].portals[j], c->portals[k]) ==
					0) {
					owner = l[g].id;
					*which = k;
					break;
				}
			}
		}
	}
	free(l);
	return owner;
}

int mgmt_tpg_create_cmd(json_t *req, json_t **res, char *err, size_t errlen)
{
	struct scsi_target *t = alua_target(req, err, errlen);
	json_t *portals = json_object_get(req, "portals"), *v;
	const char *state = json_string_value(json_object_get(req, "state"));
	struct scsi_tpg_conf *c;
	json_t *quiet = NULL;
	uint16_t owner = 0;
	size_t i;
	int rc;

	if (!t)
		return -ENOENT;
	c = calloc(1, sizeof(*c));
	if (!c)
		return alua_fail(-ENOMEM, err, errlen, "out of memory");
	if ((rc = alua_id(req, t, &c->id, err, errlen)))
		goto out;
	c->state = SCSI_ALUA_ACTIVE_OPTIMIZED;
	if (state && (rc = alua_state(state, &c->state, err, errlen)))
		goto out;
	c->pref = json_is_true(json_object_get(req, "preferred"));
	if (json_array_size(portals) > SCSI_TPG_PORTALS_MAX) {
		rc = alua_fail(-EINVAL, err, errlen,
			       "port group %u of target %s would have %zu "
			       "portals; a group has at most %d",
			       c->id, t->name, json_array_size(portals),
			       SCSI_TPG_PORTALS_MAX);
		goto out;
	}
	quiet = json_array();
	json_array_foreach(portals, i, v)
	{
		char *p = c->portals[c->nr_portals];

		if ((rc = alua_portal(json_string_value(v), p, err, errlen)))
			goto out;
		for (unsigned j = 0; j < c->nr_portals; j++) {
			if (strcmp(c->portals[j], p) == 0) {
				rc = alua_fail(-EINVAL, err, errlen,
					       "portal %s is given twice", p);
				goto out;
			}
		}
		if (!alua_listening(p))
			json_array_append_new(quiet, json_string(p));
		c->nr_portals++;
	}
	/* Name the portal that is taken, and where. */
	if ((owner = alua_owner(t, c, &i)) != 0) {
		rc = alua_portal_error(-EADDRINUSE, t, c->id, c->portals[i],
				       owner, err, errlen);
		goto out;
	}
	rc = scsi_tpg_create(t, c, &owner);
	if (rc == -EEXIST)
		rc = alua_fail(rc, err, errlen,
			       "target %s already has port group %u; delete "
			       "it first (`lunarctl tpg delete %s %u`) or pick "
			       "another id",
			       t->name, c->id, t->name, c->id);
	else if (rc == -ENOSPC)
		rc = alua_fail(rc, err, errlen,
			       "target %s has %d port groups, the most a "
			       "target has; delete one first",
			       t->name, SCSI_TPG_MAX);
	else if (rc)
		rc = alua_fail(rc, err, errlen,
			       "cannot create port group %u of target %s: %s",
			       c->id, t->name, strerror(-rc));
	if (rc == 0)
		*res =
		    json_pack("{s:i, s:s, s:b, s:o}", "id", (int)c->id, "state",
			      scsi_alua_state_name(c->state), "preferred",
			      c->pref, "not_listening", json_incref(quiet));
out:
	json_decref(quiet);
	free(c);
	return rc;
}

int mgmt_tpg_delete_cmd(json_t *req, json_t **res, char *err, size_t errlen)
{
	struct scsi_target *t = alua_target(req, err, errlen);
	struct scsi_tpg_conf l[SCSI_TPG_MAX];
	unsigned n, sessions = 0;
	uint16_t id = 0;
	int rc;

	if (!t)
		return -ENOENT;
	if ((rc = alua_id(req, t, &id, err, errlen)))
		return rc;
	rc = scsi_tpg_delete(t, id);
	if (rc == -ENOENT)
		return alua_no_group(t, id, err, errlen);
	if (rc == -EBUSY) {
		scsi_config_rdlock();
		n = scsi_tpg_conf_list_locked(t, l, SCSI_TPG_MAX);
		scsi_config_unlock();
		for (unsigned i = 0; i < n && i < SCSI_TPG_MAX; i++) {
			if (l[i].id == id)
				sessions = l[i].nr_nexus;
		}
		return alua_fail(
		    rc, err, errlen,
		    "port group %u of target %s has %u session%s "
		    "logged in through its port; close %s first "
		    "(`lunarctl session list %s`, `lunarctl "
		    "session close %s SID`), or remove its "
		    "portals so that no new ones come",
		    id, t->name, sessions, sessions == 1 ? "" : "s",
		    sessions == 1 ? "it" : "them", t->name, t->name);
	}
	if (rc)
		return alua_fail(rc, err, errlen,
				 "cannot delete port group %u of target %s: %s",
				 id, t->name, strerror(-rc));
	return 0;
}

int mgmt_tpg_set_cmd(json_t *req, json_t **res, char *err, size_t errlen)
{
	struct scsi_target *t = alua_target(req, err, errlen);
	const char *s = json_string_value(json_object_get(req, "state"));
	json_t *p = json_object_get(req, "preferred");
	enum scsi_alua_state st;
	bool pref = json_is_true(p);
	uint16_t id = 0;
	int rc;

	if (!t)
		return -ENOENT;
	if ((rc = alua_id(req, t, &id, err, errlen)))
		return rc;
	if (!s && !p)
		return alua_fail(-EINVAL, err, errlen,
				 "tpg.set of port group %u of target %s needs "
				 "a state or preferred (or both)",
				 id, t->name);
	if (s && (rc = alua_state(s, &st, err, errlen)))
		return rc;
	rc = scsi_tpg_set(t, id, s ? &st : NULL, p ? &pref : NULL);
	if (rc == -ENOENT)
		return alua_no_group(t, id, err, errlen);
	if (rc)
		return alua_fail(rc, err, errlen,
				 "cannot change port group %u of target %s: %s",
				 id, t->name, strerror(-rc));
	/* What the group is now, for the admin's confirmation. */
	struct scsi_tpg_conf l[SCSI_TPG_MAX];
	unsigned n;

	scsi_config_rdlock();
	n = scsi_tpg_conf_list_locked(t, l, SCSI_TPG_MAX);
	scsi_config_unlock();
	for (unsigned i = 0; i < n && i < SCSI_TPG_MAX; i++) {
		if (l[i].id == id)
			*res =
			    json_pack("{s:i, s:s, s:b}", "id", (int)id, "state",
				      scsi_alua_state_name(l[i].state),
				      "preferred", l[i].pref);
	}
	return 0;
}

static int alua_portal_cmd(json_t *req, json_t **res, char *err, size_t errlen,
			   bool add)
{
	struct scsi_target *t = alua_target(req, err, errlen);
	const char *in = json_string_value(json_object_get(req, "portal"));
	char norm[SCSI_PORTAL_MAX];
	uint16_t id = 0, owner = 0;
	int rc;

	if (!t)
		return -ENOENT;
	if ((rc = alua_id(req, t, &id, err, errlen)) ||
	    (rc = alua_portal(in ? in : "", norm, err, errlen)))
		return rc;
	rc = add ? scsi_tpg_portal_add(t, id, norm, &owner)
		 : scsi_tpg_portal_remove(t, id, norm);
	if (rc == 0) {
		if (add)
			*res = json_pack("{s:b}", "listening",
					 alua_listening(norm));
		return 0;
	}
	if (rc == -EEXIST)
		return alua_fail(rc, err, errlen,
				 "portal %s is already in port group %u of "
				 "target %s",
				 norm, id, t->name);
	if (rc == -ENOENT) {
		struct scsi_tpg_conf l[SCSI_TPG_MAX];
		unsigned n;
		bool group = false;

		scsi_config_rdlock();
		n = scsi_tpg_conf_list_locked(t, l, SCSI_TPG_MAX);
		scsi_config_unlock();
		for (unsigned i = 0; i < n && i < SCSI_TPG_MAX; i++)
			group = group || l[i].id == id;
		if (!group)
			return alua_no_group(t, id, err, errlen);
		return alua_fail(rc, err, errlen,
				 "portal %s is not in port group %u of target "
				 "%s; `lunarctl tpg list %s` shows its portals",
				 norm, id, t->name, t->name);
	}
	return alua_portal_error(rc, t, id, norm, owner, err, errlen);
}

int mgmt_tpg_add_portal_cmd(json_t *req, json_t **res, char *err, size_t errlen)
{
	return alua_portal_cmd(req, res, err, errlen, true);
}

int mgmt_tpg_remove_portal_cmd(json_t *req, json_t **res, char *err,
			       size_t errlen)
{
	return alua_portal_cmd(req, res, err, errlen, false);
}

int mgmt_tpg_list_cmd(json_t *req, json_t **res, char *err, size_t errlen)
{
	struct scsi_target *t = alua_target(req, err, errlen);
	struct scsi_tpg_conf *l;
	json_t *arr;
	unsigned n;

	if (!t)
		return -ENOENT;
	l = calloc(SCSI_TPG_MAX, sizeof(*l));
	if (!l)
		return alua_fail(-ENOMEM, err, errlen, "out of memory");
	scsi_config_rdlock();
	n = scsi_tpg_conf_list_locked(t, l, SCSI_TPG_MAX);
	scsi_config_unlock();
	arr = json_array();
	for (unsigned i = 0; arr && i < n && i < SCSI_TPG_MAX; i++)
		json_array_append_new(arr,
				      alua_conf_json(&l[i], MGMT_CFG_LIVE));
	free(l);
	if (!arr)
		return alua_fail(-ENOMEM, err, errlen, "out of memory");
	*res = arr;
	return 0;
}

/* ---- the config file ------------------------------------------------ */

__attribute__((format(printf, 6, 7))) static int
alua_cfg_fail(char *err, size_t errlen, const char *src, const char *path,
	      int rc, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "config %s: %s: %s", src, path, msg);
	return rc;
}

static int alua_cfg_group(json_t *o, const char *src, const char *path,
			  struct scsi_tpg_conf *c, char *err, size_t errlen)
{
	static const char *const keys[] = {"id", "state", "preferred",
					   "portals", NULL};
	json_t *v, *portals;
	const char *key;
	char p[640], why[320];
	size_t i;

	if (!json_is_object(o))
		return alua_cfg_fail(err, errlen, src, path, -EINVAL,
				     "expected an object, got %s",
				     mgmt_json_type_name(o));
	json_object_foreach(o, key, v)
	{
		bool known = false;

		for (const char *const *k = keys; *k; k++)
			known = known || strcmp(*k, key) == 0;
		if (!known) {
			snprintf(p, sizeof(p), "%s.%s", path, key);
			return alua_cfg_fail(err, errlen, src, p, -EINVAL,
					     "unknown field; the fields here "
					     "are id, state, preferred, "
					     "portals");
		}
	}
	snprintf(p, sizeof(p), "%s.id", path);
	v = json_object_get(o, "id");
	if (!v)
		return alua_cfg_fail(err, errlen, src, p, -EINVAL,
				     "missing; this field is required");
	if (!json_is_integer(v))
		return alua_cfg_fail(err, errlen, src, p, -EINVAL,
				     "expected an integer, got %s",
				     mgmt_json_type_name(v));
	if (json_integer_value(v) < 1 ||
	    json_integer_value(v) > SCSI_TPG_ID_MAX)
		return alua_cfg_fail(
		    err, errlen, src, p, -EINVAL, "%lld is out of range 1..%d",
		    (long long)json_integer_value(v), SCSI_TPG_ID_MAX);
	c->id = (uint16_t)json_integer_value(v);
	c->state = SCSI_ALUA_ACTIVE_OPTIMIZED;
	snprintf(p, sizeof(p), "%s.state", path);
	if ((v = json_object_get(o, "state"))) {
		if (!json_is_string(v))
			return alua_cfg_fail(err, errlen, src, p, -EINVAL,
					     "expected a string, got %s",
					     mgmt_json_type_name(v));
		if (alua_state(json_string_value(v), &c->state, why,
			       sizeof(why)))
			return alua_cfg_fail(err, errlen, src, p, -EINVAL, "%s",
					     why);
	}
	snprintf(p, sizeof(p), "%s.preferred", path);
	if ((v = json_object_get(o, "preferred"))) {
		if (!json_is_boolean(v))
			return alua_cfg_fail(err, errlen, src, p, -EINVAL,
					     "expected a boolean, got %s",
					     mgmt_json_type_name(v));
		c->pref = json_is_true(v);
	}
	snprintf(p, sizeof(p), "%s.portals", path);
	portals = json_object_get(o, "portals");
	if (portals && !json_is_array(portals))
		return alua_cfg_fail(err, errlen, src, p, -EINVAL,
				     "expected an array, got %s",
				     mgmt_json_type_name(portals));
	if (json_array_size(portals) > SCSI_TPG_PORTALS_MAX)
		return alua_cfg_fail(err, errlen, src, p, -EINVAL,
				     "%zu portals; a port group has at most %d",
				     json_array_size(portals),
				     SCSI_TPG_PORTALS_MAX);
	json_array_foreach(portals, i, v)
	{
		char *norm = c->portals[c->nr_portals];

		snprintf(p, sizeof(p), "%s.portals[%zu]", path, i);
		if (!json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return alua_cfg_fail(err, errlen, src, p, -EINVAL,
					     "expected a string, got %s",
					     mgmt_json_type_name(v));
		if (scsi_portal_check(json_string_value(v), norm,
				      SCSI_PORTAL_MAX, why, sizeof(why)))
			return alua_cfg_fail(err, errlen, src, p, -EINVAL, "%s",
					     why);
		for (unsigned j = 0; j < c->nr_portals; j++) {
			if (strcmp(c->portals[j], norm) == 0)
				return alua_cfg_fail(
				    err, errlen, src, p, -EINVAL,
				    "'%s' is listed twice", norm);
		}
		c->nr_portals++;
	}
	return 0;
}

int mgmt_cfg_tpgs_from_json(json_t *target, const char *src, const char *path,
			    struct mgmt_cfg_target *t, char *err, size_t errlen)
{
	json_t *arr = json_object_get(target, "port_groups"), *v;
	char p[560];
	size_t i;
	int rc;

	if (!arr)
		return 0;
	snprintf(p, sizeof(p), "%s.port_groups", path);
	if (!json_is_array(arr))
		return alua_cfg_fail(err, errlen, src, p, -EINVAL,
				     "expected an array, got %s",
				     mgmt_json_type_name(arr));
	if (json_array_size(arr) > SCSI_TPG_MAX)
		return alua_cfg_fail(err, errlen, src, p, -EINVAL,
				     "%zu port groups; a target has at most %d",
				     json_array_size(arr), SCSI_TPG_MAX);
	if (json_array_size(arr) == 0)
		return 0;
	t->tpgs = calloc(json_array_size(arr), sizeof(*t->tpgs));
	if (!t->tpgs)
		return -ENOMEM;
	json_array_foreach(arr, i, v)
	{
		struct scsi_tpg_conf *c = &t->tpgs[i];

		snprintf(p, sizeof(p), "%s.port_groups[%zu]", path, i);
		t->nr_tpgs = i + 1;
		if ((rc = alua_cfg_group(v, src, p, c, err, errlen)))
			return rc;
		/* A group once, a portal in one group. */
		for (size_t j = 0; j < i; j++) {
			if (t->tpgs[j].id == c->id)
				return alua_cfg_fail(
				    err, errlen, src, p, -EINVAL,
				    "port group %u is defined twice in this "
				    "target",
				    c->id);
			for (unsigned k = 0; k < c->nr_portals; k++) {
				for (unsigned m = 0; m < t->tpgs[j].nr_portals;
				     m++) {
					if (strcmp(c->portals[k],
						   t->tpgs[j].portals[m]))
						continue;
					return alua_cfg_fail(
					    err, errlen, src, p, -EINVAL,
					    "portal %s is in port groups %u "
					    "and %u; a portal belongs to one "
					    "group",
					    c->portals[k], t->tpgs[j].id,
					    c->id);
				}
			}
		}
	}
	return 0;
}

void mgmt_cfg_tpgs_to_json(const struct mgmt_cfg_target *t, unsigned flags,
			   json_t *obj)
{
	json_t *arr;

	/* Absent rather than empty: configs without ALUA stay unchanged. */
	if (!obj || t->nr_tpgs == 0)
		return;
	arr = json_array();
	for (size_t i = 0; arr && i < t->nr_tpgs; i++)
		json_array_append_new(arr, alua_conf_json(&t->tpgs[i], flags));
	json_object_set_new(obj, "port_groups", arr);
}

int mgmt_cfg_tpgs_snapshot(const struct scsi_target *st,
			   struct mgmt_cfg_target *t)
{
	struct scsi_tpg_conf *l = calloc(SCSI_TPG_MAX, sizeof(*l));
	unsigned n;

	if (!l)
		return -ENOMEM;
	n = scsi_tpg_conf_list_locked(st, l, SCSI_TPG_MAX);
	if (n == 0) {
		free(l);
		return 0;
	}
	t->tpgs = l;
	t->nr_tpgs = n < SCSI_TPG_MAX ? n : SCSI_TPG_MAX;
	return 0;
}

int mgmt_cfg_tpg_apply(struct scsi_target *t, const struct scsi_tpg_conf *c,
		       char *msg, size_t msglen)
{
	struct scsi_tpg_conf l[SCSI_TPG_MAX];
	uint16_t owner = 0;
	unsigned n;
	int rc;

	/* A group that exists is left as it is, like every object. */
	scsi_config_rdlock();
	n = scsi_tpg_conf_list_locked(t, l, SCSI_TPG_MAX);
	scsi_config_unlock();
	for (unsigned i = 0; i < n && i < SCSI_TPG_MAX; i++) {
		if (l[i].id == c->id)
			return 0;
	}
	rc = scsi_tpg_create(t, c, &owner);
	if (rc == -EADDRINUSE)
		return alua_fail(rc, msg, msglen,
				 "port group %u: a portal of it is already in "
				 "port group %u",
				 c->id, owner);
	if (rc == -ENOSPC)
		return alua_fail(rc, msg, msglen,
				 "port group %u: the target has %d groups "
				 "already",
				 c->id, SCSI_TPG_MAX);
	if (rc)
		return alua_fail(rc, msg, msglen, "port group %u: %s", c->id,
				 strerror(-rc));
	return 0;
}
