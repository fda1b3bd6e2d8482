/*
 * Logical units and LUN maps. A LU owns its backing store and its
 * identity: the unit serial number (SPC-5 §7.7.18, VPD page 80h) and the
 * NAA IEEE Registered Extended designator (SPC-5 §7.7.6.6.5) that VPD page
 * 83h reports. Both derive deterministically from the target name and the
 * LUN, or from the configured serial, so they survive restarts.
 *
 * A LUN map is immutable once published: creating or deleting a LU builds
 * a new map, swaps it into the target under the config write lock and
 * bumps target->lun_gen; nexuses pick the new map up on their next
 * command (core.c). Maps and LUs are refcounted; the last put of a LU
 * closes its store on the main thread, because closing may join threads.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/reactor.h"
#include "scsi/device.h"
#include "scsi/mode.h"
#include "scsi/pr.h"
#include "scsi/sense.h"
#include "scsi/target.h"
#include "scsi/ua.h"
#include "util/log.h"

/*
 * IEEE company ID of the NAA designators. This value has the X
 * (locally administered) bit set, as an assignment of our own; a
 * distributor with a registered OUI or CID sets theirs at build time.
 */
#ifndef LUNAR_NAA_COMPANY_ID
#define LUNAR_NAA_COMPANY_ID 0x0a4c55u
#endif

/* ---- identity ---- */

static uint64_t scsi_fnv1a(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Two independent 64-bit hashes of the LU's identity. */
static void scsi_lu_identity_hash(const struct scsi_lu *lu, uint64_t h[2])
{
	uint64_t basis = 0xcbf29ce484222325ull;

	char medium[1024];

	if (lu->params.serial[0]) {
		h[0] = scsi_fnv1a(basis, lu->params.serial,
				  strlen(lu->params.serial));
	} else if (lu->bs && lu->bs->ops->identity &&
		   lu->bs->ops->identity(lu->bs, medium, sizeof(medium)) == 0) {
		/* A medium several gateways serve: one disk to multipath,
		 * whichever target or host presents it. */
		h[0] = scsi_fnv1a(basis, medium, strlen(medium));
	} else {
		uint8_t lun[8];

		for (int i = 0; i < 8; i++)
			lun[i] = (uint8_t)(lu->lun >> (56 - 8 * i));
		h[0] = scsi_fnv1a(basis, lu->target->name,
				  strlen(lu->target->name) + 1);
		h[0] = scsi_fnv1a(h[0], lun, sizeof(lun));
	}
	/* A second round seeded by the first: independent low bits. */
	h[1] = scsi_fnv1a(h[0] ^ 0x9e3779b97f4a7c15ull, &h[0], sizeof(h[0]));
}

static void scsi_lu_set_identity(struct scsi_lu *lu)
{
	uint32_t cid = LUNAR_NAA_COMPANY_ID;
	uint64_t h[2];
	uint64_t vsi;
	uint8_t *n = lu->naa;

	scsi_lu_identity_hash(lu, h);
	if (lu->params.serial[0])
		snprintf(lu->serial, sizeof(lu->serial), "%s",
			 lu->params.serial);
	else
		snprintf(lu->serial, sizeof(lu->serial), "%016" PRIx64, h[0]);

	/* NAA 6h: 4-bit NAA, 24-bit company ID, 36-bit vendor specific
	 * identifier, 64-bit vendor specific identifier extension. */
	vsi = h[0] & 0xfffffffffull;
	n[0] = (uint8_t)(0x60 | ((cid >> 20) & 0x0f));
	n[1] = (uint8_t)(cid >> 12);
	n[2] = (uint8_t)(cid >> 4);
	n[3] = (uint8_t)(((cid & 0x0f) << 4) | (vsi >> 32));
	for (int i = 0; i < 4; i++)
		n[4 + i] = (uint8_t)(vsi >> (24 - 8 * i));
	for (int i = 0; i < 8; i++)
		n[8 + i] = (uint8_t)(h[1] >> (56 - 8 * i));
}

/* ---- references ---- */

void scsi_lu_get(struct scsi_lu *lu)
{
	atomic_fetch_add_explicit(&lu->refcnt, 1, memory_order_relaxed);
}

static void scsi_lu_free(struct scsi_lu *lu)
{
	if (lu->dtype && lu->dtype->lu_exit)
		lu->dtype->lu_exit(lu);
	scsi_mode_lu_exit(lu);
	scsi_pr_lu_exit(lu);
	if (lu->bs)
		lu->bs->ops->close(lu->bs);
	pthread_mutex_destroy(&lu->lock);
	scsi_stats_shards_free(lu->stats);
	free(lu);
}

static void scsi_lu_free_on_main(void *arg)
{
	scsi_lu_free(arg);
}

void scsi_lu_put(struct scsi_lu *lu)
{
	struct reactor *main_reactor;

	if (atomic_fetch_sub_explicit(&lu->refcnt, 1, memory_order_acq_rel) !=
	    1)
		return;
	main_reactor = scsi_core_main_reactor();
	if (main_reactor && !scsi_core_on_main_thread() &&
	    reactor_post(main_reactor, scsi_lu_free_on_main, lu) == 0)
		return;
	scsi_lu_free(lu);
}

void scsi_lun_map_get(struct scsi_lun_map *m)
{
	atomic_fetch_add_explicit(&m->refcnt, 1, memory_order_relaxed);
}

void scsi_lun_map_put(struct scsi_lun_map *m)
{
	if (atomic_fetch_sub_explicit(&m->refcnt, 1, memory_order_acq_rel) != 1)
		return;
	for (unsigned i = 0; i < m->count; i++)
		scsi_lu_put(m->ent[i].lu);
	free(m);
}

struct scsi_lu *scsi_lun_map_find(const struct scsi_lun_map *m, uint64_t lun)
{
	unsigned lo = 0, hi;

	if (!m)
		return NULL;
	hi = m->count;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (m->ent[mid].lun == lun)
			return m->ent[mid].lu;
		if (m->ent[mid].lun < lun)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * A copy of old with lu inserted (lu != NULL) or the entry of lun removed.
 * The copy holds its own references.
 */
static struct scsi_lun_map *scsi_lun_map_edit(const struct scsi_lun_map *old,
					      uint64_t lun, struct scsi_lu *lu)
{
	unsigned n_old = old ? old->count : 0;
	unsigned n = lu ? n_old + 1 : n_old - 1;
	struct scsi_lun_map *m;
	bool inserted = false;
	unsigned j = 0;

	m = calloc(1, sizeof(*m) + (size_t)n * sizeof(m->ent[0]));
	if (!m)
		return NULL;
	atomic_init(&m->refcnt, 1);
	for (unsigned i = 0; i < n_old; i++) {
		if (lu && !inserted && old->ent[i].lun > lun) {
			m->ent[j].lun = lun;
			m->ent[j++].lu = lu;
			inserted = true;
		}
		if (!lu && old->ent[i].lun == lun)
			continue;
		m->ent[j] = old->ent[i];
		scsi_lu_get(m->ent[j++].lu);
	}
	if (lu && !inserted) {
		m->ent[j].lun = lun;
		m->ent[j++].lu = lu;
	}
	m->count = j;
	return m;
}

/* Publishes m as t's map (the config lock orders it against readers). */
static void scsi_target_swap_map(struct scsi_target *t, struct scsi_lun_map *m)
{
	struct scsi_lun_map *old;

	scsi_config_wrlock();
	old = t->lun_map;
	t->lun_map = m;
	atomic_fetch_add_explicit(&t->lun_gen, 1, memory_order_release);
	scsi_config_unlock();
	if (old)
		scsi_lun_map_put(old);
}

/* ---- a medium resized by someone else ---- */

static void scsi_lu_medium_resized_main(void *arg)
{
	struct scsi_lu *lu = arg;
	char err[512];

	/* Size 0: take the store's new size, a shrink included (the
	 * blocks are gone already); every nexus gets the unit attention. */
	if (scsi_lu_resize(lu, 0, true, err, sizeof(err)) < 0)
		log_error("target %s: LUN %" PRIu64 ": %s", lu->target->name,
			  lu->lun, err);
	scsi_lu_put(lu);
}

/*
 * Any thread (librbd's watch): another client (another gateway, `rbd
 * resize`) changed the medium's size. The main thread takes it over, with
 * a reference unless the LU is already on its way out.
 */
static void scsi_lu_medium_resized(struct bs_dev *dev)
{
	struct scsi_lu *lu = dev->owner;
	struct reactor *main_reactor = scsi_core_main_reactor();
	int ref = atomic_load_explicit(&lu->refcnt, memory_order_relaxed);

	do {
		if (ref == 0)
			return;
	} while (!atomic_compare_exchange_weak_explicit(
	    &lu->refcnt, &ref, ref + 1, memory_order_acquire,
	    memory_order_relaxed));
	if (!main_reactor ||
	    reactor_post(main_reactor, scsi_lu_medium_resized_main, lu) < 0) {
		log_error("target %s: LUN %" PRIu64 ": its medium changed "
			  "size; run lunarctl lun resize to take the new size",
			  lu->target->name, lu->lun);
		atomic_fetch_sub_explicit(&lu->refcnt, 1, memory_order_release);
	}
}

/* ---- create / delete ---- */

static int scsi_lu_check_params(const struct scsi_target *t, uint64_t lun,
				const struct scsi_lu_params *p, uint32_t bsize,
				char *err, size_t errlen)
{
	if (lun > SCSI_MAX_LUN) {
		snprintf(err, errlen,
			 "LUN %" PRIu64 " is out of range; use 0..%d", lun,
			 SCSI_MAX_LUN);
		return -EINVAL;
	}
	if (p->size && p->size < bsize) {
		snprintf(err, errlen,
			 "size %" PRIu64 " is smaller than one %u-byte block; "
			 "give at least %u bytes",
			 p->size, bsize, bsize);
		return -EINVAL;
	}
	if (p->size % bsize) {
		snprintf(err, errlen,
			 "size %" PRIu64 " is not a multiple of the %u-byte "
			 "block size; use %" PRIu64 " or %" PRIu64,
			 p->size, bsize, p->size - p->size % bsize,
			 p->size - p->size % bsize + bsize);
		return -EINVAL;
	}
	for (const char *s = p->serial; *s; s++) {
		if (*s <= 0x20 || *s >= 0x7f) {
			snprintf(err, errlen,
				 "serial '%s' has a space, control or "
				 "non-ASCII character; use printable ASCII",
				 p->serial);
			return -EINVAL;
		}
	}
	if (scsi_lun_map_find(t->lun_map, lun)) {
		snprintf(err, errlen,
			 "target %s already has LUN %" PRIu64
			 "; delete it first or pick another LUN",
			 t->name, lun);
		return -EEXIST;
	}
	return 0;
}

static int scsi_lu_open_store(struct scsi_lu *lu, const struct bs_ops *ops,
			      char *err, size_t errlen)
{
	const struct scsi_lu_params *p = &lu->params;
	struct bs_open_args args = {
	    .readonly = p->readonly,
	    .direct = p->direct,
	    .create_size = p->size,
	    .options = p->bsopts,
	};
	uint64_t size;
	int rc;

	if (p->bsopts[0] && !ops->takes_options) {
		snprintf(err, errlen,
			 "bstype '%s' takes no options; leave out '%s'",
			 ops->name, p->bsopts);
		return -EINVAL;
	}
	rc = ops->open(p->backing, &args, &lu->bs, err, errlen);
	if (rc < 0)
		return rc;
	if (lu->bs->io_align > 1 && lu->block_size % lu->bs->io_align) {
		snprintf(err, errlen,
			 "%s takes direct I/O only in %u-byte units, larger "
			 "than the LU's %u-byte blocks; give --block-size %u, "
			 "or --buffered",
			 p->backing, lu->bs->io_align, lu->block_size,
			 lu->bs->io_align);
		return -EINVAL;
	}
	/* A configured size smaller than the store exposes only that much;
	 * a larger one was refused or reported by the store. */
	size = p->size && p->size < lu->bs->size ? p->size : lu->bs->size;
	if (size < lu->block_size) {
		snprintf(err, errlen,
			 "backing %s has %" PRIu64 " bytes, less than one "
			 "%u-byte block; grow it or give a size",
			 p->backing, size, lu->block_size);
		return -EINVAL;
	}
	atomic_init(&lu->nr_blocks, size >> lu->block_shift);
	return 0;
}

int scsi_lu_check_type_params(struct scsi_lu_params *p,
			      const struct bs_ops *ops, char *err,
			      size_t errlen)
{
	const struct scsi_device_type *dtype = scsi_device_type_find(p->dtype);
	uint32_t bsize;
	int rc;

	if (!dtype) {
		char names[128];

		scsi_device_type_names(names, sizeof(names));
		snprintf(err, errlen,
			 "device type '%s' is unknown; this lunard has: %s",
			 p->dtype[0] ? p->dtype : SCSI_DEVICE_TYPE_DEFAULT,
			 names);
		return -EINVAL;
	}
	snprintf(p->dtype, sizeof(p->dtype), "%s", dtype->name);
	rc = dtype->check_params(p, ops, err, errlen);
	if (rc < 0)
		return rc;
	bsize = p->block_size;
	/* The generic LU code shifts by the block size. */
	if (bsize < 512 || bsize > 65536 || (bsize & (bsize - 1))) {
		snprintf(err, errlen,
			 "device type %s chose a %u-byte block, not a power "
			 "of two from 512 to 65536",
			 dtype->name, bsize);
		return -EINVAL;
	}
	return 0;
}

/* The lu_peer_created hooks (device.h) of lu and of its target's other
 * LUs, on the main thread, once lu is published. */
static void scsi_lu_peers_created(struct scsi_target *t, struct scsi_lu *lu)
{
	struct scsi_lun_map *m = t->lun_map;

	for (unsigned i = 0; m && i < m->count; i++) {
		struct scsi_lu *x = m->ent[i].lu;

		if (x == lu)
			continue;
		if (x->dtype->lu_peer_created)
			x->dtype->lu_peer_created(x, lu);
		if (lu->dtype->lu_peer_created)
			lu->dtype->lu_peer_created(lu, x);
	}
}

int scsi_lu_create(struct scsi_target *t, uint64_t lun,
		   const struct scsi_lu_params *p, char *err, size_t errlen)
{
	const char *bstype = p->bstype[0] ? p->bstype : bs_default_file_store();
	const struct scsi_device_type *dtype;
	const struct bs_ops *ops;
	struct scsi_lun_map *m;
	struct scsi_lu *lu;
	uint32_t bsize;
	int rc;

	dtype = scsi_device_type_find(p->dtype);
	/* Its backing is the type's state: no store to open on it. */
	if (dtype && dtype->no_medium)
		bstype = bs_null_ops.name;
	ops = dtype && dtype->no_medium ? &bs_null_ops : bs_find(bstype);
	if (!ops) {
		char names[256];

		bs_names(names, sizeof(names));
		snprintf(err, errlen, "bstype '%s' unknown; known: %s", bstype,
			 names);
		return -EINVAL;
	}
	lu = calloc(1, sizeof(*lu));
	if (!lu) {
		snprintf(err, errlen,
			 "out of memory creating LUN %" PRIu64 " of %s", lun,
			 t->name);
		return -ENOMEM;
	}
	lu->params = *p;
	snprintf(lu->params.bstype, sizeof(lu->params.bstype), "%s", bstype);
	rc = scsi_lu_check_type_params(&lu->params, ops, err, errlen);
	if (rc == 0)
		rc = scsi_lu_check_params(t, lun, &lu->params,
					  lu->params.block_size, err, errlen);
	if (rc == 0 && !(lu->stats = scsi_stats_shards_new())) {
		snprintf(err, errlen,
			 "out of memory creating LUN %" PRIu64 " of %s", lun,
			 t->name);
		rc = -ENOMEM;
	}
	if (rc) {
		free(lu);
		return rc;
	}
	dtype = scsi_device_type_find(lu->params.dtype);
	bsize = lu->params.block_size;
	atomic_init(&lu->refcnt, 1); /* the new map's reference */
	lu->target = t;
	lu->lun = lun;
	lu->block_size = bsize;
	lu->block_shift = (uint32_t)__builtin_ctz(bsize);
	pthread_mutex_init(&lu->lock, NULL);
	list_init(&lu->itl_list);

	if (!lu->params.backing[0] && dtype->medium_optional) {
		/* An empty drive: no store until a medium is loaded. */
		atomic_store(&lu->medium_absent, true);
	} else {
		rc = scsi_lu_open_store(lu, ops, err, errlen);
	}
	if (rc == 0)
		scsi_lu_set_identity(lu);
	if (rc == 0 && dtype->lu_init) {
		if (errlen)
			err[0] = '\0';
		rc = dtype->lu_init(lu, err, errlen);
		if (rc < 0 && errlen && !err[0])
			snprintf(err, errlen,
				 "cannot set up LUN %" PRIu64 " of %s: %s", lun,
				 t->name, strerror(-rc));
	}
	if (rc == 0)
		lu->dtype = dtype; /* from now on lu_exit runs at free */
	if (rc == 0)
		rc = scsi_mode_lu_init(lu, err, errlen);
	if (rc == 0) {
		char why[512];

		rc = scsi_pr_lu_init_msg(lu, why, sizeof(why));
		if (rc < 0)
			snprintf(err, errlen,
				 "cannot restore the persistent reservations "
				 "of LUN %" PRIu64 " of %s: %s",
				 lun, t->name, why);
	}
	if (rc < 0) {
		scsi_lu_free(lu);
		return rc;
	}

	m = scsi_lun_map_edit(t->lun_map, lun, lu);
	if (!m) {
		snprintf(err, errlen,
			 "out of memory creating LUN %" PRIu64 " of %s", lun,
			 t->name);
		scsi_lu_free(lu);
		return -ENOMEM;
	}
	scsi_target_swap_map(t, m);
	/* Published: from now on a resize from elsewhere may find it. */
	if (lu->bs) {
		lu->bs->owner = lu;
		__atomic_store_n(&lu->bs->resized, scsi_lu_medium_resized,
				 __ATOMIC_RELEASE);
	}
	scsi_lu_peers_created(t, lu);
	char lunstr[24];
	snprintf(lunstr, sizeof(lunstr), "%" PRIu64, lun);
	struct log_kv kv[] = {
	    {"LUNAR_EVENT", "lun_created"},
	    {"LUNAR_TARGET", t->name},
	    {"LUNAR_LUN", lunstr},
	    {"LUNAR_BACKING", p->backing[0] ? p->backing : NULL},
	};
	log_info_kv(kv,
		    "target %s: LUN %" PRIu64 " created (%s, %s %s, %" PRIu64
		    " blocks of %u bytes%s%s%s)",
		    t->name, lun, dtype->name, bstype,
		    p->backing[0] ? p->backing : "(no medium)",
		    scsi_lu_blocks(lu), bsize,
		    scsi_lu_readonly(lu) ? ", read-only" : "",
		    p->thin ? ", thin" : "", p->removable ? ", removable" : "");
	return 0;
}

/* ---- a removable medium changed by the admin (lun eject / lun load) ---- */

int scsi_lu_eject(struct scsi_lu *lu, bool force, char *err, size_t errlen)
{
	int rc;

	if (!lu->dtype->medium_eject) {
		snprintf(err, errlen,
			 "LUN %" PRIu64 " of %s is a %s, whose medium lunarctl "
			 "does not eject",
			 lu->lun, lu->target->name, lu->dtype->name);
		return -EOPNOTSUPP;
	}
	rc = lu->dtype->medium_eject(lu, force);
	if (rc == -EBUSY)
		snprintf(err, errlen,
			 "an initiator prevents the removal of the medium of "
			 "LUN %" PRIu64 " of %s; have it allow removal, or "
			 "give --force",
			 lu->lun, lu->target->name);
	else if (rc < 0)
		snprintf(err, errlen, "cannot eject LUN %" PRIu64 " of %s: %s",
			 lu->lun, lu->target->name, strerror(-rc));
	else
		log_info("target %s: LUN %" PRIu64 ": medium ejected%s",
			 lu->target->name, lu->lun, force ? " (forced)" : "");
	return rc;
}

int scsi_lu_load(struct scsi_lu *lu, const char *backing, char *err,
		 size_t errlen)
{
	const struct scsi_lu_params *p = &lu->params;
	struct bs_open_args args = {
	    .readonly = p->readonly,
	    .direct = p->direct,
	    .options = p->bsopts,
	};
	struct bs_dev *bs = NULL, *old = NULL;
	static char prev[sizeof(lu->params.backing)]; /* main thread */
	uint64_t nr = 0;
	int rc;

	if (!lu->dtype->medium_load) {
		snprintf(err, errlen,
			 "LUN %" PRIu64 " of %s is a %s, whose medium lunarctl "
			 "does not load",
			 lu->lun, lu->target->name, lu->dtype->name);
		return -EOPNOTSUPP;
	}
	if (!backing && !lu->bs) {
		snprintf(err, errlen,
			 "LUN %" PRIu64 " of %s is an empty drive; give the "
			 "medium to load (--backing PATH)",
			 lu->lun, lu->target->name);
		return -ENOMEDIUM;
	}
	if (backing && strlen(backing) >= sizeof(lu->params.backing)) {
		snprintf(err, errlen, "backing path is longer than %zu bytes",
			 sizeof(lu->params.backing) - 1);
		return -EINVAL;
	}
	if (backing) {
		if (!atomic_load(&lu->medium_absent)) {
			snprintf(err, errlen,
				 "LUN %" PRIu64 " of %s holds a medium; eject "
				 "it first (lun eject)",
				 lu->lun, lu->target->name);
			return -EBUSY;
		}
		rc = bs_find(lu->params.bstype)
			 ->open(backing, &args, &bs, err, errlen);
		if (rc < 0)
			return rc;
		nr = bs->size >> lu->block_shift;
		if (!nr ||
		    (bs->io_align > 1 && lu->block_size % bs->io_align)) {
			snprintf(err, errlen,
				 "%s %s; it cannot be the medium of LUN "
				 "%" PRIu64 " of %s",
				 backing,
				 nr ? "takes direct I/O in larger units than a "
				      "block"
				    : "is smaller than one block",
				 lu->lun, lu->target->name);
			bs->ops->close(bs);
			return -EINVAL;
		}
	}
	/* The type reads the new medium's path there (a tape scans its
	 * cartridge); put back if the load fails. */
	if (bs) {
		snprintf(prev, sizeof(prev), "%s", lu->params.backing);
		snprintf(lu->params.backing, sizeof(lu->params.backing), "%s",
			 backing);
	}
	rc = lu->dtype->medium_load(lu, bs, nr, &old);
	if (rc < 0) {
		if (bs) {
			bs->ops->close(bs);
			snprintf(lu->params.backing, sizeof(lu->params.backing),
				 "%s", prev);
		}
		if (rc == -EBUSY)
			snprintf(err, errlen,
				 "LUN %" PRIu64 " of %s holds a medium; eject "
				 "it first (lun eject)",
				 lu->lun, lu->target->name);
		else
			snprintf(err, errlen,
				 "cannot load LUN %" PRIu64 " of %s: %s",
				 lu->lun, lu->target->name, strerror(-rc));
		return rc;
	}
	if (bs) {
		bs->owner = lu;
		__atomic_store_n(&bs->resized, scsi_lu_medium_resized,
				 __ATOMIC_RELEASE);
		if (old)
			old->ops->close(old);
	}
	log_info("target %s: LUN %" PRIu64 ": medium loaded (%s, %" PRIu64
		 " blocks)",
		 lu->target->name, lu->lun, lu->params.backing,
		 scsi_lu_blocks(lu));
	return 0;
}

/* The store takes the new size; one that cannot choose its size (a block
 * device) must already have it. */
static int scsi_lu_resize_store(struct scsi_lu *lu, uint64_t size, char *err,
				size_t errlen)
{
	const struct bs_ops *ops = lu->bs->ops;
	int rc = ops->resize ? ops->resize(lu->bs, size) : -EOPNOTSUPP;

	if (rc == -EOPNOTSUPP && ops->refresh_size)
		rc = ops->refresh_size(lu->bs);
	else if (rc == -EOPNOTSUPP)
		rc = 0;
	if (rc < 0) {
		snprintf(err, errlen,
			 "cannot resize %s to %" PRIu64 " bytes: %s",
			 lu->params.backing, size, strerror(-rc));
		return rc;
	}
	if (lu->bs->size < size) {
		snprintf(err, errlen,
			 "%s has %" PRIu64 " bytes, fewer than %" PRIu64
			 "; grow the device first, then resize the LUN",
			 lu->params.backing, lu->bs->size, size);
		return -ENOSPC;
	}
	return 0;
}

int scsi_lu_resize(struct scsi_lu *lu, uint64_t size, bool allow_shrink,
		   char *err, size_t errlen)
{
	uint64_t old = scsi_lu_blocks(lu) << lu->block_shift;
	int rc;

	if (!lu->dtype->resizable) {
		snprintf(err, errlen,
			 "LUN %" PRIu64 " of %s is a %s, whose medium has its "
			 "own size; lun resize is for disks",
			 lu->lun, lu->target->name, lu->dtype->name);
		return -EOPNOTSUPP;
	}
	if (!lu->bs) {
		snprintf(err, errlen,
			 "LUN %" PRIu64 " of %s has no medium to resize",
			 lu->lun, lu->target->name);
		return -ENOMEDIUM;
	}
	if (size == 0) {
		/* The admin grew the file or device: expose all of it. */
		if (lu->bs->ops->refresh_size &&
		    (rc = lu->bs->ops->refresh_size(lu->bs)) < 0) {
			snprintf(err, errlen, "cannot read the size of %s: %s",
				 lu->params.backing, strerror(-rc));
			return rc;
		}
		size = lu->bs->size & ~(uint64_t)(lu->block_size - 1);
	}
	if (size % lu->block_size || size < lu->block_size) {
		snprintf(err, errlen,
			 "size %" PRIu64 " is not a positive multiple of LUN "
			 "%" PRIu64 "'s %u-byte block size",
			 size, lu->lun, lu->block_size);
		return -EINVAL;
	}
	if (size < old && !allow_shrink) {
		snprintf(err, errlen,
			 "shrinking LUN %" PRIu64 " of %s from %" PRIu64
			 " to %" PRIu64 " bytes loses the data past the new "
			 "end; pass --shrink if that is what you want",
			 lu->lun, lu->target->name, old, size);
		return -EINVAL;
	}
	if (size == old)
		return 0;
	if (scsi_lu_readonly(lu) && size > lu->bs->size) {
		snprintf(err, errlen,
			 "LUN %" PRIu64 " of %s is read-only; lunard cannot "
			 "grow %s",
			 lu->lun, lu->target->name, lu->params.backing);
		return -EROFS;
	}
	if (!scsi_lu_readonly(lu)) {
		rc = scsi_lu_resize_store(lu, size, err, errlen);
		if (rc < 0)
			return rc;
	}
	lu->params.size = size;
	atomic_store(&lu->nr_blocks, size >> lu->block_shift);
	/* SBC-4 §4.10: every initiator port re-reads the capacity. */
	scsi_ua_establish_others(lu, NULL, SCSI_ASC_CAPACITY_DATA_CHANGED);
	log_info("target %s: LUN %" PRIu64 " resized from %" PRIu64
		 " to %" PRIu64 " bytes",
		 lu->target->name, lu->lun, old, size);
	return 0;
}

int scsi_lu_delete(struct scsi_target *t, uint64_t lun)
{
	struct scsi_lu *lu = scsi_lun_map_find(t->lun_map, lun);
	struct scsi_lun_map *m;

	if (!lu)
		return -ENOENT;
	m = scsi_lun_map_edit(t->lun_map, lun, NULL);
	if (!m)
		return -ENOMEM;
	scsi_mode_lu_forget(lu); /* the old map still holds lu */
	scsi_pr_lu_delete(lu);
	scsi_target_swap_map(t, m);
	log_info("target %s: LUN %" PRIu64 " deleted", t->name, lun);
	return 0;
}
