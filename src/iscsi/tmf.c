/*
 * Task management (RFC 7143 §11.5-11.6, RFC 7144 §4, SAM-5 §7) on one
 * session's connection:
 *
 *  - ABORT TASK (with the RefCmdSN rule of RFC 7143 §11.5.1 for a task
 *    never seen), ABORT TASK SET and CLEAR TASK SET: this session's tasks.
 *    The control mode page says TST 001b (a task set per I_T nexus,
 *    mode.c), so CLEAR TASK SET clears the requester's task set only and
 *    is ABORT TASK SET again; no other nexus is touched.
 *  - LOGICAL UNIT RESET, TARGET WARM RESET, TARGET COLD RESET: this
 *    session's tasks here, every other nexus's through the core
 *    (scsi_lu_reset_by, scsi_target_reset_by), which also establishes the
 *    unit attentions. COLD RESET then closes every session of the target
 *    once its response is queued.
 *  - I_T NEXUS RESET (RFC 7144): every task of this session, then the I_T
 *    nexus loss functions in the core (scsi_nexus_reset); the session
 *    stays logged in.
 *  - QUERY TASK, QUERY TASK SET (RFC 7144): "Function succeeded" when the
 *    task (a task of this session on the LU) is in the task set, else
 *    "Function complete". QUERY ASYNCHRONOUS EVENT: "Function succeeded"
 *    with the pending unit attention in the Additional Response
 *    Information (UADE DEPTH, SENSE KEY, ASC, ASCQ; SAM-5 §7.6), else
 *    "Function complete" with zeros.
 *  - CLEAR ACA: "Task management function not supported" (NACA=1 is
 *    refused, so the LU never enters ACA). TASK REASSIGN: "Task allegiance
 *    reassignment not supported", the response code made for it:
 *    allegiance reassignment is connection recovery (RFC 7143 §6.2.2),
 *    which only ErrorRecoveryLevel 2 has, and lunar negotiates 0.
 *
 * Aborted tasks of this session get no response; their memory waits for
 * the core's done. Response fence (RFC 7143 §11.5.1, §11.6.1): a
 * function's response is sent only once every task it aborted that the
 * SCSI core held has ended (its done came, the store is done with its
 * buffer); the responses of a reset also wait for the tasks it aborted on
 * other nexuses (scsi_nexus_aborts_pending, polled every
 * ISCSI_TMF_POLL_MS), so that no write of an aborted task lands after the
 * initiator learnt that the reset is complete. Not waited for: the
 * initiator's acknowledgement of earlier responses through ExpStatSN. With
 * one connection per session every earlier response precedes the TMF
 * response on the same TCP stream, and an idle initiator would never
 * acknowledge. Held responses take no memory beyond their control PDU;
 * more than ISCSI_TMF_WAIT_MAX of them stop the connection's reading.
 */
#include <errno.h>
#include <string.h>

#include "iscsi/conn.h"
#include "iscsi/iscsi.h"
#include "util/log.h"

/* Which other nexuses' aborts a response waits for (tmf.others). */
enum {
	TMF_OTHERS_NONE = 0,
	TMF_OTHERS_LU,	   /* on the LU of tmf.lun */
	TMF_OTHERS_TARGET, /* on every LU of the target */
};

#define SCSI_SENSE_KEY_UNIT_ATTENTION 0x06
/* UADE DEPTH (SAM-5 §7.6): one condition, more than one. */
#define TMF_UADE_ONE  0x1
#define TMF_UADE_MANY 0x2

/* Aborts t for the function whose responses wait for fence: one the core
 * holds is marked so that the response waits for its end. */
static void tmf_abort(struct iscsi_task *t, uint64_t fence)
{
	if (t->in_core && !t->fence)
		t->fence = fence;
	iscsi_task_abort(t);
}

static uint8_t tmf_abort_task(struct iscsi_conn *c,
			      const struct iscsi_tmf_req_hdr *h, uint64_t fence)
{
	struct iscsi_task *t = NULL;

	if (h->rtt != ISCSI_RSVD_TAG)
		t = iscsi_task_find(c, h->rtt);
	if (t && !t->aborted && !memcmp(t->cmd.lun_raw, h->lun, 8)) {
		tmf_abort(t, fence);
		return ISCSI_TMF_RSP_COMPLETE;
	}
	/* Never seen: if RefCmdSN is in the window and before this
	 * request, that command counts as received and aborted. */
	if (!t && iscsi_session_cmdsn_declare_received(c->sess, h->ref_cmdsn,
						       h->cmdsn))
		return ISCSI_TMF_RSP_COMPLETE;
	return ISCSI_TMF_RSP_NO_TASK;
}

/* Every task of this session on the LU, or on every LU (lun NULL). Tasks
 * aborted before and still in the core are waited for as well. */
static void tmf_abort_tasks(struct iscsi_conn *c, const uint8_t *lun,
			    uint64_t fence)
{
	struct iscsi_task *t, *n;

	list_for_each_entry_safe (t, n, &c->tasks, link) {
		/* freeing t never frees another task */
		if (lun && memcmp(t->cmd.lun_raw, lun, 8))
			continue;
		if (t->aborted) {
			if (t->in_core && !t->fence)
				t->fence = fence;
			continue;
		}
		tmf_abort(t, fence);
	}
}

static uint8_t tmf_abort_lun(struct iscsi_conn *c,
			     const struct iscsi_tmf_req_hdr *h, uint64_t fence,
			     bool reset)
{
	struct iscsi_session *s = c->sess;

	if (!scsi_nexus_has_lun(&s->nexus, h->lun))
		return ISCSI_TMF_RSP_NO_LUN;
	tmf_abort_tasks(c, h->lun, fence);
	if (reset)
		scsi_lu_reset_by(&s->nexus, h->lun);
	return ISCSI_TMF_RSP_COMPLETE;
}

static uint8_t tmf_query_task(struct iscsi_conn *c,
			      const struct iscsi_tmf_req_hdr *h)
{
	struct iscsi_task *t = NULL;

	if (!scsi_nexus_has_lun(&c->sess->nexus, h->lun))
		return ISCSI_TMF_RSP_NO_LUN;
	if (h->rtt != ISCSI_RSVD_TAG)
		t = iscsi_task_find(c, h->rtt);
	if (t && !memcmp(t->cmd.lun_raw, h->lun, 8) &&
	    iscsi_task_in_task_set(t))
		return ISCSI_TMF_RSP_SUCCEEDED;
	return ISCSI_TMF_RSP_COMPLETE;
}

static uint8_t tmf_query_task_set(struct iscsi_conn *c,
				  const struct iscsi_tmf_req_hdr *h)
{
	struct iscsi_task *t;

	if (!scsi_nexus_has_lun(&c->sess->nexus, h->lun))
		return ISCSI_TMF_RSP_NO_LUN;
	list_for_each_entry (t, &c->tasks, link) {
		if (!memcmp(t->cmd.lun_raw, h->lun, 8) &&
		    iscsi_task_in_task_set(t))
			return ISCSI_TMF_RSP_SUCCEEDED;
	}
	return ISCSI_TMF_RSP_COMPLETE;
}

static uint8_t tmf_query_async_event(struct iscsi_conn *c,
				     const struct iscsi_tmf_req_hdr *h,
				     uint8_t info[3])
{
	uint8_t asc = 0, ascq = 0;
	int n = scsi_nexus_query_ua(&c->sess->nexus, h->lun, &asc, &ascq);

	if (n == -ENXIO)
		return ISCSI_TMF_RSP_NO_LUN;
	if (n < 0)
		return ISCSI_TMF_RSP_REJECTED;
	if (n == 0)
		return ISCSI_TMF_RSP_COMPLETE;
	/* No deferred errors here: the depth counts unit attentions. */
	info[0] = (uint8_t)((n > 1 ? TMF_UADE_MANY : TMF_UADE_ONE) << 4 |
			    SCSI_SENSE_KEY_UNIT_ATTENTION);
	info[1] = asc;
	info[2] = ascq;
	return ISCSI_TMF_RSP_SUCCEEDED;
}

static void tmf_send(struct iscsi_conn *c, struct iscsi_ctlpdu *p)
{
	struct iscsi_tmf_rsp_hdr r = {0};

	r.response = p->tmf.response;
	memcpy(r.add_rsp_info, p->tmf.add_rsp_info, 3);
	r.itt = p->tmf.itt;
	iscsi_conn_sn(c, &r.sn, true);
	iscsi_tmf_rsp_encode(p->tx.hdr, &r);
	iscsi_ctl_send(c, p, NULL, 0, NULL);
}

static void tmf_poll(void *arg)
{
	iscsi_tmf_check(arg);
}

/* Whether the aborts p's function asked of other nexuses are over. */
static bool tmf_others_done(struct iscsi_conn *c, const struct iscsi_ctlpdu *p)
{
	switch (p->tmf.others) {
	case TMF_OTHERS_LU:
		return !scsi_nexus_aborts_pending(&c->sess->nexus, p->tmf.lun);
	case TMF_OTHERS_TARGET:
		return !scsi_nexus_aborts_pending(&c->sess->nexus, NULL);
	default:
		return true;
	}
}

void iscsi_tmf_check(struct iscsi_conn *c)
{
	struct iscsi_ctlpdu *p, *n;
	struct iscsi_task *t;
	uint64_t oldest = 0; /* lowest fence of a task still held */
	bool poll = false, cold;

	if (c->in_tmf_check || list_empty(&c->tmf_wait) ||
	    (c->state != ISCSI_CONN_FFP && c->state != ISCSI_CONN_LOGOUT))
		return;
	c->in_tmf_check = true;
	list_for_each_entry (t, &c->tasks, link) {
		if (t->fence && (!oldest || t->fence < oldest))
			oldest = t->fence;
	}
	list_for_each_entry_safe (p, n, &c->tmf_wait, tx.link) {
		if (oldest && oldest <= p->tmf.fence)
			continue;
		if (!tmf_others_done(c, p)) {
			poll = true;
			continue;
		}
		list_del(&p->tx.link);
		c->nr_tmf_wait--;
		cold = p->tmf.cold;
		tmf_send(c, p); /* p may be gone once this returns */
		/* §11.5.1: after a cold reset every session of the target
		 * ends; this one's response is queued first. */
		if (cold && c->sess)
			iscsi_session_close_target(c->sess->target_name);
		/* Sending may have closed the connection (and dropped the
		 * other held responses). */
		if (c->state != ISCSI_CONN_FFP && c->state != ISCSI_CONN_LOGOUT)
			break;
	}
	c->in_tmf_check = false;
	if (c->state != ISCSI_CONN_FFP && c->state != ISCSI_CONN_LOGOUT)
		return;
	if (poll && !reactor_timer_armed(&c->tmf_timer))
		reactor_timer_arm(c->reactor, &c->tmf_timer, ISCSI_TMF_POLL_MS,
				  tmf_poll, c);
	iscsi_conn_rx_throttle(c);
}

void iscsi_tmf_conn_close(struct iscsi_conn *c)
{
	reactor_timer_cancel(c->reactor, &c->tmf_timer);
	while (!list_empty(&c->tmf_wait)) {
		struct iscsi_ctlpdu *p = list_first_entry(
		    &c->tmf_wait, struct iscsi_ctlpdu, tx.link);

		list_del(&p->tx.link);
		iscsi_ctl_release(c, p);
	}
	c->nr_tmf_wait = 0;
}

void iscsi_tmf_rx(struct iscsi_conn *c, const uint8_t *bhs)
{
	struct iscsi_tmf_req_hdr h;
	struct iscsi_session *s = c->sess;
	struct iscsi_ctlpdu *p;
	uint64_t fence;
	uint8_t response;

	iscsi_tmf_req_decode(bhs, &h);
	p = iscsi_ctl_alloc(c);
	if (!p) {
		iscsi_conn_close(c);
		return;
	}
	memset(&p->tmf, 0, sizeof(p->tmf));
	p->tmf.itt = h.itt;
	/* Function codes 1-12 (RFC 7143 §11.5.1, RFC 7144 §4.1) are the
	 * statistics' order. */
	scsi_stats_tmf(&s->nexus, s->nexus_live ? h.lun : NULL,
		       h.function >= 1 && h.function <= SCSI_STATS_TMF_OTHER
			   ? (enum scsi_stats_tmf)(h.function - 1)
			   : SCSI_STATS_TMF_OTHER);
	fence = ++c->tmf_seq;
	p->tmf.fence = fence;
	switch (h.function) {
	case ISCSI_TMF_ABORT_TASK:
		response = tmf_abort_task(c, &h, fence);
		break;
	case ISCSI_TMF_ABORT_TASK_SET:
	case ISCSI_TMF_CLEAR_TASK_SET:
		response = tmf_abort_lun(c, &h, fence, false);
		break;
	case ISCSI_TMF_LUN_RESET:
		response = tmf_abort_lun(c, &h, fence, true);
		if (response == ISCSI_TMF_RSP_COMPLETE) {
			p->tmf.others = TMF_OTHERS_LU;
			memcpy(p->tmf.lun, h.lun, 8);
		}
		break;
	case ISCSI_TMF_TARGET_WARM_RESET:
	case ISCSI_TMF_TARGET_COLD_RESET:
		tmf_abort_tasks(c, NULL, fence);
		scsi_target_reset_by(&s->nexus);
		p->tmf.others = TMF_OTHERS_TARGET;
		p->tmf.cold = h.function == ISCSI_TMF_TARGET_COLD_RESET;
		response = ISCSI_TMF_RSP_COMPLETE;
		break;
	case ISCSI_TMF_IT_NEXUS_RESET:
		tmf_abort_tasks(c, NULL, fence);
		scsi_nexus_reset(&s->nexus);
		response = ISCSI_TMF_RSP_COMPLETE;
		break;
	case ISCSI_TMF_QUERY_TASK:
		response = tmf_query_task(c, &h);
		break;
	case ISCSI_TMF_QUERY_TASK_SET:
		response = tmf_query_task_set(c, &h);
		break;
	case ISCSI_TMF_QUERY_ASYNC_EVENT:
		response = tmf_query_async_event(c, &h, p->tmf.add_rsp_info);
		break;
	case ISCSI_TMF_TASK_REASSIGN:
		/* Allegiance reassignment is connection recovery, which
		 * needs ErrorRecoveryLevel 2; lunar negotiates 0, and a
		 * session with one connection has nowhere to move a task. */
		response = ISCSI_TMF_RSP_NO_REASSIGN;
		break;
	case ISCSI_TMF_CLEAR_ACA:
	default:
		response = ISCSI_TMF_RSP_NOT_SUPPORTED;
		break;
	}
	log_debug("iscsi: %s: task management function %u ITT 0x%08x RTT "
		  "0x%08x: response %u",
		  c->peer, h.function, h.itt, h.rtt, response);
	p->tmf.response = response;
	if (c->state != ISCSI_CONN_FFP && c->state != ISCSI_CONN_LOGOUT) {
		/* The aborts ended the connection (they let a Logout that
		 * waited for them finish): nobody is left to answer. */
		iscsi_ctl_release(c, p);
		return;
	}
	list_add_tail(&p->tx.link, &c->tmf_wait);
	c->nr_tmf_wait++;
	iscsi_tmf_check(c);
}
