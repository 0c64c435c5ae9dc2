/*
 * image.h: the vault's file image (DESIGN.md, "Vault").  Pure code:
 * no I/O, so unit tests and fuzzers reach it directly; vault/io.c reads
 * and writes the files.
 *
 * An image is a header and one XChaCha20-Poly1305 ciphertext:
 *
 *   magic "XOAUTHVT" | u32 version | u8 kdf | u32 opslimit |
 *   u32 memlimit_kib | salt[16] | check[16] | nonce[24] |
 *   u32 ciphertext length | ciphertext (plain text + 16-byte tag)
 *
 * all integers big-endian, the whole header authenticated as associated
 * data.  The key comes from a passphrase (Argon2id with the header's
 * limits and salt) or from a key file (32 random bytes, used as they are).
 * check is a keyed BLAKE2b of a constant: it tells a wrong key from a
 * damaged file, which the AEAD alone cannot.
 */
#ifndef XO_VAULT_PURE_IMAGE_H
#define XO_VAULT_PURE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "secret/secret.h"

#define VAULT_VERSION 1
#define VAULT_KEY_LEN 32
#define VAULT_SALT_LEN 16
#define VAULT_CHECK_LEN 16
#define VAULT_HEADER_LEN (8 + 4 + 1 + 4 + 4 + VAULT_SALT_LEN + \
			  VAULT_CHECK_LEN + 24 + 4)
/* Bounds what we read: 100,000 accounts with 2 KiB refresh tokens and
   their settings take some 250 MiB. */
#define VAULT_MAX_PLAIN (512u * 1024 * 1024)

enum vault_kdf {
	VAULT_KDF_ARGON2ID = 1, /* from a passphrase */
	VAULT_KDF_KEYFILE = 2,  /* 32 bytes from a key file */
};

struct vault_params {
	uint8_t kdf;           /* enum vault_kdf */
	uint32_t opslimit;     /* Argon2id passes */
	uint32_t memlimit_kib; /* Argon2id memory */
	unsigned char salt[VAULT_SALT_LEN];
};

/* A vault key: its parameters and 32 bytes in sodium_malloc memory. */
struct vault_key {
	struct vault_params params;
	unsigned char *key;
};

/* Fresh parameters for a new vault: a random salt and Argon2id limits
 * suited to an interactive unlock. */
void vault_params_new(uint8_t kdf, struct vault_params *p);
/* Derives the key from a passphrase.  Slow by design (Argon2id): call it
 * off the event loop. */
int vault_key_from_passphrase(const char *pass, size_t len,
			      const struct vault_params *p,
			      struct vault_key **out);
/* Takes a key file's bytes; anything but exactly 32 bytes is refused. */
int vault_key_from_bytes(const unsigned char *bytes, size_t len,
			 struct vault_key **out);
void vault_key_free(struct vault_key *k);

/* Reads the parameters of an image, to derive its key.  XO_ERR_VAULT_* for
 * what is not a usable vault image. */
int vault_image_params(const unsigned char *img, size_t len,
		       struct vault_params *p);
/* Encrypts plain text into a new image (malloc; not secret). */
int vault_seal(const struct vault_key *k, const void *plain, size_t len,
	       unsigned char **img, size_t *img_len);
/* Decrypts an image: XO_ERR_WRONG_PASSPHRASE when the key is not the
 * vault's, XO_ERR_VAULT_* when the image is damaged, foreign or newer. */
int vault_unseal(const struct vault_key *k, const unsigned char *img,
		 size_t len, struct agent_plain **out);

#endif
