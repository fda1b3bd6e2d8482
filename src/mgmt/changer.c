/*
 * The medium changer in the control protocol: the changer.* commands
 * (docs/control-protocol.md) that show and change a changer LU's
 * inventory: slots and import/export elements, cartridges (a file and a
 * barcode), drives (other LUs of the target). The model and its rules are
 * scsi/smc.c's (SMC-3); this file finds the LU and turns the request's
 * arguments into those calls. Each runs on the main thread with the
 * config read lock held, so the LU stays while it runs.
 */
#include "mgmt/mgmt_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "scsi/device.h"
#include "scsi/smc.h"

__attribute__((format(printf, 4, 5))) static int
changer_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* The changer LU the request names, with the config read lock held; NULL,
 * unlocked, with the message in err otherwise. */
static struct scsi_lu *changer_lu_rdlock(json_t *req, char *err, size_t errlen)
{
	const char *name = json_string_value(json_object_get(req, "target"));
	json_int_t lun = json_integer_value(json_object_get(req, "lun"));
	struct scsi_target *t;
	struct scsi_lu *lu;

	if (lun < 0 || lun > SCSI_MAX_LUN) {
		changer_fail(-EINVAL, err, errlen,
			     "LUN %lld is out of range; use 0..%d",
			     (long long)lun, SCSI_MAX_LUN);
		return NULL;
	}
	scsi_config_rdlock();
	t = scsi_target_find(name ? name : "");
	lu = t ? scsi_lun_map_find(t->lun_map, (uint64_t)lun) : NULL;
	if (!t)
		changer_fail(-ENOENT, err, errlen,
			     "target %s does not exist; `lunarctl target "
			     "list` shows the targets",
			     name ? name : "");
	else if (!lu)
		changer_fail(-ENOENT, err, errlen,
			     "target %s has no LUN %lld; `lunarctl target show "
			     "%s` lists its LUNs",
			     t->name, (long long)lun, t->name);
	else if (!smc_lu_is_changer(lu))
		changer_fail(-EINVAL, err, errlen,
			     "LUN %lld of %s is a %s, not a changer; create "
			     "one with lunarctl lun create ... --type changer",
			     (long long)lun, t->name, lu->dtype->name);
	if (!lu || !smc_lu_is_changer(lu)) {
		scsi_config_unlock();
		return NULL;
	}
	return lu;
}

static json_int_t changer_int(json_t *req, const char *key, json_int_t dflt)
{
	json_t *v = json_object_get(req, key);

	return v ? json_integer_value(v) : dflt;
}

int mgmt_changer_show_cmd(json_t *req, json_t **res, char *err, size_t errlen)
{
	struct scsi_lu *lu = changer_lu_rdlock(req, err, errlen);
	int rc;

	if (!lu)
		return -ENOENT;
	rc = smc_lu_show(lu, res, err, errlen);
	scsi_config_unlock();
	return rc;
}

static int changer_slots(json_t *req, char *err, size_t errlen, bool add)
{
	json_int_t count = changer_int(req, "count", 1);
	bool ie = json_is_true(json_object_get(req, "import_export"));
	struct scsi_lu *lu;
	int rc;

	if (count < 1 || count > 4096)
		return changer_fail(-EINVAL, err, errlen,
				    "count %lld is out of range; use 1..4096",
				    (long long)count);
	if (!(lu = changer_lu_rdlock(req, err, errlen)))
		return -ENOENT;
	rc = add ? smc_lu_slots_add(lu, (unsigned)count, ie, err, errlen)
		 : smc_lu_slots_delete(lu, (unsigned)count, ie, err, errlen);
	scsi_config_unlock();
	return rc;
}

int mgmt_changer_slot_add_cmd(json_t *req, json_t **res, char *err,
			      size_t errlen)
{
	return changer_slots(req, err, errlen, true);
}

int mgmt_changer_slot_delete_cmd(json_t *req, json_t **res, char *err,
				 size_t errlen)
{
	return changer_slots(req, err, errlen, false);
}

int mgmt_changer_cartridge_add_cmd(json_t *req, json_t **res, char *err,
				   size_t errlen)
{
	const char *barcode =
	    json_string_value(json_object_get(req, "barcode"));
	const char *file = json_string_value(json_object_get(req, "file"));
	json_t *slot = json_object_get(req, "slot");
	bool first = json_is_true(json_object_get(req, "first_empty"));
	struct scsi_lu *lu;
	int rc;

	if (!!slot == first)
		return changer_fail(-EINVAL, err, errlen,
				    "give the element address in 'slot' or "
				    "'first_empty': true, not %s",
				    first ? "both" : "neither");
	if (slot &&
	    (json_integer_value(slot) < 0 || json_integer_value(slot) > 0xffff))
		return changer_fail(-EINVAL, err, errlen,
				    "slot %lld is not an element address "
				    "(0..65535)",
				    (long long)json_integer_value(slot));
	if (!(lu = changer_lu_rdlock(req, err, errlen)))
		return -ENOENT;
	rc = smc_lu_cart_add(lu, slot ? (int)json_integer_value(slot) : -1,
			     barcode, file, err, errlen);
	scsi_config_unlock();
	return rc;
}

int mgmt_changer_cartridge_delete_cmd(json_t *req, json_t **res, char *err,
				      size_t errlen)
{
	const char *barcode =
	    json_string_value(json_object_get(req, "barcode"));
	struct scsi_lu *lu;
	int rc;

	if (!(lu = changer_lu_rdlock(req, err, errlen)))
		return -ENOENT;
	rc = smc_lu_cart_delete(lu, barcode, err, errlen);
	scsi_config_unlock();
	return rc;
}

static int changer_drive(json_t *req, char *err, size_t errlen, bool add)
{
	json_int_t drive = changer_int(req, "drive", -1);
	struct scsi_lu *lu;
	int rc;

	if (drive < 0 || drive > SCSI_MAX_LUN)
		return changer_fail(-EINVAL, err, errlen,
				    "drive LUN %lld is out of range; use 0..%d",
				    (long long)drive, SCSI_MAX_LUN);
	if (!(lu = changer_lu_rdlock(req, err, errlen)))
		return -ENOENT;
	rc = add ? smc_lu_drive_add(lu, (uint64_t)drive, err, errlen)
		 : smc_lu_drive_delete(lu, (uint64_t)drive, err, errlen);
	scsi_config_unlock();
	return rc;
}

int mgmt_changer_drive_add_cmd(json_t *req, json_t **res, char *err,
			       size_t errlen)
{
	return changer_drive(req, err, errlen, true);
}

int mgmt_changer_drive_delete_cmd(json_t *req, json_t **res, char *err,
				  size_t errlen)
{
	return changer_drive(req, err, errlen, false);
}
