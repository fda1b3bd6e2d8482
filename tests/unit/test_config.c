/*
 * Unit tests of the configuration file and the request dispatcher
 * (src/mgmt/config.c, src/mgmt/handlers.c): JSON round trips, the atomic
 * save, corrupt files refused with the file and line/column or JSON path,
 * applying a config onto the running object model, and the protocol's
 * request validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "event/reactor.h"
#include "mgmt/mgmt_internal.h"
#include "scsi/device.h"
#include "scsi/tpg.h"

/* The disk type (sbc.c), which the LUNs' device type checks need. */
extern struct scsi_device_type sbc_disk_type;

static const char full_config[] =
    "{\"version\": 1,"
    " \"accounts\": [{\"user\": \"u1\", \"password\": \"S3cretSecret12\"},"
    "                {\"user\": \"u2\", \"password\": \"An0therSecret\"}],"
    " \"targets\": [{"
    "   \"name\": \"iqn.2026-11.org.lunar:demo\", \"alias\": \"demo disk\","
    "   \"acls\": [\"ALL\", \"iqn.1993-08.org.debian:01:host1\"],"
    "   \"portals\": [\"127.0.0.1:3260\", \"[::1]:3260\"],"
    "   \"incoming_users\": [\"u1\"], \"outgoing_user\": \"u2\","
    "   \"luns\": [{\"lun\": 1, \"type\": \"disk\","
    "     \"backing\": \"/var/lib/lunar/demo.img\","
    "     \"bstype\": \"rdwr\", \"size\": 1073741824, \"block_size\": 512,"
    "     \"readonly\": false, \"direct\": true, \"serial\": \"demo1\","
    "     \"thin\": true, \"physical_block_size\": 4096,"
    "     \"removable\": false},"
    "    {\"lun\": 2, \"type\": \"disk\", \"backing\": \"none\","
    "     \"bstype\": \"null\","
    "     \"size\": 4096, \"block_size\": 4096, \"readonly\": true,"
    "     \"direct\": false, \"serial\": \"\", \"thin\": false,"
    "     \"physical_block_size\": 0, \"removable\": true}]}]}";

static char tmpdir[64];

static int setup_dir(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/lunar-test-config.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' &&
		    (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(tmpdir);
	return 0;
}

static struct mgmt_config *parse(const char *text, char *err, size_t errlen,
				 int *rc)
{
	json_error_t je;
	json_t *root = json_loads(text, 0, &je);
	struct mgmt_config *c = NULL;

	if (!root)
		fail_msg("test JSON is broken: %s", je.text);
	*rc = mgmt_config_from_json(root, "test.json", &c, err, errlen);
	json_decref(root);
	return c;
}

static void test_from_json(void **state)
{
	char err[1024] = "";
	int rc;
	struct mgmt_config *c = parse(full_config, err, sizeof(err), &rc);

	if (rc)
		fail_msg("refused: %s", err);
	assert_int_equal(c->nr_accounts, 2);
	assert_string_equal(c->accounts[1].secret, "An0therSecret");
	assert_int_equal(c->nr_targets, 1);
	const struct mgmt_cfg_target *t = &c->targets[0];
	assert_string_equal(t->alias, "demo disk");
	assert_int_equal(t->nr_acls, 2);
	assert_string_equal(t->acls[1], "iqn.1993-08.org.debian:01:host1");
	assert_int_equal(t->nr_portals, 2);
	assert_string_equal(t->portals[1], "[::1]:3260");
	assert_int_equal(t->nr_users_in, 1);
	assert_string_equal(t->user_out, "u2");
	assert_int_equal(t->nr_luns, 2);
	assert_int_equal(t->luns[0].p.size, 1073741824ull);
	assert_true(t->luns[0].p.direct);
	assert_string_equal(t->luns[1].p.bstype, "null");
	assert_int_equal(t->luns[1].p.block_size, 4096);
	assert_true(t->luns[1].p.readonly);
	assert_true(t->luns[0].p.thin);
	assert_int_equal(t->luns[0].p.physical_block_size, 4096);
	assert_false(t->luns[0].p.removable);
	assert_false(t->luns[1].p.thin);
	assert_int_equal(t->luns[1].p.physical_block_size, 0);
	assert_true(t->luns[1].p.removable);
	mgmt_config_free(c);
}

static void test_round_trip(void **state)
{
	char err[1024] = "";
	int rc;
	struct mgmt_config *c = parse(full_config, err, sizeof(err), &rc);
	json_t *out, *in;

	assert_int_equal(rc, 0);
	out = mgmt_config_to_json(c, MGMT_CFG_SECRETS);
	in = json_loads(full_config, 0, NULL);
	assert_true(json_equal(in, out));
	json_decref(out);
	/* Without secrets: no password anywhere. */
	out = mgmt_config_to_json(c, 0);
	char *text = json_dumps(out, 0);
	assert_null(strstr(text, "password"));
	assert_null(strstr(text, "S3cret"));
	free(text);
	json_decref(out);
	json_decref(in);
	mgmt_config_free(c);
}

static void test_defaults_and_normalisation(void **state)
{
	char err[1024] = "";
	int rc;
	struct mgmt_config *c =
	    parse("{\"targets\": [{\"name\": \"IQN.2026-11.Org.Lunar:X\","
		  " \"acls\": [\"all\"], \"portals\": [\"[0::1]:3260\"],"
		  " \"luns\": [{\"lun\": 0, \"backing\": \"/x\"}]}]}",
		  err, sizeof(err), &rc);

	if (rc)
		fail_msg("refused: %s", err);
	assert_string_equal(c->targets[0].name, "iqn.2026-11.org.lunar:x");
	assert_string_equal(c->targets[0].acls[0], "ALL");
	assert_string_equal(c->targets[0].portals[0], "[::1]:3260");
	assert_string_equal(c->targets[0].luns[0].p.bstype, "rdwr");
	assert_int_equal(c->targets[0].luns[0].p.block_size, 512);
	assert_int_equal(c->targets[0].luns[0].p.size, 0);
	assert_false(c->targets[0].luns[0].p.readonly);
	mgmt_config_free(c);
}

static void test_bad_json_values(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} bad[] = {
	    {"[]", "config test.json: the top level must be an object"},
	    {"{\"version\": 2}", "config test.json: version: 2 is not"},
	    {"{\"version\": \"1\"}",
	     "version: expected an integer, got a string"},
	    {"{\"target\": []}", "config test.json: target: unknown field"},
	    {"{\"targets\": {}}", "targets: expected an array, got an object"},
	    {"{\"targets\": [3]}", "targets[0]: expected an object"},
	    {"{\"targets\": [{}]}", "targets[0].name: missing"},
	    {"{\"targets\": [{\"name\": \"disk1\"}]}",
	     "targets[0].name: 'disk1' is not an iSCSI name"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\"},"
	     " {\"name\": \"IQN.2026-11.org.l:A\"}]}",
	     "targets[1]: target 'iqn.2026-11.org.l:a' is defined twice"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"lunz\": []}]}",
	     "targets[0].lunz: unknown field; the fields here are name"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"luns\": [{\"lun\": 1, \"backing\": \"/x\","
	     " \"size\": \"1G\"}]}]}",
	     "targets[0].luns[0].size: expected an integer, got a string"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"luns\": [{\"lun\": 16384, \"backing\": \"/x\"}]}]}",
	     "targets[0].luns[0].lun: 16384 is out of range 0..16383"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"luns\": [{\"lun\": 1, \"backing\": \"/x\"},"
	     " {\"lun\": 1, \"backing\": \"/y\"}]}]}",
	     "targets[0].luns[1]: LUN 1 is defined twice"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"luns\": [{\"lun\": 1, \"backing\": \"/x\","
	     " \"block_size\": 1024}]}]}",
	     "targets[0].luns[0]: block size 1024 is not supported for a "
	     "disk; use 512 or 4096"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"luns\": [{\"lun\": 1, \"backing\": \"/x\","
	     " \"type\": \"floppy\"}]}]}",
	     "targets[0].luns[0]: device type 'floppy' is unknown; this "
	     "lunard has: disk"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"luns\": [{\"lun\": 1, \"backing\": \"/x\","
	     " \"readonly\": 1}]}]}",
	     "targets[0].luns[0].readonly: expected a boolean, got an integer"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"luns\": [{\"lun\": 1, \"backing\": \"/x\","
	     " \"thin\": \"yes\"}]}]}",
	     "targets[0].luns[0].thin: expected a boolean, got a string"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"luns\": [{\"lun\": 1, \"backing\": \"/x\","
	     " \"removable\": 0}]}]}",
	     "targets[0].luns[0].removable: expected a boolean, got an "
	     "integer"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"luns\": [{\"lun\": 1, \"backing\": \"/x\","
	     " \"physical_block_size\": 1536}]}]}",
	     "targets[0].luns[0]: physical block size 1536 is not a "
	     "power-of-two multiple of the 512-byte block size"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"luns\": [{\"lun\": 1, \"backing\": \"/x\", \"block_size\":"
	     " 4096, \"physical_block_size\": 512}]}]}",
	     "targets[0].luns[0]: physical block size 512 is not a "
	     "power-of-two multiple of the 4096-byte block size"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"luns\": [{\"lun\": 1, \"backing\": \"/x\","
	     " \"physical_block_size\": 33554432}]}]}",
	     "targets[0].luns[0]: physical block size 33554432 is not a "
	     "power-of-two multiple of the 512-byte block size (at most "
	     "32768 blocks)"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"luns\": [{\"lun\": 1}]}]}",
	     "targets[0].luns[0].backing: missing"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"acls\": [\"ALL\", \"all\"]}]}",
	     "targets[0].acls[1]: 'ALL' is listed twice"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"acls\": [\"host1\"]}]}",
	     "targets[0].acls[0]: 'host1' is not an iSCSI name"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"portals\": [\"127.0.0.1\"]}]}",
	     "targets[0].portals[0]: portal '127.0.0.1' has no port"},
	    {"{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
	     " \"incoming_users\": [1]}]}",
	     "targets[0].incoming_users[0]: expected a string, got an integer"},
	    {"{\"accounts\": [{\"user\": \"u\", \"password\": \"short\"}]}",
	     "accounts[0]: the password of account 'u' is 5 bytes"},
	    {"{\"accounts\": [{\"user\": \"u\"}]}",
	     "accounts[0].password: missing"},
	    {"{\"accounts\": [{\"user\": \"u\", \"password\": "
	     "\"S3cretSecret12\"},"
	     " {\"user\": \"u\", \"password\": \"S3cretSecret12\"}]}",
	     "accounts[1]: account 'u' is defined twice"},
	};
	char err[1024];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;
		err[0] = '\0';
		struct mgmt_config *c =
		    parse(bad[i].text, err, sizeof(err), &rc);
		if (rc == 0)
			fail_msg("accepted: %s", bad[i].text);
		assert_null(c);
		if (!strstr(err, bad[i].msg))
			fail_msg("for %s\n  got:  %s\n  want: %s", bad[i].text,
				 err, bad[i].msg);
	}
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_bad_files(void **state)
{
	char path[256], err[1024];
	struct mgmt_config *c;

	snprintf(path, sizeof(path), "%s/broken.json", tmpdir);
	write_text(path, "{\n  \"version\": 1,\n  \"targets\": [,]\n}\n");
	assert_int_equal(mgmt_config_parse_file(path, &c, err, sizeof(err)),
			 -EINVAL);
	assert_null(c);
	assert_non_null(strstr(err, path));
	if (!strstr(err, "line 3, column"))
		fail_msg("no line/column: %s", err);

	write_text(path, "{\"version\": 1, \"version\": 1}");
	assert_int_equal(mgmt_config_parse_file(path, &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "duplicate"));

	write_text(path, "");
	assert_int_equal(mgmt_config_parse_file(path, &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "line"));

	snprintf(path, sizeof(path), "%s/missing.json", tmpdir);
	assert_int_equal(mgmt_config_parse_file(path, &c, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "missing.json: cannot open"));

	assert_int_equal(mgmt_config_parse_file(tmpdir, &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
}

static void test_atomic_write(void **state)
{
	char path[256], err[1024] = "";
	struct mgmt_config *c, *back;
	struct stat st;
	json_t *in, *out;
	int rc;

	c = parse(full_config, err, sizeof(err), &rc);
	assert_int_equal(rc, 0);
	in = mgmt_config_to_json(c, MGMT_CFG_SECRETS);
	snprintf(path, sizeof(path), "%s/lunar.json", tmpdir);
	/* An old file is replaced whole. */
	write_text(path, "old contents");
	chmod(path, 0644);
	rc = mgmt_config_write_file(path, in, err, sizeof(err));
	if (rc)
		fail_msg("write failed: %s", err);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	rc = mgmt_config_parse_file(path, &back, err, sizeof(err));
	if (rc)
		fail_msg("reread failed: %s", err);
	out = mgmt_config_to_json(back, MGMT_CFG_SECRETS);
	assert_true(json_equal(in, out));

	/* No temporary file is left beside it. */
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int files = 0;
	while ((e = readdir(d))) {
		if (strstr(e->d_name, ".tmp."))
			fail_msg("temporary file left: %s", e->d_name);
		files += e->d_type == DT_REG;
	}
	closedir(d);

	/* A directory that does not exist: a message naming it. */
	snprintf(path, sizeof(path), "%s/no/such/dir/lunar.json", tmpdir);
	assert_int_not_equal(mgmt_config_write_file(path, in, err, sizeof(err)),
			     0);
	assert_non_null(strstr(err, "no/such/dir"));

	json_decref(in);
	json_decref(out);
	mgmt_config_free(c);
	mgmt_config_free(back);
}

/* Applies accounts, targets, ACLs and bindings onto the running model and
 * reads them back. LUNs and portals need the SCSI core and the iSCSI
 * transport; their JSON forms are covered above. */
static const char apply_config[] =
    "{\"version\": 1,"
    " \"accounts\": [{\"user\": \"in1\", \"password\": \"Incoming-12345\"},"
    "                {\"user\": \"out1\", \"password\": \"Outgoing-12345\"}],"
    " \"targets\": [{\"name\": \"iqn.2026-11.org.lunar:a\", \"alias\": \"A\","
    "   \"acls\": [\"iqn.1993-08.org.debian:01:h1\", \"ALL\"],"
    "   \"portals\": [], \"incoming_users\": [\"in1\"],"
    "   \"outgoing_user\": \"out1\", \"luns\": []},"
    "  {\"name\": \"iqn.2026-11.org.lunar:b\", \"alias\": \"\","
    "   \"acls\": [], \"portals\": [], \"incoming_users\": [],"
    "   \"outgoing_user\": \"\", \"luns\": []}]}";

static void cleanup_model(void)
{
	scsi_target_delete("iqn.2026-11.org.lunar:a");
	scsi_target_delete("iqn.2026-11.org.lunar:b");
	scsi_account_delete("in1");
	scsi_account_delete("out1");
}

static void test_apply_and_snapshot(void **state)
{
	char err[1024] = "";
	struct mgmt_config *c, *snap;
	json_t *in, *out;
	int rc;

	c = parse(apply_config, err, sizeof(err), &rc);
	assert_int_equal(rc, 0);
	rc = mgmt_config_apply(c, "test.json", err, sizeof(err));
	if (rc)
		fail_msg("apply failed: %s", err);
	/* Applying again changes nothing and is no error. */
	rc = mgmt_config_apply(c, "test.json", err, sizeof(err));
	if (rc)
		fail_msg("second apply failed: %s", err);
	assert_int_equal(mgmt_config_snapshot(&snap), 0);
	assert_int_equal(snap->nr_targets, 2);
	assert_true(snap->targets[0].tid > 0);
	assert_true(snap->targets[1].tid > snap->targets[0].tid);
	in = json_loads(apply_config, 0, NULL);
	out = mgmt_config_to_json(snap, MGMT_CFG_SECRETS);
	if (!json_equal(in, out)) {
		char *a = json_dumps(out, JSON_COMPACT);
		fail_msg("snapshot differs: %s", a);
	}
	json_decref(in);
	json_decref(out);
	mgmt_config_free(snap);
	mgmt_config_free(c);
	cleanup_model();
}

static void test_apply_refuses_unknown_account(void **state)
{
	char err[1024] = "";
	struct mgmt_config *c, *snap;
	int rc;

	c = parse("{\"targets\": [{\"name\": \"iqn.2026-11.org.lunar:a\","
		  " \"incoming_users\": [\"ghost\"]}]}",
		  err, sizeof(err), &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(mgmt_config_apply(c, "f.json", err, sizeof(err)),
			 -ENOENT);
	assert_non_null(
	    strstr(err, "config f.json: targets[0].incoming_users[0]: account "
			"'ghost' does not exist"));
	/* Refused before anything was created. */
	assert_int_equal(mgmt_config_snapshot(&snap), 0);
	assert_int_equal(snap->nr_targets, 0);
	mgmt_config_free(snap);
	mgmt_config_free(c);
}

static void test_config_load_file(void **state)
{
	char path[256], err[1024] = "";
	int rc;

	snprintf(path, sizeof(path), "%s/load.json", tmpdir);
	write_text(path, apply_config);
	rc = mgmt_config_load(path, err, sizeof(err));
	if (rc)
		fail_msg("load failed: %s", err);
	scsi_config_rdlock();
	struct scsi_target *t = scsi_target_find("iqn.2026-11.org.lunar:a");
	assert_non_null(t);
	assert_true(scsi_target_allows(t, "iqn.1993-08.org.debian:01:zz"));
	assert_string_equal(t->user_out, "out1");
	scsi_config_unlock();
	cleanup_model();
}

/* ---- the request dispatcher ----------------------------------------- */

static json_t *request(const char *line)
{
	return mgmt_handle_request(line, strlen(line));
}

static void expect_error(const char *line, int err, const char *msg)
{
	json_t *r = request(line);
	const char *got;

	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_int_equal(json_integer_value(json_object_get(r, "errno")), err);
	got = json_string_value(json_object_get(r, "error"));
	if (!got || !strstr(got, msg))
		fail_msg("for %s\n  got:  %s\n  want: %s", line, got, msg);
	json_decref(r);
}

static json_t *expect_ok(const char *line)
{
	json_t *r = request(line);

	if (!json_is_true(json_object_get(r, "ok")))
		fail_msg("for %s: %s", line,
			 json_string_value(json_object_get(r, "error")));
	json_t *res = json_incref(json_object_get(r, "result"));
	json_decref(r);
	return res;
}

static void test_request_validation(void **state)
{
	expect_error("{\"cmd\": ", EINVAL, "not valid JSON");
	expect_error("[1]", EINVAL, "must be a JSON object");
	expect_error("{}", EINVAL, "no \"cmd\" string");
	expect_error("{\"cmd\": \"target.frobnicate\"}", EINVAL,
		     "unknown command 'target.frobnicate'; the commands are "
		     "target.create");
	expect_error("{\"cmd\": \"target.create\"}", EINVAL,
		     "target.create: argument 'name' is missing");
	expect_error("{\"cmd\": \"target.create\", \"name\": 5}", EINVAL,
		     "argument 'name' must be a string, not an integer");
	expect_error("{\"cmd\": \"target.create\", \"name\": \"x\", "
		     "\"nmae\": \"y\"}",
		     EINVAL, "unknown argument 'nmae'; it takes name, alias?");
	expect_error("{\"cmd\": \"target.delete\", \"name\": \"iqn.2026-11.org."
		     "lunar:a\", \"force\": \"yes\"}",
		     EINVAL, "'force' must be true or false, not a string");
	expect_error("{\"cmd\": \"target.create\", \"name\": \"disk1\"}",
		     EINVAL, "'disk1' is not an iSCSI name");
}

static void test_request_flow(void **state)
{
	json_t *res;

	res = expect_ok("{\"cmd\": \"target.create\", \"name\": "
			"\"iqn.2026-11.org.lunar:a\", \"alias\": \"A\"}");
	assert_true(json_integer_value(json_object_get(res, "tid")) > 0);
	json_decref(res);
	expect_error("{\"cmd\": \"target.create\", \"name\": "
		     "\"iqn.2026-11.org.lunar:a\"}",
		     EEXIST,
		     "target iqn.2026-11.org.lunar:a already exists; delete "
		     "it first");
	expect_error("{\"cmd\": \"acl.add\", \"target\": "
		     "\"iqn.2026-11.org.lunar:zz\", \"initiator\": \"ALL\"}",
		     ENOENT, "no target iqn.2026-11.org.lunar:zz; create it");
	json_decref(expect_ok("{\"cmd\": \"acl.add\", \"target\": "
			      "\"iqn.2026-11.org.lunar:a\", \"initiator\": "
			      "\"ALL\"}"));
	expect_error("{\"cmd\": \"acl.add\", \"target\": "
		     "\"iqn.2026-11.org.lunar:a\", \"initiator\": \"all\"}",
		     EEXIST,
		     "target iqn.2026-11.org.lunar:a already admits ALL");
	expect_error("{\"cmd\": \"acl.delete\", \"target\": "
		     "\"iqn.2026-11.org.lunar:a\", \"initiator\": "
		     "\"iqn.1993-08.org.debian:01:h9\"}",
		     ENOENT, "has no ACL for iqn.1993-08.org.debian:01:h9");
	expect_error("{\"cmd\": \"lun.delete\", \"target\": "
		     "\"iqn.2026-11.org.lunar:a\", \"lun\": 3}",
		     ENOENT, "target iqn.2026-11.org.lunar:a has no LUN 3");
	expect_error("{\"cmd\": \"lun.create\", \"target\": "
		     "\"iqn.2026-11.org.lunar:a\", \"lun\": 20000, "
		     "\"backing\": \"/x\"}",
		     EINVAL, "LUN 20000 is out of range; use 0..16383");
	expect_error("{\"cmd\": \"lun.create\", \"target\": "
		     "\"iqn.2026-11.org.lunar:a\", \"lun\": 1, "
		     "\"backing\": \"/x\", \"block_size\": 1000}",
		     EINVAL, "block size 1000 is not supported for a disk");
	expect_error("{\"cmd\": \"lun.create\", \"target\": "
		     "\"iqn.2026-11.org.lunar:a\", \"lun\": 1, "
		     "\"backing\": \"/x\", \"type\": \"tape\"}",
		     EINVAL,
		     "device type 'tape' is unknown; this lunard has: "
		     "disk");
	expect_error("{\"cmd\": \"lun.create\", \"target\": "
		     "\"iqn.2026-11.org.lunar:a\", \"lun\": 1, "
		     "\"backing\": \"/x\", \"bstype\": \"floppy\"}",
		     EINVAL, "unknown backing store type 'floppy'");
	expect_error("{\"cmd\": \"lun.create\", \"target\": "
		     "\"iqn.2026-11.org.lunar:a\", \"lun\": 1, "
		     "\"backing\": \"/x\", \"physical_block_size\": -1}",
		     EINVAL, "physical block size -1 is out of range");
	expect_error("{\"cmd\": \"lun.create\", \"target\": "
		     "\"iqn.2026-11.org.lunar:a\", \"lun\": 1, "
		     "\"backing\": \"/x\", \"thin\": 1}",
		     EINVAL, "thin");
	expect_error("{\"cmd\": \"portal.add\", \"target\": "
		     "\"iqn.2026-11.org.lunar:a\", \"portal\": \"::1:3260\"}",
		     EINVAL, "put an IPv6 address in brackets");
	expect_error("{\"cmd\": \"portal.delete\", \"target\": "
		     "\"iqn.2026-11.org.lunar:a\", \"portal\": "
		     "\"127.0.0.1:3260\"}",
		     ENOENT, "is not on portal 127.0.0.1:3260");

	json_decref(expect_ok("{\"cmd\": \"account.create\", \"user\": "
			      "\"in1\", \"password\": \"Incoming-12345\"}"));
	expect_error("{\"cmd\": \"account.create\", \"user\": \"in2\", "
		     "\"password\": \"short\"}",
		     EINVAL, "CHAP secrets must be 12..255 bytes");
	expect_error("{\"cmd\": \"account.bind\", \"target\": "
		     "\"iqn.2026-11.org.lunar:a\", \"user\": \"ghost\"}",
		     ENOENT, "no account ghost; create it first");
	json_decref(expect_ok("{\"cmd\": \"account.bind\", \"target\": "
			      "\"iqn.2026-11.org.lunar:a\", \"user\": "
			      "\"in1\"}"));
	expect_error("{\"cmd\": \"account.delete\", \"user\": \"in1\"}", EBUSY,
		     "account in1 is bound to target iqn.2026-11.org.lunar:a; "
		     "unbind it first");
	res = expect_ok("{\"cmd\": \"account.list\"}");
	assert_int_equal(json_array_size(res), 1);
	assert_null(json_object_get(json_array_get(res, 0), "password"));
	assert_string_equal(
	    json_string_value(json_array_get(
		json_object_get(json_array_get(res, 0), "bound"), 0)),
	    "iqn.2026-11.org.lunar:a");
	json_decref(res);

	res = expect_ok("{\"cmd\": \"target.list\"}");
	assert_int_equal(json_array_size(res), 1);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(res, 0), "alias")),
	    "A");
	json_decref(res);

	res = expect_ok("{\"cmd\": \"config.show\"}");
	assert_string_equal(
	    json_string_value(json_object_get(
		json_array_get(json_object_get(res, "accounts"), 0),
		"password")),
	    "Incoming-12345");
	json_decref(res);

	expect_error("{\"cmd\": \"config.save\", \"file\": \"rel.json\"}",
		     EINVAL, "must be an absolute path");
	char line[512], path[256];
	snprintf(path, sizeof(path), "%s/saved.json", tmpdir);
	snprintf(line, sizeof(line),
		 "{\"cmd\": \"config.save\", \"file\": \"%s\"}", path);
	res = expect_ok(line);
	assert_string_equal(json_string_value(json_object_get(res, "file")),
			    path);
	json_decref(res);

	/* What was saved loads back into an empty model. */
	json_decref(expect_ok("{\"cmd\": \"account.unbind\", \"target\": "
			      "\"iqn.2026-11.org.lunar:a\", \"user\": "
			      "\"in1\"}"));
	expect_error("{\"cmd\": \"account.unbind\", \"target\": "
		     "\"iqn.2026-11.org.lunar:a\", \"user\": \"in1\"}",
		     ENOENT, "is not bound to target iqn.2026-11.org.lunar:a");
	json_decref(expect_ok("{\"cmd\": \"target.delete\", \"name\": "
			      "\"iqn.2026-11.org.lunar:a\"}"));
	json_decref(expect_ok("{\"cmd\": \"account.delete\", \"user\": "
			      "\"in1\"}"));
	snprintf(line, sizeof(line),
		 "{\"cmd\": \"config.load\", \"file\": \"%s\"}", path);
	json_decref(expect_ok(line));
	scsi_config_rdlock();
	struct scsi_target *t = scsi_target_find("iqn.2026-11.org.lunar:a");
	assert_non_null(t);
	assert_string_equal(t->alias, "A");
	assert_true(scsi_target_allows(t, "iqn.1993-08.org.debian:01:h1"));
	assert_false(list_empty(&t->users_in));
	scsi_config_unlock();
	cleanup_model();
}

/* ---- the control socket ---------------------------------------------- */

static int unix_socket_at(const char *path, bool do_listen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (do_listen)
		assert_int_equal(listen(fd, 1), 0);
	return fd;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		assert_true(n > 0);
		buf += n;
		len -= (size_t)n;
	}
}

/* Reads one response line into a JSON object. */
static json_t *recv_response(int fd)
{
	char buf[65536];
	size_t len = 0;

	while (len < sizeof(buf) - 1) {
		ssize_t n = recv(fd, buf + len, 1, 0);
		assert_true(n == 1);
		if (buf[len] == '\n')
			break;
		len++;
	}
	buf[len] = '\0';
	json_t *r = json_loads(buf, 0, NULL);
	if (!r)
		fail_msg("response is not JSON: %s", buf);
	return r;
}

static void *reactor_thread(void *arg)
{
	reactor_run(arg);
	return NULL;
}

static void test_control_socket(void **state)
{
	char busy[256], other[256], path[256], err[512];
	struct mgmt_options o = {.state_dir = tmpdir, .threads = 1};
	struct reactor *r;
	struct stat st;
	pthread_t th;
	int fd;

	assert_int_equal(reactor_create(&r, "test-main"), 0);

	/* Another server answers on the path: refused. */
	snprintf(busy, sizeof(busy), "%s/busy.sock", tmpdir);
	int live = unix_socket_at(busy, true);
	o.control_path = busy;
	assert_int_equal(mgmt_init(r, &o, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, "another lunard is already running"));
	assert_non_null(strstr(err, busy));
	close(live);
	unlink(busy);

	/* Something that is not a socket: left alone, refused. */
	snprintf(other, sizeof(other), "%s/plain", tmpdir);
	write_text(other, "x");
	o.control_path = other;
	assert_int_equal(mgmt_init(r, &o, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "is not a socket"));

	/* A stale socket (nobody listens) in a directory to be created. */
	snprintf(path, sizeof(path), "%s/run", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/run/ctl.sock", tmpdir);
	close(unix_socket_at(path, false));
	o.control_path = path;
	if (mgmt_init(r, &o, err, sizeof(err)))
		fail_msg("mgmt_init: %s", err);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_string_equal(mgmt_get_options()->control_path, path);
	assert_int_equal(pthread_create(&th, NULL, reactor_thread, r), 0);

	fd = unix_connect(path);
	/* Pipelined requests, a blank line and a CRLF line. */
	const char *reqs = "{\"cmd\": \"target.list\"}\n\n"
			   "{\"cmd\": \"nope\"}\r\n"
			   "not json\n"
			   "{\"cmd\": \"system.show\"}\n";
	send_all(fd, reqs, strlen(reqs));
	json_t *resp = recv_response(fd);
	assert_true(json_is_true(json_object_get(resp, "ok")));
	assert_true(json_is_array(json_object_get(resp, "result")));
	json_decref(resp);
	resp = recv_response(fd);
	assert_true(json_is_false(json_object_get(resp, "ok")));
	assert_int_equal(json_integer_value(json_object_get(resp, "errno")),
			 EINVAL);
	json_decref(resp);
	resp = recv_response(fd);
	assert_non_null(
	    strstr(json_string_value(json_object_get(resp, "error")),
		   "not valid JSON"));
	json_decref(resp);
	resp = recv_response(fd);
	json_t *sys = json_object_get(resp, "result");
	assert_string_equal(json_string_value(json_object_get(sys, "control")),
			    path);
	assert_int_equal(json_integer_value(json_object_get(sys, "pid")),
			 getpid());
	json_decref(resp);

	/* A line over 1 MiB: one error, and the connection still works. */
	size_t big = MGMT_LINE_MAX + 4096;
	char *line = malloc(big + 1);
	memset(line, 'x', big);
	line[big] = '\n';
	send_all(fd, line, big + 1);
	free(line);
	resp = recv_response(fd);
	assert_non_null(strstr(
	    json_string_value(json_object_get(resp, "error")), "over 1 MiB"));
	json_decref(resp);
	const char *last = "{\"cmd\": \"account.list\"}";
	send_all(fd, last, strlen(last));
	/* The last request may lack its newline when the client shuts
	 * down its side. */
	shutdown(fd, SHUT_WR);
	resp = recv_response(fd);
	assert_true(json_is_true(json_object_get(resp, "ok")));
	json_decref(resp);
	char c;
	assert_int_equal(recv(fd, &c, 1, 0), 0);
	close(fd);

	reactor_stop(r);
	pthread_join(th, NULL);
	mgmt_exit();
	assert_int_equal(stat(path, &st), -1);
	reactor_destroy(r);
	unlink(other);
	snprintf(path, sizeof(path), "%s/run", tmpdir);
	rmdir(path);
}

/* ---- port groups (alua.c) ------------------------------------------- */

static const char alua_config[] =
    "{\"version\": 1, \"accounts\": [],"
    " \"targets\": [{\"name\": \"iqn.2026-11.org.lunar:alua\","
    "   \"alias\": \"\", \"acls\": [], \"portals\": [],"
    "   \"incoming_users\": [], \"outgoing_user\": \"\", \"luns\": [],"
    "   \"port_groups\": ["
    "    {\"id\": 1, \"state\": \"active/optimized\", \"preferred\": true,"
    "     \"portals\": [\"127.0.0.1:3260\"]},"
    "    {\"id\": 2, \"state\": \"standby\", \"preferred\": false,"
    "     \"portals\": [\"127.0.0.1:3261\", \"[::1]:3261\"]}]}]}";

static void test_port_groups(void **state)
{
	static const struct {
		const char *groups;
		const char *msg;
	} bad[] = {
	    {"{}", "targets[0].port_groups: expected an array, got an object"},
	    {"[3]", "targets[0].port_groups[0]: expected an object"},
	    {"[{\"state\": \"standby\"}]",
	     "targets[0].port_groups[0].id: missing"},
	    {"[{\"id\": 0}]",
	     "targets[0].port_groups[0].id: 0 is out of range 1..65535"},
	    {"[{\"id\": \"2\"}]",
	     "targets[0].port_groups[0].id: expected an integer, got a "
	     "string"},
	    {"[{\"id\": 2, \"state\": \"asleep\"}]",
	     "targets[0].port_groups[0].state: 'asleep' is not a state a port "
	     "group can be put in; use active/optimized"},
	    {"[{\"id\": 2, \"state\": \"offline\"}]",
	     "port_groups[0].state: 'offline' is not a state"},
	    {"[{\"id\": 2, \"preferred\": 1}]",
	     "port_groups[0].preferred: expected a boolean, got an integer"},
	    {"[{\"id\": 2, \"portals\": [\"127.0.0.1\"]}]",
	     "port_groups[0].portals[0]: portal '127.0.0.1' has no port"},
	    {"[{\"id\": 2, \"portals\": [\"127.0.0.1:1\", \"127.0.0.1:01\"]}]",
	     "port_groups[0].portals[1]: '127.0.0.1:1' is listed twice"},
	    {"[{\"id\": 2}, {\"id\": 2}]",
	     "port_groups[1]: port group 2 is defined twice in this target"},
	    {"[{\"id\": 2, \"portals\": [\"127.0.0.1:1\"]},"
	     " {\"id\": 3, \"portals\": [\"127.0.0.1:1\"]}]",
	     "port_groups[1]: portal 127.0.0.1:1 is in port groups 2 and 3; a "
	     "portal belongs to one group"},
	    {"[{\"id\": 2, \"sessions\": 1}]",
	     "port_groups[0].sessions: unknown field"},
	};
	char err[1024] = "", text[1024];
	struct mgmt_config *c, *snap;
	json_t *in, *out, *res;
	int rc;

	/* Parsed, written back the same. */
	c = parse(alua_config, err, sizeof(err), &rc);
	if (rc)
		fail_msg("refused: %s", err);
	assert_int_equal(c->targets[0].nr_tpgs, 2);
	assert_int_equal(c->targets[0].tpgs[1].state, SCSI_ALUA_STANDBY);
	assert_string_equal(c->targets[0].tpgs[1].portals[1], "[::1]:3261");
	in = json_loads(alua_config, 0, NULL);
	out = mgmt_config_to_json(c, MGMT_CFG_SECRETS);
	assert_true(json_equal(in, out));
	json_decref(out);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mgmt_config *b;

		snprintf(text, sizeof(text),
			 "{\"targets\": [{\"name\": \"iqn.2026-11.org.l:a\","
			 " \"port_groups\": %s}]}",
			 bad[i].groups);
		err[0] = '\0';
		b = parse(text, err, sizeof(err), &rc);
		if (rc == 0)
			fail_msg("accepted: %s", text);
		assert_null(b);
		if (!strstr(err, bad[i].msg))
			fail_msg("for %s\n  got:  %s\n  want: %s", text, err,
				 bad[i].msg);
	}

	/* Applied onto the model and read back; again is no change. */
	rc = mgmt_config_apply(c, "test.json", err, sizeof(err));
	if (rc)
		fail_msg("apply failed: %s", err);
	rc = mgmt_config_apply(c, "test.json", err, sizeof(err));
	if (rc)
		fail_msg("second apply failed: %s", err);
	assert_int_equal(mgmt_config_snapshot(&snap), 0);
	out = mgmt_config_to_json(snap, MGMT_CFG_SECRETS);
	if (!json_equal(in, out))
		fail_msg("snapshot differs: %s", json_dumps(out, JSON_COMPACT));
	json_decref(out);
	json_decref(in);
	mgmt_config_free(snap);
	mgmt_config_free(c);

	/* The commands and their messages. */
#define T "\"target\": \"iqn.2026-11.org.lunar:alua\""
	res = expect_ok("{\"cmd\": \"tpg.list\", " T "}");
	assert_int_equal(json_array_size(res), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(json_array_get(res, 1), "id")),
	    2);
	assert_int_equal(json_integer_value(json_object_get(
			     json_array_get(res, 1), "sessions")),
			 0);
	json_decref(res);
	expect_error("{\"cmd\": \"tpg.create\", " T ", \"id\": 2}", EEXIST,
		     "target iqn.2026-11.org.lunar:alua already has port group "
		     "2; delete it first");
	expect_error("{\"cmd\": \"tpg.create\", " T ", \"id\": 70000}", EINVAL,
		     "port group id 70000 of target iqn.2026-11.org.lunar:alua "
		     "is out of range; use 1..65535");
	expect_error("{\"cmd\": \"tpg.create\", " T
		     ", \"id\": 3, \"portals\": [\"127.0.0.1:3262\","
		     " \"[::1]:3261\"]}",
		     EADDRINUSE,
		     "portal [::1]:3261 is already in port group 2 of target "
		     "iqn.2026-11.org.lunar:alua; a portal belongs to one "
		     "group: remove it there first (`lunarctl tpg "
		     "remove-portal iqn.2026-11.org.lunar:alua 2 [::1]:3261`)");
	expect_error("{\"cmd\": \"tpg.create\", " T
		     ", \"id\": 3, \"portals\": [5]}",
		     EINVAL, "'portals' must be an array of strings");
	expect_error("{\"cmd\": \"tpg.create\", " T
		     ", \"id\": 3, \"state\": \"up\"}",
		     EINVAL, "'up' is not a state a port group can be put in");
	res = expect_ok("{\"cmd\": \"tpg.create\", " T
			", \"id\": 3, \"portals\": [\"127.0.0.9:3262\"],"
			" \"state\": \"an\"}");
	/* lunard listens on nothing here: the answer says so. */
	assert_int_equal(json_array_size(json_object_get(res, "not_listening")),
			 1);
	json_decref(res);
	expect_error("{\"cmd\": \"tpg.set\", " T ", \"id\": 3}", EINVAL,
		     "needs a state or preferred");
	expect_error("{\"cmd\": \"tpg.set\", " T
		     ", \"id\": 4, \"state\": \"standby\"}",
		     ENOENT,
		     "target iqn.2026-11.org.lunar:alua has no port group 4; "
		     "`lunarctl tpg list iqn.2026-11.org.lunar:alua`");
	json_decref(expect_ok("{\"cmd\": \"tpg.set\", " T
			      ", \"id\": 3, \"state\": \"unavailable\","
			      " \"preferred\": true}"));
	expect_error("{\"cmd\": \"tpg.add_portal\", " T
		     ", \"id\": 3, \"portal\": \"127.0.0.1:3260\"}",
		     EADDRINUSE, "is already in port group 1 of target");
	expect_error("{\"cmd\": \"tpg.add_portal\", " T
		     ", \"id\": 3, \"portal\": \"127.0.0.9:3262\"}",
		     EEXIST,
		     "portal 127.0.0.9:3262 is already in port group 3");
	expect_error("{\"cmd\": \"tpg.remove_portal\", " T
		     ", \"id\": 3, \"portal\": \"127.0.0.9:9\"}",
		     ENOENT, "portal 127.0.0.9:9 is not in port group 3");
	expect_error("{\"cmd\": \"tpg.remove_portal\", " T
		     ", \"id\": 9, \"portal\": \"127.0.0.9:9\"}",
		     ENOENT, "has no port group 9");
	json_decref(expect_ok("{\"cmd\": \"tpg.remove_portal\", " T
			      ", \"id\": 3, \"portal\": \"127.0.0.9:3262\"}"));
	json_decref(expect_ok("{\"cmd\": \"tpg.delete\", " T ", \"id\": 3}"));
	json_decref(expect_ok("{\"cmd\": \"tpg.delete\", " T ", \"id\": 1}"));
	expect_error("{\"cmd\": \"tpg.delete\", " T ", \"id\": 1}", ENOENT,
		     "has no port group 1 configured");
	/* target.show shows the groups with their sessions. */
	res = expect_ok("{\"cmd\": \"target.show\", \"name\": "
			"\"iqn.2026-11.org.lunar:alua\"}");
	out = json_object_get(res, "port_groups");
	assert_int_equal(json_array_size(out), 1);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(out, 0), "state")),
	    "standby");
	json_decref(res);
#undef T
	scsi_target_delete("iqn.2026-11.org.lunar:alua");
}

int main(void)
{
	/* Linked in, and so registered. */
	const struct scsi_device_type *volatile disk = &sbc_disk_type;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_from_json),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_defaults_and_normalisation),
	    cmocka_unit_test(test_bad_json_values),
	    cmocka_unit_test(test_bad_files),
	    cmocka_unit_test(test_atomic_write),
	    cmocka_unit_test(test_apply_and_snapshot),
	    cmocka_unit_test(test_apply_refuses_unknown_account),
	    cmocka_unit_test(test_config_load_file),
	    cmocka_unit_test(test_request_validation),
	    cmocka_unit_test(test_request_flow),
	    cmocka_unit_test(test_control_socket),
	    cmocka_unit_test(test_port_groups),
	};

	(void)disk;
	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
