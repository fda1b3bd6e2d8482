/*
 * Reservations of a LU that several gateways serve (SPC-5 §5.13 across
 * hosts): an RBD image exported by more than one lunard. The persistent
 * reservations and the SPC-2 reservation live in one record kept with the
 * medium (bs_shared_ops: for rbd a RADOS object next to the image), and
 * lu->pr is each gateway's cache of it, from which the data path checks
 * conflicts without a round trip to the cluster.
 *
 * A change (PERSISTENT RESERVE OUT, RESERVE, RELEASE, the end of an SPC-2
 * holder's nexus) runs on one worker thread: load the record, take it
 * over, compute the change on a copy, and replace the record only if no
 * other gateway replaced it meanwhile (compare-and-set on its version; a
 * lost race reloads and computes again, and success is never reported
 * without the record written). The record carries the last few changes
 * with the unit attentions and task aborts they cause to I_T nexuses
 * (which registrations were preempted, released, cleared); every gateway
 * applies those of the changes it had not seen to its own nexuses. Then
 * the writer notifies the other gateways and waits until each has taken
 * the change over, its aborted tasks included, before the command
 * completes: a RESERVE through gateway A conflicts at once with a write
 * through B, and PREEMPT AND ABORT returns only when the preempted
 * nexuses' tasks are gone on every gateway. A gateway that does not
 * answer in time is fenced by the store before the command completes.
 *
 * Notifications are taken over by a second worker, so that a gateway
 * waiting for the others never waits for itself. The state persists with
 * the record whatever APTPL says: the gateways are one device server and
 * it must survive the restart of any of them (PRGENERATION included).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "bs/bs.h"
#include "event/reactor.h"
#include "scsi/device.h"
#include "scsi/pr_internal.h"
#include "scsi/sense.h"
#include "scsi/target.h"
#include "scsi/tpg.h"
#include "scsi/ua.h"
#include "util/log.h"

#define PR_SHARED_FORMAT  "lunar-pr-shared"
#define PR_SHARED_VERSION 1
/* Lost compare-and-set races one change tolerates before BUSY. */
#define PR_SHARED_RETRIES 32
/* Changes the record keeps for gateways that take several over at once. */
#define PR_SHARED_EVENTS 8
/* How long a change waits for every other gateway to take it over before
 * the silent ones are fenced, and how long a gateway waits for the tasks
 * a change aborted before it acknowledges. */
#define PR_SHARED_NOTIFY_MS 10000
#define PR_SHARED_ABORT_MS  5000

/* One change as the record keeps it: who sent it, and the nexuses (by the
 * registrations that name them) that get a unit attention or lose their
 * tasks. */
struct pr_shared_event {
	uint64_t seq; /* the record version it made */
	bool has_sender;
	char sender_port[SCSI_PORT_NAME_MAX];
	uint16_t sender_rel;
	unsigned nr_marks;
	struct pr_reg *marks; /* ua_asc, ua_ascq, abort set */
};

struct pr_shared_rec {
	struct pr_set set;
	struct pr_extra x;
	unsigned nr_events;
	struct pr_shared_event ev[PR_SHARED_EVENTS];
};

enum pr_shared_kind {
	PR_SHARED_CHANGE,   /* a change, with or without a command */
	PR_SHARED_NOTIFIED, /* another gateway (or LU) changed the record */
	PR_SHARED_ACTIVATE, /* this gateway's port group takes the medium */
};

/* lunarctl waiting for an activation on the main thread. */
struct pr_shared_waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int rc;
	char err[512];
};

struct pr_shared_job {
	struct list_head link;
	enum pr_shared_kind kind;
	struct scsi_lu *lu; /* a reference */
	struct scsi_cmd *cmd;
	pr_shared_change_fn change;
	void *arg;
	void (*done)(struct scsi_cmd *cmd, bool aborting);
	bool aborting;
	uint64_t token;
	/* PR_SHARED_ACTIVATE: the group, the lock identity taken, whether
	 * the record changed under it, and lunarctl's waiter */
	uint16_t group;
	char who[128];
	bool lost;
	struct pr_shared_waiter *waiter;
	/* pr_shared_spc2_drop */
	bool drop_any;
	char drop_port[SCSI_PORT_NAME_MAX];
	uint16_t drop_rel;
	struct reactor_msg msg;
};

struct pr_shared_worker {
	const char *name;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct list_head queue;
};

static struct pr_shared_worker pr_change_worker = {
    .name = "pr-change",
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
    .queue = LIST_HEAD_INIT(pr_change_worker.queue),
};
static struct pr_shared_worker pr_notify_worker = {
    .name = "pr-notify",
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
    .queue = LIST_HEAD_INIT(pr_notify_worker.queue),
};
static pthread_once_t pr_shared_once = PTHREAD_ONCE_INIT;
static int pr_shared_start_rc;

bool pr_shared(const struct scsi_lu *lu)
{
	return lu->pr && lu->pr->shared;
}

static const struct bs_shared_ops *pr_shared_ops(const struct scsi_lu *lu)
{
	return lu->bs->ops->shared;
}

static void pr_shared_where(struct scsi_lu *lu, char *out, size_t len)
{
	if (pr_shared_ops(lu)->where(lu->bs, out, len) < 0)
		snprintf(out, len, "the shared record of %.200s",
			 lu->params.backing);
}

/* ---- the record ---- */

static void pr_shared_rec_init(struct pr_shared_rec *rec)
{
	memset(rec, 0, sizeof(*rec));
	pr_set_init(&rec->set);
}

static void pr_shared_rec_clear(struct pr_shared_rec *rec)
{
	pr_set_clear(&rec->set);
	for (unsigned i = 0; i < rec->nr_events; i++)
		free(rec->ev[i].marks);
	rec->nr_events = 0;
}

static int pr_shared_bad(char *what, size_t whatlen, const char *fmt,
			 const char *member)
{
	snprintf(what, whatlen, fmt, member);
	return -EBADMSG;
}

static bool pr_shared_json_u16(json_t *v, uint16_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 0xffff)
		return false;
	*out = (uint16_t)json_integer_value(v);
	return true;
}

/* {"port": "<initiator port>", "relative_target_port": N} */
static bool pr_shared_nexus_from_json(json_t *o, char *port, size_t portlen,
				      uint16_t *rel)
{
	json_t *p = json_object_get(o, "port");

	if (!json_is_object(o) || !json_is_string(p) ||
	    json_string_length(p) >= portlen ||
	    !pr_shared_json_u16(json_object_get(o, "relative_target_port"),
				rel))
		return false;
	snprintf(port, portlen, "%s", json_string_value(p));
	return true;
}

static int pr_shared_mark_from_json(json_t *o, struct pr_reg *m)
{
	json_t *tid = json_object_get(o, "transport_id");
	json_t *asc = json_object_get(o, "asc"),
	       *ascq = json_object_get(o, "ascq");
	uint16_t rel;

	if (!json_is_object(o) || !json_is_string(tid) ||
	    !pr_id_parse(&m->id, json_string_value(tid),
			 json_string_length(tid)) ||
	    !json_is_boolean(json_object_get(o, "all_tg_pt")) ||
	    !json_is_boolean(json_object_get(o, "abort")) ||
	    !pr_shared_json_u16(json_object_get(o, "relative_target_port"),
				&rel) ||
	    !json_is_integer(asc) || !json_is_integer(ascq) ||
	    json_integer_value(asc) < 0 || json_integer_value(asc) > 0xff ||
	    json_integer_value(ascq) < 0 || json_integer_value(ascq) > 0xff)
		return -EBADMSG;
	m->all_tg_pt = json_is_true(json_object_get(o, "all_tg_pt"));
	m->rel_port_id = rel;
	m->abort = json_is_true(json_object_get(o, "abort"));
	m->ua_asc = (uint8_t)json_integer_value(asc);
	m->ua_ascq = (uint8_t)json_integer_value(ascq);
	return 0;
}

static int pr_shared_events_from_json(json_t *arr, struct pr_shared_rec *rec,
				      char *what, size_t whatlen)
{
	size_t i;
	json_t *e;

	if (!json_is_array(arr) || json_array_size(arr) > PR_SHARED_EVENTS)
		return pr_shared_bad(what, whatlen,
				     "%s is not an array of at most 8 changes",
				     "events");
	json_array_foreach(arr, i, e)
	{
		struct pr_shared_event *ev = &rec->ev[rec->nr_events];
		json_t *seq = json_object_get(e, "seq");
		json_t *sender = json_object_get(e, "sender");
		json_t *marks = json_object_get(e, "marks");
		size_t j;
		json_t *m;

		if (!json_is_object(e) || !json_is_integer(seq) ||
		    json_integer_value(seq) < 1 || !json_is_array(marks) ||
		    json_array_size(marks) > PR_REGS_MAX + 1)
			return pr_shared_bad(what, whatlen,
					     "%s[] is not a change (seq, "
					     "sender, marks)",
					     "events");
		memset(ev, 0, sizeof(*ev));
		ev->seq = (uint64_t)json_integer_value(seq);
		if (!json_is_null(sender)) {
			if (!pr_shared_nexus_from_json(sender, ev->sender_port,
						       sizeof(ev->sender_port),
						       &ev->sender_rel))
				return pr_shared_bad(what, whatlen,
						     "%s[].sender is not a "
						     "nexus or null",
						     "events");
			ev->has_sender = true;
		}
		ev->marks =
		    calloc(json_array_size(marks) + 1, sizeof(*ev->marks));
		if (!ev->marks)
			return -ENOMEM;
		rec->nr_events++;
		json_array_foreach(marks, j, m)
		{
			if (pr_shared_mark_from_json(m, &ev->marks[j]))
				return pr_shared_bad(what, whatlen,
						     "%s[].marks[] is not a "
						     "marked registration",
						     "events");
			ev->nr_marks++;
		}
	}
	return 0;
}

static int pr_shared_rec_from_text(const char *text, struct pr_shared_rec *rec,
				   char *what, size_t whatlen)
{
	struct scsi_pr_image img;
	json_error_t jerr;
	json_t *root, *v;
	int rc;

	pr_shared_rec_init(rec);
	memset(&img, 0, sizeof(img));
	img.holder = -1;
	root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(what, whatlen, "line %d column %d: %s", jerr.line,
			 jerr.column, jerr.text);
		return -EBADMSG;
	}
	v = json_object_get(root, "format");
	rc = -EBADMSG;
	if (!json_is_string(v) ||
	    strcmp(json_string_value(v), PR_SHARED_FORMAT) ||
	    !json_is_integer(json_object_get(root, "version")) ||
	    json_integer_value(json_object_get(root, "version")) !=
		PR_SHARED_VERSION) {
		snprintf(what, whatlen,
			 "not a lunar reservations record of version %d",
			 PR_SHARED_VERSION);
		goto out;
	}
	rc = pr_image_from_json(root, &img, what, whatlen);
	if (rc == 0)
		rc = pr_set_from_image(&rec->set, &img, what, whatlen);
	if (rc)
		goto out;
	v = json_object_get(root, "prgeneration");
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > UINT32_MAX) {
		rc = pr_shared_bad(what, whatlen, "%s is not a 32-bit count",
				   "prgeneration");
		goto out;
	}
	rec->set.generation = (uint32_t)json_integer_value(v);
	v = json_object_get(root, "spc2");
	if (!json_is_null(v)) {
		if (!pr_shared_nexus_from_json(v, rec->x.port,
					       sizeof(rec->x.port),
					       &rec->x.rel_port)) {
			rc = pr_shared_bad(what, whatlen,
					   "%s is not null or a nexus", "spc2");
			goto out;
		}
		rec->x.held = true;
	}
	v = json_object_get(root, "alua");
	if (!json_is_null(v)) {
		json_t *owner = json_object_get(v, "owner");

		if (!json_is_object(v) ||
		    !pr_shared_json_u16(json_object_get(v, "group"),
					&rec->x.alua_group) ||
		    !rec->x.alua_group || !json_is_string(owner) ||
		    json_string_length(owner) >= sizeof(rec->x.alua_owner)) {
			rc = pr_shared_bad(what, whatlen,
					   "%s is not null or {group, owner}",
					   "alua");
			goto out;
		}
		snprintf(rec->x.alua_owner, sizeof(rec->x.alua_owner), "%s",
			 json_string_value(owner));
	}
	rc = pr_shared_events_from_json(json_object_get(root, "events"), rec,
					what, whatlen);
out:
	scsi_pr_image_free(&img);
	json_decref(root);
	if (rc)
		pr_shared_rec_clear(rec);
	return rc;
}

static json_t *pr_shared_nexus_json(const char *port, uint16_t rel)
{
	return json_pack("{s:s, s:i}", "port", port, "relative_target_port",
			 (int)rel);
}

static json_t *pr_shared_event_json(const struct pr_shared_event *ev)
{
	json_t *marks = json_array(), *o;

	if (!marks)
		return NULL;
	for (unsigned i = 0; i < ev->nr_marks; i++) {
		const struct pr_reg *m = &ev->marks[i];

		json_array_append_new(
		    marks,
		    json_pack("{s:s, s:i, s:b, s:i, s:i, s:b}", "transport_id",
			      m->id.tid, "relative_target_port",
			      (int)m->rel_port_id, "all_tg_pt",
			      (int)m->all_tg_pt, "asc", (int)m->ua_asc, "ascq",
			      (int)m->ua_ascq, "abort", (int)m->abort));
	}
	o = json_pack("{s:I, s:o, s:o}", "seq", (json_int_t)ev->seq, "sender",
		      ev->has_sender ? pr_shared_nexus_json(ev->sender_port,
							    ev->sender_rel)
				     : json_null(),
		      "marks", marks);
	return o;
}

/* The record's text, or NULL without memory. */
static char *pr_shared_rec_text(const struct pr_shared_rec *rec)
{
	struct scsi_pr_image img;
	json_t *root = json_object(), *events = json_array();
	char *text = NULL;

	if (!root || !events || pr_set_to_image(&rec->set, &img)) {
		json_decref(root);
		json_decref(events);
		return NULL;
	}
	json_object_set_new(root, "format", json_string(PR_SHARED_FORMAT));
	json_object_set_new(root, "version", json_integer(PR_SHARED_VERSION));
	json_object_set_new(root, "prgeneration",
			    json_integer(rec->set.generation));
	json_object_set_new(
	    root, "spc2",
	    rec->x.held ? pr_shared_nexus_json(rec->x.port, rec->x.rel_port)
			: json_null());
	json_object_set_new(root, "alua",
			    rec->x.alua_group
				? json_pack("{s:i, s:s}", "group",
					    (int)rec->x.alua_group, "owner",
					    rec->x.alua_owner)
				: json_null());
	for (unsigned i = 0; i < rec->nr_events; i++)
		json_array_append_new(events,
				      pr_shared_event_json(&rec->ev[i]));
	json_object_set_new(root, "events", events);
	if (pr_image_to_json(root, &img) == 0)
		text = json_dumps(root, JSON_COMPACT);
	scsi_pr_image_free(&img);
	json_decref(root);
	return text;
}

/* The record and its version (an empty record, version 0, when there is
 * none yet); -errno with err naming the record. */
static int pr_shared_fetch(struct scsi_lu *lu, struct pr_shared_rec *rec,
			   uint64_t *version, char *err, size_t errlen)
{
	char where[512], what[384] = "out of memory";
	char *text = NULL;
	int rc;

	pr_shared_where(lu, where, sizeof(where));
	rc = pr_shared_ops(lu)->load(lu->bs, &text, version);
	if (rc == -ENOENT) {
		pr_shared_rec_init(rec);
		*version = 0;
		return 0;
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot read %s: %s", where,
			 rc == -EBADMSG ? "not a lunar record" : strerror(-rc));
		return rc;
	}
	rc = pr_shared_rec_from_text(text, rec, what, sizeof(what));
	free(text);
	if (rc)
		snprintf(err, errlen,
			 "%s: %s; fix it or remove it (rados rm), which drops "
			 "the reservations of the LU on every gateway",
			 where, what);
	return rc;
}

/* ---- taking a record over ---- */

static bool pr_shared_same_nexus(const struct scsi_nexus *n,
				 const struct pr_shared_event *ev)
{
	return ev->has_sender && n->rel_port_id == ev->sender_rel &&
	       strcasecmp(n->initiator_port, ev->sender_port) == 0;
}

/* The unit attentions and aborts of one change to this gateway's nexuses;
 * whether it aborted tasks. Under lu->lock. */
static bool pr_shared_apply_locked(struct scsi_lu *lu,
				   const struct pr_shared_event *ev)
{
	bool aborting = false;
	struct scsi_itl *itl;

	list_for_each_entry (itl, &lu->itl_list, lu_link) {
		const struct scsi_nexus *n = itl->nexus;

		if (!n || pr_shared_same_nexus(n, ev))
			continue;
		for (unsigned i = 0; i < ev->nr_marks; i++) {
			const struct pr_reg *m = &ev->marks[i];

			if (!m->ua_asc || !pr_reg_matches(m, n->initiator_port,
							  n->rel_port_id))
				continue;
			scsi_ua_establish_locked(itl, m->ua_asc, m->ua_ascq);
			if (m->abort) {
				scsi_itl_abort_tasks_locked(itl, NULL);
				aborting = true;
			}
		}
	}
	return aborting;
}

/*
 * Makes rec (of version) the LU's state, with the unit attentions and
 * aborts of the changes this gateway had not taken over yet; nothing if
 * it has this version already. Whether tasks were aborted. Under lu->lock.
 */
/* The ALUA word of lu (scsi_lu.alua_shared) that rec makes. */
static uint32_t pr_shared_alua_word(const struct pr_shared_rec *rec, bool live)
{
	if (!rec->x.alua_group)
		return 0;
	return rec->x.alua_group | (live ? SCSI_LU_ALUA_LIVE : 0);
}

/* ASYMMETRIC ACCESS STATE CHANGED to the nexuses of lu, but the one
 * whose SET TARGET PORT GROUPS made the change. Under lu->lock. */
static void pr_shared_alua_ua_locked(struct scsi_lu *lu,
				     const struct pr_shared_event *ev)
{
	struct scsi_itl *itl;

	list_for_each_entry (itl, &lu->itl_list, lu_link) {
		if (itl->nexus && !(ev && pr_shared_same_nexus(itl->nexus, ev)))
			scsi_ua_establish_locked(
			    itl, SCSI_ASC_ASYMMETRIC_ACCESS_CHANGED);
	}
}

static bool pr_shared_adopt_locked(struct scsi_lu *lu,
				   const struct pr_shared_rec *rec,
				   uint64_t version, bool live)
{
	struct scsi_pr *pr = lu->pr;
	uint32_t alua = pr_shared_alua_word(rec, live);
	bool aborting = false;
	struct pr_set copy;

	/* Whether the owner is alive can change without a new version. */
	if (atomic_exchange(&lu->alua_shared, alua) != alua)
		pr_shared_alua_ua_locked(lu, version > pr->shared_version &&
						     rec->nr_events
						 ? &rec->ev[rec->nr_events - 1]
						 : NULL);
	if (version <= pr->shared_version)
		return false;
	if (pr_set_clone(&rec->set, &copy)) {
		log_error("target %s LUN %" PRIu64 ": out of memory taking "
			  "over the shared reservations",
			  lu->target->name, lu->lun);
		return false;
	}
	if (pr->shared_version && rec->nr_events &&
	    rec->ev[0].seq > pr->shared_version + 1)
		log_warn("target %s LUN %" PRIu64 ": missed reservation "
			 "changes %" PRIu64 "..%" PRIu64 " of other gateways; "
			 "their unit attentions are lost here",
			 lu->target->name, lu->lun, pr->shared_version + 1,
			 rec->ev[0].seq - 1);
	for (unsigned i = 0; i < rec->nr_events; i++) {
		if (rec->ev[i].seq > pr->shared_version &&
		    rec->ev[i].seq <= version)
			aborting |= pr_shared_apply_locked(lu, &rec->ev[i]);
	}
	pr_set_clear(&pr->set);
	pr_set_replace(&pr->set, &copy);
	pr->spc2 = rec->x.held;
	snprintf(pr->spc2_port, sizeof(pr->spc2_port), "%s", rec->x.port);
	pr->spc2_rel_port = rec->x.rel_port;
	pr->shared_version = version;
	pr_update_state(pr);
	return aborting;
}

/* ---- the workers ---- */

static void pr_shared_worker_push(struct pr_shared_worker *w,
				  struct pr_shared_job *job)
{
	pthread_mutex_lock(&w->lock);
	list_add_tail(&job->link, &w->queue);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void pr_shared_run_job(struct pr_shared_job *job);

static void *pr_shared_worker_main(void *arg)
{
	struct pr_shared_worker *w = arg;

	for (;;) {
		struct pr_shared_job *job;

		pthread_mutex_lock(&w->lock);
		while (list_empty(&w->queue))
			pthread_cond_wait(&w->cond, &w->lock);
		job = container_of(w->queue.next, struct pr_shared_job, link);
		list_del(&job->link);
		pthread_mutex_unlock(&w->lock);
		pr_shared_run_job(job);
	}
	return NULL;
}

static void pr_shared_start(void)
{
	struct pr_shared_worker *ws[] = {&pr_change_worker, &pr_notify_worker};

	for (unsigned i = 0; i < 2; i++) {
		pthread_t t;
		int rc = pthread_create(&t, NULL, pr_shared_worker_main, ws[i]);

		if (rc) {
			pr_shared_start_rc = -rc;
			return;
		}
		pthread_setname_np(t, ws[i]->name);
		pthread_detach(t);
	}
}

/* On the command's reactor: the command's end, then the job's. */
static void pr_shared_job_done(void *arg)
{
	struct pr_shared_job *job = arg;

	if (job->cmd)
		job->done(job->cmd, job->aborting);
	if (job->arg != job)
		free(job->arg);
	scsi_lu_put(job->lu);
	free(job);
}

static void pr_shared_finish(struct pr_shared_job *job)
{
	if (!job->cmd) {
		if (job->arg != job)
			free(job->arg);
		scsi_lu_put(job->lu);
		free(job);
		return;
	}
	job->msg.fn = pr_shared_job_done;
	job->msg.arg = job;
	reactor_post_msg(job->cmd->nexus->reactor, &job->msg);
}

/* The record could not be read or written: the change did not happen. */
static void pr_shared_fail(struct pr_shared_job *job, int rc, const char *err)
{
	struct scsi_lu *lu = job->lu;

	log_error("target %s LUN %" PRIu64 ": %s %s failed: %s",
		  lu->target->name, lu->lun,
		  job->cmd ? job->cmd->op->name
			   : "releasing the reservation of",
		  job->cmd ? "" : job->drop_port, err);
	if (!job->cmd)
		return;
	if (rc == -ETIMEDOUT)
		scsi_cmd_set_sense(job->cmd, SCSI_SK_ABORTED_COMMAND,
				   SCSI_ASC_TIMEOUT_ON_LU);
	else
		scsi_cmd_set_sense(job->cmd, SCSI_SK_HARDWARE_ERROR,
				   SCSI_ASC_INTERNAL_TARGET_FAILURE);
}

/* The marks of a change: registrations (kept or removed) whose nexuses
 * get a unit attention, copied into ev. */
static int pr_shared_event_make(struct pr_shared_event *ev,
				const struct pr_shared_job *job,
				struct pr_set *s, struct list_head *removed,
				uint64_t seq)
{
	struct list_head *lists[2] = {&s->regs, removed};
	unsigned n = 0;
	struct pr_reg *reg;

	memset(ev, 0, sizeof(*ev));
	ev->seq = seq;
	if (job->cmd) {
		ev->has_sender = true;
		snprintf(ev->sender_port, sizeof(ev->sender_port), "%s",
			 job->cmd->nexus->initiator_port);
		ev->sender_rel = job->cmd->nexus->rel_port_id;
	}
	for (int i = 0; i < 2; i++)
		list_for_each_entry (reg, lists[i], link)
			n += reg->ua_asc != 0;
	ev->marks = calloc(n + 1, sizeof(*ev->marks));
	if (!ev->marks)
		return -ENOMEM;
	for (int i = 0; i < 2; i++) {
		list_for_each_entry (reg, lists[i], link) {
			if (!reg->ua_asc)
				continue;
			ev->marks[ev->nr_marks] = *reg;
			list_init(&ev->marks[ev->nr_marks].link);
			ev->nr_marks++;
		}
	}
	pr_set_clear_marks(s);
	return 0;
}

/* Whether the owner the record names holds the medium's lock now (a
 * round trip to the cluster). */
static bool pr_shared_owner_live(struct scsi_lu *lu,
				 const struct pr_shared_rec *rec)
{
	bool yes = false;

	if (!rec->x.alua_group || !rec->x.alua_owner[0])
		return false;
	if (pr_shared_ops(lu)->lock_held_by(lu->bs, rec->x.alua_owner, &yes))
		return false;
	return yes;
}

/* The SPC-2 reservation ends with its nexus, or with a LU reset. */
static int pr_shared_drop_change(struct scsi_cmd *cmd, void *arg,
				 struct pr_set *s, struct pr_extra *spc2,
				 struct list_head *removed, bool *changed)
{
	const struct pr_shared_job *job = arg;

	if (spc2->held &&
	    (job->drop_any || (spc2->rel_port == job->drop_rel &&
			       !strcasecmp(spc2->port, job->drop_port)))) {
		spc2->held = false;
		*changed = true;
	}
	return 0;
}

/*
 * One attempt of a change: 1 done, 0 to retry (a lost race), or -errno
 * with err set. The next record is the last events plus this change.
 */
static int pr_shared_attempt(struct pr_shared_job *job, char *err,
			     size_t errlen)
{
	struct scsi_lu *lu = job->lu;
	const struct bs_shared_ops *sh = pr_shared_ops(lu);
	struct pr_shared_rec rec, next;
	struct list_head removed;
	uint64_t version;
	bool changed = false;
	char *text;
	int rc, fenced;

	bool live, next_live;

	rc = pr_shared_fetch(lu, &rec, &version, err, errlen);
	if (rc < 0)
		return rc;
	live = pr_shared_owner_live(lu, &rec);
	pr_shared_rec_init(&next);
	list_init(&removed);
	/* The record's SPC-2 reservation and owner, not the cache's: an
	 * SPC-2 reservation ends here before its drop reaches the record. */
	next.x = rec.x;
	pthread_mutex_lock(&lu->lock);
	pr_shared_adopt_locked(lu, &rec, version, live);
	rc = pr_set_clone(&lu->pr->set, &next.set);
	pthread_mutex_unlock(&lu->lock);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	rc = job->change(job->cmd, job->arg, &next.set, &next.x, &removed,
			 &changed);
	if (rc < 0 || !changed) {
		/* Refused (the status is set) or nothing to change: done. */
		pr_reg_list_free(&removed);
		rc = 1;
		goto out;
	}
	/* The newest PR_SHARED_EVENTS - 1 changes and this one. */
	for (unsigned i = rec.nr_events >= PR_SHARED_EVENTS
			      ? rec.nr_events - (PR_SHARED_EVENTS - 1)
			      : 0;
	     i < rec.nr_events; i++) {
		next.ev[next.nr_events++] = rec.ev[i];
		rec.ev[i].marks = NULL;
	}
	rc = pr_shared_event_make(&next.ev[next.nr_events], job, &next.set,
				  &removed, version + 1);
	if (rc == 0)
		next.nr_events++;
	pr_reg_list_free(&removed);
	text = rc == 0 ? pr_shared_rec_text(&next) : NULL;
	if (!text) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	rc = sh->replace(lu->bs, text, strlen(text), version);
	free(text);
	if (rc == -ECANCELED) {
		rc = 0; /* another gateway was first: again, on its state */
		goto out;
	}
	if (rc < 0) {
		char where[512];

		pr_shared_where(lu, where, sizeof(where));
		snprintf(err, errlen, "cannot write %s: %s", where,
			 strerror(-rc));
		goto out;
	}
	/* Still the same holder, or this gateway, which just took it. */
	next_live = next.x.alua_owner[0] &&
		    (!strcmp(next.x.alua_owner, rec.x.alua_owner)
			 ? live
			 : !strcmp(next.x.alua_owner, job->who));
	pthread_mutex_lock(&lu->lock);
	job->aborting =
	    pr_shared_adopt_locked(lu, &next, version + 1, next_live);
	pthread_mutex_unlock(&lu->lock);
	fenced = sh->notify(lu->bs, PR_SHARED_NOTIFY_MS);
	if (fenced < 0) {
		/* Written, but a silent gateway could not be fenced: it may
		 * still act on the old state. The initiator must know. */
		snprintf(err, errlen,
			 "the change is stored, but a gateway that did not "
			 "take it over could not be fenced: %s",
			 strerror(-fenced));
		rc = -EIO;
		goto out;
	}
	rc = 1;
out:
	pr_shared_rec_clear(&next);
	pr_shared_rec_clear(&rec);
	return rc;
}

static void pr_shared_change_run(struct pr_shared_job *job)
{
	char err[768] = "";
	int rc = 0;

	for (unsigned i = 0; i < PR_SHARED_RETRIES && rc == 0; i++)
		rc = pr_shared_attempt(job, err, sizeof(err));
	if (rc == 0) {
		log_warn("target %s LUN %" PRIu64 ": lost %d races for the "
			 "shared reservations in a row; answering BUSY",
			 job->lu->target->name, job->lu->lun,
			 PR_SHARED_RETRIES);
		if (job->cmd)
			scsi_cmd_set_status(job->cmd, SAM_STAT_BUSY);
	} else if (rc < 0) {
		pr_shared_fail(job, rc, err);
	}
	pr_shared_finish(job);
}

/* Another gateway (or another LU of this one) changed the record. */
static void pr_shared_notified_run(struct pr_shared_job *job)
{
	struct scsi_lu *lu = job->lu;
	struct pr_shared_rec rec;
	uint64_t version;
	bool live;
	char err[768];

	if (pr_shared_fetch(lu, &rec, &version, err, sizeof(err)) < 0) {
		/* Not acknowledged: the writer fences this gateway rather
		 * than let it act on a state it does not know. */
		log_error("target %s LUN %" PRIu64 ": %s", lu->target->name,
			  lu->lun, err);
		goto out;
	}
	/* Another group owns the medium now: let go of its lock, after the
	 * writes in flight, before the new owner is told to go on. */
	if (lu->pr->alua_mine && rec.x.alua_group != lu->pr->alua_mine) {
		int rc = pr_shared_ops(lu)->lock_drop(lu->bs);

		if (rc < 0)
			log_error("target %s LUN %" PRIu64 ": cannot release "
				  "the medium's lock for port group %u: %s",
				  lu->target->name, lu->lun, rec.x.alua_group,
				  strerror(-rc));
		else
			log_info("target %s LUN %" PRIu64 ": port group %u "
				 "owns it now; released the medium's lock",
				 lu->target->name, lu->lun, rec.x.alua_group);
		lu->pr->alua_mine = 0;
	}
	live = pr_shared_owner_live(lu, &rec);
	pthread_mutex_lock(&lu->lock);
	pr_shared_adopt_locked(lu, &rec, version, live);
	pthread_mutex_unlock(&lu->lock);
	pr_shared_rec_clear(&rec);
	/* PREEMPT AND ABORT is over only when the tasks are gone here too.
	 * Whatever adopted the change (this job, an earlier notification,
	 * the change worker), no acknowledgement goes out while aborts of
	 * this LU are still on their way: the writer answers GOOD on it. */
	for (unsigned ms = 0; scsi_lu_aborting(lu) && ms < PR_SHARED_ABORT_MS;
	     ms++)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	pr_shared_ops(lu)->ack(lu->bs, job->token);
out:
	scsi_lu_put(lu);
	free(job);
}

/* ---- ALUA across gateways: one port group owns the medium ---- */

/* First step: the record names the group, with no holder yet (every
 * gateway reports it transitioning); the old owner lets go of the lock
 * when it takes this over, or is fenced. */
static int pr_alua_claim(struct scsi_cmd *cmd, void *arg, struct pr_set *s,
			 struct pr_extra *x, struct list_head *removed,
			 bool *changed)
{
	const struct pr_shared_job *job = arg;

	if (x->alua_group != job->group || x->alua_owner[0]) {
		x->alua_group = job->group;
		x->alua_owner[0] = '\0';
		*changed = true;
	}
	return 0;
}

/* Second step, with the lock taken: this gateway holds it. */
static int pr_alua_own(struct scsi_cmd *cmd, void *arg, struct pr_set *s,
		       struct pr_extra *x, struct list_head *removed,
		       bool *changed)
{
	struct pr_shared_job *job = arg;

	if (x->alua_group != job->group) {
		job->lost = true; /* another gateway claimed it meanwhile */
		return 0;
	}
	if (strcmp(x->alua_owner, job->who)) {
		snprintf(x->alua_owner, sizeof(x->alua_owner), "%s", job->who);
		*changed = true;
	}
	return 0;
}

static int pr_alua_step(struct pr_shared_job *job, pr_shared_change_fn fn,
			char *err, size_t errlen)
{
	int rc = 0;

	job->change = fn;
	job->arg = job;
	for (unsigned i = 0; i < PR_SHARED_RETRIES && rc == 0; i++)
		rc = pr_shared_attempt(job, err, errlen);
	if (rc == 0) {
		snprintf(err, errlen, "lost %d races for the shared record",
			 PR_SHARED_RETRIES);
		return -EBUSY;
	}
	return rc < 0 ? rc : 0;
}

static int pr_alua_activate(struct pr_shared_job *job, char *err, size_t errlen)
{
	struct scsi_lu *lu = job->lu;
	int rc;

	if (atomic_load(&lu->alua_shared) == (job->group | SCSI_LU_ALUA_LIVE) &&
	    lu->pr->alua_mine == job->group)
		return 0; /* already the owner */
	rc = pr_alua_step(job, pr_alua_claim, err, errlen);
	if (rc == 0) {
		rc = pr_shared_ops(lu)->lock_take(lu->bs, job->who,
						  sizeof(job->who));
		if (rc < 0)
			snprintf(err, errlen,
				 "cannot take the medium's lock: %s%s",
				 strerror(-rc),
				 rc == -ESHUTDOWN ? " (this gateway was fenced "
						    "by another; restart it)"
						  : "");
	}
	if (rc == 0) {
		lu->pr->alua_mine = job->group;
		rc = pr_alua_step(job, pr_alua_own, err, errlen);
	}
	if (rc == 0 && job->lost) {
		snprintf(err, errlen,
			 "another gateway's port group claimed it meanwhile");
		rc = -EBUSY;
	}
	if (rc < 0 && lu->pr->alua_mine == job->group && job->lost) {
		pr_shared_ops(lu)->lock_drop(lu->bs);
		lu->pr->alua_mine = 0;
	}
	return rc;
}

static void pr_alua_activate_run(struct pr_shared_job *job)
{
	struct scsi_lu *lu = job->lu;
	char err[768] = "";
	int rc = pr_alua_activate(job, err, sizeof(err));

	if (rc < 0)
		log_error("target %s LUN %" PRIu64 ": port group %u cannot "
			  "take over: %s",
			  lu->target->name, lu->lun, job->group, err);
	else
		log_info("target %s LUN %" PRIu64 ": port group %u owns the "
			 "medium (active/optimized on every gateway)",
			 lu->target->name, lu->lun, job->group);
	if (job->waiter) {
		struct pr_shared_waiter *w = job->waiter;

		pthread_mutex_lock(&w->lock);
		w->rc = rc;
		snprintf(w->err, sizeof(w->err), "%s", err);
		w->done = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		scsi_lu_put(lu);
		free(job);
		return;
	}
	/* SPC-5 §6.43: a transition that failed. */
	if (rc < 0)
		scsi_cmd_set_sense(job->cmd, SCSI_SK_HARDWARE_ERROR,
				   SCSI_ASC_SET_TPGS_FAILED);
	job->arg = NULL;
	pr_shared_finish(job);
}

static void pr_shared_run_job(struct pr_shared_job *job)
{
	if (job->kind == PR_SHARED_NOTIFIED)
		pr_shared_notified_run(job);
	else if (job->kind == PR_SHARED_ACTIVATE)
		pr_alua_activate_run(job);
	else
		pr_shared_change_run(job);
}

/* ---- entry points ---- */

static struct pr_shared_job *pr_shared_job_new(struct scsi_lu *lu,
					       enum pr_shared_kind kind)
{
	struct pr_shared_job *job = calloc(1, sizeof(*job));

	if (!job)
		return NULL;
	job->kind = kind;
	job->lu = lu;
	scsi_lu_get(lu);
	return job;
}

int pr_shared_run(struct scsi_cmd *cmd, pr_shared_change_fn change, void *arg,
		  void (*done)(struct scsi_cmd *cmd, bool aborting))
{
	struct pr_shared_job *job =
	    pr_shared_job_new(cmd->lu, PR_SHARED_CHANGE);

	if (!job) {
		free(arg);
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		return -ENOMEM;
	}
	job->cmd = cmd;
	job->change = change;
	job->arg = arg;
	job->done = done;
	pr_shared_worker_push(&pr_change_worker, job);
	return -EINPROGRESS;
}

void pr_shared_spc2_drop(struct scsi_lu *lu, const char *port,
			 uint16_t rel_port)
{
	struct pr_shared_job *job = pr_shared_job_new(lu, PR_SHARED_CHANGE);

	if (!job) {
		log_error("target %s LUN %" PRIu64 ": out of memory releasing "
			  "its SPC-2 reservation; release it with RELEASE",
			  lu->target->name, lu->lun);
		return;
	}
	job->change = pr_shared_drop_change;
	job->arg = job;
	job->drop_any = !port;
	snprintf(job->drop_port, sizeof(job->drop_port), "%s",
		 port ? port : "any nexus");
	job->drop_rel = rel_port;
	pr_shared_worker_push(&pr_change_worker, job);
}

bool scsi_lu_alua_shared(const struct scsi_lu *lu)
{
	return pr_shared(lu) && lu->bs->ops->shared->lock_take &&
	       scsi_tpg_tpgs(lu) & SCSI_TPGS_EXPLICIT;
}

static void pr_alua_cmd_done(struct scsi_cmd *cmd, bool aborting)
{
	scsi_cmd_complete(cmd);
}

int scsi_lu_alua_activate(struct scsi_cmd *cmd, uint16_t group)
{
	struct pr_shared_job *job =
	    pr_shared_job_new(cmd->lu, PR_SHARED_ACTIVATE);

	if (!job) {
		scsi_cmd_set_status(cmd, SAM_STAT_BUSY);
		return -ENOMEM;
	}
	job->cmd = cmd;
	job->group = group;
	job->done = pr_alua_cmd_done;
	pr_shared_worker_push(&pr_change_worker, job);
	return -EINPROGRESS;
}

/* How long lunarctl waits: two notifies that may time out, and a lock
 * break. */
#define PR_ALUA_WAIT_SECS (3 * PR_SHARED_NOTIFY_MS / 1000 + 30)

int scsi_lu_alua_activate_wait(struct scsi_lu *lu, uint16_t group, char *err,
			       size_t errlen)
{
	struct pr_shared_waiter *w = calloc(1, sizeof(*w));
	struct pr_shared_job *job;
	struct timespec until;
	int rc = 0;

	if (!w || !(job = pr_shared_job_new(lu, PR_SHARED_ACTIVATE))) {
		free(w);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	job->group = group;
	job->waiter = w;
	pr_shared_worker_push(&pr_change_worker, job);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += PR_ALUA_WAIT_SECS;
	pthread_mutex_lock(&w->lock);
	while (!w->done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->cond, &w->lock, &until);
	if (!w->done) {
		/* The worker still holds w: it is never freed (rare: the
		 * cluster stopped answering). */
		pthread_mutex_unlock(&w->lock);
		snprintf(err, errlen,
			 "no answer from the cluster in %d s; the takeover "
			 "goes on in the background",
			 PR_ALUA_WAIT_SECS);
		return -ETIMEDOUT;
	}
	rc = w->rc;
	snprintf(err, errlen, "%s", w->err);
	pthread_mutex_unlock(&w->lock);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
	return rc;
}

/* librados's thread: a gateway changed the record. */
static void pr_shared_changed(void *arg, uint64_t token)
{
	struct scsi_lu *lu = arg;
	struct pr_shared_job *job;
	int ref = atomic_load_explicit(&lu->refcnt, memory_order_relaxed);

	do {
		if (ref == 0) { /* on its way out: nothing to take over */
			pr_shared_ops(lu)->ack(lu->bs, token);
			return;
		}
	} while (!atomic_compare_exchange_weak_explicit(
	    &lu->refcnt, &ref, ref + 1, memory_order_acquire,
	    memory_order_relaxed));
	job = calloc(1, sizeof(*job));
	if (!job) {
		log_error("target %s LUN %" PRIu64 ": out of memory taking "
			  "over a reservation change",
			  lu->target->name, lu->lun);
		scsi_lu_put(lu);
		return;
	}
	job->kind = PR_SHARED_NOTIFIED;
	job->lu = lu;
	job->token = token;
	pr_shared_worker_push(&pr_notify_worker, job);
}

int pr_shared_lu_init(struct scsi_lu *lu, struct scsi_pr *pr, char *err,
		      size_t errlen)
{
	const struct bs_shared_ops *sh = pr_shared_ops(lu);
	struct pr_shared_rec rec;
	uint64_t version;
	bool live;
	int rc;

	pthread_once(&pr_shared_once, pr_shared_start);
	if (pr_shared_start_rc) {
		snprintf(err, errlen,
			 "cannot start the reservation workers: %s",
			 strerror(-pr_shared_start_rc));
		return pr_shared_start_rc;
	}
	pr->shared = true;
	lu->pr = pr;
	rc = sh->watch(lu->bs, pr_shared_changed, lu);
	if (rc < 0) {
		char where[512];

		pr_shared_where(lu, where, sizeof(where));
		snprintf(err, errlen, "cannot watch %s: %s", where,
			 strerror(-rc));
		lu->pr = NULL;
		return rc;
	}
	rc = pr_shared_fetch(lu, &rec, &version, err, errlen);
	if (rc < 0) {
		sh->unwatch(lu->bs);
		lu->pr = NULL;
		return rc;
	}
	live = pr_shared_owner_live(lu, &rec);
	pthread_mutex_lock(&lu->lock);
	pr_shared_adopt_locked(lu, &rec, version, live);
	pthread_mutex_unlock(&lu->lock);
	pr_shared_rec_clear(&rec);
	if (pr->set.nr_regs || pr->spc2)
		log_info("target %s LUN %" PRIu64 ": %u registration(s)%s%s "
			 "shared with the other gateways",
			 lu->target->name, lu->lun, pr->set.nr_regs,
			 pr->set.reserved ? ", a persistent reservation" : "",
			 pr->spc2 ? ", an SPC-2 reservation" : "");
	return 0;
}

void pr_shared_lu_exit(struct scsi_lu *lu)
{
	pr_shared_ops(lu)->unwatch(lu->bs);
}
