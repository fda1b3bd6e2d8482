/*
 * Statistics as the control protocol shows them (stats.show; issue 15):
 * per target, per LU and per session (with its connection) the counters
 * of scsi/stats.h, and login results per target and daemon-wide. The
 * same JSON feeds the Prometheus exposition (metrics.c), so the table of
 * `lunarctl stats`, `lunarctl top` and a scrape agree.
 *
 * Callable from any thread: targets and LUs are read under the config
 * read lock (their memory lives while they are listed), sessions through
 * iscsi_session_list (the registry lock), taken before the config lock
 * and never inside it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iscsi/iscsi.h"
#include "mgmt/mgmt_internal.h"
#include "scsi/stats.h"

static json_t *mgmt_stats_named(const uint64_t *v, unsigned n,
				const char *(*name)(unsigned), bool all)
{
	json_t *o = json_object();

	for (unsigned i = 0; o && i < n; i++) {
		if (all || v[i])
			json_object_set_new(o, name(i),
					    json_integer((json_int_t)v[i]));
	}
	return o;
}

/* One set of counters. Latency buckets are per bucket (not cumulative);
 * bucket i holds commands of at most 2^i microseconds, the last one the
 * slower ones. */
json_t *mgmt_stats_snap_json(const struct scsi_stats_snap *s)
{
	json_t *o, *lat;

	o = json_pack("{s:o, s:I, s:I, s:o, s:o, s:o, s:I}", "commands",
		      mgmt_stats_named(s->cmds, SCSI_STATS_NCLASS,
				       scsi_stats_class_name, true),
		      "bytes_read", (json_int_t)s->bytes_read, "bytes_written",
		      (json_int_t)s->bytes_written, "sense_keys",
		      mgmt_stats_named(s->sense_key, 16,
				       scsi_stats_sense_key_name, false),
		      "statuses",
		      mgmt_stats_named(s->status, SCSI_STATS_NSTATUS,
				       scsi_stats_status_name, false),
		      "task_management",
		      mgmt_stats_named(s->tmf, SCSI_STATS_NTMF,
				       scsi_stats_tmf_name, false),
		      "queue_depth", (json_int_t)s->queue_depth);
	lat = json_object();
	for (unsigned c = 0; o && lat && c < SCSI_STATS_NCLASS; c++) {
		json_t *b = json_array();

		for (unsigned i = 0; b && i < SCSI_STATS_LAT_BUCKETS; i++)
			json_array_append_new(
			    b, json_integer((json_int_t)s->lat[c][i]));
		json_object_set_new(lat, scsi_stats_class_name(c),
				    json_pack("{s:I, s:I, s:o}", "count",
					      (json_int_t)s->cmds[c], "sum_ns",
					      (json_int_t)s->lat_ns[c],
					      "buckets", b));
	}
	if (o)
		json_object_set_new(o, "latency", lat);
	else
		json_decref(lat);
	return o;
}

static json_t *mgmt_stats_logins_json(const uint64_t *v)
{
	return mgmt_stats_named(v, SCSI_STATS_NLOGIN, scsi_stats_login_name,
				true);
}

static json_t *mgmt_stats_sessions_json(const struct iscsi_session_info *info,
					size_t n, const char *target)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < n; i++) {
		const struct iscsi_session_info *s = &info[i];
		char sid[24];

		if (s->discovery || strcmp(s->target, target) != 0)
			continue;
		snprintf(sid, sizeof(sid), "%" PRIu64, s->sid);
		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:i, s:s, s:s, s:[{s:i, s:s, s:s}], s:o}",
			      "sid", sid, "tsih", (int)s->tsih, "isid", s->isid,
			      "initiator", s->initiator, "connections", "cid",
			      (int)s->cid, "peer", s->peer, "local", s->local,
			      "stats", mgmt_stats_snap_json(&s->stats)));
	}
	return arr;
}

static json_t *mgmt_stats_target_json(struct scsi_target *t, bool has_lun,
				      uint64_t lun,
				      const struct iscsi_session_info *info,
				      size_t n)
{
	struct scsi_stats_snap snap;
	uint64_t logins[SCSI_STATS_NLOGIN];
	json_t *o, *luns = json_array();

	for (unsigned i = 0; t->lun_map && luns && i < t->lun_map->count; i++) {
		const struct scsi_lu *lu = t->lun_map->ent[i].lu;

		if (has_lun && t->lun_map->ent[i].lun != lun)
			continue;
		scsi_stats_sum(lu->stats, &snap);
		json_array_append_new(
		    luns, json_pack("{s:I, s:o}", "lun",
				    (json_int_t)t->lun_map->ent[i].lun, "stats",
				    mgmt_stats_snap_json(&snap)));
	}
	for (unsigned i = 0; i < SCSI_STATS_NLOGIN; i++)
		logins[i] =
		    atomic_load_explicit(&t->logins[i], memory_order_relaxed);
	scsi_stats_sum(t->stats, &snap);
	o = json_pack(
	    "{s:s, s:i, s:o, s:o, s:o, s:o}", "name", t->name, "sessions",
	    atomic_load(&t->nr_sessions), "stats", mgmt_stats_snap_json(&snap),
	    "logins", mgmt_stats_logins_json(logins), "luns", luns,
	    "session_list", mgmt_stats_sessions_json(info, n, t->name));
	return o;
}

int mgmt_stats_collect(const char *target, bool has_lun, uint64_t lun,
		       json_t **out, char *err, size_t errlen)
{
	struct iscsi_session_info *info = NULL;
	uint64_t logins[SCSI_STATS_NLOGIN];
	struct scsi_target *t;
	json_t *targets, *root;
	size_t n = 0;
	bool found = false;
	int rc;

	rc = iscsi_session_list(target, &info, &n);
	if (rc < 0) {
		snprintf(err, errlen, "cannot list sessions: %s",
			 strerror(-rc));
		return rc;
	}
	targets = json_array();
	scsi_config_rdlock();
	list_for_each_entry (t, scsi_target_list(), link) {
		if (target && strcmp(t->name, target) != 0)
			continue;
		found = true;
		if (has_lun && !scsi_lun_map_find(t->lun_map, lun)) {
			snprintf(err, errlen,
				 "target %s has no LUN %" PRIu64
				 "; `lunarctl target show %s` lists its LUNs",
				 t->name, lun, t->name);
			rc = -ENOENT;
			break;
		}
		json_array_append_new(
		    targets, mgmt_stats_target_json(t, has_lun, lun, info, n));
	}
	scsi_config_unlock();
	free(info);
	if (!rc && target && !found) {
		snprintf(err, errlen,
			 "no target %s; `lunarctl target list` shows the "
			 "targets",
			 target);
		rc = -ENOENT;
	}
	if (rc) {
		json_decref(targets);
		return rc;
	}
	scsi_stats_logins(logins);
	root = json_pack("{s:b, s:o, s:o}", "counting", scsi_stats_enabled,
			 "logins", mgmt_stats_logins_json(logins), "targets",
			 targets);
	if (!root) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*out = root;
	return 0;
}
