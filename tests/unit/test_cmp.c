/*
 * Unit tests of the per-LU range lock (range_lock.c) and of the disk's
 * compare and atomic commands (sbc_compare.c): overlapping writers
 * serialize and others run concurrently, from one thread or many; COMPARE
 * AND WRITE, ORWRITE, WRITE ATOMIC and WRITE AND VERIFY against ordinary
 * writes in flight; the CDB checks and sense data of VERIFY, WRITE AND
 * VERIFY, COMPARE AND WRITE, ORWRITE, WRITE ATOMIC, PRE-FETCH and READ
 * DEFECT DATA; the compare and atomic fields of VPD B0h.
 */
#include <sched.h>
#include <semaphore.h>

#include "scsi/range_lock.h"
#include "scsi/sbc.h"
#include "scsi_harness.h"

#define BS	    512u
#define BLOCKS	    (HT_LU_SIZE / BS)
#define MAX_XFER    ((8u << 20) / BS)
#define CAW_MAX	    255u
#define ATOMIC_UNIT (4096u / BS)
#define ATOMIC_MAX  ((1u << 20) / BS)
#define BIG_LU	    (4u << 20) /* larger than what PRE-FETCH caches */

static int cmp_setup(void **state)
{
	if (ht_setup(state))
		return -1;
	ht_clear_power_on(&ht_nexus, 0);
	return 0;
}

#define cmp_test(fn) cmocka_unit_test_setup_teardown(fn, cmp_setup, ht_teardown)

static uint8_t *medium(uint64_t lba)
{
	return ht_store(0)->data + lba * BS;
}

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

/* ---- the range lock itself ---- */

struct waiter {
	struct scsi_range_req req;
	bool granted;
	sem_t sem; /* for the threaded test */
};

static void waiter_granted(void *arg)
{
	struct waiter *w = arg;

	ht_signal(&w->granted);
}

static int take(struct scsi_range_lock *rl, struct waiter *w, uint64_t lba,
		uint64_t nr, bool exclusive)
{
	scsi_range_req_init(&w->req);
	w->granted = false;
	return scsi_range_acquire(rl, &w->req, lba, nr, exclusive, ht_reactor,
				  waiter_granted, w);
}

/* Gives the reactor time to run anything posted to it. */
static void settle(void)
{
	struct ht_cmd hc;

	ht_exec(&hc, &ht_nexus, 0, (const uint8_t[6]){0x00}, 6, SCSI_DIR_NONE,
		0, NULL);
	ht_release(&hc);
}

static void test_lock_overlapping_writers_serialize(void **state)
{
	struct scsi_range_lock rl;
	struct waiter a, b, c, d;

	scsi_range_lock_init(&rl);
	/* Two exclusive holders of overlapping ranges: the second waits. */
	assert_int_equal(take(&rl, &a, 0, 8, true), 0);
	assert_int_equal(take(&rl, &b, 7, 2, true), -EINPROGRESS);
	/* An ordinary write of a block a holds waits too; one elsewhere
	 * runs at once, beside a. */
	assert_int_equal(take(&rl, &c, 4, 1, false), -EINPROGRESS);
	assert_int_equal(take(&rl, &d, 8 + 100, 8, false), 0);
	settle();
	assert_false(b.granted);
	assert_false(c.granted);

	/* a leaves: b (first in line) and c (no conflict with b) go. */
	scsi_range_release(&rl, &a.req);
	ht_wait_for(&b.granted);
	ht_wait_for(&c.granted);
	assert_true(scsi_range_granted(&b.req));
	assert_true(scsi_range_granted(&c.req));
	scsi_range_release(&rl, &b.req);
	scsi_range_release(&rl, &c.req);
	scsi_range_release(&rl, &d.req);
	assert_true(list_empty(&rl.held));
	assert_true(list_empty(&rl.waiting));
	assert_int_equal(atomic_load(&rl.exclusive), 0);
	assert_int_equal(atomic_load(&rl.fast), 0);
	scsi_range_lock_destroy(&rl);
}

static void test_lock_shared_writers_overlap_freely(void **state)
{
	struct scsi_range_lock rl;
	struct waiter a, b;

	scsi_range_lock_init(&rl);
	/* No exclusive request: the fast path, nothing recorded. */
	assert_int_equal(take(&rl, &a, 0, 8, false), 0);
	assert_int_equal(take(&rl, &b, 0, 8, false), 0);
	assert_int_equal(a.req.state, SCSI_RANGE_FAST);
	assert_int_equal(atomic_load(&rl.fast), 2);
	assert_true(list_empty(&rl.held));
	scsi_range_release(&rl, &a.req);
	scsi_range_release(&rl, &b.req);
	assert_int_equal(atomic_load(&rl.fast), 0);
	/* Nothing asked, nothing held. */
	assert_int_equal(take(&rl, &a, 5, 0, true), 0);
	assert_int_equal(a.req.state, SCSI_RANGE_IDLE);
	scsi_range_release(&rl, &a.req);
	scsi_range_lock_destroy(&rl);
}

static void test_lock_exclusive_waits_for_writes_in_flight(void **state)
{
	struct scsi_range_lock rl;
	struct waiter w, e, later;

	scsi_range_lock_init(&rl);
	assert_int_equal(take(&rl, &w, 100, 4, false), 0);
	/* A fast holder records no range: the exclusive request waits for
	 * it even though they do not overlap. */
	assert_int_equal(take(&rl, &e, 0, 4, true), -EINPROGRESS);
	/* Meanwhile writes go through the mutex and only overlapping ones
	 * wait behind it. */
	assert_int_equal(take(&rl, &later, 200, 1, false), 0);
	assert_int_equal(later.req.state, SCSI_RANGE_HELD);
	settle();
	assert_false(e.granted);
	scsi_range_release(&rl, &w.req);
	ht_wait_for(&e.granted);
	scsi_range_release(&rl, &later.req);
	scsi_range_release(&rl, &e.req);
	/* Back on the fast path once no exclusive request is left. */
	assert_int_equal(take(&rl, &w, 0, 4, false), 0);
	assert_int_equal(w.req.state, SCSI_RANGE_FAST);
	scsi_range_release(&rl, &w.req);
	scsi_range_lock_destroy(&rl);
}

static void test_lock_waiters_keep_their_order(void **state)
{
	struct scsi_range_lock rl;
	struct waiter e1, s2, e3, s4;

	scsi_range_lock_init(&rl);
	assert_int_equal(take(&rl, &e1, 0, 8, true), 0);
	assert_int_equal(take(&rl, &s2, 0, 8, false), -EINPROGRESS);
	assert_int_equal(take(&rl, &e3, 0, 8, true), -EINPROGRESS);
	assert_int_equal(take(&rl, &s4, 2, 1, false), -EINPROGRESS);
	scsi_range_release(&rl, &e1.req);
	ht_wait_for(&s2.granted);
	settle();
	/* e3 waits for s2; s4 does not overtake e3. */
	assert_false(e3.granted);
	assert_false(s4.granted);
	scsi_range_release(&rl, &s2.req);
	ht_wait_for(&e3.granted);
	settle();
	assert_false(s4.granted);
	scsi_range_release(&rl, &e3.req);
	ht_wait_for(&s4.granted);
	scsi_range_release(&rl, &s4.req);
	scsi_range_lock_destroy(&rl);
}

/* Many threads: exclusive holders never share a block with anybody. */
#define STRESS_THREADS 4
#define STRESS_ROUNDS  4000
#define STRESS_BLOCKS  16

static struct scsi_range_lock stress_lock;
static atomic_int stress_excl[STRESS_BLOCKS];
static atomic_int stress_shared[STRESS_BLOCKS];
static atomic_int stress_violations;
static atomic_int stress_parked;
static pthread_barrier_t stress_start;

static void stress_granted(void *arg)
{
	struct waiter *w = arg;

	sem_post(&w->sem);
}

static void *stress_thread(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	struct waiter w;

	sem_init(&w.sem, 0, 0);
	pthread_barrier_wait(&stress_start);
	for (int i = 0; i < STRESS_ROUNDS; i++) {
		uint64_t lba = (uint64_t)(rand_r(&seed) % STRESS_BLOCKS);
		uint64_t nr = 1 + (uint64_t)(rand_r(&seed) % 3);
		bool excl = rand_r(&seed) % 3 == 0;

		if (lba + nr > STRESS_BLOCKS)
			nr = STRESS_BLOCKS - lba;
		scsi_range_req_init(&w.req);
		if (scsi_range_acquire(&stress_lock, &w.req, lba, nr, excl,
				       ht_reactor, stress_granted, &w)) {
			atomic_fetch_add(&stress_parked, 1);
			sem_wait(&w.sem);
		}
		for (uint64_t b = lba; b < lba + nr; b++)
			atomic_fetch_add(
			    excl ? &stress_excl[b] : &stress_shared[b], 1);
		/* Hold it a little, so that holders meet. */
		sched_yield();
		for (uint64_t b = lba; b < lba + nr; b++) {
			int e = atomic_load(&stress_excl[b]);
			int s = atomic_load(&stress_shared[b]);

			if (excl ? (e != 1 || s != 0) : e != 0)
				atomic_fetch_add(&stress_violations, 1);
		}
		for (uint64_t b = lba; b < lba + nr; b++)
			atomic_fetch_sub(
			    excl ? &stress_excl[b] : &stress_shared[b], 1);
		scsi_range_release(&stress_lock, &w.req);
	}
	sem_destroy(&w.sem);
	return NULL;
}

static void test_lock_threads(void **state)
{
	pthread_t t[STRESS_THREADS];

	scsi_range_lock_init(&stress_lock);
	pthread_barrier_init(&stress_start, NULL, STRESS_THREADS);
	for (uintptr_t i = 0; i < STRESS_THREADS; i++)
		assert_int_equal(
		    pthread_create(&t[i], NULL, stress_thread, (void *)(i + 1)),
		    0);
	for (int i = 0; i < STRESS_THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&stress_start);
	assert_int_equal(atomic_load(&stress_violations), 0);
	/* The test meant something: requests did collide. */
	assert_true(atomic_load(&stress_parked) > 0);
	assert_true(list_empty(&stress_lock.held));
	assert_true(list_empty(&stress_lock.waiting));
	assert_int_equal(atomic_load(&stress_lock.fast), 0);
	assert_int_equal(atomic_load(&stress_lock.exclusive), 0);
	scsi_range_lock_destroy(&stress_lock);
}

/* ---- CDB builders ---- */

static void cdb_caw(uint8_t *cdb, uint64_t lba, uint8_t nr, uint8_t flags)
{
	memset(cdb, 0, 16);
	cdb[0] = 0x89;
	cdb[1] = flags;
	put_be64(cdb + 2, lba);
	cdb[13] = nr;
}

static void cdb_write10(uint8_t *cdb, uint32_t lba, uint16_t nr)
{
	memset(cdb, 0, 16);
	cdb[0] = 0x2a;
	put_be32(cdb + 2, lba);
	put_be16(cdb + 7, nr);
}

/* 10, 12 or 16 bytes of opcode op10/op12/op16 with LBA and length. */
static unsigned cdb_lba_len(uint8_t *cdb, unsigned len, const uint8_t ops[3],
			    uint64_t lba, uint32_t nr, uint8_t byte1)
{
	memset(cdb, 0, 16);
	cdb[1] = byte1;
	if (len == 10) {
		cdb[0] = ops[0];
		put_be32(cdb + 2, (uint32_t)lba);
		put_be16(cdb + 7, (uint16_t)nr);
	} else if (len == 12) {
		cdb[0] = ops[1];
		put_be32(cdb + 2, (uint32_t)lba);
		put_be32(cdb + 6, nr);
	} else {
		cdb[0] = ops[2];
		put_be64(cdb + 2, lba);
		put_be32(cdb + 10, nr);
	}
	return len;
}

static const uint8_t verify_ops[3] = {0x2f, 0xaf, 0x8f};
static const uint8_t write_verify_ops[3] = {0x2e, 0xae, 0x8e};

static void cdb_atomic(uint8_t *cdb, uint64_t lba, uint16_t boundary,
		       uint16_t nr, uint8_t flags)
{
	memset(cdb, 0, 16);
	cdb[0] = 0x9c;
	cdb[1] = flags;
	put_be64(cdb + 2, lba);
	put_be16(cdb + 10, boundary);
	put_be16(cdb + 12, nr);
}

static void assert_miscompare(const struct ht_cmd *hc, uint32_t offset)
{
	ht_assert_sense(hc, SCSI_SK_MISCOMPARE,
			SCSI_ASC_MISCOMPARE_DURING_VERIFY);
	assert_true(hc->c.sense[0] & 0x80); /* VALID */
	assert_int_equal(get_be32(hc->c.sense + 3), offset);
}

/* ---- COMPARE AND WRITE ---- */

static void test_caw_compare_then_write(void **state)
{
	uint8_t out[2 * 4 * BS], cdb[16];
	struct ht_cmd hc;

	fill(medium(10), 4 * BS, 1);
	memcpy(out, medium(10), 4 * BS);
	fill(out + 4 * BS, 4 * BS, 99);
	cdb_caw(cdb, 10, 4, 0x18); /* DPO, FUA */
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, sizeof(out), out);
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_memory_equal(medium(10), out + 4 * BS, 4 * BS);
	assert_int_equal(ht_store(0)->last_op, BS_OP_WRITE);
	assert_true(ht_store(0)->last_flags & BS_F_FUA);

	/* Now the medium holds the write data: the same command miscompares
	 * at byte 0, and the medium stays as it is. */
	out[4 * BS] ^= 0xff;
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, sizeof(out), out);
	assert_miscompare(&hc, 0);
	ht_release(&hc);
	assert_int_not_equal(medium(10)[0], out[4 * BS]);
}

static void test_caw_miscompare_offset(void **state)
{
	uint8_t out[2 * 3 * BS], cdb[16], before[3 * BS];
	struct ht_cmd hc;

	fill(medium(BLOCKS - 3), 3 * BS, 7);
	memcpy(before, medium(BLOCKS - 3), sizeof(before));
	memcpy(out, before, 3 * BS);
	memset(out + 3 * BS, 'B', 3 * BS);
	out[3 * BS - 27] ^= 0x01; /* 27 bytes from the end of the verify data */
	cdb_caw(cdb, BLOCKS - 3, 3, 0);
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, sizeof(out), out);
	assert_miscompare(&hc, 3 * BS - 27);
	ht_release(&hc);
	assert_memory_equal(medium(BLOCKS - 3), before, sizeof(before));
}

static void test_caw_miscompare_last_byte(void **state)
{
	uint8_t out[2 * BS], cdb[16];
	struct ht_cmd hc;

	memset(medium(0), 0, BS);
	memset(out, 0, sizeof(out));
	out[BS - 1] = 1;
	cdb_caw(cdb, 0, 1, 0);
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, sizeof(out), out);
	assert_miscompare(&hc, BS - 1);
	ht_release(&hc);
	assert_int_equal(medium(0)[BS - 1], 0);
}

static void test_caw_cdb_checks(void **state)
{
	uint8_t out[2 * BS] = {0}, cdb[16];
	struct ht_cmd hc;

	/* More blocks than MAXIMUM COMPARE AND WRITE LENGTH: 256 blocks
	 * come with NUMBER OF LOGICAL BLOCKS 0 (libiscsi's Simple does so). */
	cdb_caw(cdb, 0, (uint8_t)(CAW_MAX + 1), 0);
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE,
				2 * (CAW_MAX + 1) * BS, 13, 7);
	/* 0 blocks with a little Data-Out (libiscsi's DpoFua): nothing to
	 * do, GOOD. */
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, BS, out);
	ht_assert_good(&hc);
	ht_release(&hc);
	/* WRPROTECT: no protection information. */
	cdb_caw(cdb, 0, 1, 0x20);
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, 2 * BS,
				1, 7);
	/* Past the end. */
	cdb_caw(cdb, BLOCKS - 1, 2, 0);
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, 4 * BS, NULL);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	ht_release(&hc);
	/* No blocks: nothing done, not an error. */
	cdb_caw(cdb, 0, 0, 0);
	ht_expect_good(&ht_nexus, 0, cdb, 16);
	/* Data-Out of another length than twice the blocks, either way
	 * (libiscsi's InvalidDataOutSize). */
	cdb_caw(cdb, 0, 1, 0);
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, 4 * BS, NULL);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_FIELD_IN_IU);
	ht_release(&hc);
	cdb_caw(cdb, 0, 3, 0);
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, 4 * BS, NULL);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_FIELD_IN_IU);
	ht_release(&hc);
	cdb_caw(cdb, 0, 1, 0);
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_NONE, 0, NULL);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_FIELD_IN_IU);
	ht_release(&hc);
	/* Exactly twice: fine. */
	memset(medium(0), 0, BS);
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, 2 * BS, out);
	ht_assert_good(&hc);
	ht_release(&hc);
}

static void test_caw_read_only(void **state)
{
	uint8_t cdb[16];
	struct ht_cmd hc;

	assert_int_equal(ht_lu_add(1, HT_LU_SIZE, BS, true), 0);
	ht_clear_power_on(&ht_nexus, 1);
	cdb_caw(cdb, 0, 1, 0);
	ht_exec(&hc, &ht_nexus, 1, cdb, 16, SCSI_DIR_WRITE, 2 * BS, NULL);
	ht_assert_sense(&hc, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
	ht_release(&hc);
}

/* A write from another session to a block the CAW holds waits for it; a
 * write elsewhere does not. */
static void test_caw_excludes_overlapping_writes(void **state)
{
	struct ht_store *s = ht_store(0);
	uint8_t caw_out[2 * 2 * BS], w_out[BS], far_out[BS], cdb[16];
	struct ht_cmd caw, w, far;
	struct scsi_nexus b;

	ht_nexus_init(&b, HT_INITIATOR "-b");
	ht_clear_power_on(&b, 0);
	fill(medium(20), 2 * BS, 3);
	memcpy(caw_out, medium(20), 2 * BS);
	memset(caw_out + 2 * BS, 'C', 2 * BS);
	memset(w_out, 'W', BS);
	memset(far_out, 'F', BS);

	s->hold = true;
	cdb_caw(cdb, 20, 2, 0);
	ht_cmd_init(&caw, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE,
		    sizeof(caw_out), caw_out);
	ht_start(&caw);
	assert_int_equal(s->submits, 1); /* its read, held */
	assert_int_equal(s->last_op, BS_OP_READ);

	cdb_write10(cdb, 21, 1);
	ht_cmd_init(&w, &b, 0, cdb, 10, SCSI_DIR_WRITE, BS, w_out);
	ht_start(&w);
	cdb_write10(cdb, 500, 1);
	ht_cmd_init(&far, &b, 0, cdb, 10, SCSI_DIR_WRITE, BS, far_out);
	ht_start(&far);
	settle();
	/* The overlapping write never reached the store; the other did. */
	assert_int_equal(s->submits, 2);
	assert_int_equal(s->last_offset, 500 * BS);
	assert_false(w.finished);

	ht_store_release(s);
	ht_wait(&caw);
	ht_wait(&w);
	ht_wait(&far);
	ht_assert_good(&caw);
	ht_assert_good(&w);
	ht_assert_good(&far);
	/* CAW's read, CAW's write, then w, then nothing else. */
	assert_int_equal(s->submits, 4);
	assert_memory_equal(medium(20), caw_out + 2 * BS, BS);
	assert_memory_equal(medium(21), w_out, BS);
	assert_memory_equal(medium(500), far_out, BS);
	ht_release(&caw);
	ht_release(&w);
	ht_release(&far);
	ht_nexus_release(&b);
}

/* A CAW waits for an overlapping write in flight: it compares against
 * what that write stored. */
static void test_caw_waits_for_write_in_flight(void **state)
{
	struct ht_store *s = ht_store(0);
	uint8_t w_out[BS], caw_out[2 * BS], cdb[16];
	struct ht_cmd w, caw;

	memset(medium(30), 0, BS);
	memset(w_out, 'W', BS);
	memcpy(caw_out, w_out, BS); /* expects the write's data */
	memset(caw_out + BS, 'C', BS);

	s->hold = true;
	cdb_write10(cdb, 30, 1);
	ht_cmd_init(&w, &ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE, BS, w_out);
	ht_start(&w);
	cdb_caw(cdb, 30, 1, 0);
	ht_cmd_init(&caw, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE,
		    sizeof(caw_out), caw_out);
	ht_start(&caw);
	settle();
	assert_int_equal(s->submits, 1); /* the write only */
	assert_false(caw.finished);
	ht_store_release(s);
	ht_wait(&w);
	ht_wait(&caw);
	ht_assert_good(&w);
	ht_assert_good(&caw);
	assert_memory_equal(medium(30), caw_out + BS, BS);
	ht_release(&w);
	ht_release(&caw);
}

/* A write parked behind a CAW and aborted there never reaches the store. */
static void test_parked_write_aborted(void **state)
{
	struct ht_store *s = ht_store(0);
	uint8_t caw_out[2 * BS], w_out[BS], cdb[16];
	struct ht_cmd caw, w;

	memset(medium(40), 'A', BS);
	memset(caw_out, 'A', BS);
	memset(caw_out + BS, 'C', BS);
	memset(w_out, 'W', BS);
	s->hold = true;
	cdb_caw(cdb, 40, 1, 0);
	ht_cmd_init(&caw, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE,
		    sizeof(caw_out), caw_out);
	ht_start(&caw);
	cdb_write10(cdb, 40, 1);
	ht_cmd_init(&w, &ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE, BS, w_out);
	ht_start(&w);
	ht_abort(&w);
	settle();
	assert_false(w.finished); /* done comes when it leaves the lock */
	ht_store_release(s);
	ht_wait(&caw);
	ht_wait(&w);
	ht_assert_good(&caw);
	assert_int_equal(w.c.status, SAM_STAT_TASK_ABORTED);
	assert_int_equal(w.done_calls, 1);
	assert_int_equal(s->submits, 2); /* CAW's read and write */
	assert_memory_equal(medium(40), caw_out + BS, BS);
	ht_release(&caw);
	ht_release(&w);
}

/* ---- ORWRITE ---- */

static void test_orwrite(void **state)
{
	uint8_t out[3 * BS], want[3 * BS], cdb[16];
	struct ht_cmd hc;

	fill(medium(50), 3 * BS, 5);
	fill(out, sizeof(out), 77);
	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = medium(50)[i] | out[i];
	memset(cdb, 0, 16);
	cdb[0] = 0x8b;
	put_be64(cdb + 2, 50);
	put_be32(cdb + 10, 3);
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, sizeof(out), out);
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_memory_equal(medium(50), want, sizeof(want));

	cdb[1] = 0x40; /* ORPROTECT */
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE,
				sizeof(out), 1, 7);
	cdb[1] = 0;
	put_be64(cdb + 2, BLOCKS - 2);
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, sizeof(out), out);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	ht_release(&hc);
	put_be32(cdb + 10, 0); /* no blocks: GOOD, nothing done */
	ht_expect_good(&ht_nexus, 0, cdb, 16);
}

/* ---- WRITE ATOMIC ---- */

static void test_write_atomic(void **state)
{
	static uint8_t out[ATOMIC_MAX * BS + 2 * ATOMIC_UNIT * BS];
	uint8_t cdb[16];
	struct ht_cmd hc;

	fill(out, sizeof(out), 11);
	cdb_atomic(cdb, ATOMIC_UNIT, 0, ATOMIC_UNIT, 0x08);
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, ATOMIC_UNIT * BS,
		out);
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_memory_equal(medium(ATOMIC_UNIT), out, ATOMIC_UNIT * BS);
	assert_true(ht_store(0)->last_flags & BS_F_FUA);

	/* Misaligned LBA, length not a multiple of the granularity. */
	cdb_atomic(cdb, 1, 0, ATOMIC_UNIT, 0);
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE,
				ATOMIC_UNIT * BS, 2, 7);
	cdb_atomic(cdb, 0, 0, 1, 0);
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, BS, 12,
				7);
	/* Out of range first, whatever the length. */
	cdb_atomic(cdb, BLOCKS - ATOMIC_UNIT, 0, 2 * ATOMIC_MAX, 0);
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, 0, NULL);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	ht_release(&hc);
	cdb_atomic(cdb, 0ull - ATOMIC_UNIT, 0, 0, 0);
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_NONE, 0, NULL);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	ht_release(&hc);
	/* No blocks at the end: GOOD. Part of the data: refused. */
	cdb_atomic(cdb, BLOCKS, 0, 0, 0);
	ht_expect_good(&ht_nexus, 0, cdb, 16);
	cdb_atomic(cdb, 0, 0, 2 * ATOMIC_UNIT, 0);
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, ATOMIC_UNIT * BS,
		out);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_FIELD_IN_IU);
	ht_release(&hc);
	cdb_atomic(cdb, 0, 0, ATOMIC_UNIT, 0x80);
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE,
				ATOMIC_UNIT * BS, 1, 7);
	/* Longer than MAXIMUM ATOMIC TRANSFER LENGTH without a boundary;
	 * with one it may be, up to the boundary size limit (on a LU large
	 * enough for such a write). */
	assert_int_equal(ht_lu_add(1, BIG_LU, BS, false), 0);
	ht_clear_power_on(&ht_nexus, 1);
	cdb_atomic(cdb, 0, 0, ATOMIC_MAX + ATOMIC_UNIT, 0);
	ht_expect_invalid_field(&ht_nexus, 1, cdb, 16, SCSI_DIR_WRITE,
				(ATOMIC_MAX + ATOMIC_UNIT) * BS, 12, 7);
	cdb_atomic(cdb, 0, ATOMIC_MAX, ATOMIC_MAX + ATOMIC_UNIT, 0);
	ht_exec(&hc, &ht_nexus, 1, cdb, 16, SCSI_DIR_WRITE,
		(ATOMIC_MAX + ATOMIC_UNIT) * BS, out);
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_memory_equal(ht_store(1)->data, out,
			    (ATOMIC_MAX + ATOMIC_UNIT) * BS);
	cdb_atomic(cdb, 0, ATOMIC_MAX + 1, ATOMIC_UNIT, 0);
	ht_expect_invalid_field(&ht_nexus, 1, cdb, 16, SCSI_DIR_WRITE,
				ATOMIC_UNIT * BS, 10, 7);
}

/* ---- VERIFY ---- */

static void test_verify_bytchk(void **state)
{
	static const unsigned lens[] = {10, 12, 16};
	uint8_t out[4 * BS], cdb[16];
	struct ht_cmd hc;

	fill(medium(60), 4 * BS, 9);
	for (unsigned i = 0; i < 3; i++) {
		unsigned len = lens[i];

		/* 01b: the Data-Out against the medium. */
		memcpy(out, medium(60), sizeof(out));
		cdb_lba_len(cdb, len, verify_ops, 60, 4, 0x02);
		ht_exec(&hc, &ht_nexus, 0, cdb, len, SCSI_DIR_WRITE,
			sizeof(out), out);
		ht_assert_good(&hc);
		ht_release(&hc);
		out[3 * BS + 5] ^= 0x40;
		ht_exec(&hc, &ht_nexus, 0, cdb, len, SCSI_DIR_WRITE,
			sizeof(out), out);
		assert_miscompare(&hc, 3 * BS + 5);
		ht_release(&hc);
		/* DPO is accepted. */
		out[3 * BS + 5] ^= 0x40;
		cdb[1] = 0x12;
		ht_exec(&hc, &ht_nexus, 0, cdb, len, SCSI_DIR_WRITE,
			sizeof(out), out);
		ht_assert_good(&hc);
		ht_release(&hc);
	}

	/* 11b: one block against each block of the range. */
	for (unsigned b = 0; b < 4; b++)
		memset(medium(70 + b), 'Z', BS);
	memset(out, 'Z', BS);
	cdb_lba_len(cdb, 10, verify_ops, 70, 4, 0x06);
	ht_exec(&hc, &ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE, BS, out);
	ht_assert_good(&hc);
	ht_release(&hc);
	medium(72)[17] = 'Y';
	ht_exec(&hc, &ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE, BS, out);
	assert_miscompare(&hc, 17);
	ht_release(&hc);

	/* 10b is reserved; VRPROTECT; too little Data-Out. */
	cdb_lba_len(cdb, 10, verify_ops, 60, 4, 0x04);
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 10, SCSI_DIR_NONE, 0, 1, 2);
	cdb_lba_len(cdb, 16, verify_ops, 60, 4, 0x22);
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, 4 * BS,
				1, 7);
	cdb_lba_len(cdb, 12, verify_ops, 60, 4, 0x02);
	ht_exec(&hc, &ht_nexus, 0, cdb, 12, SCSI_DIR_WRITE, 2 * BS, out);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_FIELD_IN_IU);
	ht_release(&hc);
	/* More blocks to compare than one transfer may carry. */
	cdb_lba_len(cdb, 16, verify_ops, 0, MAX_XFER + 1, 0x06);
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, BS, 10,
				7);
	/* BYTCHK=0 transfers nothing, whatever the length; past the end is
	 * out of range; no blocks compare nothing. */
	cdb_lba_len(cdb, 16, verify_ops, 0, BLOCKS, 0x00);
	ht_expect_good(&ht_nexus, 0, cdb, 16);
	cdb_lba_len(cdb, 10, verify_ops, BLOCKS - 1, 2, 0x02);
	ht_exec(&hc, &ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE, 2 * BS, out);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	ht_release(&hc);
	cdb_lba_len(cdb, 10, verify_ops, BLOCKS, 0, 0x02);
	ht_expect_good(&ht_nexus, 0, cdb, 10);
}

/* ---- WRITE AND VERIFY ---- */

static void test_write_verify(void **state)
{
	static const unsigned lens[] = {10, 12, 16};
	uint8_t out[2 * BS], cdb[16];
	struct ht_cmd hc;

	for (unsigned i = 0; i < 3; i++) {
		unsigned len = lens[i];

		fill(out, sizeof(out), (uint8_t)(30 + i));
		cdb_lba_len(cdb, len, write_verify_ops, 80, 2,
			    i == 1 ? 0x12 : 0x02); /* DPO on (12) */
		ht_exec(&hc, &ht_nexus, 0, cdb, len, SCSI_DIR_WRITE,
			sizeof(out), out);
		ht_assert_good(&hc);
		ht_release(&hc);
		assert_memory_equal(medium(80), out, sizeof(out));
		/* Written through, then read back. */
		assert_int_equal(ht_store(0)->last_op, BS_OP_READ);
	}
	cdb_lba_len(cdb, 10, write_verify_ops, 80, 2, 0x00);
	ht_exec(&hc, &ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE, sizeof(out), out);
	ht_assert_good(&hc);
	ht_release(&hc);
	cdb_lba_len(cdb, 10, write_verify_ops, 80, 2, 0x04);
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE,
				sizeof(out), 1, 2);
	cdb_lba_len(cdb, 10, write_verify_ops, 80, 2, 0x06);
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE,
				sizeof(out), 1, 2);
	cdb_lba_len(cdb, 16, write_verify_ops, 80, 2, 0x40);
	ht_expect_invalid_field(&ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE,
				sizeof(out), 1, 7);
	cdb_lba_len(cdb, 16, write_verify_ops, BLOCKS - 1, 2, 0x02);
	ht_exec(&hc, &ht_nexus, 0, cdb, 16, SCSI_DIR_WRITE, sizeof(out), out);
	ht_assert_sense(&hc, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	ht_release(&hc);
	cdb_lba_len(cdb, 12, write_verify_ops, BLOCKS, 0, 0x02);
	ht_expect_good(&ht_nexus, 0, cdb, 12);
}

/* A store failing the read back is a medium error. */
static void test_write_verify_read_error(void **state)
{
	uint8_t out[BS] = {1}, cdb[16];
	struct ht_cmd hc;
	struct ht_store *s = ht_store(0);

	s->hold = true;
	cdb_lba_len(cdb, 10, write_verify_ops, 90, 1, 0x02);
	ht_cmd_init(&hc, &ht_nexus, 0, cdb, 10, SCSI_DIR_WRITE, BS, out);
	ht_start(&hc);
	/* The write is held; fail what comes next (the read back). */
	pthread_mutex_lock(&s->lock);
	s->fail_next = -EIO;
	pthread_mutex_unlock(&s->lock);
	ht_store_release(s);
	ht_wait(&hc);
	ht_assert_sense(&hc, SCSI_SK_MEDIUM_ERROR,
			SCSI_ASC_UNRECOVERED_READ_ERROR);
	ht_release(&hc);
}

/* ---- PRE-FETCH ---- */

static void test_prefetch(void **state)
{
	uint8_t p10[10] = {0x34}, p16[16] = {0x90};
	struct ht_cmd hc;

	/* What fits in the cache: CONDITION MET, also with IMMED. */
	put_be32(p10 + 2, 0);
	put_be16(p10 + 7, 8);
	ht_exec(&hc, &ht_nexus, 0, p10, 10, SCSI_DIR_NONE, 0, NULL);
	assert_int_equal(hc.c.status, SAM_STAT_CONDITION_MET);
	assert_int_equal(hc.c.sense_len, 0);
	assert_int_equal(ht_store(0)->last_op, BS_OP_READ);
	ht_release(&hc);
	p10[1] = 0x02;
	p10[6] = 3; /* GROUP NUMBER: ignored */
	ht_exec(&hc, &ht_nexus, 0, p10, 10, SCSI_DIR_NONE, 0, NULL);
	assert_int_equal(hc.c.status, SAM_STAT_CONDITION_MET);
	ht_release(&hc);
	/* 0 blocks: to the end. */
	put_be64(p16 + 2, BLOCKS - 4);
	ht_exec(&hc, &ht_nexus, 0, p16, 16, SCSI_DIR_NONE, 0, NULL);
	assert_int_equal(hc.c.status, SAM_STAT_CONDITION_MET);
	assert_int_equal(ht_store(0)->last_len, 4 * BS);
	ht_release(&hc);
	/* Out of range, with and without blocks. */
	put_be64(p16 + 2, BLOCKS + 1);
	ht_expect_sense(&ht_nexus, 0, p16, 16, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);
	put_be64(p16 + 2, BLOCKS - 1);
	put_be32(p16 + 10, 2);
	ht_expect_sense(&ht_nexus, 0, p16, 16, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_LBA_OUT_OF_RANGE);

	/* More than the cache: its first part fetched, GOOD. */
	assert_int_equal(ht_lu_add(1, BIG_LU, BS, false), 0);
	ht_clear_power_on(&ht_nexus, 1);
	memset(p16 + 2, 0, 12);
	ht_exec(&hc, &ht_nexus, 1, p16, 16, SCSI_DIR_NONE, 0, NULL);
	ht_assert_good(&hc);
	assert_int_equal(ht_store(1)->last_len, 1u << 20);
	ht_release(&hc);
}

/* ---- READ DEFECT DATA ---- */

static void test_read_defect_data(void **state)
{
	uint8_t c10[10] = {0x37}, c12[12] = {0xb7};
	struct ht_cmd hc;

	/* Each standard format: an empty list in it. */
	for (uint8_t fmt = 0; fmt < 6; fmt++) {
		c10[2] = 0x18 | fmt;
		put_be16(c10 + 7, 32);
		ht_exec(&hc, &ht_nexus, 0, c10, 10, SCSI_DIR_READ, 32, NULL);
		ht_assert_good(&hc);
		assert_int_equal(hc.c.data_len, 4);
		assert_int_equal(hc.c.buf[1], 0x18 | fmt);
		assert_int_equal(get_be16(hc.c.buf + 2), 0);
		ht_release(&hc);
	}
	c12[1] = 0x10; /* the primary list only */
	put_be32(c12 + 6, 32);
	ht_exec(&hc, &ht_nexus, 0, c12, 12, SCSI_DIR_READ, 32, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 8);
	assert_int_equal(hc.c.buf[1], 0x10);
	assert_int_equal(get_be32(hc.c.buf + 4), 0);
	ht_release(&hc);
	/* The vendor specific format: long block format instead, and
	 * RECOVERED ERROR with the data. */
	c12[1] = 0x08 | 0x06;
	ht_exec(&hc, &ht_nexus, 0, c12, 12, SCSI_DIR_READ, 32, NULL);
	ht_assert_sense(&hc, SCSI_SK_RECOVERED_ERROR,
			SCSI_ASC_DEFECT_LIST_NOT_FOUND);
	assert_int_equal(hc.c.data_len, 8);
	assert_int_equal(hc.c.buf[1], 0x08 | 0x03);
	ht_release(&hc);
	/* 111b is reserved; a short allocation length cuts the header. */
	c10[2] = 0x07;
	ht_expect_invalid_field(&ht_nexus, 0, c10, 10, SCSI_DIR_READ, 32, 2, 2);
	c10[2] = 0;
	put_be16(c10 + 7, 2);
	ht_exec(&hc, &ht_nexus, 0, c10, 10, SCSI_DIR_READ, 32, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.data_len, 2);
	ht_release(&hc);
}

/* ---- VPD B0h ---- */

static void test_vpd_limits(void **state)
{
	uint8_t cdb[6] = {0x12, 0x01, 0xb0, 0x01, 0x00};
	struct ht_cmd hc;

	ht_exec(&hc, &ht_nexus, 0, cdb, 6, SCSI_DIR_READ, 256, NULL);
	ht_assert_good(&hc);
	assert_int_equal(hc.c.buf[5], CAW_MAX);
	assert_int_equal(get_be32(hc.c.buf + 44), ATOMIC_MAX);
	assert_int_equal(get_be32(hc.c.buf + 48), ATOMIC_UNIT);
	assert_int_equal(get_be32(hc.c.buf + 52), ATOMIC_UNIT);
	assert_int_equal(get_be32(hc.c.buf + 56), MAX_XFER);
	assert_int_equal(get_be32(hc.c.buf + 60), ATOMIC_MAX);
	/* The atomic limits fit in one transfer (libiscsi checks it). */
	assert_true(get_be32(hc.c.buf + 44) <= get_be32(hc.c.buf + 8));
	ht_release(&hc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmp_test(test_lock_overlapping_writers_serialize),
	    cmp_test(test_lock_shared_writers_overlap_freely),
	    cmp_test(test_lock_exclusive_waits_for_writes_in_flight),
	    cmp_test(test_lock_waiters_keep_their_order),
	    cmp_test(test_lock_threads),
	    cmp_test(test_caw_compare_then_write),
	    cmp_test(test_caw_miscompare_offset),
	    cmp_test(test_caw_miscompare_last_byte),
	    cmp_test(test_caw_cdb_checks),
	    cmp_test(test_caw_read_only),
	    cmp_test(test_caw_excludes_overlapping_writes),
	    cmp_test(test_caw_waits_for_write_in_flight),
	    cmp_test(test_parked_write_aborted),
	    cmp_test(test_orwrite),
	    cmp_test(test_write_atomic),
	    cmp_test(test_verify_bytchk),
	    cmp_test(test_write_verify),
	    cmp_test(test_write_verify_read_error),
	    cmp_test(test_prefetch),
	    cmp_test(test_read_defect_data),
	    cmp_test(test_vpd_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
