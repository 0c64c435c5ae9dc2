/*
 * secret.c: secrets sealed in memory under a per-process key (DESIGN.md,
 * "Secrets"; secret.h says when the key is readable), after OpenSSH's
 * sshkey_shield_private().
 *
 * The key lives in one sodium_malloc page set that is PROT_NONE whenever
 * the agent waits for work, so a stray read between turns of the loop, a
 * core file (also disabled at start-up) or /proc/PID/mem (closed by
 * PR_SET_DUMPABLE 0 to all but root) shows only ciphertext for idle
 * secrets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "secret/secret.h"

#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KEY_LEN crypto_aead_xchacha20poly1305_ietf_KEYBYTES
/* The scratch arena: room for a few 16 KiB tokens and the SASL strings
   made from them at once; larger pieces get buffers of their own. */
#define SCRATCH_SIZE (64 * 1024)
#define ALIGN 16
/* Small plain buffers (agent_plain_new()) kept for reuse, per thread. */
#define POOL_BUF 4000
#define POOL_MAX 64

/* A thread's spare small buffers: sodium_malloc memory, wiped.  Thread
   local, as malloc's own free lists: libuv's pool frees what the loop
   made (a passphrase) and the other way round. */
static _Thread_local struct {
	unsigned char *buf[POOL_MAX];
	size_t n;
} pool;

struct agent_shield {
	unsigned char *key; /* sodium_malloc, noaccess unless key_open */
	int key_open;
	unsigned char *scratch; /* sodium_malloc, SCRATCH_SIZE bytes */
	size_t top;		/* bytes of the arena handed out */
	unsigned live;		/* pieces handed out and not yet freed */
};

struct agent_secret {
	size_t plain_len;
	unsigned refs;
	unsigned char nonce[NONCE_LEN];
	unsigned char fingerprint[4];
	unsigned char sealed[]; /* plain_len + TAG_LEN bytes */
};

static const unsigned char *key_of(struct agent_shield *s);

int agent_shield_new(struct agent_shield **out)
{
	struct agent_shield *s;

	*out = NULL;
	if (sodium_init() < 0)
		return XO_ERR_INTERNAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return XO_ERR_NOMEM;
	if ((s->key = sodium_malloc(KEY_LEN)) == NULL ||
	    (s->scratch = sodium_malloc(SCRATCH_SIZE)) == NULL) {
		sodium_free(s->key);
		free(s);
		return XO_ERR_NOMEM;
	}
	/* sodium_malloc fills with 0xdb; the arena starts wiped. */
	sodium_memzero(s->scratch, SCRATCH_SIZE);
	crypto_aead_xchacha20poly1305_ietf_keygen(s->key);
	sodium_mprotect_noaccess(s->key);
	*out = s;
	return 0;
}

int agent_shield_copy(struct agent_shield *s, struct agent_shield **out)
{
	struct agent_shield *c;
	int r;

	*out = NULL;
	if ((r = agent_shield_new(&c)) != 0)
		return r;
	sodium_mprotect_readwrite(c->key);
	memcpy(c->key, key_of(s), KEY_LEN);
	sodium_mprotect_noaccess(c->key);
	*out = c;
	return 0;
}

void agent_shield_free(struct agent_shield *s)
{
	if (s == NULL)
		return;
	sodium_free(s->key); /* zeroes, whatever its protection */
	sodium_free(s->scratch);
	free(s);
}

/* The key, readable until agent_shield_close(). */
static const unsigned char *key_of(struct agent_shield *s)
{
	if (!s->key_open) {
		sodium_mprotect_readonly(s->key);
		s->key_open = 1;
	}
	return s->key;
}

void agent_shield_close(struct agent_shield *s)
{
	if (s == NULL || !s->key_open)
		return;
	sodium_mprotect_noaccess(s->key);
	s->key_open = 0;
}

int agent_shield_is_open(const struct agent_shield *s)
{
	return s->key_open;
}

int agent_secret_seal(struct agent_shield *s, const void *plain, size_t len,
		      struct agent_secret **out)
{
	struct agent_secret *sec;
	unsigned char hash[crypto_generichash_BYTES];

	*out = NULL;
	if (len > (1u << 20))
		return XO_ERR_INVALID;
	if ((sec = malloc(sizeof(*sec) + len + TAG_LEN)) == NULL)
		return XO_ERR_NOMEM;
	sec->plain_len = len;
	sec->refs = 1;
	randombytes_buf(sec->nonce, sizeof(sec->nonce));
	/* A fingerprint for logs: a hash of the secret, cut short, so two
	   log lines can be matched without revealing anything usable. */
	crypto_generichash(hash, sizeof(hash), plain, len, NULL, 0);
	memcpy(sec->fingerprint, hash, sizeof(sec->fingerprint));
	crypto_aead_xchacha20poly1305_ietf_encrypt(sec->sealed, NULL, plain,
						   len, NULL, 0, NULL,
						   sec->nonce, key_of(s));
	*out = sec;
	return 0;
}

int agent_secret_open(struct agent_shield *s, const struct agent_secret *sec,
		      struct agent_plain **out)
{
	struct agent_plain *p = NULL;
	int r;

	*out = NULL;
	if ((r = agent_plain_scratch(s, sec->plain_len, &p)) != 0)
		return r;
	r = crypto_aead_xchacha20poly1305_ietf_decrypt(
	    (unsigned char *)p->data, NULL, NULL, sec->sealed,
	    sec->plain_len + TAG_LEN, NULL, 0, sec->nonce, key_of(s));
	if (r != 0) {
		agent_plain_free(p);
		return XO_ERR_INTERNAL;
	}
	*out = p;
	return 0;
}

int agent_secret_open_to(struct agent_shield *s, const struct agent_secret *sec,
			 unsigned char *dst, size_t len)
{
	if (len != sec->plain_len)
		return XO_ERR_INVALID;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		dst, NULL, NULL, sec->sealed, sec->plain_len + TAG_LEN, NULL, 0,
		sec->nonce, key_of(s)) != 0) {
		sodium_memzero(dst, len);
		return XO_ERR_INTERNAL;
	}
	return 0;
}

struct agent_secret *agent_secret_ref(struct agent_secret *sec)
{
	sec->refs++;
	return sec;
}

void agent_secret_free(struct agent_secret *sec)
{
	if (sec == NULL || --sec->refs > 0)
		return;
	sodium_memzero(sec, sizeof(*sec) + sec->plain_len + TAG_LEN);
	free(sec);
}

size_t agent_secret_len(const struct agent_secret *sec)
{
	return sec->plain_len;
}

void agent_secret_fingerprint(const struct agent_secret *sec, char out[9])
{
	sodium_bin2hex(out, 9, sec->fingerprint, sizeof(sec->fingerprint));
}

/* Fills in p for len bytes at data (plus NUL), size of them wiped at free. */
static void plain_set(struct agent_plain *p, char *data, size_t len,
		      size_t size, struct agent_shield *arena, int large,
		      unsigned char *pooled)
{
	p->data = data;
	p->data[len] = '\0';
	p->len = len;
	p->size = size;
	p->arena = arena;
	p->large = large;
	p->pooled = pooled;
}

int agent_plain_new(size_t len, struct agent_plain **out)
{
	struct agent_plain *p;
	unsigned char *buf = NULL;

	*out = NULL;
	if (len >= SIZE_MAX - sizeof(*p))
		return XO_ERR_NOMEM;
	if ((p = malloc(sizeof(*p))) == NULL)
		return XO_ERR_NOMEM;
	if (len + 1 <= POOL_BUF) {
		buf = pool.n > 0 ? pool.buf[--pool.n] : sodium_malloc(POOL_BUF);
		/* At the buffer's end, as sodium_malloc puts it: a write past
		   the text runs into the guard page. */
		p->data =
		    buf != NULL ? (char *)buf + POOL_BUF - (len + 1) : NULL;
	} else {
		p->data = sodium_malloc(len + 1);
	}
	if (p->data == NULL) {
		free(p);
		return XO_ERR_NOMEM;
	}
	plain_set(p, p->data, len, len + 1, NULL, 0, buf);
	*out = p;
	return 0;
}

int agent_plain_large(size_t len, struct agent_plain **out)
{
	struct agent_plain *p;
	void *m;

	*out = NULL;
	if (len >= SIZE_MAX / 2)
		return XO_ERR_NOMEM;
	if ((p = malloc(sizeof(*p))) == NULL)
		return XO_ERR_NOMEM;
	m = mmap(NULL, len + 1, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		free(p);
		return XO_ERR_NOMEM;
	}
	(void)madvise(m, len + 1, MADV_DONTDUMP);
	plain_set(p, m, len, len + 1, NULL, 1, NULL);
	*out = p;
	return 0;
}

int agent_plain_scratch(struct agent_shield *s, size_t len,
			struct agent_plain **out)
{
	struct agent_plain *p;
	size_t head = (sizeof(*p) + ALIGN - 1) & ~(size_t)(ALIGN - 1), need;

	*out = NULL;
	if (s == NULL || len > SCRATCH_SIZE)
		return agent_plain_new(len, out);
	need = (head + len + 1 + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	if (need > SCRATCH_SIZE - s->top)
		return agent_plain_new(len, out);
	p = (struct agent_plain *)(void *)(s->scratch + s->top);
	plain_set(p, (char *)s->scratch + s->top + head, len, need, s, 0, NULL);
	s->top += need;
	s->live++;
	*out = p;
	return 0;
}

int agent_plain_large_grow(struct agent_plain *p, size_t len)
{
	void *m;

	if (!p->large || len >= SIZE_MAX / 2)
		return XO_ERR_NOMEM;
	if (len + 1 <= p->size) {
		p->len = len;
		return 0;
	}
	m = mremap(p->data, p->size, len + 1, MREMAP_MAYMOVE);
	if (m == MAP_FAILED)
		return XO_ERR_NOMEM;
	(void)madvise(m, len + 1, MADV_DONTDUMP);
	p->data = m;
	p->size = len + 1;
	p->len = len;
	p->data[len] = '\0';
	return 0;
}

int agent_plain_dup(const char *s, size_t len, struct agent_plain **out)
{
	int r;

	if ((r = agent_plain_new(len, out)) != 0)
		return r;
	memcpy((*out)->data, s, len);
	return 0;
}

void agent_plain_free(struct agent_plain *p)
{
	struct agent_shield *s;

	if (p == NULL)
		return;
	if (p->large) {
		sodium_memzero(p->data, p->size);
		munmap(p->data, p->size);
		free(p);
		return;
	}
	if (p->pooled != NULL) {
		sodium_memzero(p->data, p->size);
		if (pool.n < POOL_MAX)
			pool.buf[pool.n++] = p->pooled;
		else
			sodium_free(p->pooled);
		free(p);
		return;
	}
	if ((s = p->arena) == NULL) {
		sodium_free(p->data); /* zeroes before unmapping */
		free(p);
		return;
	}
	/* The piece, its header included, back to zeroes; the arena starts
	   again from the front once nothing in it is in use. */
	sodium_memzero(p, p->size);
	if (--s->live == 0)
		s->top = 0;
}
