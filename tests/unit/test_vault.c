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
#include "vault/pure/journal.h"
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
	img[11] = VAULT_VERSION_SINGLE;
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

/* ---- The journal ------------------------------------------------------ */

static const char *const texts[] = {
    "{\"format\":1,\"accounts\":[{\"name\":\"a\",\"presented\":true}]}",
    "{\"format\":1,\"accounts\":[{\"name\":\"a\"}],\"gone\":[\"b\"]}",
    "{\"format\":1,\"accounts\":[]}",
};
#define N_TEXTS (sizeof(texts) / sizeof(texts[0]))

/* A file: a base with id and base_seq 5, then the texts as records 6, 7
   and 8; where each record starts in ends[i], the file's end in
   ends[N_TEXTS]. */
static unsigned char *journal_file(const struct vault_key *k,
				   struct vault_base *b, size_t *len,
				   size_t ends[N_TEXTS + 1])
{
	unsigned char *img = NULL, *rec = NULL;
	size_t rec_len, i;

	vault_base_new(b);
	b->base_seq = 5;
	assert_int_equal(vault_seal_base(k, b, plain_text,
					 sizeof(plain_text) - 1, &img, len),
			 0);
	for (i = 0; i < N_TEXTS; i++) {
		ends[i] = *len;
		assert_int_equal(
		    vault_record_seal(k, b->id, b->base_seq + 1 + i, texts[i],
				      strlen(texts[i]), &rec, &rec_len),
		    0);
		assert_int_equal(rec_len,
				 strlen(texts[i]) + VAULT_RECORD_OVERHEAD);
		img = realloc(img, *len + rec_len);
		assert_non_null(img);
		memcpy(img + *len, rec, rec_len);
		*len += rec_len;
		free(rec);
	}
	ends[N_TEXTS] = *len;
	return img;
}

/* Reads the journal of img, whose records are to be texts[first...];
   returns the last result of vault_journal_next(), the records read in
   *n. */
static int read_journal_from(const struct vault_key *k,
			     const unsigned char *img, size_t len, size_t first,
			     struct vault_journal *j, size_t *n)
{
	struct agent_plain *plain = NULL, *text = NULL;
	struct vault_base b;
	int r;

	*n = 0;
	r = vault_open_base(k, img, len, &b, &plain);
	if (r != 0)
		return r;
	assert_string_equal(plain->data, plain_text);
	agent_plain_free(plain);
	vault_journal_init(j, &b, img, len);
	while ((r = vault_journal_next(k, j, &text)) == 1) {
		assert_true(first + *n < N_TEXTS);
		assert_string_equal(text->data, texts[first + *n]);
		agent_plain_free(text);
		(*n)++;
	}
	assert_null(text);
	return r;
}

static int read_journal(const struct vault_key *k, const unsigned char *img,
			size_t len, struct vault_journal *j, size_t *n)
{
	return read_journal_from(k, img, len, 0, j, n);
}

static void journal_records_read_back_in_order(void **state)
{
	struct vault_key *k = file_key(4);
	struct vault_journal j;
	struct vault_base b, back;
	struct agent_plain *plain = NULL;
	unsigned char *img;
	size_t len, n, ends[N_TEXTS + 1];

	(void)state;
	img = journal_file(k, &b, &len, ends);
	assert_int_equal(vault_open_base(k, img, len, &back, &plain), 0);
	agent_plain_free(plain);
	assert_int_equal(back.version, VAULT_VERSION);
	assert_int_equal(back.base_seq, 5);
	assert_memory_equal(back.id, b.id, VAULT_ID_LEN);
	assert_int_equal(back.len, ends[0]);
	assert_int_equal(read_journal(k, img, len, &j, &n), 0);
	assert_int_equal(n, N_TEXTS);
	assert_false(j.torn);
	assert_int_equal(j.off, len);
	assert_int_equal(j.seq, 5 + N_TEXTS + 1);
	/* A base alone is one image, but the file's records are not. */
	assert_int_equal(vault_unseal(k, img, ends[0], &plain), 0);
	agent_plain_free(plain);
	assert_int_equal(vault_unseal(k, img, len, &plain),
			 XO_ERR_VAULT_CORRUPT);
	vault_key_free(k);
	free(img);
}

static void every_cut_in_the_journal_is_a_torn_record(void **state)
{
	struct vault_key *k = file_key(5);
	struct vault_journal j;
	struct vault_base b;
	unsigned char *img;
	size_t len, n, cut, i, ends[N_TEXTS + 1];

	(void)state;
	img = journal_file(k, &b, &len, ends);
	for (cut = ends[0]; cut <= len; cut++) {
		assert_int_equal(read_journal(k, img, cut, &j, &n), 0);
		/* The whole records before the cut, and the cut one torn. */
		for (i = 0; i < N_TEXTS && ends[i + 1] <= cut; i++)
			;
		assert_int_equal(n, i);
		assert_int_equal(j.off, ends[i]);
		assert_int_equal(j.torn, cut != ends[i]);
	}
	vault_key_free(k);
	free(img);
}

static void every_changed_byte_of_a_record_is_damage(void **state)
{
	struct vault_key *k = file_key(6);
	struct vault_journal j;
	struct vault_base b;
	unsigned char *img;
	size_t len, n, at, i, ends[N_TEXTS + 1];

	(void)state;
	img = journal_file(k, &b, &len, ends);
	for (at = ends[0]; at < len; at++) {
		img[at] ^= 0x40;
		/* Damage, in the last record as in any other: never taken for
		   a torn record, and the records before it read. */
		assert_int_equal(read_journal(k, img, len, &j, &n),
				 XO_ERR_VAULT_CORRUPT);
		for (i = 0; ends[i + 1] <= at; i++)
			;
		assert_int_equal(n, i);
		assert_int_equal(j.off, ends[i]);
		img[at] ^= 0x40;
	}
	vault_key_free(k);
	free(img);
}

static void zeros_after_the_records_are_a_torn_record(void **state)
{
	struct vault_key *k = file_key(7);
	struct vault_journal j;
	struct vault_base b;
	unsigned char *img;
	size_t len, n, ends[N_TEXTS + 1];

	(void)state;
	img = journal_file(k, &b, &len, ends);
	img = realloc(img, len + 8192);
	assert_non_null(img);
	memset(img + len, 0, 8192);
	assert_int_equal(read_journal(k, img, len + 8192, &j, &n), 0);
	assert_int_equal(n, N_TEXTS);
	assert_true(j.torn);
	assert_int_equal(j.off, len);
	/* One byte that is not zero makes it damage. */
	img[len + 8000] = 1;
	assert_int_equal(read_journal(k, img, len + 8192, &j, &n),
			 XO_ERR_VAULT_CORRUPT);
	vault_key_free(k);
	free(img);
}

/* img with the bytes [from, to) of other appended. */
static unsigned char *with(const unsigned char *img, size_t len,
			   const unsigned char *other, size_t from, size_t to)
{
	unsigned char *out = malloc(len + (to - from));

	assert_non_null(out);
	memcpy(out, img, len);
	memcpy(out + len, other + from, to - from);
	return out;
}

static void records_do_not_move_between_places_or_vaults(void **state)
{
	struct vault_key *k = file_key(8);
	struct vault_journal j;
	struct vault_base b, b2;
	unsigned char *img, *img2, *bad, *base = NULL;
	size_t len, len2, base_len, n, ends[N_TEXTS + 1], ends2[N_TEXTS + 1];

	(void)state;
	img = journal_file(k, &b, &len, ends);
	/* Another vault under the same key (the same key file for two
	   service accounts): its records are its own. */
	img2 = journal_file(k, &b2, &len2, ends2);
	bad = with(img, ends[1], img2, ends2[1], ends2[2]);
	assert_int_equal(
	    read_journal(k, bad, ends[1] + ends2[2] - ends2[1], &j, &n),
	    XO_ERR_VAULT_CORRUPT);
	assert_int_equal(n, 1);
	free(bad);
	/* The same record twice. */
	bad = with(img, ends[2], img, ends[1], ends[2]);
	assert_int_equal(
	    read_journal(k, bad, ends[2] + ends[2] - ends[1], &j, &n),
	    XO_ERR_VAULT_CORRUPT);
	free(bad);
	/* The second record without the first. */
	bad = with(img, ends[1], img, ends[2], ends[3]);
	assert_int_equal(
	    read_journal(k, bad, ends[1] + ends[3] - ends[2], &j, &n),
	    XO_ERR_VAULT_CORRUPT);
	assert_int_equal(n, 1);
	free(bad);
	/* A new base that folded in records 6 and 7 (base_seq 7): record 8
	   follows it, as a commit carries it over; record 7 does not. */
	b.base_seq = 7;
	assert_int_equal(vault_seal_base(k, &b, plain_text,
					 sizeof(plain_text) - 1, &base,
					 &base_len),
			 0);
	bad = with(base, base_len, img, ends[2], ends[3]);
	assert_int_equal(
	    read_journal_from(k, bad, base_len + ends[3] - ends[2], 2, &j, &n),
	    0);
	assert_int_equal(n, 1);
	free(bad);
	bad = with(base, base_len, img, ends[1], ends[2]);
	assert_int_equal(
	    read_journal(k, bad, base_len + ends[2] - ends[1], &j, &n),
	    XO_ERR_VAULT_CORRUPT);
	free(bad);
	free(base);
	free(img2);
	free(img);
	vault_key_free(k);
}

static void format_1_vault_has_no_journal(void **state)
{
	struct vault_key *k = file_key(9);
	struct agent_plain *plain = NULL;
	struct vault_journal j;
	struct vault_base b;
	unsigned char *img = NULL, *longer;
	size_t len = 0;

	(void)state;
	seal_sample(k, &img, &len);
	assert_int_equal(vault_open_base(k, img, len, &b, &plain), 0);
	assert_int_equal(b.version, VAULT_VERSION_SINGLE);
	assert_int_equal(b.len, len);
	vault_journal_init(&j, &b, img, len);
	agent_plain_free(plain);
	assert_int_equal(vault_journal_next(k, &j, &plain), 0);
	assert_false(j.torn);
	/* An image of format 1 is the whole file. */
	longer = with(img, len, img, 0, 50);
	assert_int_equal(vault_open_base(k, longer, len + 50, &b, &plain),
			 XO_ERR_VAULT_CORRUPT);
	free(longer);
	free(img);
	vault_key_free(k);
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

static void read_back(const char *path, const char *want, size_t want_len)
{
	unsigned char *img = NULL;
	size_t len = 0;
	struct agent_err err;

	assert_int_equal(vault_read_file(path, &img, &len, &err), 0);
	assert_int_equal(len, want_len);
	assert_memory_equal(img, want, want_len);
	free(img);
}

static void append_cuts_a_torn_record_off_first(void **state)
{
	struct agent_err err;
	struct tmpdir t;
	FILE *f;

	(void)state;
	tmpdir_make(&t);
	assert_int_equal(vault_make_dir(t.path, &err), 0);
	assert_int_equal(
	    vault_write_file(t.path, (const unsigned char *)"base", 4, &err),
	    0);
	assert_int_equal(
	    vault_append_file(t.path, 4, (const unsigned char *)"r1", 2, &err),
	    0);
	read_back(t.path, "baser1", 6);
	/* A crash left part of a record after the whole ones. */
	assert_non_null(f = fopen(t.path, "a"));
	fputs("torn-part", f);
	fclose(f);
	assert_int_equal(
	    vault_append_file(t.path, 6, (const unsigned char *)"r2", 2, &err),
	    0);
	read_back(t.path, "baser1r2", 8);
	/* A file shorter than the agent wrote it was changed by someone
	   else: nothing is written. */
	assert_int_equal(
	    vault_append_file(t.path, 20, (const unsigned char *)"r3", 2, &err),
	    XO_ERR_IO);
	read_back(t.path, "baser1r2", 8);
	tmpdir_remove(&t);
}

static void new_base_carries_the_records_appended_meanwhile(void **state)
{
	struct agent_err err;
	char bak[160];
	struct tmpdir t;

	(void)state;
	tmpdir_make(&t);
	assert_int_equal(vault_make_dir(t.path, &err), 0);
	assert_int_equal(
	    vault_write_file(t.path, (const unsigned char *)"old+r1", 6, &err),
	    0);
	/* The new base holds r1; r2 is appended while it is written. */
	assert_int_equal(
	    vault_write_temp(t.path, (const unsigned char *)"NEW", 3, &err), 0);
	assert_int_equal(
	    vault_append_file(t.path, 6, (const unsigned char *)"+r2", 3, &err),
	    0);
	assert_int_equal(vault_commit_temp(t.path, 6, 9, &err), 0);
	read_back(t.path, "NEW+r2", 6);
	snprintf(bak, sizeof(bak), "%s.bak", t.path);
	read_back(bak, "old+r1+r2", 9);
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
	    cmocka_unit_test(journal_records_read_back_in_order),
	    cmocka_unit_test(every_cut_in_the_journal_is_a_torn_record),
	    cmocka_unit_test(every_changed_byte_of_a_record_is_damage),
	    cmocka_unit_test(zeros_after_the_records_are_a_torn_record),
	    cmocka_unit_test(records_do_not_move_between_places_or_vaults),
	    cmocka_unit_test(format_1_vault_has_no_journal),
	    cmocka_unit_test(append_cuts_a_torn_record_off_first),
	    cmocka_unit_test(new_base_carries_the_records_appended_meanwhile),
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
