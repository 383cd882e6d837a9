/*
 * greylist_store_impl.h - what a greylist store backend provides
 * (greylist_store.c and the backend files only)
 *
 * Contract: a backend keeps text values under text keys, verbatim. Values
 * are encoded by greylist_store.c as "EXPIRES FIRST LAST COUNT" (decimal,
 * one space apart, at most GREYLIST_STORE_VALUE_MAX - 1 bytes);
 * backends read only EXPIRES (greylist_store_value_expires), to expire
 * records by themselves: LMDB sweeps a bounded number of records inside
 * its write transactions, Redis sets the key's TTL. A backend may return
 * an expired value from get or walk (greylist_store.c filters them), but
 * must not keep them forever.
 *
 * Three answers on every call, as in greylist_store.h; every ERROR fills
 * why_r (which may be NULL) through greylist_store_why_set. Every
 * function but open and close is called from many threads at once.
 */
#ifndef POSTERN_GREYLIST_STORE_IMPL_H
#define POSTERN_GREYLIST_STORE_IMPL_H

#include "greylist_store.h"

#define GREYLIST_STORE_VALUE_MAX 96

/* greylist_store_update_raw_fn - an update decision on values: old is
 * the key's value (NULL: absent). Return true with value (len bytes,
 * NUL-terminated) filled to write it, to expire at *expires_r; false to
 * leave the key as it is. */
typedef bool (*greylist_store_update_raw_fn)(void *ctx, const char *old,
    char *value, size_t len, int64_t *expires_r);

/* greylist_store_walk_raw_fn - one key (prefix removed) and its value;
 * false stops the walk */
typedef bool (*greylist_store_walk_raw_fn)(void *ctx, const char *key,
    const char *value);

struct greylist_store_backend {
	const char *type;	/* "lmdb", "redis": the spec's prefix */
	/* open - name is the spec after "type:"; false with *error_r
	 * (malloc'ed, one line) */
	bool (*open)(const char *name,
	    const struct greylist_store_options *opt, void **state_r,
	    char **error_r);
	void (*close)(void *state);
	/* get - key's value into value (len bytes, NUL-terminated; a value
	 * that does not fit is an ERROR) */
	enum greylist_store_result (*get)(void *state, const char *key,
	    char *value, size_t len, struct greylist_store_why *why_r);
	/* cas - if key's current value is old byte for byte (old NULL: the
	 * key is absent), set it to value, to expire at expires (> now).
	 * FOUND: written; NOTFOUND: the current value differs, nothing
	 * written; ERROR: not known to be written (a network store may
	 * time out after the server applied it); never retried inside */
	enum greylist_store_result (*cas)(void *state, const char *key,
	    const char *old, const char *value, int64_t now, int64_t expires,
	    struct greylist_store_why *why_r);
	/* update - optional (NULL: greylist_store.c loops over get and
	 * cas): read key, ask fn, write its answer, as one step that no
	 * other writer can come between, so that it never has to be
	 * retried however busy the key. fn may be called more than once
	 * (it fills its ctx afresh) and must not call into the store. A
	 * value that does not fit GREYLIST_STORE_VALUE_MAX reaches fn as
	 * "". FOUND: the key had a value; NOTFOUND: it had none; ERROR:
	 * nothing written */
	enum greylist_store_result (*update)(void *state, const char *key,
	    int64_t now, greylist_store_update_raw_fn fn, void *ctx,
	    struct greylist_store_why *why_r);
	/* del - FOUND: the key was there; NOTFOUND: it was not */
	enum greylist_store_result (*del)(void *state, const char *key,
	    struct greylist_store_why *why_r);
	/* walk - every key starting with prefix, with its value; FOUND if
	 * fn was called at least once */
	enum greylist_store_result (*walk)(void *state, const char *prefix,
	    greylist_store_walk_raw_fn fn, void *ctx,
	    struct greylist_store_why *why_r);
};

extern const struct greylist_store_backend greylist_store_lmdb;
extern const struct greylist_store_backend greylist_store_redis;

/* greylist_store_value_expires - EXPIRES of an encoded value; false if
 * the value does not start with a decimal number and a space */
bool greylist_store_value_expires(const char *value, int64_t *expires_r);

/* greylist_store_why_set - printf into why (NULL: nothing); returns
 * GREYLIST_STORE_ERROR so that "return greylist_store_why_set(...)" reads
 * naturally */
enum greylist_store_result greylist_store_why_set(
    struct greylist_store_why *why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
