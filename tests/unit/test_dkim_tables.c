/*
 * test_dkim_tables.c - OpenDKIM's KeyTable and SigningTable: selection
 * for file: and refile:, "%" and i=, syntax, and every load error with
 * FILE:LINE
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "dkim_key.h"
#include "dkim_tables.h"
#include "testutil.h"

#define KEYS TOP_SRCDIR "/tests/data/dkim/"

static char tmpdir[64];
static struct arena *arena;

/* setup - a fresh directory and arena per test */
static int
setup(void **state)
{
	(void)state;
	return testutil_setup(tmpdir, sizeof(tmpdir), "test_dkim_tables",
	    &arena);
}

/* teardown - remove the directory */
static int
teardown(void **state)
{
	(void)state;
	return testutil_teardown(tmpdir, &arena);
}

/* put - write tmpdir/name, return its path */
static char *
put(const char *name, const char *text)
{
	return testutil_put(arena, tmpdir, name, text);
}

/* try_load - write both tables (st_type is "file:", "refile:" or "" for
 * a bare path) and load them; the error, if any, is copied to the arena */
static bool
try_load(const char *kt, const char *st_type, const char *st,
    struct dkim_tables **tables_r, char **error_r)
{
	char *ktpath = put("keytable", kt), *stpath = put("signingtable", st);
	char *error = NULL;
	bool ok;

	*tables_r = NULL;
	ok = dkim_tables_load(arena, arena_printf(arena, "file:%s", ktpath),
	    arena_printf(arena, "%s%s", st_type, stpath), tables_r, &error);
	*error_r = NULL;
	if (!ok) {
		assert_non_null(error);
		*error_r = arena_strdup(arena, error);
		free(error);
	}
	return ok;
}

/* load - both tables must load */
static struct dkim_tables *
load(const char *kt, const char *st_type, const char *st)
{
	struct dkim_tables *tables;
	char *error;

	if (!try_load(kt, st_type, st, &tables, &error))
		fail_msg("load failed: %s", error);
	assert_non_null(tables);
	return tables;
}

/* load_error - both tables must be refused; the report */
static char *
load_error(const char *kt, const char *st_type, const char *st)
{
	struct dkim_tables *tables;
	char *error;

	assert_false(try_load(kt, st_type, st, &tables, &error));
	return error;
}

/* kt_path - the KeyTable file written by try_load */
static char *
kt_path(void)
{
	return arena_printf(arena, "%s/keytable", tmpdir);
}

/* st_path - the SigningTable file written by try_load */
static char *
st_path(void)
{
	return arena_printf(arena, "%s/signingtable", tmpdir);
}

/* key_load_error - what dkim_key_load says about path */
static char *
key_load_error(const char *path)
{
	struct dkim_key key;
	char *error = NULL, *copy;

	assert_false(dkim_key_load(arena, path, &key, &error));
	copy = arena_strdup(arena, error);
	free(error);
	return copy;
}

/* key_parse_error - what dkim_key_parse says about text */
static char *
key_parse_error(const char *text)
{
	struct dkim_key key;
	char *error = NULL, *copy;

	assert_false(dkim_key_parse(arena, text, strlen(text), &key, &error));
	copy = arena_strdup(arena, error);
	free(error);
	return copy;
}

/* dns_p_of - the public key of a key file, to tell keys apart */
static const char *
dns_p_of(const char *path)
{
	struct dkim_key key;
	char *error = NULL;

	if (!dkim_key_load(arena, path, &key, &error))
		fail_msg("%s", error);
	return key.dns_p;
}

/* base64_of - the base64 body of a PEM key file, lines joined */
static char *
base64_of(const char *path)
{
	FILE *fp = fopen(path, "r");
	char line[256], *out = arena_strdup(arena, "");

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strncmp(line, "-----", 5) != 0)
			out = arena_printf(arena, "%s%s", out, line);
	}
	fclose(fp);
	return out;
}

/* select_names - the key names selected, space separated ("" if none) */
static char *
select_names(const struct dkim_tables *tables, const char *local,
    const char *domain, bool multiple, size_t max)
{
	struct dkim_signer out[8];
	char *names = arena_strdup(arena, "");
	size_t n, i;

	assert_true(max <= 8);
	memset(out, 0, sizeof(out));
	n = dkim_tables_select(tables, local, domain, multiple, arena, out,
	    max);
	assert_true(n <= max);
	for (i = 0; i < n; i++)
		names = arena_printf(arena, "%s%s%s", names, i ? " " : "",
		    out[i].keyname);
	return names;
}

/* pair_keytable - the usual OpenDKIM pair: RSA and Ed25519 for one domain */
static const char *
pair_keytable(void)
{
	return arena_printf(arena,
	    "rsa-key example.com:rsa2024:%srsa.private\n"
	    "ed-key example.com:ed2024:%sed.private\n", KEYS, KEYS);
}

/* test_refile_pair - both signatures with multiple, the first without */
static void
test_refile_pair(void **state)
{
	struct dkim_tables *t;
	struct dkim_signer out[4];
	size_t n;

	(void)state;
	t = load(pair_keytable(), "refile:",
	    "*@example.com rsa-key\n"
	    "*@example.com ed-key\n");
	memset(out, 0, sizeof(out));
	n = dkim_tables_select(t, "alice", "example.com", true, arena, out, 4);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].keyname, "rsa-key");
	assert_string_equal(out[0].domain, "example.com");
	assert_string_equal(out[0].selector, "rsa2024");
	assert_null(out[0].identity);
	assert_int_equal(out[0].key->type, DKIM_KEY_RSA);
	assert_string_equal(out[0].key->dns_p, dns_p_of(KEYS "rsa.private"));
	assert_string_equal(out[1].keyname, "ed-key");
	assert_string_equal(out[1].domain, "example.com");
	assert_string_equal(out[1].selector, "ed2024");
	assert_null(out[1].identity);
	assert_int_equal(out[1].key->type, DKIM_KEY_ED25519);
	assert_string_equal(out[1].key->dns_p, dns_p_of(KEYS "ed.private"));

	memset(out, 0, sizeof(out));
	n = dkim_tables_select(t, "alice", "example.com", false, arena, out,
	    4);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].keyname, "rsa-key");
	assert_int_equal(out[0].key->type, DKIM_KEY_RSA);

	/* '*' runs up to "@example.com", which a subdomain does not have */
	assert_string_equal(select_names(t, "alice", "sub.example.com", true,
	    4), "");
	assert_string_equal(select_names(t, "alice", "example.org", true, 4),
	    "");
}

/* test_refile_order - lines in file order; every character but '*' is
 * literal, '.' and '+' included (OpenDKIM escapes them) */
static void
test_refile_order(void **state)
{
	struct dkim_tables *t;

	(void)state;
	t = load(pair_keytable(), "refile:",
	    "alice@example.com ed-key\n"
	    "a+b@example.com ed-key\n"
	    "*@example.com rsa-key\n"
	    "*@*.example.com ed-key\n");
	assert_string_equal(select_names(t, "alice", "example.com", false, 4),
	    "ed-key");
	assert_string_equal(select_names(t, "alice", "example.com", true, 4),
	    "ed-key rsa-key");
	assert_string_equal(select_names(t, "bob", "example.com", false, 4),
	    "rsa-key");
	assert_string_equal(select_names(t, "a+b", "example.com", true, 4),
	    "ed-key rsa-key");
	assert_string_equal(select_names(t, "aab", "example.com", true, 4),
	    "rsa-key");
	assert_string_equal(select_names(t, "bob", "exampleXcom", true, 4),
	    "");
	assert_string_equal(select_names(t, "bob", "a.b.example.com", true,
	    4), "ed-key");
	assert_string_equal(select_names(t, "", "example.com", true, 4),
	    "rsa-key");
}

/*
 * The file: lookup keys for alice@mail.example.com, most specific first.
 * Each step must beat every later one, so the tables below are written
 * in reverse: file order cannot be what decides.
 */
static const struct {
	const char *pattern;
	const char *key;
} steps[] = {
	{ "alice@mail.example.com", "k-user-host" },
	{ "mail.example.com", "k-host" },
	{ "alice@.example.com", "k-user-parent" },
	{ "alice@.com", "k-user-grandparent" },
	{ ".example.com", "k-parent" },
	{ ".com", "k-grandparent" },
	{ "alice@*", "k-user-any" },
	{ "*", "k-any" },
};

#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

/* steps_keytable - one key per step, all the same key file */
static char *
steps_keytable(void)
{
	char *kt = arena_strdup(arena, "");
	size_t i;

	for (i = 0; i < NSTEPS; i++)
		kt = arena_printf(arena,
		    "%s%s example.com:s%zu:%srsa.private\n", kt, steps[i].key,
		    i, KEYS);
	return kt;
}

/* steps_signtable - steps first..NSTEPS-1, last first */
static char *
steps_signtable(size_t first)
{
	char *st = arena_strdup(arena, "");
	size_t i;

	for (i = NSTEPS; i > first; i--)
		st = arena_printf(arena, "%s%s %s\n", st, steps[i - 1].pattern,
		    steps[i - 1].key);
	return st;
}

/* test_file_order - one case per step of OpenDKIM's lookup order */
static void
test_file_order(void **state)
{
	struct dkim_tables *t;
	char *kt = steps_keytable();
	size_t first;

	(void)state;
	for (first = 0; first < NSTEPS; first++) {
		t = load(kt, "file:", steps_signtable(first));
		assert_string_equal(select_names(t, "alice",
		    "mail.example.com", true, 4), steps[first].key);
		assert_string_equal(select_names(t, "alice",
		    "mail.example.com", false, 4), steps[first].key);
	}

	/* user entries belong to that user; host entries are exact, parent
	 * entries need the dot and do not cover the host itself */
	t = load(kt, "file:", steps_signtable(0));
	assert_string_equal(select_names(t, "bob", "mail.example.com", true,
	    4), "k-host");
	assert_string_equal(select_names(t, "bob", "sub.mail.example.com",
	    true, 4), "k-parent");
	assert_string_equal(select_names(t, "alice", "sub.mail.example.com",
	    true, 4), "k-user-parent");
	assert_string_equal(select_names(t, "bob", "example.com", true, 4),
	    "k-grandparent");
	assert_string_equal(select_names(t, "alice", "example.com", true, 4),
	    "k-user-grandparent");
	assert_string_equal(select_names(t, "alice", "example.org", true, 4),
	    "k-user-any");
	assert_string_equal(select_names(t, "bob", "localhost", true, 4),
	    "k-any");
}

/* test_file_multiple - a key on several lines: each line signs with
 * multiple, only the first without; later steps do not add */
static void
test_file_multiple(void **state)
{
	struct dkim_tables *t;

	(void)state;
	t = load(pair_keytable(), "file:",
	    "* rsa-key\n"
	    "example.com ed-key\n"
	    "example.org rsa-key\n"
	    "example.com rsa-key\n");
	assert_string_equal(select_names(t, "alice", "example.com", true, 4),
	    "ed-key rsa-key");
	assert_string_equal(select_names(t, "alice", "example.com", false, 4),
	    "ed-key");
	assert_string_equal(select_names(t, "alice", "example.net", true, 4),
	    "rsa-key");

	/* '*' means something only as "*" and "user@*" */
	t = load(pair_keytable(), "file:", "*@example.com rsa-key\n");
	assert_string_equal(select_names(t, "alice", "example.com", true, 4),
	    "");
}

/* test_max - never more than max, whatever matches */
static void
test_max(void **state)
{
	struct dkim_tables *t;
	struct dkim_signer out[3];
	const char *st =
	    "*@example.com rsa-key\n"
	    "*@example.com ed-key\n"
	    "*@example.com rsa-key:alice@example.com\n";

	(void)state;
	t = load(pair_keytable(), "refile:", st);
	assert_string_equal(select_names(t, "alice", "example.com", true, 3),
	    "rsa-key ed-key rsa-key");
	assert_string_equal(select_names(t, "alice", "example.com", true, 2),
	    "rsa-key ed-key");
	assert_string_equal(select_names(t, "alice", "example.com", true, 1),
	    "rsa-key");
	assert_int_equal(dkim_tables_select(t, "alice", "example.com", true,
	    arena, NULL, 0), 0);
	assert_int_equal(dkim_tables_select(t, "alice", "example.com", false,
	    arena, NULL, 0), 0);
	memset(out, 0, sizeof(out));
	assert_int_equal(dkim_tables_select(t, "alice", "example.com", true,
	    arena, out, 3), 3);
	assert_string_equal(out[2].identity, "alice@example.com");

	t = load(pair_keytable(), "file:",
	    "example.com rsa-key\nexample.com ed-key\nexample.com rsa-key\n");
	assert_string_equal(select_names(t, "alice", "example.com", true, 2),
	    "rsa-key ed-key");
	assert_string_equal(select_names(t, "alice", "example.com", true, 3),
	    "rsa-key ed-key rsa-key");
}

/* test_no_match - 0 for addresses the tables do not cover */
static void
test_no_match(void **state)
{
	struct dkim_tables *t;
	struct dkim_signer out[2];

	(void)state;
	t = load(pair_keytable(), "file:", "example.com rsa-key\n");
	memset(out, 0, sizeof(out));
	assert_int_equal(dkim_tables_select(t, "alice", "example.org", true,
	    arena, out, 2), 0);
	assert_null(out[0].keyname);
	assert_int_equal(dkim_tables_select(t, "alice", "xexample.com", true,
	    arena, out, 2), 0);

	t = load(pair_keytable(), "refile:", "*@example.com rsa-key\n");
	assert_int_equal(dkim_tables_select(t, "alice", "example.org", true,
	    arena, out, 2), 0);

	/* tables with nothing in them load and sign nothing */
	t = load("# no keys\n", "file:", "\n# nothing\n");
	assert_int_equal(dkim_tables_select(t, "alice", "example.com", true,
	    arena, out, 2), 0);
	t = load("", "refile:", "");
	assert_int_equal(dkim_tables_select(t, "alice", "example.com", true,
	    arena, out, 2), 0);
}

/* test_case - addresses and patterns match without case; key names
 * are case-sensitive, as in OpenDKIM */
static void
test_case(void **state)
{
	struct dkim_tables *t;
	struct dkim_signer out[2];
	char *error;

	(void)state;
	t = load(pair_keytable(), "file:",
	    "Alice@Example.COM rsa-key\n"
	    "EXAMPLE.ORG ed-key\n"
	    ".Example.NET ed-key\n"
	    "BOB@* rsa-key\n");
	assert_string_equal(select_names(t, "ALICE", "example.com", true, 2),
	    "rsa-key");
	assert_string_equal(select_names(t, "alice", "eXample.Com", true, 2),
	    "rsa-key");
	assert_string_equal(select_names(t, "x", "Example.Org", true, 2),
	    "ed-key");
	assert_string_equal(select_names(t, "x", "MAIL.example.net", true, 2),
	    "ed-key");
	assert_string_equal(select_names(t, "Bob", "example.info", true, 2),
	    "rsa-key");

	t = load(pair_keytable(), "refile:", "*@EXAMPLE.com ed-key\n");
	assert_string_equal(select_names(t, "Bob", "Example.Com", true, 2),
	    "ed-key");

	/* the From domain stands in for "%" as it was written */
	t = load(arena_printf(arena, "any %%:sel:%srsa.private\n", KEYS),
	    "refile:", "* any:@%\n");
	memset(out, 0, sizeof(out));
	assert_int_equal(dkim_tables_select(t, "Bob", "Example.ORG", true,
	    arena, out, 2), 1);
	assert_string_equal(out[0].domain, "Example.ORG");
	assert_string_equal(out[0].identity, "@Example.ORG");

	error = load_error(pair_keytable(), "file:", "example.com RSA-key\n");
	assert_string_equal(error, arena_printf(arena,
	    "%s:1: unknown key name \"RSA-key\" (not in %s)", st_path(),
	    kt_path()));
}

/* test_percent - "%" as KeyTable domain and in SIGNER, i= as written */
static void
test_percent(void **state)
{
	struct dkim_tables *t;
	struct dkim_signer out[5];
	size_t n;

	(void)state;
	t = load(arena_printf(arena,
	    "any %%:any:%srsa.private\n"
	    "fixed example.com:fixed:%sed.private\n", KEYS, KEYS),
	    "refile:",
	    "*@example.org any:postmaster@%\n"
	    "*@example.org fixed:%-bounces@%\n"
	    "*@example.org any:alice@example.org\n"
	    "*@example.org fixed\n"
	    "*@example.org any:\n");
	memset(out, 0, sizeof(out));
	n = dkim_tables_select(t, "alice", "example.org", true, arena, out, 5);
	assert_int_equal(n, 5);
	assert_string_equal(out[0].keyname, "any");
	assert_string_equal(out[0].domain, "example.org");
	assert_string_equal(out[0].selector, "any");
	assert_string_equal(out[0].identity, "postmaster@example.org");
	assert_int_equal(out[0].key->type, DKIM_KEY_RSA);
	assert_string_equal(out[1].keyname, "fixed");
	assert_string_equal(out[1].domain, "example.com");
	assert_string_equal(out[1].identity,
	    "example.org-bounces@example.org");
	assert_int_equal(out[1].key->type, DKIM_KEY_ED25519);
	assert_string_equal(out[2].domain, "example.org");
	assert_string_equal(out[2].identity, "alice@example.org");
	assert_string_equal(out[3].domain, "example.com");
	assert_null(out[3].identity);
	/* an empty SIGNER is no SIGNER */
	assert_string_equal(out[4].domain, "example.org");
	assert_null(out[4].identity);

	/* the same in a file: table, for another domain */
	t = load(arena_printf(arena, "any %%:any:%srsa.private\n", KEYS),
	    "file:", "example.net any:%\n");
	memset(out, 0, sizeof(out));
	assert_int_equal(dkim_tables_select(t, "x", "example.net", true,
	    arena, out, 1), 1);
	assert_string_equal(out[0].domain, "example.net");
	assert_string_equal(out[0].identity, "example.net");
}

/* test_bare_path - a table named without a type is file: */
static void
test_bare_path(void **state)
{
	struct dkim_tables *t;
	char *ktpath, *stpath, *error = NULL;

	(void)state;
	ktpath = put("kt", pair_keytable());
	stpath = put("st", "example.com ed-key\n*@example.com rsa-key\n");
	assert_true(dkim_tables_load(arena, ktpath, stpath, &t, &error));
	assert_null(error);
	/* exact lookups: "*@example.com" is no wildcard in a file: table */
	assert_string_equal(select_names(t, "alice", "example.com", true, 4),
	    "ed-key");
	assert_string_equal(select_names(t, "alice", "example.org", true, 4),
	    "");
	t = load(pair_keytable(), "", "*@example.com rsa-key\n* ed-key\n");
	assert_string_equal(select_names(t, "alice", "example.com", true, 4),
	    "ed-key");
}

/* test_syntax - comments, blank lines, continuation lines */
static void
test_syntax(void **state)
{
	struct dkim_tables *t;
	struct dkim_signer out[2];
	char *error;

	(void)state;
	t = load(arena_printf(arena,
	    "# OpenDKIM KeyTable\n"
	    "   # an indented comment\n"
	    "\n"
	    "rsa-key\texample.com:sel:%srsa.private   # trailing comment\n"
	    "ed-key\n"
	    "\n"
	    "    # a comment inside a continued line\n"
	    "\texample.com:ed:\n"
	    "\t   %sed.private\n", KEYS, KEYS),
	    "refile:",
	    "# SigningTable\n"
	    "  *@example.org rsa-key\n"
	    "*@example.com    # who signs\n"
	    "\trsa-key:alice@example.com\n"
	    "*@example.com ed-key\r\n");
	memset(out, 0, sizeof(out));
	assert_int_equal(dkim_tables_select(t, "alice", "example.com", true,
	    arena, out, 2), 2);
	assert_string_equal(out[0].keyname, "rsa-key");
	assert_string_equal(out[0].selector, "sel");
	assert_string_equal(out[0].identity, "alice@example.com");
	assert_string_equal(out[1].keyname, "ed-key");
	assert_string_equal(out[1].selector, "ed");
	assert_int_equal(out[1].key->type, DKIM_KEY_ED25519);
	/* an indented first line is a line of its own */
	assert_string_equal(select_names(t, "bob", "example.org", true, 2),
	    "rsa-key");

	/* errors name the first physical line of a continued line */
	error = load_error(pair_keytable(), "file:",
	    "# comment\n"
	    "example.com\n"
	    "  rsa-key\n"
	    "example.org\n"
	    "\n"
	    "   # comment\n"
	    "  nosuch-key\n");
	assert_string_equal(error, arena_printf(arena,
	    "%s:4: unknown key name \"nosuch-key\" (not in %s)", st_path(),
	    kt_path()));
}

/* test_inline_key - base64 DER in the KeyTable, on one line or folded */
static void
test_inline_key(void **state)
{
	struct dkim_tables *t;
	struct dkim_signer out[4];
	char *rsa = base64_of(KEYS "rsa.private");
	char *ed = base64_of(KEYS "ed.private");
	char *pkcs1 = base64_of(KEYS "rsa-pkcs1.private");
	char *folded = arena_printf(arena, "%.64s\n    %.64s\n\t%s", rsa,
	    rsa + 64, rsa + 128);

	(void)state;
	assert_true(strlen(rsa) > 200);
	t = load(arena_printf(arena,
	    "inline-rsa example.com:a:%s\n"
	    "inline-ed example.com:b:%s\n"
	    "folded example.com:c:%s\n"
	    "pkcs1 example.com:d:%s\n", rsa, ed, folded, pkcs1),
	    "refile:",
	    "* inline-rsa\n* inline-ed\n* folded\n* pkcs1\n");
	memset(out, 0, sizeof(out));
	assert_int_equal(dkim_tables_select(t, "a", "example.com", true, arena,
	    out, 4), 4);
	assert_int_equal(out[0].key->type, DKIM_KEY_RSA);
	assert_string_equal(out[0].key->dns_p, dns_p_of(KEYS "rsa.private"));
	assert_int_equal(out[1].key->type, DKIM_KEY_ED25519);
	assert_string_equal(out[1].key->dns_p, dns_p_of(KEYS "ed.private"));
	assert_string_equal(out[2].key->dns_p, dns_p_of(KEYS "rsa.private"));
	assert_int_equal(out[3].key->type, DKIM_KEY_RSA);
	assert_string_equal(out[3].key->dns_p,
	    dns_p_of(KEYS "rsa-pkcs1.private"));
}

/* test_relative_path - "./" and "../" are paths from the current
 * directory, as in OpenDKIM; other text is a key */
static void
test_relative_path(void **state)
{
	struct dkim_tables *t;
	char cwd[PATH_MAX], *link = arena_printf(arena, "%s/k.private",
	    tmpdir), *base = strrchr(tmpdir, '/') + 1, *error;

	(void)state;
	assert_int_equal(symlink(KEYS "ed.private", link), 0);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	t = load(arena_printf(arena,
	    "dot example.com:a:./k.private\n"
	    "dotdot example.com:b:../%s/k.private\n", base),
	    "refile:", "* dot\n* dotdot\n");
	error = load_error("word example.com:c:k.private\n", "refile:",
	    "* word\n");
	assert_int_equal(chdir(cwd), 0);
	assert_string_equal(select_names(t, "a", "example.com", true, 2),
	    "dot dotdot");
	assert_string_equal(error, arena_printf(arena,
	    "%s:1: key \"word\": %s", kt_path(),
	    key_parse_error("k.private")));
}

/* test_keytable_errors - every KeyTable problem, all in one report */
static void
test_keytable_errors(void **state)
{
	char *missing = arena_printf(arena, "%s/nonexistent.private", tmpdir);
	char *error, *kt = kt_path();

	(void)state;
	error = load_error(arena_printf(arena,
	    "good example.com:sel:%srsa.private\n"	/* 1 */
	    "noval\n"					/* 2 */
	    "short example.com:sel\n"			/* 3 */
	    "emptysel example.com::%srsa.private\n"	/* 4 */
	    "pct example.com:sel:/etc/dkim/%%.private\n"	/* 5 */
	    "weak example.com:sel:%sweak512.private\n"	/* 6 */
	    "missing example.com:sel:%s\n"		/* 7 */
	    "good example.com:other:%sed.private\n"	/* 8 */
	    "dom a%%b:sel:%srsa.private\n"		/* 9 */
	    "spaced exa mple.com:sel:%srsa.private\n"	/* 10 */
	    "badinline example.com:sel:bm90IGEga2V5\n"	/* 11 */
	    "good example.com:third:%sother.private\n"	/* 12 */
	    "emptydom :sel:%srsa.private\n",		/* 13 */
	    KEYS, KEYS, KEYS, missing, KEYS, KEYS, KEYS, KEYS, KEYS),
	    "refile:", "* good\n* weak\n* noval\n");
	assert_non_null(strstr(key_load_error(KEYS "weak512.private"),
	    "512"));
	assert_string_equal(error, arena_printf(arena,
	    "%s:2: expected \"NAME DOMAIN:SELECTOR:KEY\"\n"
	    "%s:3: expected \"NAME DOMAIN:SELECTOR:KEY\"\n"
	    "%s:4: key \"emptysel\": expected \"NAME DOMAIN:SELECTOR:KEY\"\n"
	    "%s:5: key \"pct\": \"%%\" in key path \"/etc/dkim/%%.private\": "
	    "keys are loaded at start, so name one key per domain\n"
	    "%s:6: key \"weak\": %s\n"
	    "%s:7: key \"missing\": %s\n"
	    "%s:8: duplicate key name \"good\" (first at line 1)\n"
	    "%s:9: key \"dom\": DOMAIN \"a%%b\": \"%%\" must be the whole "
	    "DOMAIN\n"
	    "%s:10: key \"spaced\": expected \"NAME DOMAIN:SELECTOR:KEY\"\n"
	    "%s:11: key \"badinline\": %s\n"
	    "%s:12: duplicate key name \"good\" (first at line 1)\n"
	    "%s:13: key \"emptydom\": expected \"NAME DOMAIN:SELECTOR:KEY\"",
	    kt, kt, kt, kt, kt, key_load_error(KEYS "weak512.private"), kt,
	    key_load_error(missing), kt, kt, kt, kt,
	    key_parse_error("bm90IGEga2V5"), kt, kt));
	assert_non_null(strstr(key_load_error(missing), missing));
}

/* test_signtable_errors - every SigningTable problem, after the
 * KeyTable's, all in one report */
static void
test_signtable_errors(void **state)
{
	char *error, *st = st_path(), *kt = kt_path();

	(void)state;
	error = load_error(arena_printf(arena, "%s"
	    "rsa-key example.com:dup:%sother.private\n", pair_keytable(),
	    KEYS),
	    "refile:",
	    "*@example.com rsa-key\n"		/* 1 */
	    "*@example.com nosuch\n"		/* 2 */
	    "*@example.com %\n"			/* 3 */
	    "onlypattern\n"			/* 4 */
	    "*@example.com rsa-key extra\n"	/* 5 */
	    "*@example.com :alice@example.com\n"	/* 6 */
	    "[ab]*@example.com rsa-key\n"	/* 7 */
	    "alice?@example.com rsa-key\n"	/* 8 */
	    "^alice@example.com$ rsa-key\n"	/* 9 */
	    "(a|b)@example.com rsa-key\n"	/* 10 */
	    "a\\.b@example.com rsa-key\n"	/* 11 */
	    "a{2}@example.com rsa-key\n"	/* 12 */
	    "*@example.com ed-key:%\n");	/* 13: fine */
	assert_string_equal(error, arena_printf(arena,
	    "%s:3: duplicate key name \"rsa-key\" (first at line 1)\n"
	    "%s:2: unknown key name \"nosuch\" (not in %s)\n"
	    "%s:3: key name \"%%\" is not supported: OpenDKIM would use the "
	    "From domain as the key name; list each domain with its key "
	    "name instead\n"
	    "%s:4: expected \"PATTERN KEYNAME[:SIGNER]\"\n"
	    "%s:5: expected \"PATTERN KEYNAME[:SIGNER]\"\n"
	    "%s:6: expected \"PATTERN KEYNAME[:SIGNER]\"\n"
	    "%s:7: pattern \"[ab]*@example.com\": '[' is a regular "
	    "expression character to OpenDKIM; only '*' is a wildcard here\n"
	    "%s:8: pattern \"alice?@example.com\": '?' is a regular "
	    "expression character to OpenDKIM; only '*' is a wildcard here\n"
	    "%s:9: pattern \"^alice@example.com$\": '^' is a regular "
	    "expression character to OpenDKIM; only '*' is a wildcard here\n"
	    "%s:10: pattern \"(a|b)@example.com\": '(' is a regular "
	    "expression character to OpenDKIM; only '*' is a wildcard here\n"
	    "%s:11: pattern \"a\\.b@example.com\": '\\' is a regular "
	    "expression character to OpenDKIM; only '*' is a wildcard here\n"
	    "%s:12: pattern \"a{2}@example.com\": '{' is a regular "
	    "expression character to OpenDKIM; only '*' is a wildcard here",
	    kt, st, kt, st, st, st, st, st, st, st, st, st, st));

	/* file: patterns are lookup keys: those characters are fine */
	assert_string_equal(load_error(pair_keytable(), "file:",
	    "[ab]@example.com rsa-key\n"
	    "x@example.com %\n"),
	    arena_printf(arena, "%s:2: key name \"%%\" is not supported: "
	    "OpenDKIM would use the From domain as the key name; list each "
	    "domain with its key name instead", st));
}

/* test_missing_files - unreadable tables, and a KeyTable that cannot be
 * read does not make every key name unknown */
static void
test_missing_files(void **state)
{
	struct dkim_tables *t = NULL;
	char *error = NULL, *nokt = arena_printf(arena, "%s/no-kt", tmpdir),
	    *nost = arena_printf(arena, "%s/no-st", tmpdir), *stpath;

	(void)state;
	assert_false(dkim_tables_load(arena, nokt, arena_printf(arena,
	    "refile:%s", nost), &t, &error));
	assert_null(t);
	assert_string_equal(error, arena_printf(arena,
	    "%s: cannot open: No such file or directory\n"
	    "%s: cannot open: No such file or directory", nokt, nost));
	free(error);

	stpath = put("st", "example.com rsa-key\nexample.org\n");
	assert_false(dkim_tables_load(arena, arena_printf(arena, "file:%s",
	    nokt), stpath, &t, &error));
	assert_string_equal(error, arena_printf(arena,
	    "%s: cannot open: No such file or directory\n"
	    "%s:2: expected \"PATTERN KEYNAME[:SIGNER]\"", nokt, stpath));
	free(error);
}

/* test_dataset_names - only file:, refile: (SigningTable) and paths */
static void
test_dataset_names(void **state)
{
	struct dkim_tables *t = NULL;
	char *error = NULL, *kt = put("kt", pair_keytable()),
	    *st = put("st", "* rsa-key\n");

	(void)state;
	assert_false(dkim_tables_load(arena, arena_printf(arena, "refile:%s",
	    kt), arena_printf(arena, "db:%s", st), &t, &error));
	assert_string_equal(error, arena_printf(arena,
	    "KeyTable: \"refile:%s\": refile: is for the SigningTable only "
	    "(use file: or a path)\n"
	    "SigningTable: \"db:%s\": dataset type \"db\" is not supported "
	    "(use file:, refile: or a path)", kt, st));
	free(error);

	assert_false(dkim_tables_load(arena, "csl:a,b", "file:", &t, &error));
	assert_string_equal(error,
	    "KeyTable: \"csl:a,b\": dataset type \"csl\" is not supported "
	    "(use file: or a path)\n"
	    "SigningTable: \"file:\": no file named");
	free(error);

	assert_false(dkim_tables_load(arena, "", "refile:", &t, &error));
	assert_string_equal(error,
	    "KeyTable: \"\": no file named\n"
	    "SigningTable: \"refile:\": no file named");
	free(error);
	assert_null(t);
}

/* test_nul_byte - a NUL would cut a line short: refused with its line */
static void
test_nul_byte(void **state)
{
	struct dkim_tables *t = NULL;
	char *error = NULL, *kt = put("kt", pair_keytable()), *st;
	static const char text[] = "* rsa-key\n*\0x ed-key\n";

	(void)state;
	st = testutil_put_bytes(arena, tmpdir, "st", text, sizeof(text) - 1);
	assert_false(dkim_tables_load(arena, kt, st, &t, &error));
	assert_string_equal(error, arena_printf(arena,
	    "%s:2: NUL byte in line", st));
	free(error);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_refile_pair, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refile_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_file_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_file_multiple, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_match, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_case, setup, teardown),
		cmocka_unit_test_setup_teardown(test_percent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bare_path, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inline_key, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_relative_path, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_keytable_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_signtable_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dataset_names, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_nul_byte, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
