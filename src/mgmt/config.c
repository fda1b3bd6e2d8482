/*
 * The configuration file (docs/control-protocol.md, "The configuration
 * object"): JSON to struct mgmt_config and back, a snapshot of the running
 * object model, applying a config on top of it, and the atomic save (temp
 * file in the same directory, fsync, rename, fsync of the directory, mode
 * 0600: a crash leaves the old file or the new one, never half of one).
 *
 * Parsing is strict: an unknown field, a wrong type or a bad value refuses
 * the whole file with the file name and the JSON path of the field (or the
 * line and column of a JSON syntax error), before anything is applied.
 */
#include "mgmt/mgmt_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bs/bs.h"
#include "iscsi/iscsi.h"
#include "scsi/device.h"
#include "scsi/tpg.h"
#include "util/file.h"

#define MGMT_CONFIG_FILE_MAX (64u << 20)

struct cfg_ctx {
	const char *src;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int
cfg_fail(struct cfg_ctx *c, const char *path, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "config %s: %s%s%s", c->src, path,
		 path[0] ? ": " : "", msg);
	return -EINVAL;
}

const char *mgmt_json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

static void cfg_path(char *out, size_t outlen, const char *base,
		     const char *key)
{
	/* Bounded concatenation: paths are short, but never overflow. */
	size_t used = 0;
	const char *parts[3] = {base, base[0] ? "." : "", key};

	for (int i = 0; i < 3; i++) {
		size_t n = strlen(parts[i]);
		if (n > outlen - 1 - used)
			n = outlen - 1 - used;
		memcpy(out + used, parts[i], n);
		used += n;
	}
	out[used] = '\0';
}

static int cfg_check_keys(struct cfg_ctx *c, json_t *obj, const char *path,
			  const char *const *known)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		bool ok = false;
		for (const char *const *k = known; *k; k++)
			ok = ok || strcmp(*k, key) == 0;
		if (!ok) {
			char list[256] = "";
			for (const char *const *k = known; *k; k++) {
				size_t n = strlen(list);
				snprintf(list + n, sizeof(list) - n, "%s%s",
					 n ? ", " : "", *k);
			}
			char p[512];
			cfg_path(p, sizeof(p), path, key);
			return cfg_fail(c, p,
					"unknown field; the fields here are %s",
					list);
		}
	}
	return 0;
}

/* Fetches obj[key] of type want; *out NULL when absent and optional. */
static int cfg_get(struct cfg_ctx *c, json_t *obj, const char *path,
		   const char *key, json_type want, bool required, json_t **out)
{
	char p[512];
	json_t *v = json_object_get(obj, key);

	cfg_path(p, sizeof(p), path, key);
	*out = NULL;
	if (!v) {
		if (required)
			return cfg_fail(c, p,
					"missing; this field is required");
		return 0;
	}
	bool ok =
	    json_typeof(v) == want || (want == JSON_TRUE && json_is_boolean(v));
	if (!ok) {
		static const char *const names[] = {
		    [JSON_OBJECT] = "an object",
		    [JSON_ARRAY] = "an array",
		    [JSON_STRING] = "a string",
		    [JSON_INTEGER] = "an integer",
		    [JSON_REAL] = "a real number",
		    [JSON_TRUE] = "a boolean",
		    [JSON_FALSE] = "a boolean",
		    [JSON_NULL] = "null",
		};
		return cfg_fail(c, p, "expected %s, got %s", names[want],
				mgmt_json_type_name(v));
	}
	*out = v;
	return 0;
}

static int cfg_get_str(struct cfg_ctx *c, json_t *obj, const char *path,
		       const char *key, bool required, char *out, size_t outlen)
{
	json_t *v;
	int rc = cfg_get(c, obj, path, key, JSON_STRING, required, &v);

	if (rc || !v)
		return rc;
	if (json_string_length(v) >= outlen ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		char p[512];
		cfg_path(p, sizeof(p), path, key);
		if (json_string_length(v) >= outlen)
			return cfg_fail(c, p,
					"too long (%zu bytes); at most %zu",
					json_string_length(v), outlen - 1);
		return cfg_fail(c, p, "contains a NUL character");
	}
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int cfg_get_bool(struct cfg_ctx *c, json_t *obj, const char *path,
			const char *key, bool *out)
{
	json_t *v;
	int rc = cfg_get(c, obj, path, key, JSON_TRUE, false, &v);

	if (rc || !v)
		return rc;
	*out = json_is_true(v);
	return 0;
}

static int cfg_get_u64(struct cfg_ctx *c, json_t *obj, const char *path,
		       const char *key, bool required, uint64_t max,
		       uint64_t *out)
{
	json_t *v;
	int rc = cfg_get(c, obj, path, key, JSON_INTEGER, required, &v);

	if (rc || !v)
		return rc;
	json_int_t n = json_integer_value(v);
	if (n < 0 || (uint64_t)n > max) {
		char p[512];
		cfg_path(p, sizeof(p), path, key);
		return cfg_fail(c, p, "%lld is out of range 0..%llu",
				(long long)n, (unsigned long long)max);
	}
	*out = (uint64_t)n;
	return 0;
}

/* Reads an array of strings, each checked and normalised by norm_fn, with
 * duplicates refused. */
typedef int (*cfg_norm_fn)(struct cfg_ctx *c, const char *path, const char *in,
			   char *out, size_t outlen);

static int cfg_get_str_array(struct cfg_ctx *c, json_t *obj, const char *path,
			     const char *key, size_t width, cfg_norm_fn norm,
			     void **out, size_t *count)
{
	json_t *arr, *v;
	size_t i;
	char *items;
	int rc = cfg_get(c, obj, path, key, JSON_ARRAY, false, &arr);

	*out = NULL;
	*count = 0;
	if (rc || !arr || json_array_size(arr) == 0)
		return rc;
	items = calloc(json_array_size(arr), width);
	if (!items)
		return -ENOMEM;
	json_array_foreach(arr, i, v)
	{
		char p[512];
		snprintf(p, sizeof(p), "%s%s%s[%zu]", path, path[0] ? "." : "",
			 key, i);
		if (!json_is_string(v)) {
			rc = cfg_fail(c, p, "expected a string, got %s",
				      mgmt_json_type_name(v));
			goto fail;
		}
		if (json_string_length(v) >= width) {
			rc = cfg_fail(c, p, "too long (%zu bytes); at most %zu",
				      json_string_length(v), width - 1);
			goto fail;
		}
		rc = norm(c, p, json_string_value(v), items + i * width, width);
		if (rc)
			goto fail;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(items + j * width, items + i * width) == 0) {
				rc = cfg_fail(c, p, "'%s' is listed twice",
					      items + i * width);
				goto fail;
			}
		}
	}
	*out = items;
	*count = json_array_size(arr);
	return 0;
fail:
	free(items);
	return rc;
}

static int cfg_norm_acl(struct cfg_ctx *c, const char *path, const char *in,
			char *out, size_t outlen)
{
	char why[320];

	if (strcasecmp(in, "ALL") == 0) {
		snprintf(out, outlen, "ALL");
		return 0;
	}
	if (scsi_name_check(in, out, outlen, why, sizeof(why)))
		return cfg_fail(c, path, "%s (or use \"ALL\")", why);
	return 0;
}

static int cfg_norm_portal(struct cfg_ctx *c, const char *path, const char *in,
			   char *out, size_t outlen)
{
	char why[320];

	if (scsi_portal_check(in, out, outlen, why, sizeof(why)))
		return cfg_fail(c, path, "%s", why);
	return 0;
}

static int cfg_norm_user(struct cfg_ctx *c, const char *path, const char *in,
			 char *out, size_t outlen)
{
	char why[320];

	if (scsi_account_check(in, NULL, why, sizeof(why)))
		return cfg_fail(c, path, "%s", why);
	snprintf(out, outlen, "%s", in);
	return 0;
}

static bool cfg_graphic(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	}
	return true;
}

static int cfg_lun_from_json(struct cfg_ctx *c, json_t *o, const char *path,
			     struct mgmt_cfg_lun *l)
{
	static const char *const keys[] = {
	    "lun",
	    "type",
	    "backing",
	    "bstype",
	    "size",
	    "block_size",
	    "readonly",
	    "direct",
	    "serial",
	    "thin",
	    "physical_block_size",
	    "removable",
	    "bsopts",
	    NULL,
	};
	uint64_t bsz = 0, pbsz = 0;
	char p[512], why[512];
	int rc;

	if ((rc = cfg_check_keys(c, o, path, keys)) ||
	    (rc =
		 cfg_get_u64(c, o, path, "lun", true, SCSI_MAX_LUN, &l->lun)) ||
	    (rc = cfg_get_str(c, o, path, "type", false, l->p.dtype,
			      sizeof(l->p.dtype))) ||
	    /* Required unless the type may be an empty drive (a tape). */
	    (rc = cfg_get_str(
		 c, o, path, "backing",
		 !(scsi_device_type_find(l->p.dtype) &&
		   scsi_device_type_find(l->p.dtype)->medium_optional),
		 l->p.backing, sizeof(l->p.backing))) ||
	    (rc = cfg_get_str(c, o, path, "bstype", false, l->p.bstype,
			      sizeof(l->p.bstype))) ||
	    (rc = cfg_get_u64(c, o, path, "size", false, INT64_MAX,
			      &l->p.size)) ||
	    (rc = cfg_get_u64(c, o, path, "block_size", false, UINT32_MAX,
			      &bsz)) ||
	    (rc = cfg_get_bool(c, o, path, "readonly", &l->p.readonly)) ||
	    (rc = cfg_get_bool(c, o, path, "direct", &l->p.direct)) ||
	    (rc = cfg_get_str(c, o, path, "serial", false, l->p.serial,
			      sizeof(l->p.serial))) ||
	    (rc = cfg_get_bool(c, o, path, "thin", &l->p.thin)) ||
	    (rc = cfg_get_u64(c, o, path, "physical_block_size", false,
			      UINT32_MAX, &pbsz)) ||
	    (rc = cfg_get_bool(c, o, path, "removable", &l->p.removable)) ||
	    (rc = cfg_get_str(c, o, path, "bsopts", false, l->p.bsopts,
			      sizeof(l->p.bsopts))))
		return rc;
	if (l->p.backing[0] == '\0' &&
	    !(scsi_device_type_find(l->p.dtype) &&
	      scsi_device_type_find(l->p.dtype)->medium_optional)) {
		cfg_path(p, sizeof(p), path, "backing");
		return cfg_fail(c, p, "empty; give the file or device path");
	}
	if (l->p.bstype[0] == '\0')
		snprintf(l->p.bstype, sizeof(l->p.bstype), "%s",
			 bs_default_file_store());
	l->p.block_size = (uint32_t)bsz;
	l->p.physical_block_size = (uint32_t)pbsz;
	/* The device type's own rules (block sizes, thin provisioning ...),
	 * before anything is created. */
	if (scsi_lu_check_type_params(&l->p, bs_find(l->p.bstype), why,
				      sizeof(why)) < 0)
		return cfg_fail(c, path, "%s", why);
	if (!cfg_graphic(l->p.serial)) {
		cfg_path(p, sizeof(p), path, "serial");
		return cfg_fail(c, p,
				"use printable ASCII without spaces (at most "
				"32 characters)");
	}
	return 0;
}

static int cfg_target_from_json(struct cfg_ctx *c, json_t *o, const char *path,
				struct mgmt_cfg_target *t)
{
	static const char *const keys[] = {
	    "name",    "alias",		 "acls",
	    "portals", "incoming_users", "outgoing_user",
	    "luns",    "port_groups",	 NULL,
	};
	char p[512], why[320];
	json_t *luns, *v;
	size_t i;
	int rc;

	if ((rc = cfg_check_keys(c, o, path, keys)) ||
	    (rc = cfg_get_str(c, o, path, "name", true, t->name,
			      sizeof(t->name))) ||
	    (rc = cfg_get_str(c, o, path, "alias", false, t->alias,
			      sizeof(t->alias))) ||
	    (rc = cfg_get_str(c, o, path, "outgoing_user", false, t->user_out,
			      sizeof(t->user_out))))
		return rc;
	cfg_path(p, sizeof(p), path, "name");
	if (scsi_name_check(t->name, t->name, sizeof(t->name), why,
			    sizeof(why)))
		return cfg_fail(c, p, "%s", why);
	for (const char *s = t->alias; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			cfg_path(p, sizeof(p), path, "alias");
			return cfg_fail(c, p, "contains a control character");
		}
	}
	if (t->user_out[0]) {
		cfg_path(p, sizeof(p), path, "outgoing_user");
		if (scsi_account_check(t->user_out, NULL, why, sizeof(why)))
			return cfg_fail(c, p, "%s", why);
	}
	if ((rc = cfg_get_str_array(c, o, path, "acls", SCSI_NAME_MAX,
				    cfg_norm_acl, (void **)&t->acls,
				    &t->nr_acls)) ||
	    (rc = cfg_get_str_array(c, o, path, "portals", SCSI_PORTAL_MAX,
				    cfg_norm_portal, (void **)&t->portals,
				    &t->nr_portals)) ||
	    (rc = cfg_get_str_array(c, o, path, "incoming_users", SCSI_NAME_MAX,
				    cfg_norm_user, (void **)&t->users_in,
				    &t->nr_users_in)) ||
	    (rc = mgmt_cfg_tpgs_from_json(o, c->src, path, t, c->err,
					  c->errlen)))
		return rc;
	if ((rc = cfg_get(c, o, path, "luns", JSON_ARRAY, false, &luns)) ||
	    !luns || json_array_size(luns) == 0)
		return rc;
	t->luns = calloc(json_array_size(luns), sizeof(*t->luns));
	if (!t->luns)
		return -ENOMEM;
	json_array_foreach(luns, i, v)
	{
		snprintf(p, sizeof(p), "%s.luns[%zu]", path, i);
		if (!json_is_object(v))
			return cfg_fail(c, p, "expected an object, got %s",
					mgmt_json_type_name(v));
		t->nr_luns = i + 1;
		rc = cfg_lun_from_json(c, v, p, &t->luns[i]);
		if (rc)
			return rc;
		for (size_t j = 0; j < i; j++) {
			if (t->luns[j].lun == t->luns[i].lun)
				return cfg_fail(
				    c, p,
				    "LUN %llu is defined twice in "
				    "this target",
				    (unsigned long long)t->luns[i].lun);
		}
	}
	return 0;
}

static int cfg_account_from_json(struct cfg_ctx *c, json_t *o, const char *path,
				 struct mgmt_cfg_account *a)
{
	static const char *const keys[] = {"user", "password", NULL};
	char why[320];
	int rc;

	if ((rc = cfg_check_keys(c, o, path, keys)) ||
	    (rc = cfg_get_str(c, o, path, "user", true, a->user,
			      sizeof(a->user))) ||
	    (rc = cfg_get_str(c, o, path, "password", true, a->secret,
			      sizeof(a->secret))))
		return rc;
	if (scsi_account_check(a->user, a->secret, why, sizeof(why)))
		return cfg_fail(c, path, "%s", why);
	return 0;
}

int mgmt_config_from_json(json_t *root, const char *src,
			  struct mgmt_config **out, char *err, size_t errlen)
{
	static const char *const keys[] = {"version", "accounts", "targets",
					   NULL};
	struct cfg_ctx c = {.src = src, .err = err, .errlen = errlen};
	struct mgmt_config *cfg;
	json_t *arr, *v;
	uint64_t version = MGMT_CONFIG_VERSION;
	char p[64];
	size_t i;
	int rc;

	*out = NULL;
	if (!json_is_object(root))
		return cfg_fail(&c, "",
				"the top level must be an object like "
				"{\"version\": 1, \"accounts\": [], "
				"\"targets\": []}, not %s",
				mgmt_json_type_name(root));
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	if ((rc = cfg_check_keys(&c, root, "", keys)) ||
	    (rc = cfg_get_u64(&c, root, "", "version", false, UINT32_MAX,
			      &version)))
		goto fail;
	if (version != MGMT_CONFIG_VERSION) {
		rc = cfg_fail(&c, "version",
			      "%llu is not a version this lunard reads (it "
			      "reads %d)",
			      (unsigned long long)version, MGMT_CONFIG_VERSION);
		goto fail;
	}

	if ((rc = cfg_get(&c, root, "", "accounts", JSON_ARRAY, false, &arr)))
		goto fail;
	if (arr && json_array_size(arr)) {
		cfg->accounts =
		    calloc(json_array_size(arr), sizeof(*cfg->accounts));
		if (!cfg->accounts) {
			rc = -ENOMEM;
			goto fail;
		}
		json_array_foreach(arr, i, v)
		{
			struct mgmt_cfg_account *a = &cfg->accounts[i];
			snprintf(p, sizeof(p), "accounts[%zu]", i);
			if (!json_is_object(v)) {
				rc = cfg_fail(&c, p,
					      "expected an object, got %s",
					      mgmt_json_type_name(v));
				goto fail;
			}
			cfg->nr_accounts = i + 1;
			rc = cfg_account_from_json(&c, v, p, a);
			if (rc)
				goto fail;
			for (size_t j = 0; j < i; j++) {
				if (strcmp(cfg->accounts[j].user, a->user) ==
				    0) {
					rc = cfg_fail(&c, p,
						      "account '%s' is "
						      "defined twice",
						      a->user);
					goto fail;
				}
			}
		}
	}

	if ((rc = cfg_get(&c, root, "", "targets", JSON_ARRAY, false, &arr)))
		goto fail;
	if (arr && json_array_size(arr)) {
		cfg->targets =
		    calloc(json_array_size(arr), sizeof(*cfg->targets));
		if (!cfg->targets) {
			rc = -ENOMEM;
			goto fail;
		}
		json_array_foreach(arr, i, v)
		{
			struct mgmt_cfg_target *t = &cfg->targets[i];
			snprintf(p, sizeof(p), "targets[%zu]", i);
			if (!json_is_object(v)) {
				rc = cfg_fail(&c, p,
					      "expected an object, got %s",
					      mgmt_json_type_name(v));
				goto fail;
			}
			cfg->nr_targets = i + 1;
			rc = cfg_target_from_json(&c, v, p, t);
			if (rc)
				goto fail;
			for (size_t j = 0; j < i; j++) {
				if (strcmp(cfg->targets[j].name, t->name) ==
				    0) {
					rc = cfg_fail(&c, p,
						      "target '%s' is "
						      "defined twice",
						      t->name);
					goto fail;
				}
			}
		}
	}
	*out = cfg;
	return 0;
fail:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "config %s: out of memory", src);
	mgmt_config_free(cfg);
	return rc;
}

int mgmt_config_parse_file(const char *path, struct mgmt_config **out,
			   char *err, size_t errlen)
{
	json_error_t je;
	struct stat st;
	json_t *root;
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "config %s: cannot open: %s%s", path,
			 strerror(-rc),
			 rc == -ENOENT ? " (check the path)" : "");
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > MGMT_CONFIG_FILE_MAX) {
		snprintf(err, errlen,
			 "config %s: not a regular file of at most %u MiB",
			 path, MGMT_CONFIG_FILE_MAX >> 20);
		close(fd);
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "config %s: out of memory", path);
		return -ENOMEM;
	}
	while (len < (size_t)st.st_size &&
	       (n = read(fd, buf + len, (size_t)st.st_size - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			snprintf(err, errlen, "config %s: read failed: %s",
				 path, strerror(errno));
			free(buf);
			close(fd);
			return rc;
		}
		len += (size_t)n;
	}
	close(fd);
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	if (!root) {
		snprintf(err, errlen,
			 "config %s: line %d, column %d: %s; fix the JSON "
			 "syntax there",
			 path, je.line, je.column, je.text);
		return -EINVAL;
	}
	rc = mgmt_config_from_json(root, path, out, err, errlen);
	json_decref(root);
	return rc;
}

/* ---- to JSON ------------------------------------------------------- */

static json_t *cfg_str_array(const char *items, size_t width, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(items + i * width));
	return a;
}

json_t *mgmt_cfg_lun_to_json(const struct mgmt_cfg_lun *l, unsigned flags)
{
	bool live = flags & MGMT_CFG_LIVE;

	json_t *o = json_pack(
	    "{s:I, s:s, s:s, s:s, s:I, s:i, s:b, s:b, s:s, s:b, s:I, s:b}",
	    "lun", (json_int_t)l->lun, "type",
	    l->p.dtype[0] ? l->p.dtype : SCSI_DEVICE_TYPE_DEFAULT, "backing",
	    l->p.backing, "bstype", l->p.bstype, "size",
	    (json_int_t)(live ? l->cur_size : l->p.size), "block_size",
	    (int)l->p.block_size, "readonly", l->p.readonly, "direct",
	    l->p.direct, "serial", live ? l->cur_serial : l->p.serial, "thin",
	    l->p.thin, "physical_block_size",
	    (json_int_t)l->p.physical_block_size, "removable", l->p.removable);

	/* Only where set: the stores without options never show one. */
	if (o && l->p.bsopts[0])
		json_object_set_new(o, "bsopts", json_string(l->p.bsopts));
	return o;
}

json_t *mgmt_cfg_target_to_json(const struct mgmt_cfg_target *t, unsigned flags)
{
	json_t *luns = json_array(), *o;

	for (size_t i = 0; luns && i < t->nr_luns; i++)
		json_array_append_new(luns,
				      mgmt_cfg_lun_to_json(&t->luns[i], flags));
	o = json_pack(
	    "{s:s, s:s, s:o, s:o, s:o, s:s, s:o}", "name", t->name, "alias",
	    t->alias, "acls",
	    cfg_str_array((const char *)t->acls, SCSI_NAME_MAX, t->nr_acls),
	    "portals",
	    cfg_str_array((const char *)t->portals, SCSI_PORTAL_MAX,
			  t->nr_portals),
	    "incoming_users",
	    cfg_str_array((const char *)t->users_in, SCSI_NAME_MAX,
			  t->nr_users_in),
	    "outgoing_user", t->user_out, "luns", luns);
	mgmt_cfg_tpgs_to_json(t, flags, o);
	return o;
}

json_t *mgmt_config_to_json(const struct mgmt_config *c, unsigned flags)
{
	json_t *accounts = json_array();
	json_t *targets = json_array();

	for (size_t i = 0; accounts && i < c->nr_accounts; i++) {
		const struct mgmt_cfg_account *a = &c->accounts[i];
		json_t *o = json_pack("{s:s}", "user", a->user);
		if (o && (flags & MGMT_CFG_SECRETS))
			json_object_set_new(o, "password",
					    json_string(a->secret));
		json_array_append_new(accounts, o);
	}
	for (size_t i = 0; targets && i < c->nr_targets; i++)
		json_array_append_new(
		    targets, mgmt_cfg_target_to_json(&c->targets[i], flags));
	return json_pack("{s:i, s:o, s:o}", "version", MGMT_CONFIG_VERSION,
			 "accounts", accounts, "targets", targets);
}

/* ---- snapshot of the running configuration -------------------------- */

static size_t cfg_list_len(const struct list_head *h)
{
	size_t n = 0;

	for (const struct list_head *p = h->next; p != h; p = p->next)
		n++;
	return n;
}

static int cfg_snapshot_target(struct scsi_target *st,
			       struct mgmt_cfg_target *t)
{
	struct scsi_acl *acl;
	struct scsi_portal_ref *pr;
	struct scsi_user_ref *u;
	size_t i;

	memcpy(t->name, st->name, sizeof(t->name));
	memcpy(t->alias, st->alias, sizeof(t->alias));
	memcpy(t->user_out, st->user_out, sizeof(t->user_out));
	t->tid = st->tid;
	t->nr_acls = cfg_list_len(&st->acls);
	t->nr_portals = cfg_list_len(&st->portals);
	t->nr_users_in = cfg_list_len(&st->users_in);
	t->nr_luns = st->lun_map ? st->lun_map->count : 0;
	if ((t->nr_acls && !(t->acls = calloc(t->nr_acls, sizeof(*t->acls)))) ||
	    (t->nr_portals &&
	     !(t->portals = calloc(t->nr_portals, sizeof(*t->portals)))) ||
	    (t->nr_users_in &&
	     !(t->users_in = calloc(t->nr_users_in, sizeof(*t->users_in)))) ||
	    (t->nr_luns && !(t->luns = calloc(t->nr_luns, sizeof(*t->luns)))))
		return -ENOMEM;
	i = 0;
	list_for_each_entry (acl, &st->acls, link)
		memcpy(t->acls[i++], acl->initiator, SCSI_NAME_MAX);
	i = 0;
	list_for_each_entry (pr, &st->portals, link)
		memcpy(t->portals[i++], pr->addr, SCSI_PORTAL_MAX);
	i = 0;
	list_for_each_entry (u, &st->users_in, link)
		memcpy(t->users_in[i++], u->user, SCSI_NAME_MAX);
	if (mgmt_cfg_tpgs_snapshot(st, t))
		return -ENOMEM;
	for (i = 0; i < t->nr_luns; i++) {
		const struct scsi_lu *lu = st->lun_map->ent[i].lu;
		struct mgmt_cfg_lun *l = &t->luns[i];

		l->lun = st->lun_map->ent[i].lun;
		l->p = lu->params;
		if (!l->p.bstype[0])
			snprintf(l->p.bstype, sizeof(l->p.bstype), "%s",
				 bs_default_file_store());
		if (!l->p.block_size)
			l->p.block_size = lu->block_size;
		l->cur_size = atomic_load(&lu->nr_blocks) * lu->block_size;
		memcpy(l->cur_serial, lu->serial, sizeof(l->cur_serial));
		l->cur_serial[sizeof(l->cur_serial) - 1] = '\0';
	}
	return 0;
}

int mgmt_config_snapshot(struct mgmt_config **out)
{
	struct mgmt_config *c = calloc(1, sizeof(*c));
	struct scsi_account *a;
	struct scsi_target *t;
	size_t i;
	int rc = 0;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	scsi_config_rdlock();
	c->nr_accounts = cfg_list_len(scsi_account_list());
	c->nr_targets = cfg_list_len(scsi_target_list());
	if ((c->nr_accounts &&
	     !(c->accounts = calloc(c->nr_accounts, sizeof(*c->accounts)))) ||
	    (c->nr_targets &&
	     !(c->targets = calloc(c->nr_targets, sizeof(*c->targets))))) {
		rc = -ENOMEM;
		goto out;
	}
	i = 0;
	list_for_each_entry (a, scsi_account_list(), link) {
		memcpy(c->accounts[i].user, a->user, sizeof(a->user));
		memcpy(c->accounts[i].secret, a->secret, sizeof(a->secret));
		i++;
	}
	i = 0;
	list_for_each_entry (t, scsi_target_list(), link) {
		rc = cfg_snapshot_target(t, &c->targets[i++]);
		if (rc)
			break;
	}
out:
	scsi_config_unlock();
	if (rc) {
		mgmt_config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void mgmt_config_free(struct mgmt_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->targets && i < c->nr_targets; i++) {
		free(c->targets[i].acls);
		free(c->targets[i].portals);
		free(c->targets[i].users_in);
		free(c->targets[i].luns);
		free(c->targets[i].tpgs);
	}
	if (c->accounts)
		explicit_bzero(c->accounts,
			       c->nr_accounts * sizeof(*c->accounts));
	free(c->accounts);
	free(c->targets);
	free(c);
}

/* ---- apply --------------------------------------------------------- */

struct cfg_apply {
	char msgs[2048];
	size_t used;
	unsigned failures;
	int first_rc;
};

__attribute__((format(printf, 3, 4))) static void
cfg_apply_fail(struct cfg_apply *a, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!a->failures++)
		a->first_rc = rc;
	if (a->used + 3 >= sizeof(a->msgs))
		return;
	if (a->used) {
		memcpy(a->msgs + a->used, "; ", 3);
		a->used += 2;
	}
	va_start(ap, fmt);
	int n =
	    vsnprintf(a->msgs + a->used, sizeof(a->msgs) - a->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		a->used += (size_t)n;
	if (a->used >= sizeof(a->msgs))
		a->used = sizeof(a->msgs) - 1;
}

static bool cfg_account_known(const struct mgmt_config *c, const char *user)
{
	bool live;

	for (size_t i = 0; i < c->nr_accounts; i++) {
		if (strcmp(c->accounts[i].user, user) == 0)
			return true;
	}
	scsi_config_rdlock();
	live = scsi_account_find(user) != NULL;
	scsi_config_unlock();
	return live;
}

/* Bindings name accounts that must exist: refuse the file before changing
 * anything rather than half-apply it. */
static int cfg_check_refs(const struct mgmt_config *c, const char *src,
			  char *err, size_t errlen)
{
	for (size_t i = 0; i < c->nr_targets; i++) {
		const struct mgmt_cfg_target *t = &c->targets[i];
		for (size_t j = 0; j < t->nr_users_in; j++) {
			if (!cfg_account_known(c, t->users_in[j])) {
				snprintf(err, errlen,
					 "config %s: targets[%zu]."
					 "incoming_users[%zu]: account '%s' "
					 "does not exist; define it under "
					 "\"accounts\" or create it first",
					 src, i, j, t->users_in[j]);
				return -ENOENT;
			}
		}
		if (t->user_out[0] && !cfg_account_known(c, t->user_out)) {
			snprintf(err, errlen,
				 "config %s: targets[%zu].outgoing_user: "
				 "account '%s' does not exist; define it under "
				 "\"accounts\" or create it first",
				 src, i, t->user_out);
			return -ENOENT;
		}
	}
	return 0;
}

static void cfg_apply_target(const struct mgmt_cfg_target *ct,
			     struct cfg_apply *a)
{
	struct scsi_target *t;
	bool has, out_free;
	char msg[512];
	int rc;

	scsi_config_rdlock();
	t = scsi_target_find(ct->name);
	scsi_config_unlock();
	if (!t) {
		rc = scsi_target_create(ct->name, ct->alias, &t);
		if (rc) {
			cfg_apply_fail(a, rc, "target %s: %s", ct->name,
				       strerror(-rc));
			return;
		}
	}
	for (size_t i = 0; i < ct->nr_acls; i++) {
		rc = scsi_acl_add(t, ct->acls[i]);
		if (rc && rc != -EEXIST)
			cfg_apply_fail(a, rc, "target %s: ACL %s: %s", ct->name,
				       ct->acls[i], strerror(-rc));
	}
	for (size_t i = 0; i < ct->nr_portals; i++) {
		struct scsi_portal_ref *pr;

		has = false;
		scsi_config_rdlock();
		list_for_each_entry (pr, &t->portals, link)
			has = has || strcmp(pr->addr, ct->portals[i]) == 0;
		scsi_config_unlock();
		if (has)
			continue;
		rc = mgmt_portal_add(t, ct->portals[i], msg, sizeof(msg));
		if (rc)
			cfg_apply_fail(a, rc, "target %s: %s", ct->name, msg);
	}
	for (size_t i = 0; i < ct->nr_luns; i++) {
		const struct mgmt_cfg_lun *l = &ct->luns[i];
		scsi_config_rdlock();
		has = scsi_lun_map_find(t->lun_map, l->lun) != NULL;
		scsi_config_unlock();
		if (has)
			continue;
		msg[0] = '\0';
		rc = scsi_lu_create(t, l->lun, &l->p, msg, sizeof(msg));
		if (rc)
			cfg_apply_fail(a, rc, "target %s LUN %llu: %s",
				       ct->name, (unsigned long long)l->lun,
				       msg[0] ? msg : strerror(-rc));
	}
	for (size_t i = 0; i < ct->nr_tpgs; i++) {
		rc = mgmt_cfg_tpg_apply(t, &ct->tpgs[i], msg, sizeof(msg));
		if (rc)
			cfg_apply_fail(a, rc, "target %s: %s", ct->name, msg);
	}
	for (size_t i = 0; i < ct->nr_users_in; i++) {
		rc = scsi_account_bind(t, ct->users_in[i], false);
		if (rc && rc != -EEXIST)
			cfg_apply_fail(a, rc, "target %s: account %s: %s",
				       ct->name, ct->users_in[i],
				       strerror(-rc));
	}
	if (ct->user_out[0]) {
		scsi_config_rdlock();
		out_free = t->user_out[0] == '\0';
		scsi_config_unlock();
		if (out_free) {
			rc = scsi_account_bind(t, ct->user_out, true);
			if (rc)
				cfg_apply_fail(a, rc,
					       "target %s: outgoing account "
					       "%s: %s",
					       ct->name, ct->user_out,
					       strerror(-rc));
		}
	}
}

int mgmt_config_apply(const struct mgmt_config *c, const char *src, char *err,
		      size_t errlen)
{
	struct cfg_apply a = {.used = 0};
	int rc;

	rc = cfg_check_refs(c, src, err, errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < c->nr_accounts; i++) {
		const struct mgmt_cfg_account *ca = &c->accounts[i];
		bool has;
		scsi_config_rdlock();
		has = scsi_account_find(ca->user) != NULL;
		scsi_config_unlock();
		if (has)
			continue;
		rc = scsi_account_create(ca->user, ca->secret);
		if (rc)
			cfg_apply_fail(&a, rc, "account %s: %s", ca->user,
				       strerror(-rc));
	}
	for (size_t i = 0; i < c->nr_targets; i++)
		cfg_apply_target(&c->targets[i], &a);
	if (a.failures) {
		snprintf(err, errlen,
			 "config %s: %u object%s could not be applied (the "
			 "rest was): %s",
			 src, a.failures, a.failures == 1 ? "" : "s", a.msgs);
		return a.first_rc;
	}
	return 0;
}

int mgmt_config_load(const char *path, char *err, size_t errlen)
{
	struct mgmt_config *c;
	int rc;

	rc = mgmt_config_parse_file(path, &c, err, errlen);
	if (rc)
		return rc;
	rc = mgmt_config_apply(c, path, err, errlen);
	mgmt_config_free(c);
	return rc;
}

/* ---- atomic save --------------------------------------------------- */

int mgmt_config_write_file(const char *path, json_t *root, char *err,
			   size_t errlen)
{
	enum util_file_stage stage;
	char *text, *line;
	size_t len;
	int rc;

	if (path[0] == '\0' || strlen(path) >= 4096) {
		snprintf(err, errlen, "config file path '%.64s' is invalid",
			 path);
		return -EINVAL;
	}
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	len = text ? strlen(text) : 0;
	line = text ? realloc(text, len + 2) : NULL;
	if (!line) {
		free(text);
		snprintf(err, errlen, "config %s: out of memory", path);
		return -ENOMEM;
	}
	line[len++] = '\n';
	line[len] = '\0';
	rc = util_file_replace(path, line, len, &stage);
	free(line);
	if (rc == 0)
		return 0;
	if (stage == UTIL_FILE_CREATE)
		snprintf(err, errlen,
			 "config %s: cannot create a file next to it: %s; "
			 "check that the directory exists and is writable",
			 path, strerror(-rc));
	else if (stage == UTIL_FILE_WRITE)
		snprintf(err, errlen, "config %s: writing it failed: %s", path,
			 strerror(-rc));
	else
		snprintf(err, errlen,
			 "config %s: cannot replace it: %s; is it a "
			 "directory, or on another file system?",
			 path, strerror(-rc));
	return rc;
}

int mgmt_config_save(const char *path, char *err, size_t errlen)
{
	struct mgmt_config *c;
	json_t *root;
	int rc;

	rc = mgmt_config_snapshot(&c);
	if (rc) {
		snprintf(err, errlen, "config %s: out of memory", path);
		return rc;
	}
	root = mgmt_config_to_json(c, MGMT_CFG_SECRETS);
	mgmt_config_free(c);
	if (!root) {
		snprintf(err, errlen, "config %s: out of memory", path);
		return -ENOMEM;
	}
	rc = mgmt_config_write_file(path, root, err, errlen);
	json_decref(root);
	return rc;
}
