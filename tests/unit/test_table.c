/*
 * test_table.c - lookup tables: every type, errors with FILE:LINE, reload
 * and the surrogate error state
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "log.h"
#include "mem.h"
#include "table.h"
#include "testutil.h"

static char tmpdir[64];
static struct arena *arena;

/* setup - a fresh directory and arena per test */
static int
setup(void **state)
{
	(void)state;
	return testutil_setup(tmpdir, sizeof(tmpdir), "test_table", &arena);
}

/* teardown - remove the directory */
static int
teardown(void **state)
{
	(void)state;
	return testutil_teardown(tmpdir, &arena);
}

/* path_of - tmpdir/name in the arena */
static char *
path_of(const char *name)
{
	return arena_printf(arena, "%s/%s", tmpdir, name);
}

/* write_file - replace name's content (new inode via rename, like an
 * editor or a deploy tool would) and return its path */
static char *
write_file(const char *name, const char *text)
{
	return testutil_replace(arena, tmpdir, name, text);
}

/* spec_of - "type:tmpdir/name" */
static char *
spec_of(const char *type, const char *name)
{
	return arena_printf(arena, "%s:%s/%s", type, tmpdir, name);
}

/* open_ok - open or fail the test showing the error */
static struct table *
open_ok(const char *spec)
{
	char *err = NULL;
	struct table *t = table_open(spec, &err);

	if (t == NULL)
		fail_msg("table_open(%s): %s", spec, err);
	return t;
}

/* open_err - expect failure; the error text in the arena */
static const char *
open_err(const char *spec)
{
	char *err = NULL, *copy;
	struct table *t = table_open(spec, &err);

	if (t != NULL) {
		table_close(&t);
		fail_msg("table_open(%s) succeeded", spec);
	}
	assert_non_null(err);
	copy = arena_strdup(arena, err);
	free(err);
	return copy;
}

/* expect - lookup with the expected answer and value */
static void
expect(struct table *t, const char *key, enum table_result want,
    const char *value)
{
	const char *got = "untouched";
	enum table_result r = table_lookup(t, key, arena, &got);

	if (r != want)
		fail_msg("lookup(%s, \"%s\") = %d, want %d", table_spec(t), key,
		    r, want);
	if (want == TABLE_FOUND)
		assert_string_equal(got, value);
	else
		assert_string_equal(got, "untouched");
}

/* f - FILE:LINE: text for the expected errors */
static const char *
f(const char *name, int line, const char *text)
{
	return arena_printf(arena, "%s/%s:%d: %s", tmpdir, name, line, text);
}

/* --- hash --- */

/* test_hash_basic - found, not found, case folding, comments, continuation */
static void
test_hash_basic(void **state)
{
	struct table *t;

	(void)state;
	write_file("access",
	    "# comment\n"
	    "\n"
	    "Example.COM\tOK\n"
	    "user@example.org   REJECT go away  \r\n"
	    "   # indented comment does not break continuation\n"
	    "multi REJECT first\n"
	    "  second\n"
	    "\tthird\n"
	    "last DUNNO\n");
	t = open_ok(spec_of("hash", "access"));
	assert_false(table_is_pattern(t));
	expect(t, "example.com", TABLE_FOUND, "OK");
	expect(t, "EXAMPLE.com", TABLE_FOUND, "OK");
	expect(t, "User@Example.ORG", TABLE_FOUND, "REJECT go away");
	expect(t, "multi", TABLE_FOUND, "REJECT first  second\tthird");
	expect(t, "last", TABLE_FOUND, "DUNNO");
	expect(t, "second", TABLE_NOTFOUND, NULL);
	expect(t, "example", TABLE_NOTFOUND, NULL);
	expect(t, "", TABLE_NOTFOUND, NULL);
	assert_string_equal(table_spec(t), spec_of("hash", "access"));
	table_close(&t);
	assert_null(t);
	table_close(&t);
}

/* test_hash_duplicate_keeps_first - a repeated key keeps its first value */
static void
test_hash_duplicate_keeps_first(void **state)
{
	struct table *t;

	(void)state;
	write_file("dup", "a one\nA two\n");
	t = open_ok(spec_of("hash", "dup"));
	expect(t, "a", TABLE_FOUND, "one");
	table_close(&t);
}

/* test_hash_many_keys - the map grows correctly past many keys */
static void
test_hash_many_keys(void **state)
{
	struct table *t;
	FILE *fp;
	char key[32], val[32];
	int i;

	(void)state;
	fp = fopen(path_of("big"), "w");
	assert_non_null(fp);
	for (i = 0; i < 5000; i++)
		fprintf(fp, "key%d value%d\n", i, i);
	fclose(fp);
	t = open_ok(spec_of("hash", "big"));
	for (i = 0; i < 5000; i += 37) {
		snprintf(key, sizeof(key), "KEY%d", i);
		snprintf(val, sizeof(val), "value%d", i);
		expect(t, key, TABLE_FOUND, val);
	}
	expect(t, "key5000", TABLE_NOTFOUND, NULL);
	table_close(&t);
}

/* test_hash_bad_lines - every bad line is reported with FILE:LINE */
static void
test_hash_bad_lines(void **state)
{
	const char *err;
	char *want;

	(void)state;
	write_file("bad", "good OK\nlonely\n\nalso-lonely   \nfine x\n");
	err = open_err(spec_of("hash", "bad"));
	want = arena_printf(arena, "%s\n%s",
	    f("bad", 2, "expected format: key whitespace value"),
	    f("bad", 4, "expected format: key whitespace value"));
	assert_string_equal(err, want);
}

/* test_hash_nul_byte - a NUL byte in a line is an error */
static void
test_hash_nul_byte(void **state)
{
	FILE *fp;

	(void)state;
	fp = fopen(path_of("nul"), "w");
	assert_non_null(fp);
	fwrite("a b\nc\0d e\n", 1, 10, fp);
	fclose(fp);
	assert_string_equal(open_err(spec_of("hash", "nul")),
	    f("nul", 2, "NUL byte in line"));
}

/* test_missing_file - an unreadable file at open is an error */
static void
test_missing_file(void **state)
{
	(void)state;
	assert_string_equal(open_err(spec_of("hash", "none")),
	    arena_printf(arena, "%s/none: cannot open: %s", tmpdir,
	    strerror(ENOENT)));
	assert_string_equal(open_err(spec_of("cidr", "none")),
	    arena_printf(arena, "%s/none: cannot open: %s", tmpdir,
	    strerror(ENOENT)));
	assert_string_equal(open_err(spec_of("lmdb", "none")),
	    arena_printf(arena, "%s/none.lmdb: cannot open: %s", tmpdir,
	    strerror(ENOENT)));
}

/* test_bad_specs - unknown types and malformed specs */
static void
test_bad_specs(void **state)
{
	(void)state;
	assert_string_equal(open_err("nosuch:/x"),
	    "table \"nosuch:/x\": unsupported table type \"nosuch\"");
	assert_string_equal(open_err("/etc/postfix/access"),
	    "table \"/etc/postfix/access\": expected type:name");
	assert_string_equal(open_err("hash:"),
	    "table \"hash:\": missing name after \"hash:\"");
	assert_true(table_type_known("hash:/x"));
	assert_true(table_type_known("lmdb:x"));
	assert_true(table_type_known("inline:{a=b}"));
	assert_true(table_type_known("pcre:x"));
	assert_false(table_type_known("hashx:/x"));
	assert_false(table_type_known("hash"));
	assert_false(table_type_known("2001:db8::/32"));
	assert_false(table_type_known(NULL));
}

/* --- refresh and the surrogate --- */

/* test_refresh_reload_error_recover - reload, error state, recovery */
static void
test_refresh_reload_error_recover(void **state)
{
	struct table *t;
	const char *v = "untouched";

	(void)state;
	write_file("r", "a 1\n");
	t = open_ok(spec_of("hash", "r"));
	assert_true(table_refresh(t));		/* no change */
	expect(t, "a", TABLE_FOUND, "1");

	write_file("r", "a 2\nb 3\n");
	assert_true(table_refresh(t));
	expect(t, "a", TABLE_FOUND, "2");
	expect(t, "b", TABLE_FOUND, "3");

	/* garbage: every lookup is an error, never "not found" */
	write_file("r", "a 2\nbroken\n");
	assert_false(table_refresh(t));
	assert_int_equal(table_lookup(t, "a", arena, &v), TABLE_ERROR);
	assert_string_equal(v, "untouched");
	assert_int_equal(table_lookup(t, "zzz", arena, &v), TABLE_ERROR);
	assert_false(table_refresh(t));		/* still broken, no change */

	write_file("r", "a 4\n");
	assert_true(table_refresh(t));
	expect(t, "a", TABLE_FOUND, "4");
	expect(t, "zzz", TABLE_NOTFOUND, NULL);

	/* the file disappears */
	assert_int_equal(unlink(path_of("r")), 0);
	assert_false(table_refresh(t));
	expect(t, "a", TABLE_ERROR, NULL);
	write_file("r", "a 5\n");
	assert_true(table_refresh(t));
	expect(t, "a", TABLE_FOUND, "5");
	table_close(&t);
}

/* test_refresh_in_place_rewrite - same inode and size still reloads */
static void
test_refresh_in_place_rewrite(void **state)
{
	struct table *t;
	FILE *fp;

	(void)state;
	write_file("p", "k v1\n");
	t = open_ok(spec_of("hash", "p"));
	/* same inode, same size: only the mtime/ctime tell */
	usleep(20000);
	fp = fopen(path_of("p"), "w");
	assert_non_null(fp);
	fputs("k v2\n", fp);
	fclose(fp);
	assert_true(table_refresh(t));
	expect(t, "k", TABLE_FOUND, "v2");
	table_close(&t);
}

/* test_refresh_all - the registry refreshes every open table */
static void
test_refresh_all(void **state)
{
	struct table *a, *b;

	(void)state;
	write_file("ra", "k 1\n");
	write_file("rb", "192.0.2.0/24 1\n");
	a = open_ok(spec_of("hash", "ra"));
	b = open_ok(spec_of("cidr", "rb"));
	write_file("ra", "k 2\n");
	write_file("rb", "192.0.2.0/24 bad/extra\n198.51.100.0/33 x\n");
	table_refresh_all();
	expect(a, "k", TABLE_FOUND, "2");
	expect(b, "192.0.2.1", TABLE_ERROR, NULL);
	table_close(&a);
	table_close(&b);
	table_refresh_all();	/* closed tables are gone from the registry */
}

struct reader_arg {
	struct table *t;
	int errors;
};

/* reader - look up while another thread reloads */
static void *
reader(void *p)
{
	struct reader_arg *ra = p;
	struct arena *a = arena_create();
	const char *v;
	int i;

	for (i = 0; i < 20000; i++) {
		if (table_lookup(ra->t, "k", a, &v) != TABLE_FOUND ||
		    (strcmp(v, "one") != 0 && strcmp(v, "two") != 0))
			ra->errors++;
		if (i % 1000 == 0) {
			arena_destroy(&a);
			a = arena_create();
		}
	}
	arena_destroy(&a);
	return NULL;
}

/* test_refresh_concurrent - lookups stay consistent during reloads */
static void
test_refresh_concurrent(void **state)
{
	struct reader_arg ra = { 0 };
	pthread_t th[4];
	int i;

	(void)state;
	write_file("c", "k one\n");
	ra.t = open_ok(spec_of("hash", "c"));
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, &ra), 0);
	for (i = 0; i < 50; i++) {
		write_file("c", i % 2 ? "k one\n" : "k two\nx y\n");
		assert_true(table_refresh(ra.t));
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(ra.errors, 0);
	table_close(&ra.t);
}

/* --- inline and static --- */

/* test_inline - inline:{} items, braces, errors */
static void
test_inline(void **state)
{
	struct table *t;

	(void)state;
	t = open_ok("inline:{ Key=Value, key2=value2 ,{ k3 = text with, comma "
	    "}, k4=v4 k5=v5}");
	assert_false(table_is_pattern(t));
	expect(t, "key", TABLE_FOUND, "Value");
	expect(t, "KEY2", TABLE_FOUND, "value2");
	expect(t, "k3", TABLE_FOUND, "text with, comma");
	expect(t, "k4", TABLE_FOUND, "v4");
	expect(t, "k5", TABLE_FOUND, "v5");
	expect(t, "value", TABLE_NOTFOUND, NULL);
	assert_true(table_refresh(t));
	table_close(&t);

	assert_string_equal(open_err("inline:a=b"),
	    "inline:a=b: expected inline:{ key=value, ... }");
	assert_string_equal(open_err("inline:{ a=b, c, =d }"),
	    "inline:{ a=b, c, =d }: item \"c\": expected key=value\n"
	    "inline:{ a=b, c, =d }: item \"=d\": expected key=value");
	assert_string_equal(open_err("inline:{ { a=b }"),
	    "inline:{ { a=b }: missing '}'");
	assert_string_equal(open_err("inline:{ }"), "inline:{ }: empty table");
}

/* test_static - static: finds every key */
static void
test_static(void **state)
{
	struct table *t;

	(void)state;
	t = open_ok("static:REJECT");
	assert_true(table_is_pattern(t));
	expect(t, "anything", TABLE_FOUND, "REJECT");
	expect(t, "", TABLE_FOUND, "REJECT");
	table_close(&t);
	t = open_ok("static:{ 554 5.7.1 go away }");
	expect(t, "x", TABLE_FOUND, "554 5.7.1 go away");
	table_close(&t);
}

/* --- cidr --- */

/* test_cidr - first match, negation, IPv6, brackets */
static void
test_cidr(void **state)
{
	struct table *t;

	(void)state;
	write_file("nets",
	    "# first match wins\n"
	    "192.0.2.128/25\tsmall\n"
	    "192.0.2.0/24\tbig\n"
	    "198.51.100.7 host\n"
	    "!10.0.0.0/8 not-ten\n"
	    "2001:db8:1::/48 v6net\n"
	    "[2001:db8:2::1] v6host\n"
	    "[2001:db8:3::]/64 v6bracket\n"
	    "203.0.113.0/24 continued\n"
	    " value\n");
	t = open_ok(spec_of("cidr", "nets"));
	assert_true(table_is_pattern(t));
	expect(t, "192.0.2.200", TABLE_FOUND, "small");
	expect(t, "192.0.2.1", TABLE_FOUND, "big");
	expect(t, "198.51.100.7", TABLE_FOUND, "host");
	/* 198.51.100.8 is outside 10/8: the negation matches */
	expect(t, "198.51.100.8", TABLE_FOUND, "not-ten");
	expect(t, "10.1.2.3", TABLE_NOTFOUND, NULL);
	expect(t, "2001:db8:1:ffff::1", TABLE_FOUND, "v6net");
	expect(t, "2001:DB8:2:0::1", TABLE_FOUND, "v6host");
	expect(t, "[2001:db8:3::9]", TABLE_FOUND, "v6bracket");
	/* IPv4 negation never matches an IPv6 key (Postfix) */
	expect(t, "2001:db8:9::1", TABLE_NOTFOUND, NULL);
	/* mapped addresses are IPv4 */
	expect(t, "::ffff:192.0.2.1", TABLE_FOUND, "big");
	expect(t, "not-an-address", TABLE_NOTFOUND, NULL);
	expect(t, "", TABLE_NOTFOUND, NULL);
	table_close(&t);
}

/* test_cidr_if - nested if/endif blocks and families */
static void
test_cidr_if(void **state)
{
	struct table *t;

	(void)state;
	write_file("if",
	    "if 10.0.0.0/8\n"
	    "IF !10.1.0.0/16\n"
	    "10.2.0.0/16 ten-two\n"
	    "endif\n"
	    "10.0.0.0/8 ten\n"
	    "ENDIF\n"
	    "if 2001:db8::/32\n"
	    "::/0 doc\n"
	    "endif\n"
	    "0.0.0.0/0 any4\n");
	t = open_ok(spec_of("cidr", "if"));
	expect(t, "10.2.3.4", TABLE_FOUND, "ten-two");
	expect(t, "10.1.3.4", TABLE_FOUND, "ten");
	expect(t, "10.9.9.9", TABLE_FOUND, "ten");
	expect(t, "11.0.0.1", TABLE_FOUND, "any4");
	expect(t, "2001:db8::5", TABLE_FOUND, "doc");
	expect(t, "2001:db9::5", TABLE_NOTFOUND, NULL);
	table_close(&t);
}

/* test_cidr_errors - host bits and syntax errors with FILE:LINE */
static void
test_cidr_errors(void **state)
{
	const char *err;
	char *want;

	(void)state;
	write_file("bad",
	    "192.0.2.1/24 hostbits\n"
	    "2001:db8::1/32 v6hostbits\n"
	    "300.1.2.3 bad\n"
	    "192.0.2.0/33 long\n"
	    "192.0.2.0/24\n"
	    "endif\n"
	    "if 10.0.0.0/8 extra\n"
	    "if 10.0.0.0/8\n"
	    "10.0.0.0/8 ok\n");
	err = open_err(spec_of("cidr", "bad"));
	want = arena_printf(arena, "%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s",
	    f("bad", 1, "bad address pattern \"192.0.2.1/24\": non-null host "
	    "address bits (network is 192.0.2.0/24)"),
	    f("bad", 2, "bad address pattern \"2001:db8::1/32\": non-null "
	    "host address bits (network is 2001:db8::/32)"),
	    f("bad", 3, "bad address pattern \"300.1.2.3\": bad address"),
	    f("bad", 4, "bad address pattern \"192.0.2.0/33\": bad prefix "
	    "length"),
	    f("bad", 5, "expected format: network/prefix whitespace result"),
	    f("bad", 6, "endif without matching if"),
	    f("bad", 7, "expected format: if network/prefix"),
	    f("bad", 8, "if without matching endif"));
	assert_string_equal(err, want);
}

/* --- regexp and pcre --- */

/* test_regexp - $N substitution, if/endif, negation, case toggle */
static void
test_regexp(void **state)
{
	struct table *t;

	(void)state;
	write_file("re",
	    "/^(.*)@(.*)\\.example\\.com$/\tuser=$1 host=${2} $$5 $(1)\n"
	    "/^CASE$/\tinsensitive\n"
	    "/^Exact$/i\tsensitive\n"
	    "%/delim%\tother delimiter\n"
	    "!/^[a-z0-9.@-]+$/\tstrange characters\n"
	    "if /^mail/\n"
	    "/^mail(x)?\\.org$/\tmail org [$1]\n"
	    "endif\n"
	    "/^mail/\tmail other\n"
	    "/^a b/\tcontinued\n"
	    "\tresult\n");
	t = open_ok(spec_of("regexp", "re"));
	assert_true(table_is_pattern(t));
	expect(t, "joe@mx.example.com", TABLE_FOUND,
	    "user=joe host=mx $5 joe");
	expect(t, "case", TABLE_FOUND, "insensitive");
	expect(t, "Exact", TABLE_FOUND, "sensitive");
	expect(t, "exact", TABLE_NOTFOUND, NULL);
	expect(t, "we ird", TABLE_FOUND, "strange characters");
	expect(t, "mail.org", TABLE_FOUND, "mail org []");
	expect(t, "mailx.org", TABLE_FOUND, "mail org [x]");
	expect(t, "mail.net", TABLE_FOUND, "mail other");
	expect(t, "x/delim", TABLE_FOUND, "other delimiter");
	expect(t, "nothing", TABLE_NOTFOUND, NULL);
	/* the line of the entry that matched */
	{
		static const struct {
			const char *key;
			int line;
		} lines[] = {
			{ "joe@mx.example.com", 1 }, { "case", 2 },
			{ "mailx.org", 7 }, { "mail.net", 9 }, { "we ird", 5 },
			{ "nothing", 0 },
		};
		struct arena *a = arena_create();
		const char *v;
		int line;

		for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
			line = -1;
			(void)table_lookup_line(t, lines[i].key, a, &v, &line);
			assert_int_equal(line, lines[i].line);
		}
		arena_destroy(&a);
	}
	table_close(&t);
}

/* test_regexp_errors - bad patterns, flags and results with FILE:LINE */
static void
test_regexp_errors(void **state)
{
	const char *err;
	char *want;

	(void)state;
	write_file("bad",
	    "/a(/ x\n"
	    "/(a)/ $2\n"
	    "!/(b)/ $1\n"
	    "/x/q y\n"
	    "/x/x y\n"
	    "/x/\n"
	    "/x y\n"
	    "/(x)/ $name\n"
	    "if /a/ extra\n"
	    "endif\n"
	    "if /b/\n");
	err = open_err(spec_of("regexp", "bad"));
	want = arena_printf(arena,
	    "%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s",
	    f("bad", 1, "bad regular expression \"a(\": missing closing "
	    "parenthesis at offset 2"),
	    f("bad", 2, "out-of-range replacement index $2 (the pattern has "
	    "1 subexpressions)"),
	    f("bad", 3, "$1 in the result of a negated pattern"),
	    f("bad", 4, "unknown flag \"q\""),
	    f("bad", 5, "unsupported flag \"x\": POSIX basic regular "
	    "expressions are not supported; write the pattern as an extended "
	    "one"),
	    f("bad", 6, "expected format: /pattern/flags result"),
	    f("bad", 7, "missing closing delimiter '/'"),
	    f("bad", 8, "non-numeric replacement index after $"),
	    f("bad", 9, "text after if pattern: \"extra\""),
	    f("bad", 10, "endif without matching if"),
	    f("bad", 11, "if without matching endif"));
	assert_string_equal(err, want);
}

/* test_pcre - pcre flags and regexp POSIX-like defaults */
static void
test_pcre(void **state)
{
	struct table *t;

	(void)state;
	write_file("pc",
	    "/^ a \\s b $/x\textended\n"
	    "/^(?<u>[^@]+)@example\\.net$/\tuser $1\n"
	    "/^Lazy(.+?)(x*)$/\tlazy[$1][$2]\n"
	    "/^two\\nlines$/m\tmultiline\n");
	t = open_ok(spec_of("pcre", "pc"));
	expect(t, "a b", TABLE_FOUND, "extended");
	expect(t, "A\tB", TABLE_FOUND, "extended");
	expect(t, "Bob@EXAMPLE.net", TABLE_FOUND, "user Bob");
	expect(t, "lazyAxx", TABLE_FOUND, "lazy[A][xx]");
	expect(t, "two\nlines", TABLE_FOUND, "multiline");
	table_close(&t);

	/* regexp: "$" is the very end, "." crosses lines (POSIX) */
	write_file("dollar", "/^a$/ end\n/^b.c$/ dot\n");
	t = open_ok(spec_of("regexp", "dollar"));
	expect(t, "a\n", TABLE_NOTFOUND, NULL);
	expect(t, "b\nc", TABLE_FOUND, "dot");
	table_close(&t);
	t = open_ok(spec_of("pcre", "dollar"));
	expect(t, "a\n", TABLE_FOUND, "end");
	expect(t, "b\nc", TABLE_NOTFOUND, NULL);
	table_close(&t);
}

/* test_regexp_match_limit - runaway backtracking answers error */
static void
test_regexp_match_limit(void **state)
{
	struct table *t;
	char key[64];

	(void)state;
	write_file("slow", "/^(a+)+$/ never\n");
	t = open_ok(spec_of("pcre", "slow"));
	memset(key, 'a', sizeof(key) - 2);
	key[sizeof(key) - 2] = '!';
	key[sizeof(key) - 1] = '\0';
	/* catastrophic backtracking is an error, not a quiet "no" */
	expect(t, key, TABLE_ERROR, NULL);
	table_close(&t);
}

/* --- lmdb --- */

/* test_lmdb - compile, lookup, recompile picked up, broken file */
static void
test_lmdb(void **state)
{
	struct table *t;
	char *src, *err = NULL;
	struct stat sb;

	(void)state;
	src = write_file("map", "Key1 value one\nkey2\tvalue two\n"
	    "  continued\nkey1 duplicate\n");
	assert_true(table_compile(src, &err));
	assert_int_equal(stat(arena_printf(arena, "%s.lmdb", src), &sb), 0);
	t = open_ok(spec_of("lmdb", "map"));
	assert_false(table_is_pattern(t));
	expect(t, "KEY1", TABLE_FOUND, "value one");
	expect(t, "key2", TABLE_FOUND, "value two  continued");
	expect(t, "key3", TABLE_NOTFOUND, NULL);
	expect(t, "", TABLE_NOTFOUND, NULL);
	assert_true(table_refresh(t));

	/* recompiling replaces the file; refresh sees the new inode */
	write_file("map", "key3 three\n");
	expect(t, "key1", TABLE_FOUND, "value one");
	assert_true(table_compile(src, &err));
	assert_true(table_refresh(t));
	expect(t, "key1", TABLE_NOTFOUND, NULL);
	expect(t, "key3", TABLE_FOUND, "three");

	/* a broken compiled file puts the table in the error state */
	write_file("map.lmdb", "this is not an LMDB file at all\n");
	assert_false(table_refresh(t));
	expect(t, "key3", TABLE_ERROR, NULL);
	assert_true(table_compile(src, &err));
	assert_true(table_refresh(t));
	expect(t, "key3", TABLE_FOUND, "three");
	table_close(&t);
}

/* test_lmdb_compile_errors - compile errors name FILE:LINE, write nothing */
static void
test_lmdb_compile_errors(void **state)
{
	char *src, *err = NULL, *want, *longkey;

	(void)state;
	src = write_file("bad", "ok 1\nnovalue\nok2 2\n\tcont\nalso\n");
	assert_false(table_compile(src, &err));
	want = arena_printf(arena, "%s\n%s",
	    f("bad", 2, "expected format: key whitespace value"),
	    f("bad", 5, "expected format: key whitespace value"));
	assert_string_equal(err, want);
	free(err);
	err = NULL;
	/* nothing was written, not even a temporary file */
	assert_int_equal(access(arena_printf(arena, "%s.lmdb", src), F_OK),
	    -1);

	longkey = arena_alloc(arena, 600);
	memset(longkey, 'k', 599);
	src = write_file("long", arena_printf(arena, "%s v\n", longkey));
	assert_false(table_compile(src, &err));
	assert_string_equal(err, f("long", 1, "key longer than 511 bytes"));
	free(err);
	err = NULL;

	assert_false(table_compile(path_of("absent"), &err));
	assert_string_equal(err, arena_printf(arena,
	    "%s/absent: cannot open: %s", tmpdir, strerror(ENOENT)));
	free(err);
}

/* test_lmdb_large - many entries */
static void
test_lmdb_large(void **state)
{
	struct table *t;
	char *src, *err = NULL, key[32];
	FILE *fp;
	int i;

	(void)state;
	src = path_of("large");
	fp = fopen(src, "w");
	assert_non_null(fp);
	/* more data than one LMDB page tree level */
	for (i = 0; i < 20000; i++)
		fprintf(fp, "k%d v%d\n", i, i);
	fclose(fp);
	assert_true(table_compile(src, &err));
	t = open_ok(spec_of("lmdb", "large"));
	snprintf(key, sizeof(key), "k%d", 19999);
	expect(t, key, TABLE_FOUND, "v19999");
	table_close(&t);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hash_basic, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hash_duplicate_keeps_first,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_hash_many_keys, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hash_bad_lines, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hash_nul_byte, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_specs, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_refresh_reload_error_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_in_place_rewrite,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_all, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refresh_concurrent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_inline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_static, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cidr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cidr_if, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cidr_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_regexp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_regexp_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pcre, setup, teardown),
		cmocka_unit_test_setup_teardown(test_regexp_match_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lmdb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lmdb_compile_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lmdb_large, setup,
		    teardown),
	};

	log_init("test_table", true);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
