/*
 * test_list_tool.c - "posternctl lists compile|query": output and exit
 * codes
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "list_tool.h"
#include "log.h"
#include "testutil.h"

static char tmpdir[64];
static struct arena *arena;
static char out[4096];		/* stdout of the last run */

/* setup - a fresh directory and arena per test */
static int
setup(void **state)
{
	(void)state;
	return testutil_setup(tmpdir, sizeof(tmpdir), "test_list_tool", &arena);
}

/* teardown - remove the directory */
static int
teardown(void **state)
{
	(void)state;
	return testutil_teardown(tmpdir, &arena);
}

/* put - write tmpdir/name, return the path */
static char *
put(const char *name, const char *text)
{
	return testutil_put(arena, tmpdir, name, text);
}

/* run - list_tool_main on a NULL-terminated argument list, capturing
 * stdout into out[]; returns the exit code */
static int
run(const char *arg, ...)
{
	char *argv[16], *capture;
	va_list ap;
	int argc = 0, saved, fd, rc;
	ssize_t n;

	argv[argc++] = "lists";
	va_start(ap, arg);
	for (; arg != NULL && argc < 15; arg = va_arg(ap, const char *))
		argv[argc++] = (char *)arg;
	va_end(ap);
	argv[argc] = NULL;

	capture = arena_printf(arena, "%s/stdout", tmpdir);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	fd = open(capture, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, STDOUT_FILENO);
	rc = list_tool_main(argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return rc;
}

/* test_usage - bad arguments print usage and exit 2 */
static void
test_usage(void **state)
{
	(void)state;
	assert_int_equal(run(NULL), 2);
	assert_int_equal(run("frobnicate", NULL), 2);
	assert_int_equal(run("compile", NULL), 2);
	assert_int_equal(run("query", NULL), 2);
	assert_int_equal(run("query", "static:x", NULL), 2);
	assert_int_equal(run("query", "-z", "static:x", "k", NULL), 2);
	assert_int_equal(run("query", "-m", "-c", "static:x", "k", NULL), 2);
	assert_string_equal(out, "");
}

/* test_query_plain - one key prints the value; several print key TAB
 * value; exit 0 found, 1 not found, 2 error */
static void
test_query_plain(void **state)
{
	char *spec;

	(void)state;
	spec = arena_printf(arena, "hash:%s",
	    put("access", "a@example.com REJECT no\nb OK\n"));
	assert_int_equal(run("query", spec, "A@Example.com", NULL), 0);
	assert_string_equal(out, "REJECT no\n");
	assert_int_equal(run("query", spec, "zz", NULL), 1);
	assert_string_equal(out, "");
	assert_int_equal(run("query", spec, "b", "zz", "a@example.com", NULL),
	    0);
	assert_string_equal(out, "b\tOK\na@example.com\tREJECT no\n");
	assert_int_equal(run("query", "--", spec, "b", NULL), 0);
	assert_string_equal(out, "OK\n");
	assert_int_equal(run("query", arena_printf(arena, "hash:%s/none",
	    tmpdir), "b", NULL), 2);
	assert_int_equal(run("query", "nosuch:x", "b", NULL), 2);
}

/* test_query_orders - -m mail order, -c client order */
static void
test_query_orders(void **state)
{
	char *spec;

	(void)state;
	spec = arena_printf(arena, "hash:%s", put("access",
	    ".example.org parent\n<> null\nuser@ local\n"
	    "mx.example.net name\n192.0.2 net\n"));
	assert_int_equal(run("query", spec, "x@a.example.org", NULL), 1);
	assert_int_equal(run("query", "-m", spec, "x@a.example.org", NULL),
	    0);
	assert_string_equal(out, "parent\n");
	assert_int_equal(run("query", "-m", spec, "<>", NULL), 0);
	assert_string_equal(out, "null\n");
	assert_int_equal(run("query", "-m", spec, "<user@elsewhere>", NULL),
	    0);
	assert_string_equal(out, "local\n");
	assert_int_equal(run("query", "-m", spec, "bad<", NULL), 2);
	assert_int_equal(run("query", "-c", spec, "mx.example.net[192.0.2.1]",
	    NULL), 0);
	assert_string_equal(out, "name\n");
	assert_int_equal(run("query", "-c", spec, "unknown[192.0.2.1]", NULL),
	    0);
	assert_string_equal(out, "net\n");
	assert_int_equal(run("query", "-c", spec, "192.0.2.77", NULL), 0);
	assert_string_equal(out, "net\n");
	assert_int_equal(run("query", "-c", spec, "x[300.0.0.1]", NULL), 2);
}

/* test_compile - writes FILE.lmdb; errors exit 1 and write nothing */
static void
test_compile(void **state)
{
	char *good, *bad;

	(void)state;
	good = put("map", "k v\n");
	bad = put("bad", "k\n");
	assert_int_equal(run("compile", good, NULL), 0);
	assert_int_equal(run("query", arena_printf(arena, "lmdb:%s", good),
	    "K", NULL), 0);
	assert_string_equal(out, "v\n");
	assert_int_equal(run("compile", good, bad, NULL), 1);
	assert_int_equal(access(arena_printf(arena, "%s.lmdb", bad), F_OK),
	    -1);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_plain, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_query_orders, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_compile, setup, teardown),
	};

	log_init("test_list_tool", true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
