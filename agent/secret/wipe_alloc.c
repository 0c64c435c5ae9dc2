/* wipe_alloc.c: malloc and friends that wipe what they free; see
   wipe_alloc.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "secret/wipe_alloc.h"

/* The header keeps the user's block aligned as malloc's result is. */
#define HDR sizeof(max_align_t)

static size_t block_size(void *p)
{
	size_t n;

	memcpy(&n, (unsigned char *)p - HDR, sizeof(n));
	return n;
}

void *agent_wipe_malloc(size_t n)
{
	unsigned char *p;

	if (n > SIZE_MAX - HDR)
		return NULL;
	if ((p = malloc(n + HDR)) == NULL)
		return NULL;
	memcpy(p, &n, sizeof(n));
	return p + HDR;
}

void agent_wipe_free(void *p)
{
	unsigned char *base;

	if (p == NULL)
		return;
	base = (unsigned char *)p - HDR;
	sodium_memzero(base, block_size(p) + HDR);
	free(base);
}

void *agent_wipe_realloc(void *p, size_t n)
{
	void *q;
	size_t old;

	if (p == NULL)
		return agent_wipe_malloc(n);
	if (n == 0) {
		agent_wipe_free(p);
		return NULL;
	}
	old = block_size(p);
	if ((q = agent_wipe_malloc(n)) == NULL)
		return NULL; /* p is left as it was, as realloc() does */
	memcpy(q, p, old < n ? old : n);
	agent_wipe_free(p);
	return q;
}

void *agent_wipe_calloc(size_t nmemb, size_t size)
{
	void *p;

	if (size != 0 && nmemb > SIZE_MAX / size)
		return NULL;
	if ((p = agent_wipe_malloc(nmemb * size)) != NULL)
		memset(p, 0, nmemb * size);
	return p;
}

char *agent_wipe_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d;

	if ((d = agent_wipe_malloc(n)) != NULL)
		memcpy(d, s, n);
	return d;
}

/* OpenSSL's allocator hooks also pass the caller's file and line. */
static void *ossl_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return agent_wipe_malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return agent_wipe_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	agent_wipe_free(p);
}

int agent_wipe_alloc_install(void)
{
	/* CRYPTO_set_mem_functions(): "only possible before any allocation
	   has been made", and it returns 0 then.  libcurl initialises
	   OpenSSL in curl_global_init_mem(), so OpenSSL comes first. */
	if (CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) != 1)
		return XO_ERR_INTERNAL;
	if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, agent_wipe_malloc,
				 agent_wipe_free, agent_wipe_realloc,
				 agent_wipe_strdup,
				 agent_wipe_calloc) != CURLE_OK)
		return XO_ERR_INTERNAL;
	return 0;
}
