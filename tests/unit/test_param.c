/*
 * Unit tests of src/iscsi/param.c: the key=value codec (RFC 7143 §6.1) and
 * the table-driven negotiation of every key (§6.2, §13, RFC 7144), through
 * the public API of param.h only, including hostile segments.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iscsi/param.h"

/* ---- helpers ---------------------------------------------------------- */

struct seg {
	char buf[65536];
	size_t len;
};

static void seg_reset(struct seg *s)
{
	s->len = 0;
}

/* Appends "pair" and its NUL terminator. */
static void seg_add(struct seg *s, const char *pair)
{
	size_t l = strlen(pair) + 1;

	assert_true(s->len + l <= sizeof(s->buf));
	memcpy(s->buf + s->len, pair, l);
	s->len += l;
}

/* Appends "key=" followed by n copies of c. */
static void seg_add_long(struct seg *s, const char *key, char c, size_t n)
{
	size_t kl = strlen(key);

	assert_true(s->len + kl + 1 + n + 1 <= sizeof(s->buf));
	memcpy(s->buf + s->len, key, kl);
	s->buf[s->len + kl] = '=';
	memset(s->buf + s->len + kl + 1, c, n);
	s->buf[s->len + kl + 1 + n] = '\0';
	s->len += kl + 1 + n + 1;
}

/* Builds a segment from pairs, terminated by NULL. */
static void seg_build(struct seg *s, ...)
{
	va_list ap;
	const char *p;

	seg_reset(s);
	va_start(ap, s);
	while ((p = va_arg(ap, const char *)) != NULL)
		seg_add(s, p);
	va_end(ap);
}

/* Independent scan of the target's answers: value of key, or NULL. */
static const char *find_answer(const struct iscsi_text *out, const char *key)
{
	size_t kl = strlen(key), pos = 0;

	while (pos < out->len) {
		const char *pair = out->buf + pos;
		size_t pl = strlen(pair);

		if (pl > kl && memcmp(pair, key, kl) == 0 && pair[kl] == '=')
			return pair + kl + 1;
		pos += pl + 1;
	}
	return NULL;
}

static unsigned count_answers(const struct iscsi_text *out)
{
	unsigned n = 0;

	for (size_t pos = 0; pos < out->len; pos += strlen(out->buf + pos) + 1)
		n++;
	return n;
}

static void expect_answer(const struct iscsi_text *out, const char *key,
			  const char *value)
{
	const char *v = find_answer(out, key);

	if (!v)
		fail_msg("no answer for %s (expected %s)", key, value);
	assert_string_equal(v, value);
}

struct fixture {
	struct iscsi_limits lim;
	struct iscsi_neg neg;
	struct iscsi_text out;
	struct seg seg;
};

static int fx_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	iscsi_limits_default(&f->lim);
	iscsi_neg_init(&f->neg, &f->lim);
	iscsi_text_init(&f->out);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fixture *f = *state;

	iscsi_text_free(&f->out);
	free(f);
	return 0;
}

/* Restarts the negotiation (after changing f->lim, say). */
static void fx_restart(struct fixture *f)
{
	iscsi_neg_init(&f->neg, &f->lim);
	iscsi_text_free(&f->out);
	iscsi_text_init(&f->out);
}

static uint16_t fx_process(struct fixture *f, enum iscsi_stage stage)
{
	return iscsi_neg_process(&f->neg, stage, f->seg.buf, f->seg.len,
				 &f->out);
}

/* Negotiates one pair in a fresh operational-stage negotiation. */
static uint16_t fx_one(struct fixture *f, const char *pair)
{
	fx_restart(f);
	seg_build(&f->seg, pair, NULL);
	return fx_process(f, ISCSI_STAGE_OPERATIONAL);
}

/* ---- iscsi_text ------------------------------------------------------- */

static void test_text_add_then_next(void **state)
{
	struct iscsi_text t;
	const char *k, *v;
	size_t pos = 0, kl, vl;

	iscsi_text_init(&t);
	assert_int_equal(iscsi_text_add(&t, "MaxBurstLength", "%u", 65536u), 0);
	assert_int_equal(iscsi_text_add(&t, "CHAP_C", "%s", "0bAA=="), 0);
	assert_int_equal(iscsi_text_add(&t, "Empty", "%s", ""), 0);
	assert_int_equal(t.len, strlen("MaxBurstLength=65536") + 1 +
				    strlen("CHAP_C=0bAA==") + 1 +
				    strlen("Empty=") + 1);
	assert_memory_equal(t.buf, "MaxBurstLength=65536\0CHAP_C=0bAA==\0", 35);

	assert_int_equal(iscsi_text_next(t.buf, t.len, &pos, &k, &kl, &v, &vl),
			 1);
	assert_int_equal(kl, 14);
	assert_memory_equal(k, "MaxBurstLength", 14);
	assert_int_equal(vl, 5);
	assert_memory_equal(v, "65536", 5);
	assert_int_equal(iscsi_text_next(t.buf, t.len, &pos, &k, &kl, &v, &vl),
			 1);
	/* only the first '=' separates key and value */
	assert_int_equal(kl, 6);
	assert_int_equal(vl, 6);
	assert_memory_equal(v, "0bAA==", 6);
	assert_int_equal(iscsi_text_next(t.buf, t.len, &pos, &k, &kl, &v, &vl),
			 1);
	assert_int_equal(vl, 0);
	assert_int_equal(v[0], '\0');
	assert_int_equal(iscsi_text_next(t.buf, t.len, &pos, &k, &kl, &v, &vl),
			 0);
	assert_int_equal(pos, t.len);
	iscsi_text_free(&t);
	assert_null(t.buf);
	assert_int_equal(t.len, 0);
}

static void test_text_add_grows(void **state)
{
	struct iscsi_text t;
	const char *k, *v;
	size_t pos = 0, kl, vl;
	unsigned i = 0;
	int rc;

	iscsi_text_init(&t);
	for (i = 0; i < 5000; i++)
		assert_int_equal(iscsi_text_add(&t, "K", "%u", i), 0);
	assert_true(t.cap >= t.len);
	i = 0;
	while ((rc = iscsi_text_next(t.buf, t.len, &pos, &k, &kl, &v, &vl)) >
	       0) {
		char want[16];

		snprintf(want, sizeof(want), "%u", i++);
		assert_int_equal(vl, strlen(want));
		assert_memory_equal(v, want, vl);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(i, 5000);
	iscsi_text_free(&t);
}

static int text_next_all(const char *data, size_t len, unsigned *pairs)
{
	const char *k, *v;
	size_t pos = 0, kl, vl;
	int rc;

	*pairs = 0;
	while ((rc = iscsi_text_next(data, len, &pos, &k, &kl, &v, &vl)) > 0)
		(*pairs)++;
	return rc;
}

static void test_text_next_limits(void **state)
{
	struct seg *s = calloc(1, sizeof(*s));
	char key[80];
	unsigned n;

	assert_non_null(s);
	/* empty segment: no pairs */
	assert_int_equal(text_next_all("", 0, &n), 0);
	assert_int_equal(n, 0);

	/* 63-byte key accepted, 64-byte key refused */
	memset(key, 'K', 63);
	key[63] = '\0';
	seg_reset(s);
	seg_add_long(s, key, 'v', 1);
	assert_int_equal(text_next_all(s->buf, s->len, &n), 0);
	assert_int_equal(n, 1);
	key[63] = 'K';
	key[64] = '\0';
	seg_reset(s);
	seg_add_long(s, key, 'v', 1);
	assert_int_equal(text_next_all(s->buf, s->len, &n), -EINVAL);

	/* 8192-byte value accepted, 8193 refused */
	seg_reset(s);
	seg_add_long(s, "V", 'x', 8192);
	assert_int_equal(text_next_all(s->buf, s->len, &n), 0);
	assert_int_equal(n, 1);
	seg_reset(s);
	seg_add_long(s, "V", 'x', 8193);
	assert_int_equal(text_next_all(s->buf, s->len, &n), -EINVAL);
	free(s);
}

static void test_text_next_malformed(void **state)
{
	unsigned n;

	/* no '=' */
	assert_int_equal(text_next_all("NoEquals\0", 9, &n), -EINVAL);
	assert_int_equal(text_next_all("A=1\0NoEquals\0", 13, &n), -EINVAL);
	/* empty key */
	assert_int_equal(text_next_all("=value\0", 7, &n), -EINVAL);
	/* missing NUL terminator */
	assert_int_equal(text_next_all("A=1", 3, &n), -EINVAL);
	assert_int_equal(text_next_all("A=1\0B=2", 7, &n), -EINVAL);
	/* an empty entry between pairs */
	assert_int_equal(text_next_all("A=1\0\0B=2\0", 9, &n), -EINVAL);
	/* trailing NUL padding is the end of the list */
	assert_int_equal(text_next_all("A=1\0\0\0\0", 7, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(text_next_all("\0\0\0\0", 4, &n), 0);
	assert_int_equal(n, 0);
	/* a position past the end */
	{
		const char *k, *v;
		size_t pos = 10, kl, vl;

		assert_int_equal(
		    iscsi_text_next("A=1\0", 4, &pos, &k, &kl, &v, &vl),
		    -EINVAL);
	}
}

/* ---- limits and defaults --------------------------------------------- */

static void test_limits_default(void **state)
{
	struct iscsi_limits lim;

	memset(&lim, 0xa5, sizeof(lim));
	iscsi_limits_default(&lim);
	assert_int_equal(lim.max_recv_dsl, 262144);
	assert_int_equal(lim.max_burst_length, 1048576);
	assert_int_equal(lim.first_burst_length, 262144);
	assert_int_equal(lim.max_outstanding_r2t, 8);
	assert_int_equal(lim.max_connections, 1);
	assert_int_equal(lim.default_time2wait, 2);
	assert_int_equal(lim.default_time2retain, 20);
	assert_int_equal(lim.max_erl, 0);
	assert_false(lim.initial_r2t);
	assert_true(lim.immediate_data);
	assert_true(lim.data_pdu_in_order);
	assert_true(lim.data_sequence_in_order);
	assert_true(lim.allow_header_digest);
	assert_true(lim.allow_data_digest);
}

static void assert_rfc_defaults(const struct iscsi_params *p)
{
	assert_false(p->header_digest);
	assert_false(p->data_digest);
	assert_int_equal(p->max_xmit_dsl, 8192);
	assert_int_equal(p->max_connections, 1);
	assert_true(p->initial_r2t);
	assert_true(p->immediate_data);
	assert_int_equal(p->max_burst_length, 262144);
	assert_int_equal(p->first_burst_length, 65536);
	assert_int_equal(p->default_time2wait, 2);
	assert_int_equal(p->default_time2retain, 20);
	assert_int_equal(p->max_outstanding_r2t, 1);
	assert_true(p->data_pdu_in_order);
	assert_true(p->data_sequence_in_order);
	assert_int_equal(p->error_recovery_level, 0);
	assert_false(p->discovery);
	assert_string_equal(p->initiator_name, "");
	assert_string_equal(p->initiator_alias, "");
	assert_string_equal(p->target_name, "");
}

static void test_neg_init_defaults(void **state)
{
	struct fixture *f = *state;
	struct iscsi_neg n;

	f->lim.max_recv_dsl = 65536;
	memset(&n, 0x5a, sizeof(n));
	iscsi_neg_init(&n, &f->lim);
	assert_rfc_defaults(&n.p);
	assert_int_equal(n.p.max_recv_dsl, 65536);
	assert_int_equal(n.seen, 0);
	assert_int_equal(n.answered, 0);
	assert_int_equal(n.nr_deferred, 0);
	assert_true(n.leading);
	assert_ptr_equal(n.lim, &f->lim);

	/* without limits, the built-in defaults apply */
	iscsi_neg_init(&n, NULL);
	assert_non_null(n.lim);
	assert_int_equal(n.p.max_recv_dsl, 262144);
}

/* ---- a whole operational negotiation --------------------------------- */

static void test_libiscsi_style_login(void **state)
{
	struct fixture *f = *state;

	seg_build(&f->seg, "InitiatorName=iqn.2007-10.com.github:sahlberg",
		  "TargetName=iqn.2024-01.org.lunar:disk1",
		  "SessionType=Normal", "HeaderDigest=None,CRC32C",
		  "DataDigest=None", "InitialR2T=No", "ImmediateData=Yes",
		  "MaxBurstLength=262144", "FirstBurstLength=262144",
		  "DefaultTime2Wait=2", "DefaultTime2Retain=0",
		  "MaxOutstandingR2T=1", "ErrorRecoveryLevel=0", "IFMarker=No",
		  "OFMarker=No", "MaxConnections=1",
		  "MaxRecvDataSegmentLength=131072", "DataPDUInOrder=Yes",
		  "DataSequenceInOrder=Yes", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	expect_answer(&f->out, "HeaderDigest", "None");
	expect_answer(&f->out, "DataDigest", "None");
	expect_answer(&f->out, "InitialR2T", "No");
	expect_answer(&f->out, "ImmediateData", "Yes");
	expect_answer(&f->out, "MaxBurstLength", "262144");
	expect_answer(&f->out, "FirstBurstLength", "262144");
	expect_answer(&f->out, "DefaultTime2Wait", "2");
	expect_answer(&f->out, "DefaultTime2Retain", "0");
	expect_answer(&f->out, "MaxOutstandingR2T", "1");
	expect_answer(&f->out, "ErrorRecoveryLevel", "0");
	expect_answer(&f->out, "IFMarker", "No");
	expect_answer(&f->out, "OFMarker", "No");
	expect_answer(&f->out, "MaxConnections", "1");
	expect_answer(&f->out, "MaxRecvDataSegmentLength", "262144");
	expect_answer(&f->out, "DataPDUInOrder", "Yes");
	expect_answer(&f->out, "DataSequenceInOrder", "Yes");
	/* declarations get no answer */
	assert_null(find_answer(&f->out, "InitiatorName"));
	assert_null(find_answer(&f->out, "TargetName"));
	assert_null(find_answer(&f->out, "SessionType"));
	assert_int_equal(count_answers(&f->out), 16);
	assert_int_equal(f->neg.nr_deferred, 0);

	assert_string_equal(f->neg.p.initiator_name,
			    "iqn.2007-10.com.github:sahlberg");
	assert_string_equal(f->neg.p.target_name,
			    "iqn.2024-01.org.lunar:disk1");
	assert_false(f->neg.p.discovery);
	assert_false(f->neg.p.header_digest);
	assert_false(f->neg.p.initial_r2t);
	assert_true(f->neg.p.immediate_data);
	assert_int_equal(f->neg.p.max_xmit_dsl, 131072);
	assert_int_equal(f->neg.p.max_recv_dsl, 262144);
	assert_int_equal(f->neg.p.first_burst_length, 262144);
	assert_int_equal(f->neg.p.default_time2retain, 0);

	/* nothing left to declare or offer */
	size_t before = f->out.len;

	assert_int_equal(iscsi_neg_finish(&f->neg, &f->out), 0);
	assert_int_equal(f->out.len, before);
	assert_false(iscsi_neg_pending(&f->neg));
}

/* ---- numeric keys ----------------------------------------------------- */

static void expect_one(struct fixture *f, const char *pair, const char *key,
		       const char *value)
{
	assert_int_equal(fx_one(f, pair), ISCSI_LOGIN_OK);
	expect_answer(&f->out, key, value);
	assert_int_equal(count_answers(&f->out), 1);
}

static void test_numeric_results(void **state)
{
	struct fixture *f = *state;

	/* Minimum */
	expect_one(f, "MaxBurstLength=4194304", "MaxBurstLength", "1048576");
	assert_int_equal(f->neg.p.max_burst_length, 1048576);
	expect_one(f, "MaxBurstLength=8192", "MaxBurstLength", "8192");
	assert_int_equal(f->neg.p.max_burst_length, 8192);
	expect_one(f, "MaxOutstandingR2T=16", "MaxOutstandingR2T", "8");
	assert_int_equal(f->neg.p.max_outstanding_r2t, 8);
	expect_one(f, "MaxOutstandingR2T=4", "MaxOutstandingR2T", "4");
	expect_one(f, "MaxConnections=8", "MaxConnections", "1");
	expect_one(f, "ErrorRecoveryLevel=2", "ErrorRecoveryLevel", "0");
	expect_one(f, "DefaultTime2Retain=3600", "DefaultTime2Retain", "20");
	assert_int_equal(f->neg.p.default_time2retain, 20);
	expect_one(f, "DefaultTime2Retain=0", "DefaultTime2Retain", "0");
	/* Maximum */
	expect_one(f, "DefaultTime2Wait=0", "DefaultTime2Wait", "2");
	expect_one(f, "DefaultTime2Wait=3600", "DefaultTime2Wait", "3600");
	assert_int_equal(f->neg.p.default_time2wait, 3600);
	/* hex-constant values */
	expect_one(f, "MaxBurstLength=0x10000", "MaxBurstLength", "65536");
	expect_one(f, "MaxBurstLength=0X0000FFFFFF", "MaxBurstLength",
		   "1048576");
	/* our limit moves the result */
	f->lim.max_erl = 2;
	f->lim.max_connections = 4;
	expect_one(f, "ErrorRecoveryLevel=1", "ErrorRecoveryLevel", "1");
	assert_int_equal(f->neg.p.error_recovery_level, 1);
	expect_one(f, "MaxConnections=8", "MaxConnections", "4");
	assert_int_equal(f->neg.p.max_connections, 4);
}

static void expect_reject(struct fixture *f, const char *pair, const char *key)
{
	assert_int_equal(fx_one(f, pair), ISCSI_LOGIN_OK);
	expect_answer(&f->out, key, "Reject");
	assert_int_equal(count_answers(&f->out), 1);
	assert_rfc_defaults(&f->neg.p);
}

static void test_numeric_out_of_range(void **state)
{
	struct fixture *f = *state;

	expect_reject(f, "MaxBurstLength=511", "MaxBurstLength");
	expect_reject(f, "MaxBurstLength=16777216", "MaxBurstLength");
	expect_reject(f, "FirstBurstLength=0", "FirstBurstLength");
	expect_reject(f, "MaxConnections=0", "MaxConnections");
	expect_reject(f, "MaxConnections=65536", "MaxConnections");
	expect_reject(f, "MaxOutstandingR2T=0", "MaxOutstandingR2T");
	expect_reject(f, "ErrorRecoveryLevel=3", "ErrorRecoveryLevel");
	expect_reject(f, "DefaultTime2Wait=3601", "DefaultTime2Wait");
	expect_reject(f, "DefaultTime2Retain=4294967296", "DefaultTime2Retain");
	expect_reject(f, "MaxBurstLength=18446744073709551615",
		      "MaxBurstLength");
	expect_reject(f, "iSCSIProtocolLevel=32", "iSCSIProtocolLevel");
}

static void test_numeric_ill_formed(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
	    "MaxBurstLength=",
	    "MaxBurstLength=0x",
	    "MaxBurstLength=0X",
	    "MaxBurstLength=0xg1",
	    "MaxBurstLength=12a",
	    "MaxBurstLength=-1",
	    "MaxBurstLength=+512",
	    "MaxBurstLength= 512",
	    "MaxBurstLength=512 ",
	    "MaxBurstLength=0512",
	    "MaxBurstLength=1e6",
	    "MaxBurstLength=18446744073709551616",
	    "MaxBurstLength=99999999999999999999999999999999",
	    "MaxBurstLength=0x10000000000000000",
	    "MaxBurstLength=0b AAA=",
	    "MaxBurstLength=Yes",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_reject(f, bad[i], "MaxBurstLength");
}

static void test_numeric_hostile_huge_value(void **state)
{
	struct fixture *f = *state;

	/* 8192 digits: a legal length, an absurd number */
	fx_restart(f);
	seg_reset(&f->seg);
	seg_add_long(&f->seg, "MaxBurstLength", '9', 8192);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	expect_answer(&f->out, "MaxBurstLength", "Reject");
	assert_int_equal(f->neg.p.max_burst_length, 262144);
	/* 8193 digits: the segment itself is ill-formed */
	fx_restart(f);
	seg_reset(&f->seg);
	seg_add_long(&f->seg, "MaxBurstLength", '9', 8193);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_INIT_ERR);
}

/* ---- boolean keys ----------------------------------------------------- */

static void test_boolean_rules(void **state)
{
	struct fixture *f = *state;

	/* OR: Yes wins */
	expect_one(f, "InitialR2T=Yes", "InitialR2T", "Yes");
	assert_true(f->neg.p.initial_r2t);
	expect_one(f, "InitialR2T=No", "InitialR2T", "No");
	assert_false(f->neg.p.initial_r2t);
	expect_one(f, "DataPDUInOrder=No", "DataPDUInOrder", "Yes");
	assert_true(f->neg.p.data_pdu_in_order);
	/* AND: No wins */
	expect_one(f, "ImmediateData=No", "ImmediateData", "No");
	assert_false(f->neg.p.immediate_data);
	expect_one(f, "ImmediateData=Yes", "ImmediateData", "Yes");

	/* our preferences */
	f->lim.initial_r2t = true;
	f->lim.immediate_data = false;
	f->lim.data_pdu_in_order = false;
	f->lim.data_sequence_in_order = false;
	expect_one(f, "InitialR2T=No", "InitialR2T", "Yes");
	assert_true(f->neg.p.initial_r2t);
	expect_one(f, "ImmediateData=Yes", "ImmediateData", "No");
	assert_false(f->neg.p.immediate_data);
	expect_one(f, "DataPDUInOrder=No", "DataPDUInOrder", "No");
	assert_false(f->neg.p.data_pdu_in_order);
	expect_one(f, "DataSequenceInOrder=No", "DataSequenceInOrder", "No");
	assert_false(f->neg.p.data_sequence_in_order);
	expect_one(f, "DataSequenceInOrder=Yes", "DataSequenceInOrder", "Yes");

	/* anything but Yes/No */
	iscsi_limits_default(&f->lim);
	expect_reject(f, "InitialR2T=yes", "InitialR2T");
	expect_reject(f, "InitialR2T=YES", "InitialR2T");
	expect_reject(f, "ImmediateData=Maybe", "ImmediateData");
	expect_reject(f, "ImmediateData=", "ImmediateData");
	expect_reject(f, "DataPDUInOrder=1", "DataPDUInOrder");
	expect_reject(f, "DataSequenceInOrder=Yes,No", "DataSequenceInOrder");
}

/* ---- list keys -------------------------------------------------------- */

static void test_digest_lists(void **state)
{
	struct fixture *f = *state;

	expect_one(f, "HeaderDigest=CRC32C,None", "HeaderDigest", "CRC32C");
	assert_true(f->neg.p.header_digest);
	expect_one(f, "HeaderDigest=None,CRC32C", "HeaderDigest", "None");
	assert_false(f->neg.p.header_digest);
	expect_one(f, "DataDigest=CRC32C", "DataDigest", "CRC32C");
	assert_true(f->neg.p.data_digest);
	/* values we do not know are skipped */
	expect_one(f, "DataDigest=MD5,SHA1,None", "DataDigest", "None");
	expect_one(f, "HeaderDigest=X-vendor,CRC32C", "HeaderDigest", "CRC32C");
	/* no common value */
	expect_reject(f, "HeaderDigest=MD5", "HeaderDigest");
	expect_reject(f, "HeaderDigest=crc32c", "HeaderDigest");
	/* ill-formed lists */
	expect_reject(f, "HeaderDigest=", "HeaderDigest");
	expect_reject(f, "HeaderDigest=None,,CRC32C", "HeaderDigest");
	expect_reject(f, "HeaderDigest=CRC32C,", "HeaderDigest");
	expect_reject(f, "HeaderDigest=,None", "HeaderDigest");

	/* digests the target does not allow */
	f->lim.allow_header_digest = false;
	expect_one(f, "HeaderDigest=CRC32C,None", "HeaderDigest", "None");
	assert_false(f->neg.p.header_digest);
	expect_reject(f, "HeaderDigest=CRC32C", "HeaderDigest");
	expect_one(f, "DataDigest=CRC32C,None", "DataDigest", "CRC32C");
	f->lim.allow_data_digest = false;
	expect_one(f, "DataDigest=CRC32C,None", "DataDigest", "None");
	assert_false(f->neg.p.data_digest);
}

static void test_list_element_too_long(void **state)
{
	struct fixture *f = *state;

	fx_restart(f);
	seg_reset(&f->seg);
	seg_add_long(&f->seg, "HeaderDigest", 'A', 256);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	expect_answer(&f->out, "HeaderDigest", "Reject");
}

static void test_task_reporting_and_protocol_level(void **state)
{
	struct fixture *f = *state;

	expect_one(f, "TaskReporting=ResponseFence,RFC3720", "TaskReporting",
		   "RFC3720");
	expect_one(f, "TaskReporting=RFC3720", "TaskReporting", "RFC3720");
	expect_reject(f, "TaskReporting=FastAbort", "TaskReporting");
	expect_one(f, "iSCSIProtocolLevel=2", "iSCSIProtocolLevel", "1");
	expect_one(f, "iSCSIProtocolLevel=1", "iSCSIProtocolLevel", "1");
	expect_one(f, "iSCSIProtocolLevel=0", "iSCSIProtocolLevel", "0");
	expect_one(f, "iSCSIProtocolLevel=31", "iSCSIProtocolLevel", "1");
}

static void test_obsolete_markers(void **state)
{
	struct fixture *f = *state;

	expect_one(f, "IFMarker=Yes", "IFMarker", "No");
	expect_one(f, "OFMarker=No", "OFMarker", "No");
	expect_reject(f, "OFMarker=Sometimes", "OFMarker");
	expect_reject(f, "OFMarkInt=2048~8192", "OFMarkInt");
	expect_reject(f, "IFMarkInt=1", "IFMarkInt");
}

/* ---- MaxRecvDataSegmentLength ----------------------------------------- */

static void test_max_recv_dsl_declaration(void **state)
{
	struct fixture *f = *state;
	size_t before;

	expect_one(f, "MaxRecvDataSegmentLength=512",
		   "MaxRecvDataSegmentLength", "262144");
	assert_int_equal(f->neg.p.max_xmit_dsl, 512);
	expect_one(f, "MaxRecvDataSegmentLength=16777215",
		   "MaxRecvDataSegmentLength", "262144");
	assert_int_equal(f->neg.p.max_xmit_dsl, 16777215);
	/* declared once: finish adds nothing */
	before = f->out.len;
	assert_int_equal(iscsi_neg_finish(&f->neg, &f->out), 0);
	assert_int_equal(f->out.len, before);

	/* out of range: Reject, the default stays, no second answer */
	expect_reject(f, "MaxRecvDataSegmentLength=511",
		      "MaxRecvDataSegmentLength");
	expect_reject(f, "MaxRecvDataSegmentLength=16777216",
		      "MaxRecvDataSegmentLength");
	before = f->out.len;
	assert_int_equal(iscsi_neg_finish(&f->neg, &f->out), 0);
	assert_int_equal(f->out.len, before);

	/* never sent: finish declares ours */
	f->lim.max_recv_dsl = 65536;
	fx_restart(f);
	seg_build(&f->seg, "HeaderDigest=None", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	assert_null(find_answer(&f->out, "MaxRecvDataSegmentLength"));
	assert_int_equal(iscsi_neg_finish(&f->neg, &f->out), 0);
	expect_answer(&f->out, "MaxRecvDataSegmentLength", "65536");
	assert_int_equal(f->neg.p.max_recv_dsl, 65536);
	assert_int_equal(f->neg.p.max_xmit_dsl, 8192);
	/* and only once */
	before = f->out.len;
	assert_int_equal(iscsi_neg_finish(&f->neg, &f->out), 0);
	assert_int_equal(f->out.len, before);

	/* the initiator declaring after our declaration: no answer */
	seg_build(&f->seg, "MaxRecvDataSegmentLength=4096", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	assert_int_equal(f->out.len, before);
	assert_int_equal(f->neg.p.max_xmit_dsl, 4096);
}

static void test_misconfigured_limits_are_clamped(void **state)
{
	struct fixture *f = *state;

	f->lim.max_recv_dsl = 100;
	f->lim.max_burst_length = 1u << 30;
	f->lim.max_erl = 9;
	expect_one(f, "MaxRecvDataSegmentLength=8192",
		   "MaxRecvDataSegmentLength", "512");
	assert_int_equal(f->neg.p.max_recv_dsl, 512);
	expect_one(f, "MaxBurstLength=16777215", "MaxBurstLength", "16777215");
	expect_one(f, "ErrorRecoveryLevel=2", "ErrorRecoveryLevel", "2");
}

/* ---- FirstBurstLength ------------------------------------------------- */

static void test_first_burst_not_above_max_burst(void **state)
{
	struct fixture *f = *state;

	/* same PDU, FirstBurstLength listed first */
	seg_build(&f->seg, "FirstBurstLength=262144", "MaxBurstLength=65536",
		  NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	expect_answer(&f->out, "MaxBurstLength", "65536");
	expect_answer(&f->out, "FirstBurstLength", "65536");
	assert_int_equal(f->neg.p.first_burst_length, 65536);

	/* MaxBurstLength settled in a later PDU: clamped at finish */
	fx_restart(f);
	seg_build(&f->seg, "FirstBurstLength=262144", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	expect_answer(&f->out, "FirstBurstLength", "262144");
	seg_build(&f->seg, "MaxBurstLength=16384", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	expect_answer(&f->out, "MaxBurstLength", "16384");
	assert_int_equal(iscsi_neg_finish(&f->neg, &f->out), 0);
	assert_int_equal(f->neg.p.max_burst_length, 16384);
	assert_int_equal(f->neg.p.first_burst_length, 16384);

	/* a MaxBurstLength below the default first burst: clamped too */
	fx_restart(f);
	seg_build(&f->seg, "MaxBurstLength=4096", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	assert_int_equal(iscsi_neg_finish(&f->neg, &f->out), 0);
	assert_null(find_answer(&f->out, "FirstBurstLength"));
	assert_int_equal(f->neg.p.first_burst_length, 4096);
	assert_false(iscsi_neg_pending(&f->neg));
}

static void test_first_burst_irrelevant(void **state)
{
	struct fixture *f = *state;

	/* InitialR2T=Yes and ImmediateData=No, sent after FirstBurstLength */
	seg_build(&f->seg, "FirstBurstLength=65536", "InitialR2T=Yes",
		  "ImmediateData=No", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	expect_answer(&f->out, "FirstBurstLength", "Irrelevant");
	expect_answer(&f->out, "InitialR2T", "Yes");
	expect_answer(&f->out, "ImmediateData", "No");
	assert_int_equal(f->neg.p.first_burst_length, 65536);

	/* the result counts, not the proposal: our ImmediateData=No */
	f->lim.immediate_data = false;
	fx_restart(f);
	seg_build(&f->seg, "FirstBurstLength=8192", "InitialR2T=Yes",
		  "ImmediateData=Yes", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	expect_answer(&f->out, "FirstBurstLength", "Irrelevant");

	/* relevant as soon as unsolicited data is possible */
	iscsi_limits_default(&f->lim);
	fx_restart(f);
	seg_build(&f->seg, "FirstBurstLength=8192", "InitialR2T=Yes",
		  "ImmediateData=Yes", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	expect_answer(&f->out, "FirstBurstLength", "8192");
	assert_int_equal(f->neg.p.first_burst_length, 8192);
}

/* ---- discovery sessions ----------------------------------------------- */

static void test_discovery_session(void **state)
{
	struct fixture *f = *state;
	static const char *const irrelevant[] = {
	    "MaxConnections",	  "InitialR2T",		 "ImmediateData",
	    "MaxBurstLength",	  "FirstBurstLength",	 "MaxOutstandingR2T",
	    "DataPDUInOrder",	  "DataSequenceInOrder", "TaskReporting",
	    "iSCSIProtocolLevel",
	};

	/* keep limits that would otherwise force offers */
	f->lim.max_burst_length = 4096;
	f->lim.immediate_data = false;
	fx_restart(f);
	seg_build(&f->seg, "InitiatorName=iqn.1994-05.com.redhat:abc",
		  "TargetName=iqn.2024-01.org.lunar:ignored",
		  "MaxConnections=1", "InitialR2T=No", "ImmediateData=Yes",
		  "MaxBurstLength=262144", "FirstBurstLength=65536",
		  "MaxOutstandingR2T=1", "DataPDUInOrder=Yes",
		  "DataSequenceInOrder=Yes", "TaskReporting=RFC3720",
		  "iSCSIProtocolLevel=1", "HeaderDigest=CRC32C,None",
		  "DefaultTime2Wait=5", "DefaultTime2Retain=0",
		  "ErrorRecoveryLevel=0", "MaxRecvDataSegmentLength=32768",
		  "SessionType=Discovery", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	for (size_t i = 0; i < sizeof(irrelevant) / sizeof(irrelevant[0]); i++)
		expect_answer(&f->out, irrelevant[i], "Irrelevant");
	expect_answer(&f->out, "HeaderDigest", "CRC32C");
	expect_answer(&f->out, "DefaultTime2Wait", "5");
	expect_answer(&f->out, "DefaultTime2Retain", "0");
	expect_answer(&f->out, "ErrorRecoveryLevel", "0");
	expect_answer(&f->out, "MaxRecvDataSegmentLength", "262144");
	assert_int_equal(count_answers(&f->out), 15);
	assert_true(f->neg.p.discovery);
	assert_string_equal(f->neg.p.target_name, "");
	assert_int_equal(f->neg.p.max_xmit_dsl, 32768);
	assert_true(f->neg.p.initial_r2t); /* untouched default */

	size_t before = f->out.len;

	assert_int_equal(iscsi_neg_finish(&f->neg, &f->out), 0);
	assert_int_equal(f->out.len, before);
	assert_false(iscsi_neg_pending(&f->neg));
}

static void test_session_type(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(fx_one(f, "SessionType=Normal"), ISCSI_LOGIN_OK);
	assert_false(f->neg.p.discovery);
	assert_int_equal(f->out.len, 0);
	assert_int_equal(fx_one(f, "SessionType=Foo"),
			 ISCSI_LOGIN_SESSION_TYPE_UNSUPPORTED);
	assert_int_equal(fx_one(f, "SessionType=discovery"),
			 ISCSI_LOGIN_SESSION_TYPE_UNSUPPORTED);
	assert_int_equal(fx_one(f, "SessionType="),
			 ISCSI_LOGIN_SESSION_TYPE_UNSUPPORTED);

	/* TargetName first, SessionType=Discovery in the next PDU */
	fx_restart(f);
	seg_build(&f->seg, "TargetName=iqn.2024-01.org.lunar:t", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_SECURITY), ISCSI_LOGIN_OK);
	assert_string_equal(f->neg.p.target_name, "iqn.2024-01.org.lunar:t");
	seg_build(&f->seg, "SessionType=Discovery", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_SECURITY), ISCSI_LOGIN_OK);
	assert_true(f->neg.p.discovery);
	assert_string_equal(f->neg.p.target_name, "");

	/* too late once session keys have been negotiated */
	fx_restart(f);
	seg_build(&f->seg, "MaxBurstLength=65536", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	seg_build(&f->seg, "SessionType=Discovery", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_INIT_ERR);
}

/* ---- unknown keys and answers from the initiator --------------------- */

static void test_unknown_keys(void **state)
{
	struct fixture *f = *state;

	seg_build(&f->seg, "FooBar=1", "X-com.example.Thing=yes",
		  "X#NodeArchitecture=ExampleOS/v1",
		  "Z=", "MaxBurstLength=8192", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	expect_answer(&f->out, "FooBar", "NotUnderstood");
	expect_answer(&f->out, "X-com.example.Thing", "NotUnderstood");
	expect_answer(&f->out, "X#NodeArchitecture", "NotUnderstood");
	expect_answer(&f->out, "Z", "NotUnderstood");
	expect_answer(&f->out, "MaxBurstLength", "8192");
	assert_int_equal(count_answers(&f->out), 5);

	/* unknown keys also in the security stage */
	fx_restart(f);
	seg_build(&f->seg, "X-vendor.Cookie=1", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_SECURITY), ISCSI_LOGIN_OK);
	expect_answer(&f->out, "X-vendor.Cookie", "NotUnderstood");

	/* many of them: the answer buffer grows */
	fx_restart(f);
	seg_reset(&f->seg);
	for (unsigned i = 0; i < 2000; i++) {
		char pair[32];

		snprintf(pair, sizeof(pair), "X-k%u=v", i);
		seg_add(&f->seg, pair);
	}
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	assert_int_equal(count_answers(&f->out), 2000);
	expect_answer(&f->out, "X-k1999", "NotUnderstood");
}

static void test_initiator_answers_need_no_answer(void **state)
{
	struct fixture *f = *state;

	seg_build(&f->seg, "HeaderDigest=NotUnderstood",
		  "MaxBurstLength=Irrelevant", "ImmediateData=Reject",
		  "OFMarkInt=Reject", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	assert_int_equal(f->out.len, 0);
	assert_rfc_defaults(&f->neg.p);
	/* they still count as sent */
	seg_build(&f->seg, "MaxBurstLength=8192", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_INIT_ERR);
}

/* ---- repeated keys ---------------------------------------------------- */

static void test_duplicate_keys(void **state)
{
	struct fixture *f = *state;

	seg_build(&f->seg, "MaxBurstLength=8192", "MaxBurstLength=8192", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_INIT_ERR);

	fx_restart(f);
	seg_build(&f->seg, "HeaderDigest=None", "DataDigest=None",
		  "HeaderDigest=CRC32C", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_INIT_ERR);

	/* across the PDUs of one login */
	fx_restart(f);
	seg_build(&f->seg, "InitiatorName=iqn.2000-01.com.example:a",
		  "SessionType=Normal", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_SECURITY), ISCSI_LOGIN_OK);
	seg_build(&f->seg, "InitiatorName=iqn.2000-01.com.example:a", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_INIT_ERR);

	fx_restart(f);
	seg_build(&f->seg, "CHAP_A=5", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_SECURITY), ISCSI_LOGIN_OK);
	seg_build(&f->seg, "CHAP_A=5", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_SECURITY),
			 ISCSI_LOGIN_INIT_ERR);

	/* SessionType twice in one PDU */
	fx_restart(f);
	seg_build(&f->seg, "SessionType=Normal", "SessionType=Discovery", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_SECURITY),
			 ISCSI_LOGIN_INIT_ERR);
}

/* ---- security stage and deferred keys --------------------------------- */

static void test_security_keys_deferred(void **state)
{
	struct fixture *f = *state;

	seg_build(&f->seg, "InitiatorName=iqn.1994-05.com.redhat:host",
		  "InitiatorAlias=host", "TargetName=iqn.2024-01.org.lunar:t",
		  "SessionType=Normal", "AuthMethod=CHAP,None", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_SECURITY), ISCSI_LOGIN_OK);
	assert_int_equal(f->out.len, 0);
	assert_int_equal(f->neg.nr_deferred, 1);
	assert_string_equal(f->neg.deferred[0].key, "AuthMethod");
	assert_string_equal(f->neg.deferred[0].val, "CHAP,None");
	assert_string_equal(f->neg.p.initiator_name,
			    "iqn.1994-05.com.redhat:host");
	assert_string_equal(f->neg.p.initiator_alias, "host");

	seg_build(&f->seg, "CHAP_A=7,5", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_SECURITY), ISCSI_LOGIN_OK);
	assert_int_equal(f->neg.nr_deferred, 1); /* reset per PDU */
	assert_string_equal(f->neg.deferred[0].key, "CHAP_A");
	assert_string_equal(f->neg.deferred[0].val, "7,5");

	seg_build(&f->seg, "CHAP_N=user", "CHAP_R=0x0011", "CHAP_I=9",
		  "CHAP_C=0bAAECAwQFBgcICQoLDA0ODw==", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_SECURITY), ISCSI_LOGIN_OK);
	assert_int_equal(f->neg.nr_deferred, 4);
	assert_string_equal(f->neg.deferred[0].key, "CHAP_N");
	assert_string_equal(f->neg.deferred[0].val, "user");
	assert_string_equal(f->neg.deferred[1].key, "CHAP_R");
	assert_string_equal(f->neg.deferred[1].val, "0x0011");
	assert_string_equal(f->neg.deferred[2].key, "CHAP_I");
	assert_string_equal(f->neg.deferred[3].key, "CHAP_C");
	assert_string_equal(f->neg.deferred[3].val,
			    "0bAAECAwQFBgcICQoLDA0ODw==");
	assert_int_equal(f->out.len, 0);

	/* then the operational stage */
	seg_build(&f->seg, "MaxRecvDataSegmentLength=65536", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	assert_int_equal(f->neg.nr_deferred, 0);
	expect_answer(&f->out, "MaxRecvDataSegmentLength", "262144");
}

static void test_security_value_length(void **state)
{
	struct fixture *f = *state;

	fx_restart(f);
	seg_reset(&f->seg);
	seg_add_long(&f->seg, "CHAP_C", 'a', 1023);
	assert_int_equal(fx_process(f, ISCSI_STAGE_SECURITY), ISCSI_LOGIN_OK);
	assert_int_equal(strlen(f->neg.deferred[0].val), 1023);

	fx_restart(f);
	seg_reset(&f->seg);
	seg_add_long(&f->seg, "CHAP_C", 'a', 1024);
	assert_int_equal(fx_process(f, ISCSI_STAGE_SECURITY),
			 ISCSI_LOGIN_INIT_ERR);
}

static void test_keys_in_the_wrong_stage(void **state)
{
	struct fixture *f = *state;
	static const char *const op_keys[] = {
	    "HeaderDigest=None",    "MaxRecvDataSegmentLength=8192",
	    "MaxBurstLength=8192",  "InitialR2T=Yes",
	    "ErrorRecoveryLevel=0", "IFMarker=No",
	    "OFMarkInt=1",	    "TaskReporting=RFC3720",
	};
	static const char *const sec_keys[] = {
	    "AuthMethod=None", "CHAP_A=5", "CHAP_I=1",
	    "CHAP_C=0x00",     "CHAP_N=u", "CHAP_R=0x00",
	};

	for (size_t i = 0; i < sizeof(op_keys) / sizeof(op_keys[0]); i++) {
		fx_restart(f);
		seg_build(&f->seg, op_keys[i], NULL);
		assert_int_equal(fx_process(f, ISCSI_STAGE_SECURITY),
				 ISCSI_LOGIN_INIT_ERR);
	}
	for (size_t i = 0; i < sizeof(sec_keys) / sizeof(sec_keys[0]); i++) {
		fx_restart(f);
		seg_build(&f->seg, sec_keys[i], NULL);
		assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
				 ISCSI_LOGIN_INIT_ERR);
		fx_restart(f);
		seg_build(&f->seg, sec_keys[i], NULL);
		assert_int_equal(fx_process(f, ISCSI_STAGE_FULL_FEATURE),
				 ISCSI_LOGIN_INIT_ERR);
	}
	/* SendTargets belongs to the Full Feature Phase */
	assert_int_equal(fx_one(f, "SendTargets=All"), ISCSI_LOGIN_INIT_ERR);
	fx_restart(f);
	seg_build(&f->seg, "SendTargets=All", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_SECURITY),
			 ISCSI_LOGIN_INIT_ERR);
	/* a stage that does not exist */
	fx_restart(f);
	seg_build(&f->seg, "MaxBurstLength=8192", NULL);
	assert_int_equal(fx_process(f, (enum iscsi_stage)2),
			 ISCSI_LOGIN_INIT_ERR);
}

static void test_full_feature_text(void **state)
{
	struct fixture *f = *state;

	seg_build(&f->seg, "SendTargets=All", "MaxRecvDataSegmentLength=65536",
		  "InitiatorAlias=renamed", "X-foo=1", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_FULL_FEATURE),
			 ISCSI_LOGIN_OK);
	assert_int_equal(f->neg.nr_deferred, 1);
	assert_string_equal(f->neg.deferred[0].key, "SendTargets");
	assert_string_equal(f->neg.deferred[0].val, "All");
	assert_int_equal(f->neg.p.max_xmit_dsl, 65536);
	assert_string_equal(f->neg.p.initiator_alias, "renamed");
	/* a declaration in FFP needs no answer; unknown keys still do */
	assert_null(find_answer(&f->out, "MaxRecvDataSegmentLength"));
	expect_answer(&f->out, "X-foo", "NotUnderstood");
	assert_int_equal(count_answers(&f->out), 1);

	static const char *const login_only[] = {
	    "HeaderDigest=None",
	    "MaxBurstLength=8192",
	    "InitiatorName=iqn.2000-01.com.example:a",
	    "TargetName=iqn.2000-01.com.example:t",
	    "SessionType=Normal",
	    "IFMarker=No",
	};
	for (size_t i = 0; i < sizeof(login_only) / sizeof(login_only[0]);
	     i++) {
		fx_restart(f);
		seg_build(&f->seg, login_only[i], NULL);
		assert_int_equal(fx_process(f, ISCSI_STAGE_FULL_FEATURE),
				 ISCSI_LOGIN_INIT_ERR);
	}
}

static void test_target_only_keys(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(fx_one(f, "TargetAlias=x"), ISCSI_LOGIN_INIT_ERR);
	assert_int_equal(fx_one(f, "TargetAddress=10.0.0.1:3260,1"),
			 ISCSI_LOGIN_INIT_ERR);
	assert_int_equal(fx_one(f, "TargetPortalGroupTag=1"),
			 ISCSI_LOGIN_INIT_ERR);
}

static void test_non_leading_connection(void **state)
{
	struct fixture *f = *state;
	static const char *const leading_only[] = {
	    "MaxBurstLength=8192",  "MaxConnections=1",	  "InitialR2T=Yes",
	    "ErrorRecoveryLevel=0", "SessionType=Normal", "DefaultTime2Wait=2",
	};

	for (size_t i = 0; i < sizeof(leading_only) / sizeof(leading_only[0]);
	     i++) {
		fx_restart(f);
		f->neg.leading = false;
		seg_build(&f->seg, leading_only[i], NULL);
		assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
				 ISCSI_LOGIN_INIT_ERR);
	}
	/* connection keys are fine */
	fx_restart(f);
	f->neg.leading = false;
	seg_build(&f->seg, "HeaderDigest=CRC32C", "DataDigest=None",
		  "MaxRecvDataSegmentLength=65536", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	expect_answer(&f->out, "HeaderDigest", "CRC32C");
	/* and no session-wide offers are made */
	f->lim.max_burst_length = 4096;
	assert_int_equal(iscsi_neg_finish(&f->neg, &f->out), 0);
	assert_null(find_answer(&f->out, "MaxBurstLength"));
	assert_false(iscsi_neg_pending(&f->neg));
}

/* ---- declarations ----------------------------------------------------- */

static void test_name_validation(void **state)
{
	struct fixture *f = *state;
	char pair[600];
	char name[300];

	assert_int_equal(fx_one(f, "InitiatorName=iqn.2000-01.com.example:a"),
			 ISCSI_LOGIN_OK);
	assert_int_equal(fx_one(f, "InitiatorName=eui.02004567A425678D"),
			 ISCSI_LOGIN_OK);
	assert_string_equal(f->neg.p.initiator_name, "eui.02004567A425678D");
	assert_int_equal(fx_one(f, "InitiatorName=naa.52004567BA64678D"),
			 ISCSI_LOGIN_OK);
	static const char *const bad[] = {
	    "InitiatorName=",
	    "InitiatorName=iqn.",
	    "InitiatorName=foo.bar",
	    "InitiatorName=iqn.2000-01.com.example:a b",
	    "InitiatorName=iqn.2000-01.com.example:a\tb",
	    "InitiatorName=iqn.2000-01.com.example:\x7f",
	    "TargetName=iqn",
	    "TargetName=iqn.2000-01.com.example: t",
	    /* not UTF-8: a lone continuation byte, a truncated sequence, an
	     * overlong '/', a surrogate, a code point above U+10FFFF */
	    "InitiatorName=iqn.2000-01.com.example:\x80",
	    "InitiatorName=iqn.2000-01.com.example:\xc3",
	    "InitiatorName=iqn.2000-01.com.example:\xc0\xaf",
	    "InitiatorName=iqn.2000-01.com.example:\xed\xa0\x80",
	    "InitiatorName=iqn.2000-01.com.example:\xf4\x90\x80\x80",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(fx_one(f, bad[i]), ISCSI_LOGIN_INIT_ERR);
	/* well-formed UTF-8 (RFC 3722 names are Unicode): 2, 3, 4 bytes */
	assert_int_equal(fx_one(f, "InitiatorName=iqn.2000-01.com.example:"
				   "\xc3\xa9\xe2\x82\xac\xf0\x9f\x92\xbe"),
			 ISCSI_LOGIN_OK);

	/* 223 bytes fit, 224 do not */
	memset(name, 'a', sizeof(name));
	memcpy(name, "iqn.", 4);
	name[223] = '\0';
	snprintf(pair, sizeof(pair), "TargetName=%s", name);
	assert_int_equal(fx_one(f, pair), ISCSI_LOGIN_OK);
	assert_int_equal(strlen(f->neg.p.target_name), 223);
	name[223] = 'a';
	name[224] = '\0';
	snprintf(pair, sizeof(pair), "TargetName=%s", name);
	assert_int_equal(fx_one(f, pair), ISCSI_LOGIN_INIT_ERR);
	assert_string_equal(f->neg.p.target_name, "");
}

static void test_alias_validation(void **state)
{
	struct fixture *f = *state;

	fx_restart(f);
	seg_reset(&f->seg);
	seg_add_long(&f->seg, "InitiatorAlias", 'h', 255);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	assert_int_equal(strlen(f->neg.p.initiator_alias), 255);

	fx_restart(f);
	seg_reset(&f->seg);
	seg_add_long(&f->seg, "InitiatorAlias", 'h', 256);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_INIT_ERR);

	assert_int_equal(fx_one(f, "InitiatorAlias=evil\x1b[2J"),
			 ISCSI_LOGIN_INIT_ERR);
	assert_int_equal(fx_one(f, "InitiatorAlias=latin1 caf\xe9"),
			 ISCSI_LOGIN_INIT_ERR);
	assert_int_equal(fx_one(f, "InitiatorAlias=caf\xc3\xa9"),
			 ISCSI_LOGIN_OK);
	assert_int_equal(fx_one(f, "InitiatorAlias="), ISCSI_LOGIN_OK);
	assert_int_equal(fx_one(f, "InitiatorAlias=host name (lab)"),
			 ISCSI_LOGIN_OK);
	assert_string_equal(f->neg.p.initiator_alias, "host name (lab)");
}

/* ---- hostile segments ------------------------------------------------- */

static void test_hostile_segments(void **state)
{
	struct fixture *f = *state;
	char key[70];

	/* a malformed pair after good ones: nothing is acted on */
	fx_restart(f);
	seg_build(&f->seg, "MaxBurstLength=8192", "InitiatorAlias=x",
		  "NoEqualsHere", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_INIT_ERR);
	assert_int_equal(f->out.len, 0);
	assert_int_equal(f->neg.p.max_burst_length, 262144);
	assert_string_equal(f->neg.p.initiator_alias, "");
	assert_int_equal(f->neg.seen, 0);

	/* missing NUL terminator */
	fx_restart(f);
	assert_int_equal(iscsi_neg_process(&f->neg, ISCSI_STAGE_OPERATIONAL,
					   "MaxBurstLength=8192", 19, &f->out),
			 ISCSI_LOGIN_INIT_ERR);
	/* 64-byte key */
	memset(key, 'K', 64);
	key[64] = '\0';
	fx_restart(f);
	seg_reset(&f->seg);
	seg_add_long(&f->seg, key, '1', 1);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_INIT_ERR);
	/* 63-byte unknown key: NotUnderstood, echoed in full */
	key[63] = '\0';
	fx_restart(f);
	seg_reset(&f->seg);
	seg_add_long(&f->seg, key, '1', 1);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	expect_answer(&f->out, key, "NotUnderstood");
	/* 8193-byte value of an unknown key */
	fx_restart(f);
	seg_reset(&f->seg);
	seg_add_long(&f->seg, "X-big", 'v', 8193);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_INIT_ERR);
	/* ill-formed key names */
	assert_int_equal(fx_one(f, "1MaxBurstLength=8192"),
			 ISCSI_LOGIN_INIT_ERR);
	assert_int_equal(fx_one(f, "-x=1"), ISCSI_LOGIN_INIT_ERR);
	/* keys are case-sensitive: a valid name we do not know */
	assert_int_equal(fx_one(f, "maxBurstLength=8192"), ISCSI_LOGIN_OK);
	expect_answer(&f->out, "maxBurstLength", "NotUnderstood");
	assert_int_equal(f->neg.p.max_burst_length, 262144);
	assert_int_equal(fx_one(f, "Max Burst=1"), ISCSI_LOGIN_INIT_ERR);
	assert_int_equal(fx_one(f, "=8192"), ISCSI_LOGIN_INIT_ERR);
	assert_int_equal(fx_one(f, "A#b=1"), ISCSI_LOGIN_INIT_ERR);
	assert_int_equal(fx_one(f, "Key\xc3\xa9=1"), ISCSI_LOGIN_INIT_ERR);
	/* empty data segment: nothing to do */
	fx_restart(f);
	assert_int_equal(iscsi_neg_process(&f->neg, ISCSI_STAGE_OPERATIONAL,
					   NULL, 0, &f->out),
			 ISCSI_LOGIN_OK);
	assert_int_equal(f->out.len, 0);
	/* programming errors are the target's */
	assert_int_equal(
	    iscsi_neg_process(NULL, ISCSI_STAGE_OPERATIONAL, "", 0, &f->out),
	    ISCSI_LOGIN_TARGET_ERROR);
	assert_int_equal(iscsi_neg_process(&f->neg, ISCSI_STAGE_OPERATIONAL,
					   NULL, 4, &f->out),
			 ISCSI_LOGIN_TARGET_ERROR);
	assert_int_equal(
	    iscsi_neg_process(&f->neg, ISCSI_STAGE_OPERATIONAL, "", 0, NULL),
	    ISCSI_LOGIN_TARGET_ERROR);
}

/* ---- offers from the target ------------------------------------------- */

static void test_offers_when_defaults_exceed_limits(void **state)
{
	struct fixture *f = *state;
	size_t before;

	f->lim.max_burst_length = 65536;
	f->lim.first_burst_length = 16384;
	f->lim.default_time2retain = 5;
	f->lim.immediate_data = false;
	fx_restart(f);
	seg_build(&f->seg, "MaxRecvDataSegmentLength=8192", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	assert_int_equal(iscsi_neg_finish(&f->neg, &f->out), 0);
	expect_answer(&f->out, "MaxRecvDataSegmentLength", "262144");
	expect_answer(&f->out, "MaxBurstLength", "65536");
	expect_answer(&f->out, "FirstBurstLength", "16384");
	expect_answer(&f->out, "DefaultTime2Retain", "5");
	expect_answer(&f->out, "ImmediateData", "No");
	assert_int_equal(count_answers(&f->out), 5);
	assert_true(iscsi_neg_pending(&f->neg));
	/* the RFC defaults hold until the initiator answers */
	assert_int_equal(f->neg.p.max_burst_length, 262144);
	/* finish again: nothing more */
	before = f->out.len;
	assert_int_equal(iscsi_neg_finish(&f->neg, &f->out), 0);
	assert_int_equal(f->out.len, before);

	/* the initiator answers (part of) the offers */
	seg_build(&f->seg, "MaxBurstLength=65536", "FirstBurstLength=8192",
		  NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	assert_int_equal(f->out.len, before); /* answers need no answer */
	assert_true(iscsi_neg_pending(&f->neg));
	seg_build(&f->seg, "DefaultTime2Retain=0", "ImmediateData=No", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	assert_int_equal(f->out.len, before);
	assert_false(iscsi_neg_pending(&f->neg));
	assert_int_equal(f->neg.p.max_burst_length, 65536);
	assert_int_equal(f->neg.p.first_burst_length, 8192);
	assert_int_equal(f->neg.p.default_time2retain, 0);
	assert_false(f->neg.p.immediate_data);
	assert_int_equal(iscsi_neg_finish(&f->neg, &f->out), 0);
	assert_int_equal(f->out.len, before);
}

static void test_offer_answers_checked(void **state)
{
	struct fixture *f = *state;

	f->lim.max_burst_length = 65536;
	f->lim.immediate_data = false;
	static const char *const bad[] = {
	    "MaxBurstLength=65537",			  /* above our offer */
	    "MaxBurstLength=100",			  /* below the range */
	    "MaxBurstLength=abc",    "ImmediateData=Yes", /* AND with our No */
	    "ImmediateData=Perhaps",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fx_restart(f);
		assert_int_equal(iscsi_neg_finish(&f->neg, &f->out), 0);
		assert_true(iscsi_neg_pending(&f->neg));
		seg_build(&f->seg, bad[i], NULL);
		assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
				 ISCSI_LOGIN_INIT_ERR);
	}
	/* Reject/NotUnderstood close the offer; the default stays */
	fx_restart(f);
	assert_int_equal(iscsi_neg_finish(&f->neg, &f->out), 0);
	seg_build(&f->seg, "MaxBurstLength=Reject",
		  "ImmediateData=NotUnderstood", NULL);
	assert_int_equal(fx_process(f, ISCSI_STAGE_OPERATIONAL),
			 ISCSI_LOGIN_OK);
	assert_false(iscsi_neg_pending(&f->neg));
	assert_int_equal(f->neg.p.max_burst_length, 262144);
	assert_true(f->neg.p.immediate_data);
}

static void test_no_offers_with_default_limits(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(iscsi_neg_finish(&f->neg, &f->out), 0);
	expect_answer(&f->out, "MaxRecvDataSegmentLength", "262144");
	assert_int_equal(count_answers(&f->out), 1);
	assert_false(iscsi_neg_pending(&f->neg));
	assert_rfc_defaults(&f->neg.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_add_then_next),
	    cmocka_unit_test(test_text_add_grows),
	    cmocka_unit_test(test_text_next_limits),
	    cmocka_unit_test(test_text_next_malformed),
	    cmocka_unit_test(test_limits_default),
#define FX(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)
	    FX(test_neg_init_defaults),
	    FX(test_libiscsi_style_login),
	    FX(test_numeric_results),
	    FX(test_numeric_out_of_range),
	    FX(test_numeric_ill_formed),
	    FX(test_numeric_hostile_huge_value),
	    FX(test_boolean_rules),
	    FX(test_digest_lists),
	    FX(test_list_element_too_long),
	    FX(test_task_reporting_and_protocol_level),
	    FX(test_obsolete_markers),
	    FX(test_max_recv_dsl_declaration),
	    FX(test_misconfigured_limits_are_clamped),
	    FX(test_first_burst_not_above_max_burst),
	    FX(test_first_burst_irrelevant),
	    FX(test_discovery_session),
	    FX(test_session_type),
	    FX(test_unknown_keys),
	    FX(test_initiator_answers_need_no_answer),
	    FX(test_duplicate_keys),
	    FX(test_security_keys_deferred),
	    FX(test_security_value_length),
	    FX(test_keys_in_the_wrong_stage),
	    FX(test_full_feature_text),
	    FX(test_target_only_keys),
	    FX(test_non_leading_connection),
	    FX(test_name_validation),
	    FX(test_alias_validation),
	    FX(test_hostile_segments),
	    FX(test_offers_when_defaults_exceed_limits),
	    FX(test_offer_answers_checked),
	    FX(test_no_offers_with_default_limits),
#undef FX
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
