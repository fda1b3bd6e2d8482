/*
 * One iSCSI connection on its pool reactor: life (start, close, teardown,
 * free), the receive state machine (RFC 7143 §11.2: BHS, AHS, header
 * digest, data segment with padding, data digest; every length checked
 * against the negotiated MaxRecvDataSegmentLength before use), dispatch by
 * opcode and phase (§6: only Login PDUs before the Full Feature Phase), and
 * the transmit queue sent with sendmsg (EPOLLOUT armed only while the
 * socket is full).
 */
#include "iscsi/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "iscsi/iscsi.h"
#include "util/log.h"
#include "util/mem.h"

#define CONN_TX_IOV	  64
#define CONN_RX_ROUNDS	  16
#define CONN_DIRECT_MIN	  4096
#define CONN_CTL_FREE_MAX 64

static void conn_io(void *arg, uint32_t events);

void iscsi_sockaddr_format(const struct sockaddr_storage *sa, char *out,
			   size_t outlen)
{
	char a[INET6_ADDRSTRLEN];

	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(out, outlen, "%s:%u", a, ntohs(s4->sin_port));
	} else if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], a,
				  sizeof(a));
			snprintf(out, outlen, "%s:%u", a, ntohs(s6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
			snprintf(out, outlen, "[%s]:%u", a,
				 ntohs(s6->sin6_port));
		}
	} else {
		snprintf(out, outlen, "?");
	}
}

void iscsi_conn_get(struct iscsi_conn *c)
{
	atomic_fetch_add(&c->refcnt, 1);
}

static void conn_free(struct iscsi_conn *c)
{
	struct iscsi_ctlpdu *p, *n;

	list_for_each_entry_safe (p, n, &c->ctl_free, tx.link) {
		list_del(&p->tx.link);
		free(p);
	}
	iscsi_task_pool_destroy(c);
	free(c->rx_buf);
	free(c);
}

void iscsi_conn_put(struct iscsi_conn *c)
{
	if (atomic_fetch_sub(&c->refcnt, 1) == 1)
		conn_free(c);
}

static void conn_release_msg(void *arg)
{
	iscsi_conn_put(arg);
}

static bool conn_rx_active(const struct iscsi_conn *c)
{
	return c->state == ISCSI_CONN_LOGIN || c->state == ISCSI_CONN_FFP ||
	       c->state == ISCSI_CONN_LOGOUT;
}

static void conn_update_events(struct iscsi_conn *c)
{
	uint32_t ev = 0;

	if (!c->h_added)
		return;
	if (conn_rx_active(c) && !c->rx_paused)
		ev |= EPOLLIN;
	if (c->tx_blocked)
		ev |= EPOLLOUT;
	if (ev == c->cur_events)
		return;
	if (reactor_modify(c->reactor, &c->h, ev) == 0)
		c->cur_events = ev;
}

static void conn_rx_reset(struct iscsi_conn *c)
{
	c->rx_state = ISCSI_RX_HDR;
	c->rx_hdr_len = ISCSI_BHS_LEN;
	c->rx_hdr_got = 0;
}

/*
 * One receive staging buffer per reactor, shared by its connections: a
 * receive (conn_rx) parses all it read before it returns, so no
 * connection keeps bytes there, and an idle session costs no staging
 * memory (issue 13: memory per session).
 */
static int conn_rbuf_key = -1;
static pthread_once_t conn_rbuf_once = PTHREAD_ONCE_INIT;

static void conn_rbuf_free(void *p)
{
	util_map_free(p, ISCSI_RBUF_SIZE);
}

static void conn_rbuf_make_key(void)
{
	conn_rbuf_key = reactor_key_create(conn_rbuf_free);
}

static uint8_t *conn_rbuf(struct reactor *r)
{
	uint8_t *b;

	pthread_once(&conn_rbuf_once, conn_rbuf_make_key);
	if (conn_rbuf_key < 0)
		return NULL;
	b = reactor_local(r, conn_rbuf_key);
	if (!b && (b = util_map_alloc(ISCSI_RBUF_SIZE)))
		reactor_set_local(r, conn_rbuf_key, b);
	return b;
}

static void conn_start(void *arg)
{
	struct iscsi_conn *c = arg;

	reactor_timer_init(&c->login_timer);
	reactor_timer_init(&c->nop_timer);
	reactor_timer_init(&c->aux_timer);
	reactor_timer_init(&c->tmf_timer);
	if (c->state != ISCSI_CONN_INIT)
		goto out;
	/* Mappings: they go back to the kernel when the connection ends. */
	c->rbuf = conn_rbuf(c->reactor);
	c->max_recv_dsl = ISCSI_LOGIN_MAX_DSL;
	c->max_xmit_dsl = ISCSI_LOGIN_MAX_DSL;
	conn_rx_reset(c);
	c->last_rx_ms = reactor_now_ms();
	c->state = ISCSI_CONN_LOGIN;
	if (!c->rbuf) {
		log_error("iscsi: %s: out of memory for a new connection",
			  c->peer);
		iscsi_conn_close(c);
		goto out;
	}
	if (reactor_add(c->reactor, &c->h, c->fd, EPOLLIN, conn_io, c) < 0) {
		log_error("iscsi: %s: cannot watch the connection socket",
			  c->peer);
		iscsi_conn_close(c);
		goto out;
	}
	c->h_added = true;
	c->cur_events = EPOLLIN;
	if (iscsi_login_start(c) < 0 || c->shutdown_requested ||
	    atomic_load(&iscsi_shutting_down))
		iscsi_conn_close(c);
out:
	iscsi_conn_put(c);
}

void iscsi_conn_accepted(int fd, const struct sockaddr_storage *local,
			 const struct sockaddr_storage *peer,
			 const char *portal)
{
	struct iscsi_conn *c = calloc(1, sizeof(*c));
	unsigned i;

	if (!c) {
		log_error("iscsi: out of memory accepting a connection");
		close(fd);
		return;
	}
	atomic_init(&c->refcnt, 1);
	c->fd = fd;
	c->state = ISCSI_CONN_INIT;
	c->local_sa = *local;
	iscsi_sockaddr_format(local, c->local, sizeof(c->local));
	iscsi_sockaddr_format(peer, c->peer, sizeof(c->peer));
	snprintf(c->portal, sizeof(c->portal), "%s", portal);
	list_init(&c->reg_link);
	list_init(&c->txq);
	list_init(&c->ctl_free);
	list_init(&c->tasks);
	list_init(&c->task_free);
	list_init(&c->tmf_wait);
	for (i = 0; i < ISCSI_ITT_HASH; i++)
		list_init(&c->itt_hash[i]);
	c->next_ttt = 1;
	c->rx_slot = -1;
	c->free_msg.fn = conn_release_msg;
	c->free_msg.arg = c;
	c->reactor = reactor_pool_next();
	if (!c->reactor) {
		log_error("iscsi: no I/O reactor for the connection from %s",
			  c->peer);
		close(fd);
		free(c);
		return;
	}
	log_debug("iscsi: connection from %s on %s -> %s", c->peer, c->local,
		  reactor_name(c->reactor));
	iscsi_registry_add_conn(c);
	iscsi_conn_get(c);
	if (reactor_post(c->reactor, conn_start, c) < 0) {
		log_error("iscsi: cannot hand the connection from %s to %s",
			  c->peer, reactor_name(c->reactor));
		close(fd);
		c->fd = -1;
		iscsi_registry_del_conn(c);
		free(c);
		return;
	}
	/* c may be gone already: it belongs to its reactor now */
}

static void conn_linger_expired(void *arg)
{
	struct iscsi_conn *c = arg;

	if (c->state == ISCSI_CONN_CLOSE_WAIT) {
		log_debug("iscsi: %s: peer did not take its last PDU", c->peer);
		iscsi_conn_close(c);
	}
}

void iscsi_conn_close_after_tx(struct iscsi_conn *c)
{
	if (c->state >= ISCSI_CONN_CLOSE_WAIT)
		return;
	c->state = ISCSI_CONN_CLOSE_WAIT;
	iscsi_nop_stop(c);
	reactor_timer_cancel(c->reactor, &c->login_timer);
	conn_update_events(c);
	if (list_empty(&c->txq)) {
		if (!c->tx_flushing)
			iscsi_conn_close(c);
		return;
	}
	reactor_timer_arm(c->reactor, &c->aux_timer, ISCSI_CLOSE_LINGER_MS,
			  conn_linger_expired, c);
	iscsi_conn_flush(c);
}

void iscsi_conn_close(struct iscsi_conn *c)
{
	if (c->state >= ISCSI_CONN_CLOSING)
		return;
	log_debug("iscsi: %s: closing connection", c->peer);
	c->state = ISCSI_CONN_CLOSING;
	c->in_close = true;
	if (c->h_added) {
		reactor_remove(c->reactor, &c->h);
		c->h_added = false;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	reactor_timer_cancel(c->reactor, &c->login_timer);
	reactor_timer_cancel(c->reactor, &c->aux_timer);
	iscsi_nop_stop(c);
	iscsi_tmf_conn_close(c);
	iscsi_login_free(c);
	iscsi_text_xchg_free(c);
	if (c->rx_hold && c->sess)
		iscsi_session_hold_free(c->sess, c->rx_hold);
	c->rx_hold = NULL;
	c->rx_task = NULL;
	if (c->sess)
		iscsi_session_pending_free(c->sess);
	while (!list_empty(&c->txq)) {
		struct iscsi_txpdu *p =
		    list_first_entry(&c->txq, struct iscsi_txpdu, link);

		list_del(&p->link);
		p->done(c, p, false);
	}
	c->tx_off = 0;
	/* Tasks in the SCSI core stay until done: their buffers may be in
	 * a backing store's hands. */
	iscsi_task_abort_all(c);
	c->in_close = false;
	iscsi_conn_maybe_teardown(c);
}

void iscsi_conn_maybe_teardown(struct iscsi_conn *c)
{
	/* Not under conn_rx(): the PDU being handled may still use the
	 * session (a LUN RESET whose aborts let a waiting Logout finish
	 * and close the connection); conn_rx() tears down at its end. */
	if (c->state != ISCSI_CONN_CLOSING || c->nr_tasks || c->in_close ||
	    c->in_rx)
		return;
	c->state = ISCSI_CONN_DEAD;
	if (c->sess) {
		iscsi_session_end(c->sess);
		c->sess = NULL;
	}
	iscsi_registry_del_conn(c);
	/* Free from a message: never under a frame that still uses c. */
	reactor_post_msg(c->reactor, &c->free_msg);
}

/* ---- transmit ---- */

void iscsi_txpdu_seal(struct iscsi_conn *c, struct iscsi_txpdu *p)
{
	uint32_t pad = iscsi_pad_len(p->dlen);

	p->hdr_len = ISCSI_BHS_LEN;
	if (c->hdigest) {
		iscsi_digest_put(p->hdr + ISCSI_BHS_LEN,
				 iscsi_crc32c(p->hdr, ISCSI_BHS_LEN));
		p->hdr_len += ISCSI_DIGEST_LEN;
	}
	memset(p->trailer, 0, pad);
	p->trailer_len = (uint8_t)pad;
	if (c->ddigest && p->dlen) {
		uint32_t crc =
		    iscsi_crc32c_update(ISCSI_CRC_SEED, p->data, p->dlen);

		crc = iscsi_crc32c_update(crc, p->trailer, pad);
		iscsi_digest_put(p->trailer + pad, iscsi_crc32c_final(crc));
		p->trailer_len += ISCSI_DIGEST_LEN;
	}
}

static void conn_flush_batch(void *arg)
{
	struct iscsi_conn *c = arg;

	c->tx_flush_queued = false;
	if (!c->tx_blocked)
		iscsi_conn_flush(c);
	iscsi_conn_put(c);
}

void iscsi_conn_queue(struct iscsi_conn *c, struct iscsi_txpdu *p)
{
	if (c->state >= ISCSI_CONN_CLOSING) {
		p->done(c, p, false);
		return;
	}
	list_add_tail(&p->link, &c->txq);
	/* Received commands are answered when the receive ends (conn_rx);
	 * completions (a store's, a task's next Data-In) at the end of the
	 * event batch, together with the others of the same wakeup. */
	if (c->in_rx || c->tx_flushing || c->tx_blocked || c->tx_flush_queued)
		return;
	c->tx_flush_queued = true;
	c->tx_flush_msg.fn = conn_flush_batch;
	c->tx_flush_msg.arg = c;
	iscsi_conn_get(c); /* until the flush ran */
	reactor_defer_msg(c->reactor, &c->tx_flush_msg);
}

static size_t txpdu_len(const struct iscsi_txpdu *p)
{
	return (size_t)p->hdr_len + p->dlen + p->trailer_len;
}

static int iov_add(struct iovec *iov, int n, const void *base, size_t len,
		   size_t *skip)
{
	if (!len)
		return n;
	if (*skip >= len) {
		*skip -= len;
		return n;
	}
	iov[n].iov_base = (uint8_t *)base + *skip;
	iov[n].iov_len = len - *skip;
	*skip = 0;
	return n + 1;
}

/* Completes the PDUs a send of w bytes covered. */
static void conn_tx_consume(struct iscsi_conn *c, size_t w)
{
	while (w && !list_empty(&c->txq)) {
		struct iscsi_txpdu *p =
		    list_first_entry(&c->txq, struct iscsi_txpdu, link);
		size_t left = txpdu_len(p) - c->tx_off;

		if (w < left) {
			c->tx_off += (uint32_t)w;
			return;
		}
		w -= left;
		c->tx_off = 0;
		list_del(&p->link);
		p->done(c, p, true);
		if (c->state >= ISCSI_CONN_CLOSING)
			return;
	}
}

void iscsi_conn_flush(struct iscsi_conn *c)
{
	if (c->tx_flushing || c->state >= ISCSI_CONN_CLOSING)
		return;
	c->tx_flushing = true;
	c->tx_blocked = false;
	while (!list_empty(&c->txq) && c->state < ISCSI_CONN_CLOSING) {
		struct iovec iov[CONN_TX_IOV];
		struct msghdr msg = {0};
		struct iscsi_txpdu *p;
		size_t skip = c->tx_off;
		ssize_t w;
		int n = 0;

		list_for_each_entry (p, &c->txq, link) {
			if (n + 3 > CONN_TX_IOV)
				break;
			n = iov_add(iov, n, p->hdr, p->hdr_len, &skip);
			n = iov_add(iov, n, p->data, p->dlen, &skip);
			n = iov_add(iov, n, p->trailer, p->trailer_len, &skip);
		}
		msg.msg_iov = iov;
		msg.msg_iovlen = (size_t)n;
		w = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->tx_blocked = true;
				break;
			}
			log_debug("iscsi: %s: send failed: %s", c->peer,
				  strerror(errno));
			c->tx_flushing = false;
			iscsi_conn_close(c);
			return;
		}
		conn_tx_consume(c, (size_t)w);
	}
	c->tx_flushing = false;
	if (c->state >= ISCSI_CONN_CLOSING)
		return;
	if (c->state == ISCSI_CONN_CLOSE_WAIT && list_empty(&c->txq)) {
		iscsi_conn_close(c);
		return;
	}
	conn_update_events(c);
}

void iscsi_ctl_release(struct iscsi_conn *c, struct iscsi_ctlpdu *p)
{
	free(p->owned);
	p->owned = NULL;
	if (c->nr_ctl_free >= CONN_CTL_FREE_MAX) {
		free(p);
		return;
	}
	list_add_head(&p->tx.link, &c->ctl_free);
	c->nr_ctl_free++;
}

void iscsi_conn_rx_throttle(struct iscsi_conn *c)
{
	bool over = c->nr_ctl_queued > ISCSI_CTL_BACKLOG ||
		    c->nr_tmf_wait > ISCSI_TMF_WAIT_MAX;
	bool under = c->nr_ctl_queued <= ISCSI_CTL_BACKLOG / 2 &&
		     c->nr_tmf_wait <= ISCSI_TMF_WAIT_MAX / 2;

	if (c->rx_paused ? !under : !over)
		return;
	c->rx_paused = !c->rx_paused;
	conn_update_events(c);
}

static void ctl_done(struct iscsi_conn *c, struct iscsi_txpdu *tx, bool sent)
{
	struct iscsi_ctlpdu *p = container_of(tx, struct iscsi_ctlpdu, tx);

	c->nr_ctl_queued--;
	iscsi_ctl_release(c, p);
	iscsi_conn_rx_throttle(c);
}

struct iscsi_ctlpdu *iscsi_ctl_alloc(struct iscsi_conn *c)
{
	struct iscsi_ctlpdu *p;

	if (!list_empty(&c->ctl_free)) {
		p = list_first_entry(&c->ctl_free, struct iscsi_ctlpdu,
				     tx.link);
		list_del(&p->tx.link);
		c->nr_ctl_free--;
	} else {
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
	}
	p->owned = NULL;
	p->tx.done = ctl_done;
	p->tx.data = NULL;
	p->tx.dlen = 0;
	return p;
}

void iscsi_ctl_send(struct iscsi_conn *c, struct iscsi_ctlpdu *p,
		    const void *data, uint32_t dlen, void *owned)
{
	p->tx.data = data;
	p->tx.dlen = dlen;
	p->owned = owned;
	iscsi_txpdu_seal(c, &p->tx);
	c->nr_ctl_queued++;
	/* An initiator that is not reading is not read either. */
	iscsi_conn_rx_throttle(c);
	iscsi_conn_queue(c, &p->tx);
}

void iscsi_conn_sn(struct iscsi_conn *c, struct iscsi_sn *sn, bool advance)
{
	sn->statsn = c->statsn;
	if (advance)
		c->statsn++;
	if (c->sess) {
		iscsi_session_update_window(c);
		sn->exp_cmdsn = c->sess->exp_cmdsn;
		sn->max_cmdsn = c->sess->max_cmdsn;
	} else {
		sn->exp_cmdsn = 0;
		sn->max_cmdsn = 0;
	}
}

void iscsi_conn_enter_ffp(struct iscsi_conn *c, const struct iscsi_params *p)
{
	c->params = *p;
	c->hdigest = p->header_digest;
	c->ddigest = p->data_digest;
	c->max_recv_dsl = p->max_recv_dsl;
	c->max_xmit_dsl = p->max_xmit_dsl ? p->max_xmit_dsl : 8192;
	reactor_timer_cancel(c->reactor, &c->login_timer);
	c->state = ISCSI_CONN_FFP;
	iscsi_nop_start(c);
}

/* ---- receive ---- */

/*
 * rx_buf, which takes the data of PDUs other than SCSI commands and
 * Data-Out (login, text, NOP-Out), holds len bytes (at most the
 * negotiated MaxRecvDataSegmentLength, checked with the header). It
 * exists only while such a PDU is received and handled, and is freed when
 * the connection is idle again (conn_rx): an idle session keeps none, and
 * thousands of logins at once cost no mapping changes.
 */
static bool conn_rx_buf_fit(struct iscsi_conn *c, uint32_t len)
{
	uint8_t *nb;

	if (len <= c->rx_buf_cap && c->rx_buf)
		return true;
	if (!len)
		len = 1; /* handlers get a buffer even for no data */
	nb = realloc(c->rx_buf, len);
	if (!nb) {
		log_error("iscsi: %s: out of memory for a %u-byte PDU", c->peer,
			  len);
		iscsi_conn_close(c);
		return false;
	}
	c->rx_buf = nb;
	c->rx_buf_cap = len;
	c->rx_buf_shed = true;
	return true;
}

void iscsi_conn_rx_set_dst(struct iscsi_conn *c, uint8_t *dst, uint32_t len)
{
	uint32_t dlen = iscsi_bhs_dlen(c->rx_hdr);

	c->rx_dst = dst;
	c->rx_dst_len = len < dlen ? len : dlen;
}

void iscsi_conn_rx_hold(struct iscsi_conn *c)
{
	const uint8_t *bhs = c->rx_hdr;
	uint32_t dlen = iscsi_bhs_dlen(bhs);

	c->rx_hold = iscsi_session_hold_alloc(
	    c->sess, bhs, ISCSI_BHS_LEN + iscsi_bhs_ahs_len(bhs), dlen);
	if (!c->rx_hold) {
		/* beyond what we hold for an initiator: drop it */
		iscsi_conn_reject_close(c, ISCSI_REJECT_OUT_OF_RESOURCES, bhs);
		return;
	}
	c->rx_disp = ISCSI_RX_HOLD;
	iscsi_conn_rx_set_dst(c, c->rx_hold->data, dlen);
}

/* Header-time dispatch of PDUs that carry a CmdSN but no SCSI task. */
static void conn_rx_cmd_header(struct iscsi_conn *c)
{
	const uint8_t *bhs = c->rx_hdr;
	uint8_t op = iscsi_bhs_opcode(bhs);
	enum iscsi_cmdsn_verdict v;

	if (op == ISCSI_OP_NOP_OUT && iscsi_bhs_itt(bhs) == ISCSI_RSVD_TAG) {
		/* a ping answer: no CmdSN consumed, nothing to hold */
		v = ISCSI_CMDSN_NOW;
	} else {
		v = iscsi_session_cmdsn(c->sess, iscsi_bhs_immediate(bhs),
					iscsi_bhs_cmdsn(bhs));
	}
	switch (v) {
	case ISCSI_CMDSN_NOW:
		if (!conn_rx_buf_fit(c, iscsi_bhs_dlen(bhs)))
			return;
		c->rx_disp = ISCSI_RX_HANDLE;
		iscsi_conn_rx_set_dst(c, c->rx_buf, c->rx_buf_cap);
		break;
	case ISCSI_CMDSN_LATER:
		iscsi_conn_rx_hold(c);
		break;
	case ISCSI_CMDSN_IGNORE:
		c->rx_disp = ISCSI_RX_DROP;
		break;
	}
}

static void conn_dispatch_header(struct iscsi_conn *c)
{
	const uint8_t *bhs = c->rx_hdr;
	uint8_t op = iscsi_bhs_opcode(bhs);
	bool discovery;

	c->rx_disp = ISCSI_RX_DROP;
	c->rx_dst = NULL;
	c->rx_dst_len = 0;
	if (c->state == ISCSI_CONN_LOGIN) {
		if (op != ISCSI_OP_LOGIN_REQ) {
			log_warn("iscsi: %s: %s before login completed; "
				 "dropping the connection",
				 c->peer, iscsi_opcode_name(op));
			iscsi_conn_close(c);
			return;
		}
		if (!conn_rx_buf_fit(c, iscsi_bhs_dlen(bhs)))
			return;
		c->rx_disp = ISCSI_RX_HANDLE;
		iscsi_conn_rx_set_dst(c, c->rx_buf, c->rx_buf_cap);
		return;
	}
	discovery = c->sess->discovery;
	switch (op) {
	case ISCSI_OP_SCSI_CMD:
	case ISCSI_OP_DATA_OUT:
		if (discovery) {
			iscsi_conn_reject(c, ISCSI_REJECT_PROTOCOL_ERROR, bhs);
			return;
		}
		if (c->state == ISCSI_CONN_LOGOUT && op == ISCSI_OP_SCSI_CMD) {
			iscsi_conn_reject(c, ISCSI_REJECT_WAITING_FOR_LOGOUT,
					  bhs);
			return;
		}
		c->rx_disp = ISCSI_RX_TASK;
		if (op == ISCSI_OP_SCSI_CMD)
			iscsi_scsi_cmd_rx_header(c);
		else
			iscsi_data_out_rx_header(c);
		return;
	case ISCSI_OP_TMF_REQ:
		if (discovery) {
			iscsi_conn_reject(c, ISCSI_REJECT_PROTOCOL_ERROR, bhs);
			return;
		}
		conn_rx_cmd_header(c);
		return;
	case ISCSI_OP_NOP_OUT:
	case ISCSI_OP_TEXT_REQ:
	case ISCSI_OP_LOGOUT_REQ:
		conn_rx_cmd_header(c);
		return;
	case ISCSI_OP_LOGIN_REQ:
		iscsi_conn_reject(c, ISCSI_REJECT_PROTOCOL_ERROR, bhs);
		return;
	default:
		/* SNACK needs ErrorRecoveryLevel > 0; the rest is unknown */
		iscsi_conn_reject(c, ISCSI_REJECT_CMD_NOT_SUPPORTED, bhs);
		return;
	}
}

static void conn_dispatch_done(struct iscsi_conn *c)
{
	const uint8_t *bhs = c->rx_hdr;
	uint32_t dlen = iscsi_bhs_dlen(bhs);

	switch (c->rx_disp) {
	case ISCSI_RX_DROP:
		return;
	case ISCSI_RX_HOLD:
		iscsi_session_hold_commit(c->sess, c->rx_hold);
		c->rx_hold = NULL;
		return;
	case ISCSI_RX_TASK:
		if (iscsi_bhs_opcode(bhs) == ISCSI_OP_SCSI_CMD)
			iscsi_scsi_cmd_rx_done(c);
		else
			iscsi_data_out_rx_done(c);
		return;
	case ISCSI_RX_HANDLE:
		break;
	}
	if (c->state == ISCSI_CONN_LOGIN) {
		iscsi_login_rx(c, bhs, c->rx_buf, dlen);
		return;
	}
	switch (iscsi_bhs_opcode(bhs)) {
	case ISCSI_OP_NOP_OUT:
		iscsi_nop_out_rx(c, bhs, c->rx_buf, dlen);
		break;
	case ISCSI_OP_TEXT_REQ:
		iscsi_text_rx(c, bhs, c->rx_buf, dlen);
		break;
	case ISCSI_OP_LOGOUT_REQ:
		iscsi_logout_rx(c, bhs);
		break;
	case ISCSI_OP_TMF_REQ:
		iscsi_tmf_rx(c, bhs);
		break;
	default:
		break;
	}
}

static void conn_rx_pdu_done(struct iscsi_conn *c)
{
	conn_rx_reset(c);
	conn_dispatch_done(c);
	if (!c->redelivering && c->sess && conn_rx_active(c))
		iscsi_session_drain(c);
}

void iscsi_conn_redeliver(struct iscsi_conn *c, struct iscsi_pending *pd)
{
	c->redelivering = true;
	memcpy(c->rx_hdr, pd->hdr, pd->hdr_len);
	conn_dispatch_header(c);
	if (conn_rx_active(c)) {
		if (c->rx_dst_len)
			memcpy(c->rx_dst, pd->data, c->rx_dst_len);
		conn_dispatch_done(c);
	}
	c->redelivering = false;
}

static bool conn_rx_bhs_bad(const struct iscsi_conn *c)
{
	uint8_t op = iscsi_bhs_opcode(c->rx_hdr);

	return (c->state == ISCSI_CONN_LOGIN && op != ISCSI_OP_LOGIN_REQ) ||
	       (iscsi_bhs_ahs_len(c->rx_hdr) && op != ISCSI_OP_SCSI_CMD);
}

static void conn_rx_header_done(struct iscsi_conn *c)
{
	const uint8_t *bhs = c->rx_hdr;
	uint32_t ahs = iscsi_bhs_ahs_len(bhs);
	uint32_t dlen = iscsi_bhs_dlen(bhs);
	uint32_t limit;
	int r;

	if (conn_rx_bhs_bad(c)) {
		/* decided on the BHS alone, before any AHS or digest */
		log_warn("iscsi: %s: %s %s; dropping the connection", c->peer,
			 iscsi_opcode_name(iscsi_bhs_opcode(bhs)),
			 c->state == ISCSI_CONN_LOGIN ? "before login completed"
						      : "with an AHS");
		if (c->state == ISCSI_CONN_LOGIN)
			iscsi_conn_close(c);
		else
			iscsi_conn_reject_close(c, ISCSI_REJECT_PROTOCOL_ERROR,
						bhs);
		return;
	}
	if (c->hdigest && iscsi_crc32c(bhs, ISCSI_BHS_LEN + ahs) !=
			      iscsi_digest_get(bhs + ISCSI_BHS_LEN + ahs)) {
		/* The lengths cannot be trusted: ERL 0 drops the connection. */
		log_warn("iscsi: %s: header digest error; dropping the "
			 "connection",
			 c->peer);
		iscsi_conn_close(c);
		return;
	}
	c->last_rx_ms = reactor_now_ms();
	limit = c->state == ISCSI_CONN_LOGIN ? ISCSI_LOGIN_MAX_DSL
					     : c->max_recv_dsl;
	r = iscsi_bhs_check_lengths(bhs, limit);
	if (r < 0) {
		log_warn("iscsi: %s: %s with a %u-byte data segment (limit "
			 "%u); dropping the connection",
			 c->peer, iscsi_opcode_name(iscsi_bhs_opcode(bhs)),
			 dlen, limit);
		if (c->state == ISCSI_CONN_LOGIN)
			iscsi_login_reply_error(c, bhs, ISCSI_LOGIN_INIT_ERR);
		else
			iscsi_conn_reject_close(c, ISCSI_REJECT_PROTOCOL_ERROR,
						bhs);
		return;
	}
	c->rx_seg_len = dlen + iscsi_pad_len(dlen);
	c->rx_seg_got = 0;
	c->rx_crc = ISCSI_CRC_SEED;
	c->rx_ddig_got = 0;
	conn_dispatch_header(c);
	if (!conn_rx_active(c))
		return;
	if (!dlen) {
		conn_rx_pdu_done(c);
		return;
	}
	c->rx_state = ISCSI_RX_DATA;
}

static uint32_t conn_rx_feed_hdr(struct iscsi_conn *c, const uint8_t *p,
				 uint32_t avail)
{
	uint32_t n = c->rx_hdr_len - c->rx_hdr_got;

	if (n > avail)
		n = avail;
	memcpy(c->rx_hdr + c->rx_hdr_got, p, n);
	c->rx_hdr_got += n;
	if (c->rx_hdr_got == ISCSI_BHS_LEN && c->rx_hdr_len == ISCSI_BHS_LEN) {
		uint32_t extra = iscsi_bhs_ahs_len(c->rx_hdr);

		/* Before waiting for more: an AHS only a SCSI Command may
		 * have, or anything but a Login Request during login, ends
		 * the connection now. */
		if (conn_rx_bhs_bad(c)) {
			conn_rx_header_done(c);
			return n;
		}
		if (c->hdigest)
			extra += ISCSI_DIGEST_LEN;
		c->rx_hdr_len += extra;
	}
	if (c->rx_hdr_got == c->rx_hdr_len)
		conn_rx_header_done(c);
	return n;
}

static void conn_rx_data_complete(struct iscsi_conn *c)
{
	if (c->ddigest)
		c->rx_state = ISCSI_RX_DDIGEST;
	else
		conn_rx_pdu_done(c);
}

static uint32_t conn_rx_feed_data(struct iscsi_conn *c, const uint8_t *p,
				  uint32_t avail)
{
	uint32_t n = c->rx_seg_len - c->rx_seg_got;

	if (n > avail)
		n = avail;
	if (c->rx_seg_got < c->rx_dst_len) {
		uint32_t k = c->rx_dst_len - c->rx_seg_got;

		memcpy(c->rx_dst + c->rx_seg_got, p, k < n ? k : n);
	}
	if (c->ddigest)
		c->rx_crc = iscsi_crc32c_update(c->rx_crc, p, n);
	c->rx_seg_got += n;
	if (c->rx_seg_got == c->rx_seg_len)
		conn_rx_data_complete(c);
	return n;
}

static uint32_t conn_rx_feed_ddig(struct iscsi_conn *c, const uint8_t *p,
				  uint32_t avail)
{
	uint32_t n = ISCSI_DIGEST_LEN - c->rx_ddig_got;

	if (n > avail)
		n = avail;
	memcpy(c->rx_ddig + c->rx_ddig_got, p, n);
	c->rx_ddig_got += n;
	if (c->rx_ddig_got < ISCSI_DIGEST_LEN)
		return n;
	if (iscsi_crc32c_final(c->rx_crc) != iscsi_digest_get(c->rx_ddig)) {
		log_warn("iscsi: %s: data digest error on %s; dropping the "
			 "connection",
			 c->peer,
			 iscsi_opcode_name(iscsi_bhs_opcode(c->rx_hdr)));
		if (c->state == ISCSI_CONN_LOGIN)
			iscsi_conn_close(c);
		else
			iscsi_conn_reject_close(c, ISCSI_REJECT_DIGEST_ERROR,
						c->rx_hdr);
		return n;
	}
	conn_rx_pdu_done(c);
	return n;
}

static void conn_rx_process(struct iscsi_conn *c)
{
	while (c->rbuf_start < c->rbuf_end && conn_rx_active(c)) {
		const uint8_t *p = c->rbuf + c->rbuf_start;
		uint32_t avail = c->rbuf_end - c->rbuf_start;
		uint32_t used = 0;

		switch (c->rx_state) {
		case ISCSI_RX_HDR:
			used = conn_rx_feed_hdr(c, p, avail);
			break;
		case ISCSI_RX_DATA:
			used = conn_rx_feed_data(c, p, avail);
			break;
		case ISCSI_RX_DDIGEST:
			used = conn_rx_feed_ddig(c, p, avail);
			break;
		}
		c->rbuf_start += used;
	}
	/* All parsed, or the connection ends: nothing is kept in the
	 * reactor's buffer. */
	c->rbuf_start = c->rbuf_end = 0;
}

/* One read: large data segments go straight to their destination, the
 * bytes after them into the staging buffer. */
static ssize_t conn_rx_read(struct iscsi_conn *c)
{
	ssize_t n;

	if (c->rx_state == ISCSI_RX_DATA && c->rx_seg_got < c->rx_dst_len &&
	    c->rx_dst_len - c->rx_seg_got >= CONN_DIRECT_MIN) {
		uint32_t want = c->rx_dst_len - c->rx_seg_got;
		struct iovec iov[2] = {
		    {c->rx_dst + c->rx_seg_got, want},
		    {c->rbuf, ISCSI_RBUF_SIZE},
		};
		uint32_t k;

		c->rx_last_want = want + ISCSI_RBUF_SIZE;
		n = readv(c->fd, iov, 2);
		if (n <= 0)
			return n;
		k = (size_t)n < want ? (uint32_t)n : want;
		if (c->ddigest)
			c->rx_crc = iscsi_crc32c_update(
			    c->rx_crc, c->rx_dst + c->rx_seg_got, k);
		c->rx_seg_got += k;
		c->rbuf_start = 0;
		c->rbuf_end = (uint32_t)n - k;
		if (c->rx_seg_got == c->rx_seg_len)
			conn_rx_data_complete(c);
		return n;
	}
	c->rx_last_want = ISCSI_RBUF_SIZE;
	n = recv(c->fd, c->rbuf, ISCSI_RBUF_SIZE, 0);
	if (n > 0) {
		c->rbuf_start = 0;
		c->rbuf_end = (uint32_t)n;
	}
	return n;
}

static void conn_rx(struct iscsi_conn *c)
{
	int round;

	c->in_rx = true;
	for (round = 0;
	     round < CONN_RX_ROUNDS && conn_rx_active(c) && !c->rx_paused;
	     round++) {
		ssize_t n = conn_rx_read(c);

		if (n == 0) {
			/* A FIN only ends the peer's half: the answers to
			 * what it sent before are still delivered (tasks
			 * still running are aborted as on any close). */
			log_debug("iscsi: %s: peer closed the connection",
				  c->peer);
			iscsi_conn_close_after_tx(c);
			break;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			log_debug("iscsi: %s: receive failed: %s", c->peer,
				  strerror(errno));
			iscsi_conn_close(c);
			break;
		}
		conn_rx_process(c);
		/* A short read drained the socket: epoll (level-triggered)
		 * reports what comes next, a read now would only say EAGAIN. */
		if (n < c->rx_last_want)
			break;
	}
	c->in_rx = false;
	/* Once no PDU is half received, rx_buf goes (conn_rx_buf_fit). */
	if (c->rx_buf_shed && c->rx_state == ISCSI_RX_HDR &&
	    c->rx_hdr_got == 0) {
		c->rx_buf_shed = false;
		free(c->rx_buf);
		c->rx_buf = NULL;
		c->rx_buf_cap = 0;
	}
	if (c->state == ISCSI_CONN_CLOSING)
		iscsi_conn_maybe_teardown(c);
	else if (!c->tx_blocked)
		iscsi_conn_flush(c);
}

static void conn_io(void *arg, uint32_t events)
{
	struct iscsi_conn *c = arg;

	if (events & EPOLLERR) {
		log_debug("iscsi: %s: socket error", c->peer);
		iscsi_conn_close(c);
		return;
	}
	if (events & EPOLLOUT) {
		c->tx_blocked = false;
		iscsi_conn_flush(c);
	}
	if ((events & (EPOLLIN | EPOLLHUP)) && conn_rx_active(c))
		conn_rx(c);
	else if ((events & EPOLLHUP) && c->state < ISCSI_CONN_CLOSING)
		iscsi_conn_close(c);
}
