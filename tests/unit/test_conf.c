/*
 * test_conf.c - the config parser: syntax, every error text, every type
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "arena.h"
#include "buf.h"
#include "conf.h"
#include "testutil.h"

/* A struct with one field of every type. */
struct tconf {
	char *name;
	bool flag;
	long count;
	unsigned long mode;
	double score;
	double delay;
	uint64_t size;
	struct conf_list items;
	int action;
	char *table;
	long even;
	char *plain;
	struct conf_list nolist;
};

static const char *const actions[] = { "accept", "reject", "tempfail", NULL };

/* even_ok - a validator that wants an even number */
static bool
even_ok(const void *value, const char **error_r)
{
	if (*(const long *)value % 2 != 0) {
		*error_r = "must be even";
		return false;
	}
	return true;
}

#define F(field) offsetof(struct tconf, field)
static const struct conf_setting tsettings[] = {
	{ .name = "name", .type = CONF_STRING, .def = "postern",
	  .offset = F(name) },
	{ .name = "flag", .type = CONF_BOOL, .def = "no", .offset = F(flag) },
	{ .name = "count", .type = CONF_INT, .def = "-3", .offset = F(count) },
	{ .name = "mode", .type = CONF_UINT, .def = "007", .offset = F(mode) },
	{ .name = "score", .type = CONF_DOUBLE, .def = "off",
	  .offset = F(score) },
	{ .name = "delay", .type = CONF_DURATION, .def = "5m",
	  .offset = F(delay) },
	{ .name = "size", .type = CONF_SIZE, .def = "10M", .offset = F(size) },
	{ .name = "items", .type = CONF_LIST, .def = "a, b",
	  .offset = F(items) },
	{ .name = "action", .type = CONF_ENUM, .def = "tempfail",
	  .offset = F(action), .choices = actions },
	{ .name = "table", .type = CONF_TABLE,
	  .def = "hash:/etc/postern/access", .offset = F(table) },
	{ .name = "even", .type = CONF_INT, .def = "2", .offset = F(even),
	  .validate = even_ok },
	{ .name = "plain", .type = CONF_STRING, .offset = F(plain) },
	{ .name = "nolist", .type = CONF_LIST, .offset = F(nolist) },
	{ 0 },
};

static const char *const known[] = { "mod", "other", NULL };

/* A loaded and applied config: global and [mod] use tsettings. */
struct fixture {
	struct conf_errors err;
	struct arena *arena;
	struct conf_file *cf;
	struct tconf g, m;
};

static char tmpdir[64];

/* run - load text as "t.conf", apply "" and "mod", finish; errors */
static const char *
run(struct fixture *f, const char *text)
{
	memset(f, 0, sizeof(*f));
	f->arena = arena_create();
	f->cf = conf_load_string("t.conf", text, &f->err);
	assert_non_null(f->cf);
	conf_apply(f->cf, "", tsettings, &f->g, f->arena, &f->err);
	conf_apply(f->cf, "mod", tsettings, &f->m, f->arena, &f->err);
	conf_finish(f->cf, known, &f->err);
	return buf_cstr(&f->err.text);
}

/* done - free a fixture */
static void
done(struct fixture *f)
{
	conf_file_free(&f->cf);
	assert_null(f->cf);
	arena_destroy(&f->arena);
	conf_errors_free(&f->err);
}

/* expect_errors - run text and compare all error lines */
static void
expect_errors(const char *text, const char *errors, int count)
{
	struct fixture f;

	assert_string_equal(run(&f, text), errors);
	assert_int_equal(f.err.count, count);
	done(&f);
}

/* expect_bad - "key = value" is refused with this reason */
static void
expect_bad(const char *key, const char *value, const char *why)
{
	char text[512], want[1024];

	snprintf(text, sizeof(text), "%s = %s\n", key, value);
	snprintf(want, sizeof(want), "t.conf:1: bad value '%s' for '%s': %s\n",
	    value, key, why);
	expect_errors(text, want, 1);
}

/* good - apply "key = value" without errors into f->g */
static void
good(struct fixture *f, const char *key, const char *value)
{
	char text[512];

	snprintf(text, sizeof(text), "%s = %s\n", key, value);
	assert_string_equal(run(f, text), "");
	assert_int_equal(f->err.count, 0);
}

/* setup - a private temp directory */
static int
setup(void **state)
{
	(void)state;
	return testutil_tmpdir(tmpdir, sizeof(tmpdir), "test_conf");
}

/* teardown - remove the temp directory (tests unlink their files) */
static int
teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

/* test_defaults_only - conf_apply without a file sets every default */
static void
test_defaults_only(void **state)
{
	struct arena *arena = arena_create();
	struct tconf t = { 0 };

	(void)state;
	assert_int_equal(conf_apply(NULL, "", tsettings, &t, arena, NULL), 0);
	assert_string_equal(t.name, "postern");
	assert_false(t.flag);
	assert_int_equal(t.count, -3);
	assert_int_equal(t.mode, 7);
	assert_true(isinf(t.score) && t.score > 0);
	assert_true(t.delay == 300.0);
	assert_true(t.size == 10 * 1024 * 1024);
	assert_int_equal(t.items.n, 2);
	assert_string_equal(t.items.items[0], "a");
	assert_string_equal(t.items.items[1], "b");
	assert_null(t.items.items[2]);
	assert_int_equal(t.action, 2);
	assert_string_equal(t.table, "hash:/etc/postern/access");
	assert_int_equal(t.even, 2);
	assert_null(t.plain);
	assert_int_equal(t.nolist.n, 0);
	arena_destroy(&arena);
}

/* test_values_and_sections - values, comments, sections and the lookups */
static void
test_values_and_sections(void **state)
{
	struct fixture f;
	const char **names;
	const struct conf_entry *e;

	(void)state;
	assert_string_equal(run(&f,
	    "# comment\n"
	    "name   =   gateway one  \n"
	    "   # indented comment\n"
	    "\n"
	    "count=12\n"
	    "plain = \"quoted\" # not a comment\n"
	    "[mod]\n"
	    "count = 7\n"
	    "flag = yes\n"
	    "[ other ]\n"
	    "\t\n"
	    "[mod]\n"
	    "size = 1k\n"), "");
	assert_string_equal(f.g.name, "gateway one");
	assert_int_equal(f.g.count, 12);
	assert_string_equal(f.g.plain, "\"quoted\" # not a comment");
	assert_false(f.g.flag);
	assert_int_equal(f.m.count, 7);
	assert_true(f.m.flag);
	assert_true(f.m.size == 1024);
	assert_string_equal(f.m.name, "postern");	/* default */

	assert_int_equal(conf_sections(f.cf, &names), 3);
	assert_string_equal(names[0], "");
	assert_string_equal(names[1], "mod");
	assert_string_equal(names[2], "other");
	assert_null(names[3]);
	assert_true(conf_has_section(f.cf, "other"));
	assert_true(conf_has_section(f.cf, ""));
	assert_false(conf_has_section(f.cf, "nope"));
	assert_int_equal(conf_section_line(f.cf, "mod"), 7);
	assert_int_equal(conf_section_line(f.cf, "other"), 10);
	assert_int_equal(conf_section_line(f.cf, ""), 0);
	assert_int_equal(conf_section_line(f.cf, "nope"), 0);
	assert_string_equal(conf_file_name(f.cf), "t.conf");

	e = conf_find(f.cf, "mod", "size");
	assert_non_null(e);
	assert_string_equal(e->section, "mod");
	assert_string_equal(e->key, "size");
	assert_string_equal(e->value, "1k");
	assert_string_equal(e->file, "t.conf");
	assert_int_equal(e->line, 13);
	assert_true(e->used);
	assert_null(conf_find(f.cf, "", "size"));
	assert_null(conf_find(f.cf, "other", "count"));
	e = conf_find(f.cf, "", "count");
	assert_non_null(e);
	assert_string_equal(e->value, "12");
	done(&f);
}

/* test_empty_file - an empty file has the global section and defaults */
static void
test_empty_file(void **state)
{
	struct fixture f;
	const char **names;

	(void)state;
	assert_string_equal(run(&f, ""), "");
	assert_int_equal(conf_sections(f.cf, &names), 1);
	assert_string_equal(names[0], "");
	assert_string_equal(f.g.name, "postern");
	done(&f);
}

/* test_continuation - indented lines continue a value, past comments */
static void
test_continuation(void **state)
{
	struct fixture f;

	(void)state;
	assert_string_equal(run(&f,
	    "items = a,\n"
	    "   b\n"
	    "\tc   \n"
	    "\n"
	    "# a comment does not end the value\n"
	    "  d\n"
	    "name =\n"
	    "  late\n"
	    "[mod]\n"
	    "items = x\n"
	    " { p, q }\n"), "");
	assert_int_equal(f.g.items.n, 4);
	assert_string_equal(f.g.items.items[0], "a");
	assert_string_equal(f.g.items.items[1], "b");
	assert_string_equal(f.g.items.items[2], "c");
	assert_string_equal(f.g.items.items[3], "d");
	assert_string_equal(conf_find(f.cf, "", "items")->value, "a, b c d");
	assert_string_equal(f.g.name, "late");
	assert_int_equal(conf_find(f.cf, "", "name")->line, 7);
	assert_int_equal(f.m.items.n, 2);
	assert_string_equal(f.m.items.items[1], "{ p, q }");
	done(&f);
}

/* test_continuation_errors - a continuation with nothing to continue */
static void
test_continuation_errors(void **state)
{
	(void)state;
	/* at the start, after a header; one error for a run of them */
	expect_errors("  orphan\n"
	    "   more orphan\n"
	    "[mod]\n"
	    "  count = 1\n"
	    "  size = 2\n"
	    "count = 4\n",
	    "t.conf:1: continuation line without a setting before it\n"
	    "t.conf:4: continuation line without a setting before it\n", 2);
	/* after a broken line, continuations are swallowed */
	expect_errors("bad line\n"
	    "  more\n"
	    "count = 1\n",
	    "t.conf:1: syntax error: expected 'name = value'\n", 1);
}

/* test_syntax_errors - lines that are not name = value */
static void
test_syntax_errors(void **state)
{
	(void)state;
	expect_errors("no equals sign\n",
	    "t.conf:1: syntax error: expected 'name = value'\n", 1);
	expect_errors("= value\n",
	    "t.conf:1: missing setting name before '='\n", 1);
	expect_errors("=\n",
	    "t.conf:1: missing setting name before '='\n", 1);
	/* an indented line is a continuation, whatever it holds */
	expect_errors(" = value\ncount = 1\n",
	    "t.conf:1: continuation line without a setting before it\n", 1);
	expect_errors("Count = 1\n",
	    "t.conf:1: bad setting name 'Count': use a-z, 0-9 and _\n", 1);
	expect_errors("my-key = 1\nmy key = 2\n",
	    "t.conf:1: bad setting name 'my-key': use a-z, 0-9 and _\n"
	    "t.conf:2: bad setting name 'my key': use a-z, 0-9 and _\n", 2);
	/* all errors are collected, in line order */
	expect_errors("a\nb\n= c\n",
	    "t.conf:1: syntax error: expected 'name = value'\n"
	    "t.conf:2: syntax error: expected 'name = value'\n"
	    "t.conf:3: missing setting name before '='\n", 3);
}

/* test_bad_headers - malformed [section] lines and what follows them */
static void
test_bad_headers(void **state)
{
	static const char *const bad[] = {
		"[x", "[]", "[ ]", "[X]", "[a b]", "[a]b", "[a]]", "[a-b]",
		"[[a]]", NULL,
	};
	char text[64], want[256];
	size_t i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++) {
		snprintf(text, sizeof(text), "%s\ncount = 5\n", bad[i]);
		snprintf(want, sizeof(want), "t.conf:1: bad section header "
		    "'%s': expected [name] with a name of a-z, 0-9 and _\n",
		    bad[i]);
		expect_errors(text, want, 1);
	}
	/* settings after a bad header do not land in the global section,
	   but are still checked for syntax; a good header ends that */
	{
		struct fixture f;

		assert_string_equal(run(&f,
		    "[mod\n"
		    "count = 5\n"
		    "oops\n"
		    "[mod]\n"
		    "count = 6\n"),
		    "t.conf:1: bad section header '[mod': expected [name] "
		    "with a name of a-z, 0-9 and _\n"
		    "t.conf:3: syntax error: expected 'name = value'\n");
		assert_int_equal(f.g.count, -3);
		assert_int_equal(f.m.count, 6);
		assert_null(conf_find(f.cf, "", "count"));
		done(&f);
	}
	/* surrounding blanks are fine */
	expect_errors("[ mod ]  \ncount = 1\n", "", 0);
}

/* test_duplicates - a key twice in one section; same key in two is fine */
static void
test_duplicates(void **state)
{
	struct fixture f;

	(void)state;
	assert_string_equal(run(&f,
	    "count = 1\n"
	    "count = 2\n"
	    "[mod]\n"
	    "count = 3\n"
	    "[other]\n"
	    "[mod]\n"
	    "count = 4\n"
	    "  continued\n"),
	    "t.conf:2: duplicate setting 'count' (first at t.conf:1)\n"
	    "t.conf:7: duplicate setting 'count' (first at t.conf:4)\n");
	assert_int_equal(f.err.count, 2);
	assert_int_equal(f.g.count, 1);		/* the first one counts */
	assert_int_equal(f.m.count, 3);
	done(&f);
}

/* test_unknown - conf_finish: unknown settings and sections, line order */
static void
test_unknown(void **state)
{
	static const struct conf_setting only_count[] = {
		{ .name = "count", .type = CONF_INT, .offset = F(count) },
		{ 0 },
	};
	struct conf_errors err = { 0 };
	struct arena *arena = arena_create();
	struct tconf g = { 0 }, m = { 0 }, a = { 0 };
	struct conf_file *cf;

	(void)state;
	cf = conf_load_string("u.conf",
	    "bogus = 1\n"		/* 1 */
	    "[mod]\n"
	    "nosuch = 2\n"		/* 3 */
	    "[weird]\n"			/* 4 */
	    "a = 1\n"
	    "b = 2\n"
	    "[other]\n"
	    "count = 1\n"		/* 8 */
	    "[applied]\n"		/* 9 */
	    "count = 2\n"
	    "[empty]\n"			/* 11 */
	    "[mod]\n"
	    "flag = yes\n"
	    "count = 4\n", &err);
	assert_int_equal(err.count, 0);
	assert_int_equal(conf_apply(cf, "", tsettings, &g, arena, &err), 0);
	assert_int_equal(conf_apply(cf, "mod", tsettings, &m, arena, &err), 0);
	assert_int_equal(conf_apply(cf, "applied", only_count, &a, arena,
	    &err), 0);
	assert_int_equal(a.count, 2);
	assert_int_equal(m.count, 4);
	/* a section nobody has in the file applies defaults only */
	assert_int_equal(conf_apply(cf, "absent", tsettings, &a, arena,
	    &err), 0);
	assert_int_equal(conf_finish(cf, known, &err), 5);
	assert_string_equal(buf_cstr(&err.text),
	    "u.conf:1: unknown setting 'bogus' in global section\n"
	    "u.conf:3: unknown setting 'nosuch' in section [mod]\n"
	    "u.conf:4: unknown section [weird]\n"
	    "u.conf:8: unknown setting 'count' in section [other]\n"
	    "u.conf:11: unknown section [empty]\n");
	conf_file_free(&cf);
	conf_file_free(&cf);	/* NULL is fine */
	conf_errors_free(&err);
	assert_int_equal(err.count, 0);
	assert_null(err.text.data);

	/* NULL known list: only applied sections are known */
	cf = conf_load_string("v.conf", "[x]\ny = 1\n", &err);
	assert_int_equal(conf_finish(cf, NULL, &err), 1);
	assert_string_equal(buf_cstr(&err.text),
	    "v.conf:1: unknown section [x]\n");
	conf_file_free(&cf);
	conf_errors_free(&err);
	arena_destroy(&arena);
}

/* test_apply_count - conf_apply returns the number of errors it added */
static void
test_apply_count(void **state)
{
	struct conf_errors err = { 0 };
	struct arena *arena = arena_create();
	struct tconf g = { 0 };
	struct conf_file *cf;

	(void)state;
	cf = conf_load_string("c.conf", "x\ncount = a\nflag = b\nsize = 1\n",
	    &err);
	assert_int_equal(err.count, 1);
	assert_int_equal(conf_apply(cf, NULL, tsettings, &g, arena, &err), 2);
	assert_int_equal(err.count, 3);
	assert_true(g.size == 1);
	assert_string_equal(buf_cstr(&err.text),
	    "c.conf:1: syntax error: expected 'name = value'\n"
	    "c.conf:2: bad value 'a' for 'count': expected an integer\n"
	    "c.conf:3: bad value 'b' for 'flag': expected yes or no\n");
	conf_file_free(&cf);
	conf_errors_free(&err);
	arena_destroy(&arena);
}

/* test_type_bool - CONF_BOOL words and errors */
static void
test_type_bool(void **state)
{
	static const struct {
		const char *text;
		bool value;
	} ok[] = {
		{ "yes", true }, { "no", false }, { "true", true },
		{ "false", false }, { "on", true }, { "off", false },
		{ "1", true }, { "0", false }, { "YES", true },
		{ "False", false }, { NULL, false },
	};
	struct fixture f;
	size_t i;

	(void)state;
	for (i = 0; ok[i].text != NULL; i++) {
		good(&f, "flag", ok[i].text);
		assert_int_equal(f.g.flag, ok[i].value);
		done(&f);
	}
	expect_bad("flag", "2", "expected yes or no");
	expect_bad("flag", "y", "expected yes or no");
	expect_bad("flag", "yess", "expected yes or no");
	expect_bad("flag", "", "expected yes or no");
}

/* test_type_int - CONF_INT limits and errors; the validator */
static void
test_type_int(void **state)
{
	struct fixture f;

	(void)state;
	good(&f, "count", "9223372036854775807");
	assert_true(f.g.count == LONG_MAX);
	done(&f);
	good(&f, "count", "-9223372036854775808");
	assert_true(f.g.count == LONG_MIN);
	done(&f);
	good(&f, "count", "+5");
	assert_int_equal(f.g.count, 5);
	done(&f);
	good(&f, "count", "010");
	assert_int_equal(f.g.count, 10);	/* INT is always decimal */
	done(&f);
	expect_bad("count", "9223372036854775808", "expected an integer");
	expect_bad("count", "-9223372036854775809", "expected an integer");
	expect_bad("count", "1.5", "expected an integer");
	expect_bad("count", "-", "expected an integer");
	expect_bad("count", "--1", "expected an integer");
	expect_bad("count", "0x10", "expected an integer");
	expect_bad("count", "1 2", "expected an integer");
	expect_bad("count", "", "expected an integer");
	/* the validator runs after parsing and names its reason */
	good(&f, "even", "-4");
	assert_int_equal(f.g.even, -4);
	done(&f);
	expect_bad("even", "3", "must be even");
	expect_bad("even", "x", "expected an integer");
}

/* test_type_uint - CONF_UINT decimal, octal, limits and errors */
static void
test_type_uint(void **state)
{
	static const char why[] =
	    "expected a non-negative integer (leading 0 for octal)";
	struct fixture f;

	(void)state;
	good(&f, "mode", "18446744073709551615");
	assert_true(f.g.mode == ULONG_MAX);
	done(&f);
	good(&f, "mode", "0777");
	assert_int_equal(f.g.mode, 511);
	done(&f);
	good(&f, "mode", "0");
	assert_int_equal(f.g.mode, 0);
	done(&f);
	good(&f, "mode", "42");
	assert_int_equal(f.g.mode, 42);
	done(&f);
	expect_bad("mode", "18446744073709551616", why);
	expect_bad("mode", "-1", why);
	expect_bad("mode", "+1", why);
	expect_bad("mode", "08", why);
	expect_bad("mode", "0x10", why);
	expect_bad("mode", "1k", why);
	expect_bad("mode", "", why);
}

/* test_type_double - CONF_DOUBLE numbers, off, and what is refused */
static void
test_type_double(void **state)
{
	static const struct {
		const char *text;
		double value;
	} ok[] = {
		{ "1.5", 1.5 }, { "-2.25", -2.25 }, { "+3", 3 }, { "0", 0 },
		{ "0.1", 0.1 }, { ".5", 0.5 },
		{ "123456789012345678", 123456789012345678.0 },
		{ NULL, 0 },
	};
	static const char why[] = "expected a number or off";
	struct fixture f;
	size_t i;

	(void)state;
	for (i = 0; ok[i].text != NULL; i++) {
		good(&f, "score", ok[i].text);
		assert_true(f.g.score == ok[i].value);
		done(&f);
	}
	good(&f, "score", "OFF");
	assert_true(isinf(f.g.score) && f.g.score > 0);
	done(&f);
	expect_bad("score", "1e3", why);
	expect_bad("score", "inf", why);
	expect_bad("score", "nan", why);
	expect_bad("score", "1.", why);
	expect_bad("score", ".", why);
	expect_bad("score", "--1", why);
	expect_bad("score", "1.2.3", why);
	expect_bad("score", "1234567890123456789", why);
	expect_bad("score", "0x10", why);
	expect_bad("score", "", why);
}

/* test_type_duration - CONF_DURATION units and errors */
static void
test_type_duration(void **state)
{
	static const struct {
		const char *text;
		double value;
	} ok[] = {
		{ "30", 30 }, { "30s", 30 }, { "500ms", 0.5 }, { "1.5s", 1.5 },
		{ "5m", 300 }, { "2h", 7200 }, { "1d", 86400 },
		{ "1w", 604800 }, { "0", 0 }, { ".5s", 0.5 },
		{ "1.5m", 90 }, { "0000000000000000000001s", 1 },
		{ NULL, 0 },
	};
	static const char why[] =
	    "expected a duration such as 30s, 5m, 2h, 1d";
	struct fixture f;
	size_t i;

	(void)state;
	for (i = 0; ok[i].text != NULL; i++) {
		good(&f, "delay", ok[i].text);
		assert_true(f.g.delay == ok[i].value);
		done(&f);
	}
	expect_bad("delay", "5M", why);
	expect_bad("delay", "5 m", why);
	expect_bad("delay", "-1s", why);
	expect_bad("delay", "+1s", why);
	expect_bad("delay", "1.s", why);
	expect_bad("delay", "s", why);
	expect_bad("delay", "5mm", why);
	expect_bad("delay", "5sec", why);
	expect_bad("delay", "1e3s", why);
	expect_bad("delay", "1.2.3s", why);
	expect_bad("delay", "1y", why);
	expect_bad("delay", "1234567890123456789s", why);
	expect_bad("delay", "off", why);
	expect_bad("delay", "", why);
}

/* test_type_size - CONF_SIZE units, limits and errors */
static void
test_type_size(void **state)
{
	static const struct {
		const char *text;
		uint64_t value;
	} ok[] = {
		{ "0", 0 }, { "4096", 4096 }, { "512k", 524288 },
		{ "512K", 524288 }, { "10M", 10485760 }, { "10m", 10485760 },
		{ "1G", 1073741824 }, { "1g", 1073741824 },
		{ "18446744073709551615", UINT64_MAX },
		{ "17179869183G", 17179869183ULL << 30 },
		{ NULL, 0 },
	};
	static const char why[] = "expected a size such as 512k, 10M, 1G";
	struct fixture f;
	size_t i;

	(void)state;
	for (i = 0; ok[i].text != NULL; i++) {
		good(&f, "size", ok[i].text);
		assert_true(f.g.size == ok[i].value);
		done(&f);
	}
	expect_bad("size", "18446744073709551616", why);
	expect_bad("size", "17179869184G", why);
	expect_bad("size", "1.5M", why);
	expect_bad("size", "10MB", why);
	expect_bad("size", "-1", why);
	expect_bad("size", "k", why);
	expect_bad("size", "1T", why);
	expect_bad("size", "1 k", why);
	expect_bad("size", "", why);
}

/* test_type_list - CONF_LIST brace grouping and unbalanced braces */
static void
test_type_list(void **state)
{
	struct fixture f;

	(void)state;
	good(&f, "items", "check_client_access inline:{ 1.2.3.4=REJECT, "
	    "5.6.7.8=OK }, reject");
	assert_int_equal(f.g.items.n, 3);
	assert_string_equal(f.g.items.items[0], "check_client_access");
	assert_string_equal(f.g.items.items[1],
	    "inline:{ 1.2.3.4=REJECT, 5.6.7.8=OK }");
	assert_string_equal(f.g.items.items[2], "reject");
	assert_null(f.g.items.items[3]);
	done(&f);
	good(&f, "items", "");
	assert_int_equal(f.g.items.n, 0);	/* empty overrides default */
	assert_null(f.g.items.items[0]);
	done(&f);
	expect_bad("items", "{", "unbalanced braces");
	expect_bad("items", "a }", "unbalanced braces");
	expect_bad("items", "a}{", "unbalanced braces");
	expect_bad("items", "{{}", "unbalanced braces");
}

/* test_type_enum - CONF_ENUM choices and the error naming them */
static void
test_type_enum(void **state)
{
	static const char why[] = "expected one of: accept, reject, tempfail";
	struct fixture f;

	(void)state;
	good(&f, "action", "accept");
	assert_int_equal(f.g.action, 0);
	done(&f);
	good(&f, "action", "REJECT");
	assert_int_equal(f.g.action, 1);
	done(&f);
	expect_bad("action", "bounce", why);
	expect_bad("action", "rejec", why);
	expect_bad("action", "", why);
}

/* test_type_table - CONF_TABLE type:name syntax */
static void
test_type_table(void **state)
{
	static const char why[] = "expected a lookup table as type:name, "
	    "such as hash:/etc/postern/access";
	struct fixture f;

	(void)state;
	good(&f, "table", "lmdb:/var/lib/x.lmdb");
	assert_string_equal(f.g.table, "lmdb:/var/lib/x.lmdb");
	done(&f);
	good(&f, "table", "inline:{ a=b, c=d }");
	assert_string_equal(f.g.table, "inline:{ a=b, c=d }");
	done(&f);
	good(&f, "table", "pcre2:x");
	assert_string_equal(f.g.table, "pcre2:x");
	done(&f);
	good(&f, "table", "");
	assert_null(f.g.table);		/* empty switches the default off */
	done(&f);
	expect_bad("table", "hash", why);
	expect_bad("table", ":x", why);
	expect_bad("table", "Hash:x", why);
	expect_bad("table", "hash:", why);
	expect_bad("table", "hash: x", why);
	expect_bad("table", "ha-sh:x", why);
	expect_bad("table", "/etc/access", why);
}

/* test_type_string - CONF_STRING keeps quotes and empty values */
static void
test_type_string(void **state)
{
	struct fixture f;

	(void)state;
	good(&f, "name", "");
	assert_string_equal(f.g.name, "");	/* "" stays "" */
	done(&f);
	good(&f, "name", "'a' \"b\" {c");
	assert_string_equal(f.g.name, "'a' \"b\" {c");
	done(&f);
}

/* test_long_value_clipped - errors quote at most 76 bytes of a value */
static void
test_long_value_clipped(void **state)
{
	char text[300], want[400];

	(void)state;
	memset(text, 0, sizeof(text));
	strcpy(text, "count = ");
	memset(text + 8, '7', 200);
	strcat(text, "x\n");
	snprintf(want, sizeof(want), "t.conf:1: bad value '%.76s...' for "
	    "'count': expected an integer\n", text + 8);
	expect_errors(text, want, 1);
}

/* test_line_limits - lines over 64 KiB are refused, the limit itself is not */
static void
test_line_limits(void **state)
{
	size_t max = 64 * 1024;
	char *text = malloc(max + 100), *p;
	struct fixture f;

	(void)state;
	/* exactly the limit is fine */
	p = text;
	p += sprintf(p, "name = ");
	memset(p, 'x', max - 7);
	strcpy(p + max - 7, "\ncount = 1\n");
	assert_string_equal(run(&f, text), "");
	assert_int_equal(strlen(f.g.name), max - 7);
	assert_int_equal(f.g.count, 1);
	done(&f);
	/* one more byte is refused, its continuation swallowed */
	p = text;
	p += sprintf(p, "name = ");
	memset(p, 'x', max - 6);
	strcpy(p + max - 6, "\n  more\ncount = 1\n");
	assert_string_equal(run(&f, text),
	    "t.conf:1: line too long (more than 65536 bytes)\n");
	assert_string_equal(f.g.name, "postern");
	assert_int_equal(f.g.count, 1);
	done(&f);
	/* a too long continuation drops the whole setting */
	p = text;
	p += sprintf(p, "name = a\n ");
	memset(p, 'x', max);
	strcpy(p + max, "\n  more\ncount = 1\n");
	assert_string_equal(run(&f, text),
	    "t.conf:2: line too long (more than 65536 bytes)\n");
	assert_string_equal(f.g.name, "postern");
	assert_null(conf_find(f.cf, "", "name"));
	assert_int_equal(f.g.count, 1);
	done(&f);
	free(text);
}

/* test_control_bytes - control bytes other than tab are refused */
static void
test_control_bytes(void **state)
{
	(void)state;
	expect_errors("name = a\x1b b\ncount = 1\n",
	    "t.conf:1: control character 0x1b in line\n", 1);
	expect_errors("name = a\rb\n",
	    "t.conf:1: control character 0x0d in line\n", 1);
	expect_errors("name = a\x7f\n",
	    "t.conf:1: control character 0x7f in line\n", 1);
	expect_errors("name = a\n \x01\n",
	    "t.conf:2: control character 0x01 in line\n", 1);
	expect_errors("name = a\tb\n", "", 0);
}

/* test_load_file - a real file with CRLF and no final newline */
static void
test_load_file(void **state)
{
	static const char text[] = "count = 5\r\n[mod]\r\nflag = on\r\n"
	    "items = a,\r\n  b";
	struct conf_errors err = { 0 };
	struct arena *arena = arena_create();
	struct tconf g = { 0 }, m = { 0 };
	struct conf_file *cf;
	char *path = testutil_put_bytes(arena, tmpdir, "crlf.conf", text,
	    sizeof(text) - 1);

	(void)state;
	cf = conf_load(path, &err);
	assert_non_null(cf);
	assert_string_equal(conf_file_name(cf), path);
	assert_int_equal(conf_apply(cf, "", tsettings, &g, arena, &err), 0);
	assert_int_equal(conf_apply(cf, "mod", tsettings, &m, arena, &err), 0);
	assert_int_equal(conf_finish(cf, known, &err), 0);
	assert_int_equal(err.count, 0);
	assert_int_equal(g.count, 5);
	assert_true(m.flag);
	assert_int_equal(m.items.n, 2);
	assert_string_equal(m.items.items[1], "b");
	assert_string_equal(conf_find(cf, "mod", "flag")->file, path);
	assert_int_equal(conf_find(cf, "mod", "items")->line, 4);
	conf_file_free(&cf);
	unlink(path);
	conf_errors_free(&err);
	arena_destroy(&arena);
}

/* test_load_nul - NUL bytes in a file are errors on their line */
static void
test_load_nul(void **state)
{
	static const char text[] = "count = 1\nna\0me = x\nflag = yes\n"
	    "# comment \0 too\n";
	struct conf_errors err = { 0 };
	struct arena *arena = arena_create();
	struct tconf g = { 0 };
	struct conf_file *cf;
	char *path = testutil_put_bytes(arena, tmpdir, "nul.conf", text,
	    sizeof(text) - 1);
	char want[512];

	(void)state;
	cf = conf_load(path, &err);
	assert_non_null(cf);
	conf_apply(cf, "", tsettings, &g, arena, &err);
	conf_finish(cf, known, &err);
	snprintf(want, sizeof(want), "%s:2: NUL byte in line\n"
	    "%s:4: NUL byte in line\n", path, path);
	assert_string_equal(buf_cstr(&err.text), want);
	assert_int_equal(err.count, 2);
	assert_true(g.flag);
	assert_int_equal(g.count, 1);
	conf_file_free(&cf);
	unlink(path);
	conf_errors_free(&err);
	arena_destroy(&arena);
}

/* test_load_errors - files that cannot be opened or read */
static void
test_load_errors(void **state)
{
	struct conf_errors err = { 0 };
	char *path, want[512];

	(void)state;
	assert_true(asprintf(&path, "%s/nope.conf", tmpdir) > 0);
	assert_null(conf_load(path, &err));
	snprintf(want, sizeof(want),
	    "%s: cannot open: No such file or directory\n", path);
	assert_string_equal(buf_cstr(&err.text), want);
	assert_int_equal(err.count, 1);
	free(path);
	assert_null(conf_load(tmpdir, &err));
	snprintf(want + strlen(want), sizeof(want) - strlen(want),
	    "%s: cannot read: Is a directory\n", tmpdir);
	assert_string_equal(buf_cstr(&err.text), want);
	assert_int_equal(err.count, 2);
	conf_errors_free(&err);
}

/* test_conf_error - conf_error formats and sanitizes */
static void
test_conf_error(void **state)
{
	struct conf_errors err = { 0 };

	(void)state;
	conf_error(&err, "f.conf", 3, "x %d", 1);
	conf_error(&err, "f.conf", 0, "whole file");
	conf_error(&err, NULL, 0, "bare");
	conf_error(&err, "f.conf", 4, "evil\nf.conf:5: forged\x1b");
	assert_int_equal(err.count, 4);
	assert_string_equal(buf_cstr(&err.text),
	    "f.conf:3: x 1\n"
	    "f.conf: whole file\n"
	    "bare\n"
	    "f.conf:4: evil?f.conf:5: forged?\n");
	conf_errors_free(&err);
}

/* dump_text - conf_dump into a malloc'ed string */
static char *
dump_text(const char *section, const struct conf_setting *table,
    const void *obj)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	assert_non_null(fp);
	conf_dump(fp, section, table, obj);
	assert_int_equal(fclose(fp), 0);
	return text;
}

/* test_dump - conf_dump prints every type in config syntax */
static void
test_dump(void **state)
{
	struct fixture f;
	char *text;

	(void)state;
	run(&f, "[mod]\n"
	    "name = mx one\n"
	    "flag = on\n"
	    "count = 12\n"
	    "mode = 022\n"
	    "score = -2.5\n"
	    "delay = 1.5\n"
	    "size = 3072k\n"
	    "items = a b,c inline:{ x=1, y=2 }\n"
	    "action = REJECT\n"
	    "table =\n"
	    "plain = 0.1\n"
	    "nolist = x\n");
	assert_int_equal(f.err.count, 0);
	text = dump_text("mod", tsettings, &f.m);
	assert_string_equal(text,
	    "[mod]\n"
	    "name = mx one\n"
	    "flag = yes\n"
	    "count = 12\n"
	    "mode = 022\n"
	    "score = -2.5\n"
	    "delay = 1500ms\n"
	    "size = 3M\n"
	    "items = a, b, c, inline:{ x=1, y=2 }\n"
	    "action = reject\n"
	    "table =\n"
	    "even = 2\n"
	    "plain = 0.1\n"
	    "nolist = x\n");
	free(text);
	text = dump_text("", tsettings, &f.g);
	assert_string_equal(text,
	    "name = postern\n"
	    "flag = no\n"
	    "count = -3\n"
	    "mode = 07\n"
	    "score = off\n"
	    "delay = 5m\n"
	    "size = 10M\n"
	    "items = a, b\n"
	    "action = tempfail\n"
	    "table = hash:/etc/postern/access\n"
	    "even = 2\n"
	    "plain =\n"
	    "nolist =\n");
	free(text);
	done(&f);
}

/* test_dump_units - conf_dump picks the largest exact unit */
static void
test_dump_units(void **state)
{
	static const struct conf_setting t[] = {
		{ .name = "d", .type = CONF_DURATION, .offset = F(delay) },
		{ .name = "s", .type = CONF_SIZE, .offset = F(size) },
		{ .name = "x", .type = CONF_DOUBLE, .offset = F(score) },
		{ .name = "u", .type = CONF_UINT, .offset = F(mode) },
		{ 0 },
	};
	static const struct {
		double d;
		uint64_t s;
		double x;
		const char *want;
	} cases[] = {
		{ 300, 0, 0, "d = 5m\ns = 0\nx = 0\nu = 8\n" },
		{ 90, 1536, 0.1, "d = 90s\ns = 1536\nx = 0.1\nu = 8\n" },
		{ 0.5, 1024, 1.0 / 3,
		  "d = 500ms\ns = 1k\nx = 0.3333333333333333\nu = 8\n" },
		{ 0, 1ULL << 30, -7, "d = 0s\ns = 1G\nx = -7\nu = 8\n" },
		{ 86400, 5ULL << 20, 100, "d = 1d\ns = 5M\nx = 100\nu = 8\n" },
		{ 1209600, 3ULL << 30, 2.5,
		  "d = 2w\ns = 3G\nx = 2.5\nu = 8\n" },
		{ 90000, UINT64_MAX, 0, "d = 25h\ns = 18446744073709551615\n"
		  "x = 0\nu = 8\n" },
		{ 0.0001, 1, 0, "d = 0.0001s\ns = 1\nx = 0\nu = 8\n" },
		{ 1.0000001, 1, 0, "d = 1.0000001s\ns = 1\nx = 0\nu = 8\n" },
		{ 1, 1, 1e20, "d = 1s\ns = 1\nx = 1e+20\n"
		  "u = 8\n" },
		{ 1, 1, 0.00025, "d = 1s\ns = 1\nx = 0.00025\nu = 8\n" },
		{ 7200, 1, 0, "d = 2h\ns = 1\nx = 0\nu = 8\n" },
		{ 0, 0, 0, NULL },
	};
	struct tconf v = { 0 };
	char *text;
	size_t i;

	(void)state;
	for (i = 0; cases[i].want != NULL; i++) {
		v.delay = cases[i].d;
		v.size = cases[i].s;
		v.score = cases[i].x;
		v.mode = 8;	/* no octal default: decimal */
		text = dump_text(NULL, t, &v);
		assert_string_equal(text, cases[i].want);
		free(text);
	}
}

/* test_split_list - conf_split_list separators and brace groups */
static void
test_split_list(void **state)
{
	static const struct {
		const char *text;
		const char *items[5];
	} cases[] = {
		{ "a,b c\td", { "a", "b", "c", "d" } },
		{ ",, a ,b,,  ", { "a", "b" } },
		{ "", { NULL } },
		{ " , ", { NULL } },
		{ "a{b{c d}e} f", { "a{b{c d}e}", "f" } },
		{ "{ x, y }", { "{ x, y }" } },
		{ "p:{ {a b}, c },q", { "p:{ {a b}, c }", "q" } },
		/* unbalanced input still splits without reading past it */
		{ "a{b c", { "a{b c" } },
		{ "}a b", { "}a", "b" } },
		{ NULL, { NULL } },
	};
	struct arena *arena = arena_create();
	struct conf_list l;
	size_t i, j;

	(void)state;
	for (i = 0; cases[i].text != NULL; i++) {
		conf_split_list(arena, cases[i].text, &l);
		for (j = 0; cases[i].items[j] != NULL; j++) {
			assert_true(j < l.n);
			assert_string_equal(l.items[j], cases[i].items[j]);
		}
		assert_int_equal(l.n, j);
		assert_null(l.items[j]);
	}
	arena_destroy(&arena);
}

/* test_parse_functions - the exported value parsers */
static void
test_parse_functions(void **state)
{
	double d = -1;
	uint64_t s = 7;
	bool b = false;

	(void)state;
	assert_true(conf_parse_bool("On", &b) && b);
	assert_true(conf_parse_bool("0", &b) && !b);
	assert_false(conf_parse_bool(" yes", &b));
	assert_true(conf_parse_duration("2w", &d) && d == 1209600);
	assert_true(conf_parse_duration("1ms", &d) && d == 0.001);
	assert_false(conf_parse_duration("", &d));
	assert_false(conf_parse_duration("5s ", &d));
	assert_true(d == 0.001);	/* untouched on failure */
	assert_true(conf_parse_size("2k", &s) && s == 2048);
	assert_false(conf_parse_size(" 2k", &s));
	assert_false(conf_parse_size("2kk", &s));
	assert_true(s == 2048);
}

/* apply_table - conf_apply defaults of a table in a fresh struct */
static void
apply_table(const struct conf_setting *t)
{
	struct arena *arena = arena_create();
	struct tconf v = { 0 };

	conf_apply(NULL, "", t, &v, arena, NULL);
	arena_destroy(&arena);
}

/* bad_default - a table whose default does not parse */
static void
bad_default(void)
{
	static const struct conf_setting t[] = {
		{ .name = "count", .type = CONF_INT, .def = "abc",
		  .offset = F(count) },
		{ 0 },
	};

	apply_table(t);
}

/* bad_list_default - a list default with unbalanced braces */
static void
bad_list_default(void)
{
	static const struct conf_setting t[] = {
		{ .name = "items", .type = CONF_LIST, .def = "{",
		  .offset = F(items) },
		{ 0 },
	};

	apply_table(t);
}

/* enum_without_choices - an enum setting without choices */
static void
enum_without_choices(void)
{
	static const struct conf_setting t[] = {
		{ .name = "action", .type = CONF_ENUM, .offset = F(action) },
		{ 0 },
	};

	apply_table(t);
}

/* twice_in_table - a table naming one setting twice */
static void
twice_in_table(void)
{
	static const struct conf_setting t[] = {
		{ .name = "count", .type = CONF_INT, .offset = F(count) },
		{ .name = "count", .type = CONF_INT, .offset = F(even) },
		{ 0 },
	};

	apply_table(t);
}

/* bad_type - a setting of no known type */
static void
bad_type(void)
{
	static const struct conf_setting t[] = {
		{ .name = "count", .type = (enum conf_type)99,
		  .offset = F(count) },
		{ 0 },
	};

	apply_table(t);
}

/* bad_enum_dump - dump an enum index past its choices */
static void
bad_enum_dump(void)
{
	struct tconf v = { 0 };
	FILE *fp = fopen("/dev/null", "w");

	v.action = 3;
	conf_dump(fp, "", tsettings, &v);
}

/* test_setting_error - a module's init error names the setting's line,
 * else its section's, else nothing */
static void
test_setting_error(void **state)
{
	struct conf_errors err = { 0 };
	struct conf_file *cf;
	struct buf b = { 0 };

	(void)state;
	cf = conf_load_string("m.conf",
	    "a = 1\n"
	    "[mod]\n"			/* 2 */
	    "delay = 5m\n"		/* 3 */
	    "\n"
	    "window = 1m\n", &err);	/* 5 */
	assert_int_equal(err.count, 0);
	conf_setting_error(&b, cf, "mod", "window", "must be longer than "
	    "delay (%ds)", 300);
	conf_setting_error(&b, cf, "mod", "max_age", "%s", "too short");
	conf_setting_error(&b, cf, "nosuch", "x", "no section");
	conf_setting_error(&b, NULL, "mod", "delay", "defaults");
	assert_string_equal(buf_cstr(&b),
	    "m.conf:5: window: must be longer than delay (300s)\n"
	    "m.conf:2: max_age: too short\n"
	    "x: no section\n"
	    "delay: defaults\n");
	buf_free(&b);
	conf_file_free(&cf);
	conf_errors_free(&err);
}

/* bound_not_parsed - a bound that its type does not read */
static void
bound_not_parsed(void)
{
	static const struct conf_setting t[] = {
		{ .name = "count", .type = CONF_INT, .offset = F(count),
		  .min = "one" },
		{ 0 },
	};

	apply_table(t);
}

/* bound_on_string - bounds on a type without an order */
static void
bound_on_string(void)
{
	static const struct conf_setting t[] = {
		{ .name = "name", .type = CONF_STRING, .offset = F(name),
		  .max = "z" },
		{ 0 },
	};

	apply_table(t);
}

/* default_out_of_bounds - a default outside its own bounds */
static void
default_out_of_bounds(void)
{
	static const struct conf_setting t[] = {
		{ .name = "size", .type = CONF_SIZE, .def = "2M",
		  .offset = F(size), .max = "1M" },
		{ 0 },
	};

	apply_table(t);
}

/* A table with bounds on every numeric type. */
static const struct conf_setting bounded[] = {
	{ .name = "count", .type = CONF_INT, .def = "0", .offset = F(count),
	  .min = "-5", .max = "5" },
	{ .name = "mode", .type = CONF_UINT, .def = "400", .offset = F(mode),
	  .min = "400", .max = "499" },
	{ .name = "score", .type = CONF_DOUBLE, .def = "0",
	  .offset = F(score), .max = "0" },
	{ .name = "delay", .type = CONF_DURATION, .def = "1s",
	  .offset = F(delay), .min = "1ms" },
	{ .name = "size", .type = CONF_SIZE, .def = "1k", .offset = F(size),
	  .min = "1", .max = "2047M" },
	{ .name = "even", .type = CONF_INT, .def = "2", .offset = F(even),
	  .min = "0", .validate = even_ok },
	{ 0 },
};

/* bounded_errors - apply text to the bounded table; the errors */
static char *
bounded_errors(const char *text, struct tconf *out)
{
	struct conf_errors err = { 0 };
	struct arena *a = arena_create();
	struct conf_file *cf = conf_load_string("b.conf", text, &err);
	char *r;

	assert_non_null(cf);
	conf_apply(cf, "", bounded, out, a, &err);
	r = strdup(buf_cstr(&err.text));
	conf_file_free(&cf);
	arena_destroy(&a);
	conf_errors_free(&err);
	return r;
}

/* test_bounds - min and max are inclusive, in the setting's own units,
 * and named in the error as written in the table */
static void
test_bounds(void **state)
{
	struct tconf t;
	char *e;

	(void)state;
	memset(&t, 0, sizeof(t));
	e = bounded_errors("count = -5\nmode = 499\nscore = -1.5\n"
	    "delay = 1ms\nsize = 2047M\neven = 0\n", &t);
	assert_string_equal(e, "");
	free(e);
	assert_int_equal(t.count, -5);
	assert_int_equal(t.mode, 499);
	assert_true(t.score == -1.5);
	assert_true(t.delay == 0.001);
	assert_int_equal(t.size, (uint64_t)2047 << 20);
	assert_int_equal(t.even, 0);
	e = bounded_errors("count = 6\nmode = 0500\nscore = off\n"
	    "delay = 0\nsize = 0\neven = -2\n", &t);
	assert_string_equal(e,
	    "b.conf:1: bad value '6' for 'count': must be from -5 to 5\n"
	    "b.conf:2: bad value '0500' for 'mode': must be from 400 to "
	    "499\n"
	    "b.conf:3: bad value 'off' for 'score': must be 0 or less\n"
	    "b.conf:4: bad value '0' for 'delay': must be 1ms or more\n"
	    "b.conf:5: bad value '0' for 'size': must be from 1 to 2047M\n"
	    "b.conf:6: bad value '-2' for 'even': must be 0 or more\n");
	free(e);
	/* the bounds come before the validator, which sees only values
	 * within them */
	e = bounded_errors("count = -6\nsize = 2048M\neven = 3\n", &t);
	assert_string_equal(e,
	    "b.conf:1: bad value '-6' for 'count': must be from -5 to 5\n"
	    "b.conf:2: bad value '2048M' for 'size': must be from 1 to "
	    "2047M\n"
	    "b.conf:3: bad value '3' for 'even': must be even\n");
	free(e);
}

/* test_bugs_panic - bugs in settings tables panic */
static void
test_bugs_panic(void **state)
{
	(void)state;
	testutil_expect_abort(bad_default);
	testutil_expect_abort(bad_list_default);
	testutil_expect_abort(enum_without_choices);
	testutil_expect_abort(twice_in_table);
	testutil_expect_abort(bad_type);
	testutil_expect_abort(bad_enum_dump);
	testutil_expect_abort(bound_not_parsed);
	testutil_expect_abort(bound_on_string);
	testutil_expect_abort(default_out_of_bounds);
}

/* test_empty_quotes - a value of exactly "" is empty; other quotes stay */
static void
test_empty_quotes(void **state)
{
	struct fixture f;

	(void)state;
	assert_string_equal(run(&f, "name = \"\"\nplain = \"x\"\n"), "");
	assert_string_equal(f.g.name, "");
	assert_string_equal(f.g.plain, "\"x\"");
	done(&f);
}

/* test_errors_sort - file then line order, stable, unplaced last */
static void
test_errors_sort(void **state)
{
	struct conf_errors err = { 0 };

	(void)state;
	conf_error(&err, "b.conf", 3, "third");
	conf_error(&err, "a.conf", 12, "twelve");
	conf_error(&err, "a.conf", 2, "two");
	buf_puts(&err.text, "no location here\n");
	err.count++;
	conf_error(&err, "a.conf", 2, "two again");
	conf_errors_sort(&err);
	assert_string_equal(buf_cstr(&err.text),
	    "a.conf:2: two\na.conf:2: two again\na.conf:12: twelve\n"
	    "b.conf:3: third\nno location here\n");
	assert_int_equal(err.count, 5);
	conf_errors_free(&err);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_only),
		cmocka_unit_test(test_empty_quotes),
		cmocka_unit_test(test_errors_sort),
		cmocka_unit_test(test_values_and_sections),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_continuation_errors),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_apply_count),
		cmocka_unit_test(test_type_bool),
		cmocka_unit_test(test_type_int),
		cmocka_unit_test(test_type_uint),
		cmocka_unit_test(test_type_double),
		cmocka_unit_test(test_type_duration),
		cmocka_unit_test(test_type_size),
		cmocka_unit_test(test_type_list),
		cmocka_unit_test(test_type_enum),
		cmocka_unit_test(test_type_table),
		cmocka_unit_test(test_type_string),
		cmocka_unit_test(test_long_value_clipped),
		cmocka_unit_test(test_line_limits),
		cmocka_unit_test(test_control_bytes),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_nul),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_conf_error),
		cmocka_unit_test(test_dump),
		cmocka_unit_test(test_dump_units),
		cmocka_unit_test(test_split_list),
		cmocka_unit_test(test_parse_functions),
		cmocka_unit_test(test_setting_error),
		cmocka_unit_test(test_bugs_panic),
		cmocka_unit_test(test_bounds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
