/*
 * CHAP for iSCSI, target side (RFC 7143 §12.1.3 on RFC 1994): the response
 * digest H(identifier || secret || challenge) with MD5, SHA-1, SHA-256 or
 * SHA3-256 (CHAP_A 5/6/7/8), the binary-value encodings of CHAP_C/CHAP_R
 * (RFC 7143 §6.1: "0x" hex, "0b" base64 per RFC 4648), random challenges
 * from getrandom(2), constant-time verification, and the refusals §12.1.3
 * asks of a target in mutual CHAP: a reflected challenge, a challenge seen
 * recently (a process-wide ring of challenge hashes, shared by the login
 * threads under a mutex), a short challenge, and one secret for both
 * directions.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <nettle/md5.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>
#include <nettle/sha3.h>

#include "iscsi/chap.h"
#include "util/bytes.h"

/* Initiator challenges remembered for replay detection. */
#define CHAP_REPLAY_SLOTS 256

_Static_assert(SHA256_DIGEST_SIZE <= CHAP_DIGEST_MAX, "digest size");
_Static_assert(SHA3_256_DIGEST_SIZE <= CHAP_DIGEST_MAX, "digest size");

size_t chap_digest_len(enum chap_alg alg)
{
	switch (alg) {
	case CHAP_ALG_MD5:
		return MD5_DIGEST_SIZE;
	case CHAP_ALG_SHA1:
		return SHA1_DIGEST_SIZE;
	case CHAP_ALG_SHA256:
		return SHA256_DIGEST_SIZE;
	case CHAP_ALG_SHA3_256:
		return SHA3_256_DIGEST_SIZE;
	}
	return 0;
}

/* Erases secrets-derived bytes so they do not linger on the stack. */
static void chap_wipe(void *p, size_t len)
{
	explicit_bzero(p, len);
}

static bool chap_equal_ct(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint8_t diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/*
 * A small numerical-value (RFC 7143 §6.1): decimal-constant without
 * leading zeros, or hex-constant. -EINVAL when ill-formed or above max.
 */
static int chap_parse_small(const char *s, size_t len, unsigned max,
			    unsigned *out)
{
	unsigned long v = 0;
	size_t i = 0;
	int base = 10;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	} else if (len == 0 || (s[0] == '0' && len > 1)) {
		return -EINVAL;
	}
	for (; i < len; i++) {
		int d = base == 16
			    ? hex_digit_value(s[i])
			    : (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1);

		if (d < 0)
			return -EINVAL;
		v = v * (unsigned long)base + (unsigned long)d;
		if (v > max)
			return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

int chap_choose_alg(const char *list, size_t len)
{
	size_t start = 0;
	int chosen = -EINVAL;

	if (!list)
		return -EINVAL;
	while (start <= len) {
		const char *comma = memchr(list + start, ',', len - start);
		size_t end = comma ? (size_t)(comma - list) : len;
		size_t elen = end - start;
		unsigned alg;
		int rc;

		/* Every element must be a number; numbers we do not know
		 * are skipped (§6.2 list negotiation). */
		rc = chap_parse_small(list + start, elen, UINT32_MAX, &alg);
		if (rc)
			return -EINVAL;
		if (chosen < 0 && alg <= 255 &&
		    chap_digest_len((enum chap_alg)alg))
			chosen = (int)alg;
		start = end + 1;
	}
	return chosen;
}

int chap_compute(enum chap_alg alg, uint8_t id, const void *secret,
		 size_t secret_len, const uint8_t *challenge,
		 size_t challenge_len, uint8_t *out)
{
	union {
		struct md5_ctx md5;
		struct sha1_ctx sha1;
		struct sha256_ctx sha256;
		struct sha3_256_ctx sha3;
	} ctx;
	size_t dlen = chap_digest_len(alg);

	if (!dlen || !out || (!secret && secret_len) ||
	    (!challenge && challenge_len))
		return -EINVAL;
	switch (alg) {
	case CHAP_ALG_MD5:
		md5_init(&ctx.md5);
		md5_update(&ctx.md5, 1, &id);
		md5_update(&ctx.md5, secret_len, secret);
		md5_update(&ctx.md5, challenge_len, challenge);
		md5_digest(&ctx.md5, MD5_DIGEST_SIZE, out);
		break;
	case CHAP_ALG_SHA1:
		sha1_init(&ctx.sha1);
		sha1_update(&ctx.sha1, 1, &id);
		sha1_update(&ctx.sha1, secret_len, secret);
		sha1_update(&ctx.sha1, challenge_len, challenge);
		sha1_digest(&ctx.sha1, SHA1_DIGEST_SIZE, out);
		break;
	case CHAP_ALG_SHA256:
		sha256_init(&ctx.sha256);
		sha256_update(&ctx.sha256, 1, &id);
		sha256_update(&ctx.sha256, secret_len, secret);
		sha256_update(&ctx.sha256, challenge_len, challenge);
		sha256_digest(&ctx.sha256, SHA256_DIGEST_SIZE, out);
		break;
	case CHAP_ALG_SHA3_256:
		sha3_256_init(&ctx.sha3);
		sha3_256_update(&ctx.sha3, 1, &id);
		sha3_256_update(&ctx.sha3, secret_len, secret);
		sha3_256_update(&ctx.sha3, challenge_len, challenge);
		sha3_256_digest(&ctx.sha3, SHA3_256_DIGEST_SIZE, out);
		break;
	}
	chap_wipe(&ctx, sizeof(ctx));
	return (int)dlen;
}

int chap_encode_hex(const uint8_t *in, size_t len, char *out, size_t outsz)
{
	static const char digits[] = "0123456789abcdef";

	if (!out || (!in && len))
		return -EINVAL;
	if (len > (SIZE_MAX - 3) / 2 || outsz < 2 + 2 * len + 1) {
		if (outsz)
			out[0] = '\0';
		return -ENOSPC;
	}
	out[0] = '0';
	out[1] = 'x';
	for (size_t i = 0; i < len; i++) {
		out[2 + 2 * i] = digits[in[i] >> 4];
		out[3 + 2 * i] = digits[in[i] & 0xf];
	}
	out[2 + 2 * len] = '\0';
	return 0;
}

/*
 * RFC 7143 §6.1 hex-constant used for a binary string: n digits make
 * (n + 1) / 2 bytes, so an odd count has an implied leading zero nibble.
 */
static int chap_decode_hex(const char *s, size_t n, uint8_t *out, size_t cap,
			   size_t *outlen)
{
	size_t bytes = (n + 1) / 2, i = 0, o = 0;

	if (n == 0)
		return -EINVAL;
	for (size_t k = 0; k < n; k++)
		if (hex_digit_value(s[k]) < 0)
			return -EINVAL;
	if (bytes > cap)
		return -ENOSPC;
	if (n % 2)
		out[o++] = (uint8_t)hex_digit_value(s[i++]);
	for (; i < n; i += 2)
		out[o++] = (uint8_t)(hex_digit_value(s[i]) << 4 |
				     hex_digit_value(s[i + 1]));
	*outlen = o;
	return 0;
}

static int chap_b64_digit(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * RFC 4648 §4 base64 in its canonical form only: whole 4-character
 * groups, '=' padding only at the end, and zero bits in what the padding
 * discards (§3.5), so that one value has exactly one encoding.
 */
static int chap_decode_b64(const char *s, size_t n, uint8_t *out, size_t cap,
			   size_t *outlen)
{
	size_t pad = 0, bytes, o = 0;

	if (n == 0 || n % 4)
		return -EINVAL;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	for (size_t k = 0; k < n - pad; k++)
		if (chap_b64_digit(s[k]) < 0)
			return -EINVAL;
	if (pad == 2 && (chap_b64_digit(s[n - 3]) & 0x0f))
		return -EINVAL;
	if (pad == 1 && (chap_b64_digit(s[n - 2]) & 0x03))
		return -EINVAL;
	bytes = n / 4 * 3 - pad;
	if (bytes > cap)
		return -ENOSPC;
	for (size_t k = 0; k < n; k += 4) {
		uint32_t v = 0;
		unsigned have = 0;

		for (unsigned j = 0; j < 4; j++) {
			int d = s[k + j] == '=' ? 0 : chap_b64_digit(s[k + j]);

			v = v << 6 | (uint32_t)d;
			have += s[k + j] != '=';
		}
		out[o++] = (uint8_t)(v >> 16);
		if (have > 2)
			out[o++] = (uint8_t)(v >> 8);
		if (have > 3)
			out[o++] = (uint8_t)v;
	}
	*outlen = o;
	return 0;
}

int chap_decode(const char *s, size_t slen, uint8_t *out, size_t cap,
		size_t *outlen)
{
	if (!s || !out || !outlen || slen < 2 || s[0] != '0')
		return -EINVAL;
	if (s[1] == 'x' || s[1] == 'X')
		return chap_decode_hex(s + 2, slen - 2, out, cap, outlen);
	if (s[1] == 'b' || s[1] == 'B')
		return chap_decode_b64(s + 2, slen - 2, out, cap, outlen);
	return -EINVAL;
}

/* ---- replay cache ----------------------------------------------------- */

static struct {
	pthread_mutex_t lock;
	uint8_t hash[CHAP_REPLAY_SLOTS][SHA256_DIGEST_SIZE];
	unsigned used; /* slots filled so far */
	unsigned next; /* slot the next challenge overwrites */
} chap_replay = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Records a challenge; -EACCES when it is already among the recent ones. */
static int chap_replay_check_and_add(const uint8_t *chal, size_t len)
{
	uint8_t h[SHA256_DIGEST_SIZE];
	struct sha256_ctx ctx;
	int rc = 0;

	sha256_init(&ctx);
	sha256_update(&ctx, len, chal);
	sha256_digest(&ctx, sizeof(h), h);

	pthread_mutex_lock(&chap_replay.lock);
	for (unsigned i = 0; i < chap_replay.used; i++) {
		if (memcmp(chap_replay.hash[i], h, sizeof(h)) == 0) {
			rc = -EACCES;
			break;
		}
	}
	if (rc == 0) {
		memcpy(chap_replay.hash[chap_replay.next], h, sizeof(h));
		chap_replay.next = (chap_replay.next + 1) % CHAP_REPLAY_SLOTS;
		if (chap_replay.used < CHAP_REPLAY_SLOTS)
			chap_replay.used++;
	}
	pthread_mutex_unlock(&chap_replay.lock);
	return rc;
}

/* ---- target side ------------------------------------------------------ */

static int chap_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t got = getrandom(p, len, 0);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += got;
		len -= (size_t)got;
	}
	return 0;
}

int chap_server_start(struct chap_server *s, enum chap_alg alg)
{
	uint8_t rnd[1 + CHAP_CHALLENGE_LEN];
	int rc;

	if (!s || !chap_digest_len(alg))
		return -EINVAL;
	rc = chap_random(rnd, sizeof(rnd));
	if (rc)
		return rc;
	s->alg = alg;
	s->id = rnd[0];
	memcpy(s->challenge, rnd + 1, CHAP_CHALLENGE_LEN);
	chap_wipe(rnd, sizeof(rnd));
	return 0;
}

int chap_server_format(const struct chap_server *s, char *id_out, size_t id_sz,
		       char *chal_out, size_t chal_sz)
{
	int n;

	if (!s || !id_out || !chal_out)
		return -EINVAL;
	n = snprintf(id_out, id_sz, "%u", (unsigned)s->id);
	if (n < 0 || (size_t)n >= id_sz)
		return -ENOSPC;
	return chap_encode_hex(s->challenge, CHAP_CHALLENGE_LEN, chal_out,
			       chal_sz);
}

int chap_server_verify(const struct chap_server *s, const char *secret,
		       const char *chap_r, size_t rlen)
{
	uint8_t got[CHAP_DIGEST_MAX], want[CHAP_DIGEST_MAX];
	size_t dlen, glen, slen;
	int rc;

	if (!s || !secret || !chap_r)
		return -EINVAL;
	dlen = chap_digest_len(s->alg);
	slen = strlen(secret);
	if (!dlen || !slen)
		return -EINVAL;
	if (chap_decode(chap_r, rlen, got, sizeof(got), &glen) || glen != dlen)
		return -EINVAL;
	rc = chap_compute(s->alg, s->id, secret, slen, s->challenge,
			  CHAP_CHALLENGE_LEN, want);
	if (rc < 0)
		return rc;
	rc = chap_equal_ct(got, want, dlen) ? 0 : -EACCES;
	chap_wipe(want, sizeof(want));
	return rc;
}

int chap_server_mutual(const struct chap_server *s, const char *target_secret,
		       const char *initiator_secret, const char *chap_i,
		       size_t ilen, const char *chap_c, size_t clen,
		       char *resp_out, size_t resp_sz)
{
	uint8_t chal[CHAP_CHALLENGE_MAX], resp[CHAP_DIGEST_MAX];
	size_t dlen, tlen, chal_len;
	unsigned id;
	int rc;

	if (!s || !target_secret || !chap_i || !chap_c || !resp_out)
		return -EINVAL;
	dlen = chap_digest_len(s->alg);
	tlen = strlen(target_secret);
	if (!dlen || !tlen)
		return -EINVAL;
	if (resp_sz < 2 + 2 * dlen + 1)
		return -ENOSPC;
	if (chap_parse_small(chap_i, ilen, 255, &id))
		return -EINVAL;
	if (chap_decode(chap_c, clen, chal, sizeof(chal), &chal_len))
		return -EINVAL;
	if (chal_len < CHAP_CHALLENGE_MIN)
		return -EACCES;
	/* §12.1.3: our own challenge sent back to us (reflection). */
	if (chal_len == CHAP_CHALLENGE_LEN &&
	    memcmp(chal, s->challenge, CHAP_CHALLENGE_LEN) == 0)
		return -EACCES;
	/* §12.1.3: one secret must not serve both directions. */
	if (initiator_secret && strlen(initiator_secret) == tlen &&
	    chap_equal_ct((const uint8_t *)initiator_secret,
			  (const uint8_t *)target_secret, tlen))
		return -EACCES;
	rc = chap_replay_check_and_add(chal, chal_len);
	if (rc)
		return rc;
	rc = chap_compute(s->alg, (uint8_t)id, target_secret, tlen, chal,
			  chal_len, resp);
	if (rc < 0)
		return rc;
	rc = chap_encode_hex(resp, dlen, resp_out, resp_sz);
	chap_wipe(resp, sizeof(resp));
	return rc;
}
