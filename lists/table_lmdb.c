/*
 * table_lmdb.c - lmdb: tables compiled from a "key value" text source
 *
 * lmdb:/path reads /path.lmdb, which table_compile("/path") writes from the
 * text file /path (same format as hash:). The compiled file is never
 * changed in place: compile writes a temporary file in the same directory,
 * syncs it and renames it over the old one. So readers open the
 * environment read-only without a lock file (MDB_NOLOCK is safe because no
 * writer ever touches a file a reader maps), and a reader that still has
 * the old inode mapped keeps a consistent snapshot until table.c sees the
 * new inode and reopens. MDB_NOTLS because lookups come from a thread pool
 * and each one runs its own short read transaction.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "log.h"
#include "mem.h"
#include "table_impl.h"

#define LMDB_SUFFIX ".lmdb"

struct lmdb_content {
	MDB_env *env;
	MDB_dbi dbi;
	size_t maxkey;
};

/* lmdb_free - close the environment */
static void
lmdb_free(void *content)
{
	struct lmdb_content *c = content;

	mdb_env_close(c->env);
	free(c);
}

/* lmdb_stale_check - warn when the source is newer than the compiled file,
 * the classic "forgot to run postmap" mistake */
static void
lmdb_stale_check(const char *source, const char *db)
{
	struct stat s, d;

	if (stat(source, &s) == 0 && stat(db, &d) == 0 &&
	    (s.st_mtim.tv_sec > d.st_mtim.tv_sec ||
	    (s.st_mtim.tv_sec == d.st_mtim.tv_sec &&
	    s.st_mtim.tv_nsec > d.st_mtim.tv_nsec)))
		log_warn("%s is older than its source %s: run \"posternctl "
		    "lists compile %s\"", db, source, source);
}

/* lmdb_load - open path.lmdb read-only */
static void *
lmdb_load(const char *path, struct table_errs *errs)
{
	struct lmdb_content *c = xcalloc(1, sizeof(*c));
	char *db = xasprintf("%s%s", path, LMDB_SUFFIX);
	MDB_txn *txn = NULL;
	int rc;

	if ((rc = mdb_env_create(&c->env)) != 0) {
		table_errs_add(errs, "%s: cannot create LMDB environment: %s",
		    db, mdb_strerror(rc));
		free(db);
		free(c);
		return NULL;
	}
	rc = mdb_env_open(c->env, db, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK |
	    MDB_NOTLS, 0644);
	if (rc == 0)
		rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
	if (rc == 0)
		rc = mdb_dbi_open(txn, NULL, 0, &c->dbi);
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (rc != 0) {
		table_errs_add(errs, "%s: cannot open: %s", db,
		    mdb_strerror(rc));
		lmdb_free(c);
		free(db);
		return NULL;
	}
	c->maxkey = (size_t)mdb_env_get_maxkeysize(c->env);
	lmdb_stale_check(path, db);
	free(db);
	return c;
}

/* lmdb_lookup - one short read transaction */
static enum table_result
lmdb_lookup(void *content, const char *key, struct arena *arena,
    const char **value_r, const char **why_r)
{
	struct lmdb_content *c = content;
	MDB_txn *txn;
	MDB_val k, v;
	int rc;

	k.mv_size = strlen(key);
	k.mv_data = (void *)key;
	/* such keys cannot have been stored; LMDB would refuse them */
	if (k.mv_size == 0 || k.mv_size > c->maxkey)
		return TABLE_NOTFOUND;
	if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn)) != 0) {
		*why_r = mdb_strerror(rc);
		return TABLE_ERROR;
	}
	rc = mdb_get(txn, c->dbi, &k, &v);
	if (rc == 0)
		*value_r = arena_memdup(arena, v.mv_data, v.mv_size);
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return TABLE_NOTFOUND;
	if (rc != 0) {
		*why_r = mdb_strerror(rc);
		return TABLE_ERROR;
	}
	return TABLE_FOUND;
}

struct lmdb_entry {
	char *key, *value;
	int lineno;
};

struct lmdb_source {
	struct lmdb_entry *v;
	size_t n, cap;
};

/* lmdb_read_source - all entries of the text file, or false on errors */
static bool
lmdb_read_source(const char *path, struct lmdb_source *src, size_t maxkey,
    struct table_errs *errs)
{
	struct table_text tt;
	char *line, *key, *value;
	int lineno, before = errs->count;

	if (!table_text_open(&tt, path, errs))
		return false;
	while ((line = table_text_next(&tt, &lineno)) != NULL) {
		if (!table_text_split(line, &key, &value)) {
			table_errs_line(errs, path, lineno,
			    "expected format: key whitespace value");
			continue;
		}
		if (strlen(key) > maxkey) {
			table_errs_line(errs, path, lineno,
			    "key longer than %zu bytes", maxkey);
			continue;
		}
		table_fold(key);
		if (src->n == src->cap) {
			src->cap = src->cap ? src->cap * 2 : 64;
			src->v = xrealloc(src->v, src->cap * sizeof(*src->v));
		}
		src->v[src->n].key = xstrdup(key);
		src->v[src->n].value = xstrdup(value);
		src->v[src->n].lineno = lineno;
		src->n++;
	}
	return table_text_close(&tt) && errs->count == before;
}

/* lmdb_source_free - release the entries */
static void
lmdb_source_free(struct lmdb_source *src)
{
	size_t i;

	for (i = 0; i < src->n; i++) {
		free(src->v[i].key);
		free(src->v[i].value);
	}
	free(src->v);
}

/*
 * lmdb_write - put every entry into a fresh environment in tmp. Returns 0,
 * MDB_MAP_FULL (caller retries bigger) or another error code. Duplicates
 * keep the first entry, as hash: does.
 */
static int
lmdb_write(const char *tmp, const char *path, const struct lmdb_source *src,
    size_t mapsize, bool warn_dups)
{
	MDB_env *env;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k, v;
	size_t i;
	int rc;

	if ((rc = mdb_env_create(&env)) != 0)
		return rc;
	if ((rc = mdb_env_set_mapsize(env, mapsize)) == 0)
		rc = mdb_env_open(env, tmp, MDB_NOSUBDIR | MDB_NOLOCK, 0600);
	if (rc == 0)
		rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc == 0)
		rc = mdb_dbi_open(txn, NULL, 0, &dbi);
	for (i = 0; rc == 0 && i < src->n; i++) {
		k.mv_data = src->v[i].key;
		k.mv_size = strlen(src->v[i].key);
		v.mv_data = src->v[i].value;
		v.mv_size = strlen(src->v[i].value);
		rc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE);
		if (rc == MDB_KEYEXIST) {
			if (warn_dups)
				log_warn("%s:%d: duplicate entry \"%s\": "
				    "keeping the first one", path,
				    src->v[i].lineno, src->v[i].key);
			rc = 0;
		}
	}
	if (rc == 0) {
		rc = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (rc == 0)
		rc = mdb_env_sync(env, 1);
	mdb_env_close(env);
	return rc;
}

/* lmdb_sync_dir - make the rename durable */
static int
lmdb_sync_dir(const char *file)
{
	char *copy = xstrdup(file);
	int fd, rc = 0;

	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY)) < 0 ||
	    fsync(fd) < 0)
		rc = errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return rc;
}

/* lmdb_compile - text source path -> path.lmdb, atomically */
static bool
lmdb_compile(const char *path, struct table_errs *errs)
{
	struct lmdb_source src = { 0 };
	struct stat st;
	char *db = xasprintf("%s%s", path, LMDB_SUFFIX);
	char *tmp = xasprintf("%s.tmpXXXXXX", db);
	size_t mapsize, maxkey;
	bool ok = false, warn_dups = true, created = false;
	MDB_env *probe;
	int fd = -1, rc;

	/* the key limit is a build constant of LMDB; ask an idle handle */
	if (mdb_env_create(&probe) != 0)
		log_panic("lmdb_compile: mdb_env_create failed");
	maxkey = (size_t)mdb_env_get_maxkeysize(probe);
	mdb_env_close(probe);

	if (!lmdb_read_source(path, &src, maxkey, errs))
		goto out;
	if (stat(path, &st) < 0) {
		table_errs_add(errs, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		table_errs_add(errs, "%s: cannot create: %s", tmp,
		    strerror(errno));
		goto out;
	}
	created = true;
	/* readable by whoever may read the source; owner too when root */
	if (fchmod(fd, st.st_mode & 0666) < 0 ||
	    (geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0)) {
		table_errs_add(errs, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	mapsize = ((size_t)st.st_size * 4 + (1 << 20) + 4095) & ~(size_t)4095;
	for (;;) {
		if (ftruncate(fd, 0) < 0) {
			table_errs_add(errs, "%s: %s", tmp, strerror(errno));
			goto out;
		}
		rc = lmdb_write(tmp, path, &src, mapsize, warn_dups);
		if (rc != MDB_MAP_FULL)
			break;
		warn_dups = false;
		if (mapsize > ((size_t)1 << 40)) {
			table_errs_add(errs, "%s: %s", tmp, mdb_strerror(rc));
			goto out;
		}
		mapsize *= 2;
	}
	if (rc != 0) {
		table_errs_add(errs, "%s: %s", tmp, mdb_strerror(rc));
		goto out;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		table_errs_add(errs, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, db) < 0) {
		table_errs_add(errs, "%s: cannot rename to %s: %s", tmp, db,
		    strerror(errno));
		goto out;
	}
	if ((rc = lmdb_sync_dir(db)) != 0) {
		/* the new file is in place; only durability is in doubt */
		table_errs_add(errs, "%s: cannot sync directory: %s", db,
		    strerror(rc));
		ok = false;
		goto done;
	}
	ok = true;
	goto done;
out:
	if (created)
		unlink(tmp);
done:
	if (fd >= 0)
		close(fd);
	lmdb_source_free(&src);
	free(tmp);
	free(db);
	return ok;
}

const struct table_ops table_type_lmdb = {
	.load = lmdb_load,
	.lookup = lmdb_lookup,
	.free = lmdb_free,
	.compile = lmdb_compile,
};
