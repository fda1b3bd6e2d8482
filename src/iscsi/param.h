/*
 * RFC 7143 §6.2 and §13: login/text key=value handling and the negotiation
 * of every operational key from one table (DESIGN.md §6). Pure code: no
 * sockets, no sessions.
 */
#ifndef LUNAR_ISCSI_PARAM_H
#define LUNAR_ISCSI_PARAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ISCSI_NAME_MAX 224

/* Login status class/detail (RFC 7143 §11.13.5), as (class << 8 | detail). */
#define ISCSI_LOGIN_OK			     0x0000
#define ISCSI_LOGIN_REDIRECT_TEMP	     0x0101
#define ISCSI_LOGIN_INIT_ERR		     0x0200
#define ISCSI_LOGIN_AUTH_FAILED		     0x0201
#define ISCSI_LOGIN_AUTHZ_FAILED	     0x0202
#define ISCSI_LOGIN_TARGET_NOT_FOUND	     0x0203
#define ISCSI_LOGIN_TARGET_REMOVED	     0x0204
#define ISCSI_LOGIN_UNSUPPORTED_VERSION	     0x0205
#define ISCSI_LOGIN_TOO_MANY_CONNECTIONS     0x0206
#define ISCSI_LOGIN_MISSING_PARAMETER	     0x0207
#define ISCSI_LOGIN_NO_SESSION_SPANNING	     0x0208
#define ISCSI_LOGIN_SESSION_TYPE_UNSUPPORTED 0x0209
#define ISCSI_LOGIN_SESSION_DOES_NOT_EXIST   0x020a
#define ISCSI_LOGIN_INVALID_DURING_LOGIN     0x020b
#define ISCSI_LOGIN_TARGET_ERROR	     0x0300
#define ISCSI_LOGIN_SERVICE_UNAVAILABLE	     0x0301
#define ISCSI_LOGIN_OUT_OF_RESOURCES	     0x0302

/* Growable buffer of "key=value\0" pairs, the wire form of login/text data. */
struct iscsi_text {
	char *buf;
	size_t len;
	size_t cap;
};

void iscsi_text_init(struct iscsi_text *t);
void iscsi_text_free(struct iscsi_text *t);
/* Appends "key=value\0"; returns 0 or -ENOMEM. */
int iscsi_text_add(struct iscsi_text *t, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Iterates over the pairs of a data segment. *pos starts at 0. Returns 1
 * with *key, *keylen, *val and *vallen set, 0 at the end, or -EINVAL when a
 * pair has no '=', a key is longer than 63 bytes, a value longer than 8192
 * bytes (RFC 7143 §6.1), or the segment does not end with NUL.
 */
int iscsi_text_next(const char *data, size_t len, size_t *pos, const char **key,
		    size_t *keylen, const char **val, size_t *vallen);

/* What the target is willing to do; defaults from iscsi_limits_default(). */
struct iscsi_limits {
	uint32_t max_recv_dsl; /* our MaxRecvDataSegmentLength */
	uint32_t max_burst_length;
	uint32_t first_burst_length;
	uint32_t max_outstanding_r2t;
	uint32_t max_connections;
	uint32_t default_time2wait;
	uint32_t default_time2retain;
	uint32_t max_erl;    /* highest ErrorRecoveryLevel we accept */
	bool initial_r2t;    /* what we prefer (OR: yes wins) */
	bool immediate_data; /* what we prefer (AND: no wins) */
	bool data_pdu_in_order;
	bool data_sequence_in_order;
	bool allow_header_digest;
	bool allow_data_digest;
	/* Liveness (not negotiated): a NOP-In ping after nop_interval_ms of
	 * silence (0: never ping), the connection dropped when nothing
	 * arrives within nop_timeout_ms of a ping. */
	uint32_t nop_interval_ms;
	uint32_t nop_timeout_ms;
};

void iscsi_limits_default(struct iscsi_limits *lim);

/* The values in force for a session/connection once login ends. */
struct iscsi_params {
	bool header_digest; /* CRC32C */
	bool data_digest;
	uint32_t max_recv_dsl; /* largest data segment we accept */
	uint32_t max_xmit_dsl; /* largest data segment we send (initiator's) */
	uint32_t max_connections;
	bool initial_r2t;
	bool immediate_data;
	uint32_t max_burst_length;
	uint32_t first_burst_length;
	uint32_t default_time2wait;
	uint32_t default_time2retain;
	uint32_t max_outstanding_r2t;
	bool data_pdu_in_order;
	bool data_sequence_in_order;
	uint32_t error_recovery_level;
	bool discovery; /* SessionType=Discovery */
	char initiator_name[ISCSI_NAME_MAX];
	char initiator_alias[256];
	char target_name[ISCSI_NAME_MAX]; /* empty for discovery */
};

enum iscsi_stage {
	ISCSI_STAGE_SECURITY = 0,
	ISCSI_STAGE_OPERATIONAL = 1,
	ISCSI_STAGE_FULL_FEATURE = 3,
};

/* A security key (AuthMethod, CHAP_*) handed back to the login layer:
 * the key's name, and its value in the request's data (NUL-terminated
 * there), valid as long as that data is. */
struct iscsi_kv {
	const char *key;
	const char *val;
};

/* The longest value of a deferred key (CHAP_C and CHAP_R in hex or
 * base64 of up to 1024 bytes' worth are longer than any we accept). */
#define ISCSI_KV_VAL_MAX 1023

#define ISCSI_NEG_MAX_DEFERRED 8

/* Negotiation state across the PDUs of one login (or text exchange). */
struct iscsi_neg {
	struct iscsi_params p;
	const struct iscsi_limits *lim;
	uint64_t seen;	   /* bit per key id: the initiator sent it */
	uint64_t answered; /* bit per key id: we have answered or declared it */
	unsigned nr_deferred;
	struct iscsi_kv deferred[ISCSI_NEG_MAX_DEFERRED];
	/* true (the iscsi_neg_init default) for the leading connection of a
	 * session; clear it for a login that adds a connection (TSIH != 0)
	 * so that leading-only (LO) keys fail the login. */
	bool leading;
};

/* Sets p to the RFC 7143 defaults (§13) and the target's max_recv_dsl. */
void iscsi_neg_init(struct iscsi_neg *n, const struct iscsi_limits *lim);

/*
 * Processes the key=value pairs of one Login or Text request in the given
 * stage, appending the target's answers to out:
 *  - declarative keys (InitiatorName, InitiatorAlias, TargetName,
 *    SessionType, MaxRecvDataSegmentLength...) are stored in n->p;
 *  - negotiated keys get the result of their rule (min, max, AND, OR,
 *    list selection) or "Reject" for an out-of-range/ill-formed value,
 *    "Irrelevant" where RFC 7143 says so (e.g. FirstBurstLength with
 *    InitialR2T=Yes and ImmediateData=No, session keys in discovery);
 *  - unknown keys are answered "NotUnderstood" (X- and X# keys too);
 *  - security keys (AuthMethod, CHAP_A/I/C/N/R) are copied, in order, to
 *    n->deferred for the login layer, which answers them itself;
 *  - a key sent twice, or a leading-only key in a non-leading context, or
 *    an operational key in the security stage that the RFC forbids there,
 *    fails the login.
 * Returns ISCSI_LOGIN_OK or the login status to fail with.
 */
uint16_t iscsi_neg_process(struct iscsi_neg *n, enum iscsi_stage stage,
			   const char *data, size_t len,
			   struct iscsi_text *out);

/*
 * Appends the target's declarations and offers that the initiator has not
 * sent yet but that must be settled before the Full Feature Phase (our
 * MaxRecvDataSegmentLength at least). Call once when about to leave the
 * operational stage; returns 0 or -ENOMEM.
 */
int iscsi_neg_finish(struct iscsi_neg *n, struct iscsi_text *out);

/*
 * True while the target has offered a key (from iscsi_neg_finish, only when
 * our limits make an RFC default unacceptable) that the initiator has not
 * answered yet: the login must not move to the next stage until it has.
 */
bool iscsi_neg_pending(const struct iscsi_neg *n);

#endif
