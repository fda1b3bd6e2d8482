/*
 * lunarctl stats and lunarctl top: the statistics of stats.show
 * (docs/control-protocol.md) as a table of totals, and as a live view of
 * rates that redraws in place with ANSI escapes, like top(1): rates per
 * second come from two snapshots one interval apart; q or Ctrl-C quits and
 * the terminal is put back as it was.
 */
#include "lunarctl.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>

/* ---- reading the JSON ---------------------------------------------- */

static uint64_t st_u64(json_t *o, const char *key)
{
	return (uint64_t)json_integer_value(json_object_get(o, key));
}

static uint64_t st_cmds(json_t *stats, const char *cls)
{
	return st_u64(json_object_get(stats, "commands"), cls);
}

static uint64_t st_lat_ns(json_t *stats, const char *cls)
{
	return st_u64(json_object_get(json_object_get(stats, "latency"), cls),
		      "sum_ns");
}

static uint64_t st_sum(json_t *obj)
{
	const char *k;
	json_t *v;
	uint64_t n = 0;

	json_object_foreach(obj, k, v)
	{
		n += (uint64_t)json_integer_value(v);
	}
	return n;
}

static uint64_t st_errors(json_t *stats)
{
	return st_sum(json_object_get(stats, "sense_keys")) +
	       st_sum(json_object_get(stats, "statuses"));
}

/* "name n, name n" of the non-zero members of obj, or "-". */
static void st_list(json_t *obj, char *out, size_t len)
{
	const char *k;
	json_t *v;
	size_t used = 0;

	out[0] = 0;
	json_object_foreach(obj, k, v)
	{
		int n;

		if (!json_integer_value(v))
			continue;
		n = snprintf(out + used, len - used, "%s%s %lld",
			     used ? ", " : "", k,
			     (long long)json_integer_value(v));
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	if (!out[0])
		snprintf(out, len, "-");
}

static void st_avg_us(uint64_t ns, uint64_t n, char *out, size_t len)
{
	if (!n)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%.0f", (double)ns / (double)n / 1000.0);
}

/* ---- lunarctl stats ------------------------------------------------ */

static void stats_row(const char *scope, json_t *s)
{
	char rd[32], wr[32], lr[16], lw[16];

	ctl_human_size(st_u64(s, "bytes_read"), rd, sizeof(rd));
	ctl_human_size(st_u64(s, "bytes_written"), wr, sizeof(wr));
	st_avg_us(st_lat_ns(s, "read"), st_cmds(s, "read"), lr, sizeof(lr));
	st_avg_us(st_lat_ns(s, "write"), st_cmds(s, "write"), lw, sizeof(lw));
	printf("  %-22s %9" PRIu64 " %9" PRIu64 " %9" PRIu64
	       " %10s %10s %7" PRIu64 " %5" PRIu64 " %4lld %8s %8s\n",
	       scope, st_cmds(s, "read"), st_cmds(s, "write"),
	       st_cmds(s, "other"), rd, wr, st_errors(s),
	       st_sum(json_object_get(s, "task_management")),
	       jint(s, "queue_depth"), lr, lw);
}

static void stats_detail(json_t *s)
{
	char buf[512];

	st_list(json_object_get(s, "sense_keys"), buf, sizeof(buf));
	if (strcmp(buf, "-") != 0)
		printf("  %-22s check condition: %s\n", "", buf);
	st_list(json_object_get(s, "statuses"), buf, sizeof(buf));
	if (strcmp(buf, "-") != 0)
		printf("  %-22s status: %s\n", "", buf);
	st_list(json_object_get(s, "task_management"), buf, sizeof(buf));
	if (strcmp(buf, "-") != 0)
		printf("  %-22s task management: %s\n", "", buf);
}

static void stats_print(json_t *res, bool one_lun)
{
	char buf[512];
	size_t i, j;
	json_t *t, *x;

	st_list(json_object_get(res, "logins"), buf, sizeof(buf));
	printf("Logins (all targets): %s\n", buf);
	if (!jbool(res, "counting"))
		printf("Commands are not counted: lunard runs with "
		       "--no-stats.\n");
	json_array_foreach(json_object_get(res, "targets"), i, t)
	{
		printf("\nTarget %s (%lld session%s)\n", jstr(t, "name"),
		       jint(t, "sessions"),
		       jint(t, "sessions") == 1 ? "" : "s");
		st_list(json_object_get(t, "logins"), buf, sizeof(buf));
		printf("  Logins: %s\n", buf);
		printf("  %-22s %9s %9s %9s %10s %10s %7s %5s %4s %8s %8s\n",
		       "SCOPE", "READS", "WRITES", "OTHER", "READ", "WRITTEN",
		       "ERRORS", "TMF", "QD", "RD_US", "WR_US");
		if (!one_lun) {
			stats_row("target", json_object_get(t, "stats"));
			stats_detail(json_object_get(t, "stats"));
		}
		json_array_foreach(json_object_get(t, "luns"), j, x)
		{
			char scope[32];

			snprintf(scope, sizeof(scope), "lun %lld",
				 jint(x, "lun"));
			stats_row(scope, json_object_get(x, "stats"));
			stats_detail(json_object_get(x, "stats"));
		}
		if (one_lun)
			continue;
		json_array_foreach(json_object_get(t, "session_list"), j, x)
		{
			json_t *c = json_array_get(
			    json_object_get(x, "connections"), 0);
			char scope[48];

			snprintf(scope, sizeof(scope), "session %s cid %lld",
				 jstr(x, "sid"), jint(c, "cid"));
			stats_row(scope, json_object_get(x, "stats"));
			printf("  %-22s %s from %s\n", "", jstr(x, "initiator"),
			       jstr(c, "peer"));
			stats_detail(json_object_get(x, "stats"));
		}
	}
}

static json_t *stats_request(const char *iqn, const char *lun,
			     const struct ctl_cmd *cmd)
{
	json_t *req = json_pack("{s:s}", "cmd", "stats.show");

	if (iqn)
		json_object_set_new(req, "target", json_string(iqn));
	if (lun)
		json_object_set_new(
		    req, "lun",
		    json_integer((json_int_t)ctl_lun_arg(cmd, lun)));
	return req;
}

int ctl_stats(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	const char *pos[2] = {NULL, NULL};
	json_t *res;
	int n;

	n = ctl_args(cmd, argc, argv, NULL, pos, 0, 2);
	res = ctl_call(c, stats_request(n > 0 ? pos[0] : NULL,
					n > 1 ? pos[1] : NULL, cmd));
	if (!ctl_json_out(c, res))
		stats_print(res, n > 1);
	json_decref(res);
	return 0;
}

/* ---- lunarctl top -------------------------------------------------- */

static volatile sig_atomic_t top_stop;
static struct termios top_saved;
static bool top_raw;

static void top_on_signal(int sig)
{
	top_stop = 1;
}

static void top_restore(void)
{
	if (top_raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &top_saved);
		top_raw = false;
	}
	fputs("\033[?25h", stdout); /* cursor back */
	fflush(stdout);
}

/* Keys without Enter and without echo, when stdin is a terminal. */
static void top_keys_on(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &top_saved) < 0)
		return;
	t = top_saved;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
		top_raw = true;
}

static double top_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits up to secs; true when q was pressed or a signal came. */
static bool top_wait(double secs)
{
	double end = top_now() + secs;

	while (!top_stop) {
		double left = end - top_now();
		struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
		char ch;

		if (left <= 0)
			return false;
		if (!top_raw) {
			struct timespec ts = {
			    .tv_sec = (time_t)left,
			    .tv_nsec =
				(long)((left - (double)(time_t)left) * 1e9)};
			nanosleep(&ts, NULL);
			continue;
		}
		if (poll(&p, 1, (int)(left * 1000) + 1) > 0 &&
		    read(STDIN_FILENO, &ch, 1) == 1 && (ch == 'q' || ch == 'Q'))
			return true;
	}
	return true;
}

/* Finds the object of arr whose key equals that of o (the same row in the
 * previous snapshot). */
static json_t *top_match(json_t *arr, const char *key, json_t *o)
{
	size_t i;
	json_t *x;

	json_array_foreach(arr, i, x)
	{
		if (json_equal(json_object_get(x, key),
			       json_object_get(o, key)))
			return x;
	}
	return NULL;
}

/* The width of the SCOPE column: what the terminal leaves (80 columns
 * when it does not say). */
static int top_scope_width;

static void top_measure(void)
{
	struct winsize ws;
	int cols = 80;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col)
		cols = ws.ws_col;
	top_scope_width = cols - 87;
	if (top_scope_width < 24)
		top_scope_width = 24;
	if (top_scope_width > 72)
		top_scope_width = 72;
}

static void top_row(const char *scope, json_t *now, json_t *prev, double dt)
{
	uint64_t dr = st_cmds(now, "read") - st_cmds(prev, "read");
	uint64_t dw = st_cmds(now, "write") - st_cmds(prev, "write");
	uint64_t dor = st_cmds(now, "other") - st_cmds(prev, "other");
	uint64_t drb = st_u64(now, "bytes_read") - st_u64(prev, "bytes_read");
	uint64_t dwb =
	    st_u64(now, "bytes_written") - st_u64(prev, "bytes_written");
	uint64_t de = st_errors(now) - st_errors(prev);
	char lr[16], lw[16];

	st_avg_us(st_lat_ns(now, "read") - st_lat_ns(prev, "read"), dr, lr,
		  sizeof(lr));
	st_avg_us(st_lat_ns(now, "write") - st_lat_ns(prev, "write"), dw, lw,
		  sizeof(lw));
	printf("%-*.*s %9.0f %9.0f %8.0f %9.2f %9.2f %6.0f %4lld %7s "
	       "%7s\033[K\n",
	       top_scope_width, top_scope_width, scope, (double)dr / dt,
	       (double)dw / dt, (double)dor / dt, (double)drb / dt / 1048576.0,
	       (double)dwb / dt / 1048576.0, (double)de / dt,
	       jint(now, "queue_depth"), lr, lw);
}

static void top_frame(json_t *now, json_t *prev, double dt, unsigned frame)
{
	char tbuf[32];
	time_t wall = time(NULL);
	struct tm tm;
	size_t i, j;
	json_t *t, *x;

	localtime_r(&wall, &tm);
	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
	fputs("\033[H", stdout);
	printf("lunarctl top - %s, refresh %u, interval %.1f s; q or Ctrl-C "
	       "quits\033[K\n\033[K\n",
	       tbuf, frame, dt);
	top_measure();
	printf("%-*s %9s %9s %8s %9s %9s %6s %4s %7s %7s\033[K\n",
	       top_scope_width, "SCOPE", "READ/s", "WRITE/s", "OTHER/s",
	       "RD_MiB/s", "WR_MiB/s", "ERR/s", "QD", "RD_US", "WR_US");
	json_array_foreach(json_object_get(now, "targets"), i, t)
	{
		json_t *pt =
		    top_match(json_object_get(prev, "targets"), "name", t);
		char scope[320];

		if (!pt)
			pt = t;
		top_row(jstr(t, "name"), json_object_get(t, "stats"),
			json_object_get(pt, "stats"), dt);
		json_array_foreach(json_object_get(t, "luns"), j, x)
		{
			json_t *px =
			    top_match(json_object_get(pt, "luns"), "lun", x);

			snprintf(scope, sizeof(scope), "  lun %lld",
				 jint(x, "lun"));
			top_row(scope, json_object_get(x, "stats"),
				json_object_get(px ? px : x, "stats"), dt);
		}
		json_array_foreach(json_object_get(t, "session_list"), j, x)
		{
			json_t *px = top_match(
			    json_object_get(pt, "session_list"), "sid", x);

			snprintf(scope, sizeof(scope), "  session tsih %lld %s",
				 jint(x, "tsih"), jstr(x, "initiator"));
			top_row(scope, json_object_get(x, "stats"),
				json_object_get(px ? px : x, "stats"), dt);
		}
	}
	fputs("\033[J", stdout); /* clear what an older frame left below */
	fflush(stdout);
}

static bool top_number(const char *s, double min, double max, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return !errno && end != s && !*end && *out >= min && *out <= max;
}

int ctl_top(struct ctl *c, const struct ctl_cmd *cmd, int argc, char **argv)
{
	const char *iqn = NULL;
	double delay = 2, count = 0, t0, t1;
	json_t *prev, *now;
	unsigned frame = 0;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		const char *eq =
		    strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
		size_t n = eq ? (size_t)(eq - a) : strlen(a);
		bool d = (n == 2 && !strncmp(a, "-d", 2)) ||
			 (n == 7 && !strncmp(a, "--delay", 7));
		bool k = (n == 2 && !strncmp(a, "-n", 2)) ||
			 (n == 12 && !strncmp(a, "--iterations", 12));

		if (d || k) {
			if (eq)
				v = eq + 1;
			else if (i + 1 < argc)
				v = argv[++i];
			else
				ctl_usage_error(cmd, "option %s needs a value",
						a);
			if (d && !top_number(v, 0.1, 3600, &delay))
				ctl_usage_error(cmd,
						"bad interval '%s': give "
						"seconds from 0.1 to 3600",
						v);
			if (k && (!top_number(v, 1, 1e9, &count) ||
				  count != (double)(unsigned)count))
				ctl_usage_error(cmd,
						"bad count '%s': give a "
						"number of refreshes, 1 or "
						"more",
						v);
		} else if (a[0] == '-') {
			ctl_usage_error(cmd, "unknown option %s", a);
		} else if (!iqn) {
			iqn = a;
		} else {
			ctl_usage_error(cmd, "unexpected argument '%s'", a);
		}
	}
	if (c->json)
		ctl_usage_error(cmd, "--json does not apply to top; use "
				     "`lunarctl --json stats`");
	signal(SIGINT, top_on_signal);
	signal(SIGTERM, top_on_signal);
	/* The first request checks the target before the screen changes. */
	prev = ctl_call(c, stats_request(iqn, NULL, cmd));
	t0 = top_now();
	top_keys_on();
	atexit(top_restore);
	fputs("\033[?25l\033[H\033[2J", stdout); /* hide cursor, clear */
	printf("lunarctl top: first rates in %.1f s; q or Ctrl-C quits\n",
	       delay);
	fflush(stdout);
	while (!top_wait(delay)) {
		now = ctl_call(c, stats_request(iqn, NULL, cmd));
		t1 = top_now();
		top_frame(now, prev, t1 - t0 > 0 ? t1 - t0 : 1, ++frame);
		json_decref(prev);
		prev = now;
		t0 = t1;
		if (count && frame >= (unsigned)count)
			break;
	}
	json_decref(prev);
	top_restore();
	return 0;
}
