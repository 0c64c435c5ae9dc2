/*
 * fuzz_vault.c: libFuzzer target for the vault file as the agent reads it
 * (agent/vault/pure/image.c, journal.c): the header it trusts before any
 * key is known (vault_image_params), the opening of the base with a key
 * (vault_open_base, vault_unseal) and the reading of the journal of
 * records after it (vault_journal_next).
 *
 * The keys are fixed test keys (vault_key.h) and the seed files are
 * sealed with them (fuzz_vault_seal), so that mutations reach the key
 * check, the records' headers and the authenticated decryption, not only
 * the header.
 *
 * Input: one byte picks the way, the rest is
 *   - 0: a vault file.  The header's verdict and the base's agree; what
 *     opens is exactly the ciphertext's length less the tag, ends in a
 *     NUL, and seals and opens again to the same bytes.  The journal
 *     after it reads record after record, each NUL-terminated, its place
 *     only ever moving forward, and ends either on damage or at the end
 *     of the file, a torn record left after the whole ones or not.
 *   - 1: the plain text of a vault.  It seals and opens to the same
 *     bytes, in both formats, the header gives back the key's parameters,
 *     and the image with any one bit flipped (which bit, the input
 *     decides) no longer opens: the whole image is authenticated.
 *   - 2: a journal: the input's pieces (split at NUL bytes) are a base and
 *     its records.  They read back in order; cut anywhere (where, the
 *     input decides), the file reads the whole records before the cut and
 *     a torn one iff the cut is inside a record; with one bit flipped in
 *     the journal, it reads the records before that one, then damage,
 *     never a record that changed.
 */
#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "fuzz_common.h"
#include "vault/pure/image.h"
#include "vault/pure/journal.h"
#include "vault_key.h"

#define MAX_PIECES 16

static struct vault_key *keys[2];

static int header_err(int r)
{
	return r == XO_ERR_VAULT_FOREIGN || r == XO_ERR_VAULT_NEWER ||
	       r == XO_ERR_VAULT_CORRUPT;
}

static uint32_t hash(const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	return h;
}

/* plain seals under k (format 1, or 2 with base b) and opens to the same
   bytes; the image is returned (the caller frees it). */
static unsigned char *round_trip(const struct vault_key *k,
				 const struct vault_base *b, const void *plain,
				 size_t len, size_t *img_len)
{
	struct agent_plain *back = NULL;
	struct vault_params p;
	struct vault_base got;
	unsigned char *img = NULL;

	if ((b == NULL ? vault_seal(k, plain, len, &img, img_len)
		       : vault_seal_base(k, b, plain, len, &img, img_len)) != 0)
		abort();
	if (vault_image_params(img, *img_len, &p) != 0 ||
	    memcmp(&p, &k->params, sizeof(p)) != 0)
		abort();
	if (vault_unseal(k, img, *img_len, &back) != 0 || back->len != len ||
	    (len > 0 && memcmp(back->data, plain, len) != 0))
		abort();
	agent_plain_free(back);
	if (vault_open_base(k, img, *img_len, &got, &back) != 0 ||
	    got.len != *img_len || back->len != len ||
	    got.version != (b == NULL ? VAULT_VERSION_SINGLE : VAULT_VERSION) ||
	    (b != NULL && (got.base_seq != b->base_seq ||
			   memcmp(got.id, b->id, VAULT_ID_LEN) != 0)))
		abort();
	agent_plain_free(back);
	return img;
}

/* Reads the journal of img after the base b; returns the last result,
   the whole records in *n. */
static int walk(const struct vault_key *k, const struct vault_base *b,
		const unsigned char *img, size_t len, struct vault_journal *j,
		size_t *n)
{
	struct agent_plain *rec = NULL;
	size_t off;
	int r;

	*n = 0;
	vault_journal_init(j, b, img, len);
	for (;;) {
		off = j->off;
		r = vault_journal_next(k, j, &rec);
		if (r != 1)
			break;
		if (rec == NULL || rec->data[rec->len] != '\0' ||
		    j->off != off + rec->len + VAULT_RECORD_OVERHEAD)
			abort();
		agent_plain_free(rec);
		rec = NULL;
		(*n)++;
	}
	if (rec != NULL || j->off != off || j->off > len)
		abort();
	if (r == 0 && (j->torn != (j->off < len)))
		abort();
	if (r != 0 && r != XO_ERR_VAULT_CORRUPT && r != XO_ERR_NOMEM)
		abort();
	return r;
}

static void open_file(const uint8_t *img, size_t len)
{
	struct vault_params p;
	struct vault_journal j;
	struct vault_base b;
	struct agent_plain *plain = NULL, *whole = NULL;
	unsigned char *again;
	size_t again_len, k, n;
	int hr, r, ur;

	hr = vault_image_params(img, len, &p);
	if (hr != 0 && !header_err(hr))
		abort();
	if (hr == 0 && p.kdf != VAULT_KDF_ARGON2ID &&
	    p.kdf != VAULT_KDF_KEYFILE)
		abort();
	for (k = 0; k < 2; k++) {
		r = vault_open_base(keys[k], img, len, &b, &plain);
		ur = vault_unseal(keys[k], img, len, &whole);
		agent_plain_free(whole);
		if (hr != 0) {
			/* The header is read first, the same way. */
			if (r != hr || ur != hr || plain != NULL)
				abort();
			continue;
		}
		if (r == XO_ERR_WRONG_PASSPHRASE || r == XO_ERR_VAULT_CORRUPT) {
			/* unseal refuses a journal after the base first. */
			if (plain != NULL ||
			    (ur != r && ur != XO_ERR_VAULT_CORRUPT))
				abort();
			continue;
		}
		if (r != 0 || plain == NULL || p.kdf != keys[k]->params.kdf ||
		    b.len > len ||
		    plain->len != b.len -
				      (b.version == VAULT_VERSION
					   ? VAULT_HEADER_LEN
					   : VAULT_HEADER_V1_LEN) -
				      16 ||
		    plain->data[plain->len] != '\0')
			abort();
		/* One image alone opens as an export does; a journal after
		   it does not. */
		if ((ur == 0) != (b.len == len))
			abort();
		again =
		    round_trip(keys[k], b.version == VAULT_VERSION ? &b : NULL,
			       plain->data, plain->len, &again_len);
		free(again);
		agent_plain_free(plain);
		plain = NULL;
		walk(keys[k], &b, img, len, &j, &n);
	}
}

static void seal_text(const uint8_t *data, size_t size)
{
	struct vault_base b;
	unsigned char *img;
	struct agent_plain *plain = NULL;
	size_t img_len, bit;
	uint32_t h = hash(data, size);
	int r;

	/* The key, the format and the bit to flip, from a hash of the
	   input. */
	vault_base_new(&b);
	b.base_seq = h >> 8;
	img =
	    round_trip(keys[h & 1], (h & 2) ? &b : NULL, data, size, &img_len);
	bit = (h >> 2) % (img_len * 8);
	img[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	r = vault_unseal(keys[h & 1], img, img_len, &plain);
	if (r == 0 || plain != NULL ||
	    (r != XO_ERR_WRONG_PASSPHRASE && !header_err(r)))
		abort();
	free(img);
}

static void journal(const uint8_t *data, size_t size)
{
	const struct vault_key *k;
	const uint8_t *piece[MAX_PIECES];
	size_t piece_len[MAX_PIECES], ends[MAX_PIECES + 1];
	struct vault_journal j;
	struct vault_base b, got;
	struct agent_plain *plain = NULL;
	unsigned char *img = NULL, *rec;
	size_t n = 0, len, rec_len, i, cut, at, whole;
	uint32_t h = hash(data, size);
	const uint8_t *p = data, *nul;

	/* The pieces: the base's text, then each record's. */
	while (n < MAX_PIECES) {
		nul = memchr(p, 0, size - (size_t)(p - data));
		piece[n] = p;
		piece_len[n] =
		    nul != NULL ? (size_t)(nul - p) : size - (size_t)(p - data);
		n++;
		if (nul == NULL)
			break;
		p = nul + 1;
	}
	k = keys[h & 1];
	vault_base_new(&b);
	b.base_seq = h % 1000;
	img = round_trip(k, &b, piece[0], piece_len[0], &len);
	ends[0] = len;
	for (i = 1; i < n; i++) {
		if (vault_record_seal(k, b.id, b.base_seq + i, piece[i],
				      piece_len[i], &rec, &rec_len) != 0 ||
		    rec_len != piece_len[i] + VAULT_RECORD_OVERHEAD ||
		    (img = realloc(img, len + rec_len)) == NULL)
			abort();
		memcpy(img + len, rec, rec_len);
		len += rec_len;
		ends[i] = len;
		free(rec);
	}
	if (vault_open_base(k, img, len, &got, &plain) != 0 ||
	    got.len != ends[0])
		abort();
	agent_plain_free(plain);
	/* Whole: every record, in order. */
	if (walk(k, &got, img, len, &j, &whole) != 0 || whole != n - 1 ||
	    j.torn)
		abort();
	/* Cut somewhere in the journal. */
	cut = ends[0] + (h >> 1) % (len - ends[0] + 1);
	if (walk(k, &got, img, cut, &j, &whole) != 0)
		abort();
	for (i = 0; i + 1 < n && ends[i + 1] <= cut; i++)
		;
	if (whole != i || j.off != ends[i] || j.torn != (cut != ends[i]))
		abort();
	/* One bit flipped in a record: the records before it, then
	   damage. */
	if (len > ends[0]) {
		at = ends[0] + (h >> 3) % (len - ends[0]);
		img[at] ^= (unsigned char)(1u << (h % 8));
		if (walk(k, &got, img, len, &j, &whole) != XO_ERR_VAULT_CORRUPT)
			abort();
		for (i = 0; ends[i + 1] <= at; i++)
			;
		if (whole != i || j.off != ends[i])
			abort();
	}
	free(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t way;

	if (keys[0] == NULL && fuzz_vault_keys(keys) != 0)
		abort();
	way = fuzz_take_byte(&data, &size, 3);
	if (way == 0)
		open_file(data, size);
	else if (way == 1)
		seal_text(data, size);
	else
		journal(data, size);
	return 0;
}
