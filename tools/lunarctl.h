/*
 * What lunarctl's two front ends share: the native command line
 * (lunarctl.c) and the tgtadm compatibility (lunarctl_tgtadm.c) both turn
 * arguments into control-protocol requests through these helpers.
 */
#ifndef LUNAR_TOOLS_LUNARCTL_H
#define LUNAR_TOOLS_LUNARCTL_H

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_DEFAULT_CONTROL "/run/lunar/lunard.sock"
#define CTL_MAX_LUN	    16383

struct ctl {
	const char *path;
	int fd;
	bool json;
	char *buf;
	size_t len, cap;
};

struct ctl_cmd;
typedef int (*ctl_run_fn)(struct ctl *c, const struct ctl_cmd *cmd, int argc,
			  char **argv);

struct ctl_cmd {
	const char *group;
	const char *action; /* NULL: a one-word command */
	const char *args;
	const char *help;
	ctl_run_fn run;
};

/* The helpers both front ends use (lunarctl.c). */
__attribute__((format(printf, 2, 3), noreturn)) void
ctl_usage_error(const struct ctl_cmd *cmd, const char *fmt, ...);
__attribute__((format(printf, 1, 2), noreturn)) void ctl_die(const char *fmt,
							     ...);
json_t *ctl_call(struct ctl *c, json_t *req);
int ctl_request(struct ctl *c, json_t *req, json_t **result, char **msg);
bool ctl_json_out(struct ctl *c, json_t *res);
const char *jstr(json_t *o, const char *key);
long long jint(json_t *o, const char *key);
bool jbool(json_t *o, const char *key);
/* An id (session ids are integers, or decimal strings above 2^63-1) as
 * text. */
void jid(json_t *o, const char *key, char *out, size_t outlen);
void ctl_print_help(FILE *f);
void ctl_human_size(uint64_t bytes, char *out, size_t outlen);
int ctl_parse_u64(const char *s, uint64_t *out);
int ctl_parse_size(const char *s, uint64_t *out);
char *ctl_abs_path(const char *p);

/* tgtadm's command line (lunarctl_tgtadm.c). */
/* Per-command options for ctl_args: "--NAME" (without the dashes). */
struct ctl_opt {
	const char *name; /* without "--" */
	bool has_arg;
	const char **val; /* has_arg */
	bool *flag;	  /* !has_arg */
};

/* Splits argv into positionals (npos_min..npos_max) and --options, which
 * may come anywhere. Exits 2 on anything unexpected. */
int ctl_args(const struct ctl_cmd *cmd, int argc, char **argv,
	     struct ctl_opt *opts, const char **pos, int npos_min,
	     int npos_max);
uint64_t ctl_lun_arg(const struct ctl_cmd *cmd, const char *s);

int ctl_tgtadm(struct ctl *c, int argc, char **argv);

/* lunarctl_stats.c */
int ctl_stats(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);
int ctl_top(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv);

/* lunarctl_import.c */
int ctl_import_tgt(struct ctl *c, const struct ctl_cmd *cmd, int argc,
		   char **argv);

#endif
