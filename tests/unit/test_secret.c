/*
 * The shield (secret/secret.c): secrets open into the scratch arena and
 * are wiped there when freed, the arena gives way to buffers of their
 * own when full, and the key is readable only from a use until
 * agent_shield_close().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit.h"

#include <string.h>

#include <sodium.h>

#include "proto.h"
#include "secret/sasl.h"
#include "secret/secret.h"

#define TOKEN "an-access-token-of-some-length-0123456789"

static int setup(void **state)
{
	struct agent_shield *s = NULL;

	if (agent_shield_new(&s) != 0)
		return -1;
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	agent_shield_free(*state);
	return 0;
}

static struct agent_secret *sealed(struct agent_shield *s, const char *text)
{
	struct agent_secret *sec = NULL;

	assert_int_equal(agent_secret_seal(s, text, strlen(text), &sec), 0);
	return sec;
}

static int all_zero(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static void opened_secret_is_wiped_in_the_arena_when_freed(void **state)
{
	struct agent_shield *s = *state;
	struct agent_secret *sec = sealed(s, TOKEN);
	struct agent_plain *p = NULL;
	char *where;

	assert_int_equal(agent_secret_open(s, sec, &p), 0);
	assert_ptr_equal(p->arena, s);
	assert_int_equal(p->len, strlen(TOKEN));
	assert_memory_equal(p->data, TOKEN, p->len + 1);
	where = p->data;
	agent_plain_free(p);
	/* The arena stays mapped: the bytes where the token was are 0. */
	assert_true(all_zero(where, strlen(TOKEN) + 1));
	/* Nothing in use: the next piece starts where the first did. */
	assert_int_equal(agent_secret_open(s, sec, &p), 0);
	assert_ptr_equal(p->data, where);
	agent_plain_free(p);
	agent_secret_free(sec);
}

/* A secret opened straight into the caller's buffer (a reply frame)
   takes nothing from the arena; a buffer of another length is refused
   and not written. */
static void secret_opens_into_a_buffer_of_the_callers(void **state)
{
	struct agent_shield *s = *state;
	struct agent_secret *sec = sealed(s, TOKEN);
	struct agent_plain *p = NULL;
	char buf[sizeof(TOKEN)], *first;

	assert_int_equal(agent_secret_open(s, sec, &p), 0);
	first = p->data;
	agent_plain_free(p);
	memset(buf, '-', sizeof(buf));
	assert_int_equal(
	    agent_secret_open_to(s, sec, (unsigned char *)buf, strlen(TOKEN)),
	    0);
	assert_memory_equal(buf, TOKEN, strlen(TOKEN));
	assert_int_equal(buf[strlen(TOKEN)], '-');
	/* The arena was not used: its next piece is still its first. */
	assert_int_equal(agent_secret_open(s, sec, &p), 0);
	assert_ptr_equal(p->data, first);
	agent_plain_free(p);
	memset(buf, '-', sizeof(buf));
	assert_int_equal(agent_secret_open_to(s, sec, (unsigned char *)buf,
					      strlen(TOKEN) - 1),
			 XO_ERR_INVALID);
	assert_int_equal(buf[0], '-');
	agent_secret_free(sec);
}

static void full_arena_gives_buffers_of_their_own(void **state)
{
	struct agent_shield *s = *state;
	static char big[20000];
	struct agent_secret *sec;
	struct agent_plain *p[8];
	size_t i, own = 0;

	memset(big, 'x', sizeof(big) - 1);
	sec = sealed(s, big);
	/* 64 KiB of arena holds three of these, not eight. */
	for (i = 0; i < 8; i++) {
		assert_int_equal(agent_secret_open(s, sec, &p[i]), 0);
		assert_memory_equal(p[i]->data, big, sizeof(big));
		own += p[i]->arena == NULL;
	}
	assert_int_equal(own, 5);
	for (i = 0; i < 8; i++)
		agent_plain_free(p[i]);
	/* Freed in any order, the arena is whole again. */
	assert_int_equal(agent_secret_open(s, sec, &p[0]), 0);
	assert_ptr_equal(p[0]->arena, s);
	agent_plain_free(p[0]);
	agent_secret_free(sec);
}

static void sasl_string_is_built_in_the_arena(void **state)
{
	struct agent_shield *s = *state;
	struct agent_secret *sec = sealed(s, TOKEN);
	struct agent_plain *token = NULL, *b64 = NULL;
	char *where;
	size_t len;

	assert_int_equal(agent_secret_open(s, sec, &token), 0);
	assert_int_equal(agent_sasl_build(s, PROTO_FORM_XOAUTH2,
					  "a@example.com", "", 0, token, &b64),
			 0);
	assert_ptr_equal(b64->arena, s);
	where = b64->data;
	len = b64->len;
	agent_plain_free(token);
	agent_plain_free(b64);
	assert_true(all_zero(where, len));
	agent_secret_free(sec);
}

static void key_is_readable_from_a_use_until_closed(void **state)
{
	struct agent_shield *s = *state;
	struct agent_secret *sec;
	struct agent_plain *p = NULL;

	agent_shield_close(s);
	assert_false(agent_shield_is_open(s));
	sec = sealed(s, TOKEN);
	assert_true(agent_shield_is_open(s));
	agent_shield_close(s);
	assert_false(agent_shield_is_open(s));
	/* Opening after the close makes it readable again, and works. */
	assert_int_equal(agent_secret_open(s, sec, &p), 0);
	assert_true(agent_shield_is_open(s));
	assert_memory_equal(p->data, TOKEN, p->len);
	agent_plain_free(p);
	agent_shield_close(s);
	agent_shield_close(s); /* twice is fine */
	assert_false(agent_shield_is_open(s));
	agent_secret_free(sec);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		opened_secret_is_wiped_in_the_arena_when_freed, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(
		full_arena_gives_buffers_of_their_own, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		secret_opens_into_a_buffer_of_the_callers, setup, teardown),
	    cmocka_unit_test_setup_teardown(sasl_string_is_built_in_the_arena,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		key_is_readable_from_a_use_until_closed, setup, teardown),
	};
	const struct unit_group groups[] = {
	    UNIT_GROUP("secret", tests, NULL, NULL),
	};

	if (sodium_init() < 0)
		return 1;
	return unit_run(argc, argv, groups, 1);
}
