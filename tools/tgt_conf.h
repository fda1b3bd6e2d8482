/*
 * tgt's targets.conf (the file tgt-admin reads) as lunar's configuration:
 * the reader of the Config::General syntax tgt-admin uses (blocks,
 * "key value" lines, # comments, backslash continuations, include globs)
 * and the mapping of what it says onto the JSON of
 * docs/control-protocol.md, "The configuration object". Used by
 * `lunarctl import-tgt` (lunarctl_import.c) and its unit test; talks to no
 * daemon.
 */
#ifndef LUNAR_TOOLS_TGT_CONF_H
#define LUNAR_TOOLS_TGT_CONF_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define TGT_CONF_MAX_DEPTH 8	/* include nesting */
#define TGT_CONF_MAX_FILES 1024 /* files read, includes counted */
#define TGT_CONF_MAX_LINES 1000000

/* One "key value" line, where it was. */
struct tgt_kv {
	char *key, *val;
	const char *file;
	unsigned line;
	bool reported; /* a default reported once, not per LUN */
};

struct tgt_kvs {
	struct tgt_kv *v;
	size_t n, cap;
};

/* A backing-store or direct-store: a line, or a <backing-store> block. */
struct tgt_store {
	char *path;
	bool direct;
	const char *file;
	unsigned line;
	struct tgt_kvs opts; /* the block's lines; empty for a line */
};

struct tgt_target {
	char *name;
	const char *file;
	unsigned line;
	struct tgt_kvs opts; /* everything but the stores */
	struct tgt_store *stores;
	size_t nr_stores, cap_stores;
};

struct tgt_conf {
	struct tgt_kvs global;
	struct tgt_target *targets;
	size_t nr_targets, cap_targets;
	char **files; /* the names the kv entries point into */
	size_t nr_files;
};

/*
 * Reads path and what it includes. conf_dir (may be NULL) stands for
 * /etc/tgt: includes under /etc/tgt/ are read under it instead, and
 * relative ones are relative to it (without it, to the including file's
 * directory). Returns 0 and *out (tgt_conf_free it), or -EINVAL with
 * "FILE:LINE: what is wrong; what was expected" in err, or -errno.
 */
int tgt_conf_parse(const char *path, const char *conf_dir,
		   struct tgt_conf **out, char *err, size_t errlen);
void tgt_conf_free(struct tgt_conf *c);

/*
 * The lunar configuration for c in *out. Every item with no equivalent,
 * or only an approximate one, is a line "FILE:LINE: ..." on report (may
 * be NULL) saying what lunar does instead and what to do; *issues counts
 * them. Returns 0, or -EINVAL with a FILE:LINE message in err for what
 * cannot be turned into any configuration (a LUN number used twice, a
 * target defined twice), or -ENOMEM.
 */
int tgt_conf_to_json(const struct tgt_conf *c, json_t **out, FILE *report,
		     unsigned *issues, char *err, size_t errlen);

#endif
