/*
 * names.h: a list of account names, each a copy: the accounts a change
 * of the vault concerns, noted as changes come and taken into the next
 * record of the journal (vault/write.c, vault/records.c).  Many changes
 * in one turn of the loop may name the same account; vault_names_sort()
 * keeps each name once, and vault_names_has() then finds one by
 * bisection.  Pure, so that it is tested on its own.
 */
#ifndef XO_VAULT_PURE_NAMES_H
#define XO_VAULT_PURE_NAMES_H

#include <stdbool.h>
#include <stddef.h>

struct vault_names {
	char **names; /* NULL until the first name */
	size_t n, cap;
};

/* Adds a copy of name; 0, or XO_ERR_NOMEM with the list as it was. */
int vault_names_add(struct vault_names *l, const char *name);
/* Sorts the names and keeps each once. */
void vault_names_sort(struct vault_names *l);
/* True when a list sorted by vault_names_sort() holds name. */
bool vault_names_has(const struct vault_names *l, const char *name);
/* Empties the list, keeping its room for the next names. */
void vault_names_clear(struct vault_names *l);
/* Empties the list and frees its room. */
void vault_names_free(struct vault_names *l);

#endif
