/*
 * UTF-8 well-formedness (RFC 3629): what iSCSI text values and names must
 * be (RFC 7143 §6.1), and what JSON (the control protocol, saved state)
 * can carry.
 */
#ifndef LUNAR_UTIL_UTF8_H
#define LUNAR_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8: no overlong forms, no
 * surrogates, nothing above U+10FFFF, no truncated sequence. */
bool utf8_valid(const char *s, size_t len);

#endif
