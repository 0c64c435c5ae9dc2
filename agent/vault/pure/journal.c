/*
 * journal.c: sealing and reading the records of the vault's journal; the
 * layout is in vault/pure/journal.h.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto.h"
#include "vault/pure/journal.h"

#define LEN_LEN 4
#define MAC_LEN 16
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define HEAD_LEN (LEN_LEN + MAC_LEN + NONCE_LEN)
#define BOUND_MAGIC "XOAUTHJ1"
#define BOUND_LEN (8 + VAULT_ID_LEN + 8 + 4)

/* What a record is bound to: its vault, its number, its length. */
static void bound(const unsigned char id[VAULT_ID_LEN], uint64_t seq,
		  uint32_t sealed_len, unsigned char out[BOUND_LEN])
{
	struct proto_writer w;

	proto_writer_init(&w, out, BOUND_LEN);
	proto_put_bytes(&w, BOUND_MAGIC, 8);
	proto_put_bytes(&w, id, VAULT_ID_LEN);
	proto_put_u64(&w, seq);
	proto_put_u32(&w, sealed_len);
}

int vault_record_seal(const struct vault_key *k,
		      const unsigned char id[VAULT_ID_LEN], uint64_t seq,
		      const void *plain, size_t len, unsigned char **rec,
		      size_t *rec_len)
{
	unsigned char b[BOUND_LEN], *out;
	unsigned long long sealed_len = 0;
	uint32_t n;

	*rec = NULL;
	*rec_len = 0;
	if (len > VAULT_MAX_PLAIN)
		return XO_ERR_INVALID;
	n = (uint32_t)(len + TAG_LEN);
	if ((out = malloc(HEAD_LEN + (size_t)n)) == NULL)
		return XO_ERR_NOMEM;
	bound(id, seq, n, b);
	out[0] = (unsigned char)(n >> 24);
	out[1] = (unsigned char)(n >> 16);
	out[2] = (unsigned char)(n >> 8);
	out[3] = (unsigned char)n;
	vault_key_mac(k, b, sizeof(b), out + LEN_LEN);
	randombytes_buf(out + LEN_LEN + MAC_LEN, NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	    out + HEAD_LEN, &sealed_len, plain, len, b, sizeof(b), NULL,
	    out + LEN_LEN + MAC_LEN, k->key);
	*rec = out;
	*rec_len = HEAD_LEN + (size_t)sealed_len;
	return 0;
}

void vault_journal_init(struct vault_journal *j, const struct vault_base *b,
			const unsigned char *img, size_t len)
{
	memset(j, 0, sizeof(*j));
	j->img = img;
	j->len = len;
	j->off = b->len <= len ? b->len : len;
	j->seq = b->base_seq + 1;
	memcpy(j->id, b->id, VAULT_ID_LEN);
	j->records = b->version >= VAULT_VERSION;
}

/* 1 when every byte from off to the end is zero. */
static int zeros_to_end(const struct vault_journal *j)
{
	size_t i;

	for (i = j->off; i < j->len; i++)
		if (j->img[i] != 0)
			return 0;
	return 1;
}

/* The end of the journal: a torn record after off, or nothing. */
static int end(struct vault_journal *j)
{
	j->torn = j->off < j->len;
	return 0;
}

int vault_journal_next(const struct vault_key *k, struct vault_journal *j,
		       struct agent_plain **out)
{
	const unsigned char *p = j->img + j->off;
	size_t left = j->len - j->off;
	unsigned char b[BOUND_LEN], mac[MAC_LEN];
	struct agent_plain *plain = NULL;
	unsigned long long plain_len = 0;
	uint32_t n;
	int r;

	*out = NULL;
	if (!j->records || left == 0)
		return end(j);
	if (left < HEAD_LEN)
		/* Even the header was not written whole. */
		return end(j);
	n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
	    (uint32_t)p[3];
	bound(j->id, j->seq, n, b);
	vault_key_mac(k, b, sizeof(b), mac);
	if (sodium_memcmp(mac, p + LEN_LEN, MAC_LEN) != 0) {
		/* A whole header is the one that was written, unless the
		   file system left zeros where it never wrote. */
		if (zeros_to_end(j))
			return end(j);
		return XO_ERR_VAULT_CORRUPT;
	}
	if (n < TAG_LEN || n > VAULT_MAX_PLAIN + TAG_LEN)
		return XO_ERR_VAULT_CORRUPT; /* not what we write */
	if (left - HEAD_LEN < n)
		return end(j); /* the header is right: the rest was cut */
	if ((r = agent_plain_large(n - TAG_LEN, &plain)) != 0)
		return r;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		(unsigned char *)plain->data, &plain_len, NULL, p + HEAD_LEN, n,
		b, sizeof(b), p + LEN_LEN + MAC_LEN, k->key) != 0) {
		agent_plain_free(plain);
		return XO_ERR_VAULT_CORRUPT;
	}
	plain->len = (size_t)plain_len;
	plain->data[plain->len] = '\0';
	j->off += HEAD_LEN + n;
	j->seq++;
	*out = plain;
	return 1;
}
