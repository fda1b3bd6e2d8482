/*
 * tgt's targets.conf to lunar's configuration (tgt_conf.h). This file owns
 * two things. The reader: the subset of Config::General that tgt-admin
 * enables (Apache-style "include" with globs and directories, blocks
 * "<target IQN>" ... "</target>" with "<backing-store PATH>" and
 * "<direct-store PATH>" inside, "key value" or "key = value" lines, "#"
 * comments unless written "\#", a trailing backslash joining lines), with
 * every file and line remembered. The mapping: tgt-admin's meaning of
 * each option (target-level LUN options are defaults of every LUN of the
 * target; LUNs without "lun N" take the lowest free number from 1; no
 * initiator-address means ALL) turned into lunar's JSON, and a report
 * line for each option lunar has no equivalent for yet.
 */
#include "tgt_conf.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define TGT_MAX_LUN    16383
#define TGT_SECRET_MIN 12
#define TGT_SECRET_MAX 255
#define TGT_SERIAL_MAX 32
#define TGT_LINE_MAX   65536
#define TGT_ETC	       "/etc/tgt/"

/* ---- the reader ---------------------------------------------------- */

struct tgt_parser {
	struct tgt_conf *c;
	const char *conf_dir;
	char *stack[TGT_CONF_MAX_DEPTH + 1]; /* real paths being read */
	int depth;
	struct tgt_target *target; /* inside <target> */
	struct tgt_store *store;   /* inside <backing-store> */
	const char *block_file;	   /* where the open block began */
	unsigned block_line;
	unsigned long lines;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 4, 5))) static int tgt_fail(struct tgt_parser *p,
							  const char *file,
							  unsigned line,
							  const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%u: %s", file, line, msg);
	return -EINVAL;
}

static void *tgt_grow(void *arr, size_t *cap, size_t n, size_t size)
{
	void *v;

	if (n < *cap)
		return arr;
	*cap = *cap ? *cap * 2 : 8;
	v = realloc(arr, *cap * size);
	return v;
}

/* A backing-store or direct-store of t (kind names which), as a line or
 * as the opening of a block; *out (may be NULL) gets it. */
static int tgt_store_add(struct tgt_target *t, const char *kind,
			 const char *path, const char *file, unsigned line,
			 struct tgt_store **out)
{
	struct tgt_store *st =
	    tgt_grow(t->stores, &t->cap_stores, t->nr_stores, sizeof(*st));

	if (!st)
		return -ENOMEM;
	t->stores = st;
	st = &t->stores[t->nr_stores];
	memset(st, 0, sizeof(*st));
	st->path = strdup(path);
	if (!st->path)
		return -ENOMEM;
	st->direct = strcasecmp(kind, "direct-store") == 0;
	st->file = file;
	st->line = line;
	t->nr_stores++;
	if (out)
		*out = st;
	return 0;
}

static int tgt_kvs_add(struct tgt_kvs *k, const char *key, const char *val,
		       const char *file, unsigned line)
{
	struct tgt_kv *v = tgt_grow(k->v, &k->cap, k->n, sizeof(*k->v));

	if (!v)
		return -ENOMEM;
	k->v = v;
	v = &k->v[k->n];
	memset(v, 0, sizeof(*v));
	v->key = strdup(key);
	v->val = strdup(val);
	v->file = file;
	v->line = line;
	if (!v->key || !v->val) {
		free(v->key);
		free(v->val);
		return -ENOMEM;
	}
	k->n++;
	return 0;
}

static void tgt_kvs_free(struct tgt_kvs *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->v[i].key);
		if (k->v[i].val)
			explicit_bzero(k->v[i].val, strlen(k->v[i].val));
		free(k->v[i].val);
	}
	free(k->v);
}

void tgt_conf_free(struct tgt_conf *c)
{
	if (!c)
		return;
	tgt_kvs_free(&c->global);
	for (size_t i = 0; i < c->nr_targets; i++) {
		struct tgt_target *t = &c->targets[i];
		free(t->name);
		tgt_kvs_free(&t->opts);
		for (size_t j = 0; j < t->nr_stores; j++) {
			free(t->stores[j].path);
			tgt_kvs_free(&t->stores[j].opts);
		}
		free(t->stores);
	}
	free(c->targets);
	for (size_t i = 0; i < c->nr_files; i++)
		free(c->files[i]);
	free(c->files);
	free(c);
}

static char *tgt_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* A value in double quotes stands for what is inside them. */
static char *tgt_unquote(char *s)
{
	size_t n = strlen(s);

	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s[n - 1] = '\0';
		return s + 1;
	}
	return s;
}

/* Removes a "#" comment; "\#" is a literal "#". */
static void tgt_strip_comment(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] == '#') {
			*w++ = '#';
			r++;
			continue;
		}
		if (*r == '#')
			break;
		*w++ = *r;
	}
	*w = '\0';
}

static int tgt_parse_file(struct tgt_parser *p, const char *path,
			  const char *from_file, unsigned from_line);

static int tgt_include(struct tgt_parser *p, const char *pattern,
		       const char *file, unsigned line)
{
	char full[PATH_MAX + 64], dir[PATH_MAX];
	glob_t g;
	int rc = 0, grc;

	if (pattern[0] == '\0')
		return tgt_fail(p, file, line,
				"include without a file; expected e.g. "
				"'include /etc/tgt/conf.d/*.conf'");
	if (p->conf_dir && strncmp(pattern, TGT_ETC, strlen(TGT_ETC)) == 0) {
		snprintf(full, sizeof(full), "%s/%s", p->conf_dir,
			 pattern + strlen(TGT_ETC));
	} else if (pattern[0] == '/') {
		snprintf(full, sizeof(full), "%s", pattern);
	} else if (p->conf_dir) {
		snprintf(full, sizeof(full), "%s/%s", p->conf_dir, pattern);
	} else {
		const char *slash = strrchr(file, '/');
		size_t n = slash ? (size_t)(slash - file) : 1;
		if (n >= sizeof(dir))
			n = sizeof(dir) - 1;
		memcpy(dir, slash ? file : ".", n);
		dir[n] = '\0';
		snprintf(full, sizeof(full), "%s/%s", dir, pattern);
	}
	grc = glob(full, 0, NULL, &g);
	if (grc == GLOB_NOMATCH)
		return 0; /* as tgt-admin: an empty conf.d is fine */
	if (grc)
		return tgt_fail(p, file, line, "cannot expand include '%s'",
				full);
	for (size_t i = 0; i < g.gl_pathc && !rc; i++) {
		struct stat st;
		if (stat(g.gl_pathv[i], &st) < 0)
			continue;
		if (!S_ISDIR(st.st_mode)) {
			rc = tgt_parse_file(p, g.gl_pathv[i], file, line);
			continue;
		}
		/* A directory: its files, in name order, not recursively. */
		char sub[PATH_MAX + 8];
		glob_t d;
		snprintf(sub, sizeof(sub), "%s/*", g.gl_pathv[i]);
		if (glob(sub, 0, NULL, &d) != 0)
			continue;
		for (size_t j = 0; j < d.gl_pathc && !rc; j++) {
			if (stat(d.gl_pathv[j], &st) == 0 &&
			    S_ISREG(st.st_mode))
				rc = tgt_parse_file(p, d.gl_pathv[j], file,
						    line);
		}
		globfree(&d);
	}
	globfree(&g);
	return rc;
}

static int tgt_block_open(struct tgt_parser *p, char *s, const char *file,
			  unsigned line)
{
	size_t n = strlen(s);
	char *name, *arg;

	if (s[n - 1] != '>')
		return tgt_fail(p, file, line,
				"'%s' does not end with '>'; expected "
				"'<target IQN>' or '<backing-store PATH>'",
				s);
	s[n - 1] = '\0';
	name = tgt_trim(s + 1);
	arg = name + strcspn(name, " \t");
	if (*arg)
		*arg++ = '\0';
	arg = tgt_unquote(tgt_trim(arg));
	if (strcasecmp(name, "target") == 0) {
		struct tgt_conf *c = p->c;
		struct tgt_target *t;
		if (p->target)
			return tgt_fail(
			    p, file, line,
			    "<target %s> inside <target %s> (opened at "
			    "%s:%u); expected </target> first",
			    arg, p->target->name, p->block_file, p->block_line);
		if (!*arg)
			return tgt_fail(p, file, line,
					"<target> without a name; expected "
					"<target iqn.YYYY-MM.domain:name>");
		for (size_t i = 0; i < c->nr_targets; i++) {
			if (strcmp(c->targets[i].name, arg) == 0)
				return tgt_fail(
				    p, file, line,
				    "target %s is defined twice (first at "
				    "%s:%u); merge the two blocks",
				    arg, c->targets[i].file,
				    c->targets[i].line);
		}
		t = tgt_grow(c->targets, &c->cap_targets, c->nr_targets,
			     sizeof(*t));
		if (!t)
			return -ENOMEM;
		c->targets = t;
		t = &c->targets[c->nr_targets];
		memset(t, 0, sizeof(*t));
		t->name = strdup(arg);
		if (!t->name)
			return -ENOMEM;
		t->file = file;
		t->line = line;
		c->nr_targets++;
		p->target = t;
		p->block_file = file;
		p->block_line = line;
		return 0;
	}
	if (strcasecmp(name, "backing-store") == 0 ||
	    strcasecmp(name, "direct-store") == 0) {
		struct tgt_target *t = p->target;
		if (!t || p->store)
			return tgt_fail(p, file, line,
					"<%s> %s; it belongs directly inside "
					"a <target> block",
					name,
					t ? "inside another store block"
					  : "outside <target>");
		if (!*arg)
			return tgt_fail(p, file, line,
					"<%s> without a path; expected <%s "
					"/path/to/file>",
					name, name);
		return tgt_store_add(t, name, arg, file, line, &p->store);
	}
	return tgt_fail(p, file, line,
			"unknown block <%s>; expected <target IQN>, or "
			"<backing-store PATH> or <direct-store PATH> inside it",
			name);
}

static int tgt_block_close(struct tgt_parser *p, char *s, const char *file,
			   unsigned line)
{
	size_t n = strlen(s);
	char *name;

	if (s[n - 1] != '>')
		return tgt_fail(p, file, line, "'%s' does not end with '>'", s);
	s[n - 1] = '\0';
	name = tgt_trim(s + 2);
	if (p->store) {
		const char *want =
		    p->store->direct ? "direct-store" : "backing-store";
		if (strcasecmp(name, want) != 0)
			return tgt_fail(p, file, line,
					"</%s> closes nothing open; expected "
					"</%s> for <%s %s> of %s:%u",
					name, want, want, p->store->path,
					p->store->file, p->store->line);
		p->store = NULL;
		return 0;
	}
	if (p->target && strcasecmp(name, "target") == 0) {
		p->target = NULL;
		return 0;
	}
	if (p->target)
		return tgt_fail(p, file, line,
				"</%s> closes nothing open; expected "
				"</target> for <target %s> of %s:%u",
				name, p->target->name, p->block_file,
				p->block_line);
	return tgt_fail(p, file, line,
			"</%s> without a matching <%s> before it", name, name);
}

static int tgt_line(struct tgt_parser *p, char *s, const char *file,
		    unsigned line)
{
	char *key, *val;
	struct tgt_kvs *k;

	if (s[0] == '<' && s[1] == '/')
		return tgt_block_close(p, s, file, line);
	if (s[0] == '<')
		return tgt_block_open(p, s, file, line);
	key = s;
	val = s + strcspn(s, " \t=");
	if (*val) {
		bool eq = *val == '=';
		*val++ = '\0';
		val = tgt_trim(val);
		if (!eq && *val == '=')
			val = tgt_trim(val + 1);
	}
	val = tgt_unquote(val);
	if (strcasecmp(key, "include") == 0)
		return tgt_include(p, val, file, line);
	if (p->target && !p->store &&
	    (strcasecmp(key, "backing-store") == 0 ||
	     strcasecmp(key, "direct-store") == 0)) {
		struct tgt_target *t = p->target;
		if (!*val)
			return tgt_fail(p, file, line,
					"%s without a path; expected '%s "
					"/path/to/file'",
					key, key);
		return tgt_store_add(t, key, val, file, line, NULL);
	}
	k = p->store	? &p->store->opts
	    : p->target ? &p->target->opts
			: &p->c->global;
	return tgt_kvs_add(k, key, val, file, line);
}

static int tgt_parse_file(struct tgt_parser *p, const char *path,
			  const char *from_file, unsigned from_line)
{
	char *real, *buf = NULL, *logical = NULL;
	size_t cap = 0, llen = 0;
	const char *name;
	unsigned line = 0, start = 0;
	ssize_t n;
	FILE *f;
	int rc = 0;

	if (p->depth >= TGT_CONF_MAX_DEPTH)
		return tgt_fail(p, from_file, from_line,
				"includes nest deeper than %d files; "
				"flatten them",
				TGT_CONF_MAX_DEPTH);
	if (p->c->nr_files >= TGT_CONF_MAX_FILES)
		return tgt_fail(p, from_file, from_line,
				"more than %d files included; is an include "
				"matching too much?",
				TGT_CONF_MAX_FILES);
	real = realpath(path, NULL);
	if (!real) {
		rc = -errno;
		if (from_file)
			return tgt_fail(p, from_file, from_line,
					"cannot read '%s': %s", path,
					strerror(-rc));
		snprintf(p->err, p->errlen, "%s: cannot read: %s%s", path,
			 strerror(-rc),
			 rc == -ENOENT ? " (check the path)" : "");
		return rc;
	}
	for (int i = 0; i < p->depth; i++) {
		if (strcmp(p->stack[i], real) == 0) {
			free(real);
			return tgt_fail(p, from_file, from_line,
					"'%s' includes itself (through %s); "
					"remove the include loop",
					path, p->stack[p->depth - 1]);
		}
	}
	f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		free(real);
		if (from_file)
			return tgt_fail(p, from_file, from_line,
					"cannot open '%s': %s", path,
					strerror(-rc));
		snprintf(p->err, p->errlen, "%s: cannot open: %s", path,
			 strerror(-rc));
		return rc;
	}
	{
		char **files =
		    realloc(p->c->files, (p->c->nr_files + 1) * sizeof(char *));
		char *copy = strdup(path);
		if (files)
			p->c->files = files;
		if (!files || !copy) {
			free(copy);
			free(real);
			fclose(f);
			return -ENOMEM;
		}
		p->c->files[p->c->nr_files++] = copy;
		name = copy;
	}
	p->stack[p->depth++] = real;
	while ((n = getline(&buf, &cap, f)) >= 0) {
		char *s;
		bool cont;
		line++;
		if (++p->lines > TGT_CONF_MAX_LINES) {
			rc = tgt_fail(p, name, line,
				      "more than %d lines in all; is this a "
				      "targets.conf?",
				      TGT_CONF_MAX_LINES);
			break;
		}
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = '\0';
		if (!llen)
			start = line;
		cont = n && buf[n - 1] == '\\';
		if (cont)
			buf[--n] = '\0';
		if (llen + (size_t)n + 1 > TGT_LINE_MAX) {
			rc = tgt_fail(p, name, start,
				      "a line longer than %d bytes",
				      TGT_LINE_MAX);
			break;
		}
		s = realloc(logical, llen + (size_t)n + 1);
		if (!s) {
			rc = -ENOMEM;
			break;
		}
		logical = s;
		memcpy(logical + llen, buf, (size_t)n + 1);
		llen += (size_t)n;
		if (cont)
			continue;
		llen = 0;
		tgt_strip_comment(logical);
		s = tgt_trim(logical);
		if (!*s)
			continue;
		rc = tgt_line(p, s, name, start);
		if (rc)
			break;
	}
	if (!rc && ferror(f))
		rc = tgt_fail(p, name, line, "read error");
	free(buf);
	free(logical);
	fclose(f);
	free(p->stack[--p->depth]);
	return rc;
}

int tgt_conf_parse(const char *path, const char *conf_dir,
		   struct tgt_conf **out, char *err, size_t errlen)
{
	struct tgt_parser p = {
	    .conf_dir = conf_dir, .err = err, .errlen = errlen};
	int rc;

	*out = NULL;
	p.c = calloc(1, sizeof(*p.c));
	if (!p.c)
		return -ENOMEM;
	rc = tgt_parse_file(&p, path, NULL, 0);
	if (!rc && p.store)
		rc = tgt_fail(
		    &p, p.store->file, p.store->line,
		    "<%s %s> is never closed; expected </%s>",
		    p.store->direct ? "direct-store" : "backing-store",
		    p.store->path,
		    p.store->direct ? "direct-store" : "backing-store");
	else if (!rc && p.target)
		rc = tgt_fail(&p, p.block_file, p.block_line,
			      "<target %s> is never closed; expected "
			      "</target>",
			      p.target->name);
	if (rc) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "%s: out of memory", path);
		tgt_conf_free(p.c);
		return rc;
	}
	*out = p.c;
	return 0;
}

/* ---- the mapping --------------------------------------------------- */

struct tgt_map {
	const struct tgt_conf *c;
	FILE *report;
	unsigned issues;
	json_t *accounts; /* user -> {user, password, file, line} */
	json_t *acct_list;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 4, 5))) static void tgt_note(struct tgt_map *m,
							   const char *file,
							   unsigned line,
							   const char *fmt, ...)
{
	va_list ap;

	m->issues++;
	if (!m->report)
		return;
	fprintf(m->report, "%s:%u: ", file, line);
	va_start(ap, fmt);
	vfprintf(m->report, fmt, ap);
	va_end(ap);
	fputc('\n', m->report);
}

/* A note for an option that may be a target-wide default: once. */
#define tgt_note_kv(m, kv, ...)                                                \
	do {                                                                   \
		if (!(kv)->reported) {                                         \
			((struct tgt_kv *)(kv))->reported = true;              \
			tgt_note(m, (kv)->file, (kv)->line, __VA_ARGS__);      \
		}                                                              \
	} while (0)

static const struct tgt_kv *tgt_find(const struct tgt_kvs *k, const char *key)
{
	const struct tgt_kv *found = NULL;

	for (size_t i = 0; i < k->n; i++) {
		if (strcasecmp(k->v[i].key, key) == 0)
			found = &k->v[i]; /* the last one counts */
	}
	return found;
}

static int tgt_bool(const char *v)
{
	if (!strcasecmp(v, "1") || !strcasecmp(v, "yes") ||
	    !strcasecmp(v, "on") || !strcasecmp(v, "true"))
		return 1;
	if (!strcasecmp(v, "0") || !strcasecmp(v, "no") ||
	    !strcasecmp(v, "off") || !strcasecmp(v, "false"))
		return 0;
	return -1;
}

static int tgt_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* The LUN options: in a store block, on the target as every LUN's
 * default. */
static const char *const tgt_lun_keys[] = {
    "lun",
    "device-type",
    "bs-type",
    "bsopts",
    "bsoflags",
    "block-size",
    "readonly",
    "write-cache",
    "vendor_id",
    "product_id",
    "product_rev",
    "scsi_id",
    "scsi_sn",
    "lbppbe",
    "la_lun",
    "params",
    "mode_page",
    "removable",
    "sense_format",
    "online",
    "path",
    "allow-in-use",
    "thin_provisioning",
    NULL,
};

static const char *const tgt_iscsi_keys[] = {
    "MaxRecvDataSegmentLength",
    "MaxXmitDataSegmentLength",
    "HeaderDigest",
    "DataDigest",
    "InitialR2T",
    "MaxOutstandingR2T",
    "ImmediateData",
    "FirstBurstLength",
    "MaxBurstLength",
    "DataPDUInOrder",
    "DataSequenceInOrder",
    "ErrorRecoveryLevel",
    "IFMarker",
    "OFMarker",
    "DefaultTime2Wait",
    "DefaultTime2Retain",
    "OFMarkInt",
    "IFMarkInt",
    "MaxConnections",
    "RDMAExtensions",
    "TargetRecvDataSegmentLength",
    "InitiatorRecvDataSegmentLength",
    "MaxOutstandingUnexpectedPDUs",
    "MaxQueueCmd",
    NULL,
};

static bool tgt_in(const char *const *list, const char *key)
{
	for (; *list; list++) {
		if (strcasecmp(*list, key) == 0)
			return true;
	}
	return false;
}

/* Looks a LUN option up in the store's block, then on the target. */
static const struct tgt_kv *tgt_lun_opt(const struct tgt_store *st,
					const struct tgt_target *t,
					const char *key)
{
	const struct tgt_kv *kv = tgt_find(&st->opts, key);

	return kv ? kv : tgt_find(&t->opts, key);
}

/* One "params" entry (key=value) of tgtadm --params. */
static void tgt_lun_param(struct tgt_map *m, const struct tgt_kv *kv,
			  const char *key, const char *val, json_t *lun)
{
	int b = tgt_bool(val);

	if ((!strcasecmp(key, "thin_provisioning") ||
	     !strcasecmp(key, "removable") || !strcasecmp(key, "readonly")) &&
	    b >= 0) {
		const char *f = !strcasecmp(key, "thin_provisioning") ? "thin"
				: !strcasecmp(key, "removable") ? "removable"
								: "readonly";
		json_object_set_new(lun, f, json_boolean(b));
		return;
	}
	if (!strcasecmp(key, "online") && b == 1)
		return;
	tgt_note_kv(m, kv,
		    "%s=%s: lunar has no equivalent for this LU parameter; "
		    "it is left out (the LU uses lunar's own value)",
		    key, val);
}

static void tgt_params(struct tgt_map *m, const struct tgt_kv *kv, json_t *lun)
{
	char *copy = strdup(kv->val), *save = NULL;

	if (!copy)
		return;
	for (char *tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq) {
			tgt_note_kv(m, kv,
				    "params: '%s' is not key=value; left out",
				    tok);
			continue;
		}
		*eq = '\0';
		tgt_lun_param(m, kv, tgt_trim(tok), tgt_trim(eq + 1), lun);
	}
	free(copy);
}

static json_t *tgt_lun(struct tgt_map *m, const struct tgt_target *t,
		       const struct tgt_store *st, uint64_t number)
{
	const struct tgt_kv *kv;
	const char *dtype = "disk", *bstype = NULL;
	uint64_t bsz = 0, v;
	json_t *lun = json_object();
	struct stat sb;

	if (!lun)
		return NULL;
	json_object_set_new(lun, "lun", json_integer((json_int_t)number));
	if ((kv = tgt_lun_opt(st, t, "device-type"))) {
		if (!strcasecmp(kv->val, "disk") ||
		    !strcasecmp(kv->val, "cd") ||
		    !strcasecmp(kv->val, "tape") ||
		    !strcasecmp(kv->val, "changer")) {
			dtype = kv->val;
		} else if (!strcasecmp(kv->val, "ssc")) {
			dtype = "tape";
		} else {
			tgt_note(m, st->file, st->line,
				 "%s: device-type %s (from %s:%u) has no "
				 "equivalent in lunar (it has disk, cd, tape, "
				 "changer); this LUN is left out",
				 st->path, kv->val, kv->file, kv->line);
			json_decref(lun);
			return json_null();
		}
	}
	if ((kv = tgt_lun_opt(st, t, "bs-type"))) {
		if (!strcasecmp(kv->val, "rdwr") ||
		    !strcasecmp(kv->val, "aio") ||
		    !strcasecmp(kv->val, "rbd") ||
		    !strcasecmp(kv->val, "null")) {
			bstype = kv->val;
		} else if (!strcasecmp(kv->val, "mmap")) {
			bstype = "rdwr";
			tgt_note_kv(m, kv,
				    "bs-type mmap: lunar has no mmap store; "
				    "served with rdwr (same data, read/write "
				    "system calls)");
		} else if (!strcasecmp(kv->val, "ssc") &&
			   !strcasecmp(dtype, "tape")) {
			tgt_note_kv(
			    m, kv,
			    "bs-type ssc: tgt's tape files (tgtimg) are not "
			    "lunar's cartridge format; make one with "
			    "`lunarctl tape create FILE --size SIZE` and copy "
			    "the data over with a tape tool");
		} else if (!strcasecmp(kv->val, "smc") &&
			   !strcasecmp(dtype, "changer")) {
			tgt_note_kv(m, kv,
				    "bs-type smc: a lunar changer keeps its "
				    "own state; add slots, drives and "
				    "cartridges with `lunarctl changer ...`");
		} else {
			tgt_note(m, kv->file, kv->line,
				 "%s: bs-type %s has no equivalent in lunar "
				 "(it has rdwr, aio, uring, null, rbd); this "
				 "LUN is left out",
				 st->path, kv->val);
			json_decref(lun);
			return json_null();
		}
	}
	if (strcasecmp(dtype, "disk"))
		json_object_set_new(lun, "type", json_string(dtype));
	json_object_set_new(lun, "backing", json_string(st->path));
	if (bstype)
		json_object_set_new(lun, "bstype", json_string(bstype));
	/* tgt's aio store opens its file O_DIRECT; lunar's wants it said. */
	if (bstype && !strcasecmp(bstype, "aio"))
		json_object_set_new(lun, "direct", json_true());
	if ((!bstype || (strcmp(bstype, "rbd") && strcmp(bstype, "null"))) &&
	    stat(st->path, &sb) < 0)
		tgt_note(m, st->file, st->line,
			 "%s does not exist here; tgt skips such a LUN and "
			 "lunard cannot create it: create the file, or "
			 "import on the machine that has it",
			 st->path);
	if (st->direct)
		tgt_note(m, st->file, st->line,
			 "direct-store %s: lunar serves the device as a "
			 "backing store with its own vendor, product and "
			 "serial, not the device's (sg_inq); set lunar's "
			 "\"serial\" if initiators need the old one",
			 st->path);
	if ((kv = tgt_lun_opt(st, t, "readonly"))) {
		int b = tgt_bool(kv->val);
		if (b < 0)
			tgt_note_kv(m, kv,
				    "readonly %s: expected 0 or 1; left "
				    "read-write",
				    kv->val);
		else if (b)
			json_object_set_new(lun, "readonly", json_true());
	}
	if ((kv = tgt_lun_opt(st, t, "bsoflags"))) {
		char *copy = strdup(kv->val), *save = NULL;
		for (char *f = copy ? strtok_r(copy, ":, ", &save) : NULL; f;
		     f = strtok_r(NULL, ":, ", &save)) {
			if (!strcasecmp(f, "direct"))
				json_object_set_new(lun, "direct", json_true());
			else
				tgt_note_kv(m, kv,
					    "bsoflags %s: lunar has no "
					    "equivalent (it writes through "
					    "when the initiator clears WCE or "
					    "sets FUA); left out",
					    f);
		}
		free(copy);
	}
	if ((kv = tgt_lun_opt(st, t, "block-size"))) {
		if (tgt_u64(kv->val, UINT32_MAX, &bsz) == 0)
			json_object_set_new(lun, "block_size",
					    json_integer((json_int_t)bsz));
		else
			tgt_note_kv(m, kv,
				    "block-size %s: expected a number of "
				    "bytes such as 512 or 4096; left out",
				    kv->val);
	}
	if ((kv = tgt_lun_opt(st, t, "lbppbe"))) {
		if (tgt_u64(kv->val, 14, &v) == 0)
			json_object_set_new(
			    lun, "physical_block_size",
			    json_integer((json_int_t)((bsz ? bsz : 512) << v)));
		else
			tgt_note_kv(m, kv,
				    "lbppbe %s: expected 0..14; left out",
				    kv->val);
	}
	if ((kv = tgt_lun_opt(st, t, "scsi_sn"))) {
		bool ok = strlen(kv->val) <= TGT_SERIAL_MAX && kv->val[0];
		for (const char *s = kv->val; ok && *s; s++)
			ok = (unsigned char)*s > 0x20 &&
			     (unsigned char)*s < 0x7f;
		if (ok && kv == tgt_find(&st->opts, "scsi_sn"))
			json_object_set_new(lun, "serial",
					    json_string(kv->val));
		else if (ok)
			tgt_note_kv(m, kv,
				    "scsi_sn %s on the target: tgt gives "
				    "every LUN this serial, lunar wants one "
				    "per LU; left out (lunar derives them)",
				    kv->val);
		else
			tgt_note_kv(m, kv,
				    "scsi_sn '%s': lunar wants 1..%d "
				    "printable characters without spaces; "
				    "left out (lunar derives one)",
				    kv->val, TGT_SERIAL_MAX);
	}
	if ((kv = tgt_lun_opt(st, t, "removable"))) {
		int b = tgt_bool(kv->val);
		if (b >= 0)
			json_object_set_new(lun, "removable", json_boolean(b));
		else
			tgt_note_kv(m, kv, "removable %s: expected 0 or 1",
				    kv->val);
	}
	if ((kv = tgt_lun_opt(st, t, "thin_provisioning"))) {
		int b = tgt_bool(kv->val);
		if (b >= 0)
			json_object_set_new(lun, "thin", json_boolean(b));
		else
			tgt_note_kv(m, kv,
				    "thin_provisioning %s: expected 0 or 1",
				    kv->val);
	}
	if ((kv = tgt_lun_opt(st, t, "bsopts"))) {
		if (bstype && !strcmp(bstype, "rbd"))
			json_object_set_new(lun, "bsopts",
					    json_string(kv->val));
		else
			tgt_note_kv(m, kv,
				    "bsopts '%s': lunar takes store options "
				    "only for rbd; left out",
				    kv->val);
	}
	if ((kv = tgt_lun_opt(st, t, "write-cache")) && tgt_bool(kv->val) != 1)
		tgt_note_kv(m, kv,
			    "write-cache %s: lunar has no setting for it yet; "
			    "the LU starts with its write cache on, as tgt's "
			    "default; an initiator can turn it off (sdparm "
			    "--clear WCE)",
			    kv->val);
	if ((kv = tgt_lun_opt(st, t, "params")))
		tgt_params(m, kv, lun);
	static const char *const no_equiv[] = {
	    "vendor_id", "product_id",	 "product_rev", "scsi_id", "la_lun",
	    "mode_page", "sense_format", "path",	NULL,
	};
	for (const char *const *k = no_equiv; *k; k++) {
		if ((kv = tgt_lun_opt(st, t, *k)))
			tgt_note_kv(m, kv,
				    "%s %s: lunar has no equivalent for it "
				    "yet; left out (the LU reports lunar's "
				    "own)",
				    *k, kv->val);
	}
	if ((kv = tgt_lun_opt(st, t, "online")) && tgt_bool(kv->val) != 1)
		tgt_note_kv(m, kv,
			    "online %s: lunar has no offline LUs; the LUN is "
			    "served",
			    kv->val);
	return lun;
}

/* Adds an account (first definition wins, as in tgt-admin); false when
 * the secret is unusable or conflicts. */
static bool tgt_account(struct tgt_map *m, const struct tgt_kv *kv,
			const char *what, char *user_out, size_t outlen)
{
	char *copy = strdup(kv->val), *user, *pass;
	json_t *have;
	bool ok = false;
	size_t plen;

	if (!copy)
		return false;
	user = tgt_trim(copy);
	pass = user + strcspn(user, " \t");
	if (*pass)
		*pass++ = '\0';
	pass = tgt_trim(pass);
	plen = strlen(pass);
	if (!*user || !*pass || strcspn(pass, " \t") != plen) {
		tgt_note(m, kv->file, kv->line,
			 "%s: expected '%s USER PASSWORD'; left out", what,
			 what);
		goto out;
	}
	snprintf(user_out, outlen, "%s", user);
	if (plen < TGT_SECRET_MIN || plen > TGT_SECRET_MAX) {
		tgt_note(m, kv->file, kv->line,
			 "%s %s: its password is %zu bytes; lunar wants "
			 "CHAP secrets of %d..%d bytes; the account is left "
			 "out: create it with `lunarctl account create %s "
			 "--password NEWSECRET` and give the initiators the "
			 "new secret",
			 what, user, plen, TGT_SECRET_MIN, TGT_SECRET_MAX,
			 user);
		goto out;
	}
	have = json_object_get(m->accounts, user);
	if (have) {
		if (strcmp(json_string_value(json_object_get(have, "password")),
			   pass) == 0) {
			ok = true;
		} else {
			tgt_note(m, kv->file, kv->line,
				 "%s %s: the account was defined with another "
				 "password before; lunar has one password per "
				 "account, the first is kept (as tgt-admin "
				 "does)",
				 what, user);
			ok = true;
		}
		goto out;
	}
	have = json_pack("{s:s, s:s}", "user", user, "password", pass);
	if (have) {
		json_object_set(m->accounts, user, have);
		json_array_append_new(m->acct_list, have);
		ok = true;
	}
out:
	explicit_bzero(copy, strlen(kv->val));
	free(copy);
	return ok;
}

static int tgt_target(struct tgt_map *m, struct tgt_target *t, json_t **out)
{
	json_t *o = json_object(), *luns = json_array(), *acls = json_array();
	json_t *users = json_array(), *names = json_array();
	uint64_t *numbers = NULL;
	bool chap_lost = false, by_address = false, has_out = false;
	const struct tgt_kv *all = NULL;
	int rc = 0;

	/* "initiator-address ALL" among others admits every address. */
	for (size_t i = 0; i < t->opts.n && !all; i++) {
		if (!strcasecmp(t->opts.v[i].key, "initiator-address") &&
		    !strcasecmp(t->opts.v[i].val, "ALL"))
			all = &t->opts.v[i];
	}

	*out = NULL;
	if (!o || !luns || !acls || !users || !names)
		goto nomem;
	json_object_set_new(o, "name", json_string(t->name));
	/* The target's own options. */
	for (size_t i = 0; i < t->opts.n; i++) {
		struct tgt_kv *kv = &t->opts.v[i];
		char user[256];
		if (!strcasecmp(kv->key, "incominguser")) {
			if (tgt_account(m, kv, "incominguser", user,
					sizeof(user))) {
				json_t *s = json_string(user);
				bool dup = false;
				size_t j;
				json_t *u;
				json_array_foreach(users, j, u) dup =
				    dup || json_equal(u, s);
				if (dup)
					json_decref(s);
				else
					json_array_append_new(users, s);
			} else {
				chap_lost = true;
			}
		} else if (!strcasecmp(kv->key, "outgoinguser")) {
			if (has_out) {
				tgt_note(m, kv->file, kv->line,
					 "a second outgoinguser: a target "
					 "has one (tgt-admin too uses the "
					 "first); left out");
			} else if (tgt_account(m, kv, "outgoinguser", user,
					       sizeof(user))) {
				json_object_set_new(o, "outgoing_user",
						    json_string(user));
				has_out = true;
			}
		} else if (!strcasecmp(kv->key, "initiator-name")) {
			json_array_append_new(names, json_string(kv->val));
		} else if (!strcasecmp(kv->key, "initiator-address")) {
			if (all)
				continue;
			by_address = true;
			tgt_note(m, kv->file, kv->line,
				 "initiator-address %s: lunar has no ACLs by "
				 "address yet (issue 16); %s is closed to "
				 "every initiator instead of open to all: "
				 "admit initiators by name with `lunarctl "
				 "acl add %s INITIATOR-IQN` (or ALL), or "
				 "restrict addresses with a firewall",
				 kv->val, t->name, t->name);
		} else if (!strcasecmp(kv->key, "driver")) {
			if (strcasecmp(kv->val, "iscsi"))
				tgt_note(m, kv->file, kv->line,
					 "driver %s: lunar serves iSCSI over "
					 "TCP only; the target is served "
					 "over iSCSI",
					 kv->val);
		} else if (!strcasecmp(kv->key, "controller_tid")) {
			tgt_note(m, kv->file, kv->line,
				 "controller_tid %s: lunar names targets, it "
				 "has no target ids to choose; left out",
				 kv->val);
		} else if (tgt_in(tgt_iscsi_keys, kv->key)) {
			tgt_note(m, kv->file, kv->line,
				 "%s %s: lunar has no per-target iSCSI "
				 "parameters yet (issue 16); the target "
				 "negotiates lunard's defaults",
				 kv->key, kv->val);
		} else if (!tgt_in(tgt_lun_keys, kv->key)) {
			tgt_note(m, kv->file, kv->line,
				 "unknown option '%s' in <target %s>; "
				 "left out (check its spelling against "
				 "targets.conf.example)",
				 kv->key, t->name);
		}
	}
	/* ACLs: tgt-admin binds ALL unless initiator-address is given; an
	 * initiator-name list narrows it to those names. */
	if (chap_lost) {
		tgt_note(m, t->file, t->line,
			 "%s required CHAP but an account was left out; the "
			 "target is closed (no ACL) so that nobody logs in "
			 "without CHAP: create the account, bind it "
			 "(`lunarctl account bind %s USER`), then `lunarctl "
			 "acl add %s ALL`",
			 t->name, t->name, t->name);
	} else if (by_address) {
		size_t j;
		json_t *n;
		json_array_foreach(names, j, n)
		    tgt_note(m, t->file, t->line,
			     "initiator-name %s of %s is not admitted either, "
			     "since lunar cannot also check its address: "
			     "`lunarctl acl add %s %s` once you have checked "
			     "it",
			     json_string_value(n), t->name, t->name,
			     json_string_value(n));
	} else if (json_array_size(names)) {
		json_array_extend(acls, names);
	} else {
		json_array_append_new(acls, json_string("ALL"));
	}
	json_object_set(o, "acls", acls);
	if (json_array_size(users))
		json_object_set(o, "incoming_users", users);

	/* LUN numbers: the explicit ones first, then the lowest free. */
	if (!t->nr_stores)
		goto no_luns;
	numbers = calloc(t->nr_stores + 1, sizeof(*numbers));
	if (!numbers)
		goto nomem;
	for (size_t i = 0; i < t->nr_stores; i++) {
		const struct tgt_store *st = &t->stores[i];
		/* "lun N" on the target numbers its store. */
		const struct tgt_kv *kv = tgt_lun_opt(st, t, "lun");
		uint64_t n;
		if (!kv)
			continue;
		if (tgt_u64(kv->val, TGT_MAX_LUN, &n) || n == 0) {
			snprintf(m->err, m->errlen,
				 "%s:%u: lun %s: expected a LUN number "
				 "1..%d (tgt keeps LUN 0 for itself)",
				 kv->file, kv->line, kv->val, TGT_MAX_LUN);
			rc = -EINVAL;
			goto out;
		}
		for (size_t j = 0; j < i; j++) {
			if (numbers[j] == n) {
				snprintf(m->err, m->errlen,
					 "%s:%u: lun %llu of %s is already "
					 "taken by %s (%s:%u); give each "
					 "store its own number",
					 kv->file, kv->line,
					 (unsigned long long)n, st->path,
					 t->stores[j].path, t->stores[j].file,
					 t->stores[j].line);
				rc = -EINVAL;
				goto out;
			}
		}
		numbers[i] = n;
	}
	/* As tgt-admin: backing-stores before direct-stores. */
	for (size_t k = 0; k < 2 * t->nr_stores; k++) {
		size_t i = k % t->nr_stores;
		uint64_t n = 1;
		bool taken = true;
		if (numbers[i] || t->stores[i].direct != (k >= t->nr_stores))
			continue;
		while (taken && n <= TGT_MAX_LUN) {
			taken = false;
			for (size_t j = 0; j < t->nr_stores; j++)
				taken = taken || numbers[j] == n;
			if (taken)
				n++;
		}
		numbers[i] = n;
	}
	for (size_t i = 0; i < t->nr_stores; i++) {
		const struct tgt_store *st = &t->stores[i];
		for (size_t k = 0; k < st->opts.n; k++) {
			const struct tgt_kv *kv = &st->opts.v[k];
			if (!tgt_in(tgt_lun_keys, kv->key))
				tgt_note(m, kv->file, kv->line,
					 "unknown option '%s' in <%s %s>; "
					 "left out",
					 kv->key,
					 st->direct ? "direct-store"
						    : "backing-store",
					 st->path);
		}
		json_t *l = tgt_lun(m, t, st, numbers[i]);
		if (!l)
			goto nomem;
		if (json_is_null(l))
			json_decref(l);
		else
			json_array_append_new(luns, l);
	}
no_luns:
	json_object_set(o, "luns", luns);
	*out = o;
	o = NULL;
	goto out;
nomem:
	rc = -ENOMEM;
	snprintf(m->err, m->errlen, "out of memory");
out:
	free(numbers);
	json_decref(o);
	json_decref(luns);
	json_decref(acls);
	json_decref(users);
	json_decref(names);
	return rc;
}

int tgt_conf_to_json(const struct tgt_conf *c, json_t **out, FILE *report,
		     unsigned *issues, char *err, size_t errlen)
{
	struct tgt_map m = {
	    .c = c, .report = report, .err = err, .errlen = errlen};
	json_t *targets = json_array();
	int rc = 0;

	*out = NULL;
	*issues = 0;
	m.accounts = json_object();
	m.acct_list = json_array();
	if (!targets || !m.accounts || !m.acct_list) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c->global.n; i++) {
		const struct tgt_kv *kv = &c->global.v[i];
		if (!strcasecmp(kv->key, "default-driver")) {
			if (strcasecmp(kv->val, "iscsi"))
				tgt_note(&m, kv->file, kv->line,
					 "default-driver %s: lunar serves "
					 "iSCSI over TCP only",
					 kv->val);
		} else if (!strcasecmp(kv->key, "ignore-errors") ||
			   !strcasecmp(kv->key, "control-port")) {
			tgt_note(&m, kv->file, kv->line,
				 "%s %s: a tgt-admin setting with no meaning "
				 "for lunar; left out",
				 kv->key, kv->val);
		} else if (!strncasecmp(kv->key, "iSNS", 4)) {
			tgt_note(&m, kv->file, kv->line,
				 "%s %s: iSNS is lunard's command-line option "
				 "(--isns SERVER[:PORT]); give it there",
				 kv->key, kv->val);
		} else if (!strcasecmp(kv->key, "incomingdiscoveryuser") ||
			   !strcasecmp(kv->key, "outgoingdiscoveryuser")) {
			tgt_note(&m, kv->file, kv->line,
				 "%s: lunar has no CHAP for discovery "
				 "sessions; discovery stays open (targets "
				 "keep their own CHAP)",
				 kv->key);
		} else {
			tgt_note(&m, kv->file, kv->line,
				 "'%s' outside any <target>: tgt-admin does "
				 "not read it there; left out (move it into "
				 "the targets it is for)",
				 kv->key);
		}
	}
	for (size_t i = 0; i < c->nr_targets && !rc; i++) {
		json_t *t;
		rc = tgt_target(&m, &c->targets[i], &t);
		if (!rc)
			json_array_append_new(targets, t);
	}
	if (rc)
		goto out;
	*out = json_pack("{s:i, s:O, s:O}", "version", 1, "accounts",
			 m.acct_list, "targets", targets);
	if (!*out) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
	}
out:
	*issues = m.issues;
	json_decref(targets);
	json_decref(m.accounts);
	json_decref(m.acct_list);
	return rc;
}
