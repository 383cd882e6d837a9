/*
 * greylist_store.c - the greylist store front end (see greylist_store.h)
 *
 * Picks the backend by the spec's type from a table, encodes records as
 * text values, hides expired records, and turns the backends'
 * compare-and-set into an atomic read-modify-write: read, ask the
 * caller's function, write only if the value is still what was read,
 * else read again.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "greylist_store.h"
#include "greylist_store_impl.h"
#include "mem.h"

/* compare-and-set rounds lost to other writers before giving up */
#define GREYLIST_STORE_CAS_TRIES 16

static const struct greylist_store_backend *const greylist_store_backends[] = {
	&greylist_store_lmdb,
	&greylist_store_redis,
	NULL,
};

struct greylist_store {
	const struct greylist_store_backend *backend;
	void *state;
	char *spec;
};

/* greylist_store_why_set - printf into why; see greylist_store_impl.h */
enum greylist_store_result
greylist_store_why_set(struct greylist_store_why *why, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL) {
		va_start(ap, fmt);
		vsnprintf(why->text, sizeof(why->text), fmt, ap);
		va_end(ap);
	}
	return GREYLIST_STORE_ERROR;
}

/* greylist_store_number - a decimal int64 at *p followed by a space or the
 * end, advancing past it */
static bool
greylist_store_number(const char **p, int64_t *r)
{
	char *end;
	long long v;

	if (**p < '0' || **p > '9')
		return false;
	errno = 0;
	v = strtoll(*p, &end, 10);
	if (errno != 0 || (*end != ' ' && *end != '\0'))
		return false;
	*r = v;
	*p = *end == ' ' ? end + 1 : end;
	return true;
}

/* greylist_store_value_expires - see greylist_store_impl.h */
bool
greylist_store_value_expires(const char *value, int64_t *expires_r)
{
	const char *p = value;

	return greylist_store_number(&p, expires_r) && p[-1] == ' ';
}

/* greylist_store_decode - a value into rec; false if malformed */
static bool
greylist_store_decode(const char *value, struct greylist_record *rec)
{
	const char *p = value;

	return greylist_store_number(&p, &rec->expires) && p[-1] == ' ' &&
	    greylist_store_number(&p, &rec->first) && p[-1] == ' ' &&
	    greylist_store_number(&p, &rec->last) && p[-1] == ' ' &&
	    greylist_store_number(&p, &rec->count) && *p == '\0';
}

/* greylist_store_encode - rec as a value */
static void
greylist_store_encode(const struct greylist_record *rec, char *value,
    size_t len)
{
	snprintf(value, len, "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64,
	    rec->expires, rec->first, rec->last, rec->count);
}

/* greylist_store_live - decode value if it is a live record at now */
static bool
greylist_store_live(const char *value, int64_t now,
    struct greylist_record *rec)
{
	return greylist_store_decode(value, rec) && now < rec->expires &&
	    rec->first >= 0 && rec->last >= 0 && rec->count >= 0;
}

/* greylist_store_record_ok - whether an update may write rec at now */
static bool
greylist_store_record_ok(const struct greylist_record *rec, int64_t now)
{
	return rec->expires > now && rec->first >= 0 && rec->last >= 0 &&
	    rec->count >= 0;
}

/* greylist_store_key_ok - 1..KEY_MAX bytes of 0x20..0x7e */
static bool
greylist_store_key_ok(const char *key)
{
	size_t i;

	for (i = 0; key[i] != '\0'; i++)
		if (i >= GREYLIST_STORE_KEY_MAX ||
		    (unsigned char)key[i] < 0x20 ||
		    (unsigned char)key[i] > 0x7e)
			return false;
	return i > 0;
}

/* greylist_store_open - see greylist_store.h */
bool
greylist_store_open(const char *spec,
    const struct greylist_store_options *opt,
    struct greylist_store **store_r, char **error_r)
{
	static const struct greylist_store_options defaults = { 0 };
	const struct greylist_store_backend *b = NULL;
	const char *colon = strchr(spec, ':');
	struct greylist_store *s;
	char *why = NULL;
	size_t i;

	*store_r = NULL;
	if (opt == NULL)
		opt = &defaults;
	for (i = 0; colon != NULL && greylist_store_backends[i] != NULL; i++)
		if (strlen(greylist_store_backends[i]->type) ==
		    (size_t)(colon - spec) &&
		    strncmp(spec, greylist_store_backends[i]->type,
		    (size_t)(colon - spec)) == 0)
			b = greylist_store_backends[i];
	if (b == NULL) {
		*error_r = xasprintf("%s: not a greylist store (use lmdb:PATH "
		    "or redis:unix:PATH or redis:HOST:PORT)", spec);
		return false;
	}
	if (colon[1] == '\0') {
		*error_r = xasprintf("%s: no name after \"%s:\"", spec,
		    b->type);
		return false;
	}
	s = xcalloc(1, sizeof(*s));
	s->backend = b;
	s->spec = xstrdup(spec);
	if (!b->open(colon + 1, opt, &s->state, &why)) {
		*error_r = xasprintf("%s: %s", spec, why);
		free(why);
		free(s->spec);
		free(s);
		return false;
	}
	*store_r = s;
	return true;
}

/* greylist_store_close - see greylist_store.h */
void
greylist_store_close(struct greylist_store **store)
{
	struct greylist_store *s = *store;

	if (s == NULL)
		return;
	s->backend->close(s->state);
	free(s->spec);
	free(s);
	*store = NULL;
}

/* greylist_store_spec - see greylist_store.h */
const char *
greylist_store_spec(const struct greylist_store *store)
{
	return store->spec;
}

/* greylist_store_get - see greylist_store.h */
enum greylist_store_result
greylist_store_get(struct greylist_store *store, const char *key,
    int64_t now, struct greylist_record *rec_r,
    struct greylist_store_why *why_r)
{
	char value[GREYLIST_STORE_VALUE_MAX];
	enum greylist_store_result r;

	if (!greylist_store_key_ok(key))
		return greylist_store_why_set(why_r, "malformed key");
	r = store->backend->get(store->state, key, value, sizeof(value),
	    why_r);
	if (r != GREYLIST_STORE_FOUND)
		return r;
	return greylist_store_live(value, now, rec_r) ?
	    GREYLIST_STORE_FOUND : GREYLIST_STORE_NOTFOUND;
}

/* greylist_store_backoff - after a lost compare-and-set: a short random
 * pause growing with the losses, so that writers racing for one key stop
 * colliding in lock step */
static void
greylist_store_backoff(int tries)
{
	static _Thread_local unsigned seed;
	struct timespec ts = { 0 };

	if (seed == 0)
		seed = (unsigned)(uintptr_t)&seed ^ (unsigned)time(NULL);
	ts.tv_nsec = (long)(rand_r(&seed) % (50000u * (unsigned)(tries + 1)));
	nanosleep(&ts, NULL);
}

/* An update through a backend's own atomic update. */
struct greylist_store_update_ctx {
	int64_t now;
	greylist_store_update_fn fn;
	void *ctx;
	bool live;			/* fn saw a record */
	bool bad;			/* fn's answer may not be written */
	struct greylist_record next;	/* fn's answer */
};

/* greylist_store_update_one - decode, ask the caller, encode
 * (greylist_store_update_raw_fn) */
static bool
greylist_store_update_one(void *ctx, const char *old, char *value,
    size_t len, int64_t *expires_r)
{
	struct greylist_store_update_ctx *u = ctx;
	struct greylist_record rec;

	u->live = old != NULL && greylist_store_live(old, u->now, &rec);
	u->bad = false;
	memset(&u->next, 0, sizeof(u->next));
	if (!u->fn(u->ctx, u->live ? &rec : NULL, &u->next))
		return false;
	if (!greylist_store_record_ok(&u->next, u->now)) {
		u->bad = true;
		return false;
	}
	greylist_store_encode(&u->next, value, len);
	*expires_r = u->next.expires;
	return true;
}

/* greylist_store_update_atomic - greylist_store_update on a backend that
 * can read, decide and write in one step: no retries */
static enum greylist_store_result
greylist_store_update_atomic(struct greylist_store *store, const char *key,
    int64_t now, greylist_store_update_fn fn, void *ctx,
    struct greylist_store_why *why_r)
{
	struct greylist_store_update_ctx u = {
		.now = now, .fn = fn, .ctx = ctx,
	};

	if (store->backend->update(store->state, key, now,
	    greylist_store_update_one, &u, why_r) == GREYLIST_STORE_ERROR)
		return GREYLIST_STORE_ERROR;
	if (u.bad)
		return greylist_store_why_set(why_r, "bad record for %s "
		    "(expires %" PRId64 ", now %" PRId64 ")", key,
		    u.next.expires, now);
	return u.live ? GREYLIST_STORE_FOUND : GREYLIST_STORE_NOTFOUND;
}

/* greylist_store_update - see greylist_store.h */
enum greylist_store_result
greylist_store_update(struct greylist_store *store, const char *key,
    int64_t now, greylist_store_update_fn fn, void *ctx,
    struct greylist_store_why *why_r)
{
	char old[GREYLIST_STORE_VALUE_MAX], value[GREYLIST_STORE_VALUE_MAX];
	struct greylist_record rec, next;
	enum greylist_store_result r;
	bool live;
	int tries;

	if (!greylist_store_key_ok(key))
		return greylist_store_why_set(why_r, "malformed key");
	if (store->backend->update != NULL)
		return greylist_store_update_atomic(store, key, now, fn, ctx,
		    why_r);
	for (tries = 0; tries < GREYLIST_STORE_CAS_TRIES; tries++) {
		r = store->backend->get(store->state, key, old, sizeof(old),
		    why_r);
		if (r == GREYLIST_STORE_ERROR)
			return r;
		/* an expired or unreadable value is no record, but the
		 * write must still replace exactly it */
		live = r == GREYLIST_STORE_FOUND &&
		    greylist_store_live(old, now, &rec);
		memset(&next, 0, sizeof(next));
		if (!fn(ctx, live ? &rec : NULL, &next))
			return live ? GREYLIST_STORE_FOUND :
			    GREYLIST_STORE_NOTFOUND;
		if (!greylist_store_record_ok(&next, now))
			return greylist_store_why_set(why_r, "bad record for "
			    "%s (expires %" PRId64 ", now %" PRId64 ")", key,
			    next.expires, now);
		greylist_store_encode(&next, value, sizeof(value));
		r = store->backend->cas(store->state, key,
		    r == GREYLIST_STORE_FOUND ? old : NULL, value, now,
		    next.expires, why_r);
		if (r == GREYLIST_STORE_ERROR)
			return r;
		if (r == GREYLIST_STORE_FOUND)
			return live ? GREYLIST_STORE_FOUND :
			    GREYLIST_STORE_NOTFOUND;
		greylist_store_backoff(tries);
	}
	return greylist_store_why_set(why_r, "%s: changed by others %d times "
	    "in a row", key, tries);
}

/* greylist_store_delete - see greylist_store.h */
enum greylist_store_result
greylist_store_delete(struct greylist_store *store, const char *key,
    struct greylist_store_why *why_r)
{
	if (!greylist_store_key_ok(key))
		return greylist_store_why_set(why_r, "malformed key");
	return store->backend->del(store->state, key, why_r);
}

struct greylist_store_walk_ctx {
	int64_t now;
	greylist_store_walk_fn fn;
	void *ctx;
	bool visited;
};

/* greylist_store_walk_one - decode, hide the expired, pass on */
static bool
greylist_store_walk_one(void *ctx, const char *key, const char *value)
{
	struct greylist_store_walk_ctx *w = ctx;
	struct greylist_record rec;

	if (!greylist_store_live(value, w->now, &rec))
		return true;
	w->visited = true;
	return w->fn(w->ctx, key, &rec);
}

/* greylist_store_walk - see greylist_store.h */
enum greylist_store_result
greylist_store_walk(struct greylist_store *store, const char *prefix,
    int64_t now, greylist_store_walk_fn fn, void *ctx,
    struct greylist_store_why *why_r)
{
	struct greylist_store_walk_ctx w = {
		.now = now, .fn = fn, .ctx = ctx,
	};

	if (store->backend->walk(store->state, prefix, greylist_store_walk_one,
	    &w, why_r) == GREYLIST_STORE_ERROR)
		return GREYLIST_STORE_ERROR;
	return w.visited ? GREYLIST_STORE_FOUND : GREYLIST_STORE_NOTFOUND;
}

struct greylist_store_keys {
	char **key;
	size_t n, cap;
};

/* greylist_store_collect - remember one key for flush; only keys whose
 * value is a record of ours, so that a store sharing a Redis database
 * with others (empty key_prefix) never loses their keys */
static bool
greylist_store_collect(void *ctx, const char *key, const char *value)
{
	struct greylist_store_keys *k = ctx;
	struct greylist_record rec;

	if (!greylist_store_decode(value, &rec))
		return true;
	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 256;
		k->key = xrealloc(k->key, k->cap * sizeof(*k->key));
	}
	k->key[k->n++] = xstrdup(key);
	return true;
}

/* greylist_store_flush - see greylist_store.h; keys are collected first
 * because no backend promises a walk that survives deletes */
enum greylist_store_result
greylist_store_flush(struct greylist_store *store, const char *prefix,
    size_t *count_r, struct greylist_store_why *why_r)
{
	struct greylist_store_keys k = { 0 };
	enum greylist_store_result r;
	size_t i, deleted = 0;

	r = store->backend->walk(store->state, prefix, greylist_store_collect,
	    &k, why_r);
	for (i = 0; i < k.n; i++) {
		if (r != GREYLIST_STORE_ERROR) {
			switch (store->backend->del(store->state, k.key[i],
			    why_r)) {
			case GREYLIST_STORE_FOUND:
				deleted++;
				break;
			case GREYLIST_STORE_NOTFOUND:
				break;
			case GREYLIST_STORE_ERROR:
				r = GREYLIST_STORE_ERROR;
				break;
			}
		}
		free(k.key[i]);
	}
	free(k.key);
	if (count_r != NULL)
		*count_r = deleted;
	if (r == GREYLIST_STORE_ERROR)
		return r;
	return deleted > 0 ? GREYLIST_STORE_FOUND : GREYLIST_STORE_NOTFOUND;
}
