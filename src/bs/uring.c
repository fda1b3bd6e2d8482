/*
 * The uring backing store: a regular file or a block device driven by
 * io_uring (liburing). Each reactor that issues to a uring LU has one ring,
 * shared by all such LUs: a request is prepared on the issuing reactor,
 * the batch's requests reach the kernel in one io_uring_enter after the
 * reactor's event batch, and the completions are reaped on the same
 * reactor when the ring's fd turns readable, so no thread is in the path
 * and nothing blocks the reactor (the kernel punts what would block to its
 * own workers). O_DIRECT unless the LU asks for buffered I/O.
 *
 * FUA is RWF_DSYNC on the write, FLUSH is fdatasync, DISCARD and
 * WRITE_ZEROES are fallocate (PUNCH_HOLE, ZERO_RANGE); where the kernel or
 * the file system cannot, the request goes to bs/file.c's blocking forms
 * on a worker thread, which fall back to writing zeros.
 *
 * Not used (measured or reasoned in the notes of issue 13): registered
 * buffers (a command's buffer lives for one command), registered files.
 */
#include "bs/file.h"

#include <liburing.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "event/reactor.h"
#include "util/log.h"

/* Submission queue entries per ring; the completion queue has twice as
 * many, and at most this many requests are in the kernel at once per
 * reactor (the rest wait on the ring's backlog). */
#define BS_URING_ENTRIES 256
#define BS_URING_REAP	 64

struct bs_uring_ring {
	struct io_uring ring;
	struct reactor *reactor;
	struct reactor_handler h;
	struct reactor_msg submit_msg;
	bool submit_queued;
	unsigned inflight;	  /* prepared and not yet reaped */
	struct list_head backlog; /* struct bs_req waiting for room */
};

static struct bs_ops bs_uring_ops;
static int bs_uring_key = -1;
/* After a ring could not be set up on this reactor (thread), out of
 * descriptors say: when to try again (one log line per try). */
static __thread uint64_t bs_uring_retry_ms;
#define BS_URING_RETRY_MS 10000
static pthread_once_t bs_uring_once = PTHREAD_ONCE_INIT;

static void bs_uring_ring_free(void *arg)
{
	struct bs_uring_ring *u = arg;

	io_uring_queue_exit(&u->ring);
	free(u);
}

static void bs_uring_make_key(void)
{
	bs_uring_key = reactor_key_create(bs_uring_ring_free);
}

static void bs_uring_issue(struct bs_uring_ring *u, struct bs_req *req);

static void bs_uring_submit_now(void *arg)
{
	struct bs_uring_ring *u = arg;
	int rc;

	u->submit_queued = false;
	do {
		rc = io_uring_submit(&u->ring);
	} while (rc == -EINTR);
	/* -EAGAIN/-EBUSY: the kernel is short of memory or completions are
	 * not reaped yet; the entries stay queued and go with the next
	 * batch (reaping one wakes the reactor). */
	if (rc < 0 && rc != -EAGAIN && rc != -EBUSY)
		log_error("uring: submitting to the kernel failed: %s",
			  strerror(-rc));
}

static void bs_uring_want_submit(struct bs_uring_ring *u)
{
	if (u->submit_queued)
		return;
	u->submit_queued = true;
	u->submit_msg.fn = bs_uring_submit_now;
	u->submit_msg.arg = u;
	reactor_defer_msg(u->reactor, &u->submit_msg);
}

/* The blocking form on the device's worker (a fallback, or a range the
 * kernel's async path does not take). */
static void bs_uring_to_worker(struct bs_req *req)
{
	bs_file_queue(bs_file_of(req->dev), req);
}

/* Bytes read or written so far are in req->progress. */
static void bs_uring_done(struct bs_uring_ring *u, struct bs_req *req, int res)
{
	int rc;

	if ((req->op == BS_OP_DISCARD || req->op == BS_OP_WRITE_ZEROES) &&
	    (res == -EOPNOTSUPP || res == -EINVAL || res == -ENOTTY ||
	     res == -ENOSYS)) {
		/* bs/file.c remembers what the file system lacks and falls
		 * back to zeros. */
		bs_uring_to_worker(req);
		return;
	}
	rc = bs_file_async_result(bs_file_of(req->dev), req, res);
	if (rc == BS_FILE_REISSUE)
		bs_uring_issue(u, req);
	else
		bs_complete_here(req, rc);
}

static void bs_uring_reap(void *arg, uint32_t events)
{
	struct bs_uring_ring *u = arg;
	struct io_uring_cqe *cqes[BS_URING_REAP];
	struct bs_req *reqs[BS_URING_REAP];
	int res[BS_URING_REAP];
	unsigned n;

	while ((n = io_uring_peek_batch_cqe(&u->ring, cqes, BS_URING_REAP))) {
		for (unsigned i = 0; i < n; i++) {
			reqs[i] = io_uring_cqe_get_data(cqes[i]);
			res[i] = cqes[i]->res;
		}
		io_uring_cq_advance(&u->ring, n);
		u->inflight -= n;
		for (unsigned i = 0; i < n; i++)
			bs_uring_done(u, reqs[i], res[i]);
	}
	while (!list_empty(&u->backlog) && u->inflight < BS_URING_ENTRIES) {
		struct bs_req *req =
		    list_first_entry(&u->backlog, struct bs_req, link);

		list_del(&req->link);
		bs_uring_issue(u, req);
	}
}

static int bs_uring_ring_new(struct reactor *r, struct bs_uring_ring **out)
{
	struct bs_uring_ring *u = calloc(1, sizeof(*u));
	int rc;

	if (!u)
		return -ENOMEM;
	rc = io_uring_queue_init(BS_URING_ENTRIES, &u->ring, 0);
	if (rc < 0) {
		free(u);
		return rc;
	}
	u->reactor = r;
	list_init(&u->backlog);
	rc = reactor_add(r, &u->h, u->ring.ring_fd, EPOLLIN, bs_uring_reap, u);
	if (rc < 0) {
		bs_uring_ring_free(u);
		return rc;
	}
	reactor_set_local(r, bs_uring_key, u);
	*out = u;
	return 0;
}

static void bs_uring_prep(struct io_uring_sqe *sqe, struct bs_file *f,
			  struct bs_req *req)
{
	uint64_t done = req->progress;

	switch (req->op) {
	case BS_OP_READ:
		io_uring_prep_read(sqe, f->fd, (uint8_t *)req->buf + done,
				   (unsigned)(req->len - done),
				   req->offset + done);
		break;
	case BS_OP_WRITE:
		io_uring_prep_write(sqe, f->fd, (uint8_t *)req->buf + done,
				    (unsigned)(req->len - done),
				    req->offset + done);
		if (req->flags & BS_F_FUA)
			sqe->rw_flags = RWF_DSYNC;
		break;
	case BS_OP_FLUSH:
		io_uring_prep_fsync(sqe, f->fd, IORING_FSYNC_DATASYNC);
		break;
	case BS_OP_DISCARD:
		io_uring_prep_fallocate(
		    sqe, f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		    req->offset, req->len);
		break;
	case BS_OP_WRITE_ZEROES:
		io_uring_prep_fallocate(
		    sqe, f->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		    req->offset, req->len);
		break;
	case BS_OP_COMPARE_AND_WRITE:
		break; /* refused by bs_uring_submit */
	}
	io_uring_sqe_set_data(sqe, req);
}

static void bs_uring_issue(struct bs_uring_ring *u, struct bs_req *req)
{
	struct io_uring_sqe *sqe = NULL;

	if (u->inflight < BS_URING_ENTRIES)
		sqe = io_uring_get_sqe(&u->ring);
	if (!sqe) {
		list_add_tail(&req->link, &u->backlog);
		return;
	}
	bs_uring_prep(sqe, bs_file_of(req->dev), req);
	u->inflight++;
	bs_uring_want_submit(u);
}

static void bs_uring_submit(struct bs_dev *dev, struct bs_req *req);

static void bs_uring_submit_here(void *arg)
{
	struct bs_req *req = arg;

	bs_uring_submit(req->dev, req);
}

static bool bs_uring_worker_op(struct bs_file *f, const struct bs_req *req)
{
	switch (req->op) {
	case BS_OP_DISCARD:
		return atomic_load_explicit(&f->no_punch_hole,
					    memory_order_relaxed);
	case BS_OP_WRITE_ZEROES:
		return atomic_load_explicit(&f->no_zero_range,
					    memory_order_relaxed);
	case BS_OP_READ:
	case BS_OP_WRITE:
		/* io_uring takes at most 2 GiB minus a page per request;
		 * the blocking form loops. */
		return req->len > (1u << 30);
	default:
		return false;
	}
}

static void bs_uring_submit(struct bs_dev *dev, struct bs_req *req)
{
	struct bs_file *f = bs_file_of(dev);
	struct reactor *r = reactor_self();
	struct bs_uring_ring *u;
	int rc;

	if (r != req->reactor) {
		/* The ring is the issuing reactor's: go there first. */
		req->done_msg.fn = bs_uring_submit_here;
		req->done_msg.arg = req;
		reactor_post_msg(req->reactor, &req->done_msg);
		return;
	}
	req->progress = 0;
	if (req->op == BS_OP_COMPARE_AND_WRITE) {
		bs_complete(req, -EOPNOTSUPP);
		return;
	}
	if (f->direct && req->op != BS_OP_FLUSH && bs_file_misaligned(f, req)) {
		bs_complete(req, -EINVAL);
		return;
	}
	if (req->len == 0 && req->op != BS_OP_FLUSH) {
		bs_complete(req, 0);
		return;
	}
	if (bs_uring_worker_op(f, req)) {
		bs_uring_to_worker(req);
		return;
	}
	u = reactor_local(r, bs_uring_key);
	if (!u && reactor_now_ms() < bs_uring_retry_ms) {
		bs_uring_to_worker(req);
		return;
	}
	if (!u && (rc = bs_uring_ring_new(r, &u)) < 0) {
		bs_uring_retry_ms = reactor_now_ms() + BS_URING_RETRY_MS;
		log_error("uring %s: cannot set up an io_uring on reactor %s: "
			  "%s; its requests go to a thread until a retry in "
			  "%u s works",
			  f->path, reactor_name(r), strerror(-rc),
			  BS_URING_RETRY_MS / 1000);
		bs_uring_to_worker(req);
		return;
	}
	bs_uring_issue(u, req);
}

/* Whether this kernel lets lunard use io_uring with the operations the
 * store needs; a reason in err when not. */
static int bs_uring_probe_for(const char *path, char *err, size_t errlen)
{
	static const int ops[] = {IORING_OP_READ, IORING_OP_WRITE,
				  IORING_OP_FSYNC, IORING_OP_FALLOCATE};
	struct io_uring ring;
	struct io_uring_probe *probe;
	int rc = io_uring_queue_init(2, &ring, 0);

	if (rc < 0) {
		snprintf(err, errlen,
			 "cannot use io_uring for %s: %s; the kernel is older "
			 "than 5.6 or io_uring is turned off for lunard "
			 "(sysctl kernel.io_uring_disabled, a container's "
			 "seccomp profile); use --bstype aio or rdwr",
			 path, strerror(-rc));
		return rc;
	}
	probe = io_uring_get_probe_ring(&ring);
	for (size_t i = 0; probe && i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (!io_uring_opcode_supported(probe, ops[i])) {
			snprintf(err, errlen,
				 "this kernel's io_uring lacks operation %d "
				 "that the uring store needs (Linux 5.6 or "
				 "later has it); use --bstype aio or rdwr",
				 ops[i]);
			rc = -EOPNOTSUPP;
			break;
		}
	}
	io_uring_free_probe(probe);
	io_uring_queue_exit(&ring);
	return rc;
}

static int bs_uring_probe(char *err, size_t errlen)
{
	return bs_uring_probe_for("files", err, errlen);
}

static int bs_uring_open(const char *path, const struct bs_open_args *args,
			 struct bs_dev **out, char *err, size_t errlen)
{
	int rc;

	pthread_once(&bs_uring_once, bs_uring_make_key);
	if (bs_uring_key < 0) {
		snprintf(err, errlen,
			 "no per-reactor slot left for the uring store; "
			 "rebuild lunar with a larger REACTOR_KEYS");
		return -ENOSPC;
	}
	rc = bs_uring_probe_for(path, err, errlen);
	if (rc < 0)
		return rc;
	/* One worker for the fallbacks (file systems without fallocate). */
	return bs_file_new(&bs_uring_ops, path, args, 1, out, err, errlen);
}

static struct bs_ops bs_uring_ops = {
    .name = "uring",
    .open = bs_uring_open,
    .close = bs_file_destroy,
    .submit = bs_uring_submit,
    .refresh_size = bs_file_refresh_size,
    .resize = bs_file_resize,
    .lba_status = bs_file_lba_status,
    .direct_default = true,
    .probe = bs_uring_probe,
};

BS_REGISTER(bs_uring_ops)
