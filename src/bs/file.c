/*
 * What the file stores share (bs/file.h): opening a regular file or a
 * block device, its size, O_DIRECT alignment and holes, the blocking form
 * of every operation, and the worker pool that runs them.
 *
 * FUA writes use pwritev2(RWF_DSYNC) (pwrite + fdatasync where the kernel
 * lacks it), FLUSH is fdatasync, DISCARD punches a hole (reads return
 * zeros afterwards, as bs.h promises), WRITE_ZEROES uses
 * fallocate(ZERO_RANGE) and falls back to writing zeros. The holes of a
 * file are reported through SEEK_DATA/SEEK_HOLE (thin provisioning).
 */
#include "bs/file.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/log.h"

/* Zeros written per call when fallocate cannot zero a range. Aligned so
 * that it also serves O_DIRECT. */
#define BS_FILE_ZERO_CHUNK (256 * 1024)
#define BS_FILE_MIN_ALIGN  512

static const uint8_t bs_file_zeros[BS_FILE_ZERO_CHUNK]
    __attribute__((aligned(65536)));

static int bs_file_read(struct bs_file *f, void *buf, uint64_t len,
			uint64_t off)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pread(f->fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			/* The medium shrank under us: never invent data. */
			log_error("%s %s: read at offset %llu hit the end "
				  "of the file; was it truncated while in "
				  "use? Restore its size or delete the LUN",
				  f->store, f->path, (unsigned long long)off);
			return -EIO;
		}
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* One write call, stable on return when fua is set. */
static ssize_t bs_file_pwrite_once(struct bs_file *f, const void *p, size_t len,
				   uint64_t off, bool fua)
{
	if (fua &&
	    !atomic_load_explicit(&f->no_rwf_dsync, memory_order_relaxed)) {
		struct iovec iov = {.iov_base = (void *)p, .iov_len = len};
		ssize_t n = pwritev2(f->fd, &iov, 1, (off_t)off, RWF_DSYNC);

		if (n >= 0 || (errno != EOPNOTSUPP && errno != ENOSYS))
			return n;
		atomic_store(&f->no_rwf_dsync, true);
	}
	return pwrite(f->fd, p, len, (off_t)off);
}

static int bs_file_write(struct bs_file *f, const void *buf, uint64_t len,
			 uint64_t off, bool fua)
{
	const uint8_t *p = buf;
	bool need_sync =
	    fua && atomic_load_explicit(&f->no_rwf_dsync, memory_order_relaxed);

	while (len > 0) {
		ssize_t n = bs_file_pwrite_once(f, p, len, off, fua);

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
	if (fua && (need_sync || atomic_load_explicit(&f->no_rwf_dsync,
						      memory_order_relaxed))) {
		if (fdatasync(f->fd) < 0)
			return -errno;
	}
	return 0;
}

static int bs_file_write_zeros_by_hand(struct bs_file *f, uint64_t len,
				       uint64_t off)
{
	while (len > 0) {
		uint64_t chunk =
		    len < BS_FILE_ZERO_CHUNK ? len : BS_FILE_ZERO_CHUNK;
		int rc = bs_file_write(f, bs_file_zeros, chunk, off, false);

		if (rc < 0)
			return rc;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

/* The device or filesystem cannot do this at all: stop trying. */
static bool bs_file_never(int err)
{
	return err == EOPNOTSUPP || err == ENOSYS || err == ENOTTY;
}

/* Worth falling back to plain writes: the above, or a range the device
 * will not take this way (for example not aligned to its sectors). */
static bool bs_file_unsupported(int err)
{
	return bs_file_never(err) || err == EINVAL;
}

static int bs_file_fallocate(struct bs_file *f, int mode, uint64_t len,
			     uint64_t off)
{
	int rc;

	do {
		rc = fallocate(f->fd, mode, (off_t)off, (off_t)len);
	} while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : 0;
}

int bs_file_write_zeroes(struct bs_file *f, uint64_t len, uint64_t off)
{
	if (!atomic_load_explicit(&f->no_zero_range, memory_order_relaxed)) {
		int rc = bs_file_fallocate(
		    f, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, len, off);

		if (rc == 0 || !bs_file_unsupported(-rc))
			return rc;
		if (bs_file_never(-rc))
			atomic_store(&f->no_zero_range, true);
	}
	return bs_file_write_zeros_by_hand(f, len, off);
}

/*
 * Deallocates a range so that it reads back as zeros. On a block device
 * fallocate(PUNCH_HOLE) is the kernel's "discard, guaranteed to read
 * zeros"; BLKDISCARD alone may leave old data visible, so it is not
 * enough for the contract in bs.h. Where nothing can deallocate, zeros
 * are written instead.
 */
int bs_file_discard(struct bs_file *f, uint64_t len, uint64_t off)
{
	if (!atomic_load_explicit(&f->no_punch_hole, memory_order_relaxed)) {
		int rc = bs_file_fallocate(
		    f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, len, off);

		if (rc == 0 || !bs_file_unsupported(-rc))
			return rc;
		if (bs_file_never(-rc))
			atomic_store(&f->no_punch_hole, true);
	}
	if (f->is_blk) {
		uint64_t range[2] = {off, len};

		if (ioctl(f->fd, BLKZEROOUT, range) == 0)
			return 0;
		if (!bs_file_unsupported(errno))
			return -errno;
	}
	return bs_file_write_zeroes(f, len, off);
}

bool bs_file_misaligned(const struct bs_file *f, const struct bs_req *req)
{
	uint64_t mask = f->dev.io_align - 1;

	if ((req->offset & mask) || (req->len & mask))
		return true;
	if ((req->op == BS_OP_READ || req->op == BS_OP_WRITE) &&
	    ((uintptr_t)req->buf & (f->mem_align - 1)))
		return true;
	return false;
}

int bs_file_execute(struct bs_file *f, struct bs_req *req)
{
	uint64_t size = bs_dev_size(&f->dev);

	if (req->op != BS_OP_FLUSH &&
	    (req->offset > size || req->len > size - req->offset))
		return -ERANGE;
	if (f->dev.readonly && req->op != BS_OP_READ && req->op != BS_OP_FLUSH)
		return -EROFS;
	if (f->direct && req->op != BS_OP_FLUSH && bs_file_misaligned(f, req))
		return -EINVAL;
	if (req->len == 0 && req->op != BS_OP_FLUSH)
		return 0;

	switch (req->op) {
	case BS_OP_READ:
		return bs_file_read(f, req->buf, req->len, req->offset);
	case BS_OP_WRITE:
		return bs_file_write(f, req->buf, req->len, req->offset,
				     req->flags & BS_F_FUA);
	case BS_OP_FLUSH:
		return fdatasync(f->fd) < 0 ? -errno : 0;
	case BS_OP_DISCARD:
		return bs_file_discard(f, req->len, req->offset);
	case BS_OP_WRITE_ZEROES:
		return bs_file_write_zeroes(f, req->len, req->offset);
	case BS_OP_COMPARE_AND_WRITE:
		break; /* no BS_CAP_COMPARE_WRITE: sbc's range lock does it */
	}
	return -EOPNOTSUPP;
}

static const char *bs_file_op_name(enum bs_op op)
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

void bs_file_log_error(const struct bs_file *f, const struct bs_req *req,
		       int rc)
{
	/* Range, alignment and read-only refusals are the caller's
	 * business; real I/O errors are the admin's. */
	if (rc >= 0 || rc == -ERANGE || rc == -EROFS || rc == -EINVAL)
		return;
	log_error("%s %s: %s of %llu bytes at offset %llu failed: %s; check "
		  "the disk and the kernel log",
		  f->store, f->path, bs_file_op_name(req->op),
		  (unsigned long long)req->len, (unsigned long long)req->offset,
		  strerror(-rc));
}

int bs_file_async_result(struct bs_file *f, struct bs_req *req, long res)
{
	if (res == -EAGAIN || res == -EINTR)
		return BS_FILE_REISSUE;
	if ((req->op == BS_OP_READ || req->op == BS_OP_WRITE) && res >= 0) {
		if (res == 0) {
			/* The medium shrank under us: never invent data. */
			log_error(
			    "%s %s: %s at offset %llu made no progress; "
			    "was the file truncated while in use? "
			    "Restore its size or delete the LUN",
			    f->store, f->path, bs_file_op_name(req->op),
			    (unsigned long long)(req->offset + req->progress));
			return -EIO;
		}
		req->progress += (uint64_t)res;
		return req->progress < req->len ? BS_FILE_REISSUE : 0;
	}
	if (res < 0)
		bs_file_log_error(f, req, (int)res);
	return res < 0 ? (int)res : 0;
}

static void *bs_file_worker(void *arg)
{
	struct bs_file *f = arg;

	for (;;) {
		struct bs_req *req;
		int rc;

		pthread_mutex_lock(&f->lock);
		while (list_empty(&f->queue) && !f->stopping)
			pthread_cond_wait(&f->cond, &f->lock);
		if (list_empty(&f->queue)) {
			pthread_mutex_unlock(&f->lock);
			break;
		}
		req = list_first_entry(&f->queue, struct bs_req, link);
		list_del(&req->link);
		pthread_mutex_unlock(&f->lock);

		rc = bs_file_execute(f, req);
		bs_file_log_error(f, req, rc);
		bs_complete(req, rc);
	}
	return NULL;
}

void bs_file_queue(struct bs_file *f, struct bs_req *req)
{
	pthread_mutex_lock(&f->lock);
	list_add_tail(&req->link, &f->queue);
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void bs_file_stop_workers(struct bs_file *f)
{
	pthread_mutex_lock(&f->lock);
	f->stopping = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	for (unsigned i = 0; i < f->nthreads; i++)
		pthread_join(f->threads[i], NULL);
	f->nthreads = 0;
}

int bs_file_start_workers(struct bs_file *f, unsigned n, char *err,
			  size_t errlen)
{
	char name[16];

	snprintf(name, sizeof(name), "lunar-%s", f->store);
	for (unsigned i = 0; i < n && i < BS_FILE_MAX_THREADS; i++) {
		int rc =
		    -pthread_create(&f->threads[i], NULL, bs_file_worker, f);

		if (rc < 0) {
			snprintf(err, errlen,
				 "cannot start I/O threads for %s: %s; raise "
				 "the process's thread limit",
				 f->path, strerror(-rc));
			bs_file_stop_workers(f);
			return rc;
		}
		pthread_setname_np(f->threads[i], name);
		f->nthreads++;
	}
	return 0;
}

static int bs_file_stat_size(struct bs_file *f, uint64_t *size)
{
	struct stat st;

	if (fstat(f->fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(f->fd, BLKGETSIZE64, size) < 0)
			return -errno;
		return 0;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

int bs_file_refresh_size(struct bs_dev *dev)
{
	struct bs_file *f = bs_file_of(dev);
	uint64_t size;
	int rc = bs_file_stat_size(f, &size);

	if (rc < 0) {
		log_error("%s %s: cannot read its size: %s", f->store, f->path,
			  strerror(-rc));
		return rc;
	}
	__atomic_store_n(&dev->size, size, __ATOMIC_RELAXED);
	return 0;
}

int bs_file_resize(struct bs_dev *dev, uint64_t size)
{
	struct bs_file *f = bs_file_of(dev);
	struct stat st;

	if (fstat(f->fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EOPNOTSUPP;
	if (size > INT64_MAX)
		return -EFBIG;
	/* A shrink takes effect for new requests first: none is admitted
	 * past the new end while the file is cut. */
	if (size < bs_dev_size(&f->dev))
		__atomic_store_n(&dev->size, size, __ATOMIC_RELAXED);
	if (ftruncate(f->fd, (off_t)size) < 0) {
		int e = errno;

		bs_file_refresh_size(dev);
		return -e;
	}
	__atomic_store_n(&dev->size, size, __ATOMIC_RELAXED);
	return 0;
}

/* Creates path as a sparse file of size bytes; -EEXIST if it appeared. */
static int bs_file_create(const char *store, const char *path, int flags,
			  uint64_t size, char *err, size_t errlen)
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
	log_info("%s: created sparse backing file %s of %llu bytes", store,
		 path, (unsigned long long)size);
	return fd;
}

static int bs_file_open_fd(const char *store, const char *path,
			   const struct bs_open_args *args, char *err,
			   size_t errlen)
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
			fd = bs_file_create(store, path, flags,
					    args->create_size, err, errlen);
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

static int bs_file_check_type(struct bs_file *f, const char *path, char *err,
			      size_t errlen)
{
	struct stat st;

	if (fstat(f->fd, &st) < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot stat backing file %s: %s", path,
			 strerror(e));
		return -e;
	}
	if (S_ISBLK(st.st_mode)) {
		f->is_blk = true;
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

/*
 * The O_DIRECT rules of the open file: statx(STATX_DIOALIGN) where the
 * kernel tells them (Linux 6.1 on: block devices, ext4, xfs, f2fs),
 * otherwise the device's logical block size, otherwise 512 bytes.
 */
static int bs_file_dio_align(struct bs_file *f, char *err, size_t errlen)
{
	struct statx stx;
	uint32_t mem = 0, off = 0;
	int ssz = 0;

	if (statx(f->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN)) {
		mem = stx.stx_dio_mem_align;
		off = stx.stx_dio_offset_align;
		if (off == 0) {
			snprintf(err, errlen,
				 "%s does not support direct I/O (O_DIRECT) "
				 "on its file system; give the LUN "
				 "--buffered, or move the file",
				 f->path);
			return -EINVAL;
		}
	} else if (f->is_blk && ioctl(f->fd, BLKSSZGET, &ssz) == 0 && ssz > 0) {
		off = mem = (uint32_t)ssz;
	}
	if (off < BS_FILE_MIN_ALIGN)
		off = BS_FILE_MIN_ALIGN;
	if (mem < BS_FILE_MIN_ALIGN)
		mem = BS_FILE_MIN_ALIGN;
	if ((off & (off - 1)) || (mem & (mem - 1)) || off > 65536 ||
	    mem > 65536) {
		snprintf(err, errlen,
			 "%s wants direct I/O aligned to %u bytes (buffers to "
			 "%u), which lunar cannot do; give the LUN --buffered",
			 f->path, off, mem);
		return -EINVAL;
	}
	f->dev.io_align = off;
	f->mem_align = mem;
	return 0;
}

int bs_file_open(struct bs_file *f, const char *store, const char *path,
		 const struct bs_open_args *args, char *err, size_t errlen)
{
	uint64_t size;
	int rc;

	f->store = store;
	f->fd = -1;
	f->dev.readonly = args->readonly;
	f->dev.io_align = 1;
	f->mem_align = 1;
	f->direct = args->direct;
	list_init(&f->queue);
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	if (!path || !path[0]) {
		snprintf(err, errlen,
			 "the %s store needs a backing file or block device "
			 "path",
			 store);
		return -EINVAL;
	}
	if (!(f->path = strdup(path))) {
		snprintf(err, errlen, "out of memory opening %s", path);
		return -ENOMEM;
	}
	rc = bs_file_open_fd(store, path, args, err, errlen);
	if (rc < 0)
		return rc;
	f->fd = rc;
	rc = bs_file_check_type(f, path, err, errlen);
	if (rc < 0)
		return rc;
	if (fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot set up %s: %s", path,
			 strerror(-rc));
		return rc;
	}
	if (f->direct && (rc = bs_file_dio_align(f, err, errlen)) < 0)
		return rc;
	rc = bs_file_stat_size(f, &size);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read the size of %s: %s", path,
			 strerror(-rc));
		return rc;
	}
	if (size == 0) {
		snprintf(err, errlen,
			 "backing file %s is empty; give it a size first (for "
			 "example truncate -s 1G %s)",
			 path, path);
		return -EINVAL;
	}
	if (args->create_size > size)
		log_warn("%s %s: the file has %llu bytes, less than the "
			 "%llu asked for; using the file's size (grow it "
			 "with truncate -s to change that)",
			 store, path, (unsigned long long)size,
			 (unsigned long long)args->create_size);
	f->dev.size = size;
	return 0;
}

int bs_file_new(const struct bs_ops *ops, const char *path,
		const struct bs_open_args *args, unsigned workers,
		struct bs_dev **out, char *err, size_t errlen)
{
	struct bs_file *f = calloc(1, sizeof(*f));
	int rc;

	if (!f) {
		snprintf(err, errlen, "out of memory opening %s", path);
		return -ENOMEM;
	}
	rc = bs_file_open(f, ops->name, path, args, err, errlen);
	if (rc == 0)
		rc = bs_file_start_workers(f, workers, err, errlen);
	if (rc < 0) {
		bs_file_close(f);
		free(f);
		return rc;
	}
	f->dev.ops = ops;
	*out = &f->dev;
	return 0;
}

void bs_file_destroy(struct bs_dev *dev)
{
	struct bs_file *f = bs_file_of(dev);

	bs_file_close(f);
	free(f);
}

void bs_file_close(struct bs_file *f)
{
	bs_file_stop_workers(f);
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f->path);
	f->path = NULL;
}

/*
 * Holes of a regular file through SEEK_DATA/SEEK_HOLE (at the file
 * system's block granularity). A block device, or a file system without
 * them, reports everything mapped: "mapped or unknown" (SBC-4 §5.8).
 */
int bs_file_lba_status(struct bs_dev *dev, uint64_t offset, uint64_t len,
		       bool *mapped, uint64_t *run_len)
{
	struct bs_file *f = bs_file_of(dev);
	off_t data, hole;

	*mapped = true;
	*run_len = len;
	if (f->is_blk || len == 0)
		return 0;
	data = lseek(f->fd, (off_t)offset, SEEK_DATA);
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
	hole = lseek(f->fd, (off_t)offset, SEEK_HOLE);
	if (hole < 0)
		return errno == ENXIO ? 0 : -errno;
	if ((uint64_t)hole > offset && (uint64_t)hole - offset < len)
		*run_len = (uint64_t)hole - offset;
	return 0;
}
