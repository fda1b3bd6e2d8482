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
 * it fails with -ETIMEDOUT, default 30, at least 5) and threads (N > 0:
 * tgt's model instead, N threads that each wait for one request at a
 * time; kept to measure it against). Every image of the
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
#include <stdatomic.h>
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
#define BS_RBD_STATUS_WINDOW (1ull << 30)
/* pacific's rbd_aio_compare_and_write: inside one 512-byte sector. */
#define BS_RBD_CAW_MAX	   512
#define BS_RBD_THREADS_MAX 64

struct bs_rbd_opts {
	char conf[1024];
	char id[BS_RBD_NAME_MAX];
	char cluster[BS_RBD_NAME_MAX];
	char ns[BS_RBD_NAME_MAX];
	unsigned timeout;
	unsigned threads; /* 0: submit from the reactors */
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
	/* The shared record (bs_shared_ops): a RADOS object next to the
	 * image, watched by every gateway that serves it. */
	char obj[BS_RBD_NAME_MAX + 16];
	uint64_t rec_watch;
	bool rec_watching;
	atomic_bool rec_broken; /* the watch failed; re-made on next load */
	char rec_member[64];	/* our xattr "lunar.gw.<gid>.<cookie>" */
	void (*rec_changed)(void *arg, uint64_t token);
	void *rec_arg;
	char ns[BS_RBD_NAME_MAX];
	char name[BS_RBD_NAME_MAX * 4 + 4]; /* pool[/ns]/image[@snap] */
	char identity[BS_RBD_NAME_MAX * 4];
	/* threads=N: tgt's model, a pool of threads that each wait for one
	 * request at a time (kept to measure it against; see the top). */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct list_head queue; /* struct bs_req, via link */
	bool stopping;
	unsigned nthreads;
	pthread_t th[BS_RBD_THREADS_MAX];
};

static struct bs_ops bs_rbd_ops;
static pthread_mutex_t bs_rbd_clusters_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head bs_rbd_clusters = LIST_HEAD_INIT(bs_rbd_clusters);

static struct bs_rbd *bs_rbd_of(struct bs_dev *dev)
{
	return container_of(dev, struct bs_rbd, dev);
}

/* ---- options and names ---- */

/* A whole number option, min..max. */
static int bs_rbd_opt_uint(const char *key, const char *val, size_t vallen,
			   unsigned min, unsigned max, unsigned *out, char *err,
			   size_t errlen)
{
	unsigned long v = 0;
	size_t i;

	for (i = 0; i < vallen && i < 7 && val[i] >= '0' && val[i] <= '9'; i++)
		v = v * 10 + (unsigned long)(val[i] - '0');
	if (vallen == 0 || i != vallen || v < min || v > max) {
		snprintf(err, errlen,
			 "rbd option %s=%.*s: give a whole number, %u..%u", key,
			 (int)vallen, val, min, max);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

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
	if (keylen == strlen("threads") && !memcmp(key, "threads", keylen))
		return bs_rbd_opt_uint("threads", val, vallen, 0,
				       BS_RBD_THREADS_MAX, &o->threads, err,
				       errlen);
	if (keylen == strlen("timeout") && !memcmp(key, "timeout", keylen))
		return bs_rbd_opt_uint("timeout", val, vallen,
				       BS_RBD_MIN_TIMEOUT, BS_RBD_MAX_TIMEOUT,
				       &o->timeout, err, errlen);
	snprintf(err, errlen,
		 "unknown rbd option '%.*s'; known: conf, id, cluster, "
		 "namespace, timeout, threads",
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
			      errlen)) ||
	    /* Watches are pinged once a tick: a 5 s tick loses them on a
	     * cluster whose osd_client_watch_timeout is 5 s (which makes
	     * a dead gateway's locks go quickly). */
	    (rc = bs_rbd_conf(cl->rados, "objecter_tick_interval", "1", err,
			      errlen)) ||
	    /* Completions only post to a reactor (bs_complete): one thread
	     * does that with fewer wakeups than librados's two. Measured
	     * with qemu-img bench 4K QD32, 3 interleaved rounds: 19-22k
	     * against 15-19k read IOPS, 35 against 46-59 us of lunard CPU
	     * per I/O (notes of issue 12). */
	    (rc = bs_rbd_conf(cl->rados, "librados_thread_count", "1", err,
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
	snprintf(r->obj, sizeof(r->obj), "lunar.pr.%s", id);
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

static void bs_rbd_rec_unwatch(struct bs_dev *dev);
static int bs_rbd_start_threads(struct bs_rbd *r, unsigned n, char *err,
				size_t errlen);
static void bs_rbd_stop_threads(struct bs_rbd *r);

static void bs_rbd_free(struct bs_rbd *r)
{
	bs_rbd_stop_threads(r);
	pthread_mutex_destroy(&r->qlock);
	pthread_cond_destroy(&r->qcond);
	bs_rbd_rec_unwatch(&r->dev);
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
	pthread_mutex_init(&r->qlock, NULL);
	pthread_cond_init(&r->qcond, NULL);
	list_init(&r->queue);
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
	if (rc == 0)
		rc = bs_rbd_start_threads(r, o.threads, err, errlen);
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

/* threads=N: one request at a time, waited for on this thread. */
static void *bs_rbd_worker(void *arg)
{
	struct bs_rbd *r = arg;

	for (;;) {
		struct bs_req *req;
		rbd_completion_t c;
		ssize_t rc;

		pthread_mutex_lock(&r->qlock);
		while (list_empty(&r->queue) && !r->stopping)
			pthread_cond_wait(&r->qcond, &r->qlock);
		if (list_empty(&r->queue)) {
			pthread_mutex_unlock(&r->qlock);
			return NULL;
		}
		req = container_of(r->queue.next, struct bs_req, link);
		list_del(&req->link);
		pthread_mutex_unlock(&r->qlock);
		rc = rbd_aio_create_completion(NULL, NULL, &c);
		if (rc < 0) {
			bs_complete(req, (int)rc);
			continue;
		}
		rc = bs_rbd_start(r, req, c);
		if (rc == 0) {
			rbd_aio_wait_for_complete(c);
			rc = rbd_aio_get_return_value(c);
		}
		rbd_aio_release(c);
		bs_complete(req, bs_rbd_result(r, req, rc));
	}
}

static int bs_rbd_start_threads(struct bs_rbd *r, unsigned n, char *err,
				size_t errlen)
{
	for (; r->nthreads < n; r->nthreads++) {
		int rc =
		    pthread_create(&r->th[r->nthreads], NULL, bs_rbd_worker, r);

		if (rc) {
			snprintf(err, errlen,
				 "cannot start a thread for rbd "
				 "image %s: %s",
				 r->name, strerror(rc));
			return -rc;
		}
		pthread_setname_np(r->th[r->nthreads], "rbd-worker");
	}
	return 0;
}

static void bs_rbd_stop_threads(struct bs_rbd *r)
{
	pthread_mutex_lock(&r->qlock);
	r->stopping = true;
	pthread_cond_broadcast(&r->qcond);
	pthread_mutex_unlock(&r->qlock);
	for (unsigned i = 0; i < r->nthreads; i++)
		pthread_join(r->th[i], NULL);
	r->nthreads = 0;
}

static void bs_rbd_submit(struct bs_dev *dev, struct bs_req *req)
{
	struct bs_rbd *r = bs_rbd_of(dev);
	rbd_completion_t c;
	int rc;

	if (r->nthreads) {
		pthread_mutex_lock(&r->qlock);
		list_add_tail(&req->link, &r->queue);
		pthread_cond_signal(&r->qcond);
		pthread_mutex_unlock(&r->qlock);
		return;
	}

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

/* ---- the shared record (bs_shared_ops) ----
 *
 * Object lunar.pr.<image id> in the image's pool and namespace: a header
 * line "lunar-record <version>\n", then the owner's record. The version is
 * also the xattr lunar.version, which one RADOS write operation compares
 * and bumps while it writes the whole object (the OSD applies all of it
 * or nothing: CEPH-NOTES §2e), so of two gateways racing from the same
 * version exactly one wins and the other gets -ECANCELED. One read of the
 * object returns a record and its version together.
 *
 * Every gateway watches the object and registers itself in an xattr
 * lunar.gw.<gid>.<cookie> holding its client address; a notify that a
 * watcher leaves unacknowledged blocklists that address, so a gateway
 * that stopped answering cannot act on a state it no longer knows.
 */
#define BS_RBD_REC_MAX	   (1u << 20)
#define BS_RBD_REC_MAGIC   "lunar-record "
#define BS_RBD_REC_VERSION "lunar.version"
#define BS_RBD_REC_MEMBER  "lunar.gw."
/* How long a fenced gateway stays cut off (it rejoins with a new
 * address when restarted, so this only has to outlast its old I/O). */
#define BS_RBD_FENCE_SECS 3600

static void bs_rbd_rec_cb(void *arg, uint64_t notify_id, uint64_t handle,
			  uint64_t notifier_id, void *data, size_t len)
{
	struct bs_rbd *r = arg;

	/* notify_id is never 0 (it counts from 1 on the OSD). */
	r->rec_changed(r->rec_arg, notify_id);
}

static void bs_rbd_rec_err(void *arg, uint64_t cookie, int err)
{
	struct bs_rbd *r = arg;

	log_warn("rbd: lost the watch on %s (%s); re-watching", r->obj,
		 strerror(-err));
	atomic_store(&r->rec_broken, true);
	r->rec_changed(r->rec_arg, 0);
}

static int bs_rbd_rec_watch_once(struct bs_rbd *r)
{
	rados_write_op_t op;
	char *addrs = NULL;
	uint64_t cookie;
	int rc;

	/* The object must exist to be watched. */
	op = rados_create_write_op();
	rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
	rc = rados_write_op_operate(op, r->io, r->obj, NULL, 0);
	rados_release_write_op(op);
	if (rc < 0)
		return rc;
	rc = rados_watch2(r->io, r->obj, &cookie, bs_rbd_rec_cb, bs_rbd_rec_err,
			  r);
	if (rc < 0)
		return rc;
	r->rec_watch = cookie;
	r->rec_watching = true;
	snprintf(r->rec_member, sizeof(r->rec_member),
		 BS_RBD_REC_MEMBER "%" PRIu64 ".%" PRIu64,
		 rados_get_instance_id(r->cl->rados), cookie);
	rc = rados_getaddrs(r->cl->rados, &addrs);
	if (rc == 0) {
		rc = rados_setxattr(r->io, r->obj, r->rec_member, addrs,
				    strlen(addrs));
		rados_buffer_free(addrs);
	}
	return rc;
}

static void bs_rbd_rec_unwatch(struct bs_dev *dev)
{
	struct bs_rbd *r = bs_rbd_of(dev);

	if (!r->rec_watching)
		return;
	rados_rmxattr(r->io, r->obj, r->rec_member);
	rados_unwatch2(r->io, r->rec_watch);
	/* No callback of this watch runs after this. */
	rados_watch_flush(r->cl->rados);
	r->rec_watching = false;
}

static int bs_rbd_rec_watch(struct bs_dev *dev,
			    void (*changed)(void *arg, uint64_t token),
			    void *arg)
{
	struct bs_rbd *r = bs_rbd_of(dev);
	int rc;

	r->rec_changed = changed;
	r->rec_arg = arg;
	rc = bs_rbd_rec_watch_once(r);
	if (rc < 0) {
		log_error("rbd: cannot watch %s next to image %s: %s", r->obj,
			  r->name, strerror(-rc));
		bs_rbd_rec_unwatch(dev);
	}
	return rc;
}

static int bs_rbd_rec_rewatch(struct bs_rbd *r)
{
	if (!atomic_exchange(&r->rec_broken, false))
		return 0;
	if (r->rec_watching) {
		rados_rmxattr(r->io, r->obj, r->rec_member);
		rados_unwatch2(r->io, r->rec_watch);
		r->rec_watching = false;
	}
	if (bs_rbd_rec_watch_once(r) < 0) {
		atomic_store(&r->rec_broken, true);
		return -EIO;
	}
	return 0;
}

static int bs_rbd_rec_load(struct bs_dev *dev, char **data, uint64_t *version)
{
	struct bs_rbd *r = bs_rbd_of(dev);
	size_t magic = strlen(BS_RBD_REC_MAGIC);
	char *buf, *nl, *end;
	int rc;

	*data = NULL;
	*version = 0;
	bs_rbd_rec_rewatch(r);
	buf = malloc(BS_RBD_REC_MAX + 1);
	if (!buf)
		return -ENOMEM;
	rc = rados_read(r->io, r->obj, buf, BS_RBD_REC_MAX, 0);
	if (rc < 0 || rc == 0) {
		free(buf);
		return rc < 0 ? rc : -ENOENT; /* created by a watch only */
	}
	if (rc == (int)BS_RBD_REC_MAX) {
		free(buf);
		return -EFBIG;
	}
	buf[rc] = '\0';
	nl = strchr(buf, '\n');
	if (!nl || strncmp(buf, BS_RBD_REC_MAGIC, magic)) {
		free(buf);
		return -EBADMSG;
	}
	*version = strtoull(buf + magic, &end, 10);
	if (end != nl) {
		free(buf);
		return -EBADMSG;
	}
	memmove(buf, nl + 1, (size_t)rc - (size_t)(nl + 1 - buf) + 1);
	*data = buf;
	return 0;
}

static int bs_rbd_rec_replace(struct bs_dev *dev, const char *data, size_t len,
			      uint64_t version)
{
	struct bs_rbd *r = bs_rbd_of(dev);
	char old[24] = "", new[24];
	rados_write_op_t op;
	char *buf;
	int hdr, rc;

	if (version)
		snprintf(old, sizeof(old), "%" PRIu64, version);
	snprintf(new, sizeof(new), "%" PRIu64, version + 1);
	buf = malloc(len + 64);
	if (!buf)
		return -ENOMEM;
	hdr = snprintf(buf, 64, BS_RBD_REC_MAGIC "%s\n", new);
	memcpy(buf + hdr, data, len);
	op = rados_create_write_op();
	rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
	/* A missing xattr compares equal to "": version 0. */
	rados_write_op_cmpxattr(op, BS_RBD_REC_VERSION, LIBRADOS_CMPXATTR_OP_EQ,
				old, strlen(old));
	rados_write_op_setxattr(op, BS_RBD_REC_VERSION, new, strlen(new));
	rados_write_op_write_full(op, buf, len + (size_t)hdr);
	rc = rados_write_op_operate(op, r->io, r->obj, NULL, 0);
	rados_release_write_op(op);
	free(buf);
	return rc;
}

/* Blocklists the gateway behind watcher (gid, cookie), from its xattr. */
static bool bs_rbd_rec_fence(struct bs_rbd *r, uint64_t gid, uint64_t cookie)
{
	char key[64], addr[256];
	int n, rc;

	snprintf(key, sizeof(key), BS_RBD_REC_MEMBER "%" PRIu64 ".%" PRIu64,
		 gid, cookie);
	n = rados_getxattr(r->io, r->obj, key, addr, sizeof(addr) - 1);
	if (n <= 0) {
		log_error("rbd: gateway client.%" PRIu64 " did not answer a "
			  "change of %s and left no address to fence it by",
			  gid, r->obj);
		return false;
	}
	addr[n] = '\0';
	rc = rados_blocklist_add(r->cl->rados, addr, BS_RBD_FENCE_SECS);
	if (rc < 0) {
		log_error("rbd: cannot fence gateway %s (client.%" PRIu64
			  ") that did not answer a change of %s: %s",
			  addr, gid, r->obj, strerror(-rc));
		return false;
	}
	rados_rmxattr(r->io, r->obj, key);
	log_warn("rbd: fenced gateway %s (client.%" PRIu64 "): it did not "
		 "acknowledge a change of %s in time",
		 addr, gid, r->obj);
	return true;
}

static uint32_t bs_rbd_le32(const char *p)
{
	const uint8_t *b = (const uint8_t *)p;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static uint64_t bs_rbd_le64(const char *p)
{
	return bs_rbd_le32(p) | (uint64_t)bs_rbd_le32(p + 4) << 32;
}

/* The reply of rados_notify2 (librados.h): acks, then the watchers that
 * timed out, each fenced. Returns how many, or -EBADMSG / -EIO. */
static int bs_rbd_rec_fence_timeouts(struct bs_rbd *r, const char *p,
				     size_t len)
{
	size_t off = 4;
	uint32_t n;
	int fenced = 0;

	if (len < 4)
		return -EBADMSG;
	n = bs_rbd_le32(p);
	for (uint32_t i = 0; i < n; i++) {
		if (off + 20 > len)
			return -EBADMSG;
		off += 20 + bs_rbd_le32(p + off + 16);
	}
	if (off + 4 > len)
		return -EBADMSG;
	n = bs_rbd_le32(p + off);
	off += 4;
	for (uint32_t i = 0; i < n; i++) {
		if (off + 16 > len)
			return -EBADMSG;
		if (!bs_rbd_rec_fence(r, bs_rbd_le64(p + off),
				      bs_rbd_le64(p + off + 8)))
			return -EIO;
		fenced++;
		off += 16;
	}
	return fenced;
}

static int bs_rbd_rec_notify(struct bs_dev *dev, unsigned timeout_ms)
{
	struct bs_rbd *r = bs_rbd_of(dev);
	char *reply = NULL;
	size_t reply_len = 0;
	int rc, fenced;

	rc =
	    rados_notify2(r->io, r->obj, "", 0, timeout_ms, &reply, &reply_len);
	if (rc < 0 && rc != -ETIMEDOUT) {
		if (reply)
			rados_buffer_free(reply);
		return rc;
	}
	fenced = reply ? bs_rbd_rec_fence_timeouts(r, reply, reply_len)
		       : (rc == -ETIMEDOUT ? -EIO : 0);
	if (reply)
		rados_buffer_free(reply);
	return fenced;
}

static int bs_rbd_rec_ack(struct bs_dev *dev, uint64_t token)
{
	struct bs_rbd *r = bs_rbd_of(dev);

	if (!token || !r->rec_watching)
		return 0;
	return rados_notify_ack(r->io, r->obj, token, r->rec_watch, NULL, 0);
}

static int bs_rbd_rec_where(struct bs_dev *dev, char *out, size_t len)
{
	struct bs_rbd *r = bs_rbd_of(dev);
	const char *slash = strchr(r->name, '/');
	int pool_len = slash ? (int)(slash - r->name) : (int)strlen(r->name);

	return snprintf(out, len, "RADOS object %s in pool %.*s%s%s", r->obj,
			pool_len, r->name, r->ns[0] ? " namespace " : "",
			r->ns) >= (int)len
		   ? -ENOSPC
		   : 0;
}

/* ---- the exclusive lock, in manual mode (ALUA across gateways) ----
 *
 * Once a handle has called rbd_lock_acquire it never takes the lock on
 * its own again (CEPH-NOTES §2d): the gateway that owns the LU holds it,
 * the others never get it behind the owner's back, and a write without it
 * fails (-EROFS, here -ENOLCK) instead of moving the lock (no ping-pong).
 * rbd_lock_break blocklists the holder it breaks
 * (rbd_blocklist_on_break_lock), and librbd waits for the OSD map that
 * says so before it gives the lock to us: no write of the old holder
 * lands after ours.
 */
#define BS_RBD_LOCK_OWNERS_MAX 4

static int bs_rbd_lock_owners(struct bs_rbd *r, char **owners, size_t *n)
{
	rbd_lock_mode_t mode;
	int rc;

	*n = BS_RBD_LOCK_OWNERS_MAX;
	rc = rbd_lock_get_owners(r->image, &mode, owners, n);
	if (rc == -ENOENT) {
		*n = 0;
		return 0;
	}
	return rc;
}

static int bs_rbd_lock_take(struct bs_dev *dev, char *who, size_t len)
{
	struct bs_rbd *r = bs_rbd_of(dev);
	char *owners[BS_RBD_LOCK_OWNERS_MAX];
	int is_owner = 0, rc;
	size_t n;

	rc = rbd_is_exclusive_lock_owner(r->image, &is_owner);
	if (rc == 0 && !is_owner) {
		rc = bs_rbd_lock_owners(r, owners, &n);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			log_warn("rbd: image %s: breaking the lock of %s (it "
				 "is fenced)",
				 r->name, owners[i]);
			rc = rbd_lock_break(r->image, RBD_LOCK_MODE_EXCLUSIVE,
					    owners[i]);
			if (rc == -ENOENT)
				rc = 0; /* released meanwhile */
		}
		if (rc == 0 && n)
			rbd_lock_get_owners_cleanup(owners, n);
		if (rc == 0)
			rc =
			    rbd_lock_acquire(r->image, RBD_LOCK_MODE_EXCLUSIVE);
	}
	if (rc == 0)
		rc = bs_rbd_lock_owners(r, owners, &n);
	if (rc == 0) {
		if (n == 1)
			snprintf(who, len, "%s", owners[0]);
		else
			rc = -EAGAIN;
		if (n)
			rbd_lock_get_owners_cleanup(owners, n);
	}
	if (rc < 0)
		log_error("rbd: image %s: cannot take the exclusive lock: %s%s",
			  r->name, strerror(-rc),
			  rc == -ESHUTDOWN ? "; this gateway was fenced by "
					     "another: restart lunard"
					   : "");
	return rc;
}

static int bs_rbd_lock_drop(struct bs_dev *dev)
{
	struct bs_rbd *r = bs_rbd_of(dev);
	int is_owner = 0;
	int rc = rbd_is_exclusive_lock_owner(r->image, &is_owner);

	if (rc == 0 && is_owner)
		rc = rbd_lock_release(r->image);
	return rc;
}

static int bs_rbd_lock_held_by(struct bs_dev *dev, const char *who, bool *yes)
{
	struct bs_rbd *r = bs_rbd_of(dev);
	char *owners[BS_RBD_LOCK_OWNERS_MAX];
	size_t n;
	int rc = bs_rbd_lock_owners(r, owners, &n);

	*yes = false;
	if (rc < 0)
		return rc;
	*yes = n == 1 && !strcmp(owners[0], who);
	if (n)
		rbd_lock_get_owners_cleanup(owners, n);
	return 0;
}

static const struct bs_shared_ops bs_rbd_shared_ops = {
    .load = bs_rbd_rec_load,
    .replace = bs_rbd_rec_replace,
    .notify = bs_rbd_rec_notify,
    .watch = bs_rbd_rec_watch,
    .unwatch = bs_rbd_rec_unwatch,
    .ack = bs_rbd_rec_ack,
    .where = bs_rbd_rec_where,
    .lock_take = bs_rbd_lock_take,
    .lock_drop = bs_rbd_lock_drop,
    .lock_held_by = bs_rbd_lock_held_by,
};

static struct bs_ops bs_rbd_ops = {
    .name = "rbd",
    .open = bs_rbd_open,
    .close = bs_rbd_close,
    .submit = bs_rbd_submit,
    .refresh_size = bs_rbd_refresh_size,
    .resize = bs_rbd_resize,
    .lba_status = bs_rbd_lba_status,
    .identity = bs_rbd_identity,
    .shared = &bs_rbd_shared_ops,
    .takes_options = true,
};

BS_REGISTER(bs_rbd_ops)
