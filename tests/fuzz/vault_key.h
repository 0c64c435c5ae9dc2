/*
 * vault_key.h: the fixed keys of the vault's fuzz target and of the
 * helper that seals its seed images (fuzz_vault_seal.c).  Test keys, never
 * a user's: with them the fuzzer reaches past the key check to the
 * authenticated decryption, which a random key would never let it do.
 */
#ifndef XO_FUZZ_VAULT_KEY_H
#define XO_FUZZ_VAULT_KEY_H

#include "vault/pure/image.h"

/* A key file's 32 bytes. */
static const unsigned char fuzz_vault_key_bytes[VAULT_KEY_LEN] =
    "xoauth fuzz vault test key 0123";

/* A passphrase with Argon2id's cheapest limits, so that deriving it once
   at start costs nothing; the salt is fixed too. */
#define FUZZ_VAULT_PASSPHRASE "correct horse battery staple"

static inline void fuzz_vault_pass_params(struct vault_params *p)
{
	memset(p, 0, sizeof(*p));
	p->kdf = VAULT_KDF_ARGON2ID;
	p->opslimit = crypto_pwhash_OPSLIMIT_MIN;
	p->memlimit_kib = (uint32_t)(crypto_pwhash_MEMLIMIT_MIN / 1024);
	memcpy(p->salt, "xoauth fuzz salt", VAULT_SALT_LEN);
}

/* The two keys: [0] a key file's, [1] the passphrase's.  0 or -1. */
static inline int fuzz_vault_keys(struct vault_key *keys[2])
{
	struct vault_params p;

	fuzz_vault_pass_params(&p);
	if (sodium_init() < 0 ||
	    vault_key_from_bytes(fuzz_vault_key_bytes, VAULT_KEY_LEN,
				 &keys[0]) != 0 ||
	    vault_key_from_passphrase(FUZZ_VAULT_PASSPHRASE,
				      sizeof(FUZZ_VAULT_PASSPHRASE) - 1, &p,
				      &keys[1]) != 0)
		return -1;
	return 0;
}

#endif
