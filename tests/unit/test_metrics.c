/*
 * Unit tests of the statistics (src/scsi/stats.c) and their Prometheus
 * exposition (src/mgmt/metrics.c): latency bucketing at the bucket
 * edges, a command's numbers landing in its nexus, LU and target (class,
 * bytes only when GOOD, sense key from fixed and descriptor sense, other
 * statuses, queue depth back to zero), shards summed across threads,
 * --no-stats, and the text format: HELP/TYPE once per family, label
 * values escaped, histogram buckets cumulative with _sum and _count.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mgmt/mgmt_internal.h"
#include "scsi/device.h"
#include "scsi/scsi.h"
#include "scsi/sense.h"
#include "scsi/stats.h"
#include "scsi/target.h"

static const struct scsi_op op_read = {
    .name = "READ (16)",
    .opcode = 0x88,
    .dir = SCSI_DIR_READ,
    .flags = SCSI_OP_BLOCKS,
};
static const struct scsi_op op_write = {
    .name = "WRITE (16)",
    .opcode = 0x8a,
    .dir = SCSI_DIR_WRITE,
    .flags = SCSI_OP_BLOCKS | SCSI_OP_WRITES,
};

static void test_buckets(void **state)
{
	(void)state;
	assert_int_equal(scsi_stats_lat_bucket(0), 0);
	assert_int_equal(scsi_stats_lat_bucket(1000), 0); /* 1 us */
	assert_int_equal(scsi_stats_lat_bucket(1001), 1); /* 2 us */
	assert_int_equal(scsi_stats_lat_bucket(2000), 1);
	assert_int_equal(scsi_stats_lat_bucket(2001), 2);     /* 4 us */
	assert_int_equal(scsi_stats_lat_bucket(1000000), 10); /* 1024 us */
	assert_int_equal(scsi_stats_lat_bucket(1000000000ull), 20);
	assert_int_equal(scsi_stats_lat_bucket(16777216000ull), 24);
	assert_int_equal(scsi_stats_lat_bucket(16777216001ull),
			 SCSI_STATS_LAT_FINITE);
	assert_int_equal(scsi_stats_lat_bucket(UINT64_MAX / 2),
			 SCSI_STATS_LAT_FINITE);
	assert_true(scsi_stats_lat_bound(0) == 1e-6);
	assert_true(scsi_stats_lat_bound(24) == 16.777216);
}

struct fixture {
	struct scsi_target t;
	struct scsi_lu lu;
	struct scsi_nexus n;
};

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->t.stats = scsi_stats_shards_new();
	f->lu.stats = scsi_stats_shards_new();
	assert_non_null(f->t.stats);
	assert_non_null(f->lu.stats);
	f->n.target = &f->t;
	return f;
}

static void fixture_free(struct fixture *f)
{
	scsi_stats_shards_free(f->t.stats);
	scsi_stats_shards_free(f->lu.stats);
	free(f);
}

/* One command through the hooks as core.c calls them. */
static void run_cmd(struct fixture *f, const struct scsi_op *op, uint8_t status,
		    const uint8_t *sense, uint16_t sense_len, uint32_t len)
{
	struct scsi_cmd cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.nexus = &f->n;
	scsi_stats_cmd_start(&cmd);
	cmd.lu = &f->lu;
	cmd.op = op;
	cmd.xfer_len = len;
	scsi_stats_cmd_queued(&cmd);
	cmd.status = status;
	cmd.data_len = op && op->dir == SCSI_DIR_READ ? len : 0;
	if (sense_len)
		memcpy(cmd.sense, sense, sense_len);
	cmd.sense_len = sense_len;
	scsi_stats_cmd_end(&cmd);
}

static void test_counting(void **state)
{
	static const uint8_t fixed[18] = {0x70, 0, 0x05, [7] = 10, [12] = 0x21};
	static const uint8_t desc[8] = {0x72, 0x06, 0x29, 0x00};
	struct fixture *f = fixture_new();
	struct scsi_stats_snap s;

	(void)state;
	run_cmd(f, &op_read, SAM_STAT_GOOD, NULL, 0, 4096);
	run_cmd(f, &op_read, SAM_STAT_GOOD, NULL, 0, 4096);
	run_cmd(f, &op_write, SAM_STAT_GOOD, NULL, 0, 8192);
	run_cmd(f, &op_read, SAM_STAT_CHECK_CONDITION, fixed, sizeof(fixed),
		512);
	run_cmd(f, NULL, SAM_STAT_CHECK_CONDITION, desc, sizeof(desc), 0);
	run_cmd(f, &op_write, SAM_STAT_RESERVATION_CONFLICT, NULL, 0, 512);
	scsi_stats_tmf(&f->n, NULL, SCSI_STATS_TMF_LU_RESET);

	for (int which = 0; which < 3; which++) {
		if (which == 0)
			scsi_stats_read(&f->n.stats, &s);
		else
			scsi_stats_sum(which == 1 ? f->lu.stats : f->t.stats,
				       &s);
		assert_int_equal(s.cmds[SCSI_STATS_READ], 3);
		assert_int_equal(s.cmds[SCSI_STATS_WRITE], 2);
		assert_int_equal(s.cmds[SCSI_STATS_OTHER], 1);
		assert_int_equal(s.bytes_read, 8192); /* GOOD reads only */
		assert_int_equal(s.bytes_written, 8192);
		assert_int_equal(s.sense_key[SCSI_SK_ILLEGAL_REQUEST], 1);
		assert_int_equal(s.sense_key[SCSI_SK_UNIT_ATTENTION], 1);
		assert_int_equal(s.status[SCSI_STATS_ST_RESERVATION_CONFLICT],
				 1);
		assert_int_equal(s.queue_depth, 0);
		uint64_t n = 0;
		for (unsigned b = 0; b < SCSI_STATS_LAT_BUCKETS; b++)
			n += s.lat[SCSI_STATS_READ][b];
		assert_int_equal(n, 3);
		/* No LUN given (no LUN map here): not counted for a LU. */
		assert_int_equal(s.tmf[SCSI_STATS_TMF_LU_RESET],
				 which == 1 ? 0 : 1);
	}
	fixture_free(f);
}

static void test_queue_depth_and_drop(void **state)
{
	struct fixture *f = fixture_new();
	struct scsi_stats_snap s;
	struct scsi_cmd cmd;

	(void)state;
	memset(&cmd, 0, sizeof(cmd));
	cmd.nexus = &f->n;
	scsi_stats_cmd_start(&cmd);
	cmd.lu = &f->lu;
	scsi_stats_cmd_queued(&cmd);
	scsi_stats_sum(f->lu.stats, &s);
	assert_int_equal(s.queue_depth, 1);
	/* Released unfinished: out of the queue, not counted. */
	scsi_stats_cmd_drop(&cmd);
	scsi_stats_cmd_end(&cmd);
	scsi_stats_sum(f->lu.stats, &s);
	assert_int_equal(s.queue_depth, 0);
	assert_int_equal(s.cmds[SCSI_STATS_OTHER], 0);
	fixture_free(f);
}

static void test_disabled(void **state)
{
	struct fixture *f = fixture_new();
	struct scsi_stats_snap s;

	(void)state;
	scsi_stats_enabled = false;
	run_cmd(f, &op_read, SAM_STAT_GOOD, NULL, 0, 4096);
	scsi_stats_enabled = true;
	scsi_stats_read(&f->n.stats, &s);
	assert_int_equal(s.cmds[SCSI_STATS_READ], 0);
	fixture_free(f);
}

/* Threads beyond the shards (8 by default) share the last one: nothing
 * is lost. */
#define THREADS 12
#define PER	5000

static void *thread_run(void *arg)
{
	struct fixture *f = arg;
	struct scsi_nexus n = {.target = &f->t};
	struct fixture mine = *f;

	mine.n = n;
	for (int i = 0; i < PER; i++)
		run_cmd(&mine, &op_write, SAM_STAT_GOOD, NULL, 0, 512);
	return NULL;
}

static void test_shards(void **state)
{
	struct fixture *f = fixture_new();
	pthread_t th[THREADS];
	struct scsi_stats_snap s;

	(void)state;
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, thread_run, f),
				 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	scsi_stats_sum(f->lu.stats, &s);
	assert_int_equal(s.cmds[SCSI_STATS_WRITE], THREADS * PER);
	assert_int_equal(s.bytes_written, (uint64_t)THREADS * PER * 512);
	assert_int_equal(s.queue_depth, 0);
	scsi_stats_sum(f->t.stats, &s);
	assert_int_equal(s.cmds[SCSI_STATS_WRITE], THREADS * PER);
	fixture_free(f);
}

static unsigned count_of(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_exposition(void **state)
{
	struct scsi_stats_snap s;
	json_t *root;
	char *text;
	size_t len;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.cmds[SCSI_STATS_READ] = 3;
	s.lat[SCSI_STATS_READ][0] = 1;
	s.lat[SCSI_STATS_READ][2] = 2;
	s.lat_ns[SCSI_STATS_READ] = 1500000000ull;
	s.bytes_read = 12288;
	s.sense_key[SCSI_SK_MEDIUM_ERROR] = 4;
	root = json_pack(
	    "{s:b, s:{s:i}, s:[{s:s, s:i, s:o, s:{s:i}, s:[{s:i, s:o}], "
	    "s:[{s:s, s:i, s:s, s:s, s:[{s:i}], s:o}]}]}",
	    "counting", 1, "logins", "success", 2, "targets", "name",
	    "iqn.x:a\"b\\c\nd", "sessions", 1, "stats",
	    mgmt_stats_snap_json(&s), "logins", "auth_failed", 1, "luns", "lun",
	    3, "stats", mgmt_stats_snap_json(&s), "session_list", "sid", "9",
	    "tsih", 1, "isid", "400001370000", "initiator", "iqn.i",
	    "connections", "cid", 0, "stats", mgmt_stats_snap_json(&s));
	assert_non_null(root);
	assert_int_equal(mgmt_metrics_format(root, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	/* Escaped: backslash, double quote, newline. */
	assert_non_null(strstr(text, "lunar_scsi_read_bytes_total{target=\"iqn."
				     "x:a\\\"b\\\\c\\nd\",lun=\"3\"} 12288\n"));
	assert_non_null(strstr(text, "sense_key=\"medium_error\"} 4\n"));
	/* Cumulative buckets, then +Inf, _sum, _count. */
	assert_non_null(strstr(text, "op=\"read\",le=\"0.000001\"} 1\n"));
	assert_non_null(strstr(text, "op=\"read\",le=\"0.000002\"} 1\n"));
	assert_non_null(strstr(text, "op=\"read\",le=\"0.000004\"} 3\n"));
	assert_non_null(strstr(text, "op=\"read\",le=\"16.777216\"} 3\n"));
	assert_non_null(strstr(text, "op=\"read\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(text, "lunar_scsi_command_duration_seconds_sum{"
				     "target=\"iqn.x:a\\\"b\\\\c\\nd\",lun="
				     "\"3\",op=\"read\"} 1.500000000\n"));
	assert_non_null(strstr(text, "lunar_session_scsi_commands_total{target="
				     "\"iqn.x:a\\\"b\\\\c\\nd\",initiator="
				     "\"iqn.i\",isid=\"400001370000\",tsih="
				     "\"1\",cid=\"0\",op=\"read\"} 3\n"));
	assert_non_null(
	    strstr(text, "lunar_iscsi_logins_total{result=\"success\"} 2\n"));
	assert_non_null(strstr(text, "result=\"auth_failed\"} 1\n"));
	/* One HELP and one TYPE per family. */
	assert_int_equal(
	    count_of(text, "# TYPE lunar_scsi_command_duration_seconds "), 1);
	assert_int_equal(count_of(text, "# HELP lunar_scsi_commands_total "),
			 1);
	assert_int_equal(count_of(text, "# TYPE lunar_scsi_commands_total "),
			 1);
	/* No raw newline inside a sample line: every line is a comment or
	 * starts with a metric name. */
	for (char *line = text; *line;) {
		char *nl = strchr(line, '\n');

		assert_non_null(nl);
		assert_true(line[0] == '#' || strncmp(line, "lunar_", 6) == 0);
		line = nl + 1;
	}
	free(text);
	json_decref(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buckets),
	    cmocka_unit_test(test_counting),
	    cmocka_unit_test(test_queue_depth_and_drop),
	    cmocka_unit_test(test_disabled),
	    cmocka_unit_test(test_shards),
	    cmocka_unit_test(test_exposition),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
