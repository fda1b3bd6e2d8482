/*
 * Unit tests of the rbd store's pure parts, without a cluster: the
 * options and backing names admins type, the walk that turns librbd's
 * allocated extents into one GET LBA STATUS run, and how librbd's results
 * become the errors the SCSI layer maps to sense. The store is included
 * directly (DESIGN.md §9). tests/integration/rbd*.sh run it against a
 * real cluster.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bs/rbd.c"

static int parse(const char *s, struct bs_rbd_opts *o, char *err)
{
	err[0] = '\0';
	return bs_rbd_parse_opts(s, o, err, 256);
}

static void test_opts_defaults(void **state)
{
	struct bs_rbd_opts o;
	char err[256];

	assert_int_equal(parse("", &o, err), 0);
	assert_string_equal(o.conf, "");
	assert_string_equal(o.id, "admin");
	assert_string_equal(o.cluster, "ceph");
	assert_string_equal(o.ns, "");
	assert_int_equal(o.timeout, 30);
	assert_int_equal(o.threads, 0);
	assert_int_equal(parse(NULL, &o, err), 0);
}

static void test_opts_all(void **state)
{
	struct bs_rbd_opts o;
	char err[256];

	assert_int_equal(parse("conf=/etc/ceph/x.conf;id=gw1;cluster=c2;"
			       "namespace=ns1;timeout=45;threads=4;",
			       &o, err),
			 0);
	assert_string_equal(o.conf, "/etc/ceph/x.conf");
	assert_string_equal(o.id, "gw1");
	assert_string_equal(o.cluster, "c2");
	assert_string_equal(o.ns, "ns1");
	assert_int_equal(o.timeout, 45);
	assert_int_equal(o.threads, 4);
	/* Empty pieces are tolerated; a value may hold '='. */
	assert_int_equal(parse(";;conf=/a=b;;", &o, err), 0);
	assert_string_equal(o.conf, "/a=b");
}

static void test_opts_errors(void **state)
{
	struct bs_rbd_opts o;
	char err[256];

	assert_int_equal(parse("bogus=1", &o, err), -EINVAL);
	assert_non_null(strstr(err, "unknown rbd option 'bogus'"));
	assert_non_null(strstr(err, "known: conf"));
	assert_int_equal(parse("conf", &o, err), -EINVAL);
	assert_non_null(strstr(err, "has no value"));
	assert_int_equal(parse("id=", &o, err), -EINVAL);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(parse("timeout=4", &o, err), -EINVAL);
	assert_non_null(strstr(err, "timeout=4"));
	assert_int_equal(parse("timeout=3601", &o, err), -EINVAL);
	assert_int_equal(parse("timeout=3x", &o, err), -EINVAL);
	assert_int_equal(parse("timeout=", &o, err), -EINVAL);
	assert_int_equal(parse("threads=65", &o, err), -EINVAL);
	assert_int_equal(parse("threads=-1", &o, err), -EINVAL);
}

static void test_opts_too_long(void **state)
{
	char s[2048], err[256];
	struct bs_rbd_opts o;

	memset(s, 'a', sizeof(s));
	memcpy(s, "conf=", 5);
	s[sizeof(s) - 1] = '\0';
	assert_int_equal(parse(s, &o, err), -EINVAL);
	assert_non_null(strstr(err, "rbd option conf"));
}

static void test_path(void **state)
{
	char pool[BS_RBD_NAME_MAX], image[BS_RBD_NAME_MAX],
	    snap[BS_RBD_NAME_MAX], err[256], big[600];
	const char *bad[] = {"", "/x", "p/", "a/b/c", "p/i@", "@s", "p/@s"};

	assert_int_equal(
	    bs_rbd_parse_path("rbd/disk1", pool, image, snap, err, 256), 0);
	assert_string_equal(pool, "rbd");
	assert_string_equal(image, "disk1");
	assert_string_equal(snap, "");
	assert_int_equal(
	    bs_rbd_parse_path("disk2", pool, image, snap, err, 256), 0);
	assert_string_equal(pool, "rbd");
	assert_string_equal(image, "disk2");
	assert_int_equal(
	    bs_rbd_parse_path("pool7/img@snap1", pool, image, snap, err, 256),
	    0);
	assert_string_equal(pool, "pool7");
	assert_string_equal(image, "img");
	assert_string_equal(snap, "snap1");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(
		    bs_rbd_parse_path(bad[i], pool, image, snap, err, 256),
		    -EINVAL);
		assert_non_null(strstr(err, "POOL/IMAGE"));
	}
	memset(big, 'i', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(bs_rbd_parse_path(big, pool, image, snap, err, 256),
			 -EINVAL);
}

/* The extents librbd reports, in order, into one walk from offset. */
static struct bs_rbd_extent_walk walk(uint64_t offset, uint64_t len,
				      const uint64_t (*ext)[2], size_t n)
{
	struct bs_rbd_extent_walk w = {.offset = offset, .end = offset + len};

	for (size_t i = 0; i < n; i++) {
		if (bs_rbd_extent(ext[i][0], (size_t)ext[i][1], 1, &w) ==
		    -ECANCELED)
			break;
	}
	return w;
}

static void test_extent_walk(void **state)
{
	const uint64_t before[][2] = {{0, 50}};
	const uint64_t later[][2] = {{200, 100}, {400, 10}};
	const uint64_t run[][2] = {{50, 100}, {150, 50}, {300, 10}};
	const uint64_t touching[][2] = {{100, 10}, {110, 10}, {200, 5}};
	struct bs_rbd_extent_walk w;

	/* An extent that ends at the start does not count. */
	w = walk(100, 1000, before, 1);
	assert_false(w.started);
	/* A hole first, up to the first extent. */
	w = walk(100, 1000, later, 2);
	assert_true(w.started);
	assert_false(w.mapped);
	assert_int_equal(w.run_end, 200);
	/* A mapped run across adjacent extents, ended by a hole. */
	w = walk(100, 1000, run, 3);
	assert_true(w.mapped);
	assert_int_equal(w.run_end, 200);
	w = walk(100, 1000, touching, 3);
	assert_true(w.mapped);
	assert_int_equal(w.run_end, 120);
	/* Extents that librbd says no longer exist are holes. */
	w = (struct bs_rbd_extent_walk){.offset = 0, .end = 100};
	assert_int_equal(bs_rbd_extent(0, 10, 0, &w), 0);
	assert_false(w.started);
}

static void test_results(void **state)
{
	struct bs_rbd r = {0};
	struct bs_req req = {.op = BS_OP_READ, .offset = 4096, .len = 4096};

	assert_int_equal(bs_rbd_result(&r, &req, 4096), 0);
	/* A short read never invents data. */
	assert_int_equal(bs_rbd_result(&r, &req, 512), -EIO);
	req.op = BS_OP_WRITE;
	assert_int_equal(bs_rbd_result(&r, &req, 0), 0);
	/* Another client holds the lock: this path cannot write. */
	assert_int_equal(bs_rbd_result(&r, &req, -EROFS), -ENOLCK);
	r.dev.readonly = true;
	assert_int_equal(bs_rbd_result(&r, &req, -EROFS), -EROFS);
	/* Fenced, or the cluster did not answer: passed on. */
	assert_int_equal(bs_rbd_result(&r, &req, -ESHUTDOWN), -ESHUTDOWN);
	assert_int_equal(bs_rbd_result(&r, &req, -ETIMEDOUT), -ETIMEDOUT);
	/* A miscompare at image offset 4096 + 100 is byte 100 of the
	 * command. */
	req.op = BS_OP_COMPARE_AND_WRITE;
	req.miscompare = 4196;
	assert_int_equal(bs_rbd_result(&r, &req, -EILSEQ), -EILSEQ);
	assert_int_equal(req.miscompare, 100);
}

static void test_registered(void **state)
{
	const struct bs_ops *ops = bs_find("rbd");

	assert_non_null(ops);
	assert_true(ops->takes_options);
	assert_non_null(ops->shared);
	assert_non_null(ops->shared->lock_take);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_opts_defaults),
	    cmocka_unit_test(test_opts_all),
	    cmocka_unit_test(test_opts_errors),
	    cmocka_unit_test(test_opts_too_long),
	    cmocka_unit_test(test_path),
	    cmocka_unit_test(test_extent_walk),
	    cmocka_unit_test(test_results),
	    cmocka_unit_test(test_registered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
