/*
 * buf.c: bounded buffers that wipe every byte they held (buf.h).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "secret/buf.h"

/* The first block: small, since every idle connection holds one and there
   may be tens of thousands of them; token requests still fit in it.  A
   larger need gets its size at once, and growth doubles from here. */
#define FIRST_CAP 256

void agent_buf_init(struct agent_buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

void agent_buf_free_bytes(unsigned char *p, size_t cap)
{
	if (p == NULL)
		return;
	sodium_memzero(p, cap);
	free(p);
}

void agent_buf_cleanup(struct agent_buf *b)
{
	agent_buf_free_bytes(b->data, b->cap);
	b->data = NULL;
	b->len = b->cap = 0;
}

int agent_buf_reserve(struct agent_buf *b, size_t need)
{
	unsigned char *nb;
	size_t cap;

	if (need <= b->cap)
		return 0;
	if (need > b->max)
		return XO_ERR_MSG_TOO_LARGE;
	/* Doubling keeps appends linear; the cap keeps it bounded. */
	cap = b->cap > 0 ? b->cap : FIRST_CAP;
	while (cap < need)
		cap = cap > b->max / 2 ? b->max : cap * 2;
	if (cap > b->max)
		cap = b->max;
	if ((nb = malloc(cap)) == NULL)
		return XO_ERR_NOMEM;
	if (b->len > 0)
		memcpy(nb, b->data, b->len);
	agent_buf_free_bytes(b->data, b->cap);
	b->data = nb;
	b->cap = cap;
	return 0;
}

int agent_buf_append(struct agent_buf *b, const void *p, size_t n)
{
	int r;

	if (n > b->max - b->len)
		return XO_ERR_MSG_TOO_LARGE;
	/* Nothing to add: an empty buffer stays without a block, and
	   memcpy() is not handed its NULL. */
	if (n == 0)
		return 0;
	if ((r = agent_buf_reserve(b, b->len + n)) != 0)
		return r;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int agent_buf_append_str(struct agent_buf *b, const char *s)
{
	return agent_buf_append(b, s, strlen(s));
}

char *agent_buf_cstr(struct agent_buf *b)
{
	if (b->len >= b->max || agent_buf_reserve(b, b->len + 1) != 0)
		return NULL;
	b->data[b->len] = '\0';
	return (char *)b->data;
}

void agent_buf_consume(struct agent_buf *b, size_t n)
{
	if (n > b->len)
		n = b->len;
	if (n == 0)
		return;
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	/* The moved bytes' old places, now past the end. */
	sodium_memzero(b->data + b->len, n);
}

unsigned char *agent_buf_tail(struct agent_buf *b, size_t *room)
{
	*room = b->cap - b->len;
	return b->data != NULL ? b->data + b->len : NULL;
}

void agent_buf_advance(struct agent_buf *b, size_t n)
{
	b->len += n < b->cap - b->len ? n : b->cap - b->len;
}

unsigned char *agent_buf_take(struct agent_buf *b, size_t *len, size_t *cap)
{
	unsigned char *p = b->data;

	*len = b->len;
	*cap = b->cap;
	b->data = NULL;
	b->len = b->cap = 0; /* transferred */
	return p;
}
