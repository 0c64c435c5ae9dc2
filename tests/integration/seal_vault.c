/*
 * seal_vault: writes a vault file from its plain text, with the vault's
 * own sealing code, for the tests of vaults this agent did not write:
 * one of format 1 (written before the journal), whose first write must
 * make it a base and a journal (test_vault_journal.py).
 *
 *   seal_vault FORMAT VAULT KEY_FILE < PLAIN_TEXT
 *
 * FORMAT is 1 (one image) or 2 (a base without records).  KEY_FILE holds
 * the 32 bytes of the vault's key file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "vault/pure/image.h"

int main(int argc, char **argv)
{
	static char plain[1 << 20];
	unsigned char keybytes[VAULT_KEY_LEN + 1], *img = NULL;
	struct vault_key *k = NULL;
	struct vault_base b;
	size_t len, img_len = 0;
	ssize_t got;
	int fd, r = 1;

	if (argc != 4 || (strcmp(argv[1], "1") != 0 && strcmp(argv[1], "2"))) {
		fprintf(stderr, "usage: seal_vault 1|2 VAULT KEY_FILE\n");
		return 2;
	}
	len = fread(plain, 1, sizeof(plain), stdin);
	if (sodium_init() < 0 || ferror(stdin) || !feof(stdin))
		return 1;
	if ((fd = open(argv[3], O_RDONLY)) < 0 ||
	    (got = read(fd, keybytes, sizeof(keybytes))) != VAULT_KEY_LEN ||
	    vault_key_from_bytes(keybytes, VAULT_KEY_LEN, &k) != 0) {
		fprintf(stderr, "seal_vault: %s is not a 32-byte key file\n",
			argv[3]);
		goto out;
	}
	close(fd);
	vault_base_new(&b);
	if ((argv[1][0] == '1'
		 ? vault_seal(k, plain, len, &img, &img_len)
		 : vault_seal_base(k, &b, plain, len, &img, &img_len)) != 0) {
		fprintf(stderr, "seal_vault: cannot seal\n");
		goto out;
	}
	if ((fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    write(fd, img, img_len) != (ssize_t)img_len || close(fd) != 0) {
		perror(argv[2]);
		goto out;
	}
	r = 0;
out:
	free(img);
	vault_key_free(k);
	return r;
}
