/*
 * lunarctl's tgtadm compatibility: tgtadm's options (--lld, --mode, --op,
 * --tid, ...) for the modes target, logicalunit, account, system, session
 * and connection, mapped onto the same control-protocol requests as the
 * native commands, with tgtadm's output formats, so tgt scripts run with
 * only the program name changed. What lunar cannot do the tgt way is
 * refused with the reason and the native command to use.
 */
#include "lunarctl.h"

struct tgt_args {
	const char *lld, *mode, *op, *tid, *sid, *cid, *lun, *name, *value,
	    *backing, *bstype, *bsopts, *bsoflags, *blocksize, *targetname,
	    *iaddr, *iname, *user, *password, *params, *dtype, *cport, *bus;
	bool force, outgoing;
};

__attribute__((format(printf, 1, 2), noreturn)) static void
tgt_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("lunarctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nsee `lunarctl --help` and docs/lunarctl.md (tgtadm "
	      "compatibility)\n",
	      stderr);
	exit(2);
}

static uint64_t tgt_num(const char *opt, const char *v)
{
	uint64_t n;

	if (ctl_parse_u64(v, &n))
		tgt_usage("bad number '%s' for %s", v, opt);
	return n;
}

static void tgt_need(const char *v, const char *opt, const struct tgt_args *a)
{
	if (!v)
		tgt_usage("--mode %s --op %s needs %s", a->mode, a->op, opt);
}

/* Refuses options that the chosen mode/op would silently ignore. */
static void tgt_unused(const struct tgt_args *a, const char *allowed)
{
	static const struct {
		const char *name;
		size_t off;
	} opts[] = {
#define TGT_OPT(n, f) {n, offsetof(struct tgt_args, f)}
	    TGT_OPT("--tid", tid),
	    TGT_OPT("--sid", sid),
	    TGT_OPT("--cid", cid),
	    TGT_OPT("--lun", lun),
	    TGT_OPT("--name", name),
	    TGT_OPT("--value", value),
	    TGT_OPT("--backing-store", backing),
	    TGT_OPT("--bstype", bstype),
	    TGT_OPT("--bsopts", bsopts),
	    TGT_OPT("--bsoflags", bsoflags),
	    TGT_OPT("--blocksize", blocksize),
	    TGT_OPT("--targetname", targetname),
	    TGT_OPT("--initiator-address", iaddr),
	    TGT_OPT("--initiator-name", iname),
	    TGT_OPT("--user", user),
	    TGT_OPT("--password", password),
	    TGT_OPT("--params", params),
	    TGT_OPT("--device-type", dtype),
	    TGT_OPT("--bus", bus),
#undef TGT_OPT
	};
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		const char *v =
		    *(const char *const *)((const char *)a + opts[i].off);
		char key[40];
		snprintf(key, sizeof(key), "%s ", opts[i].name);
		if (v && !strstr(allowed, key))
			tgt_usage("--mode %s --op %s does not take %s", a->mode,
				  a->op, opts[i].name);
	}
	if (a->force && !strstr(allowed, "--force "))
		tgt_usage("--mode %s --op %s does not take --force", a->mode,
			  a->op);
	if (a->outgoing && !strstr(allowed, "--outgoing "))
		tgt_usage("--mode %s --op %s does not take --outgoing", a->mode,
			  a->op);
}

/* --tid N (or --targetname) to the target's name, via target.list. */
static char *tgt_target_name(struct ctl *c, const struct tgt_args *a)
{
	json_t *list, *t;
	uint64_t tid;
	char *name = NULL;
	size_t i;

	if (!a->tid && !a->targetname)
		tgt_usage("--mode %s --op %s needs --tid (or --targetname)",
			  a->mode, a->op);
	if (!a->tid)
		return strdup(a->targetname);
	tid = tgt_num("--tid", a->tid);
	list = ctl_call(c, json_pack("{s:s}", "cmd", "target.list"));
	json_array_foreach(list, i, t)
	{
		if ((uint64_t)jint(t, "tid") == tid)
			name = strdup(jstr(t, "name"));
	}
	json_decref(list);
	if (!name)
		ctl_die("no target with tid %" PRIu64 "; `lunarctl --mode "
			"target --op show` lists the targets",
			tid);
	if (a->targetname && strcasecmp(a->targetname, name) != 0)
		ctl_die("tid %" PRIu64 " is target %s, not %s; give one of "
			"--tid and --targetname",
			tid, name, a->targetname);
	return name;
}

static void tgt_unsupported(const struct tgt_args *a, const char *why)
{
	fprintf(stderr,
		"lunarctl: tgtadm --mode %s --op %s is not supported%s%s\n",
		a->mode, a->op, why[0] ? ": " : "", why);
	exit(2);
}

/* "ADDR:PORT" / "[V6]:PORT" to the bare address, as tgtadm shows it. */
static void tgt_peer_ip(const char *peer, char *out, size_t outlen)
{
	const char *colon = strrchr(peer, ':');
	size_t n = colon ? (size_t)(colon - peer) : strlen(peer);

	if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
		peer++;
		n -= 2;
	}
	snprintf(out, outlen, "%.*s", (int)n, peer);
}

/* How tgtadm's show names a device type. */
static const char *tgt_type_name(const char *type)
{
	if (!strcmp(type, "cd"))
		return "cd/dvd";
	if (!strcmp(type, "changer"))
		return "media-changer";
	return type[0] ? type : "disk";
}

static void tgt_print_target(json_t *t)
{
	size_t i, j;
	json_t *v, *s;

	printf("Target %lld: %s\n", jint(t, "tid"), jstr(t, "name"));
	printf("    System information:\n");
	printf("        Driver: iscsi\n");
	printf("        State: ready\n");
	printf("    I_T nexus information:\n");
	json_array_foreach(json_object_get(t, "sessions"), i, s)
	{
		char sid[32];
		jid(s, "sid", sid, sizeof(sid));
		printf("        I_T nexus: %s\n", sid);
		printf("            Initiator: %s alias: %s\n",
		       jstr(s, "initiator"),
		       jstr(s, "alias")[0] ? jstr(s, "alias") : "none");
		json_array_foreach(json_object_get(s, "connections"), j, v)
		{
			char ip[80];
			tgt_peer_ip(jstr(v, "peer"), ip, sizeof(ip));
			printf("            Connection: %lld\n",
			       jint(v, "cid"));
			printf("                IP Address: %s\n", ip);
		}
	}
	printf("    LUN information:\n");
	json_array_foreach(json_object_get(t, "luns"), i, v)
	{
		uint64_t size = (uint64_t)jint(v, "size");
		printf("        LUN: %lld\n", jint(v, "lun"));
		printf("            Type: %s\n",
		       tgt_type_name(jstr(v, "type")));
		printf("            SCSI SN: %s\n", jstr(v, "serial"));
		printf("            Size: %" PRIu64 " MB, Block size: %lld\n",
		       (size + 500000) / 1000000, jint(v, "block_size"));
		printf("            Online: Yes\n");
		printf("            Removable media: %s\n",
		       jbool(v, "removable") ? "Yes" : "No");
		printf("            Readonly: %s\n",
		       jbool(v, "readonly") ? "Yes" : "No");
		printf("            Thin-provisioning: %s\n",
		       jbool(v, "thin") ? "Yes" : "No");
		printf("            Backing store type: %s\n",
		       jstr(v, "bstype"));
		printf("            Backing store path: %s\n",
		       jstr(v, "backing"));
		printf("            Backing store flags:%s\n",
		       jbool(v, "direct") ? " O_DIRECT" : "");
	}
	printf("    Account information:\n");
	json_array_foreach(json_object_get(t, "incoming_users"), i, v)
	    printf("        %s\n", json_string_value(v));
	if (jstr(t, "outgoing_user")[0])
		printf("        %s (outgoing)\n", jstr(t, "outgoing_user"));
	printf("    ACL information:\n");
	json_array_foreach(json_object_get(t, "acls"), i, v)
	    printf("        %s\n", json_string_value(v));
}

static json_t *tgt_show_target(struct ctl *c, const char *name)
{
	return ctl_call(
	    c, json_pack("{s:s, s:s}", "cmd", "target.show", "name", name));
}

static int tgt_mode_target(struct ctl *c, const struct tgt_args *a)
{
	char *name;
	json_t *res, *list, *t;
	size_t i;

	if (strcmp(a->op, "new") == 0) {
		tgt_unused(a, "--tid --targetname ");
		tgt_need(a->targetname, "--targetname", a);
		res =
		    ctl_call(c, json_pack("{s:s, s:s}", "cmd", "target.create",
					  "name", a->targetname));
		if (a->tid &&
		    (uint64_t)jint(res, "tid") != tgt_num("--tid", a->tid))
			fprintf(
			    stderr,
			    "lunarctl: warning: target %s got tid %lld, not "
			    "the requested %s: lunar allocates tids itself "
			    "and never reuses one; use --tid %lld or "
			    "--targetname in later commands\n",
			    a->targetname, jint(res, "tid"), a->tid,
			    jint(res, "tid"));
		ctl_json_out(c, res); /* tgtadm prints nothing on success */
		json_decref(res);
		return 0;
	}
	if (strcmp(a->op, "delete") == 0) {
		tgt_unused(a, "--tid --targetname --force ");
		name = tgt_target_name(c, a);
		res = ctl_call(c, json_pack("{s:s, s:s, s:b}", "cmd",
					    "target.delete", "name", name,
					    "force", a->force));
		ctl_json_out(c, res);
		json_decref(res);
		free(name);
		return 0;
	}
	if (strcmp(a->op, "show") == 0) {
		tgt_unused(a, "--tid --targetname ");
		if (a->tid || a->targetname) {
			name = tgt_target_name(c, a);
			res = tgt_show_target(c, name);
			if (!ctl_json_out(c, res))
				tgt_print_target(res);
			json_decref(res);
			free(name);
			return 0;
		}
		list = ctl_call(c, json_pack("{s:s}", "cmd", "target.list"));
		json_t *all = json_array();
		json_array_foreach(list, i, t)
		{
			res = tgt_show_target(c, jstr(t, "name"));
			if (!c->json)
				tgt_print_target(res);
			json_array_append_new(all, res);
		}
		ctl_json_out(c, all);
		json_decref(all);
		json_decref(list);
		return 0;
	}
	if (strcmp(a->op, "bind") == 0 || strcmp(a->op, "unbind") == 0) {
		bool bind = strcmp(a->op, "bind") == 0;
		const char *ini;

		tgt_unused(a, "--tid --targetname --initiator-address "
			      "--initiator-name ");
		if (a->iaddr && a->iname)
			tgt_usage("give --initiator-address ALL or "
				  "--initiator-name, not both");
		if (a->iaddr && strcasecmp(a->iaddr, "ALL") != 0) {
			fprintf(stderr,
				"lunarctl: --initiator-address %s: lunar ACLs "
				"are by initiator name, not address; use "
				"--initiator-name IQN (or "
				"--initiator-address ALL)\n",
				a->iaddr);
			exit(2);
		}
		if (!a->iaddr && !a->iname)
			tgt_usage("--mode target --op %s needs "
				  "--initiator-name IQN or "
				  "--initiator-address ALL",
				  a->op);
		ini = a->iaddr ? "ALL" : a->iname;
		name = tgt_target_name(c, a);
		res = ctl_call(c, json_pack("{s:s, s:s, s:s}", "cmd",
					    bind ? "acl.add" : "acl.delete",
					    "target", name, "initiator", ini));
		ctl_json_out(c, res);
		json_decref(res);
		free(name);
		return 0;
	}
	if (strcmp(a->op, "update") == 0)
		tgt_unsupported(a, "lunar has no per-target parameters to set; "
				   "iSCSI keys are negotiated from lunard's "
				   "defaults");
	tgt_unsupported(a, "mode target takes --op new, delete, show, bind, "
			   "unbind");
	return 2;
}

static int tgt_mode_lu(struct ctl *c, const struct tgt_args *a)
{
	uint64_t lun;
	char *name, *path;
	json_t *req, *res;
	bool ro = false, direct = false;

	if (strcmp(a->op, "new") == 0) {
		tgt_unused(a, "--tid --targetname --lun --backing-store "
			      "--bstype --bsopts --bsoflags --blocksize "
			      "--device-type --params ");
		tgt_need(a->lun, "--lun", a);
		tgt_need(a->backing, "--backing-store", a);
		lun = tgt_num("--lun", a->lun);
		if (lun > CTL_MAX_LUN)
			tgt_usage("--lun %s is out of range 0..%d", a->lun,
				  CTL_MAX_LUN);
		if (a->bsoflags) {
			if (strcmp(a->bsoflags, "direct") == 0) {
				direct = true;
			} else {
				fprintf(stderr,
					"lunarctl: --bsoflags %s is not "
					"supported; lunar takes --bsoflags "
					"direct (writes are made stable by "
					"FUA, SYNCHRONIZE CACHE and WCE=0 "
					"instead of sync)\n",
					a->bsoflags);
				exit(2);
			}
		}
		if (a->params) {
			if (strcmp(a->params, "readonly=1") == 0)
				ro = true;
			else if (strcmp(a->params, "readonly=0") != 0) {
				fprintf(stderr,
					"lunarctl: --params %s is not "
					"supported; lunar takes readonly=0|1\n",
					a->params);
				exit(2);
			}
		}
		/* 0: the device type's default; lunard checks the value. */
		uint64_t bsz = 0;
		if (a->blocksize) {
			bsz = tgt_num("--blocksize", a->blocksize);
			if (!bsz || bsz > UINT32_MAX)
				tgt_usage("--blocksize %s: give a number of "
					  "bytes, e.g. 512 or 4096 for a disk",
					  a->blocksize);
		}
		name = tgt_target_name(c, a);
		/* The file stores' backing is a path ("pool/image" for
		 * rbd, nothing for null). */
		path = a->bstype && (!strcmp(a->bstype, "null") ||
				     !strcmp(a->bstype, "rbd"))
			   ? strdup(a->backing)
			   : ctl_abs_path(a->backing);
		req =
		    json_pack("{s:s, s:s, s:I, s:s, s:b}", "cmd", "lun.create",
			      "target", name, "lun", (json_int_t)lun, "backing",
			      path, "readonly", ro);
		if (bsz)
			json_object_set_new(req, "block_size",
					    json_integer((json_int_t)bsz));
		/* tgt's --device-type names (disk, cd, tape, changer) are
		 * lunar's; lunard names the ones it has. */
		if (a->dtype)
			json_object_set_new(req, "type", json_string(a->dtype));
		/* Without --bsoflags direct the store's default holds, as
		 * in tgt (whose aio store is always O_DIRECT). */
		if (direct)
			json_object_set_new(req, "direct", json_true());
		if (a->bstype)
			json_object_set_new(req, "bstype",
					    json_string(a->bstype));
		/* tgt's form for rbd, "conf=PATH;id=NAME", is lunar's. */
		if (a->bsopts)
			json_object_set_new(req, "bsopts",
					    json_string(a->bsopts));
		res = ctl_call(c, req);
		ctl_json_out(c, res);
		json_decref(res);
		free(path);
		free(name);
		return 0;
	}
	if (strcmp(a->op, "delete") == 0) {
		tgt_unused(a, "--tid --targetname --lun ");
		tgt_need(a->lun, "--lun", a);
		lun = tgt_num("--lun", a->lun);
		name = tgt_target_name(c, a);
		res = ctl_call(c, json_pack("{s:s, s:s, s:I}", "cmd",
					    "lun.delete", "target", name, "lun",
					    (json_int_t)lun));
		ctl_json_out(c, res);
		json_decref(res);
		free(name);
		return 0;
	}
	if (strcmp(a->op, "update") == 0)
		tgt_unsupported(a, "change a LUN by deleting and recreating it "
				   "(lunarctl lun delete / lun create)");
	tgt_unsupported(a, "mode logicalunit takes --op new, delete (see "
			   "--mode target --op show for LUNs)");
	return 2;
}

static int tgt_mode_account(struct ctl *c, const struct tgt_args *a)
{
	json_t *res, *v;
	char *name;
	size_t i;

	if (strcmp(a->op, "new") == 0) {
		tgt_unused(a, "--user --password ");
		tgt_need(a->user, "--user", a);
		tgt_need(a->password, "--password", a);
		res = ctl_call(c, json_pack("{s:s, s:s, s:s}", "cmd",
					    "account.create", "user", a->user,
					    "password", a->password));
	} else if (strcmp(a->op, "delete") == 0) {
		tgt_unused(a, "--user ");
		tgt_need(a->user, "--user", a);
		res = ctl_call(c, json_pack("{s:s, s:s}", "cmd",
					    "account.delete", "user", a->user));
	} else if (strcmp(a->op, "show") == 0) {
		tgt_unused(a, "");
		res = ctl_call(c, json_pack("{s:s}", "cmd", "account.list"));
		if (!c->json) {
			printf("Account list:\n");
			json_array_foreach(res, i, v)
			    printf("    %s\n", jstr(v, "user"));
		}
	} else if (strcmp(a->op, "bind") == 0 || strcmp(a->op, "unbind") == 0) {
		tgt_unused(a, "--tid --targetname --user --outgoing ");
		tgt_need(a->user, "--user", a);
		name = tgt_target_name(c, a);
		res = ctl_call(c, json_pack("{s:s, s:s, s:s, s:b}", "cmd",
					    strcmp(a->op, "bind") == 0
						? "account.bind"
						: "account.unbind",
					    "target", name, "user", a->user,
					    "outgoing", a->outgoing));
		free(name);
	} else {
		tgt_unsupported(a, "mode account takes --op new, delete, show, "
				   "bind, unbind");
		return 2;
	}
	ctl_json_out(c, res);
	json_decref(res);
	return 0;
}

static int tgt_mode_system(struct ctl *c, const struct tgt_args *a)
{
	json_t *res, *v;
	size_t i;

	if (strcmp(a->op, "show") != 0)
		tgt_unsupported(a, strcmp(a->op, "delete") == 0
				       ? "stop lunard with SIGTERM (e.g. "
					 "systemctl stop lunard)"
				       : "mode system takes --op show");
	tgt_unused(a, "");
	res = ctl_call(c, json_pack("{s:s}", "cmd", "system.show"));
	if (!ctl_json_out(c, res)) {
		printf("System:\n");
		printf("    State: ready\n");
		printf("    Version: %s\n", jstr(res, "version"));
		printf("    PID: %lld\n", jint(res, "pid"));
		printf("    Threads: %lld\n", jint(res, "threads"));
		printf("LLDs:\n");
		printf("    iscsi: ready\n");
		printf("Backing stores:\n");
		char stores[512];
		snprintf(stores, sizeof(stores), "%s", jstr(res, "bstypes"));
		for (char *save, *s = strtok_r(stores, ", ", &save); s;
		     s = strtok_r(NULL, ", ", &save))
			printf("    %s\n", s);
		printf("Device types:\n");
		printf("    disk\n");
		printf("Portals:\n");
		json_array_foreach(json_object_get(res, "portals"), i, v)
		    printf("    %s\n", json_string_value(v));
	}
	json_decref(res);
	return 0;
}

static int tgt_mode_session(struct ctl *c, const struct tgt_args *a, bool conn)
{
	json_t *res, *s, *v;
	char *name, sid[32];
	size_t i, j;

	if (strcmp(a->op, "show") == 0) {
		tgt_unused(a, conn ? "--tid --targetname --sid "
				   : "--tid --targetname ");
		if (conn)
			tgt_need(a->sid, "--sid", a);
		name = tgt_target_name(c, a);
		res = ctl_call(c, json_pack("{s:s, s:s}", "cmd", "session.list",
					    "target", name));
		free(name);
		if (ctl_json_out(c, res)) {
			json_decref(res);
			return 0;
		}
		bool found = false;
		json_array_foreach(res, i, s)
		{
			jid(s, "sid", sid, sizeof(sid));
			if (conn && strcmp(sid, a->sid) != 0)
				continue;
			found = true;
			if (!conn) {
				printf("Session: %s\n", sid);
				printf("    Initiator: %s alias: %s\n",
				       jstr(s, "initiator"),
				       jstr(s, "alias")[0] ? jstr(s, "alias")
							   : "none");
			}
			json_array_foreach(json_object_get(s, "connections"), j,
					   v)
			{
				char ip[80];
				tgt_peer_ip(jstr(v, "peer"), ip, sizeof(ip));
				printf("%sConnection: %lld\n",
				       conn ? "" : "    ", jint(v, "cid"));
				printf("%s    IP Address: %s\n",
				       conn ? "" : "    ", ip);
			}
		}
		json_decref(res);
		if (conn && !found)
			ctl_die("no session %s on that target; `lunarctl "
				"--mode session --op show --tid N` lists them",
				a->sid);
		return 0;
	}
	if (strcmp(a->op, "delete") == 0) {
		tgt_unused(a, conn ? "--tid --targetname --sid --cid "
				   : "--tid --targetname --sid ");
		tgt_need(a->sid, "--sid", a);
		if (conn)
			tgt_need(a->cid, "--cid", a);
		uint64_t id = tgt_num("--sid", a->sid);
		name = tgt_target_name(c, a);
		if (conn)
			fprintf(stderr,
				"lunarctl: note: lunar closes whole sessions; "
				"closing session %s (connection %s with it)\n",
				a->sid, a->cid);
		json_t *req = json_pack("{s:s, s:s}", "cmd", "session.close",
					"target", name);
		json_object_set_new(req, "sid",
				    id <= INT64_MAX
					? json_integer((json_int_t)id)
					: json_string(a->sid));
		res = ctl_call(c, req);
		ctl_json_out(c, res);
		json_decref(res);
		free(name);
		return 0;
	}
	tgt_unsupported(a, conn ? "mode conn takes --op show, delete"
				: "mode session takes --op show, delete");
	return 2;
}

int ctl_tgtadm(struct ctl *c, int argc, char **argv)
{
	enum { OPT_JSON = 1000, OPT_CONTROL };
	static const struct option longopts[] = {
	    {"lld", required_argument, NULL, 'L'},
	    {"mode", required_argument, NULL, 'm'},
	    {"op", required_argument, NULL, 'o'},
	    {"tid", required_argument, NULL, 't'},
	    {"sid", required_argument, NULL, 's'},
	    {"cid", required_argument, NULL, 'c'},
	    {"lun", required_argument, NULL, 'l'},
	    {"name", required_argument, NULL, 'n'},
	    {"value", required_argument, NULL, 'v'},
	    {"backing-store", required_argument, NULL, 'b'},
	    {"bstype", required_argument, NULL, 'E'},
	    {"bsopts", required_argument, NULL, 'S'},
	    {"bsoflags", required_argument, NULL, 'f'},
	    {"blocksize", required_argument, NULL, 'y'},
	    {"targetname", required_argument, NULL, 'T'},
	    {"initiator-address", required_argument, NULL, 'I'},
	    {"initiator-name", required_argument, NULL, 'Q'},
	    {"user", required_argument, NULL, 'u'},
	    {"password", required_argument, NULL, 'p'},
	    {"force", no_argument, NULL, 'F'},
	    {"params", required_argument, NULL, 'P'},
	    {"device-type", required_argument, NULL, 'Y'},
	    {"bus", required_argument, NULL, 'B'},
	    {"outgoing", no_argument, NULL, 'O'},
	    {"control-port", required_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"control", required_argument, NULL, OPT_CONTROL},
	    {NULL, 0, NULL, 0},
	};
	struct tgt_args a = {0};
	static char cpath[108];
	int ch;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv,
				 ":L:m:o:t:s:c:l:n:v:b:E:S:f:y:T:I:Q:u:p:FP:Y:"
				 "B:OC:h",
				 longopts, NULL)) != -1) {
		switch (ch) {
		case 'L':
			a.lld = optarg;
			break;
		case 'm':
			a.mode = optarg;
			break;
		case 'o':
			a.op = optarg;
			break;
		case 't':
			a.tid = optarg;
			break;
		case 's':
			a.sid = optarg;
			break;
		case 'c':
			a.cid = optarg;
			break;
		case 'l':
			a.lun = optarg;
			break;
		case 'n':
			a.name = optarg;
			break;
		case 'v':
			a.value = optarg;
			break;
		case 'b':
			a.backing = optarg;
			break;
		case 'E':
			a.bstype = optarg;
			break;
		case 'S':
			a.bsopts = optarg;
			break;
		case 'f':
			a.bsoflags = optarg;
			break;
		case 'y':
			a.blocksize = optarg;
			break;
		case 'T':
			a.targetname = optarg;
			break;
		case 'I':
			a.iaddr = optarg;
			break;
		case 'Q':
			a.iname = optarg;
			break;
		case 'u':
			a.user = optarg;
			break;
		case 'p':
			a.password = optarg;
			break;
		case 'F':
			a.force = true;
			break;
		case 'P':
			a.params = optarg;
			break;
		case 'Y':
			a.dtype = optarg;
			break;
		case 'B':
			a.bus = optarg;
			break;
		case 'O':
			a.outgoing = true;
			break;
		case 'C':
			a.cport = optarg;
			break;
		case 'h':
			ctl_print_help(stdout);
			exit(0);
		case OPT_JSON:
			c->json = true;
			break;
		case OPT_CONTROL:
			c->path = optarg;
			break;
		case ':':
			tgt_usage("option %s needs a value", argv[optind - 1]);
		default:
			tgt_usage("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind < argc)
		tgt_usage("unexpected argument '%s' (tgtadm options take no "
			  "bare words)",
			  argv[optind]);
	if (a.cport) {
		/* tgtd instances are told apart by port; lunard ones by
		 * socket path: port 0 is the default socket, N is
		 * /run/lunar/lunard.N.sock (start lunard with that
		 * --control). */
		uint64_t port = tgt_num("--control-port", a.cport);
		if (port == 0)
			snprintf(cpath, sizeof(cpath), "%s",
				 CTL_DEFAULT_CONTROL);
		else
			snprintf(cpath, sizeof(cpath),
				 "/run/lunar/lunard.%" PRIu64 ".sock", port);
		c->path = cpath;
	}
	if (a.lld && strcmp(a.lld, "iscsi") != 0) {
		fprintf(stderr,
			"lunarctl: --lld %s is not supported; lunar serves "
			"only iSCSI (--lld iscsi)\n",
			a.lld);
		exit(2);
	}
	if (!a.mode)
		tgt_usage("--mode is required (target, logicalunit, account, "
			  "system, session, conn)");
	if (!a.op)
		tgt_usage("--op is required (new, delete, show, bind, unbind, "
			  "update)");
	if (a.name || a.value) {
		fprintf(stderr,
			"lunarctl: --name/--value (parameter updates) are not "
			"supported: lunar has no tgtd parameters to set\n");
		exit(2);
	}
	if (strcmp(a.mode, "target") == 0)
		return tgt_mode_target(c, &a);
	if (strcmp(a.mode, "logicalunit") == 0 || strcmp(a.mode, "lu") == 0) {
		a.mode = "logicalunit";
		return tgt_mode_lu(c, &a);
	}
	if (strcmp(a.mode, "account") == 0)
		return tgt_mode_account(c, &a);
	if (strcmp(a.mode, "system") == 0 || strcmp(a.mode, "sys") == 0) {
		a.mode = "system";
		return tgt_mode_system(c, &a);
	}
	if (strcmp(a.mode, "session") == 0)
		return tgt_mode_session(c, &a, false);
	if (strcmp(a.mode, "conn") == 0 || strcmp(a.mode, "connection") == 0) {
		a.mode = "conn";
		return tgt_mode_session(c, &a, true);
	}
	if (strcmp(a.mode, "portal") == 0) {
		fprintf(stderr,
			"lunarctl: tgtadm --mode portal is not supported: "
			"lunard's own portals come from its --portal option; a "
			"target's portals are set with `lunarctl portal add "
			"IQN ADDR:PORT`\n");
		exit(2);
	}
	tgt_usage("unknown --mode %s (lunar takes target, logicalunit, "
		  "account, system, session, conn)",
		  a.mode);
}
