/*
 * test_dkim_key.c - DKIM keys: every test key under tests/data/dkim in
 * every form OpenDKIM's KeyTable takes, against the p= published for it
 * in tests/data/zones/dkim.example.net; refusals with their exact texts;
 * generation and the record round trip; every answer of
 * dkim_key_check_record
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arena.h"
#include "buf.h"
#include "dkim_key.h"
#include "testutil.h"

#define KEYDIR		TOP_SRCDIR "/tests/data/dkim/"
#define ZONEFILE	TOP_SRCDIR "/tests/data/zones/dkim.example.net"

static char tmpdir[64];
static struct arena *arena;

/* A test key, the selector that publishes it, and what it must be. */
static const struct test_key {
	const char *file;
	const char *selector;
	enum dkim_key_type type;
	unsigned bits;
} test_keys[] = {
	{ "rsa.private", "rsa", DKIM_KEY_RSA, 2048 },
	{ "rsa-pkcs1.private", "pkcs1", DKIM_KEY_RSA, 2048 },
	{ "rsa1024.private", "rsa1024", DKIM_KEY_RSA, 1024 },
	{ "ed.private", "ed", DKIM_KEY_ED25519, 256 },
	{ "other.private", "mismatch", DKIM_KEY_RSA, 2048 },
	{ NULL, NULL, 0, 0 },
};

/* An encrypted PKCS#8 Ed25519 key (passphrase "secret"). */
static const char encrypted_pem[] =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
    "MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAjwYu2ONQ/SwwICCAAw\n"
    "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEDSRZV2NxptU0T+ub/0z6eEEQKh0\n"
    "HAwp4LYc3USQN61vHkaHqEmuhc4wbcCJI7444yD0oLKh0IAHaFv+L5yq7mTNK34r\n"
    "R657xwDlfyfiCIAuPK0=\n"
    "-----END ENCRYPTED PRIVATE KEY-----\n";

/* A P-256 key: a private key DKIM has no k= for. */
static const char ec_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgrul45T4yx0A1cFVs\n"
    "+wcA7266qW0PwUJlMqBDhq9kl5KhRANCAASDQ1D7JCOdjnUryS6ix84nGIF4+/VT\n"
    "mcG0jZTv5K7hEG4U09X1sINQPin/tH/fK4H6U9BIc1nDYEiDntxLkEqz\n"
    "-----END PRIVATE KEY-----\n";

/* An Ed448 key: EdDSA, but not the curve RFC 8463 names. */
static const char ed448_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MEcCAQAwBQYDK2VxBDsEOchCJ7Z76Y+2koR9Sz02WTTVNiPFBwcBIXXBjD/Tcy2j\n"
    "qoXiAERvAVwVn9q1LuJxU6I4NbqO9tYGGA==\n"
    "-----END PRIVATE KEY-----\n";

/* setup - a fresh directory and arena per test */
static int
setup(void **state)
{
	(void)state;
	return testutil_setup(tmpdir, sizeof(tmpdir), "test_dkim_key",
	    &arena);
}

/* teardown - remove the directory */
static int
teardown(void **state)
{
	(void)state;
	return testutil_teardown(tmpdir, &arena);
}

/* slurp - a whole file as a string in the arena */
static char *
slurp(const char *path)
{
	struct buf b = { 0 };
	char chunk[4096], *text;
	size_t n;
	FILE *f;

	f = fopen(path, "r");
	assert_non_null(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	assert_int_equal(ferror(f), 0);
	fclose(f);
	text = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return text;
}

/* zone_record - the TXT text published for selector in the zone file:
 * the quoted strings of its line, joined */
static const char *
zone_record(const char *selector)
{
	char *zone = slurp(ZONEFILE), *line, *save = NULL, *q, *end;
	const char *prefix = arena_printf(arena, "%s._domainkey", selector);
	struct buf b = { 0 };
	const char *record = NULL;

	for (line = strtok_r(zone, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, prefix, strlen(prefix)) != 0 ||
		    (line[strlen(prefix)] != ' ' &&
		    line[strlen(prefix)] != '\t'))
			continue;
		for (q = strchr(line, '"'); q != NULL;
		    q = strchr(end + 1, '"')) {
			end = strchr(q + 1, '"');
			assert_non_null(end);
			buf_append(&b, q + 1, (size_t)(end - q - 1));
		}
		record = arena_strdup(arena, buf_cstr(&b));
		break;
	}
	buf_free(&b);
	if (record == NULL)
		fail_msg("no record for selector %s in %s", selector, ZONEFILE);
	return record;
}

/* zone_p - the p= value published for selector */
static const char *
zone_p(const char *selector)
{
	const char *p = strstr(zone_record(selector), "; p=");

	assert_non_null(p);
	return p + 4;
}

/* bare_base64 - a PEM file's body: the base64 lines without the
 * BEGIN/END lines; one_line drops the line breaks too */
static char *
bare_base64(const char *path, bool one_line)
{
	char *pem = slurp(path), *line, *save = NULL;
	struct buf b = { 0 };
	char *text;

	for (line = strtok_r(pem, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "-----", 5) == 0)
			continue;
		buf_puts(&b, line);
		if (!one_line)
			buf_putc(&b, '\n');
	}
	text = arena_strdup(arena, buf_cstr(&b));
	buf_free(&b);
	return text;
}

/* parse_ok - parse text, which must succeed */
static void
parse_ok(const char *text, struct dkim_key *key)
{
	char *error = NULL;

	if (!dkim_key_parse(arena, text, strlen(text), key, &error))
		fail_msg("parse failed: %s", error);
	assert_null(error);
}

/* parse_fails_len - parse len bytes of text, which must fail with
 * exactly want */
static void
parse_fails_len(const char *text, size_t len, const char *want)
{
	struct dkim_key key;
	char *error = NULL;

	assert_false(dkim_key_parse(arena, text, len, &key, &error));
	assert_non_null(error);
	assert_string_equal(error, want);
	free(error);
}

/* parse_fails - parse the string text, which must fail with exactly
 * want */
static void
parse_fails(const char *text, const char *want)
{
	parse_fails_len(text, strlen(text), want);
}

/* load_fails - load path, which must fail with exactly want */
static void
load_fails(const char *path, const char *want)
{
	struct dkim_key key;
	char *error = NULL;

	assert_false(dkim_key_load(arena, path, &key, &error));
	assert_non_null(error);
	assert_string_equal(error, want);
	free(error);
}

/* assert_pkcs8_pem - one PKCS#8 PEM block and nothing else */
static void
assert_pkcs8_pem(const char *pem)
{
	static const char begin[] = "-----BEGIN PRIVATE KEY-----\n";
	static const char end[] = "-----END PRIVATE KEY-----\n";
	size_t len = strlen(pem);

	assert_true(strncmp(pem, begin, strlen(begin)) == 0);
	assert_true(len > strlen(begin) + strlen(end));
	assert_string_equal(pem + len - strlen(end), end);
}

/* assert_reparses - the key's own pem gives the same key back */
static void
assert_reparses(const struct dkim_key *key)
{
	struct dkim_key again;

	parse_ok(key->pem, &again);
	assert_int_equal(again.type, key->type);
	assert_int_equal(again.bits, key->bits);
	assert_string_equal(again.dns_p, key->dns_p);
	assert_string_equal(again.pem, key->pem);
}

/* test_type_name - the k= values */
static void
test_type_name(void **state)
{
	(void)state;
	assert_string_equal(dkim_key_type_name(DKIM_KEY_RSA), "rsa");
	assert_string_equal(dkim_key_type_name(DKIM_KEY_ED25519), "ed25519");
}

/* test_load_files - every usable test key: type, size, the p= its zone
 * publishes, a PKCS#8 PEM that parses to the same key, and the
 * published record accepted */
static void
test_load_files(void **state)
{
	const struct test_key *t;
	struct dkim_key key;
	const char *why;
	char *error;

	(void)state;
	for (t = test_keys; t->file != NULL; t++) {
		error = NULL;
		if (!dkim_key_load(arena, arena_printf(arena, "%s%s", KEYDIR,
		    t->file), &key, &error))
			fail_msg("%s: %s", t->file, error);
		assert_int_equal(key.type, t->type);
		assert_int_equal(key.bits, t->bits);
		assert_string_equal(key.dns_p, zone_p(t->selector));
		assert_null(strpbrk(key.dns_p, " \t\r\n"));
		assert_pkcs8_pem(key.pem);
		assert_reparses(&key);
		why = NULL;
		if (!dkim_key_check_record(&key, zone_record(t->selector),
		    &why))
			fail_msg("%s: %s", t->file, why);
		assert_string_equal(dkim_key_record(arena, &key),
		    arena_printf(arena, "v=DKIM1; k=%s; p=%s",
		    t->type == DKIM_KEY_RSA ? "rsa" : "ed25519",
		    zone_p(t->selector)));
	}
}

/* test_pkcs1_becomes_pkcs8 - a PKCS#1 file comes out as PKCS#8, which
 * is what libopendkim is handed for both types */
static void
test_pkcs1_becomes_pkcs8(void **state)
{
	const char *text = slurp(KEYDIR "rsa-pkcs1.private");
	struct dkim_key key;

	(void)state;
	assert_non_null(strstr(text, "-----BEGIN RSA PRIVATE KEY-----"));
	parse_ok(text, &key);
	assert_pkcs8_pem(key.pem);
	assert_null(strstr(key.pem, "RSA PRIVATE KEY"));
}

/* test_bare_base64 - the DER as base64 without the PEM lines, wrapped,
 * on one line, and with white space in odd places */
static void
test_bare_base64(void **state)
{
	const struct test_key *t;
	struct dkim_key key;
	char *text, *spaced;
	size_t i, j;

	(void)state;
	for (t = test_keys; t->file != NULL; t++) {
		const char *path = arena_printf(arena, "%s%s", KEYDIR,
		    t->file);

		parse_ok(bare_base64(path, false), &key);
		assert_string_equal(key.dns_p, zone_p(t->selector));
		assert_int_equal(key.type, t->type);
		parse_ok(bare_base64(path, true), &key);
		assert_string_equal(key.dns_p, zone_p(t->selector));
		/* a space, tab or CRLF every 7 characters, and around */
		text = bare_base64(path, true);
		spaced = arena_alloc(arena, strlen(text) * 2 + 8);
		j = 0;
		spaced[j++] = '\t';
		for (i = 0; text[i] != '\0'; i++) {
			spaced[j++] = text[i];
			if (i % 7 == 6)
				spaced[j++] = " \t\r\n"[i % 4];
		}
		spaced[j++] = '\r';
		spaced[j++] = '\n';
		parse_ok(spaced, &key);
		assert_string_equal(key.dns_p, zone_p(t->selector));
		assert_pkcs8_pem(key.pem);
	}
}

/* test_weak_refused - RFC 8301: no RSA under 1024 bits, in any form */
static void
test_weak_refused(void **state)
{
	(void)state;
	load_fails(KEYDIR "weak512.private", KEYDIR "weak512.private: "
	    "RSA key of 512 bits: under 1024");
	parse_fails(bare_base64(KEYDIR "weak512.private", true),
	    "RSA key of 512 bits: under 1024");
}

/* test_garbage_refused - empty text, non-keys, broken base64 and PEM,
 * keys DKIM cannot use */
static void
test_garbage_refused(void **state)
{
	const char *ed = bare_base64(KEYDIR "ed.private", true);
	static const char *const not_base64 =
	    "not a private key (neither PEM nor base64)";

	(void)state;
	parse_fails_len("", 0, "empty key");
	parse_fails(" \t\r\n", "empty key");
	parse_fails("hello world", not_base64);
	parse_fails("abc$defg", not_base64);
	/* not a multiple of 4, data after padding, too much padding */
	parse_fails("abcde", not_base64);
	parse_fails("ab==cdef", not_base64);
	parse_fails("a===", not_base64);
	/* len counts, not a NUL */
	parse_fails_len("MC4C\0AQAw", 9, not_base64);
	/* good base64 of something else: "hello world" */
	parse_fails("aGVsbG8gd29ybGQ=", "not a private key");
	/* the Ed25519 DER (48 bytes, no padding) and 3 bytes more */
	parse_fails(arena_printf(arena, "%sAAAA", ed),
	    "not a private key (data after the key)");
	/* the same DER cut short */
	parse_fails_len(ed, strlen(ed) - 4, "not a private key");
	parse_fails("-----BEGIN PRIVATE KEY-----\nAAAA\n"
	    "-----END PRIVATE KEY-----\n", "not a private key");
	parse_fails("-----BEGIN PRIVATE KEY-----\n", "not a private key");
	parse_fails(arena_printf(arena, "-----BEGIN PUBLIC KEY-----\n%s\n"
	    "-----END PUBLIC KEY-----\n", zone_p("rsa1024")),
	    "not a private key");
	parse_fails(encrypted_pem,
	    "encrypted private key (passphrases are not supported)");
	parse_fails(ec_pem, "unsupported key type EC");
	parse_fails(ed448_pem, "unsupported key type ED448");
}

/* test_load_errors - file errors name the file; a file may hold the
 * KeyTable form too */
static void
test_load_errors(void **state)
{
	struct dkim_key key;
	const char *path;
	char *big, *error = NULL;
	size_t n = 70000;

	(void)state;
	path = arena_printf(arena, "%s/missing.private", tmpdir);
	load_fails(path, arena_printf(arena, "%s: No such file or directory",
	    path));
	load_fails(tmpdir, arena_printf(arena, "%s: not a regular file",
	    tmpdir));
	/* a FIFO is refused without waiting for a writer */
	path = arena_printf(arena, "%s/fifo.private", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	load_fails(path, arena_printf(arena, "%s: not a regular file", path));
	path = testutil_put(arena, tmpdir, "empty.private", "");
	load_fails(path, arena_printf(arena, "%s: empty key", path));
	path = testutil_put(arena, tmpdir, "junk.private", "# not a key\n");
	load_fails(path, arena_printf(arena, "%s: not a private key "
	    "(neither PEM nor base64)", path));
	big = arena_alloc(arena, n + 1);
	memset(big, 'A', n);
	path = testutil_put(arena, tmpdir, "big.private", big);
	load_fails(path, arena_printf(arena, "%s: over 65536 bytes: not a "
	    "key file", path));
	path = testutil_put(arena, tmpdir, "bare.private",
	    bare_base64(KEYDIR "rsa.private", false));
	assert_true(dkim_key_load(arena, path, &key, &error));
	assert_null(error);
	assert_string_equal(key.dns_p, zone_p("rsa"));
}

/* generate_ok - generate a key, which must succeed and round-trip */
static void
generate_ok(enum dkim_key_type type, unsigned bits, unsigned want_bits)
{
	struct dkim_key key, other;
	const char *record, *why = NULL;
	char *error = NULL;

	if (!dkim_key_generate(arena, type, bits, &key, &error))
		fail_msg("generate: %s", error);
	assert_int_equal(key.type, type);
	assert_int_equal(key.bits, want_bits);
	assert_pkcs8_pem(key.pem);
	assert_reparses(&key);
	record = dkim_key_record(arena, &key);
	assert_string_equal(record, arena_printf(arena,
	    "v=DKIM1; k=%s; p=%s", dkim_key_type_name(type), key.dns_p));
	if (!dkim_key_check_record(&key, record, &why))
		fail_msg("own record refused: %s", why);
	/* two keys are never the same */
	assert_true(dkim_key_generate(arena, type, bits, &other, &error));
	assert_string_not_equal(other.dns_p, key.dns_p);
	assert_false(dkim_key_check_record(&other, record, &why));
	assert_string_equal(why, "p= does not match the key");
}

/* test_generate - RSA 1024 and 2048, Ed25519 (bits ignored) */
static void
test_generate(void **state)
{
	(void)state;
	generate_ok(DKIM_KEY_RSA, 1024, 1024);
	generate_ok(DKIM_KEY_RSA, 2048, 2048);
	generate_ok(DKIM_KEY_ED25519, 0, 256);
	generate_ok(DKIM_KEY_ED25519, 512, 256);
}

/* test_generate_refused - RSA sizes outside 1024..8192 */
static void
test_generate_refused(void **state)
{
	static const unsigned bad[] = { 0, 512, 1023, 8193, 65536 };
	struct dkim_key key;
	char *error;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		assert_false(dkim_key_generate(arena, DKIM_KEY_RSA, bad[i],
		    &key, &error));
		assert_string_equal(error, arena_printf(arena, "RSA key of "
		    "%u bits: not in 1024..8192", bad[i]));
		free(error);
	}
}

/* load_key - a test key, which must load */
static struct dkim_key
load_key(const char *file)
{
	struct dkim_key key;
	char *error = NULL;

	if (!dkim_key_load(arena, arena_printf(arena, "%s%s", KEYDIR, file),
	    &key, &error))
		fail_msg("%s: %s", file, error);
	return key;
}

/* check_fails - the record is refused for key with exactly want */
static void
check_fails(const struct dkim_key *key, const char *record,
    const char *want)
{
	const char *why = NULL;

	if (dkim_key_check_record(key, record, &why))
		fail_msg("accepted: \"%s\"", record);
	assert_non_null(why);
	if (strcmp(why, want) != 0)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", record, why, want);
}

/* check_ok - the record is accepted for key */
static void
check_ok(const struct dkim_key *key, const char *record)
{
	const char *why = NULL;

	if (!dkim_key_check_record(key, record, &why))
		fail_msg("refused (%s): \"%s\"", why, record);
}

/* test_check_record_refusals - every why_r text */
static void
test_check_record_refusals(void **state)
{
	struct dkim_key rsa = load_key("rsa.private");
	struct dkim_key ed = load_key("ed.private");
	const char *p = rsa.dns_p, *ep = ed.dns_p;

	(void)state;
	/* revoked: empty p=, also with white space or at the end */
	check_fails(&rsa, zone_record("revoked"), "key revoked (empty p=)");
	check_fails(&rsa, "v=DKIM1; k=rsa; p=", "key revoked (empty p=)");
	check_fails(&rsa, "v=DKIM1; p= ; k=rsa", "key revoked (empty p=)");
	check_fails(&ed, "v=DKIM1; k=ed25519; p=;", "key revoked (empty p=)");
	/* k= */
	check_fails(&rsa, arena_printf(arena, "v=DKIM1; k=ed25519; p=%s", p),
	    "k= does not match the key");
	check_fails(&ed, arena_printf(arena, "v=DKIM1; p=%s", ep),
	    "k= does not match the key");
	check_fails(&ed, arena_printf(arena, "v=DKIM1; k=rsa; p=%s", ep),
	    "k= does not match the key");
	check_fails(&rsa, arena_printf(arena, "k=RSA; p=%s", p),
	    "k= does not match the key");
	check_fails(&rsa, arena_printf(arena, "k=; p=%s", p),
	    "k= does not match the key");
	/* v= */
	check_fails(&rsa, arena_printf(arena, "v=DKIM2; k=rsa; p=%s", p),
	    "v= is not DKIM1");
	check_fails(&rsa, arena_printf(arena, "v=dkim1; p=%s", p),
	    "v= is not DKIM1");
	check_fails(&rsa, arena_printf(arena, "v=spf1; p=%s", p),
	    "v= is not DKIM1");
	check_fails(&rsa, arena_printf(arena, "v=; p=%s", p),
	    "v= is not DKIM1");
	/* a missing ';' makes "DKIM1 k=rsa" the value of v= */
	check_fails(&rsa, arena_printf(arena, "v=DKIM1 k=rsa; p=%s", p),
	    "v= is not DKIM1");
	/* p= of another key, or this one cut or extended */
	check_fails(&rsa, zone_record("mismatch"), "p= does not match the key");
	check_fails(&rsa, zone_record("pkcs1"), "p= does not match the key");
	check_fails(&rsa, arena_printf(arena, "p=%.*s", (int)strlen(p) - 4,
	    p), "p= does not match the key");
	check_fails(&rsa, arena_printf(arena, "p=%sAAAA", p),
	    "p= does not match the key");
	check_fails(&ed, zone_record("rsa"), "k= does not match the key");
	/* no p= */
	check_fails(&rsa, "v=DKIM1; k=rsa", "no p= tag");
	check_fails(&rsa, "v=DKIM1; k=rsa; h=sha256;", "no p= tag");
	check_fails(&rsa, "v=DKIM1", "no p= tag");
	check_fails(&rsa, arena_printf(arena, "v=DKIM1; P=%s", p),
	    "no p= tag");
}

/* test_check_record_malformed - not a tag-list of RFC 6376 §3.2 */
static void
test_check_record_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		" ",
		";",
		"p",
		"=abc",
		"p=abc;;",
		"v=DKIM1;; p=abc",
		"v=DKIM1; ; p=abc",
		"1p=abc",
		"_p=abc",
		"k-x=1; p=abc",
		"k=rsa; k=rsa; p=abc",		/* duplicate */
		"p=abc; p=abc",
		"p=abc; v=DKIM1",		/* v= not first */
		"k=rsa; v=DKIM1; p=abc",
		"v=DKIM1; p=ab\001c",		/* control character */
		"v=DKIM1; n=caf\xc3\xa9; p=abc",	/* 8-bit */
		"v=DKIM1; p=abc; =",
		NULL,
	};
	struct dkim_key rsa = load_key("rsa.private");
	size_t i;

	(void)state;
	for (i = 0; bad[i] != NULL; i++)
		check_fails(&rsa, bad[i], "malformed tag list");
	check_fails(&rsa, arena_printf(arena, "v=DKIM1; k=rsa; p=%s; p=%s",
	    rsa.dns_p, rsa.dns_p), "malformed tag list");
}

/* test_check_record_accepted - white space and tolerated tags */
static void
test_check_record_accepted(void **state)
{
	struct dkim_key rsa = load_key("rsa.private");
	struct dkim_key ed = load_key("ed.private");
	const char *p = rsa.dns_p;
	struct buf b = { 0 };
	size_t i;

	(void)state;
	check_ok(&rsa, arena_printf(arena, "v=DKIM1; k=rsa; p=%s", p));
	check_ok(&rsa, arena_printf(arena, "p=%s", p));
	check_ok(&rsa, arena_printf(arena, "k=rsa; p=%s", p));
	check_ok(&rsa, arena_printf(arena, "v=DKIM1; p=%s;", p));
	check_ok(&rsa, arena_printf(arena, " v = DKIM1 ;\tk = rsa ;\r\n"
	    "\tp = %s ; ", p));
	check_ok(&rsa, arena_printf(arena, "v=DKIM1; h=sha256; k=rsa; "
	    "s=email; t=y:s; n=a note, with spaces; x_new=1; p=%s", p));
	check_ok(&ed, arena_printf(arena, "v=DKIM1; k=ed25519; h=sha256; "
	    "p=%s", ed.dns_p));
	/* p= folded: white space of every kind anywhere inside */
	buf_puts(&b, "v=DKIM1; k=rsa; p=");
	for (i = 0; p[i] != '\0'; i++) {
		buf_putc(&b, p[i]);
		if (i % 50 == 49)
			buf_puts(&b, i % 100 == 99 ? "\r\n\t" : "  ");
	}
	check_ok(&rsa, buf_cstr(&b));
	buf_free(&b);
	/* the published records, strings joined as DNS hands them out */
	check_ok(&rsa, zone_record("rsa"));
	check_ok(&ed, zone_record("ed"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_name),
		cmocka_unit_test_setup_teardown(test_load_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pkcs1_becomes_pkcs8, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bare_base64, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_weak_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_garbage_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_generate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_generate_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_check_record_refusals,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_record_malformed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_record_accepted,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
