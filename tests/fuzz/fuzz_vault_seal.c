/*
 * fuzz_vault_seal.c: seals standard input into a vault file under one of
 * fuzz_vault's fixed test keys (vault_key.h) and writes it to standard
 * output, so that tests/fuzz/make_corpus.py can give fuzz_vault real
 * files to start from.
 *
 *   fuzz_vault_seal keyfile|passphrase [journal]
 *
 * Without "journal": standard input is the plain text of one image of
 * format 1 (a vault before the journal, an export).  With it: plain texts
 * separated by NUL bytes, the first a base of format 2, each other a
 * record of its journal, in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vault/pure/image.h"
#include "vault/pure/journal.h"
#include "vault_key.h"

/* The base and its records, from the NUL-separated texts. */
static int seal_journal(const struct vault_key *k, const char *in, size_t len,
			unsigned char **img, size_t *img_len)
{
	struct vault_base b;
	unsigned char *rec = NULL, *more;
	const char *p = in, *end = in + len, *nul;
	size_t rec_len, n;
	uint64_t seq;

	vault_base_new(&b);
	b.base_seq = 41;
	nul = memchr(p, 0, (size_t)(end - p));
	n = nul != NULL ? (size_t)(nul - p) : (size_t)(end - p);
	if (vault_seal_base(k, &b, p, n, img, img_len) != 0)
		return -1;
	for (seq = b.base_seq + 1; nul != NULL; seq++) {
		p = nul + 1;
		nul = memchr(p, 0, (size_t)(end - p));
		n = nul != NULL ? (size_t)(nul - p) : (size_t)(end - p);
		if (vault_record_seal(k, b.id, seq, p, n, &rec, &rec_len) !=
			0 ||
		    (more = realloc(*img, *img_len + rec_len)) == NULL) {
			free(rec);
			return -1;
		}
		memcpy(more + *img_len, rec, rec_len);
		*img = more;
		*img_len += rec_len;
		free(rec);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char plain[VAULT_MAX_PLAIN];
	struct vault_key *keys[2] = {NULL, NULL};
	unsigned char *img = NULL;
	size_t len, img_len = 0;
	int k, journal, r = 1;

	if (argc < 2 || argc > 3 ||
	    (strcmp(argv[1], "keyfile") != 0 &&
	     strcmp(argv[1], "passphrase") != 0) ||
	    (argc == 3 && strcmp(argv[2], "journal") != 0)) {
		fprintf(stderr, "usage: fuzz_vault_seal keyfile|passphrase "
				"[journal]\n");
		return 2;
	}
	k = strcmp(argv[1], "passphrase") == 0;
	journal = argc == 3;
	len = fread(plain, 1, sizeof(plain), stdin);
	if (ferror(stdin) || !feof(stdin)) {
		fprintf(stderr,
			"fuzz_vault_seal: cannot read the plain text\n");
		return 1;
	}
	if (fuzz_vault_keys(keys) != 0 ||
	    (journal ? seal_journal(keys[k], plain, len, &img, &img_len)
		     : vault_seal(keys[k], plain, len, &img, &img_len)) != 0 ||
	    fwrite(img, 1, img_len, stdout) != img_len || fflush(stdout) != 0) {
		fprintf(stderr, "fuzz_vault_seal: cannot seal\n");
		goto out;
	}
	r = 0;
out:
	free(img);
	vault_key_free(keys[0]);
	vault_key_free(keys[1]);
	return r;
}
