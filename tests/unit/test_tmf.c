/*
 * The target side of task management in the SCSI core (SAM-5 §5.6, §6.3,
 * §7; SPC-5 §7.5.8 TAS): tasks of one nexus aborted on behalf of another
 * (LOGICAL UNIT RESET, target reset, the PREEMPT AND ABORT entry point),
 * on the nexus's reactor through its transport's abort_cmd, with TASK
 * ABORTED status or silence by TAS; tasks sent after the request spared;
 * the unit attentions of resets, I_T NEXUS RESET and PREEMPT AND ABORT;
 * QUERY ASYNCHRONOUS EVENT; the life of an ITL with a request queued.
 */
#include "scsi_harness.h"

#include <pthread.h>

#include "scsi/mode.h"
#include "scsi/ua.h"

#define BS	 512
#define CTL_PAGE 0x0a

static const uint8_t cdb_tur[6] = {0x00};
static const uint8_t lun0[8] = {0};

/* ---- a transport that records what the core asks ---- */

static unsigned abort_calls;
static bool last_respond;

static void rec_abort_cmd(struct scsi_cmd *cmd, bool respond)
{
	abort_calls++;
	last_respond = respond;
	/* What a transport does for a command the core holds. */
	scsi_cmd_abort(cmd);
}

static const struct scsi_nexus_ops rec_ops = {.abort_cmd = rec_abort_cmd};

static int tmf_setup(void **state)
{
	abort_calls = 0;
	last_respond = false;
	return ht_setup(state);
}

#define tmf_test(fn) cmocka_unit_test_setup_teardown(fn, tmf_setup, ht_teardown)

/* A second nexus (another session) with the LU's power-on seen. */
static void nexus_b(struct scsi_nexus *b)
{
	ht_nexus_init(b, HT_INITIATOR "-b");
	b->ops = &rec_ops;
	ht_clear_power_on(b, 0);
}

static void read_cdb(uint8_t *cdb, uint32_t lba)
{
	memset(cdb, 0, 10);
	cdb[0] = 0x28;
	put_be32(cdb + 2, lba);
	cdb[8] = 1;
}

/* A read of n that the held store keeps running. */
static void start_held_read(struct ht_cmd *hc, struct scsi_nexus *n)
{
	uint8_t cdb[10];

	read_cdb(cdb, 8);
	ht_cmd_init(hc, n, 0, cdb, 10, SCSI_DIR_READ, BS, NULL);
	ht_start(hc);
	assert_false(hc->finished);
}

static void noop_cb(void *arg)
{
}

/* Runs fn on the reactor, then lets the messages it posted run (the
 * reactor's messages run in order). */
static void run_settled(void (*fn)(void *), void *arg)
{
	ht_on_reactor(fn, arg);
	ht_on_reactor(noop_cb, NULL);
}

static void lu_reset_cb(void *arg)
{
	scsi_lu_reset_by(arg, lun0);
}

static void target_reset_cb(void *arg)
{
	scsi_target_reset_by(arg);
}

static void nexus_reset_cb(void *arg)
{
	scsi_nexus_reset(arg);
}

struct pending_q {
	struct scsi_nexus *n;
	bool pending;
};

static void pending_cb(void *arg)
{
	struct pending_q *q = arg;

	q->pending = scsi_nexus_aborts_pending(q->n, lun0);
}

/* Asked on the reactor, after every message queued before has run. */
static bool aborts_pending(struct scsi_nexus *n)
{
	struct pending_q q = {.n = n};

	ht_on_reactor(pending_cb, &q);
	return q.pending;
}

static void set_tas(struct scsi_nexus *n, bool on)
{
	uint8_t cdb[6] = {0x1a, 0x08, CTL_PAGE, 0, 255};
	uint8_t list[4 + 12] = {0};
	uint8_t sel[6] = {0x15, 0x10, 0, 0, sizeof(list)};
	struct ht_cmd hc;

	ht_exec(&hc, n, 0, cdb, 6, SCSI_DIR_READ, 255, NULL);
	ht_assert_good(&hc);
	memcpy(list + 4, hc.c.buf + 4, 12);
	ht_release(&hc);
	list[4] &= 0x7f; /* PS is reserved in MODE SELECT */
	if (on)
		list[4 + 5] |= 0x40;
	else
		list[4 + 5] &= (uint8_t)~0x40;
	ht_exec(&hc, n, 0, sel, 6, SCSI_DIR_WRITE, sizeof(list), list);
	ht_assert_good(&hc);
	ht_release(&hc);
	assert_int_equal(scsi_mode_tas(ht_lu(0)), on);
}

/* ---- LOGICAL UNIT RESET from another nexus ---- */

static void test_lu_reset_aborts_other_nexus_tas1(void **state)
{
	struct ht_store *s = ht_store(0);
	struct scsi_nexus b;
	struct ht_cmd rd;

	ht_clear_power_on(&ht_nexus, 0);
	nexus_b(&b);
	s->hold = true;
	start_held_read(&rd, &b);
	run_settled(lu_reset_cb, &ht_nexus);
	/* The message ran: the abort reached B's transport, asking for
	 * TASK ABORTED (TAS defaults to one); the store still has the
	 * buffer, so no done yet and the reset is not confirmed. */
	assert_true(aborts_pending(&ht_nexus));
	assert_int_equal(abort_calls, 1);
	assert_true(last_respond);
	assert_false(rd.finished);
	ht_store_release(s);
	ht_wait(&rd);
	assert_int_equal(rd.done_calls, 1);
	assert_int_equal(rd.c.status, SAM_STAT_TASK_ABORTED);
	ht_release(&rd);
	assert_false(aborts_pending(&ht_nexus));
	/* BUS DEVICE RESET FUNCTION OCCURRED for both nexuses. */
	ht_expect_sense(&b, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_BUS_DEVICE_RESET);
	ht_expect_sense(&ht_nexus, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_BUS_DEVICE_RESET);
	ht_expect_good(&b, 0, cdb_tur, 6);
	ht_nexus_release(&b);
}

static void test_lu_reset_tas0_no_response(void **state)
{
	struct ht_store *s = ht_store(0);
	struct scsi_nexus b;
	struct ht_cmd rd;

	ht_clear_power_on(&ht_nexus, 0);
	nexus_b(&b);
	set_tas(&ht_nexus, false);
	/* B learns of the change first (MODE PARAMETERS CHANGED). */
	ht_expect_sense(&b, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_MODE_PARAMETERS_CHANGED);
	s->hold = true;
	start_held_read(&rd, &b);
	run_settled(lu_reset_cb, &ht_nexus);
	assert_int_equal(abort_calls, 1);
	assert_false(last_respond);
	ht_store_release(s);
	ht_wait(&rd);
	ht_release(&rd);
	/* A reset reports itself, not COMMANDS CLEARED BY ANOTHER
	 * INITIATOR. */
	ht_expect_sense(&b, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_BUS_DEVICE_RESET);
	ht_expect_good(&b, 0, cdb_tur, 6);
	ht_expect_sense(&ht_nexus, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_BUS_DEVICE_RESET);
	set_tas(&ht_nexus, true);
	ht_nexus_release(&b);
}

/* The requester's own tasks are its transport's business. */
static void test_lu_reset_leaves_own_tasks(void **state)
{
	struct ht_store *s = ht_store(0);
	struct ht_cmd rd;

	ht_clear_power_on(&ht_nexus, 0);
	ht_nexus.ops = &rec_ops;
	s->hold = true;
	start_held_read(&rd, &ht_nexus);
	run_settled(lu_reset_cb, &ht_nexus);
	assert_false(aborts_pending(&ht_nexus));
	assert_int_equal(abort_calls, 0);
	ht_store_release(s);
	ht_wait(&rd);
	ht_assert_good(&rd);
	ht_release(&rd);
	ht_nexus.ops = NULL;
}

static void test_target_reset_aborts_other_nexus(void **state)
{
	struct ht_store *s = ht_store(0);
	struct scsi_nexus b;
	struct ht_cmd rd;

	ht_clear_power_on(&ht_nexus, 0);
	nexus_b(&b);
	s->hold = true;
	start_held_read(&rd, &b);
	run_settled(target_reset_cb, &ht_nexus);
	assert_int_equal(abort_calls, 1);
	ht_store_release(s);
	ht_wait(&rd);
	assert_int_equal(rd.c.status, SAM_STAT_TASK_ABORTED);
	ht_release(&rd);
	ht_expect_sense(&b, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_BUS_DEVICE_RESET);
	ht_nexus_release(&b);
}

/* ---- the PREEMPT AND ABORT entry point ---- */

struct preempt_args {
	struct scsi_nexus *victim, *by;
	struct ht_cmd *later; /* started right after the request */
	unsigned times;
};

static void preempt_cb(void *arg)
{
	struct preempt_args *a = arg;
	struct scsi_itl *itl = a->victim->itl[0];
	struct scsi_lu *lu = itl->lu;

	pthread_mutex_lock(&lu->lock);
	for (unsigned i = 0; i < a->times; i++)
		scsi_itl_abort_tasks_locked(itl, a->by);
	pthread_mutex_unlock(&lu->lock);
	/* Sent after the request, before its message runs: spared. */
	if (a->later)
		ht_cmd_start(a->later);
}

static void test_preempt_abort_spares_later_tasks(void **state)
{
	struct ht_store *s = ht_store(0);
	struct scsi_nexus b;
	struct ht_cmd old, later;
	uint8_t cdb[10];
	struct preempt_args a = {.by = &ht_nexus, .later = &later, .times = 1};

	ht_clear_power_on(&ht_nexus, 0);
	nexus_b(&b);
	a.victim = &b;
	s->hold = true;
	start_held_read(&old, &b);
	read_cdb(cdb, 16);
	ht_cmd_init(&later, &b, 0, cdb, 10, SCSI_DIR_READ, BS, NULL);
	run_settled(preempt_cb, &a);
	assert_int_equal(abort_calls, 1);
	ht_store_release(s);
	ht_wait(&old);
	ht_wait(&later);
	assert_int_equal(old.c.status, SAM_STAT_TASK_ABORTED);
	ht_assert_good(&later);
	ht_release(&old);
	ht_release(&later);
	/* TAS=1: the status said it all, no unit attention. */
	ht_expect_good(&b, 0, cdb_tur, 6);
	ht_nexus_release(&b);
}

static void test_preempt_abort_tas0_commands_cleared(void **state)
{
	struct ht_store *s = ht_store(0);
	struct scsi_nexus b;
	struct ht_cmd rd;
	struct preempt_args a = {.by = &ht_nexus, .times = 1};

	ht_clear_power_on(&ht_nexus, 0);
	nexus_b(&b);
	a.victim = &b;
	set_tas(&ht_nexus, false);
	ht_expect_sense(&b, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_MODE_PARAMETERS_CHANGED);
	s->hold = true;
	start_held_read(&rd, &b);
	run_settled(preempt_cb, &a);
	assert_int_equal(abort_calls, 1);
	assert_false(last_respond);
	ht_store_release(s);
	ht_wait(&rd);
	ht_release(&rd);
	ht_expect_sense(&b, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_COMMANDS_CLEARED_BY_OTHER);
	ht_expect_good(&b, 0, cdb_tur, 6);
	/* No task, no unit attention. */
	run_settled(preempt_cb, &a);
	ht_expect_good(&b, 0, cdb_tur, 6);
	set_tas(&ht_nexus, true);
	ht_nexus_release(&b);
}

/* Asked many times before it runs: one message, each task once. */
static void test_requests_coalesce(void **state)
{
	struct ht_store *s = ht_store(0);
	struct scsi_nexus b;
	struct ht_cmd rd[3];
	struct preempt_args a = {.by = &ht_nexus, .times = 500};

	ht_clear_power_on(&ht_nexus, 0);
	nexus_b(&b);
	a.victim = &b;
	s->hold = true;
	for (int i = 0; i < 3; i++)
		start_held_read(&rd[i], &b);
	run_settled(preempt_cb, &a);
	assert_int_equal(abort_calls, 3);
	assert_true(aborts_pending(&ht_nexus));
	ht_store_release(s);
	for (int i = 0; i < 3; i++) {
		ht_wait(&rd[i]);
		assert_int_equal(rd[i].done_calls, 1);
		ht_release(&rd[i]);
	}
	assert_false(aborts_pending(&ht_nexus));
	assert_int_equal(atomic_load(&ht_lu(0)->nr_aborting), 0);
	ht_nexus_release(&b);
}

/* A request queued for an ITL whose nexus lets go before it runs: the
 * message's reference keeps the ITL (ASan sees any early free). */
struct drop_args {
	struct scsi_nexus *b;
};

static void reset_then_release_cb(void *arg)
{
	struct drop_args *a = arg;

	scsi_lu_reset_by(&ht_nexus, lun0);
	scsi_nexus_release(a->b);
}

static void test_itl_outlives_nexus_with_request_queued(void **state)
{
	struct ht_store *s = ht_store(0);
	struct scsi_nexus b;
	struct ht_cmd rd;
	struct drop_args a = {.b = &b};

	ht_clear_power_on(&ht_nexus, 0);
	nexus_b(&b);
	s->hold = true;
	start_held_read(&rd, &b);
	run_settled(reset_then_release_cb, &a);
	assert_int_equal(abort_calls, 1);
	ht_store_release(s);
	ht_wait(&rd);
	assert_int_equal(rd.c.status, SAM_STAT_TASK_ABORTED);
	ht_release(&rd); /* the last reference */
	assert_false(aborts_pending(&ht_nexus));
}

/* ---- I_T NEXUS RESET and QUERY ASYNCHRONOUS EVENT ---- */

static void test_nexus_reset_unit_attention(void **state)
{
	struct scsi_nexus b;

	ht_clear_power_on(&ht_nexus, 0);
	nexus_b(&b);
	run_settled(nexus_reset_cb, &b);
	ht_expect_sense(&b, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_IT_NEXUS_LOSS);
	ht_expect_good(&b, 0, cdb_tur, 6);
	/* Another nexus loses nothing. */
	ht_expect_good(&ht_nexus, 0, cdb_tur, 6);
	ht_nexus_release(&b);
}

struct query_args {
	struct scsi_nexus *n;
	uint8_t lun[8];
	int rc;
	uint8_t asc, ascq;
};

static void query_cb(void *arg)
{
	struct query_args *q = arg;

	q->rc = scsi_nexus_query_ua(q->n, q->lun, &q->asc, &q->ascq);
}

static void test_query_ua(void **state)
{
	struct scsi_nexus b;
	struct query_args q = {.n = &b};

	/* A nexus that never used the LU has its power-on waiting; asking
	 * twice shows it twice (nothing is taken). */
	ht_nexus_init(&b, HT_INITIATOR "-b");
	for (int i = 0; i < 2; i++) {
		ht_on_reactor(query_cb, &q);
		assert_int_equal(q.rc, 1);
		assert_int_equal(q.asc, 0x29);
		assert_int_equal(q.ascq, 0x00);
	}
	/* Two pending: the reset class is reported first. */
	run_settled(nexus_reset_cb, &b);
	ht_on_reactor(query_cb, &q);
	assert_int_equal(q.rc, 2);
	assert_int_equal(q.asc, 0x29);
	ht_expect_sense(&b, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_POWER_ON_RESET);
	ht_expect_sense(&b, 0, cdb_tur, 6, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_IT_NEXUS_LOSS);
	ht_on_reactor(query_cb, &q);
	assert_int_equal(q.rc, 0);
	/* A LUN the nexus cannot reach. */
	q.lun[1] = 7;
	ht_on_reactor(query_cb, &q);
	assert_int_equal(q.rc, -ENXIO);
	ht_nexus_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    tmf_test(test_lu_reset_aborts_other_nexus_tas1),
	    tmf_test(test_lu_reset_tas0_no_response),
	    tmf_test(test_lu_reset_leaves_own_tasks),
	    tmf_test(test_target_reset_aborts_other_nexus),
	    tmf_test(test_preempt_abort_spares_later_tasks),
	    tmf_test(test_preempt_abort_tas0_commands_cleared),
	    tmf_test(test_requests_coalesce),
	    tmf_test(test_itl_outlives_nexus_with_request_queued),
	    tmf_test(test_nexus_reset_unit_attention),
	    tmf_test(test_query_ua),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
