/*
 * image.c: sealing and opening the vault's file image; the layout is
 * in vault/pure/image.h.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto.h"
#include "vault/pure/image.h"

#define MAGIC "XOAUTHVT"
#define MAGIC_LEN 8
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define CHECK_CONTEXT "xoauth-agent vault key check v1"

/* A parsed header; the pointers look into the image. */
struct header {
	struct vault_params params;
	uint32_t version;
	const unsigned char *check;
	const unsigned char *id; /* format 2 */
	uint64_t base_seq;	 /* format 2 */
	const unsigned char *nonce;
	size_t header_len;
	uint32_t sealed_len;
};

void vault_params_new(uint8_t kdf, struct vault_params *p)
{
	memset(p, 0, sizeof(*p));
	p->kdf = kdf;
	if (kdf == VAULT_KDF_ARGON2ID) {
		p->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
		p->memlimit_kib =
		    (uint32_t)(crypto_pwhash_MEMLIMIT_INTERACTIVE / 1024);
		randombytes_buf(p->salt, sizeof(p->salt));
	}
}

static int key_new(const struct vault_params *p, struct vault_key **out)
{
	struct vault_key *k;

	*out = NULL;
	if (sodium_init() < 0)
		return XO_ERR_INTERNAL;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return XO_ERR_NOMEM;
	if ((k->key = sodium_malloc(VAULT_KEY_LEN)) == NULL) {
		free(k);
		return XO_ERR_NOMEM;
	}
	k->params = *p;
	*out = k;
	return 0;
}

int vault_key_from_passphrase(const char *pass, size_t len,
			      const struct vault_params *p,
			      struct vault_key **out)
{
	struct vault_key *k = NULL;
	int r;

	*out = NULL;
	if (p->kdf != VAULT_KDF_ARGON2ID || p->opslimit == 0 ||
	    p->memlimit_kib == 0)
		return XO_ERR_INVALID;
	if ((r = key_new(p, &k)) != 0)
		return r;
	if (crypto_pwhash(k->key, VAULT_KEY_LEN, pass, len, p->salt,
			  p->opslimit, (size_t)p->memlimit_kib * 1024,
			  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		/* Only lack of memory makes Argon2id fail. */
		vault_key_free(k);
		return XO_ERR_NOMEM;
	}
	*out = k;
	return 0;
}

int vault_key_from_bytes(const unsigned char *bytes, size_t len,
			 struct vault_key **out)
{
	struct vault_params p;
	struct vault_key *k = NULL;
	int r;

	*out = NULL;
	if (len != VAULT_KEY_LEN)
		return XO_ERR_INVALID;
	vault_params_new(VAULT_KDF_KEYFILE, &p);
	if ((r = key_new(&p, &k)) != 0)
		return r;
	memcpy(k->key, bytes, VAULT_KEY_LEN);
	*out = k;
	return 0;
}

void vault_key_free(struct vault_key *k)
{
	if (k == NULL)
		return;
	sodium_free(k->key);
	free(k);
}

static void key_check(const struct vault_key *k,
		      unsigned char out[VAULT_CHECK_LEN])
{
	crypto_generichash(out, VAULT_CHECK_LEN,
			   (const unsigned char *)CHECK_CONTEXT,
			   sizeof(CHECK_CONTEXT) - 1, k->key, VAULT_KEY_LEN);
}

/* Reads the header; a file of format 2 may go on after its base (the
   journal), one of format 1 may not. */
static int parse_header(const unsigned char *img, size_t len, struct header *h)
{
	struct proto_reader r;

	memset(h, 0, sizeof(*h));
	if (img == NULL || len < MAGIC_LEN ||
	    memcmp(img, MAGIC, MAGIC_LEN) != 0)
		return XO_ERR_VAULT_FOREIGN;
	proto_reader_init(&r, img, len);
	r.off = MAGIC_LEN;
	h->version = proto_get_u32(&r);
	if (r.err == 0 && h->version > VAULT_VERSION)
		return XO_ERR_VAULT_NEWER;
	h->params.kdf = proto_get_u8(&r);
	h->params.opslimit = proto_get_u32(&r);
	h->params.memlimit_kib = proto_get_u32(&r);
	h->header_len = h->version == VAULT_VERSION_SINGLE ? VAULT_HEADER_V1_LEN
							   : VAULT_HEADER_LEN;
	if (r.err != 0 || h->version == 0 || len < h->header_len)
		return XO_ERR_VAULT_CORRUPT; /* truncated */
	memcpy(h->params.salt, img + r.off, VAULT_SALT_LEN);
	r.off += VAULT_SALT_LEN;
	h->check = img + r.off;
	r.off += VAULT_CHECK_LEN;
	if (h->version >= VAULT_VERSION) {
		h->id = img + r.off;
		r.off += VAULT_ID_LEN;
		h->base_seq = proto_get_u64(&r);
	}
	h->nonce = img + r.off;
	r.off += NONCE_LEN;
	h->sealed_len = proto_get_u32(&r);
	if (r.err != 0 || r.off != h->header_len)
		return XO_ERR_VAULT_CORRUPT;
	if (h->params.kdf != VAULT_KDF_ARGON2ID &&
	    h->params.kdf != VAULT_KDF_KEYFILE)
		return XO_ERR_VAULT_CORRUPT;
	if (h->params.kdf == VAULT_KDF_ARGON2ID &&
	    (h->params.opslimit < crypto_pwhash_OPSLIMIT_MIN ||
	     h->params.opslimit > 64 ||
	     h->params.memlimit_kib < crypto_pwhash_MEMLIMIT_MIN / 1024 ||
	     h->params.memlimit_kib > 4u * 1024 * 1024))
		/* Limits a hostile file could use to make unlocking take
		 * forever or exhaust memory. */
		return XO_ERR_VAULT_CORRUPT;
	if (h->sealed_len < TAG_LEN ||
	    h->sealed_len > VAULT_MAX_PLAIN + TAG_LEN ||
	    len - h->header_len < h->sealed_len)
		return XO_ERR_VAULT_CORRUPT; /* truncated */
	if (h->version == VAULT_VERSION_SINGLE &&
	    len - h->header_len != h->sealed_len)
		return XO_ERR_VAULT_CORRUPT; /* bytes added */
	return 0;
}

int vault_image_params(const unsigned char *img, size_t len,
		       struct vault_params *p)
{
	struct header h;
	int r;

	if ((r = parse_header(img, len, &h)) != 0)
		return r;
	*p = h.params;
	return 0;
}

/* Seals plain into an image of the given version (b: format 2's id and
   base_seq). */
static int seal_image(const struct vault_key *k, uint32_t version,
		      const struct vault_base *b, const void *plain, size_t len,
		      unsigned char **img, size_t *img_len)
{
	struct proto_writer w;
	unsigned char check[VAULT_CHECK_LEN], nonce[NONCE_LEN];
	unsigned char *out;
	unsigned long long sealed_len = 0;
	size_t header_len = version == VAULT_VERSION_SINGLE
				? VAULT_HEADER_V1_LEN
				: VAULT_HEADER_LEN,
	       total;

	*img = NULL;
	*img_len = 0;
	if (len > VAULT_MAX_PLAIN)
		return XO_ERR_INVALID;
	total = header_len + len + TAG_LEN;
	if ((out = malloc(total)) == NULL)
		return XO_ERR_NOMEM;
	key_check(k, check);
	randombytes_buf(nonce, sizeof(nonce));
	proto_writer_init(&w, out, total);
	proto_put_bytes(&w, MAGIC, MAGIC_LEN);
	proto_put_u32(&w, version);
	proto_put_u8(&w, k->params.kdf);
	proto_put_u32(&w, k->params.opslimit);
	proto_put_u32(&w, k->params.memlimit_kib);
	proto_put_bytes(&w, k->params.salt, VAULT_SALT_LEN);
	proto_put_bytes(&w, check, sizeof(check));
	if (version >= VAULT_VERSION) {
		proto_put_bytes(&w, b->id, VAULT_ID_LEN);
		proto_put_u64(&w, b->base_seq);
	}
	proto_put_bytes(&w, nonce, sizeof(nonce));
	proto_put_u32(&w, (uint32_t)(len + TAG_LEN));
	if (w.err != 0 || w.len != header_len) {
		free(out);
		return XO_ERR_INTERNAL;
	}
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	    out + header_len, &sealed_len, plain, len, out, header_len, NULL,
	    nonce, k->key);
	*img = out;
	*img_len = header_len + (size_t)sealed_len;
	return 0;
}

int vault_seal(const struct vault_key *k, const void *plain, size_t len,
	       unsigned char **img, size_t *img_len)
{
	return seal_image(k, VAULT_VERSION_SINGLE, NULL, plain, len, img,
			  img_len);
}

int vault_seal_base(const struct vault_key *k, const struct vault_base *b,
		    const void *plain, size_t len, unsigned char **img,
		    size_t *img_len)
{
	return seal_image(k, VAULT_VERSION, b, plain, len, img, img_len);
}

void vault_base_new(struct vault_base *b)
{
	memset(b, 0, sizeof(*b));
	b->version = VAULT_VERSION;
	randombytes_buf(b->id, sizeof(b->id));
}

/* Opens the image h describes. */
static int open_image(const struct vault_key *k, const unsigned char *img,
		      const struct header *h, struct agent_plain **out)
{
	struct agent_plain *plain = NULL;
	unsigned char check[VAULT_CHECK_LEN];
	unsigned long long plain_len = 0;
	int r;

	*out = NULL;
	key_check(k, check);
	if (h->params.kdf != k->params.kdf ||
	    sodium_memcmp(check, h->check, VAULT_CHECK_LEN) != 0)
		return XO_ERR_WRONG_PASSPHRASE;
	if ((r = agent_plain_large(h->sealed_len - TAG_LEN, &plain)) != 0)
		return r;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		(unsigned char *)plain->data, &plain_len, NULL,
		img + h->header_len, h->sealed_len, img, h->header_len,
		h->nonce, k->key) != 0) {
		/* The key is right (check matched), so the bytes are not. */
		agent_plain_free(plain);
		return XO_ERR_VAULT_CORRUPT;
	}
	plain->len = (size_t)plain_len;
	plain->data[plain->len] = '\0';
	*out = plain;
	return 0;
}

int vault_unseal(const struct vault_key *k, const unsigned char *img,
		 size_t len, struct agent_plain **out)
{
	struct header h;
	int r;

	*out = NULL;
	if ((r = parse_header(img, len, &h)) != 0)
		return r;
	if (len - h.header_len != h.sealed_len)
		return XO_ERR_VAULT_CORRUPT; /* bytes added */
	return open_image(k, img, &h, out);
}

int vault_open_base(const struct vault_key *k, const unsigned char *img,
		    size_t len, struct vault_base *b, struct agent_plain **out)
{
	struct header h;
	int r;

	*out = NULL;
	memset(b, 0, sizeof(*b));
	if ((r = parse_header(img, len, &h)) != 0 ||
	    (r = open_image(k, img, &h, out)) != 0)
		return r;
	b->version = h.version;
	if (h.id != NULL)
		memcpy(b->id, h.id, VAULT_ID_LEN);
	b->base_seq = h.base_seq;
	b->len = h.header_len + h.sealed_len;
	return 0;
}

void vault_key_mac(const struct vault_key *k, const void *in, size_t len,
		   unsigned char out[16])
{
	crypto_generichash(out, 16, in, len, k->key, VAULT_KEY_LEN);
}
