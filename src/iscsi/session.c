/*
 * Sessions: the registry of connections and sessions (a mutex taken only
 * at accept, login, teardown and by management, never on the data path),
 * TSIH allocation and session reinstatement (RFC 7143 §6.3.5: a new
 * session with the same initiator name, ISID and target closes the old
 * one first), and command numbering (§4.2.2: CmdSN/ExpCmdSN/MaxCmdSN with
 * a queue depth of ISCSI_QUEUE_DEPTH; commands outside the window are
 * silently dropped, those ahead of ExpCmdSN held and delivered in order).
 * The iscsi.h session listing and closing calls live here too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iscsi/conn.h"
#include "iscsi/iscsi.h"
#include "scsi/target.h"
#include "util/log.h"

pthread_mutex_t iscsi_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head registry_conns = LIST_HEAD_INIT(registry_conns);
static struct list_head registry_sessions = LIST_HEAD_INIT(registry_sessions);
static size_t registry_nr_conns;
static uint16_t registry_next_tsih = 1;

void iscsi_registry_add_conn(struct iscsi_conn *c)
{
	pthread_mutex_lock(&iscsi_registry_lock);
	list_add_tail(&c->reg_link, &registry_conns);
	c->registered = true;
	registry_nr_conns++;
	pthread_mutex_unlock(&iscsi_registry_lock);
}

void iscsi_registry_del_conn(struct iscsi_conn *c)
{
	bool last = false;

	pthread_mutex_lock(&iscsi_registry_lock);
	if (c->registered) {
		list_del(&c->reg_link);
		c->registered = false;
		last = --registry_nr_conns == 0;
	}
	pthread_mutex_unlock(&iscsi_registry_lock);
	if (last && atomic_load(&iscsi_shutting_down))
		iscsi_shutdown_conn_gone();
}

bool iscsi_registry_empty_locked(void)
{
	return registry_nr_conns == 0;
}

size_t iscsi_registry_post_all(reactor_msg_fn fn)
{
	struct iscsi_conn *c;
	size_t n = 0;

	pthread_mutex_lock(&iscsi_registry_lock);
	list_for_each_entry (c, &registry_conns, reg_link) {
		iscsi_conn_get(c);
		if (reactor_post(c->reactor, fn, c) < 0) {
			/* still registered: this is never the last ref */
			iscsi_conn_put(c);
			continue;
		}
		n++;
	}
	pthread_mutex_unlock(&iscsi_registry_lock);
	return n;
}

struct iscsi_session *iscsi_session_new(struct iscsi_conn *c)
{
	struct iscsi_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	atomic_init(&s->refcnt, 1);
	atomic_init(&s->cmds, 0);
	s->reactor = c->reactor;
	s->conn = c;
	list_init(&s->link);
	list_init(&s->pending);
	return s;
}

static void session_put(struct iscsi_session *s)
{
	if (atomic_fetch_sub(&s->refcnt, 1) == 1)
		free(s);
}

static bool session_same_nexus(const struct iscsi_session *a,
			       const struct iscsi_session *b)
{
	return a->discovery == b->discovery &&
	       !memcmp(a->isid, b->isid, sizeof(a->isid)) &&
	       !strcmp(a->initiator, b->initiator) &&
	       !strcmp(a->target_name, b->target_name);
}

static void session_close_msg(void *arg)
{
	struct iscsi_session *s = arg;
	struct iscsi_conn *c = s->conn;

	if (c && c->state < ISCSI_CONN_CLOSING) {
		char tsih[8];
		snprintf(tsih, sizeof(tsih), "%u", s->tsih);
		struct log_kv kv[] = {
		    {"LUNAR_EVENT", "session_closed"},
		    {"LUNAR_INITIATOR", s->initiator},
		    {"LUNAR_TARGET", s->discovery ? NULL : s->target_name},
		    {"LUNAR_TSIH", tsih},
		};
		log_info_kv(kv, "iscsi: closing session tsih %u of %s to %s",
			    s->tsih, s->initiator,
			    s->discovery ? "discovery" : s->target_name);
		iscsi_conn_close(c);
	}
	session_put(s);
}

/* Called with the registry lock held. */
static int session_post_close(struct iscsi_session *s)
{
	atomic_fetch_add(&s->refcnt, 1);
	if (reactor_post(s->reactor, session_close_msg, s) < 0) {
		atomic_fetch_sub(&s->refcnt, 1);
		return -ENOMEM;
	}
	return 0;
}

/*
 * The registry answers a login in constant time, however many sessions
 * there are (thousands log in at once after a gateway failover): TSIHs in
 * use are a bitmap, sessions are also hashed by I_T nexus (initiator,
 * ISID, target) for reinstatement. Both under iscsi_registry_lock.
 */
#define REGISTRY_NEXUS_HASH 1024
static struct list_head registry_nexus[REGISTRY_NEXUS_HASH];
static uint64_t registry_tsih_map[65536 / 64];

static struct list_head *session_nexus_bucket(const struct iscsi_session *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = s->initiator; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (const char *p = s->target_name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	for (unsigned i = 0; i < sizeof(s->isid); i++)
		h = (h ^ s->isid[i]) * 16777619u;
	h ^= s->discovery;
	if (!registry_nexus[0].next) {
		for (unsigned i = 0; i < REGISTRY_NEXUS_HASH; i++)
			list_init(&registry_nexus[i]);
	}
	return &registry_nexus[h % REGISTRY_NEXUS_HASH];
}

static bool session_tsih_used(uint16_t tsih)
{
	return registry_tsih_map[tsih / 64] >> (tsih % 64) & 1;
}

static void session_tsih_mark(uint16_t tsih, bool used)
{
	if (used)
		registry_tsih_map[tsih / 64] |= 1ull << (tsih % 64);
	else
		registry_tsih_map[tsih / 64] &= ~(1ull << (tsih % 64));
}

int iscsi_session_register(struct iscsi_session *s)
{
	struct iscsi_session *o;
	unsigned tries;
	int r = -EBUSY;

	pthread_mutex_lock(&iscsi_registry_lock);
	if (atomic_load(&iscsi_shutting_down)) {
		r = -ESHUTDOWN;
		goto out;
	}
	list_for_each_entry (o, session_nexus_bucket(s), nexus_link) {
		if (!session_same_nexus(o, s))
			continue;
		/* Reinstatement: the old session goes first. Asking twice
		 * is harmless: closing is idempotent. */
		log_info("iscsi: %s reinstates session tsih %u (ISID "
			 "%02x%02x%02x%02x%02x%02x)",
			 s->initiator, o->tsih, s->isid[0], s->isid[1],
			 s->isid[2], s->isid[3], s->isid[4], s->isid[5]);
		session_post_close(o);
		r = -EAGAIN;
		goto out;
	}
	for (tries = 0; tries < 65535; tries++) {
		uint16_t t = registry_next_tsih++;

		if (registry_next_tsih == 0)
			registry_next_tsih = 1;
		if (session_tsih_used(t))
			continue;
		s->tsih = t;
		s->sid =
		    (uint64_t)s->isid[0] << 56 | (uint64_t)s->isid[1] << 48 |
		    (uint64_t)s->isid[2] << 40 | (uint64_t)s->isid[3] << 32 |
		    (uint64_t)s->isid[4] << 24 | (uint64_t)s->isid[5] << 16 | t;
		list_add_tail(&s->link, &registry_sessions);
		list_add_tail(&s->nexus_link, session_nexus_bucket(s));
		session_tsih_mark(t, true);
		s->registered = true;
		if (s->target)
			atomic_fetch_add(&s->target->nr_sessions, 1);
		r = 0;
		break;
	}
out:
	pthread_mutex_unlock(&iscsi_registry_lock);
	return r;
}

void iscsi_session_end(struct iscsi_session *s)
{
	/* The nexus goes before the registry entry: a reinstating login
	 * waits for the entry to vanish, then creates the same nexus. */
	if (s->nexus_live) {
		scsi_nexus_release(&s->nexus);
		s->nexus_live = false;
	}
	pthread_mutex_lock(&iscsi_registry_lock);
	if (s->registered) {
		list_del(&s->link);
		list_del(&s->nexus_link);
		session_tsih_mark(s->tsih, false);
		s->registered = false;
		if (s->target)
			atomic_fetch_sub(&s->target->nr_sessions, 1);
	}
	pthread_mutex_unlock(&iscsi_registry_lock);
	if (s->target) {
		scsi_target_put(s->target);
		s->target = NULL;
	}
	iscsi_session_pending_free(s);
	s->conn = NULL;
	session_put(s);
}

int iscsi_session_tsih_exists(const uint8_t isid[6], const char *initiator,
			      uint16_t tsih)
{
	struct iscsi_session *o;
	int found = 0;

	pthread_mutex_lock(&iscsi_registry_lock);
	list_for_each_entry (o, &registry_sessions, link) {
		if (o->tsih == tsih && !memcmp(o->isid, isid, 6) &&
		    !strcmp(o->initiator, initiator)) {
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&iscsi_registry_lock);
	return found;
}

/* ---- command numbering ---- */

enum iscsi_cmdsn_verdict iscsi_session_cmdsn(struct iscsi_session *s,
					     bool immediate, uint32_t cmdsn)
{
	struct iscsi_pending *pd;

	if (immediate)
		return ISCSI_CMDSN_NOW;
	if (!sna32_le(cmdsn, s->max_cmdsn) || sna32_lt(cmdsn, s->exp_cmdsn))
		return ISCSI_CMDSN_IGNORE;
	if (cmdsn == s->exp_cmdsn) {
		s->exp_cmdsn++;
		return ISCSI_CMDSN_NOW;
	}
	list_for_each_entry (pd, &s->pending, link) {
		if (pd->cmdsn == cmdsn)
			return ISCSI_CMDSN_IGNORE;
	}
	return ISCSI_CMDSN_LATER;
}

void iscsi_session_update_window(struct iscsi_conn *c)
{
	struct iscsi_session *s = c->sess;
	uint32_t room = c->nr_window >= ISCSI_QUEUE_DEPTH
			    ? 0
			    : ISCSI_QUEUE_DEPTH - c->nr_window;
	uint32_t m = s->exp_cmdsn + room - 1;

	/* MaxCmdSN never moves back (RFC 7143 §4.2.2.1). */
	if (sna32_lt(s->max_cmdsn, m))
		s->max_cmdsn = m;
}

struct iscsi_pending *iscsi_session_hold_alloc(struct iscsi_session *s,
					       const uint8_t *hdr,
					       uint32_t hdr_len, uint32_t dlen)
{
	struct iscsi_pending *pd;

	if (dlen > ISCSI_HOLD_MAX - s->pending_bytes)
		return NULL;
	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return NULL;
	if (dlen) {
		pd->data = malloc(dlen);
		if (!pd->data) {
			free(pd);
			return NULL;
		}
	}
	memcpy(pd->hdr, hdr, hdr_len);
	pd->hdr_len = hdr_len;
	pd->dlen = dlen;
	pd->cmdsn = iscsi_bhs_cmdsn(hdr);
	list_init(&pd->link);
	s->pending_bytes += dlen;
	return pd;
}

static void session_pending_insert(struct iscsi_session *s,
				   struct iscsi_pending *pd)
{
	struct iscsi_pending *o;

	list_for_each_entry (o, &s->pending, link) {
		if (sna32_lt(pd->cmdsn, o->cmdsn)) {
			list_insert_between(&pd->link, o->link.prev, &o->link);
			return;
		}
	}
	list_add_tail(&pd->link, &s->pending);
}

void iscsi_session_hold_commit(struct iscsi_session *s,
			       struct iscsi_pending *pd)
{
	session_pending_insert(s, pd);
}

void iscsi_session_hold_free(struct iscsi_session *s, struct iscsi_pending *pd)
{
	list_del(&pd->link);
	s->pending_bytes -= pd->dlen;
	free(pd->data);
	free(pd);
}

bool iscsi_session_cmdsn_declare_received(struct iscsi_session *s,
					  uint32_t cmdsn, uint32_t limit)
{
	struct iscsi_pending *pd;

	if (sna32_lt(cmdsn, s->exp_cmdsn) || !sna32_le(cmdsn, s->max_cmdsn) ||
	    !sna32_lt(cmdsn, limit))
		return false;
	if (cmdsn == s->exp_cmdsn) {
		s->exp_cmdsn++;
		return true;
	}
	list_for_each_entry (pd, &s->pending, link) {
		if (pd->cmdsn != cmdsn)
			continue;
		/* It arrived out of order: it is the task to abort. */
		s->pending_bytes -= pd->dlen;
		free(pd->data);
		pd->data = NULL;
		pd->dlen = 0;
		pd->tombstone = true;
		return true;
	}
	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return false;
	pd->cmdsn = cmdsn;
	pd->tombstone = true;
	session_pending_insert(s, pd);
	return true;
}

void iscsi_session_drain(struct iscsi_conn *c)
{
	struct iscsi_session *s = c->sess;

	while (s && !list_empty(&s->pending) &&
	       (c->state == ISCSI_CONN_FFP || c->state == ISCSI_CONN_LOGOUT)) {
		struct iscsi_pending *pd =
		    list_first_entry(&s->pending, struct iscsi_pending, link);

		if (sna32_lt(pd->cmdsn, s->exp_cmdsn)) {
			iscsi_session_hold_free(s, pd);
			continue;
		}
		if (pd->cmdsn != s->exp_cmdsn)
			break;
		list_del(&pd->link);
		s->pending_bytes -= pd->dlen;
		if (pd->tombstone)
			s->exp_cmdsn++;
		else
			iscsi_conn_redeliver(c, pd);
		/* the delivery may have closed the connection and ended s */
		free(pd->data);
		free(pd);
		s = c->sess;
	}
}

void iscsi_session_pending_free(struct iscsi_session *s)
{
	while (!list_empty(&s->pending))
		iscsi_session_hold_free(
		    s,
		    list_first_entry(&s->pending, struct iscsi_pending, link));
}

/* ---- iscsi.h: listing and closing ---- */

static bool session_matches(const struct iscsi_session *s, const char *target)
{
	return !target || !*target || !strcmp(s->target_name, target);
}

static void session_info_fill(const struct iscsi_session *s,
			      struct iscsi_session_info *i)
{
	memset(i, 0, sizeof(*i));
	i->sid = s->sid;
	i->tsih = s->tsih;
	snprintf(i->isid, sizeof(i->isid), "%02x%02x%02x%02x%02x%02x",
		 s->isid[0], s->isid[1], s->isid[2], s->isid[3], s->isid[4],
		 s->isid[5]);
	snprintf(i->target, sizeof(i->target), "%s", s->target_name);
	snprintf(i->initiator, sizeof(i->initiator), "%s", s->initiator);
	snprintf(i->initiator_alias, sizeof(i->initiator_alias), "%s",
		 s->alias);
	i->discovery = s->discovery;
	i->cid = s->cid;
	snprintf(i->peer, sizeof(i->peer), "%s", s->peer);
	snprintf(i->local, sizeof(i->local), "%s", s->local);
	i->header_digest = s->header_digest;
	i->data_digest = s->data_digest;
	i->max_recv_dsl = s->max_recv_dsl;
	i->max_xmit_dsl = s->max_xmit_dsl;
	i->cmds = atomic_load_explicit(&s->cmds, memory_order_relaxed);
	/* Atomics its reactor writes; zero until the nexus is live. */
	scsi_stats_read(&s->nexus.stats, &i->stats);
}

int iscsi_session_list(const char *target, struct iscsi_session_info **out,
		       size_t *count)
{
	struct iscsi_session *s;
	size_t n = 0, i = 0;

	pthread_mutex_lock(&iscsi_registry_lock);
	list_for_each_entry (s, &registry_sessions, link) {
		if (session_matches(s, target))
			n++;
	}
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out) {
		pthread_mutex_unlock(&iscsi_registry_lock);
		*count = 0;
		return -ENOMEM;
	}
	list_for_each_entry (s, &registry_sessions, link) {
		if (session_matches(s, target))
			session_info_fill(s, &(*out)[i++]);
	}
	pthread_mutex_unlock(&iscsi_registry_lock);
	*count = i;
	return 0;
}

int iscsi_session_close(const char *target, uint64_t sid)
{
	struct iscsi_session *s;
	int r = -ENOENT;

	pthread_mutex_lock(&iscsi_registry_lock);
	list_for_each_entry (s, &registry_sessions, link) {
		if (s->sid == sid && session_matches(s, target)) {
			r = session_post_close(s);
			break;
		}
	}
	pthread_mutex_unlock(&iscsi_registry_lock);
	return r;
}

int iscsi_session_close_target(const char *target)
{
	struct iscsi_session *s;
	int n = 0;

	if (!target || !*target)
		return 0;
	pthread_mutex_lock(&iscsi_registry_lock);
	list_for_each_entry (s, &registry_sessions, link) {
		if (!s->discovery && !strcmp(s->target_name, target) &&
		    session_post_close(s) == 0)
			n++;
	}
	pthread_mutex_unlock(&iscsi_registry_lock);
	return n;
}
