/*
 * The aio backing store: a regular file or a block device driven by Linux
 * native AIO (libaio), tgt's "aio" design: requests are submitted with
 * io_submit and their completions arrive through an eventfd that is part
 * of the reactor's event loop, instead of parking a thread per request.
 * Each reactor that issues to an aio LU has one AIO context, shared by all
 * such LUs; the requests of one event batch go to the kernel in one
 * io_submit, and completions are reaped on the reactor that issued them.
 *
 * Linux AIO is only asynchronous with O_DIRECT (buffered requests would
 * block the reactor inside io_submit), so the store refuses buffered I/O.
 * FUA is RWF_DSYNC on the write, FLUSH is IOCB_CMD_FDSYNC; DISCARD and
 * WRITE_ZEROES, which AIO cannot do, run on a worker thread (bs/file.c).
 * Known limit of Linux AIO: a write that makes a file system allocate
 * blocks (the first write into a hole of a sparse file) may block inside
 * io_submit; preallocate the file (fallocate -l) or use the uring store.
 */
#include "bs/file.h"

#include <libaio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "event/reactor.h"
#include "util/log.h"

/* Requests in the kernel at once per reactor; more wait on a backlog. */
#define BS_AIO_DEPTH 256
#define BS_AIO_REAP  64

struct bs_aio_slot {
	struct iocb cb;
	struct bs_req *req;
	unsigned next_free;
};

struct bs_aio_ctx {
	io_context_t ctx;
	int efd;
	struct reactor *reactor;
	struct reactor_handler h;
	struct reactor_msg submit_msg;
	bool submit_queued;
	unsigned free_head; /* BS_AIO_DEPTH: none free */
	unsigned npending;  /* prepared, not yet given to io_submit */
	struct iocb *pending[BS_AIO_DEPTH];
	struct list_head backlog; /* struct bs_req waiting for a slot */
	struct bs_aio_slot slots[BS_AIO_DEPTH];
};

static struct bs_ops bs_aio_ops;
static int bs_aio_key = -1;
/* After an AIO context could not be set up on this reactor (thread):
 * when to try again (one log line per try). */
static __thread uint64_t bs_aio_retry_ms;
#define BS_AIO_RETRY_MS 10000
static pthread_once_t bs_aio_once = PTHREAD_ONCE_INIT;

static void bs_aio_ctx_free(void *arg)
{
	struct bs_aio_ctx *a = arg;

	if (a->ctx)
		io_destroy(a->ctx);
	if (a->efd >= 0)
		close(a->efd);
	free(a);
}

static void bs_aio_make_key(void)
{
	bs_aio_key = reactor_key_create(bs_aio_ctx_free);
}

static void bs_aio_issue(struct bs_aio_ctx *a, struct bs_req *req);

static void bs_aio_to_worker(struct bs_req *req)
{
	bs_file_queue(bs_file_of(req->dev), req);
}

static void bs_aio_slot_put(struct bs_aio_ctx *a, struct bs_aio_slot *s)
{
	s->req = NULL;
	s->next_free = a->free_head;
	a->free_head = (unsigned)(s - a->slots);
}

static void bs_aio_done(struct bs_aio_ctx *a, struct bs_req *req, long res)
{
	int rc;

	if (req->op == BS_OP_FLUSH && (res == -EINVAL || res == -EOPNOTSUPP)) {
		/* A file system without asynchronous fsync. */
		bs_aio_to_worker(req);
		return;
	}
	rc = bs_file_async_result(bs_file_of(req->dev), req, res);
	if (rc == BS_FILE_REISSUE)
		bs_aio_issue(a, req);
	else
		bs_complete_here(req, rc);
}

static void bs_aio_backlog(struct bs_aio_ctx *a)
{
	while (!list_empty(&a->backlog) && a->free_head != BS_AIO_DEPTH) {
		struct bs_req *req =
		    list_first_entry(&a->backlog, struct bs_req, link);

		list_del(&req->link);
		bs_aio_issue(a, req);
	}
}

static void bs_aio_reap(void *arg, uint32_t events)
{
	struct bs_aio_ctx *a = arg;
	struct io_event ev[BS_AIO_REAP];
	struct timespec zero = {0, 0};
	uint64_t count;
	int n;

	while (read(a->efd, &count, sizeof(count)) < 0 && errno == EINTR)
		;
	do {
		n = io_getevents(a->ctx, 0, BS_AIO_REAP, ev, &zero);
		for (int i = 0; i < n; i++) {
			struct bs_aio_slot *s = ev[i].data;
			struct bs_req *req = s->req;

			bs_aio_slot_put(a, s);
			bs_aio_done(a, req, (long)ev[i].res);
		}
	} while (n == BS_AIO_REAP);
	bs_aio_backlog(a);
}

/* The batch's requests to the kernel, after the reactor's event batch. */
static void bs_aio_submit_now(void *arg)
{
	struct bs_aio_ctx *a = arg;
	unsigned done = 0;

	a->submit_queued = false;
	while (done < a->npending) {
		int rc = io_submit(a->ctx, (long)(a->npending - done),
				   a->pending + done);

		if (rc > 0) {
			done += (unsigned)rc;
			continue;
		}
		if (rc == -EINTR)
			continue;
		if (rc == -EAGAIN || rc == 0)
			break; /* the kernel is short of resources: later */
		/* The first request was refused: complete it alone. */
		struct bs_aio_slot *s =
		    container_of(a->pending[done], struct bs_aio_slot, cb);
		struct bs_req *req = s->req;

		done++;
		bs_aio_slot_put(a, s);
		bs_aio_done(a, req, rc);
	}
	memmove(a->pending, a->pending + done,
		(a->npending - done) * sizeof(a->pending[0]));
	a->npending -= done;
	if (a->npending && !a->submit_queued) {
		/* Retry with the next batch (a completion will come). */
		a->submit_queued = true;
		reactor_defer_msg(a->reactor, &a->submit_msg);
	}
	bs_aio_backlog(a);
}

static int bs_aio_ctx_new(struct reactor *r, struct bs_aio_ctx **out)
{
	struct bs_aio_ctx *a = calloc(1, sizeof(*a));
	int rc;

	if (!a)
		return -ENOMEM;
	a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->efd < 0) {
		rc = -errno;
		free(a);
		return rc;
	}
	rc = io_setup(BS_AIO_DEPTH, &a->ctx);
	if (rc < 0) {
		a->ctx = 0;
		bs_aio_ctx_free(a);
		return rc;
	}
	a->reactor = r;
	a->submit_msg.fn = bs_aio_submit_now;
	a->submit_msg.arg = a;
	list_init(&a->backlog);
	for (unsigned i = 0; i < BS_AIO_DEPTH; i++)
		a->slots[i].next_free = i + 1;
	a->free_head = 0;
	rc = reactor_add(r, &a->h, a->efd, EPOLLIN, bs_aio_reap, a);
	if (rc < 0) {
		bs_aio_ctx_free(a);
		return rc;
	}
	reactor_set_local(r, bs_aio_key, a);
	*out = a;
	return 0;
}

static void bs_aio_issue(struct bs_aio_ctx *a, struct bs_req *req)
{
	struct bs_file *f = bs_file_of(req->dev);
	uint64_t done = req->progress;
	struct bs_aio_slot *s;
	struct iocb *cb;

	if (a->free_head == BS_AIO_DEPTH) {
		list_add_tail(&req->link, &a->backlog);
		return;
	}
	s = &a->slots[a->free_head];
	a->free_head = s->next_free;
	s->req = req;
	cb = &s->cb;
	switch (req->op) {
	case BS_OP_READ:
		io_prep_pread(cb, f->fd, (uint8_t *)req->buf + done,
			      req->len - done, (long long)(req->offset + done));
		break;
	case BS_OP_WRITE:
		io_prep_pwrite(cb, f->fd, (uint8_t *)req->buf + done,
			       req->len - done,
			       (long long)(req->offset + done));
		if (req->flags & BS_F_FUA)
			cb->aio_rw_flags = RWF_DSYNC;
		break;
	default: /* FLUSH; the others never come here */
		io_prep_fdsync(cb, f->fd);
		break;
	}
	io_set_eventfd(cb, a->efd);
	cb->data = s;
	a->pending[a->npending++] = cb;
	if (!a->submit_queued) {
		a->submit_queued = true;
		reactor_defer_msg(a->reactor, &a->submit_msg);
	}
}

static void bs_aio_submit(struct bs_dev *dev, struct bs_req *req);

static void bs_aio_submit_here(void *arg)
{
	struct bs_req *req = arg;

	bs_aio_submit(req->dev, req);
}

static void bs_aio_submit(struct bs_dev *dev, struct bs_req *req)
{
	struct bs_file *f = bs_file_of(dev);
	struct reactor *r = reactor_self();
	struct bs_aio_ctx *a;
	int rc;

	if (r != req->reactor) {
		/* The AIO context is the issuing reactor's: go there. */
		req->done_msg.fn = bs_aio_submit_here;
		req->done_msg.arg = req;
		reactor_post_msg(req->reactor, &req->done_msg);
		return;
	}
	req->progress = 0;
	switch (req->op) {
	case BS_OP_READ:
	case BS_OP_WRITE:
		if (bs_file_misaligned(f, req)) {
			bs_complete(req, -EINVAL);
			return;
		}
		if (req->len == 0) {
			bs_complete(req, 0);
			return;
		}
		/* An iocb counts in a long; keep requests well inside. */
		if (req->len > (1u << 30)) {
			bs_aio_to_worker(req);
			return;
		}
		break;
	case BS_OP_FLUSH:
		break;
	case BS_OP_DISCARD:
	case BS_OP_WRITE_ZEROES:
		if (bs_file_misaligned(f, req)) {
			bs_complete(req, -EINVAL);
			return;
		}
		bs_aio_to_worker(req); /* AIO has no fallocate */
		return;
	case BS_OP_COMPARE_AND_WRITE:
		bs_complete(req, -EOPNOTSUPP);
		return;
	}
	a = reactor_local(r, bs_aio_key);
	if (!a && reactor_now_ms() < bs_aio_retry_ms) {
		bs_aio_to_worker(req);
		return;
	}
	if (!a && (rc = bs_aio_ctx_new(r, &a)) < 0) {
		bs_aio_retry_ms = reactor_now_ms() + BS_AIO_RETRY_MS;
		log_error("aio %s: cannot set up an AIO context on reactor %s: "
			  "%s (raise fs.aio-max-nr if it is EAGAIN); its "
			  "requests go to a thread until a retry in %u s works",
			  f->path, reactor_name(r), strerror(-rc),
			  BS_AIO_RETRY_MS / 1000);
		bs_aio_to_worker(req);
		return;
	}
	bs_aio_issue(a, req);
}

static int bs_aio_open(const char *path, const struct bs_open_args *args,
		       struct bs_dev **out, char *err, size_t errlen)
{

	pthread_once(&bs_aio_once, bs_aio_make_key);
	if (bs_aio_key < 0) {
		snprintf(err, errlen,
			 "no per-reactor slot left for the aio store; "
			 "rebuild lunar with a larger REACTOR_KEYS");
		return -ENOSPC;
	}
	if (!args->direct) {
		snprintf(err, errlen,
			 "the aio store needs direct I/O: Linux AIO on the "
			 "page cache blocks the event loop; drop --buffered, "
			 "or use --bstype uring or rdwr for buffered I/O");
		return -EINVAL;
	}
	/* Discard, write zeroes and the fallbacks run on the workers. */
	return bs_file_new(&bs_aio_ops, path, args, 2, out, err, errlen);
}

static struct bs_ops bs_aio_ops = {
    .name = "aio",
    .open = bs_aio_open,
    .close = bs_file_destroy,
    .submit = bs_aio_submit,
    .refresh_size = bs_file_refresh_size,
    .resize = bs_file_resize,
    .lba_status = bs_file_lba_status,
    .direct_default = true,
};

BS_REGISTER(bs_aio_ops)
