/*
 * Task management (RFC 7143 §11.5-11.6, SAM-5 §7): ABORT TASK (with the
 * RefCmdSN rule of §11.5.1 for a task never seen), ABORT TASK SET and
 * LOGICAL UNIT RESET on this session's tasks (the reset also reaches the
 * core for the other nexuses' unit attentions). TARGET WARM RESET resets
 * every LU of the target the same way; TARGET COLD RESET then closes every
 * session of the target once the response is queued (§11.5.1). TASK
 * REASSIGN needs
 * ErrorRecoveryLevel 2; every other function is answered "not
 * supported". Aborted tasks get no response; their memory waits for the
 * core's done.
 */
#include <string.h>

#include "iscsi/conn.h"
#include "iscsi/iscsi.h"
#include "util/log.h"

static uint8_t tmf_abort_task(struct iscsi_conn *c,
			      const struct iscsi_tmf_req_hdr *h)
{
	struct iscsi_task *t = NULL;

	if (h->rtt != ISCSI_RSVD_TAG)
		t = iscsi_task_find(c, h->rtt);
	if (t && !t->aborted && !memcmp(t->cmd.lun_raw, h->lun, 8)) {
		iscsi_task_abort(t);
		return ISCSI_TMF_RSP_COMPLETE;
	}
	/* Never seen: if RefCmdSN is in the window and before this
	 * request, that command counts as received and aborted. */
	if (!t && iscsi_session_cmdsn_declare_received(c->sess, h->ref_cmdsn,
						       h->cmdsn))
		return ISCSI_TMF_RSP_COMPLETE;
	return ISCSI_TMF_RSP_NO_TASK;
}

static uint8_t tmf_abort_lun(struct iscsi_conn *c,
			     const struct iscsi_tmf_req_hdr *h, bool reset)
{
	struct iscsi_session *s = c->sess;
	struct iscsi_task *t, *n;

	if (!scsi_nexus_has_lun(&s->nexus, h->lun))
		return ISCSI_TMF_RSP_NO_LUN;
	list_for_each_entry_safe (t, n, &c->tasks, link) {
		if (!t->aborted && !memcmp(t->cmd.lun_raw, h->lun, 8))
			iscsi_task_abort(t);
	}
	if (reset)
		scsi_lu_reset_by(&s->nexus, h->lun);
	return ISCSI_TMF_RSP_COMPLETE;
}

void iscsi_tmf_rx(struct iscsi_conn *c, const uint8_t *bhs)
{
	struct iscsi_tmf_req_hdr h;
	struct iscsi_tmf_rsp_hdr r = {0};
	struct iscsi_ctlpdu *p;
	uint8_t response;

	iscsi_tmf_req_decode(bhs, &h);
	switch (h.function) {
	case ISCSI_TMF_ABORT_TASK:
		response = tmf_abort_task(c, &h);
		break;
	case ISCSI_TMF_ABORT_TASK_SET:
		response = tmf_abort_lun(c, &h, false);
		break;
	case ISCSI_TMF_LUN_RESET:
		response = tmf_abort_lun(c, &h, true);
		break;
	case ISCSI_TMF_TARGET_WARM_RESET:
	case ISCSI_TMF_TARGET_COLD_RESET:
		iscsi_task_abort_all(c);
		scsi_target_reset_by(&c->sess->nexus);
		response = ISCSI_TMF_RSP_COMPLETE;
		break;
	case ISCSI_TMF_TASK_REASSIGN:
		response = ISCSI_TMF_RSP_NO_REASSIGN;
		break;
	default:
		response = ISCSI_TMF_RSP_NOT_SUPPORTED;
		break;
	}
	log_debug("iscsi: %s: task management function %u ITT 0x%08x RTT "
		  "0x%08x: response %u",
		  c->peer, h.function, h.itt, h.rtt, response);
	p = iscsi_ctl_alloc(c);
	if (!p) {
		iscsi_conn_close(c);
		return;
	}
	r.response = response;
	r.itt = h.itt;
	iscsi_conn_sn(c, &r.sn, true);
	iscsi_tmf_rsp_encode(p->tx.hdr, &r);
	iscsi_ctl_send(c, p, NULL, 0, NULL);
	if (h.function == ISCSI_TMF_TARGET_COLD_RESET)
		iscsi_session_close_target(c->sess->target_name);
}
