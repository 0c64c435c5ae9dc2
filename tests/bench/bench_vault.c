/*
 * bench_vault: writes a vault of N accounts for the scale benchmarks, as
 * an agent with a key file would have written it after N ADDs and logins:
 * each a runtime account of the generic provider at TOKEN_ENDPOINT, with
 * an address and a refresh token of TOKEN_LEN bytes.
 *
 *   bench_vault VAULT KEY_FILE N TOKEN_ENDPOINT TOKEN_LEN
 *
 * The records are those of vault/records.c ("settings" as ADD gives
 * them), sealed by the vault's own vault_seal_base() under the key file's
 * 32 bytes (which must exist): a base of format 2 with no journal yet, as
 * a new base leaves it.  Account i is named "u<i>", with the address
 * "u<i>@example.com".
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "vault/pure/image.h"

#include "bench_wire.h"

static json_t *record(long i, const char *endpoint, const char *token)
{
	char name[32], email[64];

	snprintf(name, sizeof(name), "u%ld", i);
	snprintf(email, sizeof(email), "u%ld@example.com", i);
	return json_pack(
	    "{s:s, s:s, s:s, s:I, s:b, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s}}",
	    "name", name, "email", email, "refresh_token", token, "obtained",
	    (json_int_t)time(NULL), "presented", 0, "settings", "provider",
	    "generic", "client_id", "bench", "token_endpoint", endpoint,
	    "device_authorization_endpoint", endpoint, "scopes", "mail", "flow",
	    "device", "email", email);
}

int main(int argc, char **argv)
{
	unsigned char keybytes[VAULT_KEY_LEN + 1], *img = NULL;
	struct vault_key *k = NULL;
	struct vault_base b;
	json_t *root = NULL, *list;
	char *text = NULL, *token = NULL;
	size_t img_len, text_len;
	long n, toklen, i;
	ssize_t got;
	int fd, r = 1;

	if (argc != 6 || (n = bench_count(argv[3])) < 0 ||
	    (toklen = bench_count(argv[5])) < 0 || toklen > 65536) {
		fprintf(stderr, "usage: bench_vault VAULT KEY_FILE N "
				"TOKEN_ENDPOINT TOKEN_LEN\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	if ((fd = open(argv[2], O_RDONLY)) < 0 ||
	    (got = read(fd, keybytes, sizeof(keybytes))) != VAULT_KEY_LEN ||
	    vault_key_from_bytes(keybytes, VAULT_KEY_LEN, &k) != 0) {
		fprintf(stderr, "bench_vault: %s is not a 32-byte key file\n",
			argv[2]);
		goto out;
	}
	close(fd);
	/* One token of printable bytes, as providers send: each account's
	   differs in its first characters. */
	if ((token = malloc((size_t)toklen + 1)) == NULL)
		goto out;
	for (i = 0; i < toklen; i++)
		token[i] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789-_"[randombytes_uniform(64)];
	token[toklen] = '\0';
	if ((root = json_object()) == NULL || (list = json_array()) == NULL ||
	    json_object_set_new(root, "format", json_integer(1)) != 0 ||
	    json_object_set_new(root, "accounts", list) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		char head[24];
		int hl = snprintf(head, sizeof(head), "rt%ld.", i);

		memcpy(token, head,
		       (size_t)hl < (size_t)toklen ? (size_t)hl
						   : (size_t)toklen);
		if (json_array_append_new(list, record(i, argv[4], token)) != 0)
			goto out;
	}
	if ((text = json_dumps(root, JSON_COMPACT)) == NULL)
		goto out;
	text_len = strlen(text);
	vault_base_new(&b);
	if (vault_seal_base(k, &b, text, text_len, &img, &img_len) != 0) {
		fprintf(stderr, "bench_vault: cannot seal %zu bytes\n",
			text_len);
		goto out;
	}
	if ((fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
	    write(fd, img, img_len) != (ssize_t)img_len || close(fd) != 0) {
		perror(argv[1]);
		goto out;
	}
	printf("%zu\n", text_len);
	r = 0;
out:
	free(img);
	free(text);
	free(token);
	json_decref(root);
	vault_key_free(k);
	return r;
}
