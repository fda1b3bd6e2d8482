/*
 * The rdwr backing store: a regular file or a block device served with
 * pread/pwrite from a small pool of worker threads per device (the tgt
 * "rdwr" model). The issuing reactor never blocks on the disk: submit only
 * queues the request; a worker performs it and hands it back through
 * bs_complete().
 *
 * FUA writes use pwritev2(RWF_DSYNC) (pwrite + fdatasync where the kernel
 * lacks it), FLUSH is fdatasync, DISCARD punches a hole (reads return
 * zeros afterwards, as bs.h promises), WRITE_ZEROES uses
 * fallocate(ZERO_RANGE) and falls back to writing zeros. The holes of a
 * file are reported through SEEK_DATA/SEEK_HOLE (thin provisioning).
 */
#include "bs/bs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/log.h"

#define BS_RDWR_THREADS 8
/* Zeros written per call when fallocate cannot zero a range. Aligned so
 * that it also serves O_DIRECT. */
#define BS_RDWR_ZERO_CHUNK (256 * 1024)
#define BS_RDWR_MIN_ALIGN  512

struct bs_rdwr {
	struct bs_dev dev;
	int fd;
	bool is_blk;
	bool direct;
	unsigned align; /* O_DIRECT offset/length/buffer alignment */
	char *path;

	/* Features found missing at run time; checked without the lock. */
	atomic_bool no_rwf_dsync;
	atomic_bool no_zero_range;
	atomic_bool no_punch_hole;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct list_head queue; /* struct bs_req, via req->link */
	bool stopping;
	unsigned nthreads;
	pthread_t threads[BS_RDWR_THREADS];
};

static struct bs_ops bs_rdwr_ops;

static const uint8_t bs_rdwr_zeros[BS_RDWR_ZERO_CHUNK]
    __attribute__((aligned(4096)));

static struct bs_rdwr *bs_rdwr_of(struct bs_dev *dev)
{
	return container_of(dev, struct bs_rdwr, dev);
}

static uint64_t bs_rdwr_size(struct bs_rdwr *rd)
{
	return __atomic_load_n(&rd->dev.size, __ATOMIC_RELAXED);
}

static int bs_rdwr_read(struct bs_rdwr *rd, void *buf, uint64_t len,
			uint64_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pread(rd->fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			/* The medium shrank under us: never invent data. */
			log_error("rdwr %s: read at offset %llu hit the end "
				  "of the file; was it truncated while in "
				  "use? Restore its size or delete the LUN",
				  rd->path, (unsigned long long)off);
			return -EIO;
		}
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* One write call, stable on return when fua is set. */
static ssize_t bs_rdwr_pwrite_once(struct bs_rdwr *rd, const void *p,
				   size_t len, uint64_t off, bool fua)
{
	if (fua &&
	    !atomic_load_explicit(&rd->no_rwf_dsync, memory_order_relaxed)) {
		struct iovec iov = {.iov_base = (void *)p, .iov_len = len};
		ssize_t n = pwritev2(rd->fd, &iov, 1, (off_t)off, RWF_DSYNC);

		if (n >= 0 || (errno != EOPNOTSUPP && errno != ENOSYS))
			return n;
		atomic_store(&rd->no_rwf_dsync, true);
	}
	return pwrite(rd->fd, p, len, (off_t)off);
}

static int bs_rdwr_write(struct bs_rdwr *rd, const void *buf, uint64_t len,
			 uint64_t off, bool fua)
{
	const uint8_t *p = buf;
	bool need_sync = fua && atomic_load_explicit(&rd->no_rwf_dsync,
						     memory_order_relaxed);

	while (len > 0) {
		ssize_t n = bs_rdwr_pwrite_once(rd, p, len, off, fua);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* a zero-byte write makes no progress */
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	/* The fallback may have switched on during this request. */
	if (fua && (need_sync || atomic_load_explicit(&rd->no_rwf_dsync,
						      memory_order_relaxed))) {
		if (fdatasync(rd->fd) < 0)
			return -errno;
	}
	return 0;
}

static int bs_rdwr_write_zeros_by_hand(struct bs_rdwr *rd, uint64_t len,
				       uint64_t off)
{
	while (len > 0) {
		uint64_t chunk =
		    len < BS_RDWR_ZERO_CHUNK ? len : BS_RDWR_ZERO_CHUNK;
		int rc = bs_rdwr_write(rd, bs_rdwr_zeros, chunk, off, false);

		if (rc < 0)
			return rc;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

/* The device or filesystem cannot do this at all: stop trying. */
static bool bs_rdwr_never(int err)
{
	return err == EOPNOTSUPP || err == ENOSYS || err == ENOTTY;
}

/* Worth falling back to plain writes: the above, or a range the device
 * will not take this way (for example not aligned to its sectors). */
static bool bs_rdwr_unsupported(int err)
{
	return bs_rdwr_never(err) || err == EINVAL;
}

static int bs_rdwr_fallocate(struct bs_rdwr *rd, int mode, uint64_t len,
			     uint64_t off)
{
	int rc;

	do {
		rc = fallocate(rd->fd, mode, (off_t)off, (off_t)len);
	} while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : 0;
}

static int bs_rdwr_write_zeroes(struct bs_rdwr *rd, uint64_t len, uint64_t off)
{
	if (!atomic_load_explicit(&rd->no_zero_range, memory_order_relaxed)) {
		int rc = bs_rdwr_fallocate(
		    rd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, len, off);

		if (rc == 0 || !bs_rdwr_unsupported(-rc))
			return rc;
		if (bs_rdwr_never(-rc))
			atomic_store(&rd->no_zero_range, true);
	}
	return bs_rdwr_write_zeros_by_hand(rd, len, off);
}

/*
 * Deallocates a range so that it reads back as zeros. On a block device
 * fallocate(PUNCH_HOLE) is the kernel's "discard, guaranteed to read
 * zeros"; BLKDISCARD alone may leave old data visible, so it is not
 * enough for the contract in bs.h. Where nothing can deallocate, zeros
 * are written instead.
 */
static int bs_rdwr_discard(struct bs_rdwr *rd, uint64_t len, uint64_t off)
{
	if (!atomic_load_explicit(&rd->no_punch_hole, memory_order_relaxed)) {
		int rc = bs_rdwr_fallocate(
		    rd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, len, off);

		if (rc == 0 || !bs_rdwr_unsupported(-rc))
			return rc;
		if (bs_rdwr_never(-rc))
			atomic_store(&rd->no_punch_hole, true);
	}
	if (rd->is_blk) {
		uint64_t range[2] = {off, len};

		if (ioctl(rd->fd, BLKZEROOUT, range) == 0)
			return 0;
		if (!bs_rdwr_unsupported(errno))
			return -errno;
	}
	return bs_rdwr_write_zeroes(rd, len, off);
}

static bool bs_rdwr_misaligned(const struct bs_rdwr *rd,
			       const struct bs_req *req)
{
	uint64_t mask = rd->align - 1;

	if ((req->offset & mask) || (req->len & mask))
		return true;
	if ((req->op == BS_OP_READ || req->op == BS_OP_WRITE) &&
	    ((uintptr_t)req->buf & mask))
		return true;
	return false;
}

static int bs_rdwr_execute(struct bs_rdwr *rd, struct bs_req *req)
{
	uint64_t size = bs_rdwr_size(rd);

	if (req->op != BS_OP_FLUSH &&
	    (req->offset > size || req->len > size - req->offset))
		return -ERANGE;
	if (rd->dev.readonly && req->op != BS_OP_READ && req->op != BS_OP_FLUSH)
		return -EROFS;
	if (rd->direct && req->op != BS_OP_FLUSH && bs_rdwr_misaligned(rd, req))
		return -EINVAL;
	if (req->len == 0 && req->op != BS_OP_FLUSH)
		return 0;

	switch (req->op) {
	case BS_OP_READ:
		return bs_rdwr_read(rd, req->buf, req->len, req->offset);
	case BS_OP_WRITE:
		return bs_rdwr_write(rd, req->buf, req->len, req->offset,
				     req->flags & BS_F_FUA);
	case BS_OP_FLUSH:
		return fdatasync(rd->fd) < 0 ? -errno : 0;
	case BS_OP_DISCARD:
		return bs_rdwr_discard(rd, req->len, req->offset);
	case BS_OP_WRITE_ZEROES:
		return bs_rdwr_write_zeroes(rd, req->len, req->offset);
	case BS_OP_COMPARE_AND_WRITE:
		break; /* no BS_CAP_COMPARE_WRITE: sbc's range lock does it */
	}
	return -EOPNOTSUPP;
}

static const char *bs_rdwr_op_name(enum bs_op op)
{
	switch (op) {
	case BS_OP_READ:
		return "read";
	case BS_OP_WRITE:
		return "write";
	case BS_OP_FLUSH:
		return "flush";
	case BS_OP_DISCARD:
		return "discard";
	case BS_OP_WRITE_ZEROES:
		return "write-zeroes";
	case BS_OP_COMPARE_AND_WRITE:
		return "compare-and-write";
	}
	return "?";
}

static void *bs_rdwr_worker(void *arg)
{
	struct bs_rdwr *rd = arg;

	for (;;) {
		struct bs_req *req;
		int rc;

		pthread_mutex_lock(&rd->lock);
		while (list_empty(&rd->queue) && !rd->stopping)
			pthread_cond_wait(&rd->cond, &rd->lock);
		if (list_empty(&rd->queue)) {
			pthread_mutex_unlock(&rd->lock);
			break;
		}
		req = list_first_entry(&rd->queue, struct bs_req, link);
		list_del(&req->link);
		pthread_mutex_unlock(&rd->lock);

		rc = bs_rdwr_execute(rd, req);
		/* Range, alignment and read-only refusals are the caller's
		 * business; real I/O errors are the admin's. */
		if (rc < 0 && rc != -ERANGE && rc != -EROFS && rc != -EINVAL)
			log_error("rdwr %s: %s of %llu bytes at offset %llu "
				  "failed: %s; check the disk and the kernel "
				  "log",
				  rd->path, bs_rdwr_op_name(req->op),
				  (unsigned long long)req->len,
				  (unsigned long long)req->offset,
				  strerror(-rc));
		bs_complete(req, rc);
	}
	return NULL;
}

static void bs_rdwr_submit(struct bs_dev *dev, struct bs_req *req)
{
	struct bs_rdwr *rd = bs_rdwr_of(dev);

	pthread_mutex_lock(&rd->lock);
	list_add_tail(&req->link, &rd->queue);
	pthread_cond_signal(&rd->cond);
	pthread_mutex_unlock(&rd->lock);
}

static int bs_rdwr_stat_size(struct bs_rdwr *rd, uint64_t *size)
{
	struct stat st;

	if (fstat(rd->fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(rd->fd, BLKGETSIZE64, size) < 0)
			return -errno;
		return 0;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

static int bs_rdwr_refresh_size(struct bs_dev *dev)
{
	struct bs_rdwr *rd = bs_rdwr_of(dev);
	uint64_t size;
	int rc = bs_rdwr_stat_size(rd, &size);

	if (rc < 0) {
		log_error("rdwr %s: cannot read its size: %s", rd->path,
			  strerror(-rc));
		return rc;
	}
	__atomic_store_n(&dev->size, size, __ATOMIC_RELAXED);
	return 0;
}

static int bs_rdwr_resize(struct bs_dev *dev, uint64_t size)
{
	struct bs_rdwr *rd = bs_rdwr_of(dev);
	struct stat st;

	if (fstat(rd->fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EOPNOTSUPP;
	if (size > INT64_MAX)
		return -EFBIG;
	/* A shrink takes effect for new requests first: none is admitted
	 * past the new end while the file is cut. */
	if (size < bs_rdwr_size(rd))
		__atomic_store_n(&dev->size, size, __ATOMIC_RELAXED);
	if (ftruncate(rd->fd, (off_t)size) < 0) {
		int e = errno;

		bs_rdwr_refresh_size(dev);
		return -e;
	}
	__atomic_store_n(&dev->size, size, __ATOMIC_RELAXED);
	return 0;
}

/* Creates path as a sparse file of size bytes; -EEXIST if it appeared. */
static int bs_rdwr_create(const char *path, int flags, uint64_t size, char *err,
			  size_t errlen)
{
	int fd = open(path, flags | O_CREAT | O_EXCL, 0600);

	if (fd < 0 && errno == EINVAL && (flags & O_DIRECT)) {
		snprintf(err, errlen,
			 "cannot create %s with O_DIRECT: its filesystem does "
			 "not support direct I/O; drop the direct option",
			 path);
		return -EINVAL;
	}
	if (fd < 0) {
		int e = errno;

		if (e != EEXIST)
			snprintf(err, errlen,
				 "cannot create backing file %s: %s; check "
				 "that its directory exists and is writable",
				 path, strerror(e));
		return -e;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = errno;

		snprintf(err, errlen,
			 "cannot size new backing file %s to %llu bytes: %s; "
			 "check the free space and the size",
			 path, (unsigned long long)size, strerror(e));
		close(fd);
		unlink(path);
		return -e;
	}
	log_info("rdwr: created sparse backing file %s of %llu bytes", path,
		 (unsigned long long)size);
	return fd;
}

static int bs_rdwr_open_fd(const char *path, const struct bs_open_args *args,
			   char *err, size_t errlen)
{
	/* O_NONBLOCK: opening a FIFO must not hang the daemon; it is
	 * refused by type right after. Cleared again below. */
	int flags = (args->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC |
		    O_NONBLOCK | (args->direct ? O_DIRECT : 0);

	for (int attempt = 0; attempt < 2; attempt++) {
		int fd = open(path, flags);
		int e = errno;

		if (fd >= 0)
			return fd;
		if (e == ENOENT && args->create_size == 0) {
			snprintf(err, errlen,
				 "backing file %s does not exist; give a size "
				 "(--size) to create it as a sparse file, or "
				 "check the path",
				 path);
			return -ENOENT;
		}
		if (e == ENOENT && args->readonly) {
			snprintf(err, errlen,
				 "backing file %s does not exist, and a new "
				 "file would be all zeros; create it first or "
				 "drop the read-only option",
				 path);
			return -ENOENT;
		}
		if (e == ENOENT) {
			fd = bs_rdwr_create(path, flags, args->create_size, err,
					    errlen);
			if (fd != -EEXIST)
				return fd;
			continue; /* created by someone else meanwhile */
		}
		if (e == EISDIR) {
			snprintf(err, errlen,
				 "%s is a directory; give a regular file or a "
				 "block device as the backing store",
				 path);
			return -EISDIR;
		}
		if (e == EINVAL && args->direct) {
			snprintf(err, errlen,
				 "cannot open %s with O_DIRECT: its filesystem "
				 "does not support direct I/O; drop the direct "
				 "option",
				 path);
			return -EINVAL;
		}
		if (e == EROFS || e == EACCES || e == EPERM) {
			snprintf(err, errlen,
				 "cannot open %s for %s: %s; fix its "
				 "permissions or make the LUN read-only",
				 path, args->readonly ? "reading" : "writing",
				 strerror(e));
			return -e;
		}
		snprintf(err, errlen, "cannot open backing file %s: %s", path,
			 strerror(e));
		return -e;
	}
	snprintf(err, errlen,
		 "backing file %s keeps appearing and disappearing; is another "
		 "program creating it?",
		 path);
	return -EAGAIN;
}

static int bs_rdwr_check_type(struct bs_rdwr *rd, const char *path, char *err,
			      size_t errlen)
{
	struct stat st;

	if (fstat(rd->fd, &st) < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot stat backing file %s: %s", path,
			 strerror(e));
		return -e;
	}
	if (S_ISBLK(st.st_mode)) {
		int ssz = 0;

		rd->is_blk = true;
		if (ioctl(rd->fd, BLKSSZGET, &ssz) == 0 &&
		    ssz > BS_RDWR_MIN_ALIGN)
			rd->align = (unsigned)ssz;
		return 0;
	}
	if (S_ISREG(st.st_mode))
		return 0;
	snprintf(err, errlen,
		 "%s is a %s, not a regular file or a block device; give a "
		 "file or a disk as the backing store",
		 path,
		 S_ISDIR(st.st_mode)	? "directory"
		 : S_ISCHR(st.st_mode)	? "character device"
		 : S_ISFIFO(st.st_mode) ? "FIFO"
		 : S_ISSOCK(st.st_mode) ? "socket"
					: "special file");
	return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
}

static void bs_rdwr_free(struct bs_rdwr *rd)
{
	if (rd->fd >= 0)
		close(rd->fd);
	pthread_cond_destroy(&rd->cond);
	pthread_mutex_destroy(&rd->lock);
	free(rd->path);
	free(rd);
}

static void bs_rdwr_stop_workers(struct bs_rdwr *rd)
{
	pthread_mutex_lock(&rd->lock);
	rd->stopping = true;
	pthread_cond_broadcast(&rd->cond);
	pthread_mutex_unlock(&rd->lock);
	for (unsigned i = 0; i < rd->nthreads; i++)
		pthread_join(rd->threads[i], NULL);
	rd->nthreads = 0;
}

static int bs_rdwr_open(const char *path, const struct bs_open_args *args,
			struct bs_dev **out, char *err, size_t errlen)
{
	struct bs_rdwr *rd;
	uint64_t size;
	int rc;

	if (!path || !path[0]) {
		snprintf(err, errlen,
			 "the rdwr store needs a backing file or block device "
			 "path");
		return -EINVAL;
	}
	rd = calloc(1, sizeof(*rd));
	if (!rd || !(rd->path = strdup(path))) {
		free(rd);
		snprintf(err, errlen, "out of memory opening %s", path);
		return -ENOMEM;
	}
	rd->fd = -1;
	rd->dev.readonly = args->readonly;
	rd->direct = args->direct;
	rd->align = BS_RDWR_MIN_ALIGN;
	list_init(&rd->queue);
	pthread_mutex_init(&rd->lock, NULL);
	pthread_cond_init(&rd->cond, NULL);

	rc = bs_rdwr_open_fd(path, args, err, errlen);
	if (rc < 0)
		goto fail;
	rd->fd = rc;
	rc = bs_rdwr_check_type(rd, path, err, errlen);
	if (rc < 0)
		goto fail;
	if (fcntl(rd->fd, F_SETFL, fcntl(rd->fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot set up %s: %s", path,
			 strerror(-rc));
		goto fail;
	}
	rc = bs_rdwr_stat_size(rd, &size);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read the size of %s: %s", path,
			 strerror(-rc));
		goto fail;
	}
	if (size == 0) {
		snprintf(err, errlen,
			 "backing file %s is empty; give it a size first (for "
			 "example truncate -s 1G %s)",
			 path, path);
		rc = -EINVAL;
		goto fail;
	}
	if (args->create_size > size)
		log_warn("rdwr %s: the file has %llu bytes, less than the "
			 "%llu asked for; using the file's size (grow it "
			 "with truncate -s to change that)",
			 path, (unsigned long long)size,
			 (unsigned long long)args->create_size);
	rd->dev.size = size;

	for (unsigned i = 0; i < BS_RDWR_THREADS; i++) {
		rc = -pthread_create(&rd->threads[i], NULL, bs_rdwr_worker, rd);
		if (rc < 0) {
			snprintf(err, errlen,
				 "cannot start I/O threads for %s: %s; raise "
				 "the process's thread limit",
				 path, strerror(-rc));
			bs_rdwr_stop_workers(rd);
			goto fail;
		}
		pthread_setname_np(rd->threads[i], "lunar-rdwr");
		rd->nthreads++;
	}
	rd->dev.ops = &bs_rdwr_ops;
	*out = &rd->dev;
	return 0;

fail:
	bs_rdwr_free(rd);
	return rc;
}

static void bs_rdwr_close(struct bs_dev *dev)
{
	struct bs_rdwr *rd = bs_rdwr_of(dev);

	bs_rdwr_stop_workers(rd);
	bs_rdwr_free(rd);
}

/*
 * Holes of a regular file through SEEK_DATA/SEEK_HOLE (at the file
 * system's block granularity). A block device, or a file system without
 * them, reports everything mapped: "mapped or unknown" (SBC-4 §5.8).
 */
static int bs_rdwr_lba_status(struct bs_dev *dev, uint64_t offset, uint64_t len,
			      bool *mapped, uint64_t *run_len)
{
	struct bs_rdwr *rd = bs_rdwr_of(dev);
	off_t data, hole;

	*mapped = true;
	*run_len = len;
	if (rd->is_blk || len == 0)
		return 0;
	data = lseek(rd->fd, (off_t)offset, SEEK_DATA);
	if (data < 0) {
		if (errno == ENXIO) { /* only a hole up to the end */
			*mapped = false;
			return 0;
		}
		return errno == EINVAL || errno == EOPNOTSUPP ? 0 : -errno;
	}
	if ((uint64_t)data > offset) {
		*mapped = false;
		if ((uint64_t)data - offset < len)
			*run_len = (uint64_t)data - offset;
		return 0;
	}
	hole = lseek(rd->fd, (off_t)offset, SEEK_HOLE);
	if (hole < 0)
		return errno == ENXIO ? 0 : -errno;
	if ((uint64_t)hole > offset && (uint64_t)hole - offset < len)
		*run_len = (uint64_t)hole - offset;
	return 0;
}

static struct bs_ops bs_rdwr_ops = {
    .name = "rdwr",
    .open = bs_rdwr_open,
    .close = bs_rdwr_close,
    .submit = bs_rdwr_submit,
    .refresh_size = bs_rdwr_refresh_size,
    .resize = bs_rdwr_resize,
    .lba_status = bs_rdwr_lba_status,
};

BS_REGISTER(bs_rdwr_ops)
