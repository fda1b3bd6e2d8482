/*
 * lunarctl: the admin's command line for lunard. Turns commands into the
 * JSON requests of docs/control-protocol.md, sends them over the control
 * socket and prints the answers as text (or raw JSON with --json). A
 * command line with tgtadm's options (--lld/--mode/--op ...) goes to
 * lunarctl_tgtadm.c instead. `tape create` talks to no daemon: it makes a
 * cartridge file with the tape format module (src/scsi/ssc_format.c).
 *
 * Exit status: 0 success, 1 the daemon refused or could not be reached,
 * 2 a usage error (lunarctl never sent anything).
 */
#include "lunarctl.h"

#include "scsi/ssc_format.h"

/* ---- messages and exits -------------------------------------------- */

__attribute__((format(printf, 1, 2), noreturn)) void ctl_die(const char *fmt,
							     ...)
{
	va_list ap;

	fputs("lunarctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void ctl_print_usage(FILE *f, const struct ctl_cmd *cmd)
{
	fprintf(f, "usage: lunarctl [--control PATH] [--json] %s%s%s%s%s\n",
		cmd->group, cmd->action ? " " : "",
		cmd->action ? cmd->action : "", cmd->args[0] ? " " : "",
		cmd->args);
}

__attribute__((format(printf, 2, 3), noreturn)) void
ctl_usage_error(const struct ctl_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("lunarctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd)
		ctl_print_usage(stderr, cmd);
	else
		fputs("run `lunarctl --help` for the commands\n", stderr);
	exit(2);
}

/* ---- the control socket -------------------------------------------- */

static void ctl_connect(struct ctl *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (c->fd >= 0)
		return;
	if (strlen(c->path) >= sizeof(sa.sun_path))
		ctl_die("control socket path %s is too long (at most %zu "
			"bytes)",
			c->path, sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		ctl_die("socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		ctl_die("cannot connect to lunard at %s: %s; is lunard "
			"running? Start it, or point --control (or "
			"LUNAR_CONTROL) at its socket%s",
			c->path, strerror(e),
			e == EACCES ? " (it must be run as lunard's user or "
				      "root)"
				    : "");
	}
}

static void ctl_send_all(struct ctl *c, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			/* lunard may have answered and closed (a refused
			 * client): its line is still there to read. */
			if (errno == EPIPE || errno == ECONNRESET)
				return;
			ctl_die("sending to lunard at %s: %s", c->path,
				strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Reads one response line; returns it parsed. */
static json_t *ctl_read_response(struct ctl *c)
{
	char *nl;
	json_error_t je;
	json_t *resp;

	while (!c->len || !(nl = memchr(c->buf, '\n', c->len))) {
		if (c->cap - c->len < 65536) {
			c->cap = c->cap ? c->cap * 2 : 65536;
			c->buf = realloc(c->buf, c->cap);
			if (!c->buf)
				ctl_die("out of memory");
		}
		ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ctl_die("reading from lunard at %s: %s", c->path,
				strerror(errno));
		if (n == 0)
			ctl_die("lunard at %s closed the connection without "
				"answering; see lunard's log",
				c->path);
		c->len += (size_t)n;
	}
	resp = json_loadb(c->buf, (size_t)(nl - c->buf), 0, &je);
	c->len -= (size_t)(nl - c->buf) + 1;
	memmove(c->buf, nl + 1, c->len);
	if (!json_is_object(resp))
		ctl_die("lunard at %s sent an answer that is not a JSON "
			"object (%s)",
			c->path, resp ? "wrong type" : je.text);
	return resp;
}

/* Sends req (stolen). Returns 0 and the result (new reference), or the
 * daemon's errno and its message in *msg (caller frees). */
int ctl_request(struct ctl *c, json_t *req, json_t **result, char **msg)
{
	char *text;
	json_t *resp;
	int err = 0;

	ctl_connect(c);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text)
		ctl_die("out of memory");
	ctl_send_all(c, text, strlen(text));
	ctl_send_all(c, "\n", 1);
	free(text);
	resp = ctl_read_response(c);
	*result = NULL;
	*msg = NULL;
	if (json_is_true(json_object_get(resp, "ok"))) {
		*result = json_incref(json_object_get(resp, "result"));
		if (!*result)
			*result = json_null();
	} else {
		const char *m =
		    json_string_value(json_object_get(resp, "error"));
		err = (int)json_integer_value(json_object_get(resp, "errno"));
		*msg = strdup(m ? m : "lunard refused the request");
		if (err <= 0)
			err = EIO;
	}
	json_decref(resp);
	return err;
}

/* Like ctl_request, but a refusal ends lunarctl with the daemon's error. */
json_t *ctl_call(struct ctl *c, json_t *req)
{
	json_t *res;
	char *msg;

	if (!req)
		ctl_die("cannot encode the request: arguments must be valid "
			"UTF-8 text");
	if (ctl_request(c, req, &res, &msg)) {
		fprintf(stderr, "lunarctl: %s\n", msg);
		exit(1);
	}
	return res;
}

static void ctl_print_json(json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY |
				       JSON_PRESERVE_ORDER);
	puts(text ? text : "null");
	free(text);
}

/* Prints the result as JSON under --json; returns whether it did. */
bool ctl_json_out(struct ctl *c, json_t *res)
{
	if (!c->json)
		return false;
	ctl_print_json(res);
	return true;
}

/* ---- little helpers ------------------------------------------------ */

const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

long long jint(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

bool jbool(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

/* "sid" is an integer, or a decimal string above 2^63-1. */
void jid(json_t *o, const char *key, char *out, size_t outlen)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		snprintf(out, outlen, "%lld", (long long)json_integer_value(v));
	else
		snprintf(out, outlen, "%s", json_string_value(v) ?: "?");
}

void ctl_human_size(uint64_t bytes, char *out, size_t outlen)
{
	static const char *const units[] = {"B",   "KiB", "MiB", "GiB",
					    "TiB", "PiB", "EiB"};
	double v = (double)bytes;
	unsigned u = 0;

	while (v >= 1024 && u < 6) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, outlen, "%" PRIu64 " B", bytes);
	else
		snprintf(out, outlen, "%.1f %s", v, units[u]);
}

int ctl_parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	return 0;
}

/* Bytes, or a number with a binary K/M/G/T suffix (optionally "iB"). */
int ctl_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p) {
		switch (toupper((unsigned char)*p)) {
		case 'K':
			mult = 1ull << 10;
			break;
		case 'M':
			mult = 1ull << 20;
			break;
		case 'G':
			mult = 1ull << 30;
			break;
		case 'T':
			mult = 1ull << 40;
			break;
		default:
			return -EINVAL;
		}
		p++;
		if (strcmp(p, "iB") == 0 || strcmp(p, "ib") == 0)
			p += 2;
		if (*p)
			return -EINVAL;
	}
	if (v > INT64_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

/* lunard's working directory is not ours: send absolute paths. */
char *ctl_abs_path(const char *p)
{
	char cwd[4096];
	char *out;

	if (p[0] == '/')
		return strdup(p);
	if (!getcwd(cwd, sizeof(cwd)))
		ctl_die("cannot find the current directory for '%s': %s; give "
			"an absolute path",
			p, strerror(errno));
	if (asprintf(&out, "%s/%s", cwd, p) < 0)
		ctl_die("out of memory");
	return out;
}

/* ---- per-command option parsing ------------------------------------ */

/* Splits argv into positionals (npos_min..npos_max) and --options, which
 * may come anywhere. Exits 2 on anything unexpected. */
int ctl_args(const struct ctl_cmd *cmd, int argc, char **argv,
	     struct ctl_opt *opts, const char **pos, int npos_min, int npos_max)
{
	int npos = 0;
	bool only_pos = false;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!only_pos && strcmp(a, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (!only_pos && a[0] == '-' && a[1] == '-' && a[2]) {
			const char *name = a + 2;
			const char *eq = strchr(name, '=');
			size_t n = eq ? (size_t)(eq - name) : strlen(name);
			struct ctl_opt *o = NULL;

			for (struct ctl_opt *k = opts; k && k->name; k++) {
				if (strlen(k->name) == n &&
				    strncmp(k->name, name, n) == 0)
					o = k;
			}
			if (!o)
				ctl_usage_error(cmd, "unknown option --%.*s",
						(int)n, name);
			if (!o->has_arg) {
				if (eq)
					ctl_usage_error(cmd,
							"option --%s takes no "
							"value",
							o->name);
				*o->flag = true;
				continue;
			}
			if (eq) {
				*o->val = eq + 1;
			} else {
				if (i + 1 >= argc)
					ctl_usage_error(cmd,
							"option --%s needs a "
							"value",
							o->name);
				*o->val = argv[++i];
			}
			continue;
		}
		if (!only_pos && a[0] == '-' && a[1] &&
		    !isdigit((unsigned char)a[1]))
			ctl_usage_error(cmd, "unknown option %s", a);
		if (npos >= npos_max)
			ctl_usage_error(cmd, "unexpected argument '%s'", a);
		pos[npos++] = a;
	}
	if (npos < npos_min) {
		/* Name it from the usage: its leading words are the
		 * positionals ("IQN LUN --backing PATH ..."). */
		char words[256], *save, *w;
		int k = 0;
		snprintf(words, sizeof(words), "%s", cmd->args);
		for (w = strtok_r(words, " ", &save); w && k < npos;
		     w = strtok_r(NULL, " ", &save))
			k++;
		ctl_usage_error(cmd, "missing %s",
				w && w[0] != '-' && w[0] != '[' ? w
								: "argument");
	}
	return npos;
}

uint64_t ctl_lun_arg(const struct ctl_cmd *cmd, const char *s)
{
	uint64_t v;

	if (ctl_parse_u64(s, &v) || v > CTL_MAX_LUN)
		ctl_usage_error(cmd, "bad LUN '%s': use a number 0..%d", s,
				CTL_MAX_LUN);
	return v;
}

/* A one-line confirmation, or the JSON result. */
__attribute__((format(printf, 3, 4))) static void
ctl_done(struct ctl *c, json_t *res, const char *fmt, ...)
{
	va_list ap;

	if (!ctl_json_out(c, res)) {
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		putchar('\n');
	}
	json_decref(res);
}

/* ---- targets ------------------------------------------------------- */

static int ctl_target_create(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			     char **argv)
{
	const char *pos[1], *alias = NULL;
	struct ctl_opt opts[] = {{"alias", true, &alias, NULL}, {0}};
	json_t *req, *res;

	ctl_args(cmd, argc, argv, opts, pos, 1, 1);
	req = json_pack("{s:s, s:s}", "cmd", "target.create", "name", pos[0]);
	if (alias)
		json_object_set_new(req, "alias", json_string(alias));
	res = ctl_call(c, req);
	ctl_done(c, res, "Created target %s (tid %lld)", pos[0],
		 jint(res, "tid"));
	return 0;
}

static int ctl_target_delete(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			     char **argv)
{
	const char *pos[1];
	bool force = false;
	struct ctl_opt opts[] = {{"force", false, NULL, &force}, {0}};

	ctl_args(cmd, argc, argv, opts, pos, 1, 1);
	ctl_done(
	    c,
	    ctl_call(c, json_pack("{s:s, s:s, s:b}", "cmd", "target.delete",
				  "name", pos[0], "force", force)),
	    "Deleted target %s", pos[0]);
	return 0;
}

static int ctl_target_list(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			   char **argv)
{
	json_t *res, *t;
	size_t i;

	ctl_args(cmd, argc, argv, NULL, NULL, 0, 0);
	res = ctl_call(c, json_pack("{s:s}", "cmd", "target.list"));
	if (ctl_json_out(c, res)) {
		json_decref(res);
		return 0;
	}
	if (json_array_size(res) == 0) {
		printf("No targets. Create one with: lunarctl target create "
		       "IQN\n");
	} else {
		printf("%-5s %-5s %-8s %s\n", "TID", "LUNS", "SESSIONS",
		       "TARGET");
		json_array_foreach(res, i, t)
		{
			printf("%-5lld %-5lld %-8lld %s", jint(t, "tid"),
			       jint(t, "luns"), jint(t, "sessions"),
			       jstr(t, "name"));
			if (jstr(t, "alias")[0])
				printf(" (%s)", jstr(t, "alias"));
			putchar('\n');
		}
	}
	json_decref(res);
	return 0;
}

static void ctl_join(json_t *arr, const char *none, char *out, size_t outlen)
{
	size_t i, used = 0;
	json_t *v;

	out[0] = '\0';
	json_array_foreach(arr, i, v)
	{
		int n = snprintf(out + used, outlen - used, "%s%s",
				 used ? ", " : "", json_string_value(v));
		if (n < 0 || (size_t)n >= outlen - used)
			break;
		used += (size_t)n;
	}
	if (!used)
		snprintf(out, outlen, "%s", none);
}

static void ctl_lun_line(json_t *l, char *out, size_t outlen)
{
	char size[32];

	ctl_human_size((uint64_t)jint(l, "size"), size, sizeof(size));
	char pbs[48] = "";

	if (jint(l, "physical_block_size"))
		snprintf(pbs, sizeof(pbs), ", %lld-byte physical blocks",
			 jint(l, "physical_block_size"));
	const char *bsopts = jstr(l, "bsopts");

	snprintf(out, outlen,
		 "%s %s (%s%s%s%s, %s, %lld-byte blocks%s, serial %s%s%s%s%s)",
		 jstr(l, "type"), jstr(l, "backing"), jstr(l, "bstype"),
		 bsopts[0] ? " '" : "", bsopts, bsopts[0] ? "'" : "", size,
		 jint(l, "block_size"), pbs, jstr(l, "serial"),
		 jbool(l, "readonly") ? ", read-only" : "",
		 jbool(l, "direct") ? ", O_DIRECT" : "",
		 jbool(l, "thin") ? ", thin" : "",
		 jbool(l, "removable") ? ", removable" : "");
}

/* "standby, preferred, portals A, B (1 session)" */
static void ctl_tpg_line(json_t *g, char *out, size_t outlen)
{
	char portals[2048];
	json_t *sessions = json_object_get(g, "sessions");

	ctl_join(json_object_get(g, "portals"), "none", portals,
		 sizeof(portals));
	snprintf(out, outlen, "%s%s, portals %s", jstr(g, "state"),
		 jbool(g, "preferred") ? ", preferred" : "", portals);
	if (json_is_integer(sessions)) {
		size_t used = strlen(out);
		snprintf(out + used, outlen - used, " (%lld session%s)",
			 (long long)json_integer_value(sessions),
			 json_integer_value(sessions) == 1 ? "" : "s");
	}
}

static void ctl_session_line(json_t *s, const char *indent)
{
	char sid[32], peers[512] = "";
	size_t i, used = 0;
	json_t *conn;

	jid(s, "sid", sid, sizeof(sid));
	json_array_foreach(json_object_get(s, "connections"), i, conn)
	{
		int n = snprintf(peers + used, sizeof(peers) - used,
				 "%scid %lld from %s", used ? ", " : "",
				 jint(conn, "cid"), jstr(conn, "peer"));
		if (n < 0 || (size_t)n >= sizeof(peers) - used)
			break;
		used += (size_t)n;
	}
	printf("%ssid %s: %s%s%s%s%s [%s]\n", indent, sid, jstr(s, "initiator"),
	       jstr(s, "alias")[0] ? " (" : "", jstr(s, "alias"),
	       jstr(s, "alias")[0] ? ")" : "",
	       jbool(s, "discovery") ? " discovery" : "", peers);
}

static int ctl_target_show(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			   char **argv)
{
	const char *pos[1];
	json_t *t, *v;
	char line[8192];
	size_t i;

	ctl_args(cmd, argc, argv, NULL, pos, 1, 1);
	t = ctl_call(
	    c, json_pack("{s:s, s:s}", "cmd", "target.show", "name", pos[0]));
	if (ctl_json_out(c, t)) {
		json_decref(t);
		return 0;
	}
	printf("Target %lld: %s\n", jint(t, "tid"), jstr(t, "name"));
	printf("  Alias: %s\n", jstr(t, "alias")[0] ? jstr(t, "alias") : "-");
	printf("  LUNs:%s\n",
	       json_array_size(json_object_get(t, "luns")) ? "" : " none");
	json_array_foreach(json_object_get(t, "luns"), i, v)
	{
		ctl_lun_line(v, line, sizeof(line));
		printf("    %lld: %s\n", jint(v, "lun"), line);
	}
	ctl_join(json_object_get(t, "acls"), "none (no initiator may log in)",
		 line, sizeof(line));
	printf("  ACLs: %s\n", line);
	ctl_join(json_object_get(t, "portals"), "all of lunard's portals", line,
		 sizeof(line));
	printf("  Portals: %s\n", line);
	ctl_join(json_object_get(t, "incoming_users"), "none (no CHAP)", line,
		 sizeof(line));
	printf("  Incoming accounts: %s\n", line);
	printf("  Outgoing account: %s\n",
	       jstr(t, "outgoing_user")[0] ? jstr(t, "outgoing_user") : "none");
	printf("  Port groups:%s\n",
	       json_array_size(json_object_get(t, "port_groups"))
		   ? ""
		   : " none (every portal in group 1, active/optimized)");
	json_array_foreach(json_object_get(t, "port_groups"), i, v)
	{
		ctl_tpg_line(v, line, sizeof(line));
		printf("    %lld: %s\n", jint(v, "id"), line);
	}
	printf("  Sessions:%s\n",
	       json_array_size(json_object_get(t, "sessions")) ? "" : " none");
	json_array_foreach(json_object_get(t, "sessions"), i, v)
	    ctl_session_line(v, "    ");
	json_decref(t);
	return 0;
}

/* ---- LUNs ---------------------------------------------------------- */

static int ctl_lun_create(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			  char **argv)
{
	const char *pos[2], *backing = NULL, *bstype = NULL, *size = NULL,
			    *bsz = NULL, *serial = NULL, *pbsz = NULL,
			    *bsopts = NULL, *type = NULL;
	bool ro = false, direct = false, buffered = false, thin = false,
	     removable = false;
	struct ctl_opt opts[] = {
	    {"type", true, &type, NULL},
	    {"backing", true, &backing, NULL},
	    {"bstype", true, &bstype, NULL},
	    {"bs-opts", true, &bsopts, NULL},
	    {"size", true, &size, NULL},
	    {"block-size", true, &bsz, NULL},
	    {"serial", true, &serial, NULL},
	    {"readonly", false, NULL, &ro},
	    {"direct", false, NULL, &direct},
	    {"buffered", false, NULL, &buffered},
	    {"thin", false, NULL, &thin},
	    {"physical-block-size", true, &pbsz, NULL},
	    {"removable", false, NULL, &removable},
	    {0},
	};
	uint64_t lun, bytes = 0, block = 0, pblock = 0;
	json_t *req, *res;
	char *path;

	ctl_args(cmd, argc, argv, opts, pos, 2, 2);
	lun = ctl_lun_arg(cmd, pos[1]);
	/* Without a medium only as a device type that may be empty (a
	 * tape drive): lunard says which. */
	if (!backing && !type)
		ctl_usage_error(cmd, "--backing PATH is required");
	if (size) {
		int rc = ctl_parse_size(size, &bytes);
		if (rc == -ERANGE)
			ctl_usage_error(cmd, "size '%s' is too large", size);
		if (rc)
			ctl_usage_error(cmd,
					"bad size '%s': use bytes or a K/M/G/T "
					"suffix, e.g. 1G",
					size);
	}
	/* Which sizes a LU may have is its device type's to say (lunard). */
	if (bsz && (ctl_parse_u64(bsz, &block) || !block || block > UINT32_MAX))
		ctl_usage_error(cmd,
				"bad block size '%s': give a number of bytes, "
				"e.g. 512 or 4096 for a disk",
				bsz);
	/* lunard checks that it is a power-of-two multiple of the block
	 * size and names the fix. */
	if (pbsz && (ctl_parse_u64(pbsz, &pblock) || pblock > UINT32_MAX))
		ctl_usage_error(cmd,
				"bad physical block size '%s': use a "
				"power-of-two multiple of the block size, e.g. "
				"4096",
				pbsz);
	if (direct && buffered)
		ctl_usage_error(cmd, "--direct and --buffered exclude each "
				     "other; give one");
	/* The file stores' backing is a path; null has none and rbd's is
	 * a POOL/IMAGE name. */
	path = !backing ? strdup("")
	       : bstype && (!strcmp(bstype, "null") || !strcmp(bstype, "rbd"))
		   ? strdup(backing)
		   : ctl_abs_path(backing);
	req = json_pack("{s:s, s:s, s:I, s:s, s:b}", "cmd", "lun.create",
			"target", pos[0], "lun", (json_int_t)lun, "backing",
			path, "readonly", ro);
	if (bsz)
		json_object_set_new(req, "block_size",
				    json_integer((json_int_t)block));
	if (type)
		json_object_set_new(req, "type", json_string(type));
	/* Neither: the store's default (O_DIRECT for aio and uring). */
	if (direct || buffered)
		json_object_set_new(req, "direct", json_boolean(direct));
	if (bstype)
		json_object_set_new(req, "bstype", json_string(bstype));
	if (size)
		json_object_set_new(req, "size",
				    json_integer((json_int_t)bytes));
	if (serial)
		json_object_set_new(req, "serial", json_string(serial));
	if (thin)
		json_object_set_new(req, "thin", json_true());
	if (pbsz)
		json_object_set_new(req, "physical_block_size",
				    json_integer((json_int_t)pblock));
	if (removable)
		json_object_set_new(req, "removable", json_true());
	if (bsopts)
		json_object_set_new(req, "bsopts", json_string(bsopts));
	res = ctl_call(c, req);
	char human[32];
	ctl_human_size((uint64_t)jint(res, "size"), human, sizeof(human));
	ctl_done(c, res, "Created LUN %" PRIu64 " of %s on %s (%s)", lun,
		 pos[0], path[0] ? path : "no medium", human);
	free(path);
	return 0;
}

static int ctl_lun_delete(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			  char **argv)
{
	const char *pos[2];
	uint64_t lun;

	ctl_args(cmd, argc, argv, NULL, pos, 2, 2);
	lun = ctl_lun_arg(cmd, pos[1]);
	ctl_done(
	    c,
	    ctl_call(c, json_pack("{s:s, s:s, s:I}", "cmd", "lun.delete",
				  "target", pos[0], "lun", (json_int_t)lun)),
	    "Deleted LUN %" PRIu64 " of %s", lun, pos[0]);
	return 0;
}

static int ctl_lun_resize(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			  char **argv)
{
	const char *pos[3] = {NULL, NULL, NULL};
	bool shrink = false;
	struct ctl_opt opts[] = {
	    {"shrink", false, NULL, &shrink},
	    {0},
	};
	uint64_t lun, bytes = 0;
	json_t *req, *res;
	char human[32];

	ctl_args(cmd, argc, argv, opts, pos, 2, 3);
	lun = ctl_lun_arg(cmd, pos[1]);
	if (pos[2]) {
		int rc = ctl_parse_size(pos[2], &bytes);
		if (rc == -ERANGE)
			ctl_usage_error(cmd, "size '%s' is too large", pos[2]);
		if (rc || bytes == 0)
			ctl_usage_error(cmd,
					"bad size '%s': use bytes or a K/M/G/T "
					"suffix, e.g. 20G",
					pos[2]);
	}
	req = json_pack("{s:s, s:s, s:I, s:b}", "cmd", "lun.resize", "target",
			pos[0], "lun", (json_int_t)lun, "shrink", shrink);
	if (pos[2])
		json_object_set_new(req, "size",
				    json_integer((json_int_t)bytes));
	res = ctl_call(c, req);
	ctl_human_size((uint64_t)jint(res, "size"), human, sizeof(human));
	ctl_done(c, res, "LUN %" PRIu64 " of %s is now %s (%lld bytes)", lun,
		 pos[0], human, jint(res, "size"));
	return 0;
}

static int ctl_lun_eject(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			 char **argv)
{
	const char *pos[2] = {NULL, NULL};
	bool force = false;
	struct ctl_opt opts[] = {
	    {"force", false, NULL, &force},
	    {0},
	};
	uint64_t lun;
	json_t *res;

	ctl_args(cmd, argc, argv, opts, pos, 2, 2);
	lun = ctl_lun_arg(cmd, pos[1]);
	res = ctl_call(c, json_pack("{s:s, s:s, s:I, s:b}", "cmd", "lun.eject",
				    "target", pos[0], "lun", (json_int_t)lun,
				    "force", force));
	ctl_done(c, res, "Ejected the medium of LUN %" PRIu64 " of %s", lun,
		 pos[0]);
	return 0;
}

static int ctl_lun_load(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			char **argv)
{
	const char *pos[2] = {NULL, NULL}, *backing = NULL;
	struct ctl_opt opts[] = {
	    {"backing", true, &backing, NULL},
	    {0},
	};
	uint64_t lun;
	json_t *req, *res;
	char *path = NULL, human[32];

	ctl_args(cmd, argc, argv, opts, pos, 2, 2);
	lun = ctl_lun_arg(cmd, pos[1]);
	req = json_pack("{s:s, s:s, s:I}", "cmd", "lun.load", "target", pos[0],
			"lun", (json_int_t)lun);
	if (backing) {
		path = ctl_abs_path(backing);
		json_object_set_new(req, "backing", json_string(path));
	}
	res = ctl_call(c, req);
	ctl_human_size((uint64_t)jint(res, "size"), human, sizeof(human));
	ctl_done(c, res, "Loaded %s into LUN %" PRIu64 " of %s (%s)",
		 path ? path : "the medium", lun, pos[0], human);
	free(path);
	return 0;
}

static int ctl_lun_activate(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			    char **argv)
{
	const char *pos[2] = {NULL, NULL}, *group = NULL;
	struct ctl_opt opts[] = {
	    {"group", true, &group, NULL},
	    {0},
	};
	uint64_t lun, id = 0;
	json_t *req, *res;

	ctl_args(cmd, argc, argv, opts, pos, 2, 2);
	lun = ctl_lun_arg(cmd, pos[1]);
	if (!group || ctl_parse_u64(group, &id) || id < 1 || id > 65535)
		ctl_usage_error(cmd, "--group ID is required: the port group "
				     "(1..65535) of this gateway's portals");
	req =
	    json_pack("{s:s, s:s, s:I, s:I}", "cmd", "lun.activate", "target",
		      pos[0], "lun", (json_int_t)lun, "group", (json_int_t)id);
	res = ctl_call(c, req);
	ctl_done(c, res,
		 "port group %" PRIu64 " owns LUN %" PRIu64 " of %s: "
		 "active/optimized on every gateway",
		 id, lun, pos[0]);
	return 0;
}

/* ---- ACLs, portals ------------------------------------------------- */

static int ctl_acl(struct ctl *c, const struct ctl_cmd *cmd, int argc,
		   char **argv)
{
	const char *pos[2];
	bool add = strcmp(cmd->action, "add") == 0;

	ctl_args(cmd, argc, argv, NULL, pos, 2, 2);
	ctl_done(c,
		 ctl_call(c, json_pack("{s:s, s:s, s:s}", "cmd",
				       add ? "acl.add" : "acl.delete", "target",
				       pos[0], "initiator", pos[1])),
		 "%s %s %s %s", add ? "Target" : "Target", pos[0],
		 add ? "now admits" : "no longer admits", pos[1]);
	return 0;
}

static int ctl_portal(struct ctl *c, const struct ctl_cmd *cmd, int argc,
		      char **argv)
{
	const char *pos[2];
	bool add = strcmp(cmd->action, "add") == 0;

	ctl_args(cmd, argc, argv, NULL, pos, 2, 2);
	ctl_done(c,
		 ctl_call(c, json_pack("{s:s, s:s, s:s}", "cmd",
				       add ? "portal.add" : "portal.delete",
				       "target", pos[0], "portal", pos[1])),
		 "Target %s %s portal %s", pos[0], add ? "is now on" : "left",
		 pos[1]);
	return 0;
}

/* ---- accounts ------------------------------------------------------ */

static int ctl_account_create(struct ctl *c, const struct ctl_cmd *cmd,
			      int argc, char **argv)
{
	const char *pos[1], *pw = NULL;
	struct ctl_opt opts[] = {{"password", true, &pw, NULL}, {0}};
	char line[512];

	ctl_args(cmd, argc, argv, opts, pos, 1, 1);
	if (!pw)
		ctl_usage_error(cmd, "--password SECRET is required ('-' reads "
				     "it from standard input)");
	if (strcmp(pw, "-") == 0) {
		if (!fgets(line, sizeof(line), stdin))
			ctl_usage_error(cmd, "--password -: nothing on "
					     "standard input");
		line[strcspn(line, "\r\n")] = '\0';
		pw = line;
	}
	ctl_done(
	    c,
	    ctl_call(c, json_pack("{s:s, s:s, s:s}", "cmd", "account.create",
				  "user", pos[0], "password", pw)),
	    "Created account %s", pos[0]);
	explicit_bzero(line, sizeof(line));
	return 0;
}

static int ctl_account_delete(struct ctl *c, const struct ctl_cmd *cmd,
			      int argc, char **argv)
{
	const char *pos[1];

	ctl_args(cmd, argc, argv, NULL, pos, 1, 1);
	ctl_done(c,
		 ctl_call(c, json_pack("{s:s, s:s}", "cmd", "account.delete",
				       "user", pos[0])),
		 "Deleted account %s", pos[0]);
	return 0;
}

static int ctl_account_list(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			    char **argv)
{
	json_t *res, *a;
	char in[4096], out[4096];
	size_t i;

	ctl_args(cmd, argc, argv, NULL, NULL, 0, 0);
	res = ctl_call(c, json_pack("{s:s}", "cmd", "account.list"));
	if (ctl_json_out(c, res)) {
		json_decref(res);
		return 0;
	}
	if (json_array_size(res) == 0)
		printf("No accounts. Create one with: lunarctl account create "
		       "USER --password SECRET\n");
	json_array_foreach(res, i, a)
	{
		ctl_join(json_object_get(a, "bound"), "-", in, sizeof(in));
		ctl_join(json_object_get(a, "outgoing"), "-", out, sizeof(out));
		printf("%s\n  incoming on: %s\n  outgoing on: %s\n",
		       jstr(a, "user"), in, out);
	}
	json_decref(res);
	return 0;
}

static int ctl_account_bind(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			    char **argv)
{
	const char *pos[2];
	bool out = false;
	bool bind = strcmp(cmd->action, "bind") == 0;
	struct ctl_opt opts[] = {{"outgoing", false, NULL, &out}, {0}};

	ctl_args(cmd, argc, argv, opts, pos, 2, 2);
	ctl_done(c,
		 ctl_call(c, json_pack("{s:s, s:s, s:s, s:b}", "cmd",
				       bind ? "account.bind" : "account.unbind",
				       "target", pos[0], "user", pos[1],
				       "outgoing", out)),
		 "%s %s account %s %s target %s", bind ? "Bound" : "Unbound",
		 out ? "outgoing" : "incoming", pos[1], bind ? "to" : "from",
		 pos[0]);
	return 0;
}

/* ---- sessions ------------------------------------------------------ */

static int ctl_session_list(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			    char **argv)
{
	const char *pos[1];
	json_t *req, *res, *s;
	size_t i;
	int n = ctl_args(cmd, argc, argv, NULL, pos, 0, 1);

	req = json_pack("{s:s}", "cmd", "session.list");
	if (n)
		json_object_set_new(req, "target", json_string(pos[0]));
	res = ctl_call(c, req);
	if (ctl_json_out(c, res)) {
		json_decref(res);
		return 0;
	}
	if (json_array_size(res) == 0)
		printf("No sessions.\n");
	json_array_foreach(res, i, s)
	{
		printf("%s\n", jstr(s, "target")[0] ? jstr(s, "target")
						    : "(discovery)");
		ctl_session_line(s, "  ");
	}
	json_decref(res);
	return 0;
}

static int ctl_session_close(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			     char **argv)
{
	const char *pos[2];
	uint64_t sid;
	json_t *req;

	ctl_args(cmd, argc, argv, NULL, pos, 2, 2);
	if (ctl_parse_u64(pos[1], &sid))
		ctl_usage_error(cmd,
				"bad session id '%s': use the number "
				"`lunarctl session list` shows",
				pos[1]);
	req = json_pack("{s:s, s:s}", "cmd", "session.close", "target", pos[0]);
	if (sid <= INT64_MAX)
		json_object_set_new(req, "sid", json_integer((json_int_t)sid));
	else
		json_object_set_new(req, "sid", json_string(pos[1]));
	ctl_done(c, ctl_call(c, req), "Closing session %s of %s", pos[1],
		 pos[0]);
	return 0;
}

/* ---- port groups (ALUA) ------------------------------------------- */

#define CTL_TPG_ID_MAX 65535

static json_int_t ctl_tpg_id(const struct ctl_cmd *cmd, const char *s)
{
	uint64_t v;

	if (ctl_parse_u64(s, &v) || v < 1 || v > CTL_TPG_ID_MAX)
		ctl_usage_error(cmd,
				"bad port group id '%s': use 1..%d (it is also "
				"the iSCSI target portal group tag)",
				s, CTL_TPG_ID_MAX);
	return (json_int_t)v;
}

/*
 * Takes every "--NAME VALUE" / "--NAME=VALUE" out of argv (options before
 * a "--") into arr: ctl_args keeps one value per option, this one may
 * repeat. Returns the new argc.
 */
static int ctl_take_repeated(const struct ctl_cmd *cmd, const char *name,
			     int argc, char **argv, json_t *arr)
{
	size_t n = strlen(name);
	int out = 0, i;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			break;
		if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0 ||
		    (a[2 + n] != '\0' && a[2 + n] != '=')) {
			argv[out++] = argv[i];
			continue;
		}
		if (a[2 + n] == '=') {
			json_array_append_new(arr, json_string(a + 3 + n));
			continue;
		}
		if (i + 1 >= argc)
			ctl_usage_error(cmd, "option --%s needs a value", name);
		json_array_append_new(arr, json_string(argv[++i]));
	}
	for (; i < argc; i++)
		argv[out++] = argv[i];
	return out;
}

/* Says which group portals lunard does not listen on (yet). */
static void ctl_tpg_not_listening(struct ctl *c, json_t *arr,
				  const char *target)
{
	size_t i;
	json_t *v;

	if (c->json)
		return;
	json_array_foreach(arr, i, v)
	{
		fprintf(stderr,
			"lunarctl: note: lunard does not listen on %s yet; "
			"nobody logs in through it until `lunarctl portal add "
			"%s %s` (or lunard --portal %s)\n",
			json_string_value(v), target, json_string_value(v),
			json_string_value(v));
	}
}

static int ctl_tpg_create(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			  char **argv)
{
	const char *pos[2], *state = NULL;
	bool pref = false;
	struct ctl_opt opts[] = {
	    {"state", true, &state, NULL},
	    {"preferred", false, NULL, &pref},
	    {0},
	};
	json_t *portals = json_array(), *req, *res;
	json_int_t id;

	argc = ctl_take_repeated(cmd, "portal", argc, argv, portals);
	ctl_args(cmd, argc, argv, opts, pos, 2, 2);
	id = ctl_tpg_id(cmd, pos[1]);
	req = json_pack("{s:s, s:s, s:I, s:o, s:b}", "cmd", "tpg.create",
			"target", pos[0], "id", id, "portals", portals,
			"preferred", pref);
	if (state)
		json_object_set_new(req, "state", json_string(state));
	res = ctl_call(c, req);
	ctl_tpg_not_listening(c, json_object_get(res, "not_listening"), pos[0]);
	ctl_done(c, res, "Created port group %lld of %s (%s%s)", (long long)id,
		 pos[0], jstr(res, "state"),
		 jbool(res, "preferred") ? ", preferred" : "");
	return 0;
}

static int ctl_tpg_delete(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			  char **argv)
{
	const char *pos[2];
	json_int_t id;

	ctl_args(cmd, argc, argv, NULL, pos, 2, 2);
	id = ctl_tpg_id(cmd, pos[1]);
	ctl_done(c,
		 ctl_call(c, json_pack("{s:s, s:s, s:I}", "cmd", "tpg.delete",
				       "target", pos[0], "id", id)),
		 "Deleted port group %lld of %s", (long long)id, pos[0]);
	return 0;
}

static int ctl_tpg_set(struct ctl *c, const struct ctl_cmd *cmd, int argc,
		       char **argv)
{
	const char *pos[2], *state = NULL;
	bool pref = false, nopref = false;
	struct ctl_opt opts[] = {
	    {"state", true, &state, NULL},
	    {"preferred", false, NULL, &pref},
	    {"not-preferred", false, NULL, &nopref},
	    {0},
	};
	json_t *req, *res;
	json_int_t id;

	ctl_args(cmd, argc, argv, opts, pos, 2, 2);
	id = ctl_tpg_id(cmd, pos[1]);
	if (pref && nopref)
		ctl_usage_error(cmd, "--preferred and --not-preferred "
				     "contradict each other; give one");
	if (!state && !pref && !nopref)
		ctl_usage_error(cmd, "give --state STATE, --preferred or "
				     "--not-preferred");
	req = json_pack("{s:s, s:s, s:I}", "cmd", "tpg.set", "target", pos[0],
			"id", id);
	if (state)
		json_object_set_new(req, "state", json_string(state));
	if (pref || nopref)
		json_object_set_new(req, "preferred", json_boolean(pref));
	res = ctl_call(c, req);
	ctl_done(c, res, "Port group %lld of %s is now %s%s", (long long)id,
		 pos[0], jstr(res, "state"),
		 jbool(res, "preferred") ? ", preferred" : "");
	return 0;
}

static int ctl_tpg_portal(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			  char **argv)
{
	const char *pos[3];
	bool add = strcmp(cmd->action, "add-portal") == 0;
	json_int_t id;
	json_t *res;

	ctl_args(cmd, argc, argv, NULL, pos, 3, 3);
	id = ctl_tpg_id(cmd, pos[1]);
	res = ctl_call(c,
		       json_pack("{s:s, s:s, s:I, s:s}", "cmd",
				 add ? "tpg.add_portal" : "tpg.remove_portal",
				 "target", pos[0], "id", id, "portal", pos[2]));
	if (add && json_is_false(json_object_get(res, "listening"))) {
		json_t *one = json_pack("[s]", pos[2]);
		ctl_tpg_not_listening(c, one, pos[0]);
		json_decref(one);
	}
	ctl_done(c, res, "Portal %s %s port group %lld of %s", pos[2],
		 add ? "joined" : "left", (long long)id, pos[0]);
	return 0;
}

static int ctl_tpg_list(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			char **argv)
{
	const char *pos[1];
	char line[4096];
	json_t *res, *g;
	size_t i;

	ctl_args(cmd, argc, argv, NULL, pos, 1, 1);
	res = ctl_call(
	    c, json_pack("{s:s, s:s}", "cmd", "tpg.list", "target", pos[0]));
	if (ctl_json_out(c, res)) {
		json_decref(res);
		return 0;
	}
	if (json_array_size(res) == 0)
		printf("No port groups: every portal of %s is in group 1, "
		       "active/optimized. Create one with: lunarctl tpg "
		       "create %s ID --portal ADDR:PORT --state STATE\n",
		       pos[0], pos[0]);
	json_array_foreach(res, i, g)
	{
		ctl_tpg_line(g, line, sizeof(line));
		printf("%lld: %s\n", jint(g, "id"), line);
	}
	json_decref(res);
	return 0;
}

/* ---- configuration ------------------------------------------------- */

static int ctl_config_save(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			   char **argv)
{
	const char *pos[1];
	json_t *req, *res;
	char *path = NULL;

	req = json_pack("{s:s}", "cmd", "config.save");
	if (ctl_args(cmd, argc, argv, NULL, pos, 0, 1)) {
		path = ctl_abs_path(pos[0]);
		json_object_set_new(req, "file", json_string(path));
	}
	res = ctl_call(c, req);
	ctl_done(c, res, "Saved the configuration to %s", jstr(res, "file"));
	free(path);
	return 0;
}

static int ctl_config_load(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			   char **argv)
{
	const char *pos[1];
	char *path;

	ctl_args(cmd, argc, argv, NULL, pos, 1, 1);
	path = ctl_abs_path(pos[0]);
	ctl_done(c,
		 ctl_call(c, json_pack("{s:s, s:s}", "cmd", "config.load",
				       "file", path)),
		 "Loaded %s", path);
	free(path);
	return 0;
}

static int ctl_config_show(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			   char **argv)
{
	json_t *res;

	ctl_args(cmd, argc, argv, NULL, NULL, 0, 0);
	res = ctl_call(c, json_pack("{s:s}", "cmd", "config.show"));
	/* The configuration is JSON (the file format) either way. */
	ctl_print_json(res);
	json_decref(res);
	return 0;
}

/* ---- show (the tree) and system show ------------------------------- */

/* One node of the tree: "o- name ......... [info]", targetcli style. */
static void ctl_node(const char *prefix, const char *name, const char *info)
{
	int used = printf("%so- %s", prefix, name);

	if (info && info[0]) {
		putchar(' ');
		for (int i = used + 1; i < 66; i++)
			putchar('.');
		printf(" [%s]", info);
	}
	putchar('\n');
}

static void ctl_tree_list(const char *prefix, const char *title, json_t *arr,
			  const char *empty_info, bool last)
{
	char sub[256], info[64];
	size_t i;
	json_t *v;

	snprintf(info, sizeof(info), "%s", empty_info);
	if (json_array_size(arr))
		snprintf(info, sizeof(info), "%zu", json_array_size(arr));
	ctl_node(prefix, title, info);
	snprintf(sub, sizeof(sub), "%s%s", prefix, last ? "  " : "| ");
	json_array_foreach(arr, i, v) ctl_node(sub, json_string_value(v), NULL);
}

static int ctl_show(struct ctl *c, const struct ctl_cmd *cmd, int argc,
		    char **argv)
{
	json_t *res, *sys, *cfg, *sessions, *t, *v, *s;
	char info[512], line[8192], name[300];
	size_t i, j, k;

	ctl_args(cmd, argc, argv, NULL, NULL, 0, 0);
	res = ctl_call(c, json_pack("{s:s}", "cmd", "show"));
	if (ctl_json_out(c, res)) {
		json_decref(res);
		return 0;
	}
	sys = json_object_get(res, "system");
	cfg = json_object_get(res, "config");
	sessions = json_object_get(res, "sessions");
	snprintf(info, sizeof(info), "lunard %s, pid %lld, %lld threads",
		 jstr(sys, "version"), jint(sys, "pid"), jint(sys, "threads"));
	ctl_node("", "/", info);

	ctl_join(json_object_get(sys, "portals"), "none", line, sizeof(line));
	ctl_node("  ", "portals", line);

	json_t *accounts = json_object_get(cfg, "accounts");
	snprintf(info, sizeof(info), "%zu", json_array_size(accounts));
	ctl_node("  ", "accounts", info);
	json_array_foreach(accounts, i, v)
	    ctl_node("  | ", jstr(v, "user"), NULL);

	json_t *targets = json_object_get(cfg, "targets");
	snprintf(info, sizeof(info), "%zu", json_array_size(targets));
	ctl_node("  ", "targets", info);
	json_array_foreach(targets, i, t)
	{
		bool last_t = i + 1 == json_array_size(targets);
		const char *p1 = last_t ? "      " : "    | ";
		char p2[32];
		size_t nsess = 0;

		json_array_foreach(sessions, j, s) nsess +=
		    strcmp(jstr(s, "target"), jstr(t, "name")) == 0;
		snprintf(info, sizeof(info), "tid %lld%s%s", jint(t, "tid"),
			 jstr(t, "alias")[0] ? ", alias " : "",
			 jstr(t, "alias"));
		ctl_node("    ", jstr(t, "name"), info);

		json_t *luns = json_object_get(t, "luns");
		snprintf(info, sizeof(info), "%zu", json_array_size(luns));
		ctl_node(p1, "luns", info);
		snprintf(p2, sizeof(p2), "%s| ", p1);
		json_array_foreach(luns, j, v)
		{
			snprintf(name, sizeof(name), "lun%lld", jint(v, "lun"));
			ctl_lun_line(v, line, sizeof(line));
			ctl_node(p2, name, line);
		}
		ctl_tree_list(p1, "acls", json_object_get(t, "acls"),
			      "none: nobody may log in", false);
		ctl_tree_list(p1, "portals", json_object_get(t, "portals"),
			      "all", false);
		json_t *tpgs = json_object_get(t, "port_groups");
		snprintf(info, sizeof(info), "%zu", json_array_size(tpgs));
		ctl_node(p1, "port groups",
			 json_array_size(tpgs) ? info : "none: all in group 1");
		snprintf(p2, sizeof(p2), "%s| ", p1);
		json_array_foreach(tpgs, j, v)
		{
			snprintf(name, sizeof(name), "tpg%lld", jint(v, "id"));
			ctl_tpg_line(v, line, sizeof(line));
			ctl_node(p2, name, line);
		}
		ctl_join(json_object_get(t, "incoming_users"), "-", line,
			 sizeof(line));
		snprintf(info, sizeof(info), "in: %.200s, out: %s", line,
			 jstr(t, "outgoing_user")[0] ? jstr(t, "outgoing_user")
						     : "-");
		ctl_node(p1, "accounts", info);
		snprintf(info, sizeof(info), "%zu", nsess);
		ctl_node(p1, "sessions", info);
		snprintf(p2, sizeof(p2), "%s  ", p1);
		json_array_foreach(sessions, j, s)
		{
			if (strcmp(jstr(s, "target"), jstr(t, "name")) != 0)
				continue;
			char sid[32], peers[256] = "";
			size_t used = 0;
			jid(s, "sid", sid, sizeof(sid));
			json_array_foreach(json_object_get(s, "connections"), k,
					   v)
			{
				int n = snprintf(
				    peers + used, sizeof(peers) - used, "%s%s",
				    used ? ", " : "", jstr(v, "peer"));
				if (n < 0 || (size_t)n >= sizeof(peers) - used)
					break;
				used += (size_t)n;
			}
			snprintf(name, sizeof(name), "sid %s %s", sid,
				 jstr(s, "initiator"));
			ctl_node(p2, name, peers);
		}
	}
	json_decref(res);
	return 0;
}

static int ctl_system_show(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			   char **argv)
{
	json_t *res;
	char portals[4096];

	ctl_args(cmd, argc, argv, NULL, NULL, 0, 0);
	res = ctl_call(c, json_pack("{s:s}", "cmd", "system.show"));
	if (ctl_json_out(c, res)) {
		json_decref(res);
		return 0;
	}
	ctl_join(json_object_get(res, "portals"), "none", portals,
		 sizeof(portals));
	printf("Version:        %s\n", jstr(res, "version"));
	printf("PID:            %lld\n", jint(res, "pid"));
	printf("I/O threads:    %lld\n", jint(res, "threads"));
	printf("Portals:        %s\n", portals);
	printf("Control socket: %s\n", jstr(res, "control"));
	printf("State dir:      %s\n", jstr(res, "state_dir"));
	printf("Config file:    %s\n", jstr(res, "config"));
	if (json_object_get(res, "bstypes"))
		printf("Backing stores: %s\n", jstr(res, "bstypes"));
	json_decref(res);
	return 0;
}

/* ---- iSNS ------------------------------------------------------------ */

static int ctl_isns_show(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			 char **argv)
{
	json_t *res;
	char targets[8192], portals[4096];
	const char *when, *error;

	ctl_args(cmd, argc, argv, NULL, NULL, 0, 0);
	res = ctl_call(c, json_pack("{s:s}", "cmd", "isns.show"));
	if (ctl_json_out(c, res)) {
		json_decref(res);
		return 0;
	}
	if (!json_is_true(json_object_get(res, "enabled"))) {
		printf("iSNS: off (start lunard with --isns HOST[:PORT])\n");
		json_decref(res);
		return 0;
	}
	ctl_join(json_object_get(res, "targets"), "none", targets,
		 sizeof(targets));
	ctl_join(json_object_get(res, "portals"), "none", portals,
		 sizeof(portals));
	when = jstr(res, "last_registration");
	error = jstr(res, "last_error");
	printf("Server:              %s\n", jstr(res, "server"));
	printf("Entity:              %s\n", jstr(res, "entity"));
	printf("State:               %s\n", jstr(res, "state"));
	printf("Last registration:   %s\n", when[0] ? when : "never");
	if (jint(res, "registration_period"))
		printf("Registration period: %llds\n",
		       jint(res, "registration_period"));
	printf("Registered portals:  %s\n", portals);
	printf("Registered targets:  %s\n", targets);
	if (error[0])
		printf("Last error:          %s\n", error);
	json_decref(res);
	return 0;
}

/* ---- medium changers ------------------------------------------------ */

/* "add" or "delete", the first positional of changer slot/cartridge/drive. */
static bool ctl_changer_verb(const struct ctl_cmd *cmd, const char *verb)
{
	if (strcmp(verb, "add") == 0)
		return true;
	if (strcmp(verb, "delete") != 0)
		ctl_usage_error(cmd, "unknown action '%s': use add or delete",
				verb);
	return false;
}

static int ctl_changer_show(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			    char **argv)
{
	const char *pos[2] = {NULL, NULL};
	uint64_t lun;
	json_t *res, *elems, *e;
	size_t i;

	ctl_args(cmd, argc, argv, NULL, pos, 2, 2);
	lun = ctl_lun_arg(cmd, pos[1]);
	res = ctl_call(c, json_pack("{s:s, s:s, s:I}", "cmd", "changer.show",
				    "target", pos[0], "lun", (json_int_t)lun));
	if (ctl_json_out(c, res)) {
		json_decref(res);
		return 0;
	}
	printf("Changer LUN %" PRIu64 " of %s (state %s)\n", lun, pos[0],
	       jstr(res, "state"));
	printf("  %-7s %-14s %-5s %-16s %s\n", "ADDRESS", "ELEMENT", "FULL",
	       "BARCODE", "FILE");
	elems = json_object_get(res, "elements");
	json_array_foreach(elems, i, e)
	{
		char what[32], from[32] = "";

		if (json_object_get(e, "lun"))
			snprintf(what, sizeof(what), "drive LUN %lld%s",
				 jint(e, "lun"),
				 jbool(e, "present") ? "" : "?");
		else
			snprintf(what, sizeof(what), "%s", jstr(e, "type"));
		if (json_object_get(e, "source"))
			snprintf(from, sizeof(from), " (from 0x%04llx)",
				 jint(e, "source"));
		printf(
		    "  0x%04llx  %-14s %-5s %-16s %s%s\n", jint(e, "address"),
		    what, jbool(e, "full") ? "yes" : "no",
		    json_object_get(e, "barcode") ? jstr(e, "barcode") : "-",
		    json_object_get(e, "file") ? jstr(e, "file") : "-", from);
	}
	json_decref(res);
	return 0;
}

static int ctl_changer_slot(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			    char **argv)
{
	const char *pos[3] = {NULL, NULL, NULL}, *count = NULL;
	bool ie = false, add;
	struct ctl_opt opts[] = {
	    {"count", true, &count, NULL},
	    {"import-export", false, NULL, &ie},
	    {0},
	};
	uint64_t lun, n = 1;
	json_t *res;

	ctl_args(cmd, argc, argv, opts, pos, 3, 3);
	add = ctl_changer_verb(cmd, pos[0]);
	lun = ctl_lun_arg(cmd, pos[2]);
	if (count && (ctl_parse_u64(count, &n) || n < 1 || n > 4096))
		ctl_usage_error(cmd, "bad --count '%s': use 1..4096", count);
	res = ctl_call(
	    c, json_pack("{s:s, s:s, s:I, s:I, s:b}", "cmd",
			 add ? "changer.slot_add" : "changer.slot_delete",
			 "target", pos[1], "lun", (json_int_t)lun, "count",
			 (json_int_t)n, "import_export", ie));
	ctl_done(c, res, "%s %" PRIu64 " %s %s changer LUN %" PRIu64 " of %s",
		 add ? "Added" : "Deleted", n,
		 ie ? "import/export element(s)" : "slot(s)",
		 add ? "to" : "from", lun, pos[1]);
	return 0;
}

static int ctl_changer_cartridge(struct ctl *c, const struct ctl_cmd *cmd,
				 int argc, char **argv)
{
	const char *pos[3] = {NULL, NULL, NULL}, *slot = NULL, *barcode = NULL,
		   *file = NULL;
	bool first = false, add;
	struct ctl_opt opts[] = {
	    {"slot", true, &slot, NULL},
	    {"first-empty", false, NULL, &first},
	    {"barcode", true, &barcode, NULL},
	    {"file", true, &file, NULL},
	    {0},
	};
	uint64_t lun, addr = 0;
	json_t *req, *res;
	char *path = NULL;

	ctl_args(cmd, argc, argv, opts, pos, 3, 3);
	add = ctl_changer_verb(cmd, pos[0]);
	lun = ctl_lun_arg(cmd, pos[2]);
	if (!barcode)
		ctl_usage_error(cmd, "--barcode B is required");
	req = json_pack(
	    "{s:s, s:s, s:I, s:s}", "cmd",
	    add ? "changer.cartridge_add" : "changer.cartridge_delete",
	    "target", pos[1], "lun", (json_int_t)lun, "barcode", barcode);
	if (add) {
		if (!file)
			ctl_usage_error(cmd, "--file PATH is required: the "
					     "image a drive loads");
		if (!!slot == first)
			ctl_usage_error(cmd, "give --slot ADDR or "
					     "--first-empty");
		if (slot) {
			char *end;

			errno = 0;
			addr = strtoull(slot, &end, 0);
			if (!isdigit((unsigned char)slot[0]) || errno || *end ||
			    addr > 0xffff)
				ctl_usage_error(cmd,
						"bad --slot '%s': an element "
						"address, 0..65535 (4096 or "
						"0x1000)",
						slot);
		}
		path = ctl_abs_path(file);
		json_object_set_new(req, "file", json_string(path));
		if (slot)
			json_object_set_new(req, "slot",
					    json_integer((json_int_t)addr));
		else
			json_object_set_new(req, "first_empty", json_true());
	} else if (slot || first || file) {
		ctl_usage_error(cmd, "cartridge delete takes only --barcode");
	}
	res = ctl_call(c, req);
	ctl_done(c, res, "%s cartridge %s %s changer LUN %" PRIu64 " of %s",
		 add ? "Added" : "Deleted", barcode, add ? "to" : "from", lun,
		 pos[1]);
	free(path);
	return 0;
}

static int ctl_changer_drive(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			     char **argv)
{
	const char *pos[4] = {NULL, NULL, NULL, NULL};
	uint64_t lun, drive;
	bool add;
	json_t *res;

	ctl_args(cmd, argc, argv, NULL, pos, 4, 4);
	add = ctl_changer_verb(cmd, pos[0]);
	lun = ctl_lun_arg(cmd, pos[2]);
	drive = ctl_lun_arg(cmd, pos[3]);
	res = ctl_call(
	    c, json_pack("{s:s, s:s, s:I, s:I}", "cmd",
			 add ? "changer.drive_add" : "changer.drive_delete",
			 "target", pos[1], "lun", (json_int_t)lun, "drive",
			 (json_int_t)drive));
	ctl_done(
	    c, res, "%s drive LUN %" PRIu64 " %s changer LUN %" PRIu64 " of %s",
	    add ? "Added" : "Deleted", drive, add ? "to" : "from", lun, pos[1]);
	return 0;
}

/* ---- tape cartridges ------------------------------------------------ */

/* Makes an empty cartridge file for a tape LU, with the format module
 * itself: no lunard needed. */
static int ctl_tape_create(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			   char **argv)
{
	const char *pos[1], *size = NULL, *barcode = NULL;
	bool force = false;
	struct ctl_opt opts[] = {
	    {"size", true, &size, NULL},
	    {"barcode", true, &barcode, NULL},
	    {"force", false, NULL, &force},
	    {0},
	};
	uint64_t bytes = 0;
	char err[512];
	int rc;

	ctl_args(cmd, argc, argv, opts, pos, 1, 1);
	if (!size)
		ctl_usage_error(cmd, "--size SIZE is required (bytes or "
				     "K/M/G/T, e.g. 10G)");
	rc = ctl_parse_size(size, &bytes);
	if (rc == -ERANGE)
		ctl_usage_error(cmd, "size '%s' is too large", size);
	if (rc)
		ctl_usage_error(cmd,
				"bad size '%s': use bytes or a K/M/G/T "
				"suffix, e.g. 10G",
				size);
	rc = ssc_fmt_create(pos[0], bytes, barcode, force, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "lunarctl: %s\n", err);
		return 1;
	}
	ctl_done(c,
		 json_pack("{s:s, s:I, s:s}", "path", pos[0], "size",
			   (json_int_t)bytes, "barcode",
			   barcode ? barcode : ""),
		 "cartridge %s created (%llu bytes%s%s)", pos[0],
		 (unsigned long long)bytes, barcode ? ", barcode " : "",
		 barcode ? barcode : "");
	return 0;
}

/* ---- the command table and help ------------------------------------ */

static int ctl_help(struct ctl *c, const struct ctl_cmd *cmd, int argc,
		    char **argv);

static const struct ctl_cmd ctl_cmds[] = {
    {"target", "create", "IQN [--alias A]", "create a target",
     ctl_target_create},
    {"target", "delete", "IQN [--force]",
     "delete a target (--force closes its sessions)", ctl_target_delete},
    {"target", "list", "", "list the targets", ctl_target_list},
    {"target", "show", "IQN", "show one target with its LUNs and sessions",
     ctl_target_show},
    {"lun", "create",
     "IQN LUN [--backing PATH] [--type disk|cd|tape|changer] [--bstype "
     "rdwr|aio|uring|null|rbd] [--bs-opts OPTS] "
     "[--size SIZE] [--block-size 512|4096] [--physical-block-size N] "
     "[--readonly] [--direct|--buffered] [--thin] [--removable] [--serial S]",
     "add a LUN; --type is its device type (disk by default; lunard says "
     "which it has); --size (bytes or K/M/G/T, e.g. 1G) creates a sparse "
     "file "
     "(an rbd image, with --bstype rbd and --backing POOL/IMAGE) when it "
     "does not exist; --bs-opts passes the store's options (rbd: "
     "'conf=PATH;id=CLIENT;namespace=NS;timeout=SECS'); --thin deallocates "
     "unmapped blocks, --removable lets initiators eject and load the "
     "medium; a tape without --backing is an empty drive (lun load fills "
     "it)",
     ctl_lun_create},
    {"lun", "delete", "IQN LUN", "remove a LUN", ctl_lun_delete},
    {"lun", "resize", "IQN LUN [SIZE] [--shrink]",
     "change a LUN's capacity while initiators use it (they see CAPACITY "
     "DATA HAS CHANGED); without SIZE, take the size the file or device "
     "now has; --shrink allows losing the blocks past the new end",
     ctl_lun_resize},
    {"lun", "eject", "IQN LUN [--force]",
     "take the medium out of a removable LU (a cd), as its eject button "
     "does: refused while an initiator prevents removal, unless --force",
     ctl_lun_eject},
    {"lun", "load", "IQN LUN [--backing PATH]",
     "put the medium back into a removable LU; with --backing, an ejected "
     "cd gets that image (e.g. another ISO) instead; initiators see a new "
     "medium",
     ctl_lun_load},
    {"changer", "show", "IQN LUN",
     "list a changer's elements: address, cartridge, barcode, file",
     ctl_changer_show},
    {"changer", "slot", "add|delete IQN LUN [--count N] [--import-export]",
     "add slots (or import/export elements) to a changer, or delete its "
     "last ones, which must be empty",
     ctl_changer_slot},
    {"changer", "cartridge",
     "add|delete IQN LUN --barcode B [--file PATH --slot ADDR|--first-empty]",
     "put a cartridge (an image file with a barcode) into an empty slot or "
     "import/export element, or take one out (not from a drive)",
     ctl_changer_cartridge},
    {"changer", "drive", "add|delete IQN LUN DRIVELUN",
     "make LUN DRIVELUN of the same target (a cd or tape) a drive of the "
     "changer, or remove its last drive (empty)",
     ctl_changer_drive},
    {"lun", "activate", "IQN LUN --group ID",
     "make this gateway's port group ID the owner of a LUN that several "
     "gateways serve (an rbd LUN): the old owner lets go or is fenced; "
     "the group is active/optimized and the others standby on every "
     "gateway",
     ctl_lun_activate},
    {"tape", "create", "FILE --size SIZE [--barcode LABEL] [--force]",
     "make an empty tape cartridge (a sparse file of SIZE bytes) for a "
     "tape LU's --backing or lun load; --barcode names the volume; an "
     "existing FILE is refused unless --force (its data are lost)",
     ctl_tape_create},
    {"acl", "add", "IQN INITIATOR|ALL", "let an initiator (or all) log in",
     ctl_acl},
    {"acl", "delete", "IQN INITIATOR|ALL", "remove an ACL entry", ctl_acl},
    {"portal", "add", "IQN ADDR:PORT",
     "listen on a portal and restrict the target to its portals", ctl_portal},
    {"portal", "delete", "IQN ADDR:PORT", "remove a portal from a target",
     ctl_portal},
    {"account", "create", "USER --password SECRET",
     "create a CHAP account (12..255 byte secret; '-' reads it from stdin)",
     ctl_account_create},
    {"account", "delete", "USER", "delete a CHAP account", ctl_account_delete},
    {"account", "list", "", "list CHAP accounts and their bindings",
     ctl_account_list},
    {"account", "bind", "IQN USER [--outgoing]",
     "require CHAP with this account (--outgoing: mutual CHAP)",
     ctl_account_bind},
    {"account", "unbind", "IQN USER [--outgoing]", "remove a binding",
     ctl_account_bind},
    {"tpg", "create",
     "IQN ID [--portal ADDR:PORT]... [--state STATE] [--preferred]",
     "create ALUA port group ID (1..65535, also the iSCSI portal group "
     "tag) with its portals; STATE: active/optimized (default), "
     "active/non-optimized, standby, unavailable, transitioning",
     ctl_tpg_create},
    {"tpg", "delete", "IQN ID",
     "delete a port group (refused while sessions use it)", ctl_tpg_delete},
    {"tpg", "set", "IQN ID [--state STATE] [--preferred|--not-preferred]",
     "change a port group's access state (initiators get a unit attention)",
     ctl_tpg_set},
    {"tpg", "add-portal", "IQN ID ADDR:PORT",
     "put a portal in a port group (new logins through it)", ctl_tpg_portal},
    {"tpg", "remove-portal", "IQN ID ADDR:PORT",
     "take a portal out of a port group", ctl_tpg_portal},
    {"tpg", "list", "IQN", "list a target's port groups", ctl_tpg_list},
    {"session", "list", "[IQN]", "list sessions", ctl_session_list},
    {"session", "close", "IQN SID", "close a session", ctl_session_close},
    {"stats", NULL, "[IQN [LUN]]",
     "statistics per target, LU and session: commands, bytes, errors, "
     "task management, queue depth, latency, logins",
     ctl_stats},
    {"top", NULL, "[IQN] [-d SECS] [-n COUNT]",
     "a live view of rates per target, LU and session, refreshed in place "
     "every SECS (default 2) until q or Ctrl-C (or COUNT refreshes)",
     ctl_top},
    {"config", "save", "[FILE]",
     "write the running configuration (default: lunard's --config, else "
     "STATE_DIR/lunar.json)",
     ctl_config_save},
    {"config", "load", "FILE", "apply a configuration file", ctl_config_load},
    {"config", "show", "", "print the running configuration as JSON",
     ctl_config_show},
    {"import-tgt", NULL,
     "TARGETS.CONF [--output FILE [--force] [--apply]] [--conf-dir DIR]",
     "turn a tgt configuration (targets.conf and its includes) into "
     "lunar's (to FILE, else stdout), reporting on stderr what has no "
     "equivalent; --conf-dir reads includes of /etc/tgt/ under DIR; "
     "--apply loads FILE into lunard; exit 1 when something was not "
     "mapped, 2 on a parse error (docs/migrating-from-tgt.md)",
     ctl_import_tgt},
    {"show", NULL, "", "the whole configuration and sessions as a tree",
     ctl_show},
    {"system", "show", "", "lunard's version, threads, portals and paths",
     ctl_system_show},
    {"isns", "show", "",
     "the iSNS registration (lunard --isns): server, entity, state, last "
     "registration, and the portals and targets the server has",
     ctl_isns_show},
    {"help", NULL, "[COMMAND]", "show help", ctl_help},
};

#define CTL_NCMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

void ctl_print_help(FILE *f)
{
	fprintf(f,
		"usage: lunarctl [--control PATH] [--json] COMMAND [ARGS]\n"
		"       lunarctl --lld iscsi --mode MODE --op OP ... (tgtadm "
		"options)\n\n"
		"Options:\n"
		"  --control PATH  lunard's control socket (default %s,\n"
		"                  or $LUNAR_CONTROL)\n"
		"  --json          print the raw JSON result\n"
		"  -h, --help      this help; `lunarctl help COMMAND` for "
		"one command\n\n"
		"Commands:\n",
		CTL_DEFAULT_CONTROL);
	for (size_t i = 0; i < CTL_NCMDS; i++) {
		const struct ctl_cmd *cmd = &ctl_cmds[i];
		char words[64];
		snprintf(words, sizeof(words), "%s%s%s", cmd->group,
			 cmd->action ? " " : "",
			 cmd->action ? cmd->action : "");
		fprintf(f, "  %s%s%s\n", words, cmd->args[0] ? " " : "",
			cmd->args);
	}
	fprintf(f, "\nSee docs/lunarctl.md (or `lunarctl help GROUP`).\n");
}

static int ctl_help(struct ctl *c, const struct ctl_cmd *self, int argc,
		    char **argv)
{
	bool found = false;

	if (argc == 0) {
		ctl_print_help(stdout);
		return 0;
	}
	if (argc > 2)
		ctl_usage_error(self, "unexpected argument '%s'", argv[2]);
	for (size_t i = 0; i < CTL_NCMDS; i++) {
		const struct ctl_cmd *cmd = &ctl_cmds[i];
		if (strcmp(cmd->group, argv[0]) != 0)
			continue;
		if (argc == 2 && (!cmd->action || strcmp(cmd->action, argv[1])))
			continue;
		ctl_print_usage(stdout, cmd);
		printf("    %s\n", cmd->help);
		found = true;
	}
	if (!found)
		ctl_usage_error(NULL, "no command '%s%s%s'", argv[0],
				argc == 2 ? " " : "", argc == 2 ? argv[1] : "");
	return 0;
}

static bool ctl_wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

static int ctl_native(struct ctl *c, int argc, char **argv)
{
	const char *group = argv[0];
	const char *action = argc > 1 ? argv[1] : NULL;
	bool group_known = false;

	for (size_t i = 0; i < CTL_NCMDS; i++) {
		const struct ctl_cmd *cmd = &ctl_cmds[i];
		if (strcmp(cmd->group, group) != 0)
			continue;
		group_known = true;
		if (!cmd->action) {
			if (ctl_wants_help(argc - 1, argv + 1)) {
				char *h[] = {(char *)group};
				return ctl_help(c, cmd, 1, h);
			}
			return cmd->run(c, cmd, argc - 1, argv + 1);
		}
		if (action && strcmp(cmd->action, action) == 0) {
			if (ctl_wants_help(argc - 2, argv + 2)) {
				char *h[] = {(char *)group, (char *)action};
				return ctl_help(c, cmd, 2, h);
			}
			return cmd->run(c, cmd, argc - 2, argv + 2);
		}
	}
	if (!group_known)
		ctl_usage_error(NULL, "unknown command '%s'", group);
	if (action &&
	    (strcmp(action, "--help") == 0 || strcmp(action, "-h") == 0)) {
		char *h[] = {(char *)group};
		return ctl_help(c, NULL, 1, h);
	}
	fprintf(stderr, "lunarctl: %s '%s'; the %s commands are:\n",
		action ? "unknown subcommand" : "missing subcommand after",
		action ? action : group, group);
	for (size_t i = 0; i < CTL_NCMDS; i++) {
		if (strcmp(ctl_cmds[i].group, group) == 0)
			ctl_print_usage(stderr, &ctl_cmds[i]);
	}
	exit(2);
}

/* ---- main ---------------------------------------------------------- */

static bool ctl_is_tgtadm_opt(const char *a)
{
	static const char *const opts[] = {
	    "--lld", "--mode", "--op", "--control-port", "-L", "-m", "-o", "-C",
	    "--tid", "-t",     NULL,
	};
	for (const char *const *o = opts; *o; o++) {
		size_t n = strlen(*o);
		if (strncmp(a, *o, n) == 0 &&
		    (a[n] == '\0' || a[n] == '=' || (a[1] != '-' && a[2])))
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	struct ctl c = {.fd = -1};
	int i;

	c.path = getenv("LUNAR_CONTROL");
	if (!c.path || !c.path[0])
		c.path = CTL_DEFAULT_CONTROL;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0) {
			c.json = true;
		} else if (strcmp(a, "--control") == 0) {
			if (i + 1 >= argc)
				ctl_usage_error(
				    NULL, "option --control needs a path");
			c.path = argv[++i];
		} else if (strncmp(a, "--control=", 10) == 0) {
			c.path = a + 10;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			ctl_print_help(stdout);
			return 0;
		} else if (ctl_is_tgtadm_opt(a)) {
			int trc = ctl_tgtadm(&c, argc, argv);

			if (c.fd >= 0)
				close(c.fd);
			free(c.buf);
			return trc;
		} else if (a[0] == '-') {
			ctl_usage_error(NULL, "unknown option %s", a);
		} else {
			break;
		}
	}
	if (i >= argc) {
		ctl_print_help(stderr);
		return 2;
	}
	int rc = ctl_native(&c, argc - i, argv + i);
	if (c.fd >= 0)
		close(c.fd);
	free(c.buf);
	return rc;
}
