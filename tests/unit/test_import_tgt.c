/*
 * The targets.conf reader and mapping of lunarctl import-tgt
 * (tools/tgt_conf.c): comments, continuations, quoting and "key = value",
 * includes (globs, directories, --conf-dir, loops), the parse errors with
 * their file and line, and tgt-admin's LUN numbering and ACL rules.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../tools/tgt_conf.h"

static char dir[64];

static void put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int parse(const char *name, const char *conf_dir, struct tgt_conf **out,
		 char *err, size_t errlen)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return tgt_conf_parse(path, conf_dir, out, err, errlen);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/lunar-ut-tgt.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_lines(void **state)
{
	struct tgt_conf *c;
	char err[1024];

	put("lines.conf", "# comment\n"
			  "default-driver = iscsi   # trailing comment\n"
			  "<target iqn.2026-12.org.example:a>\n"
			  "  backing-store \"/srv/a b.img\"\n"
			  "  vendor_id Acme\\#1\n"
			  "  incominguser alice \\\n"
			  "      AliceSecret123\n"
			  "</target>\n");
	assert_int_equal(parse("lines.conf", NULL, &c, err, sizeof(err)), 0);
	assert_int_equal(c->global.n, 1);
	assert_string_equal(c->global.v[0].key, "default-driver");
	assert_string_equal(c->global.v[0].val, "iscsi");
	assert_int_equal(c->nr_targets, 1);
	assert_int_equal(c->targets[0].line, 3);
	assert_int_equal(c->targets[0].nr_stores, 1);
	assert_string_equal(c->targets[0].stores[0].path, "/srv/a b.img");
	assert_int_equal(c->targets[0].opts.n, 2);
	assert_string_equal(c->targets[0].opts.v[0].val, "Acme#1");
	assert_string_equal(c->targets[0].opts.v[1].val,
			    "alice       AliceSecret123");
	assert_int_equal(c->targets[0].opts.v[1].line, 6);
	tgt_conf_free(c);
}

static void test_includes(void **state)
{
	struct tgt_conf *c;
	char err[1024], sub[128];

	snprintf(sub, sizeof(sub), "%s/conf.d", dir);
	mkdir(sub, 0700);
	put("conf.d/b.conf", "<target iqn.2026-12.org.example:b>\n</target>\n");
	put("conf.d/a.conf", "<target iqn.2026-12.org.example:a>\n</target>\n");
	put("main.conf", "include conf.d/*.conf\n");
	assert_int_equal(parse("main.conf", NULL, &c, err, sizeof(err)), 0);
	assert_int_equal(c->nr_targets, 2);
	assert_string_equal(c->targets[0].name, "iqn.2026-12.org.example:a");
	tgt_conf_free(c);
	/* A directory, and /etc/tgt/ read under --conf-dir. */
	put("etc.conf", "include /etc/tgt/conf.d\n");
	assert_int_equal(parse("etc.conf", dir, &c, err, sizeof(err)), 0);
	assert_int_equal(c->nr_targets, 2);
	tgt_conf_free(c);
	/* No match is no error (an empty conf.d). */
	put("none.conf", "include nothing/*.conf\n");
	assert_int_equal(parse("none.conf", NULL, &c, err, sizeof(err)), 0);
	assert_int_equal(c->nr_targets, 0);
	tgt_conf_free(c);
	put("loop1.conf", "include loop2.conf\n");
	put("loop2.conf", "\ninclude loop1.conf\n");
	assert_int_equal(parse("loop1.conf", NULL, &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "loop2.conf:2: "));
	assert_non_null(strstr(err, "includes itself"));
}

static void expect_error(const char *text, const char *want)
{
	struct tgt_conf *c = NULL;
	char err[1024];

	put("err.conf", text);
	assert_int_equal(parse("err.conf", NULL, &c, err, sizeof(err)),
			 -EINVAL);
	assert_null(c);
	if (!strstr(err, want))
		fail_msg("expected '%s' in '%s'", want, err);
}

static void test_errors(void **state)
{
	expect_error("\n<target iqn.2026-12.org.example:a>\n",
		     "err.conf:2: <target iqn.2026-12.org.example:a> is never "
		     "closed; expected </target>");
	expect_error("<target iqn.2026-12.org.example:a>\n"
		     "<target iqn.2026-12.org.example:b>\n",
		     "err.conf:2: <target iqn.2026-12.org.example:b> inside");
	expect_error("<target a>\n</target>\n<target a>\n</target>\n",
		     "err.conf:3: target a is defined twice (first at");
	expect_error("<backing-store /x>\n</backing-store>\n",
		     "err.conf:1: <backing-store> outside <target>");
	expect_error("<lun 1>\n", "err.conf:1: unknown block <lun>");
	expect_error("<target a>\n<backing-store /x>\n</target>\n",
		     "err.conf:3: </target> closes nothing open; expected "
		     "</backing-store>");
	expect_error("<target a\n", "err.conf:1: '<target a' does not end");
	expect_error("<target a>\nbacking-store\n</target>\n",
		     "err.conf:2: backing-store without a path");
}

static json_t *map(const char *text, unsigned *issues)
{
	struct tgt_conf *c;
	json_t *out;
	char err[1024];

	put("map.conf", text);
	assert_int_equal(parse("map.conf", NULL, &c, err, sizeof(err)), 0);
	assert_int_equal(
	    tgt_conf_to_json(c, &out, NULL, issues, err, sizeof(err)), 0);
	tgt_conf_free(c);
	return out;
}

static json_int_t lun_of(json_t *root, size_t t, size_t l)
{
	json_t *tg = json_array_get(json_object_get(root, "targets"), t);
	json_t *lu = json_array_get(json_object_get(tg, "luns"), l);

	return json_integer_value(json_object_get(lu, "lun"));
}

static void test_mapping(void **state)
{
	unsigned issues;
	json_t *r, *acls;

	/* Backing-stores first, the explicit number skipped. */
	r = map("<target iqn.2026-12.org.example:a>\n"
		"  direct-store /dev/null\n"
		"  backing-store /dev/null\n"
		"  <backing-store /dev/zero>\n    lun 2\n  </backing-store>\n"
		"  backing-store /dev/null\n"
		"</target>\n",
		&issues);
	assert_int_equal(lun_of(r, 0, 0), 4); /* the direct-store */
	assert_int_equal(lun_of(r, 0, 1), 1);
	assert_int_equal(lun_of(r, 0, 2), 2);
	assert_int_equal(lun_of(r, 0, 3), 3);
	assert_int_equal(issues, 1); /* direct-store's identity */
	acls = json_object_get(json_array_get(json_object_get(r, "targets"), 0),
			       "acls");
	assert_string_equal(json_string_value(json_array_get(acls, 0)), "ALL");
	json_decref(r);

	/* A name ACL narrows; an address closes; a short secret closes. */
	r = map("<target iqn.2026-12.org.example:n>\n"
		"  initiator-name iqn.2026-12.org.example:h\n</target>\n"
		"<target iqn.2026-12.org.example:ad>\n"
		"  initiator-address 10.0.0.1\n</target>\n"
		"<target iqn.2026-12.org.example:c>\n"
		"  incominguser u short\n</target>\n",
		&issues);
	json_t *ts = json_object_get(r, "targets");
	acls = json_object_get(json_array_get(ts, 0), "acls");
	assert_int_equal(json_array_size(acls), 1);
	assert_string_equal(json_string_value(json_array_get(acls, 0)),
			    "iqn.2026-12.org.example:h");
	assert_int_equal(
	    json_array_size(json_object_get(json_array_get(ts, 1), "acls")), 0);
	assert_int_equal(
	    json_array_size(json_object_get(json_array_get(ts, 2), "acls")), 0);
	assert_int_equal(json_array_size(json_object_get(r, "accounts")), 0);
	assert_int_equal(issues, 3);
	json_decref(r);
}

static void test_duplicate_lun(void **state)
{
	struct tgt_conf *c;
	json_t *out;
	unsigned issues;
	char err[1024];

	put("dup.conf", "<target a>\n"
			"  lun 1\n"
			"  backing-store /dev/null\n"
			"  backing-store /dev/zero\n"
			"</target>\n");
	assert_int_equal(parse("dup.conf", NULL, &c, err, sizeof(err)), 0);
	assert_int_equal(
	    tgt_conf_to_json(c, &out, NULL, &issues, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "dup.conf:2: lun 1 of /dev/zero is "
				    "already taken by /dev/null"));
	tgt_conf_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_includes),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_mapping),
	    cmocka_unit_test(test_duplicate_lun),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
