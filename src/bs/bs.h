/*
 * Backing stores: where a logical unit's blocks live. A store is one file
 * implementing struct bs_ops and registering it with BS_REGISTER(); the
 * SCSI core never knows which store it talks to.
 *
 * Requests are asynchronous. submit() may complete on any thread (a worker
 * pool, an io_uring/aio completion, a librbd callback): it calls
 * bs_complete(), which hands the request back to the reactor that issued it
 * (req->reactor) and runs req->complete there. A store never frees or
 * reuses a request; the issuer owns it until complete runs.
 */
#ifndef LUNAR_BS_BS_H
#define LUNAR_BS_BS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "event/reactor.h"
#include "util/list.h"

enum bs_op {
	BS_OP_READ,
	BS_OP_WRITE,
	BS_OP_FLUSH,   /* make every completed write stable */
	BS_OP_DISCARD, /* deallocate [offset, offset+len): reads zeros after */
	BS_OP_WRITE_ZEROES, /* write zeros, keeping blocks allocated */
	/*
	 * Atomically: compare [offset, offset+len) with the first len bytes
	 * of buf and, if equal, write the next len bytes there. Only for a
	 * store with BS_CAP_COMPARE_WRITE and len within its limits. A
	 * mismatch completes with -EILSEQ and sets miscompare to the offset
	 * of the first differing byte within the range; nothing is written.
	 */
	BS_OP_COMPARE_AND_WRITE,
};

#define BS_F_FUA (1u << 0) /* the write is stable before completion */

struct bs_req {
	enum bs_op op;
	unsigned flags;
	uint64_t offset;     /* bytes */
	uint64_t len;	     /* bytes */
	void *buf;	     /* len bytes for READ/WRITE, 2 * len for COMPARE */
	int result;	     /* 0 or -errno, set by the store */
	uint64_t miscompare; /* COMPARE_AND_WRITE's -EILSEQ: where */
	struct bs_dev *dev;  /* set by bs_submit */
	struct reactor *reactor;
	void (*complete)(struct bs_req *req); /* runs on reactor */
	void *issuer;			      /* issuer's context */
	uint64_t progress;     /* the store's: bytes done (short transfers) */
	struct list_head link; /* the store's queue while queued */
	struct reactor_msg done_msg; /* used by bs_complete */
};

struct bs_open_args {
	bool readonly;
	bool direct; /* O_DIRECT */
	/* >0: create a sparse file of this size if it is missing */
	uint64_t create_size;
	/* The store's own settings, "key=value;key=value" (RBD: cluster
	 * config, client id, namespace); "" for none. */
	const char *options;
};

/* struct bs_dev.caps */
/* COMPARE_AND_WRITE is one atomic operation of the medium itself, atomic
 * also against other clients of a shared medium (another gateway). */
#define BS_CAP_COMPARE_WRITE (1u << 0)
/* Other hosts may open the same medium at once (an RBD image behind
 * several gateways): a lock inside this process does not make a
 * read-modify-write atomic. */
#define BS_CAP_SHARED (1u << 1)

struct bs_dev {
	const struct bs_ops *ops;
	uint64_t size; /* bytes, set by open */
	bool readonly;
	/* Every request's offset and length must be a multiple of it (a
	 * file opened with O_DIRECT); the LU's block size is checked
	 * against it at creation. Set by open; 0 or 1: no rule. */
	uint32_t io_align;
	unsigned caps; /* BS_CAP_* */
	/* With BS_CAP_COMPARE_WRITE: the longest COMPARE_AND_WRITE in bytes,
	 * which must not cross a multiple of it either. */
	uint32_t compare_write_max;
	/*
	 * Set by the owner (the LU) after open: the store calls
	 * bs_dev_resized() from any thread when the medium's size was
	 * changed by someone else (another gateway, `rbd resize`).
	 */
	void (*resized)(struct bs_dev *dev);
	void *owner;
};

/*
 * Optional, for a medium several hosts serve at once (BS_CAP_SHARED): one
 * small record kept with the medium (the LU's persistent reservations),
 * which every host reads and changes only by compare-and-set, and through
 * which the hosts tell each other that it changed. Calls block (a round
 * trip to the cluster); never on a reactor. Each returns 0 or -errno.
 */
struct bs_shared_ops {
	/* The record, NUL-terminated in *data (free() it), and its version;
	 * -ENOENT (version 0) when there is none yet. */
	int (*load)(struct bs_dev *dev, char **data, uint64_t *version);
	/* Replaces the record if its version is still `version`, which
	 * makes it version + 1; -ECANCELED when another host changed it
	 * first (nothing written). */
	int (*replace)(struct bs_dev *dev, const char *data, size_t len,
		       uint64_t version);
	/* Tells every host that watches (this one's other LUs too) and waits
	 * up to timeout_ms for each to acknowledge; a host that does not is
	 * fenced (cut off from the medium) before this returns. Returns how
	 * many were fenced. */
	int (*notify)(struct bs_dev *dev, unsigned timeout_ms);
	/* From now until unwatch, changed(arg, token) runs on any thread at
	 * each notify (token 0: the watch was lost and re-made, reload
	 * without acknowledging); the owner calls ack(dev, token) once it
	 * has taken the change over. */
	int (*watch)(struct bs_dev *dev,
		     void (*changed)(void *arg, uint64_t token), void *arg);
	void (*unwatch)(struct bs_dev *dev);
	int (*ack)(struct bs_dev *dev, uint64_t token);
	/* Names the record in messages ("rbd/lunar.pr.<image id>"). */
	int (*where)(struct bs_dev *dev, char *out, size_t len);
	/*
	 * The medium's write lock, which one host at a time holds while it
	 * is the one that writes (ALUA across gateways). lock_take takes it
	 * for this host, fencing (cutting off from the medium) a holder
	 * that is another host, and writes this host's lock identity to
	 * who; lock_drop lets go of it after the writes in flight (0 when
	 * not held); lock_held_by tells whether `who` holds it now.
	 */
	int (*lock_take)(struct bs_dev *dev, char *who, size_t len);
	int (*lock_drop)(struct bs_dev *dev);
	int (*lock_held_by)(struct bs_dev *dev, const char *who, bool *yes);
};

struct bs_ops {
	const char *name;
	/*
	 * Opens path and returns a new device (ops and size filled). On
	 * failure returns -errno and writes a one-line reason to err naming
	 * the path and what to do.
	 */
	int (*open)(const char *path, const struct bs_open_args *args,
		    struct bs_dev **out, char *err, size_t errlen);
	/* Called with no request outstanding; frees the device. */
	void (*close)(struct bs_dev *dev);
	void (*submit)(struct bs_dev *dev, struct bs_req *req);
	/* Optional: re-reads the size after the medium grew. */
	int (*refresh_size)(struct bs_dev *dev);
	/*
	 * Optional: gives the medium a new size in bytes (a file is
	 * truncated or extended, sparse). -EOPNOTSUPP when the store cannot
	 * choose its size (a block device: grow it, then refresh_size).
	 * Main thread; requests may be in flight.
	 */
	int (*resize)(struct bs_dev *dev, uint64_t size);
	/*
	 * Optional: the allocation status of the bytes at offset (len > 0):
	 * sets *mapped for the run that starts there and *run_len to its
	 * length (at most len). Deallocated bytes read as zeros (DISCARD).
	 * Synchronous and cheap (file metadata, no data I/O); a store that
	 * cannot tell reports everything mapped. Returns 0 or -errno.
	 */
	int (*lba_status)(struct bs_dev *dev, uint64_t offset, uint64_t len,
			  bool *mapped, uint64_t *run_len);
	/*
	 * Optional: a name of the medium that is the same on every host
	 * that opens it ("rbd:<fsid>/<pool id>/<image id>"), from which the
	 * LU's serial number and designators derive instead of the target
	 * name and LUN: several gateways then present one disk. Returns 0,
	 * or -errno when there is none.
	 */
	int (*identity)(struct bs_dev *dev, char *out, size_t len);
	/* Optional: state shared by the hosts of a BS_CAP_SHARED medium. */
	const struct bs_shared_ops *shared;
	/* Whether open takes bs_open_args.options; a store without them
	 * refuses non-empty options for it in the LU's checks. */
	bool takes_options;
	/* O_DIRECT when the LU does not say (bs_open_args.direct is then
	 * this): the stores that submit to the kernel asynchronously. */
	bool direct_default;
	/* Optional: whether the store can work on this system at all (the
	 * kernel lets lunard use io_uring); 0, or -errno and why in err. */
	int (*probe)(char *err, size_t errlen);
	struct list_head link;
};

void bs_register(struct bs_ops *ops);
const struct bs_ops *bs_find(const char *name);
/*
 * The store of a file LU created without a bstype: uring (buffered unless
 * the LU asks for O_DIRECT) where it is built and this kernel allows it,
 * else rdwr. Measured in make bench (issue 13). Main thread (the choice
 * is made once, at the first call).
 */
const char *bs_default_file_store(void);
/* Comma-separated list of registered store names, for error messages. */
void bs_names(char *out, size_t outlen);
/* Any thread: sets req->result and runs req->complete on req->reactor. */
void bs_complete(struct bs_req *req, int result);
/* On req->reactor's thread and outside the store's submit (in the event
 * handler where the store reaps completions): completes req at once. */
void bs_complete_here(struct bs_req *req, int result);
/*
 * Hands req to dev's store after the checks every store needs: the range
 * lies on the medium (-ERANGE: a store such as librbd would clip it
 * silently), the medium takes writes (-EROFS), COMPARE_AND_WRITE only to
 * a store that does it. A refused request completes through bs_complete.
 */
void bs_submit(struct bs_dev *dev, struct bs_req *req);
/* The medium's size now (it changes under resize, from any thread). */
static inline uint64_t bs_dev_size(const struct bs_dev *dev)
{
	return __atomic_load_n(&dev->size, __ATOMIC_RELAXED);
}
/* Any thread: tells the owner that the medium's size changed. */
void bs_dev_resized(struct bs_dev *dev);

/* The null store (null.c), by name "null"; named here for the LUs that
 * get it whatever their bstype (a medium changer, device.h no_medium). */
extern struct bs_ops bs_null_ops;

#define BS_REGISTER(ops)                                                       \
	static void __attribute__((constructor)) bs_register_##ops(void)       \
	{                                                                      \
		bs_register(&(ops));                                           \
	}

#endif
