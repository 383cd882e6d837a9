/*
 * test_greylist_store_lmdb.c - the lmdb: greylist store backend, through
 * greylist_store.h and, where the front end would hide what is tested,
 * through its vtable: files and modes, persistence, one environment per
 * file per process, no_create, a full map, compare-and-set, the atomic
 * update, delete, walk with a prefix, the bounded expiry sweep, many
 * threads on one key, and a writer killed with SIGKILL
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "greylist_store.h"
#include "greylist_store_impl.h"
#include "testutil.h"

#define THREADS		8
#define PER_THREAD	500
#define KILLED_WRITES	300

static char dir[256];
static char path[300];		/* DIR/gl.lmdb */
static char spec[310];		/* lmdb:DIR/gl.lmdb */
static struct arena *arena;

/* setup - a temp directory and arena per test */
static int
setup(void **state)
{
	(void)state;
	if (testutil_setup(dir, sizeof(dir), "test_greylist_store_lmdb",
	    &arena) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/gl.lmdb", dir);
	snprintf(spec, sizeof(spec), "lmdb:%s", path);
	return 0;
}

/* teardown - remove them */
static int
teardown(void **state)
{
	(void)state;
	return testutil_teardown(dir, &arena);
}

/* open_ok - open s, which must work */
static struct greylist_store *
open_ok(const char *s, const struct greylist_store_options *opt)
{
	struct greylist_store *store = NULL;
	char *error = NULL;

	if (!greylist_store_open(s, opt, &store, &error))
		fail_msg("%s: %s", s, error);
	assert_non_null(store);
	return store;
}

/* open_fails - opening s must fail with exactly want */
static void
open_fails(const char *s, const struct greylist_store_options *opt,
    const char *want)
{
	struct greylist_store *store = (struct greylist_store *)&store;
	char *error = NULL;

	assert_false(greylist_store_open(s, opt, &store, &error));
	assert_null(store);
	assert_string_equal(error, want);
	free(error);
}

/* raw_open - the backend itself on name */
static void *
raw_open(const char *name, const struct greylist_store_options *opt)
{
	static const struct greylist_store_options none = { 0 };
	void *state = NULL;
	char *error = NULL;

	if (!greylist_store_lmdb.open(name, opt != NULL ? opt : &none, &state,
	    &error))
		fail_msg("%s: %s", name, error);
	return state;
}

/* raw_put - unconditionally set key to value through the backend */
static void
raw_put(void *state, const char *key, const char *value)
{
	char old[GREYLIST_STORE_VALUE_MAX];
	struct greylist_store_why why;
	enum greylist_store_result r;

	r = greylist_store_lmdb.get(state, key, old, sizeof(old), &why);
	assert_int_not_equal(r, GREYLIST_STORE_ERROR);
	assert_int_equal(greylist_store_lmdb.cas(state, key,
	    r == GREYLIST_STORE_FOUND ? old : NULL, value, 10, 1000000, &why),
	    GREYLIST_STORE_FOUND);
}

/* mdb_write - key = value with LMDB itself, as mdb_load would (the store
 * must not be open in this process) */
static void
mdb_write(const char *key, const char *value)
{
	MDB_val k = { strlen(key), (void *)key };
	MDB_val v = { strlen(value), (void *)value };
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

/* Keys and values seen by a raw walk. */
struct seen {
	char key[64][GREYLIST_STORE_KEY_MAX + 1];
	char value[64][GREYLIST_STORE_VALUE_MAX];
	size_t n;
	size_t stop_after;	/* 0: never stop */
	size_t by_letter[128];	/* keys by their first byte */
};

/* seen_one - remember one key (the first 64) and count it by letter */
static bool
seen_one(void *ctx, const char *key, const char *value)
{
	struct seen *s = ctx;

	if (s->n < 64) {
		snprintf(s->key[s->n], sizeof(s->key[s->n]), "%s", key);
		snprintf(s->value[s->n], sizeof(s->value[s->n]), "%s", value);
	}
	s->by_letter[(unsigned char)key[0] & 127]++;
	s->n++;
	return s->stop_after == 0 || s->n < s->stop_after;
}

/* raw_walk - every key under prefix, through the backend */
static enum greylist_store_result
raw_walk(void *state, const char *prefix, struct seen *s)
{
	struct greylist_store_why why;

	memset(s, 0, sizeof(*s));
	return greylist_store_lmdb.walk(state, prefix, seen_one, s, &why);
}

/* Records written by set_fn. */
struct setter {
	struct greylist_record rec;
	int calls;
};

/* set_fn - write the record of ctx */
static bool
set_fn(void *ctx, const struct greylist_record *old,
    struct greylist_record *new_r)
{
	struct setter *s = ctx;

	(void)old;
	s->calls++;
	*new_r = s->rec;
	return true;
}

/* put - key = rec at now 100 through the front end */
static void
put(struct greylist_store *store, const char *key, int64_t first,
    int64_t last, int64_t count, int64_t expires)
{
	struct setter s = {
		.rec = { first, last, count, expires },
	};
	struct greylist_store_why why;

	if (greylist_store_update(store, key, 100, set_fn, &s, &why) ==
	    GREYLIST_STORE_ERROR)
		fail_msg("update %s: %s", key, why.text);
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

/* get_is - key must be found at now 100 with exactly these numbers */
static void
get_is(struct greylist_store *store, const char *key, int64_t first,
    int64_t last, int64_t count, int64_t expires)
{
	struct greylist_store_why why = { "" };
	struct greylist_record rec;

	if (greylist_store_get(store, key, 100, &rec, &why) !=
	    GREYLIST_STORE_FOUND)
		fail_msg("get %s: not found (%s)", key, why.text);
	assert_record(&rec, first, last, count, expires);
}

/* fds_on - descriptors of this process open on file */
static int
fds_on(const char *file)
{
	char link[PATH_MAX + 64], target[PATH_MAX];
	struct dirent *d;
	ssize_t len;
	DIR *fds;
	int n = 0;

	assert_non_null(fds = opendir("/proc/self/fd"));
	while ((d = readdir(fds)) != NULL) {
		snprintf(link, sizeof(link), "/proc/self/fd/%s", d->d_name);
		if ((len = readlink(link, target, sizeof(target) - 1)) < 0)
			continue;
		target[len] = '\0';
		n += strcmp(target, file) == 0;
	}
	closedir(fds);
	return n;
}

/* lock_fds - descriptors on PATH-lock: one per environment */
static int
lock_fds(void)
{
	char lock[320];

	snprintf(lock, sizeof(lock), "%s-lock", path);
	return fds_on(lock);
}

/* test_open - creates PATH and PATH-lock mode 0600, reopens */
static void
test_open(void **state)
{
	struct greylist_store *store;
	char lock[320];
	struct stat st;

	(void)state;
	snprintf(lock, sizeof(lock), "%s-lock", path);
	umask(022);
	store = open_ok(spec, NULL);
	assert_string_equal(greylist_store_spec(store), spec);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(lock, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	greylist_store_close(&store);
	assert_null(store);
	greylist_store_close(&store);	/* NULL is fine */
	assert_int_equal(lock_fds(), 0);
	store = open_ok(spec, NULL);
	assert_int_equal(lock_fds(), 1);
	greylist_store_close(&store);
}

/* test_persist - records survive close and open, exactly */
static void
test_persist(void **state)
{
	struct greylist_store *store = open_ok(spec, NULL);
	struct greylist_record rec;
	struct greylist_store_why why;

	(void)state;
	put(store, "t 192.0.2.0/24 a@example.com b@example.net", 90, 95, 0,
	    1000);
	put(store, "c @example.org", 0, 9223372036854775806LL, 7,
	    9223372036854775807LL);
	greylist_store_close(&store);
	store = open_ok(spec, NULL);
	get_is(store, "t 192.0.2.0/24 a@example.com b@example.net", 90, 95,
	    0, 1000);
	get_is(store, "c @example.org", 0, 9223372036854775806LL, 7,
	    9223372036854775807LL);
	assert_int_equal(greylist_store_get(store, "c @example.com", 100, &rec,
	    &why), GREYLIST_STORE_NOTFOUND);
	greylist_store_close(&store);
}

/* test_shared - every open of one file shares one environment, which
 * lives until the last close */
static void
test_shared(void **state)
{
	struct greylist_store *a, *b, *c, *d;
	char other[330], link[330], cspec[340], dspec[340];

	(void)state;
	snprintf(other, sizeof(other), "%s/./gl.lmdb", dir);
	snprintf(link, sizeof(link), "%s/link.lmdb", dir);
	snprintf(cspec, sizeof(cspec), "lmdb:%s", other);
	snprintf(dspec, sizeof(dspec), "lmdb:%s", link);
	a = open_ok(spec, NULL);
	b = open_ok(spec, NULL);
	assert_int_equal(symlink(path, link), 0);
	c = open_ok(cspec, NULL);
	d = open_ok(dspec, NULL);
	assert_int_equal(lock_fds(), 1);
	put(a, "k1", 1, 2, 3, 1000);
	get_is(b, "k1", 1, 2, 3, 1000);
	get_is(c, "k1", 1, 2, 3, 1000);
	greylist_store_close(&a);
	put(b, "k2", 4, 5, 6, 1000);
	get_is(b, "k1", 1, 2, 3, 1000);
	greylist_store_close(&b);
	greylist_store_close(&c);
	assert_int_equal(lock_fds(), 1);
	get_is(d, "k2", 4, 5, 6, 1000);
	assert_string_equal(greylist_store_spec(d), dspec);
	greylist_store_close(&d);
	assert_int_equal(lock_fds(), 0);
	/* the environment was really closed: a new one sees the data */
	a = open_ok(spec, NULL);
	get_is(a, "k2", 4, 5, 6, 1000);
	greylist_store_close(&a);
}

/* test_replaced - a path whose file was removed names a new store, not
 * the environment still open on the old file */
static void
test_replaced(void **state)
{
	struct greylist_store *a, *b;
	struct greylist_record rec;
	struct greylist_store_why why;
	char lock[320];

	(void)state;
	snprintf(lock, sizeof(lock), "%s-lock", path);
	a = open_ok(spec, NULL);
	put(a, "old", 1, 1, 1, 1000);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(unlink(lock), 0);
	b = open_ok(spec, NULL);
	assert_int_equal(lock_fds(), 1);	/* the old one is "(deleted)" */
	assert_int_equal(greylist_store_get(b, "old", 100, &rec, &why),
	    GREYLIST_STORE_NOTFOUND);
	put(b, "new", 2, 2, 2, 1000);
	get_is(a, "old", 1, 1, 1, 1000);
	assert_int_equal(greylist_store_get(a, "new", 100, &rec, &why),
	    GREYLIST_STORE_NOTFOUND);
	greylist_store_close(&a);
	get_is(b, "new", 2, 2, 2, 1000);
	greylist_store_close(&b);
}

/* test_no_create - a missing store is an error and nothing is created;
 * an existing one opens */
static void
test_no_create(void **state)
{
	struct greylist_store_options opt = { .no_create = true };
	struct greylist_store *store;
	char want[700], lock[320];
	struct stat st;

	(void)state;
	snprintf(lock, sizeof(lock), "%s-lock", path);
	snprintf(want, sizeof(want), "%s: %s: no such store", spec, path);
	open_fails(spec, &opt, want);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(stat(lock, &st), -1);
	assert_int_equal(errno, ENOENT);
	store = open_ok(spec, NULL);
	put(store, "k", 1, 2, 3, 1000);
	greylist_store_close(&store);
	store = open_ok(spec, &opt);
	get_is(store, "k", 1, 2, 3, 1000);
	greylist_store_close(&store);
}

/* test_open_errors - the reasons for stores that cannot be opened */
static void
test_open_errors(void **state)
{
	char want[1200], s[420], p[400];

	(void)state;
	snprintf(p, sizeof(p), "%s/missing/gl.lmdb", dir);
	snprintf(s, sizeof(s), "lmdb:%s", p);
	snprintf(want, sizeof(want), "%s: %s: open: No such file or "
	    "directory", s, p);
	open_fails(s, NULL, want);

	snprintf(s, sizeof(s), "lmdb:%s", dir);
	snprintf(want, sizeof(want), "%s: %s: not a regular file", s, dir);
	open_fails(s, NULL, want);

	testutil_put(arena, dir, "gl.lmdb", "this is not an LMDB file, "
	    "only some text that is long enough to be looked at as one\n");
	snprintf(want, sizeof(want), "%s: %s: open: MDB_INVALID: File is not "
	    "an LMDB file", spec, path);
	open_fails(spec, NULL, want);
	assert_int_equal(lock_fds(), 0);
}

/* fill - write distinct 400-byte keys at now until the map is full;
 * returns how many were written, *why_r the error */
static int
fill(struct greylist_store *store, const char *tag, int64_t now,
    struct greylist_store_why *why_r)
{
	struct setter s = { .rec = { 1, 2, 3, now + 900 } };
	char key[GREYLIST_STORE_KEY_MAX + 1];
	enum greylist_store_result r;
	int i;

	for (i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "%s%05d %0400d", tag, i, 0);
		r = greylist_store_update(store, key, now, set_fn, &s, why_r);
		if (r == GREYLIST_STORE_ERROR)
			return i;
		assert_int_equal(r, GREYLIST_STORE_NOTFOUND);
	}
	fail_msg("the map never filled up");
	return -1;
}

/* test_map_full - a tiny map fills up: an error that names map_size, the
 * records written before stay readable, and once they expire the store
 * frees itself */
static void
test_map_full(void **state)
{
	struct greylist_store_options opt = { .map_size = 64 * 1024 };
	struct greylist_store *store = open_ok(spec, &opt);
	struct setter s = { .rec = { 1, 2, 3, 1000 } };
	char key[GREYLIST_STORE_KEY_MAX + 1], want[600];
	struct greylist_store_why why;
	struct greylist_record rec;
	int i, written, first, again;

	(void)state;
	written = fill(store, "a", 100, &why);
	assert_true(written > 10);
	snprintf(want, sizeof(want), "%s: the store is full (map_size 65536 "
	    "bytes): MDB_MAP_FULL: Environment mapsize limit reached", path);
	assert_string_equal(why.text, want);
	/* a failed write wrote nothing, and everything before it is there */
	snprintf(key, sizeof(key), "a%05d %0400d", written, 0);
	assert_int_equal(greylist_store_get(store, key, 100, &rec, &why),
	    GREYLIST_STORE_NOTFOUND);
	for (i = 0; i < written; i++) {
		snprintf(key, sizeof(key), "a%05d %0400d", i, 0);
		get_is(store, key, 1, 2, 3, 1000);
	}
	/* while they live, nothing can be freed */
	assert_int_equal(fill(store, "b", 100, &why), 0);
	assert_string_equal(why.text, want);
	/* once they have expired, the writes that find the map full free
	 * it, and about as many records fit again. (LMDB reuses a freed
	 * page only two commits later, so the first writes may still fail.)
	 * A map full of live records is full again. */
	s.rec.expires = 2000;
	first = again = 0;
	for (i = 0; i < 3 * written; i++) {
		snprintf(key, sizeof(key), "c%05d %0400d", i, 0);
		if (greylist_store_update(store, key, 1000, set_fn, &s,
		    &why) != GREYLIST_STORE_ERROR) {
			assert_int_equal(again, i - first);
			again++;
			continue;
		}
		assert_string_equal(why.text, want);
		if (again == 0)
			first = i + 1;
	}
	assert_true(first <= 2);
	assert_true(again >= written - 3);
	greylist_store_close(&store);
}

/* test_cas - the backend's compare-and-set, byte for byte */
static void
test_cas(void **state)
{
	void *st = raw_open(path, NULL);
	char value[GREYLIST_STORE_VALUE_MAX], want[400];
	struct greylist_store_why why;

	(void)state;
	/* absent: only old NULL matches */
	assert_int_equal(greylist_store_lmdb.cas(st, "k", "", "1 1 1 1", 0,
	    1, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_lmdb.cas(st, "k", "1 1 1 1",
	    "1 1 1 1", 0, 1, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_lmdb.get(st, "k", value,
	    sizeof(value), &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_lmdb.cas(st, "k", NULL, "50 1 2 3",
	    0, 50, &why), GREYLIST_STORE_FOUND);
	assert_int_equal(greylist_store_lmdb.get(st, "k", value,
	    sizeof(value), &why), GREYLIST_STORE_FOUND);
	assert_string_equal(value, "50 1 2 3");
	/* present: old NULL, a prefix, a longer or other value do not */
	assert_int_equal(greylist_store_lmdb.cas(st, "k", NULL, "60 0 0 0",
	    0, 60, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_lmdb.cas(st, "k", "50 1 2", "60 0 0 0",
	    0, 60, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_lmdb.cas(st, "k", "50 1 2 34",
	    "60 0 0 0", 0, 60, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_lmdb.cas(st, "k", "50 1 2 4",
	    "60 0 0 0", 0, 60, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_lmdb.get(st, "k", value,
	    sizeof(value), &why), GREYLIST_STORE_FOUND);
	assert_string_equal(value, "50 1 2 3");
	assert_int_equal(greylist_store_lmdb.cas(st, "k", "50 1 2 3",
	    "60 4 5 6", 0, 60, &why), GREYLIST_STORE_FOUND);
	assert_int_equal(greylist_store_lmdb.get(st, "k", value,
	    sizeof(value), &why), GREYLIST_STORE_FOUND);
	assert_string_equal(value, "60 4 5 6");
	/* a value that does not fit the caller's buffer is an error */
	assert_int_equal(greylist_store_lmdb.get(st, "k", value, 8, &why),
	    GREYLIST_STORE_ERROR);
	snprintf(want, sizeof(want), "%s: get: a value of 8 bytes that is "
	    "no greylist record", path);
	assert_string_equal(why.text, want);
	assert_int_equal(greylist_store_lmdb.get(st, "k", value, 9, &why),
	    GREYLIST_STORE_FOUND);
	assert_string_equal(value, "60 4 5 6");
	greylist_store_lmdb.close(st);
}

/* test_mdb_error - an LMDB error is an ERROR naming the file, the step
 * and LMDB's text (here a key longer than LMDB takes, which it only
 * refuses to store) */
static void
test_mdb_error(void **state)
{
	void *st = raw_open(path, NULL);
	char key[601], value[GREYLIST_STORE_VALUE_MAX], want[700];
	struct greylist_store_why why;

	(void)state;
	memset(key, 'x', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	snprintf(want, sizeof(want), "%s: put: MDB_BAD_VALSIZE: Unsupported "
	    "size of key/DB name/data, or wrong DUPFIXED size", path);
	assert_int_equal(greylist_store_lmdb.cas(st, key, NULL, "9 9 9 9", 0,
	    9, &why), GREYLIST_STORE_ERROR);
	assert_string_equal(why.text, want);
	/* why_r NULL is allowed */
	assert_int_equal(greylist_store_lmdb.cas(st, key, NULL, "9 9 9 9", 0,
	    9, NULL), GREYLIST_STORE_ERROR);
	/* no such key can be there */
	assert_int_equal(greylist_store_lmdb.get(st, key, value,
	    sizeof(value), &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_lmdb.del(st, key, &why),
	    GREYLIST_STORE_NOTFOUND);
	/* the longest key the front end lets through is stored */
	key[GREYLIST_STORE_KEY_MAX] = '\0';
	raw_put(st, key, "99 9 9 9");
	assert_int_equal(greylist_store_lmdb.get(st, key, value,
	    sizeof(value), &why), GREYLIST_STORE_FOUND);
	greylist_store_lmdb.close(st);
}

/* What a raw update function saw and decided. */
struct raw_decide {
	const char *write;	/* NULL: decline */
	int calls;
	bool had_old;
	char old[GREYLIST_STORE_VALUE_MAX];
};

/* raw_decide_fn - record what was seen, answer as told */
static bool
raw_decide_fn(void *ctx, const char *old, char *value, size_t len,
    int64_t *expires_r)
{
	struct raw_decide *d = ctx;

	d->calls++;
	d->had_old = old != NULL;
	snprintf(d->old, sizeof(d->old), "%s", old != NULL ? old : "");
	if (d->write == NULL)
		return false;
	snprintf(value, len, "%s", d->write);
	*expires_r = 999;
	return true;
}

/* test_update - the backend's own read-decide-write */
static void
test_update(void **state)
{
	char value[GREYLIST_STORE_VALUE_MAX], big[GREYLIST_STORE_VALUE_MAX + 8];
	struct raw_decide d = { .write = "999 1 1 1" };
	struct greylist_store_why why;
	void *st = raw_open(path, NULL);

	(void)state;
	assert_non_null(greylist_store_lmdb.update);
	/* absent: NULL, written, NOTFOUND */
	assert_int_equal(greylist_store_lmdb.update(st, "k", 10,
	    raw_decide_fn, &d, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(d.calls, 1);
	assert_false(d.had_old);
	assert_int_equal(greylist_store_lmdb.get(st, "k", value,
	    sizeof(value), &why), GREYLIST_STORE_FOUND);
	assert_string_equal(value, "999 1 1 1");
	/* present: its value, rewritten, FOUND */
	d = (struct raw_decide){ .write = "999 2 2 2" };
	assert_int_equal(greylist_store_lmdb.update(st, "k", 10,
	    raw_decide_fn, &d, &why), GREYLIST_STORE_FOUND);
	assert_true(d.had_old);
	assert_string_equal(d.old, "999 1 1 1");
	assert_int_equal(greylist_store_lmdb.get(st, "k", value,
	    sizeof(value), &why), GREYLIST_STORE_FOUND);
	assert_string_equal(value, "999 2 2 2");
	/* declined: nothing written, present or absent */
	d = (struct raw_decide){ .write = NULL };
	assert_int_equal(greylist_store_lmdb.update(st, "k", 10,
	    raw_decide_fn, &d, &why), GREYLIST_STORE_FOUND);
	assert_int_equal(greylist_store_lmdb.update(st, "none", 10,
	    raw_decide_fn, &d, &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(d.calls, 2);
	assert_int_equal(greylist_store_lmdb.get(st, "k", value,
	    sizeof(value), &why), GREYLIST_STORE_FOUND);
	assert_string_equal(value, "999 2 2 2");
	assert_int_equal(greylist_store_lmdb.get(st, "none", value,
	    sizeof(value), &why), GREYLIST_STORE_NOTFOUND);
	/* a value too long for any record reaches the function as "" */
	greylist_store_lmdb.close(st);
	memset(big, '9', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mdb_write("big", big);
	st = raw_open(path, NULL);
	d = (struct raw_decide){ .write = "999 3 3 3" };
	assert_int_equal(greylist_store_lmdb.update(st, "big", 10,
	    raw_decide_fn, &d, &why), GREYLIST_STORE_FOUND);
	assert_true(d.had_old);
	assert_string_equal(d.old, "");
	assert_int_equal(greylist_store_lmdb.get(st, "big", value,
	    sizeof(value), &why), GREYLIST_STORE_FOUND);
	assert_string_equal(value, "999 3 3 3");
	greylist_store_lmdb.close(st);
}

/* test_del - FOUND when it was there, NOTFOUND when not */
static void
test_del(void **state)
{
	void *st = raw_open(path, NULL);
	char value[GREYLIST_STORE_VALUE_MAX];
	struct greylist_store_why why;

	(void)state;
	raw_put(st, "a", "50 0 0 0");
	raw_put(st, "b", "50 0 0 0");
	assert_int_equal(greylist_store_lmdb.del(st, "a", &why),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(greylist_store_lmdb.del(st, "a", &why),
	    GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_lmdb.del(st, "c", &why),
	    GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_lmdb.get(st, "a", value,
	    sizeof(value), &why), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(greylist_store_lmdb.get(st, "b", value,
	    sizeof(value), &why), GREYLIST_STORE_FOUND);
	greylist_store_lmdb.close(st);
}

/* test_walk - from the prefix to the first key past it, in key order */
static void
test_walk(void **state)
{
	void *st = raw_open(path, NULL);
	struct seen s;
	char prefix[GREYLIST_STORE_KEY_MAX + 10];

	(void)state;
	raw_put(st, "a 1", "50 1 0 0");
	raw_put(st, "a 2", "50 2 0 0");
	raw_put(st, "ab", "50 3 0 0");
	raw_put(st, "b 1", "50 4 0 0");
	raw_put(st, "a", "50 5 0 0");

	assert_int_equal(raw_walk(st, "a ", &s), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.key[0], "a 1");
	assert_string_equal(s.value[0], "50 1 0 0");
	assert_string_equal(s.key[1], "a 2");
	assert_string_equal(s.value[1], "50 2 0 0");

	assert_int_equal(raw_walk(st, "a", &s), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.key[0], "a");
	assert_string_equal(s.key[3], "ab");

	assert_int_equal(raw_walk(st, "", &s), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 5);
	assert_string_equal(s.key[4], "b 1");
	assert_string_equal(s.value[4], "50 4 0 0");

	assert_int_equal(raw_walk(st, "b 1", &s), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 1);

	/* before every key, between keys, after every key, too long */
	assert_int_equal(raw_walk(st, " ", &s), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(raw_walk(st, "a 3", &s), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(raw_walk(st, "zz", &s), GREYLIST_STORE_NOTFOUND);
	assert_int_equal(s.n, 0);
	memset(prefix, 'a', sizeof(prefix) - 1);
	prefix[sizeof(prefix) - 1] = '\0';
	assert_int_equal(raw_walk(st, prefix, &s), GREYLIST_STORE_NOTFOUND);

	/* the callback stops it */
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	assert_int_equal(greylist_store_lmdb.walk(st, "", seen_one, &s, NULL),
	    GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 2);
	greylist_store_lmdb.close(st);
}

/* test_walk_unreadable - a value that cannot be a greylist record is
 * walked as "" rather than breaking off the walk */
static void
test_walk_unreadable(void **state)
{
	void *st = raw_open(path, NULL);
	char big[GREYLIST_STORE_VALUE_MAX + 10];
	char value[GREYLIST_STORE_VALUE_MAX];
	struct greylist_store_why why;
	struct seen s;

	(void)state;
	greylist_store_lmdb.close(st);
	memset(big, '7', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mdb_write("big", big);
	st = raw_open(path, NULL);
	assert_int_equal(greylist_store_lmdb.get(st, "big", value,
	    sizeof(value), &why), GREYLIST_STORE_ERROR);
	assert_int_equal(raw_walk(st, "", &s), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.key[0], "big");
	assert_string_equal(s.value[0], "");
	greylist_store_lmdb.close(st);
}

/*
 * test_sweep - each write looks at the next 32 records after the last
 * write's sweep, wrapping at the end, and deletes the expired and the
 * unreadable ones. Keys: a000..a099 live, b000..b099 expired by now 1000,
 * c000.. written by the sweeping calls, m0..m3 unreadable values.
 */
static void
test_sweep(void **state)
{
	static const size_t b_left[] = { 100, 100, 100, 72, 40, 8, 0 };
	char key[32], big[GREYLIST_STORE_VALUE_MAX + 4];
	struct greylist_store_why why;
	struct seen s;
	void *st;
	int i;

	(void)state;
	st = raw_open(path, NULL);
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "a%03d", i);
		raw_put(st, key, "1000000 1 1 1");
		snprintf(key, sizeof(key), "b%03d", i);
		raw_put(st, key, "500 1 1 1");
	}
	/* writing at now 10 expired nothing */
	assert_int_equal(raw_walk(st, "", &s), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 200);
	greylist_store_lmdb.close(st);
	/* values that no sweep could read (written by others) */
	memset(big, '9', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mdb_write("m0", "garbage");
	mdb_write("m1", "");
	mdb_write("m2", "123");
	mdb_write("m3", big);
	/* a fresh environment sweeps from the first key */
	st = raw_open(path, NULL);
	assert_int_equal(raw_walk(st, "m", &s), GREYLIST_STORE_FOUND);
	assert_int_equal(s.n, 4);
	for (i = 0; i < 7; i++) {
		snprintf(key, sizeof(key), "c%03d", i);
		assert_int_equal(greylist_store_lmdb.cas(st, key, NULL,
		    "2000 1 1 1", 1000, 2000, &why), GREYLIST_STORE_FOUND);
		raw_walk(st, "", &s);
		assert_int_equal(s.by_letter['a'], 100);
		assert_int_equal(s.by_letter['b'], b_left[i]);
		assert_int_equal(s.by_letter['c'], i + 1);
		assert_int_equal(s.by_letter['m'], i < 6 ? 4 : 0);
	}
	/* a mismatched compare-and-set sweeps too: at a time when every
	 * record has expired, the whole store is gone after 107 / 32 */
	for (i = 0; i < 4; i++)
		assert_int_equal(greylist_store_lmdb.cas(st, "zzz", "x",
		    "3000000 1 1 1", 2000000, 3000000, &why),
		    GREYLIST_STORE_NOTFOUND);
	assert_int_equal(raw_walk(st, "", &s), GREYLIST_STORE_NOTFOUND);
	greylist_store_lmdb.close(st);
}

/* inc_fn - count one more */
static bool
inc_fn(void *ctx, const struct greylist_record *old,
    struct greylist_record *new_r)
{
	(void)ctx;
	new_r->first = old != NULL ? old->first : 100;
	new_r->last = 100;
	new_r->count = old != NULL ? old->count + 1 : 1;
	new_r->expires = 1000;
	return true;
}

struct incrementer {
	pthread_t tid;
	struct greylist_store *store;
	int errors;
	char why[GREYLIST_STORE_WHY_MAX];
};

/* incrementer_main - PER_THREAD increments of one key */
static void *
incrementer_main(void *arg)
{
	struct incrementer *w = arg;
	struct greylist_store_why why;
	int i;

	for (i = 0; i < PER_THREAD; i++)
		if (greylist_store_update(w->store, "counter", 100, inc_fn,
		    NULL, &why) == GREYLIST_STORE_ERROR) {
			w->errors++;
			memcpy(w->why, why.text, sizeof(w->why));
		}
	return NULL;
}

/* raw_inc_fn - count one more in a "999 N" value */
static bool
raw_inc_fn(void *ctx, const char *old, char *value, size_t len,
    int64_t *expires_r)
{
	long n = old != NULL ? strtol(old + 4, NULL, 10) : 0;

	(void)ctx;
	snprintf(value, len, "999 %ld", n + 1);
	*expires_r = 999;
	return true;
}

struct raw_incrementer {
	pthread_t tid;
	void *st;
	int errors;
};

/* raw_incrementer_main - PER_THREAD increments through the backend */
static void *
raw_incrementer_main(void *arg)
{
	struct raw_incrementer *w = arg;
	int i;

	for (i = 0; i < PER_THREAD; i++)
		if (greylist_store_lmdb.update(w->st, "counter", 10,
		    raw_inc_fn, NULL, NULL) == GREYLIST_STORE_ERROR)
			w->errors++;
	return NULL;
}

/* test_update_threads - the backend's update is atomic: concurrent
 * increments lose nothing and need no retries */
static void
test_update_threads(void **state)
{
	char value[GREYLIST_STORE_VALUE_MAX], want[32];
	struct raw_incrementer w[THREADS];
	struct greylist_store_why why;
	void *st = raw_open(path, NULL);
	int i;

	(void)state;
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct raw_incrementer){ .st = st };
		assert_int_equal(pthread_create(&w[i].tid, NULL,
		    raw_incrementer_main, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(w[i].tid, NULL), 0);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(w[i].errors, 0);
	assert_int_equal(greylist_store_lmdb.get(st, "counter", value,
	    sizeof(value), &why), GREYLIST_STORE_FOUND);
	snprintf(want, sizeof(want), "999 %d", THREADS * PER_THREAD);
	assert_string_equal(value, want);
	greylist_store_lmdb.close(st);
}

/* test_threads - concurrent increments of one key through the front end
 * lose nothing and fail none */
static void
test_threads(void **state)
{
	struct greylist_store *store = open_ok(spec, NULL);
	struct incrementer w[THREADS];
	struct greylist_store_why why;
	enum greylist_store_result r;
	struct greylist_record rec;
	int i;

	(void)state;
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct incrementer){ .store = store };
		assert_int_equal(pthread_create(&w[i].tid, NULL,
		    incrementer_main, &w[i]), 0);
	}
	/* all of them, and close, before anything may fail the test */
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(w[i].tid, NULL), 0);
	r = greylist_store_get(store, "counter", 100, &rec, &why);
	greylist_store_close(&store);
	for (i = 0; i < THREADS; i++)
		if (w[i].errors != 0)
			fail_msg("thread %d: %d errors, last: %s", i,
			    w[i].errors, w[i].why);
	assert_int_equal(r, GREYLIST_STORE_FOUND);
	assert_record(&rec, 100, 100, THREADS * PER_THREAD, 1000);
}

/* wait_byte - one byte from fd, which must come */
static void
wait_byte(int fd)
{
	char c;

	assert_int_equal(read(fd, &c, 1), 1);
}

/* hang_fn - walk callback of the killed child: report, then wait for the
 * end inside the read transaction */
static bool
hang_fn(void *ctx, const char *key, const struct greylist_record *rec)
{
	int fd = *(int *)ctx;

	(void)key;
	(void)rec;
	if (write(fd, "w", 1) != 1)
		_exit(3);
	for (;;)
		pause();
	return false;
}

/*
 * test_killed - a writer killed with SIGKILL inside a read transaction
 * loses none of its commits, and the next open frees its reader slot
 * (another process keeps the store open throughout, so LMDB does not
 * reset its lock file and only mdb_reader_check can free the slot)
 */
static void
test_killed(void **state)
{
	int ready[2], hold[2], status, dead = -1, i;
	struct greylist_store *store;
	struct greylist_store_why why;
	pid_t holder, writer;
	char key[32];
	MDB_env *env;

	(void)state;
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(hold), 0);
	/* the holder: open until hold is closed */
	assert_true((holder = fork()) >= 0);
	if (holder == 0) {
		char c;

		close(hold[1]);
		store = open_ok(spec, NULL);
		if (write(ready[1], "h", 1) != 1 || read(hold[0], &c, 1) != 0)
			_exit(2);
		greylist_store_close(&store);
		_exit(0);
	}
	close(hold[0]);
	wait_byte(ready[0]);
	/* the writer */
	assert_true((writer = fork()) >= 0);
	if (writer == 0) {
		store = open_ok(spec, NULL);
		for (i = 0; i < KILLED_WRITES; i++) {
			snprintf(key, sizeof(key), "k%04d", i);
			put(store, key, i, i + 1, i + 2, 1000 + i);
		}
		greylist_store_walk(store, "", 100, hang_fn, &ready[1], &why);
		_exit(4);
	}
	wait_byte(ready[0]);
	assert_int_equal(kill(writer, SIGKILL), 0);
	assert_int_equal(waitpid(writer, &status, 0), writer);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	store = open_ok(spec, NULL);
	for (i = 0; i < KILLED_WRITES; i++) {
		snprintf(key, sizeof(key), "k%04d", i);
		get_is(store, key, i, i + 1, i + 2, 1000 + i);
	}
	greylist_store_close(&store);
	/* the stale slot is gone: a check finds nothing more to free */
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOTLS,
	    0600), 0);
	assert_int_equal(mdb_reader_check(env, &dead), 0);
	assert_int_equal(dead, 0);
	mdb_env_close(env);

	close(hold[1]);
	assert_int_equal(waitpid(holder, &status, 0), holder);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ready[0]);
	close(ready[1]);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persist, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replaced, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_create, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_map_full, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mdb_error, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_unreadable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_threads, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_killed, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
