/*
 * test_greylist_store.c - the greylist store front end (greylist_store.c)
 * on the lmdb: backend: store names, key checks, records that round-trip
 * exactly, expiry as the callers see it, update decisions, values the
 * front end cannot read, delete, walk and flush
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

#include "arena.h"
#include "greylist_store.h"
#include "greylist_store_impl.h"
#include "testutil.h"

static char dir[256];
static char path[300];		/* DIR/gl.lmdb */
static char spec[310];		/* lmdb:DIR/gl.lmdb */
static struct arena *arena;
static struct greylist_store *store;

/* setup - a temp directory with an open store per test */
static int
setup(void **state)
{
	char *error = NULL;

	(void)state;
	if (testutil_setup(dir, sizeof(dir), "test_greylist_store",
	    &arena) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/gl.lmdb", dir);
	snprintf(spec, sizeof(spec), "lmdb:%s", path);
	if (!greylist_store_open(spec, NULL, &store, &error)) {
		fprintf(stderr, "# %s\n", error);
		free(error);
		return -1;
	}
	return 0;
}

/* teardown - close and remove them */
static int
teardown(void **state)
{
	(void)state;
	greylist_store_close(&store);
	return testutil_teardown(dir, &arena);
}

/* What an update function saw and decided. */
struct decide {
	bool write;			/* return true */
	struct greylist_record rec;	/* what to write */
	int calls;
	bool had_old;
	struct greylist_record old;	/* what it saw */
};

/* decide_fn - record what was seen, answer as told */
static bool
decide_fn(void *ctx, const struct greylist_record *old,
    struct greylist_record *new_r)
{
	struct decide *d = ctx;

	d->calls++;
	d->had_old = old != NULL;
	if (old != NULL)
		d->old = *old;
	if (d->write)
		*new_r = d->rec;
	return d->write;
}

/* update - write rec under key at now; returns the update's answer */
static enum greylist_store_result
update(const char *key, int64_t now, struct greylist_record rec,
    struct greylist_store_why *why)
{
	struct decide d = { .write = true, .rec = rec };

	return greylist_store_update(store, key, now, decide_fn, &d, why);
}

/* Records seen by a walk. */
struct seen {
	char key[16][64];
	struct greylist_record rec[16];
	size_t n;
	size_t stop_after;	/* 0: never stop */
};

/* seen_one - remember one record */
static bool
seen_one(void *ctx, const char *key, const struct greylist_record *rec)
{
	struct seen *s = ctx;

	assert_true(s->n < 16);
	snprintf(s->key[s->n], sizeof(s->key[s->n]), "%s", key);
	s->rec[s->n++] = *rec;
	return s->stop_after == 0 || s->n < s->stop_after;
}

/* walk - the records under prefix at now, into s */
static enum greylist_store_result
walk(const char *prefix, int64_t now, struct seen *s)
{
	struct greylist_store_why why;

	memset(s, 0, sizeof(*s));
	return greylist_store_walk(store, prefix, now, seen_one, s, &why);
}

/* assert_record - the four numbers */
static void
assert_record(const struct greylist_record *r, int64_t first, int64_t last,
    int64_t count, int64_t expires)
{
	assert_int_equal(r->first, first);
	assert_int_equal(r->last, last);
	assert_int_equal(r->count, count);
	assert_int_equal(r->expires, expires);
}

/* open_fails - opening s must fail with exactly want */
static void
open_fails(const char *s, const char *want)
{
	struct greylist_store *st = (struct greylist_store *)&st;
	char *error = NULL;

	assert_false(greylist_store_open(s, NULL, &st, &error));
	assert_null(st);
	assert_string_equal(error, want);
	free(error);
}

/* test_names - unknown types and empty names */
static void
test_names(void **state)
{
	(void)state;
	open_fails("hash:/etc/postern/greylist", "hash:/etc/postern/greylist: "
	    "not a greylist store (use lmdb:PATH or redis:unix:PATH or "
	    "redis:HOST:PORT)");
	open_fails("/var/lib/postern/greylist.lmdb", "/var/lib/postern/"
	    "greylist.lmdb: not a greylist store (use lmdb:PATH or "
	    "redis:unix:PATH or redis:HOST:PORT)");
	open_fails("LMDB:/x", "LMDB:/x: not a greylist store (use lmdb:PATH "
	    "or redis:unix:PATH or redis:HOST:PORT)");
	open_fails("lmdbx:/x", "lmdbx:/x: not a greylist store (use "
	    "lmdb:PATH or redis:unix:PATH or redis:HOST:PORT)");
	open_fails("lmd:/x", "lmd:/x: not a greylist store (use lmdb:PATH "
	    "or redis:unix:PATH or redis:HOST:PORT)");
	open_fails("", ": not a greylist store (use lmdb:PATH or "
	    "redis:unix:PATH or redis:HOST:PORT)");
	open_fails("lmdb:", "lmdb:: no name after \"lmdb:\"");
	open_fails("redis:", "redis:: no name after \"redis:\"");
	assert_string_equal(greylist_store_spec(store), spec);
}

/* test_keys - keys outside 1..KEY_MAX bytes of 0x20..0x7e are errors for
 * every call that takes one; the edges are fine */
static void
test_keys(void **state)
{
	char key[GREYLIST_STORE_KEY_MAX + 2];
	const char *const bad[] = {
		"", "a\tb", "a\nb", "a\x1f", "\x7f", "caf\xc3\xa9",
		key,		/* KEY_MAX + 1 bytes */
		NULL,
	};
	struct greylist_record rec = { 1, 2, 3, 1000 };
	struct greylist_store_why why;
	struct decide d = { .write = true, .rec = rec };
	size_t i;

	(void)state;
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	for (i = 0; bad[i] != NULL; i++) {
		memset(&why, 0, sizeof(why));
		assert_int_equal(greylist_store_get(store, bad[i], 100, &rec,
		    &why), GREYLIST_STORE_ERROR);
		assert_string_equal(why.text, "malformed key");
		memset(&why, 0, sizeof(why));
		assert_int_equal(greylist_store_update(store, bad[i], 100,
		    decide_fn, &d, &why), GREYLIST_STORE_ERROR);
		assert_string_equal(why.text, "malformed key");
		memset(&why, 0, sizeof(why));
		assert_int_equal(greylist_store_delete(store, bad[i], &why),
		    GREYLIST_STORE_ERROR);
		assert_string_equal(why.text, "malformed key");
		assert_int_equal(greylist_store_get(store, bad[i], 100, &rec,
		    NULL), GREYLIST_STORE_ERROR);
	}
	assert_int_equal(d.calls, 0);
	/* the longest key, space and '~' */
	key[GREYLIST_STORE_KEY_MAX] = '\0';
	key[0] = ' ';
	key[1] = '~';
	assert_int_equal(update(key, 100, rec, &why),
	    GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_get(store, key, 100, &rec, &why),
	    GREYLIST_STORE_FOUND);
	assert_record(&rec, 1, 2, 3, 1000);
	assert_int_equal(greylist_store_delete(store, key, &why),
	    GREYLIST_STORE_FOUND);
}

/* test_round_trip - what update writes, get and walk read back exactly */
static void
test_round_trip(void **state)
{
	static const struct greylist_record recs[] = {
		{ 0, 0, 0, 101 },
		{ 1700000000, 1700000300, 1, 1702592000 },
		{ INT64_MAX - 2, INT64_MAX - 1, INT64_MAX, INT64_MAX },
	};
	struct greylist_store_why why;
	struct greylist_record rec;
	struct seen s;
	char key[16];
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "t %zu", i);
		assert_int_equal(update(key, 100, recs[i], &why),
		    GREYLIST_STORE_NOTFOUND);
	}
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "t %zu", i);
		memset(&rec, 0xff, sizeof(rec));
		assert_int_equal(greylist_store_get(store, key, 100, &rec,
		    &why), GREYLIST_STORE_FOUND);
		assert_record(&rec, recs[i].first, recs[i].last,
		    recs[i].count, recs[i].expires);
	}
	assert_int_equal(walk("t ", 100, &s), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 3);
	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "t %zu", i);
		assert_string_equal(s.key[i], key);
		assert_record(&s.rec[i], recs[i].first, recs[i].last,
		    recs[i].count, recs[i].expires);
	}
	assert_int_equal(greylist_store_get(store, "t 3", 100, &rec, &why),
	    GREYLIST_STORE_NOTFOUND);
}

/* test_update - what the function sees, what the update answers */
static void
test_update(void **state)
{
	struct decide d = { .write = true, .rec = { 10, 20, 1, 500 } };
	struct greylist_store_why why;
	struct greylist_record rec;

	(void)state;
	/* absent: NULL, written, NOTFOUND */
	assert_int_equal(greylist_store_update(store, "k", 100, decide_fn, &d,
	    &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(d.calls, 1);
	assert_false(d.had_old);
	/* present: the record, rewritten, FOUND */
	d = (struct decide){ .write = true, .rec = { 10, 30, 2, 600 } };
	assert_int_equal(greylist_store_update(store, "k", 100, decide_fn, &d,
	    &why), GREYLIST_STORE_FOUND);
	assert_int_equal(d.calls, 1);
	assert_true(d.had_old);
	assert_record(&d.old, 10, 20, 1, 500);
	assert_int_equal(greylist_store_get(store, "k", 100, &rec, &why),
	    GREYLIST_STORE_FOUND);
	assert_record(&rec, 10, 30, 2, 600);
	/* why_r NULL is fine */
	d = (struct decide){ .write = true, .rec = { 10, 40, 3, 700 } };
	assert_int_equal(greylist_store_update(store, "k", 100, decide_fn, &d,
	    NULL), GREYLIST_STORE_FOUND);
	assert_int_equal(greylist_store_get(store, "k", 100, &rec, &why),
	    GREYLIST_STORE_FOUND);
	assert_record(&rec, 10, 40, 3, 700);
}

/* test_update_declined - false writes nothing, present or absent */
static void
test_update_declined(void **state)
{
	struct decide d = { .write = false, .rec = { 1, 1, 1, 1000 } };
	struct greylist_store_why why;
	struct greylist_record rec;
	struct seen s;

	(void)state;
	assert_int_equal(greylist_store_update(store, "absent", 100, decide_fn,
	    &d, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(d.calls, 1);
	assert_false(d.had_old);
	assert_int_equal(greylist_store_get(store, "absent", 100, &rec, &why),
	    GREYLIST_STORE_NOTFOUND);
	assert_int_equal(walk("", 100, &s), GREYLIST_STORE_NOTFOUND);

	assert_int_equal(update("present", 100, (struct greylist_record){
	    5, 6, 7, 800 }, &why), GREYLIST_STORE_NOTFOUND);
	d.calls = 0;
	assert_int_equal(greylist_store_update(store, "present", 100,
	    decide_fn, &d, &why), GREYLIST_STORE_FOUND);
	assert_int_equal(d.calls, 1);
	assert_true(d.had_old);
	assert_record(&d.old, 5, 6, 7, 800);
	assert_int_equal(greylist_store_get(store, "present", 100, &rec,
	    &why), GREYLIST_STORE_FOUND);
	assert_record(&rec, 5, 6, 7, 800);
}

/* test_update_bad_record - a record that would be dead on arrival, or has
 * a negative number, is an error and nothing is written */
static void
test_update_bad_record(void **state)
{
#define BAD(e)	"bad record for k (expires " #e ", now 100)"
	static const struct {
		struct greylist_record rec;
		const char *why;
	} bad[] = {
		{ { 1, 1, 1, 100 }, BAD(100) },
		{ { 1, 1, 1, 99 }, BAD(99) },
		{ { 1, 1, 1, -5 }, BAD(-5) },
		{ { -1, 1, 1, 200 }, BAD(200) },
		{ { 1, -1, 1, 200 }, BAD(200) },
		{ { 1, 1, -1, 200 }, BAD(200) },
	};
#undef BAD
	struct greylist_store_why why;
	struct greylist_record rec;
	struct seen s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&why, 0, sizeof(why));
		assert_int_equal(update("k", 100, bad[i].rec, &why),
		    GREYLIST_STORE_ERROR);
		assert_string_equal(why.text, bad[i].why);
		assert_int_equal(greylist_store_get(store, "k", 0, &rec, &why),
		    GREYLIST_STORE_NOTFOUND);
	}
	/* nor is a live record replaced */
	assert_int_equal(update("k", 100, (struct greylist_record){ 1, 2, 3,
	    300 }, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(update("k", 100, bad[0].rec, &why),
	    GREYLIST_STORE_ERROR);
	assert_int_equal(greylist_store_get(store, "k", 100, &rec, &why),
	    GREYLIST_STORE_FOUND);
	assert_record(&rec, 1, 2, 3, 300);
	assert_int_equal(walk("", 100, &s), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 1);
}

/* test_expired - from its expiry on, a record is gone for get, update and
 * walk, but delete and flush still find it */
static void
test_expired(void **state)
{
	struct decide d = { .write = true, .rec = { 7, 7, 9, 900 } };
	struct greylist_store_why why;
	struct greylist_record rec;
	struct seen s;

	(void)state;
	assert_int_equal(update("a", 100, (struct greylist_record){ 1, 2, 3,
	    200 }, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(update("b", 100, (struct greylist_record){ 4, 5, 6,
	    400 }, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(update("c", 100, (struct greylist_record){ 4, 5, 6,
	    200 }, &why), GREYLIST_STORE_NOTFOUND);

	assert_int_equal(greylist_store_get(store, "a", 199, &rec, &why),
	    GREYLIST_STORE_FOUND);
	assert_record(&rec, 1, 2, 3, 200);
	assert_int_equal(greylist_store_get(store, "a", 200, &rec, &why),
	    GREYLIST_STORE_NOTFOUND);
	assert_int_equal(walk("", 199, &s), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 3);
	assert_int_equal(walk("", 200, &s), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.key[0], "b");
	assert_int_equal(walk("a", 200, &s), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(s.n, 0);

	/* expired, but still there for delete (until a sweep) */
	assert_int_equal(greylist_store_delete(store, "c", &why),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(greylist_store_delete(store, "c", &why),
	    GREYLIST_STORE_NOTFOUND);

	/* the function sees no record, and its answer replaces the old */
	assert_int_equal(greylist_store_update(store, "a", 250, decide_fn, &d,
	    &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(d.calls, 1);
	assert_false(d.had_old);
	assert_int_equal(greylist_store_get(store, "a", 250, &rec, &why),
	    GREYLIST_STORE_FOUND);
	assert_record(&rec, 7, 7, 9, 900);
	assert_int_equal(walk("", 250, &s), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 2);
}

/*
 * test_unreadable - a value the front end cannot decode (written behind
 * its back; each expires late enough that the backend's sweep keeps it)
 * is no record: NOTFOUND for get and walk, NULL for an update, whose
 * answer replaces it
 */
static void
test_unreadable(void **state)
{
	static const char *const values[] = {
		"999999 x y z", "999999 1 2", "999999 1 2 3 4",
		"999999 -1 2 3", "999999  1 2 3", "999999 1 2 3x",
		"999999 1 2 +3", "999999 1 2 99999999999999999999", NULL,
	};
	struct decide d = { .write = true, .rec = { 1, 1, 1, 500 } };
	struct greylist_store_options opt = { 0 };
	struct greylist_store_why why;
	struct greylist_record rec;
	struct seen s;
	char *error = NULL;
	void *raw = NULL;
	size_t i;

	(void)state;
	/* the same file, so the same environment as store */
	if (!greylist_store_lmdb.open(path, &opt, &raw, &error))
		fail_msg("%s", error);
	for (i = 0; values[i] != NULL; i++) {
		assert_int_equal(greylist_store_lmdb.cas(raw, "k", NULL,
		    values[i], 100, 999999, &why), GREYLIST_STORE_FOUND);
		assert_int_equal(greylist_store_get(store, "k", 100, &rec,
		    &why), GREYLIST_STORE_NOTFOUND);
		assert_int_equal(walk("", 100, &s), GREYLIST_STORE_NOTFOUND);
		d.calls = 0;
		assert_int_equal(greylist_store_update(store, "k", 100,
		    decide_fn, &d, &why), GREYLIST_STORE_NOTFOUND);
		assert_int_equal(d.calls, 1);
		assert_false(d.had_old);
		assert_int_equal(greylist_store_get(store, "k", 100, &rec,
		    &why), GREYLIST_STORE_FOUND);
		assert_record(&rec, 1, 1, 1, 500);
		assert_int_equal(greylist_store_lmdb.del(raw, "k", &why),
		    GREYLIST_STORE_FOUND);
	}
	greylist_store_lmdb.close(raw);
}

/* test_delete - FOUND when it was there */
static void
test_delete(void **state)
{
	struct greylist_store_why why;
	struct greylist_record rec;

	(void)state;
	assert_int_equal(update("k", 100, (struct greylist_record){ 1, 2, 3,
	    300 }, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_delete(store, "k", &why),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(greylist_store_get(store, "k", 100, &rec, &why),
	    GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_delete(store, "k", &why),
	    GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_delete(store, "other", NULL),
	    GREYLIST_STORE_NOTFOUND);
}

/* test_walk - prefixes, and a function that stops the walk */
static void
test_walk(void **state)
{
	struct greylist_store_why why;
	struct seen s;

	(void)state;
	assert_int_equal(walk("", 100, &s), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(update("t 1", 100, (struct greylist_record){ 1, 1,
	    0, 300 }, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(update("t 2", 100, (struct greylist_record){ 2, 2,
	    0, 300 }, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(update("c 1", 100, (struct greylist_record){ 3, 3,
	    1, 300 }, &why), GREYLIST_STORE_NOTFOUND);

	assert_int_equal(walk("t ", 100, &s), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.key[0], "t 1");
	assert_record(&s.rec[0], 1, 1, 0, 300);
	assert_string_equal(s.key[1], "t 2");
	assert_int_equal(walk("c", 100, &s), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.key[0], "c 1");
	assert_record(&s.rec[0], 3, 3, 1, 300);
	assert_int_equal(walk("x", 100, &s), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(s.n, 0);

	memset(&s, 0, sizeof(s));
	s.stop_after = 1;
	assert_int_equal(greylist_store_walk(store, "", 100, seen_one, &s,
	    &why), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 1);
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	assert_int_equal(greylist_store_walk(store, "", 100, seen_one, &s,
	    NULL), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 2);
}

/* test_flush - deletes every record under the prefix, live or expired,
 * and counts exactly those; a key whose value is no record (another
 * program's) is left alone */
static void
test_flush(void **state)
{
	char value[GREYLIST_STORE_VALUE_MAX];
	struct greylist_store_options opt = { 0 };
	struct greylist_store_why why;
	struct seen s;
	size_t count = 99;
	char *error = NULL;
	void *raw = NULL;

	(void)state;
	if (!greylist_store_lmdb.open(path, &opt, &raw, &error))
		fail_msg("%s", error);
	assert_int_equal(greylist_store_lmdb.cas(raw, "t other", NULL,
	    "999999 not ours", 100, 999999, &why), GREYLIST_STORE_FOUND);
	assert_int_equal(greylist_store_flush(store, "", &count, &why),
	    GREYLIST_STORE_NOTFOUND);
	assert_int_equal(count, 0);
	assert_int_equal(update("t a", 100, (struct greylist_record){ 1, 1,
	    0, 300 }, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(update("t b", 100, (struct greylist_record){ 1, 1,
	    0, 300 }, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(update("t c", 100, (struct greylist_record){ 1, 1,
	    0, 150 }, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(update("tt", 100, (struct greylist_record){ 1, 1,
	    0, 300 }, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(update("c x", 100, (struct greylist_record){ 1, 1,
	    1, 300 }, &why), GREYLIST_STORE_NOTFOUND);

	assert_int_equal(greylist_store_flush(store, "t ", &count, &why),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(count, 3);
	assert_int_equal(greylist_store_lmdb.get(raw, "t other", value,
	    sizeof(value), &why), GREYLIST_STORE_FOUND);
	assert_string_equal(value, "999999 not ours");
	assert_int_equal(walk("", 100, &s), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.key[0], "c x");
	assert_string_equal(s.key[1], "tt");
	count = 99;
	assert_int_equal(greylist_store_flush(store, "t ", &count, &why),
	    GREYLIST_STORE_NOTFOUND);
	assert_int_equal(count, 0);
	assert_int_equal(greylist_store_flush(store, "", NULL, &why),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(walk("", 100, &s), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_lmdb.get(raw, "t other", value,
	    sizeof(value), &why), GREYLIST_STORE_FOUND);
	greylist_store_lmdb.close(raw);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_declined, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_update_bad_record, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
