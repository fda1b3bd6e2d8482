/*
 * What the stores of files and block devices share (rdwr, aio, uring):
 * opening the medium with clear errors, its size and alignment rules, the
 * blocking forms of every operation, and a small pool of worker threads
 * that runs them off the reactors. Each store embeds a struct bs_file as
 * the first member of its device and adds only how it issues I/O.
 */
#ifndef LUNAR_BS_FILE_H
#define LUNAR_BS_FILE_H

#include <pthread.h>
#include <stdatomic.h>

#include "bs/bs.h"

#define BS_FILE_MAX_THREADS 8

struct bs_file {
	struct bs_dev dev;
	const char *store; /* the store's name, for messages */
	char *path;
	int fd;
	bool is_blk;
	bool direct;
	/* With O_DIRECT: offsets and lengths are multiples of dev.io_align;
	 * buffers of mem_align (both 1 without O_DIRECT). */
	unsigned mem_align;

	/* Features found missing at run time; checked without the lock. */
	atomic_bool no_rwf_dsync;
	atomic_bool no_zero_range;
	atomic_bool no_punch_hole;

	/* The worker pool (bs_file_start_workers), fed by bs_file_queue. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct list_head queue; /* struct bs_req, via req->link */
	bool stopping;
	unsigned nthreads;
	pthread_t threads[BS_FILE_MAX_THREADS];
};

static inline struct bs_file *bs_file_of(struct bs_dev *dev)
{
	return container_of(dev, struct bs_file, dev);
}

/*
 * Opens path for the store `store` into f (zeroed by the caller, usually
 * as part of a larger device): creates a sparse file when asked, refuses
 * what is neither a regular file nor a block device, reads the size and,
 * with args->direct, the O_DIRECT alignment. -errno and a one-line reason
 * in err naming the path and what to do.
 */
int bs_file_open(struct bs_file *f, const char *store, const char *path,
		 const struct bs_open_args *args, char *err, size_t errlen);
/* Stops the workers and closes the file; f itself is the caller's. */
void bs_file_close(struct bs_file *f);
/*
 * A store's whole open: a new device of ops (its name names the store)
 * on path, with `workers` threads for the blocking forms. Its close is
 * bs_file_destroy.
 */
int bs_file_new(const struct bs_ops *ops, const char *path,
		const struct bs_open_args *args, unsigned workers,
		struct bs_dev **out, char *err, size_t errlen);
void bs_file_destroy(struct bs_dev *dev);

/* Starts n (<= BS_FILE_MAX_THREADS) workers that run queued requests
 * with bs_file_execute and complete them. */
int bs_file_start_workers(struct bs_file *f, unsigned n, char *err,
			  size_t errlen);
/* Any thread: hands req to the workers. */
void bs_file_queue(struct bs_file *f, struct bs_req *req);

/* The blocking forms, on a worker: 0 or -errno. */
int bs_file_execute(struct bs_file *f, struct bs_req *req);
int bs_file_discard(struct bs_file *f, uint64_t len, uint64_t off);
int bs_file_write_zeroes(struct bs_file *f, uint64_t len, uint64_t off);
/* Whether req breaks the O_DIRECT alignment rules. */
bool bs_file_misaligned(const struct bs_file *f, const struct bs_req *req);
/* Logs a failed request unless it is the caller's business (range,
 * read-only, alignment). */
void bs_file_log_error(const struct bs_file *f, const struct bs_req *req,
		       int rc);

/*
 * What an asynchronous store (uring, aio) makes of the kernel's answer
 * res (bytes, or -errno) to a request: BS_FILE_REISSUE when the rest of a
 * short transfer, or the whole request after -EAGAIN/-EINTR, must be
 * issued again (req->progress tells where), else the request's result, 0
 * or -errno (logged when it is the admin's business).
 */
#define BS_FILE_REISSUE 1
int bs_file_async_result(struct bs_file *f, struct bs_req *req, long res);

/* bs_ops members every file store uses as they are. */
int bs_file_refresh_size(struct bs_dev *dev);
int bs_file_resize(struct bs_dev *dev, uint64_t size);
int bs_file_lba_status(struct bs_dev *dev, uint64_t offset, uint64_t len,
		       bool *mapped, uint64_t *run_len);

#endif
