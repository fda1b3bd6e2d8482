/*
 * Unit tests of the configuration object model (src/scsi/target.c): iSCSI
 * name syntax and normalisation, portal and CHAP account syntax, target
 * life and tid allocation, ACLs, portal references and account bindings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "scsi/target.h"

static int name_check(const char *in, char *norm, char *why)
{
	return scsi_name_check(in, norm, SCSI_NAME_MAX, why, 320);
}

static void test_name_valid(void **state)
{
	static const char *const ok[] = {
	    "iqn.2001-04.com.example",
	    "iqn.2001-04.com.example:storage:diskarrays-sn-a8675309",
	    "iqn.1993-08.org.debian:01:abcdef123456",
	    "iqn.2026-11.org.lunar:demo.disk-1",
	    "eui.02004567A425678D",
	    "naa.52004567BA64678D",
	    "naa.62004567BA64678D0123456789ABCDEF",
	};
	char norm[SCSI_NAME_MAX], why[320];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int rc = name_check(ok[i], norm, why);
		if (rc)
			fail_msg("%s refused: %s", ok[i], why);
	}
}

static void test_name_normalised(void **state)
{
	char norm[SCSI_NAME_MAX], why[320];

	assert_int_equal(name_check("IQN.2001-04.COM.Example:Disk1", norm, why),
			 0);
	assert_string_equal(norm, "iqn.2001-04.com.example:disk1");
	assert_int_equal(name_check("eui.02004567A425678D", norm, why), 0);
	assert_string_equal(norm, "eui.02004567a425678d");
}

static void test_name_invalid(void **state)
{
	static const struct {
		const char *name;
		const char *why_has;
	} bad[] = {
	    {"", "empty"},
	    {"target1", "must start with"},
	    {"iqn.2001-4.com.example", "YYYY-MM"},
	    {"iqn.01-04.com.example", "YYYY-MM"},
	    {"iqn.2001-13.com.example", "month 13"},
	    {"iqn.2001-00.com.example", "month 00"},
	    {"iqn.2001-04", "YYYY-MM"},
	    {"iqn.2001-04.", "reversed domain"},
	    {"iqn.2001-04.com..example", "reversed domain"},
	    {"iqn.2001-04.:disk", "reversed domain"},
	    {"iqn.2001-04.com.example:", "ends with ':'"},
	    {"iqn.2001-04.com.example:disk_1", "'_'"},
	    {"iqn.2001-04.com.exa mple", "' '"},
	    {"iqn.2001-04.com.example:d\xc3\xa9", "byte 0xc3"},
	    {"eui.02004567A425678", "16 hex"},
	    {"eui.02004567A425678DZ", "16 hex"},
	    {"eui.0200456GA425678D", "16 hex"},
	    {"naa.52004567BA64678D00", "16 or 32"},
	};
	char norm[SCSI_NAME_MAX], why[320];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		if (name_check(bad[i].name, norm, why) == 0)
			fail_msg("'%s' accepted", bad[i].name);
		if (!strstr(why, bad[i].why_has))
			fail_msg("'%s': reason '%s' lacks '%s'", bad[i].name,
				 why, bad[i].why_has);
	}
}

static void test_name_length(void **state)
{
	char name[300], norm[SCSI_NAME_MAX], why[320];
	size_t prefix;

	strcpy(name, "iqn.2001-04.com.example:");
	prefix = strlen(name);
	memset(name + prefix, 'a', 223 - prefix);
	name[223] = '\0';
	assert_int_equal(name_check(name, norm, why), 0);
	name[223] = 'a';
	name[224] = '\0';
	assert_int_equal(name_check(name, norm, why), -ENAMETOOLONG);
	assert_non_null(strstr(why, "224 bytes"));
}

static void test_portal_check(void **state)
{
	char norm[SCSI_PORTAL_MAX], why[320];

	assert_int_equal(scsi_portal_check("127.0.0.1:3260", norm, sizeof(norm),
					   why, sizeof(why)),
			 0);
	assert_string_equal(norm, "127.0.0.1:3260");
	assert_int_equal(scsi_portal_check("[0:0::1]:03260", norm, sizeof(norm),
					   why, sizeof(why)),
			 0);
	assert_string_equal(norm, "[::1]:3260");
	assert_int_equal(
	    scsi_portal_check("[::]:860", norm, sizeof(norm), why, sizeof(why)),
	    0);
	assert_string_equal(norm, "[::]:860");

	static const struct {
		const char *addr;
		const char *why_has;
	} bad[] = {
	    {"127.0.0.1", "no port"},
	    {"127.0.0.1:", "no port"},
	    {"127.0.0.1:0", "port 0"},
	    {"127.0.0.1:65536", "65536"},
	    {"127.0.0.1:32x", "bad port"},
	    {"::1:3260", "brackets"},
	    {"[::1]3260", "[ADDR]:PORT"},
	    {"[::1", "[ADDR]:PORT"},
	    {"[1.2.3.4]:3260", "not an IPv6"},
	    {"localhost:3260", "not an IPv4"},
	    {"300.1.1.1:3260", "not an IPv4"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		if (scsi_portal_check(bad[i].addr, norm, sizeof(norm), why,
				      sizeof(why)) == 0)
			fail_msg("'%s' accepted", bad[i].addr);
		if (!strstr(why, bad[i].why_has))
			fail_msg("'%s': reason '%s' lacks '%s'", bad[i].addr,
				 why, bad[i].why_has);
	}
}

static void test_account_check(void **state)
{
	char why[320], secret[300];

	assert_int_equal(
	    scsi_account_check("user1", "123456789012", why, sizeof(why)), 0);
	assert_int_equal(
	    scsi_account_check("user1", "12345678901", why, sizeof(why)),
	    -EINVAL);
	assert_non_null(strstr(why, "12..255"));
	memset(secret, 'x', 255);
	secret[255] = '\0';
	assert_int_equal(scsi_account_check("u", secret, why, sizeof(why)), 0);
	secret[255] = 'x';
	secret[256] = '\0';
	assert_int_equal(scsi_account_check("u", secret, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(
	    scsi_account_check("u", "with\ttab12345", why, sizeof(why)),
	    -EINVAL);
	assert_non_null(strstr(why, "control"));
	assert_int_equal(scsi_account_check("", NULL, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(scsi_account_check("a b", NULL, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(scsi_account_check("a", NULL, why, sizeof(why)), 0);
}

static void test_target_life(void **state)
{
	struct scsi_target *t1, *t2, *t3, *t;

	assert_int_equal(
	    scsi_target_create("iqn.2026-01.com.example:life1", "first", &t1),
	    0);
	assert_int_equal(
	    scsi_target_create("iqn.2026-01.com.example:life2", NULL, &t2), 0);
	assert_true(t2->tid > t1->tid);
	assert_int_equal(t1->tpgt, 1);
	assert_string_equal(t1->alias, "first");
	assert_non_null(t1->lun_map);
	assert_int_equal(t1->lun_map->count, 0);
	/* Case-insensitive duplicates are the same name. */
	assert_int_equal(
	    scsi_target_create("IQN.2026-01.com.example:LIFE1", NULL, &t),
	    -EEXIST);
	assert_int_equal(scsi_target_create("bogus", NULL, &t), -EINVAL);

	scsi_config_rdlock();
	assert_ptr_equal(scsi_target_find("iqn.2026-01.com.example:Life1"), t1);
	scsi_config_unlock();

	uint32_t old_tid = t1->tid;
	assert_int_equal(scsi_target_delete("iqn.2026-01.com.example:life1"),
			 0);
	assert_int_equal(scsi_target_delete("iqn.2026-01.com.example:life1"),
			 -ENOENT);
	/* Recreated: a new tid, never the old one. */
	assert_int_equal(
	    scsi_target_create("iqn.2026-01.com.example:life1", NULL, &t3), 0);
	assert_true(t3->tid > t2->tid);
	assert_int_not_equal(t3->tid, old_tid);

	/* Sessions block a plain delete; a forced delete unlinks and the
	 * session's reference keeps the object until it ends. */
	scsi_target_get(t2);
	atomic_fetch_add(&t2->nr_sessions, 1);
	assert_int_equal(scsi_target_delete("iqn.2026-01.com.example:life2"),
			 -EBUSY);
	assert_int_equal(
	    scsi_target_delete_force("iqn.2026-01.com.example:life2"), 0);
	assert_true(t2->deleted);
	scsi_config_rdlock();
	assert_null(scsi_target_find("iqn.2026-01.com.example:life2"));
	scsi_config_unlock();
	atomic_fetch_sub(&t2->nr_sessions, 1);
	scsi_target_put(t2);

	assert_int_equal(scsi_target_delete("iqn.2026-01.com.example:life1"),
			 0);
}

static void test_acl(void **state)
{
	struct scsi_target *t;
	const char *ini = "iqn.1993-08.org.debian:01:host1";

	assert_int_equal(
	    scsi_target_create("iqn.2026-01.com.example:acl", NULL, &t), 0);
	/* No ACL: nobody. */
	assert_false(scsi_target_allows(t, ini));
	assert_int_equal(scsi_acl_add(t, "IQN.1993-08.org.debian:01:HOST1"), 0);
	assert_true(scsi_target_allows(t, ini));
	assert_false(scsi_target_allows(t, "iqn.1993-08.org.debian:01:host2"));
	assert_int_equal(scsi_acl_add(t, ini), -EEXIST);
	assert_int_equal(scsi_acl_add(t, "not-a-name"), -EINVAL);
	assert_int_equal(scsi_acl_add(t, "all"), 0);
	assert_true(scsi_target_allows(t, "iqn.1993-08.org.debian:01:host2"));
	assert_string_equal(
	    list_entry(t->acls.prev, struct scsi_acl, link)->initiator, "ALL");
	assert_int_equal(scsi_acl_delete(t, "ALL"), 0);
	assert_int_equal(scsi_acl_delete(t, "ALL"), -ENOENT);
	assert_false(scsi_target_allows(t, "iqn.1993-08.org.debian:01:host2"));
	assert_int_equal(scsi_acl_delete(t, ini), 0);
	assert_false(scsi_target_allows(t, ini));
	assert_int_equal(scsi_acl_add(t, ini), 0);
	/* Freed with the target (ASan checks the leak). */
	assert_int_equal(scsi_target_delete("iqn.2026-01.com.example:acl"), 0);
}

static void test_portal_refs(void **state)
{
	struct scsi_target *t;

	assert_int_equal(
	    scsi_target_create("iqn.2026-01.com.example:portal", NULL, &t), 0);
	/* No portals of its own: reachable on every portal. */
	assert_true(scsi_target_on_portal(t, "10.0.0.1:3260"));
	assert_int_equal(scsi_portal_ref_add(t, "127.0.0.1:3260"), 0);
	assert_int_equal(scsi_portal_ref_add(t, "127.0.0.1:03260"), -EEXIST);
	assert_int_equal(scsi_portal_ref_add(t, "nowhere"), -EINVAL);
	assert_true(scsi_target_on_portal(t, "127.0.0.1:3260"));
	assert_false(scsi_target_on_portal(t, "127.0.0.2:3260"));
	assert_false(scsi_target_on_portal(t, "[::1]:3260"));
	assert_int_equal(scsi_portal_ref_add(t, "0.0.0.0:3261"), 0);
	assert_true(scsi_target_on_portal(t, "127.0.0.9:3261"));
	assert_false(scsi_target_on_portal(t, "[::1]:3261"));
	assert_int_equal(scsi_portal_ref_add(t, "[::]:3262"), 0);
	assert_true(scsi_target_on_portal(t, "[::1]:3262"));
	assert_true(scsi_target_on_portal(t, "10.1.1.1:3262"));
	assert_int_equal(scsi_portal_ref_delete(t, "127.0.0.1:3260"), 0);
	assert_int_equal(scsi_portal_ref_delete(t, "127.0.0.1:3260"), -ENOENT);
	assert_false(scsi_target_on_portal(t, "127.0.0.1:3260"));
	assert_int_equal(scsi_target_delete("iqn.2026-01.com.example:portal"),
			 0);
}

static void test_accounts(void **state)
{
	struct scsi_target *t;
	struct scsi_account *a;

	assert_int_equal(
	    scsi_target_create("iqn.2026-01.com.example:chap", NULL, &t), 0);
	assert_int_equal(scsi_account_create("alice", "alice-secret-1"), 0);
	assert_int_equal(scsi_account_create("alice", "alice-secret-2"),
			 -EEXIST);
	assert_int_equal(scsi_account_create("bob", "short"), -EINVAL);
	assert_int_equal(scsi_account_create("bob", "bob-secret-12"), 0);
	scsi_config_rdlock();
	a = scsi_account_find("alice");
	assert_non_null(a);
	assert_string_equal(a->secret, "alice-secret-1");
	scsi_config_unlock();

	assert_int_equal(scsi_account_bind(t, "nobody", false), -ENOENT);
	assert_int_equal(scsi_account_bind(t, "alice", false), 0);
	assert_int_equal(scsi_account_bind(t, "alice", false), -EEXIST);
	assert_int_equal(scsi_account_bind(t, "bob", true), 0);
	assert_string_equal(t->user_out, "bob");
	assert_int_equal(scsi_account_bind(t, "alice", true), -EEXIST);
	/* Bound accounts cannot go. */
	assert_int_equal(scsi_account_delete("alice"), -EBUSY);
	assert_int_equal(scsi_account_delete("bob"), -EBUSY);
	assert_int_equal(scsi_account_unbind(t, "alice", true), -ENOENT);
	assert_int_equal(scsi_account_unbind(t, "bob", true), 0);
	assert_string_equal(t->user_out, "");
	assert_int_equal(scsi_account_delete("bob"), 0);
	assert_int_equal(scsi_account_delete("bob"), -ENOENT);
	assert_int_equal(scsi_account_unbind(t, "alice", false), 0);
	assert_int_equal(scsi_account_unbind(t, "alice", false), -ENOENT);
	assert_int_equal(scsi_account_bind(t, "alice", false), 0);
	/* Deleting the target drops its bindings. */
	assert_int_equal(scsi_target_delete("iqn.2026-01.com.example:chap"), 0);
	assert_int_equal(scsi_account_delete("alice"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_valid),
	    cmocka_unit_test(test_name_normalised),
	    cmocka_unit_test(test_name_invalid),
	    cmocka_unit_test(test_name_length),
	    cmocka_unit_test(test_portal_check),
	    cmocka_unit_test(test_account_check),
	    cmocka_unit_test(test_target_life),
	    cmocka_unit_test(test_acl),
	    cmocka_unit_test(test_portal_refs),
	    cmocka_unit_test(test_accounts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
