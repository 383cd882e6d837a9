/*
 * greylist_store_lmdb.c - the lmdb: greylist store backend (see
 * greylist_store_impl.h)
 *
 * The store is one LMDB file, PATH, with its lock file PATH-lock
 * (MDB_NOSUBDIR, both mode 0600: greylist records say who mails whom).
 * Keys and values go into the unnamed main database as their bytes
 * without a NUL, the layout "mdb_load -n -T" writes and mdb_dump reads,
 * so stores can be seeded, inspected and repaired with LMDB's own tools.
 *
 * One environment per file per process: LMDB forbids opening a file
 * twice in one process (closing either copy drops the POSIX locks of
 * both). filterd reloads by opening the store again before it closes the
 * old one, so every open goes through a registry that hands out the
 * environment already open for that file, with a reference count. A file
 * is known by st_dev/st_ino, not by its name: two spellings of one path
 * share an environment, and a path whose file was removed or replaced
 * names a new file that gets an environment of its own. The map size is
 * the first open's: later opens share the environment as it is.
 *
 * Durability: MDB_NOSYNC, so a commit costs no disk flush and greylisting
 * keeps up with a mail burst. The commits are in the page cache at once,
 * so a killed filterd loses nothing; after a commit, the store is
 * flushed (mdb_env_sync) when the last flush is a second old or more, and
 * again at close, so an OS crash loses about the last second of a steady
 * stream of writes. Two limits of this choice: the writes just before a
 * lull stay unflushed until the next write or close, and with MDB_NOSYNC
 * LMDB does not order the meta page behind the data pages, so an OS crash
 * in that window can leave a file LMDB refuses to open. Greylisting can
 * afford both: a lost record costs a sender one more retry, and a damaged
 * store fails loudly and is cured by removing it.
 *
 * MDB_NOTLS because calls come from a thread pool: a read transaction's
 * reader slot then belongs to the transaction, not to the thread.
 * mdb_reader_check at open frees the slots of a process that died inside
 * a read transaction (kill -9), which would otherwise pin old pages and
 * let the file grow.
 *
 * Updates: LMDB serializes writers anyway, so update reads, asks the
 * caller and writes in one write transaction, which no other writer can
 * come between: no compare-and-set rounds to lose however busy the key
 * (cas is there too, as the same transaction with a comparison for the
 * decision).
 *
 * Expiry: the write transaction of every update and compare-and-set also
 * looks at up to LMDB_SWEEP records after where the last one stopped
 * (wrapping at the end) and deletes the expired and the unreadable. So the
 * cost of expiry is bounded per write, needs no thread or cron job, and a
 * store of N records is swept through every N / LMDB_SWEEP writes.
 *
 * A full map (MDB_MAP_FULL) is an error that says so and names map_size,
 * the setting that cures it. A map full of records that have since
 * expired frees itself: the write that finds it full sweeps in
 * transactions of their own, with fewer deletes each while even that is
 * too much, and tries once more. This is best effort: LMDB needs free
 * pages to delete too, and a map can be so full that not even one delete
 * commits; then only a larger map_size helps (LMDB takes it at the next
 * open).
 *
 * Every other error of LMDB is a GREYLIST_STORE_ERROR whose reason reads
 * "PATH: what: LMDB's text".
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "greylist_store_impl.h"
#include "log.h"
#include "mem.h"

/* records looked at by the expiry sweep of one write transaction */
#define LMDB_SWEEP		32
/* map size when the configuration says 0 */
#define LMDB_MAP_SIZE		((uint64_t)1 << 30)
/* flush to disk after a commit when the last flush is this old */
#define LMDB_SYNC_MS		1000

/* One environment, shared by every open of its file in this process. */
struct lmdb_env {
	struct lmdb_env *next;	/* the registry's list */
	unsigned refs;		/* opens not yet closed */
	dev_t dev;		/* the file's identity */
	ino_t ino;
	MDB_env *env;
	MDB_dbi dbi;
	size_t maxkey;		/* LMDB's key size limit */
	/* CLOCK_MONOTONIC milliseconds of the last flush; atomic because
	 * it is read after commits, outside any transaction */
	_Atomic int_least64_t synced;
	/*
	 * The sweep's position: where the next sweep starts (sweep_len 0:
	 * at the first key), and where the sweep of write transaction
	 * stop_txn stopped, which becomes the position if that transaction
	 * committed: a sweep whose deletes were undone must not count.
	 * Only read and written inside write transactions, which LMDB's
	 * writer lock serializes across threads and processes, so they need
	 * no lock of their own.
	 */
	char *sweep;		/* maxkey bytes each */
	size_t sweep_len;
	char *stop;
	size_t stop_len;
	size_t stop_txn;	/* 0: none */
};

/* One open: the shared environment and the path as this caller named it
 * (for error reasons). */
struct lmdb_store {
	struct lmdb_env *e;
	char *path;
};

/* The open environments of this process. */
static pthread_mutex_t lmdb_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lmdb_env *lmdb_registry;

/* lmdb_clock_ms - monotonic milliseconds: flush intervals must not
 * follow changes of the wall clock */
static int64_t
lmdb_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* lmdb_fail - an LMDB error as a reason; a full map names the setting
 * that cures it instead of the step that found it (put or commit,
 * which is chance) */
static enum greylist_store_result
lmdb_fail(const struct lmdb_store *s, struct greylist_store_why *why,
    const char *what, int rc)
{
	MDB_envinfo info;

	if (rc == MDB_MAP_FULL) {
		mdb_env_info(s->e->env, &info);
		return greylist_store_why_set(why, "%s: the store is full "
		    "(map_size %zu bytes): %s", s->path, info.me_mapsize,
		    mdb_strerror(rc));
	}
	return greylist_store_why_set(why, "%s: %s: %s", s->path, what,
	    mdb_strerror(rc));
}

/* lmdb_sync - flush to disk; a failure is only logged, because the
 * commits it concerns are already visible to every reader */
static void
lmdb_sync(const struct lmdb_store *s)
{
	int rc;

	atomic_store(&s->e->synced, lmdb_clock_ms());
	if ((rc = mdb_env_sync(s->e->env, 1)) != 0)
		log_warn("%s: sync: %s", s->path, mdb_strerror(rc));
}

/* lmdb_commit - commit, then flush if the last flush is a second old;
 * of the threads that find it old only the one that moves the time on
 * flushes. Returns 0 or LMDB's error. */
static int
lmdb_commit(const struct lmdb_store *s, MDB_txn *txn)
{
	int_least64_t last, now;
	int rc;

	if ((rc = mdb_txn_commit(txn)) != 0)
		return rc;
	now = lmdb_clock_ms();
	last = atomic_load(&s->e->synced);
	if (now - last >= LMDB_SYNC_MS &&
	    atomic_compare_exchange_strong(&s->e->synced, &last, now))
		lmdb_sync(s);
	return 0;
}

/* lmdb_val - key as an LMDB value (its bytes without the NUL) */
static MDB_val
lmdb_val(const char *text)
{
	return (MDB_val){ .mv_size = strlen(text), .mv_data = (void *)text };
}

/* lmdb_text - copy a stored value into text (len bytes) as a string;
 * false if it does not fit or has a NUL in it, i.e. is no value that
 * greylist_store.c wrote */
static bool
lmdb_text(const MDB_val *v, char *text, size_t len)
{
	if (v->mv_size >= len || memchr(v->mv_data, '\0', v->mv_size) != NULL)
		return false;
	memcpy(text, v->mv_data, v->mv_size);
	text[v->mv_size] = '\0';
	return true;
}

/* lmdb_keycmp - LMDB's default key order: bytes, then length */
static int
lmdb_keycmp(const MDB_val *a, const char *b, size_t blen)
{
	int c = memcmp(a->mv_data, b, a->mv_size < blen ? a->mv_size : blen);

	if (c != 0)
		return c;
	return a->mv_size < blen ? -1 : a->mv_size > blen;
}

/* lmdb_dead - whether the sweep removes a value: expired at now, or
 * unreadable (then nobody could ever tell when it expires) */
static bool
lmdb_dead(const MDB_val *v, int64_t now)
{
	char text[GREYLIST_STORE_VALUE_MAX];
	int64_t expires;

	return !lmdb_text(v, text, sizeof(text)) ||
	    !greylist_store_value_expires(text, &expires) || expires <= now;
}

/*
 * lmdb_sweep_start - in the write transaction txn, before anything else,
 * settle the position the last committed sweep left. A transaction that
 * did not commit leaves its id to the next one, so a stop point recorded
 * under a smaller id is one that committed. (If another process committed
 * in between, the stop point of an undone sweep is taken too; the records
 * it skips are looked at a round later.)
 */
static void
lmdb_sweep_start(struct lmdb_env *e, MDB_txn *txn)
{
	if (e->stop_txn != 0 && e->stop_txn < mdb_txn_id(txn)) {
		memcpy(e->sweep, e->stop, e->stop_len);
		e->sweep_len = e->stop_len;
	}
	e->stop_txn = 0;
}

/*
 * lmdb_sweep - in the write transaction txn, look at up to LMDB_SWEEP
 * records from where the last sweep stopped, delete the dead ones (at
 * most limit), and note where this one stopped. At the end of the
 * database it goes on from the first key, but not past its own starting
 * point, so a small store is not looked at twice in one sweep. Returns 0
 * or LMDB's error; *deleted_r counts the deletes.
 */
static int
lmdb_sweep(struct lmdb_env *e, MDB_txn *txn, int64_t now, unsigned limit,
    unsigned *deleted_r)
{
	MDB_cursor *c;
	MDB_val k, v;
	bool wrapped = false;
	unsigned seen = 0;
	int rc;

	lmdb_sweep_start(e, txn);
	if ((rc = mdb_cursor_open(txn, e->dbi, &c)) != 0)
		return rc;
	k.mv_size = e->sweep_len;
	k.mv_data = e->sweep;
	rc = mdb_cursor_get(c, &k, &v, e->sweep_len > 0 ? MDB_SET_RANGE :
	    MDB_FIRST);
	while (seen < LMDB_SWEEP && *deleted_r < limit) {
		if (rc == MDB_NOTFOUND && !wrapped && e->sweep_len > 0) {
			wrapped = true;
			rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
			continue;
		}
		if (rc != 0)
			break;
		if (wrapped && lmdb_keycmp(&k, e->sweep, e->sweep_len) >= 0)
			break;
		seen++;
		/* after a delete the cursor's next record is the one that
		 * followed the deleted one */
		if (lmdb_dead(&v, now)) {
			if ((rc = mdb_cursor_del(c, 0)) != 0)
				break;
			++*deleted_r;
		}
		rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	if (rc == 0 || rc == MDB_NOTFOUND) {
		e->stop_len = rc == 0 ? k.mv_size : 0;
		if (e->stop_len > 0)
			memcpy(e->stop, k.mv_data, e->stop_len);
		e->stop_txn = mdb_txn_id(txn);
		rc = 0;
	}
	mdb_cursor_close(c);
	return rc;
}

/* lmdb_chown - give the store and its lock file to opt's uid:gid */
static bool
lmdb_chown(const char *path, const struct greylist_store_options *opt,
    char **error_r)
{
	char *lock = xasprintf("%s-lock", path);
	const char *bad = NULL;

	if (chown(path, opt->uid, opt->gid) != 0)
		bad = path;
	else if (chown(lock, opt->uid, opt->gid) != 0)
		bad = lock;
	if (bad != NULL)
		*error_r = xasprintf("%s: chown to %lu:%lu: %s", bad,
		    (unsigned long)opt->uid, (unsigned long)opt->gid,
		    strerror(errno));
	free(lock);
	return bad == NULL;
}

/* lmdb_env_new - create and open the environment of path; NULL with
 * *error_r */
static struct lmdb_env *
lmdb_env_new(const char *path, const struct greylist_store_options *opt,
    char **error_r)
{
	struct lmdb_env *e = xcalloc(1, sizeof(*e));
	const char *what = "create";
	MDB_txn *txn = NULL;
	struct stat st;
	int rc, fd, dead;

	if ((rc = mdb_env_create(&e->env)) != 0) {
		*error_r = xasprintf("%s: create: %s", path, mdb_strerror(rc));
		free(e);
		return NULL;
	}
	if ((rc = mdb_env_set_mapsize(e->env, opt->map_size != 0 ?
	    opt->map_size : LMDB_MAP_SIZE)) != 0)
		what = "map_size";
	else if ((rc = mdb_env_open(e->env, path, MDB_NOSUBDIR | MDB_NOTLS |
	    MDB_NOSYNC, 0600)) != 0)
		what = "open";
	else if ((rc = mdb_reader_check(e->env, &dead)) != 0)
		what = "reader check";
	else if ((rc = mdb_env_get_fd(e->env, &fd)) != 0)
		what = "file";
	else if (fstat(fd, &st) != 0) {
		rc = errno;
		what = "stat";
	} else if ((rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn)) != 0)
		what = "begin";
	else if ((rc = mdb_dbi_open(txn, NULL, 0, &e->dbi)) != 0)
		what = "main database";
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (rc != 0) {
		*error_r = xasprintf("%s: %s: %s", path, what,
		    mdb_strerror(rc));
		mdb_env_close(e->env);
		free(e);
		return NULL;
	}
	e->maxkey = (size_t)mdb_env_get_maxkeysize(e->env);
	if (e->maxkey < GREYLIST_STORE_KEY_MAX) {
		*error_r = xasprintf("%s: this LMDB takes keys of at most %zu "
		    "bytes, greylisting needs %d", path, e->maxkey,
		    GREYLIST_STORE_KEY_MAX);
		mdb_env_close(e->env);
		free(e);
		return NULL;
	}
	if (opt->chown && !lmdb_chown(path, opt, error_r)) {
		mdb_env_close(e->env);
		free(e);
		return NULL;
	}
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->refs = 1;
	e->sweep = xmalloc(e->maxkey);
	e->stop = xmalloc(e->maxkey);
	atomic_init(&e->synced, lmdb_clock_ms());
	return e;
}

/* lmdb_open - the registry's environment for path's file, or a new one */
static bool
lmdb_open(const char *path, const struct greylist_store_options *opt,
    void **state_r, char **error_r)
{
	struct lmdb_store *s;
	struct lmdb_env *e;
	struct stat st;
	bool exists;
	int dead;

	pthread_mutex_lock(&lmdb_registry_lock);
	exists = stat(path, &st) == 0;
	if (!exists && (errno != ENOENT || opt->no_create)) {
		*error_r = errno == ENOENT ? xasprintf("%s: no such store",
		    path) : xasprintf("%s: stat: %s", path, strerror(errno));
		pthread_mutex_unlock(&lmdb_registry_lock);
		return false;
	}
	/* refused before LMDB would create PATH-lock beside it */
	if (exists && !S_ISREG(st.st_mode)) {
		*error_r = xasprintf("%s: not a regular file", path);
		pthread_mutex_unlock(&lmdb_registry_lock);
		return false;
	}
	for (e = lmdb_registry; exists && e != NULL; e = e->next)
		if (e->dev == st.st_dev && e->ino == st.st_ino)
			break;
	if (exists && e != NULL) {
		e->refs++;
		/* another process may have died since this one opened; a
		 * failing check is no reason to refuse a working store */
		mdb_reader_check(e->env, &dead);
	} else if ((e = lmdb_env_new(path, opt, error_r)) != NULL) {
		e->next = lmdb_registry;
		lmdb_registry = e;
	}
	pthread_mutex_unlock(&lmdb_registry_lock);
	if (e == NULL)
		return false;
	s = xmalloc(sizeof(*s));
	s->e = e;
	s->path = xstrdup(path);
	*state_r = s;
	return true;
}

/* lmdb_close - flush, and close the environment with its last open */
static void
lmdb_close(void *state)
{
	struct lmdb_store *s = state;
	struct lmdb_env **p;

	lmdb_sync(s);
	pthread_mutex_lock(&lmdb_registry_lock);
	if (--s->e->refs == 0) {
		for (p = &lmdb_registry; *p != s->e; p = &(*p)->next)
			;
		*p = s->e->next;
		mdb_env_close(s->e->env);
		free(s->e->sweep);
		free(s->e->stop);
		free(s->e);
	}
	pthread_mutex_unlock(&lmdb_registry_lock);
	free(s->path);
	free(s);
}

/* lmdb_get - one read transaction; the value is copied before it ends */
static enum greylist_store_result
lmdb_get(void *state, const char *key, char *value, size_t len,
    struct greylist_store_why *why_r)
{
	struct lmdb_store *s = state;
	MDB_val k = lmdb_val(key), v;
	MDB_txn *txn;
	bool ok;
	int rc;

	if ((rc = mdb_txn_begin(s->e->env, NULL, MDB_RDONLY, &txn)) != 0)
		return lmdb_fail(s, why_r, "begin", rc);
	rc = mdb_get(txn, s->e->dbi, &k, &v);
	ok = rc == 0 && lmdb_text(&v, value, len);
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return GREYLIST_STORE_NOTFOUND;
	if (rc != 0)
		return lmdb_fail(s, why_r, "get", rc);
	if (!ok)
		return greylist_store_why_set(why_r, "%s: get: a value of %zu "
		    "bytes that is no greylist record", s->path, v.mv_size);
	return GREYLIST_STORE_FOUND;
}

/* A decision inside a write transaction: cur is the key's value (NULL:
 * absent); true with *new_r set to write that. */
typedef bool (*lmdb_decide_fn)(void *ctx, const MDB_val *cur,
    MDB_val *new_r);

/* The outcome of a write transaction. */
struct lmdb_written {
	bool had;		/* the key had a value */
	bool wrote;		/* the decision wrote one */
	unsigned deleted;	/* by the sweep */
	const char *what;	/* the step that failed */
};

/*
 * lmdb_write_txn - one write transaction: if key is given, read it, let
 * decide choose and write its choice; then sweep, deleting at most limit
 * records. Returns 0, or LMDB's error (w->what names the step).
 */
static int
lmdb_write_txn(const struct lmdb_store *s, const char *key,
    lmdb_decide_fn decide, void *ctx, int64_t now, unsigned limit,
    struct lmdb_written *w)
{
	MDB_val k, v, nv;
	MDB_txn *txn;
	int rc;

	memset(w, 0, sizeof(*w));
	w->what = "begin";
	if ((rc = mdb_txn_begin(s->e->env, NULL, 0, &txn)) != 0)
		return rc;
	if (key != NULL) {
		k = lmdb_val(key);
		w->what = "get";
		rc = mdb_get(txn, s->e->dbi, &k, &v);
		if (rc == 0 || rc == MDB_NOTFOUND) {
			w->had = rc == 0;
			rc = 0;
			if (decide(ctx, w->had ? &v : NULL, &nv)) {
				w->wrote = true;
				w->what = "put";
				rc = mdb_put(txn, s->e->dbi, &k, &nv, 0);
			}
		}
	}
	if (rc == 0) {
		w->what = "expiry sweep";
		rc = lmdb_sweep(s->e, txn, now, limit, &w->deleted);
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	w->what = "commit";
	return lmdb_commit(s, txn);
}

/*
 * lmdb_unfill - when the map is full, free what can be freed: in sweeps
 * of their own, since the deletes of a sweep are lost with the put that
 * failed beside them, and with fewer deletes per transaction while that
 * is too many, since a delete needs free pages too (for copies of the
 * pages it changes) and a full map has few. Stops after LMDB_SWEEP
 * deletes, so that one call costs a bounded time. Returns whether
 * anything was deleted.
 */
static bool
lmdb_unfill(const struct lmdb_store *s, int64_t now)
{
	unsigned limit = LMDB_SWEEP, freed = 0;
	struct lmdb_written w;
	int rc;

	while (limit > 0 && freed < LMDB_SWEEP) {
		rc = lmdb_write_txn(s, NULL, NULL, NULL, now, limit, &w);
		if (rc == MDB_MAP_FULL)
			limit /= 2;
		else if (rc != 0 || w.deleted == 0)
			break;
		else
			freed += w.deleted;
	}
	return freed > 0;
}

/*
 * lmdb_write - lmdb_write_txn with a normal sweep. A full map is swept on
 * its own and then the write tried once more (without deletes, which
 * would need pages of their own), or a map full of expired records would
 * stay full for good. Returns 0 or LMDB's error.
 */
static int
lmdb_write(const struct lmdb_store *s, const char *key,
    lmdb_decide_fn decide, void *ctx, int64_t now, struct lmdb_written *w)
{
	int rc;

	rc = lmdb_write_txn(s, key, decide, ctx, now, LMDB_SWEEP, w);
	if (rc == MDB_MAP_FULL && lmdb_unfill(s, now))
		rc = lmdb_write_txn(s, key, decide, ctx, now, 0, w);
	return rc;
}

/* The compare-and-set: the value expected, the one to write. */
struct lmdb_cas_ctx {
	const char *old;
	const char *value;
};

/* lmdb_cas_decide - write if the value is old byte for byte (old NULL:
 * if there is none) */
static bool
lmdb_cas_decide(void *ctx, const MDB_val *cur, MDB_val *new_r)
{
	struct lmdb_cas_ctx *c = ctx;

	if (c->old == NULL ? cur != NULL : cur == NULL ||
	    cur->mv_size != strlen(c->old) ||
	    memcmp(cur->mv_data, c->old, cur->mv_size) != 0)
		return false;
	*new_r = lmdb_val(c->value);
	return true;
}

/* lmdb_cas - compare, write and sweep in one write transaction; expires
 * is not needed: the value says it, and the sweep reads it */
static enum greylist_store_result
lmdb_cas(void *state, const char *key, const char *old, const char *value,
    int64_t now, int64_t expires, struct greylist_store_why *why_r)
{
	struct lmdb_store *s = state;
	struct lmdb_cas_ctx c = { .old = old, .value = value };
	struct lmdb_written w;
	int rc;

	(void)expires;
	if ((rc = lmdb_write(s, key, lmdb_cas_decide, &c, now, &w)) != 0)
		return lmdb_fail(s, why_r, w.what, rc);
	return w.wrote ? GREYLIST_STORE_FOUND : GREYLIST_STORE_NOTFOUND;
}

/* The caller's update decision and room for its answer. */
struct lmdb_update_ctx {
	greylist_store_update_raw_fn fn;
	void *ctx;
	char value[GREYLIST_STORE_VALUE_MAX];
};

/* lmdb_update_decide - the caller's decision on a copy of the value */
static bool
lmdb_update_decide(void *ctx, const MDB_val *cur, MDB_val *new_r)
{
	struct lmdb_update_ctx *u = ctx;
	char old[GREYLIST_STORE_VALUE_MAX];
	int64_t expires;

	if (cur != NULL && !lmdb_text(cur, old, sizeof(old)))
		old[0] = '\0';
	if (!u->fn(u->ctx, cur != NULL ? old : NULL, u->value,
	    sizeof(u->value), &expires))
		return false;
	*new_r = lmdb_val(u->value);
	return true;
}

/* lmdb_update - read, decide, write and sweep in one write transaction,
 * which LMDB's writer lock makes atomic: no retries, however busy the
 * key. The caller's function runs while this process holds that lock,
 * which is why it must be quick and must not call into the store. */
static enum greylist_store_result
lmdb_update(void *state, const char *key, int64_t now,
    greylist_store_update_raw_fn fn, void *ctx,
    struct greylist_store_why *why_r)
{
	struct lmdb_store *s = state;
	struct lmdb_update_ctx u = { .fn = fn, .ctx = ctx };
	struct lmdb_written w;
	int rc;

	if ((rc = lmdb_write(s, key, lmdb_update_decide, &u, now, &w)) != 0)
		return lmdb_fail(s, why_r, w.what, rc);
	return w.had ? GREYLIST_STORE_FOUND : GREYLIST_STORE_NOTFOUND;
}

/* lmdb_del - one write transaction */
static enum greylist_store_result
lmdb_del(void *state, const char *key, struct greylist_store_why *why_r)
{
	struct lmdb_store *s = state;
	MDB_val k = lmdb_val(key);
	MDB_txn *txn;
	int rc;

	if ((rc = mdb_txn_begin(s->e->env, NULL, 0, &txn)) != 0)
		return lmdb_fail(s, why_r, "begin", rc);
	/* every write transaction settles the sweep's position, since
	 * this one may take the id of one whose sweep was undone */
	lmdb_sweep_start(s->e, txn);
	rc = mdb_del(txn, s->e->dbi, &k, NULL);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc == MDB_NOTFOUND ? GREYLIST_STORE_NOTFOUND :
		    lmdb_fail(s, why_r, "delete", rc);
	}
	if ((rc = lmdb_commit(s, txn)) != 0)
		return lmdb_fail(s, why_r, "commit", rc);
	return GREYLIST_STORE_FOUND;
}

/*
 * lmdb_walk - one read transaction and a cursor from the first key not
 * below prefix to the first key that does not start with it. fn sees
 * copies, never LMDB's pages. A value that cannot be a greylist record
 * (too long, or with a NUL in it) is passed as "", which no caller takes
 * for a record, rather than breaking off the walk (the sweep removes
 * it); a key with a NUL in it (not written by Postern) is skipped, as no
 * caller could name it.
 */
static enum greylist_store_result
lmdb_walk(void *state, const char *prefix, greylist_store_walk_raw_fn fn,
    void *ctx, struct greylist_store_why *why_r)
{
	struct lmdb_store *s = state;
	char value[GREYLIST_STORE_VALUE_MAX];
	MDB_val k = lmdb_val(prefix), v;
	size_t plen = k.mv_size;
	MDB_cursor *c = NULL;
	bool visited = false;
	MDB_txn *txn;
	char *key;
	int rc;

	/* no key can start with a prefix longer than the longest key */
	if (plen > s->e->maxkey)
		return GREYLIST_STORE_NOTFOUND;
	if ((rc = mdb_txn_begin(s->e->env, NULL, MDB_RDONLY, &txn)) != 0)
		return lmdb_fail(s, why_r, "begin", rc);
	key = xmalloc(s->e->maxkey + 1);
	if ((rc = mdb_cursor_open(txn, s->e->dbi, &c)) == 0)
		rc = mdb_cursor_get(c, &k, &v, plen > 0 ? MDB_SET_RANGE :
		    MDB_FIRST);
	for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0) {
			rc = MDB_NOTFOUND;
			break;
		}
		if (k.mv_size > s->e->maxkey ||
		    memchr(k.mv_data, '\0', k.mv_size) != NULL)
			continue;
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		if (!lmdb_text(&v, value, sizeof(value)))
			value[0] = '\0';
		visited = true;
		if (!fn(ctx, key, value))
			break;
	}
	if (c != NULL)
		mdb_cursor_close(c);
	mdb_txn_abort(txn);
	free(key);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return lmdb_fail(s, why_r, "walk", rc);
	return visited ? GREYLIST_STORE_FOUND : GREYLIST_STORE_NOTFOUND;
}

const struct greylist_store_backend greylist_store_lmdb = {
	.type = "lmdb",
	.open = lmdb_open,
	.close = lmdb_close,
	.get = lmdb_get,
	.cas = lmdb_cas,
	.update = lmdb_update,
	.del = lmdb_del,
	.walk = lmdb_walk,
};
