/*
 * Where persistent reservations survive a power loss (SPC-5 §5.13,
 * APTPL): the image of a LU's persistent state (struct scsi_pr_image),
 * the conversion between it and the live state, and the one store there
 * is today, a JSON file per LU under the state directory,
 *   <state dir>/pr/<target>.lun<N>.json
 * written atomically (temporary file, fsync, rename, fsync of the
 * directory) before the PERSISTENT RESERVE OUT that changed the state
 * completes (pr_out.c), and read back when the LU is created. All file
 * I/O of reservations is here, behind struct scsi_pr_store_ops: another
 * store (RBD image metadata) is another set of the same three calls.
 *
 * The file:
 *   {"format": "lunar-pr", "version": 1, "target": "iqn...", "lun": 1,
 *    "aptpl": true,
 *    "registrations": [{"key": "0x1122334455667788",
 *                       "transport_id": "iqn...,i,0x23d000000001",
 *                       "relative_target_port": 1, "all_tg_pt": false}],
 *    "reservation": {"type": 5, "scope": 0, "holder": 0}}
 * ("reservation" null when there is none, "holder" absent for the all
 * registrants types). Keys are strings: JSON numbers lose 64-bit values.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "scsi/pr_internal.h"
#include "scsi/target.h"
#include "util/bytes.h"
#include "util/file.h"

#define PR_STORE_SUBDIR	 "pr"
#define PR_STORE_FORMAT	 "lunar-pr"
#define PR_STORE_VERSION 1

/* ---- identities ---- */

/* Any name the login takes (scsi_name_accepted), lowercased into norm
 * (names compare without case): a registration made by an initiator must
 * load again, and the initiator can be named in a TransportID. */
static bool pr_name_norm(const char *name, size_t len, char *norm)
{
	if (!scsi_name_accepted(name, len))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		norm[i] = (char)(c < 0x80 ? tolower(c) : c);
	}
	norm[len] = '\0';
	return true;
}

bool pr_id_parse(struct pr_id *id, const char *text, size_t len)
{
	char norm[SCSI_NAME_MAX];
	size_t name_len = len, sep_len = strlen(PR_ISID_SEP) + 1;
	uint64_t isid = 0;
	bool has_isid = false;

	for (size_t i = 0; i + sep_len <= len; i++) {
		if (text[i] == ',' &&
		    strncasecmp(text + i + 1, PR_ISID_SEP, sep_len - 1) == 0) {
			name_len = i;
			has_isid = true;
		}
	}
	if (!pr_name_norm(text, name_len, norm))
		return false;
	if (has_isid) {
		size_t digits = len - name_len - sep_len;

		if (digits == 0 || digits > PR_ISID_DIGITS)
			return false;
		for (size_t i = name_len + sep_len; i < len; i++) {
			int v = hex_digit_value(text[i]);

			if (v < 0)
				return false;
			isid = isid << 4 | (uint64_t)v;
		}
	}
	memset(id, 0, sizeof(*id));
	if (has_isid)
		snprintf(id->tid, sizeof(id->tid), "%s,%s%012" PRIx64, norm,
			 PR_ISID_SEP, isid);
	else
		snprintf(id->tid, sizeof(id->tid), "%s", norm);
	id->name_len = (uint16_t)strlen(norm);
	id->has_isid = has_isid;
	return true;
}

/* ---- images ---- */

void scsi_pr_image_free(struct scsi_pr_image *img)
{
	free(img->regs);
	img->regs = NULL;
	img->nr_regs = 0;
}

int pr_set_to_image(const struct pr_set *s, struct scsi_pr_image *img)
{
	const struct pr_reg *reg;
	unsigned i = 0;

	memset(img, 0, sizeof(*img));
	img->aptpl = s->aptpl;
	img->reserved = s->reserved;
	img->type = s->type;
	img->scope = s->scope;
	img->holder = -1;
	if (s->nr_regs) {
		img->regs = calloc(s->nr_regs, sizeof(*img->regs));
		if (!img->regs)
			return -ENOMEM;
	}
	list_for_each_entry (reg, &s->regs, link) {
		struct scsi_pr_image_reg *r = &img->regs[i];

		r->key = reg->key;
		snprintf(r->transport_id, sizeof(r->transport_id), "%s",
			 reg->id.tid);
		r->rel_port_id = reg->rel_port_id;
		r->all_tg_pt = reg->all_tg_pt;
		if (s->holder == reg)
			img->holder = (int)i;
		i++;
	}
	img->nr_regs = i;
	return 0;
}

int pr_set_from_image(struct pr_set *s, const struct scsi_pr_image *img,
		      char *err, size_t errlen)
{
	struct pr_reg **regs = NULL;

	pr_set_init(s);
	if (img->nr_regs > PR_REGS_MAX) {
		snprintf(err, errlen,
			 "%u registrations, more than the %u a LU "
			 "keeps",
			 img->nr_regs, PR_REGS_MAX);
		return -EBADMSG;
	}
	if (img->reserved &&
	    (!pr_type_valid(img->type) || img->scope != PR_SCOPE_LU)) {
		snprintf(err, errlen,
			 "reservation type %u scope %u is not a "
			 "persistent reservation type of SPC-5",
			 img->type, img->scope);
		return -EBADMSG;
	}
	if (img->reserved && !pr_type_all_regs(img->type) &&
	    (img->holder < 0 || (unsigned)img->holder >= img->nr_regs)) {
		snprintf(err, errlen,
			 "the reservation's holder %d is not one "
			 "of the %u registrations",
			 img->holder, img->nr_regs);
		return -EBADMSG;
	}
	if (img->reserved && pr_type_all_regs(img->type) && !img->nr_regs) {
		snprintf(err, errlen,
			 "an all registrants reservation without "
			 "registrations");
		return -EBADMSG;
	}
	if (img->nr_regs && !(regs = calloc(img->nr_regs, sizeof(*regs))))
		return -ENOMEM;
	for (unsigned i = 0; i < img->nr_regs; i++) {
		const struct scsi_pr_image_reg *r = &img->regs[i];
		struct pr_reg *reg = calloc(1, sizeof(*reg));

		if (!reg) {
			free(regs);
			pr_set_clear(s);
			return -ENOMEM;
		}
		list_add_tail(&reg->link, &s->regs);
		s->nr_regs++;
		regs[i] = reg;
		if (!r->key || !pr_id_parse(&reg->id, r->transport_id,
					    strnlen(r->transport_id,
						    sizeof(r->transport_id)))) {
			snprintf(err, errlen, "registration %u: %s", i,
				 r->key ? "transport_id is not an iSCSI "
					  "initiator name, optionally followed "
					  "by ,i,0x<ISID>"
					: "reservation key 0");
			free(regs);
			pr_set_clear(s);
			return -EBADMSG;
		}
		reg->key = r->key;
		reg->all_tg_pt = r->all_tg_pt;
		reg->rel_port_id = r->all_tg_pt ? 0 : r->rel_port_id;
	}
	for (unsigned i = 0; i < img->nr_regs; i++) {
		for (unsigned j = 0; j < i; j++) {
			if (pr_reg_overlap(regs[i], regs[j])) {
				snprintf(err, errlen,
					 "registrations %u and %u "
					 "name the same I_T nexus",
					 j, i);
				free(regs);
				pr_set_clear(s);
				return -EBADMSG;
			}
		}
	}
	s->aptpl = img->aptpl;
	if (img->reserved) {
		s->reserved = true;
		s->type = img->type;
		s->scope = img->scope;
		s->holder =
		    pr_type_all_regs(img->type) ? NULL : regs[img->holder];
	}
	free(regs);
	return 0;
}

/* ---- the JSON file store ---- */

static char *pr_state_dir;

int scsi_pr_set_state_dir(const char *dir)
{
	char *copy = NULL;

	if (dir && !(copy = strdup(dir)))
		return -ENOMEM;
	free(pr_state_dir);
	pr_state_dir = copy;
	return 0;
}

const struct scsi_pr_store_ops *scsi_pr_store(void)
{
	return pr_state_dir ? &scsi_pr_file_store : NULL;
}

/* Target names are iSCSI names: safe in a file name. */
static int pr_file_path(const struct scsi_lu *lu, char *out, size_t len,
			char *err, size_t errlen)
{
	int n = snprintf(out, len, "%s/%s/%s.lun%" PRIu64 ".json", pr_state_dir,
			 PR_STORE_SUBDIR, lu->target->name, lu->lun);

	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "the file name under %s is too long",
			 pr_state_dir);
		return -ENAMETOOLONG;
	}
	return 0;
}

static int pr_file_where(const struct scsi_lu *lu, char *out, size_t len)
{
	char err[128];

	return pr_file_path(lu, out, len, err, sizeof(err));
}

static int pr_file_bad(char *err, size_t errlen, const char *path,
		       const char *what)
{
	snprintf(err, errlen,
		 "%s: %s; fix it or move it away (the LU then starts "
		 "without its persistent reservations)",
		 path, what);
	return -EBADMSG;
}

static bool pr_json_key(json_t *v, uint64_t *key)
{
	const char *s = json_string_value(v);
	uint64_t k = 0;
	size_t n;

	if (!s || strncasecmp(s, "0x", 2))
		return false;
	n = strlen(s + 2);
	if (n == 0 || n > 16)
		return false;
	for (size_t i = 2; s[i]; i++) {
		int d = hex_digit_value(s[i]);

		if (d < 0)
			return false;
		k = k << 4 | (uint64_t)d;
	}
	*key = k;
	return true;
}

/* The registrations array of the file into img (regs allocated). */
static int pr_file_regs(json_t *arr, struct scsi_pr_image *img, char *what,
			size_t whatlen)
{
	size_t nr = json_array_size(arr);

	if (nr > PR_REGS_MAX) {
		snprintf(what, whatlen, "%zu registrations, at most %u", nr,
			 PR_REGS_MAX);
		return -EBADMSG;
	}
	img->regs = nr ? calloc(nr, sizeof(*img->regs)) : NULL;
	if (nr && !img->regs)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++) {
		struct scsi_pr_image_reg *r = &img->regs[i];
		json_t *o = json_array_get(arr, i);
		json_t *tid = json_object_get(o, "transport_id");
		json_t *port = json_object_get(o, "relative_target_port");
		json_t *all = json_object_get(o, "all_tg_pt");

		if (!json_is_object(o)) {
			snprintf(what, whatlen,
				 "registrations[%zu] is not an "
				 "object",
				 i);
			return -EBADMSG;
		}
		if (!pr_json_key(json_object_get(o, "key"), &r->key)) {
			snprintf(what, whatlen,
				 "registrations[%zu].key is not "
				 "a string \"0x\" and 1 to 16 hex digits",
				 i);
			return -EBADMSG;
		}
		if (!json_is_string(tid) ||
		    json_string_length(tid) >= sizeof(r->transport_id)) {
			snprintf(what, whatlen,
				 "registrations[%zu]."
				 "transport_id is not a string of at most "
				 "%u bytes",
				 i, SCSI_PR_TID_MAX - 1);
			return -EBADMSG;
		}
		snprintf(r->transport_id, sizeof(r->transport_id), "%s",
			 json_string_value(tid));
		if (!json_is_boolean(all)) {
			snprintf(what, whatlen,
				 "registrations[%zu].all_tg_pt "
				 "is not true or false",
				 i);
			return -EBADMSG;
		}
		r->all_tg_pt = json_is_true(all);
		if (!json_is_integer(port) || json_integer_value(port) < 0 ||
		    json_integer_value(port) > 0xffff ||
		    (!r->all_tg_pt && json_integer_value(port) == 0)) {
			snprintf(what, whatlen,
				 "registrations[%zu]."
				 "relative_target_port is not 1 to 65535",
				 i);
			return -EBADMSG;
		}
		r->rel_port_id = (uint16_t)json_integer_value(port);
		img->nr_regs = (unsigned)i + 1;
	}
	return 0;
}

static int pr_file_reservation(json_t *res, struct scsi_pr_image *img,
			       char *what, size_t whatlen)
{
	json_t *type = json_object_get(res, "type");
	json_t *scope = json_object_get(res, "scope");
	json_t *holder = json_object_get(res, "holder");

	img->holder = -1;
	if (!res || json_is_null(res))
		return 0;
	if (!json_is_object(res) || !json_is_integer(type) ||
	    !json_is_integer(scope) || json_integer_value(type) < 0 ||
	    json_integer_value(type) > 0xf || json_integer_value(scope) < 0 ||
	    json_integer_value(scope) > 0xf) {
		snprintf(what, whatlen,
			 "reservation is not null or an object "
			 "with the integers type and scope");
		return -EBADMSG;
	}
	img->reserved = true;
	img->type = (uint8_t)json_integer_value(type);
	img->scope = (uint8_t)json_integer_value(scope);
	if (holder) {
		if (!json_is_integer(holder) ||
		    json_integer_value(holder) < 0 ||
		    json_integer_value(holder) >= (json_int_t)img->nr_regs) {
			snprintf(what, whatlen,
				 "reservation.holder is not the "
				 "index of a registration");
			return -EBADMSG;
		}
		img->holder = (int)json_integer_value(holder);
	}
	return 0;
}

int pr_image_from_json(json_t *root, struct scsi_pr_image *img, char *what,
		       size_t whatlen)
{
	json_t *v = json_object_get(root, "aptpl");
	int rc;

	if (!json_is_boolean(v)) {
		snprintf(what, whatlen, "aptpl is not true or false");
		return -EBADMSG;
	}
	img->aptpl = json_is_true(v);
	v = json_object_get(root, "registrations");
	if (!json_is_array(v)) {
		snprintf(what, whatlen, "registrations is not an array");
		return -EBADMSG;
	}
	rc = pr_file_regs(v, img, what, whatlen);
	if (rc == 0)
		rc = pr_file_reservation(json_object_get(root, "reservation"),
					 img, what, whatlen);
	return rc;
}

static int pr_file_load(const struct scsi_lu *lu, struct scsi_pr_image *img,
			char *err, size_t errlen)
{
	char path[4096], what[512];
	json_error_t jerr;
	json_t *root, *v;
	int rc;

	memset(img, 0, sizeof(*img));
	img->holder = -1;
	rc = pr_file_path(lu, path, sizeof(path), err, errlen);
	if (rc)
		return rc;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return -ENOENT;
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (jerr.line < 0) { /* could not read it at all */
			snprintf(err, errlen, "cannot read %s: %s", path,
				 jerr.text);
			return -EIO;
		}
		snprintf(what, sizeof(what), "line %d column %d: %s", jerr.line,
			 jerr.column, jerr.text);
		return pr_file_bad(err, errlen, path, what);
	}
	rc = -EBADMSG;
	v = json_object_get(root, "format");
	if (!json_is_object(root) || !json_is_string(v) ||
	    strcmp(json_string_value(v), PR_STORE_FORMAT)) {
		snprintf(what, sizeof(what),
			 "not a lunar reservations file "
			 "(\"format\": \"%s\" missing)",
			 PR_STORE_FORMAT);
		goto bad;
	}
	v = json_object_get(root, "version");
	if (!json_is_integer(v) || json_integer_value(v) != PR_STORE_VERSION) {
		snprintf(what, sizeof(what),
			 "version is not %d, the only one "
			 "this lunar reads",
			 PR_STORE_VERSION);
		goto bad;
	}
	v = json_object_get(root, "target");
	if (!json_is_string(v) ||
	    strcmp(json_string_value(v), lu->target->name) ||
	    !json_is_integer(json_object_get(root, "lun")) ||
	    (uint64_t)json_integer_value(json_object_get(root, "lun")) !=
		lu->lun) {
		snprintf(what, sizeof(what),
			 "it names another target or "
			 "LUN than %s LUN %" PRIu64,
			 lu->target->name, lu->lun);
		goto bad;
	}
	rc = pr_image_from_json(root, img, what, sizeof(what));
	if (rc == -EBADMSG)
		goto bad;
	json_decref(root);
	if (rc)
		scsi_pr_image_free(img);
	return rc;
bad:
	json_decref(root);
	scsi_pr_image_free(img);
	return pr_file_bad(err, errlen, path, what);
}

int pr_image_to_json(json_t *root, const struct scsi_pr_image *img)
{
	json_t *regs = json_array(), *res;

	if (!regs)
		return -ENOMEM;
	json_object_set_new(root, "aptpl", json_boolean(img->aptpl));
	for (unsigned i = 0; i < img->nr_regs; i++) {
		const struct scsi_pr_image_reg *r = &img->regs[i];
		char key[24];
		json_t *o;

		snprintf(key, sizeof(key), "0x%016" PRIx64, r->key);
		o = json_pack("{s:s, s:s, s:i, s:b}", "key", key,
			      "transport_id", r->transport_id,
			      "relative_target_port", (int)r->rel_port_id,
			      "all_tg_pt", (int)r->all_tg_pt);
		if (!o || json_array_append_new(regs, o))
			goto fail;
	}
	if (json_object_set_new(root, "registrations", regs)) {
		regs = NULL;
		goto fail;
	}
	regs = NULL;
	if (!img->reserved) {
		res = json_null();
	} else {
		res = json_pack("{s:i, s:i}", "type", (int)img->type, "scope",
				(int)img->scope);
		if (res && img->holder >= 0)
			json_object_set_new(res, "holder",
					    json_integer(img->holder));
	}
	if (!res || json_object_set_new(root, "reservation", res))
		return -ENOMEM;
	return 0;
fail:
	json_decref(regs);
	return -ENOMEM;
}

static json_t *pr_file_json(const struct scsi_lu *lu,
			    const struct scsi_pr_image *img)
{
	json_t *root = json_object();

	if (!root)
		return NULL;
	json_object_set_new(root, "format", json_string(PR_STORE_FORMAT));
	json_object_set_new(root, "version", json_integer(PR_STORE_VERSION));
	json_object_set_new(root, "target", json_string(lu->target->name));
	json_object_set_new(root, "lun", json_integer((json_int_t)lu->lun));
	if (pr_image_to_json(root, img)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static void pr_sync_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
}

static int pr_file_save(const struct scsi_lu *lu,
			const struct scsi_pr_image *img, char *err,
			size_t errlen)
{
	char path[4096], dir[4096];
	json_t *root;
	char *text;
	int rc;

	rc = pr_file_path(lu, path, sizeof(path), err, errlen);
	if (rc)
		return rc;
	snprintf(dir, sizeof(dir), "%s/%s", pr_state_dir, PR_STORE_SUBDIR);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "cannot create %s: %s", dir,
			 strerror(-rc));
		return rc;
	}
	root = pr_file_json(lu, img);
	text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
	json_decref(root);
	if (!text) {
		snprintf(err, errlen, "out of memory writing %s", path);
		return -ENOMEM;
	}
	rc = util_file_replace(path, text, strlen(text), NULL);
	free(text);
	if (rc) {
		snprintf(err, errlen, "cannot write %s: %s", path,
			 strerror(-rc));
		return rc;
	}
	return 0;
}

static int pr_file_remove(const struct scsi_lu *lu, char *err, size_t errlen)
{
	char path[4096], dir[4096];
	int rc = pr_file_path(lu, path, sizeof(path), err, errlen);

	if (rc)
		return rc;
	if (unlink(path) < 0) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		snprintf(err, errlen, "cannot remove %s: %s", path,
			 strerror(-rc));
		return rc;
	}
	snprintf(dir, sizeof(dir), "%s/%s", pr_state_dir, PR_STORE_SUBDIR);
	pr_sync_dir(dir);
	return 0;
}

const struct scsi_pr_store_ops scsi_pr_file_store = {
    .name = "file",
    .load = pr_file_load,
    .save = pr_file_save,
    .remove = pr_file_remove,
    .where = pr_file_where,
};
