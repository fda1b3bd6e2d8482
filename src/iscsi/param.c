/*
 * iSCSI text keys: the "key=value\0" wire form (RFC 7143 §6.1), the
 * negotiation rules (§6.2: list selection, simple-value min/max/AND/OR,
 * declarations, Reject/Irrelevant/NotUnderstood, no key negotiated twice),
 * the login stages keys may appear in (§6.3, §13 "Use"), and every key of
 * §13 plus TaskReporting and iSCSIProtocolLevel (RFC 7144). One table,
 * iscsi_keys[], holds each key's rule, range, default, scope and where the
 * result lives; validation, negotiation and the target's answers and offers
 * are all derived from it. Security keys (AuthMethod, CHAP_*) are only
 * checked for placement here and handed to the login layer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iscsi/param.h"
#include "scsi/target.h"
#include "util/bytes.h"
#include "util/utf8.h"

#define ISCSI_KEY_NAME_MAX   63	  /* RFC 7143 §6.1 */
#define ISCSI_VALUE_MAX	     8192 /* RFC 7143 §6.1: longest value */
#define ISCSI_TEXT_VALUE_MAX 255  /* RFC 7143 §6.1: text-value, alias */
#define ISCSI_DSL_MIN	     512
#define ISCSI_DSL_MAX	     16777215 /* 2^24 - 1 */

/* ---- growable key=value buffer ---------------------------------------- */

void iscsi_text_init(struct iscsi_text *t)
{
	t->buf = NULL;
	t->len = 0;
	t->cap = 0;
}

void iscsi_text_free(struct iscsi_text *t)
{
	free(t->buf);
	iscsi_text_init(t);
}

static int iscsi_text_reserve(struct iscsi_text *t, size_t extra)
{
	size_t need, cap;
	char *buf;

	if (extra > SIZE_MAX - t->len)
		return -ENOMEM;
	need = t->len + extra;
	if (need <= t->cap)
		return 0;
	cap = t->cap ? t->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	buf = realloc(t->buf, cap);
	if (!buf)
		return -ENOMEM;
	t->buf = buf;
	t->cap = cap;
	return 0;
}

int iscsi_text_add(struct iscsi_text *t, const char *key, const char *fmt, ...)
{
	size_t klen = strlen(key), need;
	va_list ap, ap2;
	int vlen, rc;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	vlen = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (vlen < 0) {
		va_end(ap2);
		return -EINVAL;
	}
	need = klen + 1 + (size_t)vlen + 1;
	rc = iscsi_text_reserve(t, need);
	if (rc) {
		va_end(ap2);
		return rc;
	}
	memcpy(t->buf + t->len, key, klen);
	t->buf[t->len + klen] = '=';
	vsnprintf(t->buf + t->len + klen + 1, (size_t)vlen + 1, fmt, ap2);
	va_end(ap2);
	t->len += need;
	return 0;
}

int iscsi_text_next(const char *data, size_t len, size_t *pos, const char **key,
		    size_t *keylen, const char **val, size_t *vallen)
{
	const char *start, *end, *eq;
	size_t p = *pos, plen, klen, vlen, i;

	if (p == len)
		return 0;
	if (p > len || !data || data[len - 1] != '\0')
		return -EINVAL;
	start = data + p;
	end = memchr(start, '\0', len - p); /* found: data ends with NUL */
	plen = (size_t)(end - start);
	if (plen == 0) {
		/*
		 * Some initiators count the NUL padding of the data segment
		 * in its length: trailing NULs end the list, but an empty
		 * entry followed by more pairs is malformed.
		 */
		for (i = p; i < len; i++)
			if (data[i] != '\0')
				return -EINVAL;
		*pos = len;
		return 0;
	}
	eq = memchr(start, '=', plen);
	if (!eq)
		return -EINVAL;
	klen = (size_t)(eq - start);
	vlen = plen - klen - 1;
	if (klen == 0 || klen > ISCSI_KEY_NAME_MAX || vlen > ISCSI_VALUE_MAX)
		return -EINVAL;
	*key = start;
	*keylen = klen;
	*val = eq + 1;
	*vallen = vlen;
	*pos = p + plen + 1;
	return 1;
}

/* ---- limits ----------------------------------------------------------- */

static const struct iscsi_limits iscsi_limits_builtin = {
    .max_recv_dsl = 262144,
    .max_burst_length = 1048576,
    .first_burst_length = 262144,
    .max_outstanding_r2t = 8,
    .max_connections = 1,
    .default_time2wait = 2,
    .default_time2retain = 20,
    .max_erl = 0,
    .initial_r2t = false,
    .immediate_data = true,
    .data_pdu_in_order = true,
    .data_sequence_in_order = true,
    .allow_header_digest = true,
    .allow_data_digest = true,
    /* 60 s to answer: some initiators stop servicing their connection for
     * long stretches (libiscsi's Sanitize tests sleep 60 s between
     * commands); tgt and LIO are no stricter. */
    .nop_interval_ms = 10000,
    .nop_timeout_ms = 60000,
};

void iscsi_limits_default(struct iscsi_limits *lim)
{
	*lim = iscsi_limits_builtin;
}

/* ---- the key table ---------------------------------------------------- */

enum iscsi_key_id {
	KEY_HEADER_DIGEST,
	KEY_DATA_DIGEST,
	KEY_MAX_CONNECTIONS,
	KEY_SEND_TARGETS,
	KEY_TARGET_NAME,
	KEY_INITIATOR_NAME,
	KEY_TARGET_ALIAS,
	KEY_INITIATOR_ALIAS,
	KEY_TARGET_ADDRESS,
	KEY_TARGET_PORTAL_GROUP_TAG,
	KEY_INITIAL_R2T,
	KEY_IMMEDIATE_DATA,
	KEY_MAX_RECV_DSL,
	KEY_MAX_BURST_LENGTH,
	KEY_FIRST_BURST_LENGTH,
	KEY_DEFAULT_TIME2WAIT,
	KEY_DEFAULT_TIME2RETAIN,
	KEY_MAX_OUTSTANDING_R2T,
	KEY_DATA_PDU_IN_ORDER,
	KEY_DATA_SEQUENCE_IN_ORDER,
	KEY_ERROR_RECOVERY_LEVEL,
	KEY_SESSION_TYPE,
	KEY_TASK_REPORTING,
	KEY_PROTOCOL_LEVEL,
	KEY_OF_MARKER,
	KEY_IF_MARKER,
	KEY_OF_MARK_INT,
	KEY_IF_MARK_INT,
	KEY_AUTH_METHOD,
	KEY_CHAP_A,
	KEY_CHAP_I,
	KEY_CHAP_C,
	KEY_CHAP_N,
	KEY_CHAP_R,
	KEY_COUNT
};

_Static_assert(KEY_COUNT <= 64, "seen/answered are 64-bit masks");

enum iscsi_key_type {
	KT_BOOL_AND,  /* Yes/No, result function AND */
	KT_BOOL_OR,   /* Yes/No, result function OR */
	KT_NUM_MIN,   /* numerical, result function Minimum */
	KT_NUM_MAX,   /* numerical, result function Maximum */
	KT_NUM_DECL,  /* numerical declaration (each side its own) */
	KT_LIST,      /* list of values: first one we support */
	KT_NAME_DECL, /* iSCSI name, declarative */
	KT_TEXT_DECL, /* free text (alias, address), declarative */
	KT_ENUM_DECL, /* one of choices[], declarative */
	KT_OBSOLETE,  /* RFC 7143 obsoleted keys: always answered "Reject" */
	KT_DEFERRED,  /* answered by the login/text layer */
};

/* RFC 7143 §13 "Use": where in the life of a connection a key may appear. */
enum iscsi_key_use {
	KU_LO,	 /* leading-only: leading login of a session */
	KU_IO,	 /* initialize-only: login of any connection */
	KU_ALL,	 /* login and Full Feature Phase */
	KU_FFPO, /* Full Feature Phase only */
};

enum iscsi_key_scope { KSC_SW, KSC_CO };

#define KS_INITIATOR 0x1
#define KS_TARGET    0x2

#define KF_ANY_STAGE 0x01 /* may also appear in the security stage */
#define KF_SECURITY  0x02 /* security stage only (§12) */
#define KF_IRR_DISC  0x04 /* "Irrelevant when: SessionType=Discovery" */
#define KF_NOT_DISC  0x08 /* ignored (not stored) in discovery sessions */

#define NO_FIELD   (-1)
#define P_FIELD(f) ((int)offsetof(struct iscsi_params, f))
#define P_SIZE(f)  (sizeof(((struct iscsi_params *)0)->f))
#define L_FIELD(f) ((int)offsetof(struct iscsi_limits, f))

struct iscsi_key_def {
	const char *name;
	enum iscsi_key_type type;
	enum iscsi_key_use use;
	enum iscsi_key_scope scope;
	unsigned senders;
	unsigned flags;
	/*
	 * Processing order within one PDU: SessionType (0) before the keys
	 * whose relevance depends on it, InitialR2T, ImmediateData and
	 * MaxBurstLength (1) before FirstBurstLength, which depends on them.
	 */
	unsigned pass;
	uint32_t min, max;
	uint32_t def;	/* RFC default; an index into choices[] for lists */
	int p_off;	/* result in struct iscsi_params, or NO_FIELD */
	size_t p_size;	/* size of a string result field */
	int lim_off;	/* our value in struct iscsi_limits, or NO_FIELD */
	uint32_t fixed; /* our value when lim_off is NO_FIELD */
	const char *const *choices;
	unsigned nr_choices;
	uint16_t bad_status; /* login status for an invalid declaration */
};

/* For digests, choices after the first need the lim_off flag. */
static const char *const iscsi_digest_choices[] = {"None", "CRC32C"};
static const char *const iscsi_task_reporting_choices[] = {"RFC3720"};
static const char *const iscsi_session_type_choices[] = {"Normal", "Discovery"};

#define I  KS_INITIATOR
#define T  KS_TARGET
#define IT (KS_INITIATOR | KS_TARGET)
/* Result field and choices expand to designated initializers. */
#define NONE	   .p_off = NO_FIELD
#define P_NUM(f)   .p_off = P_FIELD(f)
#define P_STR(f)   .p_off = P_FIELD(f), .p_size = P_SIZE(f)
#define CHOICES(a) .choices = a, .nr_choices = sizeof(a) / sizeof(a[0])
#define NO_CHOICES .choices = NULL

#define KEY(nm, ty, us, sc, snd, fl, ps, lo, hi, df, p, lim, fx, ch, bad)      \
	{                                                                      \
		.name = nm, .type = ty, .use = us, .scope = sc,                \
		.senders = snd, .flags = fl, .pass = ps, .min = lo, .max = hi, \
		.def = df, p, .lim_off = lim, .fixed = fx, ch,                 \
		.bad_status = bad,                                             \
	}

/*
 * RFC 7143 §13 (and RFC 7144 §13.1 for iSCSIProtocolLevel). Columns: key,
 * rule, use, scope, who may send it, flags, pass, range, default, result
 * field, our limit (or fixed value), list choices, status for a bad
 * declaration.
 */
/* clang-format off */
static const struct iscsi_key_def iscsi_keys[KEY_COUNT] = {
[KEY_HEADER_DIGEST] = KEY("HeaderDigest", KT_LIST, KU_IO, KSC_CO, IT, 0, 2,
	0, 0, 0, P_NUM(header_digest), L_FIELD(allow_header_digest), 0,
	CHOICES(iscsi_digest_choices), 0),
[KEY_DATA_DIGEST] = KEY("DataDigest", KT_LIST, KU_IO, KSC_CO, IT, 0, 2,
	0, 0, 0, P_NUM(data_digest), L_FIELD(allow_data_digest), 0,
	CHOICES(iscsi_digest_choices), 0),
[KEY_MAX_CONNECTIONS] = KEY("MaxConnections", KT_NUM_MIN, KU_LO, KSC_SW, IT,
	KF_IRR_DISC, 2, 1, 65535, 1, P_NUM(max_connections),
	L_FIELD(max_connections), 0, NO_CHOICES, 0),
[KEY_SEND_TARGETS] = KEY("SendTargets", KT_DEFERRED, KU_FFPO, KSC_SW, I,
	0, 2, 0, 0, 0, NONE, NO_FIELD, 0, NO_CHOICES, 0),
[KEY_TARGET_NAME] = KEY("TargetName", KT_NAME_DECL, KU_IO, KSC_SW, IT,
	KF_ANY_STAGE | KF_NOT_DISC, 2, 0, 0, 0, P_STR(target_name),
	NO_FIELD, 0, NO_CHOICES, ISCSI_LOGIN_INIT_ERR),
[KEY_INITIATOR_NAME] = KEY("InitiatorName", KT_NAME_DECL, KU_IO, KSC_SW, I,
	KF_ANY_STAGE, 2, 0, 0, 0, P_STR(initiator_name), NO_FIELD, 0,
	NO_CHOICES, ISCSI_LOGIN_INIT_ERR),
[KEY_TARGET_ALIAS] = KEY("TargetAlias", KT_TEXT_DECL, KU_ALL, KSC_SW, T,
	KF_ANY_STAGE, 2, 0, 0, 0, NONE, NO_FIELD, 0, NO_CHOICES,
	ISCSI_LOGIN_INIT_ERR),
[KEY_INITIATOR_ALIAS] = KEY("InitiatorAlias", KT_TEXT_DECL, KU_ALL, KSC_SW, I,
	KF_ANY_STAGE, 2, 0, 0, 0, P_STR(initiator_alias), NO_FIELD, 0,
	NO_CHOICES, ISCSI_LOGIN_INIT_ERR),
[KEY_TARGET_ADDRESS] = KEY("TargetAddress", KT_TEXT_DECL, KU_ALL, KSC_SW, T,
	KF_ANY_STAGE, 2, 0, 0, 0, NONE, NO_FIELD, 0, NO_CHOICES,
	ISCSI_LOGIN_INIT_ERR),
[KEY_TARGET_PORTAL_GROUP_TAG] = KEY("TargetPortalGroupTag", KT_TEXT_DECL,
	KU_IO, KSC_SW, T, KF_ANY_STAGE, 2, 0, 0, 0, NONE, NO_FIELD, 0,
	NO_CHOICES, ISCSI_LOGIN_INIT_ERR),
[KEY_INITIAL_R2T] = KEY("InitialR2T", KT_BOOL_OR, KU_LO, KSC_SW, IT,
	KF_IRR_DISC, 1, 0, 1, 1, P_NUM(initial_r2t), L_FIELD(initial_r2t), 0,
	NO_CHOICES, 0),
[KEY_IMMEDIATE_DATA] = KEY("ImmediateData", KT_BOOL_AND, KU_LO, KSC_SW, IT,
	KF_IRR_DISC, 1, 0, 1, 1, P_NUM(immediate_data),
	L_FIELD(immediate_data), 0, NO_CHOICES, 0),
[KEY_MAX_RECV_DSL] = KEY("MaxRecvDataSegmentLength", KT_NUM_DECL, KU_ALL,
	KSC_CO, IT, 0, 2, ISCSI_DSL_MIN, ISCSI_DSL_MAX, 8192,
	P_NUM(max_xmit_dsl), L_FIELD(max_recv_dsl), 0, NO_CHOICES, 0),
[KEY_MAX_BURST_LENGTH] = KEY("MaxBurstLength", KT_NUM_MIN, KU_LO, KSC_SW, IT,
	KF_IRR_DISC, 1, ISCSI_DSL_MIN, ISCSI_DSL_MAX, 262144,
	P_NUM(max_burst_length), L_FIELD(max_burst_length), 0, NO_CHOICES, 0),
[KEY_FIRST_BURST_LENGTH] = KEY("FirstBurstLength", KT_NUM_MIN, KU_LO, KSC_SW,
	IT, KF_IRR_DISC, 2, ISCSI_DSL_MIN, ISCSI_DSL_MAX, 65536,
	P_NUM(first_burst_length), L_FIELD(first_burst_length), 0,
	NO_CHOICES, 0),
[KEY_DEFAULT_TIME2WAIT] = KEY("DefaultTime2Wait", KT_NUM_MAX, KU_LO, KSC_SW,
	IT, 0, 2, 0, 3600, 2, P_NUM(default_time2wait),
	L_FIELD(default_time2wait), 0, NO_CHOICES, 0),
[KEY_DEFAULT_TIME2RETAIN] = KEY("DefaultTime2Retain", KT_NUM_MIN, KU_LO,
	KSC_SW, IT, 0, 2, 0, 3600, 20, P_NUM(default_time2retain),
	L_FIELD(default_time2retain), 0, NO_CHOICES, 0),
[KEY_MAX_OUTSTANDING_R2T] = KEY("MaxOutstandingR2T", KT_NUM_MIN, KU_LO,
	KSC_SW, IT, KF_IRR_DISC, 2, 1, 65535, 1, P_NUM(max_outstanding_r2t),
	L_FIELD(max_outstanding_r2t), 0, NO_CHOICES, 0),
[KEY_DATA_PDU_IN_ORDER] = KEY("DataPDUInOrder", KT_BOOL_OR, KU_LO, KSC_SW,
	IT, KF_IRR_DISC, 2, 0, 1, 1, P_NUM(data_pdu_in_order),
	L_FIELD(data_pdu_in_order), 0, NO_CHOICES, 0),
[KEY_DATA_SEQUENCE_IN_ORDER] = KEY("DataSequenceInOrder", KT_BOOL_OR, KU_LO,
	KSC_SW, IT, KF_IRR_DISC, 2, 0, 1, 1, P_NUM(data_sequence_in_order),
	L_FIELD(data_sequence_in_order), 0, NO_CHOICES, 0),
[KEY_ERROR_RECOVERY_LEVEL] = KEY("ErrorRecoveryLevel", KT_NUM_MIN, KU_LO,
	KSC_SW, IT, 0, 2, 0, 2, 0, P_NUM(error_recovery_level),
	L_FIELD(max_erl), 0, NO_CHOICES, 0),
[KEY_SESSION_TYPE] = KEY("SessionType", KT_ENUM_DECL, KU_LO, KSC_SW, I,
	KF_ANY_STAGE, 0, 0, 0, 0, P_NUM(discovery), NO_FIELD, 0,
	CHOICES(iscsi_session_type_choices),
	ISCSI_LOGIN_SESSION_TYPE_UNSUPPORTED),
[KEY_TASK_REPORTING] = KEY("TaskReporting", KT_LIST, KU_LO, KSC_SW, IT,
	KF_IRR_DISC, 2, 0, 0, 0, NONE, NO_FIELD, 0,
	CHOICES(iscsi_task_reporting_choices), 0),
/* RFC 7144 §13.1: we implement RFC 7143, which is level 1. */
[KEY_PROTOCOL_LEVEL] = KEY("iSCSIProtocolLevel", KT_NUM_MIN, KU_LO, KSC_SW,
	IT, KF_IRR_DISC, 2, 0, 31, 1, NONE, NO_FIELD, 1, NO_CHOICES, 0),
/* RFC 7143 obsoleted keys: markers are gone; "No" is an allowed answer. */
[KEY_OF_MARKER] = KEY("OFMarker", KT_BOOL_AND, KU_IO, KSC_CO, IT, 0, 2,
	0, 1, 0, NONE, NO_FIELD, 0, NO_CHOICES, 0),
[KEY_IF_MARKER] = KEY("IFMarker", KT_BOOL_AND, KU_IO, KSC_CO, IT, 0, 2,
	0, 1, 0, NONE, NO_FIELD, 0, NO_CHOICES, 0),
/* RFC 7143 obsoleted keys: the intervals MUST be answered "Reject". */
[KEY_OF_MARK_INT] = KEY("OFMarkInt", KT_OBSOLETE, KU_IO, KSC_CO, IT, 0, 2,
	0, 0, 0, NONE, NO_FIELD, 0, NO_CHOICES, 0),
[KEY_IF_MARK_INT] = KEY("IFMarkInt", KT_OBSOLETE, KU_IO, KSC_CO, IT, 0, 2,
	0, 0, 0, NONE, NO_FIELD, 0, NO_CHOICES, 0),
/* RFC 7143 §12: answered by the login layer (chap.c). */
[KEY_AUTH_METHOD] = KEY("AuthMethod", KT_DEFERRED, KU_IO, KSC_CO, IT,
	KF_SECURITY, 2, 0, 0, 0, NONE, NO_FIELD, 0, NO_CHOICES, 0),
[KEY_CHAP_A] = KEY("CHAP_A", KT_DEFERRED, KU_IO, KSC_CO, IT, KF_SECURITY, 2,
	0, 0, 0, NONE, NO_FIELD, 0, NO_CHOICES, 0),
[KEY_CHAP_I] = KEY("CHAP_I", KT_DEFERRED, KU_IO, KSC_CO, IT, KF_SECURITY, 2,
	0, 0, 0, NONE, NO_FIELD, 0, NO_CHOICES, 0),
[KEY_CHAP_C] = KEY("CHAP_C", KT_DEFERRED, KU_IO, KSC_CO, IT, KF_SECURITY, 2,
	0, 0, 0, NONE, NO_FIELD, 0, NO_CHOICES, 0),
[KEY_CHAP_N] = KEY("CHAP_N", KT_DEFERRED, KU_IO, KSC_CO, IT, KF_SECURITY, 2,
	0, 0, 0, NONE, NO_FIELD, 0, NO_CHOICES, 0),
[KEY_CHAP_R] = KEY("CHAP_R", KT_DEFERRED, KU_IO, KSC_CO, IT, KF_SECURITY, 2,
	0, 0, 0, NONE, NO_FIELD, 0, NO_CHOICES, 0),
};
/* clang-format on */

#undef I
#undef T
#undef IT
#undef NONE
#undef P_NUM
#undef P_STR
#undef CHOICES
#undef NO_CHOICES
#undef KEY

#define KEY_BIT(id) (UINT64_C(1) << (id))
#define NR_PASSES   3

static int iscsi_key_lookup(const char *key, size_t keylen)
{
	for (int id = 0; id < KEY_COUNT; id++) {
		const char *name = iscsi_keys[id].name;

		if (strlen(name) == keylen && memcmp(name, key, keylen) == 0)
			return id;
	}
	return -1;
}

static bool *iscsi_param_bool(struct iscsi_params *p, int off)
{
	return (bool *)((char *)p + off);
}

static uint32_t *iscsi_param_u32(struct iscsi_params *p, int off)
{
	return (uint32_t *)((char *)p + off);
}

static bool iscsi_our_bool(const struct iscsi_neg *n,
			   const struct iscsi_key_def *def)
{
	if (def->lim_off == NO_FIELD)
		return def->fixed != 0;
	return *(const bool *)((const char *)n->lim + def->lim_off);
}

/* Our configured value, forced into the key's range: a misconfigured
 * limit must not make us answer out of range. */
static uint32_t iscsi_our_limit(const struct iscsi_neg *n, int id)
{
	const struct iscsi_key_def *def = &iscsi_keys[id];
	uint32_t v = def->fixed;

	if (def->lim_off != NO_FIELD)
		v = *(const uint32_t *)((const char *)n->lim + def->lim_off);
	if (v < def->min)
		v = def->min;
	if (v > def->max)
		v = def->max;
	return v;
}

/* The value we negotiate with: our limit, and for FirstBurstLength never
 * above the MaxBurstLength in force (§13.14). */
static uint32_t iscsi_our_number(const struct iscsi_neg *n, int id)
{
	uint32_t v = iscsi_our_limit(n, id);

	if (id == KEY_FIRST_BURST_LENGTH && v > n->p.max_burst_length)
		v = n->p.max_burst_length;
	return v;
}

/* ---- value syntax (RFC 7143 §6.1) ------------------------------------- */

/* RFC 7143 §6.1 key-name: a letter, then letters, digits and ".-+@_"
 * (lower-case first letters exist: iSCSIProtocolLevel), plus the "X#"
 * prefix of IANA-registered extension keys (X#NodeArchitecture...). */
static bool iscsi_key_name_valid(const char *k, size_t len)
{
	if (len == 0 ||
	    !((k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z')))
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = k[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		    c == '+' || c == '@' || c == '_')
			continue;
		if (c == '#' && i == 1 && k[0] == 'X')
			continue;
		return false;
	}
	return true;
}

/* numerical-value: decimal-constant or hex-constant below 2^64. */
static int iscsi_parse_number(const char *v, size_t len, uint64_t *out)
{
	uint64_t x = 0;

	if (len > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		for (size_t i = 2; i < len; i++) {
			int d = hex_digit_value(v[i]);

			if (d < 0 || x > (UINT64_MAX >> 4))
				return -EINVAL;
			x = (x << 4) | (uint64_t)d;
		}
		*out = x;
		return 0;
	}
	/* decimal-constant: "0" or a digit 1-9 followed by digits. */
	if (len == 0 || (v[0] == '0' && len > 1))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		d = (unsigned)(v[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -EINVAL;
		x = x * 10 + d;
	}
	*out = x;
	return 0;
}

static int iscsi_parse_bool(const char *v, size_t len, bool *out)
{
	if (len == 3 && memcmp(v, "Yes", 3) == 0) {
		*out = true;
		return 0;
	}
	if (len == 2 && memcmp(v, "No", 2) == 0) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static bool iscsi_value_is(const char *v, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(v, word, len) == 0;
}

/* Alias text: at most 255 bytes (§6.1) of UTF-8 and no control
 * characters, since it ends up in logs, JSON and administrators'
 * terminals. */
static bool iscsi_text_value_valid(const char *v, size_t len)
{
	if (len > ISCSI_TEXT_VALUE_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return utf8_valid(v, len);
}

/* ---- answers ---------------------------------------------------------- */

static uint16_t iscsi_answer(struct iscsi_neg *n, int id,
			     struct iscsi_text *out, const char *value)
{
	if (iscsi_text_add(out, iscsi_keys[id].name, "%s", value) < 0)
		return ISCSI_LOGIN_OUT_OF_RESOURCES;
	n->answered |= KEY_BIT(id);
	return ISCSI_LOGIN_OK;
}

static uint16_t iscsi_answer_number(struct iscsi_neg *n, int id,
				    struct iscsi_text *out, uint32_t value)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%" PRIu32, value);
	return iscsi_answer(n, id, out, buf);
}

/* ---- negotiation of one key ------------------------------------------- */

static bool iscsi_key_allowed(const struct iscsi_key_def *def,
			      enum iscsi_stage stage)
{
	switch (stage) {
	case ISCSI_STAGE_SECURITY:
		return (def->flags & (KF_SECURITY | KF_ANY_STAGE)) != 0;
	case ISCSI_STAGE_OPERATIONAL:
		return def->use != KU_FFPO && !(def->flags & KF_SECURITY);
	case ISCSI_STAGE_FULL_FEATURE:
		return def->use == KU_ALL || def->use == KU_FFPO;
	}
	return false;
}

static bool iscsi_key_irrelevant(const struct iscsi_neg *n, int id)
{
	if ((iscsi_keys[id].flags & KF_IRR_DISC) && n->p.discovery)
		return true;
	/* §13.14: no unsolicited data at all, so no first burst. */
	return id == KEY_FIRST_BURST_LENGTH && n->p.initial_r2t &&
	       !n->p.immediate_data;
}

/* First value of the initiator's list that we support: its index in
 * choices[], -ENOENT if none is, -EINVAL for an empty list element. */
static int iscsi_list_select(const struct iscsi_neg *n,
			     const struct iscsi_key_def *def, const char *v,
			     size_t len)
{
	size_t start = 0;
	int found = -ENOENT;

	while (start <= len) {
		const char *comma = memchr(v + start, ',', len - start);
		size_t end = comma ? (size_t)(comma - v) : len;
		size_t elen = end - start;

		if (elen == 0 || elen > ISCSI_TEXT_VALUE_MAX)
			return -EINVAL;
		for (unsigned i = 0; found < 0 && i < def->nr_choices; i++) {
			if (!iscsi_value_is(v + start, elen, def->choices[i]))
				continue;
			if (i > 0 && def->lim_off != NO_FIELD &&
			    !iscsi_our_bool(n, def))
				continue;
			found = (int)i;
		}
		start = end + 1;
	}
	return found;
}

static uint16_t iscsi_defer(struct iscsi_neg *n, int id, const char *v,
			    size_t len)
{
	struct iscsi_kv *kv;

	/* v ends at the NUL that ends its pair (iscsi_text_next). */
	if (n->nr_deferred >= ISCSI_NEG_MAX_DEFERRED || len > ISCSI_KV_VAL_MAX)
		return ISCSI_LOGIN_INIT_ERR;
	kv = &n->deferred[n->nr_deferred++];
	kv->key = iscsi_keys[id].name;
	kv->val = v;
	return ISCSI_LOGIN_OK;
}

/* The initiator answering a key we offered (or declared) first. */
static uint16_t iscsi_neg_response(struct iscsi_neg *n, int id, const char *v,
				   size_t len, struct iscsi_text *out)
{
	const struct iscsi_key_def *def = &iscsi_keys[id];
	uint64_t x;
	bool b;

	switch (def->type) {
	case KT_NUM_DECL:
		/* Its own declaration, made after ours: nothing to answer. */
		if (iscsi_parse_number(v, len, &x) || x < def->min ||
		    x > def->max)
			return iscsi_answer(n, id, out, "Reject");
		*iscsi_param_u32(&n->p, def->p_off) = (uint32_t)x;
		return ISCSI_LOGIN_OK;
	case KT_NUM_MIN:
		if (iscsi_parse_number(v, len, &x) || x < def->min ||
		    x > iscsi_our_number(n, id))
			return ISCSI_LOGIN_INIT_ERR;
		*iscsi_param_u32(&n->p, def->p_off) = (uint32_t)x;
		return ISCSI_LOGIN_OK;
	case KT_BOOL_AND:
		if (iscsi_parse_bool(v, len, &b) ||
		    (b && !iscsi_our_bool(n, def)))
			return ISCSI_LOGIN_INIT_ERR;
		*iscsi_param_bool(&n->p, def->p_off) = b;
		return ISCSI_LOGIN_OK;
	default:
		/* We never offer any other kind of key. */
		return ISCSI_LOGIN_INIT_ERR;
	}
}

static uint16_t iscsi_neg_session_type(struct iscsi_neg *n, int id,
				       const char *v, size_t len)
{
	const struct iscsi_key_def *def = &iscsi_keys[id];
	uint64_t depends = 0;

	for (int k = 0; k < KEY_COUNT; k++)
		if (iscsi_keys[k].flags & KF_IRR_DISC)
			depends |= KEY_BIT(k);
	/* Keys already settled for one session type: too late to change. */
	if (n->seen & depends)
		return ISCSI_LOGIN_INIT_ERR;
	for (unsigned i = 0; i < def->nr_choices; i++) {
		if (!iscsi_value_is(v, len, def->choices[i]))
			continue;
		*iscsi_param_bool(&n->p, def->p_off) = i != 0;
		if (n->p.discovery)
			n->p.target_name[0] = '\0';
		return ISCSI_LOGIN_OK;
	}
	return def->bad_status;
}

static uint16_t iscsi_neg_one(struct iscsi_neg *n, enum iscsi_stage stage,
			      int id, const char *v, size_t len,
			      struct iscsi_text *out)
{
	const struct iscsi_key_def *def = &iscsi_keys[id];
	uint64_t bit = KEY_BIT(id), x;
	uint32_t ours, res;
	bool b;
	int idx;

	/* §6.2: a key negotiated twice fails the login. */
	if (n->seen & bit)
		return ISCSI_LOGIN_INIT_ERR;
	n->seen |= bit;
	if (!(def->senders & KS_INITIATOR) || !iscsi_key_allowed(def, stage))
		return ISCSI_LOGIN_INIT_ERR;
	if (def->use == KU_LO && !n->leading)
		return ISCSI_LOGIN_INIT_ERR;
	if (def->type == KT_DEFERRED)
		return iscsi_defer(n, id, v, len);
	/* §6.2: these values are themselves answers: none is due. */
	if (iscsi_value_is(v, len, "NotUnderstood") ||
	    iscsi_value_is(v, len, "Irrelevant") ||
	    iscsi_value_is(v, len, "Reject")) {
		n->answered |= bit;
		return ISCSI_LOGIN_OK;
	}
	if (n->answered & bit)
		return iscsi_neg_response(n, id, v, len, out);
	if (iscsi_key_irrelevant(n, id))
		return iscsi_answer(n, id, out, "Irrelevant");

	switch (def->type) {
	case KT_BOOL_AND:
	case KT_BOOL_OR:
		if (iscsi_parse_bool(v, len, &b))
			return iscsi_answer(n, id, out, "Reject");
		if (def->type == KT_BOOL_AND)
			b = b && iscsi_our_bool(n, def);
		else
			b = b || iscsi_our_bool(n, def);
		if (def->p_off != NO_FIELD)
			*iscsi_param_bool(&n->p, def->p_off) = b;
		return iscsi_answer(n, id, out, b ? "Yes" : "No");
	case KT_NUM_MIN:
	case KT_NUM_MAX:
		if (iscsi_parse_number(v, len, &x) || x < def->min ||
		    x > def->max)
			return iscsi_answer(n, id, out, "Reject");
		ours = iscsi_our_number(n, id);
		if (def->type == KT_NUM_MIN)
			res = (uint32_t)x < ours ? (uint32_t)x : ours;
		else
			res = (uint32_t)x > ours ? (uint32_t)x : ours;
		if (def->p_off != NO_FIELD)
			*iscsi_param_u32(&n->p, def->p_off) = res;
		return iscsi_answer_number(n, id, out, res);
	case KT_NUM_DECL:
		if (iscsi_parse_number(v, len, &x) || x < def->min ||
		    x > def->max)
			return iscsi_answer(n, id, out, "Reject");
		*iscsi_param_u32(&n->p, def->p_off) = (uint32_t)x;
		/* Declare ours alongside, once, during login only. */
		if (stage == ISCSI_STAGE_FULL_FEATURE)
			return ISCSI_LOGIN_OK;
		return iscsi_answer_number(n, id, out, iscsi_our_number(n, id));
	case KT_LIST:
		idx = iscsi_list_select(n, def, v, len);
		if (idx < 0)
			return iscsi_answer(n, id, out, "Reject");
		if (def->p_off != NO_FIELD)
			*iscsi_param_bool(&n->p, def->p_off) = idx != 0;
		return iscsi_answer(n, id, out, def->choices[idx]);
	case KT_NAME_DECL:
	case KT_TEXT_DECL:
		if (def->type == KT_NAME_DECL ? !scsi_name_accepted(v, len)
					      : !iscsi_text_value_valid(v, len))
			return def->bad_status;
		if (def->p_off == NO_FIELD ||
		    ((def->flags & KF_NOT_DISC) && n->p.discovery))
			return ISCSI_LOGIN_OK;
		if (len >= def->p_size)
			return def->bad_status;
		memcpy((char *)&n->p + def->p_off, v, len);
		((char *)&n->p + def->p_off)[len] = '\0';
		return ISCSI_LOGIN_OK;
	case KT_ENUM_DECL:
		return iscsi_neg_session_type(n, id, v, len);
	case KT_OBSOLETE:
		return iscsi_answer(n, id, out, "Reject");
	case KT_DEFERRED:
		break;
	}
	return ISCSI_LOGIN_TARGET_ERROR;
}

void iscsi_neg_init(struct iscsi_neg *n, const struct iscsi_limits *lim)
{
	memset(n, 0, sizeof(*n));
	n->lim = lim ? lim : &iscsi_limits_builtin;
	n->leading = true;
	for (int id = 0; id < KEY_COUNT; id++) {
		const struct iscsi_key_def *def = &iscsi_keys[id];

		if (def->p_off == NO_FIELD)
			continue;
		switch (def->type) {
		case KT_BOOL_AND:
		case KT_BOOL_OR:
		case KT_LIST:
		case KT_ENUM_DECL:
			*iscsi_param_bool(&n->p, def->p_off) = def->def != 0;
			break;
		case KT_NUM_MIN:
		case KT_NUM_MAX:
		case KT_NUM_DECL:
			*iscsi_param_u32(&n->p, def->p_off) = def->def;
			break;
		default:
			break; /* strings start empty */
		}
	}
	n->p.max_recv_dsl = iscsi_our_number(n, KEY_MAX_RECV_DSL);
}

uint16_t iscsi_neg_process(struct iscsi_neg *n, enum iscsi_stage stage,
			   const char *data, size_t len, struct iscsi_text *out)
{
	const char *key, *val;
	size_t pos = 0, keylen, vallen;
	uint16_t status;
	int rc;

	if (!n || !out || (!data && len))
		return ISCSI_LOGIN_TARGET_ERROR;
	n->nr_deferred = 0;
	/* Reject a malformed segment before acting on any of it. */
	while ((rc = iscsi_text_next(data, len, &pos, &key, &keylen, &val,
				     &vallen)) > 0)
		if (!iscsi_key_name_valid(key, keylen))
			return ISCSI_LOGIN_INIT_ERR;
	if (rc < 0)
		return ISCSI_LOGIN_INIT_ERR;

	for (unsigned pass = 0; pass < NR_PASSES; pass++) {
		pos = 0;
		while (iscsi_text_next(data, len, &pos, &key, &keylen, &val,
				       &vallen) > 0) {
			int id = iscsi_key_lookup(key, keylen);
			char name[ISCSI_KEY_NAME_MAX + 1];

			if (id < 0) {
				/* §6.2: unknown keys, X- and X# included */
				if (pass != NR_PASSES - 1)
					continue;
				memcpy(name, key, keylen);
				name[keylen] = '\0';
				if (iscsi_text_add(out, name, "NotUnderstood"))
					return ISCSI_LOGIN_OUT_OF_RESOURCES;
				continue;
			}
			if (iscsi_keys[id].pass != pass)
				continue;
			status = iscsi_neg_one(n, stage, id, val, vallen, out);
			if (status != ISCSI_LOGIN_OK)
				return status;
		}
	}
	return ISCSI_LOGIN_OK;
}

/* A key the initiator left at its RFC default that our limits forbid. */
static bool iscsi_neg_must_offer(const struct iscsi_neg *n, int id)
{
	const struct iscsi_key_def *def = &iscsi_keys[id];

	if ((n->seen | n->answered) & KEY_BIT(id))
		return false;
	if (def->p_off == NO_FIELD || def->lim_off == NO_FIELD)
		return false;
	if (iscsi_key_irrelevant(n, id) || (def->use == KU_LO && !n->leading))
		return false;
	/* (A FirstBurstLength above a small MaxBurstLength needs no offer:
	 * both sides clamp it, §13.14.) */
	if (def->type == KT_NUM_MIN)
		return iscsi_our_limit(n, id) < def->def;
	if (def->type == KT_BOOL_AND)
		return def->def && !iscsi_our_bool(n, def);
	return false;
}

int iscsi_neg_finish(struct iscsi_neg *n, struct iscsi_text *out)
{
	int rc;

	if (!(n->answered & KEY_BIT(KEY_MAX_RECV_DSL))) {
		rc = iscsi_text_add(out, iscsi_keys[KEY_MAX_RECV_DSL].name,
				    "%" PRIu32,
				    iscsi_our_number(n, KEY_MAX_RECV_DSL));
		if (rc)
			return rc;
		n->answered |= KEY_BIT(KEY_MAX_RECV_DSL);
	}
	/* Offers happen in normal sessions only: in discovery the keys
	 * whose defaults could exceed our limits are irrelevant. */
	for (int id = 0; id < KEY_COUNT && !n->p.discovery; id++) {
		const struct iscsi_key_def *def = &iscsi_keys[id];

		if (!iscsi_neg_must_offer(n, id))
			continue;
		if (def->type == KT_NUM_MIN)
			rc = iscsi_text_add(out, def->name, "%" PRIu32,
					    iscsi_our_number(n, id));
		else
			rc = iscsi_text_add(out, def->name, "No");
		if (rc)
			return rc;
		n->answered |= KEY_BIT(id);
	}
	/* §13.14: FirstBurstLength MUST NOT exceed MaxBurstLength. */
	if (n->p.first_burst_length > n->p.max_burst_length)
		n->p.first_burst_length = n->p.max_burst_length;
	return 0;
}

bool iscsi_neg_pending(const struct iscsi_neg *n)
{
	uint64_t offerable = 0;

	for (int id = 0; id < KEY_COUNT; id++)
		if (iscsi_keys[id].type == KT_NUM_MIN ||
		    iscsi_keys[id].type == KT_BOOL_AND)
			offerable |= KEY_BIT(id);
	return (n->answered & ~n->seen & offerable) != 0;
}
