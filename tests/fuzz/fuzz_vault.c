/*
 * fuzz_vault.c: libFuzzer target for the vault file as the agent reads it
 * (agent/vault/pure/image.c): the header it trusts before any key is
 * known (vault_image_params) and the opening of the image with a key
 * (vault_unseal).
 *
 * The keys are fixed test keys (vault_key.h) and the seed images are
 * sealed with them (fuzz_vault_seal), so that mutations reach the key
 * check and the authenticated decryption, not only the header.
 *
 * Input: one byte picks the way, the rest is
 *   - even: a vault file.  The header's verdict and unseal's agree; what
 *     opens is exactly the ciphertext's length less the tag, ends in a
 *     NUL, and seals and opens again to the same bytes.
 *   - odd: the plain text of a vault.  It seals and opens to the same
 *     bytes, the header gives back the key's parameters, and the image
 *     with any one bit flipped (which bit, the input decides) no longer
 *     opens: the whole image is authenticated.
 */
#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "fuzz_common.h"
#include "vault/pure/image.h"
#include "vault_key.h"

static struct vault_key *keys[2];

static int header_err(int r)
{
	return r == XO_ERR_VAULT_FOREIGN || r == XO_ERR_VAULT_NEWER ||
	       r == XO_ERR_VAULT_CORRUPT;
}

/* plain seals under k and opens to the same bytes; the image is returned
   (the caller frees it). */
static unsigned char *round_trip(const struct vault_key *k, const void *plain,
				 size_t len, size_t *img_len)
{
	struct agent_plain *back = NULL;
	struct vault_params p;
	unsigned char *img = NULL;

	if (vault_seal(k, plain, len, &img, img_len) != 0)
		abort();
	if (vault_image_params(img, *img_len, &p) != 0 ||
	    memcmp(&p, &k->params, sizeof(p)) != 0)
		abort();
	if (vault_unseal(k, img, *img_len, &back) != 0 || back->len != len ||
	    (len > 0 && memcmp(back->data, plain, len) != 0))
		abort();
	agent_plain_free(back);
	return img;
}

static void open_file(const uint8_t *img, size_t len)
{
	struct vault_params p;
	struct agent_plain *plain = NULL;
	unsigned char *again;
	size_t again_len, k;
	int hr, r;

	hr = vault_image_params(img, len, &p);
	if (hr != 0 && !header_err(hr))
		abort();
	if (hr == 0 && p.kdf != VAULT_KDF_ARGON2ID &&
	    p.kdf != VAULT_KDF_KEYFILE)
		abort();
	for (k = 0; k < 2; k++) {
		r = vault_unseal(keys[k], img, len, &plain);
		if (hr != 0) {
			/* The header is read first, the same way. */
			if (r != hr || plain != NULL)
				abort();
			continue;
		}
		if (r == XO_ERR_WRONG_PASSPHRASE || r == XO_ERR_VAULT_CORRUPT) {
			if (plain != NULL)
				abort();
			continue;
		}
		if (r != 0 || plain == NULL || p.kdf != keys[k]->params.kdf ||
		    plain->len != len - VAULT_HEADER_LEN - 16 ||
		    plain->data[plain->len] != '\0')
			abort();
		again =
		    round_trip(keys[k], plain->data, plain->len, &again_len);
		free(again);
		agent_plain_free(plain);
		plain = NULL;
	}
}

static void seal_text(const uint8_t *data, size_t size)
{
	unsigned char *img;
	struct agent_plain *plain = NULL;
	size_t img_len, bit;
	uint32_t h = 2166136261u;
	size_t i;
	int r;

	/* The key, and the bit to flip, from a hash of the input. */
	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	img = round_trip(keys[h & 1], data, size, &img_len);
	bit = (h >> 1) % (img_len * 8);
	img[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	r = vault_unseal(keys[h & 1], img, img_len, &plain);
	if (r == 0 || plain != NULL ||
	    (r != XO_ERR_WRONG_PASSPHRASE && !header_err(r)))
		abort();
	free(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (keys[0] == NULL && fuzz_vault_keys(keys) != 0)
		abort();
	if (fuzz_take_byte(&data, &size, 2) == 0)
		open_file(data, size);
	else
		seal_text(data, size);
	return 0;
}
