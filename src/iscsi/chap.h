/*
 * CHAP for iSCSI (RFC 7143 §12.1.3, RFC 1994): the digests (MD5, SHA-1,
 * SHA-256, SHA3-256 as CHAP_A 5/6/7/8 per the IANA registry used by RFC
 * 7143 and its updates), binary value encoding (0x hex, 0b base64), the
 * target side of one-way and mutual authentication, and the refusal of
 * reused, reflected or weak challenges.
 */
#ifndef LUNAR_ISCSI_CHAP_H
#define LUNAR_ISCSI_CHAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum chap_alg {
	CHAP_ALG_MD5 = 5,
	CHAP_ALG_SHA1 = 6,
	CHAP_ALG_SHA256 = 7,
	CHAP_ALG_SHA3_256 = 8,
};

#define CHAP_DIGEST_MAX	   32
#define CHAP_CHALLENGE_LEN 32 /* bytes the target sends */
#define CHAP_CHALLENGE_MIN 16 /* shortest initiator challenge accepted */
#define CHAP_CHALLENGE_MAX 1024

/* 0 for an algorithm we do not support. */
size_t chap_digest_len(enum chap_alg alg);

/* Picks the first algorithm of the initiator's CHAP_A list (e.g. "7,5")
 * that we support. Returns it, or -EINVAL when none is. */
int chap_choose_alg(const char *list, size_t len);

/* response = H(id || secret || challenge). Returns digest length or -errno. */
int chap_compute(enum chap_alg alg, uint8_t id, const void *secret,
		 size_t secret_len, const uint8_t *challenge,
		 size_t challenge_len, uint8_t *out);

/* "0x" + lowercase hex. Returns 0 or -ENOSPC. */
int chap_encode_hex(const uint8_t *in, size_t len, char *out, size_t outsz);
/* Accepts 0x/0X hex or 0b/0B base64 (RFC 7143 §6.1 binary-value). */
int chap_decode(const char *s, size_t slen, uint8_t *out, size_t cap,
		size_t *outlen);

/* Target side of one login's CHAP exchange. */
struct chap_server {
	enum chap_alg alg;
	uint8_t id;
	uint8_t challenge[CHAP_CHALLENGE_LEN];
};

/* Chooses a random identifier and challenge (getrandom). */
int chap_server_start(struct chap_server *s, enum chap_alg alg);
/* The CHAP_I / CHAP_C values to send: decimal id and 0x-hex challenge. */
int chap_server_format(const struct chap_server *s, char *id_out, size_t id_sz,
		       char *chal_out, size_t chal_sz);
/* Checks the initiator's CHAP_R against secret. 0 = match, -EACCES not,
 * -EINVAL malformed. Comparison in constant time. */
int chap_server_verify(const struct chap_server *s, const char *secret,
		       const char *chap_r, size_t rlen);
/*
 * Mutual CHAP: computes the target's CHAP_R for the initiator's CHAP_I and
 * CHAP_C with the target's own secret. Refuses (-EACCES) a challenge that
 * equals the one we sent (reflection), one shorter than CHAP_CHALLENGE_MIN,
 * one seen recently from any initiator (replay cache), and a target secret
 * equal to the initiator's secret (RFC 7143 §12.1.3 forbids sharing).
 */
int chap_server_mutual(const struct chap_server *s, const char *target_secret,
		       const char *initiator_secret, const char *chap_i,
		       size_t ilen, const char *chap_c, size_t clen,
		       char *resp_out, size_t resp_sz);

#endif
