/*
 * test_arena.c - arenas: zeroed aligned blocks, big blocks, strings,
 * cleanups in reverse order
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "testutil.h"

static int order[8];
static int norder;

/* record - a cleanup that notes its argument */
static void
record(void *arg)
{
	order[norder++] = *(int *)arg;
}

/* test_create_destroy - destroy clears the pointer and takes NULL */
static void
test_create_destroy(void **state)
{
	struct arena *a = arena_create(), *none = NULL;

	(void)state;
	assert_non_null(a);
	assert_int_equal(arena_used(a), 0);
	arena_destroy(&a);
	assert_null(a);
	arena_destroy(&none);		/* destroying nothing is fine */
	assert_null(none);
}

/* test_cleanups_reverse - cleanups run last first, at destroy only */
static void
test_cleanups_reverse(void **state)
{
	static int ids[] = { 1, 2, 3 };
	struct arena *a = arena_create();

	(void)state;
	norder = 0;
	arena_cleanup(a, record, &ids[0]);
	(void)arena_alloc(a, 100000);	/* cleanups survive new chunks */
	arena_cleanup(a, record, &ids[1]);
	arena_cleanup(a, record, &ids[2]);
	assert_int_equal(norder, 0);
	arena_destroy(&a);
	assert_int_equal(norder, 3);
	assert_int_equal(order[0], 3);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 1);
}

/* test_alignment_and_zero - every block is 16-byte aligned and zeroed */
static void
test_alignment_and_zero(void **state)
{
	struct arena *a = arena_create();
	unsigned char *p;
	size_t size, i;

	(void)state;
	for (size = 0; size < 300; size++) {
		p = arena_alloc(a, size);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
		for (i = 0; i < size; i++)
			assert_int_equal(p[i], 0);
		memset(p, 0xee, size);	/* dirty it for the next block */
	}
	arena_destroy(&a);
}

/* test_used - arena_used counts rounded blocks; size 0 gets its own block */
static void
test_used(void **state)
{
	struct arena *a = arena_create();
	void *p, *q;

	(void)state;
	p = arena_alloc(a, 1);
	assert_int_equal(arena_used(a), 16);
	q = arena_alloc(a, 0);		/* a distinct block even for 0 */
	assert_ptr_not_equal(p, q);
	assert_int_equal(arena_used(a), 32);
	(void)arena_alloc(a, 17);
	assert_int_equal(arena_used(a), 64);
	arena_destroy(&a);
}

/* test_big_blocks - big blocks get own chunks without disturbing small ones */
static void
test_big_blocks(void **state)
{
	struct arena *a = arena_create();
	unsigned char *small1, *big, *small2, *huge;
	size_t i;

	(void)state;
	small1 = arena_alloc(a, 32);
	memset(small1, 1, 32);
	big = arena_alloc(a, 1000);	/* over a quarter of the first chunk */
	memset(big, 2, 1000);
	small2 = arena_alloc(a, 32);
	memset(small2, 3, 32);
	huge = arena_alloc(a, 4 << 20);
	for (i = 0; i < (size_t)4 << 20; i += 4096)
		assert_int_equal(huge[i], 0);
	memset(huge, 4, (size_t)4 << 20);
	for (i = 0; i < 32; i++) {
		assert_int_equal(small1[i], 1);
		assert_int_equal(small2[i], 3);
	}
	for (i = 0; i < 1000; i++)
		assert_int_equal(big[i], 2);
	assert_true(arena_used(a) >= 32 + 1000 + 32 + (4 << 20));
	arena_destroy(&a);
}

/* test_many_blocks - thousands of blocks of mixed sizes never overlap */
static void
test_many_blocks(void **state)
{
	struct arena *a = arena_create();
	unsigned char *blocks[2000];
	size_t i, j, size;

	(void)state;
	for (i = 0; i < 2000; i++) {
		size = (i * 37) % 5000;
		blocks[i] = arena_alloc(a, size + 1);
		memset(blocks[i], (int)(i & 0xff), size + 1);
	}
	/* no block overlaps another */
	for (i = 0; i < 2000; i++) {
		size = (i * 37) % 5000;
		for (j = 0; j <= size; j++)
			assert_int_equal(blocks[i][j], i & 0xff);
	}
	arena_destroy(&a);
}

/* vformat - arena_vprintf through a variadic wrapper */
static char *
vformat(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

/* test_strings - strdup, strndup, memdup, printf and vprintf copies */
static void
test_strings(void **state)
{
	struct arena *a = arena_create();
	char long_text[5000];
	const char *src = "hello";
	char *p;

	(void)state;
	p = arena_strdup(a, src);
	assert_string_equal(p, "hello");
	assert_ptr_not_equal(p, src);
	assert_null(arena_strdup(a, NULL));
	assert_string_equal(arena_strndup(a, "hello", 3), "hel");
	assert_string_equal(arena_strndup(a, "hi", 10), "hi");
	p = arena_memdup(a, "a\0b", 3);
	assert_memory_equal(p, "a\0b\0", 4);
	assert_string_equal(arena_memdup(a, "", 0), "");
	assert_string_equal(arena_printf(a, "%s-%d-%c", "x", 42, 'z'),
	    "x-42-z");
	assert_string_equal(arena_printf(a, "%s", ""), "");
	assert_string_equal(vformat(a, "<%05d>", 7), "<00007>");
	memset(long_text, 'q', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	p = arena_printf(a, "[%s]", long_text);
	assert_int_equal(strlen(p), sizeof(long_text) + 1);
	assert_int_equal(p[0], '[');
	assert_int_equal(p[sizeof(long_text)], ']');
	arena_destroy(&a);
}

/* alloc_max - ask for SIZE_MAX bytes */
static void
alloc_max(void)
{
	struct arena *a = arena_create();

	(void)arena_alloc(a, SIZE_MAX);
}

/* alloc_almost_max - ask for a size whose chunk header would wrap */
static void
alloc_almost_max(void)
{
	struct arena *a = arena_create();

	(void)arena_alloc(a, SIZE_MAX - 20);
}

/* test_overflow_panics - absurd sizes panic instead of wrapping */
static void
test_overflow_panics(void **state)
{
	(void)state;
	testutil_expect_abort(alloc_max);
	testutil_expect_abort(alloc_almost_max);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_destroy),
		cmocka_unit_test(test_cleanups_reverse),
		cmocka_unit_test(test_alignment_and_zero),
		cmocka_unit_test(test_used),
		cmocka_unit_test(test_big_blocks),
		cmocka_unit_test(test_many_blocks),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_overflow_panics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
