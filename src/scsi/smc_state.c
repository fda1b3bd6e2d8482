/*
 * The library model of a medium changer (SMC-3 §4: medium transport,
 * storage, import/export and data transfer elements; §6.9 element
 * addresses as mode page 1Dh reports them) and its state file, the
 * changer LU's backing:
 *   {"format": "lunar-changer", "version": 1,
 *    "drives": [{"lun": 1, "cartridge": null}],
 *    "import_export": [{"cartridge": {"barcode": "A0001", "file": "/x.iso"},
 *                       "operator": true}],
 *    "slots": [{"cartridge": null},
 *              {"cartridge": {...}, "source": 4096}]}
 * An element holds its cartridge (barcode, the file a drive loads) or
 * null; "source" is the SOURCE STORAGE ELEMENT ADDRESS, absent when not
 * valid. The transport element is never full between commands and is
 * not saved. Written atomically (util_file_replace) on every change, so
 * that a MOVE MEDIUM survives a restart. Prevention of removal is per
 * I_T nexus and ends with it, so it is not saved. No locking here: the
 * changer (smc.c) guards a library with its own lock.
 */
#include "scsi/smc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/file.h"

#define SMC_STATE_FORMAT  "lunar-changer"
#define SMC_STATE_VERSION 1

void smc_lib_free(struct smc_lib *lib)
{
	struct smc_elem *sets[] = {lib->dt, lib->ie, lib->st};
	unsigned counts[] = {lib->ndt, lib->nie, lib->nst};

	for (unsigned s = 0; s < 3; s++) {
		for (unsigned i = 0; i < counts[s]; i++) {
			if (sets[s][i].cart) {
				free(sets[s][i].cart->file);
				free(sets[s][i].cart);
			}
		}
		free(sets[s]);
	}
	memset(lib, 0, sizeof(*lib));
}

static struct smc_cart *smc_cart_new(const char *barcode, const char *file)
{
	struct smc_cart *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	snprintf(c->barcode, sizeof(c->barcode), "%s", barcode);
	c->file = strdup(file);
	if (!c->file) {
		free(c);
		return NULL;
	}
	return c;
}

static int smc_elems_dup(struct smc_elem **dst, const struct smc_elem *src,
			 unsigned n)
{
	*dst = n ? calloc(n, sizeof(**dst)) : NULL;
	if (n && !*dst)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		(*dst)[i] = src[i];
		if (src[i].cart) {
			(*dst)[i].cart = smc_cart_new(src[i].cart->barcode,
						      src[i].cart->file);
			if (!(*dst)[i].cart)
				return -ENOMEM;
		}
	}
	return 0;
}

int smc_lib_dup(struct smc_lib *dst, const struct smc_lib *src)
{
	int rc;

	memset(dst, 0, sizeof(*dst));
	dst->mt = src->mt;
	dst->mt.cart = NULL;
	rc = smc_elems_dup(&dst->dt, src->dt, src->ndt);
	dst->ndt = dst->dt ? src->ndt : 0;
	if (!rc)
		rc = smc_elems_dup(&dst->ie, src->ie, src->nie);
	dst->nie = dst->ie ? src->nie : 0;
	if (!rc)
		rc = smc_elems_dup(&dst->st, src->st, src->nst);
	dst->nst = dst->st ? src->nst : 0;
	if (rc)
		smc_lib_free(dst);
	return rc;
}

uint16_t smc_lib_addr(enum smc_etype type, unsigned index)
{
	switch (type) {
	case SMC_ET_DT:
		return (uint16_t)(SMC_ADDR_DT + index);
	case SMC_ET_IE:
		return (uint16_t)(SMC_ADDR_IE + index);
	case SMC_ET_ST:
		return (uint16_t)(SMC_ADDR_ST + index);
	default:
		return SMC_ADDR_MT;
	}
}

struct smc_elem *smc_lib_elem(const struct smc_lib *lib, uint16_t addr,
			      enum smc_etype *type)
{
	enum smc_etype t;
	struct smc_elem *e = NULL;

	if (addr == SMC_ADDR_MT) {
		t = SMC_ET_MT;
		e = (struct smc_elem *)&lib->mt;
	} else if (addr < SMC_ADDR_IE) {
		t = SMC_ET_DT;
		if (addr - SMC_ADDR_DT < lib->ndt)
			e = &lib->dt[addr - SMC_ADDR_DT];
	} else if (addr < SMC_ADDR_ST) {
		t = SMC_ET_IE;
		if (addr - SMC_ADDR_IE < lib->nie)
			e = &lib->ie[addr - SMC_ADDR_IE];
	} else {
		t = SMC_ET_ST;
		if (addr - SMC_ADDR_ST < lib->nst)
			e = &lib->st[addr - SMC_ADDR_ST];
	}
	if (e && type)
		*type = t;
	return e;
}

struct smc_elem *smc_lib_find_barcode(const struct smc_lib *lib,
				      const char *barcode, uint16_t *addr)
{
	struct smc_elem *sets[] = {lib->dt, lib->ie, lib->st};
	unsigned counts[] = {lib->ndt, lib->nie, lib->nst};
	enum smc_etype types[] = {SMC_ET_DT, SMC_ET_IE, SMC_ET_ST};

	for (unsigned s = 0; s < 3; s++) {
		for (unsigned i = 0; i < counts[s]; i++) {
			struct smc_elem *e = &sets[s][i];

			if (e->cart && strcmp(e->cart->barcode, barcode) == 0) {
				if (addr)
					*addr = smc_lib_addr(types[s], i);
				return e;
			}
		}
	}
	return NULL;
}

/* ---- JSON ---- */

static json_t *smc_elem_json(const struct smc_elem *e, enum smc_etype type)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (type == SMC_ET_DT)
		json_object_set_new(o, "lun", json_integer((json_int_t)e->lun));
	if (e->cart)
		json_object_set_new(o, "cartridge",
				    json_pack("{s:s, s:s}", "barcode",
					      e->cart->barcode, "file",
					      e->cart->file));
	else
		json_object_set_new(o, "cartridge", json_null());
	if (e->svalid)
		json_object_set_new(o, "source", json_integer(e->src));
	if (type == SMC_ET_IE && e->cart)
		json_object_set_new(o, "operator", json_boolean(e->impexp));
	return o;
}

static json_t *smc_elems_json(const struct smc_elem *v, unsigned n,
			      enum smc_etype type)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < n; i++) {
		if (json_array_append_new(a, smc_elem_json(&v[i], type))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *smc_lib_to_json(const struct smc_lib *lib)
{
	return json_pack("{s:s, s:i, s:o*, s:o*, s:o*}", "format",
			 SMC_STATE_FORMAT, "version", SMC_STATE_VERSION,
			 "drives", smc_elems_json(lib->dt, lib->ndt, SMC_ET_DT),
			 "import_export",
			 smc_elems_json(lib->ie, lib->nie, SMC_ET_IE), "slots",
			 smc_elems_json(lib->st, lib->nst, SMC_ET_ST));
}

static int smc_elem_from_json(json_t *o, enum smc_etype type, const char *what,
			      unsigned i, struct smc_elem *e, char *err,
			      size_t errlen)
{
	json_t *cart, *src, *lun, *op;
	const char *key;
	json_t *v;

	if (!json_is_object(o)) {
		snprintf(err, errlen, "%s[%u] is not an object", what, i);
		return -EINVAL;
	}
	json_object_foreach(o, key, v)
	{
		if (strcmp(key, "cartridge") && strcmp(key, "source") &&
		    strcmp(key, "operator") &&
		    (type != SMC_ET_DT || strcmp(key, "lun"))) {
			snprintf(err, errlen, "%s[%u] has an unknown key '%s'",
				 what, i, key);
			return -EINVAL;
		}
	}
	if (type == SMC_ET_DT) {
		lun = json_object_get(o, "lun");
		if (!json_is_integer(lun) || json_integer_value(lun) < 0 ||
		    json_integer_value(lun) > 16383) {
			snprintf(err, errlen,
				 "%s[%u] needs a \"lun\" from 0 to 16383", what,
				 i);
			return -EINVAL;
		}
		e->lun = (uint64_t)json_integer_value(lun);
	}
	src = json_object_get(o, "source");
	if (src) {
		if (!json_is_integer(src) || json_integer_value(src) < 0 ||
		    json_integer_value(src) > 0xffff) {
			snprintf(err, errlen,
				 "%s[%u].source is not an element address "
				 "(0..65535)",
				 what, i);
			return -EINVAL;
		}
		e->svalid = true;
		e->src = (uint16_t)json_integer_value(src);
	}
	op = json_object_get(o, "operator");
	if (op && !json_is_boolean(op)) {
		snprintf(err, errlen, "%s[%u].operator is not true or false",
			 what, i);
		return -EINVAL;
	}
	e->impexp = op && json_is_true(op);
	cart = json_object_get(o, "cartridge");
	if (!cart || json_is_null(cart))
		return 0;
	json_t *bc = json_object_get(cart, "barcode");
	json_t *file = json_object_get(cart, "file");
	if (!json_is_object(cart) || !json_is_string(bc) ||
	    !json_is_string(file) || json_object_size(cart) != 2 ||
	    !json_string_length(bc) ||
	    json_string_length(bc) > SMC_BARCODE_MAX ||
	    !json_string_length(file)) {
		snprintf(err, errlen,
			 "%s[%u].cartridge must be {\"barcode\": 1..%d "
			 "characters, \"file\": a path}",
			 what, i, SMC_BARCODE_MAX);
		return -EINVAL;
	}
	e->cart = smc_cart_new(json_string_value(bc), json_string_value(file));
	if (!e->cart) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int smc_elems_from_json(json_t *root, const char *what,
			       enum smc_etype type, unsigned max,
			       struct smc_elem **out, unsigned *n, char *err,
			       size_t errlen)
{
	json_t *a = json_object_get(root, what);
	size_t len;

	if (!json_is_array(a)) {
		snprintf(err, errlen, "\"%s\" is missing or not an array",
			 what);
		return -EINVAL;
	}
	len = json_array_size(a);
	if (len > max) {
		snprintf(err, errlen, "\"%s\" has %zu elements, more than %u",
			 what, len, max);
		return -EINVAL;
	}
	*out = len ? calloc(len, sizeof(**out)) : NULL;
	if (len && !*out) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*n = (unsigned)len;
	for (unsigned i = 0; i < len; i++) {
		int rc = smc_elem_from_json(json_array_get(a, i), type, what, i,
					    &(*out)[i], err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

/* No barcode twice, no drive LUN twice. */
static int smc_lib_check(const struct smc_lib *lib, char *err, size_t errlen)
{
	for (unsigned i = 0; i < lib->ndt; i++) {
		for (unsigned j = 0; j < i; j++) {
			if (lib->dt[i].lun == lib->dt[j].lun) {
				snprintf(err, errlen,
					 "drive LUN %llu is listed twice",
					 (unsigned long long)lib->dt[i].lun);
				return -EINVAL;
			}
		}
	}
	struct smc_elem *sets[] = {lib->dt, lib->ie, lib->st};
	unsigned counts[] = {lib->ndt, lib->nie, lib->nst};
	for (unsigned s = 0; s < 3; s++) {
		for (unsigned i = 0; i < counts[s]; i++) {
			struct smc_elem *e = &sets[s][i];

			if (e->cart && smc_lib_find_barcode(
					   lib, e->cart->barcode, NULL) != e) {
				snprintf(err, errlen,
					 "barcode '%s' is on two cartridges",
					 e->cart->barcode);
				return -EINVAL;
			}
		}
	}
	return 0;
}

int smc_lib_from_json(json_t *root, struct smc_lib *lib, char *err,
		      size_t errlen)
{
	json_t *fmt, *ver;
	int rc;

	memset(lib, 0, sizeof(*lib));
	fmt = json_object_get(root, "format");
	ver = json_object_get(root, "version");
	if (!json_is_object(root) || !json_is_string(fmt) ||
	    strcmp(json_string_value(fmt), SMC_STATE_FORMAT) ||
	    !json_is_integer(ver)) {
		snprintf(err, errlen,
			 "it is not a changer state (\"format\": \"%s\")",
			 SMC_STATE_FORMAT);
		return -EINVAL;
	}
	if (json_integer_value(ver) != SMC_STATE_VERSION) {
		snprintf(err, errlen,
			 "version %lld is not known; this lunard "
			 "reads version %d",
			 (long long)json_integer_value(ver), SMC_STATE_VERSION);
		return -EINVAL;
	}
	rc = smc_elems_from_json(root, "drives", SMC_ET_DT, SMC_MAX_DT,
				 &lib->dt, &lib->ndt, err, errlen);
	if (!rc)
		rc = smc_elems_from_json(root, "import_export", SMC_ET_IE,
					 SMC_MAX_IE, &lib->ie, &lib->nie, err,
					 errlen);
	if (!rc)
		rc = smc_elems_from_json(root, "slots", SMC_ET_ST, SMC_MAX_ST,
					 &lib->st, &lib->nst, err, errlen);
	if (!rc)
		rc = smc_lib_check(lib, err, errlen);
	if (rc)
		smc_lib_free(lib);
	return rc;
}

int smc_lib_save(const char *path, const struct smc_lib *lib, char *err,
		 size_t errlen)
{
	json_t *root = smc_lib_to_json(lib);
	char *text;
	enum util_file_stage stage;
	int rc;

	text = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(root);
	if (!text) {
		snprintf(err, errlen, "out of memory writing %s", path);
		return -ENOMEM;
	}
	rc = util_file_replace(path, text, strlen(text), &stage);
	free(text);
	if (rc < 0)
		snprintf(err, errlen, "cannot %s changer state file %s: %s",
			 stage == UTIL_FILE_RENAME ? "replace" : "write", path,
			 strerror(-rc));
	return rc;
}

int smc_lib_load(const char *path, struct smc_lib *lib, char *err,
		 size_t errlen)
{
	json_error_t je;
	json_t *root;
	char why[256];
	int rc;

	memset(lib, 0, sizeof(*lib));
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		/* A new library: one mail slot to import through. */
		lib->ie = calloc(1, sizeof(*lib->ie));
		if (!lib->ie) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		lib->nie = 1;
		rc = smc_lib_save(path, lib, err, errlen);
		if (rc)
			smc_lib_free(lib);
		return rc;
	}
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen,
			 "changer state file %s is not valid JSON (line %d: "
			 "%s); fix it, or delete it to start an empty library",
			 path, je.line, je.text);
		return -EINVAL;
	}
	rc = smc_lib_from_json(root, lib, why, sizeof(why));
	json_decref(root);
	if (rc)
		snprintf(err, errlen,
			 "changer state file %s is not usable: %s; fix it, or "
			 "delete it to start an empty library",
			 path, why);
	return rc;
}
