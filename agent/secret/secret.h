/*
 * secret.h: shielded secrets (DESIGN.md, "Secrets"; docs/SECURITY.md).
 *
 * A struct agent_shield holds the per-process key in sodium_malloc memory
 * (guard pages on both sides, mlock'd, left out of core dumps) and a
 * scratch arena of the same kind.  A struct agent_secret is a secret
 * sealed with XChaCha20-Poly1305 under that key: ordinary heap memory that
 * is useless without the key.  agent_secret_open() decrypts into a struct
 * agent_plain, which must be released with agent_plain_free() (which
 * wipes it) on every path.
 *
 * The key is PROT_NONE while the agent is idle.  The first seal or open
 * makes it readable, and it stays readable until agent_shield_close(),
 * which the daemon calls at most 50 ms later (daemon/run.c): a stream of
 * requests pays for one pair of mprotect() calls per 50 ms rather than
 * two per request, which on a machine of several CPUs also costs a TLB
 * flush on each of them.  docs/SECURITY.md says what that window gives
 * away and why it is little.
 *
 * Plain text opened for the work of the moment (agent_secret_open(),
 * agent_plain_scratch()) is carved from the scratch arena: no mmap,
 * mprotect or mlock per request.  Each piece is wiped when freed, and the
 * arena starts again from its first byte once every piece is free.  A
 * piece the arena cannot hold, or one asked for while the arena is full,
 * gets a sodium_malloc buffer of its own, as every agent_plain_new() does:
 * what outlives the turn (an HTTP form in flight, a spawned command's
 * output) must come from agent_plain_new() so that it does not pin the
 * arena.
 */
#ifndef XO_SECRET_H
#define XO_SECRET_H

#include <stddef.h>

struct agent_shield;
struct agent_secret;

/* Decrypted bytes, always followed by a NUL so text secrets are C strings.
   data and len are the caller's to read (len may be lowered); the rest is
   the allocator's. */
struct agent_plain {
	char *data;
	size_t len;
	struct agent_shield *arena; /* carved from its scratch; NULL: own
				       sodium_malloc buffer */
	size_t size;		    /* bytes to wipe at free */
	int large;		    /* agent_plain_large()'s pages */
	unsigned char *pooled;	    /* a small buffer's pages, for reuse */
};

/* Calls sodium_init(); returns 0 or XO_ERR_INTERNAL/XO_ERR_NOMEM. */
int agent_shield_new(struct agent_shield **out);
/* A shield with s's key (its own copy, in memory of the same kind) and an
   arena of its own: for a thread of libuv's pool that opens secrets while
   the loop goes on using s (the vault's writes).  One thread at a time may
   use it (it may be handed on, as the pool's work is, to be used again);
   it is freed with agent_shield_free(), which wipes the key. */
int agent_shield_copy(struct agent_shield *s, struct agent_shield **out);
void agent_shield_free(struct agent_shield *s);
/* Makes the key unreadable again if a seal or an open made it readable;
   otherwise (and for NULL) a no-op. */
void agent_shield_close(struct agent_shield *s);
/* 1 while the key is readable (tests). */
int agent_shield_is_open(const struct agent_shield *s);

/* Seals len bytes of plain text; *out is freed with agent_secret_free(). */
int agent_secret_seal(struct agent_shield *s, const void *plain, size_t len,
		      struct agent_secret **out);
/* Decrypts into the scratch arena (see the top); *out is freed with
   agent_plain_free() before the turn of the loop ends. */
int agent_secret_open(struct agent_shield *s, const struct agent_secret *sec,
		      struct agent_plain **out);
/* Decrypts into len bytes at dst, which must be exactly the secret's
   length (no NUL is added): for a reply frame, built in a buffer that
   wipes what it held (secret/buf.h), so that the plain text has no other
   copy to wipe.  0; XO_ERR_INVALID for another length (dst untouched);
   XO_ERR_INTERNAL when the secret does not open (dst wiped). */
int agent_secret_open_to(struct agent_shield *s, const struct agent_secret *sec,
			 unsigned char *dst, size_t len);
/* Drops a reference: the last wipes and frees the secret. */
void agent_secret_free(struct agent_secret *sec);
/* One more reference to sec (returned): a holder that must read it later,
   even after its owner has replaced or dropped it, frees its own with
   agent_secret_free().  A sealed secret never changes, so another thread
   may read one it holds; references are taken and dropped on the loop's
   thread only. */
struct agent_secret *agent_secret_ref(struct agent_secret *sec);
/* The length of the plain text a secret holds. */
size_t agent_secret_len(const struct agent_secret *sec);

/* A short, stable, non-reversible fingerprint for logs ("a1b2c3d4"). */
void agent_secret_fingerprint(const struct agent_secret *sec, char out[9]);

/* A plain buffer of len bytes (plus NUL) in sodium_malloc memory of its
   own: for plain text that may outlive the turn of the loop.  Small ones
   (under 4000 bytes: tokens, forms, codes) come from a few such buffers
   each thread keeps for reuse, wiped when freed, so that a refresh does
   not map, lock, unlock and unmap pages for each piece of text. */
int agent_plain_new(size_t len, struct agent_plain **out);
/* A plain buffer of len bytes (plus NUL) in s's scratch arena (s NULL:
   as agent_plain_new()); free it before the turn of the loop ends. */
int agent_plain_scratch(struct agent_shield *s, size_t len,
			struct agent_plain **out);
/* A plain buffer of len bytes (plus NUL) for what is too large to lock
   (RLIMIT_MEMLOCK is some MiB; the vault of 100,000 accounts is some
   hundreds): pages of its own, left out of core dumps, wiped when freed,
   but neither locked nor guarded, and no cost per page beyond the kernel's
   (sodium_malloc() fills and wipes the whole of it, and locks it).  Free it
   with agent_plain_free(). */
int agent_plain_large(size_t len, struct agent_plain **out);
/* Grows such a buffer to len bytes (plus NUL), keeping its bytes: the
   pages move (mremap), so no copy is left behind.  0 or XO_ERR_NOMEM
   (p unchanged). */
int agent_plain_large_grow(struct agent_plain *p, size_t len);
/* Copies a C string into a new plain buffer. */
int agent_plain_dup(const char *s, size_t len, struct agent_plain **out);
void agent_plain_free(struct agent_plain *p);

#endif
