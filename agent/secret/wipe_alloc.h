/*
 * wipe_alloc.h: an allocator that wipes every block it frees, for the
 * libraries that hold our tokens in memory of their own: libcurl (its
 * request buffer carries the form with the refresh token, its download
 * buffer the reply with both tokens), OpenSSL (TLS records are decrypted in
 * place in its read buffer) and jansson (parsed replies).  glibc's free()
 * leaves a block's contents in the heap, where they stay until reused.
 *
 * Each block carries its size in a header aligned like malloc's own
 * result, so free and realloc know how much to wipe.  The functions are
 * drop-in replacements for malloc, free, realloc, calloc and strdup, and
 * must only ever see blocks they allocated themselves.
 */
#ifndef XO_SECRET_WIPE_ALLOC_H
#define XO_SECRET_WIPE_ALLOC_H

#include <stddef.h>

void *agent_wipe_malloc(size_t n);
/* Wipes the whole block, then frees it; NULL is a no-op. */
void agent_wipe_free(void *p);
/* Never leaves an unwiped copy behind: a new block, the bytes copied, the
   old block wiped and freed.  realloc(p, 0) frees p and returns NULL. */
void *agent_wipe_realloc(void *p, size_t n);
void *agent_wipe_calloc(size_t nmemb, size_t size);
char *agent_wipe_strdup(const char *s);

/*
 * Makes OpenSSL and libcurl allocate with the functions above and
 * initialises libcurl (curl_global_init_mem() in place of
 * curl_global_init()).  OpenSSL accepts new functions only before its
 * first allocation, so this must run before anything uses OpenSSL or
 * libcurl, single-threaded.  Returns 0, or XO_ERR_INTERNAL when either
 * library refused (then nothing should hold tokens in this process).
 */
int agent_wipe_alloc_install(void);

#endif
