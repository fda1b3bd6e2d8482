/*
 * Unit tests of the file stores (rdwr, and uring and aio where built) and
 * the null store: real requests on real files in a private temporary
 * directory, submitted from a thread that is not the reactor's and
 * completed through a real reactor running on its own thread. The stores are
 * included directly (DESIGN.md §9, the SPDK manner) so that their constructors
 * register them in this binary without linking the whole archive.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bs/null.c"
#include "bs/rdwr.c"
#if __has_include(<liburing.h>)
#include "bs/uring.c"
#define HAVE_URING_STORE 1
#endif
#if __has_include(<libaio.h>)
#include "bs/aio.c"
#define HAVE_AIO_STORE 1
#endif

#define MiB	     (1024ull * 1024)
#define GiB	     (1024 * MiB)
#define WAIT_SECONDS 10

static struct reactor *test_reactor;
static pthread_t reactor_thread;
static char test_dir[256];

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;

struct test_req {
	struct bs_req req;
	bool done;
	bool on_reactor_thread;
};

static void *reactor_main(void *arg)
{
	reactor_run(arg);
	return NULL;
}

static void test_req_done(struct bs_req *req)
{
	struct test_req *t = req->issuer;

	pthread_mutex_lock(&done_lock);
	t->done = true;
	t->on_reactor_thread = pthread_equal(pthread_self(), reactor_thread);
	pthread_cond_broadcast(&done_cond);
	pthread_mutex_unlock(&done_lock);
}

static void test_req_init(struct test_req *t, enum bs_op op, unsigned flags,
			  uint64_t off, uint64_t len, void *buf)
{
	memset(t, 0, sizeof(*t));
	t->req.op = op;
	t->req.flags = flags;
	t->req.offset = off;
	t->req.len = len;
	t->req.buf = buf;
	t->req.result = 1; /* a store must overwrite it */
	t->req.reactor = test_reactor;
	t->req.complete = test_req_done;
	t->req.issuer = t;
	list_init(&t->req.link);
}

/* Waits (bounded) until all n requests completed, on the reactor thread. */
static void wait_all(struct test_req *t, unsigned n)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += WAIT_SECONDS;
	pthread_mutex_lock(&done_lock);
	for (unsigned i = 0; i < n; i++) {
		while (!t[i].done) {
			if (pthread_cond_timedwait(&done_cond, &done_lock,
						   &deadline) == ETIMEDOUT)
				break;
		}
		if (!t[i].done) {
			pthread_mutex_unlock(&done_lock);
			fail_msg(
			    "request %u of %u did not complete within %d s", i,
			    n, WAIT_SECONDS);
		}
	}
	pthread_mutex_unlock(&done_lock);
	for (unsigned i = 0; i < n; i++)
		assert_true(t[i].on_reactor_thread);
}

static int do_req(struct bs_dev *dev, enum bs_op op, unsigned flags,
		  uint64_t off, uint64_t len, void *buf)
{
	struct test_req t;

	test_req_init(&t, op, flags, off, len, buf);
	bs_submit(dev, &t.req);
	wait_all(&t, 1);
	return t.req.result;
}

static void path_in_dir(char *out, size_t outlen, const char *name)
{
	snprintf(out, outlen, "%s/%s", test_dir, name);
}

static struct stat stat_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st;
}

static void make_file(const char *path, uint64_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 9));
}

static bool all_zero(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i])
			return false;
	}
	return true;
}

static struct bs_dev *open_ok(const char *store, const char *path,
			      const struct bs_open_args *args)
{
	const struct bs_ops *ops = bs_find(store);
	struct bs_dev *dev = NULL;
	char err[512] = "";
	int rc;

	assert_non_null(ops);
	rc = ops->open(path, args, &dev, err, sizeof(err));
	if (rc != 0)
		fail_msg("open %s %s: %d %s", store, path, rc, err);
	assert_non_null(dev);
	assert_ptr_equal(dev->ops, ops);
	return dev;
}

static int open_fail(const char *store, const char *path,
		     const struct bs_open_args *args, char *err, size_t errlen)
{
	struct bs_dev *dev = NULL;
	int rc;

	err[0] = '\0';
	rc = bs_find(store)->open(path, args, &dev, err, errlen);
	assert_true(rc < 0);
	assert_null(dev);
	assert_true(strlen(err) > 0);
	return rc;
}

/* The store a test of the file stores runs on (its prestate), opened as a
 * LU that names it would be: with its default O_DIRECT setting. */
static const char *store_of(void **state)
{
	return *state ? *state : "rdwr";
}

static struct bs_dev *open_file_store(void **state, const char *path,
				      struct bs_open_args *args)
{
	struct bs_dev *dev;

	args->direct = bs_find(store_of(state))->direct_default;
	dev = open_ok(store_of(state), path, args);
	if (dev->io_align > 512) {
		/* The tests use 512-byte units. */
		dev->ops->close(dev);
		unlink(path);
		skip();
	}
	return dev;
}

static void *buf_alloc(size_t len)
{
	void *p = aligned_alloc(4096, len);

	assert_non_null(p);
	return p;
}

#ifdef HAVE_AIO_STORE
/* Linux AIO through the page cache blocks: the aio store says so. */
static void test_aio_refuses_buffered(void **state)
{
	char path[512], err[512];
	struct bs_open_args args = {.create_size = MiB};

	path_in_dir(path, sizeof(path), "aio.img");
	assert_int_equal(open_fail("aio", path, &args, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "direct I/O"));
	unlink(path);
}
#endif

/* ---- rdwr ---- */

static void test_rdwr_creates_sparse_file(void **state)
{
	char path[512];
	struct bs_open_args args = {.create_size = GiB};
	struct bs_dev *dev;
	struct stat st;

	path_in_dir(path, sizeof(path), "sparse.img");
	dev = open_ok("rdwr", path, &args);
	assert_int_equal(dev->size, GiB);
	assert_false(dev->readonly);
	st = stat_of(path);
	assert_int_equal(st.st_size, GiB);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Sparse: nothing allocated for a fresh 1 GiB file. */
	assert_true((uint64_t)st.st_blocks * 512 < MiB);
	dev->ops->close(dev);
	unlink(path);
}

static void test_file_write_read_back(void **state)
{
	char path[512];
	struct bs_open_args args = {.create_size = 64 * MiB};
	struct bs_dev *dev;
	uint8_t *wbuf = buf_alloc(MiB), *rbuf = buf_alloc(MiB);

	path_in_dir(path, sizeof(path), "rw.img");
	dev = open_file_store(state, path, &args);
	fill_pattern(wbuf, MiB, 1);
	assert_int_equal(do_req(dev, BS_OP_WRITE, 0, 3 * 4096, MiB, wbuf), 0);
	memset(rbuf, 0xee, MiB);
	assert_int_equal(do_req(dev, BS_OP_READ, 0, 3 * 4096, MiB, rbuf), 0);
	assert_memory_equal(wbuf, rbuf, MiB);
	/* Untouched blocks read as zeros. */
	memset(rbuf, 0xee, 4096);
	assert_int_equal(do_req(dev, BS_OP_READ, 0, 0, 4096, rbuf), 0);
	assert_true(all_zero(rbuf, 4096));
	/* The last block of the device is reachable. */
	assert_int_equal(do_req(dev, BS_OP_WRITE, 0, 64 * MiB - 512, 512, wbuf),
			 0);
	dev->ops->close(dev);

	/* Data reached the file itself, not only a cache of the store. */
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, rbuf, MiB, 3 * 4096), (ssize_t)MiB);
	assert_memory_equal(wbuf, rbuf, MiB);
	assert_int_equal(pread(fd, rbuf, 512, 64 * MiB - 512), 512);
	assert_memory_equal(wbuf, rbuf, 512);
	close(fd);
	unlink(path);
	free(wbuf);
	free(rbuf);
}

/* Many requests in flight at once are all served by the worker pool and
 * each lands where it was aimed. */
static void test_file_many_in_flight(void **state)
{
	enum { N = 64, LEN = 64 * 1024 };
	char path[512];
	struct bs_open_args args = {.create_size = 16 * MiB};
	struct bs_dev *dev;
	static struct test_req reqs[N];
	uint8_t *bufs = buf_alloc((size_t)N * LEN);
	uint8_t *rbufs = buf_alloc((size_t)N * LEN);

	path_in_dir(path, sizeof(path), "many.img");
	dev = open_file_store(state, path, &args);
	for (unsigned i = 0; i < N; i++) {
		fill_pattern(bufs + (size_t)i * LEN, LEN, i + 10);
		/* Reverse order of offsets: no accidental sequential luck. */
		test_req_init(&reqs[i], BS_OP_WRITE, 0,
			      (uint64_t)(N - 1 - i) * LEN, LEN,
			      bufs + (size_t)i * LEN);
	}
	for (unsigned i = 0; i < N; i++)
		bs_submit(dev, &reqs[i].req);
	wait_all(reqs, N);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(reqs[i].req.result, 0);

	for (unsigned i = 0; i < N; i++)
		test_req_init(&reqs[i], BS_OP_READ, 0,
			      (uint64_t)(N - 1 - i) * LEN, LEN,
			      rbufs + (size_t)i * LEN);
	for (unsigned i = 0; i < N; i++)
		bs_submit(dev, &reqs[i].req);
	wait_all(reqs, N);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(reqs[i].req.result, 0);
	assert_memory_equal(bufs, rbufs, (size_t)N * LEN);
	dev->ops->close(dev);
	unlink(path);
	free(bufs);
	free(rbufs);
}

static void test_file_fua_and_flush(void **state)
{
	char path[512];
	struct bs_open_args args = {.create_size = 4 * MiB};
	struct bs_dev *dev;
	uint8_t wbuf[8192] __attribute__((aligned(4096)));
	uint8_t rbuf[8192] __attribute__((aligned(4096)));
	int fd;

	path_in_dir(path, sizeof(path), "fua.img");
	dev = open_file_store(state, path, &args);
	fill_pattern(wbuf, sizeof(wbuf), 3);
	assert_int_equal(
	    do_req(dev, BS_OP_WRITE, BS_F_FUA, 8192, sizeof(wbuf), wbuf), 0);
	/* Visible through an independent descriptor at completion. */
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, rbuf, sizeof(rbuf), 8192),
			 (ssize_t)sizeof(rbuf));
	assert_memory_equal(wbuf, rbuf, sizeof(rbuf));

	fill_pattern(wbuf, sizeof(wbuf), 4);
	assert_int_equal(do_req(dev, BS_OP_WRITE, 0, 0, sizeof(wbuf), wbuf), 0);
	assert_int_equal(do_req(dev, BS_OP_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(pread(fd, rbuf, sizeof(rbuf), 0),
			 (ssize_t)sizeof(rbuf));
	assert_memory_equal(wbuf, rbuf, sizeof(rbuf));
	close(fd);
	dev->ops->close(dev);
	unlink(path);
}

static void test_file_discard_reads_zeros(void **state)
{
	char path[512];
	struct bs_open_args args = {.create_size = 8 * MiB};
	struct bs_dev *dev;
	uint8_t *buf = buf_alloc(2 * MiB);
	struct stat before, after;

	path_in_dir(path, sizeof(path), "discard.img");
	dev = open_file_store(state, path, &args);
	memset(buf, 0xab, 2 * MiB);
	assert_int_equal(do_req(dev, BS_OP_WRITE, BS_F_FUA, MiB, 2 * MiB, buf),
			 0);
	before = stat_of(path);
	assert_true((uint64_t)before.st_blocks * 512 >= 2 * MiB);

	/* Discard the first MiB of the written range only. */
	assert_int_equal(do_req(dev, BS_OP_DISCARD, 0, MiB, MiB, NULL), 0);
	assert_int_equal(do_req(dev, BS_OP_READ, 0, MiB, 2 * MiB, buf), 0);
	assert_true(all_zero(buf, MiB));
	for (size_t i = MiB; i < 2 * MiB; i++) {
		if (buf[i] != 0xab)
			fail_msg("byte %zu after the discarded range is 0x%02x",
				 i, buf[i]);
	}
	after = stat_of(path);
	assert_int_equal(after.st_size, 8 * MiB); /* size kept */
	/* The blocks were given back (ext4/xfs/btrfs/tmpfs punch holes). */
	assert_true((uint64_t)after.st_blocks * 512 <=
		    (uint64_t)before.st_blocks * 512 - MiB / 2);
	assert_int_equal(dev->size, 8 * MiB);
	dev->ops->close(dev);
	unlink(path);
	free(buf);
}

static void test_file_write_zeroes(void **state)
{
	char path[512];
	struct bs_open_args args = {.create_size = 4 * MiB};
	struct bs_dev *dev;
	uint8_t *buf = buf_alloc(MiB);

	path_in_dir(path, sizeof(path), "zeroes.img");
	dev = open_file_store(state, path, &args);
	memset(buf, 0x5a, MiB);
	assert_int_equal(do_req(dev, BS_OP_WRITE, 0, 0, MiB, buf), 0);
	assert_int_equal(
	    do_req(dev, BS_OP_WRITE_ZEROES, 0, 4096, MiB - 8192, NULL), 0);
	assert_int_equal(do_req(dev, BS_OP_READ, 0, 0, MiB, buf), 0);
	for (size_t i = 0; i < MiB; i++) {
		uint8_t want = (i < 4096 || i >= MiB - 4096) ? 0x5a : 0;

		if (buf[i] != want)
			fail_msg("byte %zu is 0x%02x, expected 0x%02x", i,
				 buf[i], want);
	}
	/* The hand-written fallback gives the same answer. */
	atomic_store(&bs_file_of(dev)->no_zero_range, true);
	memset(buf, 0x5a, MiB);
	assert_int_equal(do_req(dev, BS_OP_WRITE, 0, 0, MiB, buf), 0);
	assert_int_equal(do_req(dev, BS_OP_WRITE_ZEROES, 0, 512,
				MiB - 512 + 256 * 1024, NULL),
			 0);
	assert_int_equal(do_req(dev, BS_OP_READ, 0, 0, MiB, buf), 0);
	for (size_t i = 0; i < 512; i++)
		assert_int_equal(buf[i], 0x5a);
	assert_true(all_zero(buf + 512, MiB - 512));
	dev->ops->close(dev);
	unlink(path);
	free(buf);
}

static void test_rdwr_refuses_out_of_range(void **state)
{
	char path[512];
	struct bs_open_args args = {.create_size = MiB};
	struct bs_dev *dev;
	uint8_t buf[1024] = {0};

	path_in_dir(path, sizeof(path), "range.img");
	dev = open_ok("rdwr", path, &args);
	assert_int_equal(do_req(dev, BS_OP_READ, 0, MiB, 512, buf), -ERANGE);
	assert_int_equal(do_req(dev, BS_OP_WRITE, 0, MiB - 512, 1024, buf),
			 -ERANGE);
	assert_int_equal(
	    do_req(dev, BS_OP_WRITE, 0, UINT64_MAX - 511, 1024, buf), -ERANGE);
	assert_int_equal(do_req(dev, BS_OP_DISCARD, 0, 0, MiB + 512, NULL),
			 -ERANGE);
	dev->ops->close(dev);
	/* Nothing was written past the end. */
	assert_int_equal(stat_of(path).st_size, MiB);
	unlink(path);
}

static void test_rdwr_missing_file_needs_size(void **state)
{
	char path[512], err[512];
	struct bs_open_args args = {0};
	struct stat st;

	path_in_dir(path, sizeof(path), "missing.img");
	assert_int_equal(open_fail("rdwr", path, &args, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "--size"));
	assert_int_equal(stat(path, &st), -1); /* not created */

	/* A read-only LUN never creates its file. */
	args.readonly = true;
	args.create_size = MiB;
	assert_int_equal(open_fail("rdwr", path, &args, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, path));
	assert_int_equal(stat(path, &st), -1);

	/* A missing directory is named too. */
	path_in_dir(path, sizeof(path), "no-such-dir/x.img");
	args.readonly = false;
	assert_int_equal(open_fail("rdwr", path, &args, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, path));
}

/* An existing file keeps its size, shorter or longer than asked. */
static void test_rdwr_existing_file_keeps_size(void **state)
{
	char path[512], err[512];
	struct bs_open_args args = {.create_size = GiB};
	struct bs_dev *dev;

	path_in_dir(path, sizeof(path), "short.img");
	make_file(path, MiB);
	dev = open_ok("rdwr", path, &args);
	assert_int_equal(dev->size, MiB);
	dev->ops->close(dev);
	assert_int_equal(stat_of(path).st_size, MiB);

	args.create_size = 4096;
	dev = open_ok("rdwr", path, &args);
	assert_int_equal(dev->size, MiB);
	dev->ops->close(dev);
	assert_int_equal(stat_of(path).st_size, MiB);

	/* An empty file is refused, never grown. */
	make_file(path, 0);
	assert_int_equal(open_fail("rdwr", path, &args, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, path));
	assert_int_equal(stat_of(path).st_size, 0);
	unlink(path);
}

static void test_rdwr_refresh_size(void **state)
{
	char path[512];
	struct bs_open_args args = {0};
	struct bs_dev *dev;
	uint8_t buf[512] = {0};

	path_in_dir(path, sizeof(path), "grow.img");
	make_file(path, MiB);
	dev = open_ok("rdwr", path, &args);
	assert_int_equal(do_req(dev, BS_OP_READ, 0, MiB, 512, buf), -ERANGE);
	assert_int_equal(truncate(path, 2 * MiB), 0);
	assert_int_equal(dev->ops->refresh_size(dev), 0);
	assert_int_equal(dev->size, 2 * MiB);
	assert_int_equal(do_req(dev, BS_OP_READ, 0, MiB, 512, buf), 0);
	dev->ops->close(dev);
	unlink(path);
}

static void test_file_readonly_refuses_writes(void **state)
{
	char path[512];
	struct bs_open_args args = {.readonly = true};
	struct bs_dev *dev;
	uint8_t buf[4096] __attribute__((aligned(4096)));
	int fd;

	path_in_dir(path, sizeof(path), "ro.img");
	make_file(path, MiB);
	fd = open(path, O_WRONLY);
	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	close(fd);
	/* Read-only even where the file is writable for us. */
	dev = open_file_store(state, path, &args);
	assert_true(dev->readonly);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(do_req(dev, BS_OP_READ, 0, 0, sizeof(buf), buf), 0);
	assert_int_equal(buf[0], 0x77);
	assert_int_equal(buf[4095], 0x77);
	memset(buf, 0x11, sizeof(buf));
	assert_int_equal(do_req(dev, BS_OP_WRITE, 0, 0, sizeof(buf), buf),
			 -EROFS);
	assert_int_equal(
	    do_req(dev, BS_OP_WRITE, BS_F_FUA, 0, sizeof(buf), buf), -EROFS);
	assert_int_equal(do_req(dev, BS_OP_DISCARD, 0, 0, 4096, NULL), -EROFS);
	assert_int_equal(do_req(dev, BS_OP_WRITE_ZEROES, 0, 0, 4096, NULL),
			 -EROFS);
	assert_int_equal(do_req(dev, BS_OP_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(do_req(dev, BS_OP_READ, 0, 0, sizeof(buf), buf), 0);
	assert_int_equal(buf[0], 0x77);
	dev->ops->close(dev);

	/* A file we may not write can still be served read-only. */
	assert_int_equal(chmod(path, 0400), 0);
	dev = open_file_store(state, path, &args);
	dev->ops->close(dev);
	unlink(path);
}

static void test_rdwr_refuses_non_files(void **state)
{
	char path[512], err[512];
	struct bs_open_args args = {.create_size = MiB};

	assert_int_equal(open_fail("rdwr", test_dir, &args, err, sizeof(err)),
			 -EISDIR);
	assert_non_null(strstr(err, test_dir));
	assert_non_null(strstr(err, "directory"));

	/* A FIFO neither hangs the open nor is accepted. */
	path_in_dir(path, sizeof(path), "fifo");
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(open_fail("rdwr", path, &args, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "FIFO"));
	unlink(path);

	assert_int_equal(open_fail("rdwr", "", &args, err, sizeof(err)),
			 -EINVAL);
}

static void test_rdwr_direct_alignment(void **state)
{
	char path[512], err[512] = "";
	struct bs_open_args args = {.create_size = 4 * MiB, .direct = true};
	struct bs_dev *dev = NULL;
	uint8_t *buf = NULL;
	int rc;

	path_in_dir(path, sizeof(path), "direct.img");
	rc = bs_find("rdwr")->open(path, &args, &dev, err, sizeof(err));
	if (rc == -EINVAL && strstr(err, "direct")) {
		unlink(path);
		skip(); /* this filesystem has no O_DIRECT (tmpfs) */
	}
	assert_int_equal(rc, 0);
	assert_int_equal(posix_memalign((void **)&buf, 4096, 3 * 4096), 0);
	fill_pattern(buf, 3 * 4096, 9);
	assert_int_equal(do_req(dev, BS_OP_WRITE, 0, 4096, 8192, buf), 0);
	memset(buf, 0, 8192);
	assert_int_equal(do_req(dev, BS_OP_READ, 0, 4096, 8192, buf), 0);
	uint8_t want[8192];
	fill_pattern(want, sizeof(want), 9);
	assert_memory_equal(buf, want, sizeof(want));
	/* Misaligned offset, length or buffer: refused, never attempted. */
	assert_int_equal(do_req(dev, BS_OP_READ, 0, 100, 4096, buf), -EINVAL);
	assert_int_equal(do_req(dev, BS_OP_READ, 0, 4096, 100, buf), -EINVAL);
	assert_int_equal(do_req(dev, BS_OP_WRITE, 0, 4096, 4096, buf + 1),
			 -EINVAL);
	assert_int_equal(do_req(dev, BS_OP_WRITE, BS_F_FUA, 0, 4096, buf), 0);
	assert_int_equal(do_req(dev, BS_OP_WRITE_ZEROES, 0, 0, 8192, NULL), 0);
	assert_int_equal(do_req(dev, BS_OP_READ, 0, 0, 8192, buf), 0);
	assert_true(all_zero(buf, 8192));
	dev->ops->close(dev);
	free(buf);
	unlink(path);
}

/* ---- null ---- */

static void test_null_needs_size(void **state)
{
	char err[512];
	struct bs_open_args args = {0};

	assert_int_equal(open_fail("null", "anything", &args, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "the null store needs a size (--size)"));
}

static void test_null_semantics(void **state)
{
	struct bs_open_args args = {.create_size = 8 * MiB};
	struct bs_dev *dev = open_ok("null", "", &args);
	uint8_t buf[4096];

	assert_int_equal(dev->size, 8 * MiB);
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(do_req(dev, BS_OP_WRITE, BS_F_FUA, 0, 4096, buf), 0);
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(do_req(dev, BS_OP_READ, 0, 0, 4096, buf), 0);
	assert_true(all_zero(buf, sizeof(buf)));
	assert_int_equal(do_req(dev, BS_OP_FLUSH, 0, 0, 0, NULL), 0);
	assert_int_equal(do_req(dev, BS_OP_DISCARD, 0, 0, 8 * MiB, NULL), 0);
	assert_int_equal(do_req(dev, BS_OP_WRITE_ZEROES, 0, 4096, 4096, NULL),
			 0);
	assert_int_equal(do_req(dev, BS_OP_READ, 0, 8 * MiB, 512, buf),
			 -ERANGE);
	assert_int_equal(do_req(dev, BS_OP_WRITE, 0, 8 * MiB - 512, 1024, buf),
			 -ERANGE);
	dev->ops->close(dev);

	args.readonly = true;
	dev = open_ok("null", "", &args);
	assert_true(dev->readonly);
	assert_int_equal(do_req(dev, BS_OP_WRITE, 0, 0, 4096, buf), -EROFS);
	assert_int_equal(do_req(dev, BS_OP_READ, 0, 0, 4096, buf), 0);
	dev->ops->close(dev);
}

static void test_stores_registered(void **state)
{
	char names[128];

	assert_non_null(bs_find("rdwr"));
	assert_non_null(bs_find("null"));
	assert_null(bs_find("nonesuch"));
	bs_names(names, sizeof(names));
	assert_non_null(strstr(names, "rdwr"));
	assert_non_null(strstr(names, "null"));
}

static void rm_test_dir(void)
{
	char path[512];
	static const char *const names[] = {
	    "sparse.img", "rw.img",	"many.img",  "fua.img",	 "discard.img",
	    "zeroes.img", "range.img",	"short.img", "grow.img", "ro.img",
	    "fifo",	  "direct.img", "aio.img"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path_in_dir(path, sizeof(path), names[i]);
		unlink(path);
	}
	rmdir(test_dir);
}

static int group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(test_dir, sizeof(test_dir), "%s/lunar-test-bs-XXXXXX",
		 tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(test_dir))
		return -1;
	if (reactor_create(&test_reactor, "test-bs") != 0)
		return -1;
	if (pthread_create(&reactor_thread, NULL, reactor_main, test_reactor))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	reactor_stop(test_reactor);
	pthread_join(reactor_thread, NULL);
	reactor_destroy(test_reactor);
	rm_test_dir();
	return 0;
}

/* The tests every file store passes, with the store as prestate. */
#define FILE_STORE_TEST(store, fn)                                             \
	{                                                                      \
		store " " #fn, fn, NULL, NULL, (void *)(store)                 \
	}
#define FILE_STORE_TESTS(store)                                                \
	FILE_STORE_TEST(store, test_file_write_read_back),                     \
	    FILE_STORE_TEST(store, test_file_many_in_flight),                  \
	    FILE_STORE_TEST(store, test_file_fua_and_flush),                   \
	    FILE_STORE_TEST(store, test_file_discard_reads_zeros),             \
	    FILE_STORE_TEST(store, test_file_write_zeroes),                    \
	    FILE_STORE_TEST(store, test_file_readonly_refuses_writes)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stores_registered),
	    cmocka_unit_test(test_rdwr_creates_sparse_file),
	    FILE_STORE_TESTS("rdwr"),
#ifdef HAVE_URING_STORE
	    FILE_STORE_TESTS("uring"),
#endif
#ifdef HAVE_AIO_STORE
	    FILE_STORE_TESTS("aio"),
	    cmocka_unit_test(test_aio_refuses_buffered),
#endif
	    cmocka_unit_test(test_rdwr_refuses_out_of_range),
	    cmocka_unit_test(test_rdwr_missing_file_needs_size),
	    cmocka_unit_test(test_rdwr_existing_file_keeps_size),
	    cmocka_unit_test(test_rdwr_refresh_size),
	    cmocka_unit_test(test_rdwr_refuses_non_files),
	    cmocka_unit_test(test_rdwr_direct_alignment),
	    cmocka_unit_test(test_null_needs_size),
	    cmocka_unit_test(test_null_semantics),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
