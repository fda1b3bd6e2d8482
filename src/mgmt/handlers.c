/*
 * The control protocol's commands (docs/control-protocol.md): one table
 * maps each command name to its handler and its argument schema, and the
 * dispatcher checks every request against the schema (unknown, missing
 * and mistyped arguments) before a handler runs. Handlers turn the object
 * model's errnos into messages that name the object and the fix.
 */
#include "mgmt/mgmt_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bs/bs.h"
#include "iscsi/iscsi.h"
#include "iscsi/isns.h"
#include "scsi/device.h"
#include "scsi/pr.h"
#include "scsi/tpg.h"

#define MGMT_ERR_MAX 1024

enum mgmt_arg_type {
	MGMT_ARG_STR,
	MGMT_ARG_INT,
	MGMT_ARG_BOOL,
	MGMT_ARG_ID,   /* a non-negative integer, or one written as a string */
	MGMT_ARG_STRS, /* an array of strings */
};

struct mgmt_arg {
	const char *name;
	enum mgmt_arg_type type;
	bool required;
};

typedef int (*mgmt_handler_fn)(json_t *req, json_t **result, char *err,
			       size_t errlen);

struct mgmt_cmd {
	const char *name;
	mgmt_handler_fn fn;
	struct mgmt_arg args[16];
};

__attribute__((format(printf, 4, 5))) static int
mgmt_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static const char *mgmt_str(json_t *req, const char *key, const char *dflt)
{
	json_t *v = json_object_get(req, key);
	return v ? json_string_value(v) : dflt;
}

static bool mgmt_bool(json_t *req, const char *key)
{
	return json_is_true(json_object_get(req, key));
}

static json_t *mgmt_u64_json(uint64_t v)
{
	/* JSON integers here are signed 64-bit; larger ids go as strings. */
	if (v <= INT64_MAX)
		return json_integer((json_int_t)v);
	char buf[24];
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return json_string(buf);
}

static int mgmt_id(json_t *req, const char *key, uint64_t *out, char *err,
		   size_t errlen)
{
	json_t *v = json_object_get(req, key);
	const char *s;
	char *end;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return mgmt_fail(-EINVAL, err, errlen,
					 "%s %lld is negative", key,
					 (long long)json_integer_value(v));
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	s = json_string_value(v);
	errno = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		*out = strtoull(s + 2, &end, 16);
	else
		*out = strtoull(s, &end, 10);
	if (!s[0] || *end || errno || s[0] == '-')
		return mgmt_fail(-EINVAL, err, errlen,
				 "%s '%s' is not a number; `lunarctl session "
				 "list` shows the session ids",
				 key, s);
	return 0;
}

/* ---- lookups shared by handlers ------------------------------------ */

static struct scsi_target *mgmt_target(json_t *req, const char *key, char *err,
				       size_t errlen)
{
	const char *name = mgmt_str(req, key, "");
	struct scsi_target *t;

	scsi_config_rdlock();
	t = scsi_target_find(name);
	scsi_config_unlock();
	/* The pointer stays valid: only this (main) thread deletes. */
	if (!t)
		mgmt_fail(-ENOENT, err, errlen,
			  "no target %s; create it with `lunarctl target "
			  "create %s`, or see `lunarctl target list`",
			  name, name);
	return t;
}

static bool mgmt_has_portal(struct scsi_target *t, const char *norm)
{
	struct scsi_portal_ref *p;
	bool has = false;

	scsi_config_rdlock();
	list_for_each_entry (p, &t->portals, link)
		has = has || strcmp(p->addr, norm) == 0;
	scsi_config_unlock();
	return has;
}

int mgmt_portal_add(struct scsi_target *t, const char *addr, char *err,
		    size_t errlen)
{
	char norm[SCSI_PORTAL_MAX], why[320];
	int rc;

	rc = scsi_portal_check(addr, norm, sizeof(norm), why, sizeof(why));
	if (rc)
		return mgmt_fail(rc, err, errlen, "%s", why);
	if (mgmt_has_portal(t, norm))
		return mgmt_fail(-EEXIST, err, errlen,
				 "target %s is already on portal %s", t->name,
				 norm);
	err[0] = '\0';
	rc = iscsi_portal_listen(norm, err, errlen);
	if (rc) {
		if (!err[0])
			mgmt_fail(rc, err, errlen,
				  "cannot listen on portal %s: %s", norm,
				  strerror(-rc));
		return rc;
	}
	rc = scsi_portal_ref_add(t, norm);
	if (rc) {
		iscsi_portal_unlisten(norm);
		return mgmt_fail(rc, err, errlen,
				 "cannot add portal %s to target %s: %s", norm,
				 t->name, strerror(-rc));
	}
	return 0;
}

/* Sessions as the protocol shows them: one object per session with its
 * connections (iscsi_session_list returns one row per connection). */
static int mgmt_sessions_json(const char *target, json_t **out, char *err,
			      size_t errlen)
{
	struct iscsi_session_info *info = NULL;
	size_t n = 0;
	json_t *arr;
	int rc;

	rc = iscsi_session_list(target, &info, &n);
	if (rc < 0)
		return mgmt_fail(rc, err, errlen, "cannot list sessions: %s",
				 strerror(-rc));
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		const struct iscsi_session_info *s = &info[i];
		json_t *sess = NULL, *conns;
		size_t j;

		for (j = 0; j < i; j++) {
			if (info[j].sid == s->sid &&
			    strcmp(info[j].target, s->target) == 0)
				break;
		}
		if (j < i) {
			/* Same session as an earlier row: find its object. */
			json_t *o;
			size_t k;
			json_array_foreach(arr, k, o)
			{
				json_t *sid = mgmt_u64_json(s->sid);
				bool same =
				    json_equal(json_object_get(o, "sid"),
					       sid) &&
				    strcmp(json_string_value(
					       json_object_get(o, "target")),
					   s->target) == 0;
				json_decref(sid);
				if (same) {
					sess = o;
					break;
				}
			}
		}
		if (!sess) {
			sess = json_pack(
			    "{s:o, s:i, s:s, s:s, s:s, s:s, s:b, s:[]}", "sid",
			    mgmt_u64_json(s->sid), "tsih", (int)s->tsih, "isid",
			    s->isid, "target", s->target, "initiator",
			    s->initiator, "alias", s->initiator_alias,
			    "discovery", s->discovery, "connections");
			if (!sess)
				continue;
			json_array_append_new(arr, sess);
		}
		conns = json_object_get(sess, "connections");
		json_array_append_new(
		    conns,
		    json_pack("{s:i, s:s, s:s, s:b, s:b, s:I, s:I, s:I}", "cid",
			      (int)s->cid, "peer", s->peer, "local", s->local,
			      "header_digest", s->header_digest, "data_digest",
			      s->data_digest, "max_recv_dsl",
			      (json_int_t)s->max_recv_dsl, "max_xmit_dsl",
			      (json_int_t)s->max_xmit_dsl, "cmds",
			      (json_int_t)s->cmds));
	}
	free(info);
	if (!arr)
		return mgmt_fail(-ENOMEM, err, errlen, "out of memory");
	*out = arr;
	return 0;
}

/* ---- targets ------------------------------------------------------- */

static int mgmt_target_create(json_t *req, json_t **res, char *err,
			      size_t errlen)
{
	const char *name = mgmt_str(req, "name", "");
	const char *alias = mgmt_str(req, "alias", "");
	char norm[SCSI_NAME_MAX], why[320];
	struct scsi_target *t;
	int rc;

	rc = scsi_name_check(name, norm, sizeof(norm), why, sizeof(why));
	if (rc)
		return mgmt_fail(rc, err, errlen, "%s", why);
	if (strlen(alias) >= SCSI_NAME_MAX)
		return mgmt_fail(-EINVAL, err, errlen,
				 "alias of target %s is %zu bytes; at most %d",
				 norm, strlen(alias), SCSI_NAME_MAX - 1);
	for (const char *p = alias; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return mgmt_fail(-EINVAL, err, errlen,
					 "alias of target %s has a control "
					 "character; use printable text",
					 norm);
	}
	rc = scsi_target_create(norm, alias, &t);
	if (rc == -EEXIST)
		return mgmt_fail(rc, err, errlen,
				 "target %s already exists; delete it first or "
				 "pick another name",
				 norm);
	if (rc)
		return mgmt_fail(rc, err, errlen, "cannot create target %s: %s",
				 norm, strerror(-rc));
	*res = json_pack("{s:i}", "tid", (int)t->tid);
	return 0;
}

static int mgmt_target_delete(json_t *req, json_t **res, char *err,
			      size_t errlen)
{
	struct scsi_target *t = mgmt_target(req, "name", err, errlen);
	char name[SCSI_NAME_MAX];
	char(*portals)[SCSI_PORTAL_MAX] = NULL;
	struct scsi_portal_ref *p;
	size_t n = 0, i = 0;
	int rc, sessions;

	if (!t)
		return -ENOENT;
	memcpy(name, t->name, sizeof(name));
	scsi_config_rdlock();
	list_for_each_entry (p, &t->portals, link)
		n++;
	portals = n ? calloc(n, sizeof(*portals)) : NULL;
	if (portals) {
		list_for_each_entry (p, &t->portals, link)
			memcpy(portals[i++], p->addr, SCSI_PORTAL_MAX);
	}
	sessions = atomic_load(&t->nr_sessions);
	scsi_config_unlock();
	if (n && !portals)
		return mgmt_fail(-ENOMEM, err, errlen, "out of memory");
	if (mgmt_bool(req, "force")) {
		iscsi_session_close_target(name);
		rc = scsi_target_delete_force(name);
	} else {
		rc = scsi_target_delete(name);
	}
	if (rc == -EBUSY) {
		free(portals);
		return mgmt_fail(
		    rc, err, errlen,
		    "target %s has %d session%s logged in; log "
		    "the initiators out, or delete it with --force "
		    "to close them",
		    name, sessions, sessions == 1 ? "" : "s");
	}
	if (rc) {
		free(portals);
		return mgmt_fail(rc, err, errlen, "cannot delete target %s: %s",
				 name, strerror(-rc));
	}
	/* The target's portal references held listens of their own. */
	for (i = 0; i < n; i++)
		iscsi_portal_unlisten(portals[i]);
	free(portals);
	return 0;
}

static int mgmt_target_list(json_t *req, json_t **res, char *err, size_t errlen)
{
	json_t *arr = json_array();
	struct scsi_target *t;

	scsi_config_rdlock();
	list_for_each_entry (t, scsi_target_list(), link) {
		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:i, s:s, s:i, s:i}", "name", t->name,
			      "tid", (int)t->tid, "alias", t->alias, "luns",
			      t->lun_map ? (int)t->lun_map->count : 0,
			      "sessions", atomic_load(&t->nr_sessions)));
	}
	scsi_config_unlock();
	*res = arr;
	return arr ? 0 : -ENOMEM;
}

/* The configuration as displays show it: no passwords, LUNs as they are,
 * each target with its tid. */
static int mgmt_config_live_json(json_t **out, char *err, size_t errlen)
{
	struct mgmt_config *c;
	json_t *root, *targets;
	int rc;

	rc = mgmt_config_snapshot(&c);
	if (rc)
		return mgmt_fail(rc, err, errlen, "out of memory");
	root = mgmt_config_to_json(c, MGMT_CFG_LIVE);
	targets = json_object_get(root, "targets");
	for (size_t i = 0; targets && i < c->nr_targets; i++)
		json_object_set_new(json_array_get(targets, i), "tid",
				    json_integer(c->targets[i].tid));
	mgmt_config_free(c);
	if (!root)
		return mgmt_fail(-ENOMEM, err, errlen, "out of memory");
	*out = root;
	return 0;
}

static int mgmt_target_show(json_t *req, json_t **res, char *err, size_t errlen)
{
	const char *name = mgmt_str(req, "name", "");
	struct mgmt_config *c;
	json_t *o = NULL, *sessions;
	int rc;

	rc = mgmt_config_snapshot(&c);
	if (rc)
		return mgmt_fail(rc, err, errlen, "out of memory");
	for (size_t i = 0; i < c->nr_targets; i++) {
		if (strcasecmp(c->targets[i].name, name) == 0) {
			o = mgmt_cfg_target_to_json(&c->targets[i],
						    MGMT_CFG_LIVE);
			json_object_set_new(o, "tid",
					    json_integer(c->targets[i].tid));
			break;
		}
	}
	mgmt_config_free(c);
	if (!o)
		return mgmt_fail(-ENOENT, err, errlen,
				 "no target %s; `lunarctl target list` shows "
				 "the targets",
				 name);
	rc = mgmt_sessions_json(json_string_value(json_object_get(o, "name")),
				&sessions, err, errlen);
	if (rc) {
		json_decref(o);
		return rc;
	}
	json_object_set_new(o, "sessions", sessions);
	*res = o;
	return 0;
}

/* ---- LUNs ---------------------------------------------------------- */

static int mgmt_lun_arg(json_t *req, uint64_t *lun, char *err, size_t errlen)
{
	json_int_t v = json_integer_value(json_object_get(req, "lun"));

	if (v < 0 || v > SCSI_MAX_LUN)
		return mgmt_fail(-EINVAL, err, errlen,
				 "LUN %lld is out of range; use 0..%d",
				 (long long)v, SCSI_MAX_LUN);
	*lun = (uint64_t)v;
	return 0;
}

static int mgmt_lun_create(json_t *req, json_t **res, char *err, size_t errlen)
{
	struct scsi_target *t = mgmt_target(req, "target", err, errlen);
	struct scsi_lu_params *p;
	const char *backing = mgmt_str(req, "backing", "");
	/* No bstype: the default file store, buffered unless asked. */
	bool default_store = !json_object_get(req, "bstype");
	const char *bstype = default_store ? bs_default_file_store()
					   : mgmt_str(req, "bstype", "");
	const char *serial = mgmt_str(req, "serial", "");
	const char *bsopts = mgmt_str(req, "bsopts", "");
	json_t *v;
	uint64_t lun = 0, size = 0;
	struct scsi_lu *lu;
	int rc;

	if (!t)
		return -ENOENT;
	if ((rc = mgmt_lun_arg(req, &lun, err, errlen)))
		return rc;
	/* Empty: a drive without a medium, if the type has such (its
	 * check comes with scsi_lu_create's). */
	if (strlen(backing) >= sizeof(p->backing))
		return mgmt_fail(-EINVAL, err, errlen,
				 "backing path must be at most %zu bytes",
				 sizeof(p->backing) - 1);
	if ((v = json_object_get(req, "size"))) {
		if (json_integer_value(v) < 0)
			return mgmt_fail(-EINVAL, err, errlen,
					 "size %lld is negative",
					 (long long)json_integer_value(v));
		size = (uint64_t)json_integer_value(v);
	}
	/* 0: the device type's default; the type checks the rest. */
	json_int_t bsz = 0;
	if ((v = json_object_get(req, "block_size")))
		bsz = json_integer_value(v);
	if (bsz < 0 || bsz > UINT32_MAX)
		return mgmt_fail(-EINVAL, err, errlen,
				 "block size %lld is out of range",
				 (long long)bsz);
	const char *dtype = mgmt_str(req, "type", "");
	if (strlen(dtype) >= sizeof(p->dtype) ||
	    !scsi_device_type_find(dtype)) {
		char names[128];
		scsi_device_type_names(names, sizeof(names));
		return mgmt_fail(-EINVAL, err, errlen,
				 "device type '%s' is unknown; this lunard "
				 "has: %s",
				 dtype, names);
	}
	if (!backing[0] && !scsi_device_type_find(dtype)->medium_optional)
		return mgmt_fail(-EINVAL, err, errlen,
				 "a %s needs a medium: give the backing path "
				 "(--backing PATH)",
				 scsi_device_type_find(dtype)->name);
	json_int_t pbsz = 0;
	if ((v = json_object_get(req, "physical_block_size")))
		pbsz = json_integer_value(v);
	if (pbsz < 0 || pbsz > UINT32_MAX)
		return mgmt_fail(-EINVAL, err, errlen,
				 "physical block size %lld is out of range; "
				 "use a power-of-two multiple of the block "
				 "size, for example 4096",
				 (long long)pbsz);
	if (strlen(serial) >= sizeof(p->serial))
		return mgmt_fail(-EINVAL, err, errlen,
				 "serial '%s' is longer than %zu characters",
				 serial, sizeof(p->serial) - 1);
	for (const char *s = serial; *s; s++) {
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return mgmt_fail(-EINVAL, err, errlen,
					 "serial '%s' must be printable ASCII "
					 "without spaces",
					 serial);
	}
	{
		/* The device type's rules on its parameters first: a disk
		 * says which block sizes it takes whatever the store. */
		static struct scsi_lu_params tp; /* main thread; 5 KiB */

		memset(&tp, 0, sizeof(tp));
		snprintf(tp.dtype, sizeof(tp.dtype), "%s", dtype);
		tp.block_size = (uint32_t)bsz;
		tp.physical_block_size = (uint32_t)pbsz;
		tp.thin = mgmt_bool(req, "thin");
		if ((rc = scsi_lu_check_type_params(&tp, bs_find(bstype), err,
						    errlen)) < 0)
			return rc;
	}
	if (!bstype[0] || strlen(bstype) >= sizeof(p->bstype) ||
	    !bs_find(bstype)) {
		char names[256];
		bs_names(names, sizeof(names));
		return mgmt_fail(-EINVAL, err, errlen,
				 "unknown backing store type '%s'; this lunard "
				 "has: %s",
				 bstype, names);
	}
	if (strlen(bsopts) >= sizeof(p->bsopts))
		return mgmt_fail(-EINVAL, err, errlen,
				 "backing store options are %zu bytes, more "
				 "than %zu",
				 strlen(bsopts), sizeof(p->bsopts) - 1);
	scsi_config_rdlock();
	bool exists = scsi_lun_map_find(t->lun_map, lun) != NULL;
	scsi_config_unlock();
	if (exists)
		return mgmt_fail(-EEXIST, err, errlen,
				 "target %s already has LUN %llu; delete it "
				 "first or pick another LUN",
				 t->name, (unsigned long long)lun);

	p = calloc(1, sizeof(*p));
	if (!p)
		return mgmt_fail(-ENOMEM, err, errlen, "out of memory");
	snprintf(p->dtype, sizeof(p->dtype), "%s", dtype);
	snprintf(p->backing, sizeof(p->backing), "%s", backing);
	snprintf(p->bstype, sizeof(p->bstype), "%s", bstype);
	snprintf(p->serial, sizeof(p->serial), "%s", serial);
	snprintf(p->bsopts, sizeof(p->bsopts), "%s", bsopts);
	p->size = size;
	p->block_size = (uint32_t)bsz;
	p->readonly = mgmt_bool(req, "readonly");
	/* Absent: the store's own default (O_DIRECT for aio and uring),
	 * but page-cache I/O as ever for a LU that names no store. */
	p->direct = json_object_get(req, "direct")
			? mgmt_bool(req, "direct")
			: !default_store && bs_find(bstype)->direct_default;
	p->thin = mgmt_bool(req, "thin");
	p->physical_block_size = (uint32_t)pbsz;
	p->removable = mgmt_bool(req, "removable");
	err[0] = '\0';
	rc = scsi_lu_create(t, lun, p, err, errlen);
	free(p);
	if (rc) {
		if (rc == -EEXIST && !err[0])
			mgmt_fail(rc, err, errlen,
				  "target %s already has LUN %llu; delete it "
				  "first or pick another LUN",
				  t->name, (unsigned long long)lun);
		else if (!err[0])
			mgmt_fail(rc, err, errlen,
				  "cannot create LUN %llu of target %s on %s: "
				  "%s",
				  (unsigned long long)lun, t->name, backing,
				  strerror(-rc));
		return rc;
	}
	scsi_config_rdlock();
	lu = scsi_lun_map_find(t->lun_map, lun);
	size = lu ? atomic_load(&lu->nr_blocks) * lu->block_size : 0;
	scsi_config_unlock();
	*res = json_pack("{s:I, s:I}", "lun", (json_int_t)lun, "size",
			 (json_int_t)size);
	return 0;
}

/*
 * lun.activate: this gateway's port group `group` takes the LU's shared
 * medium over (ALUA across gateways, pr.h), as a SET TARGET PORT GROUPS
 * through its port would; waits until every gateway knows.
 */
static int mgmt_lun_activate(json_t *req, json_t **res, char *err,
			     size_t errlen)
{
	struct scsi_target *t = mgmt_target(req, "target", err, errlen);
	json_int_t group = json_integer_value(json_object_get(req, "group"));
	struct scsi_lu *lu;
	uint64_t lun = 0;
	int rc;

	if (!t)
		return -ENOENT;
	if ((rc = mgmt_lun_arg(req, &lun, err, errlen)))
		return rc;
	if (group < 1 || group > SCSI_TPG_ID_MAX)
		return mgmt_fail(-EINVAL, err, errlen,
				 "port group %lld is out of range; use 1..%d",
				 (long long)group, SCSI_TPG_ID_MAX);
	scsi_config_rdlock();
	lu = scsi_lun_map_find(t->lun_map, lun);
	if (lu)
		scsi_lu_get(lu);
	scsi_config_unlock();
	if (!lu)
		return mgmt_fail(-ENOENT, err, errlen,
				 "target %s has no LUN %llu; `lunarctl target "
				 "show %s` lists its LUNs",
				 t->name, (unsigned long long)lun, t->name);
	if (!scsi_lu_alua_shared(lu)) {
		scsi_lu_put(lu);
		return mgmt_fail(-EINVAL, err, errlen,
				 "LUN %llu of %s is not served by several "
				 "gateways: it needs a shared backing store "
				 "(--bstype rbd) and configured port groups "
				 "(lunarctl tpg create)",
				 (unsigned long long)lun, t->name);
	}
	err[0] = '\0';
	rc = scsi_lu_alua_activate_wait(lu, (uint16_t)group, err, errlen);
	scsi_lu_put(lu);
	if (rc)
		return mgmt_fail(rc, err, errlen,
				 "port group %lld cannot take LUN %llu of %s "
				 "over: %s",
				 (long long)group, (unsigned long long)lun,
				 t->name, err[0] ? err : strerror(-rc));
	*res = json_pack("{s:I, s:I}", "lun", (json_int_t)lun, "group",
			 (json_int_t)group);
	return 0;
}

/* LUN lun of t with the config read lock held (the main thread is the only
 * one that changes the map, so the LU stays while it is); NULL, unlocked,
 * with the message in err if t has no such LUN. */
static struct scsi_lu *mgmt_lu_rdlock(struct scsi_target *t, uint64_t lun,
				      char *err, size_t errlen)
{
	struct scsi_lu *lu;

	scsi_config_rdlock();
	lu = scsi_lun_map_find(t->lun_map, lun);
	if (!lu) {
		scsi_config_unlock();
		mgmt_fail(-ENOENT, err, errlen,
			  "target %s has no LUN %llu; `lunarctl target show "
			  "%s` lists its LUNs",
			  t->name, (unsigned long long)lun, t->name);
	}
	return lu;
}

static int mgmt_lun_resize(json_t *req, json_t **res, char *err, size_t errlen)
{
	struct scsi_target *t = mgmt_target(req, "target", err, errlen);
	json_int_t size = json_integer_value(json_object_get(req, "size"));
	struct scsi_lu *lu;
	uint64_t lun = 0, now = 0;
	int rc;

	if (!t)
		return -ENOENT;
	if ((rc = mgmt_lun_arg(req, &lun, err, errlen)))
		return rc;
	if (size < 0)
		return mgmt_fail(-EINVAL, err, errlen, "size %lld is negative",
				 (long long)size);
	if (!(lu = mgmt_lu_rdlock(t, lun, err, errlen)))
		return -ENOENT;
	err[0] = '\0';
	rc = scsi_lu_resize(lu, (uint64_t)size, mgmt_bool(req, "shrink"), err,
			    errlen);
	now = atomic_load(&lu->nr_blocks) << lu->block_shift;
	scsi_config_unlock();
	if (rc)
		return err[0] ? rc
			      : mgmt_fail(rc, err, errlen,
					  "cannot resize LUN %llu of %s: %s",
					  (unsigned long long)lun, t->name,
					  strerror(-rc));
	*res = json_pack("{s:I, s:I}", "lun", (json_int_t)lun, "size",
			 (json_int_t)now);
	return 0;
}

/* lun.eject and lun.load: the medium of a LU whose device type has one
 * the admin changes (a cd). */
static int mgmt_lun_medium(json_t *req, json_t **res, char *err, size_t errlen,
			   bool load)
{
	struct scsi_target *t = mgmt_target(req, "target", err, errlen);
	const char *backing = mgmt_str(req, "backing", "");
	struct scsi_lu *lu;
	uint64_t lun = 0, now;
	int rc;

	if (!t)
		return -ENOENT;
	if ((rc = mgmt_lun_arg(req, &lun, err, errlen)))
		return rc;
	if (!(lu = mgmt_lu_rdlock(t, lun, err, errlen)))
		return -ENOENT;
	err[0] = '\0';
	rc = load ? scsi_lu_load(lu, backing[0] ? backing : NULL, err, errlen)
		  : scsi_lu_eject(lu, mgmt_bool(req, "force"), err, errlen);
	now = atomic_load(&lu->nr_blocks) << lu->block_shift;
	scsi_config_unlock();
	if (rc)
		return rc;
	*res = json_pack("{s:I, s:I}", "lun", (json_int_t)lun, "size",
			 (json_int_t)now);
	return 0;
}

static int mgmt_lun_eject(json_t *req, json_t **res, char *err, size_t errlen)
{
	return mgmt_lun_medium(req, res, err, errlen, false);
}

static int mgmt_lun_load(json_t *req, json_t **res, char *err, size_t errlen)
{
	return mgmt_lun_medium(req, res, err, errlen, true);
}

static int mgmt_lun_delete(json_t *req, json_t **res, char *err, size_t errlen)
{
	struct scsi_target *t = mgmt_target(req, "target", err, errlen);
	uint64_t lun = 0;
	int rc;

	if (!t)
		return -ENOENT;
	if ((rc = mgmt_lun_arg(req, &lun, err, errlen)))
		return rc;
	rc = scsi_lu_delete(t, lun);
	if (rc == -ENOENT)
		return mgmt_fail(rc, err, errlen,
				 "target %s has no LUN %llu; `lunarctl target "
				 "show %s` lists its LUNs",
				 t->name, (unsigned long long)lun, t->name);
	if (rc)
		return mgmt_fail(
		    rc, err, errlen, "cannot delete LUN %llu of target %s: %s",
		    (unsigned long long)lun, t->name, strerror(-rc));
	return 0;
}

/* ---- ACLs and portals ---------------------------------------------- */

static int mgmt_initiator_arg(json_t *req, char *norm, size_t normlen,
			      char *err, size_t errlen)
{
	const char *ini = mgmt_str(req, "initiator", "");
	char why[320];

	if (strcasecmp(ini, "ALL") == 0) {
		snprintf(norm, normlen, "ALL");
		return 0;
	}
	if (scsi_name_check(ini, norm, normlen, why, sizeof(why)))
		return mgmt_fail(-EINVAL, err, errlen,
				 "%s (ACLs take an initiator name or ALL)",
				 why);
	return 0;
}

static int mgmt_acl_add(json_t *req, json_t **res, char *err, size_t errlen)
{
	struct scsi_target *t = mgmt_target(req, "target", err, errlen);
	char ini[SCSI_NAME_MAX];
	int rc;

	if (!t)
		return -ENOENT;
	if ((rc = mgmt_initiator_arg(req, ini, sizeof(ini), err, errlen)))
		return rc;
	rc = scsi_acl_add(t, ini);
	if (rc == -EEXIST)
		return mgmt_fail(rc, err, errlen,
				 "target %s already admits %s%s", t->name,
				 strcmp(ini, "ALL") ? "initiator " : "", ini);
	if (rc)
		return mgmt_fail(rc, err, errlen,
				 "cannot add ACL %s to target %s: %s", ini,
				 t->name, strerror(-rc));
	return 0;
}

static int mgmt_acl_delete(json_t *req, json_t **res, char *err, size_t errlen)
{
	struct scsi_target *t = mgmt_target(req, "target", err, errlen);
	char ini[SCSI_NAME_MAX];
	int rc;

	if (!t)
		return -ENOENT;
	if ((rc = mgmt_initiator_arg(req, ini, sizeof(ini), err, errlen)))
		return rc;
	rc = scsi_acl_delete(t, ini);
	if (rc == -ENOENT)
		return mgmt_fail(
		    rc, err, errlen,
		    "target %s has no ACL for %s; `lunarctl target "
		    "show %s` lists its ACLs",
		    t->name, ini, t->name);
	if (rc)
		return mgmt_fail(rc, err, errlen,
				 "cannot delete ACL %s of target %s: %s", ini,
				 t->name, strerror(-rc));
	return 0;
}

static int mgmt_portal_add_cmd(json_t *req, json_t **res, char *err,
			       size_t errlen)
{
	struct scsi_target *t = mgmt_target(req, "target", err, errlen);

	if (!t)
		return -ENOENT;
	return mgmt_portal_add(t, mgmt_str(req, "portal", ""), err, errlen);
}

static int mgmt_portal_delete_cmd(json_t *req, json_t **res, char *err,
				  size_t errlen)
{
	struct scsi_target *t = mgmt_target(req, "target", err, errlen);
	char norm[SCSI_PORTAL_MAX], why[320];
	int rc;

	if (!t)
		return -ENOENT;
	rc = scsi_portal_check(mgmt_str(req, "portal", ""), norm, sizeof(norm),
			       why, sizeof(why));
	if (rc)
		return mgmt_fail(rc, err, errlen, "%s", why);
	rc = scsi_portal_ref_delete(t, norm);
	if (rc == -ENOENT)
		return mgmt_fail(rc, err, errlen,
				 "target %s is not on portal %s; `lunarctl "
				 "target show %s` lists its portals",
				 t->name, norm, t->name);
	if (rc)
		return mgmt_fail(rc, err, errlen,
				 "cannot remove portal %s from target %s: %s",
				 norm, t->name, strerror(-rc));
	iscsi_portal_unlisten(norm);
	return 0;
}

/* ---- accounts ------------------------------------------------------ */

static int mgmt_account_create(json_t *req, json_t **res, char *err,
			       size_t errlen)
{
	const char *user = mgmt_str(req, "user", "");
	const char *pw = mgmt_str(req, "password", "");
	char why[320];
	int rc;

	rc = scsi_account_check(user, pw, why, sizeof(why));
	if (rc)
		return mgmt_fail(rc, err, errlen, "%s", why);
	rc = scsi_account_create(user, pw);
	if (rc == -EEXIST)
		return mgmt_fail(
		    rc, err, errlen,
		    "account %s already exists; delete it first or "
		    "pick another name",
		    user);
	if (rc)
		return mgmt_fail(rc, err, errlen,
				 "cannot create account %s: %s", user,
				 strerror(-rc));
	return 0;
}

/* Targets an account is bound to, as "a, b" for messages. */
static void mgmt_bound_names(const char *user, char *out, size_t outlen)
{
	struct scsi_target *t;
	struct scsi_user_ref *u;
	size_t used = 0;

	out[0] = '\0';
	scsi_config_rdlock();
	list_for_each_entry (t, scsi_target_list(), link) {
		bool bound = strcmp(t->user_out, user) == 0;
		list_for_each_entry (u, &t->users_in, link)
			bound = bound || strcmp(u->user, user) == 0;
		if (bound && used < outlen) {
			int n = snprintf(out + used, outlen - used, "%s%s",
					 used ? ", " : "", t->name);
			used += n > 0 ? (size_t)n : 0;
		}
	}
	scsi_config_unlock();
}

static int mgmt_account_delete(json_t *req, json_t **res, char *err,
			       size_t errlen)
{
	const char *user = mgmt_str(req, "user", "");
	char names[512];
	int rc;

	rc = scsi_account_delete(user);
	if (rc == -ENOENT)
		return mgmt_fail(rc, err, errlen,
				 "no account %s; `lunarctl account list` shows "
				 "the accounts",
				 user);
	if (rc == -EBUSY) {
		mgmt_bound_names(user, names, sizeof(names));
		return mgmt_fail(rc, err, errlen,
				 "account %s is bound to target %s; unbind it "
				 "first (lunarctl account unbind IQN %s)",
				 user, names, user);
	}
	if (rc)
		return mgmt_fail(rc, err, errlen,
				 "cannot delete account %s: %s", user,
				 strerror(-rc));
	return 0;
}

static int mgmt_account_list(json_t *req, json_t **res, char *err,
			     size_t errlen)
{
	json_t *arr = json_array();
	struct scsi_account *a;
	struct scsi_target *t;
	struct scsi_user_ref *u;

	scsi_config_rdlock();
	list_for_each_entry (a, scsi_account_list(), link) {
		json_t *bound = json_array(), *out = json_array();
		list_for_each_entry (t, scsi_target_list(), link) {
			bool in = false;
			list_for_each_entry (u, &t->users_in, link)
				in = in || strcmp(u->user, a->user) == 0;
			if (in)
				json_array_append_new(bound,
						      json_string(t->name));
			if (strcmp(t->user_out, a->user) == 0)
				json_array_append_new(out,
						      json_string(t->name));
		}
		json_array_append_new(arr, json_pack("{s:s, s:o, s:o}", "user",
						     a->user, "bound", bound,
						     "outgoing", out));
	}
	scsi_config_unlock();
	*res = arr;
	return arr ? 0 : -ENOMEM;
}

static int mgmt_account_bind(json_t *req, json_t **res, char *err,
			     size_t errlen)
{
	struct scsi_target *t = mgmt_target(req, "target", err, errlen);
	const char *user = mgmt_str(req, "user", "");
	bool out = mgmt_bool(req, "outgoing");
	char cur[SCSI_NAME_MAX];
	int rc;

	if (!t)
		return -ENOENT;
	rc = scsi_account_bind(t, user, out);
	if (rc == -ENOENT)
		return mgmt_fail(
		    rc, err, errlen,
		    "no account %s; create it first with `lunarctl "
		    "account create %s --password SECRET`",
		    user, user);
	if (rc == -EEXIST && !out)
		return mgmt_fail(rc, err, errlen,
				 "account %s is already bound to target %s",
				 user, t->name);
	if (rc == -EEXIST) {
		scsi_config_rdlock();
		memcpy(cur, t->user_out, sizeof(cur));
		scsi_config_unlock();
		return mgmt_fail(rc, err, errlen,
				 "target %s already has outgoing account %s; a "
				 "target has one, unbind it first",
				 t->name, cur);
	}
	if (rc)
		return mgmt_fail(rc, err, errlen,
				 "cannot bind account %s to target %s: %s",
				 user, t->name, strerror(-rc));
	return 0;
}

static int mgmt_account_unbind(json_t *req, json_t **res, char *err,
			       size_t errlen)
{
	struct scsi_target *t = mgmt_target(req, "target", err, errlen);
	const char *user = mgmt_str(req, "user", "");
	bool out = mgmt_bool(req, "outgoing");
	int rc;

	if (!t)
		return -ENOENT;
	rc = scsi_account_unbind(t, user, out);
	if (rc == -ENOENT)
		return mgmt_fail(rc, err, errlen,
				 "account %s is not bound to target %s as its "
				 "%s account; `lunarctl target show %s` lists "
				 "the bindings",
				 user, t->name, out ? "outgoing" : "incoming",
				 t->name);
	if (rc)
		return mgmt_fail(rc, err, errlen,
				 "cannot unbind account %s from target %s: %s",
				 user, t->name, strerror(-rc));
	return 0;
}

/* ---- sessions ------------------------------------------------------ */

static int mgmt_session_list(json_t *req, json_t **res, char *err,
			     size_t errlen)
{
	const char *name = mgmt_str(req, "target", NULL);
	struct scsi_target *t = NULL;

	if (name && !(t = mgmt_target(req, "target", err, errlen)))
		return -ENOENT;
	return mgmt_sessions_json(t ? t->name : NULL, res, err, errlen);
}

static int mgmt_stats_show(json_t *req, json_t **res, char *err, size_t errlen)
{
	const char *name = mgmt_str(req, "target", NULL);
	bool has_lun = json_object_get(req, "lun") != NULL;
	uint64_t lun = 0;
	int rc;

	if (has_lun && !name)
		return mgmt_fail(-EINVAL, err, errlen,
				 "a LUN needs its target: `lunarctl stats IQN "
				 "LUN`");
	if (has_lun) {
		rc = mgmt_lun_arg(req, &lun, err, errlen);
		if (rc)
			return rc;
	}
	return mgmt_stats_collect(name, has_lun, lun, res, err, errlen);
}

static int mgmt_session_close(json_t *req, json_t **res, char *err,
			      size_t errlen)
{
	struct scsi_target *t = mgmt_target(req, "target", err, errlen);
	uint64_t sid = 0;
	int rc;

	if (!t)
		return -ENOENT;
	if ((rc = mgmt_id(req, "sid", &sid, err, errlen)))
		return rc;
	rc = iscsi_session_close(t->name, sid);
	if (rc == -ENOENT)
		return mgmt_fail(rc, err, errlen,
				 "target %s has no session %llu; `lunarctl "
				 "session list %s` shows its sessions",
				 t->name, (unsigned long long)sid, t->name);
	if (rc)
		return mgmt_fail(rc, err, errlen,
				 "cannot close session %llu of target %s: %s",
				 (unsigned long long)sid, t->name,
				 strerror(-rc));
	return 0;
}

/* ---- configuration ------------------------------------------------- */

static int mgmt_config_save_cmd(json_t *req, json_t **res, char *err,
				size_t errlen)
{
	const char *file = mgmt_str(req, "file", NULL);
	char path[4096];
	int rc;

	if (file) {
		if (file[0] != '/')
			return mgmt_fail(-EINVAL, err, errlen,
					 "config file '%s' must be an absolute "
					 "path (lunard's working directory is "
					 "not yours)",
					 file);
		snprintf(path, sizeof(path), "%s", file);
	} else {
		const char *dir = mgmt_get_options()->state_dir;
		mgmt_default_config_path(path, sizeof(path));
		/* The state directory may not exist yet on a fresh system. */
		if (!mgmt_get_options()->config_path && dir &&
		    mkdir(dir, 0700) < 0 && errno != EEXIST)
			return mgmt_fail(-errno, err, errlen,
					 "cannot create state directory %s: "
					 "%s; create it or give a file",
					 dir, strerror(errno));
	}
	rc = mgmt_config_save(path, err, errlen);
	if (rc)
		return rc;
	*res = json_pack("{s:s}", "file", path);
	return 0;
}

static int mgmt_config_load_cmd(json_t *req, json_t **res, char *err,
				size_t errlen)
{
	const char *file = mgmt_str(req, "file", "");

	if (file[0] != '/')
		return mgmt_fail(-EINVAL, err, errlen,
				 "config file '%s' must be an absolute path "
				 "(lunard's working directory is not yours)",
				 file);
	return mgmt_config_load(file, err, errlen);
}

static int mgmt_config_show(json_t *req, json_t **res, char *err, size_t errlen)
{
	struct mgmt_config *c;
	int rc = mgmt_config_snapshot(&c);

	if (rc)
		return mgmt_fail(rc, err, errlen, "out of memory");
	*res = mgmt_config_to_json(c, MGMT_CFG_SECRETS);
	mgmt_config_free(c);
	return *res ? 0 : mgmt_fail(-ENOMEM, err, errlen, "out of memory");
}

static int mgmt_system_json(json_t **out, char *err, size_t errlen)
{
	const struct mgmt_options *o = mgmt_get_options();
	char(*list)[64] = NULL;
	size_t n, cap = 64;
	char path[4096], names[512];
	json_t *portals;

	for (;;) {
		list = calloc(cap, sizeof(*list));
		if (!list)
			return mgmt_fail(-ENOMEM, err, errlen, "out of memory");
		n = iscsi_portal_list(list, cap);
		if (n <= cap)
			break;
		free(list);
		cap = n;
	}
	portals = json_array();
	for (size_t i = 0; portals && i < n; i++)
		json_array_append_new(portals, json_string(list[i]));
	free(list);
	mgmt_default_config_path(path, sizeof(path));
	bs_names(names, sizeof(names));
	*out = json_pack("{s:s, s:i, s:i, s:o, s:s, s:s, s:s, s:s}", "version",
			 LUNAR_VERSION, "pid", (int)getpid(), "threads",
			 (int)o->threads, "portals", portals, "control",
			 o->control_path ? o->control_path : "", "state_dir",
			 o->state_dir ? o->state_dir : "", "config", path,
			 "bstypes", names);
	return *out ? 0 : mgmt_fail(-ENOMEM, err, errlen, "out of memory");
}

static int mgmt_system_show(json_t *req, json_t **res, char *err, size_t errlen)
{
	return mgmt_system_json(res, err, errlen);
}

static int mgmt_show(json_t *req, json_t **res, char *err, size_t errlen)
{
	json_t *sys = NULL, *cfg = NULL, *sessions = NULL;
	int rc;

	if ((rc = mgmt_system_json(&sys, err, errlen)) ||
	    (rc = mgmt_config_live_json(&cfg, err, errlen)) ||
	    (rc = mgmt_sessions_json(NULL, &sessions, err, errlen))) {
		json_decref(sys);
		json_decref(cfg);
		return rc;
	}
	*res = json_pack("{s:o, s:o, s:o}", "system", sys, "config", cfg,
			 "sessions", sessions);
	return *res ? 0 : mgmt_fail(-ENOMEM, err, errlen, "out of memory");
}

/* ---- iSNS ------------------------------------------------------------ */

static int mgmt_isns_show(json_t *req, json_t **res, char *err, size_t errlen)
{
	struct isns_status st;
	json_t *targets, *portals;
	char when[64] = "";
	struct tm tm;
	int rc;

	rc = isns_status_get(&st);
	if (rc < 0)
		return mgmt_fail(rc, err, errlen, "out of memory");
	if (!st.enabled) {
		*res = json_pack("{s:b, s:s}", "enabled", 0, "state", st.state);
		return *res ? 0
			    : mgmt_fail(-ENOMEM, err, errlen, "out of memory");
	}
	if (st.last_registration && gmtime_r(&st.last_registration, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	targets = json_array();
	portals = json_array();
	for (size_t i = 0; targets && i < st.nr_targets; i++)
		json_array_append_new(targets, json_string(st.targets[i]));
	for (size_t i = 0; portals && i < st.nr_portals; i++)
		json_array_append_new(portals, json_string(st.portals[i]));
	*res = json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:o}",
			 "enabled", 1, "server", st.server, "entity",
			 st.entity_id, "state", st.state, "last_registration",
			 when, "registration_period", (json_int_t)st.period_s,
			 "last_error", st.last_error, "portals", portals,
			 "targets", targets);
	isns_status_free(&st);
	return *res ? 0 : mgmt_fail(-ENOMEM, err, errlen, "out of memory");
}

/* ---- the table and the dispatcher ---------------------------------- */

#define STR(n)                                                                 \
	{                                                                      \
		n, MGMT_ARG_STR, true                                          \
	}
#define STR_O(n)                                                               \
	{                                                                      \
		n, MGMT_ARG_STR, false                                         \
	}
#define INT(n)                                                                 \
	{                                                                      \
		n, MGMT_ARG_INT, true                                          \
	}
#define INT_O(n)                                                               \
	{                                                                      \
		n, MGMT_ARG_INT, false                                         \
	}
#define BOOL(n)                                                                \
	{                                                                      \
		n, MGMT_ARG_BOOL, false                                        \
	}

static const struct mgmt_cmd mgmt_cmds[] = {
    {"target.create", mgmt_target_create, {STR("name"), STR_O("alias")}},
    {"target.delete", mgmt_target_delete, {STR("name"), BOOL("force")}},
    {"target.list", mgmt_target_list, {{0}}},
    {"target.show", mgmt_target_show, {STR("name")}},
    {"lun.create",
     mgmt_lun_create,
     {STR("target"), INT("lun"), STR_O("backing"), STR_O("bstype"),
      INT_O("size"), INT_O("block_size"), BOOL("readonly"), BOOL("direct"),
      STR_O("serial"), BOOL("thin"), INT_O("physical_block_size"),
      BOOL("removable"), STR_O("bsopts"), STR_O("type")}},
    {"lun.delete", mgmt_lun_delete, {STR("target"), INT("lun")}},
    {"lun.eject", mgmt_lun_eject, {STR("target"), INT("lun"), BOOL("force")}},
    {"lun.load", mgmt_lun_load, {STR("target"), INT("lun"), STR_O("backing")}},
    {"lun.activate",
     mgmt_lun_activate,
     {STR("target"), INT("lun"), INT("group")}},
    {"lun.resize",
     mgmt_lun_resize,
     {STR("target"), INT("lun"), INT_O("size"), BOOL("shrink")}},
    {"acl.add", mgmt_acl_add, {STR("target"), STR("initiator")}},
    {"acl.delete", mgmt_acl_delete, {STR("target"), STR("initiator")}},
    {"portal.add", mgmt_portal_add_cmd, {STR("target"), STR("portal")}},
    {"portal.delete", mgmt_portal_delete_cmd, {STR("target"), STR("portal")}},
    {"account.create", mgmt_account_create, {STR("user"), STR("password")}},
    {"account.delete", mgmt_account_delete, {STR("user")}},
    {"account.list", mgmt_account_list, {{0}}},
    {"account.bind",
     mgmt_account_bind,
     {STR("target"), STR("user"), BOOL("outgoing")}},
    {"account.unbind",
     mgmt_account_unbind,
     {STR("target"), STR("user"), BOOL("outgoing")}},
    {"session.list", mgmt_session_list, {STR_O("target")}},
    {"stats.show", mgmt_stats_show, {STR_O("target"), INT_O("lun")}},
    {"session.close",
     mgmt_session_close,
     {STR("target"), {"sid", MGMT_ARG_ID, true}}},
    {"config.save", mgmt_config_save_cmd, {STR_O("file")}},
    {"config.load", mgmt_config_load_cmd, {STR("file")}},
    {"config.show", mgmt_config_show, {{0}}},
    {"show", mgmt_show, {{0}}},
    {"system.show", mgmt_system_show, {{0}}},
    {"isns.show", mgmt_isns_show, {{0}}},
    /* Port groups (alua.c). */
    {"tpg.create",
     mgmt_tpg_create_cmd,
     {STR("target"),
      INT("id"),
      {"portals", MGMT_ARG_STRS, false},
      STR_O("state"),
      BOOL("preferred")}},
    {"tpg.delete", mgmt_tpg_delete_cmd, {STR("target"), INT("id")}},
    {"tpg.set",
     mgmt_tpg_set_cmd,
     {STR("target"), INT("id"), STR_O("state"), BOOL("preferred")}},
    {"tpg.add_portal",
     mgmt_tpg_add_portal_cmd,
     {STR("target"), INT("id"), STR("portal")}},
    {"tpg.remove_portal",
     mgmt_tpg_remove_portal_cmd,
     {STR("target"), INT("id"), STR("portal")}},
    {"tpg.list", mgmt_tpg_list_cmd, {STR("target")}},
    /* A medium changer's inventory (changer.c). */
    {"changer.show", mgmt_changer_show_cmd, {STR("target"), INT("lun")}},
    {"changer.slot_add",
     mgmt_changer_slot_add_cmd,
     {STR("target"), INT("lun"), INT_O("count"), BOOL("import_export")}},
    {"changer.slot_delete",
     mgmt_changer_slot_delete_cmd,
     {STR("target"), INT("lun"), INT_O("count"), BOOL("import_export")}},
    {"changer.cartridge_add",
     mgmt_changer_cartridge_add_cmd,
     {STR("target"), INT("lun"), STR("barcode"), STR("file"), INT_O("slot"),
      BOOL("first_empty")}},
    {"changer.cartridge_delete",
     mgmt_changer_cartridge_delete_cmd,
     {STR("target"), INT("lun"), STR("barcode")}},
    {"changer.drive_add",
     mgmt_changer_drive_add_cmd,
     {STR("target"), INT("lun"), INT("drive")}},
    {"changer.drive_delete",
     mgmt_changer_drive_delete_cmd,
     {STR("target"), INT("lun"), INT("drive")}},
};

static const char *const mgmt_type_names[] = {
    [MGMT_ARG_STR] = "a string",
    [MGMT_ARG_INT] = "an integer",
    [MGMT_ARG_BOOL] = "true or false",
    [MGMT_ARG_ID] = "an integer or a string of digits",
    [MGMT_ARG_STRS] = "an array of strings",
};

static bool mgmt_arg_ok(enum mgmt_arg_type type, const json_t *v)
{
	switch (type) {
	case MGMT_ARG_STR:
		/* An embedded NUL would silently cut the value short. */
		return json_is_string(v) &&
		       strlen(json_string_value(v)) == json_string_length(v);
	case MGMT_ARG_INT:
		return json_is_integer(v);
	case MGMT_ARG_BOOL:
		return json_is_boolean(v);
	case MGMT_ARG_ID:
		return json_is_integer(v) || json_is_string(v);
	case MGMT_ARG_STRS: {
		size_t i;
		json_t *e;

		if (!json_is_array(v))
			return false;
		json_array_foreach(v, i, e)
		{
			if (!mgmt_arg_ok(MGMT_ARG_STR, e))
				return false;
		}
		return true;
	}
	}
	return false;
}

static void mgmt_arg_names(const struct mgmt_cmd *cmd, char *out, size_t outlen)
{
	size_t used = 0;

	out[0] = '\0';
	for (const struct mgmt_arg *a = cmd->args; a->name; a++) {
		int n =
		    snprintf(out + used, outlen - used, "%s%s%s",
			     used ? ", " : "", a->name, a->required ? "" : "?");
		if (n < 0 || (size_t)n >= outlen - used)
			break;
		used += (size_t)n;
	}
	if (!used)
		snprintf(out, outlen, "no arguments");
}

static int mgmt_check_args(const struct mgmt_cmd *cmd, json_t *req, char *err,
			   size_t errlen)
{
	const char *key;
	json_t *v;
	char names[256];

	json_object_foreach(req, key, v)
	{
		const struct mgmt_arg *a;
		if (strcmp(key, "cmd") == 0)
			continue;
		for (a = cmd->args; a->name; a++) {
			if (strcmp(a->name, key) == 0)
				break;
		}
		if (!a->name) {
			mgmt_arg_names(cmd, names, sizeof(names));
			return mgmt_fail(-EINVAL, err, errlen,
					 "%s: unknown argument '%s'; it takes "
					 "%s",
					 cmd->name, key, names);
		}
		if (!mgmt_arg_ok(a->type, v))
			return mgmt_fail(-EINVAL, err, errlen,
					 "%s: argument '%s' must be %s, not %s",
					 cmd->name, key,
					 mgmt_type_names[a->type],
					 mgmt_json_type_name(v));
	}
	for (const struct mgmt_arg *a = cmd->args; a->name; a++) {
		if (a->required && !json_object_get(req, a->name))
			return mgmt_fail(-EINVAL, err, errlen,
					 "%s: argument '%s' is missing",
					 cmd->name, a->name);
	}
	return 0;
}

static int mgmt_dispatch(json_t *req, json_t **res, char *err, size_t errlen)
{
	const char *name;
	json_t *cmd;

	if (!json_is_object(req))
		return mgmt_fail(-EINVAL, err, errlen,
				 "a request must be a JSON object like "
				 "{\"cmd\": \"target.list\"}, not %s",
				 mgmt_json_type_name(req));
	cmd = json_object_get(req, "cmd");
	if (!json_is_string(cmd))
		return mgmt_fail(-EINVAL, err, errlen,
				 "the request has no \"cmd\" string; e.g. "
				 "{\"cmd\": \"target.list\"}");
	name = json_string_value(cmd);
	for (size_t i = 0; i < sizeof(mgmt_cmds) / sizeof(mgmt_cmds[0]); i++) {
		if (strcmp(mgmt_cmds[i].name, name) != 0)
			continue;
		int rc = mgmt_check_args(&mgmt_cmds[i], req, err, errlen);
		return rc ? rc : mgmt_cmds[i].fn(req, res, err, errlen);
	}
	char list[1024];
	size_t used = 0;
	for (size_t i = 0; i < sizeof(mgmt_cmds) / sizeof(mgmt_cmds[0]); i++) {
		int n = snprintf(list + used, sizeof(list) - used, "%s%s",
				 i ? ", " : "", mgmt_cmds[i].name);
		if (n < 0 || (size_t)n >= sizeof(list) - used)
			break;
		used += (size_t)n;
	}
	return mgmt_fail(-EINVAL, err, errlen,
			 "unknown command '%.64s'; the commands are %s", name,
			 list);
}

/* Cuts s at its first byte that is not part of valid UTF-8 (a message
 * truncated inside a character), so that it can go into JSON. */
static void mgmt_utf8_trim(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		unsigned n = *p < 0x80		   ? 0
			     : (*p & 0xe0) == 0xc0 ? 1
			     : (*p & 0xf0) == 0xe0 ? 2
			     : (*p & 0xf8) == 0xf0 ? 3
						   : 4;
		unsigned i;

		if (n == 4)
			break;
		for (i = 1; i <= n && (p[i] & 0xc0) == 0x80; i++)
			;
		if (i <= n)
			break;
		p += n + 1;
	}
	*p = '\0';
}

static void (*mgmt_change_fn)(void *arg);
static void *mgmt_change_arg;

void mgmt_on_change(void (*fn)(void *arg), void *arg)
{
	mgmt_change_fn = fn;
	mgmt_change_arg = arg;
}

void mgmt_changed(void)
{
	if (mgmt_change_fn)
		mgmt_change_fn(mgmt_change_arg);
}

json_t *mgmt_handle_request(const char *line, size_t len)
{
	char err[MGMT_ERR_MAX] = "";
	json_t *req, *res = NULL, *resp;
	json_error_t je;
	int rc;

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!req) {
		rc = -EINVAL;
		snprintf(err, sizeof(err),
			 "the request is not valid JSON (column %d: %s); send "
			 "one object per line, e.g. {\"cmd\": \"target.list\"}",
			 je.column, je.text);
	} else {
		rc = mgmt_dispatch(req, &res, err, sizeof(err));
		json_decref(req);
	}
	/* Even a failed request may have changed something (a config load
	 * that stopped halfway); the listener compares, so this is cheap. */
	mgmt_changed();
	if (rc == 0) {
		resp = json_pack("{s:b, s:o}", "ok", 1, "result",
				 res ? res : json_null());
	} else {
		json_decref(res);
		if (!err[0])
			snprintf(err, sizeof(err), "%s", strerror(-rc));
		mgmt_utf8_trim(err);
		resp = json_pack("{s:b, s:s, s:i}", "ok", 0, "error", err,
				 "errno", -rc);
	}
	if (!resp)
		resp = json_pack("{s:b, s:s, s:i}", "ok", 0, "error",
				 "out of memory", ENOMEM);
	return resp;
}
