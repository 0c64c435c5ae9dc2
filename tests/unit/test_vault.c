/*
 * The vault's file image and files: sealing and opening, and every way a
 * file can be wrong (truncated, damaged, foreign, newer, a wrong key).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "unit.h"

#include <xoauth/xo_errors.h>

#include "vault/pure/image.h"
#include "core/err.h"
#include "vault/io.h"

static const char plain_text[] =
    "{\"accounts\":[{\"name\":\"work\",\"refresh_token\":\"1//secret\"}]}";

/* Argon2id at its lowest cost: the tests are about the format. */
static struct vault_key *cheap_passphrase_key(const char *pass,
					      const struct vault_params *like)
{
	struct vault_params p;
	struct vault_key *k = NULL;

	if (like != NULL) {
		p = *like;
	} else {
		vault_params_new(VAULT_KDF_ARGON2ID, &p);
		p.opslimit = crypto_pwhash_OPSLIMIT_MIN;
		p.memlimit_kib = crypto_pwhash_MEMLIMIT_MIN / 1024;
	}
	assert_int_equal(vault_key_from_passphrase(pass, strlen(pass), &p, &k),
			 0);
	return k;
}

static struct vault_key *file_key(unsigned char fill)
{
	unsigned char bytes[VAULT_KEY_LEN];
	struct vault_key *k = NULL;

	memset(bytes, fill, sizeof(bytes));
	assert_int_equal(vault_key_from_bytes(bytes, sizeof(bytes), &k), 0);
	return k;
}

static void seal_sample(const struct vault_key *k, unsigned char **img,
			size_t *len)
{
	assert_int_equal(
	    vault_seal(k, plain_text, sizeof(plain_text) - 1, img, len), 0);
}

static void passphrase_vault_round_trips(void **state)
{
	struct vault_key *k = cheap_passphrase_key("correct horse", NULL);
	struct vault_key *again = NULL;
	struct vault_params p;
	struct agent_plain *out = NULL;
	unsigned char *img = NULL;
	size_t len = 0;

	(void)state;
	seal_sample(k, &img, &len);
	/* Unlocking derives the key anew from the file's own parameters. */
	assert_int_equal(vault_image_params(img, len, &p), 0);
	again = cheap_passphrase_key("correct horse", &p);
	assert_int_equal(vault_unseal(again, img, len, &out), 0);
	assert_int_equal(out->len, sizeof(plain_text) - 1);
	assert_string_equal(out->data, plain_text);
	/* The plain text is nowhere in the image. */
	assert_null(memmem(img, len, "1//secret", 9));
	agent_plain_free(out);
	vault_key_free(again);
	vault_key_free(k);
	free(img);
}

static void wrong_passphrase_is_told_apart_from_damage(void **state)
{
	struct vault_key *k = cheap_passphrase_key("correct horse", NULL);
	struct vault_key *wrong =
	    cheap_passphrase_key("battery staple", &k->params);
	struct vault_key *other_file = file_key(7);
	struct agent_plain *out = NULL;
	unsigned char *img = NULL;
	size_t len = 0;

	(void)state;
	seal_sample(k, &img, &len);
	assert_int_equal(vault_unseal(wrong, img, len, &out),
			 XO_ERR_WRONG_PASSPHRASE);
	assert_int_equal(vault_unseal(other_file, img, len, &out),
			 XO_ERR_WRONG_PASSPHRASE);
	assert_null(out);
	img[len - 1] ^= 1; /* the tag */
	assert_int_equal(vault_unseal(k, img, len, &out), XO_ERR_VAULT_CORRUPT);
	assert_null(out);
	vault_key_free(other_file);
	vault_key_free(wrong);
	vault_key_free(k);
	free(img);
}

static void every_truncation_is_refused(void **state)
{
	struct vault_key *k = file_key(1);
	struct agent_plain *out = NULL;
	unsigned char *img = NULL;
	size_t len = 0, n;
	int r;

	(void)state;
	seal_sample(k, &img, &len);
	for (n = 0; n < len; n++) {
		r = vault_unseal(k, img, n, &out);
		assert_true(n < 8 ? r == XO_ERR_VAULT_FOREIGN
				  : r == XO_ERR_VAULT_CORRUPT);
		assert_null(out);
	}
	vault_key_free(k);
	free(img);
}

static void every_changed_byte_is_refused(void **state)
{
	struct vault_key *k = file_key(2);
	struct agent_plain *out = NULL;
	unsigned char *img = NULL;
	size_t len = 0, i;
	int r;

	(void)state;
	seal_sample(k, &img, &len);
	for (i = 0; i < len; i++) {
		img[i] ^= 0x40;
		r = vault_unseal(k, img, len, &out);
		/* Which error depends on the field; success never. */
		assert_true(r < 0);
		assert_null(out);
		img[i] ^= 0x40;
	}
	assert_int_equal(vault_unseal(k, img, len, &out), 0);
	agent_plain_free(out);
	vault_key_free(k);
	free(img);
}

static void foreign_newer_and_hostile_files_are_named(void **state)
{
	struct vault_key *k = file_key(3);
	struct agent_plain *out = NULL;
	unsigned char *img = NULL;
	unsigned char extra[1024];
	size_t len = 0;

	(void)state;
	seal_sample(k, &img, &len);
	memcpy(img, "PK\x03\x04", 4);
	assert_int_equal(vault_unseal(k, img, len, &out), XO_ERR_VAULT_FOREIGN);
	memcpy(img, "XOAU", 4);
	img[11] = VAULT_VERSION + 1; /* version, big-endian, at offset 8 */
	assert_int_equal(vault_unseal(k, img, len, &out), XO_ERR_VAULT_NEWER);
	img[11] = VAULT_VERSION;
	img[12] = VAULT_KDF_ARGON2ID; /* with Argon2id limits of 0 */
	assert_int_equal(vault_unseal(k, img, len, &out), XO_ERR_VAULT_CORRUPT);
	img[12] = VAULT_KDF_KEYFILE;
	/* Bytes appended to a whole image. */
	assert_true(len <= sizeof(extra) - 1);
	memcpy(extra, img, len);
	extra[len] = 0;
	assert_int_equal(vault_unseal(k, extra, len + 1, &out),
			 XO_ERR_VAULT_CORRUPT);
	vault_key_free(k);
	free(img);
}

static void key_file_must_be_32_bytes(void **state)
{
	unsigned char bytes[VAULT_KEY_LEN + 1] = {0};
	struct vault_key *k = NULL;

	(void)state;
	assert_int_equal(vault_key_from_bytes(bytes, VAULT_KEY_LEN - 1, &k),
			 XO_ERR_INVALID);
	assert_int_equal(vault_key_from_bytes(bytes, VAULT_KEY_LEN + 1, &k),
			 XO_ERR_INVALID);
	assert_null(k);
}

/* ---- Files ------------------------------------------------------------ */

struct tmpdir {
	char dir[64];
	char path[128];
};

static void tmpdir_make(struct tmpdir *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/xo-test-vault-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/sub/vault", t->dir);
}

static void tmpdir_remove(struct tmpdir *t)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
}

static void write_replaces_atomically_and_keeps_a_backup(void **state)
{
	unsigned char *img = NULL;
	size_t len = 0;
	struct agent_err err;
	char bak[160], tmp[160];
	struct stat st;
	struct tmpdir t;

	(void)state;
	tmpdir_make(&t);
	assert_int_equal(vault_read_file(t.path, &img, &len, &err), 0);
	assert_null(img); /* none yet */
	assert_int_equal(vault_make_dir(t.path, &err), 0);
	assert_int_equal(
	    vault_write_file(t.path, (const unsigned char *)"one", 3, &err), 0);
	assert_int_equal(
	    vault_write_file(t.path, (const unsigned char *)"two!", 4, &err),
	    0);
	assert_int_equal(vault_read_file(t.path, &img, &len, &err), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(img, "two!", 4);
	free(img);
	snprintf(bak, sizeof(bak), "%s.bak", t.path);
	assert_int_equal(vault_read_file(bak, &img, &len, &err), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(img, "one", 3);
	free(img);
	/* No temporary file is left, and the vault is private. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", t.path);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(stat(t.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	tmpdir_remove(&t);
}

static void readable_by_others_is_refused(void **state)
{
	unsigned char *img = NULL;
	size_t len = 0;
	struct agent_err err;
	struct tmpdir t;

	(void)state;
	tmpdir_make(&t);
	assert_int_equal(vault_make_dir(t.path, &err), 0);
	assert_int_equal(
	    vault_write_file(t.path, (const unsigned char *)"x", 1, &err), 0);
	assert_int_equal(chmod(t.path, 0644), 0);
	assert_int_equal(vault_read_file(t.path, &img, &len, &err),
			 XO_ERR_CONFIG);
	assert_non_null(strstr(err.msg, "chmod 600"));
	assert_null(img);
	tmpdir_remove(&t);
}

static void second_lock_names_the_holder(void **state)
{
	struct agent_err err;
	char want[64];
	int fd1 = -1, fd2 = -1;
	struct tmpdir t;

	(void)state;
	tmpdir_make(&t);
	assert_int_equal(vault_make_dir(t.path, &err), 0);
	assert_int_equal(vault_lock(t.path, &fd1, &err), 0);
	/* flock() locks belong to the open file, so a second open in this
	 * process contends as another agent would. */
	assert_int_equal(vault_lock(t.path, &fd2, &err), XO_ERR_VAULT_IN_USE);
	snprintf(want, sizeof(want), "pid %ld", (long)getpid());
	assert_non_null(strstr(err.msg, want));
	close(fd1);
	assert_int_equal(vault_lock(t.path, &fd2, &err), 0);
	close(fd2);
	tmpdir_remove(&t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(passphrase_vault_round_trips),
	    cmocka_unit_test(wrong_passphrase_is_told_apart_from_damage),
	    cmocka_unit_test(every_truncation_is_refused),
	    cmocka_unit_test(every_changed_byte_is_refused),
	    cmocka_unit_test(foreign_newer_and_hostile_files_are_named),
	    cmocka_unit_test(key_file_must_be_32_bytes),
	    cmocka_unit_test(write_replaces_atomically_and_keeps_a_backup),
	    cmocka_unit_test(readable_by_others_is_refused),
	    cmocka_unit_test(second_lock_names_the_holder),
	};

	const struct unit_group groups[] = {
	    UNIT_GROUP("vault", tests, NULL, NULL),
	};

	if (sodium_init() < 0)
		return 1;
	return unit_run(argc, argv, groups, 1);
}
