/*
 * The rdwr backing store: a regular file or a block device served with
 * pread/pwrite from a small pool of worker threads per device (the tgt
 * "rdwr" model). The issuing reactor never blocks on the disk: submit only
 * queues the request; a worker performs it (bs/file.c) and hands it back
 * through bs_complete(). Buffered unless the LU asks for O_DIRECT.
 */
#include "bs/file.h"

#define BS_RDWR_THREADS 8

static struct bs_ops bs_rdwr_ops;

static int bs_rdwr_open(const char *path, const struct bs_open_args *args,
			struct bs_dev **out, char *err, size_t errlen)
{
	return bs_file_new(&bs_rdwr_ops, path, args, BS_RDWR_THREADS, out, err,
			   errlen);
}

static void bs_rdwr_submit(struct bs_dev *dev, struct bs_req *req)
{
	bs_file_queue(bs_file_of(dev), req);
}

static struct bs_ops bs_rdwr_ops = {
    .name = "rdwr",
    .open = bs_rdwr_open,
    .close = bs_file_destroy,
    .submit = bs_rdwr_submit,
    .refresh_size = bs_file_refresh_size,
    .resize = bs_file_resize,
    .lba_status = bs_file_lba_status,
};

BS_REGISTER(bs_rdwr_ops)
