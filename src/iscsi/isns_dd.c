/*
 * iSNS discovery domains for SendTargets (RFC 4171; §5.6.5.2 DevAttrQry,
 * whose answer the server scopes to the Source's domains): with
 * lunard --isns-dd, a discovery session's SendTargets lists only the
 * targets the iSNS server lets the initiator see, that is those sharing a
 * discovery domain with it (as the server decides, default domain
 * included). This file owns the cache of those answers; isns.c asks the
 * server (DevAttrQry with the initiator as Source) when an entry is
 * missing or old.
 *
 * The cache is read on the pool reactors (text.c) and filled on the main
 * thread, hence its mutex, which is taken inside the config read lock and
 * never around it. An answer is fresh for ISNS_DD_TTL_MS; an older one is
 * still used, for at most ISNS_DD_STALE_MS, while a new query runs in the
 * background, so only an initiator's first SendTargets waits for the
 * server. Without an answer (server down, query refused) SendTargets falls
 * back to the ACLs alone, as without --isns-dd, and says so in the log;
 * a failed query is not repeated within ISNS_DD_TTL_MS. At most
 * ISNS_DD_ENTRIES initiators are kept; the least recently answered goes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/reactor.h"
#include "iscsi/isns.h"
#include "scsi/target.h"
#include "util/list.h"
#include "util/log.h"

#define ISNS_DD_TTL_MS	 5000
#define ISNS_DD_STALE_MS 300000
#define ISNS_DD_ENTRIES	 1024

struct isns_dd_waiter {
	struct isns_dd_waiter *next;
	struct reactor *r;
	reactor_msg_fn fn;
	void *arg;
};

struct isns_dd_entry {
	struct list_head link;
	char initiator[SCSI_NAME_MAX];
	char (*visible)[SCSI_NAME_MAX];
	size_t nr_visible;
	uint64_t good_ms;  /* last answer; 0: none */
	uint64_t tried_ms; /* last failed query */
	bool fetching;	   /* a query is wanted or under way */
	bool sent;	   /* ... and isns.c has sent it */
	struct isns_dd_waiter *waiters;
};

static pthread_mutex_t isns_dd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head isns_dd_entries = LIST_HEAD_INIT(isns_dd_entries);
static size_t isns_dd_count;
static atomic_bool isns_dd_on;
static struct reactor *isns_dd_main;
static atomic_bool isns_dd_kick_queued;

void isns_dd_enable(struct reactor *main_reactor)
{
	isns_dd_main = main_reactor;
	atomic_store(&isns_dd_on, true);
}

bool isns_dd_enabled(void)
{
	return atomic_load(&isns_dd_on);
}

static void isns_dd_kick_run(void *arg)
{
	atomic_store(&isns_dd_kick_queued, false);
	isns_dd_kick();
}

/* Any thread: let the main thread send what is wanted. */
static void isns_dd_wake(void)
{
	if (atomic_exchange(&isns_dd_kick_queued, true))
		return;
	if (reactor_post(isns_dd_main, isns_dd_kick_run, NULL) < 0) {
		atomic_store(&isns_dd_kick_queued, false);
		log_error("isns: out of memory asking for discovery domains");
	}
}

/* Caller holds isns_dd_lock. */
static struct isns_dd_entry *isns_dd_find(const char *initiator)
{
	struct isns_dd_entry *e;

	list_for_each_entry (e, &isns_dd_entries, link)
		if (!strcmp(e->initiator, initiator))
			return e;
	return NULL;
}

static uint64_t isns_dd_age(const struct isns_dd_entry *e)
{
	return e->good_ms > e->tried_ms ? e->good_ms : e->tried_ms;
}

/* Caller holds isns_dd_lock. NULL when full of entries being queried. */
static struct isns_dd_entry *isns_dd_new(const char *initiator)
{
	struct isns_dd_entry *e, *old = NULL;

	if (isns_dd_count >= ISNS_DD_ENTRIES) {
		list_for_each_entry (e, &isns_dd_entries, link)
			if (!e->fetching &&
			    (!old || isns_dd_age(e) < isns_dd_age(old)))
				old = e;
		if (!old)
			return NULL;
		list_del(&old->link);
		free(old->visible);
		free(old);
		isns_dd_count--;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	snprintf(e->initiator, sizeof(e->initiator), "%s", initiator);
	list_add_head(&e->link, &isns_dd_entries);
	isns_dd_count++;
	return e;
}

int isns_dd_check(const char *initiator, const char *target)
{
	uint64_t now = reactor_now_ms();
	struct isns_dd_entry *e;
	bool wake = false;
	int rc = -ENOENT;

	pthread_mutex_lock(&isns_dd_lock);
	e = isns_dd_find(initiator);
	if (e && e->good_ms && now - e->good_ms < ISNS_DD_STALE_MS) {
		rc = 0;
		for (size_t i = 0; i < e->nr_visible && !rc; i++)
			rc = !strcmp(e->visible[i], target);
		if (now - e->good_ms >= ISNS_DD_TTL_MS && !e->fetching &&
		    now - e->tried_ms >= ISNS_DD_TTL_MS) {
			e->fetching = true;
			e->sent = false;
			wake = true;
		}
	} else if (e && e->tried_ms && now - e->tried_ms < ISNS_DD_TTL_MS) {
		rc = -ENOTCONN;
	}
	pthread_mutex_unlock(&isns_dd_lock);
	if (wake)
		isns_dd_wake();
	return rc;
}

int isns_dd_fetch(const char *initiator, struct reactor *r, reactor_msg_fn fn,
		  void *arg)
{
	struct isns_dd_waiter *w = malloc(sizeof(*w));
	struct isns_dd_entry *e;
	bool wake = false;

	if (!w)
		return -ENOMEM;
	w->r = r;
	w->fn = fn;
	w->arg = arg;
	pthread_mutex_lock(&isns_dd_lock);
	e = isns_dd_find(initiator);
	if (!e)
		e = isns_dd_new(initiator);
	if (!e) {
		pthread_mutex_unlock(&isns_dd_lock);
		free(w);
		return -ENOSPC;
	}
	w->next = e->waiters;
	e->waiters = w;
	if (!e->fetching) {
		e->fetching = true;
		e->sent = false;
		wake = true;
	}
	pthread_mutex_unlock(&isns_dd_lock);
	if (wake)
		isns_dd_wake();
	return 0;
}

bool isns_dd_pending(char *initiator, size_t len)
{
	struct isns_dd_entry *e;
	bool found = false;

	pthread_mutex_lock(&isns_dd_lock);
	list_for_each_entry (e, &isns_dd_entries, link) {
		if (e->fetching && !e->sent) {
			e->sent = true;
			snprintf(initiator, len, "%s", e->initiator);
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&isns_dd_lock);
	return found;
}

/* Caller holds isns_dd_lock: ends e's query; the waiters are woken. */
static struct isns_dd_waiter *isns_dd_end(struct isns_dd_entry *e)
{
	struct isns_dd_waiter *w = e->waiters;

	e->waiters = NULL;
	e->fetching = false;
	e->sent = false;
	return w;
}

static void isns_dd_wake_waiters(struct isns_dd_waiter *w)
{
	while (w) {
		struct isns_dd_waiter *next = w->next;

		if (reactor_post(w->r, w->fn, w->arg) < 0)
			log_error("isns: cannot resume a SendTargets waiting "
				  "for discovery domains; its connection "
				  "stays idle until the initiator gives up");
		free(w);
		w = next;
	}
}

void isns_dd_done(const char *initiator, char (*names)[SCSI_NAME_MAX], size_t n,
		  bool ok)
{
	struct isns_dd_waiter *w = NULL;
	struct isns_dd_entry *e;

	pthread_mutex_lock(&isns_dd_lock);
	e = isns_dd_find(initiator);
	if (e) {
		if (ok) {
			free(e->visible);
			e->visible = names;
			e->nr_visible = n;
			names = NULL;
			e->good_ms = reactor_now_ms();
		} else {
			e->tried_ms = reactor_now_ms();
		}
		w = isns_dd_end(e);
	}
	pthread_mutex_unlock(&isns_dd_lock);
	free(names);
	if (!ok)
		log_warn("isns: no discovery domain answer for initiator %s; "
			 "its SendTargets lists every target its ACLs allow "
			 "until the iSNS server answers",
			 initiator);
	isns_dd_wake_waiters(w);
}

void isns_dd_fail_all(void)
{
	struct isns_dd_waiter *all = NULL, *w;
	struct isns_dd_entry *e;
	uint64_t now = reactor_now_ms();
	size_t failed = 0;

	pthread_mutex_lock(&isns_dd_lock);
	list_for_each_entry (e, &isns_dd_entries, link) {
		if (!e->fetching)
			continue;
		e->tried_ms = now;
		failed++;
		w = isns_dd_end(e);
		while (w) {
			struct isns_dd_waiter *next = w->next;

			w->next = all;
			all = w;
			w = next;
		}
	}
	pthread_mutex_unlock(&isns_dd_lock);
	if (failed)
		log_warn("isns: the iSNS server is not reachable: SendTargets "
			 "of %zu initiator%s lists every target the ACLs allow "
			 "(no discovery domain filter) until it is back",
			 failed, failed == 1 ? "" : "s");
	isns_dd_wake_waiters(all);
}

void isns_dd_exit(void)
{
	struct isns_dd_entry *e, *n;

	pthread_mutex_lock(&isns_dd_lock);
	list_for_each_entry_safe (e, n, &isns_dd_entries, link) {
		struct isns_dd_waiter *w = isns_dd_end(e);

		while (w) {
			struct isns_dd_waiter *next = w->next;

			free(w);
			w = next;
		}
		list_del(&e->link);
		free(e->visible);
		free(e);
	}
	isns_dd_count = 0;
	pthread_mutex_unlock(&isns_dd_lock);
	atomic_store(&isns_dd_on, false);
}
