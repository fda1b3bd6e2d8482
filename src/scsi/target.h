/*
 * The configuration object model (LIO's vocabulary): targets with their
 * LUNs, ACLs (allowed initiator names), portals and CHAP account bindings;
 * CHAP accounts. Owned by the main thread; reactor threads read it only at
 * login and discovery, under scsi_config_rdlock(). The data path never
 * takes this lock: a nexus holds a reference on an immutable LUN map.
 *
 * Every mutating call takes the write lock itself and returns 0 or a
 * negative errno; messages for admins are composed by mgmt.
 */
#ifndef LUNAR_SCSI_TARGET_H
#define LUNAR_SCSI_TARGET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scsi/scsi.h"
#include "util/list.h"

#define SCSI_MAX_LUN	    16383 /* flat/peripheral addressing, 14 bits */
#define SCSI_PORTAL_MAX	    64	  /* "[v6addr]:port" fits */
#define SCSI_SECRET_MAX	    256
#define SCSI_LOST_NEXUS_MAX 64

struct bs_ops;
struct sbc_sanitize;
struct scsi_pr;
struct scsi_alua;
struct scsi_mode;

struct scsi_lu_params {
	/* Device type (device.h): "disk" (also for ""), ... */
	char dtype[16];
	char backing[4096];
	char bstype[16]; /* "rdwr" (default), "null", "rbd", ... */
	/* The store's options, "key=value;..." (bs_open_args.options). */
	char bsopts[1024];
	uint64_t size;	     /* bytes; 0 = size of the existing file */
	uint32_t block_size; /* 0: the type's default (disk: 512 or 4096) */
	bool readonly;
	bool direct;	 /* O_DIRECT */
	char serial[33]; /* empty: derived from target name and LUN */
	/* Thin provisioning (SBC-4 §4.7): UNMAP, WRITE SAME with UNMAP and
	 * GET LBA STATUS deallocate and report through the store. */
	bool thin;
	/* Bytes per physical block, a power-of-two multiple of block_size
	 * (READ CAPACITY (16) LBPPBE); 0: one logical block. */
	uint32_t physical_block_size;
	bool removable; /* RMB: the medium can be ejected and loaded */
};

/* A logical unit. Refcounted: the LUN map and commands in flight hold
 * references; the last put closes the backing store on the main thread. */
struct scsi_lu {
	atomic_int refcnt;
	struct scsi_target *target;
	uint64_t lun;
	struct scsi_lu_params params;
	struct bs_dev *bs;
	const struct scsi_device_type *dtype;
	uint32_t block_size;
	uint32_t block_shift;
	_Atomic uint64_t nr_blocks;
	char serial[33];
	uint8_t naa[16]; /* NAA IEEE Registered Extended designator */
	/* Shared state touched by several reactors (UAs, reservations). */
	pthread_mutex_t lock;
	struct list_head itl_list; /* per I_T nexus state, under lock */
	/* I_T nexuses lost while they used the LU (ua.c), by a hash of
	 * their port names: the next login of the same initiator port sees
	 * I_T NEXUS LOSS OCCURRED, not POWER ON. A ring, under lock. */
	uint64_t lost_nexus[SCSI_LOST_NEXUS_MAX];
	unsigned lost_next;
	void *dtype_priv;
	struct scsi_mode *mode; /* mode pages (mode.h); values under lock */
	/*
	 * The removable medium (SBC-4 §4.15, sbc_media.c): whether it is
	 * out, and how many I_T nexuses prevent its removal (their ITL's
	 * prevent flag). Under lock; medium_absent is also read without it.
	 */
	atomic_bool medium_absent;
	unsigned nr_prevent;
	/* Reservations (pr.h), under lock. */
	struct scsi_pr *pr;
	/*
	 * Cross-nexus aborts in progress on this LU (ua.h): abort requests
	 * whose message has not run yet plus tasks they aborted whose
	 * backing store may still hold their buffers. A reset waits for zero
	 * before it is confirmed (scsi_nexus_aborts_pending).
	 */
	atomic_uint nr_aborting;
	/* The sanitize operation in progress (sbc_sanitize.c), or NULL. */
	struct sbc_sanitize *_Atomic sanitize;
	/*
	 * ALUA across the gateways of a shared medium (pr_shared.c, read by
	 * tpg.c): 0 while the configured states apply; else the id of the
	 * port group that owns the medium, with SCSI_LU_ALUA_LIVE while
	 * its gateway holds the medium's write lock.
	 */
	_Atomic uint32_t alua_shared;
	/* Its commands' statistics, one shard per reactor (stats.h). */
	struct scsi_stats_shards *stats;
};

#define SCSI_LU_ALUA_LIVE (1u << 16)

struct scsi_lun_map {
	atomic_int refcnt;
	unsigned count;
	struct scsi_lun_entry {
		uint64_t lun;
		struct scsi_lu *lu;
	} ent[]; /* sorted by lun */
};

struct scsi_acl {
	struct list_head link;
	char initiator[SCSI_NAME_MAX]; /* "ALL" admits everyone */
};

struct scsi_portal_ref {
	struct list_head link;
	char addr[SCSI_PORTAL_MAX]; /* "127.0.0.1:3260" or "[::1]:3260" */
};

struct scsi_user_ref {
	struct list_head link;
	char user[SCSI_NAME_MAX];
};

struct scsi_target {
	struct list_head link;
	atomic_int refcnt; /* the target list + each session */
	uint32_t tid;
	char name[SCSI_NAME_MAX];
	char alias[SCSI_NAME_MAX];
	uint16_t tpgt; /* target portal group tag, 1 */
	bool deleted;  /* removed from the list; sessions draining */
	struct scsi_lun_map *lun_map; /* under config lock */
	_Atomic uint64_t lun_gen;     /* bumped on every map change */
	struct list_head acls;	      /* struct scsi_acl */
	struct list_head portals;     /* struct scsi_portal_ref; empty = all */
	struct list_head users_in;    /* CHAP: initiator authenticates */
	char user_out[SCSI_NAME_MAX]; /* mutual CHAP: target's account, "" */
	atomic_int nr_sessions;
	/* Port groups and their access states (tpg.h). */
	struct scsi_alua *alua;
	/* Its commands' statistics, one shard per reactor, and its login
	 * results (stats.h). */
	struct scsi_stats_shards *stats;
	_Atomic uint64_t logins[SCSI_STATS_NLOGIN];
};

struct scsi_account {
	struct list_head link;
	char user[SCSI_NAME_MAX];
	char secret[SCSI_SECRET_MAX];
};

/*
 * Validation (pure, no lock), so mgmt can name the problem to the admin.
 * Each returns 0 and writes the normalised form to norm, or -EINVAL (or
 * -ENAMETOOLONG) and writes a reason to why.
 *
 * scsi_name_check: RFC 7143 §4.2.7 / RFC 3721: "iqn.YYYY-MM.reversed.domain
 * [:anything]", "eui.<16 hex>", "naa.<16|32 hex>", at most 223 bytes, ASCII
 * letters, digits, '-', '.', ':'; normalised to lowercase (RFC 3722).
 * scsi_portal_check: "A.B.C.D:PORT" or "[IPv6]:PORT", normalised through
 * inet_ntop. scsi_account_check: user 1..223 printable bytes without
 * spaces; secret 12..255 bytes without control characters (secret may be
 * NULL to check only the user).
 */
int scsi_name_check(const char *name, char *norm, size_t normlen, char *why,
		    size_t whylen);
/*
 * The looser rule for names that come from the wire (an InitiatorName at
 * login, a TransportID) and for what was saved from them: "iqn.", "eui."
 * or "naa.", at most 223 bytes of well-formed UTF-8 (names end up in
 * JSON), no control character, no space. Initiators in the field use
 * characters scsi_name_check refuses ("iqn.1994-05.com.redhat:my_host").
 */
bool scsi_name_accepted(const char *name, size_t len);
int scsi_portal_check(const char *addr, char *norm, size_t normlen, char *why,
		      size_t whylen);
int scsi_account_check(const char *user, const char *secret, char *why,
		       size_t whylen);

void scsi_config_rdlock(void);
void scsi_config_wrlock(void);
void scsi_config_unlock(void);

/* Iteration (caller holds a config lock). */
struct list_head *scsi_target_list(void);
struct list_head *scsi_account_list(void);
struct scsi_target *scsi_target_find(const char *name);
struct scsi_account *scsi_account_find(const char *user);
/* ACL check: exact name match or an "ALL" entry. No ACL = no access. */
bool scsi_target_allows(const struct scsi_target *t, const char *initiator);
/* Portal check: true when the target has no portals of its own or addr
 * is one of them. */
bool scsi_target_on_portal(const struct scsi_target *t, const char *addr);

void scsi_target_get(struct scsi_target *t);
void scsi_target_put(struct scsi_target *t);

/* Mutations: main thread only. */
int scsi_target_create(const char *name, const char *alias,
		       struct scsi_target **out);
/* -EBUSY if sessions are logged in (the caller closes them for --force). */
int scsi_target_delete(const char *name);
/* Like scsi_target_delete, but succeeds while sessions are still logged in
 * (after the caller asked them to close): the target is marked deleted and
 * leaves the list; the sessions' references keep it alive until they end. */
int scsi_target_delete_force(const char *name);
int scsi_lu_create(struct scsi_target *t, uint64_t lun,
		   const struct scsi_lu_params *p, char *err, size_t errlen);
/*
 * The checks of p's device type (p->dtype, "" for disk) on its own
 * parameters, for a store of type ops (NULL when not known yet): sets
 * p->dtype to the type's name and fills in its defaults (block size).
 * scsi_lu_create runs it; the configuration reader too, before anything
 * is created. Returns 0 or a negative errno with the reason in err.
 */
int scsi_lu_check_type_params(struct scsi_lu_params *p,
			      const struct bs_ops *ops, char *err,
			      size_t errlen);
int scsi_lu_delete(struct scsi_target *t, uint64_t lun);
/*
 * The admin ejects the LU's medium (its device type's medium_eject;
 * -EBUSY while an initiator prevents removal, unless force), or loads it
 * back; with backing, a new image of the same store type replaces the
 * ejected one (-EBUSY while a medium is in). Main thread. 0 or a negative
 * errno with the reason in err.
 */
int scsi_lu_eject(struct scsi_lu *lu, bool force, char *err, size_t errlen);
int scsi_lu_load(struct scsi_lu *lu, const char *backing, char *err,
		 size_t errlen);
/*
 * Gives the LU a new capacity of `size` bytes (0: whatever the store now
 * has, after a block device or file grew outside lunard). A shrink needs
 * allow_shrink: the blocks past the new end are lost. Every I_T nexus
 * then sees CAPACITY DATA HAS CHANGED (SBC-4 §4.10). Main thread.
 */
int scsi_lu_resize(struct scsi_lu *lu, uint64_t size, bool allow_shrink,
		   char *err, size_t errlen);
int scsi_acl_add(struct scsi_target *t, const char *initiator);
int scsi_acl_delete(struct scsi_target *t, const char *initiator);
int scsi_portal_ref_add(struct scsi_target *t, const char *addr);
int scsi_portal_ref_delete(struct scsi_target *t, const char *addr);
int scsi_account_create(const char *user, const char *secret);
int scsi_account_delete(const char *user); /* -EBUSY while bound */
int scsi_account_bind(struct scsi_target *t, const char *user, bool out);
int scsi_account_unbind(struct scsi_target *t, const char *user, bool out);

/* LU references and the map (core). */
void scsi_lu_get(struct scsi_lu *lu);
void scsi_lu_put(struct scsi_lu *lu);
void scsi_lun_map_get(struct scsi_lun_map *m);
void scsi_lun_map_put(struct scsi_lun_map *m);
struct scsi_lu *scsi_lun_map_find(const struct scsi_lun_map *m, uint64_t lun);

#endif
