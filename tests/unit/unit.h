/*
 * One cmocka test per process.
 *
 * tests/CMakeLists.txt registers every test of a unit-test program as a
 * ctest entry of its own and runs the program with that test's name as its
 * only argument, so that a test that crashes, hangs or leaves state behind
 * takes only itself down (STYLE.md, rule 14). Run by hand with no argument,
 * the program runs all its tests, as cmocka usually does.
 */
#ifndef XO_TESTS_UNIT_H
#define XO_TESTS_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* A cmocka group: its tests and the fixtures run once around them. */
struct unit_group {
	const char *name;
	const struct CMUnitTest *tests;
	size_t count;
	CMFixtureFunction setup;
	CMFixtureFunction teardown;
};

#define UNIT_GROUP(name, tests, setup, teardown)                               \
	{                                                                      \
		(name), (tests), sizeof(tests) / sizeof((tests)[0]), (setup),  \
		    (teardown)                                                 \
	}

/*
 * Runs the groups' tests: all of them when argv names none, else only the
 * test named by argv[1], and only the group holding it (so a group's
 * fixtures do not run for another group's test). Returns the exit status
 * for main: 0 when every test run passed, 1 when one failed or when argv
 * names a test that none of the groups holds (so a ctest entry whose test
 * was renamed or removed fails rather than passing on no test), 2 on a
 * usage error.
 */
int unit_run(int argc, char **argv, const struct unit_group *groups,
	     size_t ngroups);

#endif
