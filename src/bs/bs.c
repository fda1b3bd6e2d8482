/*
 * Backing store registry and the completion hand-off to reactors.
 */
#include "bs/bs.h"

#include <stdio.h>
#include <string.h>

#include "event/reactor.h"

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
