/*
 * The login phase of one connection (RFC 7143 §6 and §11.12-11.13): stage
 * transitions (CSG/NSG, T and C bits), the version check, the first PDU's
 * declarations (InitiatorName, SessionType, TargetName), target lookup with
 * the ACL and portal checks, AuthMethod None/CHAP with one-way and mutual
 * CHAP (§12.1.3), operational negotiation through param.h, TSIH
 * allocation and session reinstatement (§6.3.5), and every failure as a
 * Login Response with its status class/detail (§11.13.5) followed by the
 * connection's close. A login that does not finish in
 * ISCSI_LOGIN_TIMEOUT_MS is dropped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iscsi/conn.h"
#include "scsi/target.h"
#include "scsi/tpg.h"
#include "util/log.h"

enum login_auth {
	LOGIN_AUTH_IDLE,   /* AuthMethod not negotiated yet */
	LOGIN_AUTH_NONE,   /* AuthMethod=None agreed */
	LOGIN_AUTH_WAIT_A, /* AuthMethod=CHAP agreed, CHAP_A expected */
	LOGIN_AUTH_WAIT_R, /* challenge sent, CHAP_N/CHAP_R expected */
	LOGIN_AUTH_DONE,   /* CHAP succeeded */
};

struct iscsi_login {
	struct iscsi_neg neg;
	enum iscsi_stage stage;
	bool started;
	bool keys_seen;
	bool waiting; /* for a reinstated session to go away */
	uint8_t isid[6];
	uint16_t tsih;
	uint16_t cid;
	uint32_t cmdsn;
	struct scsi_target *target;
	/* A target that refused this login (its ACL, its portals, being
	 * deleted): held only to count the failure for it (stats.h). */
	struct scsi_target *refused_by;
	uint16_t tpgt;
	bool auth_required;
	enum login_auth auth;
	struct chap_server chap;
	uint8_t *acc; /* request text collected over C-bit PDUs */
	size_t acc_len;
	struct iscsi_session *sess;
	struct iscsi_login_req_hdr final_req;
	struct iscsi_text final_rsp;
};

static void login_timeout(void *arg)
{
	struct iscsi_conn *c = arg;

	if (c->state == ISCSI_CONN_LOGIN) {
		log_warn("iscsi: %s: login did not complete within %u s; "
			 "dropping the connection",
			 c->peer, ISCSI_LOGIN_TIMEOUT_MS / 1000);
		iscsi_conn_close(c);
	}
}

int iscsi_login_start(struct iscsi_conn *c)
{
	struct iscsi_login *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	iscsi_neg_init(&l->neg, &iscsi_lim);
	iscsi_text_init(&l->final_rsp);
	l->stage = ISCSI_STAGE_SECURITY;
	c->login = l;
	c->statsn = arc4random();
	reactor_timer_arm(c->reactor, &c->login_timer, ISCSI_LOGIN_TIMEOUT_MS,
			  login_timeout, c);
	return 0;
}

void iscsi_login_free(struct iscsi_conn *c)
{
	struct iscsi_login *l = c->login;

	if (!l)
		return;
	c->login = NULL;
	if (l->waiting)
		reactor_timer_cancel(c->reactor, &c->aux_timer);
	free(l->acc);
	iscsi_text_free(&l->final_rsp);
	if (l->sess)
		iscsi_session_end(l->sess);
	if (l->target)
		scsi_target_put(l->target);
	if (l->refused_by)
		scsi_target_put(l->refused_by);
	explicit_bzero(l, sizeof(*l));
	free(l);
}

/* Queues one Login Response; takes the text of rsp (left empty). */
static int login_send(struct iscsi_conn *c,
		      const struct iscsi_login_req_hdr *req, bool transit,
		      uint8_t csg, uint8_t nsg, uint16_t tsih, uint16_t status,
		      struct iscsi_text *rsp)
{
	struct iscsi_login *l = c->login;
	struct iscsi_ctlpdu *p = iscsi_ctl_alloc(c);
	struct iscsi_login_rsp_hdr h = {0};
	uint32_t cmdsn = l && l->started ? l->cmdsn : req->cmdsn;
	void *data = NULL;
	uint32_t dlen = 0;

	if (!p)
		return -ENOMEM;
	if (rsp && rsp->len) {
		data = rsp->buf;
		dlen = (uint32_t)rsp->len;
		iscsi_text_init(rsp);
	}
	h.transit = transit;
	h.csg = csg;
	h.nsg = nsg;
	h.dlen = dlen;
	memcpy(h.isid, req->isid, sizeof(h.isid));
	h.tsih = tsih;
	h.itt = req->itt;
	h.sn.statsn = c->statsn++;
	h.sn.exp_cmdsn = cmdsn;
	h.sn.max_cmdsn = cmdsn + ISCSI_QUEUE_DEPTH - 1;
	h.status = status;
	iscsi_login_rsp_encode(p->tx.hdr, &h);
	iscsi_ctl_send(c, p, data, dlen, data);
	return 0;
}

static const char *login_status_text(uint16_t st)
{
	switch (st) {
	case ISCSI_LOGIN_INIT_ERR:
		return "initiator error";
	case ISCSI_LOGIN_AUTH_FAILED:
		return "authentication failed";
	case ISCSI_LOGIN_AUTHZ_FAILED:
		return "not authorized (ACL)";
	case ISCSI_LOGIN_TARGET_NOT_FOUND:
		return "target not found";
	case ISCSI_LOGIN_TARGET_REMOVED:
		return "target removed";
	case ISCSI_LOGIN_UNSUPPORTED_VERSION:
		return "unsupported version";
	case ISCSI_LOGIN_TOO_MANY_CONNECTIONS:
		return "too many connections";
	case ISCSI_LOGIN_MISSING_PARAMETER:
		return "missing parameter";
	case ISCSI_LOGIN_NO_SESSION_SPANNING:
		return "cannot include in session";
	case ISCSI_LOGIN_SESSION_TYPE_UNSUPPORTED:
		return "session type not supported";
	case ISCSI_LOGIN_SESSION_DOES_NOT_EXIST:
		return "session does not exist";
	case ISCSI_LOGIN_INVALID_DURING_LOGIN:
		return "invalid request during login";
	case ISCSI_LOGIN_SERVICE_UNAVAILABLE:
		return "service unavailable";
	case ISCSI_LOGIN_OUT_OF_RESOURCES:
		return "out of resources";
	default:
		return "target error";
	}
}

/* The statistics' name of a login status (RFC 7143 §11.13.5). */
static enum scsi_stats_login login_stats_result(uint16_t st)
{
	switch (st) {
	case ISCSI_LOGIN_OK:
		return SCSI_STATS_LOGIN_SUCCESS;
	case ISCSI_LOGIN_AUTH_FAILED:
		return SCSI_STATS_LOGIN_AUTH_FAILED;
	case ISCSI_LOGIN_AUTHZ_FAILED:
		return SCSI_STATS_LOGIN_NOT_AUTHORIZED;
	case ISCSI_LOGIN_TARGET_NOT_FOUND:
		return SCSI_STATS_LOGIN_TARGET_NOT_FOUND;
	case ISCSI_LOGIN_TARGET_REMOVED:
		return SCSI_STATS_LOGIN_TARGET_REMOVED;
	case ISCSI_LOGIN_UNSUPPORTED_VERSION:
		return SCSI_STATS_LOGIN_UNSUPPORTED_VERSION;
	case ISCSI_LOGIN_TOO_MANY_CONNECTIONS:
		return SCSI_STATS_LOGIN_TOO_MANY_CONNECTIONS;
	case ISCSI_LOGIN_MISSING_PARAMETER:
		return SCSI_STATS_LOGIN_MISSING_PARAMETER;
	case ISCSI_LOGIN_NO_SESSION_SPANNING:
	case ISCSI_LOGIN_SESSION_TYPE_UNSUPPORTED:
	case ISCSI_LOGIN_SESSION_DOES_NOT_EXIST:
		return SCSI_STATS_LOGIN_SESSION_ERROR;
	case ISCSI_LOGIN_INVALID_DURING_LOGIN:
		return SCSI_STATS_LOGIN_INVALID_REQUEST;
	case ISCSI_LOGIN_SERVICE_UNAVAILABLE:
		return SCSI_STATS_LOGIN_SERVICE_UNAVAILABLE;
	case ISCSI_LOGIN_OUT_OF_RESOURCES:
		return SCSI_STATS_LOGIN_OUT_OF_RESOURCES;
	default:
		return (st >> 8) == 2 ? SCSI_STATS_LOGIN_INITIATOR_ERROR
				      : SCSI_STATS_LOGIN_TARGET_ERROR;
	}
}

static void login_fail(struct iscsi_conn *c,
		       const struct iscsi_login_req_hdr *req, uint16_t status)
{
	struct iscsi_login *l = c->login;
	uint8_t csg = l ? (uint8_t)l->stage : req->csg;
	struct scsi_target *t = NULL;

	if (l && l->target)
		t = l->target;
	else if (l && l->sess)
		t = l->sess->target;
	else if (l)
		t = l->refused_by;
	scsi_stats_login(t, login_stats_result(status));

	const char *who = l && l->neg.p.initiator_name[0]
			      ? l->neg.p.initiator_name
			      : "initiator";
	char code[8];
	snprintf(code, sizeof(code), "0x%04x", status);
	struct log_kv kv[] = {
	    {"LUNAR_EVENT", "login_failed"},
	    {"LUNAR_INITIATOR", l && l->neg.p.initiator_name[0] ? who : NULL},
	    {"LUNAR_PEER", c->peer},
	    {"LUNAR_TARGET", t ? t->name : NULL},
	    {"LUNAR_LOGIN_STATUS", code},
	};
	log_warn_kv(kv, "iscsi: %s: login of %s failed: %s (status 0x%04x)",
		    c->peer, who, login_status_text(status), status);
	if (login_send(c, req, false, csg, 0, 0, status, NULL) < 0) {
		iscsi_conn_close(c);
		return;
	}
	iscsi_conn_close_after_tx(c);
}

void iscsi_login_reply_error(struct iscsi_conn *c, const uint8_t *bhs,
			     uint16_t status)
{
	struct iscsi_login_req_hdr req;

	if (iscsi_login_req_decode(bhs, &req) < 0) {
		iscsi_conn_close(c);
		return;
	}
	login_fail(c, &req, status);
}

/* Whether the comma-separated list (len bytes) holds word. */
static bool list_has(const char *list, size_t len, const char *word)
{
	size_t wl = strlen(word), i = 0;

	while (i <= len) {
		size_t j = i;

		while (j < len && list[j] != ',')
			j++;
		if (j - i == wl && !memcmp(list + i, word, wl))
			return true;
		i = j + 1;
	}
	return false;
}

static bool target_binds_user(const struct scsi_target *t, const char *user)
{
	const struct scsi_user_ref *u;

	list_for_each_entry (u, &t->users_in, link) {
		if (!strcmp(u->user, user))
			return true;
	}
	return false;
}

/* The checks the first full set of keys allows (RFC 7143 §6.3). */
static uint16_t login_first_keys(struct iscsi_conn *c, struct iscsi_text *rsp)
{
	struct iscsi_login *l = c->login;
	const struct iscsi_params *p = &l->neg.p;
	struct scsi_target *t;
	uint16_t st = ISCSI_LOGIN_OK;
	char alias[SCSI_NAME_MAX] = "";

	if (!p->initiator_name[0])
		return ISCSI_LOGIN_MISSING_PARAMETER;
	if (atomic_load(&iscsi_shutting_down))
		return ISCSI_LOGIN_SERVICE_UNAVAILABLE;
	if (l->tsih) {
		/* MaxConnections=1: no connection joins a session. */
		return iscsi_session_tsih_exists(l->isid, p->initiator_name,
						 l->tsih)
			   ? ISCSI_LOGIN_TOO_MANY_CONNECTIONS
			   : ISCSI_LOGIN_SESSION_DOES_NOT_EXIST;
	}
	if (p->discovery)
		return ISCSI_LOGIN_OK;
	if (!p->target_name[0])
		return ISCSI_LOGIN_MISSING_PARAMETER;
	scsi_config_rdlock();
	t = scsi_target_find(p->target_name);
	if (!t)
		st = ISCSI_LOGIN_TARGET_NOT_FOUND;
	else if (t->deleted)
		st = ISCSI_LOGIN_TARGET_REMOVED;
	else if (!scsi_target_on_portal(t, c->local) &&
		 !scsi_target_on_portal(t, c->portal))
		st = ISCSI_LOGIN_TARGET_NOT_FOUND;
	else if (!scsi_target_allows(t, p->initiator_name))
		st = ISCSI_LOGIN_AUTHZ_FAILED;
	if (st == ISCSI_LOGIN_OK) {
		scsi_target_get(t);
		l->target = t;
		/* The port group of the portal it came through (tpg.h). */
		l->tpgt = scsi_tpg_portal_tag(t, c->local, c->portal);
		l->auth_required = !list_empty(&t->users_in);
		snprintf(alias, sizeof(alias), "%s", t->alias);
	} else if (t && !l->refused_by) {
		scsi_target_get(t);
		l->refused_by = t;
	}
	scsi_config_unlock();
	if (st != ISCSI_LOGIN_OK)
		return st;
	/* RFC 7143 §13.9: TargetPortalGroupTag in the first response. */
	if (iscsi_text_add(rsp, "TargetPortalGroupTag", "%u", l->tpgt) < 0 ||
	    (alias[0] && iscsi_text_add(rsp, "TargetAlias", "%s", alias) < 0))
		return ISCSI_LOGIN_OUT_OF_RESOURCES;
	return ISCSI_LOGIN_OK;
}

static uint16_t login_auth_method(struct iscsi_login *l, const char *val,
				  size_t len, struct iscsi_text *rsp)
{
	bool chap = list_has(val, len, "CHAP");
	bool none = list_has(val, len, "None");

	if (l->auth != LOGIN_AUTH_IDLE)
		return ISCSI_LOGIN_INIT_ERR;
	if (l->auth_required ? chap : none) {
		l->auth =
		    l->auth_required ? LOGIN_AUTH_WAIT_A : LOGIN_AUTH_NONE;
		return iscsi_text_add(rsp, "AuthMethod", "%s",
				      l->auth_required ? "CHAP" : "None") < 0
			   ? ISCSI_LOGIN_OUT_OF_RESOURCES
			   : ISCSI_LOGIN_OK;
	}
	iscsi_text_add(rsp, "AuthMethod", "Reject");
	return ISCSI_LOGIN_AUTH_FAILED;
}

static uint16_t login_chap_a(struct iscsi_login *l, const char *val, size_t len,
			     struct iscsi_text *rsp)
{
	char id[8], chal[2 * CHAP_CHALLENGE_LEN + 4];
	int alg;

	if (l->auth != LOGIN_AUTH_WAIT_A)
		return ISCSI_LOGIN_INIT_ERR;
	alg = chap_choose_alg(val, len);
	if (alg < 0) {
		iscsi_text_add(rsp, "CHAP_A", "Reject");
		return ISCSI_LOGIN_AUTH_FAILED;
	}
	if (chap_server_start(&l->chap, (enum chap_alg)alg) < 0 ||
	    chap_server_format(&l->chap, id, sizeof(id), chal, sizeof(chal)) <
		0)
		return ISCSI_LOGIN_TARGET_ERROR;
	if (iscsi_text_add(rsp, "CHAP_A", "%d", alg) < 0 ||
	    iscsi_text_add(rsp, "CHAP_I", "%s", id) < 0 ||
	    iscsi_text_add(rsp, "CHAP_C", "%s", chal) < 0)
		return ISCSI_LOGIN_OUT_OF_RESOURCES;
	l->auth = LOGIN_AUTH_WAIT_R;
	return ISCSI_LOGIN_OK;
}

struct login_chap_answer {
	const struct iscsi_kv *n, *r, *i, *c;
};

/* Checks CHAP_R against the bound account; answers mutual CHAP. */
static uint16_t login_chap_verify(struct iscsi_login *l,
				  const struct login_chap_answer *a,
				  struct iscsi_text *rsp)
{
	char secret[SCSI_SECRET_MAX] = "", out_secret[SCSI_SECRET_MAX] = "";
	char out_user[SCSI_NAME_MAX] = "", resp[2 * CHAP_DIGEST_MAX + 4];
	uint16_t st = ISCSI_LOGIN_OK;
	struct scsi_account *acct;
	bool found = false;

	if (!a->n || !a->r || !a->i != !a->c)
		return ISCSI_LOGIN_AUTH_FAILED;
	scsi_config_rdlock();
	if (l->target && !l->target->deleted &&
	    target_binds_user(l->target, a->n->val)) {
		acct = scsi_account_find(a->n->val);
		if (acct) {
			snprintf(secret, sizeof(secret), "%s", acct->secret);
			found = true;
		}
		if (l->target->user_out[0]) {
			acct = scsi_account_find(l->target->user_out);
			if (acct) {
				snprintf(out_user, sizeof(out_user), "%s",
					 acct->user);
				snprintf(out_secret, sizeof(out_secret), "%s",
					 acct->secret);
			}
		}
	}
	scsi_config_unlock();
	if (!found ||
	    chap_server_verify(&l->chap, secret, a->r->val, strlen(a->r->val)))
		st = ISCSI_LOGIN_AUTH_FAILED;
	else if (a->i && !out_user[0])
		st = ISCSI_LOGIN_AUTH_FAILED; /* mutual asked, no account */
	else if (!a->i && out_user[0])
		st = ISCSI_LOGIN_AUTH_FAILED; /* mutual required */
	else if (a->i && (chap_server_mutual(&l->chap, out_secret, secret,
					     a->i->val, strlen(a->i->val),
					     a->c->val, strlen(a->c->val), resp,
					     sizeof(resp)) < 0 ||
			  iscsi_text_add(rsp, "CHAP_N", "%s", out_user) < 0 ||
			  iscsi_text_add(rsp, "CHAP_R", "%s", resp) < 0))
		st = ISCSI_LOGIN_AUTH_FAILED;
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(out_secret, sizeof(out_secret));
	if (st == ISCSI_LOGIN_OK)
		l->auth = LOGIN_AUTH_DONE;
	return st;
}

/* The security keys of one PDU, in order (RFC 7143 §12.1.3). */
static uint16_t login_security(struct iscsi_login *l, struct iscsi_text *rsp,
			       bool want_transit, bool *may_transit)
{
	struct login_chap_answer a = {0};
	uint16_t st = ISCSI_LOGIN_OK;
	unsigned i;

	for (i = 0; i < l->neg.nr_deferred && st == ISCSI_LOGIN_OK; i++) {
		const struct iscsi_kv *kv = &l->neg.deferred[i];
		size_t vlen = strlen(kv->val);

		if (!strcmp(kv->key, "AuthMethod"))
			st = login_auth_method(l, kv->val, vlen, rsp);
		else if (!strcmp(kv->key, "CHAP_A"))
			st = login_chap_a(l, kv->val, vlen, rsp);
		else if (l->auth != LOGIN_AUTH_WAIT_R)
			st = ISCSI_LOGIN_INIT_ERR; /* CHAP_x out of turn */
		else if (!strcmp(kv->key, "CHAP_N"))
			a.n = kv;
		else if (!strcmp(kv->key, "CHAP_R"))
			a.r = kv;
		else if (!strcmp(kv->key, "CHAP_I"))
			a.i = kv;
		else if (!strcmp(kv->key, "CHAP_C"))
			a.c = kv;
		else
			st = ISCSI_LOGIN_INIT_ERR;
	}
	if (st == ISCSI_LOGIN_OK && (a.n || a.r || a.i || a.c))
		st = login_chap_verify(l, &a, rsp);
	if (st != ISCSI_LOGIN_OK)
		return st;
	switch (l->auth) {
	case LOGIN_AUTH_IDLE:
		/* no AuthMethod offered: only acceptable without CHAP */
		if (want_transit && l->auth_required)
			return ISCSI_LOGIN_AUTH_FAILED;
		*may_transit = true;
		break;
	case LOGIN_AUTH_NONE:
	case LOGIN_AUTH_DONE:
		*may_transit = true;
		break;
	case LOGIN_AUTH_WAIT_A:
	case LOGIN_AUTH_WAIT_R:
		*may_transit = false; /* the exchange goes on */
		break;
	}
	return ISCSI_LOGIN_OK;
}

static void login_initiator_port(const struct iscsi_session *s, char *out,
				 size_t outlen)
{
	snprintf(out, outlen, "%s,i,0x%02x%02x%02x%02x%02x%02x", s->initiator,
		 s->isid[0], s->isid[1], s->isid[2], s->isid[3], s->isid[4],
		 s->isid[5]);
}

static struct iscsi_session *login_make_session(struct iscsi_conn *c)
{
	struct iscsi_login *l = c->login;
	const struct iscsi_params *p = &l->neg.p;
	struct iscsi_session *s = iscsi_session_new(c);

	if (!s)
		return NULL;
	memcpy(s->isid, l->isid, sizeof(s->isid));
	s->discovery = p->discovery;
	s->target = l->target;
	l->target = NULL;
	snprintf(s->initiator, sizeof(s->initiator), "%s", p->initiator_name);
	snprintf(s->alias, sizeof(s->alias), "%s", p->initiator_alias);
	if (!s->discovery)
		snprintf(s->target_name, sizeof(s->target_name), "%s",
			 p->target_name);
	s->cid = l->cid;
	snprintf(s->peer, sizeof(s->peer), "%s", c->peer);
	snprintf(s->local, sizeof(s->local), "%s", c->local);
	s->header_digest = p->header_digest;
	s->data_digest = p->data_digest;
	s->max_recv_dsl = p->max_recv_dsl;
	s->max_xmit_dsl = p->max_xmit_dsl;
	s->exp_cmdsn = l->cmdsn;
	s->max_cmdsn = l->cmdsn + ISCSI_QUEUE_DEPTH - 1;
	return s;
}

static void login_complete(struct iscsi_conn *c);

static void login_reinstate_poll(void *arg)
{
	struct iscsi_conn *c = arg;

	if (c->state == ISCSI_CONN_LOGIN && c->login && c->login->waiting)
		login_complete(c);
}

/* Registers the session and enters the Full Feature Phase. */
static void login_complete(struct iscsi_conn *c)
{
	struct iscsi_login *l = c->login;
	struct iscsi_session *s = l->sess;
	const struct iscsi_login_req_hdr *req = &l->final_req;
	uint16_t st = ISCSI_LOGIN_OK;
	struct iscsi_params params;
	char port[SCSI_PORT_NAME_MAX];
	int r;

	l->waiting = false;
	r = iscsi_session_register(s);
	if (r == -EAGAIN) {
		l->waiting = true;
		reactor_timer_arm(c->reactor, &c->aux_timer,
				  ISCSI_REINSTATE_POLL_MS, login_reinstate_poll,
				  c);
		return;
	}
	if (r < 0) {
		login_fail(c, req,
			   r == -ESHUTDOWN ? ISCSI_LOGIN_SERVICE_UNAVAILABLE
					   : ISCSI_LOGIN_OUT_OF_RESOURCES);
		return;
	}
	if (!s->discovery) {
		login_initiator_port(s, port, sizeof(port));
		scsi_config_rdlock();
		if (s->target->deleted)
			st = ISCSI_LOGIN_TARGET_REMOVED;
		else if (!scsi_target_allows(s->target, s->initiator))
			st = ISCSI_LOGIN_AUTHZ_FAILED;
		else if (scsi_tpg_portal_tag(s->target, c->local, c->portal) !=
			 l->tpgt)
			/* Its portal changed groups since the first response
			 * named the tag: a retry gets the new one. */
			st = ISCSI_LOGIN_SERVICE_UNAVAILABLE;
		else
			scsi_nexus_init(&s->nexus, s->target, c->reactor,
					s->initiator, port, l->tpgt);
		scsi_config_unlock();
		if (st != ISCSI_LOGIN_OK) {
			login_fail(c, req, st);
			return;
		}
		s->nexus_live = true;
		/* Tasks another nexus aborts come back to scsi_task.c. */
		s->nexus.ops = &iscsi_nexus_ops;
	}
	l->sess = NULL;
	c->sess = s;
	c->cid = l->cid;
	params = l->neg.p;
	if (login_send(c, req, true, (uint8_t)l->stage,
		       ISCSI_STAGE_FULL_FEATURE, s->tsih, ISCSI_LOGIN_OK,
		       &l->final_rsp) < 0) {
		iscsi_conn_close(c);
		return;
	}
	if (c->state != ISCSI_CONN_LOGIN)
		return; /* sending it (from the poll timer) failed */
	scsi_stats_login(s->target, SCSI_STATS_LOGIN_SUCCESS);
	char tsih[8];
	snprintf(tsih, sizeof(tsih), "%u", s->tsih);
	struct log_kv kv[] = {
	    {"LUNAR_EVENT", "login"},
	    {"LUNAR_INITIATOR", s->initiator},
	    {"LUNAR_PEER", c->peer},
	    {"LUNAR_TARGET", s->discovery ? NULL : s->target_name},
	    {"LUNAR_TSIH", tsih},
	};
	log_info_kv(kv,
		    "iscsi: %s (%s) logged in to %s, tsih %u, digests %s/%s, "
		    "MaxRecvDSL %u/%u",
		    s->initiator, c->peer,
		    s->discovery ? "discovery" : s->target_name, s->tsih,
		    params.header_digest ? "CRC32C" : "None",
		    params.data_digest ? "CRC32C" : "None", params.max_recv_dsl,
		    params.max_xmit_dsl);
	iscsi_login_free(c);
	/* digests and limits apply from the next PDU on */
	iscsi_conn_enter_ffp(c, &params);
}

static void login_log_keys(const struct iscsi_conn *c, const uint8_t *data,
			   uint32_t dlen)
{
	const char *k, *v;
	size_t kl, vl, pos = 0;

	while (iscsi_text_next((const char *)data, dlen, &pos, &k, &kl, &v,
			       &vl) == 1) {
		/* CHAP values are not for logs */
		bool hide = kl > 5 && !memcmp(k, "CHAP_", 5) && k[5] != 'A';

		log_debug("iscsi: %s: login key %.*s=%.*s", c->peer, (int)kl, k,
			  hide ? 3 : (int)vl, hide ? "..." : v);
	}
}

/*
 * Some initiators (libiscsi) repeat InitiatorName, TargetName, SessionType
 * and InitiatorAlias in every login PDU. Identical repeats are dropped
 * before negotiation; a changed value fails the login.
 */
static int login_strip_repeats(const struct iscsi_login *l, const uint8_t *data,
			       uint32_t dlen, struct iscsi_text *out)
{
	const struct iscsi_params *p = &l->neg.p;
	const char *k, *v;
	size_t kl, vl, pos = 0;
	int r;

	while ((r = iscsi_text_next((const char *)data, dlen, &pos, &k, &kl, &v,
				    &vl)) == 1) {
		const char *have = NULL;
		char key[64];

		if (kl == 13 && !memcmp(k, "InitiatorName", 13))
			have = p->initiator_name;
		else if (kl == 10 && !memcmp(k, "TargetName", 10))
			have = p->discovery ? NULL : p->target_name;
		else if (kl == 14 && !memcmp(k, "InitiatorAlias", 14))
			have = p->initiator_alias;
		else if (kl == 11 && !memcmp(k, "SessionType", 11))
			have = p->discovery ? "Discovery" : "Normal";
		if (have) {
			if (strlen(have) != vl || memcmp(have, v, vl))
				return -EINVAL;
			continue;
		}
		if (kl >= sizeof(key))
			return -EINVAL;
		memcpy(key, k, kl);
		key[kl] = 0;
		if (iscsi_text_add(out, key, "%.*s", (int)vl, v) < 0)
			return -ENOMEM;
	}
	return r;
}

/* One complete (C=0) login request's keys. */
static void login_process(struct iscsi_conn *c,
			  const struct iscsi_login_req_hdr *req,
			  const uint8_t *data, uint32_t dlen)
{
	struct iscsi_login *l = c->login;
	struct iscsi_text rsp, req_keys;
	bool may_transit = true, transit;
	uint8_t nsg;
	uint16_t st;

	if (log_enabled(LOG_LVL_DEBUG))
		login_log_keys(c, data, dlen);
	iscsi_text_init(&rsp);
	iscsi_text_init(&req_keys);
	if (l->keys_seen) {
		int r = login_strip_repeats(l, data, dlen, &req_keys);

		if (r < 0) {
			iscsi_text_free(&req_keys);
			login_fail(c, req,
				   r == -ENOMEM ? ISCSI_LOGIN_OUT_OF_RESOURCES
						: ISCSI_LOGIN_INIT_ERR);
			return;
		}
		data = (const uint8_t *)req_keys.buf;
		dlen = (uint32_t)req_keys.len;
	}
	l->neg.nr_deferred = 0;
	st = iscsi_neg_process(&l->neg, l->stage, (const char *)data, dlen,
			       &rsp);
	if (st == ISCSI_LOGIN_OK && !l->keys_seen) {
		l->keys_seen = true;
		st = login_first_keys(c, &rsp);
	}
	if (st == ISCSI_LOGIN_OK) {
		if (l->stage == ISCSI_STAGE_SECURITY)
			st =
			    login_security(l, &rsp, req->transit, &may_transit);
		else if (l->neg.nr_deferred)
			st = ISCSI_LOGIN_INIT_ERR; /* security key too late */
		else if (l->auth_required && l->auth != LOGIN_AUTH_DONE)
			st = ISCSI_LOGIN_AUTH_FAILED; /* skipped security */
	}
	/* The deferred keys' values pointed into it. */
	l->neg.nr_deferred = 0;
	iscsi_text_free(&req_keys);
	if (st != ISCSI_LOGIN_OK) {
		iscsi_text_free(&rsp);
		login_fail(c, req, st);
		return;
	}
	transit = req->transit && may_transit;
	nsg = transit ? req->nsg : 0;
	if (transit && nsg == ISCSI_STAGE_FULL_FEATURE) {
		if (iscsi_neg_finish(&l->neg, &rsp) < 0 ||
		    rsp.len > ISCSI_LOGIN_MAX_DSL) {
			iscsi_text_free(&rsp);
			login_fail(c, req, ISCSI_LOGIN_OUT_OF_RESOURCES);
			return;
		}
		if (iscsi_neg_pending(&l->neg)) {
			/* our offers need answers first: stop at the
			 * operational stage (or stay in it) */
			if (l->stage == ISCSI_STAGE_SECURITY) {
				nsg = ISCSI_STAGE_OPERATIONAL;
			} else {
				transit = false;
				nsg = 0;
			}
		}
	}
	if (transit && nsg == ISCSI_STAGE_FULL_FEATURE) {
		l->sess = login_make_session(c);
		if (!l->sess) {
			iscsi_text_free(&rsp);
			login_fail(c, req, ISCSI_LOGIN_OUT_OF_RESOURCES);
			return;
		}
		l->final_req = *req;
		iscsi_text_free(&l->final_rsp);
		l->final_rsp = rsp;
		login_complete(c);
		return;
	}
	if (rsp.len > ISCSI_LOGIN_MAX_DSL) {
		iscsi_text_free(&rsp);
		login_fail(c, req, ISCSI_LOGIN_OUT_OF_RESOURCES);
		return;
	}
	if (login_send(c, req, transit, (uint8_t)l->stage, nsg, 0,
		       ISCSI_LOGIN_OK, &rsp) < 0) {
		iscsi_text_free(&rsp);
		iscsi_conn_close(c);
		return;
	}
	if (transit)
		l->stage = (enum iscsi_stage)nsg;
}

void iscsi_login_rx(struct iscsi_conn *c, const uint8_t *bhs,
		    const uint8_t *data, uint32_t dlen)
{
	struct iscsi_login *l = c->login;
	struct iscsi_login_req_hdr req;
	uint8_t *acc;

	if (!l || l->waiting || iscsi_login_req_decode(bhs, &req) < 0) {
		log_warn("iscsi: %s: unexpected login PDU; dropping the "
			 "connection",
			 c->peer);
		iscsi_conn_close(c);
		return;
	}
	if (!l->started) {
		if (req.version_min > 0 || req.version_max < req.version_min) {
			login_fail(c, &req, ISCSI_LOGIN_UNSUPPORTED_VERSION);
			return;
		}
		l->started = true;
		memcpy(l->isid, req.isid, sizeof(l->isid));
		l->tsih = req.tsih;
		l->cid = req.cid;
		l->cmdsn = req.cmdsn;
		if (req.csg == ISCSI_STAGE_OPERATIONAL)
			l->stage = ISCSI_STAGE_OPERATIONAL;
	} else if (memcmp(l->isid, req.isid, sizeof(l->isid)) ||
		   l->tsih != req.tsih || l->cid != req.cid) {
		login_fail(c, &req, ISCSI_LOGIN_INIT_ERR);
		return;
	}
	if ((req.transit && req.cont) || req.csg != l->stage ||
	    (req.transit && (req.nsg <= req.csg || req.nsg == 2 ||
			     req.nsg > ISCSI_STAGE_FULL_FEATURE))) {
		login_fail(c, &req, ISCSI_LOGIN_INIT_ERR);
		return;
	}
	if (req.cont || l->acc_len) {
		if (dlen > ISCSI_TEXT_REQ_MAX - l->acc_len) {
			login_fail(c, &req, ISCSI_LOGIN_INIT_ERR);
			return;
		}
		acc = realloc(l->acc, l->acc_len + dlen + 1);
		if (!acc) {
			login_fail(c, &req, ISCSI_LOGIN_OUT_OF_RESOURCES);
			return;
		}
		memcpy(acc + l->acc_len, data, dlen);
		l->acc = acc;
		l->acc_len += dlen;
		if (req.cont) {
			/* RFC 7143 §6.1: acknowledge, ask for the rest */
			if (login_send(c, &req, false, (uint8_t)l->stage, 0, 0,
				       ISCSI_LOGIN_OK, NULL) < 0)
				iscsi_conn_close(c);
			return;
		}
		acc = l->acc;
		dlen = (uint32_t)l->acc_len;
		l->acc = NULL;
		l->acc_len = 0;
		login_process(c, &req, acc, dlen);
		free(acc);
		return;
	}
	login_process(c, &req, data, dlen);
}
