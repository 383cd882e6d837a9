/*
 * test_auth.c - the password file (loaded from hashes made here with
 * crypt_rn: yescrypt and SHA-512), verification including the dummy
 * hash for unknown users (timed), the PLAIN and LOGIN exchanges, and
 * strict base64
 *
 * yescrypt hashes use the lowest cost (crypt_gensalt_rn count 1, about
 * 10 ms) so that the tests also run under valgrind in reasonable time;
 * the method is the same as at the default cost.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <crypt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "auth.h"
#include "buf.h"
#include "testutil.h"

struct fixture {
	char dir[256];
	struct arena *arena;
};

/* setup - a temp directory and an arena */
static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL ||
	    testutil_setup(f->dir, sizeof(f->dir), "auth", &f->arena) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

/* teardown - remove both */
static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc = testutil_teardown(f->dir, &f->arena);

	free(f);
	return rc;
}

/* make_hash - crypt(3) hash of pass with a new salt of method prefix
 * ("$y$", "$6$") and cost count (0 = default) */
static char *
make_hash(struct arena *arena, const char *prefix, unsigned long count,
    const char *pass)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	char *out;

	assert_non_null(cd);
	assert_non_null(crypt_gensalt_rn(prefix, count, NULL, 0, salt,
	    sizeof(salt)));
	out = crypt_rn(pass, salt, cd, sizeof(*cd));
	assert_non_null(out);
	assert_true(strncmp(out, prefix, strlen(prefix)) == 0);
	out = arena_strdup(arena, out);
	free(cd);
	return out;
}

/* load_ok - load text as the password file; it must load */
static struct auth_db *
load_ok(struct fixture *f, const char *text)
{
	char *path = testutil_put(f->arena, f->dir, "users", text), *why;
	struct auth_db *db = auth_db_load(path, &why);

	if (db == NULL)
		fail_msg("auth_db_load: %s", why);
	assert_null(why);
	return db;
}

/* load_error_bytes - load len bytes of data (NULs allowed); it must
 * fail with exactly want, in which an "F" that starts a line stands for
 * the file's path */
static void
load_error_bytes(struct fixture *f, const char *data, size_t len,
    const char *want)
{
	char *path = testutil_put_bytes(f->arena, f->dir, "users", data, len);
	struct buf exp = { 0 };
	struct auth_db *db;
	const char *p;
	char *why;

	db = auth_db_load(path, &why);
	for (p = want; *p != '\0'; p++)
		if (*p == 'F' && (p == want || p[-1] == '\n'))
			buf_puts(&exp, path);
		else
			buf_putc(&exp, *p);
	assert_null(db);
	assert_non_null(why);
	assert_string_equal(why, buf_cstr(&exp));
	buf_free(&exp);
	free(why);
}

/* load_error - the same for text */
static void
load_error(struct fixture *f, const char *text, const char *want)
{
	load_error_bytes(f, text, strlen(text), want);
}

/* test_verify - good, bad, unknown and empty passwords, both methods,
 * with comments, blank lines, CRLF and surrounding blanks ignored */
static void
test_verify(void **state)
{
	struct fixture *f = *state;
	struct auth_db *db;
	char *text;

	text = arena_printf(f->arena,
	    "# mail users\n"
	    "\n"
	    "alice:%s\n"
	    "   \t\n"
	    "  bob:%s  \r\n"
	    "blank:%s\n"
	    "carol smith:%s\n"
	    "  # indented comment\n"
	    "dave:%s",
	    make_hash(f->arena, "$y$", 1, "wonderland"),
	    make_hash(f->arena, "$6$", 0, "builder"),
	    make_hash(f->arena, "$6$", 0, ""),
	    make_hash(f->arena, "$y$", 1, "pass word:with colon"),
	    make_hash(f->arena, "$6$", 0, "no newline at the end"));
	db = load_ok(f, text);
	assert_int_equal(auth_db_count(db), 5);

	assert_true(auth_verify(db, "alice", "wonderland"));
	assert_false(auth_verify(db, "alice", "Wonderland"));
	assert_false(auth_verify(db, "alice", "wonderlan"));
	assert_false(auth_verify(db, "alice", "wonderland "));
	assert_false(auth_verify(db, "alice", "builder"));
	assert_false(auth_verify(db, "alice", ""));
	assert_false(auth_verify(db, "Alice", "wonderland"));
	assert_false(auth_verify(db, "alice ", "wonderland"));

	assert_true(auth_verify(db, "bob", "builder"));
	assert_false(auth_verify(db, "bob", "wonderland"));
	assert_false(auth_verify(db, "bob", ""));

	/* a hash of the empty password never lets anyone in */
	assert_false(auth_verify(db, "blank", ""));
	assert_false(auth_verify(db, "blank", " "));

	assert_true(auth_verify(db, "carol smith", "pass word:with colon"));
	assert_false(auth_verify(db, "carol", "pass word:with colon"));
	assert_true(auth_verify(db, "dave", "no newline at the end"));

	assert_false(auth_verify(db, "mallory", "wonderland"));
	assert_false(auth_verify(db, "mallory", ""));
	assert_false(auth_verify(db, "", "wonderland"));

	auth_db_free(&db);
	assert_null(db);
	auth_db_free(&db);
	auth_db_free(NULL);
}

/* test_load_errors - every malformed line, each as FILE:LINE, all of
 * them in one report */
static void
test_load_errors(void **state)
{
	struct fixture *f = *state;
	char *good = make_hash(f->arena, "$6$", 0, "secret"), *text;
	static const char nul_line[] = "nul\0user:x\n";
	struct buf b = { 0 };

	text = arena_printf(f->arena,
	    "# header\n"		/* 1 */
	    "nocolon\n"			/* 2 */
	    ":%s\n"			/* 3 */
	    "dave:$9$xyz\n"		/* 4 */
	    "erin:\n"			/* 5 */
	    "frank:$6$salt\n"		/* 6 */
	    "bob:%s\n"			/* 7 */
	    "alice:%s\n"		/* 8 */
	    "bob:%s\n"			/* 9 */
	    "ctl\001x:%s\n"		/* 10 */
	    "grace:!\n"			/* 11 */
	    "henry:*\n"			/* 12 */
	    "ivan:%s:18000:0:99999:7:::\n", /* 13: a shadow(5) line */
	    good, good, good, good, good, good);
	buf_puts(&b, text);
	buf_append(&b, nul_line, sizeof(nul_line) - 1);	/* 14 */
	buf_puts(&b, "judy:  \n");			/* 15 */
	load_error_bytes(f, b.data, b.len,
	    "F:2: no \":\" between user and hash\n"
	    "F:3: empty user name\n"
	    "F:4: user \"dave\": crypt(3) does not know this hash\n"
	    "F:5: user \"erin\": empty hash\n"
	    "F:6: user \"frank\": not a complete crypt(3) hash\n"
	    "F:9: duplicate user \"bob\" (first on line 7)\n"
	    "F:10: control character in user name\n"
	    "F:11: user \"grace\": crypt(3) does not know this hash\n"
	    "F:12: user \"henry\": crypt(3) does not know this hash\n"
	    "F:13: user \"ivan\": crypt(3) does not know this hash\n"
	    "F:14: NUL byte in line\n"
	    "F:15: user \"judy\": empty hash");
	buf_free(&b);

	/* one bad line spoils a file of good ones */
	text = arena_printf(f->arena, "a:%s\nb:$9$xyz\nc:%s\n", good, good);
	load_error(f, text,
	    "F:2: user \"b\": crypt(3) does not know this hash");
}

/* test_too_many_errors - a file that is not a password file at all
 * stops after 20 problems */
static void
test_too_many_errors(void **state)
{
	struct fixture *f = *state;
	struct buf text = { 0 }, want = { 0 };
	int i;

	for (i = 1; i <= 30; i++)
		buf_puts(&text, "Received: from somewhere\n");
	for (i = 1; i <= 20; i++)
		buf_printf(&want, "F:%d: user \"Received\": crypt(3) does "
		    "not know this hash\n", i);
	buf_puts(&want, "F: too many errors, stopped at line 20");
	load_error(f, buf_cstr(&text), buf_cstr(&want));
	buf_free(&text);
	buf_free(&want);
}

/* test_missing_file - the path and the reason */
static void
test_missing_file(void **state)
{
	struct fixture *f = *state;
	char *path = arena_printf(f->arena, "%s/nonexistent", f->dir), *why;
	char *want = arena_printf(f->arena,
	    "%s: cannot open: No such file or directory", path);

	assert_null(auth_db_load(path, &why));
	assert_non_null(why);
	assert_string_equal(why, want);
	free(why);
}

/* now_ns - monotonic clock */
static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* test_empty_file - no users: nobody gets in, and nothing breaks */
static void
test_empty_file(void **state)
{
	struct fixture *f = *state;
	struct auth_db *db = load_ok(f, "# nobody yet\n\n");
	int64_t t;

	assert_int_equal(auth_db_count(db), 0);
	/* still a real crypt (yescrypt at the default cost, 50 ms or
	 * more; skipped, the answer would take microseconds) */
	t = now_ns();
	assert_false(auth_verify(db, "alice", "wonderland"));
	assert_true(now_ns() - t > 5 * 1000 * 1000);
	auth_db_free(&db);

	db = load_ok(f, "");
	assert_int_equal(auth_db_count(db), 0);
	assert_false(auth_verify(db, "root", "x"));
	auth_db_free(&db);
}

/* test_many_users - the table grows; every user still found */
static void
test_many_users(void **state)
{
	struct fixture *f = *state;
	char *hash = make_hash(f->arena, "$6$", 1000, "pw");
	struct buf text = { 0 };
	struct auth_db *db;
	char name[32];
	int i;

	for (i = 0; i < 100; i++)
		buf_printf(&text, "user%d:%s\n", i, hash);
	db = load_ok(f, buf_cstr(&text));
	assert_int_equal(auth_db_count(db), 100);
	for (i = 0; i < 100; i += 7) {
		snprintf(name, sizeof(name), "user%d", i);
		assert_true(auth_verify(db, name, "pw"));
	}
	assert_false(auth_verify(db, "user100", "pw"));
	auth_db_free(&db);
	buf_free(&text);
}

/* cmp_i64 - qsort */
static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

#define RUNS 5

/* test_timing - an unknown user costs about what a wrong password of a
 * known one does (medians, interleaved so load affects both alike);
 * without the dummy crypt it would be thousands of times faster */
static void
test_timing(void **state)
{
	struct fixture *f = *state;
	int64_t known[RUNS], unknown[RUNS], t;
	struct auth_db *db;
	int i;

	db = load_ok(f, arena_printf(f->arena, "alice:%s\nbob:%s\n",
	    make_hash(f->arena, "$y$", 1, "wonderland"),
	    make_hash(f->arena, "$y$", 1, "builder")));
	for (i = 0; i < RUNS; i++) {
		t = now_ns();
		assert_false(auth_verify(db, "bob", "guess"));
		known[i] = now_ns() - t;
		t = now_ns();
		assert_false(auth_verify(db, "zelda", "guess"));
		unknown[i] = now_ns() - t;
	}
	qsort(known, RUNS, sizeof(known[0]), cmp_i64);
	qsort(unknown, RUNS, sizeof(unknown[0]), cmp_i64);
	print_message("# median known %lld us, unknown %lld us\n",
	    (long long)known[RUNS / 2] / 1000,
	    (long long)unknown[RUNS / 2] / 1000);
	assert_true(unknown[RUNS / 2] * 2 >= known[RUNS / 2]);
	auth_db_free(&db);
}

/* b64 - base64 of len bytes, for building responses */
static const char *
b64(struct fixture *f, const char *data, size_t len)
{
	return auth_base64_encode(data, len, f->arena);
}

/* plain - one PLAIN exchange with initial response resp (NULL: none,
 * then the message is sent after the empty challenge) */
static enum auth_status
plain(struct fixture *f, const char *resp, struct auth_exchange *x)
{
	const char *ch = "unset";

	memset(x, 0, sizeof(*x));
	x->mech = AUTH_MECH_PLAIN;
	return auth_step(x, resp, f->arena, &ch);
}

#define MSG(s) b64(f, s, sizeof(s) - 1)

/* test_plain - RFC 4616 with and without initial response */
static void
test_plain(void **state)
{
	struct fixture *f = *state;
	struct auth_exchange x;
	const char *ch = "unset";

	/* initial response */
	assert_int_equal(plain(f, MSG("\0alice\0wonderland"), &x),
	    AUTH_CHECK);
	assert_string_equal(x.user, "alice");
	assert_string_equal(x.pass, "wonderland");

	/* authzid equal to authcid is no proxy */
	assert_int_equal(plain(f, MSG("alice\0alice\0pw"), &x), AUTH_CHECK);
	assert_string_equal(x.user, "alice");
	assert_string_equal(x.pass, "pw");

	/* passwords may hold anything but NUL */
	assert_int_equal(plain(f, MSG("\0bob\0 p:w\xc3\xa9 \x01"), &x),
	    AUTH_CHECK);
	assert_string_equal(x.user, "bob");
	assert_string_equal(x.pass, " p:w\xc3\xa9 \x01");

	/* no initial response: empty challenge, then the message */
	memset(&x, 0, sizeof(x));
	x.mech = AUTH_MECH_PLAIN;
	assert_int_equal(auth_step(&x, NULL, f->arena, &ch), AUTH_CONTINUE);
	assert_non_null(ch);
	assert_string_equal(ch, "");
	assert_null(x.user);
	assert_int_equal(auth_step(&x, MSG("\0bob\0builder"), f->arena, &ch),
	    AUTH_CHECK);
	assert_string_equal(x.user, "bob");
	assert_string_equal(x.pass, "builder");

	/* "*" after the challenge cancels */
	memset(&x, 0, sizeof(x));
	x.mech = AUTH_MECH_PLAIN;
	assert_int_equal(auth_step(&x, NULL, f->arena, &ch), AUTH_CONTINUE);
	assert_int_equal(auth_step(&x, "*", f->arena, &ch), AUTH_CANCEL);
	assert_null(x.user);

	/* bad base64 after the challenge */
	memset(&x, 0, sizeof(x));
	x.mech = AUTH_MECH_PLAIN;
	assert_int_equal(auth_step(&x, NULL, f->arena, &ch), AUTH_CONTINUE);
	assert_int_equal(auth_step(&x, "AGFsaWNlAHB3!", f->arena, &ch),
	    AUTH_BAD);
	assert_null(x.user);
}

/* test_plain_bad - every malformed PLAIN message is AUTH_BAD */
static void
test_plain_bad(void **state)
{
	struct fixture *f = *state;
	struct auth_exchange x;

	/* "=": an empty initial response, which PLAIN cannot use */
	assert_int_equal(plain(f, "=", &x), AUTH_BAD);
	/* proxy authorisation */
	assert_int_equal(plain(f, MSG("admin\0alice\0wonderland"), &x),
	    AUTH_BAD);
	assert_null(x.user);
	assert_null(x.pass);
	assert_int_equal(plain(f, MSG("alice2\0alice\0pw"), &x), AUTH_BAD);
	assert_int_equal(plain(f, MSG("alic\0alice\0pw"), &x), AUTH_BAD);
	/* missing NULs */
	assert_int_equal(plain(f, MSG("alice"), &x), AUTH_BAD);
	assert_int_equal(plain(f, MSG("alice wonderland"), &x), AUTH_BAD);
	assert_int_equal(plain(f, MSG("\0alice"), &x), AUTH_BAD);
	assert_int_equal(plain(f, MSG("alice\0wonderland"), &x), AUTH_BAD);
	/* one too many */
	assert_int_equal(plain(f, MSG("\0alice\0wonder\0land"), &x),
	    AUTH_BAD);
	assert_int_equal(plain(f, MSG("\0alice\0pw\0"), &x), AUTH_BAD);
	/* authcid and passwd are 1*SAFE */
	assert_int_equal(plain(f, MSG("\0\0pw"), &x), AUTH_BAD);
	assert_int_equal(plain(f, MSG("\0alice\0"), &x), AUTH_BAD);
	assert_int_equal(plain(f, MSG("\0\0"), &x), AUTH_BAD);
	/* not base64 */
	assert_int_equal(plain(f, "AGFsaWNlAHB3", &x), AUTH_CHECK);
	assert_int_equal(plain(f, "AGFsaWNlAHB3 ", &x), AUTH_BAD);
	assert_int_equal(plain(f, "AGFsaWNlAHB", &x), AUTH_BAD);
	assert_int_equal(plain(f, "", &x), AUTH_BAD);
	/* "*" cancels even as the initial response */
	assert_int_equal(plain(f, "*", &x), AUTH_CANCEL);
}

/* login - a fresh LOGIN exchange */
static void
login(struct auth_exchange *x)
{
	memset(x, 0, sizeof(*x));
	x->mech = AUTH_MECH_LOGIN;
}

/* test_login - the two prompts, with and without initial response */
static void
test_login(void **state)
{
	struct fixture *f = *state;
	struct auth_exchange x;
	const char *ch;

	login(&x);
	assert_int_equal(auth_step(&x, NULL, f->arena, &ch), AUTH_CONTINUE);
	assert_string_equal(ch, "VXNlcm5hbWU6");
	assert_int_equal(auth_step(&x, MSG("alice"), f->arena, &ch),
	    AUTH_CONTINUE);
	assert_string_equal(ch, "UGFzc3dvcmQ6");
	assert_string_equal(x.user, "alice");
	assert_null(x.pass);
	assert_int_equal(auth_step(&x, MSG("wonderland"), f->arena, &ch),
	    AUTH_CHECK);
	assert_string_equal(x.user, "alice");
	assert_string_equal(x.pass, "wonderland");

	/* the prompts decode to what clients expect */
	assert_string_equal(MSG("Username:"), "VXNlcm5hbWU6");
	assert_string_equal(MSG("Password:"), "UGFzc3dvcmQ6");

	/* initial response: the user name, then only the password */
	login(&x);
	assert_int_equal(auth_step(&x, MSG("bob"), f->arena, &ch),
	    AUTH_CONTINUE);
	assert_string_equal(ch, "UGFzc3dvcmQ6");
	assert_int_equal(auth_step(&x, MSG("builder"), f->arena, &ch),
	    AUTH_CHECK);
	assert_string_equal(x.user, "bob");
	assert_string_equal(x.pass, "builder");

	/* "=": an empty user name; empty lines are empty answers (they
	 * reach auth_verify, which refuses them) */
	login(&x);
	assert_int_equal(auth_step(&x, "=", f->arena, &ch), AUTH_CONTINUE);
	assert_string_equal(ch, "UGFzc3dvcmQ6");
	assert_string_equal(x.user, "");
	assert_int_equal(auth_step(&x, "", f->arena, &ch), AUTH_CHECK);
	assert_string_equal(x.pass, "");

	/* cancel at either prompt */
	login(&x);
	assert_int_equal(auth_step(&x, NULL, f->arena, &ch), AUTH_CONTINUE);
	assert_int_equal(auth_step(&x, "*", f->arena, &ch), AUTH_CANCEL);
	login(&x);
	assert_int_equal(auth_step(&x, NULL, f->arena, &ch), AUTH_CONTINUE);
	assert_int_equal(auth_step(&x, MSG("alice"), f->arena, &ch),
	    AUTH_CONTINUE);
	assert_int_equal(auth_step(&x, "*", f->arena, &ch), AUTH_CANCEL);
	assert_null(x.pass);

	/* bad base64 and NULs at either prompt */
	login(&x);
	assert_int_equal(auth_step(&x, NULL, f->arena, &ch), AUTH_CONTINUE);
	assert_int_equal(auth_step(&x, "YWxpY2U", f->arena, &ch), AUTH_BAD);
	login(&x);
	assert_int_equal(auth_step(&x, MSG("alice"), f->arena, &ch),
	    AUTH_CONTINUE);
	assert_int_equal(auth_step(&x, "d29uZGVy bGFuZA==", f->arena, &ch),
	    AUTH_BAD);
	assert_null(x.pass);
	login(&x);
	assert_int_equal(auth_step(&x, MSG("admin\0alice"), f->arena, &ch),
	    AUTH_BAD);
	assert_null(x.user);
	login(&x);
	assert_int_equal(auth_step(&x, MSG("alice"), f->arena, &ch),
	    AUTH_CONTINUE);
	assert_int_equal(auth_step(&x, MSG("pw\0x"), f->arena, &ch),
	    AUTH_BAD);
	assert_null(x.pass);
	/* "=" is only the empty *initial* response */
	login(&x);
	assert_int_equal(auth_step(&x, NULL, f->arena, &ch), AUTH_CONTINUE);
	assert_int_equal(auth_step(&x, "=", f->arena, &ch), AUTH_BAD);
}

static struct arena *abort_arena;

/* step_after_check - calling on after AUTH_CHECK is a caller's bug */
static void
step_after_check(void)
{
	struct auth_exchange x = { .mech = AUTH_MECH_PLAIN };
	const char *ch;

	abort_arena = arena_create();
	(void)auth_step(&x, "AGEAYg==", abort_arena, &ch);	/* \0a\0b */
	(void)auth_step(&x, "AGEAYg==", abort_arena, &ch);
}

/* step_no_response - NULL is only for the initial response */
static void
step_no_response(void)
{
	struct auth_exchange x = { .mech = AUTH_MECH_LOGIN };
	const char *ch;

	abort_arena = arena_create();
	(void)auth_step(&x, NULL, abort_arena, &ch);
	(void)auth_step(&x, NULL, abort_arena, &ch);
}

/* bad_mech_name - out of range */
static void
bad_mech_name(void)
{
	(void)auth_mech_name(AUTH_MECH_COUNT);
}

/* test_bugs - misuse panics */
static void
test_bugs(void **state)
{
	(void)state;
	testutil_expect_abort(step_after_check);
	testutil_expect_abort(step_no_response);
	testutil_expect_abort(bad_mech_name);
}

/* test_mech - names both ways */
static void
test_mech(void **state)
{
	enum auth_mech m = AUTH_MECH_COUNT;

	(void)state;
	assert_true(auth_mech_parse("PLAIN", &m));
	assert_int_equal(m, AUTH_MECH_PLAIN);
	assert_true(auth_mech_parse("login", &m));
	assert_int_equal(m, AUTH_MECH_LOGIN);
	assert_true(auth_mech_parse("Plain", &m));
	assert_int_equal(m, AUTH_MECH_PLAIN);
	m = AUTH_MECH_COUNT;
	assert_false(auth_mech_parse("CRAM-MD5", &m));
	assert_false(auth_mech_parse("PLAIN ", &m));
	assert_false(auth_mech_parse("", &m));
	assert_int_equal(m, AUTH_MECH_COUNT);
	assert_string_equal(auth_mech_name(AUTH_MECH_PLAIN), "PLAIN");
	assert_string_equal(auth_mech_name(AUTH_MECH_LOGIN), "LOGIN");
}

/* test_base64_vectors - RFC 4648 section 10 */
static void
test_base64_vectors(void **state)
{
	static const struct {
		const char *plain, *enc;
	} v[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
		{ "\xfb\xff", "+/8=" },
		{ 0 },
	};
	struct fixture *f = *state;
	size_t i, len;
	char *out;

	for (i = 0; v[i].plain != NULL; i++) {
		assert_string_equal(auth_base64_encode(v[i].plain,
		    strlen(v[i].plain), f->arena), v[i].enc);
		out = NULL;
		len = 99;
		assert_true(auth_base64_decode(v[i].enc, f->arena, &out,
		    &len));
		assert_int_equal(len, strlen(v[i].plain));
		assert_memory_equal(out, v[i].plain, len + 1);
	}
}

/* test_base64_roundtrip - every length 0..10 over binary bytes, and
 * all 256 byte values */
static void
test_base64_roundtrip(void **state)
{
	struct fixture *f = *state;
	unsigned char data[256];
	size_t n, i, len;
	char *enc, *out;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 151 + 7);	/* 0x00..0xff */
	for (n = 0; n <= 10; n++) {
		enc = auth_base64_encode(data + 100, n, f->arena);
		assert_int_equal(strlen(enc), (n + 2) / 3 * 4);
		assert_true(auth_base64_decode(enc, f->arena, &out, &len));
		assert_int_equal(len, n);
		assert_memory_equal(out, data + 100, n);
		assert_int_equal(out[n], '\0');
	}
	enc = auth_base64_encode(data, sizeof(data), f->arena);
	assert_true(auth_base64_decode(enc, f->arena, &out, &len));
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(out, data, sizeof(data));
}

/* test_base64_strict - anything but the one canonical form is refused */
static void
test_base64_strict(void **state)
{
	static const char *const bad[] = {
		"Zg", "Zg=", "Zm9", "Z", "Zm9vY",	/* length, padding */
		"Zg===", "Zm9v====", "====", "Z===", "=Zg=", "Z=g=",
		"Zg==Zg==", "Zm8=Zm9v",			/* padding inside */
		"Zh==", "Zm9=",				/* pad bits set */
		" Zm9v", "Zm9v ", "Zm 9v", "Zm9v\r\n", "Zm9v\n", "\tZm9v",
		"Zm9v\r", "Zm-v", "Zm_v", "Zm9!", "Zm9\x80", "Zm.v",
		"=",
		NULL,
	};
	struct fixture *f = *state;
	size_t i, len = 42;
	char *out = NULL;

	for (i = 0; bad[i] != NULL; i++)
		if (auth_base64_decode(bad[i], f->arena, &out, &len))
			fail_msg("\"%s\" decoded", bad[i]);
	assert_null(out);
	assert_int_equal(len, 42);
}

/* main - run the group */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_too_many_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_empty_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_many_users, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_timing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_bad, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_login, setup, teardown),
		cmocka_unit_test(test_bugs),
		cmocka_unit_test(test_mech),
		cmocka_unit_test_setup_teardown(test_base64_vectors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_base64_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_base64_strict, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
