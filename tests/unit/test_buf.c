/*
 * test_buf.c - growable buffers: growth, NUL termination, printf, steal
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "testutil.h"

/* test_empty - a zeroed buf is a valid empty string */
static void
test_empty(void **state)
{
	struct buf b = { 0 };

	(void)state;
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(b.len, 0);
	buf_reset(&b);			/* fine without memory */
	assert_null(b.data);
	buf_free(&b);
	assert_null(b.data);
	buf_append(&b, "", 0);		/* appending nothing still terminates */
	assert_non_null(b.data);
	assert_string_equal(buf_cstr(&b), "");
	buf_free(&b);
}

/* test_append - append, puts, putc; binary data stays NUL-terminated */
static void
test_append(void **state)
{
	struct buf b = { 0 };

	(void)state;
	buf_puts(&b, "abc");
	buf_putc(&b, '-');
	buf_append(&b, "xyz", 2);
	assert_int_equal(b.len, 6);
	assert_string_equal(buf_cstr(&b), "abc-xy");
	assert_true(b.cap > b.len);
	/* binary data: len counts embedded NULs, a NUL follows */
	buf_append(&b, "\0q", 2);
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.data, "abc-xy\0q\0", 9);
	buf_free(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
}

/* test_growth - growth one byte at a time and by reserve */
static void
test_growth(void **state)
{
	struct buf b = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		buf_putc(&b, (char)('a' + i % 26));
		assert_int_equal(b.data[b.len], '\0');
		assert_true(b.cap >= b.len + 1);
	}
	assert_int_equal(b.len, 100000);
	for (i = 0; i < 100000; i++)
		assert_int_equal(b.data[i], 'a' + i % 26);
	buf_free(&b);

	buf_reserve(&b, 1000);
	assert_true(b.cap >= 1001);
	assert_int_equal(b.len, 0);
	buf_puts(&b, "x");
	buf_reserve(&b, 5000);
	assert_true(b.cap >= 5002);
	assert_string_equal(buf_cstr(&b), "x");
	buf_free(&b);
}

/* vput - buf_vprintf through a variadic wrapper */
static void
vput(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* test_printf - printf and vprintf append, also past the first block */
static void
test_printf(void **state)
{
	struct buf b = { 0 };
	char big[3000];

	(void)state;
	buf_printf(&b, "%d:%s", 42, "x");
	buf_printf(&b, "|%5s|", "ab");
	assert_string_equal(buf_cstr(&b), "42:x|   ab|");
	buf_printf(&b, "%s", "");
	assert_int_equal(b.len, 11);
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(&b, "<%s>", big);		/* grows past the 64 start */
	assert_int_equal(b.len, 11 + sizeof(big) + 1);
	assert_int_equal(b.data[11], '<');
	assert_int_equal(b.data[b.len - 1], '>');
	assert_int_equal(b.data[b.len], '\0');
	vput(&b, "%c%c", 'o', 'k');
	assert_int_equal(b.len, 11 + sizeof(big) + 3);
	assert_string_equal(b.data + b.len - 3, ">ok");
	buf_free(&b);
}

/* test_reset - reset empties but keeps the memory */
static void
test_reset(void **state)
{
	struct buf b = { 0 };
	size_t cap;

	(void)state;
	buf_puts(&b, "hello");
	cap = b.cap;
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, cap);		/* memory kept */
	assert_string_equal(buf_cstr(&b), "");
	buf_puts(&b, "again");
	assert_string_equal(buf_cstr(&b), "again");
	buf_free(&b);
}

/* test_steal - steal hands over the string and leaves an empty buffer */
static void
test_steal(void **state)
{
	struct buf b = { 0 };
	char *s;

	(void)state;
	buf_puts(&b, "mine");
	s = buf_steal(&b);
	assert_string_equal(s, "mine");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	free(s);
	/* an empty buffer gives a malloc'ed "" */
	s = buf_steal(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	/* the buffer is usable after a steal */
	buf_puts(&b, "next");
	assert_string_equal(buf_cstr(&b), "next");
	buf_free(&b);
}

/* reserve_max_empty - reserve SIZE_MAX in an empty buffer */
static void
reserve_max_empty(void)
{
	struct buf b = { 0 };

	buf_reserve(&b, SIZE_MAX);
}

/* reserve_max_full - reserve a size that wraps past len */
static void
reserve_max_full(void)
{
	struct buf b = { 0 };

	buf_puts(&b, "abc");
	buf_reserve(&b, SIZE_MAX - 3);
}

/* test_overflow_panics - absurd sizes panic instead of wrapping */
static void
test_overflow_panics(void **state)
{
	(void)state;
	testutil_expect_abort(reserve_max_empty);
	testutil_expect_abort(reserve_max_full);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_steal),
		cmocka_unit_test(test_overflow_panics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
