/*
 * secret.c: secrets sealed in memory under a per-process key (DESIGN.md,
 * "Secrets"), after OpenSSH's sshkey_shield_private().
 *
 * The key lives in one sodium_malloc page set that stays PROT_NONE except
 * during a seal or an open, so a stray read, a core file (also disabled at
 * start-up) or /proc/PID/mem shows only ciphertext for idle secrets.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "secret/secret.h"

#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KEY_LEN crypto_aead_xchacha20poly1305_ietf_KEYBYTES

struct agent_shield {
	unsigned char *key; /* sodium_malloc, noaccess while idle */
};

struct agent_secret {
	size_t plain_len;
	unsigned char nonce[NONCE_LEN];
	unsigned char fingerprint[4];
	unsigned char sealed[]; /* plain_len + TAG_LEN bytes */
};

int agent_shield_new(struct agent_shield **out)
{
	struct agent_shield *s;

	*out = NULL;
	if (sodium_init() < 0)
		return XO_ERR_INTERNAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return XO_ERR_NOMEM;
	if ((s->key = sodium_malloc(KEY_LEN)) == NULL) {
		free(s);
		return XO_ERR_NOMEM;
	}
	crypto_aead_xchacha20poly1305_ietf_keygen(s->key);
	sodium_mprotect_noaccess(s->key);
	*out = s;
	return 0;
}

void agent_shield_free(struct agent_shield *s)
{
	if (s == NULL)
		return;
	sodium_free(s->key); /* zeroes, whatever its protection */
	free(s);
}

int agent_secret_seal(struct agent_shield *s, const void *plain, size_t len,
		      struct agent_secret **out)
{
	struct agent_secret *sec;
	unsigned char hash[crypto_generichash_BYTES];

	*out = NULL;
	if (len > (1u << 20))
		return XO_ERR_INVALID;
	if ((sec = malloc(sizeof(*sec) + len + TAG_LEN)) == NULL)
		return XO_ERR_NOMEM;
	sec->plain_len = len;
	randombytes_buf(sec->nonce, sizeof(sec->nonce));
	/* A fingerprint for logs: a hash of the secret, cut short, so two
	   log lines can be matched without revealing anything usable. */
	crypto_generichash(hash, sizeof(hash), plain, len, NULL, 0);
	memcpy(sec->fingerprint, hash, sizeof(sec->fingerprint));
	sodium_mprotect_readonly(s->key);
	crypto_aead_xchacha20poly1305_ietf_encrypt(sec->sealed, NULL, plain,
						   len, NULL, 0, NULL,
						   sec->nonce, s->key);
	sodium_mprotect_noaccess(s->key);
	*out = sec;
	return 0;
}

int agent_secret_open(struct agent_shield *s, const struct agent_secret *sec,
		      struct agent_plain **out)
{
	struct agent_plain *p = NULL;
	int r;

	*out = NULL;
	if ((r = agent_plain_new(sec->plain_len, &p)) != 0)
		return r;
	sodium_mprotect_readonly(s->key);
	r = crypto_aead_xchacha20poly1305_ietf_decrypt(
		(unsigned char *)p->data, NULL, NULL, sec->sealed,
		sec->plain_len + TAG_LEN, NULL, 0, sec->nonce, s->key);
	sodium_mprotect_noaccess(s->key);
	if (r != 0) {
		agent_plain_free(p);
		return XO_ERR_INTERNAL;
	}
	*out = p;
	return 0;
}

void agent_secret_free(struct agent_secret *sec)
{
	if (sec == NULL)
		return;
	sodium_memzero(sec, sizeof(*sec) + sec->plain_len + TAG_LEN);
	free(sec);
}

void agent_secret_fingerprint(const struct agent_secret *sec, char out[9])
{
	sodium_bin2hex(out, 9, sec->fingerprint, sizeof(sec->fingerprint));
}

int agent_plain_new(size_t len, struct agent_plain **out)
{
	struct agent_plain *p;

	*out = NULL;
	if ((p = malloc(sizeof(*p))) == NULL)
		return XO_ERR_NOMEM;
	if ((p->data = sodium_malloc(len + 1)) == NULL) {
		free(p);
		return XO_ERR_NOMEM;
	}
	p->data[len] = '\0';
	p->len = len;
	*out = p;
	return 0;
}

int agent_plain_dup(const char *s, size_t len, struct agent_plain **out)
{
	int r;

	if ((r = agent_plain_new(len, out)) != 0)
		return r;
	memcpy((*out)->data, s, len);
	return 0;
}

void agent_plain_free(struct agent_plain *p)
{
	if (p == NULL)
		return;
	sodium_free(p->data); /* zeroes before unmapping */
	free(p);
}
