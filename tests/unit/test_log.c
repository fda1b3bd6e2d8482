/*
 * Unit tests of src/util/log.c's journal side: the entry one message
 * becomes (MESSAGE, PRIORITY, CODE_*, lunar's fields; invalid field names
 * and NULL values dropped; a buffer too small refused), the --log-target
 * names, and auto choosing the journal exactly when JOURNAL_STREAM names
 * our stderr. The live journal is checked by tests/integration/service.sh
 * where one runs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/log.h"

static void assert_iov(const struct iovec *iov, const char *want)
{
	char got[512];

	assert_true(iov->iov_len < sizeof(got));
	memcpy(got, iov->iov_base, iov->iov_len);
	got[iov->iov_len] = '\0';
	assert_string_equal(got, want);
}

static void test_fields(void **state)
{
	char buf[1024];
	struct iovec iov[16];
	struct log_kv kv[] = {
	    {"LUNAR_TARGET", "iqn.2026-11.org.lunar:t"},
	    {"LUNAR_LUN", "3"},
	    {"LUNAR_INITIATOR", NULL},	 /* unknown here: left out */
	    {"lunar_bad", "x"},		 /* lowercase: not a field name */
	    {"_SYSTEMD_UNIT", "forged"}, /* trusted fields are journald's */
	    {"", "x"},
	};
	int n = log_journal_fields(buf, sizeof(buf), iov, 16, LOG_LVL_WARN,
				   "src/scsi/lu.c", 523, "scsi_lu_create", kv,
				   LOG_NKV(kv), "LUN 3 created\nsecond line");

	assert_int_equal(n, 7);
	assert_iov(&iov[0], "MESSAGE=LUN 3 created\nsecond line");
	assert_iov(&iov[1], "PRIORITY=4");
	assert_iov(&iov[2], "CODE_FILE=src/scsi/lu.c");
	assert_iov(&iov[3], "CODE_LINE=523");
	assert_iov(&iov[4], "CODE_FUNC=scsi_lu_create");
	assert_iov(&iov[5], "LUNAR_TARGET=iqn.2026-11.org.lunar:t");
	assert_iov(&iov[6], "LUNAR_LUN=3");
}

static void test_fields_minimal(void **state)
{
	char buf[64];
	struct iovec iov[4];
	int n = log_journal_fields(buf, sizeof(buf), iov, 4, LOG_LVL_ERROR,
				   NULL, 0, NULL, NULL, 0, "boom");

	assert_int_equal(n, 2);
	assert_iov(&iov[0], "MESSAGE=boom");
	assert_iov(&iov[1], "PRIORITY=3");
}

static void test_fields_no_room(void **state)
{
	char buf[16];
	struct iovec iov[16];
	struct log_kv kv[] = {{"LUNAR_TARGET", "t"}};

	/* The buffer cannot hold the message. */
	assert_int_equal(log_journal_fields(buf, sizeof(buf), iov, 16,
					    LOG_LVL_INFO, NULL, 0, NULL, NULL,
					    0, "a message longer than 16"),
			 -ENOSPC);
	/* Too few iovecs for the fields. */
	char big[256];
	assert_int_equal(log_journal_fields(big, sizeof(big), iov, 2,
					    LOG_LVL_INFO, "f.c", 1, NULL, kv, 1,
					    "m"),
			 -ENOSPC);
}

static void test_parse_target(void **state)
{
	enum log_target t;

	assert_int_equal(log_parse_target("auto", &t), 0);
	assert_int_equal(t, LOG_TARGET_AUTO);
	assert_int_equal(log_parse_target("stderr", &t), 0);
	assert_int_equal(t, LOG_TARGET_STDERR);
	assert_int_equal(log_parse_target("syslog", &t), 0);
	assert_int_equal(t, LOG_TARGET_SYSLOG);
	assert_int_equal(log_parse_target("journal", &t), 0);
	assert_int_equal(t, LOG_TARGET_JOURNAL);
	assert_int_equal(log_parse_target("Journal", &t), -EINVAL);
	assert_int_equal(log_parse_target("", &t), -EINVAL);
}

/* auto: the journal only when JOURNAL_STREAM is our stderr's dev:inode. */
static void test_auto_target(void **state)
{
	struct stat st;
	char js[64];

	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	assert_int_equal(log_set_target(LOG_TARGET_AUTO), 0);
#ifdef LUNAR_HAVE_SYSTEMD
	assert_int_equal(log_current_target(), LOG_TARGET_JOURNAL);
	assert_int_equal(log_set_target(LOG_TARGET_JOURNAL), 0);
#else
	assert_int_equal(log_current_target(), LOG_TARGET_STDERR);
	assert_int_equal(log_set_target(LOG_TARGET_JOURNAL), -ENOTSUP);
#endif
	/* An explicit target wins over JOURNAL_STREAM. */
	assert_int_equal(log_set_target(LOG_TARGET_STDERR), 0);
	assert_int_equal(log_current_target(), LOG_TARGET_STDERR);
	unsetenv("JOURNAL_STREAM");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fields),
	    cmocka_unit_test(test_fields_minimal),
	    cmocka_unit_test(test_fields_no_room),
	    cmocka_unit_test(test_parse_target),
	    cmocka_unit_test(test_auto_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
