/*
 * dns_cache.h - answers kept in the process, in front of libunbound
 *
 * Contract: a bounded hash of (name, type) -> the FOUND or NOTFOUND answer
 * last received, kept until its TTL runs out. A hit is answered in the
 * calling thread; without it every query, even one libunbound has cached,
 * crosses three threads (caller, libunbound's worker, the dispatcher),
 * and those hand-offs are most of what a cached query costs (see
 * docs/performance.md, dns-policies). Errors, answers with TTL 0 and
 * DNSSEC-bogus answers are never kept. Names are compared without case
 * and without a trailing dot. At most max entries: when full, expired
 * entries are dropped first; if none has expired the new answer is not
 * kept (libunbound still has it). Safe from many threads.
 */
#ifndef POSTERN_DNS_CACHE_H
#define POSTERN_DNS_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "dns.h"

struct dns_cache;

/* dns_cache_create - an empty cache of at most max answers (0: none) */
struct dns_cache *dns_cache_create(size_t max);

/* dns_cache_destroy - free every entry; sets *cache NULL */
void dns_cache_destroy(struct dns_cache **cache);

/* dns_cache_get - true and *answer_r (data in arena, ttl = what is left)
 * when a live answer for name and rrtype is kept */
bool dns_cache_get(struct dns_cache *cache, const char *name, int rrtype,
    struct arena *arena, struct dns_answer *answer_r);

/* dns_cache_put - keep a copy of answer if it may be kept */
void dns_cache_put(struct dns_cache *cache, const char *name, int rrtype,
    const struct dns_answer *answer);

/* dns_cache_count - entries kept now (for tests and metrics) */
size_t dns_cache_count(struct dns_cache *cache);

#endif
