/*
 * Unit tests of src/iscsi/chap.c through chap.h: published hash vectors
 * (RFC 1321, FIPS 180, FIPS 202) fed through H(id || secret || challenge),
 * responses recomputed independently with nettle, the binary encodings,
 * one-way and mutual exchanges, and the refusals (reflection, replay,
 * short challenges, shared secrets, wrong secrets, malformed values).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <cmocka.h>
#include <nettle/base64.h>
#include <nettle/md5.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>
#include <nettle/sha3.h>

#include "iscsi/chap.h"

static const enum chap_alg all_algs[] = {CHAP_ALG_MD5, CHAP_ALG_SHA1,
					 CHAP_ALG_SHA256, CHAP_ALG_SHA3_256};
#define NR_ALGS (sizeof(all_algs) / sizeof(all_algs[0]))

/* ---- independent helpers ---------------------------------------------- */

static void fill_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* The CHAP response computed straight with nettle. */
static size_t ref_response(enum chap_alg alg, uint8_t id, const char *secret,
			   const uint8_t *chal, size_t chal_len, uint8_t *out)
{
	size_t sl = strlen(secret);

	switch (alg) {
	case CHAP_ALG_MD5: {
		struct md5_ctx c;

		md5_init(&c);
		md5_update(&c, 1, &id);
		md5_update(&c, sl, (const uint8_t *)secret);
		md5_update(&c, chal_len, chal);
		md5_digest(&c, MD5_DIGEST_SIZE, out);
		return MD5_DIGEST_SIZE;
	}
	case CHAP_ALG_SHA1: {
		struct sha1_ctx c;

		sha1_init(&c);
		sha1_update(&c, 1, &id);
		sha1_update(&c, sl, (const uint8_t *)secret);
		sha1_update(&c, chal_len, chal);
		sha1_digest(&c, SHA1_DIGEST_SIZE, out);
		return SHA1_DIGEST_SIZE;
	}
	case CHAP_ALG_SHA256: {
		struct sha256_ctx c;

		sha256_init(&c);
		sha256_update(&c, 1, &id);
		sha256_update(&c, sl, (const uint8_t *)secret);
		sha256_update(&c, chal_len, chal);
		sha256_digest(&c, SHA256_DIGEST_SIZE, out);
		return SHA256_DIGEST_SIZE;
	}
	case CHAP_ALG_SHA3_256: {
		struct sha3_256_ctx c;

		sha3_256_init(&c);
		sha3_256_update(&c, 1, &id);
		sha3_256_update(&c, sl, (const uint8_t *)secret);
		sha3_256_update(&c, chal_len, chal);
		sha3_256_digest(&c, SHA3_256_DIGEST_SIZE, out);
		return SHA3_256_DIGEST_SIZE;
	}
	}
	fail_msg("unknown algorithm %d", (int)alg);
	return 0;
}

/* "0x"/"0X" + hex in the requested case, as initiators send it. */
static void to_hex(const uint8_t *in, size_t len, bool upper, char *out)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";

	out[0] = '0';
	out[1] = upper ? 'X' : 'x';
	for (size_t i = 0; i < len; i++) {
		out[2 + 2 * i] = digits[in[i] >> 4];
		out[3 + 2 * i] = digits[in[i] & 15];
	}
	out[2 + 2 * len] = '\0';
}

/* "0b" + base64, encoded by nettle. */
static void to_b64(const uint8_t *in, size_t len, char *out)
{
	out[0] = '0';
	out[1] = 'b';
	base64_encode_raw(out + 2, len, in);
	out[2 + BASE64_ENCODE_RAW_LENGTH(len)] = '\0';
}

static void from_hex_text(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* ---- algorithms and digests ------------------------------------------ */

static void test_digest_len(void **state)
{
	assert_int_equal(chap_digest_len(CHAP_ALG_MD5), 16);
	assert_int_equal(chap_digest_len(CHAP_ALG_SHA1), 20);
	assert_int_equal(chap_digest_len(CHAP_ALG_SHA256), 32);
	assert_int_equal(chap_digest_len(CHAP_ALG_SHA3_256), 32);
	assert_int_equal(chap_digest_len((enum chap_alg)0), 0);
	assert_int_equal(chap_digest_len((enum chap_alg)4), 0);
	assert_int_equal(chap_digest_len((enum chap_alg)9), 0);
}

static int choose(const char *list)
{
	return chap_choose_alg(list, strlen(list));
}

static void test_choose_alg(void **state)
{
	assert_int_equal(choose("5"), 5);
	assert_int_equal(choose("7,5"), 7);
	assert_int_equal(choose("5,7"), 5);
	assert_int_equal(choose("8,7,6,5"), 8);
	assert_int_equal(choose("6"), 6);
	assert_int_equal(choose("9,128,5"), 5); /* unknown ones skipped */
	assert_int_equal(choose("0x7"), 7);
	assert_int_equal(choose("4294967295,6"), 6);
	/* nothing we support */
	assert_int_equal(choose("9"), -EINVAL);
	assert_int_equal(choose("1,2,3,4"), -EINVAL);
	/* ill-formed lists */
	assert_int_equal(choose(""), -EINVAL);
	assert_int_equal(choose("5,"), -EINVAL);
	assert_int_equal(choose(",5"), -EINVAL);
	assert_int_equal(choose("5,,7"), -EINVAL);
	assert_int_equal(choose("MD5"), -EINVAL);
	assert_int_equal(choose("05"), -EINVAL);
	assert_int_equal(choose("5 "), -EINVAL);
	assert_int_equal(choose("-5"), -EINVAL);
	assert_int_equal(choose("99999999999999999999,5"), -EINVAL);
	assert_int_equal(choose("Reject"), -EINVAL);
	assert_int_equal(chap_choose_alg(NULL, 0), -EINVAL);
	/* only len bytes count */
	assert_int_equal(chap_choose_alg("5,7", 1), 5);
	assert_int_equal(chap_choose_alg("9,7", 1), -EINVAL);
	assert_int_equal(chap_choose_alg("5\0"
					 "7",
					 3),
			 -EINVAL);
}

struct kat {
	enum chap_alg alg;
	const char *msg; /* id = msg[0], secret = msg[1..n-2], chal = last */
	const char *digest;
};

/*
 * H(id || secret || challenge) is H of their concatenation, so the
 * published vectors of each hash check the CHAP composition: RFC 1321
 * (MD5), FIPS 180-2 (SHA-1, SHA-256), FIPS 202 examples (SHA3-256).
 */
static const struct kat kats[] = {
    {CHAP_ALG_MD5, "abc", "900150983cd24fb0d6963f7d28e17f72"},
    {CHAP_ALG_MD5, "message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
    {CHAP_ALG_SHA1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
    {CHAP_ALG_SHA1, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    {CHAP_ALG_SHA256, "abc",
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {CHAP_ALG_SHA256,
     "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {CHAP_ALG_SHA3_256, "abc",
     "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"},
    {CHAP_ALG_SHA3_256,
     "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "41c0dba2a9d6240849100376a8235e2c82e1b9998a999e21db32dd97496d3376"},
};

static void test_compute_known_answers(void **state)
{
	for (size_t i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		const struct kat *k = &kats[i];
		size_t n = strlen(k->msg);
		uint8_t out[CHAP_DIGEST_MAX], want[CHAP_DIGEST_MAX];
		size_t dlen = strlen(k->digest) / 2;

		from_hex_text(k->digest, want, dlen);
		assert_int_equal(
		    chap_compute(k->alg, (uint8_t)k->msg[0], k->msg + 1, n - 2,
				 (const uint8_t *)k->msg + n - 1, 1, out),
		    (int)dlen);
		assert_memory_equal(out, want, dlen);
	}
}

static void test_compute_matches_reference(void **state)
{
	for (size_t a = 0; a < NR_ALGS; a++) {
		for (unsigned round = 0; round < 50; round++) {
			uint8_t chal[200], id, out[CHAP_DIGEST_MAX];
			uint8_t want[CHAP_DIGEST_MAX];
			char secret[40];
			size_t clen, dlen;

			fill_random(&id, 1);
			fill_random(chal, sizeof(chal));
			clen = 1 + chal[0] % sizeof(chal);
			snprintf(secret, sizeof(secret), "secret-%u-%u", round,
				 (unsigned)chal[1]);
			dlen = ref_response(all_algs[a], id, secret, chal, clen,
					    want);
			assert_int_equal(chap_compute(all_algs[a], id, secret,
						      strlen(secret), chal,
						      clen, out),
					 (int)dlen);
			assert_memory_equal(out, want, dlen);
		}
	}
}

static void test_compute_bad_args(void **state)
{
	uint8_t out[CHAP_DIGEST_MAX], c = 1;

	assert_int_equal(chap_compute((enum chap_alg)9, 1, "s", 1, &c, 1, out),
			 -EINVAL);
	assert_int_equal(chap_compute(CHAP_ALG_MD5, 1, "s", 1, &c, 1, NULL),
			 -EINVAL);
	assert_int_equal(chap_compute(CHAP_ALG_MD5, 1, NULL, 1, &c, 1, out),
			 -EINVAL);
	assert_int_equal(chap_compute(CHAP_ALG_MD5, 1, "s", 1, NULL, 1, out),
			 -EINVAL);
}

/* ---- encodings -------------------------------------------------------- */

static void test_encode_hex(void **state)
{
	static const uint8_t in[] = {0x00, 0x01, 0xab, 0xff};
	char out[16];

	assert_int_equal(chap_encode_hex(in, 4, out, sizeof(out)), 0);
	assert_string_equal(out, "0x0001abff");
	assert_int_equal(chap_encode_hex(in, 4, out, 11), 0);
	assert_string_equal(out, "0x0001abff");
	assert_int_equal(chap_encode_hex(in, 4, out, 10), -ENOSPC);
	assert_string_equal(out, "");
	assert_int_equal(chap_encode_hex(in, 0, out, 3), 0);
	assert_string_equal(out, "0x");
	assert_int_equal(chap_encode_hex(in, 0, out, 2), -ENOSPC);
	assert_int_equal(chap_encode_hex(NULL, 1, out, sizeof(out)), -EINVAL);
}

static int decode(const char *s, uint8_t *out, size_t cap, size_t *outlen)
{
	return chap_decode(s, strlen(s), out, cap, outlen);
}

static void test_decode_hex(void **state)
{
	uint8_t out[8];
	size_t n;

	assert_int_equal(decode("0x0102ab", out, sizeof(out), &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "\x01\x02\xab", 3);
	assert_int_equal(decode("0XABcd", out, sizeof(out), &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "\xab\xcd", 2);
	/* odd digit count: an implied leading zero */
	assert_int_equal(decode("0x123", out, sizeof(out), &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "\x01\x23", 2);
	assert_int_equal(decode("0xf", out, sizeof(out), &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 0x0f);
	/* leading zero bytes are kept */
	assert_int_equal(decode("0x0000", out, sizeof(out), &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "\0\0", 2);
	/* exactly the capacity, then one more */
	assert_int_equal(decode("0x0102030405060708", out, 8, &n), 0);
	assert_int_equal(n, 8);
	assert_int_equal(decode("0x010203040506070809", out, 8, &n), -ENOSPC);
	assert_int_equal(decode("0x10203040506070809", out, 8, &n), -ENOSPC);
	/* malformed */
	assert_int_equal(decode("0x", out, sizeof(out), &n), -EINVAL);
	assert_int_equal(decode("0X", out, sizeof(out), &n), -EINVAL);
	assert_int_equal(decode("0xg0", out, sizeof(out), &n), -EINVAL);
	assert_int_equal(decode("0x12 34", out, sizeof(out), &n), -EINVAL);
	assert_int_equal(decode("0x-1", out, sizeof(out), &n), -EINVAL);
	assert_int_equal(decode("0x0x12", out, sizeof(out), &n), -EINVAL);
}

static void test_decode_base64(void **state)
{
	uint8_t out[8];
	size_t n;

	assert_int_equal(decode("0bAQID", out, sizeof(out), &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "\x01\x02\x03", 3);
	assert_int_equal(decode("0BAQI=", out, sizeof(out), &n), 0);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "\x01\x02", 2);
	assert_int_equal(decode("0bAQ==", out, sizeof(out), &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0], 1);
	assert_int_equal(decode("0b+/+/", out, sizeof(out), &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "\xfb\xff\xbf", 3);
	/* garbage */
	static const char *const bad[] = {
	    "0b",     "0b=",	 "0bA",	     "0bAQ=",	 "0bAQ",
	    "0bA===", "0b====",	 "0bAQ=A",   "0bA=QI",	 "0b!!!!",
	    "0bAQ I", "0bAQ\tI", "0bAQID=",  "0bAQ==AQ", "0bAR==",
	    "0bAQJ=", "0b-_-_",	 "0bAQIDBA", "0bAQ==\n", "0bAQID====",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (decode(bad[i], out, sizeof(out), &n) != -EINVAL)
			fail_msg("%s accepted", bad[i]);
	}
	/* capacity */
	assert_int_equal(decode("0bAQIDBAUGBwg=", out, 8, &n), 0);
	assert_int_equal(n, 8);
	assert_int_equal(decode("0bAQIDBAUGBwgJ", out, 8, &n), -ENOSPC);
}

static void test_decode_roundtrip(void **state)
{
	for (size_t len = 1; len <= 96; len++) {
		uint8_t in[96], out[96];
		char text[2 + 2 * 96 + 1];
		size_t n;

		fill_random(in, len);
		to_b64(in, len, text);
		assert_int_equal(decode(text, out, sizeof(out), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(out, in, len);
		to_hex(in, len, true, text);
		assert_int_equal(decode(text, out, sizeof(out), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(out, in, len);
		assert_int_equal(chap_encode_hex(in, len, text, sizeof(text)),
				 0);
		assert_int_equal(decode(text, out, sizeof(out), &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(out, in, len);
	}
}

static void test_decode_framing(void **state)
{
	uint8_t out[8];
	size_t n;

	/* no or unknown prefix */
	assert_int_equal(decode("0102", out, sizeof(out), &n), -EINVAL);
	assert_int_equal(decode("x0102", out, sizeof(out), &n), -EINVAL);
	assert_int_equal(decode("0c0102", out, sizeof(out), &n), -EINVAL);
	assert_int_equal(decode("", out, sizeof(out), &n), -EINVAL);
	assert_int_equal(decode("0", out, sizeof(out), &n), -EINVAL);
	/* only slen bytes are read: no NUL terminator needed */
	assert_int_equal(chap_decode("0x0102ZZ", 6, out, sizeof(out), &n), 0);
	assert_int_equal(n, 2);
	/* an embedded NUL is not a digit */
	assert_int_equal(chap_decode("0x01\0"
				     "2",
				     6, out, sizeof(out), &n),
			 -EINVAL);
	assert_int_equal(chap_decode(NULL, 4, out, sizeof(out), &n), -EINVAL);
	assert_int_equal(chap_decode("0x01", 4, NULL, sizeof(out), &n),
			 -EINVAL);
	assert_int_equal(chap_decode("0x01", 4, out, sizeof(out), NULL),
			 -EINVAL);
}

/* ---- the target's side ------------------------------------------------ */

static void test_server_start_and_format(void **state)
{
	struct chap_server a, b;
	char id[4], chal[2 + 2 * CHAP_CHALLENGE_LEN + 1];
	uint8_t back[CHAP_CHALLENGE_LEN];
	size_t n;

	assert_int_equal(chap_server_start(&a, (enum chap_alg)3), -EINVAL);
	assert_int_equal(chap_server_start(NULL, CHAP_ALG_MD5), -EINVAL);
	assert_int_equal(chap_server_start(&a, CHAP_ALG_SHA256), 0);
	assert_int_equal(a.alg, CHAP_ALG_SHA256);
	assert_int_equal(chap_server_start(&b, CHAP_ALG_SHA256), 0);
	/* 256 random bits: equal only if the generator is broken */
	assert_memory_not_equal(a.challenge, b.challenge, CHAP_CHALLENGE_LEN);

	assert_int_equal(
	    chap_server_format(&a, id, sizeof(id), chal, sizeof(chal)), 0);
	assert_int_equal(strtoul(id, NULL, 10), a.id);
	assert_int_equal(strlen(chal), 2 + 2 * CHAP_CHALLENGE_LEN);
	assert_memory_equal(chal, "0x", 2);
	assert_int_equal(decode(chal, back, sizeof(back), &n), 0);
	assert_int_equal(n, CHAP_CHALLENGE_LEN);
	assert_memory_equal(back, a.challenge, CHAP_CHALLENGE_LEN);

	a.id = 200;
	assert_int_equal(chap_server_format(&a, id, 3, chal, sizeof(chal)),
			 -ENOSPC);
	assert_int_equal(chap_server_format(&a, id, 4, chal, sizeof(chal)), 0);
	assert_string_equal(id, "200");
	assert_int_equal(
	    chap_server_format(&a, id, sizeof(id), chal, sizeof(chal) - 1),
	    -ENOSPC);
}

/* What an initiator does with our CHAP_I and CHAP_C. */
static size_t initiator_answer(const struct chap_server *s, const char *secret,
			       uint8_t *resp)
{
	char id[4], chal[2 + 2 * CHAP_CHALLENGE_LEN + 1];
	uint8_t c[CHAP_CHALLENGE_LEN];

	assert_int_equal(
	    chap_server_format(s, id, sizeof(id), chal, sizeof(chal)), 0);
	from_hex_text(chal + 2, c, CHAP_CHALLENGE_LEN);
	return ref_response(s->alg, (uint8_t)strtoul(id, NULL, 10), secret, c,
			    sizeof(c), resp);
}

static int verify_bytes(const struct chap_server *s, const char *secret,
			const uint8_t *resp, size_t len)
{
	char text[2 + 2 * 64 + 1];

	to_hex(resp, len, true, text);
	return chap_server_verify(s, secret, text, strlen(text));
}

static void test_one_way_exchange(void **state)
{
	static const char secret[] = "initiator-secret-16";

	for (size_t a = 0; a < NR_ALGS; a++) {
		struct chap_server s;
		uint8_t resp[CHAP_DIGEST_MAX + 1];
		char text[2 + 2 * 64 + 1];
		size_t dlen;

		assert_int_equal(chap_server_start(&s, all_algs[a]), 0);
		dlen = initiator_answer(&s, secret, resp);
		assert_int_equal(dlen, chap_digest_len(all_algs[a]));

		/* upper-case hex (libiscsi), lower-case hex, base64 */
		assert_int_equal(verify_bytes(&s, secret, resp, dlen), 0);
		to_hex(resp, dlen, false, text);
		assert_int_equal(
		    chap_server_verify(&s, secret, text, strlen(text)), 0);
		to_b64(resp, dlen, text);
		assert_int_equal(
		    chap_server_verify(&s, secret, text, strlen(text)), 0);

		/* wrong secret */
		assert_int_equal(
		    verify_bytes(&s, "initiator-secret-17", resp, dlen),
		    -EACCES);
		/* one flipped bit */
		resp[dlen - 1] ^= 1;
		assert_int_equal(verify_bytes(&s, secret, resp, dlen), -EACCES);
		resp[dlen - 1] ^= 1;
		/* computed for another identifier */
		s.id ^= 1;
		assert_int_equal(verify_bytes(&s, secret, resp, dlen), -EACCES);
		s.id ^= 1;
		/* wrong length and garbage are malformed */
		assert_int_equal(verify_bytes(&s, secret, resp, dlen - 1),
				 -EINVAL);
		resp[dlen] = 0;
		assert_int_equal(verify_bytes(&s, secret, resp, dlen + 1),
				 -EINVAL);
		assert_int_equal(chap_server_verify(&s, secret, "0xzz", 4),
				 -EINVAL);
		assert_int_equal(chap_server_verify(&s, secret, "", 0),
				 -EINVAL);
		assert_int_equal(chap_server_verify(&s, secret, "0b!", 3),
				 -EINVAL);
		/* an empty secret is never valid */
		assert_int_equal(verify_bytes(&s, "", resp, dlen), -EINVAL);
		/* still fine afterwards */
		assert_int_equal(verify_bytes(&s, secret, resp, dlen), 0);
	}
}

static void random_challenge(uint8_t *c, size_t len, char *text)
{
	fill_random(c, len);
	to_hex(c, len, false, text);
}

static void test_mutual_exchange(void **state)
{
	static const char tsecret[] = "target-secret-0123";
	static const char isecret[] = "initiator-secret-16";

	for (size_t a = 0; a < NR_ALGS; a++) {
		struct chap_server s;
		uint8_t chal[32], want[CHAP_DIGEST_MAX];
		char ctext[2 + 64 + 1], resp[2 + 2 * CHAP_DIGEST_MAX + 1];
		char expect[2 + 2 * CHAP_DIGEST_MAX + 1];
		size_t dlen;

		assert_int_equal(chap_server_start(&s, all_algs[a]), 0);
		random_challenge(chal, sizeof(chal), ctext);
		assert_int_equal(chap_server_mutual(&s, tsecret, isecret, "7",
						    1, ctext, strlen(ctext),
						    resp, sizeof(resp)),
				 0);
		dlen = ref_response(all_algs[a], 7, tsecret, chal, sizeof(chal),
				    want);
		to_hex(want, dlen, false, expect);
		assert_string_equal(resp, expect);
	}

	/* base64 challenge, hex identifier, no initiator secret given */
	struct chap_server s;
	uint8_t chal[20], want[CHAP_DIGEST_MAX];
	char ctext[64], resp[2 + 2 * CHAP_DIGEST_MAX + 1], expect[80];

	assert_int_equal(chap_server_start(&s, CHAP_ALG_MD5), 0);
	fill_random(chal, sizeof(chal));
	to_b64(chal, sizeof(chal), ctext);
	assert_int_equal(chap_server_mutual(&s, tsecret, NULL, "0xff", 4, ctext,
					    strlen(ctext), resp, sizeof(resp)),
			 0);
	to_hex(
	    want,
	    ref_response(CHAP_ALG_MD5, 255, tsecret, chal, sizeof(chal), want),
	    false, expect);
	assert_string_equal(resp, expect);
}

static void test_mutual_reflection(void **state)
{
	struct chap_server s;
	char ctext[2 + 2 * CHAP_CHALLENGE_LEN + 1], resp[80];

	assert_int_equal(chap_server_start(&s, CHAP_ALG_SHA256), 0);
	to_hex(s.challenge, CHAP_CHALLENGE_LEN, true, ctext);
	assert_int_equal(chap_server_mutual(&s, "target-secret-0123",
					    "initiator-secret", "1", 1, ctext,
					    strlen(ctext), resp, sizeof(resp)),
			 -EACCES);
	to_b64(s.challenge, CHAP_CHALLENGE_LEN, ctext);
	assert_int_equal(chap_server_mutual(&s, "target-secret-0123",
					    "initiator-secret", "1", 1, ctext,
					    strlen(ctext), resp, sizeof(resp)),
			 -EACCES);
}

static void test_mutual_replay(void **state)
{
	struct chap_server s1, s2;
	uint8_t chal[32];
	char ctext[2 + 64 + 1], resp[80];

	assert_int_equal(chap_server_start(&s1, CHAP_ALG_MD5), 0);
	assert_int_equal(chap_server_start(&s2, CHAP_ALG_SHA1), 0);
	random_challenge(chal, sizeof(chal), ctext);
	assert_int_equal(chap_server_mutual(&s1, "target-secret-0123", NULL,
					    "1", 1, ctext, strlen(ctext), resp,
					    sizeof(resp)),
			 0);
	/* the same challenge again, from "another" initiator and login */
	assert_int_equal(chap_server_mutual(&s2, "other-target-secret", NULL,
					    "2", 1, ctext, strlen(ctext), resp,
					    sizeof(resp)),
			 -EACCES);
	/* in another encoding it is still the same challenge */
	to_b64(chal, sizeof(chal), ctext);
	assert_int_equal(chap_server_mutual(&s1, "target-secret-0123", NULL,
					    "1", 1, ctext, strlen(ctext), resp,
					    sizeof(resp)),
			 -EACCES);
}

static void test_mutual_challenge_length(void **state)
{
	struct chap_server s;
	static uint8_t chal[CHAP_CHALLENGE_MAX + 1];
	static char ctext[2 + 2 * (CHAP_CHALLENGE_MAX + 1) + 1];
	char resp[80];

	assert_int_equal(chap_server_start(&s, CHAP_ALG_SHA3_256), 0);
	/* shorter than CHAP_CHALLENGE_MIN */
	random_challenge(chal, CHAP_CHALLENGE_MIN - 1, ctext);
	assert_int_equal(chap_server_mutual(&s, "target-secret-0123", NULL, "1",
					    1, ctext, strlen(ctext), resp,
					    sizeof(resp)),
			 -EACCES);
	assert_int_equal(chap_server_mutual(&s, "target-secret-0123", NULL, "1",
					    1, "0x00", 4, resp, sizeof(resp)),
			 -EACCES);
	random_challenge(chal, CHAP_CHALLENGE_MIN, ctext);
	assert_int_equal(chap_server_mutual(&s, "target-secret-0123", NULL, "1",
					    1, ctext, strlen(ctext), resp,
					    sizeof(resp)),
			 0);
	/* the longest accepted, then one byte more */
	random_challenge(chal, CHAP_CHALLENGE_MAX, ctext);
	assert_int_equal(chap_server_mutual(&s, "target-secret-0123", NULL, "1",
					    1, ctext, strlen(ctext), resp,
					    sizeof(resp)),
			 0);
	random_challenge(chal, CHAP_CHALLENGE_MAX + 1, ctext);
	assert_int_equal(chap_server_mutual(&s, "target-secret-0123", NULL, "1",
					    1, ctext, strlen(ctext), resp,
					    sizeof(resp)),
			 -EINVAL);
}

static void test_mutual_shared_secret(void **state)
{
	struct chap_server s;
	uint8_t chal[32];
	char ctext[2 + 64 + 1], resp[80];

	assert_int_equal(chap_server_start(&s, CHAP_ALG_SHA256), 0);
	random_challenge(chal, sizeof(chal), ctext);
	assert_int_equal(chap_server_mutual(&s, "same-secret-123456",
					    "same-secret-123456", "1", 1, ctext,
					    strlen(ctext), resp, sizeof(resp)),
			 -EACCES);
	/* a refused exchange does not burn the challenge */
	assert_int_equal(chap_server_mutual(
			     &s, "same-secret-123456", "same-secret-1234567",
			     "1", 1, ctext, strlen(ctext), resp, sizeof(resp)),
			 0);
}

static void test_mutual_malformed(void **state)
{
	struct chap_server s;
	uint8_t chal[32];
	char ctext[2 + 64 + 1], resp[2 + 2 * 32 + 1];
	static const char *const bad_ids[] = {"256", "-1", "",	    "abc",
					      "01",  "0x", "0x100", "1 "};

	assert_int_equal(chap_server_start(&s, CHAP_ALG_SHA256), 0);
	random_challenge(chal, sizeof(chal), ctext);
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++)
		assert_int_equal(
		    chap_server_mutual(&s, "target-secret-0123", NULL,
				       bad_ids[i], strlen(bad_ids[i]), ctext,
				       strlen(ctext), resp, sizeof(resp)),
		    -EINVAL);
	assert_int_equal(chap_server_mutual(&s, "target-secret-0123", NULL, "1",
					    1, "0x", 2, resp, sizeof(resp)),
			 -EINVAL);
	assert_int_equal(chap_server_mutual(&s, "target-secret-0123", NULL, "1",
					    1, "0bnot base64!", 13, resp,
					    sizeof(resp)),
			 -EINVAL);
	assert_int_equal(chap_server_mutual(&s, "", NULL, "1", 1, ctext,
					    strlen(ctext), resp, sizeof(resp)),
			 -EINVAL);
	/* too small for the answer: refused before the challenge is used */
	assert_int_equal(chap_server_mutual(&s, "target-secret-0123", NULL, "1",
					    1, ctext, strlen(ctext), resp,
					    sizeof(resp) - 1),
			 -ENOSPC);
	/* none of the above consumed the challenge */
	assert_int_equal(chap_server_mutual(&s, "target-secret-0123", NULL, "0",
					    1, ctext, strlen(ctext), resp,
					    sizeof(resp)),
			 0);
	assert_int_equal(strlen(resp), 2 + 2 * 32);
}

/* ---- the replay cache under concurrency ------------------------------ */

#define NR_THREADS 8

struct race {
	pthread_barrier_t barrier;
	char shared[2 + 64 + 1];
	int results[NR_THREADS];
	int unique_failures[NR_THREADS];
};

struct race_arg {
	struct race *race;
	unsigned idx;
};

static void *race_thread(void *p)
{
	struct race_arg *a = p;
	struct chap_server s;
	char resp[80], own[2 + 64 + 1];
	uint8_t chal[32];

	if (chap_server_start(&s, CHAP_ALG_SHA256))
		return NULL;
	pthread_barrier_wait(&a->race->barrier);
	a->race->results[a->idx] = chap_server_mutual(
	    &s, "target-secret-0123", NULL, "1", 1, a->race->shared,
	    strlen(a->race->shared), resp, sizeof(resp));
	/* Then many distinct challenges at once; after a second barrier,
	 * since enough of them would push the shared one out of the ring. */
	pthread_barrier_wait(&a->race->barrier);
	for (unsigned i = 0; i < 50; i++) {
		random_challenge(chal, sizeof(chal), own);
		if (chap_server_mutual(&s, "target-secret-0123", NULL, "1", 1,
				       own, strlen(own), resp, sizeof(resp)))
			a->race->unique_failures[a->idx]++;
	}
	return NULL;
}

static void test_replay_cache_threads(void **state)
{
	struct race race;
	struct race_arg args[NR_THREADS];
	pthread_t th[NR_THREADS];
	uint8_t chal[32];
	unsigned wins = 0, refused = 0;

	memset(&race, 0, sizeof(race));
	for (unsigned i = 0; i < NR_THREADS; i++)
		race.results[i] = 1;
	assert_int_equal(pthread_barrier_init(&race.barrier, NULL, NR_THREADS),
			 0);
	random_challenge(chal, sizeof(chal), race.shared);
	for (unsigned i = 0; i < NR_THREADS; i++) {
		args[i].race = &race;
		args[i].idx = i;
		assert_int_equal(
		    pthread_create(&th[i], NULL, race_thread, &args[i]), 0);
	}
	for (unsigned i = 0; i < NR_THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&race.barrier);
	for (unsigned i = 0; i < NR_THREADS; i++) {
		wins += race.results[i] == 0;
		refused += race.results[i] == -EACCES;
		assert_int_equal(race.unique_failures[i], 0);
	}
	assert_int_equal(wins, 1);
	assert_int_equal(refused, NR_THREADS - 1);
}

static void test_replay_cache_is_bounded(void **state)
{
	struct chap_server s;
	uint8_t chal[32];
	char old[2 + 64 + 1], other[2 + 64 + 1], resp[80];

	assert_int_equal(chap_server_start(&s, CHAP_ALG_MD5), 0);
	random_challenge(chal, sizeof(chal), old);
	assert_int_equal(chap_server_mutual(&s, "target-secret-0123", NULL, "1",
					    1, old, strlen(old), resp,
					    sizeof(resp)),
			 0);
	/* "recently" is a fixed window: thousands later it has gone */
	for (unsigned i = 0; i < 4096; i++) {
		random_challenge(chal, sizeof(chal), other);
		assert_int_equal(chap_server_mutual(
				     &s, "target-secret-0123", NULL, "1", 1,
				     other, strlen(other), resp, sizeof(resp)),
				 0);
	}
	assert_int_equal(chap_server_mutual(&s, "target-secret-0123", NULL, "1",
					    1, old, strlen(old), resp,
					    sizeof(resp)),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_digest_len),
	    cmocka_unit_test(test_choose_alg),
	    cmocka_unit_test(test_compute_known_answers),
	    cmocka_unit_test(test_compute_matches_reference),
	    cmocka_unit_test(test_compute_bad_args),
	    cmocka_unit_test(test_encode_hex),
	    cmocka_unit_test(test_decode_hex),
	    cmocka_unit_test(test_decode_base64),
	    cmocka_unit_test(test_decode_roundtrip),
	    cmocka_unit_test(test_decode_framing),
	    cmocka_unit_test(test_server_start_and_format),
	    cmocka_unit_test(test_one_way_exchange),
	    cmocka_unit_test(test_mutual_exchange),
	    cmocka_unit_test(test_mutual_reflection),
	    cmocka_unit_test(test_mutual_replay),
	    cmocka_unit_test(test_mutual_challenge_length),
	    cmocka_unit_test(test_mutual_shared_secret),
	    cmocka_unit_test(test_mutual_malformed),
	    cmocka_unit_test(test_replay_cache_threads),
	    cmocka_unit_test(test_replay_cache_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
