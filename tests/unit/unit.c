/* Runs the one cmocka test named on the command line; see unit.h. */
#include "unit.h"

#include <stdio.h>
#include <string.h>

static int group_holds(const struct unit_group *g, const char *name)
{
	size_t i;

	for (i = 0; i < g->count; i++)
		if (g->tests[i].name != NULL &&
		    strcmp(g->tests[i].name, name) == 0)
			return 1;
	return 0;
}

int unit_run(int argc, char **argv, const struct unit_group *groups,
	     size_t ngroups)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	size_t i, held = 0;
	int failed = 0;

	if (argc > 2) {
		fprintf(stderr, "usage: %s [TEST]\n", argv[0]);
		return 2;
	}
	if (only != NULL) {
		for (i = 0; i < ngroups; i++)
			held += group_holds(&groups[i], only) ? 1 : 0;
		if (held == 0) {
			fprintf(stderr, "%s: no test named '%s'\n", argv[0],
				only);
			return 1;
		}
		/* Test names are C identifiers, so the pattern holds no
		 * wildcard and matches this one test only. */
		cmocka_set_test_filter(only);
	}
	for (i = 0; i < ngroups; i++) {
		if (only != NULL && !group_holds(&groups[i], only))
			continue;
		failed += _cmocka_run_group_tests(
		    groups[i].name, groups[i].tests, groups[i].count,
		    groups[i].setup, groups[i].teardown);
	}
	return failed != 0 ? 1 : 0;
}
