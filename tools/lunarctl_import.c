/*
 * `lunarctl import-tgt`: moving from tgt. Reads a targets.conf and what it
 * includes (tgt_conf.c), writes lunar's configuration (to --output,
 * atomically: temporary file, fsync, rename; or to stdout) and reports on
 * stderr, one "FILE:LINE: ..." line each, what has no equivalent in lunar
 * and what to do about it (docs/migrating-from-tgt.md). With --apply, the
 * written file is then loaded into a running lunard (config.load).
 *
 * Exit status: 0 everything was mapped, 1 something has no equivalent
 * (the configuration is written all the same, for review) or lunard
 * refused --apply, 2 a parse error, an unreadable file or a usage error
 * (nothing written).
 */
#include "lunarctl.h"
#include "tgt_conf.h"

#include <sys/stat.h>

#include "util/file.h"

int ctl_import_tgt(struct ctl *c, const struct ctl_cmd *cmd, int argc,
		   char **argv)
{
	const char *output = NULL, *conf_dir = NULL, *pos[1];
	bool force = false, apply = false;
	struct ctl_opt opts[] = {
	    {"output", true, &output, NULL},
	    {"conf-dir", true, &conf_dir, NULL},
	    {"force", false, NULL, &force},
	    {"apply", false, NULL, &apply},
	    {0},
	};
	struct tgt_conf *conf;
	json_t *root;
	unsigned issues = 0;
	char err[1024];
	struct stat st;
	int rc;

	ctl_args(cmd, argc, argv, opts, pos, 1, 1);
	if (apply && !output)
		ctl_usage_error(cmd, "--apply needs --output FILE: lunard "
				     "loads the configuration from a file");
	if (output && !force && lstat(output, &st) == 0)
		ctl_usage_error(cmd,
				"%s exists; give --force to replace it, or "
				"another --output",
				output);
	rc = tgt_conf_parse(pos[0], conf_dir, &conf, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "lunarctl import-tgt: %s\n", err);
		if (rc == -EINVAL)
			fprintf(stderr,
				"lunarctl import-tgt: nothing was "
				"written; fix the file and run again\n");
		return 2;
	}
	rc = tgt_conf_to_json(conf, &root, stderr, &issues, err, sizeof(err));
	tgt_conf_free(conf);
	if (rc) {
		fprintf(stderr, "lunarctl import-tgt: %s\n", err);
		fprintf(stderr, "lunarctl import-tgt: nothing was written; "
				"fix the file and run again\n");
		return 2;
	}
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!text)
		ctl_die("out of memory");
	size_t len = strlen(text);
	if (output) {
		char *line = realloc(text, len + 2);
		enum util_file_stage stage;
		if (!line)
			ctl_die("out of memory");
		text = line;
		text[len++] = '\n';
		text[len] = '\0';
		rc = util_file_replace(output, text, len, &stage);
		explicit_bzero(text, len);
		free(text);
		if (rc)
			ctl_die("import-tgt: cannot write %s: %s%s", output,
				strerror(-rc),
				stage == UTIL_FILE_CREATE
				    ? "; check that its directory exists and "
				      "is writable"
				    : "");
	} else {
		puts(text);
		explicit_bzero(text, len);
		free(text);
		if (fflush(stdout) != 0)
			ctl_die("import-tgt: writing to stdout: %s",
				strerror(errno));
	}
	fprintf(stderr,
		"lunarctl import-tgt: %u item%s with no exact equivalent "
		"(see above)%s%s\n",
		issues, issues == 1 ? "" : "s", output ? "; wrote " : "",
		output ? output : "");
	if (apply) {
		char *path = ctl_abs_path(output);
		json_t *res =
		    ctl_call(c, json_pack("{s:s, s:s}", "cmd", "config.load",
					  "file", path));
		json_decref(res);
		fprintf(stderr, "lunarctl import-tgt: lunard loaded %s\n",
			path);
		free(path);
	}
	return issues ? 1 : 0;
}
