/*
 * greylist_store.h - where greylisting keeps its records
 *
 * Contract:
 *
 * A store maps keys to records. A key is text of 1 to
 * GREYLIST_STORE_KEY_MAX bytes, each in 0x20..0x7e (the greylist module
 * escapes anything else); a record is four numbers (struct
 * greylist_record). Every record carries its own expiry time: no call
 * ever returns a record whose expiry has come (now >= expires), and the
 * store removes such records by itself during normal operation (LMDB: a
 * bounded sweep inside its write transactions; Redis: key TTLs), so a
 * store never grows without bound and needs no cron job.
 *
 * Three answers on every call: FOUND, NOTFOUND or ERROR. An error never
 * reads as "not found"; it comes with a one-line reason in *why_r (which
 * may be NULL when the caller does not want it).
 *
 * Stores are named like tables:
 *
 *	lmdb:/var/lib/postern/greylist.lmdb
 *		embedded LMDB (files PATH and PATH-lock, created mode 0600);
 *		one environment per path per process, shared by every open
 *		of that path (LMDB forbids opening it twice), so a reload
 *		that keeps the path reuses it
 *	redis:unix:/run/redis/redis.sock
 *	redis:127.0.0.1:6379, redis:[::1]:6379, redis:HOST (port 6379)
 *		Redis via hiredis; every key gets opt->key_prefix in front
 *		(the prefix is invisible to callers: walk returns keys
 *		without it). Records are written with a TTL equal to their
 *		expiry, and every change is a compare-and-set on the server,
 *		so any number of nodes may update one key at once. A
 *		connection that fails is dropped and made again at a later
 *		call (at most one attempt per second while the server is
 *		down, so a dead Redis costs each call no more than a failed
 *		connect).
 *
 * Threads: every function may be called from any number of threads at
 * once on one store, except open and close.
 *
 * Lifetimes: greylist_store_open's result is owned by the caller until
 * greylist_store_close. Keys and records passed in are only read during
 * the call; keys handed to a walk callback live until it returns.
 */
#ifndef POSTERN_GREYLIST_STORE_H
#define POSTERN_GREYLIST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* LMDB's key limit (MDB_MAXKEYSIZE, 511 in Debian's liblmdb) */
#define GREYLIST_STORE_KEY_MAX	511
#define GREYLIST_STORE_WHY_MAX	256

struct greylist_store;

/* One record; every time is in Unix seconds. The store treats first,
 * last and count as opaque numbers; only expires means something to it. */
struct greylist_record {
	int64_t first;		/* first seen */
	int64_t last;		/* last seen */
	int64_t count;		/* passes so far */
	int64_t expires;	/* the record is gone from this time on */
};

enum greylist_store_result {
	GREYLIST_STORE_FOUND,
	GREYLIST_STORE_NOTFOUND,
	GREYLIST_STORE_ERROR,
};

/* One reason for an error; text is always NUL-terminated. */
struct greylist_store_why {
	char text[GREYLIST_STORE_WHY_MAX];
};

struct greylist_store_options {
	const char *key_prefix;	/* Redis: before every key; NULL = "" */
	double timeout;		/* Redis: connect and command timeout,
				   seconds; 0 = 1 s */
	unsigned connections;	/* Redis: connections kept for concurrent
				   callers; 0 = 1 */
	const char *password;	/* Redis: AUTH; NULL or "" = none */
	unsigned long database;	/* Redis: SELECT when not 0 */
	uint64_t map_size;	/* LMDB: map size in bytes; 0 = 1 GiB */
	bool no_create;		/* LMDB: fail if the store does not exist
				   (tools must not create stores) */
	bool chown;		/* LMDB: give the files to uid:gid when a
				   new environment is opened (filterd opens
				   its store as root, then becomes its
				   user, who must be able to reopen it) */
	uid_t uid;
	gid_t gid;
};

/*
 * greylist_store_open - open the store named spec. Returns false with
 * *error_r (malloc'ed, one line naming spec) for an unknown type, a
 * malformed name, or a store that cannot be opened: an LMDB file that
 * cannot be created or mapped, a Redis server that does not answer PING
 * (or AUTH/SELECT) now. Checking Redis at open makes a wrong address a
 * startup error rather than a run-time one; later outages are run-time
 * errors handled per call.
 */
bool greylist_store_open(const char *spec,
    const struct greylist_store_options *opt,
    struct greylist_store **store_r, char **error_r);

/* greylist_store_close - release the store and set *store NULL; NULL ok */
void greylist_store_close(struct greylist_store **store);

/* greylist_store_spec - the spec it was opened with */
const char *greylist_store_spec(const struct greylist_store *store);

/*
 * greylist_store_get - the live record of key at time now into *rec_r.
 */
enum greylist_store_result greylist_store_get(struct greylist_store *store,
    const char *key, int64_t now, struct greylist_record *rec_r,
    struct greylist_store_why *why_r);

/*
 * An update decision. old is the live record (NULL when there is none:
 * absent, expired or unreadable). Return true with *new_r filled to write
 * *new_r (its expires must be later than now), false to leave the key as
 * it is. The function may be called more than once in one update (a
 * compare-and-set lost to another node is retried on the new value), so
 * it must fill its ctx afresh on every call; what the last call left in
 * ctx is what happened.
 */
typedef bool (*greylist_store_update_fn)(void *ctx,
    const struct greylist_record *old, struct greylist_record *new_r);

/*
 * greylist_store_update - read key, ask fn, write its answer, atomically:
 * no other update of the key by any thread or node comes between the read
 * and the write. FOUND: there was a live record (fn saw it); NOTFOUND:
 * there was none; ERROR: the caller must not act on ctx (fn may or may
 * not have been called) and must not assume the write happened or not: a
 * network store that times out after sending the write cannot know.
 */
enum greylist_store_result greylist_store_update(
    struct greylist_store *store, const char *key, int64_t now,
    greylist_store_update_fn fn, void *ctx,
    struct greylist_store_why *why_r);

/* greylist_store_delete - remove key. FOUND: it was there (live or not) */
enum greylist_store_result greylist_store_delete(
    struct greylist_store *store, const char *key,
    struct greylist_store_why *why_r);

/*
 * A walk visits live records in no promised order; return false to stop.
 * Redis: a key changed during the walk may be visited twice or not at all
 * (SCAN semantics).
 */
typedef bool (*greylist_store_walk_fn)(void *ctx, const char *key,
    const struct greylist_record *rec);

/*
 * greylist_store_walk - visit every live record whose key starts with
 * prefix ("" = all). FOUND: at least one was visited; NOTFOUND: none;
 * ERROR: the walk broke off (records before it were visited). fn must not
 * call into the same store.
 */
enum greylist_store_result greylist_store_walk(struct greylist_store *store,
    const char *prefix, int64_t now, greylist_store_walk_fn fn, void *ctx,
    struct greylist_store_why *why_r);

/*
 * greylist_store_flush - delete every record (live or expired) whose key
 * starts with prefix (keys whose value is not a record are left alone);
 * *count_r (may be NULL) is how many were deleted. FOUND: at least one;
 * NOTFOUND: none; ERROR: broke off part way.
 */
enum greylist_store_result greylist_store_flush(struct greylist_store *store,
    const char *prefix, size_t *count_r, struct greylist_store_why *why_r);

#endif
