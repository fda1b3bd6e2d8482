/*
 * Logout (RFC 7143 §11.14-11.15): close the session or this connection
 * (the same thing with MaxConnections=1); "remove for recovery" is not
 * supported at ErrorRecoveryLevel 0. Tasks still waiting for Data-Out are
 * aborted, those in the SCSI core or on the wire finish first, then the
 * Logout Response goes out and the connection closes once it is sent.
 */
#include "iscsi/conn.h"
#include "util/log.h"

static int logout_send(struct iscsi_conn *c, uint32_t itt, uint8_t response)
{
	struct iscsi_logout_rsp_hdr h = {0};
	struct iscsi_ctlpdu *p = iscsi_ctl_alloc(c);

	if (!p)
		return -1;
	h.response = response;
	h.itt = itt;
	/* ERL 0: nothing is retained for a reconnect */
	h.time2wait = 0;
	h.time2retain = 0;
	iscsi_conn_sn(c, &h.sn, true);
	iscsi_logout_rsp_encode(p->tx.hdr, &h);
	iscsi_ctl_send(c, p, NULL, 0, NULL);
	return 0;
}

void iscsi_logout_check(struct iscsi_conn *c)
{
	if (c->state != ISCSI_CONN_LOGOUT || !c->logout_pending ||
	    iscsi_task_busy_count(c))
		return;
	c->logout_pending = false;
	if (logout_send(c, c->logout_itt, ISCSI_LOGOUT_RSP_OK) < 0) {
		iscsi_conn_close(c);
		return;
	}
	iscsi_conn_close_after_tx(c);
}

void iscsi_logout_rx(struct iscsi_conn *c, const uint8_t *bhs)
{
	struct iscsi_logout_req_hdr h;
	struct iscsi_task *t, *n;
	uint8_t response;

	iscsi_logout_req_decode(bhs, &h);
	if (c->state != ISCSI_CONN_FFP) {
		iscsi_conn_reject(c, ISCSI_REJECT_PROTOCOL_ERROR, bhs);
		return;
	}
	switch (h.reason) {
	case ISCSI_LOGOUT_CLOSE_SESSION:
		response = ISCSI_LOGOUT_RSP_OK;
		break;
	case ISCSI_LOGOUT_CLOSE_CONNECTION:
		response = h.cid == c->cid ? ISCSI_LOGOUT_RSP_OK
					   : ISCSI_LOGOUT_RSP_NO_CID;
		break;
	case ISCSI_LOGOUT_REMOVE_FOR_RECOVERY:
		response = ISCSI_LOGOUT_RSP_NO_RECOVERY;
		break;
	default:
		iscsi_conn_reject(c, ISCSI_REJECT_INVALID_PDU_FIELD, bhs);
		return;
	}
	if (response != ISCSI_LOGOUT_RSP_OK) {
		if (logout_send(c, h.itt, response) < 0)
			iscsi_conn_close(c);
		return;
	}
	log_debug("iscsi: %s: logout (reason %u)", c->peer, h.reason);
	c->state = ISCSI_CONN_LOGOUT;
	iscsi_nop_stop(c);
	list_for_each_entry_safe (t, n, &c->tasks, link) {
		if (t->state == ISCSI_TASK_DATA_OUT)
			iscsi_task_abort(t);
	}
	c->logout_itt = h.itt;
	c->logout_pending = true;
	iscsi_logout_check(c);
}
