/*
 * struct agent_buf (secret/buf.h): growth bounded by max, bytes wiped
 * wherever they stop being used (growing, consuming, cleaning up), and the
 * hand-over of the bytes with take.
 *
 * malloc() and free() are wrapped (tests/unit/buf.cmake), so that every
 * block the buffer allocates is known with its size and can be looked into
 * just before it is released: a block that still holds a nonzero byte
 * there is a copy of the bytes left in the heap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include <xoauth/xo_errors.h>

#include "secret/buf.h"

#define MAX_BLOCKS 64

/* The blocks allocated while watching, and what their frees found. */
static struct {
	int active;
	struct {
		void *p;
		size_t n;
	} blocks[MAX_BLOCKS];
	size_t nblocks;
	size_t freed; /* watched blocks freed */
	size_t dirty; /* of those, blocks with a nonzero byte */
} watch;

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);
void __real_free(void *p);
void __wrap_free(void *p);

void *__wrap_malloc(size_t n)
{
	void *p = __real_malloc(n);

	if (watch.active && p != NULL && watch.nblocks < MAX_BLOCKS) {
		watch.blocks[watch.nblocks].p = p;
		watch.blocks[watch.nblocks].n = n;
		watch.nblocks++;
	}
	return p;
}

void __wrap_free(void *p)
{
	size_t i, j;

	for (i = 0; watch.active && p != NULL && i < watch.nblocks; i++) {
		if (watch.blocks[i].p != p)
			continue;
		watch.freed++;
		for (j = 0; j < watch.blocks[i].n; j++)
			if (((unsigned char *)p)[j] != 0) {
				watch.dirty++;
				break;
			}
		watch.blocks[i] = watch.blocks[--watch.nblocks];
		break;
	}
	__real_free(p);
}

static void watch_start(void)
{
	memset(&watch, 0, sizeof(watch));
	watch.active = 1;
}

static void watch_stop(void)
{
	watch.active = 0;
}

/* n bytes of a pattern with no zero byte in it. */
static void fill(unsigned char *p, size_t n, unsigned char seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(1 + (seed + i) % 250);
}

static int all_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static void growth_stops_at_max_and_leaves_the_buffer_unchanged(void **state)
{
	static unsigned char src[10000], copy[10000];
	struct agent_buf b;
	unsigned char *data;
	size_t cap, i;

	(void)state;
	fill(src, sizeof(src), 7);
	agent_buf_init(&b, sizeof(src));
	/* Doubling from the first block would pass max: it stops there. */
	for (i = 0; i < sizeof(src); i += 2500) {
		assert_int_equal(agent_buf_append(&b, src + i, 2500), 0);
		assert_true(b.cap <= b.max);
	}
	assert_int_equal(b.len, sizeof(src));
	assert_int_equal(b.cap, sizeof(src));
	data = b.data;
	cap = b.cap;
	memcpy(copy, b.data, b.len);

	assert_int_equal(agent_buf_append(&b, "x", 1), XO_ERR_MSG_TOO_LARGE);
	assert_int_equal(agent_buf_reserve(&b, sizeof(src) + 1),
			 XO_ERR_MSG_TOO_LARGE);
	assert_int_equal(agent_buf_append(&b, src, SIZE_MAX),
			 XO_ERR_MSG_TOO_LARGE);
	assert_ptr_equal(b.data, data);
	assert_int_equal(b.len, sizeof(src));
	assert_int_equal(b.cap, cap);
	assert_memory_equal(b.data, copy, sizeof(copy));

	/* Refused before it is full too: nothing is grown for a request
	   over max, and the bytes stay where they were. */
	agent_buf_cleanup(&b);
	assert_int_equal(agent_buf_append(&b, src, 100), 0);
	data = b.data;
	cap = b.cap;
	assert_int_equal(agent_buf_reserve(&b, sizeof(src) + 1),
			 XO_ERR_MSG_TOO_LARGE);
	assert_int_equal(agent_buf_append(&b, src, sizeof(src) - 99),
			 XO_ERR_MSG_TOO_LARGE);
	assert_ptr_equal(b.data, data);
	assert_int_equal(b.cap, cap);
	assert_int_equal(b.len, 100);
	assert_memory_equal(b.data, src, 100);
	agent_buf_cleanup(&b);
}

static void
consume_moves_the_rest_to_the_front_and_zeroes_past_the_end(void **state)
{
	struct agent_buf b;

	(void)state;
	agent_buf_init(&b, 64);
	assert_int_equal(agent_buf_append(&b, "0123456789abcdef", 16), 0);
	agent_buf_consume(&b, 6);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, "6789abcdef", 10);
	/* Where the last six bytes were before the move. */
	assert_true(all_zero(b.data + 10, 6));

	agent_buf_consume(&b, 100); /* more than len: all of it */
	assert_int_equal(b.len, 0);
	assert_true(all_zero(b.data, 16));
	agent_buf_cleanup(&b);
}

static void growing_leaves_no_copy_of_the_old_bytes_behind(void **state)
{
	static unsigned char src[40000];
	struct agent_buf b;
	size_t i, grown = 0, cap;

	(void)state;
	fill(src, sizeof(src), 3);
	agent_buf_init(&b, sizeof(src));
	watch_start();
	for (i = 0; i < sizeof(src); i += 1000) {
		cap = b.cap;
		assert_int_equal(agent_buf_append(&b, src + i, 1000), 0);
		if (cap != 0 && b.cap != cap)
			grown++;
	}
	watch_stop();
	/* 1024 (the first block doubled to fit), 2048, 4096, 8192, 16384,
	   32768, 40000. */
	assert_int_equal(grown, 6);
	assert_int_equal(watch.freed, grown);
	assert_int_equal(watch.dirty, 0);
	assert_memory_equal(b.data, src, sizeof(src));

	watch_start();
	watch.blocks[0].p = b.data;
	watch.blocks[0].n = b.cap;
	watch.nblocks = 1;
	agent_buf_cleanup(&b);
	watch_stop();
	assert_int_equal(watch.freed, 1);
	assert_int_equal(watch.dirty, 0);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, sizeof(src));
}

static void take_hands_over_the_bytes_and_leaves_the_buffer_empty(void **state)
{
	struct agent_buf b;
	unsigned char *data, *p;
	size_t len, cap;

	(void)state;
	watch_start();
	agent_buf_init(&b, 100);
	assert_int_equal(agent_buf_append(&b, "a refresh token", 15), 0);
	data = b.data;
	p = agent_buf_take(&b, &len, &cap);
	assert_ptr_equal(p, data);
	assert_int_equal(len, 15);
	assert_int_equal(cap, 100);
	assert_memory_equal(p, "a refresh token", 15);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_int_equal(b.max, 100);

	/* The buffer no longer owns the bytes: cleaning it up frees
	   nothing, and it can be used again. */
	agent_buf_cleanup(&b);
	assert_int_equal(watch.freed, 0);
	assert_memory_equal(p, "a refresh token", 15);
	assert_int_equal(agent_buf_append(&b, "more", 4), 0);
	assert_ptr_not_equal(b.data, p);
	agent_buf_cleanup(&b);
	assert_int_equal(watch.freed, 1);

	/* The taker frees them, wiped. */
	agent_buf_free_bytes(p, cap);
	agent_buf_free_bytes(NULL, 10);
	watch_stop();
	assert_int_equal(watch.freed, 2);
	assert_int_equal(watch.dirty, 0);
}

static void cstr_ends_the_bytes_with_a_nul_not_counted(void **state)
{
	struct agent_buf b;
	char *s;

	(void)state;
	agent_buf_init(&b, 6);
	/* Empty, yet a writable string of its own. */
	assert_non_null(s = agent_buf_cstr(&b));
	assert_string_equal(s, "");
	assert_ptr_equal(s, b.data);
	assert_int_equal(b.len, 0);

	assert_int_equal(agent_buf_append_str(&b, "abc"), 0);
	assert_int_equal(b.len, 3);
	assert_string_equal(agent_buf_cstr(&b), "abc");
	assert_int_equal(b.len, 3);
	/* An append writes over the NUL; the view is asked for again. */
	assert_int_equal(agent_buf_append_str(&b, "de"), 0);
	assert_string_equal(agent_buf_cstr(&b), "abcde");
	assert_int_equal(b.len, 5);

	/* The NUL counts against max: a full buffer has no room for it. */
	assert_int_equal(agent_buf_append_str(&b, "f"), 0);
	assert_null(agent_buf_cstr(&b));
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "abcdef", 6);
	assert_int_equal(agent_buf_append_str(&b, "g"), XO_ERR_MSG_TOO_LARGE);
	agent_buf_cleanup(&b);
}

static void appending_nothing_allocates_nothing(void **state)
{
	struct agent_buf b;

	(void)state;
	agent_buf_init(&b, 8);
	/* An empty value (a "code=" with nothing after it, say) on a buffer
	   that has no block yet: under UBSan a memcpy() to NULL fails. */
	assert_int_equal(agent_buf_append(&b, NULL, 0), 0);
	assert_int_equal(agent_buf_append_str(&b, ""), 0);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	assert_string_equal(agent_buf_cstr(&b), "");
	agent_buf_cleanup(&b);
}

static void
advance_counts_what_was_written_at_the_tail_up_to_the_room(void **state)
{
	struct agent_buf b;
	unsigned char *t;
	size_t room;

	(void)state;
	agent_buf_init(&b, 16);
	assert_null(agent_buf_tail(&b, &room));
	assert_int_equal(room, 0);
	assert_int_equal(agent_buf_reserve(&b, 16), 0);
	assert_non_null(t = agent_buf_tail(&b, &room));
	assert_int_equal(room, 16);
	memcpy(t, "hello", 5);
	agent_buf_advance(&b, 5);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "hello", 5);
	assert_ptr_equal(agent_buf_tail(&b, &room), b.data + 5);
	assert_int_equal(room, 11);
	agent_buf_advance(&b, 100);
	assert_int_equal(b.len, 16);
	agent_buf_cleanup(&b);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
		growth_stops_at_max_and_leaves_the_buffer_unchanged),
	    cmocka_unit_test(
		consume_moves_the_rest_to_the_front_and_zeroes_past_the_end),
	    cmocka_unit_test(growing_leaves_no_copy_of_the_old_bytes_behind),
	    cmocka_unit_test(
		take_hands_over_the_bytes_and_leaves_the_buffer_empty),
	    cmocka_unit_test(cstr_ends_the_bytes_with_a_nul_not_counted),
	    cmocka_unit_test(appending_nothing_allocates_nothing),
	    cmocka_unit_test(
		advance_counts_what_was_written_at_the_tail_up_to_the_room),
	};

	const struct unit_group groups[] = {
	    UNIT_GROUP("buf", tests, NULL, NULL),
	};

	if (sodium_init() < 0)
		return 1;
	return unit_run(argc, argv, groups, 1);
}
