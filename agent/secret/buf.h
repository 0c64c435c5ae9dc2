/*
 * buf.h: a buffer for bytes that may be secret while they travel: a
 * request or reply frame, an HTTP body, the browser's redirect request, an
 * authorization code on its way to the token endpoint.
 *
 * Its growth is bounded by the max given at init (STYLE.md rule 7), and
 * every byte it ever held is wiped: when it grows (the old block is wiped
 * before it is freed), when bytes are consumed from its front, and when it
 * is cleaned up.  So no code that uses one keeps its own sodium_memzero()
 * bookkeeping.  Plain heap memory: for secrets at rest use secret.h.
 */
#ifndef XO_SECRET_BUF_H
#define XO_SECRET_BUF_H

#include <stddef.h>

struct agent_buf {
	unsigned char *data; /* NULL until the first byte; cap bytes */
	size_t len;	     /* bytes in use */
	size_t cap;	     /* bytes allocated */
	size_t max;	     /* the most cap may ever be */
};

/* An empty buffer that may grow to max bytes; allocates nothing. */
void agent_buf_init(struct agent_buf *b, size_t max);
/* Wipes and frees the bytes; b is empty again (max kept).  A buffer that
   was never used, or was taken, is a no-op. */
void agent_buf_cleanup(struct agent_buf *b);

/*
 * Makes room for at least need bytes in all (len included).  0, or
 * XO_ERR_MSG_TOO_LARGE when need is over max (nothing changes), or
 * XO_ERR_NOMEM.  Growing copies into a new block and wipes the old one,
 * so realloc() never leaves a copy behind.
 */
int agent_buf_reserve(struct agent_buf *b, size_t need);
/* Appends n bytes (reserving as above); 0 or the same errors. */
int agent_buf_append(struct agent_buf *b, const void *p, size_t n);
/* Appends the bytes of the C string s, without its NUL; as append. */
int agent_buf_append_str(struct agent_buf *b, const char *s);
/*
 * The bytes as a C string: a NUL is written after them, not counted in
 * len, so the next append writes over it (ask again after appending).  An
 * empty buffer gets a block too, so the string is always writable.  NULL
 * when the NUL does not fit under max (len == max) or memory is short.
 */
char *agent_buf_cstr(struct agent_buf *b);
/* Drops the first n bytes (at most len), wiping what moves and what is
   left behind. */
void agent_buf_consume(struct agent_buf *b, size_t n);
/* Room left at the end before cap: where a read may land. */
unsigned char *agent_buf_tail(struct agent_buf *b, size_t *room);
/* Counts n more bytes as in use: those a read or a decoder wrote at
   agent_buf_tail().  More than the room there is cut to it. */
void agent_buf_advance(struct agent_buf *b, size_t n);

/*
 * Hands the bytes out: *len gets b->len and the caller owns the block
 * (free it with agent_buf_free_bytes(), which wipes cap bytes, given in
 * *cap).  b is empty afterwards.
 */
unsigned char *agent_buf_take(struct agent_buf *b, size_t *len, size_t *cap);
/* Wipes cap bytes at p and frees them; NULL is a no-op. */
void agent_buf_free_bytes(unsigned char *p, size_t cap);

#endif
