/* The names a change of the vault concerns (vault/pure/names.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit.h"

#include "vault/pure/names.h"

static void add_all(struct vault_names *l, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		assert_int_equal(vault_names_add(l, names[i]), 0);
}

static void an_empty_list_sorts_and_holds_nothing(void **state)
{
	struct vault_names l = {0};

	(void)state;
	vault_names_sort(&l);
	assert_int_equal(l.n, 0);
	assert_false(vault_names_has(&l, "work"));
	vault_names_free(&l);
}

static void an_account_changed_many_times_is_named_once(void **state)
{
	static const char *const changes[] = {"work",  "home", "work",
					      "lists", "home", "work"};
	struct vault_names l = {0};

	(void)state;
	add_all(&l, changes, 6);
	vault_names_sort(&l);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.names[0], "home");
	assert_string_equal(l.names[1], "lists");
	assert_string_equal(l.names[2], "work");
	assert_true(vault_names_has(&l, "lists"));
	assert_false(vault_names_has(&l, "wor"));
	vault_names_free(&l);
}

static void names_are_copies(void **state)
{
	char name[] = "work";
	struct vault_names l = {0};

	(void)state;
	assert_int_equal(vault_names_add(&l, name), 0);
	name[0] = 'f';
	assert_string_equal(l.names[0], "work");
	vault_names_free(&l);
}

static void a_cleared_list_keeps_its_room_and_takes_new_names(void **state)
{
	static const char *const many[] = {"a", "b", "c", "d", "e", "f",
					   "g", "h", "i", "j", "k", "l",
					   "m", "n", "o", "p", "q"};
	struct vault_names l = {0};
	size_t cap;

	(void)state;
	add_all(&l, many, 17);
	cap = l.cap;
	assert_true(cap >= 17);
	vault_names_clear(&l);
	assert_int_equal(l.n, 0);
	assert_int_equal(l.cap, cap);
	assert_false(vault_names_has(&l, "a"));
	add_all(&l, many + 16, 1);
	vault_names_sort(&l);
	assert_true(vault_names_has(&l, "q"));
	vault_names_free(&l);
	assert_null(l.names);
	assert_int_equal(l.cap, 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(an_empty_list_sorts_and_holds_nothing),
	    cmocka_unit_test(an_account_changed_many_times_is_named_once),
	    cmocka_unit_test(names_are_copies),
	    cmocka_unit_test(a_cleared_list_keeps_its_room_and_takes_new_names),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("vault_names", tests, NULL, NULL),
	};

	return unit_run(argc, argv, groups, 1);
}
