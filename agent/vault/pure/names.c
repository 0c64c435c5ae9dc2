/*
 * names.c: a list of account names (names.h).
 */
#include "vault/pure/names.h"

#include <stdlib.h>
#include <string.h>

#include "proto.h"

int vault_names_add(struct vault_names *l, const char *name)
{
	char **more;
	size_t cap;

	if (l->n == l->cap) {
		cap = l->cap == 0 ? 16 : l->cap * 2;
		if ((more = realloc(l->names, cap * sizeof(*more))) == NULL)
			return XO_ERR_NOMEM;
		l->names = more;
		l->cap = cap;
	}
	if ((l->names[l->n] = strdup(name)) == NULL)
		return XO_ERR_NOMEM;
	l->n++;
	return 0;
}

static int by_name(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

void vault_names_sort(struct vault_names *l)
{
	size_t i, n = 0;

	if (l->n == 0)
		return; /* names may be NULL, which qsort() must not get */
	qsort(l->names, l->n, sizeof(*l->names), by_name);
	for (i = 0; i < l->n; i++) {
		if (n > 0 && strcmp(l->names[n - 1], l->names[i]) == 0) {
			free(l->names[i]);
			continue;
		}
		l->names[n++] = l->names[i];
	}
	l->n = n;
}

bool vault_names_has(const struct vault_names *l, const char *name)
{
	/* bsearch() must not get a NULL array either. */
	return l->n > 0 && bsearch(&name, l->names, l->n, sizeof(*l->names),
				   by_name) != NULL;
}

void vault_names_clear(struct vault_names *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->names[i]);
	l->n = 0;
}

void vault_names_free(struct vault_names *l)
{
	vault_names_clear(l);
	free(l->names);
	l->names = NULL;
	l->cap = 0;
}
