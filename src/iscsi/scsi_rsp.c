/*
 * The answer to a SCSI command (RFC 7143 §11.4, §11.7): Data-In PDUs of at
 * most the initiator's MaxRecvDataSegmentLength, sequences of at most
 * MaxBurstLength (F bit at each end), DataSN and BufferOffset; status
 * collapsed into the last Data-In (S bit) when it is GOOD without sense,
 * otherwise a SCSI Response carrying the sense data behind its 2-byte
 * SenseLength; residual overflow/underflow counts and bits (§11.4.5) and
 * ExpDataSN. PDUs are generated from the task, pointing into the
 * command's buffer (nothing is copied), up to ISCSI_TASK_TX_SLOTS of them
 * on the transmit queue at once so that a read of several Data-In PDUs
 * leaves in one sendmsg with the answers to other tasks.
 */
#include <stdlib.h>
#include <string.h>

#include "iscsi/conn.h"

void iscsi_task_leave_window(struct iscsi_task *t)
{
	if (t->in_window) {
		t->in_window = false;
		t->conn->nr_window--;
	}
}

/* RFC 7143 §11.4.5 with the rule in scsi.h. */
static void task_residual(const struct iscsi_task *t, uint8_t *flags,
			  uint32_t *resid)
{
	const struct scsi_cmd *cmd = &t->cmd;
	uint32_t e = cmd->edtl, c = cmd->cdb_xfer_len, d = 0;

	if (!t->failed) {
		if (cmd->dir == SCSI_DIR_READ)
			d = t->in_len;
		else if (cmd->dir == SCSI_DIR_WRITE && t->want_write)
			d = cmd->xfer_len;
	}
	*flags = 0;
	*resid = 0;
	if (c > e) {
		*flags = ISCSI_RESID_OVERFLOW;
		*resid = c - e;
	} else if (d < e) {
		*flags = ISCSI_RESID_UNDERFLOW;
		*resid = e - d;
	}
}

static void task_build_response(struct iscsi_task *t, struct iscsi_txpdu *p)
{
	struct iscsi_conn *c = t->conn;
	struct scsi_cmd *cmd = &t->cmd;
	struct iscsi_scsi_rsp_hdr h = {0};
	uint32_t dlen = 0;

	iscsi_task_leave_window(t);
	if (cmd->sense_len) {
		uint16_t n = cmd->sense_len > SCSI_SENSE_MAX ? SCSI_SENSE_MAX
							     : cmd->sense_len;

		put_be16(t->rsp_data, n);
		memcpy(t->rsp_data + 2, cmd->sense, n);
		dlen = 2u + n;
	}
	task_residual(t, &h.resid_flags, &h.resid);
	h.response = 0; /* command completed at target */
	h.status = cmd->status;
	h.dlen = dlen;
	h.itt = t->itt;
	iscsi_conn_sn(c, &h.sn, true);
	/* R2Ts sent for a write, Data-Ins for a read */
	h.exp_datasn = t->r2tsn + t->datasn;
	iscsi_scsi_rsp_encode(p->hdr, &h);
	p->data = dlen ? t->rsp_data : NULL;
	p->dlen = dlen;
	t->rsp_sent = true;
}

static void task_build_data_in(struct iscsi_task *t, struct iscsi_txpdu *p)
{
	struct iscsi_conn *c = t->conn;
	struct iscsi_data_in_hdr h = {0};
	uint32_t left = t->in_len - t->in_off;
	uint32_t burst = c->params.max_burst_length;
	uint32_t burst_left = burst ? burst - t->in_burst : left;
	uint32_t len = left;
	bool last;

	if (len > c->max_xmit_dsl)
		len = c->max_xmit_dsl;
	if (len > burst_left)
		len = burst_left;
	last = len == left;
	h.final = last || len == burst_left;
	h.dlen = len;
	h.itt = t->itt;
	h.ttt = ISCSI_RSVD_TAG;
	h.datasn = t->datasn++;
	h.offset = t->in_off;
	if (last && t->collapse) {
		iscsi_task_leave_window(t);
		h.has_status = true;
		h.status = t->cmd.status;
		task_residual(t, &h.resid_flags, &h.resid);
		iscsi_conn_sn(c, &h.sn, true);
		t->rsp_sent = true;
	} else {
		iscsi_conn_sn(c, &h.sn, false);
	}
	iscsi_data_in_encode(p->hdr, &h);
	p->data = t->cmd.buf + t->in_off;
	p->dlen = len;
	t->in_off += len;
	t->in_burst = h.final ? 0 : t->in_burst + len;
}

static void task_pdu_done(struct iscsi_conn *c, struct iscsi_txpdu *p,
			  bool sent);

/*
 * Queues the task's next PDUs, as many as it has free slots: Data-In
 * while data is left, then the SCSI Response unless the status went with
 * the last Data-In. They are built in order and so take their DataSN and
 * StatSN in the order they go out; the connection sends what is queued
 * in one sendmsg.
 */
static void task_fill(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;

	/* Queuing on a closing connection would discard at once. */
	while (t->tx_count < t->tx_slots && !t->rsp_sent &&
	       c->state < ISCSI_CONN_CLOSING) {
		struct iscsi_txpdu *p = iscsi_task_slot(t, t->tx_count);

		if (t->in_off < t->in_len)
			task_build_data_in(t, p);
		else
			task_build_response(t, p);
		p->done = task_pdu_done;
		p->owner = t;
		iscsi_txpdu_seal(c, p);
		t->tx_count++;
		iscsi_conn_queue(c, p);
	}
	if (!t->tx_count)
		iscsi_task_free(t);
}

static void task_pdu_done(struct iscsi_conn *c, struct iscsi_txpdu *p,
			  bool sent)
{
	struct iscsi_task *t = p->owner;

	t->tx_head = (uint8_t)((t->tx_head + 1u) % t->tx_slots);
	t->tx_count--;
	if (!sent || t->aborted ||
	    (c->state != ISCSI_CONN_FFP && c->state != ISCSI_CONN_LOGOUT)) {
		if (!t->tx_count)
			iscsi_task_free(t);
		return;
	}
	if (t->rsp_sent) {
		if (!t->tx_count)
			iscsi_task_free(t);
		return;
	}
	task_fill(t);
}

void iscsi_task_respond(struct iscsi_task *t)
{
	const struct scsi_cmd *cmd = &t->cmd;
	uint32_t in = 0;

	t->state = ISCSI_TASK_TX;
	if (!t->failed && cmd->dir == SCSI_DIR_READ && t->want_read) {
		in = cmd->data_len;
		if (in > cmd->xfer_len)
			in = cmd->xfer_len;
		if (in > cmd->edtl)
			in = cmd->edtl;
		if (!cmd->buf)
			in = 0;
	}
	t->in_len = in;
	t->in_off = 0;
	t->in_burst = 0;
	t->collapse = cmd->status == SAM_STAT_GOOD && !cmd->sense_len;
	t->tx_head = t->tx_count = 0;
	t->tx_slots = 1;
	/* More than one PDU to send: they go out together. Without the
	 * memory, one at a time. */
	if (in > t->conn->max_xmit_dsl || (in && !t->collapse)) {
		if (!t->xpdu)
			t->xpdu = malloc((ISCSI_TASK_TX_SLOTS - 1) *
					 sizeof(*t->xpdu));
		if (t->xpdu)
			t->tx_slots = ISCSI_TASK_TX_SLOTS;
	}
	task_fill(t);
}
