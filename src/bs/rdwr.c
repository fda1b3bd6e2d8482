/*
 * The rdwr backing store: a regular file or a block device served with
 * pread/pwrite from a small pool of worker threads per device (the tgt
 * "rdwr" model). The issuing reactor never blocks on the disk: submit only
 * queues the request; a worker performs it (bs/file.c) and hands it back
 * through bs_complete(). Buffered unless the LU asks for O_DIRECT.
 */
#include "bs/file.h"

#include <stdlib.h>

#define BS_RDWR_THREADS 8

static struct bs_ops bs_rdwr_ops;

static int bs_rdwr_open(const char *path, const struct bs_open_args *args,
			struct bs_dev **out, char *err, size_t errlen)
{
	struct bs_file *f = calloc(1, sizeof(*f));
	int rc;

	if (!f) {
		snprintf(err, errlen, "out of memory opening %s", path);
		return -ENOMEM;
	}
	rc = bs_file_open(f, "rdwr", path, args, err, errlen);
	if (rc == 0)
		rc = bs_file_start_workers(f, BS_RDWR_THREADS, err, errlen);
	if (rc < 0) {
		bs_file_close(f);
		free(f);
		return rc;
	}
	f->dev.ops = &bs_rdwr_ops;
	*out = &f->dev;
	return 0;
}

static void bs_rdwr_close(struct bs_dev *dev)
{
	struct bs_file *f = bs_file_of(dev);

	bs_file_close(f);
	free(f);
}

static void bs_rdwr_submit(struct bs_dev *dev, struct bs_req *req)
{
	bs_file_queue(bs_file_of(dev), req);
}

static struct bs_ops bs_rdwr_ops = {
    .name = "rdwr",
    .open = bs_rdwr_open,
    .close = bs_rdwr_close,
    .submit = bs_rdwr_submit,
    .refresh_size = bs_file_refresh_size,
    .resize = bs_file_resize,
    .lba_status = bs_file_lba_status,
};

BS_REGISTER(bs_rdwr_ops)
