/*
 * The opt-in Prometheus endpoint (lunard --metrics ADDR:PORT; issue 15):
 * the statistics of stats.c in the Prometheus text exposition format
 * 0.0.4 (# HELP / # TYPE, label values escaped, histograms as cumulative
 * _bucket{le} with _sum and _count), served by libmicrohttpd on its own
 * thread at GET /metrics. The thread only reads: mgmt_stats_collect takes
 * the same locks as the control socket, never one the data path takes.
 *
 * Metric families per level: lunar_scsi_* per LU {target, lun},
 * lunar_target_scsi_* per target {target}, lunar_session_scsi_* per
 * session and its connection {target, initiator, isid, tsih, cid}.
 * Built without libmicrohttpd, the formatter stays (unit tests) and
 * --metrics says what to install.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/mgmt_internal.h"
#include "scsi/stats.h"
#include "util/log.h"

#include <netdb.h>
#include <sys/socket.h>

#ifdef LUNAR_HAVE_MHD
#include <microhttpd.h>
#endif

/* Writes v as a label value: backslash, double quote and newline
 * escaped (exposition format 0.0.4). */
static void metrics_escape(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '"')
			fputs("\\\"", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* One labelled set of counters. */
struct metrics_row {
	char *labels; /* `target="...",lun="1"` */
	json_t *stats;
};

struct metrics_level {
	const char *prefix, *what;
	struct metrics_row *rows;
	size_t nr;
};

static int metrics_add_row(struct metrics_level *l, json_t *stats,
			   const char *fmt, const char *const *vals,
			   size_t nvals)
{
	struct metrics_row *r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	const char *p;
	size_t k = 0;

	r = realloc(l->rows, (l->nr + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	l->rows = r;
	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	/* fmt: label names separated by commas; each gets vals[k]. */
	for (p = fmt; *p && k < nvals; k++) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		fprintf(f, "%s%.*s=\"", k ? "," : "", (int)n, p);
		metrics_escape(f, vals[k]);
		fputc('"', f);
		p += n + (e ? 1 : 0);
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	r[l->nr].labels = buf;
	r[l->nr].stats = stats;
	l->nr++;
	return 0;
}

static void metrics_head(FILE *f, const char *name, const char *type,
			 const char *help, const char *what)
{
	fprintf(f, "# HELP %s %s%s.\n# TYPE %s %s\n", name, help, what, name,
		type);
}

static uint64_t metrics_u64(json_t *o, const char *key)
{
	return (uint64_t)json_integer_value(json_object_get(o, key));
}

/* A counter or gauge family with one extra label from a JSON object of
 * name: value (label NULL: the value of key itself). */
static void metrics_family(FILE *f, const struct metrics_level *l,
			   const char *suffix, const char *type,
			   const char *help, const char *key, const char *label)
{
	char name[128];

	snprintf(name, sizeof(name), "%s_%s", l->prefix, suffix);
	metrics_head(f, name, type, help, l->what);
	for (size_t i = 0; i < l->nr; i++) {
		json_t *v = json_object_get(l->rows[i].stats, key);
		const char *k;
		json_t *x;

		if (!label) {
			fprintf(f, "%s{%s} %lld\n", name, l->rows[i].labels,
				(long long)json_integer_value(v));
			continue;
		}
		json_object_foreach(v, k, x)
		{
			fprintf(f, "%s{%s,%s=\"", name, l->rows[i].labels,
				label);
			metrics_escape(f, k);
			fprintf(f, "\"} %llu\n",
				(unsigned long long)json_integer_value(x));
		}
	}
}

static void metrics_histogram(FILE *f, const struct metrics_level *l)
{
	char name[128];

	snprintf(name, sizeof(name), "%s_command_duration_seconds", l->prefix);
	metrics_head(f, name, "histogram",
		     "Time in the target from a command's decoding to its "
		     "status (Data-Out included, Data-In not), by class, ",
		     l->what);
	for (size_t i = 0; i < l->nr; i++) {
		json_t *lat = json_object_get(l->rows[i].stats, "latency");
		const char *op;
		json_t *h;

		json_object_foreach(lat, op, h)
		{
			json_t *b = json_object_get(h, "buckets");
			uint64_t cum = 0;
			const char *lb = l->rows[i].labels;

			for (unsigned k = 0; k < SCSI_STATS_LAT_FINITE; k++) {
				cum += (uint64_t)json_integer_value(
				    json_array_get(b, k));
				fprintf(f,
					"%s_bucket{%s,op=\"%s\",le=\"%.6f\"} "
					"%llu\n",
					name, lb, op, scsi_stats_lat_bound(k),
					(unsigned long long)cum);
			}
			fprintf(f, "%s_bucket{%s,op=\"%s\",le=\"+Inf\"} %llu\n",
				name, lb, op,
				(unsigned long long)metrics_u64(h, "count"));
			fprintf(f, "%s_sum{%s,op=\"%s\"} %.9f\n", name, lb, op,
				(double)metrics_u64(h, "sum_ns") / 1e9);
			fprintf(f, "%s_count{%s,op=\"%s\"} %llu\n", name, lb,
				op,
				(unsigned long long)metrics_u64(h, "count"));
		}
	}
}

static void metrics_level_print(FILE *f, const struct metrics_level *l)
{
	metrics_family(f, l, "commands_total", "counter",
		       "SCSI commands ended, by class (read, write, other), ",
		       "commands", "op");
	metrics_family(f, l, "read_bytes_total", "counter",
		       "Bytes read by block commands that ended GOOD, ",
		       "bytes_read", NULL);
	metrics_family(f, l, "written_bytes_total", "counter",
		       "Bytes written by block commands that ended GOOD, ",
		       "bytes_written", NULL);
	metrics_family(f, l, "errors_total", "counter",
		       "Commands ended with CHECK CONDITION, by sense key, ",
		       "sense_keys", "sense_key");
	metrics_family(f, l, "error_statuses_total", "counter",
		       "Commands ended with another non-GOOD status, ",
		       "statuses", "status");
	metrics_family(f, l, "task_management_total", "counter",
		       "Task management functions received, ",
		       "task_management", "function");
	metrics_family(f, l, "queue_depth", "gauge",
		       "Commands in the target core now, ", "queue_depth",
		       NULL);
	metrics_histogram(f, l);
}

static int metrics_levels(json_t *stats, struct metrics_level lv[3])
{
	size_t i, j;
	json_t *t, *x;
	int rc = 0;

	json_array_foreach(json_object_get(stats, "targets"), i, t)
	{
		const char *name =
		    json_string_value(json_object_get(t, "name"));
		char num[32];

		rc = metrics_add_row(&lv[1], json_object_get(t, "stats"),
				     "target", &name, 1);
		json_array_foreach(json_object_get(t, "luns"), j, x)
		{
			const char *v[2] = {name, num};

			snprintf(num, sizeof(num), "%lld",
				 (long long)json_integer_value(
				     json_object_get(x, "lun")));
			rc = rc ? rc
				: metrics_add_row(&lv[0],
						  json_object_get(x, "stats"),
						  "target,lun", v, 2);
		}
		json_array_foreach(json_object_get(t, "session_list"), j, x)
		{
			json_t *c = json_array_get(
			    json_object_get(x, "connections"), 0);
			char tsih[16], cid[16];
			const char *v[5] = {
			    name,
			    json_string_value(json_object_get(x, "initiator")),
			    json_string_value(json_object_get(x, "isid")), tsih,
			    cid};

			snprintf(tsih, sizeof(tsih), "%lld",
				 (long long)json_integer_value(
				     json_object_get(x, "tsih")));
			snprintf(cid, sizeof(cid), "%lld",
				 (long long)json_integer_value(
				     json_object_get(c, "cid")));
			rc = rc ? rc
				: metrics_add_row(&lv[2],
						  json_object_get(x, "stats"),
						  "target,initiator,isid,tsih,"
						  "cid",
						  v, 5);
		}
		if (rc)
			break;
	}
	return rc;
}

static void metrics_logins(FILE *f, json_t *stats)
{
	const char *k;
	json_t *v, *t;
	size_t i;

	metrics_head(f, "lunar_iscsi_logins_total", "counter",
		     "iSCSI logins by result, for any target or none", "");
	json_object_foreach(json_object_get(stats, "logins"), k, v)
	{
		fprintf(f, "lunar_iscsi_logins_total{result=\"%s\"} %llu\n", k,
			(unsigned long long)json_integer_value(v));
	}
	metrics_head(f, "lunar_target_iscsi_logins_total", "counter",
		     "iSCSI logins by result", ", per target");
	json_array_foreach(json_object_get(stats, "targets"), i, t)
	{
		json_object_foreach(json_object_get(t, "logins"), k, v)
		{
			fputs("lunar_target_iscsi_logins_total{target=\"", f);
			metrics_escape(
			    f, json_string_value(json_object_get(t, "name")));
			fprintf(f, "\",result=\"%s\"} %llu\n", k,
				(unsigned long long)json_integer_value(v));
		}
	}
	metrics_head(f, "lunar_iscsi_sessions", "gauge",
		     "iSCSI sessions logged in now", ", per target");
	json_array_foreach(json_object_get(stats, "targets"), i, t)
	{
		fputs("lunar_iscsi_sessions{target=\"", f);
		metrics_escape(f,
			       json_string_value(json_object_get(t, "name")));
		fprintf(f, "\"} %lld\n",
			(long long)json_integer_value(
			    json_object_get(t, "sessions")));
	}
}

int mgmt_metrics_format(json_t *stats, char **out, size_t *len)
{
	struct metrics_level lv[3] = {
	    {"lunar_scsi", "per LU", NULL, 0},
	    {"lunar_target_scsi", "per target", NULL, 0},
	    {"lunar_session_scsi", "per iSCSI session and connection", NULL, 0},
	};
	FILE *f;
	int rc;

	*out = NULL;
	*len = 0;
	rc = metrics_levels(stats, lv);
	f = rc ? NULL : open_memstream(out, len);
	if (f) {
		fprintf(f,
			"# HELP lunar_stats_counting Whether lunard counts "
			"commands (0 with --no-stats).\n"
			"# TYPE lunar_stats_counting gauge\n"
			"lunar_stats_counting %d\n",
			json_is_true(json_object_get(stats, "counting")));
		for (unsigned i = 0; i < 3; i++)
			metrics_level_print(f, &lv[i]);
		metrics_logins(f, stats);
		if (fclose(f) != 0)
			rc = -ENOMEM;
	} else if (!rc) {
		rc = -ENOMEM;
	}
	for (unsigned i = 0; i < 3; i++) {
		for (size_t j = 0; j < lv[i].nr; j++)
			free(lv[i].rows[j].labels);
		free(lv[i].rows);
	}
	if (rc) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* "A.B.C.D:PORT" or "[IPv6]:PORT" to a socket address. */
static int metrics_parse_addr(const char *addr, struct sockaddr_storage *ss,
			      char *err, size_t errlen)
{
	char host[128];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = {0}, *res = NULL;
	unsigned long port;
	char *end;
	size_t n;

	if (!colon || colon == addr || !colon[1] ||
	    (size_t)(colon - addr) >= sizeof(host))
		goto bad;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port < 1 || port > 65535)
		goto bad;
	n = (size_t)(colon - addr);
	memcpy(host, addr, n);
	host[n] = 0;
	if (host[0] == '[' && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = 0;
	}
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
		goto bad;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
bad:
	snprintf(err, errlen,
		 "--metrics %s: give a numeric ADDR:PORT with a port "
		 "1-65535, such as 127.0.0.1:9100 or [::1]:9100",
		 addr);
	return -EINVAL;
}

int mgmt_metrics_check(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss;

	return metrics_parse_addr(addr, &ss, err, errlen);
}

#ifdef LUNAR_HAVE_MHD

static struct MHD_Daemon *metrics_daemon;

bool mgmt_metrics_built(void)
{
	return true;
}

static enum MHD_Result metrics_reply(struct MHD_Connection *conn, unsigned code,
				     char *body, size_t len, const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result metrics_handle(void *cls, struct MHD_Connection *conn,
				      const char *url, const char *method,
				      const char *version,
				      const char *upload_data,
				      size_t *upload_data_size, void **con_cls)
{
	char err[256];
	json_t *stats = NULL;
	char *body;
	size_t len;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return metrics_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				     strdup("only GET /metrics\n"), 18,
				     "text/plain");
	if (strcmp(url, "/metrics") != 0)
		return metrics_reply(conn, MHD_HTTP_NOT_FOUND,
				     strdup("the metrics are at /metrics\n"),
				     28, "text/plain");
	if (mgmt_stats_collect(NULL, false, 0, &stats, err, sizeof(err)) ||
	    mgmt_metrics_format(stats, &body, &len)) {
		json_decref(stats);
		return metrics_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				     strdup("cannot collect statistics\n"), 26,
				     "text/plain");
	}
	json_decref(stats);
	return metrics_reply(conn, MHD_HTTP_OK, body, len,
			     "text/plain; version=0.0.4; charset=utf-8");
}

int mgmt_metrics_start(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss = {0};
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
	int rc;

	rc = metrics_parse_addr(addr, &ss, err, errlen);
	if (rc)
		return rc;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	metrics_daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, metrics_handle, NULL, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 16u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (!metrics_daemon) {
		snprintf(err, errlen,
			 "--metrics %s: cannot serve HTTP there (address in "
			 "use or not local?)",
			 addr);
		return -EADDRNOTAVAIL;
	}
	log_info("metrics: Prometheus endpoint at http://%s/metrics", addr);
	return 0;
}

void mgmt_metrics_stop(void)
{
	if (metrics_daemon)
		MHD_stop_daemon(metrics_daemon);
	metrics_daemon = NULL;
}

#else

bool mgmt_metrics_built(void)
{
	return false;
}

int mgmt_metrics_start(const char *addr, char *err, size_t errlen)
{
	snprintf(err, errlen,
		 "--metrics %s: this lunard was built without libmicrohttpd; "
		 "install libmicrohttpd-dev (scripts/deps.sh build) and "
		 "rebuild",
		 addr);
	return -ENOTSUP;
}

void mgmt_metrics_stop(void)
{
}

#endif
