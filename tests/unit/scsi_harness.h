/*
 * Test harness shared by the SCSI core's unit tests (test_spc.c,
 * test_sbc.c, test_mmc.c): a reactor on its own thread that every command runs
 * on, as in the daemon; a memory-backed store ("scsi-test-mem") that records
 * what reached it, fails or holds requests on demand; one target with
 * LU 0 and one I_T nexus, fresh for each test; and helpers that run a CDB
 * through prepare/execute/done/release and check status and sense.
 *
 * Included by exactly one .c of each test binary. Functions are marked
 * unused because each test uses a different part of the harness.
 */
#ifndef LUNAR_TESTS_SCSI_HARNESS_H
#define LUNAR_TESTS_SCSI_HARNESS_H

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "bs/bs.h"
#include "event/reactor.h"
#include "scsi/device.h"
#include "scsi/scsi.h"
#include "scsi/sense.h"
#include "scsi/target.h"
#include "util/bytes.h"
#include "util/log.h"

#define HT_UNUSED	__attribute__((unused))
#define HT_TARGET	"iqn.2026-01.org.lunar:unit"
#define HT_INITIATOR	"iqn.2026-01.org.lunar:initiator"
#define HT_LU_SIZE	(1024 * 1024)
#define HT_SPARSE_LIMIT (64ull << 20) /* larger stores keep no data */
#define HT_WAIT_SECONDS 10

/* The device types live in objects nothing references by name; naming
 * them here links them in (lunard uses --whole-archive instead). */
extern struct scsi_device_type sbc_disk_type;

/* ---- the memory store ---- */

struct ht_store {
	struct bs_dev dev;
	uint8_t *data; /* NULL: sparse, reads zeros and drops writes */
	pthread_mutex_t lock;
	int fail_next; /* -errno for the next request */
	bool hold;     /* keep requests until ht_store_release() */
	struct bs_req *held[8];
	unsigned nr_held;
	unsigned submits;
	enum bs_op last_op;
	unsigned last_flags;
	uint64_t last_offset, last_len;
};

static struct bs_ops ht_store_ops;

static int ht_store_open(const char *path, const struct bs_open_args *args,
			 struct bs_dev **out, char *err, size_t errlen)
{
	struct ht_store *s;

	if (!args->create_size) {
		snprintf(err, errlen, "scsi-test-mem needs a size");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (args->create_size <= HT_SPARSE_LIMIT) {
		s->data = calloc(1, args->create_size);
		if (!s->data) {
			free(s);
			return -ENOMEM;
		}
	}
	pthread_mutex_init(&s->lock, NULL);
	s->dev.ops = &ht_store_ops;
	s->dev.size = args->create_size;
	s->dev.readonly = args->readonly;
	*out = &s->dev;
	return 0;
}

static void ht_store_close(struct bs_dev *dev)
{
	struct ht_store *s = container_of(dev, struct ht_store, dev);

	pthread_mutex_destroy(&s->lock);
	free(s->data);
	free(s);
}

static int ht_store_do(struct ht_store *s, struct bs_req *req)
{
	if (req->offset > s->dev.size || req->len > s->dev.size - req->offset)
		return -ERANGE;
	if (req->op == BS_OP_READ) {
		if (s->data)
			memcpy(req->buf, s->data + req->offset, req->len);
		else
			memset(req->buf, 0, req->len);
	} else if (req->op == BS_OP_WRITE && s->data) {
		memcpy(s->data + req->offset, req->buf, req->len);
	}
	return 0;
}

static void ht_store_submit(struct bs_dev *dev, struct bs_req *req)
{
	struct ht_store *s = container_of(dev, struct ht_store, dev);
	int rc;

	pthread_mutex_lock(&s->lock);
	s->submits++;
	s->last_op = req->op;
	s->last_flags = req->flags;
	s->last_offset = req->offset;
	s->last_len = req->len;
	if (s->hold && s->nr_held < 8) {
		s->held[s->nr_held++] = req;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	rc = s->fail_next;
	s->fail_next = 0;
	pthread_mutex_unlock(&s->lock);
	bs_complete(req, rc ? rc : ht_store_do(s, req));
}

static struct bs_ops ht_store_ops = {
    .name = "scsi-test-mem",
    .open = ht_store_open,
    .close = ht_store_close,
    .submit = ht_store_submit,
};

BS_REGISTER(ht_store_ops)

/* ---- reactor and completion signalling ---- */

static struct reactor *ht_reactor;
static pthread_t ht_thread;
static pthread_mutex_t ht_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ht_cond = PTHREAD_COND_INITIALIZER;
static struct scsi_target *ht_target;
static struct scsi_nexus ht_nexus;

static void *ht_reactor_main(void *arg)
{
	reactor_run(arg);
	return NULL;
}

static void ht_wait_for(bool *flag)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += HT_WAIT_SECONDS;
	pthread_mutex_lock(&ht_lock);
	while (!*flag) {
		if (pthread_cond_timedwait(&ht_cond, &ht_lock, &deadline)) {
			pthread_mutex_unlock(&ht_lock);
			fail_msg("timed out waiting for the reactor");
		}
	}
	pthread_mutex_unlock(&ht_lock);
}

static void ht_signal(bool *flag)
{
	pthread_mutex_lock(&ht_lock);
	*flag = true;
	pthread_cond_broadcast(&ht_cond);
	pthread_mutex_unlock(&ht_lock);
}

struct ht_call {
	void (*fn)(void *arg);
	void *arg;
	bool finished;
};

static void ht_call_run(void *arg)
{
	struct ht_call *c = arg;

	c->fn(c->arg);
	ht_signal(&c->finished);
}

/* Runs fn(arg) on the reactor thread and waits for it. */
static HT_UNUSED void ht_on_reactor(void (*fn)(void *), void *arg)
{
	struct ht_call c = {.fn = fn, .arg = arg};

	assert_int_equal(reactor_post(ht_reactor, ht_call_run, &c), 0);
	ht_wait_for(&c.finished);
}

/* ---- commands ---- */

struct ht_cmd {
	struct scsi_cmd c;
	const void *out; /* Data-Out the "initiator" sends */
	int prep_rc;
	bool finished; /* prepare failed, or done ran */
	unsigned done_calls;
	bool ran; /* the submit step ran on the reactor */
};

static void ht_cmd_done(struct scsi_cmd *cmd)
{
	struct ht_cmd *hc = container_of(cmd, struct ht_cmd, c);

	hc->done_calls++;
	ht_signal(&hc->finished);
}

static HT_UNUSED void ht_cmd_init(struct ht_cmd *hc, struct scsi_nexus *n,
				  uint64_t lun, const uint8_t *cdb,
				  unsigned cdb_len, enum scsi_dir edir,
				  uint32_t edtl, const void *out)
{
	memset(hc, 0, sizeof(*hc));
	hc->c.nexus = n;
	memcpy(hc->c.cdb, cdb, cdb_len);
	/* As iSCSI delivers it: the whole 16-byte CDB field. */
	hc->c.cdb_len = cdb_len > 16 ? (uint8_t)cdb_len : 16;
	scsi_lun_encode(lun, hc->c.lun_raw);
	hc->c.tag = 0x1234;
	hc->c.attr = SCSI_TASK_SIMPLE;
	hc->c.edtl = edtl;
	hc->c.edir = edir;
	hc->c.done = ht_cmd_done;
	hc->out = out;
}

static void ht_cmd_start(void *arg)
{
	struct ht_cmd *hc = arg;

	hc->prep_rc = scsi_cmd_prepare(&hc->c);
	if (hc->prep_rc < 0) {
		hc->finished = true;
	} else {
		if (hc->c.dir == SCSI_DIR_WRITE && hc->c.xfer_len)
			memcpy(hc->c.buf, hc->out, hc->c.xfer_len);
		scsi_cmd_execute(&hc->c);
	}
}

/* Prepares and executes on the reactor; returns once both returned. */
static HT_UNUSED void ht_start(struct ht_cmd *hc)
{
	ht_on_reactor(ht_cmd_start, hc);
}

static HT_UNUSED void ht_wait(struct ht_cmd *hc)
{
	ht_wait_for(&hc->finished);
}

static HT_UNUSED void ht_run(struct ht_cmd *hc)
{
	ht_start(hc);
	ht_wait(hc);
}

static void ht_cmd_prepare_cb(void *arg)
{
	struct ht_cmd *hc = arg;

	hc->prep_rc = scsi_cmd_prepare(&hc->c);
	if (hc->prep_rc < 0)
		hc->finished = true;
}

/* Only prepares (the Data-Out has not come yet). */
static HT_UNUSED void ht_prepare_only(struct ht_cmd *hc)
{
	ht_on_reactor(ht_cmd_prepare_cb, hc);
}

static void ht_cmd_execute_cb(void *arg)
{
	scsi_cmd_execute(arg);
}

static HT_UNUSED void ht_execute(struct ht_cmd *hc)
{
	ht_on_reactor(ht_cmd_execute_cb, &hc->c);
}

static void ht_cmd_abort_cb(void *arg)
{
	scsi_cmd_abort(arg);
}

static HT_UNUSED void ht_abort(struct ht_cmd *hc)
{
	ht_on_reactor(ht_cmd_abort_cb, &hc->c);
}

static void ht_cmd_release(void *arg)
{
	scsi_cmd_release(arg);
}

static HT_UNUSED void ht_release(struct ht_cmd *hc)
{
	ht_on_reactor(ht_cmd_release, &hc->c);
}

/* One command, start to end; status and sense are left in hc. */
static HT_UNUSED void ht_exec(struct ht_cmd *hc, struct scsi_nexus *n,
			      uint64_t lun, const uint8_t *cdb,
			      unsigned cdb_len, enum scsi_dir edir,
			      uint32_t edtl, const void *out)
{
	ht_cmd_init(hc, n, lun, cdb, cdb_len, edir, edtl, out);
	ht_run(hc);
}

static HT_UNUSED void ht_assert_good(const struct ht_cmd *hc)
{
	if (hc->c.status != SAM_STAT_GOOD)
		fail_msg("CDB %02x: status %02x, sense key %x asc %02x/%02x",
			 hc->c.cdb[0], hc->c.status, hc->c.sense[2] & 0xf,
			 hc->c.sense[12], hc->c.sense[13]);
	assert_int_equal(hc->c.sense_len, 0);
}

static HT_UNUSED void ht_assert_sense(const struct ht_cmd *hc, uint8_t key,
				      uint8_t asc, uint8_t ascq)
{
	if (hc->c.status != SAM_STAT_CHECK_CONDITION)
		fail_msg("CDB %02x: status %02x, want CHECK CONDITION",
			 hc->c.cdb[0], hc->c.status);
	assert_int_equal(hc->c.sense_len, SCSI_SENSE_FIXED_LEN);
	assert_int_equal(hc->c.sense[0] & 0x7f, 0x70);
	if ((hc->c.sense[2] & 0xf) != key || hc->c.sense[12] != asc ||
	    hc->c.sense[13] != ascq)
		fail_msg("CDB %02x: sense %x %02x/%02x, want %x %02x/%02x",
			 hc->c.cdb[0], hc->c.sense[2] & 0xf, hc->c.sense[12],
			 hc->c.sense[13], key, asc, ascq);
}

/* INVALID FIELD IN CDB with its field pointer (bit -1: none). */
static HT_UNUSED void ht_assert_invalid_field(const struct ht_cmd *hc,
					      uint16_t byte, int bit)
{
	const uint8_t *s = hc->c.sense;

	ht_assert_sense(hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_FIELD_IN_CDB);
	assert_true(s[15] & 0x80); /* SKSV */
	assert_true(s[15] & 0x40); /* C/D: in the CDB */
	if (bit >= 0) {
		assert_true(s[15] & 0x08); /* BPV */
		assert_int_equal(s[15] & 0x07, bit);
	}
	assert_int_equal(get_be16(s + 16), byte);
}

/* Runs a CDB expecting CHECK CONDITION with the given sense. */
static HT_UNUSED void ht_expect_sense(struct scsi_nexus *n, uint64_t lun,
				      const uint8_t *cdb, unsigned len,
				      uint8_t key, uint8_t asc, uint8_t ascq)
{
	struct ht_cmd hc;

	ht_exec(&hc, n, lun, cdb, len, SCSI_DIR_NONE, 0, NULL);
	ht_assert_sense(&hc, key, asc, ascq);
	ht_release(&hc);
}

static HT_UNUSED void ht_expect_invalid_field(struct scsi_nexus *n,
					      uint64_t lun, const uint8_t *cdb,
					      unsigned len, enum scsi_dir edir,
					      uint32_t edtl, uint16_t byte,
					      int bit)
{
	struct ht_cmd hc;

	ht_exec(&hc, n, lun, cdb, len, edir, edtl, NULL);
	ht_assert_invalid_field(&hc, byte, bit);
	ht_release(&hc);
}

static HT_UNUSED void ht_expect_good(struct scsi_nexus *n, uint64_t lun,
				     const uint8_t *cdb, unsigned len)
{
	struct ht_cmd hc;

	ht_exec(&hc, n, lun, cdb, len, SCSI_DIR_NONE, 0, NULL);
	ht_assert_good(&hc);
	ht_release(&hc);
}

/* The first command of a nexus to a LU reports POWER ON RESET. */
static HT_UNUSED void ht_clear_power_on(struct scsi_nexus *n, uint64_t lun)
{
	const uint8_t tur[6] = {0x00};

	ht_expect_sense(n, lun, tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_POWER_ON_RESET);
	ht_expect_good(n, lun, tur, 6);
}

/* The first unit attention of an initiator port that comes back after
 * its I_T nexus was lost (SAM-5 §6.3.4). */
static HT_UNUSED void ht_clear_nexus_loss(struct scsi_nexus *n, uint64_t lun)
{
	const uint8_t tur[6] = {0x00};

	ht_expect_sense(n, lun, tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_IT_NEXUS_LOSS);
	ht_expect_good(n, lun, tur, 6);
}

/* ---- target, LUs and nexuses ---- */

/* A LU of device type dtype ("" or NULL: disk) on the memory store. */
static HT_UNUSED int ht_lu_add_type(uint64_t lun, uint64_t size, uint32_t bsize,
				    bool readonly, const char *dtype)
{
	struct scsi_lu_params p;
	char err[256];
	int rc;

	memset(&p, 0, sizeof(p));
	snprintf(p.dtype, sizeof(p.dtype), "%s", dtype ? dtype : "");
	snprintf(p.bstype, sizeof(p.bstype), "scsi-test-mem");
	snprintf(p.backing, sizeof(p.backing), "mem-%llu",
		 (unsigned long long)lun);
	p.size = size;
	p.block_size = bsize;
	p.readonly = readonly;
	rc = scsi_lu_create(ht_target, lun, &p, err, sizeof(err));
	if (rc)
		print_error("scsi_lu_create: %s\n", err);
	return rc;
}

static HT_UNUSED int ht_lu_add(uint64_t lun, uint64_t size, uint32_t bsize,
			       bool readonly)
{
	return ht_lu_add_type(lun, size, bsize, readonly, NULL);
}

static HT_UNUSED struct scsi_lu *ht_lu(uint64_t lun)
{
	return scsi_lun_map_find(ht_target->lun_map, lun);
}

static HT_UNUSED struct ht_store *ht_store(uint64_t lun)
{
	return container_of(ht_lu(lun)->bs, struct ht_store, dev);
}

static void ht_nexus_init_locked(struct scsi_nexus *n, const char *iname)
{
	char port[SCSI_PORT_NAME_MAX];

	memset(n, 0, sizeof(*n));
	snprintf(port, sizeof(port), "%s,i,0x%012x", iname, 0x400001);
	scsi_config_rdlock();
	scsi_nexus_init(n, ht_target, ht_reactor, iname, port, 1);
	scsi_config_unlock();
}

static HT_UNUSED void ht_nexus_init(struct scsi_nexus *n, const char *iname)
{
	ht_nexus_init_locked(n, iname);
}

static void ht_nexus_release_cb(void *arg)
{
	scsi_nexus_release(arg);
}

static HT_UNUSED void ht_nexus_release(struct scsi_nexus *n)
{
	ht_on_reactor(ht_nexus_release_cb, n);
}

/* Releases a held store request (the store completes it). */
static HT_UNUSED void ht_store_release(struct ht_store *s)
{
	struct bs_req *held[8];
	unsigned n;

	pthread_mutex_lock(&s->lock);
	n = s->nr_held;
	memcpy(held, s->held, sizeof(held));
	s->nr_held = 0;
	s->hold = false;
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < n; i++)
		bs_complete(held[i], ht_store_do(s, held[i]));
}

static HT_UNUSED int ht_setup(void **state)
{
	log_set_level(LOG_LVL_WARN);
	if (scsi_device_type_find("disk") != &sbc_disk_type)
		return -1;
	if (reactor_create(&ht_reactor, "test"))
		return -1;
	if (pthread_create(&ht_thread, NULL, ht_reactor_main, ht_reactor))
		return -1;
	/* This thread plays the main thread. */
	scsi_core_init(ht_reactor);
	if (scsi_target_create(HT_TARGET, "", &ht_target))
		return -1;
	if (ht_lu_add(0, HT_LU_SIZE, 512, false))
		return -1;
	ht_nexus_init(&ht_nexus, HT_INITIATOR);
	return 0;
}

static HT_UNUSED int ht_teardown(void **state)
{
	ht_nexus_release(&ht_nexus);
	scsi_target_delete(HT_TARGET);
	reactor_stop(ht_reactor);
	pthread_join(ht_thread, NULL);
	reactor_destroy(ht_reactor);
	scsi_core_exit();
	ht_reactor = NULL;
	ht_target = NULL;
	return 0;
}

#define ht_test(fn) cmocka_unit_test_setup_teardown(fn, ht_setup, ht_teardown)

/* ---- a device type's CDB usage data against its parsers ---- */

/* What one CDB came to: status, sense and Data-In. */
struct ht_outcome {
	uint8_t status;
	uint8_t sense[SCSI_SENSE_MAX];
	uint32_t data_len;
	uint8_t data[1024];
};

static HT_UNUSED void ht_outcome_of(struct ht_cmd *hc, struct ht_outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->status = hc->c.status;
	memcpy(o->sense, hc->c.sense, sizeof(o->sense));
	o->data_len = hc->c.data_len;
	if (hc->c.data_len)
		memcpy(o->data, hc->c.buf, hc->c.data_len);
}

/*
 * A zero in the usage data says the device server ignores that bit: the
 * command must do the same with it set. For every bit of op's CDB but
 * the opcode and the service action, base (a CDB of the row with the
 * outcome want) with that bit set must come to want again through run.
 */
static HT_UNUSED void ht_check_usage_zero_bits(
    const struct scsi_op *op, void (*base)(const struct scsi_op *, uint8_t *),
    void (*run)(const struct scsi_op *, const uint8_t *, struct ht_outcome *),
    const struct ht_outcome *want)
{
	struct ht_outcome got;
	uint8_t cdb[SCSI_CDB_MAX];

	for (unsigned byte = 1; byte < op->cdb_len; byte++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			uint8_t mask = (uint8_t)(1u << bit);

			if ((op->usage[byte] & mask) ||
			    (byte == 1 && (op->flags & SCSI_OP_SA) &&
			     (mask & 0x1f)))
				continue;
			base(op, cdb);
			cdb[byte] |= mask;
			run(op, cdb, &got);
			if (got.status != want->status ||
			    got.data_len != want->data_len ||
			    memcmp(got.data, want->data, want->data_len))
				fail_msg("%s: byte %u bit %u is 0 in the usage "
					 "data but changes the outcome (status "
					 "%02x, sense %02x/%02x)",
					 op->name, byte, bit, got.status,
					 got.sense[12], got.sense[13]);
		}
	}
}

#endif
