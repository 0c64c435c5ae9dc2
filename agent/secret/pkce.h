/*
 * pkce.h: the secrets of one authorization-code login: the PKCE code
 * verifier and its S256 challenge (RFC 7636), and the `state` value that
 * ties the provider's redirect to the login that asked for it (RFC 6749
 * 10.12).  Pure: randomness comes from libsodium, nothing else.
 */
#ifndef XO_SECRET_PKCE_H
#define XO_SECRET_PKCE_H

#include <stddef.h>

/* 32 random bytes in base64url without padding: 43 characters, the
   shortest verifier RFC 7636 4.1 allows and the one it recommends. */
#define PKCE_VERIFIER_LEN 43
/* base64url of SHA-256: 43 characters. */
#define PKCE_CHALLENGE_LEN 43
/* 128 random bits in base64url: 22 characters. */
#define LOGIN_STATE_LEN 22

/* Writes a fresh verifier and a NUL into out (PKCE_VERIFIER_LEN + 1). */
void pkce_verifier_new(char out[PKCE_VERIFIER_LEN + 1]);

/*
 * RFC 7636 4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))), without
 * padding, into out (PKCE_CHALLENGE_LEN + 1 bytes).  0, or XO_ERR_INVALID
 * when verifier is not 43 to 128 characters of [A-Z a-z 0-9 - . _ ~].
 */
int pkce_challenge_s256(const char *verifier, size_t len,
			char out[PKCE_CHALLENGE_LEN + 1]);

/* Writes a fresh state value and a NUL into out. */
void login_state_new(char out[LOGIN_STATE_LEN + 1]);

/*
 * 1 when the len bytes at got are exactly the NUL-terminated want, compared
 * in constant time for equal lengths (a state is a guess-me value).
 */
int login_state_equal(const char *want, const char *got, size_t len);

#endif
