/*
 * The null backing store: a medium of a given size that stores nothing.
 * Reads return zeros; writes, flushes, discards and zeroing succeed at once
 * without keeping data. It measures the target's own cost with no disk in
 * the way (benchmarks) and serves tests that only need a LUN to exist.
 * Completions still go through bs_complete(), so the issuer sees exactly
 * the asynchronous behaviour of a real store.
 */
#include "bs/bs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bs_null_open(const char *path, const struct bs_open_args *args,
			struct bs_dev **out, char *err, size_t errlen)
{
	struct bs_dev *dev;

	if (args->create_size == 0) {
		snprintf(err, errlen,
			 "the null store needs a size (--size); it has no file "
			 "to take one from");
		return -EINVAL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		snprintf(err, errlen, "out of memory opening null store %s",
			 path ? path : "");
		return -ENOMEM;
	}
	dev->ops = &bs_null_ops;
	dev->size = args->create_size;
	dev->readonly = args->readonly;
	*out = dev;
	return 0;
}

static void bs_null_close(struct bs_dev *dev)
{
	free(dev);
}

static void bs_null_submit(struct bs_dev *dev, struct bs_req *req)
{
	int rc = 0;

	if (req->op != BS_OP_FLUSH &&
	    (req->offset > dev->size || req->len > dev->size - req->offset))
		rc = -ERANGE;
	else if (dev->readonly && req->op != BS_OP_READ &&
		 req->op != BS_OP_FLUSH)
		rc = -EROFS;
	else if (req->op == BS_OP_READ && req->len)
		memset(req->buf, 0, req->len);
	bs_complete(req, rc);
}

static int bs_null_resize(struct bs_dev *dev, uint64_t size)
{
	__atomic_store_n(&dev->size, size, __ATOMIC_RELAXED);
	return 0;
}

/* Nothing is ever stored: every block is deallocated and reads zeros. */
static int bs_null_lba_status(struct bs_dev *dev, uint64_t offset, uint64_t len,
			      bool *mapped, uint64_t *run_len)
{
	*mapped = false;
	*run_len = len;
	return 0;
}

struct bs_ops bs_null_ops = {
    .name = "null",
    .open = bs_null_open,
    .close = bs_null_close,
    .submit = bs_null_submit,
    .lba_status = bs_null_lba_status,
    .resize = bs_null_resize,
};

BS_REGISTER(bs_null_ops)
