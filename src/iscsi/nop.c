/*
 * NOP-Out/NOP-In (RFC 7143 §11.18-11.19): a NOP-Out with an ITT is
 * answered by a NOP-In echoing its data; a NOP-Out with ITT 0xffffffff
 * answers our ping. The target pings a connection that has been silent for
 * iscsi_lim.nop_interval_ms and drops it when nothing arrives within
 * iscsi_lim.nop_timeout_ms of the ping (lunard --nop-interval and
 * --nop-timeout).
 */
#include <stdlib.h>
#include <string.h>

#include "iscsi/conn.h"
#include "util/log.h"

void iscsi_nop_out_rx(struct iscsi_conn *c, const uint8_t *bhs,
		      const uint8_t *data, uint32_t dlen)
{
	struct iscsi_nop_out_hdr h;
	struct iscsi_nop_in_hdr r = {0};
	struct iscsi_ctlpdu *p;
	uint8_t *echo = NULL;

	iscsi_nop_out_decode(bhs, &h);
	if (h.itt == ISCSI_RSVD_TAG) {
		if (c->nop_outstanding && h.ttt == c->nop_ttt)
			iscsi_nop_start(c); /* answered: idle clock restarts */
		return;
	}
	if (h.ttt != ISCSI_RSVD_TAG) {
		/* an initiator's own ping carries no target tag */
		iscsi_conn_reject(c, ISCSI_REJECT_INVALID_PDU_FIELD, bhs);
		return;
	}
	if (dlen > c->max_xmit_dsl)
		dlen = c->max_xmit_dsl;
	p = iscsi_ctl_alloc(c);
	if (dlen)
		echo = malloc(dlen);
	if (!p || (dlen && !echo)) {
		free(echo);
		log_error("iscsi: %s: out of memory answering a NOP-Out",
			  c->peer);
		if (p)
			iscsi_ctl_release(c, p);
		iscsi_conn_close(c);
		return;
	}
	if (dlen)
		memcpy(echo, data, dlen);
	r.dlen = dlen;
	memcpy(r.lun, h.lun, sizeof(r.lun));
	r.itt = h.itt;
	r.ttt = ISCSI_RSVD_TAG;
	iscsi_conn_sn(c, &r.sn, true);
	iscsi_nop_in_encode(p->tx.hdr, &r);
	iscsi_ctl_send(c, p, echo, dlen, echo);
}

static void nop_ping(struct iscsi_conn *c, uint64_t now)
{
	struct iscsi_nop_in_hdr r = {0};
	struct iscsi_ctlpdu *p = iscsi_ctl_alloc(c);

	if (!p)
		return; /* try again at the next tick */
	if (c->next_ttt == ISCSI_RSVD_TAG)
		c->next_ttt++;
	c->nop_ttt = c->next_ttt++;
	c->nop_outstanding = true;
	c->nop_sent_ms = now;
	r.itt = ISCSI_RSVD_TAG;
	r.ttt = c->nop_ttt;
	/* a ping does not advance StatSN */
	iscsi_conn_sn(c, &r.sn, false);
	iscsi_nop_in_encode(p->tx.hdr, &r);
	iscsi_ctl_send(c, p, NULL, 0, NULL);
}

static void nop_tick(void *arg)
{
	struct iscsi_conn *c = arg;
	uint64_t now = reactor_now_ms(), idle;

	if (c->state != ISCSI_CONN_FFP && c->state != ISCSI_CONN_LOGOUT)
		return;
	if (c->nop_outstanding && c->last_rx_ms > c->nop_sent_ms)
		c->nop_outstanding = false; /* it is alive and talking */
	if (c->nop_outstanding) {
		if (now - c->nop_sent_ms >= iscsi_lim.nop_timeout_ms) {
			log_warn("iscsi: %s: no answer to a NOP-In ping in "
				 "%u s; dropping the connection",
				 c->peer, iscsi_lim.nop_timeout_ms / 1000);
			iscsi_conn_close(c);
			return;
		}
		reactor_timer_arm(c->reactor, &c->nop_timer,
				  iscsi_lim.nop_timeout_ms -
				      (now - c->nop_sent_ms),
				  nop_tick, c);
		return;
	}
	idle = now - c->last_rx_ms;
	if (idle < iscsi_lim.nop_interval_ms) {
		reactor_timer_arm(c->reactor, &c->nop_timer,
				  iscsi_lim.nop_interval_ms - idle, nop_tick,
				  c);
		return;
	}
	nop_ping(c, now);
	if (c->state != ISCSI_CONN_FFP && c->state != ISCSI_CONN_LOGOUT)
		return; /* sending it failed and closed the connection */
	reactor_timer_arm(c->reactor, &c->nop_timer,
			  c->nop_outstanding ? iscsi_lim.nop_timeout_ms
					     : iscsi_lim.nop_interval_ms,
			  nop_tick, c);
}

void iscsi_nop_start(struct iscsi_conn *c)
{
	c->nop_outstanding = false;
	if (iscsi_lim.nop_interval_ms == 0)
		return;
	reactor_timer_arm(c->reactor, &c->nop_timer, iscsi_lim.nop_interval_ms,
			  nop_tick, c);
}

void iscsi_nop_stop(struct iscsi_conn *c)
{
	reactor_timer_cancel(c->reactor, &c->nop_timer);
	c->nop_outstanding = false;
}
