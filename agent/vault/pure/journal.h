/*
 * journal.h: the vault's journal, the records of changes that follow the
 * base in a vault file of format 2 (image.h).  Pure code: no I/O, so unit
 * tests and the fuzzer (fuzz_vault) reach it directly.
 *
 * A record holds the plain text of the accounts that changed
 * (vault/records.c), sealed on its own:
 *
 *   u32 ciphertext length | mac[16] | nonce[24] | ciphertext (plain + tag)
 *
 * The records after a base are numbered base_seq + 1, + 2 ... in the
 * order they stand; the number is not written down.  A record is bound to
 * its vault's id, its number and its length: they are the associated data
 * of its ciphertext, and mac is a BLAKE2b of them keyed with the vault's
 * key.  So a record that moved (another place in the journal, another
 * vault, the same one played twice) does not open.
 *
 * A crash in the middle of an append leaves a record cut short at the end
 * of the file: its header incomplete, or its header whole and right (the
 * mac says it is) and the rest shorter than the header says.  Such a
 * record is "torn": it is ignored and the whole records before it are the
 * journal; the agent acts on a record only once its fsync has ended, so
 * nothing that was promised is lost with it.  Anything else is damage: a
 * header whose mac is wrong, a ciphertext that does not open (in the last
 * record as in any other).  One exception: a tail of zero bytes is torn
 * too, as blocks a file system allocated but never wrote (a power cut can
 * leave that) are zeros.
 */
#ifndef XO_VAULT_PURE_JOURNAL_H
#define XO_VAULT_PURE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vault/pure/image.h"

/* The bytes of a record around its plain text. */
#define VAULT_RECORD_OVERHEAD (4 + 16 + 24 + 16)

/* Reading a journal: vault_journal_init(), then vault_journal_next()
   until it returns 0. */
struct vault_journal {
	const unsigned char *img; /* the whole file */
	size_t len;
	size_t off;   /* where the next record starts; at the end, where
			 the whole records end (an append goes there) */
	uint64_t seq; /* the number of the next record */
	unsigned char id[VAULT_ID_LEN];
	int records; /* a file of format 2: 1; of format 1: 0 */
	int torn;    /* at the end: a torn record was left after off */
};

/* Starts reading the journal of the file img (len bytes) whose base is
   b (vault_open_base()). */
void vault_journal_init(struct vault_journal *j, const struct vault_base *b,
			const unsigned char *img, size_t len);
/*
 * The next record: 1 with its plain text in *out (free it with
 * agent_plain_free()); 0 at the end (j->torn says whether a torn record
 * was left there); XO_ERR_VAULT_CORRUPT when the record at j->off is
 * damaged; XO_ERR_NOMEM.  j->off and j->seq move past each record read.
 */
int vault_journal_next(const struct vault_key *k, struct vault_journal *j,
		       struct agent_plain **out);
/* Seals plain text as record number seq of the vault with id (malloc;
   not secret).  0, XO_ERR_INVALID (too long) or XO_ERR_NOMEM. */
int vault_record_seal(const struct vault_key *k,
		      const unsigned char id[VAULT_ID_LEN], uint64_t seq,
		      const void *plain, size_t len, unsigned char **rec,
		      size_t *rec_len);

#endif
