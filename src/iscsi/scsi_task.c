/*
 * SCSI Command intake and write data collection (RFC 7143 §11.3, §11.7-
 * 11.8, §4.2.2.x "Data Transfer"): a SCSI Command PDU becomes a task with
 * an embedded struct scsi_cmd, prepared by the SCSI core in CmdSN order;
 * write data arrives as immediate data (ImmediateData=Yes), unsolicited
 * Data-Out up to FirstBurstLength (InitialR2T=No), then R2Ts honouring
 * MaxBurstLength and MaxOutstandingR2T. Every Data-Out is checked (TTT,
 * DataSN, BufferOffset, length, F bit) before its bytes land in the
 * command's buffer. Also the per-connection task pool, ITT lookup and task
 * abort (an aborted task gets no response and is freed only after the
 * core's done), and the abort of a task on behalf of another I_T nexus
 * (SAM-5 §5.6, scsi.h): with TAS=1 it ends with TASK ABORTED status once
 * the core is done with it, its remaining Data-Out discarded.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iscsi/conn.h"
#include "util/log.h"

#define TASK_FREE_MAX 64

/* SPC sense: ILLEGAL REQUEST / INVALID FIELD IN CDB */
#define SENSE_ILLEGAL_REQUEST	 0x05
#define ASC_INVALID_FIELD_IN_CDB 0x24

static struct list_head *task_bucket(struct iscsi_conn *c, uint32_t itt)
{
	return &c->itt_hash[itt % ISCSI_ITT_HASH];
}

static struct iscsi_task *task_alloc(struct iscsi_conn *c)
{
	struct iscsi_task *t;

	if (!list_empty(&c->task_free)) {
		t = list_first_entry(&c->task_free, struct iscsi_task, link);
		list_del(&t->link);
		c->nr_free_tasks--;
	} else {
		t = malloc(sizeof(*t));
		if (!t)
			return NULL;
	}
	/* sense and response bytes are written before they are read */
	memset(t, 0, offsetof(struct iscsi_task, rsp_data));
	memset(&t->cmd, 0, sizeof(t->cmd));
	t->conn = c;
	list_init(&t->hash_link);
	list_add_tail(&t->link, &c->tasks);
	c->nr_tasks++;
	return t;
}

void iscsi_task_free(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	bool fenced = t->fence != 0;

	if (t->prepared) {
		scsi_cmd_release(&t->cmd);
		t->prepared = false;
	}
	iscsi_task_leave_window(t);
	if (t->immediate)
		c->nr_immediate--;
	list_del(&t->hash_link);
	list_del(&t->link);
	c->nr_tasks--;
	if (c->rx_task == t) {
		/* Freed while a PDU's data was landing in its buffer (an
		 * abort from another nexus runs between reads): the rest of
		 * that data segment is discarded. */
		c->rx_task = NULL;
		c->rx_dst = NULL;
		c->rx_dst_len = 0;
	}
	free(t->xpdu);
	t->xpdu = NULL;
	if (c->nr_free_tasks < TASK_FREE_MAX) {
		list_add_head(&t->link, &c->task_free);
		c->nr_free_tasks++;
	} else {
		free(t);
	}
	/* A task management response may have waited for this task. */
	if (fenced)
		iscsi_tmf_check(c);
	if (c->state == ISCSI_CONN_CLOSING)
		iscsi_conn_maybe_teardown(c);
	else if (c->state == ISCSI_CONN_LOGOUT)
		iscsi_logout_check(c);
}

void iscsi_task_pool_destroy(struct iscsi_conn *c)
{
	while (!list_empty(&c->task_free)) {
		struct iscsi_task *t =
		    list_first_entry(&c->task_free, struct iscsi_task, link);

		list_del(&t->link);
		free(t);
	}
	c->nr_free_tasks = 0;
}

struct iscsi_task *iscsi_task_find(struct iscsi_conn *c, uint32_t itt)
{
	struct iscsi_task *t;

	list_for_each_entry (t, task_bucket(c, itt), hash_link) {
		if (t->itt == itt)
			return t;
	}
	return NULL;
}

unsigned iscsi_task_busy_count(struct iscsi_conn *c)
{
	struct iscsi_task *t;
	unsigned n = 0;

	list_for_each_entry (t, &c->tasks, link) {
		if (!t->aborted)
			n++;
	}
	return n;
}

/*
 * An aborted task's queued PDUs: a PDU half on the wire must be finished,
 * and so must the answer that took a StatSN (a later StatSN, the TMF
 * response's, must not skip it) with the Data-In before it (no DataSN
 * gap). Their completion frees the task. Data-In without status leaves
 * the queue now.
 */
static void task_abort_tx(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	struct iscsi_txpdu *head;
	unsigned i;

	if (!t->tx_count) {
		iscsi_task_free(t);
		return;
	}
	if (t->rsp_sent)
		return;
	head = iscsi_task_slot(t, 0);
	for (i = 0; i < t->tx_count; i++) {
		struct iscsi_txpdu *p = iscsi_task_slot(t, i);

		if (p == head && c->tx_off &&
		    list_first_entry(&c->txq, struct iscsi_txpdu, link) == p)
			continue;
		list_del(&p->link);
	}
	if (c->tx_off &&
	    list_first_entry(&c->txq, struct iscsi_txpdu, link) == head) {
		t->tx_count = 1;
		return;
	}
	t->tx_count = 0;
	iscsi_task_free(t);
}

void iscsi_task_abort(struct iscsi_task *t)
{
	if (t->aborted)
		return;
	t->aborted = true;
	list_del(&t->hash_link); /* its ITT may be reused at once */
	iscsi_task_leave_window(t);
	switch (t->state) {
	case ISCSI_TASK_DATA_OUT:
		iscsi_task_free(t);
		break;
	case ISCSI_TASK_EXEC:
		if (t->in_core)
			scsi_cmd_abort(&t->cmd);
		else
			iscsi_task_free(t);
		break;
	case ISCSI_TASK_TX:
		task_abort_tx(t);
		break;
	}
}

bool iscsi_task_in_task_set(const struct iscsi_task *t)
{
	return t->prepared && !t->failed && !t->aborted &&
	       t->state != ISCSI_TASK_TX;
}

/*
 * Another nexus aborted the task (scsi.h "Abort"). Without a response it
 * is an ordinary abort. With TASK ABORTED status, the core finishes it
 * (done, status TASK ABORTED) and task_done answers: a task still
 * collecting Data-Out is handed to the core for that, marked failed so
 * that the rest of its data is discarded.
 */
static void task_abort_by_other(struct scsi_cmd *cmd, bool respond)
{
	struct iscsi_task *t = cmd->transport_priv;
	struct iscsi_conn *c = t->conn;

	if (!respond) {
		iscsi_task_abort(t);
		return;
	}
	if (t->aborted || t->failed || t->state == ISCSI_TASK_TX)
		return; /* its end is decided already */
	if (t->state == ISCSI_TASK_DATA_OUT) {
		t->failed = true;
		if (c->rx_task == t) {
			c->rx_task = NULL;
			c->rx_dst = NULL;
			c->rx_dst_len = 0;
		}
		t->state = ISCSI_TASK_EXEC;
		t->in_core = true;
		c->nr_in_core++;
	}
	scsi_cmd_abort(&t->cmd);
}

const struct scsi_nexus_ops iscsi_nexus_ops = {
    .abort_cmd = task_abort_by_other,
};

void iscsi_task_abort_all(struct iscsi_conn *c)
{
	struct iscsi_task *t, *n;

	list_for_each_entry_safe (t, n, &c->tasks, link) {
		/* freeing t never frees another task */
		iscsi_task_abort(t);
	}
}

static void task_done(struct scsi_cmd *cmd)
{
	struct iscsi_task *t = cmd->transport_priv;
	struct iscsi_conn *c = t->conn;

	t->in_core = false;
	c->nr_in_core--;
	if (t->aborted ||
	    (c->state != ISCSI_CONN_FFP && c->state != ISCSI_CONN_LOGOUT)) {
		iscsi_task_free(t);
		return;
	}
	iscsi_task_respond(t);
}

static void task_execute(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;

	t->state = ISCSI_TASK_EXEC;
	t->in_core = true;
	c->nr_in_core++;
	/* done may run before this returns: t is not touched after it */
	scsi_cmd_execute(&t->cmd);
}

static unsigned task_max_r2t(const struct iscsi_conn *c)
{
	uint32_t n = c->params.max_outstanding_r2t;

	if (n == 0)
		n = 1;
	return n > ISCSI_R2T_SLOTS ? ISCSI_R2T_SLOTS : n;
}

static int task_send_r2t(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	struct iscsi_r2t_hdr h = {0};
	struct iscsi_r2t_slot *s = NULL;
	struct iscsi_ctlpdu *p;
	uint32_t burst = c->params.max_burst_length;
	uint32_t left = t->cmd.xfer_len - t->r2t_next;
	unsigned i;

	for (i = 0; i < ISCSI_R2T_SLOTS && !s; i++) {
		if (!t->r2t[i].busy)
			s = &t->r2t[i];
	}
	if (!s)
		return -ENOSPC;
	p = iscsi_ctl_alloc(c);
	if (!p)
		return -ENOMEM;
	if (c->next_ttt == ISCSI_RSVD_TAG)
		c->next_ttt++;
	s->busy = true;
	s->ttt = c->next_ttt++;
	s->r2tsn = t->r2tsn++;
	s->offset = t->r2t_next;
	s->len = burst && left > burst ? burst : left;
	s->received = 0;
	s->next_datasn = 0;
	t->r2t_next += s->len;
	t->nr_r2t++;
	memcpy(h.lun, t->cmd.lun_raw, sizeof(h.lun));
	h.itt = t->itt;
	h.ttt = s->ttt;
	iscsi_conn_sn(c, &h.sn, false);
	h.r2tsn = s->r2tsn;
	h.offset = s->offset;
	h.desired_len = s->len;
	iscsi_r2t_encode(p->tx.hdr, &h);
	iscsi_ctl_send(c, p, NULL, 0, NULL);
	return 0;
}

/* Solicits what is missing, or executes once every byte is in. */
static void task_write_progress(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	unsigned max = task_max_r2t(c);

	if (t->unsol_open)
		return;
	while (t->r2t_next < t->cmd.xfer_len && t->nr_r2t < max) {
		if (task_send_r2t(t) < 0) {
			log_error("iscsi: %s: out of memory for an R2T",
				  c->peer);
			iscsi_conn_close(c);
			return;
		}
		if (c->state >= ISCSI_CONN_CLOSE_WAIT)
			return; /* t may be gone */
	}
	if (t->r2t_next >= t->cmd.xfer_len && t->nr_r2t == 0)
		task_execute(t);
}

static enum scsi_task_attr task_attr(uint8_t attr)
{
	switch (attr) {
	case 2:
		return SCSI_TASK_ORDERED;
	case 3:
		return SCSI_TASK_HEAD_OF_QUEUE;
	case 4:
		return SCSI_TASK_ACA;
	default: /* 0 untagged, 1 simple */
		return SCSI_TASK_SIMPLE;
	}
}

/* Protocol checks of RFC 7143 §11.3 that need no task. 0 or a reject
 * reason; *fatal when the connection must go (ERL 0). */
static uint8_t scsi_cmd_check(struct iscsi_conn *c,
			      const struct iscsi_scsi_cmd_hdr *h, bool *fatal)
{
	const struct iscsi_params *p = &c->params;

	*fatal = true;
	if (h->dlen) {
		if (!h->write || !p->immediate_data ||
		    h->dlen > p->first_burst_length || h->dlen > h->edtl)
			return ISCSI_REJECT_PROTOCOL_ERROR;
	}
	if (!h->final && (!h->write || p->initial_r2t || h->dlen >= h->edtl ||
			  h->dlen >= p->first_burst_length))
		return ISCSI_REJECT_PROTOCOL_ERROR;
	*fatal = false;
	if (h->itt == ISCSI_RSVD_TAG)
		return ISCSI_REJECT_INVALID_PDU_FIELD;
	if (h->immediate && c->nr_immediate >= ISCSI_MAX_IMMEDIATE)
		return ISCSI_REJECT_IMMEDIATE_REJECTED;
	if (iscsi_task_find(c, h->itt))
		return ISCSI_REJECT_TASK_IN_PROGRESS;
	return 0;
}

void iscsi_scsi_cmd_rx_header(struct iscsi_conn *c)
{
	const uint8_t *bhs = c->rx_hdr;
	struct iscsi_session *s = c->sess;
	struct iscsi_scsi_cmd_hdr h;
	uint32_t bidi_len, ahs = iscsi_bhs_ahs_len(bhs);
	struct iscsi_task *t;
	size_t ext = 0;
	bool fatal, bidi = false;
	uint8_t reason;

	iscsi_scsi_cmd_decode(bhs, &h);
	c->rx_task = NULL;
	switch (iscsi_session_cmdsn(s, h.immediate, h.cmdsn)) {
	case ISCSI_CMDSN_IGNORE:
		log_debug("iscsi: %s: CmdSN %u outside [%u, %u]: dropped",
			  c->peer, h.cmdsn, s->exp_cmdsn, s->max_cmdsn);
		c->rx_disp = ISCSI_RX_DROP;
		return;
	case ISCSI_CMDSN_LATER:
		iscsi_conn_rx_hold(c);
		return;
	case ISCSI_CMDSN_NOW:
		break;
	}
	atomic_fetch_add_explicit(&s->cmds, 1, memory_order_relaxed);
	reason = scsi_cmd_check(c, &h, &fatal);
	if (reason) {
		log_warn("iscsi: %s: rejecting SCSI command ITT 0x%08x "
			 "(reason 0x%02x)",
			 c->peer, h.itt, reason);
		c->rx_disp = ISCSI_RX_DROP;
		if (fatal)
			iscsi_conn_reject_close(c, reason, bhs);
		else
			iscsi_conn_reject(c, reason, bhs);
		return;
	}
	t = task_alloc(c);
	if (!t) {
		c->rx_disp = ISCSI_RX_DROP;
		iscsi_conn_reject(c, ISCSI_REJECT_OUT_OF_RESOURCES, bhs);
		return;
	}
	if (ahs &&
	    iscsi_ahs_parse(bhs + ISCSI_BHS_LEN, ahs, t->cmd.cdb + 16,
			    SCSI_CDB_MAX - 16, &ext, &bidi_len, &bidi) < 0) {
		iscsi_task_free(t);
		c->rx_disp = ISCSI_RX_DROP;
		iscsi_conn_reject_close(c, ISCSI_REJECT_INVALID_PDU_FIELD, bhs);
		return;
	}
	t->itt = h.itt;
	t->cmdsn = h.cmdsn;
	t->immediate = h.immediate;
	t->want_read = h.read;
	t->want_write = h.write;
	if (t->immediate) {
		c->nr_immediate++;
	} else {
		c->nr_window++;
		t->in_window = true;
	}
	list_add_head(&t->hash_link, task_bucket(c, t->itt));
	t->state = ISCSI_TASK_DATA_OUT;
	t->cmd.nexus = &s->nexus;
	memcpy(t->cmd.cdb, h.cdb, 16);
	t->cmd.cdb_len = (uint8_t)(16 + ext);
	memcpy(t->cmd.lun_raw, h.lun, sizeof(t->cmd.lun_raw));
	t->cmd.tag = h.itt;
	t->cmd.attr = task_attr(h.attr);
	t->cmd.edtl = h.edtl;
	t->cmd.edir =
	    h.write ? SCSI_DIR_WRITE : (h.read ? SCSI_DIR_READ : SCSI_DIR_NONE);
	t->cmd.done = task_done;
	t->cmd.transport_priv = t;
	c->rx_task = t;
	c->rx_disp = ISCSI_RX_TASK;

	if (bidi || (h.read && h.write)) {
		/* bidirectional commands are not supported */
		scsi_cmd_set_sense(&t->cmd, SENSE_ILLEGAL_REQUEST,
				   ASC_INVALID_FIELD_IN_CDB, 0);
		t->failed = true;
		return;
	}
	t->prepared = true;
	if (scsi_cmd_prepare(&t->cmd) < 0) {
		t->failed = true;
		return;
	}
	if (t->cmd.dir == SCSI_DIR_WRITE && t->cmd.xfer_len && !h.write) {
		/* the initiator will send no data for it */
		scsi_cmd_set_sense(&t->cmd, SENSE_ILLEGAL_REQUEST,
				   ASC_INVALID_FIELD_IN_CDB, 0);
		t->failed = true;
		return;
	}
	if (t->cmd.dir != SCSI_DIR_WRITE || !h.write)
		return; /* any data sent is discarded */
	t->unsol_limit = h.edtl < c->params.first_burst_length
			     ? h.edtl
			     : c->params.first_burst_length;
	t->unsol_received = h.dlen;
	t->unsol_open = !h.final;
	if (!t->unsol_open)
		t->r2t_next = t->unsol_received;
	iscsi_conn_rx_set_dst(c, t->cmd.buf, t->cmd.xfer_len);
}

void iscsi_scsi_cmd_rx_done(struct iscsi_conn *c)
{
	struct iscsi_task *t = c->rx_task;

	c->rx_task = NULL;
	if (!t)
		return;
	if (t->failed) {
		iscsi_task_respond(t);
		return;
	}
	if (t->cmd.dir == SCSI_DIR_WRITE && t->want_write)
		task_write_progress(t);
	else
		task_execute(t);
}

void iscsi_data_out_rx_header(struct iscsi_conn *c)
{
	const uint8_t *bhs = c->rx_hdr;
	struct iscsi_data_out_hdr h;
	struct iscsi_r2t_slot *s = NULL;
	struct iscsi_task *t;
	bool bad;
	int i, slot = -1;

	iscsi_data_out_decode(bhs, &h);
	c->rx_task = NULL;
	c->rx_disp = ISCSI_RX_DROP;
	t = iscsi_task_find(c, h.itt);
	if (!t || t->failed) {
		/* Data for a task that is gone (aborted, answered early,
		 * dropped by the window): nothing wants it. */
		log_debug("iscsi: %s: Data-Out for ITT 0x%08x discarded",
			  c->peer, h.itt);
		return;
	}
	if (t->state != ISCSI_TASK_DATA_OUT || !t->want_write ||
	    t->cmd.dir != SCSI_DIR_WRITE) {
		/* not collecting: unsolicited data is not used, and no R2T
		 * of this task can match */
		if (h.ttt != ISCSI_RSVD_TAG)
			iscsi_conn_reject(c, ISCSI_REJECT_INVALID_PDU_FIELD,
					  bhs);
		return;
	}
	if (h.ttt == ISCSI_RSVD_TAG) {
		bad = !t->unsol_open || h.datasn != t->unsol_datasn ||
		      h.offset != t->unsol_received ||
		      h.dlen > t->unsol_limit - t->unsol_received;
	} else {
		for (i = 0; i < ISCSI_R2T_SLOTS && !s; i++) {
			if (t->r2t[i].busy && t->r2t[i].ttt == h.ttt) {
				s = &t->r2t[i];
				slot = i;
			}
		}
		if (!s) {
			iscsi_conn_reject(c, ISCSI_REJECT_INVALID_PDU_FIELD,
					  bhs);
			return;
		}
		bad = h.datasn != s->next_datasn ||
		      h.offset != s->offset + s->received ||
		      h.dlen > s->len - s->received ||
		      (h.final && s->received + h.dlen != s->len);
	}
	if (bad) {
		/* A sequence/offset error cannot be recovered at ERL 0: the
		 * Reject (which names the ITT) ends the task for the
		 * initiator, and here it ends without a response; later
		 * Data-Out for it finds no task and is discarded. */
		log_warn("iscsi: %s: Data-Out ITT 0x%08x TTT 0x%08x DataSN %u "
			 "offset %u length %u out of sequence; task rejected",
			 c->peer, h.itt, h.ttt, h.datasn, h.offset, h.dlen);
		iscsi_conn_reject(c, ISCSI_REJECT_PROTOCOL_ERROR, bhs);
		iscsi_task_abort(t);
		return;
	}
	c->rx_task = t;
	c->rx_slot = slot;
	c->rx_disp = ISCSI_RX_TASK;
	if (h.offset < t->cmd.xfer_len)
		iscsi_conn_rx_set_dst(c, t->cmd.buf + h.offset,
				      t->cmd.xfer_len - h.offset);
}

void iscsi_data_out_rx_done(struct iscsi_conn *c)
{
	struct iscsi_task *t = c->rx_task;
	const uint8_t *bhs = c->rx_hdr;
	uint32_t dlen = iscsi_bhs_dlen(bhs);
	bool final = bhs[1] & ISCSI_FLAG_FINAL;

	c->rx_task = NULL;
	if (!t)
		return;
	if (c->rx_slot < 0) {
		t->unsol_received += dlen;
		t->unsol_datasn++;
		if (final || t->unsol_received >= t->unsol_limit) {
			t->unsol_open = false;
			t->r2t_next = t->unsol_received;
		}
	} else {
		struct iscsi_r2t_slot *s = &t->r2t[c->rx_slot];

		s->received += dlen;
		s->next_datasn++;
		if (s->received == s->len) {
			s->busy = false;
			t->nr_r2t--;
		}
	}
	task_write_progress(t);
}
