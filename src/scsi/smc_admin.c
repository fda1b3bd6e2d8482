/*
 * The medium changer's management and its drives' media (SMC-3 §5: the
 * library as the operator changes it), on the main thread: the
 * lunarctl changer calls (smc.h), the commit of a changed library (state
 * file first, then the swap under the changer's lock) that MOVE MEDIUM
 * shares, and how a drive LU's medium is made to agree with the
 * inventory when either LU is created (device.h lu_peer_created). The
 * main thread is the only writer of a library, so it reads one without
 * the lock; every change is made on a copy (smc_lib_dup).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scsi/device.h"
#include "scsi/sense.h"
#include "scsi/smc.h"
#include "scsi/smc_internal.h"
#include "scsi/ua.h"
#include "util/log.h"

/* ---- changes of the inventory, main thread ---- */

/* The drive LU of element e, on the main thread (which alone changes the
 * LUN maps); NULL if the target has no such LUN. */
struct scsi_lu *smc_drive_lu(struct scsi_lu *lu, const struct smc_elem *e)
{
	return scsi_lun_map_find(lu->target->lun_map, e->lun);
}

static void smc_dvcid_of(const struct scsi_lu *drive, char *out, size_t len)
{
	snprintf(out, len, "%-8s%s", SCSI_VENDOR_ID, drive->serial);
}

/* Writes lib to the state file and makes it the LU's library; on
 * success lib is left empty. */
int smc_commit(struct scsi_lu *lu, struct smc_lib *lib, char *err,
	       size_t errlen)
{
	struct smc_lu *m = smc_of(lu);
	struct smc_lib old;
	int rc = smc_lib_save(lu->params.backing, lib, err, errlen);

	if (rc)
		return rc;
	pthread_mutex_lock(&m->lock);
	old = m->lib;
	m->lib = *lib;
	pthread_mutex_unlock(&m->lock);
	smc_lib_free(&old);
	memset(lib, 0, sizeof(*lib));
	return 0;
}

/* After the operator changed the inventory: every nexus learns that any
 * element may have changed (SMC-3 §5.4 unit attention). */
static int smc_commit_admin(struct scsi_lu *lu, struct smc_lib *lib, char *err,
			    size_t errlen)
{
	int rc = smc_commit(lu, lib, err, errlen);

	if (rc == 0)
		scsi_ua_establish_others(lu, NULL,
					 SCSI_ASC_MEDIUM_MAY_HAVE_CHANGED);
	smc_lib_free(lib);
	return rc;
}

/* Makes the drive's medium what element e says: the cartridge's file
 * loaded, or nothing. Forced: the inventory is the truth at start-up. */
static void smc_drive_sync(struct scsi_lu *lu, struct smc_elem *e,
			   struct scsi_lu *drive)
{
	char err[512];
	bool present = !atomic_load(&drive->medium_absent);

	if (!drive->dtype->medium_load || !drive->dtype->medium_eject) {
		log_error("target %s: changer LUN %" PRIu64 ": LUN %" PRIu64
			  " is a %s, which takes no medium; it cannot be a "
			  "drive",
			  lu->target->name, lu->lun, drive->lun,
			  drive->dtype->name);
		return;
	}
	if (e->cart && present &&
	    strcmp(drive->params.backing, e->cart->file) == 0)
		return;
	if (present && scsi_lu_eject(drive, true, err, sizeof(err)) < 0) {
		log_error("target %s: changer LUN %" PRIu64 ": %s",
			  lu->target->name, lu->lun, err);
		return;
	}
	if (e->cart && scsi_lu_load(drive, e->cart->file, err, sizeof(err)) < 0)
		log_error("target %s: changer LUN %" PRIu64 ": cartridge %s: "
			  "%s",
			  lu->target->name, lu->lun, e->cart->barcode, err);
}

/* lu_peer_created: a drive of the inventory appeared (or the changer did,
 * after its drives): its identifier is noted, its medium made to agree. */
void smc_lu_peer_created(struct scsi_lu *lu, struct scsi_lu *peer)
{
	struct smc_lu *m = smc_of(lu);

	for (unsigned i = 0; i < m->lib.ndt; i++) {
		struct smc_elem *e = &m->lib.dt[i];

		if (e->lun != peer->lun)
			continue;
		pthread_mutex_lock(&m->lock);
		smc_dvcid_of(peer, e->dvcid, sizeof(e->dvcid));
		pthread_mutex_unlock(&m->lock);
		smc_drive_sync(lu, e, peer);
	}
}

/* ---- management (lunarctl changer ...), main thread ---- */

const struct smc_lib *smc_lu_lib(const struct scsi_lu *lu)
{
	return &smc_of(lu)->lib;
}

static json_t *smc_elem_show(const struct smc_elem *e, enum smc_etype type,
			     uint16_t addr)
{
	static const char *const names[] = {
	    [SMC_ET_MT] = "transport",
	    [SMC_ET_ST] = "slot",
	    [SMC_ET_IE] = "import/export",
	    [SMC_ET_DT] = "drive",
	};
	json_t *o = json_pack("{s:s, s:i, s:b}", "type", names[type], "address",
			      addr, "full", e->cart != NULL);

	if (!o)
		return NULL;
	if (e->cart) {
		json_object_set_new(o, "barcode",
				    json_string(e->cart->barcode));
		json_object_set_new(o, "file", json_string(e->cart->file));
	}
	if (e->cart && e->svalid)
		json_object_set_new(o, "source", json_integer(e->src));
	if (type == SMC_ET_DT) {
		json_object_set_new(o, "lun", json_integer((json_int_t)e->lun));
		json_object_set_new(o, "present", json_boolean(e->dvcid[0]));
	}
	return o;
}

int smc_lu_show(struct scsi_lu *lu, json_t **out, char *err, size_t errlen)
{
	struct smc_lu *m = smc_of(lu);
	const struct smc_lib *lib = &m->lib;
	json_t *a = json_array();

	/* Main thread: the only writer, so no lock to read. */
	json_array_append_new(a, smc_elem_show(&lib->mt, SMC_ET_MT, 0));
	for (unsigned i = 0; i < lib->ndt; i++)
		json_array_append_new(
		    a, smc_elem_show(&lib->dt[i], SMC_ET_DT,
				     smc_lib_addr(SMC_ET_DT, i)));
	for (unsigned i = 0; i < lib->nie; i++)
		json_array_append_new(
		    a, smc_elem_show(&lib->ie[i], SMC_ET_IE,
				     smc_lib_addr(SMC_ET_IE, i)));
	for (unsigned i = 0; i < lib->nst; i++)
		json_array_append_new(
		    a, smc_elem_show(&lib->st[i], SMC_ET_ST,
				     smc_lib_addr(SMC_ET_ST, i)));
	*out =
	    json_pack("{s:s, s:o}", "state", lu->params.backing, "elements", a);
	if (!*out) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

static int smc_dup_for_admin(struct scsi_lu *lu, struct smc_lib *lib, char *err,
			     size_t errlen)
{
	if (smc_lib_dup(lib, &smc_of(lu)->lib)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int smc_lu_slots_add(struct scsi_lu *lu, unsigned count, bool ie, char *err,
		     size_t errlen)
{
	struct smc_lib lib;
	struct smc_elem **v;
	unsigned *n, max = ie ? SMC_MAX_IE : SMC_MAX_ST;
	int rc;

	if ((rc = smc_dup_for_admin(lu, &lib, err, errlen)))
		return rc;
	v = ie ? &lib.ie : &lib.st;
	n = ie ? &lib.nie : &lib.nst;
	if (count == 0 || count > max - *n) {
		snprintf(err, errlen,
			 "changer LUN %" PRIu64 " of %s has %u %s; it can "
			 "have at most %u: add 1..%u",
			 lu->lun, lu->target->name, *n,
			 ie ? "import/export elements" : "slots", max,
			 max - *n);
		smc_lib_free(&lib);
		return -EINVAL;
	}
	struct smc_elem *grown = realloc(*v, (*n + count) * sizeof(**v));
	if (!grown) {
		smc_lib_free(&lib);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memset(grown + *n, 0, count * sizeof(*grown));
	*v = grown;
	*n += count;
	return smc_commit_admin(lu, &lib, err, errlen);
}

int smc_lu_slots_delete(struct scsi_lu *lu, unsigned count, bool ie, char *err,
			size_t errlen)
{
	struct smc_lib lib;
	struct smc_elem *v;
	unsigned *n;
	int rc;

	if ((rc = smc_dup_for_admin(lu, &lib, err, errlen)))
		return rc;
	v = ie ? lib.ie : lib.st;
	n = ie ? &lib.nie : &lib.nst;
	if (count == 0 || count > *n) {
		snprintf(err, errlen,
			 "changer LUN %" PRIu64 " of %s has %u %s; delete "
			 "1..%u",
			 lu->lun, lu->target->name, *n,
			 ie ? "import/export elements" : "slots", *n);
		smc_lib_free(&lib);
		return -EINVAL;
	}
	for (unsigned i = *n - count; i < *n; i++) {
		if (v[i].cart) {
			snprintf(err, errlen,
				 "element %u of changer LUN %" PRIu64
				 " of %s holds cartridge %s; move or delete "
				 "it first (the last elements are deleted)",
				 smc_lib_addr(ie ? SMC_ET_IE : SMC_ET_ST, i),
				 lu->lun, lu->target->name, v[i].cart->barcode);
			smc_lib_free(&lib);
			return -EBUSY;
		}
	}
	*n -= count;
	return smc_commit_admin(lu, &lib, err, errlen);
}

/* Whether an initiator locks the import/export elements. */
static bool smc_ie_locked(struct scsi_lu *lu)
{
	unsigned n;

	pthread_mutex_lock(&lu->lock);
	n = lu->nr_prevent;
	pthread_mutex_unlock(&lu->lock);
	return n != 0;
}

static int smc_barcode_check(const char *barcode, char *err, size_t errlen)
{
	size_t n = strlen(barcode);

	if (n == 0 || n > SMC_BARCODE_MAX) {
		snprintf(err, errlen, "barcode '%s' must have 1..%d characters",
			 barcode, SMC_BARCODE_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (barcode[i] <= 0x20 || barcode[i] >= 0x7f) {
			snprintf(err, errlen,
				 "barcode '%s' has a space, control or "
				 "non-ASCII character; use printable ASCII",
				 barcode);
			return -EINVAL;
		}
	}
	return 0;
}

int smc_lu_cart_add(struct scsi_lu *lu, int addr, const char *barcode,
		    const char *file, char *err, size_t errlen)
{
	struct smc_lib lib;
	struct smc_elem *e = NULL;
	enum smc_etype type = SMC_ET_MT;
	int rc;

	if ((rc = smc_barcode_check(barcode, err, errlen)))
		return rc;
	if (file[0] != '/' || access(file, R_OK) < 0) {
		snprintf(err, errlen,
			 "cartridge file '%s' %s; give the absolute path of "
			 "a readable file",
			 file,
			 file[0] != '/' ? "is not an absolute path"
					: strerror(errno));
		return -EINVAL;
	}
	if ((rc = smc_dup_for_admin(lu, &lib, err, errlen)))
		return rc;
	rc = -EINVAL;
	if (smc_lib_find_barcode(&lib, barcode, NULL)) {
		snprintf(err, errlen,
			 "changer LUN %" PRIu64 " of %s already has a "
			 "cartridge with barcode %s; pick another barcode",
			 lu->lun, lu->target->name, barcode);
		rc = -EEXIST;
	} else if (addr < 0) {
		for (unsigned i = 0; !e && i < lib.nst; i++)
			if (!lib.st[i].cart)
				e = &lib.st[i];
		type = SMC_ET_ST;
		if (!e)
			snprintf(err, errlen,
				 "changer LUN %" PRIu64 " of %s has no empty "
				 "slot; add slots (lunarctl changer slot add)",
				 lu->lun, lu->target->name);
	} else if (addr > 0xffff ||
		   !(e = smc_lib_elem(&lib, (uint16_t)addr, &type)) ||
		   (type != SMC_ET_ST && type != SMC_ET_IE)) {
		snprintf(err, errlen,
			 "changer LUN %" PRIu64 " of %s has no slot or "
			 "import/export element at address %d; `lunarctl "
			 "changer show` lists them",
			 lu->lun, lu->target->name, addr);
		e = NULL;
	} else if (e->cart) {
		snprintf(err, errlen,
			 "element %d of changer LUN %" PRIu64 " of %s holds "
			 "cartridge %s; pick an empty one or --first-empty",
			 addr, lu->lun, lu->target->name, e->cart->barcode);
		e = NULL;
		rc = -EBUSY;
	} else if (type == SMC_ET_IE && smc_ie_locked(lu)) {
		snprintf(err, errlen,
			 "an initiator prevents medium removal on changer "
			 "LUN %" PRIu64 " of %s: its import/export elements "
			 "are locked; have it allow removal",
			 lu->lun, lu->target->name);
		e = NULL;
		rc = -EBUSY;
	}
	if (!e) {
		smc_lib_free(&lib);
		return rc;
	}
	e->cart = calloc(1, sizeof(*e->cart));
	if (e->cart)
		e->cart->file = strdup(file);
	if (!e->cart || !e->cart->file) {
		smc_lib_free(&lib);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(e->cart->barcode, sizeof(e->cart->barcode), "%s", barcode);
	e->svalid = false;
	e->impexp = type == SMC_ET_IE;
	return smc_commit_admin(lu, &lib, err, errlen);
}

int smc_lu_cart_delete(struct scsi_lu *lu, const char *barcode, char *err,
		       size_t errlen)
{
	struct smc_lib lib;
	struct smc_elem *e;
	enum smc_etype type = SMC_ET_MT;
	uint16_t addr = 0;
	int rc;

	if ((rc = smc_dup_for_admin(lu, &lib, err, errlen)))
		return rc;
	e = smc_lib_find_barcode(&lib, barcode, &addr);
	if (e)
		smc_lib_elem(&lib, addr, &type);
	if (!e) {
		snprintf(err, errlen,
			 "changer LUN %" PRIu64 " of %s has no cartridge "
			 "with barcode %s; `lunarctl changer show` lists them",
			 lu->lun, lu->target->name, barcode);
		rc = -ENOENT;
	} else if (type == SMC_ET_DT) {
		snprintf(err, errlen,
			 "cartridge %s is in the drive at element %u "
			 "(LUN %" PRIu64 "); have an initiator move it to a "
			 "slot first",
			 barcode, addr, e->lun);
		rc = -EBUSY;
	} else if (type == SMC_ET_IE && smc_ie_locked(lu)) {
		snprintf(err, errlen,
			 "an initiator prevents medium removal on changer "
			 "LUN %" PRIu64 " of %s: its import/export elements "
			 "are locked; have it allow removal",
			 lu->lun, lu->target->name);
		rc = -EBUSY;
	}
	if (rc) {
		smc_lib_free(&lib);
		return rc;
	}
	free(e->cart->file);
	free(e->cart);
	e->cart = NULL;
	e->svalid = false;
	return smc_commit_admin(lu, &lib, err, errlen);
}

int smc_lu_drive_add(struct scsi_lu *lu, uint64_t drive_lun, char *err,
		     size_t errlen)
{
	struct scsi_lu *drive =
	    scsi_lun_map_find(lu->target->lun_map, drive_lun);
	struct smc_lib lib;
	struct smc_elem *grown;
	int rc;

	if (!drive) {
		snprintf(err, errlen,
			 "target %s has no LUN %" PRIu64 "; create the drive "
			 "LU (a cd or tape) first",
			 lu->target->name, drive_lun);
		return -ENOENT;
	}
	if (!drive->dtype->medium_load || !drive->dtype->medium_eject) {
		snprintf(err, errlen,
			 "LUN %" PRIu64 " of %s is a %s, which takes no "
			 "medium; a drive is a cd or tape LU",
			 drive_lun, lu->target->name, drive->dtype->name);
		return -EINVAL;
	}
	if ((rc = smc_dup_for_admin(lu, &lib, err, errlen)))
		return rc;
	for (unsigned i = 0; i < lib.ndt; i++) {
		if (lib.dt[i].lun == drive_lun) {
			snprintf(err, errlen,
				 "LUN %" PRIu64 " is already the drive at "
				 "element %u of changer LUN %" PRIu64,
				 drive_lun, smc_lib_addr(SMC_ET_DT, i),
				 lu->lun);
			smc_lib_free(&lib);
			return -EEXIST;
		}
	}
	if (lib.ndt >= SMC_MAX_DT ||
	    !(grown = realloc(lib.dt, (lib.ndt + 1) * sizeof(*lib.dt)))) {
		snprintf(err, errlen,
			 "changer LUN %" PRIu64 " can have no "
			 "more drives",
			 lu->lun);
		smc_lib_free(&lib);
		return -ENOSPC;
	}
	lib.dt = grown;
	memset(&lib.dt[lib.ndt], 0, sizeof(lib.dt[0]));
	lib.dt[lib.ndt].lun = drive_lun;
	smc_dvcid_of(drive, lib.dt[lib.ndt].dvcid,
		     sizeof(lib.dt[lib.ndt].dvcid));
	lib.ndt++;
	rc = smc_commit_admin(lu, &lib, err, errlen);
	if (rc == 0) {
		struct smc_lu *m = smc_of(lu);

		smc_drive_sync(lu, &m->lib.dt[m->lib.ndt - 1], drive);
	}
	return rc;
}

int smc_lu_drive_delete(struct scsi_lu *lu, uint64_t drive_lun, char *err,
			size_t errlen)
{
	struct smc_lib lib;
	unsigned i;
	int rc;

	if ((rc = smc_dup_for_admin(lu, &lib, err, errlen)))
		return rc;
	for (i = 0; i < lib.ndt && lib.dt[i].lun != drive_lun; i++)
		;
	if (i == lib.ndt || i + 1 != lib.ndt || lib.dt[i].cart) {
		if (i == lib.ndt)
			snprintf(err, errlen,
				 "changer LUN %" PRIu64 " has no drive LUN "
				 "%" PRIu64 "; `lunarctl changer show` lists "
				 "its drives",
				 lu->lun, drive_lun);
		else if (lib.dt[i].cart)
			snprintf(err, errlen,
				 "drive LUN %" PRIu64 " holds cartridge %s; "
				 "have an initiator move it to a slot first",
				 drive_lun, lib.dt[i].cart->barcode);
		else
			snprintf(err, errlen,
				 "drive LUN %" PRIu64 " is not the last drive "
				 "of changer LUN %" PRIu64 "; delete the "
				 "drives after it first (addresses stay put)",
				 drive_lun, lu->lun);
		rc = i == lib.ndt ? -ENOENT : -EBUSY;
		smc_lib_free(&lib);
		return rc;
	}
	lib.ndt--;
	return smc_commit_admin(lu, &lib, err, errlen);
}
