/*
 * Backing store registry and the completion hand-off to reactors.
 */
#include "bs/bs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "event/reactor.h"
#include "util/log.h"

static struct list_head bs_list = LIST_HEAD_INIT(bs_list);

void bs_register(struct bs_ops *ops)
{
	list_add_tail(&ops->link, &bs_list);
}

const struct bs_ops *bs_find(const char *name)
{
	struct bs_ops *ops;

	list_for_each_entry (ops, &bs_list, link) {
		if (strcmp(ops->name, name) == 0)
			return ops;
	}
	return NULL;
}

void bs_names(char *out, size_t outlen)
{
	struct bs_ops *ops;
	size_t used = 0;

	out[0] = '\0';
	list_for_each_entry (ops, &bs_list, link) {
		int n = snprintf(out + used, outlen - used, "%s%s",
				 used ? ", " : "", ops->name);
		if (n < 0 || (size_t)n >= outlen - used)
			break;
		used += (size_t)n;
	}
}

const char *bs_default_file_store(void)
{
	static const char *chosen;
	const struct bs_ops *ops;
	char why[256];

	if (chosen)
		return chosen;
	ops = bs_find("uring");
	if (ops && (!ops->probe || ops->probe(why, sizeof(why)) == 0)) {
		chosen = "uring";
	} else {
		if (ops)
			log_warn("new file LUNs use the rdwr store, not uring: "
				 "%s",
				 why);
		chosen = "rdwr";
	}
	return chosen;
}

static void bs_complete_on_reactor(void *arg)
{
	struct bs_req *req = arg;

	req->complete(req);
}

void bs_complete(struct bs_req *req, int result)
{
	req->result = result;
	/* Always through the queue, even from the issuing reactor itself, so
	 * that an issuer never sees its completion inside its own submit. */
	req->done_msg.fn = bs_complete_on_reactor;
	req->done_msg.arg = req;
	reactor_post_msg(req->reactor, &req->done_msg);
}

void bs_complete_here(struct bs_req *req, int result)
{
	req->result = result;
	req->complete(req);
}

static int bs_check(const struct bs_dev *dev, const struct bs_req *req)
{
	uint64_t size = bs_dev_size(dev);

	if (req->op == BS_OP_FLUSH)
		return 0;
	if (req->offset > size || req->len > size - req->offset)
		return -ERANGE;
	if (req->op == BS_OP_READ)
		return 0;
	if (dev->readonly)
		return -EROFS;
	if (req->op == BS_OP_COMPARE_AND_WRITE &&
	    (!(dev->caps & BS_CAP_COMPARE_WRITE) || req->len == 0 ||
	     req->len > dev->compare_write_max ||
	     req->offset / dev->compare_write_max !=
		 (req->offset + req->len - 1) / dev->compare_write_max))
		return -EOPNOTSUPP;
	return 0;
}

void bs_submit(struct bs_dev *dev, struct bs_req *req)
{
	int rc = bs_check(dev, req);

	req->dev = dev;
	if (rc < 0) {
		bs_complete(req, rc);
		return;
	}
	dev->ops->submit(dev, req);
}

void bs_dev_resized(struct bs_dev *dev)
{
	void (*fn)(struct bs_dev *) =
	    __atomic_load_n(&dev->resized, __ATOMIC_ACQUIRE);

	if (fn)
		fn(dev);
}
