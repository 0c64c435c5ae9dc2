/*
 * image.h: the vault's file image (DESIGN.md, "Vault").  Pure code:
 * no I/O, so unit tests and fuzzers reach it directly; vault/io.c reads
 * and writes the files.
 *
 * A vault file (format 2) is a base image followed by a journal of
 * changes (pure/journal.h):
 *
 *   magic "XOAUTHVT" | u32 version 2 | u8 kdf | u32 opslimit |
 *   u32 memlimit_kib | salt[16] | check[16] | id[16] | u64 base_seq |
 *   nonce[24] | u32 ciphertext length | ciphertext (plain text + tag) |
 *   journal records ...
 *
 * all integers big-endian, the whole header authenticated as associated
 * data.  id is drawn when the vault is made and kept by every base that
 * replaces it; base_seq is the number of the last journal record folded
 * into this base, so that the journal after it starts at base_seq + 1.
 * Both are bound into every record (journal.h): a record cannot move to
 * another vault, nor to another place in this one.
 *
 * Format 1 is one image and nothing after it: the header without id and
 * base_seq.  Vaults written before the journal are such images, and so is
 * every export (EXPORT, RESTORE), which has no journal to carry.
 *
 * The key comes from a passphrase (Argon2id with the header's limits and
 * salt) or from a key file (32 random bytes, used as they are).  check is
 * a keyed BLAKE2b of a constant: it tells a wrong key from a damaged
 * file, which the AEAD alone cannot.
 */
#ifndef XO_VAULT_PURE_IMAGE_H
#define XO_VAULT_PURE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "secret/secret.h"

#define VAULT_VERSION 2	       /* a base and a journal */
#define VAULT_VERSION_SINGLE 1 /* one image: exports, older vaults */
#define VAULT_KEY_LEN 32
#define VAULT_SALT_LEN 16
#define VAULT_CHECK_LEN 16
#define VAULT_ID_LEN 16
#define VAULT_HEADER_V1_LEN                                                    \
	(8 + 4 + 1 + 4 + 4 + VAULT_SALT_LEN + VAULT_CHECK_LEN + 24 + 4)
#define VAULT_HEADER_LEN (VAULT_HEADER_V1_LEN + VAULT_ID_LEN + 8)
/* Bounds what we read: 100,000 accounts with 2 KiB refresh tokens and
   their settings take some 250 MiB. */
#define VAULT_MAX_PLAIN (512u * 1024 * 1024)
/* A whole file, base and journal: the journal is folded into a new base
   once it passes half the base's size, so a file stays well under it. */
#define VAULT_MAX_FILE (1024u * 1024 * 1024)

enum vault_kdf {
	VAULT_KDF_ARGON2ID = 1, /* from a passphrase */
	VAULT_KDF_KEYFILE = 2,	/* 32 bytes from a key file */
};

struct vault_params {
	uint8_t kdf;	       /* enum vault_kdf */
	uint32_t opslimit;     /* Argon2id passes */
	uint32_t memlimit_kib; /* Argon2id memory */
	unsigned char salt[VAULT_SALT_LEN];
};

/* A vault key: its parameters and 32 bytes in sodium_malloc memory. */
struct vault_key {
	struct vault_params params;
	unsigned char *key;
};

/* What a vault file's header says of the file, beyond its key. */
struct vault_base {
	uint32_t version;		/* VAULT_VERSION or _SINGLE */
	unsigned char id[VAULT_ID_LEN]; /* format 2: the vault's own */
	uint64_t base_seq;		/* format 2: the journal follows it */
	size_t len;			/* the base image's bytes */
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
/* Encrypts plain text into a new image of format 1 (malloc; not
   secret): an export. */
int vault_seal(const struct vault_key *k, const void *plain, size_t len,
	       unsigned char **img, size_t *img_len);
/* Encrypts plain text into a new base of format 2 with b's id and
   base_seq (b->version and b->len are ignored). */
int vault_seal_base(const struct vault_key *k, const struct vault_base *b,
		    const void *plain, size_t len, unsigned char **img,
		    size_t *img_len);
/* Draws a new vault's id. */
void vault_base_new(struct vault_base *b);
/* Decrypts an image that is one image and nothing more (an export; a
 * base without a journal): XO_ERR_WRONG_PASSPHRASE when the key is not
 * the vault's, XO_ERR_VAULT_* when the image is damaged, foreign or newer. */
int vault_unseal(const struct vault_key *k, const unsigned char *img,
		 size_t len, struct agent_plain **out);
/*
 * Decrypts the base of a vault file and says what it is in *b: of format
 * 1, the file must be that image alone; of format 2, the journal follows
 * at b->len (pure/journal.h reads it).  Errors as vault_unseal().
 */
int vault_open_base(const struct vault_key *k, const unsigned char *img,
		    size_t len, struct vault_base *b, struct agent_plain **out);
/* The keyed hash that makes a journal record's header (journal.c): 16
   bytes of BLAKE2b under the vault's key over what the record is bound
   to. */
void vault_key_mac(const struct vault_key *k, const void *in, size_t len,
		   unsigned char out[16]);

#endif
