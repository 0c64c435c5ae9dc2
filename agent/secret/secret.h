/*
 * secret.h: shielded secrets (DESIGN.md, "Secrets").
 *
 * A struct agent_shield holds the per-process key in sodium_malloc memory
 * kept PROT_NONE while idle.  A struct agent_secret is a secret sealed with
 * XChaCha20-Poly1305 under that key: ordinary heap memory that is useless
 * without the key.  agent_secret_open() decrypts into a struct agent_plain,
 * a short-lived sodium_malloc buffer that must be released with
 * agent_plain_free() (which wipes it) on every path.
 */
#ifndef XO_SECRET_H
#define XO_SECRET_H

#include <stddef.h>

struct agent_shield;
struct agent_secret;

/* Decrypted bytes, always followed by a NUL so text secrets are C strings. */
struct agent_plain {
	char *data;
	size_t len;
};

/* Calls sodium_init(); returns 0 or XO_ERR_INTERNAL/XO_ERR_NOMEM. */
int agent_shield_new(struct agent_shield **out);
void agent_shield_free(struct agent_shield *s);

/* Seals len bytes of plain text; *out is freed with agent_secret_free(). */
int agent_secret_seal(struct agent_shield *s, const void *plain, size_t len,
		      struct agent_secret **out);
/* Decrypts; *out is freed with agent_plain_free(). */
int agent_secret_open(struct agent_shield *s, const struct agent_secret *sec,
		      struct agent_plain **out);
void agent_secret_free(struct agent_secret *sec);
/* A short, stable, non-reversible fingerprint for logs ("a1b2c3d4"). */
void agent_secret_fingerprint(const struct agent_secret *sec, char out[9]);

/* A plain buffer of len bytes (plus NUL) in sodium_malloc memory. */
int agent_plain_new(size_t len, struct agent_plain **out);
/* Copies a C string into a new plain buffer. */
int agent_plain_dup(const char *s, size_t len, struct agent_plain **out);
void agent_plain_free(struct agent_plain *p);

#endif
