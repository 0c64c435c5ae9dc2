/*
 * pkce.c: PKCE verifier and challenge (RFC 7636) and login state values.
 */
#include <string.h>

#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "secret/pkce.h"

/* RFC 7636 4.1: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~". */
static int is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

/* n random bytes as base64url without padding into out. */
static void random_b64url(unsigned char *bin, size_t n, char *out,
			  size_t outlen)
{
	randombytes_buf(bin, n);
	sodium_bin2base64(out, outlen, bin, n,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(bin, n);
}

void pkce_verifier_new(char out[PKCE_VERIFIER_LEN + 1])
{
	unsigned char bin[32];

	random_b64url(bin, sizeof(bin), out, PKCE_VERIFIER_LEN + 1);
}

int pkce_challenge_s256(const char *verifier, size_t len,
			char out[PKCE_CHALLENGE_LEN + 1])
{
	unsigned char hash[crypto_hash_sha256_BYTES];
	size_t i;

	out[0] = '\0';
	if (verifier == NULL || len < 43 || len > 128)
		return XO_ERR_INVALID;
	for (i = 0; i < len; i++)
		if (!is_unreserved((unsigned char)verifier[i]))
			return XO_ERR_INVALID;
	crypto_hash_sha256(hash, (const unsigned char *)verifier, len);
	sodium_bin2base64(out, PKCE_CHALLENGE_LEN + 1, hash, sizeof(hash),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return 0;
}

void login_state_new(char out[LOGIN_STATE_LEN + 1])
{
	unsigned char bin[16];

	random_b64url(bin, sizeof(bin), out, LOGIN_STATE_LEN + 1);
}

int login_state_equal(const char *want, const char *got, size_t len)
{
	if (want == NULL || got == NULL || strlen(want) != len || len == 0)
		return 0;
	return sodium_memcmp(want, got, len) == 0;
}
