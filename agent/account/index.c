/*
 * index.c: the store's list of accounts (and a walk of it spread over
 * turns of the loop), and the accounts found by name and by address
 * without walking it.  An agent may hold 100,000 accounts (a
 * web application's users): every TOKEN names one, every ADD must clash
 * with none, and a vault's load adds them all, so none of that may be a
 * walk of the list.
 *
 * Three chained hash tables over links kept in struct account:
 *
 *   IDX_NAME   the name, exactly (account_find, account_find_named)
 *   IDX_LNAME  the name without case (ADD's clash of an address with a
 *              name)
 *   IDX_EMAIL  the address without case (account_find, ADD's clash)
 *
 * A key may name several accounts (two addresses the config file gives
 * twice, names that differ in case): a lookup walks its chain and takes
 * the account first in the list (the lowest `seq`), as the walk of the
 * list used to.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "account/account_internal.h"

#define BUCKETS_MIN 64

/* FNV-1a, folded to lower case for the tables that ignore it. */
static size_t hash(const char *s, size_t len, bool fold)
{
	uint64_t h = 14695981039346656037ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= fold ? (unsigned char)tolower((unsigned char)s[i])
			  : (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return (size_t)h;
}

static const char *key_of(const struct account *acct, int idx)
{
	return idx == IDX_EMAIL ? acct->email : acct->cfg.name;
}

static bool folds(int idx)
{
	return idx != IDX_NAME;
}

static struct account **bucket(struct account_index *x, int idx,
			       const char *key, size_t len)
{
	return &x->b[idx][hash(key, len, folds(idx)) & (x->nb - 1)];
}

static void link_one(struct account_index *x, int idx, struct account *acct)
{
	const char *key = key_of(acct, idx);
	struct account **b;

	if (key == NULL)
		return;
	b = bucket(x, idx, key, strlen(key));
	acct->idx_next[idx] = *b;
	*b = acct;
}

static void unlink_one(struct account_index *x, int idx, struct account *acct)
{
	const char *key = key_of(acct, idx);
	struct account **pp;

	if (key == NULL || x->nb == 0)
		return;
	for (pp = bucket(x, idx, key, strlen(key)); *pp != NULL;
	     pp = &(*pp)->idx_next[idx])
		if (*pp == acct) {
			*pp = acct->idx_next[idx];
			acct->idx_next[idx] = NULL;
			return;
		}
}

/* Twice the buckets, every account linked again; false when out of
   memory (the old tables stay, longer chains but right). */
static bool grow(struct account_store *s)
{
	struct account_index *x = &s->index;
	size_t nb = x->nb ? x->nb * 2 : BUCKETS_MIN;
	struct account **b[IDX_N];
	struct account *acct;
	int idx;

	for (idx = 0; idx < IDX_N; idx++)
		if ((b[idx] = calloc(nb, sizeof(*b[idx]))) == NULL) {
			while (idx-- > 0)
				free(b[idx]);
			return false;
		}
	for (idx = 0; idx < IDX_N; idx++) {
		free(x->b[idx]);
		x->b[idx] = b[idx];
	}
	x->nb = nb;
	for (acct = s->accounts; acct != NULL; acct = acct->next)
		if (acct->indexed)
			for (idx = 0; idx < IDX_N; idx++)
				link_one(x, idx, acct);
	return true;
}

static void index_add(struct account_store *s, struct account *acct)
{
	struct account_index *x = &s->index;
	int idx;

	/* A failed growth keeps the old tables (account_index_init() made
	   the first): longer chains, the same answers. */
	if (x->n + 1 > x->nb)
		(void)grow(s);
	for (idx = 0; idx < IDX_N; idx++)
		link_one(x, idx, acct);
	acct->indexed = true;
	x->n++;
}

static void index_remove(struct account_store *s, struct account *acct)
{
	int idx;

	if (!acct->indexed)
		return;
	for (idx = 0; idx < IDX_N; idx++)
		unlink_one(&s->index, idx, acct);
	acct->indexed = false;
	s->index.n--;
}

int account_index_init(struct account_store *s)
{
	return grow(s) ? 0 : XO_ERR_NOMEM;
}

void account_store_append(struct account_store *s, struct account *acct)
{
	acct->store = s;
	acct->next = NULL;
	acct->prev = s->last;
	if (s->last != NULL)
		s->last->next = acct;
	else
		s->accounts = acct;
	s->last = acct;
	acct->seq = ++s->next_seq;
	index_add(s, acct);
	/* A walk that had reached the end goes on with it. */
	if (s->walking && s->walk_next == NULL)
		s->walk_next = acct;
}

void account_unlink(struct account_store *s, struct account *acct)
{
	index_remove(s, acct);
	/* The walk goes on from the account after it, which stays. */
	if (s->walk_next == acct)
		s->walk_next = acct->next;
	if (acct->prev != NULL)
		acct->prev->next = acct->next;
	else
		s->accounts = acct->next;
	if (acct->next != NULL)
		acct->next->prev = acct->prev;
	else
		s->last = acct->prev;
	acct->next = acct->prev = NULL;
}

void account_store_relink(struct account_store *s)
{
	struct account *acct, *prev = NULL;
	int idx;

	for (idx = 0; idx < IDX_N; idx++)
		if (s->index.b[idx] != NULL)
			memset(s->index.b[idx], 0,
			       s->index.nb * sizeof(*s->index.b[idx]));
	s->index.n = 0;
	for (acct = s->accounts; acct != NULL; acct = acct->next) {
		acct->indexed = false;
		acct->prev = prev;
		acct->seq = ++s->next_seq;
		prev = acct;
	}
	s->last = prev;
	for (acct = s->accounts; acct != NULL; acct = acct->next)
		index_add(s, acct);
	/* The list is a new one (a reload frees the accounts it left out,
	   the walk's next among them maybe, and puts others in their
	   place): a walk under way starts again from its first account. */
	if (s->walking) {
		s->walk_next = s->accounts;
		s->walk_restarts++;
	}
}

void account_walk_start(struct account_store *s)
{
	s->walking = true;
	s->walk_next = s->accounts;
	s->walk_restarts = 0;
}

struct account *account_walk_next(struct account_store *s)
{
	struct account *acct = s->walk_next;

	if (acct != NULL)
		s->walk_next = acct->next;
	return acct;
}

unsigned account_walk_restarts(const struct account_store *s)
{
	return s->walk_restarts;
}

void account_walk_end(struct account_store *s)
{
	s->walking = false;
	s->walk_next = NULL;
	s->walk_restarts = 0;
}

size_t account_store_size(const struct account_store *s)
{
	return s->index.n;
}

void account_index_free(struct account_store *s)
{
	int idx;

	for (idx = 0; idx < IDX_N; idx++) {
		free(s->index.b[idx]);
		s->index.b[idx] = NULL;
	}
	s->index.nb = s->index.n = 0;
}

void account_set_email(struct account *acct, char *email)
{
	struct account_store *s = acct->store;
	bool indexed = acct->indexed;

	if (indexed)
		unlink_one(&s->index, IDX_EMAIL, acct);
	free(acct->email);
	acct->email = email;
	if (indexed)
		link_one(&s->index, IDX_EMAIL, acct);
}

struct account *account_index_find(struct account_store *s, int idx,
				   const char *key, size_t len,
				   const struct account *self,
				   bool runtime_only)
{
	struct account_index *x = &s->index;
	struct account *acct, *best = NULL;
	const char *k;

	if (key == NULL || x->nb == 0)
		return NULL;
	for (acct = *bucket(x, idx, key, len); acct != NULL;
	     acct = acct->idx_next[idx]) {
		k = key_of(acct, idx);
		if (k == NULL || acct == self ||
		    (runtime_only && !acct->runtime) || strlen(k) != len ||
		    (folds(idx) ? strncasecmp(k, key, len)
				: memcmp(k, key, len)) != 0)
			continue;
		if (best == NULL || acct->seq < best->seq)
			best = acct;
	}
	return best;
}
