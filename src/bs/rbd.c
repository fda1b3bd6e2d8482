/*
 * The rbd backing store: a Ceph RBD image served through librbd's
 * asynchronous calls. The reactor submits (librbd's aio calls queue and
 * return; they are thread safe) and librbd's completion threads hand each
 * request back with bs_complete(), the model SPDK's bdev_rbd measured
 * faster than a dispatch thread pool (tgt's design); see the notes of
 * issue 12 for the measurement here.
 *
 * Backing "POOL/IMAGE" (or "IMAGE" in pool rbd), "@SNAP" for a read-only
 * snapshot. Options "key=value;...": conf (the cluster's ceph.conf;
 * default: $CEPH_CONF, then /etc/ceph), id (client id, default admin),
 * cluster (default ceph), namespace (a RADOS namespace) and timeout (how
 * many seconds an OSD or monitor may leave an operation unanswered before
 * it fails with -ETIMEDOUT, default 30, at least 5). Every image of the
 * same (conf, id, cluster, timeout) shares one cluster connection
 * (rados_t), which costs about five threads.
 *
 * What users trip on, decided here:
 *   - The librbd cache is off: a completed write is on the OSDs, so FUA
 *     needs nothing more and FLUSH is rbd_aio_flush. With several
 *     gateways an acknowledged write must never sit in one gateway's RAM.
 *   - Discards are never skipped: rbd_skip_partial_discard is off, so a
 *     DISCARD of any size reads back as zeros, as bs.h promises.
 *   - librbd clips a write that runs past the end silently; bs_submit
 *     refuses it first.
 *   - COMPARE AND WRITE is rbd_aio_compare_and_write, one OSD operation
 *     and atomic across gateways; pacific's librbd takes it only inside
 *     one 512-byte sector (CEPH-NOTES §2b).
 *   - Errors: -ETIMEDOUT stays (a dead OSD: the initiator retries),
 *     -ESHUTDOWN means this client was fenced (blocklisted) and -EROFS on
 *     a writable image that another client holds the exclusive lock
 *     (-ENOLCK here); sbc.c answers both with a sense that makes the
 *     initiator take another path, never a medium error.
 *   - A resize by another client (`rbd resize`, another gateway) arrives
 *     through rbd_update_watch and is passed on with bs_dev_resized().
 */
#include "bs/bs.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#include "util/log.h"

#define BS_RBD_DEFAULT_POOL    "rbd"
#define BS_RBD_DEFAULT_ID      "admin"
#define BS_RBD_DEFAULT_CLUSTER "ceph"
#define BS_RBD_DEFAULT_TIMEOUT 30
#define BS_RBD_MIN_TIMEOUT     5
#define BS_RBD_MAX_TIMEOUT     3600
#define BS_RBD_NAME_MAX	       256
/* The first connection to the monitors may take at most this long. */
#define BS_RBD_MOUNT_TIMEOUT 15
/* GET LBA STATUS asks the OSDs about at most this many bytes at once. */
#define BS_RBD_STATUS_WINDOW (64ull << 20)
/* pacific's rbd_aio_compare_and_write: inside one 512-byte sector. */
#define BS_RBD_CAW_MAX 512

struct bs_rbd_opts {
	char conf[1024];
	char id[BS_RBD_NAME_MAX];
	char cluster[BS_RBD_NAME_MAX];
	char ns[BS_RBD_NAME_MAX];
	unsigned timeout;
};

/* One connection to a cluster, shared by the images opened through it. */
struct bs_rbd_cluster {
	struct list_head link;
	unsigned refcnt;	/* under bs_rbd_clusters_lock */
	struct bs_rbd_opts key; /* ns unused */
	rados_t rados;
	char fsid[64];
};

struct bs_rbd {
	struct bs_dev dev;
	struct bs_rbd_cluster *cl;
	rados_ioctx_t io;
	rbd_image_t image;
	uint64_t watch;
	bool watching;
	char ns[BS_RBD_NAME_MAX];
	char name[BS_RBD_NAME_MAX * 4 + 4]; /* pool[/ns]/image[@snap] */
	char identity[BS_RBD_NAME_MAX * 4];
};

static struct bs_ops bs_rbd_ops;
static pthread_mutex_t bs_rbd_clusters_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head bs_rbd_clusters = LIST_HEAD_INIT(bs_rbd_clusters);

static struct bs_rbd *bs_rbd_of(struct bs_dev *dev)
{
	return container_of(dev, struct bs_rbd, dev);
}

/* ---- options and names ---- */

static int bs_rbd_opt_set(struct bs_rbd_opts *o, const char *key, size_t keylen,
			  const char *val, size_t vallen, char *err,
			  size_t errlen)
{
	struct {
		const char *name;
		char *dst;
		size_t cap;
	} strs[] = {
	    {"conf", o->conf, sizeof(o->conf)},
	    {"id", o->id, sizeof(o->id)},
	    {"cluster", o->cluster, sizeof(o->cluster)},
	    {"namespace", o->ns, sizeof(o->ns)},
	};

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		if (strlen(strs[i].name) != keylen ||
		    memcmp(strs[i].name, key, keylen))
			continue;
		if (vallen == 0 || vallen >= strs[i].cap) {
			snprintf(err, errlen,
				 "rbd option %s needs a value of 1..%zu bytes",
				 strs[i].name, strs[i].cap - 1);
			return -EINVAL;
		}
		memcpy(strs[i].dst, val, vallen);
		strs[i].dst[vallen] = '\0';
		return 0;
	}
	if (keylen == strlen("timeout") && !memcmp(key, "timeout", keylen)) {
		unsigned long v = 0;
		size_t i;

		for (i = 0; i < vallen && val[i] >= '0' && val[i] <= '9'; i++)
			v = v * 10 + (unsigned long)(val[i] - '0');
		if (vallen == 0 || i != vallen || vallen > 6 ||
		    v < BS_RBD_MIN_TIMEOUT || v > BS_RBD_MAX_TIMEOUT) {
			snprintf(err, errlen,
				 "rbd option timeout=%.*s: give whole seconds, "
				 "%d..%d",
				 (int)vallen, val, BS_RBD_MIN_TIMEOUT,
				 BS_RBD_MAX_TIMEOUT);
			return -EINVAL;
		}
		o->timeout = (unsigned)v;
		return 0;
	}
	snprintf(err, errlen,
		 "unknown rbd option '%.*s'; known: conf, id, cluster, "
		 "namespace, timeout",
		 (int)keylen, key);
	return -EINVAL;
}

static int bs_rbd_parse_opts(const char *s, struct bs_rbd_opts *o, char *err,
			     size_t errlen)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->id, sizeof(o->id), "%s", BS_RBD_DEFAULT_ID);
	snprintf(o->cluster, sizeof(o->cluster), "%s", BS_RBD_DEFAULT_CLUSTER);
	o->timeout = BS_RBD_DEFAULT_TIMEOUT;
	while (s && *s) {
		const char *end = strchr(s, ';');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		const char *eq = memchr(s, '=', len);
		int rc;

		if (len == 0) { /* tolerate ";;" and a trailing ';' */
			s = end ? end + 1 : s + len;
			continue;
		}
		if (!eq) {
			snprintf(err, errlen,
				 "rbd option '%.*s' has no value; write "
				 "key=value, separated by ';'",
				 (int)len, s);
			return -EINVAL;
		}
		rc = bs_rbd_opt_set(o, s, (size_t)(eq - s), eq + 1,
				    len - (size_t)(eq - s) - 1, err, errlen);
		if (rc)
			return rc;
		s = end ? end + 1 : s + len;
	}
	return 0;
}

/* Splits "pool/image@snap" (pool and snap optional). */
static int bs_rbd_parse_path(const char *path, char *pool, char *image,
			     char *snap, char *err, size_t errlen)
{
	const char *slash = strchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	const char *at = strchr(name, '@');
	size_t plen = slash ? (size_t)(slash - path) : 0;
	size_t ilen = at ? (size_t)(at - name) : strlen(name);
	size_t slen = at ? strlen(at + 1) : 0;

	if ((slash && plen == 0) || ilen == 0 || (at && slen == 0) ||
	    strchr(name, '/') || plen >= BS_RBD_NAME_MAX ||
	    ilen >= BS_RBD_NAME_MAX || slen >= BS_RBD_NAME_MAX) {
		snprintf(err, errlen,
			 "rbd backing '%s' is not POOL/IMAGE[@SNAPSHOT] "
			 "(names of at most %d bytes); for example "
			 "rbd/disk1",
			 path, BS_RBD_NAME_MAX - 1);
		return -EINVAL;
	}
	snprintf(pool, BS_RBD_NAME_MAX, "%.*s", (int)(slash ? plen : 3),
		 slash ? path : BS_RBD_DEFAULT_POOL);
	snprintf(image, BS_RBD_NAME_MAX, "%.*s", (int)ilen, name);
	snprintf(snap, BS_RBD_NAME_MAX, "%.*s", (int)slen, at ? at + 1 : "");
	return 0;
}

/* ---- cluster connections ---- */

static bool bs_rbd_same_cluster(const struct bs_rbd_opts *a,
				const struct bs_rbd_opts *b)
{
	return !strcmp(a->conf, b->conf) && !strcmp(a->id, b->id) &&
	       !strcmp(a->cluster, b->cluster) && a->timeout == b->timeout;
}

static int bs_rbd_conf(rados_t r, const char *key, const char *val, char *err,
		       size_t errlen)
{
	int rc = rados_conf_set(r, key, val);

	if (rc < 0)
		snprintf(err, errlen, "librbd refused setting %s=%s: %s", key,
			 val, strerror(-rc));
	return rc;
}

static int bs_rbd_connect(struct bs_rbd_cluster *cl, char *err, size_t errlen)
{
	const struct bs_rbd_opts *o = &cl->key;
	const char *where = o->conf[0] ? o->conf : "$CEPH_CONF or /etc/ceph";
	char user[BS_RBD_NAME_MAX + 8], t[16], mt[16];
	size_t fsidlen = sizeof(cl->fsid);
	int rc;

	snprintf(user, sizeof(user), "client.%s", o->id);
	rc = rados_create2(&cl->rados, o->cluster, user, 0);
	if (rc < 0) {
		snprintf(err, errlen, "cannot set up a Ceph client %s: %s",
			 user, strerror(-rc));
		return rc;
	}
	rc = rados_conf_read_file(cl->rados, o->conf[0] ? o->conf : NULL);
	if (rc < 0) {
		snprintf(err, errlen,
			 "cannot read the Ceph configuration (%s): %s; give "
			 "its path with the rbd option conf=PATH",
			 where, strerror(-rc));
		goto fail;
	}
	snprintf(t, sizeof(t), "%u", o->timeout);
	snprintf(mt, sizeof(mt), "%u",
		 o->timeout < BS_RBD_MOUNT_TIMEOUT ? o->timeout
						   : BS_RBD_MOUNT_TIMEOUT);
	if ((rc = bs_rbd_conf(cl->rados, "rbd_cache", "false", err, errlen)) ||
	    (rc = bs_rbd_conf(cl->rados, "rbd_skip_partial_discard", "false",
			      err, errlen)) ||
	    (rc = bs_rbd_conf(cl->rados, "rados_osd_op_timeout", t, err,
			      errlen)) ||
	    (rc = bs_rbd_conf(cl->rados, "rados_mon_op_timeout", t, err,
			      errlen)) ||
	    (rc = bs_rbd_conf(cl->rados, "client_mount_timeout", mt, err,
			      errlen)))
		goto fail;
	rc = rados_connect(cl->rados);
	if (rc < 0) {
		snprintf(err, errlen,
			 "cannot connect to Ceph cluster '%s' (%s) as %s: %s; "
			 "check that its monitors answer (ceph -s) and that "
			 "the client has a key",
			 o->cluster, where, user, strerror(-rc));
		goto fail;
	}
	rc = rados_cluster_fsid(cl->rados, cl->fsid, fsidlen);
	if (rc < 0) {
		snprintf(err, errlen,
			 "cannot read the fsid of Ceph cluster "
			 "'%s': %s",
			 o->cluster, strerror(-rc));
		goto fail;
	}
	return 0;
fail:
	rados_shutdown(cl->rados);
	return rc;
}

static int bs_rbd_cluster_get(const struct bs_rbd_opts *o,
			      struct bs_rbd_cluster **out, char *err,
			      size_t errlen)
{
	struct bs_rbd_cluster *cl;
	int rc;

	pthread_mutex_lock(&bs_rbd_clusters_lock);
	list_for_each_entry (cl, &bs_rbd_clusters, link) {
		if (bs_rbd_same_cluster(&cl->key, o)) {
			cl->refcnt++;
			pthread_mutex_unlock(&bs_rbd_clusters_lock);
			*out = cl;
			return 0;
		}
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		pthread_mutex_unlock(&bs_rbd_clusters_lock);
		snprintf(err, errlen, "out of memory connecting to Ceph");
		return -ENOMEM;
	}
	cl->key = *o;
	cl->key.ns[0] = '\0';
	cl->refcnt = 1;
	/* Connecting waits for the monitors (at most the mount timeout);
	 * holding the lock keeps a second LU from connecting twice. */
	rc = bs_rbd_connect(cl, err, errlen);
	if (rc < 0) {
		pthread_mutex_unlock(&bs_rbd_clusters_lock);
		free(cl);
		return rc;
	}
	list_add_tail(&cl->link, &bs_rbd_clusters);
	pthread_mutex_unlock(&bs_rbd_clusters_lock);
	*out = cl;
	return 0;
}

static void bs_rbd_cluster_put(struct bs_rbd_cluster *cl)
{
	bool last;

	pthread_mutex_lock(&bs_rbd_clusters_lock);
	last = --cl->refcnt == 0;
	if (last)
		list_del(&cl->link);
	pthread_mutex_unlock(&bs_rbd_clusters_lock);
	if (!last)
		return;
	rados_shutdown(cl->rados);
	free(cl);
}

/* ---- open and close ---- */

/* Another client resized the image (or changed its metadata: the watch
 * fires for both). librbd's thread; the image is open until unwatch. */
static void bs_rbd_watch_cb(void *arg)
{
	struct bs_rbd *r = arg;
	uint64_t size;

	if (rbd_get_size(r->image, &size) == 0 && size != bs_dev_size(&r->dev))
		bs_dev_resized(&r->dev);
}

static int bs_rbd_create(struct bs_rbd *r, const char *image, uint64_t size,
			 char *err, size_t errlen)
{
	int order = 0; /* the cluster's default object size */
	int rc = rbd_create(r->io, image, size, &order);

	if (rc < 0)
		snprintf(err, errlen, "cannot create rbd image %s: %s", r->name,
			 strerror(-rc));
	else
		log_info("rbd: created image %s of %" PRIu64 " bytes", r->name,
			 size);
	return rc;
}

static int bs_rbd_open_image(struct bs_rbd *r, const char *image,
			     const char *snap, const struct bs_open_args *args,
			     char *err, size_t errlen)
{
	bool ro = args->readonly || snap[0];
	int rc;

	if (ro)
		rc = rbd_open_read_only(r->io, image, &r->image,
					snap[0] ? snap : NULL);
	else
		rc = rbd_open(r->io, image, &r->image, NULL);
	if (rc == -ENOENT && !ro && args->create_size) {
		rc = bs_rbd_create(r, image, args->create_size, err, errlen);
		if (rc < 0)
			return rc;
		rc = rbd_open(r->io, image, &r->image, NULL);
	}
	if (rc == -ENOENT)
		snprintf(err, errlen,
			 "rbd image %s does not exist; create it (rbd create "
			 "--size SIZE %s) or give --size to have lunard "
			 "create it",
			 r->name, r->name);
	else if (rc < 0)
		snprintf(err, errlen, "cannot open rbd image %s: %s", r->name,
			 strerror(-rc));
	r->dev.readonly = ro;
	return rc;
}

static int bs_rbd_setup(struct bs_rbd *r, const struct bs_open_args *args,
			char *err, size_t errlen)
{
	uint64_t size;
	char id[BS_RBD_NAME_MAX];
	int rc;

	rc = rbd_get_size(r->image, &size);
	if (rc == 0)
		rc = rbd_get_id(r->image, id, sizeof(id));
	if (rc < 0) {
		snprintf(err, errlen, "cannot read rbd image %s: %s", r->name,
			 strerror(-rc));
		return rc;
	}
	if (args->create_size > size) {
		snprintf(err, errlen,
			 "rbd image %s has %" PRIu64 " bytes, fewer than the "
			 "%" PRIu64 " asked; leave out the size, or grow the "
			 "image (rbd resize) first",
			 r->name, size, args->create_size);
		return -ENOSPC;
	}
	r->dev.size = size;
	snprintf(r->identity, sizeof(r->identity), "rbd:%s/%" PRId64 "/%s/%s",
		 r->cl->fsid, rados_ioctx_get_id(r->io), r->ns, id);
	rc = rbd_update_watch(r->image, &r->watch, bs_rbd_watch_cb, r);
	if (rc < 0) {
		snprintf(err, errlen,
			 "cannot watch rbd image %s for size changes: %s",
			 r->name, strerror(-rc));
		return rc;
	}
	r->watching = true;
	return 0;
}

static void bs_rbd_free(struct bs_rbd *r)
{
	if (r->watching)
		rbd_update_unwatch(r->image, r->watch);
	if (r->image)
		rbd_close(r->image);
	if (r->io)
		rados_ioctx_destroy(r->io);
	if (r->cl)
		bs_rbd_cluster_put(r->cl);
	free(r);
}

static int bs_rbd_open(const char *path, const struct bs_open_args *args,
		       struct bs_dev **out, char *err, size_t errlen)
{
	char pool[BS_RBD_NAME_MAX], image[BS_RBD_NAME_MAX],
	    snap[BS_RBD_NAME_MAX];
	struct bs_rbd_opts o;
	struct bs_rbd *r;
	int rc;

	if ((rc = bs_rbd_parse_path(path, pool, image, snap, err, errlen)) ||
	    (rc = bs_rbd_parse_opts(args->options, &o, err, errlen)))
		return rc;
	if (args->direct) {
		snprintf(err, errlen,
			 "rbd image %s: --direct is for files; librbd's cache "
			 "is always off",
			 path);
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory opening rbd image %s",
			 path);
		return -ENOMEM;
	}
	r->dev.ops = &bs_rbd_ops;
	r->dev.caps = BS_CAP_SHARED | BS_CAP_COMPARE_WRITE;
	r->dev.compare_write_max = BS_RBD_CAW_MAX;
	snprintf(r->name, sizeof(r->name), "%s%s%s/%s%s%s", pool,
		 o.ns[0] ? "/" : "", o.ns, image, snap[0] ? "@" : "", snap);
	rc = bs_rbd_cluster_get(&o, &r->cl, err, errlen);
	if (rc == 0) {
		rc = rados_ioctx_create(r->cl->rados, pool, &r->io);
		if (rc < 0) {
			r->io = NULL;
			snprintf(err, errlen,
				 "cannot use pool '%s' of Ceph cluster %s: "
				 "%s%s",
				 pool, r->cl->fsid, strerror(-rc),
				 rc == -ENOENT ? "; create it (ceph osd pool "
						 "create) or name another"
					       : "");
		}
	}
	if (rc == 0) {
		snprintf(r->ns, sizeof(r->ns), "%s", o.ns);
		rados_ioctx_set_namespace(r->io, o.ns);
		rc = bs_rbd_open_image(r, image, snap, args, err, errlen);
		if (rc < 0)
			r->image = NULL;
	}
	if (rc == 0)
		rc = bs_rbd_setup(r, args, err, errlen);
	if (rc < 0) {
		bs_rbd_free(r);
		return rc;
	}
	*out = &r->dev;
	return 0;
}

static void bs_rbd_close(struct bs_dev *dev)
{
	bs_rbd_free(bs_rbd_of(dev));
}

/* ---- the data path ---- */

static int bs_rbd_result(const struct bs_rbd *r, struct bs_req *req, ssize_t rc)
{
	if (rc >= 0) {
		if (req->op == BS_OP_READ && (uint64_t)rc != req->len)
			return -EIO; /* never invent data */
		return 0;
	}
	switch (rc) {
	case -EILSEQ:
		/* librbd gives the image offset of the first difference. */
		req->miscompare -= req->offset;
		return -EILSEQ;
	case -EROFS:
		/* A writable image whose exclusive lock another client
		 * holds (it took it explicitly): this path cannot write. */
		return r->dev.readonly ? -EROFS : -ENOLCK;
	default: /* -ESHUTDOWN: this client is blocklisted (fenced) */
		return (int)rc;
	}
}

static void bs_rbd_done(rbd_completion_t c, void *arg)
{
	struct bs_req *req = arg;
	struct bs_rbd *r = bs_rbd_of(req->dev);
	ssize_t rc = rbd_aio_get_return_value(c);

	rbd_aio_release(c);
	bs_complete(req, bs_rbd_result(r, req, rc));
}

static int bs_rbd_start(struct bs_rbd *r, struct bs_req *req,
			rbd_completion_t c)
{
	uint8_t *buf = req->buf;

	switch (req->op) {
	case BS_OP_READ:
		return rbd_aio_read(r->image, req->offset, req->len,
				    (char *)buf, c);
	case BS_OP_WRITE:
		/* The cache is off: completed means on the OSDs (FUA). */
		return rbd_aio_write(r->image, req->offset, req->len,
				     (const char *)buf, c);
	case BS_OP_FLUSH:
		return rbd_aio_flush(r->image, c);
	case BS_OP_DISCARD:
		return rbd_aio_discard(r->image, req->offset, req->len, c);
	case BS_OP_WRITE_ZEROES:
		return rbd_aio_write_zeroes(r->image, req->offset, req->len, c,
					    0, 0);
	case BS_OP_COMPARE_AND_WRITE:
		req->miscompare = 0;
		return (int)rbd_aio_compare_and_write(
		    r->image, req->offset, req->len, (const char *)buf,
		    (const char *)buf + req->len, c, &req->miscompare, 0);
	}
	return -EOPNOTSUPP;
}

static void bs_rbd_submit(struct bs_dev *dev, struct bs_req *req)
{
	struct bs_rbd *r = bs_rbd_of(dev);
	rbd_completion_t c;
	int rc;

	rc = rbd_aio_create_completion(req, bs_rbd_done, &c);
	if (rc < 0) {
		bs_complete(req, rc);
		return;
	}
	rc = bs_rbd_start(r, req, c);
	if (rc < 0) {
		rbd_aio_release(c);
		bs_complete(req, bs_rbd_result(r, req, rc));
	}
}

/* ---- size, allocation, identity ---- */

static int bs_rbd_refresh_size(struct bs_dev *dev)
{
	struct bs_rbd *r = bs_rbd_of(dev);
	uint64_t size;
	int rc = rbd_get_size(r->image, &size);

	if (rc < 0)
		return rc;
	__atomic_store_n(&dev->size, size, __ATOMIC_RELAXED);
	return 0;
}

static int bs_rbd_resize(struct bs_dev *dev, uint64_t size)
{
	struct bs_rbd *r = bs_rbd_of(dev);
	int rc = rbd_resize(r->image, size);

	if (rc < 0) {
		log_error("rbd: resizing image %s to %" PRIu64 " bytes "
			  "failed: %s",
			  r->name, size, strerror(-rc));
		return rc;
	}
	return bs_rbd_refresh_size(dev);
}

struct bs_rbd_extent_walk {
	uint64_t offset;  /* where the run starts */
	uint64_t end;	  /* of the window asked */
	uint64_t run_end; /* end of the run found so far */
	bool mapped;
	bool started;
};

/* One allocated extent, in ascending order. Stops the walk (-ECANCELED)
 * once the run that starts at offset is known. */
static int bs_rbd_extent(uint64_t off, size_t len, int exists, void *arg)
{
	struct bs_rbd_extent_walk *w = arg;
	uint64_t end = off + len;

	if (!exists || end <= w->offset)
		return 0;
	if (!w->started) {
		w->started = true;
		if (off > w->offset) { /* a hole first, up to this extent */
			w->mapped = false;
			w->run_end = off;
			return -ECANCELED;
		}
		w->mapped = true;
		w->run_end = end;
		return 0;
	}
	if (off > w->run_end)
		return -ECANCELED; /* the mapped run ended in a hole */
	if (end > w->run_end)
		w->run_end = end;
	return 0;
}

static int bs_rbd_lba_status(struct bs_dev *dev, uint64_t offset, uint64_t len,
			     bool *mapped, uint64_t *run_len)
{
	struct bs_rbd *r = bs_rbd_of(dev);
	uint64_t win = len < BS_RBD_STATUS_WINDOW ? len : BS_RBD_STATUS_WINDOW;
	struct bs_rbd_extent_walk w = {.offset = offset, .end = offset + win};
	int rc;

	rc = rbd_diff_iterate2(r->image, NULL, offset, win, 1, 0, bs_rbd_extent,
			       &w);
	if (rc < 0 && rc != -ECANCELED)
		return rc;
	if (!w.started) {
		*mapped = false;
		*run_len = win;
		return 0;
	}
	*mapped = w.mapped;
	if (w.run_end > w.end)
		w.run_end = w.end;
	*run_len = w.run_end - offset;
	return 0;
}

static int bs_rbd_identity(struct bs_dev *dev, char *out, size_t len)
{
	struct bs_rbd *r = bs_rbd_of(dev);

	return snprintf(out, len, "%s", r->identity) >= (int)len ? -ENOSPC : 0;
}

static struct bs_ops bs_rbd_ops = {
    .name = "rbd",
    .open = bs_rbd_open,
    .close = bs_rbd_close,
    .submit = bs_rbd_submit,
    .refresh_size = bs_rbd_refresh_size,
    .resize = bs_rbd_resize,
    .lba_status = bs_rbd_lba_status,
    .identity = bs_rbd_identity,
    .takes_options = true,
};

BS_REGISTER(bs_rbd_ops)
