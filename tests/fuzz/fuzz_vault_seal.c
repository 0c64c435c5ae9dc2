/*
 * fuzz_vault_seal.c: seals standard input into a vault image under one of
 * fuzz_vault's fixed test keys (vault_key.h) and writes it to standard
 * output, so that tests/fuzz/make_corpus.py can give fuzz_vault real
 * images to start from.  Usage: fuzz_vault_seal keyfile|passphrase
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "vault/pure/image.h"
#include "vault_key.h"

int main(int argc, char **argv)
{
	static unsigned char plain[VAULT_MAX_PLAIN];
	struct vault_key *keys[2] = {NULL, NULL};
	unsigned char *img = NULL;
	size_t len, img_len = 0;
	int k, r = 1;

	if (argc != 2 || (strcmp(argv[1], "keyfile") != 0 &&
			  strcmp(argv[1], "passphrase") != 0)) {
		fprintf(stderr, "usage: fuzz_vault_seal keyfile|passphrase\n");
		return 2;
	}
	k = strcmp(argv[1], "passphrase") == 0;
	len = fread(plain, 1, sizeof(plain), stdin);
	if (ferror(stdin) || !feof(stdin)) {
		fprintf(stderr,
			"fuzz_vault_seal: cannot read the plain text\n");
		return 1;
	}
	if (fuzz_vault_keys(keys) != 0 ||
	    vault_seal(keys[k], plain, len, &img, &img_len) != 0 ||
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
