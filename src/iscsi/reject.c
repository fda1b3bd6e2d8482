/*
 * Target-originated PDUs outside any task: Reject (RFC 7143 §11.17,
 * carrying the offending BHS as its data) and the Async Message asking
 * the initiator to log out (§11.9, AsyncEvent 1), used at shutdown.
 */
#include <string.h>

#include "iscsi/conn.h"
#include "util/log.h"

static int reject_send(struct iscsi_conn *c, uint8_t reason, const uint8_t *bhs)
{
	struct iscsi_reject_hdr h = {0};
	struct iscsi_ctlpdu *p = iscsi_ctl_alloc(c);

	if (!p)
		return -1;
	log_debug("iscsi: %s: Reject reason 0x%02x for %s ITT 0x%08x", c->peer,
		  reason, iscsi_opcode_name(iscsi_bhs_opcode(bhs)),
		  iscsi_bhs_itt(bhs));
	memcpy(p->inline_data, bhs, ISCSI_BHS_LEN);
	h.reason = reason;
	h.dlen = ISCSI_BHS_LEN;
	iscsi_conn_sn(c, &h.sn, true);
	iscsi_reject_encode(p->tx.hdr, &h);
	iscsi_ctl_send(c, p, p->inline_data, ISCSI_BHS_LEN, NULL);
	return 0;
}

void iscsi_conn_reject(struct iscsi_conn *c, uint8_t reason, const uint8_t *bhs)
{
	if (reject_send(c, reason, bhs) < 0)
		iscsi_conn_close(c);
}

void iscsi_conn_reject_close(struct iscsi_conn *c, uint8_t reason,
			     const uint8_t *bhs)
{
	if (reject_send(c, reason, bhs) < 0) {
		iscsi_conn_close(c);
		return;
	}
	iscsi_conn_close_after_tx(c);
}

void iscsi_conn_send_async_logout(struct iscsi_conn *c, uint16_t secs)
{
	struct iscsi_async_hdr h = {0};
	struct iscsi_ctlpdu *p = iscsi_ctl_alloc(c);

	if (!p) {
		iscsi_conn_close(c);
		return;
	}
	h.event = ISCSI_ASYNC_LOGOUT_REQUEST;
	h.param3 = secs; /* seconds the initiator has to log out */
	iscsi_conn_sn(c, &h.sn, true);
	iscsi_async_encode(p->tx.hdr, &h);
	iscsi_ctl_send(c, p, NULL, 0, NULL);
}
