/*
 * iSNS (RFC 4171): lunard registers its Network Entity, its portals and
 * every target (an iSCSI Storage Node of type target) with one iSNS
 * server, keeps the registration up to date and deregisters at shutdown.
 * The client runs on the main reactor; everything here is called on the
 * main thread. The PDU codec (isns_pdu.c: isns_pdu_*, isns_tlv_*,
 * isns_buf_*) is pure, for the unit tests and a fuzzer.
 */
#ifndef LUNAR_ISCSI_ISNS_H
#define LUNAR_ISCSI_ISNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "event/reactor.h"
#include "scsi/scsi.h"

#define ISNS_DEFAULT_PORT 3205
#define ISNS_HDR_LEN	  12
#define ISNS_PAYLOAD_MAX  65535 /* the header's 16-bit PDU Length */

/* Function IDs (RFC 4171 §5.1.2); a response is the request's | 0x8000. */
#define ISNS_FUNC_DEV_ATTR_REG 0x0001
#define ISNS_FUNC_DEV_ATTR_QRY 0x0002
#define ISNS_FUNC_DEV_GET_NEXT 0x0003
#define ISNS_FUNC_DEV_DEREG    0x0004
#define ISNS_FUNC_SCN_REG      0x0005
#define ISNS_FUNC_ESI	       0x000d
#define ISNS_FUNC_RESPONSE     0x8000

/* Flags (RFC 4171 §5.1.4). */
#define ISNS_FLAG_CLIENT  0x8000
#define ISNS_FLAG_SERVER  0x4000
#define ISNS_FLAG_AUTH	  0x2000
#define ISNS_FLAG_REPLACE 0x1000
#define ISNS_FLAG_LAST	  0x0800
#define ISNS_FLAG_FIRST	  0x0400

/* Attribute tags (RFC 4171 §6.1). */
#define ISNS_TAG_DELIMITER	 0
#define ISNS_TAG_ENTITY_ID	 1
#define ISNS_TAG_ENTITY_PROTOCOL 2
#define ISNS_TAG_REG_PERIOD	 6
#define ISNS_TAG_PORTAL_IP	 16
#define ISNS_TAG_PORTAL_PORT	 17
#define ISNS_TAG_ISCSI_NAME	 32
#define ISNS_TAG_ISCSI_NODE_TYPE 33
#define ISNS_TAG_ISCSI_ALIAS	 34
#define ISNS_TAG_DD_ID		 2065

#define ISNS_ENTITY_PROTOCOL_ISCSI 2
#define ISNS_NODE_TYPE_TARGET	   0x00000001
#define ISNS_NODE_TYPE_INITIATOR   0x00000002

/* A PDU's header and payload, as isns_pdu_parse found them in a buffer. */
struct isns_pdu {
	uint16_t version;
	uint16_t function;
	uint16_t length; /* payload bytes */
	uint16_t flags;
	uint16_t xid;
	uint16_t seq;
	const uint8_t *payload;
};

struct isns_tlv {
	uint32_t tag;
	uint32_t len;
	const uint8_t *value;
};

/*
 * Pure: finds one PDU at the start of buf. Returns 0 with *pdu filled
 * (the PDU takes ISNS_HDR_LEN + pdu->length bytes), -EAGAIN when buf holds
 * less than a whole PDU, -EPROTO when the header is not iSNSP version 1 or
 * its length is not a multiple of 4.
 */
int isns_pdu_parse(const uint8_t *buf, size_t len, struct isns_pdu *pdu);
/*
 * Pure: the next attribute of p[0..len) from *off. Returns 1 with *tlv set
 * and *off advanced, 0 at the end, -EPROTO when a length runs past the end
 * or is not a multiple of 4.
 */
int isns_tlv_next(const uint8_t *p, size_t len, size_t *off,
		  struct isns_tlv *tlv);
/* A response's Status Code (its first 4 bytes); -EPROTO when too short. */
int isns_rsp_status(const struct isns_pdu *pdu, uint32_t *status);
/* "no such entry" and the like, for messages. */
const char *isns_status_name(uint32_t status);

/* A PDU being built: header, then attributes appended in order. */
struct isns_buf {
	uint8_t *data;
	size_t len, cap;
	int err; /* the first failure; later appends do nothing */
};

void isns_buf_start(struct isns_buf *b, uint16_t function, uint16_t flags,
		    uint16_t xid);
void isns_buf_put(struct isns_buf *b, uint32_t tag, const void *v,
		  uint32_t len);
/* A NUL-terminated string padded to 4 bytes (RFC 4171 §5.3). */
void isns_buf_put_str(struct isns_buf *b, uint32_t tag, const char *s);
void isns_buf_put_u32(struct isns_buf *b, uint32_t tag, uint32_t v);
/* Sets the PDU Length; 0 or the first error (-EMSGSIZE, -ENOMEM). */
int isns_buf_finish(struct isns_buf *b);
void isns_buf_free(struct isns_buf *b);

struct isns_options {
	const char *server;	/* "HOST[:PORT]" or "[V6]:PORT"; NULL: off */
	const char *entity_id;	/* NULL: "lunar:" + hostname */
	bool discovery_domains; /* SendTargets honours the server's DDs */
};

/* Resolves the server and starts connecting on the main reactor; a
 * server that is down is retried, not an error. -EINVAL with a message
 * in err when the address is malformed or does not resolve. */
int isns_init(struct reactor *main_reactor, const struct isns_options *o,
	      char *err, size_t errlen);
/* Targets or portals changed: send the difference soon (coalesced). */
void isns_changed(void *unused);
/* SIGTERM path: deregisters the entity (waiting at most a few seconds for
 * the server's answer), then calls done(arg). At once when iSNS is off. */
void isns_stop(void (*done)(void *arg), void *arg);
void isns_exit(void);

#define ISNS_SHOW_NAMES_MAX 64
struct isns_status {
	bool enabled;
	char server[300];
	char entity_id[256];
	const char *state;	  /* "connecting", "registered", ... */
	time_t last_registration; /* 0: never */
	uint32_t period_s;	  /* the server's registration period */
	char last_error[256];
	size_t nr_targets; /* registered nodes; names of the first 64 */
	char (*targets)[224];
	size_t nr_portals;
	char (*portals)[64];
};

/* Snapshot for isns.show; the caller frees with isns_status_free. */
int isns_status_get(struct isns_status *st);
void isns_status_free(struct isns_status *st);

/*
 * Discovery domains (isns_dd.c), for SendTargets on any thread.
 * isns_dd_check: 1 when the server lets initiator see target, 0 when not,
 * -ENOENT when nothing is known yet (isns_dd_fetch, then check again),
 * -ENOTCONN when the server could not say (fall back to the ACLs alone).
 * isns_dd_fetch: asks the server; fn(arg) runs on r once the answer (or
 * the failure) is in. -ENOMEM/-ENOSPC: it will not run; fall back.
 */
bool isns_dd_enabled(void);
int isns_dd_check(const char *initiator, const char *target);
int isns_dd_fetch(const char *initiator, struct reactor *r, reactor_msg_fn fn,
		  void *arg);

/* Between isns.c and isns_dd.c, main thread. */
void isns_dd_enable(struct reactor *main_reactor);
/* Copies an initiator whose query is wanted and marks it sent. */
bool isns_dd_pending(char *initiator, size_t len);
/* The answer: names (malloc'd, taken) the server lets it see. */
void isns_dd_done(const char *initiator, char (*names)[SCSI_NAME_MAX], size_t n,
		  bool ok);
/* The server is unreachable: every wanted query fails. */
void isns_dd_fail_all(void);
void isns_dd_exit(void);
/* isns.c: sends the wanted queries (or fails them when disconnected). */
void isns_dd_kick(void);

#endif
