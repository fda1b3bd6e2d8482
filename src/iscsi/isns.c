/*
 * iSNS client (RFC 4171): owns lunard's registration with one iSNS server.
 * The client is one non-blocking TCP connection on the main reactor with
 * one request outstanding at a time; the PDUs are built and parsed by
 * isns_pdu.c, and every answer is checked whole before it is used.
 *
 * What is registered (§5.6.5.1 DevAttrReg): one Network Entity (EID
 * "lunar:HOSTNAME" unless configured, protocol iSCSI), one Portal per
 * listening portal (a wildcard listener as the address lunard reaches the
 * server from) and one iSCSI Storage Node of type target per target, with
 * its alias. The first registration on a connection replaces the entity
 * (Replace flag), so whatever a previous lunard left behind goes. After a
 * change the client sends only the difference: DevAttrReg of new nodes
 * and portals, DevDereg (§5.6.5.4) of gone ones, DevDereg of the whole
 * entity when the last target goes. The registration is kept alive
 * (§6.2.6) by a DevAttrQry of the entity's Registration Period at half of
 * that period (at most every 2 minutes, so the server's idle timeout does
 * not close the connection); a query that finds no entity means the server
 * lost it, and the entity is registered again. A server that goes away is
 * reconnected with a backoff of 1 s doubling to 30 s. No ESI port is
 * registered, so the server monitors the entity by its registration period.
 */
#include "iscsi/isns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "event/reactor.h"
#include "iscsi/conn.h"
#include "iscsi/iscsi.h"
#include "scsi/target.h"
#include "util/bytes.h"
#include "util/log.h"

#define ISNS_NODES_PER_PDU  32
#define ISNS_PORTALS_MAX    64
#define ISNS_REPLY_MS	    5000
#define ISNS_STOP_MS	    3000
#define ISNS_BACKOFF_MIN_MS 1000
#define ISNS_BACKOFF_MAX_MS 30000
#define ISNS_REFRESH_MAX_MS 120000
#define ISNS_REFRESH_MIN_MS 5000
#define ISNS_SYNC_DELAY_MS  50

/* ---- the client ------------------------------------------------------ */

struct isns_portal {
	uint8_t ip[16]; /* IPv6, or IPv4-mapped (§6.3.1) */
	uint16_t port;
};

struct isns_node {
	char name[SCSI_NAME_MAX];
	char alias[SCSI_NAME_MAX];
};

enum isns_state {
	ISNS_OFF,
	ISNS_WAITING, /* to reconnect */
	ISNS_CONNECTING,
	ISNS_CONNECTED,
	ISNS_STOPPED,
};

/* What one request in flight does when it succeeds. */
enum isns_req {
	ISNS_REQ_NONE,
	ISNS_REQ_REGISTER_ALL,
	ISNS_REQ_ADD_NODES,
	ISNS_REQ_DEL_NODES,
	ISNS_REQ_ADD_PORTALS,
	ISNS_REQ_DEL_PORTALS,
	ISNS_REQ_DEREG_ENTITY,
	ISNS_REQ_REFRESH,
	ISNS_REQ_DD_QUERY,
};

static struct {
	enum isns_state state;
	struct reactor *r;
	char server[300];
	struct sockaddr_storage ss;
	socklen_t sslen;
	char eid[256];
	int fd;
	struct reactor_handler h;
	struct sockaddr_storage local; /* our end: wildcard portals */
	/* the request in flight */
	enum isns_req req;
	uint16_t req_func, req_xid, next_xid;
	struct isns_node *req_nodes; /* what it registers/deregisters */
	size_t req_nr_nodes;
	struct isns_portal req_portals[ISNS_PORTALS_MAX];
	size_t req_nr_portals;
	char req_initiator[SCSI_NAME_MAX]; /* a discovery domain query's */
	uint8_t *tx;
	size_t tx_len, tx_off;
	uint8_t *rx;
	size_t rx_len;
	/* what the server has */
	bool entity;
	struct isns_node *nodes;
	size_t nr_nodes;
	struct isns_portal portals[ISNS_PORTALS_MAX];
	size_t nr_portals;
	time_t last_registration;
	uint32_t period_s; /* 0: no expiry, when known */
	bool period_known;
	char last_error[256];
	unsigned backoff_ms;
	bool failed_once; /* the server answered an error: wait to retry */
	struct reactor_timer t_retry, t_reply, t_sync, t_refresh, t_stop;
	void (*stop_done)(void *arg);
	void *stop_arg;
	bool stopping;
} isns = {.fd = -1};

static const char *isns_state_name(void)
{
	switch (isns.state) {
	case ISNS_OFF:
		return "off";
	case ISNS_WAITING:
		return "waiting to reconnect";
	case ISNS_CONNECTING:
		return "connecting";
	case ISNS_CONNECTED:
		if (isns.entity)
			return "registered";
		return isns.nr_nodes || isns.req != ISNS_REQ_NONE
			   ? "registering"
			   : "connected (no targets to register)";
	case ISNS_STOPPED:
		return "deregistered";
	}
	return "?";
}

__attribute__((format(printf, 2, 3))) static void
isns_error(bool warn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(isns.last_error, sizeof(isns.last_error), fmt, ap);
	va_end(ap);
	if (warn)
		log_warn("isns: %s", isns.last_error);
	else
		log_info("isns: %s", isns.last_error);
}

static void isns_sync(void *arg);
static void isns_connect(void *arg);

static void isns_req_clear(void)
{
	free(isns.req_nodes);
	isns.req_nodes = NULL;
	isns.req_nr_nodes = 0;
	isns.req_nr_portals = 0;
	isns.req = ISNS_REQ_NONE;
	free(isns.tx);
	isns.tx = NULL;
	isns.tx_len = isns.tx_off = 0;
	reactor_timer_cancel(isns.r, &isns.t_reply);
}

static void isns_finish_stop(void)
{
	void (*done)(void *) = isns.stop_done;

	reactor_timer_cancel(isns.r, &isns.t_stop);
	isns.stop_done = NULL;
	if (done)
		done(isns.stop_arg);
}

/* Drops the connection; the server's copy is unknown from now on. */
static void isns_disconnect(void)
{
	if (isns.req == ISNS_REQ_DD_QUERY)
		isns_dd_done(isns.req_initiator, NULL, 0, false);
	if (isns_dd_enabled())
		isns_dd_fail_all();
	if (isns.fd >= 0) {
		reactor_remove(isns.r, &isns.h);
		close(isns.fd);
		isns.fd = -1;
	}
	isns_req_clear();
	isns.rx_len = 0;
	isns.entity = false;
	isns.nr_nodes = 0;
	isns.nr_portals = 0;
	reactor_timer_cancel(isns.r, &isns.t_refresh);
	reactor_timer_cancel(isns.r, &isns.t_sync);
	if (isns.stopping) {
		isns.state = ISNS_STOPPED;
		isns_finish_stop();
		return;
	}
	isns.state = ISNS_WAITING;
	reactor_timer_arm(isns.r, &isns.t_retry, isns.backoff_ms, isns_connect,
			  NULL);
	log_debug("isns: reconnecting to %s in %u ms", isns.server,
		  isns.backoff_ms);
	isns.backoff_ms *= 2;
	if (isns.backoff_ms > ISNS_BACKOFF_MAX_MS)
		isns.backoff_ms = ISNS_BACKOFF_MAX_MS;
}

static void isns_on_io(void *arg, uint32_t events);

static void isns_flush(void)
{
	while (isns.tx_off < isns.tx_len) {
		ssize_t n = send(isns.fd, isns.tx + isns.tx_off,
				 isns.tx_len - isns.tx_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			reactor_modify(isns.r, &isns.h, EPOLLIN | EPOLLOUT);
			return;
		}
		if (n <= 0) {
			isns_error(true,
				   "server %s: send failed: %s; reconnecting",
				   isns.server, strerror(errno));
			isns_disconnect();
			return;
		}
		isns.tx_off += (size_t)n;
	}
	reactor_modify(isns.r, &isns.h, EPOLLIN);
}

static void isns_reply_timeout(void *arg)
{
	isns_error(true,
		   "server %s did not answer within %u ms; reconnecting "
		   "(is isnsd overloaded or firewalled?)",
		   isns.server, ISNS_REPLY_MS);
	isns_disconnect();
}

/* Sends b (finished) as the request in flight. */
static int isns_send(struct isns_buf *b, enum isns_req req)
{
	int rc = isns_buf_finish(b);

	if (rc < 0) {
		isns_buf_free(b);
		return rc;
	}
	isns.req = req;
	isns.req_func = get_be16(b->data + 2);
	isns.req_xid = get_be16(b->data + 8);
	isns.tx = b->data;
	isns.tx_len = b->len;
	isns.tx_off = 0;
	b->data = NULL;
	reactor_timer_arm(isns.r, &isns.t_reply, ISNS_REPLY_MS,
			  isns_reply_timeout, NULL);
	isns_flush();
	return 0;
}

static void isns_portal_from_sa(const struct sockaddr_storage *ss,
				uint16_t port, struct isns_portal *p)
{
	memset(p, 0, sizeof(*p));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		p->ip[10] = p->ip[11] = 0xff;
		memcpy(p->ip + 12, &s4->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		memcpy(p->ip, &s6->sin6_addr, 16);
	}
	p->port = port;
}

static bool isns_portal_eq(const struct isns_portal *a,
			   const struct isns_portal *b)
{
	return a->port == b->port && !memcmp(a->ip, b->ip, 16);
}

static bool isns_portal_in(const struct isns_portal *p,
			   const struct isns_portal *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (isns_portal_eq(p, &set[i]))
			return true;
	return false;
}

static bool isns_node_in(const char *name, const struct isns_node *set,
			 size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, set[i].name))
			return true;
	return false;
}

/* The portals to register: every listener, a wildcard one as the address
 * the server sees us from. */
static size_t isns_want_portals(struct isns_portal *out)
{
	char(*lst)[64] = calloc(ISNS_PORTALS_MAX, 64);
	size_t n, count = 0;

	if (!lst)
		return 0;
	n = iscsi_portal_list(lst, ISNS_PORTALS_MAX);
	if (n > ISNS_PORTALS_MAX)
		n = ISNS_PORTALS_MAX;
	for (size_t i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		struct isns_portal p;
		socklen_t len;

		if (iscsi_portal_parse(lst[i], &ss, &len) < 0)
			continue;
		if (iscsi_sockaddr_is_wildcard(&ss))
			isns_portal_from_sa(&isns.local,
					    iscsi_sockaddr_port(&ss), &p);
		else
			isns_portal_from_sa(&ss, iscsi_sockaddr_port(&ss), &p);
		if (!isns_portal_in(&p, out, count))
			out[count++] = p;
	}
	free(lst);
	return count;
}

/* The targets to register (copied under the config lock). */
static int isns_want_nodes(struct isns_node **out, size_t *nr)
{
	struct scsi_target *t;
	struct isns_node *v;
	size_t n = 0, i = 0;

	scsi_config_rdlock();
	list_for_each_entry (t, scsi_target_list(), link)
		n += !t->deleted;
	v = calloc(n ? n : 1, sizeof(*v));
	if (v) {
		list_for_each_entry (t, scsi_target_list(), link) {
			if (t->deleted || i == n)
				continue;
			memcpy(v[i].name, t->name, sizeof(v[i].name));
			memcpy(v[i].alias, t->alias, sizeof(v[i].alias));
			i++;
		}
	}
	scsi_config_unlock();
	if (!v)
		return -ENOMEM;
	*out = v;
	*nr = i;
	return 0;
}

static void isns_put_portal(struct isns_buf *b, const struct isns_portal *p)
{
	isns_buf_put(b, ISNS_TAG_PORTAL_IP, p->ip, 16);
	isns_buf_put_u32(b, ISNS_TAG_PORTAL_PORT, p->port); /* TCP */
}

static void isns_put_node(struct isns_buf *b, const struct isns_node *n)
{
	isns_buf_put_str(b, ISNS_TAG_ISCSI_NAME, n->name);
	isns_buf_put_u32(b, ISNS_TAG_ISCSI_NODE_TYPE, ISNS_NODE_TYPE_TARGET);
	if (n->alias[0])
		isns_buf_put_str(b, ISNS_TAG_ISCSI_ALIAS, n->alias);
}

static void isns_start(struct isns_buf *b, uint16_t func, uint16_t flags,
		       const char *source)
{
	if (++isns.next_xid == 0)
		isns.next_xid = 1;
	isns_buf_start(b, func,
		       flags | ISNS_FLAG_CLIENT | ISNS_FLAG_FIRST |
			   ISNS_FLAG_LAST,
		       isns.next_xid);
	isns_buf_put_str(b, ISNS_TAG_ISCSI_NAME, source); /* Source */
}

/* Our name as the server knows it: a registered node, preferably one
 * that stays. */
static const char *isns_source(const struct isns_node *want, size_t nwant)
{
	for (size_t i = 0; i < isns.nr_nodes; i++)
		if (isns_node_in(isns.nodes[i].name, want, nwant))
			return isns.nodes[i].name;
	return isns.nr_nodes ? isns.nodes[0].name : NULL;
}

/* Copies nodes [0, n) of v into the request (what success records). */
static int isns_req_take_nodes(const struct isns_node *v, size_t n)
{
	isns.req_nodes = calloc(n ? n : 1, sizeof(*v));
	if (!isns.req_nodes)
		return -ENOMEM;
	memcpy(isns.req_nodes, v, n * sizeof(*v));
	isns.req_nr_nodes = n;
	return 0;
}

/* Full registration, replacing what the server has for our EID. */
static int isns_send_register_all(const struct isns_node *want, size_t nwant,
				  const struct isns_portal *pw, size_t npw)
{
	size_t n = nwant < ISNS_NODES_PER_PDU ? nwant : ISNS_NODES_PER_PDU;
	struct isns_buf b;
	int rc;

	isns_start(&b, ISNS_FUNC_DEV_ATTR_REG, ISNS_FLAG_REPLACE, want[0].name);
	isns_buf_put_str(&b, ISNS_TAG_ENTITY_ID, isns.eid); /* key */
	isns_buf_put(&b, ISNS_TAG_DELIMITER, NULL, 0);
	isns_buf_put_str(&b, ISNS_TAG_ENTITY_ID, isns.eid);
	isns_buf_put_u32(&b, ISNS_TAG_ENTITY_PROTOCOL,
			 ISNS_ENTITY_PROTOCOL_ISCSI);
	for (size_t i = 0; i < npw; i++)
		isns_put_portal(&b, &pw[i]);
	for (size_t i = 0; i < n; i++)
		isns_put_node(&b, &want[i]);
	rc = isns_req_take_nodes(want, n);
	if (rc < 0) {
		isns_buf_free(&b);
		return rc;
	}
	memcpy(isns.req_portals, pw, npw * sizeof(*pw));
	isns.req_nr_portals = npw;
	return isns_send(&b, ISNS_REQ_REGISTER_ALL);
}

/* Sends the first difference between want and what the server has;
 * returns 1 when a request went out, 0 when nothing differs. */
static int isns_send_diff(const struct isns_node *want, size_t nwant,
			  const struct isns_portal *pw, size_t npw)
{
	const char *src = isns_source(want, nwant);
	struct isns_node batch[ISNS_NODES_PER_PDU];
	struct isns_buf b;
	size_t n = 0;
	int rc;

	if (isns.entity && !src)
		isns.entity = false; /* no node to speak for it: start over */
	if (!isns.entity) {
		if (!nwant)
			return 0;
		return isns_send_register_all(want, nwant, pw, npw) ?: 1;
	}
	if (!nwant) {
		isns_start(&b, ISNS_FUNC_DEV_DEREG, 0, src);
		isns_buf_put(&b, ISNS_TAG_DELIMITER, NULL, 0);
		isns_buf_put_str(&b, ISNS_TAG_ENTITY_ID, isns.eid);
		return isns_send(&b, ISNS_REQ_DEREG_ENTITY) ?: 1;
	}
	/* New nodes first, so that a node that stays can be the source of
	 * the deregistration of the others. */
	for (size_t i = 0; i < nwant && n < ISNS_NODES_PER_PDU; i++)
		if (!isns_node_in(want[i].name, isns.nodes, isns.nr_nodes))
			batch[n++] = want[i];
	if (n) {
		isns_start(&b, ISNS_FUNC_DEV_ATTR_REG, 0, src);
		isns_buf_put_str(&b, ISNS_TAG_ENTITY_ID, isns.eid);
		isns_buf_put(&b, ISNS_TAG_DELIMITER, NULL, 0);
		for (size_t i = 0; i < n; i++)
			isns_put_node(&b, &batch[i]);
		rc = isns_req_take_nodes(batch, n);
		if (rc < 0) {
			isns_buf_free(&b);
			return rc;
		}
		return isns_send(&b, ISNS_REQ_ADD_NODES) ?: 1;
	}
	for (size_t i = 0; i < isns.nr_nodes && n < ISNS_NODES_PER_PDU; i++)
		if (!isns_node_in(isns.nodes[i].name, want, nwant))
			batch[n++] = isns.nodes[i];
	if (n) {
		isns_start(&b, ISNS_FUNC_DEV_DEREG, 0, src);
		isns_buf_put(&b, ISNS_TAG_DELIMITER, NULL, 0);
		for (size_t i = 0; i < n; i++)
			isns_buf_put_str(&b, ISNS_TAG_ISCSI_NAME,
					 batch[i].name);
		rc = isns_req_take_nodes(batch, n);
		if (rc < 0) {
			isns_buf_free(&b);
			return rc;
		}
		return isns_send(&b, ISNS_REQ_DEL_NODES) ?: 1;
	}
	for (size_t i = 0; i < npw; i++)
		if (!isns_portal_in(&pw[i], isns.portals, isns.nr_portals))
			isns.req_portals[isns.req_nr_portals++] = pw[i];
	if (isns.req_nr_portals) {
		isns_start(&b, ISNS_FUNC_DEV_ATTR_REG, 0, src);
		isns_buf_put_str(&b, ISNS_TAG_ENTITY_ID, isns.eid);
		isns_buf_put(&b, ISNS_TAG_DELIMITER, NULL, 0);
		for (size_t i = 0; i < isns.req_nr_portals; i++)
			isns_put_portal(&b, &isns.req_portals[i]);
		return isns_send(&b, ISNS_REQ_ADD_PORTALS) ?: 1;
	}
	for (size_t i = 0; i < isns.nr_portals; i++)
		if (!isns_portal_in(&isns.portals[i], pw, npw))
			isns.req_portals[isns.req_nr_portals++] =
			    isns.portals[i];
	if (isns.req_nr_portals) {
		isns_start(&b, ISNS_FUNC_DEV_DEREG, 0, src);
		isns_buf_put(&b, ISNS_TAG_DELIMITER, NULL, 0);
		for (size_t i = 0; i < isns.req_nr_portals; i++)
			isns_put_portal(&b, &isns.req_portals[i]);
		return isns_send(&b, ISNS_REQ_DEL_PORTALS) ?: 1;
	}
	return 0;
}

static void isns_refresh(void *arg)
{
	struct isns_buf b;

	if (isns.state != ISNS_CONNECTED || !isns.entity ||
	    isns.req != ISNS_REQ_NONE || !isns.nr_nodes)
		return;
	isns_start(&b, ISNS_FUNC_DEV_ATTR_QRY, 0, isns.nodes[0].name);
	isns_buf_put_str(&b, ISNS_TAG_ENTITY_ID, isns.eid);
	isns_buf_put(&b, ISNS_TAG_DELIMITER, NULL, 0);
	isns_buf_put(&b, ISNS_TAG_ENTITY_ID, NULL, 0);
	isns_buf_put(&b, ISNS_TAG_REG_PERIOD, NULL, 0);
	if (isns_send(&b, ISNS_REQ_REFRESH) < 0)
		isns_error(true, "cannot build a refresh query: out of memory");
}

static void isns_arm_refresh(void)
{
	uint64_t ms = (uint64_t)isns.period_s * 500;

	if (!isns.period_known)
		ms = ISNS_REFRESH_MIN_MS; /* ask soon */
	else if (!isns.period_s || ms > ISNS_REFRESH_MAX_MS)
		ms = ISNS_REFRESH_MAX_MS;
	if (ms < ISNS_REFRESH_MIN_MS)
		ms = ISNS_REFRESH_MIN_MS;
	reactor_timer_arm(isns.r, &isns.t_refresh, ms, isns_refresh, NULL);
}

static void isns_send_stop(void)
{
	struct isns_buf b;

	if (!isns.entity || !isns.nr_nodes) {
		isns.stopping = true;
		isns_disconnect();
		return;
	}
	isns_start(&b, ISNS_FUNC_DEV_DEREG, 0, isns.nodes[0].name);
	isns_buf_put(&b, ISNS_TAG_DELIMITER, NULL, 0);
	isns_buf_put_str(&b, ISNS_TAG_ENTITY_ID, isns.eid);
	if (isns_send(&b, ISNS_REQ_DEREG_ENTITY) < 0) {
		isns_disconnect();
	}
}

/* Sends a wanted discovery domain query: which nodes the server lets
 * the initiator (as Source) see (RFC 4171 §5.6.5.2). */
static bool isns_dd_send(void)
{
	struct isns_buf b;

	if (!isns_dd_enabled() || isns.req != ISNS_REQ_NONE ||
	    !isns_dd_pending(isns.req_initiator, sizeof(isns.req_initiator)))
		return false;
	isns_start(&b, ISNS_FUNC_DEV_ATTR_QRY, 0, isns.req_initiator);
	isns_buf_put(&b, ISNS_TAG_ISCSI_NAME, NULL, 0); /* key: every node */
	isns_buf_put(&b, ISNS_TAG_DELIMITER, NULL, 0);
	isns_buf_put(&b, ISNS_TAG_ISCSI_NAME, NULL, 0);
	if (isns_send(&b, ISNS_REQ_DD_QUERY) < 0) {
		isns_dd_done(isns.req_initiator, NULL, 0, false);
		return false;
	}
	return true;
}

void isns_dd_kick(void)
{
	if (isns.state != ISNS_CONNECTED || isns.stopping)
		isns_dd_fail_all();
	else
		isns_dd_send();
}

static void isns_sync(void *arg)
{
	struct isns_portal pw[ISNS_PORTALS_MAX];
	struct isns_node *want = NULL;
	size_t nwant = 0, npw;
	int rc;

	if (isns.state != ISNS_CONNECTED || isns.req != ISNS_REQ_NONE)
		return;
	if (isns.stopping) {
		isns_send_stop();
		return;
	}
	if (isns_dd_send())
		return;
	/* after a refusal the registration waits for its backoff */
	if (isns.failed_once && reactor_timer_armed(&isns.t_sync))
		return;
	if (isns_want_nodes(&want, &nwant) < 0) {
		isns_error(true, "out of memory listing targets; retrying");
		reactor_timer_arm(isns.r, &isns.t_sync, 1000, isns_sync, NULL);
		return;
	}
	npw = isns_want_portals(pw);
	rc = isns_send_diff(want, nwant, pw, npw);
	free(want);
	if (rc == -EMSGSIZE)
		isns_error(true, "a registration does not fit in one iSNS PDU; "
				 "shorten target aliases");
	else if (rc < 0)
		isns_error(true, "cannot build a registration: %s; retrying",
			   strerror(-rc));
	if (rc < 0)
		reactor_timer_arm(isns.r, &isns.t_sync, isns.backoff_ms,
				  isns_sync, NULL);
	else if (rc == 0 && isns.entity &&
		 !reactor_timer_armed(&isns.t_refresh))
		isns_arm_refresh();
}

void isns_changed(void *unused)
{
	if (isns.state != ISNS_CONNECTED || isns.failed_once)
		return;
	reactor_timer_arm(isns.r, &isns.t_sync, ISNS_SYNC_DELAY_MS, isns_sync,
			  NULL);
}

static void isns_nodes_remove(const struct isns_node *v, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < isns.nr_nodes; i++)
		if (!isns_node_in(isns.nodes[i].name, v, n))
			isns.nodes[j++] = isns.nodes[i];
	isns.nr_nodes = j;
}

static int isns_nodes_add(const struct isns_node *v, size_t n)
{
	struct isns_node *p =
	    realloc(isns.nodes, (isns.nr_nodes + n + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	isns.nodes = p;
	memcpy(isns.nodes + isns.nr_nodes, v, n * sizeof(*v));
	isns.nr_nodes += n;
	return 0;
}

/* From an answer: the Registration Period (isns.period_s, when there)
 * and whether it names an entity. False when the attributes are
 * malformed. */
static bool isns_find_period(const struct isns_pdu *pdu, bool *has_entity)
{
	struct isns_tlv tlv;
	size_t off = 4;
	int r;

	*has_entity = false;
	while ((r = isns_tlv_next(pdu->payload, pdu->length, &off, &tlv)) ==
	       1) {
		if (tlv.tag == ISNS_TAG_REG_PERIOD && tlv.len == 4) {
			isns.period_s = get_be32(tlv.value);
			isns.period_known = true;
		}
		if (tlv.tag == ISNS_TAG_ENTITY_ID && tlv.len)
			*has_entity = true;
	}
	return r == 0;
}

static void isns_apply(const struct isns_pdu *pdu)
{
	enum isns_req req = isns.req;
	bool has_entity;
	int rc = 0;

	switch (req) {
	case ISNS_REQ_REGISTER_ALL:
		/* The answer may carry the period; if not, the first refresh
		 * comes soon and asks (a short period must not lapse). */
		isns.period_s = 0;
		isns.period_known = false;
		isns_find_period(pdu, &has_entity);
		isns.entity = true;
		isns.nr_nodes = 0;
		rc = isns_nodes_add(isns.req_nodes, isns.req_nr_nodes);
		memcpy(isns.portals, isns.req_portals,
		       isns.req_nr_portals * sizeof(isns.portals[0]));
		isns.nr_portals = isns.req_nr_portals;
		log_info("isns: registered entity %s with %zu portal%s and "
			 "%zu target%s at %s",
			 isns.eid, isns.nr_portals,
			 isns.nr_portals == 1 ? "" : "s", isns.req_nr_nodes,
			 isns.req_nr_nodes == 1 ? "" : "s", isns.server);
		break;
	case ISNS_REQ_ADD_NODES:
		rc = isns_nodes_add(isns.req_nodes, isns.req_nr_nodes);
		for (size_t i = 0; i < isns.req_nr_nodes; i++)
			log_info("isns: registered target %s",
				 isns.req_nodes[i].name);
		break;
	case ISNS_REQ_DEL_NODES:
		isns_nodes_remove(isns.req_nodes, isns.req_nr_nodes);
		for (size_t i = 0; i < isns.req_nr_nodes; i++)
			log_info("isns: deregistered target %s",
				 isns.req_nodes[i].name);
		break;
	case ISNS_REQ_ADD_PORTALS:
		for (size_t i = 0; i < isns.req_nr_portals &&
				   isns.nr_portals < ISNS_PORTALS_MAX;
		     i++)
			isns.portals[isns.nr_portals++] = isns.req_portals[i];
		log_info("isns: registered %zu new portal%s",
			 isns.req_nr_portals,
			 isns.req_nr_portals == 1 ? "" : "s");
		break;
	case ISNS_REQ_DEL_PORTALS: {
		size_t j = 0;

		for (size_t i = 0; i < isns.nr_portals; i++)
			if (!isns_portal_in(&isns.portals[i], isns.req_portals,
					    isns.req_nr_portals))
				isns.portals[j++] = isns.portals[i];
		isns.nr_portals = j;
		log_info("isns: deregistered %zu portal%s", isns.req_nr_portals,
			 isns.req_nr_portals == 1 ? "" : "s");
		break;
	}
	case ISNS_REQ_DEREG_ENTITY:
		isns.entity = false;
		isns.nr_nodes = 0;
		isns.nr_portals = 0;
		log_info("isns: deregistered entity %s at %s", isns.eid,
			 isns.server);
		break;
	case ISNS_REQ_REFRESH:
		if (!isns_find_period(pdu, &has_entity) || !has_entity) {
			isns_error(true,
				   "server %s no longer has entity %s; "
				   "registering it again",
				   isns.server, isns.eid);
			isns.entity = false;
			isns.nr_nodes = 0;
			isns.nr_portals = 0;
		}
		break;
	case ISNS_REQ_NONE:
	case ISNS_REQ_DD_QUERY:
		break;
	}
	if (rc < 0) {
		/* we no longer know what the server has: start over */
		isns.entity = false;
		isns.nr_nodes = 0;
	}
	if (req != ISNS_REQ_REFRESH && req != ISNS_REQ_DEREG_ENTITY)
		isns.last_registration = time(NULL);
	isns.last_error[0] = '\0';
}

/* A discovery domain query's answer: the iSCSI Names it lists. */
static void isns_dd_answer(const struct isns_pdu *pdu, uint32_t status)
{
	char(*names)[SCSI_NAME_MAX] = NULL;
	size_t n = 0, off = 4;
	struct isns_tlv tlv;
	int r = 0;

	if (status == 0) {
		while ((r = isns_tlv_next(pdu->payload, pdu->length, &off,
					  &tlv)) == 1) {
			size_t len;
			void *p;

			if (tlv.tag != ISNS_TAG_ISCSI_NAME || !tlv.len)
				continue;
			len = strnlen((const char *)tlv.value, tlv.len);
			if (len == tlv.len || len >= SCSI_NAME_MAX)
				continue; /* not a name we can have */
			p = realloc(names, (n + 1) * sizeof(*names));
			if (!p) {
				r = -ENOMEM;
				break;
			}
			names = p;
			memcpy(names[n], tlv.value, len + 1);
			n++;
		}
	}
	if (status == 9 || (status == 0 && r == 0)) {
		/* "no such entry": the initiator sees nothing */
		isns_dd_done(isns.req_initiator, names, n, true);
		return;
	}
	free(names);
	if (status)
		isns_error(true,
			   "server %s refused the discovery domain query for "
			   "%s (%s)",
			   isns.server, isns.req_initiator,
			   isns_status_name(status));
	else
		isns_error(true,
			   "server %s sent a malformed discovery domain "
			   "answer for %s",
			   isns.server, isns.req_initiator);
	isns_dd_done(isns.req_initiator, NULL, 0, false);
}

/* Every attribute after the status lies within the PDU. */
static bool isns_attrs_valid(const struct isns_pdu *pdu)
{
	struct isns_tlv tlv;
	size_t off = 4;
	int r;

	while ((r = isns_tlv_next(pdu->payload, pdu->length, &off, &tlv)) == 1)
		;
	return r == 0;
}

/* One complete PDU from the server. */
static void isns_on_pdu(const struct isns_pdu *pdu)
{
	enum isns_req req = isns.req;
	uint32_t status;

	if (!(pdu->function & ISNS_FUNC_RESPONSE)) {
		/* ESI or SCN: we registered for neither; a server that
		 * sends one anyway gets no answer */
		log_debug("isns: ignoring request 0x%04x from %s",
			  pdu->function, isns.server);
		return;
	}
	if (req == ISNS_REQ_NONE || pdu->xid != isns.req_xid ||
	    pdu->function != (isns.req_func | ISNS_FUNC_RESPONSE)) {
		log_debug("isns: ignoring unexpected response 0x%04x xid %u",
			  pdu->function, pdu->xid);
		return;
	}
	if (isns_rsp_status(pdu, &status) < 0) {
		isns_error(true,
			   "server %s sent a response without a status; "
			   "reconnecting",
			   isns.server);
		isns_disconnect();
		return;
	}
	if (!isns_attrs_valid(pdu)) {
		isns_error(true,
			   "server %s sent a response whose attributes run "
			   "past its end; reconnecting",
			   isns.server);
		isns_disconnect();
		return;
	}
	if (req == ISNS_REQ_DD_QUERY) {
		isns_dd_answer(pdu, status);
		isns_req_clear();
		isns_sync(NULL);
		return;
	}
	if (status == 0) {
		isns_apply(pdu);
		isns.failed_once = false;
		isns.backoff_ms = ISNS_BACKOFF_MIN_MS;
	} else if (req == ISNS_REQ_REFRESH) {
		isns_error(true,
			   "server %s: refresh of entity %s failed (%s); "
			   "registering it again",
			   isns.server, isns.eid, isns_status_name(status));
		isns.entity = false;
		isns.nr_nodes = 0;
		isns.nr_portals = 0;
	} else {
		isns_error(true,
			   "server %s refused a %s (status %u, %s); retrying "
			   "in %u ms; check isnsd's log and its security "
			   "settings",
			   isns.server,
			   req == ISNS_REQ_DEREG_ENTITY ||
				   req == ISNS_REQ_DEL_NODES ||
				   req == ISNS_REQ_DEL_PORTALS
			       ? "deregistration"
			       : "registration",
			   status, isns_status_name(status), isns.backoff_ms);
	}
	isns_req_clear();
	if (isns.stopping && req == ISNS_REQ_DEREG_ENTITY) {
		isns_disconnect();
		return;
	}
	if (status && req != ISNS_REQ_REFRESH) {
		isns.failed_once = true;
		/* after a refused deregistration the server may still have
		 * the entity: register it afresh */
		isns.entity = false;
		reactor_timer_arm(isns.r, &isns.t_sync, isns.backoff_ms,
				  isns_sync, NULL);
		if (isns.backoff_ms < ISNS_BACKOFF_MAX_MS)
			isns.backoff_ms *= 2;
		return;
	}
	if ((req == ISNS_REQ_REFRESH || req == ISNS_REQ_REGISTER_ALL) &&
	    isns.entity)
		isns_arm_refresh();
	isns_sync(NULL);
}

static void isns_read(void)
{
	for (;;) {
		struct isns_pdu pdu;
		size_t total;
		ssize_t n;
		int rc;

		n = recv(isns.fd, isns.rx + isns.rx_len,
			 ISNS_HDR_LEN + ISNS_PAYLOAD_MAX - isns.rx_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			isns_error(true,
				   "server %s closed the connection%s%s; "
				   "reconnecting",
				   isns.server, n < 0 ? ": " : "",
				   n < 0 ? strerror(errno) : "");
			isns_disconnect();
			return;
		}
		isns.rx_len += (size_t)n;
		while ((rc = isns_pdu_parse(isns.rx, isns.rx_len, &pdu)) == 0) {
			total = ISNS_HDR_LEN + (size_t)pdu.length;
			isns_on_pdu(&pdu);
			if (isns.fd < 0)
				return; /* disconnected meanwhile */
			memmove(isns.rx, isns.rx + total, isns.rx_len - total);
			isns.rx_len -= total;
		}
		if (rc == -EPROTO) {
			isns_error(true,
				   "server %s sent a malformed PDU (not iSNSP "
				   "version 1); reconnecting; is %s an iSNS "
				   "server?",
				   isns.server, isns.server);
			isns_disconnect();
			return;
		}
	}
}

static void isns_on_io(void *arg, uint32_t events)
{
	if (isns.state == ISNS_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		socklen_t ll = sizeof(isns.local);

		if (getsockopt(isns.fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err) {
			isns_error(isns.backoff_ms <= ISNS_BACKOFF_MIN_MS,
				   "cannot connect to server %s: %s; is isnsd "
				   "running there? retrying",
				   isns.server, strerror(err));
			isns_disconnect();
			return;
		}
		getsockname(isns.fd, (struct sockaddr *)&isns.local, &ll);
		isns.state = ISNS_CONNECTED;
		isns.failed_once = false;
		log_info("isns: connected to server %s", isns.server);
		reactor_modify(isns.r, &isns.h, EPOLLIN);
		isns_sync(NULL);
		return;
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		isns_read();
	if (isns.fd >= 0 && (events & EPOLLOUT))
		isns_flush();
}

static void isns_connect(void *arg)
{
	int one = 1;

	isns.fd = socket(isns.ss.ss_family,
			 SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (isns.fd < 0) {
		isns_error(true, "cannot create a socket: %s; retrying",
			   strerror(errno));
		isns_disconnect();
		return;
	}
	setsockopt(isns.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(isns.fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	if (connect(isns.fd, (struct sockaddr *)&isns.ss, isns.sslen) < 0 &&
	    errno != EINPROGRESS) {
		isns_error(isns.backoff_ms <= ISNS_BACKOFF_MIN_MS,
			   "cannot connect to server %s: %s; is isnsd running "
			   "there? retrying",
			   isns.server, strerror(errno));
		close(isns.fd);
		isns.fd = -1;
		isns_disconnect();
		return;
	}
	if (reactor_add(isns.r, &isns.h, isns.fd, EPOLLOUT, isns_on_io, NULL) <
	    0) {
		close(isns.fd);
		isns.fd = -1;
		isns_disconnect();
		return;
	}
	isns.state = ISNS_CONNECTING;
}

/* "HOST", "HOST:PORT", "[V6]:PORT" or "[V6]". */
static int isns_resolve(const char *spec, char *err, size_t errlen)
{
	char host[256], port[8] = "3205";
	struct addrinfo hints = {0}, *ai = NULL;
	const char *colon;
	int rc;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (!end || (size_t)(end - spec - 1) >= sizeof(host) ||
		    (end[1] && end[1] != ':'))
			goto bad;
		memcpy(host, spec + 1, (size_t)(end - spec - 1));
		host[end - spec - 1] = '\0';
		colon = end[1] ? end + 1 : NULL;
	} else {
		colon = strrchr(spec, ':');
		if (colon && strchr(spec, ':') != colon)
			goto bad; /* a bare IPv6 address needs brackets */
		size_t hl = colon ? (size_t)(colon - spec) : strlen(spec);

		if (!hl || hl >= sizeof(host))
			goto bad;
		memcpy(host, spec, hl);
		host[hl] = '\0';
	}
	if (colon) {
		char *e;
		unsigned long p = strtoul(colon + 1, &e, 10);

		if (!colon[1] || *e || p < 1 || p > 65535)
			goto bad;
		snprintf(port, sizeof(port), "%lu", p);
	}
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc || !ai) {
		snprintf(err, errlen,
			 "--isns %s: cannot resolve %s: %s; give an address "
			 "or a name this host resolves",
			 spec, host, gai_strerror(rc));
		return -EINVAL;
	}
	memcpy(&isns.ss, ai->ai_addr, ai->ai_addrlen);
	isns.sslen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
bad:
	snprintf(err, errlen,
		 "--isns %s: expected HOST, HOST:PORT or [IPV6]:PORT with a "
		 "port 1-65535 (default %d)",
		 spec, ISNS_DEFAULT_PORT);
	return -EINVAL;
}

int isns_init(struct reactor *main_reactor, const struct isns_options *o,
	      char *err, size_t errlen)
{
	char host[200];
	int rc;

	if (!o->server || !o->server[0])
		return 0;
	if (strlen(o->server) >= sizeof(isns.server)) {
		snprintf(err, errlen, "--isns: the server name is too long");
		return -EINVAL;
	}
	rc = isns_resolve(o->server, err, errlen);
	if (rc < 0)
		return rc;
	if (o->entity_id && o->entity_id[0]) {
		if (strlen(o->entity_id) >= sizeof(isns.eid)) {
			snprintf(err, errlen,
				 "--isns-entity: at most %zu bytes",
				 sizeof(isns.eid) - 1);
			return -EINVAL;
		}
		snprintf(isns.eid, sizeof(isns.eid), "%s", o->entity_id);
	} else {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(isns.eid, sizeof(isns.eid), "lunar:%s", host);
	}
	isns.rx = malloc(ISNS_HDR_LEN + ISNS_PAYLOAD_MAX);
	if (!isns.rx) {
		snprintf(err, errlen, "iSNS: out of memory");
		return -ENOMEM;
	}
	snprintf(isns.server, sizeof(isns.server), "%s", o->server);
	isns.r = main_reactor;
	isns.fd = -1;
	isns.backoff_ms = ISNS_BACKOFF_MIN_MS;
	reactor_timer_init(&isns.t_retry);
	reactor_timer_init(&isns.t_reply);
	reactor_timer_init(&isns.t_sync);
	reactor_timer_init(&isns.t_refresh);
	reactor_timer_init(&isns.t_stop);
	isns.state = ISNS_WAITING;
	if (o->discovery_domains)
		isns_dd_enable(main_reactor);
	log_info("isns: registering entity %s with server %s", isns.eid,
		 isns.server);
	isns_connect(NULL);
	return 0;
}

static void isns_stop_timeout(void *arg)
{
	isns_error(true,
		   "server %s did not confirm the deregistration within %u "
		   "ms; exiting anyway (it expires the entity after its "
		   "registration period)",
		   isns.server, ISNS_STOP_MS);
	isns_disconnect(); /* stopping: calls stop_done */
}

void isns_stop(void (*done)(void *arg), void *arg)
{
	if (isns.state == ISNS_OFF || isns.state == ISNS_STOPPED) {
		done(arg);
		return;
	}
	isns.stopping = true;
	reactor_timer_cancel(isns.r, &isns.t_retry);
	reactor_timer_cancel(isns.r, &isns.t_sync);
	reactor_timer_cancel(isns.r, &isns.t_refresh);
	if (isns.state != ISNS_CONNECTED) {
		isns_disconnect();
		done(arg);
		return;
	}
	isns.stop_done = done;
	isns.stop_arg = arg;
	reactor_timer_arm(isns.r, &isns.t_stop, ISNS_STOP_MS, isns_stop_timeout,
			  NULL);
	/* a request in flight finishes first; its answer leads here */
	if (isns.req == ISNS_REQ_NONE)
		isns_send_stop();
}

void isns_exit(void)
{
	if (isns.state == ISNS_OFF)
		return;
	if (isns.fd >= 0) {
		reactor_remove(isns.r, &isns.h);
		close(isns.fd);
		isns.fd = -1;
	}
	reactor_timer_cancel(isns.r, &isns.t_retry);
	reactor_timer_cancel(isns.r, &isns.t_reply);
	reactor_timer_cancel(isns.r, &isns.t_sync);
	reactor_timer_cancel(isns.r, &isns.t_refresh);
	reactor_timer_cancel(isns.r, &isns.t_stop);
	free(isns.req_nodes);
	free(isns.tx);
	free(isns.rx);
	free(isns.nodes);
	isns.req_nodes = NULL;
	isns.tx = isns.rx = NULL;
	isns.nodes = NULL;
	isns.state = ISNS_OFF;
	isns_dd_exit();
}

int isns_status_get(struct isns_status *st)
{
	memset(st, 0, sizeof(*st));
	st->enabled = isns.state != ISNS_OFF;
	st->state = isns_state_name();
	if (!st->enabled)
		return 0;
	snprintf(st->server, sizeof(st->server), "%s", isns.server);
	snprintf(st->entity_id, sizeof(st->entity_id), "%s", isns.eid);
	snprintf(st->last_error, sizeof(st->last_error), "%s", isns.last_error);
	st->last_registration = isns.last_registration;
	st->period_s = isns.period_s;
	st->targets = calloc(isns.nr_nodes + 1, sizeof(*st->targets));
	st->portals = calloc(isns.nr_portals + 1, sizeof(*st->portals));
	if (!st->targets || !st->portals) {
		isns_status_free(st);
		return -ENOMEM;
	}
	for (size_t i = 0; i < isns.nr_nodes; i++)
		snprintf(st->targets[i], sizeof(st->targets[i]), "%s",
			 isns.nodes[i].name);
	st->nr_targets = isns.nr_nodes;
	for (size_t i = 0; i < isns.nr_portals; i++) {
		struct sockaddr_storage ss = {0};
		const struct isns_portal *p = &isns.portals[i];
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
						   0, 0, 0, 0, 0xff, 0xff};

		if (!memcmp(p->ip, mapped, 12)) {
			struct sockaddr_in *s4 = (void *)&ss;

			s4->sin_family = AF_INET;
			memcpy(&s4->sin_addr, p->ip + 12, 4);
			s4->sin_port = htons(p->port);
		} else {
			struct sockaddr_in6 *s6 = (void *)&ss;

			s6->sin6_family = AF_INET6;
			memcpy(&s6->sin6_addr, p->ip, 16);
			s6->sin6_port = htons(p->port);
		}
		iscsi_sockaddr_format(&ss, st->portals[i],
				      sizeof(st->portals[i]));
	}
	st->nr_portals = isns.nr_portals;
	return 0;
}

void isns_status_free(struct isns_status *st)
{
	free(st->targets);
	free(st->portals);
	st->targets = NULL;
	st->portals = NULL;
}
