/*
 * Text requests in the Full Feature Phase (RFC 7143 §11.10-11.11, §6.2):
 * SendTargets (Appendix C: "All" in a discovery session lists every
 * target whose ACL admits the initiator; a target name lists that one;
 * each target with one TargetAddress=ADDR:PORT,TPGT per portal that
 * reaches it, a wildcard listener reported as the connection's own
 * address, TPGT the portal's port group (scsi/tpg.h)), other keys negotiated
 * through param.h, requests continued with the C bit, and long responses split
 * by the initiator's MaxRecvDataSegmentLength with C bit and Target Transfer
 * Tag.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iscsi/conn.h"
#include "iscsi/iscsi.h"
#include "iscsi/isns.h"
#include "scsi/target.h"
#include "scsi/tpg.h"
#include "util/log.h"

#define TEXT_PORTALS_MAX 64
#define TEXT_ADDRS_MAX	 32

struct iscsi_text_xchg {
	uint32_t itt, ttt;
	uint8_t lun[8];
	bool final_req; /* the initiator ends the exchange (F bit) */
	bool responding;
	uint8_t *req;
	size_t req_len;
	struct iscsi_text rsp;
	size_t rsp_off;
	bool apply;
	uint32_t new_xmit_dsl;
	/* lunard --isns-dd: waiting for the initiator's discovery domains */
	bool dd_waiting;
	bool dd_waited; /* once: then the ACLs alone, if still unknown */
	uint8_t bhs[ISCSI_BHS_LEN]; /* the request's, for a later Reject */
};

void iscsi_text_xchg_free(struct iscsi_conn *c)
{
	struct iscsi_text_xchg *x = c->text;

	if (!x)
		return;
	c->text = NULL;
	free(x->req);
	iscsi_text_free(&x->rsp);
	free(x);
}

static uint32_t text_new_ttt(struct iscsi_conn *c)
{
	if (c->next_ttt == ISCSI_RSVD_TAG)
		c->next_ttt++;
	return c->next_ttt++;
}

static void text_report_addr(const struct iscsi_conn *c, const char *portal,
			     char *out, size_t outlen)
{
	struct sockaddr_storage ss, loc = c->local_sa;
	socklen_t len;

	if (iscsi_portal_parse(portal, &ss, &len) < 0 ||
	    !iscsi_sockaddr_is_wildcard(&ss)) {
		snprintf(out, outlen, "%s", portal);
		return;
	}
	/* wildcard: the address the initiator reached us on */
	if (loc.ss_family == AF_INET)
		((struct sockaddr_in *)(void *)&loc)->sin_port =
		    htons(iscsi_sockaddr_port(&ss));
	else if (loc.ss_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)&loc)->sin6_port =
		    htons(iscsi_sockaddr_port(&ss));
	iscsi_sockaddr_format(&loc, out, outlen);
}

struct text_addrs {
	unsigned n;
	char a[TEXT_ADDRS_MAX][64];
};

/* Caller holds the config read lock. */
static int text_add_addr(const struct iscsi_conn *c, const char *portal,
			 const struct scsi_target *t, struct text_addrs *seen,
			 struct iscsi_text *out)
{
	char addr[64];
	uint16_t tpgt;
	unsigned i;

	text_report_addr(c, portal, addr, sizeof(addr));
	/* The tag a login to this address gets: its port group's. */
	tpgt = scsi_tpg_portal_tag(t, addr, portal);
	for (i = 0; i < seen->n; i++) {
		if (!strcmp(seen->a[i], addr))
			return 0;
	}
	if (seen->n < TEXT_ADDRS_MAX)
		snprintf(seen->a[seen->n++], sizeof(seen->a[0]), "%s", addr);
	return iscsi_text_add(out, "TargetAddress", "%s,%u", addr, tpgt);
}

/* Caller holds the config read lock. */
static int text_add_target(const struct iscsi_conn *c,
			   const struct scsi_target *t, char (*portals)[64],
			   size_t nportals, struct iscsi_text *out)
{
	struct text_addrs seen = {0};
	const struct scsi_portal_ref *ref;
	size_t i;
	int r;

	r = iscsi_text_add(out, "TargetName", "%s", t->name);
	if (r < 0)
		return r;
	if (!list_empty(&t->portals)) {
		list_for_each_entry (ref, &t->portals, link) {
			if (!iscsi_portal_serves(ref->addr))
				continue;
			r = text_add_addr(c, ref->addr, t, &seen, out);
			if (r < 0)
				return r;
		}
		return 0;
	}
	for (i = 0; i < nportals; i++) {
		r = text_add_addr(c, portals[i], t, &seen, out);
		if (r < 0)
			return r;
	}
	return 0;
}

/* -EINPROGRESS when the initiator's discovery domains must be asked for
 * first (lunard --isns-dd); then the exchange waits (text_dd_wait). */
static int text_send_targets(struct iscsi_conn *c, struct iscsi_text_xchg *x,
			     const char *val, size_t vlen,
			     struct iscsi_text *out)
{
	char name[ISCSI_NAME_MAX];
	struct iscsi_session *s = c->sess;
	struct scsi_target *t;
	char(*lst)[64];
	size_t nportals;
	bool all, dd;
	int r = 0;

	if (vlen >= sizeof(name))
		return iscsi_text_add(out, "SendTargets", "Reject");
	memcpy(name, val, vlen);
	name[vlen] = 0;
	all = !strcmp(name, "All");
	if (!s->discovery) {
		/* a normal session may only ask about its own target */
		if (all)
			return iscsi_text_add(out, "SendTargets", "Reject");
		if (!name[0])
			snprintf(name, sizeof(name), "%s", s->target_name);
		else if (strcmp(name, s->target_name))
			return 0;
	} else if (!all && !name[0]) {
		return 0;
	}
	lst = malloc(sizeof(char[TEXT_PORTALS_MAX][64]));
	if (!lst)
		return -ENOMEM;
	nportals = iscsi_portal_list(lst, TEXT_PORTALS_MAX);
	if (nportals > TEXT_PORTALS_MAX)
		nportals = TEXT_PORTALS_MAX;
	/* Discovery domains narrow what discovery shows; a normal session
	 * already logged in to its target. */
	dd = s->discovery && isns_dd_enabled();
	scsi_config_rdlock();
	list_for_each_entry (t, scsi_target_list(), link) {
		if (t->deleted || (!all && strcmp(t->name, name)) ||
		    !scsi_target_allows(t, s->initiator))
			continue;
		if (dd) {
			int v = isns_dd_check(s->initiator, t->name);

			if (v == -ENOENT && !x->dd_waited) {
				r = -EINPROGRESS;
				break;
			}
			if (v == 0)
				continue; /* -ENOTCONN/-ENOENT: ACLs alone */
		}
		r = text_add_target(c, t, lst, nportals, out);
		if (r < 0)
			break;
		if (out->len > ISCSI_TEXT_RSP_MAX) {
			log_warn("iscsi: %s: SendTargets answer cut at %u "
				 "bytes",
				 c->peer, ISCSI_TEXT_RSP_MAX);
			break;
		}
	}
	scsi_config_unlock();
	free(lst);
	return r;
}

/* Answers one complete request text; -EPROTO when it is malformed or
 * fails negotiation. */
static int text_process(struct iscsi_conn *c, struct iscsi_text_xchg *x)
{
	struct iscsi_text other;
	const char *k, *v;
	size_t kl, vl, pos = 0;
	int r;

	iscsi_text_init(&other);
	while ((r = iscsi_text_next((const char *)x->req, x->req_len, &pos, &k,
				    &kl, &v, &vl)) == 1) {
		char key[64];

		if (kl == 11 && !memcmp(k, "SendTargets", 11)) {
			r = text_send_targets(c, x, v, vl, &x->rsp);
			if (r < 0)
				break;
			continue;
		}
		if (kl >= sizeof(key)) {
			r = -EINVAL;
			break;
		}
		memcpy(key, k, kl);
		key[kl] = 0;
		r = iscsi_text_add(&other, key, "%.*s", (int)vl, v);
		if (r < 0)
			break;
	}
	if (r == 0 && other.len) {
		struct iscsi_neg n;

		iscsi_neg_init(&n, &iscsi_lim);
		n.p = c->params;
		if (iscsi_neg_process(&n, ISCSI_STAGE_FULL_FEATURE, other.buf,
				      other.len, &x->rsp) != ISCSI_LOGIN_OK)
			r = -EPROTO;
		else if (n.p.max_xmit_dsl != c->max_xmit_dsl) {
			x->apply = true;
			x->new_xmit_dsl = n.p.max_xmit_dsl;
		}
	}
	iscsi_text_free(&other);
	if (r == -ENOMEM || r == -EINPROGRESS)
		return r;
	return r < 0 ? -EPROTO : 0;
}

static int text_send(struct iscsi_conn *c, struct iscsi_text_xchg *x,
		     bool final, bool cont, uint32_t ttt, const void *data,
		     uint32_t dlen)
{
	struct iscsi_text_rsp_hdr h = {0};
	struct iscsi_ctlpdu *p = iscsi_ctl_alloc(c);
	uint8_t *buf = NULL;

	if (!p)
		return -ENOMEM;
	if (dlen) {
		buf = malloc(dlen);
		if (!buf) {
			iscsi_ctl_release(c, p);
			return -ENOMEM;
		}
		memcpy(buf, data, dlen);
	}
	h.final = final;
	h.cont = cont;
	h.dlen = dlen;
	memcpy(h.lun, x->lun, sizeof(h.lun));
	h.itt = x->itt;
	h.ttt = ttt;
	iscsi_conn_sn(c, &h.sn, true);
	iscsi_text_rsp_encode(p->tx.hdr, &h);
	iscsi_ctl_send(c, p, buf, dlen, buf);
	return 0;
}

/* Sends the next piece of the response; the last one ends the exchange
 * (or, when the initiator did not set F, hands the turn back to it). */
static int text_send_next(struct iscsi_conn *c, struct iscsi_text_xchg *x)
{
	size_t left = x->rsp.len - x->rsp_off;
	uint32_t len =
	    left > c->max_xmit_dsl ? c->max_xmit_dsl : (uint32_t)left;
	bool last = len == left;
	/* an empty response has no buffer at all */
	const uint8_t *data =
	    left ? (const uint8_t *)x->rsp.buf + x->rsp_off : NULL;
	uint32_t ttt = ISCSI_RSVD_TAG;
	int r;

	if (!last || !x->final_req)
		ttt = x->ttt = text_new_ttt(c);
	r = text_send(c, x, last && x->final_req, !last, ttt, data, len);
	if (r < 0)
		return r;
	x->rsp_off += len;
	if (!last)
		return 0;
	if (x->apply)
		c->max_xmit_dsl = x->new_xmit_dsl;
	x->apply = false;
	if (x->final_req) {
		iscsi_text_xchg_free(c);
		return 0;
	}
	/* negotiation goes on: the next request carries x->ttt */
	x->responding = false;
	iscsi_text_free(&x->rsp);
	iscsi_text_init(&x->rsp);
	x->rsp_off = 0;
	return 0;
}

static void text_answer(struct iscsi_conn *c, struct iscsi_text_xchg *x);

static void text_dd_resume(void *arg)
{
	struct iscsi_conn *c = arg;
	struct iscsi_text_xchg *x = c->text;

	if (c->state == ISCSI_CONN_FFP && x && x->dd_waiting) {
		x->dd_waiting = false;
		text_answer(c, x);
	}
	iscsi_conn_put(c);
}

/* Asks iSNS for the initiator's discovery domains; the answer (or its
 * failure) resumes the exchange on this reactor. */
static void text_dd_wait(struct iscsi_conn *c, struct iscsi_text_xchg *x)
{
	iscsi_text_free(&x->rsp);
	iscsi_text_init(&x->rsp);
	x->dd_waited = true;
	x->dd_waiting = true;
	iscsi_conn_get(c);
	if (isns_dd_fetch(c->sess->initiator, c->reactor, text_dd_resume, c) <
	    0) {
		iscsi_conn_put(c);
		x->dd_waiting = false;
		log_warn("iscsi: %s: cannot ask iSNS for the discovery domains "
			 "of %s; SendTargets lists what the ACLs allow",
			 c->peer, c->sess->initiator);
		text_answer(c, x);
	}
}

/* Answers the complete request in x->req. */
static void text_answer(struct iscsi_conn *c, struct iscsi_text_xchg *x)
{
	int r = text_process(c, x);

	if (r == -EINPROGRESS) {
		text_dd_wait(c, x);
		return;
	}
	free(x->req);
	x->req = NULL;
	x->req_len = 0;
	if (r == -EPROTO) {
		uint8_t bhs[ISCSI_BHS_LEN];

		memcpy(bhs, x->bhs, sizeof(bhs));
		log_warn("iscsi: %s: malformed or refused Text Request",
			 c->peer);
		iscsi_text_xchg_free(c);
		iscsi_conn_reject(c, ISCSI_REJECT_PROTOCOL_ERROR, bhs);
		return;
	}
	if (r == 0) {
		x->responding = true;
		x->rsp_off = 0;
		r = text_send_next(c, x);
	}
	if (r < 0) {
		log_error("iscsi: %s: out of memory answering a Text Request",
			  c->peer);
		iscsi_conn_close(c);
	}
}

void iscsi_text_rx(struct iscsi_conn *c, const uint8_t *bhs,
		   const uint8_t *data, uint32_t dlen)
{
	struct iscsi_text_req_hdr h;
	struct iscsi_text_xchg *x = c->text;
	uint8_t *req;
	int r;

	iscsi_text_req_decode(bhs, &h);
	if (h.ttt != ISCSI_RSVD_TAG) {
		if (!x || x->ttt != h.ttt || x->itt != h.itt || x->dd_waiting) {
			iscsi_text_xchg_free(c);
			iscsi_conn_reject(c, ISCSI_REJECT_INVALID_PDU_FIELD,
					  bhs);
			return;
		}
	} else {
		/* a new exchange resets any other (RFC 7143 §11.10.4) */
		iscsi_text_xchg_free(c);
		x = calloc(1, sizeof(*x));
		if (!x) {
			iscsi_conn_reject(c, ISCSI_REJECT_OUT_OF_RESOURCES,
					  bhs);
			return;
		}
		iscsi_text_init(&x->rsp);
		x->itt = h.itt;
		memcpy(x->lun, h.lun, sizeof(x->lun));
		c->text = x;
	}
	x->final_req = h.final;
	if (h.final && h.cont) {
		iscsi_text_xchg_free(c);
		iscsi_conn_reject(c, ISCSI_REJECT_PROTOCOL_ERROR, bhs);
		return;
	}
	if (x->responding) {
		/* the initiator asks for the rest of our answer */
		r = text_send_next(c, x);
		goto out;
	}
	if (dlen > ISCSI_TEXT_REQ_MAX - x->req_len) {
		iscsi_text_xchg_free(c);
		iscsi_conn_reject(c, ISCSI_REJECT_PROTOCOL_ERROR, bhs);
		return;
	}
	req = realloc(x->req, x->req_len + dlen + 1);
	if (!req) {
		iscsi_text_xchg_free(c);
		iscsi_conn_reject(c, ISCSI_REJECT_OUT_OF_RESOURCES, bhs);
		return;
	}
	memcpy(req + x->req_len, data, dlen);
	x->req = req;
	x->req_len += dlen;
	if (h.cont) {
		/* more request text follows: acknowledge with a TTT */
		x->ttt = text_new_ttt(c);
		r = text_send(c, x, false, false, x->ttt, NULL, 0);
		goto out;
	}
	memcpy(x->bhs, bhs, sizeof(x->bhs));
	text_answer(c, x);
	return;
out:
	if (r < 0) {
		log_error("iscsi: %s: out of memory answering a Text Request",
			  c->peer);
		iscsi_conn_close(c);
	}
}
